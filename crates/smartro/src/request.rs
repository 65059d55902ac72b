//! The payment request (mainPay → `interfaceURL.jsp`), manual §3.1.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use chrono::NaiveDate;

use crate::divide::DivideInfo;
pub use crate::error::RequestError;
use crate::form::{first_not_euc_kr, utf8_len, RawForm};
use crate::sign;
pub use crate::types::OpenType;
use crate::types::{EncodingType, PayMethod};

/// Characters the manual forbids in `Moid` (the manual's `¥` is a backslash rendered in a Korean font).
pub const MOID_FORBIDDEN: &str = "~`':;{}[]<>,.!@#$%^&*()_+\\/?";

/// `Productinfo` of a sub-mall split-settlement payment (manual §3.1 item 54: 구매내역 분할정산).
pub const PRODUCTINFO_SPLIT: &str = "padj";

/// Escrow (`EscrowCD=1`) and its delivery/seller fields. All are free text of unspecified length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Escrow {
    pub delivery_code: Option<String>,
    pub delivery_number: Option<String>,
    pub delivery_addr1: Option<String>,
    pub delivery_addr2: Option<String>,
    pub delivery_post: Option<String>,
    pub receiver_name: Option<String>,
    pub receiver_tel: Option<String>,
    pub seller_addr1: Option<String>,
    pub seller_addr2: Option<String>,
    pub seller_post: Option<String>,
    pub seller_tel: Option<String>,
    pub seller_id: Option<String>,
    pub seller_name: Option<String>,
}

impl Escrow {
    /// Every field as `(wire name, value)`, in the manual's order (§3.1 items 41-53).
    pub fn fields(&self) -> [(&'static str, &Option<String>); 13] {
        [
            ("DeliveryCode", &self.delivery_code),
            ("DeliveryNumber", &self.delivery_number),
            ("DeliveryAddr1", &self.delivery_addr1),
            ("DeliveryAddr2", &self.delivery_addr2),
            ("DeliveryPost", &self.delivery_post),
            ("ReceiverName", &self.receiver_name),
            ("ReceiverTel", &self.receiver_tel),
            ("SellerAddr1", &self.seller_addr1),
            ("SellerAddr2", &self.seller_addr2),
            ("SellerPost", &self.seller_post),
            ("SellerTel", &self.seller_tel),
            ("SellerId", &self.seller_id),
            ("SellerName", &self.seller_name),
        ]
    }
}

const ESCROW_FIELDS: [&str; 13] = [
    "DeliveryCode",
    "DeliveryNumber",
    "DeliveryAddr1",
    "DeliveryAddr2",
    "DeliveryPost",
    "ReceiverName",
    "ReceiverTel",
    "SellerAddr1",
    "SellerAddr2",
    "SellerPost",
    "SellerTel",
    "SellerId",
    "SellerName",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRequest {
    pub pay_method: PayMethod,
    /// KAKAO only: `KPCD` (card) or `KPMY` (money).
    pub pay_type: Option<String>,
    pub goods_cnt: u32,
    pub goods_name: String,
    pub amt: i64,
    pub moid: String,
    pub mid: String,
    pub return_url: String,
    pub retry_url: String,
    pub mall_user_id: Option<String>,
    pub buyer_name: String,
    pub buyer_tel: String,
    pub buyer_email: String,
    pub parent_email: Option<String>,
    pub buyer_addr: Option<String>,
    pub buyer_post_no: Option<String>,
    pub user_ip: String,
    pub mall_ip: String,
    /// `YYYYMMDD`; required for VBANK.
    pub vbank_exp_date: Option<String>,
    /// `FORWARD=Y`: the merchant page opens the `payWindow` popup itself.
    pub forward: bool,
    pub mall_result_fwd: bool,
    pub encoding_type: EncodingType,
    pub open_type: OpenType,
    /// CELLPHONE: "0" content, "1" physical goods.
    pub goods_cl: Option<String>,
    /// `YYYYMMDDYYYYMMDD`; sent blank when `None`.
    pub offer_period: Option<String>,
    pub fn_cd: Option<String>,
    pub card_quota: Option<String>,
    pub ssp_mall_id: Option<String>,
    pub skin_color: Option<String>,
    pub tax_cd: Option<String>,
    pub svc_amt: Option<i64>,
    pub tax: Option<i64>,
    pub card_point: Option<bool>,
    pub url_encode: bool,
    pub receipt_type: Option<bool>,
    pub escrow: Option<Escrow>,
    pub productinfo: Option<String>,
    pub divide_info: Option<DivideInfo>,
    /// Fields [`PaymentRequest::from_form`] did not recognise. [`PaymentRequest::to_form_fields`] does not emit
    /// them: its field names are the fixed wire names.
    pub extra: Vec<(String, String)>,
}

fn err(field: &'static str, reason: impl Into<String>) -> RequestError {
    RequestError::new(field, reason)
}

fn check_len(field: &'static str, value: &str, max: usize) -> Result<(), RequestError> {
    if utf8_len(value) > max {
        return Err(err(field, format!("longer than {max} bytes")));
    }
    Ok(())
}

fn check_required(field: &'static str, value: &str, max: usize) -> Result<(), RequestError> {
    if value.trim().is_empty() {
        return Err(err(field, "required"));
    }
    check_len(field, value, max)
}

fn check_no_control(field: &'static str, value: &str) -> Result<(), RequestError> {
    if value.chars().any(char::is_control) {
        return Err(err(field, "contains control characters"));
    }
    Ok(())
}

/// Text that the checkout form submits in EUC-KR (`accept-charset="EUC-KR"`) must be encodable in it.
fn check_euc_kr(field: &'static str, value: &str) -> Result<(), RequestError> {
    match first_not_euc_kr(value) {
        Some(c) => Err(RequestError::not_euc_kr(field, c)),
        None => Ok(()),
    }
}

fn check_email(field: &'static str, value: &str) -> Result<(), RequestError> {
    let mut parts = value.split('@');
    let local = parts.next().unwrap_or_default();
    let domain = parts.next().unwrap_or_default();
    let ok = parts.next().is_none()
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !value.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(err(field, "not an e-mail address"))
    }
}

fn check_url(field: &'static str, value: &str) -> Result<(), RequestError> {
    check_required(field, value, 100)?;
    let lower = value.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(err(field, "must start with http:// or https://"));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(field, "contains whitespace"));
    }
    Ok(())
}

/// The most bytes UserIP and MallIP may have.
pub const IP_BYTES: usize = 20;

/// The IPv4 address of a client seen through IPv6, if it is one: mapped by a dual-stack socket (`::ffff:a.b.c.d`)
/// or translated by NAT64 (`64:ff9b::a.b.c.d`).
pub fn ipv4_inside(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let [.., w, x, y, z] = v6.octets();
    (v6.segments()[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| Ipv4Addr::new(w, x, y, z))
}

/// UserIP as Smartro takes it (20 bytes at most), for a buyer at `ip`:
/// - an IPv4 address, and an IPv6 address that fits, as it is;
/// - an IPv4 client seen through IPv6 ([`ipv4_inside`]) as its IPv4 address;
/// - a longer IPv6 address (most of them, 39 bytes at most) as its /64 network, or as its /48 when even the /64 is
///   21 bytes: the subscriber's network, still an address in form.
pub fn user_ip_field(ip: IpAddr) -> String {
    let v6 = match ip {
        IpAddr::V4(v4) => return v4.to_string(),
        IpAddr::V6(v6) => match ipv4_inside(v6) {
            Some(v4) => return v4.to_string(),
            None => v6,
        },
    };
    let [a, b, c, d, ..] = v6.segments();
    [
        v6,
        Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0),
        Ipv6Addr::new(a, b, c, 0, 0, 0, 0, 0),
    ]
    .iter()
    .map(Ipv6Addr::to_string)
    .find(|shown| shown.len() <= IP_BYTES)
    // A /48 is 16 bytes at most ("ffff:ffff:ffff::"); this is never reached.
    .unwrap_or_else(|| "::".to_string())
}

fn check_ip(field: &'static str, value: &str) -> Result<(), RequestError> {
    check_required(field, value, IP_BYTES)?;
    if !value
        .chars()
        .all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':')
    {
        return Err(err(field, "not an IP address"));
    }
    Ok(())
}

fn check_digits(field: &'static str, value: &str, len: usize) -> Result<(), RequestError> {
    if value.len() != len || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err(field, format!("must be {len} digits")));
    }
    Ok(())
}

fn check_date(field: &'static str, value: &str) -> Result<NaiveDate, RequestError> {
    check_digits(field, value, 8)?;
    NaiveDate::parse_from_str(value, "%Y%m%d").map_err(|_| err(field, "not a valid YYYYMMDD date"))
}

/// `Moid`: at most 40 bytes, none of the characters the manual forbids, no whitespace or control characters.
pub fn validate_moid(moid: &str) -> Result<(), RequestError> {
    if moid.is_empty() {
        return Err(err("Moid", "required"));
    }
    check_len("Moid", moid, 40)?;
    if let Some(c) = moid
        .chars()
        .find(|c| MOID_FORBIDDEN.contains(*c) || c.is_whitespace() || c.is_control())
    {
        return Err(err("Moid", format!("contains forbidden character {c:?}")));
    }
    Ok(())
}

fn yn(b: bool) -> &'static str {
    if b {
        "Y"
    } else {
        "N"
    }
}

impl PaymentRequest {
    /// A request with the usual defaults: one item, `FORWARD=Y`, `MallResultFWD=Y`, `EncodingType=utf8`,
    /// `UrlEncode=Y`, `OpenType=KR`, IPs `127.0.0.1`, nothing optional set. `TransType` is always 0.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pay_method: PayMethod,
        goods_name: impl Into<String>,
        amt: i64,
        moid: impl Into<String>,
        mid: impl Into<String>,
        return_url: impl Into<String>,
        retry_url: impl Into<String>,
        buyer_name: impl Into<String>,
        buyer_tel: impl Into<String>,
        buyer_email: impl Into<String>,
    ) -> PaymentRequest {
        PaymentRequest {
            pay_method,
            pay_type: None,
            goods_cnt: 1,
            goods_name: goods_name.into(),
            amt,
            moid: moid.into(),
            mid: mid.into(),
            return_url: return_url.into(),
            retry_url: retry_url.into(),
            mall_user_id: None,
            buyer_name: buyer_name.into(),
            buyer_tel: buyer_tel.into(),
            buyer_email: buyer_email.into(),
            parent_email: None,
            buyer_addr: None,
            buyer_post_no: None,
            user_ip: "127.0.0.1".to_string(),
            mall_ip: "127.0.0.1".to_string(),
            vbank_exp_date: None,
            forward: true,
            mall_result_fwd: true,
            encoding_type: EncodingType::Utf8,
            open_type: OpenType::Kr,
            goods_cl: None,
            offer_period: None,
            fn_cd: None,
            card_quota: None,
            ssp_mall_id: None,
            skin_color: None,
            tax_cd: None,
            svc_amt: None,
            tax: None,
            card_point: None,
            url_encode: true,
            receipt_type: None,
            escrow: None,
            productinfo: None,
            divide_info: None,
            extra: Vec::new(),
        }
    }

    /// Check every rule of manual §3.1 that can be checked locally. Limits are UTF-8 bytes (Hangul = 3).
    pub fn validate(&self) -> Result<(), RequestError> {
        match &self.pay_method {
            PayMethod::Other(v) => {
                return Err(err("PayMethod", format!("unsupported value {v:?}")))
            }
            PayMethod::Kakao => match self.pay_type.as_deref() {
                Some("KPCD") | Some("KPMY") => {}
                Some(_) => return Err(err("PayType", "must be KPCD or KPMY")),
                None => return Err(err("PayType", "required for KAKAO")),
            },
            _ => {
                if let Some(t) = &self.pay_type {
                    if t != "KPCD" && t != "KPMY" {
                        return Err(err("PayType", "must be KPCD or KPMY"));
                    }
                }
            }
        }
        if self.goods_cnt == 0 || self.goods_cnt > 99 {
            return Err(err("GoodsCnt", "must be 1 to 99"));
        }
        check_required("GoodsName", &self.goods_name, 40)?;
        check_no_control("GoodsName", &self.goods_name)?;
        check_euc_kr("GoodsName", &self.goods_name)?;
        if self.amt <= 0 {
            return Err(err("Amt", "must be greater than 0"));
        }
        if self.amt > 999_999_999_999 {
            return Err(err("Amt", "longer than 12 digits"));
        }
        validate_moid(&self.moid)?;
        check_required("MID", &self.mid, 10)?;
        if !self.mid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(err("MID", "must be ASCII letters and digits"));
        }
        check_url("ReturnURL", &self.return_url)?;
        check_url("RetryURL", &self.retry_url)?;
        match &self.mall_user_id {
            Some(id) => {
                check_required("mallUserID", id, 20)?;
                check_no_control("mallUserID", id)?;
                check_euc_kr("mallUserID", id)?;
            }
            None => {
                if matches!(
                    self.pay_method,
                    PayMethod::Clgift | PayMethod::Kakao | PayMethod::Toss
                ) {
                    return Err(err(
                        "mallUserID",
                        format!("required for {}", self.pay_method.as_str()),
                    ));
                }
            }
        }
        check_required("BuyerName", &self.buyer_name, 30)?;
        check_no_control("BuyerName", &self.buyer_name)?;
        check_euc_kr("BuyerName", &self.buyer_name)?;
        check_required("BuyerTel", &self.buyer_tel, 40)?;
        if !self
            .buyer_tel
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-')
            || !self.buyer_tel.chars().any(|c| c.is_ascii_digit())
        {
            return Err(err("BuyerTel", "must be digits and dashes"));
        }
        check_required("BuyerEmail", &self.buyer_email, 60)?;
        check_email("BuyerEmail", &self.buyer_email)?;
        check_euc_kr("BuyerEmail", &self.buyer_email)?;
        if let Some(e) = &self.parent_email {
            check_len("ParentEmail", e, 60)?;
            check_email("ParentEmail", e)?;
            check_euc_kr("ParentEmail", e)?;
        }
        if let Some(a) = &self.buyer_addr {
            check_len("BuyerAddr", a, 100)?;
            check_no_control("BuyerAddr", a)?;
            check_euc_kr("BuyerAddr", a)?;
        }
        if let Some(p) = &self.buyer_post_no {
            if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("BuyerPostNo", "must be up to 6 digits"));
            }
        }
        check_ip("UserIP", &self.user_ip)?;
        check_ip("MallIP", &self.mall_ip)?;
        match &self.vbank_exp_date {
            Some(d) => {
                check_date("VbankExpDate", d)?;
            }
            None => {
                if self.pay_method == PayMethod::Vbank {
                    return Err(err("VbankExpDate", "required for VBANK"));
                }
            }
        }
        match self.goods_cl.as_deref() {
            Some("0") | Some("1") => {}
            Some(_) => return Err(err("GoodsCl", "must be 0 or 1")),
            None => {
                if self.pay_method == PayMethod::Cellphone {
                    return Err(err("GoodsCl", "required for CELLPHONE"));
                }
            }
        }
        if let Some(p) = &self.offer_period {
            if !p.trim().is_empty() {
                check_digits("OfferPeriod", p, 16)?;
                let from = check_date("OfferPeriod", &p[..8])?;
                let to = check_date("OfferPeriod", &p[8..])?;
                if to < from {
                    return Err(err("OfferPeriod", "ends before it starts"));
                }
            }
        }
        match (&self.fn_cd, &self.card_quota) {
            (Some(f), Some(q)) => {
                // Manual §3.1 note 28 points at the card company table (seed 000 §10): a code outside it names no
                // card company the window could fix.
                if crate::codes::card_by_issuer(f).is_none() {
                    return Err(err(
                        "fn_cd",
                        format!("{f:?} is not a card company code of the code table"),
                    ));
                }
                check_digits("CardQuota", q, 2)?;
            }
            (Some(_), None) => return Err(err("CardQuota", "required with fn_cd")),
            // Manual §3.1 note 29: choosing the instalment months requires the card company as well.
            (None, Some(_)) => return Err(err("fn_cd", "required with CardQuota")),
            (None, None) => {}
        }
        if let Some(s) = &self.ssp_mall_id {
            check_len("SspMallID", s, 10)?;
        }
        if let Some(c) = &self.skin_color {
            if !matches!(c.as_str(), "RED" | "GREEN" | "VIOLET" | "BLUE" | "YELLOW") {
                return Err(err(
                    "SkinColor",
                    "must be RED, GREEN, VIOLET, BLUE or YELLOW",
                ));
            }
        }
        if let Some(t) = &self.tax_cd {
            if !(t.is_empty() || t == "2") {
                return Err(err("TaxCD", "must be empty or 2"));
            }
        }
        for (field, value) in [("SvcAmt", self.svc_amt), ("Tax", self.tax)] {
            if let Some(v) = value {
                if v < 0 {
                    return Err(err(field, "must not be negative"));
                }
                if v > 999_999_999 {
                    return Err(err(field, "longer than 9 digits"));
                }
            }
        }
        if let Some(escrow) = &self.escrow {
            for (field, value) in escrow.fields() {
                if let Some(v) = value {
                    check_no_control(field, v)?;
                    check_euc_kr(field, v)?;
                }
            }
            // Manual §3.1 item 41: DeliveryCode is a code of the courier table (seed 000 §12).
            if let Some(code) = &escrow.delivery_code {
                if crate::codes::courier(code).is_none() {
                    return Err(err(
                        "DeliveryCode",
                        format!("{code:?} is not a courier code of the code table"),
                    ));
                }
            }
        }
        // Manual §3.1 item 39: ReceiptType is a parameter of Kakao and Toss payments only.
        if self.receipt_type == Some(true)
            && !matches!(self.pay_method, PayMethod::Kakao | PayMethod::Toss)
        {
            return Err(err(
                "ReceiptType",
                format!("Y is for KAKAO and TOSS, not {}", self.pay_method),
            ));
        }
        if let Some(d) = &self.divide_info {
            validate_divide_info(d, self.amt, true)?;
        }
        // Manual §3.1 items 54-55 and §3.1.4: a split-settlement request sets Productinfo=padj and carries the
        // split in DivideInfo; one without the other is half a split.
        let padj = self.productinfo.as_deref() == Some(PRODUCTINFO_SPLIT);
        match (padj, self.divide_info.is_some()) {
            (true, false) => {
                return Err(err(
                    "DivideInfo",
                    format!("required with Productinfo={PRODUCTINFO_SPLIT}"),
                ))
            }
            (false, true) => {
                return Err(err(
                    "Productinfo",
                    format!("must be {PRODUCTINFO_SPLIT} with DivideInfo"),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// Validate, then the request's form fields in the manual's order, with `ediDate` and `EncryptData`.
    /// Optional fields are left out when `None` (`OfferPeriod` is sent blank, as the manual asks).
    pub fn to_form_fields(
        &self,
        edi_date: &str,
        merchant_key: &str,
    ) -> Result<Vec<(&'static str, String)>, RequestError> {
        self.validate()?;
        check_digits("ediDate", edi_date, 14)?;
        let mut f: Vec<(&'static str, String)> = Vec::with_capacity(48);
        f.push(("PayMethod", self.pay_method.as_str().to_string()));
        if let Some(t) = &self.pay_type {
            f.push(("PayType", t.clone()));
        }
        f.push(("GoodsCnt", self.goods_cnt.to_string()));
        f.push(("GoodsName", self.goods_name.clone()));
        f.push(("Amt", self.amt.to_string()));
        f.push(("Moid", self.moid.clone()));
        f.push(("MID", self.mid.clone()));
        f.push(("ReturnURL", self.return_url.clone()));
        f.push(("RetryURL", self.retry_url.clone()));
        if let Some(v) = &self.mall_user_id {
            f.push(("mallUserID", v.clone()));
        }
        f.push(("BuyerName", self.buyer_name.clone()));
        f.push(("BuyerTel", self.buyer_tel.clone()));
        f.push(("BuyerEmail", self.buyer_email.clone()));
        if let Some(v) = &self.parent_email {
            f.push(("ParentEmail", v.clone()));
        }
        if let Some(v) = &self.buyer_addr {
            f.push(("BuyerAddr", v.clone()));
        }
        if let Some(v) = &self.buyer_post_no {
            f.push(("BuyerPostNo", v.clone()));
        }
        f.push(("UserIP", self.user_ip.clone()));
        f.push(("MallIP", self.mall_ip.clone()));
        if let Some(v) = &self.vbank_exp_date {
            f.push(("VbankExpDate", v.clone()));
        }
        f.push((
            "EncryptData",
            sign::encrypt_data(edi_date, &self.mid, self.amt, merchant_key),
        ));
        f.push(("FORWARD", yn(self.forward).to_string()));
        f.push(("MallResultFWD", yn(self.mall_result_fwd).to_string()));
        f.push(("TransType", "0".to_string()));
        f.push(("EncodingType", self.encoding_type.as_str().to_string()));
        f.push(("OpenType", self.open_type.as_str().to_string()));
        if let Some(v) = &self.goods_cl {
            f.push(("GoodsCl", v.clone()));
        }
        f.push(("OfferPeriod", self.offer_period.clone().unwrap_or_default()));
        if let Some(v) = &self.fn_cd {
            f.push(("fn_cd", v.clone()));
        }
        if let Some(v) = &self.card_quota {
            f.push(("CardQuota", v.clone()));
        }
        f.push(("SocketYN", "N".to_string()));
        if let Some(v) = &self.ssp_mall_id {
            f.push(("SspMallID", v.clone()));
        }
        if let Some(v) = &self.skin_color {
            f.push(("SkinColor", v.clone()));
        }
        if let Some(v) = &self.tax_cd {
            f.push(("TaxCD", v.clone()));
        }
        if let Some(v) = self.svc_amt {
            f.push(("SvcAmt", v.to_string()));
        }
        if let Some(v) = self.tax {
            f.push(("Tax", v.to_string()));
        }
        if let Some(v) = self.card_point {
            f.push(("CardPoint", if v { "1" } else { "0" }.to_string()));
        }
        f.push(("ediDate", edi_date.to_string()));
        f.push(("UrlEncode", yn(self.url_encode).to_string()));
        if let Some(v) = self.receipt_type {
            f.push(("ReceiptType", yn(v).to_string()));
        }
        if let Some(escrow) = &self.escrow {
            f.push(("EscrowCD", "1".to_string()));
            for (field, value) in escrow.fields() {
                if let Some(v) = value {
                    f.push((field, v.clone()));
                }
            }
        }
        if let Some(v) = &self.productinfo {
            f.push(("Productinfo", v.clone()));
        }
        if let Some(d) = &self.divide_info {
            f.push(("DivideInfo", d.encode()));
        }
        Ok(f)
    }

    /// The sandbox side: read a submitted request form. Returns the request, its `ediDate` and its
    /// `EncryptData`; the caller then runs [`PaymentRequest::validate`] and [`sign::verify_encrypt_data`].
    ///
    /// Only the shape is checked here (required fields present, numbers and flags well-formed). Text is decoded
    /// with [`crate::form::decode_text`], which takes both EUC-KR and UTF-8. Empty optional fields count as absent.
    pub fn from_form(form: &RawForm) -> Result<(PaymentRequest, String, String), RequestError> {
        let text = |name: &str| -> Option<String> {
            form.get_bytes(name)
                .map(crate::form::decode_text)
                .filter(|s| !s.trim().is_empty())
        };
        let required = |name: &'static str| -> Result<String, RequestError> {
            text(name).ok_or_else(|| err(name, "missing"))
        };
        let number = |name: &'static str, s: &str| -> Result<i64, RequestError> {
            crate::error::parse_amount(name, s).map_err(|e| err(name, e.to_string()))
        };
        let flag = |name: &'static str,
                    yes: &str,
                    no: &str,
                    default: bool|
         -> Result<bool, RequestError> {
            match text(name) {
                None => Ok(default),
                Some(v) if v.trim().eq_ignore_ascii_case(yes) => Ok(true),
                Some(v) if v.trim().eq_ignore_ascii_case(no) => Ok(false),
                Some(_) => Err(err(name, format!("must be {yes} or {no}"))),
            }
        };
        let opt_flag =
            |name: &'static str, yes: &str, no: &str| -> Result<Option<bool>, RequestError> {
                match text(name) {
                    None => Ok(None),
                    Some(_) => flag(name, yes, no, false).map(Some),
                }
            };

        let pay_method = PayMethod::parse(&required("PayMethod")?);
        let goods_cnt_text = required("GoodsCnt")?;
        let goods_cnt = u32::try_from(number("GoodsCnt", &goods_cnt_text)?)
            .map_err(|_| err("GoodsCnt", "too large"))?;
        let amt = number("Amt", &required("Amt")?)?;
        let edi_date = required("ediDate")?;
        let encrypt_data = required("EncryptData")?;
        if let Some(t) = text("TransType") {
            if t.trim() != "0" {
                return Err(err("TransType", "must be 0"));
            }
        }
        let encoding_type = match text("EncodingType") {
            None => EncodingType::EucKr,
            Some(v) => EncodingType::parse(&v)
                .ok_or_else(|| err("EncodingType", "must be euckr or utf8"))?,
        };
        let open_type = match text("OpenType") {
            None => OpenType::Kr,
            Some(v) => OpenType::parse(&v).ok_or_else(|| err("OpenType", "must be KR or EN"))?,
        };
        let svc_amt = text("SvcAmt").map(|v| number("SvcAmt", &v)).transpose()?;
        let tax = text("Tax").map(|v| number("Tax", &v)).transpose()?;
        let escrow = match opt_flag("EscrowCD", "1", "0")? {
            Some(true) => {
                let get = |name: &str| text(name);
                Some(Escrow {
                    delivery_code: get("DeliveryCode"),
                    delivery_number: get("DeliveryNumber"),
                    delivery_addr1: get("DeliveryAddr1"),
                    delivery_addr2: get("DeliveryAddr2"),
                    delivery_post: get("DeliveryPost"),
                    receiver_name: get("ReceiverName"),
                    receiver_tel: get("ReceiverTel"),
                    seller_addr1: get("SellerAddr1"),
                    seller_addr2: get("SellerAddr2"),
                    seller_post: get("SellerPost"),
                    seller_tel: get("SellerTel"),
                    seller_id: get("SellerId"),
                    seller_name: get("SellerName"),
                })
            }
            _ => None,
        };
        let divide_info = match text("DivideInfo") {
            None => None,
            Some(v) => Some(DivideInfo::decode(&v).map_err(|e| err("DivideInfo", e.to_string()))?),
        };

        const KNOWN: &[&str] = &[
            "PayMethod",
            "PayType",
            "GoodsCnt",
            "GoodsName",
            "Amt",
            "Moid",
            "MID",
            "ReturnURL",
            "RetryURL",
            "mallUserID",
            "BuyerName",
            "BuyerTel",
            "BuyerEmail",
            "ParentEmail",
            "BuyerAddr",
            "BuyerPostNo",
            "UserIP",
            "MallIP",
            "VbankExpDate",
            "EncryptData",
            "FORWARD",
            "MallResultFWD",
            "TransType",
            "EncodingType",
            "OpenType",
            "GoodsCl",
            "OfferPeriod",
            "fn_cd",
            "CardQuota",
            "SocketYN",
            "SspMallID",
            "SkinColor",
            "TaxCD",
            "SvcAmt",
            "Tax",
            "CardPoint",
            "ediDate",
            "UrlEncode",
            "ReceiptType",
            "EscrowCD",
            "Productinfo",
            "DivideInfo",
        ];
        let extra = form
            .iter()
            .filter(|(name, _)| !KNOWN.contains(name) && !ESCROW_FIELDS.contains(name))
            .map(|(name, value)| (name.to_string(), crate::form::decode_text(value)))
            .collect();

        let request = PaymentRequest {
            pay_method,
            pay_type: text("PayType"),
            goods_cnt,
            goods_name: required("GoodsName")?,
            amt,
            moid: text("Moid").unwrap_or_default(),
            mid: required("MID")?.trim().to_string(),
            return_url: required("ReturnURL")?,
            retry_url: required("RetryURL")?,
            mall_user_id: text("mallUserID"),
            buyer_name: required("BuyerName")?,
            buyer_tel: required("BuyerTel")?,
            buyer_email: required("BuyerEmail")?,
            parent_email: text("ParentEmail"),
            buyer_addr: text("BuyerAddr"),
            buyer_post_no: text("BuyerPostNo"),
            user_ip: required("UserIP")?,
            mall_ip: required("MallIP")?,
            vbank_exp_date: text("VbankExpDate"),
            forward: flag("FORWARD", "Y", "N", true)?,
            mall_result_fwd: flag("MallResultFWD", "Y", "N", true)?,
            encoding_type,
            open_type,
            goods_cl: text("GoodsCl"),
            offer_period: text("OfferPeriod"),
            fn_cd: text("fn_cd"),
            card_quota: text("CardQuota"),
            ssp_mall_id: text("SspMallID"),
            skin_color: text("SkinColor"),
            tax_cd: text("TaxCD"),
            svc_amt,
            tax,
            card_point: opt_flag("CardPoint", "1", "0")?,
            url_encode: flag("UrlEncode", "Y", "N", false)?,
            receipt_type: opt_flag("ReceiptType", "Y", "N")?,
            escrow,
            productinfo: text("Productinfo"),
            divide_info,
            extra,
        };
        Ok((
            request,
            edi_date.trim().to_string(),
            encrypt_data.trim().to_string(),
        ))
    }
}

/// Rules shared by payment and cancel requests: non-empty, positive amounts, sub-mall MIDs, sum equal to `amt`,
/// encoded form within the manual's 3000 bytes.
pub(crate) fn validate_divide_info(
    d: &DivideInfo,
    amt: i64,
    goods_name_allowed: bool,
) -> Result<(), RequestError> {
    if d.entries.is_empty() {
        return Err(err("DivideInfo", "no entries"));
    }
    for e in &d.entries {
        if e.amt <= 0 {
            return Err(err("DivideInfo", "entry amount must be greater than 0"));
        }
        if e.mid.is_empty() || e.mid.len() > 10 || !e.mid.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(err("DivideInfo", format!("bad sub-mall MID {:?}", e.mid)));
        }
        if !goods_name_allowed && e.goods_name.is_some() {
            return Err(err("DivideInfo", "GoodsName is not sent with a cancel"));
        }
    }
    let total = d.total();
    if total != amt {
        return Err(err(
            "DivideInfo",
            format!("amounts sum to {total}, not {amt}"),
        ));
    }
    if d.encode().len() > 3000 {
        return Err(err("DivideInfo", "longer than 3000 bytes"));
    }
    Ok(())
}
