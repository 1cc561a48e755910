//! One run of httptop from its validated description ([`RunConfig`], which the command line
//! is turned into). Every live mode attaches the probe, starts the collector and stops it the
//! same way; only what happens in between (the dashboard, or waiting) and after (the summary)
//! differs.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context as _;
use tokio::{sync::watch, task::JoinHandle};

use crate::{
    collector::{self, CollectorOptions},
    export::{
        Exports, JsonLines, JsonLinesOptions, Metrics, MetricsOptions, WhenBehind,
        server::MetricsListener,
    },
    headless::{self, HeadlessOptions, SummaryOptions},
    kernel::monotonic_ns,
    kernel::{KernelConfig, KernelError, owners::OwnerProbe},
    logging,
    model::{Clock, Filter, JsonLinesSummary, Model, ModelOptions, SharedModel, Source},
    offline,
    probes::Probes,
    tui::{self, DashboardOptions},
};

/// Everything a run needs to know, checked.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub mode: Mode,
    /// What the kernel side watches; for `--read`, the ports the capture reader keeps.
    pub kernel: KernelConfig,
    /// Collector periods; for `--read`, its request timeout applies to the capture.
    pub collector: CollectorOptions,
    pub model: ModelOptions,
    /// `--filter`: what the summary covers, or the dashboard's first filter.
    pub filter: Option<Filter>,
    pub exports: ExportConfig,
    pub log_path: PathBuf,
}

/// `--json-lines` and `--prometheus`, checked against the mode.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportConfig {
    pub json_lines: bool,
    pub prometheus: Option<PrometheusConfig>,
    /// `--show-query`: query strings and path parameters stay in what is exported.
    pub show_query: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrometheusConfig {
    pub addr: SocketAddr,
    /// `--prometheus-series`.
    pub series_limit: usize,
}

#[derive(Clone, Debug)]
pub enum Mode {
    /// The live dashboard.
    Dashboard(DashboardOptions),
    /// Live, then the summary.
    Headless(HeadlessOptions),
    /// A capture file instead of live traffic, then the summary.
    Read(ReadOptions),
    /// Benchmark: draws frames of a made-up busy model and prints ns per frame.
    #[cfg(feature = "bench-controls")]
    BenchRender { frames: usize },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// A pcap or pcapng file.
    pub capture: PathBuf,
    pub summary: SummaryOptions,
}

impl Mode {
    /// What the model keeps: all the dashboard may show, or what a summary reads.
    pub fn model_options(&self) -> ModelOptions {
        match self {
            Mode::Headless(HeadlessOptions { summary, .. })
            | Mode::Read(ReadOptions { summary, .. }) => ModelOptions::summary_only(summary.group),
            _ => ModelOptions::default(),
        }
    }
}

/// The probe could not be attached; says where the log (with the verifier's output) is.
#[derive(Debug, thiserror::Error)]
#[error("{error} (log: {})", log.display())]
pub struct AttachError {
    error: KernelError,
    log: PathBuf,
}

pub fn run(config: RunConfig) -> anyhow::Result<()> {
    let RunConfig {
        mode,
        kernel,
        collector,
        model,
        filter,
        exports,
        log_path,
    } = config;
    let front = match mode {
        #[cfg(feature = "bench-controls")]
        Mode::BenchRender { frames } => {
            println!("{}", tui::bench::bench_render_10k(frames).as_nanos());
            return Ok(());
        }
        Mode::Read(read) => {
            start_logging(&log_path);
            let mut model = Model::new(model);
            // Capture times are ns since the Unix epoch: the default clock.
            let lines = exports
                .json_lines
                .then(|| start_json_lines(&exports, &filter, Clock::default(), WhenBehind::Wait))
                .transpose()?;
            let sinks = Exports {
                json_lines: lines.as_ref().map(|(_, sender)| sender.clone()),
                metrics: None,
            };
            // Set before the first exchange, so the summary covers every one it lets through.
            model.set_filter(filter);
            let read_result = offline::read_capture(
                &read.capture,
                &kernel.ports,
                collector.request_timeout,
                &mut model,
                &sinks,
            );
            drop(sinks);
            let lines = lines.map(|(lines, _)| finish_json_lines(lines));
            read_result?;
            let mut summary = model.summary(read.summary.group, read.summary.top, Source::Capture);
            summary.json_lines = lines;
            return headless::print_summary(&summary, &read.summary);
        }
        Mode::Dashboard(opts) => FrontEnd::Dashboard(opts),
        Mode::Headless(opts) => FrontEnd::Headless(opts),
    };
    start_logging(&log_path);
    // Bound first: a taken port fails the run before anything is attached.
    let listener = exports
        .prometheus
        .map(|p| MetricsListener::bind(p.addr))
        .transpose()?;
    let probe = Probes::attach(&kernel).map_err(|error| AttachError {
        error,
        log: log_path.clone(),
    })?;
    // Before the line below, so every connection made after it has its client named.
    let owners = OwnerProbe::attach()
        .inspect_err(|e| log::warn!("client processes are named from /proc only: {e}"))
        .ok();
    // Scripts wait for this line before sending traffic.
    eprintln!(
        "httptop: attached to {}; log: {}",
        describe_scope(&kernel, probe.namespaces()),
        log_path.display()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut model = Model::new(model);
    let clock = Clock {
        mono_ns: monotonic_ns(),
        wall: std::time::SystemTime::now(),
    };
    model.start(clock.mono_ns, clock.wall);
    let lines = exports
        .json_lines
        .then(|| start_json_lines(&exports, &filter, clock, WhenBehind::Drop))
        .transpose()?;
    let metrics = exports.prometheus.map(|p| {
        Arc::new(Metrics::new(
            MetricsOptions {
                series_limit: p.series_limit,
                filter: filter.clone(),
                show_query: exports.show_query,
                attach: kernel.attach.name(),
            },
            lines.as_ref().map(|(lines, _)| lines.counts()),
        ))
    });
    if let FrontEnd::Headless(_) = front {
        // The dashboard sets its own (it can change it); a summary covers all it lets through.
        model.set_filter(filter);
    }
    let (lines, sender) = lines.unzip();
    let live = Live {
        model: SharedModel::new(model),
        kernel,
        collector,
        exports: Exports {
            json_lines: sender,
            metrics,
        },
        json_lines: lines,
        listener,
    };
    runtime.block_on(live.run(probe, owners, front))
}

fn start_json_lines(
    exports: &ExportConfig,
    filter: &Option<Filter>,
    clock: Clock,
    when_behind: WhenBehind,
) -> anyhow::Result<(JsonLines, crate::export::JsonLinesSender)> {
    let opts = JsonLinesOptions {
        show_query: exports.show_query,
        filter: filter.clone(),
        when_behind,
    };
    JsonLines::start(std::io::stdout(), clock, opts).context("starting the JSON lines writer")
}

/// Writes what is queued and returns the final counts for the summary.
fn finish_json_lines(lines: JsonLines) -> JsonLinesSummary {
    let (written, dropped) = lines.finish();
    JsonLinesSummary { written, dropped }
}

/// What a live run shows while it collects.
enum FrontEnd {
    Dashboard(DashboardOptions),
    Headless(HeadlessOptions),
}

struct Live {
    model: SharedModel,
    kernel: KernelConfig,
    collector: CollectorOptions,
    exports: Exports,
    json_lines: Option<JsonLines>,
    listener: Option<MetricsListener>,
}

impl Live {
    async fn run(
        mut self,
        probe: Probes,
        owners: Option<OwnerProbe>,
        front: FrontEnd,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        if let (Some(listener), Some(metrics)) = (self.listener.take(), &self.exports.metrics) {
            tokio::spawn(listener.serve(metrics.clone(), stop_rx.clone()));
        }
        // Stdout's reader gone (a broken pipe) ends a headless run as a signal would.
        let mut lines_closed = self.json_lines.as_ref().map(JsonLines::closed);
        let collector = tokio::spawn(collector::run(
            probe,
            owners,
            self.model.clone(),
            std::mem::take(&mut self.exports),
            self.collector.clone(),
            stop_rx.clone(),
        ));
        let shown = async {
            match &front {
                FrontEnd::Dashboard(opts) => {
                    // `--duration` ends the dashboard as a quit would.
                    if let Some(duration) = opts.duration {
                        let stop = stop_tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(duration).await;
                            let _ = stop.send(true);
                        });
                    }
                    tui::run(
                        self.model.clone(),
                        opts.clone(),
                        self.collector.interval,
                        tui::Watched {
                            interfaces: self.kernel.interfaces.clone(),
                            ports: self.kernel.ports.clone(),
                        },
                        stop_rx,
                    )
                    .await
                }
                FrontEnd::Headless(opts) => {
                    headless::wait_for_stop(opts.duration, lines_closed.as_mut()).await
                }
            }
        };
        // The collector detaches the probe, drains what the kernel sent before, then reads the
        // totals: the summary below counts every exchange the kernel counted.
        let supervised = supervise(shown, collector, &stop_tx).await;
        // The collector has ended (it held the last sender): write what is queued.
        let lines = self.json_lines.take().map(finish_json_lines);
        supervised?;
        if let FrontEnd::Headless(opts) = front {
            self.model.set_end(monotonic_ns());
            let mut summary =
                self.model
                    .summary(opts.summary.group, opts.summary.top, Source::Kernel);
            summary.json_lines = lines;
            headless::print_summary(&summary, &opts.summary)?;
        }
        Ok(())
    }
}

/// Runs the front end until it ends or the collector task does. When the front end ends first
/// (a quit, a signal, `--duration`), the collector is told to stop and awaited. When the
/// collector ends first (an error, a panic), the front end is dropped first, which restores the
/// terminal, and the collector's error is the run's.
async fn supervise(
    shown: impl Future<Output = anyhow::Result<()>>,
    mut collector: JoinHandle<anyhow::Result<()>>,
    stop: &watch::Sender<bool>,
) -> anyhow::Result<()> {
    let mut shown = Box::pin(shown);
    let (ended, collected) = tokio::select! {
        ended = &mut shown => {
            let _ = stop.send(true);
            (ended, (&mut collector).await)
        }
        collected = &mut collector => (Ok(()), collected),
    };
    drop(shown);
    collected.context("collector task")??;
    ended
}

/// Nothing may reach the terminal while the dashboard runs, so the log goes to a file; a run
/// goes on without it.
fn start_logging(path: &std::path::Path) {
    if let Err(e) = logging::init(path, log::LevelFilter::Info) {
        eprintln!(
            "httptop: warning: cannot open log file {}: {e}",
            path.display()
        );
    }
}

/// `all interfaces (all ports)`, `lo, eth0 (server ports [80])`, `all interfaces and 2 other
/// network namespaces (all ports)`.
fn describe_scope(kernel: &KernelConfig, namespaces: usize) -> String {
    let interfaces = if kernel.interfaces.is_empty() {
        "all interfaces".to_owned()
    } else {
        kernel.interfaces.join(", ")
    };
    let interfaces = match namespaces.saturating_sub(1) {
        0 if kernel.netns.all => {
            format!("{interfaces}, and named network namespaces as they appear")
        }
        0 => interfaces,
        1 => format!("{interfaces} and 1 other network namespace"),
        n => format!("{interfaces} and {n} other network namespaces"),
    };
    let ports = if kernel.ports.is_empty() {
        "all ports".to_owned()
    } else {
        format!("server ports {:?}", kernel.ports)
    };
    format!("{interfaces} ({ports})")
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::*;

    /// Stands for the dashboard's terminal guard: records that it was dropped.
    struct Restores(Arc<AtomicBool>);

    impl Drop for Restores {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn a_panic_in_the_collector_drops_the_front_end_and_fails_the_run() {
        let restored = Arc::new(AtomicBool::new(false));
        let guard = Restores(restored.clone());
        let shown = async move {
            let _guard = guard;
            std::future::pending::<anyhow::Result<()>>().await
        };
        let collector = tokio::spawn(async { panic!("the collector failed") });
        let (stop, _) = watch::channel(false);
        let error = supervise(shown, collector, &stop)
            .await
            .expect_err("the run fails");
        assert!(restored.load(Ordering::SeqCst), "the front end was dropped");
        assert!(
            format!("{error:#}").starts_with("collector task: "),
            "{error:#}"
        );
    }

    #[tokio::test]
    async fn a_front_end_that_ends_stops_the_collector_and_waits_for_it() {
        let (stop, mut stopped) = watch::channel(false);
        let finished = Arc::new(AtomicBool::new(false));
        let collector = tokio::spawn({
            let finished = finished.clone();
            async move {
                // Detach, drain and read the totals happen after the stop, before it returns.
                stopped.changed().await?;
                finished.store(true, Ordering::SeqCst);
                Ok(())
            }
        });
        supervise(async { Ok(()) }, collector, &stop)
            .await
            .expect("a clean end");
        assert!(finished.load(Ordering::SeqCst));
    }
}
