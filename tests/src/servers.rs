//! Real HTTP servers started inside a namespace, from the lab: nginx, python3's `http.server`,
//! and a delay server answering after a known fixed delay.

use std::{net::SocketAddr, time::Duration};

pub use httptop_lab::{Location, NGINX_BODY, NginxConfig};

use crate::{NetNs, TempDir, expect_lab};

/// nginx with the lab's generated config in a temp dir (one worker, `return 200` with
/// [`NGINX_BODY`] on every address given, every request logged).
pub struct Nginx {
    // Field order is drop order: the process goes before its directory.
    nginx: httptop_lab::Nginx,
    _dir: TempDir,
}

impl Nginx {
    #[track_caller]
    pub fn start(ns: &NetNs, listen: &[SocketAddr]) -> Self {
        Self::start_config(ns, &NginxConfig::new(listen))
    }

    /// nginx with `config` (its locations, keep-alive limits) in a temp dir.
    #[track_caller]
    pub fn start_config(ns: &NetNs, config: &NginxConfig) -> Self {
        let dir = TempDir::new();
        let nginx = expect_lab(
            httptop_lab::Nginx::start(ns, dir.path(), config),
            format_args!("starting nginx on {:?}", config.listen),
        );
        Self { nginx, _dir: dir }
    }

    pub fn master_pid(&self) -> u32 {
        self.nginx.master_pid()
    }

    /// Its workers' pids (the lab's config has one).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.nginx.worker_pids()
    }

    /// Requests nginx logged, one line each: the server's own count (0 without a log yet).
    pub fn access_log_requests(&self) -> usize {
        self.nginx
            .logged_requests()
            .map_or(0, |lines| usize::try_from(lines).unwrap_or(usize::MAX))
    }
}

/// A python3 server script: `http.server` (HTTP/1.0, one connection per request) or the delay
/// server (`tests/fixtures/delay_server.py`, HTTP/1.1 keep-alive).
pub struct PythonServer {
    server: httptop_lab::PythonServer,
}

impl PythonServer {
    /// The body `http.server` returns for `/index.html`.
    pub const INDEX_BODY: &str = httptop_lab::PythonServer::INDEX_BODY;

    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// `python3 -m http.server` serving `/index.html` on `addr`.
    #[track_caller]
    pub fn http_server(ns: &NetNs, addr: SocketAddr) -> Self {
        Self {
            server: expect_lab(
                httptop_lab::PythonServer::http_server(ns, addr),
                format_args!("starting python3 -m http.server on {addr}"),
            ),
        }
    }

    /// The delay server: answers every GET with 200 exactly `delay` after the request arrived.
    #[track_caller]
    pub fn delay(ns: &NetNs, addr: SocketAddr, delay: Duration) -> Self {
        Self {
            server: expect_lab(
                httptop_lab::PythonServer::delay(ns, addr, delay),
                format_args!("starting the delay server on {addr}"),
            ),
        }
    }
}

/// What a python server script starts with to be given to [`python_listener`]: the imports it
/// may need, `s` listening on the address of its two arguments (host, port), and `ready` said.
const PYTHON_LISTENING: &str = r#"
import socket, sys, threading, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)

def read_head(c, data=b""):
    # Reads from c until a head's empty line is in `data`: all read so far, None at a close.
    while b"\r\n\r\n" not in data:
        chunk = c.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data

print("ready", file=sys.stderr, flush=True)
"#;

/// A python3 server whose script, `serve`, goes on from a socket `s` already listening on
/// `addr` ([`PYTHON_LISTENING`]); stopped on drop.
#[track_caller]
pub fn python_listener(
    ns: &NetNs,
    serve: &str,
    addr: SocketAddr,
    what: &str,
) -> httptop_lab::ChildGuard {
    python_script_server(
        ns,
        "python3",
        &format!("{PYTHON_LISTENING}{serve}"),
        addr,
        what,
    )
}

/// A server written as a python script, run by `python` inside `ns` with the address to listen
/// on as its two arguments (host, port); started once it says `ready` on stderr, stopped on drop.
#[track_caller]
pub fn python_script_server(
    ns: &NetNs,
    python: &str,
    script: &str,
    addr: SocketAddr,
    what: &str,
) -> httptop_lab::ChildGuard {
    let mut command = ns.command(python);
    command
        .args(["-c", script, &addr.ip().to_string()])
        .arg(addr.port().to_string())
        .stdout(std::process::Stdio::null());
    expect_lab(
        httptop_lab::ChildGuard::spawn_ready(command, what, "ready", Duration::from_secs(10)),
        format_args!("starting {what} on {addr}"),
    )
}
