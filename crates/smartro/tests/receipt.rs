use smartro::endpoints::{
    is_public_test_mid, public_test_key_owner, Endpoints, Environment, PRODUCTION_HOSTS,
    TEST_CANCEL_PASSWORD, TEST_HOSTS, TEST_MERCHANTS, TEST_SUB_MERCHANT_MIDS,
};
use smartro::receipt::{receipt_page_url, Receipt, ReceiptRequest};
use smartro::ParseError;

const SAMPLE: &str = r#"{
  "tid": "Dpay00001m02012101041423347943",
  "moid": "ORD-1",
  "stateCd": "0",
  "stateNm": "승인",
  "svcCd": "01",
  "svcNm": "신용카드",
  "ordNm": "홍길동",
  "goodsNm": "테스트 상품",
  "goodsAmt": 1004,
  "supplyAmt": "913",
  "vatAmt": 91,
  "svcAmt": 0,
  "appNo": "30001234",
  "appDt": "20210104",
  "appTm": "142334",
  "cardNo": "451842******1234",
  "instmntMon": "00",
  "cardCl": 0,
  "vacctNo": null,
  "brandNewField": {"nested": [1, 2]},
  "anotherNumber": 12.5,
  "partCancelInfo": [
    {"transDt": "20210105", "transTm": "101010", "transAmt": 500, "refundAmt": "500", "futureRefundFlag": true}
  ],
  "merchantInfo": {"coNo": "1234567890", "coNm": "스마트로", "bossNm": "대표", "name": "테스트몰", "addr": "서울", "tel": "02-000-0000"}
}"#;

#[test]
fn lenient_parse_keeps_numbers_as_strings_and_unknown_fields() {
    let r = Receipt::parse(SAMPLE.as_bytes()).unwrap();
    assert_eq!(r.tid.as_deref(), Some("Dpay00001m02012101041423347943"));
    assert_eq!(r.goods_amt.as_deref(), Some("1004"));
    assert_eq!(r.supply_amt.as_deref(), Some("913"));
    assert_eq!(r.vat_amt.as_deref(), Some("91"));
    assert_eq!(r.card_cl.as_deref(), Some("0"));
    assert_eq!(r.vacct_no, None);
    assert_eq!(r.goods_nm.as_deref(), Some("테스트 상품"));
    assert!(r.extra.contains_key("brandNewField"));
    assert!(r.extra.contains_key("anotherNumber"));
    assert_eq!(r.part_cancel_info.len(), 1);
    assert_eq!(r.part_cancel_info[0].trans_amt.as_deref(), Some("500"));
    assert!(r.part_cancel_info[0].extra.contains_key("futureRefundFlag"));
    let m = r.merchant_info.as_ref().unwrap();
    assert_eq!(m.co_nm.as_deref(), Some("스마트로"));
    assert!(m.extra.contains_key("tel"));
}

#[test]
fn receipt_round_trips_through_json() {
    let r = Receipt::parse(SAMPLE.as_bytes()).unwrap();
    let json = serde_json::to_vec(&r).unwrap();
    assert_eq!(Receipt::parse(&json).unwrap(), r);
}

#[test]
fn alternative_shapes_of_the_lists() {
    let r = Receipt::parse(
        br#"{"tid":"T1","partCancelInfo":{"transAmt":"1"},"merchantInfo":[{"coNo":"1"}]}"#,
    )
    .unwrap();
    assert_eq!(r.part_cancel_info.len(), 1);
    assert_eq!(r.merchant_info.unwrap().co_no.as_deref(), Some("1"));
    let r = Receipt::parse(br#"{"tid":"T1","partCancelInfo":null,"merchantInfo":null}"#).unwrap();
    assert!(r.part_cancel_info.is_empty());
    assert!(r.merchant_info.is_none());
}

#[test]
fn bad_receipts_are_typed_errors() {
    assert_eq!(
        Receipt::parse(br#"{"resultCode":"E01","resultMsg":"no data"}"#).unwrap_err(),
        ParseError::Missing("tid")
    );
    assert_eq!(Receipt::parse(b"<html>").unwrap_err().field(), "receipt");
    assert_eq!(Receipt::parse(b"[1,2]").unwrap_err().field(), "receipt");
    assert_eq!(
        Receipt::parse(br#"{"tid":{"a":1}}"#).unwrap_err().field(),
        "receipt"
    );
    assert_eq!(
        Receipt::parse(br#"{"tid":"T","partCancelInfo":"x"}"#)
            .unwrap_err()
            .field(),
        "receipt"
    );
}

#[test]
fn request_json_and_page_url() {
    let req = ReceiptRequest {
        mid: "SMTPAY001m".into(),
        tid: "T1".into(),
    };
    assert_eq!(
        serde_json::to_string(&req).unwrap(),
        r#"{"mid":"SMTPAY001m","tid":"T1"}"#
    );
    let test = Endpoints::for_environment(Environment::Test);
    assert_eq!(
        receipt_page_url(&test.receipt_page_url, "SMTPAY001m01012203101503424338", false),
        "https://test.smilepay.co.kr/issue/IssueLoader.jsp?TID=SMTPAY001m01012203101503424338&type=0"
    );
    assert!(
        receipt_page_url("https://x/IssueLoader.jsp?a=1", "T", true).ends_with("?a=1&TID=T&type=2")
    );
}

#[test]
fn endpoints_per_environment() {
    let prod = Endpoints::for_environment(Environment::Production);
    assert_eq!(prod.pay_url, "https://pay.smilepay.co.kr/interfaceURL.jsp");
    assert_eq!(
        prod.cancel_url,
        "https://pay.smilepay.co.kr/cancel/payCancelNVProcess.jsp"
    );
    assert_eq!(prod.receipt_api_url, "https://api.smilepay.co.kr/receipt");
    assert_eq!(prod.vbank_deposit_url, None);
    let test = Endpoints::for_environment(Environment::Test);
    assert_eq!(test.receipt_api_url, "https://tapi.smilepay.co.kr/receipt");
    assert!(test.vbank_deposit_url.is_some());
    assert_eq!(
        serde_json::to_string(&Environment::Production).unwrap(),
        "\"production\""
    );
    assert_eq!(TEST_MERCHANTS.len(), 4);
    assert_eq!(TEST_CANCEL_PASSWORD, "123456");
}

/// The host of an absolute https URL, for comparing with the host lists.
fn host(url: &str) -> &str {
    let rest = url.strip_prefix("https://").expect("an https URL");
    rest.split(['/', '?']).next().unwrap_or(rest)
}

#[test]
fn host_lists_cover_each_environment_and_never_overlap() {
    for env in [Environment::Test, Environment::Production] {
        let e = Endpoints::for_environment(env);
        let urls = [
            Some(&e.pay_url),
            Some(&e.cancel_url),
            Some(&e.receipt_api_url),
            Some(&e.receipt_page_url),
            e.vbank_deposit_url.as_ref(),
        ];
        for url in urls.into_iter().flatten() {
            assert!(env.hosts().contains(&host(url)), "{env:?}: {url}");
        }
    }
    assert!(TEST_HOSTS.iter().all(|h| !PRODUCTION_HOSTS.contains(h)));
}

#[test]
fn public_test_merchants_are_recognised() {
    for mid in [
        "SMTPAY001m",
        "SMTPAY002m",
        "ECTEST001m",
        "SMTSUB001m",
        "SMTSUB002m",
        "SMTSUB003m",
        "SMTSUB004m",
        "smtpay001M",
    ] {
        assert!(is_public_test_mid(mid), "{mid}");
    }
    assert_eq!(TEST_SUB_MERCHANT_MIDS.len(), 3);
    assert!(!is_public_test_mid("SMTPAY003m"));
    for (mid, key) in TEST_MERCHANTS {
        assert_eq!(public_test_key_owner(key), Some(*mid));
    }
    assert_eq!(public_test_key_owner("a-key-of-our-own"), None);
}
