//! `cargo xtask fuzz [--seconds N]`: a short run of every libFuzzer target in `fuzz/` from its
//! committed corpus (`fuzz/smoke.sh` says how), for CI. Installs cargo-fuzz from crates.io when
//! it is missing; the targets build with the nightly toolchain that setup checks for.

use anyhow::{Context as _, Result};

use crate::{
    project::{Project, run_checked},
    setup,
};

/// The cargo-fuzz release the targets were written against, built `--locked`.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

#[derive(clap::Args)]
pub struct FuzzArgs {
    /// Seconds each target runs.
    #[arg(long, default_value_t = 30)]
    seconds: u32,
}

pub fn fuzz(project: &Project, args: &FuzzArgs) -> Result<()> {
    setup::setup(project, None)?;
    let present = project
        .command("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !present {
        eprintln!("xtask fuzz: installing cargo-fuzz {CARGO_FUZZ_VERSION} (once)");
        run_checked(
            project
                .command("cargo")
                .args(["install", "cargo-fuzz", "--locked", "--version"])
                .arg(CARGO_FUZZ_VERSION),
        )
        .context("installing cargo-fuzz")?;
    }
    run_checked(
        project
            .command("sh")
            .arg(project.root.join("fuzz/smoke.sh"))
            .arg(args.seconds.to_string()),
    )
}
