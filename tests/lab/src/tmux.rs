//! A terminal to watch the dashboard in: a tmux server on a socket of its own (never the user's
//! tmux), one detached session of a fixed size running one command, driven with `send-keys` and
//! read with `capture-pane`. The server is killed on drop, and with it the command.
//!
//! The command runs under a small `sh` wrapper that writes its exit status to a file and then
//! keeps the pane alive: a dead pane would hide what the command left behind (tmux hides the
//! cursor of a dead pane), and the point is to see the terminal as the command left it.

use std::{
    ffi::OsStr,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::Mutex,
    thread,
    time::{Duration, Instant},
};

use crate::{
    Error, Result, TempDir, first_time, left_by_dead_run,
    process::{run_checked, wait_timeout},
    unique_name,
};

/// One tmux client command (start the server, send keys, capture): quick unless tmux is stuck.
const TMUX_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// How often [`Tmux::wait_for`] captures the pane.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// `sh -c` script: `$1` is the status file, the rest the command. After the command, the pane
/// lives on (in `sleep`, until the server is killed) showing the terminal as the command left it.
const WRAPPER: &str = r#"status_file=$1; shift; "$@"; echo $? > "$status_file"; exec sleep 3600"#;

/// A tmux server with one detached `width`x`height` session whose single pane runs a command.
pub struct Tmux {
    socket: String,
    /// Where the server listens; tmux leaves it behind, so drop removes it.
    socket_path: Option<PathBuf>,
    // Dropped after the server is killed (in `drop`).
    status_dir: TempDir,
}

impl Tmux {
    /// Starts a tmux server on a fresh socket (`tmux -L <socket_prefix>-<pid>-<n>`, no config
    /// file) with one session of `width`x`height` running `program ARGS` (no shell parses them).
    /// The first server started with a prefix first kills those of the prefix whose process died
    /// before its guards ran.
    pub fn start<S: AsRef<OsStr>>(
        socket_prefix: &str,
        width: u16,
        height: u16,
        program: impl AsRef<OsStr>,
        args: &[S],
    ) -> Result<Self> {
        static SWEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());
        if first_time(&SWEPT, socket_prefix) {
            kill_servers_of_dead_runs(socket_prefix);
        }
        let mut tmux = Self {
            socket: unique_name(socket_prefix),
            socket_path: None,
            status_dir: TempDir::new(socket_prefix)?,
        };
        // remain-on-exit, set in the same invocation: should the wrapper itself die, its pane
        // (and any message) stays to be captured.
        let mut command = tmux.command();
        command
            .args(["-f", "/dev/null", "start-server", ";"])
            .args(["set-option", "-g", "remain-on-exit", "on", ";"])
            .args(["new-session", "-d", "-x", &width.to_string()])
            .args(["-y", &height.to_string()])
            .args(["sh", "-c", WRAPPER, "sh"])
            .arg(tmux.status_file())
            .arg(program)
            .args(args);
        run_checked(command, TMUX_COMMAND_TIMEOUT)?;
        tmux.socket_path = Some(PathBuf::from(tmux.display("#{socket_path}")?));
        Ok(tmux)
    }

    /// The socket's name, for `tmux -L`.
    pub fn socket(&self) -> &str {
        &self.socket
    }

    /// `tmux -L <socket>`, for commands this type has no method for.
    pub fn command(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.socket]);
        command
    }

    /// Runs `tmux -L <socket> ARGS` and returns its stdout; an error unless it succeeds in time.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let mut command = self.command();
        command.args(args);
        run_checked(command, TMUX_COMMAND_TIMEOUT)
    }

    /// Sends keys by tmux name: `"q"`, `"Space"`, `"Enter"`, `"Escape"`, `"BSpace"`, `"C-c"`.
    pub fn send_keys(&self, keys: &[&str]) -> Result<()> {
        // No target: the server's only session, its only pane.
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.run(&args)?;
        Ok(())
    }

    /// Types `text` literally, one key per character (`send-keys -l`).
    pub fn type_text(&self, text: &str) -> Result<()> {
        self.run(&["send-keys", "-l", text])?;
        Ok(())
    }

    /// The pane's visible text, one line per row, trailing blanks trimmed (`capture-pane -p`).
    pub fn capture(&self) -> Result<String> {
        self.run(&["capture-pane", "-p"])
    }

    /// The pane's visible text with colours and attributes as escape sequences
    /// (`capture-pane -p -e`).
    pub fn capture_with_colours(&self) -> Result<String> {
        self.run(&["capture-pane", "-p", "-e"])
    }

    /// A tmux format expanded for the pane, e.g. `#{alternate_on}` (`display-message -p`).
    pub fn display(&self, format: &str) -> Result<String> {
        Ok(self
            .run(&["display-message", "-p", format])?
            .trim_end()
            .to_owned())
    }

    /// Whether the pane shows the alternate screen (full-screen programs draw there).
    pub fn alternate_screen_on(&self) -> Result<bool> {
        Ok(self.display("#{alternate_on}")? == "1")
    }

    fn status_file(&self) -> PathBuf {
        self.status_dir.path().join("exit-status")
    }

    /// The command's exit status once it has exited (as the shell gives it: 128 + N when signal
    /// N ended it), `None` while it runs.
    pub fn exit_status(&self) -> Option<i32> {
        let text = fs::read_to_string(self.status_file()).ok()?;
        // Written with echo: complete once it ends in a newline.
        text.strip_suffix('\n')?.parse().ok()
    }

    /// Resizes the session's window to `width`x`height`; the command sees SIGWINCH.
    pub fn resize(&self, width: u16, height: u16) -> Result<()> {
        let (width, height) = (width.to_string(), height.to_string());
        self.run(&["resize-window", "-x", &width, "-y", &height])?;
        Ok(())
    }

    /// Captures the pane every 100 ms until `done(screen)` holds and returns that screen; an
    /// error after `timeout`, saying what was awaited and showing the last screen.
    pub fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut done: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.capture()?;
            if done(&screen) {
                return Ok(screen);
            }
            if Instant::now() >= deadline {
                return Err(Error::Failed(format!(
                    "waited {timeout:?} for {what}; the screen:\n{screen}"
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Waits at most `timeout` for the command to exit and returns its exit status; an error,
    /// with the screen, if it still runs.
    pub fn wait_for_exit(&self, timeout: Duration) -> Result<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exit_status() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(Error::Failed(format!(
                    "the command in tmux still runs after {timeout:?}; the screen:\n{}",
                    self.capture()?
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        kill_server(&self.socket);
        if let Some(path) = &self.socket_path {
            let _ = fs::remove_file(path);
        }
    }
}

/// Best effort (this runs in Drop, possibly while a test panics): tmux sends SIGHUP to the
/// pane's process as the server goes.
fn kill_server(socket: &str) {
    let spawned = Command::new("tmux")
        .args(["-L", socket, "kill-server"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    if let Ok(mut child) = spawned
        && wait_timeout(&mut child, TMUX_COMMAND_TIMEOUT).is_none()
    {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// tmux servers left by an earlier process that was killed before its guards ran: their
/// sockets are in `$TMUX_TMPDIR` (default `/tmp`) `/tmux-<uid>/<prefix>-<pid>-<n>`.
fn kill_servers_of_dead_runs(prefix: &str) {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let base = std::env::var_os("TMUX_TMPDIR").unwrap_or_else(|| "/tmp".into());
    let Ok(entries) = fs::read_dir(Path::new(&base).join(format!("tmux-{uid}"))) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if left_by_dead_run(&name, prefix) {
            kill_server(&name);
            let _ = fs::remove_file(entry.path());
        }
    }
}
