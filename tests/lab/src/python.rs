//! python3 servers inside a namespace: `http.server` (HTTP/1.0, one connection per request)
//! and the delay server (`tests/fixtures/delay_server.py`, HTTP/1.1 keep-alive, answering after
//! a known fixed delay).

use std::{fs, net::SocketAddr, path::Path, process::Command, time::Duration};

use crate::{ChildGuard, Error, NetNs, Result, TempDir, wait_for_port};

const READY_TIMEOUT: Duration = Duration::from_secs(10);
const DIR_PREFIX: &str = "httptop-lab-python";

/// A python3 server with its files (and log) in a temp dir; stopped on drop.
pub struct PythonServer {
    // Field order is drop order: the process goes before its directory.
    process: ChildGuard,
    _dir: TempDir,
}

impl PythonServer {
    /// The server's pid (`ip netns exec` execs python3).
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The body `http.server` returns for `/index.html`.
    pub const INDEX_BODY: &str = "hello from python http.server\n";

    /// `python3 -m http.server` serving `/index.html` on `addr`.
    pub fn http_server(ns: &NetNs, addr: SocketAddr) -> Result<Self> {
        let dir = TempDir::new(DIR_PREFIX)?;
        fs::write(dir.path().join("index.html"), Self::INDEX_BODY)
            .map_err(Error::io("writing index.html"))?;
        let mut command = ns.command("python3");
        command
            .args(["-m", "http.server", &addr.port().to_string(), "--bind"])
            .arg(addr.ip().to_string())
            .arg("--directory")
            .arg(dir.path());
        Self::start(ns, command, "python3 -m http.server", addr, dir)
    }

    /// The delay server: answers every GET with 200 exactly `delay` after the request arrived.
    pub fn delay(ns: &NetNs, addr: SocketAddr, delay: Duration) -> Result<Self> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/delay_server.py");
        let mut command = ns.command("python3");
        command
            .arg(script)
            .args(["--bind", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args(["--delay-ms", &delay.as_millis().to_string()]);
        Self::start(
            ns,
            command,
            "delay_server.py",
            addr,
            TempDir::new(DIR_PREFIX)?,
        )
    }

    fn start(
        ns: &NetNs,
        mut command: Command,
        what: &str,
        addr: SocketAddr,
        dir: TempDir,
    ) -> Result<Self> {
        let log = dir.path().join("server.log");
        let log_file = fs::File::create(&log).map_err(Error::io("creating server.log"))?;
        let log_copy = log_file
            .try_clone()
            .map_err(Error::io("cloning a file handle"))?;
        command.stdout(log_copy).stderr(log_file);
        let mut process = ChildGuard::spawn(command, what)?;
        wait_for_port(ns, addr, &mut process, &log, READY_TIMEOUT)?;
        Ok(Self { process, _dir: dir })
    }
}
