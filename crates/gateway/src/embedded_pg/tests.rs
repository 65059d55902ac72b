use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::cluster::locate_in;
use super::server::{classify_failure, log_tail, StartFailure};
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
