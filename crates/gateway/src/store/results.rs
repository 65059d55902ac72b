use chrono::{DateTime, SubsecRound, Utc};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};

use super::notifications::{mark, NotificationOutcome, RawNotification};
use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::resolutions::{follow_cancellation, ResolutionRow};
use super::terminal::TerminalTxRow;
use super::{CancellationRow, OrderRecord, OrderRow, PaymentRow, RefundRow, Store, StoreError};
use crate::domain::{self, Confirmed, Effect, MessageLabels, OrderStatus, VerifiedResult};

use super::WEBLINK as PROVIDER;

#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The result was new and is now part of the order.
    Applied { status: OrderStatus },
    /// This result was applied before (another delivery, or the other channel): nothing changed.
    Duplicate { status: OrderStatus },
    /// No order has this Moid.
    UnknownOrder,
    /// The result's TID (or the original TID it cancels) belongs to another order: nothing changed.
    TidOfAnotherOrder { tid: String, owner: String },
    /// Counting it would go beyond what Smartro's records confirm: nothing changed.
    Refuted { detail: String },
}

impl Store {
    /// Applies a confirmed Smartro result exactly once, in one transaction: the order row is locked, the result's
    /// TIDs are bound to the order (refused, with nothing written, when they belong to another one), the
    /// result's dedupe key is claimed (a unique key, so concurrent deliveries on any replica agree on one winner),
    /// the state machine decides, and the order, payment, cancellation and outbox rows are written together.
    pub async fn apply_result(
        &self,
        notification_id: i64,
        result: &VerifiedResult,
        confirmed: Confirmed,
        new_id: uuid::Uuid,
        render: &Render<'_>,
        now: DateTime<Utc>,
    ) -> Result<ApplyOutcome, StoreError> {
        let confirmed_by = confirmed.by;
        let labels = result.labels();
        let mut tx = self.pool.begin().await?;
        let Some(record) = load_record(&mut tx, &result.order_id, true).await? else {
            mark(
                &mut *tx,
                notification_id,
                NotificationOutcome::UnknownOrder,
                Some("no order has this OID"),
                &labels,
                None,
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::UnknownOrder);
        };
        // Before anything of the order is written: the result's TID must be (or become) this order's, and the
        // original TID a cancel refers to must not be another order's. That one is only checked, never bound: a
        // cancel notice does not make a payment this order's.
        let owner_elsewhere = match bind_tid(&mut tx, &result.tid, &result.order_id, now).await? {
            Some(owner) => Some((result.tid.clone(), owner)),
            None => match result.other_tid() {
                Some(original) => tid_owner(&mut tx, original)
                    .await?
                    .filter(|owner| *owner != result.order_id)
                    .map(|owner| (original.to_string(), owner)),
                None => None,
            },
        };
        if let Some((tid, owner)) = owner_elsewhere {
            tx.rollback().await?;
            let detail = format!("TID {tid} belongs to order {owner}");
            return self
                .refute(notification_id, &labels, detail, now)
                .await
                .map(|()| ApplyOutcome::TidOfAnotherOrder { tid, owner });
        }
        let before = record.state()?;
        if let (Some(listed), Some(_)) = (confirmed.listed_partial_cancels, result.other_tid()) {
            if domain::cancel_beyond_listed(&before, &result.tid, result.amount, listed) {
                tx.rollback().await?;
                let detail = format!(
                    "Smartro lists {listed} partial cancel(s) of {} for this payment, all already counted",
                    result.amount
                );
                return self
                    .refute(notification_id, &labels, detail.clone(), now)
                    .await
                    .map(|()| ApplyOutcome::Refuted { detail });
            }
        }

        let claimed = sqlx::query_scalar!(
            "INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key",
            result.dedupe_key,
            result.order_id,
            notification_id,
            now
        )
        .fetch_optional(&mut *tx)
        .await?;
        if claimed.is_none() {
            mark(
                &mut *tx,
                notification_id,
                NotificationOutcome::Duplicate,
                None,
                &labels,
                Some(confirmed_by),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(ApplyOutcome::Duplicate {
                status: before.status,
            });
        }

        let decision = domain::apply_result(&before, result, now, new_id);
        let details = decision.effects.iter().find_map(|e| match e {
            Effect::RecordDetails(d) => Some(d),
            _ => None,
        });
        save_state(&mut tx, &decision.order, details, now).await?;
        for effect in &decision.effects {
            match effect {
                Effect::RecordPayment(p) => {
                    let written = sqlx::query!(
                        "INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message,
                           success, auth_code, auth_date, source, created_at, updated_at, provider)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13)
                         ON CONFLICT (provider, tid) DO UPDATE SET result_code = EXCLUDED.result_code,
                           result_message = EXCLUDED.result_message, success = EXCLUDED.success,
                           amount = EXCLUDED.amount,
                           auth_code = COALESCE(EXCLUDED.auth_code, payments.auth_code),
                           auth_date = COALESCE(EXCLUDED.auth_date, payments.auth_date),
                           updated_at = EXCLUDED.updated_at
                         WHERE payments.order_id = EXCLUDED.order_id",
                        p.tid,
                        result.order_id,
                        p.mid,
                        p.pay_method.map_or("UNKNOWN", domain::PayMethod::as_str),
                        p.amount,
                        p.result_code,
                        p.result_message,
                        p.success,
                        p.auth_code,
                        p.auth_date,
                        p.source.as_str(),
                        now,
                        PROVIDER
                    )
                    .execute(&mut *tx)
                    .await?;
                    // The TID was bound to this order above, so the row is this order's; if it were not, the
                    // whole transaction must go rather than leave the order changed without its payment.
                    if written.rows_affected() != 1 {
                        return Err(StoreError::Corrupt(format!(
                            "payment {} is recorded for another order",
                            p.tid
                        )));
                    }
                }
                // Written with the order row above.
                Effect::RecordDetails(_) => {}
                Effect::ConfirmCancellation {
                    id,
                    ptid,
                    newly_succeeded: _,
                } => {
                    sqlx::query!(
                        "UPDATE cancellations SET status = 'succeeded', notified = true,
                           ptid = COALESCE(ptid, $2), completed_at = COALESCE(completed_at, $3)
                         WHERE id = $1",
                        id,
                        ptid.as_deref(),
                        now
                    )
                    .execute(&mut *tx)
                    .await?;
                    follow_cancellation(&mut tx, *id, domain::CancellationStatus::Succeeded, now)
                        .await?;
                }
                Effect::RecordSmartroCancellation {
                    id,
                    tid,
                    ptid,
                    amount,
                    partial,
                    counted: _,
                    result_code,
                    result_message,
                } => {
                    sqlx::query!(
                        "INSERT INTO cancellations (id, order_id, tid, amount, partial, status, origin, reason,
                           result_code, result_message, ptid, notified, requested_at, completed_at)
                         VALUES ($1, $2, $3, $4, $5, 'succeeded', 'smartro', 'notified by Smartro', $6, $7, $8,
                           true, $9, $9)",
                        id,
                        result.order_id,
                        tid,
                        amount,
                        partial,
                        result_code,
                        result_message,
                        ptid.as_deref(),
                        now
                    )
                    .execute(&mut *tx)
                    .await?;
                }
                Effect::Emit(_) => {}
            }
        }
        insert_events(&mut tx, &result.order_id, &decision.events(), render, now).await?;
        mark(
            &mut *tx,
            notification_id,
            NotificationOutcome::Applied,
            None,
            &labels,
            Some(confirmed_by),
            now,
        )
        .await?;
        // Other deliveries of this result still waiting for confirmation have nothing left to wait for.
        sqlx::query!(
            "UPDATE notifications SET outcome = 'duplicate', next_check_at = NULL, processed_at = $2
             WHERE dedupe_key = $1 AND outcome = 'unconfirmed' AND order_id = $3",
            result.dedupe_key,
            now,
            result.order_id
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(ApplyOutcome::Applied {
            status: decision.order.status,
        })
    }
}

impl Store {
    async fn refute(
        &self,
        notification_id: i64,
        labels: &MessageLabels,
        detail: String,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        mark(
            &self.pool,
            notification_id,
            NotificationOutcome::Refuted,
            Some(&detail),
            labels,
            None,
            now,
        )
        .await
    }
}

async fn tid_owner(
    tx: &mut Transaction<'_, Postgres>,
    tid: &str,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT order_id FROM tid_bindings WHERE provider = $1 AND tid = $2",
        PROVIDER,
        tid
    )
    .fetch_optional(&mut **tx)
    .await?)
}

/// Binds `tid` to `order_id` unless it is bound already; returns the other order when it belongs to one. Two
/// transactions binding one TID at once serialise on its primary key: the second waits for the first to commit,
/// then sees its row.
pub(crate) async fn bind_tid(
    tx: &mut Transaction<'_, Postgres>,
    tid: &str,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let bound = sqlx::query_scalar!(
        "INSERT INTO tid_bindings (provider, tid, order_id, bound_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, tid) DO NOTHING RETURNING order_id",
        PROVIDER,
        tid,
        order_id,
        now
    )
    .fetch_optional(&mut **tx)
    .await?;
    if bound.is_some() {
        return Ok(None);
    }
    let owner = sqlx::query_scalar!(
        "SELECT order_id FROM tid_bindings WHERE provider = $1 AND tid = $2",
        PROVIDER,
        tid
    )
    .fetch_one(&mut **tx)
    .await?;
    Ok((owner != order_id).then_some(owner))
}

/// What [`Store::apply_with_message`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum AppliedAtOnce {
    /// The raw message, the claim of its result and everything the result changed are committed together.
    Applied { status: OrderStatus },
    /// Nothing was written (the transaction was rolled back): the order is unknown, the result was applied before,
    /// a TID is another order's, or the decision is more than a payment. The caller takes the general path, which
    /// stores the raw message on its own first.
    NotHere,
}

/// The order row as [`save_state`] leaves it: the same columns, the same rules, computed here so that the one
/// statement that writes it can write the events showing it as well.
fn saved_row(
    old: &OrderRow,
    state: &domain::OrderState,
    details: Option<&domain::PaymentDetails>,
    now: DateTime<Utc>,
) -> OrderRow {
    let mut o = old.clone();
    o.status = state.status;
    o.paid_amount = state.paid_amount;
    o.cancelled_amount = state.cancelled_amount;
    o.tid.clone_from(&state.tid);
    o.result_code.clone_from(&state.result_code);
    o.result_message.clone_from(&state.result_message);
    o.review_reason.clone_from(&state.review_reason);
    o.paid_at = state.paid_at;
    o.updated_at = now;
    o.expires_at = state.expires_at;
    o.amount = state.amount;
    o.refunded_amount = state.refunded_amount;
    o.review_tid.clone_from(&state.review_tid);
    if let Some(card) = details.and_then(|d| d.card.as_ref()) {
        o.card_issuer_code.clone_from(&card.issuer_code);
        o.card_issuer_name.clone_from(&card.issuer_name);
        o.card_acquirer_code.clone_from(&card.acquirer_code);
        o.card_quota.clone_from(&card.quota);
        o.card_masked_number.clone_from(&card.masked_number);
    }
    if let Some(vbank) = details.and_then(|d| d.vbank.as_ref()) {
        let keep = |new: &Option<String>, old: &mut Option<String>| {
            if new.is_some() {
                old.clone_from(new);
            }
        };
        keep(&vbank.bank_code, &mut o.vbank_bank_code);
        keep(&vbank.bank_name, &mut o.vbank_bank_name);
        keep(&vbank.account, &mut o.vbank_account);
    }
    if let Some(receipt) = details.and_then(|d| d.cash_receipt.as_ref()) {
        o.cash_receipt_type = Some(receipt.kind.as_str().to_string());
        o.cash_receipt_approval_no.clone_from(&receipt.approval_no);
        o.cash_receipt_issued_at = Some(now);
    }
    o
}

/// The payment rows as the upsert of `p` leaves them (see `apply_result`).
fn saved_payments(
    payments: &mut Vec<PaymentRow>,
    p: &domain::PaymentRecord,
    order_id: &str,
    now: DateTime<Utc>,
) {
    if let Some(row) = payments
        .iter_mut()
        .find(|r| r.tid == p.tid && r.provider == PROVIDER)
    {
        row.result_code.clone_from(&p.result_code);
        row.result_message.clone_from(&p.result_message);
        row.success = p.success;
        row.amount = p.amount;
        if p.auth_code.is_some() {
            row.auth_code.clone_from(&p.auth_code);
        }
        if p.auth_date.is_some() {
            row.auth_date.clone_from(&p.auth_date);
        }
        row.updated_at = now;
        return;
    }
    payments.push(PaymentRow {
        provider: PROVIDER.to_string(),
        tid: p.tid.clone(),
        order_id: order_id.to_string(),
        mid: p.mid.clone(),
        pay_method: p
            .pay_method
            .map_or("UNKNOWN", domain::PayMethod::as_str)
            .to_string(),
        amount: p.amount,
        result_code: p.result_code.clone(),
        result_message: p.result_message.clone(),
        success: p.success,
        auth_code: p.auth_code.clone(),
        auth_date: p.auth_date.clone(),
        source: p.source,
        created_at: now,
        updated_at: now,
    });
    payments.sort_by(|a, b| (a.created_at, &a.tid).cmp(&(b.created_at, &b.tid)));
}

impl Store {
    /// Applies a result confirmed without asking anyone (an allow-listed notifier) together with its raw message,
    /// in one transaction and one commit: the message is stored with its interpretation, never without it, and
    /// an answer `OK` follows only this commit. Three statements: [`lock_result_order`] (lock, bind the TID,
    /// read), one statement writing the decision, COMMIT.
    ///
    /// Only the common case is taken here (a new result whose decision is a payment with its events); anything
    /// else rolls back and answers [`AppliedAtOnce::NotHere`], so that the general path decides it as before.
    pub async fn apply_with_message(
        &self,
        raw: &RawNotification<'_>,
        result: &VerifiedResult,
        confirmed: Confirmed,
        new_id: uuid::Uuid,
        render: &Render<'_>,
    ) -> Result<AppliedAtOnce, StoreError> {
        // What PostgreSQL keeps (microseconds), so that the events show the order exactly as it is stored.
        let now = raw.received_at.trunc_subsecs(6);
        if confirmed.listed_partial_cancels.is_some() {
            return Ok(AppliedAtOnce::NotHere);
        }
        let mut tx = self.pool.begin().await?;
        let Some(row) = sqlx::query!(
            r#"SELECT order_row AS "order_row!: Json<OrderRow>",
                 payments AS "payments!: Json<Vec<PaymentRow>>",
                 cancellations AS "cancellations!: Json<Vec<CancellationRow>>",
                 refunds AS "refunds!: Json<Vec<RefundRow>>",
                 resolutions AS "resolutions!: Json<Vec<ResolutionRow>>",
                 terminal AS "terminal!: Json<Vec<TerminalTxRow>>",
                 tid_owner, other_tid_owner, applied AS "applied!"
               FROM lock_result_order($1, $2, $3, $4, $5, $6)"#,
            result.order_id,
            PROVIDER,
            result.tid,
            result.other_tid(),
            result.dedupe_key,
            now
        )
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(AppliedAtOnce::NotHere);
        };
        let ours = |owner: &Option<String>| owner.as_deref() == Some(result.order_id.as_str());
        if row.applied
            || !ours(&row.tid_owner)
            || (row.other_tid_owner.is_some() && !ours(&row.other_tid_owner))
        {
            tx.rollback().await?;
            return Ok(AppliedAtOnce::NotHere);
        }
        let mut record = OrderRecord {
            order: row.order_row.0,
            payments: row.payments.0,
            cancellations: row.cancellations.0,
            refunds: row.refunds.0,
            resolutions: row.resolutions.0,
            terminal_transactions: row.terminal.0,
        };
        let before = record.state()?;
        let decision = domain::apply_result(&before, result, now, new_id);
        let mut payment = None;
        let mut details = None;
        for effect in &decision.effects {
            match effect {
                Effect::RecordPayment(p) if payment.is_none() => payment = Some(p),
                Effect::RecordDetails(d) if details.is_none() => details = Some(d),
                Effect::Emit(_) => {}
                _ => {
                    tx.rollback().await?;
                    return Ok(AppliedAtOnce::NotHere);
                }
            }
        }
        record.order = saved_row(&record.order, &decision.order, details, now);
        if let Some(p) = payment {
            saved_payments(&mut record.payments, p, &result.order_id, now);
        }
        let order = render(&record);
        let events: Vec<serde_json::Value> = decision
            .events()
            .iter()
            .map(|event| {
                // Time-ordered, as in `insert_events`.
                let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
                serde_json::json!({
                    "id": id,
                    "type": event.as_str(),
                    "payload": {
                        "id": id,
                        "type": event.as_str(),
                        "created_at": now,
                        "data": { "order": order },
                    },
                })
            })
            .collect();
        let o = &record.order;
        let labels = result.labels();
        let written = sqlx::query!(
            r#"WITH n AS (
                 INSERT INTO notifications (source, received_at, body, headers, remote_addr, outcome, mid, tid,
                   order_id, dedupe_key, confirmed_by, processed_at)
                 VALUES ($1, $2, $3, $4, $5, 'applied', $6, $7, $8, $9, $10, $2)
                 RETURNING id),
               claim AS (
                 INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
                 SELECT $9, $8, n.id, $2 FROM n
                 ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key),
               o AS (
                 UPDATE orders SET status = $11, paid_amount = $12, cancelled_amount = $13, tid = $14,
                   result_code = $15, result_message = $16, review_reason = $17, paid_at = $18, updated_at = $2,
                   expires_at = $19, amount = $20, refunded_amount = $21, review_tid = $22,
                   card_issuer_code = $23, card_issuer_name = $24, card_acquirer_code = $25, card_quota = $26,
                   card_masked_number = $27, vbank_bank_code = $28, vbank_bank_name = $29, vbank_account = $30,
                   cash_receipt_type = $31, cash_receipt_approval_no = $32, cash_receipt_issued_at = $33
                 WHERE order_id = $8 AND EXISTS (SELECT 1 FROM claim)
                 RETURNING 1),
               p AS (
                 INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message,
                   success, auth_code, auth_date, source, created_at, updated_at, provider)
                 SELECT $35::text, $8, $36::text, $37::text, $38::bigint, $39::text, $40::text, $41::boolean,
                   $42::text, $43::text, $44::text, $2, $2, $45::text
                 WHERE $34 AND EXISTS (SELECT 1 FROM claim)
                 ON CONFLICT (provider, tid) DO UPDATE SET result_code = EXCLUDED.result_code,
                   result_message = EXCLUDED.result_message, success = EXCLUDED.success,
                   amount = EXCLUDED.amount,
                   auth_code = COALESCE(EXCLUDED.auth_code, payments.auth_code),
                   auth_date = COALESCE(EXCLUDED.auth_date, payments.auth_date),
                   updated_at = EXCLUDED.updated_at
                 WHERE payments.order_id = EXCLUDED.order_id
                 RETURNING 1),
               e AS (
                 INSERT INTO outbox_events (id, order_id, event_type, payload, created_at, next_attempt_at,
                   window_started_at)
                 SELECT x->>'id', $8, x->>'type', x->'payload', $2, $2, $2
                 FROM jsonb_array_elements($46::jsonb) AS x
                 WHERE EXISTS (SELECT 1 FROM claim)
                 RETURNING 1),
               -- Other deliveries of this result still waiting for confirmation have nothing left to wait for.
               d AS (
                 UPDATE notifications SET outcome = 'duplicate', next_check_at = NULL, processed_at = $2
                 WHERE dedupe_key = $9 AND outcome = 'unconfirmed' AND order_id = $8
                   AND EXISTS (SELECT 1 FROM claim))
               SELECT (SELECT count(*) FROM claim) AS "claimed!", (SELECT count(*) FROM o) AS "orders!",
                 (SELECT count(*) FROM p) AS "payments!", (SELECT count(*) FROM e) AS "events!""#,
            raw.source.as_str(),
            now,
            raw.body,
            raw.headers,
            raw.remote_addr,
            labels.mid,
            labels.tid,
            result.order_id,
            result.dedupe_key,
            confirmed.by.as_str(),
            o.status.as_str(),
            o.paid_amount,
            o.cancelled_amount,
            o.tid,
            o.result_code,
            o.result_message,
            o.review_reason,
            o.paid_at,
            o.expires_at,
            o.amount,
            o.refunded_amount,
            o.review_tid,
            o.card_issuer_code,
            o.card_issuer_name,
            o.card_acquirer_code,
            o.card_quota,
            o.card_masked_number,
            o.vbank_bank_code,
            o.vbank_bank_name,
            o.vbank_account,
            o.cash_receipt_type,
            o.cash_receipt_approval_no,
            o.cash_receipt_issued_at,
            payment.is_some(),
            payment.map(|p| p.tid.as_str()),
            payment.map(|p| p.mid.as_str()),
            payment.map(|p| p.pay_method.map_or("UNKNOWN", domain::PayMethod::as_str)),
            payment.map(|p| p.amount),
            payment.map(|p| p.result_code.as_str()),
            payment.map(|p| p.result_message.as_str()),
            payment.map(|p| p.success),
            payment.and_then(|p| p.auth_code.as_deref()),
            payment.and_then(|p| p.auth_date.as_deref()),
            payment.map(|p| p.source.as_str()),
            PROVIDER,
            serde_json::Value::Array(events.clone())
        )
        .fetch_one(&mut *tx)
        .await?;
        let expected_events = i64::try_from(events.len()).unwrap_or(i64::MAX);
        if written.claimed != 1
            || written.orders != 1
            || written.payments != i64::from(payment.is_some())
            || written.events != expected_events
        {
            // Claimed meanwhile, or a payment row of another order: the general path says which, with nothing of
            // this attempt kept.
            tx.rollback().await?;
            return Ok(AppliedAtOnce::NotHere);
        }
        tx.commit().await?;
        Ok(AppliedAtOnce::Applied {
            status: decision.order.status,
        })
    }
}
