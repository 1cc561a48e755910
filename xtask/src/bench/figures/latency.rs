//! Figure 6, latency accuracy: httptop's latency percentiles against the client's own timing
//! and tshark's `http.time` of the same run, behind a server with a known delay.

use std::{thread, time::Duration};

use anyhow::{Context as _, Result, bail};

use super::{Bench, SETTLE, addr};
use crate::bench::{
    delay::DelayServer,
    load,
    observers::{self, Capture, CaptureTool, Summary},
    report::{Check, Figure, Row},
};

const DELAY_ADDR: &str = "127.0.0.1:8088";

/// The `fraction` quantile (nearest rank) of `samples`.
fn quantile(samples: &mut [Duration], fraction: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((fraction * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1]
}

fn relative_error_percent(measured: f64, reference: f64) -> f64 {
    100.0 * (measured - reference).abs() / reference.max(f64::MIN_POSITIVE)
}

/// Names of figure 6's rows, which the analysis reads back: `{server}: {what}`.
pub const CLIENT_RECEIVED: &str = "client, kernel receive time";
pub const CLIENT_READ: &str = "client, read() return";
pub const CLIENT_WAKE_UP: &str = "client's wake-up (read() return − kernel receive time)";
pub const HTTPTOP: &str = "httptop";
pub const TSHARK: &str = "tshark http.time";

/// One row of figure 6 for one server: its name after `{server}: `, unit and target.
struct LatencyRow {
    name: String,
    unit: &'static str,
    within_one_percent: bool,
}

/// What one run of figure 6 measured for one server.
struct LatencyRun {
    /// Client: to the kernel's receive timestamp, and to read() returning.
    received: Vec<Duration>,
    read: Vec<Duration>,
    tshark: Vec<Duration>,
    summary: Summary,
}

impl LatencyRun {
    /// The run's value of every row of figure 6, each with its row, in the report's order.
    fn values(mut self) -> Vec<(LatencyRow, f64)> {
        let row = |name: String, unit| LatencyRow {
            name,
            unit,
            within_one_percent: false,
        };
        let error = |reference: &str, percentile: &str| LatencyRow {
            name: format!("{HTTPTOP} vs {reference}, {percentile}"),
            unit: "%",
            within_one_percent: true,
        };
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut wake_up: Vec<Duration> = (self.read.iter().zip(&self.received))
            .map(|(read, received)| read.saturating_sub(*received))
            .collect();
        // httptop's percentiles are its own (from its summary), the others nearest-rank.
        let percentiles = [
            ("p50", 0.50, self.summary.p50_ns.unwrap_or_default()),
            ("p99", 0.99, self.summary.p99_ns.unwrap_or_default()),
        ];
        let mut values = Vec::new();
        let mut errors = Vec::new();
        for (name, fraction, httptop_ns) in percentiles {
            let received = ms(quantile(&mut self.received, fraction));
            let read = ms(quantile(&mut self.read, fraction));
            let httptop = httptop_ns as f64 / 1e6;
            let tshark = ms(quantile(&mut self.tshark, fraction));
            for (source, value) in [
                (CLIENT_RECEIVED, received),
                (CLIENT_READ, read),
                (HTTPTOP, httptop),
                (TSHARK, tshark),
            ] {
                values.push((row(format!("{source} {name}"), "ms"), value));
            }
            for (reference, value) in [
                (TSHARK, tshark),
                (CLIENT_RECEIVED, received),
                (CLIENT_READ, read),
            ] {
                errors.push((
                    error(reference, name),
                    relative_error_percent(httptop, value),
                ));
            }
        }
        values.extend(errors);
        for (name, fraction, _) in percentiles {
            let wake_up = quantile(&mut wake_up, fraction).as_secs_f64() * 1e6;
            values.push((row(format!("{CLIENT_WAKE_UP} {name}"), "µs"), wake_up));
        }
        let exchanges = self.summary.exchanges;
        values.push((
            row(
                "exchanges httptop missed or added vs client and tshark".into(),
                "exchanges",
            ),
            exchanges.abs_diff(self.read.len() as u64) as f64
                + exchanges.abs_diff(self.tshark.len() as u64) as f64,
        ));
        values
    }
}

/// Figure 6: httptop's latency percentiles against the client's own timing and tshark's
/// `http.time` of the same run, behind a server with a known delay.
pub fn figure(bench: &Bench) -> Result<Figure> {
    let plan = bench.plan;
    let delays = [Duration::from_millis(5), Duration::from_millis(50)];
    // Per delay, each row with its samples (one per run), in the order the runs give them.
    let mut results: Vec<Vec<(LatencyRow, Vec<f64>)>> = delays.iter().map(|_| Vec::new()).collect();
    for run in 0..plan.runs {
        for (index, &delay) in delays.iter().enumerate() {
            eprintln!(
                "xtask bench: latency run {}/{}: {delay:?} server",
                run + 1,
                plan.runs
            );
            let server = DelayServer::start(bench.namespace, addr(DELAY_ADDR), delay)?;
            let capture_file = bench
                .dir
                .join(format!("latency-{}ms.pcapng", delay.as_millis()));
            let httptop = bench.headless("latency", &["-p", "8088"])?;
            let capture = Capture::start(
                bench.namespace,
                CaptureTool::Tshark,
                &capture_file,
                &[],
                bench.commands,
            )?;
            let requests = plan.latency_requests(delay);
            let client = bench.namespace.run(|| {
                load::timed_exchanges(addr(DELAY_ADDR), plan.latency_connections, requests)
            })??;
            thread::sleep(SETTLE);
            capture.stop()?;
            let summary = httptop.finish()?;
            if summary.p50_ns.is_none() || summary.p99_ns.is_none() {
                bail!(
                    "httptop's summary has no TTFB percentiles after {} exchanges",
                    summary.exchanges
                );
            }
            drop(server);
            let tshark = observers::tshark_http_times(&capture_file, bench.commands)?;
            let received = client
                .iter()
                .map(|t| {
                    t.to_first_byte_received
                        .context("a reply without the kernel's receive timestamp")
                })
                .collect::<Result<Vec<Duration>>>()?;
            let measured = LatencyRun {
                received,
                read: client.iter().map(|t| t.to_first_read).collect(),
                tshark,
                summary,
            };
            let rows = &mut results[index];
            for (position, (row, value)) in measured.values().into_iter().enumerate() {
                match rows.get_mut(position) {
                    Some((_, samples)) => samples.push(value),
                    None => rows.push((row, vec![value])),
                }
            }
        }
    }
    bench.commands.record_line(format!(
        "(delay server and timing client, the bench's own: a keep-alive HTTP/1.1 server on {DELAY_ADDR} answering \
         after a fixed delay in one write with TCP_NODELAY; {} client connections with SO_TIMESTAMPNS, each timing \
         its requests from just before the write to the first byte of the status line)",
        plan.latency_connections
    ));
    let mut rows = Vec::new();
    for (delay, rows_of_delay) in delays.iter().zip(results) {
        for (row, samples) in rows_of_delay {
            let metric = format!("{} ms server: {}", delay.as_millis(), row.name);
            let made = Row::new(metric, row.unit, samples);
            rows.push(if row.within_one_percent {
                made.target(Check::MedianAtMost(1.0))
            } else {
                made
            });
        }
    }
    Ok(Figure {
        title: "6. Latency accuracy",
        setup: format!(
            "A keep-alive server answering after a fixed 5 ms or 50 ms (the bench's own, in one write with \
             TCP_NODELAY), {} client connections timing each request ({} requests each at 5 ms, {} at 50 ms), \
             `httptop --headless -p 8088`, and `tshark -i lo -w FILE` capturing the same run, read with `tshark -r \
             FILE -o tcp.desegment_tcp_streams:FALSE -Y http.time`. The client times each request from just before \
             its write two ways: to the kernel's receive timestamp of the segment carrying the status line's first \
             byte (`SO_TIMESTAMPNS`: when the answer reached the client's socket) and to the return of the read \
             that got it (when the client program saw it: its own wake-up included). Percentiles are nearest-rank \
             for the client and tshark, httptop's own for httptop. Error = |httptop − reference| / reference.",
            plan.latency_connections,
            plan.latency_requests(delays[0]),
            plan.latency_requests(delays[1])
        ),
        rows,
        notes: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        assert_eq!(quantile(&mut samples, 0.5), Duration::from_millis(50));
        assert_eq!(quantile(&mut samples, 0.99), Duration::from_millis(99));
        assert_eq!(quantile(&mut [], 0.5), Duration::ZERO);
        assert!((relative_error_percent(5.05, 5.0) - 1.0).abs() < 1e-9);
    }
}
