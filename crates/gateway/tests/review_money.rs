//! Leaving a review never returns money twice nor leaves a payment behind: cancels Smartro confirms during a
//! review are counted, payments that arrive during one are reviewed in their turn, and a payment of another merchant
//! is never taken as the order's. Found by an attacker's review; each test is one of its scenarios.

mod common;

use std::sync::Arc;

use common::*;
use serde_json::{json, Value};
use smartro::types::{PayMethod, StateCd};

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn resolve(app: &TestApp, order_id: &str, action: &str) -> (u16, Value) {
    status_and_body(
        app.post_json(
            &format!("/v1/orders/{order_id}/resolve"),
            &json!({ "action": action, "reason": "운영자 확인" }),
        )
        .await,
    )
    .await
}

/// Smartro's signed notice that `amount` of payment `otid` was cancelled (`tid` is the PTID of a partial cancel).
fn cancel_notice(order_id: &str, tid: &str, otid: &str, amount: i64) -> Vec<u8> {
    let mut n = notification(
        order_id,
        tid,
        amount,
        "2001",
        StateCd::CancelBeforeSettlement,
        PayMethod::Card,
    );
    n.otid = Some(otid.into());
    n.to_form_body()
}

fn ptid(n: u32) -> String {
    format!("{MID}0101261121139{n:07}")
}

async fn refund(
    app: &TestApp,
    order_id: &str,
    amount: i64,
    reference: Option<&str>,
) -> (u16, Value) {
    let mut body = json!({ "amount": amount, "reason": "환불", "bank_code": "004",
                           "account": "1234567890", "holder": "홍길동" });
    if let Some(reference) = reference {
        body["reference"] = json!(reference);
    }
    status_and_body(
        app.post_json(&format!("/v1/orders/{order_id}/refunds"), &body)
            .await,
    )
    .await
}

#[tokio::test]
async fn a_payment_smartro_cancelled_during_its_review_is_accepted_as_cancelled() {
    let app = spawn_app().await;
    app.create_order(card_order("RM-1", 10_000)).await;
    let b = tid(1);
    assert_eq!(app.inform(card_inform("RM-1", &b, 9_000)).await.1, "OK");
    assert_eq!(app.order("RM-1").await["status"], "needs_review");
    // Staff cancelled it in Smartro's own admin.
    assert_eq!(
        app.inform(cancel_notice("RM-1", &b, &b, 9_000)).await.1,
        "OK"
    );
    // Nothing is left to cancel at Smartro.
    let (status, problem) = resolve(&app, "RM-1", "cancel").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "review_payment_already_cancelled");

    let (status, order) = resolve(&app, "RM-1", "accept").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["paid_amount"], 9_000);
    assert_eq!(order["cancelled_amount"], 9_000);
    // So the merchant cannot send the money back a second time.
    let (status, problem) = refund(&app, "RM-1", 9_000, None).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "order_not_refundable");
}

/// A cancel of the order's own payment on its way to Smartro when a second payment puts the order under review;
/// Smartro's notice of it comes before its answer.
#[tokio::test]
async fn a_cancel_confirmed_during_a_review_is_counted_whichever_message_comes_first() {
    for notice_first in [true, false] {
        let smartro = CancelDouble::start().await;
        let app = Arc::new(spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await);
        app.create_order(card_order("RM-2", 10_000)).await;
        let (a, b) = (tid(20), tid(21));
        assert_eq!(app.inform(card_inform("RM-2", &a, 10_000)).await.1, "OK");
        smartro.hold();
        let cancel = {
            let app = app.clone();
            tokio::spawn(async move {
                app.post_json(
                    "/v1/orders/RM-2/cancel",
                    &json!({ "amount": 3_000, "reason": "부분 취소" }),
                )
                .await
                .status()
                .as_u16()
            })
        };
        smartro.wait_for(1).await;
        assert_eq!(app.inform(card_inform("RM-2", &b, 10_000)).await.1, "OK");
        assert_eq!(app.order("RM-2").await["status"], "needs_review");
        if notice_first {
            assert_eq!(
                app.inform(cancel_notice("RM-2", &ptid(1), &a, 3_000))
                    .await
                    .1,
                "OK"
            );
            smartro.release(10);
            assert_eq!(cancel.await.unwrap(), 200);
        } else {
            smartro.release(10);
            assert_eq!(cancel.await.unwrap(), 200);
            assert_eq!(
                app.inform(cancel_notice("RM-2", &ptid(1), &a, 3_000))
                    .await
                    .1,
                "OK"
            );
        }
        let order = app.order("RM-2").await;
        assert_eq!(order["status"], "needs_review", "{order}");
        assert_eq!(
            order["cancelled_amount"], 3_000,
            "counted during the review (notice first: {notice_first})"
        );

        let (status, order) = resolve(&app, "RM-2", "cancel").await;
        assert_eq!(status, 200, "{order}");
        assert_eq!(order["status"], "partially_cancelled");
        assert_eq!(order["cancelled_amount"], 3_000);
        let (status, problem) = refund(&app, "RM-2", 10_000, None).await;
        assert_eq!(status, 422, "only 7,000 is left: {problem}");
    }
}

#[tokio::test]
async fn a_cancel_made_in_smartros_admin_during_a_review_is_counted() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    app.create_order(card_order("RM-3", 10_000)).await;
    let (a, b) = (tid(30), tid(31));
    assert_eq!(app.inform(card_inform("RM-3", &a, 10_000)).await.1, "OK");
    assert_eq!(app.inform(card_inform("RM-3", &b, 10_000)).await.1, "OK");
    assert_eq!(
        app.inform(cancel_notice("RM-3", &ptid(9), &a, 3_000))
            .await
            .1,
        "OK"
    );
    let (status, order) = resolve(&app, "RM-3", "cancel").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["cancelled_amount"], 3_000);
    assert_eq!(
        smartro.requests().len(),
        1,
        "only B was cancelled at Smartro"
    );
    assert_eq!(smartro.requests()[0].tid, b);
}

#[tokio::test]
async fn a_payment_that_arrived_during_a_review_is_reviewed_in_its_turn() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;

    // Cancel the first: the second, correct payment is then the one under review.
    app.create_order(card_order("RM-4", 10_000)).await;
    let (b, c) = (tid(41), tid(42));
    assert_eq!(app.inform(card_inform("RM-4", &b, 9_000)).await.1, "OK");
    assert_eq!(app.inform(card_inform("RM-4", &c, 10_000)).await.1, "OK");
    let (status, order) = resolve(&app, "RM-4", "cancel").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["review_tid"], c.as_str());
    let (status, order) = resolve(&app, "RM-4", "accept").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["tid"], c.as_str());
    assert_eq!(order["paid_amount"], 10_000);

    // Accept the first: the second is then under review, and cancelled.
    app.create_order(card_order("RM-5", 10_000)).await;
    let (b, c) = (tid(43), tid(44));
    assert_eq!(app.inform(card_inform("RM-5", &b, 9_000)).await.1, "OK");
    assert_eq!(app.inform(card_inform("RM-5", &c, 10_000)).await.1, "OK");
    let (status, order) = resolve(&app, "RM-5", "accept").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["paid_amount"], 9_000);
    assert_eq!(order["review_tid"], c.as_str());
    let (status, order) = resolve(&app, "RM-5", "cancel").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["tid"], b.as_str());
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_events WHERE order_id = 'RM-5' AND event_type = 'payment.resolved'")
            .await,
        2
    );
}

#[tokio::test]
async fn a_payment_of_another_merchant_is_never_taken_as_the_orders() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    app.create_order(card_order("RM-7", 10_000)).await;
    let t = format!("{MID2}0101261121120000{:04}", 70);
    let mut n = notification(
        "RM-7",
        &t,
        10_000,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    n.mid = MID2.into();
    n.sign_value = smartro::sign::sign_value(&t, "3001", KEY2);
    assert_eq!(app.inform(n.to_form_body()).await.1, "OK");
    assert_eq!(app.order("RM-7").await["status"], "needs_review");
    let (status, problem) = resolve(&app, "RM-7", "accept").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "review_payment_differs");
    assert_eq!(problem["field"], "mid");
    // It is cancelled under its own merchant instead.
    let (status, order) = resolve(&app, "RM-7", "cancel").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "cancelled");
    let sent = smartro.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tid, t);
}

#[tokio::test]
async fn a_refund_with_a_reference_already_recorded_is_refused() {
    let app = spawn_app().await;
    app.create_order(card_order("RM-6", 10_000)).await;
    assert_eq!(
        app.inform(card_inform("RM-6", &tid(60), 10_000)).await.1,
        "OK"
    );
    let (status, _) = refund(&app, "RM-6", 1_000, Some("TR-1")).await;
    assert_eq!(status, 201);
    // The shop's retry after a timeout, without an Idempotency-Key.
    let (status, problem) = refund(&app, "RM-6", 1_000, Some("TR-1")).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "refund_reference_recorded");
    assert_eq!(app.order("RM-6").await["refunded_amount"], 1_000);
    // Another transfer is another refund.
    let (status, _) = refund(&app, "RM-6", 1_000, Some("TR-2")).await;
    assert_eq!(status, 201);
    assert_eq!(app.order("RM-6").await["refunded_amount"], 2_000);
}

#[tokio::test]
async fn a_tid_filter_that_names_no_tid_is_a_clear_error() {
    let app = spawn_app().await;
    for (query, status, code) in [
        ("tid=%00", 422, "nul_character"),
        ("tid=a%00b", 422, "nul_character"),
        ("tid=%ED%95%9C", 400, "bad_request"),
    ] {
        let response = app.get_json(&format!("/v1/orders?{query}")).await;
        assert_eq!(response.status(), status, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["errors"][0]["field"], "tid", "{problem}");
    }
}

#[tokio::test]
async fn a_cancel_smartro_answers_for_another_amount_counts_that_amount_and_is_reviewed() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    app.create_order(card_order("RM-AMT", 10_000)).await;
    let a = tid(70);
    assert_eq!(app.inform(card_inform("RM-AMT", &a, 10_000)).await.1, "OK");
    // Asked to cancel 3,000, Smartro says it cancelled 2,500: that is what left the merchant.
    smartro.give_back(2_500);
    let (status, body) = status_and_body(
        app.post_json(
            "/v1/orders/RM-AMT/cancel",
            &json!({ "amount": 3_000, "reason": "부분 취소" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(smartro.requests()[0].cancel_amt, 3_000);
    let order = app.order("RM-AMT").await;
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["cancelled_amount"], 2_500, "{order}");
    assert_eq!(order["cancellations"][0]["amount"], 2_500, "{order}");
    assert_eq!(order["cancellations"][0]["status"], "succeeded", "{order}");
    let reason = order["review_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("3000") && reason.contains("2500"),
        "{order}"
    );
}
