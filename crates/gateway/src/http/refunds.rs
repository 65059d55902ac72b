//! Refunds the merchant made itself (by bank transfer, outside Smartro), for the shop's backend.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::api::{answer, idempotency_key};
use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::service::idempotency::Keyed;
use crate::service::refunds::RefundBody;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/orders/{order_id}/refunds", post(record_refund))
}

async fn record_refund(
    State(state): State<AppState>,
    auth: ShopAuth,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    body: ApiJson<RefundBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let key = idempotency_key(&headers)?;
    let scope = format!("refund:{order_id}");
    let keyed = Keyed {
        api_key_id: &auth.key_id,
        key: key.as_deref(),
        scope: &scope,
        body: &raw,
    };
    Ok(answer(
        state
            .services
            .record_refund(keyed, &order_id, value, &auth.key_id)
            .await?,
    ))
}
