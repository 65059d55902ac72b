use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::orders::load_record;
use super::{OrderRecord, StoreError};
use crate::domain::EventType;

/// How the caller wants the order shown in the events written with a state change: the store writes what it is
/// handed and knows nothing of the public representation.
pub type Render<'a> = dyn Fn(&OrderRecord) -> serde_json::Value + Sync + 'a;

/// Writes the webhook events of a state change, in the transaction of that change, with the order as it now is.
pub(crate) async fn insert_events(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    events: &[EventType],
    render: &Render<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let record = load_record(tx, order_id, false).await?.ok_or_else(|| {
        StoreError::Corrupt(format!("order {order_id} vanished inside its transaction"))
    })?;
    let order = render(&record);
    for event in events {
        // Time-ordered (UUIDv7): new events go to the right edge of the primary key, not to random pages of it, so
        // the cost of writing one stays the same however many events are kept.
        let id = format!("evt_{}", Uuid::now_v7().simple());
        let payload = serde_json::json!({
            "id": id,
            "type": event.as_str(),
            "created_at": now,
            "data": { "order": order },
        });
        sqlx::query!(
            "INSERT INTO outbox_events (id, order_id, event_type, payload, created_at, next_attempt_at,
               window_started_at)
             VALUES ($1, $2, $3, $4, $5, $5, $5)",
            id,
            order_id,
            event.as_str(),
            payload,
            now
        )
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
