//! The flows background workers run: expiring orders, settling cancels whose answer never came, and deleting
//! old raw messages.

use chrono::Duration as ChronoDuration;

use super::Services;
use crate::domain::{settle_open_cancel, CancelAnswer, CancelReply};
use crate::providers::Provider;
use crate::store::cancellations::OpenCancellation;
use crate::store::StoreError;

/// Orders expired per pass; the rest follow on the next pass.
const EXPIRY_BATCH: i64 = 100;
/// Cancellations looked at per reconciliation pass.
const RECONCILE_BATCH: i64 = 20;

impl Services {
    /// Expires pending orders past `orders.ttl_minutes` and virtual accounts past their deposit date.
    #[tracing::instrument(name = "expire", skip_all)]
    pub async fn expire_due(&self) -> Result<usize, StoreError> {
        let render = self.render();
        let expired = self
            .store
            .expire_due(self.clock.now(), EXPIRY_BATCH, &render)
            .await?;
        for order_id in &expired {
            tracing::info!(%order_id, "order expired");
        }
        Ok(expired.len())
    }

    /// Deletes raw notifications older than `workers.notification_retention_days` (never those that were
    /// applied: they are the evidence behind a payment).
    pub async fn purge_notifications(&self) -> Result<u64, StoreError> {
        let Some(days) = self.settings.workers.notification_retention_days else {
            return Ok(0);
        };
        let before = self.clock.now() - ChronoDuration::days(i64::from(days));
        self.store.purge_notifications(before).await
    }

    /// Deletes raw bodies that were never applied and never will be after `workers.rejected_retention_days`:
    /// anyone on the internet can send those, and keeping them forever would let anyone fill the disk.
    pub async fn purge_rejected(&self) -> Result<u64, StoreError> {
        let days = self.settings.workers.rejected_retention_days;
        let before = self.clock.now() - ChronoDuration::days(i64::from(days));
        self.store.purge_rejected(before).await
    }

    /// Looks at open cancellations older than a grace period (the provider's own notification usually settles
    /// them first); returns how many were settled.
    pub async fn reconcile_cancels(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        // Long enough that a call still in flight (bounded by the Smartro timeout) is never taken for dead.
        let grace = ChronoDuration::seconds(
            i64::try_from(self.settings.smartro.timeout_secs).unwrap_or(15) * 2 + 30,
        );
        let open = self
            .store
            .open_cancellations(now - grace, RECONCILE_BATCH)
            .await?;
        let mut settled = 0;
        for c in open {
            if self.reconcile(&c).await? {
                settled += 1;
            }
        }
        Ok(settled)
    }

    #[tracing::instrument(name = "reconcile", skip_all, fields(order_id = %c.order_id, cancellation = %c.id))]
    async fn reconcile(&self, c: &OpenCancellation) -> Result<bool, StoreError> {
        let provider_cancelled = match self.weblink.cancelled_so_far(&c.mid, &c.tid).await {
            Ok(Some(amount)) => amount,
            Ok(None) => {
                tracing::warn!("reconcile: receipt state not understood");
                return Ok(false);
            }
            Err(e) => {
                tracing::info!(outcome = ?e, "reconcile: receipt not available yet");
                return Ok(false);
            }
        };
        let Some(record) = self.store.get_order(&c.order_id).await? else {
            return Ok(false);
        };
        // What the order counts as cancelled of this payment. A cancel of a payment under review (an operator's
        // resolution) is of a payment whose money the order never counted, and nothing else of it was cancelled
        // through the gateway.
        let counted = if record.order.tid.as_deref() == Some(c.tid.as_str()) {
            record.order.cancelled_amount
        } else {
            0
        };
        let Some(answer) = settle_open_cancel(provider_cancelled, counted, c.amount) else {
            tracing::warn!(
                provider_cancelled, counted, amount = c.amount,
                "reconcile: Smartro's cancelled amount matches neither outcome; left open for review"
            );
            return Ok(false);
        };
        let reply = CancelReply {
            result_code: None,
            result_message: Some(match answer {
                CancelAnswer::Succeeded { .. } => "reconciled: cancelled at Smartro".to_string(),
                _ => "reconciled: not cancelled at Smartro".to_string(),
            }),
            cancel_num: None,
        };
        let render = self.render();
        self.store
            .complete_cancel(
                &c.order_id,
                c.id,
                &answer,
                &reply,
                &render,
                self.clock.now(),
            )
            .await?;
        tracing::info!(outcome = ?answer, "cancellation reconciled");
        Ok(true)
    }
}
