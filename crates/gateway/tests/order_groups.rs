//! Orders with a fresh Idempotency-Key created in groups (issue 12): one statement for the orders asked for
//! together, each stored as the record its answer was rendered from, and a group that cannot be written whole
//! written order by order.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::*;
use gateway::domain::{OrderOptions, PayMethod};
use gateway::service::groups::GroupWriter;
use gateway::service::order_groups::OrderWriter;
use gateway::store::{KeyedOrder, NewOrder, Store};
use serde_json::{json, Value};

fn keyed(key: &str, order_id: &str, amount: i64) -> KeyedOrder {
    let now = Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap();
    let new = NewOrder {
        order_id: order_id.into(),
        mid: MID.into(),
        amount,
        goods_name: "테스트 상품".into(),
        goods_count: 1,
        pay_method: PayMethod::Card,
        pay_type: None,
        mall_user_id: None,
        buyer_name: "홍길동".into(),
        buyer_tel: "010-1234-5678".into(),
        buyer_email: "buyer@example.com".into(),
        return_url: None,
        vbank_exp_date: None,
        tax: None,
        svc_amt: None,
        metadata: None,
        checkout_token: format!("token-{order_id}"),
        expires_at: now + Duration::hours(1),
        options: OrderOptions::default(),
    };
    KeyedOrder {
        api_key_id: api_key_id(),
        scope: "create_order".into(),
        key: key.into(),
        request_hash: format!("hash-{key}"),
        order: new.as_created(now).order,
        answer: json!({ "order_id": order_id, "key": key }),
    }
}

async fn stored_answer(app: &TestApp, key: &str) -> Option<Value> {
    sqlx::query_scalar::<_, Value>(
        "SELECT response_body FROM idempotency_keys WHERE idempotency_key = $1 AND response_status = 201",
    )
    .bind(key)
    .fetch_optional(&app.db.pool)
    .await
    .unwrap()
}

/// Groups with fresh orders beside a key used twice, an order_id used twice, an order_id that exists already and
/// a key that was used before. The fresh ones are created with their answers, the first of each pair too; every
/// other is not created and has nothing written for it (the general path decides it).
#[tokio::test]
async fn a_group_creates_each_fresh_order_and_writes_nothing_for_the_others() {
    let app = spawn_app().await;
    let writer = OrderWriter::new(Store::new(app.db.pool.clone()));
    assert_eq!(
        writer.write(vec![keyed("used", "OLD-1", 1000)]).await,
        vec![true]
    );
    assert_eq!(
        writer.write(vec![keyed("old-key", "OLD-2", 1000)]).await,
        vec![true]
    );

    // One key for two orders: one statement would create both under it.
    let answers = writer
        .write(vec![
            keyed("g-1", "NEW-1", 1000),
            keyed("g-2", "NEW-2", 2000),
            keyed("g-2", "NEW-3", 3000),
            keyed("g-7", "NEW-7", 7000),
        ])
        .await;
    assert_eq!(answers, vec![true, true, false, true]);
    // One order_id under two keys: the first asked is the one created.
    let answers = writer
        .write(vec![
            keyed("h-1", "DUP-1", 1000),
            keyed("h-2", "DUP-1", 2000),
            keyed("h-3", "NEW-9", 9000),
        ])
        .await;
    assert_eq!(answers, vec![true, false, true]);
    // An order that exists fails the group's statement: the others are created alone.
    let answers = writer
        .write(vec![
            keyed("g-5", "OLD-1", 5000),
            keyed("old-key", "NEW-6", 6000),
            keyed("g-8", "NEW-8", 8000),
        ])
        .await;
    assert_eq!(answers, vec![false, false, true]);

    for (key, order_id, amount) in [
        ("g-1", "NEW-1", 1000),
        ("g-2", "NEW-2", 2000),
        ("g-7", "NEW-7", 7000),
        ("h-1", "DUP-1", 1000),
        ("h-3", "NEW-9", 9000),
        ("g-8", "NEW-8", 8000),
    ] {
        assert_eq!(
            stored_answer(&app, key).await,
            Some(json!({ "order_id": order_id, "key": key }))
        );
        assert_eq!(app.order(order_id).await["amount"], amount);
    }
    for key in ["h-2", "g-5"] {
        assert_eq!(
            app.count(&format!(
                "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = '{key}'"
            ))
            .await,
            0,
            "nothing written under {key}"
        );
    }
    assert_eq!(
        app.count("SELECT count(*) FROM orders WHERE order_id IN ('NEW-3', 'NEW-6')")
            .await,
        0
    );
    assert_eq!(
        app.order("OLD-1").await["amount"],
        1000,
        "the existing order untouched"
    );
    assert_eq!(
        stored_answer(&app, "old-key").await,
        Some(json!({ "order_id": "OLD-2", "key": "old-key" }))
    );
}

/// Many keyed orders at once over HTTP (they are created in groups): each `201` is the order as read back, each
/// key replays it, and a retry of each with the same key at the same time as the first does not make a second
/// order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_keyed_orders_are_each_created_once_with_their_answer() {
    let app = spawn_app().await;
    let send = |i: usize| {
        let (http, url) = (app.http.clone(), app.url("/v1/orders"));
        async move {
            let mut body = card_order(&format!("MANY-{i:03}"), 1000 + i as i64);
            body["metadata"] = json!({ "i": i, "f": 1.5e17 });
            let r = http
                .post(url)
                .bearer_auth(API_KEY)
                .header("idempotency-key", format!("many-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // Each order asked twice at once under its key: 80 requests for 40 orders.
    let tasks: Vec<_> = (0..80).map(|n| tokio::spawn(send(n % 40))).collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    for (n, (status, body)) in answers.iter().enumerate() {
        // The second of a pair is a replay (201) or finds the first still in progress (409).
        assert!(
            *status == 201 || (*status == 409 && body["code"] == "idempotency_in_progress"),
            "{n}: {status} {body}"
        );
    }
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 40);
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys WHERE response_status = 201")
            .await,
        40
    );
    for i in 0..40 {
        let order_id = format!("MANY-{i:03}");
        let read_back = app.order(&order_id).await;
        let (status, replay) = send(i).await;
        assert_eq!(status, 201);
        assert_eq!(replay, read_back, "{order_id}");
    }
}
