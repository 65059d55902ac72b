use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::resolutions::follow_cancellation;
use super::results::bind_tid;
use super::{OrderRecord, Store, StoreError};
use sqlx::types::Json;

use crate::domain::{self, CancelAnswer, CancelPlan, CancelRefusal, CancelReply, SplitShare};

pub enum BeginCancel {
    /// Recorded as `requested`; now call the provider.
    Planned {
        plan: CancelPlan,
        mid: String,
    },
    Refused(CancelRefusal),
    UnknownOrder,
}

impl Store {
    /// Decides under the order's row lock whether the cancel may be sent, and records it before anything is sent,
    /// so that no replica can send a second one while its outcome is open.
    pub async fn begin_cancel(
        &self,
        order_id: &str,
        amount: Option<i64>,
        split: Option<&[SplitShare]>,
        reason: &str,
        id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<BeginCancel, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, order_id, true).await? else {
            return Ok(BeginCancel::UnknownOrder);
        };
        let state = record.state()?;
        let plan = match domain::plan_cancel(&state, amount, split, id, now) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(BeginCancel::Refused(refusal)),
        };
        sqlx::query!(
            "INSERT INTO cancellations (id, order_id, tid, amount, partial, status, origin, reason, requested_at,
               split)
             VALUES ($1, $2, $3, $4, $5, 'requested', 'api', $6, $7, $8)",
            plan.id,
            order_id,
            plan.tid,
            plan.amount,
            plan.partial,
            reason,
            now,
            (!plan.split.is_empty()).then(|| Json(&plan.split)) as _
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(BeginCancel::Planned {
            plan,
            mid: record.order.mid,
        })
    }

    /// Applies the provider's answer (or its silence) to a requested cancellation.
    pub async fn complete_cancel(
        &self,
        order_id: &str,
        id: Uuid,
        answer: &CancelAnswer,
        reply: &CancelReply,
        render: &Render<'_>,
        now: DateTime<Utc>,
    ) -> Result<OrderRecord, StoreError> {
        let ptid = match answer {
            CancelAnswer::Succeeded { ptid, .. } => ptid.as_deref(),
            _ => None,
        };
        let mut tx = self.pool.begin().await?;
        let record = load_record(&mut tx, order_id, true).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("order {order_id} vanished during a cancel"))
        })?;
        let before = record.state()?;
        let decision = domain::complete_cancel(&before, id, answer);
        save_state(&mut tx, &decision.order, None, now).await?;
        if let Some(c) = decision.order.cancellations.iter().find(|c| c.id == id) {
            let completed = (c.status != domain::CancellationStatus::Unknown).then_some(now);
            sqlx::query!(
                "UPDATE cancellations SET status = $2, result_code = COALESCE($3, result_code),
                   result_message = COALESCE($4, result_message), cancel_num = COALESCE($5, cancel_num),
                   ptid = COALESCE(ptid, $6), completed_at = COALESCE(completed_at, $7), amount = $8
                 WHERE id = $1",
                id,
                c.status.as_str(),
                reply.result_code,
                reply.result_message,
                reply.cancel_num,
                ptid,
                completed,
                c.amount
            )
            .execute(&mut *tx)
            .await?;
            follow_cancellation(&mut tx, id, c.status, now).await?;
        }
        if let Some(ptid) = ptid {
            // Smartro's answer to our own cancel names the PTID: it is this order's from now on, so that a
            // notification carrying it can never be replayed onto another order.
            if let Some(owner) = bind_tid(&mut tx, ptid, order_id, now).await? {
                tracing::warn!(%order_id, %ptid, %owner, "cancel answer names a PTID bound to another order");
            }
        }
        insert_events(&mut tx, order_id, &decision.events(), render, now).await?;
        let record = load_record(&mut tx, order_id, false)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!("order {order_id} vanished during a cancel"))
            })?;
        tx.commit().await?;
        Ok(record)
    }
}

/// A cancellation whose outcome is still open.
#[derive(Debug, Clone)]
pub struct OpenCancellation {
    pub id: uuid::Uuid,
    pub order_id: String,
    pub mid: String,
    pub tid: String,
    pub amount: i64,
    pub requested_at: DateTime<Utc>,
}

impl Store {
    /// WEBLink cancellations still `unknown`, or `requested` by a process that died before recording the answer,
    /// asked before `before`. A terminal's cancellations are settled by the terminal's own record (990001).
    pub async fn open_cancellations(
        &self,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OpenCancellation>, StoreError> {
        Ok(sqlx::query_as!(
            OpenCancellation,
            // The merchant of the payment cancelled: an operator's cancel of a payment under review may be
            // another merchant's than the order's.
            r#"SELECT c.id, c.order_id,
                 COALESCE((SELECT p.mid FROM payments p WHERE p.order_id = c.order_id AND p.tid = c.tid
                           AND p.provider = c.provider), o.mid) AS "mid!",
                 c.tid, c.amount, c.requested_at
             FROM cancellations c JOIN orders o ON o.order_id = c.order_id
             WHERE c.status IN ('requested', 'unknown') AND c.requested_at <= $1 AND c.provider = 'weblink'
             ORDER BY c.requested_at LIMIT $2"#,
            before,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
