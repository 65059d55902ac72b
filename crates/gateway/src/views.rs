//! The order object of the public contract, shared by the API responses and the webhook payloads.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::options::SplitShare;
use crate::domain::{
    CancellationOrigin, CancellationStatus, Channel, OrderOptions, OrderStatus, PayMethod,
    ResolutionOutcome, ResolveAction, ResultSource, TerminalTxKind, TerminalTxStatus,
};
use crate::store::terminal::TerminalTxRow;
use crate::store::{CancellationRow, OrderRecord, PaymentRow, RefundRow, ResolutionRow};

#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    pub order_id: String,
    pub status: OrderStatus,
    pub amount: i64,
    pub paid_amount: i64,
    pub cancelled_amount: i64,
    /// Refunded by the merchant itself (bank transfer), outside Smartro.
    pub refunded_amount: i64,
    pub goods_name: String,
    pub goods_count: i32,
    pub pay_method: PayMethod,
    pub mid: String,
    pub tid: Option<String>,
    pub buyer: BuyerView,
    /// Where the order is paid: `online` (Smartro's payment window) or `terminal` (a shop's card terminal).
    pub channel: Channel,
    /// Online orders only: the buyer's payment page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
    /// Terminal orders only: the terminal and its transactions for this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terminal: Option<OrderTerminalView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_reason: Option<String>,
    /// While `needs_review`: the TID of the payment the review is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_tid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vbank: Option<VbankView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<CardView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_receipt: Option<CashReceiptView>,
    pub payments: Vec<PaymentView>,
    pub cancellations: Vec<CancellationView>,
    pub refunds: Vec<RefundView>,
    pub resolutions: Vec<ResolutionView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
    /// What the shop asked of the payment besides the amount (card, goods type, language, offer period, cash
    /// receipt, escrow, split), as it asked it.
    /// (The buyer's address, kept with them, is shown under `buyer`.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<OrderOptions>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CashReceiptView {
    /// `income_deduction` (소득공제) or `expense_proof` (지출증빙).
    #[serde(rename = "type")]
    pub kind: String,
    pub approval_no: Option<String>,
    pub issued_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BuyerView {
    pub name: String,
    pub tel: String,
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub post_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VbankView {
    pub bank_code: Option<String>,
    pub bank_name: Option<String>,
    pub account: Option<String>,
    /// The deposit deadline asked of Smartro (`YYYYMMDD`, Korean time).
    pub expires: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CardView {
    pub issuer_code: Option<String>,
    pub issuer_name: Option<String>,
    pub acquirer_code: Option<String>,
    pub quota: Option<String>,
    pub masked_number: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PaymentView {
    pub tid: String,
    pub result_code: String,
    pub result_message: String,
    pub amount: i64,
    pub success: bool,
    pub auth_code: Option<String>,
    pub auth_date: Option<String>,
    pub source: ResultSource,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CancellationView {
    pub id: String,
    pub amount: i64,
    pub partial: bool,
    pub status: CancellationStatus,
    pub origin: CancellationOrigin,
    pub reason: String,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
    pub cancel_num: Option<String>,
    pub ptid: Option<String>,
    pub requested_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
    /// The sub-mall shares a partial cancel of a split payment took back.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitShare>,
}

/// A refund the merchant made itself.
#[derive(Debug, Clone, Serialize)]
pub struct RefundView {
    pub id: String,
    pub amount: i64,
    pub reason: String,
    pub bank_code: String,
    /// From Smartro's bank code table.
    pub bank_name: Option<String>,
    /// Every digit but the last four masked.
    pub account: String,
    pub holder: String,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The id of the API key that recorded it (a hash prefix, never the key).
    pub recorded_by: String,
}

/// An operator's resolution of a review.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionView {
    pub id: String,
    pub action: ResolveAction,
    pub reason: String,
    pub tid: String,
    /// The order's amount before the resolution.
    pub former_amount: i64,
    pub resolved_by: String,
    pub outcome: ResolutionOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// A transaction on an in-store terminal (`GET /v1/terminal-transactions/{id}`).
#[derive(Debug, Clone, Serialize)]
pub struct TerminalTransactionView {
    pub id: String,
    pub terminal_id: String,
    pub kind: TerminalTxKind,
    pub status: TerminalTxStatus,
    pub ptxid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    pub amount: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_no: Option<String>,
    /// As the terminal wrote it (`YYYYMMDDhhmmss`, Korean time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<IssuerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acquirer: Option<IssuerView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_card: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_message: Option<String>,
    /// An abort was asked and not (yet) refused.
    pub abort_requested: bool,
    /// The cancellation of the order this transaction carries out (cancels only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_id: Option<String>,
    /// What a cancel cancels: the approval or cash receipt whose numbers it sent back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_id: Option<String>,
    /// Cash receipts and their cancels: for whom the receipt is, the identity number masked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cash_receipt: Option<TerminalCashReceiptView>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<DateTime<Utc>>,
}

/// The buyer side of a cash receipt. The identity number (phone, business or card number) is shown with every
/// digit but the last four masked: the API never hands it out whole.
#[derive(Debug, Clone, Serialize)]
pub struct TerminalCashReceiptView {
    /// `1` income deduction (소득공제), `2` expense proof (지출증빙).
    pub trader_type: String,
    /// Absent when the buyer keyed it in on the terminal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
}

impl TerminalCashReceiptView {
    fn of(t: &TerminalTxRow) -> Option<TerminalCashReceiptView> {
        if !matches!(
            t.kind,
            TerminalTxKind::CashReceipt | TerminalTxKind::CashReceiptCancel
        ) {
            return None;
        }
        let text = |key: &str| {
            t.request
                .get(key)
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        };
        Some(TerminalCashReceiptView {
            trader_type: text("traderType").unwrap_or_default(),
            identity: text("approvalNumber").map(|n| mask_account(&n)),
        })
    }
}

/// A card company as the terminal names it.
#[derive(Debug, Clone, Serialize)]
pub struct IssuerView {
    pub code: Option<String>,
    pub name: Option<String>,
}

impl From<&TerminalTxRow> for TerminalTransactionView {
    fn from(t: &TerminalTxRow) -> Self {
        let company = |code: &Option<String>, name: &Option<String>| {
            (code.is_some() || name.is_some()).then(|| IssuerView {
                code: code.clone(),
                name: name.clone(),
            })
        };
        TerminalTransactionView {
            id: t.id.to_string(),
            terminal_id: t.terminal_id.clone(),
            kind: t.kind,
            status: t.status,
            ptxid: t.ptxid.clone(),
            order_id: t.order_id.clone(),
            amount: t.amount,
            approved_amount: t.approved_amount,
            approval_no: t.approval_no.clone(),
            transaction_no: t.transaction_no.clone(),
            transaction_date: t.transaction_date.clone(),
            issuer: company(&t.issuer_code, &t.issuer_name),
            acquirer: company(&t.acquirer_code, &t.acquirer_name),
            masked_card: t.masked_card.clone(),
            result_code: t.result_code.clone(),
            result_message: t.result_message.clone(),
            abort_requested: t.abort_requested,
            cancellation_id: t.cancellation_id.map(|id| id.to_string()),
            original_id: t.original_id.map(|id| id.to_string()),
            cash_receipt: TerminalCashReceiptView::of(t),
            created_at: t.created_at,
            completed_at: t.completed_at,
        }
    }
}

/// The `terminal` object of a terminal order: which terminal took it, the approval that paid it, and every
/// transaction made for it (the sale, its cancel).
#[derive(Debug, Clone, Serialize)]
pub struct OrderTerminalView {
    pub terminal_id: String,
    /// The sale's transaction.
    pub transaction_id: String,
    pub status: TerminalTxStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_no: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction_date: Option<String>,
    pub transactions: Vec<TerminalTransactionView>,
}

impl OrderTerminalView {
    fn new(txs: &[TerminalTxRow]) -> Option<OrderTerminalView> {
        // A cash receipt issued for the order later is not its sale.
        let sale = txs.iter().find(|t| t.kind.is_sale())?;
        Some(OrderTerminalView {
            terminal_id: sale.terminal_id.clone(),
            transaction_id: sale.id.to_string(),
            status: sale.status,
            approval_no: sale.approval_no.clone(),
            transaction_no: sale.transaction_no.clone(),
            transaction_date: sale.transaction_date.clone(),
            transactions: txs.iter().map(TerminalTransactionView::from).collect(),
        })
    }
}

/// A bank account number as shown by the API: every digit but the last four replaced by `*`, separators kept, so
/// that a person can tell accounts apart without the API handing the number out.
pub fn mask_account(account: &str) -> String {
    let digits = account.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    account
        .chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen + 4 <= digits {
                    return '*';
                }
            }
            c
        })
        .collect()
}

/// `{public_url}/pay/{order_id}?t={token}`, the order id percent-encoded: a Moid may hold characters a URL may not
/// (Hangul, `"`, `|`, …), and the link must be a valid URL for any client that follows it.
pub fn checkout_url(public_url: &str, order_id: &str, token: &str) -> String {
    format!(
        "{}/pay/{}?t={}",
        public_url.trim_end_matches('/'),
        path_segment(order_id),
        token
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters, for an order id inside a URL path.
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl OrderView {
    pub fn new(record: &OrderRecord, public_url: &str) -> OrderView {
        let o = &record.order;
        let vbank = (o.pay_method == PayMethod::Vbank
            && (o.vbank_account.is_some() || o.vbank_exp_date.is_some()))
        .then(|| VbankView {
            bank_code: o.vbank_bank_code.clone(),
            bank_name: o.vbank_bank_name.clone(),
            account: o.vbank_account.clone(),
            expires: o.vbank_exp_date.clone(),
        });
        let card = (o.card_issuer_code.is_some()
            || o.card_acquirer_code.is_some()
            || o.card_masked_number.is_some())
        .then(|| CardView {
            issuer_code: o.card_issuer_code.clone(),
            issuer_name: o.card_issuer_name.clone(),
            acquirer_code: o.card_acquirer_code.clone(),
            quota: o.card_quota.clone(),
            masked_number: o.card_masked_number.clone(),
        });
        let mut options = o.options();
        let (address, post_code) = (options.buyer_address.take(), options.buyer_post_code.take());
        let options = (options != OrderOptions::default()).then_some(options);
        let cash_receipt = o.cash_receipt_type.as_ref().map(|kind| CashReceiptView {
            kind: kind.clone(),
            approval_no: o.cash_receipt_approval_no.clone(),
            issued_at: o.cash_receipt_issued_at,
        });
        OrderView {
            order_id: o.order_id.clone(),
            status: o.status,
            amount: o.amount,
            paid_amount: o.paid_amount,
            cancelled_amount: o.cancelled_amount,
            refunded_amount: o.refunded_amount,
            goods_name: o.goods_name.clone(),
            goods_count: o.goods_count,
            pay_method: o.pay_method,
            mid: o.mid.clone(),
            tid: o.tid.clone(),
            buyer: BuyerView {
                name: o.buyer_name.clone(),
                tel: o.buyer_tel.clone(),
                email: o.buyer_email.clone(),
                address,
                post_code,
            },
            channel: o.channel,
            checkout_url: (o.channel == Channel::Online)
                .then(|| checkout_url(public_url, &o.order_id, &o.checkout_token)),
            terminal: (o.channel == Channel::Terminal)
                .then(|| OrderTerminalView::new(&record.terminal_transactions))
                .flatten(),
            created_at: o.created_at,
            updated_at: o.updated_at,
            expires_at: o.expires_at,
            paid_at: o.paid_at,
            result_code: o.result_code.clone(),
            result_message: o.result_message.clone(),
            review_reason: o.review_reason.clone(),
            review_tid: o.review_tid.clone(),
            return_url: o.return_url.clone(),
            vbank,
            card,
            cash_receipt,
            payments: record.payments.iter().map(PaymentView::from).collect(),
            cancellations: record
                .cancellations
                .iter()
                .map(CancellationView::from)
                .collect(),
            refunds: record.refunds.iter().map(RefundView::from).collect(),
            resolutions: record
                .resolutions
                .iter()
                .map(ResolutionView::from)
                .collect(),
            metadata: o.metadata.clone(),
            options,
        }
    }
}

impl From<&PaymentRow> for PaymentView {
    fn from(p: &PaymentRow) -> Self {
        PaymentView {
            tid: p.tid.clone(),
            result_code: p.result_code.clone(),
            result_message: p.result_message.clone(),
            amount: p.amount,
            success: p.success,
            auth_code: p.auth_code.clone(),
            auth_date: p.auth_date.clone(),
            source: p.source,
            created_at: p.created_at,
        }
    }
}

impl From<&CancellationRow> for CancellationView {
    fn from(c: &CancellationRow) -> Self {
        CancellationView {
            id: c.id.to_string(),
            amount: c.amount,
            partial: c.partial,
            status: c.status,
            origin: c.origin,
            reason: c.reason.clone(),
            result_code: c.result_code.clone(),
            result_message: c.result_message.clone(),
            cancel_num: c.cancel_num.clone(),
            ptid: c.ptid.clone(),
            requested_at: c.requested_at,
            completed_at: c.completed_at,
            split: c.split.as_ref().map(|s| s.0.clone()).unwrap_or_default(),
        }
    }
}

impl From<&RefundRow> for RefundView {
    fn from(r: &RefundRow) -> Self {
        RefundView {
            id: r.id.to_string(),
            amount: r.amount,
            reason: r.reason.clone(),
            bank_code: r.bank_code.clone(),
            bank_name: smartro::codes::bank(&r.bank_code).map(|b| b.name.to_string()),
            account: mask_account(&r.account),
            holder: r.holder.clone(),
            reference: r.reference.clone(),
            created_at: r.created_at,
            recorded_by: r.recorded_by.clone(),
        }
    }
}

impl From<&ResolutionRow> for ResolutionView {
    fn from(r: &ResolutionRow) -> Self {
        ResolutionView {
            id: r.id.to_string(),
            action: r.action,
            reason: r.reason.clone(),
            tid: r.tid.clone(),
            former_amount: r.former_amount,
            resolved_by: r.resolved_by.clone(),
            outcome: r.outcome,
            cancellation_id: r.cancellation_id.map(|id| id.to_string()),
            created_at: r.created_at,
            completed_at: r.completed_at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{checkout_url, mask_account};

    #[test]
    fn a_checkout_url_is_a_url_whatever_the_order_id() {
        assert_eq!(
            checkout_url("https://pay.example.com/", "ORD-2026_01.a~", "tok"),
            "https://pay.example.com/pay/ORD-2026_01.a~?t=tok"
        );
        assert_eq!(
            checkout_url("https://pay.example.com", "주문|\"1", "tok"),
            "https://pay.example.com/pay/%EC%A3%BC%EB%AC%B8%7C%221?t=tok"
        );
    }

    #[test]
    fn accounts_show_only_their_last_four_digits() {
        assert_eq!(mask_account("110-123-456789"), "***-***-**6789");
        assert_eq!(mask_account("12345678901234"), "**********1234");
        assert_eq!(mask_account("1234"), "1234");
        assert_eq!(mask_account("123"), "123");
        assert_eq!(mask_account(""), "");
    }
}
