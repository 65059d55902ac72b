//! HTTP surfaces, one module each: the shop's API, the buyer's checkout, Smartro's callbacks, operations.
//! Handlers parse what arrives, call the service layer (`crate::service`) and render its answer; the flows and
//! the database are behind it.

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
pub mod refunds;
pub mod resolutions;
pub mod smartro;
pub mod terminals;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio_util::task::TaskTracker;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tracing::Instrument;

use crate::service::Services;

/// Requests larger than this are refused with 413 before they are read.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Everything a handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// Shared, not copied: axum clones the state for every request and every middleware that takes it.
    pub services: Arc<Services>,
    pub api_keys: Arc<auth::ApiKeys>,
    pub page_headers: Arc<PageHeaders>,
    /// The operator console; `None` when no operator is configured (its paths are then not mounted).
    pub console: Option<Arc<crate::console::Console>>,
    /// The handlers run to their end in tasks of their own ([`run_to_completion`]): shutdown waits for them.
    pub detached: TaskTracker,
}

impl AppState {
    pub fn new(services: Services) -> Self {
        let settings = &services.settings;
        AppState {
            api_keys: Arc::new(auth::ApiKeys::new(&settings.api.secret_keys)),
            page_headers: Arc::new(PageHeaders::new(&settings.checkout.frame_ancestors)),
            console: crate::console::Console::new(settings).map(Arc::new),
            services: Arc::new(services),
            detached: TaskTracker::new(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let timeout = Duration::from_secs(state.services.settings.server.request_timeout_secs.max(1));

    let console = match state.console {
        Some(_) => crate::console::routes(),
        None => Router::new(),
    };
    // The requests that call out (Smartro, a terminal) or record a merchant's decision run to their end whatever
    // their client does. Order creation and Smartro's callbacks need no task of their own: a group is written in
    // one (see `service::groups`), and Smartro sends a notification again until it is answered `OK`.
    let to_completion = Router::new()
        .merge(console)
        .merge(cancel::routes())
        .merge(refunds::routes())
        .merge(resolutions::routes())
        .merge(events::routes())
        .merge(terminals::routes())
        .layer(middleware::from_fn_with_state(
            state.detached.clone(),
            run_to_completion,
        ));
    Router::new()
        .merge(to_completion)
        .merge(api::routes())
        .merge(checkout::routes().layer(cors_layer(&state.services.settings.server.cors_origins)))
        .merge(smartro::routes())
        .merge(ops::routes())
        .fallback(fallback)
        .layer(middleware::from_fn(reject_nul_in_path))
        .layer(middleware::from_fn_with_state(state.clone(), track_metrics))
        .layer(middleware::from_fn_with_state(
            state.page_headers.clone(),
            page_headers,
        ))
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
        // Outermost, so that SetRequestIdLayer sees only an id worth echoing and makes a fresh one otherwise.
        .layer(middleware::map_request(drop_unusable_request_id))
        .with_state(state)
}

/// Whether a client's `X-Request-Id` may be kept and echoed: 1–128 characters of `[A-Za-z0-9._:-]`. Anything else
/// could forge log lines, carry markup into a log viewer, or bloat every line it is logged on.
fn is_usable_request_id(value: &[u8]) -> bool {
    (1..=128).contains(&value.len())
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

async fn drop_unusable_request_id(mut req: Request) -> Request {
    let headers = req.headers_mut();
    let all_usable = headers
        .get_all("x-request-id")
        .iter()
        .all(|v| is_usable_request_id(v.as_bytes()));
    // Several values are one ambiguous id: a fresh one is clearer than picking.
    if !all_usable || headers.get_all("x-request-id").iter().count() > 1 {
        headers.remove("x-request-id");
    }
    req
}

/// The headers of every HTML page: no MIME sniffing, no referrer beyond the origin, a Content-Security-Policy
/// that forbids framing (except the checkout page by the shops of `checkout.frame_ancestors`), and no caching.
///
/// Applied as a layer on the responses, so that pages added later get them without asking.
pub struct PageHeaders {
    page_policy: HeaderValue,
    checkout_policy: HeaderValue,
}

impl PageHeaders {
    /// `checkout_frame_ancestors`: origins (`https://shop.example.com`) allowed to frame `/pay/...`.
    pub fn new(checkout_frame_ancestors: &[String]) -> PageHeaders {
        let no_framing = page_policy("'none'");
        let checkout_policy = if checkout_frame_ancestors.is_empty() {
            no_framing.clone()
        } else {
            page_policy(&checkout_frame_ancestors.join(" "))
        };
        PageHeaders {
            page_policy: no_framing,
            checkout_policy,
        }
    }
}

/// What the gateway's pages need: their own inline `<style>`, nothing from elsewhere, no plugins, no `<base>`.
/// Scripts only from this origin (the pages have none today; an inline one would be refused).
///
/// No `form-action`: the checkout form goes to Smartro's payment window, which may answer it with redirects to
/// hosts of its own, and browsers check `form-action` against each hop.
const PAGE_POLICY: &str =
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'none'";

fn page_policy(frame_ancestors: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{PAGE_POLICY}; frame-ancestors {frame_ancestors}"))
        .unwrap_or_else(|_| {
            // Config validation admits only origins, which are valid header text; never allow framing by mistake.
            tracing::error!(
                "checkout.frame_ancestors does not form a valid header; framing is refused"
            );
            HeaderValue::from_static("frame-ancestors 'none'")
        })
}

/// Pages reached through a checkout link or Smartro's return: they show the order and the buyer, and the checkout
/// link carries the order's capability token.
fn is_buyer_path(path: &str) -> bool {
    path.starts_with("/pay/") || path == "/smartro/return" || path.starts_with("/smartro/return/")
}

fn is_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/html"))
}

pub async fn page_headers(
    State(policy): State<Arc<PageHeaders>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let buyer = is_buyer_path(path);
    let checkout = path.starts_with("/pay/");
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    // For every response: a browser must never guess a type the gateway did not declare.
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if buyer {
        // Whatever the handler said: these show an order (redirects included) and may hold a capability token.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if is_html(headers) {
        // `strict-origin`: Smartro's window sees which site sent the buyer, never the path or query, where the
        // checkout token is.
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin"),
        );
        // A page that needs another policy sets its own; framing stays refused unless it says otherwise.
        if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
            let csp = if checkout {
                &policy.checkout_policy
            } else {
                &policy.page_policy
            };
            headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
        } else if let Some(own) = headers
            .get(header::CONTENT_SECURITY_POLICY)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.contains("frame-ancestors"))
            .and_then(|v| HeaderValue::from_str(&format!("{v}; frame-ancestors 'none'")).ok())
        {
            headers.insert(header::CONTENT_SECURITY_POLICY, own);
        }
        // Every page the gateway renders is about an order, a buyer or an operator's session.
        if !headers.contains_key(header::CACHE_CONTROL) {
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    response
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

/// A request that may change something (any method but GET, HEAD, OPTIONS and TRACE) runs to its end in a task of
/// its own. Otherwise a client that hangs up, or the request timeout, drops the handler wherever it is: a cancel
/// between Smartro's answer and its record (left to the reconciliation worker), its Idempotency-Key in progress for
/// good, a console action without its outcome. The client then gets no answer, but every retry with its key gets
/// the one it would have had. (A task costs a spawn and a wake-up, so the busiest paths, which need none, go
/// without: see [`router`].)
async fn run_to_completion(
    State(detached): State<TaskTracker>,
    req: Request,
    next: Next,
) -> Response {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    let handler = detached.spawn(next.run(req).instrument(tracing::Span::current()));
    match handler.await {
        Ok(response) => response,
        // As if it had panicked here.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: nothing aborts these tasks, so only a runtime going away does.
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A NUL in a path parameter (`/v1/orders/%00`) would reach PostgreSQL, which refuses it in text: 422 naming the
/// parameter, as for a NUL in a JSON body. A raw NUL byte cannot be in a request line at all, so `%00` is the only
/// way in.
async fn reject_nul_in_path(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if path.contains("%00") {
        if let Some(template) = req.extensions().get::<MatchedPath>() {
            let field = path
                .split('/')
                .zip(template.as_str().split('/'))
                .find(|(segment, _)| segment.contains("%00"))
                .map(|(_, param)| param.trim_matches(|c| c == '{' || c == '}').to_string())
                .unwrap_or_else(|| "path".to_string());
            return error::ApiError::nul_character(field).into_response();
        }
    }
    next.run(req).await
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
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    state.services.metrics.observe_request(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usable_request_ids() {
        for id in ["a", "abc-123", "req:1.2_3", &"x".repeat(128)] {
            assert!(is_usable_request_id(id.as_bytes()), "{id}");
        }
        for id in ["", "a b", "a/b", "ü", "<x>", "a\"b", &"x".repeat(129)] {
            assert!(!is_usable_request_id(id.as_bytes()), "{id}");
        }
    }
}
