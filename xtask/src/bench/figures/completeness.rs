//! Figure 2, completeness: in figure 1's httptop runs, httptop's exchanges against nginx's own
//! count (its access log) of the same run, and the events lost on the way to user space.

use super::throughput::{AttachedRun, Runs};
use crate::bench::report::{Check, Figure, Row};

/// Figure 2 from figure 1's runs.
pub fn figure(runs: &Runs) -> Figure {
    let attached = |value: &dyn Fn(&AttachedRun, f64) -> f64| -> Vec<f64> {
        runs.attached()
            .map(|(run, rate)| value(run, rate))
            .collect()
    };
    Figure {
        title: "2. Completeness",
        setup: "The httptop runs of figure 1 (the highest rate this machine reaches): httptop's `exchanges` against \
                nginx's access-log lines of the same run (log truncated before it, written unbuffered; wrk stopped, \
                300 ms settle, then SIGINT to httptop), and the events lost on the way to user space."
            .into(),
        rows: vec![
            Row::new("nginx access-log lines", "requests", attached(&|run, _| run.logged as f64)),
            Row::new("httptop exchanges", "exchanges", attached(&|run, _| run.summary.exchanges as f64)),
            Row::new(
                "|httptop exchanges − access-log lines|",
                "exchanges",
                attached(&|run, _| run.summary.exchanges.abs_diff(run.logged) as f64),
            )
            .target(Check::AllAtMost(0.0)),
            Row::new("events lost", "events", attached(&|run, _| run.summary.events_lost as f64))
                .target(Check::AllAtMost(0.0)),
            Row::new("expired requests", "requests", attached(&|run, _| run.summary.expired_requests as f64)),
            Row::new("rate of these runs", "req/s", attached(&|_, rate| rate)),
        ],
        notes: Vec::new(),
    }
}
