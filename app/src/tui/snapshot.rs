//! What one screen shows, copied out of the model under its lock so drawing never holds it.

use crate::model::{
    Exchange, Filter, HistoryPoint, KernelTotals, LOG2_BUCKETS, Model, Percentiles, Stats, Talker,
    Tuple,
};

/// One row of the talkers table.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    pub tuple: Tuple,
    pub exchanges: u64,
    pub req_per_s: f64,
    pub percentiles: Percentiles,
    pub last: Exchange,
}

impl From<&Talker> for Row {
    fn from(t: &Talker) -> Self {
        Row {
            tuple: t.tuple,
            exchanges: t.exchanges,
            req_per_s: t.req_per_s,
            percentiles: t.percentiles,
            last: t.last,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    /// Exchanges numbered below this are in the snapshot; later ones are not.
    pub before_seq: u64,
    /// CLOCK_MONOTONIC ns of the model's latest tick: "now" for ages on screen.
    pub now_ns: u64,
    pub uptime_ns: u64,
    /// Exact kernel counts since the last reset (not filterable).
    pub kernel: KernelTotals,
    pub filter_ns_per_run: Option<f64>,
    /// The filter this snapshot was taken with.
    pub filter: Option<Filter>,
    /// Exchanges on screen: the kernel's exact count without a filter, else the events that
    /// passed the filter.
    pub exchanges: u64,
    /// Exchanges received as events (all of them, filter or not).
    pub events_received: u64,
    pub error_rate: f64,
    pub history: Vec<HistoryPoint>,
    pub latency: Percentiles,
    /// The kernel's exact histogram without a filter, else one from the filtered events.
    pub log2: [u64; LOG2_BUCKETS],
    pub rows: Vec<Row>,
}

impl Snapshot {
    /// The model's current view (its filter applied).
    pub fn take(model: &Model) -> Self {
        let kernel = model.kernel_totals();
        let filter = model.filter().cloned();
        let stats = model.view_stats();
        let (exchanges, log2) = match filter {
            None => (
                kernel[probe_common::wire::Counter::Exchanges],
                kernel.histogram_log2,
            ),
            Some(_) => (stats.exchanges, stats.log2),
        };
        Self::build(
            model,
            stats,
            filter,
            exchanges,
            log2,
            model.next_seq(),
            kernel,
        )
    }

    /// A frozen screen with a new filter, rebuilt from the model's exchange log: only
    /// exchanges before `frozen.before_seq` count, and only those still in the log.
    pub fn refilter(model: &Model, frozen: &Snapshot, filter: Option<Filter>) -> Self {
        let stats = model.replay(filter.as_ref(), frozen.before_seq);
        let mut snapshot = Self::build(
            model,
            &stats,
            filter,
            stats.exchanges,
            stats.log2,
            frozen.before_seq,
            frozen.kernel.clone(),
        );
        // The frozen header stays as it was; the replay has no intervals, so no sparklines.
        snapshot.now_ns = frozen.now_ns;
        snapshot.uptime_ns = frozen.uptime_ns;
        snapshot.filter_ns_per_run = frozen.filter_ns_per_run;
        snapshot.events_received = frozen.events_received;
        snapshot
    }

    fn build(
        model: &Model,
        stats: &Stats,
        filter: Option<Filter>,
        exchanges: u64,
        log2: [u64; LOG2_BUCKETS],
        before_seq: u64,
        kernel: KernelTotals,
    ) -> Self {
        Snapshot {
            before_seq,
            now_ns: model.last_tick_ns(),
            uptime_ns: model.uptime_ns(),
            kernel,
            filter_ns_per_run: model.filter_ns_per_run(),
            filter,
            exchanges,
            events_received: model.stats().exchanges,
            error_rate: stats.error_rate(),
            history: stats.history.points().copied().collect(),
            latency: stats.latency.percentiles(),
            log2,
            rows: stats.talkers.iter().map(Row::from).collect(),
        }
    }

    /// Exchanges per second over the latest interval of this view.
    pub fn req_per_s(&self) -> f64 {
        self.history.last().map_or(0.0, |p| p.req_per_s)
    }

    /// Events were lost, so per-tuple figures and percentiles are partial.
    pub fn partial(&self) -> bool {
        self.kernel[probe_common::wire::Counter::EventsLost] > 0
    }
}
