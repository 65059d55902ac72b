//! The shop backend API against a real gateway and a real PostgreSQL.

mod common;

use common::*;
use serde_json::{json, Value};

#[tokio::test]
async fn create_order_returns_the_order_with_a_checkout_link() {
    let app = spawn_app().await;
    let order = app.create_order(card_order("ORDER-1", 1004)).await;
    assert_eq!(order["order_id"], "ORDER-1");
    assert_eq!(order["status"], "pending");
    assert_eq!(order["amount"], 1004);
    assert_eq!(order["paid_amount"], 0);
    assert_eq!(order["cancelled_amount"], 0);
    assert_eq!(order["goods_name"], "테스트 상품");
    assert_eq!(order["buyer"]["name"], "홍길동");
    assert_eq!(order["mid"], MID);
    assert_eq!(order["pay_method"], "CARD");
    assert!(order["tid"].is_null());
    assert_eq!(order["payments"], json!([]));
    assert_eq!(order["cancellations"], json!([]));
    let link = order["checkout_url"].as_str().unwrap();
    assert!(
        link.starts_with("http://127.0.0.1:8080/pay/ORDER-1?t="),
        "{link}"
    );
    assert!(link.len() > "http://127.0.0.1:8080/pay/ORDER-1?t=".len() + 20);

    let fetched = app.order("ORDER-1").await;
    assert_eq!(fetched["checkout_url"], order["checkout_url"]);
    assert_eq!(fetched["created_at"], order["created_at"]);
}

/// Metadata goes into PostgreSQL as jsonb (exact decimals) and back: every number it takes must read back as
/// itself, or one order's metadata would make it, and every page of orders listing it, a 500.
#[tokio::test]
async fn metadata_numbers_read_back_as_written() {
    let app = spawn_app().await;
    let numbers = json!([
        f64::MAX,
        -f64::MAX,
        1e308,
        f64::MIN_POSITIVE,
        5e-324,
        0.1,
        u64::MAX,
        i64::MIN,
    ]);
    let mut body = card_order("META-NUM", 1004);
    body["metadata"] = json!({ "numbers": numbers });
    let created = app.create_order(body).await;
    assert_eq!(created["metadata"]["numbers"], numbers);
    assert_eq!(app.order("META-NUM").await["metadata"]["numbers"], numbers);
    let list = app.get_json("/v1/orders").await;
    assert_eq!(list.status(), 200);
}

#[tokio::test]
async fn an_order_id_is_generated_when_absent() {
    let app = spawn_app().await;
    let mut body = card_order("x", 5000);
    body.as_object_mut().unwrap().remove("order_id");
    let a = app.create_order(body.clone()).await;
    let b = app.create_order(body).await;
    assert_ne!(a["order_id"], b["order_id"]);
    assert!(smartro::request::validate_moid(a["order_id"].as_str().unwrap()).is_ok());
}

#[tokio::test]
async fn a_second_order_with_the_same_id_conflicts() {
    let app = spawn_app().await;
    app.create_order(card_order("DUP-1", 1000)).await;
    let response = app
        .post_json("/v1/orders", &card_order("DUP-1", 1000))
        .await;
    assert_eq!(response.status(), 409);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "order_exists");
    assert_eq!(problem["status"], 409);
}

async fn expect_invalid(app: &TestApp, body: Value, field: &str) -> Value {
    let response = app.post_json("/v1/orders", &body).await;
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    problem
}

#[tokio::test]
async fn invalid_orders_are_refused_naming_the_field() {
    let app = spawn_app().await;
    let base = card_order("BAD-1", 1000);
    let with = |path: &[&str], value: Value| {
        let mut body = base.clone();
        let mut target = &mut body;
        for p in &path[..path.len() - 1] {
            target = &mut target[*p];
        }
        target[path[path.len() - 1]] = value;
        body
    };
    expect_invalid(&app, with(&["amount"], json!(0)), "amount").await;
    expect_invalid(&app, with(&["amount"], json!(-5)), "amount").await;
    expect_invalid(&app, with(&["amount"], json!(10.5)), "amount").await;
    expect_invalid(&app, with(&["amount"], json!("1000")), "amount").await;
    expect_invalid(
        &app,
        with(&["amount"], json!(1_000_000_000_000i64)),
        "amount",
    )
    .await;
    // 14 Hangul syllables are 42 UTF-8 bytes: over GoodsName's 40.
    expect_invalid(
        &app,
        with(&["goods_name"], json!("가".repeat(14))),
        "goods_name",
    )
    .await;
    expect_invalid(&app, with(&["goods_name"], json!("")), "goods_name").await;
    expect_invalid(&app, with(&["pay_method"], json!("BITCOIN")), "pay_method").await;
    expect_invalid(&app, with(&["order_id"], json!("ORDER_1")), "order_id").await;
    expect_invalid(&app, with(&["order_id"], json!("주문.1")), "order_id").await;
    expect_invalid(&app, with(&["order_id"], json!("A".repeat(41))), "order_id").await;
    expect_invalid(
        &app,
        with(&["buyer", "email"], json!("not-an-email")),
        "buyer.email",
    )
    .await;
    expect_invalid(&app, with(&["buyer", "tel"], json!("call me")), "buyer.tel").await;
    expect_invalid(&app, with(&["buyer", "name"], json!("")), "buyer.name").await;
    expect_invalid(&app, with(&["mid"], json!("NOSUCHMID1")), "mid").await;
    expect_invalid(
        &app,
        with(&["return_url"], json!("javascript:alert(1)")),
        "return_url",
    )
    .await;
    expect_invalid(&app, with(&["goods_count"], json!(0)), "goods_count").await;
    expect_invalid(&app, with(&["metadata"], json!([1, 2])), "metadata").await;
    expect_invalid(&app, with(&["tax"], json!(5000)), "tax").await;
    expect_invalid(
        &app,
        with(&["vbank_exp_date"], json!("20301231")),
        "vbank_exp_date",
    )
    .await;
    let mut unknown = base.clone();
    unknown["colour"] = json!("red");
    expect_invalid(&app, unknown, "colour").await;
    let mut missing = base.clone();
    missing.as_object_mut().unwrap().remove("goods_name");
    expect_invalid(&app, missing, "goods_name").await;

    let mut vbank = base.clone();
    vbank["pay_method"] = json!("VBANK");
    vbank["vbank_exp_date"] = json!("20261301");
    expect_invalid(&app, vbank.clone(), "vbank_exp_date").await;
    vbank["vbank_exp_date"] = json!("20200101");
    expect_invalid(&app, vbank, "vbank_exp_date").await;

    let mut gift = base.clone();
    gift["pay_method"] = json!("CLGIFT");
    expect_invalid(&app, gift, "mall_user_id").await;

    // nothing was stored
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
}

#[tokio::test]
async fn unreadable_requests_get_4xx_problems() {
    let app = spawn_app().await;
    let url = app.url("/v1/orders");
    let not_json = app
        .http
        .post(&url)
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body("{ amount: ")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), 400);
    assert_eq!(
        not_json.headers()["content-type"],
        "application/problem+json"
    );

    let form = app
        .http
        .post(&url)
        .bearer_auth(API_KEY)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("amount=1")
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);

    let huge = format!(
        "{{\"metadata\":{{\"x\":\"{}\"}}}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let too_big = app
        .http
        .post(&url)
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(too_big.status(), 413);

    let no_auth = app
        .http
        .post(&url)
        .json(&card_order("A1", 1000))
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);
    assert_eq!(
        no_auth.headers()["content-type"],
        "application/problem+json"
    );
    let wrong = app
        .http
        .get(app.url("/v1/orders"))
        .bearer_auth("sk_test_change_mX")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let unknown = app.get_json("/v1/orders/NOPE").await;
    assert_eq!(unknown.status(), 404);
    let problem: Value = unknown.json().await.unwrap();
    assert_eq!(problem["code"], "not_found");

    let no_route = app.get_json("/v2/nothing").await;
    assert_eq!(no_route.status(), 404);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let app = spawn_app().await;
    let body = json!({
        "amount": 15000,
        "goods_name": "머그컵",
        "pay_method": "CARD",
        "buyer": { "name": "김철수", "tel": "01000000000", "email": "kim@example.com" },
    });
    let send = |body: Value| {
        app.http
            .post(app.url("/v1/orders"))
            .bearer_auth(API_KEY)
            .header("idempotency-key", "key-123")
            .json(&body)
            .send()
    };
    let first = send(body.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let second = send(body.clone()).await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let second: Value = second.json().await.unwrap();
    assert_eq!(
        first, second,
        "same key and body: same response, same generated order_id"
    );
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1);

    let mut other = body.clone();
    other["amount"] = json!(16000);
    let reused = send(other).await.unwrap();
    assert_eq!(reused.status(), 422);
    let problem: Value = reused.json().await.unwrap();
    assert_eq!(problem["code"], "idempotency_key_reused");

    // a refused request is replayed as refused, too
    let bad = json!({ "amount": 0, "goods_name": "x", "pay_method": "CARD",
        "buyer": { "name": "a", "tel": "1", "email": "a@b.c" } });
    let r1 = app
        .http
        .post(app.url("/v1/orders"))
        .bearer_auth(API_KEY)
        .header("idempotency-key", "key-bad")
        .json(&bad)
        .send()
        .await
        .unwrap();
    let r2 = app
        .http
        .post(app.url("/v1/orders"))
        .bearer_auth(API_KEY)
        .header("idempotency-key", "key-bad")
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(r1.status(), 422);
    assert_eq!(r2.status(), 422);
    assert_eq!(r2.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn concurrent_requests_with_one_idempotency_key_create_one_order() {
    let app = spawn_app().await;
    let body = card_order("IDEM-RACE", 3000);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let http = app.http.clone();
        let url = app.url("/v1/orders");
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            http.post(url)
                .bearer_auth(API_KEY)
                .header("idempotency-key", "race")
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert!(statuses.contains(&201));
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1);
}

#[tokio::test]
async fn list_orders_newest_first_with_cursor_and_status_filter() {
    let app = spawn_app().await;
    for i in 0..5 {
        app.create_order(card_order(&format!("LIST-{i}"), 1000 + i))
            .await;
    }
    let page1: Value = app
        .get_json("/v1/orders?limit=2")
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page1["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["LIST-4", "LIST-3"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get_json(&format!("/v1/orders?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = page2["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["LIST-2", "LIST-1"]);
    let cursor = page2["next_cursor"].as_str().unwrap();
    let page3: Value = app
        .get_json(&format!("/v1/orders?limit=2&cursor={cursor}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page3["data"].as_array().unwrap().len(), 1);
    assert!(page3["next_cursor"].is_null());

    let paid: Value = app
        .get_json("/v1/orders?status=paid")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paid["data"], json!([]));
    let pending: Value = app
        .get_json("/v1/orders?status=pending")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pending["data"].as_array().unwrap().len(), 5);

    for bad in [
        "status=PAID",
        "limit=0",
        "limit=101",
        "limit=x",
        "cursor=garbage!",
        "colour=red",
    ] {
        let r = app.get_json(&format!("/v1/orders?{bad}")).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn the_code_tables_are_served_whole() {
    let app = spawn_app().await;
    let code: Value = app
        .get_json("/v1/codes/results/3001")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(code["code"], "3001");
    assert_eq!(code["message"], "카드 결제 성공");
    assert_eq!(code["success"], true);
    assert_eq!(app.get_json("/v1/codes/results/9999").await.status(), 404);
    let all: Value = app
        .get_json("/v1/codes/results")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        all["data"].as_array().unwrap().len(),
        smartro::codes::RESULT_CODES.len()
    );
    let cards: Value = app.get_json("/v1/codes/cards").await.json().await.unwrap();
    assert_eq!(cards["data"].as_array().unwrap().len(), 39);
    let banks: Value = app.get_json("/v1/codes/banks").await.json().await.unwrap();
    assert_eq!(banks["data"].as_array().unwrap().len(), 67);
    let couriers: Value = app
        .get_json("/v1/codes/couriers")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(couriers["data"].as_array().unwrap().len(), 36);
    assert_eq!(
        app.http
            .get(app.url("/v1/codes/banks"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

/// One order_id asked for at once under several Idempotency-Keys (a shop retrying with a fresh key each time):
/// one order, one `201`, every other key answered and recorded `409 order_exists` (none left in progress), and each
/// key replays its own first answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_order_id_under_several_keys_at_once_is_created_once_and_every_key_keeps_its_answer() {
    let app = spawn_app().await;
    let body = card_order("IDEM-MANY", 3000);
    let send = |key: String| {
        let (http, url, body) = (app.http.clone(), app.url("/v1/orders"), body.clone());
        async move {
            let r = http
                .post(url)
                .bearer_auth(API_KEY)
                .header("idempotency-key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let json: Value = r.json().await.unwrap();
            (status, json)
        }
    };
    let tasks: Vec<_> = (0..8)
        .map(|i| tokio::spawn(send(format!("many-{i}"))))
        .collect();
    let mut first = Vec::new();
    for t in tasks {
        first.push(t.await.unwrap());
    }
    let created = first.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{first:?}");
    for (status, json) in &first {
        if *status != 201 {
            assert_eq!(*status, 409, "{json}");
            assert_eq!(json["code"], "order_exists", "{json}");
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys WHERE response_status IS NULL")
            .await,
        0,
        "no key left in progress"
    );
    for (i, (status, json)) in first.iter().enumerate() {
        let (again, replayed) = send(format!("many-{i}")).await;
        assert_eq!((again, &replayed), (*status, json));
    }
}

/// A keyed order is created in one statement with its answer rendered beforehand from the record the gateway
/// predicts: that answer (and its replay) must be exactly the order as stored and read back, for every kind of
/// order, at a clock with nanoseconds, and with metadata numbers PostgreSQL spells differently.
#[tokio::test]
async fn a_keyed_order_answers_exactly_what_reads_back() {
    let app = spawn_app().await;
    app.clock.set(
        chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 11, 21, 3, 0, 0).unwrap()
            + chrono::Duration::nanoseconds(123_456_789),
    );
    let buyer = json!({ "name": "김철수", "tel": "01000000000", "email": "kim@example.com" });
    let bodies = [
        json!({
            "order_id": "KEYED-CARD", "amount": 15000, "goods_name": "머그컵 (큰 것)", "pay_method": "CARD",
            "goods_count": 3, "tax": 1000, "svc_amt": 500, "return_url": "https://shop.example/done?x=1",
            "buyer": buyer, "card": { "issuer_code": "01", "quota": "00" },
            "offer_period": { "from": "20261201", "to": "20261231" },
            "metadata": {
                "floats": [-0.0, 1e16, 1.5e17, -2e18, 1e19, 1e20, 12345.0, 0.1, 1.5e-7, 100.0, 5e-324, 1e308],
                "ints": [0, -1, 9007199254740993u64, u64::MAX, i64::MIN],
                "텍스트": "한글 \" \\ \u{1F600}", "nested": { "b": 1, "a": [true, null, {}] },
            },
        }),
        json!({ "order_id": "KEYED-VBANK", "amount": 50000, "goods_name": "책", "pay_method": "VBANK",
            "buyer": buyer }),
        json!({ "amount": 1004, "goods_name": "x", "pay_method": "KAKAO", "pay_type": "KPCD",
            "mall_user_id": "user-1", "buyer": buyer }),
    ];
    for (i, body) in bodies.iter().enumerate() {
        let key = format!("exact-{i}");
        let created = app.post_keyed("/v1/orders", &key, body).await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        let order_id = created["order_id"].as_str().unwrap();
        assert_eq!(created, app.order(order_id).await, "{body}");
        let replay = app.post_keyed("/v1/orders", &key, body).await;
        assert_eq!(replay.headers()["idempotent-replayed"], "true");
        assert_eq!(replay.json::<Value>().await.unwrap(), created);
    }
    assert_eq!(
        app.count("SELECT count(*) FROM idempotency_keys WHERE response_status = 201")
            .await,
        3
    );
}

/// An order_id that exists already, asked again under a fresh key: the one-statement path must not leave the key
/// claimed with a `201` (the failed insert undoes the claim); the key records `409 order_exists` and the first
/// order is untouched.
#[tokio::test]
async fn a_fresh_key_for_an_existing_order_records_the_conflict() {
    let app = spawn_app().await;
    let first = app
        .post_keyed("/v1/orders", "k-1", &card_order("EXISTS-1", 1000))
        .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let mut other = card_order("EXISTS-1", 2000);
    other["goods_name"] = json!("다른 상품");
    for _ in 0..2 {
        let again = app.post_keyed("/v1/orders", "k-2", &other).await;
        assert_eq!(again.status(), 409);
        let problem: Value = again.json().await.unwrap();
        assert_eq!(problem["code"], "order_exists");
    }
    assert_eq!(
        app.count(
            "SELECT count(*) FROM idempotency_keys WHERE idempotency_key = 'k-2' AND response_status = 409"
        )
        .await,
        1
    );
    assert_eq!(app.order("EXISTS-1").await, first);
}

/// [`as_jsonb_keeps`] says how a number comes back from a jsonb column; PostgreSQL is asked for thousands of
/// floats (random bit patterns, whole floats around 1e16..2^64, negative zero) and must agree on each.
#[tokio::test]
async fn jsonb_numbers_come_back_as_predicted() {
    use gateway::store::orders::as_jsonb_keeps;
    use rand::{Rng, SeedableRng};
    let app = spawn_app().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(12);
    let mut floats = vec![
        -0.0,
        0.0,
        1e16,
        9_999_999_999_999_998.0,
        1.8446744073709552e19,
        -9.223372036854776e18,
    ];
    floats.extend(
        (0..3000)
            .map(|_| f64::from_bits(rng.gen()))
            .filter(|f| f.is_finite()),
    );
    floats.extend((0..2000).map(|_| (rng.gen_range(-20.0..20.0f64) * 1e18).round()));
    floats.extend((0..500).map(|_| rng.gen_range(1e15..1e17f64).round()));
    for chunk in floats.chunks(500) {
        let sent = json!(chunk);
        let back: Value = sqlx::query_scalar("SELECT $1::jsonb")
            .bind(&sent)
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        let predicted = as_jsonb_keeps(sent.clone());
        for ((s, b), p) in sent
            .as_array()
            .unwrap()
            .iter()
            .zip(back.as_array().unwrap())
            .zip(predicted.as_array().unwrap())
        {
            assert_eq!(b.to_string(), p.to_string(), "sent {s}");
        }
    }
}
