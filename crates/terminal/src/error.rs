//! The crate's error types: one for the byte stream ([`FrameError`]), one for a frame's body ([`MessageError`])
//! and one for what cannot be sent ([`EncodeError`]).

use crate::frame::MessageType;

/// The byte stream broke the framing rules. The connection has lost its framing and must be dropped; nothing
/// from it is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The 10-character header is not 10 ASCII digits (shown escaped).
    #[error("header is not 10 ASCII digits: \"{header}\"")]
    BadHeader { header: String },
    /// The length field is under 6: it cannot even cover the message type.
    #[error("length {length} is under 6 (the message type alone takes 6)")]
    LengthTooShort { length: usize },
    /// The body is neither empty nor one JSON value.
    #[error("{message_type}: body is not JSON: {reason}")]
    BodyNotJson {
        message_type: MessageType,
        reason: String,
    },
}

/// A well-framed body that does not make the typed message of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The type needs a body and the frame has none.
    #[error("{message_type}: body missing")]
    MissingBody { message_type: MessageType },
    /// The body does not fit the message's shape (missing field, wrong type, bad value).
    #[error("{message_type}: {reason}")]
    Malformed {
        message_type: MessageType,
        reason: String,
    },
}

/// A message that cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The body does not fit the 4-digit length field (at most 9 993 bytes).
    #[error("body of {body_len} bytes exceeds the 9993 bytes a 4-digit length allows")]
    TooLong { body_len: usize },
    /// The message breaks a rule of the protocol (see each request's `validate`); `field` is the wire name.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    /// The body could not be written as JSON.
    #[error("body cannot be written as JSON: {0}")]
    Json(String),
}

impl EncodeError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> EncodeError {
        EncodeError::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
