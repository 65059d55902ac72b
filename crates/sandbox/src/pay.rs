//! The payment window (`interfaceURL.jsp`), the buyer's decision, the returnPay auto-submit page, and the
//! test page that pays a virtual account.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, NaiveDateTime, Utc};
use rand::Rng;
use serde::Deserialize;
use smartro::codes::{self, Bank, CardCompany};
use smartro::form::{Charset, RawForm};
use smartro::notification::Notification;
use smartro::request::PaymentRequest;
use smartro::result::PaymentResult;
use smartro::sign;
use smartro::types::{kst_naive, EncodingType, PayMethod, StateCd};

use crate::html::{charset_response, error_page, escape, html_response, page, pay_name, won};
use crate::store::{TransactionSnapshot, TxStatus};
use crate::{lock, AutoDecision, SandboxState};

/// A window shown to the buyer, waiting for the decision.
pub(crate) struct Pending {
    request: PaymentRequest,
    created: Instant,
}

/// A payment window session lives this long.
const SESSION_TTL: Duration = Duration::from_secs(30 * 60);

/// Amt has at most 12 digits (manual §3.1).
const MAX_AMT: i64 = 999_999_999_999;

/// How far `ediDate` may lie in the past or the future (KST).
const EDI_DATE_MAX_AGE_HOURS: i64 = 24;
const EDI_DATE_MAX_AHEAD_MINUTES: i64 = 10;

/// Instalment choices of the window: lump sum, then 2 to 12 months.
const QUOTAS: [&str; 12] = [
    "00", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12",
];

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

struct Choice {
    approve: bool,
    card: Option<&'static CardCompany>,
    quota: String,
    bank: Option<&'static Bank>,
}

fn first_card() -> Option<&'static CardCompany> {
    codes::CARD_COMPANIES.first()
}

/// The bank `--auto` and the window preselect: a major retail bank rather than the table's first row (the
/// central bank, which issues no accounts).
fn first_bank() -> Option<&'static Bank> {
    codes::bank("004").or_else(|| codes::BANKS.first())
}

impl Choice {
    /// `--auto`: the card company and quota the request asked for (fn_cd/CardQuota) when valid, else the
    /// first card company and a lump sum; the first bank.
    fn auto(decision: AutoDecision, request: &PaymentRequest) -> Choice {
        let card = request
            .fn_cd
            .as_deref()
            .and_then(codes::card_by_issuer)
            .or_else(first_card);
        let quota = request
            .card_quota
            .clone()
            .filter(|q| QUOTAS.contains(&q.as_str()))
            .unwrap_or_else(|| "00".to_string());
        Choice {
            approve: decision == AutoDecision::Approve,
            card,
            quota,
            bank: first_bank(),
        }
    }
}

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
    if request.pay_method.success_code().is_none() {
        return bad_request(
            E_METHOD,
            "지원하지 않는 결제수단입니다",
            &format!(
                "PayMethod {} is not offered by the sandbox",
                request.pay_method
            ),
        );
    }
    tracing::info!(mid = %request.mid, moid = %request.moid, method = %request.pay_method, amt = request.amt, "payment request accepted");
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

fn random_digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn window_html(state: &SandboxState, request: &PaymentRequest, session: &str) -> String {
    let mut rows = format!(
        "<tr><th>상품명</th><td id=\"goods-name\">{}</td></tr>\
<tr><th>결제금액</th><td id=\"amount\">{}원</td></tr>\
<tr><th>구매자</th><td id=\"buyer-name\">{}</td></tr>\
<tr><th>결제수단</th><td id=\"pay-method\">{}</td></tr>\
<tr><th>주문번호</th><td>{}</td></tr><tr><th>상점아이디</th><td>{}</td></tr>",
        escape(&request.goods_name),
        won(request.amt),
        escape(&request.buyer_name),
        pay_name(&request.pay_method),
        escape(&request.moid),
        escape(&request.mid),
    );
    if let Some(exp) = &request.vbank_exp_date {
        rows.push_str(&format!(
            "<tr><th>입금기한</th><td>{}</td></tr>",
            escape(exp)
        ));
    }
    let mut choices = String::new();
    match request.pay_method {
        PayMethod::Card => {
            let wanted = request.fn_cd.as_deref();
            choices.push_str("<label for=\"card_code\">카드사 선택</label><select name=\"card_code\" id=\"card_code\">");
            for card in codes::CARD_COMPANIES {
                let selected = if Some(card.issuer_code) == wanted {
                    " selected"
                } else {
                    ""
                };
                choices.push_str(&format!(
                    "<option value=\"{}\"{selected}>{}</option>",
                    escape(card.issuer_code),
                    escape(card.name)
                ));
            }
            choices.push_str("</select><label for=\"quota\">할부개월</label><select name=\"quota\" id=\"quota\">");
            let wanted = request.card_quota.as_deref().unwrap_or("00");
            for q in QUOTAS {
                let label = if q == "00" {
                    "일시불".to_string()
                } else {
                    format!("{}개월", q.trim_start_matches('0'))
                };
                let selected = if q == wanted { " selected" } else { "" };
                choices.push_str(&format!(
                    "<option value=\"{q}\"{selected}>{q} {label}</option>"
                ));
            }
            choices.push_str("</select>");
        }
        PayMethod::Bank | PayMethod::Vbank => {
            let label = if request.pay_method == PayMethod::Vbank {
                "입금은행 선택"
            } else {
                "출금은행 선택"
            };
            choices.push_str(&format!(
                "<label for=\"bank_code\">{label}</label><select name=\"bank_code\" id=\"bank_code\">"
            ));
            let preselected = first_bank().map(|b| b.code);
            for bank in codes::BANKS {
                let selected = if Some(bank.code) == preselected {
                    " selected"
                } else {
                    ""
                };
                choices.push_str(&format!(
                    "<option value=\"{}\"{selected}>{}</option>",
                    escape(bank.code),
                    escape(bank.name)
                ));
            }
            choices.push_str("</select>");
        }
        _ => {}
    }
    let body = format!(
        "<h1>스마트로페이 결제 (샌드박스)</h1><table>{rows}</table>\
<form id=\"payForm\" method=\"post\" action=\"{action}\" accept-charset=\"UTF-8\">\
<input type=\"hidden\" name=\"session\" value=\"{session}\"><p>{choices}</p>\
<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">승인</button>\
<button type=\"submit\" name=\"decision\" value=\"decline\" id=\"decline\">취소</button></form>\
<p class=\"muted\">테스트 환경입니다. 실제 결제는 이루어지지 않습니다.</p>",
        action = escape(&format!("{}/sandbox/decide", state.public_url())),
        session = escape(session),
    );
    page("스마트로페이 결제", &body)
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
    let mut choice = Choice {
        approve,
        card: None,
        quota: "00".to_string(),
        bank: None,
    };
    match request.pay_method {
        PayMethod::Card => {
            let code = form.get_text("card_code").unwrap_or_default();
            let Some(card) = codes::card_by_issuer(&code) else {
                return bad_request(
                    E_CHOICE,
                    "카드사 선택 오류",
                    &format!("unknown card company {code:?}"),
                );
            };
            let quota = form.get_text("quota").unwrap_or_else(|| "00".to_string());
            if !QUOTAS.contains(&quota.as_str()) {
                return bad_request(
                    E_CHOICE,
                    "할부개월 오류",
                    &format!("unknown quota {quota:?}"),
                );
            }
            choice.card = Some(card);
            choice.quota = quota;
        }
        PayMethod::Bank | PayMethod::Vbank => {
            let code = form.get_text("bank_code").unwrap_or_default();
            let Some(bank) = codes::bank(&code) else {
                return bad_request(
                    E_CHOICE,
                    "은행 선택 오류",
                    &format!("unknown bank {code:?}"),
                );
            };
            choice.bank = Some(bank);
        }
        _ => {}
    }
    complete(&state, request, choice)
}

/// A realistic failure per method, from the seed's tables.
fn decline_code(method: &PayMethod) -> &'static str {
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

pub(crate) fn message_of(code: &str) -> String {
    codes::result_code(code)
        .map(|c| c.message.to_string())
        .unwrap_or_default()
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
/// where payments are made, for the window and for [`approve_direct`] alike.
fn record(state: &SandboxState, request: &PaymentRequest, choice: &Choice) -> TransactionSnapshot {
    let method = request.pay_method.clone();
    let result_code = if choice.approve {
        method.success_code().unwrap_or("3002")
    } else {
        decline_code(&method)
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
    let tx = TransactionSnapshot {
        tid,
        mid: request.mid.clone(),
        moid: request.moid.clone(),
        pay_method: method.clone(),
        amt: request.amt,
        status,
        result_code: result_code.to_string(),
        result_msg: message_of(result_code),
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
        divide_info: request.divide_info.as_ref().map(|d| d.encode()),
        tax: request.tax,
        svc_amt: request.svc_amt,
        cancelled_amt: 0,
        cancels: Vec::new(),
        recorded: Instant::now(),
    };
    store.insert(tx.clone());
    tx
}

/// Create the transaction, queue its notification and answer with the returnPay auto-submit page.
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
    tracing::info!(tid = %tx.tid, code = result_code, "payment decided");

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
                state_cd,
                auth_date: tx.auth_date.clone(),
            },
        );
        state.notify(&tx, n);
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
        divide_info: tx.divide_info.clone(),
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

/// A payment to approve without the payment window ([`crate::SandboxState::create_transaction`],
/// `POST /sandbox/transactions`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewTransaction {
    pub mid: String,
    /// The merchant's order number (Moid rules of the payment request apply).
    pub moid: String,
    pub amt: i64,
    /// CARD when absent. VBANK is refused: it issues an account instead of approving a payment.
    #[serde(default)]
    pub pay_method: Option<PayMethod>,
    /// At most 40 bytes; a default name when absent.
    #[serde(default)]
    pub goods_name: Option<String>,
    /// At most 30 bytes; a default name when absent.
    #[serde(default)]
    pub buyer_name: Option<String>,
}

impl NewTransaction {
    /// A card payment of `amt` for order `moid` with the default goods and buyer names.
    pub fn new(mid: impl Into<String>, moid: impl Into<String>, amt: i64) -> NewTransaction {
        NewTransaction {
            mid: mid.into(),
            moid: moid.into(),
            amt,
            pay_method: None,
            goods_name: None,
            buyer_name: None,
        }
    }
}

/// Why a [`NewTransaction`] was refused; `field` names the JSON field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct NewTransactionError {
    pub field: &'static str,
    pub reason: String,
}

fn refused(field: &'static str, reason: impl Into<String>) -> NewTransactionError {
    NewTransactionError {
        field,
        reason: reason.into(),
    }
}

const DIRECT_GOODS_NAME: &str = "샌드박스 상품";
const DIRECT_BUYER_NAME: &str = "샌드박스 구매자";

/// A text field within the byte limit of the payment request (manual §3.1), without control characters.
fn check_text(
    field: &'static str,
    value: &str,
    max_bytes: usize,
) -> Result<(), NewTransactionError> {
    if value.trim().is_empty() {
        return Err(refused(field, "must not be empty"));
    }
    if value.len() > max_bytes {
        return Err(refused(field, format!("longer than {max_bytes} bytes")));
    }
    if value.chars().any(char::is_control) {
        return Err(refused(field, "contains control characters"));
    }
    Ok(())
}

/// Validate `new` as the payment window would its request, then record the approval as the window's `auto`
/// mode does (its default card company and bank, a lump sum). No return page, no notification.
pub(crate) fn approve_direct(
    state: &SandboxState,
    new: NewTransaction,
) -> Result<TransactionSnapshot, NewTransactionError> {
    if state.merchant(&new.mid).is_none() {
        return Err(refused(
            "mid",
            format!("the sandbox knows no merchant {:?}", new.mid),
        ));
    }
    smartro::request::validate_moid(&new.moid).map_err(|e| refused("moid", e.reason))?;
    if new.amt <= 0 {
        return Err(refused("amt", "must be greater than 0"));
    }
    if new.amt > MAX_AMT {
        return Err(refused("amt", "longer than 12 digits"));
    }
    let method = new.pay_method.unwrap_or(PayMethod::Card);
    match method {
        PayMethod::Card
        | PayMethod::Bank
        | PayMethod::Cellphone
        | PayMethod::Toss
        | PayMethod::Kakao => {}
        PayMethod::Vbank => {
            return Err(refused(
                "pay_method",
                "VBANK issues an account to pay into rather than approving a payment; use the payment window",
            ))
        }
        PayMethod::Clgift | PayMethod::Other(_) => {
            return Err(refused(
                "pay_method",
                format!("{method} is not offered by the sandbox"),
            ))
        }
    }
    let goods_name = new
        .goods_name
        .unwrap_or_else(|| DIRECT_GOODS_NAME.to_string());
    check_text("goods_name", &goods_name, 40)?;
    let buyer_name = new
        .buyer_name
        .unwrap_or_else(|| DIRECT_BUYER_NAME.to_string());
    check_text("buyer_name", &buyer_name, 30)?;
    // No ReturnURL and no RetryURL: the empty RetryURL is what keeps later cancels of it from being notified.
    let request = PaymentRequest::new(
        method, goods_name, new.amt, new.moid, new.mid, "", "", buyer_name, "", "",
    );
    let choice = Choice::auto(AutoDecision::Approve, &request);
    let tx = record(state, &request, &choice);
    tracing::info!(tid = %tx.tid, moid = %tx.moid, amt = tx.amt, code = %tx.result_code, "direct transaction approved");
    Ok(tx)
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

/// What distinguishes one notification of a transaction from another.
pub(crate) struct NotificationKind {
    pub tid: String,
    pub otid: Option<String>,
    pub amt: i64,
    pub result_code: String,
    pub state_cd: StateCd,
    /// `yyMMddHHmmss`: approval, deposit or cancel time.
    pub auth_date: String,
}

/// The inform message for `tx`, signed with the merchant key over the notified TID and result code.
pub(crate) fn notification_for(
    tx: &TransactionSnapshot,
    key: &str,
    kind: NotificationKind,
) -> Notification {
    let is_vbank = tx.pay_method == PayMethod::Vbank;
    Notification {
        pay_method: tx.pay_method.clone(),
        mid: tx.mid.clone(),
        mall_user_id: tx.mall_user_id.clone(),
        amt: kind.amt,
        name: Some(tx.buyer_name.clone()),
        goods_name: Some(tx.goods_name.clone()),
        otid: kind.otid,
        oid: tx.moid.clone(),
        auth_date: Some(kind.auth_date),
        auth_code: tx.auth_code.clone(),
        result_msg: message_of(&kind.result_code),
        sign_value: sign::sign_value(&kind.tid, &kind.result_code, key),
        tid: kind.tid,
        result_code: kind.result_code,
        state_cd: kind.state_cd,
        fn_cd: tx.fn_cd.clone(),
        fn_name: tx.fn_name.clone(),
        pin_no: tx.pin_no.clone(),
        card_quota: tx.card_quota.clone(),
        buyer_email: Some(tx.buyer_email.clone()),
        buyer_tel: Some(tx.buyer_tel.clone()),
        buyer_auth_num: None,
        vbank_num: tx.vbank_num.clone(),
        vbank_name: if is_vbank { tx.fn_name.clone() } else { None },
        receipt_type: None,
        rcpt_app_no: None,
        rcpt_cc_no: None,
        card_use_point: None,
        extra: BTreeMap::new(),
    }
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_string(),
    )
        .into_response()
}

/// `GET /payTest/vbank_deposit_notice.jsp`: a form to pay an issued account by hand.
pub(crate) async fn deposit_form(State(state): State<SandboxState>) -> Response {
    let body = format!(
        "<h1>가상계좌 입금 테스트</h1><form method=\"post\" action=\"{}/payTest/vbank_deposit_notice.jsp\">\
<label for=\"TID\">TID</label> <input name=\"TID\" id=\"TID\" size=\"32\"> \
<button type=\"submit\" id=\"deposit\">입금 통보</button></form>",
        escape(state.public_url())
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
            result_code: "4110".to_string(),
            state_cd: StateCd::Approval,
            auth_date: now.format("%y%m%d%H%M%S").to_string(),
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
