//! What leaves httptop besides the screen and the summary: a JSON line per exchange for
//! scripts (`--json-lines`, [`json_lines`]) and a Prometheus endpoint for fleets
//! (`--prometheus`, [`metrics`] served by [`server`]). Both are fed from where the model is:
//! the collector's drained batches, or the capture reader's exchanges, through [`Exports`].

pub mod json_lines;
pub mod metrics;
pub mod server;

use std::sync::Arc;

pub use json_lines::{
    ExchangeLine, JsonLines, JsonLinesCounts, JsonLinesOptions, JsonLinesSender, SCHEMA_VERSION,
    WhenBehind,
};
pub use metrics::{DEFAULT_SERIES_LIMIT, Metrics, MetricsOptions};

use crate::model::{Event, Exchange, KernelTotals};

/// The exports of one run; each is there only when asked for. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Exports {
    pub json_lines: Option<JsonLinesSender>,
    pub metrics: Option<Arc<Metrics>>,
}

impl Exports {
    /// The exchanges of a batch of events, in order.
    pub fn record_events(&self, events: &[Event]) {
        if self.json_lines.is_none() && self.metrics.is_none() {
            return;
        }
        let exchanges = || {
            events.iter().filter_map(|e| match e {
                Event::Exchange(x) => Some(x),
                Event::ConnectionEnded(_) => None,
            })
        };
        if let Some(metrics) = &self.metrics {
            metrics.record(exchanges());
        }
        if let Some(lines) = &self.json_lines {
            lines.send(exchanges());
        }
    }

    /// One exchange (the capture reader's).
    pub fn record(&self, exchange: &Exchange) {
        if let Some(metrics) = &self.metrics {
            metrics.record([exchange]);
        }
        if let Some(lines) = &self.json_lines {
            lines.send([exchange]);
        }
    }

    /// Returns when a scrape wants fresh figures; never without metrics.
    pub async fn refresh_wanted(&self) {
        match &self.metrics {
            Some(metrics) => metrics.refresh_wanted().await,
            None => std::future::pending().await,
        }
    }

    /// What the kernel reported up to now is in.
    pub fn refreshed(&self) {
        if let Some(metrics) = &self.metrics {
            metrics.refreshed();
        }
    }

    pub fn set_kernel_totals(&self, totals: &KernelTotals) {
        if let Some(metrics) = &self.metrics {
            metrics.set_kernel_totals(totals);
        }
    }
}

#[cfg(test)]
pub(crate) mod docs {
    /// The first-column names (between backticks) of the table under `## {section}` in
    /// docs/terms.md.
    pub fn terms_table(section: &str) -> Vec<String> {
        let terms = include_str!("../../../docs/terms.md");
        let heading = format!("## {section}\n");
        let start = terms.find(&heading).expect("the section") + heading.len();
        let body = &terms[start..];
        let body = &body[..body.find("\n## ").unwrap_or(body.len())];
        body.lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split('`').next())
            .map(str::to_owned)
            .collect()
    }
}
