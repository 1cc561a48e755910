//! The kernel objects user space finds by name (programs, maps, globals), and the sizes both
//! sides rely on. The kernel's statics and functions carry these very names (its build checks
//! each against the constant), the loader and the bench look them up by them, and a test of the
//! app finds every one of them in the embedded object.

/// The socket filter every tap's socket runs.
pub const ENTRY_PROGRAM: &str = "httptop";
/// One message of a segment, reached from [`ENTRY_PROGRAM`] by tail call through [`JUMP`].
pub const MESSAGE_PROGRAM: &str = "httptop_message";
/// The rest of a head that a segment or the window ended in, reached from
/// [`MESSAGE_PROGRAM`] by tail call through [`JUMP`].
pub const HEAD_PROGRAM: &str = "httptop_head";
/// The tc classifier (`--attach tc`): [`ENTRY_PROGRAM`]'s rules on a clsact/TCX hook.
pub const TC_ENTRY_PROGRAM: &str = "httptop_tc";
/// One message of a segment, reached from [`TC_ENTRY_PROGRAM`] by tail call through [`JUMP_TC`].
pub const TC_MESSAGE_PROGRAM: &str = "httptop_tc_msg";
/// [`HEAD_PROGRAM`] for the tc classifiers, through [`JUMP_TC`].
pub const TC_HEAD_PROGRAM: &str = "httptop_tc_head";
/// Benchmark control (cargo feature `bench-controls`): returns at once.
pub const NULL_CONTROL_PROGRAM: &str = "httptop_null";
/// Benchmark control (cargo feature `bench-controls`): loads and parses the headers, then stops.
pub const HEADERS_CONTROL_PROGRAM: &str = "httptop_headers";
/// Benchmark control (cargo feature `bench-controls`): pairs by port, reads no payload byte.
pub const PAIRING_CONTROL_PROGRAM: &str = "httptop_pairing";

/// The programs of every build.
pub const PROGRAMS: [&str; 3] = [ENTRY_PROGRAM, MESSAGE_PROGRAM, HEAD_PROGRAM];
/// The tc classifiers of every build.
pub const TC_PROGRAMS: [&str; 3] = [TC_ENTRY_PROGRAM, TC_MESSAGE_PROGRAM, TC_HEAD_PROGRAM];
/// The programs [`JUMP`] holds, by slot.
pub const TAIL_PROGRAMS: [&str; JUMP_SLOTS as usize] = [MESSAGE_PROGRAM, HEAD_PROGRAM];
/// The programs [`JUMP_TC`] holds, by slot.
pub const TC_TAIL_PROGRAMS: [&str; JUMP_SLOTS as usize] = [TC_MESSAGE_PROGRAM, TC_HEAD_PROGRAM];
/// The programs built only with cargo feature `bench-controls`.
pub const CONTROL_PROGRAMS: [&str; 3] = [
    NULL_CONTROL_PROGRAM,
    HEADERS_CONTROL_PROGRAM,
    PAIRING_CONTROL_PROGRAM,
];

/// Per-CPU array of [`crate::wire::COUNTER_SLOTS`] counters, indexed by [`crate::wire::Counter`].
pub const COUNTERS: &str = "COUNTERS";
/// Per-CPU array of [`crate::wire::HISTOGRAM_BUCKETS`] log2 latency buckets.
pub const LATENCY_LOG2: &str = "LATENCY_LOG2";
/// Hash map of [`CONNS_ENTRIES`]: connection tuple → [`crate::wire::ConnState`].
pub const CONNS: &str = "CONNS";
/// Ring buffer of [`EVENTS_BYTES`] carrying [`crate::wire::ExchangeEvent`]s.
pub const EVENTS: &str = "EVENTS";
/// Array of [`crate::wire::PORT_BITMAP_WORDS`]: the server-port bitmap of `-p`.
pub const PORTS: &str = "PORTS";
/// LRU hash of [`TOMBSTONES_ENTRIES`]: connection tuple → [`crate::wire::Tombstone`] of the
/// connections that ended lately.
pub const TOMBSTONES: &str = "TOMBSTONES";
/// Program array of [`JUMP_SLOTS`]: [`TAIL_PROGRAMS`], slot by slot.
pub const JUMP: &str = "JUMP";
/// Program array of [`JUMP_SLOTS`] for the tc classifiers (a program array serves one program
/// type): [`TC_TAIL_PROGRAMS`], slot by slot.
pub const JUMP_TC: &str = "JUMP_TC";
/// Per-CPU scratch memory of the kernel programs (user space never reads it).
pub const SCRATCH: &str = "SCRATCH";

/// Every map of the object.
pub const MAPS: [&str; 9] = [
    COUNTERS,
    LATENCY_LOG2,
    CONNS,
    TOMBSTONES,
    EVENTS,
    PORTS,
    JUMP,
    JUMP_TC,
    SCRATCH,
];

/// Global set by the loader: ifindex of `lo`, whose outgoing copies the filter drops.
pub const LOOPBACK_IFINDEX: &str = "LOOPBACK_IFINDEX";
/// Global set by the loader: non-zero when only the server ports in [`PORTS`] are watched.
pub const PORT_FILTER: &str = "PORT_FILTER";

/// Every global the loader sets.
pub const GLOBALS: [&str; 2] = [LOOPBACK_IFINDEX, PORT_FILTER];

/// The owners probe (a second object, `httptop-owners`, loaded once for every namespace): raw
/// tracepoint programs, each at its tracepoint: [`OWNERS_PROGRAM`] sees sockets change state
/// (who connected each one), [`READERS_PROGRAM`] sees them read (who first read each one).
pub const OWNERS_PROGRAM: &str = "httptop_owners";
pub const OWNERS_TRACEPOINT: &str = "inet_sock_set_state";
pub const READERS_PROGRAM: &str = "httptop_readers";
pub const READERS_TRACEPOINT: &str = "sock_recv_length";
/// Every program of the owners probe and its tracepoint.
pub const OWNER_PROGRAMS: [(&str, &str); 2] = [
    (OWNERS_PROGRAM, OWNERS_TRACEPOINT),
    (READERS_PROGRAM, READERS_TRACEPOINT),
];
/// Ring buffer of [`OWNERS_BYTES`] carrying [`crate::wire::SocketMade`]s.
pub const OWNERS: &str = "OWNERS";
/// Per-CPU array of one counter: [`crate::wire::SocketMade`]s lost to a full [`OWNERS`] or
/// [`ACCEPTED`].
pub const OWNERS_LOST: &str = "OWNERS_LOST";
/// LRU hash of [`CONNECTING_ENTRIES`]: socket address → the process connecting it.
pub const CONNECTING: &str = "CONNECTING";
/// Hash of [`ACCEPTED_ENTRIES`]: addresses of the sockets accepted and not read yet.
pub const ACCEPTED: &str = "ACCEPTED";
/// The owners probe's maps.
pub const OWNER_MAPS: [&str; 4] = [OWNERS, OWNERS_LOST, CONNECTING, ACCEPTED];
/// Global set by the loader: the [`crate::wire::SockLayout`] of the running kernel.
pub const SOCK_LAYOUT: &str = "SOCK_LAYOUT";
/// Bytes of [`OWNERS`] (about 29,000 records, a connection with both ends local sends two,
/// between two drains).
pub const OWNERS_BYTES: u32 = 2 << 20;
/// Connects in progress remembered at once.
pub const CONNECTING_ENTRIES: u32 = 16384;
/// Sockets accepted and not read yet at once; past it a new one is not told.
pub const ACCEPTED_ENTRIES: u32 = 16384;

/// Connections tracked at once: an entry per connection with a request outstanding or sequence
/// numbers to keep. The offline reader bounds its table the same.
pub const CONNS_ENTRIES: u32 = 65536;
/// Connections that ended remembered at once ([`TOMBSTONES`]): the least recently used are
/// forgotten first, so tombstones never keep a live connection out of [`CONNS`]. Enough for
/// the connections a busy host closes in the second or two in which late copies arrive.
pub const TOMBSTONES_ENTRIES: u32 = 32768;
/// Bytes of the event ring buffer (about 75,000 events).
pub const EVENTS_BYTES: u32 = 8 << 20;
/// Slots of [`JUMP`].
pub const JUMP_SLOTS: u32 = 2;
/// The slot of [`JUMP`] that holds [`MESSAGE_PROGRAM`].
pub const MESSAGE_SLOT: u32 = 0;
/// The slot of [`JUMP`] that holds [`HEAD_PROGRAM`].
pub const HEAD_SLOT: u32 = 1;

/// `a == b`, usable in a constant: lets the kernel check at build time that an identifier
/// (`stringify!`ed) is the name a constant here gives it.
pub const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
