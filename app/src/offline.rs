//! `--read FILE`: the kernel's rules (probe_common::engine) run over a pcap or pcapng capture,
//! with connection state in a HashMap instead of a BPF map. Packet timestamps stand for
//! `bpf_ktime_get_ns()`.

use std::{
    collections::{HashMap, hash_map::Entry},
    fs::File,
    io::BufReader,
    path::Path,
    time::Duration,
};

use anyhow::{Context as _, anyhow, bail};
use pcap_file::{
    DataLink,
    pcap::PcapReader,
    pcapng::{
        Block, PcapNgReader,
        blocks::interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption},
    },
};
use probe_common::{
    engine::{self, ConnTable, PortFilter, Sink, SlicePayload},
    http::{WINDOW, Window},
    names::CONNS_ENTRIES,
    packet::{self, ETH_P_IP, ETH_P_IPV6, HEAD_LEN, skip_vlan_tags},
    wire::{
        COUNTER_SLOTS, ConnKey, ConnState, Counter, HISTOGRAM_BUCKETS, InFlight, histogram_bucket,
    },
};

use crate::{
    export::Exports,
    model::Model,
    records::{connection_end, exchange_record, totals_from_counters},
};

/// Connection table bound, as the kernel's map.
const MAX_CONNECTIONS: usize = CONNS_ENTRIES as usize;

struct MemConns(HashMap<ConnKey, ConnState>);

impl ConnTable for MemConns {
    fn get(&mut self, key: &ConnKey) -> Option<&mut ConnState> {
        self.0.get_mut(key)
    }

    fn get_or_create(&mut self, key: &ConnKey, now_ns: u64) -> Option<&mut ConnState> {
        let full = self.0.len() >= MAX_CONNECTIONS;
        match self.0.entry(*key) {
            Entry::Occupied(e) => Some(e.into_mut()),
            Entry::Vacant(_) if full => None,
            Entry::Vacant(e) => {
                // SAFETY: ConnState is plain old data; all-zero is a valid value.
                let mut state: ConnState = unsafe { std::mem::zeroed() };
                state.last_seen_ns = now_ns;
                Some(e.insert(state))
            }
        }
    }

    fn remove(&mut self, key: &ConnKey) {
        self.0.remove(key);
    }
}

/// The user-space sweeper's rule, on a table in memory, as the live sweep applies it to the
/// kernel's: connections idle for `timeout_ns` expire, then, with the table nearly full, the
/// oldest never-answered ones are dropped (`engine::evictions`). `ended` hears of every
/// connection removed; returns the requests that expired with them.
pub fn sweep_table(
    conns: &mut HashMap<ConnKey, ConnState>,
    now_ns: u64,
    timeout_ns: u64,
    mut ended: impl FnMut(&ConnKey, &ConnState),
) -> u64 {
    let mut expired = 0u64;
    conns.retain(
        |key, state| match engine::expire_idle(state, now_ns, timeout_ns) {
            Some(n) => {
                expired += u64::from(n);
                ended(key, state);
                false
            }
            None => true,
        },
    );
    let mut evictable: Vec<(u64, ConnKey)> = conns
        .iter()
        .filter(|(_, state)| engine::evictable(state))
        .map(|(key, state)| (state.last_seen_ns, *key))
        .collect();
    let evict = engine::evictions(conns.len(), &mut evictable);
    for (_, key) in &evictable[..evict] {
        if let Some(state) = conns.remove(key) {
            expired += u64::from(state.outstanding());
            ended(key, &state);
        }
    }
    expired
}

/// Counts and exchanges straight into the model (nothing can be lost offline).
struct ModelSink<'a> {
    model: &'a mut Model,
    exports: &'a Exports,
    counters: [u64; COUNTER_SLOTS],
    histogram: [u64; HISTOGRAM_BUCKETS],
}

impl Sink for ModelSink<'_> {
    fn count(&mut self, counter: Counter, n: u64) {
        self.counters[counter as usize] += n;
    }

    fn exchange(
        &mut self,
        key: &ConnKey,
        conn_start_ns: u64,
        request: &InFlight,
        status: u16,
        latency_ns: u64,
    ) {
        self.histogram[histogram_bucket(latency_ns) as usize] += 1;
        let exchange = exchange_record(key, conn_start_ns, request, status, latency_ns);
        self.exports.record(&exchange);
        self.model.record(exchange);
    }

    fn connection_ended(&mut self, key: &ConnKey, conn_start_ns: u64) {
        self.model
            .end_connection(&connection_end(key, conn_start_ns));
    }
}

struct Ports<'a>(&'a [u16]);

impl PortFilter for Ports<'_> {
    fn watches(&self, server_port: u16) -> bool {
        self.0.is_empty() || self.0.contains(&server_port)
    }
}

/// Reads the capture into `model` (and each exchange into `exports`); its totals are set at
/// the end.
pub fn read_capture(
    path: &Path,
    ports: &[u16],
    request_timeout: Duration,
    model: &mut Model,
    exports: &Exports,
) -> anyhow::Result<()> {
    let mut reader = CaptureReader::open(path)?;
    let mut conns = MemConns(HashMap::new());
    let mut sink = ModelSink {
        model,
        exports,
        counters: [0; COUNTER_SLOTS],
        histogram: [0; HISTOGRAM_BUCKETS],
    };
    let ports = Ports(ports);
    let timeout_ns = request_timeout.as_nanos() as u64;
    let mut swept_expired = 0u64;
    let mut last_sweep_ns = 0u64;
    let (mut first_ns, mut last_ns) = (None, 0u64);
    let mut window = [0u8; WINDOW];
    let mut head = [0u8; HEAD_LEN];
    loop {
        let frame = match reader.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            // A capture cut short (tcpdump killed mid-write): keep what was read, say so.
            Err(e) => {
                eprintln!(
                    "httptop: warning: {}: {e:#}; the summary covers the packets before it",
                    path.display()
                );
                break;
            }
        };
        let now_ns = frame.ts_ns;
        if first_ns.is_none() {
            first_ns = Some(now_ns);
            // Capture times are ns since the Unix epoch: the clock is the default one.
            sink.model.start(
                now_ns,
                std::time::SystemTime::UNIX_EPOCH + Duration::from_nanos(now_ns),
            );
        }
        last_ns = now_ns;
        let network = network_layer(frame.link, &frame.data)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        if let Some((ethertype, net)) = network {
            let n = net.len().min(HEAD_LEN);
            head[..n].copy_from_slice(&net[..n]);
            if let Some(seg) = packet::parse(&Window { buf: &head, len: n }, ethertype, net.len()) {
                let end = (seg.payload_off + seg.payload_len).min(net.len());
                let payload = net.get(seg.payload_off..end).unwrap_or(&[]);
                let mut seg = seg;
                // A short snap length leaves less payload than the IP header announced.
                seg.payload_len = payload.len();
                engine::process_segment(
                    &seg,
                    &mut SlicePayload(payload),
                    &mut window,
                    &mut conns,
                    &mut sink,
                    &ports,
                    now_ns,
                );
            }
        }
        // The sweeper's rule, on capture time, once a second of it.
        if now_ns.saturating_sub(last_sweep_ns) >= 1_000_000_000 {
            last_sweep_ns = now_ns;
            let model = &mut *sink.model;
            swept_expired += sweep_table(&mut conns.0, now_ns, timeout_ns, |key, state| {
                model.end_connection(&connection_end(key, state.start_ns));
            });
        }
    }
    let in_flight = conns.0.values().map(|s| u64::from(s.outstanding())).sum();
    let totals = totals_from_counters(&sink.counters, sink.histogram, swept_expired, in_flight);
    sink.model.set_kernel_totals(totals);
    sink.model.set_end(last_ns);
    Ok(())
}

/// A link type `--read` cannot decode: the run stops rather than report zeros.
#[derive(Debug, thiserror::Error)]
#[error(
    "link type {name} ({number}) is not supported (supported: Ethernet, BSD loopback, raw IP, \
     Linux cooked v1/v2)"
)]
struct UnsupportedLink {
    name: String,
    number: u32,
}

/// A frame's ethertype and network-layer bytes, when it carries IP.
type Network<'a> = Option<(u16, &'a [u8])>;

/// The ethertype and network-layer bytes of a captured frame, by link type; `Ok(None)` for a
/// frame of a supported link type that carries no IP.
fn network_layer(link: DataLink, data: &[u8]) -> Result<Network<'_>, UnsupportedLink> {
    let decode: fn(&[u8]) -> Network<'_> = match link {
        DataLink::ETHERNET => ethernet,
        DataLink::NULL | DataLink::LOOP => bsd_loopback,
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => raw_ip,
        DataLink::LINUX_SLL => |data| Some((be16(data, 14)?, data.get(16..)?)),
        DataLink::LINUX_SLL2 => |data| Some((be16(data, 0)?, data.get(20..)?)),
        _ => {
            return Err(UnsupportedLink {
                name: format!("{link:?}"),
                number: u32::from(link),
            });
        }
    };
    Ok(decode(data))
}

fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

fn ethernet(data: &[u8]) -> Network<'_> {
    // 802.1Q / 802.1ad tags, as the kernel looks through them.
    const TAGS: usize = 14;
    let (ethertype, off) = skip_vlan_tags(be16(data, 12)?, |off| be16(data, TAGS + off))?;
    Some((ethertype, data.get(TAGS + off..)?))
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

fn raw_ip(data: &[u8]) -> Network<'_> {
    let ethertype = match data.first()? >> 4 {
        4 => ETH_P_IP,
        6 => ETH_P_IPV6,
        _ => return None,
    };
    Some((ethertype, data))
}

struct Frame {
    link: DataLink,
    ts_ns: u64,
    data: Vec<u8>,
}

enum CaptureReader {
    Pcap(PcapReader<BufReader<File>>),
    PcapNg {
        reader: PcapNgReader<BufReader<File>>,
        /// The current section's interfaces: link type and timestamp unit.
        interfaces: Vec<(DataLink, TsResolution)>,
    },
}

impl CaptureReader {
    fn open(path: &Path) -> anyhow::Result<CaptureReader> {
        let mut magic = [0u8; 4];
        {
            use std::io::Read as _;
            File::open(path)
                .with_context(|| format!("opening {}", path.display()))?
                .read_exact(&mut magic)
                .with_context(|| format!("{}: too short for a capture", path.display()))?;
        }
        let file = BufReader::new(File::open(path)?);
        if magic == [0x0a, 0x0d, 0x0d, 0x0a] {
            let reader = PcapNgReader::new(file)
                .with_context(|| format!("{}: not a valid pcapng file", path.display()))?;
            Ok(CaptureReader::PcapNg {
                reader,
                interfaces: Vec::new(),
            })
        } else {
            let reader = PcapReader::new(file)
                .with_context(|| format!("{}: neither pcap nor pcapng", path.display()))?;
            Ok(CaptureReader::Pcap(reader))
        }
    }

    fn next_frame(&mut self) -> anyhow::Result<Option<Frame>> {
        match self {
            CaptureReader::Pcap(reader) => {
                let link = reader.header().datalink;
                match reader.next_packet() {
                    None => Ok(None),
                    Some(packet) => {
                        let packet = packet.context("reading a pcap packet")?;
                        Ok(Some(Frame {
                            link,
                            ts_ns: packet.timestamp.as_nanos() as u64,
                            data: packet.data.into_owned(),
                        }))
                    }
                }
            }
            CaptureReader::PcapNg { reader, interfaces } => loop {
                let Some(block) = reader.next_block() else {
                    return Ok(None);
                };
                match block.context("reading a pcapng block")? {
                    // Interface ids are per section: a new section declares its own.
                    Block::SectionHeader(_) => interfaces.clear(),
                    Block::InterfaceDescription(idb) => interfaces.push(interface(&idb)),
                    Block::EnhancedPacket(epb) => {
                        let Some(&(link, resolution)) = interfaces.get(epb.interface_id as usize)
                        else {
                            bail!("packet on undeclared interface {}", epb.interface_id);
                        };
                        // pcap-file hands the raw timestamp units over as nanoseconds.
                        let units = epb.timestamp.as_nanos();
                        return Ok(Some(Frame {
                            link,
                            ts_ns: resolution.to_ns(units),
                            data: epb.data.into_owned(),
                        }));
                    }
                    Block::SimplePacket(spb) => {
                        let link = interfaces.first().map_or(DataLink::ETHERNET, |i| i.0);
                        return Ok(Some(Frame {
                            link,
                            ts_ns: 0,
                            data: spb.data.into_owned(),
                        }));
                    }
                    _ => {}
                }
            },
        }
    }
}

/// A pcapng interface's timestamp unit (`if_tsresol`): 10^-n s, or 2^-n s when the high bit
/// is set; microseconds when absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsResolution {
    Decimal(u8),
    Binary(u8),
}

impl TsResolution {
    fn from_option(tsresol: Option<u8>) -> Self {
        match tsresol {
            None => TsResolution::Decimal(6),
            Some(r) if r & 0x80 != 0 => TsResolution::Binary(r & 0x7f),
            Some(r) => TsResolution::Decimal(r),
        }
    }

    /// Nanoseconds of `units` timestamp units, in integers: a double's 53 bits would lose up to
    /// 256 ns of today's epoch nanoseconds. Rounded down; saturates past u64.
    fn to_ns(self, units: u128) -> u64 {
        const NS_PER_S: u128 = 1_000_000_000;
        let ns = match self {
            TsResolution::Decimal(n) if n <= 9 => units * 10u128.pow(u32::from(9 - n)),
            TsResolution::Decimal(n) => units
                .checked_div(10u128.checked_pow(u32::from(n - 9)).unwrap_or(u128::MAX))
                .unwrap_or(0),
            // units < 2^64 (a pcapng timestamp is 64 bits), so units * 10^9 < 2^94.
            TsResolution::Binary(n) => (units * NS_PER_S).checked_shr(u32::from(n)).unwrap_or(0),
        };
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// An interface's link type and timestamp unit.
fn interface(idb: &InterfaceDescriptionBlock) -> (DataLink, TsResolution) {
    let tsresol = idb.options.iter().find_map(|o| match o {
        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
        _ => None,
    });
    (idb.linktype, TsResolution::from_option(tsresol))
}

#[cfg(test)]
mod tests {
    use super::TsResolution;

    #[test]
    fn timestamps_convert_exactly_at_every_resolution() {
        // Today's epoch in ns needs 61 bits: every one of them must survive.
        let ns = 1_764_000_000_123_456_789u128;
        assert_eq!(TsResolution::from_option(Some(9)).to_ns(ns), ns as u64);
        assert_eq!(
            TsResolution::from_option(None).to_ns(ns / 1000),
            (ns / 1000 * 1000) as u64
        );
        assert_eq!(
            TsResolution::from_option(Some(12)).to_ns(ns * 1000 + 999),
            ns as u64
        );
        // 2^-30 s units: 2^30 of them are one second.
        assert_eq!(
            TsResolution::from_option(Some(0x80 | 30)).to_ns(3 << 30),
            3_000_000_000
        );
        assert_eq!(TsResolution::from_option(Some(0x80 | 30)).to_ns(1), 0);
        assert_eq!(TsResolution::from_option(Some(0x7f)).to_ns(ns), 0);
    }
}
