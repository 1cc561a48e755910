//! The four ways the table groups exchanges ([`Group`]) and the key of one row ([`RowKey`]).
//!
//! - **connection**: one TCP connection, its tuple client → server plus the moment the kernel
//!   first saw it (a tuple reused by a new connection is a new row);
//! - **server**: the server's `ip:port`;
//! - **endpoint**: the server, the method and the path template (`/users/{id}`, see
//!   [`PathTemplate`]);
//! - **client**: the client's address;
//! - **process**: a local process and the side it is on (server or client): an exchange counts
//!   in its server's process row and in its client's.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use super::{Exchange, Method, NetnsId, PathTemplate, ProcessId, Tuple};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    #[default]
    Connection,
    Server,
    Endpoint,
    Client,
    Process,
}

/// A set of groupings: those a run keeps rows for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Groups(u8);

impl Groups {
    pub const ALL: Groups = Groups((1 << Group::ALL.len()) - 1);

    pub const fn of(groups: &[Group]) -> Groups {
        let mut bits = 0;
        let mut i = 0;
        while i < groups.len() {
            bits |= 1 << groups[i] as u8;
            i += 1;
        }
        Groups(bits)
    }

    pub const fn contains(self, group: Group) -> bool {
        self.0 & (1 << group as u8) != 0
    }
}

impl Group {
    /// Every grouping, in the order the dashboard's key cycles through them.
    pub const ALL: [Group; 5] = [
        Group::Connection,
        Group::Server,
        Group::Endpoint,
        Group::Client,
        Group::Process,
    ];

    /// The word on the command line (`--group`), in the JSON summary and on screen.
    pub const fn name(self) -> &'static str {
        match self {
            Group::Connection => "connection",
            Group::Server => "server",
            Group::Endpoint => "endpoint",
            Group::Client => "client",
            Group::Process => "process",
        }
    }

    /// What its rows are, in the plural: `connections`, `processes`.
    pub fn plural(self) -> String {
        match self {
            Group::Process => "processes".to_owned(),
            other => format!("{}s", other.name()),
        }
    }

    /// The next grouping in [`Group::ALL`]'s order, wrapping around.
    pub fn next(self) -> Group {
        let i = Group::ALL.iter().position(|g| *g == self).unwrap_or(0);
        Group::ALL[(i + 1) % Group::ALL.len()]
    }

    /// The keys of the rows `e` counts in: one, or in the process grouping two (its server's
    /// and its client's).
    pub fn keys(self, e: &Exchange) -> impl Iterator<Item = RowKey> {
        let client = (self == Group::Process).then_some(RowKey::Process {
            side: Side::Client,
            process: e.processes.client,
        });
        std::iter::once(self.key(e)).chain(client)
    }

    /// The key of the row `e` counts in (in the process grouping, its server's).
    pub fn key(self, e: &Exchange) -> RowKey {
        match self {
            Group::Connection => RowKey::Connection {
                netns: e.netns,
                tuple: e.tuple,
                conn_start_ns: e.conn_start_ns,
            },
            Group::Server => RowKey::Server {
                netns: e.netns,
                server: e.tuple.server,
            },
            Group::Endpoint => RowKey::Endpoint {
                netns: e.netns,
                server: e.tuple.server,
                method: e.method,
                template: PathTemplate::of(e.path.as_str()),
            },
            Group::Client => RowKey::Client {
                netns: e.netns,
                ip: e.tuple.client.ip(),
            },
            Group::Process => RowKey::Process {
                side: Side::Server,
                process: e.processes.server,
            },
        }
    }
}

/// Which end of a connection a process is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    Server,
    Client,
}

impl Side {
    pub const fn name(self) -> &'static str {
        match self {
            Side::Server => "server",
            Side::Client => "client",
        }
    }
}

impl fmt::Display for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a grouping (connection, server, endpoint, client, process)")]
pub struct GroupError(String);

impl FromStr for Group {
    type Err = GroupError;

    fn from_str(s: &str) -> Result<Group, GroupError> {
        Group::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| GroupError(s.to_owned()))
    }
}

/// What one row of a [`Group`] stands for. Rows of addresses are per network namespace (the
/// same address in two namespaces is two servers); a process is one whatever it talks in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RowKey {
    Connection {
        netns: NetnsId,
        tuple: Tuple,
        /// CLOCK_MONOTONIC ns (capture time with `--read`) at which the connection was first
        /// seen: tells a reused tuple's connections apart.
        conn_start_ns: u64,
    },
    Server {
        netns: NetnsId,
        server: SocketAddr,
    },
    Endpoint {
        netns: NetnsId,
        server: SocketAddr,
        method: Option<Method>,
        template: PathTemplate,
    },
    Client {
        netns: NetnsId,
        ip: IpAddr,
    },
    Process {
        side: Side,
        process: ProcessId,
    },
}

impl RowKey {
    pub fn group(&self) -> Group {
        match self {
            RowKey::Connection { .. } => Group::Connection,
            RowKey::Server { .. } => Group::Server,
            RowKey::Endpoint { .. } => Group::Endpoint,
            RowKey::Client { .. } => Group::Client,
            RowKey::Process { .. } => Group::Process,
        }
    }

    /// The client side this row is about, when it is about one address and port.
    pub fn client(&self) -> Option<SocketAddr> {
        match self {
            RowKey::Connection { tuple, .. } => Some(tuple.client),
            _ => None,
        }
    }

    /// The server this row is about, when it is about one.
    pub fn server(&self) -> Option<SocketAddr> {
        match self {
            RowKey::Connection { tuple, .. } => Some(tuple.server),
            RowKey::Server { server, .. } | RowKey::Endpoint { server, .. } => Some(*server),
            RowKey::Client { .. } | RowKey::Process { .. } => None,
        }
    }

    /// The client address this row is about, when it is about one.
    pub fn client_ip(&self) -> Option<IpAddr> {
        match self {
            RowKey::Connection { tuple, .. } => Some(tuple.client.ip()),
            RowKey::Client { ip, .. } => Some(*ip),
            _ => None,
        }
    }

    /// The network namespace of a row of addresses (a process row has none).
    pub fn netns(&self) -> Option<NetnsId> {
        match self {
            RowKey::Connection { netns, .. }
            | RowKey::Server { netns, .. }
            | RowKey::Endpoint { netns, .. }
            | RowKey::Client { netns, .. } => Some(*netns),
            RowKey::Process { .. } => None,
        }
    }

    /// The tuple of a connection row.
    pub fn tuple(&self) -> Option<Tuple> {
        match self {
            RowKey::Connection { tuple, .. } => Some(*tuple),
            _ => None,
        }
    }
}

impl fmt::Display for RowKey {
    /// `client → server`, `server`, `server METHOD /template`, `client`; IPv6 in brackets.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowKey::Connection { tuple, .. } => write!(f, "{tuple}"),
            RowKey::Server { server, .. } => write!(f, "{server}"),
            RowKey::Endpoint {
                server,
                method,
                template,
                ..
            } => write!(
                f,
                "{server} {} {template}",
                method.as_ref().map_or("?", Method::as_str)
            ),
            RowKey::Client {
                ip: IpAddr::V6(ip), ..
            } => write!(f, "[{ip}]"),
            RowKey::Client { ip, .. } => write!(f, "{ip}"),
            RowKey::Process { side, process } => write!(f, "{process} ({})", side.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::record;

    #[test]
    fn each_group_keys_an_exchange_by_its_own_parts() {
        let mut e = record(40000, 8080, 1, 10, 200);
        e.path = crate::model::PathPrefix::new("/users/42?x=1");
        assert_eq!(
            Group::Connection.key(&e).to_string(),
            "10.0.0.1:40000 → 10.0.0.2:8080"
        );
        assert_eq!(Group::Server.key(&e).to_string(), "10.0.0.2:8080");
        assert_eq!(
            Group::Endpoint.key(&e).to_string(),
            "10.0.0.2:8080 GET /users/{id}"
        );
        assert_eq!(Group::Client.key(&e).to_string(), "10.0.0.1");
        let mut reused = e;
        reused.conn_start_ns += 1;
        assert_ne!(Group::Connection.key(&e), Group::Connection.key(&reused));
        assert_eq!(Group::Server.key(&e), Group::Server.key(&reused));
    }

    #[test]
    fn names_parse_back_and_cycle() {
        for g in Group::ALL {
            assert_eq!(g.name().parse::<Group>(), Ok(g));
        }
        assert_eq!("ENDPOINT".parse::<Group>(), Ok(Group::Endpoint));
        assert_eq!(
            "host".parse::<Group>().unwrap_err().to_string(),
            "`host` is not a grouping (connection, server, endpoint, client, process)"
        );
        assert_eq!(Group::Client.next(), Group::Process);
        assert_eq!(Group::Process.next(), Group::Connection);
        assert_eq!(Group::Connection.next(), Group::Server);
    }
}
