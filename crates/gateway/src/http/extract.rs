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
        reject_nul(&raw)?;
        Ok(ApiJson { value, raw })
    }
}

/// Refuses a body with a NUL character in any string or object key, naming where it is. PostgreSQL refuses NUL in
/// text and jsonb, and no API string has a use for it.
///
/// JSON can only carry NUL escaped (`\u0000`; a raw 0x00 byte is a syntax error), so a body without that escape
/// is passed without a second parse.
pub fn reject_nul(raw: &[u8]) -> Result<(), ApiError> {
    if !raw.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    let value: serde_json::Value = match serde_json::from_slice(raw) {
        Ok(v) => v,
        // Parsed once already as the request type; a body that is not JSON was refused there.
        Err(_) => return Ok(()),
    };
    match nul_path(&value, "") {
        Some(field) => Err(ApiError::nul_character(field)),
        None => Ok(()),
    }
}

/// The path (`buyer.name`, `metadata.items[2]`) of the first string or key that holds a NUL, if any.
fn nul_path(value: &serde_json::Value, at: &str) -> Option<String> {
    match value {
        serde_json::Value::String(s) => s.contains('\0').then(|| at.to_string()),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item, &format!("{at}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(key, item)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if key.contains('\0') {
                // The key itself cannot be named faithfully; its object can.
                return Some(if at.is_empty() {
                    "body".to_string()
                } else {
                    at.to_string()
                });
            }
            nul_path(item, &path)
        }),
        _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(raw: &str) -> Option<String> {
        reject_nul(raw.as_bytes())
            .err()
            .map(|e| e.errors[0].field.clone())
    }

    #[test]
    fn a_nul_anywhere_is_named_by_its_path() {
        assert_eq!(
            field_of(r#"{"goods_name":"a\u0000b"}"#).as_deref(),
            Some("goods_name")
        );
        assert_eq!(
            field_of(r#"{"buyer":{"name":"x","email":"\u0000"}}"#).as_deref(),
            Some("buyer.email")
        );
        assert_eq!(
            field_of(r#"{"metadata":{"items":["ok",{"sku":"\u0000"}]}}"#).as_deref(),
            Some("metadata.items[1].sku")
        );
        assert_eq!(
            field_of(r#"{"metadata":{"k\u0000":1}}"#).as_deref(),
            Some("metadata")
        );
        let e = reject_nul(br#"{"reason":"\u0000"}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.code, "nul_character");
    }

    #[test]
    fn text_that_only_looks_like_the_escape_passes() {
        // An escaped backslash followed by "u0000" is the six characters \u0000, not NUL.
        assert_eq!(field_of(r#"{"goods_name":"\\u0000"}"#), None);
        assert_eq!(field_of(r#"{"goods_name":"plain"}"#), None);
        assert_eq!(field_of(r#"{"goods_name":"\u0001"}"#), None);
    }
}
