//! Results that could not be confirmed when they arrived (the receipt API was down, slow, or had no record yet)
//! are asked about again with backoff, for as long as Smartro itself keeps re-sending (24 hours).

use chrono::Duration as ChronoDuration;

use crate::http::AppState;
use crate::service::confirmation::confirm_with_smartro;
use crate::service::results::{conclude, verify, Received};
use crate::store::notifications::UnconfirmedNotification;
use crate::store::StoreError;

/// Results looked at per pass.
const BATCH: usize = 20;

/// Checks the unconfirmed results that are due, one lease at a time (each check may wait on Smartro); returns
/// how many were settled (applied or refuted).
pub async fn confirm_once(state: &AppState) -> Result<usize, StoreError> {
    // Long enough that a check still in flight (a receipt lookup or two, each bounded by the Smartro timeout) is
    // never taken for dead by another replica.
    let lease = ChronoDuration::seconds(
        i64::try_from(state.settings.smartro.timeout_secs).unwrap_or(15) * 2 + 30,
    );
    let mut settled = 0;
    for _ in 0..BATCH {
        let now = state.clock.now();
        let Some(due) = state
            .store
            .lease_unconfirmed(now, now + lease, 1)
            .await?
            .pop()
        else {
            break;
        };
        if check(state, &due).await? {
            settled += 1;
        }
    }
    Ok(settled)
}

async fn check(state: &AppState, n: &UnconfirmedNotification) -> Result<bool, StoreError> {
    let now = state.clock.now();
    let result = match verify(state, n.source, &n.body) {
        Ok(result) => result,
        Err(refusal) => {
            // It verified when it arrived: the merchant's configuration has changed since.
            state
                .store
                .finish_notification(n.id, refusal.outcome, &refusal.detail, &refusal.labels, now)
                .await?;
            return Ok(false);
        }
    };
    let confirmation = confirm_with_smartro(state, &result).await?;
    let received = conclude(
        state,
        n.id,
        &result,
        confirmation,
        n.check_attempts,
        n.received_at,
        now,
    )
    .await?;
    state
        .metrics
        .observe_notification(n.source.as_str(), received.metric_outcome());
    Ok(match received {
        Received::Applied { order_id, status } => {
            tracing::info!(notification = n.id, %order_id, status = status.as_str(), "confirmed late and applied");
            true
        }
        Received::Duplicate { .. } => true,
        Received::Refuted { detail } => {
            tracing::warn!(notification = n.id, %detail, "result refuted: nothing changed");
            true
        }
        Received::Unconfirmed {
            checking: false,
            order_id,
            ..
        } => {
            tracing::warn!(
                notification = n.id, %order_id,
                "result still unconfirmed after the confirmation window: left for a person"
            );
            false
        }
        _ => false,
    })
}
