//! smartro-sandbox: a local stand-in for Smartro's servers.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use sandbox::{AutoDecision, Sandbox, SandboxConfig};

#[derive(Debug, Parser)]
#[command(
    name = "smartro-sandbox",
    version,
    about = "A local stand-in for Smartro's servers (payment window, cancel, receipt API, notifications)"
)]
struct Cli {
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
}

fn parse_auto(s: &str) -> Result<AutoDecision, String> {
    s.parse()
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
    config.validate()?;
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = match build_config(Cli::parse()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("smartro-sandbox: {e}");
            return ExitCode::from(2);
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
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("smartro-sandbox: cannot wait for Ctrl-C: {e}");
    }
    sandbox.shutdown().await;
    ExitCode::SUCCESS
}
