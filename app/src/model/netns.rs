//! Which network namespace an exchange was seen in, as exchanges carry it: a [`NetnsId`], an
//! index into one table of names shared by the whole process (the run adds a name per
//! namespace it watches; rows, filters, the summary and the exports read it). The namespace
//! httptop runs in is always [`NetnsId::OWN`].

use std::{
    fmt,
    sync::{OnceLock, RwLock},
};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NetnsId(u16);

/// Namespaces the table holds (one run watching more is refused when they are added).
pub const MAX_NETNS: usize = 1024;

impl NetnsId {
    /// The namespace httptop runs in (and every exchange of a capture file).
    pub const OWN: NetnsId = NetnsId(0);

    /// Names the namespace httptop runs in (`host`, or its `ip netns` name).
    pub fn set_own_name(name: &str) {
        let mut table = table().write().unwrap_or_else(|p| p.into_inner());
        table[0] = name.to_owned();
    }

    /// The id of the watched namespace `name` (a new one each call: two namespaces may be
    /// given the same name by different paths); `None` past [`MAX_NETNS`].
    pub fn add(name: &str) -> Option<NetnsId> {
        let mut table = table().write().unwrap_or_else(|p| p.into_inner());
        if table.len() >= MAX_NETNS {
            return None;
        }
        table.push(name.to_owned());
        Some(NetnsId((table.len() - 1) as u16))
    }

    /// Its name; `None` for [`NetnsId::OWN`] when no live run named it (a capture file).
    pub fn known_name(self) -> Option<String> {
        Some(self.name()).filter(|n| !n.is_empty())
    }

    pub fn name(self) -> String {
        let table = table().read().unwrap_or_else(|p| p.into_inner());
        table.get(self.0 as usize).cloned().unwrap_or_default()
    }

    /// Whether it is called `name` (no copy of the name made).
    pub fn is_called(self, name: &str) -> bool {
        let table = table().read().unwrap_or_else(|p| p.into_inner());
        table.get(self.0 as usize).is_some_and(|n| n == name)
    }
}

impl fmt::Display for NetnsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

fn table() -> &'static RwLock<Vec<String>> {
    static TABLE: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    // Unnamed until a live run names it: a capture's packets come from no namespace of ours.
    TABLE.get_or_init(|| RwLock::new(vec![String::new()]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_namespace_is_first_and_each_added_one_gets_its_own_id() {
        assert_eq!(NetnsId::default(), NetnsId::OWN);
        let a = NetnsId::add("test-netns-a").unwrap();
        let b = NetnsId::add("test-netns-b").unwrap();
        assert_ne!(a, b);
        assert_ne!(a, NetnsId::OWN);
        assert_eq!(a.to_string(), "test-netns-a");
        assert!(b.is_called("test-netns-b") && !b.is_called("test-netns-a"));
    }
}
