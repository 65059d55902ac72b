//! Signed webhook delivery from the transactional outbox, at least once, retried with backoff.

use std::time::{Duration, Instant};

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::clock::SharedClock;
use crate::service::Services;
use crate::store::delivery::{AfterAttempt, Attempt, LeasedEvent};
use crate::store::{Store, StoreError};

/// Events leased per pass.
const BATCH: i64 = 16;
/// The first retry comes after about a second; each next one waits twice as long, up to an hour.
const FIRST_RETRY: Duration = Duration::from_secs(1);
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The wait before retry number `attempts` (1 = the first retry), with up to 20 % jitter so that replicas and
/// events do not retry in lockstep.
pub fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(1, 32) - 1).unwrap_or(0);
    let base = FIRST_RETRY
        .checked_mul(2u32.saturating_pow(exp))
        .unwrap_or(MAX_RETRY)
        .min(MAX_RETRY);
    let jitter = rand::thread_rng().gen_range(0.0..0.2);
    base.mul_f64(1.0 + jitter)
}

pub struct WebhookDelivery {
    store: Store,
    clock: SharedClock,
    http: reqwest::Client,
    url: String,
    secret: SecretString,
    window: ChronoDuration,
    visibility: ChronoDuration,
    worker: String,
}

impl WebhookDelivery {
    /// `None` when `[webhooks]` is not configured.
    pub fn from_settings(state: &Services) -> anyhow::Result<Option<WebhookDelivery>> {
        let w = &state.settings.webhooks;
        let (Some(url), Some(secret)) = (&w.url, &w.secret) else {
            return Ok(None);
        };
        let timeout = Duration::from_secs(w.timeout_secs.max(1));
        let http = reqwest::Client::builder()
            .timeout(timeout)
            // A signed event goes to the configured URL only: a redirect could hand it to another host, and a
            // 303 would turn it into a GET that drops the body yet counts as delivered.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("smartro-gateway/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Some(WebhookDelivery {
            store: state.store.clone(),
            clock: state.clock.clone(),
            http,
            url: url.clone(),
            secret: secret.clone(),
            window: ChronoDuration::hours(i64::try_from(w.retry_window_hours).unwrap_or(72)),
            // Longer than one delivery can take, so a live worker never loses its lease mid-attempt.
            visibility: ChronoDuration::seconds(
                i64::try_from(w.timeout_secs).unwrap_or(10) * 3 + 30,
            ),
            worker: worker_id(),
        }))
    }

    /// Leases due events and delivers them; returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let events = self
            .store
            .lease_events(&self.worker, now, self.visibility, BATCH)
            .await?;
        let n = events.len();
        let mut set = tokio::task::JoinSet::new();
        for event in events {
            let this = self.snapshot();
            set.spawn(async move { this.deliver(event).await });
        }
        while let Some(done) = set.join_next().await {
            match done {
                Ok(Err(e)) => tracing::warn!(error = %e, "webhook: could not record an attempt"),
                Err(e) => tracing::error!(error = %e, "webhook delivery task failed"),
                Ok(Ok(())) => {}
            }
        }
        Ok(n)
    }

    /// Gives this worker's leases back.
    pub async fn release(&self) -> Result<u64, StoreError> {
        self.store.release_leases(&self.worker).await
    }

    fn snapshot(&self) -> WebhookDelivery {
        WebhookDelivery {
            store: self.store.clone(),
            clock: self.clock.clone(),
            http: self.http.clone(),
            url: self.url.clone(),
            secret: self.secret.clone(),
            window: self.window,
            visibility: self.visibility,
            worker: self.worker.clone(),
        }
    }

    async fn deliver(&self, event: LeasedEvent) -> Result<(), StoreError> {
        let body = serde_json::to_vec(&event.payload).unwrap_or_default();
        let now = self.clock.now();
        let started = Instant::now();
        let sent = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("gateway-event-id", &event.id)
            .header(
                "gateway-signature",
                signature(self.secret.expose_secret(), now.timestamp(), &body),
            )
            .body(body)
            .send()
            .await;
        let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        let attempt = match sent {
            Ok(response) => Attempt {
                status_code: Some(response.status().as_u16()),
                latency_ms,
                // Not followed (see the client): say why the attempt failed, since the shop may not know it moved.
                error: response.status().is_redirection().then(|| {
                    format!(
                        "HTTP {}: redirects are not followed; configure webhooks.url with the final address",
                        response.status().as_u16()
                    )
                }),
            },
            Err(e) => Attempt {
                status_code: None,
                latency_ms,
                error: Some(describe(e)),
            },
        };
        let delivered = attempt.status_code.is_some_and(|s| (200..300).contains(&s));
        let after = decide(
            delivered,
            event.attempts + 1,
            event.window_started_at,
            self.window,
            now,
        );
        tracing::info!(
            event_id = %event.id,
            status = attempt.status_code,
            latency_ms,
            error = attempt.error.as_deref().unwrap_or(""),
            attempt = event.attempts + 1,
            outcome = ?after,
            "webhook attempt"
        );
        let kept = self
            .store
            .finish_attempt(&self.worker, &event.id, &attempt, after, now)
            .await?;
        if !kept {
            tracing::warn!(event_id = %event.id, "webhook lease was lost before the attempt was recorded");
        }
        Ok(())
    }
}

/// Delivered, retried later, or given up when the next try would fall outside the window.
pub fn decide(
    delivered: bool,
    attempts: i32,
    window_started_at: DateTime<Utc>,
    window: ChronoDuration,
    now: DateTime<Utc>,
) -> AfterAttempt {
    if delivered {
        return AfterAttempt::Delivered;
    }
    let next =
        now + ChronoDuration::from_std(backoff(attempts)).unwrap_or(ChronoDuration::hours(1));
    if next > window_started_at + window {
        AfterAttempt::GiveUp
    } else {
        AfterAttempt::RetryAt(next)
    }
}

/// A reqwest error without the URL (which could carry credentials of the shop's endpoint).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    format!("{kind}: {}", e.without_url())
}

fn worker_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".to_string());
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn signature_follows_the_documented_scheme() {
        // HMAC-SHA256("whsec_test", "1700000000.{}"), computed independently with Python's hmac module.
        assert_eq!(
            signature("whsec_test", 1_700_000_000, b"{}"),
            "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91"
        );
    }

    #[test]
    fn backoff_doubles_from_about_a_second_and_is_capped() {
        for (attempt, base) in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 512.0)] {
            let wait = backoff(attempt).as_secs_f64();
            assert!(
                wait >= base && wait <= base * 1.2,
                "attempt {attempt}: {wait}"
            );
        }
        assert!(backoff(40).as_secs_f64() <= 3600.0 * 1.2);
        assert!(backoff(0).as_secs_f64() < 1.3);
    }

    #[test]
    fn retries_stop_at_the_end_of_the_window() {
        let start = Utc.with_ymd_and_hms(2026, 11, 21, 0, 0, 0).unwrap();
        let window = ChronoDuration::hours(72);
        assert_eq!(
            decide(true, 5, start, window, start),
            AfterAttempt::Delivered
        );
        assert!(matches!(
            decide(false, 1, start, window, start),
            AfterAttempt::RetryAt(_)
        ));
        let late = start + ChronoDuration::hours(72);
        assert_eq!(decide(false, 30, start, window, late), AfterAttempt::GiveUp);
    }
}
