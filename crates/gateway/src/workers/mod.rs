//! Background work, safe with any number of replicas: webhook delivery from the outbox, order expiry,
//! confirmation of results that arrived unconfirmed, reconciliation of cancels whose outcome is unknown, and
//! retention of raw notifications.
//!
//! Every worker exposes `run_once` (what tests call, with a clock they control) and is looped by [`Workers`].

pub mod confirm;
pub mod delivery;
pub mod reconcile;

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::http::AppState;
pub use delivery::WebhookDelivery;
pub use reconcile::Reconciler;

/// Orders expired per pass; the rest follow on the next pass.
const EXPIRY_BATCH: i64 = 100;

/// Expires pending orders past `orders.ttl_minutes` and virtual accounts past their deposit date.
pub async fn expire_once(state: &AppState) -> Result<usize, crate::store::StoreError> {
    let expired = state
        .store
        .expire_due(state.clock.now(), EXPIRY_BATCH)
        .await?;
    for order_id in &expired {
        tracing::info!(%order_id, "order expired");
    }
    Ok(expired.len())
}

/// Deletes raw notifications older than `workers.notification_retention_days` (never those that were applied:
/// they are the evidence behind a payment).
pub async fn purge_once(state: &AppState) -> Result<u64, crate::store::StoreError> {
    let Some(days) = state.settings.workers.notification_retention_days else {
        return Ok(0);
    };
    let before = state.clock.now() - ChronoDuration::days(i64::from(days));
    state.store.purge_notifications(before).await
}

/// Deletes raw bodies that failed parsing or the signature check after `workers.rejected_retention_days`:
/// anyone on the internet can send those, and keeping them forever would let anyone fill the disk.
pub async fn purge_rejected_once(state: &AppState) -> Result<u64, crate::store::StoreError> {
    let days = state.settings.workers.rejected_retention_days;
    let before = state.clock.now() - ChronoDuration::days(i64::from(days));
    state.store.purge_rejected(before).await
}

/// The running background workers of this process.
pub struct Workers {
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn spawn(state: &AppState) -> anyhow::Result<Workers> {
        let (shutdown, stop) = watch::channel(false);
        let poll = Duration::from_millis(state.settings.workers.poll_interval_ms.max(10));
        let mut handles = Vec::new();

        if let Some(delivery) = WebhookDelivery::from_settings(state)? {
            let stop = stop.clone();
            handles.push(tokio::spawn(async move {
                run_loop("webhook delivery", poll, stop, || delivery.run_once()).await;
                match delivery.release().await {
                    Ok(n) if n > 0 => tracing::info!(released = n, "webhook leases released"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not release webhook leases"),
                }
            }));
        } else {
            tracing::info!("webhooks not configured: events stay in the outbox (GET /v1/events)");
        }

        let expiry_state = state.clone();
        handles.push(tokio::spawn(run_loop(
            "order expiry",
            poll,
            stop.clone(),
            move || {
                let state = expiry_state.clone();
                async move { expire_once(&state).await }
            },
        )));

        let confirm_state = state.clone();
        handles.push(tokio::spawn(run_loop(
            "result confirmation",
            poll,
            stop.clone(),
            move || {
                let state = confirm_state.clone();
                async move { confirm::confirm_once(&state).await }
            },
        )));

        let reconciler = Reconciler::new(state.clone());
        handles.push(tokio::spawn(async move {
            run_loop("cancel reconciliation", poll * 5, stop.clone(), || {
                reconciler.run_once()
            })
            .await;
        }));

        let retention_state = state.clone();
        let stop_retention = shutdown.subscribe();
        handles.push(tokio::spawn(run_loop(
            "notification retention",
            Duration::from_secs(3600),
            stop_retention,
            move || {
                let state = retention_state.clone();
                async move {
                    let rejected = purge_rejected_once(&state).await?;
                    if rejected > 0 {
                        tracing::info!(deleted = rejected, "rejected raw notifications purged");
                    }
                    purge_once(&state).await
                }
            },
        )));
        Ok(Workers { shutdown, handles })
    }

    /// Stops the loops after their current pass; delivery gives its leases back.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for handle in self.handles {
            let _ = handle.await;
        }
    }
}

async fn run_loop<F, Fut, T, E>(
    name: &'static str,
    every: Duration,
    mut stop: watch::Receiver<bool>,
    mut pass: F,
) where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    loop {
        if *stop.borrow() {
            break;
        }
        if let Err(e) = pass().await {
            // The database may be down: the next pass tries again; nothing is lost, the work stays queued.
            tracing::warn!(worker = name, error = %e, "worker pass failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            changed = stop.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
    }
    tracing::debug!(worker = name, "worker stopped");
}
