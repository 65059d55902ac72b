//! Support for the terminal tests: the sandbox's simulator, a gateway configured with it as its one terminal, and
//! the polls every such test needs.

use std::time::{Duration, Instant};

use sandbox::config::AutoDecision;
use sandbox::terminal::{TerminalConfig, TerminalFaults, TerminalSimulator};
use serde_json::Value;

use super::{spawn_app_with, TestApp};

/// The id of the one terminal the tests configure.
pub const TERMINAL: &str = "front-1";

/// A simulator on a free local port: manual (a test taps it) unless `auto`, with `faults` on.
pub async fn simulator(auto: Option<AutoDecision>, faults: TerminalFaults) -> TerminalSimulator {
    let mut config = TerminalConfig::for_tests();
    config.auto = auto;
    config.faults = faults;
    TerminalSimulator::start(config).await.expect("simulator")
}

/// A gateway whose terminal [`TERMINAL`] is at `address`, with more of its keys (`("TIMEOUT_SECS", "35")`, …);
/// returned once it has connected.
pub async fn gateway_with_terminal(address: &str, keys: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        (
            "GATEWAY__TERMINALS__0__ID".to_string(),
            TERMINAL.to_string(),
        ),
        (
            "GATEWAY__TERMINALS__0__ADDRESS".to_string(),
            address.to_string(),
        ),
    ];
    vars.extend(
        keys.iter()
            .map(|(key, value)| (format!("GATEWAY__TERMINALS__0__{key}"), value.to_string())),
    );
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    wait_terminals(&app, "the terminal connects", |v| {
        v["data"][0]["connected"] == true
    })
    .await;
    app
}

/// Polls `GET /v1/terminals` until `check` holds.
pub async fn wait_terminals(app: &TestApp, what: &str, check: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let v: Value = app.get_json("/v1/terminals").await.json().await.unwrap();
        if check(&v) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting until {what}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn transaction(app: &TestApp, id: &str) -> Value {
    app.get_json(&format!("/v1/terminal-transactions/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

/// Polls the transaction until its status is `status`, for at most `secs`; returns it with every status seen on
/// the way.
pub async fn wait_status(app: &TestApp, id: &str, status: &str, secs: u64) -> (Value, Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen: Vec<String> = Vec::new();
    loop {
        let tx = transaction(app, id).await;
        let now = tx["status"].as_str().unwrap_or_default().to_string();
        if seen.last() != Some(&now) {
            seen.push(now.clone());
        }
        if now == status {
            return (tx, seen);
        }
        assert!(
            Instant::now() < deadline,
            "transaction never became {status}: {seen:?} {tx}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Polls `ok` until it holds, for at most `secs`.
pub async fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
