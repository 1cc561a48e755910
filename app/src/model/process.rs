//! The processes on either side of a connection, as exchanges carry them: a [`ProcessId`] per
//! side, an index into one table of the [`ProcessInfo`]s seen in this run. The table is
//! append-only and shared by the whole process (the collector adds to it; rows, filters, the
//! summary and the exports read it), so an exchange stays `Copy` and a row key can name a
//! process.

use std::{
    collections::HashMap,
    fmt,
    sync::{OnceLock, RwLock},
};

/// What is known of one side's process, as an id into the table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessId(u32);

/// Processes the table holds before it stops adding (every later one is [`ProcessId::UNKNOWN`],
/// counted): a bound for runs that see endless short-lived clients.
pub const MAX_PROCESSES: usize = 65_536;

impl ProcessId {
    /// Nobody looked (a capture file, or a run without attribution).
    pub const NOT_LOOKED_UP: ProcessId = ProcessId(0);
    /// On this host, but no process could be found for it (the socket was gone, or the
    /// process's file descriptors could not be read).
    pub const UNKNOWN: ProcessId = ProcessId(1);
    /// Not on this host (or not in this network namespace): a remote peer.
    pub const REMOTE: ProcessId = ProcessId(2);
    const FIRST_PROCESS: u32 = 3;

    /// A process was found (its info is in the table).
    pub fn is_process(self) -> bool {
        self.0 >= Self::FIRST_PROCESS
    }

    /// The process's info, when this id names one.
    pub fn info(self) -> Option<ProcessInfo> {
        if !self.is_process() {
            return None;
        }
        let table = table().read().unwrap_or_else(|p| p.into_inner());
        table
            .infos
            .get((self.0 - Self::FIRST_PROCESS) as usize)
            .cloned()
    }

    /// The id of `info`, added to the table if new.
    pub fn intern(info: ProcessInfo) -> ProcessId {
        if let Some(&id) = table()
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .index
            .get(&info)
        {
            return id;
        }
        let mut table = table().write().unwrap_or_else(|p| p.into_inner());
        if let Some(&id) = table.index.get(&info) {
            return id;
        }
        if table.infos.len() >= MAX_PROCESSES {
            return ProcessId::UNKNOWN;
        }
        let id = ProcessId(Self::FIRST_PROCESS + table.infos.len() as u32);
        table.infos.push(info.clone());
        table.index.insert(info, id);
        id
    }
}

impl fmt::Display for ProcessId {
    /// `nginx[1234]`, `nginx[?]` (a listening socket several processes share), `?`, `remote`,
    /// or `-` when nobody looked.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ProcessId::NOT_LOOKED_UP => f.write_str("-"),
            ProcessId::UNKNOWN => f.write_str("?"),
            ProcessId::REMOTE => f.write_str("remote"),
            id => match id.info() {
                Some(info) => write!(f, "{info}"),
                None => f.write_str("?"),
            },
        }
    }
}

/// A process on one side of a connection.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ProcessInfo {
    /// `None` when several processes hold the socket (a listening socket that a server's
    /// workers share): the pid is never guessed.
    pub pid: Option<u32>,
    /// Its command name (`/proc/PID/comm`).
    pub comm: String,
    /// Its systemd unit or container, from its cgroup: `nginx.service`, `docker:0123456789ab`.
    pub unit: Option<String>,
}

impl fmt::Display for ProcessInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(pid) => write!(f, "{}[{pid}]", self.comm),
            None => write!(f, "{}[?]", self.comm),
        }
    }
}

#[derive(Default)]
struct Table {
    infos: Vec<ProcessInfo>,
    index: HashMap<ProcessInfo, ProcessId>,
}

fn table() -> &'static RwLock<Table> {
    static TABLE: OnceLock<RwLock<Table>> = OnceLock::new();
    TABLE.get_or_init(RwLock::default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_processes_once_and_say_what_is_not_known() {
        let nginx = ProcessInfo {
            pid: Some(4242),
            comm: "nginx".into(),
            unit: Some("nginx.service".into()),
        };
        let a = ProcessId::intern(nginx.clone());
        assert_eq!(ProcessId::intern(nginx.clone()), a);
        assert!(a.is_process());
        assert_eq!(a.info(), Some(nginx));
        assert_eq!(a.to_string(), "nginx[4242]");
        let shared = ProcessId::intern(ProcessInfo {
            pid: None,
            comm: "nginx".into(),
            unit: None,
        });
        assert_ne!(shared, a);
        assert_eq!(shared.to_string(), "nginx[?]");
        assert_eq!(ProcessId::UNKNOWN.to_string(), "?");
        assert_eq!(ProcessId::REMOTE.to_string(), "remote");
        assert_eq!(ProcessId::NOT_LOOKED_UP.to_string(), "-");
        assert_eq!(ProcessId::UNKNOWN.info(), None);
        assert_eq!(ProcessId::default(), ProcessId::NOT_LOOKED_UP);
    }
}
