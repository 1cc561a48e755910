//! httptop run as an ordinary user: a copy of the binary that user can run, a home of its own,
//! and the command that runs it as that user inside a namespace.

use std::{
    fs,
    os::unix::fs::PermissionsExt as _,
    path::{Path, PathBuf},
    process::Command,
};

use crate::{NetNs, TempDir, httptop_binary};

/// The user the tests run httptop as: nobody.
pub const NOBODY: u32 = 65534;

/// A copy of httptop in a directory anyone can enter, wherever the workspace is, with a home
/// directory owned by [`NOBODY`] (its log file goes there, as an ordinary user's would).
pub struct UnprivilegedCopy {
    pub binary: PathBuf,
    pub home: PathBuf,
    _dir: TempDir,
}

impl UnprivilegedCopy {
    pub fn new() -> Self {
        let dir = TempDir::new();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        let binary = dir.path().join("httptop");
        fs::copy(httptop_binary(), &binary).expect("copying httptop");
        let home = dir.path().join("home");
        fs::create_dir(&home).expect("creating a home");
        std::os::unix::fs::chown(&home, Some(NOBODY), Some(NOBODY)).expect("chown home");
        Self {
            binary,
            home,
            _dir: dir,
        }
    }

    /// `setpriv` running the copy as [`NOBODY`] in `ns`, with its home and no other groups.
    pub fn command(&self, ns: &NetNs) -> Command {
        as_nobody(ns, &self.binary, &self.home)
    }
}

impl Default for UnprivilegedCopy {
    fn default() -> Self {
        Self::new()
    }
}

fn as_nobody(ns: &NetNs, binary: &Path, home: &Path) -> Command {
    let mut command = ns.command("setpriv");
    command
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(binary)
        .env("HOME", home)
        .env_remove("XDG_STATE_HOME");
    command
}
