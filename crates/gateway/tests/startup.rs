//! Starting and stopping the real `smartro-gateway` binary as a container runs it: the database may come up after
//! the gateway, a healthcheck asks the binary itself, stop signals end it within a second or two, and a failed
//! start says why in the log format configured.

mod common;
mod durability_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use durability_support::*;
use gateway::testkit::{fresh_database, test_cluster};
use serde_json::Value;

/// `smartro-gateway healthcheck` with the given bind address (what a container's healthcheck runs).
fn healthcheck(port: u16, path: Option<&str>) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"));
    cmd.arg("healthcheck")
        .env_clear()
        .env("GATEWAY__SERVER__BIND", format!("0.0.0.0:{port}"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = path {
        cmd.args(["--path", path]);
    }
    let out = cmd.output().expect("run healthcheck");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn status_of(http: &reqwest::Client, url: String) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_waits_for_its_database_and_says_so_once() {
    let db = fresh_database().await;
    // Nothing answers behind the proxy yet: the database is "still starting".
    let proxy = SocketProxy::start(test_cluster().await.socket_path()).await;
    proxy.set_upstream(None);
    let mut env = GatewayEnv::new(&proxy.url(&db.name));
    env.extra.push(("GATEWAY_LOG_FORMAT".into(), "json".into()));
    let mut gateway = GatewayProcess::spawn_unready("waiting", &env);
    let http = http_client();

    // It serves at once: alive, not ready.
    assert!(
        eventually(Duration::from_secs(10), || {
            let (http, url) = (http.clone(), gateway.url("/healthz"));
            async move { status_of(&http, url).await == Some(200) }
        })
        .await,
        "/healthz answers while the database is away:\n{}",
        gateway.log_text()
    );
    assert_eq!(status_of(&http, gateway.url("/readyz")).await, Some(503));
    assert!(healthcheck(gateway.port, Some("/healthz")).0);
    let (ok, why) = healthcheck(gateway.port, None);
    assert!(!ok, "not ready yet");
    assert!(why.contains("unhealthy") && why.contains("503"), "{why}");

    // A few seconds in, it says so, once, as JSON like every other line.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let log = gateway.log_text();
    let waiting: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("waiting for the database"))
        .collect();
    assert_eq!(waiting.len(), 1, "{log}");
    let line: Value = serde_json::from_str(waiting[0]).expect("a JSON log line");
    assert_eq!(line["level"], "WARN");
    assert_eq!(status_of(&http, gateway.url("/readyz")).await, Some(503));

    // The database comes up: ready without a restart, and it works.
    proxy.set_upstream(Some(test_cluster().await.socket_path()));
    gateway
        .wait_ready()
        .await
        .expect("ready once the database answers");
    assert!(healthcheck(gateway.port, None).0);
    let (status, order) = api(
        &http,
        reqwest::Method::POST,
        gateway.url("/v1/orders"),
        Some(common::card_order("START-1", 1000)),
    )
    .await;
    assert_eq!(status, 201, "{order}");

    // SIGTERM: gone within a second or two, cleanly.
    let asked = Instant::now();
    gateway.terminate();
    let status = gateway
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "{:?}",
        asked.elapsed()
    );
}

#[tokio::test]
async fn a_stop_signal_while_waiting_for_the_database_ends_it_at_once() {
    let proxy = SocketProxy::start(test_cluster().await.socket_path()).await;
    proxy.set_upstream(None);
    let mut gateway =
        GatewayProcess::spawn_unready("never-ready", &GatewayEnv::new(&proxy.url("gateway")));
    let http = http_client();
    assert!(
        eventually(Duration::from_secs(10), || {
            let (http, url) = (http.clone(), gateway.url("/healthz"));
            async move { status_of(&http, url).await == Some(200) }
        })
        .await
    );
    gateway.terminate();
    let status = gateway
        .wait_exit(Duration::from_secs(3))
        .await
        .expect("exits after SIGTERM while waiting");
    assert!(status.success(), "{status}\n{}", gateway.log_text());
}

#[tokio::test]
async fn a_healthcheck_of_nothing_fails() {
    let (ok, why) = healthcheck(free_port(), None);
    assert!(!ok);
    assert!(why.starts_with("unhealthy: "), "{why}");
    assert_eq!(why.lines().count(), 1, "{why}");
}

#[tokio::test]
async fn a_failed_start_is_one_line_in_the_log_format_configured() {
    // The port is taken: the gateway cannot serve.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let run = |json: bool, bind: String| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"));
        cmd.arg("serve")
            .env_clear()
            .env("GATEWAY__SERVER__BIND", bind)
            .env(
                "GATEWAY__DATABASE__URL",
                "postgres://gateway@127.0.0.1:1/none",
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if json {
            cmd.env("GATEWAY_LOG_FORMAT", "json");
        }
        let out = cmd.output().expect("run serve");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let stderr = run(true, format!("127.0.0.1:{port}"));
    let last = stderr.lines().last().expect("an error line");
    let line: Value = serde_json::from_str(last).expect("the error is JSON");
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["message"].as_str().unwrap().contains("could not bind"),
        "{line}"
    );

    let stderr = run(false, format!("127.0.0.1:{port}"));
    let last = stderr.lines().last().expect("an error line");
    assert!(last.starts_with("error: could not bind"), "{last}");
    assert!(serde_json::from_str::<Value>(last).is_err());

    // A configuration error, before anything starts, follows the same format.
    let stderr = run(true, "not-an-address".into());
    let line: Value = serde_json::from_str(stderr.trim()).expect("the error is JSON");
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid config: server.bind"),
        "{line}"
    );
    drop(taken);
}

#[test]
fn causes_are_named_once() {
    let io = std::io::Error::other("failed to lookup address information: Name does not resolve");
    let err = sqlx::Error::Io(io);
    let line = gateway::app::error_chain(&err);
    assert_eq!(
        line.matches("failed to lookup address information").count(),
        1,
        "{line}"
    );
}

#[test]
fn check_config_prints_the_effective_configuration_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        (
            "DATABASE_URL",
            "postgres://gateway:db-password-1@db/gateway",
        ),
        (
            "GATEWAY__MERCHANTS__0__MERCHANT_KEY",
            "merchant-key-secret-2",
        ),
        ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "cancel-pw-3"),
        ("GATEWAY__API__SECRET_KEYS", "sk_live_secret_key_4_abcdef"),
        ("GATEWAY__WEBHOOKS__SECRET", "whsec_secret_5"),
    ];
    let out = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"))
        .arg("check-config")
        .env_clear()
        .envs(secrets)
        .env("GATEWAY__WEBHOOKS__URL", "https://shop.example.com/hooks")
        .current_dir(dir.path())
        .output()
        .expect("run check-config");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    for (_, secret) in secrets {
        assert!(!stdout.contains(secret), "{secret} leaked:\n{stdout}");
    }
    let parsed = config::Config::builder()
        .add_source(config::File::from_str(&stdout, config::FileFormat::Toml))
        .build()
        .unwrap_or_else(|err| panic!("not valid TOML ({err}):\n{stdout}"));
    assert_eq!(parsed.get_string("database.url").unwrap(), "[redacted]");
    assert_eq!(
        parsed
            .get_string("smartro.effective_endpoints.pay_url")
            .unwrap(),
        "https://tpay.smilepay.co.kr/interfaceURL.jsp"
    );
    assert_eq!(parsed.get_string("merchants[0].mid").unwrap(), "SMTPAY001m");
    // scripts/bench.sh reads the pool size as the `max_connections = N` line under `[database]`.
    let database = stdout.split("\n[database]\n").nth(1).unwrap();
    let database = database.split("\n[").next().unwrap();
    assert!(
        database.lines().any(|line| line == "max_connections = 10"),
        "{stdout}"
    );

    // An invalid configuration: exit non-zero, one line naming the key, nothing printed.
    let out = Command::new(env!("CARGO_BIN_EXE_smartro-gateway"))
        .arg("check-config")
        .env_clear()
        .env(
            "GATEWAY__SERVER__PUBLIC_URL",
            "https://pay.example.com/?a=b",
        )
        .current_dir(dir.path())
        .output()
        .expect("run check-config");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("server.public_url"), "{stderr}");
}
