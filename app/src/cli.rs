//! The command line, and its one check: [`Cli::into_run_config`] turns it into the run's
//! description or says what is wrong before anything is attached.

use std::{path::PathBuf, time::Duration};

use clap::Parser;

#[cfg(feature = "bench-controls")]
use crate::kernel::EntryProgram;
use crate::{
    collector::CollectorOptions,
    headless::{HeadlessOptions, SummaryFormat, SummaryOptions},
    kernel::{AttachMode, KernelConfig},
    logging,
    model::{Filter, FilterError, ModelOptions},
    run::{Mode, ReadOptions, RunConfig},
    tui::DashboardOptions,
};

/// Watch the HTTP/1.x exchanges crossing this host: counts, latency, the busiest connections.
#[derive(Parser, Debug, Clone)]
#[command(name = "httptop", version, about)]
pub struct Cli {
    /// No dashboard: collect, then print a summary on stdout.
    #[arg(long)]
    pub headless: bool,

    /// Stop after this long (e.g. 500ms, 10s, 2m); default: until Ctrl-C / SIGTERM.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,

    /// Print the headless summary as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// Read a pcap/pcapng capture instead of watching live traffic (implies --headless).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["interfaces", "duration"])]
    pub read: Option<PathBuf>,

    /// Interface to watch (repeatable); default: every interface of this network namespace.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,

    /// Watch only these server ports (repeatable).
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,

    /// Dashboard refresh period, also the sparkline resolution.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub interval: Duration,

    /// Initial dashboard filter, e.g. "port 8080 not status 2xx".
    #[arg(long)]
    pub filter: Option<String>,

    /// Show query strings in paths (redacted by default).
    #[arg(long)]
    pub show_query: bool,

    /// A connection silent this long is dropped; its outstanding requests count as expired.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Busiest connections listed in the headless summary (its `top_talkers`).
    #[arg(long, default_value_t = 10)]
    pub top: usize,

    /// Where the kernel programs see packets: `tc` (a classifier on each interface's tc hooks,
    /// no packet tap) or `socket` (a filter on an AF_PACKET socket per interface).
    #[arg(long, value_enum, default_value_t = AttachMode::default())]
    pub attach: AttachMode,

    /// Log file (default: $XDG_STATE_HOME/httptop/httptop.log).
    #[arg(long)]
    pub log_file: Option<PathBuf>,

    /// Benchmark: render N dashboard frames with 10,000 rows, print ns per frame, exit.
    #[cfg(feature = "bench-controls")]
    #[arg(long, hide = true, value_name = "FRAMES")]
    pub bench_render: Option<usize>,

    /// Benchmark control: tap with one of the control filters instead of httptop's own
    /// (`cargo xtask bench` measures its floors with them).
    #[cfg(feature = "bench-controls")]
    #[arg(long, hide = true, value_enum, value_name = "FILTER")]
    pub bench_control_filter: Option<EntryProgram>,
}

/// What is wrong with a command line that clap accepted.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // Not the error's source: the message already carries it, once.
    #[error("--filter: {0}")]
    Filter(FilterError),
    #[error("--json goes with --headless or --read")]
    JsonWithoutSummary,
}

impl Cli {
    /// The run this command line describes.
    pub fn into_run_config(self) -> Result<RunConfig, ConfigError> {
        let mode = self.mode()?;
        let kernel = KernelConfig {
            interfaces: self.interfaces,
            ports: self.ports,
            // The dashboard shows the filter's cost; other runs do not pay for measuring it.
            run_stats: matches!(mode, Mode::Dashboard(_)),
            #[cfg(feature = "bench-controls")]
            entry_program: self.bench_control_filter.unwrap_or_default(),
            #[cfg(not(feature = "bench-controls"))]
            entry_program: Default::default(),
            attach: self.attach,
        };
        Ok(RunConfig {
            mode,
            kernel,
            collector: CollectorOptions {
                interval: self.interval,
                request_timeout: self.request_timeout,
                ..CollectorOptions::default()
            },
            model: ModelOptions::default(),
            log_path: self.log_file.unwrap_or_else(logging::default_log_path),
        })
    }

    fn mode(&self) -> Result<Mode, ConfigError> {
        #[cfg(feature = "bench-controls")]
        if let Some(frames) = self.bench_render {
            return Ok(Mode::BenchRender {
                frames: frames.max(1),
            });
        }
        // Checked whatever the mode, so a bad filter never waits for a run to fail.
        let filter = match &self.filter {
            Some(text) => Filter::parse(text).map_err(ConfigError::Filter)?,
            None => None,
        };
        let summary = SummaryOptions {
            format: if self.json {
                SummaryFormat::Json
            } else {
                SummaryFormat::Text
            },
            top: self.top,
        };
        if let Some(capture) = &self.read {
            Ok(Mode::Read(ReadOptions {
                capture: capture.clone(),
                summary,
            }))
        } else if self.headless {
            Ok(Mode::Headless(HeadlessOptions {
                duration: self.duration,
                summary,
            }))
        } else if self.json {
            Err(ConfigError::JsonWithoutSummary)
        } else {
            Ok(Mode::Dashboard(DashboardOptions {
                initial_filter: filter,
                show_query: self.show_query,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<RunConfig, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("httptop").chain(args.iter().copied()))
            .expect("clap accepts the arguments");
        cli.into_run_config()
    }

    fn error(args: &[&str]) -> String {
        match config(args) {
            Ok(c) => panic!("{args:?} accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn json_needs_a_summary_to_print() {
        assert_eq!(error(&["--json"]), "--json goes with --headless or --read");
        assert!(matches!(
            config(&["--headless", "--json"]).unwrap().mode,
            Mode::Headless(HeadlessOptions {
                summary: SummaryOptions {
                    format: SummaryFormat::Json,
                    ..
                },
                ..
            })
        ));
        let read = config(&["--read", "x.pcap", "--json", "--top", "3"]).unwrap();
        let Mode::Read(read) = read.mode else {
            panic!("not a read: {read:?}");
        };
        assert_eq!(read.capture, PathBuf::from("x.pcap"));
        assert_eq!(read.summary.top, 3);
    }

    #[test]
    fn a_bad_filter_fails_in_every_mode_and_comes_first() {
        for args in [
            &["--filter", "port eighty"][..],
            &["--headless", "--filter", "port eighty"],
            &["--read", "x.pcap", "--filter", "port eighty"],
            &["--json", "--filter", "port eighty"],
        ] {
            let e = error(args);
            assert!(e.starts_with("--filter: "), "{args:?}: {e}");
        }
    }

    #[test]
    fn the_dashboard_starts_with_the_parsed_filter_and_measures_the_filter_cost() {
        let c = config(&["--filter", "dport 8080", "-i", "lo", "--interval", "200ms"]).unwrap();
        let Mode::Dashboard(opts) = &c.mode else {
            panic!("not the dashboard: {c:?}");
        };
        assert_eq!(
            opts.initial_filter.as_ref().map(Filter::text),
            Some("dport 8080")
        );
        assert!(c.kernel.run_stats);
        assert_eq!(c.kernel.interfaces, ["lo"]);
        assert_eq!(c.collector.interval, Duration::from_millis(200));
        assert_eq!(c.model, ModelOptions::default());
        let headless = config(&["--headless", "--duration", "2s", "-p", "80"]).unwrap();
        assert!(!headless.kernel.run_stats);
        assert_eq!(headless.kernel.ports, [80]);
        assert!(matches!(
            headless.mode,
            Mode::Headless(HeadlessOptions {
                duration: Some(d),
                ..
            }) if d == Duration::from_secs(2)
        ));
    }

    #[test]
    fn read_excludes_live_only_options() {
        assert!(Cli::try_parse_from(["httptop", "--read", "x.pcap", "--duration", "1s"]).is_err());
        assert!(Cli::try_parse_from(["httptop", "--read", "x.pcap", "-i", "lo"]).is_err());
    }
}
