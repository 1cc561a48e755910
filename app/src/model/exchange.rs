//! One finished exchange: [`Exchange`] as the kernel's events and the capture reader hand it
//! over, and [`NumberedExchange`], the same exchange once the model has given it its place in
//! arrival order. Only the model numbers exchanges, so only the model makes the second kind;
//! everything else reads a numbered exchange as the plain one it wraps.

use std::{borrow::Cow, fmt, ops::Deref};

use super::{Method, NetnsId, ProcessId, Tuple};

/// A finished exchange: fixed size and `Copy`, so keeping one never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    pub tuple: Tuple,
    /// When the kernel first saw this exchange's connection (CLOCK_MONOTONIC ns; capture time
    /// with `--read`): a tuple reused by a new connection gets a new value.
    pub conn_start_ns: u64,
    /// CLOCK_MONOTONIC ns of the request's first segment.
    pub request_ns: u64,
    /// Request's first segment → final response's first segment (TTFB), ns.
    pub latency_ns: u64,
    /// Request's first segment → the segment that held the response's last byte (TTLB), ns;
    /// `None` when its end was not seen.
    pub ttlb_ns: Option<u64>,
    /// The two messages' body sizes.
    pub bodies: Bodies,
    pub method: Option<Method>,
    pub status: u16,
    /// Prefix of the request target (at most [`PATH_LEN`] bytes), query string included.
    pub path: PathPrefix,
    /// The local processes on the client's and the server's side, as far as the collector
    /// found them ([`ProcessId::NOT_LOOKED_UP`] offline).
    pub processes: Processes,
    /// The network namespace it was seen in ([`NetnsId::OWN`] offline).
    pub netns: NetnsId,
}

/// The body bytes of an exchange's request and response (a chunked body's chunk data), each
/// `None` when httptop could not tell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Bodies {
    pub request: Option<u64>,
    pub response: Option<u64>,
}

/// The process on each side of an exchange's connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Processes {
    pub client: ProcessId,
    pub server: ProcessId,
}

pub const PATH_LEN: usize = probe_common::wire::PATH_LEN;

/// A request-target prefix stored inline, so keeping an exchange never allocates.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PathPrefix {
    len: u8,
    bytes: [u8; PATH_LEN],
}

impl PathPrefix {
    /// Keeps the first [`PATH_LEN`] bytes, cut back to a character boundary.
    pub fn new(path: &str) -> Self {
        let mut len = path.len().min(PATH_LEN);
        while !path.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; PATH_LEN];
        bytes[..len].copy_from_slice(&path.as_bytes()[..len]);
        PathPrefix {
            len: len as u8,
            bytes,
        }
    }

    /// From the bytes on the wire: copied as they are when they are UTF-8 (no allocation, the
    /// common case), else with invalid sequences replaced.
    pub fn from_wire(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(text) => PathPrefix::new(text),
            Err(_) => PathPrefix::new(&String::from_utf8_lossy(bytes)),
        }
    }

    pub fn as_str(&self) -> &str {
        // Built from a `&str` cut at a character boundary, so always valid UTF-8.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }

    /// The path as it may be shown ([`super::redact`]): query string, path parameters and
    /// userinfo as `…` unless `show_query`, control and bidi characters escaped always.
    pub fn display(&self, show_query: bool) -> Cow<'_, str> {
        Cow::Owned(super::redact::shown_target(self.as_str(), show_query))
    }
}

impl Default for PathPrefix {
    fn default() -> Self {
        PathPrefix::new("")
    }
}

impl fmt::Debug for PathPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Exchange {
    /// CLOCK_MONOTONIC ns of the final response's status line.
    pub fn response_ns(&self) -> u64 {
        self.request_ns.saturating_add(self.latency_ns)
    }

    /// The status class: 2 for 2xx, 4 for 4xx, 5 for 5xx.
    pub fn status_class(&self) -> u16 {
        self.status / 100
    }
}

/// An exchange numbered in arrival order by the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NumberedExchange {
    /// Arrival order since the model started (never reset, so a frozen screen can say "up to
    /// here").
    pub seq: u64,
    pub exchange: Exchange,
}

impl Deref for NumberedExchange {
    type Target = Exchange;

    fn deref(&self) -> &Exchange {
        &self.exchange
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_prefix_keeps_48_bytes_at_a_char_boundary() {
        let long = format!("/{}", "a".repeat(60));
        assert_eq!(PathPrefix::new(&long).as_str(), &long[..48]);
        // 'é' is two bytes: 47 ASCII bytes then 'é' would end at byte 49, so it is dropped.
        let accented = format!("{}é", "b".repeat(47));
        assert_eq!(PathPrefix::new(&accented).as_str(), &accented[..47]);
    }

    #[test]
    fn query_string_is_hidden_unless_asked() {
        let p = PathPrefix::new("/search?q=secret");
        assert_eq!(p.display(false), "/search?…");
        assert_eq!(p.display(true), "/search?q=secret");
        assert_eq!(PathPrefix::new("/plain").display(false), "/plain");
    }
}
