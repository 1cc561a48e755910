//! What a task needs before it builds, idempotent: the system programs its runs use (see
//! `packages`), then the toolchain for the eBPF build:
//!
//! 1. the nightly toolchain must be there (it cannot be downloaded on every machine);
//! 2. its `rust-src` component (for `-Z build-std=core`);
//! 3. `<cargo_home>/bpf-linker-llvm/lib` holds two links to the nightly's own
//!    `libLLVM.so.<major>.<minor>-rust-*`: one under its own name for the runtime loader
//!    (bpf-linker's RUNPATH is that folder) and one named `libLLVM.so` for bpf-linker's build;
//! 4. `bpf-linker` built against it (`LLVM_PREFIX`), installed only when it does not run yet or
//!    the links had to change (a new nightly).

use std::{
    fs, io,
    os::unix::fs::symlink,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{Context as _, Result, bail};

use crate::{
    packages::{self, Purpose},
    project::{Project, run_checked},
};

/// The bpf-linker release known to work with aya 0.14 and rustc's LLVM 22, built `--locked`
/// (it ships its Cargo.lock) so a new release of one of its dependencies cannot break setup.
const BPF_LINKER_VERSION: &str = "0.13.0";

/// Installs the programs `programs` names when some are missing, then sets up the toolchain.
pub fn setup(project: &Project, programs: Option<Purpose>) -> Result<()> {
    if let Some(purpose) = programs {
        packages::ensure(project, purpose)?;
    }
    toolchain(project)
}

fn toolchain(project: &Project) -> Result<()> {
    let started = Instant::now();
    let sysroot = nightly_sysroot(project)?;
    ensure_rust_src(project, &sysroot)?;
    let llvm = RustcLlvm::find(&sysroot)?;
    let llvm_prefix = project.cargo_home.join("bpf-linker-llvm");
    let links_changed = link_llvm(&llvm_prefix.join("lib"), &llvm)?;

    let installed_now = links_changed || bpf_linker_version(project).is_err();
    if installed_now {
        eprintln!(
            "xtask setup: building bpf-linker {BPF_LINKER_VERSION} against {} (a few minutes, once)",
            llvm.file_name
        );
        run_checked(
            project
                .command("cargo")
                .args(["install", "bpf-linker", "--locked", "--force", "--version"])
                .arg(BPF_LINKER_VERSION)
                .args(["--no-default-features", "--features"])
                .arg(format!("llvm-{}", llvm.major))
                .env("LLVM_PREFIX", &llvm_prefix),
        )?;
    }
    let version =
        bpf_linker_version(project).context("bpf-linker was installed but does not run")?;
    eprintln!(
        "xtask setup: {} in {:.1?} ({version}, {})",
        if installed_now {
            "done"
        } else {
            "already done"
        },
        started.elapsed(),
        llvm.file_name,
    );
    Ok(())
}

fn nightly_sysroot(project: &Project) -> Result<PathBuf> {
    let output = project
        .command("rustc")
        .args(["+nightly", "--print", "sysroot"])
        .stdin(Stdio::null())
        .output()
        .context("rustc not found: install Rust with rustup")?;
    if !output.status.success() {
        bail!(
            "nightly toolchain missing: run `rustup toolchain install nightly` \
             (on a machine that cannot download toolchains it must come with the machine); \
             rustc said: {}",
            first_line(&output.stderr)
        );
    }
    let sysroot = String::from_utf8(output.stdout).context("sysroot is not UTF-8")?;
    Ok(PathBuf::from(sysroot.trim()))
}

fn ensure_rust_src(project: &Project, sysroot: &Path) -> Result<()> {
    if sysroot
        .join("lib/rustlib/src/rust/library/core/Cargo.toml")
        .is_file()
    {
        return Ok(());
    }
    run_checked(
        project
            .command("rustup")
            .args(["component", "add", "rust-src", "--toolchain", "nightly"])
            .stdin(Stdio::null()),
    )
    .context("could not add rust-src to the nightly toolchain (it is downloaded from the Rust distribution server)")
}

/// The nightly's own shared LLVM, `<sysroot>/lib/libLLVM.so.<major>.<minor>-rust-<version>`.
struct RustcLlvm {
    path: PathBuf,
    file_name: String,
    major: u32,
}

impl RustcLlvm {
    fn find(sysroot: &Path) -> Result<Self> {
        let lib = sysroot.join("lib");
        let mut found = Vec::new();
        for entry in fs::read_dir(&lib).with_context(|| format!("reading {}", lib.display()))? {
            let file_name = entry?.file_name().to_string_lossy().into_owned();
            let Some(version) = file_name.strip_prefix("libLLVM.so.") else {
                continue;
            };
            if !version.contains("-rust-") {
                continue;
            }
            let major = version
                .split('.')
                .next()
                .and_then(|major| major.parse().ok())
                .with_context(|| format!("no LLVM major version in {file_name}"))?;
            found.push(Self {
                path: lib.join(&file_name),
                file_name,
                major,
            });
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => bail!(
                "no libLLVM.so.*-rust-* in {}: the nightly toolchain does not ship its LLVM as a shared library",
                lib.display()
            ),
            _ => bail!(
                "several libLLVM.so.*-rust-* in {}: {}",
                lib.display(),
                found
                    .iter()
                    .map(|llvm| llvm.file_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// Makes `dir` hold exactly the two links to `llvm`; removes links to any other libLLVM (an older
/// nightly's). Returns whether anything changed.
fn link_llvm(dir: &Path, llvm: &RustcLlvm) -> Result<bool> {
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let wanted = [llvm.file_name.as_str(), "libLLVM.so"];
    let mut changed = false;
    for entry in fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("libLLVM") {
            continue;
        }
        let current = wanted.contains(&name.as_str())
            && fs::read_link(entry.path()).is_ok_and(|target| target == llvm.path);
        if !current {
            fs::remove_file(entry.path())
                .with_context(|| format!("removing stale {}", entry.path().display()))?;
            changed = true;
        }
    }
    for name in wanted {
        let link = dir.join(name);
        match symlink(&llvm.path, &link) {
            Ok(()) => changed = true,
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(error).with_context(|| format!("linking {}", link.display()));
            }
        }
    }
    Ok(changed)
}

/// `bpf-linker --version`'s line, if it is on the PATH and loads its LLVM.
fn bpf_linker_version(project: &Project) -> Result<String> {
    let output = Command::new(
        project
            .find_program("bpf-linker")
            .context("bpf-linker is not installed")?,
    )
    .arg("--version")
    .stdin(Stdio::null())
    .output()
    .context("could not start bpf-linker")?;
    if !output.status.success() {
        bail!("bpf-linker does not run: {}", first_line(&output.stderr));
    }
    Ok(first_line(&output.stdout))
}

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_owned()
}
