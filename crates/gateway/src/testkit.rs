//! Test support: one throwaway PostgreSQL cluster per test process and a fresh, migrated database per test.
//!
//! Works under cargo-nextest (a process per test) and plain `cargo test` (many tests, each with its own tokio
//! runtime, in one process). The server lives on its own thread, not on any test's runtime, so it outlives the test
//! that happened to start it; pools are created inside the calling test's runtime.
//!
//! Cost per process: initdb runs once per machine into a cached template (see
//! [`EmbeddedOptions::template_cache`]), which each process copies. The cluster is shut down and its directory
//! removed when the process exits; directories left by killed processes are swept by the next one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};
use tokio::sync::OnceCell;

use crate::embedded_pg::{EmbeddedOptions, EmbeddedPgError, EmbeddedPostgres};

/// The gateway's migrations, as the tests apply them: the service's own, never a copy.
pub use crate::store::MIGRATOR;

const CLUSTERS_DIR: &str = "smartro-gateway-test-clusters";

/// A database of its own for one test.
#[derive(Debug, Clone)]
pub struct TestDatabase {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
}

/// The process's cluster, started on first use. Panics with the reason when PostgreSQL cannot be started: a missing
/// installation must fail tests loudly, never skip them.
pub async fn test_cluster() -> &'static EmbeddedPostgres {
    static CLUSTER: OnceCell<EmbeddedPostgres> = OnceCell::const_new();
    match CLUSTER.get_or_try_init(start_test_cluster).await {
        Ok(cluster) => cluster,
        Err(err) => panic!("cannot start the test PostgreSQL cluster: {err}"),
    }
}

/// A new database (`test_<uuid>`) on the process's cluster with all migrations applied.
pub async fn fresh_database() -> TestDatabase {
    let cluster = test_cluster().await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = match PgConnection::connect_with(&cluster.connect_options("postgres")).await {
        Ok(conn) => conn,
        Err(err) => panic!("cannot connect to the test cluster: {err}"),
    };
    if let Err(err) = admin
        .execute(format!("CREATE DATABASE \"{name}\"").as_str())
        .await
    {
        panic!("cannot create test database {name}: {err}");
    }
    let _ = admin.close().await;
    let pool = match PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(cluster.connect_options(&name))
        .await
    {
        Ok(pool) => pool,
        Err(err) => panic!("cannot connect to test database {name}: {err}"),
    };
    if let Err(err) = MIGRATOR.run(&pool).await {
        panic!("cannot migrate test database {name}: {err}");
    }
    TestDatabase {
        url: cluster.url(&name),
        pool,
        name,
    }
}

fn clusters_root() -> PathBuf {
    std::env::temp_dir().join(CLUSTERS_DIR)
}

async fn start_test_cluster() -> Result<EmbeddedPostgres, EmbeddedPgError> {
    let root = clusters_root();
    // World-traversable: as root the server runs as the `postgres` user and must reach its directory.
    std::fs::create_dir_all(&root).map_err(|source| EmbeddedPgError::Io {
        action: "creating",
        path: root.clone(),
        source,
    })?;
    let _ = std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o1777));
    sweep_abandoned_clusters(&root);
    let data_dir = root.join(std::process::id().to_string());
    // A directory with our pid belongs to a dead process whose pid was reused.
    let _ = std::fs::remove_dir_all(&data_dir);
    let options = EmbeddedOptions {
        data_dir: data_dir.clone(),
        fsync: false,
        template_cache: Some(std::env::temp_dir()),
        database: None,
        // `cargo test` runs many tests at once, each with its own pool.
        max_connections: 300,
        startup_timeout: Duration::from_secs(60),
    };
    let cluster = EmbeddedPostgres::start_with(options).await?;
    remove_at_exit(cluster.pid(), data_dir);
    Ok(cluster)
}

/// Removes cluster directories whose test process is gone and whose server has stopped.
fn sweep_abandoned_clusters(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let Some(owner) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if process_alive(owner) {
            continue;
        }
        let postmaster = std::fs::read_to_string(entry.path().join("pg/postmaster.pid"))
            .ok()
            .and_then(|text| {
                text.lines()
                    .next()
                    .and_then(|line| line.trim().parse::<i32>().ok())
            });
        if postmaster.is_some_and(process_alive) {
            continue;
        }
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    if rc == 0 {
        // A zombie still answers kill(0) but holds nothing.
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next());
        return state != Some("Z");
    }
    std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// What the exit handler must clean up.
struct ExitCleanup {
    postmaster: i32,
    data_dir: PathBuf,
}

static EXIT_CLEANUP: OnceLock<ExitCleanup> = OnceLock::new();

fn remove_at_exit(postmaster: u32, data_dir: PathBuf) {
    let Ok(postmaster) = i32::try_from(postmaster) else {
        return;
    };
    if EXIT_CLEANUP
        .set(ExitCleanup {
            postmaster,
            data_dir,
        })
        .is_ok()
    {
        // SAFETY: registering a plain extern "C" function with no arguments.
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
    }
}

/// Statics are never dropped, so the process's exit is the only moment to stop the cluster and free its disk space.
/// An immediate shutdown is enough: the data is thrown away.
extern "C" fn cleanup_at_exit() {
    let Some(cleanup) = EXIT_CLEANUP.get() else {
        return;
    };
    // SAFETY: signalling and reaping our own child process; waitpid fails harmlessly (ECHILD) if the supervisor
    // thread reaped it first.
    unsafe {
        libc::kill(cleanup.postmaster, libc::SIGQUIT);
        for _ in 0..500 {
            let mut status = 0;
            let reaped = libc::waitpid(cleanup.postmaster, &mut status, libc::WNOHANG);
            if reaped != 0 || !process_alive(cleanup.postmaster) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let _ = std::fs::remove_dir_all(&cleanup.data_dir);
}
