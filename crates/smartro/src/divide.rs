//! `DivideInfo`: sub-mall split settlement, Base64 of the UTF-8 JSON
//! `{"DivideInfo":[{"Amt":"502","MID":"SMTSUB002m","GoodsName":"상품1"}]}`.

use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;

use crate::error::ParseError;

const FIELD: &str = "DivideInfo";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DivideInfo {
    pub entries: Vec<DivideEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DivideEntry {
    pub amt: i64,
    /// The sub-mall's MID.
    pub mid: String,
    /// Present in payment requests; cancel requests leave it out.
    pub goods_name: Option<String>,
}

#[derive(Serialize)]
struct WireEntry<'a> {
    #[serde(rename = "Amt")]
    amt: String,
    #[serde(rename = "MID")]
    mid: &'a str,
    #[serde(rename = "GoodsName", skip_serializing_if = "Option::is_none")]
    goods_name: Option<&'a str>,
}

#[derive(Serialize)]
struct Wire<'a> {
    #[serde(rename = "DivideInfo")]
    entries: Vec<WireEntry<'a>>,
}

impl DivideInfo {
    /// Base64 (standard alphabet, padded) of the JSON, with `Amt` as a string as in the manual.
    pub fn encode(&self) -> String {
        let wire = Wire {
            entries: self
                .entries
                .iter()
                .map(|e| WireEntry {
                    amt: e.amt.to_string(),
                    mid: &e.mid,
                    goods_name: e.goods_name.as_deref(),
                })
                .collect(),
        };
        // Serializing strings and a Vec into JSON cannot fail.
        let json = serde_json::to_string(&wire).unwrap_or_default();
        base64::engine::general_purpose::STANDARD.encode(json.as_bytes())
    }

    /// The same list without goods names, as partial cancels send it.
    pub fn without_goods_names(&self) -> DivideInfo {
        DivideInfo {
            entries: self
                .entries
                .iter()
                .map(|e| DivideEntry {
                    amt: e.amt,
                    mid: e.mid.clone(),
                    goods_name: None,
                })
                .collect(),
        }
    }

    /// Decode the Base64 JSON. Accepts padded or unpadded standard or URL-safe Base64, `Amt` as a string or a
    /// number, and the single-quoted pseudo-JSON of the manual's cancel example (`{'DivideInfo':[…]}`).
    pub fn decode(s: &str) -> Result<Self, ParseError> {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        if compact.is_empty() {
            return Err(ParseError::Missing(FIELD));
        }
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        let bytes = engines
            .iter()
            .find_map(|engine| engine.decode(compact.as_bytes()).ok())
            .ok_or_else(|| ParseError::malformed(FIELD, "not Base64"))?;
        let text =
            String::from_utf8(bytes).map_err(|_| ParseError::malformed(FIELD, "not UTF-8"))?;
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(first) => {
                if text.contains('\'') && !text.contains('"') {
                    serde_json::from_str(&text.replace('\'', "\""))
                        .map_err(|e| ParseError::malformed(FIELD, format!("not JSON: {e}")))?
                } else {
                    return Err(ParseError::malformed(FIELD, format!("not JSON: {first}")));
                }
            }
        };
        let list = value
            .get("DivideInfo")
            .and_then(Value::as_array)
            .ok_or_else(|| ParseError::malformed(FIELD, "no DivideInfo array"))?;
        if list.is_empty() {
            return Err(ParseError::malformed(FIELD, "empty list"));
        }
        let mut entries = Vec::with_capacity(list.len());
        for item in list {
            let amt = match item.get("Amt") {
                Some(Value::String(s)) => crate::error::parse_amount(FIELD, s)
                    .map_err(|_| ParseError::malformed(FIELD, "Amt is not a decimal amount"))?,
                Some(Value::Number(n)) => n
                    .as_i64()
                    .filter(|v| *v >= 0)
                    .ok_or_else(|| ParseError::malformed(FIELD, "Amt is not a whole amount"))?,
                _ => return Err(ParseError::malformed(FIELD, "entry without Amt")),
            };
            let mid = match item.get("MID") {
                Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
                _ => return Err(ParseError::malformed(FIELD, "entry without MID")),
            };
            let goods_name = match item.get("GoodsName") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(ParseError::malformed(FIELD, "GoodsName is not a string")),
            };
            entries.push(DivideEntry {
                amt,
                mid,
                goods_name,
            });
        }
        Ok(DivideInfo { entries })
    }

    /// Sum of the entries' amounts (saturating, so a hostile list cannot overflow).
    pub fn total(&self) -> i64 {
        self.entries
            .iter()
            .fold(0i64, |acc, e| acc.saturating_add(e.amt))
    }
}
