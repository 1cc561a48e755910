//! Harness for httptop's root integration tests: real servers and clients in network namespaces
//! of their own, and `httptop --headless --json` watching them.
//!
//! The lab itself (namespaces, servers, processes, tmux) is the `httptop-lab` crate, shared with
//! the benchmark and the screenshot; its calls return `Result`s, which this crate unwraps with
//! context, so a test fails at the line that could not set up. Every resource is a guard that
//! cleans up on drop, also when a test panics: namespaces ([`NetNs`]), processes ([`Httptop`],
//! servers) and temporary directories ([`TempDir`]). Declare the namespace first so that it is
//! dropped last, after the processes inside it.
//!
//! Root tests are `#[ignore = "needs root"]`, so a plain `cargo test` skips them; `cargo xtask
//! test` runs them as root with `--ignored --test-threads=1` and `HTTPTOP_BIN` set.

mod clients;
pub mod frames;
pub mod grafana;
mod httptop;
mod netns;
mod process;
mod servers;
pub mod test_run;
pub mod tmux;
mod tshark;
pub mod unprivileged;

use std::{
    fmt::Display,
    ops::Deref,
    path::{Path, PathBuf},
};

pub use clients::{
    KeepAlive, curl_get, curl_status, keep_alive_client, pipelining_client, python_client,
};
pub use httptop::{Counts, Httptop, PINNED, Summary};
pub use netns::{NetNs, Veth};
pub use process::run_to_exit;
pub use servers::{
    Location, NGINX_BODY, Nginx, NginxConfig, PythonServer, python_listener, python_script_server,
};
pub use tshark::{Truth, tshark_truth, tshark_ttlb};

pub use ::httptop::kernel::AttachMode;

/// Every attach mode (`--attach`): each exact-count test runs once in each, with the same
/// assertions.
pub const ATTACH_MODES: [AttachMode; 2] = [AttachMode::Socket, AttachMode::Tc];

/// Turns each named `fn NAME(mode: AttachMode)` into a module `NAME` of two root tests,
/// `NAME::socket` and `NAME::tc`, one per [`ATTACH_MODES`] entry.
#[macro_export]
macro_rules! in_each_attach_mode {
    ($($name:ident),* $(,)?) => {
        $(mod $name {
            #[test]
            #[ignore = "needs root"]
            fn socket() {
                super::$name($crate::AttachMode::Socket);
            }
            #[test]
            #[ignore = "needs root"]
            fn tc() {
                super::$name($crate::AttachMode::Tc);
            }
        })*
        /// The list above names every attach mode.
        const _: () = assert!($crate::ATTACH_MODES.len() == 2);
    };
}

/// The prefix of every name the tests give (namespaces, tmux sockets, directories).
const NAME_PREFIX: &str = "httptop-test";

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

/// `tests/captures`: the real captures the tests read, and their README with tshark's counts.
pub fn captures_dir() -> PathBuf {
    workspace_root().join("tests/captures")
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

/// The value of a lab call, or the test's failure at the caller's line: `doing` and the lab's
/// error.
#[track_caller]
pub fn expect_lab<T>(result: httptop_lab::Result<T>, doing: impl Display) -> T {
    result.unwrap_or_else(|error| panic!("{doing}: {error}"))
}

/// A fresh directory under the system temp dir, removed with its contents on drop.
pub struct TempDir(httptop_lab::TempDir);

impl TempDir {
    #[track_caller]
    pub fn new() -> Self {
        Self(expect_lab(
            httptop_lab::TempDir::new(NAME_PREFIX),
            "making a temp dir",
        ))
    }
}

impl Default for TempDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for TempDir {
    type Target = httptop_lab::TempDir;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
