//! Approved payments without the payment window ([`crate::SandboxState::create_transaction`],
//! `POST /sandbox/transactions`), for load generators that send their own signed messages.

use serde::Deserialize;
use smartro::request::PaymentRequest;
use smartro::types::PayMethod;

use crate::pay::{record, MAX_AMT};
use crate::store::TransactionSnapshot;
use crate::window::Choice;
use crate::{AutoDecision, SandboxState};

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
/// mode does (its default card company and bank, a lump sum; CLGIFT with the configured success code). No
/// escrow, split or cash receipt, no return page, no notification.
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
        | PayMethod::Clgift
        | PayMethod::Toss
        | PayMethod::Kakao => {}
        PayMethod::Vbank => {
            return Err(refused(
                "pay_method",
                "VBANK issues an account to pay into rather than approving a payment; use the payment window",
            ))
        }
        PayMethod::Other(_) => {
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
