//! The segment rules end to end on in-memory state: what the kernel program runs, minus BPF.

use std::collections::HashMap;

use probe_common::{
    engine::{self, AllPorts, ConnTable, PortFilter, Sink, SlicePayload},
    http::WINDOW,
    packet::{Segment, TCP_FIN, TCP_RST, TCP_SYN, v4_mapped},
    wire::{
        Answer, COUNTER_SLOTS, ConnKey, ConnState, Counter, FLAG_CLIENT_SEQ, InFlight, Method,
        Tombstone, UNKNOWN, request_line,
    },
};

struct MemTable {
    conns: HashMap<ConnKey, ConnState>,
    tombstones: HashMap<ConnKey, Tombstone>,
    capacity: usize,
}

impl ConnTable for MemTable {
    fn get(&mut self, key: &ConnKey) -> Option<&mut ConnState> {
        self.conns.get_mut(key)
    }
    fn get_or_create(&mut self, key: &ConnKey, now_ns: u64) -> Option<&mut ConnState> {
        if !self.conns.contains_key(key) && self.conns.len() >= self.capacity {
            return None;
        }
        if self.conns.contains_key(key) {
            return self.conns.get_mut(key);
        }
        // Stale slot bytes on purpose: the engine must never read a slot it did not write.
        let mut s: ConnState = unsafe { std::mem::zeroed() };
        for slot in s.slots.iter_mut() {
            slot.request_ns = u64::MAX;
            slot.method = 0xee;
        }
        s.last_seen_ns = now_ns;
        self.conns.insert(*key, s);
        self.conns.get_mut(key)
    }
    fn remove(&mut self, key: &ConnKey) {
        self.conns.remove(key);
    }

    fn tombstone(&mut self, key: &ConnKey) -> Option<Tombstone> {
        self.tombstones.get(key).copied()
    }
    fn bury(&mut self, key: &ConnKey, tombstone: &Tombstone) {
        self.tombstones.insert(*key, *tombstone);
    }
    fn forget(&mut self, key: &ConnKey) {
        self.tombstones.remove(key);
    }
}

#[derive(Debug, PartialEq)]
struct Exchange {
    status: u16,
    method: u8,
    /// The method's name as user space reads it back.
    method_name: String,
    path: String,
    latency_ns: u64,
    /// Time to last byte and the two body sizes, when known.
    ttlb_ns: Option<u64>,
    request_body: Option<u64>,
    response_body: Option<u64>,
}

#[derive(Default)]
struct MemSink {
    counters: [u64; COUNTER_SLOTS],
    exchanges: Vec<Exchange>,
    /// The latencies of the final responses paired, as their first bytes pass.
    latencies: Vec<u64>,
    /// Connection start times of the exchanges, in order.
    exchange_starts: Vec<u64>,
    /// Connections ended: their start times.
    ended: Vec<u64>,
}

impl Sink for MemSink {
    fn count(&mut self, counter: Counter, n: u64) {
        self.counters[counter as usize] += n;
    }
    fn latency(&mut self, latency_ns: u64) {
        self.latencies.push(latency_ns);
    }
    fn exchange(
        &mut self,
        _key: &ConnKey,
        conn_start_ns: u64,
        request: &InFlight,
        answer: &Answer,
    ) {
        self.exchange_starts.push(conn_start_ns);
        let (name, target) = request_line(request.method, &request.path, request.path_len);
        let known = |v: u64| (v != UNKNOWN).then_some(v);
        self.exchanges.push(Exchange {
            status: answer.status,
            method: request.method,
            method_name: String::from_utf8_lossy(name).into(),
            path: String::from_utf8_lossy(target).into(),
            latency_ns: answer.latency_ns,
            ttlb_ns: known(answer.ttlb_ns),
            request_body: known(request.body_len),
            response_body: known(answer.body_len),
        });
    }
    fn connection_ended(&mut self, _key: &ConnKey, conn_start_ns: u64) {
        self.ended.push(conn_start_ns);
    }
}

const CLIENT: [u8; 4] = [127, 0, 0, 1];
const SERVER: [u8; 4] = [127, 0, 0, 2];

struct Conn {
    table: MemTable,
    sink: MemSink,
    client_seq: u32,
    server_seq: u32,
}

impl Conn {
    fn new() -> Self {
        Conn {
            table: MemTable {
                conns: HashMap::new(),
                tombstones: HashMap::new(),
                capacity: 16,
            },
            sink: MemSink::default(),
            client_seq: 1000,
            server_seq: 50_000,
        }
    }

    fn seg(&self, from_client: bool, seq: u32, len: usize, flags: u8) -> Segment {
        let (s, d, sp, dp) = if from_client {
            (CLIENT, SERVER, 40000, 80)
        } else {
            (SERVER, CLIENT, 80, 40000)
        };
        Segment {
            src_addr: v4_mapped(s),
            dst_addr: v4_mapped(d),
            src_port: sp,
            dst_port: dp,
            seq,
            flags,
            payload_off: 0,
            payload_len: len,
        }
    }

    fn send_at(
        &mut self,
        from_client: bool,
        bytes: &[u8],
        flags: u8,
        now: u64,
        ports: &impl PortFilter,
    ) {
        let seq = if from_client {
            self.client_seq
        } else {
            self.server_seq
        };
        self.send_seq(from_client, seq, bytes, flags, now, ports);
        let next = seq.wrapping_add(bytes.len() as u32);
        if from_client {
            self.client_seq = next;
        } else {
            self.server_seq = next;
        }
    }

    fn send_seq(
        &mut self,
        from_client: bool,
        seq: u32,
        bytes: &[u8],
        flags: u8,
        now: u64,
        ports: &impl PortFilter,
    ) {
        let seg = self.seg(from_client, seq, bytes.len(), flags);
        let mut window = [0u8; WINDOW];
        engine::process_segment(
            &seg,
            &mut SlicePayload(bytes),
            &mut window,
            &mut self.table,
            &mut self.sink,
            ports,
            now,
        );
    }

    fn client(&mut self, bytes: &[u8], now: u64) {
        self.send_at(true, bytes, 0, now, &AllPorts);
    }
    fn server(&mut self, bytes: &[u8], now: u64) {
        self.send_at(false, bytes, 0, now, &AllPorts);
    }
    fn c(&self, counter: Counter) -> u64 {
        self.sink.counters[counter as usize]
    }
}

const OK5: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

#[test]
fn keep_alive_pairs_each_exchange_with_its_latency() {
    let mut c = Conn::new();
    for i in 0..100u64 {
        c.client(
            format!("GET /item/{i} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes(),
            i * 1000,
        );
        c.server(OK5, i * 1000 + 7 + i);
    }
    assert_eq!(c.c(Counter::Requests), 100);
    assert_eq!(c.c(Counter::Responses), 100);
    assert_eq!(c.c(Counter::Exchanges), 100);
    assert_eq!(c.c(Counter::UnmatchedResponses), 0);
    assert_eq!(c.sink.exchanges[42].latency_ns, 7 + 42);
    assert_eq!(c.sink.exchanges[42].path, "/item/42");
    assert_eq!(c.sink.exchanges[42].method, 1);
}

#[test]
fn pipelined_requests_and_responses_in_one_segment_each() {
    let mut c = Conn::new();
    let reqs: Vec<u8> = (0..10)
        .flat_map(|i| format!("GET /p{i} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes())
        .collect();
    c.client(&reqs, 100);
    assert_eq!(c.c(Counter::Requests), 10);
    let resps: Vec<u8> = (0..10).flat_map(|_| OK5.to_vec()).collect();
    c.server(&resps, 300);
    assert_eq!(c.c(Counter::Responses), 10);
    assert_eq!(c.c(Counter::Exchanges), 10);
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, (0..10).map(|i| format!("/p{i}")).collect::<Vec<_>>());
    assert!(c.sink.exchanges.iter().all(|e| e.latency_ns == 200));
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn post_bodies_are_skipped_by_content_length() {
    let mut c = Conn::new();
    let two = b"POST /a HTTP/1.1\r\nContent-Length: 11\r\n\r\nGET /fake xPUT /b HTTP/1.1\r\n\r\n";
    c.client(two, 0);
    assert_eq!(c.c(Counter::Requests), 2);
    c.server(
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        5,
    );
    assert_eq!(c.c(Counter::Exchanges), 2);
    assert_eq!(c.sink.exchanges[1].status, 204);
    assert_eq!(c.sink.exchanges[1].path, "/b");
}

/// A request head with a `len`-byte body announced, and the body's first `sent` bytes.
fn post_head(path: &str, len: usize, sent: &[u8]) -> Vec<u8> {
    let mut m = format!("POST {path} HTTP/1.1\r\nContent-Length: {len}\r\n\r\n").into_bytes();
    m.extend_from_slice(sent);
    m
}

#[test]
fn a_body_spanning_segments_is_skipped_even_where_it_looks_like_a_message() {
    let mut c = Conn::new();
    // A body in three segments; the second one starts like a request, the third
    // like a response.
    let middle = b"POST /fake HTTP/1.1\r\n";
    let last = b"HTTP/1.1 200 OK\r\n\r\n";
    let first = [b'x'; 20];
    let len = first.len() + middle.len() + last.len();
    c.client(&post_head("/up", len, &first), 0);
    c.client(middle, 1);
    c.client(last, 2);
    c.client(b"GET /next HTTP/1.1\r\n\r\n", 3);
    assert_eq!(c.c(Counter::Requests), 2);
    // The server's body segments start like a request: still the server's body, and no
    // connection the other way round appears.
    let body = [&b"GET /x HTTP/1.1\r\n\r\n"[..], b"abcd"];
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
        body.concat().len()
    );
    c.server(head.as_bytes(), 4);
    c.server(body[0], 5);
    c.server(body[1], 6);
    c.server(OK5, 7);
    assert_eq!(c.table.conns.len(), 1);
    assert_eq!(
        (
            c.c(Counter::Requests),
            c.c(Counter::Responses),
            c.c(Counter::Exchanges),
            c.c(Counter::ScanIncomplete)
        ),
        (2, 2, 2, 0)
    );
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/up", "/next"]);
}

#[test]
fn a_message_starting_inside_a_later_segment_is_found() {
    let mut c = Conn::new();
    // Pipelined POSTs, each body split across segments, the next request right after it.
    let mut second = vec![b'a'; 30];
    second.extend(post_head("/b", 50, &[b'b'; 10]));
    let mut third = vec![b'b'; 40];
    third.extend_from_slice(b"GET /c HTTP/1.1\r\n\r\n");
    c.client(&post_head("/a", 40, &[b'a'; 10]), 0);
    c.client(&second, 1);
    c.client(&third, 2);
    assert_eq!(c.c(Counter::Requests), 3);
    // The responses likewise: a body across two segments, the next status line inside the
    // second one.
    let mut rest = vec![b'z'; 70];
    rest.extend_from_slice(OK5);
    rest.extend_from_slice(b"HTTP/1.1 204 No Content\r\n\r\n");
    c.server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n012345678901234567890123456789",
        10,
    );
    c.server(&rest, 11);
    let statuses: Vec<(u16, &str)> = c
        .sink
        .exchanges
        .iter()
        .map(|e| (e.status, e.path.as_str()))
        .collect();
    assert_eq!(statuses, [(200, "/a"), (200, "/b"), (204, "/c")]);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
    assert_eq!(c.c(Counter::UnmatchedResponses), 0);
}

#[test]
fn a_lost_segment_inside_a_body_resynchronises_at_the_next_message_start() {
    let mut c = Conn::new();
    c.client(&post_head("/a", 100, &[b'a'; 10]), 0);
    // Lost before the capture point: the rest of the body and a request after it.
    let lost = [&[b'a'; 90][..], b"GET /lost HTTP/1.1\r\n\r\n"].concat();
    c.client_seq = c.client_seq.wrapping_add(lost.len() as u32);
    c.client(b"GET /next HTTP/1.1\r\n\r\n", 1);
    c.server(OK5, 2);
    c.server(OK5, 3);
    c.server(OK5, 4);
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    // The lost request's answer pairs with the next one: pairing is by order.
    assert_eq!(paths, ["/a", "/next"]);
    assert_eq!(c.c(Counter::Requests), 2);
    assert_eq!(c.c(Counter::UnmatchedResponses), 1);
    // Far enough past the lost place that it is given up: followed again from a message
    // found at a segment's start, so the request inside the next segment counts.
    c.client_seq = c.client_seq.wrapping_add(engine::LATE_BYTES);
    c.client(&post_head("/far", 20, &[b'f'; 5]), 5);
    c.client(
        &[&[b'f'; 15][..], b"GET /after HTTP/1.1\r\n\r\n"].concat(),
        6,
    );
    assert_eq!(c.c(Counter::Requests), 4);
}

#[test]
fn a_late_segment_holding_the_next_message_is_read_once() {
    let mut c = Conn::new();
    c.client(&post_head("/a", 30, &[b'a'; 10]), 0);
    // The rest of the body and a request, then another request: the two segments reach the
    // capture point in the wrong order (sent from two CPUs).
    let second = [&[b'a'; 20][..], b"GET /b HTTP/1.1\r\n\r\n"].concat();
    let third = b"GET /c HTTP/1.1\r\n\r\n";
    let (seq2, seq3) = (c.client_seq, c.client_seq + second.len() as u32);
    c.send_seq(true, seq3, third, 0, 1, &AllPorts);
    c.send_seq(true, seq2, &second, 0, 2, &AllPorts);
    assert_eq!(c.c(Counter::Requests), 3);
    assert_eq!(c.c(Counter::DuplicateSegments), 0);
    // Sent again, neither counts twice.
    c.send_seq(true, seq2, &second, 0, 3, &AllPorts);
    c.send_seq(true, seq3, third, 0, 4, &AllPorts);
    assert_eq!(c.c(Counter::Requests), 3);
    assert_eq!(c.c(Counter::DuplicateSegments), 2);
}

#[test]
fn a_retransmitted_body_segment_is_looked_at_once() {
    let mut c = Conn::new();
    c.client(&post_head("/a", 20, &[b'a'; 5]), 0);
    let seq = c.client_seq;
    let rest = [&[b'a'; 15][..], b"GET /b HTTP/1.1\r\n\r\n"].concat();
    c.client(&rest, 1);
    c.send_seq(true, seq, &rest, 0, 2, &AllPorts);
    assert_eq!(c.c(Counter::Requests), 2);
    assert_eq!(c.c(Counter::DuplicateSegments), 1);
}

const CHUNKED_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Exchanges, scans counted incomplete and unmatched responses.
fn walked(c: &Conn) -> (u64, u64, u64) {
    (
        c.c(Counter::Exchanges),
        c.c(Counter::ScanIncomplete),
        c.c(Counter::UnmatchedResponses),
    )
}

#[test]
fn a_chunked_body_across_segments_is_walked_to_the_next_message() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    c.server(&[CHUNKED_HEAD, b"5\r\nhello\r\n"].concat(), 1);
    // The next response starts inside the segment that ends the chunked body.
    c.server(&[b"0\r\n\r\n", OK5].concat(), 2);
    assert_eq!(walked(&c), (2, 0, 0));
}

#[test]
fn a_message_after_a_chunked_body_in_the_same_segment_counts() {
    let mut c = Conn::new();
    c.client(
        b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n",
        0,
    );
    // Uppercase hex, leading zeros, an extension, a bare LF line end.
    c.server(
        &[
            CHUNKED_HEAD,
            b"00A;name=\"v\"\r\n0123456789\r\n1\nx\r\n0\r\n\r\n",
            CHUNKED_HEAD,
            b"3\r\nabc\r\n000\n\n",
            OK5,
        ]
        .concat(),
        1,
    );
    assert_eq!(walked(&c), (3, 0, 0));
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
}

#[test]
fn a_chunk_spanning_segments_is_skipped_even_where_it_looks_like_a_message() {
    let mut c = Conn::new();
    let post = b"POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n";
    c.client(post, 0);
    // The chunk's 32 bytes: a segment of them that starts like a request is body.
    c.client(b"GET /fake HTTP/1.1\r\n\r\n", 0);
    c.client(b"0123456789\r\n0\r\n\r\nGET /real HTTP/1.1\r\n\r\n", 0);
    assert_eq!(c.c(Counter::Requests), 2);
    c.server(&[OK5, OK5].concat(), 1);
    assert_eq!(walked(&c), (2, 0, 0));
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/up", "/real"]);
}

#[test]
fn chunk_lines_split_across_segments_go_on_in_the_next() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    // "1" then "0\r\n": a chunk of 16 bytes whose size line ends in the next segment; the
    // empty line after the last chunk split after its "\r".
    c.server(&[CHUNKED_HEAD, b"5\r\nhello\r\n1"].concat(), 1);
    c.server(b"0\r\n0123456789abcdef\r\n0\r\n\r", 2);
    c.server(&[b"\n", OK5].concat(), 3);
    assert_eq!(walked(&c), (2, 0, 0));
    // Split after the last chunk's line.
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    c.server(&[CHUNKED_HEAD, b"0\r\n"].concat(), 1);
    c.server(&[b"\r\n", OK5].concat(), 2);
    assert_eq!(walked(&c), (2, 0, 0));
}

#[test]
fn a_chunked_body_bent_where_a_chunk_line_should_be_is_counted() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    // The chunk announces 3 bytes and carries 5: where the next line should be, "lo".
    c.server(&[CHUNKED_HEAD, b"3\r\nhello\r\n0\r\n\r\n"].concat(), 1);
    assert_eq!(walked(&c), (1, 1, 0));
    // Seventeen significant hex digits do not fit a u64: not read.
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(&[CHUNKED_HEAD, b"10000000000000000\r\n"].concat(), 1);
    assert_eq!(walked(&c), (1, 1, 0));
}

#[test]
fn trailer_fields_end_the_message_wherever_the_segment_is_cut() {
    // A request and a response with trailer fields (one longer than the chunk line's bound,
    // one a Content-Length, which says nothing of the body), each followed by another
    // message.
    let long = "v".repeat(100);
    let request = format!(
        "POST /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\
         Checksum: {long}\r\nContent-Length: 9\r\n\r\nGET /n HTTP/1.1\r\n\r\n"
    );
    let response = format!(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n0\r\n\
         Server-Timing: {long}\r\nX: y\n\n"
    );
    let responses = [response.as_bytes(), OK5].concat();
    assert_two_responses_cut_anywhere(
        request.as_bytes(),
        &responses,
        response.len(),
        [(200, Some(4), Some(6)), (200, Some(0), Some(5))],
    );
    // The request cut anywhere too.
    let requests = request.as_bytes();
    for cut in 1..requests.len() {
        let mut c = Conn::new();
        c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
        c.server(OK5, 0);
        c.client(&requests[..cut], 0);
        c.client(&requests[cut..], 0);
        assert_eq!(c.c(Counter::Requests), 3, "cut after {cut} bytes");
        c.server(&[OK5, OK5].concat(), 10);
        assert_eq!(
            ends(&c)[1..],
            [
                (200, 10, Some(10), Some(4), Some(5)),
                (200, 10, Some(10), Some(0), Some(5)),
            ],
            "cut after {cut} bytes"
        );
        assert_eq!(c.c(Counter::ScanIncomplete), 0, "cut after {cut} bytes");
    }
}

#[test]
fn transfer_encoding_wins_over_content_length_in_either_order() {
    // Taking the Content-Length would end the body at "5\r\nhe" and look for a message at
    // "llo": a scan counted incomplete where nothing is wrong.
    let body = "5\r\nhello\r\n0\r\n\r\n";
    let mut c = Conn::new();
    c.client(
        format!(
            "POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n{body}"
        )
        .as_bytes(),
        0,
    );
    c.client(
        format!(
            "POST /b HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n{body}"
        )
        .as_bytes(),
        0,
    );
    assert_eq!(c.c(Counter::Requests), 2);
    // Walked as chunks, the bodies end where the next request starts.
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn content_lengths_with_leading_zeros_or_too_many_digits() {
    // Leading zeros, then 11: the next request starts right after "hello world".
    let zeros = "0".repeat(17);
    let mut c = Conn::new();
    let two = format!(
        "POST /a HTTP/1.1\r\nContent-Length: {zeros}11\r\n\r\nhello worldGET /b HTTP/1.1\r\n\r\n"
    );
    c.client(two.as_bytes(), 0);
    assert_eq!(c.c(Counter::Requests), 2);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
    // Thirty-two digits, 50 with its leading zeros skipped (a request smuggling probe from
    // zeek's tests): the request after its 50 bytes counts.
    let mut c = Conn::new();
    let body = "X".repeat(50);
    let two = format!(
        "POST / HTTP/1.1\r\nContent-Length: {}50\r\n\r\n{body}GET /b HTTP/1.1\r\n\r\n",
        "0".repeat(30)
    );
    c.client(two.as_bytes(), 0);
    assert_eq!(c.c(Counter::Requests), 2);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
    // Twenty digits do not fit a u64: no length at all (the rest of the segment is the
    // body), never a wrapped or truncated one that would find a message mid-body.
    let mut c = Conn::new();
    c.client(
        b"POST /a HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\nGET /fake HTTP/1.1\r\n\r\n",
        0,
    );
    assert_eq!(c.c(Counter::Requests), 1);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn empty_lines_between_pipelined_messages_are_ignored() {
    let mut c = Conn::new();
    c.client(
        b"GET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n\n\r\nGET /c HTTP/1.1\r\n\r\n\r\n",
        0,
    );
    assert_eq!(c.c(Counter::Requests), 3);
    c.server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        1,
    );
    assert_eq!(c.c(Counter::Exchanges), 3);
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    // The trailing empty line ends the segment: nothing was left unscanned.
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn head_response_has_no_body_even_with_content_length() {
    let mut c = Conn::new();
    c.client(b"HEAD / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 1);
    assert_eq!(c.c(Counter::Exchanges), 2);
}

#[test]
fn retransmits_and_second_copies_count_once() {
    let mut c = Conn::new();
    let req = b"GET / HTTP/1.1\r\n\r\n";
    let seq = c.client_seq;
    c.client(req, 0);
    c.send_seq(true, seq, req, 0, 10, &AllPorts); // retransmit
    assert_eq!(c.c(Counter::Requests), 1);
    assert_eq!(c.c(Counter::DuplicateSegments), 1);
    let sseq = c.server_seq;
    c.server(OK5, 20);
    c.send_seq(false, sseq, OK5, 0, 30, &AllPorts);
    assert_eq!(c.c(Counter::Responses), 1);
    assert_eq!(c.c(Counter::Exchanges), 1);
    assert_eq!(c.c(Counter::UnmatchedResponses), 0);
    assert_eq!(c.c(Counter::DuplicateSegments), 2);
}

#[test]
fn sequence_numbers_wrap() {
    let mut c = Conn::new();
    c.client_seq = u32::MAX - 5;
    c.client(b"GET /1 HTTP/1.1\r\n\r\n", 0);
    c.server(OK5, 1);
    c.client(b"GET /2 HTTP/1.1\r\n\r\n", 2);
    c.server(OK5, 3);
    assert_eq!(c.c(Counter::Exchanges), 2);
    assert_eq!(c.c(Counter::DuplicateSegments), 0);
    let st = c.table.conns.values().next().unwrap();
    assert_ne!(st.flags & FLAG_CLIENT_SEQ, 0);
}

#[test]
fn interim_responses_do_not_end_the_exchange() {
    let mut c = Conn::new();
    c.client(
        b"POST /up HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
        0,
    );
    c.server(b"HTTP/1.1 100 Continue\r\n\r\n", 1);
    c.client(b"abc", 2);
    c.server(OK5, 9);
    assert_eq!(c.c(Counter::Responses), 2);
    assert_eq!(c.c(Counter::InterimResponses), 1);
    assert_eq!(c.c(Counter::Exchanges), 1);
    assert_eq!(c.sink.exchanges[0].latency_ns, 9);
}

#[test]
fn switching_protocols_ends_the_exchange_and_http_parsing() {
    let mut c = Conn::new();
    c.client(
        b"GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        0,
    );
    // The server's first frame right after the head, in the same segment, looks like a status
    // line; so do later frames both ways.
    c.server(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
        4,
    );
    c.client(b"GET /not-http HTTP/1.1\r\n\r\n", 5);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 6);
    assert_eq!(c.c(Counter::Requests), 1);
    assert_eq!(c.c(Counter::Responses), 1);
    assert_eq!(c.c(Counter::Exchanges), 1);
    assert_eq!(c.c(Counter::InterimResponses), 0);
    assert_eq!(c.c(Counter::UnmatchedResponses), 0);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
    assert_eq!(c.sink.exchanges[0].latency_ns, 4);
    assert_eq!(c.sink.exchanges[0].status, 101);
    let st = c.table.conns.values().next().unwrap();
    assert_eq!(st.outstanding(), 0);
}

/// Requests and incomplete scans counted for one client segment on a fresh connection.
fn requests_in(segment: &[u8]) -> (u64, u64) {
    let mut c = Conn::new();
    c.client(segment, 0);
    (c.c(Counter::Requests), c.c(Counter::ScanIncomplete))
}

#[test]
fn a_request_line_without_the_http_version_is_no_request() {
    for other in [
        &b"OPTIONS rtsp://cam/stream RTSP/1.0\r\nCSeq: 1\r\n\r\n"[..],
        b"OPTIONS sip:bob@example.com SIP/2.0\r\nVia: x\r\n\r\n",
        b"CONNECT {\"verbose\":false}\r\n",
        b"CONNECT irc.example.net\r\n",
        b"GET /index.html\r\n",
        b"GET / HTTP/2.0\r\n\r\n",
        b"GET / HTTP/1.1 \r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.x\r\n\r\n",
    ] {
        assert_eq!(requests_in(other), (0, 0), "{other:?}");
    }
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(WINDOW));
    for request in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.0\n\n",
        b"GET /a?b=c HTTP/1.9\r\nHost: x\r\n\r\n",
        // A line not ended in the window is taken on its start: its end cannot be seen.
        b"GET /still-arriving",
        long.as_bytes(),
    ] {
        assert_eq!(requests_in(request).0, 1, "{request:?}");
    }
    // After a delimited request, an RTSP line where the next message should start is no request
    // and says the scan is incomplete.
    assert_eq!(
        requests_in(b"GET / HTTP/1.1\r\n\r\nOPTIONS * RTSP/1.0\r\n\r\n"),
        (1, 1)
    );
}

#[test]
fn extension_methods_pair_and_keep_their_names() {
    let mut c = Conn::new();
    // A WebDAV session: each request answered, one pipelined after a body.
    c.client(
        b"PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\nContent-Length: 4\r\n\r\n<a/>",
        0,
    );
    c.server(
        b"HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n",
        10,
    );
    c.client(
        b"MKCOL /dav/new HTTP/1.1\r\n\r\nLOCK /dav/new HTTP/1.1\r\n\r\n",
        20,
    );
    c.server(
        b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        30,
    );
    // UPnP's asterisk-form target.
    c.client(b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\n\r\n", 40);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 45);
    assert_eq!(c.c(Counter::Requests), 4);
    assert_eq!(c.c(Counter::Exchanges), 4);
    assert_eq!(c.c(Counter::UnmatchedResponses), 0);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
    let seen: Vec<(u8, &str, &str, u16)> = c
        .sink
        .exchanges
        .iter()
        .map(|e| (e.method, e.method_name.as_str(), e.path.as_str(), e.status))
        .collect();
    let ext = Method::Extension as u8;
    assert_eq!(
        seen,
        [
            (ext, "PROPFIND", "/dav/", 207),
            (ext, "MKCOL", "/dav/new", 201),
            (ext, "LOCK", "/dav/new", 200),
            (ext, "M-SEARCH", "*", 200),
        ]
    );
    // A named method still travels as its code, its target without the name.
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(OK5, 1);
    assert_eq!(c.sink.exchanges[0].method_name, "GET");
    assert_eq!(c.sink.exchanges[0].path, "/a");
}

#[test]
fn an_extension_token_needs_the_http_version_in_the_window() {
    // A named method's line is taken on its start; an extension token's is not.
    let long = format!("PROPFIND /{} HTTP/1.1\r\n\r\n", "a".repeat(WINDOW));
    for other in [
        long.as_bytes(),
        b"PROPFIND /still-arriving",
        b"RETR /pub/file.txt\r\n",
        b"SETUP /stream RTSP/1.0\r\n\r\n",
    ] {
        assert_eq!(requests_in(other), (0, 0), "{other:?}");
    }
}

#[test]
fn response_without_request_is_unmatched() {
    let mut c = Conn::new();
    c.server(OK5, 0);
    assert_eq!(c.c(Counter::UnmatchedResponses), 1);
    assert_eq!(c.c(Counter::Exchanges), 0);
}

#[test]
fn rst_expires_outstanding_and_forgets_the_connection() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    c.send_at(false, b"", TCP_RST, 1, &AllPorts);
    assert_eq!(c.c(Counter::ExpiredRequests), 2);
    assert!(c.table.conns.is_empty());
}

#[test]
fn client_fin_keeps_outstanding_server_fin_expires_them() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.send_at(true, b"", TCP_FIN, 1, &AllPorts); // half-close: the answer may still come
    assert_eq!(c.table.conns.len(), 1);
    c.server(OK5, 2);
    assert_eq!(c.c(Counter::Exchanges), 1);
    c.client(b"GET /b HTTP/1.1\r\n\r\n", 3);
    c.send_at(false, b"", TCP_FIN, 4, &AllPorts);
    assert_eq!(c.c(Counter::ExpiredRequests), 1);
    assert!(c.table.conns.is_empty());
}

#[test]
fn a_late_copy_after_the_close_is_a_duplicate_not_a_new_connection() {
    let mut c = Conn::new();
    let (client_seq, server_seq) = (c.client_seq, c.server_seq);
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    // The response carries the FIN: the connection ends with it.
    c.send_at(false, OK5, TCP_FIN, 1, &AllPorts);
    assert_eq!(c.sink.ended.len(), 1);
    assert!(c.table.conns.is_empty());
    // The same packets again (a second interface, or sent again): seen, not new.
    c.send_seq(false, server_seq, OK5, TCP_FIN, 2, &AllPorts);
    c.send_seq(
        true,
        client_seq,
        b"GET /a HTTP/1.1\r\n\r\n",
        0,
        3,
        &AllPorts,
    );
    assert_eq!(
        (
            c.c(Counter::Requests),
            c.c(Counter::Responses),
            c.c(Counter::Exchanges),
            c.c(Counter::UnmatchedResponses),
            c.c(Counter::ExpiredRequests),
            c.c(Counter::DuplicateSegments)
        ),
        (1, 1, 1, 0, 0, 2)
    );
    assert!(c.table.conns.is_empty());
    assert_eq!(c.sink.ended.len(), 1);
}

#[test]
fn a_new_connection_on_the_tuple_of_one_that_ended_counts() {
    let mut c = Conn::new();
    let client_seq = c.client_seq;
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.send_at(false, OK5, TCP_FIN, 1, &AllPorts);
    // Its SYN forgets the old one, whatever its sequence numbers.
    c.send_seq(
        true,
        client_seq.wrapping_sub(100),
        b"",
        TCP_SYN,
        2,
        &AllPorts,
    );
    c.send_seq(
        true,
        client_seq.wrapping_sub(99),
        b"GET /b HTTP/1.1\r\n\r\n",
        0,
        3,
        &AllPorts,
    );
    assert_eq!(c.c(Counter::Requests), 2);
    // Without a SYN seen, bytes past where the old one stopped start the new one.
    c.send_at(false, OK5, TCP_FIN, 4, &AllPorts);
    c.client_seq = c.client_seq.wrapping_add(1000);
    c.client(b"GET /c HTTP/1.1\r\n\r\n", 5);
    c.server(OK5, 6);
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/b", "/c"]);
    assert_eq!(c.c(Counter::DuplicateSegments), 0);
}

#[test]
fn response_carrying_fin_completes_then_closes() {
    let mut c = Conn::new();
    c.client(b"GET / HTTP/1.0\r\n\r\n", 0);
    c.send_at(
        false,
        b"HTTP/1.0 200 OK\r\n\r\nbody until close",
        TCP_FIN,
        5,
        &AllPorts,
    );
    assert_eq!(c.c(Counter::Exchanges), 1);
    assert_eq!(c.c(Counter::ExpiredRequests), 0);
    assert!(c.table.conns.is_empty());
}

#[test]
fn pipelining_deeper_than_the_fifo_is_counted_not_lost() {
    let mut c = Conn::new();
    for _ in 0..20 {
        c.client(b"GET / HTTP/1.1\r\n\r\n", 0);
    }
    assert_eq!(c.c(Counter::Requests), 20);
    assert_eq!(c.c(Counter::PipelineOverflow), 4);
    assert_eq!(c.c(Counter::ExpiredRequests), 4);
}

/// Requests pipelined past the FIFO in ONE segment count as requests that overflowed, up to the
/// per-segment limit; their answers find no request waiting.
#[test]
fn pipelining_past_the_fifo_in_one_segment_counts_each_request() {
    let mut c = Conn::new();
    let get = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    c.client(&get.repeat(24), 0);
    assert_eq!(c.c(Counter::Requests), 24);
    assert_eq!(c.c(Counter::PipelineOverflow), 8);
    assert_eq!(c.c(Counter::ExpiredRequests), 8);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
    c.server(&OK5.repeat(24), 10);
    assert_eq!(c.c(Counter::Responses), 24);
    assert_eq!(c.c(Counter::Exchanges), 16);
    assert_eq!(c.c(Counter::UnmatchedResponses), 8);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);

    // Past the per-segment limit: the rest of the segment is not delimited, and says so.
    let mut c = Conn::new();
    let limit = engine::MAX_MESSAGES_PER_SEGMENT as u64;
    c.client(&get.repeat(40), 0);
    assert_eq!(c.c(Counter::Requests), limit);
    assert_eq!(c.c(Counter::PipelineOverflow), limit - 16);
    assert_eq!(c.c(Counter::ScanIncomplete), 1);
}

#[test]
fn a_full_table_counts_the_request_as_expired() {
    let mut c = Conn::new();
    c.table.capacity = 0;
    c.client(b"GET / HTTP/1.1\r\n\r\n", 0);
    assert_eq!(c.c(Counter::Requests), 1);
    assert_eq!(c.c(Counter::ConnTableFull), 1);
    assert_eq!(c.c(Counter::ExpiredRequests), 1);
}

#[test]
fn port_filter_watches_server_ports_only() {
    struct Only(u16);
    impl PortFilter for Only {
        fn watches(&self, p: u16) -> bool {
            p == self.0
        }
    }
    let mut c = Conn::new();
    c.send_at(true, b"GET / HTTP/1.1\r\n\r\n", 0, 0, &Only(8080));
    assert_eq!(c.c(Counter::Requests), 0);
    c.send_at(true, b"GET / HTTP/1.1\r\n\r\n", 0, 0, &Only(80));
    assert_eq!(c.c(Counter::Requests), 1);
}

#[test]
fn garbage_after_a_message_is_flagged_not_counted() {
    let mut c = Conn::new();
    c.client(b"GET / HTTP/1.1\r\n\r\n\x00\x01garbage", 0);
    assert_eq!(c.c(Counter::Requests), 1);
    assert_eq!(c.c(Counter::ScanIncomplete), 1);
}

#[test]
fn non_http_segments_change_nothing() {
    let mut c = Conn::new();
    c.client(b"\x16\x03\x01\x00\xa5\x01\x00\x00", 0);
    c.server(b"SSH-2.0-x\r\n", 0);
    assert!(c.table.conns.is_empty());
    assert_eq!(c.sink.counters, [0; COUNTER_SLOTS]);
}

#[test]
fn idle_connections_expire() {
    let mut c = Conn::new();
    c.client(b"GET / HTTP/1.1\r\n\r\n", 1_000);
    let st = *c.table.conns.values().next().unwrap();
    assert_eq!(engine::expire_idle(&st, 1_500, 1_000), None);
    assert_eq!(engine::expire_idle(&st, 2_000, 1_000), Some(1));
}

#[test]
fn a_connection_carries_its_start_and_reports_its_end() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 100);
    c.server(OK5, 150);
    c.client(b"GET /b HTTP/1.1\r\n\r\n", 200);
    c.server(OK5, 250);
    // The server closes: the connection that started at 100 ended.
    c.send_at(false, b"", TCP_FIN, 300, &AllPorts);
    assert_eq!(c.sink.ended, [100]);
    // The same tuple again: a new connection with its own start.
    c.client(b"GET /c HTTP/1.1\r\n\r\n", 400);
    c.server(OK5, 450);
    assert_eq!(c.sink.exchange_starts, [100, 100, 400]);
    c.send_at(false, b"", TCP_RST, 500, &AllPorts);
    assert_eq!(c.sink.ended, [100, 400]);
    // A client's half-close with a request outstanding ends nothing yet.
    c.client(b"GET /d HTTP/1.1\r\n\r\n", 600);
    c.send_at(true, b"", TCP_FIN, 601, &AllPorts);
    assert_eq!(c.sink.ended, [100, 400]);
}

/// Exchanges, requests, responses, unmatched responses and scans counted incomplete.
fn split_counts(c: &Conn) -> (u64, u64, u64, u64, u64) {
    (
        c.c(Counter::Exchanges),
        c.c(Counter::Requests),
        c.c(Counter::Responses),
        c.c(Counter::UnmatchedResponses),
        c.c(Counter::ScanIncomplete),
    )
}

#[test]
fn a_start_split_across_segments_is_carried_to_the_next() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(OK5, 5);
    // On the kept-alive connection: the method cut after two bytes, the status line inside
    // its version.
    c.client(b"GE", 10);
    c.client(b"T /b HTTP/1.1\r\n\r\n", 20);
    c.server(b"HTTP/1.", 30);
    c.server(b"1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 40);
    assert_eq!(split_counts(&c), (2, 2, 2, 0, 0));
    let e = &c.sink.exchanges[1];
    assert_eq!((e.path.as_str(), e.method), ("/b", 1));
    // Timed from the segments that held each message's first bytes.
    assert_eq!(e.latency_ns, 20);
}

#[test]
fn a_start_spread_over_several_segments_is_carried_through_them() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(OK5, 5);
    // A byte or two per segment, as a terminal sends them.
    for (i, bytes) in [&b"P"[..], b"U", b"T", b" /b HTTP/1.1\r\n\r\n"]
        .iter()
        .enumerate()
    {
        c.client(bytes, 10 + i as u64);
    }
    for (i, bytes) in [
        &b"HTTP"[..],
        b"/1.1 ",
        b"2",
        b"01 Created\r\nContent-Length: 0\r\n\r\n",
    ]
    .iter()
    .enumerate()
    {
        c.server(bytes, 30 + i as u64);
    }
    assert_eq!(split_counts(&c), (2, 2, 2, 0, 0));
    let e = &c.sink.exchanges[1];
    assert_eq!((e.path.as_str(), e.status), ("/b", 201));
    // From the request's first byte to the status line's.
    assert_eq!(e.latency_ns, 20);
    // Bytes that stop being a start on the way (`GE`, then `X`) are read alone.
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(OK5, 5);
    c.client(b"GE", 10);
    c.client(b"X", 11);
    c.client(b"GET /c HTTP/1.1\r\n\r\n", 12);
    c.server(OK5, 20);
    assert_eq!(split_counts(&c), (2, 2, 2, 0, 0));
    assert_eq!(c.sink.exchanges[1].path, "/c");
}

#[test]
fn a_pipelined_start_split_after_a_message_is_carried() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nPROPFIND /x", 0);
    c.client(b" HTTP/1.1\r\nDepth: 1\r\n\r\nGET /c HTTP/1.1\r\n\r\n", 1);
    c.server(&[OK5, b"HTTP/1.1 20"].concat(), 2);
    c.server(
        &[b"7 Multi-Status\r\nContent-Length: 0\r\n\r\n", OK5].concat(),
        3,
    );
    assert_eq!(split_counts(&c), (3, 3, 3, 0, 0));
    let paths: Vec<&str> = c.sink.exchanges.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/a", "/x", "/c"]);
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nG", 0);
    c.client(b"ET /b HTTP/1.1\r\n\r\n", 1);
    c.server(&[OK5, b"H"].concat(), 2);
    c.server(&OK5[1..], 3);
    assert_eq!(split_counts(&c), (2, 2, 2, 0, 0));
}

#[test]
fn a_carried_start_the_next_segment_does_not_go_on_is_dropped() {
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(OK5, 1);
    // Looks like a start cut short, but the next segment does not go on with it: it is read
    // alone, and its request counts.
    c.client(b"X", 2);
    c.client(b"\r\nGET /x HTTP/1.1\r\n\r\n", 3);
    c.server(OK5, 4);
    assert_eq!(split_counts(&c), (2, 2, 2, 0, 0));
    assert_eq!(c.sink.exchanges[1].path, "/x");
}

/// One sent exchange's (status, TTFB, TTLB, request body, response body).
type Ends = (u16, u64, Option<u64>, Option<u64>, Option<u64>);

/// The figures of the connection's exchanges sent so far.
fn ends(c: &Conn) -> Vec<Ends> {
    c.sink
        .exchanges
        .iter()
        .map(|e| {
            (
                e.status,
                e.latency_ns,
                e.ttlb_ns,
                e.request_body,
                e.response_body,
            )
        })
        .collect()
}

#[test]
fn a_body_spanning_segments_is_sent_at_its_last_byte() {
    let mut c = Conn::new();
    c.client(b"GET /big HTTP/1.1\r\n\r\n", 10);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd", 30);
    // Paired at the first byte (counted, in the histogram), sent at the last.
    assert_eq!(c.c(Counter::Exchanges), 1);
    assert_eq!(c.sink.latencies, [20]);
    assert_eq!(ends(&c), []);
    c.server(b"efg", 40);
    assert_eq!(ends(&c), []);
    c.server(b"hij", 55);
    assert_eq!(ends(&c), [(200, 20, Some(45), Some(0), Some(10))]);
    // The next exchange on the connection, whole in one segment each way.
    c.client(b"POST /up HTTP/1.1\r\nContent-Length: 3\r\n\r\nxyz", 60);
    c.server(b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok", 65);
    assert_eq!(ends(&c)[1], (201, 5, Some(5), Some(3), Some(2)));
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn a_chunked_body_is_sized_by_its_chunks_and_ends_at_its_last() {
    let mut c = Conn::new();
    c.client(
        b"PUT /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n",
        0,
    );
    c.client(b"2;x=y\r\nef\r\n0\r\n\r\n", 3);
    c.server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n",
        7,
    );
    assert_eq!(ends(&c), []);
    // The last chunk's line and the empty line, split across two segments.
    c.server(b"3\r\nxyz\r\n0\r", 9);
    assert_eq!(ends(&c), []);
    c.server(b"\n\r\n", 12);
    assert_eq!(ends(&c), [(200, 7, Some(12), Some(6), Some(19))]);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn a_body_read_until_close_ends_with_the_connection() {
    let mut c = Conn::new();
    c.client(b"GET /old HTTP/1.0\r\n\r\n", 0);
    c.server(b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n12345", 4);
    c.server(b"6789", 6);
    assert_eq!(ends(&c), []);
    c.send_at(false, b"", TCP_FIN, 8, &AllPorts);
    assert_eq!(ends(&c), [(200, 4, Some(8), Some(0), Some(9))]);
    assert_eq!(c.sink.ended.len(), 1);
}

#[test]
fn a_body_coded_but_not_chunked_is_read_until_close() {
    // gzip alone (RFC 9112 §6.3): no chunks to walk, the body ends with the connection; a
    // Content-Length beside it does not count.
    let mut c = Conn::new();
    c.client(b"GET /z HTTP/1.1\r\n\r\n", 0);
    c.server(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\n1f8b0800",
        4,
    );
    c.server(b"0\r\n\r\n", 6);
    assert_eq!(ends(&c), []);
    c.send_at(false, b"", TCP_FIN, 8, &AllPorts);
    assert_eq!(ends(&c), [(200, 4, Some(8), Some(0), Some(13))]);
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

/// Pipelined responses with a `Transfer-Encoding` in each form the engine reads: chunked last
/// after another coding (beside a length that does not count), plain `chunked` after a
/// length, `chunked` among blanks, and `gzip` alone (read until the close). Their starts and
/// ends, and the body sizes the client counts.
fn coded_responses() -> (Vec<u8>, Vec<(usize, usize, u64)>) {
    let responses: [&[u8]; 4] = [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding:gzip,chunked\r\nContent-Length: 9\r\n\r\n\
          5\r\nhello\r\n0\r\n\r\n",
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n\
          3\r\nabc\r\n0\r\n\r\n",
        b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding:  Chunked \r\n\r\n2\r\nhi\r\n0\r\n\r\n",
        b"HTTP/1.1 203 OK\r\nTransfer-Encoding: gzip\r\nServer: x\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\n",
    ];
    let sizes = [5, 3, 2, 21];
    let mut at = 0;
    let places = responses
        .iter()
        .zip(sizes)
        .map(|(r, size)| {
            at += r.len();
            (at - r.len(), at, size)
        })
        .collect();
    (responses.concat(), places)
}

#[test]
fn transfer_codings_are_read_to_the_last_one_wherever_the_segment_is_cut() {
    let (responses, places) = coded_responses();
    for cut in 1..responses.len() {
        let mut c = Conn::new();
        c.client(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 0);
        c.client(b"GET /3 HTTP/1.1\r\n\r\nGET /4 HTTP/1.1\r\n\r\n", 0);
        c.server(&responses[..cut], 10);
        c.server(&responses[cut..], 20);
        c.send_at(false, b"", TCP_FIN, 30, &AllPorts);
        let expected: Vec<Ends> = places
            .iter()
            .enumerate()
            .map(|(i, &(start, end, size))| {
                let ttfb = if cut > start { 10 } else { 20 };
                // The last one's body ends with the connection.
                let ttlb = match (i, cut >= end) {
                    (3, _) => 30,
                    (_, true) => 10,
                    (_, false) => 20,
                };
                (200 + i as u16, ttfb, Some(ttlb), Some(0), Some(size))
            })
            .collect();
        assert_eq!(ends(&c), expected, "cut after {cut} bytes");
        assert_eq!(c.c(Counter::ScanIncomplete), 0, "cut after {cut} bytes");
    }
}

#[test]
fn a_request_coded_but_not_chunked_has_a_body_of_unknown_length() {
    // RFC 9112 §6.3: a request whose last coding is not chunked cannot be delimited. Its size
    // is unknown, and the stream is followed again where a segment starts a message.
    let mut c = Conn::new();
    c.client(
        b"POST /z HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n1f8b",
        0,
    );
    c.client(b"GET /next HTTP/1.1\r\n\r\n", 2);
    c.server(OK5, 5);
    c.server(OK5, 7);
    let ends = ends(&c);
    assert_eq!(ends.len(), 2);
    assert_eq!(ends[0].3, None);
    assert_eq!(ends[1], (200, 5, Some(5), Some(0), Some(5)));
    assert_eq!(c.c(Counter::Requests), 2);
}

#[test]
fn bodies_that_are_none_end_with_the_head() {
    let mut c = Conn::new();
    c.client(b"HEAD /h HTTP/1.1\r\n\r\n", 0);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 2);
    c.client(b"GET /n HTTP/1.1\r\n\r\n", 3);
    c.server(b"HTTP/1.1 304 Not Modified\r\n\r\n", 6);
    assert_eq!(
        ends(&c),
        [
            (200, 2, Some(2), Some(0), Some(0)),
            (304, 3, Some(3), Some(0), Some(0))
        ]
    );
}

#[test]
fn a_response_cut_short_is_sent_with_its_end_unknown() {
    // The connection resets in the middle of the body.
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", 1);
    c.send_at(false, b"", TCP_RST, 5, &AllPorts);
    assert_eq!(ends(&c), [(200, 1, None, Some(0), None)]);
    // The body's end lost (its segment never came): the next response, read from its
    // segment's start, ends it.
    let mut c = Conn::new();
    c.client(b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 0);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabc", 1);
    c.server_seq = c.server_seq.wrapping_add(3);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 4);
    assert_eq!(
        ends(&c),
        [
            (200, 1, None, Some(0), None),
            (200, 4, Some(4), Some(0), Some(0))
        ]
    );
    assert_eq!(c.c(Counter::Exchanges), 2);
}

#[test]
fn a_response_still_open_is_unsent_until_swept() {
    let mut c = Conn::new();
    c.client(b"GET /slow HTTP/1.1\r\n\r\n", 0);
    c.server(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", 3);
    let state = c.table.conns.values().next().unwrap();
    let (request, answer) = engine::unsent_answer(state).expect("a response being received");
    assert_eq!(request.request_ns, 0);
    assert_eq!(
        (
            answer.status,
            answer.latency_ns,
            answer.ttlb_ns,
            answer.body_len
        ),
        (200, 3, UNKNOWN, UNKNOWN)
    );
    // Its request's slot stays held: 15 more requests fit, the 16th overflows.
    for i in 0..16 {
        c.client(format!("GET /{i} HTTP/1.1\r\n\r\n").as_bytes(), 4);
    }
    assert_eq!(c.c(Counter::PipelineOverflow), 1);
}

#[test]
fn an_end_seen_before_its_head_came_is_timed_by_the_segment_that_held_it() {
    // The segment with the second response's head comes late, after the one with its end
    // (two receive queues on two CPUs): the end passed when that segment was looked at, and
    // the whole response once its head came (its TTLB is its TTFB).
    let mut c = Conn::new();
    c.client(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 0);
    let first = b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nabcd";
    let middle = b"efghHTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123";
    let last = b"456789";
    let start = c.server_seq;
    c.server(first, 10);
    let middle_seq = start.wrapping_add(first.len() as u32);
    let last_seq = middle_seq.wrapping_add(middle.len() as u32);
    c.send_seq(false, last_seq, last, 0, 40, &AllPorts);
    c.send_seq(false, middle_seq, middle, 0, 50, &AllPorts);
    assert_eq!(
        ends(&c),
        [
            (200, 10, Some(50), Some(0), Some(8)),
            (200, 50, Some(50), Some(0), Some(10))
        ]
    );
    assert_eq!(c.c(Counter::DuplicateSegments), 0);
}

/// Two pipelined responses whose first has a head longer than the window, and where each
/// one's `Content-Length` line lies in its bytes.
fn long_head_responses() -> (Vec<u8>, [std::ops::Range<usize>; 2]) {
    let first = format!(
        "HTTP/1.1 200 OK\r\nServer: test\r\nSet-Cookie: {}\r\nContent-Length: 5\r\n\
         Content-Type: text/plain\r\n\r\nhello",
        "c".repeat(WINDOW + 100)
    );
    let second = "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nServer: test\r\n\r\nabc";
    let bytes = [first.as_bytes(), second.as_bytes()].concat();
    let line = |from: usize| {
        let start = from
            + bytes[from..]
                .windows(15)
                .position(|w| w == b"Content-Length:")
                .unwrap();
        let end = start + bytes[start..].iter().position(|&b| b == b'\n').unwrap();
        start..end
    };
    let lines = [line(0), line(first.len())];
    (bytes, lines)
}

#[test]
fn a_head_longer_than_the_window_is_read_to_its_end() {
    let (responses, _) = long_head_responses();
    let mut c = Conn::new();
    c.client(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 0);
    c.server(&responses, 10);
    assert_eq!(
        ends(&c),
        [
            (200, 10, Some(10), Some(0), Some(5)),
            (404, 10, Some(10), Some(0), Some(3))
        ]
    );
    assert_eq!(c.c(Counter::ScanIncomplete), 0);
}

#[test]
fn a_head_cut_by_its_segment_anywhere_goes_on_in_the_next() {
    // Every place: inside the status line, the long header, either length header, the CRLF
    // pairs, the bodies, and the second response's start.
    let (responses, lines) = long_head_responses();
    let first_len = lines[1].start - "HTTP/1.1 404 Not Found\r\n".len();
    assert_two_responses_cut_anywhere(
        b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
        &responses,
        first_len,
        [(200, Some(0), Some(5)), (404, Some(0), Some(3))],
    );
}

/// Two pipelined responses, `responses` (the first of them `first_len` bytes), cut into two
/// segments at every place, after `requests` (sent at 0) ask for them; the segments come at 10
/// and 20. Each exchange's figures are exact: its status and body sizes as `expected` says,
/// the first's last byte timed by the segment that held it, the second's first byte by the
/// segment that held its start (the first, unless the cut is at or before it).
#[track_caller]
fn assert_two_responses_cut_anywhere(
    requests: &[u8],
    responses: &[u8],
    first_len: usize,
    expected: [(u16, Option<u64>, Option<u64>); 2],
) {
    let [(s0, q0, r0), (s1, q1, r1)] = expected;
    for cut in 1..responses.len() {
        let mut c = Conn::new();
        c.client(requests, 0);
        c.server(&responses[..cut], 10);
        c.server(&responses[cut..], 20);
        let first_ttlb = if cut >= first_len { 10 } else { 20 };
        let second_ttfb = if cut > first_len { 10 } else { 20 };
        assert_eq!(
            ends(&c),
            [
                (s0, 10, Some(first_ttlb), q0, r0),
                (s1, second_ttfb, Some(20), q1, r1),
            ],
            "cut after {cut} bytes"
        );
        assert_eq!(c.c(Counter::ScanIncomplete), 0, "cut after {cut} bytes");
    }
}

#[test]
fn heads_sent_in_small_pieces_are_read_to_their_ends() {
    // Each piece its own segment: heads span dozens of them, length headers several. (A
    // message's start is carried into one segment only: pieces of 11 bytes or more hold any
    // status line's first 12 in two.)
    let (responses, _) = long_head_responses();
    for piece in 1..=70 {
        let mut c = Conn::new();
        c.client(b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 0);
        for bytes in responses.chunks(piece) {
            c.server(bytes, 10);
        }
        assert_eq!(
            ends(&c),
            [
                (200, 10, Some(10), Some(0), Some(5)),
                (404, 10, Some(10), Some(0), Some(3)),
            ],
            "pieces of {piece} bytes"
        );
        assert_eq!(c.c(Counter::ScanIncomplete), 0, "pieces of {piece} bytes");
    }
}

#[test]
fn a_request_head_cut_anywhere_still_sizes_its_body() {
    let first = format!(
        "POST /upload HTTP/1.1\r\nHost: a\r\nCookie: {}\r\nContent-Length: 4\r\n\r\nabcd",
        "k".repeat(300)
    );
    let second = "PUT /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n";
    let requests = [first.as_bytes(), second.as_bytes()].concat();
    for cut in 1..requests.len() {
        let mut c = Conn::new();
        // A connection seen already: a new one starts with a segment that tells a message.
        c.client(b"GET /a HTTP/1.1\r\n\r\n", 0);
        c.server(OK5, 0);
        c.client(&requests[..cut], 0);
        c.client(&requests[cut..], 0);
        assert_eq!(c.c(Counter::Requests), 3, "cut after {cut} bytes");
        c.server(OK5, 10);
        c.server(OK5, 20);
        assert_eq!(
            ends(&c)[1..],
            [
                (200, 10, Some(10), Some(4), Some(5)),
                (200, 20, Some(20), Some(3), Some(5)),
            ],
            "cut after {cut} bytes"
        );
    }
}

#[test]
fn a_connections_first_request_split_after_a_few_bytes_is_carried() {
    // (Cut after `GET `, the request counts on its method alone, its path then unseen.)
    for split in 1..=3 {
        let request = b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n";
        let mut c = Conn::new();
        c.client(&request[..split], 0);
        c.client(&request[split..], 3);
        c.server(OK5, 10);
        assert_eq!(c.c(Counter::Requests), 1, "split after {split}");
        assert_eq!(
            ends(&c),
            [(200, 10, Some(10), Some(0), Some(5))],
            "split after {split}"
        );
        assert_eq!(c.sink.exchanges[0].path, "/first", "split after {split}");
    }
    // Bytes that begin no named method nor a status line track nothing.
    for bytes in [
        &b"EHLO"[..],
        b"GETX",
        b"SSH-2.0-OpenSSH",
        b"HTTP/2",
        b"PROPF",
    ] {
        let mut c = Conn::new();
        c.client(bytes, 0);
        assert!(
            c.table.conns.is_empty(),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}
