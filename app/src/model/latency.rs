//! Latency distributions: the global one (hdrhistogram, 3 significant digits), a compact
//! per-tuple one, and the log2 buckets the kernel uses.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies above this are clamped when recorded (an hour: no HTTP exchange waits longer
/// without having expired first).
const HIGHEST_NS: u64 = 3_600_000_000_000;

/// Buckets of a log2 histogram: bucket `b` holds `[2^b, 2^(b+1))` ns, bucket 0 also holds 0.
pub const LOG2_BUCKETS: usize = probe_common::wire::HISTOGRAM_BUCKETS;

/// The log2 bucket of a latency: the kernel's rule (`wire::histogram_bucket`), as an index.
pub fn log2_bucket(ns: u64) -> usize {
    probe_common::wire::histogram_bucket(ns) as usize
}

/// The lower bound in ns of log2 bucket `b`.
pub fn log2_bucket_floor(b: usize) -> u64 {
    if b == 0 { 0 } else { 1u64 << b.min(63) }
}

/// Percentiles read off a log2 histogram: each is the upper bound of the bucket holding it
/// (so "p50 < 2.10ms"), not an exact value. `None` when the histogram is empty.
pub fn log2_percentile_bounds(buckets: &[u64; LOG2_BUCKETS]) -> Option<Percentiles> {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return None;
    }
    let upper = |b: usize| log2_bucket_floor(b + 1).max(1);
    let bound = |q: f64| {
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (b, n) in buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return upper(b);
            }
        }
        upper(LOG2_BUCKETS - 1)
    };
    let [p50, p90, p99, p999] = QUANTILES.map(bound);
    let last = buckets.iter().rposition(|n| *n > 0).unwrap_or(0);
    Some(Percentiles {
        p50,
        p90,
        p99,
        p999,
        max: upper(last),
    })
}

#[derive(Serialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Percentiles {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

const QUANTILES: [f64; 4] = [0.5, 0.9, 0.99, 0.999];

fn hdr_percentiles<T: hdrhistogram::Counter>(h: &Histogram<T>, max: u64) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let mut q = h.value_at_quantiles(QUANTILES);
    // hdrhistogram reports the top of a bucket, which may exceed the largest value recorded.
    let mut next = || q.next().unwrap_or(max).min(max);
    Percentiles {
        p50: next(),
        p90: next(),
        p99: next(),
        p999: next(),
        max,
    }
}

/// Value at quantile `q` of sorted samples, by hdrhistogram's rule: the smallest value with at
/// least `ceil(q * n)` samples (and at least one) at or below it.
fn sorted_quantile(sorted: &[u64], q: f64) -> u64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// All latencies of a stream of exchanges: 3 significant digits, exact maximum.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    hdr: Histogram<u64>,
    max: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    pub fn new() -> Self {
        LatencyHistogram {
            hdr: Histogram::new_with_bounds(1, HIGHEST_NS, 3)
                .expect("constant bounds are valid for hdrhistogram"),
            max: 0,
        }
    }

    pub fn record(&mut self, ns: u64) {
        self.hdr.saturating_record(ns);
        self.max = self.max.max(ns);
    }

    pub fn len(&self) -> u64 {
        self.hdr.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hdr.is_empty()
    }

    pub fn reset(&mut self) {
        self.hdr.reset();
        self.max = 0;
    }

    pub fn percentiles(&self) -> Percentiles {
        hdr_percentiles(&self.hdr, self.max)
    }

    pub fn quantile(&self, q: f64) -> u64 {
        if self.is_empty() {
            0
        } else {
            self.hdr.value_at_quantile(q).min(self.max)
        }
    }
}

/// Samples kept exactly before a tuple gets a histogram: most tuples (one connection per
/// request) see a handful of exchanges, and a 2-digit hdrhistogram costs ~13 KiB.
const EXACT_SAMPLES: usize = 32;

/// One tuple's latencies: exact while few, then an hdrhistogram with 2 significant digits and
/// 1 µs resolution (u32 counts) to keep memory modest across many tuples.
#[derive(Clone, Debug)]
pub enum ConnectionLatency {
    Exact(Vec<u64>),
    Histogram { hdr: Box<Histogram<u32>>, max: u64 },
}

impl Default for ConnectionLatency {
    fn default() -> Self {
        ConnectionLatency::Exact(Vec::new())
    }
}

impl ConnectionLatency {
    pub fn record(&mut self, ns: u64) {
        match self {
            ConnectionLatency::Exact(samples) if samples.len() < EXACT_SAMPLES => samples.push(ns),
            ConnectionLatency::Exact(samples) => {
                let mut hdr = Box::new(
                    Histogram::new_with_bounds(1_000, HIGHEST_NS, 2)
                        .expect("constant bounds are valid for hdrhistogram"),
                );
                let mut max = ns;
                for &s in samples.iter().chain([ns].iter()) {
                    hdr.saturating_record(s);
                    max = max.max(s);
                }
                *self = ConnectionLatency::Histogram { hdr, max };
            }
            ConnectionLatency::Histogram { hdr, max } => {
                hdr.saturating_record(ns);
                *max = (*max).max(ns);
            }
        }
    }

    pub fn percentiles(&self) -> Percentiles {
        match self {
            ConnectionLatency::Exact(samples) if samples.is_empty() => Percentiles::default(),
            ConnectionLatency::Exact(samples) => {
                let mut sorted = samples.clone();
                sorted.sort_unstable();
                let [p50, p90, p99, p999] = QUANTILES.map(|q| sorted_quantile(&sorted, q));
                Percentiles {
                    p50,
                    p90,
                    p99,
                    p999,
                    max: sorted[sorted.len() - 1],
                }
            }
            ConnectionLatency::Histogram { hdr, max } => hdr_percentiles(hdr, *max),
        }
    }

    /// The log2 histogram of this tuple's latencies (exact while samples are kept; from
    /// hdrhistogram buckets afterwards, whose 1% width rarely straddles a power of two).
    pub fn log2_histogram(&self) -> [u64; LOG2_BUCKETS] {
        let mut buckets = [0u64; LOG2_BUCKETS];
        match self {
            ConnectionLatency::Exact(samples) => {
                for &s in samples {
                    buckets[log2_bucket(s)] += 1;
                }
            }
            ConnectionLatency::Histogram { hdr, .. } => {
                for v in hdr.iter_recorded() {
                    let value = hdr.median_equivalent(v.value_iterated_to());
                    buckets[log2_bucket(value)] += v.count_at_value() as u64;
                }
            }
        }
        buckets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_buckets_match_the_kernel() {
        assert_eq!(log2_bucket(0), 0);
        assert_eq!(log2_bucket(1), 0);
        assert_eq!(log2_bucket(2), 1);
        assert_eq!(log2_bucket(3), 1);
        assert_eq!(log2_bucket(1024), 10);
        assert_eq!(log2_bucket(u64::MAX), 63);
        assert_eq!(log2_bucket_floor(0), 0);
        assert_eq!(log2_bucket_floor(10), 1024);
    }

    #[test]
    fn log2_bounds_are_the_upper_ends_of_the_buckets() {
        let mut b = [0u64; LOG2_BUCKETS];
        assert_eq!(log2_percentile_bounds(&b), None);
        b[10] = 50; // [1024, 2048)
        b[20] = 49; // [1.05ms, 2.10ms)
        b[30] = 1;
        let p = log2_percentile_bounds(&b).unwrap();
        assert_eq!(
            (p.p50, p.p90, p.p99, p.p999),
            (2048, 1 << 21, 1 << 21, 1 << 31)
        );
        assert_eq!(p.max, 1 << 31);
    }

    #[test]
    fn global_percentiles_are_exact_in_the_exact_range() {
        let mut h = LatencyHistogram::new();
        assert_eq!(h.percentiles(), Percentiles::default());
        for ns in 1..=1000 {
            h.record(ns);
        }
        assert_eq!(
            h.percentiles(),
            Percentiles {
                p50: 500,
                p90: 900,
                p99: 990,
                p999: 999,
                max: 1000
            }
        );
    }

    #[test]
    fn global_percentiles_keep_three_digits_for_milliseconds() {
        let mut h = LatencyHistogram::new();
        for _ in 0..99 {
            h.record(20_000_000);
        }
        h.record(123_456_789);
        let p = h.percentiles();
        assert!((20_000_000..20_020_000).contains(&p.p50), "{p:?}");
        assert_eq!(p.p99, p.p50);
        assert_eq!(p.max, 123_456_789);
        assert!((123_400_000..=123_456_789).contains(&p.p999), "{p:?}");
    }

    #[test]
    fn connection_latency_is_exact_then_switches_to_a_histogram() {
        let mut t = ConnectionLatency::default();
        for ms in 1..=10u64 {
            t.record(ms * 1_000_000);
        }
        assert_eq!(
            t.percentiles(),
            Percentiles {
                p50: 5_000_000,
                p90: 9_000_000,
                p99: 10_000_000,
                p999: 10_000_000,
                max: 10_000_000
            }
        );
        for _ in 0..90 {
            t.record(50_000_000);
        }
        assert!(matches!(t, ConnectionLatency::Histogram { .. }));
        let p = t.percentiles();
        // 2 significant digits: within 1% above the true value.
        assert!((50_000_000..50_500_000).contains(&p.p50), "{p:?}");
        assert_eq!(p.max, 50_000_000);
        let log2 = t.log2_histogram();
        assert_eq!(log2.iter().sum::<u64>(), 100);
        assert_eq!(log2[log2_bucket(50_000_000)], 90);
        assert_eq!(log2[log2_bucket(1_000_000)], 1);
    }
}
