//! Cancels whose outcome is unknown (Smartro did not answer, or the process died mid-call) are settled from
//! Smartro's receipt data: what Smartro says was cancelled decides.

use chrono::Duration as ChronoDuration;
use secrecy::ExposeSecret;
use smartro::client::CallOutcome;
use smartro::receipt::Receipt;

use crate::domain::CancelAnswer;
use crate::http::AppState;
use crate::store::cancellations::{CancelReply, OpenCancellation};
use crate::store::StoreError;

/// Cancellations looked at per pass.
const BATCH: i64 = 20;

pub struct Reconciler {
    state: AppState,
}

/// What the receipt says has been cancelled of the payment, in KRW.
pub fn cancelled_at_smartro(receipt: &Receipt) -> Option<i64> {
    let amount = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    match receipt.state_cd.as_deref().map(str::trim) {
        // Cancelled before or after settlement: nothing is left.
        Some("1") | Some("2") => amount(&receipt.goods_amt),
        Some("0") => Some(
            receipt
                .part_cancel_info
                .iter()
                .map(|p| amount(&p.trans_amt).unwrap_or(0))
                .sum(),
        ),
        _ => None,
    }
}

/// The outcome of an open cancellation of `amount`, given what was already counted as cancelled.
pub fn settle(smartro_cancelled: i64, counted: i64, amount: i64) -> Option<CancelAnswer> {
    if smartro_cancelled >= counted + amount {
        Some(CancelAnswer::Succeeded { ptid: None })
    } else if smartro_cancelled <= counted {
        Some(CancelAnswer::Refused)
    } else {
        // Smartro cancelled something else than what we asked: leave it open for a person.
        None
    }
}

impl Reconciler {
    pub fn new(state: AppState) -> Self {
        Reconciler { state }
    }

    /// Looks at open cancellations older than a grace period (Smartro's own notification usually settles them
    /// first); returns how many were settled.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let state = &self.state;
        let now = state.clock.now();
        // Long enough that a call still in flight (bounded by the Smartro timeout) is never taken for dead.
        let grace = ChronoDuration::seconds(
            i64::try_from(state.settings.smartro.timeout_secs).unwrap_or(15) * 2 + 30,
        );
        let open = state.store.open_cancellations(now - grace, BATCH).await?;
        let mut settled = 0;
        for c in open {
            if self.reconcile(&c).await? {
                settled += 1;
            }
        }
        Ok(settled)
    }

    async fn reconcile(&self, c: &OpenCancellation) -> Result<bool, StoreError> {
        let state = &self.state;
        let Some(merchant) = state.settings.merchant(&c.mid) else {
            tracing::warn!(order_id = %c.order_id, mid = %c.mid, "reconcile: MID no longer configured");
            return Ok(false);
        };
        let receipt = match state
            .smartro
            .receipt(&c.mid, &c.tid, merchant.merchant_key.expose_secret())
            .await
        {
            CallOutcome::Answered(r) => r,
            other => {
                tracing::info!(order_id = %c.order_id, cancellation = %c.id, outcome = ?outcome_name(&other), "reconcile: receipt not available yet");
                return Ok(false);
            }
        };
        let Some(smartro_cancelled) = cancelled_at_smartro(&receipt) else {
            tracing::warn!(order_id = %c.order_id, state = ?receipt.state_cd, "reconcile: receipt state not understood");
            return Ok(false);
        };
        let Some(record) = state.store.get_order(&c.order_id).await? else {
            return Ok(false);
        };
        let Some(answer) = settle(smartro_cancelled, record.order.cancelled_amount, c.amount)
        else {
            tracing::warn!(
                order_id = %c.order_id, cancellation = %c.id, smartro_cancelled,
                counted = record.order.cancelled_amount, amount = c.amount,
                "reconcile: Smartro's cancelled amount matches neither outcome; left open for review"
            );
            return Ok(false);
        };
        let reply = CancelReply {
            result_code: None,
            result_message: Some(match answer {
                CancelAnswer::Succeeded { .. } => "reconciled: cancelled at Smartro".to_string(),
                _ => "reconciled: not cancelled at Smartro".to_string(),
            }),
            cancel_num: None,
        };
        state
            .store
            .complete_cancel(&c.order_id, c.id, &answer, &reply, None, state.clock.now())
            .await?;
        tracing::info!(order_id = %c.order_id, cancellation = %c.id, outcome = ?answer, "cancellation reconciled");
        Ok(true)
    }
}

fn outcome_name<T>(outcome: &CallOutcome<T>) -> &'static str {
    match outcome {
        CallOutcome::Answered(_) => "answered",
        CallOutcome::Refused { .. } => "refused",
        CallOutcome::NoAnswer { .. } => "no answer",
        CallOutcome::Unparseable { .. } => "unparseable",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(json: &str) -> Receipt {
        Receipt::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn what_smartro_has_cancelled() {
        let full = receipt(r#"{"tid":"T","stateCd":"1","goodsAmt":"10000"}"#);
        assert_eq!(cancelled_at_smartro(&full), Some(10_000));
        let partial = receipt(
            r#"{"tid":"T","stateCd":"0","goodsAmt":10000,"partCancelInfo":[{"transAmt":"3000"},{"transAmt":1000}]}"#,
        );
        assert_eq!(cancelled_at_smartro(&partial), Some(4_000));
        let none = receipt(r#"{"tid":"T","stateCd":"0","goodsAmt":"10000"}"#);
        assert_eq!(cancelled_at_smartro(&none), Some(0));
        let odd = receipt(r#"{"tid":"T","stateCd":"9"}"#);
        assert_eq!(cancelled_at_smartro(&odd), None);
    }

    #[test]
    fn settling_an_open_cancellation() {
        assert_eq!(
            settle(4_000, 1_000, 3_000),
            Some(CancelAnswer::Succeeded { ptid: None })
        );
        assert_eq!(settle(1_000, 1_000, 3_000), Some(CancelAnswer::Refused));
        assert_eq!(settle(2_000, 1_000, 3_000), None);
    }
}
