//! `smartro-gateway demo`: a first look in one command. The gateway runs against the sandbox (a Smartro stand-in,
//! in-process) on an embedded PostgreSQL, and a small demo shop shows what a merchant's backend does with the API:
//! create an order, send the buyer to the checkout page, show the result, cancel, look up the receipt. The sandbox
//! also plays an in-store card terminal (on its own TCP port, its screen at the sandbox's `/terminal`), which the
//! gateway drives as its POS under the id [`DEMO_TERMINAL_ID`]; the shop's counter page rings sales up on it.
//!
//! The shop runs on its own port because the gateway's router is built inside [`Gateway::start`]; it talks to the
//! gateway only over HTTP with the API key, exactly as a real shop would.

mod counter;
mod shop;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sandbox::terminal::TerminalConfig;
use sandbox::{AutoDecision, Merchant, Sandbox, SandboxConfig};
use secrecy::{ExposeSecret, SecretString};
use smartro::endpoints::Endpoints;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{self, Gateway};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{Settings, TerminalSettings};
use shop::{shop_router, Shop};

/// The `[[terminals]]` id of the simulated card terminal the demo configures.
pub const DEMO_TERMINAL_ID: &str = "counter-1";

/// The console operator the demo signs in as, when the configuration names none.
pub const DEMO_OPERATOR: &str = "admin";

/// Where the demo's three servers (and the simulated terminal) listen. Port 0 picks a free port.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// The interface all three bind to; the printed URLs use it too.
    pub host: IpAddr,
    pub gateway_port: u16,
    pub sandbox_port: u16,
    pub shop_port: u16,
    /// The simulated card terminal's TCP port (where the gateway connects as its POS).
    pub terminal_port: u16,
    /// `None`: the sandbox shows its payment window and a person decides; the terminal likewise waits for a
    /// person on its `/terminal` screen.
    pub auto: Option<AutoDecision>,
    /// Wait between two deliveries of the same sandbox notification.
    pub notify_interval: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            gateway_port: 8080,
            sandbox_port: 9090,
            shop_port: 8081,
            terminal_port: 9091,
            auto: None,
            notify_interval: Duration::from_secs(2),
        }
    }
}

impl DemoOptions {
    /// Every server on a free port of 127.0.0.1 (tests).
    pub fn ephemeral() -> DemoOptions {
        DemoOptions {
            gateway_port: 0,
            sandbox_port: 0,
            shop_port: 0,
            terminal_port: 0,
            notify_interval: Duration::from_millis(200),
            ..DemoOptions::default()
        }
    }
}

/// The running demo: the gateway, the sandbox and the shop. Stop it with [`DemoHandle::shutdown`].
pub struct DemoHandle {
    pub gateway: Gateway,
    pub sandbox: Sandbox,
    /// The settings the gateway runs with (endpoints pointed at the sandbox).
    pub settings: Arc<Settings>,
    pub shop_addr: SocketAddr,
    stop_shop: watch::Sender<bool>,
    shop: JoinHandle<std::io::Result<()>>,
    /// Expiry, reconciliation (and webhooks, if configured) run in the demo as in `serve`.
    workers: crate::workers::Workers,
    /// The password of [`DEMO_OPERATOR`], made up for this run; `None` when the configuration has operators.
    pub console_password: Option<String>,
}

impl DemoHandle {
    pub fn gateway_url(&self) -> String {
        self.settings.server.public_url.clone()
    }

    pub fn sandbox_url(&self) -> String {
        self.sandbox.url()
    }

    pub fn shop_url(&self) -> String {
        format!("http://{}", self.shop_addr)
    }

    /// The shop's counter (POS) page, where sales are rung up on the simulated terminal.
    pub fn counter_url(&self) -> String {
        format!("http://{}/counter", self.shop_addr)
    }

    /// The simulated terminal's screen, where a person inserts the card and signs.
    pub fn terminal_screen_url(&self) -> String {
        format!("{}/terminal", self.sandbox.url())
    }

    /// The Bearer token the shop uses against the gateway's API.
    pub fn api_key(&self) -> &SecretString {
        &self.settings.api.secret_keys[0]
    }

    /// Stops the shop, then the gateway (in-flight requests finish), then the sandbox.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop_shop.send(true);
        let shop = self.shop.await;
        let gateway = self.gateway.shutdown().await;
        self.workers.stop().await;
        self.sandbox.shutdown().await;
        shop.context("demo shop task")?
            .context("demo shop server")?;
        gateway
    }
}

/// `settings` with the gateway on `gateway_addr`, every Smartro endpoint pointed at the sandbox and, when the
/// sandbox runs a terminal simulator at `terminal`, that one as the only terminal: the demo never drives the
/// shop's real terminals, as it never calls Smartro's real servers.
pub fn demo_settings(
    mut settings: Settings,
    gateway_addr: SocketAddr,
    sandbox: &Endpoints,
    terminal: Option<SocketAddr>,
) -> Settings {
    settings.server.bind = gateway_addr;
    settings.server.public_url = format!("http://{gateway_addr}");
    settings.smartro.pay_url = Some(sandbox.pay_url.clone());
    settings.smartro.cancel_url = Some(sandbox.cancel_url.clone());
    settings.smartro.receipt_api_url = Some(sandbox.receipt_api_url.clone());
    settings.smartro.receipt_page_url = Some(sandbox.receipt_page_url.clone());
    settings.terminals = terminal
        .map(|addr| TerminalSettings {
            id: DEMO_TERMINAL_ID.to_string(),
            address: addr.to_string(),
            mid: None,
            // The config's default: card reading plus the terminal's 30-second signature wait.
            timeout_secs: 90,
            print_receipt: false,
        })
        .into_iter()
        .collect();
    settings
}

/// The sandbox knows the gateway's merchants, so whatever keys the configuration holds, signatures verify.
fn sandbox_config(settings: &Settings, opts: &DemoOptions) -> SandboxConfig {
    SandboxConfig {
        bind: SocketAddr::new(opts.host, opts.sandbox_port),
        public_url: None,
        merchants: settings
            .merchants
            .iter()
            .map(|m| {
                Merchant::new(
                    m.mid.clone(),
                    m.merchant_key.expose_secret(),
                    m.cancel_password.expose_secret(),
                )
            })
            .collect(),
        auto: opts.auto,
        notify_interval: opts.notify_interval,
        terminal: Some(TerminalConfig {
            bind: SocketAddr::new(opts.host, opts.terminal_port),
            // Like the payment window: a person taps through the terminal's screen unless the demo decides.
            auto: opts.auto,
            ..TerminalConfig::default()
        }),
        ..SandboxConfig::default()
    }
}

/// Starts the sandbox, the gateway (on an already migrated `pool`) and the demo shop.
pub async fn start_demo(
    settings: Settings,
    pool: PgPool,
    clock: SharedClock,
    opts: &DemoOptions,
) -> anyhow::Result<DemoHandle> {
    let sandbox = Sandbox::start(sandbox_config(&settings, opts))
        .await
        .with_context(|| {
            format!(
                "starting the sandbox on {}:{}",
                opts.host, opts.sandbox_port
            )
        })?;
    // Bound first, so that public_url can name the port even when port 0 picked it.
    let gateway_listener =
        tokio::net::TcpListener::bind(SocketAddr::new(opts.host, opts.gateway_port))
            .await
            .with_context(|| {
                format!(
                    "could not bind the gateway on {}:{}",
                    opts.host, opts.gateway_port
                )
            })?;
    let gateway_addr = gateway_listener.local_addr()?;
    let mut settings = demo_settings(
        settings,
        gateway_addr,
        &sandbox.endpoints(),
        sandbox.terminal_addr(),
    );
    let console_password = demo_operator(&mut settings)?;
    let settings = Arc::new(settings);
    let gateway = Gateway::start_on(gateway_listener, settings.clone(), pool, clock).await?;

    let listener = tokio::net::TcpListener::bind(SocketAddr::new(opts.host, opts.shop_port))
        .await
        .with_context(|| {
            format!(
                "could not bind the demo shop on {}:{}",
                opts.host, opts.shop_port
            )
        })?;
    let shop_addr = listener.local_addr()?;
    // The shop offers escrow when one of the gateway's merchants takes it (the test merchant ECTEST001m does).
    let escrow_mid = settings
        .merchants
        .iter()
        .find(|m| m.escrow != crate::config::EscrowPolicy::Off)
        .map(|m| m.mid.clone());
    let shop = Shop::new(
        settings.server.public_url.clone(),
        settings.api.secret_keys[0].clone(),
        format!("http://{shop_addr}"),
        escrow_mid,
        sandbox.endpoints().vbank_deposit_url,
        sandbox.terminal_addr().map(|_| {
            (
                DEMO_TERMINAL_ID.to_string(),
                format!("{}/terminal", sandbox.url()),
            )
        }),
    )?;
    let (stop_shop, mut stopped) = watch::channel(false);
    let app = shop_router(shop);
    let shop = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            })
            .await
    });
    let workers = crate::workers::Workers::spawn(&gateway.services)?;
    Ok(DemoHandle {
        gateway,
        sandbox,
        settings,
        shop_addr,
        stop_shop,
        shop,
        workers,
        console_password,
    })
}

/// So that the console can be tried: an operator [`DEMO_OPERATOR`] with a random password for this run, unless
/// the configuration has operators of its own.
fn demo_operator(settings: &mut Settings) -> anyhow::Result<Option<String>> {
    use rand::Rng;
    if !settings.console.operators.is_empty() {
        return Ok(None);
    }
    let password: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(12)
        .map(char::from)
        .collect();
    let hash = crate::console::password::hash_password(&password)
        .map_err(|e| anyhow::anyhow!("hashing the demo operator's password: {e}"))?;
    settings
        .console
        .operators
        .push(crate::config::OperatorSettings {
            name: DEMO_OPERATOR.to_string(),
            password_hash: SecretString::from(hash),
        });
    Ok(Some(password))
}

/// The `demo` command: embedded PostgreSQL under `database.data_dir`, everything else in this process, until
/// Ctrl-C or SIGTERM.
pub async fn run(mut settings: Settings, opts: DemoOptions) -> anyhow::Result<()> {
    if settings.database.url.take().is_some() {
        // The demo creates throwaway orders; they never belong in a real database.
        tracing::warn!(
            "demo: database.url is ignored; using the embedded PostgreSQL under database.data_dir"
        );
    }
    let db = app::open_database(&settings).await?;
    let started = async {
        app::migrate(db.pool()).await?;
        start_demo(settings, db.pool().clone(), Arc::new(SystemClock), &opts).await
    }
    .await;
    let result = match started {
        Ok(demo) => {
            println!();
            println!("  Demo shop: {}/", demo.shop_url());
            println!(
                "  (gateway {}, sandbox {}, API key of config api.secret_keys[0])",
                demo.gateway_url(),
                demo.sandbox_url()
            );
            if let Some(password) = &demo.console_password {
                println!(
                    "  Operator console (운영 콘솔): {}/console  name \"{DEMO_OPERATOR}\", password \"{password}\" (this run only)",
                    demo.gateway_url()
                );
            }
            if let Some(addr) = demo.sandbox.terminal_addr() {
                println!(
                    "  Counter (카운터 / POS): {}  rings sales up on terminal \"{DEMO_TERMINAL_ID}\"",
                    demo.counter_url()
                );
                println!(
                    "  Terminal screen (결제단말기): {}  (simulated terminal on TCP {addr})",
                    demo.terminal_screen_url()
                );
                if opts.auto.is_none() {
                    println!(
                        "  There, press 카드 넣기 (insert card), and 서명 (sign) when it asks."
                    );
                }
                println!("  To have cards ask for a signature (or be declined: \"decline\"):");
                println!(
                    "    curl -s {}/terminal/faults -H 'content-type: application/json' -d '{{\"signature\": true}}'",
                    demo.sandbox_url()
                );
            }
            match opts.auto {
                Some(AutoDecision::Approve) => println!("  The sandbox approves every payment at once."),
                Some(AutoDecision::Decline) => println!("  The sandbox declines every payment at once."),
                None => println!("  The sandbox shows its payment window: press 승인 (approve) or 취소 (decline)."),
            }
            println!(
                "  Every result is confirmed with the sandbox's receipt API before it counts. To watch a payment wait"
            );
            println!("  for confirmation (\"결제 확인 중\"), take that API down, pay, then bring it back:");
            println!(
                "    curl -s {}/sandbox/faults -H 'content-type: application/json' -d '{{\"receipt_api_down\": true}}'",
                demo.sandbox_url()
            );
            println!("  Ctrl-C stops everything.");
            println!();
            app::shutdown_signal().await;
            tracing::info!("demo: shutting down");
            demo.shutdown().await
        }
        Err(e) => Err(e),
    };
    db.pool().close().await;
    if let app::Database::Embedded(_, pg) = db {
        pg.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_settings_point_smartro_at_the_sandbox() {
        let settings = match Settings::load_from(None, &[]) {
            Ok(s) => s,
            Err(e) => panic!("default settings: {e}"),
        };
        let endpoints = sandbox::endpoints_for("http://127.0.0.1:9999");
        let addr = SocketAddr::from(([127, 0, 0, 1], 18080));
        let terminal = SocketAddr::from(([127, 0, 0, 1], 19091));
        let demo = demo_settings(settings, addr, &endpoints, Some(terminal));
        assert_eq!(demo.server.public_url, "http://127.0.0.1:18080");
        assert_eq!(demo.terminals.len(), 1, "only the simulated terminal");
        assert_eq!(demo.terminals[0].id, DEMO_TERMINAL_ID);
        assert_eq!(demo.terminals[0].address, "127.0.0.1:19091");
        let effective = demo.smartro.endpoints();
        assert_eq!(effective.pay_url, "http://127.0.0.1:9999/interfaceURL.jsp");
        assert_eq!(
            effective.cancel_url,
            "http://127.0.0.1:9999/cancel/payCancelNVProcess.jsp"
        );
        assert_eq!(effective.receipt_api_url, "http://127.0.0.1:9999/receipt");
        assert_eq!(
            effective.receipt_page_url,
            "http://127.0.0.1:9999/issue/IssueLoader.jsp"
        );
    }

    #[test]
    fn the_sandbox_knows_the_configured_merchants() {
        let settings = match Settings::load_from(None, &[]) {
            Ok(s) => s,
            Err(e) => panic!("default settings: {e}"),
        };
        let config = sandbox_config(&settings, &DemoOptions::ephemeral());
        assert_eq!(config.merchants.len(), settings.merchants.len());
        for (m, s) in config.merchants.iter().zip(&settings.merchants) {
            assert_eq!(m.mid, s.mid);
            assert_eq!(m.merchant_key, s.merchant_key.expose_secret());
        }
    }
}
