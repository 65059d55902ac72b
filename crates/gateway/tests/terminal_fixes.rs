//! Fixes found by review of the terminal POS, asserted as fixed: an answer with `null` or numeric text fields is
//! applied (F4); a terminal order is cancelled only whole, never after part of it was refunded (F5); a
//! `terminal_busy` answer is not kept under the Idempotency-Key, so the same key works once the terminal is free.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::terminal::{self, gateway_with_terminal, wait_terminals, TERMINAL};
use common::TestApp;
use sandbox::config::AutoDecision;
use sandbox::terminal::{Screen, TerminalFaults, TerminalSimulator};
use serde_json::{json, Value};
use smartro_terminal::{FrameDecoder, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn gateway_for(address: &str) -> TestApp {
    gateway_with_terminal(address, &[("TIMEOUT_SECS", "35")]).await
}

async fn simulator(auto: Option<AutoDecision>) -> TerminalSimulator {
    terminal::simulator(auto, TerminalFaults::default()).await
}

async fn wait_status(app: &TestApp, id: &str, status: &str, secs: u64) -> Value {
    terminal::wait_status(app, id, status, secs).await.0
}

async fn sale(app: &TestApp, key: &str, amount: i64) -> reqwest::Response {
    app.post_keyed(
        &format!("/v1/terminals/{TERMINAL}/payments"),
        key,
        &json!({ "amount": amount, "method": "card" }),
    )
    .await
}

async fn start_sale(app: &TestApp, key: &str, amount: i64) -> Value {
    let res = sale(app, key, amount).await;
    assert_eq!(res.status(), 202);
    res.json().await.unwrap()
}

async fn abort(app: &TestApp, key: &str) -> Value {
    let res = app
        .post_keyed(&format!("/v1/terminals/{TERMINAL}/abort"), key, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

async fn wait_for(mut ok: impl FnMut() -> bool) {
    // Generous: the machines running the suite are shared and loaded.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "condition never held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn received(sim: &TerminalSimulator, message_type: &str) -> usize {
    sim.state()
        .received()
        .into_iter()
        .filter(|t| t.as_deref() == Some(message_type))
        .count()
}

/// A scripted terminal: `script(request)` gives the raw frames to write back; `None` closes the connection.
async fn scripted<F>(script: F) -> String
where
    F: Fn(&Request) -> Option<Vec<Vec<u8>>> + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let script = Arc::new(script);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let script = script.clone();
            tokio::spawn(async move {
                let mut decoder = FrameDecoder::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    decoder.push(&buf[..n]);
                    while let Ok(Some(frame)) = decoder.next_frame() {
                        let Ok(request) = Request::from_frame(&frame) else {
                            return;
                        };
                        let Some(frames) = script(&request) else {
                            return;
                        };
                        for f in frames {
                            if socket.write_all(&f).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    address
}

fn raw(message_type: &str, body: &str) -> Vec<u8> {
    let mut out = format!("{:04}{message_type}", 6 + body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// A terminal whose approvals (and 990001 answers) carry `body(ptxid)`.
async fn terminal_answering(body: fn(&str) -> String) -> String {
    let last = Arc::new(Mutex::new(String::new()));
    scripted(move |request| match request {
        Request::CardApproval(r) => {
            *last.lock().unwrap() = r.ptxid.clone();
            Some(vec![raw("010010", &body(&r.ptxid))])
        }
        Request::LastTransaction => {
            let p = last.lock().unwrap().clone();
            Some(vec![raw("990001", &body(&p))])
        }
        _ => Some(vec![]),
    })
    .await
}

async fn approved_by(body: fn(&str) -> String, key: &str) -> (TestApp, Value) {
    let address = terminal_answering(body).await;
    let app = gateway_for(&address).await;
    let tx = start_sale(&app, key, 7_000).await;
    let tx = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded", 10).await;
    (app, tx)
}

/// F4: `"resultMessage": null` and the approval's numbers sent as JSON numbers. Before, the answer did not
/// decode, the connection was dropped, 990001 repeated the same body, and the sale stayed `unknown` for good.
#[tokio::test]
async fn f4_an_approval_with_null_message_and_numeric_numbers_is_applied() {
    let (app, tx) = approved_by(
        |p| {
            format!(
                r#"{{"resultCode":"0000","resultMessage":null,"data":{{"approvalNo":30001234,"transactionNo":17,"approvalAmt":7000,"transactionDate":20261202120000,"issuerCode":4,"issuerName":null,"ptxid":"{p}"}}}}"#
            )
        },
        "f4-a",
    )
    .await;
    assert_eq!(tx["approval_no"], "30001234", "{tx}");
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid", "{order}");
    // Nothing was dropped as undecodable on the way.
    let notes: Vec<Option<String>> =
        sqlx::query_scalar("SELECT note FROM terminal_messages WHERE direction = 'in'")
            .fetch_all(&app.db.pool)
            .await
            .unwrap();
    assert!(
        notes.iter().flatten().all(|n| !n.contains("decode")),
        "{notes:?}"
    );
}

/// F4: a numeric `resultCode` `0` is `0000`, success, not a refusal of a sale the terminal approved.
#[tokio::test]
async fn f4_a_numeric_result_code_zero_is_an_approval() {
    let (app, tx) = approved_by(
        |p| {
            format!(
                r#"{{"resultCode":0,"resultMessage":"정상승인","data":{{"approvalNo":"30001234","transactionNo":"000001","approvalAmt":7000,"transactionDate":"20261202120000","ptxid":"{p}"}}}}"#
            )
        },
        "f4-b",
    )
    .await;
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid", "{order}");
}

async fn paid_terminal_order(app: &TestApp, key: &str, amount: i64) -> String {
    let tx = start_sale(app, key, amount).await;
    let tx = wait_status(app, tx["id"].as_str().unwrap(), "succeeded", 20).await;
    wait_terminals(app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
    tx["order_id"].as_str().unwrap().to_string()
}

async fn refund(app: &TestApp, order_id: &str, key: &str, amount: i64) -> reqwest::Response {
    app.post_keyed(
        &format!("/v1/orders/{order_id}/refunds"),
        key,
        &json!({"amount": amount, "reason": "one item returned", "bank_code": "004",
                "account": "110-123-456789", "holder": "홍길동"}),
    )
    .await
}

fn assert_not_whole(body: &Value) {
    assert_eq!(body["code"], "validation_failed", "{body}");
    assert_eq!(body["errors"][0]["field"], "amount", "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("whole sale"), "{message}");
    assert_eq!(body["approved"], 10_000, "{body}");
    assert_eq!(body["remaining"], 9_000, "{body}");
}

/// F5: after a refund of 1,000 of a 10,000 terminal sale, a cancel (with or without an amount) is refused with
/// 422 on `amount`, and nothing reaches the terminal: before, a 010020 of 9,000 (a partial cancel) was sent.
#[tokio::test]
async fn f5_a_cancel_after_a_refund_is_refused_and_nothing_is_sent() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    let app = gateway_for(&sim.addr().to_string()).await;
    let order_id = paid_terminal_order(&app, "f5", 10_000).await;

    // The refund itself is recorded: a partial return paid back by transfer is legitimate.
    let res = refund(&app, &order_id, "f5-r", 1_000).await;
    assert_eq!(res.status(), 201);

    let cancel = |key: &'static str, body: Value| {
        let app = &app;
        let order_id = order_id.clone();
        async move {
            let res = app
                .post_keyed(&format!("/v1/orders/{order_id}/cancel"), key, &body)
                .await;
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = cancel("f5-c1", json!({"reason": "whole"})).await;
    assert_eq!(status, 422, "{body}");
    assert_not_whole(&body);
    let (status, body) = cancel("f5-c2", json!({"reason": "rest", "amount": 9_000})).await;
    assert_eq!(status, 422, "{body}");
    assert_not_whole(&body);
    let (status, body) = cancel("f5-c3", json!({"reason": "all", "amount": 10_000})).await;
    assert_eq!(status, 422, "{body}");
    assert_not_whole(&body);

    assert_eq!(received(&sim, "010020"), 0, "a cancel reached the terminal");
    let cancels: i64 =
        sqlx::query_scalar("SELECT count(*) FROM terminal_transactions WHERE kind = 'card_cancel'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(cancels, 0);
    let order = app.order(&order_id).await;
    assert_eq!(order["refunded_amount"], 1_000, "{order}");
    assert_eq!(order["cancelled_amount"], 0, "{order}");

    // The rest is settled by refunds, as the message says.
    let res = refund(&app, &order_id, "f5-r2", 9_000).await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.order(&order_id).await["status"], "cancelled");
}

/// F5, the other way round: without a refund the whole cancel still goes to the terminal, for the whole amount.
#[tokio::test]
async fn f5_a_whole_cancel_without_refunds_still_cancels_the_whole_sale() {
    let sim = simulator(Some(AutoDecision::Approve)).await;
    let app = gateway_for(&sim.addr().to_string()).await;
    let order_id = paid_terminal_order(&app, "f5-w", 10_000).await;
    let res = app
        .post_keyed(
            &format!("/v1/orders/{order_id}/cancel"),
            "f5-w-c",
            &json!({"reason": "whole"}),
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(received(&sim, "010020"), 1);
    let sent: Value =
        sqlx::query_scalar("SELECT request FROM terminal_transactions WHERE kind = 'card_cancel'")
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    assert_eq!(sent["approvalAmt"], 10_000, "{sent}");
    // And a refund after the whole cancel finds nothing left.
    let res = refund(&app, &order_id, "f5-w-r", 1_000).await;
    assert_eq!(res.status(), 409);
}

/// 7: a 409 `terminal_busy` is not kept under the Idempotency-Key: the same key, once the terminal is free,
/// starts the sale (and the cash receipt) instead of replaying the 409.
#[tokio::test]
async fn a_busy_answer_is_not_replayed_under_the_same_key() {
    let sim = simulator(None).await;
    let app = gateway_for(&sim.addr().to_string()).await;
    let first = start_sale(&app, "busy-a", 8_000).await;
    wait_for(|| matches!(sim.state().screen(), Screen::WaitingCard { .. })).await;

    let res = sale(&app, "busy-b", 1_000).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "terminal_busy");
    let receipt = json!({ "amount": 5_000, "trader_type": "1", "identity": "010-1234-5678" });
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/cash-receipts"),
            "busy-cr",
            &receipt,
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "terminal_busy");

    let aborted = abort(&app, "busy-abort-1").await;
    assert_eq!(aborted["id"], first["id"]);
    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;

    // Same key, same body: runs afresh.
    let res = sale(&app, "busy-b", 1_000).await;
    assert_eq!(res.status(), 202);
    assert!(res.headers().get("idempotent-replayed").is_none());
    let second: Value = res.json().await.unwrap();
    assert_ne!(second["id"], first["id"]);
    // Its own replay now answers the same transaction.
    let res = sale(&app, "busy-b", 1_000).await;
    assert_eq!(res.status(), 202);
    assert_eq!(res.json::<Value>().await.unwrap()["id"], second["id"]);
    // The 202 answers before the request is written: wait for the terminal to have it.
    wait_for(|| received(&sim, "010010") == 2).await;
    wait_for(|| matches!(sim.state().screen(), Screen::WaitingCard { .. })).await;
    abort(&app, "busy-abort-2").await;
    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/cash-receipts"),
            "busy-cr",
            &receipt,
        )
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["kind"], "cash_receipt");
    wait_for(|| received(&sim, "070010") == 1).await;
}
