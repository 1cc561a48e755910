//! Child processes that cannot outlive whoever started them, and the small tools to stop and
//! read them.

use std::{
    io::{BufRead as _, BufReader, Read},
    process::{Child, Command, ExitStatus, Output, Stdio},
    sync::mpsc,
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use crate::{Error, Result};

/// How long a guard waits after SIGTERM before SIGKILL.
const TERMINATE_GRACE: Duration = Duration::from_secs(2);

/// A child process stopped on drop: SIGTERM, then SIGKILL if it is still there after a grace
/// period (nginx's master takes its workers down on SIGTERM, not on SIGKILL).
pub struct ChildGuard {
    child: Child,
    what: String,
    /// With [`ChildGuard::spawn_ready`]: its stderr, line by line.
    stderr: Option<StderrLines>,
}

impl ChildGuard {
    /// Spawns `command` with stdin closed and its other streams as the command has them; `what`
    /// names it in errors.
    pub fn spawn(mut command: Command, what: &str) -> Result<Self> {
        let child = command
            .stdin(Stdio::null())
            .spawn()
            .map_err(Error::io(format!("starting {what}")))?;
        Ok(Self {
            child,
            what: what.to_owned(),
            stderr: None,
        })
    }

    /// Spawns `command` with its stderr read line by line (on a thread, so it never blocks on a
    /// full pipe) and waits until a line contains `ready`.
    pub fn spawn_ready(
        mut command: Command,
        what: &str,
        ready: &str,
        timeout: Duration,
    ) -> Result<Self> {
        command.stderr(Stdio::piped());
        let mut guard = Self::spawn(command, what)?;
        let stderr = guard.child.stderr.take().expect("stderr is piped");
        guard.stderr = Some(StderrLines::read(stderr));
        guard.wait_for_stderr(ready, timeout)?;
        Ok(guard)
    }

    pub fn what(&self) -> &str {
        &self.what
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if it has exited already.
    pub fn exited(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .map_err(Error::io(format!("checking on {}", self.what)))
    }

    /// Waits up to `timeout` for it to exit by itself; an error if it does not (the guard still
    /// stops it on drop).
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        wait_timeout(&mut self.child, timeout)
            .ok_or_else(|| Error::Failed(format!("{} still runs after {timeout:?}", self.what)))
    }

    /// Sends `signal` unless it has exited already.
    pub fn signal(&mut self, signal: libc::c_int) {
        self::signal(&mut self.child, signal);
    }

    /// Sends `signal`, then waits up to `timeout` for the exit; an error if it does not exit
    /// (the guard still stops it on drop).
    pub fn stop(&mut self, signal: libc::c_int, timeout: Duration) -> Result<ExitStatus> {
        self.signal(signal);
        wait_timeout(&mut self.child, timeout).ok_or_else(|| {
            Error::Failed(format!(
                "{} did not exit within {timeout:?} of signal {signal}",
                self.what
            ))
        })
    }

    /// Stops it with `signal` and returns everything it wrote on stdout (which the command must
    /// pipe); an error unless it exits 0.
    pub fn stop_and_read_stdout(
        &mut self,
        signal: libc::c_int,
        timeout: Duration,
    ) -> Result<String> {
        let stdout = self
            .child
            .stdout
            .take()
            .ok_or_else(|| Error::Failed(format!("{}'s stdout was not piped", self.what)))?;
        let reader = read_in_background(stdout);
        let status = self.stop(signal, timeout)?;
        let text = String::from_utf8_lossy(&reader.join().unwrap_or_default()).into_owned();
        if !status.success() {
            return Err(self.failure(format!("exited with {status}")));
        }
        Ok(text)
    }

    /// Waits up to `timeout` for a line of its stderr (see [`Self::spawn_ready`]) containing `ready`.
    pub fn wait_for_stderr(&mut self, ready: &str, timeout: Duration) -> Result<()> {
        let lines = self.stderr.as_mut().expect("stderr is read");
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.receiver.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(ready);
                    lines.seen.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(self.failure(format!("not ready within {timeout:?}")));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self
                        .child
                        .wait()
                        .map_err(Error::io("waiting for a child"))?;
                    return Err(self.failure(format!("exited ({status})")));
                }
            }
        }
    }

    /// Every line it wrote on stderr (see [`Self::spawn_ready`]), once it has exited: waits up
    /// to `timeout` for the pipe to close.
    pub fn stderr_to_end(&mut self, timeout: Duration) -> Vec<String> {
        let Some(lines) = self.stderr.as_mut() else {
            return Vec::new();
        };
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.receiver.recv_timeout(left) {
                Ok(line) => lines.seen.push(line),
                Err(_) => return lines.seen.clone(),
            }
        }
    }

    /// The pipe of its stdout, when the command piped it and nobody took it yet.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// An error saying what `happened` to it, with its last three lines on stderr when it is
    /// read.
    fn failure(&mut self, happened: String) -> Error {
        let tail = self.stderr.as_mut().map_or_else(String::new, |lines| {
            lines.seen.extend(lines.receiver.try_iter());
            let start = lines.seen.len().saturating_sub(3);
            lines.seen[start..].join(" | ")
        });
        Error::Failed(format!("{} {happened}: {tail}", self.what))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        terminate(&mut self.child, TERMINATE_GRACE);
    }
}

/// A child's stderr drained by a thread into a channel of lines.
struct StderrLines {
    receiver: mpsc::Receiver<String>,
    /// The lines received so far.
    seen: Vec<String>,
}

impl StderrLines {
    fn read(stderr: impl Read + Send + 'static) -> Self {
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            receiver,
            seen: Vec::new(),
        }
    }
}

/// The pids whose parent is `parent`, ascending.
pub fn children(parent: u32) -> Vec<u32> {
    let mut children: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // The fields after the command name (which may hold spaces) in parentheses.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(parent)
            })
        })
        .collect();
    children.sort_unstable();
    children
}

/// Sends `signal` to `child` unless it has exited already.
pub fn signal(child: &mut Child, signal: libc::c_int) {
    if matches!(child.try_wait(), Ok(None)) {
        let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
        // SAFETY: plain syscall on our own child, not yet reaped, so the pid is still ours.
        unsafe { libc::kill(pid, signal) };
    }
}

/// Waits at most `timeout` for `child` to exit.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// SIGTERM, up to `grace` to exit, then SIGKILL; always reaps.
pub fn terminate(child: &mut Child, grace: Duration) {
    signal(child, libc::SIGTERM);
    if wait_timeout(child, grace).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Reads `pipe` to its end on a thread of its own, so a child never blocks on a full pipe.
pub fn read_in_background(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// Runs `command` to its end with stdin closed and its output collected, like
/// [`Command::output`] but bounded: an error (after killing it) if it still runs after `timeout`.
pub fn run_to_exit(mut command: Command, timeout: Duration) -> Result<Output> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::io(format!("starting {command:?}")))?;
    let stdout = read_in_background(child.stdout.take().expect("stdout is piped"));
    let stderr = read_in_background(child.stderr.take().expect("stderr is piped"));
    let Some(status) = wait_timeout(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err(Error::Failed(format!(
            "{command:?} still ran after {timeout:?}"
        )));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Runs `command` to its end (bounded by `timeout`) and returns its stdout; an error unless it
/// exits 0, with what it said on stderr.
pub fn run_checked(command: Command, timeout: Duration) -> Result<String> {
    let shown = format!("{command:?}");
    let output = run_to_exit(command, timeout)?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "{shown} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Raises this process's open-file limit to its hard limit (children inherit it: nginx and many
/// client connections need thousands); returns the new limit.
pub fn raise_open_file_limit() -> Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid out-pointer to an rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(Error::io("getrlimit(RLIMIT_NOFILE)")(
            std::io::Error::last_os_error(),
        ));
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: a valid rlimit, soft limit not above the hard one.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(Error::io("setrlimit(RLIMIT_NOFILE)")(
            std::io::Error::last_os_error(),
        ));
    }
    Ok(limit.rlim_cur)
}
