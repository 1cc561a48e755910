//! The figures of one stream of exchanges (all of them, or those a filter lets through): the
//! totals, the rows of every grouping, the slowest exchanges and the sparkline history.

use super::{
    Group, Groups, ProcessId,
    exchange::NumberedExchange,
    history::{History, HistoryPoint},
    latency::{LOG2_BUCKETS, LatencyHistogram, log2_bucket},
    rows::{Rows, StatusMix},
};

/// Sides of exchanges (two per exchange) by what the attribution found: a process, nothing
/// although the side is on this host, or a side that is not on this host. Sides nobody looked
/// at (a capture) are not counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProcessSides {
    pub found: u64,
    pub unknown: u64,
    pub remote: u64,
}

impl ProcessSides {
    fn record(&mut self, id: ProcessId) {
        match id {
            ProcessId::NOT_LOOKED_UP => {}
            ProcessId::UNKNOWN => self.unknown += 1,
            ProcessId::REMOTE => self.remote += 1,
            _ => self.found += 1,
        }
    }

    /// Whether any side was looked up.
    pub fn any(&self) -> bool {
        self.found + self.unknown + self.remote > 0
    }
}

/// Body bytes summed over exchanges, requests and responses apart, with how many sizes were
/// not known (and so are not in the sums).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct BodyBytes {
    pub request: u64,
    pub response: u64,
    pub request_unknown: u64,
    pub response_unknown: u64,
}

impl BodyBytes {
    fn record(&mut self, bodies: &super::Bodies) {
        let add = |sum: &mut u64, unknown: &mut u64, size: Option<u64>| match size {
            Some(n) => *sum = sum.saturating_add(n),
            None => *unknown += 1,
        };
        add(&mut self.request, &mut self.request_unknown, bodies.request);
        add(
            &mut self.response,
            &mut self.response_unknown,
            bodies.response,
        );
    }
}

#[derive(Clone, Copy, Debug)]
pub struct StatsOptions {
    /// Bound on rows per grouping.
    pub max_rows: usize,
    pub recent_per_row: usize,
    pub history_len: usize,
    /// Slowest exchanges kept.
    pub slowest: usize,
    /// The groupings rows are kept for (the others' tables stay empty).
    pub groups: Groups,
}

#[derive(Clone, Debug)]
pub struct Stats {
    pub exchanges: u64,
    /// Each status code with its count.
    pub statuses: StatusMix,
    /// What the attribution found for the two sides of these exchanges.
    pub process_sides: ProcessSides,
    /// Some of these exchanges were seen in a namespace other than httptop's own.
    pub other_namespaces: bool,
    pub latency: LatencyHistogram,
    /// Time to last byte of the exchanges whose response's end was seen.
    pub ttlb: LatencyHistogram,
    /// Exchanges whose response's end was not seen (cut short, or its stream lost).
    pub ttlb_unknown: u64,
    /// Body bytes of the requests and of the responses whose size is known.
    pub bytes: BodyBytes,
    /// log2 histogram of these exchanges' latencies (the kernel's own histogram is not
    /// filterable, so a filtered view uses this one).
    pub log2: [u64; LOG2_BUCKETS],
    /// The rows of each grouping, in [`Group::ALL`]'s order (see [`Stats::rows`]).
    tables: [Rows; Group::ALL.len()],
    groups: Groups,
    /// The slowest exchanges, slowest first.
    pub slowest: Slowest,
    pub history: History,
    interval: Interval,
    last_tick_ns: Option<u64>,
}

/// What the current, still open interval has seen.
#[derive(Clone, Debug, Default)]
struct Interval {
    exchanges: u64,
    status_4xx: u64,
    status_5xx: u64,
    latency: LatencyHistogram,
}

impl Stats {
    pub fn new(opts: StatsOptions) -> Self {
        Stats {
            exchanges: 0,
            statuses: StatusMix::default(),
            process_sides: ProcessSides::default(),
            other_namespaces: false,
            latency: LatencyHistogram::new(),
            ttlb: LatencyHistogram::new(),
            ttlb_unknown: 0,
            bytes: BodyBytes::default(),
            log2: [0; LOG2_BUCKETS],
            tables: Group::ALL.map(|g| Rows::new(g, opts.max_rows, opts.recent_per_row)),
            groups: opts.groups,
            slowest: Slowest::new(opts.slowest),
            history: History::new(opts.history_len),
            interval: Interval::default(),
            last_tick_ns: None,
        }
    }

    pub fn record(&mut self, e: &NumberedExchange) {
        self.exchanges += 1;
        self.statuses.record(e.status);
        for side in [e.processes.client, e.processes.server] {
            self.process_sides.record(side);
        }
        self.other_namespaces |= e.netns != super::NetnsId::OWN;
        self.latency.record(e.latency_ns);
        match e.ttlb_ns {
            Some(ttlb_ns) => self.ttlb.record(ttlb_ns),
            None => self.ttlb_unknown += 1,
        }
        self.bytes.record(&e.bodies);
        self.log2[log2_bucket(e.latency_ns)] += 1;
        for table in &mut self.tables {
            if self.groups.contains(table.group()) {
                table.record(e);
            }
        }
        self.slowest.record(e);
        self.interval.exchanges += 1;
        self.interval.status_4xx += u64::from(e.status / 100 == 4);
        self.interval.status_5xx += u64::from(e.status / 100 == 5);
        // Only the sparklines' points read it.
        if self.history.keeps_points() {
            self.interval.latency.record(e.latency_ns);
        }
    }

    /// The rows of `group` (none when the run keeps none for it).
    pub fn rows(&self, group: Group) -> &Rows {
        debug_assert!(self.groups.contains(group), "no rows kept for {group:?}");
        &self.tables[group as usize]
    }

    /// Marks the connection row `key` closed.
    pub fn end_connection(&mut self, key: &super::RowKey) {
        self.tables[Group::Connection as usize].end_connection(key);
    }

    /// Brings every row's cached percentiles up to date.
    pub fn refresh_percentiles(&mut self) {
        for table in &mut self.tables {
            table.refresh_percentiles();
        }
    }

    /// Closes the current interval at `now_ns`. The first call only sets the start: a point
    /// needs a known interval length to give a rate.
    pub fn tick(&mut self, now_ns: u64) {
        let Some(start_ns) = self.last_tick_ns.replace(now_ns) else {
            self.interval = Interval::default();
            return;
        };
        let seconds = now_ns.saturating_sub(start_ns) as f64 / 1e9;
        let i = &self.interval;
        self.history.push(HistoryPoint {
            start_ns,
            end_ns: now_ns,
            exchanges: i.exchanges,
            req_per_s: if seconds > 0.0 {
                i.exchanges as f64 / seconds
            } else {
                0.0
            },
            p99_ns: i.latency.quantile(0.99),
            status_4xx: i.status_4xx,
            status_5xx: i.status_5xx,
        });
        for table in &mut self.tables {
            table.tick(seconds);
        }
        self.interval.exchanges = 0;
        self.interval.status_4xx = 0;
        self.interval.status_5xx = 0;
        self.interval.latency.reset();
    }

    pub fn status_4xx(&self) -> u64 {
        self.statuses.class(4)
    }

    pub fn status_5xx(&self) -> u64 {
        self.statuses.class(5)
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The `cap` slowest exchanges seen, slowest first (ties: earlier first).
#[derive(Clone, Debug)]
pub struct Slowest {
    cap: usize,
    items: Vec<NumberedExchange>,
}

impl Slowest {
    pub fn new(cap: usize) -> Self {
        Slowest {
            cap,
            items: Vec::with_capacity(cap),
        }
    }

    pub fn record(&mut self, e: &NumberedExchange) {
        let full = self.items.len() >= self.cap;
        // Nearly every exchange stops here once the list is full.
        if full
            && self
                .items
                .last()
                .is_none_or(|l| e.latency_ns <= l.latency_ns)
        {
            return;
        }
        let at = self.items.partition_point(|x| x.latency_ns >= e.latency_ns);
        self.items.insert(at, *e);
        self.items.truncate(self.cap);
    }

    /// Slowest first.
    pub fn items(&self) -> &[NumberedExchange] {
        &self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::exchange;

    fn stats_options() -> StatsOptions {
        StatsOptions {
            max_rows: 10,
            recent_per_row: 4,
            history_len: 10,
            slowest: 3,
            groups: Groups::ALL,
        }
    }

    fn stats() -> Stats {
        Stats::new(stats_options())
    }

    #[test]
    fn closes_one_point_per_interval_after_the_first_tick() {
        let mut s = stats();
        s.tick(1_000_000_000);
        assert_eq!(s.history.points().len(), 0);
        for seq in 1..=4 {
            s.record(&exchange(
                seq,
                40000,
                80,
                seq * 1_000,
                if seq == 4 { 503 } else { 200 },
            ));
        }
        s.tick(3_000_000_000);
        let p = *s.history.last().unwrap();
        assert_eq!(
            p,
            HistoryPoint {
                start_ns: 1_000_000_000,
                end_ns: 3_000_000_000,
                exchanges: 4,
                req_per_s: 2.0,
                p99_ns: 4_000,
                status_4xx: 0,
                status_5xx: 1,
            }
        );
        assert_eq!(p.share_5xx(), 0.25);
        // The next interval starts empty.
        s.tick(4_000_000_000);
        assert_eq!(
            *s.history.last().unwrap(),
            HistoryPoint {
                start_ns: 3_000_000_000,
                end_ns: 4_000_000_000,
                ..Default::default()
            }
        );
        assert_eq!(s.exchanges, 4);
        assert_eq!((s.status_4xx(), s.status_5xx()), (0, 1));
        // 1000 ns in [512, 1024), 2000 in [1024, 2048), 3000 and 4000 in [2048, 4096).
        assert_eq!(s.log2[9..12], [1, 1, 2]);
    }

    #[test]
    fn every_grouping_counts_every_exchange() {
        let mut s = stats();
        s.record(&exchange(1, 40000, 80, 1, 200));
        s.record(&exchange(2, 40001, 80, 1, 200));
        s.record(&exchange(3, 40001, 8080, 1, 200));
        let lens = Group::ALL.map(|g| s.rows(g).len());
        // Connections 40000→80, 40001→80, 40001→8080; servers :80, :8080; endpoints GET
        // /index.html on each server; one client address; processes: the server side and the
        // client side (nobody looked), each counting every exchange.
        assert_eq!(lens, [3, 2, 2, 1, 2]);
        for g in Group::ALL {
            let per_exchange = if g == Group::Process { 2 } else { 1 };
            assert_eq!(
                s.rows(g).iter().map(|r| r.exchanges).sum::<u64>(),
                3 * per_exchange
            );
        }
    }

    #[test]
    fn only_the_groupings_kept_get_rows() {
        let mut s = Stats::new(StatsOptions {
            groups: Groups::of(&[Group::Server]),
            ..stats_options()
        });
        s.record(&exchange(1, 40000, 80, 1, 200));
        s.record(&exchange(2, 40001, 8080, 1, 200));
        let lens = Group::ALL.map(|g| s.tables[g as usize].len());
        assert_eq!(lens, [0, 2, 0, 0, 0]);
        // The run's own figures count every exchange all the same.
        assert_eq!(s.exchanges, 2);
    }

    #[test]
    fn slowest_keeps_the_slowest_in_order_ties_earlier_first() {
        let mut s = Slowest::new(3);
        for (seq, ns) in [(1, 50), (2, 10), (3, 70), (4, 50), (5, 60), (6, 5)] {
            s.record(&exchange(seq, 40000, 80, ns, 200));
        }
        let got: Vec<(u64, u64)> = s.items().iter().map(|e| (e.latency_ns, e.seq)).collect();
        assert_eq!(got, [(70, 3), (60, 5), (50, 1)]);
    }
}
