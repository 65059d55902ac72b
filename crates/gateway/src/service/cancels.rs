//! Cancels: decided under the order's row lock and recorded before the provider is called, so that no replica
//! can send a second one while the first one's outcome is open; then the provider's answer (or its silence)
//! settles it. And receipts, looked up at the provider.

use http::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::idempotency::{Answer, Keyed};
use super::problem::ApiError;
use super::Services;
use crate::domain::{
    CancelAnswer, CancelPlan, CancelRefusal, CancelReply, CancellationStatus, Channel, SplitShare,
};
use crate::providers::{CancelCall, LookupError, Provider};
use crate::store::cancellations::BeginCancel;

const MAX_REASON_BYTES: usize = 100;

pub(super) fn refusal(refusal: CancelRefusal) -> ApiError {
    match refusal {
        CancelRefusal::NotCancellable { status } => ApiError::conflict(
            "order_not_cancellable",
            format!("an order that is {} cannot be cancelled", status.as_str()),
        )
        .with("order_status", status.as_str()),
        CancelRefusal::VbankRefundByMerchant => ApiError::conflict(
            "vbank_not_cancellable",
            "virtual-account (VBANK) payments cannot be cancelled through Smartro: refund the buyer by bank \
             transfer yourself",
        ),
        CancelRefusal::InProgress { id } => ApiError::conflict(
            "cancel_in_progress",
            format!(
                "cancellation {id} of this order is being sent to Smartro right now; retry once it is answered \
                 (the order then shows its outcome)"
            ),
        )
        .with("cancellation_id", id.to_string()),
        CancelRefusal::OutcomeOpen { id } => ApiError::conflict(
            "cancellation_outcome_unknown",
            format!(
                "cancellation {id} has no known outcome yet (Smartro did not answer); no other cancel is sent \
                 until it is reconciled"
            ),
        )
        .with("cancellation_id", id.to_string()),
        CancelRefusal::NothingLeft => {
            ApiError::conflict("nothing_to_cancel", "the whole paid amount is already cancelled")
        }
        CancelRefusal::InvalidAmount => {
            ApiError::invalid_field("amount", "must be a positive integer (KRW)")
        }
        CancelRefusal::ExceedsRemaining {
            requested,
            remaining,
        } => ApiError::invalid_field(
            "amount",
            format!("{requested} is more than what is left to cancel ({remaining})"),
        )
        .with("remaining", remaining),
        CancelRefusal::WindowClosed { method, window } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "cancel_window_closed",
            "The cancel window has closed",
            format!(
                "{} payments can be cancelled through Smartro within {window} only; refund the buyer yourself \
                 and record it with POST /v1/orders/{{order_id}}/refunds",
                method.as_str()
            ),
        )
        .with("pay_method", method.as_str()),
        CancelRefusal::Split { field, message } => ApiError::invalid_field(field, message),
    }
}

/// The cancel reason as the provider will receive it (Smartro: CancelMSG, EUC-KR, 100 bytes).
pub(super) fn check_reason(reason: &str) -> Result<String, ApiError> {
    let reason = reason.trim().to_string();
    if reason.is_empty() {
        return Err(ApiError::invalid_field("reason", "must not be empty"));
    }
    if reason.len() > MAX_REASON_BYTES {
        return Err(ApiError::invalid_field(
            "reason",
            format!("must be at most {MAX_REASON_BYTES} bytes (Hangul counts 3)"),
        ));
    }
    // Refused here, before the cancel is recorded.
    if let Err(e) = smartro::cancel::validate_cancel_msg(&reason) {
        return Err(match e.kind {
            smartro::RequestErrorKind::NotEucKr => ApiError::not_euc_kr("reason", e.reason),
            smartro::RequestErrorKind::Invalid => ApiError::invalid_field("reason", e.reason),
        });
    }
    Ok(reason)
}

/// The answer to keep on the cancellation, and the problem to report when it did not succeed.
fn understand(call: CancelCall, id: Uuid) -> (CancelAnswer, CancelReply, Option<ApiError>) {
    match call {
        CancelCall::Succeeded {
            reply,
            ptid,
            amount,
        } => (CancelAnswer::Succeeded { ptid, amount }, reply, None),
        CancelCall::Refused { reply } => {
            let code = reply.result_code.clone().unwrap_or_default();
            let message = reply.result_message.clone().unwrap_or_default();
            let err = ApiError::new(
                StatusCode::BAD_GATEWAY,
                "smartro_refused",
                "Smartro refused the cancel",
                format!("[{code}] {message}"),
            )
            .with("smartro_code", code)
            .with("smartro_message", message);
            (CancelAnswer::Refused, reply, Some(err))
        }
        CancelCall::Invalid { code, message } => {
            let err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "cancel_request_invalid",
                "The cancel request is invalid",
                message.clone(),
            );
            let reply = CancelReply {
                result_code: Some(code),
                result_message: Some(message),
                cancel_num: None,
            };
            (CancelAnswer::Refused, reply, Some(err))
        }
        CancelCall::NoAnswer { reason } => {
            tracing::warn!(cancellation = %id, %reason, "cancel: Smartro did not answer");
            let err = ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "smartro_no_answer",
                "Smartro did not answer",
                "the cancel's outcome is unknown; it is kept as `unknown` and reconciled with Smartro, and no \
                 other cancel of this order is sent meanwhile",
            )
            .with("cancellation_id", id.to_string());
            (CancelAnswer::Unknown, CancelReply::default(), Some(err))
        }
        CancelCall::Unreadable { status, reason } => {
            tracing::warn!(cancellation = %id, status, %reason, "cancel: unreadable answer");
            let err = ApiError::new(
                StatusCode::BAD_GATEWAY,
                "smartro_unreadable",
                "Smartro's answer could not be read",
                format!("HTTP {status}: {reason}; the outcome is kept as `unknown` and reconciled"),
            )
            .with("cancellation_id", id.to_string());
            (CancelAnswer::Unknown, CancelReply::default(), Some(err))
        }
    }
}

impl Services {
    /// Cancels `amount` of the order (all that is left when `None`), once per Idempotency-Key; 200 with the order.
    #[tracing::instrument(name = "cancel_order", skip_all, fields(%order_id, channel = "online"))]
    pub async fn cancel_order(
        &self,
        keyed: Keyed<'_>,
        order_id: &str,
        amount: Option<i64>,
        split: Option<&[SplitShare]>,
        reason: &str,
    ) -> Result<Answer, ApiError> {
        self.once(keyed, || async {
            // A terminal order is cancelled on the terminal that took it.
            if let Some(record) = self.store.get_order(order_id).await? {
                if record.order.channel == Channel::Terminal {
                    return self
                        .cancel_terminal_order(order_id, amount, split, reason)
                        .await;
                }
            }
            let reason = check_reason(reason)?;
            let (plan, mid) = match self
                .store
                .begin_cancel(
                    order_id,
                    amount,
                    split,
                    &reason,
                    Uuid::new_v4(),
                    self.clock.now(),
                )
                .await?
            {
                BeginCancel::Planned { plan, mid } => (plan, mid),
                BeginCancel::Refused(r) => return Err(refusal(r)),
                BeginCancel::UnknownOrder => {
                    return Err(ApiError::not_found(format!("no order {order_id}")))
                }
            };
            self.send_cancel(order_id, &mid, &plan, &reason).await
        })
        .await
    }

    /// Sends a cancel recorded as `requested` to the provider and settles it with the answer (or its silence);
    /// 200 with the order, or the problem the answer means.
    pub(super) async fn send_cancel(
        &self,
        order_id: &str,
        mid: &str,
        plan: &CancelPlan,
        reason: &str,
    ) -> Result<(StatusCode, Value), ApiError> {
        let render = self.render();
        tracing::info!(cancellation = %plan.id, tid = %plan.tid, amount = plan.amount, partial = plan.partial, "cancel recorded; calling Smartro");
        let call = self.weblink.cancel(mid, plan, reason).await;
        let (answer, reply, failure) = understand(call, plan.id);
        let record = self
            .store
            .complete_cancel(
                order_id,
                plan.id,
                &answer,
                &reply,
                &render,
                self.clock.now(),
            )
            .await?;
        // The provider's notification of this very cancel may have settled it while the call hung: then it
        // succeeded.
        let settled = record
            .cancellations
            .iter()
            .any(|c| c.id == plan.id && c.status == CancellationStatus::Succeeded);
        match failure {
            Some(err) if !settled => Err(err),
            _ => Ok((StatusCode::OK, json!(self.view(&record)))),
        }
    }

    /// Smartro's receipt data for the order's TID, with the receipt page's link.
    pub async fn receipt(&self, order_id: &str) -> Result<Value, ApiError> {
        let record = self.order(order_id).await?;
        let tid = record.order.tid.clone().ok_or_else(|| {
            ApiError::not_found(format!(
                "order {order_id} has no Smartro transaction (TID) yet"
            ))
        })?;
        let receipt_url = self.weblink.receipt_url(&tid);
        match self.weblink.lookup(&record.order.mid, &tid).await {
            Ok(receipt) => {
                let mut body = serde_json::to_value(&receipt).unwrap_or_else(|_| json!({}));
                if let Some(obj) = body.as_object_mut() {
                    obj.insert("receipt_url".into(), json!(receipt_url));
                    if record.order.cash_receipt_type.is_some() {
                        obj.insert(
                            "cash_receipt_url".into(),
                            json!(self.weblink.cash_receipt_url(&tid)),
                        );
                    }
                }
                Ok(body)
            }
            Err(LookupError::Refused { code, message }) if code == "merchant_not_configured" => {
                Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "merchant_not_configured",
                    "Merchant not configured",
                    message,
                ))
            }
            Err(LookupError::Refused { code, message }) => Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "smartro_refused",
                "Smartro refused the receipt lookup",
                format!("[{code}] {message}"),
            )
            .with("smartro_code", code)
            .with("smartro_message", message)
            .with("receipt_url", receipt_url)),
            Err(LookupError::NoAnswer { reason }) => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "smartro_no_answer",
                "Smartro did not answer",
                reason,
            )
            .with("receipt_url", receipt_url)),
            Err(LookupError::Unreadable { status, reason }) => Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "smartro_unreadable",
                "Smartro's answer could not be read",
                format!("HTTP {status}: {reason}"),
            )
            .with("receipt_url", receipt_url)),
        }
    }
}
