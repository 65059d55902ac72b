#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::receipt::Receipt;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Receipt::parse(data) {
        let _ = serde_json::to_vec(&r);
    }
});
