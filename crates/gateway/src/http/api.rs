//! The shop backend's API: orders and code tables. Bearer-authenticated JSON, problems as problem+json.

use std::future::Future;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::Duration;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use smartro::types::{kst_naive, PayMethod};
use smartro::RequestErrorKind;

use super::auth::ShopAuth;
use super::checkout::{payment_request, Purchase};
use super::error::ApiError;
use super::extract::{ApiJson, RawQuery};
use super::paging;
use super::AppState;
use crate::domain::OrderStatus;
use crate::store::idempotency::{IdempotencyScope, IdempotencyStart};
use crate::store::orders::CreateOutcome;
use crate::store::NewOrder;
use crate::views::OrderView;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders", post(create_order).get(list_orders))
        .route("/v1/orders/{order_id}", get(get_order))
        .route("/v1/codes/results", get(list_result_codes))
        .route("/v1/codes/results/{code}", get(get_result_code))
        .route("/v1/codes/cards", get(list_cards))
        .route("/v1/codes/banks", get(list_banks))
        .route("/v1/codes/couriers", get(list_couriers))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerBody {
    pub name: String,
    pub tel: String,
    pub email: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderBody {
    pub amount: i64,
    pub goods_name: String,
    pub pay_method: String,
    pub buyer: BuyerBody,
    pub order_id: Option<String>,
    pub goods_count: Option<i32>,
    pub mid: Option<String>,
    pub return_url: Option<String>,
    pub vbank_exp_date: Option<String>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub metadata: Option<serde_json::Value>,
    /// KAKAO only: `KPCD` (card) or `KPMY` (Kakao money).
    pub pay_type: Option<String>,
    /// The shop's id of the buyer; Smartro requires it for CLGIFT, KAKAO and TOSS.
    pub mall_user_id: Option<String>,
}

/// Smartro's parameter names, as the shop knows them in this API.
fn api_field(wire: &str) -> &'static str {
    match wire {
        "GoodsName" => "goods_name",
        "GoodsCnt" => "goods_count",
        "Amt" => "amount",
        "Moid" => "order_id",
        "MID" => "mid",
        "PayMethod" => "pay_method",
        "PayType" => "pay_type",
        "mallUserID" => "mall_user_id",
        "BuyerName" => "buyer.name",
        "BuyerTel" => "buyer.tel",
        "BuyerEmail" => "buyer.email",
        "VbankExpDate" => "vbank_exp_date",
        "Tax" => "tax",
        "SvcAmt" => "svc_amt",
        _ => "server.public_url",
    }
}

const MAX_METADATA_BYTES: usize = 8 * 1024;

fn validate_url(field: &str, url: &str) -> Result<(), ApiError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && url.split("://").nth(1).is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "must be an absolute http(s) URL without spaces",
        ))
    }
}

/// An order id for shops that do not bring their own: time-ordered, and free of Moid's forbidden characters.
fn generate_order_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let suffix: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(10)
        .map(char::from)
        .collect();
    format!("O{}{}", kst_naive(now).format("%y%m%d%H%M%S"), suffix)
}

fn checkout_token() -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Checks the body against this API's rules and Smartro's, so that every order created can be paid.
fn validate_order(state: &AppState, body: CreateOrderBody) -> Result<NewOrder, ApiError> {
    let now = state.clock.now();
    let method = PayMethod::parse(body.pay_method.trim());
    if let PayMethod::Other(v) = &method {
        return Err(ApiError::invalid_field(
            "pay_method",
            format!("unsupported pay method {v:?}: use CARD, BANK, VBANK, CELLPHONE, CLGIFT, TOSS or KAKAO"),
        ));
    }
    if body.amount <= 0 {
        return Err(ApiError::invalid_field(
            "amount",
            "must be a positive integer (KRW)",
        ));
    }
    let mid = match body.mid {
        Some(mid) => {
            if state.settings.merchant(&mid).is_none() {
                return Err(ApiError::invalid_field(
                    "mid",
                    format!("MID {mid} is not configured on this gateway"),
                ));
            }
            mid
        }
        None => state.settings.default_merchant().mid.clone(),
    };
    let order_id = match body.order_id {
        Some(id) => id,
        None => generate_order_id(now),
    };
    if let Some(url) = &body.return_url {
        validate_url("return_url", url)?;
    }
    for (field, value) in [("tax", body.tax), ("svc_amt", body.svc_amt)] {
        if value.is_some_and(|v| v < 0 || v > body.amount) {
            return Err(ApiError::invalid_field(
                field,
                "must be between 0 and the amount",
            ));
        }
    }
    if let Some(meta) = &body.metadata {
        if !meta.is_object() {
            return Err(ApiError::invalid_field("metadata", "must be a JSON object"));
        }
        if meta.to_string().len() > MAX_METADATA_BYTES {
            return Err(ApiError::invalid_field(
                "metadata",
                format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
            ));
        }
    }
    let vbank_exp_date = match (&method, body.vbank_exp_date) {
        (PayMethod::Vbank, None) => {
            // Three days to pay by default, counted in Korean dates as the bank does.
            Some(
                (kst_naive(now) + Duration::days(3))
                    .format("%Y%m%d")
                    .to_string(),
            )
        }
        (PayMethod::Vbank, Some(date)) => {
            let parsed = chrono::NaiveDate::parse_from_str(&date, "%Y%m%d")
                .ok()
                .filter(|_| date.len() == 8)
                .ok_or_else(|| {
                    ApiError::invalid_field("vbank_exp_date", "must be a date YYYYMMDD")
                })?;
            if parsed < kst_naive(now).date() {
                return Err(ApiError::invalid_field(
                    "vbank_exp_date",
                    "must not be in the past (Korean time)",
                ));
            }
            Some(date)
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid_field(
                "vbank_exp_date",
                "only applies to pay_method VBANK",
            ))
        }
        (_, None) => None,
    };
    let new = NewOrder {
        order_id,
        mid,
        amount: body.amount,
        goods_name: body.goods_name,
        goods_count: body.goods_count.unwrap_or(1),
        pay_method: method.as_str().to_string(),
        pay_type: body.pay_type,
        mall_user_id: body.mall_user_id,
        buyer_name: body.buyer.name,
        buyer_tel: body.buyer.tel,
        buyer_email: body.buyer.email,
        return_url: body.return_url,
        vbank_exp_date,
        tax: body.tax,
        svc_amt: body.svc_amt,
        metadata: body.metadata,
        checkout_token: checkout_token(),
        expires_at: now + Duration::minutes(state.settings.orders.ttl_minutes),
    };
    let request = payment_request(
        &Purchase {
            order_id: &new.order_id,
            mid: &new.mid,
            amount: new.amount,
            goods_name: &new.goods_name,
            goods_count: new.goods_count,
            pay_method: &new.pay_method,
            pay_type: new.pay_type.as_deref(),
            mall_user_id: new.mall_user_id.as_deref(),
            buyer_name: &new.buyer_name,
            buyer_tel: &new.buyer_tel,
            buyer_email: &new.buyer_email,
            vbank_exp_date: new.vbank_exp_date.as_deref(),
            tax: new.tax,
            svc_amt: new.svc_amt,
        },
        &state.settings.server.public_url,
        "127.0.0.1",
    );
    if let Err(e) = request.validate() {
        let field = api_field(e.field);
        if field == "server.public_url" {
            tracing::error!(error = %e, "the gateway's configuration makes payment requests invalid");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "misconfigured",
                "Gateway misconfigured",
                format!(
                    "the payment request is invalid because of the gateway's configuration: {e}"
                ),
            ));
        }
        return Err(match e.kind {
            RequestErrorKind::NotEucKr => ApiError::not_euc_kr(field, e.reason),
            RequestErrorKind::Invalid => ApiError::invalid_field(field, e.reason),
        });
    }
    Ok(new)
}

/// Runs `run` at most once per Idempotency-Key: a repeat with the same body gets the first answer again.
pub async fn idempotent<F, Fut>(
    state: &AppState,
    auth: &ShopAuth,
    headers: &HeaderMap,
    scope: &str,
    raw_body: &[u8],
    run: F,
) -> Result<Response, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<(StatusCode, serde_json::Value), ApiError>>,
{
    let key = match headers.get("idempotency-key") {
        None => {
            let (status, body) = run().await?;
            return Ok((status, Json(body)).into_response());
        }
        Some(value) => value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 255)
            .ok_or_else(|| {
                ApiError::bad_request(
                    Some("Idempotency-Key".into()),
                    "must be 1 to 255 visible ASCII characters",
                )
            })?
            .to_string(),
    };
    let at = IdempotencyScope {
        api_key_id: &auth.key_id,
        scope,
        key: &key,
    };
    let hash = hex::encode(Sha256::digest(raw_body));
    match state
        .store
        .begin_idempotent(&at, &hash, state.clock.now())
        .await?
    {
        IdempotencyStart::Fresh => {}
        IdempotencyStart::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = (status, Json(body)).into_response();
            if status.is_client_error() || status.is_server_error() {
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/problem+json"),
                );
            }
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return Ok(response);
        }
        IdempotencyStart::Mismatch => {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different request body",
            ))
        }
        IdempotencyStart::InProgress => {
            return Err(ApiError::conflict(
                "idempotency_in_progress",
                "a request with this Idempotency-Key is still in progress; retry later",
            ))
        }
    }
    match run().await {
        Ok((status, body)) => {
            state
                .store
                .finish_idempotent(&at, status.as_u16(), &body)
                .await?;
            Ok((status, Json(body)).into_response())
        }
        // Nothing was decided (the database or the gateway failed, or another cancel of the order was still on
        // its way to Smartro): a retry with the same key runs afresh instead of replaying this answer.
        Err(e)
            if matches!(
                e.status,
                StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE
            ) || e.code == "cancel_in_progress" =>
        {
            if let Err(abandon) = state.store.abandon_idempotent(&at).await {
                tracing::warn!(error = %abandon, "could not release an idempotency key");
            }
            Err(e)
        }
        Err(e) => {
            state
                .store
                .finish_idempotent(&at, e.status.as_u16(), &e.body())
                .await?;
            Err(e)
        }
    }
}

async fn create_order(
    State(state): State<AppState>,
    auth: ShopAuth,
    headers: HeaderMap,
    body: ApiJson<CreateOrderBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let run = || async {
        let new = validate_order(&state, value)?;
        match state.store.create_order(&new, state.clock.now()).await? {
            CreateOutcome::Created(record) => {
                let view = OrderView::new(&record, &state.settings.server.public_url);
                Ok((StatusCode::CREATED, json!(view)))
            }
            CreateOutcome::Exists => Err(ApiError::conflict(
                "order_exists",
                format!("an order with order_id {} already exists", new.order_id),
            )
            .with("order_id", new.order_id.clone())),
        }
    };
    let mut response = idempotent(&state, &auth, &headers, "create_order", &raw, run).await?;
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
    let record = state
        .store
        .get_order(&order_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {order_id}")))?;
    Ok(Json(OrderView::new(
        &record,
        &state.settings.server.public_url,
    )))
}

async fn list_orders(
    State(state): State<AppState>,
    _auth: ShopAuth,
    query: RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    paging::only_known(&query, &["status", "limit", "cursor"])?;
    let status = match query.get("status").filter(|s| !s.is_empty()) {
        Some(s) => Some(OrderStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                Some("status".into()),
                format!(
                    "unknown status {s:?}; one of {}",
                    OrderStatus::ALL.map(OrderStatus::as_str).join(", ")
                ),
            )
        })?),
        None => None,
    };
    let limit = paging::limit(&query)?;
    let before = paging::cursor(&query, "seq")?;
    // One row more than asked tells whether another page exists.
    let records = state.store.list_orders(status, limit + 1, before).await?;
    let (records, next_cursor) = paging::page(records, limit, |r| r.order.seq, "seq");
    let data: Vec<OrderView> = records
        .iter()
        .map(|r| OrderView::new(r, &state.settings.server.public_url))
        .collect();
    Ok(Json(json!({ "data": data, "next_cursor": next_cursor })))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_order_ids_are_valid_moids() {
        let id = generate_order_id(chrono::Utc::now());
        assert!(smartro::request::validate_moid(&id).is_ok(), "{id}");
        assert_eq!(id.len(), 23);
    }
}
