//! The server process: its command line, the start with retries, and the thread that supervises it until it stops.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sqlx::{Connection, PgConnection};

use super::access::free_port;
use super::cluster::{command, tail_lines, Prepared};
use super::{io_err, EmbeddedOptions, EmbeddedPgError, EmbeddedPostgres};

const FAST_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const IMMEDIATE_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
const MAX_START_ATTEMPTS: u32 = 20;

/// The last lines the server wrote to the log since `offset`.
pub(super) fn log_tail(log: &Path, offset: u64) -> String {
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
pub(super) enum StartFailure {
    PortTaken,
    /// A previous server on this data dir is still shutting down (or its shared memory is still attached).
    PreviousServer,
    Fatal(String),
}

pub(super) fn classify_failure(tail: &str, reason: String) -> StartFailure {
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

pub(super) enum Order {
    /// Fast shutdown; the reply (when asked for) comes once the server is gone.
    Stop(Option<tokio::sync::oneshot::Sender<Result<(), String>>>),
}

/// The thread that owns the server process. It must outlive the server: PDEATHSIG follows the spawning thread.
pub(super) struct Supervisor {
    pub(super) orders: mpsc::Sender<Order>,
    pub(super) thread: Option<JoinHandle<()>>,
    exited: Arc<Mutex<Option<ExitStatus>>>,
    pub(super) pid: u32,
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

    pub(super) fn stop_blocking(&mut self) {
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

pub(super) async fn launch(
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
