//! Receiving a Smartro result (returnPay through the buyer's browser, inform from Smartro's daemon): store it raw,
//! parse and verify it, confirm it server to server, then apply it exactly once.

use std::net::IpAddr;

use axum::http::HeaderMap;
use chrono::{DateTime, Duration, Utc};
use rand::distributions::Alphanumeric;
use rand::Rng;
use secrecy::ExposeSecret;
use smartro::notification::Notification;
use smartro::result::PaymentResult;
use smartro::types::StateCd;

use super::confirmation::{confirm_with_smartro, from_notifier, Confirmation};
use crate::domain::{
    CardDetails, Confirmed, ConfirmedBy, OrderStatus, PaymentDetails, ResultKind, ResultSource,
    VbankDetails, VerifiedResult,
};
use crate::http::AppState;
use crate::store::notifications::{NotificationLabels, NotificationOutcome, RawNotification};
use crate::store::results::ApplyOutcome;
use crate::store::StoreError;

/// How long an unconfirmed result keeps being asked about: Smartro's own daemon gives up after 24 hours too.
pub const CONFIRMATION_WINDOW: Duration = Duration::hours(24);

/// A message that cannot be applied, and why.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub outcome: NotificationOutcome,
    pub detail: String,
    // Boxed: a refusal is the rare path, and it keeps the Result of every parse small.
    pub labels: Box<NotificationLabels>,
}

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
        /// Whether the gateway keeps asking Smartro (a success); a failed attempt is never confirmable.
        checking: bool,
        result_code: String,
    },
    /// Contradicted by Smartro's records, or its TID belongs to another order: nothing changed, ever.
    Refuted { detail: String },
    /// Not a valid result (malformed, bad signature, unknown MID or order).
    Rejected(Refusal),
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
            Received::Rejected(r) => r.outcome.as_str(),
            Received::Unavailable(_) => "unavailable",
        }
    }
}

fn headers_json(headers: &HeaderMap) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .filter(|(name, _)| {
            *name != axum::http::header::AUTHORIZATION && *name != axum::http::header::COOKIE
        })
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                serde_json::Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Masks all but the first six and last four digits, in case a card number ever arrives unmasked.
pub fn mask_card_number(pin: &str) -> String {
    let digits = pin.chars().filter(|c| c.is_ascii_digit()).count();
    if digits <= 10 {
        return pin.to_string();
    }
    let mut seen = 0;
    pin.chars()
        .map(|c| {
            if c.is_ascii_digit() {
                seen += 1;
                if seen > 6 && seen <= digits - 4 {
                    return '*';
                }
            }
            c
        })
        .collect()
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value
        .as_ref()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn refusal(outcome: NotificationOutcome, detail: String, labels: &NotificationLabels) -> Refusal {
    Refusal {
        outcome,
        detail,
        labels: Box::new(labels.clone()),
    }
}

fn merchant_key(
    state: &AppState,
    mid: &str,
    labels: &NotificationLabels,
) -> Result<String, Refusal> {
    state
        .settings
        .merchant(mid)
        .map(|m| m.merchant_key.expose_secret().to_string())
        .ok_or_else(|| {
            refusal(
                NotificationOutcome::UnknownMerchant,
                format!("unknown MID {mid}"),
                labels,
            )
        })
}

fn bad_signature(labels: &NotificationLabels) -> Refusal {
    refusal(
        NotificationOutcome::BadSignature,
        "SignValue does not verify".to_string(),
        labels,
    )
}

fn malformed(err: impl std::fmt::Display) -> Refusal {
    refusal(
        NotificationOutcome::Malformed,
        err.to_string(),
        &NotificationLabels::default(),
    )
}

/// Parses and verifies a returnPay body.
fn verify_return(state: &AppState, body: &[u8]) -> Result<VerifiedResult, Refusal> {
    let r = PaymentResult::parse(body).map_err(malformed)?;
    let labels = NotificationLabels {
        mid: Some(r.mid.clone()),
        tid: Some(r.tid.clone()),
        order_id: Some(r.oid.clone()),
        dedupe_key: None,
    };
    let key = merchant_key(state, &r.mid, &labels)?;
    if !r.verify(&key) {
        return Err(bad_signature(&labels));
    }
    let kind = ResultKind::classify(None, &r.result_code);
    let details = PaymentDetails {
        card: (non_empty(&r.fn_cd).is_some() || non_empty(&r.acqu_card_code).is_some()).then(
            || CardDetails {
                issuer_code: non_empty(&r.fn_cd),
                issuer_name: non_empty(&r.fn_name),
                acquirer_code: non_empty(&r.acqu_card_code),
                quota: non_empty(&r.card_quota),
                masked_number: None,
            },
        ),
        vbank: non_empty(&r.vbank_num).map(|account| VbankDetails {
            bank_code: non_empty(&r.bank_code),
            bank_name: non_empty(&r.vbank_name).or_else(|| non_empty(&r.bank_name)),
            account: Some(account),
        }),
    };
    Ok(VerifiedResult {
        source: ResultSource::Return,
        kind,
        state_code: ResultKind::state_code_for_return(&r.result_code).to_string(),
        tid: r.tid,
        original_tid: None,
        order_id: r.oid,
        mid: r.mid,
        amount: r.amt,
        pay_method: r.pay_method,
        result_code: r.result_code,
        result_message: r.result_msg,
        auth_code: non_empty(&r.auth_code),
        auth_date: non_empty(&r.auth_date),
        details,
    })
}

/// Parses and verifies an inform body.
fn verify_inform(state: &AppState, body: &[u8]) -> Result<VerifiedResult, Refusal> {
    let n = Notification::parse(body).map_err(malformed)?;
    let labels = NotificationLabels {
        mid: Some(n.mid.clone()),
        tid: Some(n.tid.clone()),
        order_id: Some(n.oid.clone()),
        dedupe_key: Some(n.dedupe_key()),
    };
    let key = merchant_key(state, &n.mid, &labels)?;
    if !n.verify(&key) {
        return Err(bad_signature(&labels));
    }
    let kind = ResultKind::classify(Some(&n.state_cd), &n.result_code);
    let vbank_like = matches!(kind, ResultKind::VbankIssued | ResultKind::VbankDeposit)
        || n.state_cd == StateCd::VbankIssued;
    let details = if vbank_like {
        PaymentDetails {
            card: None,
            vbank: non_empty(&n.vbank_num).map(|account| VbankDetails {
                bank_code: non_empty(&n.fn_cd),
                bank_name: non_empty(&n.vbank_name).or_else(|| non_empty(&n.fn_name)),
                account: Some(account),
            }),
        }
    } else {
        PaymentDetails {
            card: (non_empty(&n.fn_cd).is_some() || non_empty(&n.pin_no).is_some()).then(|| {
                CardDetails {
                    issuer_code: non_empty(&n.fn_cd),
                    issuer_name: non_empty(&n.fn_name),
                    acquirer_code: None,
                    quota: non_empty(&n.card_quota),
                    masked_number: non_empty(&n.pin_no).map(|p| mask_card_number(&p)),
                }
            }),
            vbank: None,
        }
    };
    Ok(VerifiedResult {
        source: ResultSource::Inform,
        kind,
        state_code: n.state_cd.as_str().to_string(),
        tid: n.tid,
        // OTID means something only for a cancel; anywhere else it is an unsigned field nobody may lean on.
        original_tid: if kind == ResultKind::Cancel {
            non_empty(&n.otid)
        } else {
            None
        },
        order_id: n.oid,
        mid: n.mid,
        amount: n.amt,
        pay_method: n.pay_method,
        result_code: n.result_code,
        result_message: n.result_msg,
        auth_code: non_empty(&n.auth_code),
        auth_date: non_empty(&n.auth_date),
        details,
    })
}

/// Parses and verifies a stored or received message of `source`.
pub fn verify(
    state: &AppState,
    source: ResultSource,
    body: &[u8],
) -> Result<VerifiedResult, Refusal> {
    match source {
        ResultSource::Return => verify_return(state, body),
        ResultSource::Inform => verify_inform(state, body),
    }
}

fn labels_of(result: &VerifiedResult) -> NotificationLabels {
    NotificationLabels {
        mid: Some(result.mid.clone()),
        tid: Some(result.tid.clone()),
        order_id: Some(result.order_id.clone()),
        dedupe_key: Some(result.dedupe_key()),
    }
}

/// When an unconfirmed result is asked about again: quickly at first (Smartro's books usually catch up within
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

/// Stores, verifies, confirms and applies one message from `client` (resolved through trusted proxies).
pub async fn receive(
    state: &AppState,
    source: ResultSource,
    headers: &HeaderMap,
    client: Option<IpAddr>,
    body: &[u8],
) -> Received {
    let now = state.clock.now();
    let raw = RawNotification {
        source,
        body,
        headers: headers_json(headers),
        remote_addr: client.map(|ip| ip.to_string()),
        received_at: now,
    };
    let id = match state.store.insert_notification(&raw).await {
        Ok(id) => id,
        Err(e) => return Received::Unavailable(e),
    };
    let received = match receive_stored(state, id, source, client, body, now).await {
        Ok(received) => received,
        Err(e) => Received::Unavailable(e),
    };
    state
        .metrics
        .observe_notification(source.as_str(), received.metric_outcome());
    if let Received::Refuted { detail } = &received {
        tracing::warn!(notification = id, source = source.as_str(), %detail, "result refuted: nothing changed");
    }
    received
}

async fn receive_stored(
    state: &AppState,
    id: i64,
    source: ResultSource,
    client: Option<IpAddr>,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Received, StoreError> {
    let result = match verify(state, source, body) {
        Ok(result) => result,
        Err(refusal) => {
            state
                .store
                .finish_notification(id, refusal.outcome, &refusal.detail, &refusal.labels, now)
                .await?;
            return Ok(Received::Rejected(refusal));
        }
    };
    let labels = labels_of(&result);
    if !state.store.order_exists(&result.order_id).await? {
        let refusal = refusal(
            NotificationOutcome::UnknownOrder,
            format!("no order {}", result.order_id),
            &labels,
        );
        state
            .store
            .finish_notification(id, refusal.outcome, &refusal.detail, &labels, now)
            .await?;
        return Ok(Received::Rejected(refusal));
    }
    // The very result applied before (a re-delivery, or the other channel): nothing would change again, and
    // nothing is written but the outcome.
    if state
        .store
        .result_applied(&result.dedupe_key(), &result.order_id)
        .await?
    {
        state
            .store
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
    let confirmation = if from_notifier(state, &result, client) {
        Confirmation::Confirmed(Confirmed::by(ConfirmedBy::Notifier))
    } else if !result.worth_confirming() {
        // Smartro's receipt API lists approvals and cancellations only: a known failure (or a notice that changes
        // nothing) can never be confirmed through it, and moves no money, so it is kept and not chased.
        Confirmation::Unconfirmed(
            "not a success: only an allow-listed notifier can confirm it".to_string(),
        )
    } else if checked_moments_ago(state, id, &result, now).await? {
        // The same result sent again and again: one lookup speaks for all of them.
        Confirmation::Unconfirmed("checked moments ago for another delivery".to_string())
    } else {
        confirm_with_smartro(state, &result).await?
    };
    conclude(state, id, &result, confirmation, 0, now, now).await
}

/// How soon the same result may cost another receipt lookup when it is delivered again.
const RECHECK_AFTER: Duration = Duration::seconds(10);

async fn checked_moments_ago(
    state: &AppState,
    id: i64,
    result: &VerifiedResult,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    Ok(state
        .store
        .scheduled_delivery(id, &result.dedupe_key(), &result.order_id)
        .await?
        .is_some_and(|(_, checked)| checked.is_some_and(|at| now - at < RECHECK_AFTER)))
}

/// Acts on what confirmation found: apply, refute, or wait and ask again.
pub(crate) async fn conclude(
    state: &AppState,
    id: i64,
    result: &VerifiedResult,
    confirmation: Confirmation,
    attempts: i32,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Received, StoreError> {
    let labels = labels_of(result);
    match confirmation {
        Confirmation::Confirmed(confirmed) => settle(state, id, result, confirmed, now).await,
        Confirmation::Refuted(detail) => {
            state
                .store
                .finish_notification(id, NotificationOutcome::Refuted, &detail, &labels, now)
                .await?;
            state
                .store
                .refute_waiting(&result.dedupe_key(), &result.order_id, &detail, now)
                .await?;
            Ok(Received::Refuted { detail })
        }
        Confirmation::Unconfirmed(detail) => {
            let worth = result.worth_confirming();
            // One scheduled check per result: another delivery already waiting speaks for this one too.
            let leader = if worth {
                state
                    .store
                    .scheduled_delivery(id, &result.dedupe_key(), &result.order_id)
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
            state
                .store
                .mark_unconfirmed(id, &detail, &labels, next, token.as_deref(), now)
                .await?;
            tracing::info!(
                notification = id, order_id = %result.order_id, tid = %result.tid, %detail,
                next_check = ?next, "result not confirmed yet: order unchanged"
            );
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
    state: &AppState,
    id: i64,
    result: &VerifiedResult,
    confirmed: Confirmed,
    now: DateTime<Utc>,
) -> Result<Received, StoreError> {
    Ok(
        match state.store.apply_result(id, result, confirmed, now).await? {
            ApplyOutcome::Applied { status } => Received::Applied {
                order_id: result.order_id.clone(),
                status,
            },
            ApplyOutcome::Duplicate { .. } => Received::Duplicate {
                order_id: result.order_id.clone(),
            },
            ApplyOutcome::UnknownOrder => Received::Rejected(refusal(
                NotificationOutcome::UnknownOrder,
                format!("no order {}", result.order_id),
                &labels_of(result),
            )),
            ApplyOutcome::TidOfAnotherOrder { tid, owner } => Received::Refuted {
                detail: format!("TID {tid} belongs to order {owner}"),
            },
            ApplyOutcome::Refuted { detail } => Received::Refuted { detail },
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn masks_full_card_numbers_only() {
        assert_eq!(mask_card_number("4111111111111111"), "411111******1111");
        assert_eq!(
            mask_card_number("4111-1111-1111-1111"),
            "4111-11**-****-1111"
        );
        assert_eq!(mask_card_number("411111******1111"), "411111******1111");
        assert_eq!(mask_card_number(""), "");
    }

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
