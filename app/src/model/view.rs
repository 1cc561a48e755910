//! What a front end shows of the model, copied out of it: the dashboard draws a [`View`], the
//! headless summary prints [`Figures`], and neither holds the model while it does.
//!
//! This is also the one place that decides where each figure comes from. The kernel counts
//! every exchange and its latency exactly but cannot filter; events can be filtered but are
//! partial when some were lost. So without a filter the exchange count and the histogram are
//! the kernel's, and with one they come from the events the filter let through.

use probe_common::wire::Counter;

use super::{
    Connection, Filter, HistoryPoint, KernelTotals, LOG2_BUCKETS, NumberedExchange, Percentiles,
    Tuple, stats::Stats,
};

/// One row of the connections table.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionRow {
    pub tuple: Tuple,
    pub exchanges: u64,
    pub req_per_s: f64,
    pub percentiles: Percentiles,
    pub last: NumberedExchange,
}

impl From<&Connection> for ConnectionRow {
    fn from(c: &Connection) -> Self {
        ConnectionRow {
            tuple: c.tuple,
            exchanges: c.exchanges,
            req_per_s: c.req_per_s,
            percentiles: c.percentiles,
            last: c.last,
        }
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
    /// Exact kernel counts since the last reset (not filterable).
    pub kernel: KernelTotals,
    pub filter_ns_per_run: Option<f64>,
    /// The filter the view was taken with.
    pub filter: Option<Filter>,
    /// The kernel's exact count without a filter, else the events that passed the filter.
    pub exchanges: u64,
    /// Exchanges received as events (all of them, filter or not).
    pub events_received: u64,
    pub error_rate: f64,
    pub latency: Percentiles,
    /// The kernel's exact histogram without a filter, else one from the filtered events.
    pub log2: [u64; LOG2_BUCKETS],
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
        Figures {
            before_seq,
            now_ns: model.last_tick_ns(),
            uptime_ns: model.uptime_ns(),
            kernel,
            filter_ns_per_run: model.filter_ns_per_run(),
            filter,
            exchanges,
            events_received: model.stats().exchanges,
            error_rate: stats.error_rate(),
            latency: stats.latency.percentiles(),
            log2,
        }
    }

    /// Events were lost, so per-connection figures and percentiles are partial.
    pub fn partial(&self) -> bool {
        self.kernel[Counter::EventsLost] > 0
    }
}

/// One screen's worth: the figures, the sparkline points and every connection.
#[derive(Clone, Debug)]
pub struct View {
    pub figures: Figures,
    /// Sparkline points, oldest first.
    pub history: Vec<HistoryPoint>,
    /// Every connection, in no particular order (the dashboard sorts them).
    pub rows: Vec<ConnectionRow>,
}

impl View {
    pub(super) fn new(figures: Figures, stats: &Stats) -> Self {
        View {
            figures,
            history: stats.history.points().copied().collect(),
            rows: stats.connections.iter().map(ConnectionRow::from).collect(),
        }
    }

    /// Exchanges per second over the latest interval of this view.
    pub fn req_per_s(&self) -> f64 {
        self.history.last().map_or(0.0, |p| p.req_per_s)
    }
}

/// One connection in detail, for the dashboard's inspect view.
#[derive(Clone, Debug)]
pub struct ConnectionDetail {
    pub tuple: Tuple,
    pub exchanges: u64,
    pub percentiles: Percentiles,
    pub log2: [u64; LOG2_BUCKETS],
    /// Newest first.
    pub recent: Vec<NumberedExchange>,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

impl ConnectionDetail {
    /// `connection` as it is now, its recent exchanges limited to those `filter` lets through
    /// and that arrived before `before_seq` (a frozen screen's moment).
    pub(super) fn new(connection: &Connection, filter: Option<&Filter>, before_seq: u64) -> Self {
        ConnectionDetail {
            tuple: connection.tuple,
            exchanges: connection.exchanges,
            percentiles: connection.current_percentiles(),
            log2: connection.log2_histogram(),
            recent: connection
                .recent()
                .rev()
                .filter(|e| e.seq < before_seq && filter.is_none_or(|f| f.matches(e)))
                .copied()
                .collect(),
            first_seen_ns: connection.first_seen_ns,
            last_seen_ns: connection.last_seen_ns,
        }
    }
}
