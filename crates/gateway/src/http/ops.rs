//! Operations: liveness, readiness, Prometheus metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use crate::store::migrations_applied;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready when the database answers and every migration this binary embeds has been applied.
async fn readyz(State(state): State<AppState>) -> Response {
    let probe = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        // The readiness probe asks the database itself: it is about the database, not about any flow.
        migrations_applied(&state.services.store.pool),
    )
    .await;
    match probe {
        Ok(Ok(true)) => Json(json!({ "status": "ready" })).into_response(),
        Ok(Ok(false)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reason": "migrations not applied: run `smartro-gateway migrate`" })),
        )
            .into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "not_ready", "reason": "database unreachable" })),
            )
                .into_response()
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not_ready", "reason": "database did not answer within 2 s" })),
        )
            .into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.services.order_counts().await {
        Ok(counts) => state.services.metrics.set_orders(&counts),
        Err(e) => tracing::warn!(error = %e, "metrics: could not count orders"),
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.services.metrics.encode(),
    )
        .into_response()
}

pub const OPENAPI: &str = include_str!("openapi.json");

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
