#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::cancel::CancelResponse;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = CancelResponse::parse(data) {
        let _ = r.is_success();
        let _ = r.to_body();
    }
});
