//! Every parser takes arbitrary bytes and answers with a value or a typed error, never a panic.

use proptest::prelude::*;
use smartro::cancel::{CancelRequest, CancelResponse};
use smartro::divide::DivideInfo;
use smartro::form::{decode_text, decode_url_encoded_text, RawForm};
use smartro::notification::Notification;
use smartro::receipt::Receipt;
use smartro::request::PaymentRequest;
use smartro::result::PaymentResult;

/// Raw bytes, and bytes built from the pieces forms are made of, so that field names and escapes actually occur.
fn inputs() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"&".to_vec()),
        Just(b"=".to_vec()),
        Just(b"%".to_vec()),
        Just(b"%C8%AB".to_vec()),
        Just(b"%ED%99%8D".to_vec()),
        Just(b"%25".to_vec()),
        Just(b"+".to_vec()),
        Just(b"TID=".to_vec()),
        Just(b"Amt=".to_vec()),
        Just(b"CancelAmt=".to_vec()),
        Just(b"ResultCode=".to_vec()),
        Just(b"StateCd=".to_vec()),
        Just(b"SignValue=".to_vec()),
        Just(b"DivideInfo=".to_vec()),
        Just(b"MID=".to_vec()),
        Just(b"OID=".to_vec()),
        Just(b"PartialCancelCode=".to_vec()),
        Just(b"hashData=".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        Just("가".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..8),
    ];
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec(piece, 0..40).prop_map(|p| p.concat()),
    ]
}

fn json_inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..128),
        "\\{(\"(tid|goodsAmt|partCancelInfo|merchantInfo|x)\":(1|-1\\.5|\"s\"|null|true|\\[\\]|\\{\\}|\\[\\{\\}\\]|\\{\"coNo\":1\\}),?){0,6}\\}"
            .prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn form_codec(bytes in inputs()) {
        let form = RawForm::parse(&bytes);
        for (name, value) in form.iter() {
            let _ = (name.len(), decode_text(value), decode_url_encoded_text(value));
        }
    }

    #[test]
    fn payment_result(bytes in inputs()) {
        if let Ok(r) = PaymentResult::parse(&bytes) {
            let _ = (r.verify("k"), r.is_success());
        }
    }

    #[test]
    fn notification(bytes in inputs()) {
        if let Ok(n) = Notification::parse(&bytes) {
            let _ = (n.verify("k"), n.dedupe_key(), n.to_form_body());
        }
    }

    #[test]
    fn cancel_request(bytes in inputs()) {
        if let Ok((r, _)) = CancelRequest::from_form(&RawForm::parse(&bytes)) {
            let _ = r.to_form_body("k");
        }
    }

    #[test]
    fn cancel_response(bytes in inputs()) {
        if let Ok(r) = CancelResponse::parse(&bytes) {
            let _ = (r.is_success(), r.to_body());
        }
    }

    #[test]
    fn payment_request(bytes in inputs()) {
        if let Ok((r, edi, _)) = PaymentRequest::from_form(&RawForm::parse(&bytes)) {
            let _ = r.validate();
            let _ = r.to_form_fields(&edi, "k");
        }
    }

    #[test]
    fn divide_info(bytes in inputs()) {
        let _ = DivideInfo::decode(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn receipt_json(bytes in json_inputs()) {
        if let Ok(r) = Receipt::parse(&bytes) {
            let _ = serde_json::to_vec(&r);
        }
    }
}
