//! The rules that turn TCP segments into requests, responses and exchanges.
//!
//! Generic over three things that differ between the kernel program and the offline reader:
//! where payload bytes come from ([`Payload`]), where per-connection state lives ([`ConnTable`])
//! and where counts and finished exchanges go ([`Sink`]). Everything else is here, once.

use crate::{
    http::{self, SWITCHING_PROTOCOLS, Start, WINDOW, Window},
    names::CONNS_ENTRIES,
    packet::{Segment, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN},
    wire::{
        ANSWER_NONE, ANSWER_OPEN, ANSWER_UNTIL_CLOSE, Answer, BODY_TRAILERS, CHUNK_AFTER_LAST,
        ChunkScan, ConnKey, ConnState, Counter, FLAG_CLIENT_CARRIED, FLAG_CLIENT_CHUNKED,
        FLAG_CLIENT_FOLLOWED, FLAG_CLIENT_IN_HEAD, FLAG_CLIENT_SEQ, FLAG_REQUEST_SIZED,
        FLAG_SERVER_CHUNKED, FLAG_SERVER_FOLLOWED, FLAG_SERVER_IN_HEAD, FLAG_SERVER_SEQ,
        FLAG_UPGRADED, FRAMING_NONE, HeadRest, InFlight, LINE_AT_START, LINE_CARRIED,
        MAX_IN_FLIGHT, Method, PATH_LEN, START_CARRY, Tombstone, UNKNOWN,
    },
};

/// How far a followed stream may run past the place where its next message starts, unseen,
/// before that place is given up for lost and the stream is followed from a message found at
/// a later segment's start: more than a TCP receive window holds (Linux's largest by default
/// is 6 MiB), so a segment late because it was reordered or sent again is still read.
pub const LATE_BYTES: u32 = 8 << 20;

/// Messages delimited within one segment before giving up (more is counted as
/// `ScanIncomplete`). Twice the in-flight FIFO, so requests pipelined past the FIFO in one write
/// still count, as `PipelineOverflow`; in the kernel each message is one tail call, and the
/// kernel allows 33 in a chain (the entry program's one included).
pub const MAX_MESSAGES_PER_SEGMENT: usize = 2 * MAX_IN_FLIGHT;

/// Source of a segment's payload bytes.
pub trait Payload {
    /// Copies payload bytes `[off, off + WINDOW)` (fewer at the end) into `dst`; returns how
    /// many were copied, 0 when none could be. The kernel overrides this with a load the
    /// verifier bounds more simply.
    #[inline(always)]
    fn load(&mut self, off: usize, dst: &mut [u8; WINDOW]) -> usize {
        self.load_at(off, dst, 0)
    }

    /// Copies payload bytes from `off` into `dst` from `at` on (`at` below [`START_CARRY`]),
    /// as many as fit; returns how many were copied.
    fn load_at(&mut self, off: usize, dst: &mut [u8; WINDOW], at: usize) -> usize;

    /// Copies payload bytes `[off, off + START_CARRY)` (fewer at the end) into `dst`; returns
    /// how many were copied.
    fn load_carry(&mut self, off: usize, dst: &mut [u8; START_CARRY]) -> usize {
        let mut window = [0; WINDOW];
        let n = self.load(off, &mut window).min(START_CARRY);
        dst[..n].copy_from_slice(&window[..n]);
        n
    }

    /// Finds a new head's end and framing in a loaded window, as far as
    /// [`http::HeadScan::quick_step`] reads it. The kernel overrides this (and
    /// [`Payload::scan_head_rest`]) to run the same steps under `bpf_loop`.
    #[inline(always)]
    fn scan_head(&mut self, w: &Window) -> http::Head {
        http::scan_head_quick(w)
    }

    /// Finds the end and framing of a head going on where `rest` says, in a loaded window.
    #[inline(always)]
    fn scan_head_rest(&mut self, w: &Window, rest: &HeadRest) -> http::Head {
        http::scan_head_from(w, Some(rest))
    }
}

/// Per-connection state storage, keyed by the client → server tuple.
pub trait ConnTable {
    fn get(&mut self, key: &ConnKey) -> Option<&mut ConnState>;
    /// The state of `key`, inserted fresh (no requests, no sequence numbers, last seen
    /// `now_ns`) when missing; `None` when the table is full.
    fn get_or_create(&mut self, key: &ConnKey, now_ns: u64) -> Option<&mut ConnState>;
    fn remove(&mut self, key: &ConnKey);
    /// The tombstone `key` left when it ended, while the table keeps it.
    fn tombstone(&mut self, key: &ConnKey) -> Option<Tombstone>;
    /// Keeps the tombstone of `key`, which ended; the table may forget the oldest ones.
    fn bury(&mut self, key: &ConnKey, tombstone: &Tombstone);
    /// Forgets the tombstone of `key`: a new connection on the same tuple.
    fn forget(&mut self, key: &ConnKey);
}

/// Where results go.
pub trait Sink {
    fn count(&mut self, counter: Counter, n: u64);
    /// A final response's first byte paired it with its request, `latency_ns` after it: for
    /// the exact latency histogram, at once (its exchange follows at the response's end).
    fn latency(&mut self, latency_ns: u64);
    /// A finished exchange: `request` is the in-flight entry `answer` ended, on the connection
    /// `key` that started at `conn_start_ns` ([`ConnState::start_ns`]).
    fn exchange(&mut self, key: &ConnKey, conn_start_ns: u64, request: &InFlight, answer: &Answer);
    /// The connection `key` that started at `conn_start_ns` ended (FIN or RST): its state is
    /// about to be removed.
    fn connection_ended(&mut self, key: &ConnKey, conn_start_ns: u64);
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

/// A segment that carries HTTP messages and passed dedupe: what the per-message steps need.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub key: ConnKey,
    /// Payload offset of the first message.
    pub off: usize,
}

/// What to do after one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Another message starts at this payload offset.
    Next(usize),
    /// The current message's head goes on at this payload offset: [`head_step`].
    Head(usize),
    Done,
}

/// Processes one TCP segment observed at `now_ns`: [`begin_segment`], then [`message_step`]
/// for each message, then [`end_segment`]. The kernel runs the same three parts, one BPF
/// program per message (tail calls), so the verifier checks each part once.
pub fn process_segment<P: Payload, T: ConnTable, S: Sink, F: PortFilter>(
    seg: &Segment,
    payload: &mut P,
    window: &mut [u8; WINDOW],
    table: &mut T,
    sink: &mut S,
    ports: &F,
    now_ns: u64,
) {
    if let Some((plan, state)) = begin_segment(seg, payload, window, table, sink, ports, now_ns) {
        let mut off = plan.off;
        let mut messages = 0;
        let mut run = MessageRun {
            seg,
            payload,
            window,
            sink: &mut *sink,
            now_ns,
        };
        let mut step = message_step(&mut run, &plan.key, state, off);
        while let Step::Next(next) | Step::Head(next) = step {
            messages += 1;
            if messages >= MAX_MESSAGES_PER_SEGMENT {
                run.sink.count(Counter::ScanIncomplete, 1);
                break;
            }
            off = next;
            step = if let Step::Head(_) = step {
                head_step(&mut run, &plan.key, state, off)
            } else {
                message_step(&mut run, &plan.key, state, off)
            };
        }
    }
    end_segment(seg, table, sink, now_ns);
}

/// Finds the connection a segment belongs to (created when the segment starts with a
/// message), applies the port filter, skips sequence ranges already seen and says where in the
/// segment the first message starts: at its start, or where a followed stream's current
/// message ends. `None`: no message to walk; else the plan and the connection's state, for
/// [`message_step`].
#[inline(always)]
pub fn begin_segment<'t, P: Payload, T: ConnTable, S: Sink, F: PortFilter>(
    seg: &Segment,
    payload: &mut P,
    window: &mut [u8; WINDOW],
    table: &'t mut T,
    sink: &mut S,
    ports: &F,
    now_ns: u64,
) -> Option<(Plan, &'t mut ConnState)> {
    if seg.payload_len == 0 {
        return None;
    }
    let n = payload.load(0, window);
    let first = classify_loaded(window, n);
    // A connection already tracked, either way round, is the segment's whatever its first
    // bytes look like (a body may start like a message).
    let guess = !matches!(first, Some(Start::Response { .. }));
    let from_client = if table.get(&conn_key(seg, guess)).is_some() {
        guess
    } else if table.get(&conn_key(seg, !guess)).is_some() {
        !guess
    } else {
        // A new connection starts with a message, whose kind says which side is the client, or
        // with the start of one too short to tell (its first segment holds `GE`), carried.
        let opener = if first.is_some() {
            Some(guess)
        } else if n == seg.payload_len {
            http::start_prefix(&Window {
                buf: window,
                len: n,
            })
        } else {
            None
        };
        let client = opener?;
        if late_copy(seg, client, table) {
            sink.count(Counter::DuplicateSegments, 1);
            return None;
        }
        client
    };
    let key = conn_key(seg, from_client);
    if !ports.watches(key.server_port) {
        return None;
    }
    let Some(state) = table.get_or_create(&key, now_ns) else {
        // Nowhere to track it: count it, never drop it silently.
        if from_client {
            sink.count(Counter::Requests, 1);
            sink.count(Counter::ConnTableFull, 1);
            sink.count(Counter::ExpiredRequests, 1);
        } else {
            sink.count(Counter::Responses, 1);
            sink.count(Counter::UnmatchedResponses, 1);
        }
        return None;
    };
    if state.flags & FLAG_UPGRADED != 0 {
        // Another protocol's bytes that happen to look like a message start.
        return None;
    }
    let side = side(from_client);
    let followed = state.flags & followed_flag(from_client) != 0;
    let msg_seq = state.msg_seq[side];
    let ahead = msg_seq.wrapping_sub(seg.seq) as i32;
    // The place where a followed stream's next message starts lies in this segment.
    let holds_next = followed && ahead >= 0 && (ahead as usize) < seg.payload_len;
    // Each sequence range is looked at once: retransmits and second copies are skipped. A
    // segment that arrives after later ones (reordered on its way to the capture point) is
    // looked at when it holds the next message's start, which nothing looked at yet.
    let flag = FLAG_CLIENT_SEQ << side;
    let next = &mut state.next_seq[side];
    let end = seg.seq.wrapping_add(seg.payload_len as u32);
    let seen = state.flags & flag != 0;
    if seen && seq_before(seg.seq, *next) && !holds_next {
        sink.count(Counter::DuplicateSegments, 1);
        return None;
    }
    if !seen || seq_before(*next, end) {
        *next = end;
        state.newest_seq[side] = seg.seq;
    }
    if state.flags == 0 {
        // Fresh state: no direction seen yet. This is the connection's start.
        state.start_ns = now_ns;
    }
    state.flags |= flag;
    state.last_seen_ns = now_ns;
    // The followed response's body ends in this segment: its exchange is complete. Had it
    // ended at the segment's start, the segment before would have said so; it went unseen.
    if !from_client
        && followed
        && state.flags & (FLAG_SERVER_CHUNKED | FLAG_SERVER_IN_HEAD) == 0
        && ahead >= 0
        && ahead as usize <= seg.payload_len
    {
        let last_byte_ns = if ahead == 0 { UNKNOWN } else { now_ns };
        send_answer(state, sink, &key, last_byte_ns);
    }
    let off = if holds_next {
        ahead as usize
    } else if followed && ahead >= 0 {
        // All of it is the current message's body.
        return None;
    } else {
        // Not followed, or the place where the next message starts went by unseen (lost, or
        // late): look at this segment's start, as on a new stream. A segment too short to
        // tell may hold the start of the side's first message, carried to the next one.
        let short = seg.payload_len < START_CARRY && http::can_start_message(window[0]);
        if first.is_none() && !short {
            return None;
        }
        0
    };
    Some((Plan { key, off }, state))
}

/// Whether `seg` flows from the client of the connection `key` names (a segment flows one
/// way).
#[inline(always)]
fn sent_by_client(seg: &Segment, key: &ConnKey) -> bool {
    seg.src_port == key.client_port && seg.src_addr == key.client_addr
}

/// The index of one side in `ConnState::msg_seq`.
#[inline(always)]
const fn side(from_client: bool) -> usize {
    !from_client as usize
}

/// The flag of `ConnState` saying one side's stream is followed.
#[inline(always)]
const fn followed_flag(from_client: bool) -> u32 {
    // Shifted, not chosen: no branch for the kernel's verifier to walk both ways.
    FLAG_CLIENT_FOLLOWED << (!from_client as u32)
}
/// The flag of `ConnState` saying one side's next message began in the segment before.
#[inline(always)]
const fn carried_flag(from_client: bool) -> u32 {
    FLAG_CLIENT_CARRIED << (!from_client as u32)
}

/// The flag of `ConnState` saying one side's followed place is a chunk-size line.
#[inline(always)]
const fn chunked_flag(from_client: bool) -> u32 {
    FLAG_CLIENT_CHUNKED << (!from_client as u32)
}
/// The flag of `ConnState` saying one side's followed place is inside a head.
#[inline(always)]
const fn in_head_flag(from_client: bool) -> u32 {
    FLAG_CLIENT_IN_HEAD << (!from_client as u32)
}

/// The flags of `ConnState` that say where one side's stream is followed from.
#[inline(always)]
const fn place_flags(from_client: bool) -> u32 {
    followed_flag(from_client) | chunked_flag(from_client) | in_head_flag(from_client)
}
const _: () = assert!(
    FLAG_CLIENT_FOLLOWED << 1 == FLAG_SERVER_FOLLOWED
        && FLAG_CLIENT_SEQ << 1 == FLAG_SERVER_SEQ
        && FLAG_CLIENT_CHUNKED << 1 == crate::wire::FLAG_SERVER_CHUNKED
        && FLAG_CLIENT_CARRIED << 1 == crate::wire::FLAG_SERVER_CARRIED
        && FLAG_CLIENT_IN_HEAD << 1 == FLAG_SERVER_IN_HEAD
);

/// What a followed stream's place (`ConnState::msg_seq`) is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Where the next message starts.
    Message,
    /// Where the current message's next chunk-size line starts.
    ChunkLine,
    /// Where the current message's head goes on.
    InHead,
}

/// Whether a segment that would start a connection is a late copy of one that ended: its
/// sequence range was looked at before the end (within [`LATE_BYTES`] of where it stopped).
/// Newer bytes start a new connection on the tuple, and its tombstone goes.
#[inline(always)]
fn late_copy<T: ConnTable>(seg: &Segment, from_client: bool, table: &mut T) -> bool {
    let key = conn_key(seg, from_client);
    let Some(tombstone) = table.tombstone(&key) else {
        return false;
    };
    let side = side(from_client);
    let next = tombstone.next_seq[side];
    if tombstone.flags & (FLAG_CLIENT_SEQ << side) != 0
        && seq_before(seg.seq, next)
        && next.wrapping_sub(seg.seq) <= LATE_BYTES
    {
        return true;
    }
    table.forget(&key);
    false
}

/// Whether a segment is a client's first (SYN without ACK): a new connection on its tuple.
#[inline(always)]
pub const fn opens(seg: &Segment) -> bool {
    seg.flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

/// After the messages: a FIN or RST ends the connection; a SYN starts a new one, and the
/// tombstone of the tuple's last one goes.
#[inline(always)]
pub fn end_segment<T: ConnTable, S: Sink>(seg: &Segment, table: &mut T, sink: &mut S, now_ns: u64) {
    if seg.flags & (TCP_FIN | TCP_RST) != 0 {
        on_close(seg, table, sink, now_ns);
    } else if opens(seg) {
        table.forget(&conn_key(seg, true));
    }
}

/// The connection tuple of a segment, oriented client → server.
#[inline(always)]
pub fn conn_key(seg: &Segment, sent_by_client: bool) -> ConnKey {
    if sent_by_client {
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
    }
}

#[inline(always)]
fn classify_loaded(window: &[u8; WINDOW], n: usize) -> Option<Start> {
    if n == 0 {
        return None;
    }
    http::classify(
        &Window {
            buf: window,
            len: n,
        },
        0,
    )
}

/// The length of the empty line (`\r\n` or a bare `\n`) the window starts with, else 0.
#[inline(always)]
fn blank_line_len(window: &[u8; WINDOW], n: usize) -> usize {
    match (window[0], window[1]) {
        (b'\n', _) if n >= 1 => 1,
        (b'\r', b'\n') if n >= 2 => 2,
        _ => 0,
    }
}

/// What one message step needs, bundled: BPF functions take at most 5 arguments.
pub struct MessageRun<'a, P, S> {
    pub seg: &'a Segment,
    pub payload: &'a mut P,
    pub window: &'a mut [u8; WINDOW],
    pub sink: &'a mut S,
    pub now_ns: u64,
}

/// Handles the message that starts at payload offset `off` of the segment (after the bytes of
/// its start carried from the segment before, if any) and says where the next one starts.
#[inline(always)]
pub fn message_step<P: Payload, S: Sink>(
    run: &mut MessageRun<'_, P, S>,
    key: &ConnKey,
    state: &mut ConnState,
    off: usize,
) -> Step {
    let from_client = sent_by_client(run.seg, key);
    let followed = followed_flag(from_client);
    // Whether a message must start at `off`, because the one before it ended there; else this
    // is a segment's start on a stream not followed (or followed from a place not seen),
    // where anything may be.
    let at_next = run.seg.seq.wrapping_add(off as u32) == state.msg_seq[side(from_client)];
    let boundary = (off != 0) | ((state.flags & followed != 0) & at_next);
    let carried = (state.flags & carried_flag(from_client) != 0) & at_next & boundary;
    state.flags &= !carried_flag(from_client);
    if (state.flags & in_head_flag(from_client) != 0) & at_next & boundary {
        // The head of a message counted already goes on here.
        return Step::Head(off);
    }
    // The window's first `kept` bytes are a message start carried from the segment before
    // (none: 0), and the message's time is that segment's. One way through for the kernel's
    // verifier, carried or not: the length and time come from the state either way.
    let start = &mut state.starts[side(from_client)];
    if !carried {
        start.len = 0;
        start.seen_ns = run.now_ns;
    }
    let kept = start.len as usize & (START_CARRY - 1);
    let message_ns = start.seen_ns;
    start.len = 0;
    run.window[..START_CARRY].copy_from_slice(&start.bytes);
    let n = kept + run.payload.load_at(off, run.window, kept);
    if (state.flags & chunked_flag(from_client) != 0) & at_next & boundary {
        return chunk_step(run, key, state, from_client, off, n);
    }
    let Some(start) = classify_loaded(run.window, n) else {
        return no_message(run, state, from_client, off, n, kept, boundary);
    };
    if matches!(start, Start::Request { .. }) != from_client {
        return lose_track(state, run.sink, followed, boundary);
    }
    let w = Window {
        buf: &*run.window,
        len: n,
    };
    let head = run.payload.scan_head(&w);
    if let Start::Request { method, target_off } = start
        && !match head.first_line_end {
            Some(end) => http::ends_with_http1(&w, target_off - 1, end),
            // A line longer than the window: a named method is taken on its start, an
            // extension token is too weak a sign without the version.
            None => method != Method::Extension,
        }
    {
        // A request line's start without HTTP's version at its end: another protocol.
        return lose_track(state, run.sink, followed, boundary);
    }
    let (request_method, recorded) = match start {
        Start::Request { method, target_off } => (
            None,
            on_request(state, run.sink, &w, method, target_off, message_ns),
        ),
        Start::Response { status } => {
            (on_response(state, run.sink, key, status, message_ns), false)
        }
    };
    if state.flags & FLAG_UPGRADED != 0 {
        // A 101's exchange ends with its head: what follows is another protocol's.
        state.answer.body_len = 0;
        send_answer(state, run.sink, key, run.now_ns);
        return Step::Done;
    }
    let rule = http::body_rule(start, request_method);
    after_head::<_, _, false>(
        run,
        key,
        state,
        from_client,
        off,
        kept,
        n,
        &head,
        rule,
        recorded,
    )
}

/// The rest of a head that the window (or the segment) before ended in, at payload offset
/// `off`: run in the kernel as a program of its own, which the verifier checks apart.
#[inline(always)]
pub fn head_step<P: Payload, S: Sink>(
    run: &mut MessageRun<'_, P, S>,
    key: &ConnKey,
    state: &mut ConnState,
    off: usize,
) -> Step {
    let from_client = sent_by_client(run.seg, key);
    let side = side(from_client);
    let rest = state.heads[side];
    // A length header cut short by the segment before is read again from its start.
    let kept = if rest.line == LINE_CARRIED {
        rest.carried as usize & (START_CARRY - 1)
    } else {
        0
    };
    run.window[..START_CARRY].copy_from_slice(&state.starts[side].bytes);
    let loaded = run.payload.load_at(off, run.window, kept);
    if loaded == 0 {
        return lose_track(state, run.sink, followed_flag(from_client), true);
    }
    let n = kept + loaded;
    let w = Window {
        buf: &*run.window,
        len: n,
    };
    let head = run.payload.scan_head_rest(&w, &rest);
    // Its slot takes its size if it was taken (then marked sized at the cut), unless its
    // chunks told it and these are its trailer fields.
    let recorded =
        from_client & (state.flags & FLAG_REQUEST_SIZED != 0) & (rest.body != BODY_TRAILERS);
    after_head::<_, _, true>(
        run,
        key,
        state,
        from_client,
        off,
        kept,
        n,
        &head,
        rest.body,
        recorded,
    )
}

/// What follows a message's head, scanned in a window of `n` bytes: `kept` bytes from the
/// segment before, then this one's from payload offset `off`. Its body, told by `rule`
/// (`wire::BODY_*`) and the head's framing, and where the stream goes on. A request
/// `recorded` in a slot gets its body's size there. Without `CARRY`, a head that the window
/// ends in is left to [`head_step`]; with it, a length header that the segment's end cuts
/// short is kept for the next segment.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn after_head<P: Payload, S: Sink, const CARRY: bool>(
    run: &mut MessageRun<'_, P, S>,
    key: &ConnKey,
    state: &mut ConnState,
    from_client: bool,
    off: usize,
    kept: usize,
    n: usize,
    head: &http::Head,
    rule: u8,
    recorded: bool,
) -> Step {
    let side = side(from_client);
    let followed = followed_flag(from_client);
    // The window's first byte's payload offset (before the segment's when bytes were kept).
    let origin = off.wrapping_sub(kept);
    // This message is a final response being received, or a request whose slot was taken:
    // its body's size goes there.
    let answering = !from_client & (state.answer.phase == ANSWER_OPEN);
    let request_slot = state.last_request_slot();
    if from_client {
        state.flags &= !FLAG_REQUEST_SIZED;
    }
    let Some(head_len) = head.head_len else {
        // The window ends before the head: it goes on after it, in this segment or the next.
        let read = origin.wrapping_add(n);
        let more = read < run.seg.payload_len;
        let mut rest = HeadRest {
            length: 0,
            framing: 0,
            line: head.cut,
            body: rule,
            carried: 0,
            _pad: [0; 4],
        };
        (rest.framing, rest.length) = head.framing.to_rest();
        let line_off = origin.wrapping_add(head.last_line);
        let mut resume = read;
        if !CARRY {
            // Left to `head_step` (a program of its own in the kernel, where the verifier has
            // room for it), from the last line's start: any line cut short is read again.
            // When that start lies in bytes kept from the segment before, from the window's
            // end, unless a length header was cut.
            if at_or_past(state, side, head.last_line, kept) {
                rest.line = LINE_AT_START;
                resume = line_off;
            } else if head.cut == http::LINE_IN_FRAMING {
                return lose_track(state, run.sink, followed, more);
            }
        } else if head.cut == http::LINE_IN_FRAMING {
            // A length header cut short: read again whole, from its start (past the window's
            // start when the segment goes on, else the walk would not move on).
            let line_len = n - head.last_line;
            rest.line = LINE_AT_START;
            if more && head.last_line > kept {
                // The window's end cut it: the segment goes on.
                resume = line_off;
            } else if !more && line_len < START_CARRY && {
                let bytes = &mut state.starts[side].bytes;
                let copied = if head.last_line >= kept {
                    run.payload.load_carry(line_off, bytes)
                } else {
                    // It began in the bytes kept: all of it is in the window's first 64.
                    let from = head.last_line & (START_CARRY - 1);
                    bytes.copy_from_slice(&run.window[from..from + START_CARRY]);
                    line_len
                };
                copied == line_len
            } {
                // The segment's end cut it: its bytes go before the next segment's.
                rest.line = LINE_CARRIED;
                rest.carried = line_len as u8;
            } else {
                return lose_track(state, run.sink, followed, more);
            }
        }
        state.heads[side] = rest;
        if recorded {
            state.flags |= FLAG_REQUEST_SIZED;
        }
        return next_message(state, run.seg, from_client, resume as u64, Place::InHead);
    };
    let body_off = origin.wrapping_add(head_len) as u64;
    let Some(body) = http::framed_body_len(rule, head.framing) else {
        if head.framing == http::Framing::Chunked {
            // Its chunks are walked: the first chunk-size line follows the head, and their
            // data is summed as they pass.
            state.chunks[side] = ChunkScan::default();
            if answering {
                state.answer.body_len = 0;
            }
            if recorded {
                state.slots[request_slot].body_len = 0;
                state.flags |= FLAG_REQUEST_SIZED;
            }
            return next_message(state, run.seg, from_client, body_off, Place::ChunkLine);
        }
        // Read-until-close or undelimited: as far as the head tells, the body runs to the
        // segment's end, and the stream is followed again from the next message that starts
        // a segment. A response's body is all the server sends until it closes.
        if answering {
            state.answer.phase = ANSWER_UNTIL_CLOSE;
            state.answer.body_seq = run.seg.seq.wrapping_add(body_off as u32);
        }
        state.flags &= !place_flags(from_client);
        return Step::Done;
    };
    let end = body_off.saturating_add(body);
    if answering {
        // Trailer fields end a body their chunks sized.
        if !(CARRY && rule == BODY_TRAILERS) {
            state.answer.body_len = body;
        }
        // In this segment, or in a later one looked at already (this one came late): either
        // way the whole response has passed now.
        if (end <= run.seg.payload_len as u64) | passed_already(state, run.seg, end) {
            send_answer(state, run.sink, key, run.now_ns);
        }
    }
    if recorded {
        state.slots[request_slot].body_len = body;
    }
    next_message(state, run.seg, from_client, end, Place::Message)
}

/// No message starts at payload offset `off`, whose `n` bytes the window holds (the first
/// `kept` of them carried from the segment before).
#[inline(always)]
fn no_message<P: Payload, S: Sink>(
    run: &mut MessageRun<'_, P, S>,
    state: &mut ConnState,
    from_client: bool,
    off: usize,
    n: usize,
    kept: usize,
    boundary: bool,
) -> Step {
    let followed = followed_flag(from_client);
    if kept != 0 {
        let at_boundary = state.starts[side(from_client)].at_boundary != 0;
        // A carried start that this segment goes on with, and ends, all of it still the
        // start of a named method or a status line: carried further.
        let w = Window {
            buf: &*run.window,
            len: n,
        };
        if http::start_prefix(&w) == Some(from_client)
            && carry_on(run, state, from_client, off, n, kept, at_boundary)
        {
            return Step::Done;
        }
        // A carried start that this segment does not go on: the segment is read alone,
        // from a place where a message must start only if the carried one was at one.
        if !at_boundary {
            state.flags &= !followed;
        }
        return Step::Next(off);
    }
    // Empty lines between messages are ignored (RFC 9112 §2.2); one per step, so a run of
    // them is bounded by the per-segment message limit.
    let blank = blank_line_len(run.window, n);
    if boundary && blank != 0 {
        return next_message(
            state,
            run.seg,
            from_client,
            (off + blank) as u64,
            Place::Message,
        );
    }
    // A start cut short by the segment's end: carried to the next segment, which says
    // whether it was one. The first byte and the length stand for a closer look at the
    // bytes, which is more than the verifier allows here; a wrong guess is undone there.
    let carry = carry_fits(state, from_client, run.seg.payload_len - off, n)
        & http::can_start_message(run.window[0]);
    // Where the previous message said the next one starts, there is none (yet).
    lose_track(state, run.sink, followed, boundary & !carry);
    if carry {
        carry_start(run, state, from_client, n, boundary, run.now_ns);
    }
    Step::Done
}

/// `a` and `b` written to one side's carried-start fields and read back, for a comparison the
/// kernel's verifier does not track: on the registers themselves it follows the values exactly
/// on every way after it (the carry check took 763k instructions verified instead of 655k;
/// map memory is not tracked). The fields are free wherever this is called: no start is
/// carried there ([`carry_start`] sets them again when one is).
#[inline(always)]
fn through_state(state: &mut ConnState, side: usize, a: usize, b: usize) -> (usize, usize) {
    let start = &mut state.starts[side];
    // SAFETY: plain stores to and loads from a live reference's fields; volatile so that the
    // loads are not folded into the stores.
    unsafe {
        core::ptr::write_volatile(&mut start.len, a as u32);
        core::ptr::write_volatile(&mut start.at_boundary, b as u32);
        (
            core::ptr::read_volatile(&start.len) as usize,
            core::ptr::read_volatile(&start.at_boundary) as usize,
        )
    }
}

/// `a >= b`, [`through_state`].
#[inline(always)]
fn at_or_past(state: &mut ConnState, side: usize, a: usize, b: usize) -> bool {
    let (a, b) = through_state(state, side, a, b);
    a >= b
}

/// Whether the `n` bytes the window holds are all of the segment's `rest` and few enough to
/// carry, [`through_state`] (the carried start was consumed above).
#[inline(always)]
fn carry_fits(state: &mut ConnState, from_client: bool, rest: usize, n: usize) -> bool {
    let (len, short) = through_state(state, side(from_client), n, rest - n);
    (short == 0) & (len < START_CARRY)
}

/// The window's `n` bytes, `kept` of them carried from segments before and the rest from
/// payload offset `off`, are all the segment has left, and the start of a message that they
/// do not tell whole yet: carried on, if few enough, with the time of their
/// first bytes and `at_boundary`, whether a message had to start where they did (both the
/// start's fields, set when its first bytes came and kept as they were; the caller reads the
/// second before a compare [`through_state`] overwrites it). False when they cannot be.
#[inline(always)]
fn carry_on<P: Payload, S: Sink>(
    run: &MessageRun<'_, P, S>,
    state: &mut ConnState,
    from_client: bool,
    off: usize,
    n: usize,
    kept: usize,
    at_boundary: bool,
) -> bool {
    let seen_ns = state.starts[side(from_client)].seen_ns;
    if !carry_fits(state, from_client, run.seg.payload_len - off + kept, n) {
        return false;
    }
    unfollow(state, followed_flag(from_client));
    carry_start(run, state, from_client, n, at_boundary, seen_ns);
    true
}

/// The segment ends inside what may be a message's start, whose `n` bytes the window holds:
/// they are kept, and the next segment, which must go on from the segment's end, is read
/// after them. `boundary`: a message had to start there; `seen_ns`: when its first bytes
/// came.
#[inline(always)]
fn carry_start<P, S>(
    run: &MessageRun<'_, P, S>,
    state: &mut ConnState,
    from_client: bool,
    n: usize,
    boundary: bool,
    seen_ns: u64,
) {
    let side = side(from_client);
    let start = &mut state.starts[side];
    start.bytes.copy_from_slice(&run.window[..START_CARRY]);
    start.len = n as u32;
    start.seen_ns = seen_ns;
    start.at_boundary = boundary as u32;
    let end = run.seg.seq.wrapping_add(run.seg.payload_len as u32);
    state.msg_seq[side] = end;
    state.flags = (state.flags & !place_flags(from_client))
        | followed_flag(from_client)
        | carried_flag(from_client);
}

/// One step of the walk through a chunked body, at payload offset `off` (the window holds
/// `n` bytes from there): a chunk-size line, and the next one starts after its data and CRLF;
/// or the empty line after the last chunk, and the next message starts after it; or trailer
/// fields, read on as a head is. A line split across segments goes on in the next one. A line
/// that is none, or longer than `http::CHUNK_LINE_MAX`, loses the stream, counted.
#[inline(always)]
fn chunk_step<P: Payload, S: Sink>(
    run: &mut MessageRun<'_, P, S>,
    key: &ConnKey,
    state: &mut ConnState,
    from_client: bool,
    off: usize,
    n: usize,
) -> Step {
    let w = Window {
        buf: &*run.window,
        len: n,
    };
    let scan = &mut state.chunks[side(from_client)];
    let (next, place) = match http::chunk_scan(scan, &w) {
        http::ChunkStep::Line { len, size } => {
            let line_end = (off + len) as u64;
            *scan = ChunkScan::default();
            if size == 0 {
                scan.phase = CHUNK_AFTER_LAST;
                (line_end, Place::ChunkLine)
            } else {
                add_body_bytes(state, from_client, size);
                (
                    line_end.saturating_add(size).saturating_add(2),
                    Place::ChunkLine,
                )
            }
        }
        http::ChunkStep::End { len } => {
            if from_client {
                state.flags &= !FLAG_REQUEST_SIZED;
            } else {
                send_answer(state, run.sink, key, run.now_ns);
            }
            ((off + len) as u64, Place::Message)
        }
        http::ChunkStep::Trailers => {
            // Read as a head is, to the empty line after them, which ends the message.
            state.heads[side(from_client)] = HeadRest {
                length: 0,
                framing: FRAMING_NONE,
                line: LINE_AT_START,
                body: BODY_TRAILERS,
                carried: 0,
                _pad: [0; 4],
            };
            (off as u64, Place::InHead)
        }
        // The segment ends inside the line.
        http::ChunkStep::More if off + n == run.seg.payload_len => {
            ((off + n) as u64, Place::ChunkLine)
        }
        http::ChunkStep::More | http::ChunkStep::Bad => {
            return lose_track(state, run.sink, followed_flag(from_client), true);
        }
    };
    next_message(state, run.seg, from_client, next, place)
}

/// Whether a response's end, `end` bytes into this segment's payload, lies in the server's
/// newest segment, looked at before this one (which came late, after segments that follow
/// it). Not when the end is yet to come, or lies further back (in bytes maybe never seen).
#[inline(always)]
fn passed_already(state: &ConnState, seg: &Segment, end: u64) -> bool {
    let end_seq = seg.seq.wrapping_add(end as u32);
    let after_start = end_seq.wrapping_sub(state.newest_seq[1]) as i32 > 0;
    let within = state.next_seq[1].wrapping_sub(end_seq) as i32 >= 0;
    (end < i32::MAX as u64) & after_start & within
}

/// Adds a chunk's data to the body size of the message it is in: the response being received,
/// or the request whose slot was taken.
#[inline(always)]
fn add_body_bytes(state: &mut ConnState, from_client: bool, size: u64) {
    let body = if from_client {
        if state.flags & FLAG_REQUEST_SIZED == 0 {
            return;
        }
        &mut state.slots[state.last_request_slot()].body_len
    } else {
        if state.answer.phase != ANSWER_OPEN {
            return;
        }
        &mut state.answer.body_len
    };
    *body = body.saturating_add(size);
}

/// Sends the exchange of the response being received, whose last byte passed at
/// `last_byte_ns` ([`UNKNOWN`]: its end was not seen, and its size is not known either).
#[inline(always)]
pub fn send_answer<S: Sink>(state: &mut ConnState, sink: &mut S, key: &ConnKey, last_byte_ns: u64) {
    if state.answer.phase == ANSWER_NONE {
        return;
    }
    let request = &state.slots[state.answered_slot()];
    let answer = &mut state.answer;
    if last_byte_ns == UNKNOWN {
        *answer = answer.end_unseen();
    } else {
        answer.phase = ANSWER_NONE;
        // Never before the first byte: where the head came late, after the segment with the
        // end, the whole response had passed once the head did.
        answer.ttlb_ns = last_byte_ns
            .saturating_sub(request.request_ns)
            .max(answer.latency_ns);
    }
    sink.exchange(key, state.start_ns, request, answer);
}

/// The exchange of a connection's response still being received, as it stands when the
/// connection is dropped without a close (the sweeper, or the end of a capture): its end
/// was not seen.
pub fn unsent_answer(state: &ConnState) -> Option<(&InFlight, Answer)> {
    if state.answer.phase == ANSWER_NONE {
        return None;
    }
    Some((
        &state.slots[state.answered_slot()],
        state.answer.end_unseen(),
    ))
}

/// The stream is followed from payload offset `next`, in this segment or a later one: the
/// current message ends there and the next one starts, or (`place`) the current message's
/// next chunk-size line, or the rest of its head, is there.
#[inline(always)]
fn next_message(
    state: &mut ConnState,
    seg: &Segment,
    from_client: bool,
    next: u64,
    place: Place,
) -> Step {
    let followed = followed_flag(from_client);
    let places = place_flags(from_client);
    // The flag that says what `msg_seq` points at, once it is set.
    let kind = match place {
        Place::Message => 0,
        Place::ChunkLine => chunked_flag(from_client),
        Place::InHead => in_head_flag(from_client),
    };
    let inside = place != Place::Message;
    let resume = if place == Place::InHead {
        Step::Head(next as usize)
    } else {
        Step::Next(next as usize)
    };
    let len = seg.payload_len as u64;
    let side = side(from_client);
    let pending = state.msg_seq[side];
    if state.flags & followed != 0
        && seq_before(pending, seg.seq)
        && seg.seq.wrapping_sub(pending) < LATE_BYTES
    {
        // The place where the next message starts went by unseen, not long ago: its segment
        // is probably late (reordered, or lost and sent again), and it stays the place to
        // read from when it comes. This segment was read from its start meanwhile; a chunked
        // body or a head in it cannot be walked on, as that needs the place.
        return if next < len && !inside {
            Step::Next(next as usize)
        } else {
            Step::Done
        };
    }
    if next < len {
        // Followed again once the segment's last message is read: should the walk stop short,
        // the segment is not followed from a message already counted. A chunk-size line's
        // or a head's place is kept all the same, for the next step to know it for one.
        state.flags = (state.flags & !places) | kind;
        if inside {
            state.msg_seq[side] = seg.seq.wrapping_add(next as u32);
        }
        return resume;
    }
    let msg_seq = seg.seq.wrapping_add(next as u32);
    // Sequence numbers compare within half their space: a body running further than that
    // past this segment is not followed. Nor is a place already looked at (this segment came
    // late, after later ones): what starts there was counted or missed already.
    if next - len >= i32::MAX as u64 || seq_before(msg_seq, state.next_seq[side]) {
        state.flags &= !places;
    } else {
        state.msg_seq[side] = msg_seq;
        state.flags = (state.flags & !places) | followed | kind;
    }
    Step::Done
}

/// Where a message should start, none can be read (or where its end should be found, none
/// can): the stream is no longer followed, and when `counted` the lost place counts as
/// `ScanIncomplete`.
#[inline(always)]
fn lose_track<S: Sink>(state: &mut ConnState, sink: &mut S, followed: u32, counted: bool) -> Step {
    if counted {
        sink.count(Counter::ScanIncomplete, 1);
    }
    unfollow(state, followed);
    Step::Done
}

/// The stream (`followed`: its side's flag) is no longer followed: no place is kept.
#[inline(always)]
fn unfollow(state: &mut ConnState, followed: u32) {
    if followed == FLAG_CLIENT_FOLLOWED {
        drop_request_size(state);
    }
    // The chunked and in-head flags sit two and seven places above the followed one.
    state.flags &= !(followed | (followed << 2) | (followed << 7));
}

/// A chunked request whose chunks were being summed ends before its last chunk was seen: its
/// body's size is not known.
#[inline(always)]
fn drop_request_size(state: &mut ConnState) {
    if state.flags & FLAG_REQUEST_SIZED != 0 {
        state.flags &= !FLAG_REQUEST_SIZED;
        let slot = state.last_request_slot();
        state.slots[slot].body_len = UNKNOWN;
    }
}
const _: () = assert!(
    FLAG_CLIENT_FOLLOWED << 2 == FLAG_CLIENT_CHUNKED
        && FLAG_CLIENT_FOLLOWED << 7 == FLAG_CLIENT_IN_HEAD
);

#[inline(always)]
fn on_request<S: Sink, const N: usize>(
    state: &mut ConnState,
    sink: &mut S,
    w: &Window<N>,
    method: Method,
    target_off: usize,
    now_ns: u64,
) -> bool {
    sink.count(Counter::Requests, 1);
    // A request starts: the one before it is over.
    drop_request_size(state);
    // The slot of a response still being received is kept for its exchange.
    let held = (state.answer.phase != ANSWER_NONE) as u32;
    if (state.outstanding() + held) as usize >= MAX_IN_FLIGHT {
        sink.count(Counter::PipelineOverflow, 1);
        sink.count(Counter::ExpiredRequests, 1);
        return false;
    }
    let slot = &mut state.slots[state.requests as usize % MAX_IN_FLIGHT];
    slot.request_ns = now_ns;
    slot.body_len = UNKNOWN;
    slot.method = method as u8;
    // The raw bytes from the target's start (an extension method's from its name, which is
    // nowhere else), copied whole; user space cuts them at the end of the target
    // (`wire::request_line`): no per-byte work in the kernel.
    let start = if method == Method::Extension {
        0
    } else {
        target_off & 15 // a named method and its space are at most 8 bytes
    };
    slot.path.copy_from_slice(&w.buf[start..start + PATH_LEN]);
    slot.path_len = w.len.saturating_sub(start).min(PATH_LEN) as u8;
    state.requests = state.requests.wrapping_add(1);
    true
}

/// Pairs a response with the oldest outstanding request and starts receiving it (its
/// exchange is sent at its end); returns that request's method.
#[inline(always)]
pub fn on_response<S: Sink>(
    state: &mut ConnState,
    sink: &mut S,
    key: &ConnKey,
    status: u16,
    now_ns: u64,
) -> Option<Method> {
    sink.count(Counter::Responses, 1);
    // A response starts: the one before it is over, its end unseen if it was still open.
    send_answer(state, sink, key, UNKNOWN);
    if status == SWITCHING_PROTOCOLS {
        // Final (RFC 9110 §15.2.2): it answers the request, and what follows is not HTTP.
        state.flags |= FLAG_UPGRADED;
    } else if status < 200 {
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
    let latency_ns = now_ns.saturating_sub(slot.request_ns);
    sink.latency(latency_ns);
    let method = Method::from_u8(slot.method);
    state.answer = Answer {
        latency_ns,
        ttlb_ns: UNKNOWN,
        body_len: UNKNOWN,
        body_seq: 0,
        status,
        phase: ANSWER_OPEN,
        _pad: 0,
    };
    method
}

/// A connection ends: a response read until the close is complete, any other still open
/// was cut short.
#[inline(always)]
fn close_answer<S: Sink>(state: &mut ConnState, sink: &mut S, key: &ConnKey, now_ns: u64) {
    let last_byte_ns = if state.answer.phase == ANSWER_UNTIL_CLOSE {
        state.answer.body_len = state.next_seq[1].wrapping_sub(state.answer.body_seq) as u64;
        now_ns
    } else {
        UNKNOWN
    };
    send_answer(state, sink, key, last_byte_ns);
}

/// FIN or RST: a connection ending. Requests that can no longer be answered expire now.
// Not inlined: a separate BPF function keeps the filter's stack frame under 512 bytes.
#[inline(never)]
fn on_close<T: ConnTable, S: Sink>(seg: &Segment, table: &mut T, sink: &mut S, now_ns: u64) {
    let rst = seg.flags & TCP_RST != 0;
    let sent_by_client = conn_key(seg, true);
    if let Some(state) = table.get(&sent_by_client) {
        let outstanding = state.outstanding();
        // A client's FIN with requests outstanding is a half-close: answers may still come.
        if !rst && outstanding != 0 {
            return;
        }
        if outstanding != 0 {
            sink.count(Counter::ExpiredRequests, outstanding as u64);
        }
        close_answer(state, sink, &sent_by_client, now_ns);
        sink.connection_ended(&sent_by_client, state.start_ns);
        let tombstone = state.tombstone();
        table.remove(&sent_by_client);
        table.bury(&sent_by_client, &tombstone);
        return;
    }
    let sent_by_server = conn_key(seg, false);
    if let Some(state) = table.get(&sent_by_server) {
        let outstanding = state.outstanding();
        if outstanding != 0 {
            sink.count(Counter::ExpiredRequests, outstanding as u64);
        }
        close_answer(state, sink, &sent_by_server, now_ns);
        sink.connection_ended(&sent_by_server, state.start_ns);
        let tombstone = state.tombstone();
        table.remove(&sent_by_server);
        table.bury(&sent_by_server, &tombstone);
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

/// Table occupancy above which the sweeper makes room (7/8 of the kernel's table), and the
/// occupancy it makes room down to (3/4): requests the host never answers (spoofed, or a
/// server that stays silent) must not keep real ones out for a whole request timeout.
pub const EVICT_ABOVE: usize = CONNS_ENTRIES as usize / 8 * 7;
pub const EVICT_DOWN_TO: usize = CONNS_ENTRIES as usize / 4 * 3;

/// Whether the sweeper may drop a connection to make room: it has never carried a byte from
/// its server, so nothing says the server is even there.
pub const fn evictable(state: &ConnState) -> bool {
    state.flags & FLAG_SERVER_SEQ == 0
}

/// The sweeper's rule for a table nearly full: with `live` connections left after expiry and
/// the `evictable` ones as (last seen, key), sorts those oldest first and returns how many of
/// them to drop (their outstanding requests expire): none unless `live` exceeds
/// [`EVICT_ABOVE`], else enough to come down to [`EVICT_DOWN_TO`], as far as there are any.
pub fn evictions<K>(live: usize, evictable: &mut [(u64, K)]) -> usize {
    if live <= EVICT_ABOVE {
        return 0;
    }
    evictable.sort_unstable_by_key(|(last_seen_ns, _)| *last_seen_ns);
    (live - EVICT_DOWN_TO).min(evictable.len())
}

/// Payload bytes held in memory (the offline reader and tests).
pub struct SlicePayload<'a>(pub &'a [u8]);

impl Payload for SlicePayload<'_> {
    fn load_at(&mut self, off: usize, dst: &mut [u8; WINDOW], at: usize) -> usize {
        let Some(rest) = self.0.get(off..) else {
            return 0;
        };
        let n = rest.len().min(WINDOW - at);
        dst[at..at + n].copy_from_slice(&rest[..n]);
        n
    }
}
