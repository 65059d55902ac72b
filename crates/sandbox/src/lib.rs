//! smartro-sandbox: a local stand-in for Smartro's servers (payment window, cancel, receipt API, vbank deposit,
//! notification daemon), built only on the `smartro` crate's message types so that both sides of the wire share
//! one definition.
//!
//! In-process use (tests, the gateway's demo):
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sandbox = sandbox::Sandbox::start(sandbox::SandboxConfig::default()).await?;
//! let endpoints = sandbox.endpoints(); // point the gateway's Smartro URLs here
//! # let _ = endpoints;
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```
//! Or mount [`router`] on a server of your own with a [`SandboxState`].
//!
//! Besides Smartro's own endpoints the sandbox has a control surface for tests, scripts and the demo (it is a
//! test tool: no authentication):
//! - `GET /sandbox/faults` → `{"receipt_api_down": false, "receipt_delay_ms": 0}`, the fault knobs that can
//!   change while it runs; `POST /sandbox/faults` with any of those fields (e.g. `{"receipt_api_down": true}`)
//!   changes them and answers `200` with the new state; an unknown field or a bad value → `400`
//!   `{"error": "..."}` and nothing changes. In process: [`SandboxState::runtime_faults`],
//!   [`SandboxState::set_receipt_api_down`], [`SandboxState::set_receipt_delay`].
//! - `POST /sandbox/transactions` with `{"mid", "moid", "amt", "pay_method"?, "goods_name"?, "buyer_name"?}` →
//!   `201` with the approved transaction (`tid`, `auth_date`, `auth_code`, `result_code`, …), recorded as a
//!   payment-window approval would be but with no returnPay and no notification: for load generators that send
//!   their own signed messages. Bad input → `400` `{"error": "...", "field": "..."}`. In process:
//!   [`SandboxState::create_transaction`].
//!
//! With [`SandboxConfig::terminal`] (`--terminal ADDR`) the sandbox also plays Smartro's in-store card
//! terminal on its own TCP port, its screen and buttons at `/terminal` and its knobs at `/terminal/faults`; see
//! [`terminal`] for how it answers, and [`terminal::TerminalSimulator`] to run one alone in a test.
//!
//! What the merchant can ask of the window beyond a plain payment, and what the sandbox answers:
//! - Escrow (`EscrowCD=1` with the Delivery*/Receiver*/Seller* fields): shown in the window and kept on the
//!   transaction ([`TransactionSnapshot::escrow`]); only the merchants of [`SandboxConfig::escrow_mids`] may send
//!   it (default: the escrow test merchant ECTEST001m), any other gets error page `S009`.
//! - Sub-mall split settlement (`Productinfo=padj` + DivideInfo): the protocol crate checks the form and the sum;
//!   every sub-mall must be registered under the merchant in [`SandboxConfig::sub_malls`] (default: SMTSUB001m →
//!   SMTSUB002m..SMTSUB004m), else error page `S010`. Shown in the window, kept per sub-mall
//!   ([`TransactionSnapshot::split`]). A partial cancel of it must carry DivideInfo summing to CancelAmt and
//!   naming only its sub-malls, none beyond what it has left: else 2030 (no DivideInfo), 2011 (sum), 2041 (a
//!   sub-mall not in the payment, or DivideInfo on a payment without a split), 2032 (over a sub-mall's
//!   remainder), 2010 (an entry of 0 or less). `MerchantMode=T` is accepted; another value answers 2002.
//! - `fn_cd` + `CardQuota`: the merchant fixes the card company and instalment; the window shows them and offers
//!   no other (a CardQuota outside 00, 02–12 is refused with `S002`).
//! - Cash receipts (KAKAO or TOSS with `ReceiptType=Y`): the buyer picks income deduction (default, and `--auto`'s
//!   choice, to the buyer's phone number) or expense proof. The approval's notification and every later one of
//!   the payment carry `ReceiptType` (1 or 2) and `RcptAppNo`; a second notification follows with ResultCode
//!   7001, the payment's TID, StateCd 0 and the same fields; cancel notifications add `RcptCcNo`. The returnPay
//!   has no cash-receipt fields (manual §3.2 has none). The receipt API fills `cashReceiptReqCl` (1),
//!   `cashReceiptTid`, `cashReceiptType` and `cashReceiptNo` (masked); the receipt page `type=2` shows it.
//! - CLGIFT (culture gift card): approved with [`SandboxConfig::clgift_success_code`] (default `0000`, the
//!   sandbox's own: no document gives one) and ResultMsg 문화상품권 결제 성공; declined with 3002.
//! - TOSS cancels answer `TS20` (결제환불 성공), and their notifications carry TS20; a partial cancel over what
//!   is left answers `TS22` (토스 부분취소 불가 금액).

pub mod browser;
mod cancel;
pub mod config;
mod control;
mod direct;
mod html;
mod messages;
mod notify;
mod pages;
mod pay;
mod receipt;
mod split;
mod store;
pub mod terminal;
mod window;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use chrono::{Timelike, Utc};
use smartro::endpoints::Endpoints;
use smartro::notification::Notification;
use smartro::types::{generate_tid, kst_naive, PayMethod};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

pub use config::{
    AutoDecision, ConfigError, Faults, FileConfig, Merchant, SandboxConfig, SubMalls,
};
pub use direct::{NewTransaction, NewTransactionError};
pub use notify::DeliverySnapshot;
pub use store::{CancelRecord, CashReceipt, SubMallShare, TransactionSnapshot, TxStatus};

use notify::Notifier;
use store::Store;

/// A lock that survives a panicked holder: the book stays usable (every mutation is a single step).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The fault knobs that can change while the sandbox runs (the rest of [`Faults`] is fixed at start). They start
/// from the config's [`Faults`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeFaults {
    /// See [`Faults::receipt_api_down`].
    pub receipt_api_down: bool,
    /// See [`Faults::receipt_delay`].
    pub receipt_delay: Duration,
}

/// Shared state of the sandbox's handlers. Cheap to clone.
#[derive(Clone)]
pub struct SandboxState {
    inner: Arc<Inner>,
}

struct Inner {
    config: SandboxConfig,
    public_url: String,
    store: Mutex<Store>,
    sessions: Mutex<HashMap<String, pay::Pending>>,
    notifier: Notifier,
    /// Where this sandbox starts numbering TIDs within a second, so that two runs in one second differ.
    tid_offset: u32,
    shutdown: watch::Sender<bool>,
    runtime_faults: Mutex<RuntimeFaults>,
    /// The card-terminal simulator, when [`SandboxConfig::terminal`] asked for one: its page and control
    /// surface live on this router.
    terminal: Option<terminal::TerminalState>,
}

impl SandboxState {
    /// Validate `config` and start the notification daemon on the current tokio runtime. `public_url` is the
    /// base URL the browser sees for this router (no trailing slash needed).
    pub fn new(
        config: SandboxConfig,
        public_url: impl Into<String>,
    ) -> anyhow::Result<SandboxState> {
        SandboxState::with_terminal(config, public_url, None)
    }

    /// As [`SandboxState::new`], with a running terminal simulator whose `/terminal` page and control surface
    /// [`router`] serves.
    pub fn with_terminal(
        config: SandboxConfig,
        public_url: impl Into<String>,
        terminal: Option<terminal::TerminalState>,
    ) -> anyhow::Result<SandboxState> {
        config.validate()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let notifier = Notifier::spawn(
            config.notify_interval,
            config.notify_max_attempts,
            &config.faults,
            shutdown_rx,
        )?;
        let public_url = public_url.into().trim_end_matches('/').to_string();
        let runtime_faults = RuntimeFaults {
            receipt_api_down: config.faults.receipt_api_down,
            receipt_delay: config.faults.receipt_delay,
        };
        Ok(SandboxState {
            inner: Arc::new(Inner {
                runtime_faults: Mutex::new(runtime_faults),
                config,
                public_url,
                store: Mutex::new(Store::default()),
                sessions: Mutex::new(HashMap::new()),
                notifier,
                tid_offset: rand::random::<u32>() % 10_000,
                shutdown,
                terminal,
            }),
        })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    pub fn public_url(&self) -> &str {
        &self.inner.public_url
    }

    /// The terminal simulator's state, when one runs.
    pub fn terminal(&self) -> Option<&terminal::TerminalState> {
        self.inner.terminal.as_ref()
    }

    /// Every transaction, in creation order.
    pub fn transactions(&self) -> Vec<TransactionSnapshot> {
        lock(&self.inner.store).all()
    }

    pub fn transaction(&self, tid: &str) -> Option<TransactionSnapshot> {
        lock(&self.inner.store).get(tid).cloned()
    }

    /// Every notification queued so far with its delivery record, in queueing order.
    pub fn notifications(&self) -> Vec<DeliverySnapshot> {
        self.inner.notifier.snapshot()
    }

    /// The run-time fault knobs as they stand now.
    pub fn runtime_faults(&self) -> RuntimeFaults {
        *lock(&self.inner.runtime_faults)
    }

    /// Take the receipt API down (`true`: every request answers 503) or bring it back.
    pub fn set_receipt_api_down(&self, down: bool) {
        self.update_runtime_faults(|f| f.receipt_api_down = down);
    }

    /// How long a transaction or cancel stays out of the receipt API after it was made. Applies at once to
    /// every transaction, old ones included: the delay is measured from each one's recording.
    pub fn set_receipt_delay(&self, delay: Duration) {
        self.update_runtime_faults(|f| f.receipt_delay = delay);
    }

    /// Change the run-time knobs in one step (so that concurrent partial updates do not undo each other) and
    /// return the new state.
    pub(crate) fn update_runtime_faults(
        &self,
        change: impl FnOnce(&mut RuntimeFaults),
    ) -> RuntimeFaults {
        let updated = {
            let mut faults = lock(&self.inner.runtime_faults);
            change(&mut faults);
            *faults
        };
        tracing::info!(
            receipt_api_down = updated.receipt_api_down,
            receipt_delay_ms = control::millis(updated.receipt_delay),
            "run-time faults set"
        );
        updated
    }

    /// Record an approved payment without the payment window: the book entry, TID and receipt record are those
    /// of a window approval, but no returnPay page is made and nothing is notified, now or on a later cancel
    /// (the caller sends its own signed messages). Cancellable like any other payment.
    pub fn create_transaction(
        &self,
        new: NewTransaction,
    ) -> Result<TransactionSnapshot, NewTransactionError> {
        direct::approve_direct(self, new)
    }

    /// Stop the notification daemon and release requests held by `cancel_no_answer`.
    pub fn stop(&self) {
        self.inner.shutdown.send_replace(true);
    }

    fn merchant(&self, mid: &str) -> Option<&Merchant> {
        self.inner.config.merchant(mid)
    }

    /// A TID no other transaction or partial cancel has, reserved at once.
    ///
    /// A TID holds its second and a four-digit number, so one second has room for 10 000. Once the numbers of
    /// a second are used up (a load generator can ask for more), the next second is borrowed: TIDs then run
    /// slightly ahead of the clock instead of the search going round forever.
    fn new_tid(&self, store: &mut Store, mid: &str, method: &PayMethod) -> String {
        let now = kst_naive(Utc::now())
            .with_nanosecond(0)
            .unwrap_or_else(|| kst_naive(Utc::now()));
        let (mut at, mut used) = match store.tid_second() {
            Some((last, used)) if last >= now => (last, used),
            _ => (now, 0),
        };
        loop {
            if used >= 10_000 {
                at += chrono::Duration::seconds(1);
                used = 0;
            }
            // The sandbox's random offset keeps two runs within one second apart; below 10 000, so a u16.
            let seq = (self.inner.tid_offset + used) % 10_000;
            used += 1;
            let tid = generate_tid(mid, method, at, seq as u16);
            if !store.tid_in_use(&tid) {
                store.reserve_tid(&tid);
                store.set_tid_second(at, used);
                return tid;
            }
        }
    }

    /// Queue `notification` for the transaction's RetryURL. A transaction made by
    /// [`SandboxState::create_transaction`] has none (its caller sends its own messages): nothing is queued.
    fn notify(&self, tx: &TransactionSnapshot, notification: Notification) {
        if tx.retry_url.is_empty() {
            tracing::info!(tid = %notification.tid, "no RetryURL (direct transaction): not notified");
            return;
        }
        self.inner.notifier.enqueue(&tx.retry_url, notification);
    }

    /// Resolves when the sandbox is shutting down.
    async fn shutting_down(&self) {
        let mut rx = self.inner.shutdown.subscribe();
        // An error means the sender is gone, which is a shutdown as well.
        let _ = rx.wait_for(|stopping| *stopping).await;
    }
}

/// All of the sandbox's routes.
pub fn router(state: SandboxState) -> Router {
    let terminal = state.terminal().cloned();
    let router = Router::new()
        .route("/", get(pages::index))
        .route("/interfaceURL.jsp", post(pay::interface))
        .route("/sandbox/decide", post(pay::decide))
        .route(
            "/sandbox/faults",
            get(control::get_faults).post(control::set_faults),
        )
        .route("/sandbox/transactions", post(control::create_transaction))
        .route("/cancel/payCancelNVProcess.jsp", post(cancel::cancel))
        .route("/receipt", post(receipt::receipt_api))
        .route("/issue/IssueLoader.jsp", get(receipt::receipt_page))
        .route(
            "/payTest/vbank_deposit_notice.jsp",
            get(pages::deposit_form).post(pages::deposit),
        )
        .with_state(state);
    match terminal {
        Some(t) => router.merge(terminal::web::routes(t)),
        None => router,
    }
}

/// A running sandbox on its own port.
pub struct Sandbox {
    pub addr: SocketAddr,
    state: SandboxState,
    terminal: Option<terminal::TerminalSimulator>,
    stop_server: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Bind `config.bind` (port 0: any free port), start the daemon and serve.
    pub async fn start(config: SandboxConfig) -> anyhow::Result<Sandbox> {
        config.validate()?;
        let listener = tokio::net::TcpListener::bind(config.bind).await?;
        let addr = listener.local_addr()?;
        let public_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let terminal = match &config.terminal {
            Some(t) => Some(terminal::TerminalSimulator::start(t.clone()).await?),
            None => None,
        };
        let state = SandboxState::with_terminal(
            config,
            public_url,
            terminal.as_ref().map(|t| t.state().clone()),
        )?;
        let app = router(state.clone());
        let (stop_server, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "sandbox server stopped");
            }
        });
        tracing::info!(%addr, url = %state.public_url(), "smartro-sandbox listening");
        if let Some(t) = &terminal {
            tracing::info!(terminal = %t.addr(), "terminal simulator on");
        }
        Ok(Sandbox {
            addr,
            state,
            terminal,
            stop_server: Some(stop_server),
            server: Some(server),
        })
    }

    /// The base URL the browser sees.
    pub fn url(&self) -> String {
        self.state.public_url().to_string()
    }

    pub fn endpoints(&self) -> Endpoints {
        endpoints_for(self.state.public_url())
    }

    pub fn state(&self) -> &SandboxState {
        &self.state
    }

    /// The terminal simulator's TCP address (where a POS connects), when one runs.
    pub fn terminal_addr(&self) -> Option<SocketAddr> {
        self.terminal.as_ref().map(|t| t.addr())
    }

    /// The terminal simulator, when one runs.
    pub fn terminal(&self) -> Option<&terminal::TerminalSimulator> {
        self.terminal.as_ref()
    }

    pub fn transactions(&self) -> Vec<TransactionSnapshot> {
        self.state.transactions()
    }

    pub fn notifications(&self) -> Vec<DeliverySnapshot> {
        self.state.notifications()
    }

    /// Stop serving (in-flight requests get up to 5 s) and stop the daemon.
    pub async fn shutdown(mut self) {
        self.state.stop();
        if let Some(t) = self.terminal.take() {
            t.shutdown().await;
        }
        if let Some(stop) = self.stop_server.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(Duration::from_secs(5), server)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.state.stop();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The endpoint set of a sandbox whose browser-facing base URL is `base`.
pub fn endpoints_for(base: &str) -> Endpoints {
    let base = base.trim_end_matches('/');
    Endpoints {
        pay_url: format!("{base}/interfaceURL.jsp"),
        cancel_url: format!("{base}/cancel/payCancelNVProcess.jsp"),
        receipt_api_url: format!("{base}/receipt"),
        receipt_page_url: format!("{base}/issue/IssueLoader.jsp"),
        vbank_deposit_url: Some(format!("{base}/payTest/vbank_deposit_notice.jsp")),
    }
}
