//! Refunds the merchant makes itself (`POST /v1/orders/{order_id}/refunds`) against a real gateway and PostgreSQL:
//! every rule and refusal, the sums they change, and races where money moves.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use smartro::types::{PayMethod, StateCd};

/// A virtual-account order of `amount`, issued and deposited through Smartro's (trusted) notifications.
async fn vbank_paid(app: &TestApp, order_id: &str, amount: i64, n: u32) -> String {
    let mut body = card_order(order_id, amount);
    body["pay_method"] = "VBANK".into();
    app.create_order(body).await;
    let tid = format!("{MID}0301261121120000{n:04}");
    let mut issued = notification(
        order_id,
        &tid,
        amount,
        "4100",
        StateCd::VbankIssued,
        PayMethod::Vbank,
    );
    issued.vbank_num = Some("56211234567890".into());
    issued.vbank_name = Some("국민은행".into());
    issued.fn_cd = Some("004".into());
    issued.pin_no = None;
    assert_eq!(app.inform(issued.to_form_body()).await.1, "OK");
    let deposit = notification(
        order_id,
        &tid,
        amount,
        "4110",
        StateCd::Approval,
        PayMethod::Vbank,
    );
    assert_eq!(app.inform(deposit.to_form_body()).await.1, "OK");
    assert_eq!(app.order(order_id).await["status"], "paid");
    tid
}

/// A card order of `amount`, paid.
async fn card_paid(app: &TestApp, order_id: &str, amount: i64, n: u32) -> String {
    app.create_order(card_order(order_id, amount)).await;
    let tid = tid(n);
    assert_eq!(
        app.inform(card_inform(order_id, &tid, amount)).await.1,
        "OK"
    );
    tid
}

fn refund(amount: i64) -> Value {
    json!({
        "amount": amount,
        "reason": "입금 후 주문 취소",
        "bank_code": "004",
        "account": "110-123-456789",
        "holder": "홍길동",
        "reference": "TR-0001",
    })
}

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn expect_field_problem(response: reqwest::Response, code: &str, field: &str) -> Value {
    let (status, problem) = status_and_body(response).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], code, "{problem}");
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    problem
}

async fn event_types(app: &TestApp, order_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM outbox_events WHERE order_id = $1 ORDER BY seq")
        .bind(order_id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_vbank_refund_is_recorded_on_the_order() {
    let app = spawn_app().await;
    vbank_paid(&app, "RF-1", 30_000, 1).await;

    let response = app
        .post_keyed("/v1/orders/RF-1/refunds", "rf-1-a", &refund(10_000))
        .await;
    let (status, order) = status_and_body(response).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["refunded_amount"], 10_000);
    assert_eq!(order["cancelled_amount"], 0);
    assert_eq!(order["paid_amount"], 30_000);
    let r = &order["refunds"][0];
    assert_eq!(r["amount"], 10_000);
    assert_eq!(r["reason"], "입금 후 주문 취소");
    assert_eq!(r["bank_code"], "004");
    assert_eq!(r["bank_name"], "국민은행");
    assert_eq!(r["account"], "***-***-**6789", "masked in the API");
    assert_eq!(r["holder"], "홍길동");
    assert_eq!(r["reference"], "TR-0001");
    assert_eq!(r["recorded_by"], api_key_id().as_str());
    assert!(r["id"].is_string() && r["created_at"].is_string());
    let stored: String = sqlx::query_scalar("SELECT account FROM refunds")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(stored, "110-123-456789", "stored as given");

    // The same key and body: the first answer again, nothing recorded twice.
    let again = app
        .post_keyed("/v1/orders/RF-1/refunds", "rf-1-a", &refund(10_000))
        .await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.unwrap(), order);
    let other_body = app
        .post_keyed("/v1/orders/RF-1/refunds", "rf-1-a", &refund(5_000))
        .await;
    let (status, problem) = status_and_body(other_body).await;
    assert_eq!(status, 422);
    assert_eq!(problem["code"], "idempotency_key_reused");
    assert_eq!(app.count("SELECT count(*) FROM refunds").await, 1);

    // The rest, without a reference: the order is cancelled by what went back.
    let mut rest = refund(20_000);
    rest.as_object_mut().unwrap().remove("reference");
    let (status, order) =
        status_and_body(app.post_json("/v1/orders/RF-1/refunds", &rest).await).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["refunded_amount"], 30_000);
    assert_eq!(order["refunds"].as_array().unwrap().len(), 2);
    assert!(order["refunds"][1]["reference"].is_null());

    let (status, problem) =
        status_and_body(app.post_json("/v1/orders/RF-1/refunds", &refund(1)).await).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "order_not_refundable");
    assert_eq!(problem["order_status"], "cancelled");

    assert_eq!(
        event_types(&app, "RF-1").await,
        [
            "payment.awaiting_deposit",
            "payment.paid",
            "payment.refunded",
            "payment.refunded"
        ]
    );
    let last: Value = sqlx::query_scalar(
        "SELECT payload FROM outbox_events WHERE order_id = 'RF-1' ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(last["type"], "payment.refunded");
    assert_eq!(last["data"]["order"]["refunded_amount"], 30_000);
    assert_eq!(
        last["data"]["order"]["refunds"][0]["account"],
        "***-***-**6789"
    );
}

#[tokio::test]
async fn refunds_that_are_refused_change_nothing() {
    let app = spawn_app().await;
    let response = app
        .post_json("/v1/orders/NOPE/refunds", &refund(1_000))
        .await;
    assert_eq!(response.status(), 404);

    app.create_order(card_order("RF-2", 10_000)).await;
    let (status, problem) = status_and_body(
        app.post_json("/v1/orders/RF-2/refunds", &refund(1_000))
            .await,
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "order_not_refundable");
    assert_eq!(problem["order_status"], "pending");

    card_paid(&app, "RF-3", 10_000, 3).await;
    let with = |field: &str, value: Value| {
        let mut body = refund(1_000);
        body[field] = value;
        body
    };
    let cases = [
        (with("amount", json!(0)), "validation_failed", "amount"),
        (with("amount", json!(-1)), "validation_failed", "amount"),
        (with("amount", json!(1.5)), "validation_failed", "amount"),
        (
            with("bank_code", json!("999")),
            "validation_failed",
            "bank_code",
        ),
        (
            with("bank_code", json!("")),
            "validation_failed",
            "bank_code",
        ),
        (
            with("account", json!("12ab34567")),
            "validation_failed",
            "account",
        ),
        (
            with("account", json!("12345")),
            "validation_failed",
            "account",
        ),
        (
            with("account", json!("1".repeat(21))),
            "validation_failed",
            "account",
        ),
        (with("reason", json!("  ")), "validation_failed", "reason"),
        (
            with("reason", json!("가".repeat(201))),
            "validation_failed",
            "reason",
        ),
        (with("holder", json!("")), "validation_failed", "holder"),
        (
            with("holder", json!("홍\u{0}길동")),
            "nul_character",
            "holder",
        ),
        (
            with("reference", json!("a\nb")),
            "validation_failed",
            "reference",
        ),
        (with("colour", json!("red")), "validation_failed", "colour"),
    ];
    for (body, code, field) in cases {
        expect_field_problem(
            app.post_json("/v1/orders/RF-3/refunds", &body).await,
            code,
            field,
        )
        .await;
    }
    let mut missing = refund(1_000);
    missing.as_object_mut().unwrap().remove("bank_code");
    expect_field_problem(
        app.post_json("/v1/orders/RF-3/refunds", &missing).await,
        "validation_failed",
        "bank_code",
    )
    .await;

    let problem = expect_field_problem(
        app.post_json("/v1/orders/RF-3/refunds", &refund(10_001))
            .await,
        "validation_failed",
        "amount",
    )
    .await;
    assert_eq!(problem["remaining"], 10_000);

    assert_eq!(app.count("SELECT count(*) FROM refunds").await, 0);
    let order = app.order("RF-3").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["refunded_amount"], 0);
    assert_eq!(order["refunds"], json!([]));
    assert_eq!(event_types(&app, "RF-3").await, ["payment.paid"]);
}

#[tokio::test]
async fn cancels_through_smartro_leave_alone_what_was_refunded() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    let tid = card_paid(&app, "RF-4", 10_000, 4).await;
    let (status, _) = status_and_body(
        app.post_json("/v1/orders/RF-4/refunds", &refund(4_000))
            .await,
    )
    .await;
    assert_eq!(status, 201);

    let (status, problem) = status_and_body(
        app.post_json(
            "/v1/orders/RF-4/cancel",
            &json!({ "amount": 6_001, "reason": "취소" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["remaining"], 6_000);
    assert!(smartro.requests().is_empty(), "refused before Smartro");

    // All that is left: 6,000, a partial cancel of the payment.
    let (status, order) = status_and_body(
        app.post_json(
            "/v1/orders/RF-4/cancel",
            &json!({ "reason": "나머지 취소" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{order}");
    let sent = smartro.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tid, tid);
    assert_eq!(sent[0].cancel_amt, 6_000);
    assert!(sent[0].partial);
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancelled_amount"], 6_000);
    assert_eq!(order["refunded_amount"], 4_000);

    let (status, problem) =
        status_and_body(app.post_json("/v1/orders/RF-4/refunds", &refund(1)).await).await;
    assert_eq!(status, 409, "{problem}");
}

#[tokio::test]
async fn the_table_holds_the_sums_to_what_was_paid() {
    let app = spawn_app().await;
    card_paid(&app, "RF-5", 10_000, 5).await;
    let over = sqlx::query(
        "UPDATE orders SET refunded_amount = 6000, cancelled_amount = 4001 WHERE order_id = 'RF-5'",
    )
    .execute(&app.db.pool)
    .await;
    let err = over.expect_err("cancelled + refunded above paid");
    assert!(err.to_string().contains("cancelled_within_paid"), "{err}");
    let exact = sqlx::query(
        "UPDATE orders SET refunded_amount = 6000, cancelled_amount = 4000 WHERE order_id = 'RF-5'",
    )
    .execute(&app.db.pool)
    .await;
    assert!(exact.is_ok(), "{exact:?}");
    let zero = sqlx::query(
        "INSERT INTO refunds (id, order_id, amount, reason, bank_code, account, holder, recorded_by, created_at)
         VALUES (gen_random_uuid(), 'RF-5', 0, 'x', '004', '1234567', 'x', 'k', now())",
    )
    .execute(&app.db.pool)
    .await;
    assert!(zero.is_err(), "a refund of nothing");
}

#[tokio::test]
async fn refunds_at_once_never_take_more_than_is_left() {
    let app = Arc::new(spawn_app().await);
    card_paid(&app, "RF-6", 10_000, 6).await;
    // Five refunds of 3,000 at once: three fit in 10,000, two cannot.
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                // Five transfers, each with its own reference.
                let mut body = refund(3_000);
                body["reference"] = json!(format!("TR-{i}"));
                app.post_keyed("/v1/orders/RF-6/refunds", &format!("race-{i}"), &body)
                    .await
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 201, 201, 422, 422]);
    let order = app.order("RF-6").await;
    assert_eq!(order["refunded_amount"], 9_000);
    assert_eq!(order["refunds"].as_array().unwrap().len(), 3);
    assert_eq!(
        app.count("SELECT COALESCE(sum(amount), 0)::bigint FROM refunds")
            .await,
        9_000
    );

    // Two that together exceed what is left: one is recorded, the other refused naming the amount.
    card_paid(&app, "RF-7", 10_000, 7).await;
    let send = |key: &'static str| {
        let app = app.clone();
        tokio::spawn(async move {
            status_and_body(
                app.post_keyed("/v1/orders/RF-7/refunds", key, &refund(6_000))
                    .await,
            )
            .await
        })
    };
    let (a, b) = (send("pair-a"), send("pair-b"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 422], "{a:?} {b:?}");
    let refused = if a.0 == 422 { a.1 } else { b.1 };
    assert_eq!(refused["errors"][0]["field"], "amount");
    assert_eq!(refused["remaining"], 4_000);
    assert_eq!(app.order("RF-7").await["refunded_amount"], 6_000);
}

#[tokio::test]
async fn a_refund_racing_a_cancel_never_returns_more_than_was_paid() {
    let smartro = CancelDouble::start().await;
    let app = Arc::new(spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await);
    card_paid(&app, "RF-8", 10_000, 8).await;

    // A cancel of 7,000 is on its way to Smartro: only 3,000 is left to refund meanwhile.
    smartro.hold();
    let cancel = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post_json(
                "/v1/orders/RF-8/cancel",
                &json!({ "amount": 7_000, "reason": "부분 취소" }),
            )
            .await
            .status()
            .as_u16()
        })
    };
    smartro.wait_for(1).await;
    let problem = expect_field_problem(
        app.post_json("/v1/orders/RF-8/refunds", &refund(3_001))
            .await,
        "validation_failed",
        "amount",
    )
    .await;
    assert_eq!(problem["remaining"], 3_000);
    let (status, order) = status_and_body(
        app.post_json("/v1/orders/RF-8/refunds", &refund(3_000))
            .await,
    )
    .await;
    assert_eq!(status, 201, "{order}");
    smartro.release(1);
    assert_eq!(cancel.await.unwrap(), 200);
    let order = app.order("RF-8").await;
    assert_eq!(order["cancelled_amount"], 7_000);
    assert_eq!(order["refunded_amount"], 3_000);
    assert_eq!(order["status"], "cancelled");

    // Sent at the same instant for all that was paid: whichever comes first takes it, the other is refused.
    let smartro = CancelDouble::start().await;
    let app = Arc::new(spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await);
    for round in 0..5u32 {
        let order_id = format!("RF-9-{round}");
        card_paid(&app, &order_id, 10_000, 90 + round).await;
        let cancel = {
            let (app, path) = (app.clone(), format!("/v1/orders/{order_id}/cancel"));
            tokio::spawn(async move {
                app.post_json(&path, &json!({ "reason": "전액 취소" }))
                    .await
                    .status()
                    .as_u16()
            })
        };
        let refund_task = {
            let (app, path) = (app.clone(), format!("/v1/orders/{order_id}/refunds"));
            tokio::spawn(async move {
                app.post_json(&path, &refund(10_000))
                    .await
                    .status()
                    .as_u16()
            })
        };
        let (cancel, refunded) = (cancel.await.unwrap(), refund_task.await.unwrap());
        let order = app.order(&order_id).await;
        let cancelled = order["cancelled_amount"].as_i64().unwrap();
        let refunded_amount = order["refunded_amount"].as_i64().unwrap();
        assert_eq!(cancelled + refunded_amount, 10_000, "{order}");
        match (cancel, refunded) {
            (200, 409 | 422) => assert_eq!(cancelled, 10_000),
            (409, 201) => assert_eq!(refunded_amount, 10_000),
            other => panic!("unexpected pair of answers {other:?}: {order}"),
        }
        assert_eq!(order["status"], "cancelled");
    }
}
