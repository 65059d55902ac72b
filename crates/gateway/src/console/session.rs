//! Signing in and out, sessions and CSRF tokens.
//!
//! - A session is a random 256-bit token in a cookie (`HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure`
//!   behind https); PostgreSQL keeps only its SHA-256, the operator, and when it expires or was signed out, so
//!   every replica knows it and signing out ends it everywhere.
//! - Each session's CSRF token is derived from its token (SHA-256 of a purpose label and the token): it needs no
//!   storage, differs from the stored hash, and is compared in constant time on every state-changing form.
//! - The sign-in form has no session yet. It is protected as a double submit: `GET` sets a random pre-session
//!   cookie and the form carries the token derived from it; a `POST` whose token does not match the cookie is
//!   403. A cross-site page can neither read the cookie nor (`SameSite=Strict`) have it sent. A request that
//!   states an `Origin` other than `server.public_url`'s is refused as well.
//! - Failed sign-ins are stored and counted over [`WINDOW_MINUTES`] per name and per client address (an IPv6
//!   client's /64 network); past the limits every attempt, right or wrong, is refused (429) without checking the
//!   password. Each attempt is stored before it is counted, so that concurrent guesses cannot all slip under the
//!   limit.
//! - A wrong password and an unknown name get the same status and page; an unknown name is verified against a
//!   dummy hash of the same cost, so both take as long.

use std::net::{IpAddr, Ipv6Addr};

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Duration;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::forms::FormFields;
use super::views;
use crate::http::client_ip::ClientIp;
use crate::http::AppState;
use crate::store::console::NewAuditEntry;

pub const SESSION_COOKIE: &str = "console_session";
pub const SIGN_IN_COOKIE: &str = "console_sign_in";
/// Failed sign-ins are counted over this many minutes.
pub const WINDOW_MINUTES: i64 = 15;
/// Failures for one name within the window before its sign-ins are refused.
pub const MAX_FAILURES_PER_NAME: i64 = 5;
/// Failures from one address within the window (any names) before its sign-ins are refused.
pub const MAX_FAILURES_PER_ADDRESS: i64 = 20;
/// Longer names cannot be operators; what is counted of them is cut here so that guesses cannot bloat the table.
const MAX_NAME_CHARS: usize = 64;
/// How long the sign-in form's pre-session cookie lives.
const SIGN_IN_COOKIE_SECS: i64 = 3600;

/// A fresh random token, hex.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The CSRF token of a session (or pre-session) token, for one purpose.
fn csrf_for(purpose: &str, token: &str) -> String {
    hex::encode(Sha256::digest(format!("console-csrf:{purpose}:{token}")))
}

fn same_token(expected: &str, given: Option<&str>) -> bool {
    given.is_some_and(|given| bool::from(expected.as_bytes().ct_eq(given.as_bytes())))
}

pub fn read_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
        // Only the shape this module writes: anything else is no token at all.
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn cookie_header(name: &str, value: &str, max_age_secs: i64, secure: bool) -> HeaderValue {
    let cookie = cookie::Cookie::build((name, value))
        .path("/console")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .secure(secure)
        .max_age(cookie::time::Duration::seconds(max_age_secs))
        .build();
    HeaderValue::from_str(&cookie.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    if !cookie.is_empty() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The signed-in operator of a console request. Without a live session the request is answered by a redirect
/// to the sign-in form, and the handler never runs.
pub struct Operator {
    pub name: String,
    /// The token every form of this session carries.
    pub csrf: String,
    token_sha256: Vec<u8>,
}

impl Operator {
    /// Whether the posted form carries this session's CSRF token. When it does not, the handler answers
    /// [`forbidden`] before doing anything.
    pub fn csrf_ok(&self, fields: &FormFields) -> bool {
        same_token(&self.csrf, fields.get("csrf"))
    }
}

pub fn forbidden() -> Response {
    views::html(
        StatusCode::FORBIDDEN,
        views::message_page(
            "요청을 처리할 수 없습니다 (Forbidden)",
            "보안 토큰이 없거나 맞지 않습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요. \
             (The form's security token is missing or invalid: reload the page and try again.)",
        ),
    )
}

fn to_sign_in() -> Response {
    Redirect::to("/console/sign-in").into_response()
}

impl FromRequestParts<AppState> for Operator {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(token) = read_cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(to_sign_in());
        };
        let token_sha256 = sha256(&token);
        let services = &state.services;
        match services
            .store
            .console_session(&token_sha256, services.clock.now())
            .await
        {
            Ok(Some(session))
                if state
                    .console
                    .as_ref()
                    .and_then(|c| c.credential(&session.operator))
                    .is_some_and(|now| session.credential.as_deref() == Some(now.as_slice())) =>
            {
                Ok(Operator {
                    name: session.operator,
                    csrf: csrf_for("session", &token),
                    token_sha256,
                })
            }
            // Signed out, expired, its operator no longer configured or their password changed.
            Ok(_) => Err(to_sign_in()),
            Err(e) => Err(views::unavailable(&e)),
        }
    }
}

/// `GET /console/sign-in`: the form, with a pre-session cookie for its CSRF token.
pub async fn sign_in_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let Some(console) = state.console.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (token, cookie) = match read_cookie(&headers, SIGN_IN_COOKIE) {
        Some(token) => (token, HeaderValue::from_static("")),
        None => {
            let token = new_token();
            let cookie = cookie_header(
                SIGN_IN_COOKIE,
                &token,
                SIGN_IN_COOKIE_SECS,
                console.secure_cookies,
            );
            (token, cookie)
        }
    };
    let page = views::sign_in_page(&csrf_for("sign-in", &token), None);
    with_cookie(views::html(StatusCode::OK, page), cookie)
}

/// Whether the request's `Origin`, when it states one, is the gateway's own.
fn origin_allowed(headers: &HeaderMap, public_url: &str) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    match url::Url::parse(public_url) {
        Ok(own) => own.origin().ascii_serialization() == origin,
        Err(_) => false,
    }
}

/// What a client's failed sign-ins are counted under: its IPv4 address, or the /64 network of its IPv6 address. One
/// subscriber's IPv6 network is a /64 at least, and anyone holding one can send each guess from another of its 2^64
/// addresses. An IPv4 client seen through IPv6 counts as its IPv4 address: mapped by a dual-stack socket
/// (`::ffff:a.b.c.d`), or translated by NAT64 (`64:ff9b::a.b.c.d`), where every IPv4 client shares one /64.
fn counted_address(client: Option<IpAddr>) -> String {
    match client {
        None => "unknown".to_string(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => match smartro::request::ipv4_inside(v6) {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// `POST /console/sign-in`.
pub async fn sign_in(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(console) = state.console.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let services = &state.services;
    let fields = FormFields::parse(&body);
    let pre_token = read_cookie(&headers, SIGN_IN_COOKIE);
    let token_ok = pre_token
        .as_deref()
        .is_some_and(|t| same_token(&csrf_for("sign-in", t), fields.get("csrf")));
    if !token_ok || !origin_allowed(&headers, &services.settings.server.public_url) {
        // A fresh pre-session cookie, so that the form shown can be sent.
        let token = new_token();
        let page = views::sign_in_page(
            &csrf_for("sign-in", &token),
            Some("보안 토큰이 없거나 맞지 않습니다. 다시 로그인해 주세요. (Invalid or missing form token: please sign in again.)"),
        );
        let cookie = cookie_header(
            SIGN_IN_COOKIE,
            &token,
            SIGN_IN_COOKIE_SECS,
            console.secure_cookies,
        );
        return with_cookie(views::html(StatusCode::FORBIDDEN, page), cookie);
    }
    let csrf = pre_token
        .as_deref()
        .map(|t| csrf_for("sign-in", t))
        .unwrap_or_default();
    let failed = |status: StatusCode, message: &'static str| {
        views::html(status, views::sign_in_page(&csrf, Some(message)))
    };
    let typed = fields.get("name").unwrap_or("").trim();
    // Cut for counting only: a name longer than any operator's is no operator, even if it starts like one.
    let too_long = typed.chars().count() > MAX_NAME_CHARS;
    let name: String = typed
        .chars()
        .map(|c| if c == '\0' { '\u{FFFD}' } else { c })
        .take(MAX_NAME_CHARS)
        .collect();
    let password = fields.get("password").unwrap_or("").to_string();
    let address = client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string());
    let counted = counted_address(client);
    let now = services.clock.now();
    let since = now - Duration::minutes(WINDOW_MINUTES);
    // The attempt is stored as a failure before it is counted (a success forgets it), so that guesses sent at
    // once see each other: each counts itself and every one stored before it, and at most the limit get checked.
    let attempt = match services
        .store
        .record_sign_in_failure(&name, &counted, now)
        .await
    {
        Ok(id) => id,
        Err(e) => return views::unavailable(&e),
    };
    match services
        .store
        .sign_in_failures(&name, &counted, since)
        .await
    {
        Ok((by_name, by_address))
            if by_name > MAX_FAILURES_PER_NAME || by_address > MAX_FAILURES_PER_ADDRESS =>
        {
            // A refused attempt is not kept: past the limit, guesses cost neither a hash nor a row.
            if let Err(e) = services.store.forget_sign_in_failure(attempt).await {
                return views::unavailable(&e);
            }
            tracing::warn!(%address, "console: sign-in refused, too many failures");
            return failed(StatusCode::TOO_MANY_REQUESTS, views::TOO_MANY_ATTEMPTS);
        }
        Ok(_) => {}
        Err(e) => return views::unavailable(&e),
    }
    let (hash, known) = console.hash_for(&name);
    let matches = tokio::task::spawn_blocking(move || super::password::verify(&password, &hash))
        .await
        .unwrap_or(false);
    if !(known && !too_long && matches) {
        // Failures are purged here too, or guesses that never meet a success would pile up.
        if let Err(e) = services
            .store
            .purge_console_sign_ins(now - Duration::days(1))
            .await
        {
            return views::unavailable(&e);
        }
        tracing::info!(%address, "console: sign-in failed");
        return failed(StatusCode::UNAUTHORIZED, views::SIGN_IN_FAILED);
    }
    let token = new_token();
    let expires_at = now + Duration::minutes(console.session_minutes);
    let stored = async {
        services
            .store
            .insert_console_session(
                &sha256(&token),
                &name,
                &console.credential(&name).unwrap_or_default(),
                now,
                expires_at,
            )
            .await?;
        services.store.clear_sign_in_failures(&name).await?;
        services
            .store
            .purge_console_sign_ins(now - Duration::days(1))
            .await?;
        services
            .store
            .insert_audit(
                &NewAuditEntry {
                    operator: &name,
                    action: "sign_in",
                    order_id: None,
                    outcome: "succeeded",
                    detail: &format!("from {address}"),
                },
                now,
            )
            .await
    }
    .await;
    if let Err(e) = stored {
        return views::unavailable(&e);
    }
    tracing::info!(operator = %name, %address, "console: signed in");
    let mut response = Redirect::to("/console/orders").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookie_header(
            SESSION_COOKIE,
            &token,
            console.session_minutes * 60,
            console.secure_cookies,
        ),
    );
    headers.append(
        header::SET_COOKIE,
        cookie_header(SIGN_IN_COOKIE, "", 0, console.secure_cookies),
    );
    response
}

/// `POST /console/sign-out`: ends the session in the database, then drops the cookie.
pub async fn sign_out(State(state): State<AppState>, operator: Operator, body: Bytes) -> Response {
    let fields = FormFields::parse(&body);
    if !operator.csrf_ok(&fields) {
        return forbidden();
    }
    let services = &state.services;
    let now = services.clock.now();
    let ended = async {
        services
            .store
            .end_console_session(&operator.token_sha256, now)
            .await?;
        services
            .store
            .insert_audit(
                &NewAuditEntry {
                    operator: &operator.name,
                    action: "sign_out",
                    order_id: None,
                    outcome: "succeeded",
                    detail: "",
                },
                now,
            )
            .await
    }
    .await;
    if let Err(e) = ended {
        return views::unavailable(&e);
    }
    let secure = state.console.as_ref().is_some_and(|c| c.secure_cookies);
    with_cookie(
        Redirect::to("/console/sign-in").into_response(),
        cookie_header(SESSION_COOKIE, "", 0, secure),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let counted = |ip: &str| counted_address(Some(ip.parse().unwrap()));
        assert_eq!(counted("203.0.113.7"), "203.0.113.7");
        assert_eq!(counted("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(counted("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(counted("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
        assert_eq!(counted("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(counted("64:ff9b::203.0.113.7"), "203.0.113.7");
        assert_eq!(counted("64:ff9b::1:203.0.113.7"), "64:ff9b::/64");
        assert_eq!(counted("::1"), "::/64");
        assert_eq!(counted_address(None), "unknown");
    }

    #[test]
    fn cookies_are_read_only_in_their_own_shape() {
        let token = new_token();
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {SESSION_COOKIE}={token}")).unwrap(),
        );
        assert_eq!(read_cookie(&headers, SESSION_COOKIE), Some(token));
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("console_session=short"),
        );
        assert_eq!(read_cookie(&headers, SESSION_COOKIE), None);
    }

    #[test]
    fn csrf_tokens_depend_on_purpose_and_token() {
        let token = new_token();
        assert_ne!(csrf_for("session", &token), csrf_for("sign-in", &token));
        assert_ne!(csrf_for("session", &token), hex::encode(sha256(&token)));
        assert!(same_token(
            &csrf_for("session", &token),
            Some(&csrf_for("session", &token))
        ));
        assert!(!same_token(&csrf_for("session", &token), None));
        assert!(!same_token(&csrf_for("session", &token), Some("")));
    }

    #[test]
    fn session_cookies_are_strict() {
        let cookie = cookie_header(SESSION_COOKIE, "x", 60, true);
        let text = cookie.to_str().unwrap();
        for part in [
            "HttpOnly",
            "SameSite=Strict",
            "Path=/console",
            "Secure",
            "Max-Age=60",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        let plain = cookie_header(SESSION_COOKIE, "x", 60, false);
        assert!(!plain.to_str().unwrap().contains("Secure"));
    }
}
