//! The demo shop: a merchant's backend in miniature. It talks to the gateway only over HTTP with the API key.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::{Form, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use crate::http::pages::escape;
use crate::views::path_segment;

#[derive(Clone)]
pub(super) struct Shop {
    pub(super) inner: Arc<ShopInner>,
}

pub(super) struct ShopInner {
    http: reqwest::Client,
    gateway_url: String,
    api_key: SecretString,
    shop_url: String,
    /// The merchant the shop sends escrow orders to, if the gateway has one that takes escrow.
    escrow_mid: Option<String>,
    /// The sandbox's page where a buyer "pays" an issued virtual account, linked from an order awaiting deposit.
    deposit_url: Option<String>,
    /// The card terminal the counter page rings sales up on: its `[[terminals]]` id and the simulator's screen.
    pub(super) terminal: Option<CounterTerminal>,
}

/// The terminal behind the shop's counter.
pub(super) struct CounterTerminal {
    pub(super) id: String,
    /// Where a person inserts the card and signs (the sandbox's `/terminal` page).
    pub(super) screen_url: String,
}

/// Why a call to the gateway did not give what the shop wanted.
#[derive(Debug, thiserror::Error)]
pub(super) enum ShopError {
    #[error("the gateway could not be reached: {0}")]
    Unreachable(#[source] reqwest::Error),
    #[error("{title}: {detail}")]
    Problem {
        status: StatusCode,
        title: String,
        detail: String,
        body: serde_json::Value,
    },
    #[error("the gateway's answer could not be read: {0}")]
    Unreadable(String),
}

impl ShopError {
    pub(super) fn status(&self) -> StatusCode {
        match self {
            ShopError::Problem { status, .. } => *status,
            _ => StatusCode::BAD_GATEWAY,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Order {
    order_id: String,
    status: String,
    amount: i64,
    #[serde(default)]
    paid_amount: i64,
    #[serde(default)]
    cancelled_amount: i64,
    #[serde(default)]
    refunded_amount: i64,
    goods_name: String,
    pay_method: String,
    tid: Option<String>,
    buyer: Buyer,
    /// `online` or `terminal` (a sale rung up at the counter).
    #[serde(default)]
    channel: String,
    /// Online orders only.
    #[serde(default)]
    checkout_url: Option<String>,
    /// Terminal orders only: the sale's transaction, followed on the counter page.
    #[serde(default)]
    terminal: Option<OrderTerminal>,
    created_at: String,
    #[serde(default)]
    paid_at: Option<String>,
    #[serde(default)]
    result_code: Option<String>,
    #[serde(default)]
    result_message: Option<String>,
    #[serde(default)]
    vbank: Option<Vbank>,
    #[serde(default)]
    card: Option<Card>,
    #[serde(default)]
    cash_receipt: Option<CashReceipt>,
    #[serde(default)]
    options: Option<serde_json::Value>,
    #[serde(default)]
    payments: Vec<Payment>,
    #[serde(default)]
    cancellations: Vec<Cancellation>,
    #[serde(default)]
    refunds: Vec<Refund>,
}

#[derive(Debug, Deserialize)]
struct OrderTerminal {
    terminal_id: String,
    transaction_id: String,
    /// The sale and its cancel, each with its slip on the counter's transaction page.
    #[serde(default)]
    transactions: Vec<OrderTerminalTx>,
}

#[derive(Debug, Deserialize)]
struct OrderTerminalTx {
    id: String,
    kind: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct Buyer {
    name: String,
    #[serde(default)]
    tel: String,
    #[serde(default)]
    email: String,
}

#[derive(Debug, Deserialize)]
struct Vbank {
    bank_name: Option<String>,
    account: Option<String>,
    expires: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Card {
    issuer_name: Option<String>,
    quota: Option<String>,
    masked_number: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CashReceipt {
    #[serde(rename = "type")]
    kind: String,
    approval_no: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Payment {
    tid: String,
    result_code: String,
    result_message: String,
    amount: i64,
    auth_code: Option<String>,
    source: String,
}

#[derive(Debug, Deserialize)]
struct Cancellation {
    amount: i64,
    partial: bool,
    status: String,
    result_code: Option<String>,
    result_message: Option<String>,
    cancel_num: Option<String>,
    ptid: Option<String>,
    requested_at: String,
}

#[derive(Debug, Deserialize)]
struct Refund {
    amount: i64,
    reason: String,
    bank_name: Option<String>,
    bank_code: String,
    account: String,
    holder: String,
    created_at: String,
}

#[derive(Debug, Deserialize)]
struct OrderList {
    data: Vec<Order>,
}

impl Shop {
    pub(super) fn new(
        gateway_url: String,
        api_key: SecretString,
        shop_url: String,
        escrow_mid: Option<String>,
        deposit_url: Option<String>,
        terminal: Option<(String, String)>,
    ) -> anyhow::Result<Shop> {
        let http = reqwest::Client::builder()
            // A cancel of a terminal sale answers once the buyer has inserted the card again on the terminal, which
            // the gateway waits for up to the terminal's timeout_secs (90 in the demo).
            .timeout(Duration::from_secs(120))
            // Everything is on loopback; a proxy from the environment would only get in the way.
            .no_proxy()
            .build()
            .context("building the demo shop's HTTP client")?;
        Ok(Shop {
            inner: Arc::new(ShopInner {
                http,
                gateway_url: gateway_url.trim_end_matches('/').to_string(),
                api_key,
                shop_url,
                escrow_mid,
                deposit_url,
                terminal: terminal.map(|(id, screen_url)| CounterTerminal { id, screen_url }),
            }),
        })
    }

    pub(super) fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.inner
            .http
            .request(method, format!("{}{path}", self.inner.gateway_url))
            .bearer_auth(self.inner.api_key.expose_secret())
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ShopError> {
        let response = request.send().await.map_err(ShopError::Unreachable)?;
        let status =
            StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
        let bytes = response.bytes().await.map_err(ShopError::Unreachable)?;
        if !status.is_success() {
            let body: serde_json::Value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!({ "detail": String::from_utf8_lossy(&bytes) }));
            let text = |key: &str| {
                body.get(key)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_string()
            };
            return Err(ShopError::Problem {
                status,
                title: text("title"),
                detail: text("detail"),
                body,
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| ShopError::Unreadable(e.to_string()))
    }

    async fn order(&self, order_id: &str) -> Result<Order, ShopError> {
        let path = format!("/v1/orders/{}", path_segment(order_id));
        self.call(self.request(reqwest::Method::GET, &path)).await
    }

    async fn recent_orders(&self) -> Result<Vec<Order>, ShopError> {
        let list: OrderList = self
            .call(self.request(reqwest::Method::GET, "/v1/orders?limit=10"))
            .await?;
        Ok(list.data)
    }
}

pub(super) fn query_url(path: &str, pairs: &[(&str, &str)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        query.append_pair(key, value);
    }
    format!("{path}?{}", query.finish())
}

pub(super) fn shop_router(shop: Shop) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/orders", post(create_order))
        .route("/result", get(result))
        .route("/orders/{order_id}/cancel", post(cancel))
        .route("/orders/{order_id}/refund", post(refund))
        .route("/orders/{order_id}/receipt", get(receipt))
        .merge(super::counter::routes())
        // The shop's pages show orders and buyers too: the gateway's page headers, framing refused.
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(crate::http::PageHeaders::new(&[])),
            crate::http::page_headers,
        ))
        .with_state(shop)
}

const PAY_METHODS: [(&str, &str); 7] = [
    ("CARD", "신용카드 (card)"),
    ("BANK", "계좌이체 (bank transfer)"),
    ("VBANK", "가상계좌 (virtual account)"),
    ("CELLPHONE", "휴대폰 (mobile phone)"),
    ("CLGIFT", "문화상품권 (gift card)"),
    ("TOSS", "토스페이 (Toss)"),
    ("KAKAO", "카카오페이 (Kakao)"),
];

/// A card company and instalment the shop may fix in advance (`card` of POST /v1/orders): `issuer:quota`.
const CARD_CHOICES: [(&str, &str); 5] = [
    ("", "구매자가 선택 (the buyer chooses)"),
    ("04:00", "삼성카드 일시불 (Samsung, lump sum)"),
    ("04:03", "삼성카드 3개월 할부 (Samsung, 3 months)"),
    ("02:06", "국민카드 6개월 할부 (KB, 6 months)"),
    ("06:12", "신한카드 12개월 할부 (Shinhan, 12 months)"),
];

/// Banks the demo's refund form offers, by Smartro's bank code (`GET /v1/codes/banks` has them all).
const REFUND_BANKS: &[&str] = &["004", "088", "020", "081", "011", "090"];

fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "결제 대기 (pending)",
        "awaiting_deposit" => "입금 대기 (awaiting deposit)",
        "paid" => "결제 완료 (paid)",
        "partially_cancelled" => "부분 취소 (partially cancelled)",
        "cancelled" => "전체 취소 (cancelled)",
        "expired" => "만료 (expired)",
        "needs_review" => "확인 필요 (needs review)",
        _ => "",
    }
}

pub(super) fn won(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    // ASCII digits, so every chunk is valid UTF-8.
    let groups: Vec<&str> = digits
        .as_bytes()
        .rchunks(3)
        .rev()
        .map(|group| std::str::from_utf8(group).unwrap_or(""))
        .collect();
    let sign = if amount < 0 { "-" } else { "" };
    format!("{sign}{}원", groups.join(","))
}

pub(super) fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="ko">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · 데모 상점</title>
<style>
body {{ font-family: -apple-system, "Apple SD Gothic Neo", "Malgun Gothic", "Noto Sans CJK KR", sans-serif;
       background: #f3f4f6; margin: 0; color: #111; }}
header {{ background: #0f172a; color: #fff; padding: .8rem 1.5rem; }}
header a {{ color: #fff; text-decoration: none; font-weight: 700; }}
header small {{ color: #94a3b8; margin-left: .5rem; }}
main {{ max-width: 46rem; margin: 1.5rem auto; padding: 0 1rem; }}
section {{ background: #fff; border-radius: 10px; padding: 1.2rem 1.5rem; margin-bottom: 1rem;
          box-shadow: 0 1px 6px rgba(0,0,0,.06); }}
h1 {{ font-size: 1.3rem; margin: 0 0 1rem; }} h2 {{ font-size: 1.05rem; margin: 0 0 .8rem; }}
label {{ display: block; font-weight: 600; margin-top: .7rem; }}
label small, .hint {{ color: #64748b; font-weight: 400; }}
input, select {{ width: 100%; box-sizing: border-box; padding: .55rem; font-size: 1rem; border: 1px solid #cbd5e1;
                border-radius: 6px; margin-top: .25rem; }}
input[type=checkbox] {{ width: auto; margin: 0 .4rem 0 0; }}
fieldset {{ border: 1px solid #e5e7eb; border-radius: 6px; margin-top: 1rem; padding: .2rem .9rem .8rem; }}
legend {{ font-weight: 600; padding: 0 .3rem; }}
button {{ margin-top: 1rem; padding: .7rem 1.2rem; font-size: 1rem; border: 0; border-radius: 6px;
         background: #2563eb; color: #fff; cursor: pointer; }}
button.danger {{ background: #dc2626; }}
table {{ width: 100%; border-collapse: collapse; font-size: .92rem; }}
th, td {{ text-align: left; padding: .35rem .4rem; border-bottom: 1px solid #e5e7eb; vertical-align: top; }}
th {{ color: #475569; font-weight: 600; white-space: nowrap; }}
.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
.scroll {{ overflow-x: auto; }}
.status {{ display: inline-block; padding: .1rem .5rem; border-radius: 999px; background: #e0e7ff; font-weight: 700; }}
.notice {{ background: #ecfdf5; border: 1px solid #10b981; }}
.error {{ background: #fef2f2; border: 1px solid #ef4444; }}
pre {{ background: #0f172a; color: #e2e8f0; padding: 1rem; border-radius: 6px; overflow-x: auto; font-size: .85rem; }}
</style>
</head>
<body>
<header><a href="/">데모 상점</a> · <a href="/counter" id="counter-nav">카운터 (POS)</a><small>Demo shop of smartro-gateway · 테스트 환경 (sandbox, no real payments)</small></header>
<main>
{body}
</main>
</body>
</html>"#,
        title = escape(title),
    ))
}

pub(super) fn error_section(title: &str, err: &ShopError) -> String {
    let mut text = format!(
        "<section class=\"error\" id=\"error\"><h2>{}</h2><p>{}</p>",
        escape(title),
        escape(&err.to_string())
    );
    if let ShopError::Problem { body, .. } = err {
        if let Some(errors) = body.get("errors").and_then(|e| e.as_array()) {
            text.push_str("<ul>");
            for e in errors {
                let field = e.get("field").and_then(|v| v.as_str()).unwrap_or("");
                let message = e.get("message").and_then(|v| v.as_str()).unwrap_or("");
                text.push_str(&format!(
                    "<li><b>{}</b>: {}</li>",
                    escape(field),
                    escape(message)
                ));
            }
            text.push_str("</ul>");
        }
    }
    text.push_str("</section>");
    text
}

fn order_form(values: &HashMap<String, String>, escrow_offered: bool) -> String {
    let value =
        |key: &str, default: &str| escape(values.get(key).map(String::as_str).unwrap_or(default));
    let chosen = values
        .get("pay_method")
        .map(String::as_str)
        .unwrap_or("CARD");
    let options: String = PAY_METHODS
        .iter()
        .map(|(code, label)| {
            let selected = if *code == chosen { " selected" } else { "" };
            format!("<option value=\"{code}\"{selected}>{label}</option>")
        })
        .collect();
    let chosen_card = values.get("card").map(String::as_str).unwrap_or("");
    let card_options: String = CARD_CHOICES
        .iter()
        .map(|(code, label)| {
            let selected = if *code == chosen_card {
                " selected"
            } else {
                ""
            };
            format!("<option value=\"{code}\"{selected}>{label}</option>")
        })
        .collect();
    let checked = |key: &str| {
        if values.get(key).is_some_and(|v| v == "on") {
            " checked"
        } else {
            ""
        }
    };
    let escrow = if escrow_offered {
        format!(
            r#"<label><input type="checkbox" id="escrow" name="escrow"{}> 에스크로 (구매안전서비스) <small>escrow: Smartro holds the money until the goods arrive</small></label>"#,
            checked("escrow")
        )
    } else {
        String::new()
    };
    format!(
        r#"<section>
<h1>주문하기 <span class="hint">(Place an order)</span></h1>
<form method="post" action="/orders" accept-charset="UTF-8">
<label for="goods_name">상품명 <small>goods name</small></label>
<input id="goods_name" name="goods_name" value="{goods}" required maxlength="40">
<label for="amount">결제금액 (원) <small>amount in KRW</small></label>
<input id="amount" name="amount" type="number" min="1" step="1" value="{amount}" required>
<label for="pay_method">결제수단 <small>pay method</small></label>
<select id="pay_method" name="pay_method">{options}</select>
<label for="buyer_name">구매자명 <small>buyer name</small></label>
<input id="buyer_name" name="buyer_name" value="{buyer}" required maxlength="30">
<label for="buyer_tel">연락처 <small>phone</small></label>
<input id="buyer_tel" name="buyer_tel" value="{tel}" maxlength="20">
<label for="buyer_email">이메일 <small>email</small></label>
<input id="buyer_email" name="buyer_email" type="email" value="{email}" maxlength="60">
<fieldset id="options"><legend>결제 옵션 <small class="hint">(options)</small></legend>
<label for="card">카드사·할부 지정 <small>card company and instalment, CARD only</small></label>
<select id="card" name="card">{card_options}</select>
<label><input type="checkbox" id="cash_receipt" name="cash_receipt"{cash_receipt}> 현금영수증 <small>cash receipt, KAKAO and TOSS</small></label>
{escrow}
</fieldset>
<button type="submit" id="submit">결제하기 <small>(pay)</small></button>
<p class="hint">상점 서버가 게이트웨이 API(POST /v1/orders)로 주문을 만들고 결제 페이지로 이동합니다.
(The shop's server creates the order through the gateway's API and sends you to its checkout page.)</p>
</form>
</section>"#,
        goods = value("goods_name", "테스트 상품"),
        amount = value("amount", "1004"),
        buyer = value("buyer_name", "홍길동"),
        tel = value("buyer_tel", "01012345678"),
        email = value("buyer_email", "buyer@example.com"),
        cash_receipt = checked("cash_receipt"),
    )
}

fn recent_section(orders: &Result<Vec<Order>, ShopError>) -> String {
    let orders = match orders {
        Ok(orders) => orders,
        Err(e) => {
            return error_section("최근 주문을 불러오지 못했습니다 (could not list orders)", e)
        }
    };
    if orders.is_empty() {
        return "<section><h2>최근 주문 <span class=\"hint\">(recent orders)</span></h2><p class=\"hint\">아직 주문이 없습니다. (No orders yet.)</p></section>".to_string();
    }
    let rows: String = orders
        .iter()
        .map(|o| {
            format!(
                "<tr><td><a href=\"{href}\">{id}</a></td><td>{goods}</td><td>{method}</td><td class=\"num\">{amount}</td><td>{status}</td><td>{created}</td></tr>",
                href = escape(&query_url("/result", &[("order_id", &o.order_id)])),
                id = escape(&o.order_id),
                goods = escape(&o.goods_name),
                method = escape(&o.pay_method),
                amount = won(o.amount),
                status = escape(&o.status),
                created = escape(&o.created_at),
            )
        })
        .collect();
    format!(
        r#"<section id="recent-orders"><h2>최근 주문 <span class="hint">(recent orders)</span></h2>
<div class="scroll"><table><tr><th>주문번호</th><th>상품명</th><th>수단</th><th class="num">금액</th><th>상태</th><th>주문일시</th></tr>
{rows}</table></div></section>"#
    )
}

async fn index(State(shop): State<Shop>) -> Html<String> {
    let recent = shop.recent_orders().await;
    let body = format!(
        "{}\n{}",
        order_form(&HashMap::new(), shop.inner.escrow_mid.is_some()),
        recent_section(&recent)
    );
    layout("주문하기", &body)
}

async fn create_order(
    State(shop): State<Shop>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |key: &str| {
        form.get(key)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let amount = match field("amount").parse::<i64>() {
        Ok(amount) => amount,
        Err(_) => {
            let body = format!(
                "<section class=\"error\" id=\"error\"><h2>금액을 확인해 주세요</h2><p>amount must be a whole number of won, got {}</p></section>{}",
                escape(&field("amount")),
                order_form(&form, shop.inner.escrow_mid.is_some())
            );
            return (StatusCode::UNPROCESSABLE_ENTITY, layout("주문하기", &body)).into_response();
        }
    };
    let pay_method = field("pay_method");
    let mut request = json!({
        "amount": amount,
        "goods_name": field("goods_name"),
        "pay_method": pay_method,
        "buyer": {
            "name": field("buyer_name"),
            "tel": field("buyer_tel"),
            "email": field("buyer_email"),
        },
        "return_url": format!("{}/result", shop.inner.shop_url),
        // The shop's own id of the buyer: Smartro requires one for gift cards and the easy-pay methods.
        "mall_user_id": "demo-buyer",
    });
    if pay_method == "KAKAO" {
        // Kakao Pay from the buyer's Kakao money (KPCD would be its cards).
        request["pay_type"] = json!("KPMY");
    }
    if let Some((issuer_code, quota)) = field("card").split_once(':') {
        request["card"] = json!({ "issuer_code": issuer_code, "quota": quota });
    }
    if form.get("cash_receipt").is_some_and(|v| v == "on") {
        request["cash_receipt"] = json!(true);
    }
    if form.get("escrow").is_some_and(|v| v == "on") {
        if let Some(mid) = &shop.inner.escrow_mid {
            request["mid"] = json!(mid);
            request["escrow"] = json!({});
        }
    }
    let created: Result<Order, ShopError> = shop
        .call(
            shop.request(reqwest::Method::POST, "/v1/orders")
                .json(&request),
        )
        .await;
    match created {
        Ok(Order {
            order_id,
            checkout_url: Some(checkout_url),
            ..
        }) => {
            tracing::info!(%order_id, "demo shop: order created, sending the buyer to checkout");
            Redirect::to(&checkout_url).into_response()
        }
        Ok(order) => {
            let e = ShopError::Unreadable(format!(
                "order {} came without a checkout_url",
                order.order_id
            ));
            let body = format!(
                "{}{}",
                error_section("결제 페이지가 없습니다 (no checkout page)", &e),
                order_form(&form, shop.inner.escrow_mid.is_some())
            );
            (e.status(), layout("주문하기", &body)).into_response()
        }
        Err(e) => {
            let body = format!(
                "{}{}",
                error_section(
                    "주문을 만들지 못했습니다 (the gateway refused the order)",
                    &e
                ),
                order_form(&form, shop.inner.escrow_mid.is_some())
            );
            (e.status(), layout("주문하기", &body)).into_response()
        }
    }
}

fn order_section(
    order: &Order,
    deposit_url: Option<&str>,
    terminal_screen: Option<&str>,
) -> String {
    let mut rows = format!(
        r#"<tr><th>주문번호 <small class="hint">order id</small></th><td id="order-id">{id}</td></tr>
<tr><th>상태 <small class="hint">status</small></th><td><span class="status" id="order-status" data-status="{status}">{status}</span> {label}</td></tr>
<tr><th>상품명 <small class="hint">goods</small></th><td id="order-goods-name">{goods}</td></tr>
{buyer_row}<tr><th>결제수단 <small class="hint">method</small></th><td>{method}</td></tr>
<tr><th>주문금액 <small class="hint">amount</small></th><td id="order-amount">{amount}</td></tr>
<tr><th>결제금액 <small class="hint">paid</small></th><td id="order-paid-amount">{paid}</td></tr>
<tr><th>취소금액 <small class="hint">cancelled</small></th><td id="order-cancelled-amount">{cancelled}</td></tr>
<tr><th>환불금액 <small class="hint">refunded by the shop</small></th><td id="order-refunded-amount">{refunded}</td></tr>
<tr><th>TID</th><td id="order-tid">{tid}</td></tr>
<tr><th>주문일시 <small class="hint">created</small></th><td>{created}</td></tr>"#,
        id = escape(&order.order_id),
        status = escape(&order.status),
        label = status_label(&order.status),
        goods = escape(&order.goods_name),
        // A sale at the counter has no buyer on record.
        buyer_row = if order.channel == "terminal" {
            String::new()
        } else {
            format!(
                "<tr><th>구매자 <small class=\"hint\">buyer</small></th><td><span id=\"order-buyer-name\">{}</span> · {} · {}</td></tr>\n",
                escape(&order.buyer.name),
                escape(&order.buyer.tel),
                escape(&order.buyer.email),
            )
        },
        method = escape(&order.pay_method),
        amount = won(order.amount),
        paid = won(order.paid_amount),
        cancelled = won(order.cancelled_amount),
        refunded = won(order.refunded_amount),
        tid = escape(order.tid.as_deref().unwrap_or("-")),
        created = escape(&order.created_at),
    );
    if let Some(paid_at) = &order.paid_at {
        rows.push_str(&format!(
            "<tr><th>결제일시 <small class=\"hint\">paid at</small></th><td>{}</td></tr>",
            escape(paid_at)
        ));
    }
    if let Some(code) = &order.result_code {
        rows.push_str(&format!(
            "<tr><th>결과 <small class=\"hint\">result</small></th><td id=\"order-result\">[{}] {}</td></tr>",
            escape(code),
            escape(order.result_message.as_deref().unwrap_or(""))
        ));
    }
    if let Some(card) = &order.card {
        rows.push_str(&format!(
            "<tr><th>카드 <small class=\"hint\">card</small></th><td>{} {} · 할부 {}</td></tr>",
            escape(card.issuer_name.as_deref().unwrap_or("")),
            escape(card.masked_number.as_deref().unwrap_or("")),
            escape(card.quota.as_deref().unwrap_or("00")),
        ));
    }
    if let Some(vbank) = &order.vbank {
        rows.push_str(&format!(
            "<tr><th>가상계좌 <small class=\"hint\">virtual account</small></th><td id=\"order-vbank\">{} {} (입금기한 {})</td></tr>",
            escape(vbank.bank_name.as_deref().unwrap_or("")),
            escape(vbank.account.as_deref().unwrap_or("")),
            escape(vbank.expires.as_deref().unwrap_or("-")),
        ));
    }
    if let Some(receipt) = &order.cash_receipt {
        let kind = match receipt.kind.as_str() {
            "income_deduction" => "소득공제 (income deduction)",
            "expense_proof" => "지출증빙 (expense proof)",
            _ => "",
        };
        rows.push_str(&format!(
            "<tr><th>현금영수증 <small class=\"hint\">cash receipt</small></th><td id=\"order-cash-receipt\">{kind} · 승인번호 {}</td></tr>",
            escape(receipt.approval_no.as_deref().unwrap_or("-")),
        ));
    }
    if let Some(options) = &order.options {
        let mut asked = Vec::new();
        if options.get("escrow").is_some() {
            asked.push("에스크로 (escrow)".to_string());
        }
        if let Some(card) = options.get("card") {
            asked.push(format!(
                "카드 지정 {} · 할부 {}",
                card["issuer_code"].as_str().unwrap_or(""),
                card["quota"].as_str().unwrap_or("")
            ));
        }
        if options.get("cash_receipt").and_then(|v| v.as_bool()) == Some(true) {
            asked.push("현금영수증 요청 (cash receipt asked)".to_string());
        }
        if !asked.is_empty() {
            rows.push_str(&format!(
                "<tr><th>옵션 <small class=\"hint\">options</small></th><td id=\"order-options\">{}</td></tr>",
                escape(&asked.join(" · "))
            ));
        }
    }
    let mut out = format!("<section><h1>주문 결과 <span class=\"hint\">(order)</span></h1><div class=\"scroll\"><table>{rows}</table></div>");
    if let (true, Some(url)) = (order.status == "pending", &order.checkout_url) {
        out.push_str(&format!(
            "<p><a id=\"retry-link\" href=\"{}\">다시 결제하기 (pay again)</a></p>",
            escape(url)
        ));
    }
    if let Some(t) = &order.terminal {
        out.push_str(&format!(
            "<p>매장 단말기 결제 <small class=\"hint\">(in-store sale on terminal {})</small> · <a id=\"terminal-transaction-link\" href=\"/counter/transactions/{}\">거래·전표 보기 (transaction and slip)</a></p>",
            escape(&t.terminal_id),
            path_segment(&t.transaction_id),
        ));
        let cancels: String = t
            .transactions
            .iter()
            .filter(|tx| tx.kind.ends_with("_cancel"))
            .map(|tx| {
                format!(
                    "<li><a class=\"terminal-cancel-link\" href=\"/counter/transactions/{}\">취소 거래 (cancel on the terminal)</a> · {}</li>",
                    path_segment(&tx.id),
                    escape(&tx.status),
                )
            })
            .collect();
        if !cancels.is_empty() {
            out.push_str(&format!("<ul>{cancels}</ul>"));
        }
    }
    out.push_str("</section>");
    if !order.payments.is_empty() {
        let rows: String = order
            .payments
            .iter()
            .map(|p| {
                format!(
                    "<tr><td>{}</td><td>[{}] {}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&p.tid),
                    escape(&p.result_code),
                    escape(&p.result_message),
                    won(p.amount),
                    escape(p.auth_code.as_deref().unwrap_or("-")),
                    escape(&p.source),
                )
            })
            .collect();
        out.push_str(&format!(
            "<section id=\"payments\"><h2>결제 내역 <span class=\"hint\">(payments)</span></h2><div class=\"scroll\"><table><tr><th>TID</th><th>결과</th><th class=\"num\">금액</th><th>승인번호</th><th>경로</th></tr>{rows}</table></div></section>"
        ));
    }
    if !order.cancellations.is_empty() {
        let rows: String = order
            .cancellations
            .iter()
            .map(|c| {
                format!(
                    "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>[{}] {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    won(c.amount),
                    if c.partial { "부분 (partial)" } else { "전체 (full)" },
                    escape(&c.status),
                    escape(c.result_code.as_deref().unwrap_or("-")),
                    escape(c.result_message.as_deref().unwrap_or("")),
                    escape(c.cancel_num.as_deref().unwrap_or("-")),
                    escape(c.ptid.as_deref().unwrap_or("-")),
                    escape(&c.requested_at),
                )
            })
            .collect();
        out.push_str(&format!(
            "<section id=\"cancellations\"><h2>취소 내역 <span class=\"hint\">(cancellations)</span></h2><div class=\"scroll\"><table><tr><th class=\"num\">금액</th><th>구분</th><th>상태</th><th>결과</th><th>취소번호</th><th>PTID</th><th>요청일시</th></tr>{rows}</table></div></section>"
        ));
    }
    if !order.refunds.is_empty() {
        let rows: String = order
            .refunds
            .iter()
            .map(|r| {
                format!(
                    "<tr><td class=\"num\">{}</td><td>{}</td><td>{} {} ({})</td><td>{}</td><td>{}</td></tr>",
                    won(r.amount),
                    escape(&r.reason),
                    escape(r.bank_name.as_deref().unwrap_or(&r.bank_code)),
                    escape(&r.account),
                    escape(&r.holder),
                    escape(&r.created_at),
                    escape(&r.bank_code),
                )
            })
            .collect();
        out.push_str(&format!(
            "<section id=\"refunds\"><h2>환불 내역 <span class=\"hint\">(refunds the shop made)</span></h2><div class=\"scroll\"><table><tr><th class=\"num\">금액</th><th>사유</th><th>입금 계좌</th><th>기록일시</th><th>은행코드</th></tr>{rows}</table></div></section>"
        ));
    }
    let remaining = order.paid_amount - order.cancelled_amount - order.refunded_amount;
    let path = path_segment(&order.order_id);
    let settled = matches!(order.status.as_str(), "paid" | "partially_cancelled");
    if order.status == "awaiting_deposit" {
        if let (Some(url), Some(tid)) = (deposit_url, &order.tid) {
            let url = query_url(url, &[("TID", tid)]);
            out.push_str(&format!(
                r#"<section><h2>입금 <span class="hint">(deposit)</span></h2><p>구매자가 가상계좌에 입금하면 Smartro가 알려 줍니다. 샌드박스에서는 <a id="deposit-link" href="{url}" target="_blank" rel="noopener">입금 테스트 페이지</a>에서 입금할 수 있습니다. <small class="hint">(the sandbox's deposit page pays the account by its TID)</small></p></section>"#,
                url = escape(&url),
            ));
        }
    }
    // Smartro cannot cancel a virtual-account payment: the shop sends the money back itself and records it.
    if remaining > 0 && settled && order.pay_method == "VBANK" {
        out.push_str(&format!(
            r#"<section><h2>환불 <span class="hint">(refund: the shop transfers the money back, then records it)</span></h2>
<form method="post" action="/orders/{path}/refund" accept-charset="UTF-8">
<input type="hidden" name="idempotency_key" value="{key}">
<label for="refund-amount">환불금액 (원) <small>amount, at most {remaining}</small></label>
<input id="refund-amount" name="amount" type="number" min="1" max="{max}" step="1" value="{max}" required>
<label for="refund-bank">은행 <small>bank code of GET /v1/codes/banks</small></label>
<select id="refund-bank" name="bank_code">{banks}</select>
<label for="refund-account">계좌번호 <small>account the money went to</small></label>
<input id="refund-account" name="account" required maxlength="24" pattern="[0-9-]+" placeholder="110-123-456789">
<label for="refund-holder">예금주 <small>holder</small></label>
<input id="refund-holder" name="holder" required maxlength="60" value="{holder}">
<label for="refund-reason">환불사유 <small>reason</small></label>
<input id="refund-reason" name="reason" value="입금 후 주문 취소" required maxlength="200">
<button type="submit" class="danger" id="refund-submit">환불 기록 <small>(record the refund)</small></button>
</form></section>"#,
            key = uuid::Uuid::new_v4(),
            remaining = won(remaining),
            max = remaining,
            banks = REFUND_BANKS
                .iter()
                .filter_map(|code| smartro::codes::bank(code))
                .map(|bank| format!(
                    "<option value=\"{code}\">{name} ({code})</option>",
                    code = bank.code,
                    name = bank.name
                ))
                .collect::<String>(),
            holder = escape(&order.buyer.name),
        ));
    } else if remaining > 0 && settled && order.channel == "terminal" {
        // The terminal cancels a sale only whole (010020 / 030020 with the original approval): no amount field.
        out.push_str(&format!(
            r#"<section><h2>결제 취소 <span class="hint">(cancel on the terminal: the whole sale)</span></h2>
<form method="post" action="/orders/{path}/cancel" accept-charset="UTF-8">
<input type="hidden" name="idempotency_key" value="{key}">
<label for="cancel-reason">취소사유 <small>reason</small></label>
<input id="cancel-reason" name="reason" value="고객 요청" required maxlength="50">
<button type="submit" class="danger" id="cancel-submit">전액 취소하기 <small>(cancel {remaining})</small></button>
<p class="hint">취소를 누른 뒤 {screen}에서 카드를 다시 넣어야 취소됩니다. (After pressing cancel, insert the card again on the terminal.)</p>
</form></section>"#,
            key = uuid::Uuid::new_v4(),
            remaining = won(remaining),
            screen = terminal_screen
                .map(|url| format!(
                    "<a id=\"cancel-terminal-screen-link\" href=\"{}\" target=\"_blank\" rel=\"noopener\">단말기 화면</a>",
                    escape(url)
                ))
                .unwrap_or_else(|| "단말기".to_string()),
        ));
    } else if remaining > 0 && settled {
        out.push_str(&format!(
            r#"<section><h2>결제 취소 <span class="hint">(cancel)</span></h2>
<form method="post" action="/orders/{path}/cancel" accept-charset="UTF-8">
<input type="hidden" name="idempotency_key" value="{key}">
<label for="cancel-amount">취소금액 (원) <small>amount; empty = all that is left ({remaining})</small></label>
<input id="cancel-amount" name="amount" type="number" min="1" max="{max}" step="1" placeholder="비우면 전액 취소 (empty: cancel all)">
<label for="cancel-reason">취소사유 <small>reason</small></label>
<input id="cancel-reason" name="reason" value="고객 요청" required maxlength="50">
<button type="submit" class="danger" id="cancel-submit">취소하기 <small>(cancel)</small></button>
</form></section>"#,
            key = uuid::Uuid::new_v4(),
            remaining = won(remaining),
            max = remaining,
        ));
    }
    // A terminal sale's slip is on its transaction's page (linked above); Smartro's receipt lookup is WEBLink's.
    if order.tid.is_some() && order.channel != "terminal" {
        out.push_str(&format!(
            "<section><h2>영수증 <span class=\"hint\">(receipt)</span></h2><p><a id=\"receipt-link\" href=\"/orders/{path}/receipt\">영수증 조회 (receipt data from GET /v1/orders/{{id}}/receipt)</a></p></section>"
        ));
    }
    out.push_str("<p><a href=\"/\">← 상점으로 돌아가기 (back to the shop)</a></p>");
    out
}

async fn render_order_page(
    shop: &Shop,
    order_id: &str,
    banner: String,
    status: StatusCode,
) -> Response {
    match shop.order(order_id).await {
        Ok(order) => (
            status,
            layout(
                "주문 결과",
                &format!(
                    "{banner}{}",
                    order_section(
                        &order,
                        shop.inner.deposit_url.as_deref(),
                        shop.inner.terminal.as_ref().map(|t| t.screen_url.as_str())
                    )
                ),
            ),
        )
            .into_response(),
        Err(e) => {
            let body = format!(
                "{banner}{}<p><a href=\"/\">← 상점으로 돌아가기 (back to the shop)</a></p>",
                error_section("주문을 불러오지 못했습니다 (could not load the order)", &e)
            );
            (e.status(), layout("주문 결과", &body)).into_response()
        }
    }
}

/// The shop's ReturnURL page: the gateway redirects here with `order_id` and `status`; the shop trusts neither
/// and reads the order from the API.
async fn result(
    State(shop): State<Shop>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let Some(order_id) = query.get("order_id").filter(|id| !id.is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            layout("주문 결과", "<section class=\"error\" id=\"error\"><h2>주문번호가 없습니다</h2><p>order_id is missing</p></section>"),
        )
            .into_response();
    };
    let banner = if query.contains_key("cancelled") {
        "<section class=\"notice\" id=\"notice\"><p>취소 요청이 처리되었습니다. (The cancel was processed.)</p></section>".to_string()
    } else if query.contains_key("refunded") {
        "<section class=\"notice\" id=\"notice\"><p>환불이 기록되었습니다. (The refund was recorded.)</p></section>".to_string()
    } else {
        String::new()
    };
    render_order_page(&shop, order_id, banner, StatusCode::OK).await
}

async fn cancel(
    State(shop): State<Shop>,
    Path(order_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let amount_text = form.get("amount").map(|v| v.trim()).unwrap_or("");
    let amount = if amount_text.is_empty() {
        None
    } else {
        match amount_text.parse::<i64>() {
            Ok(amount) => Some(amount),
            Err(_) => {
                let banner = format!(
                    "<section class=\"error\" id=\"error\"><h2>취소금액을 확인해 주세요</h2><p>amount must be a whole number of won, got {}</p></section>",
                    escape(amount_text)
                );
                return render_order_page(
                    &shop,
                    &order_id,
                    banner,
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await;
            }
        }
    };
    let reason = form
        .get("reason")
        .map(|r| r.trim())
        .filter(|r| !r.is_empty())
        .unwrap_or("고객 요청");
    let mut body = json!({ "reason": reason });
    if let Some(amount) = amount {
        body["amount"] = json!(amount);
    }
    let mut request = shop
        .request(
            reqwest::Method::POST,
            &format!("/v1/orders/{}/cancel", path_segment(&order_id)),
        )
        .json(&body);
    // One key per rendered form: a double click or a resubmitted page never cancels twice.
    if let Some(key) = form.get("idempotency_key").filter(|k| !k.is_empty()) {
        request = request.header("Idempotency-Key", key.as_str());
    }
    let cancelled: Result<Order, ShopError> = shop.call(request).await;
    match cancelled {
        Ok(order) => Redirect::to(&query_url(
            "/result",
            &[("order_id", &order.order_id), ("cancelled", "1")],
        ))
        .into_response(),
        Err(e) => {
            let banner = error_section("취소하지 못했습니다 (the cancel was refused)", &e);
            render_order_page(&shop, &order_id, banner, e.status()).await
        }
    }
}

/// Records a refund the shop made by bank transfer (`POST /v1/orders/{id}/refunds`); the gateway checks the amount
/// against what is left and the bank code against Smartro's table.
async fn refund(
    State(shop): State<Shop>,
    Path(order_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let Ok(amount) = field("amount").parse::<i64>() else {
        let banner = format!(
            "<section class=\"error\" id=\"error\"><h2>환불금액을 확인해 주세요</h2><p>amount must be a whole number of won, got {}</p></section>",
            escape(field("amount"))
        );
        return render_order_page(&shop, &order_id, banner, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let body = json!({
        "amount": amount,
        "reason": field("reason"),
        "bank_code": field("bank_code"),
        "account": field("account"),
        "holder": field("holder"),
    });
    let mut request = shop
        .request(
            reqwest::Method::POST,
            &format!("/v1/orders/{}/refunds", path_segment(&order_id)),
        )
        .json(&body);
    // One key per rendered form: a resubmitted page never records the same transfer twice.
    if let Some(key) = form.get("idempotency_key").filter(|k| !k.is_empty()) {
        request = request.header("Idempotency-Key", key.as_str());
    }
    let refunded: Result<Order, ShopError> = shop.call(request).await;
    match refunded {
        Ok(order) => Redirect::to(&query_url(
            "/result",
            &[("order_id", &order.order_id), ("refunded", "1")],
        ))
        .into_response(),
        Err(e) => {
            let banner = error_section("환불을 기록하지 못했습니다 (the refund was refused)", &e);
            render_order_page(&shop, &order_id, banner, e.status()).await
        }
    }
}

async fn receipt(State(shop): State<Shop>, Path(order_id): Path<String>) -> Response {
    let path = format!("/v1/orders/{}/receipt", path_segment(&order_id));
    let answer: Result<serde_json::Value, ShopError> =
        shop.call(shop.request(reqwest::Method::GET, &path)).await;
    let back = format!(
        "<p><a href=\"{}\">← 주문으로 돌아가기 (back to the order)</a></p>",
        escape(&query_url("/result", &[("order_id", &order_id)]))
    );
    let (status, receipt_url, content) = match &answer {
        Ok(receipt) => {
            let pretty = serde_json::to_string_pretty(receipt).unwrap_or_default();
            (
                StatusCode::OK,
                receipt.get("receipt_url").and_then(|v| v.as_str()).map(str::to_string),
                format!("<section><h2>영수증 데이터 <span class=\"hint\">(receipt JSON)</span></h2><pre id=\"receipt-json\">{}</pre></section>", escape(&pretty)),
            )
        }
        Err(e) => {
            let url = match e {
                ShopError::Problem { body, .. } => body
                    .get("receipt_url")
                    .and_then(|v| v.as_str())
                    .map(str::to_string),
                _ => None,
            };
            (
                e.status(),
                url,
                error_section("영수증을 불러오지 못했습니다 (receipt lookup failed)", e),
            )
        }
    };
    let link = receipt_url
        .map(|url| {
            format!(
                "<section><p><a id=\"receipt-url\" href=\"{0}\" target=\"_blank\" rel=\"noopener\">영수증 페이지 열기 (open the receipt page)</a></p><p class=\"hint\">{0}</p></section>",
                escape(&url)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>영수증 <span class=\"hint\">(receipt of {})</span></h1>{link}{content}{back}",
        escape(&order_id)
    );
    let mut response = (status, layout("영수증", &body)).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_encoded_for_paths() {
        assert_eq!(path_segment("ORD-2024_01.a~"), "ORD-2024_01.a~");
        assert_eq!(path_segment("a/b?c"), "a%2Fb%3Fc");
        assert_eq!(path_segment("주문"), "%EC%A3%BC%EB%AC%B8");
    }

    #[test]
    fn won_groups_thousands() {
        assert_eq!(won(0), "0원");
        assert_eq!(won(999), "999원");
        assert_eq!(won(1004), "1,004원");
        assert_eq!(won(-1_000_000), "-1,000,000원");
    }
}
