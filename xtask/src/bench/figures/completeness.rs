//! Figure 2, completeness: in figure 1's httptop runs, httptop's exchanges against nginx's own
//! count (its access log) of the same run, and the events lost on the way to user space.

use super::throughput::{AttachedRun, Runs};
use crate::bench::{
    measure::Attach,
    report::{Check, Figure, Row},
};

/// Figure 2 from figure 1's runs, for each attach mode.
pub fn figure(runs: &Runs) -> Figure {
    let mut rows = Vec::new();
    for attach in Attach::ALL {
        rows.extend(rows_of(runs, attach));
    }
    Figure {
        title: "2. Completeness",
        setup: "The httptop runs of figure 1 (the highest rate this machine reaches): httptop's `exchanges` against \
                nginx's access-log lines of the same run (log truncated before it, written unbuffered; wrk stopped, \
                300 ms settle, then SIGINT to httptop), and the events lost on the way to user space; for each \
                attach mode (`--attach socket`, `--attach tc`)."
            .into(),
        rows,
        notes: Vec::new(),
    }
}

fn rows_of(runs: &Runs, attach: Attach) -> Vec<Row> {
    let attached = |value: &dyn Fn(&AttachedRun, f64) -> f64| -> Vec<f64> {
        runs.attached(attach)
            .map(|(run, rate)| value(run, rate))
            .collect()
    };
    let mode = attach.name();
    vec![
        Row::new(
            format!("{mode}: nginx access-log lines"),
            "requests",
            attached(&|run, _| run.logged as f64),
        ),
        Row::new(
            format!("{mode}: httptop exchanges"),
            "exchanges",
            attached(&|run, _| run.summary.exchanges as f64),
        ),
        Row::new(
            format!("{mode}: |httptop exchanges − access-log lines|"),
            "exchanges",
            attached(&|run, _| run.summary.exchanges.abs_diff(run.logged) as f64),
        )
        .target(Check::AllAtMost(0.0)),
        Row::new(
            format!("{mode}: events lost"),
            "events",
            attached(&|run, _| run.summary.events_lost as f64),
        )
        .target(Check::AllAtMost(0.0)),
        Row::new(
            format!("{mode}: expired requests"),
            "requests",
            attached(&|run, _| run.summary.expired_requests as f64),
        ),
        Row::new(
            format!("{mode}: rate of these runs"),
            "req/s",
            attached(&|_, rate| rate),
        ),
    ]
}
