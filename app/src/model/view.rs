//! What a front end shows of the model, copied out of it: the dashboard draws a [`View`], the
//! headless summary prints [`Figures`], and neither holds the model while it does.
//!
//! This is also the one place that decides where each figure comes from. The kernel counts
//! every exchange and its latency exactly but cannot filter; events can be filtered but are
//! partial when some were lost. So without a filter the exchange count and the histogram are
//! the kernel's, and with one they come from the events the filter let through.
//!
//! Rows of a filtered view: a row whose key decides the filter (`dport 9090` on a server row)
//! is the unfiltered row, complete however many exchanges passed; a row the filter must look
//! into (`status 5xx`) counts the exchanges the filter let through since it was set, plus
//! those still in the log then; when the log had already dropped older ones, the row says
//! since when it counts (`partial_since_ns`).

use std::time::{Duration, SystemTime};

use probe_common::wire::Counter;

use super::{
    Filter, Group, HistoryPoint, KernelTotals, LOG2_BUCKETS, NumberedExchange, Percentiles, RowKey,
    rows::{RowStats, busiest_first},
    stats::{BodyBytes, ProcessSides, Stats, share},
};

/// Monotonic time to wall-clock time: one moment known on both clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub mono_ns: u64,
    pub wall: SystemTime,
}

impl Clock {
    /// The wall-clock time of a CLOCK_MONOTONIC (or capture) time.
    pub fn wall_time(&self, mono_ns: u64) -> SystemTime {
        if mono_ns >= self.mono_ns {
            self.wall + Duration::from_nanos(mono_ns - self.mono_ns)
        } else {
            self.wall - Duration::from_nanos(self.mono_ns - mono_ns)
        }
    }
}

impl Default for Clock {
    /// Times taken as nanoseconds since the Unix epoch (capture files).
    fn default() -> Self {
        Clock {
            mono_ns: 0,
            wall: SystemTime::UNIX_EPOCH,
        }
    }
}

/// One row of the table, whatever the grouping: every grouping has the same columns.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub key: RowKey,
    pub exchanges: u64,
    /// Exchanges per second over the last closed interval.
    pub req_per_s: f64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// `None` before the row's first exchange (never 0 for "unknown").
    pub percentiles: Option<Percentiles>,
    /// Time to last byte: `None` while no response's end was seen.
    pub ttlb: Option<Percentiles>,
    /// Response body bytes, of the exchanges whose size is known.
    pub response_bytes: u64,
    /// The latest exchange: last status and last request (method, path).
    pub last: NumberedExchange,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    /// A connection row whose connection ended (FIN, RST, or silent past the timeout).
    pub closed: bool,
    /// Evicted once when the table was full: counts from its return, so partial.
    pub restarted: bool,
    /// Counted from this request time on, not from the start (a filter that looks into each
    /// exchange, set after the log had dropped older ones).
    pub partial_since_ns: Option<u64>,
}

impl Row {
    pub(super) fn new(r: &RowStats, partial_since_ns: Option<u64>) -> Self {
        Row {
            key: r.key,
            exchanges: r.exchanges,
            req_per_s: r.req_per_s,
            status_4xx: r.status_4xx(),
            status_5xx: r.status_5xx(),
            percentiles: r.percentiles(),
            ttlb: r.ttlb_percentiles(),
            response_bytes: r.response_bytes,
            last: r.last,
            first_seen_ns: r.first_seen_ns,
            last_seen_ns: r.last_seen_ns,
            closed: r.closed,
            restarted: r.restarted,
            partial_since_ns,
        }
    }

    pub fn share_4xx(&self) -> f64 {
        share(self.status_4xx, self.exchanges)
    }

    pub fn share_5xx(&self) -> f64 {
        share(self.status_5xx, self.exchanges)
    }

    /// Its figures are not the whole story (restarted after eviction, or counted since).
    pub fn partial(&self) -> bool {
        self.restarted || self.partial_since_ns.is_some()
    }
}

/// The figures of a view as a whole.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Exchanges numbered below this are counted; later ones are not.
    pub before_seq: u64,
    /// CLOCK_MONOTONIC ns of the model's latest tick: "now" for ages on screen.
    pub now_ns: u64,
    pub uptime_ns: u64,
    /// Monotonic → wall clock, for clock times on screen.
    pub clock: Clock,
    /// Exact kernel counts since the last reset (not filterable).
    pub kernel: KernelTotals,
    pub filter_ns_per_run: Option<f64>,
    /// The filter the view was taken with.
    pub filter: Option<Filter>,
    /// The grouping of the view's rows.
    pub group: Group,
    /// The kernel's exact count without a filter, else the events that passed the filter.
    pub exchanges: u64,
    /// Exchanges received as events (all of them, filter or not).
    pub events_received: u64,
    /// Of the view's events: how many, and how many of them were 4xx and 5xx.
    pub counted: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// Each status code with its count, codes ascending.
    pub statuses: Vec<(u16, u64)>,
    /// The view's exchanges' sides by what the attribution found.
    pub process_sides: ProcessSides,
    /// Some of the view's exchanges were seen in another network namespace than httptop's.
    pub other_namespaces: bool,
    /// Of the view's events; `None` when there were none.
    pub latency: Option<Percentiles>,
    /// Time to last byte of the view's events whose response's end was seen; `None` when
    /// there were none.
    pub ttlb: Option<Percentiles>,
    /// The view's events whose response's end was not seen.
    pub ttlb_unknown: u64,
    /// The view's events' body bytes.
    pub bytes: BodyBytes,
    /// The kernel's exact histogram without a filter, else one from the filtered events.
    pub log2: [u64; LOG2_BUCKETS],
    /// The filtered figures count from this request time on (see the module doc).
    pub partial_since_ns: Option<u64>,
    /// Rows of this grouping evicted to stay within the bound: returning rows restarted.
    pub evictions: u64,
}

impl Figures {
    /// The figures of `stats`, the exchanges `filter` let through, against the kernel's
    /// `kernel` totals: the rule of this module, written once.
    pub(super) fn new(
        stats: &Stats,
        filter: Option<Filter>,
        kernel: KernelTotals,
        before_seq: u64,
        model: &super::Model,
    ) -> Self {
        let (exchanges, log2) = match filter {
            None => (kernel[Counter::Exchanges], kernel.histogram_log2),
            Some(_) => (stats.exchanges, stats.log2),
        };
        let group = model.group();
        Figures {
            before_seq,
            now_ns: model.last_tick_ns(),
            uptime_ns: model.uptime_ns(),
            clock: model.clock(),
            kernel,
            filter_ns_per_run: model.filter_ns_per_run(),
            filter,
            group,
            exchanges,
            events_received: model.stats().exchanges,
            counted: stats.exchanges,
            status_4xx: stats.status_4xx(),
            status_5xx: stats.status_5xx(),
            statuses: stats.statuses.codes().to_vec(),
            process_sides: stats.process_sides,
            other_namespaces: stats.other_namespaces,
            latency: (!stats.latency.is_empty()).then(|| stats.latency.percentiles()),
            ttlb: (!stats.ttlb.is_empty()).then(|| stats.ttlb.percentiles()),
            ttlb_unknown: stats.ttlb_unknown,
            bytes: stats.bytes,
            log2,
            partial_since_ns: None,
            evictions: stats.rows(group).evictions(),
        }
    }

    /// Events were lost, so per-row figures and percentiles are partial.
    pub fn partial(&self) -> bool {
        self.kernel[Counter::EventsLost] > 0
    }

    /// Share of 4xx among the view's events.
    pub fn share_4xx(&self) -> f64 {
        share(self.status_4xx, self.counted)
    }

    /// Share of 5xx among the view's events: the errors SRE dashboards count.
    pub fn share_5xx(&self) -> f64 {
        share(self.status_5xx, self.counted)
    }

    /// Share of 4xx and 5xx together.
    pub fn error_share(&self) -> f64 {
        share(self.status_4xx + self.status_5xx, self.counted)
    }

    /// The wall-clock time of a CLOCK_MONOTONIC (capture) time.
    pub fn wall_time(&self, mono_ns: u64) -> SystemTime {
        self.clock.wall_time(mono_ns)
    }
}

/// The span the sparklines cover, and its totals: what a header showing "the same window"
/// shows.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Window {
    /// CLOCK_MONOTONIC ns at which the oldest interval opened and the newest closed.
    pub start_ns: u64,
    pub end_ns: u64,
    pub exchanges: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
}

impl Window {
    /// What `points` add up to; `None` for no points.
    pub fn of(points: &[HistoryPoint]) -> Option<Window> {
        let (first, last) = (points.first()?, points.last()?);
        let mut w = Window {
            start_ns: first.start_ns,
            end_ns: last.end_ns,
            ..Window::default()
        };
        for p in points {
            w.exchanges += p.exchanges;
            w.status_4xx += p.status_4xx;
            w.status_5xx += p.status_5xx;
        }
        Some(w)
    }

    pub fn duration_ns(&self) -> u64 {
        self.end_ns.saturating_sub(self.start_ns)
    }

    pub fn req_per_s(&self) -> f64 {
        let s = self.duration_ns() as f64 / 1e9;
        if s > 0.0 {
            self.exchanges as f64 / s
        } else {
            0.0
        }
    }

    pub fn share_4xx(&self) -> f64 {
        share(self.status_4xx, self.exchanges)
    }

    pub fn share_5xx(&self) -> f64 {
        share(self.status_5xx, self.exchanges)
    }
}

/// One screen's worth: the figures, the sparkline points, every row of the grouping, the
/// slowest exchanges and the newest ones.
#[derive(Clone, Debug)]
pub struct View {
    pub figures: Figures,
    /// Sparkline points, oldest first.
    pub history: Vec<HistoryPoint>,
    /// What the sparklines cover; `None` before the first interval closed.
    pub window: Option<Window>,
    /// Every row of `figures.group` the filter keeps, in no particular order (the dashboard
    /// sorts them).
    pub rows: Vec<Row>,
    /// The slowest exchanges since the start (or reset, or the filter), slowest first.
    pub slowest: Vec<NumberedExchange>,
    /// The newest exchanges, newest first (the live tail).
    pub tail: Vec<NumberedExchange>,
}

impl View {
    pub(super) fn new(
        figures: Figures,
        stats: &Stats,
        rows: Vec<Row>,
        tail: Vec<NumberedExchange>,
    ) -> Self {
        let history: Vec<HistoryPoint> = stats.history.points().copied().collect();
        View {
            figures,
            window: Window::of(&history),
            history,
            rows,
            slowest: stats.slowest.items().to_vec(),
            tail,
        }
    }

    /// Exchanges per second over the latest interval of this view.
    pub fn req_per_s(&self) -> f64 {
        self.history.last().map_or(0.0, |p| p.req_per_s)
    }
}

/// The rows of `group` in `all` (every exchange) and `filtered` (those `filter` let through),
/// each with the time it counts from: each row from where its figures are right (see the
/// module doc).
fn sources<'a>(
    group: Group,
    all: &'a Stats,
    filtered: Option<(&'a Filter, &'a Stats, Option<u64>)>,
) -> Box<dyn Iterator<Item = (&'a RowStats, Option<u64>)> + 'a> {
    let Some((filter, stats, since)) = filtered else {
        return Box::new(all.rows(group).iter().map(|r| (r, None)));
    };
    let by_key = all
        .rows(group)
        .iter()
        .filter(|r| filter.matches_key(&r.key) == Some(true))
        .map(|r| (r, None));
    let by_exchange = stats
        .rows(group)
        .iter()
        .filter(|r| filter.matches_key(&r.key).is_none())
        .map(move |r| (r, since));
    Box::new(by_key.chain(by_exchange))
}

/// Every row of `group` (see [`sources`]).
pub(super) fn rows(
    group: Group,
    all: &Stats,
    filtered: Option<(&Filter, &Stats, Option<u64>)>,
) -> Vec<Row> {
    sources(group, all, filtered)
        .map(|(r, since)| Row::new(r, since))
        .collect()
}

/// The `n` rows of `group` with the most exchanges, descending, ties by key: only those are
/// built (a summary's top ten of 10,000 connections made two tables of 5 MiB each).
pub(super) fn top(
    group: Group,
    all: &Stats,
    filtered: Option<(&Filter, &Stats, Option<u64>)>,
    n: usize,
) -> Vec<Row> {
    busiest_first(sources(group, all, filtered).collect(), n, |(r, _)| r)
        .into_iter()
        .map(|(r, since)| Row::new(r, since))
        .collect()
}

/// One row in detail, for the dashboard's inspect view.
#[derive(Clone, Debug)]
pub struct RowDetail {
    pub key: RowKey,
    pub exchanges: u64,
    /// Each status code with its count, codes ascending.
    pub statuses: Vec<(u16, u64)>,
    pub percentiles: Option<Percentiles>,
    /// Time to last byte, of the exchanges whose response's end was seen.
    pub ttlb: Option<Percentiles>,
    pub log2: [u64; LOG2_BUCKETS],
    /// Newest first; times convert with [`Figures::wall_time`].
    pub recent: Vec<NumberedExchange>,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
    pub closed: bool,
    pub restarted: bool,
    pub partial_since_ns: Option<u64>,
}

impl RowDetail {
    /// `row` as it is now, its recent exchanges limited to those `filter` lets through and
    /// that arrived before `before_seq` (a frozen screen's moment).
    pub(super) fn new(
        row: &RowStats,
        filter: Option<&Filter>,
        before_seq: u64,
        partial_since_ns: Option<u64>,
    ) -> Self {
        RowDetail {
            key: row.key,
            exchanges: row.exchanges,
            statuses: row.statuses.codes().to_vec(),
            percentiles: row.current_percentiles(),
            ttlb: row.current_ttlb_percentiles(),
            log2: row.log2_histogram(),
            recent: row
                .recent()
                .rev()
                .filter(|e| e.seq < before_seq && filter.is_none_or(|f| f.matches(e)))
                .copied()
                .collect(),
            first_seen_ns: row.first_seen_ns,
            last_seen_ns: row.last_seen_ns,
            closed: row.closed,
            restarted: row.restarted,
            partial_since_ns,
        }
    }
}
