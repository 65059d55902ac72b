//! The frame: a 10-character ASCII header (4-digit length + 6-digit message type) followed by a JSON body.
//!
//! The length counts everything after the length field: the 6 type digits plus the body's bytes. A header-only
//! message is therefore `0006` + its type (the seed's `0006990001`).

use std::fmt;

use crate::error::{EncodeError, FrameError};

/// Bytes of the header: 4 length digits + 6 type digits.
pub const HEADER_LEN: usize = 10;
/// Bytes of the message type field.
pub const TYPE_LEN: usize = 6;
/// The largest length the 4-digit field can carry.
pub const MAX_LENGTH: usize = 9_999;
/// The largest body a frame can carry: [`MAX_LENGTH`] less the 6 type digits.
pub const MAX_BODY_LEN: usize = MAX_LENGTH - TYPE_LEN;

/// The 6-digit message type (전문구분).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// `010010` 신용결제승인
    CardApproval,
    /// `010020` 신용결제취소
    CardCancel,
    /// `910021` 카드리딩취소
    CardReadCancel,
    /// `930021` 간편결제리딩취소
    EasyPayReadCancel,
    /// `970021` 현금영수증리딩취소
    CashReceiptReadCancel,
    /// `030010` 간편결제승인
    EasyPayApproval,
    /// `030020` 간편결제취소
    EasyPayCancel,
    /// `070010` 현금영수증발급
    CashReceiptIssue,
    /// `070020` 현금영수증취소
    CashReceiptCancel,
    /// `990001` 직전거래조회
    LastTransaction,
    /// `050099` 매출집계조회
    SalesTotals,
    /// `980001` 결제결과확인
    ResultConfirmation,
    /// `081008` 코드다운로드
    CodeDownload,
    /// `900091` 프린트출력
    Print,
    /// `050010` 환급전표발행
    TaxRefundIssue,
    /// `050020` 환급전표취소
    TaxRefundCancel,
    /// `900050` 환급전표조회
    TaxRefundInquiry,
    /// `555555` 실행취소
    Abort,
    /// Any other six digits, kept as the number they spell (always shown with six digits).
    Other(u32),
}

const KNOWN: [(MessageType, u32); 18] = [
    (MessageType::CardApproval, 10_010),
    (MessageType::CardCancel, 10_020),
    (MessageType::CardReadCancel, 910_021),
    (MessageType::EasyPayReadCancel, 930_021),
    (MessageType::CashReceiptReadCancel, 970_021),
    (MessageType::EasyPayApproval, 30_010),
    (MessageType::EasyPayCancel, 30_020),
    (MessageType::CashReceiptIssue, 70_010),
    (MessageType::CashReceiptCancel, 70_020),
    (MessageType::LastTransaction, 990_001),
    (MessageType::SalesTotals, 50_099),
    (MessageType::ResultConfirmation, 980_001),
    (MessageType::CodeDownload, 81_008),
    (MessageType::Print, 900_091),
    (MessageType::TaxRefundIssue, 50_010),
    (MessageType::TaxRefundCancel, 50_020),
    (MessageType::TaxRefundInquiry, 900_050),
    (MessageType::Abort, 555_555),
];

impl MessageType {
    /// The type of six ASCII digits; `None` for anything else.
    pub fn from_digits(digits: &[u8]) -> Option<MessageType> {
        if digits.len() != TYPE_LEN || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let number = digits
            .iter()
            .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        Some(MessageType::from_number(number))
    }

    /// The type numbered `number`. Only six digits travel, so a number above 999 999 keeps its last six.
    pub fn from_number(number: u32) -> MessageType {
        KNOWN
            .iter()
            .find(|(_, n)| *n == number)
            .map(|(t, _)| *t)
            .unwrap_or(MessageType::Other(number % 1_000_000))
    }

    /// The type as a number (`10010` for `010010`).
    pub fn number(self) -> u32 {
        match self {
            MessageType::Other(n) => n % 1_000_000,
            known => KNOWN
                .iter()
                .find(|(t, _)| *t == known)
                .map(|(_, n)| *n)
                .unwrap_or_default(),
        }
    }

    /// The six digits as they travel.
    pub fn code(self) -> String {
        format!("{:06}", self.number())
    }

    /// Whether the type is one the seed describes.
    pub fn is_known(self) -> bool {
        !matches!(self, MessageType::Other(_))
    }

    /// Whether the request of this type is header-only (seed: "전문내용 불필요하며, 헤더만 전송됩니다").
    pub fn request_is_header_only(self) -> bool {
        matches!(
            self,
            MessageType::CardReadCancel
                | MessageType::EasyPayReadCancel
                | MessageType::CashReceiptReadCancel
                | MessageType::LastTransaction
                | MessageType::ResultConfirmation
                | MessageType::CodeDownload
                | MessageType::Abort
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.number())
    }
}

/// One message on the wire: its type and its body bytes (empty for a header-only message; otherwise JSON, which
/// the decoder has checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub message_type: MessageType,
    pub body: Vec<u8>,
}

impl Frame {
    pub fn new(message_type: MessageType, body: Vec<u8>) -> Frame {
        Frame { message_type, body }
    }

    /// A frame with no body (`0006` + type).
    pub fn header_only(message_type: MessageType) -> Frame {
        Frame::new(message_type, Vec::new())
    }

    /// Header plus body. A body over [`MAX_BODY_LEN`] bytes cannot be expressed in the 4-digit length.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let length = TYPE_LEN + self.body.len();
        if length > MAX_LENGTH {
            return Err(EncodeError::TooLong {
                body_len: self.body.len(),
            });
        }
        let mut out = Vec::with_capacity(HEADER_LEN + self.body.len());
        out.extend_from_slice(format!("{length:04}{}", self.message_type).as_bytes());
        out.extend_from_slice(&self.body);
        Ok(out)
    }
}

/// Parse a header: `(length, type)`. `header` must be exactly [`HEADER_LEN`] bytes.
pub fn parse_header(header: &[u8]) -> Result<(usize, MessageType), FrameError> {
    if header.len() != HEADER_LEN || !header.iter().all(u8::is_ascii_digit) {
        return Err(FrameError::BadHeader {
            header: header.escape_ascii().to_string(),
        });
    }
    let length = header[..4]
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    if length < TYPE_LEN {
        return Err(FrameError::LengthTooShort { length });
    }
    let message_type = MessageType::from_digits(&header[4..]).ok_or(FrameError::BadHeader {
        header: header.escape_ascii().to_string(),
    })?;
    Ok((length, message_type))
}

/// Incremental frame decoder: push the bytes a stream delivers, in whatever pieces it delivers them, and take
/// complete frames out.
///
/// After an error the decoder stays failed and repeats the error: the stream has lost its framing, and the only
/// safe course is to drop the connection (terminal.md: "the connection is dropped and the error logged").
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    failed: Option<FrameError>,
}

impl FrameDecoder {
    pub fn new() -> FrameDecoder {
        FrameDecoder::default()
    }

    /// Append bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_none() {
            self.buffer.extend_from_slice(bytes);
        }
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or the protocol error.
    ///
    /// The header is checked as soon as its 10 bytes are in, so a peer sending garbage is refused at once
    /// rather than after the decoder waited for a body that never comes.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.take_frame() {
            Ok(frame) => Ok(frame),
            Err(e) => {
                self.buffer = Vec::new();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    fn take_frame(&mut self) -> Result<Option<Frame>, FrameError> {
        if self.buffer.len() < HEADER_LEN {
            // A partial header can already be wrong: refuse as soon as a byte is not a digit.
            if !self.buffer.iter().all(u8::is_ascii_digit) {
                return Err(FrameError::BadHeader {
                    header: self.buffer.escape_ascii().to_string(),
                });
            }
            return Ok(None);
        }
        let (length, message_type) = parse_header(&self.buffer[..HEADER_LEN])?;
        let total = 4 + length;
        if self.buffer.len() < total {
            return Ok(None);
        }
        let body: Vec<u8> = self.buffer[HEADER_LEN..total].to_vec();
        self.buffer.drain(..total);
        check_body(message_type, &body)?;
        Ok(Some(Frame { message_type, body }))
    }
}

/// An empty body is a header-only message; anything else must be one JSON value (UTF-8, the seed's encoding).
pub fn check_body(message_type: MessageType, body: &[u8]) -> Result<(), FrameError> {
    if body.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<serde::de::IgnoredAny>(body)
        .map(|_| ())
        .map_err(|e| FrameError::BodyNotJson {
            message_type,
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_only_frames_match_the_seed() {
        for (t, wire) in [
            (MessageType::CardReadCancel, "0006910021"),
            (MessageType::EasyPayReadCancel, "0006930021"),
            (MessageType::CashReceiptReadCancel, "0006970021"),
            (MessageType::LastTransaction, "0006990001"),
            (MessageType::ResultConfirmation, "0006980001"),
            (MessageType::CodeDownload, "0006081008"),
            (MessageType::Abort, "0006555555"),
        ] {
            assert_eq!(
                Frame::header_only(t).encode().ok().as_deref(),
                Some(wire.as_bytes())
            );
            assert!(t.request_is_header_only());
        }
    }

    #[test]
    fn length_counts_type_and_body_bytes() {
        let body = "{\"a\":\"가\"}".as_bytes().to_vec();
        let wire = Frame::new(MessageType::Print, body.clone()).encode();
        let expected_len = 6 + body.len();
        assert_eq!(
            wire.ok().map(|w| w[..10].to_vec()),
            Some(format!("{expected_len:04}900091").into_bytes())
        );
    }

    #[test]
    fn message_type_codes_round_trip() {
        for (t, n) in KNOWN {
            assert_eq!(MessageType::from_number(n), t);
            assert_eq!(MessageType::from_digits(t.code().as_bytes()), Some(t));
        }
        assert_eq!(
            MessageType::from_digits(b"123456"),
            Some(MessageType::Other(123_456))
        );
        assert_eq!(MessageType::Other(42).code(), "000042");
        assert_eq!(MessageType::from_digits(b"12345"), None);
        assert_eq!(MessageType::from_digits(b"12a456"), None);
    }

    #[test]
    fn too_long_a_body_cannot_be_encoded() {
        let ok = Frame::new(MessageType::Print, vec![b' '; MAX_BODY_LEN]).encode();
        assert!(ok.is_ok_and(|w| w.starts_with(b"9999900091")));
        let err = Frame::new(MessageType::Print, vec![b' '; MAX_BODY_LEN + 1]).encode();
        assert_eq!(
            err,
            Err(EncodeError::TooLong {
                body_len: MAX_BODY_LEN + 1
            })
        );
    }
}
