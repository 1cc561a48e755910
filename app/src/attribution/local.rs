//! The addresses of this network namespace: an end whose address is not one of them is not a
//! local socket, and no lookup is spent on it.

use std::{
    collections::HashSet,
    net::IpAddr,
    time::{Duration, Instant},
};

use crate::netns::SharedNetns;

/// Interface addresses change rarely; a second is soon enough to see a new one.
const REFRESH: Duration = Duration::from_secs(1);

pub(super) struct LocalAddrs {
    addrs: HashSet<IpAddr>,
    /// `getifaddrs` has answered at least once: until then every address may be local.
    known: bool,
    refreshed: Option<Instant>,
    /// Another network namespace's addresses, read from inside it; `None`: this process's.
    space: Option<SharedNetns>,
}

impl LocalAddrs {
    pub fn new() -> LocalAddrs {
        LocalAddrs {
            addrs: HashSet::new(),
            known: false,
            refreshed: None,
            space: None,
        }
    }

    pub fn in_netns(space: SharedNetns) -> LocalAddrs {
        LocalAddrs {
            space: Some(space),
            ..LocalAddrs::new()
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
        let read = match &self.space {
            Some(space) => space.within(read_addrs).unwrap_or_else(|e| {
                log::debug!("{e}");
                Err(nix::Error::EPERM)
            }),
            None => read_addrs(),
        };
        match read {
            Ok(addrs) => {
                self.addrs = addrs;
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

/// The addresses of the calling thread's namespace.
fn read_addrs() -> nix::Result<HashSet<IpAddr>> {
    let mut addrs = HashSet::new();
    for ifa in nix::ifaddrs::getifaddrs()? {
        let Some(addr) = ifa.address else { continue };
        if let Some(v4) = addr.as_sockaddr_in() {
            addrs.insert(IpAddr::V4(v4.ip()));
        } else if let Some(v6) = addr.as_sockaddr_in6() {
            addrs.insert(IpAddr::V6(v6.ip()).to_canonical());
        }
    }
    Ok(addrs)
}
