//! The bench's results: figures as min/median/max over repeated runs, checked against their
//! targets, written as BENCHMARKS.md and, beside it, BENCHMARKS.json (the same figures).

use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
    time::Duration,
};

use anyhow::{Context as _, Result};
use serde_json::{Value, json};

use crate::project::describe;

/// Every distinct command line the bench ran, in first-run order, with the namespace and the
/// working directory written as `$NS` and `$DIR`, and paths in the project relative to it.
pub struct CommandLog {
    namespace: String,
    dir: String,
    project_root: String,
    lines: Mutex<Vec<String>>,
}

impl CommandLog {
    pub fn new(namespace: &str, dir: &Path, project_root: &Path) -> Self {
        Self {
            namespace: namespace.to_owned(),
            dir: dir.display().to_string(),
            project_root: format!("{}/", project_root.display()),
            lines: Mutex::new(Vec::new()),
        }
    }

    pub fn record(&self, command: &Command) {
        self.record_line(describe(command));
    }

    pub fn record_line(&self, line: String) {
        let line = line
            .replace(&self.dir, "$DIR")
            .replace(&self.namespace, "$NS")
            .replace(&self.project_root, "");
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !lines.contains(&line) {
            lines.push(line);
        }
    }

    fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Which of a figure's runs a target is checked on.
#[derive(Clone, Copy)]
pub enum Check {
    /// The median must be at least the value.
    MedianAtLeast(f64),
    /// The median must be at most the value.
    MedianAtMost(f64),
    /// Every run must be at most the value.
    AllAtMost(f64),
    /// Every run must be at least the value.
    AllAtLeast(f64),
}

impl Check {
    fn describe(self, unit: &str) -> String {
        match self {
            Self::MedianAtLeast(value) => format!("median ≥ {} {unit}", number(value)),
            Self::MedianAtMost(value) => format!("median ≤ {} {unit}", number(value)),
            Self::AllAtMost(value) => format!("every run ≤ {} {unit}", number(value)),
            Self::AllAtLeast(value) => format!("every run ≥ {} {unit}", number(value)),
        }
    }

    fn met(self, spread: &Spread) -> bool {
        match self {
            Self::MedianAtLeast(value) => spread.median >= value,
            Self::MedianAtMost(value) => spread.median <= value,
            Self::AllAtMost(value) => spread.max <= value,
            Self::AllAtLeast(value) => spread.min >= value,
        }
    }
}

/// min / median / max of a figure's runs.
pub struct Spread {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let middle = sorted.len() / 2;
        let median = match sorted.len() {
            0 => return None,
            n if n % 2 == 1 => sorted[middle],
            _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
        };
        Some(Self {
            min: sorted[0],
            median,
            max: sorted[sorted.len() - 1],
        })
    }
}

/// One measured quantity: a value per run.
pub struct Row {
    pub metric: String,
    pub unit: &'static str,
    pub samples: Vec<f64>,
    pub target: Option<Check>,
}

impl Row {
    pub fn new(metric: impl Into<String>, unit: &'static str, samples: Vec<f64>) -> Self {
        Self {
            metric: metric.into(),
            unit,
            samples,
            target: None,
        }
    }

    pub fn target(mut self, check: Check) -> Self {
        self.target = Some(check);
        self
    }

    /// Whether the target is met; None without a target (or without runs).
    pub fn met(&self) -> Option<bool> {
        Some(self.target?.met(&Spread::of(&self.samples)?))
    }
}

pub struct Figure {
    pub title: &'static str,
    /// What was run, in a sentence or two.
    pub setup: String,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub memory_gib: f64,
    pub packages: Vec<(String, String)>,
}

impl Machine {
    pub fn describe() -> Self {
        let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu_model = cpuinfo
            .lines()
            .find_map(|line| line.strip_prefix("model name"))
            .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_owned())
            .unwrap_or_else(|| "unknown".into());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|release| release.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        let memory_kib: f64 = fs::read_to_string("/proc/meminfo")
            .unwrap_or_default()
            .lines()
            .find_map(|line| line.strip_prefix("MemTotal:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        // The packages the bench installs and runs: their versions are part of the machine.
        let packages = crate::packages::packages_for(crate::packages::Purpose::Bench)
            .iter()
            .map(|package| {
                let version = Command::new("dpkg-query")
                    .args(["-W", "-f", "${Version}", package])
                    .output()
                    .ok()
                    .filter(|output| output.status.success())
                    .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
                    .unwrap_or_else(|| "?".into());
                ((*package).to_owned(), version)
            })
            .collect();
        Self {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            kernel,
            memory_gib: memory_kib / (1024.0 * 1024.0),
            packages,
        }
    }
}

pub struct Report {
    pub quick: bool,
    pub command_line: String,
    pub machine: Machine,
    /// What httptop was built from.
    pub revision: String,
    pub figures: Vec<Figure>,
    /// Where targets are missed: what the measurements say dominates.
    pub analysis: Vec<String>,
    pub nginx_config: String,
    pub elapsed: Duration,
}

impl Report {
    /// Writes `markdown_path` and the JSON beside it (same name, `.json`); returns the JSON path.
    pub fn write(&self, markdown_path: &Path, commands: &CommandLog) -> Result<PathBuf> {
        let json_path = markdown_path.with_extension("json");
        if let Some(parent) = markdown_path.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(markdown_path, self.markdown(commands, &json_path))
            .with_context(|| format!("writing {}", markdown_path.display()))?;
        let json = serde_json::to_string_pretty(&self.json(commands))? + "\n";
        fs::write(&json_path, json).with_context(|| format!("writing {}", json_path.display()))?;
        Ok(json_path)
    }

    fn markdown(&self, commands: &CommandLog, json_path: &Path) -> String {
        let mut out = String::new();
        let mode = if self.quick {
            " (`--quick`: one short run each, a smoke test, not figures to quote)"
        } else {
            ""
        };
        let _ = writeln!(out, "# httptop benchmarks\n");
        let _ = writeln!(
            out,
            "Written by `{}`{mode} in {:.0} s; the same figures are in `{}`. Each figure is min / median / max over \
             the runs; the configurations of a figure were interleaved (A B C A B C …) so the machine's noise hits \
             them alike. Everything ran in a network namespace of its own, on loopback.\n",
            self.command_line,
            self.elapsed.as_secs_f64(),
            json_path
                .file_name()
                .map_or_else(String::new, |name| name.to_string_lossy().into_owned()),
        );
        let _ = writeln!(out, "httptop measured: {}.\n", self.revision);
        let _ = writeln!(out, "## Machine\n");
        let _ = writeln!(out, "| | |\n|---|---|");
        let _ = writeln!(out, "| CPUs (`nproc`) | {} |", self.machine.cpus);
        let _ = writeln!(out, "| CPU model | {} |", self.machine.cpu_model);
        let _ = writeln!(out, "| kernel (`uname -r`) | {} |", self.machine.kernel);
        let _ = writeln!(out, "| memory | {:.1} GiB |", self.machine.memory_gib);
        for (package, version) in &self.machine.packages {
            let _ = writeln!(out, "| {package} | {version} |");
        }
        let _ = writeln!(out, "\n## Summary\n");
        let _ = writeln!(
            out,
            "| figure | metric | min | median | max | target | met |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---|---|");
        for figure in &self.figures {
            for row in &figure.rows {
                let Some(spread) = Spread::of(&row.samples) else {
                    let _ = writeln!(
                        out,
                        "| {} | {} | | pending | | | |",
                        figure.title, row.metric
                    );
                    continue;
                };
                let _ = writeln!(
                    out,
                    "| {} | {} ({}) | {} | {} | {} | {} | {} |",
                    figure.title,
                    row.metric,
                    row.unit,
                    number(spread.min),
                    number(spread.median),
                    number(spread.max),
                    row.target
                        .map_or_else(String::new, |check| check.describe(row.unit)),
                    match row.met() {
                        Some(true) => "yes",
                        Some(false) => "**no**",
                        None => "",
                    }
                );
            }
        }
        for figure in &self.figures {
            let _ = writeln!(out, "\n## {}\n\n{}\n", figure.title, figure.setup);
            let _ = writeln!(out, "| metric | runs | min | median | max |");
            let _ = writeln!(out, "|---|---|---:|---:|---:|");
            for row in &figure.rows {
                let runs = row
                    .samples
                    .iter()
                    .map(|&v| number(v))
                    .collect::<Vec<_>>()
                    .join(", ");
                match Spread::of(&row.samples) {
                    Some(spread) => {
                        let _ = writeln!(
                            out,
                            "| {} ({}) | {runs} | {} | {} | {} |",
                            row.metric,
                            row.unit,
                            number(spread.min),
                            number(spread.median),
                            number(spread.max)
                        );
                    }
                    None => {
                        let _ = writeln!(out, "| {} | pending | | | |", row.metric);
                    }
                }
            }
            for note in &figure.notes {
                let _ = writeln!(out, "\n{note}");
            }
        }
        if !self.analysis.is_empty() {
            let _ = writeln!(out, "\n## Where a target is missed, and why\n");
            for paragraph in &self.analysis {
                let _ = writeln!(out, "- {paragraph}");
            }
        }
        let _ = writeln!(out, "\n## What changed the figures\n");
        let _ = write!(out, "{}", include_str!("changes.md"));
        let _ = writeln!(out, "\n## Commands\n");
        let _ = writeln!(
            out,
            "`$NS` is the bench's network namespace, `$DIR` its working directory (removed afterwards).\n"
        );
        let _ = writeln!(out, "```");
        for line in commands.lines() {
            let _ = writeln!(out, "{line}");
        }
        let _ = writeln!(
            out,
            "```\n\nnginx's configuration (`$DIR/nginx/nginx.conf`):\n\n```nginx"
        );
        let _ = write!(out, "{}", self.nginx_config.replace(&commands.dir, "$DIR"));
        let _ = writeln!(out, "```");
        out
    }

    fn json(&self, commands: &CommandLog) -> Value {
        let figures: Vec<Value> = self
            .figures
            .iter()
            .map(|figure| {
                let rows: Vec<Value> = figure
                    .rows
                    .iter()
                    .map(|row| {
                        let spread = Spread::of(&row.samples);
                        json!({
                            "metric": row.metric,
                            "unit": row.unit,
                            "runs": row.samples,
                            "min": spread.as_ref().map(|s| s.min),
                            "median": spread.as_ref().map(|s| s.median),
                            "max": spread.as_ref().map(|s| s.max),
                            "target": row.target.map(|check| check.describe(row.unit)),
                            "met": row.met(),
                        })
                    })
                    .collect();
                json!({
                    "title": figure.title,
                    "setup": figure.setup,
                    "rows": rows,
                    "notes": figure.notes,
                })
            })
            .collect();
        json!({
            "command": self.command_line,
            "quick": self.quick,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "revision": self.revision,
            "machine": {
                "cpus": self.machine.cpus,
                "cpu_model": self.machine.cpu_model,
                "kernel": self.machine.kernel,
                "memory_gib": self.machine.memory_gib,
                "packages": self.machine.packages.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            },
            "figures": figures,
            "analysis": self.analysis,
            "commands": commands.lines(),
        })
    }
}

/// A figure for people: integers as they are, others with three significant digits at most.
pub fn number(value: f64) -> String {
    if (value.fract() == 0.0 && value.abs() < 1e15) || value.abs() >= 100.0 {
        format!("{value:.0}")
    } else if value.abs() >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.3}")
    }
}

/// The commit httptop was built from, and whether its sources (the app and the probe) had
/// uncommitted changes.
pub fn measured_revision(root: &Path) -> String {
    let git = |args: &[&str]| -> Option<String> {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())?;
        Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    };
    let Some(commit) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown (not a git checkout)".into();
    };
    match git(&[
        "status",
        "--porcelain",
        "--",
        "app",
        "probe-common",
        "probe-ebpf",
    ]) {
        Some(changes) if changes.is_empty() => format!("commit {commit}"),
        _ => format!(
            "commit {commit} plus uncommitted changes in app/, probe-common/ or probe-ebpf/"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::{Check, Row, Spread, number};

    #[test]
    fn spread_is_min_median_max() {
        let spread = Spread::of(&[3.0, 1.0, 2.0, 10.0]).unwrap();
        assert_eq!((spread.min, spread.median, spread.max), (1.0, 2.5, 10.0));
        assert!(Spread::of(&[]).is_none());
    }

    #[test]
    fn targets_are_checked_on_the_median_or_every_run() {
        let ratio =
            Row::new("ratio", "", vec![0.97, 0.99, 0.985]).target(Check::MedianAtLeast(0.98));
        assert_eq!(ratio.met(), Some(true));
        let lost = Row::new("lost", "events", vec![0.0, 3.0, 0.0]).target(Check::AllAtMost(0.0));
        assert_eq!(lost.met(), Some(false));
        assert_eq!(
            Row::new("none", "", vec![])
                .target(Check::AllAtMost(0.0))
                .met(),
            None
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(number(102345.678), "102346");
        assert_eq!(number(42.0), "42");
        assert_eq!(number(12.345), "12.3");
        assert_eq!(number(0.98765), "0.988");
    }
}
