//! Payment providers behind one seam. Each adapter keeps its wire format to itself and hands the rest of the
//! gateway neutral types of [`crate::domain`]: a verified result, a confirmation, a cancel's answer. WEBLink
//! (Smartro's online payment window) is the first; the in-store card terminal is the next.

pub mod terminal;
pub mod weblink;

use std::future::Future;

use crate::domain::{
    CancelPlan, CancelReply, Confirmed, MessageLabels, ResultSource, VerifiedResult,
};

/// Why a provider's message was refused before anything of it could be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectReason {
    /// Not a message of the provider's at all.
    Malformed,
    /// It names a merchant this gateway does not serve.
    UnknownMerchant,
    /// Its signature does not verify with the merchant's key: not from the provider.
    BadSignature,
}

/// A refused message: why, in words, and what could be read of it.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub reason: RejectReason,
    pub detail: String,
    // Boxed: a refusal is the rare path, and it keeps the Result of every parse small.
    pub labels: Box<MessageLabels>,
}

/// How far a verified result may be believed, from the provider's own records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed(Confirmed),
    /// The provider's records contradict it (another order or amount), or its TID belongs to another order.
    Refuted(String),
    /// Nothing to confirm it with yet (the records are down, slow, or without it).
    Unconfirmed(String),
}

/// What came of a cancel sent to the provider.
#[derive(Debug, Clone, PartialEq)]
pub enum CancelCall {
    /// Cancelled; a partial cancel names its own TID (PTID).
    Succeeded {
        reply: CancelReply,
        ptid: Option<String>,
        /// The amount the provider says it cancelled (`CancelAmt`), when its answer carries one.
        amount: Option<i64>,
    },
    /// The provider refused; its code and message are in `reply`.
    Refused { reply: CancelReply },
    /// Never sent: the request broke the provider's own rules.
    Invalid { code: String, message: String },
    /// No answer: the provider may or may not have cancelled.
    NoAnswer { reason: String },
    /// An answer that could not be read: the outcome is unknown too.
    Unreadable { status: u16, reason: String },
}

/// Why a look-up at the provider gave nothing usable.
#[derive(Debug, Clone, PartialEq)]
pub enum LookupError {
    Refused { code: String, message: String },
    NoAnswer { reason: String },
    Unreadable { status: u16, reason: String },
}

/// What every provider does for the gateway's flows (`crate::service`).
pub trait Provider: Send + Sync {
    /// Parses and verifies a message the provider sent (through the buyer's browser, or server to server).
    fn verify(&self, source: ResultSource, body: &[u8]) -> Result<VerifiedResult, Refusal>;

    /// Asks the provider's own records whether a verified result is what it says (order and amount).
    fn confirm(&self, result: &VerifiedResult) -> impl Future<Output = Confirmation> + Send;

    /// Sends a planned cancel of merchant `mid`'s payment.
    fn cancel(
        &self,
        mid: &str,
        plan: &CancelPlan,
        reason: &str,
    ) -> impl Future<Output = CancelCall> + Send;

    /// How much of payment `tid` the provider says is cancelled in all (`None`: its records say nothing usable),
    /// to settle a cancel whose answer never came.
    fn cancelled_so_far(
        &self,
        mid: &str,
        tid: &str,
    ) -> impl Future<Output = Result<Option<i64>, LookupError>> + Send;
}
