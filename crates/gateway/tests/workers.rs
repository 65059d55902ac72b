//! Webhook delivery, expiry, the events API and retention, driven pass by pass with a controlled clock.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chrono::Duration;
use common::*;
use gateway::clock::Clock;
use gateway::store::statistics::YOUNG_PAGES;
use gateway::workers::{analyze_once, expire_once, purge_once, WebhookDelivery};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

const SECRET: &str = "whsec_test_secret";

type Deliveries = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

#[derive(Clone, Default)]
struct Receiver {
    received: Deliveries,
    /// Status codes to answer, in order; 200 once they run out.
    script: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    fn bodies(&self) -> Vec<Value> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(_, b)| serde_json::from_slice(b).unwrap())
            .collect()
    }
}

async fn hook(State(r): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.received.lock().unwrap().push((headers, body.to_vec()));
    let mut script = r.script.lock().unwrap();
    if script.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::from_u16(script.remove(0)).unwrap()
    }
}

async fn receiver(script: Vec<u16>) -> (Receiver, String) {
    let r = Receiver {
        script: Arc::new(Mutex::new(script)),
        ..Receiver::default()
    };
    let app = Router::new()
        .route("/hooks", post(hook))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (r, url)
}

async fn app_with_webhooks(url: &str, window_hours: &str) -> TestApp {
    spawn_app_with(&[
        ("GATEWAY__WEBHOOKS__URL", url),
        ("GATEWAY__WEBHOOKS__SECRET", SECRET),
        ("GATEWAY__WEBHOOKS__RETRY_WINDOW_HOURS", window_hours),
    ])
    .await
}

fn verify_signature(headers: &HeaderMap, body: &[u8]) {
    let header = headers["gateway-signature"].to_str().unwrap();
    let (t, v1) = header.split_once(',').unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let v1 = v1.strip_prefix("v1=").unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        v1,
        "signature verifies"
    );
}

async fn paid_order(app: &TestApp, id: &str, n: u32) {
    app.create_order(card_order(id, 1000)).await;
    assert_eq!(app.inform(card_inform(id, &tid(n), 1000)).await.1, "OK");
}

#[tokio::test]
async fn a_paid_order_is_delivered_once_signed() {
    let (hooks, url) = receiver(vec![]).await;
    let app = app_with_webhooks(&url, "72").await;
    paid_order(&app, "WH-1", 1).await;
    let delivery = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    assert_eq!(delivery.run_once().await.unwrap(), 1);
    assert_eq!(
        delivery.run_once().await.unwrap(),
        0,
        "nothing is delivered twice"
    );

    let received = hooks.received.lock().unwrap().clone();
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    verify_signature(headers, body);
    assert_eq!(headers["content-type"], "application/json");
    let event: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(event["type"], "payment.paid");
    assert_eq!(headers["gateway-event-id"].to_str().unwrap(), event["id"]);
    assert_eq!(event["data"]["order"]["order_id"], "WH-1");
    assert_eq!(event["data"]["order"]["status"], "paid");
    assert!(event["created_at"].is_string());
    assert_eq!(
        app.count("SELECT count(*) FROM outbox_events WHERE delivery_status = 'delivered'")
            .await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM webhook_attempts WHERE status_code = 200")
            .await,
        1
    );
}

#[tokio::test]
async fn failures_are_retried_with_backoff_and_the_same_event_id() {
    let (hooks, url) = receiver(vec![500, 503]).await;
    let app = app_with_webhooks(&url, "72").await;
    paid_order(&app, "WH-2", 2).await;
    let delivery = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();

    assert_eq!(delivery.run_once().await.unwrap(), 1);
    let (attempts, wait): (i32, f64) = sqlx::query_as(
        "SELECT attempts, extract(epoch FROM next_attempt_at - $1)::float8 FROM outbox_events",
    )
    .bind(app.clock.now())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(attempts, 1);
    assert!(
        (1.0..=1.2).contains(&wait),
        "first retry after about a second: {wait}"
    );
    assert_eq!(delivery.run_once().await.unwrap(), 0, "not due yet");

    app.clock.advance(Duration::seconds(2));
    assert_eq!(delivery.run_once().await.unwrap(), 1);
    let wait: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM next_attempt_at - $1)::float8 FROM outbox_events",
    )
    .bind(app.clock.now())
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert!((2.0..=2.4).contains(&wait), "then about two: {wait}");

    app.clock.advance(Duration::seconds(3));
    assert_eq!(delivery.run_once().await.unwrap(), 1);
    let bodies = hooks.bodies();
    assert_eq!(bodies.len(), 3);
    assert!(bodies.iter().all(|b| b["id"] == bodies[0]["id"]));
    let (status, last_error): (String, Option<String>) =
        sqlx::query_as("SELECT delivery_status, last_error FROM outbox_events")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "delivered");
    assert_eq!(last_error, None);
    let codes: Vec<Option<i32>> =
        sqlx::query_scalar("SELECT status_code FROM webhook_attempts ORDER BY id")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(codes, [Some(500), Some(503), Some(200)]);
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    // The shop's endpoint answers 307 towards another address that would take the POST with its body.
    let moved: Deliveries = Arc::default();
    let shop = Router::new()
        .route(
            "/hooks",
            post(|| async { (StatusCode::TEMPORARY_REDIRECT, [("location", "/moved")]) }),
        )
        .route(
            "/moved",
            post(
                |State(moved): State<Deliveries>, headers: HeaderMap, body: Bytes| async move {
                    moved.lock().unwrap().push((headers, body.to_vec()));
                    StatusCode::OK
                },
            ),
        )
        .with_state(moved.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, shop).await });

    let app = app_with_webhooks(&url, "72").await;
    paid_order(&app, "WH-RD", 7).await;
    let delivery = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    assert_eq!(delivery.run_once().await.unwrap(), 1);

    assert!(
        moved.lock().unwrap().is_empty(),
        "the redirect was followed"
    );
    let (status, attempts, last_error): (String, i32, Option<String>) =
        sqlx::query_as("SELECT delivery_status, attempts, last_error FROM outbox_events")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(status, "pending", "retried later, not delivered");
    assert_eq!(attempts, 1);
    let last_error = last_error.unwrap();
    assert!(last_error.contains("HTTP 307"), "{last_error}");
    assert!(last_error.contains("not followed"), "{last_error}");
    let codes: Vec<Option<i32>> = sqlx::query_scalar("SELECT status_code FROM webhook_attempts")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(codes, [Some(307)]);
}

#[tokio::test]
async fn an_unreachable_shop_is_retried_until_the_window_ends() {
    let app = app_with_webhooks("http://127.0.0.1:9/hooks", "1").await;
    paid_order(&app, "WH-3", 3).await;
    let delivery = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    let mut passes = 0;
    loop {
        delivery.run_once().await.unwrap();
        passes += 1;
        let status: String = sqlx::query_scalar("SELECT delivery_status FROM outbox_events")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        if status == "failed" {
            break;
        }
        assert!(passes < 30, "gave up after the window");
        app.clock.advance(Duration::minutes(20));
    }
    let error: String = sqlx::query_scalar("SELECT last_error FROM outbox_events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert!(error.contains("connection failed"), "{error}");
    assert!(passes >= 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_deliver_every_event_exactly_once() {
    let (hooks, url) = receiver(vec![]).await;
    let app = app_with_webhooks(&url, "72").await;
    for i in 0..40 {
        paid_order(&app, &format!("WH-R{i}"), 100 + i).await;
    }
    let a = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    let b = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    let run = |d: WebhookDelivery| async move {
        let mut total = 0;
        loop {
            let n = d.run_once().await.unwrap();
            if n == 0 {
                return total;
            }
            total += n;
        }
    };
    let (na, nb) = tokio::join!(run(a), run(b));
    assert_eq!(na + nb, 40);
    let mut per_id: HashMap<String, usize> = HashMap::new();
    for body in hooks.bodies() {
        *per_id
            .entry(body["id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_id.len(), 40);
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
}

#[tokio::test]
async fn a_crashed_replicas_lease_runs_out_and_another_delivers() {
    let (hooks, url) = receiver(vec![]).await;
    let app = app_with_webhooks(&url, "72").await;
    paid_order(&app, "WH-4", 4).await;
    // "replica A" leases the event and dies without a word
    let leased = app
        .gateway
        .services
        .store
        .lease_events("replica-a", app.clock.now(), Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    let b = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    assert_eq!(b.run_once().await.unwrap(), 0, "the lease is respected");
    app.clock.advance(Duration::seconds(61));
    assert_eq!(b.run_once().await.unwrap(), 1);
    assert_eq!(hooks.bodies().len(), 1);
    // A's late report changes nothing
    let kept = app
        .gateway
        .services
        .store
        .finish_attempt(
            "replica-a",
            &leased[0].id,
            &gateway::store::delivery::Attempt {
                status_code: Some(500),
                latency_ms: 1,
                error: None,
            },
            gateway::store::delivery::AfterAttempt::GiveUp,
            app.clock.now(),
        )
        .await
        .unwrap();
    assert!(!kept);
    let status: String = sqlx::query_scalar("SELECT delivery_status FROM outbox_events")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(status, "delivered");
}

#[tokio::test]
async fn leases_are_released_on_shutdown() {
    let app = app_with_webhooks("http://127.0.0.1:9/hooks", "72").await;
    paid_order(&app, "WH-5", 5).await;
    let store = &app.gateway.services.store;
    store
        .lease_events("replica-a", app.clock.now(), Duration::seconds(600), 10)
        .await
        .unwrap();
    assert_eq!(store.release_leases("replica-a").await.unwrap(), 1);
    let leased = store
        .lease_events("replica-b", app.clock.now(), Duration::seconds(600), 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
}

#[tokio::test]
async fn pending_orders_expire_after_their_ttl() {
    let app = spawn_app().await;
    app.create_order(card_order("EXP-1", 1000)).await;
    app.create_order(card_order("EXP-2", 1000)).await;
    assert_eq!(
        app.inform(card_inform("EXP-2", &tid(6), 1000)).await.1,
        "OK"
    );
    assert_eq!(expire_once(&app.gateway.services).await.unwrap(), 0);
    app.clock.advance(Duration::minutes(60));
    assert_eq!(expire_once(&app.gateway.services).await.unwrap(), 1);
    assert_eq!(expire_once(&app.gateway.services).await.unwrap(), 0);
    assert_eq!(app.order("EXP-1").await["status"], "expired");
    assert_eq!(app.order("EXP-2").await["status"], "paid");
    let types: Vec<String> =
        sqlx::query_scalar("SELECT event_type FROM outbox_events WHERE order_id = 'EXP-1'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(types, ["order.expired"]);
}

#[tokio::test]
async fn an_issued_virtual_account_expires_at_its_deposit_date() {
    let app = spawn_app().await;
    let mut body = card_order("EXP-VB", 5000);
    body["pay_method"] = "VBANK".into();
    body["vbank_exp_date"] = "20261123".into();
    app.create_order(body).await;
    let vtid = format!("{MID}0301261121120000{:04}", 7);
    let mut issued = notification(
        "EXP-VB",
        &vtid,
        5000,
        "4100",
        smartro::types::StateCd::VbankIssued,
        smartro::types::PayMethod::Vbank,
    );
    issued.vbank_num = Some("56211234567890".into());
    assert_eq!(app.inform(issued.to_form_body()).await.1, "OK");
    let order = app.order("EXP-VB").await;
    assert_eq!(order["status"], "awaiting_deposit");
    assert_eq!(
        order["expires_at"], "2026-11-23T14:59:59Z",
        "end of the deposit day in Korea"
    );

    app.clock.advance(Duration::hours(2));
    assert_eq!(
        expire_once(&app.gateway.services).await.unwrap(),
        0,
        "the order's own ttl no longer applies"
    );
    app.clock.set("2026-11-23T15:00:00Z".parse().unwrap());
    assert_eq!(expire_once(&app.gateway.services).await.unwrap(), 1);
    assert_eq!(app.order("EXP-VB").await["status"], "expired");

    // money that arrives after all is still taken as paid, never lost
    let deposit = notification(
        "EXP-VB",
        &vtid,
        5000,
        "4110",
        smartro::types::StateCd::Approval,
        smartro::types::PayMethod::Vbank,
    );
    assert_eq!(app.inform(deposit.to_form_body()).await.1, "OK");
    assert_eq!(app.order("EXP-VB").await["status"], "paid");
}

#[tokio::test]
async fn the_events_api_lists_and_redelivers() {
    let (hooks, url) = receiver(vec![]).await;
    let app = app_with_webhooks(&url, "72").await;
    paid_order(&app, "EV-1", 8).await;
    app.create_order(card_order("EV-2", 1000)).await;
    app.clock.advance(Duration::minutes(61));
    expire_once(&app.gateway.services).await.unwrap();

    let all: Value = app.get_json("/v1/events").await.json().await.unwrap();
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    assert_eq!(all["data"][0]["type"], "order.expired", "newest first");
    let one: Value = app
        .get_json("/v1/events?order_id=EV-1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["data"][0]["type"], "payment.paid");
    assert_eq!(one["data"][0]["delivery_status"], "pending");
    let typed: Value = app
        .get_json("/v1/events?type=order.expired&limit=1")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(typed["data"][0]["order_id"], "EV-2");
    assert!(typed["next_cursor"].is_null());
    let page: Value = app
        .get_json("/v1/events?limit=1")
        .await
        .json()
        .await
        .unwrap();
    let cursor = page["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get_json(&format!("/v1/events?limit=1&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page2["data"][0]["type"], "payment.paid");
    for bad in [
        "type=payment.teleported",
        "limit=0",
        "cursor=zzz",
        "colour=red",
    ] {
        assert_eq!(
            app.get_json(&format!("/v1/events?{bad}")).await.status(),
            400,
            "{bad}"
        );
    }
    assert_eq!(
        app.http
            .get(app.url("/v1/events"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    let delivery = WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .unwrap();
    assert_eq!(delivery.run_once().await.unwrap(), 2);
    let id = one["data"][0]["id"].as_str().unwrap();
    let again = app
        .post_json(&format!("/v1/events/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(again.status(), 202);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["delivery_status"], "pending");
    assert_eq!(delivery.run_once().await.unwrap(), 1);
    let ids: Vec<Value> = hooks
        .bodies()
        .into_iter()
        .map(|b| b["id"].clone())
        .collect();
    assert_eq!(
        ids.iter().filter(|i| i.as_str() == Some(id)).count(),
        2,
        "same event id on redelivery"
    );

    assert_eq!(
        app.post_json("/v1/events/evt_nope/redeliver", &json!({}))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn redelivery_without_webhooks_is_a_conflict() {
    let app = spawn_app().await;
    paid_order(&app, "EV-3", 9).await;
    let list: Value = app.get_json("/v1/events").await.json().await.unwrap();
    let id = list["data"][0]["id"].as_str().unwrap();
    let r = app
        .post_json(&format!("/v1/events/{id}/redeliver"), &json!({}))
        .await;
    assert_eq!(r.status(), 409);
    assert!(WebhookDelivery::from_settings(&app.gateway.services)
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn raw_notifications_are_purged_only_when_retention_is_set_and_never_the_applied_ones() {
    let app = spawn_app().await;
    paid_order(&app, "RT-1", 10).await;
    app.inform(card_inform("RT-1", &tid(10), 1000)).await; // duplicate
    app.inform(b"garbage".to_vec()).await; // malformed
    app.clock.advance(Duration::days(400));
    assert_eq!(
        purge_once(&app.gateway.services).await.unwrap(),
        0,
        "default: keep everything"
    );

    let kept = spawn_app_with(&[("GATEWAY__WORKERS__NOTIFICATION_RETENTION_DAYS", "30")]).await;
    paid_order(&kept, "RT-2", 11).await;
    kept.inform(card_inform("RT-2", &tid(11), 1000)).await;
    kept.inform(b"garbage".to_vec()).await;
    kept.clock.advance(Duration::days(29));
    assert_eq!(purge_once(&kept.gateway.services).await.unwrap(), 0);
    kept.clock.advance(Duration::days(2));
    assert_eq!(purge_once(&kept.gateway.services).await.unwrap(), 2);
    assert_eq!(kept.count("SELECT count(*) FROM notifications").await, 1);
    assert_eq!(
        kept.count("SELECT count(*) FROM notifications WHERE outcome = 'applied'")
            .await,
        1
    );
}

/// The pages `table` has on disk now, and those its statistics were taken at.
async fn pages(app: &TestApp, table: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT pg_relation_size(oid) / current_setting('block_size')::bigint, relpages::bigint
         FROM pg_class WHERE oid = $1::regclass",
    )
    .bind(table)
    .fetch_one(&app.db.pool)
    .await
    .unwrap()
}

/// A gateway whose `notifications` table only the pass under test analyzes: autovacuum, which on a new installation
/// comes a minute later at best, is kept away from it.
async fn app_without_autovacuum() -> TestApp {
    let app = spawn_app().await;
    sqlx::raw_sql("ALTER TABLE notifications SET (autovacuum_enabled = false)")
        .execute(&app.db.pool)
        .await
        .unwrap();
    app
}

/// Adds raw notifications, one order each, until the table has at least `target` pages on disk.
async fn grow_notifications(app: &TestApp, target: i64) {
    while pages(app, "notifications").await.0 < target {
        sqlx::query(
            "INSERT INTO notifications (source, received_at, body, headers, outcome, order_id)
             SELECT 'inform', now(), convert_to(repeat('PayMethod=CARD&', 40), 'UTF8'), '{}', 'malformed',
                    'GROW-' || gen_random_uuid()
             FROM generate_series(1, 20)",
        )
        .execute(&app.db.pool)
        .await
        .unwrap();
    }
}

/// A generic plan made while a table was nearly empty reads it sequentially for as long as the plan lives, however
/// large the table grows; a pass over the young tables makes every session plan again with the table's real size.
/// Tables are analyzed each time they double, and left to autovacuum once their statistics say they are grown up.
#[tokio::test]
async fn young_tables_are_analyzed_as_they_double_and_cached_plans_follow() {
    let app = app_without_autovacuum().await;
    let services = &app.gateway.services;
    // Statistics as autovacuum leaves them on a new installation: taken while the table was empty.
    sqlx::raw_sql("VACUUM ANALYZE notifications")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(analyze_once(services).await.unwrap(), Vec::<String>::new());

    // A session that keeps a generic plan, as the result groups do.
    let mut session = app.db.pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "SET plan_cache_mode = force_generic_plan;
         PREPARE probe(text) AS SELECT id FROM notifications WHERE order_id = $1",
    )
    .execute(&mut *session)
    .await
    .unwrap();
    let mut plan = async || -> String {
        let lines: Vec<String> = sqlx::query_scalar("EXPLAIN EXECUTE probe('GROW-x')")
            .fetch_all(&mut *session)
            .await
            .unwrap();
        lines.join("\n")
    };
    assert!(plan().await.contains("Seq Scan on notifications"));

    grow_notifications(&app, 24).await;
    assert!(
        plan().await.contains("Seq Scan on notifications"),
        "the plan made on an empty table is kept as the table grows"
    );
    let analyzed = analyze_once(services).await.unwrap();
    assert_eq!(analyzed.len(), 1, "{analyzed:?}");
    assert!(analyzed[0].ends_with(".notifications"), "{analyzed:?}");
    let (on_disk, recorded) = pages(&app, "notifications").await;
    assert_eq!(recorded, on_disk, "statistics taken at the table's size");
    let now = plan().await;
    assert!(
        !now.contains("Seq Scan") && now.contains("Index"),
        "planned again with the table's size:\n{now}"
    );

    // Grown, but not doubled since: left alone.
    grow_notifications(&app, recorded * 2).await;
    assert_eq!(analyze_once(services).await.unwrap(), Vec::<String>::new());
    // Doubled and eight pages more: analyzed again, until its statistics are taken at YOUNG_PAGES or more.
    loop {
        let (_, recorded) = pages(&app, "notifications").await;
        if recorded >= i64::from(YOUNG_PAGES) {
            break;
        }
        grow_notifications(&app, recorded * 2 + 8).await;
        assert_eq!(analyze_once(services).await.unwrap().len(), 1);
    }
    let (_, recorded) = pages(&app, "notifications").await;
    grow_notifications(&app, recorded * 2 + 8).await;
    assert_eq!(
        analyze_once(services).await.unwrap(),
        Vec::<String>::new(),
        "grown up: autovacuum's"
    );
}

/// Tables the gateway's role does not own are left to autovacuum: PostgreSQL would only warn, every pass.
#[tokio::test]
async fn young_tables_of_another_owner_are_left_alone() {
    let app = app_without_autovacuum().await;
    let guest = format!("young_guest_{}", uuid::Uuid::new_v4().simple());
    sqlx::raw_sql(&format!(
        "CREATE ROLE {guest} NOSUPERUSER; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {guest}"
    ))
    .execute(&app.db.pool)
    .await
    .unwrap();
    grow_notifications(&app, 24).await;
    let options = app
        .db
        .url
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .options([("role", guest.as_str())]);
    let as_guest = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let analyzed = gateway::store::Store::new(as_guest)
        .analyze_young_tables()
        .await
        .unwrap();
    assert_eq!(analyzed, Vec::<String>::new());
    assert_eq!(pages(&app, "notifications").await.1, 0, "not analyzed");
    // The owner's pass takes it.
    assert_eq!(analyze_once(&app.gateway.services).await.unwrap().len(), 1);
}

/// A young table that another session is analyzing, vacuuming or migrating is not waited for and not reported:
/// the next pass takes it. The pass's connection goes back to the pool with its settings as they were.
#[tokio::test]
async fn a_locked_young_table_is_left_to_the_next_pass() {
    let app = app_without_autovacuum().await;
    grow_notifications(&app, 24).await;
    // One connection, so that what a pass leaves on it can be seen.
    let store = gateway::store::Store::new(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(&app.db.url)
            .await
            .unwrap(),
    );
    let settings = async || -> (String, String) {
        sqlx::query_as(
            "SELECT current_setting('lock_timeout'), current_setting('client_min_messages')",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap()
    };
    let before = settings().await;
    for lock in ["SHARE UPDATE EXCLUSIVE", "ACCESS EXCLUSIVE"] {
        let mut holder = app.db.pool.begin().await.unwrap();
        sqlx::raw_sql(&format!("LOCK TABLE notifications IN {lock} MODE"))
            .execute(&mut *holder)
            .await
            .unwrap();
        // SHARE UPDATE EXCLUSIVE: ANALYZE skips the table. ACCESS EXCLUSIVE: even its size waits for the lock,
        // and the pass gives up on it after its lock timeout.
        assert_eq!(
            store.analyze_young_tables().await.unwrap(),
            Vec::<String>::new(),
            "{lock}"
        );
        assert_eq!(settings().await, before, "{lock}: settings restored");
        // (pg_class itself, not the locked table's size.)
        let recorded: i32 = sqlx::query_scalar(
            "SELECT relpages FROM pg_class WHERE oid = 'notifications'::regclass",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        assert_eq!(recorded, 0, "{lock}");
        holder.rollback().await.unwrap();
    }
    assert_eq!(store.analyze_young_tables().await.unwrap().len(), 1);
    assert_eq!(settings().await, before);
}
