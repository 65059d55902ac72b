//! Query-string handling shared by the list endpoints: known parameters, page size, opaque cursors.

use base64::Engine;

use super::error::ApiError;
use super::extract::RawQuery;

pub const DEFAULT_PAGE: i64 = 20;
pub const MAX_PAGE: i64 = 100;

/// Refuses parameters the endpoint does not know, so that a typo is not silently ignored.
pub fn only_known(query: &RawQuery, known: &[&str]) -> Result<(), ApiError> {
    match query
        .0
        .iter()
        .find(|(name, _)| !known.contains(&name.as_str()))
    {
        Some((name, _)) => Err(ApiError::bad_request(
            Some(name.clone()),
            format!("unknown query parameter (use {})", known.join(", ")),
        )),
        None => Ok(()),
    }
}

/// Refuses a parameter whose value holds a NUL character (422 `nul_character` naming it), as a JSON body or a path
/// parameter would be: PostgreSQL refuses NUL in text, and no filter has a use for it.
pub fn no_nul(query: &RawQuery) -> Result<(), ApiError> {
    match query.0.iter().find(|(_, value)| value.contains('\0')) {
        Some((name, _)) => Err(ApiError::nul_character(name.clone())),
        None => Ok(()),
    }
}

pub fn limit(query: &RawQuery) -> Result<i64, ApiError> {
    match query.get("limit") {
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|l| (1..=MAX_PAGE).contains(l))
            .ok_or_else(|| {
                ApiError::bad_request(
                    Some("limit".into()),
                    format!("must be an integer from 1 to {MAX_PAGE}"),
                )
            }),
        None => Ok(DEFAULT_PAGE),
    }
}

/// The most digits a cursor's position may have: positions are sequence numbers, far below 10^18, and a bound
/// that no i64 overflows lets the OpenAPI document state the cursor's exact form as a pattern.
const MAX_CURSOR_DIGITS: usize = 18;

/// An opaque cursor: the position `seq` in a list of `kind` (so that one list's cursor is refused by another).
pub fn encode_cursor(kind: &str, seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{seq}"))
}

/// The position of a cursor this API returned: unpadded URL-safe base64 of `kind:` and 1 to 18 ASCII digits,
/// nothing else (no sign, no space), as the pattern of `cursor` in openapi.json says (scripts/cursor-pattern.py
/// computes it, and checks it against this reading).
fn decode(kind: &str, cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix(kind)?.strip_prefix(':')?;
    if digits.is_empty()
        || digits.len() > MAX_CURSOR_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}

/// The `cursor` parameter, if any.
pub fn cursor(query: &RawQuery, kind: &str) -> Result<Option<i64>, ApiError> {
    match query.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => decode(kind, c).map(Some).ok_or_else(|| {
            ApiError::bad_request(Some("cursor".into()), "not a cursor returned by this API")
        }),
        None => Ok(None),
    }
}

/// Keeps `limit` items of a page fetched with one extra, and names the cursor of the next page if there is one.
pub fn page<T>(
    mut items: Vec<T>,
    limit: i64,
    seq: impl Fn(&T) -> i64,
    kind: &str,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(0);
    if items.len() > limit {
        items.truncate(limit);
        let next = items.last().map(|last| encode_cursor(kind, seq(last)));
        (items, next)
    } else {
        (items, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode("seq", &encode_cursor("seq", 42)), Some(42));
        assert_eq!(decode("evt", &encode_cursor("seq", 42)), None);
        assert_eq!(decode("seq", "not-a-cursor"), None);
        assert_eq!(decode("seq", ""), None);
    }

    #[test]
    fn a_cursor_holds_only_digits() {
        let raw = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        assert_eq!(decode("seq", &raw("seq:0")), Some(0));
        assert_eq!(
            decode("seq", &raw(&format!("seq:{}", "9".repeat(18)))),
            Some(999_999_999_999_999_999)
        );
        for forged in [
            "seq:",
            "seq:+5",
            "seq:-5",
            "seq: 5",
            "seq:5 ",
            "seq:1234567890123456789",
        ] {
            assert_eq!(decode("seq", &raw(forged)), None, "{forged}");
        }
    }

    #[test]
    fn a_page_names_the_next_cursor_only_when_there_is_more() {
        let (items, next) = page(vec![5, 4, 3], 2, |x| *x, "seq");
        assert_eq!(items, [5, 4]);
        assert_eq!(next.as_deref().and_then(|c| decode("seq", c)), Some(4));
        let (items, next) = page(vec![5, 4], 2, |x| *x, "seq");
        assert_eq!(items, [5, 4]);
        assert_eq!(next, None);
    }
}
