//! Harness for httptop's root integration tests: real servers and clients in network namespaces
//! of their own, and `httptop --headless --json` watching them.
//!
//! Every resource is a guard that cleans up on drop, also when a test panics: namespaces
//! ([`NetNs`]), processes ([`ChildGuard`], [`Httptop`]) and temporary directories ([`TempDir`]).
//! Declare the namespace first so that it is dropped last, after the processes inside it.
//!
//! Root tests are `#[ignore = "needs root"]`, so a plain `cargo test` skips them; `cargo xtask
//! test` runs them as root with `--ignored --test-threads=1` and `HTTPTOP_BIN` set.

mod clients;
mod httptop;
mod netns;
mod process;
mod servers;
pub mod tmux;
mod tshark;

use std::{
    fs,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU32, Ordering},
};

pub use clients::{curl_get, keep_alive_client, pipelining_client};
pub use httptop::{Counts, Httptop, PINNED, Summary};
pub use netns::{NetNs, Veth};
pub use process::{ChildGuard, run_to_exit};
pub use servers::{NGINX_BODY, Nginx, PythonServer, wait_for_port};
pub use tshark::{Truth, tshark_truth};

/// The httptop binary under test: `$HTTPTOP_BIN`, else the workspace's release build.
pub fn httptop_binary() -> PathBuf {
    let binary = std::env::var_os("HTTPTOP_BIN").map_or_else(
        || workspace_root().join("target/release/httptop"),
        PathBuf::from,
    );
    assert!(
        binary.is_file(),
        "{} does not exist: run `cargo xtask test`, or build it (`cargo build --release -p httptop`) \
         and point HTTPTOP_BIN at it",
        binary.display()
    );
    binary
}

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `shared/captures`, beside the project root.
pub fn captures_dir() -> PathBuf {
    workspace_root().join("../shared/captures")
}

/// Fails the test at once, with the reason, unless it runs as root.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "this test needs root (network namespaces, BPF): run it through `cargo xtask test` as root"
    );
}

/// A name unique in this machine for as long as this process lives: `<prefix>-<pid>-<n>`.
pub(crate) fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh directory under the system temp dir, removed with its contents on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new() -> Self {
        let path = std::env::temp_dir().join(unique_name("httptop-test"));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("creating {}: {e}", path.display()));
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}
