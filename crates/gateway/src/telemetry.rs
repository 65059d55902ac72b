//! Logging: human-readable by default, JSON when `GATEWAY_LOG_FORMAT=json`. Filter with `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Whether `GATEWAY_LOG_FORMAT=json` asks for JSON lines.
pub fn json_requested() -> bool {
    std::env::var("GATEWAY_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"))
}

pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Colours only for a person at a terminal: in docker logs, a file or CI they are noise.
        .with_ansi(std::io::stdout().is_terminal());
    // try_init: a second call (tests, demo) keeps the first subscriber instead of panicking.
    let _ = if json_requested() {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
