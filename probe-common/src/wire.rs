//! Types and layouts shared by the kernel programs and user space. All `#[repr(C)]`, with
//! explicit padding fields so no byte is an uninitialised hole, and no `bool`.

/// Bytes of the request target kept per in-flight request and per event.
pub const PATH_LEN: usize = 48;
/// Requests that may be outstanding on one connection (pipelining depth) before new ones are
/// counted as expired instead of tracked.
pub const MAX_IN_FLIGHT: usize = 16;
/// Buckets of the log2 latency histogram: bucket `b` holds latencies in `[2^b, 2^(b+1))` ns
/// (bucket 0 also holds 0).
pub const HISTOGRAM_BUCKETS: usize = 64;

/// HTTP request methods, as stored in maps and events: the nine RFC 9110 names, and
/// [`Method::Extension`] for any other token (WebDAV's `PROPFIND`, UPnP's `NOTIFY`, …), whose
/// name travels in the path bytes ([`request_line`]).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Method {
    Get = 1,
    Head = 2,
    Post = 3,
    Put = 4,
    Delete = 5,
    Connect = 6,
    Options = 7,
    Trace = 8,
    Patch = 9,
    /// A method token not among the nine: the path bytes start at the method's name.
    Extension = 10,
}

impl Method {
    /// The methods RFC 9110 names (every method but [`Method::Extension`]).
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Connect,
        Method::Options,
        Method::Trace,
        Method::Patch,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Connect => "CONNECT",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
            Method::Patch => "PATCH",
            // Its name is on the wire, in the path bytes.
            Method::Extension => "",
        }
    }

    pub const fn from_u8(v: u8) -> Option<Method> {
        match v {
            1 => Some(Method::Get),
            2 => Some(Method::Head),
            3 => Some(Method::Post),
            4 => Some(Method::Put),
            5 => Some(Method::Delete),
            6 => Some(Method::Connect),
            7 => Some(Method::Options),
            8 => Some(Method::Trace),
            9 => Some(Method::Patch),
            10 => Some(Method::Extension),
            _ => None,
        }
    }
}

/// A connection tuple, oriented client → server (the client sent the request line).
/// IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`) so one key type serves both families.
/// Ports are in host byte order.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct ConnKey {
    pub client_addr: [u8; 16],
    pub server_addr: [u8; 16],
    pub client_port: u16,
    pub server_port: u16,
}

/// The method's name and the request target in the `path_len` valid bytes of an in-flight
/// entry or event. The kernel copies the bytes after a named method whole, and for
/// [`Method::Extension`] the bytes from the method's start (its name is nowhere else); the
/// target runs up to the first space, CR or LF. The name is empty for a method byte that is
/// none of ours.
pub fn request_line(method: u8, path: &[u8; PATH_LEN], path_len: u8) -> (&[u8], &[u8]) {
    let valid = &path[..usize::from(path_len).min(PATH_LEN)];
    let (name, target) = match Method::from_u8(method) {
        Some(Method::Extension) => match valid.iter().position(|&b| b == b' ') {
            Some(space) => (&valid[..space], &valid[space + 1..]),
            None => (valid, &valid[valid.len()..]),
        },
        Some(named) => (named.as_str().as_bytes(), valid),
        None => (&valid[..0], valid),
    };
    let end = target
        .iter()
        .position(|b| matches!(b, b' ' | b'\r' | b'\n'))
        .unwrap_or(target.len());
    (name, &target[..end])
}

/// A time to last byte or a body size httptop could not tell: the message's end was not seen
/// (its stream was lost, or it was cut short), or its length was not readable.
pub const UNKNOWN: u64 = u64::MAX;

/// One request waiting for its response.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct InFlight {
    /// `bpf_ktime_get_ns()` (CLOCK_MONOTONIC) of the request's first segment.
    pub request_ns: u64,
    /// The request's body bytes (a chunked body's chunk data, summed as its chunks pass), or
    /// [`UNKNOWN`].
    pub body_len: u64,
    pub method: u8,
    pub path_len: u8,
    pub _pad: [u8; 6],
    pub path: [u8; PATH_LEN],
}

/// Per-connection state: sequence numbers for dedupe and the FIFO of in-flight requests.
///
/// `requests` and `responses` count requests recorded and final responses consumed on this
/// connection; `requests - responses` are outstanding, in slots `[responses, requests)` modulo
/// [`MAX_IN_FLIGHT`]. Slots outside that range hold stale bytes and are never read.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnState {
    pub last_seen_ns: u64,
    /// When this connection's state was created (its first HTTP segment seen): with the key,
    /// it tells a reused tuple's connections apart.
    pub start_ns: u64,
    /// Next sequence number not yet looked at, client→server then server→client (valid when
    /// `FLAG_CLIENT_SEQ`, `FLAG_SERVER_SEQ`).
    pub next_seq: [u32; 2],
    pub requests: u32,
    pub responses: u32,
    pub flags: u32,
    /// Sequence numbers where each side's next message starts, the client's then the
    /// server's (valid when `FLAG_CLIENT_FOLLOWED`, `FLAG_SERVER_FOLLOWED`): where the last
    /// message whose length was known ends, or, in a chunked body (`FLAG_CLIENT_CHUNKED`,
    /// `FLAG_SERVER_CHUNKED`), where its next chunk-size line starts.
    pub msg_seq: [u32; 2],
    pub _pad: u32,
    /// Where each side's newest segment (the one that last moved `next_seq` on) starts: a
    /// message's end found in it after it was looked at (it came before a segment it follows)
    /// is known to have passed.
    pub newest_seq: [u32; 2],
    /// Each side's walk through a chunked body, where a chunk-size line (or the empty line
    /// after the last chunk) is split across segments.
    pub chunks: [ChunkScan; 2],
    /// Each side's head that a segment (or the window) ended in before its blank line
    /// (`FLAG_CLIENT_IN_HEAD`, `FLAG_SERVER_IN_HEAD`): what its lines said so far.
    pub heads: [HeadRest; 2],
    /// Each side's message start that a segment ended in (`FLAG_CLIENT_CARRIED`,
    /// `FLAG_SERVER_CARRIED`).
    pub starts: [CarriedStart; 2],
    /// The final response being received, whose exchange is sent once its last byte passed.
    pub answer: Answer,
    pub slots: [InFlight; MAX_IN_FLIGHT],
}

/// No response is being received: [`Answer::phase`].
pub const ANSWER_NONE: u8 = 0;
/// A final response's head was read; its body's end (known by its length or its chunks) has
/// not passed yet.
pub const ANSWER_OPEN: u8 = 1;
/// A final response's body runs until the connection closes.
pub const ANSWER_UNTIL_CLOSE: u8 = 2;

/// The final response a connection is receiving: its request is the slot of the last response
/// consumed (`responses - 1`), which the FIFO keeps until the exchange is sent.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Answer {
    /// Request's first segment → response's first segment (TTFB), ns.
    pub latency_ns: u64,
    /// Request's first segment → the segment that held the response's last byte (TTLB), ns;
    /// [`UNKNOWN`] until then.
    pub ttlb_ns: u64,
    /// The response's body bytes: its length, or the chunk data walked so far.
    pub body_len: u64,
    /// Where a body read until the connection closes starts (sequence number).
    pub body_seq: u32,
    pub status: u16,
    /// [`ANSWER_NONE`], [`ANSWER_OPEN`] or [`ANSWER_UNTIL_CLOSE`].
    pub phase: u8,
    pub _pad: u8,
}

/// Bytes kept of a message start cut short by its segment's end (`GE`, then `T / HTTP/1.1` in
/// the next segment): fewer than a request line or status line needs to be told for one.
pub const START_CARRY: usize = 32;

/// The first bytes of a message whose start a segment ended in, read again before the next
/// segment's bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CarriedStart {
    pub bytes: [u8; START_CARRY],
    /// When the segment that held them passed: the message's time.
    pub seen_ns: u64,
    /// How many of `bytes` (fewer than [`START_CARRY`]).
    pub len: u32,
    /// 1 when they were where a message had to start (the one before ended there), else 0.
    pub at_boundary: u32,
}

/// Where a walk through a chunked body stands inside a chunk-size line, or after the last
/// chunk's line, when a segment ends there: the next segment goes on from it. All zero: at a
/// line's start.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkScan {
    /// The size's hex digits read so far.
    pub size: u64,
    /// `CHUNK_AT_START`, `CHUNK_IN_SIZE`, `CHUNK_IN_EXTENSIONS`, `CHUNK_AFTER_LAST`,
    /// `CHUNK_AFTER_LAST_CR`.
    pub phase: u32,
    /// Bytes of the line read in earlier segments (a line is at most `http::CHUNK_LINE_MAX`).
    pub read: u32,
}

/// What the lines of a head already read say, when its end lies further on (in the next
/// segment, or past the window): the scan goes on from there.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeadRest {
    /// The `Content-Length` read so far (with `framing` [`FRAMING_LENGTH`]).
    pub length: u64,
    /// [`FRAMING_NONE`], [`FRAMING_LENGTH`], [`FRAMING_CHUNKED`] or [`FRAMING_UNDELIMITED`].
    pub framing: u8,
    /// Where the last line stopped: [`LINE_AT_START`], [`LINE_AFTER_CR`] or [`LINE_INSIDE`].
    pub line: u8,
    /// How the message's body is told: [`BODY_REQUEST`], [`BODY_RESPONSE`] or [`BODY_NONE`]; or
    /// [`BODY_TRAILERS`], these are a chunked body's trailer fields.
    pub body: u8,
    /// With `line` [`LINE_CARRIED`]: how many bytes of that line the side's `starts` holds.
    pub carried: u8,
    pub _pad: [u8; 4],
}

/// No length header seen.
pub const FRAMING_NONE: u8 = 0;
/// A `Content-Length`.
pub const FRAMING_LENGTH: u8 = 1;
/// A `Transfer-Encoding` whose last coding is chunked.
pub const FRAMING_CHUNKED: u8 = 2;
/// A `Transfer-Encoding` whose last coding is another, or a `Content-Length` too long to read.
pub const FRAMING_UNDELIMITED: u8 = 3;

/// The bytes read so far end with a whole line: the next one starts the next line.
pub const LINE_AT_START: u8 = 0;
/// They end with a line's first byte, a `\r`: a `\n` next ends the head.
pub const LINE_AFTER_CR: u8 = 1;
/// They end inside a line that says nothing of the framing.
pub const LINE_INSIDE: u8 = 2;
/// They end inside a line that may tell the framing, whose bytes so far are kept (in the
/// side's `ConnState::starts`) to be read again before the next segment's.
pub const LINE_CARRIED: u8 = 3;

/// A request: no length header means no body.
pub const BODY_REQUEST: u8 = 0;
/// A response: no length header means the body runs until the connection closes.
pub const BODY_RESPONSE: u8 = 1;
/// A response without a body whatever its headers say (1xx, 204, 304, an answer to HEAD).
pub const BODY_NONE: u8 = 2;
/// The trailer fields after a chunked body's last chunk: they end the message, whose body's
/// size the chunks told already.
pub const BODY_TRAILERS: u8 = 3;

/// At a chunk-size line's start.
pub const CHUNK_AT_START: u32 = 0;
/// Inside the size's hex digits.
pub const CHUNK_IN_SIZE: u32 = 1;
/// Past the size: extensions, whitespace, the `\r`.
pub const CHUNK_IN_EXTENSIONS: u32 = 2;
/// After the last chunk's line (size 0): the empty line that ends the body is next.
pub const CHUNK_AFTER_LAST: u32 = 3;
/// After the `\r` of that empty line.
pub const CHUNK_AFTER_LAST_CR: u32 = 4;

pub const FLAG_CLIENT_SEQ: u32 = 1;
pub const FLAG_SERVER_SEQ: u32 = 2;
/// The server answered `101 Switching Protocols`: the connection carries another protocol
/// (WebSocket, HTTP/2) from the end of that answer's head on, and is no longer parsed.
pub const FLAG_UPGRADED: u32 = 4;
/// `msg_seq[0]` holds where the client's next message starts: its stream is followed
/// across segments (a body spanning segments is skipped, a message starting inside a later
/// segment is found).
pub const FLAG_CLIENT_FOLLOWED: u32 = 8;
/// `msg_seq[1]` holds where the server's next message starts.
pub const FLAG_SERVER_FOLLOWED: u32 = 16;
/// The client's current message has a chunked body and `msg_seq[0]` holds where its next
/// chunk-size line starts, not a message.
pub const FLAG_CLIENT_CHUNKED: u32 = 32;
/// The server's current message has a chunked body: `msg_seq[1]` is its next chunk-size line.
pub const FLAG_SERVER_CHUNKED: u32 = 64;
/// The client's next message started in an earlier segment, which ended at `msg_seq[0]`: its
/// first bytes are in `starts[0]`.
pub const FLAG_CLIENT_CARRIED: u32 = 128;
/// The server's next message started in an earlier segment: its first bytes are in
/// `starts[1]`.
pub const FLAG_SERVER_CARRIED: u32 = 256;

/// The client's current message is a chunked request whose slot was taken (the last one):
/// its chunks' data is summed into the slot's `body_len`.
pub const FLAG_REQUEST_SIZED: u32 = 512;

/// The client's current head goes on at `msg_seq[0]`, after the lines in `heads[0]`.
pub const FLAG_CLIENT_IN_HEAD: u32 = 1024;
/// The server's current head goes on at `msg_seq[1]`, after the lines in `heads[1]`.
pub const FLAG_SERVER_IN_HEAD: u32 = 2048;

/// What a connection that ended (FIN or RST) leaves behind for a while: its sequence numbers,
/// so that a late copy of its last segments (sent again, or the same packet seen on a second
/// interface) is known for one and not taken for a new connection's first message.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tombstone {
    /// [`ConnState::next_seq`] at the end.
    pub next_seq: [u32; 2],
    /// Which of them are valid: `FLAG_CLIENT_SEQ`, `FLAG_SERVER_SEQ`.
    pub flags: u32,
    pub _pad: u32,
}

impl ConnState {
    /// The tombstone this connection leaves when it ends.
    pub const fn tombstone(&self) -> Tombstone {
        Tombstone {
            next_seq: self.next_seq,
            flags: self.flags & (FLAG_CLIENT_SEQ | FLAG_SERVER_SEQ),
            _pad: 0,
        }
    }

    pub const fn outstanding(&self) -> u32 {
        self.requests.wrapping_sub(self.responses)
    }

    /// The slot of the last request recorded (`requests - 1`).
    pub const fn last_request_slot(&self) -> usize {
        self.requests.wrapping_sub(1) as usize % MAX_IN_FLIGHT
    }

    /// The slot of the request the last final response answers (`responses - 1`): the one
    /// [`ConnState::answer`] belongs to.
    pub const fn answered_slot(&self) -> usize {
        self.responses.wrapping_sub(1) as usize % MAX_IN_FLIGHT
    }
}

impl Answer {
    /// This answer as sent when its end was not seen: no time to last byte, no size.
    pub const fn end_unseen(self) -> Answer {
        Answer {
            ttlb_ns: UNKNOWN,
            body_len: UNKNOWN,
            phase: ANSWER_NONE,
            ..self
        }
    }
}

/// One finished exchange, sent to user space through the ring buffer once the response's
/// last byte passed (or its end can no longer be seen).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExchangeEvent {
    /// CLOCK_MONOTONIC ns of the request's first segment.
    pub request_ns: u64,
    /// Request's first segment → final response's first segment, ns.
    pub latency_ns: u64,
    /// Request's first segment → the segment with the response's last byte, ns, or
    /// [`UNKNOWN`].
    pub ttlb_ns: u64,
    /// The request's and the response's body bytes, each or [`UNKNOWN`].
    pub request_body_len: u64,
    pub response_body_len: u64,
    /// The connection's [`ConnState::start_ns`].
    pub conn_start_ns: u64,
    pub key: ConnKey,
    pub status: u16,
    pub method: u8,
    pub path_len: u8,
    pub path: [u8; PATH_LEN],
}

/// A connection ended (FIN or RST), sent through the same ring buffer as the exchanges: the
/// two are told apart by their size ([`Event::parse`]).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ConnEndEvent {
    /// The connection's [`ConnState::start_ns`].
    pub conn_start_ns: u64,
    pub key: ConnKey,
    pub _pad: [u8; 4],
}

/// A record of the events ring buffer.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    Exchange(ExchangeEvent),
    ConnEnd(ConnEndEvent),
}

impl Event {
    /// The event a ring-buffer record holds, by its size; `None` for any other size.
    pub fn parse(bytes: &[u8]) -> Option<Event> {
        // SAFETY (both reads): plain-old-data types of exactly the record's size.
        if bytes.len() == core::mem::size_of::<ExchangeEvent>() {
            Some(Event::Exchange(unsafe {
                core::ptr::read_unaligned(bytes.as_ptr().cast::<ExchangeEvent>())
            }))
        } else if bytes.len() == core::mem::size_of::<ConnEndEvent>() {
            Some(Event::ConnEnd(unsafe {
                core::ptr::read_unaligned(bytes.as_ptr().cast::<ConnEndEvent>())
            }))
        } else {
            None
        }
    }
}

/// Declares [`Counter`] from one list: each counter's doc, its slot in the kernel's per-CPU
/// array, its JSON key and its label for people. Everything else (the kernel's slot, user
/// space's totals, the summary's JSON and text) iterates [`Counter::ALL`].
macro_rules! counters {
    ($($(#[doc = $doc:literal])* $variant:ident = $slot:literal, $key:literal, $label:literal;)*) => {
        /// The kernel's exact counters: indices into its per-CPU counter array. Meanings follow
        /// `docs/terms.md`.
        #[repr(u32)]
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Counter {
            $($(#[doc = $doc])* $variant = $slot,)*
        }

        impl Counter {
            /// Every counter, in slot order.
            pub const ALL: [Counter; [$($slot),*].len()] = [$(Counter::$variant),*];
            /// How many counters there are.
            pub const COUNT: usize = Self::ALL.len();

            /// The counter's key in the JSON summary.
            pub const fn key(self) -> &'static str {
                match self {
                    $(Counter::$variant => $key,)*
                }
            }

            /// The counter's name for people (the text summary).
            pub const fn label(self) -> &'static str {
                match self {
                    $(Counter::$variant => $label,)*
                }
            }
        }
    };
}

counters! {
    /// Requests paired with their final response.
    Exchanges = 0, "exchanges", "exchanges";
    /// Request messages seen (each counted once).
    Requests = 1, "requests", "requests";
    /// Response messages seen, interim (1xx) included.
    Responses = 2, "responses", "responses";
    /// Final responses with no request outstanding on their connection.
    UnmatchedResponses = 3, "unmatched_responses", "unmatched responses";
    /// Requests ended without a response by the kernel (RST, server FIN, full tables).
    /// User space adds the ones its sweeper expires on timeout.
    ExpiredRequests = 4, "expired_requests", "expired requests";
    /// Exchange events that found the ring buffer full.
    EventsLost = 5, "events_lost", "events lost";
    /// Interim (1xx) responses (also counted in `Responses`).
    InterimResponses = 6, "interim_responses", "interim responses";
    /// Segments skipped because their sequence range was already seen (retransmits, copies).
    DuplicateSegments = 7, "duplicate_segments", "duplicate segments";
    /// Requests that found the connection table full (also counted in `ExpiredRequests`).
    ConnTableFull = 8, "conn_table_full", "conn table full";
    /// Requests beyond `MAX_IN_FLIGHT` outstanding on one connection (also in `ExpiredRequests`).
    PipelineOverflow = 9, "pipeline_overflow", "pipeline overflow";
    /// Segments whose later messages could not be delimited (head longer than the scan window,
    /// chunked or close-delimited body followed by more bytes, too many messages).
    ScanIncomplete = 10, "scan_incomplete", "scan incomplete";
}

/// Slots of the kernel's per-CPU counter array: room for counters to come without resizing.
pub const COUNTER_SLOTS: usize = 16;
const _: () = assert!(Counter::COUNT <= COUNTER_SLOTS);

/// Bucket of the log2 histogram for a latency in ns: the kernel's, the offline reader's and
/// the model's.
#[inline(always)]
pub const fn histogram_bucket(latency_ns: u64) -> u32 {
    if latency_ns == 0 {
        0
    } else {
        63 - latency_ns.leading_zeros()
    }
}

/// Words of the server-port bitmap: one bit per port.
pub const PORT_BITMAP_WORDS: usize = (u16::MAX as usize + 1) / 64;

/// Where port `port` lives in the server-port bitmap: its word's index and its bit in it.
#[inline(always)]
pub const fn port_bit(port: u16) -> (u32, u64) {
    ((port / 64) as u32, 1u64 << (port % 64))
}

/// Why [`SocketMade`] was sent: the process connected the socket.
pub const MADE_BY_CONNECT: u8 = 1;
/// Why [`SocketMade`] was sent: the process read the socket first (of those the probe saw), so
/// it held it then: for an accepted socket, the server that accepted it (or a child it forked).
pub const MADE_BY_READ: u8 = 2;

/// One end of a TCP connection and the process that holds it, as the owners probe sees it: the
/// process that called `connect()`, or that first read the socket, named in its own context,
/// before it can exit.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketMade {
    /// Inode of the socket's network namespace (`ns.inum`).
    pub netns: u32,
    /// The process (thread group) id.
    pub tgid: u32,
    /// Its comm (the group leader's), NUL-padded.
    pub comm: [u8; 16],
    /// `AF_INET` or `AF_INET6`; a V4 address is in the first 4 bytes of `local`/`remote`.
    pub family: u16,
    pub local_port: u16,
    pub remote_port: u16,
    /// [`MADE_BY_CONNECT`] or [`MADE_BY_READ`].
    pub how: u8,
    pub _pad: u8,
    pub local: [u8; 16],
    pub remote: [u8; 16],
}

/// Byte offsets of the fields the owners probe reads, found by the loader in the running
/// kernel's BTF (their places move between kernel builds), so one object serves every kernel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockLayout {
    /// In `struct sock`: `skc_family` (u16), `sk_protocol` (u16), `skc_num` (local port, host
    /// order), `skc_dport` (network order), `skc_rcv_saddr`, `skc_daddr`, `skc_v6_rcv_saddr`,
    /// `skc_v6_daddr`, `skc_net` (a `struct net *`).
    pub family: u32,
    pub protocol: u32,
    pub num: u32,
    pub dport: u32,
    pub rcv_saddr: u32,
    pub daddr: u32,
    pub v6_rcv_saddr: u32,
    pub v6_daddr: u32,
    pub net: u32,
    /// In `struct net`: `ns.inum`.
    pub net_inum: u32,
    /// In `struct task_struct`: `group_leader` (a pointer) and `comm`.
    pub group_leader: u32,
    pub comm: u32,
    /// Non-zero once the loader has filled the rest: a zero layout makes the probe send nothing.
    pub valid: u32,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: all of these are #[repr(C)] with explicit padding and integer/array fields only.
    unsafe impl aya::Pod for super::ConnKey {}
    unsafe impl aya::Pod for super::ConnState {}
    unsafe impl aya::Pod for super::ChunkScan {}
    unsafe impl aya::Pod for super::HeadRest {}
    unsafe impl aya::Pod for super::CarriedStart {}
    unsafe impl aya::Pod for super::Tombstone {}
    unsafe impl aya::Pod for super::Answer {}
    unsafe impl aya::Pod for super::ExchangeEvent {}
    unsafe impl aya::Pod for super::ConnEndEvent {}
    unsafe impl aya::Pod for super::SocketMade {}
    unsafe impl aya::Pod for super::SockLayout {}
}

// No padding holes: sizes are the sums of the fields.
const _: () = assert!(core::mem::size_of::<ConnKey>() == 36);
const _: () = assert!(core::mem::size_of::<InFlight>() == 24 + PATH_LEN);
const _: () = assert!(core::mem::size_of::<Answer>() == 32);
const _: () = assert!(core::mem::size_of::<ChunkScan>() == 16);
const _: () = assert!(core::mem::size_of::<HeadRest>() == 16);
const _: () = assert!(core::mem::size_of::<CarriedStart>() == START_CARRY + 16);
const _: () = assert!(
    core::mem::size_of::<ConnState>()
        == 56 + 2 * 16 + 2 * 16 + 2 * (START_CARRY + 16) + 32 + MAX_IN_FLIGHT * (24 + PATH_LEN)
);
const _: () = assert!(core::mem::size_of::<Tombstone>() == 16);
const _: () = assert!(core::mem::size_of::<ExchangeEvent>() == 48 + 36 + 4 + PATH_LEN);
const _: () = assert!(core::mem::size_of::<ConnEndEvent>() == 8 + 36 + 4);
const _: () = assert!(core::mem::size_of::<ConnEndEvent>().is_multiple_of(8));
// The two records of the ring buffer are told apart by size.
const _: () =
    assert!(core::mem::size_of::<ConnEndEvent>() != core::mem::size_of::<ExchangeEvent>());
const _: () = assert!(core::mem::size_of::<ExchangeEvent>().is_multiple_of(8));
const _: () = assert!(core::mem::size_of::<SocketMade>() == 8 + 16 + 8 + 32);
const _: () = assert!(core::mem::size_of::<SockLayout>() == 13 * 4);
