//! Benchmark controls (cargo feature `bench-controls`), never in the shipped build: filters on
//! the same sockets that do less than httptop's, so `cargo xtask bench` can tell the cost of
//! being a packet tap, of knowing a packet's connection and of pairing in the kernel at all
//! from the cost of httptop's own work.
use aya_ebpf::{helpers::bpf_ktime_get_ns, macros::socket_filter, programs::SkBuffContext};
use probe_common::{
    engine::{self, ConnTable as _, Sink as _},
    names,
    wire::{Counter, MAX_IN_FLIGHT},
};

use crate::programs::{KernelConns, KernelSink, parse_headers};

named! {
    httptop_null = names::NULL_CONTROL_PROGRAM;
    httptop_headers = names::HEADERS_CONTROL_PROGRAM;
    httptop_pairing = names::PAIRING_CONTROL_PROGRAM;
}

/// Returns at once: what remains is the cost of the packet sockets themselves.
#[socket_filter]
pub fn httptop_null(_ctx: SkBuffContext) -> i64 {
    0
}

/// Loads and parses the headers exactly as `httptop` does, then stops: the
/// least a filter must do to know a packet's connection.
#[socket_filter]
pub fn httptop_headers(ctx: SkBuffContext) -> i64 {
    let _ = parse_headers(&ctx);
    0
}

/// The least any filter that pairs requests with responses in the kernel
/// must do. Loads and parses the headers as `httptop` does, takes the lower port as the
/// server's (no payload byte is read: no HTTP parse, no header scan, no dedupe), records the
/// request's time in the connection's state and, for the answer, sends the exchange event.
#[socket_filter]
pub fn httptop_pairing(ctx: SkBuffContext) -> i64 {
    let _ = try_pairing(&ctx);
    0
}

fn try_pairing(ctx: &SkBuffContext) -> Result<(), ()> {
    let (scratch, _, _) = parse_headers(ctx)?;
    let seg = &scratch.carry.seg;
    if seg.payload_len == 0 {
        return Ok(());
    }
    let from_client = seg.dst_port < seg.src_port;
    let key = engine::conn_key(seg, from_client);
    // SAFETY: helper without preconditions.
    let now_ns = unsafe { bpf_ktime_get_ns() };
    let mut conns = KernelConns {
        fresh: &mut scratch.fresh_conn,
    };
    let state = conns.get_or_create(&key, now_ns).ok_or(())?;
    state.last_seen_ns = now_ns;
    if from_client {
        // httptop's request step less the request line: only the time is kept.
        let slot = &mut state.slots[state.requests as usize % MAX_IN_FLIGHT];
        slot.request_ns = now_ns;
        state.requests = state.requests.wrapping_add(1);
        KernelSink.count(Counter::Requests, 1);
    } else {
        // Paired exactly as httptop pairs, with a final status for the answer.
        engine::on_response(state, &mut KernelSink, &key, 200, now_ns);
        engine::send_answer(state, &mut KernelSink, &key, now_ns);
    }
    Ok(())
}
