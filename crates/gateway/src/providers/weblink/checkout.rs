//! The payment request the buyer's browser posts to Smartro's payment window (mainPay → interfaceURL.jsp): the
//! order's fields, ReturnURL and RetryURL back at this gateway, signed with a fresh ediDate and EncryptData.

use std::net::{IpAddr, Ipv4Addr};

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use smartro::divide::{DivideEntry, DivideInfo};
use smartro::request::{
    user_ip_field, Escrow as WireEscrow, OpenType, PaymentRequest, PRODUCTINFO_SPLIT,
};
use smartro::types::{kst_now_edi_date, PayMethod as WirePayMethod};
use smartro::RequestErrorKind;

use super::{wire_pay_method, WebLink};
use crate::domain::options::{Escrow, GoodsType, Language};
use crate::domain::{OrderOptions, PayMethod};

/// Smartro's phone-payment test merchant takes only content (GoodsCl 0), whatever the goods (manual §4.4).
const CONTENT_ONLY_TEST_MID: &str = "SMTPAY001m";

/// What a payment request is made of, whether the order is stored yet or being created.
pub struct Purchase<'a> {
    pub order_id: &'a str,
    pub mid: &'a str,
    pub amount: i64,
    pub goods_name: &'a str,
    pub goods_count: i32,
    pub pay_method: PayMethod,
    pub pay_type: Option<&'a str>,
    pub mall_user_id: Option<&'a str>,
    pub buyer_name: &'a str,
    pub buyer_tel: &'a str,
    pub buyer_email: &'a str,
    pub vbank_exp_date: Option<&'a str>,
    pub tax: Option<i64>,
    pub svc_amt: Option<i64>,
    pub options: OrderOptions,
}

/// The [`Purchase`] of an order-shaped value: a new order, a stored order row or a checkout row name and type these
/// fields alike; `options` is how that value gives its options.
macro_rules! purchase_of {
    ($order:expr, $options:expr) => {
        $crate::providers::weblink::Purchase {
            order_id: &$order.order_id,
            mid: &$order.mid,
            amount: $order.amount,
            goods_name: &$order.goods_name,
            goods_count: $order.goods_count,
            pay_method: $order.pay_method,
            pay_type: $order.pay_type.as_deref(),
            mall_user_id: $order.mall_user_id.as_deref(),
            buyer_name: &$order.buyer_name,
            buyer_tel: &$order.buyer_tel,
            buyer_email: &$order.buyer_email,
            vbank_exp_date: $order.vbank_exp_date.as_deref(),
            tax: $order.tax,
            svc_amt: $order.svc_amt,
            options: $options,
        }
    };
}
pub(crate) use purchase_of;

fn escrow_fields(escrow: &Escrow) -> WireEscrow {
    let d = escrow.delivery.clone().unwrap_or_default();
    let s = escrow.seller.clone().unwrap_or_default();
    WireEscrow {
        delivery_code: d.code,
        delivery_number: d.number,
        delivery_addr1: d.address1,
        delivery_addr2: d.address2,
        delivery_post: d.post_code,
        receiver_name: d.receiver_name,
        receiver_tel: d.receiver_tel,
        seller_addr1: s.address1,
        seller_addr2: s.address2,
        seller_post: s.post_code,
        seller_tel: s.tel,
        seller_id: s.id,
        seller_name: s.name,
    }
}

/// The signed form, for the checkout page (an HTML form) and for single-page shops (JSON).
#[derive(Debug, Clone)]
pub struct CheckoutForm {
    pub action_url: String,
    pub fields: Vec<(&'static str, String)>,
}

/// Why a purchase cannot be sent to Smartro.
#[derive(Debug, Clone, PartialEq)]
pub struct FormProblem {
    /// The API's name of the offending field; `None` when the gateway's own configuration is the cause.
    pub field: Option<&'static str>,
    /// A text Smartro receives in EUC-KR holds a character EUC-KR cannot carry.
    pub not_euc_kr: bool,
    pub reason: String,
}

/// Smartro's parameter names, as the shop knows them in this API; `None` for what the gateway sets itself.
fn api_field(wire: &str) -> Option<&'static str> {
    Some(match wire {
        "GoodsName" => "goods_name",
        "GoodsCnt" => "goods_count",
        "Amt" => "amount",
        "Moid" => "order_id",
        "MID" => "mid",
        "PayMethod" => "pay_method",
        "PayType" => "pay_type",
        "mallUserID" => "mall_user_id",
        "BuyerName" => "buyer.name",
        "BuyerTel" => "buyer.tel",
        "BuyerEmail" => "buyer.email",
        "VbankExpDate" => "vbank_exp_date",
        "Tax" => "tax",
        "SvcAmt" => "svc_amt",
        "fn_cd" => "card.issuer_code",
        "CardQuota" => "card.quota",
        "GoodsCl" => "goods_type",
        "OpenType" => "language",
        "BuyerAddr" => "buyer.address",
        "BuyerPostNo" => "buyer.post_code",
        "OfferPeriod" => "offer_period",
        "ReceiptType" => "cash_receipt",
        "DivideInfo" | "Productinfo" => "split",
        "DeliveryCode" => "escrow.delivery.code",
        "DeliveryNumber" => "escrow.delivery.number",
        "DeliveryAddr1" => "escrow.delivery.address1",
        "DeliveryAddr2" => "escrow.delivery.address2",
        "DeliveryPost" => "escrow.delivery.post_code",
        "ReceiverName" => "escrow.delivery.receiver_name",
        "ReceiverTel" => "escrow.delivery.receiver_tel",
        "SellerAddr1" => "escrow.seller.address1",
        "SellerAddr2" => "escrow.seller.address2",
        "SellerPost" => "escrow.seller.post_code",
        "SellerTel" => "escrow.seller.tel",
        "SellerId" => "escrow.seller.id",
        "SellerName" => "escrow.seller.name",
        _ => return None,
    })
}

impl WebLink {
    /// The payment request of a purchase; ReturnURL and RetryURL point back at this gateway.
    fn payment_request(
        &self,
        purchase: &Purchase<'_>,
        user_ip: IpAddr,
    ) -> Result<PaymentRequest, FormProblem> {
        // The API refuses terminal-only methods before an order exists; this keeps the window honest regardless.
        let method = wire_pay_method(purchase.pay_method).ok_or_else(|| FormProblem {
            field: Some("pay_method"),
            not_euc_kr: false,
            reason: format!(
                "{} is taken at a card terminal only",
                purchase.pay_method.as_str()
            ),
        })?;
        let base = self.settings.server.public_url.trim_end_matches('/');
        let mut req = PaymentRequest::new(
            method,
            purchase.goods_name,
            purchase.amount,
            purchase.order_id,
            purchase.mid,
            format!("{base}/smartro/return"),
            format!("{base}/smartro/inform"),
            purchase.buyer_name,
            purchase.buyer_tel,
            purchase.buyer_email,
        );
        req.goods_cnt = u32::try_from(purchase.goods_count).unwrap_or(0);
        req.pay_type = purchase.pay_type.map(str::to_string);
        req.mall_user_id = purchase.mall_user_id.map(str::to_string);
        req.vbank_exp_date = purchase.vbank_exp_date.map(str::to_string);
        req.tax = purchase.tax;
        req.svc_amt = purchase.svc_amt;
        // The page submits in the same window (no popup), which works on phones and in every browser.
        req.forward = false;
        let options = &purchase.options;
        if req.pay_method == WirePayMethod::Cellphone {
            let physical = options.goods_type == Some(GoodsType::Physical)
                && purchase.mid != CONTENT_ONLY_TEST_MID;
            req.goods_cl = Some(if physical { "1" } else { "0" }.to_string());
        }
        if let Some(card) = &options.card {
            req.fn_cd = Some(card.issuer_code.clone());
            req.card_quota = Some(card.quota.clone());
        }
        if options.language == Some(Language::En) {
            req.open_type = OpenType::En;
        }
        req.buyer_addr = options.buyer_address.clone();
        req.buyer_post_no = options.buyer_post_code.clone();
        req.offer_period = options
            .offer_period
            .as_ref()
            .map(|p| format!("{}{}", p.from, p.to));
        req.receipt_type = options.cash_receipt;
        req.escrow = options.escrow.as_ref().map(escrow_fields);
        if options.is_split() {
            req.productinfo = Some(PRODUCTINFO_SPLIT.to_string());
            req.divide_info = Some(DivideInfo {
                entries: options
                    .split
                    .iter()
                    .map(|share| DivideEntry {
                        amt: share.amount,
                        mid: share.sub_mall_id.trim().to_string(),
                        goods_name: Some(
                            share
                                .goods_name
                                .clone()
                                .unwrap_or_else(|| purchase.goods_name.to_string()),
                        ),
                    })
                    .collect(),
            });
        }
        // Smartro takes 20 bytes: most IPv6 addresses are longer and would make the form unpayable.
        req.user_ip = user_ip_field(user_ip);
        req.mall_ip = self.settings.server.mall_ip.clone();
        Ok(req)
    }

    /// Whether Smartro would take this purchase: every length, charset and combination rule of its manual.
    pub fn check_purchase(&self, purchase: &Purchase<'_>) -> Result<(), FormProblem> {
        self.payment_request(purchase, IpAddr::V4(Ipv4Addr::LOCALHOST))?
            .validate()
            .map_err(|e| FormProblem {
                field: api_field(e.field),
                not_euc_kr: e.kind == RequestErrorKind::NotEucKr,
                reason: e.reason,
            })
    }

    /// The signed form for the buyer at `user_ip`, fresh for `now`.
    pub fn checkout_form(
        &self,
        purchase: &Purchase<'_>,
        user_ip: IpAddr,
        now: DateTime<Utc>,
    ) -> Result<CheckoutForm, FormProblem> {
        let merchant = self
            .settings
            .merchant(purchase.mid)
            .ok_or_else(|| FormProblem {
                field: None,
                not_euc_kr: false,
                reason: format!(
                    "MID {} is no longer configured on this gateway",
                    purchase.mid
                ),
            })?;
        let fields = self
            .payment_request(purchase, user_ip)?
            .to_form_fields(
                &kst_now_edi_date(now),
                merchant.merchant_key.expose_secret(),
            )
            .map_err(|e| FormProblem {
                field: None,
                not_euc_kr: false,
                reason: e.to_string(),
            })?;
        Ok(CheckoutForm {
            action_url: self.settings.smartro.endpoints().pay_url,
            fields,
        })
    }
}
