//! Cancel rules (every 20xx code the sandbox answers), cancel notifications, faults on cancel, the receipt API
//! and the receipt page, over real HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sandbox::{AutoDecision, Faults, Sandbox, SandboxConfig, TxStatus};
use smartro::client::{CallOutcome, SmartroClient};
use smartro::form::{encode_form, Charset};
use smartro::notification::Notification;
use smartro::receipt::Receipt;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};

fn tx(sb: &Sandbox, tid: &str) -> sandbox::TransactionSnapshot {
    match sb.state().transaction(tid) {
        Some(t) => t,
        None => panic!("no transaction {tid}"),
    }
}

#[tokio::test]
async fn cancel_rules_answer_their_codes() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let paid = pay(&sb, &request(PayMethod::Card, 10_000, DEAD_URL)).await;
    let tid = paid.tid.as_str();

    // 2025: no password at all.
    let hash = sign::hash_data(tid, KEY, 10_000, false);
    let body = encode_form(
        &[
            ("TID", tid),
            ("CancelAmt", "10000"),
            ("PartialCancelCode", "0"),
            ("hashData", &hash),
        ],
        Charset::EucKr,
    );
    let r = send(&sb, body).await;
    assert_eq!(
        (r.result_code.as_str(), r.result_msg.as_str()),
        ("2025", "취소패스워드 미 입력")
    );

    // 2010: zero and negative amounts.
    for amt in ["0", "-500"] {
        let body = encode_form(
            &[
                ("TID", tid),
                ("Cancelpw", "123456"),
                ("CancelAmt", amt),
                ("PartialCancelCode", "0"),
                ("hashData", &sign::hash_data(tid, KEY, 0, false)),
            ],
            Charset::EucKr,
        );
        assert_eq!(send(&sb, body).await.result_code, "2010");
    }

    // 2012: unknown TID.
    assert_eq!(
        cancel(&sb, "SMTPAY001m01012401010000000001", 10_000, false)
            .await
            .result_code,
        "2012"
    );

    // 2024: wrong password.
    let mut wrong_pw = cancel_request(tid, 10_000, false);
    wrong_pw.cancel_pw = "654321".to_string();
    let r = cancel_with(&sb, &wrong_pw, KEY).await;
    assert_eq!(
        (r.result_code.as_str(), r.result_msg.as_str()),
        ("2024", "취소패스워드 불일치")
    );

    // 2041: hashData made with another key.
    assert_eq!(
        cancel_with(&sb, &cancel_request(tid, 10_000, false), OTHER_KEY)
            .await
            .result_code,
        "2041"
    );

    // 2011: full cancel of another amount.
    let r = cancel(&sb, tid, 9_000, false).await;
    assert_eq!(r.result_code, "2011");
    assert_eq!(r.tid.as_deref(), Some(tid));
    assert_eq!(r.pay_method.as_deref(), Some("CARD"));

    // 2032: partial over what is left.
    assert_eq!(cancel(&sb, tid, 10_001, true).await.result_code, "2032");

    // Malformed input: a refusal, never a crash.
    let r = send(
        &sb,
        "TID=x&Cancelpw=1&CancelAmt=abc&PartialCancelCode=0&hashData=h".to_string(),
    )
    .await;
    assert_eq!(r.result_code, "2002");
    let r = send(&sb, "garbage%%".to_string()).await;
    assert_eq!(r.result_code, "2025");

    // Nothing above changed the payment.
    let t = tx(&sb, tid);
    assert_eq!((t.status, t.cancelled_amt), (TxStatus::Approved, 0));
    let notified = sb.notifications();
    assert_eq!(notified.len(), 1, "only the approval is notified");
    assert_eq!(notified[0].notification.state_cd, StateCd::Approval);
    sb.shutdown().await;
}

#[tokio::test]
async fn partial_cancels_then_full_rules() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let paid = pay(&sb, &request(PayMethod::Card, 10_000, &receiver.url)).await;
    let tid = paid.tid.as_str();

    let first = cancel(&sb, tid, 3_000, true).await;
    assert_eq!(first.result_code, "2001");
    assert_eq!(first.result_msg, "취소 성공");
    assert!(first.is_success());
    assert_eq!(first.tid.as_deref(), Some(tid));
    assert_eq!(first.cancel_amt, Some(3_000));
    assert_eq!(first.cancel_msg.as_deref(), Some("고객 요청 취소"));
    assert_eq!(first.moid.as_deref(), Some(paid.oid.as_str()));
    assert_eq!(first.pay_name.as_deref(), Some("신용카드"));
    assert_eq!(first.cancel_date.as_deref().map(str::len), Some(8));
    assert_eq!(first.cancel_time.as_deref().map(str::len), Some(6));
    assert_eq!(first.cancel_num.as_deref().map(str::len), Some(8));
    let ptid = first.ptid.clone().unwrap_or_default();
    assert_eq!(ptid.len(), 30);
    assert_ne!(ptid, tid);
    let t = tx(&sb, tid);
    assert_eq!(
        (t.status, t.cancelled_amt, t.remaining()),
        (TxStatus::PartiallyCancelled, 3_000, 7_000)
    );

    // The cancel notification: StateCd 1, TID = PTID, OTID = original, Amt = cancelled amount.
    let d = wait_deliveries(&sb, |d| d.len() == 2 && d.iter().all(|x| x.acknowledged)).await;
    let n = match Notification::parse(&receiver.bodies()[1]) {
        Ok(n) => n,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(n, d[1].notification);
    assert_eq!(n.state_cd, StateCd::CancelBeforeSettlement);
    assert_eq!(n.tid, ptid);
    assert_eq!(n.otid.as_deref(), Some(tid));
    assert_eq!(n.amt, 3_000);
    assert_eq!(n.result_code, "2001");
    assert_eq!(n.result_msg, "취소 성공");
    assert_eq!(n.oid, paid.oid);
    assert!(n.verify(KEY));
    assert_ne!(n.dedupe_key(), d[0].notification.dedupe_key());

    // A PTID is not a transaction; the full amount can no longer be cancelled; more than is left is refused.
    assert_eq!(cancel(&sb, &ptid, 1_000, true).await.result_code, "2012");
    assert_eq!(cancel(&sb, tid, 10_000, false).await.result_code, "2031");
    assert_eq!(cancel(&sb, tid, 7_001, true).await.result_code, "2032");

    // The rest, in two partial cancels with distinct PTIDs.
    let second = cancel(&sb, tid, 2_000, true).await;
    let third = cancel(&sb, tid, 5_000, true).await;
    assert_eq!(
        (second.result_code.as_str(), third.result_code.as_str()),
        ("2001", "2001")
    );
    assert_ne!(second.ptid, third.ptid);
    assert_ne!(second.ptid.as_deref(), Some(ptid.as_str()));
    let t = tx(&sb, tid);
    assert_eq!(
        (t.status, t.remaining(), t.cancels.len()),
        (TxStatus::Cancelled, 0, 3)
    );

    // 2013 once nothing is left, whatever is asked.
    assert_eq!(cancel(&sb, tid, 1_000, true).await.result_code, "2013");
    assert_eq!(cancel(&sb, tid, 10_000, false).await.result_code, "2013");
    sb.shutdown().await;
}

#[tokio::test]
async fn full_cancel_and_method_rules() {
    let receiver = Receiver::start(0).await;
    let sb = start(config(Some(AutoDecision::Approve))).await;

    // Full card cancel, then 2013.
    let card = pay(&sb, &request(PayMethod::Card, 15_000, &receiver.url)).await;
    let r = cancel(&sb, &card.tid, 15_000, false).await;
    assert_eq!(r.result_code, "2001");
    assert_eq!(r.ptid, None);
    assert_eq!(tx(&sb, &card.tid).status, TxStatus::Cancelled);
    assert_eq!(
        cancel(&sb, &card.tid, 15_000, false).await.result_code,
        "2013"
    );
    let d = wait_deliveries(&sb, |d| d.len() == 2 && d[1].acknowledged).await;
    let n = &d[1].notification;
    assert_eq!(
        (n.tid.as_str(), n.otid.as_deref(), n.amt),
        (card.tid.as_str(), Some(card.tid.as_str()), 15_000)
    );
    assert_eq!(n.state_cd, StateCd::CancelBeforeSettlement);

    // Bank transfer: refunded with 2211.
    let bank = pay(&sb, &request(PayMethod::Bank, 8_000, DEAD_URL)).await;
    let r = cancel(&sb, &bank.tid, 8_000, false).await;
    assert_eq!(
        (r.result_code.as_str(), r.result_msg.as_str()),
        ("2211", "환불 요청 성공")
    );
    assert!(r.is_success());
    assert_eq!(r.pay_method.as_deref(), Some("BANK"));

    // Phone payments cannot be cancelled in part: 2029; whole is fine.
    let phone = pay(&sb, &request(PayMethod::Cellphone, 9_000, DEAD_URL)).await;
    assert_eq!(
        cancel(&sb, &phone.tid, 1_000, true).await.result_code,
        "2029"
    );
    assert_eq!(
        cancel(&sb, &phone.tid, 9_000, false).await.result_code,
        "2001"
    );

    // Virtual accounts are not cancelled through Smartro: 2035/2036 before deposit, 2014 after.
    let vbank = pay(&sb, &request(PayMethod::Vbank, 30_000, DEAD_URL)).await;
    assert_eq!(
        cancel(&sb, &vbank.tid, 30_000, false).await.result_code,
        "2035"
    );
    assert_eq!(
        cancel(&sb, &vbank.tid, 1_000, true).await.result_code,
        "2036"
    );
    let deposit_url = sb.endpoints().vbank_deposit_url.unwrap_or_default();
    assert_eq!(
        post_form(&deposit_url, format!("TID={}", vbank.tid))
            .await
            .status,
        200
    );
    assert_eq!(
        cancel(&sb, &vbank.tid, 30_000, false).await.result_code,
        "2014"
    );
    assert_eq!(tx(&sb, &vbank.tid).status, TxStatus::VbankDeposited);
    sb.shutdown().await;
}

#[tokio::test]
async fn declined_payment_cannot_be_cancelled() {
    let sb = start(config(Some(AutoDecision::Decline))).await;
    let declined = pay(&sb, &request(PayMethod::Card, 5_000, DEAD_URL)).await;
    assert_eq!(
        cancel(&sb, &declined.tid, 5_000, false).await.result_code,
        "2014"
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn cancel_latency_and_no_answer_faults() {
    let sb = start(SandboxConfig {
        faults: Faults {
            cancel_latency: Duration::from_millis(300),
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    let paid = pay(&sb, &request(PayMethod::Card, 1_000, DEAD_URL)).await;
    let started = Instant::now();
    assert_eq!(
        cancel(&sb, &paid.tid, 1_000, false).await.result_code,
        "2001"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    sb.shutdown().await;

    let sb = start(SandboxConfig {
        faults: Faults {
            cancel_no_answer: true,
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    let paid = pay(&sb, &request(PayMethod::Card, 2_000, DEAD_URL)).await;
    let endpoints = sb.endpoints();
    let client = match SmartroClient::new(
        endpoints.cancel_url,
        endpoints.receipt_api_url,
        Duration::from_millis(300),
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let outcome = client
        .cancel(&cancel_request(&paid.tid, 2_000, false), KEY)
        .await;
    assert!(
        matches!(outcome, CallOutcome::NoAnswer { .. }),
        "{outcome:?}"
    );
    // Applied all the same, and notified.
    assert_eq!(tx(&sb, &paid.tid).status, TxStatus::Cancelled);
    assert!(sb
        .notifications()
        .iter()
        .any(|d| d.notification.state_cd == StateCd::CancelBeforeSettlement));
    // A refused cancel is answered even so.
    let outcome = client
        .cancel(&cancel_request(&paid.tid, 2_000, false), KEY)
        .await;
    match outcome {
        CallOutcome::Answered(r) => assert_eq!(r.result_code, "2013"),
        other => panic!("{other:?}"),
    }
    let started = Instant::now();
    sb.shutdown().await;
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn receipt_api_checks_apikey_and_reports_partial_cancels() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let paid = pay(&sb, &request(PayMethod::Card, 10_000, DEAD_URL)).await;
    let body = serde_json::json!({ "mid": MID, "tid": paid.tid }).to_string();

    let (status, json) = receipt_raw(&sb, None, &body).await;
    assert_eq!(status, 401);
    assert_eq!(json["resultCode"], "R401");
    let (status, json) = receipt_raw(&sb, Some(OTHER_KEY), &body).await;
    assert_eq!(status, 403);
    assert_eq!(json["resultCode"], "R403");
    let other_mid = serde_json::json!({ "mid": "SMTPAY002m", "tid": paid.tid }).to_string();
    let (status, _) = receipt_raw(&sb, Some(OTHER_KEY), &other_mid).await;
    assert_eq!(status, 404, "a TID of another merchant is not found");
    let unknown =
        serde_json::json!({ "mid": MID, "tid": "SMTPAY001m01012401010000000001" }).to_string();
    let (status, json) = receipt_raw(&sb, Some(KEY), &unknown).await;
    assert_eq!(status, 404);
    assert_eq!(json["resultCode"], "R404");
    let (status, _) = receipt_raw(&sb, Some(KEY), "{not json").await;
    assert_eq!(status, 400);

    let endpoints = sb.endpoints();
    let client = match SmartroClient::new(
        endpoints.cancel_url,
        endpoints.receipt_api_url,
        Duration::from_secs(5),
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let receipt: Receipt = match client.receipt(MID, &paid.tid, KEY).await {
        CallOutcome::Answered(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(receipt.tid.as_deref(), Some(paid.tid.as_str()));
    assert_eq!(receipt.moid.as_deref(), Some(paid.oid.as_str()));
    assert_eq!(receipt.state_cd.as_deref(), Some("0"));
    assert_eq!(receipt.goods_amt.as_deref(), Some("10000"));
    assert_eq!(receipt.goods_nm.as_deref(), Some("한글 상품명 테스트"));
    assert_eq!(receipt.app_no, paid.auth_code);
    assert_eq!(receipt.supply_amt.as_deref(), Some("9091"));
    assert_eq!(receipt.vat_amt.as_deref(), Some("909"));
    let card_no = receipt.card_no.clone().unwrap_or_default();
    assert!(card_no.contains("******") && card_no.len() == 16);
    assert!(receipt.part_cancel_info.is_empty());

    assert_eq!(
        cancel(&sb, &paid.tid, 4_000, true).await.result_code,
        "2001"
    );
    let receipt: Receipt = match client.receipt(MID, &paid.tid, KEY).await {
        CallOutcome::Answered(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(receipt.part_cancel_info.len(), 1);
    assert_eq!(
        receipt.part_cancel_info[0].trans_amt.as_deref(),
        Some("4000")
    );
    assert_eq!(receipt.state_cd.as_deref(), Some("0"));
    assert_eq!(
        cancel(&sb, &paid.tid, 6_000, true).await.result_code,
        "2001"
    );
    let receipt: Receipt = match client.receipt(MID, &paid.tid, KEY).await {
        CallOutcome::Answered(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(receipt.state_cd.as_deref(), Some("1"));
    assert_eq!(receipt.part_cancel_info.len(), 2);
    assert!(receipt.cc_no.is_some());
    sb.shutdown().await;
}

#[tokio::test]
async fn receipt_page_shows_own_transactions() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let paid = pay(&sb, &request(PayMethod::Card, 12_345, DEAD_URL)).await;
    let url =
        smartro::receipt::receipt_page_url(&sb.endpoints().receipt_page_url, &paid.tid, false);
    let response = match reqwest::get(&url).await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(response.status().as_u16(), 200);
    let html = response.text().await.unwrap_or_default();
    assert!(
        html.contains("한글 상품명 테스트")
            && html.contains("12,345원")
            && html.contains(&paid.tid)
    );

    let missing =
        smartro::receipt::receipt_page_url(&sb.endpoints().receipt_page_url, "NOPE", false);
    let status = match reqwest::get(&missing).await {
        Ok(r) => r.status().as_u16(),
        Err(e) => panic!("{e}"),
    };
    assert_eq!(status, 404);
    sb.shutdown().await;
}

#[tokio::test]
async fn receipt_api_has_no_record_of_ptids_declines_or_other_merchants() {
    let sb = start(config(Some(AutoDecision::Approve))).await;
    let paid = pay(&sb, &request(PayMethod::Card, 20_000, DEAD_URL)).await;
    let partial = cancel(&sb, &paid.tid, 5_000, true).await;
    assert_eq!(partial.result_code, "2001");
    let ptid = partial.ptid.clone().unwrap_or_default();
    assert_eq!(ptid.len(), 30);

    // The original TID's record is the truth about the order: its Moid, its whole amount, and the partial cancel
    // in partCancelInfo.
    let record = receipt_record(&sb, &paid.tid).await;
    assert_eq!(record.moid.as_deref(), Some(paid.oid.as_str()));
    assert_eq!(record.goods_amt.as_deref(), Some("20000"));
    assert_eq!(record.part_cancel_info.len(), 1);
    assert_eq!(
        record.part_cancel_info[0].trans_amt.as_deref(),
        Some("5000")
    );

    // A PTID names a cancel, not a transaction of its own.
    assert_eq!(receipt_status(&sb, &ptid).await, (404, "R404".to_string()));
    // Another merchant asking (with its own, valid key) for this merchant's TID.
    let other = serde_json::json!({ "mid": "SMTPAY002m", "tid": paid.tid }).to_string();
    let (status, json) = receipt_raw(&sb, Some(OTHER_KEY), &other).await;
    assert_eq!((status, json["resultCode"].as_str()), (404, Some("R404")));
    // A TID the sandbox never made.
    assert_eq!(
        receipt_status(&sb, "SMTPAY001m01012401010000000001").await,
        (404, "R404".to_string())
    );
    sb.shutdown().await;

    // A declined payment: the receipt API lists approvals and cancellations only.
    let sb = start(config(Some(AutoDecision::Decline))).await;
    let declined = pay(&sb, &request(PayMethod::Card, 7_000, DEAD_URL)).await;
    assert_eq!(declined.result_code, "3095");
    assert_eq!(
        sb.state().transaction(&declined.tid).map(|t| t.status),
        Some(TxStatus::Declined)
    );
    assert_eq!(
        receipt_status(&sb, &declined.tid).await,
        (404, "R404".to_string())
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn receipt_api_down_answers_503_until_it_is_back() {
    let sb = start(SandboxConfig {
        faults: Faults {
            receipt_api_down: true,
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    assert!(sb.state().runtime_faults().receipt_api_down);
    let paid = pay(&sb, &request(PayMethod::Card, 3_000, DEAD_URL)).await;
    let body = serde_json::json!({ "mid": MID, "tid": paid.tid }).to_string();

    let (status, json) = receipt_raw(&sb, Some(KEY), &body).await;
    assert_eq!(status, 503);
    assert_eq!(json["resultCode"], "R503");
    assert_eq!(json["resultMsg"], "일시적으로 서비스를 이용할 수 없습니다");
    // Down means down for everyone, whatever they send.
    let (status, _) = receipt_raw(&sb, None, "{not json").await;
    assert_eq!(status, 503);
    // What the gateway's client makes of it: refused with the sandbox's code, no record.
    match receipt(&sb, MID, &paid.tid, KEY).await {
        CallOutcome::Refused { code, .. } => assert_eq!(code, "R503"),
        other => panic!("{other:?}"),
    }

    sb.state().set_receipt_api_down(false);
    let record = receipt_record(&sb, &paid.tid).await;
    assert_eq!(record.moid.as_deref(), Some(paid.oid.as_str()));
    assert_eq!(record.goods_amt.as_deref(), Some("3000"));

    sb.state().set_receipt_api_down(true);
    assert_eq!(receipt_raw(&sb, Some(KEY), &body).await.0, 503);
    sb.shutdown().await;
}

/// Polls the receipt API until it has a record of `tid` (or panics after `within`).
async fn wait_for_record(sb: &Sandbox, tid: &str, within: Duration) -> Receipt {
    let deadline = Instant::now() + within;
    loop {
        if let CallOutcome::Answered(r) = receipt(sb, MID, tid, KEY).await {
            return r;
        }
        assert!(Instant::now() < deadline, "no record of {tid} in time");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn receipt_delay_is_a_run_time_knob_over_every_transaction() {
    let sb = start(SandboxConfig {
        faults: Faults {
            receipt_delay: Duration::from_secs(60),
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    let paid = pay(&sb, &request(PayMethod::Card, 4_000, DEAD_URL)).await;
    // Made a moment ago, shown only after a minute: the same "no record" as for an unknown TID.
    assert_eq!(
        receipt_status(&sb, &paid.tid).await,
        (404, "R404".to_string())
    );
    match receipt(&sb, MID, &paid.tid, KEY).await {
        CallOutcome::Refused { code, .. } => assert_eq!(code, "R404"),
        other => panic!("{other:?}"),
    }
    // The knob applies to transactions made before it changed: without the lag the record is there at once.
    sb.state().set_receipt_delay(Duration::ZERO);
    assert_eq!(sb.state().runtime_faults().receipt_delay, Duration::ZERO);
    let record = receipt_record(&sb, &paid.tid).await;
    assert_eq!(record.moid.as_deref(), Some(paid.oid.as_str()));
    sb.shutdown().await;
}

#[tokio::test]
async fn receipt_delay_holds_back_transactions_and_their_cancels() {
    const DELAY: Duration = Duration::from_millis(1_000);
    let sb = start(SandboxConfig {
        faults: Faults {
            receipt_delay: DELAY,
            ..Faults::default()
        },
        ..config(Some(AutoDecision::Approve))
    })
    .await;
    // Taken before the payment is made, so that it has lived at least as long as this when its record shows.
    let before_payment = Instant::now();
    let paid = pay(&sb, &request(PayMethod::Card, 10_000, DEAD_URL)).await;
    assert_eq!(receipt_status(&sb, &paid.tid).await.0, 404);
    let record = wait_for_record(&sb, &paid.tid, Duration::from_secs(5)).await;
    assert!(before_payment.elapsed() >= DELAY);
    assert_eq!(record.moid.as_deref(), Some(paid.oid.as_str()));
    assert_eq!(record.goods_amt.as_deref(), Some("10000"));
    assert!(record.part_cancel_info.is_empty());

    // A partial cancel: the payment's record stays, its partCancelInfo entry lags behind.
    let before_cancel = Instant::now();
    assert_eq!(
        cancel(&sb, &paid.tid, 4_000, true).await.result_code,
        "2001"
    );
    let record = receipt_record(&sb, &paid.tid).await;
    assert!(
        record.part_cancel_info.is_empty(),
        "{:?}",
        record.part_cancel_info
    );
    assert_eq!(record.state_cd.as_deref(), Some("0"));
    let deadline = before_cancel + Duration::from_secs(5);
    let record = loop {
        let r = receipt_record(&sb, &paid.tid).await;
        if !r.part_cancel_info.is_empty() {
            break r;
        }
        assert!(Instant::now() < deadline, "partCancelInfo never appeared");
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert!(before_cancel.elapsed() >= DELAY);
    assert_eq!(record.part_cancel_info.len(), 1);
    assert_eq!(
        record.part_cancel_info[0].trans_amt.as_deref(),
        Some("4000")
    );

    // Cancelling the rest: the record shows the payment as it stood (not cancelled) until the lag has passed.
    assert_eq!(
        cancel(&sb, &paid.tid, 6_000, true).await.result_code,
        "2001"
    );
    let record = receipt_record(&sb, &paid.tid).await;
    assert_eq!(
        (record.state_cd.as_deref(), record.part_cancel_info.len()),
        (Some("0"), 1)
    );
    assert_eq!(record.cc_no, None);
    sb.state().set_receipt_delay(Duration::ZERO);
    let record = receipt_record(&sb, &paid.tid).await;
    assert_eq!(
        (record.state_cd.as_deref(), record.part_cancel_info.len()),
        (Some("1"), 2)
    );
    assert!(record.cc_no.is_some());
    sb.shutdown().await;
}
