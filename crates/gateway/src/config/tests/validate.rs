//! Raw values to typed settings: each rule reports the key it is about, in one line.

use super::{load, load_err};

#[test]
fn errors_are_one_line_naming_the_key() {
    let err = load_err(None, &[("GATEWAY__SERVER__BIND", "abc")]);
    assert_eq!(
        err.to_string(),
        "invalid config: server.bind: `abc` is not a socket address (e.g. 127.0.0.1:8080)"
    );
}

/// Environment overrides, the key the error must name, and a part of its message.
type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[test]
fn each_invalid_value_is_reported_with_its_key() {
    let cases: &[Case] = &[
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "ftp://example.com")],
            "server.public_url",
            "http:// or https://",
        ),
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "https://")],
            "server.public_url",
            "no host",
        ),
        (
            &[(
                "GATEWAY__SERVER__PUBLIC_URL",
                "https://pay.example.com/?a=b",
            )],
            "server.public_url",
            "query",
        ),
        (
            &[("GATEWAY__SERVER__CORS_ORIGINS", "https://a.example/path")],
            "server.cors_origins[0]",
            "not an origin",
        ),
        (
            &[("GATEWAY__SERVER__REQUEST_TIMEOUT_SECS", "0")],
            "server.request_timeout_secs",
            "at least 1",
        ),
        (
            &[("GATEWAY__SERVER__IDLE_TIMEOUT_SECS", "30")],
            "server.idle_timeout_secs",
            "greater than server.request_timeout_secs (30)",
        ),
        (
            &[("GATEWAY__DATABASE__URL", "mysql://u:hunter2@h/db")],
            "database.url",
            "PostgreSQL URL",
        ),
        (
            &[("GATEWAY__DATABASE__MAX_CONNECTIONS", "0")],
            "database.max_connections",
            "at least 1",
        ),
        (
            &[("GATEWAY__DATABASE__MAX_CONNECTIONS", "many")],
            "database.max_connections",
            "invalid type",
        ),
        (
            &[("GATEWAY__SMARTRO__ENVIRONMENT", "staging")],
            "smartro.environment",
            "\"test\" or \"production\"",
        ),
        (
            &[("GATEWAY__SMARTRO__PAY_URL", "tpay.smilepay.co.kr")],
            "smartro.pay_url",
            "http:// or https://",
        ),
        (
            &[("GATEWAY__SMARTRO__TIMEOUT_SECS", "0")],
            "smartro.timeout_secs",
            "at least 1",
        ),
        (
            &[("GATEWAY__MERCHANTS__0__MID", "SMTPAY01")],
            "merchants[0].mid",
            "10 ASCII",
        ),
        (
            &[("GATEWAY__MERCHANTS__0__MID", "SMTPAY-01m")],
            "merchants[0].mid",
            "10 ASCII",
        ),
        (
            &[("GATEWAY__MERCHANTS__1__MID", "SMTPAY001m")],
            "merchants[1].mid",
            "duplicate MID `SMTPAY001m`",
        ),
        (
            &[("GATEWAY__MERCHANTS__0__MERCHANT_KEY", " ")],
            "merchants[0].merchant_key",
            "missing",
        ),
        (
            &[(
                "GATEWAY__MERCHANTS__1__CANCEL_PASSWORD",
                "123456789012345678901",
            )],
            "merchants[1].cancel_password",
            "longer than 20 bytes",
        ),
        (
            &[("GATEWAY__MERCHANTS__4__MID", "SMTPAY003m")],
            "merchants[4].merchant_key",
            "missing",
        ),
        (
            &[("GATEWAY__API__SECRET_KEYS", "")],
            "api.secret_keys",
            "at least one",
        ),
        (
            &[("GATEWAY__API__SECRET_KEYS", "sk_live_0123456789,short")],
            "api.secret_keys[1]",
            "16 characters",
        ),
        (
            &[
                ("GATEWAY__SMARTRO__ENVIRONMENT", "production"),
                ("GATEWAY__MERCHANTS__0__MID", "REALMID01m"),
                ("GATEWAY__MERCHANTS__0__MERCHANT_KEY", "live-key"),
                ("GATEWAY__MERCHANTS__0__CANCEL_PASSWORD", "live-pw"),
            ],
            "api.secret_keys[0]",
            "example key",
        ),
        (
            &[("GATEWAY__WEBHOOKS__URL", "https://shop.example.com/hooks")],
            "webhooks.secret",
            "required",
        ),
        (
            &[("GATEWAY__WEBHOOKS__SECRET", "whsec_x")],
            "webhooks.url",
            "required",
        ),
        (
            &[
                ("GATEWAY__WEBHOOKS__URL", "shop.example.com"),
                ("GATEWAY__WEBHOOKS__SECRET", "whsec_x"),
            ],
            "webhooks.url",
            "http:// or https://",
        ),
        (
            &[("GATEWAY__WEBHOOKS__RETRY_WINDOW_HOURS", "0")],
            "webhooks.retry_window_hours",
            "at least 1",
        ),
        (
            &[("GATEWAY__WEBHOOKS__TIMEOUT_SECS", "0")],
            "webhooks.timeout_secs",
            "at least 1",
        ),
        (
            &[("GATEWAY__ORDERS__TTL_MINUTES", "0")],
            "orders.ttl_minutes",
            "at least 1",
        ),
        (
            &[("GATEWAY__ORDERS__TTL_MINUTES", "-5")],
            "orders.ttl_minutes",
            "at least 1",
        ),
        (
            &[("GATEWAY__WORKERS__POLL_INTERVAL_MS", "0")],
            "workers.poll_interval_ms",
            "at least 1",
        ),
        (
            &[("GATEWAY__WORKERS__NOTIFICATION_RETENTION_DAYS", "0")],
            "workers.notification_retention_days",
            "at least 1",
        ),
        (
            &[("GATEWAY__SERVER__BNID", "x")],
            "server.bnid",
            "unknown key",
        ),
        (&[("GATEWAY__SERVR__BIND", "x")], "servr", "unknown key"),
        (
            &[("GATEWAY__SERVER.BIND", "x")],
            "GATEWAY__SERVER.BIND",
            "not a configuration key",
        ),
    ];
    for (vars, key, message) in cases {
        let err = load_err(None, vars);
        assert_eq!(err.key, *key, "{vars:?}: {err}");
        assert!(err.message.contains(message), "{vars:?}: {err}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }
}

#[test]
fn a_database_url_is_never_repeated_in_an_error() {
    let err = load_err(
        None,
        &[("GATEWAY__DATABASE__URL", "mysql://u:hunter2@h/db")],
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn urls_keep_their_rules_under_the_url_crate() {
    // The url crate is lenient where the rules are not: it takes an upper-case or slash-less scheme, skips
    // surplus slashes before the host, drops tabs and newlines and resolves dot segments.
    let cases: &[Case] = &[
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "HTTPS://pay.example.com")],
            "server.public_url",
            "http:// or https://",
        ),
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "https:pay.example.com")],
            "server.public_url",
            "http:// or https://",
        ),
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "https:///pay.example.com")],
            "server.public_url",
            "no host",
        ),
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "https://:8080")],
            "server.public_url",
            "no host",
        ),
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "https://pay.exa\tmple.com")],
            "server.public_url",
            "whitespace",
        ),
        (
            &[(
                "GATEWAY__SERVER__PUBLIC_URL",
                "https://pay.example.com:99999",
            )],
            "server.public_url",
            "port",
        ),
        (
            &[("GATEWAY__SERVER__PUBLIC_URL", "https://[::1")],
            "server.public_url",
            "IPv6",
        ),
        (
            &[(
                "GATEWAY__SERVER__PUBLIC_URL",
                "https://pay.example.com/#top",
            )],
            "server.public_url",
            "query or fragment",
        ),
        (
            &[("GATEWAY__SERVER__CORS_ORIGINS", "https://a.example?x=1")],
            "server.cors_origins[0]",
            "not an origin",
        ),
        (
            &[("GATEWAY__SERVER__CORS_ORIGINS", "https://a.example//")],
            "server.cors_origins[0]",
            "not an origin",
        ),
        (
            &[("GATEWAY__SERVER__CORS_ORIGINS", "https://a.example/.")],
            "server.cors_origins[0]",
            "not an origin",
        ),
        (
            &[(
                "GATEWAY__CHECKOUT__FRAME_ANCESTORS",
                "https://ok.example,https://a.example/x",
            )],
            "checkout.frame_ancestors[1]",
            "not an origin",
        ),
        (
            &[
                ("GATEWAY__WEBHOOKS__URL", "https://"),
                ("GATEWAY__WEBHOOKS__SECRET", "whsec_x"),
            ],
            "webhooks.url",
            "no host",
        ),
        (
            &[(
                "GATEWAY__SMARTRO__RECEIPT_API_URL",
                "ftp://127.0.0.1/receipt",
            )],
            "smartro.receipt_api_url",
            "http:// or https://",
        ),
    ];
    for (vars, key, message) in cases {
        let err = load_err(None, vars);
        assert_eq!(err.key, *key, "{vars:?}: {err}");
        assert!(err.message.contains(message), "{vars:?}: {err}");
        assert_eq!(err.to_string().lines().count(), 1, "{err}");
    }
}

#[test]
fn urls_are_kept_as_written_without_a_trailing_slash() {
    let settings = load(
        None,
        &[
            (
                "GATEWAY__SERVER__PUBLIC_URL",
                " https://Pay.Example.com/base/ ",
            ),
            (
                "GATEWAY__SERVER__CORS_ORIGINS",
                "https://a.example/,http://[::1]:8443",
            ),
            (
                "GATEWAY__CHECKOUT__FRAME_ANCESTORS",
                "https://shop.example:443",
            ),
            ("GATEWAY__WEBHOOKS__URL", "https://shop.example/hooks?v=2"),
            ("GATEWAY__WEBHOOKS__SECRET", "whsec_x"),
        ],
    )
    .unwrap();
    assert_eq!(settings.server.public_url, "https://Pay.Example.com/base");
    assert_eq!(
        settings.server.cors_origins,
        ["https://a.example", "http://[::1]:8443"]
    );
    assert_eq!(
        settings.checkout.frame_ancestors,
        ["https://shop.example:443"]
    );
    assert_eq!(
        settings.webhooks.url.as_deref(),
        Some("https://shop.example/hooks?v=2")
    );
}

#[test]
fn terminals_are_read_with_their_defaults() {
    let settings = super::load(
        Some(
            r#"
[[terminals]]
id = "front-1"
address = "192.168.0.20:5000"

[[terminals]]
id = "kiosk_2"
address = "kiosk-2.shop.lan:5000"
mid = "1234567890"
timeout_secs = 120
print_receipt = true
"#,
        ),
        &[],
    )
    .unwrap();
    assert_eq!(settings.terminals.len(), 2);
    let front = settings.terminal("front-1").unwrap();
    assert_eq!(front.address, "192.168.0.20:5000");
    assert_eq!(front.timeout_secs, 90);
    assert_eq!(front.mid, None);
    assert!(!front.print_receipt);
    let kiosk = settings.terminal("kiosk_2").unwrap();
    assert_eq!(kiosk.mid.as_deref(), Some("1234567890"));
    assert_eq!(kiosk.timeout_secs, 120);
    assert!(kiosk.print_receipt);
    assert!(settings.terminal("front-2").is_none());
    // None by default: a shop without terminals configures none.
    assert!(super::load(None, &[]).unwrap().terminals.is_empty());
}

#[test]
fn the_environment_can_add_a_terminal() {
    let settings = super::load(
        None,
        &[
            ("GATEWAY__TERMINALS__0__ID", "front-1"),
            ("GATEWAY__TERMINALS__0__ADDRESS", "[fd00::20]:5000"),
        ],
    )
    .unwrap();
    assert_eq!(settings.terminals[0].address, "[fd00::20]:5000");
}

#[test]
fn each_invalid_terminal_setting_names_its_key() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "id = \"\"\naddress = \"10.0.0.2:5000\"",
            "terminals[0].id",
            "not a terminal id",
        ),
        (
            "id = \"front 1\"\naddress = \"10.0.0.2:5000\"",
            "terminals[0].id",
            "not a terminal id",
        ),
        ("id = \"a\"", "terminals[0].address", "host:port"),
        (
            "id = \"a\"\naddress = \"10.0.0.2\"",
            "terminals[0].address",
            "host:port",
        ),
        (
            "id = \"a\"\naddress = \"10.0.0.2:0\"",
            "terminals[0].address",
            "host:port",
        ),
        (
            "id = \"a\"\naddress = \"bad_host:5000\"",
            "terminals[0].address",
            "host:port",
        ),
        (
            "id = \"a\"\naddress = \"10.0.0.2:5000\"\ntimeout_secs = 10",
            "terminals[0].timeout_secs",
            "between 35 and 600",
        ),
        (
            "id = \"a\"\naddress = \"10.0.0.2:5000\"\nmid = \"M-1\"",
            "terminals[0].mid",
            "not a merchant id",
        ),
        (
            "id = \"a\"\naddress = \"10.0.0.2:5000\"\ncolour = \"red\"",
            "terminals",
            "colour",
        ),
    ];
    for (entry, key, part) in cases {
        let err = super::load_err(Some(&format!("[[terminals]]\n{entry}\n")), &[]);
        assert!(
            err.key.starts_with(key) && format!("{err}").contains(part),
            "{entry:?}: {err}"
        );
    }
    let twice = |a: &str, b: &str| {
        super::load_err(
            Some(&format!("[[terminals]]\n{a}\n\n[[terminals]]\n{b}\n")),
            &[],
        )
    };
    let err = twice(
        "id = \"a\"\naddress = \"10.0.0.2:5000\"",
        "id = \"a\"\naddress = \"10.0.0.3:5000\"",
    );
    assert_eq!(err.key, "terminals[1].id", "{err}");
    let err = twice(
        "id = \"a\"\naddress = \"10.0.0.2:5000\"",
        "id = \"b\"\naddress = \"10.0.0.2:5000\"",
    );
    assert_eq!(err.key, "terminals[1].address", "{err}");
}
