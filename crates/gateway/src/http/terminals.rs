//! In-store card terminals, for the shop's backend (a POS, a kiosk, the back office): the terminals, sales on
//! them, aborts, and their transactions, cash receipts, totals against the ledger, print, code download and tax-refund slips.
//! Cancels of terminal orders go through `POST /v1/orders/{id}/cancel`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::api::{answer, KeyedShop};
use super::auth::ShopAuth;
use super::error::ApiError;
use super::extract::{ApiJson, RawQuery};
use super::AppState;
use crate::service::tax_refunds::TaxRefundBody;
use crate::service::terminal_extras::{CashReceiptBody, PrintBody};
use crate::service::terminals::TerminalPaymentBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/terminals", get(list_terminals))
        .route("/v1/terminals/{terminal_id}/payments", post(start_payment))
        .route("/v1/terminals/{terminal_id}/abort", post(abort))
        .route(
            "/v1/terminal-transactions/{transaction_id}",
            get(transaction),
        )
        .route(
            "/v1/terminals/{terminal_id}/cash-receipts",
            post(start_cash_receipt),
        )
        .route(
            "/v1/cash-receipts/{transaction_id}/cancel",
            post(cancel_cash_receipt),
        )
        .route("/v1/terminals/{terminal_id}/totals", get(totals))
        .route("/v1/terminals/{terminal_id}/codes", get(codes))
        .route("/v1/terminals/{terminal_id}/print", post(print))
        .route(
            "/v1/terminals/{terminal_id}/tax-refunds",
            post(issue_tax_refund),
        )
        .route(
            "/v1/tax-refunds/{tax_refund_id}/cancel",
            post(cancel_tax_refund),
        )
        .route("/v1/tax-refunds/{tax_refund_id}", get(tax_refund))
}

async fn issue_tax_refund(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(terminal_id): Path<String>,
    body: ApiJson<TaxRefundBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("terminal-tax-refund:{terminal_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .issue_tax_refund(keyed, &terminal_id, value)
            .await?,
    ))
}

async fn cancel_tax_refund(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(tax_refund_id): Path<String>,
) -> Result<Response, ApiError> {
    let scope = format!("tax-refund-cancel:{tax_refund_id}");
    let keyed = shop.keyed(&scope, b"")?;
    Ok(answer(
        state
            .services
            .cancel_tax_refund(keyed, &tax_refund_id)
            .await?,
    ))
}

async fn tax_refund(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(tax_refund_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.services.tax_refund(&tax_refund_id).await?))
}

async fn start_cash_receipt(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(terminal_id): Path<String>,
    body: ApiJson<CashReceiptBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("terminal-cash-receipt:{terminal_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .start_cash_receipt(keyed, &terminal_id, value)
            .await?,
    ))
}

async fn cancel_cash_receipt(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(transaction_id): Path<String>,
) -> Result<Response, ApiError> {
    let scope = format!("cash-receipt-cancel:{transaction_id}");
    let keyed = shop.keyed(&scope, b"")?;
    Ok(answer(
        state
            .services
            .cancel_cash_receipt(keyed, &transaction_id)
            .await?,
    ))
}

async fn totals(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(terminal_id): Path<String>,
    query: RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        state
            .services
            .terminal_totals(&terminal_id, query.get("from"), query.get("to"))
            .await?,
    ))
}

async fn codes(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(terminal_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.services.terminal_codes(&terminal_id).await?))
}

async fn print(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(terminal_id): Path<String>,
    body: ApiJson<PrintBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("terminal-print:{terminal_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .print_on_terminal(keyed, &terminal_id, value)
            .await?,
    ))
}

async fn list_terminals(
    State(state): State<AppState>,
    _auth: ShopAuth,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.services.list_terminals().await?))
}

async fn start_payment(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(terminal_id): Path<String>,
    body: ApiJson<TerminalPaymentBody>,
) -> Result<Response, ApiError> {
    let ApiJson { value, raw } = body;
    let scope = format!("terminal-payment:{terminal_id}");
    let keyed = shop.keyed(&scope, &raw)?;
    Ok(answer(
        state
            .services
            .start_terminal_payment(keyed, &terminal_id, value)
            .await?,
    ))
}

async fn abort(
    State(state): State<AppState>,
    shop: KeyedShop,
    Path(terminal_id): Path<String>,
) -> Result<Response, ApiError> {
    let scope = format!("terminal-abort:{terminal_id}");
    let keyed = shop.keyed(&scope, b"")?;
    Ok(answer(
        state.services.abort_terminal(keyed, &terminal_id).await?,
    ))
}

async fn transaction(
    State(state): State<AppState>,
    _auth: ShopAuth,
    Path(transaction_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        state.services.terminal_transaction(&transaction_id).await?,
    ))
}
