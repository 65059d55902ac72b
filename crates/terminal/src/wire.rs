//! Small wire types shared by the messages: result codes, trader types, amounts, and the seed's loosely typed
//! values (a serial that is a number in one example and a string in another, a boolean sent as `"true"`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// `resultCode`: the codes the seed names, and any other kept as sent (a refusal carrying the terminal's message).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// `0000` success (every transaction type; the seed shows it for read-cancel, 980001 and print).
    Success,
    /// `0010` 서명대기: the terminal shows the signature pad; not the final answer.
    SignatureWait,
    /// `0001` 처리중: the terminal is busy and cannot abort.
    Busy,
    /// `9999` 서명시간초과 / 사용자 취소: timed out or cancelled by the user or an abort.
    Cancelled,
    /// `9991` unable to proceed (e.g. a reading cancel when nothing is being read).
    Unable,
    /// Any other code: a refusal.
    Other(String),
}

impl ResultCode {
    pub fn as_str(&self) -> &str {
        match self {
            ResultCode::Success => "0000",
            ResultCode::SignatureWait => "0010",
            ResultCode::Busy => "0001",
            ResultCode::Cancelled => "9999",
            ResultCode::Unable => "9991",
            ResultCode::Other(code) => code,
        }
    }

    pub fn is_success(&self) -> bool {
        *self == ResultCode::Success
    }

    /// `0010`: an interim answer; the final one follows on the same message type.
    pub fn is_interim(&self) -> bool {
        *self == ResultCode::SignatureWait
    }
}

impl From<&str> for ResultCode {
    fn from(code: &str) -> ResultCode {
        match code {
            "0000" => ResultCode::Success,
            "0010" => ResultCode::SignatureWait,
            "0001" => ResultCode::Busy,
            "9999" => ResultCode::Cancelled,
            "9991" => ResultCode::Unable,
            other => ResultCode::Other(other.to_string()),
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    /// The seed sends a string of four digits. A firmware that types the code as a number can only send it
    /// without its leading zeros (JSON has none): `0` is `0000`, `10` is `0010`, `1` is `0001`. Reading such a
    /// number as anything else would turn an approval into a refusal, so a non-negative number is written out
    /// with at least four digits. `null` or a missing code stays an error: an answer that says neither success nor
    /// refusal must not be taken for either (the gateway then asks 990001 and, failing that, leaves it `unknown`).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct CodeVisitor;
        impl Visitor<'_> for CodeVisitor {
            type Value = ResultCode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a result code (a string of digits, or a number)")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ResultCode, E> {
                Ok(ResultCode::from(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ResultCode, E> {
                Ok(ResultCode::from(format!("{v:04}").as_str()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ResultCode, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    // Negative: no known code; kept as written so that it is a refusal naming what was sent.
                    Err(_) => Ok(ResultCode::Other(v.to_string())),
                }
            }
        }
        d.deserialize_any(CodeVisitor)
    }
}

/// `traderType` of a cash receipt: `1` income deduction (소득공제, a person), `2` expense proof (지출증빙, a
/// business). Another value is kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TraderType {
    IncomeDeduction,
    ExpenseProof,
    Other(String),
}

impl TraderType {
    pub fn as_str(&self) -> &str {
        match self {
            TraderType::IncomeDeduction => "1",
            TraderType::ExpenseProof => "2",
            TraderType::Other(v) => v,
        }
    }
}

impl From<&str> for TraderType {
    fn from(v: &str) -> TraderType {
        match v {
            "1" => TraderType::IncomeDeduction,
            "2" => TraderType::ExpenseProof,
            other => TraderType::Other(other.to_string()),
        }
    }
}

impl Serialize for TraderType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TraderType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // The seed sends "1"; a terminal that sends the number 1 means the same.
        Ok(TraderType::from(loose_text(d)?.as_str()))
    }
}

/// A value the seed types as a number in one example and as a string in another (`salesSerial`: `0` for the
/// T650P, `"salesSerial or transactionNo"` for the P3MIX). Kept in the form it came in, so it goes back out the
/// same way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TextOrNumber {
    Number(i64),
    Text(String),
}

/// Visitor for whole non-negative amounts: a JSON integer (the seed's form), or a string of ASCII digits (sent by
/// some terminal firmwares; harmless to accept since it cannot be misread).
struct AmountVisitor;

/// The largest amount accepted: 15 digits of won, far above any card limit, and safe in every sum of a day.
pub const MAX_AMOUNT: i64 = 999_999_999_999_999;

impl Visitor<'_> for AmountVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a whole, non-negative number of won")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v)
            .ok()
            .filter(|v| *v <= MAX_AMOUNT)
            .ok_or_else(|| E::custom(format!("{v} is too large")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        if v < 0 {
            return Err(E::custom(format!("{v} is negative")));
        }
        self.visit_u64(v.unsigned_abs())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        Err(E::custom(format!("{v} is not a whole number of won")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        if v.is_empty() || v.len() > 15 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(E::custom(format!("{v:?} is not a whole number of won")));
        }
        v.parse::<i64>().map_err(|e| E::custom(e.to_string()))
    }
}

/// `deserialize_with` for a required amount.
pub(crate) fn amount<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    d.deserialize_any(AmountVisitor)
}

/// `deserialize_with` for an optional amount (`null` or absent: `None`; with `#[serde(default)]`).
pub(crate) fn opt_amount<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a whole, non-negative number of won or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<i64>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<i64>, D::Error> {
            amount(d).map(Some)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<i64>, E> {
            AmountVisitor.visit_u64(v).map(Some)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<i64>, E> {
            AmountVisitor.visit_i64(v).map(Some)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Option<i64>, E> {
            AmountVisitor.visit_f64(v).map(Some)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<i64>, E> {
            AmountVisitor.visit_str(v).map(Some)
        }
    }
    d.deserialize_any(OptVisitor)
}

/// Reads a string, or a number or boolean written out as one (`7` as `"7"`, `true` as `"true"`); with
/// `null_as`, `null` gives that instead of an error. Fractions are refused: a float has already lost digits.
struct LooseText {
    null_as: Option<String>,
}

impl<'de> Visitor<'de> for LooseText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, or a whole number or boolean as one")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        self.null_as
            .ok_or_else(|| E::invalid_type(de::Unexpected::Unit, &"a string"))
    }
    fn visit_none<E: de::Error>(self) -> Result<String, E> {
        self.visit_unit()
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_any(self)
    }
}

/// A string, or a number or boolean written out as one (for values the seed sends as strings of digits).
fn loose_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(LooseText { null_as: None })
}

/// `deserialize_with` for a required text field of an answer (`resultMessage`, a code's name): the seed sends a
/// string, but one firmware's `null` or number must not make the whole answer unreadable. An answer that cannot
/// be read is never applied: the transaction it settles stays `unknown`, and 990001 repeats the same body. So
/// `null` is the empty text and a number its decimal digits. Encoding is unchanged (always a string).
pub(crate) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    d.deserialize_any(LooseText {
        null_as: Some(String::new()),
    })
}

/// `deserialize_with` for an optional text field of an answer (`approvalNo`, `transactionNo`, `ptxid`, codes and
/// names; with `#[serde(default)]`): `null` or absent is `None`, a number its decimal digits (an `approvalNo` of
/// `30001234` is the number the terminal gave out, whichever JSON type carried it). Encoding is unchanged.
pub(crate) fn opt_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct OptVisitor;
    impl<'de> Visitor<'de> for OptVisitor {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string, a whole number or boolean, or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
            loose_text(d).map(Some)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
            LooseText { null_as: None }.visit_str(v).map(Some)
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<Option<String>, E> {
            Ok(Some(v))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<String>, E> {
            Ok(Some(v.to_string()))
        }
    }
    d.deserialize_any(OptVisitor)
}

/// `isPrint`: the seed sends the string `"true"`; sent back the same way. A JSON boolean is accepted too.
pub(crate) mod bool_text {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(true) => s.serialize_str("true"),
            Some(false) => s.serialize_str("false"),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        let text: Option<serde_json::Value> = serde::Deserialize::deserialize(d)?;
        match text {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b)),
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(serde_json::Value::String(s)) if s.eq_ignore_ascii_case("false") => {
                Ok(Some(false))
            }
            Some(other) => Err(serde::de::Error::custom(format!(
                "expected \"true\" or \"false\", got {other}"
            ))),
        }
    }
}
