//! An operator's resolution of an order under review, for the shop's backend.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

use super::api::{answer, idempotency_key};
use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::domain::ResolveAction;
use crate::service::idempotency::Keyed;

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
    auth: ShopAuth,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    body: ApiJson<ResolveBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let key = idempotency_key(&headers)?;
    let scope = format!("resolve:{order_id}");
    let keyed = Keyed {
        api_key_id: &auth.key_id,
        key: key.as_deref(),
        scope: &scope,
        body: &raw,
    };
    Ok(answer(
        state
            .services
            .resolve_order(keyed, &order_id, value.action, &value.reason, &auth.key_id)
            .await?,
    ))
}
