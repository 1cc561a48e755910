//! The lab httptop is tested, benchmarked and shown in: network namespaces and veth pairs
//! ([`NetNs`], [`Veth`]), servers inside them ([`Nginx`], [`PythonServer`]), a Prometheus server
//! scraping them ([`Prometheus`]), child processes ([`ChildGuard`]), temporary directories
//! ([`TempDir`]) and a terminal ([`Tmux`]).
//!
//! Every resource is a guard that cleans up on drop, also on an error or a panic. Declare a
//! namespace before the processes inside it, so that it is dropped after them. Every name the lab
//! gives (namespaces, tmux sockets, directories) is `<prefix>-<pid>-<n>`; the first namespace or
//! tmux server made with a prefix clears away those of earlier runs whose process died before its
//! guards ran.
//!
//! Nothing here needs root to build; running namespaces, nginx inside them and BPF does.
//! Every fallible call returns [`Result`]: the root tests unwrap it, xtask passes it on.

mod error;
mod netns;
mod nginx;
pub mod process;
mod prometheus;
mod python;
mod tempdir;
mod tmux;

use std::{
    path::Path,
    sync::{
        Mutex,
        atomic::{AtomicU32, Ordering},
    },
};

pub use error::{Error, Result};
pub use netns::{NetNs, Veth, wait_for_port};
pub use nginx::{Location, NGINX_BODY, Nginx, NginxConfig};
pub use process::{ChildGuard, run_to_exit};
pub use prometheus::Prometheus;
pub use python::PythonServer;
pub use tempdir::TempDir;
pub use tmux::Tmux;

/// A name unique in this machine for as long as this process lives: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `name` is `<prefix>-<pid>[-<n>]` and process `pid` is gone: the leftover of a run
/// killed before its guards ran.
fn left_by_dead_run(name: &str, prefix: &str) -> bool {
    maker_pid(name, prefix).is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
}

/// The pid in a name `<prefix>-<pid>` or `<prefix>-<pid>-<n>`.
fn maker_pid(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?
        .strip_prefix('-')?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// True the first time it is asked about `prefix` in `seen` (one sweep of dead runs per prefix
/// and per process is enough).
fn first_time(seen: &Mutex<Vec<String>>, prefix: &str) -> bool {
    let mut seen = seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if seen.iter().any(|known| known == prefix) {
        return false;
    }
    seen.push(prefix.to_owned());
    true
}

#[cfg(test)]
mod tests {
    use super::maker_pid;

    #[test]
    fn the_maker_pid_is_read_from_the_name() {
        assert_eq!(maker_pid("httptop-test-123-4", "httptop-test"), Some(123));
        assert_eq!(maker_pid("httptop-bench-77", "httptop-bench"), Some(77));
        assert_eq!(maker_pid("httptop-benchx-77", "httptop-bench"), None);
        assert_eq!(maker_pid("other-77", "httptop-bench"), None);
        assert_eq!(maker_pid("httptop-test-abc", "httptop-test"), None);
    }
}
