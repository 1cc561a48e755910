//! The loaded kernel programs fed crafted frames through BPF_PROG_TEST_RUN: exact counts from
//! the very object `httptop` embeds. Root only; no socket is attached, so no live traffic
//! can reach the maps.

use httptop::{
    Counter,
    kernel::{AttachMode, Kernel, KernelConfig},
    model::{Event, Exchange},
};
use httptop_tests::{
    frames::{
        ACK, ETH_P_8021AD, ETH_P_8021Q, ETH_P_IP, ETH_P_IPV6, End, FIN, RST, SYN, ethernet,
        ipv4_tcp, tcp_header,
    },
    test_run::test_run as run,
};

/// The exchange events waiting in the ring buffer (connection ends left out).
fn exchanges(kernel: &mut Kernel) -> Vec<Exchange> {
    let mut events = Vec::new();
    kernel.drain_events(|e| {
        if let Event::Exchange(x) = e {
            events.push(x);
        }
    });
    events
}

const CLIENT: End = End {
    addr: [10, 0, 0, 1],
    port: 40000,
};
const SERVER: End = End {
    addr: [10, 0, 0, 2],
    port: 80,
};

/// An Ethernet + IPv4 + TCP frame between [`CLIENT`] and [`SERVER`]; ACK is always set.
fn v4(from_client: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (from, to) = if from_client {
        (CLIENT, SERVER)
    } else {
        (SERVER, CLIENT)
    };
    ethernet(ETH_P_IP, &ipv4_tcp(from, to, seq, flags | ACK, payload))
}

fn v6(from_client: bool, seq: u32, payload: &[u8]) -> Vec<u8> {
    v6_behind(&[], from_client, seq, payload)
}

/// An IPv6 frame whose TCP header comes after the extension headers `chain` (next-header
/// values: 0 hop-by-hop, 60 destination options, 44 a first fragment; 8 bytes each).
fn v6_behind(chain: &[u8], from_client: bool, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if from_client {
        (1u8, 2u8, 40000, 8080)
    } else {
        (2, 1, 8080, 40000)
    };
    let mut ip = vec![0u8; 40];
    ip[0] = 0x60;
    let extensions = 8 * chain.len();
    ip[4..6].copy_from_slice(&((extensions + 20 + payload.len()) as u16).to_be_bytes());
    ip[6] = chain.first().copied().unwrap_or(6);
    ip[7] = 64;
    ip[8] = 0xfd;
    ip[23] = src;
    ip[24] = 0xfd;
    ip[39] = dst;
    for (i, _) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(6);
        ip.extend_from_slice(&[next, 0, 0, 0, 0, 0, 0, 0]);
    }
    // The TCP header takes only the ports of its ends.
    let end = |port| End { addr: [0; 4], port };
    ip.extend_from_slice(&tcp_header(end(sp), end(dp), seq, ACK));
    ip.extend_from_slice(payload);
    ethernet(ETH_P_IPV6, &ip)
}

/// Same frame with an 802.1Q tag (VLAN 7) in front of IPv4.
fn vlan(frame_v4: &[u8]) -> Vec<u8> {
    let mut tagged = vec![0x00, 0x07];
    tagged.extend_from_slice(&ETH_P_IP.to_be_bytes());
    tagged.extend_from_slice(&frame_v4[14..]);
    ethernet(ETH_P_8021Q, &tagged)
}

/// Same frame with an 802.1ad tag (VLAN 9) outside an 802.1Q tag (VLAN 7): QinQ.
fn qinq(frame_v4: &[u8]) -> Vec<u8> {
    let mut tagged = vec![0x00, 0x09];
    tagged.extend_from_slice(&ETH_P_8021Q.to_be_bytes());
    tagged.extend_from_slice(&vlan(frame_v4)[14..]);
    ethernet(ETH_P_8021AD, &tagged)
}

fn fresh(mode: AttachMode) -> Kernel {
    Kernel::load(&KernelConfig {
        attach: mode,
        ..KernelConfig::default()
    })
    .expect("load the kernel programs (root needed)")
}

const GET: &[u8] = b"GET /index.html?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";

struct Counts {
    requests: u64,
    responses: u64,
    exchanges: u64,
    unmatched: u64,
    duplicates: u64,
}

fn counts(kernel: &Kernel) -> Counts {
    let t = kernel.totals().expect("totals");
    Counts {
        requests: t[Counter::Requests],
        responses: t[Counter::Responses],
        exchanges: t[Counter::Exchanges],
        unmatched: t[Counter::UnmatchedResponses],
        duplicates: t[Counter::DuplicateSegments],
    }
}

fn ipv4_exchange_counts_once_with_event_and_histogram(mode: AttachMode) {
    let mut kernel = fresh(mode);
    run(&kernel, &v4(true, 1, ACK, GET));
    run(&kernel, &v4(false, 500, ACK, OK));
    let c = counts(&kernel);
    assert_eq!(
        (c.requests, c.responses, c.exchanges, c.unmatched),
        (1, 1, 1, 0)
    );
    let t = kernel.totals().unwrap();
    assert_eq!(t.histogram_log2.iter().sum::<u64>(), 1);
    let events = exchanges(&mut kernel);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].status, 200);
    assert_eq!(events[0].path.as_str(), "/index.html?x=1");
    assert_eq!(events[0].tuple.client.to_string(), "10.0.0.1:40000");
    assert_eq!(events[0].tuple.server.to_string(), "10.0.0.2:80");
}

fn extension_methods_pair_with_their_names(mode: AttachMode) {
    let mut kernel = fresh(mode);
    run(
        &kernel,
        &v4(true, 1, ACK, b"PROPFIND /dav/ HTTP/1.1\r\nDepth: 1\r\n\r\n"),
    );
    run(
        &kernel,
        &v4(
            false,
            500,
            ACK,
            b"HTTP/1.1 207 Multi-Status\r\nContent-Length: 0\r\n\r\n",
        ),
    );
    let c = counts(&kernel);
    assert_eq!(
        (c.requests, c.responses, c.exchanges, c.unmatched),
        (1, 1, 1, 0)
    );
    let events = exchanges(&mut kernel);
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].method.as_ref().map(|m| m.as_str()),
        Some("PROPFIND")
    );
    assert_eq!(events[0].path.as_str(), "/dav/");
    assert_eq!(events[0].status, 207);
}

fn ipv6_exchange(mode: AttachMode) {
    let mut kernel = fresh(mode);
    run(&kernel, &v6(true, 9, GET));
    run(&kernel, &v6(false, 77, OK));
    let c = counts(&kernel);
    assert_eq!((c.requests, c.responses, c.exchanges), (1, 1, 1));
    let events = exchanges(&mut kernel);
    assert_eq!(events[0].tuple.client.to_string(), "[fd00::1]:40000");
    assert_eq!(events[0].tuple.server.to_string(), "[fd00::2]:8080");
}

fn ipv6_behind_extension_headers(mode: AttachMode) {
    let mut kernel = fresh(mode);
    run(&kernel, &v6_behind(&[0, 60], true, 9, GET));
    run(&kernel, &v6_behind(&[44], false, 77, OK));
    let c = counts(&kernel);
    assert_eq!((c.requests, c.responses, c.exchanges), (1, 1, 1));
    let events = exchanges(&mut kernel);
    assert_eq!(events[0].tuple.client.to_string(), "[fd00::1]:40000");
    assert_eq!(events[0].path.as_str(), "/index.html?x=1");
}

fn vlan_tagged_frames(mode: AttachMode) {
    let kernel = fresh(mode);
    run(&kernel, &vlan(&v4(true, 1, ACK, GET)));
    run(&kernel, &vlan(&v4(false, 1, ACK, OK)));
    let c = counts(&kernel);
    assert_eq!((c.requests, c.responses, c.exchanges), (1, 1, 1));
}

fn qinq_tagged_frames(mode: AttachMode) {
    let kernel = fresh(mode);
    run(&kernel, &qinq(&v4(true, 1, ACK, GET)));
    run(&kernel, &qinq(&v4(false, 1, ACK, OK)));
    let c = counts(&kernel);
    assert_eq!((c.requests, c.responses, c.exchanges), (1, 1, 1));
}

fn pipelined_messages_in_one_frame_each_count(mode: AttachMode) {
    let kernel = fresh(mode);
    let five_gets: Vec<u8> = GET.repeat(5);
    let five_oks: Vec<u8> = OK.repeat(5);
    run(&kernel, &v4(true, 1, ACK, &five_gets));
    run(&kernel, &v4(false, 1, ACK, &five_oks));
    let c = counts(&kernel);
    assert_eq!(
        (c.requests, c.responses, c.exchanges, c.unmatched),
        (5, 5, 5, 0)
    );
    assert_eq!(kernel.totals().unwrap()[Counter::ScanIncomplete], 0);
}

/// 24 requests in one frame: the 8 past the in-flight FIFO are requests that overflowed, not a
/// scan left incomplete; their answers find no request waiting.
fn pipelined_past_the_fifo_in_one_frame_each_count(mode: AttachMode) {
    let kernel = fresh(mode);
    run(&kernel, &v4(true, 1, ACK, &GET.repeat(24)));
    run(&kernel, &v4(false, 1, ACK, &OK.repeat(24)));
    let t = kernel.totals().unwrap();
    assert_eq!(
        (
            t[Counter::Requests],
            t[Counter::PipelineOverflow],
            t[Counter::ExpiredRequests],
            t[Counter::Exchanges],
            t[Counter::UnmatchedResponses],
            t[Counter::ScanIncomplete]
        ),
        (24, 8, 8, 16, 8, 0)
    );
}

fn retransmits_count_once(mode: AttachMode) {
    let kernel = fresh(mode);
    let req = v4(true, 1, ACK, GET);
    run(&kernel, &req);
    run(&kernel, &req);
    let resp = v4(false, 1, ACK, OK);
    run(&kernel, &resp);
    run(&kernel, &resp);
    let c = counts(&kernel);
    assert_eq!(
        (c.requests, c.responses, c.exchanges, c.duplicates),
        (1, 1, 1, 2)
    );
}

fn late_copies_after_the_close_count_once(mode: AttachMode) {
    let kernel = fresh(mode);
    run(&kernel, &v4(true, 1, ACK, GET));
    // The response carries the FIN; then both packets again (a second interface, or sent
    // again): the ended connection's tombstone knows them.
    let last = v4(false, 500, FIN, OK);
    run(&kernel, &last);
    run(&kernel, &last);
    run(&kernel, &v4(true, 1, ACK, GET));
    // Requests, responses, exchanges, unmatched responses, duplicates.
    let tally = |c: Counts| {
        (
            c.requests,
            c.responses,
            c.exchanges,
            c.unmatched,
            c.duplicates,
        )
    };
    assert_eq!(tally(counts(&kernel)), (1, 1, 1, 0, 2));
    // A new connection on the tuple: its SYN forgets the tombstone, its request counts.
    run(
        &kernel,
        &ethernet(ETH_P_IP, &ipv4_tcp(CLIENT, SERVER, 0, SYN, b"")),
    );
    run(&kernel, &v4(true, 1, ACK, GET));
    run(&kernel, &v4(false, 500, ACK, OK));
    assert_eq!(tally(counts(&kernel)), (2, 2, 2, 0, 2));
}

fn starts_split_across_frames_are_carried(mode: AttachMode) {
    let mut kernel = fresh(mode);
    run(&kernel, &v4(true, 1, ACK, GET));
    run(&kernel, &v4(false, 500, ACK, OK));
    // On the kept-alive connection: `GE` then `T /…`, and a status line cut inside its
    // version; then a pipelined request whose start the frame cuts after `PROP`.
    let next = 1 + GET.len() as u32;
    run(&kernel, &v4(true, next, ACK, b"GE"));
    run(&kernel, &v4(true, next + 2, ACK, b"T /b HTTP/1.1\r\n\r\n"));
    let answered = 500 + OK.len() as u32;
    run(&kernel, &v4(false, answered, ACK, &OK[..7]));
    run(&kernel, &v4(false, answered + 7, ACK, &OK[7..]));
    let next = next + 2 + 17;
    run(
        &kernel,
        &v4(true, next, ACK, b"GET /c HTTP/1.1\r\n\r\nPROP"),
    );
    run(
        &kernel,
        &v4(true, next + 23, ACK, b"FIND /d HTTP/1.1\r\n\r\n"),
    );
    let c = counts(&kernel);
    assert_eq!(
        (c.requests, c.responses, c.exchanges, c.unmatched),
        (4, 2, 2, 0)
    );
    let events = exchanges(&mut kernel);
    let got: Vec<(Option<&str>, &str)> = events
        .iter()
        .map(|e| (e.method.as_ref().map(|m| m.as_str()), e.path.as_str()))
        .collect();
    assert_eq!(got, [(Some("GET"), "/index.html?x=1"), (Some("GET"), "/b")]);
    // A connection's first segment holding only `GE`: it is tracked on them, and carried.
    let mut kernel = fresh(mode);
    run(&kernel, &v4(true, 1, ACK, b"GE"));
    run(&kernel, &v4(true, 3, ACK, &GET[2..]));
    run(&kernel, &v4(false, 500, ACK, OK));
    let c = counts(&kernel);
    assert_eq!((c.requests, c.exchanges, c.unmatched), (1, 1, 0));
    let events = exchanges(&mut kernel);
    assert_eq!(events[0].path.as_str(), "/index.html?x=1");
}

fn rst_expires_the_outstanding_request(mode: AttachMode) {
    let kernel = fresh(mode);
    run(&kernel, &v4(true, 1, ACK, GET));
    run(&kernel, &v4(false, 1, RST, b""));
    let t = kernel.totals().unwrap();
    assert_eq!(
        (
            t[Counter::Requests],
            t[Counter::ExpiredRequests],
            t[Counter::Exchanges]
        ),
        (1, 1, 0)
    );
}

fn non_http_truncated_and_malformed_frames_count_nothing(mode: AttachMode) {
    let kernel = fresh(mode);
    let tls = v4(
        true,
        1,
        ACK,
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    );
    run(&kernel, &tls);
    // IPv4 header cut short (claims TCP, ends inside it).
    let full = v4(true, 100, ACK, GET);
    run(&kernel, &full[..14 + 30]);
    // TCP data offset beyond the packet.
    let mut bad_doff = v4(true, 200, ACK, b"");
    bad_doff[14 + 20 + 12] = 0xf0;
    run(&kernel, &bad_doff);
    // UDP carrying a request line.
    let mut udp = v4(true, 300, ACK, GET);
    udp[14 + 9] = 17;
    run(&kernel, &udp);
    // ARP.
    let arp = ethernet(0x0806, &[0u8; 28]);
    run(&kernel, &arp);
    // Near misses: a lowercase method, no space after the method, SMTP's greeting (a token
    // and a space, but no target).
    run(&kernel, &v4(true, 400, ACK, b"get / HTTP/1.1\r\n\r\n"));
    run(&kernel, &v4(true, 500, ACK, b"GET/ HTTP/1.1\r\n\r\n"));
    run(&kernel, &v4(true, 600, ACK, b"EHLO mail.example.org\r\n"));
    let t = kernel.totals().unwrap();
    assert_eq!(
        (
            t[Counter::Requests],
            t[Counter::Responses],
            t[Counter::Exchanges],
            t[Counter::UnmatchedResponses],
            t[Counter::ScanIncomplete]
        ),
        (0, 0, 0, 0, 0)
    );
}

fn response_without_request_is_unmatched(mode: AttachMode) {
    let kernel = fresh(mode);
    run(&kernel, &v4(false, 1, ACK, OK));
    let c = counts(&kernel);
    assert_eq!((c.responses, c.unmatched, c.exchanges), (1, 1, 0));
}

/// The bench's pairing control (`--bench-control-filter pairing`) must do the work it stands
/// for: one exchange and its event per request and answer, paired by port alone.
#[test]
#[ignore = "needs root"]
fn pairing_control_pairs_by_port_without_reading_the_payload() {
    use httptop::kernel::EntryProgram;
    let mut kernel = Kernel::load(&KernelConfig {
        entry_program: EntryProgram::PairingOnly,
        attach: AttachMode::Socket,
        ..KernelConfig::default()
    })
    .expect("load the kernel programs (root needed)");
    // Not HTTP at all: the control never looks at the payload.
    run(&kernel, &v4(true, 1, ACK, b"ping"));
    run(&kernel, &v4(true, 5, ACK, b"ping"));
    run(&kernel, &v4(false, 1, ACK, b"pong"));
    run(&kernel, &v4(false, 5, ACK, b"pong"));
    // A third answer has no request left to pair with; an empty ACK is not a message.
    run(&kernel, &v4(false, 9, ACK, b"pong"));
    run(&kernel, &v4(true, 9, ACK, b""));
    let t = kernel.totals().unwrap();
    assert_eq!((t[Counter::Requests], t[Counter::Exchanges]), (2, 2));
    let events = exchanges(&mut kernel);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].tuple.client.to_string(), "10.0.0.1:40000");
    assert_eq!(events[0].tuple.server.to_string(), "10.0.0.2:80");
}

fn heads_split_across_frames_go_on(mode: AttachMode) {
    // A head longer than the window, then a pipelined response; cut inside the long field,
    // inside each length header, and between the blank line's `\r` and `\n`.
    let first = format!(
        "HTTP/1.1 200 OK\r\nSet-Cookie: {}\r\nContent-Length: 5\r\n\r\nhello",
        "c".repeat(600)
    );
    let responses = [
        first.as_bytes(),
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nabc",
    ]
    .concat();
    let at = |pattern: &[u8], from: usize| {
        from + responses[from..]
            .windows(pattern.len())
            .position(|w| w == pattern)
            .expect("pattern in the responses")
    };
    let cuts = [
        40,
        300,
        at(b"Content-Length: 5", 0) + 9,
        at(b"\r\n\r\n", 0) + 3,
        at(b"Content-Length: 3", 0) + 16,
    ];
    let requests = b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n";
    for cut in cuts {
        let mut kernel = fresh(mode);
        run(&kernel, &v4(true, 1, ACK, requests));
        run(&kernel, &v4(false, 500, ACK, &responses[..cut]));
        run(
            &kernel,
            &v4(false, 500 + cut as u32, ACK, &responses[cut..]),
        );
        let t = kernel.totals().unwrap();
        assert_eq!(
            (
                t[Counter::Responses],
                t[Counter::Exchanges],
                t[Counter::ScanIncomplete]
            ),
            (2, 2, 0),
            "cut after {cut} bytes"
        );
        let ends: Vec<(u16, bool, Option<u64>)> = exchanges(&mut kernel)
            .iter()
            .map(|e| (e.status, e.ttlb_ns.is_some(), e.bodies.response))
            .collect();
        assert_eq!(
            ends,
            [(200, true, Some(5)), (404, true, Some(3))],
            "cut after {cut} bytes"
        );
    }
}

httptop_tests::in_each_attach_mode!(
    ipv4_exchange_counts_once_with_event_and_histogram,
    ipv6_exchange,
    ipv6_behind_extension_headers,
    extension_methods_pair_with_their_names,
    late_copies_after_the_close_count_once,
    starts_split_across_frames_are_carried,
    heads_split_across_frames_go_on,
    vlan_tagged_frames,
    qinq_tagged_frames,
    pipelined_messages_in_one_frame_each_count,
    pipelined_past_the_fifo_in_one_frame_each_count,
    retransmits_count_once,
    rst_expires_the_outstanding_request,
    non_http_truncated_and_malformed_frames_count_nothing,
    response_without_request_is_unmatched,
);
