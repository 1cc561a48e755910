//! `cargo xtask bench [--quick] [--out BENCHMARKS.md]`: what httptop costs and how much it
//! catches under real load, side by side with tcpdump and tshark (issue 5).
//!
//! As root: installs the programs it runs if missing, builds the release httptop, then runs
//! everything in a network namespace of its own on loopback, with nginx, wrk and the bench's
//! own clients and servers. Every resource is a guard (namespace, processes, tmux session,
//! working directory, the BPF statistics sysctl), cleaned up also on error or panic. Writes the
//! markdown report and a JSON of the same figures beside it.

mod analysis;
mod delay;
mod figures;
mod load;
mod measure;
mod netns;
mod nginx;
mod observers;
mod report;

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::project::{Project, is_root};

use self::{
    figures::Bench,
    netns::Namespace,
    nginx::Nginx,
    report::{CommandLog, Machine, Report},
};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A smoke run (under 2 minutes): one short run per configuration. For CI; its figures
    /// are not to be quoted.
    #[arg(long)]
    quick: bool,
    /// The markdown report (relative to the project root); the JSON goes beside it, `.json`.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

/// How long and how often each figure runs.
pub struct Plan {
    /// Runs of each configuration (min/median/max are over these).
    runs: usize,
    /// Rounds of the throughput figure: its ratios are the noisiest figures, so more of them.
    throughput_runs: usize,
    wrk_time: Duration,
    /// Each HTTP and non-HTTP phase of the filter-cost figure.
    filter_phase: Duration,
    bulk_bytes: u64,
    own_cost_window: Duration,
    fixed_rate: u32,
    fixed_rate_connections: u32,
    scale_connections: u32,
    scale_rounds: u32,
    scale_request_timeout: Duration,
    render_frames: u32,
    latency_connections: u32,
    quick: bool,
}

impl Plan {
    fn new(quick: bool, open_files: u64) -> Self {
        // Leave room for everything else the bench process has open.
        let scale_limit = u32::try_from(open_files.saturating_sub(512)).unwrap_or(u32::MAX);
        if quick {
            Self {
                runs: 1,
                throughput_runs: 1,
                wrk_time: Duration::from_secs(2),
                filter_phase: Duration::from_secs(1),
                bulk_bytes: 512 << 20,
                own_cost_window: Duration::from_secs(2),
                fixed_rate: 20_000,
                fixed_rate_connections: 20,
                scale_connections: 2_000.min(scale_limit),
                scale_rounds: 2,
                scale_request_timeout: Duration::from_secs(2),
                render_frames: 5,
                latency_connections: 4,
                quick,
            }
        } else {
            Self {
                runs: 3,
                throughput_runs: 5,
                wrk_time: Duration::from_secs(5),
                filter_phase: Duration::from_secs(3),
                bulk_bytes: 4 << 30,
                own_cost_window: Duration::from_secs(8),
                fixed_rate: 20_000,
                fixed_rate_connections: 20,
                scale_connections: 10_000.min(scale_limit),
                scale_rounds: 3,
                scale_request_timeout: Duration::from_secs(2),
                render_frames: 50,
                latency_connections: 8,
                quick,
            }
        }
    }

    /// Requests per client connection behind a server with `delay`: about two seconds' worth
    /// (a quarter of that with `--quick`).
    fn latency_requests(&self, delay: Duration) -> u32 {
        let per_connection = (Duration::from_secs(2).as_secs_f64() / delay.as_secs_f64()) as u32;
        if self.quick {
            per_connection / 4
        } else {
            per_connection
        }
    }
}

pub fn bench(project: &Project, args: &BenchArgs) -> Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask bench needs root (network namespaces, BPF, packet capture): run it as root"
        );
    }
    let started = Instant::now();
    crate::packages::ensure(project, crate::packages::Purpose::Bench)?;
    crate::tasks::build(project, true)?;
    let binary = project.httptop_binary(true);
    let open_files = raise_open_file_limit()?;
    let plan = Plan::new(args.quick, open_files);
    let out = project.root.join(&args.out);

    let workdir = WorkDir::create()?;
    let namespace = Namespace::create()?;
    let commands = CommandLog::new(namespace.name(), workdir.path(), &project.root);
    let nginx_dir = workdir.path().join("nginx");
    let nginx = Nginx::start(
        &namespace,
        &nginx_dir,
        figures::NGINX_ADDR
            .parse()
            .expect("a literal socket address"),
        open_files,
    )?;
    commands.record_line(format!(
        "ip netns add {}; ip -n {} link set lo up",
        namespace.name(),
        namespace.name()
    ));
    commands.record_line(format!(
        "ip netns exec {} nginx -p {dir} -e {dir}/error.log -c {dir}/nginx.conf",
        namespace.name(),
        dir = nginx_dir.display()
    ));
    let bench = Bench {
        namespace: &namespace,
        dir: workdir.path(),
        binary: &binary,
        nginx: &nginx,
        plan: &plan,
        commands: &commands,
    };

    let mut results = Results::default();
    match figures::throughput_and_completeness(&bench) {
        Ok(figures) => results.figures.extend(figures),
        Err(error) => results.failed("1. Throughput cost and 2. Completeness", &error),
    }
    results.keep("3. Filter cost per packet", figures::filter_cost(&bench));
    results.keep("4. httptop's own cost", figures::own_cost(&bench));
    results.keep("5. Scale", figures::scale(&bench));
    results.keep("6. Latency accuracy", figures::latency_accuracy(&bench));
    let Results {
        figures: measured,
        failures,
    } = results;

    let analysis = analysis::explain_misses(&measured);
    let report = Report {
        quick: args.quick,
        command_line: format!(
            "cargo xtask bench{}{}",
            if args.quick { " --quick" } else { "" },
            if args.out == Path::new("BENCHMARKS.md") {
                String::new()
            } else {
                format!(" --out {}", args.out.display())
            }
        ),
        machine: Machine::describe(),
        revision: measured_revision(project),
        figures: measured,
        analysis,
        nginx_config: nginx.config_text.clone(),
        elapsed: started.elapsed(),
    };
    let json = report.write(&out, &commands)?;
    eprintln!(
        "xtask bench: wrote {} and {} in {:.0?}",
        out.display(),
        json.display(),
        started.elapsed()
    );
    if !failures.is_empty() {
        bail!(
            "some figures could not be measured (see the report): {}",
            failures.join("; ")
        );
    }
    Ok(())
}

/// The figures measured so far, and the failures of those that could not be: a failure is
/// kept in the report (and fails the bench at the end) instead of ending it.
#[derive(Default)]
struct Results {
    figures: Vec<report::Figure>,
    failures: Vec<String>,
}

impl Results {
    fn keep(&mut self, title: &'static str, result: Result<report::Figure>) {
        match result {
            Ok(figure) => self.figures.push(figure),
            Err(error) => self.failed(title, &error),
        }
    }

    fn failed(&mut self, title: &'static str, error: &anyhow::Error) {
        eprintln!("xtask bench: {title}: {error:#}");
        self.figures.push(figures::failed_figure(title, error));
        self.failures.push(format!("{title}: {error:#}"));
    }
}

/// The commit httptop was built from, and whether its sources (the app and the probe) had
/// uncommitted changes.
fn measured_revision(project: &Project) -> String {
    let git = |args: &[&str]| -> Option<String> {
        let output = std::process::Command::new("git")
            .arg("-C")
            .arg(&project.root)
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

/// Raises this process's open-file limit to its hard limit (children inherit it: nginx and
/// the scale figure's connections need thousands); returns the new limit.
fn raise_open_file_limit() -> Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: a valid rlimit, soft limit not above the hard one.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
    }
    Ok(limit.rlim_cur)
}

/// `/tmp/httptop-bench-<pid>`, removed on drop.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create() -> Result<Self> {
        let path = std::env::temp_dir().join(format!("httptop-bench-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(Self { path })
    }

    fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
