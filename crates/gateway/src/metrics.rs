//! Prometheus metrics: requests, notifications by outcome, orders by status.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

// Every label value comes from a closed set (a known method, a route template, an outcome of this code), never
// from what a client sent: each distinct value is a series kept forever, so a client choosing them could grow a
// scrape without bound.

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NotificationLabels {
    source: &'static str,
    outcome: &'static str,
}

/// The method as a label: the standard methods by name, anything else (a client may send any token) `other`.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Where a Smartro result came from, as a label.
fn source_label(source: &str) -> &'static str {
    match source {
        "return" => "return",
        "inform" => "inform",
        _ => "other",
    }
}

/// What became of a Smartro result, as a label; an outcome this list does not know is `other`.
fn outcome_label(outcome: &str) -> &'static str {
    const OUTCOMES: [&str; 9] = [
        "applied",
        "duplicate",
        "malformed",
        "unknown_merchant",
        "bad_signature",
        "unknown_order",
        "unconfirmed",
        "refuted",
        "unavailable",
    ];
    OUTCOMES
        .into_iter()
        .find(|known| *known == outcome)
        .unwrap_or("other")
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

    /// `route` is the matched route template (`/v1/orders/{order_id}`) or `unmatched`, never the request's path.
    pub fn observe_request(
        &self,
        method: &axum::http::Method,
        route: &str,
        status: u16,
        elapsed: Duration,
    ) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method,
                route: route.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn observe_notification(&self, source: &str, outcome: &str) {
        self.notifications
            .get_or_create(&NotificationLabels {
                source: source_label(source),
                outcome: outcome_label(outcome),
            })
            .inc();
    }

    /// Sets the order gauges from a fresh count (taken at scrape time, so every replica reports the truth).
    pub fn set_orders(&self, counts: &[(crate::domain::OrderStatus, i64)]) {
        for status in crate::domain::OrderStatus::ALL {
            let n = counts
                .iter()
                .find(|(s, _)| *s == status)
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Method;

    #[test]
    fn labels_come_from_closed_sets() {
        let metrics = Metrics::new();
        for i in 0..50 {
            let method = Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
            metrics.observe_request(&method, "unmatched", 405, Duration::from_millis(1));
            metrics.observe_notification(&format!("source{i}"), &format!("outcome{i}"));
        }
        metrics.observe_request(&Method::PATCH, "/v1/orders", 405, Duration::from_millis(1));
        let text = metrics.encode();
        assert!(!text.contains("MADEUP"), "{text}");
        assert!(!text.contains("outcome1"), "{text}");
        assert!(text.contains(
            "gateway_http_requests_total{method=\"other\",route=\"unmatched\",status=\"405\"} 50"
        ));
        assert!(text.contains("method=\"PATCH\""));
        assert!(text.contains(
            "gateway_smartro_notifications_total{source=\"other\",outcome=\"other\"} 50"
        ));
    }

    #[test]
    fn known_outcomes_keep_their_names() {
        let metrics = Metrics::new();
        for outcome in ["applied", "unconfirmed", "refuted", "unavailable"] {
            metrics.observe_notification("inform", outcome);
        }
        let text = metrics.encode();
        for outcome in ["applied", "unconfirmed", "refuted", "unavailable"] {
            assert!(
                text.contains(&format!(
                    "gateway_smartro_notifications_total{{source=\"inform\",outcome=\"{outcome}\"}} 1"
                )),
                "{text}"
            );
        }
    }
}
