//! VLAN tags, then IPv4/IPv6 + TCP headers from the network header on (what an AF_PACKET
//! `SOCK_DGRAM` socket filter sees, and what the pcap reader hands over after the link header).

use crate::http::Window;

/// Bytes loaded to parse the network and transport headers: IPv4 with options (60) + the fixed
/// TCP header (20) fit, and for common packets the first payload bytes come along for free.
pub const HEAD_LEN: usize = 128;

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86DD;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88A8;
const IPPROTO_TCP: u8 = 6;
/// IPv6 extension headers looked through in front of TCP (RFC 8200 §4): hop-by-hop options,
/// routing, fragment, destination options. Others (ESP, AH, no next header) are not TCP as
/// far as httptop can tell.
const IPV6_HOP_BY_HOP: u8 = 0;
const IPV6_ROUTING: u8 = 43;
const IPV6_FRAGMENT: u8 = 44;
const IPV6_DESTINATION: u8 = 60;
/// Extension headers looked through at most; a longer chain is not looked at, by the kernel
/// and by the offline reader alike.
pub const MAX_IPV6_EXTENSIONS: usize = 4;

/// VLAN tags (802.1Q, 802.1ad) looked through in front of the network header: QinQ's two, and
/// the deeper stacks some carriers' networks build (zeek's `vlan-qinqinq` capture has three).
/// A frame with more is not looked at, by the kernel and by the offline reader alike.
pub const MAX_VLAN_TAGS: usize = 4;
/// Bytes of one VLAN tag: the tag control field, then the ethertype of what follows.
pub const VLAN_TAG_LEN: usize = 4;

/// Whether `ethertype` announces a VLAN tag.
#[inline(always)]
pub const fn is_vlan(ethertype: u16) -> bool {
    ethertype == ETH_P_8021Q || ethertype == ETH_P_8021AD
}

/// Looks through the VLAN tags in front of the network header. `ethertype` is the one that
/// precedes the tags; `be16_at(off)` reads the big-endian u16 at offset `off` from the first
/// tag. Returns the network header's ethertype and its offset from the first tag; `None` past
/// [`MAX_VLAN_TAGS`] tags or when a tag cannot be read.
#[inline(always)]
pub fn skip_vlan_tags(
    mut ethertype: u16,
    mut be16_at: impl FnMut(usize) -> Option<u16>,
) -> Option<(u16, usize)> {
    let mut off = 0;
    let mut tags = 0;
    while tags < MAX_VLAN_TAGS && is_vlan(ethertype) {
        ethertype = be16_at(off + 2)?;
        off += VLAN_TAG_LEN;
        tags += 1;
    }
    if is_vlan(ethertype) {
        return None;
    }
    Some((ethertype, off))
}

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// A TCP segment's addressing and where its payload lies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// IPv4 addresses IPv4-mapped, as in [`crate::wire::ConnKey`].
    pub src_addr: [u8; 16],
    pub dst_addr: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub flags: u8,
    /// Offset of the payload from the network header.
    pub payload_off: usize,
    pub payload_len: usize,
}

/// `addr` as an IPv4-mapped IPv6 address.
#[inline(always)]
pub const fn v4_mapped(a: [u8; 4]) -> [u8; 16] {
    // As one integer: in BPF two 8-byte stores, where an array literal costs a memset call.
    ((0xffff_u128 << 32) | u32::from_be_bytes(a) as u128).to_be_bytes()
}

/// Parses IPv4 or IPv6 (by `ethertype`) and TCP from the start of `w`; `wire_len` is the
/// packet's length from the network header (the window may hold fewer bytes).
/// Non-TCP and fragments other than the first yield `None`; IPv6 extension headers are looked
/// through, up to [`MAX_IPV6_EXTENSIONS`] of them within the window.
pub fn parse<const N: usize>(w: &Window<N>, ethertype: u16, wire_len: usize) -> Option<Segment> {
    let mut seg = Segment {
        src_addr: [0; 16],
        dst_addr: [0; 16],
        src_port: 0,
        dst_port: 0,
        seq: 0,
        flags: 0,
        payload_off: 0,
        payload_len: 0,
    };
    if parse_into(w, ethertype, wire_len, &mut seg) {
        Some(seg)
    } else {
        None
    }
}

/// [`parse`] into caller-provided memory (the kernel keeps it in a map, off the small stack).
/// Returns false, leaving `seg` partly written, when the packet is not a TCP segment.
// Not inlined: its own BPF stack frame.
#[inline(never)]
pub fn parse_into<const N: usize>(
    w: &Window<N>,
    ethertype: u16,
    wire_len: usize,
    seg: &mut Segment,
) -> bool {
    let (l4_off, ip_end) = if ethertype == ETH_P_IP {
        // Checked once here, so the compiler drops the per-byte length checks below.
        if w.len < 20 {
            return false;
        }
        let vihl = w.at(0);
        if vihl >> 4 != 4 {
            return false;
        }
        let ihl = ((vihl & 0x0f) as usize) * 4;
        if ihl < 20 || w.at(9) != IPPROTO_TCP {
            return false;
        }
        // A non-first fragment carries no TCP header.
        if w.be16(6) & 0x1fff != 0 {
            return false;
        }
        seg.src_addr = v4_mapped(w.be32(12).to_be_bytes());
        seg.dst_addr = v4_mapped(w.be32(16).to_be_bytes());
        (ihl, w.be16(2) as usize)
    } else if ethertype == ETH_P_IPV6 {
        if w.len < 40 {
            return false;
        }
        if w.at(0) >> 4 != 6 {
            return false;
        }
        let Some(l4_off) = skip_ipv6_extensions(w) else {
            return false;
        };
        let mut k = 0;
        while k < 16 {
            seg.src_addr[k] = w.at(8 + k);
            seg.dst_addr[k] = w.at(24 + k);
            k += 1;
        }
        (l4_off, 40 + w.be16(4) as usize)
    } else {
        return false;
    };
    // Trailing link padding (short frames) is not payload: trust the IP length when it is sane.
    let end = if ip_end != 0 && ip_end <= wire_len {
        ip_end
    } else {
        wire_len
    };
    if w.len < l4_off + 20 {
        return false;
    }
    let data_off = ((w.at(l4_off + 12) >> 4) as usize) * 4;
    if data_off < 20 {
        return false;
    }
    let payload_off = l4_off + data_off;
    seg.src_port = w.be16(l4_off);
    seg.dst_port = w.be16(l4_off + 2);
    seg.seq = w.be32(l4_off + 4);
    seg.flags = w.at(l4_off + 13);
    seg.payload_off = payload_off;
    seg.payload_len = end.saturating_sub(payload_off);
    true
}

/// The offset of the TCP header behind the IPv6 header and its extension headers; `None` when
/// the chain leads elsewhere, is longer than [`MAX_IPV6_EXTENSIONS`], or holds a fragment
/// other than the first. Bytes past the window read as 0 (a hop-by-hop header that never ends
/// the chain), so a chain cut short is not TCP either.
#[inline(always)]
fn skip_ipv6_extensions<const N: usize>(w: &Window<N>) -> Option<usize> {
    let mut next = w.at(6);
    let mut off = 40;
    let mut k = 0;
    while k < MAX_IPV6_EXTENSIONS && next != IPPROTO_TCP {
        match next {
            IPV6_HOP_BY_HOP | IPV6_ROUTING | IPV6_DESTINATION => {
                // Its length in 8-byte units, past the first 8.
                let len = (w.at(off + 1) as usize + 1) * 8;
                next = w.at(off);
                off += len;
            }
            IPV6_FRAGMENT => {
                // The fragment offset (13 bits above the flags): a later fragment has no TCP
                // header.
                if w.be16(off + 2) >> 3 != 0 {
                    return None;
                }
                next = w.at(off);
                off += 8;
            }
            _ => return None,
        }
        k += 1;
    }
    (next == IPPROTO_TCP).then_some(off)
}
