//! Buyer-facing checkout: the mainPay page that posts the signed form to Smartro, the same form as JSON for
//! single-page shops, and a status endpoint for polling. The order's random checkout token is the capability.

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::client_ip::ClientIp;
use super::error::ApiError;
use super::extract::RawQuery;
use super::pages;
use super::AppState;
use crate::domain::NotPayable;
use crate::service::checkout::Checkout;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{order_id}", get(checkout_page))
        .route("/v1/checkout/{order_id}", get(checkout_form))
        .route("/v1/checkout/{order_id}/status", get(checkout_status))
}

/// Why an order cannot be paid, as its machine-readable status and in the buyer's language.
fn explain(why: NotPayable) -> (&'static str, &'static str) {
    match why {
        NotPayable::Expired => (
            "expired",
            "결제 가능 시간이 지났습니다. (This order has expired.)",
        ),
        NotPayable::AwaitingDeposit => (
            "awaiting_deposit",
            "가상계좌가 발급되었습니다. 안내된 계좌로 입금해 주세요. (A virtual account was issued: please deposit.)",
        ),
        NotPayable::Paid => ("paid", "이미 결제가 완료된 주문입니다. (This order is already paid.)"),
        NotPayable::Cancelled => (
            "cancelled",
            "취소된 주문입니다. (This order was cancelled.)",
        ),
        NotPayable::NeedsReview => (
            "needs_review",
            "결제 확인이 필요한 주문입니다. 상점에 문의해 주세요. (This order needs review: contact the shop.)",
        ),
    }
}

/// UserIP: the buyer's address as [`ClientIp`] resolves it (a forwarding header counts only from a trusted
/// proxy). Without a peer address (in-process tests that call the router directly) the loopback address stands in.
fn user_ip(client: ClientIp) -> IpAddr {
    client.0.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

async fn checkout_page(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    query: RawQuery,
    client: ClientIp,
) -> Response {
    let token = query.get("t").unwrap_or("");
    match state
        .services
        .checkout(&order_id, token, user_ip(client))
        .await
    {
        Ok(Checkout::Payable { record, form }) => {
            no_store(pages::checkout(&record, &form.action_url, &form.fields).into_response())
        }
        Ok(Checkout::NotPayable { record, why }) => pages::not_payable(&record, explain(why).1),
        Err(e) => pages::problem_page(&e),
    }
}

async fn checkout_form(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    query: RawQuery,
    client: ClientIp,
) -> Result<Response, ApiError> {
    let token = query.get("t").unwrap_or("");
    let form = match state
        .services
        .checkout_form(&order_id, token, user_ip(client))
        .await?
    {
        Ok(form) => form,
        Err(why) => {
            let (status, text) = explain(why);
            return Err(ApiError::conflict("order_not_payable", text).with("order_status", status));
        }
    };
    Ok(no_store(
        Json(FormJson {
            accept_charset: "EUC-KR",
            action_url: &form.action_url,
            fields: SortedFields::of(&form.fields),
            method: "POST",
        })
        .into_response(),
    ))
}

/// The JSON checkout's answer, serialized straight from the form: keys in the order a `serde_json` map keeps them
/// (sorted), as the answer has always had them, without building a map of values first for every call.
#[derive(serde::Serialize)]
struct FormJson<'a> {
    accept_charset: &'static str,
    action_url: &'a str,
    fields: SortedFields<'a>,
    method: &'static str,
}

/// The form's fields as a JSON object, keys sorted (a field named twice: its last value, as a map would keep it).
struct SortedFields<'a>(Vec<(&'static str, &'a str)>);

impl<'a> SortedFields<'a> {
    fn of(fields: &'a [(&'static str, String)]) -> Self {
        let mut sorted: Vec<(&'static str, &'a str)> =
            fields.iter().rev().map(|(k, v)| (*k, v.as_str())).collect();
        // Stable: of a key named twice the last value (first after the reversal) stays.
        sorted.sort_by_key(|(k, _)| *k);
        sorted.dedup_by_key(|(k, _)| *k);
        SortedFields(sorted)
    }
}

impl serde::Serialize for SortedFields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().copied())
    }
}

async fn checkout_status(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let token = query.get("t").unwrap_or("");
    let order = state
        .services
        .authorize_checkout_row(&order_id, token)
        .await?;
    Ok(no_store(
        Json(json!({ "order_id": order.order_id, "status": order.status })).into_response(),
    ))
}

/// Signed forms carry a timestamp and the buyer's data: never cache them.
fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_as_json_is_what_a_json_map_of_its_fields_was() {
        let form: Vec<(&'static str, String)> = [
            ("PayMethod", "CARD"),
            ("GoodsName", "벤치마크 \"상품\""),
            ("Amt", "1000"),
            ("mallUserID", "u1"),
            ("EncryptData", "a+b/c=="),
            ("Amt", "2000"),
            ("BuyerName", "홍길동\\"),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect();
        let as_map: serde_json::Map<String, serde_json::Value> = form
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::Value::String(v.clone())))
            .collect();
        let answer = FormJson {
            accept_charset: "EUC-KR",
            action_url: "https://tpay.smartropay.co.kr/interfaceURL.jsp",
            fields: SortedFields::of(&form),
            method: "POST",
        };
        assert_eq!(
            serde_json::to_string(&answer).unwrap(),
            serde_json::to_string(&json!({
                "action_url": "https://tpay.smartropay.co.kr/interfaceURL.jsp",
                "method": "POST",
                "accept_charset": "EUC-KR",
                "fields": as_map,
            }))
            .unwrap()
        );
    }
}
