//! The gateway as the POS of an in-store card terminal, over real TCP against the sandbox's terminal simulator
//! (and, where the simulator cannot misbehave the way needed, a scripted terminal).

mod common;

use std::time::{Duration, Instant};

use common::terminal::{self, gateway_with_terminal, transaction, wait_terminals, TERMINAL};
use common::{spawn_app_with, TestApp};
use sandbox::config::AutoDecision;
use sandbox::terminal::{TerminalFaults, TerminalSimulator};
use serde_json::{json, Value};
use smartro_terminal::{FrameDecoder, MessageType, Reply, Request, Response, ResultCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn simulator(auto: bool, faults: TerminalFaults) -> TerminalSimulator {
    terminal::simulator(auto.then_some(AutoDecision::Approve), faults).await
}

async fn gateway_for(address: &str, timeout_secs: &str) -> TestApp {
    gateway_with_terminal(address, &[("TIMEOUT_SECS", timeout_secs)]).await
}

async fn setup(auto: bool, faults: TerminalFaults) -> (TestApp, TerminalSimulator) {
    let sim = simulator(auto, faults).await;
    let app = gateway_for(&sim.addr().to_string(), "35").await;
    (app, sim)
}

/// Polls the transaction until its status is `status`; returns every status seen on the way.
async fn wait_status(app: &TestApp, id: &str, status: &str) -> (Value, Vec<String>) {
    terminal::wait_status(app, id, status, 60).await
}

async fn sale(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.post_keyed(&format!("/v1/terminals/{TERMINAL}/payments"), key, &body)
        .await
}

async fn start_sale(app: &TestApp, key: &str, amount: i64) -> Value {
    let res = sale(app, key, json!({ "amount": amount, "method": "card" })).await;
    assert_eq!(res.status(), 202);
    let tx: Value = res.json().await.unwrap();
    assert_eq!(tx["status"], "requested");
    tx
}

fn received(sim: &TerminalSimulator, message_type: &str) -> usize {
    sim.state()
        .received()
        .into_iter()
        .filter(|t| t.as_deref() == Some(message_type))
        .count()
}

async fn events(app: &TestApp, order_id: &str) -> Vec<String> {
    sqlx::query_scalar::<_, String>(
        "SELECT event_type FROM outbox_events WHERE order_id = $1 ORDER BY seq",
    )
    .bind(order_id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn an_approval_pays_a_terminal_order_and_is_confirmed_after_the_commit() {
    let (app, sim) = setup(true, TerminalFaults::default()).await;
    let tx = start_sale(&app, "sale-1", 12_000).await;
    let id = tx["id"].as_str().unwrap();
    let (tx, _) = wait_status(&app, id, "succeeded").await;
    assert_eq!(tx["approved_amount"], 12_000);
    assert!(tx["approval_no"].as_str().is_some_and(|n| !n.is_empty()));

    let order_id = tx["order_id"].as_str().unwrap();
    let order = app.order(order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["channel"], "terminal");
    assert!(order.get("checkout_url").is_none());
    assert_eq!(order["terminal"]["terminal_id"], TERMINAL);
    assert_eq!(order["terminal"]["transaction_id"], id);
    assert_eq!(order["terminal"]["approval_no"], tx["approval_no"]);
    assert_eq!(order["payments"][0]["source"], "terminal");
    assert_eq!(order["payments"][0]["tid"], tx["ptxid"]);

    // 980001 reaches the terminal, and only after the answer was stored and the result committed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while received(&sim, "980001") == 0 {
        assert!(Instant::now() < deadline, "no 980001 sent");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT direction, message_type FROM terminal_messages WHERE transaction_id = $1::uuid ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    let kinds: Vec<String> = rows
        .iter()
        .map(|(d, t)| format!("{d}:{}", t.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(
        kinds[..3],
        ["out:010010", "in:010010", "out:980001"],
        "{kinds:?}"
    );

    let evts = events(&app, order_id).await;
    assert!(evts.contains(&"payment.paid".to_string()), "{evts:?}");
    assert!(evts.contains(&"terminal.transaction.succeeded".to_string()));
    let payload: Value = sqlx::query_scalar(
        "SELECT payload FROM outbox_events WHERE order_id = $1 AND event_type = 'terminal.transaction.succeeded'",
    )
    .bind(order_id)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    assert_eq!(payload["data"]["transaction"]["id"], id);
    assert_eq!(payload["data"]["order"]["status"], "paid");

    // The same Idempotency-Key answers the same transaction and sends nothing more.
    let again: Value = sale(
        &app,
        "sale-1",
        json!({ "amount": 12_000, "method": "card" }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["id"], id);
    assert_eq!(received(&sim, "010010"), 1);
}

#[tokio::test]
async fn no_980001_before_the_result_is_committed() {
    let (app, sim) = setup(true, TerminalFaults::default()).await;
    // The database refuses to record the success: the gateway holds no result, so it must not confirm one.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse_success() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF NEW.status = 'succeeded' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse_success BEFORE UPDATE ON terminal_transactions
           FOR EACH ROW EXECUTE FUNCTION refuse_success();",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let tx = start_sale(&app, "sale-c", 5_000).await;
    let id = tx["id"].as_str().unwrap();
    let (_, seen) = wait_status(&app, id, "unknown").await;
    // Reconnections keep asking 990001 and keep failing to commit: still nothing confirmed.
    let deadline = Instant::now() + Duration::from_secs(10);
    while received(&sim, "990001") < 2 {
        assert!(Instant::now() < deadline, "no 990001 retried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(received(&sim, "980001"), 0, "980001 sent before a commit");
    assert!(!seen.contains(&"failed".to_string()));
    // Once the database takes it, the result is committed and only then confirmed.
    sqlx::raw_sql("DROP TRIGGER refuse_success ON terminal_transactions")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let (tx, _) = wait_status(&app, id, "succeeded").await;
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid");
    let deadline = Instant::now() + Duration::from_secs(20);
    while received(&sim, "980001") == 0 {
        assert!(Instant::now() < deadline, "no 980001 after the commit");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_decline_fails_the_transaction_and_leaves_the_order_pending() {
    let faults = TerminalFaults {
        decline: true,
        ..TerminalFaults::default()
    };
    let (app, _sim) = setup(true, faults).await;
    let tx = start_sale(&app, "sale-d", 3_000).await;
    let (tx, seen) = wait_status(&app, tx["id"].as_str().unwrap(), "failed").await;
    assert_eq!(tx["result_code"], sandbox::terminal::DECLINED);
    assert!(!seen.contains(&"succeeded".to_string()));
    let order_id = tx["order_id"].as_str().unwrap();
    assert_eq!(app.order(order_id).await["status"], "pending");
    let evts = events(&app, order_id).await;
    assert_eq!(evts, ["terminal.transaction.failed"]);
    // The terminal is free again.
    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
}

#[tokio::test]
async fn signature_wait_is_visible_then_approved() {
    let faults = TerminalFaults {
        signature: true,
        ..TerminalFaults::default()
    };
    let (app, sim) = setup(false, faults).await;
    let tx = start_sale(&app, "sale-s", 50_000).await;
    let id = tx["id"].as_str().unwrap();
    wait_for(|| sim.state().insert_card()).await;
    wait_status(&app, id, "awaiting_signature").await;
    assert!(sim.state().sign());
    let (tx, _) = wait_status(&app, id, "succeeded").await;
    assert_eq!(
        app.order(tx["order_id"].as_str().unwrap()).await["status"],
        "paid"
    );
}

#[tokio::test]
async fn a_signature_timeout_fails_with_9999() {
    let faults = TerminalFaults {
        signature: true,
        signature_timeout: true,
        ..TerminalFaults::default()
    };
    let (app, sim) = setup(false, faults).await;
    let tx = start_sale(&app, "sale-t", 50_000).await;
    let id = tx["id"].as_str().unwrap();
    wait_for(|| sim.state().insert_card()).await;
    let (tx, seen) = wait_status(&app, id, "failed").await;
    assert_eq!(tx["result_code"], "9999");
    assert!(seen.contains(&"awaiting_signature".to_string()) || seen[0] == "requested");
}

async fn wait_for(mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ok() {
        assert!(Instant::now() < deadline, "condition never held");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn abort_while_reading_ends_aborted_and_a_busy_terminal_refuses_another_sale() {
    let (app, sim) = setup(false, TerminalFaults::default()).await;
    let tx = start_sale(&app, "sale-a", 8_000).await;
    let id = tx["id"].as_str().unwrap();
    wait_for(|| {
        matches!(
            sim.state().screen(),
            sandbox::terminal::Screen::WaitingCard { .. }
        )
    })
    .await;

    // Busy: a second sale is refused and nothing reaches the terminal.
    let res = sale(&app, "sale-b", json!({ "amount": 1_000, "method": "card" })).await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "terminal_busy");
    assert_eq!(problem["transaction_id"], id);
    assert_eq!(received(&sim, "010010"), 1);

    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/abort"),
            "abort-1",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let aborted: Value = res.json().await.unwrap();
    assert_eq!(aborted["id"], id);
    assert_eq!(aborted["status"], "aborted");
    assert_eq!(received(&sim, "910021"), 1);
    assert_eq!(received(&sim, "555555"), 0);

    // Nothing open: 409.
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/abort"),
            "abort-2",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "no_open_transaction"
    );
}

#[tokio::test]
async fn a_refused_abort_leaves_the_transaction_open() {
    let faults = TerminalFaults {
        signature: true,
        ..TerminalFaults::default()
    };
    let (app, sim) = setup(false, faults).await;
    let tx = start_sale(&app, "sale-r", 8_000).await;
    let id = tx["id"].as_str().unwrap();
    wait_for(|| sim.state().insert_card()).await;
    wait_status(&app, id, "awaiting_signature").await;
    // During the signature step only 555555 can abort, and the simulator answers 0001 처리중.
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/abort"),
            "abort-r",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "abort_refused");
    assert_eq!(problem["terminal_code"], "0001");
    assert_eq!(received(&sim, "555555"), 1);
    let tx = transaction(&app, id).await;
    assert_eq!(tx["status"], "awaiting_signature");
    assert!(sim.state().sign());
    wait_status(&app, id, "succeeded").await;
}

#[tokio::test]
async fn an_answer_lost_after_the_approval_is_unknown_then_settled_from_990001() {
    let faults = TerminalFaults {
        drop_after_request: true,
        ..TerminalFaults::default()
    };
    let (app, sim) = setup(true, faults).await;
    let tx = start_sale(&app, "sale-l", 21_000).await;
    let id = tx["id"].as_str().unwrap();
    let (tx, seen) = wait_status(&app, id, "succeeded").await;
    assert!(!seen.contains(&"failed".to_string()), "{seen:?}");
    assert!(received(&sim, "990001") >= 1);
    let order_id = tx["order_id"].as_str().unwrap();
    assert_eq!(app.order(order_id).await["status"], "paid");
    let evts = events(&app, order_id).await;
    assert!(
        evts.contains(&"terminal.transaction.unknown".to_string()),
        "{evts:?}"
    );
    assert!(evts.contains(&"terminal.transaction.succeeded".to_string()));
    assert!(!evts.contains(&"terminal.transaction.failed".to_string()));
    assert_eq!(evts.iter().filter(|e| *e == "payment.paid").count(), 1);
}

#[tokio::test]
async fn no_answer_within_the_timeout_is_unknown_then_settled() {
    let faults = TerminalFaults {
        no_answer: true,
        ..TerminalFaults::default()
    };
    let sim = simulator(true, faults).await;
    let app = gateway_for(&sim.addr().to_string(), "35").await;
    let tx = start_sale(&app, "sale-n", 9_000).await;
    let id = tx["id"].as_str().unwrap();
    let (_, seen) = wait_status(&app, id, "succeeded").await;
    assert!(seen.contains(&"unknown".to_string()), "{seen:?}");
    assert!(!seen.contains(&"failed".to_string()));
}

#[tokio::test]
async fn garbage_frames_drop_the_connection_not_the_gateway() {
    let faults = TerminalFaults {
        garbage: true,
        ..TerminalFaults::default()
    };
    let (app, sim) = setup(true, faults).await;
    let tx = start_sale(&app, "sale-g", 4_000).await;
    let id = tx["id"].as_str().unwrap();
    let (_, seen) = wait_status(&app, id, "succeeded").await;
    assert!(!seen.contains(&"failed".to_string()));
    // The broken bytes are stored raw, with why they were not applied.
    let notes: Vec<String> = sqlx::query_scalar(
        "SELECT note FROM terminal_messages WHERE direction = 'in' AND note LIKE 'protocol error%'",
    )
    .fetch_all(&app.db.pool)
    .await
    .unwrap();
    assert!(!notes.is_empty());
    assert_eq!(app.get_json("/healthz").await.status(), 200);
    // And it keeps working.
    sim.state().update_faults(|f| f.garbage = false);
    wait_terminals(&app, "reconnected and free", |v| {
        v["data"][0]["connected"] == true && v["data"][0]["busy"] == false
    })
    .await;
    let tx = start_sale(&app, "sale-g2", 4_000).await;
    wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
}

#[tokio::test]
async fn cancel_of_a_terminal_order_sends_the_original_approval() {
    let (app, sim) = setup(true, TerminalFaults::default()).await;
    let tx = start_sale(&app, "sale-x", 15_000).await;
    let (tx, _) = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
    let order_id = tx["order_id"].as_str().unwrap();

    // Partial: refused, nothing sent.
    let res = app
        .post_keyed(
            &format!("/v1/orders/{order_id}/cancel"),
            "cancel-p",
            &json!({ "amount": 5_000, "reason": "partial" }),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["errors"][0]["field"],
        "amount"
    );
    assert_eq!(received(&sim, "010020"), 0);

    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
    let res = app
        .post_keyed(
            &format!("/v1/orders/{order_id}/cancel"),
            "cancel-1",
            &json!({ "reason": "customer changed mind" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let order: Value = res.json().await.unwrap();
    assert_eq!(order["status"], "cancelled");
    assert_eq!(order["cancelled_amount"], 15_000);
    assert_eq!(order["cancellations"][0]["status"], "succeeded");
    assert_eq!(received(&sim, "010020"), 1);
    // What went over the wire names the original approval.
    let frame: Vec<u8> = sqlx::query_scalar(
        "SELECT frame FROM terminal_messages WHERE direction = 'out' AND message_type = '010020'",
    )
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    let sent: Value = serde_json::from_slice(&frame[10..]).unwrap();
    assert_eq!(sent["approvalNo"], tx["approval_no"]);
    assert_eq!(sent["transactionNo"], tx["transaction_no"]);
    assert_eq!(sent["transactionDate"], tx["transaction_date"]);
    assert_eq!(sent["approvalAmt"], 15_000);
    // And the terminal found that approval and cancelled it.
    let ledger = sim.state().ledger();
    assert!(ledger.iter().any(|e| e.is_cancel && e.amount == 15_000));
    assert!(ledger.iter().any(|e| !e.is_cancel
        && e.cancelled
        && e.approval_no == tx["approval_no"].as_str().unwrap()));
    let evts = events(&app, order_id).await;
    assert!(evts.contains(&"payment.cancelled".to_string()), "{evts:?}");
    // The order shows both transactions.
    assert_eq!(
        order["terminal"]["transactions"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn a_refused_cancel_is_502_with_the_terminals_code() {
    let (app, sim) = setup(true, TerminalFaults::default()).await;
    let tx = start_sale(&app, "sale-y", 15_000).await;
    let (tx, _) = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
    let order_id = tx["order_id"].as_str().unwrap();
    wait_terminals(&app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
    sim.state().update_faults(|f| f.decline = true);
    let res = app
        .post_keyed(
            &format!("/v1/orders/{order_id}/cancel"),
            "cancel-y",
            &json!({ "reason": "test" }),
        )
        .await;
    assert_eq!(res.status(), 502);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "terminal_refused");
    assert_eq!(problem["terminal_code"], sandbox::terminal::DECLINED);
    let order = app.order(order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["cancellations"][0]["status"], "failed");
}

#[tokio::test]
async fn bad_input_names_the_field_and_sends_nothing() {
    let (app, sim) = setup(true, TerminalFaults::default()).await;
    for (body, field) in [
        (json!({ "amount": -5, "method": "card" }), "amount"),
        (json!({ "amount": 1000, "method": "cheque" }), "method"),
        (
            json!({ "amount": 1000, "tax": 900, "tax_free": 900, "method": "card" }),
            "tax_free",
        ),
        (
            json!({ "amount": 1000, "method": "card", "installment": 40 }),
            "installment",
        ),
    ] {
        let res = sale(&app, &format!("bad-{field}"), body).await;
        assert_eq!(res.status(), 422, "{field}");
        assert_eq!(
            res.headers()["content-type"],
            "application/problem+json",
            "{field}"
        );
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field);
    }
    // A body that is not even the right shape.
    let res = sale(
        &app,
        "bad-shape",
        json!({ "amount": "lots", "method": "card" }),
    )
    .await;
    assert_eq!(res.status(), 422);
    // An unknown terminal.
    let res = app
        .post_keyed(
            "/v1/terminals/back-9/payments",
            "bad-t",
            &json!({ "amount": 1000, "method": "card" }),
        )
        .await;
    assert_eq!(res.status(), 404);
    let res = app
        .post_keyed("/v1/terminals/back-9/abort", "bad-a", &json!({}))
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        sim.state().received().is_empty(),
        "{:?}",
        sim.state().received()
    );
    let orders: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(orders, 0);
    // Easy pay is a terminal method only.
    let mut online = common::card_order("O-EASY-1", 1000);
    online["pay_method"] = json!("EASYPAY");
    let res = app.post_json("/v1/orders", &online).await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["errors"][0]["field"],
        "pay_method"
    );
}

#[tokio::test]
async fn a_disconnected_terminal_is_503_and_records_nothing() {
    // A port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let app = spawn_app_with(&[
        ("GATEWAY__TERMINALS__0__ID", TERMINAL),
        ("GATEWAY__TERMINALS__0__ADDRESS", address.as_str()),
    ])
    .await;
    let res = sale(&app, "off-1", json!({ "amount": 1000, "method": "card" })).await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "terminal_disconnected"
    );
    let v: Value = app.get_json("/v1/terminals").await.json().await.unwrap();
    assert_eq!(v["data"][0]["connected"], false);
    assert_eq!(v["data"][0]["busy"], false);
}

/// A terminal that answers each transaction twice (a duplicate), then answers once more later (a late answer),
/// to show neither changes anything.
#[tokio::test]
async fn late_and_duplicate_answers_change_nothing() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
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
                let answers: Vec<Response> =
                    match &request {
                        Request::CardApproval(r) => {
                            let mut data = smartro_terminal::TransactionData::ptxid_only(&r.ptxid);
                            data.approval_no = Some("30001234".into());
                            data.transaction_no = Some("000001".into());
                            data.transaction_date = Some("20261121120000".into());
                            data.approval_amt = Some(r.price_amt);
                            let approved = Response::CardApproval(Reply::new(
                                ResultCode::Success,
                                "정상승인",
                                Some(data.clone()),
                            ));
                            // Then a contradicting duplicate for the same ptxid.
                            let declined = Response::CardApproval(Reply::new(
                                ResultCode::Other("8000".into()),
                                "승인거절",
                                Some(smartro_terminal::TransactionData::ptxid_only(&r.ptxid)),
                            ));
                            vec![approved.clone(), approved, declined]
                        }
                        Request::ResultConfirmation => vec![Response::ResultConfirmation(
                            Reply::new(ResultCode::Success, "end of transmission", None),
                        )],
                        _ => vec![],
                    };
                for answer in answers {
                    let bytes = answer.encode().unwrap();
                    if socket.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
            }
        }
    });
    let app = gateway_for(&address, "35").await;
    let tx = start_sale(&app, "sale-dup", 7_000).await;
    let id = tx["id"].as_str().unwrap();
    let (tx, _) = wait_status(&app, id, "succeeded").await;
    let order_id = tx["order_id"].as_str().unwrap();
    // Every answer is stored; the two after the first are noted and ignored.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ignored: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM terminal_messages WHERE direction = 'in' AND message_type = '010010'
               AND note LIKE '%not the transaction in flight%'",
        )
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        if ignored == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "only {ignored} answers noted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let tx = transaction(&app, id).await;
    assert_eq!(tx["status"], "succeeded");
    assert_eq!(tx["result_code"], "0000");
    let order = app.order(order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    let evts = events(&app, order_id).await;
    assert_eq!(evts.iter().filter(|e| *e == "payment.paid").count(), 1);
    assert_eq!(
        evts.iter()
            .filter(|e| e.starts_with("terminal.transaction."))
            .count(),
        1
    );
    let _ = MessageType::CardApproval;
}

#[tokio::test]
async fn an_approval_for_another_amount_is_reviewed() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut decoder = FrameDecoder::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = match socket.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            decoder.push(&buf[..n]);
            while let Ok(Some(frame)) = decoder.next_frame() {
                if let Ok(Request::CardApproval(r)) = Request::from_frame(&frame) {
                    let mut data = smartro_terminal::TransactionData::ptxid_only(&r.ptxid);
                    data.approval_no = Some("30009999".into());
                    data.transaction_no = Some("000002".into());
                    data.transaction_date = Some("20261121120000".into());
                    data.approval_amt = Some(r.price_amt - 1);
                    let answer = Response::CardApproval(Reply::new(
                        ResultCode::Success,
                        "정상승인",
                        Some(data),
                    ));
                    let _ = socket.write_all(&answer.encode().unwrap()).await;
                }
            }
        }
    });
    let app = gateway_for(&address, "35").await;
    let tx = start_sale(&app, "sale-amt", 10_000).await;
    let (tx, _) = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
    let order = app.order(tx["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "needs_review");
    assert!(order["review_reason"].as_str().unwrap().contains("9999"));
}
