//! The JSON API's rendering of [`ApiError`]: RFC 9457 `application/problem+json`.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

pub use crate::service::problem::{ApiError, FieldError};

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}
