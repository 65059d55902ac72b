//! Startup: connect (or start the embedded PostgreSQL), migrate, bind, serve until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::embedded_pg::EmbeddedPostgres;
use crate::http::{router, AppState};
use crate::metrics::Metrics;
use crate::server::{self, ConnectionLimits};
use crate::service::Services;
use crate::store::{Store, MIGRATOR};

/// Where the database comes from: the configured server, or one this process runs itself.
pub enum Database {
    External(PgPool),
    Embedded(PgPool, EmbeddedPostgres),
}

impl Database {
    pub fn pool(&self) -> &PgPool {
        match self {
            Database::External(pool) | Database::Embedded(pool, _) => pool,
        }
    }
}

pub fn pool_options(settings: &Settings) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(settings.database.max_connections)
        // Fail fast when the database is down, so informs get 503 at once rather than hanging.
        .acquire_timeout(Duration::from_secs(3))
        // sqlx pings every connection when it is given back (a broken one is closed then), and by default again
        // before it is handed out: a round trip more on every request. Only a connection idle for a while is
        // pinged before use (the database may have restarted meanwhile); one used moments ago passed the ping of
        // its release.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= Duration::from_secs(1) {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Connects to `database.url`, or starts the embedded PostgreSQL under `database.data_dir`.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    match &settings.database.url {
        Some(url) => {
            let pool = pool_options(settings)
                .connect(url.expose_secret())
                .await
                .context("could not connect to database.url")?;
            Ok(Database::External(pool))
        }
        None => {
            let embedded = EmbeddedPostgres::start(&settings.database.data_dir)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let pool = pool_options(settings)
                .connect_with(embedded.connect_options("gateway"))
                .await
                .context("could not connect to the embedded PostgreSQL")?;
            Ok(Database::Embedded(pool, embedded))
        }
    }
}

pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    // sqlx holds an advisory lock while migrating, so replicas starting together do not collide.
    MIGRATOR.run(pool).await.context("applying migrations")?;
    Ok(())
}

/// A running gateway: its address, its state, and the handle to stop it.
pub struct Gateway {
    pub addr: SocketAddr,
    /// The flows this gateway serves, for the workers that run beside it (and tests).
    pub services: Services,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    /// One connection task per configured card terminal.
    terminals: Vec<JoinHandle<()>>,
    /// Handlers whose clients are gone but whose work goes on (`http::run_to_completion`).
    detached: tokio_util::task::TaskTracker,
}

impl Gateway {
    /// Binds `settings.server.bind` (port 0 picks a free port) and serves on an already migrated pool.
    pub async fn start(
        settings: Arc<Settings>,
        pool: PgPool,
        clock: SharedClock,
    ) -> anyhow::Result<Gateway> {
        let listener = tokio::net::TcpListener::bind(settings.server.bind)
            .await
            .with_context(|| format!("could not bind server.bind {}", settings.server.bind))?;
        Self::start_on(listener, settings, pool, clock).await
    }

    /// Serves on a listener bound by the caller, e.g. to know the port before `public_url` is set.
    pub async fn start_on(
        listener: tokio::net::TcpListener,
        settings: Arc<Settings>,
        pool: PgPool,
        clock: SharedClock,
    ) -> anyhow::Result<Gateway> {
        let addr = listener.local_addr()?;
        let store = Store::new(pool);
        let services = Services::new(store, settings, clock, Arc::new(Metrics::new()))
            .context("building the HTTP client for Smartro")?;
        let state = AppState::new(services);
        let app = router(state.clone());
        let limits = ConnectionLimits::from_settings(&state.services.settings.server);
        warn_if_above_open_file_limit(state.services.settings.server.max_connections);
        let (shutdown, stop) = watch::channel(false);
        let server = tokio::spawn(server::serve(listener, app, limits, stop));
        // Each terminal's task first settles what a previous process left open (990001), then serves.
        let terminals = state.services.terminals.spawn(&state.services);
        tracing::info!(%addr, "gateway listening");
        Ok(Gateway {
            addr,
            services: Services::clone(&state.services),
            detached: state.detached.clone(),
            shutdown,
            server,
            terminals,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish (those whose clients hung up too), then returns.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await.context("server task")??;
        // A cancel waits for Smartro, a terminal request for the terminal: no longer than their own timeouts.
        let settings = &self.services.settings;
        let longest = settings
            .terminals
            .iter()
            .map(|t| t.timeout_secs)
            .fold(settings.smartro.timeout_secs, u64::max);
        self.detached.close();
        let grace = std::time::Duration::from_secs(longest.saturating_add(10));
        if tokio::time::timeout(grace, self.detached.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                still_running = self.detached.len(),
                "shutdown: requests whose clients hung up did not finish in time"
            );
        }
        // A transaction in flight stays open in the database; the next start settles it from 990001.
        for terminal in &self.terminals {
            terminal.abort();
        }
        Ok(())
    }
}

/// Connections beyond the process's open-file limit fail in `accept` (EMFILE) before `server.max_connections`
/// is reached, and then the cap protects nothing: say so at start rather than during an incident.
fn warn_if_above_open_file_limit(max_connections: usize) {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct it is given, which lives on this stack frame.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return;
        }
        // rlim_t is u64 on 64-bit Linux, but not on every unix.
        #[allow(clippy::useless_conversion)]
        let soft = u64::try_from(limit.rlim_cur).unwrap_or(u64::MAX);
        // The database pool, the listener, logs and outgoing calls need descriptors of their own.
        let needed = u64::try_from(max_connections)
            .unwrap_or(u64::MAX)
            .saturating_add(64);
        if limit.rlim_cur != libc::RLIM_INFINITY && soft < needed {
            tracing::warn!(
                max_connections,
                open_file_limit = soft,
                "server.max_connections is above what the open-file limit allows: raise the limit (ulimit -n, \
                 LimitNOFILE=) or lower server.max_connections"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = max_connections;
}

/// The signals that stop the process: SIGTERM (what `docker stop`, systemd and Kubernetes send) and SIGINT
/// (Ctrl-C). Registered when installed, so that a signal arriving while the process still starts (or waits for
/// its database) is not lost and does not kill it the default way.
pub struct StopSignals {
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
}

impl StopSignals {
    pub fn install() -> std::io::Result<StopSignals> {
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
    pub async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.terminate.recv() => "SIGTERM",
                _ = self.interrupt.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    match StopSignals::install() {
        Ok(mut signals) => {
            signals.recv().await;
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for stop signals; stop the process by killing it");
            std::future::pending::<()>().await
        }
    }
}

/// How long the database may be away at start before the wait is logged.
const QUIET_WAIT: Duration = Duration::from_secs(3);

/// Applies the migrations once the database answers, trying again with backoff (0.5 s up to 5 s) for as long as
/// it is unreachable or still starting, as happens when the gateway and PostgreSQL start together. The wait is
/// logged once, a few seconds in; a database that answers with an error (a wrong password, a migration that
/// does not apply) ends the wait with that error.
pub async fn migrate_when_reachable(pool: &PgPool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let mut delay = Duration::from_millis(500);
    let mut said = false;
    loop {
        match MIGRATOR.run(pool).await {
            Ok(()) => {
                if said {
                    tracing::info!(
                        waited_secs = started.elapsed().as_secs(),
                        "database reachable: migrations applied"
                    );
                }
                return Ok(());
            }
            Err(e) if database_unreachable(&e) => {
                if !said && started.elapsed() >= QUIET_WAIT {
                    tracing::warn!(
                        error = %error_chain(&e),
                        "waiting for the database (database.url): not reachable yet; /readyz answers 503 meanwhile"
                    );
                    said = true;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => return Err(anyhow::Error::new(e).context("applying migrations")),
        }
    }
}

fn database_unreachable(e: &sqlx::migrate::MigrateError) -> bool {
    matches!(e, sqlx::migrate::MigrateError::Execute(e) if crate::store::is_outage(e))
}

/// An error and its causes in one line, each cause once: sqlx repeats its I/O error's text in its own message,
/// which would otherwise read "failed to lookup address information … failed to lookup address information".
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

/// `healthcheck`: asks the gateway listening on `bind` (an unspecified address means this host) for `path` and
/// says whether it answered 200, for container healthchecks without curl in the image.
pub async fn healthcheck(bind: SocketAddr, path: &str) -> Result<(), String> {
    let host = match bind.ip() {
        ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
        ip if ip.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    let url = format!("http://{host}:{}{path}", bind.port());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    match client.get(&url).send().await {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!("{url} answered {}", response.status())),
        Err(e) => Err(format!("{url}: {}", error_chain(&e))),
    }
}
