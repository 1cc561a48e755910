//! Watching every interface includes interfaces that appear after httptop started (a container's
//! veth, say): they are tapped within about a second.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use httptop_tests::{AttachMode, Httptop, NetNs, Nginx, Veth, keep_alive_client};

fn an_interface_added_after_start_is_tapped_and_counted_exactly(mode: AttachMode) {
    let server_ns = NetNs::new();
    let client_ns = NetNs::new();
    let log = std::env::temp_dir().join(format!("httptop-interfaces-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&log);
    let log_arg = log.to_str().expect("UTF-8 temp path").to_owned();
    // Only lo exists in the server's namespace when httptop starts.
    let httptop = Httptop::attach_in(mode, &server_ns, &["--log-file", &log_arg]);
    let _veth = Veth::connect(&server_ns, &client_ns);
    let server = SocketAddr::new(Veth::SERVER_V4.into(), 8080);
    let _nginx = Nginx::start(&server_ns, &[server]);
    // httptop re-lists interfaces every second and logs each tap by name.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("tapped interface veth-server ")
    {
        assert!(
            Instant::now() < deadline,
            "veth-server not tapped within 5 s; log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    keep_alive_client(&client_ns, server, 300);
    let summary = httptop.stop();
    let _ = std::fs::remove_file(&log);
    summary.assert_all_answered(300);
}

httptop_tests::in_each_attach_mode!(an_interface_added_after_start_is_tapped_and_counted_exactly);
