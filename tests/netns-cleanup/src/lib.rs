//! Network namespaces named `<prefix>-<pid>[-<n>]` by the process that made them: deleting one
//! (best effort, from a Drop), and deleting those whose maker died before its guards ran.
//! Shared by the root tests and `cargo xtask bench`.

use std::{path::Path, process::Command};

/// Kills what still runs in the namespace (an nginx worker whose master was killed, say), then
/// deletes it. Best effort: this runs in Drop, possibly while a test panics.
pub fn delete_namespace(name: &str) {
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

/// The pid in a name `<prefix>-<pid>` or `<prefix>-<pid>-<n>`.
fn maker_pid(name: &str, prefix: &str) -> Option<u32> {
    name.strip_prefix(prefix)?
        .strip_prefix('-')?
        .split('-')
        .next()?
        .parse()
        .ok()
}

/// Deletes the namespaces named after `prefix` whose maker process is gone.
pub fn remove_namespaces_of_dead_runs(prefix: &str) {
    let Ok(output) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = maker_pid(name, prefix) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            delete_namespace(name);
        }
    }
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
