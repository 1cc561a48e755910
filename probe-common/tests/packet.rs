//! IPv4/IPv6 + TCP header parsing.

use probe_common::{
    http::Window,
    packet::{ETH_P_IP, ETH_P_IPV6, HEAD_LEN, TCP_FIN, parse, v4_mapped},
};

fn tcp(sport: u16, dport: u16, seq: u32, doff_words: u8, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; usize::from(doff_words) * 4];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = doff_words << 4;
    t[13] = flags;
    t
}

fn ipv4(ihl_words: u8, proto: u8, frag: u16, l4: &[u8], payload: &[u8]) -> Vec<u8> {
    let hl = usize::from(ihl_words) * 4;
    let total = hl + l4.len() + payload.len();
    let mut p = vec![0u8; hl];
    p[0] = 0x40 | ihl_words;
    p[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    p[6..8].copy_from_slice(&frag.to_be_bytes());
    p[9] = proto;
    p[12..16].copy_from_slice(&[10, 0, 0, 1]);
    p[16..20].copy_from_slice(&[10, 0, 0, 2]);
    p.extend_from_slice(l4);
    p.extend_from_slice(payload);
    p
}

fn parse_bytes(bytes: &[u8], ethertype: u16) -> Option<probe_common::packet::Segment> {
    let mut buf = [0u8; HEAD_LEN];
    let n = bytes.len().min(HEAD_LEN);
    buf[..n].copy_from_slice(&bytes[..n]);
    parse(&Window { buf: &buf, len: n }, ethertype, bytes.len())
}

#[test]
fn ipv4_tcp_with_options_on_both_layers() {
    let l4 = tcp(40000, 8080, 7, 8, TCP_FIN); // 12 bytes of TCP options
    let pkt = ipv4(6, 6, 0x4000, &l4, b"GET / HTTP/1.1\r\n\r\n"); // DF set, 4 bytes of IP options
    let s = parse_bytes(&pkt, ETH_P_IP).unwrap();
    assert_eq!(s.src_addr, v4_mapped([10, 0, 0, 1]));
    assert_eq!(s.dst_addr, v4_mapped([10, 0, 0, 2]));
    assert_eq!(
        (s.src_port, s.dst_port, s.seq, s.flags),
        (40000, 8080, 7, TCP_FIN)
    );
    assert_eq!(s.payload_off, 24 + 32);
    assert_eq!(s.payload_len, 18);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let l4 = tcp(1, 2, 0, 5, 0);
    let mut pkt = ipv4(5, 6, 0, &l4, b"");
    pkt.extend_from_slice(&[0; 6]); // a 60-byte minimum frame's padding
    assert_eq!(parse_bytes(&pkt, ETH_P_IP).unwrap().payload_len, 0);
}

#[test]
fn non_tcp_fragments_and_garbage_are_rejected() {
    let l4 = tcp(1, 2, 0, 5, 0);
    assert!(parse_bytes(&ipv4(5, 17, 0, &l4, b"x"), ETH_P_IP).is_none()); // UDP
    assert!(parse_bytes(&ipv4(5, 6, 0x0010, &l4, b"x"), ETH_P_IP).is_none()); // later fragment
    let mut short_ihl = ipv4(5, 6, 0, &l4, b"x");
    short_ihl[0] = 0x44;
    assert!(parse_bytes(&short_ihl, ETH_P_IP).is_none()); // IHL < 5
    assert!(parse_bytes(&[0x45, 0, 0], ETH_P_IP).is_none()); // truncated
    assert!(parse_bytes(&ipv4(5, 6, 0, &tcp(1, 2, 0, 4, 0), b""), ETH_P_IP).is_none()); // doff < 5
    assert!(parse_bytes(&ipv4(5, 6, 0, &l4, b"x"), 0x0806).is_none()); // ARP
}

#[test]
fn ipv6_tcp() {
    let l4 = tcp(50000, 80, 99, 5, 0);
    let payload = b"HTTP/1.1 200 OK\r\n";
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&((l4.len() + payload.len()) as u16).to_be_bytes());
    p[6] = 6;
    p[23] = 1; // ::1
    p[39] = 1;
    p.extend_from_slice(&l4);
    p.extend_from_slice(payload);
    let s = parse_bytes(&p, ETH_P_IPV6).unwrap();
    let mut one = [0u8; 16];
    one[15] = 1;
    assert_eq!(s.src_addr, one);
    assert_eq!((s.src_port, s.dst_port, s.seq), (50000, 80, 99));
    assert_eq!((s.payload_off, s.payload_len), (60, payload.len()));
}

/// IPv6 with the extension headers `chain` (next-header values, each header 8 bytes long but
/// the routing one, 24; `fragment_offset` in the fragment header) in front of TCP and payload.
fn ipv6_with(chain: &[u8], fragment_offset: u16, payload: &[u8]) -> Vec<u8> {
    let l4 = tcp(50000, 80, 7, 5, 0);
    let mut extensions = Vec::new();
    for (i, &kind) in chain.iter().enumerate() {
        let next = chain.get(i + 1).copied().unwrap_or(6);
        let mut header = vec![next, 0, 0, 0, 0, 0, 0, 0];
        match kind {
            43 => {
                header[1] = 2;
                header.resize(24, 0);
            }
            44 => header[2..4].copy_from_slice(&(fragment_offset << 3).to_be_bytes()),
            _ => {}
        }
        extensions.extend_from_slice(&header);
    }
    let mut p = vec![0u8; 40];
    p[0] = 0x60;
    let len = extensions.len() + l4.len() + payload.len();
    p[4..6].copy_from_slice(&(len as u16).to_be_bytes());
    p[6] = chain.first().copied().unwrap_or(6);
    p.extend_from_slice(&extensions);
    p.extend_from_slice(&l4);
    p.extend_from_slice(payload);
    p
}

#[test]
fn ipv6_extension_headers_are_looked_through_up_to_the_bound() {
    let payload = b"GET / HTTP/1.1\r\n\r\n";
    // Hop-by-hop, routing (24 bytes), a first fragment, destination options.
    let p = ipv6_with(&[0, 43, 44, 60], 0, payload);
    let s = parse_bytes(&p, ETH_P_IPV6).expect("four extension headers are looked through");
    assert_eq!((s.src_port, s.dst_port, s.seq), (50000, 80, 7));
    assert_eq!(
        (s.payload_off, s.payload_len),
        (40 + 48 + 20, payload.len())
    );
    // One more is past the bound; a later fragment has no TCP header; ESP, AH and "no next
    // header" are not looked into.
    assert!(parse_bytes(&ipv6_with(&[0, 60, 60, 60, 60], 0, payload), ETH_P_IPV6).is_none());
    assert!(parse_bytes(&ipv6_with(&[44], 185, payload), ETH_P_IPV6).is_none());
    for other in [50, 51, 59] {
        let mut p = ipv6_with(&[], 0, payload);
        p[6] = other;
        assert!(parse_bytes(&p, ETH_P_IPV6).is_none(), "next header {other}");
    }
    // A chain cut short by the end of the packet is not TCP.
    let p = ipv6_with(&[0, 60], 0, b"");
    assert!(parse_bytes(&p[..44], ETH_P_IPV6).is_none());
}

/// `count` VLAN tags (802.1ad outside, 802.1Q inside) in front of an IPv4 ethertype, as the
/// bytes after the ethertype that announces the first tag.
fn tags(count: usize) -> (u16, Vec<u8>) {
    use probe_common::packet::{ETH_P_8021AD, ETH_P_8021Q};
    let mut bytes = Vec::new();
    for k in 0..count {
        let next = if k + 1 == count {
            ETH_P_IP
        } else {
            ETH_P_8021Q
        };
        bytes.extend_from_slice(&[0x00, 0x07]);
        bytes.extend_from_slice(&next.to_be_bytes());
    }
    let first = match count {
        0 => ETH_P_IP,
        _ => ETH_P_8021AD,
    };
    (first, bytes)
}

#[test]
fn vlan_tags_are_looked_through_up_to_the_bound() {
    use probe_common::packet::{MAX_VLAN_TAGS, VLAN_TAG_LEN, skip_vlan_tags};
    for count in 0..=MAX_VLAN_TAGS + 1 {
        let (ethertype, bytes) = tags(count);
        let be16 = |off: usize| Some(u16::from_be_bytes([*bytes.get(off)?, *bytes.get(off + 1)?]));
        let skipped = skip_vlan_tags(ethertype, be16);
        if count <= MAX_VLAN_TAGS {
            assert_eq!(
                skipped,
                Some((ETH_P_IP, count * VLAN_TAG_LEN)),
                "{count} tags"
            );
        } else {
            assert_eq!(skipped, None, "{count} tags");
        }
    }
    // A tag cut short.
    assert_eq!(
        skip_vlan_tags(probe_common::packet::ETH_P_8021Q, |_| None),
        None
    );
}
