//! Figure 8, process attribution cost: httptop's own measurement of its `attribution` module,
//! the ignored unit test `attribution::tests::cost_at_ten_thousand_connections`, run in release
//! once per run inside the bench's namespace, its printed lines read back. Two ways: every end
//! found by the search (sock_diag lookups and the incremental `/proc/PID/fd` index: 10,000
//! connected pairs attributed fresh and again cached, then 1,000 new ones in one call and as 100
//! calls of 10), then every end told by the owners probe (1,000 new ones as 100 calls of 10, the
//! probe drained inside each), with the probe's own run time in the kernel.

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
/// Connections the told part starts from: the search's 10,000 and its 2,000 new ones.
const TOLD_CONNECTIONS: u32 = 12_000;
/// New connections per second the CPU rows are for: the 1,000 new ones, as 100 calls of 10,
/// spread over a second.
const NEW_PER_SECOND: u32 = 1_000;
/// One run of the test, its build done before (26,000 sockets set up; about a second of it is
/// attribution).
const TEST_TIMEOUT: Duration = Duration::from_secs(300);

pub const CPU_AT_NEW_PER_SECOND: &str =
    "CPU at 1,000 new connections per second, ends told by the owners probe";
pub const CPU_TARGET: f64 = 1.0;
pub const SEARCH_CPU_AT_NEW_PER_SECOND: &str =
    "CPU at 1,000 new connections per second, ends found by the search";
pub const KERNEL_CPU_AT_NEW_PER_SECOND: &str =
    "the owners probe's programs in the kernel at 1,000 new connections per second";
pub const TOLD_AS_CALLS_OF_TEN: &str =
    "told: attribute 1,000 new connections as 100 calls of 10 (the probe drained in each)";
pub const NEW_AS_CALLS_OF_TEN: &str = "search: attribute 1,000 new connections as 100 calls of 10";
pub const READLINKS_PER_NEW: &str = "search: readlinks per new connection (the 100 calls of 10)";
pub const FRESH: &str = "search: attribute 10,000 new connections (first call, empty index)";
pub const TOLD_LOOKUPS_PER_NEW: &str = "told: sock_diag lookups per new connection";
pub const KERNEL_NS_PER_NEW: &str = "the owners probe's programs in the kernel per new connection";

/// The lines the test prints (`eprintln!`), by how they start, and how they read on, for the
/// error when one is missing.
const FRESH_LINE: Line = Line {
    prefix: "search: first call, 10,000 new: ",
    shape: "search: first call, 10,000 new: <ms> ms, <n> readlinks, <n> fd scans, <n> lookups, <n> unknown",
};
const CACHED_LINE: Line = Line {
    prefix: "search: again, 10,000 cached: ",
    shape: "search: again, 10,000 cached: <ms> ms",
};
const ONE_CALL_LINE: Line = Line {
    prefix: "search: 1,000 new in one call: ",
    shape: "search: 1,000 new in one call: <ms> ms, <n> readlinks, <n> fd scans, <n> lookups, <n> unknown",
};
const CALLS_OF_TEN_LINE: Line = Line {
    prefix: "search: 1,000 new as 100 calls of 10: ",
    shape: "search: 1,000 new as 100 calls of 10: <ms> ms in all (<ms> ms a call, worst <ms>), <n> readlinks, <n> fd scans",
};
const TOLD_FRESH_LINE: Line = Line {
    prefix: "told: first call, 12,000 new: ",
    shape: "told: first call, 12,000 new: <ms> ms, <n> readlinks, <n> lookups, <n> unknown",
};
const TOLD_CALLS_OF_TEN_LINE: Line = Line {
    prefix: "told: 1,000 new as 100 calls of 10: ",
    shape: "told: 1,000 new as 100 calls of 10: <ms> ms in all (<ms> ms a call, worst <ms>), <n> records, <n> lookups, <n> readlinks",
};
/// One per program of the probe.
const KERNEL_LINES: [Line; 2] = [
    Line {
        prefix: "kernel: httptop_owners over the 100 calls of 10: ",
        shape: "kernel: httptop_owners over the 100 calls of 10: <n> runs, <n> ns, <n> ns a run",
    },
    Line {
        prefix: "kernel: httptop_readers over the 100 calls of 10: ",
        shape: "kernel: httptop_readers over the 100 calls of 10: <n> runs, <n> ns, <n> ns a run",
    },
];
const LOST_LINE: Line = Line {
    prefix: "owners probe: ",
    shape: "owners probe: <n> records lost",
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
    told_calls_of_ten_ms: f64,
    told_lookups: f64,
    /// Lookups of the told part's first call: ends of the 12,000 the probe did not tell.
    told_fresh_lookups: f64,
    /// The probe's programs' run time over the told calls of 10 (ns), all programs.
    kernel_ns: f64,
}

impl Run {
    /// Reads the test's output (stderr, where `--nocapture` leaves its `eprintln!`s); fails
    /// naming the first line it expected and did not find, if any connection was left
    /// unattributed, or if the probe lost records (its figures would be the search's).
    fn parse(output: &str) -> Result<Self> {
        let fresh = FRESH_LINE.find(output)?;
        let one_call = ONE_CALL_LINE.find(output)?;
        let calls_of_ten = CALLS_OF_TEN_LINE.find(output)?;
        let told_fresh = TOLD_FRESH_LINE.find(output)?;
        let told_calls_of_ten = TOLD_CALLS_OF_TEN_LINE.find(output)?;
        for (rest, of) in [
            (&fresh, CONNECTIONS),
            (&one_call, NEW),
            (&told_fresh, TOLD_CONNECTIONS),
        ] {
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
        let lost = LOST_LINE.find(output)?.number_before(" records")?;
        if lost != 0.0 {
            bail!("the owners probe lost {lost} records in the attribution cost test");
        }
        let mut kernel_ns = 0.0;
        for line in KERNEL_LINES {
            kernel_ns += line.find(output)?.number_before(" ns,")?;
        }
        Ok(Self {
            fresh_ms: fresh.number_before(" ms")?,
            cached_ms: CACHED_LINE.find(output)?.number_before(" ms")?,
            one_call_ms: one_call.number_before(" ms")?,
            calls_of_ten_ms: calls_of_ten.number_before(" ms")?,
            calls_of_ten_readlinks: calls_of_ten.number_before(" readlinks")?,
            told_calls_of_ten_ms: told_calls_of_ten.number_before(" ms")?,
            told_lookups: told_calls_of_ten.number_before(" lookups")?,
            told_fresh_lookups: told_fresh.number_before(" lookups")?,
            kernel_ns,
        })
    }

    /// `ms` spent on [`NEW`] new connections, over a second of [`NEW_PER_SECOND`] of them:
    /// % of one core.
    fn percent(ms: f64) -> f64 {
        ms * f64::from(NEW_PER_SECOND) / f64::from(NEW) / 1e3 * 100.0
    }

    fn cpu_percent(&self) -> f64 {
        Self::percent(self.told_calls_of_ten_ms)
    }

    fn search_cpu_percent(&self) -> f64 {
        Self::percent(self.calls_of_ten_ms)
    }

    fn kernel_cpu_percent(&self) -> f64 {
        Self::percent(self.kernel_ns / 1e6)
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
            "search: attribute the same 10,000 again (cached)",
            "ms",
            column(|run| run.cached_ms),
        ),
        Row::new(
            "search: attribute 1,000 new connections in one call",
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
            SEARCH_CPU_AT_NEW_PER_SECOND,
            "% of one core",
            column(Run::search_cpu_percent),
        ),
        Row::new(
            TOLD_AS_CALLS_OF_TEN,
            "ms",
            column(|run| run.told_calls_of_ten_ms),
        ),
        Row::new(
            "told: sock_diag lookups for the 12,000 (ends the probe did not tell)",
            "lookups",
            column(|run| run.told_fresh_lookups),
        ),
        Row::new(
            TOLD_LOOKUPS_PER_NEW,
            "lookups",
            column(|run| run.told_lookups / f64::from(NEW)),
        ),
        Row::new(
            CPU_AT_NEW_PER_SECOND,
            "% of one core",
            column(Run::cpu_percent),
        )
        .target(Check::MedianAtMost(CPU_TARGET)),
        Row::new(
            KERNEL_NS_PER_NEW,
            "ns",
            column(|run| run.kernel_ns / f64::from(NEW)),
        ),
        Row::new(
            KERNEL_CPU_AT_NEW_PER_SECOND,
            "% of one core",
            column(Run::kernel_cpu_percent),
        ),
    ];
    Ok(Figure {
        title: "8. Process attribution cost",
        setup: format!(
            "httptop's own measurement of its process attribution: the ignored unit test `{TEST}`, built in \
             release, run once per run inside the bench's namespace (`cargo test --release -p httptop --lib {TEST} \
             -- --ignored --nocapture --exact`), its printed lines read back; times are the wall time of the calls \
             (they do not sleep), taken as CPU. It connects 10,000 pairs on 127.0.0.1 (clients in the test process, \
             servers held by a python3 child that reads a byte from each), with the owners probe attached. Search \
             rows: every end found from user space (sock_diag lookups of both ends, then an incremental index of \
             `/proc/PID/fd` from socket inodes to processes; the way for connections made before httptop \
             started, or whose records the probe lost): the 10,000 with a new attributor (empty index), the same \
             again (cached), 1,000 new ones in one call, 1,000 more as 100 calls of 10. Told rows: a new \
             attributor told the probe's records of those 12,000, then 1,000 new connections as 100 calls of 10, \
             each call draining the probe's ring buffer, handing its records over and attributing the 10, as \
             httptop's collector does. CPU at 1,000 new connections per second: a way's 100 calls of 10 over a \
             second. The kernel rows: the run time of the probe's two programs (BPF run-time statistics) over \
             the told calls of 10, every state change and socket read of the host in that time included, per new \
             connection and at 1,000 a second. The figure fails if any connection is left unattributed or the \
             probe lost a record."
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
     Running unittests src/lib.rs (target/release/deps/httptop-999070ca8ff3aa85)
RLIMIT_NOFILE 20000; 10,000 connections: clients here, servers in python3 31757
search: first call, 10,000 new: 244.3 ms, 20044 readlinks, 4 fd scans, 20000 lookups, 0 unknown
search: again, 10,000 cached: 2.66 ms
search: 1,000 new in one call: 15.73 ms, 2001 readlinks, 0 fd scans, 2000 lookups, 0 unknown
search: 1,000 new as 100 calls of 10: 22.06 ms in all (0.221 ms a call, worst 0.439), 2001 readlinks, 0 fd scans
AttributionStats { calls: 103, tuples: 22000, cached: 10000 }
told: first call, 12,000 new: 20.2 ms, 0 readlinks, 0 lookups, 0 unknown
told: 1,000 new as 100 calls of 10: 1.95 ms in all (0.019 ms a call, worst 0.076), 2000 records, 0 lookups, 0 readlinks
AttributionStats { calls: 101, tuples: 13000, cached: 0 }
kernel: httptop_owners over the 100 calls of 10: 4000 runs, 2573462 ns, 643 ns a run
kernel: httptop_readers over the 100 calls of 10: 1001 runs, 1162889 ns, 1162 ns a run
owners probe: 0 records lost
";

    #[test]
    fn the_tests_lines_are_read_back() {
        let run = Run::parse(OUTPUT).unwrap();
        assert_eq!(
            run,
            Run {
                fresh_ms: 244.3,
                cached_ms: 2.66,
                one_call_ms: 15.73,
                calls_of_ten_ms: 22.06,
                calls_of_ten_readlinks: 2001.0,
                told_calls_of_ten_ms: 1.95,
                told_lookups: 0.0,
                told_fresh_lookups: 0.0,
                kernel_ns: 2573462.0 + 1162889.0,
            }
        );
        assert!((run.cpu_percent() - 0.195).abs() < 1e-9);
        assert!((run.search_cpu_percent() - 2.206).abs() < 1e-9);
        assert!((run.kernel_cpu_percent() - 0.3736351).abs() < 1e-9);
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
        let changed = OUTPUT.replace("2.66 ms", "2.66ms");
        let error = format!("{:#}", Run::parse(&changed).unwrap_err());
        assert!(error.contains("again, 10,000 cached: 2.66ms"), "{error}");
    }

    #[test]
    fn lost_records_fail_the_figure() {
        let lost = OUTPUT.replace("0 records lost", "3 records lost");
        let error = format!("{:#}", Run::parse(&lost).unwrap_err());
        assert!(error.contains("lost 3 records"), "{error}");
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
