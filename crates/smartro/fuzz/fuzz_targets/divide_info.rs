#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::divide::DivideInfo;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(d) = DivideInfo::decode(text) {
            let _ = d.total();
            let _ = d.encode();
        }
    }
});
