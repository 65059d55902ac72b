//! Cancellations asked through the API: what may be sent to Smartro, and what its answer means.

use chrono::{DateTime, Datelike, Duration, Utc};
use uuid::Uuid;

use super::options::check_split;
use super::{
    korean_date, review, status_after_cancel, CancellationOrigin, CancellationState,
    CancellationStatus, Decision, Effect, EventType, OrderState, OrderStatus, PayMethod,
    SplitShare,
};

/// What to send to Smartro for one cancellation.
#[derive(Debug, Clone, PartialEq)]
pub struct CancelPlan {
    pub id: Uuid,
    /// The original TID.
    pub tid: String,
    pub amount: i64,
    /// PartialCancelCode 1. A full cancel (0) is only the whole original amount in one go.
    pub partial: bool,
    /// The sub-mall shares a partial cancel of a split payment takes back (empty otherwise).
    pub split: Vec<SplitShare>,
    /// The payment was split between sub-malls: the provider wants to know for every cancel of it.
    pub split_payment: bool,
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
    /// The provider cancels this method only so long after the payment (manual §5.1).
    WindowClosed {
        method: PayMethod,
        window: &'static str,
    },
    /// The sub-mall shares of a cancel of a split payment are missing or wrong.
    Split {
        field: String,
        message: String,
    },
}

/// Whether the provider still cancels a payment of `method` approved at `approved_at` (manual §5.1), counted in
/// Korean time; the error names the window. Gift cards have none, and the manual gives none for the easy-pay
/// methods; a virtual account is never cancelled through the provider at all (refused before this).
pub(super) fn window_open(
    method: PayMethod,
    approved_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    let within = |days: i64, what: &'static str| {
        if now <= approved_at + Duration::days(days) {
            Ok(())
        } else {
            Err(what)
        }
    };
    match method {
        PayMethod::Card => within(90, "90 days from the payment"),
        PayMethod::Bank => within(180, "180 days from the payment"),
        PayMethod::Cellphone => {
            let (paid, today) = (korean_date(approved_at), korean_date(now));
            if (paid.year(), paid.month()) == (today.year(), today.month()) {
                Ok(())
            } else {
                Err("the calendar month of the payment (Korean time)")
            }
        }
        PayMethod::Vbank
        | PayMethod::GiftCard
        | PayMethod::Toss
        | PayMethod::Kakao
        | PayMethod::EasyPay => Ok(()),
    }
}

/// What each sub-mall of a split payment has left: its share less what cancels took back. Open cancels count
/// too: they may yet have gone through.
fn sub_malls_left(order: &OrderState) -> Vec<SplitShare> {
    order
        .split
        .iter()
        .map(|paid| {
            let taken: i64 = order
                .cancellations
                .iter()
                .filter(|c| c.status != CancellationStatus::Failed)
                .flat_map(|c| c.split.iter())
                .filter(|s| s.sub_mall_id == paid.sub_mall_id)
                .map(|s| s.amount)
                .sum();
            SplitShare {
                sub_mall_id: paid.sub_mall_id.clone(),
                amount: paid.amount - taken,
                goods_name: None,
            }
        })
        .collect()
}

/// The shares a cancel of `amount` takes back from a split payment, checked against what each sub-mall has left.
fn split_shares(
    order: &OrderState,
    asked: Option<&[SplitShare]>,
    amount: i64,
    partial: bool,
) -> Result<Vec<SplitShare>, CancelRefusal> {
    let refuse = |field: &str, message: String| CancelRefusal::Split {
        field: field.to_string(),
        message,
    };
    if order.split.is_empty() {
        return match asked {
            Some(_) => Err(refuse(
                "split",
                "only applies to orders paid with a split".into(),
            )),
            None => Ok(Vec::new()),
        };
    }
    if !partial {
        // A whole cancel takes every share back; the provider needs no shares named for it.
        return Ok(Vec::new());
    }
    let left = sub_malls_left(order);
    let Some(asked) = asked else {
        // Cancelling all that is left takes back what each sub-mall has left, when that adds up (a cancel the
        // provider notified on its own says nothing of the shares: then they must be named).
        let rest: Vec<SplitShare> = left.into_iter().filter(|s| s.amount > 0).collect();
        if rest.iter().map(|s| s.amount).sum::<i64>() == amount && amount == order.remaining() {
            return Ok(rest);
        }
        return Err(refuse(
            "split",
            "a partial cancel of a split order must name the sub-mall shares it takes back".into(),
        ));
    };
    check_split(asked, amount, "split").map_err(|p| refuse(&p.field, p.message))?;
    for (i, share) in asked.iter().enumerate() {
        let mid = share.sub_mall_id.trim();
        let Some(has) = left.iter().find(|s| s.sub_mall_id == mid) else {
            return Err(refuse(
                &format!("split[{i}].sub_mall_id"),
                format!("{mid} has no share in this payment"),
            ));
        };
        if share.amount > has.amount {
            return Err(refuse(
                &format!("split[{i}].amount"),
                format!(
                    "{} is more than {mid} has left ({})",
                    share.amount, has.amount
                ),
            ));
        }
    }
    Ok(asked
        .iter()
        .map(|s| SplitShare {
            sub_mall_id: s.sub_mall_id.trim().to_string(),
            amount: s.amount,
            goods_name: None,
        })
        .collect())
}

/// Decides whether (and how) an order may be cancelled, before anything reaches the provider.
pub fn plan_cancel(
    order: &OrderState,
    amount: Option<i64>,
    split: Option<&[SplitShare]>,
    id: Uuid,
    now: DateTime<Utc>,
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
    if let Some(approved_at) = order.approved_at.or(order.paid_at) {
        window_open(order.pay_method, approved_at, now).map_err(|window| {
            CancelRefusal::WindowClosed {
                method: order.pay_method,
                window,
            }
        })?;
    }
    let partial = !(order.returned() == 0 && amount == order.paid_amount);
    let split = split_shares(order, split, amount, partial)?;
    Ok(CancelPlan {
        id,
        tid,
        amount,
        partial,
        split,
        split_payment: !order.split.is_empty(),
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
        split: plan.split.clone(),
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
        /// What the provider says it gave back (WEBLink's `CancelAmt`, the terminal's `approvalAmt`); `None`
        /// when its answer does not say, and then the amount asked is taken.
        amount: Option<i64>,
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
        CancelAnswer::Succeeded { ptid, amount } => {
            if c.ptid.is_none() {
                c.ptid = ptid.clone();
            }
            // Smartro's notification of this cancel may have been applied first; it is counted once.
            if c.status != CancellationStatus::Succeeded {
                c.status = CancellationStatus::Succeeded;
                let asked = c.amount;
                // What left the merchant is what the provider says it gave back, not what was asked. A success
                // naming no positive amount moved no money this record can count: the ask stays on the row
                // (its amount is positive by the schema), nothing is counted, and a person looks.
                let given = amount.unwrap_or(asked);
                let amount = if given > 0 { given } else { 0 };
                if amount > 0 {
                    c.amount = amount;
                }
                let tid = c.tid.clone();
                if review::is_reviewed_payment(&next, &tid) {
                    // The operator's cancel of the payment under review: its money was never counted, so
                    // nothing is taken from the order; the order goes back to what its own payment says.
                    review::settle_reviewed_cancel(&mut next, &mut effects);
                } else if next.returned() + amount <= next.paid_amount {
                    next.cancelled_amount += amount;
                    // An order put under review while this cancel was on its way stays there: the money is
                    // counted, and the person who settles the review sees it.
                    next.status = status_after_cancel(&next);
                    if amount > 0 {
                        effects.push(Effect::Emit(EventType::PaymentCancelled));
                    }
                    if given != asked {
                        next.status = OrderStatus::NeedsReview;
                        next.review_reason = Some(format!(
                            "the provider answered a cancel of {asked} KRW as done, but gave back {given} KRW"
                        ));
                        next.review_tid = Some(tid);
                        effects.push(Effect::Emit(EventType::PaymentNeedsReview));
                    }
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
