//! The outbox as a work queue: events are leased with `FOR UPDATE SKIP LOCKED` and a visibility timeout, so that
//! any number of replicas deliver each event one at a time, and a crashed replica's lease runs out.

use chrono::{DateTime, Duration, Utc};

use super::{Store, StoreError};

/// An event leased for delivery.
#[derive(Debug, Clone)]
pub struct LeasedEvent {
    pub id: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub window_started_at: DateTime<Utc>,
}

/// How one delivery attempt went.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub status_code: Option<u16>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// What becomes of the event after an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(DateTime<Utc>),
    /// The retry window is over.
    GiveUp,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct EventRow {
    pub id: String,
    pub order_id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: DateTime<Utc>,
    pub delivery_status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub seq: i64,
    pub payload: serde_json::Value,
}

impl Store {
    /// Leases up to `limit` due events for `worker` until `now + visibility`.
    pub async fn lease_events(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        visibility: Duration,
        limit: i64,
    ) -> Result<Vec<LeasedEvent>, StoreError> {
        let rows = sqlx::query!(
            "UPDATE outbox_events SET leased_until = $2, leased_by = $3
             WHERE id IN (
               SELECT id FROM outbox_events
               WHERE delivery_status = 'pending' AND next_attempt_at <= $1
                 AND (leased_until IS NULL OR leased_until <= $1)
               ORDER BY seq
               LIMIT $4
               FOR UPDATE SKIP LOCKED)
             RETURNING id, payload, attempts, window_started_at",
            now,
            now + visibility,
            worker,
            limit
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| LeasedEvent {
                id: r.id,
                payload: r.payload,
                attempts: r.attempts,
                window_started_at: r.window_started_at,
            })
            .collect())
    }

    /// Records an attempt and its consequence; a lease that was lost meanwhile (another replica took over after
    /// the visibility timeout) changes nothing but the attempt log.
    pub async fn finish_attempt(
        &self,
        worker: &str,
        event_id: &str,
        attempt: &Attempt,
        after: AfterAttempt,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "INSERT INTO webhook_attempts (event_id, attempted_at, status_code, latency_ms, error, worker)
             VALUES ($1, $2, $3, $4, $5, $6)",
            event_id,
            now,
            attempt.status_code.map(i32::from),
            attempt.latency_ms,
            attempt.error,
            worker
        )
        .execute(&mut *tx)
        .await?;
        let (status, next, delivered_at) = match after {
            AfterAttempt::Delivered => ("delivered", now, Some(now)),
            AfterAttempt::RetryAt(at) => ("pending", at, None),
            AfterAttempt::GiveUp => ("failed", now, None),
        };
        let last_error = match (&attempt.error, attempt.status_code) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(code)) if !(200..300).contains(&code) => Some(format!("HTTP {code}")),
            _ => None,
        };
        let updated = sqlx::query!(
            "UPDATE outbox_events SET delivery_status = $3, next_attempt_at = $4, delivered_at = $5,
               attempts = attempts + 1, last_error = $6, leased_until = NULL, leased_by = NULL
             WHERE id = $1 AND leased_by = $2",
            event_id,
            worker,
            status,
            next,
            delivered_at,
            last_error
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Gives leases back (on shutdown), so that another replica may deliver at once.
    pub async fn release_leases(&self, worker: &str) -> Result<u64, StoreError> {
        let done = sqlx::query!(
            "UPDATE outbox_events SET leased_until = NULL, leased_by = NULL WHERE leased_by = $1",
            worker
        )
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Events newest first, optionally for one order and/or of one type.
    pub async fn list_events(
        &self,
        order_id: Option<&str>,
        event_type: Option<&str>,
        limit: i64,
        before_seq: Option<i64>,
    ) -> Result<Vec<EventRow>, StoreError> {
        Ok(sqlx::query_as!(
            EventRow,
            "SELECT id, order_id, event_type, created_at, delivery_status, attempts, next_attempt_at, delivered_at,
               last_error, seq, payload
             FROM outbox_events
             WHERE ($1::text IS NULL OR order_id = $1) AND ($2::text IS NULL OR event_type = $2)
               AND ($3::bigint IS NULL OR seq < $3)
             ORDER BY seq DESC LIMIT $4",
            order_id,
            event_type,
            before_seq,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Queues an event for delivery again, now, with a fresh retry window. `None`: no such event. A lease being
    /// worked on is left alone, so the event is never delivered by two replicas at once.
    pub async fn redeliver(
        &self,
        id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<EventRow>, StoreError> {
        Ok(sqlx::query_as!(
            EventRow,
            "UPDATE outbox_events SET delivery_status = 'pending', next_attempt_at = $2, window_started_at = $2
             WHERE id = $1
             RETURNING id, order_id, event_type, created_at, delivery_status, attempts, next_attempt_at,
               delivered_at, last_error, seq, payload",
            id,
            now
        )
        .fetch_optional(&self.pool)
        .await?)
    }
}
