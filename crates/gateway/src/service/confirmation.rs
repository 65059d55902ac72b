//! How far a verified result may be believed before it changes an order.
//!
//! A provider's signature may prove only that it made *some* transaction (Smartro's SignValue covers the TID and
//! the ResultCode only; OID, Amt and the rest are the sender's word, and a returnPay passes through the buyer's
//! browser). A result is believed when it comes from one of the provider's notification servers
//! (`smartro.notify_allow_cidrs`), when what the gateway already knows settles it (a TID bound to another order
//! refutes it, a payment confirmed before fixes its amount), or when the provider's records confirm it.

use std::net::IpAddr;

use super::Services;
use crate::addr::is_in;
use crate::domain::{Confirmed, ConfirmedBy, ResultKind, ResultSource, VerifiedResult};
use crate::providers::{Confirmation, Provider};
use crate::store::StoreError;

impl Services {
    /// Whether `result` is an inform from one of the provider's notification servers, as `client` (the sender,
    /// resolved through trusted proxies only) says.
    pub fn from_notifier(&self, result: &VerifiedResult, client: Option<IpAddr>) -> bool {
        result.source == ResultSource::Inform
            && client.is_some_and(|ip| is_in(ip, &self.settings.smartro.notify_allow_cidrs))
    }

    /// Confirmation from what the gateway and the provider know of the TID: its binding, a payment confirmed
    /// before, the provider's records.
    pub async fn confirm_with_provider(
        &self,
        result: &VerifiedResult,
    ) -> Result<Confirmation, StoreError> {
        for tid in std::iter::once(result.tid.as_str()).chain(result.other_tid()) {
            if let Some(owner) = self.store.tid_owner(tid).await? {
                if owner != result.order_id {
                    return Ok(Confirmation::Refuted(format!(
                        "TID {tid} belongs to order {owner}"
                    )));
                }
            }
        }
        if result.kind != ResultKind::Cancel {
            // A payment of this TID confirmed before fixes its order and amount: another amount is refuted without
            // asking again, and for a returnPay the same one needs no lookup.
            if let Some(recorded) = self
                .store
                .payment_amount(&result.tid, &result.order_id)
                .await?
            {
                if recorded != result.amount {
                    return Ok(Confirmation::Refuted(format!(
                        "TID {} was confirmed for {recorded} KRW, not {}",
                        result.tid, result.amount
                    )));
                }
                if result.source == ResultSource::Return {
                    return Ok(Confirmation::Confirmed(Confirmed::by(
                        ConfirmedBy::EarlierResult,
                    )));
                }
            }
        }
        Ok(self.weblink.confirm(result).await)
    }
}
