//! Look-ups: `GET /v1/orders` by TID, pay method, channel and creation time (with status and paging), and
//! `GET /v1/payments/{tid}`.

mod common;

use chrono::Duration;
use common::*;
use serde_json::Value;
use smartro::types::{PayMethod, StateCd};

async fn list(app: &TestApp, query: &str) -> Value {
    let response = app.get_json(&format!("/v1/orders?{query}")).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{query}: {body}");
    body
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["order_id"].as_str().unwrap().to_string())
        .collect()
}

/// `+` of an offset must travel escaped in a query string.
fn q(instant: &str) -> String {
    instant.replace('+', "%2B")
}

#[tokio::test]
async fn orders_are_found_by_tid_method_channel_and_creation_time() {
    let app = spawn_app().await;
    // Created an hour apart, starting 2026-11-21T03:00:00Z.
    app.create_order(card_order("LK-1", 1_000)).await;
    app.clock.advance(Duration::hours(1));
    let mut vbank = card_order("LK-2", 2_000);
    vbank["pay_method"] = "VBANK".into();
    app.create_order(vbank).await;
    app.clock.advance(Duration::hours(1));
    app.create_order(card_order("LK-3", 3_000)).await;
    app.clock.advance(Duration::hours(1));
    app.create_order(card_order("LK-4", 4_000)).await;

    let paid = tid(41);
    assert_eq!(app.inform(card_inform("LK-3", &paid, 3_000)).await.1, "OK");
    let failed = tid(42);
    let failure = notification(
        "LK-4",
        &failed,
        4_000,
        "3011",
        StateCd::Approval,
        PayMethod::Card,
    );
    assert_eq!(app.inform(failure.to_form_body()).await.1, "OK");

    assert_eq!(ids(&list(&app, &format!("tid={paid}")).await), ["LK-3"]);
    assert_eq!(ids(&list(&app, &format!("tid={failed}")).await), ["LK-4"]);
    assert!(ids(&list(&app, &format!("tid={}", tid(43))).await).is_empty());
    assert_eq!(ids(&list(&app, "pay_method=VBANK").await), ["LK-2"]);
    assert_eq!(ids(&list(&app, "pay_method=vbank").await), ["LK-2"]);
    assert_eq!(
        ids(&list(&app, "pay_method=CARD").await),
        ["LK-4", "LK-3", "LK-1"]
    );
    assert_eq!(
        ids(&list(&app, "pay_method=CARD&status=paid").await),
        ["LK-3"]
    );

    assert_eq!(ids(&list(&app, "channel=online").await).len(), 4);
    assert!(ids(&list(&app, "channel=terminal").await).is_empty());
    sqlx::query("UPDATE orders SET channel = 'terminal' WHERE order_id = 'LK-1'")
        .execute(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(ids(&list(&app, "channel=terminal").await), ["LK-1"]);
    assert_eq!(ids(&list(&app, "channel=online").await).len(), 3);

    // From is inclusive, to exclusive; offsets other than UTC mean the same instant.
    let from = q("2026-11-21T13:00:00+09:00"); // 04:00Z: LK-2
    let to = q("2026-11-21T06:00:00Z"); // LK-4 is at 06:00Z
    assert_eq!(
        ids(&list(&app, &format!("created_from={from}&created_to={to}")).await),
        ["LK-3", "LK-2"]
    );
    assert_eq!(
        ids(&list(&app, &format!("created_from={from}")).await),
        ["LK-4", "LK-3", "LK-2"]
    );
    assert_eq!(
        ids(&list(&app, &format!("created_to={to}")).await),
        ["LK-3", "LK-2", "LK-1"]
    );
    assert_eq!(
        ids(&list(
            &app,
            &format!("created_from={from}&pay_method=CARD&status=pending")
        )
        .await),
        ["LK-4"]
    );

    // Paging keeps the filters.
    let first = list(&app, &format!("created_from={from}&limit=2")).await;
    assert_eq!(ids(&first), ["LK-4", "LK-3"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = list(
        &app,
        &format!("created_from={from}&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(ids(&second), ["LK-2"]);
    assert!(second["next_cursor"].is_null());
}

#[tokio::test]
async fn unreadable_filters_are_refused_naming_them() {
    let app = spawn_app().await;
    app.create_order(card_order("LK-5", 1_000)).await;
    for (query, field) in [
        ("created_from=yesterday", "created_from"),
        ("created_from=2026-11-21", "created_from"),
        ("created_to=2026-11-21T25:00:00Z", "created_to"),
        ("channel=shop", "channel"),
        ("pay_method=BITCOIN", "pay_method"),
        ("status=settled", "status"),
        (
            "created_from=2026-11-21T05:00:00Z&created_to=2026-11-21T05:00:00Z",
            "created_to",
        ),
        ("merchant=SMTPAY001m", "merchant"),
    ] {
        let response = app.get_json(&format!("/v1/orders?{query}")).await;
        let status = response.status().as_u16();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{query}: {problem}");
        assert_eq!(problem["errors"][0]["field"], field, "{query}: {problem}");
    }
    // A NUL cannot reach PostgreSQL through a filter: 422 naming it, as in a body or a path.
    for path in ["/v1/orders?tid=a%00b", "/v1/events?order_id=%00"] {
        let response = app.get_json(path).await;
        let status = response.status().as_u16();
        let problem: Value = response.json().await.unwrap();
        assert_eq!(status, 422, "{path}: {problem}");
        assert_eq!(problem["code"], "nul_character", "{path}: {problem}");
    }
}

#[tokio::test]
async fn a_payment_is_found_by_its_tid_with_its_order() {
    let app = spawn_app().await;
    app.create_order(card_order("LK-6", 5_000)).await;
    let paid = tid(61);
    assert_eq!(app.inform(card_inform("LK-6", &paid, 5_000)).await.1, "OK");

    let response = app.get_json(&format!("/v1/payments/{paid}")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["payment"]["tid"], paid.as_str());
    assert_eq!(body["payment"]["amount"], 5_000);
    assert_eq!(body["payment"]["result_code"], "3001");
    assert_eq!(body["payment"]["source"], "inform");
    assert_eq!(body["order"]["order_id"], "LK-6");
    assert_eq!(body["order"]["status"], "paid");
    assert_eq!(body["payment"], body["order"]["payments"][0]);

    let response = app.get_json(&format!("/v1/payments/{}", tid(62))).await;
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "not_found");
    let response = app
        .http
        .get(app.url(&format!("/v1/payments/{paid}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
