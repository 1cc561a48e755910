//! The report's figures, one module each, every one measured over `plan.runs` interleaved runs
//! (A B C A B C …, so the machine's noise hits the configurations alike); here, what they share.
//!
//! Each figure's module names the rows that the analysis of a missed target reads back, and the
//! targets themselves: the checks and the analysis read the same constants.

pub mod attribution;
pub mod completeness;
pub mod filter_cost;
pub mod latency;
pub mod own_cost;
pub mod prometheus;
pub mod scale;
pub mod throughput;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Result;
use httptop_lab::{NetNs, Nginx};

use super::{
    Plan, load,
    observers::Headless,
    report::{CommandLog, Figure},
};

pub const NGINX_ADDR: &str = "127.0.0.1:8080";
const NGINX_URL: &str = "http://127.0.0.1:8080/";
/// Time for the last responses to cross the socket and the collector to drain the ring
/// buffer, between the end of the load and httptop's stop.
const SETTLE: Duration = Duration::from_millis(300);
const MIB: f64 = 1024.0 * 1024.0;

/// What every figure works with.
pub struct Bench<'a> {
    pub namespace: &'a NetNs,
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

/// A failure to measure one figure, kept in the report instead of ending the bench.
pub fn failed_figure(title: &'static str, error: &anyhow::Error) -> Figure {
    Figure {
        title,
        setup: format!("Not measured: {error:#}"),
        rows: Vec::new(),
        notes: Vec::new(),
    }
}
