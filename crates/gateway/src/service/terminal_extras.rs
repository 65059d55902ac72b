//! The rest of a terminal's REST contract besides sales: cash receipts (070010 / 070020), sales totals against
//! the ledger (050099), print (900091) and code download (081008).
//!
//! Cash receipts are terminal transactions like sales, under the same money-safety rules: recorded `requested`
//! before they are sent, one open transaction per terminal, 980001 after the commit, `unknown` → 990001. They
//! answer **202 with the transaction** at once, as sales do, for the same reason: the buyer may have to key in
//! their number or show a card on the terminal, which takes as long as a card reading, and the shop already
//! polls `GET /v1/terminal-transactions/{id}` (or takes the `terminal.transaction.*` webhooks) for sales. Their
//! cancel is a transaction of its own (not an order's cancellation), so it answers the same way.
//!
//! The buyer's identity number is needed to send the cancel, so it is kept in the recorded request (and in the
//! raw frames, which the issue requires stored as sent); it is never logged, and the API shows it masked.
//!
//! Totals, codes and print are queries: nothing about money changes, nothing is recorded but the raw frames,
//! and they are sent only while the terminal has no open transaction (409 otherwise).

use std::time::Duration;

use chrono::NaiveDate;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use smartro_terminal::body::MAX_PRINT_COMMANDS;
use smartro_terminal::{
    CashReceiptCancelRequest, CashReceiptRequest, EncodeError, PrintCommand, PrintCommandKind,
    PrintRequest, Request, Response, ResultCode, TotalsBucket, TraderType,
};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::idempotency::{Answer, Keyed};
use super::problem::ApiError;
use super::terminals::{busy, disconnected, is_order_id};
use super::Services;
use crate::domain::TerminalTxKind;
use crate::providers::terminal::{
    request_body, Command, QueryAnswer, TerminalHandle, QUERY_TIMEOUT,
};
use crate::store::terminal::{
    BeginCashReceipt, BeginCashReceiptCancel, LedgerTotals, NewTerminalTx, TerminalTxRow,
};

/// `POST /v1/terminals/{id}/cash-receipts`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CashReceiptBody {
    /// The cash paid (`priceAmt`).
    pub amount: i64,
    pub tax: Option<i64>,
    pub tax_free: Option<i64>,
    /// `1` income deduction (a person), `2` expense proof (a business).
    pub trader_type: String,
    /// The buyer's phone, business or cash-receipt card number; absent: keyed in on the terminal. Read as any
    /// JSON so that a value of the wrong type is refused without the number being echoed in the problem.
    pub identity: Option<Value>,
    /// An existing order the receipt is for: its webhooks go out under that order.
    pub order_id: Option<String>,
}

/// `POST /v1/terminals/{id}/print`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintBody {
    pub font_family: Option<String>,
    /// Beep when printing.
    pub alert: Option<bool>,
    pub commands: Vec<PrintCommandBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrintCommandBody {
    /// `logo`, `line`, `cuttingLine`, `br`, `left`, `right`, `text2`, `text3`.
    pub command: String,
    pub font_size: Option<i64>,
    #[serde(default)]
    pub message: Vec<String>,
}

/// Digits an identity number has: 10 (a business number, a landline) to 19 (a cash-receipt card).
const IDENTITY_DIGITS: std::ops::RangeInclusive<usize> = 10..=19;
/// The longest period one totals request covers: the terminal adds up its own memory, a year is plenty.
const MAX_TOTALS_DAYS: i64 = 366;

pub(super) fn terminal_refused(code: &ResultCode, message: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "terminal_refused",
        "The terminal refused the request",
        format!("[{}] {message}", code.as_str()),
    )
    .with("terminal_code", code.as_str())
    .with("terminal_message", message)
}

pub(super) fn no_answer() -> ApiError {
    ApiError::new(
        StatusCode::GATEWAY_TIMEOUT,
        "terminal_no_answer",
        "The terminal did not answer",
        "the terminal did not answer in time; the connection is re-opened",
    )
}

/// The identity number, checked without ever putting it in a message.
fn check_identity(identity: Option<&Value>) -> Result<Option<String>, ApiError> {
    let Some(value) = identity else {
        return Ok(None);
    };
    let bad = || {
        ApiError::invalid_field(
            "identity",
            format!(
                "must be a string of {} to {} digits, hyphens allowed",
                IDENTITY_DIGITS.start(),
                IDENTITY_DIGITS.end()
            ),
        )
    };
    let text = value.as_str().ok_or_else(bad)?;
    let digits = text.bytes().filter(u8::is_ascii_digit).count();
    if !IDENTITY_DIGITS.contains(&digits)
        || text.len() > 20
        || !text.bytes().all(|b| b.is_ascii_digit() || b == b'-')
        || text.starts_with('-')
        || text.ends_with('-')
    {
        return Err(bad());
    }
    Ok(Some(text.to_string()))
}

/// The 070010 request of a cash receipt, or the problem with the body (nothing is recorded or sent).
fn validate_cash_receipt(body: &CashReceiptBody, ptxid: &str) -> Result<Request, ApiError> {
    if body.amount <= 0 || body.amount > smartro_terminal::MAX_AMOUNT {
        return Err(ApiError::invalid_field(
            "amount",
            "must be a positive integer (KRW)",
        ));
    }
    let mut parts = 0i64;
    for (field, value) in [("tax", body.tax), ("tax_free", body.tax_free)] {
        let value = value.unwrap_or(0);
        if value < 0 || value > body.amount {
            return Err(ApiError::invalid_field(
                field,
                "must be between 0 and the amount",
            ));
        }
        parts += value;
        if parts > body.amount {
            return Err(ApiError::invalid_field(
                field,
                "tax and tax_free together must not exceed the amount",
            ));
        }
    }
    let trader_type = match body.trader_type.as_str() {
        "1" => TraderType::IncomeDeduction,
        "2" => TraderType::ExpenseProof,
        _ => {
            return Err(ApiError::invalid_field(
                "trader_type",
                "must be \"1\" (income deduction) or \"2\" (expense proof)",
            ))
        }
    };
    let identity = check_identity(body.identity.as_ref())?;
    if let Some(id) = &body.order_id {
        if !is_order_id(id) {
            return Err(ApiError::invalid_field(
                "order_id",
                "must be 1 to 40 ASCII letters, digits, '-' or '_'",
            ));
        }
    }
    let request = Request::CashReceiptIssue(CashReceiptRequest {
        price_amt: body.amount,
        tax_amt: body.tax.unwrap_or(0),
        tip_amt: 0,
        tax_free_amt: body.tax_free.unwrap_or(0),
        trader_type,
        approval_number: identity,
        ptxid: ptxid.to_string(),
        extra: Default::default(),
    });
    // The protocol's own rules; their messages name the wire field, never the value.
    request.validate().map_err(|e| match e {
        EncodeError::Invalid {
            field: "approvalNumber",
            ..
        } => ApiError::invalid_field("identity", "is not a valid identity number"),
        other => ApiError::invalid_field("amount", other.to_string()),
    })?;
    Ok(request)
}

/// A `YYYYMMDD` query parameter that names a real day.
fn check_day(field: &str, value: Option<&str>) -> Result<NaiveDate, ApiError> {
    let value = value.ok_or_else(|| ApiError::invalid_field(field, "is required (YYYYMMDD)"))?;
    if value.len() != 8 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::invalid_field(field, "must be a day as YYYYMMDD"));
    }
    NaiveDate::parse_from_str(value, "%Y%m%d")
        .map_err(|_| ApiError::invalid_field(field, "is not a calendar day"))
}

/// The days of a totals request, or the problem naming the field.
fn totals_period(from: Option<&str>, to: Option<&str>) -> Result<(String, String), ApiError> {
    let from_day = check_day("from", from)?;
    let to_day = check_day("to", to)?;
    if to_day < from_day {
        return Err(ApiError::invalid_field("to", "must not be before from"));
    }
    if (to_day - from_day).num_days() >= MAX_TOTALS_DAYS {
        return Err(ApiError::invalid_field(
            "to",
            format!("the period covers at most {MAX_TOTALS_DAYS} days"),
        ));
    }
    Ok((
        from_day.format("%Y%m%d").to_string(),
        to_day.format("%Y%m%d").to_string(),
    ))
}

/// The 900091 request of a print body, or the problem naming the field (`commands[2].message`).
fn validate_print(body: PrintBody) -> Result<PrintRequest, ApiError> {
    if body.commands.is_empty() {
        return Err(ApiError::invalid_field("commands", "must not be empty"));
    }
    if body.commands.len() > MAX_PRINT_COMMANDS {
        return Err(ApiError::invalid_field(
            "commands",
            format!("at most {MAX_PRINT_COMMANDS} commands"),
        ));
    }
    if let Some(font) = &body.font_family {
        if font.is_empty() || font.chars().count() > 64 || font.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "font_family",
                "must be 1 to 64 characters without control characters",
            ));
        }
    }
    let mut commands = Vec::with_capacity(body.commands.len());
    for (i, c) in body.commands.into_iter().enumerate() {
        let kind = PrintCommandKind::from(c.command.as_str());
        if let PrintCommandKind::Other(_) = kind {
            return Err(ApiError::invalid_field(
                format!("commands[{i}].command"),
                "must be one of logo, line, cuttingLine, br, left, right, text2, text3",
            ));
        }
        let command = PrintCommand {
            command: kind,
            font_size: c.font_size,
            message: c.message,
            extra: Default::default(),
        };
        command.validate().map_err(|e| {
            let (field, reason) = match e {
                EncodeError::Invalid { field, reason } => (field, reason),
                other => ("message", other.to_string()),
            };
            let field = match field {
                "fontSize" => "font_size",
                other => other,
            };
            ApiError::invalid_field(format!("commands[{i}].{field}"), reason)
        })?;
        commands.push(command);
    }
    let request = PrintRequest {
        font_family: body.font_family,
        alert: body.alert,
        commands,
        extra: Default::default(),
    };
    // Whatever the per-command checks left (the whole frame must fit the 4-digit length).
    Request::Print(request.clone())
        .encode()
        .map_err(|e| ApiError::invalid_field("commands", e.to_string()))?;
    Ok(request)
}

/// How a query handed to a terminal went.
pub(super) enum QueryOutcome {
    Answered(Box<Response>),
    /// Not written to the terminal: the problem to answer.
    NotSent(ApiError),
    /// Written, and no answer in time.
    NoAnswer,
}

fn bucket(count: i64, amount: i64) -> Value {
    json!({ "count": count, "amount": amount })
}

fn terminal_side(b: &TotalsBucket) -> (i64, i64) {
    (b.count, b.price)
}

impl Services {
    /// A query to a terminal that has no open transaction: its answer, or the problem (nothing sent when the
    /// terminal is disconnected or busy).
    async fn ask_terminal(
        &self,
        terminal_id: &str,
        handle: &TerminalHandle,
        request: Request,
    ) -> Result<Response, ApiError> {
        if !handle.connected() {
            return Err(disconnected(terminal_id));
        }
        if let Some(open) = self.store.open_terminal_tx(terminal_id).await? {
            return Err(busy(terminal_id, Some(open.id)));
        }
        match self.query_terminal(handle, request).await {
            QueryOutcome::Answered(response) => Ok(*response),
            QueryOutcome::NotSent(err) => Err(err),
            QueryOutcome::NoAnswer => Err(no_answer()),
        }
    }

    /// Hands a query to the terminal's task and waits for its answer.
    pub(super) async fn query_terminal(
        &self,
        handle: &TerminalHandle,
        request: Request,
    ) -> QueryOutcome {
        let terminal_id = handle.id().to_string();
        let (reply, answer) = oneshot::channel();
        if !handle
            .send(Command::Query {
                request: Box::new(request),
                reply,
            })
            .await
        {
            return QueryOutcome::NotSent(ApiError::unavailable("the gateway is stopping"));
        }
        let wait = QUERY_TIMEOUT + Duration::from_secs(5);
        match tokio::time::timeout(wait, answer).await {
            Ok(Ok(QueryAnswer::Answered(response))) => QueryOutcome::Answered(response),
            Ok(Ok(QueryAnswer::Busy)) => QueryOutcome::NotSent(busy(&terminal_id, None)),
            Ok(Ok(QueryAnswer::NotConnected)) => QueryOutcome::NotSent(disconnected(&terminal_id)),
            Ok(Ok(QueryAnswer::NoAnswer)) | Ok(Err(_)) | Err(_) => QueryOutcome::NoAnswer,
        }
    }

    /// `POST /v1/terminals/{id}/cash-receipts`: records the receipt, hands it to the terminal and answers 202.
    #[tracing::instrument(name = "terminal_cash_receipt", skip_all, fields(terminal = %terminal_id, channel = "terminal"))]
    pub async fn start_cash_receipt(
        &self,
        keyed: Keyed<'_>,
        terminal_id: &str,
        body: CashReceiptBody,
    ) -> Result<Answer, ApiError> {
        let (_, handle) = self.terminal(terminal_id)?;
        let id = Uuid::new_v4();
        let ptxid = id.simple().to_string();
        let request = validate_cash_receipt(&body, &ptxid)?;
        self.once(keyed, || async {
            if !handle.connected() {
                return Err(disconnected(terminal_id));
            }
            let new = NewTerminalTx {
                id,
                terminal_id: terminal_id.to_string(),
                kind: TerminalTxKind::CashReceipt,
                ptxid: ptxid.clone(),
                amount: body.amount,
                request: request_body(&request),
            };
            let tx = match self
                .store
                .begin_cash_receipt(&new, body.order_id.as_deref(), self.clock.now())
                .await?
            {
                BeginCashReceipt::Started(tx) => tx,
                BeginCashReceipt::UnknownOrder => {
                    return Err(ApiError::invalid_field(
                        "order_id",
                        "names no order of this gateway",
                    ))
                }
                BeginCashReceipt::Busy { open } => return Err(busy(terminal_id, open)),
            };
            // The identity number stays out of the log: the transaction id is what an operator follows.
            tracing::info!(transaction = %id, amount = body.amount, "cash receipt recorded");
            if !handle.send(Command::Send { id, done: None }).await {
                return Err(ApiError::unavailable("the gateway is stopping"));
            }
            Ok((StatusCode::ACCEPTED, Self::tx_json(&tx)))
        })
        .await
    }

    /// `POST /v1/cash-receipts/{id}/cancel`: the cancel (070020) of an issued receipt on the terminal that issued
    /// it, with the receipt's own numbers; answers 202 with the cancel's transaction.
    #[tracing::instrument(name = "terminal_cash_receipt_cancel", skip_all, fields(receipt = %receipt_id, channel = "terminal"))]
    pub async fn cancel_cash_receipt(
        &self,
        keyed: Keyed<'_>,
        receipt_id: &str,
    ) -> Result<Answer, ApiError> {
        let not_found = || ApiError::not_found(format!("no cash receipt {receipt_id}"));
        let receipt_uuid = Uuid::parse_str(receipt_id).map_err(|_| not_found())?;
        self.once(keyed, || async {
            let receipt = self
                .store
                .terminal_tx(receipt_uuid)
                .await?
                .filter(|t| t.kind == TerminalTxKind::CashReceipt)
                .ok_or_else(not_found)?;
            let terminal_id = receipt.terminal_id.clone();
            let (_, handle) = self.terminal(&terminal_id).map_err(|_| {
                ApiError::conflict(
                    "terminal_not_configured",
                    format!("terminal {terminal_id}, which issued this receipt, is no longer configured"),
                )
            })?;
            if !handle.connected() {
                return Err(disconnected(&terminal_id));
            }
            let id = Uuid::new_v4();
            let ptxid = id.simple().to_string();
            let build = |receipt: &TerminalTxRow| {
                let text = |key: &str| {
                    receipt
                        .request
                        .get(key)
                        .and_then(Value::as_str)
                        .map(str::to_string)
                };
                let request = Request::CashReceiptCancel(CashReceiptCancelRequest {
                    approval_amt: receipt.approved_amount.unwrap_or(receipt.amount),
                    approval_no: receipt.approval_no.clone().unwrap_or_default(),
                    transaction_date: receipt.transaction_date.clone().unwrap_or_default(),
                    transaction_no: receipt.transaction_no.clone().unwrap_or_default(),
                    trader_type: TraderType::from(text("traderType").unwrap_or_default().as_str()),
                    approval_number: text("approvalNumber"),
                    ptxid: ptxid.clone(),
                    extra: Default::default(),
                });
                NewTerminalTx {
                    id,
                    terminal_id: terminal_id.clone(),
                    kind: TerminalTxKind::CashReceiptCancel,
                    ptxid: ptxid.clone(),
                    amount: receipt.approved_amount.unwrap_or(receipt.amount),
                    request: request_body(&request),
                }
            };
            let tx = match self
                .store
                .begin_cash_receipt_cancel(receipt_uuid, build, self.clock.now())
                .await?
            {
                BeginCashReceiptCancel::Started(tx) => tx,
                BeginCashReceiptCancel::Unknown => return Err(not_found()),
                BeginCashReceiptCancel::NotIssued(receipt) => {
                    return Err(ApiError::conflict(
                        "cash_receipt_not_issued",
                        format!(
                            "cash receipt {} is {}: only an issued receipt can be cancelled",
                            receipt.id,
                            receipt.status.as_str()
                        ),
                    )
                    .with("transaction", Self::tx_json(&receipt)))
                }
                BeginCashReceiptCancel::AlreadyCancelled { cancel } => {
                    return Err(ApiError::conflict(
                        "cash_receipt_cancelled",
                        format!(
                            "cash receipt {receipt_id} has a cancel already ({}, {})",
                            cancel.id,
                            cancel.status.as_str()
                        ),
                    )
                    .with("transaction", Self::tx_json(&cancel)))
                }
                BeginCashReceiptCancel::Busy { open } => return Err(busy(&terminal_id, open)),
            };
            tracing::info!(transaction = %id, "cash receipt cancel recorded");
            if !handle.send(Command::Send { id, done: None }).await {
                return Err(ApiError::unavailable("the gateway is stopping"));
            }
            Ok((StatusCode::ACCEPTED, Self::tx_json(&tx)))
        })
        .await
    }

    /// `GET /v1/terminals/{id}/totals?from=&to=`: the terminal's 050099 beside the gateway's own record.
    pub async fn terminal_totals(
        &self,
        terminal_id: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Value, ApiError> {
        let (_, handle) = self.terminal(terminal_id)?;
        let (from, to) = totals_period(from, to)?;
        let request = Request::SalesTotals(smartro_terminal::TotalsRequest::new(&from, &to));
        let response = self.ask_terminal(terminal_id, handle, request).await?;
        let Response::SalesTotals(reply) = response else {
            return Err(no_answer());
        };
        if !reply.result_code.is_success() {
            return Err(terminal_refused(&reply.result_code, &reply.result_message));
        }
        let data = reply.data.unwrap_or_default();
        let (t_approved, t_cancelled) =
            (terminal_side(&data.approved), terminal_side(&data.canceled));
        let ledger = self
            .store
            .terminal_ledger_totals(terminal_id, &from, &to)
            .await?;
        let LedgerTotals {
            approved_count,
            approved_amount,
            cancelled_count,
            cancelled_amount,
        } = ledger;
        let agree = t_approved == (approved_count, approved_amount)
            && t_cancelled == (cancelled_count, cancelled_amount);
        Ok(json!({
            "terminal_id": terminal_id,
            "from": from,
            "to": to,
            "terminal": {
                "approved": bucket(t_approved.0, t_approved.1),
                "cancelled": bucket(t_cancelled.0, t_cancelled.1),
            },
            "ledger": {
                "approved": bucket(approved_count, approved_amount),
                "cancelled": bucket(cancelled_count, cancelled_amount),
            },
            "agree": agree,
        }))
    }

    /// `GET /v1/terminals/{id}/codes`: the terminal's code list (081008).
    pub async fn terminal_codes(&self, terminal_id: &str) -> Result<Value, ApiError> {
        let (_, handle) = self.terminal(terminal_id)?;
        let response = self
            .ask_terminal(terminal_id, handle, Request::CodeDownload)
            .await?;
        let Response::CodeDownload(reply) = response else {
            return Err(no_answer());
        };
        if !reply.result_code.is_success() {
            return Err(terminal_refused(&reply.result_code, &reply.result_message));
        }
        let list = reply.data.unwrap_or_default();
        let data: Vec<Value> = list
            .code_list
            .iter()
            .map(|c| {
                json!({
                    "code": c.code,
                    "name": c.code_name,
                    "group_code": c.group_code,
                    "group_name": c.group_code_name,
                })
            })
            .collect();
        Ok(json!({
            "terminal_id": terminal_id,
            "total_count": list.total_count,
            "data": data,
        }))
    }

    /// `POST /v1/terminals/{id}/print`: validated commands, printed by the terminal (900091).
    #[tracing::instrument(name = "terminal_print", skip_all, fields(terminal = %terminal_id, channel = "terminal"))]
    pub async fn print_on_terminal(
        &self,
        keyed: Keyed<'_>,
        terminal_id: &str,
        body: PrintBody,
    ) -> Result<Answer, ApiError> {
        let (_, handle) = self.terminal(terminal_id)?;
        let request = validate_print(body)?;
        self.once(keyed, || async {
            let response = self
                .ask_terminal(terminal_id, handle, Request::Print(request.clone()))
                .await?;
            let Response::Print(reply) = response else {
                return Err(no_answer());
            };
            if !reply.result_code.is_success() {
                return Err(terminal_refused(&reply.result_code, &reply.result_message));
            }
            Ok((
                StatusCode::OK,
                json!({
                    "terminal_id": terminal_id,
                    "printed": true,
                    "result_code": reply.result_code.as_str(),
                    "result_message": reply.result_message,
                }),
            ))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(err: ApiError) -> Option<String> {
        err.body()["errors"][0]["field"]
            .as_str()
            .map(str::to_string)
    }

    fn receipt(value: Value) -> CashReceiptBody {
        serde_json::from_value(value).expect("a body")
    }

    #[test]
    fn bad_cash_receipts_name_the_field_and_never_the_number() {
        for (value, field) in [
            (json!({"amount": 0, "trader_type": "1"}), "amount"),
            (
                json!({"amount": 1000, "tax": 2000, "trader_type": "1"}),
                "tax",
            ),
            (
                json!({"amount": 1000, "tax": 600, "tax_free": 600, "trader_type": "1"}),
                "tax_free",
            ),
            (json!({"amount": 1000, "trader_type": "3"}), "trader_type"),
            (
                json!({"amount": 1000, "trader_type": "1", "identity": 1012345678}),
                "identity",
            ),
            (
                json!({"amount": 1000, "trader_type": "1", "identity": "010-1234-567x"}),
                "identity",
            ),
            (
                json!({"amount": 1000, "trader_type": "1", "identity": "12345"}),
                "identity",
            ),
            (
                json!({"amount": 1000, "trader_type": "1", "order_id": "a b"}),
                "order_id",
            ),
        ] {
            let err = validate_cash_receipt(&receipt(value.clone()), "P1").expect_err("refused");
            let body = err.body().to_string();
            assert!(
                !body.contains("1012345678") && !body.contains("1234-567"),
                "{body}"
            );
            assert_eq!(field_of(err).as_deref(), Some(field), "{value}");
        }
        let ok = validate_cash_receipt(
            &receipt(json!({"amount": 5000, "trader_type": "2", "identity": "123-45-67890"})),
            "P1",
        )
        .expect("valid");
        match ok {
            Request::CashReceiptIssue(r) => {
                assert_eq!(r.price_amt, 5000);
                assert_eq!(r.trader_type, TraderType::ExpenseProof);
                assert_eq!(r.approval_number.as_deref(), Some("123-45-67890"));
            }
            other => panic!("not a cash receipt: {other:?}"),
        }
    }

    #[test]
    fn totals_periods_are_real_days_in_order() {
        assert_eq!(
            totals_period(Some("20261201"), Some("20261202")).expect("valid"),
            ("20261201".to_string(), "20261202".to_string())
        );
        for (from, to, field) in [
            (None, Some("20261201"), "from"),
            (Some("20261201"), None, "to"),
            (Some("2026-12-01"), Some("20261201"), "from"),
            (Some("20260230"), Some("20260301"), "from"),
            (Some("20261202"), Some("20261201"), "to"),
            (Some("20240101"), Some("20261201"), "to"),
        ] {
            let err = totals_period(from, to).expect_err("refused");
            assert_eq!(field_of(err).as_deref(), Some(field), "{from:?} {to:?}");
        }
    }

    fn print(value: Value) -> Result<PrintRequest, ApiError> {
        validate_print(serde_json::from_value(value).expect("a body"))
    }

    #[test]
    fn bad_print_commands_name_the_command() {
        for (value, field) in [
            (json!({"commands": []}), "commands"),
            (
                json!({"commands": [{"command": "beep"}]}),
                "commands[0].command",
            ),
            (
                json!({"commands": [{"command": "line"}, {"command": "text2", "message": ["a"]}]}),
                "commands[1].message",
            ),
            (
                json!({"commands": [{"command": "left", "font_size": 99, "message": ["a"]}]}),
                "commands[0].font_size",
            ),
            (
                json!({"commands": [{"command": "left", "message": ["a\u{1b}b"]}]}),
                "commands[0].message",
            ),
            (
                json!({"font_family": "", "commands": [{"command": "br"}]}),
                "font_family",
            ),
        ] {
            let err = print(value.clone()).expect_err("refused");
            assert_eq!(field_of(err).as_deref(), Some(field), "{value}");
        }
        let ok = print(json!({"commands": [
            {"command": "left", "font_size": 20, "message": ["영수증"]},
            {"command": "text3", "font_size": 10, "message": ["아메리카노", "2", "9,000원"]},
            {"command": "cuttingLine"}
        ]}))
        .expect("valid");
        assert_eq!(ok.commands.len(), 3);
    }
}
