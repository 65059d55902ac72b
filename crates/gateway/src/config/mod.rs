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
//!
//! - `sources`: the layers (defaults, file, environment) and how they are merged;
//! - `validate`: the merged raw values turned into typed [`Settings`], every rule with the key it names;
//! - `redact`: the `check-config` output, serialized from the settings themselves with every secret redacted.

use std::net::SocketAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use secrecy::SecretString;
use serde::Serialize;
use smartro::endpoints::{Endpoints, Environment};

mod redact;
mod sources;
mod validate;

#[cfg(test)]
mod tests;

/// The defaults every other source is layered on; also the file a fresh checkout runs with.
pub const DEFAULT_TOML: &str = include_str!("../../../../config/default.toml");

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

// `Serialize` is what `check-config` prints (see `redact`). A `SecretString` is not `Serialize`, so a secret field
// cannot be added without choosing one of `redact`'s helpers for it.

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    #[serde(serialize_with = "redact::with_effective_endpoints")]
    pub smartro: SmartroSettings,
    /// Never empty; the first one is the default merchant.
    pub merchants: Vec<MerchantSettings>,
    pub api: ApiSettings,
    pub webhooks: WebhookSettings,
    pub orders: OrderSettings,
    pub workers: WorkerSettings,
    pub checkout: CheckoutSettings,
    /// The shop's in-store Smartro card terminals the gateway drives as their POS; may be empty.
    pub terminals: Vec<TerminalSettings>,
    pub console: ConsoleSettings,
}

#[derive(Debug, Clone, Serialize)]
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
    /// The merchant server's address, sent to Smartro as MallIP.
    pub mall_ip: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DatabaseSettings {
    /// `None`: the embedded PostgreSQL under `data_dir`.
    #[serde(
        serialize_with = "redact::optional_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<SecretString>,
    pub data_dir: PathBuf,
    pub max_connections: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct SmartroSettings {
    pub environment: Environment,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pay_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receipt_api_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
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

#[derive(Debug, Clone, Serialize)]
pub struct MerchantSettings {
    pub mid: String,
    #[serde(serialize_with = "redact::secret")]
    pub merchant_key: SecretString,
    #[serde(serialize_with = "redact::secret")]
    pub cancel_password: SecretString,
    /// Whether this MID takes escrow payments (Smartro sets escrow up per merchant contract).
    pub escrow: EscrowPolicy,
    /// The sub-malls registered under this MID for split settlement (서브몰 정산); empty: it does not split.
    pub sub_malls: Vec<String>,
}

/// A merchant's escrow (구매안전서비스) setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscrowPolicy {
    /// No escrow: an order asking for it is refused.
    Off,
    /// Escrow when the order asks for it.
    Optional,
    /// Escrow when the order asks for it, and always for cash payments (bank transfer, virtual account), as
    /// Korean law requires merchants to offer it for those.
    RequiredForCash,
}

/// One in-store card terminal (`[[terminals]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TerminalSettings {
    /// The name the API uses for it (`/v1/terminals/{id}`): 1 to 64 ASCII letters, digits, `-` or `_`.
    pub id: String,
    /// Where the terminal listens on the shop's network, `host:port`.
    pub address: String,
    /// The merchant its sales are reported under (the order's `mid`); the default merchant's when absent.
    pub mid: Option<String>,
    /// How long a transaction may wait for the terminal's final answer (card reading and a 30-second signature
    /// take time); after it the transaction is `unknown` until the terminal's last-transaction record settles it.
    pub timeout_secs: u64,
    /// Print the gateway's own sales slip on the terminal after an approval.
    pub print_receipt: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiSettings {
    /// Never empty.
    #[serde(serialize_with = "redact::secret_list")]
    pub secret_keys: Vec<SecretString>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WebhookSettings {
    /// Set together with `secret`, or neither.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(
        serialize_with = "redact::optional_secret",
        skip_serializing_if = "Option::is_none"
    )]
    pub secret: Option<SecretString>,
    pub retry_window_hours: u64,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderSettings {
    pub ttl_minutes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerSettings {
    pub poll_interval_ms: u64,
    /// `None`: raw notifications are kept forever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_retention_days: Option<u32>,
    /// Raw bodies that failed parsing or the signature check are deleted after this many days.
    pub rejected_retention_days: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckoutSettings {
    /// Origins allowed to frame the checkout page (`frame-ancestors`); empty: none.
    pub frame_ancestors: Vec<String>,
}

/// The operator console (`/console`).
#[derive(Debug, Clone, Serialize)]
pub struct ConsoleSettings {
    /// A session ends this long after sign-in.
    pub session_minutes: i64,
    /// Who may sign in; empty: the console is off and every `/console` path answers 404.
    pub operators: Vec<OperatorSettings>,
}

/// One operator (`[[console.operators]]`).
#[derive(Debug, Clone, Serialize)]
pub struct OperatorSettings {
    /// The sign-in name, also written in the audit log and as who resolved or recorded what.
    pub name: String,
    /// `$argon2id$…` as `smartro-gateway hash-password` prints it. A secret: it allows guessing the password
    /// offline.
    #[serde(serialize_with = "redact::secret")]
    pub password_hash: SecretString,
}

impl Settings {
    pub fn merchant(&self, mid: &str) -> Option<&MerchantSettings> {
        self.merchants.iter().find(|merchant| merchant.mid == mid)
    }

    pub fn terminal(&self, id: &str) -> Option<&TerminalSettings> {
        self.terminals.iter().find(|terminal| terminal.id == id)
    }

    /// The first configured merchant; validation guarantees there is one.
    pub fn default_merchant(&self) -> &MerchantSettings {
        &self.merchants[0]
    }
}
