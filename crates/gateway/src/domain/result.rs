//! A provider's result as the gateway understands it: what it is about, whether it succeeded, which order and
//! amount it names, and how far it may be believed.

use super::PayMethod;

/// How a result reached the gateway.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ResultSource {
    /// Through the buyer's browser (WEBLink's returnPay): the sender's word only.
    Return,
    /// Server to server from the provider's notifier (WEBLink's inform to the RetryURL).
    Inform,
    /// From an in-store card terminal.
    Terminal,
}

impl ResultSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultSource::Return => "return",
            ResultSource::Inform => "inform",
            ResultSource::Terminal => "terminal",
        }
    }

    pub fn parse(value: &str) -> Option<ResultSource> {
        [
            ResultSource::Return,
            ResultSource::Inform,
            ResultSource::Terminal,
        ]
        .into_iter()
        .find(|s| s.as_str() == value)
    }
}

/// What a result is about, whichever channel brought it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// A payment attempt's outcome (card, bank transfer, phone, gift card, easy-pay), successful or not.
    Approval,
    /// A virtual account was issued; no money yet.
    VbankIssued,
    /// The buyer paid into the virtual account.
    VbankDeposit,
    /// A cancellation (before or after settlement).
    Cancel,
    /// A cash receipt issued (or refused) for a payment (WEBLink: a 70xx notification).
    CashReceipt,
    /// Anything else a provider may notify (cash receipts, unknown states): kept raw, changes nothing.
    Other,
}

/// Whether the provider reports success for what the result is about. The adapter decides it from the
/// provider's code tables; a code they know as neither success nor failure is `Unknown`, because money may
/// have moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
    Unknown,
}

/// How a result was confirmed server to server before it was allowed to change an order. A provider's
/// signature may prove only that it made the transaction, not which order or amount it was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedBy {
    /// The provider's own records (WEBLink: the receipt data API) show the TID with the result's order and amount.
    ReceiptApi,
    /// Sent by one of the provider's notification servers (`smartro.notify_allow_cidrs`).
    Notifier,
    /// A browser result repeating one already confirmed (same TID, order and amount).
    EarlierResult,
}

impl ConfirmedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            ConfirmedBy::ReceiptApi => "receipt_api",
            ConfirmedBy::Notifier => "notifier",
            ConfirmedBy::EarlierResult => "earlier_result",
        }
    }
}

/// What confirmed a result, and what the provider's records said beyond "yes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    pub by: ConfirmedBy,
    /// For a partial cancel confirmed through the original payment's record: how many partial cancels of its
    /// amount the provider lists, so that no more than those are ever counted.
    pub listed_partial_cancels: Option<usize>,
}

impl Confirmed {
    pub fn by(by: ConfirmedBy) -> Confirmed {
        Confirmed {
            by,
            listed_partial_cancels: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CardDetails {
    pub issuer_code: Option<String>,
    pub issuer_name: Option<String>,
    pub acquirer_code: Option<String>,
    pub quota: Option<String>,
    pub masked_number: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct VbankDetails {
    pub bank_code: Option<String>,
    pub bank_name: Option<String>,
    pub account: Option<String>,
}

/// A cash receipt (현금영수증) issued for a payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashReceipt {
    pub kind: CashReceiptKind,
    pub approval_no: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CashReceiptKind {
    /// 소득공제: for a person's income tax.
    IncomeDeduction,
    /// 지출증빙: for a business's books.
    ExpenseProof,
}

impl CashReceiptKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CashReceiptKind::IncomeDeduction => "income_deduction",
            CashReceiptKind::ExpenseProof => "expense_proof",
        }
    }

    pub fn parse(value: &str) -> Option<CashReceiptKind> {
        [
            CashReceiptKind::IncomeDeduction,
            CashReceiptKind::ExpenseProof,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == value)
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaymentDetails {
    pub card: Option<CardDetails>,
    pub vbank: Option<VbankDetails>,
    /// A cash receipt the result reports as issued.
    pub cash_receipt: Option<CashReceipt>,
}

impl PaymentDetails {
    pub fn is_empty(&self) -> bool {
        self.card.is_none() && self.vbank.is_none() && self.cash_receipt.is_none()
    }
}

/// What identifies a message once parsed, even one that is refused (kept for audit and search).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct MessageLabels {
    pub mid: Option<String>,
    pub tid: Option<String>,
    pub order_id: Option<String>,
    pub dedupe_key: Option<String>,
}

/// A provider result whose authenticity the provider's adapter verified (WEBLink: the SignValue, with the key of
/// its MID). Authentic is not yet believed: see [`Confirmed`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedResult {
    pub source: ResultSource,
    pub kind: ResultKind,
    pub outcome: Outcome,
    pub tid: String,
    /// The original TID of a (partial) cancel; set for cancels only.
    pub original_tid: Option<String>,
    pub order_id: String,
    pub mid: String,
    pub amount: i64,
    /// `None`: the provider named a method the gateway does not know.
    pub pay_method: Option<PayMethod>,
    pub result_code: String,
    pub result_message: String,
    pub auth_code: Option<String>,
    pub auth_date: Option<String>,
    pub details: PaymentDetails,
    /// What identifies this one result across channels and re-deliveries (WEBLink: TID, StateCd, ResultCode,
    /// amount): applied at most once.
    pub dedupe_key: String,
}

impl VerifiedResult {
    pub fn is_success(&self) -> bool {
        self.outcome == Outcome::Success
    }

    pub fn is_known_failure(&self) -> bool {
        self.outcome == Outcome::Failure
    }

    /// Whether the result, once confirmed, may change the order in a way worth waiting for: anything but a known
    /// failure. Failed attempts move no money, and a provider's records list approvals and cancellations only,
    /// so a failure can never be confirmed through them.
    pub fn worth_confirming(&self) -> bool {
        self.kind != ResultKind::Other && self.outcome != Outcome::Failure
    }

    /// The original TID a (partial) cancel refers to, when it differs from the result's own TID.
    pub fn other_tid(&self) -> Option<&str> {
        self.original_tid
            .as_deref()
            .filter(|otid| !otid.is_empty() && *otid != self.tid)
    }

    pub fn labels(&self) -> MessageLabels {
        MessageLabels {
            mid: Some(self.mid.clone()),
            tid: Some(self.tid.clone()),
            order_id: Some(self.order_id.clone()),
            dedupe_key: Some(self.dedupe_key.clone()),
        }
    }
}
