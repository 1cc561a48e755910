//! Attribution: which local process is on each side of a TCP connection, answered from user
//! space, cheaply and incrementally, for the tuples of the exchanges httptop just saw.
//!
//! For each end of a [`Tuple`] whose address is one of this network namespace's (`local`):
//! an exact sock_diag lookup by socket id (`diag`, batched: one `send` per 64 lookups) gives
//! the socket's inode, the fd index (`fds`) the processes holding it, and `owner` their comm
//! and unit. A V4 end is looked up as AF_INET, then as a dual-stack AF_INET6 socket holding the
//! V4-mapped connection. A connection already gone, or whose server socket no process is found
//! holding (closed while the fds were read), falls back, on the server side, to the owner of the
//! LISTEN socket on its address (or on the wildcard address of its port), from a dump of the
//! LISTEN sockets made at most once a second and only when a fallback needs it.
//!
//! An end the kernel's owners probe told of ([`Attributor::told`]: the process that connected
//! it, or that first read it, as an accepted socket's server does) is named by that process,
//! with no lookup at all, and even once that process has exited (then by the comm the kernel
//! gave; its unit unknown). The search above is for the rest: connections made before httptop
//! started, and records the probe lost.
//!
//! Several processes holding one socket (prefork workers sharing a listener) are one owner
//! without a pid when they share a comm, and unknown when they do not: a pid is never guessed.
//!
//! Answers are cached per tuple while the connection lives (until [`Attributor::closed`],
//! a minute without a lookup, or eviction of the oldest past 100,000 tuples), so a keep-alive
//! connection costs one lookup. An answer with an unknown side is cached for 5 s only.
//!
//! # Cost
//!
//! Per new connection: one or two sock_diag lookups per local end, and about one readlink per
//! local end for the fd the socket got (see `fds`: the index knows which fd numbers are free,
//! the kernel gives a new fd the lowest free one, and `stat` of `/proc/PID/fd` counts a
//! process's fds). Reading a whole fd directory happens for a process never seen, and, within
//! a budget of 0.5 % of a core, when a socket is found nowhere cheaper. Telling the attributor
//! which connections ended ([`Attributor::closed`]) lets it re-read just their fds when the
//! kernel gives their numbers to new sockets; without it, such a socket is found by a resync.

mod diag;
mod fds;
mod local;
mod owner;
#[cfg(test)]
mod tests;
mod told;

use std::{
    collections::VecDeque,
    net::{IpAddr, Ipv6Addr, SocketAddr},
    time::{Duration, Instant},
};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

pub use owner::unit_from_cgroup;
pub use told::Told;

use self::{
    diag::{Diag, DiagSocket, Listening, Query, Reply},
    fds::{ProcIndex, Search},
    local::LocalAddrs,
    told::ToldEnds,
};
use crate::model::Tuple;

/// A process (or processes sharing a comm, then without a pid) holding a socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    pub pid: Option<u32>,
    pub comm: String,
    /// The systemd unit (`nginx.service`, `session-3.scope`) or container (`docker:<12 hex>`)
    /// of its cgroup; `None` at the root.
    pub unit: Option<String>,
}

/// Who is on one end of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// The process holding the connection's socket.
    Process(Owner),
    /// The connection is gone; this owns the socket listening on its server address.
    Listener(Owner),
    /// The address is not one of this network namespace's.
    NotLocal,
    /// A local end whose holder could not be told: gone, several processes with different
    /// comms, or not readable (see [`Attributor::degraded`]).
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribution {
    pub client: Side,
    pub server: Side,
}

/// Counters since [`Attributor::new`]; the last three are gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AttributionStats {
    /// Calls of [`Attributor::attribute`].
    pub calls: u64,
    /// Tuples given to it.
    pub tuples: u64,
    /// Tuples answered from the cache.
    pub cached: u64,
    /// Exact sock_diag lookups (an end not found as AF_INET is looked up again as AF_INET6).
    pub lookups: u64,
    /// Lookups that got no answer, or an error other than "no such socket".
    pub lookup_errors: u64,
    /// Ends answered without the cache, by kind: from the kernel's record of who held it,
    /// from the process holding its socket, from the owner of its listener, ...
    pub by_kernel: u64,
    pub by_socket: u64,
    pub by_listener: u64,
    pub not_local: u64,
    pub unknown: u64,
    /// Dumps of the LISTEN sockets (two requests each, one per family).
    pub listener_dumps: u64,
    /// Searches of the fd index for inodes it did not know (at most one per call).
    pub scans: u64,
    /// Wanted inodes a search did not find.
    pub unresolved: u64,
    /// `stat`s of a `/proc/PID/fd` (the cheap check of a pid).
    pub pid_checks: u64,
    /// Listings of `/proc`.
    pub proc_listings: u64,
    /// Whole reads of a `/proc/PID/fd` directory.
    pub fd_scans: u64,
    /// Readlinks of a `/proc/PID/fd/N`.
    pub readlinks: u64,
    /// Processes and socket inodes in the fd index; tuples in the cache.
    pub pids: u64,
    pub indexed_inodes: u64,
    pub cached_tuples: u64,
    /// Ends the kernel told of, kept.
    pub told: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AttributionError {
    #[error("opening a NETLINK_SOCK_DIAG socket: {0}")]
    Netlink(#[source] std::io::Error),
    #[error(transparent)]
    Netns(#[from] crate::netns::NetnsError),
}

/// Tuples cached at most; the oldest is evicted first.
const CACHE_CAP: usize = 100_000;
/// A cached connection not looked up for this long is forgotten.
const IDLE: Duration = Duration::from_secs(60);
/// An answer with an unknown end is tried again after this.
const RETRY: Duration = Duration::from_secs(1);
/// The LISTEN sockets are dumped again when older than this.
const LISTENERS_REFRESH: Duration = Duration::from_secs(1);
/// Keys of each hint map; past it the map starts again.
const AFFINITY_CAP: usize = 4096;
/// Ends the kernel told of, kept per generation.
const TOLD_CAP: usize = 65_536;

pub struct Attributor {
    diag: Diag,
    local: LocalAddrs,
    listeners: Listeners,
    procs: ProcIndex,
    cache: AnswerCache,
    /// Who held the sockets of a server address lately: local server ends, by `tuple.server`,
    /// and local client ends, by the server they talk to.
    server_pids: HashMap<SocketAddr, Vec<u32>>,
    client_pids: HashMap<SocketAddr, Vec<u32>>,
    told: ToldEnds,
    /// Ends of connections ended, forgotten by `told` after the next lookup.
    ended_told: Vec<(SocketAddr, SocketAddr)>,
    /// Owners of the processes the kernel named, as `/proc` gave them (with their unit), by pid.
    told_owners: HashMap<u32, Owner>,
    stats: AttributionStats,
    queries: Vec<Query>,
    replies: Vec<Reply>,
}

/// What was learnt about one end before the fd index is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    NotLocal,
    /// An end the kernel told of.
    Told(Told),
    Socket(DiagSocket),
    /// No held socket: the connection is gone (or not accepted yet).
    Gone,
    /// A held server socket that no process was found holding: closed between the lookup and
    /// the search, or beyond the search's budget. Named, like a gone one, by its listener.
    Unheld(DiagSocket),
    Failed,
}

const CLIENT: usize = 0;
const SERVER: usize = 1;

/// `(local, remote)` of one end.
fn ends(t: &Tuple, end: usize) -> (SocketAddr, SocketAddr) {
    if end == CLIENT {
        (t.client, t.server)
    } else {
        (t.server, t.client)
    }
}

fn canonical(a: SocketAddr) -> SocketAddr {
    match a {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => a,
        },
        SocketAddr::V4(_) => a,
    }
}

impl Attributor {
    /// In the calling thread's network namespace (where its netlink socket is opened).
    pub fn new() -> Result<Attributor, AttributionError> {
        Ok(Attributor {
            diag: Diag::new().map_err(AttributionError::Netlink)?,
            local: LocalAddrs::new(),
            listeners: Listeners::default(),
            procs: ProcIndex::new(),
            cache: AnswerCache::new(CACHE_CAP),
            server_pids: HashMap::new(),
            client_pids: HashMap::new(),
            told: ToldEnds::new(TOLD_CAP),
            ended_told: Vec::new(),
            told_owners: HashMap::new(),
            stats: AttributionStats::default(),
            queries: Vec::new(),
            replies: Vec::new(),
        })
    }

    /// In another network namespace: its sock_diag socket is opened there and its addresses
    /// read there (socket inodes and `/proc` are the same from every namespace).
    pub fn in_netns(space: crate::netns::SharedNetns) -> Result<Attributor, AttributionError> {
        let mut attributor = space.within(Attributor::new)??;
        attributor.local = LocalAddrs::in_netns(space);
        Ok(attributor)
    }

    /// One answer per tuple, in order. Refreshes what it caches at most once per call.
    pub fn attribute(&mut self, tuples: &[Tuple]) -> Vec<Attribution> {
        let now = Instant::now();
        self.stats.calls += 1;
        self.stats.tuples += tuples.len() as u64;
        self.cache.maintain(now);
        let unknown = Attribution {
            client: Side::Unknown,
            server: Side::Unknown,
        };
        let mut out = vec![unknown; tuples.len()];
        let mut pending: Vec<Tuple> = Vec::new();
        let mut index_of: HashMap<Tuple, usize> = HashMap::new();
        let mut waiting: Vec<(usize, usize)> = Vec::new();
        for (i, t) in tuples.iter().enumerate() {
            let t = Tuple {
                client: canonical(t.client),
                server: canonical(t.server),
            };
            if let Some(answer) = self.cache.get(&t, now) {
                out[i] = answer.clone();
                self.stats.cached += 1;
                continue;
            }
            let p = *index_of.entry(t).or_insert_with(|| {
                pending.push(t);
                pending.len() - 1
            });
            waiting.push((i, p));
        }
        if !pending.is_empty() {
            let mut answers: Vec<Option<Attribution>> =
                self.resolve(&pending, now).into_iter().map(Some).collect();
            let mut uses = vec![0u32; pending.len()];
            for &(_, p) in &waiting {
                uses[p] += 1;
            }
            for (i, p) in waiting {
                uses[p] -= 1;
                let answer = if uses[p] == 0 {
                    answers[p].take()
                } else {
                    answers[p].clone()
                };
                out[i] = answer.expect("taken at its last use only");
            }
        }
        self.forget_ended_told();
        out
    }

    fn forget_ended_told(&mut self) {
        for (local, remote) in self.ended_told.drain(..) {
            self.told.remove(local, remote);
        }
    }

    /// An end the kernel told of: it is named by this process from now on.
    pub fn told(&mut self, c: Told) {
        self.told.insert(Told {
            local: canonical(c.local),
            remote: canonical(c.remote),
            ..c
        });
    }

    /// The connections ended: their cached answers go, and the fds that held their sockets are
    /// read again when their processes are next checked (the kernel reuses fd numbers). Who
    /// held them is forgotten after the next [`Attributor::attribute`]: a connection's
    /// last exchange is often named in the batch that tells of its end.
    pub fn closed(&mut self, tuples: &[Tuple]) {
        self.forget_ended_told();
        for t in tuples {
            let t = Tuple {
                client: canonical(t.client),
                server: canonical(t.server),
            };
            self.ended_told.push((t.client, t.server));
            self.ended_told.push((t.server, t.client));
            if let Some(inodes) = self.cache.remove(&t) {
                for inode in inodes.into_iter().filter(|&i| i != 0) {
                    self.procs.mark_closed(inode);
                }
            }
        }
    }

    pub fn stats(&self) -> AttributionStats {
        AttributionStats {
            lookup_errors: self.diag.errors,
            pids: self.procs.pids() as u64,
            indexed_inodes: self.procs.indexed_inodes() as u64,
            cached_tuples: self.cache.len() as u64,
            told: self.told.len() as u64,
            ..self.stats
        }
    }

    /// Why some answers are unknown for good, when it is a lack of permission.
    pub fn degraded(&self) -> Option<&str> {
        self.procs.degraded()
    }

    fn resolve(&mut self, pending: &[Tuple], now: Instant) -> Vec<Attribution> {
        self.local.refresh(now);
        let mut found = vec![[End::Failed; 2]; pending.len()];
        let mut asked: Vec<(usize, usize)> = Vec::new();
        self.queries.clear();
        for (p, t) in pending.iter().enumerate() {
            for end in [CLIENT, SERVER] {
                let (local, remote) = ends(t, end);
                if let Some(c) = self.told.get(local, remote) {
                    found[p][end] = End::Told(*c);
                } else if self.local.contains(local.ip()) {
                    self.queries.push(Query::new(local, remote));
                    asked.push((p, end));
                } else {
                    found[p][end] = End::NotLocal;
                }
            }
        }
        self.lookup_all();
        for (&(p, end), reply) in asked.iter().zip(&self.replies) {
            found[p][end] = match *reply {
                Reply::Found(s) if s.is_held_connection() => End::Socket(s),
                Reply::Found(_) | Reply::Missing => End::Gone,
                Reply::Failed => End::Failed,
            };
        }
        if found.iter().any(|f| f[SERVER] == End::Gone) {
            self.listeners.refresh(&mut self.diag, now, &mut self.stats);
        }
        self.search(pending, &found, now);
        // A short-lived connection's server often closes its socket within the search: the
        // listener's owner names it then, as when the lookup found it gone already.
        let mut unheld = false;
        for f in &mut found {
            if let End::Socket(s) = f[SERVER]
                && !self.procs.knows(s.inode)
            {
                f[SERVER] = End::Unheld(s);
                unheld = true;
            }
        }
        if unheld {
            self.listeners.refresh(&mut self.diag, now, &mut self.stats);
            self.search(pending, &found, now);
        }
        let mut answers = Vec::with_capacity(pending.len());
        let mut pids = Vec::new();
        for (t, f) in pending.iter().zip(&found) {
            let mut sides = [Side::Unknown, Side::Unknown];
            for end in [CLIENT, SERVER] {
                sides[end] = match f[end] {
                    End::NotLocal => Side::NotLocal,
                    End::Told(c) => Side::Process(self.told_owner(&c)),
                    End::Socket(s) => {
                        pids.clear();
                        self.procs.holders(s.inode, &mut pids);
                        self.note_hint(t, end, &pids);
                        self.owner_of(&pids).map_or(Side::Unknown, Side::Process)
                    }
                    End::Gone | End::Unheld(_) if end == SERVER => {
                        pids.clear();
                        for l in self.listeners.find(t.server) {
                            self.procs.holders(l.inode, &mut pids);
                        }
                        self.note_hint(t, end, &pids);
                        self.owner_of(&pids).map_or(Side::Unknown, Side::Listener)
                    }
                    End::Gone | End::Unheld(_) | End::Failed => Side::Unknown,
                };
                match sides[end] {
                    Side::Process(_) if matches!(f[end], End::Told(_)) => self.stats.by_kernel += 1,
                    Side::Process(_) => self.stats.by_socket += 1,
                    Side::Listener(_) => self.stats.by_listener += 1,
                    Side::NotLocal => self.stats.not_local += 1,
                    Side::Unknown => self.stats.unknown += 1,
                }
            }
            let [client, server] = sides;
            let answer = Attribution { client, server };
            // Cached only while the connection lives: every local end's socket was found.
            let live = f.iter().all(|e| {
                matches!(
                    e,
                    End::Told(_) | End::Socket(_) | End::Unheld(_) | End::NotLocal
                )
            });
            if live {
                let inode = |e: &End| match e {
                    End::Socket(s) | End::Unheld(s) => s.inode,
                    _ => 0,
                };
                // A live socket named by its listener may yet be found held.
                let retry = (answer.client == Side::Unknown
                    || answer.server == Side::Unknown
                    || matches!(f[SERVER], End::Unheld(_)))
                .then(|| now + RETRY);
                self.cache.insert(
                    *t,
                    answer.clone(),
                    [inode(&f[CLIENT]), inode(&f[SERVER])],
                    retry,
                    now,
                );
            }
            answers.push(answer);
        }
        answers
    }

    /// Exact lookups of `self.queries` into `self.replies`; V4 ends not found as AF_INET are
    /// looked up again as the V4-mapped connection of a dual-stack AF_INET6 socket.
    fn lookup_all(&mut self) {
        self.diag.lookup(&self.queries, &mut self.replies);
        self.stats.lookups += self.queries.len() as u64;
        let (retry_of, retries): (Vec<usize>, Vec<Query>) = self
            .replies
            .iter()
            .zip(&self.queries)
            .enumerate()
            .filter(|(_, (r, _))| **r == Reply::Missing)
            .filter_map(|(k, (_, q))| Some((k, q.mapped()?)))
            .unzip();
        if retries.is_empty() {
            return;
        }
        let mut again = Vec::new();
        self.diag.lookup(&retries, &mut again);
        self.stats.lookups += retries.len() as u64;
        for (k, reply) in retry_of.into_iter().zip(again) {
            if let Reply::Found(s) = reply
                && s.is_held_connection()
            {
                self.replies[k] = reply;
            }
        }
    }

    /// One search of the fd index for every socket (and fallback listener) it does not know.
    fn search(&mut self, pending: &[Tuple], found: &[[End; 2]], now: Instant) {
        let mut wanted = HashSet::new();
        let mut hints: Vec<u32> = Vec::new();
        let mut uids = HashSet::new();
        let mut thorough = false;
        let mut hint = |pids: Option<&Vec<u32>>| {
            for &pid in pids.into_iter().flatten() {
                if !hints.contains(&pid) {
                    hints.push(pid);
                }
            }
        };
        for (t, f) in pending.iter().zip(found) {
            for end in [CLIENT, SERVER] {
                match f[end] {
                    End::Socket(s) if !self.procs.knows(s.inode) => {
                        wanted.insert(s.inode);
                        uids.insert(s.uid);
                        hint(if end == CLIENT {
                            self.client_pids.get(&t.server)
                        } else {
                            self.server_pids.get(&t.server)
                        });
                    }
                    End::Gone | End::Unheld(_) if end == SERVER => {
                        for l in self.listeners.find(t.server) {
                            if !self.procs.knows(l.inode) {
                                wanted.insert(l.inode);
                                uids.insert(l.uid);
                                thorough = true;
                                hint(self.server_pids.get(&t.server));
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        if wanted.is_empty() {
            return;
        }
        self.stats.scans += 1;
        let (cache, listeners) = (&self.cache, &self.listeners);
        let live = |inode: u64| cache.is_live(inode) || listeners.inodes.contains(&inode);
        let mut search = Search {
            wanted,
            hints,
            uids,
            thorough,
            live: &live,
        };
        self.procs.search(&mut search, &mut self.stats, now);
        self.stats.unresolved += search.wanted.len() as u64;
    }

    fn note_hint(&mut self, t: &Tuple, end: usize, pids: &[u32]) {
        if pids.is_empty() {
            return;
        }
        let map = if end == CLIENT {
            &mut self.client_pids
        } else {
            &mut self.server_pids
        };
        if map.get(&t.server).is_some_and(|p| p == pids) {
            return;
        }
        if map.len() >= AFFINITY_CAP && !map.contains_key(&t.server) {
            map.clear();
        }
        map.insert(t.server, pids.to_vec());
    }

    /// The process the kernel named, with its unit while `/proc` has it (read once per pid, and
    /// again when the comm the kernel gave differs: the pid was reused), else as the kernel
    /// gave it.
    fn told_owner(&mut self, c: &Told) -> Owner {
        if let Some(o) = self.told_owners.get(&c.pid)
            && o.comm == c.comm()
        {
            return o.clone();
        }
        match owner::read_owner(c.pid).filter(|o| o.comm == c.comm()) {
            Some(o) => {
                if self.told_owners.len() >= AFFINITY_CAP {
                    self.told_owners.clear();
                }
                self.told_owners.insert(c.pid, o.clone());
                o
            }
            None => c.owner(),
        }
    }

    /// One holder's owner; several holders' when they share a comm (then without a pid).
    fn owner_of(&self, pids: &[u32]) -> Option<Owner> {
        if let [pid] = pids {
            return self.procs.owner(*pid).cloned();
        }
        let owners: Vec<&Owner> = pids.iter().filter_map(|&p| self.procs.owner(p)).collect();
        let (first, rest) = owners.split_first()?;
        if rest.is_empty() {
            return Some((*first).clone());
        }
        rest.iter().all(|o| o.comm == first.comm).then(|| Owner {
            pid: None,
            comm: first.comm.clone(),
            unit: rest
                .iter()
                .all(|o| o.unit == first.unit)
                .then(|| first.unit.clone())
                .flatten(),
        })
    }
}

/// The LISTEN sockets, by address.
#[derive(Default)]
struct Listeners {
    by_addr: HashMap<(IpAddr, u16), Vec<Listening>>,
    inodes: HashSet<u64>,
    refreshed: Option<Instant>,
    scratch: Vec<Listening>,
}

impl Listeners {
    fn refresh(&mut self, diag: &mut Diag, now: Instant, stats: &mut AttributionStats) {
        if self
            .refreshed
            .is_some_and(|at| now.duration_since(at) < LISTENERS_REFRESH)
        {
            return;
        }
        self.refreshed = Some(now);
        stats.listener_dumps += 1;
        if let Err(e) = diag.listeners(&mut self.scratch) {
            log::debug!("dumping LISTEN sockets: {e}");
            return;
        }
        self.by_addr.clear();
        self.inodes.clear();
        for l in self.scratch.drain(..) {
            self.inodes.insert(l.inode);
            self.by_addr.entry((l.addr, l.port)).or_default().push(l);
        }
    }

    /// The sockets listening on `server`'s exact address, else on its port's wildcard (for a
    /// V4 address, `0.0.0.0` and then a dual-stack `::`).
    fn find(&self, server: SocketAddr) -> &[Listening] {
        let port = server.port();
        let mut keys = vec![(server.ip(), port), (diag::unspecified(server.ip()), port)];
        if server.is_ipv4() {
            keys.push((IpAddr::V6(Ipv6Addr::UNSPECIFIED), port));
        }
        keys.iter()
            .find_map(|k| self.by_addr.get(k))
            .map_or(&[], Vec::as_slice)
    }
}

struct Entry {
    answer: Attribution,
    /// The local ends' socket inodes (0 for a remote end).
    inodes: [u64; 2],
    seq: u64,
    queued: Instant,
    seen: Instant,
    expires: Option<Instant>,
}

/// Answers by tuple, bounded, oldest evicted first; connections idle for a minute forgotten
/// (each entry is looked at again a minute after it was queued, and queued again if used).
struct AnswerCache {
    map: HashMap<Tuple, Entry>,
    order: VecDeque<(Tuple, u64)>,
    /// How many cached answers name each socket inode.
    live: HashMap<u64, u32>,
    seq: u64,
    cap: usize,
}

impl AnswerCache {
    fn new(cap: usize) -> AnswerCache {
        AnswerCache {
            map: HashMap::new(),
            order: VecDeque::new(),
            live: HashMap::new(),
            seq: 0,
            cap,
        }
    }

    fn len(&self) -> usize {
        self.map.len()
    }

    fn is_live(&self, inode: u64) -> bool {
        self.live.contains_key(&inode)
    }

    fn get(&mut self, t: &Tuple, now: Instant) -> Option<&Attribution> {
        let e = self.map.get_mut(t)?;
        if e.expires.is_some_and(|at| now >= at) {
            self.remove(t);
            return None;
        }
        e.seen = now;
        self.map.get(t).map(|e| &e.answer)
    }

    fn insert(
        &mut self,
        t: Tuple,
        answer: Attribution,
        inodes: [u64; 2],
        expires: Option<Instant>,
        now: Instant,
    ) {
        self.remove(&t);
        for inode in inodes.into_iter().filter(|&i| i != 0) {
            *self.live.entry(inode).or_default() += 1;
        }
        self.seq += 1;
        self.map.insert(
            t,
            Entry {
                answer,
                inodes,
                seq: self.seq,
                queued: now,
                seen: now,
                expires,
            },
        );
        self.order.push_back((t, self.seq));
        while self.map.len() > self.cap {
            let Some((old, seq)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|e| e.seq == seq) {
                self.remove(&old);
            }
        }
        if self.order.len() > 4 * self.cap.max(1024) {
            let map = &self.map;
            self.order
                .retain(|(t, seq)| map.get(t).is_some_and(|e| e.seq == *seq));
        }
    }

    fn remove(&mut self, t: &Tuple) -> Option<[u64; 2]> {
        let e = self.map.remove(t)?;
        for inode in e.inodes.into_iter().filter(|&i| i != 0) {
            if let Some(n) = self.live.get_mut(&inode) {
                *n -= 1;
                if *n == 0 {
                    self.live.remove(&inode);
                }
            }
        }
        Some(e.inodes)
    }

    /// A bounded step of the idle sweep.
    fn maintain(&mut self, now: Instant) {
        for _ in 0..64 {
            let Some(&(t, seq)) = self.order.front() else {
                return;
            };
            let Some(e) = self.map.get_mut(&t) else {
                self.order.pop_front();
                continue;
            };
            if e.seq != seq {
                self.order.pop_front();
                continue;
            }
            if now.duration_since(e.queued) < IDLE {
                return;
            }
            self.order.pop_front();
            if now.duration_since(e.seen) >= IDLE || e.expires.is_some_and(|at| now >= at) {
                self.remove(&t);
            } else {
                self.seq += 1;
                e.seq = self.seq;
                e.queued = now;
                self.order.push_back((t, self.seq));
            }
        }
    }
}
