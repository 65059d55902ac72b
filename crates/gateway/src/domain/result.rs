use smartro::codes::{self, CodeCategory};
use smartro::types::{PayMethod, StateCd};

/// The code table a pay method's payment results come from.
fn code_category(method: &PayMethod) -> Option<CodeCategory> {
    match method {
        PayMethod::Card => Some(CodeCategory::Card),
        PayMethod::Bank => Some(CodeCategory::BankTransfer),
        PayMethod::Vbank => Some(CodeCategory::VirtualAccount),
        PayMethod::Cellphone => Some(CodeCategory::Cellphone),
        PayMethod::Toss => Some(CodeCategory::Toss),
        PayMethod::Kakao => Some(CodeCategory::Kakao),
        PayMethod::Clgift | PayMethod::Other(_) => None,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultSource {
    /// returnPay: the buyer's browser posted it.
    Return,
    /// inform: Smartro's notification daemon posted it to the RetryURL.
    Inform,
}

impl ResultSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultSource::Return => "return",
            ResultSource::Inform => "inform",
        }
    }

    pub fn parse(value: &str) -> Option<ResultSource> {
        match value {
            "return" => Some(ResultSource::Return),
            "inform" => Some(ResultSource::Inform),
            _ => None,
        }
    }
}

/// How a result was confirmed server to server before it was allowed to change an order. SignValue alone proves
/// only that Smartro made the transaction, not which order or amount it was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmedBy {
    /// Smartro's receipt data API has a record of the TID with the result's order and amount.
    ReceiptApi,
    /// An inform from an address of `smartro.notify_allow_cidrs` (Smartro's notification servers).
    Notifier,
    /// A returnPay repeating a result already confirmed (same TID, order and amount).
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

/// What confirmed a result, and what Smartro's records said beyond "yes".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    pub by: ConfirmedBy,
    /// For a partial cancel confirmed through the original TID's `partCancelInfo`: how many partial cancels of
    /// its amount Smartro lists, so that no more than those are ever counted.
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

/// What a Smartro result is about, whichever channel brought it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    /// A payment attempt's outcome (card, bank transfer, phone, gift card, easy-pay), successful or not.
    Approval,
    /// 4100 (or StateCd 3): a virtual account was issued; no money yet.
    VbankIssued,
    /// 4110: the buyer paid into the virtual account.
    VbankDeposit,
    /// StateCd 1 or 2: a cancellation before or after settlement.
    Cancel,
    /// Anything else Smartro may notify (cash receipts, unknown states): kept raw, changes nothing.
    Other,
}

pub const VBANK_ISSUED: &str = "4100";
pub const VBANK_DEPOSITED: &str = "4110";
const CANCEL_SUCCESS: [&str; 3] = ["2001", "2211", "2013"];

impl ResultKind {
    /// Classifies a result. returnPay carries no StateCd (`None`).
    pub fn classify(state: Option<&StateCd>, result_code: &str) -> ResultKind {
        match state {
            Some(StateCd::CancelBeforeSettlement | StateCd::CancelAfterSettlement) => {
                ResultKind::Cancel
            }
            _ if result_code == VBANK_DEPOSITED => ResultKind::VbankDeposit,
            _ if result_code == VBANK_ISSUED => ResultKind::VbankIssued,
            Some(StateCd::VbankIssued) => ResultKind::VbankIssued,
            Some(StateCd::Approval) | None => {
                if is_cash_receipt_code(result_code) {
                    ResultKind::Other
                } else {
                    ResultKind::Approval
                }
            }
            Some(StateCd::Other(_)) => ResultKind::Other,
        }
    }

    /// The StateCd this kind of result carries in an inform, so that the returnPay and the inform of one result
    /// share one dedupe key.
    pub fn state_code_for_return(result_code: &str) -> &'static str {
        if result_code == VBANK_ISSUED {
            "3"
        } else {
            "0"
        }
    }
}

/// Cash-receipt notifications (70xx, 00CB) may arrive on the RetryURL beside payment results.
fn is_cash_receipt_code(code: &str) -> bool {
    code.starts_with("70") || code == "00CB"
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

#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaymentDetails {
    pub card: Option<CardDetails>,
    pub vbank: Option<VbankDetails>,
}

impl PaymentDetails {
    pub fn is_empty(&self) -> bool {
        self.card.is_none() && self.vbank.is_none()
    }
}

/// A Smartro result whose SignValue has been verified with the merchant key of its MID.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedResult {
    pub source: ResultSource,
    pub kind: ResultKind,
    pub tid: String,
    /// OTID: the original TID of a (partial) cancel.
    pub original_tid: Option<String>,
    pub order_id: String,
    pub mid: String,
    pub amount: i64,
    pub pay_method: PayMethod,
    pub result_code: String,
    pub result_message: String,
    pub auth_code: Option<String>,
    pub auth_date: Option<String>,
    pub details: PaymentDetails,
    /// The StateCd that identifies this result (the inform's own, or the one a returnPay implies).
    pub state_code: String,
}

impl VerifiedResult {
    /// Whether Smartro reports success for what this result is about.
    pub fn is_success(&self) -> bool {
        match self.kind {
            ResultKind::Approval => {
                self.pay_method.success_code() == Some(self.result_code.as_str())
            }
            ResultKind::VbankIssued => self.result_code == VBANK_ISSUED,
            ResultKind::VbankDeposit => self.result_code == VBANK_DEPOSITED,
            ResultKind::Cancel => CANCEL_SUCCESS.contains(&self.result_code.as_str()),
            ResultKind::Other => false,
        }
    }

    /// Whether Smartro's code tables know this ResultCode as a failure of the result's kind (and pay method).
    /// A code they know as neither success nor failure (CLGIFT has no documented success code) is not a known
    /// failure: money may have moved.
    pub fn is_known_failure(&self) -> bool {
        match self.kind {
            ResultKind::Approval => {
                let Some(category) = code_category(&self.pay_method) else {
                    return false;
                };
                !self.is_success()
                    && codes::result_codes(&self.result_code)
                        .any(|c| c.category == category && !c.success)
            }
            ResultKind::VbankIssued | ResultKind::VbankDeposit | ResultKind::Cancel => {
                !self.is_success()
            }
            ResultKind::Other => false,
        }
    }

    /// Whether the result, once confirmed, may change the order in a way worth waiting for: anything but a known
    /// failure. Failed attempts move no money, and Smartro's receipt API lists approvals and cancellations only,
    /// so a failure can never be confirmed through it.
    pub fn worth_confirming(&self) -> bool {
        self.kind != ResultKind::Other && !self.is_known_failure()
    }

    /// The original TID a (partial) cancel refers to, when it differs from the result's own TID.
    pub fn other_tid(&self) -> Option<&str> {
        self.original_tid
            .as_deref()
            .filter(|otid| !otid.is_empty() && *otid != self.tid)
    }

    /// What identifies one result across channels and re-deliveries: TID, StateCd, ResultCode, amount.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.tid, self.state_code, self.result_code, self.amount
        )
    }
}
