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

/// Cancel password of the test merchants (manual §4.6).
pub const TEST_CANCEL_PASSWORD: &str = "123456";
