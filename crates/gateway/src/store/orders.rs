use chrono::{DateTime, SubsecRound, Utc};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::refunds::RefundRow;
use super::resolutions::ResolutionRow;
use super::terminal::TerminalTxRow;
use super::{Store, StoreError};
use crate::domain::options::SplitShare;
use crate::domain::{
    auth_date_instant, vbank_deadline, CancellationOrigin, CancellationState, CancellationStatus,
    CardDetails, CashReceipt, CashReceiptKind, Channel, OrderOptions, OrderState, OrderStatus,
    PayMethod, PaymentDetails, RecordedPayment, ResultSource, VbankDetails,
};

/// An order as the shop asked for it, validated by the API layer.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub order_id: String,
    pub mid: String,
    pub amount: i64,
    pub goods_name: String,
    pub goods_count: i32,
    pub pay_method: PayMethod,
    pub pay_type: Option<String>,
    pub mall_user_id: Option<String>,
    pub buyer_name: String,
    pub buyer_tel: String,
    pub buyer_email: String,
    pub return_url: Option<String>,
    pub vbank_exp_date: Option<String>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub metadata: Option<serde_json::Value>,
    pub checkout_token: String,
    pub expires_at: DateTime<Utc>,
    pub options: OrderOptions,
}

/// An order to create under a fresh Idempotency-Key, with the answer to store under the key (see
/// [`Store::create_orders_keyed`]).
#[derive(Debug, Clone)]
pub struct KeyedOrder {
    pub api_key_id: String,
    pub scope: String,
    pub key: String,
    pub request_hash: String,
    /// The record [`NewOrder::as_created`] predicted; it is inserted as it is.
    pub order: OrderRow,
    pub answer: serde_json::Value,
}

/// A group of [`KeyedOrder`]s as the arrays of one statement.
#[derive(Default)]
struct KeyedColumns<'a> {
    api_key_id: Vec<&'a str>,
    scope: Vec<&'a str>,
    key: Vec<&'a str>,
    request_hash: Vec<&'a str>,
    answer: Vec<&'a serde_json::Value>,
    order_id: Vec<&'a str>,
    mid: Vec<&'a str>,
    channel: Vec<&'a str>,
    status: Vec<&'a str>,
    amount: Vec<i64>,
    paid_amount: Vec<i64>,
    cancelled_amount: Vec<i64>,
    refunded_amount: Vec<i64>,
    goods_name: Vec<&'a str>,
    goods_count: Vec<i32>,
    pay_method: Vec<&'a str>,
    buyer_name: Vec<&'a str>,
    buyer_tel: Vec<&'a str>,
    buyer_email: Vec<&'a str>,
    return_url: Vec<Option<&'a str>>,
    vbank_exp_date: Vec<Option<&'a str>>,
    tax: Vec<Option<i64>>,
    svc_amt: Vec<Option<i64>>,
    metadata: Vec<Option<&'a serde_json::Value>>,
    checkout_token: Vec<&'a str>,
    created_at: Vec<DateTime<Utc>>,
    updated_at: Vec<DateTime<Utc>>,
    expires_at: Vec<DateTime<Utc>>,
    pay_type: Vec<Option<&'a str>>,
    mall_user_id: Vec<Option<&'a str>>,
    options: Vec<Option<Json<&'a OrderOptions>>>,
}

impl NewOrder {
    /// The record this order has once inserted, predicted here so that the answer to its creation can be rendered
    /// and stored in the same statement as the order ([`Store::create_orders_keyed`]), which inserts this very
    /// record. Times are cut to PostgreSQL's microseconds. `seq` is PostgreSQL's to give and is 0 here: nothing
    /// the API shows of an order depends on it.
    pub fn as_created(&self, now: DateTime<Utc>) -> OrderRecord {
        let now = in_micros(now);
        OrderRecord {
            order: OrderRow {
                order_id: self.order_id.clone(),
                seq: 0,
                mid: self.mid.clone(),
                channel: Channel::Online,
                status: OrderStatus::Pending,
                amount: self.amount,
                paid_amount: 0,
                cancelled_amount: 0,
                refunded_amount: 0,
                goods_name: self.goods_name.clone(),
                goods_count: self.goods_count,
                pay_method: self.pay_method,
                pay_type: self.pay_type.clone(),
                mall_user_id: self.mall_user_id.clone(),
                buyer_name: self.buyer_name.clone(),
                buyer_tel: self.buyer_tel.clone(),
                buyer_email: self.buyer_email.clone(),
                return_url: self.return_url.clone(),
                vbank_exp_date: self.vbank_exp_date.clone(),
                tax: self.tax,
                svc_amt: self.svc_amt,
                metadata: self.metadata.clone().map(as_jsonb_keeps),
                checkout_token: self.checkout_token.clone(),
                tid: None,
                result_code: None,
                result_message: None,
                review_reason: None,
                review_tid: None,
                vbank_bank_code: None,
                vbank_bank_name: None,
                vbank_account: None,
                card_issuer_code: None,
                card_issuer_name: None,
                card_acquirer_code: None,
                card_quota: None,
                card_masked_number: None,
                created_at: now,
                updated_at: now,
                paid_at: None,
                expires_at: in_micros(self.expires_at),
                options: Some(Json(self.options.clone())),
                cash_receipt_type: None,
                cash_receipt_approval_no: None,
                cash_receipt_issued_at: None,
            },
            payments: Vec::new(),
            cancellations: Vec::new(),
            refunds: Vec::new(),
            resolutions: Vec::new(),
            terminal_transactions: Vec::new(),
        }
    }
}

/// A time as PostgreSQL keeps it: whole microseconds (sqlx drops the nanoseconds below them).
fn in_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// A JSON value as it reads back from a `jsonb` column. PostgreSQL keeps a number as the decimal it was written
/// as and prints it in plain notation, so a float serde_json wrote with an exponent comes back spelled otherwise
/// (`1.5e17` as `150000000000000000`, which serde_json then reads as an integer), and `-0.0` as `0.0`. Everything
/// else (strings, integers, other floats; key order, which serde_json sorts anyway) comes back as it went in.
pub fn as_jsonb_keeps(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Number(n) if n.is_f64() => {
            serde_json::from_str(&in_plain_notation(&n.to_string())).unwrap_or(Value::Number(n))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(as_jsonb_keeps).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, as_jsonb_keeps(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A JSON number (`-1.25e3`) as PostgreSQL's `numeric` prints it: no exponent, as many decimals as the input
/// had after the point less its exponent, no sign on zero.
fn in_plain_notation(number: &str) -> String {
    let (negative, unsigned) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i64>().unwrap_or(0)),
        None => (unsigned, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let point = whole.len() as i64 + exponent;
    let (int_part, frac_part) = if point >= digits.len() as i64 {
        (
            format!(
                "{digits}{}",
                "0".repeat((point - digits.len() as i64) as usize)
            ),
            String::new(),
        )
    } else if point <= 0 {
        (
            "0".to_string(),
            format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize)),
        )
    } else {
        let (i, f) = digits.split_at(point as usize);
        (i.to_string(), f.to_string())
    };
    let int_part = match int_part.trim_start_matches('0') {
        "" => "0",
        trimmed => trimmed,
    };
    let zero = int_part == "0" && frac_part.bytes().all(|b| b == b'0');
    let sign = if negative && !zero { "-" } else { "" };
    if frac_part.is_empty() {
        format!("{sign}{int_part}")
    } else {
        format!("{sign}{int_part}.{frac_part}")
    }
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct OrderRow {
    pub order_id: String,
    pub seq: i64,
    pub mid: String,
    pub channel: Channel,
    pub status: OrderStatus,
    pub amount: i64,
    pub paid_amount: i64,
    pub cancelled_amount: i64,
    pub refunded_amount: i64,
    pub goods_name: String,
    pub goods_count: i32,
    pub pay_method: PayMethod,
    pub pay_type: Option<String>,
    pub mall_user_id: Option<String>,
    pub buyer_name: String,
    pub buyer_tel: String,
    pub buyer_email: String,
    pub return_url: Option<String>,
    pub vbank_exp_date: Option<String>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub metadata: Option<serde_json::Value>,
    pub checkout_token: String,
    pub tid: Option<String>,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub review_reason: Option<String>,
    pub review_tid: Option<String>,
    pub vbank_bank_code: Option<String>,
    pub vbank_bank_name: Option<String>,
    pub vbank_account: Option<String>,
    pub card_issuer_code: Option<String>,
    pub card_issuer_name: Option<String>,
    pub card_acquirer_code: Option<String>,
    pub card_quota: Option<String>,
    pub card_masked_number: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub expires_at: DateTime<Utc>,
    pub options: Option<Json<OrderOptions>>,
    pub cash_receipt_type: Option<String>,
    pub cash_receipt_approval_no: Option<String>,
    pub cash_receipt_issued_at: Option<DateTime<Utc>>,
}

/// What the buyer's JSON checkout and its status poll read of an order, fresh on every call: its checkout token,
/// whether it may be paid (status, expiry) and what the signed form is made of. A third of [`OrderRow`]'s columns:
/// the rest (payment details, metadata) would be read, sent and decoded on every call for nothing.
#[derive(Debug, Clone)]
pub struct CheckoutRow {
    pub order_id: String,
    pub mid: String,
    pub status: OrderStatus,
    pub amount: i64,
    pub goods_name: String,
    pub goods_count: i32,
    pub pay_method: PayMethod,
    pub pay_type: Option<String>,
    pub mall_user_id: Option<String>,
    pub buyer_name: String,
    pub buyer_tel: String,
    pub buyer_email: String,
    pub vbank_exp_date: Option<String>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub checkout_token: String,
    pub expires_at: DateTime<Utc>,
    pub options: Option<Json<OrderOptions>>,
}

impl CheckoutRow {
    /// What the shop asked of the payment besides the amount (nothing: the defaults).
    pub fn options(&self) -> OrderOptions {
        options_or_default(&self.options)
    }
}

impl OrderRow {
    /// What the shop asked of the payment besides the amount (nothing: the defaults).
    pub fn options(&self) -> OrderOptions {
        options_or_default(&self.options)
    }
}

fn options_or_default(options: &Option<Json<OrderOptions>>) -> OrderOptions {
    options.as_ref().map(|o| o.0.clone()).unwrap_or_default()
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct PaymentRow {
    pub provider: String,
    pub tid: String,
    pub order_id: String,
    pub mid: String,
    pub pay_method: String,
    pub amount: i64,
    pub result_code: String,
    pub result_message: String,
    pub success: bool,
    pub auth_code: Option<String>,
    pub auth_date: Option<String>,
    pub source: ResultSource,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Deserialize)]
pub struct CancellationRow {
    pub id: Uuid,
    pub order_id: String,
    pub tid: String,
    pub amount: i64,
    pub partial: bool,
    pub status: CancellationStatus,
    pub origin: CancellationOrigin,
    pub reason: String,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub cancel_num: Option<String>,
    pub ptid: Option<String>,
    pub notified: bool,
    pub requested_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub seq: i64,
    pub provider: String,
    pub split: Option<Json<Vec<SplitShare>>>,
}

impl CancellationRow {
    pub fn state(&self) -> CancellationState {
        CancellationState {
            id: self.id,
            tid: self.tid.clone(),
            amount: self.amount,
            status: self.status,
            origin: self.origin,
            ptid: self.ptid.clone(),
            notified: self.notified,
            split: self.split.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        }
    }
}

/// An order with everything shown of it.
#[derive(Debug, Clone)]
pub struct OrderRecord {
    pub order: OrderRow,
    pub payments: Vec<PaymentRow>,
    pub cancellations: Vec<CancellationRow>,
    pub refunds: Vec<RefundRow>,
    pub resolutions: Vec<ResolutionRow>,
    /// The order's transactions on in-store terminals, oldest first (none for an online order).
    pub terminal_transactions: Vec<TerminalTxRow>,
}

impl OrderRecord {
    /// What the state machine needs of this order.
    pub fn state(&self) -> Result<OrderState, StoreError> {
        let o = &self.order;
        Ok(OrderState {
            order_id: o.order_id.clone(),
            mid: o.mid.clone(),
            amount: o.amount,
            pay_method: o.pay_method,
            status: o.status,
            paid_amount: o.paid_amount,
            cancelled_amount: o.cancelled_amount,
            refunded_amount: o.refunded_amount,
            tid: o.tid.clone(),
            result_code: o.result_code.clone(),
            result_message: o.result_message.clone(),
            review_reason: o.review_reason.clone(),
            review_tid: o.review_tid.clone(),
            paid_at: o.paid_at,
            expires_at: o.expires_at,
            vbank_deadline: o.vbank_exp_date.as_deref().and_then(vbank_deadline),
            cancellations: self
                .cancellations
                .iter()
                .map(CancellationRow::state)
                .collect(),
            split: o.options().split,
            approved_at: self
                .payments
                .iter()
                .find(|p| Some(&p.tid) == o.tid.as_ref())
                .and_then(|p| p.auth_date.as_deref())
                .and_then(auth_date_instant),
            cash_receipt: o
                .cash_receipt_type
                .as_deref()
                .and_then(CashReceiptKind::parse)
                .map(|kind| CashReceipt {
                    kind,
                    approval_no: o.cash_receipt_approval_no.clone(),
                }),
            payments: self.recorded_payments(),
        })
    }

    /// The payments recorded on this order, as a resolution of its review weighs them.
    pub fn recorded_payments(&self) -> Vec<RecordedPayment> {
        self.payments
            .iter()
            .map(|p| RecordedPayment {
                tid: p.tid.clone(),
                mid: p.mid.clone(),
                amount: p.amount,
                pay_method: PayMethod::parse(&p.pay_method),
                success: p.success,
                approved_at: p.auth_date.as_deref().and_then(auth_date_instant),
            })
            .collect()
    }
}

pub enum CreateOutcome {
    Created(Box<OrderRecord>),
    /// An order with this order_id (Moid) exists already.
    Exists,
}

impl Store {
    pub async fn create_order(
        &self,
        new: &NewOrder,
        now: DateTime<Utc>,
    ) -> Result<CreateOutcome, StoreError> {
        let row = sqlx::query_as!(
            OrderRow,
            r#"INSERT INTO orders (order_id, mid, status, amount, goods_name, goods_count, pay_method, buyer_name,
               buyer_tel, buyer_email, return_url, vbank_exp_date, tax, svc_amt, metadata, checkout_token,
               created_at, updated_at, expires_at, pay_type, mall_user_id, options)
             VALUES ($1, $2, 'pending', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17,
               $18, $19, $20)
             ON CONFLICT (order_id) DO NOTHING
             RETURNING order_id, seq, mid, channel as "channel: Channel", status as "status: OrderStatus", amount, paid_amount, cancelled_amount, refunded_amount, goods_name, goods_count, pay_method as "pay_method: PayMethod", pay_type, mall_user_id, buyer_name, buyer_tel, buyer_email, return_url, vbank_exp_date, tax, svc_amt, metadata, checkout_token, tid, result_code, result_message, review_reason, review_tid, vbank_bank_code, vbank_bank_name, vbank_account, card_issuer_code, card_issuer_name, card_acquirer_code, card_quota, card_masked_number, created_at, updated_at, paid_at, expires_at, options as "options: Json<OrderOptions>", cash_receipt_type, cash_receipt_approval_no, cash_receipt_issued_at"#,
            new.order_id,
            new.mid,
            new.amount,
            new.goods_name,
            new.goods_count,
            new.pay_method.as_str(),
            new.buyer_name,
            new.buyer_tel,
            new.buyer_email,
            new.return_url,
            new.vbank_exp_date,
            new.tax,
            new.svc_amt,
            new.metadata,
            new.checkout_token,
            now,
            new.expires_at,
            new.pay_type,
            new.mall_user_id,
            Json(&new.options) as _
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            Some(order) => CreateOutcome::Created(Box::new(OrderRecord {
                order,
                payments: Vec::new(),
                cancellations: Vec::new(),
                refunds: Vec::new(),
                resolutions: Vec::new(),
                terminal_transactions: Vec::new(),
            })),
            None => CreateOutcome::Exists,
        })
    }

    /// Creates a group of orders, each under a fresh Idempotency-Key with its answer, in one statement and one
    /// commit. The group must not hold one key (api key, scope and key) or one order_id twice. Answers, in order,
    /// whether each order was created; one whose key was used before, or whose order_id exists, was not (nothing
    /// written for it). An order_id inserted by another request while this statement runs fails the whole
    /// statement, and nothing of the group is written: the caller then creates each alone.
    pub async fn create_orders_keyed(
        &self,
        group: &[&KeyedOrder],
    ) -> Result<Vec<bool>, StoreError> {
        let mut c = KeyedColumns::default();
        for &k in group {
            let o = &k.order;
            c.api_key_id.push(k.api_key_id.as_str());
            c.scope.push(k.scope.as_str());
            c.key.push(k.key.as_str());
            c.request_hash.push(k.request_hash.as_str());
            c.answer.push(&k.answer);
            c.order_id.push(o.order_id.as_str());
            c.mid.push(o.mid.as_str());
            c.channel.push(o.channel.as_str());
            c.status.push(o.status.as_str());
            c.amount.push(o.amount);
            c.paid_amount.push(o.paid_amount);
            c.cancelled_amount.push(o.cancelled_amount);
            c.refunded_amount.push(o.refunded_amount);
            c.goods_name.push(o.goods_name.as_str());
            c.goods_count.push(o.goods_count);
            c.pay_method.push(o.pay_method.as_str());
            c.buyer_name.push(o.buyer_name.as_str());
            c.buyer_tel.push(o.buyer_tel.as_str());
            c.buyer_email.push(o.buyer_email.as_str());
            c.return_url.push(o.return_url.as_deref());
            c.vbank_exp_date.push(o.vbank_exp_date.as_deref());
            c.tax.push(o.tax);
            c.svc_amt.push(o.svc_amt);
            c.metadata.push(o.metadata.as_ref());
            c.checkout_token.push(o.checkout_token.as_str());
            c.created_at.push(o.created_at);
            c.updated_at.push(o.updated_at);
            c.expires_at.push(o.expires_at);
            c.pay_type.push(o.pay_type.as_deref());
            c.mall_user_id.push(o.mall_user_id.as_deref());
            c.options.push(o.options.as_ref().map(|j| Json(&j.0)));
        }
        let created = sqlx::query_scalar!(
            r#"WITH k AS (
                 INSERT INTO idempotency_keys (api_key_id, scope, idempotency_key, request_hash, created_at,
                   response_status, response_body)
                 SELECT a, s, k, h, at, 201, body
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::jsonb[],
                   $7::text[]) AS i(a, s, k, h, at, body, order_id)
                 -- An order that exists already: its key is not claimed (the general path records the conflict),
                 -- and the rest of the group is written. A subquery per order, not NOT EXISTS: that one becomes an
                 -- anti join, planned as a scan of all orders while the table is new and its statistics small, and
                 -- kept in the statement's generic plan as it grows (bench: 1,300 orders/s instead of 5,000).
                 WHERE (SELECT o.order_id FROM orders o WHERE o.order_id = i.order_id) IS NULL
                 ON CONFLICT DO NOTHING
                 RETURNING api_key_id, scope, idempotency_key)
             INSERT INTO orders (order_id, mid, channel, status, amount, paid_amount, cancelled_amount,
               refunded_amount, goods_name, goods_count, pay_method, buyer_name, buyer_tel, buyer_email,
               return_url, vbank_exp_date, tax, svc_amt, metadata, checkout_token, created_at, updated_at,
               expires_at, pay_type, mall_user_id, options)
             SELECT order_id, mid, channel, status, amount, paid_amount, cancelled_amount, refunded_amount,
               goods_name, goods_count, pay_method, buyer_name, buyer_tel, buyer_email, return_url, vbank_exp_date,
               tax, svc_amt, metadata, checkout_token, created_at, updated_at, expires_at, pay_type, mall_user_id,
               options
             FROM unnest($1::text[], $2::text[], $3::text[], $7::text[], $8::text[], $9::text[], $10::text[],
               $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::text[], $16::integer[],
               $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[], $23::bigint[],
               $24::bigint[], $25::jsonb[], $26::text[], $5::timestamptz[], $27::timestamptz[],
               $28::timestamptz[], $29::text[], $30::text[], $31::jsonb[]) WITH ORDINALITY
               AS o(a, s, k, order_id, mid, channel, status, amount, paid_amount, cancelled_amount,
                 refunded_amount, goods_name, goods_count, pay_method, buyer_name, buyer_tel, buyer_email,
                 return_url, vbank_exp_date, tax, svc_amt, metadata, checkout_token, created_at, updated_at,
                 expires_at, pay_type, mall_user_id, options, n)
             WHERE (a, s, k) IN (SELECT api_key_id, scope, idempotency_key FROM k)
             ORDER BY n
             RETURNING order_id"#,
            &c.api_key_id as _,
            &c.scope as _,
            &c.key as _,
            &c.request_hash as _,
            &c.created_at,
            &c.answer as _,
            &c.order_id as _,
            &c.mid as _,
            &c.channel as _,
            &c.status as _,
            &c.amount,
            &c.paid_amount,
            &c.cancelled_amount,
            &c.refunded_amount,
            &c.goods_name as _,
            &c.goods_count,
            &c.pay_method as _,
            &c.buyer_name as _,
            &c.buyer_tel as _,
            &c.buyer_email as _,
            &c.return_url as _,
            &c.vbank_exp_date as _,
            &c.tax as _,
            &c.svc_amt as _,
            &c.metadata as _,
            &c.checkout_token as _,
            &c.updated_at,
            &c.expires_at,
            &c.pay_type as _,
            &c.mall_user_id as _,
            &c.options as _
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(group
            .iter()
            .map(|k| created.contains(&k.order.order_id))
            .collect())
    }

    /// What the buyer's checkout reads of an order (see [`CheckoutRow`]): one primary-key read, fresh on every call,
    /// so that whether the order is still payable is never stale.
    pub async fn get_checkout_row(
        &self,
        order_id: &str,
    ) -> Result<Option<CheckoutRow>, StoreError> {
        Ok(sqlx::query_as!(
            CheckoutRow,
            r#"SELECT order_id, mid, status as "status: OrderStatus", amount, goods_name, goods_count,
                 pay_method as "pay_method: PayMethod", pay_type, mall_user_id, buyer_name, buyer_tel, buyer_email,
                 vbank_exp_date, tax, svc_amt, checkout_token, expires_at, options as "options: Json<OrderOptions>"
               FROM orders WHERE order_id = $1"#,
            order_id
        )
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn get_order(&self, order_id: &str) -> Result<Option<OrderRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        load_record(&mut conn, order_id, false).await
    }

    /// Orders newest first that pass `filter`, each with everything shown of it; `before_seq` is the cursor of
    /// the previous page.
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        limit: i64,
        before_seq: Option<i64>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let rows = sqlx::query_as!(
            RecordJson,
            r#"SELECT row_to_json(o) AS "order!: Json<OrderRow>",
                 COALESCE((SELECT json_agg(p ORDER BY p.created_at, p.tid) FROM payments p
                           WHERE p.order_id = o.order_id), '[]') AS "payments!: Json<Vec<PaymentRow>>",
                 COALESCE((SELECT json_agg(c ORDER BY c.requested_at, c.seq) FROM cancellations c
                           WHERE c.order_id = o.order_id), '[]') AS "cancellations!: Json<Vec<CancellationRow>>",
                 COALESCE((SELECT json_agg(r ORDER BY r.created_at, r.seq) FROM refunds r
                           WHERE r.order_id = o.order_id), '[]') AS "refunds!: Json<Vec<RefundRow>>",
                 COALESCE((SELECT json_agg(v ORDER BY v.created_at, v.seq) FROM resolutions v
                           WHERE v.order_id = o.order_id), '[]') AS "resolutions!: Json<Vec<ResolutionRow>>",
             COALESCE((SELECT json_agg(t ORDER BY t.created_at, t.id) FROM terminal_transactions t
                       WHERE t.order_id = o.order_id), '[]') AS "terminal!: Json<Vec<TerminalTxRow>>"
               FROM orders o
               WHERE ($1::text IS NULL OR o.status = $1) AND ($2::bigint IS NULL OR o.seq < $2)
                 AND ($4::text IS NULL OR o.pay_method = $4) AND ($5::text IS NULL OR o.channel = $5)
                 AND ($6::timestamptz IS NULL OR o.created_at >= $6)
                 AND ($7::timestamptz IS NULL OR o.created_at < $7)
                 AND ($8::text IS NULL OR o.order_id IN (SELECT p.order_id FROM payments p WHERE p.tid = $8))
               ORDER BY o.seq DESC LIMIT $3"#,
            filter.status.map(OrderStatus::as_str),
            before_seq,
            limit,
            filter.pay_method.map(PayMethod::as_str),
            filter.channel.map(Channel::as_str),
            filter.created_from,
            filter.created_to,
            filter.tid.as_deref()
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(OrderRecord::from).collect())
    }

    /// The order one of whose payments has this TID, if any. TIDs are unique within a provider; should two
    /// providers ever number alike, the online provider's (WEBLink) is the one found, as its TIDs are the ones
    /// the API has handed out so far.
    pub async fn order_of_payment(&self, tid: &str) -> Result<Option<OrderRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let order_id = sqlx::query_scalar!(
            "SELECT order_id FROM payments WHERE tid = $1
             ORDER BY provider = $2 DESC, provider LIMIT 1",
            tid,
            super::WEBLINK
        )
        .fetch_optional(&mut *conn)
        .await?;
        match order_id {
            Some(order_id) => load_record(&mut conn, &order_id, false).await,
            None => Ok(None),
        }
    }

    /// Counts of orders per status, for the metrics endpoint.
    pub async fn count_by_status(&self) -> Result<Vec<(OrderStatus, i64)>, StoreError> {
        let rows = sqlx::query!(
            r#"SELECT status as "status: OrderStatus", count(*) AS "count!" FROM orders GROUP BY status"#
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| (r.status, r.count)).collect())
    }
}

/// The order row with its payments, cancellations, refunds and resolutions as JSON, so that one round trip loads
/// the whole record.
struct RecordJson {
    order: Json<OrderRow>,
    payments: Json<Vec<PaymentRow>>,
    cancellations: Json<Vec<CancellationRow>>,
    refunds: Json<Vec<RefundRow>>,
    resolutions: Json<Vec<ResolutionRow>>,
    terminal: Json<Vec<TerminalTxRow>>,
}

impl From<RecordJson> for OrderRecord {
    fn from(r: RecordJson) -> Self {
        OrderRecord {
            order: r.order.0,
            payments: r.payments.0,
            cancellations: r.cancellations.0,
            refunds: r.refunds.0,
            resolutions: r.resolutions.0,
            terminal_transactions: r.terminal.0,
        }
    }
}

/// Which orders a list shows; `None` fields do not filter.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub pay_method: Option<PayMethod>,
    pub channel: Option<Channel>,
    /// Orders one of whose payments has this TID.
    pub tid: Option<String>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
}

/// Loads an order with its payments and cancellations; `for_update` locks the order row for the transaction.
pub(crate) async fn load_record(
    conn: &mut PgConnection,
    order_id: &str,
    for_update: bool,
) -> Result<Option<OrderRecord>, StoreError> {
    if for_update {
        // The lock is taken by a statement of its own: the load below then runs on a snapshot taken after the
        // lock was granted. Locking in the same statement would re-read the order row once a concurrent
        // transaction committed, but not the payments and cancellations beside it (READ COMMITTED re-checks only
        // the locked row), and a cancellation could be counted twice.
        let locked = sqlx::query_scalar!(
            "SELECT order_id FROM orders WHERE order_id = $1 FOR UPDATE",
            order_id
        )
        .fetch_optional(&mut *conn)
        .await?;
        if locked.is_none() {
            return Ok(None);
        }
    }
    let record = sqlx::query_as!(
        RecordJson,
        r#"SELECT row_to_json(o) AS "order!: Json<OrderRow>",
             COALESCE((SELECT json_agg(p ORDER BY p.created_at, p.tid) FROM payments p
                       WHERE p.order_id = o.order_id), '[]') AS "payments!: Json<Vec<PaymentRow>>",
             COALESCE((SELECT json_agg(c ORDER BY c.requested_at, c.seq) FROM cancellations c
                       WHERE c.order_id = o.order_id), '[]') AS "cancellations!: Json<Vec<CancellationRow>>",
             COALESCE((SELECT json_agg(r ORDER BY r.created_at, r.seq) FROM refunds r
                       WHERE r.order_id = o.order_id), '[]') AS "refunds!: Json<Vec<RefundRow>>",
             COALESCE((SELECT json_agg(v ORDER BY v.created_at, v.seq) FROM resolutions v
                       WHERE v.order_id = o.order_id), '[]') AS "resolutions!: Json<Vec<ResolutionRow>>",
             COALESCE((SELECT json_agg(t ORDER BY t.created_at, t.id) FROM terminal_transactions t
                       WHERE t.order_id = o.order_id), '[]') AS "terminal!: Json<Vec<TerminalTxRow>>"
           FROM orders o WHERE o.order_id = $1"#,
        order_id
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(record.map(OrderRecord::from))
}

/// Writes the state machine's view of the order back to its row, with the card or vbank details a result brought.
pub(crate) async fn save_state(
    tx: &mut Transaction<'_, Postgres>,
    state: &OrderState,
    details: Option<&PaymentDetails>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let card = details.and_then(|d| d.card.as_ref());
    let vbank = details.and_then(|d| d.vbank.as_ref());
    let receipt = details.and_then(|d| d.cash_receipt.as_ref());
    let card_field = |f: fn(&CardDetails) -> &Option<String>| card.and_then(|c| f(c).clone());
    let vbank_field = |f: fn(&VbankDetails) -> &Option<String>| vbank.and_then(|v| f(v).clone());
    sqlx::query!(
        "UPDATE orders SET status = $2, paid_amount = $3, cancelled_amount = $4, tid = $5, result_code = $6,
           result_message = $7, review_reason = $8, paid_at = $9, updated_at = $10, expires_at = $11,
           amount = $21, refunded_amount = $22, review_tid = $23,
           card_issuer_code = CASE WHEN $12 THEN $13 ELSE card_issuer_code END,
           card_issuer_name = CASE WHEN $12 THEN $14 ELSE card_issuer_name END,
           card_acquirer_code = CASE WHEN $12 THEN $15 ELSE card_acquirer_code END,
           card_quota = CASE WHEN $12 THEN $16 ELSE card_quota END,
           card_masked_number = CASE WHEN $12 THEN $17 ELSE card_masked_number END,
           vbank_bank_code = COALESCE($18, vbank_bank_code),
           vbank_bank_name = COALESCE($19, vbank_bank_name),
           vbank_account = COALESCE($20, vbank_account),
           cash_receipt_type = COALESCE($24, cash_receipt_type),
           cash_receipt_approval_no = CASE WHEN $24::text IS NULL THEN cash_receipt_approval_no ELSE $25 END,
           cash_receipt_issued_at = CASE WHEN $24::text IS NULL THEN cash_receipt_issued_at ELSE $10 END
         WHERE order_id = $1",
        state.order_id,
        state.status.as_str(),
        state.paid_amount,
        state.cancelled_amount,
        state.tid,
        state.result_code,
        state.result_message,
        state.review_reason,
        state.paid_at,
        now,
        state.expires_at,
        card.is_some(),
        card_field(|c| &c.issuer_code),
        card_field(|c| &c.issuer_name),
        card_field(|c| &c.acquirer_code),
        card_field(|c| &c.quota),
        card_field(|c| &c.masked_number),
        vbank_field(|v| &v.bank_code),
        vbank_field(|v| &v.bank_name),
        vbank_field(|v| &v.account),
        state.amount,
        state.refunded_amount,
        state.review_tid,
        receipt.map(|r| r.kind.as_str()),
        receipt.and_then(|r| r.approval_no.clone())
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}
