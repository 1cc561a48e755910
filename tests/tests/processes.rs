//! Who is talking: the local process on each side of each connection, against real programs in
//! a namespace: nginx (master and worker) and python3's http.server as servers; this test
//! process, a python3 keep-alive client and curl as clients. Every process row and every
//! connection's processes are checked exactly (pid and command name); a side that cannot be
//! found says so, and is never given another process's pid.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use httptop_tests::{AttachMode, Httptop, NetNs, Nginx, PythonServer, Summary, keep_alive_client};
use serde_json::Value;

const NGINX: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const PYTHON: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8081);

/// A python3 client: `requests` GETs of / on one keep-alive connection (http.client), which
/// it keeps open half a second after the last answer (a connection that lives past httptop's
/// next look, as keep-alive connections do).
const PYTHON_CLIENT: &str = "\
import http.client, sys, time
c = http.client.HTTPConnection(sys.argv[1], int(sys.argv[2]), timeout=5)
for _ in range(int(sys.argv[3])):
    c.request('GET', '/')
    r = c.getresponse()
    r.read()
    assert r.status == 200, r.status
time.sleep(0.5)
c.close()
";

/// Runs [`PYTHON_CLIENT`] in `ns`: its pid once it has finished.
fn python_client(ns: &NetNs, server: SocketAddr, requests: usize) -> u32 {
    let mut python = ns.command("python3");
    python
        .args(["-c", PYTHON_CLIENT])
        .args([server.ip().to_string(), server.port().to_string()])
        .arg(requests.to_string());
    let child = python.spawn().expect("starting the python3 client");
    let pid = child.id();
    let output = child.wait_with_output().expect("the python3 client");
    assert!(output.status.success(), "python3 client: {output:?}");
    pid
}

/// `top_rows` as key → exchanges.
fn rows(summary: &Summary) -> BTreeMap<String, u64> {
    summary.0["top_rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no top_rows:\n{summary}"))
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap().to_owned(),
                r["exchanges"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn comm_of(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/comm: {e}"))
        .trim_end()
        .to_owned()
}

fn found(pid: u32, comm: &str) -> Value {
    serde_json::json!({"state": "found", "pid": pid, "comm": comm, "unit": null})
}

fn processes_on_each_side_are_named_exactly(mode: AttachMode) {
    let ns = NetNs::new();
    let nginx = Nginx::start(&ns, &[NGINX]);
    let python_server = PythonServer::http_server(&ns, PYTHON);
    let workers = nginx.worker_pids();
    assert_eq!(workers.len(), 1, "the lab's nginx has one worker");
    let worker = workers[0];
    let by_process = Httptop::attach_in(mode, &ns, &["--group", "process", "--top", "50"]);
    let by_connection = Httptop::attach_in(mode, &ns, &["--group", "connection", "--top", "50"]);

    // Two python3 keep-alive clients, 30 and 20 requests to nginx.
    let first_client = python_client(&ns, NGINX, 30);
    let second_client = python_client(&ns, NGINX, 20);
    // This process: 10 requests on a connection it closes at once, likely before httptop
    // looks: the kernel told who connected it, so it is named all the same.
    keep_alive_client(&ns, NGINX, 10);
    // curl, one request per connection (and per process), 5 to http.server.
    let mut curls = Vec::new();
    for _ in 0..5 {
        let mut curl = ns.command("curl");
        curl.args(["-sS", "--max-time", "5", "-o", "/dev/null"])
            .arg(format!("http://{PYTHON}/index.html"));
        let child = curl.spawn().expect("starting curl");
        curls.push(child.id());
        let status = run_to_exit_child(child);
        assert!(status, "curl failed");
    }

    let processes = by_process.stop();
    let connections = by_connection.stop();
    processes.assert_all_answered(65);

    let me = (std::process::id(), comm_of(std::process::id()));
    // What each side is called, exactly: the process that connected the client end, and the one
    // that first read the server end (nginx's worker, not its master), as the kernel told them
    // (even for a curl gone at once). A connection is named once, so a process row holds all of
    // that side's exchanges.
    let servers = [
        (format!("nginx[{worker}] (server)"), 60),
        (format!("python3[{}] (server)", python_server.pid()), 5),
    ];
    let mut clients = vec![
        (format!("python3[{first_client}] (client)"), 30),
        (format!("python3[{second_client}] (client)"), 20),
        (format!("{}[{}] (client)", me.1, me.0), 10),
    ];
    clients.extend(curls.iter().map(|pid| (format!("curl[{pid}] (client)"), 1)));
    let expected: BTreeMap<String, u64> = servers.into_iter().chain(clients).collect();
    assert_eq!(rows(&processes), expected, "{processes}");
    let sides = &processes.0["process_sides"];
    assert_eq!(sides["remote"], 0, "{processes}");
    assert_eq!(
        (&sides["found"], &sides["unknown"]),
        (&130.into(), &0.into()),
        "{processes}"
    );
    // This process may read every process's descriptors: nothing to say.
    assert_eq!(processes.0["process_notice"], Value::Null, "{processes}");

    // Each connection row names both sides as the process rows do.
    let mut keep_alive = Vec::new();
    for row in connections.0["top_rows"].as_array().unwrap() {
        let server = &row["server_process"];
        if row["server"].as_str().unwrap() == NGINX.to_string() {
            assert_eq!(*server, found(worker, "nginx"), "{row}");
            keep_alive.push((
                row["exchanges"].as_u64().unwrap(),
                row["client_process"].clone(),
            ));
        } else {
            assert_eq!(*server, found(python_server.pid(), "python3"), "{row}");
        }
    }
    keep_alive.sort_by_key(|(n, _)| *n);
    let counts: Vec<u64> = keep_alive.iter().map(|(n, _)| *n).collect();
    assert_eq!(counts, [10, 20, 30], "{connections}");
    for ((_, client), pid) in keep_alive.iter().zip([me.0, second_client, first_client]) {
        let comm = if pid == me.0 {
            me.1.as_str()
        } else {
            "python3"
        };
        assert_eq!(*client, found(pid, comm));
    }
}

/// Waits for a client that must finish within seconds.
fn run_to_exit_child(mut child: std::process::Child) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("waiting for a client") {
            return status.success();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a client did not finish"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

httptop_tests::in_each_attach_mode!(processes_on_each_side_are_named_exactly);
