//! Refunds the merchant makes, and an operator's resolution of a review: the decisions, without a database.

use super::tests::{apply_result, cancel, emitted, now, order, paid, result, StateCd, TID, TID2};
use super::*;
use chrono::Duration;

const MID: &str = "SMTPAY001m";

fn recorded(tid: &str, amount: i64, method: PayMethod) -> RecordedPayment {
    RecordedPayment {
        tid: tid.into(),
        mid: MID.into(),
        amount,
        pay_method: Some(method),
        success: true,
        approved_at: Some(now()),
    }
}

/// A virtual-account order of 10,000: the account issued, then the money deposited.
fn vbank_paid() -> OrderState {
    let issued = paid(PayMethod::Vbank);
    assert_eq!(issued.status, OrderStatus::AwaitingDeposit);
    let d = apply_result(
        &issued,
        &result(PayMethod::Vbank, None, "4110", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::Paid);
    d.order
}

/// A card order of 10,000 that Smartro charged 9,000 for: under review, the payment recorded.
fn charged_another_amount() -> (OrderState, Vec<RecordedPayment>) {
    let d = apply_result(
        &order(PayMethod::Card),
        &result(PayMethod::Card, None, "3001", TID, 9_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    let payments = vec![recorded(TID, 9_000, PayMethod::Card)];
    let order = OrderState {
        payments: payments.clone(),
        ..d.order
    };
    (order, payments)
}

/// A card order paid by TID and then paid a second time by TID2: under review for TID2.
fn paid_twice() -> (OrderState, Vec<RecordedPayment>) {
    let d = apply_result(
        &paid(PayMethod::Card),
        &result(PayMethod::Card, None, "3001", TID2, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    let payments = vec![
        recorded(TID, 10_000, PayMethod::Card),
        recorded(TID2, 10_000, PayMethod::Card),
    ];
    let order = OrderState {
        payments: payments.clone(),
        ..d.order
    };
    (order, payments)
}

#[test]
fn a_refund_grows_the_refunded_sum_and_moves_the_status() {
    let o = vbank_paid();
    let d = record_refund(&o, 4_000).unwrap();
    assert_eq!(d.order.refunded_amount, 4_000);
    assert_eq!(d.order.cancelled_amount, 0);
    assert_eq!(d.order.status, OrderStatus::PartiallyCancelled);
    assert_eq!(emitted(&d), vec![EventType::PaymentRefunded]);

    let rest = record_refund(&d.order, 6_000).unwrap();
    assert_eq!(rest.order.refunded_amount, 10_000);
    assert_eq!(rest.order.status, OrderStatus::Cancelled);
    assert_eq!(rest.order.remaining(), 0);
}

#[test]
fn refunds_that_cannot_be_recorded() {
    assert_eq!(
        record_refund(&order(PayMethod::Vbank), 1_000),
        Err(RefundRefusal::NotRefundable {
            status: OrderStatus::Pending
        })
    );
    let o = paid(PayMethod::Card);
    assert_eq!(record_refund(&o, 0), Err(RefundRefusal::InvalidAmount));
    assert_eq!(record_refund(&o, -5), Err(RefundRefusal::InvalidAmount));

    // What was cancelled through Smartro is not left to refund.
    let mut part = o.clone();
    part.cancelled_amount = 3_000;
    part.status = OrderStatus::PartiallyCancelled;
    assert_eq!(
        record_refund(&part, 7_001),
        Err(RefundRefusal::ExceedsRemaining {
            requested: 7_001,
            remaining: 7_000
        })
    );
    assert_eq!(
        record_refund(&part, 7_000).unwrap().order.status,
        OrderStatus::Cancelled
    );

    let gone = record_refund(&o, 10_000).unwrap().order;
    assert_eq!(
        record_refund(&gone, 1),
        Err(RefundRefusal::NotRefundable {
            status: OrderStatus::Cancelled
        })
    );
    let (review, _) = paid_twice();
    assert_eq!(
        record_refund(&review, 1),
        Err(RefundRefusal::NotRefundable {
            status: OrderStatus::NeedsReview
        })
    );
}

#[test]
fn a_cancel_on_its_way_to_smartro_is_not_left_to_refund() {
    let o = paid(PayMethod::Card);
    let plan = plan_cancel(&o, Some(6_000), None, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &plan);
    assert_eq!(
        record_refund(&open, 4_001),
        Err(RefundRefusal::ExceedsRemaining {
            requested: 4_001,
            remaining: 4_000
        })
    );
    let refunded = record_refund(&open, 4_000).unwrap().order;
    // The cancel then succeeds: together they are exactly what was paid.
    let done = complete_cancel(
        &refunded,
        plan.id,
        &CancelAnswer::Succeeded {
            ptid: None,
            amount: None,
        },
    );
    assert_eq!(done.order.cancelled_amount, 6_000);
    assert_eq!(done.order.refunded_amount, 4_000);
    assert_eq!(done.order.status, OrderStatus::Cancelled);
    assert_eq!(emitted(&done), vec![EventType::PaymentCancelled]);
}

#[test]
fn cancels_leave_alone_what_the_merchant_refunded() {
    let refunded = record_refund(&paid(PayMethod::Card), 4_000).unwrap().order;
    assert_eq!(
        plan_cancel(&refunded, Some(6_001), None, Uuid::new_v4(), now()),
        Err(CancelRefusal::ExceedsRemaining {
            requested: 6_001,
            remaining: 6_000
        })
    );
    let plan = plan_cancel(&refunded, None, None, Uuid::new_v4(), now()).unwrap();
    assert_eq!(plan.amount, 6_000);
    assert!(
        plan.partial,
        "the whole payment is no longer there to cancel"
    );

    let all = record_refund(&refunded, 6_000).unwrap().order;
    assert!(matches!(
        plan_cancel(&all, None, None, Uuid::new_v4(), now()),
        Err(CancelRefusal::NotCancellable {
            status: OrderStatus::Cancelled
        })
    ));
}

#[test]
fn a_smartro_cancel_beyond_what_was_not_refunded_needs_review() {
    let refunded = record_refund(&paid(PayMethod::Card), 4_000).unwrap().order;
    let d = apply_result(
        &refunded,
        &cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert_eq!(d.order.cancelled_amount, 0, "not counted");
    assert_eq!(d.order.review_tid.as_deref(), Some(TID));

    let within = apply_result(
        &refunded,
        &cancel(StateCd::CancelBeforeSettlement, "PTID1", Some(TID), 6_000),
        now(),
    );
    assert_eq!(within.order.cancelled_amount, 6_000);
    assert_eq!(within.order.status, OrderStatus::Cancelled);
}

#[test]
fn a_review_remembers_the_payment_that_caused_it() {
    let (o, _) = charged_another_amount();
    assert_eq!(o.review_tid.as_deref(), Some(TID));
    let (o, _) = paid_twice();
    assert_eq!(o.review_tid.as_deref(), Some(TID2));
    assert_eq!(o.tid.as_deref(), Some(TID), "the accepted payment stays");

    // A later result under review records its payment but does not change what the review is about.
    let d = apply_result(
        &o,
        &result(
            PayMethod::Card,
            None,
            "3001",
            "SMTPAY001m01012611211202000000",
            500,
        ),
        now(),
    );
    assert_eq!(d.order.review_tid.as_deref(), Some(TID2));

    let foreign = apply_result(
        &order(PayMethod::Card),
        &cancel(StateCd::CancelBeforeSettlement, TID2, None, 10_000),
        now(),
    );
    assert_eq!(foreign.order.review_tid.as_deref(), Some(TID2));

    let d = apply_result(
        &order(PayMethod::GiftCard),
        &result(PayMethod::GiftCard, None, "0000", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert_eq!(d.order.review_tid.as_deref(), Some(TID));
}

#[test]
fn accepting_another_amount_makes_it_the_orders_amount() {
    let (o, payments) = charged_another_amount();
    let later = now() + Duration::hours(1);
    let accepted = accept_review(&o, &payments, later).unwrap();
    let next = &accepted.decision.order;
    assert_eq!(next.status, OrderStatus::Paid);
    assert_eq!(next.amount, 9_000);
    assert_eq!(next.paid_amount, 9_000);
    assert_eq!(next.tid.as_deref(), Some(TID));
    assert_eq!(next.paid_at, Some(later));
    assert_eq!(next.review_tid, None);
    assert_eq!(next.review_reason, None);
    assert_eq!(accepted.former_amount, 10_000);
    assert_eq!(accepted.tid, TID);
    assert_eq!(
        emitted(&accepted.decision),
        vec![EventType::PaymentResolved]
    );
}

#[test]
fn an_unknown_result_code_accepted_is_paid() {
    let d = apply_result(
        &order(PayMethod::GiftCard),
        &result(PayMethod::GiftCard, None, "0000", TID, 10_000),
        now(),
    );
    let accepted = accept_review(
        &d.order,
        &[recorded(TID, 10_000, PayMethod::GiftCard)],
        now(),
    )
    .unwrap();
    assert_eq!(accepted.decision.order.status, OrderStatus::Paid);
    assert_eq!(accepted.decision.order.amount, 10_000);
    assert_eq!(accepted.former_amount, 10_000);
}

#[test]
fn reviews_that_cannot_be_accepted() {
    let paid_order = paid(PayMethod::Card);
    assert_eq!(
        accept_review(
            &paid_order,
            &[recorded(TID, 10_000, PayMethod::Card)],
            now()
        ),
        Err(ResolveRefusal::NotUnderReview {
            status: OrderStatus::Paid
        })
    );
    let (twice, payments) = paid_twice();
    assert_eq!(
        accept_review(&twice, &payments, now()),
        Err(ResolveRefusal::AnotherPaymentAccepted { tid: TID.into() })
    );
    // A cancel notice of a payment the gateway never recorded: nothing to accept or cancel.
    let foreign = apply_result(
        &order(PayMethod::Card),
        &cancel(StateCd::CancelBeforeSettlement, TID2, None, 10_000),
        now(),
    )
    .order;
    assert_eq!(
        accept_review(&foreign, &[], now()),
        Err(ResolveRefusal::NoReviewedPayment)
    );
    assert_eq!(
        plan_review_cancel(&foreign, &[], Uuid::new_v4(), now()),
        Err(ResolveRefusal::NoReviewedPayment)
    );
}

#[test]
fn a_review_of_the_orders_own_payment_accepted_keeps_its_money_and_time() {
    // Smartro notified a cancel of more than was left: the order is under review for its own payment.
    let refunded = record_refund(&paid(PayMethod::Card), 4_000).unwrap().order;
    let review = apply_result(
        &refunded,
        &cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000),
        now(),
    )
    .order;
    let payments = [recorded(TID, 10_000, PayMethod::Card)];
    assert_eq!(
        plan_review_cancel(&review, &payments, Uuid::new_v4(), now()),
        Err(ResolveRefusal::PaymentCounted)
    );
    let accepted = accept_review(&review, &payments, now() + Duration::days(1)).unwrap();
    let next = accepted.decision.order;
    assert_eq!(next.status, OrderStatus::PartiallyCancelled);
    assert_eq!(next.paid_at, refunded.paid_at);
    assert_eq!(next.refunded_amount, 4_000);
    assert_eq!(next.paid_amount, 10_000);

    let mut short = review.clone();
    short.refunded_amount = 10_000;
    assert_eq!(
        accept_review(&short, &[recorded(TID, 9_000, PayMethod::Card)], now()),
        Err(ResolveRefusal::ReturnedExceedsPayment {
            returned: 10_000,
            amount: 9_000
        })
    );
}

#[test]
fn cancelling_a_second_payment_puts_the_order_back_to_its_first() {
    let (o, payments) = paid_twice();
    let planned = plan_review_cancel(&o, &payments, Uuid::new_v4(), now()).unwrap();
    assert_eq!(planned.plan.tid, TID2);
    assert_eq!(planned.plan.amount, 10_000);
    assert!(!planned.plan.partial, "a full cancel of that payment");
    assert_eq!(planned.mid, MID);

    let open = begin_cancel(&o, &planned.plan);
    assert_eq!(
        accept_review(&open, &payments, now()),
        Err(ResolveRefusal::Cancel(CancelRefusal::InProgress {
            id: planned.plan.id
        }))
    );
    assert_eq!(
        record_refund(&open, 1),
        Err(RefundRefusal::NotRefundable {
            status: OrderStatus::NeedsReview
        })
    );

    let done = complete_cancel(
        &open,
        planned.plan.id,
        &CancelAnswer::Succeeded {
            ptid: None,
            amount: None,
        },
    );
    assert_eq!(done.order.status, OrderStatus::Paid);
    assert_eq!(done.order.tid.as_deref(), Some(TID));
    assert_eq!(done.order.paid_amount, 10_000);
    assert_eq!(
        done.order.cancelled_amount, 0,
        "the first payment's money is untouched"
    );
    assert_eq!(done.order.review_tid, None);
    assert_eq!(emitted(&done), vec![EventType::PaymentResolved]);

    let refused = complete_cancel(&open, planned.plan.id, &CancelAnswer::Refused);
    assert_eq!(refused.order.status, OrderStatus::NeedsReview);
    assert_eq!(refused.order.review_tid.as_deref(), Some(TID2));
    assert!(emitted(&refused).is_empty());
    let unknown = complete_cancel(&open, planned.plan.id, &CancelAnswer::Unknown);
    assert_eq!(unknown.order.status, OrderStatus::NeedsReview);
    assert!(matches!(
        plan_review_cancel(&unknown.order, &payments, Uuid::new_v4(), now()),
        Err(ResolveRefusal::Cancel(CancelRefusal::OutcomeOpen { .. }))
    ));
}

#[test]
fn cancelling_the_only_payment_under_review_cancels_the_order() {
    let (o, payments) = charged_another_amount();
    let planned = plan_review_cancel(&o, &payments, Uuid::new_v4(), now()).unwrap();
    assert_eq!(planned.plan.amount, 9_000, "what Smartro took");
    let done = complete_cancel(
        &begin_cancel(&o, &planned.plan),
        planned.plan.id,
        &CancelAnswer::Succeeded {
            ptid: None,
            amount: None,
        },
    );
    assert_eq!(done.order.status, OrderStatus::Cancelled);
    assert_eq!(done.order.paid_amount, 0);
    assert_eq!(done.order.cancelled_amount, 0);
    assert_eq!(emitted(&done), vec![EventType::PaymentResolved]);
}

#[test]
fn a_virtual_account_under_review_is_not_sent_to_smartro() {
    let mut o = order(PayMethod::Vbank);
    o.status = OrderStatus::NeedsReview;
    o.review_tid = Some(TID.into());
    assert_eq!(
        plan_review_cancel(
            &o,
            &[recorded(TID, 9_000, PayMethod::Vbank)],
            Uuid::new_v4(),
            now()
        ),
        Err(ResolveRefusal::VbankRefundByMerchant)
    );
}

#[test]
fn smartros_notice_of_the_review_cancel_settles_it_once() {
    let (o, payments) = paid_twice();
    let planned = plan_review_cancel(&o, &payments, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &planned.plan);
    let notified = apply_result(
        &open,
        &cancel(StateCd::CancelBeforeSettlement, TID2, None, 10_000),
        now(),
    );
    assert_eq!(notified.order.status, OrderStatus::Paid);
    assert_eq!(notified.order.cancelled_amount, 0);
    assert_eq!(emitted(&notified), vec![EventType::PaymentResolved]);
    let answered = complete_cancel(
        &notified.order,
        planned.plan.id,
        &CancelAnswer::Succeeded {
            ptid: None,
            amount: None,
        },
    );
    assert_eq!(answered.order.status, OrderStatus::Paid);
    assert!(emitted(&answered).is_empty(), "resolved once");
}

#[test]
fn a_cancel_notice_of_one_payment_never_settles_the_cancel_of_another() {
    let (o, payments) = paid_twice();
    let planned = plan_review_cancel(&o, &payments, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &planned.plan);
    // Same amount, but of the accepted payment TID (someone cancelled it at Smartro).
    let d = apply_result(
        &open,
        &cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000),
        now(),
    );
    assert!(!d
        .effects
        .iter()
        .any(|e| matches!(e, Effect::ConfirmCancellation { .. })));
    assert_eq!(
        d.order.cancellations[0].status,
        CancellationStatus::Requested
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
}

#[test]
fn a_cancel_answered_while_the_order_went_under_review_keeps_the_review() {
    let o = paid(PayMethod::Card);
    let plan = plan_cancel(&o, Some(3_000), None, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &plan);
    let review = apply_result(
        &open,
        &result(PayMethod::Card, None, "3001", TID2, 10_000),
        now(),
    )
    .order;
    let done = complete_cancel(
        &review,
        plan.id,
        &CancelAnswer::Succeeded {
            ptid: None,
            amount: None,
        },
    );
    assert_eq!(done.order.cancelled_amount, 3_000);
    assert_eq!(done.order.status, OrderStatus::NeedsReview);
    assert_eq!(done.order.review_tid.as_deref(), Some(TID2));
}
