//! The merged raw values turned into typed [`Settings`]: every rule, each error naming its key. Production refuses
//! Smartro's public test credentials and test hosts; test mode refuses the production hosts and warns about the
//! public test credentials in use.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use smartro::endpoints::{self, Environment};

use super::{
    ApiSettings, CheckoutSettings, ConfigError, ConsoleSettings, DatabaseSettings, EscrowPolicy,
    MerchantSettings, OperatorSettings, OrderSettings, ServerSettings, Settings, SmartroSettings,
    TerminalSettings, WebhookSettings, WorkerSettings,
};

/// The API key shipped in default.toml: public, so never acceptable against Smartro's production system.
pub(super) const EXAMPLE_API_KEY: &str = "sk_test_change_me";
const MIN_API_KEY_LEN: usize = 16;
const MAX_CANCEL_PASSWORD_BYTES: usize = 20;

impl Settings {
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
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSettings {
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
    #[serde(default)]
    terminals: Vec<RawTerminal>,
    console: RawConsole,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConsole {
    session_minutes: i64,
    #[serde(default)]
    operators: Vec<RawOperator>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOperator {
    name: Option<String>,
    password_hash: Option<String>,
}

/// A day at most: a console left signed in on a shared computer should not stay so for long.
const MAX_SESSION_MINUTES: i64 = 24 * 60;
const MAX_OPERATOR_NAME_CHARS: usize = 64;

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
    mall_ip: String,
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
    escrow: Option<String>,
    #[serde(default)]
    sub_malls: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTerminal {
    id: Option<String>,
    address: Option<String>,
    mid: Option<String>,
    timeout_secs: Option<u64>,
    print_receipt: Option<bool>,
}

/// Card reading plus the terminal's own 30-second signature wait: a shorter timeout would call `unknown` what is
/// merely slow.
const MIN_TERMINAL_TIMEOUT_SECS: u64 = 35;
const MAX_TERMINAL_TIMEOUT_SECS: u64 = 600;
const DEFAULT_TERMINAL_TIMEOUT_SECS: u64 = 90;

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

/// An absolute http(s) URL with a host, parsed by the url crate: what reqwest and browsers will make of it.
fn parse_http_url(key: &str, url: &str) -> Result<url::Url, ConfigError> {
    let invalid = |why: &dyn std::fmt::Display| {
        ConfigError::new(key, format!("`{url}` is not a valid http(s) URL: {why}"))
    };
    // The url crate trims surrounding spaces and drops tabs and newlines inside, so the URL it parsed would not be
    // the text that is stored and used.
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(&"it contains whitespace"));
    }
    // Checked on the text: the url crate also takes `HTTPS://host`, `https:host` and `https:\\host`.
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return Err(invalid(&"it must start with http:// or https://"));
    };
    // The url crate skips surplus slashes before the host (`https:///host`): the host must follow `//` directly.
    if rest.starts_with(['/', '\\']) {
        return Err(invalid(&"it has no host"));
    }
    let parsed = url::Url::parse(url).map_err(|err| match err {
        url::ParseError::EmptyHost => invalid(&"it has no host"),
        url::ParseError::InvalidPort => invalid(&"the port is not a number from 0 to 65535"),
        url::ParseError::InvalidIpv6Address => invalid(&"the IPv6 host is not a valid address"),
        other => invalid(&other),
    })?;
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(&"it has no host"));
    }
    Ok(parsed)
}

fn validate_http_url(key: &str, url: &str) -> Result<String, ConfigError> {
    parse_http_url(key, url)?;
    Ok(url.to_string())
}

fn environment_name(environment: Environment) -> &'static str {
    match environment {
        Environment::Test => "test",
        Environment::Production => "production",
    }
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
    // The url crate is what reqwest connects with, so the host compared here is the host that would be called:
    // userinfo, percent-encoding and letter case are resolved the same way.
    let parsed = parse_http_url(key, url)?;
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

/// The base of every link to the gateway: kept as written, without its trailing slash.
fn validate_public_url(url: &str) -> Result<String, ConfigError> {
    let key = "server.public_url";
    let parsed = parse_http_url(key, url)?;
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(ConfigError::new(
            key,
            format!("`{url}` must not have a query or fragment"),
        ));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// `scheme://host[:port]`, as browsers send it in `Origin`; kept as written, without its trailing slash.
fn validate_origin(key: &str, origin: &str) -> Result<String, ConfigError> {
    let parsed = parse_http_url(key, origin)?;
    // The text is checked too: the url crate resolves `https://a.example/.` to the path `/`, but what is stored, and
    // compared with what browsers send, is the text. After `scheme://` it may only end with one `/`.
    let authority = &origin[parsed.scheme().len() + "://".len()..];
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    if parsed.path() != "/"
        || parsed.query().is_some()
        || parsed.fragment().is_some()
        || authority.contains(['/', '\\', '?', '#'])
    {
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

pub(super) fn validate_environment(name: &str) -> Result<Environment, ConfigError> {
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
    pub(super) fn validate(self) -> Result<Settings, ConfigError> {
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
        let mut terminals: Vec<TerminalSettings> = Vec::with_capacity(self.terminals.len());
        for (index, raw) in self.terminals.into_iter().enumerate() {
            let terminal = raw.validate(index)?;
            if let Some(first) = terminals.iter().position(|t| t.id == terminal.id) {
                return Err(ConfigError::new(
                    format!("terminals[{index}].id"),
                    format!(
                        "duplicate terminal id `{}` (also terminals[{first}])",
                        terminal.id
                    ),
                ));
            }
            // Two entries for one device would let two transactions be open on it at once.
            if let Some(first) = terminals
                .iter()
                .position(|t| t.address.eq_ignore_ascii_case(&terminal.address))
            {
                return Err(ConfigError::new(
                    format!("terminals[{index}].address"),
                    format!(
                        "`{}` is also terminals[{first}]'s address",
                        terminal.address
                    ),
                ));
            }
            terminals.push(terminal);
        }
        let console = self.console.validate()?;
        Ok(Settings {
            console,
            server,
            database,
            smartro,
            merchants,
            api,
            webhooks,
            orders,
            workers,
            checkout,
            terminals,
        })
    }
}

impl RawConsole {
    fn validate(self) -> Result<ConsoleSettings, ConfigError> {
        let session_minutes = at_least("console.session_minutes", self.session_minutes, 1)?;
        if session_minutes > MAX_SESSION_MINUTES {
            return Err(ConfigError::new(
                "console.session_minutes",
                format!("must be at most {MAX_SESSION_MINUTES} (got {session_minutes})"),
            ));
        }
        let mut operators: Vec<OperatorSettings> = Vec::with_capacity(self.operators.len());
        for (index, raw) in self.operators.into_iter().enumerate() {
            let key = |field: &str| format!("console.operators[{index}].{field}");
            let name = non_empty(raw.name)
                .map(|n| n.trim().to_string())
                .ok_or_else(|| ConfigError::new(key("name"), "required"))?;
            if name.chars().count() > MAX_OPERATOR_NAME_CHARS
                || name.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return Err(ConfigError::new(
                    key("name"),
                    format!(
                        "must be 1 to {MAX_OPERATOR_NAME_CHARS} characters without spaces or control characters"
                    ),
                ));
            }
            if let Some(first) = operators.iter().position(|o| o.name == name) {
                return Err(ConfigError::new(
                    key("name"),
                    format!("duplicate operator `{name}` (also console.operators[{first}])"),
                ));
            }
            let hash = non_empty(raw.password_hash)
                .ok_or_else(|| ConfigError::new(key("password_hash"), "required"))?;
            // Checked here so that a typo is a start-up error, not an operator who can never sign in. The
            // message names no part of the hash.
            crate::console::password::check_hash(hash.trim()).map_err(|why| {
                ConfigError::new(
                    key("password_hash"),
                    format!("{why}; make one with `smartro-gateway hash-password`"),
                )
            })?;
            operators.push(OperatorSettings {
                name,
                password_hash: SecretString::from(hash.trim().to_string()),
            });
        }
        Ok(ConsoleSettings {
            session_minutes,
            operators,
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
            mall_ip: {
                let ip = self.mall_ip.trim();
                // Smartro takes MallIP as text of at most 20 bytes: an IPv4 or a short IPv6 address.
                if ip.parse::<std::net::IpAddr>().is_err() || ip.len() > smartro::request::IP_BYTES
                {
                    return Err(ConfigError::new(
                        "server.mall_ip",
                        format!("`{ip}` is not an IP address of at most 20 characters"),
                    ));
                }
                ip.to_string()
            },
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
        let escrow = match self.escrow.as_deref().map(str::trim) {
            None | Some("off") => EscrowPolicy::Off,
            Some("optional") => EscrowPolicy::Optional,
            Some("required_for_cash") => EscrowPolicy::RequiredForCash,
            Some(other) => {
                return Err(ConfigError::new(
                    key("escrow"),
                    format!("`{other}` is not an escrow setting: use \"off\", \"optional\" or \"required_for_cash\""),
                ))
            }
        };
        let mut sub_malls = Vec::with_capacity(self.sub_malls.len());
        for (i, sub) in self.sub_malls.iter().map(|s| s.trim()).enumerate() {
            if sub.len() != 10 || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(ConfigError::new(
                    format!("{}[{i}]", key("sub_malls")),
                    format!("`{sub}` is not a MID (10 ASCII letters or digits)"),
                ));
            }
            if sub.eq_ignore_ascii_case(&mid)
                || sub_malls
                    .iter()
                    .any(|s: &String| s.eq_ignore_ascii_case(sub))
            {
                return Err(ConfigError::new(
                    format!("{}[{i}]", key("sub_malls")),
                    format!("{sub} is named twice, or is the merchant itself"),
                ));
            }
            sub_malls.push(sub.to_string());
        }
        Ok(MerchantSettings {
            mid,
            merchant_key: SecretString::from(merchant_key.trim().to_string()),
            cancel_password: SecretString::from(cancel_password),
            escrow,
            sub_malls,
        })
    }
}

impl RawTerminal {
    fn validate(self, index: usize) -> Result<TerminalSettings, ConfigError> {
        let key = |field: &str| format!("terminals[{index}].{field}");
        let id = self.id.map(|id| id.trim().to_string()).unwrap_or_default();
        if id.is_empty()
            || id.len() > 64
            || !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(ConfigError::new(
                key("id"),
                format!("`{id}` is not a terminal id (1 to 64 ASCII letters, digits, `-` or `_`)"),
            ));
        }
        let address = self
            .address
            .map(|a| a.trim().to_string())
            .unwrap_or_default();
        validate_host_port(&key("address"), &address)?;
        let mid = match non_empty(self.mid).map(|mid| mid.trim().to_string()) {
            Some(mid) if mid.len() > 20 || !mid.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                return Err(ConfigError::new(
                    key("mid"),
                    format!("`{mid}` is not a merchant id (1 to 20 ASCII letters or digits)"),
                ))
            }
            mid => mid,
        };
        let timeout_secs = self.timeout_secs.unwrap_or(DEFAULT_TERMINAL_TIMEOUT_SECS);
        if !(MIN_TERMINAL_TIMEOUT_SECS..=MAX_TERMINAL_TIMEOUT_SECS).contains(&timeout_secs) {
            return Err(ConfigError::new(
                key("timeout_secs"),
                format!(
                    "must be between {MIN_TERMINAL_TIMEOUT_SECS} and {MAX_TERMINAL_TIMEOUT_SECS} (got \
                     {timeout_secs}): the terminal waits 30 seconds for a signature alone"
                ),
            ));
        }
        Ok(TerminalSettings {
            id,
            address,
            mid,
            timeout_secs,
            print_receipt: self.print_receipt.unwrap_or(false),
        })
    }
}

/// `host:port` with a host name, an IPv4 address or a bracketed IPv6 address, and a port from 1 to 65535.
fn validate_host_port(key: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = || {
        ConfigError::new(
            key,
            format!("`{value}` is not `host:port` (e.g. 192.168.0.20:5000)"),
        )
    };
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return if addr.port() == 0 {
            Err(invalid())
        } else {
            Ok(())
        };
    }
    let (host, port) = value.rsplit_once(':').ok_or_else(invalid)?;
    let port_ok = port.parse::<u16>().is_ok_and(|p| p > 0);
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if port_ok && host_ok {
        Ok(())
    } else {
        Err(invalid())
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
