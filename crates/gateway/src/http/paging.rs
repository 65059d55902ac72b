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

/// An opaque cursor: the position `seq` in a list of `kind` (so that one list's cursor is refused by another).
pub fn encode_cursor(kind: &str, seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{seq}"))
}

fn decode(kind: &str, cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix(kind)?.strip_prefix(':')?.parse().ok()
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
    fn a_page_names_the_next_cursor_only_when_there_is_more() {
        let (items, next) = page(vec![5, 4, 3], 2, |x| *x, "seq");
        assert_eq!(items, [5, 4]);
        assert_eq!(next.as_deref().and_then(|c| decode("seq", c)), Some(4));
        let (items, next) = page(vec![5, 4], 2, |x| *x, "seq");
        assert_eq!(items, [5, 4]);
        assert_eq!(next, None);
    }
}
