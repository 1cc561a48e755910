//! The shared engine fed a sequence of fuzzer-made frames, the way `httptop --read` feeds it,
//! with the counters' identities checked after every frame; then the same frames, written as a
//! pcap file, through `httptop::offline::read_capture` itself, which must agree.
//!
//! Input: frames, each `op dt len_lo len_hi bytes[len]` (the last frame takes what is left).
//! - `op & 0x80` clear: a TCP segment the target builds. `op & 3` picks one of four
//!   connections (three IPv4, one IPv6), `op & 4` sends it server → client, `(op >> 3) & 3` picks
//!   its sequence number (0: the next one, 1: the previous segment's again, 2: the next one
//!   plus 1000, 3: the first 4 bytes of the payload), `op & 0x20` sets FIN, `op & 0x40` sets RST.
//! - `op & 0x80` set: the bytes are a raw network-layer packet, IPv6 when `op & 1`, else IPv4.
//! - `dt`: capture time advances by `dt² ms` before the frame (up to about 65 s, so idle
//!   connections are swept with the 30 s request timeout).
#![no_main]

use std::collections::HashMap;

use httptop_fuzz::REQUEST_TIMEOUT;
use libfuzzer_sys::fuzz_target;
use probe_common::{
    engine::{self, AllPorts, ConnTable, Sink, SlicePayload},
    http::{WINDOW, Window},
    packet::{self, ETH_P_IP, ETH_P_IPV6, HEAD_LEN, TCP_FIN, TCP_RST},
    wire::{
        Answer, COUNTER_SLOTS, ConnKey, ConnState, Counter, HISTOGRAM_BUCKETS, InFlight, Tombstone,
        UNKNOWN, histogram_bucket,
    },
};

/// The offline reader's connection table bound, the kernel's.
const MAX_CONNECTIONS: usize = probe_common::names::CONNS_ENTRIES as usize;
/// Capture time of the first frame (2023-11-14), so pcap seconds are realistic.
const START_NS: u64 = 1_700_000_000_000_000_000;

fuzz_target!(init: httptop_fuzz::init(), |data: &[u8]| {
    let frames = decode(data);
    // As `--read` runs it, then with room for one connection only: a full table must count
    // every request and response it turns away.
    let totals = run(&frames, MAX_CONNECTIONS);
    run(&frames, 1);
    let offline = read_as_capture(&frames);
    assert_eq!(offline, totals, "the offline reader disagrees with the engine run");
});

struct Frame {
    ethertype: u16,
    /// From the network header on.
    net: Vec<u8>,
    ts_ns: u64,
}

struct Tuple {
    client: ([u8; 16], u16),
    server: ([u8; 16], u16),
    v6: bool,
}

fn tuples() -> [Tuple; 4] {
    let v4 = |a: [u8; 4]| packet::v4_mapped(a);
    let v6 = |last: u8| {
        let mut a = [0u8; 16];
        a[0] = 0xfd;
        a[15] = last;
        a
    };
    [
        Tuple {
            client: (v4([10, 0, 0, 1]), 40000),
            server: (v4([10, 0, 0, 2]), 80),
            v6: false,
        },
        // Same hosts, another client port: another connection.
        Tuple {
            client: (v4([10, 0, 0, 1]), 40001),
            server: (v4([10, 0, 0, 2]), 80),
            v6: false,
        },
        // The first connection's tuple reversed: requests from the "server" side.
        Tuple {
            client: (v4([10, 0, 0, 2]), 80),
            server: (v4([10, 0, 0, 1]), 40000),
            v6: false,
        },
        Tuple {
            client: (v6(1), 50000),
            server: (v6(2), 8080),
            v6: true,
        },
    ]
}

fn decode(mut data: &[u8]) -> Vec<Frame> {
    let tuples = tuples();
    // Next sequence number per connection and direction, and the previous segment's.
    let mut next_seq = [[1000u32, 5000u32]; 4];
    let mut prev_seq = next_seq;
    let mut now = START_NS;
    let mut frames = Vec::new();
    while let [op, dt, rest @ ..] = data {
        let (len, rest) = match rest {
            [lo, hi, rest @ ..] => (usize::from(u16::from_le_bytes([*lo, *hi])), rest),
            _ => (rest.len(), &[][..]),
        };
        let (bytes, rest) = rest.split_at(len.min(rest.len()));
        data = rest;
        now += u64::from(*dt) * u64::from(*dt) * 1_000_000;
        if op & 0x80 != 0 {
            let ethertype = if op & 1 != 0 { ETH_P_IPV6 } else { ETH_P_IP };
            frames.push(Frame {
                ethertype,
                net: bytes.to_vec(),
                ts_ns: now,
            });
            continue;
        }
        let conn = usize::from(op & 3);
        let dir = usize::from(op & 4 != 0);
        let t = &tuples[conn];
        let (src, dst) = if dir == 0 {
            (t.client, t.server)
        } else {
            (t.server, t.client)
        };
        let seq = match (op >> 3) & 3 {
            0 => next_seq[conn][dir],
            1 => prev_seq[conn][dir],
            2 => next_seq[conn][dir].wrapping_add(1000),
            _ => bytes
                .first_chunk::<4>()
                .map_or(0, |b| u32::from_be_bytes(*b)),
        };
        prev_seq[conn][dir] = seq;
        next_seq[conn][dir] = seq.wrapping_add(bytes.len() as u32);
        let mut flags = 0x18; // PSH ACK
        if op & 0x20 != 0 {
            flags |= TCP_FIN;
        }
        if op & 0x40 != 0 {
            flags |= TCP_RST;
        }
        let (ethertype, net) = tcp_packet(t.v6, src, dst, seq, flags, bytes);
        frames.push(Frame {
            ethertype,
            net,
            ts_ns: now,
        });
    }
    frames
}

fn tcp_packet(
    v6: bool,
    (src, sport): ([u8; 16], u16),
    (dst, dport): ([u8; 16], u16),
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> (u16, Vec<u8>) {
    let mut tcp = Vec::with_capacity(20 + payload.len());
    tcp.extend_from_slice(&sport.to_be_bytes());
    tcp.extend_from_slice(&dport.to_be_bytes());
    tcp.extend_from_slice(&seq.to_be_bytes());
    tcp.extend_from_slice(&1u32.to_be_bytes()); // ack
    tcp.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    tcp.extend_from_slice(payload);
    let mut net = Vec::with_capacity(40 + tcp.len());
    if v6 {
        net.extend_from_slice(&[0x60, 0, 0, 0]);
        net.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        net.extend_from_slice(&[6, 64]);
        net.extend_from_slice(&src);
        net.extend_from_slice(&dst);
        net.extend_from_slice(&tcp);
        (ETH_P_IPV6, net)
    } else {
        // Payloads longer than an IPv4 total length can say: 0 there, the frame's length rules.
        let total = u16::try_from(20 + tcp.len()).unwrap_or(0);
        net.extend_from_slice(&[0x45, 0]);
        net.extend_from_slice(&total.to_be_bytes());
        net.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        net.extend_from_slice(&src[12..]);
        net.extend_from_slice(&dst[12..]);
        net.extend_from_slice(&tcp);
        (ETH_P_IP, net)
    }
}

/// The offline reader's table, holding stale slot bytes so that a slot read before it is
/// written shows up in the latencies compared with the reader's.
struct Table {
    conns: HashMap<ConnKey, ConnState>,
    tombstones: HashMap<ConnKey, Tombstone>,
    capacity: usize,
}

impl ConnTable for Table {
    fn get(&mut self, key: &ConnKey) -> Option<&mut ConnState> {
        self.conns.get_mut(key)
    }

    fn get_or_create(&mut self, key: &ConnKey, now_ns: u64) -> Option<&mut ConnState> {
        if !self.conns.contains_key(key) {
            if self.conns.len() >= self.capacity {
                return None;
            }
            // SAFETY: ConnState is plain old data; all-zero is a valid value.
            let mut state: ConnState = unsafe { std::mem::zeroed() };
            for slot in &mut state.slots {
                slot.request_ns = u64::MAX;
                slot.method = 0xee;
            }
            state.last_seen_ns = now_ns;
            self.conns.insert(*key, state);
        }
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

struct Counts {
    counters: [u64; COUNTER_SLOTS],
    histogram: [u64; HISTOGRAM_BUCKETS],
    /// Exchanges sent, and those of responses still being received when the sweep dropped
    /// their connections.
    sent: u64,
    swept_unsent: u64,
}

impl Sink for Counts {
    fn count(&mut self, counter: Counter, n: u64) {
        self.counters[counter as usize] += n;
    }

    fn latency(&mut self, latency_ns: u64) {
        self.histogram[histogram_bucket(latency_ns) as usize] += 1;
    }

    fn exchange(
        &mut self,
        _key: &ConnKey,
        _conn_start_ns: u64,
        request: &InFlight,
        answer: &Answer,
    ) {
        assert!(
            answer.status >= 200,
            "an exchange ends with a final response"
        );
        assert_ne!(request.method, 0xee, "a slot read before it was written");
        if answer.ttlb_ns != UNKNOWN {
            assert!(
                answer.ttlb_ns >= answer.latency_ns,
                "the last byte before the first"
            );
        } else {
            assert_eq!(answer.body_len, UNKNOWN, "a size without an end");
        }
        self.sent += 1;
    }

    fn connection_ended(&mut self, _key: &ConnKey, _conn_start_ns: u64) {}
}

/// The summary's counters that the engine run decides, by their JSON keys.
#[derive(Debug, PartialEq, Eq)]
struct Totals {
    counters: Vec<(&'static str, u64)>,
    histogram: Vec<u64>,
}

/// Runs the frames as the offline reader does (one frame: parse, engine, then the once-a-second
/// sweep), checking the identities after each.
fn run(frames: &[Frame], capacity: usize) -> Totals {
    let mut table = Table {
        conns: HashMap::new(),
        tombstones: HashMap::new(),
        capacity,
    };
    let mut sink = Counts {
        counters: [0; COUNTER_SLOTS],
        histogram: [0; HISTOGRAM_BUCKETS],
        sent: 0,
        swept_unsent: 0,
    };
    let timeout_ns = REQUEST_TIMEOUT.as_nanos() as u64;
    let mut swept_expired = 0u64;
    let mut last_sweep_ns = 0u64;
    let mut window = [0u8; WINDOW];
    let mut head = [0u8; HEAD_LEN];
    for frame in frames {
        let net = &frame.net[..];
        let now_ns = frame.ts_ns;
        let n = net.len().min(HEAD_LEN);
        head[..n].copy_from_slice(&net[..n]);
        if let Some(mut seg) =
            packet::parse(&Window { buf: &head, len: n }, frame.ethertype, net.len())
        {
            let end = (seg.payload_off + seg.payload_len).min(net.len());
            let payload = net.get(seg.payload_off..end).unwrap_or(&[]);
            seg.payload_len = payload.len();
            engine::process_segment(
                &seg,
                &mut SlicePayload(payload),
                &mut window,
                &mut table,
                &mut sink,
                &AllPorts,
                now_ns,
            );
        }
        if now_ns.saturating_sub(last_sweep_ns) >= 1_000_000_000 {
            last_sweep_ns = now_ns;
            // The sweeper's rule, as the offline reader applies it.
            let unsent = &mut sink.swept_unsent;
            let graves = &mut table.tombstones;
            swept_expired += httptop::offline::sweep_table(
                &mut table.conns,
                now_ns,
                timeout_ns,
                |_, state| *unsent += u64::from(engine::unsent_answer(state).is_some()),
                |key, tombstone| {
                    graves.insert(*key, *tombstone);
                },
            );
        }
        check(&table, &sink, swept_expired);
    }
    let in_flight: u64 = table
        .conns
        .values()
        .map(|s| u64::from(s.outstanding()))
        .sum();
    let mut counters: Vec<(&'static str, u64)> = Counter::ALL
        .into_iter()
        .map(|c| {
            let n = sink.counters[c as usize];
            let n = if c == Counter::ExpiredRequests {
                n + swept_expired
            } else {
                n
            };
            (c.key(), n)
        })
        .collect();
    counters.push(("in_flight", in_flight));
    Totals {
        counters,
        histogram: sink.histogram.to_vec(),
    }
}

/// The identities of docs/terms.md, which hold after every frame, not only at the end.
fn check(table: &Table, sink: &Counts, swept_expired: u64) {
    let c = |k: Counter| sink.counters[k as usize];
    let mut in_flight = 0u64;
    let mut unsent = sink.swept_unsent;
    for state in table.conns.values() {
        unsent += u64::from(engine::unsent_answer(state).is_some());
        let outstanding = state.outstanding();
        assert!(
            outstanding as usize <= probe_common::wire::MAX_IN_FLIGHT,
            "outstanding {outstanding}: never negative, never past the pipeline bound"
        );
        in_flight += u64::from(outstanding);
    }
    let (requests, responses, exchanges) = (
        c(Counter::Requests),
        c(Counter::Responses),
        c(Counter::Exchanges),
    );
    let expired = c(Counter::ExpiredRequests) + swept_expired;
    assert!(exchanges <= requests && exchanges <= responses);
    assert_eq!(requests, exchanges + expired + in_flight, "requests");
    assert_eq!(
        responses,
        exchanges + c(Counter::UnmatchedResponses) + c(Counter::InterimResponses),
        "responses"
    );
    assert!(c(Counter::ConnTableFull) + c(Counter::PipelineOverflow) <= expired);
    assert_eq!(c(Counter::EventsLost), 0);
    assert_eq!(sink.histogram.iter().sum::<u64>(), exchanges);
    assert_eq!(
        sink.sent + unsent,
        exchanges,
        "every exchange sent once, or still open"
    );
}

/// The frames as a nanosecond pcap (Ethernet), read by `offline::read_capture`; its summary's
/// counters by their JSON keys.
fn read_as_capture(frames: &[Frame]) -> Totals {
    let mut file = Vec::with_capacity(24 + frames.iter().map(|f| 30 + f.net.len()).sum::<usize>());
    file.extend_from_slice(&0xa1b2_3c4d_u32.to_le_bytes()); // nanosecond timestamps
    file.extend_from_slice(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    file.extend_from_slice(&u32::MAX.to_le_bytes()); // snap length
    file.extend_from_slice(&1u32.to_le_bytes()); // Ethernet
    for f in frames {
        let len = (14 + f.net.len()) as u32;
        file.extend_from_slice(&((f.ts_ns / 1_000_000_000) as u32).to_le_bytes());
        file.extend_from_slice(&((f.ts_ns % 1_000_000_000) as u32).to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&len.to_le_bytes());
        file.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
        file.extend_from_slice(&f.ethertype.to_be_bytes());
        file.extend_from_slice(&f.net);
    }
    let (totals, events) =
        httptop_fuzz::read_capture(&file, |model, events| (model.kernel_totals(), events))
            .expect("a well-formed capture");
    assert_eq!(
        events,
        totals[Counter::Exchanges],
        "an exchange event per exchange"
    );
    let mut counters: Vec<(&'static str, u64)> = Counter::ALL
        .into_iter()
        .map(|c| (c.key(), totals[c]))
        .collect();
    counters.push(("in_flight", totals.in_flight));
    Totals {
        counters,
        histogram: totals.histogram_log2.to_vec(),
    }
}
