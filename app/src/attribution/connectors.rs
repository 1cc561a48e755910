//! Who connected each connection, as the kernel's owners probe told it: `(local, remote)` of a
//! client end → its process. Bounded in two generations: when the newer fills, the older goes,
//! so a connection that never carried HTTP costs memory for a while only, and a live one is
//! found in either.

use std::net::SocketAddr;

use foldhash::{HashMap, HashMapExt};

use super::Owner;

/// A client end the kernel saw a process connect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connected {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub pid: u32,
    /// The process's comm when it connected, NUL-padded.
    pub comm: [u8; 16],
}

impl Connected {
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

pub struct Connectors {
    newer: HashMap<Key, Connected>,
    older: HashMap<Key, Connected>,
    cap: usize,
}

impl Connectors {
    pub fn new(cap: usize) -> Connectors {
        Connectors {
            newer: HashMap::new(),
            older: HashMap::new(),
            cap,
        }
    }

    /// A later connect on the same tuple replaces an earlier one.
    pub fn insert(&mut self, c: Connected) {
        let key = (c.local, c.remote);
        self.older.remove(&key);
        if self.newer.len() >= self.cap && !self.newer.contains_key(&key) {
            self.older = std::mem::replace(&mut self.newer, HashMap::with_capacity(self.cap));
        }
        self.newer.insert(key, c);
    }

    pub fn get(&self, local: SocketAddr, remote: SocketAddr) -> Option<&Connected> {
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

    fn connected(port: u16) -> Connected {
        Connected {
            local: SocketAddr::from(([127, 0, 0, 1], port)),
            remote: SocketAddr::from(([127, 0, 0, 1], 80)),
            pid: u32::from(port),
            comm: *b"curl\0\0\0\0\0\0\0\0\0\0\0\0",
        }
    }

    #[test]
    fn the_older_generation_goes_when_the_newer_fills_and_both_are_found_till_then() {
        let mut c = Connectors::new(2);
        for port in [1, 2, 3] {
            c.insert(connected(port));
        }
        let found = |c: &Connectors, port| {
            c.get(connected(port).local, connected(port).remote)
                .map(|f| f.pid)
        };
        assert_eq!(
            [found(&c, 1), found(&c, 2), found(&c, 3)],
            [Some(1), Some(2), Some(3)]
        );
        c.insert(connected(4));
        assert_eq!(c.len(), 4);
        c.insert(connected(5));
        assert_eq!(c.len(), 3);
        assert_eq!(
            [1, 2, 3, 4, 5].map(|port| found(&c, port)),
            [None, None, Some(3), Some(4), Some(5)]
        );
        c.remove(connected(3).local, connected(3).remote);
        assert_eq!(found(&c, 3), None);
        assert_eq!(connected(1).comm(), "curl");
    }
}
