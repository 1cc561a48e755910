//! Late copies of a connection's last packets, after it ended: the server's namespace bridges
//! its veth (the server's address on the bridge), so httptop, watching every interface there,
//! sees each packet twice, on the veth and on the bridge; and the server's answer carries its
//! FIN, so the connection ends with the first copy. The second copy must be known for a copy,
//! not taken for a new connection's unanswered response. Every count is exact.
//!
//! Root only: run through `cargo xtask test`.

use std::net::SocketAddr;

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

httptop_tests::in_each_attach_mode!(copies_after_the_close_on_a_bridged_veth_count_once);
