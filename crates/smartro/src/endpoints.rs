//! Smartro's URLs per environment and the public test merchants (manual §4.3–4.6, seed 003).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Test,
    Production,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// `interfaceURL.jsp`: where the buyer's browser posts the payment request.
    pub pay_url: String,
    /// `payCancelNVProcess.jsp`: server-to-server cancel.
    pub cancel_url: String,
    /// JSON receipt data API.
    pub receipt_api_url: String,
    /// Base of `IssueLoader.jsp` (without query); see [`crate::receipt::receipt_page_url`].
    pub receipt_page_url: String,
    /// Forced vbank deposit page; only the test system has one.
    pub vbank_deposit_url: Option<String>,
}

impl Endpoints {
    pub fn for_environment(env: Environment) -> Endpoints {
        match env {
            Environment::Test => Endpoints {
                pay_url: "https://tpay.smilepay.co.kr/interfaceURL.jsp".to_string(),
                cancel_url: "https://tpay.smilepay.co.kr/cancel/payCancelNVProcess.jsp".to_string(),
                receipt_api_url: "https://tapi.smilepay.co.kr/receipt".to_string(),
                receipt_page_url: "https://test.smilepay.co.kr/issue/IssueLoader.jsp".to_string(),
                vbank_deposit_url: Some(
                    "https://tpay.smilepay.co.kr/payTest/vbank_deposit_notice.jsp".to_string(),
                ),
            },
            Environment::Production => Endpoints {
                pay_url: "https://pay.smilepay.co.kr/interfaceURL.jsp".to_string(),
                cancel_url: "https://pay.smilepay.co.kr/cancel/payCancelNVProcess.jsp".to_string(),
                receipt_api_url: "https://api.smilepay.co.kr/receipt".to_string(),
                receipt_page_url: "https://www.smilepay.co.kr/issue/IssueLoader.jsp".to_string(),
                vbank_deposit_url: None,
            },
        }
    }
}

/// The public test merchants of manual §4.4 as `(MID, merchant key)`. The keys are published test-only keys.
/// SMTSUB001m is the sub-mall parent (subs SMTSUB002m..004m); ECTEST001m is the escrow merchant.
pub const TEST_MERCHANTS: &[(&str, &str)] = &[
    (
        "SMTPAY001m",
        "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==",
    ),
    (
        "SMTPAY002m",
        "nja3kmcUhyD8hQIS51wxFYCYXEWP530/qWB1/LjLPGNch9KeOPtnWYgLghLBUFOUShq4g3uYTMwL9f8164XLOw==",
    ),
    (
        "ECTEST001m",
        "3j5b2KVte4k1OIL8npp9HUej9YYwPUbCsEoJbIjO+2WH4OMYuVYCOzdUpzgtqvxIuexccWxLS3e+MVrWk6Dyvw==",
    ),
    (
        "SMTSUB001m",
        "PM7IViyy42d6cXvC71SgqGLc+X5U0RD77WaDL1uO0M/6+wE+qDy+H2dpz0ZPiI0TvtQK1y+Nf7D0mresKepjyw==",
    ),
];

/// The sub-merchants of the public test sub-mall SMTSUB001m (manual §4.4); no keys of their own are published.
pub const TEST_SUB_MERCHANT_MIDS: &[&str] = &["SMTSUB002m", "SMTSUB003m", "SMTSUB004m"];

/// Cancel password of the test merchants (manual §4.6).
pub const TEST_CANCEL_PASSWORD: &str = "123456";

/// Hosts of Smartro's test system (weblink.md §2): payment window, receipt API and receipt page.
pub const TEST_HOSTS: &[&str] = &[
    "tpay.smilepay.co.kr",
    "tapi.smilepay.co.kr",
    "test.smilepay.co.kr",
];

/// Hosts of Smartro's production system (weblink.md §2).
pub const PRODUCTION_HOSTS: &[&str] = &[
    "pay.smilepay.co.kr",
    "api.smilepay.co.kr",
    "www.smilepay.co.kr",
];

impl Environment {
    /// The hosts this environment's endpoints live on (lowercase).
    pub fn hosts(self) -> &'static [&'static str] {
        match self {
            Environment::Test => TEST_HOSTS,
            Environment::Production => PRODUCTION_HOSTS,
        }
    }
}

/// Whether `mid` is one of the published test MIDs (the four merchants and the sub-mall's sub-merchants). MIDs are
/// compared ignoring ASCII case: a refusal must not be dodged by spelling one differently.
pub fn is_public_test_mid(mid: &str) -> bool {
    TEST_MERCHANTS
        .iter()
        .map(|(test_mid, _)| *test_mid)
        .chain(TEST_SUB_MERCHANT_MIDS.iter().copied())
        .any(|test_mid| test_mid.eq_ignore_ascii_case(mid.trim()))
}

/// The test MID whose published merchant key `key` is, if it is one.
pub fn public_test_key_owner(key: &str) -> Option<&'static str> {
    TEST_MERCHANTS
        .iter()
        .find(|(_, test_key)| *test_key == key.trim())
        .map(|(mid, _)| *mid)
}
