//! The rest of a terminal's REST contract, over real TCP against the sandbox's terminal simulator: cash receipts
//! and their cancels, sales totals against the ledger, print (and the gateway's own sales slip), code download.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::terminal::{self, gateway_with_terminal, wait_terminals, TERMINAL};
use common::{spawn_app_with, TestApp};
use sandbox::config::AutoDecision;
use sandbox::terminal::{TerminalFaults, TerminalSimulator};
use serde_json::{json, Value};

async fn simulator(auto: bool) -> TerminalSimulator {
    terminal::simulator(
        auto.then_some(AutoDecision::Approve),
        TerminalFaults::default(),
    )
    .await
}

async fn gateway_for(address: &str, print_receipt: bool) -> TestApp {
    let print_receipt = if print_receipt { "true" } else { "false" };
    gateway_with_terminal(
        address,
        &[("TIMEOUT_SECS", "35"), ("PRINT_RECEIPT", print_receipt)],
    )
    .await
}

async fn setup(auto: bool) -> (TestApp, TerminalSimulator) {
    let sim = simulator(auto).await;
    let app = gateway_for(&sim.addr().to_string(), false).await;
    (app, sim)
}

async fn free(app: &TestApp) {
    wait_terminals(app, "the terminal is free", |v| {
        v["data"][0]["busy"] == false
    })
    .await;
}

async fn wait_status(app: &TestApp, id: &str, status: &str) -> Value {
    terminal::wait_status(app, id, status, 30).await.0
}

async fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    terminal::wait_for(what, 10, ok).await
}

fn received(sim: &TerminalSimulator, message_type: &str) -> usize {
    sim.state()
        .received()
        .into_iter()
        .filter(|t| t.as_deref() == Some(message_type))
        .count()
}

/// An approved card sale of `amount`: its transaction.
async fn paid_sale(app: &TestApp, key: &str, amount: i64) -> Value {
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/payments"),
            key,
            &json!({ "amount": amount, "method": "card" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let tx: Value = res.json().await.unwrap();
    let tx = wait_status(app, tx["id"].as_str().unwrap(), "succeeded").await;
    free(app).await;
    tx
}

async fn cash_receipt(app: &TestApp, key: &str, body: Value) -> reqwest::Response {
    app.post_keyed(
        &format!("/v1/terminals/{TERMINAL}/cash-receipts"),
        key,
        &body,
    )
    .await
}

/// The body of the last frame of `message_type` the gateway sent.
async fn sent_body(app: &TestApp, message_type: &str) -> Value {
    let frame: Vec<u8> = sqlx::query_scalar(
        "SELECT frame FROM terminal_messages WHERE direction = 'out' AND message_type = $1
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(message_type)
    .fetch_one(&app.db.pool)
    .await
    .unwrap();
    serde_json::from_slice(&frame[10..]).unwrap()
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

fn today_kst() -> String {
    (Utc::now() + chrono::Duration::hours(9))
        .format("%Y%m%d")
        .to_string()
}

async fn totals(app: &TestApp, from: &str, to: &str) -> reqwest::Response {
    app.get_json(&format!(
        "/v1/terminals/{TERMINAL}/totals?from={from}&to={to}"
    ))
    .await
}

#[tokio::test]
async fn a_cash_receipt_is_issued_and_cancelled_with_its_own_numbers() {
    let (app, sim) = setup(true).await;
    // A sale whose order the receipt is then issued for.
    let sale = paid_sale(&app, "sale-1", 9_000).await;
    let order_id = sale["order_id"].as_str().unwrap().to_string();

    let res = cash_receipt(
        &app,
        "cr-1",
        json!({ "amount": 9_000, "tax": 818, "trader_type": "1",
                "identity": "010-1234-5678", "order_id": order_id }),
    )
    .await;
    assert_eq!(res.status(), 202);
    let tx: Value = res.json().await.unwrap();
    let text = tx.to_string();
    assert!(!text.contains("1234-5678"), "identity shown: {text}");
    assert_eq!(tx["kind"], "cash_receipt");
    assert_eq!(tx["status"], "requested");
    assert_eq!(tx["cash_receipt"]["trader_type"], "1");
    assert_eq!(tx["cash_receipt"]["identity"], "***-****-5678");
    let id = tx["id"].as_str().unwrap().to_string();
    let receipt = wait_status(&app, &id, "succeeded").await;
    assert_eq!(receipt["approved_amount"], 9_000);
    assert!(!receipt.to_string().contains("1234-5678"));
    let sent = sent_body(&app, "070010").await;
    assert_eq!(sent["priceAmt"], 9_000);
    assert_eq!(sent["taxAmt"], 818);
    assert_eq!(sent["traderType"], "1");
    assert_eq!(sent["approvalNumber"], "010-1234-5678");
    assert_eq!(sent["ptxid"], receipt["ptxid"]);
    wait_for("980001 after the receipt", || received(&sim, "980001") >= 2).await;

    // The receipt does not pay the order again; it is told like any terminal transaction.
    let order = app.order(&order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["paid_amount"], 9_000);
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
    assert_eq!(order["terminal"]["transaction_id"], sale["id"]);
    let evts = events(&app, &order_id).await;
    assert_eq!(
        evts.iter()
            .filter(|e| *e == "terminal.transaction.succeeded")
            .count(),
        2,
        "{evts:?}"
    );

    // The same key answers the same receipt and sends nothing more.
    let again: Value = cash_receipt(
        &app,
        "cr-1",
        json!({ "amount": 9_000, "tax": 818, "trader_type": "1",
                "identity": "010-1234-5678", "order_id": order_id }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["id"], tx["id"]);
    assert_eq!(received(&sim, "070010"), 1);

    free(&app).await;
    let res = app
        .post_keyed(
            &format!("/v1/cash-receipts/{id}/cancel"),
            "crc-1",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let cancel: Value = res.json().await.unwrap();
    assert_eq!(cancel["kind"], "cash_receipt_cancel");
    assert_eq!(cancel["original_id"], id.as_str());
    let cancel = wait_status(&app, cancel["id"].as_str().unwrap(), "succeeded").await;
    assert_eq!(cancel["approved_amount"], 9_000);
    // What went over the wire names the receipt.
    let sent = sent_body(&app, "070020").await;
    assert_eq!(sent["approvalNo"], receipt["approval_no"]);
    assert_eq!(sent["transactionNo"], receipt["transaction_no"]);
    assert_eq!(sent["transactionDate"], receipt["transaction_date"]);
    assert_eq!(sent["approvalAmt"], 9_000);
    assert_eq!(sent["traderType"], "1");
    assert_eq!(sent["approvalNumber"], "010-1234-5678");
    // And the terminal found it and cancelled it.
    let ledger = sim.state().ledger();
    assert!(ledger.iter().any(|e| !e.is_cancel
        && e.cancelled
        && e.approval_no == receipt["approval_no"].as_str().unwrap()));

    // A second cancel is refused and nothing is sent.
    free(&app).await;
    let res = app
        .post_keyed(
            &format!("/v1/cash-receipts/{id}/cancel"),
            "crc-2",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "cash_receipt_cancelled"
    );
    assert_eq!(received(&sim, "070020"), 1);
    // A sale is not a cash receipt.
    let res = app
        .post_keyed(
            &format!("/v1/cash-receipts/{}/cancel", sale["id"].as_str().unwrap()),
            "crc-3",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_declined_cash_receipt_fails_and_cannot_be_cancelled() {
    let (app, sim) = setup(true).await;
    sim.state().update_faults(|f| f.decline = true);
    let res = cash_receipt(&app, "cr-d", json!({ "amount": 3_000, "trader_type": "2" })).await;
    assert_eq!(res.status(), 202);
    let tx: Value = res.json().await.unwrap();
    assert!(tx["cash_receipt"].get("identity").is_none());
    let id = tx["id"].as_str().unwrap();
    let tx = wait_status(&app, id, "failed").await;
    assert_eq!(tx["result_code"], sandbox::terminal::DECLINED);
    free(&app).await;
    let res = app
        .post_keyed(
            &format!("/v1/cash-receipts/{id}/cancel"),
            "crc-d",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "cash_receipt_not_issued"
    );
    assert_eq!(received(&sim, "070020"), 0);
}

#[tokio::test]
async fn bad_requests_name_the_field_and_send_nothing() {
    let (app, sim) = setup(true).await;
    for (body, field) in [
        (json!({ "amount": 0, "trader_type": "1" }), "amount"),
        (json!({ "amount": 1000, "trader_type": "9" }), "trader_type"),
        (
            json!({ "amount": 1000, "trader_type": "1", "tax": 2000 }),
            "tax",
        ),
        (
            json!({ "amount": 1000, "trader_type": "1", "identity": 1012345678 }),
            "identity",
        ),
        (
            json!({ "amount": 1000, "trader_type": "1", "order_id": "NO-SUCH-ORDER" }),
            "order_id",
        ),
        (json!({ "amount": 1000 }), "trader_type"),
    ] {
        let res = cash_receipt(&app, &format!("bad-{field}"), body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        assert!(!problem.to_string().contains("1012345678"), "{problem}");
    }
    for (body, field) in [
        (json!({ "commands": [] }), "commands"),
        (
            json!({ "commands": [{ "command": "siren" }] }),
            "commands[0].command",
        ),
        (
            json!({ "commands": [{ "command": "br" }, { "command": "text3", "message": ["a", "b"] }] }),
            "commands[1].message",
        ),
        (
            json!({ "commands": [{ "command": "left", "font_size": 2, "message": ["a"] }] }),
            "commands[0].font_size",
        ),
    ] {
        let res = app
            .post_keyed(
                &format!("/v1/terminals/{TERMINAL}/print"),
                &format!("p-{field}"),
                &body,
            )
            .await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    for (query, field) in [
        ("from=20261301&to=20261302", "from"),
        ("from=20261202", "to"),
        ("from=20261203&to=20261202", "to"),
    ] {
        let res = app
            .get_json(&format!("/v1/terminals/{TERMINAL}/totals?{query}"))
            .await;
        assert_eq!(res.status(), 422, "{query}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // A terminal that is not configured: 404 on every path.
    for res in [
        app.post_keyed(
            "/v1/terminals/back-9/cash-receipts",
            "u1",
            &json!({ "amount": 1000, "trader_type": "1" }),
        )
        .await,
        app.post_keyed(
            "/v1/terminals/back-9/print",
            "u2",
            &json!({ "commands": [{ "command": "br" }] }),
        )
        .await,
        app.get_json("/v1/terminals/back-9/totals?from=20261201&to=20261201")
            .await,
        app.get_json("/v1/terminals/back-9/codes").await,
    ] {
        assert_eq!(res.status(), 404);
    }
    let res = app
        .post_keyed(
            "/v1/cash-receipts/00000000-0000-0000-0000-000000000000/cancel",
            "u3",
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 404);
    assert!(
        sim.state().received().is_empty(),
        "{:?}",
        sim.state().received()
    );
    assert_eq!(
        app.count("SELECT count(*) FROM terminal_transactions")
            .await,
        0
    );
}

#[tokio::test]
async fn a_busy_terminal_refuses_and_a_disconnected_one_is_503() {
    // Not automatic: the sale waits for the card and keeps the terminal busy.
    let (app, sim) = setup(false).await;
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/payments"),
            "sale-b",
            &json!({ "amount": 1000, "method": "card" }),
        )
        .await;
    assert_eq!(res.status(), 202);
    let res = cash_receipt(&app, "cr-b", json!({ "amount": 1000, "trader_type": "1" })).await;
    assert_eq!(res.status(), 409);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "terminal_busy");
    let day = today_kst();
    let res = totals(&app, &day, &day).await;
    assert_eq!(res.status(), 409);
    let res = app
        .get_json(&format!("/v1/terminals/{TERMINAL}/codes"))
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/print"),
            "p-b",
            &json!({ "commands": [{ "command": "br" }] }),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(received(&sim, "070010"), 0);
    assert_eq!(received(&sim, "050099"), 0);
    assert_eq!(received(&sim, "900091"), 0);

    // Nothing listens at this one.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    drop(listener);
    let off = spawn_app_with(&[
        ("GATEWAY__TERMINALS__0__ID", TERMINAL),
        ("GATEWAY__TERMINALS__0__ADDRESS", address.as_str()),
    ])
    .await;
    let res = cash_receipt(&off, "cr-o", json!({ "amount": 1000, "trader_type": "1" })).await;
    assert_eq!(res.status(), 503);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "terminal_disconnected"
    );
    assert_eq!(totals(&off, &day, &day).await.status(), 503);
    assert_eq!(
        off.get_json(&format!("/v1/terminals/{TERMINAL}/codes"))
            .await
            .status(),
        503
    );
    assert_eq!(
        off.count("SELECT count(*) FROM terminal_transactions")
            .await,
        0
    );
}

#[tokio::test]
async fn totals_agree_with_the_ledger() {
    let (app, _sim) = setup(true).await;
    paid_sale(&app, "sale-a", 12_000).await;
    let cancelled = paid_sale(&app, "sale-b", 5_000).await;
    let order_id = cancelled["order_id"].as_str().unwrap();
    let res = app
        .post_keyed(
            &format!("/v1/orders/{order_id}/cancel"),
            "cancel-b",
            &json!({ "reason": "returned" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    free(&app).await;
    // A cash receipt is not a sale: counted by neither side.
    let res = cash_receipt(&app, "cr-t", json!({ "amount": 7_000, "trader_type": "1" })).await;
    assert_eq!(res.status(), 202);
    let tx: Value = res.json().await.unwrap();
    wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
    free(&app).await;

    let day = today_kst();
    let res = totals(&app, &day, &day).await;
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.unwrap();
    let expected = json!({
        "approved": { "count": 2, "amount": 17_000 },
        "cancelled": { "count": 1, "amount": 5_000 },
    });
    assert_eq!(t["terminal_id"], TERMINAL);
    assert_eq!(t["from"], day.as_str());
    assert_eq!(t["to"], day.as_str());
    assert_eq!(t["terminal"], expected, "{t}");
    assert_eq!(t["ledger"], expected, "{t}");
    assert_eq!(t["agree"], true);

    // A period with nothing in it agrees on zero.
    let t: Value = totals(&app, "20200101", "20200131")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(t["terminal"]["approved"]["count"], 0);
    assert_eq!(t["agree"], true);
}

#[tokio::test]
async fn totals_disagree_when_the_ledger_has_another_day() {
    let (app, _sim) = setup(true).await;
    let sale = paid_sale(&app, "sale-d", 8_000).await;
    paid_sale(&app, "sale-e", 2_000).await;
    // The gateway's record of one sale says another day than the terminal's.
    sqlx::query(
        "UPDATE terminal_transactions SET transaction_date = '20200102120000' WHERE id = $1::uuid",
    )
    .bind(sale["id"].as_str().unwrap())
    .execute(&app.db.pool)
    .await
    .unwrap();
    let day = today_kst();
    let t: Value = totals(&app, &day, &day).await.json().await.unwrap();
    assert_eq!(
        t["terminal"]["approved"],
        json!({ "count": 2, "amount": 10_000 })
    );
    assert_eq!(
        t["ledger"]["approved"],
        json!({ "count": 1, "amount": 2_000 })
    );
    assert_eq!(t["agree"], false);
    // And that day has a sale in the ledger the terminal does not know.
    let t: Value = totals(&app, "20200102", "20200102")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        t["ledger"]["approved"],
        json!({ "count": 1, "amount": 8_000 })
    );
    assert_eq!(
        t["terminal"]["approved"],
        json!({ "count": 0, "amount": 0 })
    );
    assert_eq!(t["agree"], false);
}

#[tokio::test]
async fn codes_come_from_the_terminal_and_print_sends_the_commands() {
    let (app, sim) = setup(true).await;
    let res = app
        .get_json(&format!("/v1/terminals/{TERMINAL}/codes"))
        .await;
    assert_eq!(res.status(), 200);
    let codes: Value = res.json().await.unwrap();
    assert_eq!(codes["terminal_id"], TERMINAL);
    let list = codes["data"].as_array().unwrap();
    assert!(!list.is_empty());
    assert!(
        list.iter()
            .any(|c| c["name"] == "카카오페이" && c["group_code"] == "AG02"),
        "{codes}"
    );
    assert_eq!(received(&sim, "081008"), 1);

    let body = json!({ "alert": true, "commands": [
        { "command": "left", "font_size": 20, "message": ["주문서"] },
        { "command": "text3", "font_size": 10, "message": ["아메리카노", "2", "9,000원"] },
        { "command": "line" },
        { "command": "cuttingLine" }
    ]});
    let res = app
        .post_keyed(&format!("/v1/terminals/{TERMINAL}/print"), "print-1", &body)
        .await;
    assert_eq!(res.status(), 200);
    let printed: Value = res.json().await.unwrap();
    assert_eq!(printed["printed"], true);
    assert_eq!(printed["result_code"], "0000");
    let sent = sent_body(&app, "900091").await;
    assert_eq!(sent["alert"], true);
    assert_eq!(sent["commands"][1]["command"], "text3");
    assert_eq!(sent["commands"][1]["fontSize"], 10);
    assert_eq!(sent["commands"][1]["message"][0], "아메리카노");
    // Replayed with the same key: not printed twice.
    let res = app
        .post_keyed(&format!("/v1/terminals/{TERMINAL}/print"), "print-1", &body)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(received(&sim, "900091"), 1);
}

#[tokio::test]
async fn an_approval_prints_the_gateways_sales_slip_after_the_commit() {
    let sim = simulator(true).await;
    let app = gateway_for(&sim.addr().to_string(), true).await;
    let sale = paid_sale(&app, "sale-p", 12_000).await;
    wait_for("the slip", || received(&sim, "900091") == 1).await;
    // Confirmed first, printed after.
    let log: Vec<String> = sim
        .state()
        .received()
        .into_iter()
        .map(|t| t.unwrap_or_default())
        .collect();
    assert_eq!(log, ["010010", "980001", "900091"], "{log:?}");
    let slip = sent_body(&app, "900091").await.to_string();
    assert!(slip.contains("신용카드 매출전표"), "{slip}");
    assert!(slip.contains("12,000원"), "{slip}");
    assert!(
        slip.contains(sale["approval_no"].as_str().unwrap()),
        "{slip}"
    );
    assert!(
        slip.contains(sale["masked_card"].as_str().unwrap()),
        "{slip}"
    );
    let order = app.order(sale["order_id"].as_str().unwrap()).await;
    assert_eq!(order["status"], "paid");

    // The next sale goes through after the slip, and a cash receipt prints nothing.
    paid_sale(&app, "sale-q", 3_000).await;
    wait_for("the second slip", || received(&sim, "900091") == 2).await;
    let res = cash_receipt(&app, "cr-p", json!({ "amount": 3_000, "trader_type": "1" })).await;
    let tx: Value = res.json().await.unwrap();
    wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(received(&sim, "900091"), 2);
}

#[tokio::test]
async fn a_tax_refund_slip_is_issued_looked_up_and_cancelled() {
    let (app, sim) = setup(true).await;
    let body = json!({ "tax_refund_mode": "post", "payment_type": "card", "amount": 50_000 });
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/tax-refunds"),
            "tr-1",
            &body,
        )
        .await;
    assert_eq!(res.status(), 201);
    let slip: Value = res.json().await.unwrap();
    assert_eq!(slip["status"], "issued");
    assert_eq!(slip["variant"], "t650p");
    assert_eq!(slip["amount"], 50_000);
    assert_eq!(slip["refund_balance"], 3_500);
    assert_eq!(slip["passport"], "******678");
    let serial = slip["tax_refund_serial"].as_str().unwrap().to_string();
    let sent = sent_body(&app, "050010").await;
    assert_eq!(sent["taxRefundMode"], "post");
    assert_eq!(sent["approvalAmt"], 50_000);
    assert_eq!(sent["ptxId"].as_str().map(str::len), Some(32));
    // Replayed: not issued twice.
    let again: Value = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/tax-refunds"),
            "tr-1",
            &body,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["id"], slip["id"]);
    assert_eq!(received(&sim, "050010"), 1);

    let id = slip["id"].as_str().unwrap();
    let got: Value = app
        .get_json(&format!("/v1/tax-refunds/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["terminal_checked"], true);
    assert_eq!(got["tax_refund_serial"], serial.as_str());
    assert!(got["inquired_at"].is_string());
    assert_eq!(
        sent_body(&app, "900050").await["taxRefundSerial"],
        serial.as_str()
    );

    let res = app
        .post_keyed(&format!("/v1/tax-refunds/{id}/cancel"), "trc-1", &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let cancelled: Value = res.json().await.unwrap();
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["cancel"]["status"], "succeeded");
    assert_eq!(
        sent_body(&app, "050020").await["taxRefundSerial"],
        serial.as_str()
    );
    // Twice: refused, nothing sent.
    let res = app
        .post_keyed(&format!("/v1/tax-refunds/{id}/cancel"), "trc-2", &json!({}))
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "tax_refund_cancelled"
    );
    assert_eq!(received(&sim, "050020"), 1);

    // Bad input names the field and sends nothing; unknown ids are 404.
    let res = app
        .post_keyed(
            &format!("/v1/terminals/{TERMINAL}/tax-refunds"),
            "tr-bad",
            &json!({ "sales_serial": "S-1", "check_in": "261205", "check_out": "261201" }),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.json::<Value>().await.unwrap()["errors"][0]["field"],
        "check_out"
    );
    let res = app
        .post_keyed("/v1/terminals/back-9/tax-refunds", "tr-404", &body)
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        app.get_json("/v1/tax-refunds/00000000-0000-0000-0000-000000000000")
            .await
            .status(),
        404
    );
    assert_eq!(received(&sim, "050010"), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM terminal_tax_refunds").await,
        1
    );
}

#[tokio::test]
async fn a_cash_receipt_whose_answer_is_lost_is_unknown_then_settled_from_990001() {
    let (app, sim) = setup(true).await;
    let sale = paid_sale(&app, "sale-u", 4_000).await;
    let order_id = sale["order_id"].as_str().unwrap().to_string();
    // The terminal issues the receipt and drops the connection before answering.
    sim.state().update_faults(|f| f.drop_after_request = true);
    let res = cash_receipt(
        &app,
        "cr-u",
        json!({ "amount": 4_000, "trader_type": "1", "identity": "01098765432", "order_id": order_id }),
    )
    .await;
    assert_eq!(res.status(), 202);
    let tx: Value = res.json().await.unwrap();
    let receipt = wait_status(&app, tx["id"].as_str().unwrap(), "succeeded").await;
    sim.state().update_faults(|f| f.drop_after_request = false);
    assert!(received(&sim, "990001") >= 1);
    assert!(receipt["approval_no"].is_string());
    assert_eq!(receipt["cash_receipt"]["identity"], "*******5432");
    let evts = events(&app, &order_id).await;
    assert!(
        evts.contains(&"terminal.transaction.unknown".to_string()),
        "{evts:?}"
    );
    assert!(
        !evts.contains(&"terminal.transaction.failed".to_string()),
        "{evts:?}"
    );
    assert_eq!(
        evts.iter()
            .filter(|e| *e == "terminal.transaction.succeeded")
            .count(),
        2,
        "{evts:?}"
    );
    // Nothing about the order's money changed.
    let order = app.order(&order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(order["payments"].as_array().unwrap().len(), 1);
}
