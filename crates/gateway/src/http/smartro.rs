//! Smartro-facing endpoints: returnPay (the buyer's browser) and inform (Smartro's notification daemon).
//!
//! Both store the raw message first, parse it into a typed `smartro` message, verify its SignValue with the key of
//! its MID, and hand the verified result to the one apply path, which dedupes in the database.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use secrecy::ExposeSecret;
use smartro::notification::Notification;
use smartro::result::PaymentResult;
use smartro::types::StateCd;

use super::{pages, AppState};
use crate::config::MerchantSettings;
use crate::domain::{
    CardDetails, PaymentDetails, ResultKind, ResultSource, VbankDetails, VerifiedResult,
};
use crate::store::notifications::{NotificationLabels, NotificationOutcome, RawNotification};
use crate::store::results::ApplyOutcome;
use crate::store::StoreError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/smartro/return", post(return_pay))
        .route("/smartro/inform", post(inform))
}

/// Why a message was not applied: the outcome recorded, the HTTP status, and a short reason.
struct Refusal {
    outcome: NotificationOutcome,
    status: StatusCode,
    detail: String,
    // Boxed: a refusal is the rare path, and it keeps the Result of every parse small.
    labels: Box<NotificationLabels>,
}

fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| {
            *name != axum::http::header::AUTHORIZATION && *name != axum::http::header::COOKIE
        })
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Masks all but the first six and last four digits, in case a card number ever arrives unmasked.
pub fn mask_card_number(pin: &str) -> String {
    let digits = pin.chars().filter(|c| c.is_ascii_digit()).count();
    if digits <= 10 {
        return pin.to_string();
    }
    let mut seen = 0;
    pin.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > 6 && seen <= digits - 4 {
                    return '*';
                }
            }
            c
        })
        .collect()
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn merchant<'a>(
    state: &'a AppState,
    mid: &str,
    labels: &NotificationLabels,
) -> Result<&'a MerchantSettings, Refusal> {
    state.settings.merchant(mid).ok_or_else(|| Refusal {
        outcome: NotificationOutcome::UnknownMerchant,
        status: StatusCode::FORBIDDEN,
        detail: format!("unknown MID {mid}"),
        labels: Box::new(labels.clone()),
    })
}

fn bad_signature(labels: &NotificationLabels) -> Refusal {
    Refusal {
        outcome: NotificationOutcome::BadSignature,
        status: StatusCode::FORBIDDEN,
        detail: "SignValue does not verify".to_string(),
        labels: Box::new(labels.clone()),
    }
}

fn malformed(err: impl std::fmt::Display) -> Refusal {
    Refusal {
        outcome: NotificationOutcome::Malformed,
        status: StatusCode::BAD_REQUEST,
        detail: err.to_string(),
        labels: Box::default(),
    }
}

/// Parses and verifies a returnPay body.
fn verify_return(state: &AppState, body: &[u8]) -> Result<VerifiedResult, Refusal> {
    let r = PaymentResult::parse(body).map_err(malformed)?;
    let labels = NotificationLabels {
        mid: Some(r.mid.clone()),
        tid: Some(r.tid.clone()),
        order_id: Some(r.oid.clone()),
        dedupe_key: None,
    };
    let key = merchant(state, &r.mid, &labels)?;
    if !r.verify(key.merchant_key.expose_secret()) {
        return Err(bad_signature(&labels));
    }
    let kind = ResultKind::classify(None, &r.result_code);
    let details = PaymentDetails {
        card: (non_empty(&r.fn_cd).is_some() || non_empty(&r.acqu_card_code).is_some()).then(
            || CardDetails {
                issuer_code: non_empty(&r.fn_cd),
                issuer_name: non_empty(&r.fn_name),
                acquirer_code: non_empty(&r.acqu_card_code),
                quota: non_empty(&r.card_quota),
                masked_number: None,
            },
        ),
        vbank: non_empty(&r.vbank_num).map(|account| VbankDetails {
            bank_code: non_empty(&r.bank_code),
            bank_name: non_empty(&r.vbank_name).or_else(|| non_empty(&r.bank_name)),
            account: Some(account),
        }),
    };
    Ok(VerifiedResult {
        source: ResultSource::Return,
        kind,
        state_code: ResultKind::state_code_for_return(&r.result_code).to_string(),
        tid: r.tid,
        original_tid: None,
        order_id: r.oid,
        mid: r.mid,
        amount: r.amt,
        pay_method: r.pay_method,
        result_code: r.result_code,
        result_message: r.result_msg,
        auth_code: non_empty(&r.auth_code),
        auth_date: non_empty(&r.auth_date),
        details,
    })
}

/// Parses and verifies an inform body.
fn verify_inform(state: &AppState, body: &[u8]) -> Result<VerifiedResult, Refusal> {
    let n = Notification::parse(body).map_err(malformed)?;
    let labels = NotificationLabels {
        mid: Some(n.mid.clone()),
        tid: Some(n.tid.clone()),
        order_id: Some(n.oid.clone()),
        dedupe_key: Some(n.dedupe_key()),
    };
    let key = merchant(state, &n.mid, &labels)?;
    if !n.verify(key.merchant_key.expose_secret()) {
        return Err(bad_signature(&labels));
    }
    let kind = ResultKind::classify(Some(&n.state_cd), &n.result_code);
    let vbank_like = matches!(kind, ResultKind::VbankIssued | ResultKind::VbankDeposit)
        || n.state_cd == StateCd::VbankIssued;
    let details = if vbank_like {
        PaymentDetails {
            card: None,
            vbank: non_empty(&n.vbank_num).map(|account| VbankDetails {
                bank_code: non_empty(&n.fn_cd),
                bank_name: non_empty(&n.vbank_name).or_else(|| non_empty(&n.fn_name)),
                account: Some(account),
            }),
        }
    } else {
        PaymentDetails {
            card: (non_empty(&n.fn_cd).is_some() || non_empty(&n.pin_no).is_some()).then(|| {
                CardDetails {
                    issuer_code: non_empty(&n.fn_cd),
                    issuer_name: non_empty(&n.fn_name),
                    acquirer_code: None,
                    quota: non_empty(&n.card_quota),
                    masked_number: non_empty(&n.pin_no).map(|p| mask_card_number(&p)),
                }
            }),
            vbank: None,
        }
    };
    Ok(VerifiedResult {
        source: ResultSource::Inform,
        kind,
        state_code: n.state_cd.as_str().to_string(),
        tid: n.tid,
        original_tid: non_empty(&n.otid),
        order_id: n.oid,
        mid: n.mid,
        amount: n.amt,
        pay_method: n.pay_method,
        result_code: n.result_code,
        result_message: n.result_msg,
        auth_code: non_empty(&n.auth_code),
        auth_date: non_empty(&n.auth_date),
        details,
    })
}

enum Handled {
    Applied(ApplyOutcome, String),
    Refused(Refusal),
    /// The database could not be used: nothing may be acknowledged.
    Unavailable(StoreError),
}

/// Stores the raw message, verifies it, applies it once.
async fn handle(
    state: &AppState,
    source: ResultSource,
    headers: &HeaderMap,
    peer: Option<std::net::SocketAddr>,
    body: &[u8],
) -> Handled {
    let now = state.clock.now();
    let raw = RawNotification {
        source,
        body,
        headers: headers_json(headers),
        remote_addr: peer.map(|p| p.ip().to_string()),
        received_at: now,
    };
    let id = match state.store.insert_notification(&raw).await {
        Ok(id) => id,
        Err(e) => return Handled::Unavailable(e),
    };
    let verified = match source {
        ResultSource::Return => verify_return(state, body),
        ResultSource::Inform => verify_inform(state, body),
    };
    let handled = match verified {
        Err(refusal) => {
            if let Err(e) = state
                .store
                .reject_notification(id, refusal.outcome, &refusal.detail, &refusal.labels, now)
                .await
            {
                return Handled::Unavailable(e);
            }
            Handled::Refused(refusal)
        }
        Ok(result) => match state.store.apply_result(id, &result, now).await {
            Ok(ApplyOutcome::UnknownOrder) => Handled::Refused(Refusal {
                outcome: NotificationOutcome::UnknownOrder,
                status: StatusCode::NOT_FOUND,
                detail: format!("no order {}", result.order_id),
                labels: Box::default(),
            }),
            Ok(outcome) => Handled::Applied(outcome, result.order_id),
            Err(e) => Handled::Unavailable(e),
        },
    };
    let outcome = match &handled {
        Handled::Applied(ApplyOutcome::Duplicate { .. }, _) => "duplicate",
        Handled::Applied(..) => "applied",
        Handled::Refused(r) => r.outcome.as_str(),
        Handled::Unavailable(_) => "unavailable",
    };
    state.metrics.observe_notification(source.as_str(), outcome);
    handled
}

/// RetryURL: `OK` only once the result is durably applied (or was already); anything else makes Smartro re-send.
async fn inform(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> Response {
    match handle(
        &state,
        ResultSource::Inform,
        &headers,
        peer.map(|c| c.0 .0),
        &body,
    )
    .await
    {
        Handled::Applied(..) => (StatusCode::OK, "OK").into_response(),
        Handled::Refused(r) => {
            tracing::warn!(outcome = r.outcome.as_str(), detail = %r.detail, "inform refused");
            // The body must not contain "OK", or Smartro would take it as acknowledged.
            (r.status, format!("FAIL {}", r.outcome.as_str())).into_response()
        }
        Handled::Unavailable(e) => {
            tracing::error!(error = %e, "inform not stored: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "FAIL unavailable").into_response()
        }
    }
}

/// returnPay: record the result, then send the buyer back to the shop (or show a small result page).
async fn return_pay(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> Response {
    match handle(
        &state,
        ResultSource::Return,
        &headers,
        peer.map(|c| c.0 .0),
        &body,
    )
    .await
    {
        Handled::Applied(_, order_id) => {
            let record = match state.store.get_order(&order_id).await {
                Ok(Some(record)) => record,
                Ok(None) => {
                    return pages::message(StatusCode::NOT_FOUND, "주문 없음", "order not found")
                }
                Err(_) => return unavailable_page(),
            };
            match &record.order.return_url {
                Some(url) => {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    let target = format!(
                        "{url}{sep}{}",
                        form_urlencoded::Serializer::new(String::new())
                            .append_pair("order_id", &record.order.order_id)
                            .append_pair("status", &record.order.status)
                            .finish()
                    );
                    Redirect::to(&target).into_response()
                }
                None => pages::result(&record),
            }
        }
        Handled::Refused(r) => {
            tracing::warn!(outcome = r.outcome.as_str(), detail = %r.detail, "returnPay refused");
            let text = match r.outcome {
                NotificationOutcome::BadSignature | NotificationOutcome::UnknownMerchant => {
                    "결제 결과를 확인할 수 없습니다. (The payment result could not be verified.)"
                }
                NotificationOutcome::UnknownOrder => "주문을 찾을 수 없습니다. (Unknown order.)",
                _ => "결제 결과를 읽을 수 없습니다. (The payment result could not be read.)",
            };
            let status = if r.outcome == NotificationOutcome::UnknownOrder {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::BAD_REQUEST
            };
            pages::message(status, "결제 결과 오류", text)
        }
        Handled::Unavailable(e) => {
            tracing::error!(error = %e, "returnPay not stored: database unavailable");
            unavailable_page()
        }
    }
}

fn unavailable_page() -> Response {
    pages::message(
        StatusCode::SERVICE_UNAVAILABLE,
        "잠시 후 다시 시도해 주세요",
        "일시적인 오류입니다. 결제 결과는 스마트로에서 다시 전달됩니다. (Temporarily unavailable.)",
    )
}

#[cfg(test)]
mod tests {
    use super::mask_card_number;

    #[test]
    fn masks_full_card_numbers_only() {
        assert_eq!(mask_card_number("4111111111111111"), "411111******1111");
        assert_eq!(
            mask_card_number("4111-1111-1111-1111"),
            "4111-11**-****-1111"
        );
        assert_eq!(mask_card_number("411111******1111"), "411111******1111");
        assert_eq!(mask_card_number(""), "");
    }
}
