//! Cancels: the server-to-server POST to `payCancelNVProcess.jsp` and its `k=v&…` answer, manual §5.

use std::collections::BTreeMap;

use crate::divide::DivideInfo;
use crate::error::parse_amount;
pub use crate::error::{ParseError, RequestError};
use crate::form::{
    decode_text, decode_url_encoded_text, encode_component, encode_form, first_not_euc_kr,
    has_percent_escape, utf8_len, Charset, RawForm,
};
use crate::request::validate_divide_info;
use crate::sign;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRequest {
    pub tid: String,
    /// The merchant's cancel password (`Cancelpw`).
    pub cancel_pw: String,
    pub cancel_amt: i64,
    pub cancel_msg: String,
    /// `PartialCancelCode` 1 (partial) or 0 (full).
    pub partial: bool,
    /// `"T"` for sub-mall (split settlement) merchants.
    pub merchant_mode: Option<String>,
    /// Sub-mall split of the cancelled amount; sent without goods names.
    pub divide_info: Option<DivideInfo>,
}

/// Undo the vendor's double encoding of CancelMSG: the value is URL-encoded (EUC-KR) before the form encoding.
///
/// After the form layer is gone, the value is decoded once more when it holds a `%XX` escape, or when it holds a
/// `+` but no space (PHP `urlencode` turns spaces into `+`, and the form layer has already turned every original
/// `+` of a singly-encoded value into a space). A message sent without the inner layer therefore decodes too,
/// except for the rare plain message that contains `+` and no space.
fn decode_cancel_msg(bytes: &[u8]) -> String {
    let has_plus = bytes.contains(&b'+');
    let has_space = bytes.contains(&b' ');
    if has_percent_escape(bytes) || (has_plus && !has_space) {
        decode_url_encoded_text(bytes)
    } else {
        decode_text(bytes)
    }
}

/// `CancelMSG`: at most 100 bytes, no control characters, and encodable in EUC-KR, in which it is sent. Public so
/// that a caller can check a reason before it records a cancel.
pub fn validate_cancel_msg(msg: &str) -> Result<(), RequestError> {
    if utf8_len(msg) > 100 {
        return Err(RequestError::new("CancelMSG", "longer than 100 bytes"));
    }
    if msg.chars().any(char::is_control) {
        return Err(RequestError::new(
            "CancelMSG",
            "contains control characters",
        ));
    }
    if let Some(c) = first_not_euc_kr(msg) {
        return Err(RequestError::not_euc_kr("CancelMSG", c));
    }
    Ok(())
}

impl CancelRequest {
    /// Local checks: TID present, `Cancelpw` 1–20 bytes, amount > 0 and at most 12 digits, CancelMSG at most 100
    /// bytes, MerchantMode only `T`, DivideInfo summing to the cancelled amount.
    pub fn validate(&self) -> Result<(), RequestError> {
        let tid = self.tid.trim();
        if tid.is_empty() {
            return Err(RequestError::new("TID", "required"));
        }
        if tid.len() > 30 || !tid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(RequestError::new(
                "TID",
                "must be up to 30 ASCII letters and digits",
            ));
        }
        if self.cancel_pw.is_empty() {
            return Err(RequestError::new("Cancelpw", "required"));
        }
        if utf8_len(&self.cancel_pw) > 20 {
            return Err(RequestError::new("Cancelpw", "longer than 20 bytes"));
        }
        if self.cancel_amt <= 0 {
            return Err(RequestError::new("CancelAmt", "must be greater than 0"));
        }
        if self.cancel_amt > 999_999_999_999 {
            return Err(RequestError::new("CancelAmt", "longer than 12 digits"));
        }
        validate_cancel_msg(&self.cancel_msg)?;
        if let Some(m) = &self.merchant_mode {
            if m != "T" {
                return Err(RequestError::new("MerchantMode", "must be T"));
            }
        }
        if let Some(d) = &self.divide_info {
            validate_divide_info(d, self.cancel_amt, true)?;
        }
        Ok(())
    }

    /// Validate, then the EUC-KR form body with `hashData`. CancelMSG is URL-encoded in EUC-KR first, as the
    /// vendor's PHP sample does, and then form-encoded with everything else.
    pub fn to_form_body(&self, merchant_key: &str) -> Result<String, RequestError> {
        self.validate()?;
        let amt = self.cancel_amt.to_string();
        let msg = encode_component(&self.cancel_msg, Charset::EucKr);
        let hash = sign::hash_data(self.tid.trim(), merchant_key, self.cancel_amt, self.partial);
        let divide = self
            .divide_info
            .as_ref()
            .map(|d| d.without_goods_names().encode());
        let mut f: Vec<(&str, &str)> = vec![
            ("TID", self.tid.trim()),
            ("Cancelpw", &self.cancel_pw),
            ("CancelAmt", &amt),
            ("CancelMSG", &msg),
            ("PartialCancelCode", if self.partial { "1" } else { "0" }),
            ("hashData", &hash),
        ];
        if let Some(m) = &self.merchant_mode {
            f.push(("MerchantMode", m));
        }
        if let Some(d) = &divide {
            f.push(("DivideInfo", d));
        }
        Ok(encode_form(&f, Charset::EucKr))
    }

    /// The sandbox side: read a cancel form. Returns the request and its `hashData` (verify it with
    /// [`sign::verify_hash_data`]); the amount is not range-checked here so the caller can answer 2010 itself.
    pub fn from_form(form: &RawForm) -> Result<(CancelRequest, String), ParseError> {
        let text = |name: &str| {
            form.get_bytes_ignore_case(name)
                .map(decode_text)
                .filter(|s| !s.trim().is_empty())
        };
        let required = |name: &'static str| {
            text(name)
                .map(|s| s.trim().to_string())
                .ok_or(ParseError::Missing(name))
        };
        let tid = required("TID")?;
        let cancel_pw = form
            .get_bytes_ignore_case("Cancelpw")
            .map(decode_text)
            .filter(|s| !s.is_empty())
            .ok_or(ParseError::Missing("Cancelpw"))?;
        let cancel_amt = parse_amount("CancelAmt", &required("CancelAmt")?)?;
        let partial = match required("PartialCancelCode")?.as_str() {
            "0" => false,
            "1" => true,
            _ => {
                return Err(ParseError::Malformed {
                    field: "PartialCancelCode",
                    reason: "must be 0 or 1".to_string(),
                })
            }
        };
        let hash = required("hashData")?;
        let cancel_msg = form
            .get_bytes_ignore_case("CancelMSG")
            .map(decode_cancel_msg)
            .unwrap_or_default();
        let divide_info = text("DivideInfo")
            .map(|v| DivideInfo::decode(&v))
            .transpose()?;
        Ok((
            CancelRequest {
                tid,
                cancel_pw,
                cancel_amt,
                cancel_msg,
                partial,
                merchant_mode: text("MerchantMode").map(|s| s.trim().to_string()),
                divide_info,
            },
            hash,
        ))
    }
}

/// The answer of `payCancelNVProcess.jsp`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CancelResponse {
    pub pay_method: Option<String>,
    pub pay_name: Option<String>,
    pub mid: Option<String>,
    /// The original TID.
    pub tid: Option<String>,
    pub cancel_amt: Option<i64>,
    pub cancel_msg: Option<String>,
    pub result_code: String,
    pub result_msg: String,
    /// `YYYYMMDD`
    pub cancel_date: Option<String>,
    /// `HHMMSS`
    pub cancel_time: Option<String>,
    pub cancel_num: Option<String>,
    pub moid: Option<String>,
    /// The partial-cancel TID.
    pub ptid: Option<String>,
    pub extra: BTreeMap<String, String>,
}

const RESPONSE_KNOWN: &[&str] = &[
    "PayMethod",
    "PayName",
    "MID",
    "TID",
    "CancelAmt",
    "CancelMSG",
    "ResultCode",
    "ResultMsg",
    "CancelDate",
    "CancelTime",
    "CancelNum",
    "Moid",
    "PTID",
];

/// Text fields the vendor's samples `urldecode` once more; decode a second time only when escapes remain.
fn decode_response_text(bytes: &[u8]) -> String {
    if has_percent_escape(bytes) {
        decode_url_encoded_text(bytes)
    } else {
        decode_text(bytes)
    }
}

impl CancelResponse {
    /// Parse the `k=v&…` body (values URL-encoded EUC-KR). Whitespace and newlines around the body and around
    /// names, as JSP pages emit them, are ignored. Only ResultCode is required.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let start = body
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(body.len());
        let end = body
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(start, |i| i + 1);
        let form = RawForm::parse(&body[start..end.max(start)]);
        let get = |name: &str| -> Option<&[u8]> {
            form.iter()
                .find(|(n, _)| n.trim() == name)
                .or_else(|| {
                    form.iter()
                        .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
                })
                .map(|(_, v)| v)
        };
        let code_like = |name: &str| {
            get(name)
                .map(|v| decode_text(v).trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let text_like = |name: &str| {
            get(name)
                .map(decode_response_text)
                .filter(|s| !s.trim().is_empty())
        };

        let result_code = code_like("ResultCode").ok_or(ParseError::Missing("ResultCode"))?;
        let cancel_amt = code_like("CancelAmt")
            .map(|v| parse_amount("CancelAmt", &v))
            .transpose()?;
        let extra = form
            .iter()
            .filter(|(name, _)| {
                !RESPONSE_KNOWN
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(name.trim()))
            })
            .map(|(name, value)| (name.trim().to_string(), decode_response_text(value)))
            .collect();
        Ok(CancelResponse {
            pay_method: code_like("PayMethod"),
            pay_name: text_like("PayName"),
            mid: code_like("MID"),
            tid: code_like("TID"),
            cancel_amt,
            cancel_msg: text_like("CancelMSG"),
            result_code,
            result_msg: get("ResultMsg")
                .map(decode_response_text)
                .unwrap_or_default(),
            cancel_date: code_like("CancelDate"),
            cancel_time: code_like("CancelTime"),
            cancel_num: code_like("CancelNum"),
            moid: code_like("Moid"),
            ptid: code_like("PTID"),
            extra,
        })
    }

    /// 2001 (cancelled), 2211 (bank-transfer refund), TS20 (Toss refund, 결제환불 성공) and 2013 (already
    /// cancelled) all leave the payment cancelled. Toss's own refusals, TS21 (토스 결제환불 실패) and TS22 (토스
    /// 부분취소 불가 금액), are not successes.
    pub fn is_success(&self) -> bool {
        matches!(self.result_code.as_str(), "2001" | "2211" | "TS20" | "2013")
    }

    /// The EUC-KR body the sandbox answers with.
    pub fn to_body(&self) -> Vec<u8> {
        let amt = self.cancel_amt.map(|a| a.to_string());
        let mut f: Vec<(&str, &str)> = Vec::with_capacity(16 + self.extra.len());
        for (name, value) in [
            ("PayMethod", &self.pay_method),
            ("PayName", &self.pay_name),
            ("MID", &self.mid),
            ("TID", &self.tid),
            ("CancelAmt", &amt),
            ("CancelMSG", &self.cancel_msg),
        ] {
            if let Some(v) = value {
                f.push((name, v));
            }
        }
        f.push(("ResultCode", &self.result_code));
        f.push(("ResultMsg", &self.result_msg));
        for (name, value) in [
            ("CancelDate", &self.cancel_date),
            ("CancelTime", &self.cancel_time),
            ("CancelNum", &self.cancel_num),
            ("Moid", &self.moid),
            ("PTID", &self.ptid),
        ] {
            if let Some(v) = value {
                f.push((name, v));
            }
        }
        for (name, value) in &self.extra {
            f.push((name, value));
        }
        encode_form(&f, Charset::EucKr).into_bytes()
    }
}
