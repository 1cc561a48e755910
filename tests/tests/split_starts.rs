//! Message starts cut by a segment's end: a client that writes `GE`, waits, then writes
//! `T /… HTTP/1.1` (its connection's first request too, and the same after a pipelined request
//! in one write), or `G`, `E` and the rest in three writes; and a server that writes `HTTP/1.`,
//! waits, then the rest of its status line, or writes it in three parts. Each start is carried
//! through the segments it spans; every count is exact.
//!
//! Root only: run through `cargo xtask test`.

use std::{net::SocketAddr, time::Duration};

use httptop_tests::{AttachMode, Httptop, NetNs, python_client, python_listener};

/// Split requests per connection (after a whole first one), and connections.
const SPLIT: usize = 10;
const CONNECTIONS: usize = 3;

/// Answers each request head on a connection, its status line written in two parts with a
/// pause between (two segments: TCP_NODELAY), every other one in three.
const SPLITTING_SERVER: &str = r#"
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = b""
    first = True
    while True:
        data = read_head(c, data)
        if data is None:
            c.close()
            return
        data = data[data.index(b"\r\n\r\n") + 4:]
        answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        if first:
            c.sendall(answer)
            first = False
            odd = False
        elif odd:
            c.sendall(answer[:4])
            time.sleep(0.02)
            c.sendall(answer[4:10])
            time.sleep(0.02)
            c.sendall(answer[10:])
        else:
            c.sendall(answer[:7])
            time.sleep(0.02)
            c.sendall(answer[7:])
        odd = not odd
while True:
    threading.Thread(target=serve, args=(s.accept()[0],), daemon=True).start()
"#;

/// argv: host, port, split requests. A first request split after `GE` (the connection's first
/// segment), then each split the same or (every other one) after `G` and `E`, then two
/// pipelined in one write with the second's start cut after `G`; reads every answer.
const SPLITTING_CLIENT: &str = r#"
import socket, sys, time
host, port, split = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = socket.create_connection((host, port), timeout=10)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = c.makefile("rb")
def answer():
    assert f.readline().startswith(b"HTTP/1.1 200"), "status"
    while f.readline() != b"\r\n":
        pass
    assert f.read(2) == b"ok"
c.sendall(b"GE")
time.sleep(0.02)
c.sendall(b"T /first HTTP/1.1\r\nHost: h\r\n\r\n")
answer()
for i in range(split):
    if i % 2:
        c.sendall(b"G")
        time.sleep(0.02)
        c.sendall(b"E")
    else:
        c.sendall(b"GE")
    time.sleep(0.02)
    c.sendall(b"T /split/%d HTTP/1.1\r\nHost: h\r\n\r\n" % i)
    answer()
c.sendall(b"GET /p HTTP/1.1\r\nHost: h\r\n\r\nG")
time.sleep(0.02)
c.sendall(b"ET /q HTTP/1.1\r\nHost: h\r\n\r\n")
answer()
answer()
c.close()
"#;

fn starts_split_across_segments_count_once(mode: AttachMode) {
    let ns = NetNs::new();
    let server: SocketAddr = "127.0.0.1:8080".parse().expect("a literal address");
    let _server = python_listener(&ns, SPLITTING_SERVER, server, "the splitting server");
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50", "--group", "endpoint"]);
    for _ in 0..CONNECTIONS {
        let args = [
            server.ip().to_string(),
            server.port().to_string(),
            SPLIT.to_string(),
        ];
        python_client(
            &ns,
            "python3",
            SPLITTING_CLIENT,
            args,
            Duration::from_secs(30),
        );
    }
    let summary = httptop.stop();
    let sent = (CONNECTIONS * (SPLIT + 3)) as u64;
    summary.assert_all_answered(sent);
    assert_eq!(summary.count("scan_incomplete"), 0, "{summary}");
    // Each counted with its method: a start not carried would leave `T /…` as a request of
    // method `T`.
    let rows = summary.0["top_rows"].as_array().expect("top_rows");
    let methods: Vec<&str> = rows.iter().filter_map(|r| r["method"].as_str()).collect();
    assert_eq!(methods.len(), rows.len(), "{summary}");
    assert!(methods.iter().all(|m| *m == "GET"), "{summary}");
    let exchanges: u64 = rows.iter().filter_map(|r| r["exchanges"].as_u64()).sum();
    assert_eq!(exchanges, sent, "{summary}");
}

httptop_tests::in_each_attach_mode!(starts_split_across_segments_count_once);
