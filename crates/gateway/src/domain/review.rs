//! An operator's resolution of an order under review (`needs_review`): `accept` takes the payment that caused the
//! review as the order's payment, `cancel` has the provider cancel that payment. Either way the order leaves the
//! review only through these decisions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::cancel::{open_cancellation, window_open};
use super::{
    settled_status, CancelPlan, CancelRefusal, CancellationStatus, Decision, Effect, EventType,
    OrderState, OrderStatus, PayMethod,
};

/// What the operator decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ResolveAction {
    Accept,
    Cancel,
}

impl ResolveAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolveAction::Accept => "accept",
            ResolveAction::Cancel => "cancel",
        }
    }
}

/// What came of a resolution. A `cancel` follows the cancellation it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ResolutionOutcome {
    /// The payment is now the order's.
    Accepted,
    /// The cancel is recorded and being sent to the provider.
    Requested,
    /// The provider cancelled the payment.
    Cancelled,
    /// The provider refused the cancel: the order is still under review.
    Refused,
    /// The provider did not answer: settled later, like any cancel whose answer never came.
    Unknown,
}

impl ResolutionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            ResolutionOutcome::Accepted => "accepted",
            ResolutionOutcome::Requested => "requested",
            ResolutionOutcome::Cancelled => "cancelled",
            ResolutionOutcome::Refused => "refused",
            ResolutionOutcome::Unknown => "unknown",
        }
    }

    /// The outcome of a `cancel` resolution whose cancellation is now `status`.
    pub fn of_cancellation(status: CancellationStatus) -> ResolutionOutcome {
        match status {
            CancellationStatus::Requested => ResolutionOutcome::Requested,
            CancellationStatus::Succeeded => ResolutionOutcome::Cancelled,
            CancellationStatus::Failed => ResolutionOutcome::Refused,
            CancellationStatus::Unknown => ResolutionOutcome::Unknown,
        }
    }
}

/// A payment recorded on the order, as far as a resolution needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedPayment {
    pub tid: String,
    pub mid: String,
    pub amount: i64,
    /// `None`: the provider named a method the gateway does not know.
    pub pay_method: Option<PayMethod>,
    /// Whether the provider reported it successful (an approval or deposit: money moved).
    pub success: bool,
    /// When the provider says it was approved: cancel windows count from it.
    pub approved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResolveRefusal {
    NotUnderReview {
        status: OrderStatus,
    },
    /// The review names no payment recorded on this order (e.g. a cancel notice of a payment the gateway never
    /// saw): there is nothing to accept or cancel.
    NoReviewedPayment,
    /// The order already counts another payment: accepting a second would lose track of one of them.
    AnotherPaymentAccepted {
        tid: String,
    },
    /// The payment under review is the one the order counts: cancel it through the ordinary cancel once the review
    /// is accepted.
    PaymentCounted,
    /// More went back to the buyer than the payment brought in.
    ReturnedExceedsPayment {
        returned: i64,
        amount: i64,
    },
    /// Smartro cannot cancel virtual-account payments: the merchant refunds the buyer itself.
    VbankRefundByMerchant,
    /// A cancel rule refuses it: a cancellation of the order is on its way to the provider or its outcome is
    /// open, or the payment's cancel window has closed.
    Cancel(CancelRefusal),
    /// The payment under review was made under another merchant or with another pay method than the order's:
    /// taking it as the order's would have later cancels signed for the wrong merchant or checked by the wrong
    /// rules. It can be cancelled instead.
    PaymentDiffers {
        field: &'static str,
        order: String,
        payment: String,
    },
    /// The provider has already cancelled the whole payment under review: `accept` records it as paid and
    /// cancelled, which settles the review.
    AlreadyCancelled,
}

/// An accepted review: the order as it now is, with the payment and the order's amount before.
#[derive(Debug, Clone, PartialEq)]
pub struct Acceptance {
    pub decision: Decision,
    pub tid: String,
    pub former_amount: i64,
}

/// The provider cancel a `cancel` resolution sends, and the merchant whose payment it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviewCancel {
    pub plan: CancelPlan,
    pub mid: String,
}

/// The payment under review, if the order is under review for one the gateway recorded, and nothing is open.
fn reviewed<'a>(
    order: &OrderState,
    payments: &'a [RecordedPayment],
) -> Result<&'a RecordedPayment, ResolveRefusal> {
    if order.status != OrderStatus::NeedsReview {
        return Err(ResolveRefusal::NotUnderReview {
            status: order.status,
        });
    }
    // A cancel still open may yet succeed and change what the order is: decide once it is settled.
    if let Some(open) = open_cancellation(order) {
        return Err(ResolveRefusal::Cancel(open));
    }
    let tid = order
        .review_tid
        .as_deref()
        .ok_or(ResolveRefusal::NoReviewedPayment)?;
    payments
        .iter()
        .find(|p| p.tid == tid && p.amount > 0)
        .ok_or(ResolveRefusal::NoReviewedPayment)
}

/// `accept`: the payment under review becomes the order's payment for what the provider took. When that differs
/// from the order's amount, the amount becomes what was taken (`former_amount` keeps the one before).
pub fn accept_review(
    order: &OrderState,
    payments: &[RecordedPayment],
    now: DateTime<Utc>,
) -> Result<Acceptance, ResolveRefusal> {
    let payment = reviewed(order, payments)?;
    let own = order.counts_payment(&payment.tid);
    if order.paid_amount > 0 && !own {
        return Err(ResolveRefusal::AnotherPaymentAccepted {
            tid: order.tid.clone().unwrap_or_default(),
        });
    }
    if !own {
        if payment.mid != order.mid {
            return Err(ResolveRefusal::PaymentDiffers {
                field: "mid",
                order: order.mid.clone(),
                payment: payment.mid.clone(),
            });
        }
        if payment.pay_method != Some(order.pay_method) {
            return Err(ResolveRefusal::PaymentDiffers {
                field: "pay_method",
                order: order.pay_method.as_str().to_string(),
                payment: payment
                    .pay_method
                    .map_or("(unknown)", PayMethod::as_str)
                    .to_string(),
            });
        }
    }
    // What the provider already cancelled of this payment without the order counting it (a cancel notice
    // during the review): accepting the payment counts that too, or the money could go back twice.
    let cancelled_uncounted = order.uncounted_cancelled(&payment.tid);
    let returned = order.returned() + cancelled_uncounted;
    if payment.amount < returned {
        return Err(ResolveRefusal::ReturnedExceedsPayment {
            returned,
            amount: payment.amount,
        });
    }
    let mut next = order.clone();
    next.tid = Some(payment.tid.clone());
    next.amount = payment.amount;
    next.paid_amount = payment.amount;
    next.cancelled_amount += cancelled_uncounted;
    // A review raised by a cancel notice of the order's own payment keeps the time it was paid.
    if !own || next.paid_at.is_none() {
        next.paid_at = Some(now);
    }
    next.status = settled_status(&next);
    next.review_reason = None;
    next.review_tid = None;
    let mut effects = vec![Effect::Emit(EventType::PaymentResolved)];
    hand_over_review(&mut next, &mut effects);
    Ok(Acceptance {
        decision: Decision {
            order: next,
            effects,
        },
        tid: payment.tid.clone(),
        former_amount: order.amount,
    })
}

/// `cancel`: a cancel of what is left of the payment under review (all of it, unless the provider already
/// cancelled part). Recorded like any cancel before the provider is called (see [`super::begin_cancel`]); its
/// success settles the review ([`settle_reviewed_cancel`]). The payment's cancel window is checked first.
pub fn plan_review_cancel(
    order: &OrderState,
    payments: &[RecordedPayment],
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<ReviewCancel, ResolveRefusal> {
    let payment = reviewed(order, payments)?;
    if order.counts_payment(&payment.tid) {
        return Err(ResolveRefusal::PaymentCounted);
    }
    if payment.pay_method == Some(PayMethod::Vbank) {
        return Err(ResolveRefusal::VbankRefundByMerchant);
    }
    if let (Some(method), Some(approved_at)) = (payment.pay_method, payment.approved_at) {
        window_open(method, approved_at, now).map_err(|window| {
            ResolveRefusal::Cancel(CancelRefusal::WindowClosed { method, window })
        })?;
    }
    let already = order.uncounted_cancelled(&payment.tid);
    let amount = payment.amount - already;
    if amount <= 0 {
        return Err(ResolveRefusal::AlreadyCancelled);
    }
    Ok(ReviewCancel {
        plan: CancelPlan {
            id,
            tid: payment.tid.clone(),
            amount,
            partial: already > 0,
            split: Vec::new(),
            // A second payment of a split order came from the same checkout form, so it was split too.
            split_payment: !order.split.is_empty(),
        },
        mid: payment.mid.clone(),
    })
}

/// Whether a cancellation of `tid` is the operator's cancel of the payment under review (not counted by the
/// order, so its success takes nothing from the order's money).
pub(super) fn is_reviewed_payment(order: &OrderState, tid: &str) -> bool {
    order.status == OrderStatus::NeedsReview
        && order.review_tid.as_deref() == Some(tid)
        && !order.counts_payment(tid)
}

/// The payment under review is cancelled at the provider: the order goes back to what its own accepted payment
/// says (paid or partly cancelled), or, having none, is cancelled.
pub(super) fn settle_reviewed_cancel(order: &mut OrderState, effects: &mut Vec<Effect>) {
    order.status = if order.paid_amount > 0 {
        settled_status(order)
    } else {
        OrderStatus::Cancelled
    };
    order.review_reason = None;
    order.review_tid = None;
    effects.push(Effect::Emit(EventType::PaymentResolved));
    hand_over_review(order, effects);
}

/// After one payment under review is settled, the next one that took money and is neither the order's nor
/// cancelled (one that arrived during the review) is put under review in its turn, so that no payment is left
/// behind when the order leaves the review.
fn hand_over_review(order: &mut OrderState, effects: &mut Vec<Effect>) {
    let next = order.payments.iter().find(|p| {
        p.success
            && !order.counts_payment(&p.tid)
            && p.amount - order.uncounted_cancelled(&p.tid) > 0
    });
    if let Some(p) = next {
        let (tid, amount) = (p.tid.clone(), p.amount);
        order.status = OrderStatus::NeedsReview;
        order.review_reason = Some(format!(
            "another successful payment (TID {tid}, {amount} KRW) is neither the order's nor cancelled: accept or \
             cancel it too"
        ));
        order.review_tid = Some(tid);
        effects.push(Effect::Emit(EventType::PaymentNeedsReview));
    }
}
