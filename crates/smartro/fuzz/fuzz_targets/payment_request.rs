#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::form::RawForm;
use smartro::request::PaymentRequest;

fuzz_target!(|data: &[u8]| {
    if let Ok((req, edi_date, _encrypt_data)) = PaymentRequest::from_form(&RawForm::parse(data)) {
        let _ = req.validate();
        let _ = req.to_form_fields(&edi_date, "key");
    }
});
