//! VAT tax-refund slips issued on in-store terminals: recorded `requested` before the request is sent, then
//! what the terminal answered (issue, cancel, inquiry).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

use super::{Store, StoreError};

/// A tax-refund slip as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct TaxRefundRow {
    pub id: Uuid,
    pub terminal_id: String,
    pub status: String,
    pub variant: String,
    pub order_id: Option<String>,
    pub request: Value,
    pub slip: Option<Value>,
    pub tax_refund_serial: Option<String>,
    pub refund_serial: Option<String>,
    pub refund_balance: Option<i64>,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub cancel_status: Option<String>,
    pub cancel_result_code: Option<String>,
    pub cancel_result_message: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub inquired_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Deserialize)]
struct RowJson {
    row: Json<TaxRefundRow>,
}

/// What the terminal said of an issue, a cancel or an inquiry.
#[derive(Debug, Clone)]
pub enum SlipAnswer {
    /// `0000` with the slip (`slip`, its serials and refund).
    Done {
        slip: Value,
        tax_refund_serial: Option<String>,
        refund_serial: Option<String>,
        refund_balance: Option<i64>,
        message: String,
    },
    /// Another result code.
    Refused { code: String, message: String },
    /// Sent, no answer: whether the terminal acted is not known.
    NoAnswer { reason: String },
    /// Never sent (the terminal was disconnected or busy when its turn came).
    NotSent { reason: String },
}

/// Whether a cancel could start.
pub enum BeginTaxRefundCancel {
    Started(Box<TaxRefundRow>),
    Unknown,
    /// Not issued, already cancelled, or a cancel in progress or unknown: nothing was changed.
    Refused(Box<TaxRefundRow>),
}

impl Store {
    pub async fn tax_refund(&self, id: Uuid) -> Result<Option<TaxRefundRow>, StoreError> {
        Ok(sqlx::query_as!(
            RowJson,
            r#"SELECT row_to_json(t) AS "row!: Json<TaxRefundRow>" FROM terminal_tax_refunds t WHERE t.id = $1"#,
            id
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.row.0))
    }

    /// Records a slip `requested` before its request is sent. `false`: the order it names does not exist.
    #[allow(clippy::too_many_arguments)]
    pub async fn begin_tax_refund(
        &self,
        id: Uuid,
        terminal_id: &str,
        variant: &str,
        order_id: Option<&str>,
        request: &Value,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if let Some(order_id) = order_id {
            let exists = sqlx::query_scalar!(
                "SELECT order_id FROM orders WHERE order_id = $1 FOR SHARE",
                order_id
            )
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_none() {
                return Ok(false);
            }
        }
        sqlx::query!(
            "INSERT INTO terminal_tax_refunds (id, terminal_id, status, variant, order_id, request, created_at,
               updated_at)
             VALUES ($1, $2, 'requested', $3, $4, $5, $6, $6)",
            id,
            terminal_id,
            variant,
            order_id,
            request,
            now
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// What the terminal answered to the issue.
    pub async fn finish_tax_refund(
        &self,
        id: Uuid,
        answer: &SlipAnswer,
        now: DateTime<Utc>,
    ) -> Result<Option<TaxRefundRow>, StoreError> {
        let (status, slip, serial, refund_serial, balance, code, message) = match answer {
            SlipAnswer::Done {
                slip,
                tax_refund_serial,
                refund_serial,
                refund_balance,
                message,
            } => (
                // A success without a serial names no slip that could be cancelled: kept for a person.
                if tax_refund_serial.is_some() {
                    "issued"
                } else {
                    "unknown"
                },
                Some(slip.clone()),
                tax_refund_serial.clone(),
                refund_serial.clone(),
                *refund_balance,
                Some("0000".to_string()),
                message.clone(),
            ),
            SlipAnswer::Refused { code, message } => (
                "failed",
                None,
                None,
                None,
                None,
                Some(code.clone()),
                message.clone(),
            ),
            SlipAnswer::NoAnswer { reason } => {
                ("unknown", None, None, None, None, None, reason.clone())
            }
            SlipAnswer::NotSent { reason } => {
                ("failed", None, None, None, None, None, reason.clone())
            }
        };
        let done = (status != "unknown").then_some(now);
        sqlx::query!(
            "UPDATE terminal_tax_refunds SET status = $2, slip = $3, tax_refund_serial = $4, refund_serial = $5,
               refund_balance = $6, result_code = $7, result_message = $8, updated_at = $9, completed_at = $10
             WHERE id = $1 AND status = 'requested'",
            id,
            status,
            slip,
            serial,
            refund_serial,
            balance,
            code,
            message,
            now,
            done
        )
        .execute(&self.pool)
        .await?;
        self.tax_refund(id).await
    }

    /// Marks the cancel `requested` if the slip is issued and no cancel is open, succeeded or unknown.
    pub async fn begin_tax_refund_cancel(
        &self,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<BeginTaxRefundCancel, StoreError> {
        let started = sqlx::query_scalar!(
            "UPDATE terminal_tax_refunds SET cancel_status = 'requested', cancel_result_code = NULL,
               cancel_result_message = NULL, updated_at = $2
             WHERE id = $1 AND status = 'issued' AND (cancel_status IS NULL OR cancel_status = 'failed')
             RETURNING id",
            id,
            now
        )
        .fetch_optional(&self.pool)
        .await?;
        let row = self.tax_refund(id).await?;
        Ok(match (started, row) {
            (_, None) => BeginTaxRefundCancel::Unknown,
            (Some(_), Some(row)) => BeginTaxRefundCancel::Started(Box::new(row)),
            (None, Some(row)) => BeginTaxRefundCancel::Refused(Box::new(row)),
        })
    }

    /// What the terminal answered to the cancel.
    pub async fn finish_tax_refund_cancel(
        &self,
        id: Uuid,
        answer: &SlipAnswer,
        now: DateTime<Utc>,
    ) -> Result<Option<TaxRefundRow>, StoreError> {
        let (cancel_status, slip, code, message) = match answer {
            SlipAnswer::Done { slip, message, .. } => (
                "succeeded",
                Some(slip.clone()),
                Some("0000".to_string()),
                message.clone(),
            ),
            SlipAnswer::Refused { code, message } => {
                ("failed", None, Some(code.clone()), message.clone())
            }
            SlipAnswer::NoAnswer { reason } => ("unknown", None, None, reason.clone()),
            SlipAnswer::NotSent { reason } => ("failed", None, None, reason.clone()),
        };
        sqlx::query!(
            "UPDATE terminal_tax_refunds SET cancel_status = $2, slip = COALESCE($3, slip),
               cancel_result_code = $4, cancel_result_message = $5, updated_at = $6,
               status = CASE WHEN $2 = 'succeeded' THEN 'cancelled' ELSE status END,
               cancelled_at = CASE WHEN $2 = 'succeeded' THEN $6 ELSE cancelled_at END
             WHERE id = $1 AND cancel_status = 'requested'",
            id,
            cancel_status,
            slip,
            code,
            message,
            now
        )
        .execute(&self.pool)
        .await?;
        self.tax_refund(id).await
    }

    /// The slip as the terminal described it when asked (900050).
    pub async fn record_tax_refund_inquiry(
        &self,
        id: Uuid,
        slip: &Value,
        now: DateTime<Utc>,
    ) -> Result<Option<TaxRefundRow>, StoreError> {
        sqlx::query!(
            "UPDATE terminal_tax_refunds SET slip = $2, inquired_at = $3, updated_at = $3 WHERE id = $1",
            id,
            slip,
            now
        )
        .execute(&self.pool)
        .await?;
        self.tax_refund(id).await
    }
}
