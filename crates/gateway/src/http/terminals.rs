//! In-store card terminals, for the shop's backend (a POS, a kiosk, the back office): the terminals, sales on
//! them, aborts, and their transactions. Cancels of terminal orders go through `POST /v1/orders/{id}/cancel`.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::api::{answer, idempotency_key};
use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::service::idempotency::Keyed;
use crate::service::terminals::TerminalPaymentBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/terminals", get(list_terminals))
        .route("/v1/terminals/{terminal_id}/payments", post(start_payment))
        .route("/v1/terminals/{terminal_id}/abort", post(abort))
        .route(
            "/v1/terminal-transactions/{transaction_id}",
            get(transaction),
        )
}

async fn list_terminals(
    State(state): State<AppState>,
    _auth: ShopAuth,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.services.list_terminals().await?))
}

async fn start_payment(
    State(state): State<AppState>,
    auth: ShopAuth,
    headers: HeaderMap,
    Path(terminal_id): Path<String>,
    body: ApiJson<TerminalPaymentBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let key = idempotency_key(&headers)?;
    let scope = format!("terminal-payment:{terminal_id}");
    let keyed = Keyed {
        api_key_id: &auth.key_id,
        key: key.as_deref(),
        scope: &scope,
        body: &raw,
    };
    Ok(answer(
        state
            .services
            .start_terminal_payment(keyed, &terminal_id, value)
            .await?,
    ))
}

async fn abort(
    State(state): State<AppState>,
    auth: ShopAuth,
    headers: HeaderMap,
    Path(terminal_id): Path<String>,
) -> Result<Response, ApiError> {
    let key = idempotency_key(&headers)?;
    let scope = format!("terminal-abort:{terminal_id}");
    let keyed = Keyed {
        api_key_id: &auth.key_id,
        key: key.as_deref(),
        scope: &scope,
        body: b"",
    };
    Ok(answer(
        state.services.abort_terminal(keyed, &terminal_id).await?,
    ))
}

async fn transaction(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(transaction_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        state.services.terminal_transaction(&transaction_id).await?,
    ))
}
