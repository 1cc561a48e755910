//! A terminal for the dashboard tests: the lab's tmux driver (a tmux server on a socket of its
//! own, one detached session of a fixed size running one command), failing the test when tmux
//! does.

use std::{ffi::OsStr, ops::Deref, time::Duration};

use crate::{NAME_PREFIX, expect_lab, require_root};

/// A tmux server with one detached `width`x`height` session whose single pane runs a command;
/// see [`httptop_lab::Tmux`]. Killed on drop, and with it the command.
pub struct Tmux(httptop_lab::Tmux);

impl Tmux {
    /// Starts a tmux server on a fresh socket (`tmux -L httptop-test-<pid>-<n>`, no config file)
    /// with one session of `width`x`height` running `program ARGS` (no shell parses them).
    #[track_caller]
    pub fn start<S: AsRef<OsStr>>(
        width: u16,
        height: u16,
        program: impl AsRef<OsStr>,
        args: &[S],
    ) -> Self {
        require_root();
        Self(expect_lab(
            httptop_lab::Tmux::start(NAME_PREFIX, width, height, program, args),
            "starting tmux",
        ))
    }

    /// Runs `tmux -L <socket> ARGS` and returns its stdout; panics unless it succeeds in time.
    #[track_caller]
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        expect_lab(self.0.run(args), "running tmux")
    }

    /// Sends keys by tmux name: `"q"`, `"Space"`, `"Enter"`, `"Escape"`, `"BSpace"`, `"C-c"`.
    #[track_caller]
    pub fn send_keys(&self, keys: &[&str]) {
        expect_lab(
            self.0.send_keys(keys),
            format_args!("sending keys {keys:?}"),
        );
    }

    /// Types `text` literally, one key per character (`send-keys -l`).
    #[track_caller]
    pub fn type_text(&self, text: &str) {
        expect_lab(self.0.type_text(text), format_args!("typing {text:?}"));
    }

    /// The pane's visible text, one line per row, trailing blanks trimmed (`capture-pane -p`).
    #[track_caller]
    pub fn capture(&self) -> String {
        expect_lab(self.0.capture(), "capturing the pane")
    }

    /// The pane's visible text with colours and attributes as escape sequences.
    #[track_caller]
    pub fn capture_with_colours(&self) -> String {
        expect_lab(self.0.capture_with_colours(), "capturing the pane")
    }

    /// A tmux format expanded for the pane, e.g. `#{alternate_on}` (`display-message -p`).
    #[track_caller]
    pub fn display(&self, format: &str) -> String {
        expect_lab(self.0.display(format), format_args!("expanding {format}"))
    }

    /// Whether the pane shows the alternate screen (full-screen programs draw there).
    #[track_caller]
    pub fn alternate_screen_on(&self) -> bool {
        expect_lab(self.0.alternate_screen_on(), "asking tmux for the screen")
    }

    /// Resizes the session's window to `width`x`height`; the command sees SIGWINCH.
    #[track_caller]
    pub fn resize(&self, width: u16, height: u16) {
        expect_lab(self.0.resize(width, height), "resizing the window");
    }

    /// Captures the pane every 100 ms until `done(screen)` holds and returns that screen; panics
    /// after `timeout`, saying what was awaited and showing the last screen.
    #[track_caller]
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        done: impl FnMut(&str) -> bool,
    ) -> String {
        expect_lab(self.0.wait_for(what, timeout, done), "on the dashboard")
    }

    /// Waits at most `timeout` for the command to exit and returns its exit status; panics with
    /// the screen if it still runs.
    #[track_caller]
    pub fn wait_for_exit(&self, timeout: Duration) -> i32 {
        expect_lab(self.0.wait_for_exit(timeout), "waiting for the command")
    }
}

impl Deref for Tmux {
    type Target = httptop_lab::Tmux;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

/// The dashboard's refresh period in the tests (the default is 1 s).
pub const DASHBOARD_REFRESH: &str = "200ms";

/// The dashboard (`ip netns exec NS httptop --interval 200ms ARGS`) in a `width`x`height` pane.
#[track_caller]
pub fn dashboard(ns: &crate::NetNs, width: u16, height: u16, args: &[&std::ffi::OsStr]) -> Tmux {
    let mut command: Vec<&OsStr> = vec![
        OsStr::new("netns"),
        OsStr::new("exec"),
        OsStr::new(ns.name()),
    ];
    let binary = crate::httptop_binary();
    command.push(binary.as_os_str());
    command.extend([OsStr::new("--interval"), OsStr::new(DASHBOARD_REFRESH)]);
    command.extend_from_slice(args);
    Tmux::start(width, height, "ip", &command)
}
