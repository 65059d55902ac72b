//! The receipt data API (`POST /receipt`) and the receipt page (`GET /issue/IssueLoader.jsp`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use smartro::receipt::{MerchantInfo, PartCancelInfo, Receipt, ReceiptRequest};
use smartro::types::PayMethod;
use subtle::ConstantTimeEq;

use crate::html::{escape, html_response, page, pay_name, won};
use crate::store::{TransactionSnapshot, TxStatus};
use crate::SandboxState;

// The receipt API's error answers are not documented (seed 003 shows only the success shape); these codes are
// the sandbox's, in the `{"resultCode","resultMsg"}` shape the gateway's client reads.
const E_NO_APIKEY: &str = "R401";
const E_BAD_APIKEY: &str = "R403";
const E_BAD_BODY: &str = "R400";
const E_NO_TX: &str = "R404";
const E_UNAVAILABLE: &str = "R503";

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({ "resultCode": code, "resultMsg": message })),
    )
        .into_response()
}

/// Supply value and VAT of a VAT-inclusive amount (10 %), VAT rounded down as Korean receipts do.
fn supply_and_vat(amount: i64) -> (i64, i64) {
    let vat = amount / 11;
    (amount - vat, vat)
}

/// `tx` as the receipt API knows it `delay` after things happen: `None` while the transaction itself is younger
/// than `delay`; otherwise without the cancels younger than `delay`, its cancelled amount and status as they
/// stood before those.
fn as_seen_with_delay(tx: TransactionSnapshot, delay: Duration) -> Option<TransactionSnapshot> {
    // One reading of the clock, so that the transaction and its cancels are judged at the same instant.
    let now = Instant::now();
    let visible = |at: Instant| now.saturating_duration_since(at) >= delay;
    if !visible(tx.recorded) {
        return None;
    }
    let mut seen = tx;
    let cancels = seen.cancels.len();
    seen.cancels.retain(|c| visible(c.recorded));
    if seen.cancels.len() == cancels {
        return Some(seen);
    }
    seen.cancelled_amt = seen.cancels.iter().map(|c| c.amt).sum();
    // Only approved payments are cancelled (the cancel rules refuse every other status), so without its cancels
    // the payment stands approved.
    seen.status = if seen.cancelled_amt == 0 {
        TxStatus::Approved
    } else if seen.remaining() == 0 {
        TxStatus::Cancelled
    } else {
        TxStatus::PartiallyCancelled
    };
    Some(seen)
}

pub(crate) async fn receipt_api(
    State(state): State<SandboxState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let faults = state.runtime_faults();
    if faults.receipt_api_down {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            E_UNAVAILABLE,
            "일시적으로 서비스를 이용할 수 없습니다",
        );
    }
    let Some(apikey) = headers.get("apikey").and_then(|v| v.to_str().ok()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            E_NO_APIKEY,
            "apikey 헤더가 없습니다",
        );
    };
    let request: ReceiptRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                E_BAD_BODY,
                &format!("요청 형식 오류: {e}"),
            )
        }
    };
    let key_matches = state
        .merchant(request.mid.trim())
        .is_some_and(|m| bool::from(m.merchant_key.as_bytes().ct_eq(apikey.trim().as_bytes())));
    if !key_matches {
        return error(
            StatusCode::FORBIDDEN,
            E_BAD_APIKEY,
            "인증키(apikey)가 상점 아이디와 일치하지 않습니다",
        );
    }
    // Approvals and cancellations only: a declined payment has no record, nor has a PTID (the store knows
    // original TIDs only; a partial cancel shows in its payment's partCancelInfo), nor another merchant's TID.
    let Some(tx) = state
        .transaction(request.tid.trim())
        .filter(|t| t.mid == request.mid.trim() && t.status != TxStatus::Declined)
        .and_then(|t| as_seen_with_delay(t, faults.receipt_delay))
    else {
        return error(StatusCode::NOT_FOUND, E_NO_TX, "거래 정보가 없습니다");
    };
    Json(receipt_for(&tx)).into_response()
}

/// A cash receipt's number as receipts print it: the first three and the last four characters, the rest `*`
/// (`010****5678`, `123***7890`).
fn masked_id_no(id_no: &str) -> String {
    let chars: Vec<char> = id_no.chars().collect();
    if chars.len() <= 7 {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < 3 || i >= chars.len() - 4 {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

pub(crate) fn receipt_for(tx: &TransactionSnapshot) -> Receipt {
    let s = |v: &str| Some(v.to_string());
    let fully_cancelled = tx.status == TxStatus::Cancelled;
    let (supply, vat) = supply_and_vat(tx.amt);
    let mut r = Receipt {
        tid: s(&tx.tid),
        moid: s(&tx.moid),
        state_cd: s(if fully_cancelled { "1" } else { "0" }),
        state_nm: s(if fully_cancelled { "취소" } else { "승인" }),
        svc_cd: s(tx.pay_method.service_code()),
        svc_nm: s(pay_name(&tx.pay_method)),
        ord_nm: s(&tx.buyer_name),
        goods_nm: s(&tx.goods_name),
        goods_amt: Some(tx.amt.to_string()),
        app_no: tx.auth_code.clone(),
        app_dt: Some(tx.approved_at.format("%Y%m%d").to_string()),
        app_tm: Some(tx.approved_at.format("%H%M%S").to_string()),
        ccy_cd: s("410"),
        ccy_nm: s("KRW"),
        ..Receipt::default()
    };
    if fully_cancelled {
        if let Some(last) = tx.cancels.last() {
            r.cc_no = Some(last.cancel_num.clone());
            r.cc_dt = Some(last.cancel_date.clone());
            r.cc_tm = Some(last.cancel_time.clone());
        }
    }
    match tx.pay_method {
        PayMethod::Card => {
            r.supply_amt = Some(supply.to_string());
            r.vat_amt = Some(vat.to_string());
            r.svc_amt = Some(tx.svc_amt.unwrap_or(0).to_string());
            r.card_no = tx.pin_no.clone();
            r.app_co = tx.fn_cd.clone();
            r.app_nm = tx.fn_name.clone();
            r.instmnt_mon = tx.card_quota.clone();
            r.fn_no = s("0000000000");
            r.card_type = s("01");
            r.card_cl = s("0");
        }
        PayMethod::Bank => {
            r.bank_cd = tx.fn_cd.clone();
            r.bank_nm = tx.fn_name.clone();
            r.acct_no = s("******1234");
            r.cash_receipt_req_cl = s("0");
        }
        PayMethod::Vbank => {
            r.bank_cd = tx.fn_cd.clone();
            r.bank_nm = tx.fn_name.clone();
            r.vacct_no = tx.vbank_num.clone();
            r.vacct_base_dt = tx.deposited_at.map(|d| d.format("%Y%m%d").to_string());
            r.vacct_due_dt = tx.vbank_exp_date.clone();
            r.cash_receipt_req_cl = s("0");
        }
        _ => {}
    }
    // The cash-receipt fields (seed 003): issued or not, the receipt's own TID, its type and the number it was
    // issued to. Kakao and Toss payments report "0" when none was asked for, as bank payments do.
    match &tx.cash_receipt {
        Some(receipt) => {
            r.cash_receipt_req_cl = s("1");
            r.cash_receipt_tid = s(&receipt.tid);
            r.cash_receipt_type = s(receipt.kind.as_str());
            r.cash_receipt_no = Some(masked_id_no(&receipt.id_no));
        }
        None => {
            if matches!(tx.pay_method, PayMethod::Kakao | PayMethod::Toss) {
                r.cash_receipt_req_cl = s("0");
            }
        }
    }
    r.part_cancel_info = tx
        .cancels
        .iter()
        .filter(|c| c.partial)
        .map(|c| {
            let (supply, vat) = supply_and_vat(c.amt);
            PartCancelInfo {
                trans_dt: Some(c.cancel_date.clone()),
                trans_tm: Some(c.cancel_time.clone()),
                trans_amt: Some(c.amt.to_string()),
                trans_supply_amt: Some(supply.to_string()),
                trans_vat_amt: Some(vat.to_string()),
                trans_svc_amt: Some("0".to_string()),
                refund_amt: Some(c.amt.to_string()),
                ..PartCancelInfo::default()
            }
        })
        .collect();
    r.merchant_info = Some(MerchantInfo {
        co_no: s("0000000000"),
        co_nm: s("스마트로 샌드박스"),
        boss_nm: s("홍길동"),
        name: Some(format!("샌드박스 상점 {}", tx.mid)),
        addr: s("서울특별시 (샌드박스)"),
        ..MerchantInfo::default()
    });
    r
}

/// `GET /issue/IssueLoader.jsp?TID=..&type=0`: a printable receipt of a sandbox transaction.
pub(crate) async fn receipt_page(
    State(state): State<SandboxState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let tid = query
        .get("TID")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let kind = query.get("type").map(String::as_str).unwrap_or("0");
    let not_found = |message: &str| {
        html_response(
            StatusCode::NOT_FOUND,
            page(
                "전표 조회",
                &format!(
                    "<h1>전표 조회</h1><p class=\"error\" id=\"error-message\">{}</p>",
                    escape(message)
                ),
            ),
        )
    };
    let Some(tx) = state
        .transaction(&tid)
        .filter(|t| t.status != TxStatus::Declined)
    else {
        return not_found("해당 거래가 없습니다.");
    };
    if kind == "2" {
        return match cash_receipt_page(&tx) {
            Some(html) => html_response(StatusCode::OK, html),
            None => not_found("현금영수증 발행 내역이 없습니다."),
        };
    }
    let r = receipt_for(&tx);
    let row = |label: &str, value: &Option<String>| {
        value
            .as_ref()
            .map(|v| format!("<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(v)))
            .unwrap_or_default()
    };
    let mut rows = String::new();
    rows.push_str(&row("거래번호", &r.tid));
    rows.push_str(&row("주문번호", &r.moid));
    rows.push_str(&row("상태", &r.state_nm));
    rows.push_str(&row("결제수단", &r.svc_nm));
    rows.push_str(&row("상품명", &r.goods_nm));
    rows.push_str(&row("구매자", &r.ord_nm));
    rows.push_str(&format!(
        "<tr><th>결제금액</th><td>{}원</td></tr>",
        won(tx.amt)
    ));
    if tx.cancelled_amt > 0 {
        rows.push_str(&format!(
            "<tr><th>취소금액</th><td>{}원</td></tr><tr><th>잔액</th><td>{}원</td></tr>",
            won(tx.cancelled_amt),
            won(tx.remaining())
        ));
    }
    rows.push_str(&row("승인번호", &r.app_no));
    rows.push_str(&row("승인일자", &r.app_dt));
    rows.push_str(&row("카드번호", &r.card_no));
    rows.push_str(&row("카드사", &r.app_nm));
    rows.push_str(&row("할부", &r.instmnt_mon));
    rows.push_str(&row("은행", &r.bank_nm));
    rows.push_str(&row("가상계좌", &r.vacct_no));
    let body = format!("<h1>매출전표 (샌드박스)</h1><table id=\"receipt\">{rows}</table>");
    html_response(StatusCode::OK, page("매출전표", &body))
}

/// The cash receipt of `tx` (receipt page `type=2`), or `None` when it has none. Cells carry ids for scripts:
/// `#cash-receipt-tid`, `#cash-receipt-app-no`, `#cash-receipt-type`, `#cash-receipt-no`, `#cash-receipt-state`.
fn cash_receipt_page(tx: &TransactionSnapshot) -> Option<String> {
    let receipt = tx.cash_receipt.as_ref()?;
    let (supply, vat) = supply_and_vat(tx.amt);
    let cancelled = tx.status == TxStatus::Cancelled;
    let mut rows = format!(
        "<tr><th>현금영수증 거래번호</th><td id=\"cash-receipt-tid\">{}</td></tr>\
<tr><th>원거래번호</th><td>{}</td></tr>\
<tr><th>승인번호</th><td id=\"cash-receipt-app-no\">{}</td></tr>\
<tr><th>발행구분</th><td id=\"cash-receipt-type\">{}</td></tr>\
<tr><th>발급번호</th><td id=\"cash-receipt-no\">{}</td></tr>\
<tr><th>발행일시</th><td>{}</td></tr>\
<tr><th>상태</th><td id=\"cash-receipt-state\">{}</td></tr>\
<tr><th>상품명</th><td>{}</td></tr>\
<tr><th>거래금액</th><td>{}원</td></tr><tr><th>공급가액</th><td>{}원</td></tr><tr><th>부가세</th><td>{}원</td></tr>",
        escape(&receipt.tid),
        escape(&tx.tid),
        escape(&receipt.app_no),
        receipt.kind.korean_name().unwrap_or_default(),
        escape(&masked_id_no(&receipt.id_no)),
        receipt.issued_at.format("%Y-%m-%d %H:%M:%S"),
        if cancelled { "취소" } else { "발행" },
        escape(&tx.goods_name),
        won(tx.amt),
        won(supply),
        won(vat),
    );
    if tx.cancelled_amt > 0 {
        rows.push_str(&format!(
            "<tr><th>취소금액</th><td>{}원</td></tr>",
            won(tx.cancelled_amt)
        ));
    }
    if let Some(cc_no) = tx.cancels.iter().rev().find_map(|c| c.rcpt_cc_no.as_ref()) {
        rows.push_str(&format!(
            "<tr><th>취소번호</th><td>{}</td></tr>",
            escape(cc_no)
        ));
    }
    let body = format!("<h1>현금영수증 (샌드박스)</h1><table id=\"cash-receipt\">{rows}</table>");
    Some(page("현금영수증", &body))
}

#[cfg(test)]
mod tests {
    use super::masked_id_no;

    #[test]
    fn cash_receipt_numbers_are_masked_in_the_middle() {
        assert_eq!(masked_id_no("01012345678"), "010****5678");
        assert_eq!(masked_id_no("1234567890"), "123***7890");
        assert_eq!(masked_id_no("1234567"), "*******");
        assert_eq!(masked_id_no(""), "");
    }
}
