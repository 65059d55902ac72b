//! The edges of the contract ("Result trust and hardening" → "Edges"): connection limits, closed metric labels,
//! page headers, the Authorization scheme, X-Request-Id, strings the gateway cannot store or send, a cancel racing
//! another, and the buyer's UserIP behind proxies.

mod common;

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use common::*;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// Where inform-made payments stay trusted once results need confirmation: the test client is the notifier.
const NOTIFIER: (&str, &str) = ("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.1/32");

/// A change that spoils one field of a request.
type Edit<T> = fn(&mut T);

fn token_of(order: &Value) -> String {
    let url = order["checkout_url"].as_str().unwrap();
    url.split("?t=").nth(1).unwrap().to_string()
}

fn form_field<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(&html[start..end])
}

/// A TCP connection that sends `bytes` and then nothing more.
async fn stalled_connection(app: &TestApp, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(app.gateway.addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// How long until the server closes `stream` (whatever it says first), at most `limit`.
async fn closed_after(mut stream: TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(limit, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => continue,
            }
        }
    })
    .await
    .ok()
}

const PARTIAL_HEADERS: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: gateway\r\nX-Slow: ";

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    let app = spawn_app_with(&[("GATEWAY__SERVER__HEADER_TIMEOUT_SECS", "1")]).await;
    let partial = stalled_connection(&app, PARTIAL_HEADERS).await;
    let silent = stalled_connection(&app, b"").await;
    let partial = tokio::spawn(closed_after(partial, Duration::from_secs(5)));
    let silent = tokio::spawn(closed_after(silent, Duration::from_secs(5)));

    // Meanwhile the gateway answers everyone else at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(started.elapsed() < Duration::from_millis(500));

    for (what, closed) in [("partial headers", partial), ("no byte at all", silent)] {
        let after = closed
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: still open after 5 s"));
        assert!(
            after >= Duration::from_millis(600) && after <= Duration::from_secs(3),
            "{what}: closed after {after:?}"
        );
    }
}

#[tokio::test]
async fn at_the_connection_cap_a_new_request_waits_for_a_free_slot() {
    let app = spawn_app_with(&[
        ("GATEWAY__SERVER__HEADER_TIMEOUT_SECS", "1"),
        ("GATEWAY__SERVER__MAX_CONNECTIONS", "2"),
    ])
    .await;
    let first = stalled_connection(&app, PARTIAL_HEADERS).await;
    let second = stalled_connection(&app, PARTIAL_HEADERS).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    // The third connection is accepted only once a stalled one is closed by the header timeout (1 s).
    let started = Instant::now();
    let health = reqwest::Client::new()
        .get(app.url("/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the request waits in the accept queue instead of failing");
    let waited = started.elapsed();
    assert_eq!(health.status(), 200);
    assert!(
        waited >= Duration::from_millis(700),
        "answered after {waited:?}: the cap of 2 connections did not hold"
    );
    assert!(closed_after(first, Duration::from_secs(3)).await.is_some());
    assert!(closed_after(second, Duration::from_secs(3)).await.is_some());
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_by_the_idle_timeout() {
    let app = spawn_app_with(&[
        ("GATEWAY__SERVER__REQUEST_TIMEOUT_SECS", "1"),
        ("GATEWAY__SERVER__IDLE_TIMEOUT_SECS", "2"),
    ])
    .await;
    // 200 pipelined requests for the ~100 KB OpenAPI document, and no read: the answers fill the socket buffers,
    // the gateway's writes stall, and no byte moves. The header timer does not run (all requests are read).
    const REQUESTS: usize = 200;
    let request = "GET /openapi.json HTTP/1.1\r\nHost: gateway\r\n\r\n".repeat(REQUESTS);
    let mut stream = stalled_connection(&app, request.as_bytes()).await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the gateway closed the connection");
    let answered = received
        .windows(b"HTTP/1.1 200 OK".len())
        .filter(|w| *w == b"HTTP/1.1 200 OK")
        .count();
    assert!(answered >= 1, "the first answers were sent");
    assert!(
        answered < REQUESTS,
        "all {REQUESTS} answered: the stalled connection was kept open"
    );
}

/// The series of a scrape: every sample line without its value.
fn series(scrape: &str) -> BTreeSet<String> {
    scrape
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.rsplit_once(' ').map_or(l, |(name, _)| name).to_string())
        .collect()
}

fn junk(n: usize) -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

async fn scrape(app: &TestApp) -> String {
    app.http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Requests with made-up methods, to unknown paths and to a known route with an unknown order id.
async fn junk_requests(app: &TestApp, n: usize) {
    for i in 0..n {
        let method = reqwest::Method::from_bytes(format!("X{}", junk(8)).as_bytes()).unwrap();
        let path = if i % 2 == 0 {
            format!("/{}/{}", junk(12), junk(6))
        } else {
            format!("/v1/orders/{}", junk(10))
        };
        let status = app
            .http
            .request(method, app.url(&path))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{path}: {status}");
    }
}

#[tokio::test]
async fn metrics_do_not_grow_with_what_clients_send() {
    let app = spawn_app().await;
    // Every series these requests can make exists after the first few; the scrape counts itself too.
    junk_requests(&app, 4).await;
    scrape(&app).await;
    let before = scrape(&app).await;
    junk_requests(&app, 200).await;
    let after = scrape(&app).await;

    assert_eq!(series(&before), series(&after), "no new series");
    assert_eq!(before.lines().count(), after.lines().count());
    // Only values grow (counts, latency sums); one series per request would add at least 200 lines of ~80 bytes.
    assert!(
        after.len() < before.len() + 1024,
        "{} bytes before, {} after",
        before.len(),
        after.len()
    );
    assert!(
        after.contains("method=\"other\",route=\"unmatched\",status=\"404\""),
        "{after}"
    );
    assert!(after.contains("method=\"other\",route=\"/v1/orders/{order_id}\",status=\"405\""));
}

fn assert_page_headers(response: &reqwest::Response, frame_ancestors: &str) {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("{} lacks {name}", response.url()))
            .to_str()
            .unwrap()
            .to_string()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "strict-origin");
    assert_eq!(header("cache-control"), "no-store");
    let csp = header("content-security-policy");
    assert!(
        csp.contains(&format!("frame-ancestors {frame_ancestors}")),
        "{csp}"
    );
    // The pages' own inline <style> must still apply.
    assert!(csp.contains("style-src 'self' 'unsafe-inline'"), "{csp}");
}

#[tokio::test]
async fn html_pages_carry_the_security_and_cache_headers() {
    let app = spawn_app_with(&[
        NOTIFIER,
        (
            "GATEWAY__CHECKOUT__FRAME_ANCESTORS",
            "https://shop.example.com,https://m.shop.example.com",
        ),
    ])
    .await;
    let order = app.create_order(card_order("HDR-1", 1004)).await;
    let token = token_of(&order);
    let checkout = app
        .http
        .get(app.url(&format!("/pay/HDR-1?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(checkout.status(), 200);
    assert_page_headers(
        &checkout,
        "https://shop.example.com https://m.shop.example.com",
    );

    // A wrong token: the problem page, framed by nobody.
    let wrong = app
        .http
        .get(app.url("/pay/HDR-1?t=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    assert_page_headers(
        &wrong,
        "https://shop.example.com https://m.shop.example.com",
    );

    // Paid: the not-payable page shows the order and the buyer.
    assert_eq!(
        app.inform(card_inform("HDR-1", &tid(901), 1004)).await.1,
        "OK"
    );
    let not_payable = app
        .http
        .get(app.url(&format!("/pay/HDR-1?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(not_payable.status(), 409);
    assert_page_headers(
        &not_payable,
        "https://shop.example.com https://m.shop.example.com",
    );

    // returnPay without a return_url: the result page, which no shop may frame.
    app.create_order(card_order("HDR-2", 1004)).await;
    app.smartro.knows(&tid(902), "HDR-2", 1004);
    let result = app.return_pay(card_return("HDR-2", &tid(902), 1004)).await;
    assert_eq!(result.status(), 200);
    assert_page_headers(&result, "'none'");
    assert!(result
        .text()
        .await
        .unwrap()
        .contains("data-status=\"paid\""));

    // With a return_url: the redirect is not cached either.
    let mut body = card_order("HDR-3", 1004);
    body["return_url"] = "https://shop.example.com/done".into();
    app.create_order(body).await;
    app.smartro.knows(&tid(903), "HDR-3", 1004);
    let redirect = app.return_pay(card_return("HDR-3", &tid(903), 1004)).await;
    assert_eq!(redirect.status(), 303);
    assert_eq!(redirect.headers()["cache-control"], "no-store");

    // A result Smartro's records do not show yet: the "결제 확인 중" page, and the page it reloads.
    app.create_order(card_order("HDR-4", 1004)).await;
    let confirming = app.return_pay(card_return("HDR-4", &tid(904), 1004)).await;
    assert_eq!(confirming.status(), 200);
    assert_page_headers(&confirming, "'none'");
    let token: String =
        sqlx::query_scalar("SELECT follow_token FROM notifications WHERE follow_token IS NOT NULL")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let follow = app
        .http
        .get(app.url(&format!("/smartro/return/status?t={token}")))
        .send()
        .await
        .unwrap();
    assert_page_headers(&follow, "'none'");
    assert!(follow.text().await.unwrap().contains("결제 확인 중"));

    // JSON is not a page: no page policy, but never sniffed.
    let api = app.get_json("/v1/orders/HDR-1").await;
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert!(api.headers().get("content-security-policy").is_none());
}

#[tokio::test]
async fn the_authorization_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    for (header, expected) in [
        (format!("Bearer {API_KEY}"), 200),
        (format!("bearer {API_KEY}"), 200),
        (format!("BEARER {API_KEY}"), 200),
        (format!("Bearer {}", API_KEY.to_uppercase()), 401),
        (format!("Basic {API_KEY}"), 401),
        (API_KEY.to_string(), 401),
    ] {
        let r = app
            .http
            .get(app.url("/v1/orders"))
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected, "{header}");
    }
}

#[tokio::test]
async fn only_a_well_formed_request_id_is_echoed() {
    let app = spawn_app().await;
    let echoed = |id: String| {
        let app = &app;
        async move {
            let r = app
                .http
                .get(app.url("/healthz"))
                .header("x-request-id", id.as_bytes())
                .send()
                .await
                .unwrap();
            r.headers()["x-request-id"].to_str().unwrap().to_string()
        }
    };
    for good in [
        "abc-123".to_string(),
        "req:2026.11.21_0001-A".to_string(),
        "a".repeat(128),
    ] {
        assert_eq!(echoed(good.clone()).await, good);
    }
    for bad in [
        "a".repeat(129),
        "two words".to_string(),
        "<script>alert(1)</script>".to_string(),
        "id\"with\"quotes".to_string(),
        "line\tbreak".to_string(),
    ] {
        let got = echoed(bad.clone()).await;
        assert_ne!(got, bad);
        assert_eq!(got.len(), 36, "a fresh UUID: {got}");
        assert!(uuid_like(&got), "{got}");
    }
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

async fn expect_problem(response: reqwest::Response, code: &str, field: &str) -> Value {
    assert_eq!(response.status(), 422);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], code, "{problem}");
    assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    problem
}

#[tokio::test]
async fn a_nul_character_is_refused_naming_the_field() {
    let app = spawn_app_with(&[NOTIFIER]).await;
    let cases: [(&str, Edit<Value>); 4] = [
        ("goods_name", |b| b["goods_name"] = "상품\u{0}".into()),
        ("buyer.name", |b| b["buyer"]["name"] = "홍\u{0}길동".into()),
        ("order_id", |b| b["order_id"] = "NUL\u{0}1".into()),
        ("metadata.note", |b| {
            b["metadata"] = json!({ "sku": "A-1", "note": "\u{0}" })
        }),
    ];
    for (field, break_it) in cases {
        let mut body = card_order("NUL-1", 1000);
        break_it(&mut body);
        let r = app.post_json("/v1/orders", &body).await;
        expect_problem(r, "nul_character", field).await;
    }
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);
    // In a path parameter, too (PostgreSQL would refuse it as a query parameter: a 500 before).
    expect_problem(
        app.get_json("/v1/orders/NUL%00X").await,
        "nul_character",
        "order_id",
    )
    .await;
    expect_problem(
        app.post_json("/v1/orders/%00/cancel", &json!({ "reason": "x" }))
            .await,
        "nul_character",
        "order_id",
    )
    .await;

    app.create_order(card_order("NUL-2", 1000)).await;
    assert_eq!(
        app.inform(card_inform("NUL-2", &tid(911), 1000)).await.1,
        "OK"
    );
    let r = app
        .post_json(
            "/v1/orders/NUL-2/cancel",
            &json!({ "reason": "고객\u{0}요청" }),
        )
        .await;
    expect_problem(r, "nul_character", "reason").await;
    assert_eq!(app.count("SELECT count(*) FROM cancellations").await, 0);
}

#[tokio::test]
async fn text_smartro_gets_in_euc_kr_must_be_encodable() {
    let app = spawn_app_with(&[NOTIFIER]).await;
    let mut body = card_order("EUC-1", 1000);
    body["goods_name"] = "선물 세트 😀".into();
    let problem = expect_problem(
        app.post_json("/v1/orders", &body).await,
        "not_euc_kr",
        "goods_name",
    )
    .await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("U+1F600"),
        "{problem}"
    );
    let mut body = card_order("EUC-1", 1000);
    body["buyer"]["name"] = "Nguyễn".into();
    expect_problem(
        app.post_json("/v1/orders", &body).await,
        "not_euc_kr",
        "buyer.name",
    )
    .await;
    assert_eq!(app.count("SELECT count(*) FROM orders").await, 0);

    // Hangul, Hanja and the symbols of KS X 1001 are fine.
    let mut body = card_order("EUC-2", 1000);
    body["goods_name"] = "한정판 商品 ①".into();
    app.create_order(body).await;
    assert_eq!(
        app.inform(card_inform("EUC-2", &tid(912), 1000)).await.1,
        "OK"
    );
    let r = app
        .post_json(
            "/v1/orders/EUC-2/cancel",
            &json!({ "reason": "단순 변심 🙏" }),
        )
        .await;
    expect_problem(r, "not_euc_kr", "reason").await;
    assert_eq!(app.count("SELECT count(*) FROM cancellations").await, 0);
}

/// A stand-in for Smartro's cancel endpoint that answers only when told to, and then with an error page.
struct SlowCancel {
    url: String,
    calls: Arc<AtomicUsize>,
    release: Arc<Semaphore>,
}

async fn slow_cancel() -> SlowCancel {
    let calls = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Semaphore::new(0));
    let (c, r) = (calls.clone(), release.clone());
    let app = Router::new().route(
        "/cancel",
        post(move || {
            let (calls, release) = (c.clone(), r.clone());
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let _permit = release.acquire().await;
                (StatusCode::INTERNAL_SERVER_ERROR, "maintenance")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cancel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    SlowCancel {
        url,
        calls,
        release,
    }
}

/// A paid order `order_id` and the keyed cancel of 3,000 of it under `key`.
async fn paid_for_a_keyed_cancel(
    order_id: &'static str,
    n: u32,
    key: &'static str,
) -> (CancelDouble, TestApp, impl Fn() -> reqwest::RequestBuilder) {
    let smartro = CancelDouble::start().await;
    let app = spawn_app_with(&[NOTIFIER, ("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await;
    app.create_order(card_order(order_id, 10_000)).await;
    assert_eq!(
        app.inform(card_inform(order_id, &tid(n), 10_000)).await.1,
        "OK"
    );
    let (http, url) = (
        app.http.clone(),
        app.url(&format!("/v1/orders/{order_id}/cancel")),
    );
    let cancel = move || {
        http.post(&url)
            .bearer_auth(API_KEY)
            .header("idempotency-key", key)
            .json(&json!({ "amount": 3000, "reason": "부분 취소" }))
    };
    (smartro, app, cancel)
}

/// Sends `cancel` with Smartro's answers held and hangs up once Smartro has it, leaving the gateway time to notice
/// before Smartro answers.
async fn hang_up_during(smartro: &CancelDouble, cancel: reqwest::RequestBuilder) {
    smartro.hold();
    tokio::select! {
        _ = cancel.send() => panic!("answered while Smartro held the cancel"),
        _ = smartro.wait_for(1) => {}
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// A shop whose HTTP client gives up while its keyed cancel is on its way to Smartro stops neither the cancel nor
/// its Idempotency-Key: the cancel is recorded when Smartro answers, and the retry with the same key gets that answer.
#[tokio::test]
async fn a_keyed_cancel_whose_caller_hangs_up_is_still_finished() {
    let (smartro, _app, cancel) = paid_for_a_keyed_cancel("HUP-1", 931, "hang-up-1").await;
    hang_up_during(&smartro, cancel()).await;
    smartro.release(1);
    let deadline = Instant::now() + Duration::from_secs(5);
    let answer = loop {
        let retry = cancel().send().await.unwrap();
        if retry.status() != 409 {
            break retry;
        }
        let problem: Value = retry.json().await.unwrap();
        assert!(Instant::now() < deadline, "still {problem}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(answer.status(), 200);
    let order: Value = answer.json().await.unwrap();
    assert_eq!(order["cancelled_amount"], 3000, "{order}");
    assert_eq!(smartro.requests().len(), 1, "one cancel sent");
}

/// Shutting down waits for a request whose client hung up: the cancel it sent is recorded, its key answered.
#[tokio::test]
async fn shutdown_waits_for_a_cancel_whose_caller_hung_up() {
    let (smartro, app, cancel) = paid_for_a_keyed_cancel("HUP-2", 932, "hang-up-2").await;
    hang_up_during(&smartro, cancel()).await;
    let TestApp { gateway, db, .. } = app;
    let shutdown = tokio::spawn(gateway.shutdown());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!shutdown.is_finished(), "shutdown waits for the cancel");
    smartro.release(1);
    shutdown.await.unwrap().unwrap();
    let (cancelled, answered): (i64, Option<i32>) = sqlx::query_as(
        "SELECT o.cancelled_amount, k.response_status FROM orders o, idempotency_keys k
         WHERE o.order_id = 'HUP-2' AND k.idempotency_key = 'hang-up-2'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!((cancelled, answered), (3000, Some(200)));
}

#[tokio::test]
async fn a_cancel_while_another_is_in_flight_is_cancel_in_progress() {
    let smartro = slow_cancel().await;
    let app =
        Arc::new(spawn_app_with(&[NOTIFIER, ("GATEWAY__SMARTRO__CANCEL_URL", &smartro.url)]).await);
    app.create_order(card_order("CIP-1", 10_000)).await;
    assert_eq!(
        app.inform(card_inform("CIP-1", &tid(921), 10_000)).await.1,
        "OK"
    );

    let first = {
        let app = app.clone();
        tokio::spawn(async move {
            app.post_json(
                "/v1/orders/CIP-1/cancel",
                &json!({ "amount": 1000, "reason": "부분 취소" }),
            )
            .await
        })
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while smartro.calls.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the first cancel never reached Smartro"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let cancel_with_key = |key: &'static str| {
        let app = app.clone();
        async move {
            app.http
                .post(app.url("/v1/orders/CIP-1/cancel"))
                .bearer_auth(API_KEY)
                .header("idempotency-key", key)
                .json(&json!({ "amount": 2000, "reason": "추가 취소" }))
                .send()
                .await
                .unwrap()
        }
    };
    let second = cancel_with_key("cip-second").await;
    assert_eq!(second.status(), 409);
    let problem: Value = second.json().await.unwrap();
    assert_eq!(problem["code"], "cancel_in_progress", "{problem}");
    assert!(problem["cancellation_id"].is_string());

    // Smartro answers the first with an error page: its outcome is unknown, which is another conflict.
    smartro.release.add_permits(1);
    let first = first.await.unwrap();
    assert_eq!(first.status(), 502);
    // The same key again is not a replay of "in progress": nothing was decided then.
    let third = cancel_with_key("cip-second").await;
    assert_eq!(third.status(), 409);
    let problem: Value = third.json().await.unwrap();
    assert_eq!(problem["code"], "cancellation_outcome_unknown", "{problem}");
    assert_eq!(smartro.calls.load(Ordering::SeqCst), 1, "one cancel sent");
}

/// Smartro's UserIP holds 20 bytes, and most IPv6 addresses (mobile networks in Korea give them to phones) are
/// longer: the buyer's /64 (or /48) is sent instead, and the buyer can pay.
#[tokio::test]
async fn an_ipv6_buyer_gets_a_user_ip_that_fits() {
    let app = spawn_app_with(&[("GATEWAY__SERVER__TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let order = app.create_order(card_order("UIP-6", 1004)).await;
    let token = token_of(&order);
    for (buyer, sent) in [
        ("2001:db8::7", "2001:db8::7"),
        (
            "2001:2d8:e22a:1b3f:4d5e:6f70:8192:a3b4",
            "2001:2d8:e22a:1b3f::",
        ),
        (
            "2001:2d8f:e22a:1b3f:4d5e:6f70:8192:a3b4",
            "2001:2d8f:e22a::",
        ),
        ("::ffff:203.0.113.9", "203.0.113.9"),
    ] {
        let answer = app
            .http
            .get(app.url(&format!("/v1/checkout/UIP-6?t={token}")))
            .header("x-forwarded-for", buyer)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{buyer}");
        let form: Value = answer.json().await.unwrap();
        assert_eq!(form["fields"]["UserIP"], sent, "{buyer}");
        let page = app
            .http
            .get(app.url(&format!("/pay/UIP-6?t={token}")))
            .header("x-forwarded-for", buyer)
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{buyer}");
        assert_eq!(
            form_field(&page.text().await.unwrap(), "UserIP"),
            Some(sent)
        );
    }
}

/// The whole online flow over IPv6: the gateway listening on `[::1]`, the shop's API call, the buyer's checkout
/// (UserIP `::1`) and the notifier's inform from an allow-listed IPv6 network.
#[tokio::test]
async fn the_online_flow_runs_over_ipv6() {
    let app = spawn_app_with(&[
        ("GATEWAY__SERVER__BIND", "[::1]:0"),
        ("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "::1/128"),
    ])
    .await;
    assert!(app.base.starts_with("http://[::1]:"), "{}", app.base);
    let order = app.create_order(card_order("V6-1", 1004)).await;
    let token = token_of(&order);
    let page = app
        .http
        .get(app.url(&format!("/pay/V6-1?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        form_field(&page.text().await.unwrap(), "UserIP"),
        Some("::1")
    );
    let (status, answer) = app.inform(card_inform("V6-1", &tid(61), 1004)).await;
    assert_eq!((status, answer.as_str()), (200, "OK"));
    assert_eq!(app.order("V6-1").await["status"], "paid");
}

#[tokio::test]
async fn user_ip_believes_forwarding_headers_from_trusted_proxies_only() {
    for (trusted, expected) in [(None, "127.0.0.1"), (Some("127.0.0.1/32"), "203.0.113.9")] {
        let mut settings = vec![];
        if let Some(nets) = trusted {
            settings.push(("GATEWAY__SERVER__TRUSTED_PROXIES", nets));
        }
        let app = spawn_app_with(&settings).await;
        let order = app.create_order(card_order("UIP-1", 1004)).await;
        let token = token_of(&order);
        let page = app
            .http
            .get(app.url(&format!("/pay/UIP-1?t={token}")))
            .header("x-forwarded-for", "203.0.113.9")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(
            form_field(&page, "UserIP"),
            Some(expected),
            "trusted proxies {trusted:?}"
        );
        let form: Value = app
            .http
            .get(app.url(&format!("/v1/checkout/UIP-1?t={token}")))
            .header("forwarded", "for=203.0.113.9")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(form["fields"]["UserIP"], expected, "{form}");
    }
}
