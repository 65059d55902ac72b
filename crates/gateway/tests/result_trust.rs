//! No forged or replayed result moves money: results are confirmed server to server (Smartro's receipt data API,
//! here a double over real HTTP; or an allow-listed notifier) before they change an order, and a TID belongs to
//! one order forever. Real gateway, real PostgreSQL.

mod common;

use std::net::IpAddr;

use chrono::Duration as ChronoDuration;
use common::*;
use serde_json::Value;
use smartro::types::{EncodingType, PayMethod, StateCd};

/// Smartro's notification servers, as these tests configure them.
const NOTIFIER: &str = "127.0.0.2";

/// A gateway that trusts informs from [`NOTIFIER`] only; everything else is confirmed with the receipt API.
async fn spawn_trusting_notifier() -> TestApp {
    spawn_app_with(&[("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.2/32")]).await
}

fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An inform sent from `source` (bound as the client's address): `(status, body)`.
async fn inform_from(app: &TestApp, source: &str, body: Vec<u8>) -> (u16, String) {
    let response = client_from(source)
        .post(app.url("/smartro/inform"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn events_of(app: &TestApp, order_id: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM outbox_events WHERE order_id = $1")
        .bind(order_id)
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn outcomes(app: &TestApp) -> Vec<String> {
    sqlx::query_scalar("SELECT outcome FROM notifications ORDER BY id")
        .fetch_all(&app.db.pool)
        .await
        .unwrap()
}

fn assert_untouched(order: &Value, status: &str) {
    assert_eq!(order["status"], status, "{order}");
    assert_eq!(order["payments"].as_array().unwrap().len(), 0, "{order}");
    assert!(order["tid"].is_null(), "{order}");
}

/// The cheap order is paid (confirmed by the receipt API); its TID and SignValue are what an attacker holds.
async fn pay_cheap(app: &TestApp, order_id: &str, tid: &str) {
    app.create_order(card_order(order_id, 1_000)).await;
    app.smartro.knows(tid, order_id, 1_000);
    let response = app.return_pay(card_return(order_id, tid, 1_000)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.order(order_id).await["status"], "paid");
}

#[tokio::test]
async fn a_real_tid_replayed_onto_another_order_through_return_pay_changes_nothing() {
    let app = spawn_trusting_notifier().await;
    pay_cheap(&app, "CHEAP-1", &tid(1)).await;
    let mut expensive = card_order("EXPENSIVE-1", 990_000);
    expensive["return_url"] = "https://shop.example.com/done".into();
    expensive["buyer"]["name"] = "김피해".into();
    app.create_order(expensive).await;

    // The cheap payment's returnPay, re-posted with the expensive order's OID and amount: the signature still
    // verifies, because it covers only the TID and the ResultCode.
    let forged = card_return("EXPENSIVE-1", &tid(1), 990_000);
    let response = app.return_pay(forged).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("확인할 수 없습니다"), "{page}");
    for secret in ["EXPENSIVE-1", "김피해", "990,000", "테스트 상품"] {
        assert!(!page.contains(secret), "the page shows {secret}: {page}");
    }

    assert_untouched(&app.order("EXPENSIVE-1").await, "pending");
    assert_eq!(events_of(&app, "EXPENSIVE-1").await, 0);
    assert_eq!(outcomes(&app).await, ["applied", "refuted"]);
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap();
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains("source=\"return\",outcome=\"refuted\"}")
            || metrics.contains("outcome=\"refuted\",source=\"return\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_real_tid_replayed_through_inform_changes_nothing_whoever_sends_it() {
    let app = spawn_trusting_notifier().await;
    pay_cheap(&app, "CHEAP-2", &tid(2)).await;
    app.create_order(card_order("EXPENSIVE-2", 990_000)).await;
    let forged = card_inform("EXPENSIVE-2", &tid(2), 990_000);

    // From anywhere on the internet: Smartro's records name the cheap order.
    let (status, body) = inform_from(&app, "127.0.0.1", forged.clone()).await;
    assert_eq!((status, body.as_str()), (403, "FAIL refuted"));
    // Even from an allow-listed source (which Smartro alone should be), the TID is the cheap order's.
    let calls = app.smartro.calls();
    let (status, body) = inform_from(&app, NOTIFIER, forged).await;
    assert_eq!((status, body.as_str()), (403, "FAIL refuted"));
    assert_eq!(
        app.smartro.calls(),
        calls,
        "a trusted notifier needs no lookup"
    );

    assert_untouched(&app.order("EXPENSIVE-2").await, "pending");
    assert_eq!(events_of(&app, "EXPENSIVE-2").await, 0);
    assert_eq!(app.order("CHEAP-2").await["status"], "paid");
    assert_eq!(outcomes(&app).await, ["applied", "refuted", "refuted"]);
}

#[tokio::test]
async fn a_cancelled_order_stays_cancelled() {
    let app = spawn_trusting_notifier().await;
    pay_cheap(&app, "CHEAP-3", &tid(3)).await;
    // Another order, paid and then cancelled in full, as Smartro's notifier reports it.
    app.create_order(card_order("CXL-3", 1_000)).await;
    assert_eq!(
        inform_from(&app, NOTIFIER, card_inform("CXL-3", &tid(30), 1_000))
            .await
            .1,
        "OK"
    );
    let mut cancel = notification(
        "CXL-3",
        &tid(30),
        1_000,
        "2001",
        StateCd::CancelBeforeSettlement,
        PayMethod::Card,
    );
    cancel.otid = Some(tid(30));
    assert_eq!(
        inform_from(&app, NOTIFIER, cancel.to_form_body()).await.1,
        "OK"
    );
    let before = app.order("CXL-3").await;
    assert_eq!(before["status"], "cancelled");
    let events_before = events_of(&app, "CXL-3").await;

    let response = app.return_pay(card_return("CXL-3", &tid(3), 1_000)).await;
    assert_eq!(response.status(), 400);
    for source in ["127.0.0.1", NOTIFIER] {
        let (status, _) = inform_from(&app, source, card_inform("CXL-3", &tid(3), 1_000)).await;
        assert_eq!(status, 403);
    }
    let after = app.order("CXL-3").await;
    assert_eq!(after["status"], "cancelled", "{after}");
    assert_eq!(after["payments"], before["payments"]);
    assert_eq!(after["updated_at"], before["updated_at"]);
    assert_eq!(events_of(&app, "CXL-3").await, events_before);
}

#[tokio::test]
async fn a_tid_smartro_never_made_changes_nothing_and_is_given_up_after_a_day() {
    let app = spawn_trusting_notifier().await;
    let mut order = card_order("NEVER-1", 50_000);
    order["return_url"] = "https://shop.example.com/done".into();
    app.create_order(order).await;
    // Signed with the public test key, which anyone has: a valid signature for a TID Smartro never issued.
    let response = app
        .return_pay(card_return("NEVER-1", &tid(4), 50_000))
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    assert!(page.contains("결제 확인 중"), "{page}");
    assert!(
        !page.contains("테스트 상품") && !page.contains("50,000"),
        "{page}"
    );
    let follow = page
        .split("url=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page refreshes to its follow URL")
        .replace("&amp;", "&");
    assert!(follow.starts_with("/smartro/return/status?t="), "{follow}");

    let (status, body) =
        inform_from(&app, "127.0.0.1", card_inform("NEVER-1", &tid(4), 50_000)).await;
    assert_eq!((status, body.as_str()), (503, "FAIL unconfirmed"));
    assert_untouched(&app.order("NEVER-1").await, "pending");
    assert_eq!(events_of(&app, "NEVER-1").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM tid_bindings").await,
        0,
        "nothing is bound for an unconfirmed result"
    );

    // The worker keeps asking, with backoff, for the confirmation window, then leaves it to a person.
    let state = &app.gateway.services;
    app.clock.advance(ChronoDuration::seconds(5));
    assert_eq!(gateway::workers::confirm_once(state).await.unwrap(), 0);
    let attempts = app
        .count("SELECT max(check_attempts)::bigint FROM notifications")
        .await;
    assert_eq!(attempts, 2);
    let page = app.http.get(app.url(&follow)).send().await.unwrap();
    assert!(page.text().await.unwrap().contains("결제 확인 중"));
    app.clock.advance(ChronoDuration::hours(25));
    gateway::workers::confirm_once(state).await.unwrap();
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE next_check_at IS NOT NULL")
            .await,
        0
    );
    let page = app.http.get(app.url(&follow)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("상점에 문의"), "{page}");
    assert!(!page.contains("테스트 상품"), "{page}");
    assert_untouched(&app.order("NEVER-1").await, "pending");
}

#[tokio::test]
async fn with_the_receipt_api_down_a_real_result_waits_then_settles_once() {
    let app = spawn_trusting_notifier().await;
    let mut order = card_order("WAIT-1", 12_000);
    order["return_url"] = "https://shop.example.com/done#paid".into();
    app.create_order(order).await;
    app.smartro.knows(&tid(5), "WAIT-1", 12_000);
    app.smartro.set_down(true);

    let response = app.return_pay(card_return("WAIT-1", &tid(5), 12_000)).await;
    let page = response.text().await.unwrap();
    assert!(page.contains("결제 확인 중"), "{page}");
    let token: String = sqlx::query_scalar("SELECT follow_token FROM notifications")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let follow = format!("/smartro/return/status?t={token}");
    let (status, _) = inform_from(&app, "127.0.0.1", card_inform("WAIT-1", &tid(5), 12_000)).await;
    assert_eq!(status, 503, "Smartro must re-send");
    assert_untouched(&app.order("WAIT-1").await, "pending");

    // Still down at the first retry.
    let state = &app.gateway.services;
    app.clock.advance(ChronoDuration::seconds(3));
    assert_eq!(gateway::workers::confirm_once(state).await.unwrap(), 0);
    assert_untouched(&app.order("WAIT-1").await, "pending");

    // Back: the next due check confirms and applies it, once.
    app.smartro.set_down(false);
    app.clock.advance(ChronoDuration::seconds(10));
    let settled = gateway::workers::confirm_once(state).await.unwrap();
    assert_eq!(
        settled, 1,
        "one check for the returnPay and the inform of one result"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'unconfirmed'")
            .await,
        0,
        "both deliveries settled"
    );
    let order = app.order("WAIT-1").await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 12_000);
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    assert_eq!(events_of(&app, "WAIT-1").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'applied'")
            .await,
        1
    );
    // The buyer's page now moves on to the shop, parameters before the fragment.
    let response = app.http.get(app.url(&follow)).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "https://shop.example.com/done?order_id=WAIT-1&status=paid#paid"
    );
    // Smartro's re-send is now a duplicate, acknowledged at once.
    let (status, body) =
        inform_from(&app, "127.0.0.1", card_inform("WAIT-1", &tid(5), 12_000)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(events_of(&app, "WAIT-1").await, 1);
}

#[tokio::test]
async fn only_the_allow_list_and_trusted_proxies_decide_who_is_smartro() {
    let app = spawn_trusting_notifier().await;
    for id in ["ALLOW-1", "ALLOW-2"] {
        app.create_order(card_order(id, 3_000)).await;
    }
    // The receipt API knows neither TID: only the source can make these count.
    let (status, body) = inform_from(&app, NOTIFIER, card_inform("ALLOW-1", &tid(6), 3_000)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(app.order("ALLOW-1").await["status"], "paid");
    let confirmed_by: String =
        sqlx::query_scalar("SELECT confirmed_by FROM notifications WHERE outcome = 'applied'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(confirmed_by, "notifier");

    // Claiming to be the notifier in a header, from a peer that is no trusted proxy, counts for nothing.
    let response = client_from("127.0.0.1")
        .post(app.url("/smartro/inform"))
        .header("x-forwarded-for", NOTIFIER)
        .header("forwarded", format!("for={NOTIFIER}"))
        .body(card_inform("ALLOW-2", &tid(7), 3_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_untouched(&app.order("ALLOW-2").await, "pending");

    // Behind a trusted proxy, the address it forwards is the sender.
    let proxied = spawn_app_with(&[
        ("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.2/32"),
        ("GATEWAY__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    proxied.create_order(card_order("PROXY-1", 3_000)).await;
    let response = client_from("127.0.0.1")
        .post(proxied.url("/smartro/inform"))
        .header("x-forwarded-for", format!("198.51.100.7, {NOTIFIER}"))
        .body(card_inform("PROXY-1", &tid(8), 3_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(proxied.order("PROXY-1").await["status"], "paid");
    let remote: String = sqlx::query_scalar("SELECT remote_addr FROM notifications")
        .fetch_one(&proxied.db.pool)
        .await
        .unwrap();
    assert_eq!(remote, NOTIFIER, "the sender as resolved is what is kept");
}

/// A forged and the real result for one TID, each sent many times at once through both channels: the real
/// order is paid once, the other is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_and_the_real_result_racing_leave_the_real_order_paid_once() {
    let app = spawn_trusting_notifier().await;
    app.create_order(card_order("REAL-1", 5_000)).await;
    app.create_order(card_order("VICTIM-1", 5_000)).await;
    let tid = tid(9);
    app.smartro.knows(&tid, "REAL-1", 5_000);

    let mut tasks = Vec::new();
    for i in 0..24 {
        let real = i % 2 == 0;
        let order_id = if real { "REAL-1" } else { "VICTIM-1" };
        let (url, body, source) = match i % 4 {
            // Smartro's notifier sends only the real one; the forger sends from anywhere.
            0 => (
                "/smartro/inform",
                card_inform(order_id, &tid, 5_000),
                NOTIFIER,
            ),
            1 => (
                "/smartro/inform",
                card_inform(order_id, &tid, 5_000),
                "127.0.0.1",
            ),
            _ => (
                "/smartro/return",
                card_return(order_id, &tid, 5_000).into_bytes(),
                "127.0.0.1",
            ),
        };
        let url = app.url(url);
        tasks.push(tokio::spawn(async move {
            let response = client_from(source)
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap();
            (real, response.status().as_u16())
        }));
    }
    for task in tasks {
        let (real, status) = task.await.unwrap();
        if real {
            assert_eq!(status, 200, "the real result is acknowledged");
        } else {
            assert!(matches!(status, 400 | 403), "a forgery got {status}");
        }
    }
    let real = app.order("REAL-1").await;
    assert_eq!(real["status"], "paid");
    assert_eq!(real["payments"].as_array().unwrap().len(), 1);
    assert_eq!(events_of(&app, "REAL-1").await, 1);
    assert_untouched(&app.order("VICTIM-1").await, "pending");
    assert_eq!(events_of(&app, "VICTIM-1").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'refuted'")
            .await,
        12
    );
}

#[tokio::test]
async fn smartro_endpoints_take_16_kib_at_most_and_store_nothing_larger() {
    let app = spawn_app().await;
    for path in ["/smartro/inform", "/smartro/return"] {
        let too_big = vec![b'a'; 16 * 1024 + 1];
        let response = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(too_big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 413, "{path}");
        let just_fits = vec![b'a'; 16 * 1024];
        let response = app
            .http
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(just_fits)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
    }
    assert_eq!(
        outcomes(&app).await,
        ["malformed", "malformed"],
        "only the bodies within the limit are stored"
    );
}

#[tokio::test]
async fn rejected_bodies_are_kept_a_week_and_applied_ones_for_good() {
    let app = spawn_app().await;
    app.create_order(card_order("KEEP-1", 1_000)).await;
    assert_eq!(
        app.inform(card_inform("KEEP-1", &tid(10), 1_000)).await.1,
        "OK"
    );
    app.inform(b"garbage".to_vec()).await;
    let mut forged = notification(
        "KEEP-1",
        &tid(11),
        1_000,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    forged.sign_value = "bm90IGEgc2lnbmF0dXJl".into();
    app.inform(forged.to_form_body()).await;
    let state = &app.gateway.services;

    app.clock.advance(ChronoDuration::days(6));
    assert_eq!(
        gateway::workers::purge_rejected_once(state).await.unwrap(),
        0
    );
    app.clock.advance(ChronoDuration::days(2));
    assert_eq!(
        gateway::workers::purge_rejected_once(state).await.unwrap(),
        2
    );
    assert_eq!(outcomes(&app).await, ["applied"]);
}

#[tokio::test]
async fn a_returned_result_already_confirmed_needs_no_second_lookup() {
    let app = spawn_trusting_notifier().await;
    app.create_order(card_order("AGAIN-1", 2_000)).await;
    // Smartro's notifier delivers first; the buyer's browser arrives later with the same result.
    assert_eq!(
        inform_from(&app, NOTIFIER, card_inform("AGAIN-1", &tid(12), 2_000))
            .await
            .1,
        "OK"
    );
    let response = app
        .return_pay(
            payment_result("AGAIN-1", &tid(12), 2_000, "3001")
                .to_form_body(EncodingType::Utf8, true),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("결제가 완료되었습니다"));
    assert_eq!(app.smartro.calls(), 0, "the receipt API was never asked");
    assert_eq!(outcomes(&app).await, ["applied", "duplicate"]);
}

#[tokio::test]
async fn headers_a_client_adds_beside_its_proxys_own_are_not_believed() {
    // nginx appends to X-Forwarded-For and passes a client's own `Forwarded` through untouched.
    let app = spawn_app_with(&[
        ("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.2/32"),
        ("GATEWAY__SERVER__TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    app.create_order(card_order("FWD-1", 3_000)).await;
    let response = client_from("127.0.0.1")
        .post(app.url("/smartro/inform"))
        .header("forwarded", format!("for={NOTIFIER}"))
        .header("x-forwarded-for", "198.51.100.7")
        .body(card_inform("FWD-1", &tid(13), 3_000))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_untouched(&app.order("FWD-1").await, "pending");
}

#[tokio::test]
async fn an_otid_smuggled_into_an_approval_binds_nothing() {
    let app = spawn_trusting_notifier().await;
    pay_cheap(&app, "OTID-CHEAP", &tid(14)).await;
    app.create_order(card_order("OTID-VICTIM", 7_000)).await;
    // The attacker's own result sent again with the victim's (guessed) TID as OTID: a duplicate that binds
    // nothing, then a fresh one.
    for attacker_tid in [tid(14), tid(15)] {
        app.smartro.knows(&tid(15), "OTID-CHEAP", 1_000);
        let mut smuggled = notification(
            "OTID-CHEAP",
            &attacker_tid,
            1_000,
            "3001",
            StateCd::Approval,
            PayMethod::Card,
        );
        smuggled.otid = Some(tid(16));
        inform_from(&app, "127.0.0.1", smuggled.to_form_body()).await;
    }
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM tid_bindings WHERE tid = '{}'",
            tid(16)
        ))
        .await,
        0
    );
    // The victim's real payment lands.
    app.smartro.knows(&tid(16), "OTID-VICTIM", 7_000);
    let response = app
        .return_pay(card_return("OTID-VICTIM", &tid(16), 7_000))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.order("OTID-VICTIM").await["status"], "paid");
}

#[tokio::test]
async fn a_partial_cancel_counts_only_as_often_as_smartro_lists_it() {
    let app = spawn_trusting_notifier().await;
    app.create_order(card_order("PART-1", 10_000)).await;
    assert_eq!(
        inform_from(&app, NOTIFIER, card_inform("PART-1", &tid(17), 10_000))
            .await
            .1,
        "OK"
    );
    app.smartro.record(
        &tid(17),
        serde_json::json!({ "tid": tid(17), "moid": "PART-1", "goodsAmt": "10000", "stateCd": "0",
                            "partCancelInfo": [{ "transAmt": "3000" }] }),
    );
    for (n, expected) in [(18, (200, "OK")), (19, (403, "FAIL refuted"))] {
        let mut cancel = notification(
            "PART-1",
            &tid(n),
            3_000,
            "2001",
            StateCd::CancelBeforeSettlement,
            PayMethod::Card,
        );
        cancel.otid = Some(tid(17));
        let (status, body) = inform_from(&app, "127.0.0.1", cancel.to_form_body()).await;
        assert_eq!((status, body.as_str()), expected, "PTID {n}");
    }
    let order = app.order("PART-1").await;
    assert_eq!(order["status"], "partially_cancelled");
    assert_eq!(order["cancelled_amount"], 3_000);
}

#[tokio::test]
async fn a_whole_cancel_sent_again_with_another_state_changes_nothing() {
    let app = spawn_trusting_notifier().await;
    app.create_order(card_order("FLIP-1", 1_000)).await;
    assert_eq!(
        inform_from(&app, NOTIFIER, card_inform("FLIP-1", &tid(20), 1_000))
            .await
            .1,
        "OK"
    );
    for state in [
        StateCd::CancelBeforeSettlement,
        StateCd::CancelAfterSettlement,
    ] {
        let mut cancel = notification("FLIP-1", &tid(20), 1_000, "2001", state, PayMethod::Card);
        cancel.otid = Some(tid(20));
        assert_eq!(
            inform_from(&app, NOTIFIER, cancel.to_form_body()).await.1,
            "OK"
        );
    }
    let order = app.order("FLIP-1").await;
    assert_eq!(order["status"], "cancelled", "{order}");
    assert_eq!(order["cancellations"].as_array().unwrap().len(), 1);
    assert_eq!(events_of(&app, "FLIP-1").await, 2, "paid, then cancelled");
}

#[tokio::test]
async fn a_result_code_the_tables_do_not_know_is_chased_and_reviewed() {
    let app = spawn_trusting_notifier().await;
    app.create_order(card_order("ODD-1", 4_000)).await;
    // 4000 is not a card code: neither success nor failure. Without a record it is not acknowledged...
    let odd = notification(
        "ODD-1",
        &tid(21),
        4_000,
        "4000",
        StateCd::Approval,
        PayMethod::Card,
    );
    let (status, _) = inform_from(&app, "127.0.0.1", odd.to_form_body()).await;
    assert_eq!(status, 503, "money may have moved: Smartro must re-send");
    assert_untouched(&app.order("ODD-1").await, "pending");
    // ...and once Smartro's records show the payment (and its re-send comes), a person reviews it.
    app.smartro.knows(&tid(21), "ODD-1", 4_000);
    app.clock.advance(ChronoDuration::seconds(11));
    let (status, body) = inform_from(&app, "127.0.0.1", odd.to_form_body()).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    let order = app.order("ODD-1").await;
    assert_eq!(order["status"], "needs_review");
    assert!(order["review_reason"].as_str().unwrap().contains("4000"));
}

#[tokio::test]
async fn the_same_result_sent_again_and_again_costs_one_lookup() {
    let app = spawn_trusting_notifier().await;
    app.create_order(card_order("AGAIN-2", 6_000)).await;
    let body = card_inform("AGAIN-2", &tid(22), 6_000);
    for _ in 0..5 {
        let (status, _) = inform_from(&app, "127.0.0.1", body.clone()).await;
        assert_eq!(status, 503);
    }
    assert_eq!(app.smartro.calls(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE next_check_at IS NOT NULL")
            .await,
        1,
        "one scheduled check speaks for every delivery"
    );
    // When Smartro's records catch up, the one check settles every delivery.
    app.smartro.knows(&tid(22), "AGAIN-2", 6_000);
    app.clock.advance(ChronoDuration::seconds(5));
    gateway::workers::confirm_once(&app.gateway.services)
        .await
        .unwrap();
    assert_eq!(app.smartro.calls(), 2);
    assert_eq!(app.order("AGAIN-2").await["status"], "paid");
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'unconfirmed'")
            .await,
        0
    );
}

#[tokio::test]
async fn a_failed_attempt_replayed_onto_another_order_shows_nothing_of_it() {
    let app = spawn_trusting_notifier().await;
    pay_cheap(&app, "FAIL-PAID", &tid(23)).await;
    let mut victim = card_order("FAIL-VICTIM", 9_000);
    victim["return_url"] = "https://shop.example.com/orders/FAIL-VICTIM?session=s3cr3t".into();
    app.create_order(victim).await;
    assert_eq!(
        inform_from(&app, NOTIFIER, card_inform("FAIL-VICTIM", &tid(24), 9_000))
            .await
            .1,
        "OK"
    );
    // The attacker's own declined attempt, re-posted with the victim's OID.
    let declined = payment_result("FAIL-VICTIM", &tid(25), 9_000, "3011")
        .to_form_body(EncodingType::Utf8, true);
    let response = app.return_pay(declined).await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("location").is_none());
    let page = response.text().await.unwrap();
    assert!(
        !page.contains("s3cr3t") && !page.contains("FAIL-VICTIM"),
        "{page}"
    );
    assert_eq!(app.order("FAIL-VICTIM").await["status"], "paid");
}
