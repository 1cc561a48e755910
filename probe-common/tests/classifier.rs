//! The byte-level classifier and head scanner, as pure code.

use probe_common::{
    http::{
        CHUNK_LINE_MAX, ChunkStep, Framing, MAX_LEADING_ZEROS, Start, WINDOW, Window, body_len,
        chunk_scan, classify, scan_head,
    },
    wire::{CHUNK_AFTER_LAST, ChunkScan, Method},
};

fn window(bytes: &[u8]) -> ([u8; WINDOW], usize) {
    let mut buf = [0u8; WINDOW];
    let n = bytes.len().min(WINDOW);
    buf[..n].copy_from_slice(&bytes[..n]);
    (buf, n)
}

fn classify_bytes(bytes: &[u8]) -> Option<Start> {
    let (buf, len) = window(bytes);
    classify(&Window { buf: &buf, len }, 0)
}

#[test]
fn every_rfc9110_method_is_a_request() {
    for m in Method::ALL {
        let line = format!("{} /x HTTP/1.1\r\n\r\n", m.as_str());
        assert_eq!(
            classify_bytes(line.as_bytes()),
            Some(Start::Request {
                method: m,
                target_off: m.as_str().len() + 1
            }),
            "{line:?}"
        );
    }
}

#[test]
fn near_misses_are_not_requests() {
    for bad in [
        &b"get / HTTP/1.1\r\n"[..],
        b"GET",
        b"GE",
        b"POSTS",
        b"PUTT",
        b"HEADER",
        b"OPTIONS",
        b"",
        b"\x16\x03\x01\x02\x00\x01",
        b"SSH-2.0-OpenSSH_9.2",
        b"DELETE\t/ HTTP/1.1",
        // Tokens before something that is no request target: other text protocols.
        b"EHLO mail.example.com\r\n",
        b"USER anonymous\r\n",
        b"MAIL FROM:<a@example.com>\r\n",
        b"INVITE sip:bob@example.com SIP/2.0\r\n",
        b"DESCRIBE rtsp://example.com/a RTSP/1.0\r\n",
        // Lowercase first letter, a byte outside tchar, a token too long.
        b"propfind / HTTP/1.1\r\n",
        b"PROP(FIND / HTTP/1.1\r\n",
        b"ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n",
        b"PROPFIND  / HTTP/1.1\r\n",
    ] {
        assert_eq!(classify_bytes(bad), None, "{bad:?}");
    }
}

#[test]
fn extension_methods_are_requests() {
    for line in [
        &b"PROPFIND /dav/ HTTP/1.1\r\n"[..],
        b"MKCOL /dav/new HTTP/1.1\r\n",
        b"RPC_IN_DATA /rpc/rpcproxy.dll?host:6001 HTTP/1.1\r\n",
        b"CCM_POST /ccmhttp HTTP/1.1\r\n",
        b"M-SEARCH * HTTP/1.1\r\n",
        b"NOTIFY * HTTP/1.1\r\n",
        b"SUBSCRIBE /upnp/event HTTP/1.1\r\n",
        b"GETX / HTTP/1.1\r\n",
        b"POSTS http://example.com/ HTTP/1.1\r\n",
        b"UPDATEREDIRECTREF /x HTTP/1.1\r\n",
        b"ABCDEFGHIJKLMNOPQRST / HTTP/1.1\r\n",
    ] {
        let space = line.iter().position(|&b| b == b' ').unwrap();
        assert_eq!(
            classify_bytes(line),
            Some(Start::Request {
                method: Method::Extension,
                target_off: space + 1
            }),
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn status_lines() {
    assert_eq!(
        classify_bytes(b"HTTP/1.1 200 OK\r\n"),
        Some(Start::Response { status: 200 })
    );
    assert_eq!(
        classify_bytes(b"HTTP/1.0 404 Not Found\r\n"),
        Some(Start::Response { status: 404 })
    );
    assert_eq!(
        classify_bytes(b"HTTP/1.1 100 Continue\r\n"),
        Some(Start::Response { status: 100 })
    );
    // Reason phrase omitted, CRLF right after the code.
    assert_eq!(
        classify_bytes(b"HTTP/1.1 503\r\n"),
        Some(Start::Response { status: 503 })
    );
    // Truncated exactly after the code: still a status line.
    assert_eq!(
        classify_bytes(b"HTTP/1.1 204"),
        Some(Start::Response { status: 204 })
    );
}

#[test]
fn bad_status_lines() {
    for bad in [
        &b"HTTP/1.1 20 OK"[..],
        b"HTTP/1.1 2000 OK",
        b"HTTP/2 200 OK",
        b"HTTP/1.x 200 OK",
        b"HTTP/1.1 099 Low",
        b"http/1.1 200 OK",
        b"HTTP/1.1  200 OK",
        b"HTTP/1.1 2a0 OK",
        b"HTTP/1.",
        b"HTTP",
    ] {
        assert_eq!(classify_bytes(bad), None, "{bad:?}");
    }
}

#[test]
fn classify_mid_window() {
    let bytes = b"xxxxGET / HTTP/1.1\r\n";
    let (buf, len) = window(bytes);
    assert_eq!(
        classify(&Window { buf: &buf, len }, 4),
        Some(Start::Request {
            method: Method::Get,
            target_off: 8
        })
    );
}

#[test]
fn head_with_content_length() {
    let msg = b"HTTP/1.1 200 OK\r\nServer: x\r\ncontent-LENGTH:  17\r\n\r\nbody";
    let (buf, len) = window(msg);
    let head = scan_head(&Window { buf: &buf, len });
    assert_eq!(head.head_len, Some(msg.len() - b"body".len()));
    assert_eq!(head.framing, Framing::ContentLength(17));
}

#[test]
fn content_length_framing_rules() {
    let framing = |headers: &str| {
        let msg = format!("HTTP/1.1 200 OK\r\n{headers}\r\n");
        let (buf, len) = window(msg.as_bytes());
        scan_head(&Window { buf: &buf, len }).framing
    };
    assert_eq!(
        framing("Content-Length: 007\r\n"),
        Framing::ContentLength(7)
    );
    assert_eq!(framing("Content-Length: 0\r\n"), Framing::ContentLength(0));
    assert_eq!(
        framing("Content-Length: 9999999999999999999\r\n"),
        Framing::ContentLength(9_999_999_999_999_999_999)
    );
    assert_eq!(
        framing("Content-Length: 0000000000000000042\r\n"),
        Framing::ContentLength(42)
    );
    // Zeros past 19 digits: skipped, never the 19 zeros read as 0; past 64 of them, the
    // value is undelimited.
    assert_eq!(
        framing("Content-Length: 000000000000000000042\r\n"),
        Framing::ContentLength(42)
    );
    let zeros = |n| format!("Content-Length: {}42\r\n", "0".repeat(n));
    assert_eq!(
        framing(&zeros(MAX_LEADING_ZEROS + 17)),
        Framing::ContentLength(42)
    );
    assert_eq!(
        framing(&zeros(MAX_LEADING_ZEROS + 18)),
        Framing::Undelimited
    );
    assert_eq!(
        framing("Content-Length: 18446744073709551616\r\n"),
        Framing::Undelimited
    );
    // No number: the header is ignored.
    assert_eq!(framing("Content-Length: \r\n"), Framing::None);
    assert_eq!(framing("Content-Length: -5\r\n"), Framing::None);
    assert_eq!(
        framing("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n"),
        Framing::Chunked
    );
    assert_eq!(
        framing("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n"),
        Framing::Chunked
    );
}

#[test]
fn transfer_encoding_is_chunked_only_when_chunked_comes_last() {
    let framing = |headers: &str| {
        let msg = format!("HTTP/1.1 200 OK\r\n{headers}\r\n");
        let (buf, len) = window(msg.as_bytes());
        scan_head(&Window { buf: &buf, len }).framing
    };
    for chunked in [
        "Transfer-Encoding: chunked\r\n",
        "transfer-encoding:CHUNKED\r\n",
        "Transfer-Encoding: gzip, chunked  \r\n",
        "Transfer-Encoding: gzip,chunked\n",
        "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
    ] {
        assert_eq!(framing(chunked), Framing::Chunked, "{chunked:?}");
    }
    for coded in [
        "Transfer-Encoding: gzip\r\n",
        "Transfer-Encoding: chunked, gzip\r\n",
        "Transfer-Encoding: xchunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
        // The coding wins over a length, before or after it.
        "Content-Length: 5\r\nTransfer-Encoding: gzip\r\n",
        "Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
    ] {
        assert_eq!(framing(coded), Framing::Undelimited, "{coded:?}");
    }
}

#[test]
fn head_chunked_and_bare_lf() {
    let msg = b"HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n5\r\nhello";
    let (buf, len) = window(msg);
    let head = scan_head(&Window { buf: &buf, len });
    assert_eq!(head.head_len, Some(msg.len() - b"5\r\nhello".len()));
    assert_eq!(head.framing, Framing::Chunked);
}

#[test]
fn head_truncated_by_window_or_segment() {
    let msg = b"GET / HTTP/1.1\r\nHost: a\r\n";
    let (buf, len) = window(msg);
    assert_eq!(scan_head(&Window { buf: &buf, len }).head_len, None);
    let mut long = b"GET / HTTP/1.1\r\nCookie: ".to_vec();
    long.resize(WINDOW + 10, b'a');
    let (buf, len) = window(&long);
    assert_eq!(scan_head(&Window { buf: &buf, len }).head_len, None);
}

#[test]
fn body_rules() {
    let get = Start::Request {
        method: Method::Get,
        target_off: 4,
    };
    let ok = Start::Response { status: 200 };
    assert_eq!(body_len(get, Framing::None, None), Some(0));
    assert_eq!(body_len(get, Framing::ContentLength(5), None), Some(5));
    assert_eq!(body_len(get, Framing::Chunked, None), None);
    assert_eq!(body_len(ok, Framing::ContentLength(5), None), Some(5));
    assert_eq!(
        body_len(ok, Framing::ContentLength(5), Some(Method::Head)),
        Some(0)
    );
    assert_eq!(body_len(ok, Framing::None, None), None);
    assert_eq!(
        body_len(
            Start::Response { status: 304 },
            Framing::ContentLength(9),
            None
        ),
        Some(0)
    );
    assert_eq!(
        body_len(Start::Response { status: 204 }, Framing::None, None),
        Some(0)
    );
    assert_eq!(
        body_len(Start::Response { status: 100 }, Framing::None, None),
        Some(0)
    );
}

#[test]
fn head_scan_finds_every_line_end_at_every_alignment() {
    // Line ends at every offset within an 8-byte word, next to bytes that trip naive word
    // tricks (0x0b = '\n' ^ 1, 0x09, 0x8a).
    for pad in 0..24 {
        let mut msg = vec![b'x'; pad];
        msg.insert(0, b'/');
        let mut full = b"GET ".to_vec();
        full.extend_from_slice(&msg);
        full.extend_from_slice(b" HTTP/1.1\r\nX-Odd: \x0b\x09\x8a\x0b\r\nContent-Length: 42\r\n\n");
        let head_end = full.len();
        full.extend_from_slice(b"\x0b\nbody");
        let (buf, len) = window(&full);
        let head = scan_head(&Window { buf: &buf, len });
        assert_eq!(head.head_len, Some(head_end), "pad {pad}");
        assert_eq!(head.framing, Framing::ContentLength(42), "pad {pad}");
    }
}

#[test]
fn head_scan_skips_long_lines_without_newlines() {
    let mut msg = b"HTTP/1.1 200 OK\r\nSet-Cookie: ".to_vec();
    msg.resize(300, b'c');
    msg.extend_from_slice(b"\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    let (buf, len) = window(&msg);
    let head = scan_head(&Window { buf: &buf, len });
    assert_eq!(head.head_len, Some(msg.len() - 5));
    assert_eq!(head.framing, Framing::Chunked);
}

#[test]
fn the_first_byte_prefilter_passes_exactly_the_bytes_a_message_can_start_with() {
    use probe_common::http::{Window, can_start_message, classify};
    use probe_common::wire::Method;
    for method in Method::ALL {
        assert!(
            can_start_message(method.as_str().as_bytes()[0]),
            "{method:?}"
        );
    }
    assert!(can_start_message(b'H'));
    // Whatever byte classify accepts at the start, the prefilter passes too, and no other.
    for b in 0..=u8::MAX {
        let mut buf = [0u8; 512];
        buf[0] = b;
        let starts = Method::ALL
            .iter()
            .map(|m| m.as_str().as_bytes())
            .chain([
                b"HTTP/1.1 200 OK".as_slice(),
                b"XMETHOD / HTTP/1.1".as_slice(),
            ])
            .any(|text| {
                let mut buf = buf;
                buf[1..text.len()].copy_from_slice(&text[1..]);
                buf[text.len()] = b' ';
                classify(
                    &Window {
                        buf: &buf,
                        len: text.len() + 1,
                    },
                    0,
                )
                .is_some()
            });
        assert_eq!(can_start_message(b), starts, "byte {b:#04x}");
    }
}

/// Walks `parts` one after the other, as segments: the steps the walk gave, each part's.
fn chunk_steps(parts: &[&[u8]]) -> Vec<ChunkStep> {
    let mut scan = ChunkScan::default();
    let mut steps = Vec::new();
    for part in parts {
        let (buf, len) = window(part);
        steps.push(chunk_scan(&mut scan, &Window { buf: &buf, len }));
    }
    steps
}

fn chunk_line_of(bytes: &[u8]) -> ChunkStep {
    chunk_steps(&[bytes])[0]
}

#[test]
fn chunk_size_lines_give_the_size_and_where_the_data_starts() {
    let line = |len, size| ChunkStep::Line { len, size };
    for (bytes, want) in [
        (&b"5\r\nhello"[..], line(3, 5)),
        (b"1a\r\n", line(4, 26)),
        (b"FF\n", line(3, 255)),
        (b"0\r\n\r\n", line(3, 0)),
        (b"000010\r\n", line(8, 16)),
        (b"4;name=\"v\" ; x\r\n", line(16, 4)),
        (b"4 \r\n", line(4, 4)),
        (b"ffffffffffffffff\r\n", line(18, u64::MAX)),
        // Leading zeros do not count toward a u64's 16 digits.
        (b"00000000000000000001\r\n", line(22, 1)),
        // Seventeen significant digits: past a u64.
        (b"10000000000000000\r\n", ChunkStep::Bad),
        (b"\r\n", ChunkStep::Bad),
        (b";ext\r\n", ChunkStep::Bad),
        (b"g\r\n", ChunkStep::Bad),
        (b"-1\r\n", ChunkStep::Bad),
        // The window ends before the line does (the rest is in a later segment).
        (b"1", ChunkStep::More),
        (b"1\r", ChunkStep::More),
    ] {
        assert_eq!(
            chunk_line_of(bytes),
            want,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let long = format!("1;{}\r\n", "x".repeat(CHUNK_LINE_MAX));
    assert_eq!(chunk_line_of(long.as_bytes()), ChunkStep::Bad);
    let fits = format!("1;{}\r\n", "x".repeat(CHUNK_LINE_MAX - 4));
    assert_eq!(chunk_line_of(fits.as_bytes()), line(CHUNK_LINE_MAX, 1));
}

#[test]
fn a_chunk_size_line_split_across_segments_goes_on_where_it_stopped() {
    use ChunkStep::{Line, More};
    assert_eq!(
        chunk_steps(&[b"1", b"f\r\n"]),
        [More, Line { len: 3, size: 0x1f }]
    );
    assert_eq!(
        chunk_steps(&[b"a;x=", b"y\r", b"\ndata"]),
        [More, More, Line { len: 1, size: 10 }]
    );
    // The line's bound holds across segments too.
    let half = "1;".to_string() + &"x".repeat(CHUNK_LINE_MAX / 2);
    assert_eq!(
        chunk_steps(&[half.as_bytes(), half.as_bytes()]),
        [More, ChunkStep::Bad]
    );
}

#[test]
fn the_empty_line_after_the_last_chunk_ends_the_body_or_trailer_fields_come() {
    use ChunkStep::{Bad, End, More, Trailers};
    for (parts, want) in [
        (&[&b"\r\nGET"[..]][..], &[End { len: 2 }][..]),
        (&[b"\n"], &[End { len: 1 }]),
        (&[b"\r", b"\nHTTP"], &[More, End { len: 1 }]),
        // Trailer fields, left to the head scan.
        (&[b"Expires: 0\r\n\r\n"], &[Trailers]),
        (&[b"x"], &[Trailers]),
        (&[b"\r\r\n"], &[Bad]),
        (&[b"\rX: y\r\n"], &[Bad]),
        (&[b" X: y\r\n"], &[Bad]),
        (&[b":\r\n"], &[Bad]),
    ] {
        let mut scan = ChunkScan {
            phase: CHUNK_AFTER_LAST,
            ..ChunkScan::default()
        };
        let got: Vec<ChunkStep> = parts
            .iter()
            .map(|part| {
                let (buf, len) = window(part);
                chunk_scan(&mut scan, &Window { buf: &buf, len })
            })
            .collect();
        assert_eq!(got, want, "{parts:?}");
    }
}
