//! Checkout: the buyer's side, with the order's random checkout token as the capability.

use std::net::IpAddr;

use http::StatusCode;
use subtle::ConstantTimeEq;

use super::problem::ApiError;
use super::Services;
use crate::domain::{payable, NotPayable};
use crate::providers::weblink::{purchase_of, CheckoutForm, Purchase};
use crate::store::{CheckoutRow, OrderRecord, OrderRow};

/// What the buyer may do with an order now.
pub enum Checkout {
    /// Pay: the signed form to post to the payment window.
    Payable {
        record: Box<OrderRecord>,
        form: CheckoutForm,
    },
    /// Nothing: the order cannot be paid, and why.
    NotPayable {
        record: Box<OrderRecord>,
        why: NotPayable,
    },
}

impl<'a> From<&'a CheckoutRow> for Purchase<'a> {
    fn from(o: &'a CheckoutRow) -> Self {
        purchase_of!(o, o.options())
    }
}

impl<'a> From<&'a OrderRow> for Purchase<'a> {
    fn from(o: &'a OrderRow) -> Self {
        purchase_of!(o, o.options())
    }
}

impl Services {
    /// The order whose checkout token matches, comparing tokens in constant time.
    pub async fn authorize_checkout(
        &self,
        order_id: &str,
        token: &str,
    ) -> Result<OrderRecord, ApiError> {
        match self.store.get_order(order_id).await? {
            Some(r) if bool::from(r.order.checkout_token.as_bytes().ct_eq(token.as_bytes())) => {
                Ok(r)
            }
            // Same answer for a wrong token and an unknown order: the token is the capability.
            _ => Err(ApiError::not_found(format!(
                "no order {order_id} with this checkout token"
            ))),
        }
    }

    /// What the JSON checkout and the status poll read of the order whose checkout token matches (tokens compared
    /// in constant time), in one primary-key read.
    pub async fn authorize_checkout_row(
        &self,
        order_id: &str,
        token: &str,
    ) -> Result<CheckoutRow, ApiError> {
        match self.store.get_checkout_row(order_id).await? {
            Some(o) if bool::from(o.checkout_token.as_bytes().ct_eq(token.as_bytes())) => Ok(o),
            // Same answer for a wrong token and an unknown order: the token is the capability.
            _ => Err(ApiError::not_found(format!(
                "no order {order_id} with this checkout token"
            ))),
        }
    }

    /// The signed form alone (the JSON checkout), fresh on every call, or why the order cannot be paid. Only what
    /// the form is made of and what decides whether the order may be paid is read.
    pub async fn checkout_form(
        &self,
        order_id: &str,
        token: &str,
        user_ip: IpAddr,
    ) -> Result<Result<CheckoutForm, NotPayable>, ApiError> {
        let order = self.authorize_checkout_row(order_id, token).await?;
        let now = self.clock.now();
        if let Err(why) = payable(order.status, order.expires_at, now) {
            return Ok(Err(why));
        }
        self.form_for(Purchase::from(&order), user_ip, now).map(Ok)
    }

    fn form_for(
        &self,
        order: Purchase<'_>,
        user_ip: IpAddr,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<CheckoutForm, ApiError> {
        self.weblink
            .checkout_form(&order, user_ip, now)
            .map_err(|problem| {
                // Orders are checked at creation, so this means the configuration changed since (e.g. public_url).
                tracing::error!(order_id = %order.order_id, reason = %problem.reason, "stored order no longer forms a valid request");
                ApiError::new(
                    StatusCode::CONFLICT,
                    "order_not_payable",
                    "Order cannot be sent to Smartro",
                    problem.reason,
                )
            })
    }

    /// The signed form for the buyer at `user_ip`, fresh on every call, or why the order cannot be paid.
    pub async fn checkout(
        &self,
        order_id: &str,
        token: &str,
        user_ip: IpAddr,
    ) -> Result<Checkout, ApiError> {
        let record = self.authorize_checkout(order_id, token).await?;
        let now = self.clock.now();
        if let Err(why) = payable(record.order.status, record.order.expires_at, now) {
            return Ok(Checkout::NotPayable {
                record: Box::new(record),
                why,
            });
        }
        let form = self.form_for(Purchase::from(&record.order), user_ip, now)?;
        Ok(Checkout::Payable {
            record: Box::new(record),
            form,
        })
    }
}
