//! What a Korean merchant asks of a payment besides the amount, end to end against the sandbox: escrow, split
//! settlement between sub-malls, a fixed card and instalment, cash receipts, Toss refunds and cancel windows.

mod harness;

use std::time::Duration;

use harness::*;
use reqwest::Method;
use sandbox::{AutoDecision, Faults, SandboxConfig};
use serde_json::{json, Value};

fn buyer() -> Value {
    json!({ "name": "홍길동", "tel": "010-1234-5678", "email": "buyer@example.com" })
}

async fn create(stack: &Stack, body: Value) -> (u16, Value) {
    stack.api(Method::POST, "/v1/orders", Some(body)).await
}

async fn created(stack: &Stack, body: Value) -> Value {
    let (status, order) = create(stack, body).await;
    assert_eq!(status, 201, "{order}");
    order
}

async fn cancel(stack: &Stack, order_id: &str, body: Value) -> (u16, Value) {
    stack
        .api(
            Method::POST,
            &format!("/v1/orders/{order_id}/cancel"),
            Some(body),
        )
        .await
}

fn cancels_seen_by_smartro(stack: &Stack, tid: &str) -> usize {
    stack
        .sandbox
        .state()
        .transaction(tid)
        .map(|t| t.cancels.len())
        .unwrap_or(0)
}

/// Waits until the order satisfies `done`, or fails with what it last was.
async fn wait_order(stack: &Stack, order_id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let order = stack.order(order_id).await;
        if done(&order) {
            return order;
        }
        if std::time::Instant::now() >= deadline {
            let received: Vec<(String, String, Option<String>)> = sqlx::query_as(
                "SELECT source, outcome, detail FROM notifications WHERE order_id = $1 ORDER BY id",
            )
            .bind(order_id)
            .fetch_all(&stack.db.pool)
            .await
            .unwrap();
            panic!("{order:#}\nreceived: {received:#?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn an_escrow_payment_reaches_smartro_with_its_delivery_and_seller() {
    let stack = start().await;
    let order = created(
        &stack,
        json!({
            "order_id": "E2E-ESCROW-1",
            "mid": "ECTEST001m",
            "amount": 50_000,
            "goods_name": "에스크로 상품",
            "pay_method": "BANK",
            "buyer": buyer(),
            "escrow": {
                "delivery": { "code": "01", "receiver_name": "김수령", "address1": "서울시 강남구", "post_code": "06236" },
                "seller": { "name": "판매상점", "tel": "02-123-4567" }
            }
        }),
    )
    .await;
    assert_eq!(
        order["options"]["escrow"]["delivery"]["receiver_name"],
        "김수령"
    );
    let paid = stack.pay(&order).await;
    assert_eq!(paid["status"], "paid", "{paid:#}");
    let tx = stack
        .sandbox
        .state()
        .transaction(paid["tid"].as_str().unwrap())
        .unwrap();
    let escrow = tx.escrow.expect("Smartro saw an escrow request");
    assert_eq!(escrow.receiver_name.as_deref(), Some("김수령"));
    assert_eq!(escrow.delivery_addr1.as_deref(), Some("서울시 강남구"));
    assert_eq!(escrow.seller_tel.as_deref(), Some("02-123-4567"));
}

#[tokio::test]
async fn escrow_is_refused_for_a_merchant_that_does_not_take_it() {
    let stack = start().await;
    let (status, problem) = create(
        &stack,
        json!({
            "amount": 1000, "goods_name": "상품", "pay_method": "CARD", "buyer": buyer(),
            "escrow": {}
        }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "escrow", "{problem}");
    assert_eq!(stack.count("SELECT count(*) FROM orders").await, 0);
}

#[tokio::test]
async fn a_merchant_required_to_offer_escrow_sends_every_cash_payment_as_escrow() {
    let stack = start_with(Options {
        gateway_env: vec![(
            "GATEWAY__MERCHANTS__2__ESCROW".into(),
            "required_for_cash".into(),
        )],
        ..Options::default()
    })
    .await;
    let body = |id: &str, method: &str| {
        json!({ "order_id": id, "mid": "ECTEST001m", "amount": 20_000, "goods_name": "상품",
                "pay_method": method, "buyer": buyer() })
    };
    let bank = created(&stack, body("E2E-ESCROW-BANK", "BANK")).await;
    assert!(bank["options"]["escrow"].is_object(), "{bank:#}");
    let card = created(&stack, body("E2E-ESCROW-CARD", "CARD")).await;
    assert!(card.get("options").is_none(), "{card:#}");
    let paid = stack.pay(&bank).await;
    assert_eq!(paid["status"], "paid");
    let tx = stack
        .sandbox
        .state()
        .transaction(paid["tid"].as_str().unwrap())
        .unwrap();
    assert!(tx.escrow.is_some());
}

fn split_order(order_id: &str) -> Value {
    json!({
        "order_id": order_id,
        "mid": "SMTSUB001m",
        "amount": 10_000,
        "goods_name": "묶음 상품",
        "pay_method": "CARD",
        "buyer": buyer(),
        "split": [
            { "sub_mall_id": "SMTSUB002m", "amount": 6_000, "goods_name": "상품1" },
            { "sub_mall_id": "SMTSUB003m", "amount": 4_000, "goods_name": "상품2" }
        ]
    })
}

#[tokio::test]
async fn a_split_payment_is_settled_per_sub_mall_and_cancelled_in_parts() {
    let stack = start().await;
    let order = stack
        .pay(&created(&stack, split_order("E2E-SPLIT-1")).await)
        .await;
    assert_eq!(order["status"], "paid", "{order:#}");
    let tid = order["tid"].as_str().unwrap().to_string();
    let tx = stack.sandbox.state().transaction(&tid).unwrap();
    let shares: Vec<(String, i64)> = tx.split.iter().map(|s| (s.mid.clone(), s.amt)).collect();
    assert_eq!(
        shares,
        [
            ("SMTSUB002m".to_string(), 6_000),
            ("SMTSUB003m".to_string(), 4_000)
        ]
    );
    assert_eq!(order["options"]["split"][1]["goods_name"], "상품2");

    // A partial cancel must say whose share it takes back; refused before Smartro hears of it.
    let (status, problem) = cancel(
        &stack,
        "E2E-SPLIT-1",
        json!({ "amount": 1_000, "reason": "부분 취소" }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "split", "{problem}");
    let (status, problem) = cancel(
        &stack,
        "E2E-SPLIT-1",
        json!({ "amount": 5_000, "reason": "부분 취소",
                "split": [{ "sub_mall_id": "SMTSUB003m", "amount": 5_000 }] }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"], "split[0].amount",
        "{problem}"
    );
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 0);

    let (status, after) = cancel(
        &stack,
        "E2E-SPLIT-1",
        json!({ "amount": 2_500, "reason": "부분 취소",
                "split": [{ "sub_mall_id": "SMTSUB002m", "amount": 1_500 },
                          { "sub_mall_id": "SMTSUB003m", "amount": 1_000 }] }),
    )
    .await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "partially_cancelled");
    let c = &after["cancellations"][0];
    assert_eq!(c["status"], "succeeded", "{c}");
    assert_eq!(c["split"][0]["sub_mall_id"], "SMTSUB002m");
    assert_eq!(c["split"][1]["amount"], 1_000);
    let tx = stack.sandbox.state().transaction(&tid).unwrap();
    let left: Vec<i64> = tx.split.iter().map(|s| s.remaining()).collect();
    assert_eq!(
        left,
        [4_500, 3_000],
        "Smartro took back each sub-mall's share"
    );
    let sent = tx.cancels[0].divide_info.as_ref().expect("DivideInfo sent");
    assert_eq!(sent.entries.len(), 2);

    // What a sub-mall has left counts the cancels before.
    let (status, problem) = cancel(
        &stack,
        "E2E-SPLIT-1",
        json!({ "amount": 3_001, "reason": "부분 취소",
                "split": [{ "sub_mall_id": "SMTSUB003m", "amount": 3_001 }] }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 1);

    // The rest as a whole: every sub-mall's remainder, without naming them.
    let (status, after) = cancel(&stack, "E2E-SPLIT-1", json!({ "reason": "전체 취소" })).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "cancelled", "{after:#}");
    assert_eq!(after["cancelled_amount"], 10_000, "{after:#}");
    let rest = &after["cancellations"][1]["split"];
    assert_eq!(rest[0]["amount"], 4_500, "{rest}");
    assert_eq!(rest[1]["amount"], 3_000, "{rest}");
    let tx = stack.sandbox.state().transaction(&tid).unwrap();
    assert!(
        tx.split.iter().all(|s| s.remaining() == 0),
        "{:?}",
        tx.split
    );
}

#[tokio::test]
async fn a_whole_split_payment_is_cancelled_without_naming_the_shares() {
    let stack = start().await;
    let order = stack
        .pay(&created(&stack, split_order("E2E-SPLIT-2")).await)
        .await;
    let (status, after) = cancel(&stack, "E2E-SPLIT-2", json!({ "reason": "고객 요청" })).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "cancelled");
    let tx = stack
        .sandbox
        .state()
        .transaction(order["tid"].as_str().unwrap())
        .unwrap();
    assert!(
        tx.split.iter().all(|s| s.remaining() == 0),
        "{:?}",
        tx.split
    );
}

#[tokio::test]
async fn split_shares_that_do_not_add_up_are_refused_at_creation() {
    let stack = start().await;
    let mut body = split_order("E2E-SPLIT-3");
    body["amount"] = json!(10_001);
    let (status, problem) = create(&stack, body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "split");
    // Only the merchant's own sub-malls, and only a merchant that has some.
    let mut body = split_order("E2E-SPLIT-4");
    body["split"][1]["sub_mall_id"] = json!("SMTSUB009m");
    let (status, problem) = create(&stack, body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "split[1].sub_mall_id");
    let mut body = split_order("E2E-SPLIT-5");
    body["mid"] = json!("SMTPAY001m");
    let (status, problem) = create(&stack, body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "split");
    assert_eq!(stack.count("SELECT count(*) FROM orders").await, 0);
}

#[tokio::test]
async fn a_fixed_card_and_instalment_reach_the_payment_window() {
    let stack = start().await;
    let order = created(
        &stack,
        json!({
            "order_id": "E2E-CARD-FIX", "amount": 120_000, "goods_name": "할부 상품", "pay_method": "CARD",
            "buyer": buyer(), "card": { "issuer_code": "04", "quota": "03" },
            "language": "ko", "goods_type": "physical"
        }),
    )
    .await;
    let paid = stack.pay(&order).await;
    assert_eq!(paid["status"], "paid", "{paid:#}");
    let tx = stack
        .sandbox
        .state()
        .transaction(paid["tid"].as_str().unwrap())
        .unwrap();
    assert_eq!(tx.fn_cd.as_deref(), Some("04"));
    assert_eq!(tx.card_quota.as_deref(), Some("03"));
    assert_eq!(paid["card"]["quota"], "03");
    // A card choice only applies to card payments.
    let (status, problem) = create(
        &stack,
        json!({ "amount": 1000, "goods_name": "상품", "pay_method": "BANK", "buyer": buyer(),
                "card": { "issuer_code": "04", "quota": "00" } }),
    )
    .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "card");
}

#[tokio::test]
async fn a_cash_receipt_is_recorded_once_and_told_to_the_shop() {
    // Every notification delivered twice in a row: the 7001 too.
    let stack = start_with(Options {
        sandbox: SandboxConfig {
            auto: Some(AutoDecision::Approve),
            faults: Faults {
                duplicate_ratio: 1.0,
                ..Faults::default()
            },
            ..SandboxConfig::for_tests(Duration::from_millis(50))
        },
        ..Options::default()
    })
    .await;
    let order = created(
        &stack,
        json!({
            "order_id": "E2E-CASH-1", "amount": 33_000, "goods_name": "현금영수증 상품", "pay_method": "KAKAO",
            "pay_type": "KPMY", "buyer": buyer(), "mall_user_id": "user01", "cash_receipt": true
        }),
    )
    .await;
    let paid = stack.pay(&order).await;
    assert_eq!(paid["status"], "paid", "{paid:#}");
    let tid = paid["tid"].as_str().unwrap().to_string();
    let issued = stack
        .sandbox
        .state()
        .transaction(&tid)
        .unwrap()
        .cash_receipt
        .expect("the sandbox issued a cash receipt");
    let order = wait_order(&stack, "E2E-CASH-1", |o| {
        o["cash_receipt"]["approval_no"].is_string()
    })
    .await;
    assert_eq!(order["cash_receipt"]["type"], "income_deduction");
    assert_eq!(order["cash_receipt"]["approval_no"], issued.app_no.as_str());
    assert!(order["cash_receipt"]["issued_at"].is_string(), "{order:#}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 33_000, "a receipt moves no money");
    // Everything the sandbox sent was taken, each once.
    let sent = stack.sandbox.notifications().len();
    stack.wait_notified(sent).await;
    assert_eq!(
        stack
            .count("SELECT count(*) FROM outbox_events WHERE event_type = 'cash_receipt.issued'")
            .await,
        1
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.paid'")
            .await,
        1
    );
    let (status, receipt) = stack
        .api(Method::GET, "/v1/orders/E2E-CASH-1/receipt", None)
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert!(
        receipt["cash_receipt_url"]
            .as_str()
            .is_some_and(|u| u.contains(&tid) && u.contains("type=2")),
        "{receipt}"
    );
}

#[tokio::test]
async fn a_toss_payment_is_refunded_with_ts20() {
    let stack = start().await;
    let order = created(
        &stack,
        json!({ "order_id": "E2E-TOSS-1", "amount": 15_000, "goods_name": "토스 상품", "pay_method": "TOSS",
                "buyer": buyer(), "mall_user_id": "user01" }),
    )
    .await;
    let paid = stack.pay(&order).await;
    assert_eq!(paid["status"], "paid", "{paid:#}");
    let (status, after) = cancel(&stack, "E2E-TOSS-1", json!({ "reason": "환불" })).await;
    assert_eq!(status, 200, "{after}");
    assert_eq!(after["status"], "cancelled", "{after:#}");
    assert_eq!(after["cancellations"][0]["result_code"], "TS20");
    assert_eq!(after["cancellations"][0]["status"], "succeeded");
    // Smartro's notification of it is matched, never counted twice.
    stack.wait_notified(2).await;
    let order = stack.order("E2E-TOSS-1").await;
    assert_eq!(order["cancelled_amount"], 15_000);
    assert_eq!(order["cancellations"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_card_payment_past_its_cancel_window_is_refused_without_calling_smartro() {
    let stack = start().await;
    let paid = stack
        .pay(&stack.create_order("E2E-WINDOW-1", 5_000, "CARD").await)
        .await;
    let tid = paid["tid"].as_str().unwrap().to_string();
    stack.clock.advance(chrono::Duration::days(91));
    let (status, problem) = cancel(&stack, "E2E-WINDOW-1", json!({ "reason": "늦은 취소" })).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["code"], "cancel_window_closed");
    assert_eq!(problem["pay_method"], "CARD");
    assert_eq!(cancels_seen_by_smartro(&stack, &tid), 0);
    let order = stack.order("E2E-WINDOW-1").await;
    assert_eq!(order["status"], "paid");
    assert!(order["cancellations"].as_array().unwrap().is_empty());
}
