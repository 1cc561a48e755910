//! A request's method as the model keeps it: any token the classifier accepts, stored inline.

use std::{cmp::Ordering, fmt};

use probe_common::{http::MAX_METHOD_LEN, wire};

/// A request method: one of RFC 9110's nine, or an extension token seen on the wire (WebDAV's
/// `PROPFIND`, UPnP's `NOTIFY`, …). Stored inline, so an exchange stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Method {
    len: u8,
    name: [u8; MAX_METHOD_LEN],
}

impl Method {
    pub const GET: Method = Method::named(wire::Method::Get);
    pub const HEAD: Method = Method::named(wire::Method::Head);
    pub const POST: Method = Method::named(wire::Method::Post);

    /// One of the nine named methods ([`wire::Method::Extension`] has no name of its own and
    /// gives an empty one).
    pub const fn named(method: wire::Method) -> Method {
        let text = method.as_str().as_bytes();
        let mut name = [0; MAX_METHOD_LEN];
        let mut i = 0;
        while i < text.len() {
            name[i] = text[i];
            i += 1;
        }
        Method {
            len: text.len() as u8,
            name,
        }
    }

    /// A method from its name on the wire: `None` unless it is a token (RFC 9110's `tchar`)
    /// of 1 to [`MAX_METHOD_LEN`] bytes, which also makes it valid UTF-8.
    pub fn from_token(token: &[u8]) -> Option<Method> {
        if token.is_empty()
            || token.len() > MAX_METHOD_LEN
            || !token.iter().all(|&b| probe_common::http::is_tchar(b))
        {
            return None;
        }
        let mut name = [0; MAX_METHOD_LEN];
        name[..token.len()].copy_from_slice(token);
        Some(Method {
            len: token.len() as u8,
            name,
        })
    }

    pub fn as_str(&self) -> &str {
        // Only tokens (ASCII) are ever stored.
        std::str::from_utf8(&self.name[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Ord for Method {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for Method {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_methods_keep_their_names_and_tokens_are_checked() {
        for m in wire::Method::ALL {
            assert_eq!(Method::named(m).as_str(), m.as_str());
            assert_eq!(
                Method::from_token(m.as_str().as_bytes()),
                Some(Method::named(m))
            );
        }
        assert_eq!(
            Method::from_token(b"PROPFIND").unwrap().as_str(),
            "PROPFIND"
        );
        assert_eq!(
            Method::from_token(b"UPDATEREDIRECTREF").unwrap().as_str(),
            "UPDATEREDIRECTREF"
        );
        assert_eq!(Method::from_token(b""), None);
        assert_eq!(Method::from_token(b"BAD NAME"), None);
        assert_eq!(Method::from_token(&[b'A'; MAX_METHOD_LEN + 1]), None);
        assert_eq!(Method::from_token("PRÜF".as_bytes()), None);
        // Sorted by name, not by length.
        assert!(Method::POST < Method::from_token(b"PROPFIND").unwrap());
        assert!(Method::GET < Method::HEAD);
    }
}
