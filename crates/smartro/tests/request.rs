use smartro::divide::{DivideEntry, DivideInfo};
use smartro::form::{encode_form, Charset, RawForm};
use smartro::request::{
    user_ip_field, validate_moid, Escrow, PaymentRequest, IP_BYTES, PRODUCTINFO_SPLIT,
};
use smartro::sign;
use smartro::types::{EncodingType, PayMethod};
use smartro::RequestErrorKind;

const KEY: &str =
    "0/4GFsSd7ERVRGX9WHOzJ96GyeMTwvIaKSWUCKmN3fDklNRGw3CualCFoMPZaS99YiFGOuwtzTkrLo4bR4V+Ow==";

fn card() -> PaymentRequest {
    PaymentRequest::new(
        PayMethod::Card,
        "테스트 상품",
        1004,
        "ORD20260101001",
        "SMTPAY001m",
        "https://shop.example/return",
        "https://shop.example/retry",
        "홍길동",
        "010-1234-5678",
        "buyer@example.com",
    )
}

/// A change that spoils one field of a request.
type Edit = fn(&mut PaymentRequest);

fn field_of(r: &PaymentRequest) -> &'static str {
    r.validate().unwrap_err().field
}

#[test]
fn a_default_card_request_is_valid() {
    assert_eq!(card().validate(), Ok(()));
}

#[test]
fn goods_name_limit_counts_hangul_as_three_bytes() {
    let mut r = card();
    r.goods_name = "가".repeat(13) + "a"; // 40 bytes
    assert_eq!(r.validate(), Ok(()));
    r.goods_name = "가".repeat(14); // 42 bytes, 14 characters
    let e = r.validate().unwrap_err();
    assert_eq!(e.field, "GoodsName");
    assert_eq!(e.to_string(), "GoodsName: longer than 40 bytes");
}

#[test]
fn buyer_name_limit_is_30_bytes() {
    let mut r = card();
    r.buyer_name = "홍길동".repeat(3) + "가"; // 30 bytes
    assert_eq!(r.validate(), Ok(()));
    r.buyer_name.push('a');
    assert_eq!(field_of(&r), "BuyerName");
}

#[test]
fn moid_forbidden_characters() {
    assert_eq!(validate_moid("ORD-2026-0001"), Ok(()));
    for c in "~`':;{}[]<>,.!@#$%^&*()_+\\/?".chars() {
        let e = validate_moid(&format!("ORD{c}1")).unwrap_err();
        assert_eq!(e.field, "Moid", "{c}");
    }
    assert_eq!(validate_moid("ORD 1").unwrap_err().field, "Moid");
    assert_eq!(validate_moid("ORD\n1").unwrap_err().field, "Moid");
    assert_eq!(validate_moid(&"a".repeat(41)).unwrap_err().field, "Moid");
    assert_eq!(validate_moid("").unwrap_err().field, "Moid");
}

#[test]
fn amount_rules() {
    let mut r = card();
    r.amt = 0;
    assert_eq!(field_of(&r), "Amt");
    r.amt = -1;
    assert_eq!(field_of(&r), "Amt");
    r.amt = 1_000_000_000_000;
    assert_eq!(field_of(&r), "Amt");
    r.amt = 999_999_999_999;
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn vbank_needs_a_valid_expiry_date() {
    let mut r = card();
    r.pay_method = PayMethod::Vbank;
    assert_eq!(field_of(&r), "VbankExpDate");
    r.vbank_exp_date = Some("20260230".into());
    assert_eq!(field_of(&r), "VbankExpDate");
    r.vbank_exp_date = Some("2026-03-01".into());
    assert_eq!(field_of(&r), "VbankExpDate");
    r.vbank_exp_date = Some("20260301".into());
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn clgift_and_easy_pay_need_mall_user_id() {
    for method in [PayMethod::Clgift, PayMethod::Toss] {
        let mut r = card();
        r.pay_method = method;
        assert_eq!(field_of(&r), "mallUserID");
        r.mall_user_id = Some("user01".into());
        assert_eq!(r.validate(), Ok(()));
        r.mall_user_id = Some("u".repeat(21));
        assert_eq!(field_of(&r), "mallUserID");
    }
    let mut r = card();
    r.pay_method = PayMethod::Kakao;
    r.pay_type = Some("KPCD".into());
    assert_eq!(field_of(&r), "mallUserID");
}

#[test]
fn kakao_needs_pay_type() {
    let mut r = card();
    r.pay_method = PayMethod::Kakao;
    r.mall_user_id = Some("user01".into());
    assert_eq!(field_of(&r), "PayType");
    r.pay_type = Some("KPXX".into());
    assert_eq!(field_of(&r), "PayType");
    r.pay_type = Some("KPMY".into());
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn cellphone_needs_goods_cl() {
    let mut r = card();
    r.pay_method = PayMethod::Cellphone;
    assert_eq!(field_of(&r), "GoodsCl");
    r.goods_cl = Some("2".into());
    assert_eq!(field_of(&r), "GoodsCl");
    r.goods_cl = Some("0".into());
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn fn_cd_and_card_quota_go_together() {
    let mut r = card();
    r.fn_cd = Some("04".into());
    assert_eq!(field_of(&r), "CardQuota");
    r.card_quota = Some("3".into());
    assert_eq!(field_of(&r), "CardQuota");
    r.card_quota = Some("03".into());
    assert_eq!(r.validate(), Ok(()));
    r.fn_cd = None;
    assert_eq!(field_of(&r), "fn_cd");
}

#[test]
fn fn_cd_must_be_a_card_company_of_the_code_table() {
    let mut r = card();
    r.card_quota = Some("00".into());
    // 05 is missing from the table (삼성 04, 신한 06); 004 is a bank code, not a card company.
    for unknown in ["05", "004", "XX"] {
        r.fn_cd = Some(unknown.into());
        let e = r.validate().unwrap_err();
        assert_eq!(e.field, "fn_cd", "{unknown}");
        assert!(e.reason.contains("card company"), "{e}");
    }
    for known in ["01", "16", "46"] {
        r.fn_cd = Some(known.into());
        assert_eq!(r.validate(), Ok(()), "{known}");
    }
}

#[test]
fn escrow_delivery_code_must_be_a_courier_of_the_code_table() {
    let mut r = card();
    r.mid = "ECTEST001m".into();
    r.escrow = Some(Escrow {
        delivery_code: Some("99".into()),
        delivery_number: Some("123456789012".into()),
        receiver_name: Some("김철수".into()),
        ..Escrow::default()
    });
    assert_eq!(field_of(&r), "DeliveryCode");
    if let Some(e) = r.escrow.as_mut() {
        e.delivery_code = Some("05".into()); // 우체국택배
    }
    assert_eq!(r.validate(), Ok(()));
    // Without a courier (the delivery is registered later, in the merchant's back office) escrow is fine too.
    if let Some(e) = r.escrow.as_mut() {
        e.delivery_code = None;
    }
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn receipt_type_y_is_for_kakao_and_toss_only() {
    let mut r = card();
    r.receipt_type = Some(true);
    assert_eq!(field_of(&r), "ReceiptType");
    r.receipt_type = Some(false);
    assert_eq!(r.validate(), Ok(()));
    for method in [PayMethod::Kakao, PayMethod::Toss] {
        let mut r = card();
        r.pay_method = method;
        r.pay_type = Some("KPMY".into());
        r.mall_user_id = Some("user01".into());
        r.receipt_type = Some(true);
        assert_eq!(r.validate(), Ok(()));
    }
}

#[test]
fn productinfo_padj_and_divide_info_go_together() {
    let mut r = card();
    r.mid = "SMTSUB001m".into();
    r.productinfo = Some(PRODUCTINFO_SPLIT.into());
    assert_eq!(field_of(&r), "DivideInfo");
    r.divide_info = Some(DivideInfo {
        entries: vec![DivideEntry {
            amt: 1004,
            mid: "SMTSUB002m".into(),
            goods_name: Some("상품1".into()),
        }],
    });
    assert_eq!(r.validate(), Ok(()));
    r.productinfo = None;
    assert_eq!(field_of(&r), "Productinfo");
    r.productinfo = Some("other".into());
    assert_eq!(field_of(&r), "Productinfo");
    // Another Productinfo without a split is the merchant's business.
    r.divide_info = None;
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn divide_info_must_sum_to_amt() {
    let mut r = card();
    r.mid = "SMTSUB001m".into();
    r.productinfo = Some(PRODUCTINFO_SPLIT.into());
    r.divide_info = Some(DivideInfo {
        entries: vec![
            DivideEntry {
                amt: 502,
                mid: "SMTSUB002m".into(),
                goods_name: Some("상품1".into()),
            },
            DivideEntry {
                amt: 500,
                mid: "SMTSUB003m".into(),
                goods_name: Some("상품2".into()),
            },
        ],
    });
    let e = r.validate().unwrap_err();
    assert_eq!(e.field, "DivideInfo");
    assert!(e.reason.contains("1002"), "{e}");
    if let Some(d) = r.divide_info.as_mut() {
        d.entries[1].amt = 502;
    }
    assert_eq!(r.validate(), Ok(()));
}

#[test]
fn text_sent_in_euc_kr_must_be_encodable_in_it() {
    // Hangul, Hanja, ASCII and the symbols of KS X 1001 are in Windows-949; accented Latin letters are not.
    let mut r = card();
    r.goods_name = "테스트 商品 ① €·“”".into();
    r.buyer_addr = Some("서울시 강남구 테헤란로 1 (역삼동)".into());
    assert_eq!(r.validate(), Ok(()));

    let cases: [(&str, Edit); 7] = [
        ("GoodsName", |r| r.goods_name = "선물 😀".into()),
        ("GoodsName", |r| r.goods_name = "Café".into()),
        ("BuyerName", |r| r.buyer_name = "Nguyễn".into()),
        ("BuyerAddr", |r| r.buyer_addr = Some("서울 🏠".into())),
        ("BuyerEmail", |r| r.buyer_email = "b😀@example.com".into()),
        ("mallUserID", |r| r.mall_user_id = Some("user😀".into())),
        ("ReceiverName", |r| {
            r.escrow = Some(Escrow {
                receiver_name: Some("홍길동 🎁".into()),
                ..Escrow::default()
            })
        }),
    ];
    for (field, break_it) in cases {
        let mut r = card();
        break_it(&mut r);
        let e = r.validate().unwrap_err();
        assert_eq!(e.field, field);
        assert_eq!(e.kind, RequestErrorKind::NotEucKr, "{e}");
        assert!(e.reason.contains("U+"), "{e}");
        assert!(r.to_form_fields("20260101120000", KEY).is_err());
    }
    let mut r = card();
    r.goods_name = "선물 😀".into();
    assert_eq!(
        r.validate().unwrap_err().to_string(),
        "GoodsName: contains '😀' (U+1F600), which EUC-KR cannot encode"
    );
}

#[test]
fn contact_field_shapes() {
    let mut r = card();
    r.buyer_tel = "010 1234 5678".into();
    assert_eq!(field_of(&r), "BuyerTel");
    let mut r = card();
    r.buyer_email = "not-an-email".into();
    assert_eq!(field_of(&r), "BuyerEmail");
    let mut r = card();
    r.return_url = "ftp://shop.example/return".into();
    assert_eq!(field_of(&r), "ReturnURL");
    let mut r = card();
    r.retry_url = format!("https://shop.example/{}", "r".repeat(90));
    assert_eq!(field_of(&r), "RetryURL");
    let mut r = card();
    r.svc_amt = Some(-1);
    assert_eq!(field_of(&r), "SvcAmt");
    let mut r = card();
    r.offer_period = Some("2026010120251231".into());
    assert_eq!(field_of(&r), "OfferPeriod");
}

#[test]
fn form_fields_are_ordered_signed_and_complete() {
    let fields = card().to_form_fields("20260101120000", KEY).unwrap();
    let get = |n: &str| {
        fields
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(fields[0], ("PayMethod", "CARD".to_string()));
    assert_eq!(
        get("EncryptData"),
        Some("OTE4NzAxZDE5MDBjNjA4MzE2YWViYjBiN2NhNzgwNGI=")
    );
    assert_eq!(get("ediDate"), Some("20260101120000"));
    assert_eq!(get("TransType"), Some("0"));
    assert_eq!(get("SocketYN"), Some("N"));
    assert_eq!(get("EncodingType"), Some("utf8"));
    assert_eq!(get("UrlEncode"), Some("Y"));
    assert_eq!(get("FORWARD"), Some("Y"));
    assert_eq!(get("OfferPeriod"), Some(""));
    assert_eq!(get("VbankExpDate"), None);
    assert_eq!(get("DivideInfo"), None);
    assert_eq!(
        card().to_form_fields("2026-01-01", KEY).unwrap_err().field,
        "ediDate"
    );
    let mut bad = card();
    bad.goods_name.clear();
    assert_eq!(
        bad.to_form_fields("20260101120000", KEY).unwrap_err().field,
        "GoodsName"
    );
}

fn full_request() -> PaymentRequest {
    let mut r = card();
    r.mid = "SMTSUB001m".into();
    r.encoding_type = EncodingType::EucKr;
    r.buyer_addr = Some("서울시 중구 1-2".into());
    r.buyer_post_no = Some("04524".into());
    r.fn_cd = Some("04".into());
    r.card_quota = Some("00".into());
    r.svc_amt = Some(0);
    r.tax = Some(91);
    r.card_point = Some(false);
    r.escrow = Some(Escrow {
        receiver_name: Some("김철수".into()),
        delivery_code: Some("01".into()),
        ..Escrow::default()
    });
    r.productinfo = Some("padj".into());
    r.divide_info = Some(DivideInfo {
        entries: vec![DivideEntry {
            amt: 1004,
            mid: "SMTSUB002m".into(),
            goods_name: Some("상품1".into()),
        }],
    });
    r
}

#[test]
fn from_form_reads_back_an_euc_kr_submission() {
    let r = full_request();
    let fields = r.to_form_fields("20260101120000", KEY).unwrap();
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // What a browser submits from an EUC-KR page: real EUC-KR bytes, percent-encoded.
    let body = encode_form(&pairs, Charset::EucKr);
    assert!(body.contains("BuyerName=%C8%AB%B1%E6%B5%BF"));
    let (parsed, edi, enc) = PaymentRequest::from_form(&RawForm::parse(body.as_bytes())).unwrap();
    assert_eq!(parsed, r);
    assert_eq!(edi, "20260101120000");
    assert!(sign::verify_encrypt_data(
        &edi,
        &parsed.mid,
        parsed.amt,
        KEY,
        &enc
    ));
    assert_eq!(parsed.validate(), Ok(()));
}

#[test]
fn from_form_names_the_missing_or_malformed_field() {
    let fields = card().to_form_fields("20260101120000", KEY).unwrap();
    for (drop, expect) in [
        ("GoodsName", "GoodsName"),
        ("EncryptData", "EncryptData"),
        ("MID", "MID"),
        ("ediDate", "ediDate"),
    ] {
        let pairs: Vec<(&str, &str)> = fields
            .iter()
            .filter(|(k, _)| *k != drop)
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let body = encode_form(&pairs, Charset::Utf8);
        let e = PaymentRequest::from_form(&RawForm::parse(body.as_bytes())).unwrap_err();
        assert_eq!(e.field, expect);
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (*k, if *k == "Amt" { "1,004" } else { v.as_str() }))
        .collect();
    let body = encode_form(&pairs, Charset::Utf8);
    assert_eq!(
        PaymentRequest::from_form(&RawForm::parse(body.as_bytes()))
            .unwrap_err()
            .field,
        "Amt"
    );
}

#[test]
fn from_form_keeps_unknown_fields() {
    let fields = card().to_form_fields("20260101120000", KEY).unwrap();
    let mut pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.push(("FutureField", "값"));
    let body = encode_form(&pairs, Charset::Utf8);
    let (parsed, _, _) = PaymentRequest::from_form(&RawForm::parse(body.as_bytes())).unwrap();
    assert_eq!(
        parsed.extra,
        vec![("FutureField".to_string(), "값".to_string())]
    );
}

#[test]
fn every_buyer_address_makes_a_user_ip_that_fits() {
    for (buyer, sent) in [
        ("203.0.113.9", "203.0.113.9"),
        ("255.255.255.255", "255.255.255.255"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("64:ff9b::203.0.113.9", "203.0.113.9"),
        ("2001:db8::7", "2001:db8::7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"),
        ("2001:db8:1:2:3:4:5:67", "2001:db8:1:2::"),
        (
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "ffff:ffff:ffff::",
        ),
        (
            "2001:2d8:e22a:1b3f:4d5e:6f70:8192:a3b4",
            "2001:2d8:e22a:1b3f::",
        ),
    ] {
        let field = user_ip_field(buyer.parse().unwrap());
        assert_eq!(field, sent, "{buyer}");
        assert!(field.len() <= IP_BYTES);
        let mut req = PaymentRequest::new(
            PayMethod::Card,
            "상품",
            1004,
            "ORDER-1",
            "SMTPAY001m",
            "https://shop.example/return",
            "https://shop.example/inform",
            "홍길동",
            "01012345678",
            "buyer@example.com",
        );
        req.user_ip = field;
        req.mall_ip = "127.0.0.1".to_string();
        assert!(req.validate().is_ok(), "{buyer}");
    }
}
