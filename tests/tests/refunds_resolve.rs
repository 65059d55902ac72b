//! Refunds the merchant makes, an operator's resolution of reviews, and look-ups, end to end: a real gateway, the
//! sandbox (payment window, vbank deposit, notification daemon, receipt data API, cancel) and PostgreSQL.

mod harness;

use harness::*;
use reqwest::Method;
use sandbox::{NewTransaction, TransactionSnapshot};
use serde_json::{json, Value};
use smartro::endpoints::TEST_MERCHANTS;
use smartro::notification::Notification;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};

const MID: &str = "SMTPAY001m";

fn merchant_key() -> &'static str {
    TEST_MERCHANTS
        .iter()
        .find(|(mid, _)| *mid == MID)
        .map(|(_, key)| *key)
        .expect("the test merchant's key")
}

/// A payment Smartro (the sandbox) made for order `moid` without its payment window, e.g. one the buyer paid in
/// another tab or for another amount.
fn smartro_payment(stack: &Stack, moid: &str, amount: i64) -> TransactionSnapshot {
    stack
        .sandbox
        .state()
        .create_transaction(NewTransaction::new(MID, moid, amount))
        .expect("the sandbox approves it")
}

/// Smartro's signed notification of that payment, as its daemon would send it. The gateway believes it only once
/// the sandbox's receipt data API confirms the TID with this order and amount.
async fn notify(stack: &Stack, tx: &TransactionSnapshot) {
    let notification = Notification {
        pay_method: PayMethod::Card,
        mid: tx.mid.clone(),
        mall_user_id: None,
        amt: tx.amt,
        name: Some(tx.buyer_name.clone()),
        goods_name: Some(tx.goods_name.clone()),
        tid: tx.tid.clone(),
        otid: None,
        oid: tx.moid.clone(),
        auth_date: Some(tx.auth_date.clone()),
        auth_code: tx.auth_code.clone(),
        result_code: tx.result_code.clone(),
        result_msg: tx.result_msg.clone(),
        state_cd: StateCd::Approval,
        fn_cd: tx.fn_cd.clone(),
        fn_name: tx.fn_name.clone(),
        pin_no: tx.pin_no.clone(),
        card_quota: tx.card_quota.clone(),
        buyer_email: None,
        buyer_tel: None,
        buyer_auth_num: None,
        vbank_num: None,
        vbank_name: None,
        receipt_type: None,
        rcpt_app_no: None,
        rcpt_cc_no: None,
        card_use_point: None,
        sign_value: sign::sign_value(&tx.tid, &tx.result_code, merchant_key()),
        extra: Default::default(),
    };
    let response = stack
        .http
        .post(stack.url("/smartro/inform"))
        .body(notification.to_form_body())
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(response.text().await.unwrap(), "OK", "{status}");
}

async fn resolve(stack: &Stack, order_id: &str, action: &str) -> (u16, Value) {
    stack
        .api(
            Method::POST,
            &format!("/v1/orders/{order_id}/resolve"),
            Some(json!({ "action": action, "reason": "운영자 확인 완료" })),
        )
        .await
}

fn transaction_of(stack: &Stack, tid: &str) -> TransactionSnapshot {
    stack
        .sandbox
        .state()
        .transaction(tid)
        .unwrap_or_else(|| panic!("the sandbox knows no {tid}"))
}

/// How many cancels of `tid` reached Smartro, and how much they took.
fn cancels_at_smartro(stack: &Stack, tid: &str) -> (usize, i64) {
    let tx = transaction_of(stack, tid);
    (tx.cancels.len(), tx.cancelled_amt)
}

#[tokio::test]
async fn a_deposited_virtual_account_refunded_by_the_merchant() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-RF-1", 20_000, "VBANK").await)
        .await;
    assert_eq!(order["status"], "awaiting_deposit");
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
    assert_eq!(stack.order("E2E-RF-1").await["status"], "paid");

    let (status, order) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RF-1/refunds",
            Some(json!({ "amount": 5_000, "reason": "부분 환불", "bank_code": "088",
                         "account": "110-123-456789", "holder": "홍길동", "reference": "이체 0001" })),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["refunded_amount"], 5_000);
    assert_eq!(order["refunds"][0]["bank_name"], "신한은행");
    assert_eq!(order["refunds"][0]["account"], "***-***-**6789");

    // More than is left is refused; Smartro cannot cancel it either.
    let (status, problem) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RF-1/refunds",
            Some(
                json!({ "amount": 15_001, "reason": "전액 환불", "bank_code": "088",
                         "account": "110123456789", "holder": "홍길동" }),
            ),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "amount");
    let (status, order) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RF-1/refunds",
            Some(
                json!({ "amount": 15_000, "reason": "나머지 환불", "bank_code": "088",
                         "account": "110123456789", "holder": "홍길동" }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["refunded_amount"], 20_000);
    assert_eq!(order["cancelled_amount"], 0);
    assert_eq!(order["refunds"].as_array().unwrap().len(), 2);
    assert_eq!(
        cancels_at_smartro(&stack, &tid),
        (0, 0),
        "Smartro is not involved"
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.refunded'")
            .await,
        2
    );

    // The look-ups find it by its TID.
    let (status, found) = stack
        .api(Method::GET, &format!("/v1/payments/{tid}"), None)
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["payment"]["tid"], tid.as_str());
    assert_eq!(found["payment"]["result_code"], "4110");
    assert_eq!(found["order"]["order_id"], "E2E-RF-1");
    let (status, list) = stack
        .api(
            Method::GET,
            &format!("/v1/orders?tid={tid}&pay_method=VBANK&status=cancelled&channel=online"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["data"].as_array().unwrap().len(), 1);
    assert_eq!(list["data"][0]["order_id"], "E2E-RF-1");
}

#[tokio::test]
async fn a_payment_of_another_amount_accepted_then_cancelled_as_usual() {
    let stack = start().await;
    stack.create_order("E2E-RV-1", 10_000, "CARD").await;
    // The buyer paid 9,000 for this order: Smartro's receipt API confirms it, so money really moved.
    let tx = smartro_payment(&stack, "E2E-RV-1", 9_000);
    notify(&stack, &tx).await;
    let order = stack.order("E2E-RV-1").await;
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["review_tid"], tx.tid.as_str());
    assert_eq!(order["paid_amount"], 0);

    let (status, order) = resolve(&stack, "E2E-RV-1", "accept").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["tid"], tx.tid.as_str());
    assert_eq!(order["amount"], 9_000);
    assert_eq!(order["paid_amount"], 9_000);
    assert_eq!(order["resolutions"][0]["former_amount"], 10_000);
    assert_eq!(order["resolutions"][0]["outcome"], "accepted");
    assert_eq!(cancels_at_smartro(&stack, &tx.tid), (0, 0));

    let (status, order) = stack
        .api(
            Method::POST,
            "/v1/orders/E2E-RV-1/cancel",
            Some(json!({ "reason": "고객 요청" })),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancelled_amount"], 9_000);
    assert_eq!(cancels_at_smartro(&stack, &tx.tid), (1, 9_000));
}

#[tokio::test]
async fn a_second_payment_under_review_cancelled_at_smartro() {
    let stack = start().await;
    let order = stack
        .pay(&stack.create_order("E2E-RV-2", 10_000, "CARD").await)
        .await;
    assert_eq!(order["status"], "paid");
    let first = order["tid"].as_str().unwrap().to_string();
    stack.wait_notified(1).await;

    // The buyer paid the same order a second time.
    let second = smartro_payment(&stack, "E2E-RV-2", 10_000);
    notify(&stack, &second).await;
    let order = stack.order("E2E-RV-2").await;
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["review_tid"], second.tid.as_str());

    let (status, problem) = resolve(&stack, "E2E-RV-2", "accept").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "another_payment_accepted");

    let (status, order) = resolve(&stack, "E2E-RV-2", "cancel").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["tid"], first.as_str());
    assert_eq!(order["cancelled_amount"], 0);
    assert_eq!(order["cancellations"][0]["status"], "succeeded");
    assert_eq!(order["cancellations"][0]["result_code"], "2001");
    assert_eq!(order["resolutions"][0]["outcome"], "cancelled");
    assert_eq!(cancels_at_smartro(&stack, &second.tid), (1, 10_000));
    assert_eq!(
        cancels_at_smartro(&stack, &first),
        (0, 0),
        "the first payment stays"
    );
    let sent = &transaction_of(&stack, &second.tid).cancels[0];
    assert_eq!(sent.msg, "운영자 확인 완료");
    assert_eq!(
        stack
            .count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.resolved'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_only_payment_under_review_cancelled_cancels_the_order() {
    let stack = start().await;
    stack.create_order("E2E-RV-3", 10_000, "CARD").await;
    let tx = smartro_payment(&stack, "E2E-RV-3", 12_000);
    notify(&stack, &tx).await;
    assert_eq!(stack.order("E2E-RV-3").await["status"], "needs_review");
    let (status, order) = resolve(&stack, "E2E-RV-3", "cancel").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["paid_amount"], 0);
    assert_eq!(cancels_at_smartro(&stack, &tx.tid), (1, 12_000));
}

#[tokio::test]
async fn a_culture_gift_card_payment_is_reviewed_then_accepted() {
    let stack = start().await;
    let (status, order) = stack
        .api(
            Method::POST,
            "/v1/orders",
            Some(json!({
                "order_id": "E2E-GIFT-1",
                "amount": 15_000,
                "goods_name": "문화상품권 결제 상품",
                "pay_method": "CLGIFT",
                "mall_user_id": "gift-buyer",
                "buyer": { "name": "홍길동", "tel": "010-1234-5678", "email": "buyer@example.com" },
            })),
        )
        .await;
    assert_eq!(status, 201, "{order}");
    let order = stack.pay(&order).await;
    // No document gives CLGIFT's success code: the sandbox's approval (0000 by default) is neither a known
    // success nor a known failure for this method, so the money may have moved and a person decides.
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["paid_amount"], 0);
    let tid = order["review_tid"]
        .as_str()
        .expect("the payment under review");
    assert!(
        order["review_reason"].as_str().unwrap().contains("0000"),
        "the reason names the code: {order}"
    );
    assert_eq!(transaction_of(&stack, tid).amt, 15_000);

    let (status, order) = resolve(&stack, "E2E-GIFT-1", "accept").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["tid"], tid);
    assert_eq!(order["paid_amount"], 15_000);
    assert_eq!(order["resolutions"][0]["outcome"], "accepted");
    assert_eq!(order["resolutions"][0]["reason"], "운영자 확인 완료");
    assert_eq!(
        stack
            .count("SELECT count(*) FROM outbox_events WHERE event_type = 'payment.resolved'")
            .await,
        1
    );
    // A second accept finds nothing under review.
    let (status, problem) = resolve(&stack, "E2E-GIFT-1", "accept").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(cancels_at_smartro(&stack, tid), (0, 0));
}
