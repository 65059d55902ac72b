//! VAT tax-refund slips (택스리펀드) on in-store terminals: issue (050010), cancel (050020), inquiry (900050).
//!
//! Decisions where the seed is silent: a slip is recorded `requested` before its request is sent, and the API
//! answers once the terminal has (synchronously, like an order's cancel): the refund is paid out by the refund
//! operator, not by card, so there is no card-network transaction, no ptxid the terminal must echo and no 990001
//! record to recover one from. A slip whose answer was lost is `unknown` and stays so for a person to check on
//! the terminal; nothing issues it again by itself. `GET` asks the terminal (900050) for the slip when it can and
//! stores the answer; otherwise it answers what is stored (`terminal_checked: false`).

use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use smartro_terminal::{
    Reply, Request, Response, TaxRefundIssueRequest, TaxRefundSlip, TaxRefundSlipRequest,
    TaxRefundVariant, TextOrNumber,
};
use uuid::Uuid;

use super::idempotency::{Answer, Keyed};
use super::problem::ApiError;
use super::terminal_extras::{no_answer, terminal_refused, QueryOutcome};
use super::terminals::{busy, disconnected, is_order_id};
use super::Services;
use crate::store::tax_refunds::{BeginTaxRefundCancel, SlipAnswer, TaxRefundRow};

/// `POST /v1/terminals/{id}/tax-refunds`. Every field is optional, as in the seed; which apply depends on the
/// terminal and the merchant's service (T650P: `tax_refund_mode`, `payment_type`, `amount`, `qr_service_code`;
/// P3MIX medical: `card_amount`, `cash_amount`, `etc_amount`, `facilitator_number`; hotel: `check_in`,
/// `check_out`; goods: `sales_serial`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxRefundBody {
    pub tax_refund_mode: Option<String>,
    pub payment_type: Option<String>,
    /// `approvalAmt`: the sale's amount.
    pub amount: Option<i64>,
    pub sales_serial: Option<String>,
    pub qr_service_code: Option<String>,
    pub card_amount: Option<i64>,
    pub cash_amount: Option<i64>,
    pub etc_amount: Option<i64>,
    pub facilitator_number: Option<String>,
    /// `YYMMDD`.
    pub check_in: Option<String>,
    pub check_out: Option<String>,
    /// An existing order the slip is for.
    pub order_id: Option<String>,
}

fn variant_name(v: TaxRefundVariant) -> &'static str {
    match v {
        TaxRefundVariant::T650p => "t650p",
        TaxRefundVariant::Medical => "medical",
        TaxRefundVariant::Hotel => "hotel",
        TaxRefundVariant::Goods => "goods",
    }
}

/// A code-like text field: 1 to 40 printable ASCII characters.
fn check_code(field: &str, value: &Option<String>) -> Result<(), ApiError> {
    if let Some(v) = value {
        if v.is_empty() || v.len() > 40 || !v.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiError::invalid_field(
                field,
                "must be 1 to 40 printable ASCII characters",
            ));
        }
    }
    Ok(())
}

fn check_yymmdd(field: &str, value: &Option<String>) -> Result<(), ApiError> {
    if let Some(v) = value {
        let ok = v.len() == 6
            && v.bytes().all(|b| b.is_ascii_digit())
            && chrono::NaiveDate::parse_from_str(&format!("20{v}"), "%Y%m%d").is_ok();
        if !ok {
            return Err(ApiError::invalid_field(field, "must be a day as YYMMDD"));
        }
    }
    Ok(())
}

/// The 050010 request, or the problem naming the field (nothing recorded or sent).
fn validate_tax_refund(
    body: &TaxRefundBody,
    ptx_id: &str,
) -> Result<TaxRefundIssueRequest, ApiError> {
    for (field, value) in [
        ("amount", body.amount),
        ("card_amount", body.card_amount),
        ("cash_amount", body.cash_amount),
        ("etc_amount", body.etc_amount),
    ] {
        if let Some(v) = value {
            if !(0..=smartro_terminal::MAX_AMOUNT).contains(&v) {
                return Err(ApiError::invalid_field(
                    field,
                    "must be a non-negative integer (KRW)",
                ));
            }
        }
    }
    for (field, value) in [
        ("tax_refund_mode", &body.tax_refund_mode),
        ("payment_type", &body.payment_type),
        ("sales_serial", &body.sales_serial),
        ("qr_service_code", &body.qr_service_code),
        ("facilitator_number", &body.facilitator_number),
    ] {
        check_code(field, value)?;
    }
    check_yymmdd("check_in", &body.check_in)?;
    check_yymmdd("check_out", &body.check_out)?;
    if let (Some(a), Some(b)) = (&body.check_in, &body.check_out) {
        if a > b {
            return Err(ApiError::invalid_field(
                "check_out",
                "must not be before check_in",
            ));
        }
    }
    let total = [
        body.amount,
        body.card_amount,
        body.cash_amount,
        body.etc_amount,
    ]
    .into_iter()
    .flatten()
    .fold(0i64, i64::saturating_add);
    if total <= 0 && body.sales_serial.is_none() {
        return Err(ApiError::invalid_field(
            "amount",
            "name the sale: amount (or card_amount, cash_amount, etc_amount) above 0, or sales_serial",
        ));
    }
    if let Some(id) = &body.order_id {
        if !is_order_id(id) {
            return Err(ApiError::invalid_field(
                "order_id",
                "must be 1 to 40 ASCII letters, digits, '-' or '_'",
            ));
        }
    }
    let request = TaxRefundIssueRequest {
        tax_refund_mode: body.tax_refund_mode.clone(),
        payment_type: body.payment_type.clone(),
        approval_amt: body.amount,
        sales_serial: body.sales_serial.clone().map(TextOrNumber::Text),
        qr_service_code: body.qr_service_code.clone(),
        ptx_id: Some(ptx_id.to_string()),
        card_amount: body.card_amount,
        cash_amount: body.cash_amount,
        etc_amount: body.etc_amount,
        facilitator_number: body.facilitator_number.clone(),
        check_in: body.check_in.clone(),
        check_out: body.check_out.clone(),
        extra: Default::default(),
    };
    request
        .validate()
        .map_err(|e| ApiError::invalid_field("check_in", e.to_string()))?;
    Ok(request)
}

/// What a slip answer means for the record.
fn slip_answer(reply: &Reply<TaxRefundSlip>) -> SlipAnswer {
    if !reply.result_code.is_success() {
        return SlipAnswer::Refused {
            code: reply.result_code.as_str().to_string(),
            message: reply.result_message.clone(),
        };
    }
    let slip = reply.data.clone().unwrap_or_default();
    SlipAnswer::Done {
        slip: serde_json::to_value(&slip).unwrap_or(Value::Null),
        tax_refund_serial: slip.taxrefund_serial.clone(),
        refund_serial: slip.refund_serial.clone(),
        refund_balance: slip.refund_balance,
        message: reply.result_message.clone(),
    }
}

/// A passport number with all but its last three characters masked.
fn mask_passport(p: &str) -> String {
    let n = p.chars().count();
    p.chars()
        .enumerate()
        .map(|(i, c)| if i + 3 < n { '*' } else { c })
        .collect()
}

/// `GET /v1/tax-refunds/{id}`'s resource.
fn view(row: &TaxRefundRow, terminal_checked: Option<bool>) -> Value {
    let slip = row.slip.clone().unwrap_or(Value::Null);
    let text = |key: &str| slip.get(key).and_then(Value::as_str).map(str::to_string);
    let mut v = json!({
        "id": row.id.to_string(),
        "terminal_id": row.terminal_id,
        "status": row.status,
        "variant": row.variant,
        "created_at": row.created_at,
    });
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            v[key] = value;
        }
    };
    put("order_id", json!(row.order_id));
    put(
        "amount",
        row.request
            .get("approvalAmt")
            .cloned()
            .unwrap_or(Value::Null),
    );
    put("tax_refund_serial", json!(row.tax_refund_serial));
    put("refund_serial", json!(row.refund_serial));
    put("refund_balance", json!(row.refund_balance));
    put("refund_date", json!(text("refundDate")));
    put("refund_time", json!(text("refundTime")));
    put("buyer_country", json!(text("buyerCountry")));
    put("buyer_name", json!(text("buyerName")));
    put(
        "passport",
        json!(text("passportSerial").map(|p| mask_passport(&p))),
    );
    put("result_code", json!(row.result_code));
    put("result_message", json!(row.result_message));
    if let Some(status) = &row.cancel_status {
        let mut cancel = json!({ "status": status });
        if let Some(code) = &row.cancel_result_code {
            cancel["result_code"] = json!(code);
        }
        if let Some(message) = &row.cancel_result_message {
            cancel["result_message"] = json!(message);
        }
        if let Some(at) = row.cancelled_at {
            cancel["cancelled_at"] = json!(at);
        }
        put("cancel", cancel);
    }
    put("inquired_at", json!(row.inquired_at));
    put("completed_at", json!(row.completed_at));
    put("terminal_checked", json!(terminal_checked));
    v
}

fn slip_reply(response: Response) -> Option<Reply<TaxRefundSlip>> {
    match response {
        Response::TaxRefundIssue(r)
        | Response::TaxRefundCancel(r)
        | Response::TaxRefundInquiry(r) => Some(r),
        _ => None,
    }
}

impl Services {
    fn tax_refund_problem(err: ApiError, row: &Option<TaxRefundRow>) -> ApiError {
        match row {
            Some(row) => err.with("tax_refund", view(row, None)),
            None => err,
        }
    }

    /// `POST /v1/terminals/{id}/tax-refunds`.
    #[tracing::instrument(name = "terminal_tax_refund", skip_all, fields(terminal = %terminal_id, channel = "terminal"))]
    pub async fn issue_tax_refund(
        &self,
        keyed: Keyed<'_>,
        terminal_id: &str,
        body: TaxRefundBody,
    ) -> Result<Answer, ApiError> {
        let (_, handle) = self.terminal(terminal_id)?;
        let id = Uuid::new_v4();
        let request = validate_tax_refund(&body, &id.simple().to_string())?;
        self.once(keyed, || async {
            if !handle.connected() {
                return Err(disconnected(terminal_id));
            }
            if let Some(open) = self.store.open_terminal_tx(terminal_id).await? {
                return Err(busy(terminal_id, Some(open.id)));
            }
            let body_json = serde_json::to_value(&request).unwrap_or(Value::Null);
            let recorded = self
                .store
                .begin_tax_refund(
                    id,
                    terminal_id,
                    variant_name(request.variant()),
                    body.order_id.as_deref(),
                    &body_json,
                    self.clock.now(),
                )
                .await?;
            if !recorded {
                return Err(ApiError::invalid_field(
                    "order_id",
                    "names no order of this gateway",
                ));
            }
            tracing::info!(tax_refund = %id, "tax-refund slip recorded; sending it to the terminal");
            let outcome = self
                .query_terminal(handle, Request::TaxRefundIssue(request.clone()))
                .await;
            let (answer, problem) = match outcome {
                QueryOutcome::Answered(response) => match slip_reply(*response) {
                    Some(reply) => (slip_answer(&reply), None),
                    None => (
                        SlipAnswer::NoAnswer {
                            reason: "the terminal answered another message".into(),
                        },
                        Some(no_answer()),
                    ),
                },
                QueryOutcome::NotSent(err) => (
                    SlipAnswer::NotSent {
                        reason: err.detail.clone(),
                    },
                    Some(err),
                ),
                QueryOutcome::NoAnswer => (
                    SlipAnswer::NoAnswer {
                        reason: "the terminal did not answer: whether it issued the slip is not known".into(),
                    },
                    Some(no_answer()),
                ),
            };
            let row = self
                .store
                .finish_tax_refund(id, &answer, self.clock.now())
                .await?;
            if let Some(err) = problem {
                return Err(Self::tax_refund_problem(err, &row));
            }
            if let SlipAnswer::Refused { code, message } = &answer {
                return Err(Self::tax_refund_problem(
                    terminal_refused(&smartro_terminal::ResultCode::from(code.as_str()), message),
                    &row,
                ));
            }
            let row = row.ok_or_else(|| ApiError::not_found(format!("no tax refund {id}")))?;
            Ok((StatusCode::CREATED, view(&row, None)))
        })
        .await
    }

    /// `POST /v1/tax-refunds/{id}/cancel`: 050020 with the slip's serial, on the terminal that issued it.
    #[tracing::instrument(name = "terminal_tax_refund_cancel", skip_all, fields(tax_refund = %refund_id, channel = "terminal"))]
    pub async fn cancel_tax_refund(
        &self,
        keyed: Keyed<'_>,
        refund_id: &str,
    ) -> Result<Answer, ApiError> {
        let not_found = || ApiError::not_found(format!("no tax refund {refund_id}"));
        let id = Uuid::parse_str(refund_id).map_err(|_| not_found())?;
        self.once(keyed, || async {
            let row = self.store.tax_refund(id).await?.ok_or_else(not_found)?;
            let terminal_id = row.terminal_id.clone();
            let (_, handle) = self.terminal(&terminal_id).map_err(|_| {
                ApiError::conflict(
                    "terminal_not_configured",
                    format!("terminal {terminal_id}, which issued this slip, is no longer configured"),
                )
            })?;
            if !handle.connected() {
                return Err(disconnected(&terminal_id));
            }
            if let Some(open) = self.store.open_terminal_tx(&terminal_id).await? {
                return Err(busy(&terminal_id, Some(open.id)));
            }
            let row = match self.store.begin_tax_refund_cancel(id, self.clock.now()).await? {
                BeginTaxRefundCancel::Started(row) => row,
                BeginTaxRefundCancel::Unknown => return Err(not_found()),
                BeginTaxRefundCancel::Refused(row) => {
                    let err = if row.status == "issued" || row.status == "cancelled" {
                        ApiError::conflict(
                            "tax_refund_cancelled",
                            format!(
                                "tax refund {id} has a cancel already ({})",
                                row.cancel_status.as_deref().unwrap_or("succeeded")
                            ),
                        )
                    } else {
                        ApiError::conflict(
                            "tax_refund_not_issued",
                            format!("tax refund {id} is {}: only an issued slip can be cancelled", row.status),
                        )
                    };
                    return Err(err.with("tax_refund", view(&row, None)));
                }
            };
            let request = TaxRefundSlipRequest {
                tax_refund_serial: row.tax_refund_serial.clone().unwrap_or_default(),
                is_print: None,
                ptx_id: Some(Uuid::new_v4().simple().to_string()),
                extra: Default::default(),
            };
            let outcome = self
                .query_terminal(handle, Request::TaxRefundCancel(request))
                .await;
            let (answer, problem) = match outcome {
                QueryOutcome::Answered(response) => match slip_reply(*response) {
                    Some(reply) => (slip_answer(&reply), None),
                    None => (
                        SlipAnswer::NoAnswer {
                            reason: "the terminal answered another message".into(),
                        },
                        Some(no_answer()),
                    ),
                },
                QueryOutcome::NotSent(err) => (
                    SlipAnswer::NotSent {
                        reason: err.detail.clone(),
                    },
                    Some(err),
                ),
                QueryOutcome::NoAnswer => (
                    SlipAnswer::NoAnswer {
                        reason: "the terminal did not answer: whether it cancelled the slip is not known".into(),
                    },
                    Some(no_answer()),
                ),
            };
            let row = self
                .store
                .finish_tax_refund_cancel(id, &answer, self.clock.now())
                .await?;
            if let Some(err) = problem {
                return Err(Self::tax_refund_problem(err, &row));
            }
            if let SlipAnswer::Refused { code, message } = &answer {
                return Err(Self::tax_refund_problem(
                    terminal_refused(&smartro_terminal::ResultCode::from(code.as_str()), message),
                    &row,
                ));
            }
            let row = row.ok_or_else(not_found)?;
            Ok((StatusCode::OK, view(&row, None)))
        })
        .await
    }

    /// `GET /v1/tax-refunds/{id}`: the stored slip, refreshed from the terminal (900050) when it can be asked.
    pub async fn tax_refund(&self, refund_id: &str) -> Result<Value, ApiError> {
        let not_found = || ApiError::not_found(format!("no tax refund {refund_id}"));
        let id = Uuid::parse_str(refund_id).map_err(|_| not_found())?;
        let row = self.store.tax_refund(id).await?.ok_or_else(not_found)?;
        let Some(serial) = row.tax_refund_serial.clone() else {
            return Ok(view(&row, Some(false)));
        };
        let Ok((_, handle)) = self.terminal(&row.terminal_id) else {
            return Ok(view(&row, Some(false)));
        };
        if !handle.connected()
            || self
                .store
                .open_terminal_tx(&row.terminal_id)
                .await?
                .is_some()
        {
            return Ok(view(&row, Some(false)));
        }
        let request = TaxRefundSlipRequest {
            tax_refund_serial: serial,
            is_print: Some(false),
            ptx_id: Some(Uuid::new_v4().simple().to_string()),
            extra: Default::default(),
        };
        let outcome = self
            .query_terminal(handle, Request::TaxRefundInquiry(request))
            .await;
        let reply = match outcome {
            QueryOutcome::Answered(response) => slip_reply(*response),
            _ => None,
        };
        match reply {
            Some(reply) if reply.result_code.is_success() => {
                let slip =
                    serde_json::to_value(reply.data.unwrap_or_default()).unwrap_or(Value::Null);
                let row = self
                    .store
                    .record_tax_refund_inquiry(id, &slip, self.clock.now())
                    .await?
                    .ok_or_else(not_found)?;
                Ok(view(&row, Some(true)))
            }
            _ => Ok(view(&row, Some(false))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(value: Value) -> TaxRefundBody {
        serde_json::from_value(value).expect("a body")
    }

    #[test]
    fn bad_slips_name_the_field() {
        for (value, field) in [
            (json!({}), "amount"),
            (json!({"amount": -1}), "amount"),
            (
                json!({"card_amount": 1000, "cash_amount": -5}),
                "cash_amount",
            ),
            (
                json!({"amount": 1000, "payment_type": "카드"}),
                "payment_type",
            ),
            (
                json!({"sales_serial": "S1", "check_in": "261399"}),
                "check_in",
            ),
            (
                json!({"sales_serial": "S1", "check_in": "261205", "check_out": "261201"}),
                "check_out",
            ),
            (json!({"amount": 1000, "order_id": "a b"}), "order_id"),
        ] {
            let err = validate_tax_refund(&body(value.clone()), "P1").expect_err("refused");
            assert_eq!(
                err.body()["errors"][0]["field"].as_str(),
                Some(field),
                "{value}"
            );
        }
        let ok = validate_tax_refund(
            &body(json!({"tax_refund_mode": "post", "payment_type": "card", "amount": 50000})),
            "P1",
        )
        .expect("valid");
        assert_eq!(ok.variant(), TaxRefundVariant::T650p);
        assert_eq!(ok.ptx_id.as_deref(), Some("P1"));
        assert_eq!(mask_passport("M12345678"), "******678");
    }
}
