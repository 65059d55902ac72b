//! In-store card terminals: the transactions the gateway (as the POS) starts on them, and every frame exchanged
//! with them, raw. A transaction's change is written in one database transaction with what it means for its
//! order (payment, cancellation, order row, outbox events), so that the terminal's "result received" (980001),
//! sent only after the commit, always means the gateway holds the result.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::resolutions::follow_cancellation;
use super::{OrderRecord, Store, StoreError};
use crate::domain::{
    self, CancelAnswer, CancelPlan, CancelRefusal, CardDetails, EventType, Outcome, PayMethod,
    PaymentDetails, ResultKind, ResultSource, TerminalApproval, TerminalEffect, TerminalEvent,
    TerminalTx, TerminalTxKind, TerminalTxStatus, VerifiedResult,
};

/// The provider terminal payments, their TIDs and cancellations are recorded under.
pub(crate) const TERMINAL: &str = "terminal";

/// The unique index that keeps one open transaction per terminal.
const ONE_OPEN: &str = "terminal_transactions_one_open";

/// A terminal transaction as stored.
#[derive(Debug, Clone, Deserialize)]
pub struct TerminalTxRow {
    pub id: Uuid,
    pub terminal_id: String,
    pub kind: TerminalTxKind,
    pub status: TerminalTxStatus,
    pub ptxid: String,
    pub order_id: Option<String>,
    pub cancellation_id: Option<Uuid>,
    pub original_id: Option<Uuid>,
    pub amount: i64,
    pub abort_requested: bool,
    /// The request's fields besides the amount, as sent (the JSON body of the frame).
    pub request: Value,
    pub approval_no: Option<String>,
    pub transaction_no: Option<String>,
    pub transaction_date: Option<String>,
    pub approved_amount: Option<i64>,
    pub issuer_code: Option<String>,
    pub issuer_name: Option<String>,
    pub acquirer_code: Option<String>,
    pub acquirer_name: Option<String>,
    pub masked_card: Option<String>,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

impl TerminalTxRow {
    /// What the state machine needs of it.
    pub fn state(&self) -> TerminalTx {
        TerminalTx {
            terminal_id: self.terminal_id.clone(),
            kind: self.kind,
            status: self.status,
            ptxid: self.ptxid.clone(),
            amount: self.amount,
            abort_requested: self.abort_requested,
            result_code: self.result_code.clone(),
            result_message: self.result_message.clone(),
        }
    }
}

/// How the caller shows a transaction in the webhook events written with its change.
pub type RenderTx<'a> = dyn Fn(&TerminalTxRow) -> Value + Sync + 'a;

/// A transaction about to be recorded (`requested`), before its request is sent.
#[derive(Debug, Clone)]
pub struct NewTerminalTx {
    pub id: Uuid,
    pub terminal_id: String,
    pub kind: TerminalTxKind,
    pub ptxid: String,
    pub amount: i64,
    pub request: Value,
}

/// A terminal sale's order, as the API validated it.
#[derive(Debug, Clone)]
pub struct NewTerminalOrder {
    pub order_id: String,
    pub mid: String,
    pub amount: i64,
    pub goods_name: String,
    pub pay_method: PayMethod,
    pub tax: Option<i64>,
    pub metadata: Option<Value>,
    pub expires_at: DateTime<Utc>,
}

pub enum BeginPayment {
    Started {
        order: Box<OrderRecord>,
        tx: Box<TerminalTxRow>,
    },
    /// An order with this id exists already.
    OrderExists,
    /// The terminal has an open transaction: nothing was written.
    Busy { open: Option<Uuid> },
}

pub enum BeginTerminalCancel {
    /// The cancellation and its terminal transaction are recorded; send the request now.
    Planned {
        plan: CancelPlan,
        tx: Box<TerminalTxRow>,
    },
    Refused(CancelRefusal),
    UnknownOrder,
    /// The order's payment has no approval on a terminal to cancel.
    NoOriginal,
    /// The cancel would not be of the whole approved amount (money was refunded or cancelled already, or the
    /// approval was for another amount than the order counts): a terminal cancels whole approvals only, so
    /// nothing was written.
    NotWhole {
        /// What the terminal approved.
        approved: i64,
        /// What a cancel now could still take back.
        remaining: i64,
    },
    /// The terminal has an open transaction: nothing was written.
    Busy {
        open: Option<Uuid>,
    },
}

pub enum BeginCashReceipt {
    /// Recorded `requested`: send it now.
    Started(Box<TerminalTxRow>),
    /// The order it names does not exist.
    UnknownOrder,
    /// The terminal has an open transaction: nothing was written.
    Busy { open: Option<Uuid> },
}

pub enum BeginCashReceiptCancel {
    /// Recorded `requested`: send it now.
    Started(Box<TerminalTxRow>),
    /// No cash receipt with this id.
    Unknown,
    /// The receipt was not issued (its transaction did not succeed): there is nothing to cancel.
    NotIssued(Box<TerminalTxRow>),
    /// A cancel of it succeeded already, or is still open.
    AlreadyCancelled { cancel: Box<TerminalTxRow> },
    /// The terminal has an open transaction: nothing was written.
    Busy { open: Option<Uuid> },
}

/// Approvals and cancels of card and easy-pay sales on one terminal over some Korean days, as 050099 counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerTotals {
    pub approved_count: i64,
    pub approved_amount: i64,
    pub cancelled_count: i64,
    pub cancelled_amount: i64,
}

/// What applying an event did.
pub struct Applied {
    pub tx: TerminalTxRow,
    pub changed: bool,
}

#[derive(Deserialize)]
struct TxJson {
    tx: Json<TerminalTxRow>,
}

fn is_busy(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.constraint() == Some(ONE_OPEN))
}

async fn insert_tx(
    tx: &mut Transaction<'_, Postgres>,
    new: &NewTerminalTx,
    order_id: Option<&str>,
    cancellation_id: Option<Uuid>,
    original_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO terminal_transactions (id, terminal_id, kind, status, ptxid, order_id, cancellation_id,
           original_id, amount, request, created_at, updated_at)
         VALUES ($1, $2, $3, 'requested', $4, $5, $6, $7, $8, $9, $10, $10)",
        new.id,
        new.terminal_id,
        new.kind.as_str(),
        new.ptxid,
        order_id,
        cancellation_id,
        original_id,
        new.amount,
        new.request,
        now
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn load_tx(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    for_update: bool,
) -> Result<Option<TerminalTxRow>, StoreError> {
    let row = if for_update {
        sqlx::query_as!(
            TxJson,
            r#"SELECT row_to_json(t) AS "tx!: Json<TerminalTxRow>" FROM terminal_transactions t
               WHERE t.id = $1 FOR UPDATE"#,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            TxJson,
            r#"SELECT row_to_json(t) AS "tx!: Json<TerminalTxRow>" FROM terminal_transactions t
               WHERE t.id = $1"#,
            id
        )
        .fetch_optional(&mut *conn)
        .await?
    };
    Ok(row.map(|r| r.tx.0))
}

impl Store {
    /// Records a terminal sale: its order (`channel = 'terminal'`) and its transaction (`requested`), together,
    /// before anything is sent. The unique index on open transactions refuses a second one on a busy terminal.
    pub async fn begin_terminal_payment(
        &self,
        order: &NewTerminalOrder,
        new: &NewTerminalTx,
        checkout_token: &str,
        now: DateTime<Utc>,
    ) -> Result<BeginPayment, StoreError> {
        if let Some(open) = self.open_terminal_tx(&new.terminal_id).await? {
            return Ok(BeginPayment::Busy {
                open: Some(open.id),
            });
        }
        let mut tx = self.pool.begin().await?;
        let created = sqlx::query_scalar!(
            "INSERT INTO orders (order_id, mid, channel, status, amount, goods_name, goods_count, pay_method,
               buyer_name, buyer_tel, buyer_email, tax, metadata, checkout_token, created_at, updated_at,
               expires_at)
             VALUES ($1, $2, 'terminal', 'pending', $3, $4, 1, $5, '', '', '', $6, $7, $8, $9, $9, $10)
             ON CONFLICT (order_id) DO NOTHING RETURNING order_id",
            order.order_id,
            order.mid,
            order.amount,
            order.goods_name,
            order.pay_method.as_str(),
            order.tax,
            order.metadata,
            checkout_token,
            now,
            order.expires_at
        )
        .fetch_optional(&mut *tx)
        .await?;
        if created.is_none() {
            tx.rollback().await?;
            return Ok(BeginPayment::OrderExists);
        }
        match insert_tx(&mut tx, new, Some(&order.order_id), None, None, now).await {
            Ok(()) => {}
            Err(e) if is_busy(&e) => {
                tx.rollback().await?;
                let open = self.open_terminal_tx(&new.terminal_id).await?;
                return Ok(BeginPayment::Busy {
                    open: open.map(|t| t.id),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let record = load_record(&mut tx, &order.order_id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a new order vanished".into()))?;
        let row = load_tx(&mut tx, new.id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a new terminal transaction vanished".into()))?;
        tx.commit().await?;
        Ok(BeginPayment::Started {
            order: Box::new(record),
            tx: Box::new(row),
        })
    }

    /// Plans the cancel of a terminal order's whole payment under the order's row lock and records it (the
    /// cancellation and its terminal transaction, both `requested`) before anything is sent, with the original
    /// approval's numbers in the request.
    pub async fn begin_terminal_cancel(
        &self,
        order_id: &str,
        reason: &str,
        new: impl FnOnce(&CancelPlan, &TerminalTxRow) -> NewTerminalTx,
        cancellation_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<BeginTerminalCancel, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, order_id, true).await? else {
            return Ok(BeginTerminalCancel::UnknownOrder);
        };
        let state = record.state()?;
        let plan = match domain::plan_cancel(&state, None, None, cancellation_id, now) {
            Ok(plan) => plan,
            Err(refusal) => return Ok(BeginTerminalCancel::Refused(refusal)),
        };
        let original = sqlx::query_as!(
            TxJson,
            r#"SELECT row_to_json(t) AS "tx!: Json<TerminalTxRow>" FROM terminal_transactions t
               WHERE t.order_id = $1 AND t.ptxid = $2 AND t.status = 'succeeded'
                 AND t.kind IN ('card_approval', 'easy_pay_approval')"#,
            order_id,
            plan.tid
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.tx.0);
        let Some(original) = original else {
            return Ok(BeginTerminalCancel::NoOriginal);
        };
        // Checked here, under the order's row lock, and not only by the service beforehand: a refund recorded
        // between the two would otherwise turn this into a cancel of the rest (`plan.partial`), which the
        // terminal would either refuse or, worse, carry out on top of the refund the merchant already paid.
        let approved = original.approved_amount.unwrap_or(original.amount);
        if plan.partial || plan.amount != approved {
            return Ok(BeginTerminalCancel::NotWhole {
                approved,
                remaining: state.remaining(),
            });
        }
        let new = new(&plan, &original);
        sqlx::query!(
            "INSERT INTO cancellations (id, order_id, tid, amount, partial, status, origin, reason, requested_at,
               provider)
             VALUES ($1, $2, $3, $4, $5, 'requested', 'api', $6, $7, $8)",
            plan.id,
            order_id,
            plan.tid,
            plan.amount,
            plan.partial,
            reason,
            now,
            TERMINAL
        )
        .execute(&mut *tx)
        .await?;
        match insert_tx(
            &mut tx,
            &new,
            Some(order_id),
            Some(plan.id),
            Some(original.id),
            now,
        )
        .await
        {
            Ok(()) => {}
            Err(e) if is_busy(&e) => {
                tx.rollback().await?;
                let open = self.open_terminal_tx(&new.terminal_id).await?;
                return Ok(BeginTerminalCancel::Busy {
                    open: open.map(|t| t.id),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let row = load_tx(&mut tx, new.id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a new terminal transaction vanished".into()))?;
        tx.commit().await?;
        Ok(BeginTerminalCancel::Planned {
            plan,
            tx: Box::new(row),
        })
    }

    /// Records a cash receipt (070010) `requested` before it is sent; with `order_id`, it belongs to that order
    /// (its webhooks go out under it).
    pub async fn begin_cash_receipt(
        &self,
        new: &NewTerminalTx,
        order_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<BeginCashReceipt, StoreError> {
        if let Some(open) = self.open_terminal_tx(&new.terminal_id).await? {
            return Ok(BeginCashReceipt::Busy {
                open: Some(open.id),
            });
        }
        let mut tx = self.pool.begin().await?;
        if let Some(order_id) = order_id {
            // Locked so that the order cannot vanish between the check and the insert.
            let exists = sqlx::query_scalar!(
                "SELECT order_id FROM orders WHERE order_id = $1 FOR SHARE",
                order_id
            )
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_none() {
                return Ok(BeginCashReceipt::UnknownOrder);
            }
        }
        match insert_tx(&mut tx, new, order_id, None, None, now).await {
            Ok(()) => {}
            Err(e) if is_busy(&e) => {
                tx.rollback().await?;
                let open = self.open_terminal_tx(&new.terminal_id).await?;
                return Ok(BeginCashReceipt::Busy {
                    open: open.map(|t| t.id),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let row = load_tx(&mut tx, new.id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a new terminal transaction vanished".into()))?;
        tx.commit().await?;
        Ok(BeginCashReceipt::Started(Box::new(row)))
    }

    /// Records the cancel (070020) of an issued cash receipt `requested`, on the terminal that issued it, with
    /// the receipt's own numbers. The receipt's row is locked so that two cancels of it cannot both start.
    pub async fn begin_cash_receipt_cancel(
        &self,
        receipt_id: Uuid,
        new: impl FnOnce(&TerminalTxRow) -> NewTerminalTx,
        now: DateTime<Utc>,
    ) -> Result<BeginCashReceiptCancel, StoreError> {
        let mut tx = self.pool.begin().await?;
        let Some(receipt) = load_tx(&mut tx, receipt_id, true).await? else {
            return Ok(BeginCashReceiptCancel::Unknown);
        };
        if receipt.kind != TerminalTxKind::CashReceipt {
            return Ok(BeginCashReceiptCancel::Unknown);
        }
        if receipt.status != TerminalTxStatus::Succeeded {
            return Ok(BeginCashReceiptCancel::NotIssued(Box::new(receipt)));
        }
        let earlier = sqlx::query_as!(
            TxJson,
            r#"SELECT row_to_json(t) AS "tx!: Json<TerminalTxRow>" FROM terminal_transactions t
               WHERE t.original_id = $1 AND t.kind = 'cash_receipt_cancel'
                 AND t.status IN ('requested', 'awaiting_signature', 'unknown', 'succeeded')
               ORDER BY t.created_at DESC LIMIT 1"#,
            receipt_id
        )
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.tx.0);
        if let Some(cancel) = earlier {
            return Ok(BeginCashReceiptCancel::AlreadyCancelled {
                cancel: Box::new(cancel),
            });
        }
        let new = new(&receipt);
        match insert_tx(
            &mut tx,
            &new,
            receipt.order_id.as_deref(),
            None,
            Some(receipt.id),
            now,
        )
        .await
        {
            Ok(()) => {}
            Err(e) if is_busy(&e) => {
                tx.rollback().await?;
                let open = self.open_terminal_tx(&new.terminal_id).await?;
                return Ok(BeginCashReceiptCancel::Busy {
                    open: open.map(|t| t.id),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let row = load_tx(&mut tx, new.id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a new terminal transaction vanished".into()))?;
        tx.commit().await?;
        Ok(BeginCashReceiptCancel::Started(Box::new(row)))
    }

    /// The gateway's own totals for a terminal over the Korean days `from..=to` (`YYYYMMDD`), counted as 050099
    /// counts them: succeeded card and easy-pay approvals made on those days (cancelled later or not), and the
    /// cancels made on them, each on the day the terminal stamped it (`transaction_date`, Korean time; the
    /// completion time in Korean time when the terminal's stamp is unreadable). Cash receipts are not sales.
    pub async fn terminal_ledger_totals(
        &self,
        terminal_id: &str,
        from: &str,
        to: &str,
    ) -> Result<LedgerTotals, StoreError> {
        let row = sqlx::query!(
            r#"WITH days AS (
                 SELECT kind, COALESCE(approved_amount, amount) AS amount,
                   CASE WHEN transaction_date ~ '^[0-9]{14}$' THEN left(transaction_date, 8)
                        WHEN transaction_date ~ '^[0-9]{12}$' THEN '20' || left(transaction_date, 6)
                        ELSE to_char((completed_at AT TIME ZONE 'UTC') + interval '9 hours', 'YYYYMMDD')
                   END AS day
                 FROM terminal_transactions
                 WHERE terminal_id = $1 AND status = 'succeeded'
                   AND kind IN ('card_approval', 'easy_pay_approval', 'card_cancel', 'easy_pay_cancel'))
               SELECT
                 count(*) FILTER (WHERE kind IN ('card_approval', 'easy_pay_approval')) AS "approved_count!",
                 COALESCE(sum(amount) FILTER (WHERE kind IN ('card_approval', 'easy_pay_approval')), 0)::bigint
                   AS "approved_amount!",
                 count(*) FILTER (WHERE kind IN ('card_cancel', 'easy_pay_cancel')) AS "cancelled_count!",
                 COALESCE(sum(amount) FILTER (WHERE kind IN ('card_cancel', 'easy_pay_cancel')), 0)::bigint
                   AS "cancelled_amount!"
               FROM days WHERE day BETWEEN $2 AND $3"#,
            terminal_id,
            from,
            to
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(LedgerTotals {
            approved_count: row.approved_count,
            approved_amount: row.approved_amount,
            cancelled_count: row.cancelled_count,
            cancelled_amount: row.cancelled_amount,
        })
    }

    pub async fn terminal_tx(&self, id: Uuid) -> Result<Option<TerminalTxRow>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_tx(&mut conn, id, false).await
    }

    /// The terminal's open transaction (`requested`, `awaiting_signature` or `unknown`), if any.
    pub async fn open_terminal_tx(
        &self,
        terminal_id: &str,
    ) -> Result<Option<TerminalTxRow>, StoreError> {
        Ok(sqlx::query_as!(
            TxJson,
            r#"SELECT row_to_json(t) AS "tx!: Json<TerminalTxRow>" FROM terminal_transactions t
               WHERE t.terminal_id = $1 AND t.status IN ('requested', 'awaiting_signature', 'unknown')"#,
            terminal_id
        )
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.tx.0))
    }

    /// The terminal transactions of an order, oldest first.
    pub async fn order_terminal_txs(
        &self,
        order_id: &str,
    ) -> Result<Vec<TerminalTxRow>, StoreError> {
        Ok(sqlx::query_as!(
            TxJson,
            r#"SELECT row_to_json(t) AS "tx!: Json<TerminalTxRow>" FROM terminal_transactions t
               WHERE t.order_id = $1 ORDER BY t.created_at, t.id"#,
            order_id
        )
        .fetch_all(&self.pool)
        .await?
        .into_iter()
        .map(|r| r.tx.0)
        .collect())
    }

    /// Stores one frame as it went over the wire; inbound frames before they are interpreted.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_terminal_message(
        &self,
        terminal_id: &str,
        inbound: bool,
        message_type: Option<&str>,
        frame: &[u8],
        transaction_id: Option<Uuid>,
        note: Option<&str>,
        at: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            "INSERT INTO terminal_messages (terminal_id, direction, message_type, frame, transaction_id, note, at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING seq",
            terminal_id,
            if inbound { "in" } else { "out" },
            message_type,
            frame,
            transaction_id,
            note,
            at
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Adds a note to a stored frame once it has been interpreted (why it was not applied).
    pub async fn note_terminal_message(&self, seq: i64, note: &str) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE terminal_messages SET note = $2 WHERE seq = $1",
            seq,
            note
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Applies what the terminal (or the connection) did to a transaction, once, in one database transaction:
    /// the transaction's row is locked, the state machine decides, and the order, its payment or cancellation
    /// and the outbox events are written with it.
    pub async fn apply_terminal_event(
        &self,
        id: Uuid,
        event: &TerminalEvent,
        render: &Render<'_>,
        render_tx: &RenderTx<'_>,
        now: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let mut tx = self.pool.begin().await?;
        let row = load_tx(&mut tx, id, true)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no terminal transaction {id}")))?;
        let before = row.state();
        let decision = domain::apply_terminal_event(&before, event);
        if !decision.changed(&before) {
            tx.commit().await?;
            return Ok(Applied {
                tx: row,
                changed: false,
            });
        }
        let next = &decision.tx;
        let approval = decision.effects.iter().find_map(|e| match e {
            TerminalEffect::Approved(a) => Some(a.as_ref()),
            _ => None,
        });
        let completed = (!next.status.is_open()).then_some(now);
        sqlx::query!(
            "UPDATE terminal_transactions SET status = $2, abort_requested = $3, result_code = $4,
               result_message = $5, approval_no = COALESCE($6, approval_no),
               transaction_no = COALESCE($7, transaction_no), transaction_date = COALESCE($8, transaction_date),
               approved_amount = COALESCE($9, approved_amount), issuer_code = COALESCE($10, issuer_code),
               issuer_name = COALESCE($11, issuer_name), acquirer_code = COALESCE($12, acquirer_code),
               acquirer_name = COALESCE($13, acquirer_name), masked_card = COALESCE($14, masked_card),
               updated_at = $15, completed_at = COALESCE(completed_at, $16)
             WHERE id = $1",
            id,
            next.status.as_str(),
            next.abort_requested,
            next.result_code,
            next.result_message,
            approval.map(|a| a.approval_no.clone()),
            approval.map(|a| a.transaction_no.clone()),
            approval.map(|a| a.transaction_date.clone()),
            approval.map(|a| a.amount),
            approval.and_then(|a| a.issuer_code.clone()),
            approval.and_then(|a| a.issuer_name.clone()),
            approval.and_then(|a| a.acquirer_code.clone()),
            approval.and_then(|a| a.acquirer_name.clone()),
            approval.and_then(|a| a.masked_card.clone()),
            now,
            completed
        )
        .execute(&mut *tx)
        .await?;
        if let Some(order_id) = row.order_id.as_deref() {
            let record = load_record(&mut tx, order_id, true)
                .await?
                .ok_or_else(|| StoreError::Corrupt(format!("no order {order_id}")))?;
            let order = record.state()?;
            let mut events: Vec<EventType> = Vec::new();
            if row.kind.is_cancel() {
                if let Some(cancellation) = row.cancellation_id {
                    let answer = match next.status {
                        TerminalTxStatus::Succeeded => Some(CancelAnswer::Succeeded {
                            ptid: Some(row.ptxid.clone()),
                            amount: approval.map(|a| a.amount),
                        }),
                        TerminalTxStatus::Failed | TerminalTxStatus::Aborted => {
                            Some(CancelAnswer::Refused)
                        }
                        TerminalTxStatus::Unknown => Some(CancelAnswer::Unknown),
                        TerminalTxStatus::Requested | TerminalTxStatus::AwaitingSignature => None,
                    };
                    if let Some(answer) = answer {
                        let d = domain::complete_cancel(&order, cancellation, &answer);
                        save_state(&mut tx, &d.order, None, now).await?;
                        if let Some(c) = d.order.cancellations.iter().find(|c| c.id == cancellation)
                        {
                            let done =
                                (c.status != domain::CancellationStatus::Unknown).then_some(now);
                            sqlx::query!(
                                "UPDATE cancellations SET status = $2, result_code = $3, result_message = $4,
                                   cancel_num = COALESCE($5, cancel_num), ptid = COALESCE(ptid, $6),
                                   completed_at = COALESCE(completed_at, $7), amount = $8
                                 WHERE id = $1",
                                cancellation,
                                c.status.as_str(),
                                next.result_code,
                                next.result_message,
                                approval.map(|a| a.approval_no.clone()),
                                c.ptid,
                                done,
                                c.amount
                            )
                            .execute(&mut *tx)
                            .await?;
                            follow_cancellation(&mut tx, cancellation, c.status, now).await?;
                        }
                        events.extend(d.events());
                    }
                }
            } else if let Some(approval) = approval.filter(|_| row.kind.is_sale()) {
                let result = verified(&row, order_id, &order.mid, order.pay_method, approval);
                let d = domain::apply_result(&order, &result, now, Uuid::new_v4());
                let details = d.effects.iter().find_map(|e| match e {
                    domain::Effect::RecordDetails(d) => Some(d),
                    _ => None,
                });
                save_state(&mut tx, &d.order, details, now).await?;
                if d.effects
                    .iter()
                    .any(|e| matches!(e, domain::Effect::RecordPayment(_)))
                {
                    record_payment(&mut tx, &result, now).await?;
                }
                events.extend(d.events());
            }
            insert_events(&mut tx, order_id, &events, render, now).await?;
            for effect in &decision.effects {
                if let TerminalEffect::Notify(status) = effect {
                    let updated = load_tx(&mut tx, id, false).await?.ok_or_else(|| {
                        StoreError::Corrupt(format!("no terminal transaction {id}"))
                    })?;
                    insert_terminal_event(
                        &mut tx, order_id, *status, &updated, render, render_tx, now,
                    )
                    .await?;
                }
            }
        }
        let updated = load_tx(&mut tx, id, false)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("no terminal transaction {id}")))?;
        tx.commit().await?;
        Ok(Applied {
            tx: updated,
            changed: true,
        })
    }
}

/// `yyMMddHHmmss` (the AuthDate form the order's cancel window reads) of the terminal's `YYYYMMDDhhmmss`.
fn auth_date(transaction_date: &str) -> Option<String> {
    let digits = transaction_date.trim();
    match digits.len() {
        14 if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits[2..].to_string()),
        12 if digits.bytes().all(|b| b.is_ascii_digit()) => Some(digits.to_string()),
        _ => None,
    }
}

/// The terminal's approval as a provider result, so that the order obeys the same money rules as online ones
/// (paid only for the order's amount, MID and method; `needs_review` otherwise). The payment's TID is the
/// transaction's `ptxid`: unique by construction, where the terminal's own numbers are unique per terminal only.
fn verified(
    row: &TerminalTxRow,
    order_id: &str,
    mid: &str,
    method: PayMethod,
    approval: &TerminalApproval,
) -> VerifiedResult {
    VerifiedResult {
        source: ResultSource::Terminal,
        kind: ResultKind::Approval,
        // Without its numbers an approval is neither a plain success nor a failure: the order is reviewed.
        outcome: if approval.missing_numbers().is_empty() {
            Outcome::Success
        } else {
            Outcome::Unknown
        },
        tid: row.ptxid.clone(),
        original_tid: None,
        order_id: order_id.to_string(),
        mid: mid.to_string(),
        amount: approval.amount,
        pay_method: Some(method),
        result_code: domain::terminal::APPROVED.to_string(),
        result_message: approval
            .incomplete_reason()
            .or_else(|| row.result_message.clone())
            .unwrap_or_default(),
        auth_code: Some(approval.approval_no.clone()).filter(|n| !n.trim().is_empty()),
        auth_date: auth_date(&approval.transaction_date),
        details: PaymentDetails {
            card: (method == PayMethod::Card).then(|| CardDetails {
                issuer_code: approval.issuer_code.clone(),
                issuer_name: approval.issuer_name.clone(),
                acquirer_code: approval.acquirer_code.clone(),
                quota: approval.installment.clone(),
                masked_number: approval.masked_card.clone(),
            }),
            vbank: None,
            cash_receipt: None,
        },
        dedupe_key: format!("terminal:{}", row.ptxid),
    }
}

async fn record_payment(
    tx: &mut Transaction<'_, Postgres>,
    result: &VerifiedResult,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO tid_bindings (provider, tid, order_id, bound_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, tid) DO NOTHING",
        TERMINAL,
        result.tid,
        result.order_id,
        now
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query!(
        "INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message, success,
           auth_code, auth_date, source, created_at, updated_at, provider)
         VALUES ($1, $2, $3, $4, $5, $6, $7, true, $8, $9, 'terminal', $10, $10, $11)",
        result.tid,
        result.order_id,
        result.mid,
        result.pay_method.map_or("UNKNOWN", PayMethod::as_str),
        result.amount,
        result.result_code,
        result.result_message,
        result.auth_code,
        result.auth_date,
        now,
        TERMINAL
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn notify_event(status: TerminalTxStatus) -> Option<EventType> {
    match status {
        TerminalTxStatus::Succeeded => Some(EventType::TerminalTransactionSucceeded),
        TerminalTxStatus::Failed => Some(EventType::TerminalTransactionFailed),
        TerminalTxStatus::Unknown => Some(EventType::TerminalTransactionUnknown),
        _ => None,
    }
}

/// A `terminal.transaction.*` event: the transaction and its order as they are now.
async fn insert_terminal_event(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &str,
    status: TerminalTxStatus,
    row: &TerminalTxRow,
    render: &Render<'_>,
    render_tx: &RenderTx<'_>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some(event) = notify_event(status) else {
        return Ok(());
    };
    let record = load_record(tx, order_id, false)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("no order {order_id}")))?;
    // Time-ordered, as in `outbox::insert_events`.
    let id = format!("evt_{}", Uuid::now_v7().simple());
    let payload = json!({
        "id": id,
        "type": event.as_str(),
        "created_at": now,
        "data": { "transaction": render_tx(row), "order": render(&record) },
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::auth_date;

    #[test]
    fn terminal_dates_become_auth_dates() {
        assert_eq!(auth_date("20261203104500").as_deref(), Some("261203104500"));
        assert_eq!(auth_date("261203104500").as_deref(), Some("261203104500"));
        assert_eq!(auth_date("2026-12-03"), None);
    }
}
