//! `--netns`: httptop watches inside other network namespaces besides its own, each row says
//! which, and nothing outside the namespaces it was given is seen. Every namespace here runs a
//! server on the same address, 127.0.0.1:8000, so a row keyed by address alone would mix them.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::Path,
    time::{Duration, Instant},
};

use httptop_tests::{
    AttachMode, Httptop, NetNs, Nginx, PythonServer, Summary, curl_get, keep_alive_client,
};

const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8000);

/// The `top_rows` of a `--group server` summary as (netns, server, exchanges, server's comm,
/// server's pid), sorted.
fn server_rows(summary: &Summary) -> Vec<(String, String, u64, String, Option<u64>)> {
    let mut rows: Vec<_> = summary.0["top_rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no top_rows:\n{summary}"))
        .iter()
        .map(|r| {
            let process = &r["server_process"];
            (
                r["netns"].as_str().unwrap_or("<null>").to_owned(),
                r["server"].as_str().unwrap().to_owned(),
                r["exchanges"].as_u64().unwrap(),
                process["comm"].as_str().unwrap_or("<none>").to_owned(),
                process["pid"].as_u64(),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn watches_the_namespaces_given_and_nothing_else(mode: AttachMode) {
    // httptop runs in `own`; `named` is given by its name, `by_path` by a /proc path; `other`
    // is not given.
    let own = NetNs::new();
    let named = NetNs::new();
    let by_path = NetNs::new();
    let other = NetNs::new();
    let own_server = PythonServer::http_server(&own, SERVER);
    let nginx = Nginx::start(&named, &[SERVER]);
    let path_server = PythonServer::http_server(&by_path, SERVER);
    let _other_server = PythonServer::http_server(&other, SERVER);
    let path = format!("/proc/{}/ns/net", path_server.pid());
    let httptop = Httptop::attach_in(
        mode,
        &own,
        &[
            "--netns",
            named.name(),
            "--netns",
            &path,
            "--group",
            "server",
        ],
    );
    let url = format!("http://{SERVER}/index.html");
    curl_get(&own, &url, 3);
    keep_alive_client(&named, SERVER, 7);
    curl_get(&by_path, &url, 4);
    curl_get(&other, &url, 5);
    let summary = httptop.stop();

    summary.assert_all_answered(3 + 7 + 4);
    let rows = server_rows(&summary);
    // nginx's worker holds the connection; its listening socket is shared with the master, so
    // by the listener its pid is unknown.
    let workers: Vec<u64> = nginx.worker_pids().into_iter().map(u64::from).collect();
    let nginx_pid = rows
        .iter()
        .find(|r| r.0 == named.name())
        .and_then(|r| r.4)
        .filter(|pid| workers.contains(pid));
    let row = |netns: &str, exchanges: u64, comm: &str, pid: Option<u64>| {
        (
            netns.to_owned(),
            SERVER.to_string(),
            exchanges,
            comm.to_owned(),
            pid,
        )
    };
    let mut expected = vec![
        row(own.name(), 3, "python3", Some(u64::from(own_server.pid()))),
        row(named.name(), 7, "nginx", nginx_pid),
        row(&path, 4, "python3", Some(u64::from(path_server.pid()))),
    ];
    expected.sort();
    // One row per namespace watched, each its own server's; `other`'s 5 unseen.
    assert_eq!(rows, expected, "{summary}");
}

httptop_tests::in_each_attach_mode!(watches_the_namespaces_given_and_nothing_else);

/// Waits at most 15 s for `line` in httptop's log.
fn wait_for_log(log: &Path, line: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(line) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no `{line}` in httptop's log within 15 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--netns all`: a namespace named after httptop started is watched within a sweep, one that
/// goes away is let go of with its counts kept, and httptop's own namespace (named too) is
/// watched once. Other tests' namespaces come and go meanwhile (and are watched too): only this
/// test's rows are looked at.
#[test]
#[ignore = "needs root"]
fn all_follows_named_namespaces_as_they_come_and_go() {
    let own = NetNs::new();
    let own_server = PythonServer::http_server(&own, SERVER);
    let log = std::env::temp_dir().join(format!("httptop-netns-all-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let httptop = Httptop::attach(
        &own,
        &[
            "--netns",
            "all",
            "--group",
            "server",
            "--top",
            "10000",
            "--log-file",
            log.to_str().unwrap(),
        ],
    );
    let url = format!("http://{SERVER}/index.html");
    curl_get(&own, &url, 2);
    let late = NetNs::new();
    let late_name = late.name().to_owned();
    let late_server = PythonServer::http_server(&late, SERVER);
    wait_for_log(&log, &format!("attached in network namespace {late_name}"));
    curl_get(&late, &url, 6);
    let late_pid = late_server.pid();
    drop(late_server);
    drop(late);
    wait_for_log(&log, &format!("network namespace {late_name} is gone"));
    let summary = httptop.stop();

    let rows: Vec<_> = server_rows(&summary)
        .into_iter()
        .filter(|r| r.0 == own.name() || r.0 == late_name)
        .collect();
    let mut expected = vec![
        (
            own.name().to_owned(),
            SERVER.to_string(),
            2,
            "python3".to_owned(),
            Some(u64::from(own_server.pid())),
        ),
        (
            late_name.clone(),
            SERVER.to_string(),
            6,
            "python3".to_owned(),
            Some(u64::from(late_pid)),
        ),
    ];
    expected.sort();
    assert_eq!(rows, expected, "{summary}");
    let _ = std::fs::remove_file(&log);
}

/// A name that is not a namespace fails the run before anything is attached, in one line.
#[test]
#[ignore = "needs root"]
fn a_missing_namespace_is_a_one_line_error() {
    let own = NetNs::new();
    let output = own
        .command(httptop_tests::httptop_binary())
        .args(["--headless", "--netns", "httptop-test-no-such-namespace"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "httptop: error: --netns httptop-test-no-such-namespace: no such network namespace \
             (/run/netns/httptop-test-no-such-namespace)"
        ),
        "{stderr}"
    );
}
