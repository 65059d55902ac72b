//! The notification (inform: Smartro's daemon POSTs it server-to-server to RetryURL), manual §6.4.
//!
//! Korean text is EUC-KR and form-encoded once; [`crate::form::decode_text`] is still used so that a UTF-8 body
//! parses too.

use std::collections::BTreeMap;

pub use crate::error::ParseError;
use crate::error::{nul_in, parse_amount};
use crate::form::{decode_text, encode_form, Charset, RawForm};
use crate::sign;
use crate::types::{PayMethod, StateCd};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub pay_method: PayMethod,
    pub mid: String,
    pub mall_user_id: Option<String>,
    pub amt: i64,
    /// Buyer name.
    pub name: Option<String>,
    pub goods_name: Option<String>,
    pub tid: String,
    /// Original TID; differs from `tid` for a partial cancel.
    pub otid: Option<String>,
    pub oid: String,
    /// `yyMMddHHmmss`: approval time, or cancel time for a cancel.
    pub auth_date: Option<String>,
    pub auth_code: Option<String>,
    pub result_code: String,
    pub result_msg: String,
    pub state_cd: StateCd,
    pub fn_cd: Option<String>,
    pub fn_name: Option<String>,
    /// Masked card number.
    pub pin_no: Option<String>,
    pub card_quota: Option<String>,
    pub buyer_email: Option<String>,
    pub buyer_tel: Option<String>,
    pub buyer_auth_num: Option<String>,
    pub vbank_num: Option<String>,
    pub vbank_name: Option<String>,
    pub receipt_type: Option<String>,
    pub rcpt_app_no: Option<String>,
    pub rcpt_cc_no: Option<String>,
    pub card_use_point: Option<String>,
    pub sign_value: String,
    pub extra: BTreeMap<String, String>,
}

const KNOWN: &[&str] = &[
    "PayMethod",
    "MID",
    "MallUserID",
    "Amt",
    "Name",
    "GoodsName",
    "TID",
    "OTID",
    "OID",
    "AuthDate",
    "AuthCode",
    "ResultCode",
    "ResultMsg",
    "StateCd",
    "FnCd",
    "FnName",
    "pinNo",
    "CardQuota",
    "BuyerEmail",
    "BuyerTel",
    "BuyerAuthNum",
    "VbankNum",
    "VbankName",
    "ReceiptType",
    "RcptAppNo",
    "RcptCcNo",
    "CardUsePoint",
    "SignValue",
];

impl Notification {
    /// Parse an inform body. Required: MID, TID, ResultCode, Amt (decimal), StateCd (one digit), SignValue, OID.
    /// No name or value may hold a NUL character.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let form = RawForm::parse(body);
        let text = |name: &str| form.get_bytes_ignore_case(name).map(decode_text);
        let opt = |name: &str| text(name).filter(|s| !s.trim().is_empty());
        let required = |name: &'static str| {
            opt(name)
                .map(|s| s.trim().to_string())
                .ok_or(ParseError::Missing(name))
        };

        let mid = required("MID")?;
        let tid = required("TID")?;
        let result_code = required("ResultCode")?;
        let amt = parse_amount("Amt", &required("Amt")?)?;
        let state_text = required("StateCd")?;
        if state_text.len() != 1 || !state_text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Malformed {
                field: "StateCd",
                reason: "must be one digit".to_string(),
            });
        }
        let sign_value = required("SignValue")?;
        let oid = required("OID")?;
        // Decoding maps a 0x00 byte, and only it, to U+0000, whether the text is UTF-8 or EUC-KR.
        if let Some((name, _)) = form
            .iter()
            .find(|(name, value)| name.contains('\0') || value.contains(&0))
        {
            return Err(nul_in(KNOWN, name));
        }
        let extra = form
            .iter()
            .filter(|(name, _)| !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)))
            .map(|(name, value)| (name.to_string(), decode_text(value)))
            .collect();
        Ok(Notification {
            pay_method: PayMethod::parse(&text("PayMethod").unwrap_or_default()),
            mid,
            mall_user_id: opt("MallUserID"),
            amt,
            name: opt("Name"),
            goods_name: opt("GoodsName"),
            tid,
            otid: opt("OTID"),
            oid,
            auth_date: opt("AuthDate"),
            auth_code: opt("AuthCode"),
            result_code,
            result_msg: text("ResultMsg").unwrap_or_default(),
            state_cd: StateCd::parse(&state_text),
            fn_cd: opt("FnCd"),
            fn_name: opt("FnName"),
            pin_no: opt("pinNo"),
            card_quota: opt("CardQuota"),
            buyer_email: opt("BuyerEmail"),
            buyer_tel: opt("BuyerTel"),
            buyer_auth_num: opt("BuyerAuthNum"),
            vbank_num: opt("VbankNum"),
            vbank_name: opt("VbankName"),
            receipt_type: opt("ReceiptType"),
            rcpt_app_no: opt("RcptAppNo"),
            rcpt_cc_no: opt("RcptCcNo"),
            card_use_point: opt("CardUsePoint"),
            sign_value,
            extra,
        })
    }

    /// Constant-time SignValue check with the merchant key (same rule as returnPay).
    pub fn verify(&self, merchant_key: &str) -> bool {
        sign::verify_sign_value(&self.tid, &self.result_code, merchant_key, &self.sign_value)
    }

    /// `"{tid}|{state_cd}|{result_code}|{amt}"`: the same event re-sent by the daemon maps to the same key.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}|{}|{}|{}",
            self.tid, self.state_cd, self.result_code, self.amt
        )
    }

    /// The EUC-KR form body Smartro's daemon sends (used by the sandbox).
    pub fn to_form_body(&self) -> Vec<u8> {
        fn opt<'a>(f: &mut Vec<(&'a str, &'a str)>, name: &'a str, v: &'a Option<String>) {
            if let Some(v) = v {
                f.push((name, v.as_str()));
            }
        }
        let amt = self.amt.to_string();
        let mut f: Vec<(&str, &str)> = Vec::with_capacity(32 + self.extra.len());
        f.push(("PayMethod", self.pay_method.as_str()));
        f.push(("MID", &self.mid));
        opt(&mut f, "MallUserID", &self.mall_user_id);
        f.push(("Amt", &amt));
        opt(&mut f, "Name", &self.name);
        opt(&mut f, "GoodsName", &self.goods_name);
        f.push(("TID", &self.tid));
        opt(&mut f, "OTID", &self.otid);
        f.push(("OID", &self.oid));
        opt(&mut f, "AuthDate", &self.auth_date);
        opt(&mut f, "AuthCode", &self.auth_code);
        f.push(("ResultCode", &self.result_code));
        f.push(("ResultMsg", &self.result_msg));
        f.push(("StateCd", self.state_cd.as_str()));
        opt(&mut f, "FnCd", &self.fn_cd);
        opt(&mut f, "FnName", &self.fn_name);
        opt(&mut f, "pinNo", &self.pin_no);
        opt(&mut f, "CardQuota", &self.card_quota);
        opt(&mut f, "BuyerEmail", &self.buyer_email);
        opt(&mut f, "BuyerTel", &self.buyer_tel);
        opt(&mut f, "BuyerAuthNum", &self.buyer_auth_num);
        opt(&mut f, "VbankNum", &self.vbank_num);
        opt(&mut f, "VbankName", &self.vbank_name);
        opt(&mut f, "ReceiptType", &self.receipt_type);
        opt(&mut f, "RcptAppNo", &self.rcpt_app_no);
        opt(&mut f, "RcptCcNo", &self.rcpt_cc_no);
        opt(&mut f, "CardUsePoint", &self.card_use_point);
        f.push(("SignValue", &self.sign_value));
        for (name, value) in &self.extra {
            f.push((name.as_str(), value.as_str()));
        }
        encode_form(&f, Charset::EucKr).into_bytes()
    }
}
