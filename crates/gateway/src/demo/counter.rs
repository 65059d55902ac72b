//! The demo shop's counter (카운터 / POS): a shop assistant rings a sale up on the in-store card terminal through
//! the gateway's API (`POST /v1/terminals/{id}/payments`), follows it (`GET /v1/terminal-transactions/{id}`) while
//! the buyer inserts the card and signs on the terminal, can abort it, and prints the slip once it is approved.
//! Like the rest of the shop it talks to the gateway only over HTTP with the API key.

use std::collections::HashMap;

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::shop::{error_section, layout, query_url, won, Shop, ShopError};
use crate::http::pages::escape;
use crate::views::path_segment;

pub(super) fn routes() -> Router<Shop> {
    Router::new()
        .route("/counter", get(counter))
        .route("/counter/sales", post(ring_up))
        .route("/counter/transactions/{transaction_id}", get(transaction))
        .route("/counter/transactions/{transaction_id}/abort", post(abort))
}

/// `GET /v1/terminal-transactions/{id}`, as far as the counter uses it.
#[derive(Debug, Deserialize)]
struct Transaction {
    id: String,
    terminal_id: String,
    kind: String,
    status: String,
    ptxid: String,
    #[serde(default)]
    order_id: Option<String>,
    amount: i64,
    #[serde(default)]
    approved_amount: Option<i64>,
    #[serde(default)]
    approval_no: Option<String>,
    #[serde(default)]
    transaction_no: Option<String>,
    #[serde(default)]
    transaction_date: Option<String>,
    #[serde(default)]
    issuer: Option<Company>,
    #[serde(default)]
    acquirer: Option<Company>,
    #[serde(default)]
    masked_card: Option<String>,
    #[serde(default)]
    result_code: Option<String>,
    #[serde(default)]
    result_message: Option<String>,
    #[serde(default)]
    abort_requested: bool,
}

#[derive(Debug, Deserialize)]
struct Company {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

/// The parts of the order the slip prints.
#[derive(Debug, Deserialize)]
struct SaleOrder {
    goods_name: String,
    mid: String,
    status: String,
}

#[derive(Debug, Deserialize)]
struct TerminalList {
    data: Vec<TerminalInfo>,
}

#[derive(Debug, Deserialize)]
struct TerminalInfo {
    id: String,
    connected: bool,
    busy: bool,
    #[serde(default)]
    open_transaction: Option<Transaction>,
}

const METHODS: [(&str, &str); 2] = [
    ("card", "신용카드 (card)"),
    ("easy_pay", "간편결제 QR (easy pay)"),
];

/// Still in progress: the page follows it.
fn is_open(status: &str) -> bool {
    matches!(status, "requested" | "awaiting_signature" | "unknown")
}

fn status_label(kind: &str, status: &str) -> &'static str {
    match status {
        "succeeded" if kind.ends_with("_cancel") => "취소 완료 (cancelled on the terminal)",
        "requested" => "카드를 기다리는 중 (waiting for the card on the terminal)",
        "awaiting_signature" => "서명을 기다리는 중 (waiting for the signature)",
        "succeeded" => "승인 완료 (approved)",
        "failed" => "승인 실패 (failed)",
        "aborted" => "거래 중단 (aborted)",
        "unknown" => {
            "결과 확인 중 (unknown: the gateway asks the terminal for its last transaction)"
        }
        _ => "",
    }
}

/// `YYYYMMDDhhmmss` (Korean time, as the terminal writes it) as `YYYY-MM-DD hh:mm:ss`; anything else as it is.
fn slip_date(raw: &str) -> String {
    let ok = raw.len() == 14 && raw.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return raw.to_string();
    }
    format!(
        "{}-{}-{} {}:{}:{}",
        &raw[0..4],
        &raw[4..6],
        &raw[6..8],
        &raw[8..10],
        &raw[10..12],
        &raw[12..14]
    )
}

fn no_terminal() -> Response {
    (
        StatusCode::NOT_FOUND,
        layout(
            "카운터",
            "<section class=\"error\" id=\"error\"><h2>단말기가 없습니다</h2><p>no card terminal is configured for the counter</p></section>",
        ),
    )
        .into_response()
}

fn counter_form(values: &HashMap<String, String>) -> String {
    let value =
        |key: &str, default: &str| escape(values.get(key).map(String::as_str).unwrap_or(default));
    let chosen = values.get("method").map(String::as_str).unwrap_or("card");
    let options: String = METHODS
        .iter()
        .map(|(code, label)| {
            let selected = if *code == chosen { " selected" } else { "" };
            format!("<option value=\"{code}\"{selected}>{label}</option>")
        })
        .collect();
    format!(
        r#"<section>
<h1>카운터 <span class="hint">(counter: ring a sale up on the card terminal)</span></h1>
<form method="post" action="/counter/sales" accept-charset="UTF-8">
<input type="hidden" name="idempotency_key" value="{key}">
<label for="counter-goods-name">상품명 <small>goods name</small></label>
<input id="counter-goods-name" name="goods_name" value="{goods}" required maxlength="40">
<label for="counter-amount">결제금액 (원) <small>amount in KRW</small></label>
<input id="counter-amount" name="amount" type="number" min="1" step="1" value="{amount}" required>
<label for="counter-method">결제수단 <small>method</small></label>
<select id="counter-method" name="method">{options}</select>
<button type="submit" id="ring-up">단말기로 결제 요청 <small>(ring it up)</small></button>
<p class="hint">상점 서버가 게이트웨이 API(POST /v1/terminals/{{id}}/payments)로 단말기에 결제를 요청합니다. 손님은 단말기에 카드를 넣습니다.
(The shop's server asks the gateway to send the sale to the terminal; the buyer inserts the card there.)</p>
</form>
</section>"#,
        key = uuid::Uuid::new_v4(),
        goods = value("goods_name", "아메리카노"),
        amount = value("amount", "4500"),
    )
}

fn terminal_section(shop: &Shop, listed: &Result<TerminalList, ShopError>) -> String {
    let Some(terminal) = &shop.inner.terminal else {
        return String::new();
    };
    let screen = format!(
        "<a id=\"terminal-screen-link\" href=\"{}\" target=\"_blank\" rel=\"noopener\">단말기 화면 열기 (open the terminal's screen)</a>",
        escape(&terminal.screen_url)
    );
    let state = match listed {
        Ok(list) => match list.data.iter().find(|t| t.id == terminal.id) {
            Some(t) => {
                let mut text = if t.connected {
                    "<span class=\"status\" id=\"terminal-connected\">연결됨 (connected)</span>"
                        .to_string()
                } else {
                    "<span class=\"status\" id=\"terminal-connected\">연결 안 됨 (not connected)</span>"
                        .to_string()
                };
                if let (true, Some(open)) = (t.busy, &t.open_transaction) {
                    text.push_str(&format!(
                        " · 진행 중인 거래 (open transaction): <a id=\"open-transaction\" href=\"/counter/transactions/{}\">{}</a>",
                        path_segment(&open.id),
                        escape(status_label(&open.kind, &open.status)),
                    ));
                }
                text
            }
            None => "설정에 없는 단말기 (not configured)".to_string(),
        },
        Err(e) => escape(&e.to_string()),
    };
    format!(
        "<section id=\"terminal\"><h2>단말기 <span class=\"hint\">(terminal {})</span></h2><p>{state}</p><p>{screen}</p></section>",
        escape(&terminal.id)
    )
}

async fn render_counter(
    shop: &Shop,
    values: &HashMap<String, String>,
    banner: String,
    status: StatusCode,
) -> Response {
    if shop.inner.terminal.is_none() {
        return no_terminal();
    }
    let listed: Result<TerminalList, ShopError> = shop
        .call(shop.request(reqwest::Method::GET, "/v1/terminals"))
        .await;
    let body = format!(
        "{banner}{}{}",
        counter_form(values),
        terminal_section(shop, &listed)
    );
    (status, layout("카운터", &body)).into_response()
}

async fn counter(State(shop): State<Shop>) -> Response {
    render_counter(&shop, &HashMap::new(), String::new(), StatusCode::OK).await
}

async fn ring_up(State(shop): State<Shop>, Form(form): Form<HashMap<String, String>>) -> Response {
    let Some(terminal) = &shop.inner.terminal else {
        return no_terminal();
    };
    let field = |key: &str| {
        form.get(key)
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let Ok(amount) = field("amount").parse::<i64>() else {
        let banner = format!(
            "<section class=\"error\" id=\"error\"><h2>금액을 확인해 주세요</h2><p>amount must be a whole number of won, got {}</p></section>",
            escape(&field("amount"))
        );
        return render_counter(&shop, &form, banner, StatusCode::UNPROCESSABLE_ENTITY).await;
    };
    let body = json!({
        "amount": amount,
        "method": field("method"),
        "goods_name": field("goods_name"),
    });
    let mut request = shop
        .request(
            reqwest::Method::POST,
            &format!("/v1/terminals/{}/payments", path_segment(&terminal.id)),
        )
        .json(&body);
    // One key per rendered form: a double click or a resubmitted page never sends the sale to the terminal twice.
    if let Some(key) = form.get("idempotency_key").filter(|k| !k.is_empty()) {
        request = request.header("Idempotency-Key", key.as_str());
    }
    let started: Result<Transaction, ShopError> = shop.call(request).await;
    match started {
        Ok(tx) => {
            tracing::info!(transaction = %tx.id, "demo counter: sale sent to the terminal");
            Redirect::to(&format!("/counter/transactions/{}", path_segment(&tx.id))).into_response()
        }
        Err(e) => {
            let banner = error_section(
                "단말기로 보내지 못했습니다 (the gateway refused the sale)",
                &e,
            );
            render_counter(&shop, &form, banner, e.status()).await
        }
    }
}

fn result_section(tx: &Transaction) -> String {
    let mut rows = format!(
        r#"<tr><th>상태 <small class="hint">status</small></th><td><span class="status" id="tx-status" data-status="{status}">{status}</span> <span id="tx-status-label">{label}</span></td></tr>
<tr><th>구분 <small class="hint">kind</small></th><td id="tx-kind">{kind}</td></tr>
<tr><th>단말기 <small class="hint">terminal</small></th><td>{terminal}</td></tr>
<tr><th>금액 <small class="hint">amount</small></th><td id="tx-amount">{amount}</td></tr>
<tr><th>ptxid</th><td>{ptxid}</td></tr>"#,
        status = escape(&tx.status),
        label = status_label(&tx.kind, &tx.status),
        kind = escape(match tx.kind.as_str() {
            "card_approval" => "카드 승인 (card sale)",
            "card_cancel" => "카드 취소 (card cancel)",
            "easy_pay_approval" => "간편결제 승인 (easy-pay sale)",
            "easy_pay_cancel" => "간편결제 취소 (easy-pay cancel)",
            other => other,
        }),
        terminal = escape(&tx.terminal_id),
        amount = won(tx.amount),
        ptxid = escape(&tx.ptxid),
    );
    if let Some(code) = &tx.result_code {
        rows.push_str(&format!(
            "<tr><th>결과 <small class=\"hint\">result</small></th><td id=\"tx-result\">[{}] {}</td></tr>",
            escape(code),
            escape(tx.result_message.as_deref().unwrap_or("").trim())
        ));
    }
    if let Some(order_id) = &tx.order_id {
        rows.push_str(&format!(
            "<tr><th>주문 <small class=\"hint\">order</small></th><td><a id=\"tx-order-link\" href=\"{}\">{}</a></td></tr>",
            escape(&query_url("/result", &[("order_id", order_id)])),
            escape(order_id)
        ));
    }
    format!(
        "<section><h1>단말기 거래 <span class=\"hint\">(terminal transaction)</span></h1><div class=\"scroll\"><table>{rows}</table></div></section>"
    )
}

/// What the counter offers while the transaction is open: the terminal's screen and the abort button.
fn open_section(shop: &Shop, tx: &Transaction) -> String {
    let screen = shop
        .inner
        .terminal
        .as_ref()
        .map(|t| {
            format!(
                "<p>손님이 단말기에 카드를 넣고, 요청하면 서명합니다: <a id=\"terminal-screen-link\" href=\"{}\" target=\"_blank\" rel=\"noopener\">단말기 화면 열기</a> <small class=\"hint\">(the buyer inserts the card on the terminal's screen, and signs if it asks)</small></p>",
                escape(&t.screen_url)
            )
        })
        .unwrap_or_default();
    let asked = if tx.abort_requested {
        "<p class=\"hint\">중단을 요청했습니다. (An abort was asked.)</p>"
    } else {
        ""
    };
    format!(
        r#"<section id="waiting">{screen}<p class="hint">이 페이지는 스스로 새로 고칩니다. (This page follows the transaction by itself.)</p>{asked}
<form method="post" action="/counter/transactions/{id}/abort">
<input type="hidden" name="idempotency_key" value="{key}">
<button type="submit" class="danger" id="abort">거래 중단 <small>(abort)</small></button>
</form></section>"#,
        id = path_segment(&tx.id),
        key = uuid::Uuid::new_v4(),
    )
}

/// The sales slip (매출전표) as the shop would print it, from the approved transaction and its order.
fn slip_section(tx: &Transaction, order: Option<&SaleOrder>) -> String {
    let cancel = tx.kind.ends_with("_cancel");
    let title = if cancel {
        "취소전표 <span class=\"hint\">(cancel slip)</span>"
    } else {
        "매출전표 <span class=\"hint\">(sales slip)</span>"
    };
    let method = if tx.kind.starts_with("easy_pay") {
        "간편결제 (easy pay)"
    } else {
        "신용카드 (card)"
    };
    let company = |c: &Option<Company>| {
        c.as_ref()
            .map(|c| {
                c.name
                    .clone()
                    .or_else(|| c.code.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default()
    };
    let row = |label: &str, hint: &str, id: &str, value: &str| {
        format!(
            "<tr><th>{label} <small class=\"hint\">{hint}</small></th><td id=\"{id}\">{}</td></tr>",
            escape(value)
        )
    };
    let amount = tx.approved_amount.unwrap_or(tx.amount);
    let mut rows = String::new();
    if let Some(order) = order {
        rows.push_str(&row("가맹점", "merchant", "slip-mid", &order.mid));
        rows.push_str(&row(
            "상품명",
            "goods",
            "slip-goods-name",
            &order.goods_name,
        ));
    }
    rows.push_str(&row("단말기", "terminal", "slip-terminal", &tx.terminal_id));
    rows.push_str(&row(
        "거래일시",
        "date",
        "slip-date",
        &slip_date(tx.transaction_date.as_deref().unwrap_or("-")),
    ));
    rows.push_str(&row("결제수단", "method", "slip-method", method));
    rows.push_str(&row(
        "카드",
        "card",
        "slip-card",
        &format!(
            "{} {}",
            company(&tx.issuer),
            tx.masked_card.as_deref().unwrap_or("")
        ),
    ));
    rows.push_str(&row(
        "매입사",
        "acquirer",
        "slip-acquirer",
        &company(&tx.acquirer),
    ));
    rows.push_str(&row(
        "승인번호",
        "approval no",
        "slip-approval-no",
        tx.approval_no.as_deref().unwrap_or("-"),
    ));
    rows.push_str(&row(
        "거래번호",
        "transaction no",
        "slip-transaction-no",
        tx.transaction_no.as_deref().unwrap_or("-"),
    ));
    rows.push_str(&format!(
        "<tr><th>{} <small class=\"hint\">{}</small></th><td id=\"slip-amount\"><strong>{}</strong></td></tr>",
        if cancel { "취소금액" } else { "승인금액" },
        if cancel { "cancelled" } else { "approved" },
        won(amount)
    ));
    let order_state = order
        .map(|o| {
            format!(
                "<p class=\"hint\">주문 상태 (order status): <span id=\"slip-order-status\">{}</span></p>",
                escape(&o.status)
            )
        })
        .unwrap_or_default();
    format!(
        "<section id=\"slip\" data-kind=\"{}\" style=\"font-family: ui-monospace, monospace; max-width: 26rem; border: 1px dashed #94a3b8\"><h2>{title}</h2><table>{rows}</table>{order_state}<p class=\"hint\">감사합니다 (thank you)</p></section>",
        escape(&tx.kind)
    )
}

async fn render_transaction(
    shop: &Shop,
    transaction_id: &str,
    banner: String,
    status: StatusCode,
) -> Response {
    let path = format!("/v1/terminal-transactions/{}", path_segment(transaction_id));
    let tx: Transaction = match shop.call(shop.request(reqwest::Method::GET, &path)).await {
        Ok(tx) => tx,
        Err(e) => {
            let body = format!(
                "{banner}{}<p><a href=\"/counter\">← 카운터로 돌아가기 (back to the counter)</a></p>",
                error_section("거래를 불러오지 못했습니다 (could not load the transaction)", &e)
            );
            return (e.status(), layout("단말기 거래", &body)).into_response();
        }
    };
    let banner_shown = !banner.is_empty();
    let mut body = format!("{banner}{}", result_section(&tx));
    let open = is_open(&tx.status);
    if open {
        body.push_str(&open_section(shop, &tx));
    } else if tx.status == "succeeded" {
        let order = match &tx.order_id {
            Some(id) => shop
                .call::<SaleOrder>(shop.request(
                    reqwest::Method::GET,
                    &format!("/v1/orders/{}", path_segment(id)),
                ))
                .await
                .ok(),
            None => None,
        };
        body.push_str(&slip_section(&tx, order.as_ref()));
    }
    body.push_str(
        "<p><a id=\"new-sale\" href=\"/counter\">← 새 결제 (new sale at the counter)</a></p>",
    );
    let Html(mut html) = layout("단말기 거래", &body);
    if open {
        // The transaction moves on its own (card, signature, the terminal's answer): follow it without script.
        // The address is named because this page also answers the abort's POST; a banner stays a little longer.
        let seconds = if banner_shown { 5 } else { 1 };
        html = html.replacen(
            "<title>",
            &format!(
                "<meta http-equiv=\"refresh\" content=\"{seconds}; url=/counter/transactions/{}\"><title>",
                path_segment(&tx.id)
            ),
            1,
        );
    }
    (status, Html(html)).into_response()
}

async fn transaction(State(shop): State<Shop>, Path(transaction_id): Path<String>) -> Response {
    render_transaction(&shop, &transaction_id, String::new(), StatusCode::OK).await
}

async fn abort(
    State(shop): State<Shop>,
    Path(transaction_id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let Some(terminal) = &shop.inner.terminal else {
        return no_terminal();
    };
    let mut request = shop.request(
        reqwest::Method::POST,
        &format!("/v1/terminals/{}/abort", path_segment(&terminal.id)),
    );
    if let Some(key) = form.get("idempotency_key").filter(|k| !k.is_empty()) {
        request = request.header("Idempotency-Key", key.as_str());
    }
    let aborted: Result<serde_json::Value, ShopError> = shop.call(request).await;
    match aborted {
        Ok(_) => Redirect::to(&format!(
            "/counter/transactions/{}",
            path_segment(&transaction_id)
        ))
        .into_response(),
        Err(e) => {
            let banner = error_section("중단하지 못했습니다 (the terminal did not abort)", &e);
            render_transaction(&shop, &transaction_id, banner, e.status()).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slip_dates_are_spelled_out() {
        assert_eq!(slip_date("20261202114512"), "2026-12-02 11:45:12");
        assert_eq!(slip_date("-"), "-");
        assert_eq!(slip_date("2026120211451x"), "2026120211451x");
    }
}
