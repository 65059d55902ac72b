#![no_main]

use libfuzzer_sys::fuzz_target;
use smartro_terminal::{FrameDecoder, Request, Response};

// The first byte picks where the stream is cut, so partial reads are exercised as well as whole ones.
fuzz_target!(|data: &[u8]| {
    let Some((&cut, stream)) = data.split_first() else {
        return;
    };
    let step = usize::from(cut).max(1);
    let mut decoder = FrameDecoder::new();
    for piece in stream.chunks(step) {
        decoder.push(piece);
        loop {
            match decoder.next_frame() {
                Ok(Some(frame)) => {
                    if let Ok(r) = Request::from_frame(&frame) {
                        let _ = r.validate();
                        let _ = r.encode();
                    }
                    if let Ok(r) = Response::from_frame(&frame) {
                        let _ = r.encode();
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
