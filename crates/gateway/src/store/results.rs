use std::collections::HashSet;

use chrono::{DateTime, SubsecRound, Utc};
use sqlx::types::Json;
use sqlx::{Postgres, Transaction};

use super::notifications::{mark, NotificationOutcome};
use super::orders::{load_record, save_state};
use super::outbox::{insert_events, Render};
use super::resolutions::{follow_cancellation, ResolutionRow};
use super::terminal::TerminalTxRow;
use super::{CancellationRow, OrderRecord, OrderRow, PaymentRow, RefundRow, Store, StoreError};
use crate::domain::{
    self, Confirmed, Effect, MessageLabels, OrderStatus, ResultSource, VerifiedResult,
};

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

/// What [`Store::apply_with_messages`] did with one result.
#[derive(Debug, Clone, PartialEq)]
pub enum AppliedAtOnce {
    /// The raw message, the claim of its result and everything the result changed are committed together.
    Applied { status: OrderStatus },
    /// Nothing of this result was written: the order is unknown, the result was applied before, a TID is another
    /// order's, the decision is more than a payment, another result of the same group is for the same order, or the
    /// group could not be written whole. The caller takes the general path, which stores the raw message on its own
    /// first.
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

/// One result from an allow-listed notifier with its raw message, for [`Store::apply_with_messages`]. Owned, since
/// a group is written by a task of its own, which a buyer or notifier hanging up cannot cancel halfway.
#[derive(Debug, Clone)]
pub struct ResultAtOnce {
    pub source: ResultSource,
    pub body: Vec<u8>,
    pub headers: serde_json::Value,
    pub remote_addr: Option<String>,
    pub received_at: DateTime<Utc>,
    pub result: VerifiedResult,
    pub confirmed: Confirmed,
    /// The id of what the decision may create (as in `apply_result`).
    pub new_id: uuid::Uuid,
}

/// The rows of a group's results, column by column, for the one statement that writes them all.
#[derive(Default)]
struct GroupRows<'a> {
    // notifications (and their claims), one per written result
    n_source: Vec<&'a str>,
    n_received_at: Vec<DateTime<Utc>>,
    n_body: Vec<&'a [u8]>,
    n_headers: Vec<serde_json::Value>,
    n_remote_addr: Vec<Option<&'a str>>,
    n_mid: Vec<Option<String>>,
    n_tid: Vec<Option<String>>,
    n_order_id: Vec<&'a str>,
    n_dedupe_key: Vec<&'a str>,
    n_confirmed_by: Vec<&'a str>,
    // TIDs bound by this group
    b_tid: Vec<&'a str>,
    b_order_id: Vec<&'a str>,
    b_bound_at: Vec<DateTime<Utc>>,
    // orders as the decisions leave them (see `saved_row`)
    o_order_id: Vec<&'a str>,
    o_status: Vec<&'static str>,
    o_paid_amount: Vec<i64>,
    o_cancelled_amount: Vec<i64>,
    o_tid: Vec<Option<String>>,
    o_result_code: Vec<Option<String>>,
    o_result_message: Vec<Option<String>>,
    o_review_reason: Vec<Option<String>>,
    o_paid_at: Vec<Option<DateTime<Utc>>>,
    o_updated_at: Vec<DateTime<Utc>>,
    o_expires_at: Vec<DateTime<Utc>>,
    o_amount: Vec<i64>,
    o_refunded_amount: Vec<i64>,
    o_review_tid: Vec<Option<String>>,
    o_card_issuer_code: Vec<Option<String>>,
    o_card_issuer_name: Vec<Option<String>>,
    o_card_acquirer_code: Vec<Option<String>>,
    o_card_quota: Vec<Option<String>>,
    o_card_masked_number: Vec<Option<String>>,
    o_vbank_bank_code: Vec<Option<String>>,
    o_vbank_bank_name: Vec<Option<String>>,
    o_vbank_account: Vec<Option<String>>,
    o_cash_receipt_type: Vec<Option<String>>,
    o_cash_receipt_approval_no: Vec<Option<String>>,
    o_cash_receipt_issued_at: Vec<Option<DateTime<Utc>>>,
    // payments recorded (inserted, or updated when the TID is already this order's)
    p_tid: Vec<String>,
    p_order_id: Vec<&'a str>,
    p_mid: Vec<String>,
    p_pay_method: Vec<&'static str>,
    p_amount: Vec<i64>,
    p_result_code: Vec<String>,
    p_result_message: Vec<String>,
    p_success: Vec<bool>,
    p_auth_code: Vec<Option<String>>,
    p_auth_date: Vec<Option<String>>,
    p_source: Vec<&'static str>,
    p_at: Vec<DateTime<Utc>>,
    // webhook events, in the order they are to be delivered
    events: Vec<serde_json::Value>,
}

impl Store {
    /// Applies results confirmed without asking anyone (an allow-listed notifier) together with their raw
    /// messages, as one group: one transaction, one commit, and each statement writing the rows of all of them.
    /// A message is stored with its interpretation, never without it, and an answer `OK` follows only this commit.
    /// Three statements: [`lock_result_orders`] (lock and read), one statement writing every decision, COMMIT.
    ///
    /// Only the common case is taken here (a new result whose decision is a payment with its events, one per
    /// order); any other result answers [`AppliedAtOnce::NotHere`] with nothing of it written, so that the general
    /// path decides it as before. The group is all or nothing: when the statement cannot write every decision it
    /// was given (a result claimed, a payment row or a TID taken meanwhile), it is rolled back and every result of
    /// the group answers `NotHere`. The answers are in the order of `items`.
    pub async fn apply_with_messages(
        &self,
        items: &[ResultAtOnce],
        render: &Render<'_>,
    ) -> Result<Vec<AppliedAtOnce>, StoreError> {
        let mut answers = vec![AppliedAtOnce::NotHere; items.len()];
        // One result per order, per TID and per dedupe key in a group: a second one is decided after the first, by
        // the general path (which also refuses a TID replayed onto another order).
        let (mut orders, mut tids, mut keys) = (HashSet::new(), HashSet::new(), HashSet::new());
        let group: Vec<usize> = (0..items.len())
            .filter(|&i| {
                let r = &items[i].result;
                items[i].confirmed.listed_partial_cancels.is_none()
                    && orders.insert(r.order_id.as_str())
                    && tids.insert(r.tid.as_str())
                    && keys.insert(r.dedupe_key.as_str())
            })
            .collect();
        if group.is_empty() {
            return Ok(answers);
        }
        let order_ids: Vec<&str> = group
            .iter()
            .map(|&i| items[i].result.order_id.as_str())
            .collect();
        let tids: Vec<&str> = group
            .iter()
            .map(|&i| items[i].result.tid.as_str())
            .collect();
        let other_tids: Vec<Option<&str>> =
            group.iter().map(|&i| items[i].result.other_tid()).collect();
        let dedupe_keys: Vec<&str> = group
            .iter()
            .map(|&i| items[i].result.dedupe_key.as_str())
            .collect();

        // Generic plans: a group's statements differ only in their arrays' lengths, and planning them anew for
        // every group (PostgreSQL's choice for array parameters) cost more than running them. A lock timeout: a
        // group waits for nobody for long (its orders are locked with SKIP LOCKED; a TID or a dedupe key another
        // transaction is writing can still make it wait), so that the results queued behind it keep moving; on
        // timeout its results take the general path.
        let mut tx = self
            .pool
            .begin_with(
                "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL lock_timeout = '2s'",
            )
            .await?;
        let rows = sqlx::query!(
            r#"SELECT idx AS "idx!", order_row AS "order_row!: Json<OrderRow>",
                 payments AS "payments!: Json<Vec<PaymentRow>>",
                 cancellations AS "cancellations!: Json<Vec<CancellationRow>>",
                 refunds AS "refunds!: Json<Vec<RefundRow>>",
                 resolutions AS "resolutions!: Json<Vec<ResolutionRow>>",
                 terminal AS "terminal!: Json<Vec<TerminalTxRow>>",
                 tid_owner, other_tid_owner, applied AS "applied!"
               FROM lock_result_orders($1, $2, $3, $4, $5)"#,
            &order_ids as &[&str],
            PROVIDER,
            &tids as &[&str],
            &other_tids as _,
            &dedupe_keys as &[&str],
        )
        .fetch_all(&mut *tx)
        .await?;

        // In dedupe-key order, so that the claims of two groups are always taken in the same order (no deadlock).
        let mut rows: Vec<_> = rows
            .into_iter()
            .filter_map(|row| {
                let idx = usize::try_from(row.idx).ok()?;
                group.get(idx.wrapping_sub(1)).map(|&i| (i, row))
            })
            .collect();
        rows.sort_by(|(a, _), (b, _)| {
            items[*a]
                .result
                .dedupe_key
                .cmp(&items[*b].result.dedupe_key)
        });
        let mut w = GroupRows::default();
        let mut bindings = Vec::new();
        let mut applied = Vec::new();
        for (i, row) in rows {
            let item = &items[i];
            let result = &item.result;
            let elsewhere = |owner: &Option<String>| {
                owner
                    .as_deref()
                    .is_some_and(|owner| owner != result.order_id)
            };
            if row.applied || elsewhere(&row.tid_owner) || elsewhere(&row.other_tid_owner) {
                continue;
            }
            // What PostgreSQL keeps (microseconds), so that the events show the order exactly as it is stored.
            let now = item.received_at.trunc_subsecs(6);
            let mut record = OrderRecord {
                order: row.order_row.0,
                payments: row.payments.0,
                cancellations: row.cancellations.0,
                refunds: row.refunds.0,
                resolutions: row.resolutions.0,
                terminal_transactions: row.terminal.0,
            };
            let before = record.state()?;
            let decision = domain::apply_result(&before, result, now, item.new_id);
            let mut payment = None;
            let mut details = None;
            let mut common = true;
            for effect in &decision.effects {
                match effect {
                    Effect::RecordPayment(p) if payment.is_none() => payment = Some(p),
                    Effect::RecordDetails(d) if details.is_none() => details = Some(d),
                    Effect::Emit(_) => {}
                    _ => common = false,
                }
            }
            if !common {
                continue;
            }
            record.order = saved_row(&record.order, &decision.order, details, now);
            if let Some(p) = payment {
                saved_payments(&mut record.payments, p, &result.order_id, now);
            }
            let order = render(&record);
            for event in decision.events() {
                // Time-ordered, as in `insert_events`.
                let id = format!("evt_{}", uuid::Uuid::now_v7().simple());
                w.events.push(serde_json::json!({
                    "id": id,
                    "order_id": result.order_id,
                    "type": event.as_str(),
                    "created_at": now,
                    "payload": {
                        "id": id,
                        "type": event.as_str(),
                        "created_at": now,
                        "data": { "order": order },
                    },
                }));
            }
            let labels = result.labels();
            w.n_source.push(item.source.as_str());
            w.n_received_at.push(now);
            w.n_body.push(&item.body);
            w.n_headers.push(item.headers.clone());
            w.n_remote_addr.push(item.remote_addr.as_deref());
            w.n_mid.push(labels.mid);
            w.n_tid.push(labels.tid);
            w.n_order_id.push(&result.order_id);
            w.n_dedupe_key.push(&result.dedupe_key);
            w.n_confirmed_by.push(item.confirmed.by.as_str());
            if row.tid_owner.is_none() {
                bindings.push((result.tid.as_str(), result.order_id.as_str(), now));
            }
            let o = record.order;
            w.o_order_id.push(&result.order_id);
            w.o_status.push(o.status.as_str());
            w.o_paid_amount.push(o.paid_amount);
            w.o_cancelled_amount.push(o.cancelled_amount);
            w.o_tid.push(o.tid);
            w.o_result_code.push(o.result_code);
            w.o_result_message.push(o.result_message);
            w.o_review_reason.push(o.review_reason);
            w.o_paid_at.push(o.paid_at);
            w.o_updated_at.push(o.updated_at);
            w.o_expires_at.push(o.expires_at);
            w.o_amount.push(o.amount);
            w.o_refunded_amount.push(o.refunded_amount);
            w.o_review_tid.push(o.review_tid);
            w.o_card_issuer_code.push(o.card_issuer_code);
            w.o_card_issuer_name.push(o.card_issuer_name);
            w.o_card_acquirer_code.push(o.card_acquirer_code);
            w.o_card_quota.push(o.card_quota);
            w.o_card_masked_number.push(o.card_masked_number);
            w.o_vbank_bank_code.push(o.vbank_bank_code);
            w.o_vbank_bank_name.push(o.vbank_bank_name);
            w.o_vbank_account.push(o.vbank_account);
            w.o_cash_receipt_type.push(o.cash_receipt_type);
            w.o_cash_receipt_approval_no
                .push(o.cash_receipt_approval_no);
            w.o_cash_receipt_issued_at.push(o.cash_receipt_issued_at);
            if let Some(p) = payment {
                w.p_tid.push(p.tid.clone());
                w.p_order_id.push(&result.order_id);
                w.p_mid.push(p.mid.clone());
                w.p_pay_method
                    .push(p.pay_method.map_or("UNKNOWN", domain::PayMethod::as_str));
                w.p_amount.push(p.amount);
                w.p_result_code.push(p.result_code.clone());
                w.p_result_message.push(p.result_message.clone());
                w.p_success.push(p.success);
                w.p_auth_code.push(p.auth_code.clone());
                w.p_auth_date.push(p.auth_date.clone());
                w.p_source.push(p.source.as_str());
                w.p_at.push(now);
            }
            applied.push((i, decision.order.status));
        }
        if applied.is_empty() {
            tx.rollback().await?;
            return Ok(answers);
        }
        // In TID order, for the same reason as the claims.
        bindings.sort_unstable();
        for (tid, order_id, at) in bindings {
            w.b_tid.push(tid);
            w.b_order_id.push(order_id);
            w.b_bound_at.push(at);
        }

        let expected_events = w.events.len();
        let written = sqlx::query!(
            r#"WITH n AS (
                 INSERT INTO notifications (source, received_at, body, headers, remote_addr, outcome, mid, tid,
                   order_id, dedupe_key, confirmed_by, processed_at)
                 SELECT source, received_at, body, headers, remote_addr, 'applied', mid, tid, order_id, dedupe_key,
                   confirmed_by, received_at
                 FROM unnest($1::text[], $2::timestamptz[], $3::bytea[], $4::jsonb[], $5::text[], $6::text[],
                   $7::text[], $8::text[], $9::text[], $10::text[])
                   AS i(source, received_at, body, headers, remote_addr, mid, tid, order_id, dedupe_key, confirmed_by)
                 RETURNING id, order_id, dedupe_key, processed_at),
               b AS (
                 INSERT INTO tid_bindings (provider, tid, order_id, bound_at)
                 SELECT $11, tid, order_id, bound_at FROM unnest($12::text[], $13::text[], $14::timestamptz[])
                   AS b(tid, order_id, bound_at)
                 ON CONFLICT (provider, tid) DO NOTHING RETURNING 1),
               -- TIDs are bound before results are claimed (the condition makes the claims wait for `b`), as the
               -- general path binds before it claims: two transactions never wait for each other in a cycle.
               claim AS (
                 INSERT INTO applied_results (dedupe_key, order_id, notification_id, applied_at)
                 SELECT dedupe_key, order_id, id, processed_at FROM n
                 WHERE (SELECT count(*) FROM b) >= 0
                 ON CONFLICT (dedupe_key) DO NOTHING RETURNING dedupe_key, order_id, applied_at),
               o AS (
                 UPDATE orders SET status = u.status, paid_amount = u.paid_amount,
                   cancelled_amount = u.cancelled_amount, tid = u.tid, result_code = u.result_code,
                   result_message = u.result_message, review_reason = u.review_reason, paid_at = u.paid_at,
                   updated_at = u.updated_at, expires_at = u.expires_at, amount = u.amount,
                   refunded_amount = u.refunded_amount, review_tid = u.review_tid,
                   card_issuer_code = u.card_issuer_code, card_issuer_name = u.card_issuer_name,
                   card_acquirer_code = u.card_acquirer_code, card_quota = u.card_quota,
                   card_masked_number = u.card_masked_number, vbank_bank_code = u.vbank_bank_code,
                   vbank_bank_name = u.vbank_bank_name, vbank_account = u.vbank_account,
                   cash_receipt_type = u.cash_receipt_type, cash_receipt_approval_no = u.cash_receipt_approval_no,
                   cash_receipt_issued_at = u.cash_receipt_issued_at
                 FROM unnest($15::text[], $16::text[], $17::bigint[], $18::bigint[], $19::text[], $20::text[],
                   $21::text[], $22::text[], $23::timestamptz[], $24::timestamptz[], $25::timestamptz[],
                   $26::bigint[], $27::bigint[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[],
                   $33::text[], $34::text[], $35::text[], $36::text[], $37::text[], $38::text[],
                   $39::timestamptz[])
                   AS u(order_id, status, paid_amount, cancelled_amount, tid, result_code, result_message,
                     review_reason, paid_at, updated_at, expires_at, amount, refunded_amount, review_tid,
                     card_issuer_code, card_issuer_name, card_acquirer_code, card_quota, card_masked_number,
                     vbank_bank_code, vbank_bank_name, vbank_account, cash_receipt_type, cash_receipt_approval_no,
                     cash_receipt_issued_at)
                 WHERE orders.order_id = u.order_id AND u.order_id IN (SELECT order_id FROM claim)
                 RETURNING 1),
               p AS (
                 INSERT INTO payments (tid, order_id, mid, pay_method, amount, result_code, result_message,
                   success, auth_code, auth_date, source, created_at, updated_at, provider)
                 SELECT tid, order_id, mid, pay_method, amount, result_code, result_message, success, auth_code,
                   auth_date, source, at, at, $11
                 FROM unnest($40::text[], $41::text[], $42::text[], $43::text[], $44::bigint[], $45::text[],
                   $46::text[], $47::boolean[], $48::text[], $49::text[], $50::text[], $51::timestamptz[])
                   AS p(tid, order_id, mid, pay_method, amount, result_code, result_message, success, auth_code,
                     auth_date, source, at)
                 WHERE p.order_id IN (SELECT order_id FROM claim)
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
                 SELECT x->>'id', x->>'order_id', x->>'type', x->'payload', (x->>'created_at')::timestamptz,
                   (x->>'created_at')::timestamptz, (x->>'created_at')::timestamptz
                 FROM jsonb_array_elements($52::jsonb) WITH ORDINALITY AS e(x, k)
                 WHERE x->>'order_id' IN (SELECT order_id FROM claim)
                 ORDER BY k
                 RETURNING 1),
               -- Other deliveries of these results still waiting for confirmation have nothing left to wait for.
               d AS (
                 -- (The keys as an array: probed in the partial index of unconfirmed results, however many
                 -- forged ones wait there.)
                 UPDATE notifications SET outcome = 'duplicate', next_check_at = NULL, processed_at = c.applied_at
                 FROM claim c
                 WHERE notifications.dedupe_key = ANY (ARRAY(SELECT dedupe_key FROM claim))
                   AND notifications.outcome = 'unconfirmed'
                   AND notifications.dedupe_key = c.dedupe_key AND notifications.order_id = c.order_id)
               SELECT (SELECT count(*) FROM claim) AS "claimed!", (SELECT count(*) FROM b) AS "bound!",
                 (SELECT count(*) FROM o) AS "orders!", (SELECT count(*) FROM p) AS "payments!",
                 (SELECT count(*) FROM e) AS "events!""#,
            &w.n_source as &[&str],
            &w.n_received_at,
            &w.n_body as &[&[u8]],
            &w.n_headers,
            &w.n_remote_addr as _,
            &w.n_mid as _,
            &w.n_tid as _,
            &w.n_order_id as &[&str],
            &w.n_dedupe_key as &[&str],
            &w.n_confirmed_by as &[&str],
            PROVIDER,
            &w.b_tid as &[&str],
            &w.b_order_id as &[&str],
            &w.b_bound_at,
            &w.o_order_id as &[&str],
            &w.o_status as &[&str],
            &w.o_paid_amount,
            &w.o_cancelled_amount,
            &w.o_tid as _,
            &w.o_result_code as _,
            &w.o_result_message as _,
            &w.o_review_reason as _,
            &w.o_paid_at as _,
            &w.o_updated_at,
            &w.o_expires_at,
            &w.o_amount,
            &w.o_refunded_amount,
            &w.o_review_tid as _,
            &w.o_card_issuer_code as _,
            &w.o_card_issuer_name as _,
            &w.o_card_acquirer_code as _,
            &w.o_card_quota as _,
            &w.o_card_masked_number as _,
            &w.o_vbank_bank_code as _,
            &w.o_vbank_bank_name as _,
            &w.o_vbank_account as _,
            &w.o_cash_receipt_type as _,
            &w.o_cash_receipt_approval_no as _,
            &w.o_cash_receipt_issued_at as _,
            &w.p_tid,
            &w.p_order_id as &[&str],
            &w.p_mid,
            &w.p_pay_method as &[&str],
            &w.p_amount,
            &w.p_result_code,
            &w.p_result_message,
            &w.p_success,
            &w.p_auth_code as _,
            &w.p_auth_date as _,
            &w.p_source as &[&str],
            &w.p_at,
            serde_json::Value::Array(std::mem::take(&mut w.events))
        )
        .fetch_one(&mut *tx)
        .await?;
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        if written.claimed != count(applied.len())
            || written.bound != count(w.b_tid.len())
            || written.orders != count(applied.len())
            || written.payments != count(w.p_tid.len())
            || written.events != count(expected_events)
        {
            // Claimed meanwhile, a payment row of another order, or a TID bound to another order since it was
            // read: the general path says which, result by result, with nothing of this group kept.
            tx.rollback().await?;
            return Ok(answers);
        }
        tx.commit().await?;
        for (i, status) in applied {
            answers[i] = AppliedAtOnce::Applied { status };
        }
        Ok(answers)
    }
}
