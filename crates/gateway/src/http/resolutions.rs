//! An operator's resolution of an order under review, for the shop's backend.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

use super::api::{answer, KeyedShop};
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::domain::ResolveAction;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/orders/{order_id}/resolve", post(resolve_order))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// `accept` or `cancel`.
    pub action: ResolveAction,
    pub reason: String,
}

async fn resolve_order(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(order_id): Path<String>,
    body: ApiJson<ResolveBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("resolve:{order_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .resolve_order(
                keyed,
                &order_id,
                value.action,
                &value.reason,
                &shop.auth.key_id,
            )
            .await?,
    ))
}
