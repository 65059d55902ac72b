//! The two error types shared by every message module.

/// A received message (form body, JSON, Base64 blob) could not be turned into a typed value.
///
/// The field is the wire name of the offending parameter (e.g. `"Amt"`, `"SignValue"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("{0}: missing")]
    Missing(&'static str),
    #[error("{field}: {reason}")]
    Malformed { field: &'static str, reason: String },
}

impl ParseError {
    /// The wire name of the field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            ParseError::Missing(field) => field,
            ParseError::Malformed { field, .. } => field,
        }
    }

    pub(crate) fn malformed(field: &'static str, reason: impl Into<String>) -> Self {
        ParseError::Malformed {
            field,
            reason: reason.into(),
        }
    }
}

/// An outgoing (or, in the sandbox, incoming) request breaks one of the manual's rules.
///
/// Displayed as `"GoodsName: longer than 40 bytes"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct RequestError {
    /// Wire name of the parameter, e.g. `"GoodsName"`.
    pub field: &'static str,
    pub reason: String,
    pub kind: RequestErrorKind,
}

/// Which sort of rule a request broke, for callers that answer them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestErrorKind {
    /// Required, length, format, range: the manual's rules for the value.
    Invalid,
    /// Text that travels in EUC-KR holds a character EUC-KR (Windows-949) cannot encode. Browsers would send it as
    /// an HTML character reference (`&#128512;`), which Smartro stores and shows as those characters.
    NotEucKr,
}

impl RequestError {
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        RequestError {
            field,
            reason: reason.into(),
            kind: RequestErrorKind::Invalid,
        }
    }

    pub fn not_euc_kr(field: &'static str, c: char) -> Self {
        RequestError {
            field,
            reason: format!(
                "contains {c:?} (U+{:04X}), which EUC-KR cannot encode",
                u32::from(c)
            ),
            kind: RequestErrorKind::NotEucKr,
        }
    }
}

/// A message with a NUL character (U+0000) in a field name or value is malformed: no Smartro field carries one,
/// and text holding it cannot be stored as text (PostgreSQL refuses it) or shown. The field is named by its wire
/// name when it is one of `known`, and escaped otherwise, so that the error itself holds no NUL.
pub(crate) fn nul_in(known: &[&'static str], name: &str) -> ParseError {
    let field = known
        .iter()
        .find(|k| k.eq_ignore_ascii_case(name))
        .copied()
        .unwrap_or("form");
    ParseError::malformed(field, format!("{name:?} holds a NUL character (U+0000)"))
}

/// Parse a non-negative decimal amount made of ASCII digits only (no sign, no commas, at most 18 digits so it
/// always fits an `i64`).
pub(crate) fn parse_amount(field: &'static str, text: &str) -> Result<i64, ParseError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ParseError::Missing(field));
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::malformed(field, "not a decimal number"));
    }
    if text.len() > 18 {
        return Err(ParseError::malformed(field, "too many digits"));
    }
    text.parse::<i64>()
        .map_err(|e| ParseError::malformed(field, e.to_string()))
}
