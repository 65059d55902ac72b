//! Sub-mall split settlement (`Productinfo=padj` + DivideInfo, manual §3.1.4 and §5.2): the sub-malls a payment
//! may split to, the shares it records, and what a cancel may take back from each.
//!
//! The form of DivideInfo (Base64 JSON, amounts summing to Amt, Productinfo=padj with it) is the protocol crate's
//! to check; this module holds what only Smartro knows: which sub-malls are registered under a parent, and how
//! much of each share is left.

use std::fmt;

use smartro::divide::DivideInfo;

use crate::config::SandboxConfig;
use crate::store::{SubMallShare, TransactionSnapshot};

/// The entries of `divide` summed per sub-mall MID, in the order the MIDs first appear. A DivideInfo may name a
/// sub-mall twice (two goods of one sub-mall); its share is then the sum.
fn per_sub_mall(divide: &DivideInfo) -> Vec<(String, i64)> {
    let mut sums: Vec<(String, i64)> = Vec::new();
    for entry in &divide.entries {
        match sums.iter_mut().find(|(mid, _)| *mid == entry.mid) {
            Some((_, sum)) => *sum = sum.saturating_add(entry.amt),
            None => sums.push((entry.mid.clone(), entry.amt)),
        }
    }
    sums
}

/// Smartro's check of a split payment request: every sub-mall must be registered under the requesting merchant.
pub(crate) fn check_payment(
    config: &SandboxConfig,
    parent: &str,
    divide: &DivideInfo,
) -> Result<(), String> {
    let registered = config.sub_malls_of(parent);
    if registered.is_empty() {
        return Err(format!(
            "{parent} has no sub-malls registered for split settlement"
        ));
    }
    match divide.entries.iter().find(|e| !registered.contains(&e.mid)) {
        Some(stray) => Err(format!(
            "{} is not a registered sub-mall of {parent} (registered: {})",
            stray.mid,
            registered.join(", ")
        )),
        None => Ok(()),
    }
}

/// The shares a split payment records: one per sub-mall, nothing cancelled yet.
pub(crate) fn shares_of(divide: &DivideInfo) -> Vec<SubMallShare> {
    per_sub_mall(divide)
        .into_iter()
        .map(|(mid, amt)| SubMallShare {
            mid,
            amt,
            cancelled_amt: 0,
        })
        .collect()
}

/// Why a cancel's DivideInfo does not fit the payment's split. The cancel answers each with a code of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CancelSplitError {
    /// A partial cancel of a split payment without DivideInfo (manual §5.2: 부분취소를 사용할 시 DivideInfo 값은
    /// 필수).
    Missing,
    /// DivideInfo on a payment that was not split.
    NotSplit,
    /// An entry of zero or less.
    NotPositive { mid: String },
    /// The entries do not sum to CancelAmt.
    SumMismatch { total: i64, cancel_amt: i64 },
    /// A sub-mall that is not part of the payment's split.
    UnknownSubMall { mid: String },
    /// More than the sub-mall has left.
    OverRemaining { mid: String, asked: i64, left: i64 },
}

impl fmt::Display for CancelSplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CancelSplitError::Missing => write!(f, "DivideInfo required"),
            CancelSplitError::NotSplit => write!(f, "DivideInfo on a payment without a split"),
            CancelSplitError::NotPositive { mid } => {
                write!(f, "DivideInfo amount of {mid} is not above 0")
            }
            CancelSplitError::SumMismatch { total, cancel_amt } => write!(
                f,
                "DivideInfo amounts sum to {total}, not CancelAmt {cancel_amt}"
            ),
            CancelSplitError::UnknownSubMall { mid } => {
                write!(f, "{mid} is not a sub-mall of the payment")
            }
            CancelSplitError::OverRemaining { mid, asked, left } => {
                write!(f, "{mid}: {asked} asked, {left} left")
            }
        }
    }
}

/// What a cancel of `cancel_amt` takes from each sub-mall of `tx`, as `(sub-mall MID, amount)`: the cancel's
/// DivideInfo when it carries one, else (a full cancel) every share's remainder. Empty for a payment without a
/// split and a cancel without DivideInfo.
///
/// The caller has already checked the cancel against the payment as a whole (status, amount, partial rules).
pub(crate) fn cancel_shares(
    tx: &TransactionSnapshot,
    partial: bool,
    cancel_amt: i64,
    divide: Option<&DivideInfo>,
) -> Result<Vec<(String, i64)>, CancelSplitError> {
    let Some(divide) = divide else {
        if tx.split.is_empty() {
            return Ok(Vec::new());
        }
        if partial {
            return Err(CancelSplitError::Missing);
        }
        return Ok(tx
            .split
            .iter()
            .map(|share| (share.mid.clone(), share.remaining()))
            .collect());
    };
    if tx.split.is_empty() {
        return Err(CancelSplitError::NotSplit);
    }
    if let Some(entry) = divide.entries.iter().find(|e| e.amt <= 0) {
        return Err(CancelSplitError::NotPositive {
            mid: entry.mid.clone(),
        });
    }
    let total = divide.total();
    if total != cancel_amt {
        return Err(CancelSplitError::SumMismatch { total, cancel_amt });
    }
    let taken = per_sub_mall(divide);
    for (mid, asked) in &taken {
        let Some(share) = tx.split.iter().find(|s| s.mid == *mid) else {
            return Err(CancelSplitError::UnknownSubMall { mid: mid.clone() });
        };
        if *asked > share.remaining() {
            return Err(CancelSplitError::OverRemaining {
                mid: mid.clone(),
                asked: *asked,
                left: share.remaining(),
            });
        }
    }
    Ok(taken)
}

/// Book what a cancel took from each sub-mall.
pub(crate) fn apply_cancel(shares: &mut [SubMallShare], taken: &[(String, i64)]) {
    for (mid, amt) in taken {
        if let Some(share) = shares.iter_mut().find(|s| s.mid == *mid) {
            share.cancelled_amt += amt;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smartro::divide::DivideEntry;

    fn divide(entries: &[(&str, i64)]) -> DivideInfo {
        DivideInfo {
            entries: entries
                .iter()
                .map(|(mid, amt)| DivideEntry {
                    amt: *amt,
                    mid: mid.to_string(),
                    goods_name: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_sub_mall_named_twice_has_one_share() {
        let shares = shares_of(&divide(&[
            ("SMTSUB002m", 300),
            ("SMTSUB003m", 500),
            ("SMTSUB002m", 200),
        ]));
        assert_eq!(
            shares
                .iter()
                .map(|s| (s.mid.as_str(), s.amt))
                .collect::<Vec<_>>(),
            [("SMTSUB002m", 500), ("SMTSUB003m", 500)]
        );
    }

    #[test]
    fn only_registered_sub_malls_of_the_parent() {
        let config = SandboxConfig::default();
        let good = divide(&[("SMTSUB002m", 500), ("SMTSUB004m", 504)]);
        assert_eq!(check_payment(&config, "SMTSUB001m", &good), Ok(()));
        let stray = divide(&[("SMTSUB002m", 500), ("SMTSUB009m", 504)]);
        let stray_err = check_payment(&config, "SMTSUB001m", &stray);
        assert!(
            stray_err
                .as_ref()
                .is_err_and(|e| e.starts_with("SMTSUB009m is not")),
            "{stray_err:?}"
        );
        let no_subs = check_payment(&config, "SMTPAY001m", &good);
        assert!(
            no_subs.as_ref().is_err_and(|e| e.contains("no sub-malls")),
            "{no_subs:?}"
        );
    }

    #[test]
    fn apply_cancel_books_per_sub_mall() {
        let mut shares = shares_of(&divide(&[("SMTSUB002m", 500), ("SMTSUB003m", 504)]));
        apply_cancel(&mut shares, &[("SMTSUB003m".to_string(), 104)]);
        assert_eq!(
            shares.iter().map(|s| s.remaining()).collect::<Vec<_>>(),
            [500, 400]
        );
    }
}
