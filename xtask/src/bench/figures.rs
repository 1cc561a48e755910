//! The six figures of issue 5, each measured over `plan.runs` interleaved runs.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::{
    Plan,
    delay::DelayServer,
    load,
    measure::{
        BpfStatsEnabled, FilterCost, HEADERS_ONLY, PAIRING_ONLY, ProcessSample, ProgramStats,
        RETURN_AT_ONCE, RunStats, map_memory,
    },
    netns::Namespace,
    nginx::Nginx,
    observers::{self, Capture, CaptureTool, Dashboard, Headless, Summary},
    report::{Check, CommandLog, Figure, Row},
};

pub const NGINX_ADDR: &str = "127.0.0.1:8080";
const NGINX_URL: &str = "http://127.0.0.1:8080/";
const DELAY_ADDR: &str = "127.0.0.1:8088";
const BULK_ADDR: &str = "127.0.0.1:9000";
/// Time for the last responses to cross the socket and the collector to drain the ring
/// buffer, between the end of the load and httptop's stop.
const SETTLE: Duration = Duration::from_millis(300);
const MIB: f64 = 1024.0 * 1024.0;

// Metrics the analysis reads back.
pub const NO_OBSERVER_RATE: &str = "req/s, no observer";
pub const HTTPTOP_RATIO: &str = "req/s ratio httptop / none";
pub const IDLE_TAP_RATIO: &str = "req/s ratio tcpdump matching nothing / none";
pub const NULL_FILTER_RATIO: &str =
    "req/s ratio httptop's sockets, filter returning at once / none";
pub const PAIRING_FILTER_RATIO: &str =
    "req/s ratio httptop's sockets and process, filter pairing by port only / none";
pub const PAIRING_PROCESS_NS: &str =
    "httptop's sockets and process, filter pairing by port only: httptop's CPU per request";
pub const NULL_NS_PER_PACKET: &str = "HTTP load, filter returning at once: per packet";
pub const HEADERS_NS_PER_PACKET: &str = "HTTP load, filter parsing the headers only: per packet";
pub const PAIRING_NS_PER_PACKET: &str =
    "HTTP load, filter pairing by port without reading the payload: per packet";
pub const HTTP_NS_PER_PACKET: &str = "HTTP load: both programs per packet";
pub const BULK_NS_PER_PACKET: &str = "non-HTTP load: both programs per packet";
pub const PACKETS_PER_EXCHANGE: &str = "HTTP load: packets (filter runs) per exchange";
/// Issue 5's targets, read by the checks here and by the analysis of a miss.
pub const THROUGHPUT_RATIO_TARGET: f64 = 0.98;
pub const FILTER_NS_TARGET: f64 = 80.0;
pub const ATTACHED_PROCESS_NS: &str = "httptop runs: httptop's CPU per request";

/// What every figure works with.
pub struct Bench<'a> {
    pub namespace: &'a Namespace,
    pub dir: &'a Path,
    pub binary: &'a Path,
    pub nginx: &'a Nginx,
    pub plan: &'a Plan,
    pub commands: &'a CommandLog,
}

impl Bench<'_> {
    fn log_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("httptop-{name}.log"))
    }

    fn headless(&self, name: &str, extra: &[&str]) -> Result<Headless> {
        Headless::start(
            self.namespace,
            self.binary,
            &self.log_file(name),
            extra,
            self.commands,
        )
    }

    fn wrk(&self, duration: Duration) -> Result<load::WrkResult> {
        let command = load::wrk_command(self.namespace, NGINX_URL, 2, 64, duration);
        self.commands.record(&command);
        load::run_wrk(command)
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a literal socket address")
}

/// A capture filter that matches nothing on loopback (an EtherType for local experiments):
/// tcpdump with it measures what any packet socket on `lo` costs before its filter says no.
const MATCH_NOTHING: [&str; 3] = ["ether", "proto", "0x88b5"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Observer {
    Nothing,
    Httptop,
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
    const ALL: [Self; 7] = [
        Self::Nothing,
        Self::Httptop,
        Self::NullFilter,
        Self::PairingFilter,
        Self::Capture(CaptureTool::Tcpdump),
        Self::Capture(CaptureTool::Tshark),
        Self::IdleTap,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Nothing => "no observer",
            Self::Httptop => "httptop --headless",
            Self::Capture(tool) => tool.name(),
            Self::IdleTap => "tcpdump matching nothing",
            Self::NullFilter => "httptop's sockets, filter returning at once",
            Self::PairingFilter => "httptop's sockets and process, filter pairing by port only",
        }
    }

    /// In the names of ratios and per-request costs.
    fn short_name(self) -> &'static str {
        match self {
            Self::Httptop => "httptop",
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

struct AttachedRun {
    summary: Summary,
    /// nginx's access-log lines of the same run.
    logged: u64,
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
        Observer::Httptop | Observer::NullFilter | Observer::PairingFilter => {
            // Headless, httptop leaves the kernel's run-time statistics off (they cost two clock
            // reads per run): the filter's own time is figure 3's.
            let httptop = match observer.control_filter() {
                Some(control) => {
                    bench.headless("throughput-control", &["--bench-control-filter", control])?
                }
                None => bench.headless("throughput", &[])?,
            };
            let process = ProcessSample::read(httptop.pid())?;
            let wrk = bench.wrk(duration)?;
            let cpu_percent = ProcessSample::read(httptop.pid())?.cpu_percent_since(&process);
            // Only httptop's own filter counts exchanges to check against nginx's log.
            let attached = if observer == Observer::Httptop {
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

/// Figures 1 (throughput cost) and 2 (completeness), from the same runs.
pub fn throughput_and_completeness(bench: &Bench) -> Result<[Figure; 2]> {
    let mut runs: Vec<Vec<ThroughputRun>> = Observer::ALL.iter().map(|_| Vec::new()).collect();
    for run in 0..bench.plan.throughput_runs {
        for (index, observer) in Observer::ALL.into_iter().enumerate() {
            eprintln!(
                "xtask bench: throughput run {}/{}: {}",
                run + 1,
                bench.plan.throughput_runs,
                observer.name()
            );
            runs[index].push(throughput_run(bench, observer)?);
        }
    }
    let runs_of = |observer: Observer| -> &[ThroughputRun] {
        let index = Observer::ALL
            .iter()
            .position(|o| *o == observer)
            .expect("every observer is in ALL");
        &runs[index]
    };
    let ratio = |observer: Observer| -> Vec<f64> {
        runs_of(observer)
            .iter()
            .zip(runs_of(Observer::Nothing))
            .map(|(with, without)| with.requests_per_s / without.requests_per_s)
            .collect()
    };
    // httptop's CPU time over a run, per request wrk made in it.
    let process_ns = |observer: Observer| -> Vec<f64> {
        runs_of(observer)
            .iter()
            .filter_map(|run| Some(run.cpu_percent? / 100.0 * 1e9 / run.requests_per_s))
            .collect()
    };
    let mut rows: Vec<Row> = Observer::ALL
        .iter()
        .map(|observer| {
            let samples = runs_of(*observer)
                .iter()
                .map(|run| run.requests_per_s)
                .collect();
            Row::new(rate_metric(*observer), "req/s", samples)
        })
        .collect();
    for observer in Observer::ALL.into_iter().skip(1) {
        let row = Row::new(ratio_metric(observer), "×", ratio(observer));
        rows.push(if observer == Observer::Httptop {
            row.target(Check::MedianAtLeast(THROUGHPUT_RATIO_TARGET))
        } else {
            row
        });
    }
    let httptop_runs = runs_of(Observer::Httptop);
    rows.push(Row::new(
        "httptop runs: httptop's CPU",
        "% of one core",
        httptop_runs
            .iter()
            .filter_map(|run| run.cpu_percent)
            .collect(),
    ));
    rows.push(Row::new(
        ATTACHED_PROCESS_NS,
        "ns",
        process_ns(Observer::Httptop),
    ));
    rows.push(Row::new(
        PAIRING_PROCESS_NS,
        "ns",
        process_ns(Observer::PairingFilter),
    ));
    let attached = |f: &dyn Fn(&AttachedRun, f64) -> f64| -> Vec<f64> {
        httptop_runs
            .iter()
            .filter_map(|run| Some(f(run.attached.as_ref()?, run.requests_per_s)))
            .collect()
    };
    let throughput = Figure {
        title: "1. Throughput cost",
        setup: format!(
            "nginx (worker_processes 1, `return 200` with a {}-byte body, access log to a file, keepalive_requests \
             1000000) under `wrk -t2 -c64 -d{}s` (keep-alive), nginx and wrk sharing the machine's cores. Observers, \
             interleaved per run: none, `httptop --headless --json`, the same with `--bench-control-filter \
             return-at-once` (httptop's \
             sockets and process with a filter that returns at once instead of its own: what httptop's design costs \
             before its filter does any work), the same with `--bench-control-filter pairing` (a filter that pairs \
             requests with responses by port in the same maps and sends every exchange's event to httptop's \
             process, reading no payload byte: what any design that pairs in the kernel and reports each exchange \
             costs at least), `tcpdump -i lo -w /dev/null`, `tshark -i lo -w /dev/null`, and as a \
             control `tcpdump -i lo -w /dev/null ether proto 0x88b5` (a filter that matches \
             nothing: what tcpdump's kind of tap on `lo` costs, seeing both copies of every packet). The ratio pairs each \
             observed run with the unobserved run of the same round. In the runs of httptop and of its pairing \
             control, httptop's CPU time (`/proc/PID/stat`) over the same wrk run, per request wrk made.",
            super::nginx::BODY.len(),
            bench.plan.wrk_time.as_secs()
        ),
        rows,
        notes: Vec::new(),
    };
    let completeness = Figure {
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
    };
    Ok([throughput, completeness])
}

/// Figure 3: the socket filter's run time per packet under HTTP and under non-HTTP load.
pub fn filter_cost(bench: &Bench) -> Result<Figure> {
    let _stats = BpfStatsEnabled::enable()?;
    bench
        .commands
        .record_line("sysctl -w kernel.bpf_stats_enabled=1   # restored afterwards".into());
    bench
        .commands
        .record_line("bpftool -j prog show   # before and after each phase".into());
    let httptop = bench.headless("filter", &[])?;
    let pid = httptop.pid();
    let mut http: Vec<(FilterCost, u64)> = Vec::new();
    let mut bulk: Vec<(FilterCost, u64)> = Vec::new();
    for run in 0..bench.plan.runs {
        eprintln!(
            "xtask bench: filter cost run {}/{}: HTTP, then non-HTTP",
            run + 1,
            bench.plan.runs
        );
        let before = ProgramStats::read(pid)?;
        let wrk = bench.wrk(bench.plan.filter_phase)?;
        http.push((ProgramStats::read(pid)?.since(&before), wrk.requests));

        let before = ProgramStats::read(pid)?;
        let (bytes, time) = (bench.plan.bulk_bytes, bench.plan.filter_phase);
        let sent = bench
            .namespace
            .run(|| load::bulk_transfer(addr(BULK_ADDR), bytes, time))?;
        bulk.push((ProgramStats::read(pid)?.since(&before), sent));
    }
    bench.commands.record_line(format!(
        "(bulk TCP transfer, the bench's own client: one connection to {BULK_ADDR}, 64 KiB writes, at most {} MiB or {} s)",
        bench.plan.bulk_bytes >> 20,
        bench.plan.filter_phase.as_secs()
    ));
    httptop.finish()?;
    // The floors, under the same HTTP load: a filter that returns at once (the run itself and
    // the statistics' clock reads), one that only loads and parses the headers as httptop's
    // does, and one that also pairs requests with responses by port and sends the events, but
    // reads no payload byte. Separate runs: two taps at once would share the load.
    let mut control_ns = [Vec::new(), Vec::new(), Vec::new()];
    for run in 0..bench.plan.runs {
        let controls = [RETURN_AT_ONCE, HEADERS_ONLY, PAIRING_ONLY];
        for (index, (value, program)) in controls.into_iter().enumerate() {
            eprintln!(
                "xtask bench: filter cost run {}/{}: HTTP, control filter {value}",
                run + 1,
                bench.plan.runs
            );
            let control = bench.headless("filter-control", &["--bench-control-filter", value])?;
            let before = RunStats::read(control.pid(), program)?;
            bench.wrk(bench.plan.filter_phase)?;
            control_ns[index]
                .push(RunStats::read(control.pid(), program)?.ns_per_run_since(&before));
            control.finish()?;
        }
    }
    let [null_ns, headers_ns, pairing_ns] = control_ns;
    let per = |runs: &[(FilterCost, u64)], f: &dyn Fn(&FilterCost, u64) -> f64| -> Vec<f64> {
        runs.iter().map(|(cost, extra)| f(cost, *extra)).collect()
    };
    let http_ns = per(&http, &|cost, _| cost.ns_per_packet());
    let packets_per_exchange = per(&http, &|cost, requests| {
        cost.entry_runs as f64 / requests.max(1) as f64
    });
    let figure = Figure {
        title: "3. Filter cost per packet",
        setup: format!(
            "`kernel.bpf_stats_enabled=1`; run time and run count of httptop's two programs (`{}` runs on every \
             packet, `{}` once per HTTP message) read with `bpftool -j prog show` before and after each phase. Per \
             packet = (Δrun_time `{}` + Δrun_time `{}`) / Δrun_cnt `{}`. Phases, interleaved: HTTP (`wrk -t2 -c64 \
             -d{}s` against nginx) and non-HTTP (one bulk TCP transfer on loopback, 64 KiB writes). Then, as the \
             floors, the HTTP phase again with `httptop --bench-control-filter {}` (program `{}`, which returns \
             at once), `--bench-control-filter {}` (program `{}`, which loads and parses the network and TCP \
             headers as `{}` does, then returns) and `--bench-control-filter {}` (program `{}`: the same headers, \
             then, taking the lower port as the server's and reading no payload byte, the connection's state in \
             the same hash map as httptop's, the request's time kept, the response paired with it and the \
             exchange sent through the same ring buffer: the least a filter that pairs in the kernel does).",
            super::measure::ENTRY_PROGRAM,
            super::measure::MESSAGE_PROGRAM,
            super::measure::ENTRY_PROGRAM,
            super::measure::MESSAGE_PROGRAM,
            super::measure::ENTRY_PROGRAM,
            bench.plan.filter_phase.as_secs(),
            RETURN_AT_ONCE.0,
            RETURN_AT_ONCE.1,
            HEADERS_ONLY.0,
            HEADERS_ONLY.1,
            super::measure::ENTRY_PROGRAM,
            PAIRING_ONLY.0,
            PAIRING_ONLY.1,
        ),
        rows: vec![
            Row::new(HTTP_NS_PER_PACKET, "ns", http_ns).target(Check::MedianAtMost(FILTER_NS_TARGET)),
            Row::new(PACKETS_PER_EXCHANGE, "packets", packets_per_exchange),
            Row::new("HTTP load: runs counted for the message program", "runs", per(&http, &|cost, _| cost.message_runs as f64)),
            Row::new("HTTP load: packets", "packets", per(&http, &|cost, _| cost.entry_runs as f64)),
            Row::new(BULK_NS_PER_PACKET, "ns", per(&bulk, &|cost, _| cost.ns_per_packet()))
                .target(Check::MedianAtMost(FILTER_NS_TARGET)),
            Row::new("non-HTTP load: message program runs", "runs", per(&bulk, &|cost, _| cost.message_runs as f64)),
            Row::new("non-HTTP load: packets", "packets", per(&bulk, &|cost, _| cost.entry_runs as f64)),
            Row::new("non-HTTP load: bytes sent", "MiB", per(&bulk, &|_, bytes| bytes as f64 / MIB)),
            Row::new(NULL_NS_PER_PACKET, "ns", null_ns),
            Row::new(HEADERS_NS_PER_PACKET, "ns", headers_ns),
            Row::new(PAIRING_NS_PER_PACKET, "ns", pairing_ns),
        ],
        notes: vec![
            "The message program is reached by a tail call, and the kernel counts run time and runs only for the \
             program it starts (the entry program), from its start to the end of the tail-called one: so \
             `httptop_message` shows no runs of its own, and the entry program's run time already includes every \
             message program run. Per packet is then the entry program's Δrun_time / Δrun_cnt, which includes the \
             statistics' own clock reads. httptop's socket on lo ignores the outgoing copy of each packet \
             (`PACKET_IGNORE_OUTGOING`), so an exchange is about two filter runs, both carrying HTTP (request and \
             response; ACKs ride along): the HTTP phase measures HTTP packets and the bulk phase non-HTTP ones \
             (64 KiB segments on loopback)."
                .into(),
        ],
    };
    Ok(figure)
}

#[derive(Clone, Copy)]
enum Display {
    Headless,
    Dashboard,
}

/// Figure 4: httptop's CPU time and peak RSS at a fixed request rate, headless and with the
/// dashboard drawing in tmux.
pub fn own_cost(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let mut cpu = [Vec::new(), Vec::new()];
    let mut rss = [Vec::new(), Vec::new()];
    let mut rates = [Vec::new(), Vec::new()];
    let mut notes = Vec::new();
    for run in 0..plan.runs {
        for (index, display) in [Display::Headless, Display::Dashboard]
            .into_iter()
            .enumerate()
        {
            eprintln!(
                "xtask bench: own-cost run {}/{}: {}",
                run + 1,
                plan.runs,
                ["headless", "dashboard"][index]
            );
            let (headless, dashboard) = match display {
                Display::Headless => (Some(bench.headless("own-cost", &[])?), None),
                Display::Dashboard => (
                    None,
                    Some(Dashboard::start(
                        bench.namespace,
                        bench.binary,
                        &bench.log_file("dashboard"),
                        bench.commands,
                    )?),
                ),
            };
            let pid = headless.as_ref().map_or_else(
                || dashboard.as_ref().map_or(0, Dashboard::pid),
                Headless::pid,
            );
            let warmup = Duration::from_millis(500);
            let (first, last, result) = thread::scope(|scope| -> Result<_> {
                let traffic = scope.spawn(|| {
                    bench.namespace.run(|| {
                        load::fixed_rate(
                            addr(NGINX_ADDR),
                            plan.fixed_rate_connections,
                            plan.fixed_rate,
                            plan.own_cost_window + 2 * warmup,
                        )
                    })
                });
                thread::sleep(warmup);
                let first = ProcessSample::read(pid)?;
                thread::sleep(plan.own_cost_window);
                let last = ProcessSample::read(pid)?;
                let result = load::joined(traffic)?;
                Ok((first, last, result))
            })?;
            cpu[index].push(last.cpu_percent_since(&first));
            rss[index].push(last.peak_rss_bytes as f64 / MIB);
            rates[index].push(result.exchanges as f64 / result.elapsed.as_secs_f64());
            if let Some(dashboard) = &dashboard
                && run == 0
            {
                let screen = dashboard.screen()?;
                if screen.trim().is_empty() {
                    bail!("httptop's dashboard drew nothing in tmux");
                }
                notes.push(format!(
                    "The dashboard's first screen lines in tmux (200×50), to show it drew: `{}`",
                    screen
                        .lines()
                        .find(|line| !line.trim().is_empty())
                        .unwrap_or("")
                        .trim()
                ));
            }
            if let Some(headless) = headless {
                headless.finish()?;
            }
        }
    }
    bench.commands.record_line(format!(
        "(fixed-rate load, the bench's own client: {} keep-alive connections to {NGINX_ADDR}, one thread each on a \
         fixed schedule, {} req/s in all, {} s)",
        plan.fixed_rate_connections,
        plan.fixed_rate,
        (plan.own_cost_window + Duration::from_secs(1)).as_secs()
    ));
    let [cpu_headless, cpu_dashboard] = cpu;
    let [rss_headless, rss_dashboard] = rss;
    let [rate_headless, rate_dashboard] = rates;
    let figure = Figure {
        title: "4. httptop's own cost",
        setup: format!(
            "nginx at a fixed {} req/s (the bench's own rate-limited client: {} keep-alive connections, each on a \
             fixed schedule). httptop's CPU time (utime + stime from `/proc/PID/stat`) over a {} s window that starts \
             0.5 s into the load (so loading the programs is not counted), and its peak RSS (VmHWM from \
             `/proc/PID/status`). Headless, and with the dashboard drawing in a 200×50 tmux pseudo-terminal \
             (default 1 s refresh), interleaved.",
            plan.fixed_rate,
            plan.fixed_rate_connections,
            plan.own_cost_window.as_secs()
        ),
        rows: vec![
            Row::new("headless: CPU", "% of one core", cpu_headless)
                .target(Check::MedianAtMost(5.0)),
            Row::new("headless: peak RSS", "MiB", rss_headless).target(Check::MedianAtMost(50.0)),
            Row::new("headless: rate reached", "req/s", rate_headless),
            Row::new("dashboard: CPU", "% of one core", cpu_dashboard)
                .target(Check::MedianAtMost(5.0)),
            Row::new("dashboard: peak RSS", "MiB", rss_dashboard).target(Check::MedianAtMost(50.0)),
            Row::new("dashboard: rate reached", "req/s", rate_dashboard),
        ],
        notes,
    };
    Ok(figure)
}

/// Figure 5: many concurrent keep-alive connections, mostly idle.
pub fn scale(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let connections = plan.scale_connections;
    let timeout = plan.scale_request_timeout;
    let timeout_arg = format!("{}s", timeout.as_secs());
    let mut rows: [Vec<f64>; 10] = Default::default();
    for run in 0..plan.runs {
        eprintln!(
            "xtask bench: scale run {}/{}: {connections} connections × {} requests",
            run + 1,
            plan.runs,
            plan.scale_rounds
        );
        bench.nginx.truncate_access_log()?;
        let httptop = bench.headless("scale", &["--request-timeout", &timeout_arg])?;
        let pid = httptop.pid();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut open = bench
            .namespace
            .run(|| load::open_connections(addr(NGINX_ADDR), connections, 4, deadline))?;
        let mut sent = 0;
        for _ in 0..plan.scale_rounds {
            sent += load::exchange_on_each(&mut open, 4, deadline)?;
        }
        // All open, all idle: what the kernel map and httptop hold for them.
        thread::sleep(SETTLE);
        let busy_maps = map_memory(pid)?;
        // Past the request timeout (plus a sweep period), idle entries must be gone.
        thread::sleep(timeout + Duration::from_millis(1500));
        let idle_maps = map_memory(pid)?;
        let sample = ProcessSample::read(pid)?;
        drop(open);
        thread::sleep(SETTLE);
        let summary = httptop.finish()?;
        let logged = bench.nginx.logged_requests()?;
        let conns = |maps: &std::collections::BTreeMap<String, u64>| {
            maps.get("CONNS").copied().unwrap_or(0) as f64 / MIB
        };
        let values = [
            f64::from(connections),
            sent as f64,
            logged as f64,
            summary.exchanges as f64,
            summary.exchanges.abs_diff(sent) as f64,
            sample.peak_rss_bytes as f64 / MIB,
            conns(&busy_maps),
            conns(&idle_maps),
            (conns(&busy_maps) - conns(&idle_maps)) * MIB / f64::from(connections.max(1)),
            busy_maps.values().sum::<u64>() as f64 / MIB,
        ];
        for (row, value) in rows.iter_mut().zip(values) {
            row.push(value);
        }
    }
    bench.commands.record_line(format!(
        "(scale load, the bench's own client: {connections} keep-alive connections to {NGINX_ADDR} opened by 4 \
         threads, then {} rounds of one request on each, then all left open and idle)",
        plan.scale_rounds
    ));
    let render: Vec<f64> = (0..plan.runs)
        .map(|_| {
            observers::render_time(bench.binary, plan.render_frames, bench.commands)
                .map(|d| d.as_secs_f64() * 1e3)
        })
        .collect::<Result<_>>()?;
    let [
        opened,
        sent,
        logged,
        exchanges,
        difference,
        rss,
        conns_busy,
        conns_idle,
        conns_per_connection,
        maps_total,
    ] = rows;
    Ok(Figure {
        title: "5. Scale",
        setup: format!(
            "{connections} concurrent keep-alive connections to nginx (`worker_connections` 12000, \
             `worker_rlimit_nofile` raised; the bench raises its own open-file limit to the hard limit), {} requests \
             on each, all left open and idle. httptop runs with `--request-timeout {timeout_arg}`; the kernel map \
             memory (`bytes_memlock` from `bpftool -j map show`, maps held by httptop) is read with every \
             connection open just after the requests, and again after the request timeout plus 1.5 s (idle entries \
             expired by httptop's sweep). Frame render time: `httptop --bench-render {}` (mean time to draw a 200×60 \
             dashboard frame with 10,000 rows).",
            plan.scale_rounds, plan.render_frames
        ),
        rows: vec![
            Row::new("connections open at once", "connections", opened),
            Row::new("exchanges sent", "exchanges", sent),
            Row::new("nginx access-log lines", "requests", logged),
            Row::new("httptop exchanges", "exchanges", exchanges),
            Row::new("|httptop exchanges − sent|", "exchanges", difference)
                .target(Check::AllAtMost(0.0)),
            Row::new("httptop peak RSS", "MiB", rss).target(Check::MedianAtMost(50.0)),
            Row::new("CONNS map, all connections open", "MiB", conns_busy),
            Row::new("CONNS map, after the request timeout", "MiB", conns_idle),
            Row::new(
                "CONNS map, per open connection (all open − after the timeout)",
                "bytes",
                conns_per_connection,
            ),
            Row::new("all httptop maps, all connections open", "MiB", maps_total),
            Row::new("frame render time, 10,000 rows", "ms", render)
                .target(Check::MedianAtMost(2.0)),
        ],
        notes: Vec::new(),
    })
}

/// The `fraction` quantile (nearest rank) of `samples`.
fn quantile(samples: &mut [Duration], fraction: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((fraction * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn relative_error_percent(measured: f64, reference: f64) -> f64 {
    100.0 * (measured - reference).abs() / reference.max(f64::MIN_POSITIVE)
}

/// Names of figure 6's rows, which the analysis reads back: `{server}: {what}`.
pub const CLIENT_RECEIVED: &str = "client, kernel receive time";
pub const CLIENT_READ: &str = "client, read() return";
pub const CLIENT_WAKE_UP: &str = "client's wake-up (read() return − kernel receive time)";
pub const HTTPTOP: &str = "httptop";
pub const TSHARK: &str = "tshark http.time";

/// One row of figure 6 for one server: its name after `{server}: `, unit and target.
struct LatencyRow {
    name: String,
    unit: &'static str,
    within_one_percent: bool,
}

/// What one run of figure 6 measured for one server.
struct LatencyRun {
    /// Client: to the kernel's receive timestamp, and to read() returning.
    received: Vec<Duration>,
    read: Vec<Duration>,
    tshark: Vec<Duration>,
    summary: Summary,
}

impl LatencyRun {
    /// The run's value of every row of figure 6, each with its row, in the report's order.
    fn values(mut self) -> Vec<(LatencyRow, f64)> {
        let row = |name: String, unit| LatencyRow {
            name,
            unit,
            within_one_percent: false,
        };
        let error = |reference: &str, percentile: &str| LatencyRow {
            name: format!("{HTTPTOP} vs {reference}, {percentile}"),
            unit: "%",
            within_one_percent: true,
        };
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut wake_up: Vec<Duration> = (self.read.iter().zip(&self.received))
            .map(|(read, received)| read.saturating_sub(*received))
            .collect();
        // httptop's percentiles are its own (from its summary), the others nearest-rank.
        let percentiles = [
            ("p50", 0.50, self.summary.p50_ns),
            ("p99", 0.99, self.summary.p99_ns),
        ];
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for (name, fraction, httptop_ns) in percentiles {
            let received = ms(quantile(&mut self.received, fraction));
            let read = ms(quantile(&mut self.read, fraction));
            let httptop = httptop_ns as f64 / 1e6;
            let tshark = ms(quantile(&mut self.tshark, fraction));
            for (source, value) in [
                (CLIENT_RECEIVED, received),
                (CLIENT_READ, read),
                (HTTPTOP, httptop),
                (TSHARK, tshark),
            ] {
                values.push((row(format!("{source} {name}"), "ms"), value));
            }
            for (reference, value) in [
                (TSHARK, tshark),
                (CLIENT_RECEIVED, received),
                (CLIENT_READ, read),
            ] {
                errors.push((
                    error(reference, name),
                    relative_error_percent(httptop, value),
                ));
            }
        }
        values.extend(errors);
        for (name, fraction, _) in percentiles {
            let wake_up = quantile(&mut wake_up, fraction).as_secs_f64() * 1e6;
            values.push((row(format!("{CLIENT_WAKE_UP} {name}"), "µs"), wake_up));
        }
        let exchanges = self.summary.exchanges;
        values.push((
            row(
                "exchanges httptop missed or added vs client and tshark".into(),
                "exchanges",
            ),
            exchanges.abs_diff(self.read.len() as u64) as f64
                + exchanges.abs_diff(self.tshark.len() as u64) as f64,
        ));
        values
    }
}

/// Figure 6: httptop's latency percentiles against the client's own timing and tshark's
/// `http.time` of the same run, behind a server with a known delay.
pub fn latency_accuracy(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let delays = [Duration::from_millis(5), Duration::from_millis(50)];
    // Per delay, each row with its samples (one per run), in the order the runs give them.
    let mut results: Vec<Vec<(LatencyRow, Vec<f64>)>> = delays.iter().map(|_| Vec::new()).collect();
    for run in 0..plan.runs {
        for (index, &delay) in delays.iter().enumerate() {
            eprintln!(
                "xtask bench: latency run {}/{}: {delay:?} server",
                run + 1,
                plan.runs
            );
            let server = DelayServer::start(bench.namespace, addr(DELAY_ADDR), delay)?;
            let capture_file = bench
                .dir
                .join(format!("latency-{}ms.pcapng", delay.as_millis()));
            let httptop = bench.headless("latency", &["-p", "8088"])?;
            let capture = Capture::start(
                bench.namespace,
                CaptureTool::Tshark,
                &capture_file,
                &[],
                bench.commands,
            )?;
            let requests = plan.latency_requests(delay);
            let client = bench.namespace.run(|| {
                load::timed_exchanges(addr(DELAY_ADDR), plan.latency_connections, requests)
            })?;
            thread::sleep(SETTLE);
            capture.stop()?;
            let summary = httptop.finish()?;
            drop(server);
            let tshark = observers::tshark_http_times(&capture_file, bench.commands)?;
            let received = client
                .iter()
                .map(|t| {
                    t.to_first_byte_received
                        .context("a reply without the kernel's receive timestamp")
                })
                .collect::<Result<Vec<Duration>>>()?;
            let measured = LatencyRun {
                received,
                read: client.iter().map(|t| t.to_first_read).collect(),
                tshark,
                summary,
            };
            let rows = &mut results[index];
            for (position, (row, value)) in measured.values().into_iter().enumerate() {
                match rows.get_mut(position) {
                    Some((_, samples)) => samples.push(value),
                    None => rows.push((row, vec![value])),
                }
            }
        }
    }
    bench.commands.record_line(format!(
        "(delay server and timing client, the bench's own: a keep-alive HTTP/1.1 server on {DELAY_ADDR} answering \
         after a fixed delay in one write with TCP_NODELAY; {} client connections with SO_TIMESTAMPNS, each timing \
         its requests from just before the write to the first byte of the status line)",
        plan.latency_connections
    ));
    let mut rows = Vec::new();
    for (delay, rows_of_delay) in delays.iter().zip(results) {
        for (row, samples) in rows_of_delay {
            let metric = format!("{} ms server: {}", delay.as_millis(), row.name);
            let made = Row::new(metric, row.unit, samples);
            rows.push(if row.within_one_percent {
                made.target(Check::MedianAtMost(1.0))
            } else {
                made
            });
        }
    }
    Ok(Figure {
        title: "6. Latency accuracy",
        setup: format!(
            "A keep-alive server answering after a fixed 5 ms or 50 ms (the bench's own, in one write with \
             TCP_NODELAY), {} client connections timing each request ({} requests each at 5 ms, {} at 50 ms), \
             `httptop --headless -p 8088`, and `tshark -i lo -w FILE` capturing the same run, read with `tshark -r \
             FILE -o tcp.desegment_tcp_streams:FALSE -Y http.time`. The client times each request from just before \
             its write two ways: to the kernel's receive timestamp of the segment carrying the status line's first \
             byte (`SO_TIMESTAMPNS`: when the answer reached the client's socket) and to the return of the read \
             that got it (when the client program saw it: its own wake-up included). Percentiles are nearest-rank \
             for the client and tshark, httptop's own for httptop. Error = |httptop − reference| / reference.",
            plan.latency_connections,
            plan.latency_requests(delays[0]),
            plan.latency_requests(delays[1])
        ),
        rows,
        notes: Vec::new(),
    })
}

/// A failure to measure one figure, kept in the report instead of ending the bench.
pub fn failed_figure(title: &'static str, error: &anyhow::Error) -> Figure {
    Figure {
        title,
        setup: format!("Not measured: {error:#}"),
        rows: Vec::new(),
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut samples, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&mut samples, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&mut [], 0.5), Duration::ZERO);
        assert!((relative_error_percent(5.05, 5.0) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn the_analysis_finds_the_ratios_by_the_names_the_figure_gives_them() {
        assert_eq!(ratio_metric(Observer::Httptop), HTTPTOP_RATIO);
        assert_eq!(ratio_metric(Observer::NullFilter), NULL_FILTER_RATIO);
        assert_eq!(ratio_metric(Observer::PairingFilter), PAIRING_FILTER_RATIO);
        assert_eq!(ratio_metric(Observer::IdleTap), IDLE_TAP_RATIO);
        assert_eq!(rate_metric(Observer::Nothing), NO_OBSERVER_RATE);
    }
}
