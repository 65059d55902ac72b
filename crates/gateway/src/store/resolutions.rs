//! An operator's resolution of an order under review: recorded with who and why, in the transaction that changes
//! the order (`accept`) or that records the cancel sent for it (`cancel`, before the provider is called).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::{OrderRecord, Store, StoreError};
use crate::domain::{
    self, CancelPlan, CancellationStatus, ResolutionOutcome, ResolveAction, ResolveRefusal,
};

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct ResolutionRow {
    pub id: Uuid,
    pub seq: i64,
    pub order_id: String,
    pub action: ResolveAction,
    pub reason: String,
    /// The payment that was under review.
    pub tid: String,
    /// The order's amount before the resolution (an `accept` of another amount changes it).
    pub former_amount: i64,
    /// The id of the API key that resolved it.
    pub resolved_by: String,
    pub outcome: ResolutionOutcome,
    /// The cancel a `cancel` resolution sent.
    pub cancellation_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

/// Who resolves, and why.
#[derive(Debug, Clone)]
pub struct Resolver<'a> {
    pub id: Uuid,
    pub reason: &'a str,
    pub resolved_by: &'a str,
}

pub enum AcceptReview {
    /// The order is the payment's now.
    Accepted(Box<OrderRecord>),
    Refused(ResolveRefusal),
    UnknownOrder,
}

pub enum BeginReviewCancel {
    /// Recorded as `requested`; now call the provider.
    Planned {
        plan: CancelPlan,
        mid: String,
    },
    Refused(ResolveRefusal),
    UnknownOrder,
}

impl Store {
    /// Accepts the payment under review as the order's, under the order's row lock; the order, its resolution and
    /// the `payment.resolved` event commit together.
    pub async fn accept_review(
        &self,
        order_id: &str,
        by: &Resolver<'_>,
        render: &Render<'_>,
        now: DateTime<Utc>,
    ) -> Result<AcceptReview, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, order_id, true).await? else {
            return Ok(AcceptReview::UnknownOrder);
        };
        let before = record.state()?;
        let accepted = match domain::accept_review(&before, &record.recorded_payments(), now) {
            Ok(accepted) => accepted,
            Err(refusal) => return Ok(AcceptReview::Refused(refusal)),
        };
        save_state(&mut tx, &accepted.decision.order, None, now).await?;
        sqlx::query!(
            "INSERT INTO resolutions (id, order_id, action, reason, tid, former_amount, resolved_by, outcome,
               created_at, completed_at)
             VALUES ($1, $2, 'accept', $3, $4, $5, $6, 'accepted', $7, $7)",
            by.id,
            order_id,
            by.reason,
            accepted.tid,
            accepted.former_amount,
            by.resolved_by,
            now
        )
        .execute(&mut *tx)
        .await?;
        insert_events(&mut tx, order_id, &accepted.decision.events(), render, now).await?;
        let record = load_record(&mut tx, order_id, false)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("order {order_id} vanished during a resolution"))
            })?;
        tx.commit().await?;
        Ok(AcceptReview::Accepted(Box::new(record)))
    }

    /// Decides under the order's row lock whether the payment under review may be cancelled, and records the
    /// cancellation (`requested`) and the resolution before anything is sent, so that no replica sends it twice.
    /// The provider's answer is then applied like any cancel's ([`Store::complete_cancel`]).
    pub async fn begin_review_cancel(
        &self,
        order_id: &str,
        by: &Resolver<'_>,
        cancellation_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<BeginReviewCancel, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, order_id, true).await? else {
            return Ok(BeginReviewCancel::UnknownOrder);
        };
        let before = record.state()?;
        let planned = match domain::plan_review_cancel(
            &before,
            &record.recorded_payments(),
            cancellation_id,
            now,
        ) {
            Ok(planned) => planned,
            Err(refusal) => return Ok(BeginReviewCancel::Refused(refusal)),
        };
        let plan = planned.plan;
        sqlx::query!(
            "INSERT INTO cancellations (id, order_id, tid, amount, partial, status, origin, reason, requested_at)
             VALUES ($1, $2, $3, $4, $5, 'requested', 'api', $6, $7)",
            plan.id,
            order_id,
            plan.tid,
            plan.amount,
            plan.partial,
            by.reason,
            now
        )
        .execute(&mut *tx)
        .await?;
        sqlx::query!(
            "INSERT INTO resolutions (id, order_id, action, reason, tid, former_amount, resolved_by, outcome,
               cancellation_id, created_at)
             VALUES ($1, $2, 'cancel', $3, $4, $5, $6, 'requested', $7, $8)",
            by.id,
            order_id,
            by.reason,
            plan.tid,
            before.amount,
            by.resolved_by,
            plan.id,
            now
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BeginReviewCancel::Planned {
            plan,
            mid: planned.mid,
        })
    }
}

/// Brings the outcome of the resolution that sent cancellation `id`, if one did, in line with the cancellation's
/// new status. Called wherever a cancellation's status changes, in that transaction.
pub(crate) async fn follow_cancellation(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    status: CancellationStatus,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let outcome = ResolutionOutcome::of_cancellation(status);
    let completed = matches!(
        outcome,
        ResolutionOutcome::Cancelled | ResolutionOutcome::Refused
    )
    .then_some(now);
    sqlx::query!(
        "UPDATE resolutions SET outcome = $2, completed_at = COALESCE(completed_at, $3)
         WHERE cancellation_id = $1",
        id,
        outcome.as_str(),
        completed
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
