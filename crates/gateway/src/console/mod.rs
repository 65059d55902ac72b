//! The operator console: server-rendered pages under `/console` for the merchant's staff (orders and their
//! timelines, actions on an order, terminals, a daily summary). Korean first, English hints, no script.
//!
//! - [`session`]: sign-in (throttled per name and per address), sessions in PostgreSQL, CSRF tokens, sign-out;
//! - [`pages`]: the read-only pages;
//! - [`actions`]: cancel, refund, resolve, redeliver, each calling the same service function as the API and
//!   written to the audit log;
//! - [`views`], [`chart`], [`raw`]: the HTML (maud escapes every value), the summary's SVG chart, and the raw
//!   Smartro messages as shown (card numbers masked);
//! - [`forms`]: the posted forms, parsed into typed values at the edge;
//! - [`password`]: argon2id hashes.
//!
//! With no `[[console.operators]]` the routes are not mounted at all, so every `/console` path answers 404.

pub mod actions;
pub mod chart;
pub mod forms;
pub mod pages;
pub mod password;
pub mod raw;
pub mod session;
pub mod views;

use axum::http::{header, HeaderValue};
use axum::middleware;
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;
use crate::http::AppState;

/// What the console needs besides the services: who may sign in and how cookies are set.
pub struct Console {
    operators: Vec<(String, SecretString)>,
    /// Verified when the name is unknown, so that the answer takes as long as for a wrong password.
    dummy_hash: String,
    /// `public_url` is https: the cookies are `Secure`.
    secure_cookies: bool,
    session_minutes: i64,
}

impl Console {
    /// `None` when no operator is configured: the console is off.
    pub fn new(settings: &Settings) -> Option<Console> {
        let operators: Vec<(String, SecretString)> = settings
            .console
            .operators
            .iter()
            .map(|o| (o.name.clone(), o.password_hash.clone()))
            .collect();
        let first = operators.first()?;
        let dummy_hash = password::dummy_hash_like(first.1.expose_secret());
        Some(Console {
            dummy_hash,
            secure_cookies: settings.server.public_url.starts_with("https://"),
            session_minutes: settings.console.session_minutes,
            operators,
        })
    }

    /// What binds a session to the operator's password as configured now (the SHA-256 of its hash); `None` for a
    /// name that is no operator. A session whose credential differs (a changed password, a removed operator) is
    /// over.
    fn credential(&self, name: &str) -> Option<Vec<u8>> {
        use sha2::{Digest, Sha256};
        self.operators
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, hash)| Sha256::digest(hash.expose_secret().as_bytes()).to_vec())
    }

    /// The hash to verify a sign-in against, and whether it belongs to an operator of this name.
    fn hash_for(&self, name: &str) -> (String, bool) {
        match self.operators.iter().find(|(n, _)| n == name) {
            Some((_, hash)) => (hash.expose_secret().to_string(), true),
            None => (self.dummy_hash.clone(), false),
        }
    }
}

/// The console's routes, for [`crate::http::router`] to mount when an operator is configured.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/console", get(pages::home))
        .route("/console/", get(pages::home))
        .route(
            "/console/sign-in",
            get(session::sign_in_form).post(session::sign_in),
        )
        .route("/console/sign-out", post(session::sign_out))
        .route("/console/orders", get(pages::orders))
        .route("/console/orders/{order_id}", get(pages::order))
        .route("/console/orders/{order_id}/cancel", post(actions::cancel))
        .route("/console/orders/{order_id}/refund", post(actions::refund))
        .route("/console/orders/{order_id}/resolve", post(actions::resolve))
        .route(
            "/console/orders/{order_id}/events/{event_id}/redeliver",
            post(actions::redeliver),
        )
        .route("/console/terminals", get(pages::terminals))
        .route("/console/summary", get(pages::summary))
        // Any other path below /console is the console's own 404, with its headers.
        .route("/console/{*rest}", any(pages::not_found))
        .layer(middleware::map_response(console_headers))
}

/// The console's pages have no script, post forms only to themselves and load nothing from elsewhere. Every
/// answer, redirects included, concerns an operator's session or an order: never cached.
const CONSOLE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; \
     form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

async fn console_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONSOLE_POLICY),
    );
    response
}
