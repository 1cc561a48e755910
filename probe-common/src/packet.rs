//! IPv4/IPv6 + TCP headers, from the network header on (what an AF_PACKET `SOCK_DGRAM` socket
//! filter sees, and what the pcap reader hands over after the link header).

use crate::http::Window;

/// Bytes loaded to parse the network and transport headers: IPv4 with options (60) + the fixed
/// TCP header (20) fit, and for common packets the first payload bytes come along for free.
pub const HEAD_LEN: usize = 128;

pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86DD;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88A8;
const IPPROTO_TCP: u8 = 6;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;

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
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a[0], a[1], a[2], a[3]]
}

/// Parses IPv4 or IPv6 (by `ethertype`) and TCP from the start of `w`; `wire_len` is the
/// packet's length from the network header (the window may hold fewer bytes).
/// Non-TCP, fragments (other than the first) and IPv6 extension headers yield `None`.
// Not inlined: its own BPF stack frame (see engine::scan_messages).
#[inline(never)]
pub fn parse<const N: usize>(w: &Window<N>, ethertype: u16, wire_len: usize) -> Option<Segment> {
    let mut src_addr = [0u8; 16];
    let mut dst_addr = [0u8; 16];
    let (l4_off, ip_end) = if ethertype == ETH_P_IP {
        let vihl = w.at(0);
        if vihl >> 4 != 4 {
            return None;
        }
        let ihl = ((vihl & 0x0f) as usize) * 4;
        if ihl < 20 || w.at(9) != IPPROTO_TCP {
            return None;
        }
        // A non-first fragment carries no TCP header.
        if w.be16(6) & 0x1fff != 0 {
            return None;
        }
        let total = w.be16(2) as usize;
        let mut k = 0;
        while k < 4 {
            src_addr[12 + k] = w.at(12 + k);
            dst_addr[12 + k] = w.at(16 + k);
            k += 1;
        }
        src_addr[10] = 0xff;
        src_addr[11] = 0xff;
        dst_addr[10] = 0xff;
        dst_addr[11] = 0xff;
        (ihl, total)
    } else if ethertype == ETH_P_IPV6 {
        if w.at(0) >> 4 != 6 || w.at(6) != IPPROTO_TCP {
            return None;
        }
        let mut k = 0;
        while k < 16 {
            src_addr[k] = w.at(8 + k);
            dst_addr[k] = w.at(24 + k);
            k += 1;
        }
        (40, 40 + w.be16(4) as usize)
    } else {
        return None;
    };
    // Trailing link padding (short frames) is not payload: trust the IP length when it is sane.
    let end = if ip_end != 0 && ip_end <= wire_len { ip_end } else { wire_len };
    if w.len < l4_off + 20 {
        return None;
    }
    let data_off = ((w.at(l4_off + 12) >> 4) as usize) * 4;
    if data_off < 20 {
        return None;
    }
    let payload_off = l4_off + data_off;
    Some(Segment {
        src_addr,
        dst_addr,
        src_port: w.be16(l4_off),
        dst_port: w.be16(l4_off + 2),
        seq: w.be32(l4_off + 4),
        flags: w.at(l4_off + 13),
        payload_off,
        payload_len: end.saturating_sub(payload_off),
    })
}
