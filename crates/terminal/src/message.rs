//! Typed messages: [`Request`] (POS → terminal) and [`Response`] (terminal → POS), each decoded from a
//! [`Frame`] and encoded back to one.
//!
//! Both directions use the same message types, so the header alone does not say which side sent a frame: the
//! receiver knows (a POS only reads responses, a terminal only requests).

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::body::{
    ApprovalRequest, CancelRequest, CashReceiptCancelRequest, CashReceiptRequest, CodeList,
    EasyPayApprovalRequest, PrintRequest, PtxidData, Reply, StatusReply, TaxRefundIssueRequest,
    TaxRefundSlip, TaxRefundSlipRequest, TotalsReply, TotalsRequest, TransactionData,
};
use crate::error::{EncodeError, MessageError};
use crate::frame::{Frame, MessageType};
use crate::wire::ResultCode;

/// Which reading a reading cancel (리딩취소) stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadCancelKind {
    /// `910021`: a card approval or cancel (010010, 010020).
    Card,
    /// `930021`: an easy-pay approval or cancel (030010, 030020).
    EasyPay,
    /// `970021`: a cash receipt issue or cancel (070010, 070020).
    CashReceipt,
}

impl ReadCancelKind {
    pub fn message_type(self) -> MessageType {
        match self {
            ReadCancelKind::Card => MessageType::CardReadCancel,
            ReadCancelKind::EasyPay => MessageType::EasyPayReadCancel,
            ReadCancelKind::CashReceipt => MessageType::CashReceiptReadCancel,
        }
    }

    /// The reading cancel that stops a transaction of `message_type`; `None` for a type that reads nothing.
    pub fn for_transaction(message_type: MessageType) -> Option<ReadCancelKind> {
        match message_type {
            MessageType::CardApproval | MessageType::CardCancel => Some(ReadCancelKind::Card),
            MessageType::EasyPayApproval | MessageType::EasyPayCancel => {
                Some(ReadCancelKind::EasyPay)
            }
            MessageType::CashReceiptIssue | MessageType::CashReceiptCancel => {
                Some(ReadCancelKind::CashReceipt)
            }
            _ => None,
        }
    }
}

/// What the POS sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    CardApproval(ApprovalRequest),
    CardCancel(CancelRequest),
    EasyPayApproval(EasyPayApprovalRequest),
    EasyPayCancel(CancelRequest),
    CashReceiptIssue(CashReceiptRequest),
    CashReceiptCancel(CashReceiptCancelRequest),
    /// `910021` / `930021` / `970021`, header only.
    ReadCancel(ReadCancelKind),
    /// `990001`, header only.
    LastTransaction,
    SalesTotals(TotalsRequest),
    /// `980001`, header only: the POS has the transaction's answer (and, for the gateway, has stored it).
    ResultConfirmation,
    /// `081008`, header only.
    CodeDownload,
    Print(PrintRequest),
    TaxRefundIssue(TaxRefundIssueRequest),
    TaxRefundCancel(TaxRefundSlipRequest),
    TaxRefundInquiry(TaxRefundSlipRequest),
    /// `555555`, header only.
    Abort,
    /// A message type the seed does not describe, kept as received.
    Unknown(Frame),
}

/// What the terminal sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// `010010`: the final answer, or the `0010` signature-wait interim (see [`Response::is_interim`]).
    CardApproval(Reply<TransactionData>),
    /// `010020`, with the same interim.
    CardCancel(Reply<TransactionData>),
    EasyPayApproval(Reply<TransactionData>),
    EasyPayCancel(Reply<TransactionData>),
    CashReceiptIssue(Reply<TransactionData>),
    CashReceiptCancel(Reply<TransactionData>),
    /// `0000` done or `9991` unable, with the `ptxid` of the transaction concerned.
    ReadCancel(ReadCancelKind, Reply<PtxidData>),
    /// `990001`: the last transaction's answer, in that transaction's shape.
    LastTransaction(Reply<TransactionData>),
    SalesTotals(TotalsReply),
    /// `980001`: `0000` "end of transmission".
    ResultConfirmation(StatusReply),
    CodeDownload(Reply<CodeList>),
    Print(StatusReply),
    TaxRefundIssue(Reply<TaxRefundSlip>),
    TaxRefundCancel(Reply<TaxRefundSlip>),
    TaxRefundInquiry(Reply<TaxRefundSlip>),
    /// `555555`: `9999` aborted or `0001` busy (cannot abort).
    Abort(StatusReply),
    /// A message type the seed does not describe, kept as received.
    Unknown(Frame),
}

fn parse<T: DeserializeOwned>(frame: &Frame) -> Result<T, MessageError> {
    if frame.body.is_empty() {
        return Err(MessageError::MissingBody {
            message_type: frame.message_type,
        });
    }
    serde_json::from_slice(&frame.body).map_err(|e| MessageError::Malformed {
        message_type: frame.message_type,
        reason: e.to_string(),
    })
}

fn body_frame<T: Serialize>(message_type: MessageType, body: &T) -> Result<Frame, EncodeError> {
    let body = serde_json::to_vec(body).map_err(|e| EncodeError::Json(e.to_string()))?;
    Ok(Frame::new(message_type, body))
}

impl Request {
    /// The typed request a frame carries. A header-only request's body, if one is sent anyway, is ignored.
    pub fn from_frame(frame: &Frame) -> Result<Request, MessageError> {
        Ok(match frame.message_type {
            MessageType::CardApproval => Request::CardApproval(parse(frame)?),
            MessageType::CardCancel => Request::CardCancel(parse(frame)?),
            MessageType::EasyPayApproval => Request::EasyPayApproval(parse(frame)?),
            MessageType::EasyPayCancel => Request::EasyPayCancel(parse(frame)?),
            MessageType::CashReceiptIssue => Request::CashReceiptIssue(parse(frame)?),
            MessageType::CashReceiptCancel => Request::CashReceiptCancel(parse(frame)?),
            MessageType::CardReadCancel => Request::ReadCancel(ReadCancelKind::Card),
            MessageType::EasyPayReadCancel => Request::ReadCancel(ReadCancelKind::EasyPay),
            MessageType::CashReceiptReadCancel => Request::ReadCancel(ReadCancelKind::CashReceipt),
            MessageType::LastTransaction => Request::LastTransaction,
            MessageType::SalesTotals => Request::SalesTotals(parse(frame)?),
            MessageType::ResultConfirmation => Request::ResultConfirmation,
            MessageType::CodeDownload => Request::CodeDownload,
            MessageType::Print => Request::Print(parse(frame)?),
            MessageType::TaxRefundIssue => Request::TaxRefundIssue(parse(frame)?),
            MessageType::TaxRefundCancel => Request::TaxRefundCancel(parse(frame)?),
            MessageType::TaxRefundInquiry => Request::TaxRefundInquiry(parse(frame)?),
            MessageType::Abort => Request::Abort,
            MessageType::Other(_) => Request::Unknown(frame.clone()),
        })
    }

    pub fn message_type(&self) -> MessageType {
        match self {
            Request::CardApproval(_) => MessageType::CardApproval,
            Request::CardCancel(_) => MessageType::CardCancel,
            Request::EasyPayApproval(_) => MessageType::EasyPayApproval,
            Request::EasyPayCancel(_) => MessageType::EasyPayCancel,
            Request::CashReceiptIssue(_) => MessageType::CashReceiptIssue,
            Request::CashReceiptCancel(_) => MessageType::CashReceiptCancel,
            Request::ReadCancel(kind) => kind.message_type(),
            Request::LastTransaction => MessageType::LastTransaction,
            Request::SalesTotals(_) => MessageType::SalesTotals,
            Request::ResultConfirmation => MessageType::ResultConfirmation,
            Request::CodeDownload => MessageType::CodeDownload,
            Request::Print(_) => MessageType::Print,
            Request::TaxRefundIssue(_) => MessageType::TaxRefundIssue,
            Request::TaxRefundCancel(_) => MessageType::TaxRefundCancel,
            Request::TaxRefundInquiry(_) => MessageType::TaxRefundInquiry,
            Request::Abort => MessageType::Abort,
            Request::Unknown(frame) => frame.message_type,
        }
    }

    /// The POS's transaction id, for the requests that carry one.
    pub fn ptxid(&self) -> Option<&str> {
        match self {
            Request::CardApproval(r) => Some(&r.ptxid),
            Request::CardCancel(r) | Request::EasyPayCancel(r) => Some(&r.ptxid),
            Request::EasyPayApproval(r) => Some(&r.ptxid),
            Request::CashReceiptIssue(r) => Some(&r.ptxid),
            Request::CashReceiptCancel(r) => Some(&r.ptxid),
            Request::TaxRefundIssue(r) => r.ptx_id.as_deref(),
            Request::TaxRefundCancel(r) | Request::TaxRefundInquiry(r) => r.ptx_id.as_deref(),
            _ => None,
        }
    }

    /// Whether this request starts a transaction that moves money or issues a receipt (and so has a final
    /// answer that 990001 can report, and a reading that 9x0021 can cancel).
    pub fn is_transaction(&self) -> bool {
        ReadCancelKind::for_transaction(self.message_type()).is_some()
    }

    /// The protocol's rules for what a POS may send (amounts, ids, dates, print commands).
    pub fn validate(&self) -> Result<(), EncodeError> {
        match self {
            Request::CardApproval(r) => r.validate(),
            Request::CardCancel(r) | Request::EasyPayCancel(r) => r.validate(),
            Request::EasyPayApproval(r) => r.validate(),
            Request::CashReceiptIssue(r) => r.validate(),
            Request::CashReceiptCancel(r) => r.validate(),
            Request::SalesTotals(r) => r.validate(),
            Request::Print(r) => r.validate(),
            Request::TaxRefundIssue(r) => r.validate(),
            Request::TaxRefundCancel(r) | Request::TaxRefundInquiry(r) => r.validate(),
            Request::ReadCancel(_)
            | Request::LastTransaction
            | Request::ResultConfirmation
            | Request::CodeDownload
            | Request::Abort
            | Request::Unknown(_) => Ok(()),
        }
    }

    /// Validate, then build the frame.
    pub fn to_frame(&self) -> Result<Frame, EncodeError> {
        self.validate()?;
        let t = self.message_type();
        match self {
            Request::CardApproval(r) => body_frame(t, r),
            Request::CardCancel(r) | Request::EasyPayCancel(r) => body_frame(t, r),
            Request::EasyPayApproval(r) => body_frame(t, r),
            Request::CashReceiptIssue(r) => body_frame(t, r),
            Request::CashReceiptCancel(r) => body_frame(t, r),
            Request::SalesTotals(r) => body_frame(t, r),
            Request::Print(r) => body_frame(t, r),
            Request::TaxRefundIssue(r) => body_frame(t, r),
            Request::TaxRefundCancel(r) | Request::TaxRefundInquiry(r) => body_frame(t, r),
            Request::ReadCancel(_)
            | Request::LastTransaction
            | Request::ResultConfirmation
            | Request::CodeDownload
            | Request::Abort => Ok(Frame::header_only(t)),
            Request::Unknown(frame) => Ok(frame.clone()),
        }
    }

    /// Validate, then the bytes to write: header and body.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        self.to_frame()?.encode()
    }
}

impl Response {
    /// The typed response a frame carries. Every known type needs a body with a `resultCode`.
    pub fn from_frame(frame: &Frame) -> Result<Response, MessageError> {
        Ok(match frame.message_type {
            MessageType::CardApproval => Response::CardApproval(parse(frame)?),
            MessageType::CardCancel => Response::CardCancel(parse(frame)?),
            MessageType::EasyPayApproval => Response::EasyPayApproval(parse(frame)?),
            MessageType::EasyPayCancel => Response::EasyPayCancel(parse(frame)?),
            MessageType::CashReceiptIssue => Response::CashReceiptIssue(parse(frame)?),
            MessageType::CashReceiptCancel => Response::CashReceiptCancel(parse(frame)?),
            MessageType::CardReadCancel => {
                Response::ReadCancel(ReadCancelKind::Card, parse(frame)?)
            }
            MessageType::EasyPayReadCancel => {
                Response::ReadCancel(ReadCancelKind::EasyPay, parse(frame)?)
            }
            MessageType::CashReceiptReadCancel => {
                Response::ReadCancel(ReadCancelKind::CashReceipt, parse(frame)?)
            }
            MessageType::LastTransaction => Response::LastTransaction(parse(frame)?),
            MessageType::SalesTotals => Response::SalesTotals(parse(frame)?),
            MessageType::ResultConfirmation => Response::ResultConfirmation(parse(frame)?),
            MessageType::CodeDownload => Response::CodeDownload(parse(frame)?),
            MessageType::Print => Response::Print(parse(frame)?),
            MessageType::TaxRefundIssue => Response::TaxRefundIssue(parse(frame)?),
            MessageType::TaxRefundCancel => Response::TaxRefundCancel(parse(frame)?),
            MessageType::TaxRefundInquiry => Response::TaxRefundInquiry(parse(frame)?),
            MessageType::Abort => Response::Abort(parse(frame)?),
            MessageType::Other(_) => Response::Unknown(frame.clone()),
        })
    }

    pub fn message_type(&self) -> MessageType {
        match self {
            Response::CardApproval(_) => MessageType::CardApproval,
            Response::CardCancel(_) => MessageType::CardCancel,
            Response::EasyPayApproval(_) => MessageType::EasyPayApproval,
            Response::EasyPayCancel(_) => MessageType::EasyPayCancel,
            Response::CashReceiptIssue(_) => MessageType::CashReceiptIssue,
            Response::CashReceiptCancel(_) => MessageType::CashReceiptCancel,
            Response::ReadCancel(kind, _) => kind.message_type(),
            Response::LastTransaction(_) => MessageType::LastTransaction,
            Response::SalesTotals(_) => MessageType::SalesTotals,
            Response::ResultConfirmation(_) => MessageType::ResultConfirmation,
            Response::CodeDownload(_) => MessageType::CodeDownload,
            Response::Print(_) => MessageType::Print,
            Response::TaxRefundIssue(_) => MessageType::TaxRefundIssue,
            Response::TaxRefundCancel(_) => MessageType::TaxRefundCancel,
            Response::TaxRefundInquiry(_) => MessageType::TaxRefundInquiry,
            Response::Abort(_) => MessageType::Abort,
            Response::Unknown(frame) => frame.message_type,
        }
    }

    /// The answer of a transaction (card, easy pay, cash receipt, or 990001's report of one).
    pub fn transaction(&self) -> Option<&Reply<TransactionData>> {
        match self {
            Response::CardApproval(r)
            | Response::CardCancel(r)
            | Response::EasyPayApproval(r)
            | Response::EasyPayCancel(r)
            | Response::CashReceiptIssue(r)
            | Response::CashReceiptCancel(r)
            | Response::LastTransaction(r) => Some(r),
            _ => None,
        }
    }

    /// `resultCode`; `None` for an unknown type.
    pub fn result_code(&self) -> Option<&ResultCode> {
        Some(match self {
            Response::CardApproval(r)
            | Response::CardCancel(r)
            | Response::EasyPayApproval(r)
            | Response::EasyPayCancel(r)
            | Response::CashReceiptIssue(r)
            | Response::CashReceiptCancel(r)
            | Response::LastTransaction(r) => &r.result_code,
            Response::ReadCancel(_, r) => &r.result_code,
            Response::SalesTotals(r) => &r.result_code,
            Response::ResultConfirmation(r) | Response::Print(r) | Response::Abort(r) => {
                &r.result_code
            }
            Response::CodeDownload(r) => &r.result_code,
            Response::TaxRefundIssue(r)
            | Response::TaxRefundCancel(r)
            | Response::TaxRefundInquiry(r) => &r.result_code,
            Response::Unknown(_) => return None,
        })
    }

    /// The `0010` signature-wait interim of a card approval or cancel: the final answer is still to come.
    pub fn is_interim(&self) -> bool {
        matches!(self, Response::CardApproval(r) | Response::CardCancel(r) if r.result_code.is_interim())
    }

    /// The `ptxid` an answer names, where its shape has one.
    pub fn ptxid(&self) -> Option<&str> {
        match self {
            Response::ReadCancel(_, r) => r.data.as_ref().and_then(|d| d.ptxid.as_deref()),
            other => other
                .transaction()
                .and_then(|r| r.data.as_ref())
                .and_then(|d| d.ptxid.as_deref()),
        }
    }

    /// The frame (answers always have a body).
    pub fn to_frame(&self) -> Result<Frame, EncodeError> {
        let t = self.message_type();
        match self {
            Response::CardApproval(r)
            | Response::CardCancel(r)
            | Response::EasyPayApproval(r)
            | Response::EasyPayCancel(r)
            | Response::CashReceiptIssue(r)
            | Response::CashReceiptCancel(r)
            | Response::LastTransaction(r) => body_frame(t, r),
            Response::ReadCancel(_, r) => body_frame(t, r),
            Response::SalesTotals(r) => body_frame(t, r),
            Response::ResultConfirmation(r) | Response::Print(r) | Response::Abort(r) => {
                body_frame(t, r)
            }
            Response::CodeDownload(r) => body_frame(t, r),
            Response::TaxRefundIssue(r)
            | Response::TaxRefundCancel(r)
            | Response::TaxRefundInquiry(r) => body_frame(t, r),
            Response::Unknown(frame) => Ok(frame.clone()),
        }
    }

    /// The bytes to write: header and body.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        self.to_frame()?.encode()
    }
}
