//! The in-store card-terminal simulator: the terminal side of seed 002 over real TCP, built on the
//! `smartro-terminal` protocol crate so that it and the gateway share one definition of the wire.
//!
//! It listens on its own TCP port and serves one POS connection at a time; a new connection replaces the old
//! one (the old socket is closed). Approvals wait for a person on the sandbox's `/terminal` page (insert card,
//! sign, decline) or go on by themselves with [`TerminalConfig::auto`]. In process:
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use sandbox::terminal::{TerminalConfig, TerminalSimulator};
//! let sim = TerminalSimulator::start(TerminalConfig::for_tests()).await?;
//! let addr = sim.addr(); // connect the POS here
//! sim.state().update_faults(|f| f.decline = true);
//! # let _ = addr;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # How it answers (decisions where the seed is silent)
//! - **Transactions** (010010, 010020, 030010, 030020, 070010, 070020) wait for the card ("카드를 넣어주세요").
//!   Once it is in, card approvals and cancels with the `signature` knob on first send the `0010` 서명대기
//!   interim and wait for the signature; after [`TerminalConfig::signature_timeout`] (30 s, the seed's) without
//!   one the final answer is `9999` 서명시간초과. Then the final answer: `0000` with the numbers, or a refusal
//!   ([`DECLINED`] 승인거절 when declined). A cancel must name an approval of the same kind in the terminal's
//!   ledger, not yet cancelled, for its whole amount; otherwise [`NO_ORIGINAL`], [`ALREADY_CANCELLED`] or
//!   [`AMOUNT_MISMATCH`]. A second transaction while one is open is answered `0001` 처리중 at once. A request the
//!   protocol's rules refuse (bad amount, bad print command, …) is answered `9991` with the reason.
//! - **Answers go to the connection that asked.** If it has been replaced or closed, the answer is lost; the
//!   transaction is still done on the terminal and 990001 reports it.
//! - **990001** answers the last finished transaction's final answer (approved, refused, timed out or
//!   cancelled) under type 990001, so the POS matches it by `ptxid`; with none yet, `9991` 직전거래 없음.
//! - **980001** answers `0000` "end of transmission" and marks the last transaction confirmed
//!   ([`LastTransaction::confirmed`]).
//! - **Reading cancel** (910021/930021/970021) while the card of a transaction of that kind is awaited: `0000`
//!   완료 with its `ptxid`, and then the pending transaction's own final answer `9999` 사용자 취소 (so every
//!   transaction request gets exactly one final answer). At any other time, or for another kind: `9991`.
//! - **555555** while the card is awaited: `9999` 사용자 취소, then the pending transaction's `9999` 사용자 취소.
//!   During the signature step the approval is already with the card company: `0001` 처리중. Idle: `9991`
//!   (nothing to abort; a POS must not read it as "aborted"). The `busy` knob answers `0001` always.
//! - **050099** counts card and easy-pay approvals and cancels whose transaction day (KST) is within from..=to;
//!   `issuer` is the number of distinct issuers among them; `period` is `from~to`.
//! - **Unknown message types** are logged and not answered; a frame the codec refuses closes the connection.
//!
//! # Fault knobs ([`TerminalFaults`], at start and at run time)
//! `decline`, `signature`, `signature_timeout` (the signature never comes, even in auto mode), and three that
//! act on transaction requests only, so that 990001 and the rest still answer while they are on and the POS
//! can recover: `drop_after_request` (close the connection on receipt, approve at once), `no_answer` (approve
//! at once, answer nothing), `garbage` (approve at once, answer with a broken frame instead). `busy` makes
//! 555555 answer `0001`.

mod machine;
pub(crate) mod web;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use smartro_terminal::{MessageType, Reply, ResultCode, TransactionData, TransactionKind};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::AutoDecision;
use crate::lock;
use machine::Machine;

/// Result code of a declined transaction (the simulator's own; the seed lists none).
pub const DECLINED: &str = "8000";
/// A cancel naming no approval in the terminal's ledger.
pub const NO_ORIGINAL: &str = "8001";
/// A cancel of an approval already cancelled.
pub const ALREADY_CANCELLED: &str = "8002";
/// A cancel for another amount than the approval's.
pub const AMOUNT_MISMATCH: &str = "8003";

/// Fault knobs. All of them can change at run time ([`TerminalState::update_faults`], `POST
/// /terminal/faults`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TerminalFaults {
    /// Transactions are declined once the card is in.
    pub decline: bool,
    /// Card approvals and cancels need a signature: `0010` interim, then the final answer.
    pub signature: bool,
    /// The signature never comes: after the `0010` interim, `9999` 서명시간초과 once the timeout passes.
    pub signature_timeout: bool,
    /// Close the connection as soon as a transaction request arrives; the terminal approves it anyway.
    pub drop_after_request: bool,
    /// Never answer transaction requests; the terminal approves them anyway.
    pub no_answer: bool,
    /// Answer transaction requests with broken frames; the terminal approves them anyway.
    pub garbage: bool,
    /// 555555 is refused with `0001` 처리중.
    pub busy: bool,
}

impl TerminalFaults {
    /// The knobs named in a comma-separated list (`decline,signature`), as the command line takes them.
    pub fn parse_list(list: &str) -> Result<TerminalFaults, String> {
        let mut f = TerminalFaults::default();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "decline" => f.decline = true,
                "signature" => f.signature = true,
                "signature_timeout" => f.signature_timeout = true,
                "drop_after_request" => f.drop_after_request = true,
                "no_answer" => f.no_answer = true,
                "garbage" => f.garbage = true,
                "busy" => f.busy = true,
                other => {
                    return Err(format!(
                        "unknown terminal fault {other:?}: expected decline, signature, signature_timeout, \
drop_after_request, no_answer, garbage or busy"
                    ))
                }
            }
        }
        Ok(f)
    }
}

impl FromStr for TerminalFaults {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TerminalFaults::parse_list(s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TerminalConfig {
    /// The TCP address the POS connects to; port 0 picks a free one ([`TerminalSimulator::addr`]).
    pub bind: SocketAddr,
    /// Insert the card (and sign) by itself, approving or declining; `None`: wait for the `/terminal` page.
    pub auto: Option<AutoDecision>,
    /// Pause before each automatic step, so a person can watch the screen (0 in tests).
    pub auto_delay: Duration,
    /// How long the signature pad waits (the seed: 30 s).
    pub signature_timeout: Duration,
    /// The knobs' values at start.
    pub faults: TerminalFaults,
}

impl Default for TerminalConfig {
    fn default() -> Self {
        TerminalConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 9091)),
            auto: None,
            auto_delay: Duration::from_millis(500),
            signature_timeout: Duration::from_secs(30),
            faults: TerminalFaults::default(),
        }
    }
}

impl TerminalConfig {
    /// A free port on loopback, no automatic decisions, no pauses, a 300 ms signature timeout.
    pub fn for_tests() -> TerminalConfig {
        TerminalConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            auto: None,
            auto_delay: Duration::ZERO,
            signature_timeout: Duration::from_millis(300),
            faults: TerminalFaults::default(),
        }
    }
}

/// What the terminal's screen shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Screen {
    Idle,
    /// A transaction waits for the card (or QR code, or identity number).
    WaitingCard {
        message_type: String,
        ptxid: String,
        amount: i64,
    },
    /// A card transaction waits for the signature.
    WaitingSignature {
        message_type: String,
        ptxid: String,
        amount: i64,
    },
    /// The last transaction's outcome.
    Result {
        message_type: String,
        ptxid: String,
        result_code: String,
        result_message: String,
    },
}

impl Screen {
    /// The line the terminal shows, in Korean as the device does.
    pub fn text(&self) -> &'static str {
        match self {
            Screen::Idle => "대기중",
            Screen::WaitingCard { message_type, .. }
                if message_type == "030010" || message_type == "030020" =>
            {
                "바코드/QR을 스캔해 주세요"
            }
            Screen::WaitingCard { .. } => "카드를 넣어주세요",
            Screen::WaitingSignature { .. } => "서명해 주세요",
            Screen::Result { result_code, .. } if result_code == "0000" => "거래가 완료되었습니다",
            Screen::Result { .. } => "거래가 거절되었습니다",
        }
    }
}

/// One approval or cancel in the terminal's own ledger (card, easy pay, cash receipt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    #[serde(serialize_with = "kind_name")]
    pub kind: TransactionKind,
    /// This entry is a cancel (of the approval with the same approval and transaction numbers).
    pub is_cancel: bool,
    pub ptxid: String,
    pub approval_no: String,
    pub transaction_no: String,
    /// `YYYYMMDDhhmmss`, KST.
    pub transaction_date: String,
    pub amount: i64,
    pub issuer_code: String,
    /// For an approval: a cancel of it has been made since.
    pub cancelled: bool,
}

fn kind_name<S: serde::Serializer>(k: &TransactionKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match k {
        TransactionKind::Card => "card",
        TransactionKind::EasyPay => "easy_pay",
        TransactionKind::CashReceipt => "cash_receipt",
    })
}

/// The last finished transaction, as 990001 reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastTransaction {
    /// The type of the request it answered (010010, …).
    pub message_type: MessageType,
    pub ptxid: String,
    /// The final answer as sent (or as it would have been sent).
    pub reply: Reply<TransactionData>,
    /// A 980001 arrived after it.
    pub confirmed: bool,
}

/// Which way a logged message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Received,
    Sent,
}

/// One entry of the simulator's message record, in the order things happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogEntry {
    /// Position in the record, from 1.
    pub seq: u64,
    /// Which POS connection (numbered from 1).
    pub connection: u64,
    pub direction: Direction,
    /// Six digits; `None` for a received frame the codec refused, or a broken frame sent by the `garbage` knob.
    pub message_type: Option<String>,
    pub ptxid: Option<String>,
    /// Of a sent answer.
    pub result_code: Option<String>,
    /// What went wrong, for frames the codec refused and for requests not understood.
    pub error: Option<String>,
}

/// Shared state of the simulator: the machine behind the TCP side and the `/terminal` page. Cheap to clone.
#[derive(Clone)]
pub struct TerminalState {
    inner: Arc<Shared>,
}

struct Shared {
    config: TerminalConfig,
    machine: Mutex<Machine>,
    shutdown: watch::Sender<bool>,
}

impl TerminalState {
    fn new(config: TerminalConfig) -> TerminalState {
        let (shutdown, _) = watch::channel(false);
        TerminalState {
            inner: Arc::new(Shared {
                machine: Mutex::new(Machine::new(config.faults)),
                config,
                shutdown,
            }),
        }
    }

    pub fn config(&self) -> &TerminalConfig {
        &self.inner.config
    }

    pub fn faults(&self) -> TerminalFaults {
        lock(&self.inner.machine).faults
    }

    /// Change the knobs in one step and return the new set.
    pub fn update_faults(&self, change: impl FnOnce(&mut TerminalFaults)) -> TerminalFaults {
        let updated = {
            let mut m = lock(&self.inner.machine);
            change(&mut m.faults);
            m.faults
        };
        tracing::info!(?updated, "terminal faults set");
        updated
    }

    pub fn screen(&self) -> Screen {
        lock(&self.inner.machine).screen.clone()
    }

    /// Every message received and sent, in order.
    pub fn log(&self) -> Vec<LogEntry> {
        lock(&self.inner.machine).log.clone()
    }

    /// The types of the messages received, in order (`None` for frames the codec refused).
    pub fn received(&self) -> Vec<Option<String>> {
        self.log()
            .into_iter()
            .filter(|e| e.direction == Direction::Received)
            .map(|e| e.message_type)
            .collect()
    }

    pub fn ledger(&self) -> Vec<LedgerEntry> {
        lock(&self.inner.machine).ledger.clone()
    }

    pub fn last_transaction(&self) -> Option<LastTransaction> {
        lock(&self.inner.machine).last.clone()
    }

    /// Whether a POS is connected now.
    pub fn connected(&self) -> bool {
        lock(&self.inner.machine).connection.is_some()
    }

    /// The person inserts the card (or shows the QR code): `false` when no transaction waits for one.
    pub fn insert_card(&self) -> bool {
        machine::insert_card(self, None)
    }

    /// The person signs: `false` when no signature is awaited.
    pub fn sign(&self) -> bool {
        machine::sign(self, None)
    }

    /// The card company (or the person) declines the open transaction: `false` when none is open.
    pub fn decline(&self) -> bool {
        machine::decline(self)
    }

    fn stop(&self) {
        self.inner.shutdown.send_replace(true);
    }

    async fn stopping(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// A running simulator on its own TCP port.
pub struct TerminalSimulator {
    addr: SocketAddr,
    state: TerminalState,
    accept: Option<JoinHandle<()>>,
}

impl TerminalSimulator {
    /// Bind `config.bind` and accept POS connections.
    pub async fn start(config: TerminalConfig) -> anyhow::Result<TerminalSimulator> {
        let listener = TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let state = TerminalState::new(config);
        let accept = tokio::spawn(machine::accept_loop(listener, state.clone()));
        tracing::info!(%addr, "terminal simulator listening");
        Ok(TerminalSimulator {
            addr,
            state,
            accept: Some(accept),
        })
    }

    /// Where the POS connects.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn state(&self) -> &TerminalState {
        &self.state
    }

    /// Stop accepting and close the connection.
    pub async fn shutdown(mut self) {
        self.state.stop();
        if let Some(accept) = self.accept.take() {
            let abort = accept.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), accept)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for TerminalSimulator {
    fn drop(&mut self) {
        self.state.stop();
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }
}

/// The result code as the log shows it.
fn code_text(code: &ResultCode) -> String {
    code.as_str().to_string()
}
