//! The headless summary: its JSON field names are a contract (scripts and tests parse them).

use std::fmt::Write as _;

use serde::Serialize;

use super::{
    Connection, Figures,
    latency::{Percentiles, log2_bucket_floor},
    units::format_ns,
};

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Summary {
    pub exchanges: u64,
    pub requests: u64,
    pub responses: u64,
    pub unmatched_responses: u64,
    pub expired_requests: u64,
    pub events_lost: u64,
    pub in_flight: u64,
    pub duplicate_segments: u64,
    pub interim_responses: u64,
    pub conn_table_full: u64,
    pub pipeline_overflow: u64,
    pub scan_incomplete: u64,
    /// Exchanges seen through events (== `exchanges` when no event was lost).
    pub events_received: u64,
    /// From the events' latencies; all zeros when there were none.
    pub latency_ns: Percentiles,
    /// The kernel's 64 log2 buckets (exact).
    pub histogram_log2: Vec<u64>,
    /// The busiest connections: by exchanges descending, ties by tuple.
    pub top_talkers: Vec<ConnectionSummary>,
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

impl Summary {
    /// From an unfiltered view's figures and its busiest connections.
    pub(super) fn new(figures: &Figures, top: Vec<&Connection>) -> Self {
        let k = &figures.kernel;
        Summary {
            exchanges: figures.exchanges,
            requests: k.requests,
            responses: k.responses,
            unmatched_responses: k.unmatched_responses,
            expired_requests: k.expired_requests,
            events_lost: k.events_lost,
            in_flight: k.in_flight,
            duplicate_segments: k.duplicate_segments,
            interim_responses: k.interim_responses,
            conn_table_full: k.conn_table_full,
            pipeline_overflow: k.pipeline_overflow,
            scan_incomplete: k.scan_incomplete,
            events_received: figures.events_received,
            latency_ns: figures.latency,
            histogram_log2: figures.log2.to_vec(),
            top_talkers: top
                .into_iter()
                .map(|t| {
                    let p = t.current_percentiles();
                    ConnectionSummary {
                        client: t.tuple.client.to_string(),
                        server: t.tuple.server.to_string(),
                        exchanges: t.exchanges,
                        p50_ns: p.p50,
                        p99_ns: p.p99,
                    }
                })
                .collect(),
        }
    }

    /// A readable summary for humans, latencies in human units.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the `let _` keeps that out of the way.
        let mut line = |label: &str, value: u64| {
            let _ = writeln!(out, "{label:<22}{value:>12}");
        };
        line("exchanges", self.exchanges);
        line("requests", self.requests);
        line("responses", self.responses);
        line("unmatched responses", self.unmatched_responses);
        line("expired requests", self.expired_requests);
        line("events lost", self.events_lost);
        line("in flight", self.in_flight);
        line("interim responses", self.interim_responses);
        line("duplicate segments", self.duplicate_segments);
        line("conn table full", self.conn_table_full);
        line("pipeline overflow", self.pipeline_overflow);
        line("scan incomplete", self.scan_incomplete);
        if self.events_lost > 0 {
            let _ = writeln!(
                out,
                "\n{} events lost: the counts above are exact, but the percentiles and top \
                 talkers below come from the {} exchanges received as events and are partial.",
                self.events_lost, self.events_received
            );
        }

        let p = &self.latency_ns;
        let _ = writeln!(
            out,
            "\nlatency ({} exchanges): p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
            self.events_received,
            format_ns(p.p50),
            format_ns(p.p90),
            format_ns(p.p99),
            format_ns(p.p999),
            format_ns(p.max)
        );

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
            let _ = writeln!(out, "\nlatency histogram (kernel, exact):");
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

        if !self.top_talkers.is_empty() {
            let _ = writeln!(
                out,
                "\ntop talkers:\n  {:<47} {:>10} {:>8} {:>8}",
                "client → server", "exchanges", "p50", "p99"
            );
            for t in &self.top_talkers {
                let tuple = format!("{} → {}", t.client, t.server);
                let _ = writeln!(
                    out,
                    "  {tuple:<47} {:>10} {:>8} {:>8}",
                    t.exchanges,
                    format_ns(t.p50_ns),
                    format_ns(t.p99_ns)
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{KernelTotals, Model, ModelOptions, test_support::record};

    fn model() -> Model {
        let mut m = Model::new(ModelOptions::default());
        for i in 0..3 {
            m.record(record(40000, 80, i, 2_000_000, 200));
        }
        m.record(record(40001, 8080, 9, 4_000_000, 404));
        let mut k = KernelTotals {
            exchanges: 4,
            requests: 4,
            responses: 4,
            ..Default::default()
        };
        k.histogram_log2[20] = 3; // [1.05ms, 2.10ms)
        k.histogram_log2[21] = 1;
        m.set_kernel_totals(k);
        m
    }

    #[test]
    fn json_has_the_contract_field_names_and_sorted_talkers() {
        let json = serde_json::to_value(model().summary(10)).unwrap();
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
        assert_eq!(model().summary(1).top_talkers.len(), 1);
    }

    #[test]
    fn text_uses_human_units_and_flags_partial_figures() {
        let text = model().summary(10).to_text();
        assert!(text.contains("p50 2.00ms"), "{text}");
        assert!(text.contains("1.05ms – 2.10ms"), "{text}");
        assert!(text.contains("10.0.0.1:40000 → 10.0.0.2:80"), "{text}");
        assert!(!text.contains("partial"), "{text}");

        let mut m = model();
        m.set_kernel_totals(KernelTotals {
            exchanges: 6,
            events_lost: 2,
            ..Default::default()
        });
        let text = m.summary(10).to_text();
        assert!(text.contains("2 events lost"), "{text}");
        assert!(text.contains("partial"), "{text}");
    }
}
