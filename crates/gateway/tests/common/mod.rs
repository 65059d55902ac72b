//! Shared test support: a real gateway on a fresh database, and signed Smartro messages.
#![allow(dead_code)]

pub mod terminal;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use gateway::app::Gateway;
use gateway::clock::ManualClock;
use gateway::config::Settings;
use gateway::testkit::{fresh_database, TestDatabase};
use serde_json::{json, Value};
use smartro::cancel::{CancelRequest, CancelResponse};
use smartro::form::RawForm;
use smartro::notification::Notification;
use smartro::result::PaymentResult;
use smartro::sign;
use smartro::types::{EncodingType, PayMethod, StateCd};

pub const MID: &str = "SMTPAY001m";
pub const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
pub const MID2: &str = "SMTPAY002m";
pub const KEY2: &str =
    "nja3kmcUhyD8hQIS51wxFYCYXEWP530/qWB1/LjLPGNch9KeOPtnWYgLghLBUFOUShq4g3uYTMwL9f8164XLOw==";
pub const API_KEY: &str = "sk_test_change_me";

pub struct TestApp {
    pub gateway: Gateway,
    pub db: TestDatabase,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub base: String,
    /// Smartro's receipt data API as these tests need it: it knows the transactions a test tells it of.
    pub smartro: ReceiptApiDouble,
}

/// A stand-in for Smartro's receipt data API over real HTTP. It answers like the real one (weblink.md §9): the
/// record of a TID it knows, `404` with an error object for one it does not, `503` while it is down. The apikey
/// must be the MID's merchant key.
#[derive(Clone)]
pub struct ReceiptApiDouble {
    pub url: String,
    records: Arc<Mutex<HashMap<String, Value>>>,
    down: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl ReceiptApiDouble {
    pub async fn start() -> ReceiptApiDouble {
        let double = ReceiptApiDouble {
            url: String::new(),
            records: Arc::default(),
            down: Arc::default(),
            calls: Arc::default(),
        };
        let state = double.clone();
        let app = axum::Router::new().route(
            "/receipt",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = state.clone();
                    async move { state.answer(&headers, &body) }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/receipt", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ReceiptApiDouble { url, ..double }
    }

    fn answer(
        &self,
        headers: &axum::http::HeaderMap,
        body: &[u8],
    ) -> (axum::http::StatusCode, axum::Json<Value>) {
        use axum::http::StatusCode;
        self.calls.fetch_add(1, Ordering::SeqCst);
        let error = |status: StatusCode, code: &str, msg: &str| {
            (
                status,
                axum::Json(json!({ "resultCode": code, "resultMsg": msg })),
            )
        };
        if self.down.load(Ordering::SeqCst) {
            return error(StatusCode::SERVICE_UNAVAILABLE, "R503", "일시적인 오류");
        }
        let Ok(request) = serde_json::from_slice::<Value>(body) else {
            return error(StatusCode::BAD_REQUEST, "R400", "요청 형식 오류");
        };
        let key = match request["mid"].as_str() {
            Some(MID) => KEY,
            Some(MID2) => KEY2,
            _ => "",
        };
        let apikey = headers.get("apikey").and_then(|v| v.to_str().ok());
        if key.is_empty() || apikey != Some(key) {
            return error(StatusCode::FORBIDDEN, "R403", "인증키 오류");
        }
        let tid = request["tid"].as_str().unwrap_or_default();
        match self.records.lock().unwrap().get(tid) {
            Some(record) => (StatusCode::OK, axum::Json(record.clone())),
            None => error(StatusCode::NOT_FOUND, "R404", "거래 정보가 없습니다"),
        }
    }

    /// Smartro made `tid`, an approval of `amount` for order `moid`.
    pub fn knows(&self, tid: &str, moid: &str, amount: i64) {
        self.record(
            tid,
            json!({ "tid": tid, "moid": moid, "goodsAmt": amount.to_string(), "stateCd": "0",
                    "stateNm": "승인", "svcCd": "01", "ordNm": "홍길동", "goodsNm": "테스트 상품" }),
        );
    }

    /// Replaces the record of `tid`.
    pub fn record(&self, tid: &str, record: Value) {
        self.records.lock().unwrap().insert(tid.to_string(), record);
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many lookups were asked of it.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

/// A stand-in for Smartro's cancel endpoint (payCancelNVProcess.jsp) over real HTTP. It keeps every request it
/// receives and answers as told: cancelled (2001, with a PTID for a partial cancel), refused with a code, or, while
/// held, only once released.
#[derive(Clone)]
pub struct CancelDouble {
    pub url: String,
    requests: Arc<Mutex<Vec<CancelRequest>>>,
    refusal: Arc<Mutex<Option<(String, String)>>>,
    /// The CancelAmt a success names instead of the one asked.
    given: Arc<Mutex<Option<i64>>>,
    held: Arc<AtomicBool>,
    release: Arc<tokio::sync::Semaphore>,
}

impl CancelDouble {
    pub async fn start() -> CancelDouble {
        let double = CancelDouble {
            url: String::new(),
            requests: Arc::default(),
            refusal: Arc::default(),
            given: Arc::default(),
            held: Arc::default(),
            release: Arc::new(tokio::sync::Semaphore::new(0)),
        };
        let state = double.clone();
        let app = axum::Router::new().route(
            "/cancel",
            axum::routing::post(move |body: axum::body::Bytes| {
                let state = state.clone();
                async move { state.answer(&body).await }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cancel", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        CancelDouble { url, ..double }
    }

    async fn answer(&self, body: &[u8]) -> ([(&'static str, &'static str); 1], Vec<u8>) {
        let header = [("content-type", "text/html; charset=euc-kr")];
        let Ok((request, _hash)) = CancelRequest::from_form(&RawForm::parse(body)) else {
            let refused = CancelResponse {
                result_code: "2041".into(),
                result_msg: "요청 데이터 오류".into(),
                ..CancelResponse::default()
            };
            return (header, refused.to_body());
        };
        let n = {
            let mut requests = self.requests.lock().unwrap();
            requests.push(request.clone());
            requests.len()
        };
        if self.held.load(Ordering::SeqCst) {
            self.release.acquire().await.unwrap().forget();
        }
        let refusal = self.refusal.lock().unwrap().clone();
        let response = match refusal {
            Some((code, message)) => CancelResponse {
                tid: Some(request.tid.clone()),
                result_code: code,
                result_msg: message,
                ..CancelResponse::default()
            },
            None => CancelResponse {
                pay_method: Some("CARD".into()),
                mid: Some(MID.into()),
                tid: Some(request.tid.clone()),
                cancel_amt: Some(self.given.lock().unwrap().unwrap_or(request.cancel_amt)),
                result_code: "2001".into(),
                result_msg: "취소 성공".into(),
                cancel_num: Some(format!("{n:08}")),
                ptid: request.partial.then(|| format!("{MID}0101261121139{n:07}")),
                ..CancelResponse::default()
            },
        };
        (header, response.to_body())
    }

    /// Every cancel from now on is refused with this code and message.
    pub fn refuse_with(&self, code: &str, message: &str) {
        *self.refusal.lock().unwrap() = Some((code.into(), message.into()));
    }

    /// Every success from now on names this CancelAmt, whatever was asked.
    pub fn give_back(&self, amount: i64) {
        *self.given.lock().unwrap() = Some(amount);
    }

    /// Every cancel from now on succeeds.
    pub fn approve(&self) {
        *self.refusal.lock().unwrap() = None;
    }

    /// Answers wait for [`CancelDouble::release`] from now on.
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    /// Lets `n` held answers go.
    pub fn release(&self, n: usize) {
        self.release.add_permits(n);
    }

    /// The cancel requests received so far.
    pub fn requests(&self) -> Vec<CancelRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived.
    pub async fn wait_for(&self, n: usize) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.requests.lock().unwrap().len() < n {
            assert!(
                std::time::Instant::now() < deadline,
                "only {} cancel requests reached Smartro",
                self.requests.lock().unwrap().len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// A URL where nothing answers: a port that was free a moment ago, so the connection is refused at once.
pub async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}/cancel")
}

pub fn test_settings(extra: &[(&str, &str)]) -> Settings {
    let mut env: Vec<(String, String)> = vec![
        ("GATEWAY__SERVER__BIND".into(), "127.0.0.1:0".into()),
        (
            "GATEWAY__SERVER__CORS_ORIGINS".into(),
            "https://shop.example.com".into(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::load_from(None, &env).expect("test settings")
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A gateway whose informs from 127.0.0.1 come from an allow-listed notifier (these tests play Smartro's daemon),
/// and whose receipt API is a [`ReceiptApiDouble`]; `extra` overrides either.
pub async fn spawn_app_with(extra: &[(&str, &str)]) -> TestApp {
    let db = fresh_database().await;
    let smartro = ReceiptApiDouble::start().await;
    let mut vars: Vec<(&str, &str)> = vec![
        ("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.1/32"),
        ("GATEWAY__SMARTRO__RECEIPT_API_URL", smartro.url.as_str()),
        ("GATEWAY__SMARTRO__TIMEOUT_SECS", "5"),
    ];
    vars.extend_from_slice(extra);
    let settings = test_settings(&vars);
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap());
    let gateway = Gateway::start(Arc::new(settings), db.pool.clone(), Arc::new(clock.clone()))
        .await
        .expect("gateway starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = gateway.url();
    TestApp {
        gateway,
        db,
        clock,
        http,
        base,
        smartro,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(API_KEY)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs JSON with an Idempotency-Key.
    pub async fn post_keyed(&self, path: &str, key: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(API_KEY)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(API_KEY)
            .send()
            .await
            .unwrap()
    }

    /// Creates an order and returns its JSON.
    pub async fn create_order(&self, body: Value) -> Value {
        let response = self.post_json("/v1/orders", &body).await;
        let status = response.status();
        let json: Value = response.json().await.unwrap();
        assert_eq!(status, 201, "create order: {json}");
        json
    }

    pub async fn order(&self, order_id: &str) -> Value {
        let response = self.get_json(&format!("/v1/orders/{order_id}")).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn inform(&self, body: Vec<u8>) -> (u16, String) {
        let response = self
            .http
            .post(self.url("/smartro/inform"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    pub async fn return_pay(&self, body: String) -> reqwest::Response {
        self.http
            .post(self.url("/smartro/return"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}

/// The id the gateway records for [`API_KEY`] (who recorded a refund, who resolved a review): the first 8 bytes
/// of the key's SHA-256, in hex.
pub fn api_key_id() -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(API_KEY.as_bytes())[..8])
}

pub fn card_order(order_id: &str, amount: i64) -> Value {
    json!({
        "order_id": order_id,
        "amount": amount,
        "goods_name": "테스트 상품",
        "pay_method": "CARD",
        "buyer": { "name": "홍길동", "tel": "010-1234-5678", "email": "buyer@example.com" },
    })
}

pub fn tid(n: u32) -> String {
    format!("{MID}0101261121120000{n:04}")
}

/// A signed inform as Smartro's daemon sends it (EUC-KR form).
pub fn notification(
    order_id: &str,
    tid: &str,
    amount: i64,
    result_code: &str,
    state: StateCd,
    method: PayMethod,
) -> Notification {
    Notification {
        pay_method: method,
        mid: MID.into(),
        mall_user_id: None,
        amt: amount,
        name: Some("홍길동".into()),
        goods_name: Some("테스트 상품".into()),
        tid: tid.into(),
        otid: None,
        oid: order_id.into(),
        auth_date: Some("261121120000".into()),
        auth_code: Some("30001234".into()),
        result_code: result_code.into(),
        result_msg: "정상 처리되었습니다.".into(),
        state_cd: state,
        fn_cd: Some("04".into()),
        fn_name: Some("삼성".into()),
        pin_no: Some("4111111111111111".into()),
        card_quota: Some("00".into()),
        buyer_email: Some("buyer@example.com".into()),
        buyer_tel: Some("01012345678".into()),
        buyer_auth_num: None,
        vbank_num: None,
        vbank_name: None,
        receipt_type: None,
        rcpt_app_no: None,
        rcpt_cc_no: None,
        card_use_point: None,
        sign_value: sign::sign_value(tid, result_code, KEY),
        extra: BTreeMap::new(),
    }
}

pub fn card_inform(order_id: &str, tid: &str, amount: i64) -> Vec<u8> {
    notification(
        order_id,
        tid,
        amount,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    )
    .to_form_body()
}

/// A signed returnPay as the browser posts it (UTF-8, UrlEncode=Y).
pub fn payment_result(order_id: &str, tid: &str, amount: i64, result_code: &str) -> PaymentResult {
    PaymentResult {
        pay_method: PayMethod::Card,
        mid: MID.into(),
        amt: amount,
        buyer_name: "홍길동".into(),
        goods_name: "테스트 상품".into(),
        mall_user_id: None,
        tid: tid.into(),
        oid: order_id.into(),
        auth_date: Some("261121120000".into()),
        auth_code: Some("30001234".into()),
        result_code: result_code.into(),
        result_msg: "카드 결제 성공".into(),
        buyer_tel: None,
        buyer_email: None,
        buyer_auth_num: None,
        sign_value: sign::sign_value(tid, result_code, KEY),
        divide_info: None,
        tax_cd: None,
        svc_amt: None,
        tax: None,
        acqu_card_code: Some("04".into()),
        fn_cd: Some("04".into()),
        fn_name: Some("삼성".into()),
        card_quota: Some("00".into()),
        bank_code: None,
        bank_name: None,
        vbank_num: None,
        vbank_name: None,
        vbank_exp_date: None,
        extra: BTreeMap::new(),
    }
}

pub fn card_return(order_id: &str, tid: &str, amount: i64) -> String {
    payment_result(order_id, tid, amount, "3001").to_form_body(EncodingType::Utf8, true)
}
