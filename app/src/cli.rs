//! The command line, and its one check: [`Cli::into_run_config`] turns it into the run's
//! description or says what is wrong before anything is attached.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use clap::Parser;

#[cfg(feature = "bench-controls")]
use crate::kernel::EntryProgram;
use crate::probes::NetnsConfig;
use crate::{
    collector::CollectorOptions,
    export::DEFAULT_SERIES_LIMIT,
    headless::{HeadlessOptions, SummaryFormat, SummaryOptions},
    kernel::{AttachMode, KernelConfig},
    logging,
    model::{FILTER_GRAMMAR, Filter, FilterError, Group},
    run::{ExportConfig, Mode, PrometheusConfig, ReadOptions, RunConfig},
    tui::DashboardOptions,
};

/// Watch the HTTP/1.x exchanges crossing this host: counts, latency, the busiest connections.
#[derive(Parser, Debug, Clone)]
#[command(name = "httptop", version, about)]
pub struct Cli {
    /// No dashboard: collect, then print a summary on stdout.
    #[arg(long)]
    pub headless: bool,

    /// Stop after this long (e.g. 500ms, 10s, 2m), dashboard or headless; default: until
    /// q, Ctrl-C or SIGTERM.
    #[arg(long, value_parser = positive_duration)]
    pub duration: Option<Duration>,

    /// Print the headless summary as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// Write one JSON object per finished exchange to stdout as it happens (with --headless or
    /// --read; schema in docs/terms.md); the summary then goes to stderr.
    #[arg(long)]
    pub json_lines: bool,

    /// Serve Prometheus metrics at http://ADDR:PORT/metrics while running, with the dashboard
    /// or headless (e.g. 127.0.0.1:9464, [::]:9464).
    #[arg(long, value_name = "ADDR:PORT", value_parser = listen_addr)]
    pub prometheus: Option<SocketAddr>,

    #[arg(long, value_parser = positive_count, value_name = "N", help = series_help())]
    pub prometheus_series: Option<usize>,

    /// Read a pcap/pcapng capture instead of watching live traffic (implies --headless).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["interfaces", "duration"])]
    pub read: Option<PathBuf>,

    /// Interface to watch (repeatable); default: every interface of this network namespace.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,

    /// Also watch inside another network namespace (repeatable): an `ip netns` name, a path
    /// such as /proc/PID/ns/net, or `all` for every named namespace, new ones included. All of
    /// its interfaces are watched; each row says which namespace it is in.
    #[arg(long = "netns", value_name = "NAME|PATH|all", conflicts_with = "read")]
    pub netns: Vec<String>,

    /// Watch only these server ports (repeatable).
    #[arg(short = 'p', long = "port", value_name = "PORT", value_parser = server_port)]
    pub ports: Vec<u16>,

    /// Dashboard refresh period, also the sparkline resolution.
    #[arg(long, default_value = "1s", value_parser = positive_duration)]
    pub interval: Duration,

    /// Which exchanges to count: the dashboard's first filter, the summary's only one.
    #[arg(long, value_name = "FILTER", long_help = filter_long_help())]
    pub filter: Option<String>,

    /// Rows of the table and of the summary: one per connection, server (ip:port), endpoint
    /// (server, method and path template such as /users/{id}) or client (ip).
    #[arg(long, default_value = "connection", value_parser = group, value_name = "GROUP")]
    pub group: Group,

    /// Show query strings in paths (redacted by default).
    #[arg(long)]
    pub show_query: bool,

    /// A connection silent this long is dropped; its outstanding requests count as expired.
    #[arg(long, default_value = "30s", value_parser = positive_duration)]
    pub request_timeout: Duration,

    /// Rows listed in the headless summary (its `top_rows`, and `top_talkers`).
    #[arg(long, default_value = "10", value_parser = positive_count, value_name = "N")]
    pub top: usize,

    /// Where the kernel programs see packets: `tc` (a classifier on each interface's tc hooks,
    /// no packet tap) or `socket` (a filter on an AF_PACKET socket per interface).
    #[arg(long, value_enum, default_value_t = AttachMode::default())]
    pub attach: AttachMode,

    /// Print the shell completion script for SHELL on stdout, then exit.
    #[arg(long, value_name = "SHELL", value_enum, hide = true)]
    pub completions: Option<clap_complete::Shell>,

    /// Print the man page (roff) on stdout, then exit.
    #[arg(long, hide = true)]
    pub man: bool,

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
    #[error("--json-lines goes with --headless or --read (the dashboard has the terminal)")]
    JsonLinesWithoutHeadless,
    #[error("--prometheus serves live metrics: it does not go with --read")]
    PrometheusWithRead,
    #[error("--prometheus-series goes with --prometheus")]
    SeriesWithoutPrometheus,
}

impl Cli {
    /// The run this command line describes.
    pub fn into_run_config(self) -> Result<RunConfig, ConfigError> {
        // Checked whatever the mode and first, so a bad filter never waits for a run to fail.
        let filter = match &self.filter {
            Some(text) => Filter::parse(text).map_err(ConfigError::Filter)?,
            None => None,
        };
        let mode = self.mode(filter.clone())?;
        let exports = self.exports(&mode)?;
        let model = mode.model_options();
        let kernel = KernelConfig {
            interfaces: self.interfaces,
            ports: self.ports,
            // The dashboard and the metrics show the filter's cost; other runs do not pay for
            // measuring it.
            run_stats: matches!(mode, Mode::Dashboard(_)) || exports.prometheus.is_some(),
            #[cfg(feature = "bench-controls")]
            entry_program: self.bench_control_filter.unwrap_or_default(),
            #[cfg(not(feature = "bench-controls"))]
            entry_program: Default::default(),
            attach: self.attach,
            netns: NetnsConfig {
                all: self.netns.iter().any(|n| n == "all"),
                namespaces: self.netns.into_iter().filter(|n| n != "all").collect(),
            },
        };
        Ok(RunConfig {
            mode,
            kernel,
            collector: CollectorOptions {
                interval: self.interval,
                request_timeout: self.request_timeout,
                ..CollectorOptions::default()
            },
            model,
            filter,
            exports,
            log_path: self.log_file.unwrap_or_else(logging::default_log_path),
        })
    }

    fn exports(&self, mode: &Mode) -> Result<ExportConfig, ConfigError> {
        match mode {
            Mode::Dashboard(_) if self.json_lines => {
                return Err(ConfigError::JsonLinesWithoutHeadless);
            }
            Mode::Read(_) if self.prometheus.is_some() => {
                return Err(ConfigError::PrometheusWithRead);
            }
            _ if self.prometheus.is_none() && self.prometheus_series.is_some() => {
                return Err(ConfigError::SeriesWithoutPrometheus);
            }
            _ => {}
        }
        Ok(ExportConfig {
            json_lines: self.json_lines,
            prometheus: self.prometheus.map(|addr| PrometheusConfig {
                addr,
                series_limit: self.prometheus_series.unwrap_or(DEFAULT_SERIES_LIMIT),
            }),
            show_query: self.show_query,
        })
    }

    fn mode(&self, filter: Option<Filter>) -> Result<Mode, ConfigError> {
        #[cfg(feature = "bench-controls")]
        if let Some(frames) = self.bench_render {
            return Ok(Mode::BenchRender {
                frames: frames.max(1),
            });
        }
        let summary = SummaryOptions {
            format: if self.json {
                SummaryFormat::Json
            } else {
                SummaryFormat::Text
            },
            top: self.top,
            group: self.group,
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
                duration: self.duration,
            }))
        }
    }
}

impl Cli {
    /// What `--completions SHELL` or `--man` print instead of running, if asked for.
    pub fn generated(&self) -> Option<Vec<u8>> {
        let mut command = <Cli as clap::CommandFactory>::command();
        let mut out = Vec::new();
        if let Some(shell) = self.completions {
            clap_complete::generate(shell, &mut command, "httptop", &mut out);
        } else if self.man {
            // Writing to a Vec cannot fail.
            clap_mangen::Man::new(command).render(&mut out).ok()?;
        } else {
            return None;
        }
        Some(out)
    }
}

/// `--prometheus-series`' help, its default from the one constant.
fn series_help() -> String {
    format!(
        "Series of the Prometheus duration histogram kept apart (server, method, status class, \
         path template); exchanges of any further series are counted in one `other` series \
         [default: {DEFAULT_SERIES_LIMIT}]"
    )
}

/// `--filter`'s long help: what it does, then the grammar (written once, in the model).
fn filter_long_help() -> String {
    format!(
        "Which exchanges to count. The dashboard starts with it (`/` changes it); --headless \
         and --read count only the exchanges it lets through, and their summary says so.\n\n\
         {FILTER_GRAMMAR}"
    )
}

/// A duration above zero (`500ms`, `10s`, `2m`).
fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s)
        .map_err(|e| format!("`{s}` is not a duration ({e}; e.g. 500ms, 10s, 2m)"))?;
    if d.is_zero() {
        return Err(format!("`{s}` must be more than 0"));
    }
    Ok(d)
}

/// A server port, 1 to 65535.
fn server_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("`{s}` is not a port (1-65535)")),
    }
}

/// An address and port to listen on: `127.0.0.1:9464`, `[::]:9464`.
fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse::<SocketAddr>()
        .map_err(|_| format!("`{s}` is not an address and port (e.g. 127.0.0.1:9464, [::]:9464)"))
}

/// A count of 1 or more.
fn positive_count(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("`{s}` is not a count of 1 or more")),
    }
}

fn group(s: &str) -> Result<Group, String> {
    s.parse::<Group>().map_err(|e| e.to_string())
}

/// A command line clap refused, as one line: `invalid value '0s' for '--interval <INTERVAL>':
/// `0s` must be more than 0`.
pub fn one_line(e: &clap::Error) -> String {
    let rendered = e.render().to_string();
    let first = rendered.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelOptions;

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
        // Rows for its summary only: connections (its top talkers) and its grouping.
        assert_eq!(
            headless.model,
            ModelOptions::summary_only(Group::Connection)
        );
        let by_endpoint = config(&["--headless", "--group", "endpoint"]).unwrap();
        let kept = by_endpoint.model.groups;
        assert!(kept.contains(Group::Connection) && kept.contains(Group::Endpoint));
        assert!(!kept.contains(Group::Server) && !kept.contains(Group::Process));
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

    /// clap's refusal of `args`, as main prints it (one line).
    fn refused(args: &[&str]) -> String {
        match Cli::try_parse_from(std::iter::once("httptop").chain(args.iter().copied())) {
            Ok(cli) => panic!("{args:?} accepted: {cli:?}"),
            Err(e) => one_line(&e),
        }
    }

    #[test]
    fn every_bad_argument_gets_one_line() {
        for (args, message) in [
            (
                &["--interval", "0s"][..],
                "invalid value '0s' for '--interval <INTERVAL>': `0s` must be more than 0",
            ),
            (
                &["--request-timeout", "0s"],
                "invalid value '0s' for '--request-timeout <REQUEST_TIMEOUT>': `0s` must be more \
                 than 0",
            ),
            (
                &["-p", "0"],
                "invalid value '0' for '--port <PORT>': `0` is not a port (1-65535)",
            ),
            (
                &["-p", "65536"],
                "invalid value '65536' for '--port <PORT>': `65536` is not a port (1-65535)",
            ),
            (
                &["--duration", "five"],
                "invalid value 'five' for '--duration <DURATION>': `five` is not a duration \
                 (expected number at 0; e.g. 500ms, 10s, 2m)",
            ),
            (
                &["--top", "0"],
                "invalid value '0' for '--top <N>': `0` is not a count of 1 or more",
            ),
            (
                &["--group", "host"],
                "invalid value 'host' for '--group <GROUP>': `host` is not a grouping \
                 (connection, server, endpoint, client, process)",
            ),
        ] {
            let line = refused(args);
            assert_eq!(line, message, "{args:?}");
            assert!(!line.contains('\n'), "{args:?}: {line}");
        }
        assert_eq!(
            error(&["--filter", "status 5xx or"]),
            "--filter: `or` needs a term after it"
        );
    }

    #[test]
    fn the_filter_and_the_group_reach_every_mode() {
        for args in [
            &[
                "--headless",
                "--filter",
                "status 5xx",
                "--group",
                "endpoint",
            ][..],
            &[
                "--read",
                "x.pcap",
                "--filter",
                "status 5xx",
                "--group",
                "endpoint",
            ],
        ] {
            let c = config(args).unwrap();
            assert_eq!(c.filter.as_ref().map(Filter::text), Some("status 5xx"));
            let summary = match c.mode {
                Mode::Headless(h) => h.summary,
                Mode::Read(r) => r.summary,
                other => panic!("{args:?}: {other:?}"),
            };
            assert_eq!(summary.group, Group::Endpoint);
        }
        let c = config(&["--duration", "3s"]).unwrap();
        let Mode::Dashboard(opts) = c.mode else {
            panic!("not the dashboard");
        };
        assert_eq!(opts.duration, Some(Duration::from_secs(3)));
        assert_eq!(config(&["--headless"]).unwrap().filter, None);
    }

    #[test]
    fn completions_and_the_man_page_come_from_the_definition() {
        let cli = Cli::try_parse_from(["httptop", "--completions", "bash"]).unwrap();
        let bash = String::from_utf8(cli.generated().unwrap()).unwrap();
        assert!(bash.contains("--group"), "{bash}");
        assert!(bash.contains("--filter"), "{bash}");
        let cli = Cli::try_parse_from(["httptop", "--man"]).unwrap();
        let man = String::from_utf8(cli.generated().unwrap()).unwrap();
        assert!(man.starts_with(".ie"), "{man}");
        assert!(man.contains("latency >10ms"), "{man}");
        assert!(
            Cli::try_parse_from(["httptop"])
                .unwrap()
                .generated()
                .is_none()
        );
    }

    #[test]
    fn exports_are_checked_against_the_mode() {
        assert_eq!(
            error(&["--json-lines"]),
            "--json-lines goes with --headless or --read (the dashboard has the terminal)"
        );
        assert_eq!(
            error(&["--read", "x.pcap", "--prometheus", "127.0.0.1:9464"]),
            "--prometheus serves live metrics: it does not go with --read"
        );
        let headless = config(&[
            "--headless",
            "--json-lines",
            "--prometheus",
            "[::1]:9464",
            "--prometheus-series",
            "50",
            "--show-query",
        ])
        .unwrap();
        assert_eq!(
            headless.exports,
            ExportConfig {
                json_lines: true,
                prometheus: Some(PrometheusConfig {
                    addr: "[::1]:9464".parse().unwrap(),
                    series_limit: 50,
                }),
                show_query: true,
            }
        );
        // The metrics carry the kernel program's cost, so a headless run measures it.
        assert!(headless.kernel.run_stats);
        let read = config(&["--read", "x.pcap", "--json-lines"]).unwrap();
        assert!(read.exports.json_lines);
        assert_eq!(read.exports.prometheus, None);
        let dashboard = config(&["--prometheus", "0.0.0.0:9464"]).unwrap();
        assert_eq!(
            dashboard.exports.prometheus.map(|p| p.series_limit),
            Some(DEFAULT_SERIES_LIMIT)
        );
        assert_eq!(
            refused(&["--prometheus", "9464"]),
            "invalid value '9464' for '--prometheus <ADDR:PORT>': `9464` is not an address and \
             port (e.g. 127.0.0.1:9464, [::]:9464)"
        );
        assert_eq!(
            error(&["--headless", "--prometheus-series", "5"]),
            "--prometheus-series goes with --prometheus"
        );
        assert_eq!(
            refused(&["--prometheus", "[::1]:9464", "--prometheus-series", "0"]),
            "invalid value '0' for '--prometheus-series <N>': `0` is not a count of 1 or more"
        );
    }

    #[test]
    fn read_excludes_live_only_options() {
        assert!(Cli::try_parse_from(["httptop", "--read", "x.pcap", "--duration", "1s"]).is_err());
        assert!(Cli::try_parse_from(["httptop", "--read", "x.pcap", "-i", "lo"]).is_err());
    }
}
