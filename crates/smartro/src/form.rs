//! The charset and form codec: `application/x-www-form-urlencoded` bodies whose values are EUC-KR or UTF-8.
//!
//! Decoding never fails: a body is split and percent-decoded to bytes, and text is taken from those bytes with
//! [`decode_text`], which always yields a `String`. The raw bytes stay available through [`RawForm::get_bytes`].

use encoding_rs::EUC_KR;

pub use crate::error::ParseError;

/// The charset used to turn text into bytes before percent-encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Charset {
    EucKr,
    Utf8,
}

impl From<crate::types::EncodingType> for Charset {
    fn from(e: crate::types::EncodingType) -> Self {
        match e {
            crate::types::EncodingType::EucKr => Charset::EucKr,
            crate::types::EncodingType::Utf8 => Charset::Utf8,
        }
    }
}

/// A form body split into `(name, value bytes)` pairs, in order, duplicates kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawForm {
    pairs: Vec<(String, Vec<u8>)>,
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decode to bytes. A `%` not followed by two hex digits is kept literally (browsers and the vendor's JSP
/// both do so), which makes this total.
fn percent_decode(input: &[u8], plus_as_space: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%' && i + 2 < input.len() {
            if let (Some(h), Some(l)) = (hex_val(input[i + 1]), hex_val(input[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        if b == b'+' && plus_as_space {
            out.push(b' ');
        } else {
            out.push(b);
        }
        i += 1;
    }
    out
}

/// True when `bytes` contain at least one `%XX` escape (two hex digits).
pub fn has_percent_escape(bytes: &[u8]) -> bool {
    bytes
        .windows(3)
        .any(|w| w[0] == b'%' && hex_val(w[1]).is_some() && hex_val(w[2]).is_some())
}

impl RawForm {
    /// Split on `&` and the first `=` of each part, turn `+` into a space and percent-decode to bytes.
    /// Empty parts (`a=1&&b=2`) are skipped; a part without `=` is a name with an empty value.
    pub fn parse(body: &[u8]) -> RawForm {
        let pairs = body
            .split(|&b| b == b'&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (name, value) = match part.iter().position(|&b| b == b'=') {
                    Some(eq) => (&part[..eq], &part[eq + 1..]),
                    None => (part, &part[part.len()..]),
                };
                (
                    decode_text(&percent_decode(name, true)),
                    percent_decode(value, true),
                )
            })
            .collect();
        RawForm { pairs }
    }

    /// Value bytes of the first pair called `name` (exact match).
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    /// Like [`RawForm::get_bytes`], falling back to an ASCII case-insensitive match (`mallUserID` vs
    /// `MallUserID`) when there is no exact one.
    pub fn get_bytes_ignore_case(&self, name: &str) -> Option<&[u8]> {
        self.get_bytes(name).or_else(|| {
            self.pairs
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_slice())
        })
    }

    /// Text of the first pair called `name`, via [`decode_text`].
    pub fn get_text(&self, name: &str) -> Option<String> {
        self.get_bytes(name).map(decode_text)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pairs.iter().map(|(n, _)| n.as_str())
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Text from bytes of unknown charset: UTF-8 or EUC-KR (Windows-949). Never fails; undecodable bytes become U+FFFD.
///
/// Valid UTF-8 is taken as UTF-8, with one exception. A Hangul syllable in EUC-KR whose lead byte is 0xC2–0xC8
/// and whose trail byte is 0x80–0xBF is also a valid two-byte UTF-8 sequence (a Latin-1/Latin-Extended letter), so
/// short EUC-KR text such as a one-syllable name can pass as UTF-8. When every non-ASCII character of the UTF-8
/// reading is such a two-byte character and the same bytes are clean EUC-KR, EUC-KR wins: this is a Korean
/// gateway, Hangul in UTF-8 is always three bytes, and the cost is that UTF-8 text made only of ASCII plus
/// Latin-1-range letters (e.g. "café") is read as Hangul.
pub fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => {
            let only_two_byte_non_ascii =
                !s.is_ascii() && s.chars().all(|c| c.is_ascii() || c.len_utf8() == 2);
            if only_two_byte_non_ascii {
                if let Some(text) =
                    EUC_KR.decode_without_bom_handling_and_without_replacement(bytes)
                {
                    return text.into_owned();
                }
            }
            s.to_string()
        }
        Err(_) => EUC_KR.decode_without_bom_handling(bytes).0.into_owned(),
    }
}

/// The second layer of `UrlEncode=Y`: percent-decode (and `+` → space) the already form-decoded bytes once more,
/// then [`decode_text`]. A value without `%XX` escapes keeps its meaning (`"100%"` stays `"100%"`).
pub fn decode_url_encoded_text(bytes: &[u8]) -> String {
    decode_text(&percent_decode(bytes, true))
}

/// Percent-decode once without touching `+`: for Base64 values (SignValue, DivideInfo) whose `+` is data.
pub(crate) fn percent_decode_keep_plus(bytes: &[u8]) -> Vec<u8> {
    percent_decode(bytes, false)
}

/// Text to bytes in `charset`. For EUC-KR, characters Windows-949 cannot represent become HTML numeric character
/// references (`&#NNNN;`), which is what browsers submit for them in an EUC-KR form.
pub fn encode_bytes(s: &str, charset: Charset) -> Vec<u8> {
    match charset {
        Charset::Utf8 => s.as_bytes().to_vec(),
        Charset::EucKr => EUC_KR.encode(s).0.into_owned(),
    }
}

fn percent_encode_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0F)]));
        }
    }
    out
}

/// Percent-encode one value after converting it to `charset`.
///
/// Everything but ASCII letters, digits and `-_.*` is escaped, and a space becomes `%20` rather than `+`: a `+`
/// would be ambiguous once a value is URL-encoded twice (UrlEncode=Y, CancelMSG), `%20` never is.
pub fn encode_component(s: &str, charset: Charset) -> String {
    percent_encode_bytes(&encode_bytes(s, charset))
}

/// An `application/x-www-form-urlencoded` body with every value in `charset`.
pub fn encode_form(pairs: &[(&str, &str)], charset: Charset) -> String {
    let mut out = String::new();
    for (i, (name, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&encode_component(name, charset));
        out.push('=');
        out.push_str(&encode_component(value, charset));
    }
    out
}

/// The first character of `s` that EUC-KR (Windows-949, as browsers and Smartro use it) cannot encode.
pub fn first_not_euc_kr(s: &str) -> Option<char> {
    if s.is_ascii() {
        return None;
    }
    let (_, _, unmappable) = EUC_KR.encode(s);
    if !unmappable {
        return None;
    }
    // The encoder is stateless, so a character that fails alone is one that failed in the text.
    s.chars().find(|c| {
        let mut buf = [0u8; 4];
        EUC_KR.encode(c.encode_utf8(&mut buf)).2
    })
}

/// Length in EUC-KR (Windows-949) bytes: 2 per Hangul syllable.
pub fn euc_kr_len(s: &str) -> usize {
    EUC_KR.encode(s).0.len()
}

/// Length in UTF-8 bytes: 3 per Hangul syllable, which is how the manual (v4.4 and later) counts limits.
pub fn utf8_len(s: &str) -> usize {
    s.len()
}
