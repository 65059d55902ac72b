//! What a shop may ask of a payment besides the amount: a card and installment, goods type, language, an offer
//! period, a cash receipt, escrow, and a split between sub-malls. Stored with the order as asked, and turned into
//! a provider's request by its adapter.

use serde::{Deserialize, Serialize};

/// The options of an order, as the API takes and shows them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrderOptions {
    /// A card company and installment fixed in advance (the window then offers no other).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<CardChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_type: Option<GoodsType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_period: Option<OfferPeriod>,
    /// Whether the buyer is offered a cash receipt (KAKAO, TOSS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cash_receipt: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escrow: Option<Escrow>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitShare>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_post_code: Option<String>,
}

impl OrderOptions {
    pub fn is_split(&self) -> bool {
        !self.split.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardChoice {
    /// A card company code of the code tables.
    pub issuer_code: String,
    /// Two digits: `00` lump sum, `03` three months …
    pub quota: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoodsType {
    Digital,
    Physical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    Ko,
    En,
}

/// The period the goods are offered for, both dates `YYYYMMDD`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfferPeriod {
    pub from: String,
    pub to: String,
}

/// Escrow (구매안전서비스): the buyer's money is held until the goods arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Escrow {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller: Option<Seller>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Delivery {
    /// A courier code of the code tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_tel: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seller {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_code: Option<String>,
}

/// One sub-mall's share of a split payment (or of a partial cancel of one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitShare {
    /// The sub-mall's MID (10 characters).
    pub sub_mall_id: String,
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goods_name: Option<String>,
}

/// Why split shares are not acceptable, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitProblem {
    pub field: String,
    pub message: String,
}

/// Checks the form of split shares and that they add up to `total` (the provider checks that the sub-malls are
/// registered under the merchant).
pub fn check_split(shares: &[SplitShare], total: i64, field: &str) -> Result<(), SplitProblem> {
    let problem = |field: String, message: String| Err(SplitProblem { field, message });
    if shares.is_empty() {
        return problem(
            field.to_string(),
            "must name at least one sub-mall".to_string(),
        );
    }
    let mut sum: i64 = 0;
    for (i, share) in shares.iter().enumerate() {
        let mid = share.sub_mall_id.trim();
        if mid.len() != 10 || !mid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return problem(
                format!("{field}[{i}].sub_mall_id"),
                format!("`{mid}` is not a MID (10 ASCII letters or digits)"),
            );
        }
        if share.amount <= 0 {
            return problem(
                format!("{field}[{i}].amount"),
                "must be a positive integer (KRW)".to_string(),
            );
        }
        if shares[..i].iter().any(|s| s.sub_mall_id.trim() == mid) {
            return problem(
                format!("{field}[{i}].sub_mall_id"),
                format!("{mid} is named twice"),
            );
        }
        sum = sum.saturating_add(share.amount);
    }
    if sum != total {
        return problem(
            field.to_string(),
            format!("the shares add up to {sum}, not {total}"),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(mid: &str, amount: i64) -> SplitShare {
        SplitShare {
            sub_mall_id: mid.into(),
            amount,
            goods_name: None,
        }
    }

    #[test]
    fn split_shares_must_be_well_formed_and_add_up() {
        let ok = [share("SMTSUB002m", 600), share("SMTSUB003m", 400)];
        assert_eq!(check_split(&ok, 1000, "split"), Ok(()));
        let short = check_split(&ok, 1001, "split").unwrap_err();
        assert_eq!(short.field, "split");
        assert!(short.message.contains("1000"), "{short:?}");
        let bad_mid = check_split(&[share("SMTSUB2", 1000)], 1000, "split").unwrap_err();
        assert_eq!(bad_mid.field, "split[0].sub_mall_id");
        let zero = check_split(&[share("SMTSUB002m", 0)], 0, "split").unwrap_err();
        assert_eq!(zero.field, "split[0].amount");
        let twice = [share("SMTSUB002m", 500), share("SMTSUB002m", 500)];
        assert_eq!(
            check_split(&twice, 1000, "split").unwrap_err().field,
            "split[1].sub_mall_id"
        );
        assert!(check_split(&[], 0, "split").is_err());
    }
}
