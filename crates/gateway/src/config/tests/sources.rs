//! The layers: compiled-in defaults, the chosen file, the environment (list keys, numeric indexes), DATABASE_URL.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use smartro::endpoints::{Endpoints, Environment};

use super::{env, load, load_err, KEY_001};
use crate::config::Settings;

#[test]
fn defaults_run_a_fresh_machine_against_the_test_system() {
    let settings = load(None, &[]).unwrap();
    assert_eq!(
        settings.server.bind,
        "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(settings.server.public_url, "http://127.0.0.1:8080");
    assert!(settings.server.cors_origins.is_empty());
    assert_eq!(settings.server.request_timeout_secs, 30);
    assert!(settings.database.url.is_none());
    assert_eq!(settings.database.data_dir, PathBuf::from("./data"));
    assert_eq!(settings.database.max_connections, 10);
    assert_eq!(settings.smartro.environment, Environment::Test);
    assert_eq!(
        settings.smartro.endpoints(),
        Endpoints::for_environment(Environment::Test)
    );
    assert_eq!(settings.smartro.timeout_secs, 15);
    let mids: Vec<&str> = settings.merchants.iter().map(|m| m.mid.as_str()).collect();
    assert_eq!(
        mids,
        ["SMTPAY001m", "SMTPAY002m", "ECTEST001m", "SMTSUB001m"]
    );
    assert_eq!(settings.default_merchant().mid, "SMTPAY001m");
    assert_eq!(
        settings.default_merchant().merchant_key.expose_secret(),
        KEY_001
    );
    assert_eq!(
        settings.default_merchant().cancel_password.expose_secret(),
        "123456"
    );
    assert_eq!(
        settings.merchant("SMTPAY002m").map(|m| m.mid.as_str()),
        Some("SMTPAY002m")
    );
    assert!(settings.merchant("SMTPAY003m").is_none());
    let keys: Vec<&str> = settings
        .api
        .secret_keys
        .iter()
        .map(|k| k.expose_secret())
        .collect();
    assert_eq!(keys, ["sk_test_change_me"]);
    assert!(settings.webhooks.url.is_none() && settings.webhooks.secret.is_none());
    assert_eq!(settings.webhooks.retry_window_hours, 72);
    assert_eq!(settings.webhooks.timeout_secs, 10);
    assert_eq!(settings.orders.ttl_minutes, 60);
    assert_eq!(settings.workers.poll_interval_ms, 1000);
    assert_eq!(settings.workers.notification_retention_days, None);
}

#[test]
fn the_file_overrides_the_defaults_and_replaces_the_merchant_list() {
    let toml = r#"
        [server]
        bind = "0.0.0.0:9000"
        public_url = "https://pay.example.com/"
        cors_origins = ["https://shop.example.com"]

        [smartro]
        environment = "production"
        cancel_url = "http://127.0.0.1:9090/cancel/payCancelNVProcess.jsp"

        [[merchants]]
        mid = "SHOPMID01m"
        merchant_key = "k"
        cancel_password = "pw"

        [api]
        secret_keys = ["sk_live_0123456789abcdef"]
    "#;
    let settings = load(Some(toml), &[]).unwrap();
    assert_eq!(settings.server.bind.port(), 9000);
    assert_eq!(settings.server.public_url, "https://pay.example.com");
    assert_eq!(settings.server.cors_origins, ["https://shop.example.com"]);
    assert_eq!(
        settings.server.request_timeout_secs, 30,
        "keys the file leaves out keep their default"
    );
    assert_eq!(settings.merchants.len(), 1);
    assert_eq!(settings.default_merchant().mid, "SHOPMID01m");
    let endpoints = settings.smartro.endpoints();
    let production = Endpoints::for_environment(Environment::Production);
    assert_eq!(
        endpoints.cancel_url,
        "http://127.0.0.1:9090/cancel/payCancelNVProcess.jsp"
    );
    assert_eq!(endpoints.pay_url, production.pay_url);
    assert_eq!(endpoints.receipt_api_url, production.receipt_api_url);
}

#[test]
fn gateway_config_names_the_file_unless_config_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let from_env = dir.path().join("env.toml");
    std::fs::write(&from_env, "[orders]\nttl_minutes = 5\n").unwrap();
    let from_flag = dir.path().join("flag.toml");
    std::fs::write(&from_flag, "[orders]\nttl_minutes = 7\n").unwrap();
    let vars = env(&[("GATEWAY_CONFIG", from_env.to_str().unwrap())]);
    assert_eq!(
        Settings::load_from(None, &vars).unwrap().orders.ttl_minutes,
        5
    );
    assert_eq!(
        Settings::load_from(Some(&from_flag), &vars)
            .unwrap()
            .orders
            .ttl_minutes,
        7
    );
}

#[test]
fn environment_variables_override_the_file() {
    let toml = "[server]\nbind = \"0.0.0.0:9000\"\n[database]\nmax_connections = 3\n";
    let settings = load(
        Some(toml),
        &[
            ("GATEWAY__SERVER__BIND", "127.0.0.1:7000"),
            ("gateway__database__max_connections", "25"),
            (
                "GATEWAY__API__SECRET_KEYS",
                "sk_live_aaaaaaaaaaaaaaaa, sk_live_bbbbbbbbbbbbbbbb",
            ),
            (
                "GATEWAY__SERVER__CORS_ORIGINS",
                "https://a.example,https://b.example",
            ),
            (
                "GATEWAY__MERCHANTS__0__MERCHANT_KEY",
                "from-the-environment",
            ),
            ("GATEWAY__WEBHOOKS__URL", "https://shop.example.com/hooks"),
            ("GATEWAY__WEBHOOKS__SECRET", "whsec_test"),
            ("GATEWAY__WORKERS__NOTIFICATION_RETENTION_DAYS", "30"),
            ("GATEWAY_LOG_FORMAT", "json"),
        ],
    )
    .unwrap();
    assert_eq!(settings.server.bind.port(), 7000);
    assert_eq!(settings.database.max_connections, 25);
    let keys: Vec<&str> = settings
        .api
        .secret_keys
        .iter()
        .map(|k| k.expose_secret())
        .collect();
    assert_eq!(
        keys,
        ["sk_live_aaaaaaaaaaaaaaaa", "sk_live_bbbbbbbbbbbbbbbb"]
    );
    assert_eq!(
        settings.server.cors_origins,
        ["https://a.example", "https://b.example"]
    );
    assert_eq!(
        settings.merchants.len(),
        4,
        "an indexed variable edits one entry and keeps the others"
    );
    assert_eq!(settings.merchants[0].mid, "SMTPAY001m");
    assert_eq!(
        settings.merchants[0].merchant_key.expose_secret(),
        "from-the-environment"
    );
    assert_eq!(settings.merchants[1].mid, "SMTPAY002m");
    assert_eq!(
        settings.webhooks.url.as_deref(),
        Some("https://shop.example.com/hooks")
    );
    assert_eq!(
        settings.webhooks.secret.as_ref().map(|s| s.expose_secret()),
        Some("whsec_test")
    );
    assert_eq!(settings.workers.notification_retention_days, Some(30));
}

#[test]
fn a_merchant_can_come_entirely_from_the_environment() {
    let toml = "[[merchants]]\nmid = \"SHOPMID01m\"\n";
    let settings = load(
        Some(toml),
        &[
            ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", "key-one"),
            ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "pw-one"),
            ("GATEWAY__MERCHANTS__1__MID", "SHOPMID02m"),
            ("GATEWAY__MERCHANTS__1__MERCHANT_KEY", "key-two"),
            ("GATEWAY__MERCHANTS__1__CANCEL_PASSWORD", "pw-two"),
        ],
    )
    .unwrap();
    let mids: Vec<&str> = settings.merchants.iter().map(|m| m.mid.as_str()).collect();
    assert_eq!(mids, ["SHOPMID01m", "SHOPMID02m"]);
    assert_eq!(
        settings.merchants[1].cancel_password.expose_secret(),
        "pw-two"
    );
}

#[test]
fn database_url_is_honoured_below_gateway_database_url() {
    let file = "[database]\nurl = \"postgres://file@db/gateway\"\n";
    let url = |settings: Settings| settings.database.url.map(|u| u.expose_secret().to_string());
    assert_eq!(
        url(load(Some(file), &[]).unwrap()).as_deref(),
        Some("postgres://file@db/gateway")
    );
    let plain = [("DATABASE_URL", "postgres://plain@db/gateway")];
    assert_eq!(
        url(load(Some(file), &plain).unwrap()).as_deref(),
        Some("postgres://plain@db/gateway")
    );
    let both = [
        ("GATEWAY__DATABASE__URL", "postgres://prefixed@db/gateway"),
        plain[0],
    ];
    assert_eq!(
        url(load(Some(file), &both).unwrap()).as_deref(),
        Some("postgres://prefixed@db/gateway")
    );
    let cleared = [("GATEWAY__DATABASE__URL", "")];
    assert_eq!(
        url(load(Some(file), &cleared).unwrap()),
        None,
        "an empty value means the embedded database"
    );
}

#[test]
fn file_problems_name_the_key_or_the_file() {
    let err = load_err(Some("[server]\nbnid = \"127.0.0.1:1\"\n"), &[]);
    assert_eq!(
        (err.key.as_str(), err.message.as_str()),
        ("server.bnid", "unknown key")
    );
    let err = load_err(
        Some("[[merchants]]\nmid = \"SHOPMID01m\"\nmerchant_key = \"k\"\npassword = \"x\"\n"),
        &[],
    );
    assert_eq!(
        (err.key.as_str(), err.message.as_str()),
        ("merchants[0].password", "unknown key")
    );
    let err = load_err(
        Some("[[merchants]]\nmid = \"SHOPMID01m\"\nmerchant_key = \"k\"\n"),
        &[],
    );
    assert_eq!(err.key, "merchants[0].cancel_password");
    let err = load_err(Some("[payments]\nx = 1\n"), &[]);
    assert_eq!(
        (err.key.as_str(), err.message.as_str()),
        ("payments", "unknown key")
    );
    let err = load_err(Some("[orders]\nttl_minutes = \"soon\"\n"), &[]);
    assert_eq!(err.key, "orders.ttl_minutes", "{err}");
    let err = load_err(Some("[server\nbind = 1\n"), &[]);
    assert!(err.key.ends_with("gateway.toml"), "{err}");
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
    let missing = Path::new("/nonexistent/gateway.toml");
    let err = Settings::load_from(Some(missing), &[]).unwrap_err();
    assert_eq!(err.key, "--config");
    assert!(err.message.contains("/nonexistent/gateway.toml"), "{err}");
    let err = Settings::load_from(
        None,
        &env(&[("GATEWAY_CONFIG", "/nonexistent/gateway.toml")]),
    )
    .unwrap_err();
    assert_eq!(err.key, "GATEWAY_CONFIG");
}
