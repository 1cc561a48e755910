//! Lines that start like an HTTP request but belong to another protocol (RTSP's `OPTIONS …
//! RTSP/1.0`, NATS' `CONNECT {…}`) count nothing, beside curl's requests to nginx, which all
//! count: a request line must end with HTTP's version.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use httptop_tests::{AttachMode, Httptop, NetNs, Nginx, curl_get, python_client, python_listener};

const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const OTHER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8554);
const TIMEOUT: Duration = Duration::from_secs(30);
const CURLS: u64 = 3;

/// Answers each connection's first line with an RTSP-style status line.
const LINE_SERVER: &str = r#"
while True:
    c = s.accept()[0]
    c.recv(4096)
    c.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")
    c.close()
"#;

/// One connection per line, each line sent and its answer read.
const LINE_CLIENT: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
for line in [b"OPTIONS rtsp://127.0.0.1:8554/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n",
             b'CONNECT {"verbose":false,"pedantic":false}\r\n']:
    c = socket.create_connection((host, port))
    c.sendall(line)
    assert c.recv(4096).startswith(b"RTSP/1.0 200")
    c.close()
"#;

fn request_lines_of_other_protocols_count_nothing(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[NGINX]);
    let _server = python_listener(&ns, LINE_SERVER, OTHER, "the line server");
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let args = [OTHER.ip().to_string(), OTHER.port().to_string()];
    python_client(&ns, "python3", LINE_CLIENT, args, TIMEOUT);
    curl_get(&ns, &format!("http://{NGINX}/"), CURLS as usize);
    let summary = httptop.stop();
    // curl's requests alone: nothing counted on the other port, nothing expired.
    summary.assert_all_answered(CURLS);
    for (_, server, _) in summary.top_talkers() {
        assert_eq!(server, NGINX.to_string(), "{summary}");
    }
}

httptop_tests::in_each_attach_mode!(request_lines_of_other_protocols_count_nothing);
