//! The webhook events of the outbox, for operators: what was sent, and sending one again.

use super::problem::ApiError;
use super::Services;
use crate::domain::EventType;
use crate::store::delivery::EventRow;

impl Services {
    /// Events newest first, one more than `limit` when another page follows.
    pub async fn list_events(
        &self,
        order_id: Option<&str>,
        event_type: Option<EventType>,
        limit: i64,
        before_seq: Option<i64>,
    ) -> Result<Vec<EventRow>, ApiError> {
        Ok(self
            .store
            .list_events(
                order_id,
                event_type.map(EventType::as_str),
                limit,
                before_seq,
            )
            .await?)
    }

    /// Puts an event back in the delivery queue, with a fresh retry window.
    pub async fn redeliver(&self, id: &str) -> Result<EventRow, ApiError> {
        if self.settings.webhooks.url.is_none() {
            return Err(ApiError::conflict(
                "webhooks_not_configured",
                "no [webhooks] url is configured, so there is nowhere to deliver to",
            ));
        }
        self.store
            .redeliver(id, self.clock.now())
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no event {id}")))
    }
}
