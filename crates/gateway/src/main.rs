use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gateway::app::{self, Gateway};
use gateway::clock::SystemClock;
use gateway::config::Settings;

/// A self-hosted payment gateway for Smartro (WEBLink).
#[derive(Parser)]
#[command(name = "smartro-gateway", version)]
struct Cli {
    /// Configuration file (TOML); else $GATEWAY_CONFIG, else config/default.toml.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the gateway (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Validate the configuration and print it with secrets redacted.
    CheckConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::CheckConfig) = cli.command {
        print!("{}", settings.redacted_toml());
        return ExitCode::SUCCESS;
    }
    gateway::telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::CheckConfig => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = app::open_database(&settings).await?;
    app::migrate(db.pool()).await?;
    println!("migrations applied");
    if let app::Database::Embedded(_, pg) = db {
        pg.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let db = app::open_database(&settings).await?;
    app::migrate(db.pool()).await?;
    let gateway = Gateway::start(Arc::new(settings), db.pool().clone(), Arc::new(SystemClock)).await?;
    app::shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    gateway.shutdown().await?;
    db.pool().close().await;
    if let app::Database::Embedded(_, pg) = db {
        pg.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
