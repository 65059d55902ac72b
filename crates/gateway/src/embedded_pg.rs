//! Embedded PostgreSQL: the database the gateway uses when `database.url` is not set, and the engine under the
//! throwaway test clusters of [`crate::testkit`].
//!
//! The server is a child process supervised by a dedicated thread. The child asks the kernel for SIGINT when that
//! thread dies (`PR_SET_PDEATHSIG`), so a gateway killed with SIGKILL never leaves an orphan server holding the data
//! directory. PostgreSQL refuses to run as root; as root the server runs as the `postgres` OS user.
//!
//! The server never listens on TCP: only on a Unix socket in `<data_dir>/run`, a directory of mode 0700 owned by
//! the server's OS user, so only that user and root can connect. `pg_hba.conf` is written before every start
//! (which also fixes up clusters of older versions that trusted TCP on 127.0.0.1).

use std::ffi::{CStr, CString, OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};

/// The superuser role created by initdb; reached only through the Unix socket (see [`PG_HBA_CONF`]).
pub const SUPERUSER: &str = "gateway";
/// The database the gateway uses inside its embedded cluster.
pub const DEFAULT_DATABASE: &str = "gateway";

const CLUSTER_DIR: &str = "pg";
const SOCKET_DIR: &str = "run";
const LOG_FILE: &str = "postgres.log";
/// Unix socket paths are limited to 108 bytes including `/.s.PGSQL.NNNNN` and the NUL.
const MAX_SOCKET_DIR_LEN: usize = 80;

/// The whole `pg_hba.conf` of an embedded cluster, written before every start.
///
/// `trust` is safe here only because of where the socket is: the server listens on no TCP address
/// (`listen_addresses = ''`) and its socket lives in `<data_dir>/run`, mode 0700 and owned by the OS user the server
/// runs as. Only that user and root can enter the directory, and both can read the data files anyway, so `trust`
/// gives no one more than they already have. (`peer` would not do: the gateway may run as root while the server
/// runs as `postgres`, and both must connect as the `gateway` role.) No `host` line at all: a TCP connection, were
/// one ever possible, would find no entry and be rejected.
pub const PG_HBA_CONF: &str = "\
# Written by smartro-gateway before every start of its embedded PostgreSQL; changes here are overwritten.
# No TCP: the server listens only on a Unix socket in <data_dir>/run (mode 0700, owned by the server's OS user),
# which only that user and root can reach.
local all all trust
";
const FAST_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const IMMEDIATE_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const MAX_START_ATTEMPTS: u32 = 20;

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

/// The directory holding `initdb` and `postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgBinaries {
    pub dir: PathBuf,
}

impl PgBinaries {
    /// `$PG_BIN_DIR`, else the first `$PATH` entry holding both binaries, else `/usr/lib/postgresql/*/bin`
    /// (newest version first), else `/usr/local/pgsql/bin`.
    pub fn locate() -> Result<PgBinaries, EmbeddedPgError> {
        locate_in(
            std::env::var_os("PG_BIN_DIR"),
            std::env::var_os("PATH"),
            Path::new("/usr/lib/postgresql"),
        )
    }

    pub fn initdb(&self) -> PathBuf {
        self.dir.join("initdb")
    }

    pub fn postgres(&self) -> PathBuf {
        self.dir.join("postgres")
    }

    /// The server version, e.g. `15.18`, from `postgres --version`.
    pub fn version(&self) -> Result<String, EmbeddedPgError> {
        let postgres = self.postgres();
        let output = Command::new(&postgres)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .map_err(io_err("running", &postgres))?;
        let text = String::from_utf8_lossy(&output.stdout);
        // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
        text.split_whitespace()
            .find(|word| word.starts_with(|c: char| c.is_ascii_digit()))
            .map(|word| {
                word.trim_end_matches(|c: char| !c.is_ascii_digit())
                    .to_string()
            })
            .ok_or_else(|| EmbeddedPgError::Io {
                action: "reading the version printed by",
                path: postgres.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, text.trim().to_string()),
            })
    }
}

fn has_server_binaries(dir: &Path) -> bool {
    ["initdb", "postgres"].iter().all(|name| {
        fs::metadata(dir.join(name))
            .map(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    })
}

fn locate_in(
    pg_bin_dir: Option<OsString>,
    path: Option<OsString>,
    versioned_root: &Path,
) -> Result<PgBinaries, EmbeddedPgError> {
    if let Some(dir) = pg_bin_dir.filter(|dir| !dir.is_empty()) {
        let dir = PathBuf::from(dir);
        return if has_server_binaries(&dir) {
            Ok(PgBinaries { dir })
        } else {
            Err(EmbeddedPgError::BadBinDir(dir))
        };
    }
    let mut candidates: Vec<PathBuf> = path
        .map(|path| std::env::split_paths(&path).collect())
        .unwrap_or_default();
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir(versioned_root)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| {
                    let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
                    Some((major, entry.path().join("bin")))
                })
                .collect()
        })
        .unwrap_or_default();
    versioned.sort_by_key(|(major, _)| std::cmp::Reverse(*major));
    candidates.extend(versioned.into_iter().map(|(_, dir)| dir));
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    candidates
        .into_iter()
        .find(|dir| has_server_binaries(dir))
        .map(|dir| PgBinaries { dir })
        .ok_or(EmbeddedPgError::NotInstalled)
}

/// The OS user the server runs as when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

fn run_as() -> Result<Option<RunAs>, EmbeddedPgError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    lookup_user("postgres")
        .map(Some)
        .ok_or(EmbeddedPgError::NoPostgresUser)
}

fn lookup_user(name: &str) -> Option<RunAs> {
    let c_name = CString::new(name).ok()?;
    let mut buf_len = 4096;
    loop {
        let mut buf: Vec<libc::c_char> = vec![0; buf_len];
        // SAFETY: a zeroed passwd is a valid out-parameter; every pointer passed lives across the call and
        // the strings it returns point into `buf`, which we read before it is dropped.
        unsafe {
            let mut pwd: libc::passwd = std::mem::zeroed();
            let mut result: *mut libc::passwd = std::ptr::null_mut();
            let rc = libc::getpwnam_r(
                c_name.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            );
            if rc == libc::ERANGE && buf_len < 1 << 20 {
                buf_len *= 4;
                continue;
            }
            if rc != 0 || result.is_null() {
                return None;
            }
            let home = if pwd.pw_dir.is_null() {
                PathBuf::from("/")
            } else {
                PathBuf::from(OsStr::new(
                    CStr::from_ptr(pwd.pw_dir).to_string_lossy().as_ref(),
                ))
            };
            return Some(RunAs {
                name: name.to_string(),
                uid: pwd.pw_uid,
                gid: pwd.pw_gid,
                home,
            });
        }
    }
}

fn command(program: &Path, run_as: Option<&RunAs>) -> Command {
    let mut cmd = Command::new(program);
    // English messages: startup errors are recognised by their text.
    cmd.env("LC_ALL", "C")
        .env("LC_MESSAGES", "C")
        .env_remove("PGDATA");
    if let Some(user) = run_as {
        cmd.uid(user.uid)
            .gid(user.gid)
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    cmd
}

fn chown_to(path: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    if let Some(user) = run_as {
        std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
            .map_err(io_err("changing the owner of", path))?;
    }
    Ok(())
}

/// Creates `dir` (mode 0700) owned by the server's OS user.
fn private_dir(dir: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(io_err("creating", dir))?;
    chown_to(dir, run_as)
}

fn remove_if_exists(path: &Path) -> Result<(), EmbeddedPgError> {
    match fs::remove_dir_all(path) {
        Err(err) if err.kind() != io::ErrorKind::NotFound => Err(io_err("removing", path)(err)),
        _ => Ok(()),
    }
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Runs initdb into the empty or missing directory `pg_dir`.
fn initdb(
    bins: &PgBinaries,
    pg_dir: &Path,
    fsync: bool,
    run_as: Option<&RunAs>,
) -> Result<(), EmbeddedPgError> {
    if !pg_dir.exists() {
        private_dir(pg_dir, run_as)?;
    }
    let mut cmd = command(&bins.initdb(), run_as);
    cmd.arg("-D")
        .arg(pg_dir)
        // No TCP entry may ever trust; pg_hba.conf is rewritten before every start anyway (see PG_HBA_CONF).
        .args([
            "-U",
            SUPERUSER,
            "--auth-local=trust",
            "--auth-host=reject",
            "-E",
            "UTF8",
            "--locale=C",
        ])
        .current_dir(pg_dir)
        .stdin(Stdio::null());
    if !fsync {
        cmd.arg("--no-sync");
    }
    let output = cmd.output().map_err(io_err("running initdb for", pg_dir))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(EmbeddedPgError::InitDb {
        path: pg_dir.to_path_buf(),
        status: output.status.to_string(),
        output: tail_lines(&text, 20),
    })
}

/// Copies a cluster directory, keeping permission bits and giving everything to the server's OS user.
fn copy_cluster(from: &Path, to: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    let meta = fs::symlink_metadata(from).map_err(io_err("reading", from))?;
    if meta.is_dir() {
        fs::DirBuilder::new()
            .mode(meta.permissions().mode() & 0o7777)
            .create(to)
            .map_err(io_err("creating", to))?;
        for entry in fs::read_dir(from).map_err(io_err("listing", from))? {
            let entry = entry.map_err(io_err("listing", from))?;
            copy_cluster(&entry.path(), &to.join(entry.file_name()), run_as)?;
        }
    } else if meta.file_type().is_symlink() {
        let target = fs::read_link(from).map_err(io_err("reading", from))?;
        std::os::unix::fs::symlink(target, to).map_err(io_err("creating", to))?;
    } else {
        fs::copy(from, to).map_err(io_err("copying to", to))?;
    }
    chown_to(to, run_as)
}

/// The cached pristine cluster for these binaries, created (atomically: initdb elsewhere, then rename) if missing.
fn template_cluster(
    bins: &PgBinaries,
    cache: &Path,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, EmbeddedPgError> {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    let template = cache.join(format!(
        "smartro-gateway-pg-template-v2-{}-uid{euid}",
        bins.version()?
    ));
    if template.join("PG_VERSION").is_file() {
        return Ok(template);
    }
    fs::create_dir_all(cache).map_err(io_err("creating", cache))?;
    let staging = cache.join(format!(".smartro-gateway-pg-template-{}", unique_suffix()));
    initdb(bins, &staging, false, run_as)?;
    if let Err(err) = fs::rename(&staging, &template) {
        // Another process won the race; its template is as good as ours.
        let _ = fs::remove_dir_all(&staging);
        if !template.join("PG_VERSION").is_file() {
            return Err(io_err("creating", &template)(err));
        }
    }
    Ok(template)
}

/// Makes sure `<data_dir>/pg` holds a cluster; a crash half-way leaves only a staging directory behind.
fn ensure_cluster(
    bins: &PgBinaries,
    opts: &EmbeddedOptions,
    data_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, EmbeddedPgError> {
    let pg_dir = data_dir.join(CLUSTER_DIR);
    if pg_dir.exists() {
        if !pg_dir.join("PG_VERSION").is_file() {
            return Err(EmbeddedPgError::NotACluster(pg_dir));
        }
        // The owner may differ after a restore from backup; postgres insists on owning its data dir.
        chown_to(&pg_dir, run_as)?;
        return Ok(pg_dir);
    }
    let staging = data_dir.join(format!("{CLUSTER_DIR}.staging"));
    remove_if_exists(&staging)?;
    match &opts.template_cache {
        Some(cache) => {
            let template = template_cluster(bins, cache, run_as)?;
            copy_cluster(&template, &staging, run_as)?;
        }
        None => initdb(bins, &staging, opts.fsync, run_as)?,
    }
    fs::rename(&staging, &pg_dir).map_err(io_err("creating", &pg_dir))?;
    Ok(pg_dir)
}

/// Replaces the cluster's `pg_hba.conf` with [`PG_HBA_CONF`] (write, then rename: never half a file).
fn write_pg_hba(cluster_dir: &Path, run_as: Option<&RunAs>) -> Result<(), EmbeddedPgError> {
    let path = cluster_dir.join("pg_hba.conf");
    let staging = cluster_dir.join("pg_hba.conf.smartro-gateway");
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&staging)
        .map_err(io_err("writing", &staging))?;
    file.write_all(PG_HBA_CONF.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(io_err("writing", &staging))?;
    drop(file);
    chown_to(&staging, run_as)?;
    fs::rename(&staging, &path).map_err(io_err("replacing", &path))
}

/// The number that names the server's socket file (`.s.PGSQL.<port>`); nothing listens on it over TCP. A fresh
/// one on every start, so that a socket lock file left by a killed server (whose pid may since belong to another
/// process) never blocks a start. Taken from the free TCP ports so that no local service answers on it either.
fn free_port() -> Result<u16, EmbeddedPgError> {
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0);
    let listener = TcpListener::bind(addr).map_err(|source| EmbeddedPgError::Io {
        action: "finding a free port on",
        path: PathBuf::from("127.0.0.1"),
        source,
    })?;
    let port = listener
        .local_addr()
        .map_err(io_err("finding a free port on", Path::new("127.0.0.1")))?
        .port();
    Ok(port)
}

fn tail_lines(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The last lines the server wrote to the log since `offset`.
fn log_tail(log: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(log) {
        let mut bytes = Vec::new();
        if file.seek(SeekFrom::Start(offset)).is_ok() && file.read_to_end(&mut bytes).is_ok() {
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
    }
    tail_lines(&text, 20)
}

/// What the server's exit status and log say about a failed start.
enum StartFailure {
    PortTaken,
    /// A previous server on this data dir is still shutting down (or its shared memory is still attached).
    PreviousServer,
    Fatal(String),
}

fn classify_failure(tail: &str, reason: String) -> StartFailure {
    // A live process holding the socket lock file of this port number: try another number.
    let socket_locked = tail
        .lines()
        .any(|line| line.contains(".s.PGSQL.") && line.contains("already exists"));
    if tail.contains("could not bind")
        || tail.contains("could not create any Unix-domain sockets")
        || socket_locked
    {
        StartFailure::PortTaken
    } else if tail.contains("pre-existing shared memory block")
        || tail.contains("lock file \"postmaster.pid\" already exists")
    {
        StartFailure::PreviousServer
    } else {
        StartFailure::Fatal(reason)
    }
}

enum Order {
    /// Fast shutdown; the reply (when asked for) comes once the server is gone.
    Stop(Option<tokio::sync::oneshot::Sender<Result<(), String>>>),
}

/// The thread that owns the server process. It must outlive the server: PDEATHSIG follows the spawning thread.
struct Supervisor {
    orders: mpsc::Sender<Order>,
    thread: Option<JoinHandle<()>>,
    exited: Arc<Mutex<Option<ExitStatus>>>,
    pid: u32,
}

impl Supervisor {
    fn spawn(mut cmd: Command) -> Result<Supervisor, io::Error> {
        let (orders_tx, orders_rx) = mpsc::channel::<Order>();
        let (started_tx, started_rx) = mpsc::channel::<io::Result<u32>>();
        let exited = Arc::new(Mutex::new(None));
        let exited_in_thread = Arc::clone(&exited);
        let thread = std::thread::Builder::new()
            .name("embedded-postgres".to_string())
            .spawn(move || {
                let mut child = match cmd.spawn() {
                    Ok(child) => child,
                    Err(err) => {
                        let _ = started_tx.send(Err(err));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(child.id()));
                supervise(&mut child, &orders_rx, &exited_in_thread);
            })?;
        match started_rx.recv() {
            Ok(Ok(pid)) => Ok(Supervisor {
                orders: orders_tx,
                thread: Some(thread),
                exited,
                pid,
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "the supervisor thread ended before starting postgres",
                ))
            }
        }
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        self.exited.lock().map(|status| *status).unwrap_or(None)
    }

    fn stop_blocking(&mut self) {
        let _ = self.orders.send(Order::Stop(None));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        self.stop_blocking();
    }
}

fn supervise(
    child: &mut Child,
    orders: &mpsc::Receiver<Order>,
    exited: &Mutex<Option<ExitStatus>>,
) {
    loop {
        match orders.recv_timeout(Duration::from_millis(50)) {
            Ok(Order::Stop(reply)) => {
                let result = shutdown(child);
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
                return;
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = shutdown(child);
                return;
            }
            Err(RecvTimeoutError::Timeout) => match child.try_wait() {
                Ok(Some(status)) => {
                    if let Ok(mut slot) = exited.lock() {
                        *slot = Some(status);
                    }
                    tracing::warn!(%status, "embedded PostgreSQL exited");
                    // Stay to answer the stop order, so stop() reports a clean result.
                    if let Ok(Order::Stop(Some(reply))) = orders.recv() {
                        let _ = reply.send(Ok(()));
                    }
                    return;
                }
                Ok(None) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "cannot watch the embedded PostgreSQL process");
                }
            },
        }
    }
}

fn signal(child: &Child, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(child.id()) {
        // SAFETY: kill has no memory-safety preconditions; the child is not reaped yet, so the pid is still ours.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

fn wait_for_exit(child: &mut Child, grace: Duration) -> io::Result<bool> {
    let deadline = Instant::now() + grace;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(true);
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Fast shutdown (SIGINT), then immediate shutdown (SIGQUIT), then SIGKILL.
fn shutdown(child: &mut Child) -> Result<(), String> {
    match child.try_wait() {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => {}
        Err(err) => return Err(err.to_string()),
    }
    signal(child, libc::SIGINT);
    if wait_for_exit(child, FAST_SHUTDOWN_GRACE).map_err(|err| err.to_string())? {
        return Ok(());
    }
    tracing::warn!("embedded PostgreSQL ignored fast shutdown; sending SIGQUIT");
    signal(child, libc::SIGQUIT);
    if wait_for_exit(child, IMMEDIATE_SHUTDOWN_GRACE).map_err(|err| err.to_string())? {
        return Ok(());
    }
    child.kill().map_err(|err| err.to_string())?;
    child.wait().map_err(|err| err.to_string())?;
    Err("the server had to be killed with SIGKILL".to_string())
}

/// The URL of `database` as [`SUPERUSER`] through the socket `<socket_dir>/.s.PGSQL.<port>`: the directory goes
/// percent-encoded in the host part, where sqlx and libpq both read a leading `/` as a socket directory.
pub fn socket_url(socket_dir: &Path, port: u16, database: &str) -> String {
    let host = utf8_percent_encode(&socket_dir.to_string_lossy(), NON_ALPHANUMERIC).to_string();
    format!("postgres://{SUPERUSER}@{host}:{port}/{database}")
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

struct Prepared {
    bins: PgBinaries,
    run_as: Option<RunAs>,
    data_dir: PathBuf,
    cluster_dir: PathBuf,
    socket_dir: PathBuf,
    log_path: PathBuf,
}

fn prepare(opts: &EmbeddedOptions) -> Result<Prepared, EmbeddedPgError> {
    let bins = PgBinaries::locate()?;
    let run_as = run_as()?;
    fs::create_dir_all(&opts.data_dir).map_err(io_err("creating", &opts.data_dir))?;
    let data_dir = fs::canonicalize(&opts.data_dir).map_err(io_err("resolving", &opts.data_dir))?;
    if let Some(user) = &run_as {
        // Probe with the real credentials: spawning fails if the server's user cannot enter the directory.
        command(&bins.postgres(), Some(user))
            .arg("--version")
            .current_dir(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|source| EmbeddedPgError::Unreachable {
                path: data_dir.clone(),
                user: user.name.clone(),
                source,
            })?;
    }
    let socket_dir = data_dir.join(SOCKET_DIR);
    // The socket is the only way in: without one the server would be unreachable.
    if socket_dir.as_os_str().len() > MAX_SOCKET_DIR_LEN {
        return Err(EmbeddedPgError::SocketPathTooLong(socket_dir));
    }
    let cluster_dir = ensure_cluster(&bins, opts, &data_dir, run_as.as_ref())?;
    if !socket_dir.exists() {
        private_dir(&socket_dir, run_as.as_ref())?;
    }
    // Enforced on every start, not only at creation: the directory's mode is what keeps other OS users away from a
    // socket that trusts whoever reaches it.
    chown_to(&socket_dir, run_as.as_ref())?;
    fs::set_permissions(&socket_dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("restricting the permissions of", &socket_dir))?;
    write_pg_hba(&cluster_dir, run_as.as_ref())?;
    let log_path = data_dir.join(LOG_FILE);
    Ok(Prepared {
        bins,
        run_as,
        data_dir,
        cluster_dir,
        socket_dir,
        log_path,
    })
}

fn server_command(
    prepared: &Prepared,
    opts: &EmbeddedOptions,
    port: u16,
    log: &File,
) -> Result<Command, EmbeddedPgError> {
    let log_err = io_err("opening", &prepared.log_path);
    let stdout = log.try_clone().map_err(log_err)?;
    let stderr = log
        .try_clone()
        .map_err(io_err("opening", &prepared.log_path))?;
    let mut cmd = command(&prepared.bins.postgres(), prepared.run_as.as_ref());
    // Command-line settings win over postgresql.conf and postgresql.auto.conf, so a listen_addresses or hba_file
    // left there (by an older version or ALTER SYSTEM) cannot open TCP again or bypass PG_HBA_CONF.
    cmd.arg("-D")
        .arg(&prepared.cluster_dir)
        .arg("-p")
        .arg(port.to_string())
        .arg("-c")
        .arg("listen_addresses=")
        .arg("-c")
        // Quoted: the setting is a comma-separated list, and a path may hold commas or spaces.
        .arg(format!(
            "unix_socket_directories=\"{}\"",
            prepared
                .socket_dir
                .display()
                .to_string()
                .replace('"', "\"\"")
        ))
        .arg("-c")
        .arg("unix_socket_permissions=0700")
        .arg("-c")
        .arg(format!(
            "hba_file={}",
            prepared.cluster_dir.join("pg_hba.conf").display()
        ))
        .arg("-c")
        .arg(format!("max_connections={}", opts.max_connections))
        .current_dir(&prepared.cluster_dir)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        // Its own process group: a Ctrl-C in the terminal is the gateway's to handle, which then stops the server.
        .process_group(0);
    if !opts.fsync {
        for setting in [
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ] {
            cmd.arg("-c").arg(setting);
        }
    }
    // SAFETY: getpid is async-signal-safe and is called before the fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe functions (prctl, getppid)
    // without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGINT as libc::c_ulong,
                0,
                0,
                0,
            ) == -1
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect; then nobody would ever stop this server.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
    Ok(cmd)
}

async fn launch(
    opts: &EmbeddedOptions,
    prepared: Prepared,
) -> Result<EmbeddedPostgres, EmbeddedPgError> {
    let log_path = prepared.log_path.clone();
    let deadline = Instant::now() + opts.startup_timeout;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io_err("opening", &log_path))?;
        let log_offset = log.metadata().map(|m| m.len()).unwrap_or(0);
        let port = free_port()?;
        let cmd = server_command(&prepared, opts, port, &log)?;
        drop(log);
        let supervisor =
            Supervisor::spawn(cmd).map_err(io_err("starting", &prepared.bins.postgres()))?;
        let mut server = EmbeddedPostgres {
            port,
            data_dir: prepared.data_dir.clone(),
            cluster_dir: prepared.cluster_dir.clone(),
            socket_dir: prepared.socket_dir.clone(),
            log_path: log_path.clone(),
            supervisor: Some(supervisor),
        };
        let failure = match wait_until_ready(&server, deadline).await {
            Ok(()) => {
                tracing::info!(port, pid = server.pid(), socket_dir = %server.socket_dir.display(), "embedded PostgreSQL started");
                return Ok(server);
            }
            Err(reason) => reason,
        };
        if let Some(mut supervisor) = server.supervisor.take() {
            supervisor.stop_blocking();
        }
        let tail = log_tail(&log_path, log_offset);
        let retry_allowed = attempt < MAX_START_ATTEMPTS && Instant::now() < deadline;
        match classify_failure(&tail, failure) {
            StartFailure::PortTaken if retry_allowed => continue,
            StartFailure::PreviousServer if retry_allowed => {
                tokio::time::sleep(Duration::from_millis(250)).await;
                continue;
            }
            StartFailure::PortTaken => {
                return Err(EmbeddedPgError::Startup {
                    reason: "no free port found".to_string(),
                    log: log_path,
                    tail,
                })
            }
            StartFailure::PreviousServer => {
                return Err(EmbeddedPgError::Startup {
                    reason: "another server still uses the data directory".to_string(),
                    log: log_path,
                    tail,
                })
            }
            StartFailure::Fatal(reason) => {
                return Err(EmbeddedPgError::Startup {
                    reason,
                    log: log_path,
                    tail,
                })
            }
        }
    }
}

/// Polls until the server answers a real connection: the socket file appears before the server accepts sessions.
async fn wait_until_ready(server: &EmbeddedPostgres, deadline: Instant) -> Result<(), String> {
    let options = server.connect_options("postgres");
    loop {
        if let Some(status) = server.supervisor.as_ref().and_then(Supervisor::exit_status) {
            return Err(format!("postgres exited with {status}"));
        }
        if let Ok(Ok(conn)) =
            tokio::time::timeout(Duration::from_secs(2), PgConnection::connect_with(&options)).await
        {
            let _ = conn.close().await;
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err("timed out waiting for it to accept connections".to_string());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin_dir(root: &Path, name: &str, binaries: &[&str]) -> PathBuf {
        let dir = root.join(name);
        fs::create_dir_all(&dir).unwrap();
        for binary in binaries {
            let path = dir.join(binary);
            fs::write(&path, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        dir
    }

    #[test]
    fn missing_installation_is_one_clear_line() {
        let root = tempfile::tempdir().unwrap();
        let only_initdb = fake_bin_dir(root.path(), "half", &["initdb"]);
        let result = locate_in(
            None,
            Some(only_initdb.into_os_string()),
            &root.path().join("none"),
        );
        let err = result.unwrap_err();
        assert!(matches!(err, EmbeddedPgError::NotInstalled));
        let text = err.to_string();
        assert_eq!(text.lines().count(), 1);
        assert!(
            text.starts_with("PostgreSQL server binaries (initdb, postgres) not found"),
            "{text}"
        );
        assert!(text.contains("DATABASE_URL"), "{text}");
    }

    #[test]
    fn pg_bin_dir_wins_and_must_hold_the_binaries() {
        let root = tempfile::tempdir().unwrap();
        let explicit = fake_bin_dir(root.path(), "explicit", &["initdb", "postgres"]);
        let on_path = fake_bin_dir(root.path(), "path", &["initdb", "postgres"]);
        let found = locate_in(
            Some(explicit.clone().into_os_string()),
            Some(on_path.clone().into_os_string()),
            root.path(),
        );
        assert_eq!(found.unwrap().dir, explicit);
        let empty = fake_bin_dir(root.path(), "empty", &[]);
        let err = locate_in(
            Some(empty.clone().into_os_string()),
            Some(on_path.into_os_string()),
            root.path(),
        )
        .unwrap_err();
        assert!(matches!(err, EmbeddedPgError::BadBinDir(dir) if dir == empty));
    }

    #[test]
    fn versioned_directories_are_tried_newest_first() {
        let root = tempfile::tempdir().unwrap();
        let versioned = root.path().join("postgresql");
        for major in ["9", "14", "16"] {
            fake_bin_dir(&versioned, &format!("{major}/bin"), &["initdb", "postgres"]);
        }
        let found = locate_in(None, None, &versioned).unwrap();
        assert_eq!(found.dir, versioned.join("16/bin"));
    }

    #[test]
    fn startup_failures_are_classified_from_the_log() {
        let taken = "LOG:  could not bind IPv4 address \"127.0.0.1\": Address already in use";
        assert!(matches!(
            classify_failure(taken, String::new()),
            StartFailure::PortTaken
        ));
        let previous = "FATAL:  lock file \"postmaster.pid\" already exists";
        assert!(matches!(
            classify_failure(previous, String::new()),
            StartFailure::PreviousServer
        ));
        let socket_locked = "FATAL:  lock file \"/d/run/.s.PGSQL.5433.lock\" already exists\n\
                             HINT:  Is another postmaster (PID 77) using socket file \"/d/run/.s.PGSQL.5433\"?";
        assert!(matches!(
            classify_failure(socket_locked, String::new()),
            StartFailure::PortTaken
        ));
        let no_socket =
            "LOG:  could not bind Unix address \"/d/run/.s.PGSQL.5433\": Address already in use\n\
                         FATAL:  could not create any Unix-domain sockets";
        assert!(matches!(
            classify_failure(no_socket, String::new()),
            StartFailure::PortTaken
        ));
        let fatal = "FATAL:  database files are incompatible with server";
        assert!(
            matches!(classify_failure(fatal, "exit 1".into()), StartFailure::Fatal(reason) if reason == "exit 1")
        );
    }

    #[test]
    fn database_names_are_plain_identifiers() {
        assert!(valid_database_name("gateway"));
        assert!(valid_database_name("test_0af3"));
        assert!(!valid_database_name(""));
        assert!(!valid_database_name("1db"));
        assert!(!valid_database_name("gate\"way"));
        assert!(!valid_database_name(&"a".repeat(64)));
    }

    #[test]
    fn log_tail_keeps_the_last_lines_after_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("postgres.log");
        let old = "old run\n";
        let new: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        fs::write(&log, format!("{old}{new}")).unwrap();
        let tail = log_tail(&log, old.len() as u64);
        assert!(!tail.contains("old run"));
        assert!(tail.starts_with("line 11"), "{tail}");
        assert!(tail.ends_with("line 30"), "{tail}");
    }

    #[test]
    fn the_url_reaches_the_socket_directory() {
        use std::str::FromStr;
        let dir = Path::new("/tmp/a dir,with-odd_chars/run");
        let url = socket_url(dir, 54321, "gateway");
        assert!(url.starts_with("postgres://gateway@%2Ftmp%2F"), "{url}");
        assert!(url.ends_with(":54321/gateway"), "{url}");
        let options = PgConnectOptions::from_str(&url).unwrap();
        assert_eq!(options.get_socket().map(PathBuf::as_path), Some(dir));
        assert_eq!(options.get_port(), 54321);
        assert_eq!(options.get_database(), Some("gateway"));
        assert_eq!(options.get_username(), SUPERUSER);
    }

    #[test]
    fn pg_hba_allows_local_connections_only() {
        let entries: Vec<&str> = PG_HBA_CONF
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .collect();
        assert_eq!(entries, ["local all all trust"]);
    }
}
