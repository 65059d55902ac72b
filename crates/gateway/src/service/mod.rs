//! The gateway's flows, between the edges and the store. HTTP handlers (`crate::http`), background workers
//! (`crate::workers`) and, later, the console and the terminal connections call these and nothing below them,
//! so that the same money rules hold whichever way a request or a message comes in:
//! - [`orders`]: creating an order (validation and Idempotency-Key; keyed ones in groups: [`order_groups`]),
//!   reading orders;
//! - [`checkout`]: the buyer's signed form;
//! - [`results`]: a provider's result, stored raw, verified, confirmed ([`confirmation`]) and applied once
//!   (those from an allow-listed notifier in groups: [`result_groups`]; group commit itself: [`groups`]);
//! - [`cancels`]: cancels planned, sent and settled; receipts;
//! - [`refunds`]: refunds the merchant made itself, recorded on the order;
//! - [`resolutions`]: an operator's resolution of an order under review;
//! - [`events`]: the webhook outbox for operators;
//! - [`maintenance`]: expiry, reconciliation of unanswered cancels, retention;
//! - [`terminals`]: sales, aborts and cancels on in-store card terminals.

pub mod cancels;
pub mod checkout;
pub mod confirmation;
pub mod events;
pub mod groups;
pub mod idempotency;
pub mod maintenance;
pub mod order_groups;
pub mod orders;
pub mod problem;
pub mod refunds;
pub mod resolutions;
pub mod result_groups;
pub mod results;
pub mod tax_refunds;
pub mod terminal_extras;
pub mod terminals;

use std::sync::Arc;

use serde_json::Value;

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::metrics::Metrics;
use crate::providers::terminal::TerminalHub;
use crate::providers::weblink::WebLink;
use crate::store::terminal::TerminalTxRow;
use crate::store::{OrderRecord, Store};
use crate::views::{OrderView, TerminalTransactionView};

/// Everything a flow needs; cheap to clone.
#[derive(Clone)]
pub struct Services {
    /// The database. Edges reach it only through the flows here (the readiness probe aside).
    pub store: Store,
    pub settings: Arc<Settings>,
    pub clock: SharedClock,
    pub metrics: Arc<Metrics>,
    pub weblink: WebLink,
    /// The configured in-store terminals' connection tasks.
    pub terminals: TerminalHub,
    /// Results from an allow-listed notifier waiting to be applied in the next group.
    pub result_groups: result_groups::ResultGroups,
    /// Orders with a fresh Idempotency-Key waiting to be created in the next group.
    pub order_groups: order_groups::OrderGroups,
}

impl Services {
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
    ) -> Result<Services, reqwest::Error> {
        let weblink = WebLink::new(settings.clone())?;
        let terminals = TerminalHub::new(&settings);
        let result_groups = result_groups::ResultGroups::new(result_groups::ResultWriter::new(
            store.clone(),
            &settings.server.public_url,
        ));
        let order_groups =
            order_groups::OrderGroups::new(order_groups::OrderWriter::new(store.clone()));
        Ok(Services {
            terminals,
            result_groups,
            order_groups,
            store,
            settings,
            clock,
            metrics,
            weblink,
        })
    }

    /// How an order is shown in the webhook events the store writes with a state change: the API's order object.
    pub fn render(&self) -> impl Fn(&OrderRecord) -> Value + Sync + '_ {
        |record| render_order(record, &self.settings.server.public_url)
    }

    /// How a terminal transaction is shown in the webhook events written with its change.
    pub fn render_terminal_tx(&self) -> impl Fn(&TerminalTxRow) -> Value + Sync {
        |row| serde_json::json!(TerminalTransactionView::from(row))
    }
}

/// The order as the webhook events show it (the API's order object), for [`Services::render`] and for the result
/// groups, which run without a `Services`.
pub(crate) fn render_order(record: &OrderRecord, public_url: &str) -> Value {
    serde_json::json!(OrderView::new(record, public_url))
}
