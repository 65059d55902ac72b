//! Production: the compiled-in merchants do not apply, public test credentials and test hosts are refused; test
//! mode refuses the production hosts and warns about the public test credentials in use.

use secrecy::ExposeSecret;
use smartro::endpoints::Environment;

use super::{env, load, load_err, KEY_001};
use crate::config::sources::{toml_entries, FileLayer};
use crate::config::validate::EXAMPLE_API_KEY;
use crate::config::{ConfigError, Settings, DEFAULT_TOML};

/// A complete production configuration from the environment alone.
const PRODUCTION_ENV: &[(&str, &str)] = &[
    ("GATEWAY__SMARTRO__ENVIRONMENT", "production"),
    ("GATEWAY__MERCHANTS__0__MID", "REALMID01m"),
    ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", "live-key"),
    ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "live-pw"),
    ("GATEWAY__API__SECRET_KEYS", "sk_live_0123456789abcdef0123"),
];

/// [`PRODUCTION_ENV`] with some variables replaced or added.
fn production_env<'a>(changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars: Vec<(&str, &str)> = PRODUCTION_ENV
        .iter()
        .filter(|(name, _)| changes.iter().all(|(changed, _)| changed != name))
        .copied()
        .collect();
    vars.extend_from_slice(changes);
    vars
}

/// A complete production configuration file; `{mid}`, `{key}` and `{smartro}` are filled in by the tests.
fn production_file(mid: &str, key: &str, smartro: &str) -> String {
    format!(
        "[smartro]\nenvironment = \"production\"\n{smartro}\n\n\
         [[merchants]]\nmid = \"SHOPMID01m\"\nmerchant_key = \"shop-key\"\ncancel_password = \"pw\"\n\n\
         [[merchants]]\nmid = \"{mid}\"\nmerchant_key = \"{key}\"\ncancel_password = \"pw\"\n\n\
         [api]\nsecret_keys = [\"sk_live_0123456789abcdef0123\"]\n"
    )
}

const TEST_MIDS: [&str; 7] = [
    "SMTPAY001m",
    "SMTPAY002m",
    "ECTEST001m",
    "SMTSUB001m",
    "SMTSUB002m",
    "SMTSUB003m",
    "SMTSUB004m",
];

const ENDPOINT_KEYS: [&str; 4] = [
    "pay_url",
    "cancel_url",
    "receipt_api_url",
    "receipt_page_url",
];

fn assert_refused(err: &ConfigError, key: &str, message: &str) {
    assert_eq!(err.key, key, "{err}");
    assert!(err.message.contains(message), "{err}");
    assert_eq!(err.to_string().lines().count(), 1, "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("invalid config: {key}: ")),
        "{err}"
    );
}

#[test]
fn env_only_production_with_just_a_mid_needs_its_own_key_and_password() {
    // The issue: the first compiled-in test merchant's key and cancel password filled in for the real MID.
    let err = load_err(
        None,
        &[
            ("GATEWAY__SMARTRO__ENVIRONMENT", "production"),
            ("GATEWAY__MERCHANTS__0__MID", "REALMID01m"),
        ],
    );
    assert!(
        err.to_string()
            .starts_with("invalid config: merchants[0].merchant_key: missing"),
        "{err}"
    );
    let err = load_err(
        None,
        &[
            ("GATEWAY__SMARTRO__ENVIRONMENT", "production"),
            ("GATEWAY__MERCHANTS__0__MID", "REALMID01m"),
            ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", "live-key"),
        ],
    );
    assert_refused(&err, "merchants[0].cancel_password", "missing");
    // Nor does a key alone inherit the test MID.
    let err = load_err(
        None,
        &[
            ("GATEWAY__SMARTRO__ENVIRONMENT", "production"),
            ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", "live-key"),
            ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "live-pw"),
        ],
    );
    assert_refused(&err, "merchants[0].mid", "not a MID");
    let err = load_err(None, &[("GATEWAY__SMARTRO__ENVIRONMENT", "Production")]);
    assert_refused(&err, "merchants", "at least one");
}

#[test]
fn production_drops_the_compiled_in_merchants() {
    let settings = load(None, &production_env(&[])).unwrap();
    assert_eq!(settings.smartro.environment, Environment::Production);
    let mids: Vec<&str> = settings.merchants.iter().map(|m| m.mid.as_str()).collect();
    assert_eq!(mids, ["REALMID01m"], "the test merchant SMTPAY002m is gone");
    assert_eq!(
        settings.merchants[0].merchant_key.expose_secret(),
        "live-key"
    );
    assert_eq!(
        settings.merchants[0].cancel_password.expose_secret(),
        "live-pw"
    );
    // Production chosen by the file, merchants from the environment.
    let file = "[smartro]\nenvironment = \"production\"\n";
    let vars: Vec<(&str, &str)> = PRODUCTION_ENV[1..].to_vec();
    let settings = load(Some(file), &vars).unwrap();
    let mids: Vec<&str> = settings.merchants.iter().map(|m| m.mid.as_str()).collect();
    assert_eq!(mids, ["REALMID01m"]);
    // The environment decides over the file: production there drops the defaults too.
    let test_file = "[smartro]\nenvironment = \"test\"\n";
    let settings = load(Some(test_file), &production_env(&[])).unwrap();
    assert_eq!(settings.merchants.len(), 1);
}

#[test]
fn test_mode_keeps_the_compiled_in_merchants() {
    let settings = load(
        None,
        &[
            ("GATEWAY__SMARTRO__ENVIRONMENT", "test"),
            ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "changed"),
        ],
    )
    .unwrap();
    let mids: Vec<&str> = settings.merchants.iter().map(|m| m.mid.as_str()).collect();
    assert_eq!(
        mids,
        ["SMTPAY001m", "SMTPAY002m", "ECTEST001m", "SMTSUB001m"]
    );
    assert_eq!(settings.merchants[0].merchant_key.expose_secret(), KEY_001);
    assert_eq!(
        settings.merchants[0].cancel_password.expose_secret(),
        "changed"
    );
    // A file's list still replaces the defaults' list in test mode.
    let file =
        "[[merchants]]\nmid = \"SHOPMID01m\"\nmerchant_key = \"k\"\ncancel_password = \"pw\"\n";
    assert_eq!(load(Some(file), &[]).unwrap().merchants.len(), 1);
}

#[test]
fn production_refuses_public_test_mids() {
    for mid in TEST_MIDS {
        let err = load_err(
            None,
            &production_env(&[("GATEWAY__MERCHANTS__0__MID", mid)]),
        );
        assert_refused(&err, "merchants[0].mid", "public test merchants");
        assert!(err.message.contains(mid), "{err}");
        let err = load_err(Some(&production_file(mid, "another-key", "")), &[]);
        assert_refused(&err, "merchants[1].mid", "public test merchants");
    }
    let lowercase = production_env(&[("GATEWAY__MERCHANTS__0__MID", "smtpay001m")]);
    assert_refused(
        &load_err(None, &lowercase),
        "merchants[0].mid",
        "public test",
    );
}

#[test]
fn production_refuses_public_test_keys_under_any_mid() {
    for (owner, key) in smartro::endpoints::TEST_MERCHANTS {
        let err = load_err(
            None,
            &production_env(&[("GATEWAY__MERCHANTS__0__MERCHANT_KEY", key)]),
        );
        assert_refused(&err, "merchants[0].merchant_key", "public test key");
        assert!(err.message.contains(owner), "{err}");
        assert!(
            !err.to_string().contains(key),
            "the key is never repeated: {err}"
        );
        let err = load_err(Some(&production_file("REALMID02m", key, "")), &[]);
        assert_refused(&err, "merchants[1].merchant_key", "public test key");
    }
}

#[test]
fn production_refuses_the_example_api_key_from_a_file_or_the_environment() {
    let err = load_err(
        None,
        &production_env(&[(
            "GATEWAY__API__SECRET_KEYS",
            "sk_live_0123456789abcdef0123,sk_test_change_me",
        )]),
    );
    assert_refused(&err, "api.secret_keys[1]", "example key");
    let file = production_file("REALMID02m", "k2", "")
        .replace("secret_keys = [", "secret_keys = [\"sk_test_change_me\", ");
    assert_refused(
        &load_err(Some(&file), &[]),
        "api.secret_keys[0]",
        "example key",
    );
}

/// URLs on `host`, written in ways that all reach it.
fn spellings(host: &str) -> Vec<String> {
    vec![
        format!("https://{host}/interfaceURL.jsp"),
        format!("https://{}/receipt", host.to_ascii_uppercase()),
        format!("http://{host}:8443/x"),
        format!("https://{host}./x"),
        format!("https://user:pw@{host}/x"),
        format!("https://{}/x", host.replace('.', "%2E")),
        format!("https://{host}"),
    ]
}

#[test]
fn production_refuses_endpoints_on_the_test_hosts() {
    for host in [
        "tpay.smilepay.co.kr",
        "tapi.smilepay.co.kr",
        "test.smilepay.co.kr",
    ] {
        for (i, url) in spellings(host).iter().enumerate() {
            let key = ENDPOINT_KEYS[i % ENDPOINT_KEYS.len()];
            let var = format!("GATEWAY__SMARTRO__{}", key.to_ascii_uppercase());
            let err = load_err(None, &production_env(&[(var.as_str(), url.as_str())]));
            assert_refused(&err, &format!("smartro.{key}"), "Smartro's test system");
            assert!(err.message.contains(host), "{err}");
            let file = production_file("REALMID02m", "k2", &format!("{key} = \"{url}\""));
            let err = load_err(Some(&file), &[]);
            assert_refused(&err, &format!("smartro.{key}"), "Smartro's test system");
        }
    }
}

#[test]
fn test_mode_refuses_endpoints_on_the_production_hosts() {
    for host in [
        "pay.smilepay.co.kr",
        "api.smilepay.co.kr",
        "www.smilepay.co.kr",
    ] {
        for (i, url) in spellings(host).iter().enumerate() {
            let key = ENDPOINT_KEYS[i % ENDPOINT_KEYS.len()];
            let var = format!("GATEWAY__SMARTRO__{}", key.to_ascii_uppercase());
            let err = load_err(None, &[(var.as_str(), url.as_str())]);
            assert_refused(
                &err,
                &format!("smartro.{key}"),
                "Smartro's production system",
            );
            assert!(
                err.message.contains("smartro.environment = \"test\""),
                "{err}"
            );
            let file = format!("[smartro]\nenvironment = \"test\"\n{key} = \"{url}\"\n");
            let err = load_err(Some(&file), &[]);
            assert_refused(
                &err,
                &format!("smartro.{key}"),
                "Smartro's production system",
            );
        }
    }
}

#[test]
fn endpoints_on_other_hosts_are_allowed_in_both_environments() {
    let urls = [
        "http://127.0.0.1:9090/interfaceURL.jsp",
        "http://localhost:9090/receipt",
        "https://pay.smilepay.co.kr.proxy.example/x",
        "https://smartro-proxy.internal/cancel",
    ];
    for url in urls {
        for key in ENDPOINT_KEYS {
            let var = format!("GATEWAY__SMARTRO__{}", key.to_ascii_uppercase());
            let vars = [(var.as_str(), url)];
            let test = load(None, &vars).unwrap();
            let production = load(None, &production_env(&vars)).unwrap();
            for settings in [test, production] {
                let endpoints = settings.smartro.endpoints();
                let effective = match key {
                    "pay_url" => endpoints.pay_url,
                    "cancel_url" => endpoints.cancel_url,
                    "receipt_api_url" => endpoints.receipt_api_url,
                    _ => endpoints.receipt_page_url,
                };
                assert_eq!(effective, url);
            }
        }
    }
    // Each environment's own hosts are fine in it.
    let own = [(
        "GATEWAY__SMARTRO__PAY_URL",
        "https://tpay.smilepay.co.kr/interfaceURL.jsp",
    )];
    load(None, &own).unwrap();
    let own = [(
        "GATEWAY__SMARTRO__PAY_URL",
        "https://pay.smilepay.co.kr/interfaceURL.jsp",
    )];
    load(None, &production_env(&own)).unwrap();
}

#[test]
fn the_test_mode_warning_names_the_public_credentials_but_never_their_values() {
    let settings = load(None, &[]).unwrap();
    assert_eq!(
        settings.public_test_credentials(),
        [
            "merchants[0].mid SMTPAY001m",
            "merchants[1].mid SMTPAY002m",
            "merchants[2].mid ECTEST001m",
            "merchants[3].mid SMTSUB001m",
            "api.secret_keys[0] (the example key)",
        ]
    );
    let warning = settings
        .test_credentials_warning()
        .expect("a warning in test mode");
    assert_eq!(warning.lines().count(), 1, "{warning}");
    assert!(
        warning.contains("SMTPAY001m, merchants[1].mid SMTPAY002m"),
        "{warning}"
    );
    for (_, key) in smartro::endpoints::TEST_MERCHANTS {
        assert!(!warning.contains(key), "{warning}");
    }
    assert!(!warning.contains(EXAMPLE_API_KEY), "{warning}");
    assert!(!warning.contains("123456"), "{warning}");

    // A public key under a MID of one's own is named by its key; own credentials are not listed.
    let file = format!(
        "[[merchants]]\nmid = \"SHOPMID01m\"\nmerchant_key = \"own\"\ncancel_password = \"pw\"\n\
         [[merchants]]\nmid = \"SHOPMID02m\"\nmerchant_key = \"{KEY_001}\"\ncancel_password = \"pw\"\n\
         [api]\nsecret_keys = [\"sk_own_0123456789abcdef\"]\n"
    );
    let settings = load(Some(&file), &[]).unwrap();
    assert_eq!(
        settings.public_test_credentials(),
        ["merchants[1].merchant_key (public test key of SMTPAY001m)"]
    );
    let warning = settings.test_credentials_warning().unwrap();
    assert!(!warning.contains(KEY_001), "{warning}");

    // Nothing well-known in use: no warning.
    let own = file.replace(KEY_001, "own-too");
    let settings = load(Some(&own), &[]).unwrap();
    assert!(settings.public_test_credentials().is_empty());
    assert_eq!(settings.test_credentials_warning(), None);
    // Production refuses them, so it never warns.
    let settings = load(None, &production_env(&[])).unwrap();
    assert_eq!(settings.test_credentials_warning(), None);
}

#[test]
fn the_defaults_file_in_the_working_directory_loses_its_merchants_in_production_too() {
    let defaults_file = |holds_the_defaults| FileLayer {
        entries: toml_entries(DEFAULT_TOML).unwrap(),
        holds_the_defaults,
    };
    let settings = Settings::from_layers(Some(defaults_file(true)), &env(PRODUCTION_ENV)).unwrap();
    let mids: Vec<&str> = settings.merchants.iter().map(|m| m.mid.as_str()).collect();
    assert_eq!(mids, ["REALMID01m"]);
    let only_a_mid = [
        ("GATEWAY__SMARTRO__ENVIRONMENT", "production"),
        ("GATEWAY__MERCHANTS__0__MID", "REALMID01m"),
    ];
    let err = Settings::from_layers(Some(defaults_file(true)), &env(&only_a_mid)).unwrap_err();
    assert_refused(&err, "merchants[0].merchant_key", "missing");
    // Test mode keeps them.
    let settings = Settings::from_layers(Some(defaults_file(true)), &[]).unwrap();
    assert_eq!(settings.merchants.len(), 4);
    // Named with --config, the same file is the operator's choice: its test merchant is refused by name.
    let err = Settings::from_layers(Some(defaults_file(false)), &env(PRODUCTION_ENV)).unwrap_err();
    assert_refused(&err, "merchants[1].mid", "public test merchants");
}

#[test]
fn the_production_example_is_valid_once_its_secrets_are_set() {
    let example = include_str!("../../../../../config/production.example.toml");
    let settings = load(
        Some(example),
        &[
            (
                "GATEWAY__DATABASE__URL",
                "postgres://gateway:pw@db.internal:5432/gateway",
            ),
            ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", "live-key"),
            ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "live-pw"),
            ("GATEWAY__API__SECRET_KEYS", "sk_live_0123456789abcdef0123"),
            ("GATEWAY__WEBHOOKS__SECRET", "whsec_live"),
        ],
    )
    .unwrap();
    assert_eq!(settings.smartro.environment, Environment::Production);
    assert_eq!(settings.merchants.len(), 1);
    assert!(settings.webhooks.url.is_some());
    // Without the secrets it refuses to start, naming what is missing.
    let err = load_err(Some(example), &[]);
    assert_eq!(err.key, "merchants[0].merchant_key");
}
