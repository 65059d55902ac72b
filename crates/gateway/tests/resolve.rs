//! An operator's resolution of `needs_review` (`POST /v1/orders/{order_id}/resolve`) against a real gateway and
//! PostgreSQL, with a stand-in for Smartro's cancel endpoint: accept, cancel, and every refusal.

mod common;

use chrono::Duration;
use common::*;
use serde_json::{json, Value};
use smartro::types::{PayMethod, StateCd};

async fn status_and_body(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn resolve(app: &TestApp, order_id: &str, action: &str, key: &str) -> (u16, Value) {
    status_and_body(
        app.post_keyed(
            &format!("/v1/orders/{order_id}/resolve"),
            key,
            &json!({ "action": action, "reason": "운영자 확인" }),
        )
        .await,
    )
    .await
}

async fn event_types(app: &TestApp, order_id: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT event_type FROM outbox_events WHERE order_id = $1 ORDER BY seq")
        .bind(order_id)
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

/// A card order of `amount` that Smartro charged `charged` for: under review.
async fn charged_another_amount(
    app: &TestApp,
    order_id: &str,
    amount: i64,
    charged: i64,
    n: u32,
) -> String {
    app.create_order(card_order(order_id, amount)).await;
    let tid = tid(n);
    assert_eq!(
        app.inform(card_inform(order_id, &tid, charged)).await.1,
        "OK"
    );
    let order = app.order(order_id).await;
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["review_tid"], tid.as_str());
    tid
}

/// A card order paid by one payment and then by a second one: under review for the second.
async fn paid_twice(app: &TestApp, order_id: &str, n: u32) -> (String, String) {
    app.create_order(card_order(order_id, 10_000)).await;
    let (first, second) = (tid(n), tid(n + 1));
    assert_eq!(
        app.inform(card_inform(order_id, &first, 10_000)).await.1,
        "OK"
    );
    assert_eq!(
        app.inform(card_inform(order_id, &second, 10_000)).await.1,
        "OK"
    );
    let order = app.order(order_id).await;
    assert_eq!(order["status"], "needs_review", "{order}");
    assert_eq!(order["review_tid"], second.as_str());
    assert_eq!(order["tid"], first.as_str());
    (first, second)
}

/// Smartro's notification that it cancelled `tid` in full.
fn cancel_notice(order_id: &str, tid: &str, amount: i64) -> Vec<u8> {
    let mut n = notification(
        order_id,
        tid,
        amount,
        "2001",
        StateCd::CancelBeforeSettlement,
        PayMethod::Card,
    );
    n.otid = Some(tid.into());
    n.to_form_body()
}

#[tokio::test]
async fn accepting_a_payment_of_another_amount() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    let tid = charged_another_amount(&app, "RV-1", 10_000, 9_000, 1).await;
    app.clock.advance(Duration::minutes(5));

    let (status, order) = resolve(&app, "RV-1", "accept", "rv-1").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["amount"], 9_000);
    assert_eq!(order["paid_amount"], 9_000);
    assert_eq!(order["tid"], tid.as_str());
    assert_eq!(order["paid_at"], "2026-11-21T03:05:00Z");
    assert!(order.get("review_tid").is_none(), "{order}");
    assert!(order.get("review_reason").is_none(), "{order}");
    let r = &order["resolutions"][0];
    assert_eq!(r["action"], "accept");
    assert_eq!(r["outcome"], "accepted");
    assert_eq!(r["tid"], tid.as_str());
    assert_eq!(r["former_amount"], 10_000);
    assert_eq!(r["reason"], "운영자 확인");
    assert_eq!(r["resolved_by"], api_key_id().as_str());
    assert!(r.get("cancellation_id").is_none());
    assert!(smartro.requests().is_empty());
    assert_eq!(
        event_types(&app, "RV-1").await,
        ["payment.needs_review", "payment.resolved"]
    );

    // The same key replays the answer; another resolution is refused now that the review is over.
    let (status, again) = resolve(&app, "RV-1", "accept", "rv-1").await;
    assert_eq!(status, 200);
    assert_eq!(again, order);
    let (status, problem) = resolve(&app, "RV-1", "accept", "rv-1-b").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "order_not_under_review");
    assert_eq!(problem["order_status"], "paid");
    assert_eq!(app.count("SELECT count(*) FROM resolutions").await, 1);

    // From now on it is an ordinary paid order of 9,000.
    let (status, order) = status_and_body(
        app.post_json("/v1/orders/RV-1/cancel", &json!({ "reason": "전액 취소" }))
            .await,
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["cancelled_amount"], 9_000);
    assert_eq!(smartro.requests()[0].cancel_amt, 9_000);
    assert!(!smartro.requests()[0].partial);
}

#[tokio::test]
async fn accepting_more_than_the_order_asked() {
    let app = spawn_app().await;
    charged_another_amount(&app, "RV-2", 10_000, 11_000, 2).await;
    let (status, order) = resolve(&app, "RV-2", "accept", "rv-2").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["amount"], 11_000);
    assert_eq!(order["paid_amount"], 11_000);
    assert_eq!(order["resolutions"][0]["former_amount"], 10_000);
}

#[tokio::test]
async fn cancelling_a_second_payment_puts_the_order_back_to_the_first() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    let (first, second) = paid_twice(&app, "RV-3", 30).await;

    let (status, problem) = resolve(&app, "RV-3", "accept", "rv-3-accept").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "another_payment_accepted");
    assert_eq!(problem["tid"], first.as_str());

    let (status, order) = resolve(&app, "RV-3", "cancel", "rv-3").await;
    assert_eq!(status, 200, "{order}");
    let sent = smartro.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].tid, second);
    assert_eq!(sent[0].cancel_amt, 10_000);
    assert!(!sent[0].partial, "a full cancel of the second payment");
    assert_eq!(sent[0].cancel_msg, "운영자 확인");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["tid"], first.as_str());
    assert_eq!(order["paid_amount"], 10_000);
    assert_eq!(
        order["cancelled_amount"], 0,
        "the first payment is untouched"
    );
    assert!(order.get("review_tid").is_none());
    let c = &order["cancellations"][0];
    assert_eq!(c["status"], "succeeded");
    assert_eq!(c["amount"], 10_000);
    let r = &order["resolutions"][0];
    assert_eq!(r["action"], "cancel");
    assert_eq!(r["outcome"], "cancelled");
    assert_eq!(r["tid"], second.as_str());
    assert_eq!(r["cancellation_id"], c["id"]);
    assert!(r["completed_at"].is_string());

    // Replayed, never sent twice.
    let (status, again) = resolve(&app, "RV-3", "cancel", "rv-3").await;
    assert_eq!(status, 200);
    assert_eq!(again, order);
    assert_eq!(smartro.requests().len(), 1);

    // Smartro's own notification of that cancel is matched to it and changes nothing more.
    assert_eq!(
        app.inform(cancel_notice("RV-3", &second, 10_000)).await.1,
        "OK"
    );
    let after = app.order("RV-3").await;
    assert_eq!(after["status"], "paid");
    assert_eq!(after["cancelled_amount"], 0);
    assert_eq!(after["cancellations"].as_array().unwrap().len(), 1);
    assert_eq!(
        event_types(&app, "RV-3").await,
        ["payment.paid", "payment.needs_review", "payment.resolved"]
    );

    // And the first payment can be cancelled as usual.
    let (status, order) = status_and_body(
        app.post_json(
            "/v1/orders/RV-3/cancel",
            &json!({ "amount": 4_000, "reason": "부분" }),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(smartro.requests()[1].tid, first);
    assert_eq!(order["status"], "partially_cancelled");
}

#[tokio::test]
async fn cancelling_the_only_payment_cancels_the_order() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    let tid = charged_another_amount(&app, "RV-4", 10_000, 9_000, 4).await;
    let (status, order) = resolve(&app, "RV-4", "cancel", "rv-4").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(smartro.requests()[0].tid, tid);
    assert_eq!(smartro.requests()[0].cancel_amt, 9_000, "what Smartro took");
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["paid_amount"], 0);
    assert_eq!(order["amount"], 10_000);
    assert_eq!(order["resolutions"][0]["former_amount"], 10_000);
}

#[tokio::test]
async fn smartro_refusing_the_cancel_leaves_the_review_open() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    paid_twice(&app, "RV-5", 50).await;
    smartro.refuse_with("2002", "취소 실패");
    let (status, problem) = resolve(&app, "RV-5", "cancel", "rv-5").await;
    assert_eq!(status, 502, "{problem}");
    assert_eq!(problem["code"], "smartro_refused");
    assert_eq!(problem["smartro_code"], "2002");
    let order = app.order("RV-5").await;
    assert_eq!(order["status"], "needs_review");
    assert_eq!(order["cancellations"][0]["status"], "failed");
    assert_eq!(order["resolutions"][0]["outcome"], "refused");

    // Another try with a new key, and Smartro agrees this time.
    smartro.approve();
    let (status, order) = resolve(&app, "RV-5", "cancel", "rv-5-again").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["status"], "paid");
    assert_eq!(order["resolutions"].as_array().unwrap().len(), 2);
    assert_eq!(order["resolutions"][1]["outcome"], "cancelled");
}

#[tokio::test]
async fn no_answer_from_smartro_is_504_and_settled_later() {
    let unreachable = unreachable_url().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &unreachable)]).await;
    let (_, second) = paid_twice(&app, "RV-6", 60).await;
    let (status, problem) = resolve(&app, "RV-6", "cancel", "rv-6").await;
    assert_eq!(status, 504, "{problem}");
    assert_eq!(problem["code"], "smartro_no_answer");
    let order = app.order("RV-6").await;
    assert_eq!(order["status"], "needs_review");
    assert_eq!(order["cancellations"][0]["status"], "unknown");
    assert_eq!(order["resolutions"][0]["outcome"], "unknown");
    assert_eq!(problem["cancellation_id"], order["cancellations"][0]["id"]);

    // Nothing else is decided while it is open.
    for action in ["cancel", "accept"] {
        let (status, problem) = resolve(&app, "RV-6", action, &format!("rv-6-{action}")).await;
        assert_eq!(status, 409, "{problem}");
        assert_eq!(problem["code"], "cancellation_outcome_unknown");
    }

    // Smartro's notification says it did cancel: the review is settled.
    assert_eq!(
        app.inform(cancel_notice("RV-6", &second, 10_000)).await.1,
        "OK"
    );
    let order = app.order("RV-6").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["cancelled_amount"], 0);
    assert_eq!(order["cancellations"][0]["status"], "succeeded");
    assert_eq!(order["resolutions"][0]["outcome"], "cancelled");
    assert_eq!(
        event_types(&app, "RV-6").await,
        ["payment.paid", "payment.needs_review", "payment.resolved"]
    );
}

#[tokio::test]
async fn an_unanswered_resolution_cancel_is_reconciled_from_the_receipt() {
    let unreachable = unreachable_url().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &unreachable)]).await;
    app.create_order(card_order("RV-7", 10_000)).await;
    let (first, second) = (tid(70), tid(71));
    assert_eq!(
        app.inform(card_inform("RV-7", &first, 10_000)).await.1,
        "OK"
    );
    // 3,000 of the first payment cancelled at Smartro: the order counts it, but it is not of the second payment.
    let ptid = format!("{MID}0101261121139{:07}", 70);
    let mut part = notification(
        "RV-7",
        &ptid,
        3_000,
        "2001",
        StateCd::CancelBeforeSettlement,
        PayMethod::Card,
    );
    part.otid = Some(first.clone());
    assert_eq!(app.inform(part.to_form_body()).await.1, "OK");
    assert_eq!(
        app.inform(card_inform("RV-7", &second, 10_000)).await.1,
        "OK"
    );
    let order = app.order("RV-7").await;
    assert_eq!(order["status"], "needs_review");
    assert_eq!(order["cancelled_amount"], 3_000);
    let (status, _) = resolve(&app, "RV-7", "cancel", "rv-7").await;
    assert_eq!(status, 504);

    // Smartro's records: the second payment cancelled in full.
    app.smartro.record(
        &second,
        json!({ "tid": second, "moid": "RV-7", "goodsAmt": "10000", "stateCd": "1" }),
    );
    app.clock.advance(Duration::minutes(5));
    let services = app.gateway.services.clone();
    assert_eq!(
        gateway::workers::reconcile_once(&services).await.unwrap(),
        1
    );
    let order = app.order("RV-7").await;
    assert_eq!(order["cancellations"][1]["status"], "succeeded");
    assert_eq!(order["status"], "partially_cancelled", "{order}");
    assert_eq!(
        order["cancelled_amount"], 3_000,
        "only the first payment's own cancel"
    );
    assert_eq!(order["resolutions"][0]["outcome"], "cancelled");
}

#[tokio::test]
async fn resolutions_that_are_refused() {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    let (status, _) = resolve(&app, "NOPE", "accept", "nope").await;
    assert_eq!(status, 404);

    app.create_order(card_order("RV-8", 10_000)).await;
    assert_eq!(
        app.inform(card_inform("RV-8", &tid(80), 10_000)).await.1,
        "OK"
    );
    let (status, problem) = resolve(&app, "RV-8", "cancel", "rv-8").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "order_not_under_review");

    charged_another_amount(&app, "RV-9", 10_000, 9_000, 90).await;
    let path = "/v1/orders/RV-9/resolve";
    for (body, code, field) in [
        (
            json!({ "action": "refund", "reason": "x" }),
            "validation_failed",
            "action",
        ),
        (json!({ "reason": "x" }), "validation_failed", "action"),
        (
            json!({ "action": "accept", "reason": " " }),
            "validation_failed",
            "reason",
        ),
        (
            json!({ "action": "accept", "reason": "가".repeat(34) }),
            "validation_failed",
            "reason",
        ),
        (
            json!({ "action": "cancel", "reason": "확인 😀" }),
            "not_euc_kr",
            "reason",
        ),
        (
            json!({ "action": "accept", "reason": "a\u{0}" }),
            "nul_character",
            "reason",
        ),
    ] {
        let (status, problem) = status_and_body(app.post_json(path, &body).await).await;
        assert_eq!(status, 422, "{body}: {problem}");
        assert_eq!(problem["code"], code, "{problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // A virtual account's deposit of another amount: Smartro cannot cancel it; accept, then refund.
    let mut body = card_order("RV-10", 30_000);
    body["pay_method"] = "VBANK".into();
    app.create_order(body).await;
    let vtid = format!("{MID}0301261121120000{:04}", 10);
    let mut issued = notification(
        "RV-10",
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
    assert_eq!(app.inform(issued.to_form_body()).await.1, "OK");
    let deposit = notification(
        "RV-10",
        &vtid,
        29_000,
        "4110",
        StateCd::Approval,
        PayMethod::Vbank,
    );
    assert_eq!(app.inform(deposit.to_form_body()).await.1, "OK");
    assert_eq!(app.order("RV-10").await["status"], "needs_review");
    let (status, problem) = resolve(&app, "RV-10", "cancel", "rv-10").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "vbank_not_cancellable");
    let (status, order) = resolve(&app, "RV-10", "accept", "rv-10-accept").await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["paid_amount"], 29_000);

    // A cancel notice of a payment the gateway never saw: nothing to accept or cancel.
    app.create_order(card_order("RV-11", 10_000)).await;
    assert_eq!(
        app.inform(cancel_notice("RV-11", &tid(110), 10_000))
            .await
            .1,
        "OK"
    );
    assert_eq!(app.order("RV-11").await["status"], "needs_review");
    for action in ["accept", "cancel"] {
        let (status, problem) = resolve(&app, "RV-11", action, &format!("rv-11-{action}")).await;
        assert_eq!(status, 409, "{problem}");
        assert_eq!(problem["code"], "no_reviewed_payment");
    }

    // A cancel notice of the whole of the order's own payment after the merchant refunded part of it by
    // transfer: the buyer got more back than was paid. Accepting cannot make the books add up, so it is refused
    // and the order stays under review, in plain sight, until the excess is recovered.
    app.create_order(card_order("RV-12", 10_000)).await;
    let own = tid(120);
    assert_eq!(app.inform(card_inform("RV-12", &own, 10_000)).await.1, "OK");
    let refund = json!({ "amount": 4_000, "reason": "환불", "bank_code": "004",
                         "account": "1234567890", "holder": "홍길동" });
    assert_eq!(
        app.post_json("/v1/orders/RV-12/refunds", &refund)
            .await
            .status(),
        201
    );
    assert_eq!(
        app.inform(cancel_notice("RV-12", &own, 10_000)).await.1,
        "OK"
    );
    assert_eq!(app.order("RV-12").await["review_tid"], own.as_str());
    let (status, problem) = resolve(&app, "RV-12", "cancel", "rv-12").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "review_payment_counted");
    let (status, problem) = resolve(&app, "RV-12", "accept", "rv-12-accept").await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["code"], "returned_exceeds_payment");
    let order = app.order("RV-12").await;
    assert_eq!(order["status"], "needs_review");
    assert_eq!(order["refunded_amount"], 4_000);

    assert!(smartro.requests().is_empty(), "nothing reached Smartro");
}
