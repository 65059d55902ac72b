//! Background work, safe with any number of replicas: webhook delivery from the outbox, order expiry,
//! confirmation of results that arrived unconfirmed, reconciliation of cancels whose outcome is unknown,
//! retention of raw notifications, and planner statistics for young tables. The flows are the service layer's;
//! this module only loops them.
//!
//! Every worker exposes a single pass (what tests call, with a clock they control), looped by [`Workers`].

pub mod delivery;

use std::time::Duration;

use chrono::Duration as ChronoDuration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::service::Services;
use crate::store::StoreError;
pub use delivery::WebhookDelivery;

/// Results looked at per confirmation pass.
const CONFIRM_BATCH: usize = 20;

/// Expires pending orders past `orders.ttl_minutes` and virtual accounts past their deposit date.
pub async fn expire_once(services: &Services) -> Result<usize, StoreError> {
    services.expire_due().await
}

/// Deletes raw notifications past `workers.notification_retention_days`.
pub async fn purge_once(services: &Services) -> Result<u64, StoreError> {
    services.purge_notifications().await
}

/// Deletes rejected raw bodies past `workers.rejected_retention_days`.
pub async fn purge_rejected_once(services: &Services) -> Result<u64, StoreError> {
    services.purge_rejected().await
}

/// Settles open cancellations from the provider's records; returns how many were settled.
pub async fn reconcile_once(services: &Services) -> Result<usize, StoreError> {
    services.reconcile_cancels().await
}

/// Analyzes the young tables that have doubled since their statistics were taken (see [`crate::store::statistics`]);
/// returns their names.
pub async fn analyze_once(services: &Services) -> Result<Vec<String>, StoreError> {
    let analyzed = services.store.analyze_young_tables().await?;
    if !analyzed.is_empty() {
        tracing::info!(tables = %analyzed.join(", "), "statistics of young tables refreshed");
    }
    Ok(analyzed)
}

/// Asks the provider again about the unconfirmed results that are due, one lease at a time (each check may wait
/// on the provider); returns how many were settled (applied or refuted).
pub async fn confirm_once(services: &Services) -> Result<usize, StoreError> {
    // Long enough that a check still in flight (a receipt lookup or two, each bounded by the Smartro timeout) is
    // never taken for dead by another replica.
    let lease = ChronoDuration::seconds(
        i64::try_from(services.settings.smartro.timeout_secs).unwrap_or(15) * 2 + 30,
    );
    let mut settled = 0;
    for _ in 0..CONFIRM_BATCH {
        let now = services.clock.now();
        let Some(due) = services
            .store
            .lease_unconfirmed(now, now + lease, 1)
            .await?
            .pop()
        else {
            break;
        };
        if services.recheck(&due).await? {
            settled += 1;
        }
    }
    Ok(settled)
}

/// The running background workers of this process.
pub struct Workers {
    shutdown: watch::Sender<bool>,
    handles: Vec<JoinHandle<()>>,
}

impl Workers {
    pub fn spawn(services: &Services) -> anyhow::Result<Workers> {
        let (shutdown, stop) = watch::channel(false);
        let poll = Duration::from_millis(services.settings.workers.poll_interval_ms.max(10));
        let mut handles = Vec::new();

        if let Some(delivery) = WebhookDelivery::from_settings(services)? {
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

        let spawn = |name: &'static str, every: Duration, pass: fn(Services) -> Pass| {
            let services = services.clone();
            tokio::spawn(run_loop(name, every, stop.clone(), move || {
                pass(services.clone())
            }))
        };
        handles.push(spawn("order expiry", poll, |s| {
            Box::pin(async move { expire_once(&s).await.map(|_| ()) })
        }));
        handles.push(spawn("result confirmation", poll, |s| {
            Box::pin(async move { confirm_once(&s).await.map(|_| ()) })
        }));
        handles.push(spawn("cancel reconciliation", poll * 5, |s| {
            Box::pin(async move { reconcile_once(&s).await.map(|_| ()) })
        }));
        // Every second: a burst on a new installation doubles a young table within seconds.
        handles.push(spawn(
            "young table statistics",
            Duration::from_secs(1),
            |s| Box::pin(async move { analyze_once(&s).await.map(|_| ()) }),
        ));
        handles.push(spawn(
            "notification retention",
            Duration::from_secs(3600),
            |s| {
                Box::pin(async move {
                    let rejected = purge_rejected_once(&s).await?;
                    if rejected > 0 {
                        tracing::info!(deleted = rejected, "rejected raw notifications purged");
                    }
                    purge_once(&s).await.map(|_| ())
                })
            },
        ));
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

/// One pass of a worker.
type Pass = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), StoreError>> + Send>>;

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
