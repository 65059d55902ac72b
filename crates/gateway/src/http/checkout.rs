//! Buyer-facing checkout: the mainPay page that posts the signed form to Smartro, the same form as JSON for
//! single-page shops, and a status endpoint for polling. The order's random checkout token is the capability.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use secrecy::ExposeSecret;
use serde_json::json;
use smartro::request::PaymentRequest;
use smartro::types::{kst_now_edi_date, PayMethod};
use subtle::ConstantTimeEq;

use super::client_ip::ClientIp;
use super::error::ApiError;
use super::extract::RawQuery;
use super::pages;
use super::AppState;
use crate::domain::OrderStatus;
use crate::store::{OrderRecord, OrderRow};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/{order_id}", get(checkout_page))
        .route("/v1/checkout/{order_id}", get(checkout_form))
        .route("/v1/checkout/{order_id}/status", get(checkout_status))
}

/// What Smartro's payment request is made of, whether the order is stored yet or being created.
pub struct Purchase<'a> {
    pub order_id: &'a str,
    pub mid: &'a str,
    pub amount: i64,
    pub goods_name: &'a str,
    pub goods_count: i32,
    pub pay_method: &'a str,
    pub pay_type: Option<&'a str>,
    pub mall_user_id: Option<&'a str>,
    pub buyer_name: &'a str,
    pub buyer_tel: &'a str,
    pub buyer_email: &'a str,
    pub vbank_exp_date: Option<&'a str>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
}

impl<'a> From<&'a OrderRow> for Purchase<'a> {
    fn from(o: &'a OrderRow) -> Self {
        Purchase {
            order_id: &o.order_id,
            mid: &o.mid,
            amount: o.amount,
            goods_name: &o.goods_name,
            goods_count: o.goods_count,
            pay_method: &o.pay_method,
            pay_type: o.pay_type.as_deref(),
            mall_user_id: o.mall_user_id.as_deref(),
            buyer_name: &o.buyer_name,
            buyer_tel: &o.buyer_tel,
            buyer_email: &o.buyer_email,
            vbank_exp_date: o.vbank_exp_date.as_deref(),
            tax: o.tax,
            svc_amt: o.svc_amt,
        }
    }
}

/// The Smartro payment request for a purchase; ReturnURL and RetryURL point back at this gateway.
pub fn payment_request(purchase: &Purchase<'_>, public_url: &str, user_ip: &str) -> PaymentRequest {
    let base = public_url.trim_end_matches('/');
    let mut req = PaymentRequest::new(
        PayMethod::parse(purchase.pay_method),
        purchase.goods_name,
        purchase.amount,
        purchase.order_id,
        purchase.mid,
        format!("{base}/smartro/return"),
        format!("{base}/smartro/inform"),
        purchase.buyer_name,
        purchase.buyer_tel,
        purchase.buyer_email,
    );
    req.goods_cnt = u32::try_from(purchase.goods_count).unwrap_or(0);
    req.pay_type = purchase.pay_type.map(str::to_string);
    req.mall_user_id = purchase.mall_user_id.map(str::to_string);
    req.vbank_exp_date = purchase.vbank_exp_date.map(str::to_string);
    req.tax = purchase.tax;
    req.svc_amt = purchase.svc_amt;
    // The page submits in the same window (no popup), which works on phones and in every browser.
    req.forward = false;
    if req.pay_method == PayMethod::Cellphone {
        req.goods_cl = Some("0".to_string());
    }
    req.user_ip = user_ip.to_string();
    req
}

/// Finds the order whose checkout token matches, comparing tokens in constant time.
async fn authorize(
    state: &AppState,
    order_id: &str,
    query: &RawQuery,
) -> Result<OrderRecord, ApiError> {
    let token = query.get("t").unwrap_or("");
    let record = state.store.get_order(order_id).await?;
    match record {
        Some(r) if bool::from(r.order.checkout_token.as_bytes().ct_eq(token.as_bytes())) => Ok(r),
        // Same answer for a wrong token and an unknown order: the token is the capability.
        _ => Err(ApiError::not_found(format!(
            "no order {order_id} with this checkout token"
        ))),
    }
}

/// Why an order cannot be paid now, in the buyer's language, or None when it can.
fn not_payable_reason(
    state: &AppState,
    record: &OrderRecord,
) -> Option<(&'static str, &'static str)> {
    let status = OrderStatus::parse(&record.order.status)?;
    if status == OrderStatus::Pending && state.clock.now() >= record.order.expires_at {
        return Some((
            "expired",
            "결제 가능 시간이 지났습니다. (This order has expired.)",
        ));
    }
    match status {
        OrderStatus::Pending => None,
        OrderStatus::AwaitingDeposit => Some((
            "awaiting_deposit",
            "가상계좌가 발급되었습니다. 안내된 계좌로 입금해 주세요. (A virtual account was issued: please deposit.)",
        )),
        OrderStatus::Paid => Some(("paid", "이미 결제가 완료된 주문입니다. (This order is already paid.)")),
        OrderStatus::PartiallyCancelled | OrderStatus::Cancelled => Some((
            "cancelled",
            "취소된 주문입니다. (This order was cancelled.)",
        )),
        OrderStatus::Expired => Some(("expired", "결제 가능 시간이 지났습니다. (This order has expired.)")),
        OrderStatus::NeedsReview => Some((
            "needs_review",
            "결제 확인이 필요한 주문입니다. 상점에 문의해 주세요. (This order needs review: contact the shop.)",
        )),
    }
}

/// The signed form fields, with a fresh ediDate and EncryptData for each render.
fn signed_fields(
    state: &AppState,
    record: &OrderRecord,
    user_ip: &str,
) -> Result<Vec<(&'static str, String)>, ApiError> {
    let merchant = state.settings.merchant(&record.order.mid).ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "merchant_not_configured",
            "Merchant not configured",
            format!(
                "MID {} is no longer configured on this gateway",
                record.order.mid
            ),
        )
    })?;
    let request = payment_request(
        &Purchase::from(&record.order),
        &state.settings.server.public_url,
        user_ip,
    );
    let edi_date = kst_now_edi_date(state.clock.now());
    request
        .to_form_fields(&edi_date, merchant.merchant_key.expose_secret())
        .map_err(|e| {
            // Orders are validated at creation, so this means the configuration changed since (e.g. public_url).
            tracing::error!(order_id = %record.order.order_id, error = %e, "stored order no longer forms a valid request");
            ApiError::new(
                StatusCode::CONFLICT,
                "order_not_payable",
                "Order cannot be sent to Smartro",
                e.to_string(),
            )
        })
}

/// UserIP: the buyer's address as [`ClientIp`] resolves it (a forwarding header counts only from a trusted
/// proxy). Without a peer address (in-process tests that call the router directly) the loopback address stands in.
fn user_ip(client: ClientIp) -> String {
    client
        .0
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

async fn checkout_page(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    query: RawQuery,
    client: ClientIp,
) -> Response {
    let record = match authorize(&state, &order_id, &query).await {
        Ok(r) => r,
        Err(e) => return pages::problem_page(&e),
    };
    if let Some((_, why)) = not_payable_reason(&state, &record) {
        return pages::not_payable(&record, why);
    }
    let ip = user_ip(client);
    match signed_fields(&state, &record, &ip) {
        Ok(fields) => {
            let action = state.settings.smartro.endpoints().pay_url;
            no_store(pages::checkout(&record, &action, &fields).into_response())
        }
        Err(e) => pages::problem_page(&e),
    }
}

async fn checkout_form(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    query: RawQuery,
    client: ClientIp,
) -> Result<Response, ApiError> {
    let record = authorize(&state, &order_id, &query).await?;
    if let Some((status, why)) = not_payable_reason(&state, &record) {
        return Err(ApiError::conflict("order_not_payable", why).with("order_status", status));
    }
    let ip = user_ip(client);
    let fields = signed_fields(&state, &record, &ip)?;
    let fields: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
        .collect();
    Ok(no_store(
        Json(json!({
            "action_url": state.settings.smartro.endpoints().pay_url,
            "method": "POST",
            "accept_charset": "EUC-KR",
            "fields": fields,
        }))
        .into_response(),
    ))
}

async fn checkout_status(
    State(state): State<AppState>,
    Path(order_id): Path<String>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let record = authorize(&state, &order_id, &query).await?;
    Ok(no_store(
        Json(json!({ "order_id": record.order.order_id, "status": record.order.status }))
            .into_response(),
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
