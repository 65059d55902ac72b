//! Cancellations asked through the API: what may be sent to Smartro, and what its answer means.

use super::{
    cancelled_status, review, CancellationOrigin, CancellationState, CancellationStatus, Decision,
    Effect, EventType, OrderState, OrderStatus, PayMethod,
};
use uuid::Uuid;

/// What to send to Smartro for one cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelPlan {
    pub id: Uuid,
    /// The original TID.
    pub tid: String,
    pub amount: i64,
    /// PartialCancelCode 1. A full cancel (0) is only the whole original amount in one go.
    pub partial: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum CancelRefusal {
    /// Only paid (or partly cancelled) orders can be cancelled.
    NotCancellable {
        status: OrderStatus,
    },
    /// Smartro cannot cancel virtual-account payments: the merchant refunds the buyer itself.
    VbankRefundByMerchant,
    /// An earlier cancellation is being sent to Smartro now (`requested`): its answer is still to come.
    InProgress {
        id: Uuid,
    },
    /// An earlier cancellation got no answer (`unknown`): nothing else is sent until it is reconciled.
    OutcomeOpen {
        id: Uuid,
    },
    NothingLeft,
    InvalidAmount,
    ExceedsRemaining {
        requested: i64,
        remaining: i64,
    },
}

/// Decides whether (and how) an order may be cancelled, before anything reaches Smartro.
pub fn plan_cancel(
    order: &OrderState,
    amount: Option<i64>,
    id: Uuid,
) -> Result<CancelPlan, CancelRefusal> {
    if !matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::PartiallyCancelled
    ) {
        return Err(CancelRefusal::NotCancellable {
            status: order.status,
        });
    }
    if order.pay_method == PayMethod::Vbank {
        return Err(CancelRefusal::VbankRefundByMerchant);
    }
    if let Some(refusal) = open_cancellation(order) {
        return Err(refusal);
    }
    // What the merchant refunded itself is gone too: Smartro must not send it back a second time.
    let remaining = order.remaining();
    if remaining <= 0 {
        return Err(CancelRefusal::NothingLeft);
    }
    let amount = amount.unwrap_or(remaining);
    if amount <= 0 {
        return Err(CancelRefusal::InvalidAmount);
    }
    if amount > remaining {
        return Err(CancelRefusal::ExceedsRemaining {
            requested: amount,
            remaining,
        });
    }
    let tid = order.tid.clone().ok_or(CancelRefusal::NotCancellable {
        status: order.status,
    })?;
    Ok(CancelPlan {
        id,
        tid,
        amount,
        partial: !(order.returned() == 0 && amount == order.paid_amount),
    })
}

/// A cancellation of the order whose outcome is still open, as the refusal to send another: either way Smartro
/// may yet cancel that one, so a second cancel could exceed what is left.
pub(super) fn open_cancellation(order: &OrderState) -> Option<CancelRefusal> {
    let open = order.cancellations.iter().find(|c| {
        matches!(
            c.status,
            CancellationStatus::Requested | CancellationStatus::Unknown
        )
    })?;
    Some(match open.status {
        CancellationStatus::Requested => CancelRefusal::InProgress { id: open.id },
        _ => CancelRefusal::OutcomeOpen { id: open.id },
    })
}

/// Records a planned cancellation on the order (status `requested`).
pub fn begin_cancel(order: &OrderState, plan: &CancelPlan) -> OrderState {
    let mut next = order.clone();
    next.cancellations.push(CancellationState {
        id: plan.id,
        tid: plan.tid.clone(),
        amount: plan.amount,
        status: CancellationStatus::Requested,
        origin: CancellationOrigin::Api,
        ptid: None,
        notified: false,
    });
    next
}

/// The provider's own words on a cancel, kept on the cancellation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CancelReply {
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub cancel_num: Option<String>,
}

/// What came of the call to the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelAnswer {
    Succeeded {
        ptid: Option<String>,
    },
    Refused,
    /// No answer, or one that could not be read: Smartro may or may not have cancelled.
    Unknown,
}

/// Applies Smartro's answer to a requested cancellation.
pub fn complete_cancel(order: &OrderState, id: Uuid, answer: &CancelAnswer) -> Decision {
    let mut next = order.clone();
    let mut effects = Vec::new();
    let Some(c) = next.cancellations.iter_mut().find(|c| c.id == id) else {
        return Decision {
            order: next,
            effects,
        };
    };
    match answer {
        CancelAnswer::Succeeded { ptid } => {
            if c.ptid.is_none() {
                c.ptid = ptid.clone();
            }
            // Smartro's notification of this cancel may have been applied first; it is counted once.
            if c.status != CancellationStatus::Succeeded {
                c.status = CancellationStatus::Succeeded;
                let amount = c.amount;
                let tid = c.tid.clone();
                if review::is_reviewed_payment(&next, &tid) {
                    // The operator's cancel of the payment under review: its money was never counted, so
                    // nothing is taken from the order; the order goes back to what its own payment says.
                    review::settle_reviewed_cancel(&mut next, &mut effects);
                } else if next.returned() + amount <= next.paid_amount {
                    next.cancelled_amount += amount;
                    // An order put under review while this cancel was on its way stays there: the money is
                    // counted, and the person who settles the review sees it.
                    if next.status != OrderStatus::NeedsReview {
                        next.status = cancelled_status(&next);
                    }
                    effects.push(Effect::Emit(EventType::PaymentCancelled));
                } else {
                    next.status = OrderStatus::NeedsReview;
                    next.review_reason =
                        Some("a confirmed cancellation exceeds what was paid".to_string());
                    next.review_tid = Some(tid);
                    effects.push(Effect::Emit(EventType::PaymentNeedsReview));
                }
            }
        }
        CancelAnswer::Refused => {
            if c.status != CancellationStatus::Succeeded {
                c.status = CancellationStatus::Failed;
            }
        }
        CancelAnswer::Unknown => {
            if c.status == CancellationStatus::Requested {
                c.status = CancellationStatus::Unknown;
            }
        }
    }
    Decision {
        order: next,
        effects,
    }
}
