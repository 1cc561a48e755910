//! Project tasks, run as `cargo xtask <task>` (the alias lives in `.cargo/config.toml`).
//!
//! Every task that builds starts with `setup`, which is idempotent and a fast no-op once the
//! toolchain is in place, so `cargo xtask run` and `cargo xtask test` work on a fresh machine.

mod bench;
mod cargo_test;
mod fuzz;
mod packages;
mod project;
mod setup;
mod soak;
mod tasks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "httptop's project tasks", arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install what is missing: the system programs the root tests run (apt-get, as root) and
    /// what the eBPF build needs (nightly rust-src, bpf-linker against rustc's LLVM).
    Setup,
    /// Set up, then build httptop (the eBPF probe is built by app/build.rs).
    Build {
        #[arg(long)]
        release: bool,
    },
    /// Set up, build a release httptop and run it as root: `cargo xtask run -- --headless`.
    Run {
        /// Arguments for httptop (after `--`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, build, run the host tests and, as root, the root/netns tests one at a time.
    Test,
    /// rustfmt check, clippy on the host crates and clippy on the eBPF crate for the bpf target.
    Lint,
    /// As root: benchmarks in a network namespace; writes BENCHMARKS.md and BENCHMARKS.json.
    Bench(bench::BenchArgs),
    /// As root: the dashboard screenshot in assets/ from real traffic in a network namespace.
    Screenshot(bench::screenshot::ScreenshotArgs),
    /// As root, not in CI: the dashboard under steady load for `--duration`; writes SOAK.md.
    Soak(soak::SoakArgs),
    /// A short run of every fuzz target from its committed corpus (CI's smoke run).
    Fuzz(fuzz::FuzzArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let project = match project::Project::from_environment() {
        Ok(project) => project,
        Err(error) => return report(error),
    };
    let result = match cli.task {
        Task::Setup => setup::setup(&project, Some(packages::Purpose::Test)),
        Task::Build { release } => tasks::build(&project, release),
        Task::Run { args } => tasks::run(&project, &args),
        Task::Test => tasks::test(&project),
        Task::Lint => tasks::lint(&project),
        Task::Bench(args) => bench::bench(&project, &args),
        Task::Screenshot(args) => bench::screenshot::screenshot(&project, &args),
        Task::Soak(args) => soak::soak(&project, &args),
        Task::Fuzz(args) => fuzz::fuzz(&project, &args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(error),
    }
}

fn report(error: anyhow::Error) -> ExitCode {
    eprintln!("xtask: error: {error:#}");
    ExitCode::FAILURE
}
