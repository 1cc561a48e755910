//! The fd index: which processes hold which socket inodes, learnt from `/proc/PID/fd` and kept
//! up to date incrementally, with work in proportion to what changed.
//!
//! Per pid it keeps the fd → inode it last read (0 for an fd that is not a socket), the free
//! fd numbers (as runs), and the fds whose socket is known to have closed (`suspects`, from
//! [`ProcIndex::mark_closed`]). Reading a directory of 20,000 fds costs about 25 ms, and a
//! readlink 2 to 3 µs, so the search for an inode the index does not know goes from cheap to
//! dear, and stops as soon as every wanted inode is found:
//!
//! - A, the hinted pids (those that held the other sockets of the same server, or of clients of
//!   it): `check`, i.e. one `stat` of `/proc/PID/fd`, whose size is the process's count of open
//!   fds (Linux ≥ 6.2), then a readlink of each suspect and of as many of the lowest free fd
//!   numbers as there are new fds: the kernel gives a new fd the lowest free number. A few
//!   extra probes cover fds the index thinks open but that closed unseen. A hinted pid's
//!   directory stays open (`KEPT_DIRS`): `fstat` and `readlinkat` on it.
//! - B, every known pid the same way; C, `/proc` listed, pids gone dropped and new ones read
//!   whole; D, a pid's fd directory read again (`resync`): new fds, suspects and fds whose cached
//!   inode is not a live one (not a socket, or no live connection's nor listener's) are read;
//!   only while inodes are still wanted are the rest verified. B, C and D share a budget of 5 ms
//!   of wall time per second (0.5 % of a core, bursts to 200 ms; 1 s to start with, to read the
//!   host's processes once), and a pid is resynced at most every 100 ms, or once per
//!   millisecond per fd it holds when that is longer.
//!
//! An inode a search did not find is answered as unknown; the caller retries it later.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    fs, io,
    os::{
        fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd},
        unix::fs::MetadataExt,
    },
    time::{Duration, Instant},
};

use foldhash::{HashMap, HashMapExt, HashSet};

use super::{AttributionStats, Owner, owner::read_owner};

pub(super) const DENIED: &str = "cannot read other users' /proc/PID/fd (needs CAP_SYS_PTRACE or CAP_DAC_READ_SEARCH): ends the owners probe did not report are shown as ?";

/// Hinted pids whose `/proc/PID/fd` stays open: `fstat` of it counts their fds (and fails
/// once the process is gone, even if its pid is reused) and `readlinkat` skips the path walk.
const KEPT_DIRS: usize = 64;
/// Probes of free fd numbers that may come back empty in one check.
const MISS_LIMIT: u32 = 8;
/// Free numbers probed in a hinted pid whose count of fds has not grown: an fd that closed
/// unseen leaves its number free for the next socket while the index still counts it.
const HINT_EXTRA: u64 = 2;
/// A found owner's comm and unit are re-read when older than this (a process may exec).
const OWNER_REFRESH: Duration = Duration::from_secs(1);
pub(super) const RESYNC_MIN: Duration = Duration::from_millis(100);
const RESYNC_PER_FD: Duration = Duration::from_millis(1);
/// The slow phases' budget: wall time earned per second, and the most that can be saved up.
const BUDGET_PER_SEC: Duration = Duration::from_millis(5);
const BUDGET_CAP: Duration = Duration::from_millis(200);
/// What the first searches may spend: reading every process of the host once.
const BUDGET_START: Duration = Duration::from_secs(1);

/// What one search looks for.
pub(super) struct Search<'a> {
    /// Removed as they are found.
    pub wanted: HashSet<u64>,
    /// Pids to check first, most likely first.
    pub hints: Vec<u32>,
    /// The wanted sockets' uids: pids of those uids are tried first.
    pub uids: HashSet<u32>,
    /// Every holder matters (a listening socket that workers share): do not stop at the first.
    pub thorough: bool,
    /// Whether an inode is a live connection's or listener's, so its fd need not be re-read.
    pub live: &'a dyn Fn(u64) -> bool,
}

impl Search<'_> {
    fn done(&self) -> bool {
        !self.thorough && self.wanted.is_empty()
    }
}

struct PidState {
    /// The inode number of `/proc/PID/fd`: another process under a reused pid has another.
    ident: u64,
    uid: u32,
    fds: HashMap<u32, u64>,
    /// The fd numbers that no fd holds; all of them from the highest known on.
    free: Free,
    suspects: BTreeSet<u32>,
    owner: Option<Owner>,
    owner_at: Instant,
    denied: bool,
    resynced_at: Instant,
    /// The search that last checked it.
    checked: u64,
    /// `/proc/PID/fd`, kept open while the pid is hot (see `KEPT_DIRS`).
    dir: Option<OwnedFd>,
}

impl PidState {
    fn new(ident: u64, uid: u32, now: Instant, search: u64) -> PidState {
        PidState {
            ident,
            uid,
            fds: HashMap::new(),
            free: Free::default(),
            suspects: BTreeSet::new(),
            owner: None,
            owner_at: now,
            denied: false,
            resynced_at: now,
            checked: search,
            dir: None,
        }
    }

    fn resync_due(&self, now: Instant) -> bool {
        let every = RESYNC_MIN.max(RESYNC_PER_FD * self.fds.len() as u32);
        now.duration_since(self.resynced_at) >= every
    }
}

/// Free fd numbers as runs `start → end` (exclusive) below `top`, and every number from `top`
/// on: a process's few high fds (a dup to 1,000,000) cost a run, not a million entries.
#[derive(Default)]
struct Free {
    runs: BTreeMap<u32, u32>,
    top: u32,
}

impl Free {
    /// The lowest free number above `after`.
    fn next(&self, after: Option<u32>) -> u32 {
        let from = after.map_or(0, |a| a.saturating_add(1));
        if let Some((_, &end)) = self.runs.range(..=from).next_back()
            && from < end
        {
            return from;
        }
        self.runs
            .range(from..)
            .next()
            .map_or(from.max(self.top), |(&start, _)| start)
    }

    /// `fd` is now held.
    fn take(&mut self, fd: u32) {
        if fd >= self.top {
            self.release_run(self.top, fd);
            self.top = fd + 1;
            return;
        }
        let Some((&start, &end)) = self.runs.range(..=fd).next_back() else {
            return;
        };
        if fd >= end {
            return;
        }
        self.runs.remove(&start);
        if start < fd {
            self.runs.insert(start, fd);
        }
        if fd + 1 < end {
            self.runs.insert(fd + 1, end);
        }
    }

    /// `fd` is no longer held.
    fn release(&mut self, fd: u32) {
        if fd < self.top {
            self.release_run(fd, fd + 1);
        }
        // The highest numbers free again lower the top.
        if let Some((&start, &end)) = self.runs.iter().next_back()
            && end == self.top
        {
            self.runs.remove(&start);
            self.top = start;
        }
    }

    /// Adds the run `start..end` (below `top`, not overlapping a held fd), merged with its
    /// neighbours.
    fn release_run(&mut self, mut start: u32, mut end: u32) {
        if start >= end {
            return;
        }
        if let Some((&s, &e)) = self.runs.range(..=start).next_back()
            && e >= start
        {
            self.runs.remove(&s);
            start = s;
            end = end.max(e);
        }
        if let Some(e) = self.runs.remove(&end) {
            end = e;
        }
        self.runs.insert(start, end);
    }
}

/// What `/proc/PID/fd/N` links to.
enum Target {
    Socket(u64),
    Other,
    /// The fd is closed, or the process gone.
    Gone,
    Denied,
}

/// Inode → holders, and the path buffer the readlinks share.
struct Inodes {
    holders: HashMap<u64, Vec<(u32, u32)>>,
    path: String,
}

impl Inodes {
    /// Reads `/proc/PID/fd/N`, through `dir` (that directory, open) when there is one.
    fn read(
        &mut self,
        pid: u32,
        fd: u32,
        dir: Option<BorrowedFd<'_>>,
        stats: &mut AttributionStats,
    ) -> Target {
        stats.readlinks += 1;
        self.path.clear();
        let _ = match dir {
            Some(_) => write!(self.path, "{fd}\0"),
            None => write!(self.path, "/proc/{pid}/fd/{fd}\0"),
        };
        let mut link = [0u8; 64];
        // SAFETY: a NUL-terminated path, a buffer of the length given; `dir` is an open fd.
        let n = unsafe {
            match dir {
                Some(d) => libc::readlinkat(
                    d.as_raw_fd(),
                    self.path.as_ptr().cast(),
                    link.as_mut_ptr().cast(),
                    link.len(),
                ),
                None => libc::readlink(
                    self.path.as_ptr().cast(),
                    link.as_mut_ptr().cast(),
                    link.len(),
                ),
            }
        };
        let Ok(n) = usize::try_from(n) else {
            return match io::Error::last_os_error().raw_os_error() {
                Some(libc::EACCES | libc::EPERM) => Target::Denied,
                _ => Target::Gone,
            };
        };
        // A longer target is cut short: it is not a socket's.
        let inode = link[..n]
            .strip_prefix(b"socket:[")
            .and_then(|r| r.strip_suffix(b"]"))
            .and_then(|d| std::str::from_utf8(d).ok()?.parse().ok());
        inode.map_or(Target::Other, Target::Socket)
    }

    fn set(&mut self, pid: u32, st: &mut PidState, fd: u32, inode: u64) {
        match st.fds.insert(fd, inode) {
            Some(old) if old == inode => return,
            Some(old) => self.unindex(old, pid, fd),
            None => st.free.take(fd),
        }
        if inode != 0 {
            self.holders.entry(inode).or_default().push((pid, fd));
        }
    }

    fn remove(&mut self, pid: u32, st: &mut PidState, fd: u32) {
        st.suspects.remove(&fd);
        if let Some(old) = st.fds.remove(&fd) {
            self.unindex(old, pid, fd);
            st.free.release(fd);
        }
    }

    fn unindex(&mut self, inode: u64, pid: u32, fd: u32) {
        if inode == 0 {
            return;
        }
        if let Some(h) = self.holders.get_mut(&inode) {
            h.retain(|&x| x != (pid, fd));
            if h.is_empty() {
                self.holders.remove(&inode);
            }
        }
    }

    /// Records what `fd` links to; true when it is a wanted inode. `Err` when access is denied.
    fn apply(
        &mut self,
        pid: u32,
        st: &mut PidState,
        fd: u32,
        target: Target,
        s: &mut Search<'_>,
    ) -> Result<bool, ()> {
        match target {
            Target::Socket(inode) => {
                self.set(pid, st, fd, inode);
                Ok(s.wanted.remove(&inode))
            }
            Target::Other => {
                self.set(pid, st, fd, 0);
                Ok(false)
            }
            Target::Gone => {
                self.remove(pid, st, fd);
                Ok(false)
            }
            Target::Denied => Err(()),
        }
    }
}

/// Wall time the slow phases may spend, earned at `BUDGET_PER_SEC`.
struct Budget {
    credit: i128,
    at: Instant,
}

impl Budget {
    fn refill(&mut self, now: Instant) {
        let earned = now.duration_since(self.at).as_nanos() as i128
            * BUDGET_PER_SEC.as_nanos() as i128
            / 1_000_000_000;
        // The cap bounds what is saved up from earnings; it does not take back the credit the
        // first searches start with.
        let cap = (BUDGET_CAP.as_nanos() as i128).max(self.credit);
        self.credit = (self.credit + earned).min(cap);
        self.at = now;
    }

    fn allows(&self) -> bool {
        self.credit > 0
    }

    fn spend(&mut self, since: Instant) {
        self.credit -= since.elapsed().as_nanos() as i128;
    }
}

pub(super) struct ProcIndex {
    pids: HashMap<u32, PidState>,
    inodes: Inodes,
    budget: Budget,
    denied: bool,
    searches: u64,
    /// Pids whose `dir` is open.
    kept: usize,
}

fn fd_dir(pid: u32) -> String {
    format!("/proc/{pid}/fd")
}

fn fd_number(name: &std::ffi::OsStr) -> Option<u32> {
    name.to_str()?.parse().ok()
}

fn fstat(fd: BorrowedFd<'_>) -> Option<libc::stat> {
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: an open fd and room for a `stat`, filled when it returns 0.
    (unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) } == 0)
        .then(|| unsafe { st.assume_init() })
}

impl ProcIndex {
    pub fn new() -> ProcIndex {
        ProcIndex {
            pids: HashMap::new(),
            inodes: Inodes {
                holders: HashMap::new(),
                path: String::with_capacity(40),
            },
            budget: Budget {
                credit: BUDGET_START.as_nanos() as i128,
                at: Instant::now(),
            },
            denied: false,
            searches: 0,
            kept: 0,
        }
    }

    pub fn knows(&self, inode: u64) -> bool {
        self.inodes.holders.contains_key(&inode)
    }

    /// The pids holding `inode`, sorted, each once.
    pub fn holders(&self, inode: u64, out: &mut Vec<u32>) {
        if let Some(h) = self.inodes.holders.get(&inode) {
            out.extend(h.iter().map(|&(pid, _)| pid));
        }
        out.sort_unstable();
        out.dedup();
    }

    pub fn owner(&self, pid: u32) -> Option<&Owner> {
        self.pids.get(&pid)?.owner.as_ref()
    }

    pub fn degraded(&self) -> Option<&'static str> {
        self.denied.then_some(DENIED)
    }

    pub fn pids(&self) -> usize {
        self.pids.len()
    }

    pub fn indexed_inodes(&self) -> usize {
        self.inodes.holders.len()
    }

    /// The socket closed: its fds are read again when their pids are next checked.
    pub fn mark_closed(&mut self, inode: u64) {
        if let Some(h) = self.inodes.holders.get(&inode) {
            for &(pid, fd) in h {
                if let Some(st) = self.pids.get_mut(&pid) {
                    st.suspects.insert(fd);
                }
            }
        }
    }

    pub fn search(&mut self, s: &mut Search<'_>, stats: &mut AttributionStats, now: Instant) {
        self.searches += 1;
        self.budget.refill(now);
        // A: the hinted pids.
        for pid in s.hints.clone() {
            if s.done() {
                return;
            }
            self.check(pid, true, s, stats, now);
        }
        if s.done() {
            return;
        }
        // B: every known pid.
        let known = self.order(&s.uids, self.pids.keys().copied().collect());
        for pid in known {
            if s.done() || !self.budget.allows() {
                break;
            }
            let t = Instant::now();
            self.check(pid, false, s, stats, now);
            self.budget.spend(t);
        }
        // C: pids not known yet.
        if !s.done() && self.budget.allows() {
            self.read_new(s, stats, now);
        }
        // D: resyncs, while inodes are still wanted.
        if s.wanted.is_empty() {
            return;
        }
        let mut candidates = s.hints.clone();
        for pid in self.order(&s.uids, self.pids.keys().copied().collect()) {
            if !candidates.contains(&pid) {
                candidates.push(pid);
            }
        }
        for pid in candidates {
            if s.wanted.is_empty() || !self.budget.allows() {
                break;
            }
            if self
                .pids
                .get(&pid)
                .is_some_and(|st| !st.denied && st.resync_due(now))
            {
                let t = Instant::now();
                self.resync(pid, s, stats, now);
                self.budget.spend(t);
            }
        }
    }

    /// Pids of the wanted uids first, then the newest first.
    fn order(&self, uids: &HashSet<u32>, mut pids: Vec<u32>) -> Vec<u32> {
        let uid_of = |pid: &u32| self.pids.get(pid).map(|st| st.uid);
        pids.sort_unstable_by_key(|pid| {
            (
                !uid_of(pid).is_some_and(|u| uids.contains(&u)),
                std::cmp::Reverse(*pid),
            )
        });
        pids
    }

    /// The cheap check of a known pid (see the module's A); `hot` for a hinted one.
    fn check(
        &mut self,
        pid: u32,
        hot: bool,
        s: &mut Search<'_>,
        stats: &mut AttributionStats,
        now: Instant,
    ) {
        if hot {
            self.keep_dir(pid);
        }
        let Some(st) = self.pids.get_mut(&pid) else {
            return;
        };
        if st.checked == self.searches {
            return;
        }
        st.checked = self.searches;
        stats.pid_checks += 1;
        // The size of `/proc/PID/fd` is the count of open fds (Linux ≥ 6.2).
        let count = match &st.dir {
            Some(dir) => match fstat(dir.as_fd()) {
                Some(m) => m.st_size as u64,
                None => return self.drop_pid(pid),
            },
            None => {
                let Ok(meta) = fs::metadata(fd_dir(pid)) else {
                    return self.drop_pid(pid);
                };
                if meta.ino() != st.ident {
                    return self.full_read(pid, meta, s, stats, now);
                }
                meta.size()
            }
        };
        if st.denied {
            return;
        }
        let mut found = false;
        for fd in std::mem::take(&mut st.suspects) {
            let target = self
                .inodes
                .read(pid, fd, st.dir.as_ref().map(AsFd::as_fd), stats);
            match self.inodes.apply(pid, st, fd, target, s) {
                Ok(f) => found |= f,
                Err(()) => return self.deny(pid),
            }
        }
        // `new`: fds the count says the index lacks; size 0 is a kernel before 6.2 (or no fd
        // at all): probe while something is wanted. `extra`: probes when there is none.
        let mut new = match count {
            0 if s.wanted.is_empty() => 0,
            0 => u64::MAX,
            n => n.saturating_sub(st.fds.len() as u64),
        };
        let mut extra = if !hot || s.wanted.is_empty() || new > 0 {
            0
        } else {
            HINT_EXTRA
        };
        let (mut misses, mut cursor) = (0, None);
        while (new > 0 || extra > 0) && misses < MISS_LIMIT && !s.done() {
            let fd = st.free.next(cursor);
            cursor = Some(fd);
            let target = self
                .inodes
                .read(pid, fd, st.dir.as_ref().map(AsFd::as_fd), stats);
            let hit = !matches!(target, Target::Gone);
            if new > 0 && hit {
                new -= 1;
            } else if new == 0 {
                extra -= 1;
            }
            if !hit {
                misses += 1;
                continue;
            }
            match self.inodes.apply(pid, st, fd, target, s) {
                Ok(f) => found |= f,
                Err(()) => return self.deny(pid),
            }
        }
        if found && now.duration_since(st.owner_at) >= OWNER_REFRESH {
            st.owner = read_owner(pid).or(st.owner.take());
            st.owner_at = now;
        }
    }

    /// Keeps a hinted pid's `/proc/PID/fd` open, closing the least recently checked one kept.
    fn keep_dir(&mut self, pid: u32) {
        if self
            .pids
            .get(&pid)
            .is_none_or(|st| st.dir.is_some() || st.denied)
        {
            return;
        }
        if self.kept >= KEPT_DIRS
            && let Some(coldest) = self
                .pids
                .values_mut()
                .filter(|st| st.dir.is_some())
                .min_by_key(|st| st.checked)
        {
            coldest.dir = None;
            self.kept -= 1;
        }
        let Ok(dir) = fs::File::open(fd_dir(pid)) else {
            return;
        };
        let dir = OwnedFd::from(dir);
        let Some(st) = self.pids.get_mut(&pid) else {
            return;
        };
        // The same process the index knows, not another under a reused pid.
        if fstat(dir.as_fd()).is_some_and(|m| m.st_ino == st.ident) {
            st.dir = Some(dir);
            self.kept += 1;
        }
    }

    /// Lists `/proc`: drops the pids gone, reads the new ones whole (see the module's C).
    fn read_new(&mut self, s: &mut Search<'_>, stats: &mut AttributionStats, now: Instant) {
        stats.proc_listings += 1;
        let Ok(dir) = fs::read_dir("/proc") else {
            return;
        };
        let present: HashSet<u32> = dir
            .flatten()
            .filter_map(|e| fd_number(&e.file_name()))
            .collect();
        let gone: Vec<u32> = self
            .pids
            .keys()
            .filter(|p| !present.contains(p))
            .copied()
            .collect();
        for pid in gone {
            self.drop_pid(pid);
        }
        let mut new: Vec<(bool, u32, fs::Metadata)> = present
            .iter()
            .filter(|p| !self.pids.contains_key(p))
            .filter_map(|&pid| {
                let meta = fs::metadata(fd_dir(pid)).ok()?;
                Some((!s.uids.contains(&meta.uid()), pid, meta))
            })
            .collect();
        new.sort_unstable_by_key(|&(other_uid, pid, _)| (other_uid, std::cmp::Reverse(pid)));
        for (_, pid, meta) in new {
            if s.done() || !self.budget.allows() {
                break;
            }
            let t = Instant::now();
            self.full_read(pid, meta, s, stats, now);
            self.budget.spend(t);
        }
    }

    /// Reads a pid's fds whole, as a process never seen.
    fn full_read(
        &mut self,
        pid: u32,
        meta: fs::Metadata,
        s: &mut Search<'_>,
        stats: &mut AttributionStats,
        now: Instant,
    ) {
        self.drop_pid(pid);
        let mut st = PidState::new(meta.ino(), meta.uid(), now, self.searches);
        stats.fd_scans += 1;
        // Listed first, read after: the listing's own fd is closed by then.
        match fs::read_dir(fd_dir(pid)) {
            Ok(dir) => {
                let listing: Vec<u32> = dir
                    .flatten()
                    .filter_map(|e| fd_number(&e.file_name()))
                    .collect();
                for fd in listing {
                    let target = self.inodes.read(pid, fd, None, stats);
                    if self.inodes.apply(pid, &mut st, fd, target, s).is_err() {
                        st.denied = true;
                        break;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => st.denied = true,
            Err(_) => return,
        }
        if st.denied {
            self.denied = true;
            for (fd, inode) in std::mem::take(&mut st.fds) {
                self.inodes.unindex(inode, pid, fd);
            }
        }
        st.owner = read_owner(pid);
        self.pids.insert(pid, st);
    }

    /// Reads a known pid's fd directory again (see the module's D).
    fn resync(&mut self, pid: u32, s: &mut Search<'_>, stats: &mut AttributionStats, now: Instant) {
        stats.fd_scans += 1;
        let listing: Vec<u32> = match fs::read_dir(fd_dir(pid)) {
            Ok(dir) => dir
                .flatten()
                .filter_map(|e| fd_number(&e.file_name()))
                .collect(),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return self.deny(pid),
            Err(_) => return self.drop_pid(pid),
        };
        let Some(st) = self.pids.get_mut(&pid) else {
            return;
        };
        let present: HashSet<u32> = listing.iter().copied().collect();
        let closed: Vec<u32> = st
            .fds
            .keys()
            .filter(|fd| !present.contains(fd))
            .copied()
            .collect();
        for fd in closed {
            self.inodes.remove(pid, st, fd);
        }
        let mut trusted = Vec::new();
        for fd in listing {
            let read = match st.fds.get(&fd) {
                None => true,
                Some(&inode) => inode == 0 || st.suspects.contains(&fd) || !(s.live)(inode),
            };
            if !read {
                trusted.push(fd);
                continue;
            }
            let target = self
                .inodes
                .read(pid, fd, st.dir.as_ref().map(AsFd::as_fd), stats);
            if self.inodes.apply(pid, st, fd, target, s).is_err() {
                return self.deny(pid);
            }
        }
        st.suspects.clear();
        // A wanted inode not found yet may sit where a live-believed socket closed unseen.
        for fd in trusted {
            if s.wanted.is_empty() {
                break;
            }
            let target = self
                .inodes
                .read(pid, fd, st.dir.as_ref().map(AsFd::as_fd), stats);
            if self.inodes.apply(pid, st, fd, target, s).is_err() {
                return self.deny(pid);
            }
        }
        st.resynced_at = now;
        st.owner = read_owner(pid).or(st.owner.take());
        st.owner_at = now;
    }

    fn deny(&mut self, pid: u32) {
        self.denied = true;
        if let Some(st) = self.pids.get_mut(&pid) {
            st.denied = true;
            if st.dir.take().is_some() {
                self.kept -= 1;
            }
            for (fd, inode) in std::mem::take(&mut st.fds) {
                self.inodes.unindex(inode, pid, fd);
            }
            st.free = Free::default();
            st.suspects.clear();
        }
    }

    fn drop_pid(&mut self, pid: u32) {
        if let Some(st) = self.pids.remove(&pid) {
            if st.dir.is_some() {
                self.kept -= 1;
            }
            for (fd, inode) in st.fds {
                self.inodes.unindex(inode, pid, fd);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Free;

    #[test]
    fn free_numbers_are_runs_below_the_top() {
        let mut f = Free::default();
        for fd in [0, 1, 2, 5, 1_000_000] {
            f.take(fd);
        }
        assert_eq!(f.runs.len(), 2, "3..5 and 6..1,000,000");
        assert_eq!(f.next(None), 3);
        assert_eq!(f.next(Some(3)), 4);
        assert_eq!(f.next(Some(4)), 6);
        assert_eq!(f.next(Some(999_999)), 1_000_001);
        f.take(3);
        assert_eq!(f.next(None), 4);
        f.release(5);
        assert_eq!(f.runs.get(&4), Some(&1_000_000), "merged 4..5, 5 and 6..");
        f.release(1_000_000);
        assert_eq!((f.top, f.runs.len()), (4, 0), "nothing held above 3");
        f.release(1);
        assert_eq!(f.next(None), 1);
        f.take(1);
        assert_eq!(f.next(None), 4);
    }
}
