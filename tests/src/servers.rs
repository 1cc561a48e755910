//! Real HTTP servers started inside a namespace: nginx, python3's `http.server`, and a delay
//! server answering after a known fixed delay.

use std::{
    fmt::Write as _,
    fs,
    net::{SocketAddr, TcpStream},
    path::Path,
    time::{Duration, Instant},
};

use crate::{ChildGuard, NetNs, TempDir};

/// The body every nginx location returns.
pub const NGINX_BODY: &str = "hello from nginx\n";
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// nginx with a generated config in a temp dir: one worker, in the foreground, logs and pid file
/// in the temp dir, `return 200` with a small static body on every address given.
pub struct Nginx {
    // Field order is drop order: the process goes before its directory.
    _process: ChildGuard,
    dir: TempDir,
}

impl Nginx {
    pub fn start(ns: &NetNs, listen: &[SocketAddr]) -> Self {
        let dir = TempDir::new();
        let root = dir.path().display();
        let mut listens = String::new();
        for addr in listen {
            writeln!(listens, "        listen {addr};").expect("writing to a String");
        }
        let config = format!(
            r#"worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type text/plain;
    server {{
{listens}        location / {{ return 200 "{body}"; }}
    }}
}}
"#,
            body = NGINX_BODY.escape_default(),
        );
        let config_path = dir.path().join("nginx.conf");
        fs::write(&config_path, config).expect("writing nginx.conf");
        let mut command = ns.command("nginx");
        command
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&config_path);
        let mut process = ChildGuard::spawn(command, "nginx");
        for addr in listen {
            wait_for_port(ns, *addr, &mut process, &dir.path().join("error.log"));
        }
        Self {
            _process: process,
            dir,
        }
    }

    /// Requests nginx logged, one line each: the server's own count.
    pub fn access_log_requests(&self) -> usize {
        fs::read_to_string(self.dir.path().join("access.log"))
            .map(|log| log.lines().count())
            .unwrap_or(0)
    }
}

/// A python3 server script in a temp dir: `http.server` (HTTP/1.0, one connection per
/// request) or the delay server (`tests/fixtures/delay_server.py`, HTTP/1.1 keep-alive).
pub struct PythonServer {
    _process: ChildGuard,
    _dir: TempDir,
}

impl PythonServer {
    /// The body `http.server` returns for `/index.html`.
    pub const INDEX_BODY: &str = "hello from python http.server\n";

    /// `python3 -m http.server` serving `/index.html` on `addr`.
    pub fn http_server(ns: &NetNs, addr: SocketAddr) -> Self {
        let dir = TempDir::new();
        fs::write(dir.path().join("index.html"), Self::INDEX_BODY).expect("writing index.html");
        let mut command = ns.command("python3");
        command
            .args(["-m", "http.server", &addr.port().to_string(), "--bind"])
            .arg(addr.ip().to_string())
            .arg("--directory")
            .arg(dir.path());
        Self::start(ns, command, "python3 -m http.server", addr, dir)
    }

    /// The delay server: answers every GET with 200 exactly `delay` after the request arrived.
    pub fn delay(ns: &NetNs, addr: SocketAddr, delay: Duration) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/delay_server.py");
        let mut command = ns.command("python3");
        command
            .arg(script)
            .args(["--bind", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .args(["--delay-ms", &delay.as_millis().to_string()]);
        Self::start(ns, command, "delay_server.py", addr, TempDir::new())
    }

    fn start(
        ns: &NetNs,
        mut command: std::process::Command,
        what: &str,
        addr: SocketAddr,
        dir: TempDir,
    ) -> Self {
        let log = dir.path().join("server.log");
        let log_file = fs::File::create(&log).expect("creating server.log");
        command
            .stdout(log_file.try_clone().expect("cloning a file handle"))
            .stderr(log_file);
        let mut process = ChildGuard::spawn(command, what);
        wait_for_port(ns, addr, &mut process, &log);
        Self {
            _process: process,
            _dir: dir,
        }
    }
}

/// Waits until `addr` accepts TCP connections inside `ns` (a plain connect, no HTTP, so httptop
/// counts nothing), failing early with `log`'s text if `server` exits first.
pub fn wait_for_port(ns: &NetNs, addr: SocketAddr, server: &mut ChildGuard, log: &Path) {
    let what = server.what().to_owned();
    let ready = ns.run(|| {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = server.exited() {
                return Err(format!(
                    "{what} exited ({status}) before listening on {addr}"
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(format!(
            "{what} is not listening on {addr} after {READY_TIMEOUT:?}"
        ))
    });
    if let Err(message) = ready {
        let log = fs::read_to_string(log).unwrap_or_default();
        panic!("{message}; its log:\n{log}");
    }
}
