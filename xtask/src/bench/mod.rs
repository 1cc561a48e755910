//! `cargo xtask bench [--quick] [--out BENCHMARKS.md] [--figure N]`: what httptop costs and how
//! much it catches under real load, side by side with tcpdump and tshark.
//!
//! As root: installs the programs it runs if missing, builds the release httptop with its
//! benchmark controls (`--features bench-controls`), then runs everything in the lab (the
//! `httptop-lab` crate): a network namespace of its own on loopback, nginx, wrk and the bench's
//! own clients and servers. Every resource is a guard (namespace, processes, tmux, working
//! directory, the BPF statistics sysctl), cleaned up also on error or panic. The figures are
//! measured one after the other (one module each under `figures/`), then the analysis explains
//! any missed target and the report is written: markdown, and a JSON of the same figures beside
//! it.

mod analysis;
mod delay;
mod figures;
mod load;
mod measure;
mod observers;
mod plan;
mod report;
pub mod screenshot;

// The soak's load and process samples are the bench's own.
pub use load::fixed_rate;
pub use measure::ProcessSample;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::{Result, bail};
use httptop_lab::{NetNs, Nginx, NginxConfig, TempDir, process::raise_open_file_limit};

use crate::{
    packages::Purpose,
    project::{Project, is_root, run_checked},
    setup,
};

use self::{
    figures::{
        Bench, attribution, completeness, failed_figure, filter_cost, latency, own_cost,
        prometheus, scale, throughput,
    },
    plan::Plan,
    report::{CommandLog, Figure, Machine, Report, measured_revision},
};

/// The prefix of every name the bench gives (namespace, working directory).
const NAME_PREFIX: &str = "httptop-bench";
/// The cargo feature that builds httptop's benchmark controls (`--bench-control-filter`,
/// `--bench-render`) in.
const BENCH_FEATURE: &str = "bench-controls";

#[derive(clap::Args)]
pub struct BenchArgs {
    /// A smoke run (under 2 minutes): one short run per configuration. For CI; its figures
    /// are not to be quoted.
    #[arg(long)]
    quick: bool,
    /// The markdown report (relative to the project root); the JSON goes beside it, `.json`.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
    /// Measure only figure N (repeatable; 1 and 2 come from the same runs). For working on a
    /// figure: the report then holds only those.
    #[arg(long = "figure", value_name = "N", value_parser = clap::value_parser!(u8).range(1..=FIGURES))]
    figures: Vec<u8>,
}

/// Figures of the report, numbered from 1.
const FIGURES: i64 = 8;

pub fn bench(project: &Project, args: &BenchArgs) -> Result<()> {
    if !is_root() {
        bail!(
            "cargo xtask bench needs root (network namespaces, BPF, packet capture): run it as root"
        );
    }
    let started = Instant::now();
    build_measured_httptop(project)?;
    let binary = project.httptop_binary(true);
    let open_files = raise_open_file_limit()?;
    let plan = Plan::new(args.quick, open_files);
    let out = project.root.join(&args.out);

    let workdir = TempDir::new(NAME_PREFIX)?;
    let namespace = NetNs::new(NAME_PREFIX)?;
    let commands = CommandLog::new(namespace.name(), workdir.path(), &project.root);
    let nginx_dir = workdir.path().join("nginx");
    let nginx = Nginx::start(&namespace, &nginx_dir, &nginx_config(open_files))?;
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

    let wanted = |number: u8| args.figures.is_empty() || args.figures.contains(&number);
    let mut results = Results::default();
    if wanted(1) || wanted(2) {
        match throughput::measure(&bench) {
            Ok(runs) => {
                results.figures.push(throughput::figure(&bench, &runs));
                results.figures.push(completeness::figure(&runs));
            }
            Err(error) => results.failed("1. Throughput cost and 2. Completeness", &error),
        }
    }
    if wanted(3) {
        results.keep("3. Filter cost per packet", filter_cost::figure(&bench));
    }
    if wanted(4) {
        results.keep("4. httptop's own cost", own_cost::figure(&bench));
    }
    if wanted(5) {
        results.keep("5. Scale", scale::figure(&bench));
    }
    if wanted(6) {
        results.keep("6. Latency accuracy", latency::figure(&bench));
    }
    if wanted(7) {
        results.keep(
            "7. Prometheus exporter at 10,000 series",
            prometheus::figure(&bench),
        );
    }
    if wanted(8) {
        results.keep(
            "8. Process attribution cost",
            attribution::figure(&bench, project),
        );
    }
    let Results {
        figures: measured,
        failures,
    } = results;

    let analysis = analysis::explain_misses(&measured);
    let report = Report {
        quick: args.quick,
        command_line: format!(
            "cargo xtask bench{}{}{}",
            if args.quick { " --quick" } else { "" },
            if args.out == Path::new("BENCHMARKS.md") {
                String::new()
            } else {
                format!(" --out {}", args.out.display())
            },
            args.figures
                .iter()
                .map(|number| format!(" --figure {number}"))
                .collect::<String>()
        ),
        machine: Machine::describe(),
        revision: measured_revision(&project.root),
        figures: measured,
        analysis,
        nginx_config: nginx.config_text().to_owned(),
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

/// Sets up the toolchain and builds the release httptop with its benchmark controls. Its
/// default run (no control flag) is the httptop users get: the figures' httptop rows measure
/// that, the control rows the controls.
fn build_measured_httptop(project: &Project) -> Result<()> {
    setup::setup(project, Some(Purpose::Bench))?;
    let mut cargo = project.cargo();
    cargo.args(["build", "--release", "--package", "httptop"]);
    cargo.args(["--features", BENCH_FEATURE]);
    run_checked(&mut cargo)
}

/// nginx for every figure: one worker on [`figures::NGINX_ADDR`], every request logged at once
/// (the access log is the server's own count), keep-alive for as long as any figure's load, and
/// room for the scale figure's connections (`open_files` is the bench's own raised limit).
fn nginx_config(open_files: u64) -> NginxConfig {
    let addr = figures::NGINX_ADDR
        .parse()
        .expect("a literal socket address");
    NginxConfig {
        backlog: Some(4096),
        // The scale figure's connections plus headroom.
        worker_connections: 12_000,
        open_files: Some(open_files),
        error_log_level: "warn",
        keepalive_requests: 1_000_000,
        keepalive_timeout: Some(Duration::from_secs(120)),
        ..NginxConfig::new(&[addr])
    }
}

/// The figures measured so far, and the failures of those that could not be: a failure is
/// kept in the report (and fails the bench at the end) instead of ending it.
#[derive(Default)]
struct Results {
    figures: Vec<Figure>,
    failures: Vec<String>,
}

impl Results {
    fn keep(&mut self, title: &'static str, result: Result<Figure>) {
        match result {
            Ok(figure) => self.figures.push(figure),
            Err(error) => self.failed(title, &error),
        }
    }

    fn failed(&mut self, title: &'static str, error: &anyhow::Error) {
        eprintln!("xtask bench: {title}: {error:#}");
        self.figures.push(failed_figure(title, error));
        self.failures.push(format!("{title}: {error:#}"));
    }
}
