//! Result trust end to end: a real gateway, the sandbox (Smartro's payment window, notification daemon and
//! receipt data API) and PostgreSQL. What an attacker holds after paying a cheap order (the returnPay form in
//! their browser) must not move money anywhere else; a real payment whose confirmation is delayed must still
//! land, once.

mod harness;

use std::time::{Duration, Instant};

use harness::{start, start_with, Options, Stack};
use sandbox::browser::ResultForm;
use serde_json::Value;
use smartro::form::{decode_text, encode_form, Charset};
use smartro::notification::Notification;

/// Posts the order's signed checkout form to the sandbox as the buyer's browser does and returns the
/// auto-submitting result form the browser would post to the gateway's ReturnURL.
async fn result_form_of(stack: &Stack, order: &Value) -> ResultForm {
    let order_id = order["order_id"].as_str().unwrap();
    let token = order["checkout_url"]
        .as_str()
        .unwrap()
        .split("?t=")
        .nth(1)
        .unwrap();
    let form: Value = stack
        .http
        .get(stack.url(&format!("/v1/checkout/{order_id}?t={token}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fields: Vec<(String, String)> = form["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let window = stack
        .http
        .post(form["action_url"].as_str().unwrap())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(encode_form(&pairs, Charset::EucKr))
        .send()
        .await
        .unwrap();
    let html = decode_text(&window.bytes().await.unwrap());
    ResultForm::read(&html).expect("the sandbox's result form")
}

async fn post_return(stack: &Stack, form: &ResultForm) -> reqwest::Response {
    stack
        .http
        .post(&form.action)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.body())
        .send()
        .await
        .unwrap()
}

fn with_field(form: &ResultForm, name: &str, value: &str) -> ResultForm {
    let mut form = form.clone();
    for (k, v) in form.fields.iter_mut() {
        if k == name {
            *v = value.to_string();
        }
    }
    form
}

/// A sandbox whose notification daemon keeps re-sending (every 50 ms) for as long as these tests wait.
async fn start_patient() -> Stack {
    let mut options = Options::default();
    options.sandbox.notify_max_attempts = 400;
    start_with(options).await
}

async fn events_of(stack: &Stack, order_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox_events WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&stack.db.pool)
        .await
        .unwrap()
}

async fn wait_for_status(stack: &Stack, order_id: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let order = stack.order(order_id).await;
        if order["status"] == status {
            return order;
        }
        assert!(Instant::now() < deadline, "never {status}: {order}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_fields_of_a_real_payment_replayed_onto_another_order_change_nothing() {
    let stack = start().await;
    let cheap = stack.create_order("E2E-CHEAP", 1_000, "CARD").await;
    stack.create_order("E2E-EXPENSIVE", 990_000, "CARD").await;

    let real = result_form_of(&stack, &cheap).await;
    let response = post_return(&stack, &real).await;
    assert_eq!(response.status(), 200);
    assert_eq!(stack.order("E2E-CHEAP").await["status"], "paid");
    stack.wait_notified(1).await;

    // The attacker's browser holds the signed result: re-post it for the expensive order.
    let forged = with_field(&with_field(&real, "OID", "E2E-EXPENSIVE"), "Amt", "990000");
    let response = post_return(&stack, &forged).await;
    assert_eq!(response.status(), 400);
    let page = response.text().await.unwrap();
    assert!(
        !page.contains("E2E-EXPENSIVE") && !page.contains("990,000"),
        "{page}"
    );

    // And as Smartro's EUC-KR inform, built from the notification the sandbox really sent for the cheap order.
    let sent = stack.sandbox.notifications()[0].notification.clone();
    let forged_inform = Notification {
        oid: "E2E-EXPENSIVE".into(),
        amt: 990_000,
        ..sent
    };
    let response = stack
        .http
        .post(stack.url("/smartro/inform"))
        .body(forged_inform.to_form_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(response.text().await.unwrap(), "FAIL refuted");

    let victim = stack.order("E2E-EXPENSIVE").await;
    assert_eq!(victim["status"], "pending");
    assert_eq!(victim["paid_amount"], 0);
    assert_eq!(victim["payments"].as_array().unwrap().len(), 0);
    assert_eq!(events_of(&stack, "E2E-EXPENSIVE").await, 0);
    assert_eq!(
        stack
            .count("SELECT count(*) FROM notifications WHERE outcome = 'refuted'")
            .await,
        2
    );
}

#[tokio::test]
async fn with_the_receipt_api_down_a_real_payment_waits_then_settles_once() {
    let stack = start_patient().await;
    let order = stack.create_order("E2E-DOWN", 25_000, "CARD").await;
    stack.sandbox.state().set_receipt_api_down(true);

    let response = post_return(&stack, &result_form_of(&stack, &order).await).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("결제 확인 중"), "{page}");
    assert!(!page.contains("테스트 상품"), "{page}");
    // Smartro's daemon is told to come back: its deliveries are refused while nothing can be confirmed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stack
        .sandbox
        .notifications()
        .iter()
        .any(|n| n.last_status == Some(503))
    {
        assert!(
            Instant::now() < deadline,
            "{:?}",
            stack.sandbox.notifications()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let waiting = stack.order("E2E-DOWN").await;
    assert_eq!(waiting["status"], "pending");
    assert_eq!(waiting["payments"].as_array().unwrap().len(), 0);

    stack.sandbox.state().set_receipt_api_down(false);
    // Time passes: the daemon's next delivery is looked up again (re-sends within seconds of a check share it).
    stack.clock.advance(chrono::Duration::seconds(15));
    let paid = wait_for_status(&stack, "E2E-DOWN", "paid").await;
    assert_eq!(paid["paid_amount"], 25_000);
    assert_eq!(paid["payments"].as_array().unwrap().len(), 1);
    assert_eq!(events_of(&stack, "E2E-DOWN").await, 1);
    assert_eq!(
        stack
            .count("SELECT count(*) FROM notifications WHERE outcome = 'unconfirmed'")
            .await,
        0,
        "every delivery of the result is settled"
    );
}

#[tokio::test]
async fn a_receipt_api_that_lags_behind_is_waited_for() {
    let stack = start_patient().await;
    let order = stack.create_order("E2E-LAG", 8_000, "CARD").await;
    stack
        .sandbox
        .state()
        .set_receipt_delay(Duration::from_millis(700));
    let response = post_return(&stack, &result_form_of(&stack, &order).await).await;
    let page = response.text().await.unwrap();
    assert!(page.contains("결제 확인 중"), "{page}");
    let token: String =
        sqlx::query_scalar("SELECT follow_token FROM notifications WHERE follow_token IS NOT NULL")
            .fetch_one(&stack.db.pool)
            .await
            .unwrap();

    // Smartro's books catch up; by the daemon's next re-send after that, a new lookup is due.
    tokio::time::sleep(Duration::from_millis(800)).await;
    stack.clock.advance(chrono::Duration::seconds(15));
    let paid = wait_for_status(&stack, "E2E-LAG", "paid").await;
    assert_eq!(paid["payments"].as_array().unwrap().len(), 1);
    assert_eq!(events_of(&stack, "E2E-LAG").await, 1);
    // The buyer's page, reloading, now shows the confirmed result.
    let page = stack
        .http
        .get(stack.url(&format!("/smartro/return/status?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("결제가 완료되었습니다"));
}
