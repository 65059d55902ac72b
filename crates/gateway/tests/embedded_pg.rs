//! The embedded PostgreSQL against the real server binaries: durable restarts, crash recovery, shutdown.

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use gateway::embedded_pg::{
    EmbeddedOptions, EmbeddedPgError, EmbeddedPostgres, PG_HBA_CONF, SUPERUSER,
};
use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, Executor, PgConnection};

/// A temp dir the `postgres` OS user can traverse (tempfile makes 0700 dirs) when the tests run as root.
fn data_root() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("smartro-gateway-embedded-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn options(data_dir: &Path) -> EmbeddedOptions {
    EmbeddedOptions {
        // Durable (synchronous commits) so that a SIGKILL cannot lose the committed row; the template only saves
        // the initdb time.
        template_cache: Some(std::env::temp_dir()),
        ..EmbeddedOptions::new(data_dir)
    }
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    state.is_some() && state != Some("Z")
}

async fn wait_gone(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while alive(pid) {
        assert!(Instant::now() < deadline, "postgres {pid} is still running");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn connect(pg: &EmbeddedPostgres) -> PgConnection {
    PgConnection::connect(&pg.url("gateway")).await.unwrap()
}

#[tokio::test]
async fn a_killed_server_restarts_on_the_same_data_dir_with_its_data() {
    let root = data_root();
    let data_dir = root.path().join("data");

    let started = Instant::now();
    let first = EmbeddedPostgres::start_with(options(&data_dir))
        .await
        .unwrap();
    eprintln!(
        "first start (template copy + start + CREATE DATABASE): {:?}",
        started.elapsed()
    );
    // Through the socket directory, percent-encoded in the host part.
    assert!(first.url("gateway").starts_with("postgres://gateway@%2F"));
    assert!(first
        .url("gateway")
        .ends_with(&format!(":{}/gateway", first.port())));
    let mut conn = connect(&first).await;
    conn.execute("CREATE TABLE kept (note text NOT NULL)")
        .await
        .unwrap();
    conn.execute("INSERT INTO kept VALUES ('committed before the crash')")
        .await
        .unwrap();
    conn.close().await.unwrap();

    let pid = first.pid();
    // SAFETY: signalling the server process this test started.
    assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
    wait_gone(pid).await;
    assert!(
        data_dir.join("pg/postmaster.pid").exists(),
        "a SIGKILL leaves a stale postmaster.pid behind"
    );
    drop(first);

    let started = Instant::now();
    let second = EmbeddedPostgres::start_with(options(&data_dir))
        .await
        .unwrap();
    eprintln!(
        "restart after SIGKILL (crash recovery): {:?}",
        started.elapsed()
    );
    assert_ne!(second.pid(), pid);
    let mut conn = connect(&second).await;
    let note: String = sqlx::query_scalar("SELECT note FROM kept")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(note, "committed before the crash");
    conn.close().await.unwrap();

    let pid = second.pid();
    second.stop().await.unwrap();
    assert!(!alive(pid));
    assert!(
        !data_dir.join("pg/postmaster.pid").exists(),
        "a clean shutdown removes postmaster.pid"
    );
    let log = std::fs::read_to_string(data_dir.join("postgres.log")).unwrap();
    assert!(log.contains("database system is shut down"), "{log}");
}

#[tokio::test]
async fn dropping_the_handle_stops_the_server_and_a_new_one_starts_fresh() {
    let root = data_root();
    let data_dir = root.path().join("data");
    // No template: this one runs initdb itself, as the gateway does on a fresh machine.
    let mut opts = EmbeddedOptions::new(&data_dir);
    opts.fsync = false;
    opts.database = Some("shop_db".to_string());
    let pg = EmbeddedPostgres::start_with(opts.clone()).await.unwrap();
    let mut conn = PgConnection::connect(&pg.url("shop_db")).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
    conn.close().await.unwrap();
    let pid = pg.pid();
    drop(pg);
    assert!(!alive(pid), "drop waits for the server to exit");

    // The database already exists now; starting again must not fail on it.
    let again = EmbeddedPostgres::start_with(opts).await.unwrap();
    again.create_database_if_missing("shop_db").await.unwrap();
    again.stop().await.unwrap();
}

#[tokio::test]
async fn unusable_names_and_directories_are_clear_errors() {
    let root = data_root();
    let mut opts = options(&root.path().join("data"));
    opts.database = Some("drop table; --".to_string());
    let err = EmbeddedPostgres::start_with(opts).await.unwrap_err();
    assert!(
        matches!(err, EmbeddedPgError::InvalidDatabaseName(_)),
        "{err}"
    );

    // A file where the cluster directory should be.
    let data_dir = root.path().join("occupied");
    std::fs::create_dir_all(data_dir.join("pg")).unwrap();
    std::fs::write(data_dir.join("pg/notes.txt"), "not a cluster").unwrap();
    let err = EmbeddedPostgres::start_with(options(&data_dir))
        .await
        .unwrap_err();
    assert!(matches!(err, EmbeddedPgError::NotACluster(_)), "{err}");

    // No socket, no way in: a path too long for one is refused before anything is created.
    let deep = root.path().join("d".repeat(90));
    let err = EmbeddedPostgres::start_with(options(&deep))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbeddedPgError::SocketPathTooLong(_)),
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
    assert!(!deep.join("pg").exists());
}

/// The `pg_hba.conf` lines for TCP connections (`host`, `hostssl`, `hostnossl`, ...) that use `trust`.
fn tcp_trust_lines(pg_hba: &str) -> Vec<&str> {
    pg_hba
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            let mut fields = line.split_whitespace();
            let kind = fields.next().unwrap_or_default();
            kind.starts_with("host") && fields.any(|field| field == "trust")
        })
        .collect()
}

/// What a local process without the socket can do: connect over TCP to the cluster's port number.
async fn assert_no_tcp(pg: &EmbeddedPostgres) {
    let mut conn = connect(pg).await;
    let listen: String = sqlx::query_scalar("SHOW listen_addresses")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(listen, "", "the server listens on no TCP address");
    conn.close().await.unwrap();
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, pg.port()));
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_err(),
        "nothing accepts TCP on {addr}"
    );
    let over_tcp = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(pg.port())
        .username(SUPERUSER)
        .database("gateway");
    assert!(PgConnection::connect_with(&over_tcp).await.is_err());
}

/// The socket directory: mode 0700, owned by the OS user the server runs as (its data files' owner).
fn assert_private_socket_dir(pg: &EmbeddedPostgres) {
    let dir = std::fs::metadata(pg.socket_dir()).unwrap();
    assert_eq!(dir.permissions().mode() & 0o777, 0o700);
    let cluster = std::fs::metadata(pg.cluster_dir()).unwrap();
    assert_eq!(dir.uid(), cluster.uid(), "owned by the server's OS user");
    assert!(pg.socket_path().starts_with(pg.data_dir()));
    assert!(std::fs::symlink_metadata(pg.socket_path()).is_ok());
}

#[tokio::test]
async fn the_server_is_reached_through_its_socket_only_and_never_trusts_tcp() {
    let root = data_root();
    let pg = EmbeddedPostgres::start_with(options(&root.path().join("data")))
        .await
        .unwrap();
    let pg_hba = std::fs::read_to_string(pg.cluster_dir().join("pg_hba.conf")).unwrap();
    assert_eq!(tcp_trust_lines(&pg_hba), Vec::<&str>::new(), "{pg_hba}");
    assert_eq!(pg_hba, PG_HBA_CONF);
    assert_no_tcp(&pg).await;
    assert_private_socket_dir(&pg);
    pg.stop().await.unwrap();
}

#[tokio::test]
async fn a_cluster_of_an_older_version_that_trusted_tcp_is_fixed_up_at_start() {
    let root = data_root();
    let data_dir = root.path().join("data");
    let pg = EmbeddedPostgres::start_with(options(&data_dir))
        .await
        .unwrap();
    pg.stop().await.unwrap();
    // What older versions left: initdb --auth=trust (TCP trusted on loopback), and a listen address on 127.0.0.1
    // (here in postgresql.auto.conf, as ALTER SYSTEM would write it), a socket directory open to everyone.
    let cluster = data_dir.join("pg");
    let old_hba =
        "local all all trust\nhost all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n";
    std::fs::write(cluster.join("pg_hba.conf"), old_hba).unwrap();
    let mut auto_conf = std::fs::read_to_string(cluster.join("postgresql.auto.conf")).unwrap();
    auto_conf.push_str("listen_addresses = '127.0.0.1'\n");
    std::fs::write(cluster.join("postgresql.auto.conf"), auto_conf).unwrap();
    std::fs::set_permissions(data_dir.join("run"), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(
        tcp_trust_lines(old_hba).len(),
        2,
        "the check sees old lines"
    );

    let pg = EmbeddedPostgres::start_with(options(&data_dir))
        .await
        .unwrap();
    let pg_hba = std::fs::read_to_string(cluster.join("pg_hba.conf")).unwrap();
    assert_eq!(pg_hba, PG_HBA_CONF);
    assert_no_tcp(&pg).await;
    assert_private_socket_dir(&pg);
    pg.stop().await.unwrap();
}

#[tokio::test]
async fn as_root_a_data_dir_the_postgres_user_cannot_enter_is_refused() {
    let root = data_root();
    let private = root.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let result = EmbeddedPostgres::start_with(options(&private.join("data"))).await;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let err = result.unwrap_err();
        assert!(matches!(err, EmbeddedPgError::Unreachable { .. }), "{err}");
        assert!(err.to_string().contains("`postgres` OS user"), "{err}");
    } else {
        // Not root: the server runs as this user, who owns the directory.
        result.unwrap().stop().await.unwrap();
    }
}
