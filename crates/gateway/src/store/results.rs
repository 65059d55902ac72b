use chrono::{DateTime, Utc};

use super::notifications::{mark, NotificationLabels, NotificationOutcome};
use super::orders::{load_record, save_state};
use super::outbox::insert_events;
use super::{Store, StoreError};
use crate::domain::{self, Effect, OrderStatus, VerifiedResult};

#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The result was new and is now part of the order.
    Applied { status: OrderStatus },
    /// This result was applied before (another delivery, or the other channel): nothing changed.
    Duplicate { status: OrderStatus },
    /// No order has this Moid.
    UnknownOrder,
}

impl Store {
    /// Applies a verified Smartro result exactly once, in one transaction: the order row is locked, the result's
    /// dedupe key is claimed (a unique key, so concurrent deliveries on any replica agree on one winner), the state
    /// machine decides, and the order, payment, cancellation and outbox rows are written together.
    pub async fn apply_result(
        &self,
        notification_id: i64,
        result: &VerifiedResult,
        now: DateTime<Utc>,
    ) -> Result<ApplyOutcome, StoreError> {
        let labels = NotificationLabels {
            mid: Some(result.mid.clone()),
            tid: Some(result.tid.clone()),
            order_id: Some(result.order_id.clone()),
            dedupe_key: Some(result.dedupe_key()),
        };
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, &result.order_id, true).await? else {
            mark(
                &mut *tx,
                notification_id,
                NotificationOutcome::UnknownOrder,
                Some("no order has this OID"),
                &labels,
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::UnknownOrder);
        };
        let before = record.state()?;

        let claimed = sqlx::query_scalar!(
            "INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
            result.dedupe_key(),
            result.order_id,
            notification_id,
            now
        )
        .fetch_optional(&mut *tx)
        .await?;
        if claimed.is_none() {
            mark(
                &mut *tx,
                notification_id,
                NotificationOutcome::Duplicate,
                None,
                &labels,
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::Duplicate {
                status: before.status,
            });
        }

        let decision = domain::apply_result(&before, result, now);
        let details = decision.effects.iter().find_map(|e| match e {
            Effect::RecordDetails(d) => Some(d),
            _ => None,
        });
        save_state(&mut tx, &decision.order, details, now).await?;
        for effect in &decision.effects {
            match effect {
                Effect::RecordPayment(p) => {
                    sqlx::query!(
                        "INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message,
                           success, auth_code, auth_date, source, created_at, updated_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)
                         ON CONFLICT (tid) DO UPDATE SET result_code = EXCLUDED.result_code,
                           result_message = EXCLUDED.result_message, success = EXCLUDED.success,
                           amount = EXCLUDED.amount,
                           auth_code = COALESCE(EXCLUDED.auth_code, payments.auth_code),
                           auth_date = COALESCE(EXCLUDED.auth_date, payments.auth_date),
                           updated_at = EXCLUDED.updated_at
                         WHERE payments.order_id = EXCLUDED.order_id",
                        p.tid,
                        result.order_id,
                        p.mid,
                        p.pay_method.as_str(),
                        p.amount,
                        p.result_code,
                        p.result_message,
                        p.success,
                        p.auth_code,
                        p.auth_date,
                        p.source.as_str(),
                        now
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                // Written with the order row above.
                Effect::RecordDetails(_) => {}
                Effect::ConfirmCancellation {
                    id,
                    ptid,
                    newly_succeeded: _,
                } => {
                    sqlx::query!(
                        "UPDATE cancellations SET status = 'succeeded', notified = true,
                           ptid = COALESCE(ptid, $2), completed_at = COALESCE(completed_at, $3)
                         WHERE id = $1",
                        id,
                        ptid.as_deref(),
                        now
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                Effect::RecordSmartroCancellation {
                    id,
                    tid,
                    ptid,
                    amount,
                    partial,
                    counted: _,
                    result_code,
                    result_message,
                } => {
                    sqlx::query!(
                        "INSERT INTO cancellations (id, order_id, tid, amount, partial, status, origin, reason,
                           result_code, result_message, ptid, notified, requested_at, completed_at)
                         VALUES ($1, $2, $3, $4, $5, 'succeeded', 'smartro', 'notified by Smartro', $6, $7, $8,
                           true, $9, $9)",
                        id,
                        result.order_id,
                        tid,
                        amount,
                        partial,
                        result_code,
                        result_message,
                        ptid.as_deref(),
                        now
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                Effect::Emit(_) => {}
            }
        }
        insert_events(
            &mut tx,
            &result.order_id,
            &decision.events(),
            &self.public_url,
            now,
        )
        .await?;
        mark(
            &mut *tx,
            notification_id,
            NotificationOutcome::Applied,
            None,
            &labels,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ApplyOutcome::Applied {
            status: decision.order.status,
        })
    }
}
