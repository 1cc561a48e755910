//! The pure model of httptop: what the exchanges and the kernel's counters add up to.
//! No aya, no ratatui, no tokio here: the collector feeds it, the dashboard and the headless
//! summary read it (through [`SharedModel`] when live, see `shared`), and unit tests drive it
//! with plain values.
//!
//! Two sources, kept apart on purpose (docs/terms.md): the kernel's totals are exact;
//! everything per connection and every percentile comes from events, which are partial when
//! events were lost. Which of the two a front end shows is decided once, in `view`.

mod connections;
mod exchange;
mod filter;
mod history;
mod latency;
mod redact;
mod shared;
mod stats;
mod summary;
mod totals;
mod tuple;
mod units;
mod view;

use std::collections::VecDeque;

pub use connections::{Connection, Connections};
pub use exchange::{Exchange, NumberedExchange, PATH_LEN, PathPrefix};
pub use filter::{Filter, FilterError};
pub use history::{History, HistoryPoint};
pub use latency::{
    ConnectionLatency, LOG2_BUCKETS, LatencyHistogram, Percentiles, log2_bucket, log2_bucket_floor,
};
pub use probe_common::wire::Method;
pub use shared::SharedModel;
pub use stats::{Stats, StatsOptions};
pub use summary::{ConnectionSummary, Summary};
pub use totals::KernelTotals;
pub use tuple::Tuple;
pub use units::{format_count, format_ns, format_percent, format_rate};
pub use view::{ConnectionDetail, ConnectionRow, Figures, View};

/// Exchanges kept in arrival order so a new filter can start from recent history
/// (about 9 MiB at this size).
pub const LOG_CAPACITY: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOptions {
    /// Bound on connections kept; the least recently seen are evicted.
    pub max_connections: usize,
    /// Recent exchanges kept per connection for the inspect view.
    pub recent_per_connection: usize,
    /// Sparkline points kept.
    pub history_len: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            max_connections: 100_000,
            // The recent lists are most of the model's memory: 16 per connection keeps it near
            // 25 MB with 10,000 busy connections, where 64 would take about four times as much.
            recent_per_connection: 16,
            // Five minutes of sparkline at the default one-second interval.
            history_len: 300,
        }
    }
}

impl ModelOptions {
    fn stats(&self) -> StatsOptions {
        StatsOptions {
            max_connections: self.max_connections,
            recent_per_connection: self.recent_per_connection,
            history_len: self.history_len,
        }
    }

    /// A filtered view keeps no recent exchanges of its own: the inspect view takes them from
    /// the unfiltered tuple.
    fn filtered_stats(&self) -> StatsOptions {
        StatsOptions {
            recent_per_connection: 0,
            ..self.stats()
        }
    }
}

/// The exchanges a filter lets through, from `LOG_CAPACITY` exchanges before it was set on.
#[derive(Clone, Debug)]
struct FilteredView {
    filter: Filter,
    stats: Stats,
}

#[derive(Clone, Debug)]
pub struct Model {
    opts: ModelOptions,
    /// Sequence number the next exchange gets (never reset).
    next_seq: u64,
    all: Stats,
    view: Option<FilteredView>,
    /// The latest exchanges, oldest first, at most [`LOG_CAPACITY`].
    log: VecDeque<NumberedExchange>,
    /// Latest totals as the kernel reported them.
    kernel_latest: KernelTotals,
    /// Totals at the last `reset`, subtracted from what is shown.
    kernel_baseline: KernelTotals,
    /// Totals at the last `tick`, for per-interval figures.
    kernel_at_tick: KernelTotals,
    filter_ns_per_run: Option<f64>,
    first_tick_ns: Option<u64>,
    last_tick_ns: Option<u64>,
}

impl Model {
    pub fn new(opts: ModelOptions) -> Self {
        Model {
            opts,
            next_seq: 0,
            all: Stats::new(opts.stats()),
            view: None,
            log: VecDeque::with_capacity(LOG_CAPACITY),
            kernel_latest: KernelTotals::default(),
            kernel_baseline: KernelTotals::default(),
            kernel_at_tick: KernelTotals::default(),
            filter_ns_per_run: None,
            first_tick_ns: None,
            last_tick_ns: None,
        }
    }

    /// One finished exchange from the event channel.
    pub fn record(&mut self, exchange: Exchange) {
        let e = NumberedExchange {
            seq: self.next_seq,
            exchange,
        };
        self.next_seq += 1;
        self.all.record(&e);
        if let Some(v) = &mut self.view
            && v.filter.matches(&e)
        {
            v.stats.record(&e);
        }
        if self.log.len() == LOG_CAPACITY {
            self.log.pop_front();
        }
        self.log.push_back(e);
    }

    /// The kernel's latest totals.
    pub fn set_kernel_totals(&mut self, t: KernelTotals) {
        self.kernel_latest = t;
    }

    /// Closes one refresh interval: a sparkline point, per-tuple rates and percentiles, and
    /// the socket filter's cost over the interval.
    pub fn tick(&mut self, now_ns: u64) {
        self.first_tick_ns.get_or_insert(now_ns);
        self.last_tick_ns = Some(now_ns);
        self.filter_ns_per_run = self
            .kernel_latest
            .filter_ns_per_run_since(&self.kernel_at_tick);
        self.kernel_at_tick = self.kernel_latest.clone();
        self.all.tick(now_ns);
        if let Some(v) = &mut self.view {
            v.stats.tick(now_ns);
        }
    }

    /// Statistics start from zero: the kernel's totals so far become the baseline.
    pub fn reset(&mut self) {
        self.kernel_baseline = self.kernel_latest.clone();
        self.all = Stats::new(self.opts.stats());
        self.log.clear();
        if let Some(v) = &mut self.view {
            v.stats = Stats::new(self.opts.filtered_stats());
        }
    }

    /// Sets the filter of everything the dashboard shows. The new view starts from the
    /// exchanges still in the log (the latest [`LOG_CAPACITY`]); its sparklines start now.
    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.view = filter.map(|filter| {
            let stats = self.replay(Some(&filter), u64::MAX);
            FilteredView { filter, stats }
        });
    }

    pub fn filter(&self) -> Option<&Filter> {
        self.view.as_ref().map(|v| &v.filter)
    }

    /// What the dashboard shows: the filtered view, or everything.
    pub fn view_stats(&self) -> &Stats {
        self.view.as_ref().map_or(&self.all, |v| &v.stats)
    }

    /// The exchanges still in the log that `filter` (if any) lets through, up to (not including)
    /// sequence number `before_seq`, gathered afresh: how a frozen screen re-filters without
    /// seeing anything that arrived after it froze. Rates are unknown (no interval) and stay 0.
    pub fn replay(&self, filter: Option<&Filter>, before_seq: u64) -> Stats {
        let mut stats = Stats::new(self.opts.filtered_stats());
        for e in self.log.iter().take_while(|e| e.seq < before_seq) {
            if filter.is_none_or(|f| f.matches(e)) {
                stats.record(e);
            }
        }
        stats.connections.refresh_percentiles();
        stats
    }

    /// Sequence number the next exchange will get: "everything before this" for a snapshot.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The latest tick's time (CLOCK_MONOTONIC ns), 0 before the first.
    pub fn last_tick_ns(&self) -> u64 {
        self.last_tick_ns.unwrap_or(0)
    }

    /// Kernel totals since the last reset (exact counts).
    pub fn kernel_totals(&self) -> KernelTotals {
        self.kernel_latest.since(&self.kernel_baseline)
    }

    /// Figures from events since the last reset.
    pub fn stats(&self) -> &Stats {
        &self.all
    }

    /// Mean ns per socket-filter run over the last interval, when the kernel measures it.
    pub fn filter_ns_per_run(&self) -> Option<f64> {
        self.filter_ns_per_run
    }

    /// Time between the first and the latest tick.
    pub fn uptime_ns(&self) -> u64 {
        match (self.first_tick_ns, self.last_tick_ns) {
            (Some(first), Some(last)) => last.saturating_sub(first),
            _ => 0,
        }
    }

    pub fn options(&self) -> ModelOptions {
        self.opts
    }

    /// What the dashboard shows now: the current filter's view.
    pub fn view(&self) -> View {
        let stats = self.view_stats();
        let figures = Figures::new(
            stats,
            self.filter().cloned(),
            self.kernel_totals(),
            self.next_seq,
            self,
        );
        View::new(figures, stats)
    }

    /// A frozen screen seen through a new filter, rebuilt from the exchange log: only
    /// exchanges before the freeze count, and only those still in the log.
    pub fn refilter(&self, frozen: &View, filter: Option<Filter>) -> View {
        let at_freeze = &frozen.figures;
        let stats = self.replay(filter.as_ref(), at_freeze.before_seq);
        let mut figures = Figures::new(
            &stats,
            filter,
            at_freeze.kernel.clone(),
            at_freeze.before_seq,
            self,
        );
        // The header stays as it was at the freeze; the replay has no intervals, so no
        // sparklines.
        figures.now_ns = at_freeze.now_ns;
        figures.uptime_ns = at_freeze.uptime_ns;
        figures.filter_ns_per_run = at_freeze.filter_ns_per_run;
        figures.events_received = at_freeze.events_received;
        View::new(figures, &stats)
    }

    /// One connection in detail as `view` shows it: its recent exchanges limited to those the
    /// view's filter lets through and, when the view is `frozen`, to those before it froze.
    pub fn detail(&self, tuple: &Tuple, view: &View, frozen: bool) -> Option<ConnectionDetail> {
        let connection = self.all.connections.get(tuple)?;
        let before_seq = if frozen {
            view.figures.before_seq
        } else {
            u64::MAX
        };
        Some(ConnectionDetail::new(
            connection,
            view.figures.filter.as_ref(),
            before_seq,
        ))
    }

    /// For the headless mode: everything, unfiltered (exact kernel counts, event-based
    /// percentiles), and the `top` busiest connections.
    pub fn summary(&self, top: usize) -> Summary {
        let figures = Figures::new(&self.all, None, self.kernel_totals(), self.next_seq, self);
        Summary::new(&figures, self.all.connections.top(top))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// Exchange `seq` from 10.0.0.1:`client_port` to 10.0.0.2:`server_port`, requested at
    /// `seq` seconds.
    pub fn exchange(
        seq: u64,
        client_port: u16,
        server_port: u16,
        latency_ns: u64,
        status: u16,
    ) -> NumberedExchange {
        NumberedExchange {
            seq,
            exchange: record(
                client_port,
                server_port,
                seq * 1_000_000_000,
                latency_ns,
                status,
            ),
        }
    }

    pub fn record(
        client_port: u16,
        server_port: u16,
        request_ns: u64,
        latency_ns: u64,
        status: u16,
    ) -> Exchange {
        Exchange {
            tuple: Tuple {
                client: std::net::SocketAddr::from(([10, 0, 0, 1], client_port)),
                server: std::net::SocketAddr::from(([10, 0, 0, 2], server_port)),
            },
            request_ns,
            latency_ns,
            method: Some(Method::Get),
            status,
            path: PathPrefix::new("/index.html?user=1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{test_support::record, *};

    #[test]
    fn reset_subtracts_the_kernel_baseline_and_clears_event_figures() {
        let mut m = Model::new(ModelOptions::default());
        m.set_kernel_totals(KernelTotals {
            counters: [(probe_common::wire::Counter::Exchanges, 7)].into(),
            in_flight: 2,
            ..Default::default()
        });
        m.record(record(40000, 80, 1, 10, 200));
        assert_eq!(m.kernel_totals()[probe_common::wire::Counter::Exchanges], 7);
        assert_eq!(m.stats().exchanges, 1);
        m.reset();
        assert_eq!(m.kernel_totals()[probe_common::wire::Counter::Exchanges], 0);
        assert_eq!(m.kernel_totals().in_flight, 2);
        assert_eq!(m.stats().exchanges, 0);
        assert!(m.stats().connections.is_empty());
        m.set_kernel_totals(KernelTotals {
            counters: [(probe_common::wire::Counter::Exchanges, 10)].into(),
            in_flight: 1,
            ..Default::default()
        });
        assert_eq!(m.kernel_totals()[probe_common::wire::Counter::Exchanges], 3);
        assert_eq!(m.kernel_totals().in_flight, 1);
    }

    #[test]
    fn tick_measures_the_filter_cost_and_uptime() {
        let mut m = Model::new(ModelOptions::default());
        m.tick(5_000_000_000);
        m.set_kernel_totals(KernelTotals {
            filter_run_ns: 3_000,
            filter_run_cnt: 20,
            ..Default::default()
        });
        m.tick(6_000_000_000);
        assert_eq!(m.filter_ns_per_run(), Some(150.0));
        m.tick(7_000_000_000);
        assert_eq!(m.filter_ns_per_run(), None);
        assert_eq!(m.uptime_ns(), 2_000_000_000);
    }

    #[test]
    fn a_filter_starts_from_the_log_and_follows_new_exchanges() {
        let mut m = Model::new(ModelOptions::default());
        m.record(record(40000, 80, 1, 10, 200));
        m.record(record(40001, 8080, 2, 20, 500));
        m.set_filter(Filter::parse("dport 8080").unwrap());
        assert_eq!(m.filter().map(Filter::text), Some("dport 8080"));
        assert_eq!(m.view_stats().exchanges, 1);
        m.record(record(40002, 8080, 3, 30, 200));
        m.record(record(40003, 80, 4, 40, 200));
        assert_eq!(m.view_stats().exchanges, 2);
        assert_eq!(m.view_stats().connections.len(), 2);
        assert_eq!(m.stats().exchanges, 4);
        // A frozen screen re-filters only what came before it froze (sequence numbers 0..3).
        let port_80 = Filter::parse("dport 80").unwrap().unwrap();
        let frozen = m.replay(Some(&port_80), 3);
        assert_eq!(frozen.exchanges, 1);
        assert_eq!(
            frozen.connections.iter().next().map(|t| t.percentiles.p50),
            Some(10)
        );
        m.set_filter(None);
        assert_eq!(m.view_stats().exchanges, 4);
    }

    #[test]
    fn reset_empties_the_filtered_view_and_the_log() {
        let mut m = Model::new(ModelOptions::default());
        m.set_filter(Filter::parse("port 80").unwrap());
        m.record(record(40000, 80, 1, 10, 200));
        assert_eq!(m.view_stats().exchanges, 1);
        m.reset();
        assert_eq!(m.view_stats().exchanges, 0);
        m.set_filter(Filter::parse("port 80").unwrap());
        assert_eq!(m.view_stats().exchanges, 0);
    }

    #[test]
    fn record_numbers_exchanges_in_arrival_order() {
        let mut m = Model::new(ModelOptions::default());
        m.record(record(40000, 80, 5, 10, 200));
        m.reset();
        m.record(record(40000, 80, 6, 10, 200));
        let t = m.stats().connections.iter().next().unwrap();
        // Sequence numbers survive a reset, so "as of exchange N" stays meaningful.
        assert_eq!(t.last.seq, 1);
    }
}
