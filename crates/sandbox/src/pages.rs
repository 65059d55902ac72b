//! The sandbox's own pages: the test page that pays a virtual account (Smartro's `vbank_deposit_notice.jsp`)
//! and the index of what the sandbox has seen.

use axum::body::Bytes;
use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use smartro::form::RawForm;
use smartro::types::{kst_naive, PayMethod, StateCd};

use crate::html::{escape, html_response, page, pay_name, won};
use crate::messages::{message_of, notification_for, NotificationKind};
use crate::store::TxStatus;
use crate::{lock, SandboxState};

/// `4110` 가상계좌입금성공 (seed 000 §3).
const VBANK_DEPOSITED: &str = "4110";

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

/// `GET /payTest/vbank_deposit_notice.jsp`: a form to pay an issued account by hand; `?TID=` fills it in (the
/// demo shop links here from an order awaiting its deposit).
pub(crate) async fn deposit_form(
    State(state): State<SandboxState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let body = format!(
        "<h1>가상계좌 입금 테스트</h1><form method=\"post\" action=\"{}/payTest/vbank_deposit_notice.jsp\">\
<label for=\"TID\">TID</label> <input name=\"TID\" id=\"TID\" size=\"32\" value=\"{}\"> \
<button type=\"submit\" id=\"deposit\">입금 통보</button></form>",
        escape(state.public_url()),
        escape(query.get("TID").map(String::as_str).unwrap_or("")),
    );
    html_response(StatusCode::OK, page("가상계좌 입금 테스트", &body))
}

/// `POST /payTest/vbank_deposit_notice.jsp` (field `TID`): the buyer pays the issued account; the merchant
/// is notified with ResultCode 4110.
pub(crate) async fn deposit(State(state): State<SandboxState>, body: Bytes) -> Response {
    let form = RawForm::parse(&body);
    let tid = form
        .get_text("TID")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    if tid.is_empty() {
        return plain(StatusCode::BAD_REQUEST, "ERROR: TID 누락");
    }
    let now = kst_naive(Utc::now());
    let tx = {
        let mut store = lock(&state.inner.store);
        let Some(tx) = store.get_mut(&tid) else {
            return plain(StatusCode::NOT_FOUND, "ERROR: 해당 거래 없음");
        };
        if tx.pay_method != PayMethod::Vbank {
            return plain(StatusCode::BAD_REQUEST, "ERROR: 가상계좌 거래가 아닙니다");
        }
        match tx.status {
            TxStatus::VbankIssued => {}
            TxStatus::VbankDeposited => {
                return plain(StatusCode::CONFLICT, "ERROR: 이미 입금 완료된 거래")
            }
            _ => {
                return plain(
                    StatusCode::BAD_REQUEST,
                    "ERROR: 입금 가능한 상태가 아닙니다",
                )
            }
        }
        let expired = tx
            .vbank_exp_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
            .is_some_and(|exp| now.date() > exp);
        if expired {
            return plain(StatusCode::BAD_REQUEST, "ERROR: 입금기한 경과");
        }
        tx.status = TxStatus::VbankDeposited;
        tx.deposited_at = Some(now);
        tx.clone()
    };
    let Some(merchant) = state.merchant(&tx.mid) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "ERROR: 상점 정보 없음");
    };
    let n = notification_for(
        &tx,
        &merchant.merchant_key,
        NotificationKind {
            tid: tx.tid.clone(),
            otid: None,
            amt: tx.amt,
            result_code: VBANK_DEPOSITED.to_string(),
            result_msg: message_of(VBANK_DEPOSITED),
            state_cd: StateCd::Approval,
            auth_date: now.format("%y%m%d%H%M%S").to_string(),
            rcpt_cc_no: None,
        },
    );
    state.notify(&tx, n);
    tracing::info!(tid = %tx.tid, "vbank deposit notified");
    plain(
        StatusCode::OK,
        &format!("OK: 입금 통보 처리 완료 (TID {})", tx.tid),
    )
}

/// `GET /`: what the sandbox has seen, for people running the demo.
pub(crate) async fn index(State(state): State<SandboxState>) -> Response {
    let mut rows = String::new();
    for tx in state.transactions().iter().rev().take(100) {
        rows.push_str(&format!(
            "<tr><td><a href=\"{base}/issue/IssueLoader.jsp?TID={tid}&amp;type=0\">{tid}</a></td><td>{method}</td>\
<td>{amt}</td><td>{status:?}</td><td>{code}</td></tr>",
            base = escape(state.public_url()),
            tid = escape(&tx.tid),
            method = pay_name(&tx.pay_method),
            amt = won(tx.amt),
            status = tx.status,
            code = escape(&tx.result_code),
        ));
    }
    let deliveries = state.notifications();
    let acked = deliveries.iter().filter(|d| d.acknowledged).count();
    let body = format!(
        "<h1>smartro-sandbox</h1><p>알림 {} 건 중 {} 건 수신 확인</p>\
<p><a href=\"{}/payTest/vbank_deposit_notice.jsp\">가상계좌 입금 테스트</a></p>\
<table><tr><th>TID</th><th>수단</th><th>금액</th><th>상태</th><th>코드</th></tr>{rows}</table>",
        deliveries.len(),
        acked,
        escape(state.public_url()),
    );
    html_response(StatusCode::OK, page("smartro-sandbox", &body))
}
