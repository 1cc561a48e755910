//! More live connections than the connection table holds, each with a request outstanding:
//! 65,636 connections through `lo` in a namespace, each first completes one exchange (so none
//! is a never-answered connection the sweep may drop to make room), then sends a second request
//! that is never answered. The table holds 65,536: the 100 beyond count in `conn_table_full`
//! (both their requests), their answers find no request, nothing pairs wrongly, and after
//! `--request-timeout` the sweep drains the table to nothing.
//!
//! Root only, and slow (about 45 s: the request timeout must outlast setting up the
//! connections): run through `cargo xtask test`.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use httptop::Counter;
use httptop_lab::ChildGuard;
use httptop_tests::{Httptop, NetNs};
use probe_common::{
    names::{CONNS, CONNS_ENTRIES},
    wire::{ConnKey, ConnState},
};

const OVERFLOW: u64 = 100;
/// Client and server processes, in pairs, one server port each: every process stays under the
/// open-file limit (20,000 here, which root cannot raise without CAP_SYS_RESOURCE).
const PAIRS: u64 = 4;
const FIRST_PORT: u16 = 9100;
/// Setting up every connection must take less than this, so that no connection is idle for the
/// request timeout before the second requests go out.
const SETUP_BUDGET: Duration = Duration::from_secs(25);
const REQUEST_TIMEOUT: &str = "30s";
const REQUEST_TIMEOUT_S: u64 = 30;

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/many_connections.py")
}

/// Entries in the `CONNS` map httptop (pid `pid`) holds, walked key by key.
fn conns_entries(pid: u32) -> u64 {
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("httptop's fds") {
        let entry = entry.expect("an fd");
        let fdinfo = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let Some(id) = fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("map_id:"))
            .and_then(|id| id.trim().parse().ok())
        else {
            continue;
        };
        let Ok(data) = aya::maps::MapData::from_id(id) else {
            continue;
        };
        if data
            .info()
            .ok()
            .and_then(|i| i.name_as_str().map(str::to_owned))
            .as_deref()
            != Some(CONNS)
        {
            continue;
        }
        let map =
            aya::maps::HashMap::<_, ConnKey, ConnState>::try_from(aya::maps::Map::HashMap(data))
                .expect("CONNS is a hash map");
        return map.keys().filter(Result::is_ok).count() as u64;
    }
    panic!("httptop (pid {pid}) holds no {CONNS} map")
}

#[test]
#[ignore = "needs root"]
fn more_connections_than_the_table_count_exactly_and_drain() {
    let capacity = u64::from(CONNS_ENTRIES);
    let total = capacity + OVERFLOW;
    assert_eq!(total % PAIRS, 0);
    let per_pair = total / PAIRS;
    let ns = NetNs::new();
    let output = ns
        .command("sysctl")
        .args(["-qw", "net.ipv4.ip_local_port_range=1024 65535"])
        .output()
        .expect("sysctl");
    assert!(output.status.success(), "sysctl");
    let python = |args: &[String], what: &str, ready: &str| {
        let mut command = ns.command("python3");
        command.arg(script()).args(args);
        ChildGuard::spawn_ready(command, what, ready, Duration::from_secs(30))
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    };
    let _servers: Vec<ChildGuard> = (0..PAIRS)
        .map(|k| {
            let port = (FIRST_PORT + k as u16).to_string();
            python(
                &["server".into(), port, per_pair.to_string()],
                "server",
                "listening",
            )
        })
        .collect();
    let httptop = Httptop::attach(&ns, &["--request-timeout", REQUEST_TIMEOUT]);
    let pid = httptop.pid();

    let started = Instant::now();
    let mut clients: Vec<ChildGuard> = (0..PAIRS)
        .map(|k| {
            let port = (FIRST_PORT + k as u16).to_string();
            let args = [
                "client".into(),
                "127.0.0.1".into(),
                port,
                per_pair.to_string(),
            ];
            python(&args, "client", "started")
        })
        .collect();
    for client in &mut clients {
        let left = SETUP_BUDGET.saturating_sub(started.elapsed());
        client
            .wait_for_stderr("connected", left)
            .expect("every connection's first exchange within the budget");
    }
    for client in &mut clients {
        client.signal(libc::SIGUSR1);
    }
    for client in &mut clients {
        client
            .wait_for_stderr("sent", Duration::from_secs(30))
            .expect("the second requests");
    }
    let set_up = started.elapsed();
    eprintln!("{total} connections set up and second requests sent in {set_up:?}");
    assert!(set_up < SETUP_BUDGET, "setting up took {set_up:?}");

    // Every second request has gone past the filter: the table is full of live connections.
    assert_eq!(conns_entries(pid), capacity, "the table is full");
    // Past the request timeout (and one sweep), every connection was idle long enough.
    std::thread::sleep(Duration::from_secs(REQUEST_TIMEOUT_S + 3));
    let deadline = Instant::now() + Duration::from_secs(10);
    while conns_entries(pid) != 0 {
        assert!(Instant::now() < deadline, "the table did not drain");
        std::thread::sleep(Duration::from_millis(500));
    }
    let summary = httptop.stop();
    let expected = [
        (Counter::Requests, 2 * total),
        (Counter::Responses, total),
        (Counter::Exchanges, capacity),
        (Counter::UnmatchedResponses, OVERFLOW),
        (Counter::ConnTableFull, 2 * OVERFLOW),
        (Counter::ExpiredRequests, 2 * OVERFLOW + capacity),
    ];
    for (counter, value) in expected {
        assert_eq!(
            summary.counter(counter),
            value,
            "{}; {summary}",
            counter.key()
        );
    }
    for counter in [
        Counter::PipelineOverflow,
        Counter::ScanIncomplete,
        Counter::EventsLost,
    ] {
        assert_eq!(summary.counter(counter), 0, "{}; {summary}", counter.key());
    }
    assert_eq!(summary.count("in_flight"), 0, "{summary}");
}
