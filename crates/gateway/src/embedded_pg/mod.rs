//! Embedded PostgreSQL: the database the gateway uses when `database.url` is not set, and the engine under the
//! throwaway test clusters of `crate::testkit` (feature `testkit`).
//!
//! The server is a child process supervised by a dedicated thread. The child asks the kernel for SIGINT when that
//! thread dies (`PR_SET_PDEATHSIG`), so a gateway killed with SIGKILL never leaves an orphan server holding the data
//! directory. PostgreSQL refuses to run as root; as root the server runs as the `postgres` OS user.
//!
//! The server never listens on TCP: only on a Unix socket in `<data_dir>/run`, a directory of mode 0700 owned by
//! the server's OS user, so only that user and root can connect. `pg_hba.conf` is written before every start
//! (which also fixes up clusters of older versions that trusted TCP on 127.0.0.1).

mod access;
mod cluster;
mod server;
#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

use access::MAX_SOCKET_DIR_LEN;
pub use access::{socket_url, PG_HBA_CONF};
use cluster::prepare;
pub use cluster::PgBinaries;
use server::{launch, Order, Supervisor};

/// The superuser role created by initdb; reached only through the Unix socket (see [`PG_HBA_CONF`]).
pub const SUPERUSER: &str = "gateway";
/// The database the gateway uses inside its embedded cluster.
pub const DEFAULT_DATABASE: &str = "gateway";

const CLUSTER_DIR: &str = "pg";
const SOCKET_DIR: &str = "run";
const LOG_FILE: &str = "postgres.log";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedPgError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found: install PostgreSQL 15+ \
         (e.g. `apt-get install postgresql`) or set database.url / DATABASE_URL"
    )]
    NotInstalled,
    #[error("PG_BIN_DIR={} does not contain the PostgreSQL server binaries initdb and postgres", .0.display())]
    BadBinDir(PathBuf),
    #[error(
        "PostgreSQL refuses to run as root and there is no `postgres` OS user to run it as: create one \
         (e.g. `useradd --system --user-group postgres`) or set database.url / DATABASE_URL"
    )]
    NoPostgresUser,
    #[error(
        "data directory {} cannot be entered by the `{user}` OS user that runs PostgreSQL ({source}): choose \
         another database.data_dir or make its parent directories searchable (chmod o+x)",
        path.display()
    )]
    Unreachable {
        path: PathBuf,
        user: String,
        source: io::Error,
    },
    #[error("{action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{} is not a PostgreSQL cluster (no PG_VERSION): move it away or choose another database.data_dir", .0.display())]
    NotACluster(PathBuf),
    #[error(
        "the socket directory {} is longer than {MAX_SOCKET_DIR_LEN} bytes, too long for a Unix socket: choose a \
         database.data_dir with a shorter path",
        .0.display()
    )]
    SocketPathTooLong(PathBuf),
    #[error("initdb failed ({status}) for {}:\n{output}", path.display())]
    InitDb {
        path: PathBuf,
        status: String,
        output: String,
    },
    #[error("PostgreSQL did not start ({reason}); log {}:\n{tail}", log.display())]
    Startup {
        reason: String,
        log: PathBuf,
        tail: String,
    },
    #[error("embedded PostgreSQL: {action}: {source}")]
    Database { action: String, source: sqlx::Error },
    #[error("invalid database name `{0}`: use 1 to 63 lowercase ASCII letters, digits or `_`, starting with a letter")]
    InvalidDatabaseName(String),
    #[error("stopping embedded PostgreSQL: {0}")]
    Stop(String),
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> EmbeddedPgError {
    let path = path.to_path_buf();
    move |source| EmbeddedPgError::Io {
        action,
        path,
        source,
    }
}

/// How to start an embedded cluster.
#[derive(Debug, Clone)]
pub struct EmbeddedOptions {
    /// Holds the cluster (`pg/`), the server log (`postgres.log`) and the socket directory (`run/`).
    pub data_dir: PathBuf,
    /// `false` trades crash safety for speed (initdb --no-sync, fsync, synchronous_commit and full_page_writes off):
    /// for throwaway test clusters only.
    pub fsync: bool,
    /// When set, a pristine initdb'd cluster is cached in this directory (one per PostgreSQL version and OS user)
    /// and copied for new clusters instead of running initdb each time.
    pub template_cache: Option<PathBuf>,
    /// Created when missing, once the server accepts connections.
    pub database: Option<String>,
    /// The server's `max_connections`.
    pub max_connections: u32,
    /// How long to wait for the server to accept connections.
    pub startup_timeout: Duration,
}

impl EmbeddedOptions {
    /// Durable settings for the gateway's own data: a persistent cluster with the `gateway` database.
    pub fn new(data_dir: &Path) -> EmbeddedOptions {
        EmbeddedOptions {
            data_dir: data_dir.to_path_buf(),
            fsync: true,
            template_cache: None,
            database: Some(DEFAULT_DATABASE.to_string()),
            max_connections: 100,
            startup_timeout: Duration::from_secs(60),
        }
    }
}

fn valid_database_name(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A running PostgreSQL server owned by this process.
pub struct EmbeddedPostgres {
    port: u16,
    data_dir: PathBuf,
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
    supervisor: Option<Supervisor>,
}

impl std::fmt::Debug for EmbeddedPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPostgres")
            .field("port", &self.port)
            .field("pid", &self.pid())
            .field("data_dir", &self.data_dir)
            .finish()
    }
}

impl EmbeddedPostgres {
    /// Starts the gateway's durable cluster under `data_dir`, creating it (and the `gateway` database) on first use.
    pub async fn start(data_dir: &Path) -> Result<EmbeddedPostgres, EmbeddedPgError> {
        Self::start_with(EmbeddedOptions::new(data_dir)).await
    }

    pub async fn start_with(opts: EmbeddedOptions) -> Result<EmbeddedPostgres, EmbeddedPgError> {
        if let Some(name) = &opts.database {
            if !valid_database_name(name) {
                return Err(EmbeddedPgError::InvalidDatabaseName(name.clone()));
            }
        }
        let prepare_opts = opts.clone();
        let prepared = tokio::task::spawn_blocking(move || prepare(&prepare_opts))
            .await
            .map_err(|err| {
                EmbeddedPgError::Stop(format!("preparing the cluster panicked: {err}"))
            })??;
        let server = launch(&opts, prepared).await?;
        if let Some(name) = &opts.database {
            server.create_database_if_missing(name).await?;
        }
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The postmaster's process id (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.supervisor.as_ref().map(|s| s.pid).unwrap_or(0)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The PGDATA directory.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// The Unix socket directory (for `psql -h <dir> -p <port>`), the only way to the server.
    pub fn socket_dir(&self) -> &Path {
        &self.socket_dir
    }

    /// The socket file itself, `<socket_dir>/.s.PGSQL.<port>`.
    pub fn socket_path(&self) -> PathBuf {
        self.socket_dir.join(format!(".s.PGSQL.{}", self.port))
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A URL through the Unix socket, understood by sqlx and libpq (psql):
    /// `postgres://gateway@%2Fpath%2Fto%2Fdata%2Frun:PORT/DATABASE`.
    pub fn url(&self, database: &str) -> String {
        socket_url(&self.socket_dir, self.port, database)
    }

    pub fn connect_options(&self, database: &str) -> PgConnectOptions {
        PgConnectOptions::new()
            .socket(&self.socket_dir)
            .port(self.port)
            .username(SUPERUSER)
            .database(database)
            .disable_statement_logging()
    }

    pub async fn create_database_if_missing(&self, name: &str) -> Result<(), EmbeddedPgError> {
        if !valid_database_name(name) {
            return Err(EmbeddedPgError::InvalidDatabaseName(name.to_string()));
        }
        let db_err = |action: &str| {
            let action = format!("{action} database {name}");
            move |source| EmbeddedPgError::Database { action, source }
        };
        let mut conn = PgConnection::connect_with(&self.connect_options("postgres"))
            .await
            .map_err(db_err("connecting to create"))?;
        let exists: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                .bind(name)
                .fetch_optional(&mut conn)
                .await
                .map_err(db_err("looking up"))?;
        if exists.is_none() {
            // The name is validated above; identifiers cannot be bound as parameters.
            let created = conn
                .execute(format!("CREATE DATABASE \"{name}\"").as_str())
                .await;
            match created {
                Ok(_) => {}
                // Lost a race with another creator: the database exists, which is all we wanted.
                Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P04") => {}
                Err(err) => return Err(db_err("creating")(err)),
            }
        }
        let _ = conn.close().await;
        Ok(())
    }

    /// Fast shutdown: waits up to 10 s for sessions to end, then escalates to SIGQUIT and SIGKILL.
    pub async fn stop(mut self) -> Result<(), EmbeddedPgError> {
        let Some(mut supervisor) = self.supervisor.take() else {
            return Ok(());
        };
        let (reply_tx, reply_rx) = tokio::sync::oneshot::channel();
        let result = if supervisor.orders.send(Order::Stop(Some(reply_tx))).is_ok() {
            // The thread always answers unless it is already gone, which means the server is gone too.
            reply_rx.await.unwrap_or(Ok(()))
        } else {
            Ok(())
        };
        if let Some(thread) = supervisor.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        result.map_err(EmbeddedPgError::Stop)
    }
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Some(mut supervisor) = self.supervisor.take() {
            supervisor.stop_blocking();
        }
    }
}
