use std::collections::BTreeMap;

use proptest::prelude::*;
use smartro::cancel::{validate_cancel_msg, CancelRequest, CancelResponse};
use smartro::divide::{DivideEntry, DivideInfo};
use smartro::form::RawForm;
use smartro::sign;
use smartro::{ParseError, RequestErrorKind};

const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";
const TID: &str = "SMTPAY001m01012203101503424338";

fn full_cancel() -> CancelRequest {
    CancelRequest {
        tid: TID.into(),
        cancel_pw: "123456".into(),
        cancel_amt: 1004,
        cancel_msg: "고객 요청".into(),
        partial: false,
        merchant_mode: None,
        divide_info: None,
    }
}

#[test]
fn the_cancel_message_must_be_encodable_in_euc_kr() {
    assert_eq!(validate_cancel_msg("고객 요청 (refund)"), Ok(()));
    let e = validate_cancel_msg("고객 요청 🙏").unwrap_err();
    assert_eq!(e.field, "CancelMSG");
    assert_eq!(e.kind, RequestErrorKind::NotEucKr);
    let mut c = full_cancel();
    c.cancel_msg = "고객 요청 🙏".into();
    assert_eq!(c.validate().unwrap_err().kind, RequestErrorKind::NotEucKr);
    assert!(c.to_form_body(KEY).is_err(), "never sent as &#128591;");
    let e = validate_cancel_msg(&"가".repeat(34)).unwrap_err();
    assert_eq!(e.kind, RequestErrorKind::Invalid);
}

#[test]
fn body_carries_hash_data_of_the_worked_example() {
    let body = full_cancel().to_form_body(KEY).unwrap();
    let form = RawForm::parse(body.as_bytes());
    assert_eq!(
        form.get_text("hashData").as_deref(),
        Some("NWE1YTViMDM1ODFjOWRiZjNhYTFiMzQxZWE3NjY3Mjc=")
    );
    assert_eq!(form.get_text("PartialCancelCode").as_deref(), Some("0"));
    assert_eq!(form.get_text("CancelAmt").as_deref(), Some("1004"));
    // CancelMSG is EUC-KR URL-encoded before the form encoding: 고객 = B0ED B0B4.
    assert_eq!(
        form.get_text("CancelMSG").as_deref(),
        Some("%B0%ED%B0%B4%20%BF%E4%C3%BB")
    );
}

#[test]
fn from_form_undoes_the_double_encoding_and_checks_hash() {
    let req = full_cancel();
    let body = req.to_form_body(KEY).unwrap();
    let (parsed, hash) = CancelRequest::from_form(&RawForm::parse(body.as_bytes())).unwrap();
    assert_eq!(parsed, req);
    assert!(sign::verify_hash_data(
        &parsed.tid,
        KEY,
        parsed.cancel_amt,
        parsed.partial,
        &hash
    ));
}

#[test]
fn from_form_accepts_the_php_sample_and_single_encoding() {
    // PHP: urlencode(iconv('UTF-8','EUC-KR','고객 요청')) = %B0%ED%B0%B4+%BF%E4%C3%BB, then form-encoded again.
    let php = "TID=T&Cancelpw=123456&CancelAmt=1&PartialCancelCode=0&hashData=h&CancelMSG=%25B0%25ED%25B0%25B4%2B%25BF%25E4%25C3%25BB";
    let (r, _) = CancelRequest::from_form(&RawForm::parse(php.as_bytes())).unwrap();
    assert_eq!(r.cancel_msg, "고객 요청");
    let single = "TID=T&Cancelpw=123456&CancelAmt=1&PartialCancelCode=0&hashData=h&CancelMSG=%B0%ED%B0%B4+%BF%E4%C3%BB";
    let (r, _) = CancelRequest::from_form(&RawForm::parse(single.as_bytes())).unwrap();
    assert_eq!(r.cancel_msg, "고객 요청");
    let ascii_php =
        "TID=T&Cancelpw=1&CancelAmt=1&PartialCancelCode=1&hashData=h&CancelMSG=changed%2Bmind";
    let (r, _) = CancelRequest::from_form(&RawForm::parse(ascii_php.as_bytes())).unwrap();
    assert_eq!(r.cancel_msg, "changed mind");
    assert!(r.partial);
}

#[test]
fn from_form_names_missing_and_malformed_fields() {
    let e = CancelRequest::from_form(&RawForm::parse(
        b"Cancelpw=1&CancelAmt=1&PartialCancelCode=0&hashData=h",
    ))
    .unwrap_err();
    assert_eq!(e, ParseError::Missing("TID"));
    let e = CancelRequest::from_form(&RawForm::parse(
        b"TID=T&Cancelpw=1&CancelAmt=1&PartialCancelCode=0",
    ))
    .unwrap_err();
    assert_eq!(e, ParseError::Missing("hashData"));
    let e = CancelRequest::from_form(&RawForm::parse(
        b"TID=T&Cancelpw=1&CancelAmt=1e3&PartialCancelCode=0&hashData=h",
    ))
    .unwrap_err();
    assert_eq!(e.field(), "CancelAmt");
    let e = CancelRequest::from_form(&RawForm::parse(
        b"TID=T&Cancelpw=1&CancelAmt=1&PartialCancelCode=2&hashData=h",
    ))
    .unwrap_err();
    assert_eq!(e.field(), "PartialCancelCode");
    let e = CancelRequest::from_form(&RawForm::parse(
        b"TID=T&Cancelpw=1&CancelAmt=1&PartialCancelCode=1&hashData=h&DivideInfo=%%%",
    ))
    .unwrap_err();
    assert_eq!(e.field(), "DivideInfo");
}

#[test]
fn validation_rules() {
    let check = |f: &dyn Fn(&mut CancelRequest), field: &str| {
        let mut r = full_cancel();
        f(&mut r);
        assert_eq!(r.to_form_body(KEY).unwrap_err().field, field);
    };
    check(&|r| r.cancel_amt = 0, "CancelAmt");
    check(&|r| r.cancel_amt = -1004, "CancelAmt");
    check(&|r| r.cancel_pw = String::new(), "Cancelpw");
    check(&|r| r.cancel_pw = "p".repeat(21), "Cancelpw");
    check(&|r| r.cancel_msg = "취".repeat(34), "CancelMSG"); // 102 bytes
    check(&|r| r.tid = String::new(), "TID");
    check(&|r| r.merchant_mode = Some("X".into()), "MerchantMode");
    let mut r = full_cancel();
    r.cancel_msg = "취".repeat(33); // 99 bytes
    assert!(r.to_form_body(KEY).is_ok());
}

#[test]
fn sub_mall_partial_cancel_sends_divide_info_without_goods_names() {
    let mut r = full_cancel();
    r.partial = true;
    r.cancel_amt = 502;
    r.merchant_mode = Some("T".into());
    r.divide_info = Some(DivideInfo {
        entries: vec![DivideEntry {
            amt: 500,
            mid: "SMTSUB002m".into(),
            goods_name: Some("상품1".into()),
        }],
    });
    assert_eq!(r.to_form_body(KEY).unwrap_err().field, "DivideInfo");
    if let Some(d) = r.divide_info.as_mut() {
        d.entries[0].amt = 502;
    }
    let body = r.to_form_body(KEY).unwrap();
    let (parsed, hash) = CancelRequest::from_form(&RawForm::parse(body.as_bytes())).unwrap();
    assert_eq!(
        parsed.divide_info.as_ref().unwrap().entries[0].goods_name,
        None
    );
    assert_eq!(parsed.merchant_mode.as_deref(), Some("T"));
    assert!(sign::verify_hash_data(TID, KEY, 502, true, &hash));
}

fn euc(s: &str) -> String {
    encoding_rs::EUC_KR
        .encode(s)
        .0
        .iter()
        .map(|b| format!("%{b:02X}"))
        .collect()
}

#[test]
fn parses_an_euc_kr_response_with_ptid_and_surrounding_whitespace() {
    let body = format!(
        "\r\n\r\n  PayMethod=CARD&PayName={}&MID=SMTPAY001m&TID={TID}&CancelAmt=500&CancelMSG={}&ResultCode=2001&ResultMsg={}&CancelDate=20260101&CancelTime=120000&CancelNum=12345678&Moid=ORD1&PTID=SMTPAY001m01012601011200000001\r\n\n",
        euc("신용카드"),
        euc("고객 요청"),
        euc("취소 성공"),
    );
    let r = CancelResponse::parse(body.as_bytes()).unwrap();
    assert_eq!(r.pay_method.as_deref(), Some("CARD"));
    assert_eq!(r.pay_name.as_deref(), Some("신용카드"));
    assert_eq!(r.cancel_msg.as_deref(), Some("고객 요청"));
    assert_eq!(r.result_msg, "취소 성공");
    assert_eq!(r.cancel_amt, Some(500));
    assert_eq!(r.ptid.as_deref(), Some("SMTPAY001m01012601011200000001"));
    assert_eq!(r.tid.as_deref(), Some(TID));
    assert!(r.is_success());
}

#[test]
fn response_success_codes_and_errors() {
    for (code, ok) in [
        ("2001", true),
        ("2211", true),
        ("2013", true),
        ("2012", false),
        ("2032", false),
        // Toss (seed 000 §13): TS20 결제환불 성공 is a cancel; TS21 (refund failed) and TS22 (amount that cannot
        // be partially cancelled) are refusals.
        ("TS20", true),
        ("TS21", false),
        ("TS22", false),
        ("TS10", false),
    ] {
        let r = CancelResponse::parse(format!("ResultCode={code}&ResultMsg=x").as_bytes()).unwrap();
        assert_eq!(r.is_success(), ok, "{code}");
    }
    assert_eq!(
        CancelResponse::parse(b"<html><body>error</body></html>").unwrap_err(),
        ParseError::Missing("ResultCode")
    );
    assert_eq!(
        CancelResponse::parse(b"ResultCode=2001&CancelAmt=five")
            .unwrap_err()
            .field(),
        "CancelAmt"
    );
}

#[test]
fn response_to_body_round_trips() {
    let r = CancelResponse {
        pay_method: Some("BANK".into()),
        pay_name: Some("계좌이체".into()),
        mid: Some("SMTPAY001m".into()),
        tid: Some(TID.into()),
        cancel_amt: Some(1004),
        cancel_msg: Some("전액 취소 100%".into()),
        result_code: "2211".into(),
        result_msg: "환불 성공".into(),
        cancel_date: Some("20260101".into()),
        cancel_time: Some("120000".into()),
        cancel_num: Some("00000001".into()),
        moid: Some("ORD1".into()),
        ptid: None,
        extra: BTreeMap::from([("New".to_string(), "값".to_string())]),
    };
    assert_eq!(CancelResponse::parse(&r.to_body()).unwrap(), r);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn cancel_message_round_trips(msg in "[가-힣a-zA-Z0-9 +%&=.,!?-]{0,30}", amt in 1i64..1_000_000_000, partial: bool) {
        let mut r = full_cancel();
        r.cancel_msg = msg;
        r.cancel_amt = amt;
        r.partial = partial;
        let body = r.to_form_body(KEY).unwrap();
        let (parsed, hash) = CancelRequest::from_form(&RawForm::parse(body.as_bytes())).unwrap();
        prop_assert!(sign::verify_hash_data(&parsed.tid, KEY, parsed.cancel_amt, parsed.partial, &hash));
        prop_assert_eq!(parsed, r);
    }
}
