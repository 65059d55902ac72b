//! returnPay and inform against a real gateway and PostgreSQL: verification, exactly-once, races.

mod common;

use common::*;
use serde_json::Value;
use smartro::types::{EncodingType, PayMethod, StateCd};

#[tokio::test]
async fn an_inform_marks_the_order_paid_once_and_answers_ok() {
    let app = spawn_app().await;
    app.create_order(card_order("INF-1", 1004)).await;
    let tid = tid(1);
    let (status, body) = app.inform(card_inform("INF-1", &tid, 1004)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));

    let order = app.order("INF-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 1004);
    assert_eq!(order["tid"], tid.as_str());
    assert_eq!(order["result_code"], "3001");
    assert!(order["paid_at"].is_string());
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    assert_eq!(order["payments"][0]["source"], "inform");
    assert_eq!(order["payments"][0]["auth_code"], "30001234");
    assert_eq!(order["card"]["issuer_name"], "삼성");
    assert_eq!(
        order["card"]["masked_number"], "411111******1111",
        "a full card number is never stored"
    );

    // the same notification again: OK, nothing changes
    let (status, body) = app.inform(card_inform("INF-1", &tid, 1004)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.paid'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'duplicate'")
            .await,
        1
    );
    let event: Value = sqlx::query_scalar("SELECT payload FROM outbox_events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(event["type"], "payment.paid");
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(event["data"]["order"]["status"], "paid");
    assert_eq!(event["data"]["order"]["order_id"], "INF-1");
}

#[tokio::test]
async fn bad_informs_are_refused_and_kept_raw() {
    let app = spawn_app().await;
    app.create_order(card_order("INF-BAD", 1000)).await;

    // a forged SignValue
    let mut forged = notification(
        "INF-BAD",
        &tid(2),
        1000,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    forged.sign_value = smartro::sign::sign_value(&tid(2), "3001", KEY2);
    let (status, body) = app.inform(forged.to_form_body()).await;
    assert_eq!(status, 403);
    assert!(!body.contains("OK"));

    // an unknown MID
    let mut stranger = notification(
        "INF-BAD",
        &tid(3),
        1000,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    stranger.mid = "SMTPAY999m".into();
    let (status, body) = app.inform(stranger.to_form_body()).await;
    assert_eq!(status, 403);
    assert!(!body.contains("OK"));

    // an unknown order
    let (status, body) = app
        .inform(card_inform("NO-SUCH-ORDER", &tid(4), 1000))
        .await;
    assert_eq!(status, 404);
    assert!(!body.contains("OK"));

    // not a notification at all
    let (status, _) = app.inform(b"hello=world&%ff%fe=\xff".to_vec()).await;
    assert_eq!(status, 400);
    let (status, _) = app.inform(Vec::new()).await;
    assert_eq!(status, 400);

    assert_eq!(app.order("INF-BAD").await["status"], "pending");
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 0);
    let outcomes: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT outcome, body FROM notifications ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    let names: Vec<&str> = outcomes.iter().map(|(o, _)| o.as_str()).collect();
    assert_eq!(
        names,
        [
            "bad_signature",
            "unknown_merchant",
            "unknown_order",
            "malformed",
            "malformed"
        ]
    );
    assert_eq!(
        outcomes[0].1,
        forged.to_form_body(),
        "raw bytes kept for audit"
    );
}

/// SignValue covers only the TID and the ResultCode, so whoever saw a result can send it again with a NUL in
/// another field. PostgreSQL cannot hold NUL in text: such a message is malformed (and kept raw), never a
/// database failure that would answer 503 and have Smartro re-send it forever.
#[tokio::test]
async fn a_nul_character_in_a_signed_result_is_malformed_not_an_outage() {
    let app = spawn_app().await;
    app.create_order(card_order("NUL-1", 1000)).await;
    let mut inform = notification(
        "NUL-1",
        &tid(6),
        1000,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    inform.result_msg = "카드\0결제 성공".into();
    let (status, body) = app.inform(inform.to_form_body()).await;
    assert_eq!((status, body.as_str()), (400, "FAIL malformed"));

    let mut result = payment_result("NUL-1", &tid(6), 1000, "3001");
    result.goods_name = "테스트\0상품".into();
    // UTF-8 with UrlEncode=Y: the NUL travels as `%2500`, and is found behind the second layer.
    let response = app
        .return_pay(result.to_form_body(EncodingType::Utf8, true))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("읽을 수 없습니다"));

    assert_eq!(app.order("NUL-1").await["status"], "pending");
    let outcomes: Vec<(String, String)> =
        sqlx::query_as("SELECT outcome, detail FROM notifications ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(outcomes.len(), 2, "both kept raw: {outcomes:?}");
    for (outcome, detail) in &outcomes {
        assert_eq!(outcome, "malformed");
        assert!(detail.contains("NUL"), "{detail}");
    }
}

#[tokio::test]
async fn an_amount_that_disagrees_needs_review_and_is_not_paid() {
    let app = spawn_app().await;
    app.create_order(card_order("INF-AMT", 50_000)).await;
    let (status, body) = app.inform(card_inform("INF-AMT", &tid(5), 500)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    let order = app.order("INF-AMT").await;
    assert_eq!(order["status"], "needs_review");
    assert_eq!(order["paid_amount"], 0);
    assert!(order["review_reason"].as_str().unwrap().contains("amount"));
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.needs_review'")
            .await,
        1
    );
}

#[tokio::test]
async fn vbank_issue_then_deposit_through_informs() {
    let app = spawn_app().await;
    let mut body = card_order("VB-1", 30_000);
    body["pay_method"] = "VBANK".into();
    let order = app.create_order(body).await;
    assert_eq!(order["vbank"]["expires"].as_str().unwrap().len(), 8);

    let tid = format!("{MID}0301261121120000{:04}", 7);
    let mut issued = notification(
        "VB-1",
        &tid,
        30_000,
        "4100",
        StateCd::VbankIssued,
        PayMethod::Vbank,
    );
    issued.vbank_num = Some("56211234567890".into());
    issued.vbank_name = Some("국민은행".into());
    issued.fn_cd = Some("004".into());
    issued.pin_no = None;
    assert_eq!(app.inform(issued.to_form_body()).await.1, "OK");
    let order = app.order("VB-1").await;
    assert_eq!(order["status"], "awaiting_deposit");
    assert_eq!(order["vbank"]["account"], "56211234567890");
    assert_eq!(order["vbank"]["bank_name"], "국민은행");
    assert_eq!(order["vbank"]["bank_code"], "004");

    let deposit = notification(
        "VB-1",
        &tid,
        30_000,
        "4110",
        StateCd::Approval,
        PayMethod::Vbank,
    );
    assert_eq!(app.inform(deposit.to_form_body()).await.1, "OK");
    let order = app.order("VB-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 30_000);
    assert_eq!(
        order["payments"].as_array().unwrap().len(),
        1,
        "one row per TID"
    );
    assert_eq!(order["payments"][0]["result_code"], "4110");
    let types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM outbox_events ORDER BY seq")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(types, ["payment.awaiting_deposit", "payment.paid"]);
}

#[tokio::test]
async fn a_partial_cancel_notified_by_smartro() {
    let app = spawn_app().await;
    app.create_order(card_order("CX-1", 10_000)).await;
    let tid = tid(8);
    assert_eq!(app.inform(card_inform("CX-1", &tid, 10_000)).await.1, "OK");
    let ptid = format!("{MID}0101261121130000{:04}", 9);
    let mut cancel = notification(
        "CX-1",
        &ptid,
        4_000,
        "2001",
        StateCd::CancelBeforeSettlement,
        PayMethod::Card,
    );
    cancel.otid = Some(tid.clone());
    assert_eq!(app.inform(cancel.to_form_body()).await.1, "OK");
    assert_eq!(app.inform(cancel.to_form_body()).await.1, "OK");
    let order = app.order("CX-1").await;
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["cancelled_amount"], 4_000);
    assert_eq!(order["cancellations"].as_array().unwrap().len(), 1);
    assert_eq!(order["cancellations"][0]["ptid"], ptid.as_str());
    assert_eq!(order["cancellations"][0]["origin"], "smartro");
    assert_eq!(order["cancellations"][0]["partial"], true);
}

#[tokio::test]
async fn return_pay_redirects_to_the_shop_with_the_status() {
    let app = spawn_app().await;
    let mut body = card_order("RET-1", 1004);
    body["return_url"] = "https://shop.example.com/done?from=gw".into();
    app.create_order(body).await;
    app.smartro.knows(&tid(10), "RET-1", 1004);
    let response = app.return_pay(card_return("RET-1", &tid(10), 1004)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://shop.example.com/done?from=gw&order_id=RET-1&status=paid"
    );
    let order = app.order("RET-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payments"][0]["source"], "return");
}

#[tokio::test]
async fn return_pay_without_return_url_shows_a_result_page() {
    let app = spawn_app().await;
    app.create_order(card_order("RET-2", 1004)).await;
    app.smartro.knows(&tid(11), "RET-2", 1004);
    let response = app.return_pay(card_return("RET-2", &tid(11), 1004)).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("결제가 완료되었습니다"), "{html}");
    assert!(html.contains("테스트 상품"));
    assert!(html.contains("data-status=\"paid\""));
}

#[tokio::test]
async fn return_pay_with_a_bad_signature_changes_nothing() {
    let app = spawn_app().await;
    app.create_order(card_order("RET-3", 1004)).await;
    let mut result = payment_result("RET-3", &tid(12), 1004, "3001");
    result.amt = 1;
    let body = result.to_form_body(smartro::types::EncodingType::Utf8, true);
    // SignValue covers TID and ResultCode only, so tamper with those to forge
    let forged = body.replace(&tid(12), &tid(13));
    let response = app.return_pay(forged).await;
    assert_eq!(response.status(), 400);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("확인할 수 없습니다"));
    assert_eq!(app.order("RET-3").await["status"], "pending");
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 0);
}

#[tokio::test]
async fn a_failed_payment_is_kept_and_the_order_stays_payable() {
    let app = spawn_app().await;
    app.create_order(card_order("RET-4", 1004)).await;
    // Through the buyer's browser a failure cannot be confirmed (the receipt API lists approvals and cancels
    // only): it is kept raw, the buyer sees the signed code, and the order does not change.
    let body = payment_result("RET-4", &tid(14), 1004, "3011")
        .to_form_body(smartro::types::EncodingType::Utf8, true);
    let response = app.return_pay(body).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("결제가 완료되지 않았습니다"), "{html}");
    assert!(html.contains("3011"), "{html}");
    assert!(
        !html.contains("홍길동") && !html.contains("테스트 상품"),
        "{html}"
    );
    let order = app.order("RET-4").await;
    assert_eq!(order["status"], "pending");
    assert!(order["result_code"].is_null());
    assert_eq!(order["payments"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'unconfirmed' AND next_check_at IS NULL")
            .await,
        1,
        "kept, and not chased"
    );
    // From Smartro's notifier the same failure is confirmed and recorded.
    let failed = notification(
        "RET-4",
        &tid(14),
        1004,
        "3011",
        StateCd::Approval,
        PayMethod::Card,
    );
    assert_eq!(app.inform(failed.to_form_body()).await.1, "OK");
    let order = app.order("RET-4").await;
    assert_eq!(order["status"], "pending");
    assert_eq!(order["result_code"], "3011");
    assert_eq!(order["payments"][0]["success"], false);
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.failed'")
            .await,
        1
    );
    // then the retry succeeds
    assert_eq!(
        app.inform(card_inform("RET-4", &tid(15), 1004)).await.1,
        "OK"
    );
    assert_eq!(app.order("RET-4").await["status"], "paid");
}

/// 20 identical informs and 4 returnPays of one payment at once: one payment, one event, every inform `OK`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_same_payment_delivered_24_times_at_once_is_applied_once() {
    let app = spawn_app().await;
    app.create_order(card_order("RACE-1", 77_000)).await;
    let tid = tid(16);
    app.smartro.knows(&tid, "RACE-1", 77_000);
    let inform = card_inform("RACE-1", &tid, 77_000);
    let ret = card_return("RACE-1", &tid, 77_000);
    let mut informs = Vec::new();
    let mut returns = Vec::new();
    for _ in 0..20 {
        let (http, url, body) = (app.http.clone(), app.url("/smartro/inform"), inform.clone());
        informs.push(tokio::spawn(async move {
            let r = http.post(url).body(body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    for _ in 0..4 {
        let (http, url, body) = (app.http.clone(), app.url("/smartro/return"), ret.clone());
        returns.push(tokio::spawn(async move {
            http.post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in informs {
        assert_eq!(t.await.unwrap(), (200, "OK".to_string()));
    }
    for t in returns {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM outbox_events").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM applied_results").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 24);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'applied'")
            .await,
        1
    );
    let order = app.order("RACE-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 77_000);
}

#[tokio::test]
async fn informs_get_503_when_the_database_is_down() {
    let app = spawn_app().await;
    app.create_order(card_order("DOWN-1", 1000)).await;
    // A gateway whose database has gone away: every pool acquisition fails.
    let dead = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy("postgres://gateway@127.0.0.1:1/none")
        .unwrap();
    let settings = test_settings(&[]);
    let gateway = gateway::app::Gateway::start(
        std::sync::Arc::new(settings),
        dead,
        std::sync::Arc::new(app.clock.clone()),
    )
    .await
    .unwrap();
    let r = app
        .http
        .post(format!("{}/smartro/inform", gateway.url()))
        .body(card_inform("DOWN-1", &tid(17), 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(!r.text().await.unwrap().contains("OK"));
    let ready = app
        .http
        .get(format!("{}/readyz", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let live = app
        .http
        .get(format!("{}/healthz", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), 200);
    let api = app
        .http
        .get(format!("{}/v1/orders", gateway.url()))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 503);
    gateway.shutdown().await.unwrap();
}

/// The production pool hands out a connection used less than a second ago without asking the database first. When
/// the database drops every connection at once (a restart, a failover), what arrives in the next moment meets a
/// dead connection: an inform must then never be answered `OK` without its record, Smartro's re-send is applied
/// once, and an order created under an Idempotency-Key meanwhile exists once, whatever its first answer was.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn right_after_the_database_dropped_every_connection_nothing_is_acknowledged_unrecorded() {
    use std::str::FromStr;
    let app = spawn_app().await;
    let settings = test_settings(&[
        ("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.1/32"),
        (
            "GATEWAY__SMARTRO__RECEIPT_API_URL",
            app.smartro.url.as_str(),
        ),
    ]);
    let options = sqlx::postgres::PgConnectOptions::from_str(&app.db.url)
        .unwrap()
        .application_name("pool_under_test");
    let pool = gateway::app::pool_options(&settings)
        .connect_with(options)
        .await
        .unwrap();
    let gateway = gateway::app::Gateway::start(
        std::sync::Arc::new(settings),
        pool,
        std::sync::Arc::new(app.clock.clone()),
    )
    .await
    .unwrap();
    let base = gateway.url();
    let inform = |body: Vec<u8>| {
        let (http, to) = (app.http.clone(), format!("{base}/smartro/inform"));
        async move {
            let r = http.post(to).body(body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let create = |key: String, order_id: String| {
        let (http, to) = (app.http.clone(), format!("{base}/v1/orders"));
        async move {
            let r = http
                .post(to)
                .bearer_auth(API_KEY)
                .header("idempotency-key", key)
                .json(&card_order(&order_id, 1000))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        }
    };
    for i in 0..5u32 {
        assert_eq!(create(format!("W{i}"), format!("WARM-{i}")).await, 201);
    }
    // Several connections opened and used at once, so that all of them are idle for less than a second.
    let warm: Vec<_> = (1..5u32)
        .map(|i| {
            tokio::spawn(inform(card_inform(
                &format!("WARM-{i}"),
                &tid(40 + i),
                1000,
            )))
        })
        .collect();
    for t in warm {
        assert_eq!(t.await.unwrap(), (200, "OK".to_string()));
    }
    let drop_all = || async {
        // The connections open now; the pool may open new ones meanwhile (its workers tick), which are not waited for.
        let pids: Vec<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'pool_under_test'",
        )
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
        sqlx::query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid")
            .bind(&pids)
            .execute(&app.db.pool)
            .await
            .unwrap();
        while sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])",
        )
        .bind(&pids)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
            > 0
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };

    drop_all().await;
    let t = tid(50);
    let body = card_inform("WARM-0", &t, 1000);
    let first = inform(body.clone()).await;
    eprintln!("inform right after the drop: {first:?}");
    let applied = format!(
        "SELECT count(*) FROM applied_results a JOIN notifications n ON n.id = a.notification_id
         WHERE n.tid = '{t}' AND n.outcome = 'applied'"
    );
    if first.1 == "OK" {
        assert_eq!(app.count(&applied).await, 1, "acknowledged, so recorded");
    } else {
        assert_eq!(
            app.count(&applied).await,
            0,
            "not acknowledged, not applied"
        );
    }
    let mut answer = first;
    for _ in 0..5 {
        if answer.1 == "OK" {
            break;
        }
        answer = inform(body.clone()).await;
    }
    assert_eq!(answer, (200, "OK".to_string()), "Smartro's re-send");
    assert_eq!(app.count(&applied).await, 1);
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM payments WHERE tid = '{t}'"))
            .await,
        1
    );

    drop_all().await;
    let first = create("K-AFTER-DROP".into(), "DROP-1".into()).await;
    eprintln!("keyed create right after the drop: {first}");
    let mut status = first;
    for _ in 0..5 {
        if status == 201 {
            break;
        }
        status = create("K-AFTER-DROP".into(), "DROP-1".into()).await;
    }
    assert_eq!(status, 201);
    assert_eq!(
        create("K-AFTER-DROP".into(), "DROP-1".into()).await,
        201,
        "replayed"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM orders WHERE order_id = 'DROP-1'")
            .await,
        1
    );
    gateway.shutdown().await.unwrap();
}

/// A webhook shows the order exactly as it was stored with it: an inform applied in one transaction renders the
/// event from what it computed, not from a read of the rows, so the two are compared field by field (at a moment
/// with nanoseconds, which PostgreSQL does not keep), for a new payment, its details, a payment row updated in
/// place, and an amount put under review.
#[tokio::test]
async fn each_webhook_shows_the_order_exactly_as_the_api_reads_it_back() {
    let app = spawn_app().await;
    let last_event = |order_id: &'static str| {
        let pool = app.db.pool.clone();
        async move {
            sqlx::query_scalar::<_, Value>(
                "SELECT payload->'data'->'order' FROM outbox_events WHERE order_id = $1
                 ORDER BY seq DESC LIMIT 1",
            )
            .bind(order_id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let tick = || {
        app.clock
            .advance(chrono::Duration::nanoseconds(1_234_567_891))
    };

    app.create_order(card_order("WH-CARD", 12_000)).await;
    tick();
    assert_eq!(
        app.inform(card_inform("WH-CARD", &tid(60), 12_000)).await.1,
        "OK"
    );
    assert_eq!(last_event("WH-CARD").await, app.order("WH-CARD").await);

    app.create_order(card_order("WH-AMT", 50_000)).await;
    tick();
    assert_eq!(
        app.inform(card_inform("WH-AMT", &tid(61), 500)).await.1,
        "OK"
    );
    let order = app.order("WH-AMT").await;
    assert_eq!(order["status"], "needs_review");
    assert_eq!(last_event("WH-AMT").await, order);

    let mut body = card_order("WH-VB", 30_000);
    body["pay_method"] = "VBANK".into();
    app.create_order(body).await;
    let vtid = format!("{MID}0301261121120000{:04}", 62);
    let mut issued = notification(
        "WH-VB",
        &vtid,
        30_000,
        "4100",
        StateCd::VbankIssued,
        PayMethod::Vbank,
    );
    issued.vbank_num = Some("56211234567890".into());
    issued.vbank_name = Some("국민은행".into());
    issued.fn_cd = Some("004".into());
    issued.pin_no = None;
    tick();
    assert_eq!(app.inform(issued.to_form_body()).await.1, "OK");
    assert_eq!(last_event("WH-VB").await, app.order("WH-VB").await);
    let mut deposit = notification(
        "WH-VB",
        &vtid,
        30_000,
        "4110",
        StateCd::Approval,
        PayMethod::Vbank,
    );
    deposit.auth_code = None;
    deposit.receipt_type = Some("1".into());
    deposit.rcpt_app_no = Some("123456789".into());
    tick();
    assert_eq!(app.inform(deposit.to_form_body()).await.1, "OK");
    let order = app.order("WH-VB").await;
    assert_eq!(order["status"], "paid");
    assert!(order.to_string().contains("123456789"), "{order}");
    assert_eq!(last_event("WH-VB").await, order);
}

/// A buyer who paid one order twice (two TIDs), both approvals delivered by Smartro's daemon at the same moment,
/// several times each: each result is applied once, both payments are kept, and the money is counted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_approvals_of_one_order_racing_are_each_applied_once_and_counted_once() {
    let app = spawn_app().await;
    app.create_order(card_order("TWICE-1", 9_000)).await;
    let (a, b) = (tid(70), tid(71));
    let mut tasks = Vec::new();
    for i in 0..12 {
        let t = if i % 2 == 0 { &a } else { &b };
        let (http, url, body) = (
            app.http.clone(),
            app.url("/smartro/inform"),
            card_inform("TWICE-1", t, 9_000),
        );
        tasks.push(tokio::spawn(async move {
            let r = http.post(url).body(body).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), (200, "OK".to_string()));
    }
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 2);
    assert_eq!(app.count("SELECT count(*) FROM applied_results").await, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'applied'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'duplicate'")
            .await,
        10
    );
    assert_eq!(
        app.count("SELECT count(*) FROM tid_bindings WHERE order_id = 'TWICE-1'")
            .await,
        2
    );
    let order = app.order("TWICE-1").await;
    assert_eq!(order["paid_amount"], 9_000, "{order}");
    assert_eq!(order["status"], "needs_review", "{order}");
}
