//! Late copies of a connection's last packets, after it ended: the server's namespace bridges
//! its veth (the server's address on the bridge), so httptop, watching every interface there,
//! sees each packet twice, on the veth and on the bridge; and the server's answer carries its
//! FIN, so the connection ends with the first copy. The second copy must be known for a copy,
//! not taken for a new connection's unanswered response. And copies of a request sent again
//! after the connection was dropped for being silent: a client whose request is never
//! acknowledged retransmits it with pauses that double, longer than `--request-timeout`, and
//! each later copy must be known for one, not taken for a new request. Every count is exact.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    io::{BufRead, BufReader, Write},
    net::SocketAddr,
    process::Stdio,
};

use httptop_tests::{AttachMode, Httptop, NetNs, Veth, curl_get, python_listener};

const CONNECTIONS: u64 = 20;
const BRIDGE: &str = "br-http";

/// One response per connection, written corked and then closed: the kernel sends the data and
/// the FIN in one segment.
const CLOSING_SERVER: &str = r#"
while True:
    c = s.accept()[0]
    read_head(c)
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n")
    c.close()
"#;

/// Moves the server's end of `veth` under a bridge that takes its address.
fn bridge_the_server_end(ns: &NetNs, veth: &Veth) {
    ns.ip(&["link", "add", BRIDGE, "type", "bridge"]);
    ns.ip(&["addr", "flush", "dev", veth.server_interface]);
    ns.ip(&["link", "set", veth.server_interface, "master", BRIDGE]);
    ns.ip(&[
        "addr",
        "add",
        &format!("{}/24", Veth::SERVER_V4),
        "dev",
        BRIDGE,
    ]);
    ns.ip(&["link", "set", BRIDGE, "up"]);
}

fn copies_after_the_close_on_a_bridged_veth_count_once(mode: AttachMode) {
    let server_ns = NetNs::new();
    let client_ns = NetNs::new();
    let veth = Veth::connect(&server_ns, &client_ns);
    bridge_the_server_end(&server_ns, &veth);
    let server = SocketAddr::new(Veth::SERVER_V4.into(), 8080);
    let _server = python_listener(&server_ns, CLOSING_SERVER, server, "the closing server");
    let httptop = Httptop::attach_in(mode, &server_ns, &["--top", "50"]);
    curl_get(
        &client_ns,
        &format!("http://{server}/"),
        CONNECTIONS as usize,
    );
    let summary = httptop.stop();
    summary.assert_all_answered(CONNECTIONS);
    // Each request and each response seen a second time, and skipped as such.
    assert_eq!(
        summary.count("duplicate_segments"),
        2 * CONNECTIONS,
        "{summary}"
    );
}

/// A server that reads and never answers.
const SILENT_SERVER: &str = r#"
held = []
while True:
    c = s.accept()[0]
    held.append(c)
"#;

/// argv: host, port. Connects, says so, and once a line comes on stdin sends one request and
/// waits: its retransmissions go on meanwhile.
const PATIENT_CLIENT: &str = r#"
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
print("connected", flush=True)
sys.stdin.readline()
c.sendall(b"GET /never HTTP/1.1\r\nHost: h\r\n\r\n")
time.sleep(7)
"#;

/// A TCP counter of the namespace (`/proc/net/snmp`'s `Tcp:` lines).
fn tcp_counter(ns: &NetNs, name: &str) -> u64 {
    let output = ns
        .command("cat")
        .arg("/proc/net/snmp")
        .output()
        .expect("reading /proc/net/snmp");
    let text = String::from_utf8_lossy(&output.stdout);
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let (names, values) = (tcp.next().unwrap_or(""), tcp.next().unwrap_or(""));
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or_else(|| panic!("no Tcp {name} in /proc/net/snmp: {text}"))
}

fn copies_of_a_request_after_its_connection_expired_count_once(mode: AttachMode) {
    let server_ns = NetNs::new();
    let client_ns = NetNs::new();
    let veth = Veth::connect(&server_ns, &client_ns);
    let server = SocketAddr::new(Veth::SERVER_V4.into(), 8093);
    let _server = python_listener(&server_ns, SILENT_SERVER, server, "the silent server");
    let httptop = Httptop::attach_in(mode, &server_ns, &["--request-timeout", "1s"]);
    let mut client = client_ns
        .command("python3")
        .args(["-c", PATIENT_CLIENT, &server.ip().to_string()])
        .arg(server.port().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the client");
    let mut said = String::new();
    BufReader::new(client.stdout.take().expect("the client's stdout"))
        .read_line(&mut said)
        .expect("reading the client");
    assert_eq!(said.trim(), "connected");
    // Once connected, the server's acknowledgements go to an address no one has: the client
    // sends its request again at 0.2, 0.6, 1.4, 3.0 and 6.2 s, and from 1.4 s on each copy
    // comes after the connection was dropped for a silence of more than a second.
    let client_v4 = Veth::CLIENT_V4.to_string();
    server_ns.ip(&[
        "neigh",
        "replace",
        &client_v4,
        "lladdr",
        "02:00:00:00:00:01",
        "dev",
        veth.server_interface,
        "nud",
        "permanent",
    ]);
    writeln!(client.stdin.as_mut().expect("the client's stdin")).expect("telling the client");
    let status = client.wait().expect("waiting for the client");
    assert!(status.success(), "the client: {status}");
    let summary = httptop.stop();
    let retransmitted = tcp_counter(&client_ns, "RetransSegs");
    assert_eq!(summary.count("requests"), 1, "{summary}");
    assert_eq!(summary.count("expired_requests"), 1, "{summary}");
    assert_eq!(
        summary.count("duplicate_segments"),
        retransmitted,
        "{summary}"
    );
}

httptop_tests::in_each_attach_mode!(
    copies_after_the_close_on_a_bridged_veth_count_once,
    copies_of_a_request_after_its_connection_expired_count_once,
);
