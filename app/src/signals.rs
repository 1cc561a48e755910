//! The signals that stop a live run, in one place: the dashboard and the headless run both end
//! on any of them, so the terminal is restored and the filter detached on the way out.
//!
//! SIGKILL cannot be caught: then the kernel closes httptop's sockets, which detaches the
//! filter, and the terminal keeps whatever state it was left in (`reset` restores it).

use anyhow::Context as _;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// Handlers for every signal that stops a run, installed at once, before the terminal is
/// touched: SIGINT (`kill -INT`; in the dashboard's raw mode Ctrl-C is a key, not a signal),
/// SIGTERM, SIGHUP (the terminal closing) and SIGQUIT.
pub struct StopSignals {
    int: Signal,
    term: Signal,
    hup: Signal,
    quit: Signal,
}

impl StopSignals {
    pub fn install() -> anyhow::Result<Self> {
        let install = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("installing the {name} handler"))
        };
        Ok(Self {
            int: install(SignalKind::interrupt(), "SIGINT")?,
            term: install(SignalKind::terminate(), "SIGTERM")?,
            hup: install(SignalKind::hangup(), "SIGHUP")?,
            quit: install(SignalKind::quit(), "SIGQUIT")?,
        })
    }

    /// Returns when any of the signals arrives.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
            _ = self.quit.recv() => {}
        }
    }
}
