//! The same rules as the socket filter, run as a tc classifier (clsact / TCX, `sched_cls`):
//! no AF_PACKET tap to deliver to, and each packet is seen once per hook it crosses.
//!
//! Every program here returns `TC_ACT_UNSPEC` ("next"): it never drops, redirects or alters a
//! packet, and the programs attached after it still run.
use aya_ebpf::{
    bindings::TC_ACT_UNSPEC,
    macros::{classifier, map},
    maps::ProgramArray,
    programs::{TcContext, sk_buff::SkBuff},
};
use probe_common::names;

use crate::programs::{Packet, try_httptop, try_message};

named! {
    JUMP_TC = names::JUMP_TC;
    httptop_tc = names::TC_ENTRY_PROGRAM;
    httptop_tc_msg = names::TC_MESSAGE_PROGRAM;
    httptop_tc_head = names::TC_HEAD_PROGRAM;
}

/// [`crate::programs`]' jump array for the classifiers: `names::TC_TAIL_PROGRAMS`, slot by
/// slot.
#[map]
static JUMP_TC: ProgramArray = ProgramArray::with_max_entries(names::JUMP_SLOTS, 0);

/// Length of the Ethernet header in front of the network header: tc programs see the packet
/// from the link-layer header on, and the loader attaches them only to Ethernet-framed
/// interfaces (`lo` included).
const ETH_HLEN: usize = 14;

impl Packet for TcContext {
    const LINK_HEADER: usize = ETH_HLEN;
    #[inline(always)]
    fn skb(&self) -> &SkBuff {
        &self.skb
    }
    #[inline(always)]
    fn jump() -> &'static ProgramArray {
        &JUMP_TC
    }
}

#[classifier]
pub fn httptop_tc(ctx: TcContext) -> i32 {
    let _ = try_httptop(&ctx);
    TC_ACT_UNSPEC
}

/// One message of a segment, reached from `httptop_tc` by tail call through [`JUMP_TC`].
#[classifier]
pub fn httptop_tc_msg(ctx: TcContext) -> i32 {
    let _ = try_message::<_, false>(&ctx);
    TC_ACT_UNSPEC
}

/// The rest of a head, reached from `httptop_tc_msg` by tail call through [`JUMP_TC`].
#[classifier]
pub fn httptop_tc_head(ctx: TcContext) -> i32 {
    let _ = try_message::<_, true>(&ctx);
    TC_ACT_UNSPEC
}
