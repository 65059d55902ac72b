use smartro::divide::{DivideEntry, DivideInfo};
use smartro::ParseError;

fn two_subs() -> DivideInfo {
    DivideInfo {
        entries: vec![
            DivideEntry {
                amt: 502,
                mid: "SMTSUB002m".into(),
                goods_name: Some("상품1".into()),
            },
            DivideEntry {
                amt: 502,
                mid: "SMTSUB003m".into(),
                goods_name: Some("상품2".into()),
            },
        ],
    }
}

#[test]
fn encodes_the_manual_example_exactly() {
    // Manual §3.1.4, "Ex2" (line breaks of the PDF removed).
    let manual = "eyJEaXZpZGVJbmZvIjpbeyJBbXQiOiI1MDIiLCJNSUQiOiJTTVRTVUIwMDJtIiwiR29vZHNOYW1lIjoi7IOB7ZKIMSJ9LHsiQW10IjoiNTAyIiwiTUlEIjoiU01UU1VCMDAzbSIsIkdvb2RzTmFtZSI6IuyDge2SiDIifV19";
    assert_eq!(two_subs().encode(), manual);
    assert_eq!(DivideInfo::decode(manual).unwrap(), two_subs());
}

#[test]
fn decodes_the_manual_cancel_example_with_single_quotes() {
    // Manual §5.2.1: the cancel example is single-quoted pseudo-JSON, split over two lines in the PDF.
    let manual = "eydEaXZpZGVJbmZvJzpbeydBbXQnOic1MDInLCdNSUQnOidTTVRTVUIwMDJtJ30seyd\nBbXQnOic1MDInLCdNSUQnOidTTVRTVUIwMDNtJ31dfQ==";
    let d = DivideInfo::decode(manual).unwrap();
    assert_eq!(d, two_subs().without_goods_names());
    assert_eq!(d.total(), 1004);
}

#[test]
fn round_trip_and_total() {
    let d = two_subs();
    assert_eq!(DivideInfo::decode(&d.encode()).unwrap(), d);
    assert_eq!(d.total(), 1004);
}

#[test]
fn numeric_amounts_are_accepted() {
    use base64::Engine as _;
    let json = r#"{"DivideInfo":[{"Amt":700,"MID":"SMTSUB002m"}]}"#;
    let b64 = base64::engine::general_purpose::STANDARD.encode(json);
    assert_eq!(DivideInfo::decode(&b64).unwrap().total(), 700);
}

#[test]
fn malformed_inputs_are_typed_errors() {
    use base64::Engine as _;
    let enc = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    assert_eq!(
        DivideInfo::decode(""),
        Err(ParseError::Missing("DivideInfo"))
    );
    for bad in [
        "!!!not base64!!!".to_string(),
        enc("not json"),
        enc(r#"{"Other":[]}"#),
        enc(r#"{"DivideInfo":[]}"#),
        enc(r#"{"DivideInfo":[{"Amt":"5O2","MID":"SMTSUB002m"}]}"#),
        enc(r#"{"DivideInfo":[{"Amt":"-5","MID":"SMTSUB002m"}]}"#),
        enc(r#"{"DivideInfo":[{"Amt":"502"}]}"#),
        enc(r#"{"DivideInfo":[{"Amt":"502","MID":"SMTSUB002m","GoodsName":7}]}"#),
    ] {
        let e = DivideInfo::decode(&bad).unwrap_err();
        assert_eq!(e.field(), "DivideInfo", "{bad}: {e}");
    }
}
