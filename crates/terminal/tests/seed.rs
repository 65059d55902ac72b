//! The seed's own examples (seed 002, copied here so the tests stand on the repository alone): each decodes to
//! the typed message, and encodes back to the same JSON.

use serde_json::Value;
use smartro_terminal::*;

/// `(message type, example body)` of every request example in the seed that has a body.
const REQUESTS: &[(&str, &str)] = &[
    (
        "010010",
        r#"{"priceAmt": 0, "taxAmt": 0, "tipAmt": 0, "taxFreeAmt": 0, "installment": 0, "ptxid": "string"}"#,
    ),
    (
        "010020",
        r#"{"approvalAmt": 0, "approvalNo": "string", "transactionDate": "string", "transactionNo": "string", "ptxid": "string"}"#,
    ),
    (
        "030010",
        r#"{ "serviceCode": "QRD", "priceAmt": 0, "taxAmt": 0, "tipAmt": 0, "taxFreeAmt": 0, "installment": 0, "ptxid": "string" }"#,
    ),
    (
        "030020",
        r#"{"approvalAmt": 0, "approvalNo": "string", "transactionDate": "string", "transactionNo": "string", "ptxid": "string"}"#,
    ),
    (
        "070010",
        r#"{"priceAmt": 0, "taxAmt": 0, "tipAmt": 0, "taxFreeAmt": 0, "traderType": "1", "approvalNumber": "string", "ptxid": "string"}"#,
    ),
    (
        "070020",
        r#"{"approvalAmt": 0, "approvalNo": "string", "transactionDate": "string", "transactionNo": "string", "traderType": "1", "approvalNumber": "string", "ptxid": "string"}"#,
    ),
    ("050099", r#"{"from": "20240101", "to": "20241231"}"#),
    (
        "900091",
        r#"{ "fontFamily": "Noto Sans Korean", "alert": true, "commands": [ { "command": "logo" }, { "command": "line" }, { "command": "cuttingLine" }, { "command": "br" }, { "command": "left", "fontSize": 20, "message": [ "left test 20px" ] }, { "command": "right", "fontSize": 20, "message": [ "right test 20px" ] }, { "command": "text2", "fontSize": 10, "message": [ "one", "two" ] }, { "command": "text3", "fontSize": 10, "message": [ "one", "two", "three" ] } ] }"#,
    ),
    (
        "050010",
        r#"{"taxRefundMode": "post", "paymentType": "card", "approvalAmt": 0, "salesSerial": 0, "qrServiceCode": "string", "ptxId": "string"}"#,
    ),
    (
        "050010",
        r#"{ "cardAmount": 50000, "cashAmount": 0, "etcAmount": 0, "salesSerial": "salesSerial or transactionNo", "facilitatorNumber": "0000000000" }"#,
    ),
    (
        "050010",
        r#"{ "salesSerial": "salesSerial or transactionNo" }"#,
    ),
    (
        "050010",
        r#"{ "checkIn": "240101", "checkOut": "241231", "salesSerial": "salesSerial or transactionNo" }"#,
    ),
    (
        "050020",
        r#"{ "taxRefundSerial": "80103750224020100017", "isPrint": "true", "ptxId": "abcd-efgcg-asdd-dawdad-dadw" }"#,
    ),
    (
        "900050",
        r#"{ "taxRefundSerial": "80103750224020100017", "isPrint": "true", "ptxId": "abcd-efgcg-asdd-dawdad-dadw" }"#,
    ),
];

const TX_DATA: &str = r#""approvalNo": "string", "transactionNo": "string", "merchantCode": "string", "installment": 0, "approvalAmt": 0, "tipAmt": 0, "taxAmt": 0, "taxFreeAmt": 0, "maskedTrackData": "string", "issuerCode": "string", "issuerName": "string", "acquirerCode": "string", "acquirerName": "string", "transactionDate": "string""#;

fn responses() -> Vec<(&'static str, String)> {
    let card = format!(
        r#"{{"resultCode": "string", "resultMessage": "string", "data": {{ {TX_DATA}, "ptxid": "string" }} }}"#
    );
    let easy = format!(
        r#"{{"resultCode": "string", "resultMessage": "string", "data": {{ {TX_DATA}, "pointAmt1": 0, "pointAmt2": 0, "pointAmt3": 0, "serviceCode": "string", "ptxid": "string" }} }}"#
    );
    let cash = r#"{"resultCode": "string", "resultMessage": "string", "data": {"approvalNo": "string", "transactionNo": "string", "approvalAmt": 0, "tipAmt": 0, "taxAmt": 0, "taxFreeAmt": 0, "maskedTrackData": "string", "transactionDate": "string", "receiptTitle": "string", "traderType": "1", "ptxid": "string"}}"#;
    let read_ok = r#"{ "resultCode": "0000", "resultMessage": "완료", "data": { "ptxid": "CPOS-c1e02447-50ad-4823-b505-eab86dfbfd1a" } }"#;
    let read_fail = r#"{ "resultCode": "9991", "resultMessage": "unable to proceed", "data": { "ptxid": "CPOS-c1e02447-50ad-4823-b505-eab86dfbfd1a" } }"#;
    let goods = r#"{ "resultCode": "string", "resultMessage": "string", "data": { "buyerCountry": "string", "buyerName": "string", "dutyFreeStoreNumber": "string", "message0": "string", "message1": "string", "message2": "string", "message3": "string", "passportSerial": "string", "refundBalance": 0, "refundDate": "string", "refundTime": "string", "refundSerial": "string", "taxrefundSerial": "string" } }"#;
    let medical = r#"{ "resultCode": "string", "resultMessage": "string", "data": { "buyerCountry": "string", "buyerName": "string", "cardAmount": 0, "cashAmount": 0, "etcAmount": 0, "facilitatorBusinessSerial": "string", "facilitatorMedicalSerial": "string", "facilitatorName": "string", "facilitatorSerial": "string", "passportSerial": "string", "price": 0, "refundBalance": 0, "refundDate": "string", "refundTime": "string", "refundSerial": "string", "resCode": "string", "resMessage": "string", "resMessageTaxrefund": "string" } }"#;
    let mut all = vec![
        ("010010", card.clone()),
        ("010020", card),
        ("010010", r#"{ "resultCode": "0010", "resultMessage": "서명대기", "data": { "ptxid": "string" } }"#.to_string()),
        ("010020", r#"{ "resultCode": "9999", "resultMessage": "서명시간초과", "data": { "ptxid": "string" } }"#.to_string()),
        ("030010", easy.clone()),
        ("030020", easy),
        ("070010", cash.to_string()),
        ("070020", cash.to_string()),
        ("050099", r#"{"resultCode": "string", "resultMessage": "string", "period": "string", "data": {"approved": {"count": 0, "price": 0, "issuer": 0}, "canceled": {"count": 0, "price": 0, "issuer": 0}}}"#.to_string()),
        ("980001", r#"{ "resultCode": "0000", "resultMessage": "end of transmission" }"#.to_string()),
        ("081008", r#"{ "resultCode": "0000", "resultMessage": "코드리스트 정상 조회", "data": { "totalCount": 0, "codeList": [ { "code": "AQ15", "codeName": "KT 포인트", "groupCode": "AG04", "groupCodeName": "국내포인트결제매입사" }, { "code": "AQ16", "codeName": "LG 포인트", "groupCode": "AG04", "groupCodeName": "국내포인트결제매입사" }, { "code": "CASH", "codeName": "현금영수증", "groupCode": "", "groupCodeName": "" } ] } }"#.to_string()),
        ("900091", r#"{ "resultCode": "0000", "resultMessage": "프린트 정상 출력" }"#.to_string()),
        ("555555", r#"{ "resultCode": "9999", "resultMessage": "사용자 취소" }"#.to_string()),
        ("555555", r#"{ "resultCode": "0001", "resultMessage": "처리중 입니다. 작업을 취소할 수 없습니다." }"#.to_string()),
    ];
    for t in ["910021", "930021", "970021"] {
        all.push((t, read_ok.to_string()));
        all.push((t, read_fail.to_string()));
    }
    for t in ["050010", "050020", "900050"] {
        all.push((t, goods.to_string()));
        all.push((t, medical.to_string()));
    }
    all
}

fn frame(message_type: &str, body: &str) -> Frame {
    let bytes = Frame::new(
        MessageType::from_digits(message_type.as_bytes()).unwrap_or(MessageType::Other(0)),
        body.as_bytes().to_vec(),
    )
    .encode()
    .unwrap_or_default();
    let mut decoder = FrameDecoder::new();
    decoder.push(&bytes);
    match decoder.next_frame() {
        Ok(Some(f)) => f,
        other => panic!("{message_type}: {other:?}"),
    }
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

#[test]
fn every_request_example_decodes_and_encodes_back_unchanged() {
    for (t, body) in REQUESTS {
        let f = frame(t, body);
        let request = Request::from_frame(&f);
        let Ok(request) = request else {
            panic!("{t}: {request:?}");
        };
        assert_eq!(request.message_type().code(), *t);
        assert!(!matches!(request, Request::Unknown(_)), "{t}");
        // Re-encoded without validation (the seed's placeholders have 0 amounts): the same JSON.
        let again = match &request {
            Request::CardApproval(r) => serde_json::to_vec(r),
            Request::CardCancel(r) | Request::EasyPayCancel(r) => serde_json::to_vec(r),
            Request::EasyPayApproval(r) => serde_json::to_vec(r),
            Request::CashReceiptIssue(r) => serde_json::to_vec(r),
            Request::CashReceiptCancel(r) => serde_json::to_vec(r),
            Request::SalesTotals(r) => serde_json::to_vec(r),
            Request::Print(r) => serde_json::to_vec(r),
            Request::TaxRefundIssue(r) => serde_json::to_vec(r),
            Request::TaxRefundCancel(r) | Request::TaxRefundInquiry(r) => serde_json::to_vec(r),
            other => panic!("{t}: {other:?}"),
        }
        .unwrap_or_default();
        assert_eq!(json(&again), json(body.as_bytes()), "{t}");
    }
}

#[test]
fn every_response_example_decodes_and_encodes_back_unchanged() {
    for (t, body) in responses() {
        let f = frame(t, &body);
        let response = Response::from_frame(&f);
        let Ok(response) = response else {
            panic!("{t}: {response:?}");
        };
        assert_eq!(response.message_type().code(), t);
        assert!(!matches!(response, Response::Unknown(_)));
        let again = response.to_frame().map(|f| f.body).unwrap_or_default();
        assert_eq!(json(&again), json(body.as_bytes()), "{t}");
    }
}

#[test]
fn header_only_requests_of_the_seed() {
    for (wire, expected) in [
        ("0006910021", Request::ReadCancel(ReadCancelKind::Card)),
        ("0006930021", Request::ReadCancel(ReadCancelKind::EasyPay)),
        (
            "0006970021",
            Request::ReadCancel(ReadCancelKind::CashReceipt),
        ),
        ("0006990001", Request::LastTransaction),
        ("0006980001", Request::ResultConfirmation),
        ("0006081008", Request::CodeDownload),
        ("0006555555", Request::Abort),
    ] {
        let mut d = FrameDecoder::new();
        d.push(wire.as_bytes());
        let f = d.next_frame();
        let Ok(Some(f)) = f else {
            panic!("{wire}: {f:?}")
        };
        assert_eq!(Request::from_frame(&f).as_ref(), Ok(&expected));
        assert_eq!(expected.encode().ok().as_deref(), Some(wire.as_bytes()));
        assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn typed_fields_of_the_examples() {
    let f = frame(
        "010010",
        r#"{ "resultCode": "0010", "resultMessage": "서명대기", "data": { "ptxid": "P-1" } }"#,
    );
    let r = Response::from_frame(&f);
    assert!(r.as_ref().is_ok_and(Response::is_interim), "{r:?}");
    assert_eq!(r.as_ref().ok().and_then(Response::ptxid), Some("P-1"));

    let f = frame("030010", &responses()[4].1);
    let Ok(Response::EasyPayApproval(reply)) = Response::from_frame(&f) else {
        panic!()
    };
    assert_eq!(reply.result_code, ResultCode::Other("string".into()));
    let data = reply.data.unwrap_or_default();
    assert_eq!(data.kind(), TransactionKind::EasyPay);
    assert_eq!(data.point_amt1, Some(0));

    let f = frame("070010", &responses()[6].1);
    let Ok(Response::CashReceiptIssue(reply)) = Response::from_frame(&f) else {
        panic!()
    };
    let data = reply.data.unwrap_or_default();
    assert_eq!(data.kind(), TransactionKind::CashReceipt);
    assert_eq!(data.trader_type, Some(TraderType::IncomeDeduction));

    let f = frame("081008", &responses()[10].1);
    let Ok(Response::CodeDownload(reply)) = Response::from_frame(&f) else {
        panic!()
    };
    let list = reply.data.unwrap_or_default();
    assert_eq!((list.total_count, list.code_list.len()), (Some(0), 3));
    assert_eq!(list.code_list[0].code_name, "KT 포인트");

    let f = frame(
        "555555",
        r#"{ "resultCode": "0001", "resultMessage": "처리중 입니다. 작업을 취소할 수 없습니다." }"#,
    );
    assert_eq!(
        Response::from_frame(&f)
            .ok()
            .as_ref()
            .and_then(Response::result_code),
        Some(&ResultCode::Busy)
    );

    let variants: Vec<TaxRefundVariant> = REQUESTS
        .iter()
        .filter(|(t, _)| *t == "050010")
        .filter_map(|(t, b)| match Request::from_frame(&frame(t, b)) {
            Ok(Request::TaxRefundIssue(r)) => Some(r.variant()),
            _ => None,
        })
        .collect();
    assert_eq!(
        variants,
        [
            TaxRefundVariant::T650p,
            TaxRefundVariant::Medical,
            TaxRefundVariant::Goods,
            TaxRefundVariant::Hotel
        ]
    );
    let Ok(Request::TaxRefundIssue(t650)) = Request::from_frame(&frame("050010", REQUESTS[8].1))
    else {
        panic!()
    };
    assert_eq!(t650.sales_serial, Some(TextOrNumber::Number(0)));

    let Ok(Request::TaxRefundCancel(c)) = Request::from_frame(&frame("050020", REQUESTS[12].1))
    else {
        panic!()
    };
    assert_eq!(c.is_print, Some(true));
}

#[test]
fn the_print_example_is_valid_and_bad_commands_are_refused() {
    let Ok(Request::Print(print)) = Request::from_frame(&frame("900091", REQUESTS[7].1)) else {
        panic!()
    };
    assert_eq!(print.commands.len(), 8);
    assert_eq!(print.commands[6].command, PrintCommandKind::Text2);
    assert!(Request::Print(print.clone()).encode().is_ok());

    let mut bad = print.clone();
    bad.commands[6].message.push("three".into());
    assert!(matches!(
        Request::Print(bad).encode(),
        Err(EncodeError::Invalid {
            field: "message",
            ..
        })
    ));
    let mut bad = print.clone();
    bad.commands[0].command = PrintCommandKind::Other("barcode".into());
    assert!(matches!(
        Request::Print(bad).encode(),
        Err(EncodeError::Invalid {
            field: "command",
            ..
        })
    ));
    let mut bad = print.clone();
    bad.commands[4].font_size = Some(500);
    assert!(matches!(
        Request::Print(bad).encode(),
        Err(EncodeError::Invalid {
            field: "fontSize",
            ..
        })
    ));
    let mut bad = print.clone();
    bad.commands[4].message = vec!["\u{1b}@".into()];
    assert!(matches!(
        Request::Print(bad).encode(),
        Err(EncodeError::Invalid {
            field: "message",
            ..
        })
    ));
    let mut bad = print;
    bad.commands.clear();
    assert!(matches!(
        Request::Print(bad).encode(),
        Err(EncodeError::Invalid {
            field: "commands",
            ..
        })
    ));
}

#[test]
fn the_seeds_990001_placeholder_has_no_result_code_and_is_refused() {
    let r = Response::from_frame(&frame("990001", "{}"));
    assert!(
        matches!(
            r,
            Err(MessageError::Malformed {
                message_type: MessageType::LastTransaction,
                ..
            })
        ),
        "{r:?}"
    );
    let r = Response::from_frame(&Frame::header_only(MessageType::LastTransaction));
    assert!(matches!(r, Err(MessageError::MissingBody { .. })), "{r:?}");
}

#[test]
fn unknown_fields_and_types_are_kept() {
    let body = r#"{"priceAmt": 1004, "ptxid": "P-9", "vanCode": "X1", "nested": {"a": [1, 2]}}"#;
    let Ok(Request::CardApproval(r)) = Request::from_frame(&frame("010010", body)) else {
        panic!()
    };
    assert_eq!((r.price_amt, r.tax_amt, r.installment), (1004, 0, 0));
    assert_eq!(r.extra.get("vanCode"), Some(&Value::from("X1")));
    let again = Request::CardApproval(r)
        .to_frame()
        .map(|f| f.body)
        .unwrap_or_default();
    assert_eq!(json(&again)["nested"]["a"][1], Value::from(2));

    let f = frame("123456", r#"{"what": 1}"#);
    assert_eq!(Request::from_frame(&f), Ok(Request::Unknown(f.clone())));
    assert_eq!(Response::from_frame(&f), Ok(Response::Unknown(f.clone())));
    assert_eq!(Response::Unknown(f.clone()).encode().ok(), f.encode().ok());

    let f = frame(
        "980001",
        r#"{"resultCode": "0000", "resultMessage": "end of transmission", "data": {"x": 1}, "at": "now"}"#,
    );
    let Ok(Response::ResultConfirmation(r)) = Response::from_frame(&f) else {
        panic!()
    };
    assert_eq!(r.extra.get("at"), Some(&Value::from("now")));
    assert_eq!(
        r.data.and_then(|d| d.get("x").cloned()),
        Some(Value::from(1))
    );
}

#[test]
fn result_codes_keep_unknown_values() {
    for (code, expected) in [
        ("0000", ResultCode::Success),
        ("0010", ResultCode::SignatureWait),
        ("9999", ResultCode::Cancelled),
        ("9991", ResultCode::Unable),
        ("0001", ResultCode::Busy),
        ("8326", ResultCode::Other("8326".into())),
    ] {
        assert_eq!(ResultCode::from(code), expected);
        assert_eq!(expected.as_str(), code);
        let parsed: Result<ResultCode, _> = serde_json::from_str(&format!("\"{code}\""));
        assert_eq!(parsed.ok(), Some(expected));
    }
}

#[test]
fn amounts_are_whole_non_negative_won() {
    let decode = |price: &str| {
        Request::from_frame(&frame(
            "010010",
            &format!(r#"{{"priceAmt": {price}, "ptxid": "P"}}"#),
        ))
        .map(|r| match r {
            Request::CardApproval(a) => a.price_amt,
            _ => -1,
        })
    };
    assert_eq!(decode("51000"), Ok(51000));
    assert_eq!(decode("\"51000\""), Ok(51000));
    for bad in [
        "-1",
        "1.5",
        "\"1,000\"",
        "\"\"",
        "1e3",
        "9999999999999999",
        "null",
        "true",
    ] {
        assert!(decode(bad).is_err(), "{bad}");
    }
    // Sent as JSON numbers.
    let bytes = Request::CardApproval(ApprovalRequest::new(51000, "P"))
        .encode()
        .unwrap_or_default();
    assert!(String::from_utf8_lossy(&bytes).contains("\"priceAmt\":51000"));
}

#[test]
fn requests_are_validated_before_they_are_sent() {
    let ok = ApprovalRequest::new(10_000, "CPOS-1");
    assert!(Request::CardApproval(ok.clone()).encode().is_ok());
    let field = |r: ApprovalRequest| match Request::CardApproval(r).encode() {
        Err(EncodeError::Invalid { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        field(ApprovalRequest {
            price_amt: 0,
            ..ok.clone()
        }),
        "priceAmt"
    );
    assert_eq!(
        field(ApprovalRequest {
            tax_amt: 20_000,
            ..ok.clone()
        }),
        "taxAmt"
    );
    assert_eq!(
        field(ApprovalRequest {
            tax_amt: 6_000,
            tax_free_amt: 6_000,
            ..ok.clone()
        }),
        "priceAmt"
    );
    assert_eq!(
        field(ApprovalRequest {
            installment: 1,
            ..ok.clone()
        }),
        "installment"
    );
    assert_eq!(
        field(ApprovalRequest {
            ptxid: String::new(),
            ..ok.clone()
        }),
        "ptxid"
    );
    assert_eq!(
        field(ApprovalRequest {
            ptxid: "a b".into(),
            ..ok
        }),
        "ptxid"
    );

    let totals = |from: &str, to: &str| Request::SalesTotals(TotalsRequest::new(from, to)).encode();
    assert!(totals("20240101", "20241231").is_ok());
    assert!(totals("20241231", "20240101").is_err());
    assert!(totals("2024011", "20240101").is_err());
    assert!(totals("20241301", "20241301").is_err());
}
