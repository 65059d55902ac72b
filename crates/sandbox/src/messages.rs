//! The notifications (inform, manual §6.4) the sandbox sends about its transactions, and the result messages of
//! the code tables.

use std::collections::BTreeMap;

use smartro::codes;
use smartro::notification::Notification;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};

use crate::store::TransactionSnapshot;

/// `7001` 현금영수증 처리성공 (seed 000 §5): the ResultCode of a cash-receipt notification.
pub(crate) const CASH_RECEIPT_ISSUED: &str = "7001";

/// Smartro's message for `code`; empty for a code the tables do not hold.
pub(crate) fn message_of(code: &str) -> String {
    codes::result_code(code)
        .map(|c| c.message.to_string())
        .unwrap_or_default()
}

/// What distinguishes one notification of a transaction from another.
pub(crate) struct NotificationKind {
    pub tid: String,
    pub otid: Option<String>,
    pub amt: i64,
    pub result_code: String,
    pub result_msg: String,
    pub state_cd: StateCd,
    /// `yyMMddHHmmss`: approval, deposit, cash-receipt or cancel time.
    pub auth_date: String,
    /// The cash receipt's cancel number, on the cancel of a payment that has one.
    pub rcpt_cc_no: Option<String>,
}

/// The inform message for `tx`, signed with the merchant key over the notified TID and result code.
///
/// A payment with a cash receipt carries `ReceiptType` and `RcptAppNo` on every notification (approval, cash
/// receipt, cancels), as manual §6.4 lists them among the fields of every inform.
pub(crate) fn notification_for(
    tx: &TransactionSnapshot,
    key: &str,
    kind: NotificationKind,
) -> Notification {
    let is_vbank = tx.pay_method == PayMethod::Vbank;
    let receipt = tx.cash_receipt.as_ref();
    Notification {
        pay_method: tx.pay_method.clone(),
        mid: tx.mid.clone(),
        mall_user_id: tx.mall_user_id.clone(),
        amt: kind.amt,
        name: Some(tx.buyer_name.clone()),
        goods_name: Some(tx.goods_name.clone()),
        otid: kind.otid,
        oid: tx.moid.clone(),
        auth_date: Some(kind.auth_date),
        auth_code: tx.auth_code.clone(),
        result_msg: kind.result_msg,
        sign_value: sign::sign_value(&kind.tid, &kind.result_code, key),
        tid: kind.tid,
        result_code: kind.result_code,
        state_cd: kind.state_cd,
        fn_cd: tx.fn_cd.clone(),
        fn_name: tx.fn_name.clone(),
        pin_no: tx.pin_no.clone(),
        card_quota: tx.card_quota.clone(),
        buyer_email: Some(tx.buyer_email.clone()),
        buyer_tel: Some(tx.buyer_tel.clone()),
        buyer_auth_num: None,
        vbank_num: tx.vbank_num.clone(),
        vbank_name: if is_vbank { tx.fn_name.clone() } else { None },
        receipt_type: receipt.map(|r| r.kind.as_str().to_string()),
        rcpt_app_no: receipt.map(|r| r.app_no.clone()),
        rcpt_cc_no: kind.rcpt_cc_no,
        card_use_point: None,
        extra: BTreeMap::new(),
    }
}

/// The separate notification of a payment's cash receipt, when it has one: ResultCode 7001 for the payment's own
/// TID (the manual documents no other TID for it), StateCd 0, the payment's amount, `ReceiptType` and
/// `RcptAppNo`, and the issue time as AuthDate. Its ResultCode sets it apart from the approval: the two never
/// share a dedupe key (TID, StateCd, ResultCode, Amt).
pub(crate) fn cash_receipt_notification(
    tx: &TransactionSnapshot,
    key: &str,
) -> Option<Notification> {
    let receipt = tx.cash_receipt.as_ref()?;
    Some(notification_for(
        tx,
        key,
        NotificationKind {
            tid: tx.tid.clone(),
            otid: None,
            amt: tx.amt,
            result_code: CASH_RECEIPT_ISSUED.to_string(),
            result_msg: message_of(CASH_RECEIPT_ISSUED),
            state_cd: StateCd::Approval,
            auth_date: receipt.issued_at.format("%y%m%d%H%M%S").to_string(),
            rcpt_cc_no: None,
        },
    ))
}
