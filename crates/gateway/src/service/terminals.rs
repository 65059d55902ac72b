//! Sales, aborts and cancels on in-store card terminals: validated here, recorded in the store before anything is
//! sent, then handed to the terminal's connection task (`providers::terminal`), which applies the answer.

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use smartro_terminal::{ApprovalRequest, CancelRequest, EasyPayApprovalRequest, Request};
use tokio::sync::oneshot;
use uuid::Uuid;

use super::cancels::{check_reason, refusal};
use super::idempotency::{Answer, Keyed};
use super::orders::{checkout_token, generate_order_id, MAX_METADATA_BYTES};
use super::problem::ApiError;
use super::Services;
use crate::config::TerminalSettings;
use crate::domain::{CancellationStatus, PayMethod, SplitShare, TerminalTxKind};
use crate::providers::terminal::{request_body, AbortAnswer, Command, TerminalHandle};
use crate::store::terminal::{
    BeginPayment, BeginTerminalCancel, NewTerminalOrder, NewTerminalTx, TerminalTxRow,
};
use crate::views::TerminalTransactionView;

/// How long a terminal order stays payable: a sale at the counter is paid at once or not at all, but an
/// approval that arrives late (recovered with 990001) still pays it, expired or not.
const TERMINAL_ORDER_TTL_HOURS: i64 = 24;
/// The longest goods name kept for a terminal sale.
const MAX_GOODS_NAME_CHARS: usize = 100;
/// Easy pay's service code when the shop names none: QR (the seed's example).
const DEFAULT_SERVICE_CODE: &str = "QRD";

/// `POST /v1/terminals/{id}/payments`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TerminalPaymentBody {
    /// The total charged (`priceAmt`).
    pub amount: i64,
    pub tax: Option<i64>,
    pub tip: Option<i64>,
    pub tax_free: Option<i64>,
    pub installment: Option<i64>,
    /// `card` or `easy_pay`.
    pub method: String,
    pub service_code: Option<String>,
    pub order_id: Option<String>,
    pub goods_name: Option<String>,
    pub metadata: Option<Value>,
}

pub(super) fn not_configured(id: &str) -> ApiError {
    ApiError::not_found(format!("no terminal {id} is configured"))
}

pub(super) fn disconnected(id: &str) -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "terminal_disconnected",
        "Terminal not connected",
        format!("terminal {id} is not connected; nothing was sent"),
    )
    .with("terminal_id", id)
}

pub(super) fn busy(id: &str, open: Option<Uuid>) -> ApiError {
    let mut err = ApiError::conflict(
        "terminal_busy",
        format!(
            "terminal {id} has an open transaction; it takes no other until that one is settled"
        ),
    )
    .with("terminal_id", id);
    if let Some(open) = open {
        err = err.with("transaction_id", open.to_string());
    }
    err
}

/// A cancel of a terminal order that would not take back the whole approval: 422 on `amount`. The terminal
/// cancels only whole sales, and a cancel of the whole after part was refunded would pay that part back twice.
fn not_whole(approved: i64, remaining: i64) -> ApiError {
    ApiError::invalid_field(
        "amount",
        format!(
            "a card terminal cancels only the whole sale ({approved}), and only {remaining} of it is left: \
             part of the money went back already (a refund or a cancel). The terminal cannot cancel the rest; \
             settle what is left the way the refund was made (POST /v1/orders/{{id}}/refunds)"
        ),
    )
    .with("approved", approved)
    .with("remaining", remaining)
}

pub(super) fn is_order_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The request and the order of a sale, or the problem with the body (nothing is recorded or sent).
fn validate_payment(
    body: TerminalPaymentBody,
    ptxid: &str,
) -> Result<(Request, PayMethod, TerminalPaymentBody), ApiError> {
    if body.amount <= 0 || body.amount > smartro_terminal::MAX_AMOUNT {
        return Err(ApiError::invalid_field(
            "amount",
            "must be a positive integer (KRW)",
        ));
    }
    let mut parts = 0i64;
    for (field, value) in [
        ("tax", body.tax),
        ("tip", body.tip),
        ("tax_free", body.tax_free),
    ] {
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
                "tax, tip and tax_free together must not exceed the amount",
            ));
        }
    }
    let installment = body.installment.unwrap_or(0);
    if !(installment == 0 || (2..=36).contains(&installment)) {
        return Err(ApiError::invalid_field(
            "installment",
            "must be 0 (lump sum) or 2 to 36 months",
        ));
    }
    let method = match body.method.as_str() {
        "card" => PayMethod::Card,
        "easy_pay" => PayMethod::EasyPay,
        other => {
            return Err(ApiError::invalid_field(
                "method",
                format!("unknown method {other:?}: card or easy_pay"),
            ))
        }
    };
    if let Some(code) = &body.service_code {
        if method != PayMethod::EasyPay {
            return Err(ApiError::invalid_field(
                "service_code",
                "only for method easy_pay",
            ));
        }
        if !(1..=10).contains(&code.len()) || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ApiError::invalid_field(
                "service_code",
                "must be 1 to 10 ASCII letters or digits (e.g. QRD)",
            ));
        }
    }
    if let Some(id) = &body.order_id {
        if !is_order_id(id) {
            return Err(ApiError::invalid_field(
                "order_id",
                "must be 1 to 40 ASCII letters, digits, '-' or '_'",
            ));
        }
    }
    if let Some(name) = &body.goods_name {
        let chars = name.trim().chars().count();
        if chars == 0 || chars > MAX_GOODS_NAME_CHARS || name.chars().any(char::is_control) {
            return Err(ApiError::invalid_field(
                "goods_name",
                format!(
                    "must be 1 to {MAX_GOODS_NAME_CHARS} characters without control characters"
                ),
            ));
        }
    }
    if let Some(meta) = &body.metadata {
        if !meta.is_object() {
            return Err(ApiError::invalid_field("metadata", "must be a JSON object"));
        }
        if meta.to_string().len() > MAX_METADATA_BYTES {
            return Err(ApiError::invalid_field(
                "metadata",
                format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
            ));
        }
        if meta.to_string().contains("\\u0000") {
            return Err(ApiError::nul_character("metadata"));
        }
    }
    let (tax, tip, tax_free) = (
        body.tax.unwrap_or(0),
        body.tip.unwrap_or(0),
        body.tax_free.unwrap_or(0),
    );
    let request = match method {
        PayMethod::EasyPay => Request::EasyPayApproval(EasyPayApprovalRequest {
            service_code: body
                .service_code
                .clone()
                .unwrap_or_else(|| DEFAULT_SERVICE_CODE.to_string()),
            price_amt: body.amount,
            tax_amt: tax,
            tip_amt: tip,
            tax_free_amt: tax_free,
            installment,
            ptxid: ptxid.to_string(),
            extra: Default::default(),
        }),
        _ => Request::CardApproval(ApprovalRequest {
            price_amt: body.amount,
            tax_amt: tax,
            tip_amt: tip,
            tax_free_amt: tax_free,
            installment,
            ptxid: ptxid.to_string(),
            extra: Default::default(),
        }),
    };
    // The protocol's own rules, so that nothing the terminal would refuse is ever recorded.
    request
        .validate()
        .map_err(|e| ApiError::invalid_field("amount", e.to_string()))?;
    Ok((request, method, body))
}

impl Services {
    pub(super) fn terminal(
        &self,
        id: &str,
    ) -> Result<(&TerminalSettings, &TerminalHandle), ApiError> {
        match (self.settings.terminal(id), self.terminals.get(id)) {
            (Some(settings), Some(handle)) => Ok((settings, handle)),
            _ => Err(not_configured(id)),
        }
    }

    pub(super) fn tx_json(row: &TerminalTxRow) -> Value {
        json!(TerminalTransactionView::from(row))
    }

    /// `GET /v1/terminals`: each configured terminal, whether it is connected, and its open transaction.
    pub async fn list_terminals(&self) -> Result<Value, ApiError> {
        let mut data = Vec::new();
        for terminal in &self.settings.terminals {
            let connected = self
                .terminals
                .get(&terminal.id)
                .is_some_and(TerminalHandle::connected);
            let open = self.store.open_terminal_tx(&terminal.id).await?;
            data.push(json!({
                "id": terminal.id,
                "address": terminal.address,
                "mid": terminal.mid.clone().unwrap_or_else(|| self.settings.default_merchant().mid.clone()),
                "timeout_secs": terminal.timeout_secs,
                "connected": connected,
                "busy": open.is_some(),
                "open_transaction": open.as_ref().map(Self::tx_json),
            }));
        }
        Ok(json!({ "data": data }))
    }

    /// `GET /v1/terminal-transactions/{id}`.
    pub async fn terminal_transaction(&self, id: &str) -> Result<Value, ApiError> {
        let not_found = || ApiError::not_found(format!("no terminal transaction {id}"));
        let id = Uuid::parse_str(id).map_err(|_| not_found())?;
        let row = self.store.terminal_tx(id).await?.ok_or_else(not_found)?;
        Ok(Self::tx_json(&row))
    }

    /// `POST /v1/terminals/{id}/payments`: records the order and the transaction, hands it to the terminal's
    /// task and answers 202 at once.
    #[tracing::instrument(name = "terminal_payment", skip_all, fields(terminal = %terminal_id, channel = "terminal"))]
    pub async fn start_terminal_payment(
        &self,
        keyed: Keyed<'_>,
        terminal_id: &str,
        body: TerminalPaymentBody,
    ) -> Result<Answer, ApiError> {
        let (settings, handle) = self.terminal(terminal_id)?;
        let id = Uuid::new_v4();
        // The transaction's id is its ptxid: unique by construction, across terminals and restarts.
        let ptxid = id.simple().to_string();
        let (request, method, body) = validate_payment(body, &ptxid)?;
        self.once(keyed, || async {
            if !handle.connected() {
                return Err(disconnected(terminal_id));
            }
            let now = self.clock.now();
            let order = NewTerminalOrder {
                order_id: body
                    .order_id
                    .clone()
                    .unwrap_or_else(|| generate_order_id(now)),
                mid: settings
                    .mid
                    .clone()
                    .unwrap_or_else(|| self.settings.default_merchant().mid.clone()),
                amount: body.amount,
                goods_name: body
                    .goods_name
                    .as_deref()
                    .map(str::trim)
                    .unwrap_or("in-store sale")
                    .to_string(),
                pay_method: method,
                tax: body.tax,
                metadata: body.metadata.clone(),
                expires_at: now + ChronoDuration::hours(TERMINAL_ORDER_TTL_HOURS),
            };
            let new = NewTerminalTx {
                id,
                terminal_id: terminal_id.to_string(),
                kind: match method {
                    PayMethod::EasyPay => TerminalTxKind::EasyPayApproval,
                    _ => TerminalTxKind::CardApproval,
                },
                ptxid: ptxid.clone(),
                amount: body.amount,
                request: request_body(&request),
            };
            let tx = match self
                .store
                .begin_terminal_payment(&order, &new, &checkout_token(), now)
                .await?
            {
                BeginPayment::Started { tx, .. } => tx,
                BeginPayment::OrderExists => {
                    return Err(ApiError::conflict(
                        "order_exists",
                        format!("an order with order_id {} already exists", order.order_id),
                    )
                    .with("order_id", order.order_id.clone()))
                }
                BeginPayment::Busy { open } => return Err(busy(terminal_id, open)),
            };
            tracing::info!(transaction = %id, order_id = %order.order_id, "terminal sale recorded");
            if !handle.send(Command::Send { id, done: None }).await {
                return Err(ApiError::unavailable("the gateway is stopping"));
            }
            Ok((StatusCode::ACCEPTED, Self::tx_json(&tx)))
        })
        .await
    }

    /// `POST /v1/terminals/{id}/abort`: stops the reading (or the transaction) in progress; 200 with the
    /// transaction once the terminal confirms, 409 when it refuses or nothing is open.
    #[tracing::instrument(name = "terminal_abort", skip_all, fields(terminal = %terminal_id, channel = "terminal"))]
    pub async fn abort_terminal(
        &self,
        keyed: Keyed<'_>,
        terminal_id: &str,
    ) -> Result<Answer, ApiError> {
        let (settings, handle) = self.terminal(terminal_id)?;
        self.once(keyed, || async {
            let open = self.store.open_terminal_tx(terminal_id).await?.ok_or_else(|| {
                ApiError::conflict(
                    "no_open_transaction",
                    format!("terminal {terminal_id} has no open transaction to abort"),
                )
            })?;
            if !handle.connected() {
                return Err(disconnected(terminal_id));
            }
            let (reply, answer) = oneshot::channel();
            if !handle.send(Command::Abort { id: open.id, reply }).await {
                return Err(ApiError::unavailable("the gateway is stopping"));
            }
            let wait = Duration::from_secs(settings.timeout_secs.saturating_add(5));
            let answer = tokio::time::timeout(wait, answer)
                .await
                .ok()
                .and_then(Result::ok);
            let row = self
                .store
                .terminal_tx(open.id)
                .await?
                .unwrap_or(open.clone());
            match answer {
                Some(AbortAnswer::Ended) if row.status == crate::domain::TerminalTxStatus::Aborted => {
                    Ok((StatusCode::OK, Self::tx_json(&row)))
                }
                Some(AbortAnswer::Refused { code, message }) => Err(ApiError::conflict(
                    "abort_refused",
                    format!("the terminal refused to abort: [{code}] {message}; the transaction stays open"),
                )
                .with("terminal_code", code)
                .with("terminal_message", message)
                .with("transaction", Self::tx_json(&row))),
                Some(AbortAnswer::NotConnected) => Err(disconnected(terminal_id)),
                _ if row.status.is_open() => Err(ApiError::conflict(
                    "transaction_not_abortable",
                    format!(
                        "transaction {} is {} and not in progress on the terminal: it is settled from the \
                         terminal's own record, not aborted",
                        row.id,
                        row.status.as_str()
                    ),
                )
                .with("transaction", Self::tx_json(&row))),
                _ => Err(ApiError::conflict(
                    "transaction_settled",
                    format!(
                        "transaction {} ended {} before the abort took effect",
                        row.id,
                        row.status.as_str()
                    ),
                )
                .with("transaction", Self::tx_json(&row))),
            }
        })
        .await
    }

    /// The cancel of a terminal order: the whole payment, on the terminal that took it, with the original
    /// approval's numbers (010020 / 030020). Recorded before it is sent; answered once the terminal answers.
    pub(super) async fn cancel_terminal_order(
        &self,
        order_id: &str,
        amount: Option<i64>,
        split: Option<&[SplitShare]>,
        reason: &str,
    ) -> Result<(StatusCode, Value), ApiError> {
        let reason = check_reason(reason)?;
        if split.is_some() {
            return Err(ApiError::invalid_field(
                "split",
                "terminal orders are not split payments",
            ));
        }
        let record = self.order(order_id).await?;
        let remaining =
            record.order.paid_amount - record.order.cancelled_amount - record.order.refunded_amount;
        // A terminal cancels whole approvals only (spec: 010020/030020 carry the original approval's amount).
        // Once part of the money went back some other way (a refund the merchant recorded), a cancel without an
        // amount would otherwise be planned for the rest and sent as a partial cancel; so it is refused too, not
        // only an explicit amount that differs. Money refunded in part is settled by the merchant (the rest by
        // transfer too), never by a terminal cancel on top of it. Checked again under the order's lock by the
        // store, against a refund recorded in between.
        if remaining != record.order.paid_amount && remaining > 0 {
            return Err(not_whole(record.order.paid_amount, remaining));
        }
        if amount.is_some_and(|a| a != record.order.paid_amount) {
            return Err(ApiError::invalid_field(
                "amount",
                format!(
                    "a card terminal cancels the whole approval only ({}): leave amount out or send that",
                    record.order.paid_amount
                ),
            ));
        }
        let Some(terminal_id) = record
            .terminal_transactions
            .iter()
            .find(|t| t.kind.is_sale())
            .map(|t| t.terminal_id.clone())
        else {
            return Err(ApiError::conflict(
                "order_not_cancellable",
                "the order has no terminal transaction to cancel",
            ));
        };
        let (settings, handle) = self.terminal(&terminal_id).map_err(|_| {
            ApiError::conflict(
                "terminal_not_configured",
                format!("terminal {terminal_id}, which took this payment, is no longer configured"),
            )
        })?;
        if !handle.connected() {
            return Err(disconnected(&terminal_id));
        }
        let id = Uuid::new_v4();
        let build = |plan: &crate::domain::CancelPlan, original: &TerminalTxRow| {
            let request = CancelRequest {
                approval_amt: plan.amount,
                approval_no: original.approval_no.clone().unwrap_or_default(),
                transaction_date: original.transaction_date.clone().unwrap_or_default(),
                transaction_no: original.transaction_no.clone().unwrap_or_default(),
                ptxid: id.simple().to_string(),
                extra: Default::default(),
            };
            let (kind, request) = match original.kind {
                TerminalTxKind::EasyPayApproval => (
                    TerminalTxKind::EasyPayCancel,
                    Request::EasyPayCancel(request),
                ),
                _ => (TerminalTxKind::CardCancel, Request::CardCancel(request)),
            };
            NewTerminalTx {
                id,
                terminal_id: terminal_id.clone(),
                kind,
                ptxid: id.simple().to_string(),
                amount: plan.amount,
                request: request_body(&request),
            }
        };
        let (plan, tx) = match self
            .store
            .begin_terminal_cancel(order_id, &reason, build, Uuid::new_v4(), self.clock.now())
            .await?
        {
            BeginTerminalCancel::Planned { plan, tx } => (plan, tx),
            BeginTerminalCancel::Refused(r) => return Err(refusal(r)),
            BeginTerminalCancel::UnknownOrder => {
                return Err(ApiError::not_found(format!("no order {order_id}")))
            }
            BeginTerminalCancel::NoOriginal => {
                return Err(ApiError::conflict(
                    "order_not_cancellable",
                    "the order's payment has no approval on a terminal to cancel",
                ))
            }
            BeginTerminalCancel::NotWhole {
                approved,
                remaining,
            } => return Err(not_whole(approved, remaining)),
            BeginTerminalCancel::Busy { open } => return Err(busy(&terminal_id, open)),
        };
        tracing::info!(cancellation = %plan.id, transaction = %tx.id, amount = plan.amount,
            "terminal cancel recorded; sending it to the terminal");
        let (done, finished) = oneshot::channel();
        if !handle
            .send(Command::Send {
                id: tx.id,
                done: Some(done),
            })
            .await
        {
            return Err(ApiError::unavailable("the gateway is stopping"));
        }
        let wait = Duration::from_secs(settings.timeout_secs.saturating_add(5));
        let _ = tokio::time::timeout(wait, finished).await;
        let record = self.order(order_id).await?;
        let cancellation = record.cancellations.iter().find(|c| c.id == plan.id);
        let row = self.store.terminal_tx(tx.id).await?;
        match cancellation.map(|c| c.status) {
            Some(CancellationStatus::Succeeded) => Ok((StatusCode::OK, json!(self.view(&record)))),
            Some(CancellationStatus::Failed) => {
                let code = row
                    .as_ref()
                    .and_then(|r| r.result_code.clone())
                    .unwrap_or_default();
                let message = row
                    .as_ref()
                    .and_then(|r| r.result_message.clone())
                    .unwrap_or_default();
                Err(ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    "terminal_refused",
                    "The terminal refused the cancel",
                    format!("[{code}] {message}"),
                )
                .with("terminal_code", code)
                .with("terminal_message", message)
                .with("cancellation_id", plan.id.to_string()))
            }
            _ => Err(ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "terminal_no_answer",
                "The terminal did not answer",
                "the cancel's outcome is unknown; it is kept as `unknown` and settled from the terminal's \
                 record of its last transaction (990001) once it is reachable",
            )
            .with("cancellation_id", plan.id.to_string())
            .with("transaction_id", tx.id.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> TerminalPaymentBody {
        serde_json::from_value(value).expect("a body")
    }

    fn field_of(err: ApiError) -> Option<String> {
        err.body()["errors"][0]["field"]
            .as_str()
            .map(str::to_string)
    }

    #[test]
    fn bad_sales_name_the_field() {
        for (value, field) in [
            (json!({"amount": 0, "method": "card"}), "amount"),
            (
                json!({"amount": 1000, "tax": 2000, "method": "card"}),
                "tax",
            ),
            (
                json!({"amount": 1000, "tax": 600, "tip": 600, "method": "card"}),
                "tip",
            ),
            (
                json!({"amount": 1000, "installment": 1, "method": "card"}),
                "installment",
            ),
            (json!({"amount": 1000, "method": "cash"}), "method"),
            (
                json!({"amount": 1000, "method": "card", "service_code": "QRD"}),
                "service_code",
            ),
            (
                json!({"amount": 1000, "method": "card", "order_id": "a b"}),
                "order_id",
            ),
            (
                json!({"amount": 1000, "method": "card", "metadata": [1]}),
                "metadata",
            ),
        ] {
            let err = validate_payment(body(value.clone()), "P1").expect_err("refused");
            assert_eq!(field_of(err).as_deref(), Some(field), "{value}");
        }
    }

    #[test]
    fn a_good_sale_makes_the_terminals_request() {
        let (request, method, _) = validate_payment(
            body(json!({"amount": 12000, "tax": 1090, "method": "easy_pay"})),
            "P1",
        )
        .expect("valid");
        assert_eq!(method, PayMethod::EasyPay);
        match request {
            Request::EasyPayApproval(r) => {
                assert_eq!(r.price_amt, 12000);
                assert_eq!(r.tax_amt, 1090);
                assert_eq!(r.service_code, "QRD");
                assert_eq!(r.ptxid, "P1");
            }
            other => panic!("not an easy-pay approval: {other:?}"),
        }
    }
}
