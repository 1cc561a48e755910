//! The addresses of this network namespace: an end whose address is not one of them is not a
//! local socket, and no lookup is spent on it.

use std::{
    collections::HashSet,
    net::IpAddr,
    time::{Duration, Instant},
};

/// Interface addresses change rarely; a second is soon enough to see a new one.
const REFRESH: Duration = Duration::from_secs(1);

pub(super) struct LocalAddrs {
    addrs: HashSet<IpAddr>,
    /// `getifaddrs` has answered at least once: until then every address may be local.
    known: bool,
    refreshed: Option<Instant>,
}

impl LocalAddrs {
    pub fn new() -> LocalAddrs {
        LocalAddrs {
            addrs: HashSet::new(),
            known: false,
            refreshed: None,
        }
    }

    /// Re-reads the addresses when the last read is older than a second.
    pub fn refresh(&mut self, now: Instant) {
        if self
            .refreshed
            .is_some_and(|at| now.duration_since(at) < REFRESH)
        {
            return;
        }
        self.refreshed = Some(now);
        match nix::ifaddrs::getifaddrs() {
            Ok(ifaddrs) => {
                self.addrs.clear();
                for ifa in ifaddrs {
                    let Some(addr) = ifa.address else { continue };
                    if let Some(v4) = addr.as_sockaddr_in() {
                        self.addrs.insert(IpAddr::V4(v4.ip()));
                    } else if let Some(v6) = addr.as_sockaddr_in6() {
                        self.addrs.insert(IpAddr::V6(v6.ip()).to_canonical());
                    }
                }
                self.known = true;
            }
            Err(e) => log::debug!("getifaddrs: {e}"),
        }
    }

    /// Loopback (127.0.0.0/8, ::1) always is.
    pub fn contains(&self, ip: IpAddr) -> bool {
        !self.known || ip.is_loopback() || self.addrs.contains(&ip)
    }
}
