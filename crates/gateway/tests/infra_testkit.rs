//! The test cluster of `gateway::testkit`: isolation between fresh databases, one cluster shared by all tests of a
//! process, and nothing left behind when the process ends (normally or killed).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gateway::testkit::{fresh_database, test_cluster};
use sqlx::Executor;

const HELPER_ENV: &str = "SMARTRO_GATEWAY_TESTKIT_HELPER";

#[tokio::test]
async fn fresh_databases_are_isolated() {
    let started = Instant::now();
    let a = fresh_database().await;
    eprintln!(
        "first fresh_database in this process (cluster start included): {:?}",
        started.elapsed()
    );
    let started = Instant::now();
    let b = fresh_database().await;
    eprintln!("another fresh_database: {:?}", started.elapsed());
    assert_ne!(a.name, b.name);
    assert!(a.url.ends_with(&format!("/{}", a.name)));
    a.pool
        .execute("CREATE TABLE only_in_a (id int)")
        .await
        .unwrap();
    a.pool
        .execute("INSERT INTO only_in_a VALUES (1)")
        .await
        .unwrap();
    let in_a: i64 = sqlx::query_scalar("SELECT count(*) FROM only_in_a")
        .fetch_one(&a.pool)
        .await
        .unwrap();
    assert_eq!(in_a, 1);
    let in_b: Option<String> = sqlx::query_scalar("SELECT to_regclass('only_in_a')::text")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(in_b, None);
    let db: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&b.pool)
        .await
        .unwrap();
    assert_eq!(db, b.name);
}

#[tokio::test]
async fn migrations_are_applied_to_a_fresh_database() {
    let db = fresh_database().await;
    let expected = gateway::testkit::MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .count() as i64;
    let applied: i64 = if expected == 0 {
        0
    } else {
        sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&db.pool)
            .await
            .unwrap()
    };
    assert_eq!(applied, expected);
}

/// Under `cargo test` these share one process and one cluster, each on its own tokio runtime: the cluster must
/// outlive whichever test started it.
#[tokio::test]
async fn the_cluster_outlives_the_runtime_that_started_it_1() {
    many_databases_on_one_cluster().await;
}

#[tokio::test]
async fn the_cluster_outlives_the_runtime_that_started_it_2() {
    many_databases_on_one_cluster().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_outlives_the_runtime_that_started_it_3() {
    many_databases_on_one_cluster().await;
}

async fn many_databases_on_one_cluster() {
    let port = test_cluster().await.port();
    for _ in 0..3 {
        let db = fresh_database().await;
        assert!(db.url.contains(&format!(":{port}/")));
        let one: i32 = sqlx::query_scalar("SELECT 1")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
    }
}

/// Runs [`exit_helper`] in a child process of this test binary.
fn spawn_helper(mode: &str) -> (Child, u32, PathBuf) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "exit_helper",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_ENV, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    // libtest may put "test exit_helper ... " in front of it on the same line.
    let line = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.find("CLUSTER ").map(|at| line[at..].to_string()))
        .expect("the helper prints its cluster");
    // "CLUSTER <pid> <data dir>"
    let mut parts = line.splitn(3, ' ').skip(1);
    let pid: u32 = parts.next().unwrap().parse().unwrap();
    let dir = PathBuf::from(parts.next().unwrap());
    // Keep draining so the helper never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, pid, dir)
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|rest| rest.split_whitespace().next());
    state.is_some() && state != Some("Z")
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_test_process_leaves_no_server_and_no_files_behind() {
    // Normal exit: the exit handler stops the server and removes the cluster directory.
    let (mut child, pid, dir) = spawn_helper("exit");
    assert!(child.wait().unwrap().success());
    assert!(!alive(pid), "postgres {pid} outlived its test process");
    assert!(!dir.exists(), "{} was left behind", dir.display());

    // SIGKILL: no exit handler runs; PDEATHSIG stops the server, and the next test process sweeps the directory.
    let (mut child, pid, killed_dir) = spawn_helper("hang");
    assert!(alive(pid));
    child.kill().unwrap();
    child.wait().unwrap();
    wait_until("the orphaned postgres stops", || !alive(pid));
    assert!(killed_dir.exists());
    let (mut child, _, _) = spawn_helper("exit");
    assert!(child.wait().unwrap().success());
    assert!(
        !killed_dir.exists(),
        "the next test process sweeps {}",
        killed_dir.display()
    );
}

/// Not a test of its own: the child process of [`a_test_process_leaves_no_server_and_no_files_behind`].
#[tokio::test]
#[ignore = "helper process, run by a_test_process_leaves_no_server_and_no_files_behind"]
async fn exit_helper() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return;
    };
    let cluster = test_cluster().await;
    let db = fresh_database().await;
    sqlx::query("SELECT 1").execute(&db.pool).await.unwrap();
    println!("CLUSTER {} {}", cluster.pid(), cluster.data_dir().display());
    if mode == "hang" {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
    }
}
