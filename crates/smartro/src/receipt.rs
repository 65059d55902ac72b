//! The receipt data API (seed 003) and the receipt page URL.
//!
//! Smartro warns that response fields may be added without notice, so parsing is lenient: every scalar may come
//! as a JSON string, number or boolean and is kept as a string, unknown fields are kept in `extra`, and the
//! value round-trips to JSON (the sandbox serves it).

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

pub use crate::error::ParseError;

/// The JSON body of the receipt API: `{"mid": "...", "tid": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRequest {
    pub mid: String,
    pub tid: String,
}

/// A JSON scalar as text: strings as they are, numbers and booleans in their JSON spelling, null as absent.
fn lenient_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(serde::de::Error::custom(format!(
            "expected a string or a number, found {other}"
        ))),
    }
}

/// `partCancelInfo` may be a list, a single object or null.
fn lenient_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PartCancelInfo>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(items) => items
            .into_iter()
            .map(|v| serde_json::from_value(v).map_err(serde::de::Error::custom))
            .collect(),
        obj @ Value::Object(_) => serde_json::from_value(obj)
            .map(|one| vec![one])
            .map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "partCancelInfo: expected a list, found {other}"
        ))),
    }
}

/// The seed calls `merchantInfo` a list but describes one merchant: accept an object, or a list whose first
/// element is taken.
fn lenient_merchant<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<MerchantInfo>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    match value {
        Value::Null => Ok(None),
        Value::Array(items) => match items.into_iter().next() {
            None => Ok(None),
            Some(first) => serde_json::from_value(first)
                .map(Some)
                .map_err(serde::de::Error::custom),
        },
        obj @ Value::Object(_) => serde_json::from_value(obj)
            .map(Some)
            .map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "merchantInfo: expected an object, found {other}"
        ))),
    }
}

macro_rules! lenient_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[doc = $doc:literal])* $field:ident => $wire:literal, )*
            @rest { $($rest:tt)* }
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $wire, default, deserialize_with = "lenient_string",
                        skip_serializing_if = "Option::is_none")]
                pub $field: Option<String>,
            )*
            $($rest)*
        }
    };
}

lenient_struct! {
    /// One partial cancel of the payment.
    pub struct PartCancelInfo {
        /// `YYYYMMDD`
        trans_dt => "transDt",
        /// `HHMMSS`
        trans_tm => "transTm",
        trans_amt => "transAmt",
        trans_supply_amt => "transSupplyAmt",
        trans_vat_amt => "transVatAmt",
        trans_svc_amt => "transSvcAmt",
        refund_req_dt => "refundReqDt",
        refund_req_tm => "refundReqTm",
        refund_amt => "refundAmt",
        @rest {
            /// Fields added by Smartro after seed 003.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    }
}

lenient_struct! {
    /// The merchant as printed on the receipt. The seed lists `bossNm` twice (representative, then shop name);
    /// the second is taken to be `name`, as the spec distils it. Any other name lands in `extra`.
    pub struct MerchantInfo {
        co_no => "coNo",
        co_nm => "coNm",
        boss_nm => "bossNm",
        name => "name",
        addr => "addr",
        @rest {
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    }
}

lenient_struct! {
    /// The receipt API's answer (seed 003). The seed lists `bankCd` twice (code, then name); the second is taken
    /// to be `bankNm`.
    pub struct Receipt {
        tid => "tid",
        moid => "moid",
        /// 0 approval, 1/2 cancel
        state_cd => "stateCd",
        state_nm => "stateNm",
        svc_cd => "svcCd",
        svc_nm => "svcNm",
        ord_nm => "ordNm",
        goods_nm => "goodsNm",
        goods_amt => "goodsAmt",
        supply_amt => "supplyAmt",
        vat_amt => "vatAmt",
        svc_amt => "svcAmt",
        app_no => "appNo",
        /// `YYYYMMDD`
        app_dt => "appDt",
        /// `HHMMSS`
        app_tm => "appTm",
        cc_no => "ccNo",
        cc_dt => "ccDt",
        cc_tm => "ccTm",
        ccy_cd => "ccyCd",
        ccy_nm => "ccyNm",
        /// Masked.
        card_no => "cardNo",
        app_co => "appCo",
        app_nm => "appNm",
        instmnt_mon => "instmntMon",
        fn_no => "fnNo",
        /// 01 personal, 02 corporate
        card_type => "cardType",
        /// 0 credit, 1 check
        card_cl => "cardCl",
        bank_cd => "bankCd",
        bank_nm => "bankNm",
        acct_no => "acctNo",
        vacct_no => "vacctNo",
        vacct_base_dt => "vacctBaseDt",
        vacct_due_dt => "vacctDueDt",
        cash_receipt_req_cl => "cashReceiptReqCl",
        cash_receipt_tid => "cashReceiptTid",
        cash_receipt_type => "cashReceiptType",
        cash_receipt_no => "cashReceiptNo",
        @rest {
            #[serde(rename = "partCancelInfo", default, deserialize_with = "lenient_list",
                    skip_serializing_if = "Vec::is_empty")]
            pub part_cancel_info: Vec<PartCancelInfo>,
            #[serde(rename = "merchantInfo", default, deserialize_with = "lenient_merchant",
                    skip_serializing_if = "Option::is_none")]
            pub merchant_info: Option<MerchantInfo>,
            /// Fields added by Smartro after seed 003, kept as received.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }
    }
}

impl Receipt {
    /// Parse the API's JSON answer. It must be a JSON object with a non-empty `tid`; anything else (an error
    /// object, HTML, invalid JSON) is a [`ParseError`].
    pub fn parse(body: &[u8]) -> Result<Receipt, ParseError> {
        let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Malformed {
            field: "receipt",
            reason: format!("not JSON: {e}"),
        })?;
        if !value.is_object() {
            return Err(ParseError::Malformed {
                field: "receipt",
                reason: "not a JSON object".to_string(),
            });
        }
        let receipt: Receipt =
            serde_json::from_value(value).map_err(|e| ParseError::Malformed {
                field: "receipt",
                reason: e.to_string(),
            })?;
        if receipt.tid.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(ParseError::Missing("tid"));
        }
        Ok(receipt)
    }
}

/// `{base}?TID=…&type=0` (the payment itself) or `type=2` (cash receipt). `base` is
/// [`crate::endpoints::Endpoints::receipt_page_url`].
pub fn receipt_page_url(base: &str, tid: &str, cash_receipt: bool) -> String {
    let sep = if base.contains('?') { '&' } else { '?' };
    let kind = if cash_receipt { 2 } else { 0 };
    format!(
        "{base}{sep}TID={}&type={kind}",
        crate::form::encode_component(tid, crate::form::Charset::Utf8)
    )
}
