//! `check-config`: the effective settings as valid TOML, every secret redacted.

use config::FileFormat;
use smartro::endpoints::{Endpoints, Environment};

use super::{load, KEY_001};
use crate::config::redact::REDACTED;
use crate::config::Settings;

/// A console operator's password hash (of "s3cret"): a secret, since it allows guessing the password offline.
const OPERATOR_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$IlAyjZX8YG5zQzuGIOSuHA$bRyYv6fvzfcpPMco/4InTvX4uEKa/RxvkyE9F9PPHmg";

fn settings_with_every_secret() -> (Settings, Vec<&'static str>) {
    let secrets = vec![
        "postgres://gateway:db-password-1@db/gateway",
        "merchant-key-secret-2",
        "cancel-pw-3",
        "sk_live_secret_key_4_abcdef",
        "whsec_secret_5",
        OPERATOR_HASH,
    ];
    let settings = load(
        None,
        &[
            ("DATABASE_URL", secrets[0]),
            ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", secrets[1]),
            ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", secrets[2]),
            ("GATEWAY__API__SECRET_KEYS", secrets[3]),
            ("GATEWAY__WEBHOOKS__URL", "https://shop.example.com/hooks"),
            ("GATEWAY__WEBHOOKS__SECRET", secrets[4]),
            ("GATEWAY__CONSOLE__OPERATORS__0__NAME", "admin"),
            ("GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH", secrets[5]),
        ],
    )
    .unwrap();
    (settings, secrets)
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let (settings, secrets) = settings_with_every_secret();
    let debug = format!("{settings:?} {:#?}", settings);
    for secret in secrets.iter().chain([&KEY_001]) {
        assert!(!debug.contains(secret), "{secret} leaked into Debug output");
    }
    assert!(debug.contains("SMTPAY001m"));
}

#[test]
fn redacted_toml_shows_the_effective_config_without_secrets() {
    let (settings, secrets) = settings_with_every_secret();
    let toml = settings.redacted_toml();
    for secret in secrets.iter().chain([&KEY_001]) {
        assert!(!toml.contains(secret), "{secret} leaked into:\n{toml}");
    }
    // What it prints is valid TOML with the effective values.
    let parsed = config::Config::builder()
        .add_source(config::File::from_str(&toml, FileFormat::Toml))
        .build()
        .unwrap();
    assert_eq!(parsed.get_string("server.bind").unwrap(), "127.0.0.1:8080");
    assert_eq!(parsed.get_string("database.url").unwrap(), REDACTED);
    assert_eq!(
        parsed
            .get_string("console.operators[0].password_hash")
            .unwrap(),
        REDACTED
    );
    assert_eq!(
        parsed.get_string("console.operators[0].name").unwrap(),
        "admin"
    );
    assert_eq!(parsed.get_int("console.session_minutes").unwrap(), 60);
    assert_eq!(parsed.get_string("smartro.environment").unwrap(), "test");
    assert_eq!(parsed.get_string("merchants[1].mid").unwrap(), "SMTPAY002m");
    assert_eq!(
        parsed.get_string("merchants[0].merchant_key").unwrap(),
        REDACTED
    );
    assert_eq!(
        parsed.get_string("merchants[0].cancel_password").unwrap(),
        REDACTED
    );
    assert_eq!(
        parsed.get::<Vec<String>>("api.secret_keys").unwrap(),
        [REDACTED]
    );
    assert_eq!(
        parsed.get_string("webhooks.url").unwrap(),
        "https://shop.example.com/hooks"
    );
    assert_eq!(parsed.get_string("webhooks.secret").unwrap(), REDACTED);
    assert_eq!(parsed.get_int("orders.ttl_minutes").unwrap(), 60);
    assert!(
        toml.contains("https://tpay.smilepay.co.kr/interfaceURL.jsp"),
        "effective endpoints are shown:\n{toml}"
    );
}

/// What `check-config` prints, parsed back.
fn parsed(toml: &str) -> config::Config {
    config::Config::builder()
        .add_source(config::File::from_str(toml, FileFormat::Toml))
        .build()
        .unwrap_or_else(|err| panic!("not valid TOML ({err}):\n{toml}"))
}

#[test]
fn the_defaults_show_every_section_and_leave_out_what_is_not_set() {
    let toml = load(None, &[]).unwrap().redacted_toml();
    let parsed = parsed(&toml);
    for section in [
        "server", "database", "smartro", "api", "webhooks", "orders", "workers", "checkout",
    ] {
        assert!(
            toml.contains(&format!("\n[{section}]\n")),
            "[{section}] is shown:\n{toml}"
        );
    }
    assert_eq!(parsed.get_int("server.max_connections").unwrap(), 4096);
    assert_eq!(
        parsed.get::<Vec<String>>("server.trusted_proxies").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(parsed.get_string("database.data_dir").unwrap(), "./data");
    assert_eq!(
        parsed.get_int("workers.rejected_retention_days").unwrap(),
        7
    );
    // Unset optional values are left out rather than shown empty.
    for unset in [
        "database.url",
        "smartro.pay_url",
        "webhooks.url",
        "webhooks.secret",
        "workers.notification_retention_days",
    ] {
        assert!(
            parsed.get_string(unset).is_err(),
            "{unset} is not set:\n{toml}"
        );
    }
    // The endpoints that will be called: the environment's, here all of them.
    let effective: Endpoints = parsed.get("smartro.effective_endpoints").unwrap();
    assert_eq!(effective, Endpoints::for_environment(Environment::Test));
    // scripts/bench.sh reads the pool size as the `max_connections = N` line under `[database]`.
    let database = toml.split("\n[database]\n").nth(1).unwrap();
    let database = database.split("\n[").next().unwrap();
    assert!(
        database.lines().any(|line| line == "max_connections = 10"),
        "{toml}"
    );
}

#[test]
fn an_endpoint_override_shows_as_set_and_in_the_effective_endpoints() {
    let sandbox = "http://127.0.0.1:9090/interfaceURL.jsp";
    let settings = load(
        None,
        &[
            ("GATEWAY__SMARTRO__PAY_URL", sandbox),
            (
                "GATEWAY__SMARTRO__NOTIFY_ALLOW_CIDRS",
                "203.0.113.7, 2001:db8::/32",
            ),
            ("GATEWAY__WORKERS__NOTIFICATION_RETENTION_DAYS", "30"),
        ],
    )
    .unwrap();
    let toml = settings.redacted_toml();
    let parsed = parsed(&toml);
    assert_eq!(parsed.get_string("smartro.pay_url").unwrap(), sandbox);
    assert!(parsed.get_string("smartro.cancel_url").is_err(), "{toml}");
    let effective: Endpoints = parsed.get("smartro.effective_endpoints").unwrap();
    assert_eq!(effective, settings.smartro.endpoints());
    assert_eq!(effective.pay_url, sandbox);
    assert_eq!(
        parsed
            .get::<Vec<String>>("smartro.notify_allow_cidrs")
            .unwrap(),
        ["203.0.113.7/32", "2001:db8::/32"]
    );
    assert_eq!(
        parsed
            .get_int("workers.notification_retention_days")
            .unwrap(),
        30
    );
}

#[test]
fn strings_are_escaped_in_the_redacted_toml() {
    let data_dir = "a\"b\\c\nd\u{1}'e";
    let settings = load(None, &[("GATEWAY__DATABASE__DATA_DIR", data_dir)]).unwrap();
    let toml = settings.redacted_toml();
    assert_eq!(
        parsed(&toml).get_string("database.data_dir").unwrap(),
        data_dir
    );
}

#[test]
fn console_operators_are_checked_naming_the_key() {
    let err = load(
        None,
        &[
            ("GATEWAY__CONSOLE__OPERATORS__0__NAME", "admin"),
            (
                "GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH",
                "plain-password",
            ),
        ],
    )
    .unwrap_err();
    assert_eq!(err.key, "console.operators[0].password_hash");
    assert!(!err.to_string().contains("plain-password"), "{err}");
    let err = load(
        None,
        &[(
            "GATEWAY__CONSOLE__OPERATORS__0__PASSWORD_HASH",
            OPERATOR_HASH,
        )],
    )
    .unwrap_err();
    assert_eq!(err.key, "console.operators[0].name");
    let err = load(None, &[("GATEWAY__CONSOLE__SESSION_MINUTES", "0")]).unwrap_err();
    assert_eq!(err.key, "console.session_minutes");
    let settings = load(None, &[]).unwrap();
    assert!(settings.console.operators.is_empty(), "off by default");
    assert_eq!(settings.console.session_minutes, 60);
}
