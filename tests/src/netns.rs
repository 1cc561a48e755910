//! The lab's network namespaces and veth pairs, failing the test when they cannot be made.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    ops::Deref,
};

use crate::{NAME_PREFIX, expect_lab, require_root};

/// A network namespace `httptop-test-<pid>-<n>` with `lo` up; on drop, every process still in
/// it is killed and the namespace is deleted.
pub struct NetNs(httptop_lab::NetNs);

impl NetNs {
    #[track_caller]
    pub fn new() -> Self {
        require_root();
        Self(expect_lab(
            httptop_lab::NetNs::new(NAME_PREFIX),
            "making a network namespace",
        ))
    }

    /// `ip ARGS` inside this namespace; panics when it fails.
    #[track_caller]
    pub fn ip(&self, args: &[&str]) {
        expect_lab(
            self.0.ip(args),
            format_args!("in namespace {}", self.name()),
        );
    }

    /// Runs `task` on a thread that has entered this namespace, so the sockets it opens live
    /// here; a panic inside `task` is the caller's panic.
    #[track_caller]
    pub fn run<T: Send>(&self, task: impl FnOnce() -> T + Send) -> T {
        expect_lab(self.0.run(task), "running in a network namespace")
    }
}

impl Default for NetNs {
    fn default() -> Self {
        Self::new()
    }
}

impl Deref for NetNs {
    type Target = httptop_lab::NetNs;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// A veth pair between a server namespace and a client namespace (see [`httptop_lab::Veth`]).
pub struct Veth(httptop_lab::Veth);

impl Veth {
    pub const SERVER_V4: Ipv4Addr = httptop_lab::Veth::SERVER_V4;
    pub const CLIENT_V4: Ipv4Addr = httptop_lab::Veth::CLIENT_V4;
    pub const SERVER_V6: Ipv6Addr = httptop_lab::Veth::SERVER_V6;
    pub const CLIENT_V6: Ipv6Addr = httptop_lab::Veth::CLIENT_V6;

    #[track_caller]
    pub fn connect(server: &NetNs, client: &NetNs) -> Self {
        Self(expect_lab(
            httptop_lab::Veth::connect(server, client),
            "connecting two namespaces with a veth pair",
        ))
    }
}

impl Deref for Veth {
    type Target = httptop_lab::Veth;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}
