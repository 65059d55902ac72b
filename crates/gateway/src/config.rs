//! Configuration: `config/default.toml` (compiled in) as the base, then one TOML file (`--config FILE`, else
//! `$GATEWAY_CONFIG`, else `config/default.toml` in the working directory when present), then environment variables
//! `GATEWAY__<SECTION>__<KEY>` (`DATABASE_URL` too, below `GATEWAY__DATABASE__URL`).
//!
//! Environment details: keys are case-insensitive; a numeric segment indexes a list
//! (`GATEWAY__MERCHANTS__0__MERCHANT_KEY` sets the first merchant's key); `GATEWAY__API__SECRET_KEYS` and
//! `GATEWAY__SERVER__CORS_ORIGINS` take comma-separated lists. An empty value clears an optional setting.
//!
//! With `smartro.environment = "production"` the `[[merchants]]` of the defaults (compiled in, or
//! `config/default.toml` picked up from the working directory) do not apply: they are Smartro's public test
//! merchants. Production also refuses public test MIDs and keys, the example API key and endpoints on the test
//! hosts; test mode refuses endpoints on the production hosts.
//!
//! Everything is validated before use, and every error names the key it is about.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use config::{FileFormat, Map, Source, Value, ValueKind};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use smartro::endpoints::{self, Endpoints, Environment};

/// The defaults every other source is layered on; also the file a fresh checkout runs with.
pub const DEFAULT_TOML: &str = include_str!("../../../config/default.toml");

const ENV_PREFIX: &str = "GATEWAY__";
const ENV_SEPARATOR: &str = "__";
/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &[
    "api.secret_keys",
    "server.cors_origins",
    "server.trusted_proxies",
    "smartro.notify_allow_cidrs",
    "checkout.frame_ancestors",
];
/// The API key shipped in default.toml: public, so never acceptable against Smartro's production system.
const EXAMPLE_API_KEY: &str = "sk_test_change_me";
const MIN_API_KEY_LEN: usize = 16;
const MAX_CANCEL_PASSWORD_BYTES: usize = 20;
const REDACTED: &str = "[redacted]";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid config: {key}: {message}")]
pub struct ConfigError {
    pub key: String,
    pub message: String,
}

impl ConfigError {
    fn new(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub smartro: SmartroSettings,
    /// Never empty; the first one is the default merchant.
    pub merchants: Vec<MerchantSettings>,
    pub api: ApiSettings,
    pub webhooks: WebhookSettings,
    pub orders: OrderSettings,
    pub workers: WorkerSettings,
    pub checkout: CheckoutSettings,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    /// An http(s) URL without a trailing slash, query or fragment.
    pub public_url: String,
    pub cors_origins: Vec<String>,
    pub request_timeout_secs: u64,
    /// Peers whose `X-Forwarded-For` / `Forwarded` headers are believed (a load balancer, a reverse proxy).
    pub trusted_proxies: Vec<IpNet>,
    /// A connection whose request headers have not fully arrived after this long is closed.
    pub header_timeout_secs: u64,
    /// A connection on which nothing moves for this long is closed.
    pub idle_timeout_secs: u64,
    /// Connections served at once; more wait in the accept queue.
    pub max_connections: usize,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `None`: the embedded PostgreSQL under `data_dir`.
    pub url: Option<SecretString>,
    pub data_dir: PathBuf,
    pub max_connections: u32,
}

#[derive(Debug, Clone)]
pub struct SmartroSettings {
    pub environment: Environment,
    pub pay_url: Option<String>,
    pub cancel_url: Option<String>,
    pub receipt_api_url: Option<String>,
    pub receipt_page_url: Option<String>,
    pub timeout_secs: u64,
    /// Sources whose informs are trusted without asking the receipt API (Smartro's notification servers).
    pub notify_allow_cidrs: Vec<IpNet>,
}

impl SmartroSettings {
    /// The environment's endpoint set with the configured overrides applied.
    pub fn endpoints(&self) -> Endpoints {
        let mut endpoints = Endpoints::for_environment(self.environment);
        let overrides = [
            (&self.pay_url, &mut endpoints.pay_url),
            (&self.cancel_url, &mut endpoints.cancel_url),
            (&self.receipt_api_url, &mut endpoints.receipt_api_url),
            (&self.receipt_page_url, &mut endpoints.receipt_page_url),
        ];
        for (configured, endpoint) in overrides {
            if let Some(url) = configured {
                *endpoint = url.clone();
            }
        }
        endpoints
    }
}

#[derive(Debug, Clone)]
pub struct MerchantSettings {
    pub mid: String,
    pub merchant_key: SecretString,
    pub cancel_password: SecretString,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Never empty.
    pub secret_keys: Vec<SecretString>,
}

#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Set together with `secret`, or neither.
    pub url: Option<String>,
    pub secret: Option<SecretString>,
    pub retry_window_hours: u64,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone)]
pub struct OrderSettings {
    pub ttl_minutes: i64,
}

#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub poll_interval_ms: u64,
    /// `None`: raw notifications are kept forever.
    pub notification_retention_days: Option<u32>,
    /// Raw bodies that failed parsing or the signature check are deleted after this many days.
    pub rejected_retention_days: u32,
}

#[derive(Debug, Clone)]
pub struct CheckoutSettings {
    /// Origins allowed to frame the checkout page (`frame-ancestors`); empty: none.
    pub frame_ancestors: Vec<String>,
}

impl Settings {
    /// Loads from the file sources and the process environment.
    pub fn load(config_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let env: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(key, value)| Some((key.into_string().ok()?, value.into_string().ok()?)))
            .collect();
        Self::load_from(config_file, &env)
    }

    /// Loads with `env` standing in for the process environment.
    pub fn load_from(
        config_file: Option<&Path>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let file = match chosen_file(config_file, env) {
            Some(chosen) => Some(chosen.read()?),
            None => None,
        };
        Self::from_layers(file, env)
    }

    /// Builds the defaults, the file and the environment into validated settings.
    fn from_layers(
        file: Option<FileLayer>,
        env: &[(String, String)],
    ) -> Result<Settings, ConfigError> {
        let (database_url, gateway_vars) = env_sources(env)?;
        let defaults = toml_entries(DEFAULT_TOML).map_err(|err| convert_error(&err))?;
        let build = |production: bool| {
            let mut builder =
                config::Config::builder().add_source(defaults_layer(&defaults, production));
            if let Some(file) = &file {
                builder = builder.add_source(defaults_layer(
                    &file.entries,
                    production && file.holds_the_defaults,
                ));
            }
            builder
                .add_source(database_url.clone())
                .add_source(gateway_vars.clone())
                .build()
                .map_err(|err| convert_error(&err))
        };
        let mut config = build(false)?;
        // The default merchants are Smartro's public test merchants. In production they must not fill in what the
        // operator left out: an indexed variable (GATEWAY__MERCHANTS__0__MID) would otherwise be merged over the
        // first test merchant and inherit its public key and cancel password, and the second one would stay. So
        // the environment is learnt from a first build, and production is built again without them.
        if effective_environment(&config) == Some(Environment::Production) {
            config = build(true)?;
        }
        let raw: RawSettings = config
            .try_deserialize()
            .map_err(|err| convert_error(&err))?;
        raw.validate()
    }

    pub fn merchant(&self, mid: &str) -> Option<&MerchantSettings> {
        self.merchants.iter().find(|merchant| merchant.mid == mid)
    }

    /// The first configured merchant; validation guarantees there is one.
    pub fn default_merchant(&self) -> &MerchantSettings {
        &self.merchants[0]
    }

    /// The well-known public credentials this configuration uses, each named by its key and never by its
    /// value: the test MIDs of weblink.md §2, a published test merchant key under another MID, the example API key.
    pub fn public_test_credentials(&self) -> Vec<String> {
        let mut in_use = Vec::new();
        for (index, merchant) in self.merchants.iter().enumerate() {
            if endpoints::is_public_test_mid(&merchant.mid) {
                in_use.push(format!("merchants[{index}].mid {}", merchant.mid));
            } else if let Some(owner) =
                endpoints::public_test_key_owner(merchant.merchant_key.expose_secret())
            {
                in_use.push(format!(
                    "merchants[{index}].merchant_key (public test key of {owner})"
                ));
            }
        }
        for (index, key) in self.api.secret_keys.iter().enumerate() {
            if key.expose_secret() == EXAMPLE_API_KEY {
                in_use.push(format!("api.secret_keys[{index}] (the example key)"));
            }
        }
        in_use
    }

    /// The line to warn with at start in test mode when well-known test credentials are configured: anyone can
    /// sign results and call the API with them. Production refuses them outright, so it has no warning.
    pub fn test_credentials_warning(&self) -> Option<String> {
        if self.smartro.environment != Environment::Test {
            return None;
        }
        let in_use = self.public_test_credentials();
        if in_use.is_empty() {
            return None;
        }
        Some(format!(
            "smartro.environment = \"test\" with well-known public test credentials: {}; fine against the test \
             system or the sandbox, never for real payments",
            in_use.join(", ")
        ))
    }

    /// The effective configuration as TOML for `check-config`, every secret shown as `"[redacted]"`.
    pub fn redacted_toml(&self) -> String {
        let mut out = String::new();
        let _ = self.write_redacted_toml(&mut out);
        out
    }

    fn write_redacted_toml(&self, out: &mut String) -> std::fmt::Result {
        let server = &self.server;
        writeln!(out, "[server]")?;
        writeln!(out, "bind = {}", toml_string(&server.bind.to_string()))?;
        writeln!(out, "public_url = {}", toml_string(&server.public_url))?;
        writeln!(
            out,
            "cors_origins = {}",
            toml_array(server.cors_origins.iter().map(String::as_str))
        )?;
        writeln!(
            out,
            "request_timeout_secs = {}",
            server.request_timeout_secs
        )?;
        let nets = |nets: &[IpNet]| {
            let text: Vec<String> = nets.iter().map(IpNet::to_string).collect();
            toml_array(text.iter().map(String::as_str))
        };
        writeln!(out, "trusted_proxies = {}", nets(&server.trusted_proxies))?;
        writeln!(out, "header_timeout_secs = {}", server.header_timeout_secs)?;
        writeln!(out, "idle_timeout_secs = {}", server.idle_timeout_secs)?;
        writeln!(out, "max_connections = {}", server.max_connections)?;

        let database = &self.database;
        writeln!(out, "\n[database]")?;
        match &database.url {
            Some(_) => writeln!(out, "url = {}", toml_string(REDACTED))?,
            None => writeln!(out, "# url not set: embedded PostgreSQL under data_dir")?,
        }
        writeln!(
            out,
            "data_dir = {}",
            toml_string(&database.data_dir.to_string_lossy())
        )?;
        writeln!(out, "max_connections = {}", database.max_connections)?;

        let smartro = &self.smartro;
        writeln!(out, "\n[smartro]")?;
        writeln!(
            out,
            "environment = {}",
            toml_string(environment_name(smartro.environment))
        )?;
        let endpoints = smartro.endpoints();
        let overrides = [
            ("pay_url", &smartro.pay_url, &endpoints.pay_url),
            ("cancel_url", &smartro.cancel_url, &endpoints.cancel_url),
            (
                "receipt_api_url",
                &smartro.receipt_api_url,
                &endpoints.receipt_api_url,
            ),
            (
                "receipt_page_url",
                &smartro.receipt_page_url,
                &endpoints.receipt_page_url,
            ),
        ];
        for (key, configured, effective) in overrides {
            match configured {
                Some(url) => writeln!(out, "{key} = {}", toml_string(url))?,
                None => writeln!(
                    out,
                    "# {key} = {}  (environment default)",
                    toml_string(effective)
                )?,
            }
        }
        writeln!(out, "timeout_secs = {}", smartro.timeout_secs)?;
        writeln!(
            out,
            "notify_allow_cidrs = {}",
            nets(&smartro.notify_allow_cidrs)
        )?;

        for merchant in &self.merchants {
            writeln!(out, "\n[[merchants]]")?;
            writeln!(out, "mid = {}", toml_string(&merchant.mid))?;
            writeln!(out, "merchant_key = {}", toml_string(REDACTED))?;
            writeln!(out, "cancel_password = {}", toml_string(REDACTED))?;
        }

        writeln!(out, "\n[api]")?;
        writeln!(
            out,
            "secret_keys = {}",
            toml_array(self.api.secret_keys.iter().map(|_| REDACTED))
        )?;

        let webhooks = &self.webhooks;
        writeln!(out, "\n[webhooks]")?;
        match (&webhooks.url, &webhooks.secret) {
            (Some(url), Some(_)) => {
                writeln!(out, "url = {}", toml_string(url))?;
                writeln!(out, "secret = {}", toml_string(REDACTED))?;
            }
            _ => writeln!(out, "# url and secret not set: no webhooks are sent")?,
        }
        writeln!(out, "retry_window_hours = {}", webhooks.retry_window_hours)?;
        writeln!(out, "timeout_secs = {}", webhooks.timeout_secs)?;

        writeln!(out, "\n[orders]")?;
        writeln!(out, "ttl_minutes = {}", self.orders.ttl_minutes)?;

        let workers = &self.workers;
        writeln!(out, "\n[workers]")?;
        writeln!(out, "poll_interval_ms = {}", workers.poll_interval_ms)?;
        match workers.notification_retention_days {
            Some(days) => writeln!(out, "notification_retention_days = {days}")?,
            None => writeln!(
                out,
                "# notification_retention_days not set: raw notifications are kept"
            )?,
        }
        writeln!(
            out,
            "rejected_retention_days = {}",
            workers.rejected_retention_days
        )?;

        writeln!(out, "\n[checkout]")?;
        writeln!(
            out,
            "frame_ancestors = {}",
            toml_array(self.checkout.frame_ancestors.iter().map(String::as_str))
        )?;
        Ok(())
    }
}

/// The environment a built configuration asks for; `None` when it is not a valid one (validation reports that).
fn effective_environment(config: &config::Config) -> Option<Environment> {
    config
        .get_string("smartro.environment")
        .ok()
        .and_then(|name| validate_environment(&name).ok())
}

/// The top-level entries of a TOML text.
fn toml_entries(text: &str) -> Result<Vec<(String, Value)>, config::ConfigError> {
    Ok(config::File::from_str(text, FileFormat::Toml)
        .collect()?
        .into_iter()
        .collect())
}

/// A layer of default values: in production without their `[[merchants]]`, which are the public test merchants.
fn defaults_layer(entries: &[(String, Value)], without_merchants: bool) -> Layer {
    Layer {
        entries: entries
            .iter()
            .filter(|(key, _)| !(without_merchants && key == "merchants"))
            .cloned()
            .collect(),
    }
}

fn environment_name(environment: Environment) -> &'static str {
    match environment {
        Environment::Test => "test",
        Environment::Production => "production",
    }
}

/// The file layered over the defaults.
struct ChosenFile {
    /// What chose it, for error messages.
    key: &'static str,
    path: PathBuf,
    /// Picked up as `config/default.toml` in the working directory, not named by `--config` or `$GATEWAY_CONFIG`:
    /// it is the defaults file itself (the container image ships it in its working directory), so its test
    /// merchants are dropped in production like the compiled-in ones.
    holds_the_defaults: bool,
}

impl ChosenFile {
    /// Reads and parses it; its own TOML errors (with line and column) name the file as the key.
    fn read(self) -> Result<FileLayer, ConfigError> {
        let text = std::fs::read_to_string(&self.path).map_err(|err| {
            ConfigError::new(
                self.key,
                format!("cannot read {}: {err}", self.path.display()),
            )
        })?;
        let entries = toml_entries(&text).map_err(|err| {
            ConfigError::new(self.path.display().to_string(), error_message(&err))
        })?;
        Ok(FileLayer {
            entries,
            holds_the_defaults: self.holds_the_defaults,
        })
    }
}

/// The parsed file layer.
struct FileLayer {
    entries: Vec<(String, Value)>,
    holds_the_defaults: bool,
}

fn chosen_file(config_file: Option<&Path>, env: &[(String, String)]) -> Option<ChosenFile> {
    if let Some(path) = config_file {
        return Some(ChosenFile {
            key: "--config",
            path: path.to_path_buf(),
            holds_the_defaults: false,
        });
    }
    let from_env = env
        .iter()
        .rev()
        .find(|(key, value)| key == "GATEWAY_CONFIG" && !value.is_empty());
    if let Some((_, path)) = from_env {
        return Some(ChosenFile {
            key: "GATEWAY_CONFIG",
            path: PathBuf::from(path),
            holds_the_defaults: false,
        });
    }
    let local = PathBuf::from("config/default.toml");
    local.is_file().then_some(ChosenFile {
        key: "config/default.toml",
        path: local,
        holds_the_defaults: true,
    })
}

/// A configuration layer as entries already turned into config paths (`server`, `merchants[0].mid`): the defaults,
/// the file and the environment variables.
#[derive(Clone)]
struct Layer {
    entries: Vec<(String, Value)>,
}

impl std::fmt::Debug for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be secrets.
        f.debug_list()
            .entries(self.entries.iter().map(|(key, _)| key))
            .finish()
    }
}

impl Source for Layer {
    fn clone_into_box(&self) -> Box<dyn Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.entries.iter().cloned().collect())
    }
}

/// `DATABASE_URL` and the `GATEWAY__…` variables, as two sources so that the latter wins.
fn env_sources(env: &[(String, String)]) -> Result<(Layer, Layer), ConfigError> {
    let origin = "the environment".to_string();
    let string = |value: &str| Value::new(Some(&origin), ValueKind::String(value.to_string()));
    let mut database_url = Layer {
        entries: Vec::new(),
    };
    let mut gateway = Layer {
        entries: Vec::new(),
    };
    for (name, value) in env {
        if name == "DATABASE_URL" {
            database_url
                .entries
                .push(("database.url".to_string(), string(value)));
            continue;
        }
        let Some(rest) = name
            .get(..ENV_PREFIX.len())
            .filter(|prefix| prefix.eq_ignore_ascii_case(ENV_PREFIX))
            .map(|_| &name[ENV_PREFIX.len()..])
        else {
            continue;
        };
        let mut path = String::new();
        for segment in rest.split(ENV_SEPARATOR) {
            let segment = segment.to_ascii_lowercase();
            let valid = !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !valid {
                return Err(ConfigError::new(
                    name.clone(),
                    "not a configuration key (GATEWAY__<SECTION>__<KEY>)",
                ));
            }
            if segment.chars().all(|c| c.is_ascii_digit()) && !path.is_empty() {
                let _ = write!(path, "[{segment}]");
            } else {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&segment);
            }
        }
        let value = if LIST_KEYS.contains(&path.as_str()) {
            let items = value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(string)
                .collect();
            Value::new(Some(&origin), ValueKind::Array(items))
        } else {
            string(value)
        };
        gateway.entries.push((path, value));
    }
    Ok((database_url, gateway))
}

fn error_message(err: &config::ConfigError) -> String {
    match err {
        config::ConfigError::Type {
            unexpected,
            expected,
            ..
        } => format!("invalid type: {unexpected}, expected {expected}"),
        config::ConfigError::At { error, .. } => error_message(error),
        config::ConfigError::NotFound(_) => "missing".to_string(),
        config::ConfigError::FileParse { cause, .. } => cause.to_string().trim().replace('\n', " "),
        other => other.to_string(),
    }
}

fn error_key(err: &config::ConfigError) -> Option<String> {
    match err {
        config::ConfigError::Type { key, .. } => key.clone(),
        config::ConfigError::At { key, error, .. } => key.clone().or_else(|| error_key(error)),
        config::ConfigError::NotFound(key) => Some(key.clone()),
        _ => None,
    }
}

/// Turns the config crate's error into one naming the key; serde's "unknown field `x`" becomes key `section.x`.
fn convert_error(err: &config::ConfigError) -> ConfigError {
    let key = error_key(err).unwrap_or_default();
    let message = error_message(err);
    for (prefix, what) in [
        ("unknown field `", "unknown key"),
        ("missing field `", "missing"),
    ] {
        if let Some(field) = message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
        {
            let key = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
            return ConfigError::new(key, what);
        }
    }
    let key = if key.is_empty() {
        "config".to_string()
    } else {
        key
    };
    ConfigError::new(key, message)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    server: RawServer,
    database: RawDatabase,
    smartro: RawSmartro,
    #[serde(default)]
    merchants: Vec<RawMerchant>,
    api: RawApi,
    webhooks: RawWebhooks,
    orders: RawOrders,
    workers: RawWorkers,
    checkout: RawCheckout,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    bind: String,
    public_url: String,
    #[serde(default)]
    cors_origins: Vec<String>,
    request_timeout_secs: u64,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    header_timeout_secs: u64,
    idle_timeout_secs: u64,
    max_connections: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<String>,
    data_dir: String,
    max_connections: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmartro {
    environment: String,
    pay_url: Option<String>,
    cancel_url: Option<String>,
    receipt_api_url: Option<String>,
    receipt_page_url: Option<String>,
    timeout_secs: u64,
    #[serde(default)]
    notify_allow_cidrs: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMerchant {
    mid: Option<String>,
    merchant_key: Option<String>,
    cancel_password: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default)]
    secret_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebhooks {
    url: Option<String>,
    secret: Option<String>,
    retry_window_hours: u64,
    timeout_secs: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOrders {
    ttl_minutes: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWorkers {
    poll_interval_ms: u64,
    notification_retention_days: Option<u32>,
    rejected_retention_days: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCheckout {
    #[serde(default)]
    frame_ancestors: Vec<String>,
}

/// An empty value (e.g. from `GATEWAY__WEBHOOKS__URL=`) clears an optional setting.
fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

fn at_least<T: PartialOrd + std::fmt::Display>(
    key: &str,
    value: T,
    min: T,
) -> Result<T, ConfigError> {
    if value < min {
        return Err(ConfigError::new(
            key,
            format!("must be at least {min} (got {value})"),
        ));
    }
    Ok(value)
}

/// The parts of an absolute http(s) URL that validation cares about.
struct UrlParts<'a> {
    path: &'a str,
}

fn parse_http_url<'a>(key: &str, url: &'a str) -> Result<UrlParts<'a>, ConfigError> {
    let invalid =
        |why: &str| ConfigError::new(key, format!("`{url}` is not a valid http(s) URL: {why}"));
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains whitespace"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| invalid("it must start with http:// or https://"))?;
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(end) => (&host_port[..=end], host_port[end + 1..].strip_prefix(':')),
            None => return Err(invalid("the IPv6 host has no closing `]`")),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(invalid("it has no host"));
    }
    if port.is_some_and(|port| port.parse::<u16>().is_err()) {
        return Err(invalid("the port is not a number from 0 to 65535"));
    }
    Ok(UrlParts { path })
}

fn validate_http_url(key: &str, url: &str) -> Result<String, ConfigError> {
    parse_http_url(key, url)?;
    Ok(url.to_string())
}

/// The other environment's hosts, with the name of that system for the message.
fn foreign_hosts(environment: Environment) -> (&'static [&'static str], &'static str) {
    match environment {
        Environment::Test => (Environment::Production.hosts(), "production"),
        Environment::Production => (Environment::Test.hosts(), "test"),
    }
}

/// A Smartro endpoint override: a valid http(s) URL that does not point at the other environment's hosts (a
/// production gateway taking test payments, or a test gateway moving real money). Any other host (the sandbox, a
/// proxy) is allowed in both environments.
fn validate_endpoint(
    key: &str,
    url: &str,
    environment: Environment,
) -> Result<String, ConfigError> {
    validate_http_url(key, url)?;
    // The url crate is what reqwest connects with, so the host compared here is the host that would be called:
    // userinfo, percent-encoding and letter case are resolved the same way.
    let parsed = url::Url::parse(url).map_err(|err| {
        ConfigError::new(key, format!("`{url}` is not a valid http(s) URL: {err}"))
    })?;
    let host = parsed
        .host_str()
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let (foreign, system) = foreign_hosts(environment);
    if foreign.contains(&host.as_str()) {
        return Err(ConfigError::new(
            key,
            format!(
                "`{url}` points at Smartro's {system} system ({host}), not allowed with smartro.environment = \"{}\"",
                environment_name(environment)
            ),
        ));
    }
    Ok(url.to_string())
}

/// In production, a merchant must be the operator's own: none of Smartro's published test MIDs or keys.
fn refuse_public_test_merchant(
    index: usize,
    merchant: &MerchantSettings,
) -> Result<(), ConfigError> {
    if endpoints::is_public_test_mid(&merchant.mid) {
        return Err(ConfigError::new(
            format!("merchants[{index}].mid"),
            format!(
                "`{}` is one of Smartro's public test merchants, not allowed with smartro.environment = \"production\"",
                merchant.mid
            ),
        ));
    }
    if let Some(owner) = endpoints::public_test_key_owner(merchant.merchant_key.expose_secret()) {
        return Err(ConfigError::new(
            format!("merchants[{index}].merchant_key"),
            format!(
                "this is the public test key of {owner}, not allowed with smartro.environment = \"production\""
            ),
        ));
    }
    Ok(())
}

fn validate_public_url(url: &str) -> Result<String, ConfigError> {
    let key = "server.public_url";
    let parts = parse_http_url(key, url)?;
    if parts.path.contains(['?', '#']) {
        return Err(ConfigError::new(
            key,
            format!("`{url}` must not have a query or fragment"),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

fn validate_origin(key: &str, origin: &str) -> Result<String, ConfigError> {
    let parts = parse_http_url(key, origin)?;
    if !parts.path.is_empty() && parts.path != "/" {
        return Err(ConfigError::new(
            key,
            format!("`{origin}` is not an origin: use scheme://host[:port] without a path"),
        ));
    }
    Ok(origin.trim_end_matches('/').to_string())
}

/// CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses (`203.0.113.7`, taken as /32 or /128).
fn parse_cidrs(key: &str, values: &[String]) -> Result<Vec<IpNet>, ConfigError> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let value = value.trim();
            value
                .parse::<IpNet>()
                .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ConfigError::new(
                        format!("{key}[{index}]"),
                        format!("`{value}` is not an IP address or CIDR (e.g. 203.0.113.0/24)"),
                    )
                })
        })
        .collect()
}

fn validate_environment(name: &str) -> Result<Environment, ConfigError> {
    match name.trim().to_ascii_lowercase().as_str() {
        "test" => Ok(Environment::Test),
        "production" => Ok(Environment::Production),
        _ => Err(ConfigError::new(
            "smartro.environment",
            format!("`{name}` is not an environment: use \"test\" or \"production\""),
        )),
    }
}

impl RawSettings {
    fn validate(self) -> Result<Settings, ConfigError> {
        let server = self.server.validate()?;
        let database = self.database.validate()?;
        let smartro = self.smartro.validate()?;
        if self.merchants.is_empty() {
            return Err(ConfigError::new(
                "merchants",
                "at least one [[merchants]] entry is required",
            ));
        }
        let mut merchants: Vec<MerchantSettings> = Vec::with_capacity(self.merchants.len());
        for (index, raw) in self.merchants.into_iter().enumerate() {
            let merchant = raw.validate(index)?;
            if smartro.environment == Environment::Production {
                refuse_public_test_merchant(index, &merchant)?;
            }
            if let Some(first) = merchants.iter().position(|m| m.mid == merchant.mid) {
                return Err(ConfigError::new(
                    format!("merchants[{index}].mid"),
                    format!("duplicate MID `{}` (also merchants[{first}])", merchant.mid),
                ));
            }
            merchants.push(merchant);
        }
        let api = self.api.validate(smartro.environment)?;
        let webhooks = self.webhooks.validate()?;
        let orders = OrderSettings {
            ttl_minutes: at_least("orders.ttl_minutes", self.orders.ttl_minutes, 1)?,
        };
        let workers = self.workers.validate()?;
        let checkout = CheckoutSettings {
            frame_ancestors: self
                .checkout
                .frame_ancestors
                .iter()
                .enumerate()
                .map(|(index, origin)| {
                    validate_origin(&format!("checkout.frame_ancestors[{index}]"), origin.trim())
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Settings {
            server,
            database,
            smartro,
            merchants,
            api,
            webhooks,
            orders,
            workers,
            checkout,
        })
    }
}

impl RawServer {
    fn validate(self) -> Result<ServerSettings, ConfigError> {
        let bind = self.bind.trim().parse::<SocketAddr>().map_err(|_| {
            ConfigError::new(
                "server.bind",
                format!(
                    "`{}` is not a socket address (e.g. 127.0.0.1:8080)",
                    self.bind
                ),
            )
        })?;
        let public_url = validate_public_url(self.public_url.trim())?;
        let cors_origins = self
            .cors_origins
            .iter()
            .enumerate()
            .map(|(index, origin)| {
                validate_origin(&format!("server.cors_origins[{index}]"), origin.trim())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let request_timeout_secs =
            at_least("server.request_timeout_secs", self.request_timeout_secs, 1)?;
        let idle_timeout_secs = at_least("server.idle_timeout_secs", self.idle_timeout_secs, 1)?;
        // hyper keeps reading a connection while its request is handled (to notice a client that hangs up), so
        // a handler that takes request_timeout_secs moves no byte all that time: a shorter idle timeout would
        // cut it off before its answer.
        if idle_timeout_secs <= request_timeout_secs {
            return Err(ConfigError::new(
                "server.idle_timeout_secs",
                format!(
                    "must be greater than server.request_timeout_secs ({request_timeout_secs}): a request may \
                     take that long without a byte moving on its connection (got {idle_timeout_secs})"
                ),
            ));
        }
        Ok(ServerSettings {
            bind,
            public_url,
            cors_origins,
            request_timeout_secs,
            trusted_proxies: parse_cidrs("server.trusted_proxies", &self.trusted_proxies)?,
            header_timeout_secs: at_least(
                "server.header_timeout_secs",
                self.header_timeout_secs,
                1,
            )?,
            idle_timeout_secs,
            max_connections: at_least("server.max_connections", self.max_connections, 1)?,
        })
    }
}

impl RawDatabase {
    fn validate(self) -> Result<DatabaseSettings, ConfigError> {
        let url = match non_empty(self.url) {
            Some(url) => {
                let url = url.trim().to_string();
                // The URL may hold a password: the message must not repeat it.
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(ConfigError::new(
                        "database.url",
                        "must be a PostgreSQL URL (postgres://user:password@host:5432/database)",
                    ));
                }
                Some(SecretString::from(url))
            }
            None => None,
        };
        if self.data_dir.trim().is_empty() {
            return Err(ConfigError::new("database.data_dir", "must not be empty"));
        }
        let max_connections = at_least("database.max_connections", self.max_connections, 1)?;
        Ok(DatabaseSettings {
            url,
            data_dir: PathBuf::from(self.data_dir),
            max_connections,
        })
    }
}

impl RawSmartro {
    fn validate(self) -> Result<SmartroSettings, ConfigError> {
        let environment = validate_environment(&self.environment)?;
        let endpoint = |key: &str, value: Option<String>| {
            non_empty(value)
                .map(|url| validate_endpoint(key, url.trim(), environment))
                .transpose()
        };
        Ok(SmartroSettings {
            environment,
            pay_url: endpoint("smartro.pay_url", self.pay_url)?,
            cancel_url: endpoint("smartro.cancel_url", self.cancel_url)?,
            receipt_api_url: endpoint("smartro.receipt_api_url", self.receipt_api_url)?,
            receipt_page_url: endpoint("smartro.receipt_page_url", self.receipt_page_url)?,
            timeout_secs: at_least("smartro.timeout_secs", self.timeout_secs, 1)?,
            notify_allow_cidrs: parse_cidrs(
                "smartro.notify_allow_cidrs",
                &self.notify_allow_cidrs,
            )?,
        })
    }
}

impl RawMerchant {
    fn validate(self, index: usize) -> Result<MerchantSettings, ConfigError> {
        let key = |field: &str| format!("merchants[{index}].{field}");
        let mid = self
            .mid
            .map(|mid| mid.trim().to_string())
            .unwrap_or_default();
        if mid.len() != 10 || !mid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ConfigError::new(
                key("mid"),
                format!("`{mid}` is not a MID (10 ASCII letters or digits)"),
            ));
        }
        let merchant_key = non_empty(self.merchant_key).ok_or_else(|| {
            ConfigError::new(
                key("merchant_key"),
                "missing (the merchant key Smartro issued for this MID)",
            )
        })?;
        let cancel_password = self.cancel_password.ok_or_else(|| {
            ConfigError::new(
                key("cancel_password"),
                "missing (the cancel password set for this MID)",
            )
        })?;
        if cancel_password.len() > MAX_CANCEL_PASSWORD_BYTES {
            return Err(ConfigError::new(
                key("cancel_password"),
                format!("longer than {MAX_CANCEL_PASSWORD_BYTES} bytes"),
            ));
        }
        Ok(MerchantSettings {
            mid,
            merchant_key: SecretString::from(merchant_key.trim().to_string()),
            cancel_password: SecretString::from(cancel_password),
        })
    }
}

impl RawApi {
    fn validate(self, environment: Environment) -> Result<ApiSettings, ConfigError> {
        if self.secret_keys.is_empty() {
            return Err(ConfigError::new(
                "api.secret_keys",
                "at least one secret key is required",
            ));
        }
        for (index, secret) in self.secret_keys.iter().enumerate() {
            let key = format!("api.secret_keys[{index}]");
            if secret.chars().count() < MIN_API_KEY_LEN {
                return Err(ConfigError::new(
                    key,
                    format!("a secret key must have at least {MIN_API_KEY_LEN} characters"),
                ));
            }
            if environment == Environment::Production && secret == EXAMPLE_API_KEY {
                return Err(ConfigError::new(
                    key,
                    "the public example key of config/default.toml is not allowed with smartro.environment = \"production\"",
                ));
            }
        }
        Ok(ApiSettings {
            secret_keys: self
                .secret_keys
                .into_iter()
                .map(SecretString::from)
                .collect(),
        })
    }
}

impl RawWebhooks {
    fn validate(self) -> Result<WebhookSettings, ConfigError> {
        let url = non_empty(self.url)
            .map(|url| validate_http_url("webhooks.url", url.trim()))
            .transpose()?;
        let secret = non_empty(self.secret);
        match (&url, &secret) {
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "webhooks.secret",
                    "required when webhooks.url is set",
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "webhooks.url",
                    "required when webhooks.secret is set",
                ))
            }
            _ => {}
        }
        Ok(WebhookSettings {
            url,
            secret: secret.map(SecretString::from),
            retry_window_hours: at_least(
                "webhooks.retry_window_hours",
                self.retry_window_hours,
                1,
            )?,
            timeout_secs: at_least("webhooks.timeout_secs", self.timeout_secs, 1)?,
        })
    }
}

impl RawWorkers {
    fn validate(self) -> Result<WorkerSettings, ConfigError> {
        let notification_retention_days = self
            .notification_retention_days
            .map(|days| at_least("workers.notification_retention_days", days, 1))
            .transpose()?;
        Ok(WorkerSettings {
            poll_interval_ms: at_least("workers.poll_interval_ms", self.poll_interval_ms, 1)?,
            notification_retention_days,
            rejected_retention_days: at_least(
                "workers.rejected_retention_days",
                self.rejected_retention_days,
                1,
            )?,
        })
    }
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array<'a>(values: impl Iterator<Item = &'a str>) -> String {
    let items: Vec<String> = values.map(toml_string).collect();
    format!("[{}]", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_001: &str =
        "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Loads with `toml` (if any) as the `--config` file.
    fn load(toml: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.toml");
        if let Some(toml) = toml {
            std::fs::write(&path, toml).unwrap();
        }
        Settings::load_from(toml.map(|_| path.as_path()), &env(vars))
    }

    fn load_err(toml: Option<&str>, vars: &[(&str, &str)]) -> ConfigError {
        match load(toml, vars) {
            Ok(settings) => panic!("expected an error, got {settings:?}"),
            Err(err) => err,
        }
    }

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
        assert_eq!(mids, ["SMTPAY001m", "SMTPAY002m"]);
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
            2,
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
                &[("GATEWAY__MERCHANTS__2__MID", "SMTPAY003m")],
                "merchants[2].merchant_key",
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

    fn settings_with_every_secret() -> (Settings, Vec<&'static str>) {
        let secrets = vec![
            "postgres://gateway:db-password-1@db/gateway",
            "merchant-key-secret-2",
            "cancel-pw-3",
            "sk_live_secret_key_4_abcdef",
            "whsec_secret_5",
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

    #[test]
    fn toml_strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }

    #[test]
    fn the_production_example_is_valid_once_its_secrets_are_set() {
        let example = include_str!("../../../config/production.example.toml");
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
        assert_eq!(mids, ["SMTPAY001m", "SMTPAY002m"]);
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
        let settings =
            Settings::from_layers(Some(defaults_file(true)), &env(PRODUCTION_ENV)).unwrap();
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
        assert_eq!(settings.merchants.len(), 2);
        // Named with --config, the same file is the operator's choice: its test merchant is refused by name.
        let err =
            Settings::from_layers(Some(defaults_file(false)), &env(PRODUCTION_ENV)).unwrap_err();
        assert_refused(&err, "merchants[1].mid", "public test merchants");
    }
}
