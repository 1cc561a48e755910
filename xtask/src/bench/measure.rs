//! What the bench reads from the kernel: BPF run-time statistics of httptop's programs, the
//! memory of its maps, and the CPU time and memory of a process.

use std::{collections::BTreeMap, fs, path::Path, process::Command, time::Instant};

use anyhow::{Context as _, Result, bail};
use probe_common::names;
use serde_json::Value;

const STATS_SYSCTL: &str = "/proc/sys/kernel/bpf_stats_enabled";
/// The control filters of `httptop --bench-control-filter`: (its value, the program's name).
pub const RETURN_AT_ONCE: (&str, &str) = ("return-at-once", names::NULL_CONTROL_PROGRAM);
pub const HEADERS_ONLY: (&str, &str) = ("headers", names::HEADERS_CONTROL_PROGRAM);
pub const PAIRING_ONLY: (&str, &str) = ("pairing", names::PAIRING_CONTROL_PROGRAM);

/// httptop's attach modes (`httptop --attach MODE`): both run in figures 1 and 3.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Attach {
    Socket,
    Tc,
}

impl Attach {
    pub const ALL: [Self; 2] = [Self::Socket, Self::Tc];

    /// The value of `--attach`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Socket => "socket",
            Self::Tc => "tc",
        }
    }

    /// httptop's arguments for this mode.
    pub fn args(self) -> [&'static str; 2] {
        ["--attach", self.name()]
    }

    /// Every program of this mode, the entry program first.
    pub fn all_programs(self) -> [&'static str; 3] {
        match self {
            Self::Socket => names::PROGRAMS,
            Self::Tc => names::TC_PROGRAMS,
        }
    }

    /// The entry program and the message program of this mode.
    pub fn programs(self) -> (&'static str, &'static str) {
        match self {
            Self::Socket => (names::ENTRY_PROGRAM, names::MESSAGE_PROGRAM),
            Self::Tc => (names::TC_ENTRY_PROGRAM, names::TC_MESSAGE_PROGRAM),
        }
    }
}

/// `kernel.bpf_stats_enabled=1` while it lives; the old value is restored on drop.
pub struct BpfStatsEnabled {
    old: String,
}

impl BpfStatsEnabled {
    pub fn enable() -> Result<Self> {
        let old = fs::read_to_string(STATS_SYSCTL).context("reading kernel.bpf_stats_enabled")?;
        fs::write(STATS_SYSCTL, "1").context("setting kernel.bpf_stats_enabled=1")?;
        Ok(Self { old })
    }
}

impl Drop for BpfStatsEnabled {
    fn drop(&mut self) {
        let _ = fs::write(STATS_SYSCTL, self.old.trim());
    }
}

/// The BPF objects a process holds open: program and map ids, from `/proc/PID/fdinfo`.
fn held_bpf_ids(pid: u32, key: &str) -> Result<Vec<u64>> {
    let mut ids = Vec::new();
    let dir = format!("/proc/{pid}/fdinfo");
    for entry in fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(info) = fs::read_to_string(entry?.path()) else {
            continue;
        };
        ids.extend(info.lines().find_map(|line| {
            line.strip_prefix(key)
                .and_then(|rest| rest.trim_start_matches(':').trim().parse::<u64>().ok())
        }));
    }
    Ok(ids)
}

fn bpftool_json(object: &str) -> Result<Vec<Value>> {
    let output = Command::new("bpftool")
        .args(["-j", object, "show"])
        .output()
        .context("running bpftool")?;
    if !output.status.success() {
        bail!(
            "`bpftool -j {object} show` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let value: Value = serde_json::from_slice(&output.stdout).context("bpftool's JSON")?;
    Ok(value.as_array().cloned().unwrap_or_default())
}

/// Cumulative run-time statistics of one program.
#[derive(Clone, Copy, Default)]
pub struct RunStats {
    pub run_time_ns: u64,
    pub run_cnt: u64,
}

/// The instructions the kernel's verifier processed to load program `name`, as httptop's log
/// file `log` says (`BPF program NAME loaded: Some(N) instructions verified`); `None` when it
/// does not say (a kernel that does not report it).
pub fn verified_instructions(log: &Path, name: &str) -> Result<Option<u64>> {
    let text = fs::read_to_string(log)
        .with_context(|| format!("reading httptop's log {}", log.display()))?;
    let prefix = format!("BPF program {name} loaded: Some(");
    Ok(text.lines().rev().find_map(|line| {
        let rest = &line[line.find(&prefix)? + prefix.len()..];
        rest[..rest.find(')')?].parse().ok()
    }))
}

/// The statistics of httptop's two programs, as held by process `pid`.
#[derive(Clone, Copy, Default)]
pub struct ProgramStats {
    pub entry: RunStats,
    pub message: RunStats,
}

/// Run-time statistics of the programs process `pid` holds, by program name.
fn held_program_stats(pid: u32) -> Result<BTreeMap<String, RunStats>> {
    let ids = held_bpf_ids(pid, "prog_id")?;
    let mut held = BTreeMap::new();
    for program in bpftool_json("prog")? {
        if !program["id"].as_u64().is_some_and(|id| ids.contains(&id)) {
            continue;
        }
        if let Some(name) = program["name"].as_str() {
            let run = RunStats {
                run_time_ns: program["run_time_ns"].as_u64().unwrap_or(0),
                run_cnt: program["run_cnt"].as_u64().unwrap_or(0),
            };
            held.insert(name.to_owned(), run);
        }
    }
    Ok(held)
}

impl RunStats {
    /// The statistics of program `name` held by process `pid`.
    pub fn read(pid: u32, name: &str) -> Result<Self> {
        held_program_stats(pid)?
            .remove(name)
            .with_context(|| format!("httptop (pid {pid}) does not hold program {name}"))
    }

    /// Run time per run between `before` and `self`.
    pub fn ns_per_run_since(&self, before: &Self) -> f64 {
        let runs = self.run_cnt - before.run_cnt;
        (self.run_time_ns - before.run_time_ns) as f64 / runs.max(1) as f64
    }
}

impl ProgramStats {
    /// The statistics of the programs of mode `attach` held by process `pid`.
    pub fn read(pid: u32, attach: Attach) -> Result<Self> {
        let held = held_program_stats(pid)?;
        let (entry, message) = attach.programs();
        match (held.get(entry), held.get(message)) {
            (Some(&entry), Some(&message)) => Ok(Self { entry, message }),
            _ => bail!("httptop (pid {pid}) does not hold both programs {entry} and {message}"),
        }
    }

    /// What ran between `before` and `self`.
    pub fn since(&self, before: &Self) -> FilterCost {
        FilterCost {
            entry_runs: self.entry.run_cnt - before.entry.run_cnt,
            entry_ns: self.entry.run_time_ns - before.entry.run_time_ns,
            message_runs: self.message.run_cnt - before.message.run_cnt,
            message_ns: self.message.run_time_ns - before.message.run_time_ns,
        }
    }
}

/// The filter's work over one phase.
pub struct FilterCost {
    /// Runs of the entry program: one per packet the socket sees.
    pub entry_runs: u64,
    pub entry_ns: u64,
    /// Runs counted for the message program: none when the kernel reaches it by tail call
    /// (its time is then inside the entry program's).
    pub message_runs: u64,
    pub message_ns: u64,
}

impl FilterCost {
    /// Both programs' time per packet.
    pub fn ns_per_packet(&self) -> f64 {
        (self.entry_ns + self.message_ns) as f64 / self.entry_runs.max(1) as f64
    }
}

/// `bytes_memlock` of every map process `pid` holds, by map name.
pub fn map_memory(pid: u32) -> Result<BTreeMap<String, u64>> {
    let ids = held_bpf_ids(pid, "map_id")?;
    let mut memory = BTreeMap::new();
    for map in bpftool_json("map")? {
        if map["id"].as_u64().is_some_and(|id| ids.contains(&id)) {
            let name = map["name"].as_str().unwrap_or("?").to_owned();
            *memory.entry(name).or_default() += map["bytes_memlock"].as_u64().unwrap_or(0);
        }
    }
    Ok(memory)
}

/// Where the figures' CPU times of a process come from, as the report says it.
pub const CPU_SOURCE: &str = "on-CPU time of its threads, `/proc/PID/task/*/schedstat` (ns)";

/// CPU time and memory of a process at one moment.
pub struct ProcessSample {
    pub at: Instant,
    /// Each thread's on-CPU time so far (ns), by thread id: exact where utime + stime count
    /// 10 ms ticks (an 8 s window at 1 % of a core is 8 ticks).
    thread_cpu_ns: Vec<(u32, u64)>,
    /// VmHWM: the peak resident set so far.
    pub peak_rss_bytes: u64,
    /// VmRSS: the resident set now.
    pub rss_bytes: u64,
}

impl ProcessSample {
    pub fn read(pid: u32) -> Result<Self> {
        let at = Instant::now();
        let tasks = fs::read_dir(format!("/proc/{pid}/task"))
            .with_context(|| format!("reading /proc/{pid}/task"))?;
        let mut thread_cpu_ns = Vec::new();
        for task in tasks.flatten() {
            let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                continue;
            };
            // A thread gone since the listing is not counted.
            let Ok(schedstat) = fs::read_to_string(task.path().join("schedstat")) else {
                continue;
            };
            let ns = schedstat
                .split_whitespace()
                .next()
                .and_then(|f| f.parse().ok())
                .context("malformed /proc/PID/task/TID/schedstat")?;
            thread_cpu_ns.push((tid, ns));
        }
        let status = fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status"))?;
        let kib = |key: &str| -> Result<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|value| {
                    value
                        .trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .with_context(|| format!("no {key} in /proc/PID/status"))
        };
        Ok(Self {
            at,
            thread_cpu_ns,
            peak_rss_bytes: kib("VmHWM")? * 1024,
            rss_bytes: kib("VmRSS")? * 1024,
        })
    }

    /// CPU time used between `before` and `self`, in nanoseconds: each thread's since
    /// `before`, or since its start for one started after it (a thread that ended meanwhile
    /// takes its time with it).
    pub fn cpu_ns_since(&self, before: &Self) -> f64 {
        self.thread_cpu_ns
            .iter()
            .map(|&(tid, ns)| {
                let earlier = before
                    .thread_cpu_ns
                    .iter()
                    .find(|&&(t, _)| t == tid)
                    .map_or(0, |&(_, ns)| ns);
                ns.saturating_sub(earlier)
            })
            .sum::<u64>() as f64
    }

    /// CPU used between `before` and `self`, in percent of one core.
    pub fn cpu_percent_since(&self, before: &Self) -> f64 {
        100.0 * self.cpu_ns_since(before) / 1e9 / (self.at - before.at).as_secs_f64()
    }
}
