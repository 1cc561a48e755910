//! The bench's own network namespace and child processes, each a guard that cleans up on drop
//! (also on error or panic): the namespace's processes are killed and the namespace deleted;
//! a child still running is killed and reaped.

use std::{
    fs::File,
    io::{BufRead as _, BufReader, Read as _},
    os::fd::AsRawFd as _,
    process::{Child, ChildStdout, Command, ExitStatus, Stdio},
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use netns_cleanup::{delete_namespace, remove_namespaces_of_dead_runs};

const NAME_PREFIX: &str = "httptop-bench";

/// A network namespace `httptop-bench-<pid>` with `lo` up.
pub struct Namespace {
    name: String,
}

impl Namespace {
    pub fn create() -> Result<Self> {
        remove_namespaces_of_dead_runs(NAME_PREFIX);
        let name = format!("{NAME_PREFIX}-{}", std::process::id());
        run_ip(&["netns", "add", &name])?;
        let namespace = Self { name };
        run_ip(&["-n", &namespace.name, "link", "set", "lo", "up"])?;
        Ok(namespace)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `program` run inside this namespace (`ip netns exec` execs it: the child's pid is the
    /// program's).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name]).arg(program);
        command
    }

    /// Moves the calling thread into this namespace, so the sockets it (and the threads it
    /// spawns) opens live here.
    pub fn enter_this_thread(&self) -> Result<()> {
        let handle = File::open(format!("/run/netns/{}", self.name))
            .with_context(|| format!("opening network namespace {}", self.name))?;
        // SAFETY: a valid namespace fd; a network namespace switch affects only this thread.
        if unsafe { libc::setns(handle.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("entering network namespace {}", self.name));
        }
        Ok(())
    }

    /// Runs `task` on a thread inside this namespace and returns its result.
    pub fn run<T: Send>(&self, task: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter_this_thread()?;
                    task()
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        delete_namespace(&self.name);
    }
}

fn run_ip(args: &[&str]) -> Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("running ip (iproute2)")?;
    if !output.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// A child process, killed and reaped on drop unless it was stopped. Its stderr is drained
/// by a thread into a channel of lines (so it never blocks on a full pipe).
pub struct Process {
    child: Child,
    what: String,
    stderr_lines: mpsc::Receiver<String>,
    stderr_seen: Vec<String>,
}

impl Process {
    pub fn spawn(mut command: Command, what: &str) -> Result<Self> {
        command.stdin(Stdio::null()).stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("could not start {what}"))?;
        let stderr = child.stderr.take().context("child stderr")?;
        let (sender, stderr_lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self {
            child,
            what: what.to_owned(),
            stderr_lines,
            stderr_seen: Vec::new(),
        })
    }

    /// Spawns `command` and waits until a line of its stderr contains `ready`.
    pub fn spawn_ready(
        command: Command,
        what: &str,
        ready: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let mut process = Self::spawn(command, what)?;
        process.wait_for_stderr(ready, timeout)?;
        Ok(process)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    fn wait_for_stderr(&mut self, ready: &str, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr_lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(ready);
                    self.stderr_seen.push(line);
                    if found {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let tail = self.stderr_tail();
                    bail!("{} not ready within {timeout:?}: {tail}", self.what)
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait()?;
                    let tail = self.stderr_tail();
                    bail!("{} exited ({status}): {tail}", self.what)
                }
            }
        }
    }

    fn stderr_tail(&mut self) -> String {
        self.stderr_seen.extend(self.stderr_lines.try_iter());
        let start = self.stderr_seen.len().saturating_sub(3);
        self.stderr_seen[start..].join(" | ")
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain syscall on our own child, not yet reaped (we hold the Child).
        unsafe { libc::kill(pid, signal) };
    }

    /// Sends `signal`, then waits up to `timeout` for the exit; an error if it does not exit
    /// (it is killed on drop).
    pub fn stop(&mut self, signal: libc::c_int, timeout: Duration) -> Result<ExitStatus> {
        self.signal(signal);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{} did not exit within {timeout:?} of a signal", self.what);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops it with `signal` and returns everything it wrote on stdout (spawned with
    /// `Stdio::piped()` stdout); an error unless it exits 0.
    pub fn stop_and_read_stdout(
        &mut self,
        signal: libc::c_int,
        timeout: Duration,
    ) -> Result<String> {
        let mut stdout = self.take_stdout().context("stdout was not piped")?;
        let reader = thread::spawn(move || {
            let mut text = String::new();
            stdout.read_to_string(&mut text).map(|_| text)
        });
        let status = self.stop(signal, timeout)?;
        let text = reader
            .join()
            .map_err(|_| anyhow::anyhow!("stdout reader panicked"))??;
        if !status.success() {
            let tail = self.stderr_tail();
            bail!("{} exited with {status}: {tail}", self.what);
        }
        Ok(text)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
