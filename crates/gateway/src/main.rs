use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gateway::app::{self, Gateway};
use gateway::clock::SystemClock;
use gateway::config::Settings;
#[cfg(feature = "demo")]
use gateway::demo::DemoOptions;
#[cfg(feature = "demo")]
use sandbox::AutoDecision;
use secrecy::ExposeSecret;

/// The allocator. Under load glibc's malloc and free were about a tenth of the gateway's CPU (`scripts/bench.sh`
/// profile, issue 12): a request makes many small allocations that die with it, which mimalloc's thread-local free
/// lists serve without locks or consolidation.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
    /// Ask the gateway of this configuration (server.bind, an unspecified address meaning this host) whether it
    /// is ready (GET /readyz): exit 0 if it answers 200, else 1. For container healthchecks.
    Healthcheck {
        /// The path to ask for instead: /healthz says only that the process is up.
        #[arg(long, default_value = "/readyz")]
        path: String,
    },
    /// Print an argon2id hash of a console operator's password for `[[console.operators]] password_hash`. The
    /// password is read from standard input (one line), or asked for without echo on a terminal; it is never an
    /// argument, which would leave it in the shell's history and the process list.
    HashPassword,
}

#[cfg(feature = "demo")]
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
    /// TCP port of the simulated card terminal the gateway drives as its POS [default: --sandbox-port + 1].
    #[arg(long)]
    terminal_port: Option<u16>,
    /// Let the sandbox approve or decline every payment at once instead of showing its payment window.
    #[arg(long, value_name = "approve|decline", value_parser = parse_auto)]
    auto: Option<AutoDecision>,
}

#[cfg(feature = "demo")]
fn parse_auto(s: &str) -> Result<AutoDecision, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Needs no configuration: an operator may hash a password before there is one.
    if let Some(Command::HashPassword) = cli.command {
        return hash_password();
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            fail(&e.to_string());
            return ExitCode::from(2);
        }
    };
    if let Some(Command::CheckConfig) = cli.command {
        print!("{}", settings.redacted_toml());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            fail(&format!("could not start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Healthcheck { path }) = &cli.command {
        // No logging set up: the one line below is all a healthcheck log needs.
        return match runtime.block_on(app::healthcheck(settings.server.bind, path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(why) => {
                eprintln!("unhealthy: {why}");
                ExitCode::FAILURE
            }
        };
    }
    gateway::telemetry::init();
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                warn_about_test_credentials(&settings);
                serve(settings).await
            }
            Command::Migrate => migrate(settings).await,
            Command::CheckConfig | Command::Healthcheck { .. } | Command::HashPassword => Ok(()),
            #[cfg(feature = "demo")]
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
                    terminal_port: args.terminal_port.unwrap_or(if args.sandbox_port == 0 {
                        0
                    } else {
                        args.sandbox_port.saturating_add(1)
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
            fail(&app::error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// `hash-password`: the password from stdin (or a prompt without echo), its argon2id hash on stdout.
fn hash_password() -> ExitCode {
    let password = match read_password() {
        Ok(password) => password,
        Err(e) => {
            fail(&format!("could not read the password: {e}"));
            return ExitCode::FAILURE;
        }
    };
    if password.is_empty() {
        fail("the password is empty");
        return ExitCode::from(2);
    }
    match gateway::console::password::hash_password(&password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            fail(&format!("could not hash the password: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// One line of standard input without its line ending. On a terminal the typing is not echoed.
fn read_password() -> std::io::Result<String> {
    use std::io::BufRead;
    let stdin = std::io::stdin();
    let echo_off = EchoOff::on_terminal();
    if echo_off.is_some() {
        eprint!("Password (not shown): ");
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    drop(echo_off);
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Terminal echo switched off while it lives (standard input is a terminal), restored when dropped.
struct EchoOff {
    #[cfg(unix)]
    saved: libc::termios,
}

impl EchoOff {
    fn on_terminal() -> Option<EchoOff> {
        #[cfg(unix)]
        {
            // SAFETY: isatty, tcgetattr and tcsetattr only read or write the termios struct on this stack frame.
            unsafe {
                if libc::isatty(libc::STDIN_FILENO) != 1 {
                    return None;
                }
                let mut saved: libc::termios = std::mem::zeroed();
                if libc::tcgetattr(libc::STDIN_FILENO, &mut saved) != 0 {
                    return None;
                }
                let mut quiet = saved;
                quiet.c_lflag &= !libc::ECHO;
                quiet.c_lflag |= libc::ECHONL;
                if libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) != 0 {
                    return None;
                }
                Some(EchoOff { saved })
            }
        }
        #[cfg(not(unix))]
        {
            None
        }
    }
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        #[cfg(unix)]
        // SAFETY: restores the settings read in on_terminal.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
        }
    }
}

/// The one line a failed start ends with: JSON like every other line when `GATEWAY_LOG_FORMAT=json` (so log
/// collectors keep it), else plain text.
fn fail(message: &str) {
    if gateway::telemetry::json_requested() {
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "ERROR",
            "message": message,
        });
        eprintln!("{line}");
    } else {
        eprintln!("error: {message}");
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
    let mut signals = app::StopSignals::install().context("listening for SIGTERM and SIGINT")?;
    let settings = Arc::new(settings);
    let (pool, embedded) = match &settings.database.url {
        // The server answers at once (/healthz 200, /readyz 503) while the database is waited for: PostgreSQL
        // starting beside the gateway, or coming back, is no reason to exit.
        Some(url) => (
            app::pool_options(&settings)
                .connect_lazy(url.expose_secret())
                .context("database.url")?,
            None,
        ),
        None => match app::open_database(&settings).await? {
            app::Database::Embedded(pool, pg) => (pool, Some(pg)),
            app::Database::External(pool) => (pool, None),
        },
    };
    let gateway = Gateway::start(settings.clone(), pool.clone(), Arc::new(SystemClock)).await?;
    let ready = tokio::select! {
        migrated = app::migrate_when_reachable(&pool) => Some(migrated),
        signal = signals.recv() => {
            tracing::info!(signal, "stopping before the database was reachable");
            None
        }
    };
    let workers = match ready {
        Some(Ok(())) => Some(gateway::workers::Workers::spawn(&gateway.services)?),
        Some(Err(e)) => {
            gateway.shutdown().await?;
            return Err(e);
        }
        None => None,
    };
    if workers.is_some() {
        let signal = signals.recv().await;
        tracing::info!(
            signal,
            "shutting down: finishing in-flight requests and worker passes"
        );
    }
    let stop_workers = async {
        if let Some(workers) = workers {
            workers.stop().await;
        }
    };
    let (served, ()) = tokio::join!(gateway.shutdown(), stop_workers);
    served?;
    pool.close().await;
    if let Some(pg) = embedded {
        pg.stop().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    Ok(())
}
