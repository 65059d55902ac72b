//! The sandbox's own control surface, for tests, scripts and the demo: `GET`/`POST /sandbox/faults` (the run-time
//! fault knobs) and `POST /sandbox/transactions` (approved payments without the payment window). JSON in and out;
//! errors are `{"error": "..."}` with status 400.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::{NewTransaction, RuntimeFaults, SandboxState};

/// Whole milliseconds of `d`, saturating (a delay set from code may exceed what JSON reports).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn faults_json(f: RuntimeFaults) -> Value {
    json!({
        "receipt_api_down": f.receipt_api_down,
        "receipt_delay_ms": millis(f.receipt_delay),
    })
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

/// `GET /sandbox/faults`: the run-time knobs as they stand.
pub(crate) async fn get_faults(State(state): State<SandboxState>) -> Response {
    Json(faults_json(state.runtime_faults())).into_response()
}

/// `POST /sandbox/faults`: a partial update, e.g. `{"receipt_api_down": true}` or `{"receipt_delay_ms": 5000}`.
/// Every field is checked before anything changes, so a bad request leaves the knobs as they were.
pub(crate) async fn set_faults(State(state): State<SandboxState>, body: Bytes) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return bad_request(format!("body is not JSON: {e}")),
    };
    let Value::Object(fields) = value else {
        return bad_request(
            "body must be a JSON object such as {\"receipt_api_down\": true} or {\"receipt_delay_ms\": 5000}",
        );
    };
    let mut down = None;
    let mut delay = None;
    for (name, value) in &fields {
        match name.as_str() {
            "receipt_api_down" => match value.as_bool() {
                Some(v) => down = Some(v),
                None => return bad_request(format!("receipt_api_down must be true or false, got {value}")),
            },
            "receipt_delay_ms" => match value.as_u64() {
                Some(ms) => delay = Some(Duration::from_millis(ms)),
                None => {
                    return bad_request(format!(
                        "receipt_delay_ms must be a whole number of milliseconds, 0 or more, got {value}"
                    ))
                }
            },
            other => {
                return bad_request(format!(
                    "unknown field {other:?}: the run-time faults are receipt_api_down and receipt_delay_ms"
                ))
            }
        }
    }
    let updated = state.update_runtime_faults(|f| {
        if let Some(v) = down {
            f.receipt_api_down = v;
        }
        if let Some(v) = delay {
            f.receipt_delay = v;
        }
    });
    Json(faults_json(updated)).into_response()
}

/// `POST /sandbox/transactions`: see [`SandboxState::create_transaction`].
pub(crate) async fn create_transaction(State(state): State<SandboxState>, body: Bytes) -> Response {
    let new: NewTransaction = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(e) => {
            return bad_request(format!(
                "body must be JSON {{\"mid\", \"moid\", \"amt\", \"pay_method\"?, \"goods_name\"?, \"buyer_name\"?}}: {e}"
            ))
        }
    };
    match state.create_transaction(new) {
        Ok(tx) => (
            StatusCode::CREATED,
            Json(json!({
                "tid": tx.tid,
                "mid": tx.mid,
                "moid": tx.moid,
                "amt": tx.amt,
                "pay_method": tx.pay_method.as_str(),
                "result_code": tx.result_code,
                "result_msg": tx.result_msg,
                "auth_date": tx.auth_date,
                "auth_code": tx.auth_code,
                "goods_name": tx.goods_name,
                "buyer_name": tx.buyer_name,
                "fn_cd": tx.fn_cd,
                "fn_name": tx.fn_name,
                "card_quota": tx.card_quota,
            })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.to_string(), "field": e.field })),
        )
            .into_response(),
    }
}
