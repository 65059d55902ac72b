#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::cancel::CancelRequest;
use smartro::form::RawForm;

fuzz_target!(|data: &[u8]| {
    if let Ok((req, _hash)) = CancelRequest::from_form(&RawForm::parse(data)) {
        let _ = req.to_form_body("key");
    }
});
