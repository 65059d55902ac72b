//! Confirming a verified result with Smartro's receipt data API (weblink.md §9): a record of the TID whose `moid`
//! and `goodsAmt` are the result's OID and Amt (for a partial cancel, the original TID's `partCancelInfo` listing
//! its amount).

use secrecy::ExposeSecret;
use smartro::client::CallOutcome;
use smartro::receipt::Receipt;

use super::WebLink;
use crate::domain::{Confirmed, ConfirmedBy, ResultKind, VerifiedResult};
use crate::providers::Confirmation;

/// What one receipt record says of a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `listed_partial_cancels`: see [`Confirmed`].
    Confirmed {
        listed_partial_cancels: Option<usize>,
    },
    Refuted(String),
    Unconfirmed(String),
}

fn amount(value: &Option<String>) -> Option<i64> {
    value
        .as_deref()
        .map(str::trim)
        .and_then(|v| v.replace(',', "").parse::<i64>().ok())
}

fn trimmed(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

const CONFIRMED: Verdict = Verdict::Confirmed {
    listed_partial_cancels: None,
};

/// Judges `result` against the receipt record of `looked_up`: the result's own TID, or for a partial cancel the
/// original TID, whose `partCancelInfo` then has to list the cancel.
pub fn judge(result: &VerifiedResult, looked_up: &str, receipt: &Receipt) -> Verdict {
    if trimmed(&receipt.tid) != Some(looked_up) {
        return Verdict::Unconfirmed(format!(
            "the receipt API answered for TID {:?}, not {looked_up}",
            receipt.tid
        ));
    }
    let Some(moid) = trimmed(&receipt.moid) else {
        return Verdict::Unconfirmed(format!("Smartro's record of TID {looked_up} has no moid"));
    };
    if moid != result.order_id {
        return Verdict::Refuted(format!(
            "Smartro's record of TID {looked_up} is for order {moid}, not {}",
            result.order_id
        ));
    }
    let goods_amt = amount(&receipt.goods_amt);
    let cancelled = matches!(trimmed(&receipt.state_cd), Some("1") | Some("2"));
    if result.kind == ResultKind::Cancel {
        if let Some(original) = result.other_tid() {
            return if looked_up == original {
                judge_part_cancel_info(result, looked_up, receipt, goods_amt)
            } else if goods_amt == Some(result.amount) && cancelled {
                // The PTID's own record, where Smartro keeps one.
                CONFIRMED
            } else {
                // What a PTID's record holds is not documented: only its order can refute; the original TID's
                // record is asked next.
                Verdict::Unconfirmed(format!(
                    "Smartro's record of PTID {looked_up} does not show a cancel of {}",
                    result.amount
                ))
            };
        }
    }
    match goods_amt {
        None => Verdict::Unconfirmed(format!(
            "Smartro's record of TID {looked_up} has no goodsAmt"
        )),
        Some(total) if total != result.amount => Verdict::Refuted(format!(
            "Smartro's record of TID {looked_up} is for {total} KRW, not {}",
            result.amount
        )),
        // A whole cancel: the record must show the transaction cancelled (stateCd 1 or 2); until it does,
        // Smartro's books may simply lag behind its notification.
        Some(_) if result.kind == ResultKind::Cancel && !cancelled => {
            Verdict::Unconfirmed(format!(
                "Smartro's record of TID {looked_up} is not cancelled yet (stateCd {:?})",
                receipt.state_cd
            ))
        }
        // A deposit needs the record to show money in the account, not only the account issued.
        Some(_)
            if result.kind == ResultKind::VbankDeposit
                && trimmed(&receipt.vacct_base_dt).is_none() =>
        {
            Verdict::Unconfirmed(format!(
                "Smartro's record of TID {looked_up} shows no deposit yet (vacctBaseDt)"
            ))
        }
        // A cash receipt needs the record to show one issued: the notification's receipt fields are not signed.
        // The API documents cashReceiptReqCl for bank methods and cashReceiptType for receipts; either will do.
        Some(_)
            if result.kind == ResultKind::CashReceipt
                && trimmed(&receipt.cash_receipt_req_cl) != Some("1")
                && !matches!(trimmed(&receipt.cash_receipt_type), Some("1") | Some("2")) =>
        {
            Verdict::Unconfirmed(format!(
                "Smartro's record of TID {looked_up} shows no cash receipt issued (cashReceiptReqCl {:?}, \
                 cashReceiptType {:?})",
                receipt.cash_receipt_req_cl, receipt.cash_receipt_type
            ))
        }
        Some(_) => CONFIRMED,
    }
}

fn judge_part_cancel_info(
    result: &VerifiedResult,
    looked_up: &str,
    receipt: &Receipt,
    goods_amt: Option<i64>,
) -> Verdict {
    let listed = receipt
        .part_cancel_info
        .iter()
        .filter(|p| amount(&p.trans_amt) == Some(result.amount))
        .count();
    if listed > 0 {
        Verdict::Confirmed {
            listed_partial_cancels: Some(listed),
        }
    } else if goods_amt.is_some_and(|total| result.amount > total) {
        Verdict::Refuted(format!(
            "a cancel of {} exceeds Smartro's record of TID {looked_up} ({goods_amt:?})",
            result.amount
        ))
    } else {
        Verdict::Unconfirmed(format!(
            "Smartro's record of TID {looked_up} lists no partial cancel of {} yet",
            result.amount
        ))
    }
}

impl WebLink {
    pub(super) async fn ask_receipt_api(&self, result: &VerifiedResult) -> Confirmation {
        let Some(merchant) = self.settings.merchant(&result.mid) else {
            return Confirmation::Unconfirmed(format!("MID {} is not configured", result.mid));
        };
        let key = merchant.merchant_key.expose_secret();
        // A partial cancel's own TID (the PTID) may have a record of its own; otherwise the original TID's record
        // lists the cancel in partCancelInfo.
        let mut lookups = vec![result.tid.as_str()];
        if result.kind == ResultKind::Cancel {
            lookups.extend(result.other_tid());
        }
        let mut why = String::new();
        for tid in lookups {
            match self.client.receipt(&result.mid, tid, key).await {
                CallOutcome::Answered(receipt) => match judge(result, tid, &receipt) {
                    Verdict::Confirmed {
                        listed_partial_cancels,
                    } => {
                        return Confirmation::Confirmed(Confirmed {
                            by: ConfirmedBy::ReceiptApi,
                            listed_partial_cancels,
                        })
                    }
                    Verdict::Refuted(reason) => return Confirmation::Refuted(reason),
                    Verdict::Unconfirmed(reason) => why = reason,
                },
                CallOutcome::Refused { code, message, .. } => {
                    why = format!("receipt API for TID {tid}: {code} {message}");
                }
                CallOutcome::NoAnswer { reason } => {
                    why = format!("receipt API for TID {tid}: no answer ({reason})");
                }
                CallOutcome::Unparseable { status, reason, .. } => {
                    why = format!(
                        "receipt API for TID {tid}: unreadable answer (HTTP {status}: {reason})"
                    );
                }
            }
        }
        Confirmation::Unconfirmed(why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Outcome, PayMethod, PaymentDetails, ResultSource};

    fn result(kind: ResultKind, tid: &str, otid: Option<&str>, amount: i64) -> VerifiedResult {
        VerifiedResult {
            source: ResultSource::Inform,
            kind,
            tid: tid.into(),
            original_tid: otid.map(Into::into),
            order_id: "ORDER-1".into(),
            mid: "SMTPAY001m".into(),
            amount,
            outcome: Outcome::Success,
            pay_method: Some(PayMethod::Card),
            result_code: if kind == ResultKind::Cancel {
                "2001"
            } else {
                "3001"
            }
            .into(),
            result_message: String::new(),
            auth_code: None,
            auth_date: None,
            details: PaymentDetails::default(),
            dedupe_key: format!("{tid}|0|3001|{amount}"),
        }
    }

    fn receipt(json: &str) -> Receipt {
        Receipt::parse(json.as_bytes()).unwrap()
    }

    #[test]
    fn an_approval_needs_the_same_order_and_amount() {
        let r = result(ResultKind::Approval, "T1", None, 1000);
        let ok = receipt(r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0"}"#);
        assert_eq!(judge(&r, "T1", &ok), CONFIRMED);
        let numeric = receipt(r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":1000}"#);
        assert_eq!(judge(&r, "T1", &numeric), CONFIRMED);
        let other_order = receipt(r#"{"tid":"T1","moid":"CHEAP","goodsAmt":"1000"}"#);
        assert!(matches!(
            judge(&r, "T1", &other_order),
            Verdict::Refuted(why) if why.contains("CHEAP")
        ));
        let other_amount = receipt(r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"990000"}"#);
        assert!(matches!(
            judge(&r, "T1", &other_amount),
            Verdict::Refuted(_)
        ));
        let no_amount = receipt(r#"{"tid":"T1","moid":"ORDER-1"}"#);
        assert!(matches!(
            judge(&r, "T1", &no_amount),
            Verdict::Unconfirmed(_)
        ));
        let no_moid = receipt(r#"{"tid":"T1","goodsAmt":"1000"}"#);
        assert!(matches!(judge(&r, "T1", &no_moid), Verdict::Unconfirmed(_)));
        let another_tid = receipt(r#"{"tid":"T2","moid":"ORDER-1","goodsAmt":"1000"}"#);
        assert!(matches!(
            judge(&r, "T1", &another_tid),
            Verdict::Unconfirmed(_)
        ));
    }

    #[test]
    fn a_whole_cancel_needs_the_record_cancelled() {
        let r = result(ResultKind::Cancel, "T1", Some("T1"), 1000);
        let cancelled = receipt(r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"1"}"#);
        assert_eq!(judge(&r, "T1", &cancelled), CONFIRMED);
        let not_yet = receipt(r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0"}"#);
        assert!(matches!(judge(&r, "T1", &not_yet), Verdict::Unconfirmed(_)));
    }

    #[test]
    fn a_partial_cancel_is_found_in_the_original_records_part_cancel_info() {
        let r = result(ResultKind::Cancel, "PTID", Some("T1"), 300);
        let listed = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","partCancelInfo":[{"transAmt":"200"},{"transAmt":"300"}]}"#,
        );
        assert_eq!(
            judge(&r, "T1", &listed),
            Verdict::Confirmed {
                listed_partial_cancels: Some(1)
            }
        );
        let not_listed = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","partCancelInfo":[{"transAmt":"200"}]}"#,
        );
        assert!(matches!(
            judge(&r, "T1", &not_listed),
            Verdict::Unconfirmed(_)
        ));
        let other_order = receipt(
            r#"{"tid":"T1","moid":"CHEAP","goodsAmt":"1000","partCancelInfo":[{"transAmt":"300"}]}"#,
        );
        assert!(matches!(judge(&r, "T1", &other_order), Verdict::Refuted(_)));
        // The PTID's own record, where Smartro keeps one, carries the cancel amount.
        let own = receipt(r#"{"tid":"PTID","moid":"ORDER-1","goodsAmt":"300","stateCd":"1"}"#);
        assert_eq!(judge(&r, "PTID", &own), CONFIRMED);
        // One that carries the original price does not refute the cancel: the original TID is asked next.
        let price = receipt(r#"{"tid":"PTID","moid":"ORDER-1","goodsAmt":"1000","stateCd":"1"}"#);
        assert!(matches!(judge(&r, "PTID", &price), Verdict::Unconfirmed(_)));
        let elsewhere = receipt(r#"{"tid":"PTID","moid":"CHEAP","goodsAmt":"300","stateCd":"1"}"#);
        assert!(matches!(judge(&r, "PTID", &elsewhere), Verdict::Refuted(_)));
        // Two listed cancels of the amount: both may be counted.
        let twice = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","partCancelInfo":[{"transAmt":"300"},{"transAmt":300}]}"#,
        );
        assert_eq!(
            judge(&r, "T1", &twice),
            Verdict::Confirmed {
                listed_partial_cancels: Some(2)
            }
        );
    }

    #[test]
    fn a_deposit_needs_the_money_in_the_record() {
        let mut r = result(ResultKind::VbankDeposit, "T1", None, 1000);
        r.pay_method = Some(PayMethod::Vbank);
        r.result_code = "4110".into();
        let issued = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","vacctNo":"123"}"#,
        );
        assert!(matches!(judge(&r, "T1", &issued), Verdict::Unconfirmed(_)));
        let paid = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","vacctNo":"123","vacctBaseDt":"20261201"}"#,
        );
        assert_eq!(judge(&r, "T1", &paid), CONFIRMED);
    }

    #[test]
    fn a_cash_receipt_needs_one_issued_in_the_record() {
        let mut r = result(ResultKind::CashReceipt, "T1", None, 1000);
        r.result_code = "7001".into();
        let none = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","cashReceiptReqCl":"0"}"#,
        );
        assert!(matches!(judge(&r, "T1", &none), Verdict::Unconfirmed(_)));
        let silent = receipt(r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0"}"#);
        assert!(matches!(judge(&r, "T1", &silent), Verdict::Unconfirmed(_)));
        let issued = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","cashReceiptReqCl":"1","cashReceiptType":"1"}"#,
        );
        assert_eq!(judge(&r, "T1", &issued), CONFIRMED);
        let typed = receipt(
            r#"{"tid":"T1","moid":"ORDER-1","goodsAmt":"1000","stateCd":"0","cashReceiptType":"2"}"#,
        );
        assert_eq!(judge(&r, "T1", &typed), CONFIRMED);
    }
}
