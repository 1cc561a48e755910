//! The observers compared: httptop (headless, or its dashboard in a tmux pseudo-terminal),
//! tcpdump and tshark, each started inside the bench namespace and stopped like a user would.

use std::{
    ffi::OsStr,
    fs,
    path::Path,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};
use httptop_lab::{ChildGuard, NetNs, Tmux};
use serde_json::Value;

use super::report::CommandLog;

const START_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// `httptop --headless --json` with its summary read at the end.
pub struct Headless {
    process: ChildGuard,
}

/// The parts of httptop's headless summary the bench reports.
pub struct Summary {
    pub exchanges: u64,
    pub events_lost: u64,
    pub expired_requests: u64,
    /// httptop's TTFB percentiles; `None` when it saw no exchange (the control filters).
    pub p50_ns: Option<u64>,
    pub p99_ns: Option<u64>,
}

impl Headless {
    pub fn start(
        namespace: &NetNs,
        binary: &Path,
        log_file: &Path,
        extra: &[&str],
        commands: &CommandLog,
    ) -> Result<Self> {
        let mut command = namespace.command(binary);
        command
            .args(["--headless", "--json", "--log-file"])
            .arg(log_file)
            .args(extra)
            .stdout(Stdio::piped());
        commands.record(&command);
        let process =
            ChildGuard::spawn_ready(command, "httptop", "httptop: attached", START_TIMEOUT)?;
        Ok(Self { process })
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops it with SIGINT (as Ctrl-C would) and reads its summary.
    pub fn finish(mut self) -> Result<Summary> {
        let text = self
            .process
            .stop_and_read_stdout(libc::SIGINT, STOP_TIMEOUT)?;
        let json: Value = serde_json::from_str(text.trim())
            .with_context(|| format!("httptop's summary is not JSON: {text}"))?;
        let count = |key: &str| -> Result<u64> {
            json[key]
                .as_u64()
                .with_context(|| format!("no `{key}` in httptop's summary"))
        };
        Ok(Summary {
            exchanges: count("exchanges")?,
            events_lost: count("events_lost")?,
            expired_requests: count("expired_requests")?,
            p50_ns: json["latency_ns"]["p50"].as_u64(),
            p99_ns: json["latency_ns"]["p99"].as_u64(),
        })
    }
}

/// httptop's dashboard in a tmux server of its own, `DASHBOARD_WIDTH`x`DASHBOARD_HEIGHT`;
/// stopped on drop with the tmux server.
pub struct Dashboard {
    /// Taken in drop, to kill the server before waiting for httptop to go.
    tmux: Option<Tmux>,
    pid: u32,
}

const DASHBOARD_WIDTH: u16 = 200;
const DASHBOARD_HEIGHT: u16 = 50;
/// The bench's tmux sockets: `httptop-bench-tmux-<pid>-<n>`.
const TMUX_SOCKET_PREFIX: &str = "httptop-bench-tmux";

impl Dashboard {
    pub fn start(
        namespace: &NetNs,
        binary: &Path,
        log_file: &Path,
        commands: &CommandLog,
    ) -> Result<Self> {
        let args: [&OsStr; 6] = [
            "netns".as_ref(),
            "exec".as_ref(),
            namespace.name().as_ref(),
            binary.as_os_str(),
            "--log-file".as_ref(),
            log_file.as_os_str(),
        ];
        commands.record_line(format!(
            "tmux -L <a socket of its own> -f /dev/null new-session -d -x {DASHBOARD_WIDTH} -y \
             {DASHBOARD_HEIGHT} ip netns exec {} {} --log-file {}",
            namespace.name(),
            binary.display(),
            log_file.display()
        ));
        // The log is appended to run after run: only this run's lines tell that it attached
        // (an earlier run's would start the measurement while the programs still load).
        let earlier = fs::metadata(log_file).map_or(0, |m| m.len() as usize);
        let tmux = Tmux::start(
            TMUX_SOCKET_PREFIX,
            DASHBOARD_WIDTH,
            DASHBOARD_HEIGHT,
            "ip",
            &args,
        )?;
        let mut dashboard = Self {
            tmux: Some(tmux),
            pid: 0,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        let log_path = log_file.display().to_string();
        loop {
            let attached = fs::read(log_file).is_ok_and(|log| {
                let said = b"attached to";
                log.get(earlier..)
                    .is_some_and(|new| new.windows(said.len()).any(|w| w == said))
            });
            if attached && let Some(pid) = find_process_with_argument(&log_path) {
                dashboard.pid = pid;
                return Ok(dashboard);
            }
            if Instant::now() >= deadline {
                bail!(
                    "httptop's dashboard did not attach within {START_TIMEOUT:?} (see {log_path})"
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The screen as tmux shows it (to check that the dashboard really draws).
    pub fn screen(&self) -> Result<String> {
        let tmux = self.tmux.as_ref().context("the dashboard's tmux is gone")?;
        Ok(tmux.capture()?)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        drop(self.tmux.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while self.pid != 0 && Path::new(&format!("/proc/{}", self.pid)).exists() {
            if Instant::now() >= deadline {
                // SAFETY: plain syscall; the pid is the dashboard's, found by its unique log path.
                unsafe { libc::kill(self.pid as libc::pid_t, libc::SIGKILL) };
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The process whose command line holds `argument` (a path unique to this bench run).
fn find_process_with_argument(argument: &str) -> Option<u32> {
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
        let mut parts = cmdline.split(|&byte| byte == 0);
        let is_httptop = parts
            .next()
            .is_some_and(|program| program.ends_with(b"httptop"));
        (is_httptop && parts.any(|part| part == argument.as_bytes())).then_some(pid)
    })
}

/// A packet capture to a file (or /dev/null), by tcpdump or tshark, on the namespace's `lo`.
pub struct Capture {
    process: ChildGuard,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CaptureTool {
    Tcpdump,
    Tshark,
}

impl CaptureTool {
    pub fn name(self) -> &'static str {
        match self {
            Self::Tcpdump => "tcpdump",
            Self::Tshark => "tshark",
        }
    }
}

impl Capture {
    /// Captures what `filter` (a capture filter; empty: everything) lets through into `file`.
    pub fn start(
        namespace: &NetNs,
        tool: CaptureTool,
        file: &Path,
        filter: &[&str],
        commands: &CommandLog,
    ) -> Result<Self> {
        let mut command = namespace.command(tool.name());
        command
            .args(["-i", "lo", "-w"])
            .arg(file)
            .args(filter)
            .stdout(Stdio::null());
        let ready = match tool {
            CaptureTool::Tcpdump => "listening on",
            CaptureTool::Tshark => "Capture started",
        };
        commands.record(&command);
        let process = ChildGuard::spawn_ready(command, tool.name(), ready, START_TIMEOUT)?;
        Ok(Self { process })
    }

    pub fn stop(mut self) -> Result<()> {
        self.process.stop(libc::SIGINT, STOP_TIMEOUT)?;
        Ok(())
    }
}

/// tshark's `http.time` of every response in `capture`, ending at the status line's segment.
pub fn tshark_http_times(capture: &Path, commands: &CommandLog) -> Result<Vec<Duration>> {
    let mut command = Command::new("tshark");
    command
        .arg("-r")
        .arg(capture)
        .args(["-o", "tcp.desegment_tcp_streams:FALSE", "-Y", "http.time"])
        .args(["-T", "fields", "-e", "http.time"]);
    commands.record(&command);
    let output = command.output().context("could not start tshark")?;
    if !output.status.success() {
        bail!(
            "tshark -r failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.trim()
                .parse::<f64>()
                .map(Duration::from_secs_f64)
                .with_context(|| format!("tshark printed `{line}` for http.time"))
        })
        .collect()
}

/// The release httptop's frame render time with 10,000 rows (its hidden `--bench-render`).
pub fn render_time(binary: &Path, frames: u32, commands: &CommandLog) -> Result<Duration> {
    let mut command = Command::new(binary);
    command.args(["--bench-render", &frames.to_string()]);
    commands.record(&command);
    let output = command
        .output()
        .context("could not start httptop --bench-render")?;
    if !output.status.success() {
        bail!(
            "httptop --bench-render failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let nanos: u64 = text
        .trim()
        .parse()
        .with_context(|| format!("httptop --bench-render printed `{}`", text.trim()))?;
    Ok(Duration::from_nanos(nanos))
}
