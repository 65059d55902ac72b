//! A transaction on an in-store card terminal, as the gateway (the POS) sees it: a pure state machine from
//! (transaction, what the terminal or the connection did) to (transaction, what follows).
//!
//! The rules (`shared/spec/terminal.md`, "Money-safety rules"):
//! - a transaction is recorded `requested` before its request is sent, so a crash leaves a trace to recover from;
//! - a final answer settles it once; a late or duplicate answer, or one naming another `ptxid`, changes nothing;
//! - losing the connection, the answer or the process never makes it `failed`: it becomes `unknown`, and only
//!   the terminal's own record of its last transaction (990001) settles it: the same `ptxid` applies that
//!   answer; another `ptxid` or none means this request never became a transaction, but only once the terminal
//!   is known to be idle (a reading cancel answered `9991`): a terminal still reading the card has not finished
//!   the transaction yet, so its "last" one is an older one, and the card may still be approved; a reading
//!   cancel it confirms (`0000` naming this `ptxid`) ends it without a card read; any other 990001 answer
//!   (`0001` busy, …) says nothing and it stays `unknown`;
//! - an abort the terminal confirms ends it `aborted`; one it refuses leaves it open.
//!
//! What an approval means for the order (paid, or `needs_review` for another amount) is decided by
//! [`super::apply_result`] like any provider's result; this module only decides the transaction's own fate.

use serde::{Deserialize, Serialize};

/// Where a terminal transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TerminalTxStatus {
    /// Recorded, and its request sent (or about to be): the terminal is reading the card.
    Requested,
    /// The terminal answered `0010`: the buyer is to sign on its pad. Not final.
    AwaitingSignature,
    Succeeded,
    /// The terminal refused it, or its last-transaction record shows it never happened.
    Failed,
    /// Aborted at the POS and confirmed by the terminal.
    Aborted,
    /// Sent, but no final answer came (timeout, dropped connection, restart): money may have moved.
    Unknown,
}

impl TerminalTxStatus {
    pub const ALL: [TerminalTxStatus; 6] = [
        TerminalTxStatus::Requested,
        TerminalTxStatus::AwaitingSignature,
        TerminalTxStatus::Succeeded,
        TerminalTxStatus::Failed,
        TerminalTxStatus::Aborted,
        TerminalTxStatus::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TerminalTxStatus::Requested => "requested",
            TerminalTxStatus::AwaitingSignature => "awaiting_signature",
            TerminalTxStatus::Succeeded => "succeeded",
            TerminalTxStatus::Failed => "failed",
            TerminalTxStatus::Aborted => "aborted",
            TerminalTxStatus::Unknown => "unknown",
        }
    }

    pub fn parse(value: &str) -> Option<TerminalTxStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == value)
    }

    /// Open transactions keep their terminal busy: no other is started until this one is settled.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            TerminalTxStatus::Requested
                | TerminalTxStatus::AwaitingSignature
                | TerminalTxStatus::Unknown
        )
    }
}

/// What a terminal transaction does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum TerminalTxKind {
    CardApproval,
    CardCancel,
    EasyPayApproval,
    EasyPayCancel,
    CashReceipt,
    CashReceiptCancel,
}

impl TerminalTxKind {
    pub const ALL: [TerminalTxKind; 6] = [
        TerminalTxKind::CardApproval,
        TerminalTxKind::CardCancel,
        TerminalTxKind::EasyPayApproval,
        TerminalTxKind::EasyPayCancel,
        TerminalTxKind::CashReceipt,
        TerminalTxKind::CashReceiptCancel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TerminalTxKind::CardApproval => "card_approval",
            TerminalTxKind::CardCancel => "card_cancel",
            TerminalTxKind::EasyPayApproval => "easy_pay_approval",
            TerminalTxKind::EasyPayCancel => "easy_pay_cancel",
            TerminalTxKind::CashReceipt => "cash_receipt",
            TerminalTxKind::CashReceiptCancel => "cash_receipt_cancel",
        }
    }

    pub fn parse(value: &str) -> Option<TerminalTxKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == value)
    }

    /// A card or easy-pay sale: its approval pays its order.
    pub fn is_sale(self) -> bool {
        matches!(
            self,
            TerminalTxKind::CardApproval | TerminalTxKind::EasyPayApproval
        )
    }

    /// Whether it takes the buyer's money back (its success settles a cancellation of an order).
    pub fn is_cancel(self) -> bool {
        matches!(
            self,
            TerminalTxKind::CardCancel
                | TerminalTxKind::EasyPayCancel
                | TerminalTxKind::CashReceiptCancel
        )
    }
}

/// What the state machine knows of a terminal transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalTx {
    pub terminal_id: String,
    pub kind: TerminalTxKind,
    pub status: TerminalTxStatus,
    /// The POS's transaction id, sent with the request and echoed by the terminal: how an answer is matched.
    pub ptxid: String,
    /// What was asked (`priceAmt`, or `approvalAmt` of a cancel).
    pub amount: i64,
    /// An abort was asked while it was open: a refusal that follows is the abort's outcome, not a decline.
    pub abort_requested: bool,
    pub result_code: Option<String>,
    pub result_message: Option<String>,
}

/// An approval the terminal reported, in the gateway's terms.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TerminalApproval {
    pub approval_no: String,
    pub transaction_no: String,
    /// As the terminal sent it (its local time).
    pub transaction_date: String,
    /// `approvalAmt`: what the terminal charged (or gave back).
    pub amount: i64,
    pub issuer_code: Option<String>,
    pub issuer_name: Option<String>,
    pub acquirer_code: Option<String>,
    pub acquirer_name: Option<String>,
    pub masked_card: Option<String>,
    pub installment: Option<String>,
}

impl TerminalApproval {
    /// The numbers a `0000` answer must carry and this one lacks (`approvalNo`, `transactionNo`,
    /// `transactionDate`, as the terminal names them). Without them the approval can be neither matched to the
    /// terminal's records nor cancelled, so it does not simply pay its order: a person reviews it.
    pub fn missing_numbers(&self) -> Vec<&'static str> {
        [
            ("approvalNo", &self.approval_no),
            ("transactionNo", &self.transaction_no),
            ("transactionDate", &self.transaction_date),
        ]
        .into_iter()
        .filter(|(_, value)| value.trim().is_empty())
        .map(|(name, _)| name)
        .collect()
    }

    /// Why this approval is not taken as an ordinary one (`None` when it is complete).
    pub fn incomplete_reason(&self) -> Option<String> {
        let missing = self.missing_numbers();
        (!missing.is_empty()).then(|| {
            format!(
                "the terminal approved (0000) without {}: money moved, but the approval cannot be matched or \
                 cancelled, so the order is reviewed",
                missing.join(", ")
            )
        })
    }
}

/// The terminal's answer to 990001 (last transaction), in the gateway's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LastTransaction {
    /// The record of the transaction naming `ptxid`: its final answer, or `0010` while it is still under way.
    Record { ptxid: String, reply: TerminalReply },
    /// `9991` naming no transaction: the terminal has none.
    None,
    /// Any other answer (`0001` 처리중, a success naming no `ptxid`, …): it says nothing about any transaction.
    Unclear { code: String, message: String },
}

/// A final or interim answer of the terminal to a transaction's request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalReply {
    /// `0010`: waiting for the buyer's signature.
    SignatureWait,
    /// `0000` with the approval's data.
    Approved(TerminalApproval),
    /// Any other code: declined, `9999` (signature timeout or user cancel), `9991` unable, …
    Refused { code: String, message: String },
}

/// What happened to a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    /// The terminal answered a request naming `ptxid`.
    Reply { ptxid: String, reply: TerminalReply },
    /// The connection, the answer or the process was lost after the request may have reached the terminal.
    Lost { reason: String },
    /// The terminal's record of its last transaction (990001), asked after a loss. `idle`: the terminal has just
    /// said it is reading no card (a reading cancel answered `9991`), so a record of another transaction, or
    /// none, is the whole truth; without it the request may still be on the terminal's screen.
    LastTransaction { last: LastTransaction, idle: bool },
    /// The terminal confirmed (`0000`, naming this `ptxid`) the reading cancel the gateway sent while this
    /// transaction's fate was unknown: it was still waiting for the card and now never reads it.
    ReadingCancelled { reason: String },
    /// The POS asked to abort (reading cancel or 555555); the terminal's answer comes as a [`TerminalEvent::Reply`]
    /// or an [`TerminalEvent::AbortRefused`].
    AbortRequested,
    /// The terminal refused to abort (`0001` busy, `9991` unable): the transaction stays open.
    AbortRefused,
    /// The request was never written to the terminal (no connection when its turn came), so it cannot have
    /// become a transaction there.
    NotSent { reason: String },
}

/// What a transaction's change means beyond itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEffect {
    /// The terminal approved: apply it to the order (or settle the cancellation) — in the same database
    /// transaction as this change.
    Approved(Box<TerminalApproval>),
    /// Tell the shop (`terminal.transaction.<status>`).
    Notify(TerminalTxStatus),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalDecision {
    pub tx: TerminalTx,
    pub effects: Vec<TerminalEffect>,
}

impl TerminalDecision {
    fn unchanged(tx: &TerminalTx) -> Self {
        TerminalDecision {
            tx: tx.clone(),
            effects: Vec::new(),
        }
    }

    pub fn changed(&self, before: &TerminalTx) -> bool {
        &self.tx != before || !self.effects.is_empty()
    }
}

/// Decides what `event` means for the transaction.
pub fn apply_terminal_event(tx: &TerminalTx, event: &TerminalEvent) -> TerminalDecision {
    if !tx.status.is_open() {
        // Settled once: a late answer, a duplicate, or a recovery racing a live answer changes nothing.
        return TerminalDecision::unchanged(tx);
    }
    match event {
        TerminalEvent::Reply { ptxid, reply } if *ptxid == tx.ptxid => settle(tx, reply),
        // An answer about another transaction (an earlier one's late answer) is not this one's.
        TerminalEvent::Reply { .. } => TerminalDecision::unchanged(tx),
        TerminalEvent::Lost { reason } => {
            if tx.status == TerminalTxStatus::Unknown {
                return TerminalDecision::unchanged(tx);
            }
            let mut next = tx.clone();
            next.status = TerminalTxStatus::Unknown;
            next.result_message = Some(reason.clone());
            TerminalDecision {
                tx: next,
                effects: vec![TerminalEffect::Notify(TerminalTxStatus::Unknown)],
            }
        }
        TerminalEvent::LastTransaction { last, idle } => match last {
            LastTransaction::Record { ptxid, reply } if *ptxid == tx.ptxid => match reply {
                // The terminal's record of a transaction is final; an interim one says it is still under way.
                TerminalReply::SignatureWait => TerminalDecision::unchanged(tx),
                reply => settle(tx, reply),
            },
            // Only a transaction whose fate is unknown is settled by the terminal's memory: a live one may still
            // be answered.
            _ if tx.status != TerminalTxStatus::Unknown => TerminalDecision::unchanged(tx),
            // `0001` busy and the like: the terminal did not say what its last transaction was.
            LastTransaction::Unclear { .. } => TerminalDecision::unchanged(tx),
            // Another transaction or none, while the terminal may still be reading this one's card: its record
            // is older than this request, and the card may yet be approved. Not failed until it is idle.
            _ if !idle => TerminalDecision::unchanged(tx),
            LastTransaction::Record { ptxid: other, .. } => never_happened(
                tx,
                format!("the terminal is idle and its last transaction is another one (ptxid {other}): this request never became a transaction"),
            ),
            LastTransaction::None => never_happened(
                tx,
                "the terminal is idle and has no last transaction: this request never became a transaction".into(),
            ),
        },
        // Only an unknown transaction is settled by it: a live one (still `requested`) gets its own final answer
        // (9999 사용자 취소) on the connection, and one at the signature step has read its card already.
        TerminalEvent::ReadingCancelled { reason } if tx.status == TerminalTxStatus::Unknown => {
            settle(
                tx,
                &TerminalReply::Refused {
                    code: READING_CANCELLED.into(),
                    message: reason.clone(),
                },
            )
        }
        TerminalEvent::ReadingCancelled { .. } => TerminalDecision::unchanged(tx),
        TerminalEvent::AbortRequested => {
            let mut next = tx.clone();
            next.abort_requested = true;
            TerminalDecision {
                tx: next,
                effects: Vec::new(),
            }
        }
        TerminalEvent::AbortRefused => {
            let mut next = tx.clone();
            next.abort_requested = false;
            TerminalDecision {
                tx: next,
                effects: Vec::new(),
            }
        }
        // Only a request still waiting to go out can be known unsent; once sent, only the terminal can tell.
        TerminalEvent::NotSent { reason } if tx.status == TerminalTxStatus::Requested => {
            never_happened(tx, reason.clone())
        }
        TerminalEvent::NotSent { .. } => TerminalDecision::unchanged(tx),
    }
}

fn settle(tx: &TerminalTx, reply: &TerminalReply) -> TerminalDecision {
    let mut next = tx.clone();
    match reply {
        TerminalReply::SignatureWait => {
            if tx.status != TerminalTxStatus::Requested {
                return TerminalDecision::unchanged(tx);
            }
            next.status = TerminalTxStatus::AwaitingSignature;
            next.result_code = Some(SIGNATURE_WAIT.into());
            TerminalDecision {
                tx: next,
                effects: Vec::new(),
            }
        }
        TerminalReply::Approved(approval) => {
            // Succeeded even without its numbers: the terminal says the money moved. The record says what is
            // missing, and the order's review follows from `apply_result` (the approval is not a plain success).
            next.status = TerminalTxStatus::Succeeded;
            next.result_code = Some(APPROVED.into());
            next.result_message = approval.incomplete_reason();
            TerminalDecision {
                tx: next,
                effects: vec![
                    TerminalEffect::Approved(Box::new(approval.clone())),
                    TerminalEffect::Notify(TerminalTxStatus::Succeeded),
                ],
            }
        }
        TerminalReply::Refused { code, message } => {
            next.status = if tx.abort_requested {
                TerminalTxStatus::Aborted
            } else {
                TerminalTxStatus::Failed
            };
            next.result_code = Some(code.clone());
            next.result_message = Some(message.clone());
            let mut effects = Vec::new();
            if next.status == TerminalTxStatus::Failed {
                effects.push(TerminalEffect::Notify(TerminalTxStatus::Failed));
            }
            TerminalDecision { tx: next, effects }
        }
    }
}

fn never_happened(tx: &TerminalTx, reason: String) -> TerminalDecision {
    let mut next = tx.clone();
    next.status = TerminalTxStatus::Failed;
    next.result_message = Some(reason);
    TerminalDecision {
        tx: next,
        effects: vec![TerminalEffect::Notify(TerminalTxStatus::Failed)],
    }
}

/// The terminal's success code.
pub const APPROVED: &str = "0000";
/// The terminal's interim "waiting for the signature" code.
pub const SIGNATURE_WAIT: &str = "0010";
/// The code recorded for a transaction ended by the gateway's confirmed reading cancel (the terminal's own
/// final answer to such a cancel is `9999` 사용자 취소; it went to a connection that is gone).
pub const READING_CANCELLED: &str = "9999";

#[cfg(test)]
mod tests {
    use super::*;

    fn open(status: TerminalTxStatus) -> TerminalTx {
        TerminalTx {
            terminal_id: "front-1".into(),
            kind: TerminalTxKind::CardApproval,
            status,
            ptxid: "P-1".into(),
            amount: 12_000,
            abort_requested: false,
            result_code: None,
            result_message: None,
        }
    }

    fn approval() -> TerminalApproval {
        TerminalApproval {
            approval_no: "30001234".into(),
            transaction_no: "000123".into(),
            transaction_date: "261202103000".into(),
            amount: 12_000,
            ..Default::default()
        }
    }

    fn reply(ptxid: &str, reply: TerminalReply) -> TerminalEvent {
        TerminalEvent::Reply {
            ptxid: ptxid.into(),
            reply,
        }
    }

    fn declined() -> TerminalReply {
        TerminalReply::Refused {
            code: "8037".into(),
            message: "한도초과".into(),
        }
    }

    #[test]
    fn an_approval_settles_the_transaction_and_is_applied_once() {
        let tx = open(TerminalTxStatus::Requested);
        let d = apply_terminal_event(&tx, &reply("P-1", TerminalReply::Approved(approval())));
        assert_eq!(d.tx.status, TerminalTxStatus::Succeeded);
        assert_eq!(
            d.effects,
            vec![
                TerminalEffect::Approved(Box::new(approval())),
                TerminalEffect::Notify(TerminalTxStatus::Succeeded)
            ]
        );
        // The same answer again (or a late one) changes nothing.
        let again = apply_terminal_event(&d.tx, &reply("P-1", TerminalReply::Approved(approval())));
        assert!(!again.changed(&d.tx));
        let late_decline = apply_terminal_event(&d.tx, &reply("P-1", declined()));
        assert!(!late_decline.changed(&d.tx));
    }

    #[test]
    fn signature_wait_is_visible_and_not_final() {
        let tx = open(TerminalTxStatus::Requested);
        let waiting = apply_terminal_event(&tx, &reply("P-1", TerminalReply::SignatureWait)).tx;
        assert_eq!(waiting.status, TerminalTxStatus::AwaitingSignature);
        assert!(waiting.status.is_open());
        let timeout = TerminalReply::Refused {
            code: "9999".into(),
            message: "서명시간초과".into(),
        };
        let d = apply_terminal_event(&waiting, &reply("P-1", timeout));
        assert_eq!(d.tx.status, TerminalTxStatus::Failed);
        assert_eq!(d.tx.result_code.as_deref(), Some("9999"));
        assert_eq!(
            d.effects,
            vec![TerminalEffect::Notify(TerminalTxStatus::Failed)]
        );
    }

    #[test]
    fn an_answer_naming_another_ptxid_is_not_this_transactions() {
        let tx = open(TerminalTxStatus::Requested);
        let d = apply_terminal_event(&tx, &reply("P-0", TerminalReply::Approved(approval())));
        assert!(!d.changed(&tx));
    }

    #[test]
    fn a_lost_answer_is_unknown_never_failed_until_the_terminal_says() {
        let tx = open(TerminalTxStatus::AwaitingSignature);
        let lost = apply_terminal_event(
            &tx,
            &TerminalEvent::Lost {
                reason: "connection reset".into(),
            },
        );
        assert_eq!(lost.tx.status, TerminalTxStatus::Unknown);
        assert_eq!(
            lost.effects,
            vec![TerminalEffect::Notify(TerminalTxStatus::Unknown)]
        );
        assert!(lost.tx.status.is_open(), "the terminal stays busy");
        // Losing it again says nothing new.
        let again = apply_terminal_event(
            &lost.tx,
            &TerminalEvent::Lost {
                reason: "timeout".into(),
            },
        );
        assert!(!again.changed(&lost.tx));

        // The terminal's record shows it approved: the approval is applied as if it had arrived.
        let recovered = apply_terminal_event(
            &lost.tx,
            &TerminalEvent::LastTransaction {
                last: LastTransaction::Record {
                    ptxid: "P-1".into(),
                    reply: TerminalReply::Approved(approval()),
                },
                // The record names this transaction: no idle check is needed to trust it.
                idle: false,
            },
        );
        assert_eq!(recovered.tx.status, TerminalTxStatus::Succeeded);
        assert!(recovered
            .effects
            .contains(&TerminalEffect::Approved(Box::new(approval()))));
    }

    fn last(last: LastTransaction, idle: bool) -> TerminalEvent {
        TerminalEvent::LastTransaction { last, idle }
    }

    fn others() -> [LastTransaction; 2] {
        [
            LastTransaction::Record {
                ptxid: "P-0".into(),
                reply: TerminalReply::Approved(approval()),
            },
            LastTransaction::None,
        ]
    }

    #[test]
    fn the_memory_of_another_or_no_transaction_of_an_idle_terminal_means_it_never_happened() {
        let unknown = open(TerminalTxStatus::Unknown);
        for other in others() {
            let d = apply_terminal_event(&unknown, &last(other, true));
            assert_eq!(d.tx.status, TerminalTxStatus::Failed);
            assert!(d
                .tx
                .result_message
                .as_deref()
                .unwrap()
                .contains("never became a transaction"));
        }
        // A live transaction is not failed by a look-up: its own answer may still come.
        let live = open(TerminalTxStatus::Requested);
        let d = apply_terminal_event(&live, &last(LastTransaction::None, true));
        assert!(!d.changed(&live));
        // Nor is an unknown one settled by an interim record.
        let d = apply_terminal_event(
            &unknown,
            &last(
                LastTransaction::Record {
                    ptxid: "P-1".into(),
                    reply: TerminalReply::SignatureWait,
                },
                true,
            ),
        );
        assert!(!d.changed(&unknown));
    }

    #[test]
    fn another_or_no_last_transaction_fails_nothing_while_the_terminal_may_still_be_reading() {
        // F1: the card of this request may still be read and approved; its record would then be the last one.
        let unknown = open(TerminalTxStatus::Unknown);
        for other in others() {
            let d = apply_terminal_event(&unknown, &last(other, false));
            assert!(!d.changed(&unknown));
        }
    }

    #[test]
    fn a_busy_or_unclear_990001_answer_settles_nothing() {
        // F2: `0001` 처리중 (or a success naming no ptxid) is not "no last transaction", idle or not.
        let unknown = open(TerminalTxStatus::Unknown);
        for idle in [false, true] {
            let d = apply_terminal_event(
                &unknown,
                &last(
                    LastTransaction::Unclear {
                        code: "0001".into(),
                        message: "처리중".into(),
                    },
                    idle,
                ),
            );
            assert!(!d.changed(&unknown));
        }
    }

    #[test]
    fn a_confirmed_reading_cancel_ends_an_unknown_transaction_without_money() {
        let unknown = open(TerminalTxStatus::Unknown);
        let event = TerminalEvent::ReadingCancelled {
            reason: "still reading; cancelled".into(),
        };
        let d = apply_terminal_event(&unknown, &event);
        assert_eq!(d.tx.status, TerminalTxStatus::Failed);
        assert_eq!(d.tx.result_code.as_deref(), Some(READING_CANCELLED));
        assert_eq!(
            d.effects,
            vec![TerminalEffect::Notify(TerminalTxStatus::Failed)]
        );
        // The shop had asked to abort it: it ends aborted.
        let mut asked = unknown.clone();
        asked.abort_requested = true;
        assert_eq!(
            apply_terminal_event(&asked, &event).tx.status,
            TerminalTxStatus::Aborted
        );
        // A live transaction waits for its own final answer; a settled one is not reopened.
        for status in [
            TerminalTxStatus::Requested,
            TerminalTxStatus::AwaitingSignature,
            TerminalTxStatus::Succeeded,
        ] {
            let tx = open(status);
            assert!(!apply_terminal_event(&tx, &event).changed(&tx));
        }
    }

    #[test]
    fn a_final_answer_settles_an_unknown_transaction() {
        // F3: the terminal's own final answer naming the unknown transaction's ptxid is its fate.
        let unknown = open(TerminalTxStatus::Unknown);
        let d = apply_terminal_event(&unknown, &reply("P-1", TerminalReply::Approved(approval())));
        assert_eq!(d.tx.status, TerminalTxStatus::Succeeded);
        let d = apply_terminal_event(&unknown, &reply("P-1", TerminalReply::SignatureWait));
        assert!(!d.changed(&unknown));
        let d = apply_terminal_event(&unknown, &reply("P-0", TerminalReply::Approved(approval())));
        assert!(!d.changed(&unknown));
    }

    #[test]
    fn an_approval_without_its_numbers_succeeds_and_says_what_is_missing() {
        // F6: money moved, so the transaction succeeded; the record names the missing numbers.
        let mut bare = approval();
        bare.approval_no = String::new();
        bare.transaction_date = " ".into();
        assert_eq!(
            bare.missing_numbers(),
            vec!["approvalNo", "transactionDate"]
        );
        assert!(approval().missing_numbers().is_empty());
        assert_eq!(approval().incomplete_reason(), None);
        let tx = open(TerminalTxStatus::Requested);
        let d = apply_terminal_event(&tx, &reply("P-1", TerminalReply::Approved(bare.clone())));
        assert_eq!(d.tx.status, TerminalTxStatus::Succeeded);
        let message = d.tx.result_message.unwrap();
        assert!(message.contains("approvalNo, transactionDate"), "{message}");
        assert!(d
            .effects
            .contains(&TerminalEffect::Approved(Box::new(bare))));
    }

    #[test]
    fn a_confirmed_abort_ends_aborted_and_a_refused_one_leaves_it_open() {
        let tx = open(TerminalTxStatus::Requested);
        let asked = apply_terminal_event(&tx, &TerminalEvent::AbortRequested).tx;
        let refused = apply_terminal_event(&asked, &TerminalEvent::AbortRefused).tx;
        assert_eq!(refused.status, TerminalTxStatus::Requested);
        assert!(!refused.abort_requested);
        // Declined after a refused abort is a decline.
        let d = apply_terminal_event(&refused, &reply("P-1", declined()));
        assert_eq!(d.tx.status, TerminalTxStatus::Failed);

        let cancelled = TerminalReply::Refused {
            code: "9999".into(),
            message: "사용자 취소".into(),
        };
        let d = apply_terminal_event(&asked, &reply("P-1", cancelled));
        assert_eq!(d.tx.status, TerminalTxStatus::Aborted);
        assert!(d.effects.is_empty());
        // An approval that beat the abort still counts: the money moved.
        let d = apply_terminal_event(&asked, &reply("P-1", TerminalReply::Approved(approval())));
        assert_eq!(d.tx.status, TerminalTxStatus::Succeeded);
    }

    #[test]
    fn a_request_never_sent_fails_but_a_sent_one_waits_for_the_terminal() {
        let tx = open(TerminalTxStatus::Requested);
        let d = apply_terminal_event(
            &tx,
            &TerminalEvent::NotSent {
                reason: "not connected".into(),
            },
        );
        assert_eq!(d.tx.status, TerminalTxStatus::Failed);
        assert_eq!(
            d.effects,
            vec![TerminalEffect::Notify(TerminalTxStatus::Failed)]
        );
        for status in [
            TerminalTxStatus::AwaitingSignature,
            TerminalTxStatus::Unknown,
        ] {
            let tx = open(status);
            let d = apply_terminal_event(
                &tx,
                &TerminalEvent::NotSent {
                    reason: "not connected".into(),
                },
            );
            assert!(!d.changed(&tx));
        }
    }

    #[test]
    fn statuses_and_kinds_round_trip_their_names() {
        for s in TerminalTxStatus::ALL {
            assert_eq!(TerminalTxStatus::parse(s.as_str()), Some(s));
        }
        for k in TerminalTxKind::ALL {
            assert_eq!(TerminalTxKind::parse(k.as_str()), Some(k));
        }
        assert!(TerminalTxKind::CardCancel.is_cancel());
        assert!(!TerminalTxKind::EasyPayApproval.is_cancel());
    }
}
