//! Refunds the merchant made itself (by bank transfer, outside Smartro), for the shop's backend.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use super::api::{answer, KeyedShop};
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::service::refunds::RefundBody;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/orders/{order_id}/refunds", post(record_refund))
}

async fn record_refund(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(order_id): Path<String>,
    body: ApiJson<RefundBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("refund:{order_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .record_refund(keyed, &order_id, value, &shop.auth.key_id)
            .await?,
    ))
}
