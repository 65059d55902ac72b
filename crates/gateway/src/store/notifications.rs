use chrono::{DateTime, Utc};

use super::{Store, StoreError};
use crate::domain::ResultSource;

/// How the gateway dealt with one inbound Smartro message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotificationOutcome {
    Applied,
    Duplicate,
    Malformed,
    UnknownMerchant,
    BadSignature,
    UnknownOrder,
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
        }
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

/// What identifies the message once parsed (kept for audit and search).
#[derive(Debug, Default, Clone)]
pub struct NotificationLabels {
    pub mid: Option<String>,
    pub tid: Option<String>,
    pub order_id: Option<String>,
    pub dedupe_key: Option<String>,
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

    /// Records why a message was not applied.
    pub async fn reject_notification(
        &self,
        id: i64,
        outcome: NotificationOutcome,
        detail: &str,
        labels: &NotificationLabels,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        mark(&self.pool, id, outcome, Some(detail), labels, now).await
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
}

pub(crate) async fn mark<'e, E>(
    executor: E,
    id: i64,
    outcome: NotificationOutcome,
    detail: Option<&str>,
    labels: &NotificationLabels,
    now: DateTime<Utc>,
) -> Result<(), StoreError>
where
    E: sqlx::PgExecutor<'e>,
{
    sqlx::query!(
        "UPDATE notifications SET outcome = $2, detail = $3, mid = $4, tid = $5, order_id = $6, dedupe_key = $7,
           processed_at = $8 WHERE id = $1",
        id,
        outcome.as_str(),
        detail,
        labels.mid,
        labels.tid,
        labels.order_id,
        labels.dedupe_key,
        now
    )
    .execute(executor)
    .await?;
    Ok(())
}
