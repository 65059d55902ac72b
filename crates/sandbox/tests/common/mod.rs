//! Helpers shared by the sandbox's integration tests: a scripted notification receiver, request forms as a
//! browser posts them, and a tiny reader for the auto-submit page.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::Utc;
use sandbox::{AutoDecision, DeliverySnapshot, Sandbox, SandboxConfig};
use smartro::cancel::{CancelRequest, CancelResponse};
use smartro::client::{CallOutcome, SmartroClient};
use smartro::divide::{DivideEntry, DivideInfo};
use smartro::form::{decode_text, encode_form, Charset};
use smartro::notification::Notification;
use smartro::receipt::Receipt;
use smartro::request::PaymentRequest;
use smartro::result::PaymentResult;
use smartro::types::{kst_now_edi_date, PayMethod};

pub const MID: &str = "SMTPAY001m";
pub const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
pub const OTHER_KEY: &str =
    "nja3kmcUhyD8hQIS51wxFYCYXEWP530/qWB1/LjLPGNch9KeOPtnWYgLghLBUFOUShq4g3uYTMwL9f8164XLOw==";
pub const INTERVAL: Duration = Duration::from_millis(50);
/// Nothing listens on port 9 of loopback (discard): deliveries there fail at once.
pub const DEAD_URL: &str = "http://127.0.0.1:9/inform";

static MOID_SEQ: AtomicU32 = AtomicU32::new(1);

pub fn config(auto: Option<AutoDecision>) -> SandboxConfig {
    SandboxConfig {
        auto,
        ..SandboxConfig::for_tests(INTERVAL)
    }
}

pub async fn start(config: SandboxConfig) -> Sandbox {
    match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => panic!("sandbox did not start: {e}"),
    }
}

pub fn moid() -> String {
    format!(
        "ORDER{}x{}",
        std::process::id(),
        MOID_SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

pub fn request(method: PayMethod, amt: i64, retry_url: &str) -> PaymentRequest {
    let mut r = PaymentRequest::new(
        method.clone(),
        "한글 상품명 테스트",
        amt,
        moid(),
        MID,
        "http://127.0.0.1:9/return",
        retry_url,
        "홍길동",
        "010-1234-5678",
        "buyer@example.com",
    );
    match method {
        PayMethod::Vbank => {
            let tomorrow = (Utc::now() + chrono::Duration::days(2))
                .format("%Y%m%d")
                .to_string();
            r.vbank_exp_date = Some(tomorrow);
        }
        PayMethod::Cellphone => r.goods_cl = Some("0".to_string()),
        PayMethod::Kakao => {
            r.pay_type = Some("KPCD".to_string());
            r.mall_user_id = Some("user1".to_string());
        }
        PayMethod::Toss | PayMethod::Clgift => r.mall_user_id = Some("user1".to_string()),
        _ => {}
    }
    r
}

/// The escrow test merchant and the sub-mall test parent of manual §4.4.
pub const ESCROW_MID: &str = "ECTEST001m";
pub const SUB_MALL_PARENT: &str = "SMTSUB001m";

/// The published key of one of the test merchants.
pub fn key_of(mid: &str) -> &'static str {
    match smartro::endpoints::TEST_MERCHANTS
        .iter()
        .find(|(test_mid, _)| *test_mid == mid)
    {
        Some((_, key)) => key,
        None => panic!("{mid} is not a test merchant"),
    }
}

/// A split payment of the sub-mall test parent: `parts` are `(sub-mall MID, goods name, amount)`, Amt their sum.
pub fn split_request(
    method: PayMethod,
    parts: &[(&str, &str, i64)],
    retry_url: &str,
) -> PaymentRequest {
    let total = parts.iter().map(|(_, _, amt)| amt).sum();
    let mut r = request(method, total, retry_url);
    r.mid = SUB_MALL_PARENT.to_string();
    r.productinfo = Some(smartro::request::PRODUCTINFO_SPLIT.to_string());
    r.divide_info = Some(DivideInfo {
        entries: parts
            .iter()
            .map(|(mid, goods, amt)| DivideEntry {
                amt: *amt,
                mid: mid.to_string(),
                goods_name: Some(goods.to_string()),
            })
            .collect(),
    });
    r
}

/// The signed form of `req` with field `name` set to `value` (added if absent): a form the protocol crate would
/// not build, as a careless merchant might send it.
pub fn form_with(req: &PaymentRequest, key: &str, name: &str, value: &str) -> String {
    let mut fields: Vec<(String, String)> =
        match req.to_form_fields(&kst_now_edi_date(Utc::now()), key) {
            Ok(f) => f.into_iter().map(|(n, v)| (n.to_string(), v)).collect(),
            Err(e) => panic!("test request invalid: {e}"),
        };
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(field) => field.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    encode_form(&pairs, Charset::EucKr)
}

/// The code of the sandbox's error page (`#error-code`).
pub fn window_error_code(answer: &Answer) -> String {
    let html = answer.text();
    let start = match html.find("id=\"error-code\">") {
        Some(i) => i + "id=\"error-code\">".len(),
        None => panic!("no error code in {html}"),
    };
    html[start..start + 4].to_string()
}

/// Post `req` (signed with `key`) to a sandbox without `auto` and return the window's page.
pub async fn open_window(sb: &Sandbox, req: &PaymentRequest, key: &str) -> String {
    let answer = post_form(&sb.endpoints().pay_url, browser_form(req, key)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    answer.text()
}

/// Answer the window of `html` with `fields` (e.g. `("decision", "approve")`), as its form posts them.
pub async fn decide(html: &str, fields: &[(&str, &str)]) -> Answer {
    let session = inputs(html)
        .into_iter()
        .find(|(n, _)| n == "session")
        .map(|(_, v)| v)
        .unwrap_or_default();
    let Some(action) = form_attr(html, "payForm", "action") else {
        panic!("no window form in {html}")
    };
    let mut pairs: Vec<(&str, &str)> = vec![("session", session.as_str())];
    pairs.extend_from_slice(fields);
    post_form(&action, encode_form(&pairs, Charset::Utf8)).await
}

/// Pay `req` signed with `key` in `auto` mode and return the parsed result.
pub async fn pay_with(sb: &Sandbox, req: &PaymentRequest, key: &str) -> PaymentResult {
    let answer = post_form(&sb.endpoints().pay_url, browser_form(req, key)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    submit_result_page(&answer)
}

pub fn parse_notification(body: &[u8]) -> Notification {
    match Notification::parse(body) {
        Ok(n) => n,
        Err(e) => panic!("notification does not parse: {e}"),
    }
}

/// The signed request form as a browser posts it with `accept-charset="EUC-KR"`.
pub fn browser_form(req: &PaymentRequest, key: &str) -> String {
    let fields = match req.to_form_fields(&kst_now_edi_date(Utc::now()), key) {
        Ok(f) => f,
        Err(e) => panic!("test request invalid: {e}"),
    };
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
    encode_form(&pairs, Charset::EucKr)
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        decode_text(&self.body)
    }
}

pub async fn post_form(url: &str, body: impl Into<reqwest::Body>) -> Answer {
    let response = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => panic!("POST {url}: {e}"),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = match response.bytes().await {
        Ok(b) => b.to_vec(),
        Err(e) => panic!("POST {url}: body: {e}"),
    };
    Answer {
        status,
        content_type,
        body,
    }
}

pub use sandbox::browser::{form_attr, inputs};

/// Post the result page's form the way the browser would (in the page's charset) and parse it as the
/// merchant does.
pub fn submit_result_page(answer: &Answer) -> PaymentResult {
    let html = answer.text();
    let charset = match form_attr(&html, "resultForm", "accept-charset").as_deref() {
        Some("UTF-8") => Charset::Utf8,
        Some("EUC-KR") => Charset::EucKr,
        other => panic!("result form has accept-charset {other:?}: {html}"),
    };
    let fields = inputs(&html);
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let body = encode_form(&pairs, charset);
    match PaymentResult::parse(body.as_bytes()) {
        Ok(r) => r,
        Err(e) => panic!("result does not parse: {e}\n{body}"),
    }
}

/// Pay with `auto` mode and return the parsed result.
pub async fn pay(sandbox: &Sandbox, req: &PaymentRequest) -> PaymentResult {
    let answer = post_form(&sandbox.endpoints().pay_url, browser_form(req, KEY)).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    submit_result_page(&answer)
}

/// Poll until `pred` holds for the deliveries (or panic after 5 s).
pub async fn wait_deliveries(
    sandbox: &Sandbox,
    pred: impl Fn(&[DeliverySnapshot]) -> bool,
) -> Vec<DeliverySnapshot> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let d = sandbox.notifications();
        if pred(&d) {
            return d;
        }
        if Instant::now() > deadline {
            panic!("deliveries never reached the expected state: {d:#?}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A notification receiver that answers `500` to the first `failures` POSTs, then `200 OK`.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    _server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct ReceiverState {
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
    failures: usize,
}

async fn receive(State(state): State<ReceiverState>, body: Bytes) -> (StatusCode, &'static str) {
    let n = {
        let mut bodies = state.bodies.lock().unwrap_or_else(|e| e.into_inner());
        bodies.push(body.to_vec());
        bodies.len()
    };
    if n <= state.failures {
        (StatusCode::INTERNAL_SERVER_ERROR, "FAIL")
    } else {
        (StatusCode::OK, "OK\n")
    }
}

impl Receiver {
    pub async fn start(failures: usize) -> Receiver {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/inform", post(receive))
            .with_state(ReceiverState {
                bodies: bodies.clone(),
                failures,
            });
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("bind: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("addr: {e}"),
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/inform"),
            bodies,
            _server: server,
        }
    }

    pub fn count(&self) -> usize {
        self.bodies.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

// Cancels and receipts, as the merchant's server sends them.

pub fn cancel_request(tid: &str, amt: i64, partial: bool) -> CancelRequest {
    CancelRequest {
        tid: tid.to_string(),
        cancel_pw: "123456".to_string(),
        cancel_amt: amt,
        cancel_msg: "고객 요청 취소".to_string(),
        partial,
        merchant_mode: None,
        divide_info: None,
    }
}

pub async fn send(sb: &Sandbox, body: String) -> CancelResponse {
    let answer = post_form(&sb.endpoints().cancel_url, body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.content_type, "text/html; charset=euc-kr");
    match CancelResponse::parse(&answer.body) {
        Ok(r) => r,
        Err(e) => panic!("cancel answer does not parse: {e}: {}", answer.text()),
    }
}

pub async fn cancel_with(sb: &Sandbox, req: &CancelRequest, key: &str) -> CancelResponse {
    let body = match req.to_form_body(key) {
        Ok(b) => b,
        Err(e) => panic!("{e}"),
    };
    send(sb, body).await
}

pub async fn cancel(sb: &Sandbox, tid: &str, amt: i64, partial: bool) -> CancelResponse {
    cancel_with(sb, &cancel_request(tid, amt, partial), KEY).await
}

pub async fn receipt_raw(
    sb: &Sandbox,
    apikey: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(sb.endpoints().receipt_api_url)
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(k) = apikey {
        req = req.header("apikey", k);
    }
    let response = match req.send().await {
        Ok(r) => r,
        Err(e) => panic!("{e}"),
    };
    let status = response.status().as_u16();
    let json = match response.json().await {
        Ok(j) => j,
        Err(e) => panic!("receipt error is not JSON: {e}"),
    };
    (status, json)
}

/// The receipt API as the gateway calls it: `(mid, tid, key)` through the protocol crate's client.
pub async fn receipt(sb: &Sandbox, mid: &str, tid: &str, key: &str) -> CallOutcome<Receipt> {
    let endpoints = sb.endpoints();
    let client = match SmartroClient::new(
        endpoints.cancel_url,
        endpoints.receipt_api_url,
        Duration::from_secs(5),
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    client.receipt(mid, tid, key).await
}

/// The record the receipt API has of `tid` (of the test merchant), or a panic naming what came instead.
pub async fn receipt_record(sb: &Sandbox, tid: &str) -> Receipt {
    match receipt(sb, MID, tid, KEY).await {
        CallOutcome::Answered(r) => r,
        other => panic!("receipt of {tid}: {other:?}"),
    }
}

/// `(status, resultCode)` of the receipt API for `tid` of the test merchant.
pub async fn receipt_status(sb: &Sandbox, tid: &str) -> (u16, String) {
    let body = serde_json::json!({ "mid": MID, "tid": tid }).to_string();
    let (status, json) = receipt_raw(sb, Some(KEY), &body).await;
    let code = json["resultCode"].as_str().unwrap_or_default().to_string();
    (status, code)
}
