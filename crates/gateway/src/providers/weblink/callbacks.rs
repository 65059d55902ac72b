//! returnPay and inform, parsed and verified into neutral results. This is where Smartro's StateCd, result codes
//! and field names end.

use smartro::codes::{self, CodeCategory};
use smartro::notification::Notification;
use smartro::result::PaymentResult;
use smartro::types::{CashReceiptType, PayMethod as WirePayMethod, StateCd};

use super::pay_method;
use crate::config::Settings;
use crate::domain::{
    CardDetails, CashReceipt, CashReceiptKind, MessageLabels, Outcome, PaymentDetails, ResultKind,
    ResultSource, VbankDetails, VerifiedResult,
};
use crate::providers::{Refusal, RejectReason};
use secrecy::ExposeSecret;

pub const VBANK_ISSUED: &str = "4100";
pub const VBANK_DEPOSITED: &str = "4110";
/// Cancel (2001), bank-transfer refund (2211), "already cancelled" (2013), which means the same to us, and the
/// Toss refund (TS20, seed 000 §13).
const CANCEL_SUCCESS: [&str; 4] = ["2001", "2211", "2013", "TS20"];
const CASH_RECEIPT_ISSUED: &str = "7001";

/// What a result is about. returnPay carries no StateCd (`None`).
pub fn classify(state: Option<&StateCd>, result_code: &str) -> ResultKind {
    match state {
        Some(StateCd::CancelBeforeSettlement | StateCd::CancelAfterSettlement) => {
            ResultKind::Cancel
        }
        _ if result_code == VBANK_DEPOSITED => ResultKind::VbankDeposit,
        _ if result_code == VBANK_ISSUED => ResultKind::VbankIssued,
        Some(StateCd::VbankIssued) => ResultKind::VbankIssued,
        Some(StateCd::Approval) | None => {
            if is_cash_receipt_code(result_code) {
                ResultKind::CashReceipt
            } else {
                ResultKind::Approval
            }
        }
        Some(StateCd::Other(_)) => ResultKind::Other,
    }
}

/// The StateCd a kind of result carries in an inform, so that the returnPay and the inform of one result share
/// one dedupe key.
pub fn state_code_for_return(result_code: &str) -> &'static str {
    if result_code == VBANK_ISSUED {
        "3"
    } else {
        "0"
    }
}

/// Cash-receipt notifications (70xx, 00CB) may arrive on the RetryURL beside payment results.
fn is_cash_receipt_code(code: &str) -> bool {
    code.starts_with("70") || code == "00CB"
}

/// The code table a pay method's payment results come from.
fn code_category(method: &WirePayMethod) -> Option<CodeCategory> {
    match method {
        WirePayMethod::Card => Some(CodeCategory::Card),
        WirePayMethod::Bank => Some(CodeCategory::BankTransfer),
        WirePayMethod::Vbank => Some(CodeCategory::VirtualAccount),
        WirePayMethod::Cellphone => Some(CodeCategory::Cellphone),
        WirePayMethod::Toss => Some(CodeCategory::Toss),
        WirePayMethod::Kakao => Some(CodeCategory::Kakao),
        WirePayMethod::Clgift | WirePayMethod::Other(_) => None,
    }
}

/// Success, known failure, or neither, by Smartro's tables. A code they know as neither success nor failure for
/// the method (CLGIFT has no documented success code) is `Unknown`: the money may have moved.
pub fn outcome(kind: ResultKind, method: &WirePayMethod, result_code: &str) -> Outcome {
    let yes_no = |success: bool| {
        if success {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    };
    match kind {
        ResultKind::Approval => {
            if method.success_code() == Some(result_code) {
                return Outcome::Success;
            }
            let known_failure = code_category(method).is_some_and(|category| {
                codes::result_codes(result_code).any(|c| c.category == category && !c.success)
            });
            if known_failure {
                Outcome::Failure
            } else {
                Outcome::Unknown
            }
        }
        ResultKind::VbankIssued => yes_no(result_code == VBANK_ISSUED),
        ResultKind::VbankDeposit => yes_no(result_code == VBANK_DEPOSITED),
        ResultKind::Cancel => yes_no(CANCEL_SUCCESS.contains(&result_code)),
        ResultKind::CashReceipt => yes_no(result_code == CASH_RECEIPT_ISSUED),
        ResultKind::Other => Outcome::Unknown,
    }
}

/// Masks all but the first six and last four digits, in case a card number ever arrives unmasked.
pub fn mask_card_number(pin: &str) -> String {
    let digits = pin.chars().filter(|c| c.is_ascii_digit()).count();
    if digits <= 10 {
        return pin.to_string();
    }
    let mut seen = 0;
    pin.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > 6 && seen <= digits - 4 {
                    return '*';
                }
            }
            c
        })
        .collect()
}

/// The cash receipt an inform reports (ReceiptType 1 or 2, with its approval number).
fn cash_receipt(
    receipt_type: &Option<String>,
    approval_no: &Option<String>,
) -> Option<CashReceipt> {
    let kind = match CashReceiptType::parse(receipt_type.as_deref()?) {
        CashReceiptType::IncomeDeduction => CashReceiptKind::IncomeDeduction,
        CashReceiptType::ExpenseProof => CashReceiptKind::ExpenseProof,
        CashReceiptType::NotIssued | CashReceiptType::Other(_) => return None,
    };
    Some(CashReceipt {
        kind,
        approval_no: non_empty(approval_no),
    })
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn refusal(reason: RejectReason, detail: String, labels: MessageLabels) -> Refusal {
    Refusal {
        reason,
        detail,
        labels: Box::new(labels),
    }
}

fn merchant_key(settings: &Settings, mid: &str, labels: &MessageLabels) -> Result<String, Refusal> {
    settings
        .merchant(mid)
        .map(|m| m.merchant_key.expose_secret().to_string())
        .ok_or_else(|| {
            refusal(
                RejectReason::UnknownMerchant,
                format!("unknown MID {mid}"),
                labels.clone(),
            )
        })
}

fn bad_signature(labels: MessageLabels) -> Refusal {
    refusal(
        RejectReason::BadSignature,
        "SignValue does not verify".to_string(),
        labels,
    )
}

fn malformed(err: impl std::fmt::Display) -> Refusal {
    refusal(
        RejectReason::Malformed,
        err.to_string(),
        MessageLabels::default(),
    )
}

fn dedupe_key(tid: &str, state_code: &str, result_code: &str, amount: i64) -> String {
    format!("{tid}|{state_code}|{result_code}|{amount}")
}

/// Parses and verifies a returnPay body.
pub fn verify_return(settings: &Settings, body: &[u8]) -> Result<VerifiedResult, Refusal> {
    let r = PaymentResult::parse(body).map_err(malformed)?;
    let labels = MessageLabels {
        mid: Some(r.mid.clone()),
        tid: Some(r.tid.clone()),
        order_id: Some(r.oid.clone()),
        dedupe_key: None,
    };
    let key = merchant_key(settings, &r.mid, &labels)?;
    if !r.verify(&key) {
        return Err(bad_signature(labels));
    }
    let kind = classify(None, &r.result_code);
    let details = PaymentDetails {
        card: (non_empty(&r.fn_cd).is_some() || non_empty(&r.acqu_card_code).is_some()).then(
            || CardDetails {
                issuer_code: non_empty(&r.fn_cd),
                issuer_name: non_empty(&r.fn_name),
                acquirer_code: non_empty(&r.acqu_card_code),
                quota: non_empty(&r.card_quota),
                masked_number: None,
            },
        ),
        vbank: non_empty(&r.vbank_num).map(|account| VbankDetails {
            bank_code: non_empty(&r.bank_code),
            bank_name: non_empty(&r.vbank_name).or_else(|| non_empty(&r.bank_name)),
            account: Some(account),
        }),
        // The manual's result carries no cash-receipt fields (removed in v3.5): the notifications do.
        cash_receipt: None,
    };
    Ok(VerifiedResult {
        source: ResultSource::Return,
        kind,
        outcome: outcome(kind, &r.pay_method, &r.result_code),
        dedupe_key: dedupe_key(
            &r.tid,
            state_code_for_return(&r.result_code),
            &r.result_code,
            r.amt,
        ),
        pay_method: pay_method(&r.pay_method),
        tid: r.tid,
        original_tid: None,
        order_id: r.oid,
        mid: r.mid,
        amount: r.amt,
        result_code: r.result_code,
        result_message: r.result_msg,
        auth_code: non_empty(&r.auth_code),
        auth_date: non_empty(&r.auth_date),
        details,
    })
}

/// Parses and verifies an inform body.
pub fn verify_inform(settings: &Settings, body: &[u8]) -> Result<VerifiedResult, Refusal> {
    let n = Notification::parse(body).map_err(malformed)?;
    let labels = MessageLabels {
        mid: Some(n.mid.clone()),
        tid: Some(n.tid.clone()),
        order_id: Some(n.oid.clone()),
        dedupe_key: Some(n.dedupe_key()),
    };
    let key = merchant_key(settings, &n.mid, &labels)?;
    if !n.verify(&key) {
        return Err(bad_signature(labels));
    }
    let kind = classify(Some(&n.state_cd), &n.result_code);
    let vbank_like = matches!(kind, ResultKind::VbankIssued | ResultKind::VbankDeposit)
        || n.state_cd == StateCd::VbankIssued;
    let receipt = cash_receipt(&n.receipt_type, &n.rcpt_app_no);
    let details = if kind == ResultKind::CashReceipt {
        PaymentDetails {
            cash_receipt: receipt,
            ..PaymentDetails::default()
        }
    } else if vbank_like {
        PaymentDetails {
            card: None,
            vbank: non_empty(&n.vbank_num).map(|account| VbankDetails {
                bank_code: non_empty(&n.fn_cd),
                bank_name: non_empty(&n.vbank_name).or_else(|| non_empty(&n.fn_name)),
                account: Some(account),
            }),
            cash_receipt: receipt,
        }
    } else {
        PaymentDetails {
            card: (non_empty(&n.fn_cd).is_some() || non_empty(&n.pin_no).is_some()).then(|| {
                CardDetails {
                    issuer_code: non_empty(&n.fn_cd),
                    issuer_name: non_empty(&n.fn_name),
                    acquirer_code: None,
                    quota: non_empty(&n.card_quota),
                    masked_number: non_empty(&n.pin_no).map(|p| mask_card_number(&p)),
                }
            }),
            vbank: None,
            cash_receipt: receipt,
        }
    };
    Ok(VerifiedResult {
        source: ResultSource::Inform,
        kind,
        outcome: outcome(kind, &n.pay_method, &n.result_code),
        dedupe_key: n.dedupe_key(),
        pay_method: pay_method(&n.pay_method),
        tid: n.tid,
        // OTID means something only for a cancel; anywhere else it is an unsigned field nobody may lean on.
        original_tid: if kind == ResultKind::Cancel {
            non_empty(&n.otid)
        } else {
            None
        },
        order_id: n.oid,
        mid: n.mid,
        amount: n.amt,
        result_code: n.result_code,
        result_message: n.result_msg,
        auth_code: non_empty(&n.auth_code),
        auth_date: non_empty(&n.auth_date),
        details,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PayMethod;

    #[test]
    fn masks_full_card_numbers_only() {
        assert_eq!(mask_card_number("4111111111111111"), "411111******1111");
        assert_eq!(
            mask_card_number("4111-1111-1111-1111"),
            "4111-11**-****-1111"
        );
        assert_eq!(mask_card_number("411111******1111"), "411111******1111");
        assert_eq!(mask_card_number(""), "");
    }

    #[test]
    fn what_a_result_is_about() {
        assert_eq!(classify(None, "3001"), ResultKind::Approval);
        assert_eq!(classify(None, "4100"), ResultKind::VbankIssued);
        assert_eq!(
            classify(Some(&StateCd::Approval), "4110"),
            ResultKind::VbankDeposit
        );
        assert_eq!(
            classify(Some(&StateCd::CancelAfterSettlement), "2001"),
            ResultKind::Cancel
        );
        assert_eq!(
            classify(Some(&StateCd::Approval), "7001"),
            ResultKind::CashReceipt
        );
        assert_eq!(
            classify(Some(&StateCd::Other("9".into())), "3001"),
            ResultKind::Other
        );
    }

    #[test]
    fn success_failure_or_unknown_by_the_code_tables() {
        let card = WirePayMethod::Card;
        assert_eq!(
            outcome(ResultKind::Approval, &card, "3001"),
            Outcome::Success
        );
        assert_eq!(
            outcome(ResultKind::Approval, &card, "3011"),
            Outcome::Failure
        );
        // Bank transfer's success is no card code at all.
        assert_eq!(
            outcome(ResultKind::Approval, &card, "4000"),
            Outcome::Unknown
        );
        // CLGIFT has no documented success code.
        assert_eq!(
            outcome(ResultKind::Approval, &WirePayMethod::Clgift, "0000"),
            Outcome::Unknown
        );
        assert_eq!(outcome(ResultKind::Cancel, &card, "2211"), Outcome::Success);
        assert_eq!(
            outcome(ResultKind::Cancel, &WirePayMethod::Toss, "TS20"),
            Outcome::Success
        );
        assert_eq!(
            outcome(ResultKind::Cancel, &WirePayMethod::Toss, "TS22"),
            Outcome::Failure
        );
        assert_eq!(
            outcome(ResultKind::CashReceipt, &card, "7001"),
            Outcome::Success
        );
        assert_eq!(outcome(ResultKind::Cancel, &card, "2032"), Outcome::Failure);
        assert_eq!(
            pay_method(&WirePayMethod::Clgift),
            Some(PayMethod::GiftCard)
        );
        assert_eq!(pay_method(&WirePayMethod::Other("X".into())), None);
    }
}
