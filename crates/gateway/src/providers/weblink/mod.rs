//! Smartro WEBLink: the online payment window, its returnPay and inform callbacks, cancels and the receipt data
//! API. Everything that knows Smartro's field names, codes and signatures is in here or in the `smartro` crate.

mod callbacks;
mod cancel;
mod checkout;
mod confirm;

use std::sync::Arc;
use std::time::Duration;

use smartro::client::SmartroClient;
use smartro::types::PayMethod as WirePayMethod;

pub use callbacks::mask_card_number;
pub use cancel::cancelled_at_smartro;
pub(crate) use checkout::purchase_of;
pub use checkout::{CheckoutForm, FormProblem, Purchase};
pub use confirm::{judge, Verdict};

use super::{CancelCall, Confirmation, LookupError, Provider, Refusal};
use crate::config::Settings;
use crate::domain::{CancelPlan, PayMethod, ResultSource, VerifiedResult};

/// Smartro WEBLink for the merchants of `settings`.
#[derive(Clone)]
pub struct WebLink {
    settings: Arc<Settings>,
    client: SmartroClient,
}

impl WebLink {
    pub fn new(settings: Arc<Settings>) -> Result<WebLink, reqwest::Error> {
        let endpoints = settings.smartro.endpoints();
        let client = SmartroClient::new(
            endpoints.cancel_url,
            endpoints.receipt_api_url,
            Duration::from_secs(settings.smartro.timeout_secs),
        )?;
        Ok(WebLink { settings, client })
    }
}

/// The gateway's pay method for Smartro's; `None` for a method the gateway does not know.
pub fn pay_method(method: &WirePayMethod) -> Option<PayMethod> {
    match method {
        WirePayMethod::Card => Some(PayMethod::Card),
        WirePayMethod::Bank => Some(PayMethod::Bank),
        WirePayMethod::Vbank => Some(PayMethod::Vbank),
        WirePayMethod::Cellphone => Some(PayMethod::Cellphone),
        WirePayMethod::Clgift => Some(PayMethod::GiftCard),
        WirePayMethod::Toss => Some(PayMethod::Toss),
        WirePayMethod::Kakao => Some(PayMethod::Kakao),
        WirePayMethod::Other(_) => None,
    }
}

/// Smartro's pay method for the gateway's; `None` for a method WEBLink does not take (terminal easy pay).
pub fn wire_pay_method(method: PayMethod) -> Option<WirePayMethod> {
    Some(match method {
        PayMethod::Card => WirePayMethod::Card,
        PayMethod::Bank => WirePayMethod::Bank,
        PayMethod::Vbank => WirePayMethod::Vbank,
        PayMethod::Cellphone => WirePayMethod::Cellphone,
        PayMethod::GiftCard => WirePayMethod::Clgift,
        PayMethod::Toss => WirePayMethod::Toss,
        PayMethod::Kakao => WirePayMethod::Kakao,
        PayMethod::EasyPay => return None,
    })
}

impl Provider for WebLink {
    fn verify(&self, source: ResultSource, body: &[u8]) -> Result<VerifiedResult, Refusal> {
        match source {
            ResultSource::Return => callbacks::verify_return(&self.settings, body),
            // Anything server to server is an inform: WEBLink has no other.
            ResultSource::Inform | ResultSource::Terminal => {
                callbacks::verify_inform(&self.settings, body)
            }
        }
    }

    async fn confirm(&self, result: &VerifiedResult) -> Confirmation {
        self.ask_receipt_api(result).await
    }

    async fn cancel(&self, mid: &str, plan: &CancelPlan, reason: &str) -> CancelCall {
        self.send_cancel(mid, plan, reason).await
    }

    async fn cancelled_so_far(&self, mid: &str, tid: &str) -> Result<Option<i64>, LookupError> {
        self.lookup(mid, tid)
            .await
            .map(|receipt| cancelled_at_smartro(&receipt))
    }
}
