//! The order state machine: pure functions from (order, verified event) to (order, effects).
//!
//! Nothing here touches the database or the network, nor speaks a provider's wire format: a provider adapter
//! (`crate::providers`) turns its messages into [`VerifiedResult`]s of gateway-owned types, the store loads an
//! [`OrderState`] under a row lock, [`apply_result`] decides what follows, and the store writes the returned order
//! and effects in the same transaction. Ids and time come in as arguments.

mod cancel;
mod method;
pub mod options;
mod refund;
mod result;
mod review;
mod status;
pub mod terminal;

#[cfg(test)]
mod refund_review_tests;
#[cfg(test)]
mod tests;

pub use cancel::{
    begin_cancel, complete_cancel, plan_cancel, CancelAnswer, CancelPlan, CancelRefusal,
    CancelReply,
};
pub use method::{
    auth_date_instant, default_vbank_deadline, korean_date, vbank_deadline, PayMethod,
};
pub use options::{OrderOptions, SplitShare};
pub use refund::{record_refund, RefundRefusal};
pub use result::{
    CardDetails, CashReceipt, CashReceiptKind, Confirmed, ConfirmedBy, MessageLabels, Outcome,
    PaymentDetails, ResultKind, ResultSource, VbankDetails, VerifiedResult,
};
pub use review::{
    accept_review, plan_review_cancel, Acceptance, RecordedPayment, ResolutionOutcome,
    ResolveAction, ResolveRefusal, ReviewCancel,
};
pub use status::{CancellationOrigin, CancellationStatus, Channel, EventType, OrderStatus};
pub use terminal::{
    apply_terminal_event, TerminalApproval, TerminalDecision, TerminalEffect, TerminalEvent,
    TerminalReply, TerminalTx, TerminalTxKind, TerminalTxStatus,
};

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// What the state machine knows of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderState {
    pub order_id: String,
    pub mid: String,
    pub amount: i64,
    pub pay_method: PayMethod,
    pub status: OrderStatus,
    pub paid_amount: i64,
    /// Cancelled through the provider.
    pub cancelled_amount: i64,
    /// Paid back by the merchant itself (a bank transfer), outside the provider.
    pub refunded_amount: i64,
    pub tid: Option<String>,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub review_reason: Option<String>,
    /// The payment that made the order `needs_review` (its TID, or the TID a cancel notice named).
    pub review_tid: Option<String>,
    pub paid_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    /// The end of the VbankExpDate asked of Smartro: an issued virtual account's order expires then.
    pub vbank_deadline: Option<DateTime<Utc>>,
    pub cancellations: Vec<CancellationState>,
    /// The sub-mall shares of a split payment (empty: not split).
    pub split: Vec<SplitShare>,
    /// When the paying result says it was approved (its AuthDate, Korean time): cancel windows count from it.
    pub approved_at: Option<DateTime<Utc>>,
    /// The cash receipt issued for the payment, once one is known.
    pub cash_receipt: Option<CashReceipt>,
    /// Every payment recorded on the order (the counted one, those under review, failed attempts): a review is
    /// not left while one that took money is neither counted nor cancelled.
    pub payments: Vec<RecordedPayment>,
}

impl OrderState {
    /// What has gone back to the buyer, whichever way: cancelled through the provider or refunded by the merchant.
    pub fn returned(&self) -> i64 {
        self.cancelled_amount + self.refunded_amount
    }

    /// What can still be cancelled or refunded.
    pub fn remaining(&self) -> i64 {
        self.paid_amount - self.returned()
    }

    /// Whether `tid` is the payment whose money the order counts (its `paid_amount`). A payment under review is
    /// not: its money was never counted, so cancelling it takes nothing from the order.
    pub fn counts_payment(&self, tid: &str) -> bool {
        self.paid_amount > 0 && self.tid.as_deref() == Some(tid)
    }

    /// What the provider confirmed cancelled of payment `tid` that the order does not count: all of it for a
    /// payment the order does not count, and for the counted one what went beyond the counted sum.
    pub fn uncounted_cancelled(&self, tid: &str) -> i64 {
        let succeeded: i64 = self
            .cancellations
            .iter()
            .filter(|c| c.tid == tid && c.status == CancellationStatus::Succeeded)
            .map(|c| c.amount)
            .sum();
        if self.counts_payment(tid) {
            (succeeded - self.cancelled_amount).max(0)
        } else {
            succeeded
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CancellationState {
    pub id: Uuid,
    /// The original TID it cancels.
    pub tid: String,
    pub amount: i64,
    pub status: CancellationStatus,
    pub origin: CancellationOrigin,
    pub ptid: Option<String>,
    pub notified: bool,
    /// The sub-mall shares it takes back (partial cancels of split payments).
    pub split: Vec<SplitShare>,
}

/// A payment row to insert, or to update when its TID is already recorded (vbank issue, then deposit).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentRecord {
    pub tid: String,
    pub mid: String,
    pub pay_method: Option<PayMethod>,
    pub amount: i64,
    pub result_code: String,
    pub result_message: String,
    pub success: bool,
    pub auth_code: Option<String>,
    pub auth_date: Option<String>,
    pub source: ResultSource,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    RecordPayment(PaymentRecord),
    /// Remember card or vbank details shown on the order.
    RecordDetails(PaymentDetails),
    /// Smartro notified a cancellation that we had asked for: it is now known to have succeeded.
    ConfirmCancellation {
        id: Uuid,
        ptid: Option<String>,
        newly_succeeded: bool,
    },
    /// Smartro notified a cancellation that nobody asked us for (e.g. made in Smartro's merchant admin).
    RecordSmartroCancellation {
        id: Uuid,
        tid: String,
        ptid: Option<String>,
        amount: i64,
        partial: bool,
        counted: bool,
        result_code: String,
        result_message: String,
    },
    Emit(EventType),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub order: OrderState,
    pub effects: Vec<Effect>,
}

impl Decision {
    fn unchanged(order: &OrderState) -> Self {
        Decision {
            order: order.clone(),
            effects: Vec::new(),
        }
    }

    /// The webhook events this decision emits.
    pub fn events(&self) -> Vec<EventType> {
        self.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Emit(t) => Some(*t),
                _ => None,
            })
            .collect()
    }

    pub fn changed(&self, before: &OrderState) -> bool {
        &self.order != before || !self.effects.is_empty()
    }
}

/// Decides what a verified Smartro result means for the order.
///
/// Money rules: an order is `paid` only for a successful result whose amount and MID equal the order's; anything
/// else with a valid signature that disagrees is kept and flagged `needs_review`, never shown as paid; the
/// cancelled sum never exceeds the paid sum.
///
/// `new_id` names the cancellation recorded when the result is a cancel nobody asked the gateway for.
pub fn apply_result(
    order: &OrderState,
    result: &VerifiedResult,
    now: DateTime<Utc>,
    new_id: Uuid,
) -> Decision {
    match result.kind {
        ResultKind::Approval => apply_approval(order, result, now),
        ResultKind::VbankIssued => apply_vbank_issued(order, result, now),
        ResultKind::VbankDeposit => apply_approval(order, result, now),
        ResultKind::Cancel => apply_cancel(order, result, new_id),
        ResultKind::CashReceipt => apply_cash_receipt(order, result),
        ResultKind::Other => Decision::unchanged(order),
    }
}

fn payment_record(result: &VerifiedResult) -> PaymentRecord {
    PaymentRecord {
        tid: result.tid.clone(),
        mid: result.mid.clone(),
        pay_method: result.pay_method,
        amount: result.amount,
        result_code: result.result_code.clone(),
        result_message: result.result_message.clone(),
        success: result.is_success(),
        auth_code: result.auth_code.clone(),
        auth_date: result.auth_date.clone(),
        source: result.source,
    }
}

/// Why a successful result cannot simply be accepted for this order, if it cannot.
fn disagreement(order: &OrderState, result: &VerifiedResult) -> Option<String> {
    if result.pay_method != Some(order.pay_method) {
        return Some(format!(
            "result pay method {} differs from the order's {}",
            result.pay_method.map_or("(unknown)", PayMethod::as_str),
            order.pay_method.as_str()
        ));
    }
    if result.mid != order.mid {
        return Some(format!(
            "result MID {} differs from the order's MID {}",
            result.mid, order.mid
        ));
    }
    if result.amount != order.amount {
        return Some(format!(
            "result amount {} differs from the order amount {}",
            result.amount, order.amount
        ));
    }
    None
}

fn flag_for_review(order: &OrderState, result: &VerifiedResult, reason: String) -> Decision {
    let mut next = order.clone();
    let mut effects = vec![Effect::RecordPayment(payment_record(result))];
    if next.status != OrderStatus::NeedsReview {
        next.status = OrderStatus::NeedsReview;
        next.review_reason = Some(reason);
        // The operator's resolution acts on this payment: accepts it, or has it cancelled.
        next.review_tid = Some(result.tid.clone());
        effects.push(Effect::Emit(EventType::PaymentNeedsReview));
    }
    next.result_code = Some(result.result_code.clone());
    next.result_message = Some(result.result_message.clone());
    Decision {
        order: next,
        effects,
    }
}

/// The result moves the order to `status` under its TID, recording the payment and its details.
fn accept(
    order: &OrderState,
    result: &VerifiedResult,
    status: OrderStatus,
    event: EventType,
) -> Decision {
    let mut next = order.clone();
    next.status = status;
    next.tid = Some(result.tid.clone());
    next.result_code = Some(result.result_code.clone());
    next.result_message = Some(result.result_message.clone());
    let mut effects = vec![Effect::RecordPayment(payment_record(result))];
    if !result.details.is_empty() {
        effects.push(Effect::RecordDetails(result.details.clone()));
    }
    effects.push(Effect::Emit(event));
    // The shop hears of a cash receipt once, whichever message of the provider brings it first.
    if let Some(receipt) = &result.details.cash_receipt {
        if next.cash_receipt.as_ref() != Some(receipt) {
            next.cash_receipt = Some(receipt.clone());
            effects.push(Effect::Emit(EventType::CashReceiptIssued));
        }
    }
    Decision {
        order: next,
        effects,
    }
}

fn record_only(order: &OrderState, result: &VerifiedResult) -> Decision {
    Decision {
        order: order.clone(),
        effects: vec![Effect::RecordPayment(payment_record(result))],
    }
}

fn record_failure(order: &OrderState, result: &VerifiedResult) -> Decision {
    let mut next = order.clone();
    let mut effects = vec![Effect::RecordPayment(payment_record(result))];
    // A failed attempt leaves the order payable; the buyer may try again. Only a still-open order reports it,
    // so that a stray failure can never make a paid order look failed.
    if order.status == OrderStatus::Pending {
        next.result_code = Some(result.result_code.clone());
        next.result_message = Some(result.result_message.clone());
        effects.push(Effect::Emit(EventType::PaymentFailed));
    }
    Decision {
        order: next,
        effects,
    }
}

/// Card, bank transfer, phone, easy-pay approvals and the vbank deposit (4110): money is in.
fn apply_approval(order: &OrderState, result: &VerifiedResult, now: DateTime<Utc>) -> Decision {
    let same_tid = order.tid.as_deref() == Some(result.tid.as_str());
    if result.is_known_failure() {
        return record_failure(order, result);
    }
    if !result.is_success() {
        // Neither success nor failure in Smartro's tables (CLGIFT has no documented success code): the money may
        // have moved, so a person decides; it is never silently taken as a failure.
        return match order.status {
            OrderStatus::Paid | OrderStatus::PartiallyCancelled | OrderStatus::Cancelled
                if same_tid =>
            {
                Decision::unchanged(order)
            }
            OrderStatus::NeedsReview => record_only(order, result),
            _ => flag_for_review(
                order,
                result,
                format!(
                    "result code {} is not known as success or failure for {}",
                    result.result_code,
                    result
                        .pay_method
                        .map_or("an unknown pay method", PayMethod::as_str)
                ),
            ),
        };
    }
    match order.status {
        OrderStatus::Paid | OrderStatus::PartiallyCancelled | OrderStatus::Cancelled
            if same_tid =>
        {
            // Already applied through the other channel or an earlier delivery.
            Decision::unchanged(order)
        }
        // Under review, results are kept for the person who settles it, and change nothing else.
        OrderStatus::NeedsReview => record_only(order, result),
        _ => {
            if let Some(reason) = disagreement(order, result) {
                return flag_for_review(order, result, reason);
            }
            let open = matches!(order.status, OrderStatus::Pending | OrderStatus::Expired)
                || (order.status == OrderStatus::AwaitingDeposit
                    && result.kind == ResultKind::VbankDeposit
                    && (same_tid || order.tid.is_none()));
            if !open {
                let reason = format!(
                    "a second successful payment (TID {}) for an order already {} with TID {}: refund one of them",
                    result.tid,
                    order.status.as_str(),
                    order.tid.as_deref().unwrap_or("-")
                );
                return flag_for_review(order, result, reason);
            }
            // An approval after our own expiry still marks the order paid: the buyer's money moved, and hiding
            // it would lose a payment. The shop learns of it through payment.paid like any other.
            let mut decision = accept(order, result, OrderStatus::Paid, EventType::PaymentPaid);
            decision.order.paid_amount = result.amount;
            decision.order.paid_at = Some(now);
            decision
        }
    }
}

fn apply_vbank_issued(
    order: &OrderState,
    result: &VerifiedResult,
    _now: DateTime<Utc>,
) -> Decision {
    if !result.is_success() {
        return record_failure(order, result);
    }
    let same_tid = order.tid.as_deref() == Some(result.tid.as_str());
    // An issued account moves no money: one that does not fit the order (another amount, method or MID, or an
    // order no longer open) changes nothing until money is paid into it, and the deposit is then reviewed. So a
    // free vbank issue carrying someone else's Moid cannot disturb their order.
    let fits = disagreement(order, result).is_none();
    match order.status {
        OrderStatus::AwaitingDeposit if same_tid => Decision::unchanged(order),
        OrderStatus::Paid | OrderStatus::PartiallyCancelled | OrderStatus::Cancelled
            if same_tid =>
        {
            // The deposit was notified before the issue: only the account details are new.
            let mut decision = Decision::unchanged(order);
            if !result.details.is_empty() {
                decision
                    .effects
                    .push(Effect::RecordDetails(result.details.clone()));
            }
            decision
        }
        // Under review, results are kept for the person who settles it, and change nothing else.
        OrderStatus::NeedsReview if fits => record_only(order, result),
        OrderStatus::Pending | OrderStatus::Expired if fits => {
            let mut decision = accept(
                order,
                result,
                OrderStatus::AwaitingDeposit,
                EventType::PaymentAwaitingDeposit,
            );
            if let Some(deadline) = order.vbank_deadline {
                decision.order.expires_at = deadline;
            }
            decision
        }
        _ => Decision::unchanged(order),
    }
}

/// A cancellation notified by the provider. TID is the PTID of a partial cancel, OTID the original.
fn apply_cancel(order: &OrderState, result: &VerifiedResult, new_id: Uuid) -> Decision {
    if !result.is_success() {
        // A refused cancel changes nothing: the money stays paid.
        return Decision::unchanged(order);
    }
    let original_tid = result
        .original_tid
        .clone()
        .filter(|otid| !otid.is_empty())
        .unwrap_or_else(|| result.tid.clone());
    let ptid = (result.tid != original_tid).then(|| result.tid.clone());

    // The payment whose money the order counts, also while the order is under review for another one: a cancel
    // of it Smartro confirms then is money gone back, and must be counted before anyone resolves the review.
    let paid_by_this_tid = order.counts_payment(&original_tid);

    // The notification of a cancellation we asked for: match it, never add it a second time.
    if let Some(matched) = match_cancellation(order, &original_tid, ptid.as_deref(), result.amount)
    {
        let mut next = order.clone();
        let newly_succeeded = matched.status != CancellationStatus::Succeeded;
        let mut effects = vec![Effect::ConfirmCancellation {
            id: matched.id,
            ptid: ptid.clone().or_else(|| matched.ptid.clone()),
            newly_succeeded,
        }];
        if let Some(c) = next.cancellations.iter_mut().find(|c| c.id == matched.id) {
            c.notified = true;
            c.status = CancellationStatus::Succeeded;
            if c.ptid.is_none() {
                c.ptid = ptid.clone();
            }
        }
        if newly_succeeded {
            if paid_by_this_tid && next.returned() + result.amount <= next.paid_amount {
                next.cancelled_amount += result.amount;
                next.status = status_after_cancel(&next);
                effects.push(Effect::Emit(EventType::PaymentCancelled));
            } else if review::is_reviewed_payment(&next, &original_tid) {
                // The operator's cancel of the payment under review, notified before its answer came back.
                review::settle_reviewed_cancel(&mut next, &mut effects);
            } else {
                return review_cancel(
                    order,
                    result,
                    &original_tid,
                    effects,
                    "a confirmed cancellation exceeds what was paid",
                );
            }
        }
        return Decision {
            order: next,
            effects,
        };
    }

    // A TID is cancelled whole at most once: a whole cancel of the paid TID notified again (another delivery,
    // or the same notice with its unsigned StateCd changed) is the one already counted.
    if ptid.is_none() && paid_by_this_tid && order.status == OrderStatus::Cancelled {
        return Decision::unchanged(order);
    }
    let id = new_id;
    let counted = paid_by_this_tid && order.returned() + result.amount <= order.paid_amount;
    let partial = ptid.is_some() || result.amount < order.paid_amount;
    let record = Effect::RecordSmartroCancellation {
        id,
        tid: original_tid.clone(),
        ptid: ptid.clone(),
        amount: result.amount,
        partial,
        counted,
        result_code: result.result_code.clone(),
        result_message: result.result_message.clone(),
    };
    if !counted {
        let why = if paid_by_this_tid {
            "Smartro notified cancellations exceeding the paid amount".to_string()
        } else {
            format!(
                "Smartro notified a cancellation of TID {original_tid}, which did not pay this order (status {})",
                order.status.as_str()
            )
        };
        return review_cancel(order, result, &original_tid, vec![record], &why);
    }
    let mut next = order.clone();
    next.cancelled_amount += result.amount;
    next.status = status_after_cancel(&next);
    next.cancellations.push(CancellationState {
        id,
        tid: original_tid,
        amount: result.amount,
        status: CancellationStatus::Succeeded,
        origin: CancellationOrigin::Smartro,
        ptid,
        notified: true,
        split: Vec::new(),
    });
    Decision {
        order: next,
        effects: vec![record, Effect::Emit(EventType::PaymentCancelled)],
    }
}

/// A cancel notice that cannot be counted: a person looks at the order. `tid` is the payment the notice cancels.
fn review_cancel(
    order: &OrderState,
    result: &VerifiedResult,
    tid: &str,
    mut effects: Vec<Effect>,
    reason: &str,
) -> Decision {
    let mut next = order.clone();
    if next.status != OrderStatus::NeedsReview {
        next.status = OrderStatus::NeedsReview;
        next.review_reason = Some(reason.to_string());
        next.review_tid = Some(tid.to_string());
        effects.push(Effect::Emit(EventType::PaymentNeedsReview));
    }
    next.result_code = Some(result.result_code.clone());
    next.result_message = Some(result.result_message.clone());
    Decision {
        order: next,
        effects,
    }
}

/// The status of a paid order by its money: paid while nothing went back, else partly or wholly cancelled.
fn settled_status(order: &OrderState) -> OrderStatus {
    if order.returned() == 0 {
        OrderStatus::Paid
    } else {
        cancelled_status(order)
    }
}

/// The status of an order after a counted cancel: an order under review stays there (the person who settles the
/// review sees the money that went back), any other is partly or wholly cancelled.
fn status_after_cancel(order: &OrderState) -> OrderStatus {
    if order.status == OrderStatus::NeedsReview {
        OrderStatus::NeedsReview
    } else {
        cancelled_status(order)
    }
}

/// The status of a paid order once some of its money went back: cancelled when nothing is left.
fn cancelled_status(order: &OrderState) -> OrderStatus {
    if order.returned() >= order.paid_amount {
        OrderStatus::Cancelled
    } else {
        OrderStatus::PartiallyCancelled
    }
}

/// The recorded cancellation a Smartro cancel notification confirms: by PTID when the notification carries one
/// we already know, else the oldest cancellation of that payment (`tid`, the original TID) and amount whose
/// notification has not arrived yet. The payment matters since an order under review may have two: a cancel of
/// one must never settle a cancellation of the other.
fn match_cancellation<'a>(
    order: &'a OrderState,
    tid: &str,
    ptid: Option<&str>,
    amount: i64,
) -> Option<&'a CancellationState> {
    if let Some(ptid) = ptid {
        if let Some(c) = order
            .cancellations
            .iter()
            .find(|c| c.ptid.as_deref() == Some(ptid))
        {
            return Some(c);
        }
    }
    order.cancellations.iter().find(|c| {
        !c.notified
            && c.tid == tid
            && c.amount == amount
            && c.origin == CancellationOrigin::Api
            && matches!(
                c.status,
                CancellationStatus::Requested
                    | CancellationStatus::Unknown
                    | CancellationStatus::Succeeded
            )
            && (c.ptid.is_none() || ptid.is_none() || c.ptid.as_deref() == ptid)
    })
}

/// Whether a Smartro cancel notification of `amount` would be counted beyond what Smartro lists: `listed` is how
/// many partial cancels of that amount its receipt record shows, and each notified cancellation of the order with
/// that amount already accounts for one of them. (A cancellation the gateway asked for and whose notification has
/// not come yet is the one this notification confirms, so it does not count here.)
pub fn cancel_beyond_listed(order: &OrderState, ptid: &str, amount: i64, listed: usize) -> bool {
    let counted = order
        .cancellations
        .iter()
        .filter(|c| {
            c.notified
                && c.amount == amount
                && c.status == CancellationStatus::Succeeded
                && c.ptid.as_deref() != Some(ptid)
        })
        .count();
    let already_this_one = order
        .cancellations
        .iter()
        .any(|c| c.ptid.as_deref() == Some(ptid));
    !already_this_one && counted >= listed
}

/// A cash receipt issued for the order's payment: kept on the order, told to the shop once. The provider may send
/// it before the payment's own result has arrived (the result is confirmed, so its TID is this order's payment):
/// it is kept then too, unless another TID paid the order.
fn apply_cash_receipt(order: &OrderState, result: &VerifiedResult) -> Decision {
    let of_this_payment = order.tid.as_deref().is_none_or(|tid| tid == result.tid);
    match &result.details.cash_receipt {
        Some(receipt)
            if result.is_success()
                && of_this_payment
                && order.cash_receipt.as_ref() != Some(receipt) =>
        {
            let mut next = order.clone();
            next.cash_receipt = Some(receipt.clone());
            Decision {
                order: next,
                effects: vec![
                    Effect::RecordDetails(PaymentDetails {
                        cash_receipt: Some(receipt.clone()),
                        ..PaymentDetails::default()
                    }),
                    Effect::Emit(EventType::CashReceiptIssued),
                ],
            }
        }
        // A refused receipt, one for a TID that did not pay this order, or one already known, changes nothing.
        _ => Decision::unchanged(order),
    }
}

/// Why an order cannot be sent to a payment window now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotPayable {
    Expired,
    AwaitingDeposit,
    Paid,
    Cancelled,
    NeedsReview,
}

/// Whether a buyer may pay `order` at `now`: only a pending order within its time.
pub fn payable(
    status: OrderStatus,
    expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), NotPayable> {
    match status {
        OrderStatus::Pending if now >= expires_at => Err(NotPayable::Expired),
        OrderStatus::Pending => Ok(()),
        OrderStatus::AwaitingDeposit => Err(NotPayable::AwaitingDeposit),
        OrderStatus::Paid => Err(NotPayable::Paid),
        OrderStatus::PartiallyCancelled | OrderStatus::Cancelled => Err(NotPayable::Cancelled),
        OrderStatus::Expired => Err(NotPayable::Expired),
        OrderStatus::NeedsReview => Err(NotPayable::NeedsReview),
    }
}

/// The outcome of a cancellation whose answer never came, from what the provider says it has cancelled of the
/// payment in all (`provider_cancelled`) and what the order already counts (`counted`).
pub fn settle_open_cancel(
    provider_cancelled: i64,
    counted: i64,
    amount: i64,
) -> Option<CancelAnswer> {
    if provider_cancelled >= counted + amount {
        Some(CancelAnswer::Succeeded {
            ptid: None,
            amount: None,
        })
    } else if provider_cancelled <= counted {
        Some(CancelAnswer::Refused)
    } else {
        // The provider cancelled something else than what was asked: leave it open for a person.
        None
    }
}

/// Pending orders past their time, and vbank accounts past their deposit date, expire.
pub fn expire(order: &OrderState, now: DateTime<Utc>) -> Option<Decision> {
    if !matches!(
        order.status,
        OrderStatus::Pending | OrderStatus::AwaitingDeposit
    ) || now < order.expires_at
    {
        return None;
    }
    let mut next = order.clone();
    next.status = OrderStatus::Expired;
    Some(Decision {
        order: next,
        effects: vec![Effect::Emit(EventType::OrderExpired)],
    })
}
