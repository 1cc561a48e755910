//! The rules that turn TCP segments into requests, responses and exchanges.
//!
//! Generic over three things that differ between the kernel program and the offline reader:
//! where payload bytes come from ([`Payload`]), where per-connection state lives ([`ConnTable`])
//! and where counts and finished exchanges go ([`Sink`]). Everything else is here, once.

use crate::{
    http::{self, Start, WINDOW, Window},
    packet::{Segment, TCP_FIN, TCP_RST},
    wire::{
        ConnKey, ConnState, Counter, FLAG_CLIENT_SEQ, FLAG_SERVER_SEQ, InFlight, MAX_IN_FLIGHT,
        Method, PATH_LEN,
    },
};

/// Messages delimited within one segment before giving up (pipelining depth seen in practice
/// is 16 or less; more is counted as `ScanIncomplete`).
pub const MAX_MESSAGES_PER_SEGMENT: usize = 16;

/// Source of a segment's payload bytes.
pub trait Payload {
    /// Copies payload bytes `[off, off + WINDOW)` (fewer at the end) into `dst`; returns how
    /// many were copied, 0 when none could be.
    fn load(&mut self, off: usize, dst: &mut [u8; WINDOW]) -> usize;
}

/// Per-connection state storage, keyed by the client → server tuple.
pub trait ConnTable {
    fn get(&mut self, key: &ConnKey) -> Option<&mut ConnState>;
    /// Inserts a fresh state (no requests, no sequence numbers); `None` when the table is full.
    fn create(&mut self, key: &ConnKey, now_ns: u64) -> Option<&mut ConnState>;
    fn remove(&mut self, key: &ConnKey);
}

/// Where results go.
pub trait Sink {
    fn count(&mut self, counter: Counter, n: u64);
    /// A finished exchange: `request` is the in-flight entry it ended.
    fn exchange(&mut self, key: &ConnKey, request: &InFlight, status: u16, latency_ns: u64);
}

#[inline(always)]
const fn seq_before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Which server ports to watch.
pub trait PortFilter {
    fn watches(&self, server_port: u16) -> bool;
}

/// Watches every port.
pub struct AllPorts;
impl PortFilter for AllPorts {
    #[inline(always)]
    fn watches(&self, _: u16) -> bool {
        true
    }
}

/// Processes one TCP segment observed at `now_ns`.
///
/// `window` is scratch space for payload bytes; on entry its first `preloaded` bytes may
/// already hold the payload's start (the kernel gets them with the headers), else pass 0.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn process_segment<P: Payload, T: ConnTable, S: Sink, F: PortFilter>(
    seg: &Segment,
    payload: &mut P,
    window: &mut [u8; WINDOW],
    table: &mut T,
    sink: &mut S,
    ports: &F,
    now_ns: u64,
) {
    if seg.payload_len == 0 {
        if seg.flags & (TCP_FIN | TCP_RST) != 0 {
            on_close(seg, table, sink);
        }
        return;
    }
    let n = payload.load(0, window);
    let first = classify_loaded(window, n);
    let Some(first) = first else {
        if seg.flags & (TCP_FIN | TCP_RST) != 0 {
            on_close(seg, table, sink);
        }
        return;
    };
    let from_client = matches!(first, Start::Request { .. });
    let key = if from_client {
        ConnKey {
            client_addr: seg.src_addr,
            server_addr: seg.dst_addr,
            client_port: seg.src_port,
            server_port: seg.dst_port,
        }
    } else {
        ConnKey {
            client_addr: seg.dst_addr,
            server_addr: seg.src_addr,
            client_port: seg.dst_port,
            server_port: seg.src_port,
        }
    };
    if !ports.watches(key.server_port) {
        return;
    }
    let state = match table.get(&key) {
        Some(s) => s,
        None => match table.create(&key, now_ns) {
            Some(s) => s,
            None => {
                // Nowhere to track it: count it, never drop it silently.
                if from_client {
                    sink.count(Counter::Requests, 1);
                    sink.count(Counter::ConnTableFull, 1);
                    sink.count(Counter::ExpiredRequests, 1);
                } else {
                    sink.count(Counter::Responses, 1);
                    sink.count(Counter::UnmatchedResponses, 1);
                }
                return;
            }
        },
    };
    // Each sequence range is looked at once: retransmits and second copies are skipped.
    let (flag, next) = if from_client {
        (FLAG_CLIENT_SEQ, &mut state.client_next_seq)
    } else {
        (FLAG_SERVER_SEQ, &mut state.server_next_seq)
    };
    if state.flags & flag != 0 && seq_before(seg.seq, *next) {
        sink.count(Counter::DuplicateSegments, 1);
        return;
    }
    *next = seg.seq.wrapping_add(seg.payload_len as u32);
    state.flags |= flag;
    state.last_seen_ns = now_ns;

    let mut run = MessageRun {
        seg,
        payload,
        window,
        sink,
        now_ns,
    };
    scan_messages(&mut run, first, n, &key, state);

    if seg.flags & (TCP_FIN | TCP_RST) != 0 {
        on_close(seg, table, sink);
    }
}

#[inline(always)]
fn classify_loaded(window: &[u8; WINDOW], n: usize) -> Option<Start> {
    if n == 0 {
        return None;
    }
    http::classify(&Window { buf: window, len: n }, 0)
}

/// What walking one segment's messages needs, bundled: BPF functions take at most 5 arguments.
struct MessageRun<'a, P, S> {
    seg: &'a Segment,
    payload: &'a mut P,
    window: &'a mut [u8; WINDOW],
    sink: &'a mut S,
    now_ns: u64,
}

/// Walks the messages of one segment whose first message is `first` (the window holds `n`
/// bytes from payload offset 0).
// Not inlined: its own BPF stack frame, so the filter stays under the 512-byte stack limit.
#[inline(never)]
fn scan_messages<P: Payload, S: Sink>(
    run: &mut MessageRun<'_, P, S>,
    first: Start,
    mut n: usize,
    key: &ConnKey,
    state: &mut ConnState,
) {
    let mut start = first;
    let mut off: usize = 0;
    let mut m = 0;
    while m < MAX_MESSAGES_PER_SEGMENT {
        let w = Window {
            buf: &*run.window,
            len: n,
        };
        let request_method = match start {
            Start::Request { method, target_off } => {
                on_request(state, run.sink, &w, method, target_off, run.now_ns);
                None
            }
            Start::Response { status } => on_response(state, run.sink, key, status, run.now_ns),
        };
        let head = http::scan_head(&w, 0);
        let Some(head_len) = head.head_len else {
            // Head longer than the window with more bytes after it: later messages are lost.
            if off + n < run.seg.payload_len {
                run.sink.count(Counter::ScanIncomplete, 1);
            }
            return;
        };
        let Some(body) = http::body_len(start, head.framing, request_method) else {
            // Chunked or read-until-close: as far as the head tells, the body runs to the
            // segment's end.
            return;
        };
        let next = (off + head_len) as u64 + body;
        if next >= run.seg.payload_len as u64 {
            return;
        }
        off = next as usize;
        n = run.payload.load(off, run.window);
        let Some(s) = classify_loaded(run.window, n) else {
            run.sink.count(Counter::ScanIncomplete, 1);
            return;
        };
        // A segment flows one way: a status line among requests is not a message start.
        if matches!(s, Start::Request { .. }) != matches!(start, Start::Request { .. }) {
            run.sink.count(Counter::ScanIncomplete, 1);
            return;
        }
        start = s;
        m += 1;
    }
    run.sink.count(Counter::ScanIncomplete, 1);
}

#[inline(always)]
fn on_request<S: Sink, const N: usize>(
    state: &mut ConnState,
    sink: &mut S,
    w: &Window<N>,
    method: Method,
    target_off: usize,
    now_ns: u64,
) {
    sink.count(Counter::Requests, 1);
    if state.outstanding() as usize >= MAX_IN_FLIGHT {
        sink.count(Counter::PipelineOverflow, 1);
        sink.count(Counter::ExpiredRequests, 1);
        return;
    }
    let slot = &mut state.slots[state.requests as usize % MAX_IN_FLIGHT];
    slot.request_ns = now_ns;
    slot.method = method as u8;
    let mut k = 0;
    while k < PATH_LEN {
        let b = w.at(target_off + k);
        if b == b' ' || b == b'\r' || b == b'\n' || b == 0 {
            break;
        }
        slot.path[k] = b;
        k += 1;
    }
    slot.path_len = k as u8;
    state.requests = state.requests.wrapping_add(1);
}

/// Pairs a response with the oldest outstanding request; returns that request's method.
#[inline(always)]
fn on_response<S: Sink>(
    state: &mut ConnState,
    sink: &mut S,
    key: &ConnKey,
    status: u16,
    now_ns: u64,
) -> Option<Method> {
    sink.count(Counter::Responses, 1);
    if status < 200 {
        // Interim: the request stays outstanding.
        sink.count(Counter::InterimResponses, 1);
        return None;
    }
    if state.outstanding() == 0 {
        sink.count(Counter::UnmatchedResponses, 1);
        return None;
    }
    let slot = &state.slots[state.responses as usize % MAX_IN_FLIGHT];
    state.responses = state.responses.wrapping_add(1);
    sink.count(Counter::Exchanges, 1);
    sink.exchange(
        key,
        slot,
        status,
        now_ns.saturating_sub(slot.request_ns),
    );
    Method::from_u8(slot.method)
}

/// FIN or RST: a connection ending. Requests that can no longer be answered expire now.
// Not inlined: a separate BPF function keeps the filter's stack frame under 512 bytes.
#[inline(never)]
fn on_close<T: ConnTable, S: Sink>(seg: &Segment, table: &mut T, sink: &mut S) {
    let rst = seg.flags & TCP_RST != 0;
    let sent_by_client = ConnKey {
        client_addr: seg.src_addr,
        server_addr: seg.dst_addr,
        client_port: seg.src_port,
        server_port: seg.dst_port,
    };
    if let Some(state) = table.get(&sent_by_client) {
        let outstanding = state.outstanding();
        // A client's FIN with requests outstanding is a half-close: answers may still come.
        if !rst && outstanding != 0 {
            return;
        }
        if outstanding != 0 {
            sink.count(Counter::ExpiredRequests, outstanding as u64);
        }
        table.remove(&sent_by_client);
        return;
    }
    let sent_by_server = ConnKey {
        client_addr: seg.dst_addr,
        server_addr: seg.src_addr,
        client_port: seg.dst_port,
        server_port: seg.src_port,
    };
    if let Some(state) = table.get(&sent_by_server) {
        let outstanding = state.outstanding();
        if outstanding != 0 {
            sink.count(Counter::ExpiredRequests, outstanding as u64);
        }
        table.remove(&sent_by_server);
    }
}

/// The sweeper's rule for connections that ended without telling: a connection idle for
/// `timeout_ns` is dropped and its outstanding requests expire. Returns how many expired, or
/// `None` when the connection is still live.
pub fn expire_idle(state: &ConnState, now_ns: u64, timeout_ns: u64) -> Option<u32> {
    if now_ns.saturating_sub(state.last_seen_ns) >= timeout_ns {
        Some(state.outstanding())
    } else {
        None
    }
}

/// Payload bytes held in memory (the offline reader and tests).
pub struct SlicePayload<'a>(pub &'a [u8]);

impl Payload for SlicePayload<'_> {
    fn load(&mut self, off: usize, dst: &mut [u8; WINDOW]) -> usize {
        let Some(rest) = self.0.get(off..) else {
            return 0;
        };
        let n = rest.len().min(WINDOW);
        dst[..n].copy_from_slice(&rest[..n]);
        n
    }
}
