//! The headless summary: its JSON field names are a contract (scripts and tests parse them).
//! Each kernel counter appears under its key from `probe_common::wire::Counter`.

use std::fmt::Write as _;

use probe_common::wire::Counter;
use serde::Serialize;

use super::{
    Connection, Figures,
    latency::{Percentiles, log2_bucket_floor},
    totals::Counters,
    units::format_ns,
};

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Summary {
    /// Every kernel counter, under its key.
    #[serde(flatten)]
    pub counters: Counters,
    /// Requests outstanding at the end (a gauge).
    pub in_flight: u64,
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
            // The view is unfiltered: its counts are the kernel's exact ones.
            counters: k.counters,
            in_flight: k.in_flight,
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
        for counter in Counter::ALL {
            line(counter.label(), self.counters[counter]);
        }
        line("in flight", self.in_flight);
        let events_lost = self.counters[Counter::EventsLost];
        if events_lost > 0 {
            let _ = writeln!(
                out,
                "\n{} events lost: the counts above are exact, but the percentiles and top \
                 talkers below come from the {} exchanges received as events and are partial.",
                events_lost, self.events_received
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
    use probe_common::wire::Counter;

    use crate::model::{KernelTotals, Model, ModelOptions, test_support::record};

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
            counters: [(Counter::Exchanges, 6), (Counter::EventsLost, 2)].into(),
            ..Default::default()
        });
        let text = m.summary(10).to_text();
        assert!(text.contains("2 events lost"), "{text}");
        assert!(text.contains("partial"), "{text}");
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
        let summary = m.summary(10);
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

        let json = serde_json::to_value(model().summary(10)).unwrap();
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
        let json = serde_json::to_value(model().summary(10)).unwrap();
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
