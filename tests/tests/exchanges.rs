//! Exact exchange counts from `httptop --headless --json`, against real servers and clients in
//! namespaces of their own. Each test sends a known number of requests and expects exactly that
//! many requests, responses and exchanges, and nothing unmatched, expired, lost or in flight.
//!
//! Root only: run through `cargo xtask test` (or `cargo test -p httptop-tests -- --ignored
//! --test-threads=1` as root, with `HTTPTOP_BIN` pointing at a release build).

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use httptop_tests::{
    AttachMode, Httptop, NetNs, Nginx, PythonServer, Veth, curl_get, keep_alive_client,
    pipelining_client,
};

const PORT: u16 = 8080;
const LOCALHOST_V4: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), PORT);
const LOCALHOST_V6: SocketAddr = SocketAddr::new(std::net::IpAddr::V6(Ipv6Addr::LOCALHOST), PORT);

fn nginx_ipv4_loopback_curl_one_connection_per_request(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[LOCALHOST_V4, LOCALHOST_V6]);
    // Twenty connections, one exchange each: list them all (the default is the top 10).
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    curl_get(&ns, &format!("http://{LOCALHOST_V4}/"), 20);
    let summary = httptop.stop();
    summary.assert_all_answered(20);
    for (client, server, exchanges) in summary.top_talkers() {
        assert!(client.starts_with("127.0.0.1:"), "client {client}");
        assert_eq!(server, LOCALHOST_V4.to_string());
        assert_eq!(exchanges, 1, "one exchange per curl connection");
    }
}

fn nginx_ipv4_loopback_keep_alive_1000(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[LOCALHOST_V4]);
    let httptop = Httptop::attach_in(mode, &ns, &[]);
    keep_alive_client(&ns, LOCALHOST_V4, 1000);
    let summary = httptop.stop();
    summary.assert_all_answered(1000);
    let talkers = summary.top_talkers();
    assert_eq!(talkers.len(), 1, "one connection; summary:\n{summary}");
    assert_eq!(talkers[0].1, "127.0.0.1:8080");
    assert_eq!(talkers[0].2, 1000);
}

fn nginx_ipv6_loopback_keep_alive_500(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[LOCALHOST_V6]);
    let httptop = Httptop::attach_in(mode, &ns, &[]);
    keep_alive_client(&ns, LOCALHOST_V6, 500);
    let summary = httptop.stop();
    summary.assert_all_answered(500);
    let talkers = summary.top_talkers();
    assert_eq!(talkers.len(), 1, "one connection; summary:\n{summary}");
    assert!(
        talkers[0].0.starts_with("[::1]:"),
        "client {}",
        talkers[0].0
    );
    assert_eq!(talkers[0].1, "[::1]:8080");
    assert_eq!(talkers[0].2, 500);
}

fn nginx_pipelining_10_requests_per_write_50_rounds(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[LOCALHOST_V4]);
    let httptop = Httptop::attach_in(mode, &ns, &[]);
    pipelining_client(&ns, LOCALHOST_V4, 10, 50);
    let summary = httptop.stop();
    summary.assert_all_answered(500);
}

fn python_http_server_http10_curl_one_connection_per_request(mode: AttachMode) {
    let ns = NetNs::new();
    let _server = PythonServer::http_server(&ns, LOCALHOST_V4);
    // Twenty connections, one exchange each: list them all (the default is the top 10).
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    curl_get(&ns, &format!("http://{LOCALHOST_V4}/index.html"), 20);
    let summary = httptop.stop();
    summary.assert_all_answered(20);
}

/// nginx in one namespace, the client in another, a veth pair between them; httptop in the
/// server's namespace, where the responses appear once, as outgoing packets.
fn veth_keep_alive(
    mode: AttachMode,
    server_ip: std::net::IpAddr,
    requests: u64,
    httptop_args: &[&str],
) {
    let server_ns = NetNs::new();
    let client_ns = NetNs::new();
    let _veth = Veth::connect(&server_ns, &client_ns);
    let server = SocketAddr::new(server_ip, PORT);
    let _nginx = Nginx::start(&server_ns, &[server]);
    let httptop = Httptop::attach_in(mode, &server_ns, httptop_args);
    keep_alive_client(&client_ns, server, requests.try_into().expect("fits usize"));
    let summary = httptop.stop();
    summary.assert_all_answered(requests);
    let talkers = summary.top_talkers();
    assert_eq!(talkers.len(), 1, "one connection; summary:\n{summary}");
    assert_eq!(talkers[0].1, server.to_string());
}

fn veth_ipv4_keep_alive_1000_on_the_veth_interface(mode: AttachMode) {
    veth_keep_alive(mode, Veth::SERVER_V4.into(), 1000, &["-i", "veth-server"]);
}

fn veth_ipv4_keep_alive_1000_on_all_interfaces(mode: AttachMode) {
    veth_keep_alive(mode, Veth::SERVER_V4.into(), 1000, &[]);
}

fn veth_ipv6_keep_alive_500_on_the_veth_interface(mode: AttachMode) {
    veth_keep_alive(mode, Veth::SERVER_V6.into(), 500, &["-i", "veth-server"]);
}

fn veth_ipv6_keep_alive_500_on_all_interfaces(mode: AttachMode) {
    veth_keep_alive(mode, Veth::SERVER_V6.into(), 500, &[]);
}

fn delay_server_20ms_p50_latency(mode: AttachMode) {
    const DELAY_NS: u64 = 20_000_000;
    let ns = NetNs::new();
    let _server = PythonServer::delay(&ns, LOCALHOST_V4, Duration::from_nanos(DELAY_NS));
    let httptop = Httptop::attach_in(mode, &ns, &[]);
    keep_alive_client(&ns, LOCALHOST_V4, 100);
    let summary = httptop.stop();
    summary.assert_all_answered(100);
    let p50 = summary.latency_ns("p50");
    assert!(
        (DELAY_NS..DELAY_NS + 2_000_000).contains(&p50),
        "p50 {p50} ns is not in [20 ms, 22 ms); summary:\n{summary}"
    );
    let talker_p50 = summary.0["top_talkers"][0]["p50_ns"]
        .as_u64()
        .unwrap_or_else(|| panic!("no top_talkers[0].p50_ns; summary:\n{summary}"));
    assert!(
        (DELAY_NS..DELAY_NS + 2_000_000).contains(&talker_p50),
        "top talker's p50 {talker_p50} ns is not in [20 ms, 22 ms); summary:\n{summary}"
    );
}

fn port_filter_counts_only_that_server_port(mode: AttachMode) {
    let ns = NetNs::new();
    let other = SocketAddr::new(LOCALHOST_V4.ip(), PORT + 1);
    let _nginx = Nginx::start(&ns, &[LOCALHOST_V4, other]);
    let httptop = Httptop::attach_in(mode, &ns, &["-p", &other.port().to_string()]);
    keep_alive_client(&ns, LOCALHOST_V4, 100);
    keep_alive_client(&ns, other, 70);
    let summary = httptop.stop();
    summary.assert_all_answered(70);
    let talkers = summary.top_talkers();
    assert_eq!(
        talkers.len(),
        1,
        "one connection to port {}; summary:\n{summary}",
        other.port()
    );
    assert_eq!(talkers[0].1, other.to_string());
}

httptop_tests::in_each_attach_mode!(
    nginx_ipv4_loopback_curl_one_connection_per_request,
    nginx_ipv4_loopback_keep_alive_1000,
    nginx_ipv6_loopback_keep_alive_500,
    nginx_pipelining_10_requests_per_write_50_rounds,
    python_http_server_http10_curl_one_connection_per_request,
    veth_ipv4_keep_alive_1000_on_the_veth_interface,
    veth_ipv4_keep_alive_1000_on_all_interfaces,
    veth_ipv6_keep_alive_500_on_the_veth_interface,
    veth_ipv6_keep_alive_500_on_all_interfaces,
    delay_server_20ms_p50_latency,
    port_filter_counts_only_that_server_port,
);
