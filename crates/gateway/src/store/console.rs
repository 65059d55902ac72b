//! The operator console's tables (sessions, sign-in failures, audit log) and the reads its pages need beyond the
//! order record: a searchable order list, an order's raw messages, webhook deliveries and terminal messages, and
//! the daily summary.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::{Store, StoreError};

/// A session that is signed in now.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub operator: String,
    pub expires_at: DateTime<Utc>,
    /// The SHA-256 of the operator's password hash when the session began.
    pub credential: Option<Vec<u8>>,
}

/// One entry of the audit log.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub id: i64,
    pub operator: String,
    pub action: String,
    pub order_id: Option<String>,
    pub at: DateTime<Utc>,
    pub outcome: String,
    pub detail: String,
}

/// What the audit log records of one action.
pub struct NewAuditEntry<'a> {
    pub operator: &'a str,
    pub action: &'a str,
    pub order_id: Option<&'a str>,
    pub outcome: &'a str,
    pub detail: &'a str,
}

/// Which orders the console's list shows; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct OrderSearch {
    pub status: Option<String>,
    pub pay_method: Option<String>,
    pub channel: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// An order id, a TID, or part of the buyer's name or e-mail address.
    pub text: Option<String>,
}

/// An order as a line of the list.
#[derive(Debug, Clone)]
pub struct OrderLine {
    pub order_id: String,
    pub seq: i64,
    pub status: String,
    pub channel: String,
    pub pay_method: String,
    pub amount: i64,
    pub paid_amount: i64,
    pub cancelled_amount: i64,
    pub refunded_amount: i64,
    pub goods_name: String,
    pub buyer_name: String,
    pub buyer_email: String,
    pub tid: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A raw message from Smartro about an order, as received, with what became of it.
#[derive(Debug, Clone)]
pub struct RawMessage {
    pub id: i64,
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub body: Vec<u8>,
    pub remote_addr: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub tid: Option<String>,
    pub confirmed_by: Option<String>,
}

/// One delivery attempt of a webhook event.
#[derive(Debug, Clone)]
pub struct DeliveryAttempt {
    pub event_id: String,
    pub attempted_at: DateTime<Utc>,
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
}

/// A message exchanged with a card terminal about one of the order's transactions. The frame itself is not
/// read here: the type and the gateway's note say what it was.
#[derive(Debug, Clone)]
pub struct TerminalMessage {
    pub seq: i64,
    pub terminal_id: String,
    pub direction: String,
    pub message_type: Option<String>,
    pub transaction_id: Option<Uuid>,
    pub note: Option<String>,
    pub at: DateTime<Utc>,
}

/// Counts and sums of the orders paid in one period, for one pay method or channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub key: String,
    pub count: i64,
    pub paid: i64,
    pub cancelled: i64,
    pub refunded: i64,
}

impl Store {
    pub async fn insert_console_session(
        &self,
        token_sha256: &[u8],
        operator: &str,
        credential: &[u8],
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "INSERT INTO console_sessions (token_sha256, operator, credential, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
            token_sha256,
            operator,
            credential,
            now,
            expires_at
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session of this token if it is signed in at `now`: not expired, not signed out.
    pub async fn console_session(
        &self,
        token_sha256: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        Ok(sqlx::query_as!(
            ConsoleSession,
            "SELECT operator, expires_at, credential FROM console_sessions
             WHERE token_sha256 = $1 AND signed_out_at IS NULL AND expires_at > $2",
            token_sha256,
            now
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Ends the session for good: its cookie, sent again, finds nothing.
    pub async fn end_console_session(
        &self,
        token_sha256: &[u8],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query!(
            "UPDATE console_sessions SET signed_out_at = $2 WHERE token_sha256 = $1 AND signed_out_at IS NULL",
            token_sha256,
            now
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sessions that ended (expired or signed out) and sign-in failures older than `before` are of no further
    /// use.
    pub async fn purge_console_sign_ins(&self, before: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query!(
            "DELETE FROM console_sessions WHERE expires_at < $1 OR signed_out_at < $1",
            before
        )
        .execute(&self.pool)
        .await?;
        sqlx::query!("DELETE FROM console_sign_in_failures WHERE at < $1", before)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failed sign-ins since `since`: for this name, and from this address.
    pub async fn sign_in_failures(
        &self,
        name: &str,
        client_addr: &str,
        since: DateTime<Utc>,
    ) -> Result<(i64, i64), StoreError> {
        let row = sqlx::query!(
            r#"SELECT
                 (SELECT count(*) FROM console_sign_in_failures WHERE name = $1 AND at > $3) AS "by_name!",
                 (SELECT count(*) FROM console_sign_in_failures WHERE client_addr = $2 AND at > $3) AS "by_addr!""#,
            name,
            client_addr,
            since
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.by_name, row.by_addr))
    }

    /// Stores a sign-in attempt as failed; its id, to forget it by.
    pub async fn record_sign_in_failure(
        &self,
        name: &str,
        client_addr: &str,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            "INSERT INTO console_sign_in_failures (name, client_addr, at) VALUES ($1, $2, $3) RETURNING id",
            name,
            client_addr,
            now
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Forgets one attempt stored by [`Store::record_sign_in_failure`].
    pub async fn forget_sign_in_failure(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM console_sign_in_failures WHERE id = $1", id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A successful sign-in forgets the name's failures (the address's stay: it may be guessing other names).
    pub async fn clear_sign_in_failures(&self, name: &str) -> Result<(), StoreError> {
        sqlx::query!("DELETE FROM console_sign_in_failures WHERE name = $1", name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn insert_audit(
        &self,
        entry: &NewAuditEntry<'_>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar!(
            "INSERT INTO console_audit (operator, action, order_id, at, outcome, detail)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            entry.operator,
            entry.action,
            entry.order_id,
            now,
            entry.outcome,
            entry.detail
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Settles an entry written `pending` before its action ran: what the action came to.
    pub async fn settle_audit(
        &self,
        id: i64,
        outcome: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let settled = sqlx::query!(
            "UPDATE console_audit SET outcome = $2, detail = $3 WHERE id = $1 AND outcome = 'pending'",
            id,
            outcome,
            detail
        )
        .execute(&self.pool)
        .await?;
        if settled.rows_affected() != 1 {
            return Err(StoreError::Corrupt(format!(
                "audit entry {id} is not a pending one"
            )));
        }
        Ok(())
    }

    /// The console actions on an order, oldest first.
    pub async fn order_audit(&self, order_id: &str) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(sqlx::query_as!(
            AuditEntry,
            "SELECT id, operator, action, order_id, at, outcome, detail FROM console_audit
             WHERE order_id = $1 ORDER BY id",
            order_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Orders newest first that pass `search`, at most `limit`, older than `before_seq` when given.
    pub async fn search_orders(
        &self,
        search: &OrderSearch,
        limit: i64,
        before_seq: Option<i64>,
    ) -> Result<Vec<OrderLine>, StoreError> {
        // The text matches an order id or TID exactly, or the start of an order id, or part of the buyer's name
        // or e-mail; LIKE's wildcards in it are taken literally.
        let pattern = search.text.as_deref().map(|t| {
            t.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        });
        Ok(sqlx::query_as!(
            OrderLine,
            r#"SELECT o.order_id, o.seq, o.status, o.channel, o.pay_method, o.amount, o.paid_amount,
                 o.cancelled_amount, o.refunded_amount, o.goods_name, o.buyer_name, o.buyer_email, o.tid,
                 o.created_at
               FROM orders o
               WHERE ($1::text IS NULL OR o.status = $1) AND ($2::text IS NULL OR o.pay_method = $2)
                 AND ($3::text IS NULL OR o.channel = $3)
                 AND ($4::timestamptz IS NULL OR o.created_at >= $4)
                 AND ($5::timestamptz IS NULL OR o.created_at < $5)
                 AND ($6::bigint IS NULL OR o.seq < $6)
                 AND ($7::text IS NULL
                      OR o.order_id = $7 OR o.tid = $7
                      OR o.order_id LIKE $8 || '%'
                      OR o.buyer_name ILIKE '%' || $8 || '%'
                      OR o.buyer_email ILIKE '%' || $8 || '%'
                      OR o.order_id IN (SELECT p.order_id FROM payments p WHERE p.tid = $7))
               ORDER BY o.seq DESC LIMIT $9"#,
            search.status,
            search.pay_method,
            search.channel,
            search.created_from,
            search.created_to,
            before_seq,
            search.text,
            pattern,
            limit
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The raw messages Smartro sent about an order (returnPay and inform), oldest first, whatever became of
    /// them: a rejected one names the order it claimed.
    pub async fn order_raw_messages(&self, order_id: &str) -> Result<Vec<RawMessage>, StoreError> {
        Ok(sqlx::query_as!(
            RawMessage,
            "SELECT id, source, received_at, body, remote_addr, outcome, detail, tid, confirmed_by
             FROM notifications WHERE order_id = $1 ORDER BY received_at, id",
            order_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every delivery attempt of the order's webhook events, oldest first.
    pub async fn order_delivery_attempts(
        &self,
        order_id: &str,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        Ok(sqlx::query_as!(
            DeliveryAttempt,
            "SELECT a.event_id, a.attempted_at, a.status_code, a.latency_ms, a.error
             FROM webhook_attempts a JOIN outbox_events e ON e.id = a.event_id
             WHERE e.order_id = $1 ORDER BY a.attempted_at, a.id",
            order_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The messages exchanged with terminals about the order's transactions, oldest first.
    pub async fn order_terminal_messages(
        &self,
        order_id: &str,
    ) -> Result<Vec<TerminalMessage>, StoreError> {
        Ok(sqlx::query_as!(
            TerminalMessage,
            "SELECT m.seq, m.terminal_id, m.direction, m.message_type, m.transaction_id, m.note, m.at
             FROM terminal_messages m JOIN terminal_transactions t ON t.id = m.transaction_id
             WHERE t.order_id = $1 ORDER BY m.seq",
            order_id
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Orders paid in `[from, to)`, per pay method and per channel, with what has since gone back of them.
    pub async fn paid_summary(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<(Vec<SummaryRow>, Vec<SummaryRow>), StoreError> {
        let by_method = sqlx::query_as!(
            SummaryRow,
            r#"SELECT pay_method AS "key!", count(*) AS "count!", COALESCE(sum(paid_amount), 0)::bigint AS "paid!",
                 COALESCE(sum(cancelled_amount), 0)::bigint AS "cancelled!",
                 COALESCE(sum(refunded_amount), 0)::bigint AS "refunded!"
               FROM orders WHERE paid_at >= $1 AND paid_at < $2 AND paid_amount > 0
               GROUP BY pay_method ORDER BY pay_method"#,
            from,
            to
        )
        .fetch_all(&self.pool)
        .await?;
        let by_channel = sqlx::query_as!(
            SummaryRow,
            r#"SELECT channel AS "key!", count(*) AS "count!", COALESCE(sum(paid_amount), 0)::bigint AS "paid!",
                 COALESCE(sum(cancelled_amount), 0)::bigint AS "cancelled!",
                 COALESCE(sum(refunded_amount), 0)::bigint AS "refunded!"
               FROM orders WHERE paid_at >= $1 AND paid_at < $2 AND paid_amount > 0
               GROUP BY channel ORDER BY channel"#,
            from,
            to
        )
        .fetch_all(&self.pool)
        .await?;
        Ok((by_method, by_channel))
    }
}
