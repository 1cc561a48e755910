//! Network namespaces of the lab's own, a veth pair between two of them, and waiting for a
//! server inside one.

use std::{
    ffi::OsStr,
    fs::{self, File},
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream},
    os::fd::AsRawFd as _,
    path::Path,
    process::Command,
    sync::Mutex,
    thread,
    time::{Duration, Instant},
};

use crate::{
    ChildGuard, Error, Result, first_time, left_by_dead_run, process::run_checked, unique_name,
};

/// `ip` only edits kernel tables: quick unless something is badly wrong.
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// A network namespace `<prefix>-<pid>-<n>` with `lo` up; on drop, every process still in it is
/// killed and the namespace is deleted.
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Makes the namespace; the first one made with `prefix` first deletes the namespaces of
    /// `prefix` whose process died before its guards ran.
    pub fn new(prefix: &str) -> Result<Self> {
        static SWEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
        if first_time(&SWEPT, prefix) {
            delete_namespaces_of_dead_runs(prefix);
        }
        let name = unique_name(prefix);
        run_ip(&["netns", "add", &name])?;
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` run inside this namespace (through `ip netns exec`, which execs it: the
    /// child's pid is the program's).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// `ip ARGS` inside this namespace.
    pub fn ip(&self, args: &[&str]) -> Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all)
    }

    /// Runs `task` on a thread that has entered this namespace, so the sockets it opens (and
    /// those of the threads it spawns) live here. An error only if the thread could not enter;
    /// a panic inside `task` is the caller's panic.
    pub fn run<T: Send>(&self, task: impl FnOnce() -> T + Send) -> Result<T> {
        thread::scope(|scope| {
            let thread = scope.spawn(|| {
                self.enter_on_this_thread()?;
                Ok(task())
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn enter_on_this_thread(&self) -> Result<()> {
        let entering = || format!("entering network namespace {}", self.name);
        let handle =
            File::open(format!("/run/netns/{}", self.name)).map_err(Error::io(entering()))?;
        // SAFETY: a valid namespace fd; a network namespace switch affects only this thread.
        if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(Error::io(entering())(std::io::Error::last_os_error()));
        }
        Ok(())
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        delete_namespace(&self.name);
    }
}

/// Kills what still runs in the namespace (an nginx worker whose master was killed, say), then
/// deletes it. Best effort: this runs in Drop, possibly while a test panics.
fn delete_namespace(name: &str) {
    if let Ok(output) = Command::new("ip").args(["netns", "pids", name]).output() {
        for pid in String::from_utf8_lossy(&output.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<libc::pid_t>() {
                // SAFETY: plain syscall; the pid was listed as living in our namespace.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = Command::new("ip").args(["netns", "del", name]).status();
}

/// Deletes the namespaces named after `prefix` whose maker process is gone.
fn delete_namespaces_of_dead_runs(prefix: &str) {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        if let Some(name) = line.split_whitespace().next()
            && left_by_dead_run(name, prefix)
        {
            delete_namespace(name);
        }
    }
}

fn run_ip(args: &[&str]) -> Result<()> {
    let mut command = Command::new("ip");
    command.args(args);
    run_checked(command, IP_TIMEOUT)?;
    Ok(())
}

/// A veth pair between a server namespace and a client namespace, with 10.200.0.0/24 and
/// fd00:200::/64 addresses on its two ends (only ever inside the lab's own namespaces). It goes
/// away with the namespaces.
pub struct Veth {
    pub server_interface: &'static str,
    pub client_interface: &'static str,
}

impl Veth {
    pub const SERVER_V4: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 1);
    pub const CLIENT_V4: Ipv4Addr = Ipv4Addr::new(10, 200, 0, 2);
    pub const SERVER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 1);
    pub const CLIENT_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x200, 0, 0, 0, 0, 0, 2);

    pub fn connect(server: &NetNs, client: &NetNs) -> Result<Self> {
        let veth = Self {
            server_interface: "veth-server",
            client_interface: "veth-client",
        };
        run_ip(&[
            "link",
            "add",
            veth.server_interface,
            "netns",
            server.name(),
            "type",
            "veth",
            "peer",
            "name",
            veth.client_interface,
            "netns",
            client.name(),
        ])?;
        let ends = [
            (
                server,
                veth.server_interface,
                Self::SERVER_V4,
                Self::SERVER_V6,
            ),
            (
                client,
                veth.client_interface,
                Self::CLIENT_V4,
                Self::CLIENT_V6,
            ),
        ];
        for (ns, interface, v4, v6) in ends {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", interface])?;
            // nodad: usable at once instead of after duplicate address detection.
            let v6 = format!("{v6}/64");
            ns.ip(&["addr", "add", &v6, "dev", interface, "nodad"])?;
            ns.ip(&["link", "set", interface, "up"])?;
        }
        Ok(veth)
    }
}

/// Waits at most `timeout` until `addr` accepts TCP connections inside `ns` (a plain connect, no
/// HTTP, so httptop counts nothing); fails early, with `log`'s text, if `server` exits first.
pub fn wait_for_port(
    ns: &NetNs,
    addr: SocketAddr,
    server: &mut ChildGuard,
    log: &Path,
    timeout: Duration,
) -> Result<()> {
    let what = server.what().to_owned();
    let ready = ns.run(|| {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = server.exited().map_err(|e| e.to_string())? {
                return Err(format!(
                    "{what} exited ({status}) before listening on {addr}"
                ));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{what} is not listening on {addr} after {timeout:?}"
        ))
    })?;
    ready.map_err(|message| {
        let log = fs::read_to_string(log).unwrap_or_default();
        Error::Failed(format!("{message}; its log:\n{log}"))
    })
}
