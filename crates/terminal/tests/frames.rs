//! The frame decoder against a stream: partial reads, several frames in one read, and the protocol errors.

use smartro_terminal::*;

fn decode_all(bytes: &[u8], chunk: usize) -> Result<Vec<Frame>, FrameError> {
    let mut d = FrameDecoder::new();
    let mut out = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        d.push(piece);
        while let Some(f) = d.next_frame()? {
            out.push(f);
        }
    }
    Ok(out)
}

#[test]
fn frames_survive_any_split_and_back_to_back_delivery() {
    let mut stream = Vec::new();
    let a = Request::CardApproval(ApprovalRequest::new(51_000, "CPOS-1")).encode();
    stream.extend_from_slice(&a.unwrap_or_default());
    stream.extend_from_slice(b"0006990001");
    // 20 body bytes: the Hangul syllable takes three.
    stream.extend_from_slice("0026900091{\"commands\":[\"가\"]}".as_bytes());
    for chunk in [1, 2, 3, 7, 10, 11, 64, 4096] {
        let frames = decode_all(&stream, chunk);
        let Ok(frames) = frames else {
            panic!("{chunk}: {frames:?}")
        };
        let types: Vec<MessageType> = frames.iter().map(|f| f.message_type).collect();
        assert_eq!(
            types,
            [
                MessageType::CardApproval,
                MessageType::LastTransaction,
                MessageType::Print
            ],
            "{chunk}"
        );
        assert!(frames[1].body.is_empty());
    }
}

#[test]
fn a_bad_header_is_refused_as_soon_as_it_shows() {
    let mut d = FrameDecoder::new();
    d.push(b"00");
    assert_eq!(d.next_frame(), Ok(None));
    d.push(b"x");
    assert!(matches!(d.next_frame(), Err(FrameError::BadHeader { .. })));
    // Stays failed: the stream has lost its framing.
    d.push(b"0006990001");
    assert!(matches!(d.next_frame(), Err(FrameError::BadHeader { .. })));
    assert_eq!(d.buffered(), 0);

    for bad in [
        &b"GET / HTTP/1.1\r\n"[..],
        b" 006990001",
        b"0006-90001",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ] {
        assert!(
            matches!(decode_all(bad, 100), Err(FrameError::BadHeader { .. })),
            "{bad:?}"
        );
    }
}

#[test]
fn a_length_under_six_is_refused() {
    for bad in ["0000990001", "0005990001"] {
        assert!(matches!(
            decode_all(bad.as_bytes(), 3),
            Err(FrameError::LengthTooShort { .. })
        ));
    }
}

#[test]
fn a_body_that_is_not_json_is_refused() {
    for body in [
        "{not json",
        "{\"a\":1} trailing",
        "\u{fffd}",
        "{\"a\":\"\\ud800\"}x",
    ] {
        let wire = format!("{:04}010010{body}", 6 + body.len());
        assert!(
            matches!(
                decode_all(wire.as_bytes(), 5),
                Err(FrameError::BodyNotJson {
                    message_type: MessageType::CardApproval,
                    ..
                })
            ),
            "{body}"
        );
    }
    // Not UTF-8.
    let mut wire = b"0008010010".to_vec();
    wire.extend_from_slice(&[0xff, 0xfe]);
    assert!(matches!(
        decode_all(&wire, 4),
        Err(FrameError::BodyNotJson { .. })
    ));
}

#[test]
fn an_incomplete_frame_waits_for_more() {
    let mut d = FrameDecoder::new();
    d.push(b"0020010010{\"priceAmt");
    assert_eq!(d.next_frame(), Ok(None));
    assert_eq!(d.buffered(), 20);
}

#[test]
fn a_body_that_does_not_fit_its_type_is_a_message_error() {
    let frames = decode_all(b"0008010010[]", 100).unwrap_or_default();
    assert!(matches!(
        Request::from_frame(&frames[0]),
        Err(MessageError::Malformed { .. })
    ));
    let frames = decode_all(b"0006010010", 100).unwrap_or_default();
    assert!(matches!(
        Request::from_frame(&frames[0]),
        Err(MessageError::MissingBody { .. })
    ));
    // A header-only request with a body anyway: the body is ignored.
    let frames = decode_all(b"0008990001{}", 100).unwrap_or_default();
    assert_eq!(
        Request::from_frame(&frames[0]),
        Ok(Request::LastTransaction)
    );
}
