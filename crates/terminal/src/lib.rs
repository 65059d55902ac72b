//! Smartro's in-store card-terminal protocol (seed 002, an AsyncAPI message catalogue), free of I/O.
//!
//! The terminal (결제단말기) is the server: it waits for a TCP connection and the POS sends it requests. This
//! crate turns bytes into typed messages and back; the gateway (POS side) and the sandbox's terminal simulator
//! (terminal side) both build on it, so the two sides share one definition of the wire.
//!
//! - [`frame`]: the 10-character header and the incremental [`FrameDecoder`] (bytes in as a stream delivers
//!   them, complete [`Frame`]s out).
//! - [`message`]: [`Request`] and [`Response`], one variant per message type of the seed, decoded from a frame
//!   and encoded back to one; unknown types are kept as [`Request::Unknown`] / [`Response::Unknown`].
//! - [`body`]: the JSON bodies; every struct keeps the fields it does not know in `extra`.
//! - [`wire`]: [`ResultCode`] (unknown codes kept), [`TraderType`], amounts.
//!
//! ```
//! use smartro_terminal::{ApprovalRequest, FrameDecoder, Request, Response};
//!
//! let bytes = Request::CardApproval(ApprovalRequest::new(1004, "CPOS-1")).encode()?;
//! let mut decoder = FrameDecoder::new();
//! decoder.push(&bytes[..7]); // a partial read
//! assert!(decoder.next_frame()?.is_none());
//! decoder.push(&bytes[7..]);
//! let frame = decoder.next_frame()?.expect("complete");
//! assert_eq!(Request::from_frame(&frame)?, Request::CardApproval(ApprovalRequest::new(1004, "CPOS-1")));
//! # let _ = Response::from_frame;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Every decoder takes untrusted bytes and answers with a typed error ([`FrameError`], [`MessageError`]) instead
//! of panicking; the property tests and the fuzz target in `fuzz/` hold it to that.
//!
//! # Framing (the seed's facts)
//! A message is a 10-character ASCII header, 4 digits of length and 6 digits of message type, then a UTF-8 JSON
//! body. The length counts everything after the length field, the 6 type digits plus the body's bytes, as the
//! seed's one concrete header shows: header-only requests are `0006910021`, `0006990001`, …. A header that is
//! not 10 ASCII digits, a length under 6, or a body that is not JSON is a [`FrameError`]: the stream has lost
//! its framing, the decoder stays failed, and the caller drops the connection without applying anything.
//!
//! # Decisions where the seed is silent
//! - **Length limit.** terminal.md refuses lengths over 65 542 (64 KiB of body), but 4 decimal digits cannot
//!   exceed 9 999, so the format itself caps a body at 9 993 bytes ([`MAX_BODY_LEN`]); that limit is the one
//!   enforced, and encoding a larger body is an [`EncodeError::TooLong`] rather than a wrong header.
//! - **Amounts are numbers.** Every amount in the seed's examples is a JSON number (`"priceAmt": 0`,
//!   `"approvalAmt": 0`, `"cardAmount": 50000`), so amounts are `i64` won and are sent as JSON integers. On
//!   receipt a string of ASCII digits is accepted too (some firmwares quote numbers; it cannot be misread);
//!   fractions, negatives and more than 15 digits are refused. `installment`, `count`, `issuer`, `fontSize`,
//!   `totalCount` follow the same rule.
//! - **`salesSerial`** is a number in the T650P example and a string in the P3MIX one: [`TextOrNumber`] keeps
//!   whichever came. **`isPrint`** is the string `"true"` in the seed and is sent so; a JSON boolean is accepted.
//! - **`traderType`** is a string (`"1"`, `"2"`); a number is accepted on receipt.
//! - **Tax-refund inquiry is `900050`.** The seed's 환급전표조회 request example shows header `050020`, the
//!   cancel's; the answer catalogue lists `900050` for the inquiry, and two requests cannot share a type, so
//!   the request header example is taken as a copy-paste slip.
//! - **One data shape for transactions.** Card, easy-pay and cash-receipt answers share most fields, and 990001
//!   answers "in the format of the last transaction" without naming it, so all of them decode to
//!   [`TransactionData`] with every field optional ([`TransactionData::kind`] guesses which it is). Refusals,
//!   timeouts and the `0010` interim carry only `ptxid`.
//! - **`resultCode` is required** in every answer: without it nothing can be concluded, so such a body is a
//!   [`MessageError`] (the seed's 990001 example `{}` is marked "generated automatically"). `resultMessage`
//!   defaults to empty. A body sent with a header-only request is ignored.
//! - **The seed's tax-refund variants** (T650P, P3MIX medical / goods / hotel) are one request struct with
//!   every field optional, as the seed says they are; [`TaxRefundIssueRequest::variant`] tells them apart. The
//!   two answer shapes are one [`TaxRefundSlip`].
//! - **`totalCount`** of 081008 is kept as reported and not checked against the list: the seed's own example
//!   says 0 beside three codes.
//! - **Validation of what is sent** (`validate`, run by every `to_frame`/`encode` of a [`Request`]): `ptxid` 1–64
//!   printable ASCII characters; `priceAmt` positive, tax/tip/tax-free each 0 or more and together no more than
//!   it; instalments 0 or 2–36; totals dates `YYYYMMDD` with from ≤ to; cash-receipt identity up to 20 digits and
//!   hyphens, or left out so the buyer types it on the terminal; print commands as listed in the seed, bare ones
//!   without text, `left`/`right` one or more lines, `text2` exactly two and `text3` exactly three texts, font
//!   sizes 6–60, no control characters, at most 200 commands. Answers are not validated on encode: the terminal
//!   side says what it says.
//! - **Unknown fields** are kept in each struct's `extra` (also inside print commands and code entries) and go
//!   back out on encode; **unknown message types** decode to `Unknown(frame)` so the caller can log and ignore
//!   them without losing the connection.

pub mod body;
pub mod error;
pub mod frame;
pub mod message;
pub mod wire;

pub use body::{
    ApprovalRequest, CancelRequest, CashReceiptCancelRequest, CashReceiptRequest, CodeEntry,
    CodeList, EasyPayApprovalRequest, Extra, PrintCommand, PrintCommandKind, PrintRequest,
    PtxidData, Reply, StatusReply, TaxRefundIssueRequest, TaxRefundSlip, TaxRefundSlipRequest,
    TaxRefundVariant, TotalsBucket, TotalsData, TotalsReply, TotalsRequest, TransactionData,
    TransactionKind,
};
pub use error::{EncodeError, FrameError, MessageError};
pub use frame::{Frame, FrameDecoder, MessageType, HEADER_LEN, MAX_BODY_LEN, MAX_LENGTH};
pub use message::{ReadCancelKind, Request, Response};
pub use wire::{ResultCode, TextOrNumber, TraderType, MAX_AMOUNT};
