//! Extractors that turn bad input into problem+json naming the field, instead of axum's plain-text rejections.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A JSON body, with the raw bytes kept (the idempotency check hashes them).
pub struct ApiJson<T> {
    pub value: T,
    pub raw: Bytes,
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json") || v.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected a JSON body",
                "send the body as JSON with `Content-Type: application/json`",
            ));
        }
        let raw = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "Request body too large",
                    format!("the body must be at most {} bytes", super::BODY_LIMIT),
                )
            } else {
                ApiError::bad_request(None, rejection.body_text())
            }
        })?;
        let value = parse_json(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Parses JSON, naming the path of the first bad field (`buyer.email`, `amount`) in the problem.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(raw);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        let field = if path == "." { String::new() } else { path };
        let message = inner.to_string();
        // Syntax errors mean the body is not JSON at all (400); a wrong type or value is a bad field (422).
        match inner.classify() {
            serde_json::error::Category::Data if !field.is_empty() => {
                ApiError::invalid_field(field, strip_position(&message))
            }
            serde_json::error::Category::Data => {
                // Missing or unknown top-level fields name themselves in the message.
                let named = missing_or_unknown_field(&message);
                match named {
                    Some(name) => ApiError::invalid_field(name, strip_position(&message)),
                    None => ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "validation_failed",
                        "The request has invalid fields",
                        strip_position(&message),
                    ),
                }
            }
            _ => ApiError::bad_request(None, format!("body is not valid JSON: {message}")),
        }
    })
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn missing_or_unknown_field(message: &str) -> Option<String> {
    for prefix in ["missing field `", "unknown field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            return rest.split('`').next().map(str::to_string);
        }
    }
    None
}

/// Query parameters as (name, value) pairs, decoded leniently; handlers validate each.
pub struct RawQuery(pub Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for RawQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        Ok(RawQuery(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }
}

impl RawQuery {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}
