//! `--read FILE`: the kernel's rules (probe_common::engine) run over a pcap or pcapng capture,
//! with connection state in a HashMap instead of a BPF map. Packet timestamps stand for
//! `bpf_ktime_get_ns()`.

mod capture;
mod layers;

use std::{
    collections::{HashMap, VecDeque, hash_map::Entry},
    path::Path,
    time::Duration,
};

use anyhow::anyhow;
use probe_common::{
    engine::{self, ConnTable, PortFilter, Sink, SlicePayload},
    http::{WINDOW, Window},
    names::{CONNS_ENTRIES, TOMBSTONES_ENTRIES},
    packet::{self, HEAD_LEN},
    wire::{
        Answer, COUNTER_SLOTS, ConnKey, ConnState, Counter, HISTOGRAM_BUCKETS, InFlight, Tombstone,
        histogram_bucket,
    },
};

use self::{
    capture::CaptureReader,
    layers::{Decoded, Fragments, network_layer},
};
use crate::{
    export::Exports,
    model::{Exchange, Model},
    records::{connection_end, exchange_record, totals_from_counters, unsent_record},
};

/// Connection table bound, as the kernel's map.
const MAX_CONNECTIONS: usize = CONNS_ENTRIES as usize;

/// The connection table, and the tombstones of connections that ended, oldest forgotten
/// first past the kernel's bound.
struct MemConns(HashMap<ConnKey, ConnState>, Tombstones);

#[derive(Default)]
struct Tombstones {
    by_key: HashMap<ConnKey, Tombstone>,
    /// Keys in the order they were buried, at most the bound: a key forgotten or buried again
    /// since takes a place until it comes up.
    order: VecDeque<(ConnKey, Tombstone)>,
}

impl Tombstones {
    fn bury(&mut self, key: &ConnKey, tombstone: &Tombstone) {
        while self.order.len() >= TOMBSTONES_ENTRIES as usize {
            let Some((old, buried)) = self.order.pop_front() else {
                break;
            };
            if self.by_key.get(&old) == Some(&buried) {
                self.by_key.remove(&old);
            }
        }
        self.by_key.insert(*key, *tombstone);
        self.order.push_back((*key, *tombstone));
    }
}

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

    fn tombstone(&mut self, key: &ConnKey) -> Option<Tombstone> {
        self.1.by_key.get(key).copied()
    }

    fn bury(&mut self, key: &ConnKey, tombstone: &Tombstone) {
        self.1.bury(key, tombstone);
    }

    fn forget(&mut self, key: &ConnKey) {
        self.1.by_key.remove(key);
    }
}

/// The user-space sweeper's rule, on a table in memory, as the live sweep applies it to the
/// kernel's: connections idle for `timeout_ns` expire, then, with the table nearly full, the
/// oldest never-answered ones are dropped (`engine::evictions`). `ended` hears of every
/// connection removed, and `bury` gets the tombstone each leaves, as the live sweep writes it;
/// returns the requests that expired with them.
pub fn sweep_table(
    conns: &mut HashMap<ConnKey, ConnState>,
    now_ns: u64,
    timeout_ns: u64,
    mut ended: impl FnMut(&ConnKey, &ConnState),
    mut bury: impl FnMut(&ConnKey, &Tombstone),
) -> u64 {
    let mut expired = 0u64;
    conns.retain(
        |key, state| match engine::expire_idle(state, now_ns, timeout_ns) {
            Some(n) => {
                expired += u64::from(n);
                ended(key, state);
                bury(key, &state.tombstone());
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
            bury(key, &state.tombstone());
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

impl ModelSink<'_> {
    /// An exchange to the exports and the model.
    fn deliver(&mut self, exchange: Exchange) {
        self.exports.record(&exchange);
        self.model.record(exchange);
    }
}

impl Sink for ModelSink<'_> {
    fn count(&mut self, counter: Counter, n: u64) {
        self.counters[counter as usize] += n;
    }

    fn latency(&mut self, latency_ns: u64) {
        self.histogram[histogram_bucket(latency_ns) as usize] += 1;
    }

    fn exchange(&mut self, key: &ConnKey, conn_start_ns: u64, request: &InFlight, answer: &Answer) {
        self.deliver(exchange_record(key, conn_start_ns, request, answer));
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
    let mut conns = MemConns(HashMap::new(), Tombstones::default());
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
    let mut fragments = Fragments::default();
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
        let decoded = network_layer(frame.link, frame.data)
            .map_err(|e| anyhow!("{}: {e}", path.display()))?;
        let whole;
        let decoded = match decoded {
            Decoded::TunnelFragment(fragment) => {
                whole = fragments.add(fragment, now_ns);
                whole.as_ref().map_or(Decoded::Nothing, layers::reassembled)
            }
            decoded => decoded,
        };
        if let Decoded::Ip(ethertype, net) = decoded {
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
            fragments.expire(now_ns);
            let sink = &mut sink;
            let graves = &mut conns.1;
            swept_expired += sweep_table(
                &mut conns.0,
                now_ns,
                timeout_ns,
                |key, state| {
                    if let Some(exchange) = unsent_record(key, state) {
                        sink.deliver(exchange);
                    }
                    sink.model
                        .end_connection(&connection_end(key, state.start_ns));
                },
                |key, tombstone| graves.bury(key, tombstone),
            );
        }
    }
    // Responses still being received when the capture ends: their ends are not in it.
    let mut unsent: Vec<_> = conns
        .0
        .iter()
        .filter_map(|(key, state)| unsent_record(key, state))
        .collect();
    unsent.sort_by_key(|exchange| exchange.response_ns());
    for exchange in unsent {
        sink.deliver(exchange);
    }
    let in_flight = conns.0.values().map(|s| u64::from(s.outstanding())).sum();
    let totals = totals_from_counters(&sink.counters, sink.histogram, swept_expired, in_flight);
    sink.model.set_kernel_totals(totals);
    sink.model.set_end(last_ns);
    Ok(())
}
