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

/// A sub-mall parent and the sub-malls registered under it, for split-settlement payments (`Productinfo=padj`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubMalls {
    /// The parent merchant's MID, the one that sends the payment request.
    pub parent: String,
    /// The MIDs its DivideInfo may name.
    pub sub_malls: Vec<String>,
}

impl SubMalls {
    /// The public test parent of manual §4.4, SMTSUB001m, with its sub-malls SMTSUB002m..SMTSUB004m.
    pub fn test_sub_malls() -> SubMalls {
        SubMalls {
            parent: TEST_SUB_MALL_PARENT.to_string(),
            sub_malls: smartro::endpoints::TEST_SUB_MERCHANT_MIDS
                .iter()
                .map(|mid| mid.to_string())
                .collect(),
        }
    }
}

/// The escrow test merchant of manual §4.4.
pub const TEST_ESCROW_MID: &str = "ECTEST001m";

/// The sub-mall test parent of manual §4.4.
pub const TEST_SUB_MALL_PARENT: &str = "SMTSUB001m";

/// The ResultCode of an approved CLGIFT (culture gift card) payment unless configured otherwise. Neither the
/// manual nor the result-code document gives one, so this is the sandbox's own choice: a four-character code like
/// every other ResultCode, and one the code tables do not hold, so that nothing mistakes it for a documented code.
pub const DEFAULT_CLGIFT_SUCCESS_CODE: &str = "0000";

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
    /// Merchants that may send escrow requests (`EscrowCD=1`); any other merchant's escrow request is refused
    /// with an error page. Default: the escrow test merchant ECTEST001m.
    pub escrow_mids: Vec<String>,
    /// Sub-mall parents and their registered sub-malls: a split payment (`Productinfo=padj` + DivideInfo) may only
    /// name sub-malls of its own merchant. Default: SMTSUB001m → SMTSUB002m, SMTSUB003m, SMTSUB004m.
    pub sub_malls: Vec<SubMalls>,
    /// ResultCode of an approved CLGIFT payment (no document gives one); default [`DEFAULT_CLGIFT_SUCCESS_CODE`].
    pub clgift_success_code: String,
    /// Run the in-store card-terminal simulator too (its own TCP port; its page at `/terminal`). Default: off.
    pub terminal: Option<crate::terminal::TerminalConfig>,
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
            escrow_mids: vec![TEST_ESCROW_MID.to_string()],
            sub_malls: vec![SubMalls::test_sub_malls()],
            clgift_success_code: DEFAULT_CLGIFT_SUCCESS_CODE.to_string(),
            terminal: None,
        }
    }
}

/// A MID as the payment request carries it: 1 to 10 ASCII letters and digits.
fn is_mid(mid: &str) -> bool {
    !mid.is_empty() && mid.len() <= 10 && mid.bytes().all(|b| b.is_ascii_alphanumeric())
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

    /// Whether `mid` may send escrow requests.
    pub fn escrow_allowed(&self, mid: &str) -> bool {
        self.escrow_mids.iter().any(|m| m == mid)
    }

    /// The sub-malls registered under `parent`; empty when it is no sub-mall parent.
    pub fn sub_malls_of(&self, parent: &str) -> &[String] {
        self.sub_malls
            .iter()
            .find(|group| group.parent == parent)
            .map(|group| group.sub_malls.as_slice())
            .unwrap_or_default()
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.merchants.is_empty() {
            return Err(invalid("merchants", "at least one merchant is needed"));
        }
        for m in &self.merchants {
            if !is_mid(&m.mid) {
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
        for mid in &self.escrow_mids {
            if !is_mid(mid) {
                return Err(invalid(
                    "escrow_mids",
                    format!("{mid:?} is not a MID of up to 10 letters and digits"),
                ));
            }
        }
        for (i, group) in self.sub_malls.iter().enumerate() {
            if !is_mid(&group.parent) {
                return Err(invalid(
                    "sub_malls.parent",
                    format!(
                        "{:?} is not a MID of up to 10 letters and digits",
                        group.parent
                    ),
                ));
            }
            if self.sub_malls[..i].iter().any(|g| g.parent == group.parent) {
                return Err(invalid(
                    "sub_malls.parent",
                    format!("{} is listed twice", group.parent),
                ));
            }
            if group.sub_malls.is_empty() {
                return Err(invalid(
                    "sub_malls.sub_malls",
                    format!("{} has no sub-malls", group.parent),
                ));
            }
            for sub in &group.sub_malls {
                if !is_mid(sub) || *sub == group.parent {
                    return Err(invalid(
                        "sub_malls.sub_malls",
                        format!("{sub:?} is not a sub-mall MID of {}", group.parent),
                    ));
                }
            }
        }
        let code = &self.clgift_success_code;
        if code.len() != 4 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(invalid(
                "clgift_success_code",
                format!("{code:?} is not a ResultCode of 4 letters and digits"),
            ));
        }
        // A decline must stay distinguishable from an approval.
        let decline = crate::pay::decline_code(&smartro::types::PayMethod::Clgift);
        if code == decline {
            return Err(invalid(
                "clgift_success_code",
                format!("{code} is the sandbox's CLGIFT decline code"),
            ));
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
///
/// Merchant features (each replaces its default when present):
///
/// ```toml
/// escrow_mids = ["ECTEST001m"]     # merchants that may send EscrowCD=1
/// clgift_success_code = "0000"     # ResultCode of an approved CLGIFT payment
/// [[sub_malls]]                    # one table per sub-mall parent
/// parent = "SMTSUB001m"
/// sub_malls = ["SMTSUB002m", "SMTSUB003m", "SMTSUB004m"]
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
    pub escrow_mids: Option<Vec<String>>,
    /// A list of tables rather than a map keyed by parent MID: the config reader lower-cases map keys, and MIDs
    /// are case-sensitive.
    pub sub_malls: Option<Vec<SubMalls>>,
    pub clgift_success_code: Option<String>,
    pub terminal: Option<FileTerminal>,
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
        if let Some(mids) = self.escrow_mids {
            config.escrow_mids = mids;
        }
        if let Some(groups) = self.sub_malls {
            config.sub_malls = groups;
        }
        if let Some(code) = self.clgift_success_code {
            config.clgift_success_code = code;
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
        if let Some(t) = self.terminal {
            let mut terminal = config.terminal.clone().unwrap_or_default();
            if let Some(bind) = t.bind {
                terminal.bind = bind.parse().map_err(|_| {
                    invalid(
                        "terminal.bind",
                        format!("{bind:?} is not an address like 127.0.0.1:9091"),
                    )
                })?;
            }
            // The terminal follows the sandbox's own `auto` unless it has one of its own.
            terminal.auto = t.auto.or(config.auto);
            if let Some(ms) = t.auto_delay_ms {
                terminal.auto_delay = Duration::from_millis(ms);
            }
            if let Some(ms) = t.signature_timeout_ms {
                terminal.signature_timeout = Duration::from_millis(ms);
            }
            if let Some(f) = t.faults {
                terminal.faults = f;
            }
            config.terminal = Some(terminal);
        }
        config.validate()
    }
}

/// The `[terminal]` table: its presence turns the card-terminal simulator on.
///
/// ```toml
/// [terminal]
/// bind = "127.0.0.1:9091"          # where the POS (the gateway) connects
/// auto = "approve"                 # or "decline"; absent: the sandbox's `auto`, else wait for /terminal
/// auto_delay_ms = 500
/// signature_timeout_ms = 30000
/// [terminal.faults]                # also changeable at run time: POST /terminal/faults
/// decline = false
/// signature = false
/// signature_timeout = false
/// drop_after_request = false
/// no_answer = false
/// garbage = false
/// busy = false
/// ```
#[derive(Debug, Default, Deserialize)]
pub struct FileTerminal {
    pub bind: Option<String>,
    pub auto: Option<AutoDecision>,
    pub auto_delay_ms: Option<u64>,
    pub signature_timeout_ms: Option<u64>,
    pub faults: Option<crate::terminal::TerminalFaults>,
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
    fn merchant_features_default_to_the_manuals_test_merchants() {
        let c = SandboxConfig::default();
        assert!(c.escrow_allowed("ECTEST001m"));
        assert!(!c.escrow_allowed("SMTPAY001m"));
        assert_eq!(
            c.sub_malls_of("SMTSUB001m"),
            ["SMTSUB002m", "SMTSUB003m", "SMTSUB004m"]
        );
        assert!(c.sub_malls_of("SMTPAY001m").is_empty());
        assert_eq!(c.clgift_success_code, "0000");
    }

    #[test]
    fn merchant_features_from_the_file_and_their_checks() {
        let dir = std::env::temp_dir().join(format!("sandbox-features-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("sandbox.toml");
        let toml =
            "escrow_mids = [\"SMTPAY002m\", \"ECTEST001m\"]\nclgift_success_code = \"CG00\"\n\
[[sub_malls]]\nparent = \"PARENT001m\"\nsub_malls = [\"SubMall01m\"]\n";
        std::fs::write(&path, toml).unwrap_or_default();
        let mut c = SandboxConfig::default();
        let applied = c.apply_file(&path);
        assert!(applied.is_ok(), "{applied:?}");
        assert!(c.escrow_allowed("SMTPAY002m") && c.escrow_allowed("ECTEST001m"));
        // The file's list replaces the default, MIDs keep their case.
        assert_eq!(c.sub_malls_of("PARENT001m"), ["SubMall01m"]);
        assert!(c.sub_malls_of("SMTSUB001m").is_empty());
        assert_eq!(c.clgift_success_code, "CG00");

        for (bad, key) in [
            ("clgift_success_code = \"3002\"\n", "clgift_success_code"),
            ("clgift_success_code = \"00000\"\n", "clgift_success_code"),
            ("escrow_mids = [\"\"]\n", "escrow_mids"),
            (
                "[[sub_malls]]\nparent = \"P1\"\nsub_malls = []\n",
                "sub_malls.sub_malls",
            ),
            (
                "[[sub_malls]]\nparent = \"P1\"\nsub_malls = [\"P1\"]\n",
                "sub_malls.sub_malls",
            ),
            (
                "[[sub_malls]]\nparent = \"P1\"\nsub_malls = [\"S1\"]\n\
[[sub_malls]]\nparent = \"P1\"\nsub_malls = [\"S2\"]\n",
                "sub_malls.parent",
            ),
        ] {
            std::fs::write(&path, bad).unwrap_or_default();
            let err = SandboxConfig::default().apply_file(&path);
            assert!(
                matches!(&err, Err(ConfigError::Invalid { key: k, .. }) if *k == key),
                "{bad}: {err:?}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn terminal_table_turns_the_simulator_on() {
        let dir = std::env::temp_dir().join(format!("sandbox-terminal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("sandbox.toml");
        let toml =
            "auto = \"approve\"\n[terminal]\nbind = \"127.0.0.1:0\"\nsignature_timeout_ms = 1000\n\
[terminal.faults]\nsignature = true\nbusy = true\n";
        std::fs::write(&path, toml).unwrap_or_default();
        let mut c = SandboxConfig::default();
        let applied = c.apply_file(&path);
        assert!(applied.is_ok(), "{applied:?}");
        let t = c.terminal.clone().unwrap_or_default();
        assert_eq!(t.bind.port(), 0);
        // The sandbox's auto carries over to the terminal.
        assert_eq!(t.auto, Some(AutoDecision::Approve));
        assert_eq!(t.signature_timeout, Duration::from_millis(1000));
        assert!(t.faults.signature && t.faults.busy && !t.faults.decline);

        std::fs::write(&path, "[terminal.faults]\nmelt = true\n").unwrap_or_default();
        assert!(SandboxConfig::default().apply_file(&path).is_err());
        assert!(SandboxConfig::default().terminal.is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn auto_decision_parses() {
        assert_eq!("approve".parse::<AutoDecision>(), Ok(AutoDecision::Approve));
        assert_eq!("DECLINE".parse::<AutoDecision>(), Ok(AutoDecision::Decline));
        assert!("maybe".parse::<AutoDecision>().is_err());
    }
}
