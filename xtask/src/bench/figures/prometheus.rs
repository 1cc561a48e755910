//! Figure 7, the Prometheus exporter at 10,000 series: httptop headless with `--prometheus`
//! after 10,000 requests to distinct paths (one histogram series each): the time and size of a
//! scrape, the memory the series hold (against the same traffic without the exporter), and the
//! CPU a scrape every second costs.

use crate::bench::measure::CPU_SOURCE;
use std::{
    io::{Read as _, Write as _},
    net::{SocketAddr, TcpStream},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::{Bench, MIB, NGINX_ADDR, addr};
use crate::bench::{
    load,
    measure::ProcessSample,
    report::{Figure, Row, Spread},
};

/// Distinct paths sent, so series of the TTFB histogram: the same with `--quick`.
pub const SERIES: u32 = 10_000;
/// `--prometheus-series`: above [`SERIES`], so none of them goes into the `other` series.
const SERIES_LIMIT: &str = "20000";
/// Where httptop serves `/metrics`, inside the namespace (not a port httptop watches: `-p`
/// keeps the scrapes out of its own figures).
const METRICS_ADDR: &str = "127.0.0.1:9464";
/// The start of each series' `_count` line: one line per series (the `other` one included).
const HISTOGRAM_COUNT: &str = "httptop_http_server_request_duration_seconds_count{";
/// What Prometheus sends as `Accept` (OpenMetrics first), for the scrapes of the CPU window.
const PROMETHEUS_ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const SCRAPE_PERIOD: Duration = Duration::from_secs(1);
/// Connect, and each read of a scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// The 10,000 requests, at most.
const TRAFFIC_TIMEOUT: Duration = Duration::from_secs(60);
/// From the last response to the RSS reading: the collector drains the ring buffer and ticks.
const SERIES_SETTLE: Duration = Duration::from_millis(1500);

/// The exposition formats, as asked for by the `Accept` header.
#[derive(Clone, Copy)]
enum Format {
    /// No `Accept`: the Prometheus text format.
    Text,
    /// Prometheus' own `Accept`: OpenMetrics.
    OpenMetrics,
}

impl Format {
    const ALL: [Self; 2] = [Self::Text, Self::OpenMetrics];

    fn name(self) -> &'static str {
        match self {
            Self::Text => "Prometheus text format",
            Self::OpenMetrics => "OpenMetrics",
        }
    }

    fn accept(self) -> Option<&'static str> {
        match self {
            Self::Text => None,
            Self::OpenMetrics => Some(PROMETHEUS_ACCEPT),
        }
    }
}

/// One `GET /metrics`: connect to the last byte, and the body.
struct Scrape {
    elapsed: Duration,
    body: String,
}

impl Scrape {
    /// Scrapes `addr` on a connection of its own (`Connection: close`); run it inside the
    /// namespace.
    fn get(addr: SocketAddr, format: Format) -> Result<Self> {
        let started = Instant::now();
        let mut stream = TcpStream::connect_timeout(&addr, SCRAPE_TIMEOUT)
            .with_context(|| format!("connecting to httptop's /metrics at {addr}"))?;
        stream.set_read_timeout(Some(SCRAPE_TIMEOUT))?;
        stream.set_write_timeout(Some(SCRAPE_TIMEOUT))?;
        let accept = format
            .accept()
            .map_or_else(String::new, |accept| format!("Accept: {accept}\r\n"));
        write!(
            stream,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: httptop-bench\r\n{accept}\
             Connection: close\r\n\r\n"
        )
        .context("sending GET /metrics")?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .context("reading httptop's /metrics")?;
        let elapsed = started.elapsed();
        let body = response_body(&response)?;
        let body = String::from_utf8(body.to_vec()).context("a /metrics body that is not UTF-8")?;
        Ok(Self { elapsed, body })
    }

    /// Series of the TTFB histogram in the exposition.
    fn series(&self) -> usize {
        self.body
            .lines()
            .filter(|line| line.starts_with(HISTOGRAM_COUNT))
            .count()
    }

    /// Fails unless the exposition holds exactly one series per path sent.
    fn check_series(&self, format: Format) -> Result<()> {
        let series = self.series();
        if series != SERIES as usize {
            bail!(
                "httptop's /metrics ({}) holds {series} series of the TTFB histogram (`{HISTOGRAM_COUNT}…` lines), \
                 not one per distinct path sent ({SERIES})",
                format.name()
            );
        }
        Ok(())
    }
}

/// The body of a whole `HTTP/1.1 200` response read to the end of its connection.
fn response_body(response: &[u8]) -> Result<&[u8]> {
    let head_end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("httptop's /metrics answered without a complete response head")?;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let status = head.lines().next().unwrap_or("");
    if !status.starts_with("HTTP/1.1 200 ") {
        bail!("httptop's /metrics answered `{status}`");
    }
    let body = &response[head_end + 4..];
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    if let Some(length) = length
        && length != body.len()
    {
        bail!(
            "httptop's /metrics said Content-Length {length} and sent {} bytes",
            body.len()
        );
    }
    Ok(body)
}

/// What one run of figure 7 measured.
struct Run {
    series: f64,
    /// Median over the run's scrapes, per format (in [`Format::ALL`]'s order).
    scrape_ms: [f64; 2],
    size_mib: [f64; 2],
    rss_with: u64,
    rss_after_scrapes: u64,
    rss_without: u64,
    cpu_idle: f64,
    cpu_scraped: f64,
    scrapes_in_window: u32,
}

/// Figure 7: the exporter at [`SERIES`] series.
pub fn figure(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let paths: Vec<String> = (0..SERIES).map(|n| format!("/s{n}x")).collect();
    let mut runs = Vec::with_capacity(plan.runs);
    for run in 0..plan.runs {
        eprintln!(
            "xtask bench: prometheus run {}/{}: {SERIES} series",
            run + 1,
            plan.runs
        );
        runs.push(measure_run(bench, &paths)?);
    }
    bench.commands.record_line(format!(
        "(prometheus load, the bench's own client: {SERIES} GETs of /s0x … /s{}x one after another on one keep-alive \
         connection to {NGINX_ADDR}; then GET /metrics from {METRICS_ADDR}, a connection each: {} × 2 formats, then \
         one a second over {} s with Prometheus' Accept header)",
        SERIES - 1,
        plan.prometheus_scrapes,
        plan.prometheus_window.as_secs()
    ));
    let column = |value: &dyn Fn(&Run) -> f64| -> Vec<f64> { runs.iter().map(value).collect() };
    let window_s = plan.prometheus_window.as_secs_f64();
    let mut rows = vec![Row::new(
        "TTFB histogram series in the exposition",
        "series",
        column(&|run| run.series),
    )];
    for (index, format) in Format::ALL.into_iter().enumerate() {
        rows.push(Row::new(
            format!("scrape time, {}", format.name()),
            "ms",
            column(&|run| run.scrape_ms[index]),
        ));
        rows.push(Row::new(
            format!("exposition size, {}", format.name()),
            "MiB",
            column(&|run| run.size_mib[index]),
        ));
    }
    rows.extend([
        Row::new(
            "httptop RSS with --prometheus, the series in, before any scrape",
            "MiB",
            column(&|run| run.rss_with as f64 / MIB),
        ),
        Row::new(
            "httptop RSS without --prometheus, the same traffic",
            "MiB",
            column(&|run| run.rss_without as f64 / MIB),
        ),
        Row::new(
            "RSS per series (with − without --prometheus)",
            "bytes",
            column(&|run| (run.rss_with as f64 - run.rss_without as f64) / f64::from(SERIES)),
        ),
        Row::new(
            "httptop RSS with --prometheus, after the scrapes",
            "MiB",
            column(&|run| run.rss_after_scrapes as f64 / MIB),
        ),
        Row::new(
            "idle CPU, not scraped",
            "% of one core",
            column(&|run| run.cpu_idle),
        ),
        Row::new(
            "idle CPU, scraped every 1 s",
            "% of one core",
            column(&|run| run.cpu_scraped),
        ),
        Row::new(
            "CPU of scraping every 1 s (scraped − not scraped)",
            "% of one core",
            column(&|run| run.cpu_scraped - run.cpu_idle),
        ),
        Row::new(
            "CPU per scrape",
            "ms",
            column(&|run| {
                (run.cpu_scraped - run.cpu_idle) / 100.0 * window_s * 1e3
                    / f64::from(run.scrapes_in_window.max(1))
            }),
        ),
    ]);
    Ok(Figure {
        title: "7. Prometheus exporter at 10,000 series",
        setup: format!(
            "httptop headless on nginx's port (`-p 8080 --prometheus {METRICS_ADDR} --prometheus-series \
             {SERIES_LIMIT}`) after {SERIES} GETs of distinct paths (`/s0x` … `/s{}x`, no segment an id, so one series \
             each of the TTFB histogram) on one keep-alive connection, 1.5 s settle. Scrape time: `GET /metrics` on a \
             connection of its own, connect to last byte, the median of {} scrapes per format (the Prometheus text \
             format without `Accept`, OpenMetrics with Prometheus' `Accept`); every exposition must hold exactly \
             {SERIES} `_count` lines of the histogram, else the figure fails. RSS: VmRSS from `/proc/PID/status` \
             before the first scrape, against a run without `--prometheus` with the same traffic (the same settle), \
             and after the scrapes. CPU: {CPU_SOURCE}, over {} s with no traffic and no scrape, \
             then {} s with a Prometheus-style scrape (OpenMetrics) every second.",
            SERIES - 1,
            plan.prometheus_scrapes,
            plan.prometheus_window.as_secs(),
            plan.prometheus_window.as_secs()
        ),
        rows,
        notes: Vec::new(),
    })
}

/// One run: httptop with the exporter (scrapes, RSS, CPU windows), then without it (RSS).
fn measure_run(bench: &Bench, paths: &[String]) -> Result<Run> {
    let plan = bench.plan;
    let port = addr(NGINX_ADDR).port().to_string();
    let metrics = addr(METRICS_ADDR);

    let exporter = bench.headless(
        "prometheus",
        &[
            "-p",
            &port,
            "--prometheus",
            METRICS_ADDR,
            "--prometheus-series",
            SERIES_LIMIT,
        ],
    )?;
    let pid = exporter.pid();
    let sent = send(bench, paths)?;
    thread::sleep(SERIES_SETTLE);
    let rss_with = ProcessSample::read(pid)?.rss_bytes;
    let scrapes = bench.namespace.run(|| -> Result<Vec<Vec<Scrape>>> {
        let mut scrapes: Vec<Vec<Scrape>> = Format::ALL.iter().map(|_| Vec::new()).collect();
        for _ in 0..plan.prometheus_scrapes {
            for (index, format) in Format::ALL.into_iter().enumerate() {
                let scrape = Scrape::get(metrics, format)?;
                scrape.check_series(format)?;
                scrapes[index].push(scrape);
            }
        }
        Ok(scrapes)
    })??;
    let rss_after_scrapes = ProcessSample::read(pid)?.rss_bytes;
    let (cpu_idle, _) = cpu_window(bench, pid, false)?;
    let (cpu_scraped, scrapes_in_window) = cpu_window(bench, pid, true)?;
    let summary = exporter.finish()?;
    check_exchanges(summary.exchanges, sent, "with --prometheus")?;

    let plain = bench.headless("no-prometheus", &["-p", &port])?;
    send(bench, paths)?;
    thread::sleep(SERIES_SETTLE);
    let rss_without = ProcessSample::read(plain.pid())?.rss_bytes;
    let summary = plain.finish()?;
    check_exchanges(summary.exchanges, sent, "without --prometheus")?;

    let median = |values: Vec<f64>| Spread::of(&values).map_or(0.0, |spread| spread.median);
    let mut scrape_ms = [0.0; 2];
    let mut size_mib = [0.0; 2];
    for (index, scrapes) in scrapes.iter().enumerate() {
        scrape_ms[index] = median(
            scrapes
                .iter()
                .map(|s| s.elapsed.as_secs_f64() * 1e3)
                .collect(),
        );
        size_mib[index] = median(scrapes.iter().map(|s| s.body.len() as f64 / MIB).collect());
    }
    Ok(Run {
        series: scrapes
            .first()
            .and_then(|scrapes| scrapes.last())
            .map_or(0.0, |scrape| scrape.series() as f64),
        scrape_ms,
        size_mib,
        rss_with,
        rss_after_scrapes,
        rss_without,
        cpu_idle,
        cpu_scraped,
        scrapes_in_window,
    })
}

/// The GETs of every path, inside the namespace; returns how many were sent.
fn send(bench: &Bench, paths: &[String]) -> Result<u64> {
    let deadline = Instant::now() + TRAFFIC_TIMEOUT;
    bench
        .namespace
        .run(|| load::get_each(addr(NGINX_ADDR), paths, deadline))?
}

fn check_exchanges(exchanges: u64, sent: u64, run: &str) -> Result<()> {
    if exchanges != sent {
        bail!(
            "httptop {run} counted {exchanges} exchanges of the {sent} sent: the runs compared did not see the \
             same traffic"
        );
    }
    Ok(())
}

/// httptop's CPU (% of one core) over the plan's window with no traffic, and, if `scraped`, a
/// scrape every [`SCRAPE_PERIOD`] from its start (OpenMetrics, as Prometheus asks); returns
/// it with the scrapes made.
fn cpu_window(bench: &Bench, pid: u32, scraped: bool) -> Result<(f64, u32)> {
    let window = bench.plan.prometheus_window;
    let metrics = addr(METRICS_ADDR);
    bench.namespace.run(|| -> Result<(f64, u32)> {
        let first = ProcessSample::read(pid)?;
        let sleep_until = |due: Instant| {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        };
        let mut scrapes = 0;
        if scraped {
            let count = (window.as_secs_f64() / SCRAPE_PERIOD.as_secs_f64()) as u32;
            for index in 0..count {
                sleep_until(first.at + SCRAPE_PERIOD * index);
                Scrape::get(metrics, Format::OpenMetrics)?.check_series(Format::OpenMetrics)?;
                scrapes += 1;
            }
        }
        sleep_until(first.at + window);
        let last = ProcessSample::read(pid)?;
        Ok((last.cpu_percent_since(&first), scrapes))
    })?
}

#[cfg(test)]
mod tests {
    use super::{HISTOGRAM_COUNT, response_body};

    #[test]
    fn a_scrape_is_a_whole_200_response() {
        let response = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc";
        assert_eq!(response_body(response).unwrap(), b"abc");
        assert!(response_body(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nabc").is_err());
        assert!(response_body(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").is_err());
        assert!(response_body(b"HTTP/1.1 200 OK\r\n").is_err());
    }

    #[test]
    fn series_are_counted_by_their_count_lines() {
        let body = format!(
            "# TYPE x histogram\n{HISTOGRAM_COUNT}path=\"/a\"}} 1\n{HISTOGRAM_COUNT}path=\"/b\"}} 2\n\
             httptop_other_count{{a=\"b\"}} 1\n"
        );
        let scrape = super::Scrape {
            elapsed: std::time::Duration::ZERO,
            body,
        };
        assert_eq!(scrape.series(), 2);
    }
}
