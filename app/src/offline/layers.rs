//! From a captured frame to the IP packet the kernel's rules read: the capture's link layer,
//! then whatever the packet travelled in (MPLS, PPPoE, GRE and ERSPAN, VXLAN, Geneve, GTP-U,
//! IP in IP). A live socket sees the inner packet only where the kernel decapsulates it;
//! captures of mirrored or tunnelled traffic hold the outer layers, and tshark reads through
//! them, so `--read` does too.
//!
//! Outer IP and UDP headers are read with etherparse and the capture's own link headers with
//! pcap-parser where it knows them; the tunnel headers, which neither crate reads, are a few
//! fixed fields each, checked against their RFCs' layouts.

use etherparse::{
    IpNumber, LaxIpSlice, SlicedPacket, UdpSlice,
    defrag::{IpDefragPayloadVec, IpDefragPool},
};
use pcap_parser::{
    Linktype,
    data::{PacketData, get_packetdata},
};
use probe_common::packet::{ETH_P_IP, ETH_P_IPV6, skip_vlan_tags};

/// A layer's ethertype and bytes, when it carries one the reader follows.
type Network<'a> = Option<(u16, &'a [u8])>;

/// What a frame holds for the kernel's rules.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// An IP packet that is not a tunnel: its ethertype and bytes.
    Ip(u16, &'a [u8]),
    /// A fragment of a tunnel's outer IP packet (a mirror's GRE carrying full-size frames is
    /// fragmented on its way): the whole fragment, for [`Fragments`].
    TunnelFragment(&'a [u8]),
    /// Nothing the reader follows (ARP, another protocol, a header cut short).
    Nothing,
}

/// A link type `--read` cannot decode: the run stops rather than report zeros.
#[derive(Debug, thiserror::Error)]
#[error("link type {0} is not supported (supported: {SUPPORTED_LINKS})")]
pub struct UnsupportedLink(i32);

const SUPPORTED_LINKS: &str = "Ethernet, BSD loopback, raw IP, Linux cooked v1/v2, NFLOG, \
     PPP, PPPoE, Cisco HDLC, FDDI, 802.11 with or without radiotap";

/// Layers looked through before giving up on a frame: a tunnel in a tunnel is real (GRE in
/// GRE, VXLAN over MPLS), a loop of them is a crafted file.
const MAX_LAYERS: usize = 8;

/// Link types pcap-parser has no name for (tcpdump.org/linktypes.html).
const LINKTYPE_RAW_OPENBSD: Linktype = Linktype(12);
const LINKTYPE_PPP: Linktype = Linktype(9);
const LINKTYPE_PPP_ETHER: Linktype = Linktype(51);
const LINKTYPE_C_HDLC: Linktype = Linktype(104);
const LINKTYPE_IEEE802_11: Linktype = Linktype(105);
const LINKTYPE_IEEE802_11_RADIOTAP: Linktype = Linktype(127);

const ETH_P_TEB: u16 = 0x6558;
const ETH_P_MPLS_UC: u16 = 0x8847;
const ETH_P_MPLS_MC: u16 = 0x8848;
const ETH_P_PPPOE_SESSION: u16 = 0x8864;
const ETH_P_PPP: u16 = 0x880B;
const ETH_P_ERSPAN_II: u16 = 0x88BE;
const ETH_P_ERSPAN_III: u16 = 0x22EB;
const ETH_HEADER: usize = 14;
/// Ethertype values up to this are 802.3 lengths (an LLC header follows).
const ETH_MAX_LENGTH: u16 = 1500;

const UDP_VXLAN: u16 = 4789;
const UDP_GENEVE: u16 = 6081;
const UDP_GTP_U: u16 = 2152;
const UDP_GRE: u16 = 4754;

/// The network layer of a frame of link type `link`, through every encapsulation above;
/// `Ok(None)` for a frame of a supported link type that carries no IP.
pub fn network_layer(link: Linktype, data: &[u8]) -> Result<Decoded<'_>, UnsupportedLink> {
    let outer = match link {
        Linktype::ETHERNET => ethernet(data),
        Linktype::NULL | Linktype::LOOP => bsd_loopback(data),
        Linktype::RAW | Linktype::IPV4 | Linktype::IPV6 => raw_ip(data),
        LINKTYPE_RAW_OPENBSD => raw_ip(data),
        Linktype::LINUX_SLL | Linktype::LINUX_SLL2 | Linktype::NFLOG => {
            match get_packetdata(data, link, data.len()) {
                Some(PacketData::L3(ethertype, net)) => Some((ethertype, net)),
                Some(PacketData::L2(frame)) => ethernet(frame),
                _ => None,
            }
        }
        Linktype::FDDI => fddi(data),
        LINKTYPE_PPP => ppp(data),
        LINKTYPE_PPP_ETHER => pppoe(data),
        LINKTYPE_C_HDLC => cisco_hdlc(data),
        LINKTYPE_IEEE802_11 => wifi(data),
        LINKTYPE_IEEE802_11_RADIOTAP => radiotap(data),
        other => return Err(UnsupportedLink(other.0)),
    };
    Ok(outer.map_or(Decoded::Nothing, |(ethertype, net)| inner(ethertype, net)))
}

/// Looks through encapsulations until an IP packet that is not itself a tunnel.
fn inner(mut ethertype: u16, mut net: &[u8]) -> Decoded<'_> {
    for _ in 0..MAX_LAYERS {
        let next = match ethertype {
            ETH_P_IP | ETH_P_IPV6 => match tunnelled(net) {
                Tunnel::Carries(next) => Some(next),
                Tunnel::Fragment => return Decoded::TunnelFragment(net),
                Tunnel::No => return Decoded::Ip(ethertype, net),
            },
            ETH_P_TEB => ethernet(net),
            ETH_P_MPLS_UC | ETH_P_MPLS_MC => mpls(net),
            ETH_P_PPPOE_SESSION => pppoe(net),
            ETH_P_PPP => ppp(net),
            _ => None,
        };
        let Some(next) = next else {
            return Decoded::Nothing;
        };
        (ethertype, net) = next;
    }
    Decoded::Nothing
}

/// Tunnel fragments put back together (with etherparse's pool), keyed by their outer
/// addresses and IP id; sets left incomplete for [`FRAGMENT_TIMEOUT_NS`] are dropped.
#[derive(Default)]
pub struct Fragments(IpDefragPool<u64>);

/// How long a set of fragments waits for its missing pieces (Linux's ipfrag_time).
const FRAGMENT_TIMEOUT_NS: u64 = 30_000_000_000;

impl Fragments {
    /// Adds one fragment; the reassembled payload once the set is whole.
    pub fn add(&mut self, fragment: &[u8], now_ns: u64) -> Option<IpDefragPayloadVec> {
        let packet = SlicedPacket::from_ip(fragment).ok()?;
        self.0
            .process_sliced_packet(&packet, now_ns, ())
            .ok()
            .flatten()
    }

    pub fn expire(&mut self, now_ns: u64) {
        self.0
            .retain(|first_ns| now_ns.saturating_sub(*first_ns) < FRAGMENT_TIMEOUT_NS);
    }
}

/// What a reassembled tunnel packet carries.
pub fn reassembled(packet: &IpDefragPayloadVec) -> Decoded<'_> {
    match carried(packet.ip_number, &packet.payload) {
        Some((ethertype, net)) => inner(ethertype, net),
        None => Decoded::Nothing,
    }
}
fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn ethernet(data: &[u8]) -> Network<'_> {
    let ethertype = be16(data, 12)?;
    if ethertype <= ETH_MAX_LENGTH {
        return llc_snap(data.get(ETH_HEADER..)?);
    }
    // 802.1Q / 802.1ad tags, as the kernel looks through them.
    let (ethertype, off) = skip_vlan_tags(ethertype, |off| be16(data, ETH_HEADER + off))?;
    Some((ethertype, data.get(ETH_HEADER + off..)?))
}

/// An 802.2 LLC header with a SNAP extension carrying an ethertype (RFC 1042); other LLC
/// frames carry no IP.
fn llc_snap(data: &[u8]) -> Network<'_> {
    const LLC_SNAP: [u8; 6] = [0xAA, 0xAA, 0x03, 0, 0, 0];
    if data.get(..6)? != LLC_SNAP {
        return None;
    }
    Some((be16(data, 6)?, data.get(8..)?))
}

/// BSD loopback: a 4-byte address family in the capturing host's byte order.
fn bsd_loopback(data: &[u8]) -> Network<'_> {
    let family: [u8; 4] = data.get(..4)?.try_into().ok()?;
    let (le, be) = (u32::from_le_bytes(family), u32::from_be_bytes(family));
    let ethertype = match (le, be) {
        (2, _) | (_, 2) => ETH_P_IP,
        (24 | 28 | 30, _) | (_, 24 | 28 | 30) => ETH_P_IPV6,
        _ => return None,
    };
    Some((ethertype, data.get(4..)?))
}

/// IP with no header before it: the version nibble says which.
fn raw_ip(data: &[u8]) -> Network<'_> {
    let ethertype = match data.first()? >> 4 {
        4 => ETH_P_IP,
        6 => ETH_P_IPV6,
        _ => return None,
    };
    Some((ethertype, data))
}

/// PPP (RFC 1661), with or without the HDLC address and control bytes, and with a one- or
/// two-byte protocol field (RFC 1661 §6.5 compression).
fn ppp(data: &[u8]) -> Network<'_> {
    let data = match data.get(..2)? {
        [0xFF, 0x03] => data.get(2..)?,
        _ => data,
    };
    let (protocol, len) = if data.first()? & 1 == 1 {
        (u16::from(data[0]), 1)
    } else {
        (be16(data, 0)?, 2)
    };
    let ethertype = match protocol {
        0x21 => ETH_P_IP,
        0x57 => ETH_P_IPV6,
        _ => return None,
    };
    Some((ethertype, data.get(len..)?))
}

/// A PPPoE session frame (RFC 2516): version and type, code 0, session id, length, then PPP.
fn pppoe(data: &[u8]) -> Network<'_> {
    if *data.first()? != 0x11 || *data.get(1)? != 0 {
        return None;
    }
    ppp(data.get(6..)?)
}

/// An MPLS label stack (RFC 3032): labels up to the bottom-of-stack bit, then IP by its
/// version nibble (RFC 4385's control word, 0000, starts an Ethernet pseudowire).
fn mpls(data: &[u8]) -> Network<'_> {
    const LABEL: usize = 4;
    let mut off = 0;
    for _ in 0..MAX_LAYERS {
        let bottom = data.get(off + 2)? & 1 == 1;
        off += LABEL;
        if bottom {
            let payload = data.get(off..)?;
            return match payload.first()? >> 4 {
                0 => ethernet(payload.get(4..)?),
                _ => raw_ip(payload),
            };
        }
    }
    None
}

/// FDDI: frame control and two addresses, then LLC.
fn fddi(data: &[u8]) -> Network<'_> {
    llc_snap(data.get(13..)?)
}

/// Cisco HDLC: address, control, then an ethertype.
fn cisco_hdlc(data: &[u8]) -> Network<'_> {
    Some((be16(data, 2)?, data.get(4..)?))
}

/// A radiotap header (its length, little-endian, at byte 2) before an 802.11 frame.
fn radiotap(data: &[u8]) -> Network<'_> {
    let len = u16::from_le_bytes([*data.get(2)?, *data.get(3)?]);
    wifi(data.get(usize::from(len)..)?)
}

/// An 802.11 data frame that is not encrypted, through its LLC/SNAP header.
fn wifi(data: &[u8]) -> Network<'_> {
    const HEADER: usize = 24;
    let (fc0, fc1) = (*data.first()?, *data.get(1)?);
    let is_data = (fc0 >> 2) & 0b11 == 2;
    let protected = fc1 & 0x40 != 0;
    if !is_data || protected {
        return None;
    }
    let qos = fc0 & 0x80 != 0;
    let mut len = HEADER;
    if fc1 & 0b11 == 0b11 {
        len += 6; // to and from the distribution system: a fourth address
    }
    if qos {
        len += 2;
        if fc1 & 0x80 != 0 {
            len += 4; // HT control, present in QoS frames with the order bit
        }
    }
    llc_snap(data.get(len..)?)
}

/// Whether an IP packet is a tunnel.
enum Tunnel<'a> {
    /// It is, carrying this layer.
    Carries((u16, &'a [u8])),
    /// A fragment of a tunnel packet.
    Fragment,
    /// It is not (TCP above all, which the kernel's rules then read).
    No,
}

fn tunnelled(net: &[u8]) -> Tunnel<'_> {
    // TCP, nearly every packet read, is known from its protocol byte without parsing the
    // header (which the kernel's rules parse next).
    const IPPROTO_TCP: u8 = 6;
    let protocol = match net.first().map(|b| b >> 4) {
        Some(4) => net.get(9),
        Some(6) => net.get(6),
        _ => None,
    };
    if protocol == Some(&IPPROTO_TCP) {
        return Tunnel::No;
    }
    let Ok((ip, _)) = LaxIpSlice::from_slice(net) else {
        return Tunnel::No;
    };
    let payload = ip.payload();
    let tunnel_protocol = matches!(
        payload.ip_number,
        IpNumber::IPV4 | IpNumber::IPV6 | IpNumber::GRE | IpNumber::UDP
    );
    // A fragment's payload is not a whole header: a tunnel's waits for its set.
    if payload.fragmented {
        return if tunnel_protocol {
            Tunnel::Fragment
        } else {
            Tunnel::No
        };
    }
    carried(payload.ip_number, payload.payload).map_or(Tunnel::No, Tunnel::Carries)
}

/// The layer an IP payload of protocol `ip_number` carries, when it is a tunnel.
fn carried(ip_number: IpNumber, data: &[u8]) -> Network<'_> {
    match ip_number {
        IpNumber::IPV4 => Some((ETH_P_IP, data)),
        IpNumber::IPV6 => Some((ETH_P_IPV6, data)),
        IpNumber::GRE => gre(data),
        IpNumber::UDP => {
            let udp = UdpSlice::from_slice_lax(data).ok()?;
            udp_tunnel(udp.destination_port(), udp.source_port(), udp.payload())
        }
        _ => None,
    }
}

/// UDP tunnels by their IANA port, either side.
fn udp_tunnel(dst: u16, src: u16, data: &[u8]) -> Network<'_> {
    let port = [UDP_VXLAN, UDP_GENEVE, UDP_GTP_U, UDP_GRE]
        .into_iter()
        .find(|p| *p == dst || *p == src)?;
    match port {
        // VXLAN (RFC 7348): 8 bytes, the I flag set, then Ethernet.
        UDP_VXLAN if data.first()? & 0x08 != 0 => ethernet(data.get(8..)?),
        // Geneve (RFC 8926): 8 bytes and the options' length in 4-byte words.
        UDP_GENEVE if data.first()? >> 6 == 0 => {
            let options = usize::from(data[0] & 0x3F) * 4;
            Some((be16(data, 2)?, data.get(8 + options..)?))
        }
        UDP_GTP_U => gtp_u(data),
        UDP_GRE => gre(data),
        _ => None,
    }
}

/// GRE (RFC 2784, RFC 2890 key and sequence; RFC 2637's enhanced GRE for PPTP), and ERSPAN
/// types II and III behind it.
fn gre(data: &[u8]) -> Network<'_> {
    let (flags, version) = (*data.first()?, *data.get(1)? & 0x07);
    let (checksum, key, sequence) = (flags & 0x80 != 0, flags & 0x20 != 0, flags & 0x10 != 0);
    let acknowledgment = version == 1 && data[1] & 0x80 != 0;
    if version > 1 {
        return None;
    }
    let protocol = be16(data, 2)?;
    let len = 4
        + 4 * usize::from(checksum)
        + 4 * usize::from(key)
        + 4 * usize::from(sequence)
        + 4 * usize::from(acknowledgment);
    let payload = data.get(len..)?;
    match protocol {
        // Type II has a sequence number and an 8-byte header; type I has neither.
        ETH_P_ERSPAN_II if sequence => ethernet(payload.get(8..)?),
        ETH_P_ERSPAN_II => ethernet(payload),
        // Type III: 12 bytes, 8 more when the O flag says a platform subheader follows.
        ETH_P_ERSPAN_III => {
            let subheader = 8 * usize::from(payload.get(11)? & 1);
            ethernet(payload.get(12 + subheader..)?)
        }
        _ => Some((protocol, payload)),
    }
}

/// GTP-U (3GPP TS 29.281): a G-PDU's 8-byte header, the optional 4 bytes and extension
/// headers, then IP.
fn gtp_u(data: &[u8]) -> Network<'_> {
    const G_PDU: u8 = 0xFF;
    let flags = *data.first()?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || *data.get(1)? != G_PDU {
        return None;
    }
    let mut off = 8;
    if flags & 0x07 != 0 {
        let mut next = *data.get(11)?;
        off = 12;
        for _ in 0..MAX_LAYERS {
            if next == 0 {
                return raw_ip(data.get(off..)?);
            }
            let len = usize::from(*data.get(off)?) * 4;
            if len == 0 {
                return None;
            }
            next = *data.get(off + len - 1)?;
            off += len;
        }
        return None;
    }
    raw_ip(data.get(off..)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal IPv4 header (no options) around `payload`, protocol `proto`.
    fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
        let len = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&len.to_be_bytes());
        p.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }

    fn udp(dst: u16, payload: &[u8]) -> Vec<u8> {
        let mut u = vec![0x30, 0x39];
        u.extend_from_slice(&dst.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0, 0]);
        u.extend_from_slice(payload);
        u
    }

    fn ether(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    /// The innermost packet: TCP, which no tunnel rule looks into.
    fn tcp_packet() -> Vec<u8> {
        ipv4(6, &[0u8; 20])
    }

    fn assert_reaches_inner(link: Linktype, frame: &[u8]) {
        let inner = tcp_packet();
        assert_eq!(
            network_layer(link, frame).unwrap(),
            Decoded::Ip(ETH_P_IP, &inner[..]),
            "{frame:02x?}"
        );
    }

    #[test]
    fn every_encapsulation_reaches_the_inner_packet() {
        let inner = tcp_packet();
        let eth_inner = ether(ETH_P_IP, &inner);
        // VXLAN: flags with I, 3 reserved, VNI + reserved.
        let vxlan = [&[0x08, 0, 0, 0, 0, 0, 1, 0][..], &eth_inner].concat();
        assert_reaches_inner(
            Linktype::ETHERNET,
            &ether(ETH_P_IP, &ipv4(17, &udp(UDP_VXLAN, &vxlan))),
        );
        // Geneve with one 4-byte option, protocol Ethernet.
        let geneve = [
            &[0x01, 0, 0x65, 0x58, 0, 0, 1, 0, 9, 9, 9, 9][..],
            &eth_inner,
        ]
        .concat();
        assert_reaches_inner(
            Linktype::ETHERNET,
            &ether(ETH_P_IP, &ipv4(17, &udp(UDP_GENEVE, &geneve))),
        );
        // GTP-U with the sequence flag and one extension header of 4 bytes.
        let gtp = [
            &[0x32, 0xFF, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0x85][..],
            &[1, 0x10, 0, 0][..],
            &inner,
        ]
        .concat();
        assert_reaches_inner(Linktype::RAW, &ipv4(17, &udp(UDP_GTP_U, &gtp)));
        // GRE with key and sequence, carrying IPv4; then ERSPAN II and III behind GRE.
        let gre_ip = [&[0x30, 0, 0x08, 0, 0, 0, 0, 7, 0, 0, 0, 1][..], &inner].concat();
        assert_reaches_inner(Linktype::ETHERNET, &ether(ETH_P_IP, &ipv4(47, &gre_ip)));
        let erspan2 = [
            &[0x10, 0, 0x88, 0xBE, 0, 0, 0, 1][..],
            &[0x10, 0, 0, 0, 0, 0, 0, 0][..],
            &eth_inner,
        ]
        .concat();
        assert_reaches_inner(Linktype::RAW, &ipv4(47, &erspan2));
        let erspan3 = [
            &[0, 0, 0x22, 0xEB][..],
            &[0u8; 11][..],
            &[1],
            &[0u8; 8],
            &eth_inner,
        ]
        .concat();
        assert_reaches_inner(Linktype::RAW, &ipv4(47, &erspan3));
        // GRE in UDP, transparent Ethernet bridging.
        let gre_teb = [&[0, 0, 0x65, 0x58][..], &eth_inner].concat();
        assert_reaches_inner(Linktype::RAW, &ipv4(17, &udp(UDP_GRE, &gre_teb)));
        // IP in IP, and two MPLS labels in a VLAN tag.
        assert_reaches_inner(Linktype::RAW, &ipv4(4, &inner));
        let labels = [&[0, 0x01, 0x00, 64][..], &[0, 0x02, 0x01, 64], &inner].concat();
        let mut vlan_mpls = ether(0x8100, &[0, 5, 0x88, 0x47]);
        vlan_mpls.extend_from_slice(&labels);
        assert_reaches_inner(Linktype::ETHERNET, &vlan_mpls);
        // PPPoE session with PPP's IPv4 protocol.
        let pppoe = [&[0x11, 0, 0, 1, 0, 0][..], &[0, 0x21], &inner].concat();
        assert_reaches_inner(Linktype::ETHERNET, &ether(ETH_P_PPPOE_SESSION, &pppoe));
        // Cisco HDLC, PPP with address and control bytes, 802.3 with LLC/SNAP.
        assert_reaches_inner(LINKTYPE_C_HDLC, &[&[0x0F, 0, 8, 0][..], &inner].concat());
        assert_reaches_inner(LINKTYPE_PPP, &[&[0xFF, 3, 0, 0x21][..], &inner].concat());
        let snap = [&[0xAA, 0xAA, 3, 0, 0, 0, 8, 0][..], &inner].concat();
        assert_reaches_inner(Linktype::ETHERNET, &ether(snap.len() as u16, &snap));
        // Radiotap (8 bytes) then an 802.11 QoS data frame from the distribution system.
        let wifi = [&[0x88, 0x02][..], &[0u8; 24], &snap].concat();
        assert_reaches_inner(
            LINKTYPE_IEEE802_11_RADIOTAP,
            &[&[0, 0, 8, 0, 0, 0, 0, 0][..], &wifi].concat(),
        );
    }

    #[test]
    fn what_carries_no_ip_is_none_and_unknown_links_are_errors() {
        let inner = tcp_packet();
        // Encrypted 802.11 and non-SNAP LLC carry no IP.
        let wifi = [&[0x08, 0x42][..], &[0u8; 22], &inner].concat();
        assert_eq!(
            network_layer(LINKTYPE_IEEE802_11, &wifi).unwrap(),
            Decoded::Nothing
        );
        let llc = ether(3, &[0x42, 0x42, 3]);
        assert_eq!(
            network_layer(Linktype::ETHERNET, &llc).unwrap(),
            Decoded::Nothing
        );
        // A VXLAN header without its I flag, GTP signalling on the GTP-U port: not tunnels,
        // so left as the UDP packets they are, which the kernel's rules ignore.
        let vxlan = [&[0u8; 8][..], &ether(ETH_P_IP, &inner)].concat();
        let frame = ipv4(17, &udp(UDP_VXLAN, &vxlan));
        assert_eq!(
            network_layer(Linktype::RAW, &frame).unwrap(),
            Decoded::Ip(ETH_P_IP, &frame[..])
        );
        let gtp_c = [&[0x32, 0x10][..], &[0u8; 10], &inner].concat();
        let frame = ipv4(17, &udp(UDP_GTP_U, &gtp_c));
        assert_eq!(
            network_layer(Linktype::RAW, &frame).unwrap(),
            Decoded::Ip(ETH_P_IP, &frame[..])
        );
        // IP in IP nested past the bound.
        let mut nested = inner.clone();
        for _ in 0..MAX_LAYERS {
            nested = ipv4(4, &nested);
        }
        assert_eq!(
            network_layer(Linktype::RAW, &nested).unwrap(),
            Decoded::Nothing
        );
        let err = network_layer(Linktype(147), &inner).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("link type 147 is not supported")
        );
    }
}
