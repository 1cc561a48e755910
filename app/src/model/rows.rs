//! The rows of one grouping ([`Rows`]): per-row figures keyed by [`RowKey`], bounded in
//! number, with the evictions that bound costs counted rather than hidden.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    hash::BuildHasher,
};

use super::{
    Group, RowKey,
    exchange::NumberedExchange,
    latency::{ConnectionLatency, LOG2_BUCKETS, Percentiles},
};

/// Each status code seen with its count, codes ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusMix(Vec<(u16, u64)>);

impl StatusMix {
    pub fn record(&mut self, status: u16) {
        match self.0.binary_search_by_key(&status, |&(code, _)| code) {
            Ok(i) => self.0[i].1 += 1,
            Err(i) => self.0.insert(i, (status, 1)),
        }
    }

    /// `(code, count)` pairs, codes ascending.
    pub fn codes(&self) -> &[(u16, u64)] {
        &self.0
    }

    /// Exchanges whose status is in the class `hundreds` (4 for 4xx).
    pub fn class(&self, hundreds: u16) -> u64 {
        self.0
            .iter()
            .filter(|(code, _)| code / 100 == hundreds)
            .map(|(_, n)| n)
            .sum()
    }
}

/// One row's figures as the model keeps them.
#[derive(Clone, Debug)]
pub struct RowStats {
    pub key: RowKey,
    pub exchanges: u64,
    pub statuses: StatusMix,
    /// Request time of the first exchange counted.
    pub first_seen_ns: u64,
    /// Response time of the latest exchange counted.
    pub last_seen_ns: u64,
    /// The latest exchange (last status, method and path).
    pub last: NumberedExchange,
    /// Exchanges per second over the last closed interval.
    pub req_per_s: f64,
    /// A connection row whose connection ended (FIN, RST or the sweep).
    pub closed: bool,
    /// The row was evicted before (the table was full) and counts again from its return:
    /// its figures are partial.
    pub restarted: bool,
    /// The response body bytes of the exchanges whose size is known.
    pub response_bytes: u64,
    percentiles: Option<Percentiles>,
    latency: ConnectionLatency,
    /// Time to last byte of the exchanges whose response's end was seen.
    ttlb_percentiles: Option<Percentiles>,
    ttlb: ConnectionLatency,
    exchanges_in_interval: u64,
    changed: bool,
    /// Most recent exchanges, oldest first.
    recent: VecDeque<NumberedExchange>,
}

impl RowStats {
    fn new(key: RowKey, first: &NumberedExchange, restarted: bool) -> Self {
        RowStats {
            key,
            exchanges: 0,
            statuses: StatusMix::default(),
            first_seen_ns: first.request_ns,
            last_seen_ns: first.response_ns(),
            last: *first,
            req_per_s: 0.0,
            closed: false,
            restarted,
            response_bytes: 0,
            percentiles: None,
            latency: ConnectionLatency::default(),
            ttlb_percentiles: None,
            ttlb: ConnectionLatency::default(),
            exchanges_in_interval: 0,
            changed: false,
            recent: VecDeque::new(),
        }
    }

    fn record(&mut self, e: &NumberedExchange, recent_cap: usize) {
        self.exchanges += 1;
        self.statuses.record(e.status);
        self.first_seen_ns = self.first_seen_ns.min(e.request_ns);
        self.last_seen_ns = self.last_seen_ns.max(e.response_ns());
        self.last = *e;
        self.latency.record(e.latency_ns);
        if let Some(ttlb_ns) = e.ttlb_ns {
            self.ttlb.record(ttlb_ns);
        }
        self.response_bytes += e.bodies.response.unwrap_or(0);
        self.exchanges_in_interval += 1;
        self.changed = true;
        if recent_cap > 0 {
            if self.recent.len() == recent_cap {
                self.recent.pop_front();
            }
            self.recent.push_back(*e);
        }
    }

    /// Percentiles as of the latest [`Rows::refresh_percentiles`]; `None` before any.
    pub fn percentiles(&self) -> Option<Percentiles> {
        self.percentiles
    }

    /// Percentiles computed now.
    pub fn current_percentiles(&self) -> Option<Percentiles> {
        (self.exchanges > 0).then(|| self.latency.percentiles())
    }

    /// Time-to-last-byte percentiles as of the latest refresh; `None` while no response's end
    /// was seen.
    pub fn ttlb_percentiles(&self) -> Option<Percentiles> {
        self.ttlb_percentiles
    }

    /// Time-to-last-byte percentiles computed now.
    pub fn current_ttlb_percentiles(&self) -> Option<Percentiles> {
        (!self.ttlb.is_empty()).then(|| self.ttlb.percentiles())
    }

    pub fn log2_histogram(&self) -> [u64; LOG2_BUCKETS] {
        self.latency.log2_histogram()
    }

    /// Recent exchanges, oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &NumberedExchange> + ExactSizeIterator {
        self.recent.iter()
    }

    pub fn status_4xx(&self) -> u64 {
        self.statuses.class(4)
    }

    pub fn status_5xx(&self) -> u64 {
        self.statuses.class(5)
    }
}

/// Keys of evicted rows remembered (as hashes) to mark their return as restarted; beyond this
/// the memory starts over (a returning row may then go unmarked, the eviction count stays).
const EVICTED_KEYS_REMEMBERED: usize = 1 << 20;

/// The rows of one grouping, at most `max_rows`; the least recently seen go first.
#[derive(Clone, Debug)]
pub struct Rows {
    group: Group,
    /// Boxed: a row is 600 bytes, and a table of them inline both doubles in its
    /// power-of-two growth and holds old and new at once while it grows (18 MiB for 10,000
    /// connections, against 8 boxed).
    by_key: HashMap<RowKey, Box<RowStats>, foldhash::fast::RandomState>,
    max_rows: usize,
    recent_per_row: usize,
    /// Rows evicted so far to keep within `max_rows`.
    evictions: u64,
    evicted: HashSet<u64, foldhash::fast::FixedState>,
}

impl Rows {
    pub fn new(group: Group, max_rows: usize, recent_per_row: usize) -> Self {
        Rows {
            group,
            by_key: HashMap::default(),
            max_rows: max_rows.max(1),
            recent_per_row,
            evictions: 0,
            evicted: HashSet::default(),
        }
    }

    pub fn group(&self) -> Group {
        self.group
    }

    pub fn record(&mut self, e: &NumberedExchange) {
        if self.group == Group::Process {
            for key in self.group.keys(e) {
                self.record_in(key, e);
            }
        } else {
            self.record_in(self.group.key(e), e);
        }
    }

    fn record_in(&mut self, key: RowKey, e: &NumberedExchange) {
        // One hash for a known key (nearly every exchange); a new one may evict first.
        if let Some(row) = self.by_key.get_mut(&key) {
            row.record(e, self.recent_per_row);
            return;
        }
        if self.by_key.len() >= self.max_rows {
            self.evict_least_recent();
        }
        let restarted = self.evictions > 0 && self.evicted.contains(&self.key_hash(&key));
        let mut row = RowStats::new(key, e, restarted);
        row.record(e, self.recent_per_row);
        // A new row has figures at once, not at the next refresh.
        row.percentiles = row.current_percentiles();
        row.ttlb_percentiles = row.current_ttlb_percentiles();
        row.changed = false;
        self.by_key.insert(key, Box::new(row));
    }

    fn key_hash(&self, key: &RowKey) -> u64 {
        foldhash::fast::FixedState::default().hash_one(key)
    }

    /// Drops the least recently seen tenth of the table at once, so eviction costs O(1)
    /// amortised per new key instead of a scan per insert.
    fn evict_least_recent(&mut self) {
        let evict = (self.max_rows / 10).max(1);
        let mut last_seen: Vec<u64> = self.by_key.values().map(|r| r.last_seen_ns).collect();
        let (_, &mut cutoff, _) = last_seen.select_nth_unstable(evict - 1);
        if self.evicted.len() + evict > EVICTED_KEYS_REMEMBERED {
            self.evicted.clear();
        }
        // Ties at the cutoff may keep a few more than planned; never evict more than `evict`.
        let mut budget = evict;
        let mut gone = Vec::with_capacity(evict);
        self.by_key.retain(|key, r| {
            if budget > 0 && r.last_seen_ns <= cutoff {
                budget -= 1;
                gone.push(*key);
                false
            } else {
                true
            }
        });
        self.evictions += gone.len() as u64;
        for key in &gone {
            let h = self.key_hash(key);
            self.evicted.insert(h);
        }
    }

    /// Rows evicted so far: when not 0, rows that came back count from their return.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Marks the row of an ended connection closed (connection rows only).
    pub fn end_connection(&mut self, key: &RowKey) {
        if let Some(row) = self.by_key.get_mut(key) {
            row.closed = true;
        }
    }

    /// Closes an interval of `seconds`: per-row rates, and percentiles of rows that changed.
    pub fn tick(&mut self, seconds: f64) {
        for r in self.by_key.values_mut() {
            r.req_per_s = if seconds > 0.0 {
                r.exchanges_in_interval as f64 / seconds
            } else {
                0.0
            };
            r.exchanges_in_interval = 0;
        }
        self.refresh_percentiles();
    }

    /// Brings every cached percentile up to date (only rows that changed cost anything).
    pub fn refresh_percentiles(&mut self) {
        for r in self.by_key.values_mut().filter(|r| r.changed) {
            r.percentiles = r.current_percentiles();
            r.ttlb_percentiles = r.current_ttlb_percentiles();
            r.changed = false;
        }
    }

    pub fn get(&self, key: &RowKey) -> Option<&RowStats> {
        self.by_key.get(key).map(|row| &**row)
    }

    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &RowStats> {
        self.by_key.values().map(|row| &**row)
    }

    /// The `top` rows by exchanges, descending, ties by key.
    pub fn top(&self, top: usize) -> Vec<&RowStats> {
        busiest_first(self.iter().collect(), top, |r| r)
    }
}

/// The `n` of `items` whose rows (`row` of each) have the most exchanges, descending, ties by
/// key: the one ordering of every top list.
pub(super) fn busiest_first<T>(
    mut items: Vec<T>,
    n: usize,
    row: impl Fn(&T) -> &RowStats,
) -> Vec<T> {
    let order = |a: &T, b: &T| {
        let (a, b) = (row(a), row(b));
        b.exchanges.cmp(&a.exchanges).then(a.key.cmp(&b.key))
    };
    if n < items.len() {
        items.select_nth_unstable_by(n, order);
        items.truncate(n);
    }
    items.sort_unstable_by(order);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::exchange;

    fn key(e: &NumberedExchange) -> RowKey {
        Group::Connection.key(e)
    }

    #[test]
    fn aggregates_per_key_and_keeps_recent_exchanges() {
        let mut table = Rows::new(Group::Connection, 10, 2);
        table.record(&exchange(1, 40000, 80, 1_000, 200));
        table.record(&exchange(2, 40000, 80, 3_000, 404));
        table.record(&exchange(3, 40000, 80, 2_000, 500));
        table.record(&exchange(4, 40001, 80, 5_000, 200));
        assert_eq!(table.len(), 2);
        let r = table.get(&key(&exchange(1, 40000, 80, 0, 0))).unwrap();
        assert_eq!(r.exchanges, 3);
        assert_eq!(r.statuses.codes(), [(200, 1), (404, 1), (500, 1)]);
        assert_eq!((r.status_4xx(), r.status_5xx()), (1, 1));
        assert_eq!(r.last.status, 500);
        assert_eq!(r.first_seen_ns, 1_000_000_000);
        assert_eq!(r.last_seen_ns, 3_000_000_000 + 2_000);
        assert_eq!(r.recent().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        // The cache is as of the row's first exchange until a refresh...
        assert_eq!(r.percentiles().map(|p| p.max), Some(1_000));
        // ...and a new row has its figures at once.
        let fresh = table.get(&key(&exchange(4, 40001, 80, 0, 0))).unwrap();
        assert_eq!(fresh.percentiles().map(|p| p.p50), Some(5_000));
        table.tick(2.0);
        let r = table.get(&key(&exchange(1, 40000, 80, 0, 0))).unwrap();
        assert_eq!(
            r.percentiles().map(|p| (p.p50, p.max)),
            Some((2_000, 3_000))
        );
        assert_eq!(r.req_per_s, 1.5);
    }

    #[test]
    fn evicts_the_least_recently_seen_and_marks_their_return() {
        let mut table = Rows::new(Group::Connection, 20, 0);
        for port in 0..20u16 {
            table.record(&exchange(u64::from(port) + 1, 40000 + port, 80, 1, 200));
        }
        // Tuple 0 is seen again, so it is now the most recent.
        table.record(&exchange(21, 40000, 80, 1, 200));
        table.record(&exchange(22, 50000, 80, 1, 200));
        // A tenth (2) evicted, then the new key inserted.
        assert_eq!(table.len(), 19);
        assert_eq!(table.evictions(), 2);
        let ports: Vec<u16> = table
            .iter()
            .map(|r| r.key.client().unwrap().port())
            .collect();
        assert!(ports.contains(&40000));
        assert!(!ports.contains(&40001));
        assert!(!ports.contains(&40002));
        assert!(ports.contains(&50000));
        // 40001 comes back: counted from its return, and marked so.
        table.record(&exchange(23, 40001, 80, 1, 200));
        let back = table.get(&key(&exchange(23, 40001, 80, 1, 200))).unwrap();
        assert_eq!(back.exchanges, 1);
        assert!(back.restarted);
        let never_evicted = table.get(&key(&exchange(0, 50000, 80, 1, 200))).unwrap();
        assert!(!never_evicted.restarted);
    }

    #[test]
    fn top_sorts_by_exchanges_then_key() {
        let mut table = Rows::new(Group::Connection, 10, 0);
        let mut seq = 0;
        for (port, n) in [(40003u16, 2), (40001, 5), (40002, 2), (40004, 1)] {
            for _ in 0..n {
                seq += 1;
                table.record(&exchange(seq, port, 80, 1, 200));
            }
        }
        let ports = |v: Vec<&RowStats>| {
            v.iter()
                .map(|r| r.key.client().unwrap().port())
                .collect::<Vec<_>>()
        };
        assert_eq!(ports(table.top(3)), [40001, 40002, 40003]);
        assert_eq!(ports(table.top(10)), [40001, 40002, 40003, 40004]);
    }

    #[test]
    fn status_mix_counts_each_code_in_order() {
        let mut mix = StatusMix::default();
        for s in [500, 200, 404, 200, 503, 500] {
            mix.record(s);
        }
        assert_eq!(mix.codes(), [(200, 2), (404, 1), (500, 2), (503, 1)]);
        assert_eq!((mix.class(2), mix.class(4), mix.class(5)), (2, 1, 3));
    }
}
