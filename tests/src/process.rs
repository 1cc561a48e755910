//! Child processes that cannot outlive the test that started them.

use std::{
    io::Read,
    process::{Child, Command, ExitStatus, Output, Stdio},
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// A child process killed on drop: SIGTERM, then SIGKILL if it is still there after a grace
/// period (nginx's master takes its workers down on SIGTERM, not on SIGKILL).
pub struct ChildGuard {
    child: Child,
    what: String,
}

impl ChildGuard {
    /// Spawns `command` with stdin closed; `what` names it in panics.
    pub fn spawn(mut command: Command, what: &str) -> Self {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        Self {
            child,
            what: what.to_owned(),
        }
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    /// The exit status if it has exited already.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|e| panic!("checking on {}: {e}", self.what))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        terminate(&mut self.child, Duration::from_secs(2));
    }
}

/// Sends `signal` to `child` unless it has exited already.
pub(crate) fn signal(child: &mut Child, signal: libc::c_int) {
    if matches!(child.try_wait(), Ok(None)) {
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: plain syscall on our own child, not yet reaped, so the pid is still ours.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Waits at most `timeout` for `child` to exit.
pub(crate) fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps.
pub(crate) fn terminate(child: &mut Child, grace: Duration) {
    signal(child, libc::SIGTERM);
    if wait_timeout(child, grace).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Reads `pipe` to its end on a thread of its own, so a child never blocks on a full pipe.
pub(crate) fn read_in_background(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Runs `command` to its end with stdin closed and its output collected, like
/// [`Command::output`] but bounded: panics (after killing it) if it still runs after `timeout`.
pub fn run_to_exit(mut command: Command, timeout: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_background(child.stderr.take().expect("stderr is piped"));
    let Some(status) = wait_timeout(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("{command:?} still ran after {timeout:?}");
    };
    Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}
