#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::result::PaymentResult;
use smartro::types::EncodingType;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = PaymentResult::parse(data) {
        let _ = r.verify("key");
        let _ = r.to_form_body(EncodingType::Utf8, true);
    }
});
