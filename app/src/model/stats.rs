//! The figures of one stream of exchanges (all of them, or those a filter lets through).

use super::{
    connections::Connections,
    exchange::NumberedExchange,
    history::{History, HistoryPoint},
    latency::{LOG2_BUCKETS, LatencyHistogram, log2_bucket},
};

#[derive(Clone, Copy, Debug)]
pub struct StatsOptions {
    pub max_connections: usize,
    pub recent_per_connection: usize,
    pub history_len: usize,
}

#[derive(Clone, Debug)]
pub struct Stats {
    pub exchanges: u64,
    /// 4xx and 5xx responses.
    pub errors: u64,
    pub latency: LatencyHistogram,
    /// log2 histogram of these exchanges' latencies (the kernel's own histogram is not
    /// filterable, so a filtered view uses this one).
    pub log2: [u64; LOG2_BUCKETS],
    pub connections: Connections,
    pub history: History,
    interval: Interval,
    last_tick_ns: Option<u64>,
}

/// What the current, still open interval has seen.
#[derive(Clone, Debug, Default)]
struct Interval {
    exchanges: u64,
    errors: u64,
    latency: LatencyHistogram,
}

impl Stats {
    pub fn new(opts: StatsOptions) -> Self {
        Stats {
            exchanges: 0,
            errors: 0,
            latency: LatencyHistogram::new(),
            log2: [0; LOG2_BUCKETS],
            connections: Connections::new(opts.max_connections, opts.recent_per_connection),
            history: History::new(opts.history_len),
            interval: Interval::default(),
            last_tick_ns: None,
        }
    }

    pub fn record(&mut self, e: &NumberedExchange) {
        let error = u64::from(e.is_error());
        self.exchanges += 1;
        self.errors += error;
        self.latency.record(e.latency_ns);
        self.log2[log2_bucket(e.latency_ns)] += 1;
        self.connections.record(e);
        self.interval.exchanges += 1;
        self.interval.errors += error;
        self.interval.latency.record(e.latency_ns);
    }

    /// Closes the current interval at `now_ns`. The first call only sets the start: a point
    /// needs a known interval length to give a rate.
    pub fn tick(&mut self, now_ns: u64) {
        let Some(start_ns) = self.last_tick_ns.replace(now_ns) else {
            self.interval = Interval::default();
            return;
        };
        let seconds = now_ns.saturating_sub(start_ns) as f64 / 1e9;
        let i = &self.interval;
        self.history.push(HistoryPoint {
            end_ns: now_ns,
            exchanges: i.exchanges,
            req_per_s: if seconds > 0.0 {
                i.exchanges as f64 / seconds
            } else {
                0.0
            },
            p99_ns: i.latency.quantile(0.99),
            error_rate: share(i.errors, i.exchanges),
        });
        self.connections.tick(seconds);
        self.interval.exchanges = 0;
        self.interval.errors = 0;
        self.interval.latency.reset();
    }

    /// Share of 4xx/5xx among all exchanges.
    pub fn error_rate(&self) -> f64 {
        share(self.errors, self.exchanges)
    }
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_support::exchange;

    fn stats() -> Stats {
        Stats::new(StatsOptions {
            max_connections: 10,
            recent_per_connection: 4,
            history_len: 10,
        })
    }

    #[test]
    fn closes_one_point_per_interval_after_the_first_tick() {
        let mut s = stats();
        s.tick(1_000_000_000);
        assert_eq!(s.history.points().len(), 0);
        for seq in 1..=4 {
            s.record(&exchange(
                seq,
                40000,
                80,
                seq * 1_000,
                if seq == 4 { 503 } else { 200 },
            ));
        }
        s.tick(3_000_000_000);
        let p = *s.history.last().unwrap();
        assert_eq!(
            p,
            HistoryPoint {
                end_ns: 3_000_000_000,
                exchanges: 4,
                req_per_s: 2.0,
                p99_ns: 4_000,
                error_rate: 0.25
            }
        );
        // The next interval starts empty.
        s.tick(4_000_000_000);
        assert_eq!(
            *s.history.last().unwrap(),
            HistoryPoint {
                end_ns: 4_000_000_000,
                ..Default::default()
            }
        );
        assert_eq!(s.exchanges, 4);
        assert_eq!(s.error_rate(), 0.25);
        // 1000 ns in [512, 1024), 2000 in [1024, 2048), 3000 and 4000 in [2048, 4096).
        assert_eq!(s.log2[9..12], [1, 1, 2]);
    }
}
