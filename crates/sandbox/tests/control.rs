//! The sandbox's control surface over real HTTP: the run-time fault knobs (`/sandbox/faults`) and approved
//! payments made without the payment window (`/sandbox/transactions`, `SandboxState::create_transaction`).

mod common;

use std::time::Duration;

use common::*;
use sandbox::{NewTransaction, Sandbox, TxStatus};
use serde_json::{json, Value};
use smartro::types::PayMethod;

/// `(status, JSON body)` of a request to the sandbox's control surface.
async fn call(
    sb: &Sandbox,
    method: reqwest::Method,
    path: &str,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sb.url()));
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let response = match req.send().await {
        Ok(r) => r,
        Err(e) => panic!("{path}: {e}"),
    };
    let status = response.status().as_u16();
    match response.json().await {
        Ok(j) => (status, j),
        Err(e) => panic!("{path}: answer is not JSON: {e}"),
    }
}

async fn get_faults(sb: &Sandbox) -> (u16, Value) {
    call(sb, reqwest::Method::GET, "/sandbox/faults", None).await
}

async fn post_faults(sb: &Sandbox, body: &str) -> (u16, Value) {
    call(sb, reqwest::Method::POST, "/sandbox/faults", Some(body)).await
}

async fn post_transaction(sb: &Sandbox, body: &Value) -> (u16, Value) {
    call(
        sb,
        reqwest::Method::POST,
        "/sandbox/transactions",
        Some(&body.to_string()),
    )
    .await
}

#[tokio::test]
async fn faults_endpoint_reads_and_changes_the_run_time_knobs() {
    let sb = start(config(None)).await;
    let (status, json) = get_faults(&sb).await;
    assert_eq!(status, 200);
    assert_eq!(
        json,
        json!({ "receipt_api_down": false, "receipt_delay_ms": 0 })
    );

    // Partial updates: each leaves the other knob alone.
    let (status, json) = post_faults(&sb, r#"{"receipt_api_down": true}"#).await;
    assert_eq!(status, 200);
    assert_eq!(
        json,
        json!({ "receipt_api_down": true, "receipt_delay_ms": 0 })
    );
    let (status, json) = post_faults(&sb, r#"{"receipt_delay_ms": 5000}"#).await;
    assert_eq!(status, 200);
    assert_eq!(
        json,
        json!({ "receipt_api_down": true, "receipt_delay_ms": 5000 })
    );
    assert_eq!(get_faults(&sb).await.1, json);
    let now = sb.state().runtime_faults();
    assert!(now.receipt_api_down);
    assert_eq!(now.receipt_delay, Duration::from_secs(5));

    // The receipt API follows the knob.
    let body = json!({ "mid": MID, "tid": "SMTPAY001m01012401010000000001" }).to_string();
    assert_eq!(receipt_raw(&sb, Some(KEY), &body).await.0, 503);
    let (status, _) =
        post_faults(&sb, r#"{"receipt_api_down": false, "receipt_delay_ms": 0}"#).await;
    assert_eq!(status, 200);
    assert_eq!(receipt_raw(&sb, Some(KEY), &body).await.0, 404);

    // Bad requests: 400 with a message naming the problem, and nothing changes (the valid field of a request
    // with a bad one included).
    for (bad, mentions) in [
        (
            r#"{"receipt_api_down": true, "drop_ratio": 0.5}"#,
            "drop_ratio",
        ),
        (r#"{"receipt_api_down": "yes"}"#, "receipt_api_down"),
        (
            r#"{"receipt_api_down": true, "receipt_delay_ms": -1}"#,
            "receipt_delay_ms",
        ),
        (r#"{"receipt_delay_ms": 1.5}"#, "receipt_delay_ms"),
        (r#"{"receipt_delay_ms": null}"#, "receipt_delay_ms"),
        (r#"[true]"#, "JSON object"),
        ("receipt_api_down=true", "not JSON"),
    ] {
        let (status, json) = post_faults(&sb, bad).await;
        assert_eq!(status, 400, "{bad}");
        let error = json["error"].as_str().unwrap_or_default();
        assert!(error.contains(mentions), "{bad}: {error}");
    }
    assert_eq!(
        get_faults(&sb).await.1,
        json!({ "receipt_api_down": false, "receipt_delay_ms": 0 })
    );
    sb.shutdown().await;
}

#[tokio::test]
async fn direct_transaction_is_a_real_cancellable_payment_without_messages() {
    let sb = start(config(None)).await;
    let order = moid();
    let (status, created) = post_transaction(
        &sb,
        &json!({ "mid": MID, "moid": order, "amt": 12_000, "goods_name": "부하 테스트 상품" }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let tid = created["tid"].as_str().unwrap_or_default().to_string();
    // The TID layout of a payment-window card approval: MID + service 01 + "01" + yyMMddHHmmss + 4 digits.
    assert_eq!(tid.len(), 30);
    assert!(tid.starts_with("SMTPAY001m0101"), "{tid}");
    assert!(tid[10..].bytes().all(|b| b.is_ascii_digit()), "{tid}");
    assert_eq!(created["result_code"], "3001");
    assert_eq!(created["result_msg"], "카드 결제 성공");
    assert_eq!(created["moid"], order.as_str());
    assert_eq!(created["amt"], 12_000);
    assert_eq!(created["pay_method"], "CARD");
    let auth_date = created["auth_date"].as_str().unwrap_or_default();
    assert!(auth_date.len() == 12 && auth_date.bytes().all(|b| b.is_ascii_digit()));
    let auth_code = created["auth_code"].as_str().unwrap_or_default();
    assert!(auth_code.len() == 8 && auth_code.bytes().all(|b| b.is_ascii_digit()));

    // In the book as an approval, and the receipt API reports the given order and amount.
    let tx = sb.state().transaction(&tid);
    assert_eq!(tx.as_ref().map(|t| t.status), Some(TxStatus::Approved));
    assert_eq!(tx.as_ref().map(|t| t.auth_date.as_str()), Some(auth_date));
    assert_eq!(
        tx.as_ref().map(|t| t.goods_name.as_str()),
        Some("부하 테스트 상품")
    );
    let record = receipt_record(&sb, &tid).await;
    assert_eq!(record.moid.as_deref(), Some(order.as_str()));
    assert_eq!(record.goods_amt.as_deref(), Some("12000"));
    assert_eq!(record.app_no.as_deref(), Some(auth_code));

    // Cancellable as any payment: partly, then the rest.
    let partial = cancel(&sb, &tid, 2_000, true).await;
    assert_eq!(partial.result_code, "2001");
    assert_eq!(partial.moid.as_deref(), Some(order.as_str()));
    let record = receipt_record(&sb, &tid).await;
    assert_eq!(record.part_cancel_info.len(), 1);
    assert_eq!(
        record.part_cancel_info[0].trans_amt.as_deref(),
        Some("2000")
    );
    assert_eq!(cancel(&sb, &tid, 10_000, true).await.result_code, "2001");
    assert_eq!(
        sb.state().transaction(&tid).map(|t| t.status),
        Some(TxStatus::Cancelled)
    );

    // Neither the approval nor its cancels were notified: the caller sends its own messages.
    assert!(sb.notifications().is_empty(), "{:?}", sb.notifications());
    sb.shutdown().await;
}

#[tokio::test]
async fn direct_transaction_in_process_and_by_method() {
    let sb = start(config(None)).await;
    let order = moid();
    let tx = match sb
        .state()
        .create_transaction(NewTransaction::new(MID, order.clone(), 5_500))
    {
        Ok(t) => t,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(
        (tx.pay_method.clone(), tx.result_code.as_str(), tx.amt),
        (PayMethod::Card, "3001", 5_500)
    );
    assert_eq!(sb.state().transaction(&tx.tid), Some(tx.clone()));
    let record = receipt_record(&sb, &tx.tid).await;
    assert_eq!(record.moid.as_deref(), Some(order.as_str()));
    assert_eq!(record.goods_amt.as_deref(), Some("5500"));

    // A bank transfer: its own success code and TID service part, refunded with 2211.
    let (status, created) = post_transaction(
        &sb,
        &json!({ "mid": MID, "moid": moid(), "amt": 8_000, "pay_method": "BANK", "buyer_name": "김철수" }),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["result_code"], "4000");
    assert_eq!(created["buyer_name"], "김철수");
    let tid = created["tid"].as_str().unwrap_or_default().to_string();
    assert_eq!(&tid[10..12], "02");
    assert_eq!(cancel(&sb, &tid, 8_000, false).await.result_code, "2211");
    assert!(sb.notifications().is_empty());
    sb.shutdown().await;
}

#[tokio::test]
async fn direct_transaction_input_is_validated() {
    let sb = start(config(None)).await;
    for (body, field) in [
        (
            json!({ "mid": "NOSUCH001m", "moid": "A1", "amt": 1000 }),
            "mid",
        ),
        (json!({ "mid": MID, "moid": "A1", "amt": 0 }), "amt"),
        (json!({ "mid": MID, "moid": "A1", "amt": -1000 }), "amt"),
        (
            json!({ "mid": MID, "moid": "A1", "amt": 1_000_000_000_000_i64 }),
            "amt",
        ),
        (
            json!({ "mid": MID, "moid": "ORDER#1", "amt": 1000 }),
            "moid",
        ),
        (json!({ "mid": MID, "moid": "", "amt": 1000 }), "moid"),
        (
            json!({ "mid": MID, "moid": "A1", "amt": 1000, "pay_method": "VBANK" }),
            "pay_method",
        ),
        (
            json!({ "mid": MID, "moid": "A1", "amt": 1000, "pay_method": "BITCOIN" }),
            "pay_method",
        ),
        (
            json!({ "mid": MID, "moid": "A1", "amt": 1000, "goods_name": "가".repeat(14) }),
            "goods_name",
        ),
        (
            json!({ "mid": MID, "moid": "A1", "amt": 1000, "buyer_name": "" }),
            "buyer_name",
        ),
    ] {
        let (status, json) = post_transaction(&sb, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(json["field"], field, "{body}: {json}");
        assert!(
            json["error"].as_str().is_some_and(|e| e.starts_with(field)),
            "{json}"
        );
    }
    // Shapes serde refuses: an unknown field, a missing one, the amount as text, not JSON at all.
    for body in [
        json!({ "mid": MID, "moid": "A1", "amt": 1000, "retry_url": "http://x/" }).to_string(),
        json!({ "mid": MID, "amt": 1000 }).to_string(),
        json!({ "mid": MID, "moid": "A1", "amt": "1000" }).to_string(),
        "mid=SMTPAY001m".to_string(),
    ] {
        let (status, json) = call(
            &sb,
            reqwest::Method::POST,
            "/sandbox/transactions",
            Some(&body),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        assert!(json["error"].is_string(), "{json}");
    }
    assert!(sb.transactions().is_empty());

    // In process, the same rules.
    let refused = sb
        .state()
        .create_transaction(NewTransaction::new("NOSUCH001m", "A1", 1_000));
    assert_eq!(refused.map_err(|e| e.field), Err("mid"));
    sb.shutdown().await;
}

/// A TID's second has room for 10 000 numbers; a load generator asks for more than that within one second.
#[tokio::test]
async fn more_than_ten_thousand_transactions_in_a_second_get_distinct_tids() {
    // Before TIDs borrowed the next second, the 10 001st went round forever (nextest's timeout ends such a run).
    let sb = start(config(None)).await;
    let mut tids = std::collections::HashSet::new();
    for n in 0..25_000 {
        let tx = match sb.state().create_transaction(NewTransaction::new(
            MID,
            format!("BULK{n:06}"),
            1_000,
        )) {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(tx.tid.len(), 30, "{}", tx.tid);
        assert!(tids.insert(tx.tid), "a TID was handed out twice");
    }
    sb.shutdown().await;
}
