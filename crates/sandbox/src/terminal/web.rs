//! The terminal's face on the sandbox's HTTP server: the `/terminal` page a person uses (the screen, and
//! buttons to insert the card, sign or decline), and the JSON control surface for tests and scripts:
//! - `GET /terminal/state` → `{"connected", "screen", "faults", "last_transaction", "ledger", "log"}`
//! - `GET /terminal/faults` → the knobs; `POST /terminal/faults` with some of them (e.g. `{"decline": true}`)
//!   changes them and answers `200` with the new set; an unknown field or a non-boolean → `400 {"error"}` and
//!   nothing changes.
//! - `POST /terminal/insert-card`, `/terminal/sign`, `/terminal/decline`: the page's buttons; they answer `303`
//!   back to the page (or `409` when the screen does not offer that step, for a script that asks `Accept:
//!   application/json`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use super::{Screen, TerminalFaults, TerminalState};
use crate::html::{escape, html_response, page, won};

pub(crate) fn routes(state: TerminalState) -> Router {
    Router::new()
        .route("/terminal", get(screen_page))
        .route("/terminal/state", get(state_json))
        .route("/terminal/faults", get(get_faults).post(set_faults))
        .route("/terminal/insert-card", post(insert_card))
        .route("/terminal/sign", post(sign))
        .route("/terminal/decline", post(decline))
        .with_state(state)
}

async fn screen_page(State(state): State<TerminalState>) -> Response {
    let screen = state.screen();
    let (detail, buttons) = match &screen {
        Screen::Idle => (String::new(), ""),
        Screen::WaitingCard { message_type, ptxid, amount } => (
            format!(
                "<p>{} · <strong id=\"amount\">{}원</strong></p><p class=\"muted\">ptxid {}</p>",
                escape(message_type),
                won(*amount),
                escape(ptxid)
            ),
            "<form method=\"post\" action=\"/terminal/insert-card\" style=\"display:inline\">\
<button id=\"insert-card\" type=\"submit\">카드 넣기</button></form>\
<form method=\"post\" action=\"/terminal/decline\" style=\"display:inline\">\
<button id=\"decline\" type=\"submit\">거절</button></form>",
        ),
        Screen::WaitingSignature { message_type, ptxid, amount } => (
            format!(
                "<p>{} · <strong id=\"amount\">{}원</strong></p><p class=\"muted\">ptxid {}</p>\
<div style=\"border:1px dashed #888;height:90px;margin:8px 0\" aria-label=\"서명패드\"></div>",
                escape(message_type),
                won(*amount),
                escape(ptxid)
            ),
            "<form method=\"post\" action=\"/terminal/sign\" style=\"display:inline\">\
<button id=\"sign\" type=\"submit\">서명</button></form>\
<form method=\"post\" action=\"/terminal/decline\" style=\"display:inline\">\
<button id=\"decline\" type=\"submit\">거절</button></form>",
        ),
        Screen::Result { message_type, ptxid, result_code, result_message } => (
            format!(
                "<p>{} · <strong id=\"result-code\">{}</strong> {}</p><p class=\"muted\">ptxid {}</p>",
                escape(message_type),
                escape(result_code),
                escape(result_message),
                escape(ptxid)
            ),
            "",
        ),
    };
    let connected = if state.connected() {
        "POS 연결됨"
    } else {
        "POS 연결 없음"
    };
    let body = format!(
        "<h1>결제단말기</h1><p class=\"muted\" id=\"connection\">{connected}</p>\
<p id=\"screen\" style=\"font-size:22px\">{}</p>{detail}{buttons}",
        screen.text()
    );
    // The screen changes on its own (the POS, timers): the page reloads itself every second.
    let html = page("결제단말기", &body).replacen(
        "<title>",
        "<meta http-equiv=\"refresh\" content=\"1\"><title>",
        1,
    );
    html_response(StatusCode::OK, html)
}

async fn state_json(State(state): State<TerminalState>) -> Response {
    let last = state.last_transaction().map(|l| {
        json!({
            "message_type": l.message_type.code(),
            "ptxid": l.ptxid,
            "result_code": l.reply.result_code.as_str(),
            "result_message": l.reply.result_message,
            "confirmed": l.confirmed,
        })
    });
    Json(json!({
        "connected": state.connected(),
        "screen": state.screen(),
        "screen_text": state.screen().text(),
        "faults": state.faults(),
        "last_transaction": last,
        "ledger": state.ledger(),
        "log": state.log(),
    }))
    .into_response()
}

async fn get_faults(State(state): State<TerminalState>) -> Response {
    Json(state.faults()).into_response()
}

/// A partial update: only the knobs named change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsPatch {
    decline: Option<bool>,
    signature: Option<bool>,
    signature_timeout: Option<bool>,
    drop_after_request: Option<bool>,
    no_answer: Option<bool>,
    garbage: Option<bool>,
    busy: Option<bool>,
}

async fn set_faults(State(state): State<TerminalState>, body: Bytes) -> Response {
    let patch: FaultsPatch = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("body must be a JSON object of booleans among the fault knobs: {e}") })),
            )
                .into_response()
        }
    };
    let updated = state.update_faults(|f: &mut TerminalFaults| {
        let set = |knob: &mut bool, v: Option<bool>| {
            if let Some(v) = v {
                *knob = v;
            }
        };
        set(&mut f.decline, patch.decline);
        set(&mut f.signature, patch.signature);
        set(&mut f.signature_timeout, patch.signature_timeout);
        set(&mut f.drop_after_request, patch.drop_after_request);
        set(&mut f.no_answer, patch.no_answer);
        set(&mut f.garbage, patch.garbage);
        set(&mut f.busy, patch.busy);
    });
    Json(updated).into_response()
}

/// Back to the page for a browser; `409` when the step was not on offer, for a script asking for JSON.
fn button_answer(headers: &HeaderMap, done: bool) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        let status = if done {
            StatusCode::OK
        } else {
            StatusCode::CONFLICT
        };
        return (status, Json(json!({ "done": done }))).into_response();
    }
    Redirect::to("/terminal").into_response()
}

async fn insert_card(State(state): State<TerminalState>, headers: HeaderMap) -> Response {
    button_answer(&headers, state.insert_card())
}

async fn sign(State(state): State<TerminalState>, headers: HeaderMap) -> Response {
    button_answer(&headers, state.sign())
}

async fn decline(State(state): State<TerminalState>, headers: HeaderMap) -> Response {
    button_answer(&headers, state.decline())
}
