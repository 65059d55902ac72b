//! Cancels and receipts: the gateway against the sandbox, every rule of the contract.

mod harness;

use std::time::Duration;

use gateway::clock::Clock;
use harness::*;
use reqwest::Method;
use sandbox::{AutoDecision, Faults, SandboxConfig};
use serde_json::json;

fn cancels_seen_by_smartro(stack: &Stack, tid: &str) -> usize {
    stack
        .sandbox
        .transactions()
        .iter()
        .find(|t| t.tid == tid)
        .map(|t| t.cancels.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn a_payment_through_the_sandbox_is_paid_once_from_both_channels() {
    let stack = start().await;
    let order = stack.create_order("E2E-PAY-1", 1004, "CARD").await;
    let paid = stack.pay(&order).await;
    assert_eq!(paid["status"], "paid");
    stack.wait_notified(1).await;
    let order = stack.order("E2E-PAY-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    assert_eq!(stack.count("SELECT count(*) FROM outbox_events").await, 1);
    // returnPay and inform carry the same result: whichever came second was recognised as a duplicate
    assert_eq!(
        stack
            .count("SELECT count(*) FROM notifications WHERE outcome = 'applied'")
            .await,
        1
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM notifications WHERE outcome = 'duplicate'")
            .await,
        1
    );
    let tx = &stack.sandbox.transactions()[0];
    assert_eq!(tx.goods_name, "테스트 상품");
    assert_eq!(tx.buyer_name, "홍길동");
    assert_eq!(order["tid"], tx.tid.as_str());
}

#[tokio::test]
async fn a_full_cancel() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-CX-1", 1004, "CARD").await)
        .await;
    let tid = order["tid"].as_str().unwrap().to_string();
    let (status, cancelled) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-1/cancel",
            Some(json!({ "reason": "고객 요청" })),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancelled_amount"], 1004);
    let c = &cancelled["cancellations"][0];
    assert_eq!(c["status"], "succeeded");
    assert_eq!(c["partial"], false);
    assert_eq!(c["result_code"], "2001");
    assert_eq!(c["reason"], "고객 요청");
    let tx = stack
        .sandbox
        .transactions()
        .into_iter()
        .find(|t| t.tid == tid)
        .unwrap();
    assert_eq!(tx.cancelled_amt, 1004);
    assert_eq!(
        tx.cancels[0].msg, "고객 요청",
        "the Korean reason reached Smartro intact"
    );

    // Smartro's own notification of this cancel is matched, never added
    stack.wait_notified(2).await;
    let order = stack.order("E2E-CX-1").await;
    assert_eq!(order["cancelled_amount"], 1004);
    assert_eq!(order["cancellations"].as_array().unwrap().len(), 1);
    assert_eq!(
        stack
            .count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.cancelled'")
            .await,
        1
    );

    // nothing is left
    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-1/cancel",
            Some(json!({ "reason": "again" })),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 1);
}

#[tokio::test]
async fn partial_cancels_then_the_rest() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-CX-2", 10_000, "CARD").await)
        .await;
    let tid = order["tid"].as_str().unwrap().to_string();
    let (status, after) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-2/cancel",
            Some(json!({ "amount": 3000, "reason": "partial" })),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "partially_cancelled");
    assert_eq!(after["cancelled_amount"], 3000);
    assert_eq!(after["cancellations"][0]["partial"], true);
    let ptid = after["cancellations"][0]["ptid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(ptid, tid);

    // more than is left is refused without calling Smartro
    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-2/cancel",
            Some(json!({ "amount": 7001, "reason": "too much" })),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "amount");
    assert_eq!(problem["remaining"], 7000);
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 1);

    // the rest, with no amount, is still a partial cancel (PartialCancelCode 1)
    let (status, after) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-2/cancel",
            Some(json!({ "reason": "rest" })),
        )
        .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "cancelled");
    assert_eq!(after["cancelled_amount"], 10_000);
    assert_eq!(after["cancellations"][1]["partial"], true);
    assert_eq!(after["cancellations"][1]["amount"], 7000);

    stack.wait_notified(3).await;
    let order = stack.order("E2E-CX-2").await;
    assert_eq!(order["cancelled_amount"], 10_000);
    assert_eq!(order["cancellations"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_repeated_cancel_with_an_idempotency_key_reaches_smartro_once() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-CX-3", 5000, "CARD").await)
        .await;
    let tid = order["tid"].as_str().unwrap().to_string();
    let send = || {
        stack
            .http
            .post(stack.url("/v1/orders/E2E-CX-3/cancel"))
            .bearer_auth(API_KEY)
            .header("idempotency-key", "cancel-once")
            .json(&json!({ "amount": 1000, "reason": "once" }))
            .send()
    };
    let first = send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first: serde_json::Value = first.json().await.unwrap();
    let second = send().await.unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: serde_json::Value = second.json().await.unwrap();
    assert_eq!(first, second);
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 1);
    assert_eq!(stack.order("E2E-CX-3").await["cancelled_amount"], 1000);
}

#[tokio::test]
async fn smartro_refusing_is_a_502_with_its_code() {
    let stack = start_with(Options {
        gateway_env: vec![(
            "GATEWAY__MERCHANTS__0__CANCEL_PASSWORD".into(),
            "999999".into(),
        )],
        ..Options::default()
    })
    .await;
    let order = stack
        .pay(&stack.create_order("E2E-CX-4", 5000, "CARD").await)
        .await;
    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-4/cancel",
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 502, "{problem}");
    assert_eq!(problem["code"], "smartro_refused");
    assert_eq!(problem["smartro_code"], "2024");
    assert!(problem["smartro_message"]
        .as_str()
        .unwrap()
        .chars()
        .any(|c| ('가'..='힣').contains(&c)));
    let after = stack.order("E2E-CX-4").await;
    assert_eq!(after["status"], "paid");
    assert_eq!(after["cancelled_amount"], 0);
    assert_eq!(after["cancellations"][0]["status"], "failed");
    assert_eq!(after["cancellations"][0]["result_code"], "2024");
    assert_eq!(order["tid"], after["tid"]);
}

#[tokio::test]
async fn no_answer_is_a_504_kept_unknown_and_blocks_further_cancels_until_smartro_notifies() {
    let stack = start_with(Options {
        sandbox: SandboxConfig {
            auto: Some(AutoDecision::Approve),
            faults: Faults {
                cancel_no_answer: true,
                // Smartro's daemon is late: the cancel's notification comes well after our call gave up.
                notify_delay: Duration::from_millis(2500),
                ..Faults::default()
            },
            ..SandboxConfig::for_tests(Duration::from_millis(50))
        },
        gateway_env: vec![("GATEWAY__SMARTRO__TIMEOUT_SECS".into(), "1".into())],
    })
    .await;
    let order = stack
        .pay(&stack.create_order("E2E-CX-5", 8000, "CARD").await)
        .await;
    let tid = order["tid"].as_str().unwrap().to_string();
    stack.wait_notified(1).await;

    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-5/cancel",
            Some(json!({ "amount": 2000, "reason": "timeout" })),
        )
        .await;
    assert_eq!(status, 504, "{problem}");
    assert_eq!(problem["code"], "smartro_no_answer");
    let order = stack.order("E2E-CX-5").await;
    assert_eq!(order["cancellations"][0]["status"], "unknown");

    // while the outcome is unknown, no second cancel is sent
    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-5/cancel",
            Some(json!({ "amount": 1000, "reason": "again" })),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "cancellation_outcome_unknown");
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 1);

    // Smartro did cancel; its notification settles the unknown cancellation instead of adding another
    stack.wait_notified(2).await;
    let order = stack.order("E2E-CX-5").await;
    assert_eq!(order["cancellations"].as_array().unwrap().len(), 1);
    assert_eq!(order["cancellations"][0]["status"], "succeeded");
    assert_eq!(order["cancelled_amount"], 2000);
    assert_eq!(order["status"], "partially_cancelled");
}

#[tokio::test]
async fn orders_that_cannot_be_cancelled() {
    let stack = start().await;
    stack.create_order("E2E-CX-6", 1000, "CARD").await;
    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-6/cancel",
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 409);
    assert_eq!(problem["code"], "order_not_cancellable");

    let (status, _) = stack
        .api(
            Method::POST,
            "/v1/orders/NOPE/cancel",
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 404);

    let order = stack
        .pay(&stack.create_order("E2E-CX-7", 1000, "CARD").await)
        .await;
    assert_eq!(order["status"], "paid");
    for (body, field) in [
        (json!({ "reason": "" }), "reason"),
        (json!({ "reason": "가".repeat(34) }), "reason"),
        (json!({ "amount": 0, "reason": "x" }), "amount"),
        (json!({ "amount": -5, "reason": "x" }), "amount"),
        (json!({ "amount": "all", "reason": "x" }), "amount"),
        (json!({ "amount": 10 }), "reason"),
    ] {
        let (status, problem) = stack
            .api(
                Method::POST,
                "/v1/orders/E2E-CX-7/cancel",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body} → {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    assert_eq!(
        cancels_seen_by_smartro(&stack, order["tid"].as_str().unwrap()),
        0
    );
}

#[tokio::test]
async fn vbank_payments_are_refunded_by_the_merchant_not_cancelled() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-VB-1", 20_000, "VBANK").await)
        .await;
    assert_eq!(order["status"], "awaiting_deposit");
    assert!(order["vbank"]["account"].is_string(), "{order}");
    let tid = order["tid"].as_str().unwrap().to_string();
    let deposit = stack
        .http
        .post(stack.sandbox.endpoints().vbank_deposit_url.unwrap())
        .form(&[("TID", tid.as_str())])
        .send()
        .await
        .unwrap();
    assert!(deposit.status().is_success());
    stack.wait_notified(2).await;
    let order = stack.order("E2E-VB-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 20_000);

    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-VB-1/cancel",
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "vbank_not_cancellable");
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 0);
}

#[tokio::test]
async fn receipts() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-RC-1", 3000, "CARD").await)
        .await;
    let tid = order["tid"].as_str().unwrap();
    let (status, receipt) = stack
        .api(Method::GET, "/v1/orders/E2E-RC-1/receipt", None)
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["tid"], tid);
    assert_eq!(receipt["moid"], "E2E-RC-1");
    let url = receipt["receipt_url"].as_str().unwrap();
    assert!(
        url.contains(&format!("TID={tid}")) && url.ends_with("type=0"),
        "{url}"
    );
    let page = stack.http.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);

    stack.create_order("E2E-RC-2", 3000, "CARD").await;
    let (status, _) = stack
        .api(Method::GET, "/v1/orders/E2E-RC-2/receipt", None)
        .await;
    assert_eq!(status, 404, "no TID yet");
    let (status, _) = stack
        .api(Method::GET, "/v1/orders/NOPE/receipt", None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn receipt_lookups_when_smartro_is_gone() {
    let stack = start().await;
    stack
        .pay(&stack.create_order("E2E-RC-3", 3000, "CARD").await)
        .await;
    let Stack {
        gateway,
        sandbox,
        db,
        http,
        clock,
    } = stack;
    sandbox.shutdown().await;
    let stack = Stack {
        gateway,
        sandbox: sandbox::Sandbox::start(SandboxConfig::for_tests(Duration::from_millis(50)))
            .await
            .unwrap(),
        db,
        http,
        clock,
    };
    // the original sandbox is gone: connection refused is "no answer"
    let (status, problem) = stack
        .api(Method::GET, "/v1/orders/E2E-RC-3/receipt", None)
        .await;
    assert_eq!(status, 504, "{problem}");
    assert_eq!(problem["code"], "smartro_no_answer");
    assert!(problem["receipt_url"].is_string());
}

#[tokio::test]
async fn a_cancel_settled_by_smartros_notification_while_the_call_hangs_is_a_success() {
    let stack = start_with(Options {
        sandbox: SandboxConfig {
            auto: Some(AutoDecision::Approve),
            faults: Faults {
                cancel_no_answer: true,
                ..Faults::default()
            },
            ..SandboxConfig::for_tests(Duration::from_millis(50))
        },
        gateway_env: vec![("GATEWAY__SMARTRO__TIMEOUT_SECS".into(), "1".into())],
    })
    .await;
    stack
        .pay(&stack.create_order("E2E-CX-8", 8000, "CARD").await)
        .await;
    let (status, order) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-CX-8/cancel",
            Some(json!({ "reason": "hang" })),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancellations"][0]["status"], "succeeded");
    assert_eq!(order["cancelled_amount"], 8000);
}

#[tokio::test]
async fn unknown_cancels_are_reconciled_from_smartros_receipt() {
    let stack = start_with(Options {
        sandbox: SandboxConfig {
            auto: Some(AutoDecision::Approve),
            faults: Faults {
                cancel_no_answer: true,
                // Smartro's notifications never arrive: only the receipt API can tell.
                drop_ratio: 1.0,
                ..Faults::default()
            },
            ..SandboxConfig::for_tests(Duration::from_millis(50))
        },
        gateway_env: vec![("GATEWAY__SMARTRO__TIMEOUT_SECS".into(), "1".into())],
    })
    .await;
    stack
        .pay(&stack.create_order("E2E-RECON-1", 9000, "CARD").await)
        .await;
    let (status, _) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RECON-1/cancel",
            Some(json!({ "amount": 4000, "reason": "lost answer" })),
        )
        .await;
    assert_eq!(status, 504);

    let services = stack.gateway.services.clone();
    assert_eq!(
        gateway::workers::reconcile_once(&services).await.unwrap(),
        0,
        "a fresh unknown gets time for Smartro's notification"
    );
    stack.clock.advance(chrono::Duration::seconds(60));
    assert_eq!(
        gateway::workers::reconcile_once(&services).await.unwrap(),
        1
    );
    let order = stack.order("E2E-RECON-1").await;
    assert_eq!(order["cancellations"][0]["status"], "succeeded");
    assert_eq!(order["cancelled_amount"], 4000);
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(
        gateway::workers::reconcile_once(&services).await.unwrap(),
        0
    );
}

#[tokio::test]
async fn a_cancel_that_never_reached_smartro_is_reconciled_as_failed() {
    let stack = start().await;
    stack
        .pay(&stack.create_order("E2E-RECON-2", 9000, "CARD").await)
        .await;
    // The process recorded the cancel, then died before calling Smartro.
    let begun = stack
        .gateway
        .services
        .store
        .begin_cancel(
            "E2E-RECON-2",
            Some(2000),
            None,
            "crash",
            uuid::Uuid::new_v4(),
            stack.clock.now(),
        )
        .await
        .unwrap();
    assert!(matches!(
        begun,
        gateway::store::cancellations::BeginCancel::Planned { .. }
    ));
    let (status, _) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RECON-2/cancel",
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(status, 409, "blocked while open");

    stack.clock.advance(chrono::Duration::seconds(120));
    let services = stack.gateway.services.clone();
    assert_eq!(
        gateway::workers::reconcile_once(&services).await.unwrap(),
        1
    );
    let order = stack.order("E2E-RECON-2").await;
    assert_eq!(order["cancellations"][0]["status"], "failed");
    assert_eq!(order["cancelled_amount"], 0);
    assert_eq!(order["status"], "paid");

    let (status, order) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RECON-2/cancel",
            Some(json!({ "reason": "now for real" })),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
}
