//! The JSON bodies of the seed's messages, with the seed's field names (camelCase; `ptxId` in the tax-refund
//! messages, `taxrefundSerial` in their answers, as the seed spells them).
//!
//! Every struct keeps the fields it does not know in `extra`, so that a newer terminal's additions survive a
//! decode and re-encode, and can be stored with the rest.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::EncodeError;
use crate::wire::{self, ResultCode, TextOrNumber, TraderType, MAX_AMOUNT};

/// Fields a message does not define, kept as received.
pub type Extra = Map<String, Value>;

// ---------------------------------------------------------------------------------------------------------------
// Requests (POS → terminal)
// ---------------------------------------------------------------------------------------------------------------

/// `010010` card approval. `priceAmt` is the total charged; tax, tip and tax-free are parts of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRequest {
    #[serde(deserialize_with = "wire::amount")]
    pub price_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tax_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tip_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tax_free_amt: i64,
    /// Months; 0 is a lump-sum payment (일시불).
    #[serde(default, deserialize_with = "wire::amount")]
    pub installment: i64,
    /// The POS's transaction id, echoed in every answer about this transaction.
    pub ptxid: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl ApprovalRequest {
    /// A lump-sum approval of `price_amt` with no tax, tip or tax-free parts.
    pub fn new(price_amt: i64, ptxid: impl Into<String>) -> ApprovalRequest {
        ApprovalRequest {
            price_amt,
            tax_amt: 0,
            tip_amt: 0,
            tax_free_amt: 0,
            installment: 0,
            ptxid: ptxid.into(),
            extra: Extra::new(),
        }
    }

    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_price(
            self.price_amt,
            self.tax_amt,
            self.tip_amt,
            self.tax_free_amt,
        )?;
        validate_installment(self.installment)?;
        validate_ptxid("ptxid", &self.ptxid)
    }
}

/// `030010` easy-pay (QR) approval: an [`ApprovalRequest`] plus the service (`QRD` in the seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EasyPayApprovalRequest {
    pub service_code: String,
    #[serde(deserialize_with = "wire::amount")]
    pub price_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tax_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tip_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tax_free_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub installment: i64,
    pub ptxid: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl EasyPayApprovalRequest {
    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_code("serviceCode", &self.service_code)?;
        validate_price(
            self.price_amt,
            self.tax_amt,
            self.tip_amt,
            self.tax_free_amt,
        )?;
        validate_installment(self.installment)?;
        validate_ptxid("ptxid", &self.ptxid)
    }
}

/// `010020` card cancel and `030020` easy-pay cancel: the original approval's numbers and amount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelRequest {
    #[serde(deserialize_with = "wire::amount")]
    pub approval_amt: i64,
    pub approval_no: String,
    pub transaction_date: String,
    pub transaction_no: String,
    pub ptxid: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl CancelRequest {
    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_positive("approvalAmt", self.approval_amt)?;
        validate_code("approvalNo", &self.approval_no)?;
        validate_code("transactionDate", &self.transaction_date)?;
        validate_code("transactionNo", &self.transaction_no)?;
        validate_ptxid("ptxid", &self.ptxid)
    }
}

/// `070010` cash receipt issue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CashReceiptRequest {
    #[serde(deserialize_with = "wire::amount")]
    pub price_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tax_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tip_amt: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub tax_free_amt: i64,
    pub trader_type: TraderType,
    /// The buyer's identity number (phone, business or card number). `None` (the field left out): the buyer
    /// enters it on the terminal's keypad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_number: Option<String>,
    pub ptxid: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl CashReceiptRequest {
    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_price(
            self.price_amt,
            self.tax_amt,
            self.tip_amt,
            self.tax_free_amt,
        )?;
        validate_trader_type(&self.trader_type)?;
        if let Some(n) = &self.approval_number {
            validate_identity(n)?;
        }
        validate_ptxid("ptxid", &self.ptxid)
    }
}

/// `070020` cash receipt cancel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CashReceiptCancelRequest {
    #[serde(deserialize_with = "wire::amount")]
    pub approval_amt: i64,
    pub approval_no: String,
    pub transaction_date: String,
    pub transaction_no: String,
    pub trader_type: TraderType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_number: Option<String>,
    pub ptxid: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl CashReceiptCancelRequest {
    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_positive("approvalAmt", self.approval_amt)?;
        validate_code("approvalNo", &self.approval_no)?;
        validate_code("transactionDate", &self.transaction_date)?;
        validate_code("transactionNo", &self.transaction_no)?;
        validate_trader_type(&self.trader_type)?;
        if let Some(n) = &self.approval_number {
            validate_identity(n)?;
        }
        validate_ptxid("ptxid", &self.ptxid)
    }
}

/// `050099` sales totals for the days `from`..=`to` (`YYYYMMDD`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotalsRequest {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TotalsRequest {
    pub fn new(from: impl Into<String>, to: impl Into<String>) -> TotalsRequest {
        TotalsRequest {
            from: from.into(),
            to: to.into(),
            extra: Extra::new(),
        }
    }

    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_date("from", &self.from)?;
        validate_date("to", &self.to)?;
        if self.from > self.to {
            return Err(EncodeError::invalid("from", "after to"));
        }
        Ok(())
    }
}

/// `900091` print.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrintRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_family: Option<String>,
    /// Whether the terminal beeps when it prints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<bool>,
    pub commands: Vec<PrintCommand>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Most commands one print may carry: a long slip is some sixty lines; this leaves room and stops a runaway
/// loop in the POS from feeding the printer forever.
pub const MAX_PRINT_COMMANDS: usize = 200;
/// Font sizes the terminal is asked for (the seed uses 10 and 20).
pub const PRINT_FONT_SIZES: std::ops::RangeInclusive<i64> = 6..=60;

impl PrintRequest {
    pub fn validate(&self) -> Result<(), EncodeError> {
        if self.commands.is_empty() {
            return Err(EncodeError::invalid("commands", "empty"));
        }
        if self.commands.len() > MAX_PRINT_COMMANDS {
            return Err(EncodeError::invalid(
                "commands",
                format!("more than {MAX_PRINT_COMMANDS}"),
            ));
        }
        if let Some(f) = &self.font_family {
            if f.is_empty() || f.chars().any(char::is_control) {
                return Err(EncodeError::invalid(
                    "fontFamily",
                    "empty or has control characters",
                ));
            }
        }
        self.commands.iter().try_for_each(PrintCommand::validate)
    }
}

/// What one print command does (`command` on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrintCommandKind {
    /// The merchant's logo.
    Logo,
    /// A horizontal rule.
    Line,
    /// Cut the paper.
    CuttingLine,
    /// A blank line.
    Br,
    /// Left-aligned text, one or more lines.
    Left,
    /// Right-aligned text, one or more lines.
    Right,
    /// Two columns on one line.
    Text2,
    /// Three columns on one line.
    Text3,
    /// A command the seed does not list: kept on decode, refused by `validate`.
    Other(String),
}

impl PrintCommandKind {
    pub fn as_str(&self) -> &str {
        match self {
            PrintCommandKind::Logo => "logo",
            PrintCommandKind::Line => "line",
            PrintCommandKind::CuttingLine => "cuttingLine",
            PrintCommandKind::Br => "br",
            PrintCommandKind::Left => "left",
            PrintCommandKind::Right => "right",
            PrintCommandKind::Text2 => "text2",
            PrintCommandKind::Text3 => "text3",
            PrintCommandKind::Other(c) => c,
        }
    }
}

impl From<&str> for PrintCommandKind {
    fn from(v: &str) -> Self {
        match v {
            "logo" => PrintCommandKind::Logo,
            "line" => PrintCommandKind::Line,
            "cuttingLine" => PrintCommandKind::CuttingLine,
            "br" => PrintCommandKind::Br,
            "left" => PrintCommandKind::Left,
            "right" => PrintCommandKind::Right,
            "text2" => PrintCommandKind::Text2,
            "text3" => PrintCommandKind::Text3,
            other => PrintCommandKind::Other(other.to_string()),
        }
    }
}

impl Serialize for PrintCommandKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PrintCommandKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(PrintCommandKind::from(String::deserialize(d)?.as_str()))
    }
}

/// One print command: `{"command": "text2", "fontSize": 10, "message": ["one", "two"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrintCommand {
    pub command: PrintCommandKind,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub font_size: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub message: Vec<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl PrintCommand {
    /// A command without text (`logo`, `line`, `cuttingLine`, `br`).
    pub fn bare(command: PrintCommandKind) -> PrintCommand {
        PrintCommand {
            command,
            font_size: None,
            message: Vec::new(),
            extra: Extra::new(),
        }
    }

    /// A text command (`left`, `right`, `text2`, `text3`).
    pub fn text(command: PrintCommandKind, font_size: i64, message: Vec<String>) -> PrintCommand {
        PrintCommand {
            command,
            font_size: Some(font_size),
            message,
            extra: Extra::new(),
        }
    }

    /// The seed's rules as a POS vendor reads them: bare commands carry no text; `left` and `right` one or more
    /// lines; `text2` exactly two columns and `text3` exactly three; sizes within [`PRINT_FONT_SIZES`]; no
    /// control characters (they would drive the printer).
    pub fn validate(&self) -> Result<(), EncodeError> {
        let lines = self.message.len();
        let count_ok = match &self.command {
            PrintCommandKind::Logo
            | PrintCommandKind::Line
            | PrintCommandKind::CuttingLine
            | PrintCommandKind::Br => lines == 0,
            PrintCommandKind::Left | PrintCommandKind::Right => (1..=100).contains(&lines),
            PrintCommandKind::Text2 => lines == 2,
            PrintCommandKind::Text3 => lines == 3,
            PrintCommandKind::Other(c) => {
                return Err(EncodeError::invalid(
                    "command",
                    format!("unknown command {c:?}"),
                ))
            }
        };
        if !count_ok {
            return Err(EncodeError::invalid(
                "message",
                format!(
                    "{} takes another number of texts than {lines}",
                    self.command.as_str()
                ),
            ));
        }
        if let Some(size) = self.font_size {
            if !PRINT_FONT_SIZES.contains(&size) {
                return Err(EncodeError::invalid(
                    "fontSize",
                    format!(
                        "{size} is outside {}..={}",
                        PRINT_FONT_SIZES.start(),
                        PRINT_FONT_SIZES.end()
                    ),
                ));
            }
        }
        if self
            .message
            .iter()
            .any(|m| m.chars().any(char::is_control) || m.len() > 200)
        {
            return Err(EncodeError::invalid(
                "message",
                "a text has control characters or is over 200 bytes",
            ));
        }
        Ok(())
    }
}

/// `050010` tax-refund slip issue. Every field is optional (seed: "모든 파라미터는 Optional"); which ones apply
/// depends on the terminal and the merchant's service, see [`TaxRefundVariant`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxRefundIssueRequest {
    /// T650P: `post` in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_refund_mode: Option<String>,
    /// T650P: `card` in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_type: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub approval_amt: Option<i64>,
    /// The sale's serial or transaction number: a number for the T650P, a string for the P3MIX in the seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_serial: Option<TextOrNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_service_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptx_id: Option<String>,
    /// P3MIX medical.
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub card_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub cash_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub etc_amount: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facilitator_number: Option<String>,
    /// P3MIX hotel: `YYMMDD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_out: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Which of the seed's tax-refund request shapes a [`TaxRefundIssueRequest`] has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaxRefundVariant {
    /// T650P terminal: `taxRefundMode`, `paymentType`, `approvalAmt`, `qrServiceCode`, `ptxId`.
    T650p,
    /// P3MIX medical (의료): `cardAmount`, `cashAmount`, `etcAmount`, `facilitatorNumber`.
    Medical,
    /// P3MIX hotel (호텔): `checkIn`, `checkOut`.
    Hotel,
    /// P3MIX goods (물품): `salesSerial` only.
    Goods,
}

impl TaxRefundIssueRequest {
    /// The shape the fields point to, first match wins: T650P fields, then medical, then hotel; else goods.
    pub fn variant(&self) -> TaxRefundVariant {
        if self.tax_refund_mode.is_some()
            || self.payment_type.is_some()
            || self.qr_service_code.is_some()
        {
            TaxRefundVariant::T650p
        } else if self.card_amount.is_some()
            || self.cash_amount.is_some()
            || self.etc_amount.is_some()
            || self.facilitator_number.is_some()
        {
            TaxRefundVariant::Medical
        } else if self.check_in.is_some() || self.check_out.is_some() {
            TaxRefundVariant::Hotel
        } else {
            TaxRefundVariant::Goods
        }
    }

    pub fn validate(&self) -> Result<(), EncodeError> {
        for (field, value) in [("checkIn", &self.check_in), ("checkOut", &self.check_out)] {
            if let Some(v) = value {
                if v.len() != 6 || !v.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(EncodeError::invalid(field, "must be YYMMDD"));
                }
            }
        }
        if let (Some(a), Some(b)) = (&self.check_in, &self.check_out) {
            if a > b {
                return Err(EncodeError::invalid("checkIn", "after checkOut"));
            }
        }
        if let Some(id) = &self.ptx_id {
            validate_ptxid("ptxId", id)?;
        }
        Ok(())
    }
}

/// `050020` tax-refund slip cancel and `900050` inquiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxRefundSlipRequest {
    pub tax_refund_serial: String,
    /// Whether the terminal prints the slip; sent as the string `"true"`/`"false"` as in the seed.
    #[serde(
        default,
        with = "wire::bool_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_print: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ptx_id: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl TaxRefundSlipRequest {
    pub fn validate(&self) -> Result<(), EncodeError> {
        validate_code("taxRefundSerial", &self.tax_refund_serial)?;
        if let Some(id) = &self.ptx_id {
            validate_ptxid("ptxId", id)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Responses (terminal → POS)
// ---------------------------------------------------------------------------------------------------------------

/// The envelope of every answer: `{"resultCode", "resultMessage", "data"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply<D> {
    pub result_code: ResultCode,
    #[serde(default, deserialize_with = "wire::text")]
    pub result_message: String,
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub data: Option<D>,
    #[serde(flatten)]
    pub extra: Extra,
}

fn none<D>() -> Option<D> {
    None
}

impl<D> Reply<D> {
    pub fn new(
        result_code: ResultCode,
        result_message: impl Into<String>,
        data: Option<D>,
    ) -> Self {
        Reply {
            result_code,
            result_message: result_message.into(),
            data,
            extra: Extra::new(),
        }
    }
}

/// An answer whose `data`, if any, the seed does not define (980001, 900091, 555555): kept as sent.
pub type StatusReply = Reply<Extra>;

/// The `data` of card, easy-pay and cash-receipt answers (approval and cancel alike) and of 990001.
///
/// One struct for all of them: their fields overlap, and 990001 answers in the shape of whichever transaction
/// came last without saying which. Every field is optional because a refusal, a timeout or the `0010` interim
/// carries only `ptxid` (or nothing); a success is expected to carry the numbers, which the gateway checks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionData {
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub approval_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_no: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub merchant_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub installment: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub approval_amt: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub tip_amt: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_amt: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub tax_free_amt: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub masked_track_data: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub issuer_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub acquirer_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub acquirer_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub transaction_date: Option<String>,
    /// Easy pay: points used, by kind.
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub point_amt1: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub point_amt2: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub point_amt3: Option<i64>,
    /// Easy pay: the service (`QRD`, …).
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_code: Option<String>,
    /// Cash receipt: the receipt's title.
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub receipt_title: Option<String>,
    /// Cash receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trader_type: Option<TraderType>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ptxid: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Which kind of transaction a [`TransactionData`] describes, judged from its fields (990001 does not say).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionKind {
    Card,
    EasyPay,
    CashReceipt,
}

impl TransactionData {
    /// A data block with only `ptxid`: what refusals, timeouts and the `0010` interim carry.
    pub fn ptxid_only(ptxid: impl Into<String>) -> TransactionData {
        TransactionData {
            ptxid: Some(ptxid.into()),
            ..TransactionData::default()
        }
    }

    /// Easy pay when it names a service or points; cash receipt when it has a receipt title or trader type;
    /// else card.
    pub fn kind(&self) -> TransactionKind {
        if self.service_code.is_some()
            || self.point_amt1.is_some()
            || self.point_amt2.is_some()
            || self.point_amt3.is_some()
        {
            TransactionKind::EasyPay
        } else if self.receipt_title.is_some() || self.trader_type.is_some() {
            TransactionKind::CashReceipt
        } else {
            TransactionKind::Card
        }
    }
}

/// The `data` of a reading-cancel answer: the `ptxid` of the transaction whose reading was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PtxidData {
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub ptxid: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `050099` answer. Unlike the others it has a top-level `period` beside `data`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TotalsReply {
    pub result_code: ResultCode,
    #[serde(default, deserialize_with = "wire::text")]
    pub result_message: String,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub period: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<TotalsData>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TotalsData {
    #[serde(default)]
    pub approved: TotalsBucket,
    /// The seed's spelling.
    #[serde(default)]
    pub canceled: TotalsBucket,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One side of the totals: how many, for how much, and `issuer` (a number in the seed whose meaning it does not
/// give; kept as sent).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TotalsBucket {
    #[serde(default, deserialize_with = "wire::amount")]
    pub count: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub price: i64,
    #[serde(default, deserialize_with = "wire::amount")]
    pub issuer: i64,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `081008` answer data.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeList {
    /// As reported; not checked against the list (the seed's own example says 0 beside three codes).
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub total_count: Option<i64>,
    #[serde(default)]
    pub code_list: Vec<CodeEntry>,
    #[serde(flatten)]
    pub extra: Extra,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CodeEntry {
    #[serde(deserialize_with = "wire::text")]
    pub code: String,
    #[serde(default, deserialize_with = "wire::text")]
    pub code_name: String,
    #[serde(default, deserialize_with = "wire::text")]
    pub group_code: String,
    #[serde(default, deserialize_with = "wire::text")]
    pub group_code_name: String,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The `data` of a tax-refund answer (050010, 050020, 900050): the goods & hotel shape and the medical shape
/// of the seed in one struct, every field optional.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaxRefundSlip {
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_country: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub passport_serial: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_balance: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_date: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_time: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub refund_serial: Option<String>,
    /// Goods & hotel. (The seed spells it with a lower-case `r`.)
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub taxrefund_serial: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub duty_free_store_number: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message0: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message1: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message2: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub message3: Option<String>,
    /// Medical.
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub card_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub cash_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub etc_amount: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub facilitator_business_serial: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub facilitator_medical_serial: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub facilitator_name: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub facilitator_serial: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_amount",
        skip_serializing_if = "Option::is_none"
    )]
    pub price: Option<i64>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub res_code: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub res_message: Option<String>,
    #[serde(
        default,
        deserialize_with = "wire::opt_text",
        skip_serializing_if = "Option::is_none"
    )]
    pub res_message_taxrefund: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------------------------------
// Rules for what is sent
// ---------------------------------------------------------------------------------------------------------------

/// `ptxid`: 1 to 64 printable ASCII characters without spaces (the seed's example is `CPOS-` + a UUID, 41).
pub const MAX_PTXID_LEN: usize = 64;

fn validate_ptxid(field: &'static str, ptxid: &str) -> Result<(), EncodeError> {
    if ptxid.is_empty()
        || ptxid.len() > MAX_PTXID_LEN
        || !ptxid.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(EncodeError::invalid(
            field,
            format!("must be 1 to {MAX_PTXID_LEN} printable ASCII characters without spaces"),
        ));
    }
    Ok(())
}

/// Numbers the terminal gave out (approval, transaction, serial, date): 1 to 40 printable ASCII characters.
fn validate_code(field: &'static str, value: &str) -> Result<(), EncodeError> {
    if value.is_empty() || value.len() > 40 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(EncodeError::invalid(
            field,
            "must be 1 to 40 printable ASCII characters",
        ));
    }
    Ok(())
}

fn validate_positive(field: &'static str, amount: i64) -> Result<(), EncodeError> {
    if amount <= 0 || amount > MAX_AMOUNT {
        return Err(EncodeError::invalid(
            field,
            format!("{amount} is not between 1 and {MAX_AMOUNT}"),
        ));
    }
    Ok(())
}

/// `priceAmt` is the total and must be positive; tax, tip and tax-free are parts of it: each 0 or more, and
/// together no more than the total.
fn validate_price(price: i64, tax: i64, tip: i64, tax_free: i64) -> Result<(), EncodeError> {
    validate_positive("priceAmt", price)?;
    for (field, part) in [("taxAmt", tax), ("tipAmt", tip), ("taxFreeAmt", tax_free)] {
        if !(0..=price).contains(&part) {
            return Err(EncodeError::invalid(
                field,
                format!("{part} is not between 0 and priceAmt"),
            ));
        }
    }
    if tax + tip + tax_free > price {
        return Err(EncodeError::invalid(
            "priceAmt",
            "less than taxAmt + tipAmt + taxFreeAmt",
        ));
    }
    Ok(())
}

/// 0 (lump sum) or 2 to 36 months: a one-month instalment does not exist on Korean cards.
fn validate_installment(months: i64) -> Result<(), EncodeError> {
    if months == 0 || (2..=36).contains(&months) {
        Ok(())
    } else {
        Err(EncodeError::invalid(
            "installment",
            format!("{months} is not 0 or 2 to 36 months"),
        ))
    }
}

fn validate_trader_type(t: &TraderType) -> Result<(), EncodeError> {
    match t {
        TraderType::Other(v) => Err(EncodeError::invalid(
            "traderType",
            format!("{v:?} is not 1 or 2"),
        )),
        _ => Ok(()),
    }
}

/// A cash-receipt identity (phone, business registration or card number): 1 to 20 digits, hyphens allowed.
fn validate_identity(n: &str) -> Result<(), EncodeError> {
    let digits = n.bytes().filter(u8::is_ascii_digit).count();
    if digits == 0 || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(EncodeError::invalid(
            "approvalNumber",
            "must be up to 20 digits and hyphens",
        ));
    }
    Ok(())
}

/// `YYYYMMDD` with a month 01–12 and a day 01–31.
fn validate_date(field: &'static str, d: &str) -> Result<(), EncodeError> {
    let ok = d.len() == 8
        && d.bytes().all(|b| b.is_ascii_digit())
        && matches!(d[4..6].parse::<u32>(), Ok(1..=12))
        && matches!(d[6..8].parse::<u32>(), Ok(1..=31));
    if ok {
        Ok(())
    } else {
        Err(EncodeError::invalid(
            field,
            format!("{d:?} is not YYYYMMDD"),
        ))
    }
}
