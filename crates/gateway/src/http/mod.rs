//! HTTP surfaces, one module each: the shop's API, the buyer's checkout, Smartro's callbacks, operations.

pub mod api;
pub mod auth;
pub mod cancel;
pub mod checkout;
pub mod client_ip;
pub mod error;
pub mod events;
pub mod extract;
pub mod ops;
pub mod pages;
pub mod paging;
pub mod smartro;

use std::sync::Arc;
use std::time::Duration;

use ::smartro::client::SmartroClient;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::store::Store;

/// Requests larger than this are refused with 413 before they are read.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub api_keys: Arc<auth::ApiKeys>,
    pub smartro: SmartroClient,
}

impl AppState {
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        clock: SharedClock,
    ) -> Result<Self, reqwest::Error> {
        let api_keys = Arc::new(auth::ApiKeys::new(&settings.api.secret_keys));
        let endpoints = settings.smartro.endpoints();
        let smartro = SmartroClient::new(
            endpoints.cancel_url,
            endpoints.receipt_api_url,
            Duration::from_secs(settings.smartro.timeout_secs),
        )?;
        Ok(AppState {
            store,
            settings,
            clock,
            metrics: Arc::new(Metrics::new()),
            api_keys,
            smartro,
        })
    }
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let timeout = Duration::from_secs(state.settings.server.request_timeout_secs.max(1));

    Router::new()
        .merge(api::routes())
        .merge(cancel::routes())
        .merge(events::routes())
        .merge(checkout::routes().layer(cors_layer(&state.settings.server.cors_origins)))
        .merge(smartro::routes())
        .merge(ops::routes())
        .fallback(fallback)
        .layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            timeout,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only, never the query: checkout tokens travel in it.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

fn cors_layer(origins: &[String]) -> CorsLayer {
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET])
        .max_age(Duration::from_secs(600))
}

async fn fallback(uri: axum::http::Uri) -> error::ApiError {
    error::ApiError::not_found(format!("no route for {}", uri.path()))
}

async fn track_metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    state.metrics.observe_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
