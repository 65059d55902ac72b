//! smartro-sandbox: a local stand-in for Smartro's servers.
//!
//! It stops gracefully on SIGTERM (`docker stop`) and SIGINT (Ctrl-C): the notification daemon stops, in-flight
//! requests finish, and the process exits 0. The control endpoints (`/sandbox/faults`, `/sandbox/transactions`)
//! are described in `--help` and in the library's documentation.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sandbox::terminal::{TerminalConfig, TerminalFaults};
use sandbox::{AutoDecision, Sandbox, SandboxConfig};

#[derive(Debug, Parser)]
#[command(
    name = "smartro-sandbox",
    version,
    about = "A local stand-in for Smartro's servers (payment window, cancel, receipt API, notifications)",
    after_help = CONTROL_HELP
)]
struct Cli {
    #[command(subcommand)]
    command: Option<SandboxCommand>,
    /// Address to listen on [default: 127.0.0.1:9090].
    #[arg(long, env = "SANDBOX_BIND")]
    bind: Option<SocketAddr>,
    /// TOML file; flags override it.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Base URL the browser sees [default: http://{bind}].
    #[arg(long, env = "SANDBOX_PUBLIC_URL")]
    public_url: Option<String>,
    /// Decide every payment at once (approve | decline) instead of showing the payment window.
    #[arg(long, value_parser = parse_auto)]
    auto: Option<AutoDecision>,
    /// Seconds between two deliveries of the same notification [default: 2].
    #[arg(long)]
    notify_interval_secs: Option<u64>,
    /// Milliseconds between two deliveries (overrides --notify-interval-secs).
    #[arg(long)]
    notify_interval_ms: Option<u64>,
    /// Deliveries of one notification before giving up [default: 10].
    #[arg(long)]
    notify_max_attempts: Option<u32>,
    /// Share (0.0-1.0) of notification deliveries silently dropped (retried later).
    #[arg(long)]
    drop_ratio: Option<f64>,
    /// Share (0.0-1.0) of notification deliveries sent twice.
    #[arg(long)]
    duplicate_ratio: Option<f64>,
    /// Milliseconds added before every cancel answer.
    #[arg(long)]
    cancel_latency_ms: Option<u64>,
    /// Apply cancels but never answer them (the client times out).
    #[arg(long)]
    cancel_no_answer: bool,
    /// Milliseconds before the first delivery of each notification.
    #[arg(long)]
    notify_delay_ms: Option<u64>,
    /// Start with the receipt API down: it answers every request 503 (changeable at run time: POST
    /// /sandbox/faults).
    #[arg(long)]
    receipt_api_down: bool,
    /// Milliseconds after which a transaction or cancel shows in the receipt API; before that it answers 404 no
    /// record (changeable at run time: POST /sandbox/faults).
    #[arg(long)]
    receipt_delay_ms: Option<u64>,
    /// ResultCode of an approved CLGIFT (culture gift card) payment, 4 letters or digits [default: 0000]. No
    /// Smartro document gives one; the default is the sandbox's own.
    #[arg(long)]
    clgift_success_code: Option<String>,
    /// Also run the card-terminal simulator, listening for the POS on this TCP address (its page: /terminal).
    #[arg(long, env = "SANDBOX_TERMINAL")]
    terminal: Option<SocketAddr>,
    /// The terminal inserts the card (and signs) by itself: approve | decline [default: --auto, else wait for
    /// the /terminal page].
    #[arg(long, value_parser = parse_auto)]
    terminal_auto: Option<AutoDecision>,
    /// Terminal fault knobs on at start, comma-separated: decline, signature, signature_timeout,
    /// drop_after_request, no_answer, garbage, busy (changeable at run time: POST /terminal/faults).
    #[arg(long)]
    terminal_faults: Option<TerminalFaults>,
    /// Milliseconds the terminal's signature pad waits [default: 30000].
    #[arg(long)]
    terminal_signature_timeout_ms: Option<u64>,
    /// Milliseconds before each automatic terminal step [default: 500].
    #[arg(long)]
    terminal_auto_delay_ms: Option<u64>,
}

#[derive(Debug, clap::Subcommand)]
enum SandboxCommand {
    /// Ask the sandbox of these flags (--bind, SANDBOX_BIND or --config; an unspecified address meaning this
    /// host) whether it answers: exit 0 if GET / answers 200, else 1. For container healthchecks.
    Healthcheck,
}

/// Shown after the flags by `--help`.
const CONTROL_HELP: &str = "\
Control endpoints (JSON; for tests, scripts and the demo):
  GET  /sandbox/faults        the fault knobs that can change at run time:
                              {\"receipt_api_down\": false, \"receipt_delay_ms\": 0}
  POST /sandbox/faults        change some of them, e.g. {\"receipt_api_down\": true} or
                              {\"receipt_delay_ms\": 5000}; answers 200 with the new state,
                              400 {\"error\": ...} for an unknown field or a bad value
  POST /sandbox/transactions  {\"mid\", \"moid\", \"amt\", \"pay_method\"?, \"goods_name\"?, \"buyer_name\"?}
                              -> 201 {\"tid\", \"auth_date\", \"auth_code\", \"result_code\", ...}: an approved
                              payment without the payment window; no returnPay, no notification
                              (also none for its cancels); 400 {\"error\", \"field\"} for bad input
  GET  /terminal              (with --terminal) the card terminal's screen and buttons
  GET  /terminal/state        {\"connected\", \"screen\", \"faults\", \"last_transaction\", \"ledger\", \"log\"}
  GET  /terminal/faults       the terminal's knobs; POST with some of them, e.g. {\"decline\": true}
  POST /terminal/insert-card, /terminal/sign, /terminal/decline   the screen's buttons

The listening address is printed on stdout as \"smartro-sandbox listening on ADDR (URL)\" (with
--bind 127.0.0.1:0 the port is the one picked). SIGTERM and SIGINT stop it gracefully (exit 0).";

fn parse_auto(s: &str) -> Result<AutoDecision, String> {
    s.parse()
}

/// Whether the sandbox listening on `bind` answers `GET /` with 200.
async fn healthcheck(bind: SocketAddr) -> Result<(), String> {
    let ip = match bind.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => std::net::IpAddr::from([127, 0, 0, 1]),
        ip if ip.is_unspecified() => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let url = format!("http://{}/", SocketAddr::new(ip, bind.port()));
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(e) => Err(format!("{url}: {}", e.without_url())),
    }
}

fn build_config(cli: Cli) -> anyhow::Result<SandboxConfig> {
    let mut config = SandboxConfig::default();
    if let Some(path) = &cli.config {
        config.apply_file(path)?;
    }
    if let Some(bind) = cli.bind {
        config.bind = bind;
    }
    if let Some(url) = cli.public_url {
        config.public_url = Some(url);
    }
    if let Some(auto) = cli.auto {
        config.auto = Some(auto);
    }
    if let Some(secs) = cli.notify_interval_secs {
        config.notify_interval = Duration::from_secs(secs);
    }
    if let Some(ms) = cli.notify_interval_ms {
        config.notify_interval = Duration::from_millis(ms);
    }
    if let Some(n) = cli.notify_max_attempts {
        config.notify_max_attempts = n;
    }
    if let Some(r) = cli.drop_ratio {
        config.faults.drop_ratio = r;
    }
    if let Some(r) = cli.duplicate_ratio {
        config.faults.duplicate_ratio = r;
    }
    if let Some(ms) = cli.cancel_latency_ms {
        config.faults.cancel_latency = Duration::from_millis(ms);
    }
    if cli.cancel_no_answer {
        config.faults.cancel_no_answer = true;
    }
    if let Some(ms) = cli.notify_delay_ms {
        config.faults.notify_delay = Duration::from_millis(ms);
    }
    if cli.receipt_api_down {
        config.faults.receipt_api_down = true;
    }
    if let Some(ms) = cli.receipt_delay_ms {
        config.faults.receipt_delay = Duration::from_millis(ms);
    }
    if let Some(code) = cli.clgift_success_code {
        config.clgift_success_code = code;
    }
    let terminal_flags = cli.terminal_auto.is_some()
        || cli.terminal_faults.is_some()
        || cli.terminal_signature_timeout_ms.is_some()
        || cli.terminal_auto_delay_ms.is_some();
    if cli.terminal.is_some() || terminal_flags {
        let mut terminal = config.terminal.clone().unwrap_or_else(|| TerminalConfig {
            auto: config.auto,
            ..TerminalConfig::default()
        });
        if let Some(bind) = cli.terminal {
            terminal.bind = bind;
        }
        if let Some(auto) = cli.terminal_auto {
            terminal.auto = Some(auto);
        }
        if let Some(faults) = cli.terminal_faults {
            terminal.faults = faults;
        }
        if let Some(ms) = cli.terminal_signature_timeout_ms {
            terminal.signature_timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = cli.terminal_auto_delay_ms {
            terminal.auto_delay = Duration::from_millis(ms);
        }
        config.terminal = Some(terminal);
    }
    config.validate()?;
    Ok(config)
}

/// The signals that stop the sandbox: SIGTERM (what `docker stop`, systemd and Kubernetes send) and SIGINT
/// (Ctrl-C). Installed before the server starts, so that a signal arriving while it starts is not lost (nor kills
/// the process the default way).
struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn install() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                terminate: signal(SignalKind::terminate())?,
                interrupt: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(StopSignals {})
        }
    }

    /// Resolves with the name of the first signal received.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "Ctrl-C",
                Err(e) => {
                    // Nothing to wait for: keep serving until the process is killed.
                    eprintln!("smartro-sandbox: cannot wait for Ctrl-C: {e}");
                    std::future::pending::<&'static str>().await
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    // Colours only for a person at a terminal: piped into docker logs, a file or a CI log, escape codes are noise.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::stdout().is_terminal())
        .init();
    let cli = Cli::parse();
    let command = cli.command.is_some();
    let config = match build_config(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smartro-sandbox: {e}");
            return ExitCode::from(2);
        }
    };
    if command {
        return match healthcheck(config.bind).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(why) => {
                eprintln!("unhealthy: {why}");
                ExitCode::FAILURE
            }
        };
    }
    let mut signals = match StopSignals::install() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smartro-sandbox: cannot listen for stop signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    let sandbox = match Sandbox::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("smartro-sandbox: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "smartro-sandbox listening on {} ({})",
        sandbox.addr,
        sandbox.url()
    );
    if let Some(addr) = sandbox.terminal_addr() {
        println!(
            "smartro-sandbox terminal listening on {addr} (screen: {}/terminal)",
            sandbox.url()
        );
    }
    let signal = signals.recv().await;
    tracing::info!(signal, "stopping: notification daemon, then the server");
    sandbox.shutdown().await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipt_fault_flags_reach_the_config() {
        let cli = Cli::parse_from([
            "smartro-sandbox",
            "--receipt-api-down",
            "--receipt-delay-ms",
            "1500",
        ]);
        let config = build_config(cli);
        assert!(config.is_ok(), "{config:?}");
        let faults = config.map(|c| c.faults).unwrap_or_default();
        assert!(faults.receipt_api_down);
        assert_eq!(faults.receipt_delay, Duration::from_millis(1500));

        let defaults = build_config(Cli::parse_from(["smartro-sandbox"]));
        let faults = defaults.map(|c| c.faults).unwrap_or_default();
        assert!(!faults.receipt_api_down);
        assert_eq!(faults.receipt_delay, Duration::ZERO);
    }

    #[test]
    fn terminal_flags_reach_the_config() {
        let cli = Cli::parse_from([
            "smartro-sandbox",
            "--auto",
            "approve",
            "--terminal",
            "127.0.0.1:0",
            "--terminal-faults",
            "signature,busy",
            "--terminal-signature-timeout-ms",
            "1500",
        ]);
        let terminal = build_config(cli).ok().and_then(|c| c.terminal);
        let Some(terminal) = terminal else {
            panic!("no terminal config")
        };
        assert_eq!(terminal.bind.port(), 0);
        assert_eq!(terminal.auto, Some(AutoDecision::Approve));
        assert!(terminal.faults.signature && terminal.faults.busy && !terminal.faults.decline);
        assert_eq!(terminal.signature_timeout, Duration::from_millis(1500));

        let none = build_config(Cli::parse_from(["smartro-sandbox"]));
        assert!(none.is_ok_and(|c| c.terminal.is_none()));
        assert!(Cli::try_parse_from(["smartro-sandbox", "--terminal-faults", "melt"]).is_err());
    }

    #[test]
    fn clgift_success_code_flag_reaches_the_config_and_is_checked() {
        let code = |args: &[&str]| {
            let cli =
                Cli::parse_from(std::iter::once("smartro-sandbox").chain(args.iter().copied()));
            build_config(cli).map(|c| c.clgift_success_code)
        };
        assert_eq!(code(&[]).ok().as_deref(), Some("0000"));
        assert_eq!(
            code(&["--clgift-success-code", "CG00"]).ok().as_deref(),
            Some("CG00")
        );
        // Not a four-character code, or the decline code: one clear line naming the key.
        for bad in ["CG0", "3002"] {
            let err = code(&["--clgift-success-code", bad]);
            assert!(
                err.as_ref()
                    .is_err_and(|e| e.to_string().starts_with("clgift_success_code: ")),
                "{bad}: {err:?}"
            );
        }
    }
}
