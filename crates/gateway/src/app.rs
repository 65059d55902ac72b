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
    pub state: AppState,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
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
        let store = Store::new(pool, settings.server.public_url.clone());
        let state = AppState::new(store, settings, clock)
            .context("building the HTTP client for Smartro")?;
        let app = router(state.clone());
        let (shutdown, mut stop) = watch::channel(false);
        let server = tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|stop| *stop).await;
            })
            .await
        });
        tracing::info!(%addr, "gateway listening");
        Ok(Gateway {
            addr,
            state,
            shutdown,
            server,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, lets in-flight requests finish, then returns.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        self.server.await.context("server task")??;
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
