//! The shop backend's API: orders, payment look-ups and code tables. Bearer-authenticated JSON, problems as
//! problem+json.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde_json::json;

use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::{ApiJson, RawQuery};
use super::paging;
use super::AppState;
use crate::domain::{Channel, OrderStatus, PayMethod};
use crate::service::idempotency::{Answer, Keyed};
use crate::service::orders::CreateOrderBody;
use crate::store::OrderFilter;
use crate::views::OrderView;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", post(create_order).get(list_orders))
        .route("/v1/orders/{order_id}", get(get_order))
        .route("/v1/payments/{tid}", get(get_payment))
        .route("/v1/codes/results", get(list_result_codes))
        .route("/v1/codes/results/{code}", get(get_result_code))
        .route("/v1/codes/cards", get(list_cards))
        .route("/v1/codes/banks", get(list_banks))
        .route("/v1/codes/couriers", get(list_couriers))
}

/// A state-changing request from the shop's backend: the key it authenticated with, and its `Idempotency-Key`.
/// A malformed key is reported only when the handler asks for [`KeyedShop::keyed`], after its body was read, so
/// that a bad body is still named before a bad key.
pub struct KeyedShop {
    pub auth: ShopAuth,
    key: Result<Option<String>, ApiError>,
}

impl FromRequestParts<AppState> for KeyedShop {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let auth = ShopAuth::from_request_parts(parts, state).await?;
        Ok(KeyedShop {
            auth,
            key: idempotency_key(&parts.headers),
        })
    }
}

impl KeyedShop {
    /// The request as the service's idempotency sees it: this key's, in `scope`, with `body`.
    pub fn keyed<'a>(&'a self, scope: &'a str, body: &'a [u8]) -> Result<Keyed<'a>, ApiError> {
        let key = self.key.as_ref().map_err(Clone::clone)?;
        Ok(Keyed {
            api_key_id: &self.auth.key_id,
            key: key.as_deref(),
            scope,
            body,
        })
    }
}

/// The `Idempotency-Key` header, when sent: 1 to 255 visible ASCII characters.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .map(|k| Some(k.to_string()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    Some("Idempotency-Key".into()),
                    "must be 1 to 255 visible ASCII characters",
                )
            }),
    }
}

/// A service's answer as a response; a replayed one says so, and a replayed problem keeps its media type.
pub fn answer(answer: Answer) -> Response {
    let mut response = (answer.status, Json(answer.body)).into_response();
    if answer.replayed {
        if answer.status.is_client_error() || answer.status.is_server_error() {
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/problem+json"),
            );
        }
        response
            .headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

async fn create_order(
    State(state): State<AppState>,
    shop: KeyedShop,
    body: ApiJson<CreateOrderBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let keyed = shop.keyed("create_order", &raw)?;
    let mut response = answer(state.services.create_order(keyed, value).await?);
    if response.status() == StatusCode::CREATED {
        response
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("no-store"));
    }
    Ok(response)
}

async fn get_order(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(order_id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let record = state.services.order(&order_id).await?;
    Ok(Json(state.services.view(&record)))
}

async fn list_orders(
    State(state): State<AppState>,
    _auth: ShopAuth,
    query: RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    paging::only_known(
        &query,
        &[
            "status",
            "limit",
            "cursor",
            "tid",
            "pay_method",
            "channel",
            "created_from",
            "created_to",
        ],
    )?;
    paging::no_nul(&query)?;
    let filter = order_filter(&query)?;
    let limit = paging::limit(&query)?;
    let before = paging::cursor(&query, "seq")?;
    // One row more than asked tells whether another page exists.
    let records = state
        .services
        .list_orders(&filter, limit + 1, before)
        .await?;
    let (records, next_cursor) = paging::page(records, limit, |r| r.order.seq, "seq");
    let data: Vec<OrderView> = records.iter().map(|r| state.services.view(r)).collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
}

/// A non-empty query parameter, if sent.
fn param<'q>(query: &'q RawQuery, name: &str) -> Option<&'q str> {
    query.get(name).filter(|v| !v.is_empty())
}

/// The filters of `GET /v1/orders`, each refused with 400 naming it when it cannot be read.
fn order_filter(query: &RawQuery) -> Result<OrderFilter, ApiError> {
    let bad = |name: &str, message: String| ApiError::bad_request(Some(name.into()), message);
    let status = match param(query, "status") {
        Some(s) => Some(OrderStatus::parse(s).ok_or_else(|| {
            bad(
                "status",
                format!(
                    "unknown status {s:?}; one of {}",
                    OrderStatus::ALL.map(OrderStatus::as_str).join(", ")
                ),
            )
        })?),
        None => None,
    };
    let pay_method = match param(query, "pay_method") {
        Some(m) => Some(PayMethod::parse(m).ok_or_else(|| {
            bad(
                "pay_method",
                format!(
                    "unknown pay method {m:?}; one of {}",
                    PayMethod::ALL.map(PayMethod::as_str).join(", ")
                ),
            )
        })?),
        None => None,
    };
    let channel = match param(query, "channel") {
        Some("online") => Some(Channel::Online),
        Some("terminal") => Some(Channel::Terminal),
        Some(c) => {
            return Err(bad(
                "channel",
                format!("unknown channel {c:?}; one of online, terminal"),
            ))
        }
        None => None,
    };
    let instant = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        match param(query, name) {
            Some(t) => DateTime::parse_from_rfc3339(t)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|e| {
                    bad(
                        name,
                        format!(
                            "{t:?} is not an RFC 3339 timestamp such as 2026-12-01T09:00:00+09:00 ({e})"
                        ),
                    )
                }),
            None => Ok(None),
        }
    };
    let created_from = instant("created_from")?;
    let created_to = instant("created_to")?;
    if let (Some(from), Some(to)) = (created_from, created_to) {
        if to <= from {
            return Err(bad(
                "created_to",
                "must be after created_from (created_from is inclusive, created_to exclusive)"
                    .into(),
            ));
        }
    }
    let tid = match param(query, "tid") {
        // TIDs are short printable ASCII; anything else (a NUL, which PostgreSQL text cannot hold, among them)
        // names no payment and is the caller's mistake.
        Some(t) if t.is_empty() || t.len() > 64 || !t.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(bad(
                "tid",
                "must be 1 to 64 printable ASCII characters".into(),
            ))
        }
        t => t.map(str::to_string),
    };
    Ok(OrderFilter {
        status,
        pay_method,
        channel,
        tid,
        created_from,
        created_to,
    })
}

/// A payment by its TID, with its order.
async fn get_payment(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(tid): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.services.payment(&tid).await?))
}

async fn list_result_codes(_auth: ShopAuth) -> Json<serde_json::Value> {
    Json(json!({ "data": smartro::codes::RESULT_CODES }))
}

async fn get_result_code(
    _auth: ShopAuth,
    Path(code): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let all: Vec<_> = smartro::codes::result_codes(&code).collect();
    match all.first() {
        Some(first) => Ok(Json(json!(first))),
        None => Err(ApiError::not_found(format!(
            "no Smartro result code {code}"
        ))),
    }
}

async fn list_cards(_auth: ShopAuth) -> Json<serde_json::Value> {
    Json(json!({ "data": smartro::codes::CARD_COMPANIES }))
}

async fn list_banks(_auth: ShopAuth) -> Json<serde_json::Value> {
    Json(json!({ "data": smartro::codes::BANKS }))
}

async fn list_couriers(_auth: ShopAuth) -> Json<serde_json::Value> {
    Json(json!({ "data": smartro::codes::COURIERS }))
}
