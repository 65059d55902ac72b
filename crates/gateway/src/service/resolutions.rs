//! An operator settles an order under review (`needs_review`): `accept` takes the payment that caused the review
//! as the order's, for what the provider took; `cancel` has the provider cancel that payment, recorded and sent
//! like any cancel. Each is recorded with who (the API key's id) and why.

use http::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::cancels::{check_reason, refusal as cancel_refusal};
use super::idempotency::{Answer, Keyed};
use super::problem::ApiError;
use super::Services;
use crate::domain::{ResolveAction, ResolveRefusal};
use crate::store::resolutions::{AcceptReview, BeginReviewCancel, Resolver};

fn refusal(refusal: ResolveRefusal) -> ApiError {
    match refusal {
        ResolveRefusal::NotUnderReview { status } => ApiError::conflict(
            "order_not_under_review",
            format!(
                "only an order that is needs_review can be resolved; this one is {}",
                status.as_str()
            ),
        )
        .with("order_status", status.as_str()),
        ResolveRefusal::NoReviewedPayment => ApiError::conflict(
            "no_reviewed_payment",
            "the review names no payment recorded on this order, so there is none to accept or cancel",
        ),
        ResolveRefusal::AnotherPaymentAccepted { tid } => ApiError::conflict(
            "another_payment_accepted",
            format!(
                "the order is already paid by TID {tid}; accepting a second payment would lose one of them: \
                 resolve with `cancel` to have the payment under review cancelled"
            ),
        )
        .with("tid", tid),
        ResolveRefusal::PaymentCounted => ApiError::conflict(
            "review_payment_counted",
            "the payment under review is the one the order already counts: `accept` it, then cancel through \
             POST /v1/orders/{order_id}/cancel",
        ),
        ResolveRefusal::ReturnedExceedsPayment { returned, amount } => ApiError::conflict(
            "returned_exceeds_payment",
            format!(
                "{returned} KRW of the order went back to the buyer already, more than the {amount} KRW of the \
                 payment under review"
            ),
        ),
        ResolveRefusal::VbankRefundByMerchant => ApiError::conflict(
            "vbank_not_cancellable",
            "virtual-account (VBANK) payments cannot be cancelled through Smartro: accept the payment, then \
             refund the buyer by bank transfer yourself and record it (POST /v1/orders/{order_id}/refunds)",
        ),
        ResolveRefusal::Cancel(open) => cancel_refusal(open),
        ResolveRefusal::PaymentDiffers {
            field,
            order,
            payment,
        } => ApiError::conflict(
            "review_payment_differs",
            format!(
                "the payment under review has {field} {payment}, the order {order}: it cannot become the order's \
                 payment; resolve with `cancel` to have it cancelled"
            ),
        )
        .with("field", field),
        ResolveRefusal::AlreadyCancelled => ApiError::conflict(
            "review_payment_already_cancelled",
            "Smartro has already cancelled the whole payment under review: resolve with `accept` to record it as \
             paid and cancelled",
        ),
    }
}

impl Services {
    /// Resolves a review once per Idempotency-Key; 200 with the order. `resolved_by` is the API key's id.
    #[tracing::instrument(name = "resolve_order", skip_all, fields(%order_id, action = action.as_str()))]
    pub async fn resolve_order(
        &self,
        keyed: Keyed<'_>,
        order_id: &str,
        action: ResolveAction,
        reason: &str,
        resolved_by: &str,
    ) -> Result<Answer, ApiError> {
        self.once(keyed, || async {
            // A `cancel` sends the reason to Smartro as CancelMSG, so one rule holds for both actions.
            let reason = check_reason(reason)?;
            let by = Resolver {
                id: Uuid::new_v4(),
                reason: &reason,
                resolved_by,
            };
            let unknown = || ApiError::not_found(format!("no order {order_id}"));
            match action {
                ResolveAction::Accept => {
                    let render = self.render();
                    match self
                        .store
                        .accept_review(order_id, &by, &render, self.clock.now())
                        .await?
                    {
                        AcceptReview::Accepted(record) => {
                            tracing::info!(tid = ?record.order.tid, amount = record.order.amount, "review accepted");
                            Ok((StatusCode::OK, json!(self.view(&record))))
                        }
                        AcceptReview::Refused(r) => Err(refusal(r)),
                        AcceptReview::UnknownOrder => Err(unknown()),
                    }
                }
                ResolveAction::Cancel => {
                    let (plan, mid) = match self
                        .store
                        .begin_review_cancel(order_id, &by, Uuid::new_v4(), self.clock.now())
                        .await?
                    {
                        BeginReviewCancel::Planned { plan, mid } => (plan, mid),
                        BeginReviewCancel::Refused(r) => return Err(refusal(r)),
                        BeginReviewCancel::UnknownOrder => return Err(unknown()),
                    };
                    self.send_cancel(order_id, &mid, &plan, &reason).await
                }
            }
        })
        .await
    }
}
