//! The webhook events of the outbox, for operators: see what was sent and send it again.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::RawQuery;
use super::paging;
use super::AppState;
use crate::domain::EventType;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/events", get(list_events))
        .route("/v1/events/{id}/redeliver", post(redeliver))
}

async fn list_events(
    State(state): State<AppState>,
    _auth: ShopAuth,
    query: RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    paging::only_known(&query, &["order_id", "type", "limit", "cursor"])?;
    paging::no_nul(&query)?;
    let event_type = match query.get("type").filter(|t| !t.is_empty()) {
        Some(t) => Some(EventType::parse(t).ok_or_else(|| {
            ApiError::bad_request(
                Some("type".into()),
                format!(
                    "unknown event type {t:?}; one of {}",
                    EventType::ALL.map(EventType::as_str).join(", ")
                ),
            )
        })?),
        None => None,
    };
    let limit = paging::limit(&query)?;
    let before = paging::cursor(&query, "evt")?;
    let order_id = query.get("order_id").filter(|o| !o.is_empty());
    let events = state
        .services
        .list_events(order_id, event_type, limit + 1, before)
        .await?;
    let (events, next_cursor) = paging::page(events, limit, |e| e.seq, "evt");
    Ok(Json(json!({ "data": events, "next_cursor": next_cursor })))
}

async fn redeliver(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let event = state.services.redeliver(&id).await?;
    Ok((StatusCode::ACCEPTED, Json(event)).into_response())
}
