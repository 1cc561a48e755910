//! How long and how often each figure runs: the full bench, or a quick smoke run.

use std::time::Duration;

/// How long and how often each figure runs.
pub struct Plan {
    /// Runs of each configuration (min/median/max are over these).
    pub runs: usize,
    /// Rounds of the throughput figure: its ratios are the noisiest figures, so more of them.
    pub throughput_runs: usize,
    pub wrk_time: Duration,
    /// Each HTTP and non-HTTP phase of the filter-cost figure.
    pub filter_phase: Duration,
    pub bulk_bytes: u64,
    pub own_cost_window: Duration,
    pub fixed_rate: u32,
    pub fixed_rate_connections: u32,
    pub scale_connections: u32,
    pub scale_rounds: u32,
    pub scale_request_timeout: Duration,
    pub render_frames: u32,
    pub latency_connections: u32,
    /// Scrapes of each exposition format in the Prometheus figure (its scrape time and size).
    pub prometheus_scrapes: u32,
    /// Each CPU window of the Prometheus figure (idle, then scraped once a second).
    pub prometheus_window: Duration,
    pub quick: bool,
}

impl Plan {
    pub fn new(quick: bool, open_files: u64) -> Self {
        // Leave room for everything else the bench process has open.
        let scale_limit = u32::try_from(open_files.saturating_sub(512)).unwrap_or(u32::MAX);
        if quick {
            Self {
                runs: 1,
                throughput_runs: 1,
                wrk_time: Duration::from_secs(2),
                filter_phase: Duration::from_secs(1),
                bulk_bytes: 512 << 20,
                own_cost_window: Duration::from_secs(2),
                fixed_rate: 20_000,
                fixed_rate_connections: 20,
                scale_connections: 2_000.min(scale_limit),
                scale_rounds: 2,
                scale_request_timeout: Duration::from_secs(2),
                render_frames: 5,
                latency_connections: 4,
                prometheus_scrapes: 3,
                prometheus_window: Duration::from_secs(3),
                quick,
            }
        } else {
            Self {
                runs: 3,
                throughput_runs: 5,
                wrk_time: Duration::from_secs(5),
                filter_phase: Duration::from_secs(3),
                bulk_bytes: 4 << 30,
                own_cost_window: Duration::from_secs(8),
                fixed_rate: 20_000,
                fixed_rate_connections: 20,
                scale_connections: 10_000.min(scale_limit),
                scale_rounds: 3,
                scale_request_timeout: Duration::from_secs(2),
                render_frames: 50,
                latency_connections: 8,
                prometheus_scrapes: 10,
                prometheus_window: Duration::from_secs(10),
                quick,
            }
        }
    }

    /// Requests per client connection behind a server with `delay`: about two seconds' worth
    /// (a quarter of that with `--quick`).
    pub fn latency_requests(&self, delay: Duration) -> u32 {
        let per_connection = (Duration::from_secs(2).as_secs_f64() / delay.as_secs_f64()) as u32;
        if self.quick {
            per_connection / 4
        } else {
            per_connection
        }
    }
}
