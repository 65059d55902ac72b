//! The console's read-only pages. Each needs a live session ([`Operator`]); without one it redirects to the
//! sign-in form before anything is read.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rand::RngCore;

use super::forms::FormFields;
use super::session::Operator;
use super::views::{self, OrderPage, OrdersQuery, TerminalRow};
use crate::domain::{OrderStatus, PayMethod};
use crate::http::AppState;
use crate::store::console::OrderSearch;

/// Orders per page of the list.
const PAGE_SIZE: i64 = 50;

/// `GET /console`: the orders, or the sign-in form when signed out.
pub async fn home(_operator: Operator) -> Response {
    Redirect::to("/console/orders").into_response()
}

/// A path below `/console` that is no page.
pub async fn not_found() -> Response {
    views::html(
        StatusCode::NOT_FOUND,
        views::message_page(
            "페이지를 찾을 수 없습니다 (Not found)",
            "주소를 확인해 주세요. (No such page.)",
        ),
    )
}

/// The query of the orders page; every field as typed, checked below.
#[derive(Debug, Default)]
pub struct OrdersParams {
    q: String,
    status: String,
    pay_method: String,
    channel: String,
    from: String,
    to: String,
    before: String,
}

impl OrdersParams {
    fn from_query(query: Option<String>) -> OrdersParams {
        let fields = FormFields::parse(query.unwrap_or_default().as_bytes());
        let field = |name: &str| fields.get(name).unwrap_or("").to_string();
        OrdersParams {
            q: field("q"),
            status: field("status"),
            pay_method: field("pay_method"),
            channel: field("channel"),
            from: field("from"),
            to: field("to"),
            before: field("before"),
        }
    }
}

/// One parameter of a query string.
fn query_param(query: Option<String>, name: &str) -> Option<String> {
    FormFields::parse(query.unwrap_or_default().as_bytes())
        .get(name)
        .map(str::to_string)
}

/// The start of a Korean calendar day, as UTC.
fn day_start(day: NaiveDate) -> DateTime<Utc> {
    views::korea()
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn parse_day(value: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(value.trim(), "%Y-%m-%d").ok()
}

/// The search the query asks for, or the Korean message for what does not parse.
fn search_of(p: &OrdersParams) -> Result<(OrderSearch, Option<i64>), &'static str> {
    let chosen = |v: &str| Some(v.trim().to_string()).filter(|v| !v.is_empty());
    let status = chosen(&p.status);
    if status
        .as_deref()
        .is_some_and(|s| OrderStatus::parse(s).is_none())
    {
        return Err("알 수 없는 상태입니다. (Unknown status.)");
    }
    let pay_method = chosen(&p.pay_method);
    if pay_method
        .as_deref()
        .is_some_and(|m| PayMethod::parse(m).is_none())
    {
        return Err("알 수 없는 결제수단입니다. (Unknown pay method.)");
    }
    let channel = chosen(&p.channel);
    if channel
        .as_deref()
        .is_some_and(|c| !matches!(c, "online" | "terminal"))
    {
        return Err("채널은 online 또는 terminal입니다. (Channel: online or terminal.)");
    }
    let day = |v: &str| match chosen(v) {
        None => Ok(None),
        Some(v) => parse_day(&v)
            .map(Some)
            .ok_or("날짜는 YYYY-MM-DD 형식입니다. (Dates are YYYY-MM-DD.)"),
    };
    let created_from = day(&p.from)?.map(day_start);
    // Through the end of the day chosen.
    let created_to = day(&p.to)?.map(|d| day_start(d) + Duration::days(1));
    let text = chosen(&p.q);
    if text.as_deref().is_some_and(|t| t.contains('\0')) {
        return Err("검색어에 허용되지 않는 문자가 있습니다. (The search has a NUL character.)");
    }
    if text.as_deref().is_some_and(|t| t.chars().count() > 100) {
        return Err("검색어는 100자까지입니다. (At most 100 characters.)");
    }
    let before = match chosen(&p.before) {
        None => None,
        Some(b) => Some(
            b.parse::<i64>()
                .map_err(|_| "페이지 위치가 올바르지 않습니다. (Bad page cursor.)")?,
        ),
    };
    Ok((
        OrderSearch {
            status: status
                .and_then(|s| OrderStatus::parse(&s))
                .map(|s| s.as_str().to_string()),
            pay_method: pay_method
                .and_then(|m| PayMethod::parse(&m))
                .map(|m| m.as_str().to_string()),
            channel,
            created_from,
            created_to,
            text,
        },
        before,
    ))
}

/// `GET /console/orders`: the list, filtered and searched, newest first.
pub async fn orders(
    State(state): State<AppState>,
    operator: Operator,
    RawQuery(raw): RawQuery,
) -> Response {
    let params = OrdersParams::from_query(raw);
    let query = OrdersQuery {
        q: params.q.clone(),
        status: params.status.clone(),
        pay_method: params.pay_method.clone(),
        channel: params.channel.clone(),
        from: params.from.clone(),
        to: params.to.clone(),
    };
    let (search, before) = match search_of(&params) {
        Ok(parsed) => parsed,
        Err(problem) => {
            let page = views::orders_page(&operator, &query, Some(problem), &[], None);
            return views::html(StatusCode::BAD_REQUEST, page);
        }
    };
    let mut lines = match state
        .services
        .store
        .search_orders(&search, PAGE_SIZE + 1, before)
        .await
    {
        Ok(lines) => lines,
        Err(e) => return views::unavailable(&e),
    };
    let next = if lines.len() as i64 > PAGE_SIZE {
        lines.truncate(PAGE_SIZE as usize);
        lines.last().map(|l| l.seq)
    } else {
        None
    };
    views::html(
        StatusCode::OK,
        views::orders_page(&operator, &query, None, &lines, next),
    )
}

fn fresh_form_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// `GET /console/orders/{order_id}`: the order, its timeline, its actions and its audit log.
pub async fn order(
    State(state): State<AppState>,
    operator: Operator,
    Path(order_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let services = &state.services;
    let done = query_param(raw, "done").and_then(|d| d.parse::<i64>().ok());
    let record = match services.find_order(&order_id).await {
        Ok(Some(record)) => record,
        Ok(None) => {
            return views::html(
                StatusCode::NOT_FOUND,
                views::message_page(
                    "주문을 찾을 수 없습니다 (No such order)",
                    &format!("주문번호 {order_id} 인 주문이 없습니다."),
                ),
            )
        }
        Err(e) => return views::unavailable(&e),
    };
    let view = services.view(&record);
    let store = &services.store;
    let loaded = async {
        let raw = store.order_raw_messages(&order_id).await?;
        let events = store.list_events(Some(&order_id), None, 1000, None).await?;
        let attempts = store.order_delivery_attempts(&order_id).await?;
        let terminal_messages = store.order_terminal_messages(&order_id).await?;
        let audit = store.order_audit(&order_id).await?;
        Ok::<_, crate::store::StoreError>((raw, events, attempts, terminal_messages, audit))
    }
    .await;
    let (raw, events, attempts, terminal_messages, audit) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return views::unavailable(&e),
    };
    let form_id = fresh_form_id();
    let page = OrderPage {
        operator: &operator,
        order: &view,
        raw: &raw,
        events: &events,
        attempts: &attempts,
        terminal_messages: &terminal_messages,
        audit: &audit,
        done,
        form_id: &form_id,
        webhooks_configured: services.settings.webhooks.url.is_some(),
    };
    views::html(StatusCode::OK, views::order_page(&page))
}

/// Today in Korea.
fn today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&views::korea()).date_naive()
}

/// `GET /console/terminals[?totals=<id>]`: each configured terminal's state; with `totals`, that terminal's own
/// totals for today beside the ledger's. Asking a terminal sends it a frame and holds it for a moment, so it is
/// done only when the operator asks (a sale started meanwhile would be refused as busy), never on every view.
pub async fn terminals(
    State(state): State<AppState>,
    operator: Operator,
    RawQuery(raw): RawQuery,
) -> Response {
    let asked = query_param(raw, "totals");
    let services = &state.services;
    let listed = match services.list_terminals().await {
        Ok(listed) => listed,
        Err(e) => {
            return views::html(
                e.status,
                views::message_page("단말기 (Terminals)", &views::problem_text(&e)),
            )
        }
    };
    let day = today(services.clock.now()).format("%Y%m%d").to_string();
    let mut rows = Vec::new();
    for state in listed["data"].as_array().cloned().unwrap_or_default() {
        let id = state["id"].as_str().unwrap_or_default().to_string();
        // Totals are asked of the terminal itself; a disconnected one has none to give.
        let totals = if asked.as_deref() != Some(id.as_str()) {
            None
        } else if state["connected"].as_bool().unwrap_or(false) {
            Some(
                services
                    .terminal_totals(&id, Some(&day), Some(&day))
                    .await
                    .map_err(|e| views::problem_text(&e)),
            )
        } else {
            Some(Err(
                "단말기가 연결되어 있지 않습니다. (Not connected.)".to_string()
            ))
        };
        rows.push(TerminalRow { state, totals });
    }
    views::html(
        StatusCode::OK,
        views::terminals_page(&operator, &day, &rows),
    )
}

/// `GET /console/summary?day=YYYY-MM-DD`: the day's payments per method and channel (default: today, KST).
pub async fn summary(
    State(state): State<AppState>,
    operator: Operator,
    RawQuery(raw): RawQuery,
) -> Response {
    let services = &state.services;
    let asked = query_param(raw, "day").unwrap_or_default();
    let (day, problem) = if asked.trim().is_empty() {
        (today(services.clock.now()), None)
    } else {
        match parse_day(&asked) {
            Some(day) => (day, None),
            None => (
                today(services.clock.now()),
                Some("날짜는 YYYY-MM-DD 형식입니다. 오늘을 보여 줍니다. (Dates are YYYY-MM-DD: showing today.)"),
            ),
        }
    };
    let from = day_start(day);
    let (by_method, by_channel) = match services
        .store
        .paid_summary(from, from + Duration::days(1))
        .await
    {
        Ok(rows) => rows,
        Err(e) => return views::unavailable(&e),
    };
    let status = if problem.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    views::html(
        status,
        views::summary_page(
            &operator,
            &day.format("%Y-%m-%d").to_string(),
            problem,
            &by_method,
            &by_channel,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_days_start_at_midnight_kst() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap();
        assert_eq!(
            day_start(day),
            Utc.with_ymd_and_hms(2026, 11, 20, 15, 0, 0).unwrap()
        );
        assert_eq!(
            today(Utc.with_ymd_and_hms(2026, 11, 20, 15, 0, 0).unwrap()),
            day
        );
    }

    #[test]
    fn searches_are_checked() {
        let ok = OrdersParams {
            q: " ORD-1 ".into(),
            status: "paid".into(),
            from: "2026-11-21".into(),
            to: "2026-11-21".into(),
            ..OrdersParams::default()
        };
        let (search, before) = search_of(&ok).unwrap();
        assert_eq!(search.text.as_deref(), Some("ORD-1"));
        assert_eq!(search.status.as_deref(), Some("paid"));
        assert_eq!(
            search.created_to.unwrap() - search.created_from.unwrap(),
            Duration::days(1)
        );
        assert_eq!(before, None);
        for bad in [
            OrdersParams {
                status: "nope".into(),
                ..OrdersParams::default()
            },
            OrdersParams {
                from: "21/11/2026".into(),
                ..OrdersParams::default()
            },
            OrdersParams {
                before: "x".into(),
                ..OrdersParams::default()
            },
            OrdersParams {
                q: "a\0b".into(),
                ..OrdersParams::default()
            },
            OrdersParams {
                channel: "shop".into(),
                ..OrdersParams::default()
            },
        ] {
            assert!(search_of(&bad).is_err(), "{bad:?}");
        }
    }
}
