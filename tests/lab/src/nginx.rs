//! nginx inside a namespace, with a config generated from [`NginxConfig`]: one worker in the
//! foreground, its pid file, logs and temp paths in a directory of the caller's, `return` with a
//! fixed status and body at every location.

use std::{
    fmt::Write as _,
    fs,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use crate::{ChildGuard, Error, NetNs, Result, wait_for_port};

/// The body nginx returns at `/` unless told otherwise.
pub const NGINX_BODY: &str = "hello from nginx\n";
const READY_TIMEOUT: Duration = Duration::from_secs(10);

/// What the generated nginx.conf says; [`NginxConfig::new`] gives the defaults, the fields the
/// rest.
pub struct NginxConfig {
    pub listen: Vec<SocketAddr>,
    /// `listen ... backlog=N` on every address.
    pub backlog: Option<u32>,
    pub worker_connections: u64,
    /// `worker_rlimit_nofile`: the file-descriptor limit the worker may raise itself to.
    pub open_files: Option<u64>,
    /// `error_log`'s level, e.g. `info`, `warn`, `error`.
    pub error_log_level: &'static str,
    /// Every request logged to `access.log` at once (no buffer), so the log is the server's own
    /// count; else `access_log off`.
    pub access_log: bool,
    pub keepalive_requests: u64,
    pub keepalive_timeout: Option<Duration>,
    pub locations: Vec<Location>,
    /// `location PATH { alias DIR/; }`: files served from a directory.
    pub files: Option<(&'static str, PathBuf)>,
    /// `gzip on` for every type and size: answers to clients that accept gzip are compressed
    /// as they are sent, so their length is unknown up front and HTTP/1.1 ones are chunked.
    pub gzip: bool,
}

/// `location PATH { return STATUS "BODY"; }`
pub struct Location {
    pub path: &'static str,
    pub status: u16,
    pub body: &'static str,
}

impl NginxConfig {
    /// `return 200` with [`NGINX_BODY`] at `/` on every address of `listen`, every request
    /// logged, keep-alive for 100,000 requests or 60 s idle, 1024 connections.
    pub fn new(listen: &[SocketAddr]) -> Self {
        Self {
            listen: listen.to_vec(),
            backlog: None,
            worker_connections: 1024,
            open_files: None,
            error_log_level: "info",
            access_log: true,
            keepalive_requests: 100_000,
            keepalive_timeout: Some(Duration::from_secs(60)),
            locations: vec![Location {
                path: "/",
                status: 200,
                body: NGINX_BODY,
            }],
            files: None,
            gzip: false,
        }
    }

    /// The nginx.conf text, with every file under `dir`.
    pub fn text(&self, dir: &Path) -> String {
        let root = dir.display();
        // Writing to a String cannot fail.
        let mut out = String::new();
        let _ = writeln!(out, "worker_processes 1;");
        if let Some(open_files) = self.open_files {
            let _ = writeln!(out, "worker_rlimit_nofile {open_files};");
        }
        let _ = writeln!(out, "daemon off;");
        let _ = writeln!(out, "pid {root}/nginx.pid;");
        let _ = writeln!(out, "error_log {root}/error.log {};", self.error_log_level);
        let _ = writeln!(
            out,
            "events {{ worker_connections {}; }}",
            self.worker_connections
        );
        let _ = writeln!(out, "http {{");
        if self.access_log {
            let _ = writeln!(out, "    access_log {root}/access.log;");
        } else {
            let _ = writeln!(out, "    access_log off;");
        }
        for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
            let _ = writeln!(out, "    {temp}_temp_path {root}/{temp};");
        }
        let _ = writeln!(out, "    keepalive_requests {};", self.keepalive_requests);
        if let Some(timeout) = self.keepalive_timeout {
            let _ = writeln!(out, "    keepalive_timeout {}s;", timeout.as_secs());
        }
        let _ = writeln!(out, "    default_type text/plain;");
        if self.gzip {
            let _ = writeln!(out, "    gzip on; gzip_types *; gzip_min_length 0;");
        }
        let _ = writeln!(out, "    server {{");
        let backlog = self
            .backlog
            .map_or_else(String::new, |backlog| format!(" backlog={backlog}"));
        for addr in &self.listen {
            let _ = writeln!(out, "        listen {addr}{backlog};");
        }
        for Location { path, status, body } in &self.locations {
            let body = body.escape_default();
            let _ = writeln!(
                out,
                "        location {path} {{ return {status} \"{body}\"; }}"
            );
        }
        if let Some((path, dir)) = &self.files {
            let _ = writeln!(
                out,
                "        location {path} {{ alias {}/; }}",
                dir.display()
            );
        }
        let _ = writeln!(out, "    }}");
        let _ = writeln!(out, "}}");
        out
    }
}

/// nginx running inside a namespace; stopped on drop (SIGTERM: the master takes its worker
/// down).
pub struct Nginx {
    process: ChildGuard,
    access_log: PathBuf,
    config_text: String,
}

impl Nginx {
    /// Writes `config` to `dir/nginx.conf` (creating `dir`), starts nginx inside `ns` and waits
    /// until it listens on every address.
    pub fn start(ns: &NetNs, dir: &Path, config: &NginxConfig) -> Result<Self> {
        fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let config_text = config.text(dir);
        let config_path = dir.join("nginx.conf");
        fs::write(&config_path, &config_text).map_err(Error::io("writing nginx.conf"))?;
        let error_log = dir.join("error.log");
        let mut command = ns.command("nginx");
        command
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(&error_log)
            .arg("-c")
            .arg(&config_path);
        let mut process = ChildGuard::spawn(command, "nginx")?;
        for addr in &config.listen {
            wait_for_port(ns, *addr, &mut process, &error_log, READY_TIMEOUT)?;
        }
        Ok(Self {
            process,
            access_log: dir.join("access.log"),
            config_text,
        })
    }

    /// The master process's pid (`ip netns exec` execs nginx, which runs in the foreground).
    pub fn master_pid(&self) -> u32 {
        self.process.pid()
    }

    /// The pids of the master's children: its workers.
    pub fn worker_pids(&self) -> Vec<u32> {
        crate::process::children(self.master_pid())
    }

    /// The nginx.conf it runs with.
    pub fn config_text(&self) -> &str {
        &self.config_text
    }

    /// Empties the access log (nginx appends, so it goes on writing from the start).
    pub fn truncate_access_log(&self) -> Result<()> {
        fs::File::create(&self.access_log).map_err(Error::io("truncating nginx's access log"))?;
        Ok(())
    }

    /// Requests nginx logged (since the last truncation), one line each: the server's own count.
    pub fn logged_requests(&self) -> Result<u64> {
        let log = fs::read(&self.access_log).map_err(Error::io("reading nginx's access log"))?;
        Ok(log.iter().filter(|&&byte| byte == b'\n').count() as u64)
    }
}
