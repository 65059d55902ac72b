//! Results from an allow-listed notifier applied in groups (issue 12): one transaction for the informs that arrive
//! together, each with its own decision, and a group that cannot be written whole leaves nothing behind.

mod common;

use std::sync::Arc;

use common::*;
use gateway::domain::{Confirmed, ConfirmedBy, OrderStatus, ResultSource};
use gateway::providers::weblink::WebLink;
use gateway::providers::Provider;
use gateway::store::results::{AppliedAtOnce, ResultAtOnce};
use gateway::store::{OrderRecord, Store};
use gateway::views::OrderView;

fn item(body: &[u8], received_at: chrono::DateTime<chrono::Utc>) -> ResultAtOnce {
    let weblink = WebLink::new(Arc::new(test_settings(&[]))).unwrap();
    let result = weblink
        .verify(ResultSource::Inform, body)
        .expect("a signed inform");
    ResultAtOnce {
        source: ResultSource::Inform,
        body: body.to_vec(),
        headers: serde_json::json!({ "content-type": "application/x-www-form-urlencoded" }),
        remote_addr: Some("127.0.0.1".into()),
        received_at,
        result,
        confirmed: Confirmed::by(ConfirmedBy::Notifier),
        new_id: uuid::Uuid::new_v4(),
    }
}

fn render(record: &OrderRecord) -> serde_json::Value {
    serde_json::json!(OrderView::new(record, "http://gateway.test"))
}

/// One group: two results, a second delivery of one of them, a TID bound to another order, and an order that does
/// not exist. The two are applied; the others are left to the general path with nothing of them written.
#[tokio::test]
async fn a_group_applies_each_result_alone_and_leaves_the_rest_to_the_general_path() {
    let app = spawn_app().await;
    for id in ["GRP-A", "GRP-B", "GRP-C", "GRP-E"] {
        app.create_order(card_order(id, 5_000)).await;
    }
    // GRP-C was paid with TID 2 first: a result for GRP-B under that TID is another order's.
    let (status, body) = app.inform(card_inform("GRP-C", &tid(2), 5_000)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    // GRP-E's payment came through the buyer's browser first, and could not be confirmed yet (the receipt API is
    // down): once the notifier's inform of it is applied, that delivery has nothing left to wait for.
    app.smartro.set_down(true);
    let response = app.return_pay(card_return("GRP-E", &tid(5), 5_000)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'unconfirmed' AND order_id = 'GRP-E'")
            .await,
        1
    );
    let before = app.count("SELECT count(*) FROM notifications").await;

    let store = Store::new(app.db.pool.clone());
    let now = chrono::Utc::now();
    let a = item(&card_inform("GRP-A", &tid(1), 5_000), now);
    let items = vec![
        a.clone(),
        a,
        item(&card_inform("GRP-B", &tid(2), 5_000), now),
        item(&card_inform("GRP-NONE", &tid(4), 5_000), now),
        item(&card_inform("GRP-E", &tid(5), 5_000), now),
    ];
    let answers = store.apply_with_messages(&items, &render).await.unwrap();
    let paid = AppliedAtOnce::Applied {
        status: OrderStatus::Paid,
    };
    assert_eq!(
        answers,
        vec![
            paid.clone(),
            AppliedAtOnce::NotHere,
            AppliedAtOnce::NotHere,
            AppliedAtOnce::NotHere,
            paid
        ]
    );
    assert_eq!(app.order("GRP-A").await["status"], "paid");
    assert_eq!(app.order("GRP-E").await["status"], "paid");
    assert_eq!(app.order("GRP-B").await["status"], "pending");
    assert_eq!(
        app.count("SELECT count(*) FROM notifications").await - before,
        2,
        "only the applied results' raw messages, each once"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM payments WHERE order_id IN ('GRP-A', 'GRP-E')")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT count(*) FROM tid_bindings WHERE order_id = 'GRP-C'")
            .await,
        1,
        "TID 2 stays GRP-C's"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM tid_bindings WHERE order_id = 'GRP-B'")
            .await,
        0
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) FROM tid_bindings WHERE (tid, order_id) IN (('{}', 'GRP-A'), ('{}', 'GRP-E'))",
            tid(1),
            tid(5)
        ))
        .await,
        2,
        "each applied result's TID is bound to its order"
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM notifications WHERE order_id = 'GRP-E' AND source = 'return'
               AND outcome = 'duplicate' AND next_check_at IS NULL"
        )
        .await,
        1,
        "the browser's delivery waits no more"
    );
    // Each applied order has its own event, showing the order as stored.
    let events: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT order_id, payload FROM outbox_events WHERE order_id IN ('GRP-A', 'GRP-E') ORDER BY seq",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(events.len(), 2);
    for (order_id, payload) in &events {
        assert_eq!(payload["data"]["order"]["order_id"], order_id.as_str());
        assert_eq!(payload["data"]["order"]["status"], "paid");
        assert_eq!(payload["type"], "payment.paid");
    }

    // The same group again: everything was applied or is not for this path, so nothing more is written.
    let again = store.apply_with_messages(&items, &render).await.unwrap();
    assert!(again.iter().all(|a| *a == AppliedAtOnce::NotHere));
    assert_eq!(
        app.count("SELECT count(*) FROM notifications").await - before,
        2
    );
}

/// A group is all or nothing: when one result's payment row turns out to be another order's (found only when it is
/// written), the whole group is rolled back and every result of it goes to the general path.
#[tokio::test]
async fn a_group_that_cannot_be_written_whole_leaves_nothing() {
    let app = spawn_app().await;
    for id in ["ALL-F", "ALL-G", "ALL-H"] {
        app.create_order(card_order(id, 7_000)).await;
    }
    // A payment row of ALL-H under TID 7 without its binding: the read sees TID 7 free, the write finds it taken.
    sqlx::query(
        "INSERT INTO payments (provider, tid, order_id, mid, pay_method, amount, result_code, result_message,
           success, source, created_at, updated_at)
         VALUES ('weblink', $1, 'ALL-H', $2, 'CARD', 7000, '3001', 'ok', true, 'inform', now(), now())",
    )
    .bind(tid(7))
    .bind(MID)
    .execute(&app.db.pool)
    .await
    .unwrap();
    let before = app.count("SELECT count(*) FROM notifications").await;
    let store = Store::new(app.db.pool.clone());
    let now = chrono::Utc::now();
    let items = vec![
        item(&card_inform("ALL-F", &tid(6), 7_000), now),
        item(&card_inform("ALL-G", &tid(7), 7_000), now),
    ];
    let answers = store.apply_with_messages(&items, &render).await.unwrap();
    assert_eq!(
        answers,
        vec![AppliedAtOnce::NotHere, AppliedAtOnce::NotHere]
    );
    assert_eq!(app.order("ALL-F").await["status"], "pending");
    assert_eq!(app.order("ALL-G").await["status"], "pending");
    assert_eq!(
        app.count("SELECT count(*) FROM notifications").await,
        before
    );
    assert_eq!(app.count("SELECT count(*) FROM tid_bindings").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox_events").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM applied_results").await, 0);

    // Alone, the result that was not at fault is applied; over HTTP, the other one is refused by the general path.
    let answers = store
        .apply_with_messages(&items[..1], &render)
        .await
        .unwrap();
    assert_eq!(
        answers,
        vec![AppliedAtOnce::Applied {
            status: OrderStatus::Paid
        }]
    );
    let (status, _) = app.inform(card_inform("ALL-G", &tid(7), 7_000)).await;
    assert_ne!(
        status, 200,
        "a TID with another order's payment is not acknowledged as applied"
    );
    assert_eq!(app.order("ALL-G").await["status"], "pending");
}

/// Many informs at once, each delivered twice: every one answered `OK`, every order paid once, with one payment,
/// one applied raw message and one event each, whichever group each delivery fell into.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_informs_at_once_each_delivered_twice_are_each_applied_once() {
    let app = spawn_app().await;
    const N: u32 = 30;
    for n in 0..N {
        app.create_order(card_order(&format!("MANY-{n}"), 1_000 + i64::from(n)))
            .await;
    }
    let mut sent = Vec::new();
    for round in 0..2 {
        for n in 0..N {
            let body = card_inform(&format!("MANY-{n}"), &tid(100 + n), 1_000 + i64::from(n));
            let (http, url) = (app.http.clone(), app.url("/smartro/inform"));
            sent.push(tokio::spawn(async move {
                let r = http.post(url).body(body).send().await.unwrap();
                (round, r.status().as_u16(), r.text().await.unwrap())
            }));
        }
    }
    for t in sent {
        let (round, status, body) = t.await.unwrap();
        assert_eq!((status, body.as_str()), (200, "OK"), "round {round}");
    }
    let n = i64::from(N);
    assert_eq!(
        app.count("SELECT count(*) FROM orders WHERE status = 'paid'")
            .await,
        n
    );
    assert_eq!(app.count("SELECT count(*) FROM payments").await, n);
    assert_eq!(app.count("SELECT count(*) FROM applied_results").await, n);
    assert_eq!(app.count("SELECT count(*) FROM outbox_events").await, n);
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'applied'")
            .await,
        n
    );
    assert_eq!(
        app.count("SELECT count(*) FROM notifications WHERE outcome = 'duplicate'")
            .await,
        n
    );
    assert_eq!(
        app.count(
            "SELECT count(*) FROM orders o JOIN payments p USING (order_id)
             WHERE o.paid_amount = p.amount AND o.tid = p.tid"
        )
        .await,
        n
    );
}

/// One TID in two results of the same group, for two orders (a real approval replayed onto another order, both
/// arriving at once): the first is applied and binds the TID; the second is left to the general path.
#[tokio::test]
async fn one_tid_for_two_orders_in_one_group_is_applied_to_the_first_only() {
    let app = spawn_app().await;
    for id in ["TWO-P", "TWO-Q"] {
        app.create_order(card_order(id, 9_000)).await;
    }
    let store = Store::new(app.db.pool.clone());
    let now = chrono::Utc::now();
    let items = vec![
        item(&card_inform("TWO-P", &tid(9), 9_000), now),
        // Another amount, so another dedupe key: only the TID is shared.
        item(&card_inform("TWO-Q", &tid(9), 8_000), now),
    ];
    let answers = store.apply_with_messages(&items, &render).await.unwrap();
    assert_eq!(
        answers,
        vec![
            AppliedAtOnce::Applied {
                status: OrderStatus::Paid
            },
            AppliedAtOnce::NotHere
        ]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM tid_bindings WHERE order_id = 'TWO-P'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 1);
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 1);
    assert_eq!(app.order("TWO-Q").await["status"], "pending");
}

/// A TID another transaction binds to another order between the group's read and its write: the group's binding
/// finds it taken, so the group is rolled back and nothing of it is kept.
#[tokio::test]
async fn a_tid_bound_elsewhere_while_the_group_is_written_rolls_the_group_back() {
    let app = spawn_app().await;
    for id in ["BND-A", "BND-B", "BND-Z"] {
        app.create_order(card_order(id, 3_000)).await;
    }
    // Not committed yet: the group reads TID 11 as free, then its binding waits for this transaction.
    let mut other = app.db.pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO tid_bindings (provider, tid, order_id, bound_at) VALUES ('weblink', $1, 'BND-Z', now())",
    )
    .bind(tid(11))
    .execute(&mut *other)
    .await
    .unwrap();
    let store = Store::new(app.db.pool.clone());
    let items = vec![
        item(&card_inform("BND-A", &tid(11), 3_000), chrono::Utc::now()),
        item(&card_inform("BND-B", &tid(12), 3_000), chrono::Utc::now()),
    ];
    let group = tokio::spawn(async move { store.apply_with_messages(&items, &render).await });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    other.commit().await.unwrap();
    let answers = group.await.unwrap().unwrap();
    assert_eq!(
        answers,
        vec![AppliedAtOnce::NotHere, AppliedAtOnce::NotHere]
    );
    assert_eq!(app.order("BND-A").await["status"], "pending");
    assert_eq!(app.order("BND-B").await["status"], "pending");
    assert_eq!(app.count("SELECT count(*) FROM notifications").await, 0);
    assert_eq!(app.count("SELECT count(*) FROM payments").await, 0);
    assert_eq!(
        app.count("SELECT count(*) FROM tid_bindings WHERE order_id = 'BND-Z'")
            .await,
        1
    );
    assert_eq!(app.count("SELECT count(*) FROM tid_bindings").await, 1);
}

/// An order another transaction holds does not make the group wait: its result is left to the general path, and the
/// others are applied at once.
#[tokio::test]
async fn an_order_held_elsewhere_does_not_stall_the_group() {
    let app = spawn_app().await;
    for id in ["LCK-A", "LCK-B"] {
        app.create_order(card_order(id, 4_000)).await;
    }
    let mut other = app.db.pool.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM orders WHERE order_id = 'LCK-A' FOR UPDATE")
        .execute(&mut *other)
        .await
        .unwrap();
    let store = Store::new(app.db.pool.clone());
    let items = vec![
        item(&card_inform("LCK-A", &tid(13), 4_000), chrono::Utc::now()),
        item(&card_inform("LCK-B", &tid(14), 4_000), chrono::Utc::now()),
    ];
    let answers = tokio::time::timeout(
        std::time::Duration::from_secs(1),
        store.apply_with_messages(&items, &render),
    )
    .await
    .expect("the group does not wait for LCK-A")
    .unwrap();
    assert_eq!(
        answers,
        vec![
            AppliedAtOnce::NotHere,
            AppliedAtOnce::Applied {
                status: OrderStatus::Paid
            }
        ]
    );
    other.rollback().await.unwrap();
    assert_eq!(app.order("LCK-A").await["status"], "pending");
    assert_eq!(app.order("LCK-B").await["status"], "paid");
    // Over HTTP, the general path takes LCK-A's result once its order is free.
    let (status, body) = app.inform(card_inform("LCK-A", &tid(13), 4_000)).await;
    assert_eq!((status, body.as_str()), (200, "OK"));
    assert_eq!(app.order("LCK-A").await["status"], "paid");
}

/// How often PostgreSQL has read `table` whole, as its statistics say once `conn`'s counts are flushed.
async fn seq_scans(pool: &sqlx::PgPool, conn: &mut sqlx::PgConnection, table: &str) -> i64 {
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(pool)
        .await
        .unwrap();
    let mut reader = pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(&mut *reader)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT seq_scan FROM pg_stat_user_tables WHERE relname = $1")
        .bind(table)
        .fetch_one(&mut *reader)
        .await
        .unwrap()
}

/// Runs the group's lock-and-read of order PROBE-1 `times` times on `conn`, with generic plans as a group does.
async fn lock_and_read_as_a_group(conn: &mut sqlx::PgConnection, times: usize) {
    for _ in 0..times {
        let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
        sqlx::query("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(&mut *tx)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM lock_result_orders(ARRAY['PROBE-1'], 'weblink', ARRAY['T-PROBE'], \
             ARRAY[NULL]::text[], ARRAY['k-probe'])",
        )
        .fetch_one(&mut *tx)
        .await
        .unwrap();
        assert_eq!(n, 1);
        tx.commit().await.unwrap();
    }
}

/// The group's lock-and-read asks whether each dedupe key was applied by a probe of applied_results' key. A plan
/// made while the table was empty (a new database) must not read it whole on every later call: that made the cost
/// per inform grow with every inform ever applied.
#[tokio::test]
async fn the_group_read_probes_applied_results_however_it_was_planned() {
    let app = spawn_app().await;
    let pool = &app.db.pool;
    app.create_order(card_order("PROBE-1", 1000)).await;
    let mut conn = pool.acquire().await.unwrap();
    // Planned (generically, as a group runs it) while applied_results is empty.
    lock_and_read_as_a_group(&mut conn, 3).await;
    // Then thousands of applied results.
    sqlx::query(
        "WITH o AS (
           INSERT INTO orders (order_id, mid, status, amount, goods_name, goods_count, pay_method, buyer_name,
             buyer_tel, buyer_email, checkout_token, created_at, updated_at, expires_at)
           SELECT 'P' || g, 'SMTPAY001m', 'pending', 1000, 'x', 1, 'CARD', 'a', 'b', 'c', md5(g::text), now(),
             now(), now() + interval '1 day' FROM generate_series(1, 3000) g RETURNING order_id),
         n AS (
           INSERT INTO notifications (source, received_at, body, headers, outcome, order_id, dedupe_key)
           SELECT 'inform', now(), '\\x00', '{}', 'applied', order_id, 'k-' || order_id FROM o
           RETURNING id, order_id, dedupe_key)
         INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
         SELECT dedupe_key, order_id, id, now() FROM n",
    )
    .execute(pool)
    .await
    .unwrap();
    let before = seq_scans(pool, &mut conn, "applied_results").await;
    lock_and_read_as_a_group(&mut conn, 3).await;
    assert_eq!(
        seq_scans(pool, &mut conn, "applied_results").await,
        before,
        "applied_results read whole by the group's lock-and-read"
    );
}
