//! How the dashboard ends when it is told to from outside: each stopping signal sent to its pid
//! (not the Ctrl-C key) leaves the terminal as it was, with the normal screen and the cursor
//! shown, and exit status 0; SIGKILL cannot be caught, but even then no filter outlives the
//! process: its packet sockets and its programs are gone with it.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    collections::BTreeSet,
    fs,
    time::{Duration, Instant},
};

use httptop_tests::{
    NetNs, run_to_exit,
    tmux::{self, Tmux},
};

const STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// `ip netns exec NS httptop` in a tmux pane, waited for until it has drawn its header; returns
/// the pane and httptop's pid.
fn start_dashboard(ns: &NetNs) -> (Tmux, u32) {
    let tmux = tmux::dashboard(ns, 120, 40, &[]);
    tmux.wait_for("the dashboard's header", STEP_TIMEOUT, |screen| {
        screen.contains("exchanges")
    });
    assert!(
        tmux.alternate_screen_on(),
        "the dashboard draws on the alternate screen"
    );
    assert_eq!(
        tmux.display("#{cursor_flag}"),
        "0",
        "the dashboard hides the cursor"
    );
    // The pane runs a shell wrapper that runs `ip netns exec`, which execs httptop.
    let wrapper: u32 = tmux.display("#{pane_pid}").parse().expect("a pane pid");
    let children = fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
        .expect("the wrapper's children");
    let pid: u32 = children
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("the wrapper has one child, httptop; it has {children:?}"));
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).expect("httptop's comm");
    assert_eq!(comm.trim(), "httptop");
    (tmux, pid)
}

/// What a process holds in the kernel: its packet sockets' inodes and its BPF programs' ids.
#[derive(Debug, Default, PartialEq, Eq)]
struct Held {
    socket_inodes: BTreeSet<u64>,
    prog_ids: BTreeSet<u32>,
}

impl Held {
    fn of(pid: u32) -> Self {
        let mut held = Held::default();
        for entry in fs::read_dir(format!("/proc/{pid}/fd")).expect("httptop's fds") {
            let entry = entry.expect("an fd entry");
            let Ok(target) = fs::read_link(entry.path()) else {
                continue;
            };
            let target = target.to_string_lossy().into_owned();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|rest| rest.strip_suffix(']'))
            {
                held.socket_inodes
                    .insert(inode.parse().expect("a socket inode"));
            } else if target == "anon_inode:bpf-prog" {
                let fdinfo = fs::read_to_string(format!(
                    "/proc/{pid}/fdinfo/{}",
                    entry.file_name().to_string_lossy()
                ))
                .expect("a program fd's fdinfo");
                let id = fdinfo
                    .lines()
                    .find_map(|line| line.strip_prefix("prog_id:"))
                    .expect("a program fd's fdinfo has prog_id");
                held.prog_ids
                    .insert(id.trim().parse().expect("a program id"));
            }
        }
        held
    }
}

/// The inodes of the packet sockets open in `ns` (`/proc/net/packet` read there).
fn packet_socket_inodes(ns: &NetNs) -> BTreeSet<u64> {
    let mut command = ns.command("cat");
    command.arg("/proc/net/packet");
    let output = run_to_exit(command, STEP_TIMEOUT);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(8)?.parse().ok())
        .collect()
}

/// The ids of the BPF programs loaded on the host (`bpftool prog show`), with their names.
fn loaded_programs() -> Vec<(u32, String)> {
    let mut command = std::process::Command::new("bpftool");
    command.args(["-j", "prog", "show"]);
    let output = run_to_exit(command, STEP_TIMEOUT);
    assert!(output.status.success(), "bpftool prog show failed");
    let programs: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("bpftool's JSON");
    programs
        .as_array()
        .expect("a list of programs")
        .iter()
        .map(|p| {
            let id = p["id"].as_u64().expect("a program id") as u32;
            (id, p["name"].as_str().unwrap_or("").to_owned())
        })
        .collect()
}

/// Sockets and programs `held` had: each must be listed while httptop runs.
fn assert_attached(ns: &NetNs, held: &Held) {
    assert!(
        !held.socket_inodes.is_empty() && !held.prog_ids.is_empty(),
        "a running dashboard holds packet sockets and programs: {held:?}"
    );
    let sockets = packet_socket_inodes(ns);
    assert!(
        held.socket_inodes
            .iter()
            .any(|inode| sockets.contains(inode)),
        "httptop's sockets {:?} are in /proc/net/packet {sockets:?}",
        held.socket_inodes
    );
    let programs = loaded_programs();
    for id in &held.prog_ids {
        let name = programs
            .iter()
            .find(|(p, _)| p == id)
            .map(|(_, n)| n.as_str());
        assert!(
            name.is_some_and(|n| n.starts_with("httptop")),
            "program {id} is listed as an httptop program: {name:?}"
        );
    }
}

/// After httptop is gone: none of its packet sockets and none of its programs remain (programs
/// are freed after an RCU grace period: waited for, boundedly).
fn assert_nothing_left(ns: &NetNs, held: &Held) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let sockets = packet_socket_inodes(ns);
        let left_sockets: Vec<_> = held.socket_inodes.intersection(&sockets).collect();
        let programs = loaded_programs();
        let left_programs: Vec<_> = programs
            .iter()
            .filter(|(id, _)| held.prog_ids.contains(id))
            .collect();
        if left_sockets.is_empty() && left_programs.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "after httptop exited: sockets {left_sockets:?} still in /proc/net/packet, \
             programs {left_programs:?} still loaded"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Sends `signal` to the dashboard's pid and checks it exits 0 with the terminal restored and
/// nothing left in the kernel.
fn stops_cleanly_on(signal: libc::c_int) {
    let ns = NetNs::new();
    let (tmux, pid) = start_dashboard(&ns);
    let held = Held::of(pid);
    assert_attached(&ns, &held);
    // SAFETY: kill has no memory preconditions; pid is httptop's, checked by its comm above.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
    let status = tmux.wait_for_exit(STEP_TIMEOUT);
    assert_eq!(
        status,
        0,
        "exit status after signal {signal}:\n{}",
        tmux.capture()
    );
    assert_eq!(
        tmux.display("#{alternate_on} #{cursor_flag}"),
        "0 1",
        "after signal {signal}: back on the normal screen, cursor shown"
    );
    assert_nothing_left(&ns, &held);
}

#[test]
#[ignore = "needs root"]
fn sigint_to_the_pid_restores_the_terminal() {
    stops_cleanly_on(libc::SIGINT);
}

#[test]
#[ignore = "needs root"]
fn sigterm_restores_the_terminal() {
    stops_cleanly_on(libc::SIGTERM);
}

#[test]
#[ignore = "needs root"]
fn sighup_restores_the_terminal() {
    stops_cleanly_on(libc::SIGHUP);
}

#[test]
#[ignore = "needs root"]
fn sigquit_restores_the_terminal() {
    stops_cleanly_on(libc::SIGQUIT);
}

/// SIGKILL: nothing runs in httptop, so the terminal stays as it was, but the kernel closes its
/// sockets and frees its programs: no filter outlives it.
#[test]
#[ignore = "needs root"]
fn sigkill_leaves_no_filter_attached() {
    let ns = NetNs::new();
    let (tmux, pid) = start_dashboard(&ns);
    let held = Held::of(pid);
    assert_attached(&ns, &held);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
    assert_eq!(tmux.wait_for_exit(STEP_TIMEOUT), 128 + libc::SIGKILL);
    assert_nothing_left(&ns, &held);
}
