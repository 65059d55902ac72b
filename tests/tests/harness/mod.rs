//! A real gateway, a real sandbox and a real PostgreSQL in one test process, and a scripted "browser".
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway::app::Gateway;
use gateway::clock::ManualClock;
use gateway::config::Settings;
use gateway::testkit::{fresh_database, TestDatabase};
use sandbox::{AutoDecision, Sandbox, SandboxConfig};
use serde_json::{json, Value};

pub const API_KEY: &str = "sk_test_change_me";

pub struct Stack {
    pub gateway: Gateway,
    pub sandbox: Sandbox,
    pub db: TestDatabase,
    pub http: reqwest::Client,
    /// The gateway's clock: real time until a test moves it (the sandbox keeps real time).
    pub clock: ManualClock,
}

pub struct Options {
    pub sandbox: SandboxConfig,
    pub gateway_env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            sandbox: SandboxConfig {
                auto: Some(AutoDecision::Approve),
                ..SandboxConfig::for_tests(Duration::from_millis(50))
            },
            gateway_env: Vec::new(),
        }
    }
}

pub async fn start() -> Stack {
    start_with(Options::default()).await
}

pub async fn start_with(options: Options) -> Stack {
    let db = fresh_database().await;
    let sandbox = Sandbox::start(options.sandbox)
        .await
        .expect("sandbox starts");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let endpoints = sandbox.endpoints();
    let mut env: Vec<(String, String)> = vec![
        (
            "GATEWAY__SERVER__PUBLIC_URL".into(),
            format!("http://127.0.0.1:{port}"),
        ),
        ("GATEWAY__SMARTRO__PAY_URL".into(), endpoints.pay_url),
        ("GATEWAY__SMARTRO__CANCEL_URL".into(), endpoints.cancel_url),
        (
            "GATEWAY__SMARTRO__RECEIPT_API_URL".into(),
            endpoints.receipt_api_url,
        ),
        (
            "GATEWAY__SMARTRO__RECEIPT_PAGE_URL".into(),
            endpoints.receipt_page_url,
        ),
    ];
    env.extend(options.gateway_env);
    let settings = Settings::load_from(None, &env).expect("settings");
    let clock = ManualClock::new(chrono::Utc::now());
    let gateway = Gateway::start_on(
        listener,
        Arc::new(settings),
        db.pool.clone(),
        Arc::new(clock.clone()),
    )
    .await
    .expect("gateway starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Stack {
        gateway,
        sandbox,
        db,
        http,
        clock,
    }
}

impl Stack {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.gateway.url(), path)
    }

    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(API_KEY);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn create_order(&self, order_id: &str, amount: i64, method: &str) -> Value {
        let (status, order) = self
            .api(
                reqwest::Method::POST,
                "/v1/orders",
                Some(json!({
                    "order_id": order_id,
                    "amount": amount,
                    "goods_name": "테스트 상품",
                    "pay_method": method,
                    "buyer": { "name": "홍길동", "tel": "010-1234-5678", "email": "buyer@example.com" },
                })),
            )
            .await;
        assert_eq!(status, 201, "{order}");
        order
    }

    pub async fn order(&self, order_id: &str) -> Value {
        let (status, order) = self
            .api(
                reqwest::Method::GET,
                &format!("/v1/orders/{order_id}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{order}");
        order
    }

    /// What a browser does: load the checkout form, post it to the sandbox in EUC-KR, then post the sandbox's
    /// auto-submit result form to the gateway's ReturnURL. Returns the order afterwards.
    pub async fn pay(&self, order: &Value) -> Value {
        let order_id = order["order_id"].as_str().unwrap();
        let token = order["checkout_url"]
            .as_str()
            .unwrap()
            .split("?t=")
            .nth(1)
            .unwrap();
        let form: Value = self
            .http
            .get(self.url(&format!("/v1/checkout/{order_id}?t={token}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let fields: Vec<(String, String)> = form["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let back = sandbox::browser::pay(&self.http, form["action_url"].as_str().unwrap(), &fields)
            .await
            .unwrap();
        assert!(
            back.status().is_success() || back.status().is_redirection(),
            "{}",
            back.status()
        );
        self.order(order_id).await
    }

    /// Waits until the sandbox's notifications for `tid` (or PTIDs of it) have all been acknowledged.
    pub async fn wait_notified(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let done = self
                .sandbox
                .notifications()
                .iter()
                .filter(|n| n.acknowledged)
                .count();
            if done >= count {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "notifications: {:?}",
                self.sandbox.notifications()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.db.pool)
            .await
            .unwrap()
    }
}
