//! Per-connection figures, keyed by connection tuple and bounded in number.

use std::collections::{HashMap, VecDeque};

use super::{
    Tuple,
    exchange::NumberedExchange,
    latency::{ConnectionLatency, Percentiles},
};

/// One connection tuple's exchanges.
#[derive(Clone, Debug)]
pub struct Connection {
    pub tuple: Tuple,
    pub exchanges: u64,
    /// 4xx and 5xx responses.
    pub errors: u64,
    /// Request time of the first exchange seen.
    pub first_seen_ns: u64,
    /// Response time of the latest exchange seen.
    pub last_seen_ns: u64,
    /// The latest exchange (last status, method and path).
    pub last: NumberedExchange,
    /// Exchanges per second over the last closed interval.
    pub req_per_s: f64,
    /// Percentiles as of the last [`Connections::tick`]: computing them for thousands of rows
    /// every frame would blow the frame budget.
    pub percentiles: Percentiles,
    latency: ConnectionLatency,
    exchanges_in_interval: u64,
    changed_since_tick: bool,
    /// Most recent exchanges, oldest first.
    recent: VecDeque<NumberedExchange>,
}

impl Connection {
    fn new(first: &NumberedExchange) -> Self {
        Connection {
            tuple: first.tuple,
            exchanges: 0,
            errors: 0,
            first_seen_ns: first.request_ns,
            last_seen_ns: first.response_ns(),
            last: *first,
            req_per_s: 0.0,
            percentiles: Percentiles::default(),
            latency: ConnectionLatency::default(),
            exchanges_in_interval: 0,
            changed_since_tick: false,
            recent: VecDeque::new(),
        }
    }

    fn record(&mut self, e: &NumberedExchange, recent_cap: usize) {
        self.exchanges += 1;
        self.errors += u64::from(e.is_error());
        self.first_seen_ns = self.first_seen_ns.min(e.request_ns);
        self.last_seen_ns = self.last_seen_ns.max(e.response_ns());
        self.last = *e;
        self.latency.record(e.latency_ns);
        self.exchanges_in_interval += 1;
        self.changed_since_tick = true;
        if recent_cap > 0 {
            if self.recent.len() == recent_cap {
                self.recent.pop_front();
            }
            self.recent.push_back(*e);
        }
    }

    /// Percentiles computed now (not the per-tick cache).
    pub fn current_percentiles(&self) -> Percentiles {
        self.latency.percentiles()
    }

    pub fn log2_histogram(&self) -> [u64; super::latency::LOG2_BUCKETS] {
        self.latency.log2_histogram()
    }

    /// Recent exchanges, oldest first.
    pub fn recent(&self) -> impl DoubleEndedIterator<Item = &NumberedExchange> + ExactSizeIterator {
        self.recent.iter()
    }
}

/// Tuples with their figures, at most `max_connections`; the least recently seen go first.
#[derive(Clone, Debug)]
pub struct Connections {
    by_tuple: HashMap<Tuple, Connection, foldhash::fast::RandomState>,
    max_connections: usize,
    recent_per_connection: usize,
}

impl Connections {
    pub fn new(max_connections: usize, recent_per_connection: usize) -> Self {
        Connections {
            by_tuple: HashMap::default(),
            max_connections: max_connections.max(1),
            recent_per_connection,
        }
    }

    pub fn record(&mut self, e: &NumberedExchange) {
        // One hash for a known tuple (nearly every exchange); a new one may evict first.
        if let Some(connection) = self.by_tuple.get_mut(&e.tuple) {
            connection.record(e, self.recent_per_connection);
            return;
        }
        if self.by_tuple.len() >= self.max_connections {
            self.evict_least_recent();
        }
        let mut connection = Connection::new(e);
        connection.record(e, self.recent_per_connection);
        self.by_tuple.insert(e.tuple, connection);
    }

    /// Drops the least recently seen tenth of the table at once, so eviction costs O(1)
    /// amortised per new tuple instead of a scan per insert.
    fn evict_least_recent(&mut self) {
        let evict = (self.max_connections / 10).max(1);
        let mut last_seen: Vec<u64> = self.by_tuple.values().map(|t| t.last_seen_ns).collect();
        let (_, &mut cutoff, _) = last_seen.select_nth_unstable(evict - 1);
        // Ties at the cutoff may keep a few more than planned; never evict more than `evict`.
        let mut budget = evict;
        self.by_tuple.retain(|_, t| {
            if budget > 0 && t.last_seen_ns <= cutoff {
                budget -= 1;
                false
            } else {
                true
            }
        });
    }

    /// Closes an interval of `seconds`: per-tuple rates, and percentiles of tuples that changed.
    pub fn tick(&mut self, seconds: f64) {
        for t in self.by_tuple.values_mut() {
            t.req_per_s = if seconds > 0.0 {
                t.exchanges_in_interval as f64 / seconds
            } else {
                0.0
            };
            t.exchanges_in_interval = 0;
        }
        self.refresh_percentiles();
    }

    /// Brings every cached percentile up to date without closing an interval.
    pub fn refresh_percentiles(&mut self) {
        for t in self.by_tuple.values_mut().filter(|t| t.changed_since_tick) {
            t.percentiles = t.latency.percentiles();
            t.changed_since_tick = false;
        }
    }

    pub fn get(&self, tuple: &Tuple) -> Option<&Connection> {
        self.by_tuple.get(tuple)
    }

    pub fn len(&self) -> usize {
        self.by_tuple.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_tuple.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Connection> {
        self.by_tuple.values()
    }

    /// The `top` tuples by exchanges, descending, ties by tuple.
    pub fn top(&self, top: usize) -> Vec<&Connection> {
        let mut all: Vec<&Connection> = self.by_tuple.values().collect();
        let order = |a: &&Connection, b: &&Connection| {
            b.exchanges.cmp(&a.exchanges).then(a.tuple.cmp(&b.tuple))
        };
        if top < all.len() {
            all.select_nth_unstable_by(top, order);
            all.truncate(top);
        }
        all.sort_unstable_by(order);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::exchange;

    #[test]
    fn aggregates_per_tuple_and_keeps_recent_exchanges() {
        let mut table = Connections::new(10, 2);
        table.record(&exchange(1, 40000, 80, 1_000, 200));
        table.record(&exchange(2, 40000, 80, 3_000, 404));
        table.record(&exchange(3, 40000, 80, 2_000, 500));
        table.record(&exchange(4, 40001, 80, 5_000, 200));
        assert_eq!(table.len(), 2);
        let t = table.get(&exchange(1, 40000, 80, 0, 0).tuple).unwrap();
        assert_eq!(t.exchanges, 3);
        assert_eq!(t.errors, 2);
        assert_eq!(t.last.status, 500);
        assert_eq!(t.first_seen_ns, 1_000_000_000);
        assert_eq!(t.last_seen_ns, 3_000_000_000 + 2_000);
        assert_eq!(t.recent().map(|e| e.seq).collect::<Vec<_>>(), [2, 3]);
        // Percentiles are cached at tick, not per exchange.
        assert_eq!(t.percentiles, Percentiles::default());
        table.tick(2.0);
        let t = table.get(&exchange(1, 40000, 80, 0, 0).tuple).unwrap();
        assert_eq!(t.percentiles.p50, 2_000);
        assert_eq!(t.percentiles.max, 3_000);
        assert_eq!(t.req_per_s, 1.5);
    }

    #[test]
    fn evicts_the_least_recently_seen_tuples_first() {
        let mut table = Connections::new(20, 0);
        for port in 0..20u16 {
            table.record(&exchange(u64::from(port) + 1, 40000 + port, 80, 1, 200));
        }
        // Tuple 0 is seen again, so it is now the most recent.
        table.record(&exchange(21, 40000, 80, 1, 200));
        table.record(&exchange(22, 50000, 80, 1, 200));
        // A tenth (2) evicted, then the new tuple inserted.
        assert_eq!(table.len(), 19);
        let ports: Vec<u16> = table.iter().map(|t| t.tuple.client.port()).collect();
        assert!(ports.contains(&40000));
        assert!(!ports.contains(&40001));
        assert!(!ports.contains(&40002));
        assert!(ports.contains(&40003));
        assert!(ports.contains(&50000));
    }

    #[test]
    fn top_sorts_by_exchanges_then_tuple() {
        let mut table = Connections::new(10, 0);
        let mut seq = 0;
        for (port, n) in [(40003u16, 2), (40001, 5), (40002, 2), (40004, 1)] {
            for _ in 0..n {
                seq += 1;
                table.record(&exchange(seq, port, 80, 1, 200));
            }
        }
        let ports =
            |v: Vec<&Connection>| v.iter().map(|t| t.tuple.client.port()).collect::<Vec<_>>();
        assert_eq!(ports(table.top(3)), [40001, 40002, 40003]);
        assert_eq!(ports(table.top(10)), [40001, 40002, 40003, 40004]);
    }
}
