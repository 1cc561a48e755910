//! What every task shares: where the project is, the PATH its children get, and running a
//! command with its exit status checked. Task modules depend on this one, never on each other.

use std::{
    env,
    ffi::OsString,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context as _, Result, bail};

/// Where the workspace is and the environment its commands run in.
pub struct Project {
    pub root: PathBuf,
    pub target_dir: PathBuf,
    /// `$CARGO_HOME`, else `$HOME/.cargo`: where `cargo install` puts bpf-linker.
    pub cargo_home: PathBuf,
    /// PATH for every child, with `<cargo_home>/bin` in front so a freshly installed bpf-linker
    /// is found by aya-build's nested cargo.
    path: OsString,
}

impl Project {
    pub fn from_environment() -> Result<Self> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("xtask has no parent directory")?
            .to_path_buf();
        let target_dir = env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        let cargo_home = match env::var_os("CARGO_HOME") {
            Some(home) => PathBuf::from(home),
            None => {
                PathBuf::from(env::var_os("HOME").context("neither CARGO_HOME nor HOME is set")?)
                    .join(".cargo")
            }
        };
        let cargo_bin = cargo_home.join("bin");
        let inherited = env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = env::split_paths(&inherited).collect();
        if !dirs.contains(&cargo_bin) {
            dirs.insert(0, cargo_bin);
        }
        let path = env::join_paths(dirs).context("PATH holds a directory with ':' in its name")?;
        Ok(Self {
            root,
            target_dir,
            cargo_home,
            path,
        })
    }

    /// The first executable called `name` on the children's PATH.
    pub fn find_program(&self, name: &str) -> Option<PathBuf> {
        env::split_paths(&self.path)
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    }

    /// `program` (looked up on the children's PATH) with that PATH, run from the project root.
    pub fn command(&self, program: &str) -> Command {
        let resolved = self
            .find_program(program)
            .unwrap_or_else(|| PathBuf::from(program));
        let mut command = Command::new(resolved);
        command.env("PATH", &self.path).current_dir(&self.root);
        command
    }

    /// The cargo that runs this xtask (rustup's proxy when `+toolchain` is wanted: use
    /// `command("cargo")`).
    pub fn cargo(&self) -> Command {
        match env::var_os("CARGO") {
            Some(cargo) => {
                let mut command = Command::new(cargo);
                command.env("PATH", &self.path).current_dir(&self.root);
                command
            }
            None => self.command("cargo"),
        }
    }

    pub fn httptop_binary(&self, release: bool) -> PathBuf {
        self.target_dir
            .join(if release { "release" } else { "debug" })
            .join("httptop")
    }
}

pub fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Runs `command` with inherited stdio, echoing it first; an error unless it exits 0.
pub fn run_checked(command: &mut Command) -> Result<()> {
    let shown = describe(command);
    eprintln!("$ {shown}");
    let status = command
        .status()
        .with_context(|| format!("could not start `{shown}`"))?;
    if !status.success() {
        bail!("`{shown}` failed ({status})");
    }
    Ok(())
}

pub fn describe(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(name)
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}
