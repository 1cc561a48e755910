use aya_ebpf::{
    EbpfContext,
    bindings::{BPF_NOEXIST, BPF_RB_NO_WAKEUP},
    helpers::{bpf_ktime_get_ns, bpf_loop, bpf_skb_load_bytes},
    macros::{map, socket_filter},
    maps::{Array, HashMap, LruHashMap, PerCpuArray, ProgramArray, RingBuf},
    programs::{SkBuffContext, sk_buff::SkBuff},
};
use probe_common::{
    engine::{
        self, ConnTable, MAX_MESSAGES_PER_SEGMENT, MessageRun, Payload, PortFilter, Sink, Step,
    },
    http::{Head, HeadScan, WINDOW, Window, can_start_message},
    names,
    packet::{self, ETH_P_IP, ETH_P_IPV6, HEAD_LEN, Segment, TCP_FIN, TCP_RST, skip_vlan_tags},
    wire::{
        Answer, COUNTER_SLOTS, ConnEndEvent, ConnKey, ConnState, Counter, ExchangeEvent,
        HISTOGRAM_BUCKETS, HeadRest, InFlight, PATH_LEN, PORT_BITMAP_WORDS, START_CARRY, Tombstone,
        histogram_bucket, port_bit,
    },
};

named! {
    LOOPBACK_IFINDEX = names::LOOPBACK_IFINDEX;
    PORT_FILTER = names::PORT_FILTER;
    COUNTERS = names::COUNTERS;
    LATENCY_LOG2 = names::LATENCY_LOG2;
    CONNS = names::CONNS;
    TOMBSTONES = names::TOMBSTONES;
    EVENTS = names::EVENTS;
    PORTS = names::PORTS;
    JUMP = names::JUMP;
    SCRATCH = names::SCRATCH;
    httptop = names::ENTRY_PROGRAM;
    httptop_message = names::MESSAGE_PROGRAM;
    httptop_head = names::HEAD_PROGRAM;
}

/// `__sk_buff.pkt_type` of a packet this host sends.
const PACKET_OUTGOING: u32 = 4;
/// Flag for hash maps that allocate entries on use instead of up front.
const BPF_F_NO_PREALLOC: u32 = 1;

/// Set by the loader: ifindex of `lo`, where every packet is seen twice (outgoing copy and
/// incoming copy). Elsewhere the outgoing copy is the only one.
#[unsafe(no_mangle)]
static LOOPBACK_IFINDEX: u32 = 1;
/// Set by the loader: non-zero when only the server ports in `PORTS` are watched.
#[unsafe(no_mangle)]
static PORT_FILTER: u32 = 0;

#[map]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS as u32, 0);
#[map]
static LATENCY_LOG2: PerCpuArray<u64> = PerCpuArray::with_max_entries(HISTOGRAM_BUCKETS as u32, 0);
#[map]
static CONNS: HashMap<ConnKey, ConnState> =
    HashMap::with_max_entries(names::CONNS_ENTRIES, BPF_F_NO_PREALLOC);
#[map]
static TOMBSTONES: LruHashMap<ConnKey, Tombstone> =
    LruHashMap::with_max_entries(names::TOMBSTONES_ENTRIES, 0);
#[map]
static EVENTS: RingBuf = RingBuf::with_byte_size(names::EVENTS_BYTES, 0);
/// Server-port bitmap (`wire::port_bit`).
#[map]
static PORTS: Array<u64> = Array::with_max_entries(PORT_BITMAP_WORDS as u32, 0);

/// Tail calls: each message of a segment runs in its own program run, so the verifier checks
/// one message's work once instead of every path through a loop of them.
#[map]
static JUMP: ProgramArray = ProgramArray::with_max_entries(names::JUMP_SLOTS, 0);

/// What the message program needs from the run before it (same CPU: tail calls keep it).
#[repr(C)]
pub(crate) struct Carry {
    pub(crate) seg: Segment,
    key: ConnKey,
    /// Payload offset from the start of the packet data.
    payload_base: usize,
    /// Next message's payload offset.
    off: usize,
    messages: usize,
    now_ns: u64,
}

/// Per-CPU scratch: too big for the 512-byte BPF stack.
#[repr(C)]
pub(crate) struct Scratch {
    head: [u8; HEAD_LEN],
    window: [u8; WINDOW],
    /// Where a load after a carried start goes past the window (`load_at`).
    window_slack: [u8; START_CARRY],
    pub(crate) fresh_conn: ConnState,
    pub(crate) carry: Carry,
    /// The head scanner's state lives in map memory, not on the stack: the verifier does not
    /// track map contents, so every `bpf_loop` iteration starts from the same state and the
    /// callback is verified in one or two passes instead of once per line.
    head_scan: HeadScan,
}
#[map]
static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

// The head scan reads windows 8 bytes at a time with aligned loads (`http::Window::word`), and
// paths are copied as 8-byte words (`copy_path`): the offsets that makes sound.
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(Scratch, head).is_multiple_of(8));
    assert!(offset_of!(Scratch, window).is_multiple_of(8));
    assert!(PATH_LEN.is_multiple_of(8) && offset_of!(InFlight, path).is_multiple_of(8));
    assert!(size_of::<InFlight>().is_multiple_of(8));
    assert!(offset_of!(ConnState, slots).is_multiple_of(8));
    assert!(offset_of!(ExchangeEvent, path).is_multiple_of(8));
};

/// Copies a path prefix as 8-byte words between 8-aligned places (asserted above): a plain
/// array assignment compiles to a call of a byte-at-a-time memmove.
#[inline(always)]
fn copy_path(dst: &mut [u8; PATH_LEN], src: &[u8; PATH_LEN]) {
    let (d, s) = (dst.as_mut_ptr().cast::<u64>(), src.as_ptr().cast::<u64>());
    let mut k = 0;
    while k < PATH_LEN / 8 {
        // SAFETY: both arrays are PATH_LEN bytes and 8-aligned; volatile keeps LLVM from
        // merging the words back into a memmove call.
        unsafe { core::ptr::write_volatile(d.add(k), core::ptr::read_volatile(s.add(k))) };
        k += 1;
    }
}

/// What the programs need from their context, so the socket filter and the tc classifier
/// (`tc.rs`) run the same code: the packet, where its network header starts, and the program
/// array of their tail calls (one per program type: the kernel ties a program array to the
/// type of the first program that uses it).
pub(crate) trait Packet: EbpfContext {
    /// Bytes in front of the network header (VLAN tags aside): 0 for the AF_PACKET
    /// SOCK_DGRAM socket, the Ethernet header at tc.
    const LINK_HEADER: usize;
    fn skb(&self) -> &SkBuff;
    fn jump() -> &'static ProgramArray;
}

impl Packet for SkBuffContext {
    const LINK_HEADER: usize = 0;
    #[inline(always)]
    fn skb(&self) -> &SkBuff {
        &self.skb
    }
    #[inline(always)]
    fn jump() -> &'static ProgramArray {
        &JUMP
    }
}

#[socket_filter]
pub fn httptop(ctx: SkBuffContext) -> i64 {
    let _ = try_httptop(&ctx);
    // Nothing is ever queued to the socket: results travel through maps only.
    0
}

/// Loads and parses the network and TCP headers into the per-CPU carry. Returns the scratch,
/// the bytes loaded into its `head` and the network header's offset; `Err` for packets not to
/// look at (not TCP/IP, or lo's outgoing copy).
#[inline(always)]
pub(crate) fn parse_headers<C: Packet>(
    ctx: &C,
) -> Result<(&'static mut Scratch, usize, usize), ()> {
    let skb = ctx.skb().skb;
    // SAFETY: the context pointer is valid for the program's run; these are plain reads.
    let (pkt_type, ifindex, protocol, len) =
        unsafe { ((*skb).pkt_type, (*skb).ifindex, (*skb).protocol, (*skb).len) };
    // SAFETY: a read-only global set before load.
    if pkt_type == PACKET_OUTGOING
        && ifindex == unsafe { core::ptr::read_volatile(&LOOPBACK_IFINDEX) }
    {
        return Err(());
    }
    // Unaccelerated VLAN tags lie in front of the network header.
    let (ethertype, tags_len) = skip_vlan_tags(u16::from_be(protocol as u16), |off| {
        ctx.skb()
            .load::<[u8; 2]>(C::LINK_HEADER + off)
            .ok()
            .map(u16::from_be_bytes)
    })
    .ok_or(())?;
    let net_off = C::LINK_HEADER + tags_len;
    if ethertype != ETH_P_IP && ethertype != ETH_P_IPV6 {
        return Err(());
    }
    let wire_len = (len as usize).checked_sub(net_off).ok_or(())?;
    let scratch = SCRATCH.get_ptr_mut(0).ok_or(())?;
    // SAFETY: a per-CPU map value, only used by this program run.
    let scratch = unsafe { &mut *scratch };
    let n = load_bounded(ctx, net_off, wire_len, &mut scratch.head);
    let head = Window {
        buf: &scratch.head,
        len: n,
    };
    // Parsed straight into the carry: a Segment is big for the 512-byte stack.
    if !packet::parse_into(&head, ethertype, wire_len, &mut scratch.carry.seg) {
        return Err(());
    }
    Ok((scratch, n, net_off))
}

pub(crate) fn try_httptop<C: Packet>(ctx: &C) -> Result<(), ()> {
    let (scratch, n, net_off) = parse_headers(ctx)?;
    let head = Window {
        buf: &scratch.head,
        len: n,
    };
    let seg = &scratch.carry.seg;
    // A FIN or RST ends a connection, a SYN starts one: both matter without payload.
    let opens_or_closes = seg.flags & (TCP_FIN | TCP_RST) != 0 || engine::opens(seg);
    if seg.payload_len == 0 && !opens_or_closes {
        return Ok(());
    }
    // Early exit on the first payload byte when the headers' load already holds it: only a few
    // bytes can start a request line or a status line (the engine classifies for real), and
    // a segment starting otherwise matters only on a connection already tracked (a body, or a
    // followed stream's next message inside it).
    if !opens_or_closes
        && seg.payload_off < n
        && !can_start_message(head.at(seg.payload_off))
        && !tracked(seg)
    {
        return Ok(());
    }
    let Scratch {
        window,
        fresh_conn,
        carry,
        head_scan,
        ..
    } = scratch;
    carry.payload_base = net_off + carry.seg.payload_off;
    // Volatile: LLVM would merge these stores into a call of a byte-at-a-time memset.
    // SAFETY: plain stores to fields of a live reference.
    unsafe {
        core::ptr::write_volatile(&mut carry.off, 0);
        core::ptr::write_volatile(&mut carry.messages, 0);
    }
    // SAFETY: helper without preconditions.
    carry.now_ns = unsafe { bpf_ktime_get_ns() };
    let mut conns = KernelConns { fresh: fresh_conn };
    if carry.seg.payload_len != 0 {
        let mut payload = SkbPayload {
            ctx,
            base: carry.payload_base,
            len: carry.seg.payload_len,
            head_scan,
        };
        // The connection's lookup and dedupe here, each message in the message program: the
        // verifier checks each part once.
        let begun = engine::begin_segment(
            &carry.seg,
            &mut payload,
            window,
            &mut conns,
            &mut KernelSink,
            &KernelPorts,
            carry.now_ns,
        );
        if let Some((plan, _)) = begun {
            carry.key = plan.key;
            carry.off = plan.off;
            // SAFETY: each program type's jump array holds programs of that type only.
            unsafe { C::jump().tail_call(ctx, names::MESSAGE_SLOT) };
            // Only reached when the tail call failed (program missing): say so.
            KernelSink.count(Counter::ScanIncomplete, 1);
        }
    }
    engine::end_segment(&carry.seg, &mut conns, &mut KernelSink, carry.now_ns);
    Ok(())
}

/// Whether the connection of `seg` is in the table, either way round.
#[inline(always)]
fn tracked(seg: &Segment) -> bool {
    // Map keys on the stack, not in map memory.
    let key = engine::conn_key(seg, true);
    // SAFETY: the value is not read.
    if unsafe { CONNS.get(key) }.is_some() {
        return true;
    }
    let key = engine::conn_key(seg, false);
    // SAFETY: the value is not read.
    unsafe { CONNS.get(key) }.is_some()
}

/// One message of a segment, then a tail call to itself for the next one.
#[socket_filter]
pub fn httptop_message(ctx: SkBuffContext) -> i64 {
    let _ = try_message::<_, false>(&ctx);
    0
}

/// The rest of a head that the window or the segment before ended in: a program of its own,
/// so that the verifier checks its scan apart from the message program's.
#[socket_filter]
pub fn httptop_head(ctx: SkBuffContext) -> i64 {
    let _ = try_message::<_, true>(&ctx);
    0
}

/// One step of a segment's walk: [`engine::message_step`], or with `HEAD`
/// [`engine::head_step`]; the next goes on by tail call.
// Inlined: a tail call is only allowed in a BPF function that returns an int, which a
// `Result<(), ()>` is not.
#[inline(always)]
pub(crate) fn try_message<C: Packet, const HEAD: bool>(ctx: &C) -> Result<(), ()> {
    let scratch = SCRATCH.get_ptr_mut(0).ok_or(())?;
    // SAFETY: a per-CPU map value, only used by this program run.
    let Scratch {
        window,
        fresh_conn,
        carry,
        head_scan,
        ..
    } = unsafe { &mut *scratch };
    let mut conns = KernelConns { fresh: fresh_conn };
    let mut payload = SkbPayload {
        ctx,
        base: carry.payload_base,
        len: carry.seg.payload_len,
        head_scan,
    };
    // A map key must live on the stack, not in a map value.
    let key = carry.key;
    if let Some(state) = conns.get(&key) {
        let mut run = MessageRun {
            seg: &carry.seg,
            payload: &mut payload,
            window,
            sink: &mut KernelSink,
            now_ns: carry.now_ns,
        };
        let step = if HEAD {
            engine::head_step(&mut run, &key, state, carry.off)
        } else {
            engine::message_step(&mut run, &key, state, carry.off)
        };
        let (slot, next) = match step {
            Step::Next(next) => (names::MESSAGE_SLOT, next),
            Step::Head(next) => (names::HEAD_SLOT, next),
            Step::Done => (u32::MAX, 0),
        };
        if slot != u32::MAX {
            if carry.messages + 1 < MAX_MESSAGES_PER_SEGMENT {
                carry.off = next;
                carry.messages += 1;
                // SAFETY: each program type's jump array holds programs of that type only.
                unsafe { C::jump().tail_call(ctx, slot) };
            }
            KernelSink.count(Counter::ScanIncomplete, 1);
        }
    }
    engine::end_segment(&carry.seg, &mut conns, &mut KernelSink, carry.now_ns);
    Ok(())
}

/// Loads `min(want, N)` bytes at `offset` into `dst`; returns how many (0 on failure).
#[inline(always)]
fn load_bounded<C: Packet, const N: usize>(
    ctx: &C,
    offset: usize,
    want: usize,
    dst: &mut [u8; N],
) -> usize {
    let n = if want < N { want } else { N };
    // The verifier must see the length within [1, N] on the very register passed to the
    // helper; black_box stops LLVM from folding the check into the min above.
    let n = core::hint::black_box(n);
    if n == 0 || n > N {
        return 0;
    }
    // SAFETY: dst is N bytes and n <= N.
    let ret = unsafe {
        bpf_skb_load_bytes(
            ctx.skb().skb.cast(),
            offset as u32,
            dst.as_mut_ptr().cast(),
            n as u32,
        )
    };
    if ret == 0 { n } else { 0 }
}

struct SkbPayload<'a, C> {
    ctx: &'a C,
    /// Payload offset from the start of the packet data.
    base: usize,
    len: usize,
    head_scan: &'a mut HeadScan,
}

impl<C: Packet> Payload for SkbPayload<'_, C> {
    #[inline(always)]
    fn load(&mut self, off: usize, dst: &mut [u8; WINDOW]) -> usize {
        if off >= self.len {
            return 0;
        }
        // bpf_skb_load_bytes, not the _relative variant: on lo the payload lives in page
        // fragments that the relative helper cannot reach.
        load_bounded(self.ctx, self.base + off, self.len - off, dst)
    }

    #[inline(always)]
    fn load_at(&mut self, off: usize, dst: &mut [u8; WINDOW], at: usize) -> usize {
        if off >= self.len {
            return 0;
        }
        let at = core::hint::black_box(at) & (START_CARRY - 1);
        let want = self.len - off;
        let n = if want < WINDOW - at {
            want
        } else {
            WINDOW - at
        };
        // As in load_bounded: the verifier must see both bounds on the registers passed. It
        // cannot tell that at + n stays within the window, only within it and its slack.
        let n = core::hint::black_box(n);
        if n == 0 || n > WINDOW {
            return 0;
        }
        // SAFETY: dst is always `Scratch::window` (the only window there is), followed by
        // `Scratch::window_slack`: at + n is within both.
        let ret = unsafe {
            bpf_skb_load_bytes(
                self.ctx.skb().skb.cast(),
                (self.base + off) as u32,
                dst.as_mut_ptr().add(at).cast(),
                n as u32,
            )
        };
        if ret == 0 { n } else { 0 }
    }

    #[inline(always)]
    fn load_carry(&mut self, off: usize, dst: &mut [u8; START_CARRY]) -> usize {
        if off >= self.len {
            return 0;
        }
        load_bounded(self.ctx, self.base + off, self.len - off, dst)
    }

    #[inline(always)]
    fn scan_head(&mut self, w: &Window) -> Head {
        self.run_head_scan::<false>(w, None)
    }

    #[inline(always)]
    fn scan_head_rest(&mut self, w: &Window, rest: &HeadRest) -> Head {
        self.run_head_scan::<true>(w, Some(rest))
    }
}

impl<C: Packet> SkbPayload<'_, C> {
    /// The head scan's steps, full ones or quick ones, run under `bpf_loop`.
    #[inline(always)]
    fn run_head_scan<const FULL: bool>(&mut self, w: &Window, rest: Option<&HeadRest>) -> Head {
        // Volatile: a plain assignment compiles to a call of a byte-at-a-time memset.
        // SAFETY: a store through a live reference.
        unsafe { core::ptr::write_volatile(&mut *self.head_scan, HeadScan::new()) };
        if let Some(rest) = rest {
            self.head_scan.resume(rest);
        }
        let mut ctx = HeadScanCtx {
            scan: &mut *self.head_scan,
            window: w.buf,
            len: w.len,
        };
        // SAFETY: the callback gets back exactly the context pointer given here.
        unsafe {
            bpf_loop(
                // Each step consumes at least one byte; a step that ends the scan returns 1.
                w.len.min(WINDOW) as u32,
                head_scan_step::<FULL> as *mut core::ffi::c_void,
                (&raw mut ctx).cast(),
                0,
            );
        }
        ctx.scan.head()
    }
}

struct HeadScanCtx<'a> {
    scan: &'a mut HeadScan,
    window: &'a [u8; WINDOW],
    len: usize,
}

/// One `bpf_loop` iteration of the head scan (one header line): returns 1 to stop.
extern "C" fn head_scan_step<const FULL: bool>(index: u64, ctx: *mut core::ffi::c_void) -> i64 {
    // SAFETY: bpf_loop passes back the HeadScanCtx given in scan_head.
    let ctx = unsafe { &mut *ctx.cast::<HeadScanCtx>() };
    let w = Window {
        buf: ctx.window,
        len: ctx.len,
    };
    let _ = index;
    i64::from(if FULL {
        ctx.scan.step(&w)
    } else {
        ctx.scan.quick_step(&w)
    })
}

pub(crate) struct KernelConns<'a> {
    /// A per-CPU template to insert from (a ConnState does not fit on the BPF stack).
    pub(crate) fresh: &'a mut ConnState,
}

impl ConnTable for KernelConns<'_> {
    #[inline(always)]
    fn get(&mut self, key: &ConnKey) -> Option<&mut ConnState> {
        // SAFETY: a map value pointer, valid for this run.
        CONNS.get_ptr_mut(key).map(|p| unsafe { &mut *p })
    }

    #[inline(always)]
    fn get_or_create(&mut self, key: &ConnKey, now_ns: u64) -> Option<&mut ConnState> {
        if let Some(p) = CONNS.get_ptr_mut(key) {
            // SAFETY: a map value pointer, valid for this run.
            return Some(unsafe { &mut *p });
        }
        let f = &mut *self.fresh;
        f.last_seen_ns = now_ns;
        f.start_ns = now_ns;
        f.next_seq = [0; 2];
        f.requests = 0;
        f.responses = 0;
        f.flags = 0;
        f.msg_seq = [0; 2];
        f._pad = 0;
        // By reference: a ConnState copied by value would not fit on the BPF stack.
        #[allow(clippy::needless_borrows_for_generic_args)]
        CONNS.insert(key, &*f, BPF_NOEXIST as u64).ok()?;
        self.get(key)
    }

    #[inline(always)]
    fn remove(&mut self, key: &ConnKey) {
        let _ = CONNS.remove(key);
    }

    #[inline(always)]
    fn tombstone(&mut self, key: &ConnKey) -> Option<Tombstone> {
        // SAFETY: the value is copied out at once.
        unsafe { TOMBSTONES.get(key) }.copied()
    }

    #[inline(always)]
    fn bury(&mut self, key: &ConnKey, tombstone: &Tombstone) {
        let _ = TOMBSTONES.insert(key, tombstone, 0);
    }

    #[inline(always)]
    fn forget(&mut self, key: &ConnKey) {
        let _ = TOMBSTONES.remove(key);
    }
}

pub(crate) struct KernelSink;

impl Sink for KernelSink {
    #[inline(always)]
    fn count(&mut self, counter: Counter, n: u64) {
        if let Some(p) = COUNTERS.get_ptr_mut(counter as u32) {
            // SAFETY: per-CPU slot: no other writer.
            unsafe { *p += n };
        }
    }

    #[inline(always)]
    fn latency(&mut self, latency_ns: u64) {
        if let Some(p) = LATENCY_LOG2.get_ptr_mut(histogram_bucket(latency_ns)) {
            // SAFETY: per-CPU slot: no other writer.
            unsafe { *p += 1 };
        }
    }

    #[inline(always)]
    fn exchange(&mut self, key: &ConnKey, conn_start_ns: u64, request: &InFlight, answer: &Answer) {
        // No wakeup per event (it halves a busy server's throughput): user space polls.
        match EVENTS.reserve::<ExchangeEvent>(0) {
            Some(mut entry) => {
                let e = entry.as_mut_ptr();
                // SAFETY: a reserved ring-buffer record of the right size.
                unsafe {
                    (*e).request_ns = request.request_ns;
                    (*e).latency_ns = answer.latency_ns;
                    (*e).ttlb_ns = answer.ttlb_ns;
                    (*e).request_body_len = request.body_len;
                    (*e).response_body_len = answer.body_len;
                    (*e).conn_start_ns = conn_start_ns;
                    (*e).key = *key;
                    (*e).status = answer.status;
                    (*e).method = request.method;
                    (*e).path_len = request.path_len;
                    copy_path(&mut (*e).path, &request.path);
                }
                entry.submit(BPF_RB_NO_WAKEUP as u64);
            }
            None => self.count(Counter::EventsLost, 1),
        }
    }

    #[inline(always)]
    fn connection_ended(&mut self, key: &ConnKey, conn_start_ns: u64) {
        // Best effort: a full ring buffer loses the mark (the row just stays open), never a
        // count.
        if let Some(mut entry) = EVENTS.reserve::<ConnEndEvent>(0) {
            let e = entry.as_mut_ptr();
            // SAFETY: a reserved ring-buffer record of the right size.
            unsafe {
                (*e).conn_start_ns = conn_start_ns;
                (*e).key = *key;
                (*e)._pad = [0; 4];
            }
            entry.submit(BPF_RB_NO_WAKEUP as u64);
        }
    }
}

struct KernelPorts;

impl PortFilter for KernelPorts {
    #[inline(always)]
    fn watches(&self, server_port: u16) -> bool {
        // SAFETY: a read-only global set before load.
        if unsafe { core::ptr::read_volatile(&PORT_FILTER) } == 0 {
            return true;
        }
        let (word, bit) = port_bit(server_port);
        match PORTS.get(word) {
            Some(bits) => bits & bit != 0,
            None => false,
        }
    }
}
