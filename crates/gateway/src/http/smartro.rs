//! Smartro-facing endpoints: returnPay (the buyer's browser) and inform (Smartro's notification daemon), and the
//! page a buyer's browser follows while its result is being confirmed.
//!
//! The handlers only map what [`crate::service::Services::receive_result`] decided to answers: the raw message is stored
//! first, verified, confirmed server to server and applied once there.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

use super::client_ip::ClientIp;
use super::extract::RawQuery;
use super::{pages, AppState};
use crate::domain::ResultSource;
use crate::service::results::Received;
use crate::store::notifications::NotificationOutcome;

/// Smartro's messages are a few KiB; anything larger is not one, and is not stored.
pub const SMARTRO_BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/smartro/return", post(return_pay))
        .route("/smartro/inform", post(inform))
        .layer(DefaultBodyLimit::max(SMARTRO_BODY_LIMIT))
        .route("/smartro/return/status", get(follow))
}

fn rejection_status(outcome: NotificationOutcome) -> StatusCode {
    match outcome {
        NotificationOutcome::Malformed => StatusCode::BAD_REQUEST,
        NotificationOutcome::UnknownOrder => StatusCode::NOT_FOUND,
        _ => StatusCode::FORBIDDEN,
    }
}

/// RetryURL: `OK` only once the result is durably applied (or was already), or is kept and can never be confirmed
/// by a re-send; anything else makes Smartro re-send.
async fn inform(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The body must never contain "OK" unless acknowledged, or Smartro would take it as acknowledged.
    match state
        .services
        .receive_result(ResultSource::Inform, &headers, client, &body)
        .await
    {
        Received::Applied { .. } | Received::Duplicate { .. } => {
            (StatusCode::OK, "OK").into_response()
        }
        Received::Unconfirmed { checking: true, .. } => {
            // Smartro re-sends, and each re-send is another chance to confirm it.
            (StatusCode::SERVICE_UNAVAILABLE, "FAIL unconfirmed").into_response()
        }
        Received::Unconfirmed {
            checking: false, ..
        } => (StatusCode::OK, "OK").into_response(),
        Received::Refuted { .. } => (StatusCode::FORBIDDEN, "FAIL refuted").into_response(),
        Received::Rejected { outcome, detail } => {
            tracing::warn!(outcome = outcome.as_str(), %detail, "inform refused");
            (
                rejection_status(outcome),
                format!("FAIL {}", outcome.as_str()),
            )
                .into_response()
        }
        Received::Unavailable(e) => {
            tracing::error!(error = %e, "inform not stored: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "FAIL unavailable").into_response()
        }
    }
}

/// returnPay: record the result, then send the buyer back to the shop (or show a small result page).
async fn return_pay(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match state
        .services
        .receive_result(ResultSource::Return, &headers, client, &body)
        .await
    {
        Received::Applied { order_id, .. } | Received::Duplicate { order_id } => {
            confirmed_result(&state, &order_id).await
        }
        Received::Unconfirmed {
            follow_token: Some(token),
            checking: true,
            ..
        } => pages::confirming(&follow_url(&token)),
        Received::Unconfirmed {
            order_id,
            result_code,
            ..
        } => not_completed(&state, &order_id, &result_code).await,
        Received::Refuted { .. } => unverifiable_page(),
        Received::Rejected { outcome, detail } => {
            tracing::warn!(outcome = outcome.as_str(), %detail, "returnPay refused");
            match outcome {
                NotificationOutcome::BadSignature | NotificationOutcome::UnknownMerchant => {
                    unverifiable_page()
                }
                NotificationOutcome::UnknownOrder => pages::message(
                    StatusCode::NOT_FOUND,
                    "결제 결과 오류",
                    "주문을 찾을 수 없습니다. (Unknown order.)",
                ),
                _ => pages::message(
                    StatusCode::BAD_REQUEST,
                    "결제 결과 오류",
                    "결제 결과를 읽을 수 없습니다. (The payment result could not be read.)",
                ),
            }
        }
        Received::Unavailable(e) => {
            tracing::error!(error = %e, "returnPay not stored: database unavailable");
            unavailable_page()
        }
    }
}

/// The token travels in the query, which the request log leaves out.
fn follow_url(token: &str) -> String {
    format!("/smartro/return/status?t={token}")
}

/// Where a buyer's unconfirmed returnPay stands: the result page once confirmed, a neutral page if refuted.
///
/// The query is read leniently (as the checkout page reads its token): a query axum's `Query` cannot read (`t`
/// twice, say) must still get a page, not a plain-text rejection.
async fn follow(State(state): State<AppState>, query: RawQuery) -> Response {
    let token = query.get("t").unwrap_or_default().to_string();
    let valid = token.len() == 32 && token.bytes().all(|b| b.is_ascii_alphanumeric());
    if !valid {
        return not_found_page();
    }
    let followed = match state.services.follow_result(&token).await {
        Ok(Some(followed)) => followed,
        Ok(None) => return not_found_page(),
        Err(_) => return unavailable_page(),
    };
    match (followed.outcome, followed.order_id) {
        (NotificationOutcome::Applied | NotificationOutcome::Duplicate, Some(order_id)) => {
            confirmed_result(&state, &order_id).await
        }
        (NotificationOutcome::Unconfirmed, _) if followed.checking => {
            pages::confirming(&follow_url(&token))
        }
        (NotificationOutcome::Unconfirmed, _) => pages::message(
            StatusCode::OK,
            "결제 확인 지연",
            "결제 내용을 아직 확인하지 못했습니다. 상점에 문의해 주세요. (The payment could not be confirmed yet: please contact the shop.)",
        ),
        _ => unverifiable_page(),
    }
}

/// The shop's return_url with `order_id` and `status` (before any `#fragment`), or the gateway's result page.
async fn confirmed_result(state: &AppState, order_id: &str) -> Response {
    let record = match state.services.find_order(order_id).await {
        Ok(Some(record)) => record,
        Ok(None) => return not_found_page(),
        Err(_) => return unavailable_page(),
    };
    match &record.order.return_url {
        Some(url) => Redirect::to(&return_target(
            url,
            &record.order.order_id,
            record.order.status.as_str(),
        ))
        .into_response(),
        None => pages::result(&record),
    }
}

/// A failed attempt moves no money and is not confirmable. The buyer of a still-pending order goes back to the
/// shop (which reads the order through the API); anyone else holding such a result learns nothing of the order,
/// not even its return_url, and sees the signed result code only.
async fn not_completed(state: &AppState, order_id: &str, result_code: &str) -> Response {
    match state.services.find_order(order_id).await {
        Ok(Some(record)) if record.order.status == crate::domain::OrderStatus::Pending => {
            match &record.order.return_url {
                Some(url) => Redirect::to(&return_target(url, &record.order.order_id, "pending"))
                    .into_response(),
                None => pages::not_completed(result_code),
            }
        }
        Ok(_) => pages::not_completed(result_code),
        Err(_) => unavailable_page(),
    }
}

/// `url` with the gateway's query parameters added before its fragment, if it has one.
pub fn return_target(url: &str, order_id: &str, status: &str) -> String {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let sep = if base.contains('?') {
        if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        }
    } else {
        "?"
    };
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("order_id", order_id)
        .append_pair("status", status)
        .finish();
    match fragment {
        Some(fragment) => format!("{base}{sep}{query}#{fragment}"),
        None => format!("{base}{sep}{query}"),
    }
}

fn unverifiable_page() -> Response {
    pages::message(
        StatusCode::BAD_REQUEST,
        "결제 결과 오류",
        "결제 결과를 확인할 수 없습니다. (The payment result could not be verified.)",
    )
}

fn not_found_page() -> Response {
    pages::message(
        StatusCode::NOT_FOUND,
        "결제 결과 없음",
        "결제 결과를 찾을 수 없습니다. (No such payment result.)",
    )
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
    use super::return_target;

    #[test]
    fn the_gateways_parameters_go_before_the_fragment() {
        assert_eq!(
            return_target("https://shop.example.com/done", "A-1", "paid"),
            "https://shop.example.com/done?order_id=A-1&status=paid"
        );
        assert_eq!(
            return_target("https://shop.example.com/done?from=gw", "A-1", "paid"),
            "https://shop.example.com/done?from=gw&order_id=A-1&status=paid"
        );
        assert_eq!(
            return_target("https://shop.example.com/#/orders/A-1", "A-1", "paid"),
            "https://shop.example.com/?order_id=A-1&status=paid#/orders/A-1"
        );
        assert_eq!(
            return_target("https://shop.example.com/done?x=1#top", "A 1", "paid"),
            "https://shop.example.com/done?x=1&order_id=A+1&status=paid#top"
        );
    }
}
