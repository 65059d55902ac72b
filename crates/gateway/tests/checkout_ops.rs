//! The buyer-facing checkout and the operations endpoints.

mod common;

use chrono::Duration;
use common::*;
use serde_json::Value;
use smartro::sign;

fn token_of(order: &Value) -> String {
    let url = order["checkout_url"].as_str().unwrap();
    url.split("?t=").nth(1).unwrap().to_string()
}

fn field<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(&html[start..end])
}

#[tokio::test]
async fn the_checkout_page_posts_a_signed_euc_kr_form_to_smartro() {
    let app = spawn_app().await;
    let order = app.create_order(card_order("PAY-1", 1004)).await;
    let token = token_of(&order);
    let page = app
        .http
        .get(app.url(&format!("/pay/PAY-1?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("accept-charset=\"EUC-KR\""));
    assert!(html.contains("action=\"https://tpay.smilepay.co.kr/interfaceURL.jsp\""));
    assert_eq!(field(&html, "MID"), Some(MID));
    assert_eq!(field(&html, "Moid"), Some("PAY-1"));
    assert_eq!(field(&html, "Amt"), Some("1004"));
    assert_eq!(field(&html, "GoodsName"), Some("테스트 상품"));
    assert_eq!(field(&html, "BuyerName"), Some("홍길동"));
    assert_eq!(field(&html, "EncodingType"), Some("utf8"));
    assert_eq!(field(&html, "UrlEncode"), Some("Y"));
    assert_eq!(
        field(&html, "ReturnURL"),
        Some("http://127.0.0.1:8080/smartro/return")
    );
    assert_eq!(
        field(&html, "RetryURL"),
        Some("http://127.0.0.1:8080/smartro/inform")
    );
    let edi = field(&html, "ediDate").unwrap().to_string();
    // 03:00 UTC is 12:00 in Seoul
    assert_eq!(edi, "20261121120000");
    let encrypt = field(&html, "EncryptData").unwrap();
    assert_eq!(encrypt, sign::encrypt_data(&edi, MID, 1004, KEY));
    assert!(
        !html.contains(KEY),
        "the merchant key never reaches a browser"
    );

    // every render is signed afresh
    app.clock.advance(Duration::seconds(5));
    let html2 = app
        .http
        .get(app.url(&format!("/pay/PAY-1?t={token}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(field(&html2, "ediDate"), Some("20261121120005"));
    assert_ne!(field(&html2, "EncryptData"), Some(encrypt));
}

#[tokio::test]
async fn a_wrong_token_is_not_found() {
    let app = spawn_app().await;
    let order = app.create_order(card_order("PAY-2", 1004)).await;
    let token = token_of(&order);
    for path in [
        "/pay/PAY-2?t=wrong".to_string(),
        "/pay/PAY-2".to_string(),
        format!("/pay/OTHER?t={token}"),
        "/v1/checkout/PAY-2?t=wrong".to_string(),
        "/v1/checkout/PAY-2/status".to_string(),
    ] {
        let r = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn checkout_json_and_status_for_single_page_shops() {
    let app = spawn_app().await;
    let order = app.create_order(card_order("PAY-3", 2500)).await;
    let token = token_of(&order);
    let r = app
        .http
        .get(app.url(&format!("/v1/checkout/PAY-3?t={token}")))
        .header("origin", "https://shop.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://shop.example.com"
    );
    let form: Value = r.json().await.unwrap();
    assert_eq!(form["method"], "POST");
    assert_eq!(form["accept_charset"], "EUC-KR");
    assert_eq!(
        form["action_url"],
        "https://tpay.smilepay.co.kr/interfaceURL.jsp"
    );
    assert_eq!(form["fields"]["Amt"], "2500");
    assert_eq!(form["fields"]["GoodsName"], "테스트 상품");
    let edi = form["fields"]["ediDate"].as_str().unwrap();
    assert_eq!(
        form["fields"]["EncryptData"],
        sign::encrypt_data(edi, MID, 2500, KEY)
    );

    let other_origin = app
        .http
        .get(app.url(&format!("/v1/checkout/PAY-3/status?t={token}")))
        .header("origin", "https://evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(other_origin.status(), 200);
    assert!(other_origin
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let status: Value = other_origin.json().await.unwrap();
    assert_eq!(status["order_id"], "PAY-3");
    assert_eq!(status["status"], "pending");
}

#[tokio::test]
async fn an_order_that_cannot_be_paid_says_why() {
    let app = spawn_app().await;
    let order = app.create_order(card_order("PAY-4", 1004)).await;
    let token = token_of(&order);
    assert_eq!(
        app.inform(card_inform("PAY-4", &tid(20), 1004)).await.1,
        "OK"
    );
    let r = app
        .http
        .get(app.url(&format!("/pay/PAY-4?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("이미 결제가 완료된 주문입니다"));
    assert!(!html.contains("EncryptData"));
    let json = app
        .http
        .get(app.url(&format!("/v1/checkout/PAY-4?t={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 409);
    let problem: Value = json.json().await.unwrap();
    assert_eq!(problem["status"], 409);
    assert_eq!(problem["code"], "order_not_payable");

    // a pending order past its time is not payable either, even before the expiry worker runs
    let order = app.create_order(card_order("PAY-5", 1004)).await;
    app.clock.advance(Duration::minutes(61));
    let r = app
        .http
        .get(app.url(&format!("/pay/PAY-5?t={}", token_of(&order))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("결제 가능 시간이 지났습니다"));
}

#[tokio::test]
async fn operations_endpoints() {
    let app = spawn_app().await;
    let health = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert!(ready.headers().contains_key("x-request-id"));

    app.create_order(card_order("OPS-1", 1004)).await;
    app.inform(card_inform("OPS-1", &tid(30), 1004)).await;
    app.inform(card_inform("OPS-1", &tid(30), 1004)).await;
    let metrics = app
        .http
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("gateway_orders{status=\"paid\"} 1"),
        "{metrics}"
    );
    assert!(metrics
        .contains("gateway_smartro_notifications_total{source=\"inform\",outcome=\"applied\"} 1"));
    assert!(metrics.contains(
        "gateway_smartro_notifications_total{source=\"inform\",outcome=\"duplicate\"} 1"
    ));
    assert!(metrics.contains(
        "gateway_http_requests_total{method=\"POST\",route=\"/v1/orders\",status=\"201\"} 1"
    ));

    let spec: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    for path in [
        "/v1/orders",
        "/v1/orders/{order_id}",
        "/v1/checkout/{order_id}",
        "/v1/checkout/{order_id}/status",
        "/v1/codes/results/{code}",
        "/v1/codes/cards",
        "/v1/codes/banks",
        "/smartro/return",
        "/smartro/inform",
        "/pay/{order_id}",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(spec["paths"][path].is_object(), "openapi lacks {path}");
    }
}

#[tokio::test]
async fn a_request_id_is_generated_or_propagated() {
    let app = spawn_app().await;
    let r = app
        .http
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
}
