//! Pagination: page sizes and opaque page tokens.
//!
//! A token is the URL-safe base64 of a kind tag and the key of the last item of the previous
//! page (plus whatever filter the page was made with, so a token cannot be replayed against
//! another filter). Clients must treat it as opaque; anything that does not decode to the
//! expected kind and shape is INVALID_ARGUMENT naming `page_token`.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::Violations;

/// The page size used when a request asks for 0.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// The largest page size a request may ask for.
pub const MAX_PAGE_SIZE: usize = 100;

/// The longest page token accepted.
const MAX_TOKEN_LEN: usize = 1024;

/// Separates the parts of a token; never valid inside an id.
const SEPARATOR: char = '\u{1f}';

/// Validates `page_size`: 0 means [`DEFAULT_PAGE_SIZE`], else 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(violations: &mut Violations, size: i32) -> usize {
    match usize::try_from(size) {
        Ok(0) => DEFAULT_PAGE_SIZE,
        Ok(n) if n <= MAX_PAGE_SIZE => n,
        _ => {
            violations.add("page_size", format!("must be 0 to {MAX_PAGE_SIZE}"));
            DEFAULT_PAGE_SIZE
        }
    }
}

/// Makes a token of `kind` from `parts`.
pub fn encode(kind: &str, parts: &[&str]) -> String {
    let mut text = String::from(kind);
    for part in parts {
        text.push(SEPARATOR);
        text.push_str(part);
    }
    URL_SAFE_NO_PAD.encode(text)
}

/// Reads a token of `kind` with exactly `count` parts. An empty token is the first page
/// (`None`); a malformed one is recorded as a `page_token` violation.
pub fn decode(
    violations: &mut Violations,
    token: &str,
    kind: &str,
    count: usize,
) -> Option<Vec<String>> {
    if token.is_empty() {
        return None;
    }
    let parts = (token.len() <= MAX_TOKEN_LEN)
        .then(|| URL_SAFE_NO_PAD.decode(token).ok())
        .flatten()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let mut parts = text.split(SEPARATOR).map(str::to_owned);
            (parts.next()? == kind).then(|| parts.collect::<Vec<_>>())
        })
        .filter(|parts| parts.len() == count);
    if parts.is_none() {
        violations.add(
            "page_token",
            "is not a token this service issued for this request",
        );
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A token decodes to the parts it was made from, for the same kind only.
    #[test]
    fn round_trips_and_checks_kind() {
        let token = encode("products", &["books", "p-1"]);
        let mut v = Violations::new();
        assert_eq!(
            decode(&mut v, &token, "products", 2),
            Some(vec!["books".to_owned(), "p-1".to_owned()])
        );
        assert!(v.is_empty());
        assert_eq!(decode(&mut v, &token, "orders", 2), None);
        assert_eq!(decode(&mut v, &token, "products", 3), None);
        assert_eq!(decode(&mut v, "!!not base64", "products", 2), None);
        assert_eq!(decode(&mut v, &"A".repeat(2000), "products", 2), None);
        assert_eq!(v.fields().len(), 4);
        assert!(v.fields().iter().all(|(f, _)| f == "page_token"));
    }

    /// Page sizes: 0 is the default, 1..=100 pass, the rest name `page_size`.
    #[test]
    fn page_sizes() {
        let mut v = Violations::new();
        assert_eq!(page_size(&mut v, 0), DEFAULT_PAGE_SIZE);
        assert_eq!(page_size(&mut v, 100), 100);
        assert!(v.is_empty());
        page_size(&mut v, -1);
        page_size(&mut v, 101);
        assert_eq!(v.fields().len(), 2);
    }
}
