//! Idempotency-Key: a request repeated with the same key and body gets the first answer again, from PostgreSQL,
//! whichever replica it reaches; the same key with another body is refused.

use std::future::Future;

use http::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::problem::ApiError;
use super::Services;
use crate::store::idempotency::{IdempotencyScope, IdempotencyStart};

/// Who asked, for what, under which key (`None`: no key, run as is), with which body.
pub struct Keyed<'a> {
    pub api_key_id: &'a str,
    pub key: Option<&'a str>,
    pub scope: &'a str,
    pub body: &'a [u8],
}

/// An answer to send, and whether it is the replay of an earlier one.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
    pub replayed: bool,
}

impl Services {
    /// Runs `run` at most once per Idempotency-Key.
    pub async fn once<F, Fut>(&self, keyed: Keyed<'_>, run: F) -> Result<Answer, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(StatusCode, Value), ApiError>>,
    {
        let Some(key) = keyed.key else {
            let (status, body) = run().await?;
            return Ok(Answer {
                status,
                body,
                replayed: false,
            });
        };
        let at = IdempotencyScope {
            api_key_id: keyed.api_key_id,
            scope: keyed.scope,
            key,
        };
        let hash = request_hash(keyed.body);
        match self
            .store
            .begin_idempotent(&at, &hash, self.clock.now())
            .await?
        {
            IdempotencyStart::Fresh => {}
            IdempotencyStart::Replay { status, body } => {
                return Ok(Answer {
                    status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                    body,
                    replayed: true,
                })
            }
            IdempotencyStart::Mismatch => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "idempotency_key_reused",
                    "Idempotency-Key reused",
                    "this Idempotency-Key was used with a different request body",
                ))
            }
            IdempotencyStart::InProgress => {
                return Err(ApiError::conflict(
                    "idempotency_in_progress",
                    "a request with this Idempotency-Key is still in progress; retry later",
                ))
            }
        }
        match run().await {
            Ok((status, body)) => {
                self.store
                    .finish_idempotent(&at, status.as_u16(), &body)
                    .await?;
                Ok(Answer {
                    status,
                    body,
                    replayed: false,
                })
            }
            // Nothing was decided: a retry with the same key runs afresh instead of replaying this answer.
            Err(e) if nothing_decided(&e) => {
                if let Err(abandon) = self.store.abandon_idempotent(&at).await {
                    tracing::warn!(error = %abandon, "could not release an idempotency key");
                }
                Err(e)
            }
            Err(e) => {
                self.store
                    .finish_idempotent(&at, e.status.as_u16(), &e.body())
                    .await?;
                Err(e)
            }
        }
    }
}

/// What identifies a keyed request's body: the same key with another body is refused.
pub fn request_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// Answers that record nothing and only say "not now", so that a retry with the same Idempotency-Key must run
/// again rather than get them replayed for good:
/// - 500 and 503: the database or the gateway failed, or (503 `terminal_disconnected`) the terminal was not
///   connected and nothing was sent;
/// - `cancel_in_progress`: another cancel of the order was still on its way to the provider;
/// - `terminal_busy` (409): the terminal had another transaction open and nothing was written. A POS retries the
///   same sale with the same key once the terminal is free; kept under the key, the 409 would be replayed forever
///   and the sale could never be made with it.
fn nothing_decided(e: &ApiError) -> bool {
    matches!(
        e.status,
        StatusCode::INTERNAL_SERVER_ERROR | StatusCode::SERVICE_UNAVAILABLE
    ) || matches!(e.code, "cancel_in_progress" | "terminal_busy")
}
