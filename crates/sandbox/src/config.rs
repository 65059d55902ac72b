//! The sandbox's configuration: built in code (tests, the gateway's demo), or read from a TOML file and flags.

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::Deserialize;

/// A merchant the sandbox knows: its MID, the key that signs its messages and its cancel password.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Merchant {
    pub mid: String,
    pub merchant_key: String,
    pub cancel_password: String,
}

impl Merchant {
    pub fn new(
        mid: impl Into<String>,
        merchant_key: impl Into<String>,
        cancel_password: impl Into<String>,
    ) -> Merchant {
        Merchant {
            mid: mid.into(),
            merchant_key: merchant_key.into(),
            cancel_password: cancel_password.into(),
        }
    }

    /// The four public test merchants of weblink.md §2, all with the test cancel password.
    pub fn test_merchants() -> Vec<Merchant> {
        smartro::endpoints::TEST_MERCHANTS
            .iter()
            .map(|(mid, key)| Merchant::new(*mid, *key, smartro::endpoints::TEST_CANCEL_PASSWORD))
            .collect()
    }
}

/// What the sandbox decides at once, without showing the payment window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoDecision {
    Approve,
    Decline,
}

impl FromStr for AutoDecision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "approve" => Ok(AutoDecision::Approve),
            "decline" => Ok(AutoDecision::Decline),
            other => Err(format!("expected approve or decline, got {other:?}")),
        }
    }
}

/// Fault injection, for exercising the merchant's robustness.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Faults {
    /// Share (0.0–1.0) of notification deliveries silently not sent; the attempt still counts and the daemon
    /// retries after the interval, as when Smartro's POST is lost on the way.
    pub drop_ratio: f64,
    /// Share (0.0–1.0) of notification deliveries sent twice in a row.
    pub duplicate_ratio: f64,
    /// Added before every cancel answer.
    pub cancel_latency: Duration,
    /// Apply each cancel but never answer: the client sees a timeout while the payment is cancelled.
    pub cancel_no_answer: bool,
    /// Held before the first delivery of every notification, as when Smartro's daemon (which runs once a
    /// minute) is late: results then reach the merchant through the browser, or the API, first.
    pub notify_delay: Duration,
    /// The receipt API answers every request `503` with `{"resultCode":"R503",...}`, as when Smartro's API is
    /// down: results cannot be confirmed. Initial value; change it at run time with
    /// [`crate::SandboxState::set_receipt_api_down`] or `POST /sandbox/faults`.
    pub receipt_api_down: bool,
    /// A transaction (and each partial cancel's `partCancelInfo` entry, and a full cancel) shows in the receipt
    /// API only this long after it was made; before that the API has no record of it (404), as when Smartro's
    /// receipt database lags behind its payment system. Initial value; change it at run time with
    /// [`crate::SandboxState::set_receipt_delay`] or `POST /sandbox/faults`.
    pub receipt_delay: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SandboxConfig {
    /// Port 0 picks a free port; [`crate::Sandbox::addr`] tells which.
    pub bind: SocketAddr,
    /// Base URL the browser sees (pages link to it); default `http://{bound address}`.
    pub public_url: Option<String>,
    pub merchants: Vec<Merchant>,
    /// Decide every payment at once instead of showing the window.
    pub auto: Option<AutoDecision>,
    /// Wait between two deliveries of the same notification.
    pub notify_interval: Duration,
    /// Deliveries of one notification before the daemon gives up.
    pub notify_max_attempts: u32,
    pub faults: Faults,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 9090)),
            public_url: None,
            merchants: Merchant::test_merchants(),
            auto: None,
            notify_interval: Duration::from_secs(2),
            notify_max_attempts: 10,
            faults: Faults::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{key}: {reason}")]
    Invalid { key: &'static str, reason: String },
    #[error("config file {path}: {reason}")]
    File { path: String, reason: String },
}

fn invalid(key: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key,
        reason: reason.into(),
    }
}

impl SandboxConfig {
    /// The config for tests: a free port, no delays beyond `interval` between deliveries.
    pub fn for_tests(notify_interval: Duration) -> SandboxConfig {
        SandboxConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            notify_interval,
            ..SandboxConfig::default()
        }
    }

    pub fn merchant(&self, mid: &str) -> Option<&Merchant> {
        self.merchants.iter().find(|m| m.mid == mid)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.merchants.is_empty() {
            return Err(invalid("merchants", "at least one merchant is needed"));
        }
        for m in &self.merchants {
            if m.mid.is_empty()
                || m.mid.len() > 10
                || !m.mid.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                return Err(invalid(
                    "merchants.mid",
                    format!("{:?} is not a MID of up to 10 letters and digits", m.mid),
                ));
            }
            if m.merchant_key.is_empty() {
                return Err(invalid(
                    "merchants.merchant_key",
                    format!("empty for {}", m.mid),
                ));
            }
            if m.cancel_password.is_empty() {
                return Err(invalid(
                    "merchants.cancel_password",
                    format!("empty for {}", m.mid),
                ));
            }
        }
        if self.notify_max_attempts == 0 {
            return Err(invalid("notify_max_attempts", "must be at least 1"));
        }
        for (key, ratio) in [
            ("faults.drop_ratio", self.faults.drop_ratio),
            ("faults.duplicate_ratio", self.faults.duplicate_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(invalid(key, "must be between 0.0 and 1.0"));
            }
        }
        if let Some(url) = &self.public_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid("public_url", "must start with http:// or https://"));
            }
        }
        Ok(())
    }

    /// Overlay the settings of a TOML file (see [`FileConfig`]) on this config.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file_err = |reason: String| ConfigError::File {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
        let file: FileConfig = config::Config::builder()
            .add_source(config::File::from_str(&text, config::FileFormat::Toml))
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| file_err(e.to_string()))?;
        file.apply(self)
    }
}

/// The TOML file of `--config`:
///
/// ```toml
/// bind = "127.0.0.1:9090"
/// public_url = "http://localhost:9090"
/// auto = "approve"                 # or "decline"; absent: show the payment window
/// notify_interval_secs = 2         # or notify_interval_ms
/// notify_max_attempts = 10
/// [[merchants]]                    # replaces the default test merchants
/// mid = "SMTPAY001m"
/// merchant_key = "..."
/// cancel_password = "123456"
/// [faults]
/// drop_ratio = 0.0
/// duplicate_ratio = 0.0
/// cancel_latency_ms = 0
/// notify_delay_ms = 0
/// cancel_no_answer = false
/// receipt_api_down = false         # also changeable at run time: POST /sandbox/faults
/// receipt_delay_ms = 0             # also changeable at run time: POST /sandbox/faults
/// ```
#[derive(Debug, Default, Deserialize)]
pub struct FileConfig {
    pub bind: Option<String>,
    pub public_url: Option<String>,
    pub auto: Option<AutoDecision>,
    pub notify_interval_secs: Option<u64>,
    pub notify_interval_ms: Option<u64>,
    pub notify_max_attempts: Option<u32>,
    pub merchants: Option<Vec<Merchant>>,
    pub faults: Option<FileFaults>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FileFaults {
    pub drop_ratio: Option<f64>,
    pub duplicate_ratio: Option<f64>,
    pub cancel_latency_ms: Option<u64>,
    pub notify_delay_ms: Option<u64>,
    pub cancel_no_answer: Option<bool>,
    pub receipt_api_down: Option<bool>,
    pub receipt_delay_ms: Option<u64>,
}

impl FileConfig {
    pub fn apply(self, config: &mut SandboxConfig) -> Result<(), ConfigError> {
        if let Some(bind) = self.bind {
            config.bind = bind.parse().map_err(|_| {
                invalid(
                    "bind",
                    format!("{bind:?} is not an address like 127.0.0.1:9090"),
                )
            })?;
        }
        if let Some(url) = self.public_url {
            config.public_url = Some(url);
        }
        if let Some(auto) = self.auto {
            config.auto = Some(auto);
        }
        if let Some(secs) = self.notify_interval_secs {
            config.notify_interval = Duration::from_secs(secs);
        }
        if let Some(ms) = self.notify_interval_ms {
            config.notify_interval = Duration::from_millis(ms);
        }
        if let Some(n) = self.notify_max_attempts {
            config.notify_max_attempts = n;
        }
        if let Some(merchants) = self.merchants {
            config.merchants = merchants;
        }
        if let Some(f) = self.faults {
            if let Some(v) = f.drop_ratio {
                config.faults.drop_ratio = v;
            }
            if let Some(v) = f.duplicate_ratio {
                config.faults.duplicate_ratio = v;
            }
            if let Some(v) = f.notify_delay_ms {
                config.faults.notify_delay = Duration::from_millis(v);
            }
            if let Some(v) = f.cancel_latency_ms {
                config.faults.cancel_latency = Duration::from_millis(v);
            }
            if let Some(v) = f.cancel_no_answer {
                config.faults.cancel_no_answer = v;
            }
            if let Some(v) = f.receipt_api_down {
                config.faults.receipt_api_down = v;
            }
            if let Some(v) = f.receipt_delay_ms {
                config.faults.receipt_delay = Duration::from_millis(v);
            }
        }
        config.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_knows_the_four_test_merchants() {
        let c = SandboxConfig::default();
        assert_eq!(c.merchants.len(), 4);
        assert!(c.merchants.iter().all(|m| m.cancel_password == "123456"));
        assert!(c.merchant("SMTSUB001m").is_some());
        assert_eq!(c.bind.port(), 9090);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn file_overlays_and_validates() {
        let dir = std::env::temp_dir().join(format!("sandbox-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("sandbox.toml");
        let toml = "bind = \"127.0.0.1:0\"\nauto = \"decline\"\nnotify_interval_ms = 50\nnotify_max_attempts = 3\n\
[[merchants]]\nmid = \"TEST00001m\"\nmerchant_key = \"k\"\ncancel_password = \"pw\"\n\
[faults]\ndrop_ratio = 0.5\ncancel_latency_ms = 10\nreceipt_api_down = true\nreceipt_delay_ms = 1500\n";
        std::fs::write(&path, toml).unwrap_or_default();
        let mut c = SandboxConfig::default();
        let applied = c.apply_file(&path);
        assert!(applied.is_ok(), "{applied:?}");
        assert_eq!(c.auto, Some(AutoDecision::Decline));
        assert_eq!(c.notify_interval, Duration::from_millis(50));
        assert_eq!(c.notify_max_attempts, 3);
        assert_eq!(c.merchants, vec![Merchant::new("TEST00001m", "k", "pw")]);
        assert_eq!(c.faults.drop_ratio, 0.5);
        assert_eq!(c.faults.cancel_latency, Duration::from_millis(10));
        assert!(c.faults.receipt_api_down);
        assert_eq!(c.faults.receipt_delay, Duration::from_millis(1500));

        std::fs::write(&path, "[faults]\nduplicate_ratio = 1.5\n").unwrap_or_default();
        let err = SandboxConfig::default().apply_file(&path);
        assert!(
            matches!(
                err,
                Err(ConfigError::Invalid {
                    key: "faults.duplicate_ratio",
                    ..
                })
            ),
            "{err:?}"
        );
        let missing = SandboxConfig::default().apply_file(&dir.join("absent.toml"));
        assert!(matches!(missing, Err(ConfigError::File { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn auto_decision_parses() {
        assert_eq!("approve".parse::<AutoDecision>(), Ok(AutoDecision::Approve));
        assert_eq!("DECLINE".parse::<AutoDecision>(), Ok(AutoDecision::Decline));
        assert!("maybe".parse::<AutoDecision>().is_err());
    }
}
