//! Traffic that bends the rules, live against real servers in a namespace: each case counted
//! exactly as docs/terms.md says, and httptop still exits cleanly with its summary.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream},
    time::Duration,
};

use httptop::Counter;
use httptop_tests::{Httptop, NetNs, Nginx, pipelining_client};

const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Every kernel counter of a summary that a test does not name is 0, except duplicate segments
/// (which depend on the network).
#[track_caller]
fn assert_counters(summary: &httptop_tests::Summary, expected: &[(Counter, u64)], in_flight: u64) {
    for (counter, value) in summary.counters() {
        if counter == Counter::DuplicateSegments {
            continue;
        }
        let want = expected
            .iter()
            .find(|(c, _)| *c == counter)
            .map_or(0, |(_, v)| *v);
        assert_eq!(value, want, "{}; summary:\n{summary}", counter.key());
    }
    assert_eq!(
        summary.count("in_flight"),
        in_flight,
        "in_flight; summary:\n{summary}"
    );
}

/// 24 requests in one write to nginx, which answers all 24: the 16 the connection can hold pair,
/// the 8 past them are requests that overflowed (also expired), and their 8 answers find no
/// request waiting.
#[test]
#[ignore = "needs root"]
fn more_than_16_pipelined_in_one_write_count_as_overflow() {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[NGINX]);
    let httptop = Httptop::attach(&ns, &[]);
    pipelining_client(&ns, NGINX, 24, 1);
    let summary = httptop.stop();
    assert_counters(
        &summary,
        &[
            (Counter::Requests, 24),
            (Counter::Responses, 24),
            (Counter::Exchanges, 16),
            (Counter::ExpiredRequests, 8),
            (Counter::PipelineOverflow, 8),
            (Counter::UnmatchedResponses, 8),
        ],
        0,
    );
}

/// Where the scripted server listens.
const SCRIPTED: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9000);
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

/// How the server ends a scripted connection after its answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServerEnd {
    Close,
    /// SO_LINGER 0: the close sends an RST.
    Reset,
}

/// One connection: the client writes `request` in one write (then half-closes if `half_close`),
/// the server reads all of it, writes `answer` in one write and ends as `end`; the client reads
/// to the end. `expect` is what docs/terms.md says each counter gains.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    half_close: bool,
    answer: Vec<u8>,
    end: ServerEnd,
    expect: Vec<(Counter, u64)>,
}

fn cases() -> Vec<Case> {
    use Counter::*;
    let case = |name, request: Vec<u8>, answer: Vec<u8>, expect: Vec<(Counter, u64)>| Case {
        name,
        request,
        half_close: false,
        answer,
        end: ServerEnd::Close,
        expect,
    };
    let answered = |n: u64| vec![(Requests, n), (Responses, n), (Exchanges, n)];
    let with = |mut base: Vec<(Counter, u64)>, more: &[(Counter, u64)]| {
        base.extend_from_slice(more);
        base
    };
    let long_line = format!(
        "GET /long HTTP/1.1\r\nX-Long: {}\r\n\r\n",
        "a".repeat(10_000)
    );
    let longer_line = format!(
        "GET /longer HTTP/1.1\r\nX-Long: {}\r\n\r\n",
        "a".repeat(20_000)
    );
    let many_headers = format!(
        "GET /many HTTP/1.1\r\n{}\r\n",
        (0..200)
            .map(|i| format!("X-H-{i}: v\r\n"))
            .collect::<String>()
    );
    vec![
        // Heads longer than the 512 bytes scanned at once: read on, window after window, to
        // their ends. Past 32 windows in one segment the walk gives up, counted.
        case("10 KB header line", long_line.into(), OK.into(), answered(1)),
        case("200 headers", many_headers.into(), OK.into(), answered(1)),
        case("20 KB header line", longer_line.into(), OK.into(), with(answered(1), &[(ScanIncomplete, 1)])),
        // No digits: no length, so no body; the next request follows at once.
        case(
            "negative Content-Length",
            b"POST /n HTTP/1.1\r\nContent-Length: -5\r\n\r\nGET /after HTTP/1.1\r\n\r\n".to_vec(),
            OK.repeat(2),
            answered(2),
        ),
        // The body runs past the segment: the GET inside it is body, not a request.
        case(
            "huge Content-Length",
            b"POST /h HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\nGET /x HTTP/1.1\r\n\r\n".to_vec(),
            OK.into(),
            answered(1),
        ),
        // The last Content-Length counts (0): the next message would start at "abc".
        case(
            "duplicated Content-Length",
            b"POST /d HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 0\r\n\r\nabcGET /y HTTP/1.1\r\n\r\n".to_vec(),
            OK.into(),
            with(answered(1), &[(ScanIncomplete, 1)]),
        ),
        case(
            "Content-Length with spaces",
            b"POST /s HTTP/1.1\r\nContent-Length:   5  \r\n\r\nhelloGET /z HTTP/1.1\r\n\r\n".to_vec(),
            OK.repeat(2),
            answered(2),
        ),
        // Chunked bodies are walked chunk by chunk: "ZZZ" is no chunk-size line, so where the
        // body ends is lost, and counted.
        case(
            "bogus chunk sizes",
            b"GET /c HTTP/1.1\r\n\r\n".to_vec(),
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nxx\r\n-1\r\n\r\n".to_vec(),
            with(answered(1), &[(ScanIncomplete, 1)]),
        ),
        // Well-formed chunks, then the next answer in the same write: found after the walk.
        case(
            "chunked then pipelined",
            b"GET /c1 HTTP/1.1\r\n\r\nGET /c2 HTTP/1.1\r\n\r\n".to_vec(),
            [&b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nwiki\r\n0\r\n\r\n"[..], OK].concat(),
            answered(2),
        ),
        // 20 in one write: 16 wait, 4 overflow; their 4 answers find none waiting.
        case(
            "20 pipelined in one write",
            b"GET /p HTTP/1.1\r\n\r\n".repeat(20),
            OK.repeat(20),
            vec![
                (Requests, 20),
                (Responses, 20),
                (Exchanges, 16),
                (PipelineOverflow, 4),
                (ExpiredRequests, 4),
                (UnmatchedResponses, 4),
            ],
        ),
        // The server closes without answering: its FIN expires the request.
        case(
            "request with no answer",
            b"GET /silent HTTP/1.1\r\n\r\n".to_vec(),
            Vec::new(),
            vec![(Requests, 1), (ExpiredRequests, 1)],
        ),
        case(
            "answer with no request",
            Vec::new(),
            OK.into(),
            vec![(Responses, 1), (UnmatchedResponses, 1)],
        ),
        // The status line arrived: the exchange is complete; the RST then ends the connection.
        Case {
            end: ServerEnd::Reset,
            ..case(
                "RST mid-response",
                b"GET /rst HTTP/1.1\r\n\r\n".to_vec(),
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial".to_vec(),
                answered(1),
            )
        },
        // An RST before any answer expires the request.
        Case {
            end: ServerEnd::Reset,
            ..case(
                "RST before the answer",
                b"GET /rst2 HTTP/1.1\r\n\r\n".to_vec(),
                Vec::new(),
                vec![(Requests, 1), (ExpiredRequests, 1)],
            )
        },
        // The client's FIN with a request outstanding is a half-close: the answer still pairs.
        Case {
            half_close: true,
            ..case("half-close", b"GET /half HTTP/1.1\r\n\r\n".to_vec(), OK.into(), answered(1))
        },
    ]
}

/// The server's side of one case.
fn serve(listener: &TcpListener, case: &Case) {
    let (mut stream, _) = listener.accept().expect("accept");
    stream
        .set_read_timeout(Some(SOCKET_TIMEOUT))
        .expect("timeout");
    let mut request = vec![0u8; case.request.len()];
    stream.read_exact(&mut request).expect("the whole request");
    if case.half_close {
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).expect("the client's FIN");
    }
    if !case.answer.is_empty() {
        stream.write_all(&case.answer).expect("answering");
    }
    if case.end == ServerEnd::Reset {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a linger value of the size given.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&stream),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&raw const linger).cast(),
                size_of::<libc::linger>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "SO_LINGER");
    }
}

/// The client's side of one case: reads to the end (an RST ends it too).
fn visit(case: &Case) {
    let mut stream = TcpStream::connect_timeout(&SCRIPTED, SOCKET_TIMEOUT).expect("connect");
    stream
        .set_read_timeout(Some(SOCKET_TIMEOUT))
        .expect("timeout");
    stream.set_nodelay(true).expect("nodelay");
    if !case.request.is_empty() {
        stream.write_all(&case.request).expect("one write");
    }
    if case.half_close {
        stream.shutdown(Shutdown::Write).expect("half-close");
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
}

/// Every case on a connection of its own, one after the other; the counters must be the sum of
/// what each case adds, every other one 0.
#[test]
#[ignore = "needs root"]
fn bent_http_is_counted_as_the_terms_say() {
    let ns = NetNs::new();
    let cases = cases();
    let listener = ns.run(|| TcpListener::bind(SCRIPTED).expect("bind the scripted server"));
    let httptop = Httptop::attach(&ns, &[]);
    std::thread::scope(|scope| {
        let server = scope.spawn(|| {
            for case in &cases {
                serve(&listener, case);
            }
        });
        ns.run(|| {
            for case in &cases {
                eprintln!("case: {}", case.name);
                visit(case);
            }
        });
        server.join().expect("the scripted server");
    });
    let summary = httptop.stop();
    let mut expected: Vec<(Counter, u64)> = Vec::new();
    for (counter, n) in cases.iter().flat_map(|c| c.expect.iter().copied()) {
        match expected.iter_mut().find(|(c, _)| *c == counter) {
            Some((_, total)) => *total += n,
            None => expected.push((counter, n)),
        }
    }
    assert_counters(&summary, &expected, 0);
}
