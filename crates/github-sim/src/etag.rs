//! Strong ETags over response bodies.

use sha2::{Digest, Sha256};

/// A strong ETag (quoted hex SHA-256 prefix) of a response body.
pub fn strong_etag(body: &[u8]) -> String {
    let digest = Sha256::digest(body);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Whether an `If-None-Match` header value matches `etag` (comma lists, `*` and weak forms accepted).
pub fn if_none_match_matches(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_body_same_tag_different_body_different_tag() {
        assert_eq!(strong_etag(b"a"), strong_etag(b"a"));
        assert_ne!(strong_etag(b"a"), strong_etag(b"b"));
        assert!(strong_etag(b"a").starts_with('"'));
    }

    #[test]
    fn matches_lists_and_weak_forms() {
        let tag = strong_etag(b"x");
        assert!(if_none_match_matches(&tag, &tag));
        assert!(if_none_match_matches(&format!("\"zz\", W/{tag}"), &tag));
        assert!(!if_none_match_matches("\"zz\"", &tag));
    }
}
