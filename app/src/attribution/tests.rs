//! Attribution against this process's own sockets and python3 children, on 127.0.0.1 and
//! [::1] with ports the kernel picks: no namespace, nothing sent off the host.

use std::{
    io::{BufRead, BufReader, Write},
    net::{SocketAddr, TcpListener, TcpStream},
    process::{Child, ChildStdin, ChildStdout, Command, Stdio},
    sync::{Mutex, MutexGuard},
    time::{Duration, Instant},
};

use super::{
    diag::{Diag, Query, Reply},
    *,
};
use crate::kernel::owners::OwnerProbe;

/// The tests count readlinks and fd scans of this process: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn me() -> (u32, String) {
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    (std::process::id(), comm.trim_end().to_owned())
}

fn tuple_of(client: &TcpStream) -> Tuple {
    Tuple {
        client: client.local_addr().unwrap(),
        server: client.peer_addr().unwrap(),
    }
}

#[track_caller]
fn assert_process(side: &Side, pid: u32, comm: &str) {
    match side {
        Side::Process(o) => {
            assert_eq!(o.pid, Some(pid), "{side:?}");
            assert_eq!(o.comm, comm, "{side:?}");
        }
        other => panic!("expected the process {pid} ({comm}), got {other:?}"),
    }
}

/// The side is named by the owner of its listening socket: `pid` (`None` when several
/// processes hold it) and `comm`.
#[track_caller]
fn assert_listener(side: &Side, pid: Option<u32>, comm: &str) {
    match side {
        Side::Listener(o) => {
            assert_eq!(o.pid, pid, "{side:?}");
            assert_eq!(o.comm, comm, "{side:?}");
        }
        other => panic!("expected the listener's owner ({pid:?}, {comm}), got {other:?}"),
    }
}

/// Waits until no process holds either end's socket any more.
fn wait_gone(t: &Tuple) {
    let mut diag = Diag::new().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let queries = [
        Query::new(t.client, t.server),
        Query::new(t.server, t.client),
    ];
    let mut replies = Vec::new();
    loop {
        diag.lookup(&queries, &mut replies);
        if replies
            .iter()
            .all(|r| !matches!(r, Reply::Found(s) if s.is_held_connection()))
        {
            return;
        }
        assert!(Instant::now() < deadline, "{t} still held: {replies:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A python3 child speaking lines on stdin and stdout; killed when dropped.
struct Python {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Python {
    fn spawn(script: &str) -> Python {
        let mut child = Command::new("python3")
            .args(["-c", script])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Python {
            child,
            stdin,
            stdout,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "python3 ended");
        line.trim_end().to_owned()
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Lines of `client_ip client_port server_ip server_port` up to `done`.
    fn tuples(&mut self) -> Vec<Tuple> {
        let mut out = Vec::new();
        loop {
            let line = self.line();
            if line == "done" {
                return out;
            }
            let f: Vec<&str> = line.split(' ').collect();
            let addr =
                |ip: &str, port: &str| SocketAddr::new(ip.parse().unwrap(), port.parse().unwrap());
            out.push(Tuple {
                client: addr(f[0], f[1]),
                server: addr(f[2], f[3]),
            });
        }
    }
}

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listens on 127.0.0.1, prints its port, accepts one connection and prints `accepted`; on
/// `close` closes it and prints `closed`.
const ONE_SERVER: &str = r#"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
print("accepted", flush=True)
for line in sys.stdin:
    if line.strip() == "close":
        c.close()
        print("closed", flush=True)
"#;

/// Listens, forks (the child holds the listening socket too, until its parent goes), accepts
/// one connection, closes it and prints `closed`.
const FORKED_SERVER: &str = r#"
import os, socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
parent = os.getpid()
if os.fork() == 0:
    while os.getppid() == parent:
        time.sleep(0.05)
    os._exit(0)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
c.close()
print("closed", flush=True)
sys.stdin.readline()
"#;

/// Listens, prints its port, accepts one connection, then passes its socket to a unix socket
/// nobody reads (SCM_RIGHTS) and closes its own fd: the connection lives, held by no process.
const HANDED_OFF_SERVER: &str = r#"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)
c, _ = s.accept()
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [c.fileno()])
c.close()
print("in flight", flush=True)
sys.stdin.readline()
"#;

/// Holds both ends of its connections to itself: `open N` makes N and prints their tuples,
/// `close I` closes the I-th pair; each answer ends with `done`.
const PAIRS: &str = r#"
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(1024)
pairs = []
for line in sys.stdin:
    cmd, n = line.split()
    n = int(n)
    if cmd == "open":
        for _ in range(n):
            c = socket.create_connection(s.getsockname())
            a, _ = s.accept()
            pairs.append((c, a))
            print("%s %d %s %d" % (c.getsockname() + c.getpeername()))
    elif cmd == "close":
        for x in pairs[n]:
            x.close()
    print("done", flush=True)
"#;

#[test]
fn both_ends_in_this_process_are_this_process() {
    let _serial = serial();
    let (pid, comm) = me();
    for addr in ["127.0.0.1:0", "[::1]:0"] {
        let listener = TcpListener::bind(addr).unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let mut a = Attributor::new().unwrap();
        let t = tuple_of(&client);
        let got = a.attribute(&[t]);
        assert_process(&got[0].client, pid, &comm);
        assert_process(&got[0].server, pid, &comm);
        // A keep-alive connection is looked up once.
        let before = a.stats();
        assert_eq!(a.attribute(&[t, t]), vec![got[0].clone(), got[0].clone()]);
        let after = a.stats();
        assert_eq!(
            (after.lookups, after.cached),
            (before.lookups, before.cached + 2),
            "{addr}"
        );
        assert_eq!(a.degraded(), None);
    }
}

fn comm_bytes(comm: &str) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..comm.len()].copy_from_slice(comm.as_bytes());
    bytes
}

#[test]
fn an_end_the_kernel_told_of_needs_no_lookup_and_outlives_its_process() {
    let _serial = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    let t = tuple_of(&client);
    let (pid, comm) = me();
    let mut a = Attributor::new().unwrap();
    a.told(Told {
        local: t.client,
        remote: t.server,
        pid,
        comm: comm_bytes(&comm),
    });
    let answer = a.attribute(&[t]).remove(0);
    assert_process(&answer.client, pid, &comm);
    assert_process(&answer.server, pid, &comm);
    let s = a.stats();
    // Only the server end was looked up.
    assert_eq!((s.by_kernel, s.by_socket, s.lookups), (1, 1, 1), "{s:?}");

    // A client gone before anything read /proc: named as the kernel told it, its unit unknown.
    let mut gone = Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    let other = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    let t = tuple_of(&other);
    // Both ends told: the client's connect, the server's first read.
    for (local, remote) in [(t.client, t.server), (t.server, t.client)] {
        a.told(Told {
            local,
            remote,
            pid: gone_pid,
            comm: comm_bytes("true"),
        });
    }
    // Told of its end before its last exchange is named (both in one batch, ends first).
    a.closed(&[t]);
    let answer = a.attribute(&[t]).remove(0);
    let expected = Owner {
        pid: Some(gone_pid),
        comm: "true".to_owned(),
        unit: None,
    };
    assert_eq!(answer.client, Side::Process(expected.clone()));
    assert_eq!(answer.server, Side::Process(expected));
    let s = a.stats();
    assert_eq!((s.by_kernel, s.lookups), (3, 1), "{s:?}");
    // After that lookup, the kernel's word on both ends of the ended tuple is forgotten.
    assert_eq!(s.told, 1);
}

#[test]
fn a_dual_stack_socket_holding_a_v4_connection_is_found() {
    let _serial = serial();
    if std::fs::read_to_string("/proc/sys/net/ipv6/bindv6only").is_ok_and(|v| v.trim() == "1") {
        eprintln!("skipped: net.ipv6.bindv6only=1, [::] does not take V4 connections");
        return;
    }
    let (pid, comm) = me();
    let listener = TcpListener::bind("[::]:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (server, _) = listener.accept().unwrap();
    assert!(
        server.local_addr().unwrap().is_ipv6(),
        "the accepted socket is AF_INET6"
    );
    let mut a = Attributor::new().unwrap();
    let t = tuple_of(&client);
    let got = a.attribute(&[t]);
    assert_process(&got[0].client, pid, &comm);
    assert_process(&got[0].server, pid, &comm);
    // The same tuple written V4-mapped is the same connection.
    let mapped = |s: SocketAddr| match s {
        SocketAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.ip().to_ipv6_mapped()), v4.port()),
        v6 => v6,
    };
    let written_v6 = Tuple {
        client: mapped(t.client),
        server: mapped(t.server),
    };
    assert_eq!(a.attribute(&[written_v6]), got);
}

#[test]
fn a_python_server_is_the_server_end() {
    let _serial = serial();
    let (pid, comm) = me();
    let mut py = Python::spawn(ONE_SERVER);
    let port: u16 = py.line().parse().unwrap();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(py.line(), "accepted");
    let mut a = Attributor::new().unwrap();
    let got = a.attribute(&[tuple_of(&client)]);
    assert_process(&got[0].client, pid, &comm);
    assert_process(&got[0].server, py.pid(), "python3");
}

#[test]
fn a_closed_connection_falls_back_to_the_listening_process() {
    let _serial = serial();
    let mut py = Python::spawn(ONE_SERVER);
    let port: u16 = py.line().parse().unwrap();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(py.line(), "accepted");
    let t = tuple_of(&client);
    let mut a = Attributor::new().unwrap();
    assert_process(&a.attribute(&[t])[0].server, py.pid(), "python3");
    py.send("close");
    assert_eq!(py.line(), "closed");
    drop(client);
    wait_gone(&t);
    a.closed(&[t]);
    let got = a.attribute(&[t]);
    assert_eq!(got[0].client, Side::Unknown);
    assert_listener(&got[0].server, Some(py.pid()), "python3");
    assert_eq!(a.stats().listener_dumps, 1);
}

#[test]
fn a_live_server_socket_held_by_no_process_is_named_by_its_listener() {
    let _serial = serial();
    let (pid, comm) = me();
    let mut py = Python::spawn(HANDED_OFF_SERVER);
    let port: u16 = py.line().parse().unwrap();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(py.line(), "in flight");
    let t = tuple_of(&client);
    let mut a = Attributor::new().unwrap();
    let got = a.attribute(&[t]);
    assert_process(&got[0].client, pid, &comm);
    assert_listener(&got[0].server, Some(py.pid()), "python3");
    let stats = a.stats();
    assert_eq!((stats.by_listener, stats.unknown), (1, 0), "{stats:?}");
}

#[test]
fn a_listener_shared_after_fork_has_no_pid() {
    let _serial = serial();
    let mut py = Python::spawn(FORKED_SERVER);
    let port: u16 = py.line().parse().unwrap();
    let client = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert_eq!(py.line(), "closed");
    let t = tuple_of(&client);
    drop(client);
    wait_gone(&t);
    let mut a = Attributor::new().unwrap();
    let got = a.attribute(&[t]);
    // Two processes hold it: no pid.
    assert_listener(&got[0].server, None, "python3");
}

#[test]
fn a_client_address_of_another_host_is_not_local() {
    let _serial = serial();
    let (pid, comm) = me();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let t = Tuple {
        client: "192.0.2.1:40000".parse().unwrap(),
        server: listener.local_addr().unwrap(),
    };
    let mut a = Attributor::new().unwrap();
    let got = a.attribute(&[t]);
    assert_eq!(got[0].client, Side::NotLocal);
    // No such connection: the server end is whoever listens there.
    assert_eq!(
        got[0].server,
        Side::Listener(Owner {
            pid: Some(pid),
            comm,
            unit: super::owner::read_owner(pid).unwrap().unit,
        })
    );
    assert_eq!(a.stats().not_local, 1);
}

#[test]
fn a_new_connection_costs_a_few_readlinks_not_a_scan() {
    let _serial = serial();
    let mut py = Python::spawn(PAIRS);
    py.send("open 200");
    let first = py.tuples();
    assert_eq!(first.len(), 200);
    let mut a = Attributor::new().unwrap();
    for got in a.attribute(&first) {
        assert_process(&got.client, py.pid(), "python3");
        assert_process(&got.server, py.pid(), "python3");
    }
    let before = a.stats();
    py.send("open 1");
    let one = py.tuples();
    let got = a.attribute(&one);
    assert_process(&got[0].client, py.pid(), "python3");
    assert_process(&got[0].server, py.pid(), "python3");
    let after = a.stats();
    let readlinks = after.readlinks - before.readlinks;
    eprintln!("first call: {before:?}\nsecond call: {readlinks} readlinks");
    assert!(readlinks <= 10, "{readlinks} readlinks");
    assert_eq!(after.fd_scans, before.fd_scans, "no fd directory read");
    assert_eq!(after.lookups - before.lookups, 2);
}

#[test]
fn an_fd_number_reused_after_closed_is_read_again() {
    let _serial = serial();
    let mut py = Python::spawn(PAIRS);
    py.send("open 3");
    let three = py.tuples();
    let mut a = Attributor::new().unwrap();
    a.attribute(&three);
    py.send("close 1");
    py.tuples();
    a.closed(&three[1..2]);
    let before = a.stats();
    // The kernel gives the new pair the two numbers just freed.
    py.send("open 1");
    let one = py.tuples();
    let got = a.attribute(&one);
    assert_process(&got[0].client, py.pid(), "python3");
    assert_process(&got[0].server, py.pid(), "python3");
    let after = a.stats();
    assert_eq!(after.fd_scans, before.fd_scans);
    assert!(
        after.readlinks - before.readlinks <= 6,
        "{} readlinks",
        after.readlinks - before.readlinks
    );
}

#[test]
fn an_fd_number_reused_unannounced_is_found_by_a_resync() {
    let _serial = serial();
    let mut py = Python::spawn(PAIRS);
    py.send("open 3");
    let three = py.tuples();
    let mut a = Attributor::new().unwrap();
    a.attribute(&three);
    py.send("close 1");
    py.tuples();
    py.send("open 1");
    let one = py.tuples();
    // A pid is read again at most every RESYNC_MIN (more for one with many fds).
    std::thread::sleep(super::fds::RESYNC_MIN + Duration::from_millis(50));
    let before = a.stats();
    let got = a.attribute(&one);
    assert_process(&got[0].client, py.pid(), "python3");
    assert_process(&got[0].server, py.pid(), "python3");
    assert!(a.stats().fd_scans > before.fd_scans);
}

#[test]
fn the_cache_evicts_the_oldest_tuple() {
    let now = Instant::now();
    let mut cache = AnswerCache::new(2);
    let answer = Attribution {
        client: Side::NotLocal,
        server: Side::Unknown,
    };
    let t = |port: u16| Tuple {
        client: SocketAddr::new("10.0.0.1".parse().unwrap(), port),
        server: "10.0.0.2:80".parse().unwrap(),
    };
    for (port, inode) in [(1, 11), (2, 12), (3, 13)] {
        cache.insert(t(port), answer.clone(), [inode, 0], None, now);
    }
    assert_eq!(cache.len(), 2);
    assert!(cache.get(&t(1), now).is_none());
    assert!(cache.get(&t(3), now).is_some());
    assert!(!cache.is_live(11) && cache.is_live(12));
    // A minute unused, and it is forgotten.
    let later = now + IDLE;
    cache.get(&t(3), later);
    cache.maintain(later);
    assert!(cache.get(&t(2), later).is_none());
    assert!(cache.get(&t(3), later).is_some());
    // An answer with an unknown end expires.
    cache.insert(t(4), answer, [0, 0], Some(later + RETRY), later);
    assert!(cache.get(&t(4), later + RETRY).is_none());
}

/// Raises this process's soft RLIMIT_NOFILE to its hard limit (more needs CAP_SYS_RESOURCE).
fn raise_nofile(want: u64) -> u64 {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid rlimit to fill, then to set.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        let raised = libc::rlimit {
            rlim_cur: want,
            rlim_max: want,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return want;
        }
        r.rlim_cur = r.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &r);
    }
    r.rlim_cur
}

/// Accepts and keeps every connection; `count` prints how many it holds.
/// Holds every connection it accepts, once it has read the byte each client sends (so the
/// owners probe sees the server read it); prints its port, then its count of held connections
/// for each line read.
const HOLDING_SERVER: &str = r#"
import resource, socket, sys, threading
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(4096)
held = []
def accept():
    while True:
        c = s.accept()[0]
        c.recv(1)
        held.append(c)
threading.Thread(target=accept, daemon=True).start()
print(s.getsockname()[1], flush=True)
for line in sys.stdin:
    print(len(held), flush=True)
"#;

/// What one timed batch of attribution cost and found (or several, summed, with the worst).
#[derive(Default)]
struct Spent {
    ms: f64,
    worst_ms: f64,
    readlinks: u64,
    scans: u64,
    lookups: u64,
    unknown: usize,
}

impl Spent {
    fn add(&mut self, s: Spent) {
        self.ms += s.ms;
        self.worst_ms = self.worst_ms.max(s.ms);
        self.readlinks += s.readlinks;
        self.scans += s.scans;
        self.lookups += s.lookups;
        self.unknown += s.unknown;
    }
}

/// Times `work` (which attributes) and counts what the attributor did in it.
fn spend(a: &mut Attributor, work: impl FnOnce(&mut Attributor) -> Vec<Attribution>) -> Spent {
    let before = a.stats();
    let t = Instant::now();
    let got = work(a);
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let after = a.stats();
    Spent {
        ms,
        worst_ms: ms,
        readlinks: after.readlinks - before.readlinks,
        scans: after.fd_scans - before.fd_scans,
        lookups: after.lookups - before.lookups,
        unknown: got
            .iter()
            .filter(|g| g.client == Side::Unknown || g.server == Side::Unknown)
            .count(),
    }
}

/// The cost at 10,000 connections and 1,000 new ones, two ways: every end found by the search
/// (sock_diag and the fd index: the way for connections made before httptop started, or whose
/// records the probe lost), then every end told by the owners probe, its records drained and
/// handed over inside the timed calls, as the collector does. Prints; asserts only that every
/// connection is named.
/// `cargo test --release -p httptop --lib attribution::tests::cost -- --ignored --nocapture`
#[test]
#[ignore = "needs root (the owners probe); a measurement: 26,000 sockets, prints its figures"]
fn cost_at_ten_thousand_connections() {
    let _serial = serial();
    let limit = raise_nofile(50_000);
    // The probe's programs' run time, while this holds the statistics on.
    let _run_stats = aya::sys::enable_stats(aya::sys::Stats::RunTime).ok();
    let mut probe = OwnerProbe::attach().expect("attaching the owners probe");
    let netns = crate::netns::NetnsIdentity::current()
        .expect("reading /proc/thread-self/ns/net")
        .inode() as u32;
    let drain = |probe: &mut OwnerProbe, into: &mut Vec<Told>| {
        probe.drain(|m| {
            if m.netns == netns {
                into.push(Told::from(m));
            }
        });
    };
    let mut py = Python::spawn(HOLDING_SERVER);
    let port: u16 = py.line().parse().unwrap();
    let mut clients: Vec<TcpStream> = Vec::new();
    let connect = |py: &mut Python, clients: &mut Vec<TcpStream>, n: usize| -> Vec<Tuple> {
        let start = clients.len();
        for _ in 0..n {
            let mut client = TcpStream::connect(("127.0.0.1", port)).unwrap();
            client.write_all(b"q").unwrap();
            clients.push(client);
        }
        loop {
            py.send("count");
            if py.line().parse::<usize>().unwrap() >= clients.len() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        clients[start..].iter().map(tuple_of).collect()
    };
    // Every record of the connections made for the search, for the second part; drained as
    // they come, 2,000 at most at once, so the probe's ring never fills.
    let mut told = Vec::new();
    // This process's hard limit may be below 26,000 fds and it is not root enough to raise it:
    // the clients are here, the servers in the python child (its own 13,000 fds).
    let mut base = Vec::new();
    for _ in 0..10 {
        base.extend(connect(&mut py, &mut clients, 1_000));
        drain(&mut probe, &mut told);
    }
    eprintln!(
        "RLIMIT_NOFILE {limit}; 10,000 connections: clients here, servers in python3 {}",
        py.pid()
    );
    let mut a = Attributor::new().unwrap();
    let s = spend(&mut a, |a| a.attribute(&base));
    eprintln!(
        "search: first call, 10,000 new: {:.1} ms, {} readlinks, {} fd scans, {} lookups, {} unknown",
        s.ms, s.readlinks, s.scans, s.lookups, s.unknown
    );
    let s = spend(&mut a, |a| a.attribute(&base));
    eprintln!("search: again, 10,000 cached: {:.2} ms", s.ms);
    let more = connect(&mut py, &mut clients, 1_000);
    drain(&mut probe, &mut told);
    let s = spend(&mut a, |a| a.attribute(&more));
    eprintln!(
        "search: 1,000 new in one call: {:.2} ms, {} readlinks, {} fd scans, {} lookups, {} unknown",
        s.ms, s.readlinks, s.scans, s.lookups, s.unknown
    );
    base.extend(more);
    let mut all = Spent::default();
    for _ in 0..100 {
        let ten = connect(&mut py, &mut clients, 10);
        drain(&mut probe, &mut told);
        all.add(spend(&mut a, |a| a.attribute(&ten)));
        base.extend(ten);
    }
    assert_eq!(all.unknown, 0);
    eprintln!(
        "search: 1,000 new as 100 calls of 10: {:.2} ms in all ({:.3} ms a call, worst {:.3}), {} readlinks, {} fd scans",
        all.ms,
        all.ms / 100.0,
        all.worst_ms,
        all.readlinks,
        all.scans
    );
    eprintln!("{:?}", a.stats());

    // Told by the kernel: a new attributor, told of the 12,000 connections so far, then 1,000
    // new ones, each call of 10 draining the probe first.
    let mut k = Attributor::new().unwrap();
    let s = spend(&mut k, |k| {
        for t in told.drain(..) {
            k.told(t);
        }
        k.attribute(&base)
    });
    eprintln!(
        "told: first call, 12,000 new: {:.1} ms, {} readlinks, {} lookups, {} unknown",
        s.ms, s.readlinks, s.lookups, s.unknown
    );
    let before = probe.run_stats();
    let (mut all, mut records) = (Spent::default(), 0);
    for _ in 0..100 {
        let ten = connect(&mut py, &mut clients, 10);
        all.add(spend(&mut k, |k| {
            drain(&mut probe, &mut told);
            records += told.len();
            for t in told.drain(..) {
                k.told(t);
            }
            k.attribute(&ten)
        }));
    }
    assert_eq!(all.unknown, 0);
    eprintln!(
        "told: 1,000 new as 100 calls of 10: {:.2} ms in all ({:.3} ms a call, worst {:.3}), {records} records, {} lookups, {} readlinks",
        all.ms,
        all.ms / 100.0,
        all.worst_ms,
        all.lookups,
        all.readlinks
    );
    eprintln!("{:?}", k.stats());
    for ((name, ns, runs), (_, ns_before, runs_before)) in probe.run_stats().into_iter().zip(before)
    {
        let (ns, runs) = (ns - ns_before, runs - runs_before);
        eprintln!(
            "kernel: {name} over the 100 calls of 10: {runs} runs, {ns} ns, {:.0} ns a run",
            ns as f64 / runs.max(1) as f64
        );
    }
    eprintln!("owners probe: {} records lost", probe.lost());
}
