//! The notification daemon: POSTs each EUC-KR notification to its RetryURL until the answer is `200 OK`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use smartro::notification::Notification;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::config::Faults;
use crate::lock;

/// Delivery record of one notification, for tests and the index page.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliverySnapshot {
    pub id: u64,
    pub url: String,
    pub notification: Notification,
    /// Attempts made so far, dropped ones included.
    pub attempts: u32,
    /// Attempts the drop fault swallowed.
    pub dropped: u32,
    /// HTTP POSTs actually sent (a duplicated attempt sends two).
    pub posts: u32,
    /// The merchant answered `200` with body `OK`.
    pub acknowledged: bool,
    /// The daemon is done with it: acknowledged, or out of attempts.
    pub finished: bool,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
}

struct Job {
    id: u64,
    url: String,
    body: Vec<u8>,
}

#[derive(Clone)]
pub(crate) struct Notifier {
    tx: mpsc::UnboundedSender<Job>,
    deliveries: Arc<Mutex<Vec<DeliverySnapshot>>>,
}

struct Settings {
    interval: Duration,
    max_attempts: u32,
    drop_ratio: f64,
    duplicate_ratio: f64,
    first_delay: Duration,
}

impl Notifier {
    /// Spawn the daemon on the current tokio runtime. It stops when `shutdown` turns true, abandoning
    /// deliveries still pending.
    pub(crate) fn spawn(
        interval: Duration,
        max_attempts: u32,
        faults: &Faults,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<Notifier> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .connect_timeout(Duration::from_secs(3))
            .build()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let settings = Arc::new(Settings {
            interval,
            max_attempts,
            drop_ratio: faults.drop_ratio.clamp(0.0, 1.0),
            duplicate_ratio: faults.duplicate_ratio.clamp(0.0, 1.0),
            first_delay: faults.notify_delay,
        });
        tokio::spawn(daemon(rx, http, settings, deliveries.clone(), shutdown));
        Ok(Notifier { tx, deliveries })
    }

    /// Queue a notification for `url`; the first delivery goes out at once.
    pub(crate) fn enqueue(&self, url: &str, notification: Notification) -> u64 {
        let body = notification.to_form_body();
        let id = {
            let mut deliveries = lock(&self.deliveries);
            let id = deliveries.len() as u64 + 1;
            deliveries.push(DeliverySnapshot {
                id,
                url: url.to_string(),
                notification,
                attempts: 0,
                dropped: 0,
                posts: 0,
                acknowledged: false,
                finished: false,
                last_status: None,
                last_error: None,
            });
            id
        };
        let job = Job {
            id,
            url: url.to_string(),
            body,
        };
        if self.tx.send(job).is_err() {
            tracing::warn!(
                id,
                "notification daemon stopped; notification not delivered"
            );
            self.update(id, |d| {
                d.finished = true;
                d.last_error = Some("daemon stopped".to_string());
            });
        }
        id
    }

    pub(crate) fn snapshot(&self) -> Vec<DeliverySnapshot> {
        lock(&self.deliveries).clone()
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut DeliverySnapshot)) {
        update(&self.deliveries, id, f);
    }
}

fn update(
    deliveries: &Mutex<Vec<DeliverySnapshot>>,
    id: u64,
    f: impl FnOnce(&mut DeliverySnapshot),
) {
    let mut deliveries = lock(deliveries);
    if let Some(d) = deliveries.iter_mut().find(|d| d.id == id) {
        f(d);
    }
}

async fn daemon(
    mut rx: mpsc::UnboundedReceiver<Job>,
    http: reqwest::Client,
    settings: Arc<Settings>,
    deliveries: Arc<Mutex<Vec<DeliverySnapshot>>>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Dropping the set when the loop ends aborts the deliveries still running.
    let mut running = JoinSet::new();
    loop {
        tokio::select! {
            job = rx.recv() => match job {
                Some(job) => {
                    running.spawn(deliver(job, http.clone(), settings.clone(), deliveries.clone()));
                }
                None => break,
            },
            Some(_) = running.join_next(), if !running.is_empty() => {}
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    running.shutdown().await;
}

async fn deliver(
    job: Job,
    http: reqwest::Client,
    settings: Arc<Settings>,
    deliveries: Arc<Mutex<Vec<DeliverySnapshot>>>,
) {
    if !settings.first_delay.is_zero() {
        tokio::time::sleep(settings.first_delay).await;
    }
    for attempt in 1..=settings.max_attempts {
        let (drop, duplicate) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_bool(settings.drop_ratio),
                rng.gen_bool(settings.duplicate_ratio),
            )
        };
        update(&deliveries, job.id, |d| d.attempts = attempt);
        let mut acknowledged = false;
        if drop {
            tracing::info!(id = job.id, attempt, url = %job.url, "notification: attempt dropped (fault)");
            update(&deliveries, job.id, |d| d.dropped += 1);
        } else {
            let sends = if duplicate { 2 } else { 1 };
            for _ in 0..sends {
                let outcome = post(&http, &job).await;
                match &outcome {
                    Ok((status, ok)) => {
                        tracing::info!(id = job.id, attempt, url = %job.url, status, acknowledged = ok, "notification: delivered");
                    }
                    Err(e) => {
                        tracing::info!(id = job.id, attempt, url = %job.url, error = %e, "notification: no answer");
                    }
                }
                acknowledged |= matches!(outcome, Ok((_, true)));
                update(&deliveries, job.id, |d| {
                    d.posts += 1;
                    match outcome {
                        Ok((status, _)) => {
                            d.last_status = Some(status);
                            d.last_error = None;
                        }
                        Err(e) => d.last_error = Some(e),
                    }
                });
            }
        }
        if acknowledged {
            update(&deliveries, job.id, |d| {
                d.acknowledged = true;
                d.finished = true;
            });
            return;
        }
        if attempt < settings.max_attempts {
            tokio::time::sleep(settings.interval).await;
        }
    }
    tracing::warn!(id = job.id, url = %job.url, attempts = settings.max_attempts, "notification: giving up");
    update(&deliveries, job.id, |d| d.finished = true);
}

/// `(status, acknowledged)`: acknowledged means HTTP 200 with body `OK` once trimmed, as Smartro requires.
async fn post(http: &reqwest::Client, job: &Job) -> Result<(u16, bool), String> {
    let response = http
        .post(&job.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=euc-kr",
        )
        .body(job.body.clone())
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| e.without_url().to_string())?;
    let ok = status == 200 && String::from_utf8_lossy(&body).trim() == "OK";
    Ok((status, ok))
}
