//! Packets and capture files built byte by byte, for tests that feed httptop crafted input:
//! the kernel programs through BPF_PROG_TEST_RUN, and `--read` through pcap and pcapng files.

/// Ethertypes.
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;

/// TCP flags.
pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const ACK: u8 = 0x10;

/// One end of a TCP connection, IPv4.
#[derive(Clone, Copy, Debug)]
pub struct End {
    pub addr: [u8; 4],
    pub port: u16,
}

/// A TCP header (20 bytes, no options) for `seq` with `flags`.
pub fn tcp_header(from: End, to: End, seq: u32, flags: u8) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&from.port.to_be_bytes());
    t[2..4].copy_from_slice(&to.port.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t
}

/// An IPv4 packet (header without options) carrying `tcp` then `payload`.
pub fn ipv4(from: End, to: End, tcp: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut ip = vec![0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&((20 + tcp.len() + payload.len()) as u16).to_be_bytes());
    ip[8] = 64;
    ip[9] = 6;
    ip[12..16].copy_from_slice(&from.addr);
    ip[16..20].copy_from_slice(&to.addr);
    ip.extend_from_slice(tcp);
    ip.extend_from_slice(payload);
    ip
}

/// An IPv4 TCP segment from `from` to `to`.
pub fn ipv4_tcp(from: End, to: End, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    ipv4(from, to, &tcp_header(from, to, seq, flags), payload)
}

/// An Ethernet frame of `ethertype` around `payload`.
pub fn ethernet(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// pcap link types.
pub const LINKTYPE_ETHERNET: u32 = 1;
pub const LINKTYPE_RAW: u32 = 101;

/// A classic pcap file (microsecond timestamps) of `link` frames: (ns since the epoch, bytes).
pub fn pcap(link: u32, frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    f.extend_from_slice(&2u16.to_le_bytes());
    f.extend_from_slice(&4u16.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&link.to_le_bytes());
    for (ts_ns, data) in frames {
        f.extend_from_slice(&((ts_ns / 1_000_000_000) as u32).to_le_bytes());
        f.extend_from_slice(&((ts_ns % 1_000_000_000 / 1000) as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(&(data.len() as u32).to_le_bytes());
        f.extend_from_slice(data);
    }
    f
}

/// A pcapng file being written: sections, interfaces and packets, little-endian.
#[derive(Default)]
pub struct PcapNg(Vec<u8>);

impl PcapNg {
    pub fn new() -> Self {
        Self::default()
    }

    fn block(&mut self, kind: u32, body: &[u8]) {
        let mut body = body.to_vec();
        body.resize(body.len().next_multiple_of(4), 0);
        let total = (12 + body.len()) as u32;
        self.0.extend_from_slice(&kind.to_le_bytes());
        self.0.extend_from_slice(&total.to_le_bytes());
        self.0.extend_from_slice(&body);
        self.0.extend_from_slice(&total.to_le_bytes());
    }

    /// A section header: the interfaces declared before it no longer apply.
    pub fn section(mut self) -> Self {
        let mut body = 0x1a2b_3c4du32.to_le_bytes().to_vec();
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes());
        self.block(0x0a0d_0d0a, &body);
        self
    }

    /// An interface of `link` whose timestamps count units of `if_tsresol` (`None`: the
    /// default, microseconds).
    pub fn interface(mut self, link: u16, tsresol: Option<u8>) -> Self {
        let mut body = link.to_le_bytes().to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&65535u32.to_le_bytes());
        if let Some(r) = tsresol {
            body.extend_from_slice(&9u16.to_le_bytes());
            body.extend_from_slice(&1u16.to_le_bytes());
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]);
        }
        self.block(1, &body);
        self
    }

    /// An enhanced packet on interface `interface` of the current section, at `units` of that
    /// interface's timestamp unit.
    pub fn packet(mut self, interface: u32, units: u64, data: &[u8]) -> Self {
        let mut body = interface.to_le_bytes().to_vec();
        body.extend_from_slice(&((units >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(units as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        self.block(6, &body);
        self
    }

    pub fn bytes(self) -> Vec<u8> {
        self.0
    }
}
