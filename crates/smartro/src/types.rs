//! Small protocol value types: payment methods, state codes, encodings, TIDs and KST timestamps.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// `PayMethod` as sent on the wire. Unknown values are kept so that a new method never makes a result unparseable.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PayMethod {
    Card,
    Bank,
    Vbank,
    Cellphone,
    Clgift,
    Toss,
    Kakao,
    Other(String),
}

impl PayMethod {
    /// Case-insensitive for the known values; anything else is kept verbatim (trimmed) in `Other`.
    pub fn parse(s: &str) -> PayMethod {
        let t = s.trim();
        match t.to_ascii_uppercase().as_str() {
            "CARD" => PayMethod::Card,
            "BANK" => PayMethod::Bank,
            "VBANK" => PayMethod::Vbank,
            "CELLPHONE" => PayMethod::Cellphone,
            "CLGIFT" => PayMethod::Clgift,
            "TOSS" => PayMethod::Toss,
            "KAKAO" => PayMethod::Kakao,
            _ => PayMethod::Other(t.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            PayMethod::Card => "CARD",
            PayMethod::Bank => "BANK",
            PayMethod::Vbank => "VBANK",
            PayMethod::Cellphone => "CELLPHONE",
            PayMethod::Clgift => "CLGIFT",
            PayMethod::Toss => "TOSS",
            PayMethod::Kakao => "KAKAO",
            PayMethod::Other(s) => s,
        }
    }

    /// The ResultCode that means "approved" for this method (manual §7, seed 000).
    ///
    /// VBANK's 4100 means the account was issued, not that money arrived (that is 4110, notified later).
    /// CLGIFT (culture gift card) has no result-code table in the manual or in the code document, so there is no
    /// success code to check against: `None`.
    pub fn success_code(&self) -> Option<&'static str> {
        match self {
            PayMethod::Card => Some("3001"),
            PayMethod::Bank => Some("4000"),
            PayMethod::Vbank => Some("4100"),
            PayMethod::Cellphone => Some("A000"),
            PayMethod::Toss => Some("TS10"),
            PayMethod::Kakao => Some("KP00"),
            PayMethod::Clgift | PayMethod::Other(_) => None,
        }
    }

    /// The two-digit service part of a TID (characters 11..12).
    ///
    /// Only card "01" and bank transfer "02" are observed in Smartro's documents; the others are not documented.
    /// They follow the numbering common to Korean PGs (03 vbank, 05 phone) and are otherwise simply distinct, so
    /// that TIDs minted by the sandbox never collide across methods. Unknown methods get "99".
    pub fn service_code(&self) -> &'static str {
        match self {
            PayMethod::Card => "01",
            PayMethod::Bank => "02",
            PayMethod::Vbank => "03",
            PayMethod::Cellphone => "05",
            PayMethod::Clgift => "06",
            PayMethod::Toss => "07",
            PayMethod::Kakao => "08",
            PayMethod::Other(_) => "99",
        }
    }
}

impl fmt::Display for PayMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PayMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for PayMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(PayMethod::parse(&s))
    }
}

/// `StateCd` of a notification: what happened to the transaction.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StateCd {
    /// "0"
    Approval,
    /// "1": cancelled before settlement
    CancelBeforeSettlement,
    /// "2": cancelled after settlement
    CancelAfterSettlement,
    /// "3": virtual account number issued
    VbankIssued,
    Other(String),
}

impl StateCd {
    pub fn parse(s: &str) -> StateCd {
        match s.trim() {
            "0" => StateCd::Approval,
            "1" => StateCd::CancelBeforeSettlement,
            "2" => StateCd::CancelAfterSettlement,
            "3" => StateCd::VbankIssued,
            other => StateCd::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            StateCd::Approval => "0",
            StateCd::CancelBeforeSettlement => "1",
            StateCd::CancelAfterSettlement => "2",
            StateCd::VbankIssued => "3",
            StateCd::Other(s) => s,
        }
    }

    /// True for both kinds of cancel.
    pub fn is_cancel(&self) -> bool {
        matches!(
            self,
            StateCd::CancelBeforeSettlement | StateCd::CancelAfterSettlement
        )
    }
}

impl fmt::Display for StateCd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for StateCd {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for StateCd {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(StateCd::parse(&s))
    }
}

/// `ReceiptType` of a notification (manual §6.4): which cash receipt was issued for the payment. The payment
/// request's `ReceiptType` is another thing, a Y/N flag (see [`crate::request::PaymentRequest::receipt_type`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CashReceiptType {
    /// "0": no cash receipt (미발행)
    NotIssued,
    /// "1": income deduction, for a person (소득공제)
    IncomeDeduction,
    /// "2": expense proof, for a business (지출증빙)
    ExpenseProof,
    Other(String),
}

impl CashReceiptType {
    pub fn parse(s: &str) -> CashReceiptType {
        match s.trim() {
            "0" => CashReceiptType::NotIssued,
            "1" => CashReceiptType::IncomeDeduction,
            "2" => CashReceiptType::ExpenseProof,
            other => CashReceiptType::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            CashReceiptType::NotIssued => "0",
            CashReceiptType::IncomeDeduction => "1",
            CashReceiptType::ExpenseProof => "2",
            CashReceiptType::Other(s) => s,
        }
    }

    /// The Korean name a receipt prints, e.g. `소득공제`; `None` for a value the manual does not define.
    pub fn korean_name(&self) -> Option<&'static str> {
        match self {
            CashReceiptType::NotIssued => Some("미발행"),
            CashReceiptType::IncomeDeduction => Some("소득공제"),
            CashReceiptType::ExpenseProof => Some("지출증빙"),
            CashReceiptType::Other(_) => None,
        }
    }
}

impl fmt::Display for CashReceiptType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `EncodingType` of the payment request: the charset Smartro uses for the result's Korean text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EncodingType {
    #[serde(rename = "euckr")]
    EucKr,
    #[serde(rename = "utf8")]
    Utf8,
}

impl EncodingType {
    pub fn as_str(&self) -> &'static str {
        match self {
            EncodingType::EucKr => "euckr",
            EncodingType::Utf8 => "utf8",
        }
    }

    /// Accepts the documented values and the common spellings (`EUC-KR`, `utf-8`), case-insensitively.
    pub fn parse(s: &str) -> Option<EncodingType> {
        match s.trim().to_ascii_lowercase().as_str() {
            "euckr" | "euc-kr" => Some(EncodingType::EucKr),
            "utf8" | "utf-8" => Some(EncodingType::Utf8),
            _ => None,
        }
    }
}

/// `OpenType`: the language of Smartro's payment window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum OpenType {
    #[default]
    #[serde(rename = "KR")]
    Kr,
    #[serde(rename = "EN")]
    En,
}

impl OpenType {
    pub fn as_str(&self) -> &'static str {
        match self {
            OpenType::Kr => "KR",
            OpenType::En => "EN",
        }
    }

    pub fn parse(s: &str) -> Option<OpenType> {
        match s.trim().to_ascii_uppercase().as_str() {
            "KR" => Some(OpenType::Kr),
            "EN" => Some(OpenType::En),
            _ => None,
        }
    }
}

/// A TID in Smartro's observed layout: MID(10) + service(2) + "01" + yyMMddHHmmss + 4 digits = 30 characters.
///
/// `at` is the local (KST) time to embed. `seq` is reduced modulo 10000 to fit its four digits. A MID that is not
/// exactly 10 characters is cut or right-padded with `0` so that the TID keeps its fixed layout.
pub fn generate_tid(mid: &str, method: &PayMethod, at: NaiveDateTime, seq: u16) -> String {
    let mut mid10: String = mid.chars().take(10).collect();
    while mid10.chars().count() < 10 {
        mid10.push('0');
    }
    format!(
        "{}{}01{}{:04}",
        mid10,
        method.service_code(),
        at.format("%y%m%d%H%M%S"),
        seq % 10000
    )
}

/// Korea Standard Time is UTC+9 all year (no daylight saving), so a fixed offset is exact.
fn to_kst(now: DateTime<Utc>) -> NaiveDateTime {
    now.naive_utc() + Duration::hours(9)
}

/// `ediDate` for a payment request: `YYYYMMDDHHMMSS` in Asia/Seoul.
pub fn kst_now_edi_date(now: DateTime<Utc>) -> String {
    to_kst(now).format("%Y%m%d%H%M%S").to_string()
}

/// `AuthDate` as Smartro writes it: `yyMMddHHmmss` in Asia/Seoul.
pub fn kst_auth_date(now: DateTime<Utc>) -> String {
    to_kst(now).format("%y%m%d%H%M%S").to_string()
}

/// The current time in KST as a naive date-time, e.g. for [`generate_tid`].
pub fn kst_naive(now: DateTime<Utc>) -> NaiveDateTime {
    to_kst(now)
}
