use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use gateway::app::{self, Gateway};
use gateway::clock::SystemClock;
use gateway::config::Settings;
use gateway::demo::DemoOptions;
use sandbox::AutoDecision;

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
    /// A first look: gateway + sandbox + embedded PostgreSQL + a demo shop page, in one process.
    Demo(DemoArgs),
}

#[derive(clap::Args)]
struct DemoArgs {
    /// Port of the gateway (on 127.0.0.1).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Port of the sandbox standing in for Smartro.
    #[arg(long, default_value_t = 9090)]
    sandbox_port: u16,
    /// Port of the demo shop [default: --port + 1].
    #[arg(long)]
    shop_port: Option<u16>,
    /// Let the sandbox approve or decline every payment at once instead of showing its payment window.
    #[arg(long, value_name = "approve|decline", value_parser = parse_auto)]
    auto: Option<AutoDecision>,
}

fn parse_auto(s: &str) -> Result<AutoDecision, String> {
    s.parse()
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                warn_about_test_credentials(&settings);
                serve(settings).await
            }
            Command::Migrate => migrate(settings).await,
            Command::CheckConfig => Ok(()),
            Command::Demo(args) => {
                warn_about_test_credentials(&settings);
                let options = DemoOptions {
                    gateway_port: args.port,
                    sandbox_port: args.sandbox_port,
                    shop_port: args.shop_port.unwrap_or(if args.port == 0 {
                        0
                    } else {
                        args.port.saturating_add(1)
                    }),
                    auto: args.auto,
                    ..DemoOptions::default()
                };
                gateway::demo::run(settings, options).await
            }
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

/// One line at start when test mode runs on well-known credentials, so that they are not carried into production
/// unnoticed (production refuses them at load).
fn warn_about_test_credentials(settings: &Settings) {
    if let Some(warning) = settings.test_credentials_warning() {
        tracing::warn!("{warning}");
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
    let gateway =
        Gateway::start(Arc::new(settings), db.pool().clone(), Arc::new(SystemClock)).await?;
    let workers = gateway::workers::Workers::spawn(&gateway.state)?;
    app::shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests and worker passes");
    let (served, ()) = tokio::join!(gateway.shutdown(), workers.stop());
    served?;
    db.pool().close().await;
    if let app::Database::Embedded(_, pg) = db {
        pg.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
