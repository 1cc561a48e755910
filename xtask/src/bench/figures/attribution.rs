//! Figure 8, process attribution cost: httptop's own measurement of its `attribution` module
//! (sock_diag lookups and the incremental `/proc/PID/fd` index), the ignored unit test
//! `attribution::tests::cost_at_ten_thousand_connections`, run in release once per run inside
//! the bench's namespace, its printed lines read back: 10,000 connected pairs attributed fresh
//! and again cached, then 1,000 new ones in one call and as 100 calls of 10.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use httptop_lab::run_to_exit;

use super::Bench;
use crate::{
    bench::report::{Check, Figure, Row},
    project::{Project, describe, run_checked},
};

/// The test, by its full name (run with `--exact`).
const TEST: &str = "attribution::tests::cost_at_ten_thousand_connections";
/// Connections the test sets up and attributes at first, then the new ones after them.
const CONNECTIONS: u32 = 10_000;
const NEW: u32 = 1_000;
/// New connections per second the CPU row is for: the 1,000 new ones, as 100 calls of 10,
/// spread over a second.
const NEW_PER_SECOND: u32 = 1_000;
/// One run of the test, its build done before (22,000 sockets set up; about a second of it is
/// attribution).
const TEST_TIMEOUT: Duration = Duration::from_secs(300);

pub const CPU_AT_NEW_PER_SECOND: &str = "CPU at 1,000 new connections per second";
pub const CPU_TARGET: f64 = 1.0;
pub const NEW_AS_CALLS_OF_TEN: &str = "attribute 1,000 new connections as 100 calls of 10";
pub const READLINKS_PER_NEW: &str = "readlinks per new connection (the 100 calls of 10)";
pub const FRESH: &str = "attribute 10,000 new connections (first call, empty index)";

/// The lines the test prints (`eprintln!`), by how they start, and how they read on, for the
/// error when one is missing.
const FRESH_LINE: Line = Line {
    prefix: "first call, 10,000 new: ",
    shape: "first call, 10,000 new: <ms> ms, <n> readlinks, <n> fd scans, <n> lookups, <n> unknown",
};
const CACHED_LINE: Line = Line {
    prefix: "again, 10,000 cached: ",
    shape: "again, 10,000 cached: <ms> ms",
};
const ONE_CALL_LINE: Line = Line {
    prefix: "1,000 new in one call: ",
    shape: "1,000 new in one call: <ms> ms, <n> readlinks, <n> fd scans, <n> lookups, <n> unknown",
};
const CALLS_OF_TEN_LINE: Line = Line {
    prefix: "1,000 new as 100 calls of 10: ",
    shape: "1,000 new as 100 calls of 10: <ms> ms in all (<ms> ms a call, worst <ms>), <n> readlinks, <n> fd scans",
};

/// One line of the test's output.
#[derive(Clone, Copy)]
struct Line {
    prefix: &'static str,
    shape: &'static str,
}

impl Line {
    /// The rest of this line (after its prefix) in `output`.
    fn find<'a>(&self, output: &'a str) -> Result<Rest<'a>> {
        output
            .lines()
            .find_map(|line| line.trim_start().strip_prefix(self.prefix))
            .map(|text| Rest { line: *self, text })
            .with_context(|| {
                format!(
                    "the attribution cost test printed no line `{}`: was it changed? (expected `{}`)",
                    self.prefix.trim_end(),
                    self.shape
                )
            })
    }
}

/// What follows a line's prefix.
struct Rest<'a> {
    line: Line,
    text: &'a str,
}

impl Rest<'_> {
    /// The number just before the first `unit` (a word after a space: `" ms"`, `" readlinks"`).
    fn number_before(&self, unit: &str) -> Result<f64> {
        let number = self
            .text
            .find(unit)
            .map(|at| &self.text[..at])
            .and_then(|before| before.rsplit([' ', '(']).next())
            .and_then(|token| token.parse::<f64>().ok());
        number.with_context(|| {
            format!(
                "the attribution cost test printed `{}{}`, expected `{}` (no number before `{}`)",
                self.line.prefix,
                self.text,
                self.line.shape,
                unit.trim()
            )
        })
    }
}

/// What one run of the test printed.
#[derive(Debug, PartialEq)]
struct Run {
    fresh_ms: f64,
    cached_ms: f64,
    one_call_ms: f64,
    calls_of_ten_ms: f64,
    calls_of_ten_readlinks: f64,
}

impl Run {
    /// Reads the test's output (stderr, where `--nocapture` leaves its `eprintln!`s); fails
    /// naming the first line it expected and did not find, or if any connection was left
    /// unattributed.
    fn parse(output: &str) -> Result<Self> {
        let fresh = FRESH_LINE.find(output)?;
        let one_call = ONE_CALL_LINE.find(output)?;
        let calls_of_ten = CALLS_OF_TEN_LINE.find(output)?;
        for (rest, of) in [(&fresh, CONNECTIONS), (&one_call, NEW)] {
            let unknown = rest.number_before(" unknown")?;
            if unknown != 0.0 {
                bail!(
                    "the attribution cost test left {unknown} of {of} connections unattributed (`{}{}`): its \
                     figures are not those of attributing them",
                    rest.line.prefix,
                    rest.text
                );
            }
        }
        Ok(Self {
            fresh_ms: fresh.number_before(" ms")?,
            cached_ms: CACHED_LINE.find(output)?.number_before(" ms")?,
            one_call_ms: one_call.number_before(" ms")?,
            calls_of_ten_ms: calls_of_ten.number_before(" ms")?,
            calls_of_ten_readlinks: calls_of_ten.number_before(" readlinks")?,
        })
    }

    /// The calls of 10's attribution time over a second of [`NEW_PER_SECOND`] new
    /// connections: % of one core.
    fn cpu_percent(&self) -> f64 {
        self.calls_of_ten_ms * f64::from(NEW_PER_SECOND) / f64::from(NEW) / 1e3 * 100.0
    }
}

/// Figure 8: [`TEST`] in release, once per run.
pub fn figure(bench: &Bench, project: &Project) -> Result<Figure> {
    let plan = bench.plan;
    // Built once first, with its output shown: the runs then time the test, not the build.
    let mut build = project.cargo();
    build.args(["test", "--release", "-p", "httptop", "--lib", "--no-run"]);
    bench.commands.record(&build);
    run_checked(&mut build)?;
    let test_command = || {
        let mut command = project.cargo();
        command.args(["test", "--release", "-p", "httptop", "--lib", TEST]);
        command.args(["--", "--ignored", "--nocapture", "--exact"]);
        command
    };
    bench.commands.record_line(format!(
        "ip netns exec {} {}",
        bench.namespace.name(),
        describe(&test_command())
    ));
    let mut runs = Vec::with_capacity(plan.runs);
    for run in 0..plan.runs {
        eprintln!(
            "xtask bench: attribution run {}/{}: {TEST}",
            run + 1,
            plan.runs
        );
        // Inside the namespace (its children are this thread's): the test's 22,000 sockets on
        // the bench's loopback.
        let output = bench
            .namespace
            .run(|| run_to_exit(test_command(), TEST_TIMEOUT))??;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            bail!(
                "`cargo test … {TEST}` failed ({}):\n{}{}",
                output.status,
                tail(&stdout),
                tail(&stderr)
            );
        }
        if !stdout.contains("test result: ok. 1 passed") {
            bail!(
                "`cargo test … {TEST} --exact` ran no test of that name:\n{}",
                tail(&stdout)
            );
        }
        runs.push(Run::parse(&stderr)?);
    }
    let column = |value: fn(&Run) -> f64| -> Vec<f64> { runs.iter().map(value).collect() };
    let rows = vec![
        Row::new(FRESH, "ms", column(|run| run.fresh_ms)),
        Row::new(
            "attribute the same 10,000 again (cached)",
            "ms",
            column(|run| run.cached_ms),
        ),
        Row::new(
            "attribute 1,000 new connections in one call",
            "ms",
            column(|run| run.one_call_ms),
        ),
        Row::new(NEW_AS_CALLS_OF_TEN, "ms", column(|run| run.calls_of_ten_ms)),
        Row::new(
            READLINKS_PER_NEW,
            "readlinks",
            column(|run| run.calls_of_ten_readlinks / f64::from(NEW)),
        ),
        Row::new(
            CPU_AT_NEW_PER_SECOND,
            "% of one core",
            column(Run::cpu_percent),
        )
        .target(Check::MedianAtMost(CPU_TARGET)),
    ];
    Ok(Figure {
        title: "8. Process attribution cost",
        setup: format!(
            "httptop's own measurement of its process attribution (sock_diag lookups of both ends of a \
             connection, then an incremental index of `/proc/PID/fd` from socket inodes to processes): the ignored \
             unit test `{TEST}`, built in release, run once per run inside the bench's namespace (`cargo test \
             --release -p httptop --lib {TEST} -- --ignored --nocapture --exact`), its printed lines read back. \
             It connects 10,000 pairs on 127.0.0.1 (clients in the test process, servers held by a python3 \
             child), attributes them all with a new attributor (empty index), then the same ones again (cached), \
             then 1,000 new ones in one call, then 1,000 more as 100 calls of 10; times are the wall time of the \
             calls. Readlinks per new connection: those of the 100 calls of 10, over the 1,000 connections (one \
             per end: both ends are local). CPU at 1,000 new connections per second: the 100 calls \
             of 10's time over a second, taken as CPU (the calls do not sleep). The figure fails if any \
             connection is left unattributed."
        ),
        rows,
        notes: Vec::new(),
    })
}

/// The last lines of a command's output, for an error.
fn tail(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(20)..].join("\n");
    if !tail.is_empty() {
        tail.push('\n');
    }
    tail
}

#[cfg(test)]
mod tests {
    use super::{CALLS_OF_TEN_LINE, Run};

    /// The lines as `cost_at_ten_thousand_connections` prints them, cargo's own around them.
    const OUTPUT: &str = "\
     Running unittests src/lib.rs (target/release/deps/httptop-7aa8906742c08d91)
RLIMIT_NOFILE 20000; 10,000 connections: clients here, servers in python3 27579
first call, 10,000 new: 189.7 ms, 20015 readlinks, 3 fd scans, 20000 lookups, 0 unknown
again, 10,000 cached: 3.83 ms
1,000 new in one call: 19.24 ms, 2001 readlinks, 0 fd scans, 2000 lookups, 0 unknown
1,000 new as 100 calls of 10: 14.81 ms in all (0.148 ms a call, worst 0.456), 2001 readlinks, 0 fd scans
AttributionStats { calls: 103, tuples: 22000, cached: 10000 }
";

    #[test]
    fn the_tests_lines_are_read_back() {
        let run = Run::parse(OUTPUT).unwrap();
        assert_eq!(
            run,
            Run {
                fresh_ms: 189.7,
                cached_ms: 3.83,
                one_call_ms: 19.24,
                calls_of_ten_ms: 14.81,
                calls_of_ten_readlinks: 2001.0,
            }
        );
        assert!((run.cpu_percent() - 1.481).abs() < 1e-9);
    }

    #[test]
    fn a_missing_or_changed_line_is_named() {
        let without = OUTPUT.replace("1,000 new as 100 calls", "1,000 new in 100 calls");
        let error = format!("{:#}", Run::parse(&without).unwrap_err());
        assert!(
            error.contains(CALLS_OF_TEN_LINE.prefix.trim_end()),
            "{error}"
        );
        assert!(error.contains(CALLS_OF_TEN_LINE.shape), "{error}");
        let changed = OUTPUT.replace("3.83 ms", "3.83ms");
        let error = format!("{:#}", Run::parse(&changed).unwrap_err());
        assert!(error.contains("again, 10,000 cached: 3.83ms"), "{error}");
    }

    #[test]
    fn unattributed_connections_fail_the_figure() {
        let unknown = OUTPUT.replace("2000 lookups, 0 unknown", "2000 lookups, 7 unknown");
        let error = format!("{:#}", Run::parse(&unknown).unwrap_err());
        assert!(
            error.contains("left 7 of 1000 connections unattributed"),
            "{error}"
        );
    }
}
