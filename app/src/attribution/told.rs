//! Who holds each end of a connection, as the kernel's owners probe told it (the process that
//! connected it, or that first read it): `(local, remote)` of an end → its process. Bounded in
//! two generations: when the newer fills, the older goes, so a connection that never carried
//! HTTP costs memory for a while only, and a live one is found in either.

use std::net::{IpAddr, SocketAddr};

use foldhash::{HashMap, HashMapExt};

use probe_common::wire::SocketMade;

use super::Owner;

/// An end of a connection the kernel saw a process connect, or read first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Told {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub pid: u32,
    /// The process's comm then, NUL-padded.
    pub comm: [u8; 16],
}

impl From<&SocketMade> for Told {
    fn from(made: &SocketMade) -> Told {
        let addr = |bytes: [u8; 16], port: u16| {
            let ip = if made.family == libc::AF_INET as u16 {
                IpAddr::from([bytes[0], bytes[1], bytes[2], bytes[3]])
            } else {
                IpAddr::from(bytes)
            };
            SocketAddr::new(ip, port)
        };
        Told {
            local: addr(made.local, made.local_port),
            remote: addr(made.remote, made.remote_port),
            pid: made.tgid,
            comm: made.comm,
        }
    }
}

impl Told {
    pub fn comm(&self) -> &str {
        let len = self.comm.iter().position(|&b| b == 0).unwrap_or(16);
        std::str::from_utf8(&self.comm[..len]).unwrap_or("?")
    }

    /// The owner as the kernel told it, for a process gone before `/proc` could be read.
    pub fn owner(&self) -> Owner {
        Owner {
            pid: Some(self.pid),
            comm: self.comm().to_owned(),
            unit: None,
        }
    }
}

type Key = (SocketAddr, SocketAddr);

pub struct ToldEnds {
    newer: HashMap<Key, Told>,
    older: HashMap<Key, Told>,
    cap: usize,
}

impl ToldEnds {
    pub fn new(cap: usize) -> ToldEnds {
        ToldEnds {
            newer: HashMap::new(),
            older: HashMap::new(),
            cap,
        }
    }

    /// A later record of the same end replaces an earlier one.
    pub fn insert(&mut self, c: Told) {
        let key = (c.local, c.remote);
        self.older.remove(&key);
        if self.newer.len() >= self.cap && !self.newer.contains_key(&key) {
            self.older = std::mem::replace(&mut self.newer, HashMap::with_capacity(self.cap));
        }
        self.newer.insert(key, c);
    }

    pub fn get(&self, local: SocketAddr, remote: SocketAddr) -> Option<&Told> {
        let key = (local, remote);
        self.newer.get(&key).or_else(|| self.older.get(&key))
    }

    pub fn remove(&mut self, local: SocketAddr, remote: SocketAddr) {
        let key = (local, remote);
        self.newer.remove(&key);
        self.older.remove(&key);
    }

    pub fn len(&self) -> usize {
        self.newer.len() + self.older.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn told(port: u16) -> Told {
        Told {
            local: SocketAddr::from(([127, 0, 0, 1], port)),
            remote: SocketAddr::from(([127, 0, 0, 1], 80)),
            pid: u32::from(port),
            comm: *b"curl\0\0\0\0\0\0\0\0\0\0\0\0",
        }
    }

    #[test]
    fn the_older_generation_goes_when_the_newer_fills_and_both_are_found_till_then() {
        let mut c = ToldEnds::new(2);
        for port in [1, 2, 3] {
            c.insert(told(port));
        }
        let found = |c: &ToldEnds, port| c.get(told(port).local, told(port).remote).map(|f| f.pid);
        assert_eq!(
            [found(&c, 1), found(&c, 2), found(&c, 3)],
            [Some(1), Some(2), Some(3)]
        );
        c.insert(told(4));
        assert_eq!(c.len(), 4);
        c.insert(told(5));
        assert_eq!(c.len(), 3);
        assert_eq!(
            [1, 2, 3, 4, 5].map(|port| found(&c, port)),
            [None, None, Some(3), Some(4), Some(5)]
        );
        c.remove(told(3).local, told(3).remote);
        assert_eq!(found(&c, 3), None);
        assert_eq!(told(1).comm(), "curl");
    }
}
