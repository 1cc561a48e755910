//! Network namespaces of the tests' own, and a veth pair between two of them.

use std::{
    ffi::OsStr,
    fs::File,
    io,
    net::{Ipv4Addr, Ipv6Addr},
    os::fd::AsRawFd as _,
    process::Command,
    sync::Once,
};

use netns_cleanup::{delete_namespace, remove_namespaces_of_dead_runs};

use crate::{require_root, unique_name};

const NAME_PREFIX: &str = "httptop-test";

/// A network namespace `httptop-test-<pid>-<n>` with `lo` up; on drop, every process still in
/// it is killed and the namespace is deleted.
pub struct NetNs {
    name: String,
}

impl NetNs {
    pub fn new() -> Self {
        require_root();
        static SWEEP: Once = Once::new();
        SWEEP.call_once(|| remove_namespaces_of_dead_runs(NAME_PREFIX));
        let name = unique_name(NAME_PREFIX);
        run_ip(&["netns", "add", &name]);
        let ns = Self { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
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

    /// `ip ARGS` inside this namespace; panics when it fails.
    pub fn ip(&self, args: &[&str]) {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        run_ip(&all);
    }

    /// Runs `task` on a thread that has entered this namespace, so the sockets it opens live
    /// here; a panic inside `task` is the caller's panic.
    pub fn run<T: Send>(&self, task: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            let thread = scope.spawn(|| {
                self.enter_on_this_thread()
                    .unwrap_or_else(|e| panic!("entering network namespace {}: {e}", self.name));
                task()
            });
            thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    fn enter_on_this_thread(&self) -> io::Result<()> {
        let handle = File::open(format!("/run/netns/{}", self.name))?;
        // SAFETY: a valid namespace fd; a network namespace switch affects only this thread.
        if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

impl Default for NetNs {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        delete_namespace(&self.name);
    }
}

/// A veth pair between a server namespace and a client namespace, with 10.200.0.0/24 and
/// fd00:200::/64 addresses on its two ends (only ever inside the tests' own namespaces). It goes
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

    pub fn connect(server: &NetNs, client: &NetNs) -> Self {
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
        ]);
        for (ns, interface, v4, v6) in [
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
        ] {
            ns.ip(&["addr", "add", &format!("{v4}/24"), "dev", interface]);
            // nodad: usable at once instead of after duplicate address detection.
            ns.ip(&[
                "addr",
                "add",
                &format!("{v6}/64"),
                "dev",
                interface,
                "nodad",
            ]);
            ns.ip(&["link", "set", interface, "up"]);
        }
        veth
    }
}

fn run_ip(args: &[&str]) {
    let output = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running ip (iproute2): {e}"));
    assert!(
        output.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}
