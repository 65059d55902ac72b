//! The payment result (returnPay: the buyer's browser POSTs it to ReturnURL), manual §3.2.

use std::collections::BTreeMap;

pub use crate::error::ParseError;
use crate::error::{nul_in, parse_amount};
use crate::form::{
    decode_text, decode_url_encoded_text, encode_component, encode_form, has_percent_escape,
    percent_decode_keep_plus, Charset, RawForm,
};
use crate::sign;
use crate::types::{EncodingType, PayMethod};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentResult {
    pub pay_method: PayMethod,
    pub mid: String,
    pub amt: i64,
    pub buyer_name: String,
    pub goods_name: String,
    pub mall_user_id: Option<String>,
    pub tid: String,
    /// The `Moid` the merchant sent (wire name `OID`).
    pub oid: String,
    /// `yyMMddHHmmss`
    pub auth_date: Option<String>,
    pub auth_code: Option<String>,
    pub result_code: String,
    pub result_msg: String,
    pub buyer_tel: Option<String>,
    pub buyer_email: Option<String>,
    pub buyer_auth_num: Option<String>,
    pub sign_value: String,
    /// Echoed verbatim (Base64); decode with [`crate::divide::DivideInfo::decode`] if needed.
    pub divide_info: Option<String>,
    pub tax_cd: Option<String>,
    pub svc_amt: Option<i64>,
    pub tax: Option<i64>,
    pub acqu_card_code: Option<String>,
    pub fn_cd: Option<String>,
    pub fn_name: Option<String>,
    pub card_quota: Option<String>,
    pub bank_code: Option<String>,
    pub bank_name: Option<String>,
    pub vbank_num: Option<String>,
    pub vbank_name: Option<String>,
    pub vbank_exp_date: Option<String>,
    /// Fields this crate does not know, decoded like the known text fields.
    pub extra: BTreeMap<String, String>,
}

/// Base64 values: `+` in them is data, so the UrlEncode=Y layer must never turn it into a space.
const VERBATIM: &[&str] = &["SignValue", "DivideInfo"];

const KNOWN: &[&str] = &[
    "PayMethod",
    "MID",
    "Amt",
    "BuyerName",
    "GoodsName",
    "mallUserID",
    "TID",
    "OID",
    "AuthDate",
    "AuthCode",
    "ResultCode",
    "ResultMsg",
    "BuyerTel",
    "BuyerEmail",
    "BuyerAuthNum",
    "SignValue",
    "DivideInfo",
    "TaxCD",
    "SvcAmt",
    "Tax",
    "AcquCardCode",
    "fn_cd",
    "fn_name",
    "CardQuota",
    "BankCode",
    "BankName",
    "VbankNum",
    "VbankName",
    "VbankExpDate",
];

fn is_verbatim(name: &str) -> bool {
    VERBATIM.iter().any(|v| v.eq_ignore_ascii_case(name))
}

/// Decodes values of one returnPay body, deciding once whether the `UrlEncode=Y` layer is present.
///
/// The layer is taken as present when any text value still holds a `%XX` escape after form decoding: with
/// UrlEncode=Y, Smartro's Korean text always does, while plain text practically never does. When present, every
/// text value is percent-decoded once more (which leaves values without escapes alone and turns the `+` of
/// Java's `URLEncoder` back into spaces); a Korean value that arrived without the layer still decodes, because
/// its bytes hold no `%`. Base64 values ([`VERBATIM`]) are only percent-decoded, never `+`-decoded.
struct Decoder<'a> {
    form: &'a RawForm,
    layered: bool,
}

impl<'a> Decoder<'a> {
    fn new(form: &'a RawForm) -> Self {
        let layered = form
            .iter()
            .any(|(name, value)| !is_verbatim(name) && has_percent_escape(value));
        Decoder { form, layered }
    }

    fn decode(&self, name: &str, value: &[u8]) -> String {
        if is_verbatim(name) {
            if has_percent_escape(value) {
                decode_text(&percent_decode_keep_plus(value))
            } else {
                decode_text(value)
            }
        } else if self.layered {
            decode_url_encoded_text(value)
        } else {
            decode_text(value)
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.form
            .get_bytes_ignore_case(name)
            .map(|v| self.decode(name, v))
    }

    /// Present and not blank.
    fn opt(&self, name: &str) -> Option<String> {
        self.text(name).filter(|s| !s.trim().is_empty())
    }

    fn required(&self, name: &'static str) -> Result<String, ParseError> {
        self.opt(name)
            .map(|s| s.trim().to_string())
            .ok_or(ParseError::Missing(name))
    }

    fn opt_amount(&self, name: &'static str) -> Result<Option<i64>, ParseError> {
        self.opt(name).map(|v| parse_amount(name, &v)).transpose()
    }
}

impl PaymentResult {
    /// Parse a returnPay body. Required: TID, ResultCode, MID, Amt (decimal), SignValue and OID. No name or value
    /// may hold a NUL character.
    pub fn parse(body: &[u8]) -> Result<Self, ParseError> {
        let form = RawForm::parse(body);
        let d = Decoder::new(&form);
        let tid = d.required("TID")?;
        let result_code = d.required("ResultCode")?;
        let mid = d.required("MID")?;
        let amt = parse_amount("Amt", &d.required("Amt")?)?;
        let sign_value = d.required("SignValue")?;
        let oid = d.required("OID")?;
        let extra = form
            .iter()
            .filter(|(name, _)| !KNOWN.iter().any(|k| k.eq_ignore_ascii_case(name)))
            .map(|(name, value)| (name.to_string(), d.decode(name, value)))
            .collect();
        let result = PaymentResult {
            pay_method: PayMethod::parse(&d.text("PayMethod").unwrap_or_default()),
            mid,
            amt,
            buyer_name: d.text("BuyerName").unwrap_or_default(),
            goods_name: d.text("GoodsName").unwrap_or_default(),
            mall_user_id: d.opt("mallUserID"),
            tid,
            oid,
            auth_date: d.opt("AuthDate"),
            auth_code: d.opt("AuthCode"),
            result_code,
            result_msg: d.text("ResultMsg").unwrap_or_default(),
            buyer_tel: d.opt("BuyerTel"),
            buyer_email: d.opt("BuyerEmail"),
            buyer_auth_num: d.opt("BuyerAuthNum"),
            sign_value,
            divide_info: d.opt("DivideInfo"),
            tax_cd: d.opt("TaxCD"),
            svc_amt: d.opt_amount("SvcAmt")?,
            tax: d.opt_amount("Tax")?,
            acqu_card_code: d.opt("AcquCardCode"),
            fn_cd: d.opt("fn_cd"),
            fn_name: d.opt("fn_name"),
            card_quota: d.opt("CardQuota"),
            bank_code: d.opt("BankCode"),
            bank_name: d.opt("BankName"),
            vbank_num: d.opt("VbankNum"),
            vbank_name: d.opt("VbankName"),
            vbank_exp_date: d.opt("VbankExpDate"),
            extra,
        };
        // Checked on the decoded values, the UrlEncode=Y layer included (`%2500` is a NUL too).
        let with_nul = result
            .plain_fields()
            .into_iter()
            .find(|(name, value)| name.contains('\0') || value.contains('\0'));
        match with_nul {
            Some((name, _)) => Err(nul_in(KNOWN, &name)),
            None => Ok(result),
        }
    }

    /// Constant-time SignValue check with the merchant key.
    pub fn verify(&self, merchant_key: &str) -> bool {
        sign::verify_sign_value(&self.tid, &self.result_code, merchant_key, &self.sign_value)
    }

    /// True when the result code is the method's success code (VBANK: account issued).
    pub fn is_success(&self) -> bool {
        self.pay_method.success_code() == Some(self.result_code.as_str())
    }

    fn plain_fields(&self) -> Vec<(String, String)> {
        let mut f: Vec<(String, String)> = Vec::with_capacity(32 + self.extra.len());
        let mut push = |name: &str, value: &str| f.push((name.to_string(), value.to_string()));
        push("PayMethod", self.pay_method.as_str());
        push("MID", &self.mid);
        push("Amt", &self.amt.to_string());
        push("BuyerName", &self.buyer_name);
        push("GoodsName", &self.goods_name);
        if let Some(v) = &self.mall_user_id {
            push("mallUserID", v);
        }
        push("TID", &self.tid);
        push("OID", &self.oid);
        for (name, value) in [("AuthDate", &self.auth_date), ("AuthCode", &self.auth_code)] {
            if let Some(v) = value {
                push(name, v);
            }
        }
        push("ResultCode", &self.result_code);
        push("ResultMsg", &self.result_msg);
        for (name, value) in [
            ("BuyerTel", &self.buyer_tel),
            ("BuyerEmail", &self.buyer_email),
            ("BuyerAuthNum", &self.buyer_auth_num),
        ] {
            if let Some(v) = value {
                push(name, v);
            }
        }
        push("SignValue", &self.sign_value);
        if let Some(v) = &self.divide_info {
            push("DivideInfo", v);
        }
        if let Some(v) = &self.tax_cd {
            push("TaxCD", v);
        }
        if let Some(v) = self.svc_amt {
            push("SvcAmt", &v.to_string());
        }
        if let Some(v) = self.tax {
            push("Tax", &v.to_string());
        }
        for (name, value) in [
            ("AcquCardCode", &self.acqu_card_code),
            ("fn_cd", &self.fn_cd),
            ("fn_name", &self.fn_name),
            ("CardQuota", &self.card_quota),
            ("BankCode", &self.bank_code),
            ("BankName", &self.bank_name),
            ("VbankNum", &self.vbank_num),
            ("VbankName", &self.vbank_name),
            ("VbankExpDate", &self.vbank_exp_date),
        ] {
            if let Some(v) = value {
                push(name, v);
            }
        }
        for (name, value) in &self.extra {
            push(name, value);
        }
        f
    }

    /// Field/value pairs as they appear in the auto-submit HTML form Smartro (or the sandbox) sends to ReturnURL.
    ///
    /// With `url_encode`, every value except the Base64 ones (SignValue, DivideInfo) already carries the second
    /// URL-encoding layer in `encoding`'s charset; without it, values are plain text.
    pub fn to_form_fields(
        &self,
        encoding: EncodingType,
        url_encode: bool,
    ) -> Vec<(String, String)> {
        let charset = Charset::from(encoding);
        self.plain_fields()
            .into_iter()
            .map(|(name, value)| {
                if url_encode && !is_verbatim(&name) {
                    let layered = encode_component(&value, charset);
                    (name, layered)
                } else {
                    (name, value)
                }
            })
            .collect()
    }

    /// The form body: with `url_encode`, the values carry the second layer in `encoding`'s charset (UTF-8 for
    /// `utf8`+Y); without it Smartro answers in its default EUC-KR.
    pub fn to_form_body(&self, encoding: EncodingType, url_encode: bool) -> String {
        let fields = self.to_form_fields(encoding, url_encode);
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let charset = if url_encode {
            Charset::from(encoding)
        } else {
            Charset::EucKr
        };
        encode_form(&pairs, charset)
    }
}
