//! Messages that start inside a segment, after a body that spans segments: pipelined POSTs
//! with bodies of a few hundred KB to nginx, pipelined GETs of files nginx serves, and the
//! same files gzipped as nginx sends them (chunked, chunks of a few KB), each batch written at
//! once so that on `lo` (64 KB segments) most messages begin mid-segment and most segments
//! are nothing but body. Bodies are chosen to look like messages at their
//! segment starts as often as they can (they repeat a request line and a status line). Then
//! bodies read until the server closes, bodies that trailer fields end or whose codings say they
//! run until the close, and one that has not ended when httptop stops. Every count is exact, and so is every body size (as
//! the clients counted them), each exchange timed to its response's last byte.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use httptop_tests::{
    AttachMode, Httptop, NetNs, Nginx, NginxConfig, TempDir, python_client, python_listener,
};

const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const TIMEOUT: Duration = Duration::from_secs(60);
/// Messages per batch, and batches (one connection each).
const PIPELINED: usize = 6;
const BATCHES: usize = 3;

/// Filler that starts like a message wherever a segment happens to begin in it.
const LOOKALIKE: &[u8] = b"POST /fake HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";

/// The body size of message `i`: a few hundred KB, never a multiple of the segment size.
fn body_len(i: usize) -> usize {
    200_000 + 7919 * i
}

fn body(i: usize) -> Vec<u8> {
    LOOKALIKE
        .iter()
        .copied()
        .cycle()
        .take(body_len(i))
        .collect()
}

/// argv: host, port, path (`{i}`: the message's index), method, the request bodies' sizes and
/// the response bodies' expected lengths (-1: any), comma-separated. Writes every request with
/// one `sendall`, then reads every response (framed by Content-Length, as nginx sends them);
/// fails unless each is a 200 of the expected length. Prints each response body's bytes.
const CLIENT: &str = r#"
import socket, sys
host, port, path, method = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sizes = [int(x) for x in sys.argv[5].split(",")]
expect = [int(x) for x in sys.argv[6].split(",")]
filler = b"POST /fake HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n"
batch = b""
for i, size in enumerate(sizes):
    body = (filler * (size // len(filler) + 1))[:size]
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n" % (method, path.replace("{i}", str(i)), host, size)
    batch += head.encode() + body
c = socket.create_connection((host, port), timeout=30)
c.sendall(batch)
f = c.makefile("rb")
lengths = []
for i, want in enumerate(expect):
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    length = None
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    assert length is not None and (want < 0 or length == want), (i, length, want)
    got = f.read(length)
    assert len(got) == length
    lengths.append(length)
c.close()
print(",".join(map(str, lengths)))
"#;

/// argv: host, port, the files' paths. Asks for every file in one write, accepting gzip, then
/// reads every response; fails unless each is a chunked 200 whose chunks, unzipped, are the
/// file's bytes (read from argv[3:], the paths on disk after a `--`). Prints each response's
/// chunk data bytes.
const GZIP_CLIENT: &str = r#"
import gzip, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
split = sys.argv.index("--")
paths, files = sys.argv[3:split], sys.argv[split + 1:]
batch = b"".join(b"GET %s HTTP/1.1\r\nHost: h\r\nAccept-Encoding: gzip\r\n\r\n" % p.encode() for p in paths)
c = socket.create_connection((host, port), timeout=30)
c.sendall(batch)
f = c.makefile("rb")
lengths = []
for path, file in zip(paths, files):
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    headers = []
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        headers.append(line.lower())
    assert b"transfer-encoding: chunked\r\n" in headers, headers
    body = b""
    while True:
        size = int(f.readline().split(b";")[0], 16)
        body += f.read(size)
        assert f.read(2) == b"\r\n"
        if size == 0:
            break
    assert gzip.decompress(body) == open(file, "rb").read(), path
    lengths.append(len(body))
c.close()
print(",".join(map(str, lengths)))
"#;

/// Bytes gzip cannot shrink (a xorshift stream), so the compressed body spans segments.
fn incompressible(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Runs [`CLIENT`]; returns each response body's bytes it read.
fn run_client(ns: &NetNs, path: &str, method: &str, sizes: &[usize], expect: &[i64]) -> Vec<u64> {
    let join = |v: Vec<String>| v.join(",");
    let args = [
        NGINX.ip().to_string(),
        NGINX.port().to_string(),
        path.to_owned(),
        method.to_owned(),
        join(sizes.iter().map(|s| s.to_string()).collect()),
        join(expect.iter().map(|s| s.to_string()).collect()),
    ];
    client_bytes(&python_client(ns, "python3", CLIENT, args, TIMEOUT))
}

/// The byte counts a client printed, comma-separated.
fn client_bytes(stdout: &str) -> Vec<u64> {
    stdout
        .trim()
        .split(',')
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| panic!("the client printed no byte counts: {stdout:?}"))
        })
        .collect()
}

fn pipelined_posts_with_bodies_across_segments(mode: AttachMode) {
    let ns = NetNs::new();
    let nginx = Nginx::start(&ns, &[NGINX]);
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let sizes: Vec<usize> = (0..PIPELINED).map(body_len).collect();
    let mut responses = Vec::new();
    for _ in 0..BATCHES {
        // nginx's `return 200` answers with its fixed body: any length.
        responses.extend(run_client(&ns, "/up/{i}", "POST", &sizes, &[-1; PIPELINED]));
    }
    let summary = httptop.stop();
    let sent = (PIPELINED * BATCHES) as u64;
    assert_eq!(nginx.access_log_requests() as u64, sent);
    summary.assert_all_answered(sent);
    assert_eq!(summary.count("scan_incomplete"), 0, "{summary}");
    let requests: Vec<u64> = (0..BATCHES)
        .flat_map(|_| sizes.iter().map(|&s| s as u64))
        .collect();
    summary.assert_timed_to_the_last_byte(requests.iter().sum(), responses.iter().sum());
}

fn pipelined_responses_with_bodies_across_segments(mode: AttachMode) {
    let ns = NetNs::new();
    let files = TempDir::new();
    for i in 0..PIPELINED {
        std::fs::write(files.path().join(format!("f{i}")), body(i)).expect("writing a file");
    }
    let config = NginxConfig {
        files: Some(("/files/", files.path().to_path_buf())),
        ..NginxConfig::new(&[NGINX])
    };
    let nginx = Nginx::start_config(&ns, &config);
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let expect: Vec<i64> = (0..PIPELINED).map(|i| body_len(i) as i64).collect();
    let mut responses = Vec::new();
    for _ in 0..BATCHES {
        // GETs with empty bodies (`Content-Length: 0`), answered with the files.
        responses.extend(run_client(
            &ns,
            "/files/f{i}",
            "GET",
            &[0; PIPELINED],
            &expect,
        ));
    }
    let summary = httptop.stop();
    let sent = (PIPELINED * BATCHES) as u64;
    assert_eq!(nginx.access_log_requests() as u64, sent);
    summary.assert_all_answered(sent);
    assert_eq!(summary.count("scan_incomplete"), 0, "{summary}");
    summary.assert_timed_to_the_last_byte(0, responses.iter().sum());
}

fn pipelined_chunked_responses_across_segments(mode: AttachMode) {
    let ns = NetNs::new();
    let files = TempDir::new();
    let paths: Vec<PathBuf> = (0..PIPELINED)
        .map(|i| files.path().join(format!("f{i}")))
        .collect();
    for (i, path) in paths.iter().enumerate() {
        std::fs::write(path, incompressible(body_len(i), i as u64)).expect("writing a file");
    }
    let config = NginxConfig {
        files: Some(("/files/", files.path().to_path_buf())),
        gzip: true,
        ..NginxConfig::new(&[NGINX])
    };
    let nginx = Nginx::start_config(&ns, &config);
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let mut responses = Vec::new();
    for _ in 0..BATCHES {
        let args = [NGINX.ip().to_string(), NGINX.port().to_string()]
            .into_iter()
            .chain((0..PIPELINED).map(|i| format!("/files/f{i}")))
            .chain(["--".to_owned()])
            .chain(paths.iter().map(|p| p.display().to_string()));
        responses.extend(client_bytes(&python_client(
            &ns,
            "python3",
            GZIP_CLIENT,
            args,
            TIMEOUT,
        )));
    }
    let summary = httptop.stop();
    let sent = (PIPELINED * BATCHES) as u64;
    assert_eq!(nginx.access_log_requests() as u64, sent);
    summary.assert_all_answered(sent);
    assert_eq!(summary.count("scan_incomplete"), 0, "{summary}");
    // A chunked body's size is its chunks' data, as the client counted it.
    summary.assert_timed_to_the_last_byte(0, responses.iter().sum());
}

/// Bytes of each body [`UNTIL_CLOSE_SERVER`] sends.
const UNTIL_CLOSE_BODY: u64 = 150_000;
/// Connections to it, one exchange each.
const UNTIL_CLOSE_CONNECTIONS: u64 = 5;

/// An HTTP/1.0 server whose responses have neither a length nor chunks: the body, written in
/// three parts a few milliseconds apart, ends when the server closes.
const UNTIL_CLOSE_SERVER: &str = r#"
while True:
    c = s.accept()[0]
    read_head(c)
    c.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
    for part in range(3):
        time.sleep(0.005)
        c.sendall(b"x" * 50000)
    c.close()
"#;

fn bodies_read_until_close_end_with_the_connection(mode: AttachMode) {
    let ns = NetNs::new();
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8090);
    let _server = python_listener(&ns, UNTIL_CLOSE_SERVER, server, "the until-close server");
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let mut downloaded = 0;
    for _ in 0..UNTIL_CLOSE_CONNECTIONS {
        let output = ns
            .command("curl")
            .args(["-sS", "--http1.0", "--max-time", "10", "-o", "/dev/null"])
            .args(["-w", "%{size_download}", &format!("http://{server}/")])
            .output()
            .expect("running curl");
        assert!(output.status.success(), "curl: {output:?}");
        downloaded += client_bytes(&String::from_utf8_lossy(&output.stdout))[0];
    }
    let summary = httptop.stop();
    summary.assert_all_answered(UNTIL_CLOSE_CONNECTIONS);
    assert_eq!(downloaded, UNTIL_CLOSE_CONNECTIONS * UNTIL_CLOSE_BODY);
    summary.assert_timed_to_the_last_byte(0, downloaded);
    // The server sleeps 15 ms between the head and the body's last part: no exchange's last
    // byte comes sooner after its request.
    let median = summary.0["ttlb_ns"]["p50"].as_u64().unwrap_or(0);
    assert!(median >= 15_000_000, "{summary}");
}

/// A keep-alive server whose answers end in ways only the body tells: `/trailers`, three chunks
/// written apart and trailer fields (one longer than a chunk line may be) split across two
/// writes; `/coded`, gzip then chunked, beside a Content-Length that does not count; anything
/// else, gzip alone, read until the server closes.
const CODED_SERVER: &str = r#"
import gzip
TRAILERS = b"0\r\nServer-Timing: " + b"a" * 200 + b"\r\nX-Checksum: 1\r\n\r\n"
def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"
def serve(c):
    data = b""
    while True:
        data = read_head(c, data)
        if data is None:
            return
        head, _, data = data.partition(b"\r\n\r\n")
        path = head.split(b" ")[1]
        if path == b"/trailers":
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: Server-Timing\r\n\r\n")
            for part in range(3):
                time.sleep(0.005)
                c.sendall(chunk(b"t" * 20000))
            time.sleep(0.005)
            c.sendall(TRAILERS[:14])
            time.sleep(0.005)
            c.sendall(TRAILERS[14:])
        elif path == b"/coded":
            body = chunk(gzip.compress(b"c" * 3000, mtime=0)) + b"0\r\n\r\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 7\r\n\r\n" + body)
        else:
            c.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")
            time.sleep(0.005)
            c.sendall(gzip.compress(b"g" * 5000, mtime=0))
            return
while True:
    c = s.accept()[0]
    serve(c)
    c.close()
"#;

/// Connections to [`CODED_SERVER`], each asking for its three answers in turn.
const CODED_CONNECTIONS: u64 = 3;

fn trailer_fields_and_transfer_codings_end_bodies(mode: AttachMode) {
    let ns = NetNs::new();
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8092);
    let _server = python_listener(&ns, CODED_SERVER, server, "the coded server");
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let mut downloaded = 0;
    for _ in 0..CODED_CONNECTIONS {
        // One curl, one connection: it decodes each answer, and counts its body's bytes as
        // they crossed (chunk data, gzipped).
        let output = ns
            .command("curl")
            .args(["-sS", "--max-time", "10"])
            .args(["-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null"])
            .args(["-w", "%{size_download},%{num_connects}\n"])
            .args(["/trailers", "/coded", "/gzip"].map(|p| format!("http://{server}{p}")))
            .output()
            .expect("running curl");
        assert!(output.status.success(), "curl: {output:?}");
        let counts = client_bytes(
            &String::from_utf8_lossy(&output.stdout)
                .trim()
                .replace('\n', ","),
        );
        let [trailers, connects, coded, _, gzip, _] = counts[..] else {
            panic!("curl printed {counts:?}");
        };
        assert_eq!((trailers, connects), (60_000, 1), "curl: {output:?}");
        downloaded += trailers + coded + gzip;
    }
    let summary = httptop.stop();
    summary.assert_all_answered(3 * CODED_CONNECTIONS);
    assert_eq!(summary.count("scan_incomplete"), 0, "{summary}");
    summary.assert_timed_to_the_last_byte(0, downloaded);
}

/// A server that answers with a head and the first bytes of a body it never finishes.
const STALLED_SERVER: &str = r#"
c = s.accept()[0]
read_head(c)
c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 10)
time.sleep(60)
"#;

fn a_response_still_arriving_at_the_stop_is_sent_untimed(mode: AttachMode) {
    let ns = NetNs::new();
    let server = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8091);
    let _server = python_listener(&ns, STALLED_SERVER, server, "the stalled server");
    let httptop = Httptop::attach_in(mode, &ns, &["--top", "50"]);
    let mut curl = ns
        .command("curl")
        .args(["-sS", "--max-time", "20", "-o", "/dev/null"])
        .arg(format!("http://{server}/"))
        .spawn()
        .expect("running curl");
    // Its head is sent at once; the body's end never comes.
    std::thread::sleep(Duration::from_secs(1));
    let summary = httptop.stop();
    let _ = curl.kill();
    let _ = curl.wait();
    // Counted at its status line, and its exchange is in the rows too: sent at the stop, with
    // its end unseen.
    assert_eq!(summary.count("exchanges"), 1, "{summary}");
    assert_eq!(summary.talker_exchanges(), 1, "{summary}");
    assert_eq!(summary.0["ttlb_unknown"], 1, "{summary}");
    assert_eq!(summary.0["body_bytes"]["response_unknown"], 1, "{summary}");
}

httptop_tests::in_each_attach_mode!(
    pipelined_posts_with_bodies_across_segments,
    pipelined_responses_with_bodies_across_segments,
    pipelined_chunked_responses_across_segments,
    bodies_read_until_close_end_with_the_connection,
    trailer_fields_and_transfer_codings_end_bodies,
    a_response_still_arriving_at_the_stop_is_sent_untimed,
);
