//! Faults around a running httptop that are not its own: an interface deleted while watched, a
//! second httptop watching the same traffic, the network namespace's name deleted under it.
//! Each leaves httptop running, counting the rest exactly, and exiting 0.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::{Ipv4Addr, SocketAddr},
    process::Command,
    time::{Duration, Instant},
};

use httptop_tests::{AttachMode, Httptop, NetNs, Nginx, Veth, keep_alive_client};

const LOOPBACK_SERVER: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Waits until `log` holds `text` (httptop logs what it does with interfaces).
fn wait_for_log(log: &std::path::Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(log)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            Instant::now() < deadline,
            "no `{text}` in the log within 5 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn an_interface_deleted_while_watched_leaves_the_rest_counted(mode: AttachMode) {
    let server_ns = NetNs::new();
    let client_ns = NetNs::new();
    let _veth = Veth::connect(&server_ns, &client_ns);
    let over_veth = SocketAddr::new(Veth::SERVER_V4.into(), 8081);
    let _nginx = Nginx::start(&server_ns, &[over_veth, LOOPBACK_SERVER]);
    let log = std::env::temp_dir().join(format!("httptop-faults-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let log_arg = log.to_str().expect("UTF-8 temp path").to_owned();
    let httptop = Httptop::attach_in(mode, &server_ns, &["--log-file", &log_arg]);
    keep_alive_client(&client_ns, over_veth, 100);
    // The pair goes (both ends), as a container's veth does when the container stops.
    server_ns.ip(&["link", "delete", "veth-server"]);
    // Watching every interface, httptop re-lists them each second and closes the gone one's tap.
    wait_for_log(&log, "is gone: its tap is closed");
    keep_alive_client(&server_ns, LOOPBACK_SERVER, 200);
    let summary = httptop.stop();
    let _ = std::fs::remove_file(&log);
    summary.assert_all_answered(300);
}

fn two_instances_each_count_everything(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[LOOPBACK_SERVER]);
    let first = Httptop::attach_in(mode, &ns, &[]);
    let second = Httptop::attach_in(mode, &ns, &[]);
    keep_alive_client(&ns, LOOPBACK_SERVER, 250);
    let second = second.stop();
    // The first keeps counting after the second has gone.
    keep_alive_client(&ns, LOOPBACK_SERVER, 50);
    let first = first.stop();
    second.assert_all_answered(250);
    first.assert_all_answered(300);
}

httptop_tests::in_each_attach_mode!(
    an_interface_deleted_while_watched_leaves_the_rest_counted,
    two_instances_each_count_everything,
);

/// `ip netns delete` only removes the namespace's name: httptop, nginx and their sockets keep
/// it alive, and httptop goes on counting what happens inside it.
#[test]
#[ignore = "needs root"]
fn a_namespace_name_deleted_under_httptop_changes_nothing() {
    let ns = NetNs::new();
    let nginx = Nginx::start(&ns, &[LOOPBACK_SERVER]);
    let httptop = Httptop::attach(&ns, &[]);
    let inside = format!("/proc/{}/ns/net", httptop.pid());
    let status = Command::new("ip")
        .args(["netns", "delete", ns.name()])
        .status()
        .expect("running ip netns delete");
    assert!(status.success(), "ip netns delete {}", ns.name());
    // curl fetches every URL it is given on one keep-alive connection.
    let url = format!("http://{LOOPBACK_SERVER}/");
    let output = Command::new("nsenter")
        .arg(format!("--net={inside}"))
        .args(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}\\n"])
        .args(std::iter::repeat_n(&url, 40))
        .output()
        .expect("running curl through nsenter");
    let codes = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        codes.lines().filter(|code| *code == "200").count(),
        40,
        "curl: {codes}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = httptop.stop();
    drop(nginx);
    summary.assert_all_answered(40);
}
