use chrono::{DateTime, Utc};

use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::{Store, StoreError};
use crate::domain;

impl Store {
    /// Expires up to `limit` orders whose time has come; returns their ids. Rows another replica is working on
    /// are skipped, not waited for.
    pub async fn expire_due(
        &self,
        now: DateTime<Utc>,
        limit: i64,
        render: &Render<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let due = sqlx::query_scalar!(
            "SELECT order_id FROM orders
             WHERE status IN ('pending', 'awaiting_deposit') AND expires_at <= $1
             ORDER BY expires_at LIMIT $2
             FOR UPDATE SKIP LOCKED",
            now,
            limit
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut expired = Vec::new();
        for order_id in due {
            let Some(record) = load_record(&mut tx, &order_id, true).await? else {
                continue;
            };
            let Some(decision) = domain::expire(&record.state()?, now) else {
                continue;
            };
            save_state(&mut tx, &decision.order, None, now).await?;
            insert_events(&mut tx, &order_id, &decision.events(), render, now).await?;
            expired.push(order_id);
        }
        tx.commit().await?;
        Ok(expired)
    }
}
