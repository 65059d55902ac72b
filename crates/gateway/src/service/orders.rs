//! Orders: creating one (every rule of this API and of the provider, so that every order created can be paid),
//! reading them.

use base64::Engine;
use chrono::Duration;
use http::StatusCode;
use rand::distributions::Alphanumeric;
use rand::Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use super::idempotency::{request_hash, Answer, Keyed};
use super::problem::ApiError;
use super::Services;
use crate::config::EscrowPolicy;
use crate::domain::options::{
    check_split, CardChoice, Escrow, GoodsType, Language, OfferPeriod, SplitShare,
};
use crate::domain::{default_vbank_deadline, korean_date, OrderOptions, OrderStatus, PayMethod};
use crate::providers::weblink::{purchase_of, Purchase};
use crate::store::orders::CreateOutcome;
use crate::store::{KeyedOrder, NewOrder, OrderFilter, OrderRecord};
use crate::views::OrderView;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerBody {
    pub name: String,
    pub tel: String,
    pub email: String,
    /// BuyerAddr (100 bytes).
    pub address: Option<String>,
    /// BuyerPostNo (6 characters).
    pub post_code: Option<String>,
}

/// The body of `POST /v1/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderBody {
    pub amount: i64,
    pub goods_name: String,
    pub pay_method: String,
    pub buyer: BuyerBody,
    pub order_id: Option<String>,
    pub goods_count: Option<i32>,
    pub mid: Option<String>,
    pub return_url: Option<String>,
    pub vbank_exp_date: Option<String>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub metadata: Option<Value>,
    /// KAKAO only: `KPCD` (card) or `KPMY` (Kakao money).
    pub pay_type: Option<String>,
    /// The shop's id of the buyer; Smartro requires it for CLGIFT, KAKAO and TOSS.
    pub mall_user_id: Option<String>,
    /// A card company and installment fixed in advance (CARD).
    pub card: Option<CardChoice>,
    pub goods_type: Option<GoodsType>,
    pub language: Option<Language>,
    pub offer_period: Option<OfferPeriod>,
    /// Offer the buyer a cash receipt (KAKAO, TOSS).
    pub cash_receipt: Option<bool>,
    pub escrow: Option<Escrow>,
    pub split: Option<Vec<SplitShare>>,
}

pub(super) const MAX_METADATA_BYTES: usize = 8 * 1024;
/// How long an order with a fresh Idempotency-Key waits for its group before it takes the general path.
const ORDER_GROUP_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

fn validate_url(field: &str, url: &str) -> Result<(), ApiError> {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
        && url.split("://").nth(1).is_some_and(|rest| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty()
        });
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            field,
            "must be an absolute http(s) URL without spaces",
        ))
    }
}

/// An order id for shops that do not bring their own: time-ordered (Korean time), and free of Moid's forbidden
/// characters.
pub(super) fn generate_order_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let suffix: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(10)
        .map(char::from)
        .collect();
    let korean = now.with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("UTC+9"));
    format!("O{}{}", korean.format("%y%m%d%H%M%S"), suffix)
}

pub(super) fn checkout_token() -> String {
    let bytes: [u8; 24] = rand::thread_rng().gen();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The options of a new order as the body asked them, before they are checked.
struct OptionsAsked {
    card: Option<CardChoice>,
    goods_type: Option<GoodsType>,
    language: Option<Language>,
    offer_period: Option<OfferPeriod>,
    cash_receipt: Option<bool>,
    escrow: Option<Escrow>,
    split: Option<Vec<SplitShare>>,
    buyer_address: Option<String>,
    buyer_post_code: Option<String>,
}

fn is_date(text: &str) -> bool {
    text.len() == 8 && chrono::NaiveDate::parse_from_str(text, "%Y%m%d").is_ok()
}

impl NewOrder {
    fn purchase(&self) -> Purchase<'_> {
        purchase_of!(self, self.options.clone())
    }
}

impl Services {
    /// The rules of the options this API adds to the provider's own (which `check_purchase` applies after).
    fn validate_options(
        &self,
        method: PayMethod,
        mid: &str,
        amount: i64,
        asked: OptionsAsked,
    ) -> Result<OrderOptions, ApiError> {
        if let Some(card) = &asked.card {
            if method != PayMethod::Card {
                return Err(ApiError::invalid_field(
                    "card",
                    "only applies to pay_method CARD",
                ));
            }
            if card.quota.len() != 2 || !card.quota.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid_field(
                    "card.quota",
                    "must be two digits: \"00\" lump sum, \"03\" three months …",
                ));
            }
        }
        if let Some(period) = &asked.offer_period {
            for (field, date) in [
                ("offer_period.from", &period.from),
                ("offer_period.to", &period.to),
            ] {
                if !is_date(date) {
                    return Err(ApiError::invalid_field(field, "must be a date YYYYMMDD"));
                }
            }
            if period.from > period.to {
                return Err(ApiError::invalid_field(
                    "offer_period.to",
                    "must not be before offer_period.from",
                ));
            }
        }
        let policy = self
            .settings
            .merchant(mid)
            .map_or(EscrowPolicy::Off, |m| m.escrow);
        let escrow = match (asked.escrow, policy) {
            (Some(_), EscrowPolicy::Off) => {
                return Err(ApiError::invalid_field(
                    "escrow",
                    format!(
                        "MID {mid} does not take escrow payments (merchants[].escrow = \"off\")"
                    ),
                ))
            }
            // The law asks merchants to offer escrow for cash payments: such a merchant always sends them so.
            (None, EscrowPolicy::RequiredForCash)
                if matches!(method, PayMethod::Bank | PayMethod::Vbank) =>
            {
                Some(Escrow::default())
            }
            (asked, _) => asked,
        };
        let split_asked = asked.split.is_some();
        let split: Vec<SplitShare> = asked
            .split
            .unwrap_or_default()
            .into_iter()
            .map(|share| SplitShare {
                sub_mall_id: share.sub_mall_id.trim().to_string(),
                ..share
            })
            .collect();
        // `"split": []` is refused by check_split, as a list naming nobody.
        if split_asked {
            check_split(&split, amount, "split")
                .map_err(|p| ApiError::invalid_field(p.field, p.message))?;
            let sub_malls = self
                .settings
                .merchant(mid)
                .map(|m| m.sub_malls.as_slice())
                .unwrap_or_default();
            if sub_malls.is_empty() {
                return Err(ApiError::invalid_field(
                    "split",
                    format!("MID {mid} has no sub-malls to split between (merchants[].sub_malls)"),
                ));
            }
            for (i, share) in split.iter().enumerate() {
                let sub = share.sub_mall_id.trim();
                if !sub_malls.iter().any(|s| s == sub) {
                    return Err(ApiError::invalid_field(
                        format!("split[{i}].sub_mall_id"),
                        format!("{sub} is not a sub-mall of {mid}"),
                    ));
                }
            }
        }
        Ok(OrderOptions {
            card: asked.card,
            goods_type: asked.goods_type,
            language: asked.language,
            offer_period: asked.offer_period,
            cash_receipt: asked.cash_receipt,
            escrow,
            split,
            buyer_address: asked.buyer_address,
            buyer_post_code: asked.buyer_post_code,
        })
    }

    /// Checks the body against this API's rules and the provider's, so that every order created can be paid.
    fn validate_order(&self, body: CreateOrderBody) -> Result<NewOrder, ApiError> {
        let now = self.clock.now();
        let method = PayMethod::parse(&body.pay_method).ok_or_else(|| {
            ApiError::invalid_field(
                "pay_method",
                format!(
                    "unsupported pay method {:?}: use CARD, BANK, VBANK, CELLPHONE, CLGIFT, TOSS or KAKAO",
                    body.pay_method.trim()
                ),
            )
        })?;
        if !method.is_online() {
            return Err(ApiError::invalid_field(
                "pay_method",
                format!(
                    "{} is taken at a card terminal only: POST /v1/terminals/{{id}}/payments",
                    method.as_str()
                ),
            ));
        }
        if body.amount <= 0 {
            return Err(ApiError::invalid_field(
                "amount",
                "must be a positive integer (KRW)",
            ));
        }
        let mid = match body.mid {
            Some(mid) => {
                if self.settings.merchant(&mid).is_none() {
                    return Err(ApiError::invalid_field(
                        "mid",
                        format!("MID {mid} is not configured on this gateway"),
                    ));
                }
                mid
            }
            None => self.settings.default_merchant().mid.clone(),
        };
        let order_id = body.order_id.unwrap_or_else(|| generate_order_id(now));
        if let Some(url) = &body.return_url {
            validate_url("return_url", url)?;
        }
        for (field, value) in [("tax", body.tax), ("svc_amt", body.svc_amt)] {
            if value.is_some_and(|v| v < 0 || v > body.amount) {
                return Err(ApiError::invalid_field(
                    field,
                    "must be between 0 and the amount",
                ));
            }
        }
        if let Some(meta) = &body.metadata {
            if !meta.is_object() {
                return Err(ApiError::invalid_field("metadata", "must be a JSON object"));
            }
            if meta.to_string().len() > MAX_METADATA_BYTES {
                return Err(ApiError::invalid_field(
                    "metadata",
                    format!("must be at most {MAX_METADATA_BYTES} bytes of JSON"),
                ));
            }
        }
        let vbank_exp_date = match (method, body.vbank_exp_date) {
            (PayMethod::Vbank, None) => {
                Some(default_vbank_deadline(now).format("%Y%m%d").to_string())
            }
            (PayMethod::Vbank, Some(date)) => {
                let parsed = chrono::NaiveDate::parse_from_str(&date, "%Y%m%d")
                    .ok()
                    .filter(|_| date.len() == 8)
                    .ok_or_else(|| {
                        ApiError::invalid_field("vbank_exp_date", "must be a date YYYYMMDD")
                    })?;
                if parsed < korean_date(now) {
                    return Err(ApiError::invalid_field(
                        "vbank_exp_date",
                        "must not be in the past (Korean time)",
                    ));
                }
                Some(date)
            }
            (_, Some(_)) => {
                return Err(ApiError::invalid_field(
                    "vbank_exp_date",
                    "only applies to pay_method VBANK",
                ))
            }
            (_, None) => None,
        };
        let options = self.validate_options(
            method,
            &mid,
            body.amount,
            OptionsAsked {
                card: body.card,
                goods_type: body.goods_type,
                language: body.language,
                offer_period: body.offer_period,
                cash_receipt: body.cash_receipt,
                escrow: body.escrow,
                split: body.split,
                buyer_address: body.buyer.address,
                buyer_post_code: body.buyer.post_code,
            },
        )?;
        let new = NewOrder {
            order_id,
            mid,
            amount: body.amount,
            goods_name: body.goods_name,
            goods_count: body.goods_count.unwrap_or(1),
            pay_method: method,
            pay_type: body.pay_type,
            mall_user_id: body.mall_user_id,
            buyer_name: body.buyer.name,
            buyer_tel: body.buyer.tel,
            buyer_email: body.buyer.email,
            return_url: body.return_url,
            vbank_exp_date,
            tax: body.tax,
            svc_amt: body.svc_amt,
            metadata: body.metadata,
            checkout_token: checkout_token(),
            expires_at: now + Duration::minutes(self.settings.orders.ttl_minutes),
            options,
        };
        if let Err(problem) = self.weblink.check_purchase(&new.purchase()) {
            let Some(field) = problem.field else {
                tracing::error!(reason = %problem.reason, "the gateway's configuration makes payment requests invalid");
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "misconfigured",
                    "Gateway misconfigured",
                    format!(
                        "the payment request is invalid because of the gateway's configuration: {}",
                        problem.reason
                    ),
                ));
            };
            return Err(if problem.not_euc_kr {
                ApiError::not_euc_kr(field, problem.reason)
            } else {
                ApiError::invalid_field(field, problem.reason)
            });
        }
        Ok(new)
    }

    /// Creates an order once per Idempotency-Key; answers 201 with the order.
    #[tracing::instrument(name = "create_order", skip_all, fields(order_id = tracing::field::Empty, channel = "online"))]
    pub async fn create_order(
        &self,
        keyed: Keyed<'_>,
        body: CreateOrderBody,
    ) -> Result<Answer, ApiError> {
        let validated = self.validate_order(body);
        if let (Some(key), Ok(new)) = (keyed.key, &validated) {
            // The common case: a fresh key and a new order, with the answer rendered first and written with the
            // order, in the next group of such orders.
            let created = new.as_created(self.clock.now());
            let body = json!(self.view(&created));
            let order = KeyedOrder {
                api_key_id: keyed.api_key_id.to_string(),
                scope: keyed.scope.to_string(),
                key: key.to_string(),
                request_hash: request_hash(keyed.body),
                order: created.order,
                answer: body,
            };
            let answer = order.answer.clone();
            // Not created (the key or the order exists, or the database failed): the general path says what that
            // means. So does a group that takes longer (a lock or a connection that hangs): the general path waits
            // for the group's claim of the key, if it made one, and replays what the group committed.
            let created = tokio::time::timeout(ORDER_GROUP_WAIT, self.order_groups.write(order))
                .await
                .unwrap_or_else(|_| {
                    tracing::warn!("order group slow: general path");
                    false
                });
            if created {
                tracing::Span::current().record("order_id", new.order_id.as_str());
                tracing::info!("order created");
                return Ok(Answer {
                    status: StatusCode::CREATED,
                    body: answer,
                    replayed: false,
                });
            }
        }
        self.once(keyed, move || async move {
            let new = validated?;
            tracing::Span::current().record("order_id", new.order_id.as_str());
            match self.store.create_order(&new, self.clock.now()).await? {
                CreateOutcome::Created(record) => {
                    tracing::info!("order created");
                    Ok((StatusCode::CREATED, json!(self.view(&record))))
                }
                CreateOutcome::Exists => Err(ApiError::conflict(
                    "order_exists",
                    format!("an order with order_id {} already exists", new.order_id),
                )
                .with("order_id", new.order_id.clone())),
            }
        })
        .await
    }

    /// The order as the API shows it.
    pub fn view(&self, record: &OrderRecord) -> OrderView {
        OrderView::new(record, &self.settings.server.public_url)
    }

    /// The order, if there is one (for pages, which answer in HTML).
    pub async fn find_order(
        &self,
        order_id: &str,
    ) -> Result<Option<OrderRecord>, crate::store::StoreError> {
        self.store.get_order(order_id).await
    }

    pub async fn order(&self, order_id: &str) -> Result<OrderRecord, ApiError> {
        self.store
            .get_order(order_id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no order {order_id}")))
    }

    /// How many orders are in each status (for `/metrics`, counted at scrape time so every replica tells the truth).
    pub async fn order_counts(&self) -> Result<Vec<(OrderStatus, i64)>, crate::store::StoreError> {
        self.store.count_by_status().await
    }

    /// Orders newest first that pass `filter`, one more than `limit` when another page follows.
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        limit: i64,
        before_seq: Option<i64>,
    ) -> Result<Vec<OrderRecord>, ApiError> {
        Ok(self.store.list_orders(filter, limit, before_seq).await?)
    }

    /// `{ "payment", "order" }`: the payment with this TID, as its order shows it, and the order.
    pub async fn payment(&self, tid: &str) -> Result<Value, ApiError> {
        let not_found = || ApiError::not_found(format!("no payment with TID {tid}"));
        let record = self
            .store
            .order_of_payment(tid)
            .await?
            .ok_or_else(not_found)?;
        let order = self.view(&record);
        let payment = order
            .payments
            .iter()
            .find(|p| p.tid == tid)
            .cloned()
            .ok_or_else(not_found)?;
        Ok(json!({ "payment": payment, "order": order }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_order_ids_are_valid_moids() {
        let id = generate_order_id(chrono::Utc::now());
        assert!(smartro::request::validate_moid(&id).is_ok(), "{id}");
        assert_eq!(id.len(), 23);
    }
}
