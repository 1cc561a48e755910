//! The pure model of httptop: what the exchanges and the kernel's counters add up to.
//! No aya, no ratatui, no tokio here: the collector feeds it, the dashboard and the headless
//! summary read it (through [`SharedModel`] when live, see `shared`), and unit tests drive it
//! with plain values.
//!
//! Two sources, kept apart on purpose (docs/terms.md): the kernel's totals are exact;
//! everything per row and every percentile comes from events, which are partial when events
//! were lost. Which of the two a front end shows is decided once, in `view`.
//!
//! # The API the front ends use
//!
//! Feeding (the collector, the capture reader): [`Model::record`] an [`Exchange`],
//! [`Model::end_connection`] a [`ConnectionEnd`] (or [`SharedModel::record_batch`] of
//! [`Event`]s), [`Model::set_kernel_totals`], [`Model::tick`] once per interval,
//! [`Model::start`] once with the run's clock and [`Model::set_end`] with the last moment
//! covered.
//!
//! Reading (through [`SharedModel`] when live):
//! - [`Model::view`] → [`View`]: [`Figures`] (counts; 4xx and 5xx apart; percentiles,
//!   `None` when empty; `partial_since_ns`, `evictions`; [`Clock`] for wall-clock times),
//!   sparkline [`HistoryPoint`]s and their [`Window`], the [`Row`]s of the current [`Group`]
//!   (same columns in every grouping: exchanges, req/s, 4xx, 5xx, p50/p99/max, last exchange;
//!   `closed`, `restarted`, `partial_since_ns`), the `slowest` exchanges and the live `tail`.
//! - [`Model::set_group`] / [`Model::group`]: which grouping the rows are
//!   ([`Group::Connection`], `Server`, `Endpoint`, `Client`; [`Group::next`] cycles).
//! - [`Model::set_filter`] ([`Filter`], grammar in [`FILTER_GRAMMAR`]), [`Model::refilter`]
//!   for a frozen view, [`Model::reset`].
//! - [`Model::detail`] of a [`RowKey`] → [`RowDetail`]: count, status mix, percentiles,
//!   log2 histogram, recent exchanges (times through [`Figures::wall_time`]).
//! - [`Model::summary`] → [`Summary`] for the headless run.

mod exchange;
mod filter;
mod group;
mod history;
mod latency;
mod method;
mod netns;
mod process;
mod redact;
mod rows;
mod shared;
mod stats;
mod summary;
mod template;
mod totals;
mod tuple;
mod units;
mod view;

use std::{collections::VecDeque, time::SystemTime};

pub use exchange::{Bodies, Exchange, NumberedExchange, PATH_LEN, PathPrefix, Processes};
pub use filter::{FILTER_GRAMMAR, Filter, FilterError};
pub use group::{Group, GroupError, Groups, RowKey, Side};
pub use history::{History, HistoryPoint};
pub use latency::{
    ConnectionLatency, LOG2_BUCKETS, LatencyHistogram, Percentiles, log2_bucket, log2_bucket_floor,
    log2_percentile_bounds,
};
pub use method::Method;
pub use netns::{MAX_NETNS, NetnsId};
pub use process::{MAX_PROCESSES, ProcessId, ProcessInfo};
pub use redact::shown_target;
pub use rows::{RowStats, Rows, StatusMix};
pub use shared::SharedModel;
pub use stats::{BodyBytes, Slowest, Stats, StatsOptions};
pub use summary::{
    ConnectionSummary, JsonLinesSummary, ProcessSummary, RowSummary, Source, StatusCount, Summary,
};
pub use template::{PathTemplate, is_id};
pub use totals::KernelTotals;
pub use tuple::Tuple;
pub use units::{format_bytes, format_count, format_ns, format_percent, format_rate};
pub use view::{Clock, Figures, Row, RowDetail, View, Window};

/// Exchanges kept in arrival order so a new filter can start from recent history
/// (about 9 MiB at this size).
pub const LOG_CAPACITY: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelOptions {
    /// Bound on rows per grouping; the least recently seen are evicted (and counted).
    pub max_rows: usize,
    /// Recent exchanges kept per row for the inspect view.
    pub recent_per_row: usize,
    /// Sparkline points kept.
    pub history_len: usize,
    /// Slowest exchanges kept.
    pub slowest: usize,
    /// Newest exchanges a view carries (the live tail).
    pub tail: usize,
    /// The groupings rows are kept for.
    pub groups: Groups,
    /// Latest exchanges kept, for a filter set later and the live tail.
    pub log_capacity: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            max_rows: 100_000,
            // The recent lists are most of the model's memory: 16 per row keeps it near
            // 25 MB with 10,000 busy connections, where 64 would take about four times as much.
            recent_per_row: 16,
            // Five minutes of sparkline at the default one-second interval.
            history_len: 300,
            slowest: 100,
            tail: 100,
            groups: Groups::ALL,
            log_capacity: LOG_CAPACITY,
        }
    }
}

impl ModelOptions {
    /// What a run without the dashboard needs (its summary, and a capture's): the rows of
    /// `group` and of connections, no per-row recent exchanges, and no log (its filter is set
    /// before the first exchange, and it has no live tail).
    pub fn summary_only(group: Group) -> Self {
        ModelOptions {
            recent_per_row: 0,
            groups: Groups::of(&[Group::Connection, group]),
            log_capacity: 0,
            // No sparklines and no slowest list either: a summary shows neither.
            history_len: 0,
            slowest: 0,
            ..ModelOptions::default()
        }
    }

    fn stats(&self) -> StatsOptions {
        StatsOptions {
            max_rows: self.max_rows,
            recent_per_row: self.recent_per_row,
            history_len: self.history_len,
            slowest: self.slowest,
            groups: self.groups,
        }
    }

    /// A filtered view keeps no recent exchanges of its own: the inspect view takes them from
    /// the unfiltered row.
    fn filtered_stats(&self) -> StatsOptions {
        StatsOptions {
            recent_per_row: 0,
            ..self.stats()
        }
    }
}

/// A connection the kernel (FIN, RST) or the sweep (silent past the timeout) saw end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionEnd {
    pub netns: NetnsId,
    pub tuple: Tuple,
    /// As in [`Exchange::conn_start_ns`].
    pub conn_start_ns: u64,
}

impl ConnectionEnd {
    fn key(&self) -> RowKey {
        RowKey::Connection {
            netns: self.netns,
            tuple: self.tuple,
            conn_start_ns: self.conn_start_ns,
        }
    }
}

/// What the collector hands the model, in arrival order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Exchange(Exchange),
    ConnectionEnded(ConnectionEnd),
}

/// The exchanges a filter lets through, from `LOG_CAPACITY` exchanges before it was set on.
#[derive(Clone, Debug)]
struct FilteredView {
    filter: Filter,
    stats: Stats,
    /// The log had dropped exchanges when the filter was set: its figures count from this
    /// request time on.
    since_ns: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct Model {
    opts: ModelOptions,
    /// Sequence number the next exchange gets (never reset).
    next_seq: u64,
    all: Stats,
    view: Option<FilteredView>,
    group: Group,
    /// The latest exchanges, oldest first, at most [`LOG_CAPACITY`].
    log: VecDeque<NumberedExchange>,
    /// The log has dropped exchanges since the last reset.
    log_dropped: bool,
    /// Latest totals as the kernel reported them.
    kernel_latest: KernelTotals,
    /// Totals at the last `reset`, subtracted from what is shown.
    kernel_baseline: KernelTotals,
    /// Totals at the last `tick`, for per-interval figures.
    kernel_at_tick: KernelTotals,
    filter_ns_per_run: Option<f64>,
    /// Why processes are shown as `?`, when attribution is limited (see `process_notice`).
    process_notice: Option<String>,
    first_tick_ns: Option<u64>,
    last_tick_ns: Option<u64>,
    clock: Clock,
    /// The run's start and the last moment its figures cover (monotonic or capture ns).
    start_ns: Option<u64>,
    end_ns: Option<u64>,
}

impl Model {
    pub fn new(opts: ModelOptions) -> Self {
        Model {
            opts,
            next_seq: 0,
            all: Stats::new(opts.stats()),
            view: None,
            group: Group::default(),
            log: VecDeque::with_capacity(opts.log_capacity),
            log_dropped: false,
            kernel_latest: KernelTotals::default(),
            kernel_baseline: KernelTotals::default(),
            kernel_at_tick: KernelTotals::default(),
            filter_ns_per_run: None,
            process_notice: None,
            first_tick_ns: None,
            last_tick_ns: None,
            clock: Clock::default(),
            start_ns: None,
            end_ns: None,
        }
    }

    /// The run starts at `mono_ns`, which is `wall` on the wall clock.
    pub fn start(&mut self, mono_ns: u64, wall: SystemTime) {
        self.clock = Clock { mono_ns, wall };
        self.start_ns = Some(mono_ns);
    }

    /// The figures cover up to `mono_ns` (the end of a headless run, a capture's last packet).
    pub fn set_end(&mut self, mono_ns: u64) {
        self.end_ns = Some(mono_ns);
    }

    pub fn clock(&self) -> Clock {
        self.clock
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
        if self.opts.log_capacity == 0 {
            return;
        }
        if self.log.len() == self.opts.log_capacity {
            self.log.pop_front();
            self.log_dropped = true;
        }
        self.log.push_back(e);
    }

    /// A connection ended: its row is marked closed; a new connection on the same tuple will
    /// be a row of its own.
    pub fn end_connection(&mut self, end: &ConnectionEnd) {
        let key = end.key();
        self.all.end_connection(&key);
        if let Some(v) = &mut self.view {
            v.stats.end_connection(&key);
        }
    }

    /// Records an [`Event`].
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Exchange(e) => self.record(e),
            Event::ConnectionEnded(end) => self.end_connection(&end),
        }
    }

    /// Why processes are shown as `?`: said once, by whoever looks them up.
    pub fn set_process_notice(&mut self, notice: String) {
        self.process_notice = Some(notice);
    }

    /// The kernel's latest totals.
    pub fn set_kernel_totals(&mut self, t: KernelTotals) {
        self.kernel_latest = t;
    }

    /// Closes one refresh interval: a sparkline point, per-row rates and percentiles, and
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
        self.log_dropped = false;
        if let Some(v) = &mut self.view {
            v.stats = Stats::new(self.opts.filtered_stats());
            v.since_ns = None;
        }
    }

    /// Sets the filter of everything the dashboard shows. The new view starts from the
    /// exchanges still in the log (the latest [`LOG_CAPACITY`]); its sparklines start now.
    /// Rows the filter decides by their key are complete whatever the log held.
    pub fn set_filter(&mut self, filter: Option<Filter>) {
        self.view = filter.map(|filter| {
            let stats = self.replay(Some(&filter), u64::MAX);
            FilteredView {
                filter,
                stats,
                since_ns: self.log_since_ns(),
            }
        });
    }

    /// When the log no longer holds every exchange since the reset: the request time of the
    /// oldest it holds.
    fn log_since_ns(&self) -> Option<u64> {
        if self.log_dropped {
            self.log.front().map(|e| e.request_ns)
        } else {
            None
        }
    }

    pub fn filter(&self) -> Option<&Filter> {
        self.view.as_ref().map(|v| &v.filter)
    }

    /// The grouping of the view's rows.
    pub fn set_group(&mut self, group: Group) {
        self.group = group;
    }

    pub fn group(&self) -> Group {
        self.group
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
        stats.refresh_percentiles();
        stats
    }

    /// The newest exchanges `filter` lets through before `before_seq`, newest first.
    fn tail(&self, filter: Option<&Filter>, before_seq: u64) -> Vec<NumberedExchange> {
        self.log
            .iter()
            .rev()
            .filter(|e| e.seq < before_seq && filter.is_none_or(|f| f.matches(e)))
            .take(self.opts.tail)
            .copied()
            .collect()
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

    /// What the dashboard shows now: the current filter's view of the current grouping.
    pub fn view(&mut self) -> View {
        self.view_of(None)
    }

    /// The view with the rows of its grouping: all of them, or only the `top` with the most
    /// exchanges.
    fn view_of(&mut self, top: Option<usize>) -> View {
        self.all.refresh_percentiles();
        if let Some(v) = &mut self.view {
            v.stats.refresh_percentiles();
        }
        let stats = self.view_stats();
        let mut figures = Figures::new(
            stats,
            self.filter().cloned(),
            self.kernel_totals(),
            self.next_seq,
            self,
        );
        figures.partial_since_ns = self.view.as_ref().and_then(|v| v.since_ns);
        let rows = match top {
            None => view::rows(self.group, &self.all, self.filtered()),
            Some(n) => view::top(self.group, &self.all, self.filtered(), n),
        };
        let tail = self.tail(self.filter(), u64::MAX);
        View::new(figures, stats, rows, tail)
    }

    /// The filtered statistics, with their filter and the time they count from.
    fn filtered(&self) -> Option<(&Filter, &Stats, Option<u64>)> {
        self.view
            .as_ref()
            .map(|v| (&v.filter, &v.stats, v.since_ns))
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
        figures.partial_since_ns = self.log_since_ns();
        let since = figures.partial_since_ns;
        let rows = stats
            .rows(self.group)
            .iter()
            .map(|r| Row::new(r, since))
            .collect();
        let tail = self.tail(figures.filter.as_ref(), at_freeze.before_seq);
        View::new(figures, &stats, rows, tail)
    }

    /// One row in detail as `view` shows it: its recent exchanges limited to those the
    /// view's filter lets through and, when the view is `frozen`, to those before it froze.
    pub fn detail(&self, key: &RowKey, view: &View, frozen: bool) -> Option<RowDetail> {
        let group = key.group();
        let before_seq = if frozen {
            view.figures.before_seq
        } else {
            u64::MAX
        };
        let filter = view.figures.filter.as_ref();
        let (row, since) = self.row_as_viewed(key, filter)?;
        let mut detail = RowDetail::new(row, filter, before_seq, since);
        // Recent exchanges live in the unfiltered rows only.
        if let Some(all) = self.all.rows(group).get(key) {
            detail.recent = RowDetail::new(all, filter, before_seq, since).recent;
        }
        Some(detail)
    }

    /// The row `key` as a view through `filter` takes it (see `view`): the unfiltered row when
    /// the filter decides it by its key, else the filtered one and since when it counts.
    fn row_as_viewed(
        &self,
        key: &RowKey,
        filter: Option<&Filter>,
    ) -> Option<(&RowStats, Option<u64>)> {
        let group = key.group();
        let by_exchange = filter.is_some_and(|f| f.matches_key(key).is_none());
        match (&self.view, by_exchange) {
            (Some(v), true) => Some((v.stats.rows(group).get(key)?, v.since_ns)),
            _ => Some((self.all.rows(group).get(key)?, None)),
        }
    }

    /// For the headless mode: the figures of the exchanges the filter lets through (all of
    /// them without one; set it before the first exchange so it covers them all), the `top`
    /// rows of `group` and the `top` connections. `source` says where the counts come from.
    pub fn summary(&mut self, group: Group, top: usize, source: Source) -> Summary {
        let previous = std::mem::replace(&mut self.group, group);
        let view = self.view_of(Some(top));
        self.group = previous;
        let connections = view::top(Group::Connection, &self.all, self.filtered(), top);
        let start_ns = self.start_ns.or(self.first_tick_ns);
        let end_ns = self.end_ns.or(self.last_tick_ns);
        let duration_ns = match (start_ns, end_ns) {
            (Some(s), Some(e)) => e.saturating_sub(s),
            _ => 0,
        };
        let filter = view.figures.filter.as_ref();
        let top_rows = view
            .rows
            .iter()
            .map(|r| {
                let statuses = self
                    .row_as_viewed(&r.key, filter)
                    .map(|(stats, _)| stats.statuses.codes())
                    .unwrap_or_default();
                RowSummary::new(r, statuses)
            })
            .collect();
        let mut summary = Summary::new(
            &view.figures,
            source,
            start_ns.map(|s| self.clock.wall_time(s)),
            duration_ns,
            top_rows,
            connections,
        );
        summary.process_notice = self.process_notice.clone();
        summary
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
            conn_start_ns: 0,
            request_ns,
            latency_ns,
            ttlb_ns: Some(latency_ns),
            bodies: Default::default(),
            method: Some(Method::GET),
            status,
            path: PathPrefix::new("/index.html?user=1"),
            processes: Default::default(),
            netns: Default::default(),
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
        assert!(m.stats().rows(Group::Connection).is_empty());
        m.set_kernel_totals(KernelTotals {
            counters: [(probe_common::wire::Counter::Exchanges, 10)].into(),
            in_flight: 1,
            ..Default::default()
        });
        assert_eq!(m.kernel_totals()[probe_common::wire::Counter::Exchanges], 3);
        assert_eq!(m.kernel_totals().in_flight, 1);
    }

    /// What a run without the dashboard leaves out (other groupings, recent exchanges, the
    /// log, sparklines, the slowest list) changes nothing in its summary: 40 connections to
    /// 3 servers, statuses and latencies of every kind, over ticks, with ends.
    #[test]
    fn a_summary_only_model_summarises_as_the_full_one() {
        for group in Group::ALL {
            let mut full = Model::new(ModelOptions::default());
            let mut lean = Model::new(ModelOptions::summary_only(group));
            for m in [&mut full, &mut lean] {
                m.tick(0);
                for i in 0..600u64 {
                    let mut e = record(
                        40_000 + (i % 40) as u16,
                        8080 + (i % 3) as u16,
                        i * 10_000_000,
                        1_000 + i * i * 977 % 90_000_000,
                        [200, 204, 301, 404, 500, 503][(i % 6) as usize],
                    );
                    e.ttlb_ns = (i % 7 != 0).then(|| e.latency_ns * 2);
                    m.record(e);
                    if i % 100 == 99 {
                        m.tick((i + 1) * 10_000_000);
                    }
                }
                m.apply(Event::ConnectionEnded(ConnectionEnd {
                    tuple: record(40_003, 8080, 0, 0, 200).tuple,
                    conn_start_ns: 0,
                    netns: NetnsId::OWN,
                }));
            }
            for top in [3, 10, 100] {
                let json = |m: &mut Model| {
                    serde_json::to_value(m.summary(group, top, Source::Kernel)).unwrap()
                };
                assert_eq!(json(&mut lean), json(&mut full), "{group:?}, top {top}");
            }
        }
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
        assert_eq!(m.view_stats().rows(Group::Connection).len(), 2);
        assert_eq!(m.stats().exchanges, 4);
        // A frozen screen re-filters only what came before it froze (sequence numbers 0..3).
        let port_80 = Filter::parse("dport 80").unwrap().unwrap();
        let frozen = m.replay(Some(&port_80), 3);
        assert_eq!(frozen.exchanges, 1);
        assert_eq!(
            frozen
                .rows(Group::Connection)
                .iter()
                .next()
                .and_then(|r| r.percentiles())
                .map(|p| p.p50),
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
        let t = m.stats().rows(Group::Connection).iter().next().unwrap();
        // Sequence numbers survive a reset, so "as of exchange N" stays meaningful.
        assert_eq!(t.last.seq, 1);
    }
}

#[cfg(test)]
mod view_tests {
    use super::{test_support::record, *};

    #[test]
    fn a_key_filter_keeps_whole_rows_however_many_exchanges_passed() {
        let mut m = Model::new(ModelOptions::default());
        for i in 0..5 {
            m.record(record(40000 + i, 9090, u64::from(i), 1_000, 200));
        }
        // More than the log holds, all to another port: the :9090 rows left the log.
        for i in 0..(LOG_CAPACITY as u64 + 10) {
            m.record(record(50000, 80, 10 + i, 1_000, 200));
        }
        m.set_filter(Filter::parse("dport 9090").unwrap());
        let v = m.view();
        assert_eq!(v.rows.len(), 5);
        assert!(v.rows.iter().all(|r| r.exchanges == 1 && !r.partial()));
        m.set_group(Group::Server);
        let v = m.view();
        assert_eq!(v.rows.len(), 1);
        assert_eq!(v.rows[0].exchanges, 5);
        // An exchange-level term says since when it counts.
        m.set_filter(Filter::parse("dport 80 and status 200").unwrap());
        let v = m.view();
        assert_eq!(v.rows.len(), 1);
        assert_eq!(v.rows[0].exchanges, LOG_CAPACITY as u64);
        // The oldest exchange still in the log was requested at 20 ns.
        assert_eq!(v.rows[0].partial_since_ns, Some(20));
        assert_eq!(v.figures.partial_since_ns, Some(20));
    }

    #[test]
    fn each_grouping_sums_its_rows_with_4xx_and_5xx_apart() {
        let mut m = Model::new(ModelOptions::default());
        let mut add = |port: u16, path: &str, status: u16| {
            let mut e = record(port, 80, 1, 1_000, status);
            e.path = PathPrefix::new(path);
            m.record(e);
        };
        add(40000, "/users/1", 200);
        add(40000, "/users/2", 404);
        add(40001, "/users/3?x", 500);
        add(40001, "/orders", 200);
        m.set_group(Group::Endpoint);
        let v = m.view();
        let mut rows: Vec<(String, u64, u64, u64)> = v
            .rows
            .iter()
            .map(|r| (r.key.to_string(), r.exchanges, r.status_4xx, r.status_5xx))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("10.0.0.2:80 GET /orders".to_owned(), 1, 0, 0),
                ("10.0.0.2:80 GET /users/{id}".to_owned(), 3, 1, 1),
            ]
        );
        assert_eq!((v.figures.status_4xx, v.figures.status_5xx), (1, 1));
        assert_eq!(v.figures.statuses, [(200, 2), (404, 1), (500, 1)]);
        let users = v.rows.iter().find(|r| r.exchanges == 3).unwrap();
        let detail = m.detail(&users.key, &v, false).unwrap();
        assert_eq!(detail.statuses, [(200, 1), (404, 1), (500, 1)]);
        assert_eq!(detail.recent.len(), 3);
        assert_eq!(detail.recent[0].status, 500);
        m.set_group(Group::Client);
        assert_eq!(m.view().rows.len(), 1);
    }

    #[test]
    fn ended_connections_are_marked_and_a_reused_tuple_is_a_new_row() {
        let mut m = Model::new(ModelOptions::default());
        let first = record(40000, 80, 1, 1_000, 200);
        m.record(first);
        m.end_connection(&ConnectionEnd {
            netns: first.netns,
            tuple: first.tuple,
            conn_start_ns: first.conn_start_ns,
        });
        let mut again = record(40000, 80, 2, 1_000, 200);
        again.conn_start_ns = 2_000_000_000;
        m.apply(Event::Exchange(again));
        let v = m.view();
        let mut closed: Vec<(u64, bool)> = v
            .rows
            .iter()
            .map(|r| (r.last.request_ns, r.closed))
            .collect();
        closed.sort();
        assert_eq!(closed, [(1, true), (2, false)]);
    }

    #[test]
    fn new_rows_have_percentiles_at_once_and_an_empty_view_has_none() {
        let mut m = Model::new(ModelOptions::default());
        assert_eq!(m.view().figures.latency, None);
        m.record(record(40000, 80, 1, 7_000, 200));
        let v = m.view();
        assert_eq!(v.rows[0].percentiles.map(|p| p.p50), Some(7_000));
        m.record(record(40000, 80, 2, 9_000, 200));
        // Up to date in the next view, without waiting for a tick.
        assert_eq!(m.view().rows[0].percentiles.map(|p| p.max), Some(9_000));
    }

    #[test]
    fn slowest_and_tail_in_their_orders() {
        let mut m = Model::new(ModelOptions {
            slowest: 2,
            tail: 3,
            ..ModelOptions::default()
        });
        for (i, ns) in [5u64, 50, 20, 40, 10].into_iter().enumerate() {
            m.record(record(40000, 80, i as u64, ns, 200));
        }
        let v = m.view();
        let slow: Vec<u64> = v.slowest.iter().map(|e| e.latency_ns).collect();
        assert_eq!(slow, [50, 40]);
        let tail: Vec<u64> = v.tail.iter().map(|e| e.seq).collect();
        assert_eq!(tail, [4, 3, 2]);
        m.set_filter(Filter::parse("latency <30ns").unwrap());
        let v = m.view();
        assert_eq!(
            v.slowest.iter().map(|e| e.latency_ns).collect::<Vec<_>>(),
            [20, 10]
        );
        assert_eq!(v.tail.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 2, 0]);
    }

    #[test]
    fn evictions_are_counted_in_the_figures() {
        let mut m = Model::new(ModelOptions {
            max_rows: 10,
            ..ModelOptions::default()
        });
        for i in 0..11 {
            m.record(record(40000 + i, 80, u64::from(i), 1, 200));
        }
        assert_eq!(m.view().figures.evictions, 1);
        m.record(record(40000, 80, 20, 1, 200));
        let v = m.view();
        let back = v
            .rows
            .iter()
            .find(|r| r.key.client().map(|c| c.port()) == Some(40000));
        assert!(back.is_some_and(|r| r.restarted && r.partial()));
    }

    #[test]
    fn wall_clock_times_follow_the_start() {
        let mut m = Model::new(ModelOptions::default());
        let wall = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        m.start(5_000_000_000, wall);
        let f = m.view().figures;
        assert_eq!(
            f.wall_time(7_500_000_000),
            wall + std::time::Duration::from_millis(2_500)
        );
        assert_eq!(
            f.wall_time(4_000_000_000),
            wall - std::time::Duration::from_secs(1)
        );
    }
}
