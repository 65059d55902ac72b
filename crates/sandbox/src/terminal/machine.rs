//! The terminal's behaviour: connections, the transaction in progress, the ledger and every answer.
//!
//! All state sits in one [`Machine`] behind a mutex; answers are queued to the connection's task through a
//! channel while the lock is held, so the record of what was sent is in the order it was sent.

use std::collections::BTreeSet;

use chrono::Utc;
use smartro::types::kst_naive;
use smartro_terminal::{
    CodeEntry, CodeList, Extra, FrameDecoder, MessageType, PtxidData, ReadCancelKind, Reply,
    Request, Response, ResultCode, StatusReply, TaxRefundIssueRequest, TaxRefundSlip, TotalsBucket,
    TotalsData, TotalsReply, TotalsRequest, TraderType, TransactionData, TransactionKind,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::{
    code_text, Direction, LastTransaction, LedgerEntry, LogEntry, Screen, TerminalFaults,
    TerminalState, ALREADY_CANCELLED, AMOUNT_MISMATCH, DECLINED, NO_ORIGINAL,
};
use crate::config::AutoDecision;
use crate::lock;

/// The merchant number the simulated terminal reports.
const MERCHANT_CODE: &str = "00951685";

pub(crate) enum Outgoing {
    Bytes(Vec<u8>),
    Close,
}

#[derive(Clone)]
pub(crate) struct Conn {
    id: u64,
    tx: mpsc::UnboundedSender<Outgoing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    WaitingCard,
    WaitingSignature,
}

struct Pending {
    request: Request,
    conn: Conn,
    stage: Stage,
    /// Tells a timer or an automatic step whether the transaction it was armed for is still the open one.
    generation: u64,
}

struct TaxRefundRecord {
    slip: TaxRefundSlip,
    cancelled: bool,
}

pub(crate) struct Machine {
    pub(crate) faults: TerminalFaults,
    pub(crate) screen: Screen,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) ledger: Vec<LedgerEntry>,
    pub(crate) last: Option<LastTransaction>,
    pub(crate) connection: Option<Conn>,
    pending: Option<Pending>,
    next_connection: u64,
    generation: u64,
    /// Numbers approvals, transactions and tax-refund slips.
    counter: u64,
    garbage_sent: u64,
    tax_refunds: Vec<TaxRefundRecord>,
}

/// How a transaction ends.
enum Outcome {
    Approve,
    Decline,
    /// `9999` with this message (사용자 취소, 서명시간초과).
    Cancelled(&'static str),
}

impl Machine {
    pub(crate) fn new(faults: TerminalFaults) -> Machine {
        Machine {
            faults,
            screen: Screen::Idle,
            log: Vec::new(),
            ledger: Vec::new(),
            last: None,
            connection: None,
            pending: None,
            next_connection: 1,
            generation: 0,
            counter: 0,
            garbage_sent: 0,
            tax_refunds: Vec::new(),
        }
    }

    fn record(
        &mut self,
        connection: u64,
        direction: Direction,
        message_type: Option<MessageType>,
    ) -> &mut LogEntry {
        let seq = self.log.len() as u64 + 1;
        self.log.push(LogEntry {
            seq,
            connection,
            direction,
            message_type: message_type.map(MessageType::code),
            ptxid: None,
            result_code: None,
            error: None,
        });
        let last = self.log.len() - 1;
        &mut self.log[last]
    }

    fn is_current(&self, conn: &Conn) -> bool {
        self.connection.as_ref().is_some_and(|c| c.id == conn.id)
    }

    /// Queue `response` for `conn` and record it.
    fn send(&mut self, conn: &Conn, response: Response) {
        let current = self.is_current(conn);
        let bytes = response.encode();
        let entry = self.record(conn.id, Direction::Sent, Some(response.message_type()));
        entry.ptxid = response.ptxid().map(str::to_string);
        entry.result_code = response.result_code().map(code_text);
        match bytes {
            Ok(bytes) if current => {
                let _ = conn.tx.send(Outgoing::Bytes(bytes));
            }
            Ok(_) => entry.error = Some("connection gone: answer lost".to_string()),
            Err(e) => entry.error = Some(format!("cannot encode: {e}")),
        }
    }

    /// A broken frame instead of an answer (the `garbage` knob): in turn a header that is not digits, a length
    /// under 6, and a body that is not JSON.
    fn send_garbage(&mut self, conn: &Conn) {
        let bytes: &[u8] = match self.garbage_sent % 3 {
            0 => b"GARBAGE!!!",
            1 => b"0003010010",
            _ => b"0011010010{oops",
        };
        self.garbage_sent += 1;
        let entry = self.record(conn.id, Direction::Sent, None);
        entry.error = Some(format!("garbage: {}", bytes.escape_ascii()));
        let _ = conn.tx.send(Outgoing::Bytes(bytes.to_vec()));
    }

    fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }
}

/// The transaction answer of `message_type` (the request's type, or 990001).
fn transaction_response(message_type: MessageType, reply: Reply<TransactionData>) -> Response {
    match message_type {
        MessageType::CardApproval => Response::CardApproval(reply),
        MessageType::CardCancel => Response::CardCancel(reply),
        MessageType::EasyPayApproval => Response::EasyPayApproval(reply),
        MessageType::EasyPayCancel => Response::EasyPayCancel(reply),
        MessageType::CashReceiptIssue => Response::CashReceiptIssue(reply),
        MessageType::CashReceiptCancel => Response::CashReceiptCancel(reply),
        _ => Response::LastTransaction(reply),
    }
}

/// `9991` with a reason, in the shape of `message_type`'s answer; `None` for types the terminal does not answer.
fn unable(message_type: MessageType, reason: &str, ptxid: Option<&str>) -> Option<Response> {
    let message = format!("unable to proceed: {reason}");
    let status = || Reply::new(ResultCode::Unable, message.clone(), None::<Extra>);
    Some(match message_type {
        MessageType::CardApproval
        | MessageType::CardCancel
        | MessageType::EasyPayApproval
        | MessageType::EasyPayCancel
        | MessageType::CashReceiptIssue
        | MessageType::CashReceiptCancel
        | MessageType::LastTransaction => transaction_response(
            message_type,
            Reply::new(
                ResultCode::Unable,
                message.clone(),
                ptxid.map(TransactionData::ptxid_only),
            ),
        ),
        MessageType::CardReadCancel => Response::ReadCancel(
            ReadCancelKind::Card,
            read_cancel_reply(ResultCode::Unable, ptxid),
        ),
        MessageType::EasyPayReadCancel => Response::ReadCancel(
            ReadCancelKind::EasyPay,
            read_cancel_reply(ResultCode::Unable, ptxid),
        ),
        MessageType::CashReceiptReadCancel => Response::ReadCancel(
            ReadCancelKind::CashReceipt,
            read_cancel_reply(ResultCode::Unable, ptxid),
        ),
        MessageType::SalesTotals => Response::SalesTotals(TotalsReply {
            result_code: ResultCode::Unable,
            result_message: message.clone(),
            period: None,
            data: None,
            extra: Extra::new(),
        }),
        MessageType::ResultConfirmation => Response::ResultConfirmation(status()),
        MessageType::CodeDownload => {
            Response::CodeDownload(Reply::new(ResultCode::Unable, message.clone(), None))
        }
        MessageType::Print => Response::Print(status()),
        MessageType::TaxRefundIssue => {
            Response::TaxRefundIssue(Reply::new(ResultCode::Unable, message.clone(), None))
        }
        MessageType::TaxRefundCancel => {
            Response::TaxRefundCancel(Reply::new(ResultCode::Unable, message.clone(), None))
        }
        MessageType::TaxRefundInquiry => {
            Response::TaxRefundInquiry(Reply::new(ResultCode::Unable, message.clone(), None))
        }
        MessageType::Abort => Response::Abort(status()),
        MessageType::Other(_) => return None,
    })
}

fn read_cancel_reply(code: ResultCode, ptxid: Option<&str>) -> Reply<PtxidData> {
    let message = if code.is_success() {
        "완료"
    } else {
        "unable to proceed"
    };
    Reply::new(
        code,
        message,
        ptxid.map(|p| PtxidData {
            ptxid: Some(p.to_string()),
            extra: Extra::new(),
        }),
    )
}

// -----------------------------------------------------------------------------------------------------------
// Connections
// -----------------------------------------------------------------------------------------------------------

pub(crate) async fn accept_loop(listener: TcpListener, state: TerminalState) {
    loop {
        let accepted = tokio::select! {
            _ = state.stopping() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let (tx, rx) = mpsc::unbounded_channel();
                let id = {
                    let mut m = lock(&state.inner.machine);
                    let id = m.next_connection;
                    m.next_connection += 1;
                    // One POS at a time: the newcomer replaces the old connection, which is closed.
                    if let Some(old) = m.connection.replace(Conn { id, tx }) {
                        let _ = old.tx.send(Outgoing::Close);
                    }
                    id
                };
                tracing::info!(%peer, connection = id, "POS connected to the terminal");
                tokio::spawn(serve_connection(state.clone(), stream, id, rx));
            }
            Err(e) => {
                // A failed accept (e.g. out of file descriptors) must not end the terminal.
                tracing::warn!(error = %e, "terminal accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn serve_connection(
    state: TerminalState,
    stream: TcpStream,
    id: u64,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let mut decoder = FrameDecoder::new();
    let mut buf = vec![0u8; 4096];
    'serve: loop {
        tokio::select! {
            _ = state.stopping() => break,
            out = rx.recv() => match out {
                Some(Outgoing::Bytes(bytes)) => {
                    if writer.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                Some(Outgoing::Close) | None => break,
            },
            read = reader.read(&mut buf) => {
                let n = match read {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                decoder.push(&buf[..n]);
                loop {
                    match decoder.next_frame() {
                        Ok(Some(frame)) => {
                            if !handle_frame(&state, id, frame) {
                                break 'serve;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            // The stream has lost its framing: nothing more from it can be trusted.
                            tracing::warn!(connection = id, error = %e, "protocol error from the POS; closing");
                            let mut m = lock(&state.inner.machine);
                            m.record(id, Direction::Received, None).error = Some(e.to_string());
                            break 'serve;
                        }
                    }
                }
            }
        }
    }
    let _ = writer.shutdown().await;
    let mut m = lock(&state.inner.machine);
    if m.connection.as_ref().is_some_and(|c| c.id == id) {
        m.connection = None;
    }
    tracing::info!(connection = id, "POS connection closed");
}

/// Handle one frame; `false` closes the connection.
fn handle_frame(state: &TerminalState, conn_id: u64, frame: smartro_terminal::Frame) -> bool {
    let mut m = lock(&state.inner.machine);
    let Some(conn) = m.connection.clone().filter(|c| c.id == conn_id) else {
        // Replaced while this frame was read: the old connection is closing.
        return false;
    };
    let request = Request::from_frame(&frame);
    let entry = m.record(conn_id, Direction::Received, Some(frame.message_type));
    let request = match request {
        Ok(r) => {
            entry.ptxid = r.ptxid().map(str::to_string);
            r
        }
        Err(e) => {
            entry.error = Some(e.to_string());
            if let Some(answer) = unable(frame.message_type, &e.to_string(), None) {
                m.send(&conn, answer);
            }
            return true;
        }
    };
    tracing::info!(connection = conn_id, message_type = %frame.message_type, "terminal received");
    if request.is_transaction() {
        return transaction_request(state, &mut m, &conn, request);
    }
    if let Err(e) = request.validate() {
        if let Some(entry) = m.log.last_mut() {
            entry.error = Some(e.to_string());
        }
        if let Some(answer) = unable(request.message_type(), &e.to_string(), request.ptxid()) {
            m.send(&conn, answer);
        }
        return true;
    }
    match request {
        Request::ReadCancel(kind) => read_cancel(&mut m, &conn, kind),
        Request::Abort => abort(&mut m, &conn),
        Request::LastTransaction => {
            let answer = match &m.last {
                Some(last) => Response::LastTransaction(last.reply.clone()),
                None => {
                    Response::LastTransaction(Reply::new(ResultCode::Unable, "직전거래 없음", None))
                }
            };
            m.send(&conn, answer);
        }
        Request::ResultConfirmation => {
            if let Some(last) = &mut m.last {
                last.confirmed = true;
            }
            m.send(
                &conn,
                Response::ResultConfirmation(Reply::new(
                    ResultCode::Success,
                    "end of transmission",
                    None,
                )),
            );
        }
        Request::SalesTotals(r) => {
            let answer = totals(&m, &r);
            m.send(&conn, Response::SalesTotals(answer));
        }
        Request::CodeDownload => m.send(&conn, Response::CodeDownload(code_list())),
        Request::Print(_) => m.send(
            &conn,
            Response::Print(Reply::new(ResultCode::Success, "프린트 정상 출력", None)),
        ),
        Request::TaxRefundIssue(r) => {
            let answer = issue_tax_refund(&mut m, &r);
            m.send(&conn, Response::TaxRefundIssue(answer));
        }
        Request::TaxRefundCancel(r) => {
            let answer = tax_refund_slip(&mut m, &r.tax_refund_serial, true);
            m.send(&conn, Response::TaxRefundCancel(answer));
        }
        Request::TaxRefundInquiry(r) => {
            let answer = tax_refund_slip(&mut m, &r.tax_refund_serial, false);
            m.send(&conn, Response::TaxRefundInquiry(answer));
        }
        Request::Unknown(frame) => {
            tracing::warn!(message_type = %frame.message_type, "unknown message type from the POS; ignored");
        }
        // Transactions were handled above.
        Request::CardApproval(_)
        | Request::CardCancel(_)
        | Request::EasyPayApproval(_)
        | Request::EasyPayCancel(_)
        | Request::CashReceiptIssue(_)
        | Request::CashReceiptCancel(_) => {}
    }
    true
}

// -----------------------------------------------------------------------------------------------------------
// Transactions
// -----------------------------------------------------------------------------------------------------------

fn amount_of(request: &Request) -> i64 {
    match request {
        Request::CardApproval(r) => r.price_amt,
        Request::EasyPayApproval(r) => r.price_amt,
        Request::CashReceiptIssue(r) => r.price_amt,
        Request::CardCancel(r) | Request::EasyPayCancel(r) => r.approval_amt,
        Request::CashReceiptCancel(r) => r.approval_amt,
        _ => 0,
    }
}

fn transaction_request(
    state: &TerminalState,
    m: &mut Machine,
    conn: &Conn,
    request: Request,
) -> bool {
    let message_type = request.message_type();
    let ptxid = request.ptxid().unwrap_or_default().to_string();
    if let Err(e) = request.validate() {
        if let Some(entry) = m.log.last_mut() {
            entry.error = Some(e.to_string());
        }
        if let Some(answer) = unable(message_type, &e.to_string(), Some(&ptxid)) {
            m.send(conn, answer);
        }
        return true;
    }
    if m.pending.is_some() {
        let reply = Reply::new(
            ResultCode::Busy,
            "처리중 입니다",
            Some(TransactionData::ptxid_only(&ptxid)),
        );
        m.send(conn, transaction_response(message_type, reply));
        return true;
    }
    let faults = m.faults;
    if faults.drop_after_request || faults.no_answer || faults.garbage {
        // The terminal does the transaction; only the answer goes wrong.
        let outcome = if faults.decline {
            Outcome::Decline
        } else {
            Outcome::Approve
        };
        let reply = conclude(m, &request, outcome);
        if faults.drop_after_request {
            tracing::info!(%ptxid, "drop_after_request: closing the connection");
            return false;
        }
        if faults.garbage {
            m.send_garbage(conn);
        } else {
            tracing::info!(%ptxid, code = %reply.result_code, "no_answer: the answer is withheld");
        }
        return true;
    }
    m.generation += 1;
    let generation = m.generation;
    m.screen = Screen::WaitingCard {
        message_type: message_type.code(),
        ptxid,
        amount: amount_of(&request),
    };
    m.pending = Some(Pending {
        request,
        conn: conn.clone(),
        stage: Stage::WaitingCard,
        generation,
    });
    if state.config().auto.is_some() {
        let state = state.clone();
        let delay = state.config().auto_delay;
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            insert_card(&state, Some(generation));
        });
    }
    true
}

/// The card goes in. `auto`: the generation an automatic step was armed for (ignored if it has moved on).
pub(crate) fn insert_card(state: &TerminalState, auto: Option<u64>) -> bool {
    let mut m = lock(&state.inner.machine);
    let Some(pending) = &m.pending else {
        return false;
    };
    if pending.stage != Stage::WaitingCard || auto.is_some_and(|g| g != pending.generation) {
        return false;
    }
    let declined =
        m.faults.decline || (auto.is_some() && state.config().auto == Some(AutoDecision::Decline));
    if declined {
        finish(&mut m, Outcome::Decline);
        return true;
    }
    let card_type = matches!(
        pending.request,
        Request::CardApproval(_) | Request::CardCancel(_)
    );
    if card_type && (m.faults.signature || m.faults.signature_timeout) {
        let Some(pending) = m.pending.as_mut() else {
            return false;
        };
        pending.stage = Stage::WaitingSignature;
        let (generation, conn, message_type) = (
            pending.generation,
            pending.conn.clone(),
            pending.request.message_type(),
        );
        let ptxid = pending.request.ptxid().unwrap_or_default().to_string();
        let amount = amount_of(&pending.request);
        m.screen = Screen::WaitingSignature {
            message_type: message_type.code(),
            ptxid: ptxid.clone(),
            amount,
        };
        let interim = Reply::new(
            ResultCode::SignatureWait,
            "서명대기",
            Some(TransactionData::ptxid_only(ptxid)),
        );
        m.send(&conn, transaction_response(message_type, interim));
        let timer_state = state.clone();
        let timeout = state.config().signature_timeout;
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            signature_timed_out(&timer_state, generation);
        });
        if auto.is_some() && !m.faults.signature_timeout {
            let sign_state = state.clone();
            let delay = state.config().auto_delay;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                sign(&sign_state, Some(generation));
            });
        }
        return true;
    }
    finish(&mut m, Outcome::Approve);
    true
}

/// The person signs.
pub(crate) fn sign(state: &TerminalState, auto: Option<u64>) -> bool {
    let mut m = lock(&state.inner.machine);
    let waiting = m.pending.as_ref().is_some_and(|p| {
        p.stage == Stage::WaitingSignature && auto.is_none_or(|g| g == p.generation)
    });
    if !waiting {
        return false;
    }
    finish(&mut m, Outcome::Approve);
    true
}

fn signature_timed_out(state: &TerminalState, generation: u64) {
    let mut m = lock(&state.inner.machine);
    let waiting = m
        .pending
        .as_ref()
        .is_some_and(|p| p.stage == Stage::WaitingSignature && p.generation == generation);
    if waiting {
        finish(&mut m, Outcome::Cancelled("서명시간초과"));
    }
}

pub(crate) fn decline(state: &TerminalState) -> bool {
    let mut m = lock(&state.inner.machine);
    if m.pending.is_none() {
        return false;
    }
    finish(&mut m, Outcome::Decline);
    true
}

/// End the open transaction with `outcome` and send its final answer to the connection that asked.
fn finish(m: &mut Machine, outcome: Outcome) {
    let Some(pending) = m.pending.take() else {
        return;
    };
    let reply = conclude(m, &pending.request, outcome);
    m.send(
        &pending.conn,
        transaction_response(pending.request.message_type(), reply),
    );
}

/// Decide a transaction: write the ledger, remember it as the last one, show it, and return its final answer.
fn conclude(m: &mut Machine, request: &Request, outcome: Outcome) -> Reply<TransactionData> {
    let ptxid = request.ptxid().unwrap_or_default().to_string();
    let reply = match outcome {
        Outcome::Approve => approve(m, request),
        Outcome::Decline => Reply::new(
            ResultCode::Other(DECLINED.to_string()),
            "승인거절",
            Some(TransactionData::ptxid_only(&ptxid)),
        ),
        Outcome::Cancelled(message) => Reply::new(
            ResultCode::Cancelled,
            message,
            Some(TransactionData::ptxid_only(&ptxid)),
        ),
    };
    m.screen = Screen::Result {
        message_type: request.message_type().code(),
        ptxid: ptxid.clone(),
        result_code: reply.result_code.as_str().to_string(),
        result_message: reply.result_message.clone(),
    };
    m.last = Some(LastTransaction {
        message_type: request.message_type(),
        ptxid,
        reply: reply.clone(),
        confirmed: false,
    });
    reply
}

fn kind_of(request: &Request) -> TransactionKind {
    match request {
        Request::EasyPayApproval(_) | Request::EasyPayCancel(_) => TransactionKind::EasyPay,
        Request::CashReceiptIssue(_) | Request::CashReceiptCancel(_) => {
            TransactionKind::CashReceipt
        }
        _ => TransactionKind::Card,
    }
}

fn issuer_of(kind: TransactionKind) -> (&'static str, &'static str) {
    match kind {
        TransactionKind::Card => ("04", "삼성카드"),
        TransactionKind::EasyPay => ("KP", "카카오페이"),
        TransactionKind::CashReceipt => ("CASH", "현금영수증"),
    }
}

/// `010-****-5678` style: the identity with all but its last four digits hidden.
fn mask(identity: &str) -> String {
    let keep = identity.len().saturating_sub(4);
    identity
        .char_indices()
        .map(|(i, c)| {
            if i < keep && c.is_ascii_digit() {
                '*'
            } else {
                c
            }
        })
        .collect()
}

fn approve(m: &mut Machine, request: &Request) -> Reply<TransactionData> {
    let kind = kind_of(request);
    let ptxid = request.ptxid().unwrap_or_default().to_string();
    let now = kst_naive(Utc::now());
    let n = m.next_number();
    let approval_no = format!("{:08}", 30_000_000 + n % 70_000_000);
    let transaction_no = format!("{}{:06}", now.format("%y%m%d"), n % 1_000_000);
    let transaction_date = now.format("%Y%m%d%H%M%S").to_string();
    let (issuer_code, issuer_name) = issuer_of(kind);
    let mut data = TransactionData {
        approval_no: Some(approval_no.clone()),
        transaction_no: Some(transaction_no.clone()),
        transaction_date: Some(transaction_date.clone()),
        ptxid: Some(ptxid.clone()),
        ..TransactionData::default()
    };
    if kind != TransactionKind::CashReceipt {
        data.merchant_code = Some(MERCHANT_CODE.to_string());
        data.masked_track_data = Some("536148******1234".to_string());
        data.issuer_code = Some(issuer_code.to_string());
        data.issuer_name = Some(issuer_name.to_string());
        data.acquirer_code = Some(issuer_code.to_string());
        data.acquirer_name = Some(issuer_name.to_string());
    }
    // The cancelled approval, for cancels.
    let original = match request {
        Request::CardCancel(c) | Request::EasyPayCancel(c) => Some((
            c.approval_no.clone(),
            c.transaction_no.clone(),
            c.transaction_date.clone(),
            c.approval_amt,
        )),
        Request::CashReceiptCancel(c) => Some((
            c.approval_no.clone(),
            c.transaction_no.clone(),
            c.transaction_date.clone(),
            c.approval_amt,
        )),
        _ => None,
    };
    let amount = if let Some((no, tno, date, amt)) = original {
        // The POS may send the approval's day only, or its full date and time.
        let found = m.ledger.iter().position(|e| {
            !e.is_cancel
                && e.kind == kind
                && e.approval_no == no
                && e.transaction_no == tno
                && date.len() >= 6
                && e.transaction_date.starts_with(&date)
        });
        let refusal = match found.map(|i| &m.ledger[i]) {
            None => Some((NO_ORIGINAL, "원거래 없음")),
            Some(e) if e.cancelled => Some((ALREADY_CANCELLED, "이미 취소된 거래")),
            Some(e) if e.amount != amt => {
                Some((AMOUNT_MISMATCH, "취소금액 불일치 (전액취소만 가능)"))
            }
            Some(_) => None,
        };
        if let Some((code, message)) = refusal {
            return Reply::new(
                ResultCode::Other(code.to_string()),
                message,
                Some(TransactionData::ptxid_only(ptxid)),
            );
        }
        if let Some(i) = found {
            m.ledger[i].cancelled = true;
        }
        data.approval_amt = Some(amt);
        amt
    } else {
        amount_of(request)
    };
    match request {
        Request::CardApproval(r) => {
            data.installment = Some(r.installment);
            data.approval_amt = Some(r.price_amt);
            data.tax_amt = Some(r.tax_amt);
            data.tip_amt = Some(r.tip_amt);
            data.tax_free_amt = Some(r.tax_free_amt);
        }
        Request::EasyPayApproval(r) => {
            data.installment = Some(r.installment);
            data.approval_amt = Some(r.price_amt);
            data.tax_amt = Some(r.tax_amt);
            data.tip_amt = Some(r.tip_amt);
            data.tax_free_amt = Some(r.tax_free_amt);
            data.point_amt1 = Some(0);
            data.point_amt2 = Some(0);
            data.point_amt3 = Some(0);
            data.service_code = Some(r.service_code.clone());
        }
        Request::EasyPayCancel(_) => {
            data.point_amt1 = Some(0);
            data.point_amt2 = Some(0);
            data.point_amt3 = Some(0);
        }
        Request::CashReceiptIssue(r) => {
            data.approval_amt = Some(r.price_amt);
            data.tax_amt = Some(r.tax_amt);
            data.tip_amt = Some(r.tip_amt);
            data.tax_free_amt = Some(r.tax_free_amt);
            data.trader_type = Some(r.trader_type.clone());
            data.receipt_title = Some(receipt_title(&r.trader_type).to_string());
            data.masked_track_data =
                Some(mask(r.approval_number.as_deref().unwrap_or("01012345678")));
        }
        Request::CashReceiptCancel(r) => {
            data.trader_type = Some(r.trader_type.clone());
            data.receipt_title = Some(receipt_title(&r.trader_type).to_string());
            data.masked_track_data =
                Some(mask(r.approval_number.as_deref().unwrap_or("01012345678")));
        }
        _ => {}
    }
    m.ledger.push(LedgerEntry {
        kind,
        is_cancel: original_is_cancel(request),
        ptxid,
        approval_no,
        transaction_no,
        transaction_date,
        amount,
        issuer_code: issuer_code.to_string(),
        cancelled: false,
    });
    Reply::new(ResultCode::Success, "정상승인", Some(data))
}

fn original_is_cancel(request: &Request) -> bool {
    matches!(
        request,
        Request::CardCancel(_) | Request::EasyPayCancel(_) | Request::CashReceiptCancel(_)
    )
}

fn receipt_title(t: &TraderType) -> &'static str {
    match t {
        TraderType::ExpenseProof => "지출증빙",
        _ => "소득공제",
    }
}

// -----------------------------------------------------------------------------------------------------------
// Reading cancel and abort
// -----------------------------------------------------------------------------------------------------------

fn read_cancel(m: &mut Machine, conn: &Conn, kind: ReadCancelKind) {
    let reading = m.pending.as_ref().filter(|p| {
        p.stage == Stage::WaitingCard
            && ReadCancelKind::for_transaction(p.request.message_type()) == Some(kind)
    });
    let Some(pending) = reading else {
        let ptxid = m
            .pending
            .as_ref()
            .and_then(|p| p.request.ptxid())
            .map(str::to_string);
        m.send(
            conn,
            Response::ReadCancel(
                kind,
                read_cancel_reply(ResultCode::Unable, ptxid.as_deref()),
            ),
        );
        return;
    };
    let ptxid = pending.request.ptxid().unwrap_or_default().to_string();
    m.send(
        conn,
        Response::ReadCancel(kind, read_cancel_reply(ResultCode::Success, Some(&ptxid))),
    );
    finish(m, Outcome::Cancelled("사용자 취소"));
}

fn abort(m: &mut Machine, conn: &Conn) {
    let status =
        |code: ResultCode, message: &str| Response::Abort(StatusReply::new(code, message, None));
    if m.faults.busy {
        m.send(
            conn,
            status(
                ResultCode::Busy,
                "처리중 입니다. 작업을 취소할 수 없습니다.",
            ),
        );
        return;
    }
    match m.pending.as_ref().map(|p| p.stage) {
        Some(Stage::WaitingCard) => {
            m.send(conn, status(ResultCode::Cancelled, "사용자 취소"));
            finish(m, Outcome::Cancelled("사용자 취소"));
        }
        Some(Stage::WaitingSignature) => {
            m.send(
                conn,
                status(
                    ResultCode::Busy,
                    "처리중 입니다. 작업을 취소할 수 없습니다.",
                ),
            );
        }
        None => m.send(conn, status(ResultCode::Unable, "취소할 작업이 없습니다")),
    }
}

// -----------------------------------------------------------------------------------------------------------
// Queries
// -----------------------------------------------------------------------------------------------------------

fn totals(m: &Machine, r: &TotalsRequest) -> TotalsReply {
    let in_period = |e: &&LedgerEntry| {
        let day = e.transaction_date.get(..8).unwrap_or_default();
        e.kind != TransactionKind::CashReceipt && day >= r.from.as_str() && day <= r.to.as_str()
    };
    let bucket = |cancels: bool| {
        let entries: Vec<&LedgerEntry> = m
            .ledger
            .iter()
            .filter(in_period)
            .filter(|e| e.is_cancel == cancels)
            .collect();
        let issuers: BTreeSet<&str> = entries.iter().map(|e| e.issuer_code.as_str()).collect();
        TotalsBucket {
            count: entries.len() as i64,
            price: entries.iter().map(|e| e.amount).sum(),
            issuer: issuers.len() as i64,
            extra: Extra::new(),
        }
    };
    TotalsReply {
        result_code: ResultCode::Success,
        result_message: "매출집계 정상 조회".to_string(),
        period: Some(format!("{}~{}", r.from, r.to)),
        data: Some(TotalsData {
            approved: bucket(false),
            canceled: bucket(true),
            extra: Extra::new(),
        }),
        extra: Extra::new(),
    }
}

fn code_list() -> Reply<CodeList> {
    let codes: Vec<CodeEntry> = [
        ("AQ15", "KT 포인트", "AG04", "국내포인트결제매입사"),
        ("AQ16", "LG 포인트", "AG04", "국내포인트결제매입사"),
        ("04", "삼성카드", "AG01", "국내카드매입사"),
        ("KP", "카카오페이", "AG02", "간편결제"),
        ("CASH", "현금영수증", "", ""),
    ]
    .into_iter()
    .map(|(code, name, group, group_name)| CodeEntry {
        code: code.to_string(),
        code_name: name.to_string(),
        group_code: group.to_string(),
        group_code_name: group_name.to_string(),
        extra: Extra::new(),
    })
    .collect();
    Reply::new(
        ResultCode::Success,
        "코드리스트 정상 조회",
        Some(CodeList {
            total_count: Some(codes.len() as i64),
            code_list: codes,
            extra: Extra::new(),
        }),
    )
}

fn issue_tax_refund(m: &mut Machine, r: &TaxRefundIssueRequest) -> Reply<TaxRefundSlip> {
    let now = kst_naive(Utc::now());
    let n = m.next_number();
    let total = r.approval_amt.unwrap_or(0)
        + r.card_amount.unwrap_or(0)
        + r.cash_amount.unwrap_or(0)
        + r.etc_amount.unwrap_or(0);
    let serial = format!("8010375{:013}", n);
    let mut slip = TaxRefundSlip {
        buyer_country: Some("USA".to_string()),
        buyer_name: Some("JOHN DOE".to_string()),
        passport_serial: Some("M12345678".to_string()),
        // The refund is about 7 % of the price for goods (VAT less the operator's fee).
        refund_balance: Some(total * 7 / 100),
        refund_date: Some(now.format("%Y%m%d").to_string()),
        refund_time: Some(now.format("%H%M%S").to_string()),
        refund_serial: Some(format!("R{n:09}")),
        taxrefund_serial: Some(serial),
        ..TaxRefundSlip::default()
    };
    if r.variant() == smartro_terminal::TaxRefundVariant::Medical {
        slip.card_amount = r.card_amount;
        slip.cash_amount = r.cash_amount;
        slip.etc_amount = r.etc_amount;
        slip.price = Some(total);
    }
    m.tax_refunds.push(TaxRefundRecord {
        slip: slip.clone(),
        cancelled: false,
    });
    Reply::new(ResultCode::Success, "환급전표 정상 발행", Some(slip))
}

fn tax_refund_slip(m: &mut Machine, serial: &str, cancel: bool) -> Reply<TaxRefundSlip> {
    let Some(record) = m
        .tax_refunds
        .iter_mut()
        .find(|t| t.slip.taxrefund_serial.as_deref() == Some(serial))
    else {
        return Reply::new(ResultCode::Unable, "환급전표 없음", None);
    };
    if cancel {
        if record.cancelled {
            return Reply::new(
                ResultCode::Other(ALREADY_CANCELLED.to_string()),
                "이미 취소된 전표",
                None,
            );
        }
        record.cancelled = true;
        return Reply::new(
            ResultCode::Success,
            "환급전표 정상 취소",
            Some(record.slip.clone()),
        );
    }
    let message = if record.cancelled {
        "취소된 전표"
    } else {
        "정상 전표"
    };
    Reply::new(ResultCode::Success, message, Some(record.slip.clone()))
}
