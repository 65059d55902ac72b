//! Refunds the merchant made itself: virtual-account money goes back by the merchant's own bank transfer (Smartro
//! cannot cancel it), and any paid order may be settled that way. The gateway records the transfer, so that the
//! order's sums, its status and the shop's webhooks tell the truth, and so that Smartro is never asked to send
//! the same money back a second time.

use http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::idempotency::{Answer, Keyed};
use super::problem::ApiError;
use super::Services;
use crate::domain::RefundRefusal;
use crate::store::refunds::{NewRefund, RecordRefund};

/// The body of `POST /v1/orders/{order_id}/refunds`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundBody {
    pub amount: i64,
    pub reason: String,
    /// The buyer's bank: a code of Smartro's bank table (`GET /v1/codes/banks`).
    pub bank_code: String,
    pub account: String,
    pub holder: String,
    /// The merchant's own reference of the transfer.
    pub reference: Option<String>,
}

const MAX_REASON_CHARS: usize = 200;
const MAX_HOLDER_CHARS: usize = 60;
const MAX_REFERENCE_CHARS: usize = 100;
/// Korean account numbers run from 10 to 16 digits; a little room either way for other formats.
const ACCOUNT_DIGITS: std::ops::RangeInclusive<usize> = 6..=20;

fn refusal(refusal: RefundRefusal) -> ApiError {
    match refusal {
        RefundRefusal::NotRefundable { status } => ApiError::conflict(
            "order_not_refundable",
            format!(
                "an order that is {} has no paid money to refund",
                status.as_str()
            ),
        )
        .with("order_status", status.as_str()),
        RefundRefusal::InvalidAmount => {
            ApiError::invalid_field("amount", "must be a positive integer (KRW)")
        }
        RefundRefusal::ExceedsRemaining {
            requested,
            remaining,
        } => ApiError::invalid_field(
            "amount",
            format!(
                "{requested} is more than what is left to refund ({remaining}: paid, less what was cancelled, \
                 refunded, or is being cancelled)"
            ),
        )
        .with("remaining", remaining),
    }
}

/// Free text kept on the refund: trimmed, not empty, at most `max` characters, no control characters.
fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::invalid_field(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        ));
    }
    Ok(value.to_string())
}

/// Checks the body; the account is kept as given (surrounding spaces aside), and shown masked.
fn validate(body: RefundBody, recorded_by: &str) -> Result<NewRefund, ApiError> {
    if body.amount <= 0 {
        return Err(ApiError::invalid_field(
            "amount",
            "must be a positive integer (KRW)",
        ));
    }
    let reason = text("reason", &body.reason, MAX_REASON_CHARS)?;
    if smartro::codes::bank(&body.bank_code).is_none() {
        return Err(ApiError::invalid_field(
            "bank_code",
            format!(
                "{:?} is not a bank of Smartro's code table (GET /v1/codes/banks)",
                body.bank_code
            ),
        ));
    }
    let account = body.account.trim().to_string();
    let digits = account.chars().filter(char::is_ascii_digit).count();
    if !account.chars().all(|c| c.is_ascii_digit() || c == '-') || !ACCOUNT_DIGITS.contains(&digits)
    {
        return Err(ApiError::invalid_field(
            "account",
            format!(
                "must be {} to {} digits, optionally separated by hyphens",
                ACCOUNT_DIGITS.start(),
                ACCOUNT_DIGITS.end()
            ),
        ));
    }
    let holder = text("holder", &body.holder, MAX_HOLDER_CHARS)?;
    let reference = match body.reference.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(text("reference", r, MAX_REFERENCE_CHARS)?),
    };
    Ok(NewRefund {
        id: Uuid::new_v4(),
        amount: body.amount,
        reason,
        bank_code: body.bank_code,
        account,
        holder,
        reference,
        recorded_by: recorded_by.to_string(),
    })
}

impl Services {
    /// Records a refund the merchant made, once per Idempotency-Key; 201 with the order.
    #[tracing::instrument(name = "record_refund", skip_all, fields(%order_id))]
    pub async fn record_refund(
        &self,
        keyed: Keyed<'_>,
        order_id: &str,
        body: RefundBody,
        recorded_by: &str,
    ) -> Result<Answer, ApiError> {
        self.once(keyed, || async {
            let refund = validate(body, recorded_by)?;
            let render = self.render();
            match self
                .store
                .record_refund(order_id, &refund, &render, self.clock.now())
                .await?
            {
                RecordRefund::Recorded(record) => {
                    tracing::info!(refund = %refund.id, amount = refund.amount, "refund recorded");
                    Ok((StatusCode::CREATED, json!(self.view(&record))))
                }
                RecordRefund::Refused(r) => Err(refusal(r)),
                RecordRefund::ReferenceRecorded => Err(ApiError::conflict(
                    "refund_reference_recorded",
                    "this order already has a refund with this `reference`: the same transfer is not recorded \
                     twice (send an Idempotency-Key to retry a request safely)",
                )
                .with("field", "reference")),
                RecordRefund::UnknownOrder => {
                    Err(ApiError::not_found(format!("no order {order_id}")))
                }
            }
        })
        .await
    }
}
