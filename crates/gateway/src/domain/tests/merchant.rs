//! Cancel windows, split settlement and cash receipts: what the domain decides of them.

use super::*;

fn paid_at(method: PayMethod, approved_at: DateTime<Utc>) -> OrderState {
    let mut o = paid(method);
    o.approved_at = Some(approved_at);
    o
}

fn kst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    chrono::FixedOffset::east_opt(9 * 3600)
        .unwrap()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn plan(
    o: &OrderState,
    amount: Option<i64>,
    at: DateTime<Utc>,
) -> Result<CancelPlan, CancelRefusal> {
    plan_cancel(o, amount, None, Uuid::new_v4(), at)
}

#[test]
fn a_card_payment_is_cancelled_through_the_provider_for_90_days() {
    let o = paid_at(PayMethod::Card, now());
    assert!(plan(&o, None, now() + Duration::days(90)).is_ok());
    assert_eq!(
        plan(&o, None, now() + Duration::days(90) + Duration::seconds(1)),
        Err(CancelRefusal::WindowClosed {
            method: PayMethod::Card,
            window: "90 days from the payment"
        })
    );
    // A partial cancel is refused as well: the window is the payment's, not the cancel's.
    assert!(matches!(
        plan(&o, Some(1_000), now() + Duration::days(91)),
        Err(CancelRefusal::WindowClosed { .. })
    ));
}

#[test]
fn a_bank_transfer_is_cancelled_for_180_days() {
    let o = paid_at(PayMethod::Bank, now());
    assert!(plan(&o, None, now() + Duration::days(179)).is_ok());
    assert!(matches!(
        plan(&o, None, now() + Duration::days(181)),
        Err(CancelRefusal::WindowClosed {
            method: PayMethod::Bank,
            ..
        })
    ));
}

#[test]
fn a_cellphone_payment_is_cancelled_only_in_its_korean_calendar_month() {
    // 23:30 on the last of November in Korea is 14:30 UTC: the month ends half an hour later, in Korea.
    let o = paid_at(PayMethod::Cellphone, kst(2026, 11, 30, 23, 0));
    assert!(plan(&o, None, kst(2026, 11, 30, 23, 59)).is_ok());
    assert!(matches!(
        plan(&o, None, kst(2026, 12, 1, 0, 0)),
        Err(CancelRefusal::WindowClosed {
            method: PayMethod::Cellphone,
            window: "the calendar month of the payment (Korean time)"
        })
    ));
    // The same day of the next year is not the same month either.
    assert!(plan(&o, None, kst(2027, 11, 15, 12, 0)).is_err());
}

#[test]
fn the_window_counts_from_the_approval_and_else_from_when_the_order_was_paid() {
    // Without an approval time the time the order was marked paid counts.
    let mut o = paid(PayMethod::Card);
    o.approved_at = None;
    o.paid_at = Some(now());
    assert!(plan(&o, None, now() + Duration::days(100)).is_err());
    // Easy-pay and gift-card payments have no window the provider documents.
    for method in [PayMethod::Kakao, PayMethod::Toss, PayMethod::GiftCard] {
        let o = paid_at(method, now());
        assert!(
            plan(&o, None, now() + Duration::days(400)).is_ok(),
            "{method:?}"
        );
    }
}

fn share(mid: &str, amount: i64) -> SplitShare {
    SplitShare {
        sub_mall_id: mid.into(),
        amount,
        goods_name: None,
    }
}

fn split_order() -> OrderState {
    let mut o = paid(PayMethod::Card);
    o.split = vec![share("SMTSUB002m", 6_000), share("SMTSUB003m", 4_000)];
    o
}

fn refused_field(r: Result<CancelPlan, CancelRefusal>) -> String {
    match r {
        Err(CancelRefusal::Split { field, .. }) => field,
        other => panic!("expected a split refusal, got {other:?}"),
    }
}

#[test]
fn a_whole_cancel_of_a_split_payment_names_no_shares() {
    let o = split_order();
    let plan = plan_cancel(&o, None, None, Uuid::new_v4(), now()).unwrap();
    assert!(!plan.partial);
    assert!(plan.split.is_empty());
    assert!(plan.split_payment);
    // Shares named for a whole cancel are not needed and not sent.
    let named = [share("SMTSUB002m", 6_000), share("SMTSUB003m", 4_000)];
    let plan = plan_cancel(&o, None, Some(&named), Uuid::new_v4(), now()).unwrap();
    assert!(plan.split.is_empty());
}

#[test]
fn a_partial_cancel_of_a_split_payment_names_the_shares_it_takes_back() {
    let o = split_order();
    assert_eq!(
        refused_field(plan_cancel(&o, Some(1_000), None, Uuid::new_v4(), now())),
        "split"
    );
    let wrong_sum = [share("SMTSUB002m", 500)];
    assert_eq!(
        refused_field(plan_cancel(
            &o,
            Some(1_000),
            Some(&wrong_sum),
            Uuid::new_v4(),
            now()
        )),
        "split"
    );
    let stranger = [share("SMTSUB004m", 1_000)];
    assert_eq!(
        refused_field(plan_cancel(
            &o,
            Some(1_000),
            Some(&stranger),
            Uuid::new_v4(),
            now()
        )),
        "split[0].sub_mall_id"
    );
    let too_much = [share("SMTSUB003m", 4_001), share("SMTSUB002m", 999)];
    assert_eq!(
        refused_field(plan_cancel(
            &o,
            Some(5_000),
            Some(&too_much),
            Uuid::new_v4(),
            now()
        )),
        "split[0].amount"
    );
    let fine = [share(" SMTSUB003m ", 1_500), share("SMTSUB002m", 500)];
    let plan = plan_cancel(&o, Some(2_000), Some(&fine), Uuid::new_v4(), now()).unwrap();
    assert!(plan.partial);
    assert_eq!(
        plan.split,
        [share("SMTSUB003m", 1_500), share("SMTSUB002m", 500)],
        "sub-mall ids are trimmed"
    );
    assert_eq!(plan.amount, 2_000);
}

#[test]
fn what_a_sub_mall_has_left_counts_every_cancel_that_may_have_gone_through() {
    let mut o = split_order();
    let taken = |status| CancellationState {
        id: Uuid::new_v4(),
        tid: TID.into(),
        amount: 3_000,
        status,
        origin: CancellationOrigin::Api,
        ptid: None,
        notified: false,
        split: vec![share("SMTSUB003m", 3_000)],
    };
    o.cancellations.push(taken(CancellationStatus::Failed));
    let ask = [share("SMTSUB003m", 4_000)];
    assert!(
        plan_cancel(&o, Some(4_000), Some(&ask), Uuid::new_v4(), now()).is_ok(),
        "a refused cancel took nothing back"
    );
    o.cancellations.push(taken(CancellationStatus::Succeeded));
    o.cancelled_amount = 3_000;
    o.status = OrderStatus::PartiallyCancelled;
    assert_eq!(
        refused_field(plan_cancel(
            &o,
            Some(4_000),
            Some(&ask),
            Uuid::new_v4(),
            now()
        )),
        "split[0].amount"
    );
    let rest = [share("SMTSUB003m", 1_000)];
    assert!(plan_cancel(&o, Some(1_000), Some(&rest), Uuid::new_v4(), now()).is_ok());
}

#[test]
fn cancelling_the_rest_of_a_split_payment_takes_back_what_each_sub_mall_has_left() {
    let mut o = split_order();
    o.cancellations.push(CancellationState {
        id: Uuid::new_v4(),
        tid: TID.into(),
        amount: 2_000,
        status: CancellationStatus::Succeeded,
        origin: CancellationOrigin::Api,
        ptid: None,
        notified: true,
        split: vec![share("SMTSUB002m", 2_000)],
    });
    o.cancelled_amount = 2_000;
    o.status = OrderStatus::PartiallyCancelled;
    let plan = plan_cancel(&o, None, None, Uuid::new_v4(), now()).unwrap();
    assert!(plan.partial);
    assert_eq!(plan.amount, 8_000);
    assert_eq!(
        plan.split,
        [share("SMTSUB002m", 4_000), share("SMTSUB003m", 4_000)]
    );
    // Less than the rest still has to say whose.
    assert_eq!(
        refused_field(plan_cancel(&o, Some(4_000), None, Uuid::new_v4(), now())),
        "split"
    );
    // A cancel the provider notified on its own took back shares nobody knows: they must be named.
    o.cancellations.push(CancellationState {
        id: Uuid::new_v4(),
        tid: TID.into(),
        amount: 1_000,
        status: CancellationStatus::Succeeded,
        origin: CancellationOrigin::Smartro,
        ptid: Some("PTID".into()),
        notified: true,
        split: Vec::new(),
    });
    o.cancelled_amount = 3_000;
    assert_eq!(
        refused_field(plan_cancel(&o, None, None, Uuid::new_v4(), now())),
        "split"
    );
}

#[test]
fn shares_are_refused_for_an_order_paid_without_a_split() {
    let o = paid(PayMethod::Card);
    let ask = [share("SMTSUB002m", 1_000)];
    assert_eq!(
        refused_field(plan_cancel(
            &o,
            Some(1_000),
            Some(&ask),
            Uuid::new_v4(),
            now()
        )),
        "split"
    );
}

fn cash_receipt(tid: &str, code: &str) -> VerifiedResult {
    let mut r = result(PayMethod::Kakao, Some(StateCd::Approval), code, tid, 10_000);
    r.details.cash_receipt = Some(CashReceipt {
        kind: CashReceiptKind::IncomeDeduction,
        approval_no: Some("123456789".into()),
    });
    r
}

#[test]
fn a_cash_receipt_for_the_paying_tid_is_kept_and_told_to_the_shop() {
    let o = paid(PayMethod::Kakao);
    let r = cash_receipt(TID, "7001");
    assert_eq!(r.kind, ResultKind::CashReceipt);
    let d = apply_result(&o, &r, now());
    assert_eq!(
        OrderState {
            cash_receipt: None,
            ..d.order.clone()
        },
        o,
        "the order's money and status stay as they are"
    );
    assert_eq!(d.order.cash_receipt, r.details.cash_receipt);
    assert_eq!(emitted(&d), vec![EventType::CashReceiptIssued]);
    let recorded: Vec<&PaymentDetails> = d
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::RecordDetails(details) => Some(details),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0]
            .cash_receipt
            .as_ref()
            .and_then(|c| c.approval_no.as_deref()),
        Some("123456789")
    );
}

#[test]
fn a_cash_receipt_of_another_tid_refused_or_known_changes_nothing() {
    let o = paid(PayMethod::Kakao);
    let other = apply_result(&o, &cash_receipt(TID2, "7001"), now());
    assert!(other.effects.is_empty(), "{:?}", other.effects);
    let mut refused = cash_receipt(TID, "7002");
    refused.outcome = Outcome::Failure;
    let d = apply_result(&o, &refused, now());
    assert!(d.effects.is_empty(), "{:?}", d.effects);
    // Known already (the approval's notification carried it): the shop is not told again.
    let known = apply_result(&o, &cash_receipt(TID, "7001"), now()).order;
    let again = apply_result(&known, &cash_receipt(TID, "7001"), now());
    assert!(!again.changed(&known), "{:?}", again.effects);
}

#[test]
fn a_cash_receipt_before_the_payment_result_is_kept_and_told_once() {
    let pending = order(PayMethod::Kakao);
    let d = apply_result(&pending, &cash_receipt(TID, "7001"), now());
    assert_eq!(emitted(&d), vec![EventType::CashReceiptIssued]);
    assert_eq!(
        d.order.status,
        OrderStatus::Pending,
        "a receipt pays nothing"
    );
    // The approval's notification carries the same receipt: paid, and no second receipt event.
    let mut approval = result(
        PayMethod::Kakao,
        Some(StateCd::Approval),
        "KP00",
        TID,
        10_000,
    );
    approval.details.cash_receipt = d.order.cash_receipt.clone();
    let paid = apply_result(&d.order, &approval, now());
    assert_eq!(paid.order.status, OrderStatus::Paid);
    assert_eq!(emitted(&paid), vec![EventType::PaymentPaid]);
    // Where the approval came first with the receipt, the separate receipt notification adds nothing.
    let first = apply_result(&order(PayMethod::Kakao), &approval, now());
    assert_eq!(
        emitted(&first),
        vec![EventType::PaymentPaid, EventType::CashReceiptIssued]
    );
    let then = apply_result(&first.order, &cash_receipt(TID, "7001"), now());
    assert!(!then.changed(&first.order));
}
