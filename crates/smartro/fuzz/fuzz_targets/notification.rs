#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro::notification::Notification;

fuzz_target!(|data: &[u8]| {
    if let Ok(n) = Notification::parse(data) {
        let _ = n.verify("key");
        let _ = n.dedupe_key();
        let _ = n.to_form_body();
    }
});
