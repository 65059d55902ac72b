//! Cancels (payCancelNVProcess.jsp) and look-ups in the receipt data API: what Smartro answers, in the gateway's
//! terms.

use secrecy::ExposeSecret;
use smartro::cancel::CancelRequest;
use smartro::client::CallOutcome;
use smartro::divide::{DivideEntry, DivideInfo};
use smartro::receipt::Receipt;

use super::WebLink;
use crate::domain::{CancelPlan, CancelReply};
use crate::providers::{CancelCall, LookupError};

/// What the receipt says has been cancelled of the payment, in KRW.
pub fn cancelled_at_smartro(receipt: &Receipt) -> Option<i64> {
    let amount = |v: &Option<String>| v.as_deref().and_then(|s| s.trim().parse::<i64>().ok());
    match receipt.state_cd.as_deref().map(str::trim) {
        // Cancelled before or after settlement: nothing is left.
        Some("1") | Some("2") => amount(&receipt.goods_amt),
        Some("0") => Some(
            receipt
                .part_cancel_info
                .iter()
                .map(|p| amount(&p.trans_amt).unwrap_or(0))
                .sum(),
        ),
        _ => None,
    }
}

impl WebLink {
    pub(super) async fn send_cancel(
        &self,
        mid: &str,
        plan: &CancelPlan,
        reason: &str,
    ) -> CancelCall {
        let Some(merchant) = self.settings.merchant(mid) else {
            return CancelCall::Invalid {
                code: "merchant_not_configured".to_string(),
                message: format!("MID {mid} is no longer configured on this gateway"),
            };
        };
        let request = CancelRequest {
            tid: plan.tid.clone(),
            cancel_pw: merchant.cancel_password.expose_secret().to_string(),
            cancel_amt: plan.amount,
            cancel_msg: reason.to_string(),
            partial: plan.partial,
            // "서브몰정산 가맹점 전용 MerchantMode : T" (manual §5.2): cancels of a sub-mall split payment.
            merchant_mode: plan.split_payment.then(|| "T".to_string()),
            // A partial cancel of a split payment says how it splits between the sub-malls (manual §5.2).
            divide_info: (!plan.split.is_empty()).then(|| DivideInfo {
                entries: plan
                    .split
                    .iter()
                    .map(|share| DivideEntry {
                        amt: share.amount,
                        mid: share.sub_mall_id.clone(),
                        goods_name: None,
                    })
                    .collect(),
            }),
        };
        match self
            .client
            .cancel(&request, merchant.merchant_key.expose_secret())
            .await
        {
            CallOutcome::Answered(answer) => {
                let reply = CancelReply {
                    result_code: Some(answer.result_code.clone()),
                    result_message: Some(answer.result_msg.clone()),
                    cancel_num: answer.cancel_num.clone(),
                };
                if answer.is_success() {
                    CancelCall::Succeeded {
                        reply,
                        ptid: answer.ptid.clone(),
                        amount: answer.cancel_amt,
                    }
                } else {
                    CancelCall::Refused { reply }
                }
            }
            // Not sent at all (the request failed the protocol crate's validation): a definite failure.
            CallOutcome::Refused { code, message, .. } => CancelCall::Invalid { code, message },
            CallOutcome::NoAnswer { reason } => CancelCall::NoAnswer { reason },
            CallOutcome::Unparseable { status, reason, .. } => {
                CancelCall::Unreadable { status, reason }
            }
        }
    }

    /// The receipt data API's record of `tid`.
    pub async fn lookup(&self, mid: &str, tid: &str) -> Result<Receipt, LookupError> {
        let Some(merchant) = self.settings.merchant(mid) else {
            return Err(LookupError::Refused {
                code: "merchant_not_configured".to_string(),
                message: format!("MID {mid} is no longer configured on this gateway"),
            });
        };
        match self
            .client
            .receipt(mid, tid, merchant.merchant_key.expose_secret())
            .await
        {
            CallOutcome::Answered(receipt) => Ok(receipt),
            CallOutcome::Refused { code, message, .. } => {
                Err(LookupError::Refused { code, message })
            }
            CallOutcome::NoAnswer { reason } => Err(LookupError::NoAnswer { reason }),
            CallOutcome::Unparseable { status, reason, .. } => {
                Err(LookupError::Unreadable { status, reason })
            }
        }
    }

    /// The receipt page's link for the cash receipt of `tid` (type 2).
    pub fn cash_receipt_url(&self, tid: &str) -> String {
        smartro::receipt::receipt_page_url(
            &self.settings.smartro.endpoints().receipt_page_url,
            tid,
            true,
        )
    }

    /// The receipt page's link for `tid` (type 0: the payment itself).
    pub fn receipt_url(&self, tid: &str) -> String {
        smartro::receipt::receipt_page_url(
            &self.settings.smartro.endpoints().receipt_page_url,
            tid,
            false,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(json: &str) -> Receipt {
        Receipt::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn what_smartro_has_cancelled() {
        let full = receipt(r#"{"tid":"T","stateCd":"1","goodsAmt":"10000"}"#);
        assert_eq!(cancelled_at_smartro(&full), Some(10_000));
        let partial = receipt(
            r#"{"tid":"T","stateCd":"0","goodsAmt":10000,"partCancelInfo":[{"transAmt":"3000"},{"transAmt":1000}]}"#,
        );
        assert_eq!(cancelled_at_smartro(&partial), Some(4_000));
        let none = receipt(r#"{"tid":"T","stateCd":"0","goodsAmt":"10000"}"#);
        assert_eq!(cancelled_at_smartro(&none), Some(0));
        let odd = receipt(r#"{"tid":"T","stateCd":"9"}"#);
        assert_eq!(cancelled_at_smartro(&odd), None);
    }
}
