//! Prometheus metrics: requests, notifications by outcome, orders by status.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    source: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

type HistogramFamily = Family<RouteLabels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily,
    notifications: Family<NotificationLabels, Counter>,
    orders: Family<StatusLabels, Gauge>,
}

fn latency_histogram() -> Histogram {
    // 0.5 ms … ~8 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("gateway");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency: HistogramFamily = Family::new_with_constructor(latency_histogram);
        let notifications = Family::<NotificationLabels, Counter>::default();
        let orders = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by method, route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route",
            latency.clone(),
        );
        registry.register(
            "smartro_notifications",
            "Smartro results received (returnPay and inform) by outcome",
            notifications.clone(),
        );
        registry.register("orders", "Orders by status", orders.clone());
        Metrics {
            registry,
            requests,
            latency,
            notifications,
            orders,
        }
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_notification(&self, source: &str, outcome: &str) {
        self.notifications
            .get_or_create(&NotificationLabels {
                source: source.to_string(),
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Sets the order gauges from a fresh count (taken at scrape time, so every replica reports the truth).
    pub fn set_orders(&self, counts: &[(String, i64)]) {
        for status in crate::domain::OrderStatus::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| s == status.as_str())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            self.orders
                .get_or_create(&StatusLabels {
                    status: status.as_str().to_string(),
                })
                .set(n);
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "could not encode metrics");
        }
        out
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
