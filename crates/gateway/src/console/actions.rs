//! Actions on an order: each a POST form with the session's CSRF token, calling the same service function as
//! the API (with the form's id as the Idempotency-Key, under the operator's name), written to the audit log, and
//! answered by a redirect to the order's page, which shows the outcome (post/redirect/get).

use std::future::Future;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::forms::{CancelForm, FormFields, RefundForm, ResolveForm};
use super::session::{forbidden, Operator};
use super::views;
use crate::domain::ResolveAction;
use crate::http::AppState;
use crate::service::idempotency::{Answer, Keyed};
use crate::service::problem::ApiError;
use crate::store::console::NewAuditEntry;

fn won(amount: i64) -> String {
    views::won(amount)
}

/// Runs one action under the audit log and redirects to the order's page, which shows its entry as the outcome.
/// The entry is written `pending` before the action runs and settled after it: a process that dies in between
/// leaves it pending, never an action without its entry; when it cannot be written, the action does not run. (A
/// browser that hangs up stops neither: every request that changes something runs to its end, see
/// `http::run_to_completion`.)
async fn audited(
    state: &AppState,
    operator: &Operator,
    action: &str,
    order_id: &str,
    work: impl Future<Output = Result<String, ApiError>>,
) -> Response {
    let services = &state.services;
    let id = match services
        .store
        .insert_audit(
            &NewAuditEntry {
                operator: &operator.name,
                action,
                order_id: Some(order_id),
                outcome: "pending",
                detail: "",
            },
            services.clock.now(),
        )
        .await
    {
        Ok(id) => id,
        Err(e) => return views::unavailable(&e),
    };
    let outcome = work.await;
    let (result, detail) = match &outcome {
        Ok(detail) => ("succeeded", detail.clone()),
        Err(e) => (
            if e.status.is_server_error() {
                "failed"
            } else {
                "refused"
            },
            views::problem_text(e),
        ),
    };
    if let Err(e) = services.store.settle_audit(id, result, &detail).await {
        // The entry stays pending: the log keeps what it came to.
        tracing::error!(
            operator = %operator.name, action, %order_id, outcome = result, %detail, audit_id = id, error = %e,
            "console action done, its audit entry not settled"
        );
        return views::unavailable(&e);
    }
    tracing::info!(operator = %operator.name, action, %order_id, outcome = result, "console action");
    Redirect::to(&format!(
        "/console/orders/{}?done={id}#outcome",
        crate::views::path_segment(order_id)
    ))
    .into_response()
}

/// The Idempotency-Key of one posted form: the form's own id, for one action on one order, under the operator. The
/// caller is `console:<name>`, so the keys of operators never meet the API keys'; the body compared when a form
/// comes again is the parsed form as JSON.
struct FormKey {
    caller: String,
    form_id: String,
    scope: String,
    body: Vec<u8>,
}

impl FormKey {
    fn new<T: Serialize>(
        operator: &Operator,
        fields: &FormFields,
        action: &str,
        order_id: &str,
        form: &T,
    ) -> Result<FormKey, ApiError> {
        Ok(FormKey {
            caller: format!("console:{}", operator.name),
            form_id: fields.form_id()?,
            scope: format!("{action}:{order_id}"),
            body: serde_json::to_vec(form).unwrap_or_default(),
        })
    }

    fn keyed(&self) -> Keyed<'_> {
        Keyed {
            api_key_id: &self.caller,
            key: Some(&self.form_id),
            scope: &self.scope,
            body: &self.body,
        }
    }
}

fn replay_note(answer: &Answer) -> &'static str {
    if answer.replayed {
        " (같은 양식이 다시 제출되어 처음 결과를 보여 줍니다 / the same form again: its first outcome)"
    } else {
        ""
    }
}

/// `POST /console/orders/{order_id}/cancel`: cancel what is left, or `amount` of it.
pub async fn cancel(
    State(state): State<AppState>,
    operator: Operator,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = FormFields::parse(&body);
    if !operator.csrf_ok(&fields) {
        return forbidden();
    }
    let work = async {
        let form = CancelForm::parse(&fields)?;
        let key = FormKey::new(&operator, &fields, "cancel", &order_id, &form)?;
        let answer = state
            .services
            .cancel_order(key.keyed(), &order_id, form.amount, None, &form.reason)
            .await?;
        let what = match form.amount {
            Some(amount) => format!("{} 취소 (cancelled)", won(amount)),
            None => "남은 금액 전액 취소 (cancelled all that was left)".to_string(),
        };
        Ok(format!(
            "{what}; 사유 (reason): {}{}",
            form.reason,
            replay_note(&answer)
        ))
    };
    audited(&state, &operator, "cancel", &order_id, work).await
}

/// `POST /console/orders/{order_id}/refund`: record a refund the merchant made by bank transfer.
pub async fn refund(
    State(state): State<AppState>,
    operator: Operator,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = FormFields::parse(&body);
    if !operator.csrf_ok(&fields) {
        return forbidden();
    }
    let work = async {
        let form = RefundForm::parse(&fields)?;
        let key = FormKey::new(&operator, &fields, "refund", &order_id, &form)?;
        let answer = state
            .services
            .record_refund(key.keyed(), &order_id, form.body(), &operator.name)
            .await?;
        Ok(format!(
            "{} 환불 기록 (refund recorded); 사유 (reason): {}{}",
            won(form.amount),
            form.reason,
            replay_note(&answer)
        ))
    };
    audited(&state, &operator, "refund", &order_id, work).await
}

/// `POST /console/orders/{order_id}/resolve`: accept or cancel the payment under review.
pub async fn resolve(
    State(state): State<AppState>,
    operator: Operator,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    let fields = FormFields::parse(&body);
    if !operator.csrf_ok(&fields) {
        return forbidden();
    }
    let work = async {
        let form = ResolveForm::parse(&fields)?;
        let key = FormKey::new(&operator, &fields, "resolve", &order_id, &form)?;
        let answer = state
            .services
            .resolve_order(
                key.keyed(),
                &order_id,
                form.action,
                &form.reason,
                &operator.name,
            )
            .await?;
        let what = match form.action {
            ResolveAction::Accept => "검토 승인 (review accepted)",
            ResolveAction::Cancel => "검토 결제 취소 (reviewed payment cancelled)",
        };
        Ok(format!(
            "{what}; 사유 (reason): {}{}",
            form.reason,
            replay_note(&answer)
        ))
    };
    audited(&state, &operator, "resolve", &order_id, work).await
}

/// `POST /console/orders/{order_id}/events/{event_id}/redeliver`: queue one of the order's webhook events again.
pub async fn redeliver(
    State(state): State<AppState>,
    operator: Operator,
    Path((order_id, event_id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let fields = FormFields::parse(&body);
    if !operator.csrf_ok(&fields) {
        return forbidden();
    }
    let work = async {
        // Only an event of this order: the audit entry is filed under it.
        let events = state
            .services
            .list_events(Some(&order_id), None, 1000, None)
            .await?;
        if !events.iter().any(|e| e.id == event_id) {
            return Err(ApiError::not_found(format!(
                "no event {event_id} of order {order_id}"
            )));
        }
        let event = state.services.redeliver(&event_id).await?;
        Ok(format!(
            "{} ({}) 재전송 대기열에 넣음 (queued for delivery again)",
            event.id, event.event_type
        ))
    };
    audited(&state, &operator, "redeliver", &order_id, work).await
}
