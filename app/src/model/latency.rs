//! Latency distributions: the global one (hdrhistogram, 3 significant digits), a compact
//! per-row one ([`LogLinear`]), and the log2 buckets the kernel uses.

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

/// Samples kept exactly before a row gets a histogram: most connections (one per request) see
/// a handful of exchanges.
const EXACT_SAMPLES: usize = 32;

/// One row's latencies: exact while few, then a [`LogLinear`] histogram (under 0.8 % above the
/// true value, exact maximum). Every exchange is recorded in a row of each grouping, so this is
/// the model's most frequent write: it must stay a few instructions on a small, warm array.
#[derive(Clone, Debug)]
pub enum ConnectionLatency {
    Exact(Vec<u64>),
    Histogram(Box<LogLinear>),
}

impl Default for ConnectionLatency {
    fn default() -> Self {
        ConnectionLatency::Exact(Vec::new())
    }
}

impl ConnectionLatency {
    /// Nothing recorded yet (a histogram is only made past the exact samples).
    pub fn is_empty(&self) -> bool {
        matches!(self, ConnectionLatency::Exact(samples) if samples.is_empty())
    }

    pub fn record(&mut self, ns: u64) {
        match self {
            ConnectionLatency::Exact(samples) if samples.len() < EXACT_SAMPLES => samples.push(ns),
            ConnectionLatency::Exact(samples) => {
                let mut histogram = Box::<LogLinear>::default();
                for &s in samples.iter().chain([ns].iter()) {
                    histogram.record(s);
                }
                *self = ConnectionLatency::Histogram(histogram);
            }
            ConnectionLatency::Histogram(histogram) => histogram.record(ns),
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
            ConnectionLatency::Histogram(histogram) => histogram.percentiles(),
        }
    }

    /// The log2 histogram of this row's latencies: exact, since every bucket of a [`LogLinear`]
    /// lies inside one power of two.
    pub fn log2_histogram(&self) -> [u64; LOG2_BUCKETS] {
        let mut buckets = [0u64; LOG2_BUCKETS];
        match self {
            ConnectionLatency::Exact(samples) => {
                for &s in samples {
                    buckets[log2_bucket(s)] += 1;
                }
            }
            ConnectionLatency::Histogram(histogram) => {
                for (octave, counts) in &histogram.octaves {
                    for (sub, &n) in counts.iter().enumerate() {
                        // Octave 0 holds the values below 128 one by one.
                        let log2 = if *octave == 0 {
                            log2_bucket(sub as u64)
                        } else {
                            *octave as usize
                        };
                        buckets[log2] += u64::from(n);
                    }
                }
            }
        }
        buckets
    }
}

/// Sub-buckets per power of two: 2^7, so a value is reported at most 1/128 (0.78 %) above
/// itself, as close as hdrhistogram's 2 significant digits.
const SUB_BITS: u32 = 7;
const SUBS: usize = 1 << SUB_BITS;

/// A log-linear histogram kept by power of two: each octave `[2^k, 2^(k+1))` seen gets 128
/// equal sub-buckets (values below 128 ns are exact in octave 0..=6's place, one per ns), and
/// only the octaves seen take memory (512 bytes each, usually a handful per row), where a
/// 2-digit hdrhistogram takes 13 KiB whatever was recorded.
#[derive(Clone, Debug, Default)]
pub struct LogLinear {
    /// By octave, ascending; few, so a scan finds one faster than a map would.
    octaves: Vec<(u8, [u32; SUBS])>,
    total: u64,
    max: u64,
}

impl LogLinear {
    /// Octave and sub-bucket of `ns`: below 128 every value is its own bucket, in octave 0.
    fn slot(ns: u64) -> (u8, usize) {
        if ns < SUBS as u64 {
            return (0, ns as usize);
        }
        let octave = 63 - ns.leading_zeros();
        let sub = (ns >> (octave - SUB_BITS)) as usize & (SUBS - 1);
        (octave as u8, sub)
    }

    /// The highest value of a bucket (what hdrhistogram reports for a quantile).
    fn highest(octave: u8, sub: usize) -> u64 {
        if octave == 0 {
            return sub as u64;
        }
        let shift = u32::from(octave) - SUB_BITS;
        let low = (1u64 << octave) | ((sub as u64) << shift);
        low + ((1u64 << shift) - 1)
    }

    pub fn record(&mut self, ns: u64) {
        let (octave, sub) = Self::slot(ns);
        let counts = match self.octaves.iter().position(|(o, _)| *o >= octave) {
            Some(i) if self.octaves[i].0 == octave => &mut self.octaves[i].1,
            at => {
                let i = at.unwrap_or(self.octaves.len());
                self.octaves.insert(i, (octave, [0; SUBS]));
                &mut self.octaves[i].1
            }
        };
        counts[sub] = counts[sub].saturating_add(1);
        self.total += 1;
        self.max = self.max.max(ns);
    }

    /// By hdrhistogram's rule: for each quantile the bucket holding the `ceil(q * n)`-th value,
    /// reported as its highest value (never above the exact maximum).
    pub fn percentiles(&self) -> Percentiles {
        if self.total == 0 {
            return Percentiles::default();
        }
        let ranks = QUANTILES.map(|q| ((q * self.total as f64).ceil() as u64).clamp(1, self.total));
        let mut found = [self.max; 4];
        let mut next = 0;
        let mut seen = 0u64;
        'walk: for (octave, counts) in &self.octaves {
            for (sub, &n) in counts.iter().enumerate() {
                seen += u64::from(n);
                while next < ranks.len() && seen >= ranks[next] {
                    found[next] = Self::highest(*octave, sub).min(self.max);
                    next += 1;
                }
                if next == ranks.len() {
                    break 'walk;
                }
            }
        }
        let [p50, p90, p99, p999] = found;
        Percentiles {
            p50,
            p90,
            p99,
            p999,
            max: self.max,
        }
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
        assert!(matches!(t, ConnectionLatency::Histogram(_)));
        let p = t.percentiles();
        // Within 1/128 above the true value.
        assert!((50_000_000..50_390_625).contains(&p.p50), "{p:?}");
        assert_eq!(p.p90, p.p50);
        assert_eq!(p.max, 50_000_000);
        let log2 = t.log2_histogram();
        assert_eq!(log2.iter().sum::<u64>(), 100);
        assert_eq!(log2[log2_bucket(50_000_000)], 90);
        assert_eq!(log2[log2_bucket(1_000_000)], 1);
    }

    /// Every value lands in a bucket whose highest value is at most 1/128 above it, the
    /// buckets of an octave tile it, and quantiles follow hdrhistogram's rank rule.
    #[test]
    fn log_linear_buckets_tile_each_octave_and_report_within_one_128th() {
        for ns in (0..5_000u64).chain([1 << 20, (1 << 20) + 8191, 3_600_000_000_000, u64::MAX]) {
            let (octave, sub) = LogLinear::slot(ns);
            let top = LogLinear::highest(octave, sub);
            assert!(top >= ns, "{ns}: {top}");
            assert!(top - ns <= ns / 128, "{ns}: {top}");
            if octave > 0 {
                assert_eq!(log2_bucket(ns), octave as usize, "{ns}");
                assert_eq!(log2_bucket(top), octave as usize, "{ns}");
            }
        }
        // Neighbouring buckets leave no gap: the value after a bucket's highest is the next's.
        for ns in [127u64, 128, 255, 256, 1_000_000, (1 << 33) - 1] {
            let (o, s) = LogLinear::slot(ns);
            let after = LogLinear::slot(LogLinear::highest(o, s) + 1);
            assert_ne!(after, (o, s), "{ns}");
        }
        let mut h = LogLinear::default();
        for ns in 1..=1000u64 {
            h.record(ns * 1_000);
        }
        let p = h.percentiles();
        assert_eq!(p.max, 1_000_000);
        for (got, exact) in [
            (p.p50, 500_000u64),
            (p.p90, 900_000),
            (p.p99, 990_000),
            (p.p999, 999_000),
        ] {
            assert!(
                got >= exact && got - exact <= exact / 128,
                "{got} vs {exact}: {p:?}"
            );
        }
        let mut small = ConnectionLatency::default();
        for ns in (0..40u64).map(|i| 3 + i % 2 * 1_000) {
            small.record(ns);
        }
        assert!(matches!(small, ConnectionLatency::Histogram(_)));
        assert_eq!(small.percentiles().p50, 3);
        assert_eq!(small.percentiles().max, 1_003);
        let log2 = small.log2_histogram();
        assert_eq!((log2[1], log2[9]), (20, 20));
    }
}
