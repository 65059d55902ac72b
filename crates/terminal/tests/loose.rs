//! Answers whose text fields come as `null` or numbers (one firmware's typing, not the seed's) still decode, so
//! that the gateway can apply them; encoding stays the seed's (strings).

use proptest::prelude::*;
use serde_json::{json, Value};
use smartro_terminal::*;

fn decode(message_type: MessageType, body: &Value) -> Result<Response, MessageError> {
    Response::from_frame(&Frame::new(message_type, body.to_string().into_bytes()))
}

fn card_approval(body: &Value) -> Reply<TransactionData> {
    match decode(MessageType::CardApproval, body).expect("decodes") {
        Response::CardApproval(r) => r,
        other => panic!("not a card approval: {other:?}"),
    }
}

#[test]
fn null_result_message_is_empty() {
    let r = card_approval(&json!({
        "resultCode": "0000",
        "resultMessage": null,
        "data": {"approvalNo": "30001234", "transactionNo": "1", "approvalAmt": 7000,
                 "transactionDate": "20261202120000", "ptxid": "CPOS-1"}
    }));
    assert!(r.result_code.is_success());
    assert_eq!(r.result_message, "");
    assert_eq!(r.data.unwrap().approval_no.as_deref(), Some("30001234"));
}

#[test]
fn numeric_numbers_are_their_decimal_text() {
    let r = card_approval(&json!({
        "resultCode": "0000",
        "resultMessage": 0,
        "data": {"approvalNo": 30001234, "transactionNo": 17, "approvalAmt": 7000,
                 "transactionDate": 20261202120000u64, "ptxid": 42, "issuerCode": 4,
                 "acquirerCode": 11, "merchantCode": 123456, "issuerName": null,
                 "maskedTrackData": null, "serviceCode": null, "receiptTitle": null}
    }));
    assert_eq!(r.result_message, "0");
    let d = r.data.unwrap();
    assert_eq!(d.approval_no.as_deref(), Some("30001234"));
    assert_eq!(d.transaction_no.as_deref(), Some("17"));
    assert_eq!(d.transaction_date.as_deref(), Some("20261202120000"));
    assert_eq!(d.ptxid.as_deref(), Some("42"));
    assert_eq!(d.issuer_code.as_deref(), Some("4"));
    assert_eq!(d.acquirer_code.as_deref(), Some("11"));
    assert_eq!(d.merchant_code.as_deref(), Some("123456"));
    assert_eq!(d.issuer_name, None);
    assert_eq!(d.masked_track_data, None);
    // `null` keeps the kind judgement: a null serviceCode is no easy pay.
    assert_eq!(d.kind(), TransactionKind::Card);
}

#[test]
fn numeric_result_codes_keep_their_four_digits() {
    for (sent, code) in [
        (json!(0), ResultCode::Success),
        (json!(10), ResultCode::SignatureWait),
        (json!(1), ResultCode::Busy),
        (json!(9999), ResultCode::Cancelled),
        (json!(9991), ResultCode::Unable),
        (json!(8001), ResultCode::Other("8001".into())),
        (json!(12345), ResultCode::Other("12345".into())),
        (json!(-1), ResultCode::Other("-1".into())),
    ] {
        let r = card_approval(&json!({"resultCode": sent, "resultMessage": "m"}));
        assert_eq!(r.result_code, code, "resultCode {sent}");
    }
}

#[test]
fn null_or_missing_result_code_is_still_an_error() {
    // Neither success nor refusal: must not be taken for either.
    assert!(decode(MessageType::CardApproval, &json!({"resultCode": null})).is_err());
    assert!(decode(MessageType::CardApproval, &json!({"resultMessage": "x"})).is_err());
    assert!(decode(MessageType::CardApproval, &json!({"resultCode": 0.5})).is_err());
}

#[test]
fn fractions_are_not_text() {
    // A float has already lost digits: an approval number read from one could be wrong.
    let err = decode(
        MessageType::CardApproval,
        &json!({"resultCode": "0000", "data": {"approvalNo": 3.5}}),
    );
    assert!(err.is_err());
}

#[test]
fn encoding_a_loosely_read_answer_sends_strings() {
    let r = card_approval(&json!({
        "resultCode": 0,
        "resultMessage": null,
        "data": {"approvalNo": 30001234, "transactionNo": 17, "ptxid": "CPOS-1"}
    }));
    let bytes = Response::CardApproval(r).encode().unwrap();
    let body: Value = serde_json::from_slice(&bytes[HEADER_LEN..]).unwrap();
    assert_eq!(
        body,
        json!({"resultCode": "0000", "resultMessage": "",
               "data": {"approvalNo": "30001234", "transactionNo": "17", "ptxid": "CPOS-1"}})
    );
}

#[test]
fn last_transaction_read_cancel_totals_codes_and_tax_refunds_read_loosely() {
    match decode(
        MessageType::LastTransaction,
        &json!({"resultCode": "0000", "resultMessage": null, "data": {"ptxid": null, "approvalNo": 5}}),
    )
    .unwrap()
    {
        Response::LastTransaction(r) => {
            let d = r.data.unwrap();
            assert_eq!(d.ptxid, None);
            assert_eq!(d.approval_no.as_deref(), Some("5"));
        }
        other => panic!("{other:?}"),
    }
    match decode(
        MessageType::CardReadCancel,
        &json!({"resultCode": "0000", "resultMessage": null, "data": {"ptxid": 77}}),
    )
    .unwrap()
    {
        Response::ReadCancel(_, r) => assert_eq!(r.data.unwrap().ptxid.as_deref(), Some("77")),
        other => panic!("{other:?}"),
    }
    match decode(
        MessageType::SalesTotals,
        &json!({"resultCode": 0, "resultMessage": null, "period": 20261202}),
    )
    .unwrap()
    {
        Response::SalesTotals(r) => {
            assert!(r.result_code.is_success());
            assert_eq!(r.result_message, "");
            assert_eq!(r.period.as_deref(), Some("20261202"));
        }
        other => panic!("{other:?}"),
    }
    match decode(
        MessageType::CodeDownload,
        &json!({"resultCode": "0000", "resultMessage": "ok", "data": {"totalCount": 1,
                "codeList": [{"code": 4, "codeName": null, "groupCode": 1, "groupCodeName": "카드사"}]}}),
    )
    .unwrap()
    {
        Response::CodeDownload(r) => {
            let e = &r.data.unwrap().code_list[0];
            assert_eq!(
                (e.code.as_str(), e.code_name.as_str(), e.group_code.as_str()),
                ("4", "", "1")
            );
        }
        other => panic!("{other:?}"),
    }
    match decode(
        MessageType::TaxRefundIssue,
        &json!({"resultCode": "0000", "resultMessage": null, "data": {"taxrefundSerial": 123456789,
                "refundDate": 20261202, "message0": null, "resCode": 0}}),
    )
    .unwrap()
    {
        Response::TaxRefundIssue(r) => {
            let d = r.data.unwrap();
            assert_eq!(d.taxrefund_serial.as_deref(), Some("123456789"));
            assert_eq!(d.refund_date.as_deref(), Some("20261202"));
            assert_eq!(d.message0, None);
            assert_eq!(d.res_code.as_deref(), Some("0"));
        }
        other => panic!("{other:?}"),
    }
    match decode(
        MessageType::Print,
        &json!({"resultCode": "0000", "resultMessage": null}),
    )
    .unwrap()
    {
        Response::Print(r) => assert_eq!(r.result_message, ""),
        other => panic!("{other:?}"),
    }
}

/// The text fields of a transaction's `data` the gateway reads, by their wire names.
const TEXT_FIELDS: [&str; 8] = [
    "approvalNo",
    "transactionNo",
    "transactionDate",
    "ptxid",
    "issuerCode",
    "acquirerCode",
    "merchantCode",
    "serviceCode",
];

proptest! {
    /// Any mix of strings, numbers and nulls in the text fields decodes: a number as its decimal digits, a
    /// string as itself, null as absent; and the re-encoded answer carries strings only.
    #[test]
    fn text_fields_take_strings_numbers_and_null(
        code in prop_oneof![
            "[0-9]{4}".prop_map(Value::from),
            (0u64..100_000).prop_map(Value::from),
        ],
        message in prop_oneof![Just(Value::Null), "[가-힣a-z ]{0,8}".prop_map(Value::from), any::<i64>().prop_map(Value::from)],
        values in prop::collection::vec(
            prop_oneof![
                Just(Value::Null),
                "[0-9A-Z]{1,20}".prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
            ],
            TEXT_FIELDS.len(),
        ),
    ) {
        let data: serde_json::Map<String, Value> =
            TEXT_FIELDS.iter().map(|f| f.to_string()).zip(values.iter().cloned()).collect();
        let body = json!({"resultCode": code, "resultMessage": message, "data": data});
        let r = card_approval(&body);

        let expected_code = match &code {
            Value::Number(n) => format!("{:04}", n.as_u64().unwrap()),
            other => other.as_str().unwrap().to_string(),
        };
        prop_assert_eq!(r.result_code.as_str(), expected_code.as_str());
        let expected_message = match &message {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        prop_assert_eq!(&r.result_message, &expected_message);

        let d = r.data.clone().unwrap();
        let got = [
            &d.approval_no, &d.transaction_no, &d.transaction_date, &d.ptxid,
            &d.issuer_code, &d.acquirer_code, &d.merchant_code, &d.service_code,
        ];
        for (value, got) in values.iter().zip(got) {
            let expected = match value {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                other => Some(other.to_string()),
            };
            prop_assert_eq!(got, &expected);
        }

        // Re-encoded: every text a string, and decoding that gives the same answer back.
        let bytes = Response::CardApproval(r.clone()).encode().unwrap();
        let sent: Value = serde_json::from_slice(&bytes[HEADER_LEN..]).unwrap();
        prop_assert!(sent["resultCode"].is_string());
        prop_assert!(sent["resultMessage"].is_string());
        for f in TEXT_FIELDS {
            prop_assert!(sent["data"][f].is_null() || sent["data"][f].is_string(), "{} not text: {}", f, sent);
        }
        prop_assert_eq!(card_approval(&sent), r);
    }
}
