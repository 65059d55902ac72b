//! The payment window (`interfaceURL.jsp`): the merchant's request checked as Smartro would, the buyer's decision,
//! the payment entered in the book, its notifications, and the returnPay auto-submit page.
//!
//! Besides the form rules of the protocol crate, the window checks what only Smartro knows about a merchant:
//! whether it may send escrow requests (`SandboxConfig::escrow_mids`), and which sub-malls a split payment may
//! name (`SandboxConfig::sub_malls`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDateTime, Utc};
use rand::Rng;
use smartro::codes::{Bank, CardCompany};
use smartro::form::{Charset, RawForm};
use smartro::request::PaymentRequest;
use smartro::result::PaymentResult;
use smartro::sign;
use smartro::types::{kst_naive, EncodingType, PayMethod, StateCd};

use crate::config::SandboxConfig;
use crate::html::{charset_response, error_page, escape, html_response};
use crate::messages::{cash_receipt_notification, message_of, notification_for, NotificationKind};
use crate::store::{CashReceipt, TransactionSnapshot, TxStatus};
use crate::window::{first_bank, first_card, window_html, Choice, QUOTAS};
use crate::{lock, split, SandboxState};

/// A window shown to the buyer, waiting for the decision.
pub(crate) struct Pending {
    request: PaymentRequest,
    created: Instant,
}

/// A payment window session lives this long.
const SESSION_TTL: Duration = Duration::from_secs(30 * 60);

/// Amt has at most 12 digits (manual §3.1).
pub(crate) const MAX_AMT: i64 = 999_999_999_999;

/// How far `ediDate` may lie in the past or the future (KST).
const EDI_DATE_MAX_AGE_HOURS: i64 = 24;
const EDI_DATE_MAX_AHEAD_MINUTES: i64 = 10;

// Error codes of the payment window. Smartro's own window error codes are not in the documents we have, so
// these are the sandbox's; the page shows them with a Korean message the way Smartro's error page does.
const E_FORM: &str = "S001";
const E_INVALID: &str = "S002";
const E_MID: &str = "S003";
const E_ENCRYPT: &str = "S004";
const E_EDI_DATE: &str = "S005";
const E_METHOD: &str = "S006";
const E_SESSION: &str = "S007";
const E_CHOICE: &str = "S008";
/// An escrow request (`EscrowCD=1`) from a merchant not set up for escrow.
const E_ESCROW: &str = "S009";
/// A split payment naming a sub-mall that is not registered under the merchant.
const E_SUB_MALL: &str = "S010";

/// The ResultMsg of an approved CLGIFT payment: like the success code, the sandbox's own (no document has one).
const CLGIFT_SUCCESS_MSG: &str = "문화상품권 결제 성공";

fn bad_request(code: &str, message: &str, detail: &str) -> Response {
    error_page(StatusCode::BAD_REQUEST, code, message, detail)
}

fn check_edi_date(edi_date: &str) -> Result<(), String> {
    let at = NaiveDateTime::parse_from_str(edi_date, "%Y%m%d%H%M%S")
        .map_err(|_| format!("ediDate {edi_date:?} is not YYYYMMDDHHMMSS"))?;
    let now = kst_naive(Utc::now());
    if at > now + chrono::Duration::minutes(EDI_DATE_MAX_AHEAD_MINUTES) {
        return Err(format!(
            "ediDate {edi_date} is in the future (KST now {})",
            now.format("%Y%m%d%H%M%S")
        ));
    }
    if at < now - chrono::Duration::hours(EDI_DATE_MAX_AGE_HOURS) {
        return Err(format!(
            "ediDate {edi_date} is older than {EDI_DATE_MAX_AGE_HOURS} hours"
        ));
    }
    Ok(())
}

/// The ResultCode of an approval with `method`: the protocol's success code, or for CLGIFT, whose success code no
/// document gives, the configured one. `None`: the sandbox does not offer the method.
pub(crate) fn approval_code<'a>(config: &'a SandboxConfig, method: &PayMethod) -> Option<&'a str> {
    match method {
        PayMethod::Clgift => Some(config.clgift_success_code.as_str()),
        other => other.success_code(),
    }
}

/// What Smartro checks of a well-formed, correctly signed request before it opens the window: the merchant's
/// escrow and sub-mall set-up, and an instalment the window offers. `Err((code, message, detail))`.
fn check_merchant_features(
    config: &SandboxConfig,
    request: &PaymentRequest,
) -> Result<(), (&'static str, &'static str, String)> {
    if request.escrow.is_some() && !config.escrow_allowed(&request.mid) {
        return Err((
            E_ESCROW,
            "에스크로 거래가 허용되지 않은 상점입니다",
            format!(
                "EscrowCD=1 from {}, which is not an escrow merchant (escrow merchants: {})",
                request.mid,
                config.escrow_mids.join(", ")
            ),
        ));
    }
    if let Some(divide) = &request.divide_info {
        split::check_payment(config, &request.mid, divide)
            .map_err(|detail| (E_SUB_MALL, "서브몰 정산 정보 오류", detail))?;
    }
    if request.pay_method == PayMethod::Card {
        if let Some(quota) = &request.card_quota {
            if !QUOTAS.contains(&quota.as_str()) {
                return Err((
                    E_INVALID,
                    "할부개월 오류",
                    format!(
                        "CardQuota {quota} is not an instalment the window offers ({})",
                        QUOTAS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// `POST /interfaceURL.jsp`: check the merchant's form as Smartro would, then show the window (or decide at
/// once with `auto`).
pub(crate) async fn interface(State(state): State<SandboxState>, body: Bytes) -> Response {
    let form = RawForm::parse(&body);
    let (request, edi_date, encrypt_data) = match PaymentRequest::from_form(&form) {
        Ok(parsed) => parsed,
        Err(e) => return bad_request(E_FORM, "필수 파라미터 오류", &e.to_string()),
    };
    if let Err(e) = request.validate() {
        return bad_request(E_INVALID, "요청 파라미터 검증 오류", &e.to_string());
    }
    let Some(merchant) = state.merchant(&request.mid) else {
        return bad_request(
            E_MID,
            "등록되지 않은 상점 아이디입니다",
            &format!("MID {}", request.mid),
        );
    };
    if !sign::verify_encrypt_data(
        &edi_date,
        &request.mid,
        request.amt,
        &merchant.merchant_key,
        &encrypt_data,
    ) {
        return bad_request(
            E_ENCRYPT,
            "위변조 검증 실패 (EncryptData 불일치)",
            "EncryptData does not match ediDate + MID + Amt + merchant key",
        );
    }
    if let Err(detail) = check_edi_date(&edi_date) {
        return bad_request(E_EDI_DATE, "요청일시(ediDate) 오류", &detail);
    }
    if approval_code(state.config(), &request.pay_method).is_none() {
        return bad_request(
            E_METHOD,
            "지원하지 않는 결제수단입니다",
            &format!(
                "PayMethod {} is not offered by the sandbox",
                request.pay_method
            ),
        );
    }
    if let Err((code, message, detail)) = check_merchant_features(state.config(), &request) {
        return bad_request(code, message, &detail);
    }
    tracing::info!(mid = %request.mid, moid = %request.moid, method = %request.pay_method, amt = request.amt,
        escrow = request.escrow.is_some(), split = request.divide_info.is_some(), "payment request accepted");
    if let Some(decision) = state.inner.config.auto {
        let choice = Choice::auto(decision, &request);
        return complete(&state, request, choice);
    }
    let session = random_hex(16);
    {
        let mut sessions = lock(&state.inner.sessions);
        sessions.retain(|_, p| p.created.elapsed() < SESSION_TTL);
        sessions.insert(
            session.clone(),
            Pending {
                request: request.clone(),
                created: Instant::now(),
            },
        );
    }
    html_response(StatusCode::OK, window_html(&state, &request, &session))
}

fn random_hex(bytes: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..bytes)
        .map(|_| format!("{:02x}", rng.gen::<u8>()))
        .collect()
}

pub(crate) fn random_digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

/// `POST /sandbox/decide`: the window's Approve/Decline, one time per session.
pub(crate) async fn decide(State(state): State<SandboxState>, body: Bytes) -> Response {
    let form = RawForm::parse(&body);
    let session = form.get_text("session").unwrap_or_default();
    let approve = match form.get_text("decision").as_deref() {
        Some("approve") => true,
        Some("decline") => false,
        _ => {
            return bad_request(
                E_CHOICE,
                "선택 값 오류",
                "decision must be approve or decline",
            )
        }
    };
    let Some(pending) = lock(&state.inner.sessions).remove(&session) else {
        return bad_request(
            E_SESSION,
            "결제 세션이 만료되었거나 이미 처리되었습니다",
            "unknown session",
        );
    };
    if pending.created.elapsed() >= SESSION_TTL {
        return bad_request(
            E_SESSION,
            "결제 세션이 만료되었거나 이미 처리되었습니다",
            "session expired",
        );
    }
    let request = pending.request;
    match Choice::from_window(&request, approve, &form) {
        Ok(choice) => complete(&state, request, choice),
        Err(e) => bad_request(E_CHOICE, e.message, &e.detail),
    }
}

/// A realistic failure per method, from the seed's tables. CLGIFT has no table: 3002 (VAN 실패 응답), a generic
/// failure.
pub(crate) fn decline_code(method: &PayMethod) -> &'static str {
    match method {
        PayMethod::Card => "3095",
        PayMethod::Bank => "4001",
        PayMethod::Vbank => "4104",
        PayMethod::Cellphone => "A001",
        PayMethod::Toss => "TS11",
        PayMethod::Kakao => "KP01",
        PayMethod::Clgift | PayMethod::Other(_) => "3002",
    }
}

/// `411111******1234`: the masking Smartro applies to `pinNo` and `cardNo`.
fn masked_card_number() -> String {
    format!("411111******{}", random_digits(4))
}

/// The card company and the bank a decided payment settles on: the buyer's (or `auto`'s) choice, else the
/// window's defaults.
fn instruments(
    method: &PayMethod,
    choice: &Choice,
) -> (Option<&'static CardCompany>, Option<&'static Bank>) {
    let card = if *method == PayMethod::Card {
        choice.card.or_else(first_card)
    } else {
        None
    };
    let bank = if matches!(method, PayMethod::Bank | PayMethod::Vbank) {
        choice.bank.or_else(first_bank)
    } else {
        None
    };
    (card, bank)
}

/// Enter a decided payment in the book under a fresh TID, as Smartro's payment system records it. The one place
/// where payments are made, for the window and for [`crate::direct::approve_direct`] alike.
pub(crate) fn record(
    state: &SandboxState,
    request: &PaymentRequest,
    choice: &Choice,
) -> TransactionSnapshot {
    let method = request.pay_method.clone();
    let (result_code, result_msg) = if choice.approve {
        // The window refuses methods without an approval code before anything is decided.
        let code = approval_code(state.config(), &method).unwrap_or(decline_code(&method));
        let mut msg = message_of(code);
        if msg.is_empty() && method == PayMethod::Clgift {
            msg = CLGIFT_SUCCESS_MSG.to_string();
        }
        (code.to_string(), msg)
    } else {
        let code = decline_code(&method);
        (code.to_string(), message_of(code))
    };
    let now = kst_naive(Utc::now());
    let (card, bank) = instruments(&method, choice);
    let issued_vbank = choice.approve && method == PayMethod::Vbank;
    let status = match (choice.approve, &method) {
        (false, _) => TxStatus::Declined,
        (true, PayMethod::Vbank) => TxStatus::VbankIssued,
        (true, _) => TxStatus::Approved,
    };
    let mut store = lock(&state.inner.store);
    let tid = state.new_tid(&mut store, &request.mid, &method);
    // The cash receipt is issued with the approval, under a transaction number of its own.
    let cash_receipt = match (&choice.cash_receipt, choice.approve) {
        (Some(asked), true) => Some(CashReceipt {
            kind: asked.kind.clone(),
            id_no: asked.id_no.clone(),
            tid: state.new_tid(&mut store, &request.mid, &method),
            app_no: random_digits(9),
            issued_at: now,
        }),
        _ => None,
    };
    let tx = TransactionSnapshot {
        tid,
        mid: request.mid.clone(),
        moid: request.moid.clone(),
        pay_method: method.clone(),
        amt: request.amt,
        status,
        result_code,
        result_msg,
        goods_name: request.goods_name.clone(),
        buyer_name: request.buyer_name.clone(),
        buyer_tel: request.buyer_tel.clone(),
        buyer_email: request.buyer_email.clone(),
        mall_user_id: request.mall_user_id.clone(),
        auth_code: (choice.approve && method != PayMethod::Vbank).then(|| random_digits(8)),
        auth_date: now.format("%y%m%d%H%M%S").to_string(),
        approved_at: now,
        fn_cd: card
            .map(|c| c.issuer_code.to_string())
            .or_else(|| bank.map(|b| b.code.to_string())),
        fn_name: card
            .map(|c| c.name.to_string())
            .or_else(|| bank.map(|b| b.name.to_string())),
        acqu_card_code: card.map(|c| c.acquirer_code.unwrap_or(c.issuer_code).to_string()),
        card_quota: card.map(|_| choice.quota.clone()),
        pin_no: (choice.approve && card.is_some()).then(masked_card_number),
        vbank_num: issued_vbank.then(|| format!("{}{}", "5", random_digits(13))),
        vbank_exp_date: if method == PayMethod::Vbank {
            request.vbank_exp_date.clone()
        } else {
            None
        },
        deposited_at: None,
        return_url: request.return_url.clone(),
        retry_url: request.retry_url.clone(),
        divide_info: request.divide_info.clone(),
        split: request
            .divide_info
            .as_ref()
            .map(split::shares_of)
            .unwrap_or_default(),
        escrow: request.escrow.clone(),
        cash_receipt,
        tax: request.tax,
        svc_amt: request.svc_amt,
        cancelled_amt: 0,
        cancels: Vec::new(),
        recorded: Instant::now(),
    };
    store.insert(tx.clone());
    tx
}

/// Create the transaction, queue its notifications and answer with the returnPay auto-submit page.
///
/// An approval is notified once; one with a cash receipt a second time, with ResultCode 7001. The returnPay
/// carries no cash-receipt fields: the manual's result (§3.2) has none (its v3.5 removed the cash-receipt type
/// from the payment result), they are in the notifications (§6.4) and the receipt API.
fn complete(state: &SandboxState, request: PaymentRequest, choice: Choice) -> Response {
    let Some(merchant) = state.merchant(&request.mid) else {
        return bad_request(
            E_MID,
            "등록되지 않은 상점 아이디입니다",
            &format!("MID {}", request.mid),
        );
    };
    let key = merchant.merchant_key.clone();
    let tx = record(state, &request, &choice);
    let method = tx.pay_method.clone();
    let result_code = tx.result_code.as_str();
    let (card, bank) = instruments(&method, &choice);
    let issued_vbank = tx.status == TxStatus::VbankIssued;
    tracing::info!(tid = %tx.tid, code = result_code, cash_receipt = tx.cash_receipt.is_some(), "payment decided");

    if choice.approve {
        let state_cd = if issued_vbank {
            StateCd::VbankIssued
        } else {
            StateCd::Approval
        };
        let n = notification_for(
            &tx,
            &key,
            NotificationKind {
                tid: tx.tid.clone(),
                otid: None,
                amt: tx.amt,
                result_code: result_code.to_string(),
                result_msg: tx.result_msg.clone(),
                state_cd,
                auth_date: tx.auth_date.clone(),
                rcpt_cc_no: None,
            },
        );
        state.notify(&tx, n);
        if let Some(n) = cash_receipt_notification(&tx, &key) {
            state.notify(&tx, n);
        }
    }

    let result = PaymentResult {
        pay_method: method.clone(),
        mid: tx.mid.clone(),
        amt: tx.amt,
        buyer_name: tx.buyer_name.clone(),
        goods_name: tx.goods_name.clone(),
        mall_user_id: tx.mall_user_id.clone(),
        tid: tx.tid.clone(),
        oid: tx.moid.clone(),
        auth_date: Some(tx.auth_date.clone()),
        auth_code: tx.auth_code.clone(),
        result_code: result_code.to_string(),
        result_msg: tx.result_msg.clone(),
        buyer_tel: Some(tx.buyer_tel.clone()),
        buyer_email: Some(tx.buyer_email.clone()),
        buyer_auth_num: None,
        sign_value: sign::sign_value(&tx.tid, result_code, &key),
        // Manual §3.2: DivideInfo is the request's, passed back as it came.
        divide_info: tx.divide_info.as_ref().map(|d| d.encode()),
        tax_cd: request.tax_cd.clone(),
        svc_amt: request.svc_amt,
        tax: request.tax,
        acqu_card_code: tx.acqu_card_code.clone(),
        fn_cd: card.map(|c| c.issuer_code.to_string()),
        fn_name: card.map(|c| c.name.to_string()),
        card_quota: tx.card_quota.clone(),
        bank_code: bank.map(|b| b.code.to_string()),
        bank_name: bank.map(|b| b.name.to_string()),
        vbank_num: tx.vbank_num.clone(),
        vbank_name: if issued_vbank {
            bank.map(|b| b.name.to_string())
        } else {
            None
        },
        vbank_exp_date: if issued_vbank {
            tx.vbank_exp_date.clone()
        } else {
            None
        },
        extra: BTreeMap::new(),
    };
    auto_submit_page(&request, &result)
}

/// The page that makes the buyer's browser POST the result to ReturnURL.
///
/// With `EncodingType=utf8` and `UrlEncode=Y` the values already carry their second URL-encoding layer (pure
/// ASCII), so a UTF-8 page is right. Otherwise Smartro's default applies: the browser must form-encode in
/// EUC-KR, so the page itself is EUC-KR and says so.
fn auto_submit_page(request: &PaymentRequest, result: &PaymentResult) -> Response {
    let fields = result.to_form_fields(request.encoding_type, request.url_encode);
    let charset = if request.encoding_type == EncodingType::Utf8 && request.url_encode {
        Charset::Utf8
    } else {
        Charset::EucKr
    };
    let label = match charset {
        Charset::Utf8 => "UTF-8",
        Charset::EucKr => "EUC-KR",
    };
    let mut inputs = String::new();
    for (name, value) in &fields {
        inputs.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
            escape(name),
            escape(value)
        ));
    }
    let meta = match charset {
        Charset::Utf8 => "utf-8",
        Charset::EucKr => "euc-kr",
    };
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"ko\"><head><meta charset=\"{meta}\"><title>결제 결과 전송</title></head><body>\n\
<form id=\"resultForm\" method=\"post\" action=\"{action}\" accept-charset=\"{label}\">\n{inputs}\
<p>결제 결과를 가맹점으로 전송합니다. 자동으로 이동하지 않으면 아래 버튼을 누르세요.</p>\n\
<button type=\"submit\" id=\"submitResult\">결과 전송</button>\n</form>\n\
<script>document.getElementById('resultForm').submit();</script>\n</body></html>\n",
        action = escape(&request.return_url),
    );
    charset_response(charset, &html)
}
