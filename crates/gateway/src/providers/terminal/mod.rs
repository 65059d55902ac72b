//! The gateway as the POS of Smartro's in-store card terminals (seed 002): one task per configured terminal
//! keeps a TCP connection open, reconnects with backoff, and runs one transaction at a time. This is the only
//! place that touches the terminals' sockets; what an answer means is decided by `domain::terminal` and written
//! by `store::terminal`.
//!
//! The money-safety rules (`terminal.md`) as this task keeps them:
//! 1. the service records a transaction `requested` before it hands it here; the task writes the request only
//!    for a transaction still `requested`, and one it cannot write (no connection) fails as never sent;
//! 2. a final answer is applied in one database transaction, and 980001 is written only after that commit;
//! 3. no final answer within `timeout_secs`, a dropped connection, a protocol error, or a previous process's
//!    unsettled transaction make it `unknown`; every (re)connection first asks 990001 for an `unknown`
//!    transaction and settles it from the terminal's record. A record of another transaction, or none, is
//!    believed only once a reading cancel (9x0021) shows the terminal is not still reading this one's card
//!    (`9991` naming no other work of ours); a reading cancel it confirms ends the transaction without a card
//!    read; anything else leaves it `unknown`. While it is `unknown` the terminal's final answer naming its
//!    `ptxid` still settles it, and 990001 is asked again every few seconds. At `timeout_secs` a reading cancel
//!    is sent first, and the connection dropped only if no final answer follows shortly;
//! 4. the `0010` interim makes it `awaiting_signature`; an abort is a reading cancel (9x0021) while the card is
//!    awaited and 555555 otherwise, and a refusal leaves the transaction open;
//! 5. an answer for anything but the transaction in flight (or the terminal's `unknown` one) changes nothing
//!    (stored raw, noted, ignored).
//!
//! Every frame is stored raw in `terminal_messages`: inbound ones before they are interpreted, outbound ones
//! once written. A timeout or a protocol error drops the connection, so a late answer never arrives on the
//! connection a later transaction uses; the reconnection's 990001 speaks for it instead.
//!
//! Queries (totals 050099, code download 081008, print 900091) are not transactions: nothing about money hangs
//! on them, so they are not recorded beyond their raw frames. One is written only while no transaction is in
//! flight, and while it awaits its answer the next command waits, so the terminal is asked one thing at a time.
//! With `print_receipt`, the gateway's own sales slip is such a query, written after an approval's commit and
//! 980001; whatever becomes of it is only logged, never applied to the payment.
//!
//! Decision: one gateway process drives a terminal (a terminal serves one POS connection at a time, and a new
//! connection replaces the old one), so the task's in-memory "transaction in flight" is the terminal's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use smartro_terminal::{
    ApprovalRequest, CancelRequest, CashReceiptCancelRequest, CashReceiptRequest,
    EasyPayApprovalRequest, Frame, FrameDecoder, MessageType, ReadCancelKind, Reply, Request,
    Response, ResultCode, TransactionData,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use uuid::Uuid;

use crate::config::{Settings, TerminalSettings};
use crate::domain::terminal::LastTransaction;
use crate::domain::{
    TerminalApproval, TerminalEvent, TerminalReply, TerminalTxKind, TerminalTxStatus,
};
use crate::service::Services;
use crate::store::terminal::TerminalTxRow;
use crate::store::StoreError;

mod slip;
pub use slip::sales_slip;

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the terminal may take to answer 990001 or a reading cancel (it answers from memory).
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// How often 990001 is asked again while a transaction's fate is unknown on a live connection (the terminal may
/// have been busy, or at the signature step, when it was last asked).
const RECHECK: Duration = Duration::from_secs(3);
/// How long the final answer is awaited after the reading cancel sent at `timeout_secs`.
const READ_CANCEL_GRACE: Duration = Duration::from_secs(5);
/// How long the terminal may take to answer a query (totals, codes, print): it answers from memory or its
/// printer, without the buyer.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(15);
/// Reconnection backoff: from the first to the largest pause.
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// What the service asks of a terminal's task.
pub enum Command {
    /// Send the request of this transaction, recorded `requested`; `done` fires once it is no longer in flight
    /// (settled, `unknown`, or failed as never sent).
    Send {
        id: Uuid,
        done: Option<oneshot::Sender<()>>,
    },
    /// Abort the transaction in flight.
    Abort {
        id: Uuid,
        reply: oneshot::Sender<AbortAnswer>,
    },
    /// Ask something that is not a card transaction (totals 050099, code download 081008, print 900091, tax-refund
    /// slips 050010 / 050020 / 900050): written
    /// only while no transaction is in flight, answered by the terminal's response of the same type.
    Query {
        request: Box<Request>,
        reply: oneshot::Sender<QueryAnswer>,
    },
}

/// How a query went.
#[derive(Debug)]
pub enum QueryAnswer {
    /// The terminal's answer (whatever its result code).
    Answered(Box<Response>),
    /// A transaction is in flight on the terminal: nothing was sent.
    Busy,
    NotConnected,
    /// Sent, and no answer within the query timeout (the connection is then dropped and re-opened).
    NoAnswer,
}

/// How an abort went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AbortAnswer {
    /// The transaction is no longer in flight (aborted, or settled otherwise first): read it from the store.
    Ended,
    /// The terminal refused to abort; the transaction stays open.
    Refused {
        code: String,
        message: String,
    },
    /// That transaction is not in flight on the terminal (its outcome is unknown, or it already ended).
    NotInFlight,
    NotConnected,
}

/// The service's handle on one terminal's task.
#[derive(Clone)]
pub struct TerminalHandle {
    id: String,
    commands: mpsc::Sender<Command>,
    connected: watch::Receiver<bool>,
}

impl TerminalHandle {
    /// The terminal's configured id.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn connected(&self) -> bool {
        *self.connected.borrow()
    }

    /// Hands a command to the task; `false` when the task is gone (the gateway is stopping).
    pub async fn send(&self, command: Command) -> bool {
        self.commands.send(command).await.is_ok()
    }
}

struct Runner {
    settings: TerminalSettings,
    commands: mpsc::Receiver<Command>,
    connected: watch::Sender<bool>,
}

/// Every configured terminal's handle; cheap to clone.
#[derive(Clone)]
pub struct TerminalHub {
    handles: Arc<HashMap<String, TerminalHandle>>,
    runners: Arc<Mutex<Vec<Runner>>>,
}

impl TerminalHub {
    pub fn new(settings: &Settings) -> TerminalHub {
        let mut handles = HashMap::new();
        let mut runners = Vec::new();
        for terminal in &settings.terminals {
            let (commands_tx, commands) = mpsc::channel(16);
            let (connected, connected_rx) = watch::channel(false);
            handles.insert(
                terminal.id.clone(),
                TerminalHandle {
                    id: terminal.id.clone(),
                    commands: commands_tx,
                    connected: connected_rx,
                },
            );
            runners.push(Runner {
                settings: terminal.clone(),
                commands,
                connected,
            });
        }
        TerminalHub {
            handles: Arc::new(handles),
            runners: Arc::new(Mutex::new(runners)),
        }
    }

    pub fn get(&self, id: &str) -> Option<&TerminalHandle> {
        self.handles.get(id)
    }

    /// Starts one task per terminal (once; later calls start nothing).
    pub fn spawn(&self, services: &Services) -> Vec<JoinHandle<()>> {
        let runners = match self.runners.lock() {
            Ok(mut runners) => std::mem::take(&mut *runners),
            Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
        };
        runners
            .into_iter()
            .map(|runner| {
                let services = services.clone();
                tokio::spawn(run(services, runner))
            })
            .collect()
    }
}

/// Why a connection ended.
#[derive(Debug)]
enum Drop {
    Lost(String),
    /// The gateway is stopping.
    Stopped,
}

impl From<StoreError> for Drop {
    fn from(e: StoreError) -> Self {
        Drop::Lost(format!("database error: {e}"))
    }
}

async fn run(services: Services, mut runner: Runner) {
    let id = runner.settings.id.clone();
    let mut backoff = BACKOFF_FIRST;
    loop {
        let attempt = tokio::time::timeout(
            CONNECT_TIMEOUT,
            TcpStream::connect(&runner.settings.address),
        )
        .await;
        match attempt {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                tracing::info!(terminal = %id, address = %runner.settings.address, "terminal connected");
                runner.connected.send_replace(true);
                backoff = BACKOFF_FIRST;
                let mut session = Session::new(&services, &runner.settings, stream);
                let ended = session.run(&mut runner.commands).await;
                runner.connected.send_replace(false);
                match ended {
                    Drop::Stopped => return,
                    Drop::Lost(reason) => {
                        tracing::warn!(terminal = %id, %reason, "terminal connection dropped")
                    }
                }
            }
            Ok(Err(e)) => tracing::debug!(terminal = %id, error = %e, "terminal not reachable"),
            Err(_) => tracing::debug!(terminal = %id, "terminal connection attempt timed out"),
        }
        // While disconnected nothing can be sent: a request waiting to go out fails as never sent, an abort
        // is told so.
        let until = Instant::now() + backoff;
        loop {
            tokio::select! {
                command = runner.commands.recv() => match command {
                    None => return,
                    Some(command) => refuse_offline(&services, &id, command).await,
                },
                _ = tokio::time::sleep_until(until) => break,
            }
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

async fn refuse_offline(services: &Services, terminal: &str, command: Command) {
    match command {
        Command::Send { id, done } => {
            let event = TerminalEvent::NotSent {
                reason: "the terminal was not connected: the request was not sent".into(),
            };
            if let Err(e) = apply(services, id, &event).await {
                tracing::error!(%terminal, transaction = %id, error = %e, "could not record an unsent request");
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        Command::Abort { reply, .. } => {
            let _ = reply.send(AbortAnswer::NotConnected);
        }
        Command::Query { reply, .. } => {
            let _ = reply.send(QueryAnswer::NotConnected);
        }
    }
}

async fn apply(
    services: &Services,
    id: Uuid,
    event: &TerminalEvent,
) -> Result<crate::store::terminal::Applied, StoreError> {
    let render = services.render();
    let render_tx = services.render_terminal_tx();
    services
        .store
        .apply_terminal_event(id, event, &render, &render_tx, services.clock.now())
        .await
}

/// The transaction in flight on a connection.
struct InFlight {
    id: Uuid,
    ptxid: String,
    message_type: MessageType,
    deadline: Instant,
    done: Option<oneshot::Sender<()>>,
    abort: Option<oneshot::Sender<AbortAnswer>>,
    /// `timeout_secs` passed and a reading cancel was sent: the final answer is awaited until `deadline` only.
    expiring: bool,
}

/// The terminal's open transaction whose fate is `unknown` (no connection carries it): what the terminal says
/// about its `ptxid` settles it.
struct Unsettled {
    id: Uuid,
    ptxid: String,
    kind: TerminalTxKind,
    /// When 990001 is asked again.
    next_check: Instant,
}

/// A query written and not yet answered. `reply` is `None` for the gateway's own (its sales slip): the answer is
/// only stored and logged.
struct PendingQuery {
    message_type: MessageType,
    deadline: Instant,
    reply: Option<oneshot::Sender<QueryAnswer>>,
}

impl InFlight {
    fn finish(mut self) {
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
        if let Some(abort) = self.abort.take() {
            let _ = abort.send(AbortAnswer::Ended);
        }
    }
}

struct Session<'a> {
    services: &'a Services,
    settings: &'a TerminalSettings,
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    decoder: FrameDecoder,
    /// The last bytes read, kept until the next read: what is stored when they break the framing.
    last_read: Vec<u8>,
    in_flight: Option<InFlight>,
    query: Option<PendingQuery>,
    unsettled: Option<Unsettled>,
}

impl<'a> Session<'a> {
    fn new(services: &'a Services, settings: &'a TerminalSettings, stream: TcpStream) -> Self {
        let (reader, writer) = stream.into_split();
        Session {
            services,
            settings,
            reader,
            writer,
            decoder: FrameDecoder::new(),
            last_read: Vec::new(),
            in_flight: None,
            query: None,
            unsettled: None,
        }
    }

    async fn run(&mut self, commands: &mut mpsc::Receiver<Command>) -> Drop {
        let ended = match self.recover().await {
            Ok(()) => self.serve(commands).await,
            Err(drop) => drop,
        };
        // Whatever was in flight has lost its answer: only the terminal's record can settle it now.
        if let Some(in_flight) = self.in_flight.take() {
            let reason = match &ended {
                Drop::Lost(reason) => reason.clone(),
                Drop::Stopped => "the gateway stopped before the final answer".to_string(),
            };
            if let Err(e) =
                apply(self.services, in_flight.id, &TerminalEvent::Lost { reason }).await
            {
                tracing::error!(terminal = %self.settings.id, transaction = %in_flight.id, error = %e,
                    "could not record a lost answer; the next connection settles it");
            }
            in_flight.finish();
        }
        ended
    }

    /// On every (re)connection: a transaction left open by a lost connection or a previous process is
    /// `unknown`; the terminal's last-transaction record (990001) settles it.
    async fn recover(&mut self) -> Result<(), Drop> {
        let Some(open) = self
            .services
            .store
            .open_terminal_tx(&self.settings.id)
            .await?
        else {
            return Ok(());
        };
        let open = if open.status == TerminalTxStatus::Unknown {
            open
        } else {
            let reason =
                "the connection to the terminal was lost (or the gateway restarted) before the final answer";
            apply(
                self.services,
                open.id,
                &TerminalEvent::Lost {
                    reason: reason.into(),
                },
            )
            .await?
            .tx
        };
        if open.status != TerminalTxStatus::Unknown {
            return Ok(());
        }
        self.unsettled = Some(Unsettled {
            id: open.id,
            ptxid: open.ptxid.clone(),
            kind: open.kind,
            next_check: Instant::now(),
        });
        self.look_up().await
    }

    /// Asks the terminal what became of the `unknown` transaction. 990001 names the terminal's last *finished*
    /// transaction, so a record of another one, or none, is also what a terminal still reading this request's
    /// card (or at its signature step) says: before it is believed, a reading cancel checks that the terminal
    /// is working on nothing of this transaction's (F1). Whatever is not conclusive leaves it `unknown`, asked
    /// again after [`RECHECK`].
    async fn look_up(&mut self) -> Result<(), Drop> {
        let Some((id, ptxid, kind)) = self
            .unsettled
            .as_ref()
            .map(|u| (u.id, u.ptxid.clone(), u.kind))
        else {
            return Ok(());
        };
        let Some(Response::LastTransaction(reply)) =
            self.ask(&Request::LastTransaction, id).await?
        else {
            // Its own final answer arrived meanwhile and settled it.
            return Ok(());
        };
        let mut last = last_transaction(&reply);
        let elsewhere = match &last {
            LastTransaction::Record { ptxid: named, .. } => *named != ptxid,
            LastTransaction::None => true,
            LastTransaction::Unclear { .. } => false,
        };
        let mut idle = false;
        if elsewhere {
            let Some(Response::ReadCancel(_, answer)) = self
                .ask(&Request::ReadCancel(read_cancel_kind(kind)), id)
                .await?
            else {
                return Ok(());
            };
            let named = answer.data.as_ref().and_then(|d| d.ptxid.as_deref());
            match answer.result_code {
                // Nothing is being read, and the terminal names no work of this transaction's (a `9991`
                // naming it means it is past the card, at the signature step): its 990001 record is the truth.
                ResultCode::Unable if named != Some(ptxid.as_str()) => {
                    // Asked again now that it is idle: the transaction may have finished (signature given)
                    // between the first 990001 and the reading cancel, and then this record names it. Nothing
                    // new starts meanwhile: this gateway is the terminal's only POS and holds it busy.
                    let Some(Response::LastTransaction(reply)) =
                        self.ask(&Request::LastTransaction, id).await?
                    else {
                        return Ok(());
                    };
                    last = last_transaction(&reply);
                    idle = true;
                }
                // It was still reading this card, and now never reads it: no money moved. Its own final answer
                // (9999 사용자 취소) went to the connection that asked, which is gone.
                ResultCode::Success if named == Some(ptxid.as_str()) => {
                    let reason = "the terminal was still waiting for the card when its answer was lost; the gateway \
                                  cancelled the reading (confirmed 0000), so no card was read";
                    let event = TerminalEvent::ReadingCancelled {
                        reason: reason.into(),
                    };
                    let applied = apply(self.services, id, &event).await?;
                    return self.looked_up(&applied.tx, false).await;
                }
                // Busy, a reading of something else cancelled, the signature step: ask again later.
                _ => {}
            }
        }
        let applied = apply(
            self.services,
            id,
            &TerminalEvent::LastTransaction { last, idle },
        )
        .await?;
        self.looked_up(&applied.tx, true).await
    }

    /// After a look-up was applied: a settled transaction is no longer watched (and, settled from the terminal's
    /// record, confirmed with 980001 once committed); an open one is asked about again later.
    async fn looked_up(&mut self, tx: &TerminalTxRow, confirm: bool) -> Result<(), Drop> {
        tracing::info!(terminal = %self.settings.id, transaction = %tx.id,
            status = tx.status.as_str(), "unknown transaction looked up with 990001");
        if tx.status.is_open() {
            if let Some(unsettled) = self.unsettled.as_mut() {
                unsettled.next_check = Instant::now() + RECHECK;
            }
            return Ok(());
        }
        self.unsettled = None;
        if confirm {
            // Committed: the terminal may now consider the exchange complete.
            self.write(&Request::ResultConfirmation, Some(tx.id))
                .await?;
            self.print_slip(tx).await?;
        }
        Ok(())
    }

    /// Writes a question about the unknown transaction and reads until the answer of the same type. A
    /// transaction answer that comes meanwhile is handled as in `serve`; `None` when it settled the transaction.
    async fn ask(&mut self, request: &Request, id: Uuid) -> Result<Option<Response>, Drop> {
        let expected = request.message_type();
        self.write(request, Some(id)).await?;
        let deadline = Instant::now() + LOOKUP_TIMEOUT;
        loop {
            let Some((frame, seq)) = self.next_frame(Some(id), deadline).await? else {
                return Err(Drop::Lost(format!(
                    "the terminal did not answer {}",
                    expected.code()
                )));
            };
            let response = self.interpret(&frame, seq).await?;
            if response.message_type() == expected {
                return Ok(Some(response));
            }
            match &response {
                Response::CardApproval(reply)
                | Response::CardCancel(reply)
                | Response::EasyPayApproval(reply)
                | Response::EasyPayCancel(reply)
                | Response::CashReceiptIssue(reply)
                | Response::CashReceiptCancel(reply) => {
                    self.on_answer(reply, seq).await?;
                    if self.unsettled.is_none() {
                        return Ok(None);
                    }
                }
                _ => {
                    self.note(seq, "not the answer awaited: ignored").await;
                }
            }
        }
    }

    async fn serve(&mut self, commands: &mut mpsc::Receiver<Command>) -> Drop {
        let mut buf = vec![0u8; 4096];
        loop {
            // Frames already buffered first: a read may have brought several.
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    if let Err(drop) = self.on_frame(frame).await {
                        return drop;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => return self.protocol_error(&e.to_string()).await,
            }
            let deadline = self.in_flight.as_ref().map(|f| f.deadline);
            let query_deadline = self.query.as_ref().map(|q| q.deadline);
            // An unknown transaction is asked about again while nothing else awaits an answer.
            let recheck = self
                .unsettled
                .as_ref()
                .filter(|_| self.query.is_none() && self.in_flight.is_none())
                .map(|u| u.next_check);
            // While a query awaits its answer the next command waits in the channel: the terminal answers one
            // thing at a time, and a sale must not be refused because a slip is being printed.
            let idle = self.query.is_none();
            tokio::select! {
                read = self.reader.read(&mut buf) => match read {
                    Ok(0) => return Drop::Lost("the terminal closed the connection".into()),
                    Ok(n) => self.received(&buf[..n]),
                    Err(e) => return Drop::Lost(format!("read error: {e}")),
                },
                command = commands.recv(), if idle => match command {
                    None => return Drop::Stopped,
                    Some(command) => if let Err(drop) = self.on_command(command).await {
                        return drop;
                    },
                },
                _ = sleep_until(deadline), if deadline.is_some() => {
                    if let Err(drop) = self.expire().await {
                        return drop;
                    }
                }
                _ = sleep_until(recheck), if recheck.is_some() => {
                    if let Err(drop) = self.look_up().await {
                        return drop;
                    }
                }
                _ = sleep_until(query_deadline), if query_deadline.is_some() => {
                    let mut reason = "no answer to a query".to_string();
                    if let Some(query) = self.query.take() {
                        reason = format!(
                            "no answer to {} within {} s",
                            query.message_type.code(),
                            QUERY_TIMEOUT.as_secs()
                        );
                        if let Some(reply) = query.reply {
                            let _ = reply.send(QueryAnswer::NoAnswer);
                        }
                    }
                    // Dropped so that a late answer never meets a later query of the same type.
                    return Drop::Lost(reason);
                }
            }
        }
    }

    /// `timeout_secs` passed without a final answer. Dropping the connection now would leave a terminal that is
    /// still waiting for the card free to read it and approve after the gateway stopped listening (F1), so a
    /// reading cancel is sent first and the final answer (`9999` 사용자 취소 once it is confirmed, or whatever
    /// came first) awaited for [`READ_CANCEL_GRACE`]. Past that, the connection is dropped and the transaction
    /// is `unknown`, for the reconnection's look-up.
    async fn expire(&mut self) -> Result<(), Drop> {
        let timeout = Drop::Lost(format!(
            "no final answer within {} s (timeout_secs)",
            self.settings.timeout_secs
        ));
        let Some(in_flight) = self.in_flight.as_mut() else {
            return Ok(());
        };
        let kind = ReadCancelKind::for_transaction(in_flight.message_type);
        let (false, Some(kind)) = (in_flight.expiring, kind) else {
            return Err(timeout);
        };
        in_flight.expiring = true;
        in_flight.deadline = Instant::now() + READ_CANCEL_GRACE;
        let id = in_flight.id;
        tracing::info!(terminal = %self.settings.id, transaction = %id,
            "no final answer within timeout_secs: cancelling the reading before giving up");
        self.write(&Request::ReadCancel(kind), Some(id)).await
    }

    /// Bytes the decoder refused: stored raw with the reason, and the connection dropped (its framing is lost).
    async fn protocol_error(&mut self, reason: &str) -> Drop {
        let leftover = self.decoder_leftover();
        let note = format!("protocol error: {reason}");
        tracing::warn!(terminal = %self.settings.id, %note, "terminal sent a broken frame");
        if let Err(e) = self
            .services
            .store
            .record_terminal_message(
                &self.settings.id,
                true,
                None,
                &leftover,
                self.in_flight.as_ref().map(|f| f.id),
                Some(&note),
                self.services.clock.now(),
            )
            .await
        {
            tracing::error!(terminal = %self.settings.id, error = %e, "could not store a broken frame");
        }
        Drop::Lost(note)
    }

    /// The bytes of the read that broke the framing, for the record.
    fn decoder_leftover(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.last_read)
    }

    fn received(&mut self, bytes: &[u8]) {
        self.last_read = bytes.to_vec();
        self.decoder.push(bytes);
    }

    /// Reads until a frame is complete or `deadline` passes (`None`); the frame is stored before it is returned.
    async fn next_frame(
        &mut self,
        transaction: Option<Uuid>,
        deadline: Instant,
    ) -> Result<Option<(Frame, i64)>, Drop> {
        let mut buf = vec![0u8; 4096];
        loop {
            match self.decoder.next_frame() {
                Ok(Some(frame)) => {
                    let seq = self.store_inbound(&frame, transaction).await?;
                    return Ok(Some((frame, seq)));
                }
                Ok(None) => {}
                Err(e) => return Err(self.protocol_error(&e.to_string()).await),
            }
            tokio::select! {
                read = self.reader.read(&mut buf) => match read {
                    Ok(0) => return Err(Drop::Lost("the terminal closed the connection".into())),
                    Ok(n) => self.received(&buf[..n]),
                    Err(e) => return Err(Drop::Lost(format!("read error: {e}"))),
                },
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
            }
        }
    }

    async fn store_inbound(
        &self,
        frame: &Frame,
        transaction: Option<Uuid>,
    ) -> Result<i64, StoreError> {
        let bytes = frame.encode().unwrap_or_else(|_| frame.body.clone());
        self.services
            .store
            .record_terminal_message(
                &self.settings.id,
                true,
                Some(&frame.message_type.code()),
                &bytes,
                transaction,
                None,
                self.services.clock.now(),
            )
            .await
    }

    async fn note(&self, seq: i64, note: &str) {
        tracing::info!(terminal = %self.settings.id, seq, %note, "terminal message not applied");
        if let Err(e) = self.services.store.note_terminal_message(seq, note).await {
            tracing::error!(terminal = %self.settings.id, error = %e, "could not note a terminal message");
        }
    }

    /// The typed answer of a stored frame; a body that does not make one drops the connection.
    async fn interpret(&mut self, frame: &Frame, seq: i64) -> Result<Response, Drop> {
        match Response::from_frame(frame) {
            Ok(response) => Ok(response),
            Err(e) => {
                let note = format!("protocol error: {e}");
                self.note(seq, &note).await;
                Err(Drop::Lost(note))
            }
        }
    }

    async fn write(&mut self, request: &Request, transaction: Option<Uuid>) -> Result<(), Drop> {
        let bytes = request
            .encode()
            .map_err(|e| Drop::Lost(format!("could not encode a request: {e}")))?;
        self.writer
            .write_all(&bytes)
            .await
            .map_err(|e| Drop::Lost(format!("write error: {e}")))?;
        self.services
            .store
            .record_terminal_message(
                &self.settings.id,
                false,
                Some(&request.message_type().code()),
                &bytes,
                transaction,
                None,
                self.services.clock.now(),
            )
            .await?;
        Ok(())
    }

    async fn on_command(&mut self, command: Command) -> Result<(), Drop> {
        match command {
            Command::Send { id, done } => self.start(id, done).await,
            Command::Abort { id, reply } => self.abort(id, reply).await,
            Command::Query { request, reply } => {
                if self.in_flight.is_some() || self.query.is_some() {
                    let _ = reply.send(QueryAnswer::Busy);
                    return Ok(());
                }
                self.query(*request, Some(reply)).await
            }
        }
    }

    /// Writes a query and waits for its answer in `serve`.
    async fn query(
        &mut self,
        request: Request,
        reply: Option<oneshot::Sender<QueryAnswer>>,
    ) -> Result<(), Drop> {
        self.query = Some(PendingQuery {
            message_type: request.message_type(),
            deadline: Instant::now() + QUERY_TIMEOUT,
            reply,
        });
        self.write(&request, None).await
    }

    /// After an approval is committed and confirmed: the gateway's own sales slip when the terminal is set to
    /// print one. Its outcome is only logged: a slip that does not print changes nothing about the payment.
    async fn print_slip(&mut self, tx: &TerminalTxRow) -> Result<(), Drop> {
        if !self.settings.print_receipt
            || tx.status != TerminalTxStatus::Succeeded
            || !matches!(
                tx.kind,
                TerminalTxKind::CardApproval | TerminalTxKind::EasyPayApproval
            )
        {
            return Ok(());
        }
        let request = Request::Print(sales_slip(tx));
        if let Err(e) = request.validate() {
            tracing::warn!(terminal = %self.settings.id, transaction = %tx.id, error = %e,
                "sales slip not printed: it breaks the print rules");
            return Ok(());
        }
        tracing::info!(terminal = %self.settings.id, transaction = %tx.id, "printing the sales slip");
        self.query(request, None).await
    }

    /// The answer to the query awaited, if it is one.
    async fn on_query_answer(&mut self, response: Response, seq: i64) {
        let message_type = response.message_type();
        let Some(query) = self.query.take_if(|q| q.message_type == message_type) else {
            self.note(
                seq,
                &format!(
                    "answer of type {} with no such query asked: ignored",
                    message_type.code()
                ),
            )
            .await;
            return;
        };
        match query.reply {
            Some(reply) => {
                let _ = reply.send(QueryAnswer::Answered(Box::new(response)));
            }
            None => match response.result_code() {
                Some(code) if code.is_success() => {
                    tracing::info!(terminal = %self.settings.id, "sales slip printed")
                }
                code => {
                    let code = code.map(|c| c.as_str().to_string()).unwrap_or_default();
                    tracing::warn!(terminal = %self.settings.id, %code,
                        "the terminal did not print the sales slip; the payment stands")
                }
            },
        }
    }

    async fn start(&mut self, id: Uuid, done: Option<oneshot::Sender<()>>) -> Result<(), Drop> {
        let finish = |done: Option<oneshot::Sender<()>>| {
            if let Some(done) = done {
                let _ = done.send(());
            }
        };
        if self.in_flight.is_some() {
            // The unique index allows one open transaction per terminal, so this is another replica's or a
            // bug; either way this one was not sent.
            let event = TerminalEvent::NotSent {
                reason: "another transaction is in flight on this terminal".into(),
            };
            apply(self.services, id, &event).await?;
            finish(done);
            return Ok(());
        }
        let Some(row) = self.services.store.terminal_tx(id).await? else {
            finish(done);
            return Ok(());
        };
        if row.status != TerminalTxStatus::Requested {
            finish(done);
            return Ok(());
        }
        let request = match request_of(&row) {
            Ok(request) => request,
            Err(reason) => {
                apply(self.services, id, &TerminalEvent::NotSent { reason }).await?;
                finish(done);
                return Ok(());
            }
        };
        self.in_flight = Some(InFlight {
            id,
            ptxid: row.ptxid.clone(),
            message_type: request.message_type(),
            deadline: Instant::now() + Duration::from_secs(self.settings.timeout_secs),
            done,
            abort: None,
            expiring: false,
        });
        tracing::info!(terminal = %self.settings.id, transaction = %id, ptxid = %row.ptxid,
            kind = row.kind.as_str(), amount = row.amount, "sending a terminal transaction");
        self.write(&request, Some(id)).await
    }

    async fn abort(&mut self, id: Uuid, reply: oneshot::Sender<AbortAnswer>) -> Result<(), Drop> {
        let Some(in_flight) = self.in_flight.as_mut().filter(|f| f.id == id) else {
            let _ = reply.send(AbortAnswer::NotInFlight);
            return Ok(());
        };
        let message_type = in_flight.message_type;
        in_flight.abort = Some(reply);
        let applied = apply(self.services, id, &TerminalEvent::AbortRequested).await?;
        // While the card is awaited a reading cancel stops it; once the card is read (signature step) only
        // 555555 can, and the terminal may refuse.
        let request = match (
            applied.tx.status,
            ReadCancelKind::for_transaction(message_type),
        ) {
            (TerminalTxStatus::Requested, Some(kind)) => Request::ReadCancel(kind),
            _ => Request::Abort,
        };
        self.write(&request, Some(id)).await
    }

    async fn on_frame(&mut self, frame: Frame) -> Result<(), Drop> {
        let transaction = (self.in_flight.as_ref().map(|f| f.id))
            .or_else(|| self.unsettled.as_ref().map(|u| u.id));
        let seq = self.store_inbound(&frame, transaction).await?;
        let response = self.interpret(&frame, seq).await?;
        match &response {
            Response::CardApproval(reply)
            | Response::CardCancel(reply)
            | Response::EasyPayApproval(reply)
            | Response::EasyPayCancel(reply)
            | Response::CashReceiptIssue(reply)
            | Response::CashReceiptCancel(reply) => self.on_answer(reply, seq).await,
            Response::ReadCancel(_, reply) => {
                let (code, message) = (reply.result_code.clone(), reply.result_message.clone());
                self.on_abort_answer(code, message, ResultCode::Success, seq)
                    .await
            }
            Response::Abort(reply) => {
                let (code, message) = (reply.result_code.clone(), reply.result_message.clone());
                // 555555's "aborted" is 9999 사용자 취소.
                self.on_abort_answer(code, message, ResultCode::Cancelled, seq)
                    .await
            }
            Response::ResultConfirmation(_) => Ok(()),
            Response::SalesTotals(_)
            | Response::CodeDownload(_)
            | Response::Print(_)
            | Response::TaxRefundIssue(_)
            | Response::TaxRefundCancel(_)
            | Response::TaxRefundInquiry(_) => {
                self.on_query_answer(response, seq).await;
                Ok(())
            }
            Response::LastTransaction(_) => {
                self.note(
                    seq,
                    "990001 answer not asked for on this connection: ignored",
                )
                .await;
                Ok(())
            }
            other => {
                let note = format!(
                    "message type {} not expected here: ignored",
                    other.message_type().code()
                );
                self.note(seq, &note).await;
                Ok(())
            }
        }
    }

    async fn on_answer(&mut self, reply: &Reply<TransactionData>, seq: i64) -> Result<(), Drop> {
        let ptxid = reply.data.as_ref().and_then(|d| d.ptxid.clone());
        let matches = |p: &str| ptxid.as_deref() == Some(p);
        // The transaction in flight, or the terminal's `unknown` one: the terminal's own final answer naming its
        // ptxid is its fate (F3), whichever connection it arrives on.
        let target = match (&self.in_flight, &self.unsettled) {
            (Some(f), _) if matches(&f.ptxid) => Some((f.id, f.ptxid.clone(), true)),
            (_, Some(u)) if matches(&u.ptxid) => Some((u.id, u.ptxid.clone(), false)),
            _ => None,
        };
        let Some((id, ptxid, live)) = target else {
            // Rule 5: a late or duplicate answer, or one for another transaction, changes nothing.
            let note = format!(
                "answer for ptxid {} is not the transaction in flight: ignored",
                ptxid.as_deref().unwrap_or("(none)")
            );
            if reply.result_code.is_success() {
                // Not expected: a transaction is failed only once the terminal is known idle. Loud, for a person.
                tracing::error!(terminal = %self.settings.id, seq, ptxid = ptxid.as_deref().unwrap_or("(none)"),
                    "the terminal reports an approval for a transaction not in flight: check it by hand");
            }
            self.note(seq, &note).await;
            return Ok(());
        };
        let event = TerminalEvent::Reply {
            ptxid,
            reply: terminal_reply(reply),
        };
        let applied = apply(self.services, id, &event).await?;
        if applied.tx.status.is_open() {
            // The signature-wait interim: the final answer is still to come.
            return Ok(());
        }
        // Committed: only now may the terminal hear that the result is received.
        let in_flight = if live {
            self.in_flight.take()
        } else {
            self.unsettled = None;
            None
        };
        let confirmed = self.write(&Request::ResultConfirmation, Some(id)).await;
        if let Some(in_flight) = in_flight {
            tracing::info!(terminal = %self.settings.id, transaction = %id,
                status = applied.tx.status.as_str(), "terminal transaction settled");
            in_flight.finish();
        }
        confirmed?;
        self.print_slip(&applied.tx).await
    }

    async fn on_abort_answer(
        &mut self,
        code: ResultCode,
        message: String,
        confirmed: ResultCode,
        seq: i64,
    ) -> Result<(), Drop> {
        let Some(in_flight) = self
            .in_flight
            .as_mut()
            .filter(|f| f.abort.is_some() || f.expiring)
        else {
            self.note(seq, "abort answer with no abort asked: ignored")
                .await;
            return Ok(());
        };
        if code == confirmed {
            // Aborted: the transaction's own final answer (사용자 취소) follows and settles it `aborted` (or
            // `failed`, for the gateway's own reading cancel at `timeout_secs`).
            return Ok(());
        }
        if in_flight.abort.is_none() {
            // The gateway's reading cancel at `timeout_secs`, refused: the card is read already. The final answer
            // may still come within the grace; otherwise the transaction becomes `unknown`.
            self.note(
                seq,
                "reading cancel at timeout refused: the card is past reading",
            )
            .await;
            return Ok(());
        }
        let id = in_flight.id;
        let reply = in_flight.abort.take();
        apply(self.services, id, &TerminalEvent::AbortRefused).await?;
        if let Some(reply) = reply {
            let _ = reply.send(AbortAnswer::Refused {
                code: code.as_str().to_string(),
                message,
            });
        }
        Ok(())
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The request a recorded transaction sends, from the body recorded with it.
fn request_of(row: &TerminalTxRow) -> Result<Request, String> {
    let body = row.request.clone();
    let bad = |e: serde_json::Error| format!("the recorded request cannot be sent: {e}");
    let request = match row.kind {
        TerminalTxKind::CardApproval => {
            Request::CardApproval(serde_json::from_value::<ApprovalRequest>(body).map_err(bad)?)
        }
        TerminalTxKind::EasyPayApproval => Request::EasyPayApproval(
            serde_json::from_value::<EasyPayApprovalRequest>(body).map_err(bad)?,
        ),
        TerminalTxKind::CardCancel => {
            Request::CardCancel(serde_json::from_value::<CancelRequest>(body).map_err(bad)?)
        }
        TerminalTxKind::EasyPayCancel => {
            Request::EasyPayCancel(serde_json::from_value::<CancelRequest>(body).map_err(bad)?)
        }
        TerminalTxKind::CashReceipt => Request::CashReceiptIssue(
            serde_json::from_value::<CashReceiptRequest>(body).map_err(bad)?,
        ),
        TerminalTxKind::CashReceiptCancel => Request::CashReceiptCancel(
            serde_json::from_value::<CashReceiptCancelRequest>(body).map_err(bad)?,
        ),
    };
    if request.ptxid() != Some(row.ptxid.as_str()) {
        return Err("the recorded request names another ptxid".into());
    }
    request
        .validate()
        .map_err(|e| format!("the recorded request is invalid: {e}"))?;
    Ok(request)
}

/// The body recorded for a request (what is sent besides the header).
pub fn request_body(request: &Request) -> serde_json::Value {
    let body = match request {
        Request::CardApproval(r) => serde_json::to_value(r),
        Request::EasyPayApproval(r) => serde_json::to_value(r),
        Request::CardCancel(r) | Request::EasyPayCancel(r) => serde_json::to_value(r),
        Request::CashReceiptIssue(r) => serde_json::to_value(r),
        Request::CashReceiptCancel(r) => serde_json::to_value(r),
        _ => Ok(json!({})),
    };
    body.unwrap_or_else(|_| json!({}))
}

/// A transaction answer in the gateway's terms.
fn terminal_reply(reply: &Reply<TransactionData>) -> TerminalReply {
    if reply.result_code.is_interim() {
        return TerminalReply::SignatureWait;
    }
    if !reply.result_code.is_success() {
        return TerminalReply::Refused {
            code: reply.result_code.as_str().to_string(),
            message: reply.result_message.clone(),
        };
    }
    let data = reply.data.clone().unwrap_or_default();
    TerminalReply::Approved(TerminalApproval {
        approval_no: data.approval_no.unwrap_or_default(),
        transaction_no: data.transaction_no.unwrap_or_default(),
        transaction_date: data.transaction_date.unwrap_or_default(),
        // An approval that names no amount is not taken for the amount asked: the order is then reviewed.
        amount: data.approval_amt.unwrap_or(0),
        issuer_code: data.issuer_code,
        issuer_name: data.issuer_name,
        acquirer_code: data.acquirer_code,
        acquirer_name: data.acquirer_name,
        masked_card: data.masked_track_data,
        installment: data.installment.map(|i| i.to_string()),
    })
}

/// 990001's answer: the terminal's record of its last transaction, `9991` (직전거래 없음) naming none, or
/// something that says neither (F2: `0001` 처리중 is the terminal being busy, perhaps with this very
/// transaction, not "no last transaction").
fn last_transaction(reply: &Reply<TransactionData>) -> LastTransaction {
    let ptxid = reply.data.as_ref().and_then(|d| d.ptxid.clone());
    match (ptxid, &reply.result_code) {
        (_, ResultCode::Busy) => LastTransaction::Unclear {
            code: reply.result_code.as_str().to_string(),
            message: reply.result_message.clone(),
        },
        (Some(ptxid), _) => LastTransaction::Record {
            ptxid,
            reply: terminal_reply(reply),
        },
        (None, ResultCode::Unable) => LastTransaction::None,
        (None, code) => LastTransaction::Unclear {
            code: code.as_str().to_string(),
            message: reply.result_message.clone(),
        },
    }
}

/// The reading cancel of a transaction's kind.
fn read_cancel_kind(kind: TerminalTxKind) -> ReadCancelKind {
    match kind {
        TerminalTxKind::CardApproval | TerminalTxKind::CardCancel => ReadCancelKind::Card,
        TerminalTxKind::EasyPayApproval | TerminalTxKind::EasyPayCancel => ReadCancelKind::EasyPay,
        TerminalTxKind::CashReceipt | TerminalTxKind::CashReceiptCancel => {
            ReadCancelKind::CashReceipt
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: &str, data: Option<TransactionData>) -> Reply<TransactionData> {
        Reply::new(ResultCode::from(code), "msg", data)
    }

    #[test]
    fn answers_map_to_the_state_machines_terms() {
        assert_eq!(
            terminal_reply(&reply("0010", None)),
            TerminalReply::SignatureWait
        );
        assert_eq!(
            terminal_reply(&reply("8000", None)),
            TerminalReply::Refused {
                code: "8000".into(),
                message: "msg".into()
            }
        );
        let mut data = TransactionData::ptxid_only("P-1");
        data.approval_no = Some("123".into());
        data.approval_amt = Some(1004);
        match terminal_reply(&reply("0000", Some(data))) {
            TerminalReply::Approved(a) => {
                assert_eq!(a.approval_no, "123");
                assert_eq!(a.amount, 1004);
            }
            other => panic!("not an approval: {other:?}"),
        }
        // An approval without its amount is not taken for any amount.
        match terminal_reply(&reply("0000", Some(TransactionData::ptxid_only("P-1")))) {
            TerminalReply::Approved(a) => assert_eq!(a.amount, 0),
            other => panic!("not an approval: {other:?}"),
        }
    }

    #[test]
    fn only_9991_is_no_last_transaction_and_busy_is_unclear() {
        assert_eq!(
            last_transaction(&reply("9991", None)),
            LastTransaction::None
        );
        match last_transaction(&reply("0000", Some(TransactionData::ptxid_only("P-9")))) {
            LastTransaction::Record { ptxid, .. } => assert_eq!(ptxid, "P-9"),
            other => panic!("not a record: {other:?}"),
        }
        // A refusal naming its ptxid is that transaction's final answer.
        match last_transaction(&reply("9999", Some(TransactionData::ptxid_only("P-9")))) {
            LastTransaction::Record { reply, .. } => {
                assert!(matches!(reply, TerminalReply::Refused { .. }))
            }
            other => panic!("not a record: {other:?}"),
        }
        // F2: busy (with or without a ptxid) and a success naming nothing say nothing.
        for answer in [
            reply("0001", None),
            reply("0001", Some(TransactionData::ptxid_only("P-9"))),
            reply("0000", None),
            reply("8000", None),
        ] {
            assert!(
                matches!(last_transaction(&answer), LastTransaction::Unclear { .. }),
                "{answer:?}"
            );
        }
    }

    #[test]
    fn every_kind_has_its_reading_cancel() {
        for kind in TerminalTxKind::ALL {
            let message_type = match kind {
                TerminalTxKind::CardApproval => MessageType::CardApproval,
                TerminalTxKind::CardCancel => MessageType::CardCancel,
                TerminalTxKind::EasyPayApproval => MessageType::EasyPayApproval,
                TerminalTxKind::EasyPayCancel => MessageType::EasyPayCancel,
                TerminalTxKind::CashReceipt => MessageType::CashReceiptIssue,
                TerminalTxKind::CashReceiptCancel => MessageType::CashReceiptCancel,
            };
            assert_eq!(
                Some(read_cancel_kind(kind)),
                ReadCancelKind::for_transaction(message_type)
            );
        }
    }
}
