use smartro::form::{encode_component, Charset};
use smartro::notification::Notification;
use smartro::sign;
use smartro::types::{PayMethod, StateCd};
use smartro::ParseError;

const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
const TID: &str = "SMTPAY001m01012203101503424338";

fn euc(s: &str) -> String {
    encoding_rs::EUC_KR
        .encode(s)
        .0
        .iter()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

fn body(sign: &str, drop: &str) -> Vec<u8> {
    let parts = [
        "PayMethod=CARD".to_string(),
        "MID=SMTPAY001m".to_string(),
        "MallUserID=".to_string(),
        "Amt=1004".to_string(),
        format!("Name={}", euc("홍길동")),
        format!("GoodsName={}", euc("테스트 상품")),
        format!("TID={TID}"),
        format!("OTID={TID}"),
        "OID=ORD20260101001".to_string(),
        "AuthDate=220310150342".to_string(),
        "AuthCode=30001234".to_string(),
        "ResultCode=3001".to_string(),
        format!("ResultMsg={}", euc("카드 결제 성공")),
        "StateCd=0".to_string(),
        "FnCd=04".to_string(),
        format!("FnName={}", euc("삼성")),
        "pinNo=4518420000001234".to_string(),
        "CardQuota=00".to_string(),
        format!("SignValue={}", encode_component(sign, Charset::Utf8)),
    ];
    parts
        .iter()
        .filter(|p| drop.is_empty() || !p.starts_with(&format!("{drop}=")))
        .cloned()
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

#[test]
fn parses_an_euc_kr_inform_and_verifies() {
    let n = Notification::parse(&body(&sign::sign_value(TID, "3001", KEY), "")).unwrap();
    assert_eq!(n.pay_method, PayMethod::Card);
    assert_eq!(n.name.as_deref(), Some("홍길동"));
    assert_eq!(n.goods_name.as_deref(), Some("테스트 상품"));
    assert_eq!(n.result_msg, "카드 결제 성공");
    assert_eq!(n.fn_name.as_deref(), Some("삼성"));
    assert_eq!(n.mall_user_id, None, "blank optional fields are absent");
    assert_eq!(n.state_cd, StateCd::Approval);
    assert_eq!(n.amt, 1004);
    assert!(n.verify(KEY));
    assert_eq!(n.dedupe_key(), format!("{TID}|0|3001|1004"));
}

#[test]
fn valid_body_with_bad_sign_value_parses_but_does_not_verify() {
    let n = Notification::parse(&body("N2EyYzQyMzNmYzNjNGZmN2JlZjBiMGQ3MzM3OWFhNjQ=", "")).unwrap();
    assert!(n.verify(KEY));
    let forged = sign::sign_value(TID, "3001", "someone else's key");
    let n = Notification::parse(&body(&forged, "")).unwrap();
    assert!(!n.verify(KEY));
}

#[test]
fn missing_required_fields_are_named() {
    for field in [
        "MID",
        "TID",
        "ResultCode",
        "Amt",
        "StateCd",
        "SignValue",
        "OID",
    ] {
        let e = Notification::parse(&body("x", field)).unwrap_err();
        assert_eq!(e, ParseError::Missing(field));
    }
}

#[test]
fn malformed_state_and_amount() {
    let b = String::from_utf8(body("x", "")).unwrap();
    let e = Notification::parse(b.replace("StateCd=0", "StateCd=AB").as_bytes()).unwrap_err();
    assert_eq!(e.field(), "StateCd");
    let e = Notification::parse(b.replace("Amt=1004", "Amt=10O4").as_bytes()).unwrap_err();
    assert_eq!(e.field(), "Amt");
}

#[test]
fn a_nul_character_anywhere_is_malformed() {
    let b = String::from_utf8(body("x", "")).unwrap();
    for (from, to, field) in [
        ("OID=ORD20260101001", "OID=ORD%00", "OID"),
        ("ResultMsg=", "ResultMsg=%00", "ResultMsg"),
        ("CardQuota=00", "CardQuota=00&Future=%00", "form"),
        ("CardQuota=00", "CardQuota=00&Fu%00ture=1", "form"),
    ] {
        let e = Notification::parse(b.replacen(from, to, 1).as_bytes()).unwrap_err();
        assert_eq!(e.field(), field, "{to}: {e}");
        assert!(!e.to_string().contains('\0'), "{e:?}");
    }
}

#[test]
fn sandbox_body_round_trips_and_is_euc_kr() {
    let mut n = Notification::parse(&body(&sign::sign_value(TID, "3001", KEY), "")).unwrap();
    n.state_cd = StateCd::CancelBeforeSettlement;
    n.extra.insert("Future".into(), "값 1+1".into());
    let bytes = n.to_form_body();
    assert!(String::from_utf8(bytes.clone())
        .unwrap()
        .contains("Name=%C8%AB%B1%E6%B5%BF"));
    assert_eq!(Notification::parse(&bytes).unwrap(), n);
}

#[test]
fn utf8_inform_also_parses() {
    let b = String::from_utf8(body("x", "")).unwrap().replace(
        &format!("Name={}", euc("홍길동")),
        "Name=%ED%99%8D%EA%B8%B8%EB%8F%99",
    );
    assert_eq!(
        Notification::parse(b.as_bytes()).unwrap().name.as_deref(),
        Some("홍길동")
    );
}
