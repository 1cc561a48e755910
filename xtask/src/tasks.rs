//! The tasks that build and run: build, run, test, lint.

use std::{env, os::unix::process::CommandExt as _, process::Command, time::Instant};

use anyhow::{Context as _, Result, bail};

use crate::{
    cargo_test,
    packages::Purpose,
    project::{Project, describe, is_root, run_checked},
    setup,
};

fn build_httptop(project: &Project, release: bool) -> Result<()> {
    let mut cargo = project.cargo();
    cargo.args(["build", "--package", "httptop"]);
    if release {
        cargo.arg("--release");
    }
    run_checked(&mut cargo)
}

pub fn build(project: &Project, release: bool) -> Result<()> {
    setup::setup(project, None)?;
    build_httptop(project, release)?;
    eprintln!("xtask build: {}", project.httptop_binary(release).display());
    Ok(())
}

/// The httptop the lab tasks (screenshot, soak) run: `$HTTPTOP_BIN`, else a fresh release
/// build.
pub fn lab_binary(project: &Project) -> Result<std::path::PathBuf> {
    match env::var_os("HTTPTOP_BIN") {
        Some(binary) => Ok(binary.into()),
        None => {
            build(project, true)?;
            Ok(project.httptop_binary(true))
        }
    }
}

pub fn run(project: &Project, args: &[String]) -> Result<()> {
    setup::setup(project, None)?;
    build_httptop(project, true)?;
    let binary = project.httptop_binary(true);
    let mut httptop = if is_root() {
        Command::new(&binary)
    } else if let Some(sudo) = project.find_program("sudo") {
        eprintln!("xtask run: httptop needs root (CAP_BPF, CAP_NET_RAW): running it through sudo");
        let mut sudo = Command::new(sudo);
        sudo.arg("--").arg(&binary);
        sudo
    } else {
        bail!(
            "httptop needs root (CAP_BPF, CAP_NET_RAW) and sudo is not installed: run {} as root",
            binary.display()
        );
    };
    httptop.args(args);
    eprintln!("$ {}", describe(&httptop));
    let error = httptop.exec();
    Err(error).with_context(|| format!("could not start {}", binary.display()))
}

/// Host tests for everyone; then, as root, every `#[ignore = "needs root"]` test of the workspace
/// one at a time (they create network namespaces and attach socket filters), against the release
/// binary named by `HTTPTOP_BIN`.
pub fn test(project: &Project) -> Result<()> {
    let started = Instant::now();
    // Only the root tests run system programs; not root, they are skipped and need none.
    setup::setup(project, is_root().then_some(Purpose::Test))?;
    build_httptop(project, true)?;

    let mut failures = Vec::new();
    // --no-fail-fast: one failing test binary must not hide the results of the others.
    let (host, result) =
        cargo_test::run_counting(
            project
                .cargo()
                .args(["test", "--workspace", "--no-fail-fast"]),
        );
    let host_verdict = verdict(&result);
    note_failure(result, &mut failures);

    let (root, root_verdict) = if is_root() {
        let (root, result) = cargo_test::run_counting(
            project
                .cargo()
                .args(["test", "--workspace", "--no-fail-fast", "--"])
                .args(["--ignored", "--test-threads=1"])
                .env("HTTPTOP_BIN", project.httptop_binary(true)),
        );
        let root_verdict = verdict(&result);
        note_failure(result, &mut failures);
        (root, root_verdict)
    } else {
        eprintln!(
            "xtask test: WARNING: not root, so the root/netns tests were NOT run (run `cargo xtask test` as root)"
        );
        (cargo_test::Tally::default(), "SKIPPED (not root)")
    };

    eprintln!(
        "xtask test: host tests {host_verdict}; root tests {root_verdict}; {:.0?} in all",
        started.elapsed()
    );
    // The ignored tests of the first run are the second run's tests; not root, they were skipped.
    let skipped = host.ignored.saturating_sub(root.passed + root.failed);
    let totals = format!(
        "xtask: {} passed, {} failed, {skipped} skipped",
        host.passed + root.passed,
        host.failed + root.failed,
    );
    // A last line that CI and people can read the outcome from; also written to a file for
    // .ci/run, whose own status line comes after it.
    println!("{totals}");
    let _ = std::fs::write(
        project.target_dir.join("xtask-test-totals.txt"),
        format!("{totals}\n"),
    );
    fail_if_any(&failures)
}

/// rustfmt, clippy on the host crates (warnings are errors) and clippy on the eBPF crate as the
/// bpf target sees it (the host build of probe-ebpf is an empty stub).
pub fn lint(project: &Project) -> Result<()> {
    let mut failures = Vec::new();
    note_failure(
        run_checked(project.cargo().args(["fmt", "--all", "--check"])),
        &mut failures,
    );
    // Clippy builds app/build.rs, which builds the probe: that needs bpf-linker.
    setup::setup(project, None)?;
    // The workspace lints httptop with the benchmark controls (the tests crate turns them on);
    // the shipped build, without them, is linted on its own.
    for httptop_build in [
        &["--workspace", "--all-targets"][..],
        &["--package", "httptop", "--all-targets"][..],
    ] {
        note_failure(
            run_checked(
                project
                    .cargo()
                    .arg("clippy")
                    .args(httptop_build)
                    .args(["--", "-D", "warnings"]),
            ),
            &mut failures,
        );
    }
    ensure_nightly_clippy(project)?;
    // The eBPF crate as shipped, and with the benchmark's control programs.
    for features in [&[][..], &["--features", "bench-controls"][..]] {
        let bpf_clippy = run_checked(
            project
                .command("cargo")
                .args([
                    "+nightly",
                    "clippy",
                    "--package",
                    "probe-ebpf",
                    "--release",
                    "--target",
                    "bpfel-unknown-none",
                    "-Z",
                    "build-std=core",
                ])
                .args(features)
                .args(["--", "-D", "warnings"])
                // What aya-build passes, so cfg(bpf_target_arch) code is linted too.
                .env(
                    "CARGO_ENCODED_RUSTFLAGS",
                    format!("--cfg=bpf_target_arch=\"{}\"", env::consts::ARCH),
                )
                // Its own directory: other flags than aya-build's, so no rebuild of the real
                // probe.
                .env("CARGO_TARGET_DIR", project.target_dir.join("clippy-bpf")),
        );
        note_failure(bpf_clippy, &mut failures);
    }
    fail_if_any(&failures).context("lint failed")?;
    eprintln!("xtask lint: fmt and clippy (host and bpf) clean");
    Ok(())
}

/// The eBPF crate is linted with the nightly that builds it: its clippy must be there.
fn ensure_nightly_clippy(project: &Project) -> Result<()> {
    let present = project
        .command("cargo")
        .args(["+nightly", "clippy", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if present {
        return Ok(());
    }
    run_checked(
        project
            .command("rustup")
            .args(["component", "add", "clippy", "--toolchain", "nightly"]),
    )
    .context("nightly's clippy is missing and could not be added (it is downloaded from the Rust distribution server)")
}

/// Keeps going after a failed step, so one run reports every failure.
fn note_failure(result: Result<()>, failures: &mut Vec<String>) {
    if let Err(error) = result {
        failures.push(format!("{error:#}"));
    }
}

fn fail_if_any(failures: &[String]) -> Result<()> {
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("{}", failures.join("; "))
    }
}

fn verdict(result: &Result<()>) -> &'static str {
    if result.is_ok() { "passed" } else { "FAILED" }
}
