//! A real Prometheus server inside a namespace, scraping a fixed list of targets as job
//! `httptop`, with its config, TSDB and log in a temp dir; and its HTTP API, asked from a thread
//! inside the namespace.

use std::{
    collections::HashMap,
    fmt::Write as _,
    fs,
    io::{self, Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    path::Path,
    thread,
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{ChildGuard, Error, NetNs, Result, TempDir, wait_for_port};

/// From the start to `/-/ready` answering 200 (TSDB opened, config loaded).
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// One API request, connect to last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(200);
const DIR_PREFIX: &str = "httptop-lab-prometheus";
/// The one scrape job's name, its `job` label.
const JOB: &str = "httptop";
/// Lines of the log an error shows.
const LOG_TAIL_LINES: usize = 20;

/// Prometheus running inside a namespace; stopped on drop (SIGTERM), its data removed with its
/// directory.
pub struct Prometheus {
    // Field order is drop order: the process goes before its directory.
    process: ChildGuard,
    dir: TempDir,
    addr: SocketAddr,
    targets: Vec<SocketAddr>,
}

impl Prometheus {
    /// Writes a prometheus.yml scraping `targets` (job `httptop`, `/metrics`) every
    /// `scrape_interval` (also the evaluation interval), starts `prometheus` inside `ns` listening
    /// on `listen` and waits until `/-/ready` answers 200.
    pub fn start(
        ns: &NetNs,
        listen: SocketAddr,
        targets: &[SocketAddr],
        scrape_interval: Duration,
    ) -> Result<Self> {
        let dir = TempDir::new(DIR_PREFIX)?;
        let config = dir.path().join("prometheus.yml");
        fs::write(&config, config_text(targets, scrape_interval)?)
            .map_err(Error::io("writing prometheus.yml"))?;
        let log = dir.path().join("prometheus.log");
        let log_file = fs::File::create(&log).map_err(Error::io("creating prometheus.log"))?;
        let log_copy = log_file
            .try_clone()
            .map_err(Error::io("cloning a file handle"))?;
        let mut command = ns.command("prometheus");
        command
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={listen}"))
            .arg("--log.level=warn")
            .stdout(log_copy)
            .stderr(log_file);
        let started = Instant::now();
        let mut process = ChildGuard::spawn(command, "prometheus")?;
        wait_for_port(ns, listen, &mut process, &log, READY_TIMEOUT)?;
        let mut prometheus = Self {
            process,
            dir,
            addr: listen,
            targets: targets.to_vec(),
        };
        prometheus.wait_until_ready(ns, started + READY_TIMEOUT)?;
        Ok(prometheus)
    }

    /// The address its web server and API listen on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// An instant query evaluated now: the answer's `data` (`resultType` and `result`); an error
    /// with Prometheus's own text unless its `status` is `success`.
    pub fn query(&self, ns: &NetNs, expr: &str) -> Result<Value> {
        self.api_query(ns, &format!("query={}", percent_encode(expr)))
    }

    /// [`Self::query`] evaluated at `time`, in Unix seconds.
    pub fn query_at(&self, ns: &NetNs, expr: &str, time: f64) -> Result<Value> {
        self.api_query(ns, &format!("query={}&time={time}", percent_encode(expr)))
    }

    /// Waits at most `timeout` (polling every 200 ms) until every target has been scraped
    /// successfully (`up == 1`) at least `at_least` more times than when it was called.
    pub fn wait_for_scrapes(&self, ns: &NetNs, at_least: u64, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        let before = self.successful_scrapes(ns)?;
        loop {
            let last = match self.successful_scrapes(ns) {
                Ok(now) => {
                    let behind: Vec<String> = self
                        .targets
                        .iter()
                        .map(|target| target.to_string())
                        .filter(|instance| {
                            let count = |scrapes: &HashMap<String, u64>| {
                                scrapes.get(instance).copied().unwrap_or(0)
                            };
                            count(&now) < count(&before) + at_least
                        })
                        .collect();
                    if behind.is_empty() {
                        return Ok(());
                    }
                    format!(
                        "{} behind; successful scrapes before {before:?}, now {now:?}",
                        behind.join(", ")
                    )
                }
                Err(error) => error.to_string(),
            };
            if Instant::now() >= deadline {
                return Err(self.failure(&format!(
                    "the targets were not scraped successfully {at_least} more times within \
                     {timeout:?} ({last})"
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// Whether every target's last scrape succeeded (`up == 1`), and each has been scraped.
    pub fn targets_up(&self, ns: &NetNs) -> Result<bool> {
        let up = samples(&self.query(ns, &format!("up{{job=\"{JOB}\"}}"))?)?;
        Ok(self.targets.iter().all(|target| {
            let instance = target.to_string();
            up.iter()
                .any(|(name, value)| *name == instance && *value == 1.0)
        }))
    }

    /// Successful scrapes so far, by `instance`.
    fn successful_scrapes(&self, ns: &NetNs) -> Result<HashMap<String, u64>> {
        let data = self.query(ns, &format!("sum_over_time(up{{job=\"{JOB}\"}}[1d])"))?;
        Ok(samples(&data)?
            .into_iter()
            // Whole numbers: a sum of ones and zeros.
            .map(|(instance, value)| (instance, value as u64))
            .collect())
    }

    fn api_query(&self, ns: &NetNs, query: &str) -> Result<Value> {
        let path = format!("/api/v1/query?{query}");
        let (status, body) = http_get(ns, self.addr, &path)?;
        let answer: Value = serde_json::from_str(&body).map_err(|error| {
            Error::Failed(format!(
                "prometheus answered GET {path} with {status} and no JSON ({error}): {body}"
            ))
        })?;
        if answer["status"] != "success" {
            return Err(Error::Failed(format!(
                "prometheus answered GET {path} with {status}, {}: {}",
                answer["errorType"].as_str().unwrap_or("no error type"),
                answer["error"].as_str().unwrap_or(&body)
            )));
        }
        Ok(answer["data"].clone())
    }

    fn wait_until_ready(&mut self, ns: &NetNs, deadline: Instant) -> Result<()> {
        loop {
            let last = match http_get(ns, self.addr, "/-/ready") {
                Ok((200, _)) => return Ok(()),
                Ok((status, body)) => format!("/-/ready answered {status}: {}", body.trim()),
                Err(error) => error.to_string(),
            };
            if let Some(status) = self.process.exited()? {
                return Err(self.failure(&format!("prometheus exited ({status}) ({last})")));
            }
            if Instant::now() >= deadline {
                return Err(self.failure(&format!(
                    "prometheus is not ready within {READY_TIMEOUT:?} ({last})"
                )));
            }
            thread::sleep(POLL);
        }
    }

    /// An error saying what `happened`, with the last lines of Prometheus's log.
    fn failure(&self, happened: &str) -> Error {
        let log = log_tail(&self.dir.path().join("prometheus.log"));
        Error::Failed(format!("{happened}; its log ends:\n{log}"))
    }
}

/// prometheus.yml: one job, `httptop`, scraping `targets` every `scrape_interval`.
fn config_text(targets: &[SocketAddr], scrape_interval: Duration) -> Result<String> {
    let interval = duration(scrape_interval)?;
    let mut out = String::new();
    let _ = writeln!(out, "global:");
    let _ = writeln!(out, "  scrape_interval: {interval}");
    let _ = writeln!(out, "  evaluation_interval: {interval}");
    let _ = writeln!(out, "scrape_configs:");
    let _ = writeln!(out, "  - job_name: {JOB}");
    let _ = writeln!(out, "    static_configs:");
    let targets: Vec<String> = targets
        .iter()
        .map(|target| format!("\"{target}\""))
        .collect();
    let _ = writeln!(out, "      - targets: [{}]", targets.join(", "));
    Ok(out)
}

/// A Prometheus duration in milliseconds (its smallest unit); zero is no interval.
fn duration(interval: Duration) -> Result<String> {
    let millis = interval.as_millis();
    if millis == 0 {
        return Err(Error::Failed(format!(
            "a Prometheus interval is at least 1 ms, not {interval:?}"
        )));
    }
    Ok(format!("{millis}ms"))
}

/// `expr` fit for a query string: every byte but RFC 3986's unreserved ones as `%XX`.
fn percent_encode(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    for byte in expr.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// An instant vector's samples as (`instance` label, value).
fn samples(data: &Value) -> Result<Vec<(String, f64)>> {
    let malformed = || Error::Failed(format!("not an instant vector: {data}"));
    if data["resultType"] != "vector" {
        return Err(malformed());
    }
    let result = data["result"].as_array().ok_or_else(malformed)?;
    result
        .iter()
        .map(|series| {
            let instance = series["metric"]["instance"].as_str().unwrap_or_default();
            let value = series["value"][1]
                .as_str()
                .and_then(|value| value.parse().ok())
                .ok_or_else(malformed)?;
            Ok((instance.to_owned(), value))
        })
        .collect()
}

/// GET `path` from `addr` inside `ns` over HTTP/1.0 (so the answer is neither chunked nor kept
/// alive): the status code and the body.
fn http_get(ns: &NetNs, addr: SocketAddr, path: &str) -> Result<(u16, String)> {
    let exchange = || -> io::Result<Vec<u8>> {
        let mut stream = TcpStream::connect_timeout(&addr, REQUEST_TIMEOUT)?;
        stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
        stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
        write!(
            stream,
            "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        Ok(answer)
    };
    let answer = ns
        .run(exchange)?
        .map_err(Error::io(format!("GET http://{addr}{path}")))?;
    parse_response(&answer).ok_or_else(|| {
        Error::Failed(format!(
            "GET http://{addr}{path}: not an HTTP response: {}",
            String::from_utf8_lossy(&answer)
        ))
    })
}

/// An HTTP response's status code and body.
fn parse_response(answer: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(answer);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status_line = head.lines().next()?;
    let mut words = status_line.split(' ');
    if !words.next()?.starts_with("HTTP/") {
        return None;
    }
    let status = words.next()?.parse().ok()?;
    Some((status, body.to_owned()))
}

/// The last lines of `log`, or why it cannot be read.
fn log_tail(log: &Path) -> String {
    match fs::read_to_string(log) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
        }
        Err(error) => format!("(cannot read {}: {error})", log.display()),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddrV4};

    use super::*;

    #[test]
    fn a_query_is_percent_encoded() {
        assert_eq!(percent_encode("up"), "up");
        assert_eq!(
            percent_encode("count_over_time(up{job=\"httptop\"}[10m])"),
            "count_over_time%28up%7Bjob%3D%22httptop%22%7D%5B10m%5D%29"
        );
        assert_eq!(percent_encode("a + b&c/d"), "a%20%2B%20b%26c%2Fd");
        assert_eq!(percent_encode("rate_1.x~-"), "rate_1.x~-");
        assert_eq!(percent_encode("é"), "%C3%A9");
    }

    #[test]
    fn the_config_scrapes_the_targets_as_one_job() {
        let targets = [
            SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9090)),
            "[::1]:8080".parse().unwrap(),
        ];
        assert_eq!(
            config_text(&targets, Duration::from_secs(1)).unwrap(),
            "global:\n  scrape_interval: 1000ms\n  evaluation_interval: 1000ms\n\
             scrape_configs:\n  - job_name: httptop\n    static_configs:\n      \
             - targets: [\"127.0.0.1:9090\", \"[::1]:8080\"]\n"
        );
        assert!(config_text(&targets, Duration::from_micros(10)).is_err());
    }

    #[test]
    fn a_response_is_read_into_its_status_and_body() {
        assert_eq!(
            parse_response(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nready\n"),
            Some((200, "ready\n".to_owned()))
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 503 Service Unavailable\r\n\r\n"),
            Some((503, String::new()))
        );
        assert_eq!(parse_response(b"garbage"), None);
    }

    #[test]
    fn an_instant_vector_gives_its_instances_and_values() {
        let data = serde_json::json!({
            "resultType": "vector",
            "result": [
                {"metric": {"instance": "127.0.0.1:9090", "job": "httptop"}, "value": [1.5, "3"]}
            ]
        });
        assert_eq!(
            samples(&data).unwrap(),
            [("127.0.0.1:9090".to_owned(), 3.0)]
        );
        assert!(samples(&serde_json::json!({"resultType": "matrix", "result": []})).is_err());
    }

    #[test]
    #[ignore = "needs root"]
    fn prometheus_scrapes_itself_and_answers_queries() {
        let ns = NetNs::new("httptop-lab-test").unwrap();
        let addr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9090));
        let prometheus = Prometheus::start(&ns, addr, &[addr], Duration::from_secs(1)).unwrap();
        prometheus
            .wait_for_scrapes(&ns, 2, Duration::from_secs(30))
            .unwrap();
        assert!(prometheus.targets_up(&ns).unwrap());

        let up = prometheus.query(&ns, "up").unwrap();
        assert_eq!(up["resultType"], "vector", "{up}");
        let result = up["result"].as_array().unwrap();
        assert_eq!(result.len(), 1, "{up}");
        assert_eq!(result[0]["metric"]["job"], "httptop", "{up}");
        assert_eq!(result[0]["metric"]["instance"], "127.0.0.1:9090", "{up}");
        assert_eq!(result[0]["value"][1], "1", "{up}");

        let now = result[0]["value"][0].as_f64().unwrap();
        let then = prometheus.query_at(&ns, "up", now).unwrap();
        assert_eq!(then["result"][0]["value"][1], "1", "{then}");

        let error = prometheus.query(&ns, "up{").unwrap_err().to_string();
        assert!(error.contains("bad_data"), "{error}");
    }
}
