//! The headless summary: its JSON field names are a contract (scripts and tests parse them).
//! Each kernel counter appears under its key from `probe_common::wire::Counter`.

use std::{fmt::Write as _, time::SystemTime};

use probe_common::wire::Counter;
use serde::Serialize;

use super::{
    Figures, Group, ProcessId, Row, RowKey,
    group::Side,
    latency::{LOG2_BUCKETS, Percentiles, log2_bucket_floor, log2_percentile_bounds},
    stats::{BodyBytes, ProcessSides},
    totals::Counters,
    units::{format_ns, format_percent, format_rate},
};

/// Where the counts come from: the live kernel programs, or a capture file (`--read`) run
/// through the same rules.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Kernel,
    Capture,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Kernel => "kernel",
            Source::Capture => "capture",
        }
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Summary {
    /// Every kernel counter, under its key.
    #[serde(flatten)]
    pub counters: Counters,
    /// Requests outstanding at the end (a gauge).
    pub in_flight: u64,
    /// Exchanges seen through events (== `exchanges` when no event was lost).
    pub events_received: u64,
    /// `kernel` or `capture`.
    pub source: Source,
    /// When the run (or the capture) started, RFC 3339; `null` when unknown.
    pub start: Option<String>,
    /// Seconds from the start to the end of the run (the capture's last packet).
    pub duration_s: f64,
    /// Exchanges per second over `duration_s` (of `matched` with a filter).
    pub rate_per_s: f64,
    /// The `--filter` the figures below were taken through; `null` without one.
    pub filter: Option<String>,
    /// Exchanges the figures below cover: the events the filter let through, or all of them.
    pub matched: u64,
    /// Each status code of those exchanges with its count.
    pub status_codes: Vec<StatusCount>,
    pub status_4xx: u64,
    pub status_5xx: u64,
    /// TTFB percentiles of those exchanges; `null` when there were none.
    pub latency_ns: Option<Percentiles>,
    /// Time-to-last-byte percentiles of those exchanges whose response's end was seen; `null`
    /// when there were none.
    pub ttlb_ns: Option<Percentiles>,
    /// Those exchanges whose response's end was not seen (cut short, or its stream lost).
    pub ttlb_unknown: u64,
    /// Their body bytes: `request` and `response` summed over the sizes known, and how many
    /// of each were not.
    pub body_bytes: BodyBytes,
    /// The kernel's 64 log2 buckets (exact), or those of the filtered exchanges.
    pub histogram_log2: Vec<u64>,
    /// The busiest connections: by exchanges descending, ties by tuple.
    pub top_talkers: Vec<ConnectionSummary>,
    /// The grouping of `top_rows`: connection, server, endpoint or client.
    pub group: Group,
    /// The busiest rows of `group`, by exchanges descending, ties by key.
    pub top_rows: Vec<RowSummary>,
    /// Sides of the matched exchanges (two each) by what the attribution found: `found`,
    /// `unknown` (on this host, no process found) and `remote`; null when nobody looked.
    pub process_sides: Option<ProcessSides>,
    /// Why some processes could not be found, when it is a lack of permission or of the
    /// kernel's socket interface; null otherwise.
    pub process_notice: Option<String>,
    /// With `--json-lines`: the lines written and dropped; absent without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub json_lines: Option<JsonLinesSummary>,
}

/// What `--json-lines` wrote: every exchange the filter let through is written or dropped.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct JsonLinesSummary {
    pub written: u64,
    /// Not written because stdout's reader fell behind (or went away).
    pub dropped: u64,
}

impl Serialize for Group {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct ConnectionSummary {
    /// `ip:port`, IPv6 as `[addr]:port`.
    pub client: String,
    pub server: String,
    pub exchanges: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
}

/// One row of any grouping; the parts its key does not have are `null`.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct RowSummary {
    /// The row as the table shows it, e.g. `10.0.0.2:80 GET /users/{id}`.
    pub key: String,
    /// The network namespace it was seen in (`host`, or its `ip netns` name); null for
    /// process rows.
    pub netns: Option<String>,
    pub client: Option<String>,
    pub server: Option<String>,
    pub method: Option<String>,
    /// The path template (endpoint rows).
    pub path: Option<String>,
    /// Process rows: the side the process is on, `server` or `client`.
    pub side: Option<&'static str>,
    /// The local process on the client's side (connection, client and client-side process
    /// rows; of the row's latest exchange).
    pub client_process: Option<ProcessSummary>,
    /// The local process on the server's side (connection, server, endpoint and server-side
    /// process rows; of the row's latest exchange).
    pub server_process: Option<ProcessSummary>,
    pub exchanges: u64,
    pub status_4xx: u64,
    pub status_5xx: u64,
    pub status_codes: Vec<StatusCount>,
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
    pub max_ns: Option<u64>,
    /// p99 time to last byte; null while no response's end was seen.
    pub ttlb_p99_ns: Option<u64>,
    /// Response body bytes, of the exchanges whose size is known.
    pub response_body_bytes: u64,
    /// A connection that ended.
    pub closed: bool,
    /// Counts restarted after an eviction, or since a time: not the whole story.
    pub partial: bool,
}

/// What attribution found for one side: `state` `found` (with `pid`, null when several
/// processes share a listening socket, `comm` and `unit`), `unknown` or `remote`.
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ProcessSummary {
    pub state: &'static str,
    pub pid: Option<u32>,
    pub comm: Option<String>,
    pub unit: Option<String>,
}

impl ProcessSummary {
    /// `None` when nobody looked (a capture file, or a row whose key has no such side).
    pub fn of(id: ProcessId) -> Option<Self> {
        let state = match id {
            ProcessId::NOT_LOOKED_UP => return None,
            ProcessId::REMOTE => "remote",
            id => match id.info() {
                Some(info) => {
                    return Some(ProcessSummary {
                        state: "found",
                        pid: info.pid,
                        comm: Some(info.comm),
                        unit: info.unit,
                    });
                }
                None => "unknown",
            },
        };
        Some(ProcessSummary {
            state,
            pid: None,
            comm: None,
            unit: None,
        })
    }
}

/// One status code and how many exchanges had it.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusCount {
    pub status: u16,
    pub count: u64,
}

fn codes(statuses: &[(u16, u64)]) -> Vec<StatusCount> {
    statuses
        .iter()
        .map(|&(status, count)| StatusCount { status, count })
        .collect()
}

impl RowSummary {
    pub(super) fn new(row: &Row, statuses: &[(u16, u64)]) -> Self {
        let (client, server, method, path) = match &row.key {
            RowKey::Connection { tuple, .. } => (
                Some(tuple.client.to_string()),
                Some(tuple.server.to_string()),
                None,
                None,
            ),
            RowKey::Server { server, .. } => (None, Some(server.to_string()), None, None),
            RowKey::Endpoint {
                server,
                method,
                template,
                ..
            } => (
                None,
                Some(server.to_string()),
                method.map(|m| m.as_str().to_owned()),
                Some(template.to_string()),
            ),
            RowKey::Client { .. } => (Some(row.key.to_string()), None, None, None),
            RowKey::Process { .. } => (None, None, None, None),
        };
        let last = row.last.processes;
        let (client_process, server_process, side) = match row.key {
            RowKey::Connection { .. } => (last.client, last.server, None),
            RowKey::Server { .. } | RowKey::Endpoint { .. } => {
                (ProcessId::NOT_LOOKED_UP, last.server, None)
            }
            RowKey::Client { .. } => (last.client, ProcessId::NOT_LOOKED_UP, None),
            RowKey::Process {
                side: Side::Client,
                process,
            } => (process, ProcessId::NOT_LOOKED_UP, Some(Side::Client.name())),
            RowKey::Process {
                side: Side::Server,
                process,
            } => (ProcessId::NOT_LOOKED_UP, process, Some(Side::Server.name())),
        };
        RowSummary {
            key: row.key.to_string(),
            netns: row.key.netns().and_then(|n| n.known_name()),
            client,
            server,
            method,
            path,
            side,
            client_process: ProcessSummary::of(client_process),
            server_process: ProcessSummary::of(server_process),
            exchanges: row.exchanges,
            status_4xx: row.status_4xx,
            status_5xx: row.status_5xx,
            status_codes: codes(statuses),
            p50_ns: row.percentiles.map(|p| p.p50),
            p99_ns: row.percentiles.map(|p| p.p99),
            max_ns: row.percentiles.map(|p| p.max),
            ttlb_p99_ns: row.ttlb.map(|p| p.p99),
            response_body_bytes: row.response_bytes,
            closed: row.closed,
            partial: row.partial(),
        }
    }
}

impl Summary {
    /// From a view's figures, its busiest rows (with their status mixes) and its busiest
    /// connections.
    pub(super) fn new(
        figures: &Figures,
        source: Source,
        start: Option<SystemTime>,
        duration_ns: u64,
        top_rows: Vec<RowSummary>,
        top_connections: Vec<Row>,
    ) -> Self {
        let k = &figures.kernel;
        let duration_s = duration_ns as f64 / 1e9;
        Summary {
            counters: k.counters,
            in_flight: k.in_flight,
            events_received: figures.events_received,
            source,
            start: start.map(|t| humantime::format_rfc3339_millis(t).to_string()),
            duration_s,
            rate_per_s: if duration_s > 0.0 {
                figures.exchanges as f64 / duration_s
            } else {
                0.0
            },
            filter: figures.filter.as_ref().map(|f| f.text().to_owned()),
            matched: figures.counted,
            status_codes: codes(&figures.statuses),
            status_4xx: figures.status_4xx,
            status_5xx: figures.status_5xx,
            latency_ns: figures.latency,
            ttlb_ns: figures.ttlb,
            ttlb_unknown: figures.ttlb_unknown,
            body_bytes: figures.bytes,
            histogram_log2: figures.log2.to_vec(),
            top_talkers: top_connections
                .iter()
                .filter_map(|r| {
                    let tuple = r.key.tuple()?;
                    let p = r.percentiles.unwrap_or_default();
                    Some(ConnectionSummary {
                        client: tuple.client.to_string(),
                        server: tuple.server.to_string(),
                        exchanges: r.exchanges,
                        p50_ns: p.p50,
                        p99_ns: p.p99,
                    })
                })
                .collect(),
            group: figures.group,
            top_rows,
            process_sides: figures.process_sides.any().then_some(figures.process_sides),
            process_notice: None,
            json_lines: None,
        }
    }

    /// A readable summary for humans, latencies in human units.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the `let _` keeps that out of the way.
        let _ = writeln!(out, "{:<22}{:>12}", "source", self.source.name());
        if let Some(start) = &self.start {
            let _ = writeln!(out, "{:<22}{start:>12}", "start");
        }
        let _ = writeln!(
            out,
            "{:<22}{:>12}",
            "duration",
            format!("{:.3}s", self.duration_s)
        );
        let _ = writeln!(
            out,
            "{:<22}{:>12}",
            "exchanges/s",
            format_rate(self.rate_per_s)
        );
        let mut line = |label: &str, value: u64| {
            let _ = writeln!(out, "{label:<22}{value:>12}");
        };
        for counter in Counter::ALL {
            line(counter.label(), self.counters[counter]);
        }
        line("in flight", self.in_flight);
        if let Some(sides) = self.process_sides {
            line("process sides found", sides.found);
            line("process sides unknown", sides.unknown);
            line("process sides remote", sides.remote);
        }
        if let Some(lines) = self.json_lines {
            line("json lines written", lines.written);
            line("json lines dropped", lines.dropped);
        }
        if let Some(notice) = &self.process_notice {
            let _ = writeln!(out, "processes: {notice}");
        }
        let events_lost = self.counters[Counter::EventsLost];
        if events_lost > 0 {
            let _ = writeln!(
                out,
                "\n{} events lost: the counts above are exact, but the figures below come \
                 from the {} exchanges received as events and are partial.",
                events_lost, self.events_received
            );
        }
        match &self.filter {
            Some(filter) => {
                let _ = writeln!(
                    out,
                    "\nfilter \"{filter}\": the figures below cover the {} exchanges it let \
                     through (the counts above are the {}'s, unfiltered).",
                    self.matched,
                    self.source.name()
                );
            }
            None => out.push('\n'),
        }

        let _ = writeln!(
            out,
            "status: 4xx {} ({})  5xx {} ({})",
            self.status_4xx,
            format_percent(share(self.status_4xx, self.matched)),
            self.status_5xx,
            format_percent(share(self.status_5xx, self.matched)),
        );
        let mix: Vec<String> = self
            .status_codes
            .iter()
            .map(|s| format!("{}: {}", s.status, s.count))
            .collect();
        if !mix.is_empty() {
            let _ = writeln!(out, "status codes: {}", mix.join("  "));
        }
        let unseen = match self.ttlb_unknown {
            0 => String::new(),
            n => format!(", {n} ends unseen"),
        };
        let timed = self.matched - self.ttlb_unknown;
        for (name, percentiles, counted, none) in [
            (
                "TTFB",
                &self.latency_ns,
                format!("{} exchanges", self.matched),
                "no exchanges".to_owned(),
            ),
            (
                "TTLB",
                &self.ttlb_ns,
                format!("{timed} exchanges{unseen}"),
                format!("no response's end seen{unseen}"),
            ),
        ] {
            let _ = match percentiles {
                Some(p) => writeln!(
                    out,
                    "{name} ({counted}): p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
                    format_ns(p.p50),
                    format_ns(p.p90),
                    format_ns(p.p99),
                    format_ns(p.p999),
                    format_ns(p.max)
                ),
                None => writeln!(out, "{name}: none ({none})"),
            };
        }
        let b = &self.body_bytes;
        if self.matched > 0 {
            let _ = writeln!(
                out,
                "body bytes: requests {} ({} unknown)  responses {} ({} unknown)",
                b.request, b.request_unknown, b.response, b.response_unknown
            );
        }
        // With events lost the percentiles above are partial; the histogram is not.
        let histogram: Option<[u64; LOG2_BUCKETS]> = self.histogram_log2.as_slice().try_into().ok();
        if let Some(b) = histogram
            .filter(|_| events_lost > 0)
            .and_then(|h| log2_percentile_bounds(&h))
        {
            let _ = writeln!(
                out,
                "TTFB from the log2 histogram (bucket bounds, not exact): p50 < {}  p90 < {}  \
                 p99 < {}  max < {}",
                format_ns(b.p50),
                format_ns(b.p90),
                format_ns(b.p99),
                format_ns(b.max)
            );
        }

        let used = |n: &u64| *n > 0;
        let first = self.histogram_log2.iter().position(used);
        let last = self.histogram_log2.iter().rposition(used);
        if let (Some(first), Some(last)) = (first, last) {
            let peak = self
                .histogram_log2
                .iter()
                .copied()
                .max()
                .unwrap_or(1)
                .max(1);
            let whose = if self.filter.is_some() {
                "filtered exchanges".to_owned()
            } else {
                format!("{}, exact", self.source.name())
            };
            let _ = writeln!(out, "\nTTFB histogram ({whose}; log2 buckets):");
            for b in first..=last {
                let n = self.histogram_log2[b];
                let range = format!(
                    "{} – {}",
                    format_ns(log2_bucket_floor(b)),
                    format_ns(log2_bucket_floor(b + 1))
                );
                let bar = "█".repeat(((n * 40).div_ceil(peak)) as usize);
                let _ = writeln!(out, "  {range:>17} {n:>10} {bar}");
            }
        }

        if !self.top_rows.is_empty() {
            let _ = writeln!(
                out,
                "\ntop {} rows:\n  {:<47} {:>10} {:>6} {:>6} {:>8} {:>8} {:>8}",
                self.group.name(),
                self.group.name(),
                "exchanges",
                "4xx",
                "5xx",
                "p50",
                "p99",
                "max"
            );
            let ns = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), format_ns);
            for r in &self.top_rows {
                let mut key = r.key.clone();
                if r.closed {
                    key.push_str(" (closed)");
                }
                if r.partial {
                    key.push_str(" (partial)");
                }
                let _ = writeln!(
                    out,
                    "  {key:<47} {:>10} {:>6} {:>6} {:>8} {:>8} {:>8}",
                    r.exchanges,
                    r.status_4xx,
                    r.status_5xx,
                    ns(r.p50_ns),
                    ns(r.p99_ns),
                    ns(r.max_ns)
                );
            }
        }
        out
    }
}

fn share(part: u64, whole: u64) -> f64 {
    super::stats::share(part, whole)
}

#[cfg(test)]
mod tests {
    use probe_common::wire::Counter;

    use crate::model::{Group, KernelTotals, Model, ModelOptions, Source, test_support::record};

    fn model() -> Model {
        let mut m = Model::new(ModelOptions::default());
        for i in 0..3 {
            m.record(record(40000, 80, i, 2_000_000, 200));
        }
        m.record(record(40001, 8080, 9, 4_000_000, 404));
        let mut k = KernelTotals {
            counters: [
                (Counter::Exchanges, 4),
                (Counter::Requests, 4),
                (Counter::Responses, 4),
            ]
            .into(),
            ..Default::default()
        };
        k.histogram_log2[20] = 3; // [1.05ms, 2.10ms)
        k.histogram_log2[21] = 1;
        m.set_kernel_totals(k);
        m
    }

    #[test]
    fn json_has_the_contract_field_names_and_sorted_talkers() {
        let json =
            serde_json::to_value(model().summary(Group::Connection, 10, Source::Kernel)).unwrap();
        assert_eq!(json["exchanges"], 4);
        assert_eq!(json["events_received"], 4);
        // hdrhistogram reports the top of the 1024 ns-wide bucket holding 2 ms.
        assert_eq!(json["latency_ns"]["p50"], 2_000_895);
        assert_eq!(json["latency_ns"]["max"], 4_000_000);
        assert_eq!(json["histogram_log2"].as_array().unwrap().len(), 64);
        assert_eq!(json["histogram_log2"][20], 3);
        let top = json["top_talkers"].as_array().unwrap();
        assert_eq!(top.len(), 2);
        assert_eq!(top[0]["client"], "10.0.0.1:40000");
        assert_eq!(top[0]["server"], "10.0.0.2:80");
        assert_eq!(top[0]["exchanges"], 3);
        assert_eq!(top[0]["p50_ns"], 2_000_000);
        assert_eq!(top[1]["p99_ns"], 4_000_000);
        for key in [
            "requests",
            "responses",
            "unmatched_responses",
            "expired_requests",
            "events_lost",
            "in_flight",
            "duplicate_segments",
            "interim_responses",
            "conn_table_full",
            "pipeline_overflow",
            "scan_incomplete",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        assert_eq!(
            model()
                .summary(Group::Connection, 1, Source::Kernel)
                .top_talkers
                .len(),
            1
        );
    }

    #[test]
    fn text_uses_human_units_and_flags_partial_figures() {
        let text = model()
            .summary(Group::Connection, 10, Source::Kernel)
            .to_text();
        assert!(text.contains("p50 2.00ms"), "{text}");
        assert!(text.contains("1.05ms – 2.10ms"), "{text}");
        assert!(text.contains("10.0.0.1:40000 → 10.0.0.2:80"), "{text}");
        assert!(!text.contains("partial"), "{text}");

        let mut m = model();
        let mut k = KernelTotals {
            counters: [(Counter::Exchanges, 6), (Counter::EventsLost, 2)].into(),
            ..Default::default()
        };
        k.histogram_log2[20] = 6; // [1.05ms, 2.10ms)
        m.set_kernel_totals(k);
        let text = m.summary(Group::Connection, 10, Source::Kernel).to_text();
        assert!(text.contains("2 events lost"), "{text}");
        assert!(
            text.contains("(bucket bounds, not exact): p50 < 2.10ms"),
            "{text}"
        );
        assert!(text.contains("partial"), "{text}");
    }

    #[test]
    fn run_figures_statuses_and_the_rows_of_the_group() {
        let mut m = model();
        let wall =
            std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        m.start(1_000_000_000, wall);
        m.set_end(3_000_000_000);
        let summary = m.summary(Group::Server, 10, Source::Capture);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["start"], "2023-11-14T22:13:20.000Z");
        assert_eq!(json["duration_s"], 2.0);
        // The kernel's 4 exchanges over 2 s.
        assert_eq!(json["rate_per_s"], 2.0);
        assert_eq!(json["source"], "capture");
        assert_eq!(json["filter"], serde_json::Value::Null);
        assert_eq!(json["matched"], 4);
        assert_eq!(
            json["status_codes"],
            serde_json::json!([{"status": 200, "count": 3}, {"status": 404, "count": 1}])
        );
        assert_eq!(
            (json["status_4xx"].as_u64(), json["status_5xx"].as_u64()),
            (Some(1), Some(0))
        );
        assert_eq!(json["group"], "server");
        let rows = json["top_rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["key"], "10.0.0.2:80");
        assert_eq!(rows[0]["exchanges"], 3);
        assert_eq!(rows[1]["key"], "10.0.0.2:8080");
        assert_eq!(rows[1]["status_4xx"], 1);
        assert_eq!(
            rows[1]["status_codes"],
            serde_json::json!([{"status": 404, "count": 1}])
        );
        // The connection rows stay in `top_talkers` whatever the group.
        assert_eq!(json["top_talkers"].as_array().unwrap().len(), 2);
        let text = summary.to_text();
        assert!(!text.contains("kernel"), "{text}");
        assert!(text.contains("TTFB (4 exchanges)"), "{text}");
        assert!(text.contains("status codes: 200: 3  404: 1"), "{text}");
        assert!(text.contains("top server rows:"), "{text}");
    }

    #[test]
    fn a_filtered_summary_covers_what_the_filter_let_through_and_says_so() {
        let mut m = Model::new(ModelOptions::default());
        m.set_filter(crate::model::Filter::parse("status 4xx").unwrap());
        m.record(record(40000, 80, 1, 1_000, 200));
        m.record(record(40001, 8080, 2, 2_000, 404));
        let summary = m.summary(Group::Endpoint, 10, Source::Kernel);
        assert_eq!(summary.filter.as_deref(), Some("status 4xx"));
        assert_eq!(summary.matched, 1);
        assert_eq!(summary.top_rows.len(), 1);
        assert_eq!(summary.top_rows[0].key, "10.0.0.2:8080 GET /index.html");
        assert_eq!(summary.latency_ns.map(|p| p.max), Some(2_000));
        let text = summary.to_text();
        assert!(
            text.contains("filter \"status 4xx\": the figures below cover the 1 exchanges"),
            "{text}"
        );
        // No exchange at all: no percentiles, not zeros.
        let mut empty = Model::new(ModelOptions::default());
        let summary = empty.summary(Group::Connection, 10, Source::Kernel);
        assert_eq!(summary.latency_ns, None);
        assert!(summary.to_text().contains("TTFB: none"));
    }

    /// Every key of the JSON object, nested ones as `parent.key` (arrays by their first item).
    fn json_keys(value: &serde_json::Value, prefix: &str, keys: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, inner) in map {
                    keys.push(format!("{prefix}{key}"));
                    json_keys(inner, &format!("{prefix}{key}."), keys);
                }
            }
            serde_json::Value::Array(items) => {
                if let Some(first) = items.first() {
                    json_keys(first, prefix, keys);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn json_has_every_counter_under_its_key_with_its_value() {
        let mut m = model();
        let mut k = KernelTotals::default();
        for (n, counter) in Counter::ALL.into_iter().enumerate() {
            k[counter] = 100 + n as u64;
        }
        m.set_kernel_totals(k);
        let summary = m.summary(Group::Connection, 10, Source::Kernel);
        let json = serde_json::to_value(&summary).unwrap();
        let text = summary.to_text();
        for (n, counter) in Counter::ALL.into_iter().enumerate() {
            assert_eq!(json[counter.key()], 100 + n as u64, "{counter:?}");
            assert!(
                text.contains(&format!("{:<22}{:>12}", counter.label(), 100 + n)),
                "{counter:?}: {text}"
            );
        }
    }

    /// The README lists the summary's JSON keys: the list there must be the keys this code
    /// writes, the counters' keys (from `Counter`) and the others alike.
    #[test]
    fn readme_lists_exactly_the_json_keys() {
        let readme = include_str!("../../../README.md");
        let start = readme
            .find("The JSON object holds")
            .expect("README: the JSON keys paragraph");
        let end = start
            + readme[start..]
                .find("sorted by")
                .expect("README: the JSON keys paragraph's end");
        let mut listed: Vec<String> = readme[start..end]
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        listed.sort();

        let json =
            serde_json::to_value(model().summary(Group::Connection, 10, Source::Kernel)).unwrap();
        let mut written = Vec::new();
        json_keys(&json, "", &mut written);
        // The README names nested keys without their parent, each once.
        let mut written: Vec<String> = written
            .into_iter()
            .map(|key| key.rsplit('.').next().unwrap_or_default().to_owned())
            .collect();
        written.sort();
        assert_eq!(listed, written);
        for counter in Counter::ALL {
            assert!(listed.iter().any(|key| key == counter.key()), "{counter:?}");
        }
    }

    /// docs/terms.md defines every top-level key of the summary, counters included, in its
    /// table (one row each, the key first): a new counter is not done until its meaning is.
    #[test]
    fn terms_define_every_top_level_json_key() {
        let terms = include_str!("../../../docs/terms.md");
        let defined: Vec<&str> = terms
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .collect();
        let mut summary = model().summary(Group::Endpoint, 10, Source::Kernel);
        // Only there with --json-lines, defined all the same.
        summary.json_lines = Some(super::JsonLinesSummary {
            written: 1,
            dropped: 0,
        });
        let json = serde_json::to_value(summary).unwrap();
        let keys: Vec<&String> = json.as_object().expect("an object").keys().collect();
        for key in &keys {
            assert!(
                defined.contains(&key.as_str()),
                "docs/terms.md does not define `{key}`"
            );
        }
        for counter in Counter::ALL {
            assert!(defined.contains(&counter.key()), "{counter:?}");
        }
    }
}
