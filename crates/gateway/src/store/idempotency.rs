use chrono::{DateTime, Utc};

use super::{Store, StoreError};

/// What the first request with an Idempotency-Key left behind.
#[derive(Debug, Clone, PartialEq)]
pub enum IdempotencyStart {
    /// First use of the key: go ahead, then call [`Store::finish_idempotent`] (or [`Store::abandon_idempotent`]).
    Fresh,
    /// The same key and body were answered before: send that answer again.
    Replay {
        status: u16,
        body: serde_json::Value,
    },
    /// The same key came with another body.
    Mismatch,
    /// The first request with this key has not finished yet.
    InProgress,
}

/// Identifies one keyed request: who sent it, for which operation, under which key.
#[derive(Debug, Clone)]
pub struct IdempotencyScope<'a> {
    pub api_key_id: &'a str,
    pub scope: &'a str,
    pub key: &'a str,
}

impl Store {
    pub async fn begin_idempotent(
        &self,
        at: &IdempotencyScope<'_>,
        request_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyStart, StoreError> {
        let inserted = sqlx::query!(
            "INSERT INTO idempotency_keys (api_key_id, scope, idempotency_key, request_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            at.api_key_id,
            at.scope,
            at.key,
            request_hash,
            now
        )
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(IdempotencyStart::Fresh);
        }
        let Some(row) = sqlx::query!(
            "SELECT request_hash, response_status, response_body FROM idempotency_keys
             WHERE api_key_id = $1 AND scope = $2 AND idempotency_key = $3",
            at.api_key_id,
            at.scope,
            at.key
        )
        .fetch_optional(&self.pool)
        .await?
        else {
            // Abandoned between our insert and select: the caller may simply try again.
            return Ok(IdempotencyStart::InProgress);
        };
        if row.request_hash != request_hash {
            return Ok(IdempotencyStart::Mismatch);
        }
        Ok(match (row.response_status, row.response_body) {
            (Some(status), Some(body)) => IdempotencyStart::Replay {
                status: u16::try_from(status)
                    .map_err(|_| StoreError::Corrupt(format!("stored status {status}")))?,
                body,
            },
            _ => IdempotencyStart::InProgress,
        })
    }

    pub async fn finish_idempotent(
        &self,
        at: &IdempotencyScope<'_>,
        status: u16,
        body: &serde_json::Value,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE idempotency_keys SET response_status = $4, response_body = $5
             WHERE api_key_id = $1 AND scope = $2 AND idempotency_key = $3",
            at.api_key_id,
            at.scope,
            at.key,
            i32::from(status),
            body
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets a key whose request failed before doing anything, so that a retry can run it.
    pub async fn abandon_idempotent(&self, at: &IdempotencyScope<'_>) -> Result<(), StoreError> {
        sqlx::query!(
            "DELETE FROM idempotency_keys
             WHERE api_key_id = $1 AND scope = $2 AND idempotency_key = $3 AND response_status IS NULL",
            at.api_key_id,
            at.scope,
            at.key
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
