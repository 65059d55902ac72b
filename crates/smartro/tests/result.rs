use std::collections::BTreeMap;

use smartro::form::{encode_component, Charset};
use smartro::result::PaymentResult;
use smartro::sign;
use smartro::types::{EncodingType, PayMethod};
use smartro::ParseError;

const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
const TID: &str = "SMTPAY001m01012203101503424338";

fn pct(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("%{b:02X}")).collect()
}

fn euc(s: &str) -> String {
    pct(&encoding_rs::EUC_KR.encode(s).0)
}

fn body_with(name_value: &[(&str, String)]) -> Vec<u8> {
    let sign = encode_component(&sign::sign_value(TID, "3001", KEY), Charset::Utf8);
    let mut parts = vec![
        "PayMethod=CARD".to_string(),
        "MID=SMTPAY001m".to_string(),
        "Amt=1004".to_string(),
        format!("TID={TID}"),
        "OID=ORD20260101001".to_string(),
        "AuthDate=260101120005".to_string(),
        "AuthCode=30001234".to_string(),
        "ResultCode=3001".to_string(),
        format!("SignValue={sign}"),
        "fn_cd=04".to_string(),
        "CardQuota=00".to_string(),
    ];
    for (n, v) in name_value {
        parts.retain(|p| !p.starts_with(&format!("{n}=")));
        parts.push(format!("{n}={v}"));
    }
    parts.join("&").into_bytes()
}

#[test]
fn euc_kr_result_without_second_layer() {
    let body = body_with(&[
        ("GoodsName", euc("테스트 상품")),
        ("BuyerName", euc("홍길동")),
        ("ResultMsg", euc("카드 결제 성공")),
        ("fn_name", euc("삼성")),
    ]);
    let r = PaymentResult::parse(&body).unwrap();
    assert_eq!(r.goods_name, "테스트 상품");
    assert_eq!(r.buyer_name, "홍길동");
    assert_eq!(r.result_msg, "카드 결제 성공");
    assert_eq!(r.fn_name.as_deref(), Some("삼성"));
    assert_eq!(r.pay_method, PayMethod::Card);
    assert_eq!(r.amt, 1004);
    assert_eq!(r.oid, "ORD20260101001");
    assert!(r.verify(KEY));
    assert!(r.is_success());
}

#[test]
fn utf8_result_with_url_encode_y_layer() {
    // Java: URLEncoder.encode("테스트 상품", "utf-8") gives %ED…+%EC…, then the form layer encodes % and +.
    let layer = |s: &str| encode_component(&pct(s.as_bytes()).replace("%20", "+"), Charset::Utf8);
    let body = body_with(&[
        ("GoodsName", layer("테스트 상품")),
        ("BuyerName", layer("홍길동")),
        ("ResultMsg", layer("카드 결제 성공")),
    ]);
    let r = PaymentResult::parse(&body).unwrap();
    assert_eq!(r.goods_name, "테스트 상품");
    assert_eq!(r.buyer_name, "홍길동");
    assert_eq!(r.result_msg, "카드 결제 성공");
    assert!(
        r.verify(KEY),
        "SignValue's '+' must survive the second layer"
    );
}

#[test]
fn bad_sign_value_parses_but_does_not_verify() {
    let body = body_with(&[("SignValue", "AAAA".to_string())]);
    let r = PaymentResult::parse(&body).unwrap();
    assert!(!r.verify(KEY));
}

#[test]
fn missing_required_fields_are_named() {
    for field in ["TID", "ResultCode", "MID", "Amt", "SignValue", "OID"] {
        let body = String::from_utf8(body_with(&[])).unwrap();
        let body: Vec<&str> = body
            .split('&')
            .filter(|p| !p.starts_with(&format!("{field}=")))
            .collect();
        let e = PaymentResult::parse(body.join("&").as_bytes()).unwrap_err();
        assert_eq!(e, ParseError::Missing(field));
    }
}

#[test]
fn malformed_amounts_are_named() {
    for (field, value) in [
        ("Amt", "1,004"),
        ("Amt", "-5"),
        ("Amt", "99999999999999999999"),
        ("SvcAmt", "abc"),
        ("Tax", "1.5"),
    ] {
        let e = PaymentResult::parse(&body_with(&[(field, value.to_string())])).unwrap_err();
        assert!(
            matches!(e, ParseError::Malformed { field: f, .. } if f == field),
            "{field}={value}: {e}"
        );
    }
}

#[test]
fn a_nul_character_anywhere_is_malformed() {
    // Plain, behind the UrlEncode=Y layer (`%2500` decodes to `%00`, then to NUL), in an unknown field and in a
    // field's name: the error names the field without holding the character itself.
    for (name, value, field) in [
        ("OID", "ORD%00X".to_string(), "OID"),
        (
            "GoodsName",
            format!("{}%2500", pct("상품".as_bytes())),
            "GoodsName",
        ),
        ("NewField", "a%00".to_string(), "form"),
        ("New%00Field", "a".to_string(), "form"),
    ] {
        let e = PaymentResult::parse(&body_with(&[(name, value.clone())])).unwrap_err();
        assert_eq!(e.field(), field, "{name}={value}: {e}");
        assert!(!e.to_string().contains('\0'), "{e:?}");
    }
}

#[test]
fn failure_code_is_not_success() {
    let r = PaymentResult::parse(&body_with(&[("ResultCode", "3011".into())])).unwrap();
    assert!(!r.is_success());
    assert!(!r.verify(KEY), "the signature covers the result code");
}

#[test]
fn unknown_fields_are_kept() {
    let r = PaymentResult::parse(&body_with(&[("NewField", euc("새 필드"))])).unwrap();
    assert_eq!(r.extra.get("NewField").map(String::as_str), Some("새 필드"));
}

fn sample() -> PaymentResult {
    PaymentResult {
        pay_method: PayMethod::Bank,
        mid: "SMTPAY001m".into(),
        amt: 15000,
        buyer_name: "홍길동".into(),
        goods_name: "테스트 상품 100% 면+마".into(),
        mall_user_id: Some("user01".into()),
        tid: "SMTPAY001m02012601011200050001".into(),
        oid: "ORD-1".into(),
        auth_date: Some("260101120005".into()),
        auth_code: None,
        result_code: "4000".into(),
        result_msg: "실시간계좌이체 결제 성공".into(),
        buyer_tel: Some("010-1234-5678".into()),
        buyer_email: Some("a@b.kr".into()),
        buyer_auth_num: None,
        sign_value: sign::sign_value("SMTPAY001m02012601011200050001", "4000", KEY),
        divide_info: Some("eyJEaXZpZGVJbmZvIjpbXX0+/=".into()),
        tax_cd: None,
        svc_amt: Some(0),
        tax: Some(1364),
        acqu_card_code: None,
        fn_cd: None,
        fn_name: None,
        card_quota: None,
        bank_code: Some("004".into()),
        bank_name: Some("국민은행".into()),
        vbank_num: None,
        vbank_name: None,
        vbank_exp_date: None,
        extra: BTreeMap::from([("Extra1".to_string(), "a+b c".to_string())]),
    }
}

#[test]
fn sandbox_bodies_round_trip_in_every_mode() {
    let r = sample();
    for (encoding, url_encode) in [
        (EncodingType::Utf8, true),
        (EncodingType::Utf8, false),
        (EncodingType::EucKr, true),
        (EncodingType::EucKr, false),
    ] {
        let body = r.to_form_body(encoding, url_encode);
        let parsed = PaymentResult::parse(body.as_bytes()).unwrap();
        assert_eq!(parsed, r, "{encoding:?} url_encode={url_encode}");
        assert!(parsed.verify(KEY));
        assert!(parsed.is_success());
    }
}

#[test]
fn form_fields_carry_the_second_layer() {
    let fields = sample().to_form_fields(EncodingType::Utf8, true);
    let get = |n: &str| fields.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    assert_eq!(
        get("BuyerName").as_deref(),
        Some("%ED%99%8D%EA%B8%B8%EB%8F%99")
    );
    assert_eq!(get("SignValue"), Some(sample().sign_value));
    let plain = sample().to_form_fields(EncodingType::Utf8, false);
    assert!(plain.contains(&("BuyerName".to_string(), "홍길동".to_string())));
}

mod round_trip_property {
    use super::*;
    use proptest::prelude::*;

    fn text() -> impl Strategy<Value = String> {
        "[가-힣 a-zA-Z0-9~!@#$%^&*()_+=\\[\\]{};:'\",.<>/?|-]{0,20}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        /// With UrlEncode=Y every text value survives the sandbox → parse trip, whatever its characters.
        #[test]
        fn url_encoded_results_round_trip(goods in text(), buyer in text(), msg in text(), utf8: bool) {
            let mut r = sample();
            r.goods_name = goods;
            r.buyer_name = buyer;
            r.result_msg = msg;
            let encoding = if utf8 { EncodingType::Utf8 } else { EncodingType::EucKr };
            let parsed = PaymentResult::parse(r.to_form_body(encoding, true).as_bytes()).unwrap();
            prop_assert_eq!(parsed, r);
        }
    }
}
