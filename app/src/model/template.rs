//! Path templates: the endpoint a request target names, with its variable segments collapsed so
//! `/users/123` and `/users/456` are one endpoint, `/users/{id}`.
//!
//! The rule, per `/`-separated segment: all digits, a UUID (8-4-4-4-12 hex digits), or hex of at
//! least 8 characters or containing a digit (an object id, a hash) becomes `{id}`. The query
//! string (from `?`) and a fragment (from `#`) are dropped; an empty target is `/`.

use std::{fmt, hash::Hash};

/// Bytes a template keeps: room for the longest path prefix the kernel sends (48 bytes) even
/// where short ids grow into `{id}`.
pub const TEMPLATE_LEN: usize = 64;

/// What a collapsed segment becomes.
pub const ID: &str = "{id}";

/// An endpoint's path template, stored inline (no allocation per exchange).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathTemplate {
    len: u8,
    bytes: [u8; TEMPLATE_LEN],
}

impl PathTemplate {
    /// The template of a request target (a path prefix, query string possibly included).
    pub fn of(target: &str) -> Self {
        // Bytes, not chars: this runs for every exchange.
        let end = target
            .bytes()
            .position(|b| b == b'?' || b == b'#')
            .unwrap_or(target.len());
        let path = &target[..end];
        let mut out = PathTemplate {
            len: 0,
            bytes: [0; TEMPLATE_LEN],
        };
        if path.is_empty() {
            out.push("/");
            return out;
        }
        for (i, segment) in path.split('/').enumerate() {
            if i > 0 {
                out.push("/");
            }
            out.push(if is_id(segment) { ID } else { segment });
        }
        out
    }

    fn push(&mut self, s: &str) {
        let start = usize::from(self.len);
        let mut n = s.len().min(TEMPLATE_LEN - start);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[start..start + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n as u8;
    }

    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

/// Whether a path segment is a variable part: a number, a UUID, or a long or digit-bearing hex
/// string.
pub fn is_id(segment: &str) -> bool {
    let b = segment.as_bytes();
    if b.is_empty() {
        return false;
    }
    if b.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if is_uuid(b) {
        return true;
    }
    b.iter().all(u8::is_ascii_hexdigit) && (b.len() >= 8 || b.iter().any(u8::is_ascii_digit))
}

fn is_uuid(b: &[u8]) -> bool {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if DASHES.contains(&i) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

impl fmt::Display for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for PathTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(target: &str) -> String {
        PathTemplate::of(target).as_str().to_owned()
    }

    #[test]
    fn numbers_become_ids() {
        assert_eq!(t("/users/123"), "/users/{id}");
        assert_eq!(t("/users/123/orders/9"), "/users/{id}/orders/{id}");
        assert_eq!(t("/v1/items"), "/v1/items");
    }

    #[test]
    fn hex_of_eight_or_with_a_digit_becomes_an_id() {
        assert_eq!(t("/blob/deadbeef"), "/blob/{id}");
        assert_eq!(t("/blob/a1b2"), "/blob/{id}");
        // Short hex-looking words stay: they are names.
        assert_eq!(t("/cafe/add/bad"), "/cafe/add/bad");
        assert_eq!(t("/commit/0123456789abcdef0123"), "/commit/{id}");
    }

    #[test]
    fn uuids_become_ids() {
        assert_eq!(t("/o/123e4567-e89b-12d3-a456-426614174000/x"), "/o/{id}/x");
        // One dash out of place: not a UUID, and not hex.
        assert_eq!(
            t("/o/123e4567e-89b-12d3-a456-426614174000"),
            "/o/123e4567e-89b-12d3-a456-426614174000"
        );
    }

    #[test]
    fn mixed_segments_stay_unless_they_are_ids() {
        assert_eq!(t("/users/123/profile-v2"), "/users/{id}/profile-v2");
        assert_eq!(t("/page/12abcxyz"), "/page/12abcxyz");
    }

    #[test]
    fn root_trailing_slash_and_query() {
        assert_eq!(t("/"), "/");
        assert_eq!(t(""), "/");
        assert_eq!(t("/users/"), "/users/");
        assert_eq!(t("/users/42/"), "/users/{id}/");
        assert_eq!(t("/search?q=1&page=2"), "/search");
        assert_eq!(t("/users/7?x=y"), "/users/{id}");
        assert_eq!(t("/?q"), "/");
        assert_eq!(t("/a#frag"), "/a");
    }

    #[test]
    fn long_targets_are_cut_at_the_template_length() {
        let long = format!("/{}", "1/".repeat(40));
        assert_eq!(t(&long).len(), TEMPLATE_LEN);
    }
}
