//! Cancels of what merchants can now pay for, over real HTTP: Toss refunds (TS20, TS22) and partial cancels of
//! sub-mall split payments, with their refusals and per-sub-mall bookkeeping.

mod common;

use common::*;
use sandbox::{AutoDecision, Sandbox, TxStatus};
use smartro::cancel::CancelResponse;
use smartro::divide::{DivideEntry, DivideInfo};
use smartro::form::{encode_form, Charset};
use smartro::sign;
use smartro::types::{PayMethod, StateCd};

fn remaining_per_sub_mall(sb: &Sandbox, tid: &str) -> Vec<(String, i64)> {
    match sb.state().transaction(tid) {
        Some(tx) => tx
            .split
            .iter()
            .map(|s| (s.mid.clone(), s.remaining()))
            .collect(),
        None => panic!("no transaction {tid}"),
    }
}

fn divide(parts: &[(&str, i64)]) -> DivideInfo {
    DivideInfo {
        entries: parts
            .iter()
            .map(|(mid, amt)| DivideEntry {
                amt: *amt,
                mid: mid.to_string(),
                goods_name: None,
            })
            .collect(),
    }
}

/// A partial cancel of the sub-mall parent's payment, as a merchant might send it: the form built by hand so that
/// it may break the protocol crate's rules (a DivideInfo that does not add up, an entry of 0, another
/// MerchantMode).
async fn split_cancel(
    sb: &Sandbox,
    tid: &str,
    amt: i64,
    parts: Option<&[(&str, i64)]>,
    merchant_mode: &str,
) -> CancelResponse {
    let key = key_of(SUB_MALL_PARENT);
    let amount = amt.to_string();
    let hash = sign::hash_data(tid, key, amt, true);
    let divide_info = parts.map(|p| divide(p).encode());
    let mut fields: Vec<(&str, &str)> = vec![
        ("TID", tid),
        ("Cancelpw", "123456"),
        ("CancelAmt", &amount),
        ("CancelMSG", "부분 취소"),
        ("PartialCancelCode", "1"),
        ("hashData", &hash),
        ("MerchantMode", merchant_mode),
    ];
    if let Some(d) = &divide_info {
        fields.push(("DivideInfo", d));
    }
    send(sb, encode_form(&fields, Charset::EucKr)).await
}

#[tokio::test]
async fn toss_cancels_answer_and_notify_ts20() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let paid = pay(&sb, &request(PayMethod::Toss, 20_000, &receiver.url)).await;
    assert_eq!(paid.result_code, "TS10");

    let first = cancel(&sb, &paid.tid, 5_000, true).await;
    assert_eq!(
        (first.result_code.as_str(), first.result_msg.as_str()),
        ("TS20", "결제환불 성공")
    );
    assert!(first.is_success());
    assert_eq!(first.pay_method.as_deref(), Some("TOSS"));
    let ptid = first.ptid.clone().unwrap_or_default();
    assert_eq!(ptid.len(), 30);

    let d = wait_deliveries(&sb, |d| d.len() == 2 && d.iter().all(|x| x.acknowledged)).await;
    let n = parse_notification(&receiver.bodies()[1]);
    assert_eq!(n, d[1].notification);
    assert_eq!(n.state_cd, StateCd::CancelBeforeSettlement);
    assert_eq!(
        (n.result_code.as_str(), n.result_msg.as_str()),
        ("TS20", "결제환불 성공")
    );
    assert_eq!(
        (n.tid.as_str(), n.otid.as_deref(), n.amt),
        (ptid.as_str(), Some(paid.tid.as_str()), 5_000)
    );
    assert!(n.verify(KEY));

    // More than is left: Toss's own refusal, TS22 (토스 부분취소 불가 금액).
    let over = cancel(&sb, &paid.tid, 15_001, true).await;
    assert_eq!(
        (over.result_code.as_str(), over.result_msg.as_str()),
        ("TS22", "토스 부분취소 불가 금액")
    );
    assert!(!over.is_success());

    let rest = cancel(&sb, &paid.tid, 15_000, true).await;
    assert_eq!(rest.result_code, "TS20");
    let tx = sb
        .state()
        .transaction(&paid.tid)
        .map(|t| (t.status, t.remaining()));
    assert_eq!(tx, Some((TxStatus::Cancelled, 0)));
    assert_eq!(
        cancel(&sb, &paid.tid, 20_000, false).await.result_code,
        "2013"
    );

    // A full cancel answers TS20 as well.
    let whole = pay(&sb, &request(PayMethod::Toss, 9_000, DEAD_URL)).await;
    let r = cancel(&sb, &whole.tid, 9_000, false).await;
    assert_eq!((r.result_code.as_str(), r.ptid), ("TS20", None));
    sb.shutdown().await;
}

#[tokio::test]
async fn split_partial_cancels_take_from_each_sub_mall() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let key = key_of(SUB_MALL_PARENT);
    let req = split_request(
        PayMethod::Card,
        &[
            ("SMTSUB002m", "상품1", 6_000),
            ("SMTSUB003m", "상품2", 4_000),
        ],
        &receiver.url,
    );
    let paid = pay_with(&sb, &req, key).await;
    let tid = paid.tid.as_str();

    // MerchantMode=T and a DivideInfo that splits the cancelled amount, built by the protocol crate.
    let mut request = cancel_request(tid, 3_000, true);
    request.merchant_mode = Some("T".into());
    request.divide_info = Some(divide(&[("SMTSUB002m", 2_000), ("SMTSUB003m", 1_000)]));
    let first = cancel_with(&sb, &request, key).await;
    assert_eq!(first.result_code, "2001", "{}", first.result_msg);
    assert!(first.ptid.is_some());
    assert_eq!(
        remaining_per_sub_mall(&sb, tid),
        [
            ("SMTSUB002m".to_string(), 4_000),
            ("SMTSUB003m".to_string(), 3_000)
        ]
    );
    let Some(tx) = sb.state().transaction(tid) else {
        panic!("no transaction")
    };
    assert_eq!(tx.cancels[0].divide_info, request.divide_info);
    assert_eq!(tx.status, TxStatus::PartiallyCancelled);

    // One sub-mall only, without MerchantMode.
    let mut only_one = cancel_request(tid, 3_000, true);
    only_one.divide_info = Some(divide(&[("SMTSUB003m", 3_000)]));
    assert_eq!(cancel_with(&sb, &only_one, key).await.result_code, "2001");
    assert_eq!(
        remaining_per_sub_mall(&sb, tid),
        [
            ("SMTSUB002m".to_string(), 4_000),
            ("SMTSUB003m".to_string(), 0)
        ]
    );

    // The rest, then nothing is left.
    let rest = split_cancel(&sb, tid, 4_000, Some(&[("SMTSUB002m", 4_000)]), "T").await;
    assert_eq!(rest.result_code, "2001");
    assert_eq!(
        remaining_per_sub_mall(&sb, tid),
        [("SMTSUB002m".to_string(), 0), ("SMTSUB003m".to_string(), 0)]
    );
    assert_eq!(
        sb.state().transaction(tid).map(|t| t.status),
        Some(TxStatus::Cancelled)
    );
    let d = wait_deliveries(&sb, |d| d.len() == 4 && d.iter().all(|x| x.acknowledged)).await;
    assert!(d[1..].iter().all(
        |x| x.notification.state_cd == StateCd::CancelBeforeSettlement
            && x.notification.otid.as_deref() == Some(tid)
    ));

    // The receipt API reports the split payment as any other.
    let record = match receipt(&sb, SUB_MALL_PARENT, tid, key).await {
        smartro::client::CallOutcome::Answered(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(record.goods_amt.as_deref(), Some("10000"));
    assert_eq!(record.part_cancel_info.len(), 3);
    assert_eq!(record.state_cd.as_deref(), Some("1"));
    sb.shutdown().await;
}

#[tokio::test]
async fn split_partial_cancels_that_do_not_fit_are_refused() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let key = key_of(SUB_MALL_PARENT);
    let req = split_request(
        PayMethod::Card,
        &[
            ("SMTSUB002m", "상품1", 6_000),
            ("SMTSUB003m", "상품2", 4_000),
        ],
        DEAD_URL,
    );
    let paid = pay_with(&sb, &req, key).await;
    let tid = paid.tid.as_str();

    for (amt, parts, mode, code, detail) in [
        // No DivideInfo (manual §5.2: required for partial cancels).
        (3_000, None, "T", "2030", "DivideInfo required"),
        // Amounts that do not add up to CancelAmt.
        (
            3_000,
            Some(&[("SMTSUB002m", 2_000), ("SMTSUB003m", 500)][..]),
            "T",
            "2011",
            "sum to 2500, not CancelAmt 3000",
        ),
        // A registered sub-mall of the parent that this payment did not split to.
        (
            3_000,
            Some(&[("SMTSUB004m", 3_000)][..]),
            "T",
            "2041",
            "SMTSUB004m is not a sub-mall of the payment",
        ),
        // More than a sub-mall has, though less than the payment has left.
        (
            5_000,
            Some(&[("SMTSUB003m", 5_000)][..]),
            "T",
            "2032",
            "SMTSUB003m: 5000 asked, 4000 left",
        ),
        // An entry of nothing.
        (
            3_000,
            Some(&[("SMTSUB002m", 3_000), ("SMTSUB003m", 0)][..]),
            "T",
            "2010",
            "SMTSUB003m is not above 0",
        ),
        // A MerchantMode the manual does not have.
        (
            3_000,
            Some(&[("SMTSUB002m", 3_000)][..]),
            "S",
            "2002",
            "MerchantMode must be T",
        ),
    ] {
        let r = split_cancel(&sb, tid, amt, parts, mode).await;
        assert_eq!(r.result_code, code, "{parts:?}: {}", r.result_msg);
        assert!(r.result_msg.contains(detail), "{code}: {}", r.result_msg);
        assert!(!r.is_success());
    }
    // Nothing was taken.
    let Some(tx) = sb.state().transaction(tid) else {
        panic!("no transaction")
    };
    assert_eq!(
        (tx.status, tx.cancelled_amt, tx.cancels.len()),
        (TxStatus::Approved, 0, 0)
    );
    assert!(tx.split.iter().all(|s| s.cancelled_amt == 0));

    // A full cancel needs no DivideInfo: every sub-mall's share goes back.
    let r = cancel_with(&sb, &cancel_request(tid, 10_000, false), key).await;
    assert_eq!(r.result_code, "2001");
    assert_eq!(
        remaining_per_sub_mall(&sb, tid),
        [("SMTSUB002m".to_string(), 0), ("SMTSUB003m".to_string(), 0)]
    );

    // DivideInfo on a payment that was not split.
    let card = pay(&sb, &request(PayMethod::Card, 3_000, DEAD_URL)).await;
    let mut stray = cancel_request(&card.tid, 1_000, true);
    stray.divide_info = Some(divide(&[("SMTSUB002m", 1_000)]));
    let r = cancel_with(&sb, &stray, KEY).await;
    assert_eq!(r.result_code, "2041");
    assert!(r
        .result_msg
        .contains("DivideInfo on a payment without a split"));
    sb.shutdown().await;
}
