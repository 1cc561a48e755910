//! HTTP clients run inside a namespace: curl (one connection per request), and two written
//! here on std's TcpStream: keep-alive (one connection, requests one after the other) and
//! pipelining (one connection, several requests in one write). All bounded: a fixed number of
//! requests, and a timeout on every socket operation.

use std::{
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    time::Duration,
};

use crate::NetNs;

const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

/// `times` separate `curl` runs of GET `url` inside `ns` (one connection each, closed when curl
/// exits); panics unless every one answers 200.
pub fn curl_get(ns: &NetNs, url: &str, times: usize) {
    curl_status(ns, url, times, 200);
}

/// As [`curl_get`], each run expecting `status`.
pub fn curl_status(ns: &NetNs, url: &str, times: usize, status: u16) {
    let expected = status.to_string();
    for attempt in 1..=times {
        let output = ns
            .command("curl")
            // -g: no globbing, so `[::1]` is an address.
            .args([
                "-sS",
                "-g",
                "--http1.1",
                "--max-time",
                "5",
                "-o",
                "/dev/null",
            ])
            .args(["-w", "%{http_code}", url])
            .output()
            .unwrap_or_else(|e| panic!("running curl: {e}"));
        let code = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && code == expected,
            "curl {url} (run {attempt} of {times}) gave {code:?}, {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
}

/// One connection to `addr` from inside `ns`, `requests` GETs one after the other with
/// `Connection: keep-alive`, each response read in full before the next request; panics unless
/// every response is 200.
pub fn keep_alive_client(ns: &NetNs, addr: SocketAddr, requests: usize) {
    KeepAlive::open(ns, addr).get(requests);
}

/// A keep-alive connection opened from inside a namespace and used later, from anywhere (a
/// connection that predates what a test starts next).
pub struct KeepAlive(Connection);

impl KeepAlive {
    pub fn open(ns: &NetNs, addr: SocketAddr) -> Self {
        Self(ns.run(|| Connection::open(addr)))
    }

    /// `requests` GETs one after the other, each response read in full; panics unless every
    /// one is 200.
    pub fn get(&mut self, requests: usize) {
        let request = get_request(self.0.addr);
        for _ in 0..requests {
            self.0.send(request.as_bytes());
            self.0.expect_ok();
        }
    }
}

/// One connection to `addr` from inside `ns`; `rounds` times, `per_write` GETs written with ONE
/// write call, then their `per_write` responses read; panics unless every response is 200.
pub fn pipelining_client(ns: &NetNs, addr: SocketAddr, per_write: usize, rounds: usize) {
    ns.run(|| {
        let mut connection = Connection::open(addr);
        let batch = get_request(addr).repeat(per_write);
        for _ in 0..rounds {
            connection.send(batch.as_bytes());
            for _ in 0..per_write {
                connection.expect_ok();
            }
        }
    });
}

fn get_request(addr: SocketAddr) -> String {
    format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: keep-alive\r\n\r\n")
}

/// A client connection that reads responses framed by Content-Length.
struct Connection {
    reader: BufReader<TcpStream>,
    addr: SocketAddr,
}

impl Connection {
    fn open(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect_timeout(&addr, SOCKET_TIMEOUT)
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        stream
            .set_read_timeout(Some(SOCKET_TIMEOUT))
            .expect("set_read_timeout");
        stream
            .set_write_timeout(Some(SOCKET_TIMEOUT))
            .expect("set_write_timeout");
        stream.set_nodelay(true).expect("set_nodelay");
        Self {
            reader: BufReader::new(stream),
            addr,
        }
    }

    /// One `write` call: the caller's bytes leave as one segment when they fit.
    fn send(&mut self, bytes: &[u8]) {
        let written = self
            .reader
            .get_mut()
            .write(bytes)
            .unwrap_or_else(|e| panic!("writing to {}: {e}", self.addr));
        assert_eq!(written, bytes.len(), "short write to {}", self.addr);
    }

    /// Reads one response (status line, headers, Content-Length body); panics unless it is 200.
    fn expect_ok(&mut self) {
        let status_line = self.line();
        let status = status_line
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(2..5))
            .and_then(|code| code.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("not a status line from {}: {status_line:?}", self.addr));
        let mut content_length = None;
        loop {
            let header = self.line();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                content_length = value.trim().parse::<u64>().ok();
            }
        }
        let content_length = content_length
            .unwrap_or_else(|| panic!("response from {} without a Content-Length", self.addr));
        let skipped = std::io::copy(
            &mut (&mut self.reader).take(content_length),
            &mut std::io::sink(),
        )
        .unwrap_or_else(|e| panic!("reading a body from {}: {e}", self.addr));
        assert_eq!(skipped, content_length, "body from {} cut short", self.addr);
        assert_eq!(status, 200, "{} answered {status_line:?}", self.addr);
    }

    /// One header-section line without its CRLF; panics on EOF or timeout.
    fn line(&mut self) -> String {
        let mut line = String::new();
        let read = self
            .reader
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading from {}: {e}", self.addr));
        assert_ne!(read, 0, "{} closed the connection mid-response", self.addr);
        line.truncate(line.trim_end_matches(['\r', '\n']).len());
        line
    }
}

/// Runs a client written as a python script to its end inside `ns` (`python -c SCRIPT ARGS…`),
/// within `timeout`; panics with its stderr unless it exits 0. Returns what it wrote to stdout.
#[track_caller]
pub fn python_client<I, A>(
    ns: &NetNs,
    python: &str,
    script: &str,
    args: I,
    timeout: Duration,
) -> String
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    let mut client = ns.command(python);
    client.args(["-c", script]).args(args);
    let output = crate::run_to_exit(client, timeout);
    assert!(
        output.status.success(),
        "the python client: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
