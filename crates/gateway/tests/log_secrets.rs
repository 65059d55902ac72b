//! The real binary's logs, at debug level, never carry a secret or a full card number.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{card_order, notification};
use gateway::testkit::fresh_database;
use serde_json::json;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};

const MERCHANT_KEY: &str = "LogTestMerchantKey+/0123456789abcdefghijklmnopqrstuvwxyzABCDEFGH==";
const CANCEL_PASSWORD: &str = "Cpw7Zq9x";
const API_KEY: &str = "sk_live_log_test_0123456789";
const WEBHOOK_SECRET: &str = "whsec_log_test_secret_value";
const CARD_NUMBER: &str = "4111111111111111";

struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn logs_never_carry_secrets_or_card_numbers() {
    let db = fresh_database().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"))
        .arg("serve")
        .env("RUST_LOG", "debug")
        .env("GATEWAY__DATABASE__URL", &db.url)
        .env("GATEWAY__SERVER__BIND", format!("127.0.0.1:{port}"))
        .env("GATEWAY__SERVER__PUBLIC_URL", &base)
        .env("GATEWAY__MERCHANTS__0__MERCHANT_KEY", MERCHANT_KEY)
        .env("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", CANCEL_PASSWORD)
        .env("GATEWAY__API__SECRET_KEYS", API_KEY)
        // Nothing listens there: cancels and webhooks fail, and their errors are logged.
        .env("GATEWAY__SMARTRO__CANCEL_URL", "http://127.0.0.1:9/cancel")
        .env(
            "GATEWAY__SMARTRO__RECEIPT_API_URL",
            "http://127.0.0.1:9/receipt",
        )
        .env("GATEWAY__SMARTRO__TIMEOUT_SECS", "1")
        // The test plays Smartro's notification servers.
        .env("GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS", "127.0.0.1/32")
        .env("GATEWAY__WEBHOOKS__URL", "http://127.0.0.1:9/hooks")
        .env("GATEWAY__WEBHOOKS__SECRET", WEBHOOK_SECRET)
        .env("GATEWAY__WORKERS__POLL_INTERVAL_MS", "50")
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let _child = Child(child);

    let http = reqwest::Client::new();
    let started = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "gateway did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let order: serde_json::Value = http
        .post(format!("{base}/v1/orders"))
        .bearer_auth(API_KEY)
        .json(&card_order("LOG-1", 1004))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let checkout = order["checkout_url"].as_str().unwrap();
    assert_eq!(http.get(checkout).send().await.unwrap().status(), 200);

    let tid = format!("{}0101261121120000{:04}", common::MID, 1);
    let mut paid = notification(
        "LOG-1",
        &tid,
        1004,
        "3001",
        StateCd::Approval,
        PayMethod::Card,
    );
    paid.pin_no = Some(CARD_NUMBER.into());
    paid.sign_value = sign::sign_value(&tid, "3001", MERCHANT_KEY);
    let ok = http
        .post(format!("{base}/smartro/inform"))
        .body(paid.to_form_body())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.text().await.unwrap(), "OK");
    // a forged one, which is logged as refused
    let mut forged = paid.clone();
    forged.sign_value = sign::sign_value(&tid, "3001", "wrong");
    http.post(format!("{base}/smartro/inform"))
        .body(forged.to_form_body())
        .send()
        .await
        .unwrap();
    // a wrong API key, a cancel and a receipt that find no Smartro
    http.get(format!("{base}/v1/orders"))
        .bearer_auth("sk_live_wrong_key_0000000")
        .send()
        .await
        .unwrap();
    let cancel = http
        .post(format!("{base}/v1/orders/LOG-1/cancel"))
        .bearer_auth(API_KEY)
        .json(&json!({ "reason": "log test" }))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 504);
    http.get(format!("{base}/v1/orders/LOG-1/receipt"))
        .bearer_auth(API_KEY)
        .send()
        .await
        .unwrap();
    // let the webhook worker fail a delivery or two
    tokio::time::sleep(Duration::from_millis(500)).await;

    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("webhook attempt"),
        "the run was logged at all:\n{logs}"
    );
    assert!(logs.contains("inform refused"), "{logs}");
    for secret in [
        MERCHANT_KEY,
        CANCEL_PASSWORD,
        API_KEY,
        WEBHOOK_SECRET,
        CARD_NUMBER,
        "sk_live_wrong_key",
    ] {
        assert!(
            !logs.contains(secret),
            "the log carries {secret:?}:\n{logs}"
        );
    }
    let token = checkout.split("?t=").nth(1).unwrap();
    assert!(
        !logs.contains(token),
        "the checkout token is a capability and stays out of logs"
    );
}
