//! One error type for every flow: a problem the caller can act on, with a stable code and the offending field.
//! The API renders it as RFC 9457 `application/problem+json` (`crate::http::error`); other callers (the console,
//! workers) read its code and detail.

use http::StatusCode;
use serde::Serialize;

use crate::store::StoreError;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// A problem the caller can act on. `code` is stable and machine-readable; `detail` is for people.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub errors: Vec<FieldError>,
    /// Extra members of the problem object (e.g. Smartro's result code on a refused cancel).
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            extra: serde_json::Map::new(),
        }
    }

    /// A request that is well-formed JSON but names a bad value: 422 with the field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::field_problem("validation_failed", field, message)
    }

    /// A string with a NUL character (U+0000), which PostgreSQL can store in neither text nor jsonb: 422.
    pub fn nul_character(field: impl Into<String>) -> Self {
        Self::field_problem(
            "nul_character",
            field,
            "must not contain the NUL character (U+0000)",
        )
    }

    /// Text that Smartro receives in EUC-KR with a character EUC-KR cannot encode (an emoji, most scripts other
    /// than Hangul, Latin, Han and kana): 422. Sent anyway, it would arrive as `&#128512;`.
    pub fn not_euc_kr(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::field_problem("not_euc_kr", field, message)
    }

    /// 422 naming one field, under `code`.
    fn field_problem(
        code: &'static str,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let field = field.into();
        let message = message.into();
        let mut e = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            code,
            "The request has invalid fields",
            format!("{field}: {message}"),
        );
        e.errors.push(FieldError { field, message });
        e
    }

    /// A body or parameter that cannot be read at all: 400 with the field when known.
    pub fn bad_request(field: Option<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut e = ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "The request could not be read",
            match &field {
                Some(f) if !f.is_empty() => format!("{f}: {message}"),
                _ => message.clone(),
            },
        );
        if let Some(field) = field.filter(|f| !f.is_empty()) {
            e.errors.push(FieldError { field, message });
        }
        e
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not found", what.into())
    }

    pub fn unauthorized() -> Self {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid API key",
            "send `Authorization: Bearer <secret key>` with one of the keys in [api] secret_keys",
        )
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::CONFLICT, code, "Conflict", detail)
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service temporarily unavailable",
            detail,
        )
    }

    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.extra.insert(key.to_string(), value.into());
        self
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "type": format!("/problems/{}", self.code.replace('_', "-")),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
            "code": self.code,
        });
        if let Some(obj) = body.as_object_mut() {
            if !self.errors.is_empty() {
                obj.insert(
                    "errors".into(),
                    serde_json::to_value(&self.errors).unwrap_or_default(),
                );
            }
            // Extra members never replace the standard ones (`status` stays the HTTP status).
            for (k, v) in &self.extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        body
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        // The database being unreachable is temporary; anything else is our fault. Neither leaks internals.
        if err.is_unavailable() {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::unavailable("the database is unreachable; retry shortly")
        } else {
            tracing::error!(error = %err, "store error");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                "an unexpected error occurred; it has been logged",
            )
        }
    }
}
