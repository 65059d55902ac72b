//! The sandbox's in-memory transaction book.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::NaiveDateTime;
use smartro::divide::DivideInfo;
use smartro::request::Escrow;
use smartro::types::{CashReceiptType, PayMethod};

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxStatus {
    /// Approved (card, bank transfer, phone, Toss, Kakao).
    Approved,
    /// The buyer (or `--auto decline`) declined; nothing to cancel.
    Declined,
    /// Virtual account issued, money not yet in.
    VbankIssued,
    /// Virtual account paid.
    VbankDeposited,
    /// Part of the amount cancelled.
    PartiallyCancelled,
    /// Nothing left.
    Cancelled,
}

/// One accepted cancel of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelRecord {
    /// The partial-cancel TID; `None` for a full cancel.
    pub ptid: Option<String>,
    pub amt: i64,
    pub partial: bool,
    pub cancel_num: String,
    /// `YYYYMMDD` (KST)
    pub cancel_date: String,
    /// `HHMMSS` (KST)
    pub cancel_time: String,
    pub msg: String,
    /// The cancel's sub-mall split, as its DivideInfo carried it (split-settlement payments).
    pub divide_info: Option<DivideInfo>,
    /// The cancel number of the payment's cash receipt (`RcptCcNo`), when the payment has one.
    pub rcpt_cc_no: Option<String>,
    /// When the sandbox accepted it, on the monotonic clock: the `receipt_delay` fault measures from here.
    pub recorded: Instant,
}

/// One sub-mall's share of a split-settlement payment (`Productinfo=padj`): the amounts of the DivideInfo entries
/// that name this sub-mall, summed, and what cancels have taken back from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubMallShare {
    /// The sub-mall's MID.
    pub mid: String,
    pub amt: i64,
    pub cancelled_amt: i64,
}

impl SubMallShare {
    /// What a cancel may still take from this sub-mall.
    pub fn remaining(&self) -> i64 {
        self.amt - self.cancelled_amt
    }
}

/// The cash receipt issued with a KAKAO or TOSS payment whose request said `ReceiptType=Y`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CashReceipt {
    /// Income deduction (the default) or expense proof: `ReceiptType` of the notifications.
    pub kind: CashReceiptType,
    /// The number it was issued to: the buyer's phone number (income deduction) or business number (expense
    /// proof). The receipt API reports it masked as `cashReceiptNo`.
    pub id_no: String,
    /// The cash receipt's own transaction number (`cashReceiptTid` of the receipt API).
    pub tid: String,
    /// Its approval number (`RcptAppNo`).
    pub app_no: String,
    /// KST
    pub issued_at: NaiveDateTime,
}

/// A transaction as the sandbox keeps it (and hands to tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSnapshot {
    pub tid: String,
    pub mid: String,
    pub moid: String,
    pub pay_method: PayMethod,
    pub amt: i64,
    pub status: TxStatus,
    pub result_code: String,
    pub result_msg: String,
    pub goods_name: String,
    pub buyer_name: String,
    pub buyer_tel: String,
    pub buyer_email: String,
    pub mall_user_id: Option<String>,
    pub auth_code: Option<String>,
    /// `yyMMddHHmmss` (KST)
    pub auth_date: String,
    /// KST
    pub approved_at: NaiveDateTime,
    /// Card issuer code, or the bank code for BANK/VBANK.
    pub fn_cd: Option<String>,
    pub fn_name: Option<String>,
    pub acqu_card_code: Option<String>,
    pub card_quota: Option<String>,
    /// Masked card number, e.g. `411111******1234`.
    pub pin_no: Option<String>,
    pub vbank_num: Option<String>,
    pub vbank_exp_date: Option<String>,
    /// KST
    pub deposited_at: Option<NaiveDateTime>,
    pub return_url: String,
    pub retry_url: String,
    /// The sub-mall split as the request's DivideInfo carried it (goods names included); the result echoes it.
    pub divide_info: Option<DivideInfo>,
    /// Per sub-mall: its share and what cancels took back; empty for a payment without a split.
    pub split: Vec<SubMallShare>,
    /// The escrow fields of an `EscrowCD=1` request.
    pub escrow: Option<Escrow>,
    /// The cash receipt issued with the payment, if any.
    pub cash_receipt: Option<CashReceipt>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub cancelled_amt: i64,
    pub cancels: Vec<CancelRecord>,
    /// When the sandbox recorded it, on the monotonic clock: the `receipt_delay` fault measures from here.
    pub recorded: Instant,
}

impl TransactionSnapshot {
    /// What can still be cancelled.
    pub fn remaining(&self) -> i64 {
        self.amt - self.cancelled_amt
    }
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    txs: Vec<TransactionSnapshot>,
    by_tid: HashMap<String, usize>,
    /// Every TID handed out, PTIDs included, so that no two are ever equal.
    used_tids: HashSet<String>,
    /// The second of the last TID handed out and how many of its numbers have been tried.
    tid_second: Option<(NaiveDateTime, u32)>,
}

impl Store {
    pub(crate) fn tid_in_use(&self, tid: &str) -> bool {
        self.used_tids.contains(tid)
    }

    pub(crate) fn tid_second(&self) -> Option<(NaiveDateTime, u32)> {
        self.tid_second
    }

    pub(crate) fn set_tid_second(&mut self, at: NaiveDateTime, used: u32) {
        self.tid_second = Some((at, used));
    }

    pub(crate) fn reserve_tid(&mut self, tid: &str) {
        self.used_tids.insert(tid.to_string());
    }

    pub(crate) fn insert(&mut self, tx: TransactionSnapshot) {
        self.used_tids.insert(tx.tid.clone());
        self.by_tid.insert(tx.tid.clone(), self.txs.len());
        self.txs.push(tx);
    }

    /// Original TIDs only: a PTID is not a transaction of its own.
    pub(crate) fn get(&self, tid: &str) -> Option<&TransactionSnapshot> {
        self.by_tid.get(tid).and_then(|&i| self.txs.get(i))
    }

    pub(crate) fn get_mut(&mut self, tid: &str) -> Option<&mut TransactionSnapshot> {
        match self.by_tid.get(tid) {
            Some(&i) => self.txs.get_mut(i),
            None => None,
        }
    }

    pub(crate) fn all(&self) -> Vec<TransactionSnapshot> {
        self.txs.clone()
    }
}
