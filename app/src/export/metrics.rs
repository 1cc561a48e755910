//! What `/metrics` serves: the kernel's exact counters, a TTFB and a TTLB histogram and the
//! response bytes per endpoint and status class (from events), and httptop's own cost. The collector writes into [`Metrics`]
//! once per drained batch; a scrape takes a copy under the lock and encodes it outside, through
//! `prometheus-client`'s encoders (OpenMetrics or the Prometheus text format).
//!
//! The histogram's buckets are the kernel's log2 buckets: the bucket `le = 2^k ns` counts the
//! exchanges whose TTFB was below 2^k ns, so every bound is one the kernel's histogram has and no
//! precision is invented. Below the first bound and above the last they are merged (the first
//! bucket, `+Inf`), which the cumulative encoding keeps exact.

use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, SystemTime},
};

use tokio::sync::{Notify, watch};

use probe_common::wire::{Counter, histogram_bucket};
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric as _},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use super::JsonLinesCounts;
use crate::model::{
    Exchange, Filter, Group, KernelTotals, Method, ProcessId, RowKey, shown_target,
};

/// The exposition's name prefix.
pub const PREFIX: &str = "httptop";
/// The TTFB histogram, per server, method, status class and path template.
pub const DURATION_HISTOGRAM: &str = "http_server_request_duration_seconds";
/// The TTLB histogram, with the same series.
pub const LAST_BYTE_HISTOGRAM: &str = "http_server_time_to_last_byte_seconds";
/// The response body bytes counter, with the same series.
pub const RESPONSE_BYTES: &str = "http_server_response_body_bytes";
/// The first bucket's bound, 2^10 ns ≈ 1 µs: faster exchanges than that are merged into it.
pub const FIRST_BOUND_LOG2: u32 = 10;
/// The last finite bucket's bound, 2^36 ns ≈ 68.7 s; slower exchanges count in `+Inf` only.
pub const LAST_BOUND_LOG2: u32 = 36;
/// Finite buckets, one per power of two from the first bound to the last.
pub const FINITE_BUCKETS: usize = (LAST_BOUND_LOG2 - FIRST_BOUND_LOG2 + 1) as usize;
/// The label value of the one series that holds every exchange beyond the series cap.
pub const OTHER: &str = "other";
/// `--prometheus-series`' default.
pub const DEFAULT_SERIES_LIMIT: usize = 1000;

/// The exposition bucket (index into the finite buckets, or `FINITE_BUCKETS` for `+Inf` only)
/// of a TTFB: the first bound `2^k` above its kernel bucket `[2^b, 2^(b+1))`, so `k = b + 1`.
pub fn exposed_bucket(latency_ns: u64) -> usize {
    let k = histogram_bucket(latency_ns) + 1;
    (k.saturating_sub(FIRST_BOUND_LOG2) as usize).min(FINITE_BUCKETS)
}

/// The upper bound, in seconds, of finite bucket `i`.
pub fn bucket_bound_s(i: usize) -> f64 {
    (1u64 << (FIRST_BOUND_LOG2 as usize + i)) as f64 / 1e9
}

/// One series of the histogram: an endpoint ([`RowKey::Endpoint`]), a status class and the
/// server's process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct SeriesKey {
    endpoint: RowKey,
    /// The status code's first digit: 2 for 2xx.
    status_class: u16,
    /// The server process's label (its command name), as an index into [`Labels`].
    server_process: u32,
}

/// The server-process label of each process id, and the label values themselves: processes
/// with one command name (a server's workers, one after a restart) share a series.
#[derive(Debug, Default, Clone)]
struct Labels {
    of_process: HashMap<ProcessId, u32, foldhash::fast::RandomState>,
    index: HashMap<String, u32, foldhash::fast::RandomState>,
    values: Vec<String>,
}

impl Labels {
    fn of(&mut self, id: ProcessId) -> u32 {
        if let Some(&label) = self.of_process.get(&id) {
            return label;
        }
        let value = match id.info() {
            Some(info) => info.comm,
            None => id.to_string(),
        };
        let next = self.values.len() as u32;
        let label = *self.index.entry(value.clone()).or_insert(next);
        if label == next {
            self.values.push(value);
        }
        self.of_process.insert(id, label);
        label
    }

    fn value(&self, label: u32) -> &str {
        self.values.get(label as usize).map_or("?", String::as_str)
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Histogram {
    /// Exchanges per exposition bucket (not cumulative); the last is above every finite bound.
    buckets: [u64; FINITE_BUCKETS + 1],
    count: u64,
    sum_ns: u128,
}

impl Histogram {
    fn record(&mut self, ns: u64) {
        self.buckets[exposed_bucket(ns)] += 1;
        self.count += 1;
        self.sum_ns += u128::from(ns);
    }
}

/// One series' figures: its exchanges' TTFB, the TTLB of those whose response's end was seen,
/// and the response body bytes of those whose size was known.
#[derive(Clone, Copy, Debug, Default)]
struct Series {
    ttfb: Histogram,
    ttlb: Histogram,
    response_bytes: u64,
}

impl Series {
    fn record(&mut self, e: &Exchange) {
        self.ttfb.record(e.latency_ns);
        if let Some(ttlb_ns) = e.ttlb_ns {
            self.ttlb.record(ttlb_ns);
        }
        self.response_bytes = self
            .response_bytes
            .saturating_add(e.bodies.response.unwrap_or(0));
    }
}

/// A histogram family served: its name, its help and where each series keeps it.
type HistogramFamily = (&'static str, &'static str, fn(&Series) -> &Histogram);

/// The histograms served, each picked from a series.
const HISTOGRAMS: [HistogramFamily; 2] = [
    (
        DURATION_HISTOGRAM,
        "Time to first byte of each exchange (request's first segment to the status line), \
         in the kernel's log2 buckets",
        |s| &s.ttfb,
    ),
    (
        LAST_BYTE_HISTOGRAM,
        "Time to last byte of each exchange whose response's end was seen (request's first \
         segment to the segment with the response's last byte), in the kernel's log2 buckets",
        |s| &s.ttlb,
    ),
];

/// What the metrics cover and how they are labelled.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    /// Series of the histogram kept apart; exchanges beyond go into the `other` series.
    pub series_limit: usize,
    /// Which exchanges the histogram counts (`--filter`); the counters are the kernel's, all.
    pub filter: Option<Filter>,
    /// `--show-query`: path parameters stay in the path template label.
    pub show_query: bool,
    /// `--attach`, for the build info.
    pub attach: String,
}

#[derive(Debug, Default, Clone)]
struct State {
    series: HashMap<SeriesKey, Series, foldhash::fast::RandomState>,
    /// Exchanges of series beyond the cap.
    other: Series,
    /// Exchanges that went into `other` because the cap was reached.
    overflow: u64,
    /// Exchange events recorded.
    events_received: u64,
    totals: KernelTotals,
    labels: Labels,
}

/// The exporter's store: one per run, shared by the collector (writer) and the server (reader).
#[derive(Debug)]
pub struct Metrics {
    opts: MetricsOptions,
    state: Mutex<State>,
    json_lines: Option<Arc<JsonLinesCounts>>,
    started: SystemTime,
    /// A scrape wants what the kernel has now (the collector otherwise reads its totals on a
    /// timer): the collector drains, reads the totals and moves `refreshed` on.
    refresh_wanted: Notify,
    refreshed: watch::Sender<u64>,
}

impl Metrics {
    pub fn new(opts: MetricsOptions, json_lines: Option<Arc<JsonLinesCounts>>) -> Self {
        Metrics {
            opts,
            state: Mutex::new(State::default()),
            json_lines,
            started: SystemTime::now(),
            refresh_wanted: Notify::new(),
            refreshed: watch::channel(0).0,
        }
    }

    /// Returns when a scrape asks for fresh figures (the collector's side).
    pub async fn refresh_wanted(&self) {
        self.refresh_wanted.notified().await;
    }

    /// The events and totals up to now are in (the collector's side).
    pub fn refreshed(&self) {
        self.refreshed.send_modify(|generation| *generation += 1);
    }

    /// Asks the collector for fresh figures and waits until they are in, at most `timeout`
    /// (a scrape's side): a scrape right after traffic sees all of it, counters and histogram
    /// alike.
    pub async fn refresh(&self, timeout: Duration) {
        let mut refreshed = self.refreshed.subscribe();
        let before = *refreshed.borrow_and_update();
        self.refresh_wanted.notify_one();
        let _ = tokio::time::timeout(timeout, refreshed.wait_for(|g| *g > before)).await;
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Plain counts: after a panic elsewhere, serving the last ones beats failing too.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the exchanges of one drained batch (one lock for all of them).
    pub fn record<'a>(&self, exchanges: impl IntoIterator<Item = &'a Exchange>) {
        let mut state = self.lock();
        let State {
            series,
            other,
            overflow,
            events_received,
            labels,
            ..
        } = &mut *state;
        for e in exchanges {
            *events_received += 1;
            if self.opts.filter.as_ref().is_some_and(|f| !f.matches(e)) {
                continue;
            }
            let key = SeriesKey {
                endpoint: Group::Endpoint.key(e),
                status_class: e.status_class(),
                server_process: labels.of(e.processes.server),
            };
            let limit = self.opts.series_limit;
            let len = series.len();
            match series.get_mut(&key) {
                Some(s) => s.record(e),
                None if len < limit => series.entry(key).or_default().record(e),
                None => {
                    *overflow += 1;
                    other.record(e);
                }
            }
        }
    }

    /// The kernel's latest totals (not reset with the dashboard: a scrape's counters only grow).
    pub fn set_kernel_totals(&self, totals: &KernelTotals) {
        self.lock().totals.clone_from(totals);
    }

    /// The exposition in the Prometheus text format (0.0.4), or OpenMetrics when `openmetrics`.
    pub fn render(self: &Arc<Self>, openmetrics: bool) -> String {
        // The process's own figures under their usual unprefixed names, so that dashboards
        // made for any exporter read them.
        let mut registry = Registry::default();
        registry.register_collector(Box::new(ProcessStats::read(self.started)));
        registry
            .sub_registry_with_prefix(PREFIX)
            .register_collector(Box::new(Snapshot::of(self)));
        let mut out = String::new();
        // Writing into a String cannot fail, and the collector's own writes neither.
        let _ = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        };
        out
    }
}

/// The store as one scrape encodes it: copied under the lock, encoded without it.
#[derive(Debug)]
struct Snapshot {
    state: State,
    metrics: Arc<Metrics>,
}

impl Snapshot {
    fn of(metrics: &Arc<Metrics>) -> Self {
        Snapshot {
            state: metrics.lock().clone(),
            metrics: metrics.clone(),
        }
    }
}

/// httptop's own process: CPU time, resident memory and start time.
#[derive(Debug, Clone, Copy)]
struct ProcessStats {
    cpu_s: f64,
    rss_bytes: u64,
    start_s: f64,
}

impl ProcessStats {
    fn read(started: SystemTime) -> Self {
        // SAFETY: getrusage writes the struct it is given; RUSAGE_SELF is always valid.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let cpu_s = if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
            t(usage.ru_utime) + t(usage.ru_stime)
        } else {
            0.0
        };
        // statm's second field: resident pages.
        let pages = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        // SAFETY: sysconf has no preconditions.
        let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
        ProcessStats {
            cpu_s,
            rss_bytes: pages * page,
            start_s: started
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        }
    }
}

impl Collector for ProcessStats {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        counter(
            &mut encoder,
            "process_cpu_seconds",
            "CPU time httptop's process has used, user and system",
            self.cpu_s,
        )?;
        gauge(
            &mut encoder,
            "process_resident_memory_bytes",
            "httptop's resident memory",
            self.rss_bytes as i64,
        )?;
        gauge(
            &mut encoder,
            "process_start_time_seconds",
            "When httptop started, seconds since the Unix epoch",
            self.start_s,
        )
    }
}

/// One counter family without labels: its descriptor, then its value.
fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeCounterValue + fmt::Debug + Send + Sync,
) -> fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(metric)
}

/// One gauge family without labels.
fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue + fmt::Debug + Send + Sync,
) -> fmt::Result {
    let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(metric)
}

/// The labels of one histogram series.
fn series_labels(
    key: &SeriesKey,
    labels: &Labels,
    show_query: bool,
) -> [(&'static str, String); 6] {
    let (netns, server, method, template) = match &key.endpoint {
        RowKey::Endpoint {
            netns,
            server,
            method,
            template,
        } => (
            netns.to_string(),
            server.to_string(),
            method.as_ref().map_or(UNKNOWN_METHOD, Method::as_str),
            shown_target(template.as_str(), show_query),
        ),
        // Series are made with endpoint keys only.
        other => (
            String::new(),
            other.to_string(),
            UNKNOWN_METHOD,
            String::new(),
        ),
    };
    [
        ("server", server),
        ("method", method.to_owned()),
        ("status_class", format!("{}xx", key.status_class)),
        ("path_template", template),
        // Its command name, not its pid (pids would make a series per restart): `nginx`, `?`
        // (on this host, not found), `remote`, or `-` (nobody looked).
        (
            "server_process",
            labels.value(key.server_process).to_owned(),
        ),
        // `host` or the `ip netns` name: one server address may be in several namespaces.
        ("netns", netns),
    ]
}

/// The method label of an exchange whose method the kernel did not name.
const UNKNOWN_METHOD: &str = "OTHER";

const OTHER_LABELS: [(&str, &str); 6] = [
    ("server", OTHER),
    ("method", OTHER),
    ("status_class", OTHER),
    ("path_template", OTHER),
    ("server_process", OTHER),
    ("netns", OTHER),
];

impl Collector for Snapshot {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let State {
            series,
            other,
            overflow,
            events_received,
            totals,
            labels,
        } = &self.state;
        let opts = &self.metrics.opts;

        let info = [
            ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ("attach", opts.attach.clone()),
        ];
        let mut family = encoder.encode_descriptor(
            "build_info",
            "httptop's version and attach mode (always 1)",
            None,
            MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(family.encode_family(&info)?)?;

        // The kernel's counters, one list: every `Counter` under its JSON key.
        for kernel_counter in Counter::ALL {
            let help = format!(
                "Kernel counter: {} (exact; see docs/terms.md)",
                kernel_counter.label()
            );
            counter(
                &mut encoder,
                kernel_counter.key(),
                &help,
                totals.get(kernel_counter),
            )?;
        }
        gauge(
            &mut encoder,
            "in_flight_requests",
            "Requests outstanding now (the kernel's in-flight entries)",
            totals.in_flight as i64,
        )?;
        counter(
            &mut encoder,
            "events_received",
            "Exchange events that reached httptop (exchanges minus events lost)",
            *events_received,
        )?;

        let mut buckets = Vec::with_capacity(FINITE_BUCKETS + 1);
        for (name, help, pick) in HISTOGRAMS {
            let mut histogram =
                encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            let mut encode_series = |labels: &dyn LabelsEncoder, s: &Histogram| -> fmt::Result {
                buckets.clear();
                for (i, &n) in s.buckets.iter().enumerate() {
                    let bound = if i < FINITE_BUCKETS {
                        bucket_bound_s(i)
                    } else {
                        f64::INFINITY
                    };
                    buckets.push((bound, n));
                }
                labels.encode_histogram(&mut histogram, s, &buckets)
            };
            for (key, s) in series {
                encode_series(&series_labels(key, labels, opts.show_query), pick(s))?;
            }
            if other.ttfb.count > 0 {
                encode_series(&OTHER_LABELS, pick(other))?;
            }
        }
        let mut bytes = encoder.encode_descriptor(
            RESPONSE_BYTES,
            "Response body bytes of the exchanges whose size was known",
            None,
            MetricType::Counter,
        )?;
        for (key, s) in series {
            series_labels(key, labels, opts.show_query).encode_counter(&mut bytes, s)?;
        }
        if other.ttfb.count > 0 {
            OTHER_LABELS.encode_counter(&mut bytes, other)?;
        }

        gauge(
            &mut encoder,
            "series",
            "Series of the duration histogram, the `other` one not included",
            series.len() as i64,
        )?;
        gauge(
            &mut encoder,
            "series_limit",
            "Series the duration histogram keeps apart (--prometheus-series)",
            opts.series_limit as i64,
        )?;
        counter(
            &mut encoder,
            "series_overflow",
            "Exchanges counted in the `other` series because the series limit was reached",
            *overflow,
        )?;

        counter(
            &mut encoder,
            "filter_runs",
            "Runs of httptop's kernel program (one per packet seen)",
            totals.filter_run_cnt,
        )?;
        counter(
            &mut encoder,
            "filter_run_seconds",
            "Time spent in httptop's kernel program",
            totals.filter_run_ns as f64 / 1e9,
        )?;

        if let Some(lines) = &self.metrics.json_lines {
            let (written, dropped) = lines.get();
            counter(
                &mut encoder,
                "json_lines_written",
                "Exchanges written to stdout as JSON lines",
                written,
            )?;
            counter(
                &mut encoder,
                "json_lines_dropped",
                "Exchanges not written as JSON lines because stdout's reader fell behind",
                dropped,
            )?;
        }
        Ok(())
    }
}

/// The label set of a series, either kind (owned values, or the constant `other` labels).
trait LabelsEncoder {
    fn encode_histogram(
        &self,
        encoder: &mut prometheus_client::encoding::MetricEncoder<'_>,
        s: &Histogram,
        buckets: &[(f64, u64)],
    ) -> fmt::Result;

    fn encode_counter(
        &self,
        encoder: &mut prometheus_client::encoding::MetricEncoder<'_>,
        s: &Series,
    ) -> fmt::Result;
}

impl<L: prometheus_client::encoding::EncodeLabelSet> LabelsEncoder for L {
    fn encode_histogram(
        &self,
        encoder: &mut prometheus_client::encoding::MetricEncoder<'_>,
        s: &Histogram,
        buckets: &[(f64, u64)],
    ) -> fmt::Result {
        encoder
            .encode_family(self)?
            .encode_histogram::<prometheus_client::encoding::NoLabelSet>(
                s.sum_ns as f64 / 1e9,
                s.count,
                buckets,
                None,
            )
    }

    fn encode_counter(
        &self,
        encoder: &mut prometheus_client::encoding::MetricEncoder<'_>,
        s: &Series,
    ) -> fmt::Result {
        ConstCounter::new(s.response_bytes).encode(encoder.encode_family(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PathPrefix, test_support::record};

    fn metrics(series_limit: usize, filter: Option<&str>) -> Arc<Metrics> {
        Arc::new(Metrics::new(
            MetricsOptions {
                series_limit,
                filter: filter.and_then(|f| Filter::parse(f).unwrap()),
                show_query: false,
                attach: "socket".into(),
            },
            None,
        ))
    }

    fn exchange(path: &str, status: u16, latency_ns: u64) -> Exchange {
        let mut e = record(40000, 8080, 1, latency_ns, status);
        e.path = PathPrefix::new(path);
        e
    }

    /// The sample lines of `text` whose name and labels start with `prefix`, as (line, value).
    fn samples<'t>(text: &'t str, prefix: &str) -> Vec<(&'t str, f64)> {
        text.lines()
            .filter(|l| l.starts_with(prefix))
            .map(|l| {
                let (name, value) = l.rsplit_once(' ').unwrap();
                (name, value.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn buckets_are_the_kernels_log2_bounds() {
        // Kernel bucket b holds [2^b, 2^(b+1)): its exposition bound is 2^(b+1) ns.
        assert_eq!(exposed_bucket(0), 0);
        assert_eq!(exposed_bucket(1023), 0);
        assert_eq!(exposed_bucket(1024), 1);
        assert_eq!(exposed_bucket(2047), 1);
        assert_eq!(exposed_bucket((1 << 36) - 1), FINITE_BUCKETS - 1);
        assert_eq!(exposed_bucket(1 << 36), FINITE_BUCKETS);
        assert_eq!(exposed_bucket(u64::MAX), FINITE_BUCKETS);
        assert_eq!(bucket_bound_s(0), 1.024e-6);
        assert_eq!(bucket_bound_s(FINITE_BUCKETS - 1), 68.719476736);
        for latency in [1u64, 999, 1024, 5_000_000, 1 << 40] {
            let b = exposed_bucket(latency);
            let kernel = histogram_bucket(latency);
            if b < FINITE_BUCKETS && kernel + 1 >= FIRST_BOUND_LOG2 {
                assert_eq!(b as u32 + FIRST_BOUND_LOG2, kernel + 1);
            }
        }
    }

    #[test]
    fn last_bytes_and_body_bytes_share_the_series_and_skip_what_is_unknown() {
        let m = metrics(10, None);
        let timed = |path, ttlb_ns, bytes| {
            let mut e = exchange(path, 200, 1_500);
            e.ttlb_ns = ttlb_ns;
            e.bodies.response = bytes;
            e
        };
        m.record(&[
            timed("/users/1", Some(3_000), Some(1_000)),
            timed("/users/2", Some(5_000_000), Some(234)),
            timed("/users/3", None, None),
        ]);
        let text = m.render(false);
        let series = "{server=\"10.0.0.2:8080\",method=\"GET\",status_class=\"2xx\",path_template=\"/users/{id}\"";
        let one = |name: &str| {
            let found = samples(&text, &format!("httptop_{name}{series}"));
            assert_eq!(found.len(), 1, "{name}: {text}");
            found[0].1
        };
        // Three exchanges' TTFB; the two TTLBs seen, below 4.1 µs and 8.4 ms.
        assert_eq!(one("http_server_request_duration_seconds_count"), 3.0);
        assert_eq!(one("http_server_time_to_last_byte_seconds_count"), 2.0);
        assert_eq!(one("http_server_time_to_last_byte_seconds_sum"), 0.005003);
        assert_eq!(one("http_server_response_body_bytes_total"), 1_234.0);
    }

    #[test]
    fn each_endpoint_and_status_class_is_a_cumulative_histogram() {
        let m = metrics(10, None);
        m.record(&[
            exchange("/users/1", 200, 1_500),
            exchange("/users/2?x=1", 200, 3_000),
            exchange("/users/3", 500, 3_000),
            exchange("/health", 200, 100),
        ]);
        let text = m.render(false);
        let users_2xx = "httptop_http_server_request_duration_seconds_bucket{server=\"10.0.0.2:8080\",method=\"GET\",status_class=\"2xx\",path_template=\"/users/{id}\"";
        let buckets = samples(&text, users_2xx);
        assert_eq!(buckets.len(), FINITE_BUCKETS + 1);
        // 1.5 µs is below 2^11 ns, 3 µs below 2^12 ns.
        let value = |le: &str| {
            buckets
                .iter()
                .find(|(l, _)| l.ends_with(&format!("le=\"{le}\"}}")))
                .map(|(_, v)| *v)
        };
        assert_eq!(value("1.024e-06"), Some(0.0));
        assert_eq!(value("2.048e-06"), Some(1.0));
        assert_eq!(value("4.096e-06"), Some(2.0));
        assert_eq!(value("+Inf"), Some(2.0));
        let count = samples(&text, "httptop_http_server_request_duration_seconds_count{");
        assert_eq!(count.len(), 3, "{text}");
        assert_eq!(count.iter().map(|(_, v)| v).sum::<f64>(), 4.0);
        let sum = samples(
            &text,
            "httptop_http_server_request_duration_seconds_sum{server=\"10.0.0.2:8080\",method=\"GET\",status_class=\"2xx\",path_template=\"/users/{id}\"",
        );
        assert_eq!(sum, [(sum[0].0, 4.5e-6)]);
        assert_eq!(samples(&text, "httptop_series "), [("httptop_series", 3.0)]);
        assert_eq!(
            samples(&text, "httptop_events_received_total"),
            [("httptop_events_received_total", 4.0)]
        );
    }

    #[test]
    fn series_beyond_the_limit_go_into_other_and_are_counted() {
        let m = metrics(2, None);
        let exchanges: Vec<Exchange> = ["/a", "/b", "/c", "/d", "/a"]
            .iter()
            .map(|p| exchange(p, 200, 5_000))
            .collect();
        m.record(&exchanges);
        let text = m.render(false);
        let counts = samples(&text, "httptop_http_server_request_duration_seconds_count{");
        let count_of = |template: &str| {
            counts
                .iter()
                .find(|(l, _)| l.contains(&format!("path_template=\"{template}\"")))
                .map(|(_, v)| *v)
        };
        assert_eq!(count_of("/a"), Some(2.0));
        assert_eq!(count_of("/b"), Some(1.0));
        assert_eq!(count_of("/c"), None);
        assert_eq!(
            count_of("other"),
            Some(2.0),
            "every label of the other series is `other`: {text}"
        );
        assert!(text.contains(
            "server=\"other\",method=\"other\",status_class=\"other\",path_template=\"other\",server_process=\"other\""
        ));
        assert_eq!(
            samples(&text, "httptop_series_overflow_total"),
            [("httptop_series_overflow_total", 2.0)]
        );
        assert_eq!(samples(&text, "httptop_series "), [("httptop_series", 2.0)]);
        assert_eq!(
            samples(&text, "httptop_series_limit"),
            [("httptop_series_limit", 2.0)]
        );
    }

    #[test]
    fn counters_are_the_kernels_and_the_filter_only_narrows_the_histogram() {
        let m = metrics(10, Some("status 5xx"));
        m.record(&[exchange("/a", 200, 5_000), exchange("/a", 503, 5_000)]);
        let mut totals = KernelTotals::default();
        for (i, counter) in Counter::ALL.into_iter().enumerate() {
            totals[counter] = 100 + i as u64;
        }
        totals.in_flight = 7;
        totals.filter_run_cnt = 40;
        totals.filter_run_ns = 2_000_000_000;
        m.set_kernel_totals(&totals);
        let text = m.render(false);
        for (i, counter) in Counter::ALL.into_iter().enumerate() {
            let name = format!("httptop_{}_total", counter.key());
            assert_eq!(
                samples(&text, &format!("{name} ")),
                [(name.as_str(), 100.0 + i as f64)]
            );
        }
        assert_eq!(
            samples(&text, "httptop_in_flight_requests"),
            [("httptop_in_flight_requests", 7.0)]
        );
        assert_eq!(
            samples(&text, "httptop_filter_run_seconds_total"),
            [("httptop_filter_run_seconds_total", 2.0)]
        );
        let counts = samples(&text, "httptop_http_server_request_duration_seconds_count{");
        assert_eq!(counts.len(), 1, "{text}");
        assert!(counts[0].0.contains("status_class=\"5xx\""));
        // Both formats come from the crate's encoders; OpenMetrics ends with its EOF marker.
        assert!(m.render(true).ends_with("# EOF\n"));
    }

    /// docs/terms.md's table names every metric family served, and nothing else.
    #[test]
    fn the_terms_list_exactly_the_metric_families() {
        let lines = Arc::new(JsonLinesCounts::default());
        let m = Arc::new(Metrics::new(
            MetricsOptions {
                series_limit: 10,
                filter: None,
                show_query: false,
                attach: "tc".into(),
            },
            Some(lines),
        ));
        m.record(&[exchange("/a", 200, 5_000)]);
        let text = m.render(false);
        let mut served: Vec<String> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect();
        // The counters' row stands for one family per kernel counter.
        let counters: Vec<String> = Counter::ALL
            .iter()
            .map(|c| format!("{PREFIX}_{}_total", c.key()))
            .collect();
        served.retain(|name| !counters.contains(name));
        served.push(format!("{PREFIX}_<counter>_total"));
        let mut listed = crate::export::docs::terms_table("Prometheus metrics");
        served.sort();
        listed.sort();
        assert_eq!(served, listed);
    }

    #[test]
    fn processes_with_one_command_name_share_a_series() {
        let m = metrics(10, None);
        let mut exchanges = Vec::new();
        for pid in [Some(100), Some(101), None] {
            let mut e = exchange("/a", 200, 5_000);
            e.processes.server = ProcessId::intern(crate::model::ProcessInfo {
                pid,
                comm: "nginx".into(),
                unit: None,
            });
            exchanges.push(e);
        }
        let mut unknown = exchange("/a", 200, 5_000);
        unknown.processes.server = ProcessId::UNKNOWN;
        exchanges.push(unknown);
        m.record(&exchanges);
        let text = m.render(false);
        let counts = samples(&text, "httptop_http_server_request_duration_seconds_count{");
        let by_process: Vec<(&str, f64)> = counts
            .iter()
            .map(|(l, v)| (l.rsplit_once("server_process=").unwrap().1, *v))
            .collect();
        let mut by_process = by_process;
        by_process.sort_by(|a, b| a.0.cmp(b.0));
        // httptop's own namespace, unnamed in a unit test, ends the labels.
        assert_eq!(
            by_process,
            [("\"?\",netns=\"\"}", 1.0), ("\"nginx\",netns=\"\"}", 3.0)]
        );
    }

    #[test]
    fn label_values_are_escaped_and_secrets_hidden() {
        let m = metrics(10, None);
        m.record(&[exchange("/a\"b;jsessionid=1/c\\d", 200, 5_000)]);
        let text = m.render(false);
        let line = text
            .lines()
            .find(|l| l.starts_with("httptop_http_server_request_duration_seconds_count{"))
            .unwrap();
        assert!(line.contains(r#"path_template="/a\"b;…/c\\d""#), "{line}");
    }
}
