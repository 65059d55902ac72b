//! Refunds the merchant makes itself, outside the provider: a virtual account's money goes back to the buyer by
//! the merchant's own bank transfer (Smartro cannot cancel it), and any paid order may be settled that way.

use super::{
    cancelled_status, CancellationStatus, Decision, Effect, EventType, OrderState, OrderStatus,
};

#[derive(Debug, Clone, PartialEq)]
pub enum RefundRefusal {
    /// Only paid (or partly cancelled) orders have money to refund.
    NotRefundable {
        status: OrderStatus,
    },
    InvalidAmount,
    ExceedsRemaining {
        requested: i64,
        remaining: i64,
    },
}

/// Decides whether a refund of `amount` the merchant made can be recorded on the order, and what the order
/// becomes: its refunded sum grows, and it is partly or wholly cancelled by what went back in all.
pub fn record_refund(order: &OrderState, amount: i64) -> Result<Decision, RefundRefusal> {
    if !matches!(
        order.status,
        OrderStatus::Paid | OrderStatus::PartiallyCancelled
    ) {
        return Err(RefundRefusal::NotRefundable {
            status: order.status,
        });
    }
    if amount <= 0 {
        return Err(RefundRefusal::InvalidAmount);
    }
    // A cancel of the order's payment still waiting for the provider's answer may yet return its amount: that
    // much is not left to refund, or both could go back and together exceed what was paid.
    let reserved: i64 = order
        .cancellations
        .iter()
        .filter(|c| {
            matches!(
                c.status,
                CancellationStatus::Requested | CancellationStatus::Unknown
            ) && order.tid.as_deref() == Some(c.tid.as_str())
        })
        .map(|c| c.amount)
        .sum();
    let remaining = (order.remaining() - reserved).max(0);
    if amount > remaining {
        return Err(RefundRefusal::ExceedsRemaining {
            requested: amount,
            remaining,
        });
    }
    let mut next = order.clone();
    next.refunded_amount += amount;
    next.status = cancelled_status(&next);
    Ok(Decision {
        order: next,
        effects: vec![Effect::Emit(EventType::PaymentRefunded)],
    })
}
