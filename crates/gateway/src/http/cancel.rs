//! Cancels (full and partial) and receipt lookups, proxied to Smartro for the shop's backend.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::json;
use smartro::cancel::CancelRequest;
use smartro::client::CallOutcome;
use smartro::RequestErrorKind;

use super::api::idempotent;
use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::ApiJson;
use super::AppState;
use crate::domain::{CancelAnswer, CancelRefusal};
use crate::store::cancellations::{BeginCancel, CancelReply};
use crate::views::OrderView;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/orders/{order_id}/cancel", post(cancel_order))
        .route("/v1/orders/{order_id}/receipt", get(receipt))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelBody {
    /// Absent: everything that is left.
    pub amount: Option<i64>,
    pub reason: String,
}

const MAX_REASON_BYTES: usize = 100;

fn refusal(refusal: CancelRefusal) -> ApiError {
    match refusal {
        CancelRefusal::NotCancellable { status } => ApiError::conflict(
            "order_not_cancellable",
            format!("an order that is {} cannot be cancelled", status.as_str()),
        )
        .with("order_status", status.as_str()),
        CancelRefusal::VbankRefundByMerchant => ApiError::conflict(
            "vbank_not_cancellable",
            "virtual-account (VBANK) payments cannot be cancelled through Smartro: refund the buyer by bank \
             transfer yourself",
        ),
        CancelRefusal::InProgress { id } => ApiError::conflict(
            "cancel_in_progress",
            format!(
                "cancellation {id} of this order is being sent to Smartro right now; retry once it is answered \
                 (the order then shows its outcome)"
            ),
        )
        .with("cancellation_id", id.to_string()),
        CancelRefusal::OutcomeOpen { id } => ApiError::conflict(
            "cancellation_outcome_unknown",
            format!(
                "cancellation {id} has no known outcome yet (Smartro did not answer); no other cancel is sent \
                 until it is reconciled"
            ),
        )
        .with("cancellation_id", id.to_string()),
        CancelRefusal::NothingLeft => {
            ApiError::conflict("nothing_to_cancel", "the whole paid amount is already cancelled")
        }
        CancelRefusal::InvalidAmount => {
            ApiError::invalid_field("amount", "must be a positive integer (KRW)")
        }
        CancelRefusal::ExceedsRemaining {
            requested,
            remaining,
        } => ApiError::invalid_field(
            "amount",
            format!("{requested} is more than what is left to cancel ({remaining})"),
        )
        .with("remaining", remaining),
    }
}

async fn cancel_order(
    State(state): State<AppState>,
    auth: ShopAuth,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    body: ApiJson<CancelBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("cancel:{order_id}");
    let run = || async {
        let reason = value.reason.trim().to_string();
        if reason.is_empty() {
            return Err(ApiError::invalid_field("reason", "must not be empty"));
        }
        if reason.len() > MAX_REASON_BYTES {
            return Err(ApiError::invalid_field(
                "reason",
                format!("must be at most {MAX_REASON_BYTES} bytes (Hangul counts 3)"),
            ));
        }
        // The reason goes to Smartro as CancelMSG, in EUC-KR: refuse it here, before the cancel is recorded.
        if let Err(e) = smartro::cancel::validate_cancel_msg(&reason) {
            return Err(match e.kind {
                RequestErrorKind::NotEucKr => ApiError::not_euc_kr("reason", e.reason),
                RequestErrorKind::Invalid => ApiError::invalid_field("reason", e.reason),
            });
        }
        let now = state.clock.now();
        let (plan, mid) = match state
            .store
            .begin_cancel(&order_id, value.amount, &reason, now)
            .await?
        {
            BeginCancel::Planned { plan, mid } => (plan, mid),
            BeginCancel::Refused(r) => return Err(refusal(r)),
            BeginCancel::UnknownOrder => {
                return Err(ApiError::not_found(format!("no order {order_id}")))
            }
        };
        let merchant = state.settings.merchant(&mid).ok_or_else(|| {
            ApiError::new(
                StatusCode::CONFLICT,
                "merchant_not_configured",
                "Merchant not configured",
                format!("MID {mid} is no longer configured on this gateway"),
            )
        })?;
        let request = CancelRequest {
            tid: plan.tid.clone(),
            cancel_pw: merchant.cancel_password.expose_secret().to_string(),
            cancel_amt: plan.amount,
            cancel_msg: reason.clone(),
            partial: plan.partial,
            merchant_mode: None,
            divide_info: None,
        };
        let outcome = state
            .smartro
            .cancel(&request, merchant.merchant_key.expose_secret())
            .await;
        let (answer, reply, ptid, failure) = match outcome {
            CallOutcome::Answered(resp) => {
                let reply = CancelReply {
                    result_code: Some(resp.result_code.clone()),
                    result_message: Some(resp.result_msg.clone()),
                    cancel_num: resp.cancel_num.clone(),
                };
                if resp.is_success() {
                    (
                        CancelAnswer::Succeeded {
                            ptid: resp.ptid.clone(),
                        },
                        reply,
                        resp.ptid.clone(),
                        None,
                    )
                } else {
                    let err = ApiError::new(
                        StatusCode::BAD_GATEWAY,
                        "smartro_refused",
                        "Smartro refused the cancel",
                        format!("[{}] {}", resp.result_code, resp.result_msg),
                    )
                    .with("smartro_code", resp.result_code.clone())
                    .with("smartro_message", resp.result_msg.clone());
                    (CancelAnswer::Refused, reply, None, Some(err))
                }
            }
            CallOutcome::Refused { code, message, .. } => {
                // Not sent at all (our own request failed validation): a definite failure.
                let err = ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "cancel_request_invalid",
                    "The cancel request is invalid",
                    message.clone(),
                );
                (
                    CancelAnswer::Refused,
                    CancelReply {
                        result_code: Some(code),
                        result_message: Some(message),
                        cancel_num: None,
                    },
                    None,
                    Some(err),
                )
            }
            CallOutcome::NoAnswer { reason } => {
                tracing::warn!(order_id = %order_id, cancellation = %plan.id, %reason, "cancel: Smartro did not answer");
                let err = ApiError::new(
                    StatusCode::GATEWAY_TIMEOUT,
                    "smartro_no_answer",
                    "Smartro did not answer",
                    "the cancel's outcome is unknown; it is kept as `unknown` and reconciled with Smartro, and no \
                     other cancel of this order is sent meanwhile",
                )
                .with("cancellation_id", plan.id.to_string());
                (
                    CancelAnswer::Unknown,
                    CancelReply::default(),
                    None,
                    Some(err),
                )
            }
            CallOutcome::Unparseable { status, reason, .. } => {
                tracing::warn!(order_id = %order_id, cancellation = %plan.id, status, %reason, "cancel: unreadable answer");
                let err = ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "smartro_unreadable",
                    "Smartro's answer could not be read",
                    format!(
                        "HTTP {status}: {reason}; the outcome is kept as `unknown` and reconciled"
                    ),
                )
                .with("cancellation_id", plan.id.to_string());
                (
                    CancelAnswer::Unknown,
                    CancelReply::default(),
                    None,
                    Some(err),
                )
            }
        };
        let record = state
            .store
            .complete_cancel(
                &order_id,
                plan.id,
                &answer,
                &reply,
                ptid.as_deref(),
                state.clock.now(),
            )
            .await?;
        // Smartro's notification of this very cancel may have settled it while the call hung: then it succeeded.
        let settled = record
            .cancellations
            .iter()
            .any(|c| c.id == plan.id && c.status == "succeeded");
        match failure {
            Some(err) if !settled => Err(err),
            _ => Ok((
                StatusCode::OK,
                json!(OrderView::new(&record, &state.settings.server.public_url)),
            )),
        }
    };
    idempotent(&state, &auth, &headers, &scope, &raw, run).await
}

async fn receipt(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(order_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let record = state
        .store
        .get_order(&order_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no order {order_id}")))?;
    let tid = record.order.tid.clone().ok_or_else(|| {
        ApiError::not_found(format!(
            "order {order_id} has no Smartro transaction (TID) yet"
        ))
    })?;
    let merchant = state.settings.merchant(&record.order.mid).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "merchant_not_configured",
            "Merchant not configured",
            format!("MID {} is no longer configured", record.order.mid),
        )
    })?;
    let receipt_url = smartro::receipt::receipt_page_url(
        &state.settings.smartro.endpoints().receipt_page_url,
        &tid,
        false,
    );
    match state
        .smartro
        .receipt(
            &record.order.mid,
            &tid,
            merchant.merchant_key.expose_secret(),
        )
        .await
    {
        CallOutcome::Answered(receipt) => {
            let mut body = serde_json::to_value(&receipt).unwrap_or_else(|_| json!({}));
            if let Some(obj) = body.as_object_mut() {
                obj.insert("receipt_url".into(), json!(receipt_url));
            }
            Ok(Json(body))
        }
        CallOutcome::Refused { code, message, .. } => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "smartro_refused",
            "Smartro refused the receipt lookup",
            format!("[{code}] {message}"),
        )
        .with("smartro_code", code)
        .with("smartro_message", message)
        .with("receipt_url", receipt_url)),
        CallOutcome::NoAnswer { reason } => Err(ApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "smartro_no_answer",
            "Smartro did not answer",
            reason,
        )
        .with("receipt_url", receipt_url)),
        CallOutcome::Unparseable { status, reason, .. } => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "smartro_unreadable",
            "Smartro's answer could not be read",
            format!("HTTP {status}: {reason}"),
        )
        .with("receipt_url", receipt_url)),
    }
}
