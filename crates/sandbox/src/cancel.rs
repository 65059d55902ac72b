//! `POST /cancel/payCancelNVProcess.jsp`: full and partial cancels with Smartro's 20xx answers.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use rand::Rng;
use smartro::cancel::{CancelRequest, CancelResponse};
use smartro::form::RawForm;
use smartro::sign;
use smartro::types::{kst_naive, PayMethod, StateCd};

use crate::html::pay_name;
use crate::messages::{message_of, notification_for, NotificationKind};
use crate::pay::random_digits;
use crate::split::{self, CancelSplitError};
use crate::store::{CancelRecord, TransactionSnapshot, TxStatus};
use crate::{lock, SandboxState};

/// Codes of the seed's cancel table (section 6), bank refund table (section 7) and Toss table (section 13).
mod code {
    pub const OK: &str = "2001";
    pub const BANK_REFUND_OK: &str = "2211";
    /// 결제환불 성공: Toss answers its cancels with its own code.
    pub const TOSS_REFUND_OK: &str = "TS20";
    /// 토스 부분취소 불가 금액: Toss's answer to a partial cancel of more than is left.
    pub const TOSS_PARTIAL_AMOUNT: &str = "TS22";
    pub const FAILED: &str = "2002";
    pub const AMOUNT_NOT_POSITIVE: &str = "2010";
    pub const AMOUNT_MISMATCH: &str = "2011";
    pub const NO_SUCH_TX: &str = "2012";
    pub const ALREADY_CANCELLED: &str = "2013";
    pub const NOT_CANCELLABLE: &str = "2014";
    pub const WRONG_PASSWORD: &str = "2024";
    pub const NO_PASSWORD: &str = "2025";
    pub const PARTIAL_METHOD: &str = "2029";
    pub const PARTIAL_TX: &str = "2030";
    pub const FULL_NOT_POSSIBLE: &str = "2031";
    pub const OVER_REMAINING: &str = "2032";
    pub const BEFORE_DEPOSIT_FULL: &str = "2035";
    pub const BEFORE_DEPOSIT_PARTIAL: &str = "2036";
    pub const DATA_MISMATCH: &str = "2041";
}

/// Methods whose payments Smartro can cancel in part. Phone payments are cancelled whole within the month
/// (manual §5.1), and culture gift cards have no partial cancel either: both answer 2029.
fn allows_partial(method: &PayMethod) -> bool {
    matches!(
        method,
        PayMethod::Card | PayMethod::Bank | PayMethod::Toss | PayMethod::Kakao
    )
}

fn answer_bytes(body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/html; charset=euc-kr")],
        body,
    )
        .into_response()
}

struct Refusal {
    code: &'static str,
    detail: Option<String>,
}

fn refuse(code: &'static str) -> Refusal {
    Refusal { code, detail: None }
}

/// The closest code of the seed's cancel table for each way a cancel's DivideInfo can miss the payment's split.
fn split_refusal(e: CancelSplitError) -> Refusal {
    let code = match &e {
        // 해당거래 부분취소 불가: without the split, this payment cannot be partially cancelled.
        CancelSplitError::Missing => code::PARTIAL_TX,
        // 취소 요청금액 0 원 이하
        CancelSplitError::NotPositive { .. } => code::AMOUNT_NOT_POSITIVE,
        // 취소 금액 불일치
        CancelSplitError::SumMismatch { .. } => code::AMOUNT_MISMATCH,
        // 원거래 승인데이터와 상이함: the split names what the payment did not have.
        CancelSplitError::NotSplit | CancelSplitError::UnknownSubMall { .. } => code::DATA_MISMATCH,
        // 취소금액이 취소가능금액보다 큼, for one sub-mall.
        CancelSplitError::OverRemaining { .. } => code::OVER_REMAINING,
    };
    Refusal {
        code,
        detail: Some(e.to_string()),
    }
}

/// Everything the answer echoes, known before the rules run.
#[derive(Default)]
struct Echo {
    tid: Option<String>,
    cancel_amt: Option<i64>,
    cancel_msg: Option<String>,
    tx: Option<TransactionSnapshot>,
}

fn refusal_response(echo: &Echo, refusal: Refusal) -> CancelResponse {
    let mut result_msg = message_of(refusal.code);
    if let Some(detail) = refusal.detail {
        result_msg = format!("{result_msg} ({detail})");
    }
    CancelResponse {
        pay_method: echo.tx.as_ref().map(|t| t.pay_method.as_str().to_string()),
        pay_name: echo
            .tx
            .as_ref()
            .map(|t| pay_name(&t.pay_method).to_string()),
        mid: echo.tx.as_ref().map(|t| t.mid.clone()),
        tid: echo.tid.clone(),
        cancel_amt: echo.cancel_amt,
        cancel_msg: echo.cancel_msg.clone(),
        result_code: refusal.code.to_string(),
        result_msg,
        moid: echo.tx.as_ref().map(|t| t.moid.clone()),
        ..CancelResponse::default()
    }
}

/// A cancel amount that is zero or negative is answered 2010 before anything else, which needs a look at the raw
/// field: the protocol crate's parser only accepts unsigned digits.
fn non_positive_amount(form: &RawForm) -> Option<i64> {
    let text = form.get_text("CancelAmt")?;
    let amount: i64 = text.trim().parse().ok()?;
    (amount <= 0).then_some(amount)
}

pub(crate) async fn cancel(State(state): State<SandboxState>, body: Bytes) -> Response {
    let form = RawForm::parse(&body);
    let mut echo = Echo {
        tid: form
            .get_text("TID")
            .map(|t| t.trim().to_string())
            .filter(|t| !t.is_empty()),
        ..Echo::default()
    };
    let (response, applied) = match evaluate(&state, &form, &mut echo) {
        Ok(done) => done,
        Err(refusal) => (refusal_response(&echo, refusal), false),
    };
    tracing::info!(
        tid = echo.tid.as_deref().unwrap_or("-"),
        code = %response.result_code,
        amt = echo.cancel_amt.unwrap_or(0),
        "cancel answered"
    );
    let faults = &state.inner.config.faults;
    if !faults.cancel_latency.is_zero() {
        tokio::time::sleep(faults.cancel_latency).await;
    }
    if applied && faults.cancel_no_answer {
        tracing::info!("cancel applied; withholding the answer (cancel_no_answer fault)");
        // Held until the client gives up (hyper then drops this future) or the sandbox shuts down.
        state.shutting_down().await;
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    answer_bytes(response.to_body())
}

/// Run the rules; on success apply the cancel, queue its notification and return the answer.
fn evaluate(
    state: &SandboxState,
    form: &RawForm,
    echo: &mut Echo,
) -> Result<(CancelResponse, bool), Refusal> {
    let password_given = form
        .get_bytes_ignore_case("Cancelpw")
        .is_some_and(|v| !v.is_empty());
    if !password_given {
        return Err(refuse(code::NO_PASSWORD));
    }
    if let Some(amount) = non_positive_amount(form) {
        // A negative amount is not echoed: CancelAmt is unsigned on the wire, and merchants' parsers reject it.
        echo.cancel_amt = (amount == 0).then_some(0);
        return Err(refuse(code::AMOUNT_NOT_POSITIVE));
    }
    let (request, hash) = CancelRequest::from_form(form).map_err(|e| Refusal {
        code: code::FAILED,
        detail: Some(e.to_string()),
    })?;
    echo.cancel_amt = Some(request.cancel_amt);
    echo.cancel_msg = Some(request.cancel_msg.clone());
    if request.cancel_amt <= 0 {
        return Err(refuse(code::AMOUNT_NOT_POSITIVE));
    }
    // Manual §5.2: MerchantMode is `T`, for sub-mall merchants; the seed has no code for another value, so it is
    // the generic 2002 (취소 실패) with the reason.
    if let Some(mode) = &request.merchant_mode {
        if mode != "T" {
            return Err(Refusal {
                code: code::FAILED,
                detail: Some(format!("MerchantMode must be T, not {mode:?}")),
            });
        }
    }

    let now = kst_naive(Utc::now());
    let mut store = lock(&state.inner.store);
    // Only original TIDs are looked up: a PTID names a cancel, not a payment.
    let Some(tx) = store.get(&request.tid).cloned() else {
        return Err(refuse(code::NO_SUCH_TX));
    };
    echo.tx = Some(tx.clone());
    let Some(merchant) = state.merchant(&tx.mid) else {
        return Err(refuse(code::NO_SUCH_TX));
    };
    if request.cancel_pw != merchant.cancel_password {
        return Err(refuse(code::WRONG_PASSWORD));
    }
    // hashData binds TID, amount and cancel type to the merchant key. The seed has no code for a bad hash;
    // 2041 (원거래 승인데이터와 상이함, "differs from the original approval data") is the closest.
    if !sign::verify_hash_data(
        &tx.tid,
        &merchant.merchant_key,
        request.cancel_amt,
        request.partial,
        &hash,
    ) {
        return Err(Refusal {
            code: code::DATA_MISMATCH,
            detail: Some("hashData".to_string()),
        });
    }
    match tx.status {
        TxStatus::Cancelled => return Err(refuse(code::ALREADY_CANCELLED)),
        TxStatus::Declined => return Err(refuse(code::NOT_CANCELLABLE)),
        // Virtual-account payments cannot be cancelled through Smartro (manual §5.1: the merchant refunds the
        // buyer itself). Before the deposit the seed's own codes say so (2035 full, 2036 partial); after it,
        // 2014 (취소 불가능 거래) is the closest.
        TxStatus::VbankIssued => {
            return Err(refuse(if request.partial {
                code::BEFORE_DEPOSIT_PARTIAL
            } else {
                code::BEFORE_DEPOSIT_FULL
            }))
        }
        TxStatus::VbankDeposited => return Err(refuse(code::NOT_CANCELLABLE)),
        TxStatus::Approved | TxStatus::PartiallyCancelled => {}
    }
    if request.partial {
        if !allows_partial(&tx.pay_method) {
            return Err(refuse(code::PARTIAL_METHOD));
        }
        // Manual §5.2: partial cancels of split-settlement payments must say how the amount splits.
        if !tx.split.is_empty() && request.divide_info.is_none() {
            return Err(split_refusal(CancelSplitError::Missing));
        }
        if request.cancel_amt > tx.remaining() {
            return Err(refuse(if tx.pay_method == PayMethod::Toss {
                code::TOSS_PARTIAL_AMOUNT
            } else {
                code::OVER_REMAINING
            }));
        }
    } else {
        if request.cancel_amt != tx.amt {
            return Err(refuse(code::AMOUNT_MISMATCH));
        }
        if tx.cancelled_amt > 0 {
            // Part is already cancelled: the whole amount cannot be cancelled any more.
            return Err(refuse(code::FULL_NOT_POSSIBLE));
        }
    }
    let taken = split::cancel_shares(
        &tx,
        request.partial,
        request.cancel_amt,
        request.divide_info.as_ref(),
    )
    .map_err(split_refusal)?;

    let ptid = request
        .partial
        .then(|| state.new_tid(&mut store, &tx.mid, &tx.pay_method));
    let cancel_num = format!("{:08}", rand::thread_rng().gen_range(0..100_000_000u32));
    let record = CancelRecord {
        ptid: ptid.clone(),
        amt: request.cancel_amt,
        partial: request.partial,
        cancel_num: cancel_num.clone(),
        cancel_date: now.format("%Y%m%d").to_string(),
        cancel_time: now.format("%H%M%S").to_string(),
        msg: request.cancel_msg.clone(),
        divide_info: request.divide_info.clone(),
        // The payment's cash receipt is cancelled with it, under a cancel number of its own.
        rcpt_cc_no: tx.cash_receipt.as_ref().map(|_| random_digits(9)),
        recorded: Instant::now(),
    };
    let updated = match store.get_mut(&tx.tid) {
        Some(stored) => {
            split::apply_cancel(&mut stored.split, &taken);
            stored.cancelled_amt += request.cancel_amt;
            stored.status = if stored.remaining() == 0 {
                TxStatus::Cancelled
            } else {
                TxStatus::PartiallyCancelled
            };
            stored.cancels.push(record.clone());
            stored.clone()
        }
        None => return Err(refuse(code::NO_SUCH_TX)),
    };
    drop(store);

    // Bank transfers are refunded (2211) but notified as cancels (2001); Toss answers and notifies its own TS20.
    let (result_code, notified_code) = match tx.pay_method {
        PayMethod::Bank => (code::BANK_REFUND_OK, code::OK),
        PayMethod::Toss => (code::TOSS_REFUND_OK, code::TOSS_REFUND_OK),
        _ => (code::OK, code::OK),
    };
    let notification = notification_for(
        &updated,
        &merchant.merchant_key,
        NotificationKind {
            tid: ptid.clone().unwrap_or_else(|| tx.tid.clone()),
            otid: Some(tx.tid.clone()),
            amt: request.cancel_amt,
            result_code: notified_code.to_string(),
            result_msg: message_of(notified_code),
            state_cd: StateCd::CancelBeforeSettlement,
            auth_date: now.format("%y%m%d%H%M%S").to_string(),
            rcpt_cc_no: record.rcpt_cc_no.clone(),
        },
    );
    state.notify(&updated, notification);

    let response = CancelResponse {
        pay_method: Some(tx.pay_method.as_str().to_string()),
        pay_name: Some(pay_name(&tx.pay_method).to_string()),
        mid: Some(tx.mid.clone()),
        tid: Some(tx.tid.clone()),
        cancel_amt: Some(request.cancel_amt),
        cancel_msg: Some(request.cancel_msg),
        result_code: result_code.to_string(),
        result_msg: message_of(result_code),
        cancel_date: Some(record.cancel_date),
        cancel_time: Some(record.cancel_time),
        cancel_num: Some(cancel_num),
        moid: Some(tx.moid.clone()),
        ptid,
        ..CancelResponse::default()
    };
    Ok((response, true))
}
