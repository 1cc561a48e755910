//! Command line.

use std::{path::PathBuf, time::Duration};

use clap::Parser;

#[cfg(feature = "bench-controls")]
use crate::kernel::EntryProgram;

/// Watch the HTTP/1.x exchanges crossing this host: counts, latency, top talkers.
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

    /// Top talkers listed in the headless summary.
    #[arg(long, default_value_t = 10)]
    pub top: usize,

    /// Log file (default: $XDG_STATE_HOME/httptop/httptop.log).
    #[arg(long)]
    pub log_file: Option<PathBuf>,

    /// Benchmark: render N dashboard frames with 10,000 rows, print ns per frame, exit.
    #[arg(long, hide = true, value_name = "FRAMES")]
    pub bench_render: Option<usize>,

    /// Benchmark control: tap with one of the control filters instead of httptop's own
    /// (`cargo xtask bench` measures its floors with them).
    #[cfg(feature = "bench-controls")]
    #[arg(long, hide = true, value_enum, value_name = "FILTER")]
    pub bench_control_filter: Option<EntryProgram>,
}
