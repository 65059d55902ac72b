#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::form::{decode_text, decode_url_encoded_text, RawForm};

fuzz_target!(|data: &[u8]| {
    let form = RawForm::parse(data);
    for (_, value) in form.iter() {
        let _ = decode_text(value);
        let _ = decode_url_encoded_text(value);
    }
});
