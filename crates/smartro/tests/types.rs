use chrono::{NaiveDate, TimeZone, Utc};
use smartro::types::*;

#[test]
fn pay_method_parse_and_wire_names() {
    for (wire, method) in [
        ("CARD", PayMethod::Card),
        ("BANK", PayMethod::Bank),
        ("VBANK", PayMethod::Vbank),
        ("CELLPHONE", PayMethod::Cellphone),
        ("CLGIFT", PayMethod::Clgift),
        ("TOSS", PayMethod::Toss),
        ("KAKAO", PayMethod::Kakao),
    ] {
        assert_eq!(PayMethod::parse(wire), method);
        assert_eq!(PayMethod::parse(&wire.to_lowercase()), method);
        assert_eq!(method.as_str(), wire);
    }
    assert_eq!(PayMethod::parse("NAVER"), PayMethod::Other("NAVER".into()));
    assert_eq!(PayMethod::parse("NAVER").as_str(), "NAVER");
}

#[test]
fn pay_method_serde_is_the_wire_string() {
    assert_eq!(
        serde_json::to_string(&PayMethod::Vbank).unwrap(),
        "\"VBANK\""
    );
    let m: PayMethod = serde_json::from_str("\"kakao\"").unwrap();
    assert_eq!(m, PayMethod::Kakao);
    let m: PayMethod = serde_json::from_str("\"PAYCO\"").unwrap();
    assert_eq!(m, PayMethod::Other("PAYCO".into()));
}

#[test]
fn success_codes() {
    assert_eq!(PayMethod::Card.success_code(), Some("3001"));
    assert_eq!(PayMethod::Bank.success_code(), Some("4000"));
    assert_eq!(PayMethod::Vbank.success_code(), Some("4100"));
    assert_eq!(PayMethod::Cellphone.success_code(), Some("A000"));
    assert_eq!(PayMethod::Toss.success_code(), Some("TS10"));
    assert_eq!(PayMethod::Kakao.success_code(), Some("KP00"));
    assert_eq!(PayMethod::Clgift.success_code(), None);
}

#[test]
fn service_codes_are_distinct() {
    let all = [
        PayMethod::Card,
        PayMethod::Bank,
        PayMethod::Vbank,
        PayMethod::Cellphone,
        PayMethod::Clgift,
        PayMethod::Toss,
        PayMethod::Kakao,
    ];
    let mut codes: Vec<&str> = all.iter().map(|m| m.service_code()).collect();
    codes.sort();
    codes.dedup();
    assert_eq!(codes.len(), all.len());
    assert_eq!(PayMethod::Card.service_code(), "01");
    assert_eq!(PayMethod::Bank.service_code(), "02");
}

#[test]
fn state_cd_parse() {
    assert_eq!(StateCd::parse("0"), StateCd::Approval);
    assert_eq!(StateCd::parse("1"), StateCd::CancelBeforeSettlement);
    assert_eq!(StateCd::parse("2"), StateCd::CancelAfterSettlement);
    assert_eq!(StateCd::parse("3"), StateCd::VbankIssued);
    assert_eq!(StateCd::parse("7"), StateCd::Other("7".into()));
    assert_eq!(StateCd::parse("7").as_str(), "7");
    assert!(StateCd::CancelAfterSettlement.is_cancel());
}

#[test]
fn encoding_type_strings() {
    assert_eq!(EncodingType::EucKr.as_str(), "euckr");
    assert_eq!(EncodingType::Utf8.as_str(), "utf8");
    assert_eq!(EncodingType::parse("EUC-KR"), Some(EncodingType::EucKr));
    assert_eq!(EncodingType::parse("latin1"), None);
}

#[test]
fn generate_tid_matches_the_observed_layout() {
    let at = NaiveDate::from_ymd_opt(2022, 3, 10)
        .unwrap()
        .and_hms_opt(15, 3, 42)
        .unwrap();
    // The manual's example TID SMTPAY001m01012203101503424338 has this layout.
    assert_eq!(
        generate_tid("SMTPAY001m", &PayMethod::Card, at, 4338),
        "SMTPAY001m01012203101503424338"
    );
    assert_eq!(
        generate_tid("SMTPAY001m", &PayMethod::Bank, at, 7).len(),
        30
    );
    assert_eq!(generate_tid("SHORT", &PayMethod::Card, at, 65535).len(), 30);
    assert_eq!(
        generate_tid("SMTPAY001m_TOO_LONG", &PayMethod::Card, at, 1).len(),
        30
    );
}

#[test]
fn kst_is_utc_plus_nine() {
    let now = Utc.with_ymd_and_hms(2025, 12, 31, 20, 30, 5).unwrap();
    assert_eq!(kst_now_edi_date(now), "20260101053005");
    assert_eq!(kst_auth_date(now), "260101053005");
}

#[test]
fn cash_receipt_type_parse_and_names() {
    for (wire, kind, name) in [
        ("0", CashReceiptType::NotIssued, "미발행"),
        ("1", CashReceiptType::IncomeDeduction, "소득공제"),
        ("2", CashReceiptType::ExpenseProof, "지출증빙"),
    ] {
        assert_eq!(CashReceiptType::parse(wire), kind);
        assert_eq!(CashReceiptType::parse(&format!(" {wire} ")), kind);
        assert_eq!(kind.as_str(), wire);
        assert_eq!(kind.to_string(), wire);
        assert_eq!(kind.korean_name(), Some(name));
    }
    let other = CashReceiptType::parse("9");
    assert_eq!(other, CashReceiptType::Other("9".into()));
    assert_eq!(other.as_str(), "9");
    assert_eq!(other.korean_name(), None);
}
