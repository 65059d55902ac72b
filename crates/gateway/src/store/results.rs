use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};

use super::notifications::{mark, NotificationOutcome};
use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::resolutions::follow_cancellation;
use super::{Store, StoreError};
use crate::domain::{self, Confirmed, Effect, MessageLabels, OrderStatus, VerifiedResult};

use super::WEBLINK as PROVIDER;

#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The result was new and is now part of the order.
    Applied { status: OrderStatus },
    /// This result was applied before (another delivery, or the other channel): nothing changed.
    Duplicate { status: OrderStatus },
    /// No order has this Moid.
    UnknownOrder,
    /// The result's TID (or the original TID it cancels) belongs to another order: nothing changed.
    TidOfAnotherOrder { tid: String, owner: String },
    /// Counting it would go beyond what Smartro's records confirm: nothing changed.
    Refuted { detail: String },
}

impl Store {
    /// Applies a confirmed Smartro result exactly once, in one transaction: the order row is locked, the result's
    /// TIDs are bound to the order (refused, with nothing written, when they belong to another one), the
    /// result's dedupe key is claimed (a unique key, so concurrent deliveries on any replica agree on one winner),
    /// the state machine decides, and the order, payment, cancellation and outbox rows are written together.
    pub async fn apply_result(
        &self,
        notification_id: i64,
        result: &VerifiedResult,
        confirmed: Confirmed,
        new_id: uuid::Uuid,
        render: &Render<'_>,
        now: DateTime<Utc>,
    ) -> Result<ApplyOutcome, StoreError> {
        let confirmed_by = confirmed.by;
        let labels = result.labels();
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, &result.order_id, true).await? else {
            mark(
                &mut *tx,
                notification_id,
                NotificationOutcome::UnknownOrder,
                Some("no order has this OID"),
                &labels,
                None,
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::UnknownOrder);
        };
        // Before anything of the order is written: the result's TID must be (or become) this order's, and the
        // original TID a cancel refers to must not be another order's. That one is only checked, never bound: a
        // cancel notice does not make a payment this order's.
        let owner_elsewhere = match bind_tid(&mut tx, &result.tid, &result.order_id, now).await? {
            Some(owner) => Some((result.tid.clone(), owner)),
            None => match result.other_tid() {
                Some(original) => tid_owner(&mut tx, original)
                    .await?
                    .filter(|owner| *owner != result.order_id)
                    .map(|owner| (original.to_string(), owner)),
                None => None,
            },
        };
        if let Some((tid, owner)) = owner_elsewhere {
            tx.rollback().await?;
            let detail = format!("TID {tid} belongs to order {owner}");
            return self
                .refute(notification_id, &labels, detail, now)
                .await
                .map(|()| ApplyOutcome::TidOfAnotherOrder { tid, owner });
        }
        let before = record.state()?;
        if let (Some(listed), Some(_)) = (confirmed.listed_partial_cancels, result.other_tid()) {
            if domain::cancel_beyond_listed(&before, &result.tid, result.amount, listed) {
                tx.rollback().await?;
                let detail = format!(
                    "Smartro lists {listed} partial cancel(s) of {} for this payment, all already counted",
                    result.amount
                );
                return self
                    .refute(notification_id, &labels, detail.clone(), now)
                    .await
                    .map(|()| ApplyOutcome::Refuted { detail });
            }
        }

        let claimed = sqlx::query_scalar!(
            "INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
            result.dedupe_key,
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
                Some(confirmed_by),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::Duplicate {
                status: before.status,
            });
        }

        let decision = domain::apply_result(&before, result, now, new_id);
        let details = decision.effects.iter().find_map(|e| match e {
            Effect::RecordDetails(d) => Some(d),
            _ => None,
        });
        save_state(&mut tx, &decision.order, details, now).await?;
        for effect in &decision.effects {
            match effect {
                Effect::RecordPayment(p) => {
                    let written = sqlx::query!(
                        "INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message,
                           success, auth_code, auth_date, source, created_at, updated_at, provider)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)
                         ON CONFLICT (provider, tid) DO UPDATE SET result_code = EXCLUDED.result_code,
                           result_message = EXCLUDED.result_message, success = EXCLUDED.success,
                           amount = EXCLUDED.amount,
                           auth_code = COALESCE(EXCLUDED.auth_code, payments.auth_code),
                           auth_date = COALESCE(EXCLUDED.auth_date, payments.auth_date),
                           updated_at = EXCLUDED.updated_at
                         WHERE payments.order_id = EXCLUDED.order_id",
                        p.tid,
                        result.order_id,
                        p.mid,
                        p.pay_method.map_or("UNKNOWN", domain::PayMethod::as_str),
                        p.amount,
                        p.result_code,
                        p.result_message,
                        p.success,
                        p.auth_code,
                        p.auth_date,
                        p.source.as_str(),
                        now,
                        PROVIDER
                    )
                    .execute(&mut *tx)
                    .await?;
                    // The TID was bound to this order above, so the row is this order's; if it were not, the
                    // whole transaction must go rather than leave the order changed without its payment.
                    if written.rows_affected() != 1 {
                        return Err(StoreError::Corrupt(format!(
                            "payment {} is recorded for another order",
                            p.tid
                        )));
                    }
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
                    follow_cancellation(&mut tx, *id, domain::CancellationStatus::Succeeded, now)
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
        insert_events(&mut tx, &result.order_id, &decision.events(), render, now).await?;
        mark(
            &mut *tx,
            notification_id,
            NotificationOutcome::Applied,
            None,
            &labels,
            Some(confirmed_by),
            now,
        )
        .await?;
        // Other deliveries of this result still waiting for confirmation have nothing left to wait for.
        sqlx::query!(
            "UPDATE notifications SET outcome = 'duplicate', next_check_at = NULL, processed_at = $2
             WHERE dedupe_key = $1 AND outcome = 'unconfirmed' AND order_id = $3",
            result.dedupe_key,
            now,
            result.order_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ApplyOutcome::Applied {
            status: decision.order.status,
        })
    }
}

impl Store {
    async fn refute(
        &self,
        notification_id: i64,
        labels: &MessageLabels,
        detail: String,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        mark(
            &self.pool,
            notification_id,
            NotificationOutcome::Refuted,
            Some(&detail),
            labels,
            None,
            now,
        )
        .await
    }
}

async fn tid_owner(
    tx: &mut Transaction<'_, Postgres>,
    tid: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT order_id FROM tid_bindings WHERE provider = $1 AND tid = $2",
        PROVIDER,
        tid
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Binds `tid` to `order_id` unless it is bound already; returns the other order when it belongs to one. Two
/// transactions binding one TID at once serialise on its primary key: the second waits for the first to commit,
/// then sees its row.
pub(crate) async fn bind_tid(
    tx: &mut Transaction<'_, Postgres>,
    tid: &str,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let bound = sqlx::query_scalar!(
        "INSERT INTO tid_bindings (provider, tid, order_id, bound_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, tid) DO NOTHING RETURNING order_id",
        PROVIDER,
        tid,
        order_id,
        now
    )
    .fetch_optional(&mut **tx)
    .await?;
    if bound.is_some() {
        return Ok(None);
    }
    let owner = sqlx::query_scalar!(
        "SELECT order_id FROM tid_bindings WHERE provider = $1 AND tid = $2",
        PROVIDER,
        tid
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((owner != order_id).then_some(owner))
}
