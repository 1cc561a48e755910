//! Figure 1, throughput cost: nginx's rate under wrk with each observer, against no observer in
//! the same round; httptop's own CPU per request in the same runs. Its httptop runs also give
//! figure 2 ([`super::completeness`]).

use crate::bench::measure::CPU_SOURCE;
use std::{path::Path, thread};

use anyhow::Result;
use httptop_lab::NGINX_BODY;

use super::{Bench, SETTLE};
use crate::bench::{
    measure::{Attach, PAIRING_ONLY, ProcessSample, RETURN_AT_ONCE},
    observers::{Capture, CaptureTool, Summary},
    report::{Check, Figure, Row},
};

pub const NO_OBSERVER_RATE: &str = "req/s, no observer";
pub const IDLE_TAP_RATIO: &str = "req/s ratio tcpdump matching nothing / none";
pub const NULL_FILTER_RATIO: &str =
    "req/s ratio httptop's sockets, filter returning at once / none";
pub const PAIRING_FILTER_RATIO: &str =
    "req/s ratio httptop's sockets and process, filter pairing by port only / none";
pub const PAIRING_PROCESS_NS: &str =
    "httptop's sockets and process, filter pairing by port only: httptop's CPU per request";
/// httptop's throughput target against its bare tap: its ratio at least this share of the
/// ratio of its sockets with a filter that returns at once (within 2 %), read by the check here
/// and by the analysis of a miss.
pub const THROUGHPUT_RATIO_TARGET: f64 = 0.98;

/// httptop's ratio (with / without, same round) in mode `attach`.
pub fn httptop_ratio(attach: Attach) -> String {
    ratio_metric(Observer::Httptop(attach))
}

/// httptop's CPU time per request in its runs in mode `attach`.
pub fn attached_process_ns(attach: Attach) -> String {
    format!(
        "{} runs: httptop's CPU per request",
        Observer::Httptop(attach).short_name()
    )
}

/// httptop's ratio less the better of tcpdump's and tshark's, round by round.
pub fn ratio_over_captures(attach: Attach) -> String {
    format!(
        "{}: ratio − the better of tcpdump's and tshark's, per round",
        Observer::Httptop(attach).short_name()
    )
}

/// httptop's ratio over its bare tap's (the sockets with a filter returning at once).
pub fn ratio_over_bare_tap(attach: Attach) -> String {
    format!(
        "{}: ratio / the ratio of httptop's sockets with a filter returning at once",
        Observer::Httptop(attach).short_name()
    )
}

/// A capture filter that matches nothing on loopback (an EtherType for local experiments):
/// tcpdump with it measures what any packet socket on `lo` costs before its filter says no.
const MATCH_NOTHING: [&str; 3] = ["ether", "proto", "0x88b5"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Observer {
    Nothing,
    Httptop(Attach),
    Capture(CaptureTool),
    /// tcpdump with [`MATCH_NOTHING`]: what tcpdump's kind of tap costs before its filter says no.
    IdleTap,
    /// `httptop --bench-control-filter return-at-once`: httptop's own sockets and process with
    /// a filter that returns at once: the floor for httptop's design, whatever its filter does.
    NullFilter,
    /// `httptop --bench-control-filter pairing`: httptop's sockets and process with a filter
    /// that pairs by port and sends every exchange's event, reading no payload byte: the least
    /// a design that pairs in the kernel and reports each exchange costs.
    PairingFilter,
}

fn rate_metric(observer: Observer) -> String {
    format!("req/s, {}", observer.name())
}

fn ratio_metric(observer: Observer) -> String {
    format!("req/s ratio {} / none", observer.short_name())
}

impl Observer {
    const ALL: [Self; 8] = [
        Self::Nothing,
        Self::Httptop(Attach::Socket),
        Self::Httptop(Attach::Tc),
        Self::NullFilter,
        Self::PairingFilter,
        Self::Capture(CaptureTool::Tcpdump),
        Self::Capture(CaptureTool::Tshark),
        Self::IdleTap,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Nothing => "no observer",
            Self::Httptop(Attach::Socket) => "httptop --headless --attach socket",
            Self::Httptop(Attach::Tc) => "httptop --headless --attach tc",
            Self::Capture(tool) => tool.name(),
            Self::IdleTap => "tcpdump matching nothing",
            Self::NullFilter => "httptop's sockets, filter returning at once",
            Self::PairingFilter => "httptop's sockets and process, filter pairing by port only",
        }
    }

    /// In the names of ratios and per-request costs.
    fn short_name(self) -> &'static str {
        match self {
            Self::Httptop(Attach::Socket) => "httptop (socket)",
            Self::Httptop(Attach::Tc) => "httptop (tc)",
            other => other.name(),
        }
    }

    /// The `--bench-control-filter` value of a control run of httptop.
    fn control_filter(self) -> Option<&'static str> {
        match self {
            Self::NullFilter => Some(RETURN_AT_ONCE.0),
            Self::PairingFilter => Some(PAIRING_ONLY.0),
            _ => None,
        }
    }
}

/// One wrk run under one observer; with httptop, what it saw and cost in the same run.
struct ThroughputRun {
    requests_per_s: f64,
    /// httptop's CPU time over the run, in percent of one core (runs with an httptop process).
    cpu_percent: Option<f64>,
    attached: Option<AttachedRun>,
}

pub struct AttachedRun {
    pub summary: Summary,
    /// nginx's access-log lines of the same run.
    pub logged: u64,
}

fn throughput_run(bench: &Bench, observer: Observer) -> Result<ThroughputRun> {
    bench.nginx.truncate_access_log()?;
    let duration = bench.plan.wrk_time;
    match observer {
        Observer::Nothing => Ok(ThroughputRun {
            requests_per_s: bench.wrk(duration)?.requests_per_s,
            cpu_percent: None,
            attached: None,
        }),
        Observer::Httptop(_) | Observer::NullFilter | Observer::PairingFilter => {
            // Headless, httptop leaves the kernel's run-time statistics off (they cost two clock
            // reads per run): the filter's own time is figure 3's.
            let httptop = match (observer, observer.control_filter()) {
                (Observer::Httptop(attach), _) => {
                    bench.headless(&format!("throughput-{}", attach.name()), &attach.args())?
                }
                // The controls are socket filters.
                (_, Some(control)) => bench.headless(
                    "throughput-control",
                    &[
                        &Attach::Socket.args()[..],
                        &["--bench-control-filter", control],
                    ]
                    .concat(),
                )?,
                _ => unreachable!("only httptop's runs and its controls get here"),
            };
            let process = ProcessSample::read(httptop.pid())?;
            let wrk = bench.wrk(duration)?;
            let cpu_percent = ProcessSample::read(httptop.pid())?.cpu_percent_since(&process);
            // Only httptop's own filter counts exchanges to check against nginx's log.
            let attached = if matches!(observer, Observer::Httptop(_)) {
                thread::sleep(SETTLE);
                let summary = httptop.finish()?;
                let logged = bench.nginx.logged_requests()?;
                Some(AttachedRun { summary, logged })
            } else {
                httptop.finish()?;
                None
            };
            Ok(ThroughputRun {
                requests_per_s: wrk.requests_per_s,
                cpu_percent: Some(cpu_percent),
                attached,
            })
        }
        Observer::Capture(_) | Observer::IdleTap => {
            let (tool, filter): (_, &[&str]) = match observer {
                Observer::Capture(tool) => (tool, &[]),
                _ => (CaptureTool::Tcpdump, &MATCH_NOTHING),
            };
            let capture = Capture::start(
                bench.namespace,
                tool,
                Path::new("/dev/null"),
                filter,
                bench.commands,
            )?;
            let wrk = bench.wrk(duration)?;
            capture.stop()?;
            Ok(ThroughputRun {
                requests_per_s: wrk.requests_per_s,
                cpu_percent: None,
                attached: None,
            })
        }
    }
}

/// Every throughput run, per observer in the order of [`Observer::ALL`].
pub struct Runs {
    per_observer: Vec<Vec<ThroughputRun>>,
}

impl Runs {
    fn of(&self, observer: Observer) -> &[ThroughputRun] {
        let index = Observer::ALL
            .iter()
            .position(|o| *o == observer)
            .expect("every observer is in ALL");
        &self.per_observer[index]
    }

    /// What httptop saw in each of its runs in mode `attach`, with the rate wrk reached in it.
    pub fn attached(&self, attach: Attach) -> impl Iterator<Item = (&AttachedRun, f64)> {
        self.of(Observer::Httptop(attach))
            .iter()
            .filter_map(|run| Some((run.attached.as_ref()?, run.requests_per_s)))
    }
}

/// The runs, interleaved: every observer once per round, `plan.throughput_runs` rounds.
pub fn measure(bench: &Bench) -> Result<Runs> {
    let mut per_observer: Vec<Vec<ThroughputRun>> =
        Observer::ALL.iter().map(|_| Vec::new()).collect();
    for run in 0..bench.plan.throughput_runs {
        for (index, observer) in Observer::ALL.into_iter().enumerate() {
            eprintln!(
                "xtask bench: throughput run {}/{}: {}",
                run + 1,
                bench.plan.throughput_runs,
                observer.name()
            );
            per_observer[index].push(throughput_run(bench, observer)?);
        }
    }
    Ok(Runs { per_observer })
}

/// Figure 1 from the runs.
pub fn figure(bench: &Bench, runs: &Runs) -> Figure {
    let ratio = |observer: Observer| -> Vec<f64> {
        runs.of(observer)
            .iter()
            .zip(runs.of(Observer::Nothing))
            .map(|(with, without)| with.requests_per_s / without.requests_per_s)
            .collect()
    };
    // httptop's CPU time over a run, per request wrk made in it.
    let process_ns = |observer: Observer| -> Vec<f64> {
        runs.of(observer)
            .iter()
            .filter_map(|run| Some(run.cpu_percent? / 100.0 * 1e9 / run.requests_per_s))
            .collect()
    };
    let mut rows: Vec<Row> = Observer::ALL
        .iter()
        .map(|observer| {
            let samples = runs
                .of(*observer)
                .iter()
                .map(|run| run.requests_per_s)
                .collect();
            Row::new(rate_metric(*observer), "req/s", samples)
        })
        .collect();
    for observer in Observer::ALL.into_iter().skip(1) {
        rows.push(Row::new(ratio_metric(observer), "×", ratio(observer)));
    }
    let captures_best: Vec<f64> = ratio(Observer::Capture(CaptureTool::Tcpdump))
        .into_iter()
        .zip(ratio(Observer::Capture(CaptureTool::Tshark)))
        .map(|(tcpdump, tshark)| tcpdump.max(tshark))
        .collect();
    let bare_tap = ratio(Observer::NullFilter);
    for attach in Attach::ALL {
        let httptop = ratio(Observer::Httptop(attach));
        rows.push(
            Row::new(
                ratio_over_captures(attach),
                "×",
                httptop
                    .iter()
                    .zip(&captures_best)
                    .map(|(h, c)| h - c)
                    .collect(),
            )
            .target(Check::AllAtLeast(0.0)),
        );
        rows.push(
            Row::new(
                ratio_over_bare_tap(attach),
                "×",
                httptop.iter().zip(&bare_tap).map(|(h, b)| h / b).collect(),
            )
            .target(Check::MedianAtLeast(THROUGHPUT_RATIO_TARGET)),
        );
        let observer = Observer::Httptop(attach);
        rows.push(Row::new(
            format!("{} runs: httptop's CPU", observer.short_name()),
            "% of one core",
            runs.of(observer)
                .iter()
                .filter_map(|run| run.cpu_percent)
                .collect(),
        ));
        rows.push(Row::new(
            attached_process_ns(attach),
            "ns",
            process_ns(observer),
        ));
    }
    rows.push(Row::new(
        PAIRING_PROCESS_NS,
        "ns",
        process_ns(Observer::PairingFilter),
    ));
    Figure {
        title: "1. Throughput cost",
        setup: format!(
            "nginx (worker_processes 1, `return 200` with a {}-byte body, access log to a file, keepalive_requests \
             1000000) under `wrk -t2 -c64 -d{}s` (keep-alive), nginx and wrk sharing the machine's cores. Observers, \
             interleaved per run: none, `httptop --headless --json --attach socket` (a socket filter on an AF_PACKET \
             socket per interface), the same with `--attach tc` (a tc classifier on lo's ingress hook), the socket \
             mode with `--bench-control-filter return-at-once` (httptop's \
             sockets and process with a filter that returns at once instead of its own: what httptop's design costs \
             before its filter does any work), the same with `--bench-control-filter pairing` (a filter that pairs \
             requests with responses by port in the same maps and sends every exchange's event to httptop's \
             process, reading no payload byte: what any design that pairs in the kernel and reports each exchange \
             costs at least), `tcpdump -i lo -w /dev/null`, `tshark -i lo -w /dev/null`, and as a \
             control `tcpdump -i lo -w /dev/null ether proto 0x88b5` (a filter that matches \
             nothing: what tcpdump's kind of tap on `lo` costs, seeing both copies of every packet). The ratio pairs each \
             observed run with the unobserved run of the same round. In the runs of httptop and of its pairing \
             control, httptop's CPU time ({CPU_SOURCE}) over the same wrk run, per request wrk made.",
            NGINX_BODY.len(),
            bench.plan.wrk_time.as_secs()
        ),
        rows,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_analysis_finds_the_ratios_by_the_names_the_figure_gives_them() {
        assert_eq!(
            ratio_metric(Observer::Httptop(Attach::Tc)),
            httptop_ratio(Attach::Tc)
        );
        assert_eq!(ratio_metric(Observer::NullFilter), NULL_FILTER_RATIO);
        assert_eq!(ratio_metric(Observer::PairingFilter), PAIRING_FILTER_RATIO);
        assert_eq!(ratio_metric(Observer::IdleTap), IDLE_TAP_RATIO);
        assert_eq!(rate_metric(Observer::Nothing), NO_OBSERVER_RATE);
    }
}
