use super::*;
use chrono::{Duration, TimeZone};

mod merchant;

pub(super) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).unwrap()
}

/// The decisions of these tests, with a fixed id for a cancellation the provider notified on its own.
pub(super) fn apply_result(
    order: &OrderState,
    result: &VerifiedResult,
    now: DateTime<Utc>,
) -> Decision {
    super::apply_result(order, result, now, Uuid::from_u128(0x5eed))
}

/// The states a provider's notification may name (WEBLink's StateCd), so that the tests read like the messages
/// they stand for. What an adapter makes of them is spelled out in `result` below: the domain itself sees only
/// the neutral kind and outcome.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum StateCd {
    Approval,
    CancelBeforeSettlement,
    CancelAfterSettlement,
    VbankIssued,
    Other(String),
}

pub(super) fn success_code(method: PayMethod) -> &'static str {
    match method {
        PayMethod::Card => "3001",
        PayMethod::Bank => "4000",
        PayMethod::Vbank => "4100",
        PayMethod::Cellphone => "A000",
        PayMethod::Toss => "TS10",
        PayMethod::GiftCard => "(none documented)",
        // The terminal's own success code: easy pay never comes through WEBLink.
        PayMethod::EasyPay => "0000",
        PayMethod::Kakao => "KP00",
    }
}

/// A result as the WEBLink adapter would hand it over (known failures here: card 3011 and 3011-like codes of
/// the card table; cancel successes 2001).
pub(super) fn result(
    method: PayMethod,
    state: Option<StateCd>,
    code: &str,
    tid: &str,
    amount: i64,
) -> VerifiedResult {
    let kind = match &state {
        Some(StateCd::CancelBeforeSettlement | StateCd::CancelAfterSettlement) => {
            ResultKind::Cancel
        }
        _ if code == "4110" => ResultKind::VbankDeposit,
        _ if code == "4100" => ResultKind::VbankIssued,
        Some(StateCd::VbankIssued) => ResultKind::VbankIssued,
        Some(StateCd::Approval) | None if code.starts_with("70") => ResultKind::CashReceipt,
        Some(StateCd::Approval) | None => ResultKind::Approval,
        Some(StateCd::Other(_)) => ResultKind::Other,
    };
    let outcome = match kind {
        ResultKind::Approval if code == success_code(method) => Outcome::Success,
        ResultKind::Approval if method == PayMethod::Card && code.starts_with("30") => {
            Outcome::Failure
        }
        ResultKind::Approval => Outcome::Unknown,
        ResultKind::VbankIssued if code == "4100" => Outcome::Success,
        ResultKind::VbankDeposit if code == "4110" => Outcome::Success,
        ResultKind::Cancel if code == "2001" => Outcome::Success,
        ResultKind::CashReceipt if code == "7001" => Outcome::Success,
        ResultKind::Other => Outcome::Unknown,
        _ => Outcome::Failure,
    };
    let state_code = match &state {
        Some(StateCd::Approval) => "0".to_string(),
        Some(StateCd::CancelBeforeSettlement) => "1".to_string(),
        Some(StateCd::CancelAfterSettlement) => "2".to_string(),
        Some(StateCd::VbankIssued) => "3".to_string(),
        Some(StateCd::Other(s)) => s.clone(),
        None if code == "4100" => "3".to_string(),
        None => "0".to_string(),
    };
    VerifiedResult {
        source: if state.is_some() {
            ResultSource::Inform
        } else {
            ResultSource::Return
        },
        kind,
        outcome,
        tid: tid.into(),
        original_tid: None,
        order_id: "ORD1".into(),
        mid: "SMTPAY001m".into(),
        amount,
        pay_method: Some(method),
        result_code: code.into(),
        result_message: "msg".into(),
        auth_code: Some("12345678".into()),
        auth_date: Some("261121120000".into()),
        details: PaymentDetails::default(),
        dedupe_key: format!("{tid}|{state_code}|{code}|{amount}"),
    }
}

pub(super) fn order(method: PayMethod) -> OrderState {
    OrderState {
        order_id: "ORD1".into(),
        mid: "SMTPAY001m".into(),
        amount: 10_000,
        pay_method: method,
        status: OrderStatus::Pending,
        paid_amount: 0,
        cancelled_amount: 0,
        refunded_amount: 0,
        tid: None,
        result_code: None,
        result_message: None,
        review_reason: None,
        review_tid: None,
        paid_at: None,
        expires_at: now() + Duration::minutes(60),
        vbank_deadline: Some(now() + Duration::days(3)),
        cancellations: Vec::new(),
        split: Vec::new(),
        approved_at: None,
        cash_receipt: None,
        payments: Vec::new(),
    }
}

pub(super) const TID: &str = "SMTPAY001m01012611211200001234";
pub(super) const TID2: &str = "SMTPAY001m01012611211201009999";

pub(super) fn emitted(decision: &Decision) -> Vec<EventType> {
    decision
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::Emit(t) => Some(*t),
            _ => None,
        })
        .collect()
}

pub(super) fn paid(method: PayMethod) -> OrderState {
    let o = order(method);
    let code = success_code(method);
    apply_result(&o, &result(method, None, code, TID, 10_000), now()).order
}

#[test]
fn approvals_of_every_method_mark_the_order_paid() {
    for (method, code) in [
        (PayMethod::Card, "3001"),
        (PayMethod::Bank, "4000"),
        (PayMethod::Cellphone, "A000"),
        (PayMethod::Toss, "TS10"),
        (PayMethod::Kakao, "KP00"),
    ] {
        let o = order(method);
        let d = apply_result(&o, &result(method, None, code, TID, 10_000), now());
        assert_eq!(d.order.status, OrderStatus::Paid, "{method:?}");
        assert_eq!(d.order.paid_amount, 10_000);
        assert_eq!(d.order.tid.as_deref(), Some(TID));
        assert_eq!(d.order.paid_at, Some(now()));
        assert_eq!(emitted(&d), vec![EventType::PaymentPaid]);
        assert!(d
            .effects
            .iter()
            .any(|e| matches!(e, Effect::RecordPayment(p) if p.success && p.tid == TID)));
    }
}

#[test]
fn a_code_the_tables_do_not_know_for_the_method_needs_review() {
    // 4000 is bank transfer's success, not a card's: the card table knows it as neither success nor failure.
    let o = order(PayMethod::Card);
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "4000", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert!(d.order.review_reason.as_deref().unwrap().contains("4000"));
    assert_eq!(emitted(&d), vec![EventType::PaymentNeedsReview]);
    assert_eq!(d.order.paid_amount, 0, "never shown as paid");

    // CLGIFT has no documented success code at all: an approval of it is reviewed, never silently failed.
    let o = order(PayMethod::GiftCard);
    let d = apply_result(
        &o,
        &result(PayMethod::GiftCard, None, "0000", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert!(d.order.review_reason.as_deref().unwrap().contains("0000"));
}

#[test]
fn a_result_of_another_pay_method_needs_review() {
    let o = order(PayMethod::Card);
    let d = apply_result(
        &o,
        &result(PayMethod::Bank, None, "4000", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert!(d
        .order
        .review_reason
        .as_deref()
        .unwrap()
        .contains("pay method"));
}

#[test]
fn a_failure_is_kept_and_the_order_stays_payable() {
    let o = order(PayMethod::Card);
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "3011", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::Pending);
    assert!(d.order.status.is_payable());
    assert_eq!(d.order.result_code.as_deref(), Some("3011"));
    assert_eq!(d.order.paid_amount, 0);
    assert!(d
        .effects
        .iter()
        .any(|e| matches!(e, Effect::RecordPayment(p) if !p.success)));
    assert_eq!(emitted(&d), vec![EventType::PaymentFailed]);

    // and a later approval still pays it
    let d2 = apply_result(
        &d.order,
        &result(PayMethod::Card, None, "3001", TID2, 10_000),
        now(),
    );
    assert_eq!(d2.order.status, OrderStatus::Paid);
    assert_eq!(d2.order.tid.as_deref(), Some(TID2));
}

#[test]
fn a_failure_never_touches_a_paid_order() {
    let o = paid(PayMethod::Card);
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "3011", TID2, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::Paid);
    assert_eq!(d.order.result_code.as_deref(), Some("3001"));
    assert!(emitted(&d).is_empty());
}

#[test]
fn vbank_issue_then_deposit() {
    let o = order(PayMethod::Vbank);
    let mut issued = result(PayMethod::Vbank, None, "4100", TID, 10_000);
    issued.details.vbank = Some(VbankDetails {
        bank_code: Some("004".into()),
        bank_name: Some("국민은행".into()),
        account: Some("12345678901234".into()),
    });
    let d = apply_result(&o, &issued, now());
    assert_eq!(d.order.status, OrderStatus::AwaitingDeposit);
    assert_eq!(
        d.order.expires_at,
        now() + Duration::days(3),
        "the deposit deadline now rules"
    );
    assert_eq!(d.order.paid_amount, 0);
    assert_eq!(emitted(&d), vec![EventType::PaymentAwaitingDeposit]);
    assert!(d
        .effects
        .iter()
        .any(|e| matches!(e, Effect::RecordDetails(p) if p.vbank.is_some())));

    let deposit = result(
        PayMethod::Vbank,
        Some(StateCd::Approval),
        "4110",
        TID,
        10_000,
    );
    assert_eq!(deposit.kind, ResultKind::VbankDeposit);
    let d2 = apply_result(&d.order, &deposit, now());
    assert_eq!(d2.order.status, OrderStatus::Paid);
    assert_eq!(d2.order.paid_amount, 10_000);
    assert_eq!(emitted(&d2), vec![EventType::PaymentPaid]);
}

#[test]
fn vbank_deposit_before_its_issue_notification() {
    let o = order(PayMethod::Vbank);
    let deposit = result(
        PayMethod::Vbank,
        Some(StateCd::Approval),
        "4110",
        TID,
        10_000,
    );
    let d = apply_result(&o, &deposit, now());
    assert_eq!(d.order.status, OrderStatus::Paid);
    let issued = result(
        PayMethod::Vbank,
        Some(StateCd::VbankIssued),
        "4100",
        TID,
        10_000,
    );
    let d2 = apply_result(&d.order, &issued, now());
    assert_eq!(d2.order.status, OrderStatus::Paid);
    assert!(emitted(&d2).is_empty());
}

#[test]
fn the_same_approval_twice_changes_nothing() {
    let o = paid(PayMethod::Card);
    let again = result(
        PayMethod::Card,
        Some(StateCd::Approval),
        "3001",
        TID,
        10_000,
    );
    let d = apply_result(&o, &again, now());
    assert!(!d.changed(&o));
}

#[test]
fn amount_mismatch_needs_review_and_is_never_paid() {
    let o = order(PayMethod::Card);
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "3001", TID, 1_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert_eq!(d.order.paid_amount, 0);
    assert!(d.order.review_reason.as_deref().unwrap().contains("amount"));
    assert_eq!(emitted(&d), vec![EventType::PaymentNeedsReview]);
    // the money is still recorded, so an operator can refund it
    assert!(d
        .effects
        .iter()
        .any(|e| matches!(e, Effect::RecordPayment(p) if p.amount == 1_000 && p.success)));
}

#[test]
fn mid_mismatch_needs_review() {
    let o = order(PayMethod::Card);
    let mut r = result(PayMethod::Card, None, "3001", TID, 10_000);
    r.mid = "SMTPAY002m".into();
    let d = apply_result(&o, &r, now());
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert!(d.order.review_reason.as_deref().unwrap().contains("MID"));
}

#[test]
fn a_vbank_issue_that_does_not_fit_changes_nothing_until_money_is_paid_in() {
    // An account costs nothing to issue: one with another amount (or for another method's order, or an order
    // already paid) must not disturb the order. Money paid into it is then reviewed.
    let o = order(PayMethod::Vbank);
    let issued = result(PayMethod::Vbank, None, "4100", TID, 9_999);
    let d = apply_result(&o, &issued, now());
    assert_eq!(d, Decision::unchanged(&o));
    let card = order(PayMethod::Card);
    let d = apply_result(&card, &issued, now());
    assert_eq!(d, Decision::unchanged(&card));
    let paid = paid(PayMethod::Vbank);
    let other = result(PayMethod::Vbank, None, "4100", TID2, 10_000);
    assert_eq!(
        apply_result(&paid, &other, now()),
        Decision::unchanged(&paid)
    );

    let mut deposit = result(PayMethod::Vbank, None, "4110", TID, 9_999);
    deposit.kind = ResultKind::VbankDeposit;
    let d = apply_result(&o, &deposit, now());
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert_eq!(d.order.paid_amount, 0);
}

#[test]
fn a_second_approval_with_another_tid_needs_review() {
    let o = paid(PayMethod::Card);
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "3001", TID2, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert_eq!(
        d.order.paid_amount, 10_000,
        "the first payment stays recorded"
    );
    assert!(d.order.review_reason.as_deref().unwrap().contains(TID2));
    // once in review, further results are recorded without more events
    let d2 = apply_result(
        &d.order,
        &result(PayMethod::Card, None, "3001", TID2, 10_000),
        now(),
    );
    assert_eq!(d2.order.status, OrderStatus::NeedsReview);
    assert!(emitted(&d2).is_empty());
}

#[test]
fn an_approval_after_expiry_is_still_paid() {
    let mut o = order(PayMethod::Card);
    o.status = OrderStatus::Expired;
    let later = now() + Duration::hours(2);
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "3001", TID, 10_000),
        later,
    );
    assert_eq!(d.order.status, OrderStatus::Paid);
    assert_eq!(d.order.paid_at, Some(later));
}

#[test]
fn a_failure_after_expiry_keeps_it_expired() {
    let mut o = order(PayMethod::Card);
    o.status = OrderStatus::Expired;
    let d = apply_result(
        &o,
        &result(PayMethod::Card, None, "3011", TID, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::Expired);
    assert!(emitted(&d).is_empty());
}

pub(super) fn cancel(state: StateCd, tid: &str, otid: Option<&str>, amount: i64) -> VerifiedResult {
    let mut r = result(PayMethod::Card, Some(state), "2001", tid, amount);
    r.original_tid = otid.map(String::from);
    r
}

#[test]
fn a_full_cancel_notified_by_smartro() {
    let o = paid(PayMethod::Card);
    let d = apply_result(
        &o,
        &cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::Cancelled);
    assert_eq!(d.order.cancelled_amount, 10_000);
    assert_eq!(emitted(&d), vec![EventType::PaymentCancelled]);
    assert!(d.effects.iter().any(|e| matches!(
        e,
        Effect::RecordSmartroCancellation {
            counted: true,
            partial: false,
            ..
        }
    )));

    // The same whole cancel again, its unsigned StateCd changed (so its dedupe key differs): nothing changes.
    let again = cancel(StateCd::CancelAfterSettlement, TID, Some(TID), 10_000);
    assert_eq!(
        apply_result(&d.order, &again, now()),
        Decision::unchanged(&d.order)
    );
}

#[test]
fn a_partial_cancel_counts_only_as_often_as_smartro_lists_it() {
    let o = paid(PayMethod::Card);
    let ptid1 = "PTID000000000000000000000000001";
    let ptid2 = "PTID000000000000000000000000002";
    // Smartro lists one partial cancel of 3,000: the first notice of it counts, a second PTID for it does not.
    assert!(!cancel_beyond_listed(&o, ptid1, 3_000, 1));
    let d = apply_result(
        &o,
        &cancel(StateCd::CancelBeforeSettlement, ptid1, Some(TID), 3_000),
        now(),
    );
    assert!(cancel_beyond_listed(&d.order, ptid2, 3_000, 1));
    assert!(!cancel_beyond_listed(&d.order, ptid2, 3_000, 2));
    assert!(!cancel_beyond_listed(&d.order, ptid2, 4_000, 1));
    // The first one notified again is not "beyond": it is the same cancel (and changes nothing).
    assert!(!cancel_beyond_listed(&d.order, ptid1, 3_000, 1));
}

#[test]
fn partial_cancels_with_otid_add_up_and_never_exceed_the_paid_sum() {
    let o = paid(PayMethod::Card);
    let p1 = cancel(
        StateCd::CancelAfterSettlement,
        "PTID000000000000000000000000001",
        Some(TID),
        3_000,
    );
    let d1 = apply_result(&o, &p1, now());
    assert_eq!(d1.order.status, OrderStatus::PartiallyCancelled);
    assert_eq!(d1.order.cancelled_amount, 3_000);
    assert!(d1.effects.iter().any(|e| matches!(
        e,
        Effect::RecordSmartroCancellation {
            partial: true,
            ptid: Some(_),
            ..
        }
    )));

    let p2 = cancel(
        StateCd::CancelAfterSettlement,
        "PTID000000000000000000000000002",
        Some(TID),
        7_000,
    );
    let d2 = apply_result(&d1.order, &p2, now());
    assert_eq!(d2.order.status, OrderStatus::Cancelled);
    assert_eq!(d2.order.cancelled_amount, 10_000);

    let p3 = cancel(
        StateCd::CancelAfterSettlement,
        "PTID000000000000000000000000003",
        Some(TID),
        1,
    );
    let d3 = apply_result(&d2.order, &p3, now());
    assert_eq!(d3.order.cancelled_amount, 10_000, "never more than paid");
    assert_eq!(d3.order.status, OrderStatus::NeedsReview);
    assert!(d3
        .effects
        .iter()
        .any(|e| matches!(e, Effect::RecordSmartroCancellation { counted: false, .. })));
}

#[test]
fn a_cancel_notification_confirms_the_cancellation_we_asked_for() {
    let mut o = paid(PayMethod::Card);
    let id = Uuid::new_v4();
    o.cancellations.push(CancellationState {
        id,
        tid: TID.into(),
        amount: 4_000,
        status: CancellationStatus::Succeeded,
        origin: CancellationOrigin::Api,
        ptid: Some("PTID000000000000000000000000001".into()),
        notified: false,
        split: Vec::new(),
    });
    o.cancelled_amount = 4_000;
    o.status = OrderStatus::PartiallyCancelled;
    let n = cancel(
        StateCd::CancelBeforeSettlement,
        "PTID000000000000000000000000001",
        Some(TID),
        4_000,
    );
    let d = apply_result(&o, &n, now());
    assert_eq!(d.order.cancelled_amount, 4_000, "matched, not added");
    assert!(emitted(&d).is_empty());
    assert!(d.effects.iter().any(|e| matches!(
        e,
        Effect::ConfirmCancellation {
            newly_succeeded: false,
            ..
        }
    )));
}

#[test]
fn a_cancel_notification_settles_an_unknown_cancellation() {
    let mut o = paid(PayMethod::Card);
    let id = Uuid::new_v4();
    o.cancellations.push(CancellationState {
        id,
        tid: TID.into(),
        amount: 10_000,
        status: CancellationStatus::Unknown,
        origin: CancellationOrigin::Api,
        ptid: None,
        notified: false,
        split: Vec::new(),
    });
    let n = cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000);
    let d = apply_result(&o, &n, now());
    assert_eq!(d.order.status, OrderStatus::Cancelled);
    assert_eq!(d.order.cancelled_amount, 10_000);
    assert!(d.effects.iter().any(|e| matches!(
        e,
        Effect::ConfirmCancellation { newly_succeeded: true, id: got, .. } if *got == id
    )));
    assert_eq!(emitted(&d), vec![EventType::PaymentCancelled]);
}

#[test]
fn a_cancel_of_a_tid_that_did_not_pay_needs_review() {
    let o = order(PayMethod::Card);
    let d = apply_result(
        &o,
        &cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000),
        now(),
    );
    assert_eq!(d.order.status, OrderStatus::NeedsReview);
    assert_eq!(d.order.cancelled_amount, 0);
}

#[test]
fn a_refused_cancel_notification_changes_nothing() {
    let o = paid(PayMethod::Card);
    let mut n = cancel(StateCd::CancelBeforeSettlement, TID, None, 10_000);
    n.result_code = "2032".into();
    n.outcome = Outcome::Failure;
    let d = apply_result(&o, &n, now());
    assert!(!d.changed(&o));
}

#[test]
fn a_cash_receipt_without_receipt_details_and_unknown_states_change_nothing() {
    let o = paid(PayMethod::Bank);
    let r = result(
        PayMethod::Bank,
        Some(StateCd::Approval),
        "7001",
        TID,
        10_000,
    );
    assert_eq!(r.kind, ResultKind::CashReceipt);
    let d = apply_result(&o, &r, now());
    assert!(!d.changed(&o));
    assert!(d.effects.is_empty(), "{:?}", d.effects);
    let r = result(
        PayMethod::Bank,
        Some(StateCd::Other("9".into())),
        "4000",
        TID2,
        10_000,
    );
    assert_eq!(r.kind, ResultKind::Other);
    assert!(!apply_result(&o, &r, now()).changed(&o));
}

#[test]
fn expiry_of_pending_and_awaiting_deposit_orders() {
    let o = order(PayMethod::Card);
    assert!(expire(&o, now()).is_none());
    let d = expire(&o, o.expires_at).unwrap();
    assert_eq!(d.order.status, OrderStatus::Expired);
    assert_eq!(emitted(&d), vec![EventType::OrderExpired]);
    let p = paid(PayMethod::Card);
    assert!(expire(&p, now() + Duration::days(365)).is_none());
}

#[test]
fn status_names_round_trip() {
    for s in OrderStatus::ALL {
        assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
    }
    assert_eq!(OrderStatus::parse("PAID"), None);
}

#[test]
fn a_full_cancel_is_partial_code_0_only_for_the_whole_amount_at_once() {
    let o = paid(PayMethod::Card);
    let plan = plan_cancel(&o, None, None, Uuid::new_v4(), now()).unwrap();
    assert_eq!(plan.amount, 10_000);
    assert!(!plan.partial);
    assert_eq!(plan.tid, TID);
    let plan = plan_cancel(&o, Some(10_000), None, Uuid::new_v4(), now()).unwrap();
    assert!(!plan.partial);
    let plan = plan_cancel(&o, Some(3_000), None, Uuid::new_v4(), now()).unwrap();
    assert!(plan.partial);

    // after a partial cancel, cancelling the rest is still a partial cancel
    let mut rest = o.clone();
    rest.cancelled_amount = 3_000;
    rest.status = OrderStatus::PartiallyCancelled;
    let plan = plan_cancel(&rest, None, None, Uuid::new_v4(), now()).unwrap();
    assert_eq!(plan.amount, 7_000);
    assert!(plan.partial);
}

#[test]
fn cancels_that_may_not_reach_smartro() {
    let pending = order(PayMethod::Card);
    assert_eq!(
        plan_cancel(&pending, None, None, Uuid::new_v4(), now()),
        Err(CancelRefusal::NotCancellable {
            status: OrderStatus::Pending
        })
    );
    let o = paid(PayMethod::Card);
    assert_eq!(
        plan_cancel(&o, Some(10_001), None, Uuid::new_v4(), now()),
        Err(CancelRefusal::ExceedsRemaining {
            requested: 10_001,
            remaining: 10_000
        })
    );
    assert_eq!(
        plan_cancel(&o, Some(0), None, Uuid::new_v4(), now()),
        Err(CancelRefusal::InvalidAmount)
    );
    assert_eq!(
        plan_cancel(&o, Some(-1), None, Uuid::new_v4(), now()),
        Err(CancelRefusal::InvalidAmount)
    );

    let mut vbank = order(PayMethod::Vbank);
    vbank.status = OrderStatus::Paid;
    vbank.paid_amount = 10_000;
    vbank.tid = Some(TID.into());
    assert_eq!(
        plan_cancel(&vbank, None, None, Uuid::new_v4(), now()),
        Err(CancelRefusal::VbankRefundByMerchant)
    );

    let plan = plan_cancel(&o, Some(1_000), None, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &plan);
    assert_eq!(
        plan_cancel(&open, Some(1_000), None, Uuid::new_v4(), now()),
        Err(CancelRefusal::InProgress { id: plan.id })
    );
    let unknown = complete_cancel(&open, plan.id, &CancelAnswer::Unknown).order;
    assert_eq!(
        plan_cancel(&unknown, Some(1_000), None, Uuid::new_v4(), now()),
        Err(CancelRefusal::OutcomeOpen { id: plan.id })
    );

    let mut all_gone = o.clone();
    all_gone.cancelled_amount = 10_000;
    all_gone.status = OrderStatus::Cancelled;
    assert!(matches!(
        plan_cancel(&all_gone, None, None, Uuid::new_v4(), now()),
        Err(CancelRefusal::NotCancellable { .. })
    ));
}

#[test]
fn smartro_answers_to_a_cancel() {
    let o = paid(PayMethod::Card);
    let plan = plan_cancel(&o, Some(4_000), None, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &plan);

    let ok = complete_cancel(
        &open,
        plan.id,
        &CancelAnswer::Succeeded {
            ptid: Some("PTID1".into()),
            amount: Some(4_000),
        },
    );
    assert_eq!(ok.order.cancelled_amount, 4_000);
    assert_eq!(ok.order.status, OrderStatus::PartiallyCancelled);
    assert_eq!(emitted(&ok), vec![EventType::PaymentCancelled]);
    assert_eq!(ok.order.cancellations[0].ptid.as_deref(), Some("PTID1"));

    let refused = complete_cancel(&open, plan.id, &CancelAnswer::Refused);
    assert_eq!(refused.order.cancelled_amount, 0);
    assert_eq!(
        refused.order.cancellations[0].status,
        CancellationStatus::Failed
    );
    assert!(emitted(&refused).is_empty());

    let unknown = complete_cancel(&open, plan.id, &CancelAnswer::Unknown);
    assert_eq!(
        unknown.order.cancellations[0].status,
        CancellationStatus::Unknown
    );
    assert_eq!(unknown.order.cancelled_amount, 0);
}

#[test]
fn a_cancel_notified_before_the_answer_is_counted_once() {
    let o = paid(PayMethod::Card);
    let plan = plan_cancel(&o, Some(4_000), None, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &plan);
    let mut n = cancel(StateCd::CancelBeforeSettlement, "PTID1", Some(TID), 4_000);
    n.original_tid = Some(TID.into());
    let notified = apply_result(&open, &n, now());
    assert_eq!(notified.order.cancelled_amount, 4_000);
    let answered = complete_cancel(
        &notified.order,
        plan.id,
        &CancelAnswer::Succeeded {
            ptid: Some("PTID1".into()),
            amount: Some(4_000),
        },
    );
    assert_eq!(answered.order.cancelled_amount, 4_000);
    assert!(emitted(&answered).is_empty());
}

#[test]
fn settling_a_cancel_whose_answer_never_came() {
    assert_eq!(
        settle_open_cancel(4_000, 1_000, 3_000),
        Some(CancelAnswer::Succeeded {
            ptid: None,
            amount: None
        })
    );
    assert_eq!(
        settle_open_cancel(1_000, 1_000, 3_000),
        Some(CancelAnswer::Refused)
    );
    assert_eq!(settle_open_cancel(2_000, 1_000, 3_000), None);
}

#[test]
fn only_a_pending_order_within_its_time_is_payable() {
    let at = now();
    let later = at + Duration::minutes(1);
    assert_eq!(payable(OrderStatus::Pending, later, at), Ok(()));
    assert_eq!(
        payable(OrderStatus::Pending, at, at),
        Err(NotPayable::Expired)
    );
    assert_eq!(
        payable(OrderStatus::PartiallyCancelled, later, at),
        Err(NotPayable::Cancelled)
    );
    assert_eq!(
        payable(OrderStatus::NeedsReview, later, at),
        Err(NotPayable::NeedsReview)
    );
}

#[test]
fn a_cancel_answered_for_another_amount_counts_what_was_given_back_and_is_reviewed() {
    let o = paid(PayMethod::Card);
    let plan = plan_cancel(&o, Some(4_000), None, Uuid::new_v4(), now()).unwrap();
    let open = begin_cancel(&o, &plan);
    let answer = |amount| CancelAnswer::Succeeded {
        ptid: Some("PTID1".into()),
        amount,
    };

    // As asked, or not said: the ask is what went back.
    for said in [Some(4_000), None] {
        let ok = complete_cancel(&open, plan.id, &answer(said));
        assert_eq!(ok.order.cancelled_amount, 4_000);
        assert_eq!(ok.order.status, OrderStatus::PartiallyCancelled);
        assert_eq!(emitted(&ok), vec![EventType::PaymentCancelled]);
    }

    // Less than asked: the provider's figure is counted, on the order and on the cancellation, and a person looks.
    let less = complete_cancel(&open, plan.id, &answer(Some(3_000)));
    assert_eq!(less.order.cancelled_amount, 3_000);
    assert_eq!(less.order.cancellations[0].amount, 3_000);
    assert_eq!(less.order.status, OrderStatus::NeedsReview);
    assert_eq!(less.order.review_tid, o.tid);
    assert!(less
        .order
        .review_reason
        .as_deref()
        .is_some_and(|r| r.contains("4000") && r.contains("3000")));
    assert_eq!(
        emitted(&less),
        vec![EventType::PaymentCancelled, EventType::PaymentNeedsReview]
    );

    // More than asked but within what was paid: counted and reviewed the same way.
    let more = complete_cancel(&open, plan.id, &answer(Some(6_000)));
    assert_eq!(more.order.cancelled_amount, 6_000);
    assert_eq!(more.order.status, OrderStatus::NeedsReview);

    // More than is left: nothing is counted past what was paid; reviewed.
    let over = complete_cancel(&open, plan.id, &answer(Some(o.paid_amount + 1)));
    assert_eq!(over.order.cancelled_amount, 0);
    assert_eq!(over.order.status, OrderStatus::NeedsReview);

    // A success naming nothing given back: nothing counted, the ask stays on the row, reviewed.
    let zero = complete_cancel(&open, plan.id, &answer(Some(0)));
    assert_eq!(zero.order.cancelled_amount, 0);
    assert_eq!(zero.order.cancellations[0].amount, 4_000);
    assert_eq!(zero.order.status, OrderStatus::NeedsReview);
    assert_eq!(emitted(&zero), vec![EventType::PaymentNeedsReview]);
}
