use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::domain::{ConfirmedBy, MessageLabels, ResultSource};

use super::WEBLINK as PROVIDER;

/// How the gateway dealt with one inbound Smartro message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    Applied,
    Duplicate,
    Malformed,
    UnknownMerchant,
    BadSignature,
    UnknownOrder,
    /// Validly signed, but not (yet) confirmed by Smartro's records: nothing of the order changed.
    Unconfirmed,
    /// Validly signed, and contradicted by Smartro's records or by the TID's order: nothing changed, ever.
    Refuted,
}

impl NotificationOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationOutcome::Applied => "applied",
            NotificationOutcome::Duplicate => "duplicate",
            NotificationOutcome::Malformed => "malformed",
            NotificationOutcome::UnknownMerchant => "unknown_merchant",
            NotificationOutcome::BadSignature => "bad_signature",
            NotificationOutcome::UnknownOrder => "unknown_order",
            NotificationOutcome::Unconfirmed => "unconfirmed",
            NotificationOutcome::Refuted => "refuted",
        }
    }

    pub fn parse(value: &str) -> Option<NotificationOutcome> {
        [
            NotificationOutcome::Applied,
            NotificationOutcome::Duplicate,
            NotificationOutcome::Malformed,
            NotificationOutcome::UnknownMerchant,
            NotificationOutcome::BadSignature,
            NotificationOutcome::UnknownOrder,
            NotificationOutcome::Unconfirmed,
            NotificationOutcome::Refuted,
        ]
        .into_iter()
        .find(|o| o.as_str() == value)
    }
}

/// The raw message, before anything is interpreted.
pub struct RawNotification<'a> {
    pub source: ResultSource,
    pub body: &'a [u8],
    pub headers: serde_json::Value,
    pub remote_addr: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// An unconfirmed result handed to the confirmation worker, leased so that one replica asks about it at a time.
#[derive(Debug, Clone)]
pub struct UnconfirmedNotification {
    pub id: i64,
    pub source: ResultSource,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
    pub check_attempts: i32,
}

/// Where the result behind a returnPay page's follow token stands.
#[derive(Debug, Clone)]
pub struct FollowedResult {
    pub outcome: NotificationOutcome,
    pub order_id: Option<String>,
    /// Still being asked about (`unconfirmed` with a next check planned).
    pub checking: bool,
}

impl Store {
    /// Stores the raw message and commits it at once: whatever happens next, the bytes are kept.
    pub async fn insert_notification(&self, raw: &RawNotification<'_>) -> Result<i64, StoreError> {
        let id = sqlx::query_scalar!(
            "INSERT INTO notifications (source, received_at, body, headers, remote_addr)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            raw.source.as_str(),
            raw.received_at,
            raw.body,
            raw.headers,
            raw.remote_addr
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(id)
    }

    /// Records a final outcome (not applied, or a duplicate): the message is not looked at again.
    pub async fn finish_notification(
        &self,
        id: i64,
        outcome: NotificationOutcome,
        detail: &str,
        labels: &MessageLabels,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        mark(&self.pool, id, outcome, Some(detail), labels, None, now).await
    }

    /// Marks every other delivery of a refuted result (same dedupe key and order) still waiting as refuted too.
    pub async fn refute_waiting(
        &self,
        dedupe_key: &str,
        order_id: &str,
        detail: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE notifications SET outcome = 'refuted', detail = $3, next_check_at = NULL, processed_at = $4
             WHERE dedupe_key = $1 AND order_id = $2 AND outcome = 'unconfirmed'",
            dedupe_key,
            order_id,
            detail,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When another delivery of this result (same dedupe key and order), other than `id`, is scheduled to be
    /// checked again: `(its next check, when it was last checked)`. Such a delivery speaks for all of them.
    pub async fn scheduled_delivery(
        &self,
        id: i64,
        dedupe_key: &str,
        order_id: &str,
    ) -> Result<Option<(DateTime<Utc>, Option<DateTime<Utc>>)>, StoreError> {
        let row = sqlx::query!(
            r#"SELECT next_check_at AS "next_check_at!", processed_at FROM notifications
               WHERE dedupe_key = $1 AND order_id = $2 AND outcome = 'unconfirmed' AND next_check_at IS NOT NULL
                 AND id <> $3
               ORDER BY processed_at DESC NULLS LAST LIMIT 1"#,
            dedupe_key,
            order_id,
            id
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| (r.next_check_at, r.processed_at)))
    }

    /// Records that a result could not be confirmed yet. `next_check_at`: when the confirmation worker asks
    /// Smartro again (`None`: not again). `follow_token`: the buyer's page handle, kept from the first time.
    #[allow(clippy::too_many_arguments)]
    pub async fn mark_unconfirmed(
        &self,
        id: i64,
        detail: &str,
        labels: &MessageLabels,
        next_check_at: Option<DateTime<Utc>>,
        follow_token: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE notifications SET outcome = 'unconfirmed', detail = $2, mid = $3, tid = $4, order_id = $5,
               dedupe_key = $6, next_check_at = $7, follow_token = COALESCE(follow_token, $8),
               check_attempts = check_attempts + 1, processed_at = $9
             WHERE id = $1 AND outcome IN ('received', 'unconfirmed')",
            id,
            detail,
            labels.mid,
            labels.tid,
            labels.order_id,
            labels.dedupe_key,
            next_check_at,
            follow_token,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether this very result (dedupe key) was already applied to this order.
    pub async fn result_applied(
        &self,
        dedupe_key: &str,
        order_id: &str,
    ) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM applied_results WHERE dedupe_key = $1 AND order_id = $2) AS "found!""#,
            dedupe_key,
            order_id
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// The amount of the payment recorded for this TID and order, if any (payments are written only for
    /// confirmed results).
    pub async fn payment_amount(
        &self,
        tid: &str,
        order_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT amount FROM payments WHERE provider = $1 AND tid = $2 AND order_id = $3",
            PROVIDER,
            tid,
            order_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The order a TID is bound to, if any.
    pub async fn tid_owner(&self, tid: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar!(
            "SELECT order_id FROM tid_bindings WHERE provider = $1 AND tid = $2",
            PROVIDER,
            tid
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn order_exists(&self, order_id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM orders WHERE order_id = $1) AS "found!""#,
            order_id
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Takes up to `limit` unconfirmed results due for another check and pushes their next check to
    /// `lease_until`, so that no other replica asks about them meanwhile; a crashed replica's lease simply runs
    /// out and the result is due again.
    pub async fn lease_unconfirmed(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<UnconfirmedNotification>, StoreError> {
        let rows = sqlx::query!(
            "UPDATE notifications SET next_check_at = $2
             WHERE id IN (SELECT id FROM notifications WHERE next_check_at <= $1
                          ORDER BY next_check_at LIMIT $3 FOR UPDATE SKIP LOCKED)
             RETURNING id, source, body, received_at, check_attempts",
            now,
            lease_until,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
                Ok(UnconfirmedNotification {
                    id: r.id,
                    source: ResultSource::parse(&r.source).ok_or_else(|| {
                        StoreError::Corrupt(format!("notification source {:?}", r.source))
                    })?,
                    body: r.body,
                    received_at: r.received_at,
                    check_attempts: r.check_attempts,
                })
            })
            .collect()
    }

    /// The result a returnPay page follows.
    pub async fn follow_result(&self, token: &str) -> Result<Option<FollowedResult>, StoreError> {
        // Deliveries of one result share one scheduled check: any of them being checked counts.
        let row = sqlx::query!(
            r#"SELECT n.outcome, n.order_id,
                 EXISTS (SELECT 1 FROM notifications s WHERE s.next_check_at IS NOT NULL AND s.outcome = 'unconfirmed'
                           AND (s.id = n.id OR (s.dedupe_key = n.dedupe_key AND s.order_id = n.order_id)))
                   AS "checking!"
               FROM notifications n WHERE n.follow_token = $1"#,
            token
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(FollowedResult {
                outcome: NotificationOutcome::parse(&r.outcome).ok_or_else(|| {
                    StoreError::Corrupt(format!("notification outcome {:?}", r.outcome))
                })?,
                order_id: r.order_id,
                checking: r.checking,
            })
        })
        .transpose()
    }

    /// Deletes raw notifications older than the retention window; returns how many went.
    pub async fn purge_notifications(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query!(
            "DELETE FROM notifications n WHERE received_at < $1
             AND NOT EXISTS (SELECT 1 FROM applied_results a WHERE a.notification_id = n.id)",
            before
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Deletes bodies that were never applied and never will be, older than `before`: those that failed parsing
    /// or the signature check (anyone can send them), named no order, or were refuted. Refuted ones are evidence
    /// of a replay; the warn line and the metric outlive them.
    pub async fn purge_rejected(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query!(
            "DELETE FROM notifications WHERE received_at < $1
             AND outcome IN ('malformed', 'unknown_merchant', 'bad_signature', 'unknown_order', 'refuted')",
            before
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}

/// Sets a final outcome: the message is not checked again. A message already settled keeps its outcome (a slow
/// check, or one whose lease ran out, must not undo what another one decided).
pub(crate) async fn mark<'e, E>(
    executor: E,
    id: i64,
    outcome: NotificationOutcome,
    detail: Option<&str>,
    labels: &MessageLabels,
    confirmed_by: Option<ConfirmedBy>,
    now: DateTime<Utc>,
) -> Result<(), StoreError>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query!(
        "UPDATE notifications SET outcome = $2, detail = $3, mid = $4, tid = $5, order_id = $6, dedupe_key = $7,
           confirmed_by = $8, next_check_at = NULL, processed_at = $9
         WHERE id = $1 AND outcome IN ('received', 'unconfirmed')",
        id,
        outcome.as_str(),
        detail,
        labels.mid,
        labels.tid,
        labels.order_id,
        labels.dedupe_key,
        confirmed_by.map(ConfirmedBy::as_str),
        now
    )
    .execute(executor)
    .await?;
    Ok(())
}
