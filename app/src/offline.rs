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

use anyhow::{Context as _, bail};
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

/// Counts and exchanges straight into the model (nothing can be lost offline).
struct ModelSink<'a> {
    model: &'a mut Model,
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
        self.model.record(exchange_record(
            key,
            conn_start_ns,
            request,
            status,
            latency_ns,
        ));
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

/// Reads the capture into `model`; its totals are set at the end.
pub fn read_capture(
    path: &Path,
    ports: &[u16],
    request_timeout: Duration,
    model: &mut Model,
) -> anyhow::Result<()> {
    let mut reader = CaptureReader::open(path)?;
    let mut conns = MemConns(HashMap::new());
    let mut sink = ModelSink {
        model,
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
        if let Some((ethertype, net)) = network_layer(frame.link, &frame.data) {
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
            conns.0.retain(
                |key, state| match engine::expire_idle(state, now_ns, timeout_ns) {
                    Some(expired) => {
                        swept_expired += u64::from(expired);
                        model.end_connection(&connection_end(key, state.start_ns));
                        false
                    }
                    None => true,
                },
            );
        }
    }
    let in_flight = conns.0.values().map(|s| u64::from(s.outstanding())).sum();
    let totals = totals_from_counters(&sink.counters, sink.histogram, swept_expired, in_flight);
    sink.model.set_kernel_totals(totals);
    sink.model.set_end(last_ns);
    Ok(())
}

/// The ethertype and network-layer bytes of a captured frame, by link type.
fn network_layer(link: DataLink, data: &[u8]) -> Option<(u16, &[u8])> {
    let be16 = |b: &[u8], i: usize| Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
    match link {
        DataLink::ETHERNET => {
            // 802.1Q / 802.1ad tags, as the kernel looks through them.
            const TAGS: usize = 14;
            let (ethertype, off) = skip_vlan_tags(be16(data, 12)?, |off| be16(data, TAGS + off))?;
            Some((ethertype, data.get(TAGS + off..)?))
        }
        // BSD loopback: a 4-byte address family in the capturing host's byte order.
        DataLink::NULL | DataLink::LOOP => {
            let family = data.get(..4)?;
            let le = u32::from_le_bytes(family.try_into().ok()?);
            let be = u32::from_be_bytes(family.try_into().ok()?);
            let ethertype = match (le, be) {
                (2, _) | (_, 2) => ETH_P_IP,
                (24 | 28 | 30, _) | (_, 24 | 28 | 30) => ETH_P_IPV6,
                _ => return None,
            };
            Some((ethertype, data.get(4..)?))
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => {
            let ethertype = match data.first()? >> 4 {
                4 => ETH_P_IP,
                6 => ETH_P_IPV6,
                _ => return None,
            };
            Some((ethertype, data))
        }
        DataLink::LINUX_SLL => Some((be16(data, 14)?, data.get(16..)?)),
        DataLink::LINUX_SLL2 => Some((be16(data, 0)?, data.get(20..)?)),
        _ => None,
    }
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
        /// Per interface: link type and ns per timestamp unit.
        interfaces: Vec<(DataLink, f64)>,
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
                    Block::InterfaceDescription(idb) => interfaces.push(interface(&idb)),
                    Block::EnhancedPacket(epb) => {
                        let Some(&(link, ns_per_unit)) = interfaces.get(epb.interface_id as usize)
                        else {
                            bail!("packet on undeclared interface {}", epb.interface_id);
                        };
                        // pcap-file hands the raw timestamp units over as nanoseconds.
                        let units = epb.timestamp.as_nanos() as f64;
                        return Ok(Some(Frame {
                            link,
                            ts_ns: (units * ns_per_unit) as u64,
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

/// Link type and timestamp unit (if_tsresol: 10^-n s, or 2^-n s when the high bit is set;
/// microseconds when absent).
fn interface(idb: &InterfaceDescriptionBlock) -> (DataLink, f64) {
    let resolution = idb.options.iter().find_map(|o| match o {
        InterfaceDescriptionOption::IfTsResol(r) => Some(*r),
        _ => None,
    });
    let ns_per_unit = match resolution {
        None => 1_000.0,
        Some(r) if r & 0x80 != 0 => 1e9 / 2f64.powi(i32::from(r & 0x7f)),
        Some(r) => 1e9 / 10f64.powi(i32::from(r)),
    };
    (idb.linktype, ns_per_unit)
}
