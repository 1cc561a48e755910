//! nginx in the bench namespace: one worker, `return 200` with a small body, every request
//! logged to a file at once (no buffer), so the access log is the server's own count.

use std::{
    fs,
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::netns::{Namespace, Process};

pub const BODY: &str = "hello from nginx\n";
/// Connections one worker accepts: the scale figure's connections plus headroom.
const WORKER_CONNECTIONS: u64 = 12_000;
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Nginx {
    process: Process,
    access_log: PathBuf,
    pub config_text: String,
}

impl Nginx {
    /// Starts nginx listening on `addr` inside `namespace`, with its files under `dir`;
    /// `open_files` is the file-descriptor limit its worker may raise itself to.
    pub fn start(
        namespace: &Namespace,
        dir: &Path,
        addr: SocketAddr,
        open_files: u64,
    ) -> Result<Self> {
        fs::create_dir_all(dir)?;
        let root = dir.display();
        let access_log = dir.join("access.log");
        let config_text = format!(
            r#"worker_processes 1;
worker_rlimit_nofile {open_files};
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections {WORKER_CONNECTIONS}; }}
http {{
    access_log {log};
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    default_type text/plain;
    server {{
        listen {addr} backlog=4096;
        location / {{ return 200 "{body}"; }}
    }}
}}
"#,
            log = access_log.display(),
            body = BODY.escape_default(),
        );
        let config = dir.join("nginx.conf");
        fs::write(&config, &config_text).context("writing nginx.conf")?;
        let mut command = namespace.command("nginx");
        command
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&config);
        let process = Process::spawn(command, "nginx")?;
        let nginx = Self {
            process,
            access_log,
            config_text,
        };
        nginx.wait_until_listening(namespace, addr, &dir.join("error.log"))?;
        Ok(nginx)
    }

    fn wait_until_listening(
        &self,
        namespace: &Namespace,
        addr: SocketAddr,
        error_log: &Path,
    ) -> Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        namespace.run(|| {
            loop {
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Ok(());
                }
                if Instant::now() >= deadline {
                    let errors = fs::read_to_string(error_log).unwrap_or_default();
                    bail!(
                        "nginx is not listening on {addr} after {START_TIMEOUT:?}: {}",
                        errors.lines().last().unwrap_or("no error log")
                    );
                }
                thread::sleep(Duration::from_millis(20));
            }
        })
    }

    /// Empties the access log (nginx appends, so it goes on writing from the start).
    pub fn truncate_access_log(&self) -> Result<()> {
        fs::File::create(&self.access_log).context("truncating nginx's access log")?;
        Ok(())
    }

    /// Requests nginx logged since the last truncation, one line each.
    pub fn logged_requests(&self) -> Result<u64> {
        let log = fs::read(&self.access_log).context("reading nginx's access log")?;
        Ok(log.iter().filter(|&&byte| byte == b'\n').count() as u64)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // Fast shutdown: the master stops its worker; the Process guard kills what remains.
        let _ = self.process.stop(libc::SIGTERM, Duration::from_secs(3));
    }
}
