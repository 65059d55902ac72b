//! Receiving a provider's result (returnPay through the buyer's browser, inform from Smartro's daemon): store it
//! raw, verify it with the provider, confirm it server to server, then apply it exactly once.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};
use http::HeaderMap;
use rand::distributions::Alphanumeric;
use rand::Rng;
use uuid::Uuid;

use super::Services;
use crate::domain::{Confirmed, ConfirmedBy, OrderStatus, ResultSource, VerifiedResult};
use crate::providers::{Confirmation, Provider, RejectReason};
use crate::store::notifications::{NotificationOutcome, RawNotification, UnconfirmedNotification};
use crate::store::results::{AppliedAtOnce, ApplyOutcome, ResultAtOnce};
use crate::store::StoreError;

/// How long an unconfirmed result keeps being asked about: Smartro's own daemon gives up after 24 hours too.
pub const CONFIRMATION_WINDOW: Duration = Duration::hours(24);
/// How soon the same result may cost another provider lookup when it is delivered again.
const RECHECK_AFTER: Duration = Duration::seconds(10);

/// What became of a received result.
#[derive(Debug)]
pub enum Received {
    /// Confirmed and applied now.
    Applied {
        order_id: String,
        status: OrderStatus,
    },
    /// Confirmed, and applied before (another delivery, or the other channel).
    Duplicate { order_id: String },
    /// Validly signed but not confirmed: nothing of the order changed.
    Unconfirmed {
        order_id: String,
        /// The handle of the buyer's page that follows this result (returnPay only).
        follow_token: Option<String>,
        /// Whether the gateway keeps asking the provider (a possible success); a known failure never is.
        checking: bool,
        result_code: String,
    },
    /// Contradicted by the provider's records, or its TID belongs to another order: nothing changed, ever.
    Refuted { detail: String },
    /// Not a valid result (malformed, bad signature, unknown MID or order).
    Rejected {
        outcome: NotificationOutcome,
        detail: String,
    },
    /// The database could not be used: nothing may be acknowledged.
    Unavailable(StoreError),
}

impl Received {
    /// The label of this outcome in metrics.
    pub fn metric_outcome(&self) -> &'static str {
        match self {
            Received::Applied { .. } => "applied",
            Received::Duplicate { .. } => "duplicate",
            Received::Unconfirmed { .. } => "unconfirmed",
            Received::Refuted { .. } => "refuted",
            Received::Rejected { outcome, .. } => outcome.as_str(),
            Received::Unavailable(_) => "unavailable",
        }
    }
}

fn rejected(reason: RejectReason) -> NotificationOutcome {
    match reason {
        RejectReason::Malformed => NotificationOutcome::Malformed,
        RejectReason::UnknownMerchant => NotificationOutcome::UnknownMerchant,
        RejectReason::BadSignature => NotificationOutcome::BadSignature,
    }
}

fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| *name != http::header::AUTHORIZATION && *name != http::header::COOKIE)
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

/// When an unconfirmed result is asked about again: quickly at first (a provider's books usually catch up within
/// seconds), then backing off to every half hour, until the confirmation window closes (about 60 checks in all).
pub fn next_check(
    received_at: DateTime<Utc>,
    attempts: i32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let exponent = u32::try_from(attempts.clamp(0, 11)).unwrap_or(11);
    let delay = Duration::seconds((2i64 << exponent).min(1800));
    let next = now + delay;
    (next < received_at + CONFIRMATION_WINDOW).then_some(next)
}

fn follow_token() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

impl Services {
    /// Stores, verifies, confirms and applies one message from `client` (resolved through trusted proxies).
    #[tracing::instrument(name = "receive_result", skip_all, fields(source = source.as_str(), channel = "online", order_id = tracing::field::Empty, tid = tracing::field::Empty))]
    pub async fn receive_result(
        &self,
        source: ResultSource,
        headers: &HeaderMap,
        client: Option<IpAddr>,
        body: &[u8],
    ) -> Received {
        let now = self.clock.now();
        let raw = RawNotification {
            source,
            body,
            headers: headers_json(headers),
            remote_addr: client.map(|ip| ip.to_string()),
            received_at: now,
        };
        if let Some(received) = self.receive_at_once(&raw, client).await {
            self.metrics
                .observe_notification(source.as_str(), received.metric_outcome());
            return received;
        }
        let id = match self.store.insert_notification(&raw).await {
            Ok(id) => id,
            Err(e) => return Received::Unavailable(e),
        };
        let received = match self.receive_stored(id, source, client, body, now).await {
            Ok(received) => received,
            Err(e) => Received::Unavailable(e),
        };
        self.metrics
            .observe_notification(source.as_str(), received.metric_outcome());
        if let Received::Refuted { detail } = &received {
            tracing::warn!(notification = id, %detail, "result refuted: nothing changed");
        }
        received
    }

    /// The common case in one transaction: a result from an allow-listed notifier (confirmed as it arrives) is
    /// stored with its effect and one commit, shared with the results arriving with it
    /// ([`super::result_groups`]). `None`: not that case, or not decided here (nothing was written);
    /// the general path then stores the message on its own first and decides it.
    async fn receive_at_once(
        &self,
        raw: &RawNotification<'_>,
        client: Option<IpAddr>,
    ) -> Option<Received> {
        let result = self.weblink.verify(raw.source, raw.body).ok()?;
        if !self.from_notifier(&result, client) {
            return None;
        }
        let span = tracing::Span::current();
        span.record("order_id", result.order_id.as_str());
        span.record("tid", result.tid.as_str());
        let confirmed = Confirmed::by(ConfirmedBy::Notifier);
        let item = ResultAtOnce {
            source: raw.source,
            body: raw.body.to_vec(),
            headers: raw.headers.clone(),
            remote_addr: raw.remote_addr.clone(),
            received_at: raw.received_at,
            result: result.clone(),
            confirmed,
            new_id: Uuid::new_v4(),
        };
        match self.result_groups.write(item).await {
            AppliedAtOnce::Applied { status } => {
                tracing::info!(
                    status = status.as_str(),
                    confirmed_by = confirmed.by.as_str(),
                    "result applied"
                );
                Some(Received::Applied {
                    order_id: result.order_id,
                    status,
                })
            }
            AppliedAtOnce::NotHere => None,
        }
    }

    async fn receive_stored(
        &self,
        id: i64,
        source: ResultSource,
        client: Option<IpAddr>,
        body: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Received, StoreError> {
        let result = match self.weblink.verify(source, body) {
            Ok(result) => result,
            Err(refusal) => {
                let outcome = rejected(refusal.reason);
                self.store
                    .finish_notification(id, outcome, &refusal.detail, &refusal.labels, now)
                    .await?;
                return Ok(Received::Rejected {
                    outcome,
                    detail: refusal.detail,
                });
            }
        };
        let span = tracing::Span::current();
        span.record("order_id", result.order_id.as_str());
        span.record("tid", result.tid.as_str());
        let labels = result.labels();
        if !self.store.order_exists(&result.order_id).await? {
            let detail = format!("no order {}", result.order_id);
            self.store
                .finish_notification(id, NotificationOutcome::UnknownOrder, &detail, &labels, now)
                .await?;
            return Ok(Received::Rejected {
                outcome: NotificationOutcome::UnknownOrder,
                detail,
            });
        }
        // The very result applied before (a re-delivery, or the other channel): nothing would change again, and
        // nothing is written but the outcome.
        if self
            .store
            .result_applied(&result.dedupe_key, &result.order_id)
            .await?
        {
            self.store
                .finish_notification(
                    id,
                    NotificationOutcome::Duplicate,
                    "applied before",
                    &labels,
                    now,
                )
                .await?;
            return Ok(Received::Duplicate {
                order_id: result.order_id.clone(),
            });
        }
        let confirmation = if self.from_notifier(&result, client) {
            Confirmation::Confirmed(Confirmed::by(ConfirmedBy::Notifier))
        } else if !result.worth_confirming() {
            // A provider's records list approvals and cancellations only: a known failure (or a notice that
            // changes nothing) can never be confirmed through them, and moves no money, so it is kept and not
            // chased.
            Confirmation::Unconfirmed(
                "not a success: only an allow-listed notifier can confirm it".to_string(),
            )
        } else if self.checked_moments_ago(id, &result, now).await? {
            // The same result sent again and again: one lookup speaks for all of them.
            Confirmation::Unconfirmed("checked moments ago for another delivery".to_string())
        } else {
            self.confirm_with_provider(&result).await?
        };
        self.conclude(id, &result, confirmation, 0, now, now).await
    }

    async fn checked_moments_ago(
        &self,
        id: i64,
        result: &VerifiedResult,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self
            .store
            .scheduled_delivery(id, &result.dedupe_key, &result.order_id)
            .await?
            .is_some_and(|(_, checked)| checked.is_some_and(|at| now - at < RECHECK_AFTER)))
    }

    /// Acts on what confirmation found: apply, refute, or wait and ask again.
    async fn conclude(
        &self,
        id: i64,
        result: &VerifiedResult,
        confirmation: Confirmation,
        attempts: i32,
        received_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Received, StoreError> {
        let labels = result.labels();
        match confirmation {
            Confirmation::Confirmed(confirmed) => self.settle(id, result, confirmed, now).await,
            Confirmation::Refuted(detail) => {
                self.store
                    .finish_notification(id, NotificationOutcome::Refuted, &detail, &labels, now)
                    .await?;
                self.store
                    .refute_waiting(&result.dedupe_key, &result.order_id, &detail, now)
                    .await?;
                Ok(Received::Refuted { detail })
            }
            Confirmation::Unconfirmed(detail) => {
                let worth = result.worth_confirming();
                // One scheduled check per result: another delivery already waiting speaks for this one too.
                let leader = if worth {
                    self.store
                        .scheduled_delivery(id, &result.dedupe_key, &result.order_id)
                        .await?
                } else {
                    None
                };
                let next = match leader {
                    Some(_) => None,
                    None if worth => next_check(received_at, attempts, now),
                    None => None,
                };
                let token = (result.source == ResultSource::Return).then(follow_token);
                self.store
                    .mark_unconfirmed(id, &detail, &labels, next, token.as_deref(), now)
                    .await?;
                tracing::info!(notification = id, %detail, next_check = ?next, "result not confirmed yet: order unchanged");
                Ok(Received::Unconfirmed {
                    order_id: result.order_id.clone(),
                    follow_token: token,
                    checking: next.is_some() || leader.is_some(),
                    result_code: result.result_code.clone(),
                })
            }
        }
    }

    async fn settle(
        &self,
        id: i64,
        result: &VerifiedResult,
        confirmed: Confirmed,
        now: DateTime<Utc>,
    ) -> Result<Received, StoreError> {
        let render = self.render();
        Ok(
            match self
                .store
                .apply_result(id, result, confirmed, Uuid::new_v4(), &render, now)
                .await?
            {
                ApplyOutcome::Applied { status } => {
                    tracing::info!(
                        status = status.as_str(),
                        confirmed_by = confirmed.by.as_str(),
                        "result applied"
                    );
                    Received::Applied {
                        order_id: result.order_id.clone(),
                        status,
                    }
                }
                ApplyOutcome::Duplicate { .. } => Received::Duplicate {
                    order_id: result.order_id.clone(),
                },
                ApplyOutcome::UnknownOrder => Received::Rejected {
                    outcome: NotificationOutcome::UnknownOrder,
                    detail: format!("no order {}", result.order_id),
                },
                ApplyOutcome::TidOfAnotherOrder { tid, owner } => Received::Refuted {
                    detail: format!("TID {tid} belongs to order {owner}"),
                },
                ApplyOutcome::Refuted { detail } => Received::Refuted { detail },
            },
        )
    }

    /// Where the result behind a buyer's "결제 확인 중" page stands.
    pub async fn follow_result(
        &self,
        token: &str,
    ) -> Result<Option<crate::store::notifications::FollowedResult>, StoreError> {
        self.store.follow_result(token).await
    }

    /// Asks again about one result that arrived unconfirmed (the confirmation worker); true when it is settled.
    #[tracing::instrument(name = "confirm_result", skip_all, fields(notification = n.id, channel = "online"))]
    pub async fn recheck(&self, n: &UnconfirmedNotification) -> Result<bool, StoreError> {
        let now = self.clock.now();
        let result = match self.weblink.verify(n.source, &n.body) {
            Ok(result) => result,
            Err(refusal) => {
                // It verified when it arrived: the merchant's configuration has changed since.
                self.store
                    .finish_notification(
                        n.id,
                        rejected(refusal.reason),
                        &refusal.detail,
                        &refusal.labels,
                        now,
                    )
                    .await?;
                return Ok(false);
            }
        };
        let confirmation = self.confirm_with_provider(&result).await?;
        let received = self
            .conclude(
                n.id,
                &result,
                confirmation,
                n.check_attempts,
                n.received_at,
                now,
            )
            .await?;
        self.metrics
            .observe_notification(n.source.as_str(), received.metric_outcome());
        Ok(match received {
            Received::Applied { order_id, status } => {
                tracing::info!(%order_id, status = status.as_str(), "confirmed late and applied");
                true
            }
            Received::Duplicate { .. } => true,
            Received::Refuted { detail } => {
                tracing::warn!(%detail, "result refuted: nothing changed");
                true
            }
            Received::Unconfirmed {
                checking: false,
                order_id,
                ..
            } => {
                tracing::warn!(%order_id, "result still unconfirmed after the confirmation window: left for a person");
                false
            }
            _ => false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn unconfirmed_results_are_asked_about_with_backoff_for_a_day() {
        let received = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        assert_eq!(
            next_check(received, 0, received),
            Some(received + Duration::seconds(2))
        );
        assert_eq!(
            next_check(received, 3, received),
            Some(received + Duration::seconds(16))
        );
        assert_eq!(
            next_check(received, 50, received),
            Some(received + Duration::seconds(1800)),
            "capped at half an hour"
        );
        let late = received + CONFIRMATION_WINDOW - Duration::seconds(100);
        assert_eq!(next_check(received, 9, late), None, "the window closes");
    }
}
