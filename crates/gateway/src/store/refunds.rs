//! Refunds the merchant made itself, recorded on the order with the sums they change, in one transaction.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::{OrderRecord, Store, StoreError};
use crate::domain::{self, RefundRefusal};

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct RefundRow {
    pub id: Uuid,
    pub seq: i64,
    pub order_id: String,
    pub amount: i64,
    pub reason: String,
    pub bank_code: String,
    /// As the merchant gave it; the API shows it masked.
    pub account: String,
    pub holder: String,
    pub reference: Option<String>,
    pub recorded_by: String,
    pub created_at: DateTime<Utc>,
}

/// A refund to record, validated by the service.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub id: Uuid,
    pub amount: i64,
    pub reason: String,
    pub bank_code: String,
    pub account: String,
    pub holder: String,
    pub reference: Option<String>,
    /// The id of the API key that recorded it.
    pub recorded_by: String,
}

pub enum RecordRefund {
    Recorded(Box<OrderRecord>),
    Refused(RefundRefusal),
    /// The order has a refund with this `reference` already: the same transfer.
    ReferenceRecorded,
    UnknownOrder,
}

impl Store {
    /// Records a refund under the order's row lock: the state machine decides against the sums as they are now
    /// (so two refunds at once cannot both take what is left), and the refund row, the order's new sums and
    /// status, and the `payment.refunded` event commit together. The table's constraint holds the sums to what
    /// was paid whatever happens above it.
    pub async fn record_refund(
        &self,
        order_id: &str,
        refund: &NewRefund,
        render: &Render<'_>,
        now: DateTime<Utc>,
    ) -> Result<RecordRefund, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, order_id, true).await? else {
            return Ok(RecordRefund::UnknownOrder);
        };
        let before = record.state()?;
        let decision = match domain::record_refund(&before, refund.amount) {
            Ok(decision) => decision,
            Err(refusal) => return Ok(RecordRefund::Refused(refusal)),
        };
        if let Some(reference) = &refund.reference {
            // Checked under the order's lock; the unique index holds it whatever writes the row.
            let recorded = sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM refunds WHERE order_id = $1 AND reference = $2) AS "recorded!""#,
                order_id,
                reference
            )
            .fetch_one(&mut *tx)
            .await?;
            if recorded {
                return Ok(RecordRefund::ReferenceRecorded);
            }
        }
        sqlx::query!(
            "INSERT INTO refunds (id, order_id, amount, reason, bank_code, account, holder, reference,
               recorded_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            refund.id,
            order_id,
            refund.amount,
            refund.reason,
            refund.bank_code,
            refund.account,
            refund.holder,
            refund.reference,
            refund.recorded_by,
            now
        )
        .execute(&mut *tx)
        .await?;
        save_state(&mut tx, &decision.order, None, now).await?;
        insert_events(&mut tx, order_id, &decision.events(), render, now).await?;
        let record = load_record(&mut tx, order_id, false)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("order {order_id} vanished during a refund"))
            })?;
        tx.commit().await?;
        Ok(RecordRefund::Recorded(Box::new(record)))
    }
}
