//! Cancels (full and partial) and receipt lookups, for the shop's backend.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use super::api::{answer, KeyedShop};
use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::domain::SplitShare;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders/{order_id}/cancel", post(cancel_order))
        .route("/v1/orders/{order_id}/receipt", get(receipt))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Absent: everything that is left.
    pub amount: Option<i64>,
    pub reason: String,
    /// A partial cancel of a split order: the sub-mall shares it takes back (they add up to `amount`).
    pub split: Option<Vec<SplitShare>>,
}

async fn cancel_order(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(order_id): Path<String>,
    body: ApiJson<CancelBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("cancel:{order_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .cancel_order(
                keyed,
                &order_id,
                value.amount,
                value.split.as_deref(),
                &value.reason,
            )
            .await?,
    ))
}

async fn receipt(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(order_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.services.receipt(&order_id).await?))
}
