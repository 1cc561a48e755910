//! The connection tuple, oriented client → server (the client sent the request line;
//! docs/terms.md).

use std::{fmt, net::SocketAddr};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    pub client: SocketAddr,
    pub server: SocketAddr,
}

impl fmt::Display for Tuple {
    /// `client → server`; `SocketAddr` already writes IPv6 as `[addr]:port`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} → {}", self.client, self.server)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_client_then_server_with_bracketed_ipv6() {
        let v4 = Tuple {
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
        };
        assert_eq!(v4.to_string(), "10.0.0.1:40000 → 10.0.0.2:80");
        let v6 = Tuple {
            client: "[fd00::1]:40000".parse().unwrap(),
            server: "[::1]:8080".parse().unwrap(),
        };
        assert_eq!(v6.to_string(), "[fd00::1]:40000 → [::1]:8080");
    }
}
