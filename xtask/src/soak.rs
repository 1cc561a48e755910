//! `cargo xtask soak --duration D`: httptop's dashboard left running under steady load with
//! connection churn, watched from outside. Not in CI (it runs for as long as it is told).
//!
//! In a network namespace of its own: nginx on 127.0.0.1:8080 (every request in its access log),
//! the dashboard in a tmux pane (`--interval 1s`) and a headless `httptop --json` beside it for
//! the exact count at the end. The load, for `D`: keep-alive clients at a fixed rate in rounds
//! of [`ROUND`] on fresh connections (so connections keep opening and closing), and one client
//! opening a connection per request. Every [`SAMPLE_EVERY`] the dashboard's RSS, CPU share and
//! connection-table occupancy (entries in its `CONNS` map, through bpftool) are sampled and the
//! report rewritten, so a run cut short still leaves its samples. At the end the headless run's
//! exchanges must equal nginx's access log.
//!
//! The report goes to `SOAK.md` in the project root (or `--out`).

use std::{
    ffi::OsString,
    fmt::Write as _,
    fs,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::{Command, Stdio},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail, ensure};
use httptop_lab::{ChildGuard, NetNs, Nginx, NginxConfig, TempDir, Tmux, run_to_exit};

use crate::{
    bench::{ProcessSample, fixed_rate},
    project::{Project, is_root},
    tasks,
};

const NAME_PREFIX: &str = "httptop-soak";
const NGINX: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const SAMPLE_EVERY: Duration = Duration::from_secs(30);
/// Keep-alive load: this many connections at this many requests a second in all, on fresh
/// connections every round.
const KEEP_ALIVE_CONNECTIONS: u32 = 16;
const KEEP_ALIVE_RATE: u32 = 400;
const ROUND: Duration = Duration::from_secs(5);
/// One connection per request, this many a second.
const CHURN_RATE: u32 = 20;

#[derive(clap::Args)]
pub struct SoakArgs {
    /// How long the load runs (humantime: `30m`, `1h`).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Duration,
    /// The report (relative to the project root).
    #[arg(long, default_value = "SOAK.md")]
    out: PathBuf,
}

/// One sample of the dashboard's process.
struct Sample {
    at: Duration,
    rss_kib: u64,
    cpu_percent: f64,
    conns_entries: u64,
    logged: u64,
}

pub fn soak(project: &Project, args: &SoakArgs) -> Result<()> {
    if !is_root() {
        bail!("cargo xtask soak needs root (network namespaces, BPF): run it as root");
    }
    for tool in ["tmux", "nginx", "bpftool", "ip"] {
        if project.find_program(tool).is_none() {
            bail!("cargo xtask soak: {tool} is missing (cargo xtask setup installs it)");
        }
    }
    let binary = tasks::lab_binary(project)?;
    let out = project.root.join(&args.out);
    let work = TempDir::new(NAME_PREFIX)?;
    let ns = NetNs::new(NAME_PREFIX)?;
    let nginx = Nginx::start(&ns, &work.path().join("nginx"), &NginxConfig::new(&[NGINX]))?;

    let dashboard_args: Vec<OsString> = vec![
        "netns".into(),
        "exec".into(),
        ns.name().into(),
        binary.clone().into(),
        "--log-file".into(),
        work.path().join("dashboard.log").into(),
    ];
    let tmux = Tmux::start(NAME_PREFIX, 160, 48, "ip", &dashboard_args)?;
    tmux.wait_for("the dashboard", Duration::from_secs(30), |screen| {
        screen.contains("exchanges 0")
    })?;
    let dashboard = pane_child(&tmux)?;
    let mut headless = ns.command(&binary);
    headless
        .args(["--headless", "--json", "--log-file"])
        .arg(work.path().join("headless.log"))
        .stdout(Stdio::piped());
    let mut headless = ChildGuard::spawn_ready(
        headless,
        "httptop --headless",
        "httptop: attached",
        Duration::from_secs(30),
    )?;

    let report = Report {
        out: out.clone(),
        binary: binary.display().to_string(),
        duration: args.duration,
        samples: Vec::new(),
    };
    let stop = AtomicBool::new(false);
    let sent = AtomicU64::new(0);
    let report = thread::scope(|scope| -> Result<Report> {
        let keep_alive = scope.spawn(|| {
            ns.run(|| -> Result<()> {
                while !stop.load(Ordering::Relaxed) {
                    let round = fixed_rate(NGINX, KEEP_ALIVE_CONNECTIONS, KEEP_ALIVE_RATE, ROUND)?;
                    sent.fetch_add(round.exchanges, Ordering::Relaxed);
                }
                Ok(())
            })
        });
        let churn = scope.spawn(|| {
            ns.run(|| -> Result<()> {
                let period = Duration::from_secs(1) / CHURN_RATE;
                let started = Instant::now();
                let mut k = 0;
                while !stop.load(Ordering::Relaxed) {
                    let due = started + period * k;
                    thread::sleep(due.saturating_duration_since(Instant::now()));
                    // One connection, one request (its round ends before a second is due).
                    let one = fixed_rate(NGINX, 1, CHURN_RATE, period)?;
                    sent.fetch_add(one.exchanges, Ordering::Relaxed);
                    k += 1;
                }
                Ok(())
            })
        });
        let sampled = sample_until(&tmux, dashboard, &nginx, args.duration, report);
        stop.store(true, Ordering::Relaxed);
        let loads = [keep_alive.join(), churn.join()];
        for load in loads {
            match load {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => return Err(e).context("the load"),
                Ok(Err(e)) => return Err(e).context("the load's namespace"),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        sampled
    })?;
    let sent = sent.load(Ordering::Relaxed);

    // Every answer has passed the filter once the clients have read it; leave the events a
    // moment to be read, then stop the headless run for its exact count.
    thread::sleep(Duration::from_secs(1));
    let json = headless.stop_and_read_stdout(libc::SIGINT, Duration::from_secs(30))?;
    let summary: serde_json::Value =
        serde_json::from_str(json.trim()).context("the headless run's JSON summary")?;
    let count = |key: &str| summary[key].as_u64().unwrap_or(u64::MAX);
    let logged = nginx.logged_requests()?;
    let screen = tmux.capture()?;
    tmux.send_keys(&["q"])?;
    let dashboard_status = tmux.wait_for_exit(Duration::from_secs(30))?;
    let end = End {
        sent,
        logged,
        exchanges: count("exchanges"),
        requests: count("requests"),
        expired: count("expired_requests"),
        events_lost: count("events_lost"),
        dashboard_status,
        screen_header: screen.lines().next().unwrap_or("").trim_end().to_owned(),
    };
    report.write(Some(&end))?;
    eprintln!("xtask soak: wrote {}", out.display());
    ensure!(
        end.exchanges == logged && end.requests == logged,
        "httptop counted {} exchanges and {} requests, nginx logged {logged}",
        end.exchanges,
        end.requests
    );
    ensure!(
        dashboard_status == 0,
        "the dashboard exited {dashboard_status}"
    );
    Ok(())
}

/// Samples every [`SAMPLE_EVERY`] until `duration` has passed, rewriting the report each time.
fn sample_until(
    tmux: &Tmux,
    dashboard: u32,
    nginx: &Nginx,
    duration: Duration,
    mut report: Report,
) -> Result<Report> {
    let started = Instant::now();
    let mut last_cpu = ProcessSample::read(dashboard)?;
    loop {
        let next = SAMPLE_EVERY * (report.samples.len() as u32 + 1);
        let wait = next.min(duration).saturating_sub(started.elapsed());
        thread::sleep(wait);
        ensure!(
            tmux.exit_status().is_none(),
            "the dashboard exited during the soak:\n{}",
            tmux.capture()?
        );
        let cpu = ProcessSample::read(dashboard)?;
        report.samples.push(Sample {
            at: started.elapsed(),
            rss_kib: rss_kib(dashboard)?,
            cpu_percent: cpu.cpu_percent_since(&last_cpu),
            conns_entries: conns_entries(dashboard)?,
            logged: nginx.logged_requests()?,
        });
        last_cpu = cpu;
        report.write(None)?;
        if started.elapsed() >= duration {
            return Ok(report);
        }
    }
}

/// The pid of the command the pane's wrapper shell runs (`ip netns exec` execs httptop).
fn pane_child(tmux: &Tmux) -> Result<u32> {
    let wrapper = tmux.display("#{pane_pid}")?;
    let children = fs::read_to_string(format!("/proc/{wrapper}/task/{wrapper}/children"))
        .context("the pane's children")?;
    children
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse().ok())
        .context("the pane runs no command")
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc/PID/status")
}

/// Entries in the `CONNS` map that process `pid` holds: its map fds' ids (fdinfo), the one
/// bpftool names `CONNS`, its entries dumped and counted.
fn conns_entries(pid: u32) -> Result<u64> {
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let entry = entry?;
        let Ok(target) = fs::read_link(entry.path()) else {
            continue;
        };
        if target.to_string_lossy() != "anon_inode:bpf-map" {
            continue;
        }
        let fdinfo = fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            entry.file_name().to_string_lossy()
        ))?;
        let Some(id) = fdinfo
            .lines()
            .find_map(|l| l.strip_prefix("map_id:"))
            .map(str::trim)
        else {
            continue;
        };
        let show = bpftool(&["map", "show", "id", id])?;
        if show["name"].as_str() != Some(probe_common::names::CONNS) {
            continue;
        }
        let dump = bpftool(&["map", "dump", "id", id])?;
        return Ok(dump.as_array().map_or(0, |entries| entries.len() as u64));
    }
    bail!(
        "httptop (pid {pid}) holds no {} map",
        probe_common::names::CONNS
    )
}

fn bpftool(args: &[&str]) -> Result<serde_json::Value> {
    let mut command = Command::new("bpftool");
    command.arg("-j").args(args);
    let output = run_to_exit(command, Duration::from_secs(30))?;
    ensure!(output.status.success(), "bpftool {args:?} failed");
    serde_json::from_slice(&output.stdout).with_context(|| format!("bpftool {args:?}'s JSON"))
}

/// How the run ended.
struct End {
    sent: u64,
    logged: u64,
    exchanges: u64,
    requests: u64,
    expired: u64,
    events_lost: u64,
    dashboard_status: i32,
    screen_header: String,
}

struct Report {
    out: PathBuf,
    binary: String,
    duration: Duration,
    samples: Vec<Sample>,
}

impl Report {
    fn write(&self, end: Option<&End>) -> Result<()> {
        let mut md = String::new();
        let _ = writeln!(md, "# Soak run\n");
        let _ = writeln!(
            md,
            "`cargo xtask soak --duration {}` (`{}`): the dashboard in tmux and a headless \
             `httptop --json` beside it, watching nginx in a network namespace under \
             {KEEP_ALIVE_RATE} req/s on {KEEP_ALIVE_CONNECTIONS} keep-alive connections renewed \
             every {} s, plus {CHURN_RATE} one-request connections a second. The dashboard's \
             process sampled every {} s: resident set (VmRSS), CPU (share of one core since the \
             last sample) and entries in its connection table (`CONNS`, counted with \
             `bpftool map dump`).\n",
            humantime::format_duration(self.duration),
            self.binary,
            ROUND.as_secs(),
            SAMPLE_EVERY.as_secs(),
        );
        let _ = writeln!(
            md,
            "| time | RSS (MiB) | CPU (%) | CONNS entries | nginx requests |"
        );
        let _ = writeln!(md, "|---:|---:|---:|---:|---:|");
        for s in &self.samples {
            let _ = writeln!(
                md,
                "| {} | {:.1} | {:.2} | {} | {} |",
                humantime::format_duration(Duration::from_secs(s.at.as_secs())),
                s.rss_kib as f64 / 1024.0,
                s.cpu_percent,
                s.conns_entries,
                s.logged
            );
        }
        if let (Some(first), Some(last)) = (self.samples.first(), self.samples.last()) {
            let max = self.samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
            let _ = writeln!(
                md,
                "\nRSS first {:.1} MiB, last {:.1} MiB, max {:.1} MiB.",
                first.rss_kib as f64 / 1024.0,
                last.rss_kib as f64 / 1024.0,
                max as f64 / 1024.0
            );
        }
        match end {
            None => {
                let _ = writeln!(md, "\n(in progress)");
            }
            Some(end) => {
                let verdict = if end.exchanges == end.logged && end.requests == end.logged {
                    "equal"
                } else {
                    "NOT equal"
                };
                let _ = writeln!(
                    md,
                    "\nAt the end: nginx logged {} requests (the clients counted {} answers); the \
                     headless run counted {} requests and {} exchanges ({verdict}), {} expired, {} \
                     events lost. The dashboard exited {} on `q`; its last header: `{}`.",
                    end.logged,
                    end.sent,
                    end.requests,
                    end.exchanges,
                    end.expired,
                    end.events_lost,
                    end.dashboard_status,
                    end.screen_header
                );
            }
        }
        fs::write(&self.out, md).with_context(|| format!("writing {}", self.out.display()))
    }
}
