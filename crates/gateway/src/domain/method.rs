//! Pay methods and time rules of the gateway's own, whatever provider carries the payment.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};

/// How a buyer pays. The names are the API's (`pay_method`), which are also WEBLink's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, sqlx::Type,
)]
#[serde(rename_all = "UPPERCASE")]
#[sqlx(type_name = "text", rename_all = "UPPERCASE")]
pub enum PayMethod {
    Card,
    /// Real-time bank transfer.
    Bank,
    /// Virtual account: the buyer transfers the money later.
    Vbank,
    Cellphone,
    /// Culture gift card (CLGIFT).
    #[serde(rename = "CLGIFT")]
    #[sqlx(rename = "CLGIFT")]
    GiftCard,
    Toss,
    Kakao,
    /// Easy pay (QR, barcode) taken at an in-store card terminal (030010). Online orders cannot use it: WEBLink's
    /// easy-pay methods are TOSS and KAKAO, and a terminal's QR payment names no such brand.
    #[serde(rename = "EASYPAY")]
    #[sqlx(rename = "EASYPAY")]
    EasyPay,
}

impl PayMethod {
    pub const ALL: [PayMethod; 8] = [
        PayMethod::Card,
        PayMethod::Bank,
        PayMethod::Vbank,
        PayMethod::Cellphone,
        PayMethod::GiftCard,
        PayMethod::Toss,
        PayMethod::Kakao,
        PayMethod::EasyPay,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayMethod::Card => "CARD",
            PayMethod::Bank => "BANK",
            PayMethod::Vbank => "VBANK",
            PayMethod::Cellphone => "CELLPHONE",
            PayMethod::GiftCard => "CLGIFT",
            PayMethod::Toss => "TOSS",
            PayMethod::Kakao => "KAKAO",
            PayMethod::EasyPay => "EASYPAY",
        }
    }

    /// Whether an online order (WEBLink's payment window) can be paid this way.
    pub fn is_online(self) -> bool {
        self != PayMethod::EasyPay
    }

    /// Case-insensitive, surrounding spaces ignored.
    pub fn parse(value: &str) -> Option<PayMethod> {
        let value = value.trim();
        PayMethod::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(value))
    }
}

/// Korea's offset from UTC: no daylight saving time.
fn korea() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset")
}

/// The date in Korea at `now`: Korean banks and card companies count days, windows and deadlines by it.
pub fn korean_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&korea()).date_naive()
}

/// The deposit deadline a virtual account gets when the shop names none: three days, in Korean dates.
pub fn default_vbank_deadline(now: DateTime<Utc>) -> NaiveDate {
    korean_date(now) + Duration::days(3)
}

/// The instant of an AuthDate (`yyMMddHHmmss`, Korean time), as providers write it on results.
pub fn auth_date_instant(auth_date: &str) -> Option<DateTime<Utc>> {
    let at = chrono::NaiveDateTime::parse_from_str(auth_date.trim(), "%y%m%d%H%M%S").ok()?;
    at.and_local_timezone(korea())
        .single()
        .map(|at| at.with_timezone(&Utc))
}

/// The last second of a `YYYYMMDD` deposit date in Korea, as an instant: an issued account's order expires then.
pub fn vbank_deadline(date: &str) -> Option<DateTime<Utc>> {
    let day = NaiveDate::parse_from_str(date, "%Y%m%d").ok()?;
    let end = day.and_hms_opt(23, 59, 59)?;
    end.and_local_timezone(korea())
        .single()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn pay_methods_round_trip() {
        for m in PayMethod::ALL {
            assert_eq!(PayMethod::parse(m.as_str()), Some(m));
        }
        assert_eq!(PayMethod::parse(" card "), Some(PayMethod::Card));
        assert_eq!(PayMethod::parse("BITCOIN"), None);
    }

    #[test]
    fn the_deposit_deadline_is_the_end_of_the_korean_day() {
        assert_eq!(
            vbank_deadline("20261124"),
            Some(Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 59).unwrap())
        );
        assert_eq!(vbank_deadline("2026-11-24"), None);
        assert_eq!(vbank_deadline("20261301"), None);
    }

    #[test]
    fn auth_dates_are_korean_time() {
        assert_eq!(
            auth_date_instant("261121120000"),
            Some(Utc.with_ymd_and_hms(2026, 11, 21, 3, 0, 0).unwrap())
        );
        assert_eq!(auth_date_instant("2611211200"), None);
        assert_eq!(auth_date_instant(""), None);
    }

    #[test]
    fn korean_dates_turn_at_15_00_utc() {
        let before = Utc.with_ymd_and_hms(2026, 11, 30, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
        assert_eq!(korean_date(before).to_string(), "2026-11-30");
        assert_eq!(korean_date(after).to_string(), "2026-12-01");
        assert_eq!(default_vbank_deadline(after).to_string(), "2026-12-04");
    }
}
