//! The crate's only I/O: cancel and receipt calls to Smartro over HTTPS (reqwest with rustls).
//!
//! The merchant key goes only into `hashData` and the `apikey` header (marked sensitive); it is never logged and
//! never part of an outcome.

use std::time::Duration;

use reqwest::header::{HeaderValue, ACCEPT, ACCEPT_CHARSET, CONTENT_TYPE};

use crate::cancel::{CancelRequest, CancelResponse};
use crate::receipt::{Receipt, ReceiptRequest};

/// What came of one call.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome<T> {
    /// Smartro answered and the answer parsed; look at its result code yourself.
    Answered(T),
    /// Definitely not done: the receipt API answered non-2xx or with an error object, or the request was invalid
    /// and never sent (`code` = `"INVALID_REQUEST"`).
    Refused {
        code: String,
        message: String,
        raw: Vec<u8>,
    },
    /// Connect failure, timeout or I/O error: whether Smartro acted is unknown.
    NoAnswer { reason: String },
    /// An answer arrived but is not what the protocol promises (non-200 for cancel, unparseable body).
    Unparseable {
        status: u16,
        raw: Vec<u8>,
        reason: String,
    },
}

/// `code` of [`CallOutcome::Refused`] when the request failed local validation and was not sent.
pub const INVALID_REQUEST: &str = "INVALID_REQUEST";

#[derive(Debug, Clone)]
pub struct SmartroClient {
    http: reqwest::Client,
    cancel_url: String,
    receipt_api_url: String,
}

impl SmartroClient {
    /// `timeout` bounds each whole call (connect, send, read the body).
    pub fn new(
        cancel_url: impl Into<String>,
        receipt_api_url: impl Into<String>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()?;
        Ok(SmartroClient {
            http,
            cancel_url: cancel_url.into(),
            receipt_api_url: receipt_api_url.into(),
        })
    }

    /// POST the cancel form. HTTP 200 with a parseable body → `Answered` (check `is_success()`); another status
    /// or an unparseable body → `Unparseable`; no answer → `NoAnswer`.
    pub async fn cancel(
        &self,
        req: &CancelRequest,
        merchant_key: &str,
    ) -> CallOutcome<CancelResponse> {
        let body = match req.to_form_body(merchant_key) {
            Ok(b) => b,
            Err(e) => {
                return CallOutcome::Refused {
                    code: INVALID_REQUEST.to_string(),
                    message: e.to_string(),
                    raw: Vec::new(),
                }
            }
        };
        let sent = self
            .http
            .post(&self.cancel_url)
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=euc-kr",
            )
            .body(body)
            .send()
            .await;
        let (status, raw) = match read(sent).await {
            Ok(v) => v,
            Err(reason) => {
                tracing::warn!(tid = %req.tid, %reason, "smartro cancel: no answer");
                return CallOutcome::NoAnswer { reason };
            }
        };
        if status != 200 {
            return CallOutcome::Unparseable {
                status,
                raw,
                reason: format!("HTTP status {status}"),
            };
        }
        match CancelResponse::parse(&raw) {
            Ok(resp) => CallOutcome::Answered(resp),
            Err(e) => CallOutcome::Unparseable {
                status,
                raw,
                reason: e.to_string(),
            },
        }
    }

    /// POST `{"mid","tid"}` to the receipt API with the merchant key in the `apikey` header.
    pub async fn receipt(&self, mid: &str, tid: &str, merchant_key: &str) -> CallOutcome<Receipt> {
        let mut apikey = match HeaderValue::from_str(merchant_key) {
            Ok(v) => v,
            Err(_) => {
                return CallOutcome::Refused {
                    code: INVALID_REQUEST.to_string(),
                    message: "merchant key is not a valid header value".to_string(),
                    raw: Vec::new(),
                }
            }
        };
        apikey.set_sensitive(true);
        let request = ReceiptRequest {
            mid: mid.to_string(),
            tid: tid.to_string(),
        };
        let body = match serde_json::to_vec(&request) {
            Ok(b) => b,
            Err(e) => {
                return CallOutcome::Refused {
                    code: INVALID_REQUEST.to_string(),
                    message: e.to_string(),
                    raw: Vec::new(),
                }
            }
        };
        let sent = self
            .http
            .post(&self.receipt_api_url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(ACCEPT_CHARSET, "utf-8")
            .header("apikey", apikey)
            .body(body)
            .send()
            .await;
        let (status, raw) = match read(sent).await {
            Ok(v) => v,
            Err(reason) => {
                tracing::warn!(%tid, %reason, "smartro receipt: no answer");
                return CallOutcome::NoAnswer { reason };
            }
        };
        if !(200..300).contains(&status) {
            let (code, message) = error_fields(&raw)
                .unwrap_or_else(|| (status.to_string(), format!("HTTP status {status}")));
            return CallOutcome::Refused { code, message, raw };
        }
        match Receipt::parse(&raw) {
            Ok(receipt) => CallOutcome::Answered(receipt),
            Err(e) => match error_fields(&raw) {
                Some((code, message)) => CallOutcome::Refused { code, message, raw },
                None => CallOutcome::Unparseable {
                    status,
                    raw,
                    reason: e.to_string(),
                },
            },
        }
    }
}

/// Status and whole body, or the reason nothing usable arrived.
async fn read(sent: Result<reqwest::Response, reqwest::Error>) -> Result<(u16, Vec<u8>), String> {
    let response = sent.map_err(describe)?;
    let status = response.status().as_u16();
    let raw = response.bytes().await.map_err(describe)?;
    Ok((status, raw.to_vec()))
}

fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect error"
    } else {
        "I/O error"
    };
    // Without the URL: it is configuration, and keeping it out keeps outcomes free of anything but the cause.
    format!("{kind}: {}", e.without_url())
}

/// `(code, message)` of an error object such as `{"resultCode":"E001","resultMsg":"..."}`; the receipt API's
/// error shape is not documented, so the usual spellings are tried.
fn error_fields(raw: &[u8]) -> Option<(String, String)> {
    let value: serde_json::Value = serde_json::from_slice(raw).ok()?;
    let obj = value.as_object()?;
    let pick = |names: &[&str]| {
        names.iter().find_map(|n| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(n))
                .and_then(|(_, v)| match v {
                    serde_json::Value::String(s) => Some(s.clone()),
                    serde_json::Value::Number(n) => Some(n.to_string()),
                    _ => None,
                })
        })
    };
    let code = pick(&["resultCode", "code", "errorCode", "status"])?;
    let message = pick(&["resultMsg", "message", "errorMsg", "msg", "error"]).unwrap_or_default();
    Some((code, message))
}
