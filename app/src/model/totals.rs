//! The kernel's exact counters, and the baseline that `reset` subtracts from them.

use super::latency::LOG2_BUCKETS;

/// Sums of the kernel's per-CPU counters plus user-space additions; monotonically increasing
/// (except `in_flight`, a gauge) until the model is reset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelTotals {
    pub requests: u64,
    pub responses: u64,
    pub exchanges: u64,
    pub unmatched_responses: u64,
    pub expired_requests: u64,
    pub events_lost: u64,
    pub duplicate_segments: u64,
    pub conn_table_full: u64,
    pub pipeline_overflow: u64,
    pub scan_incomplete: u64,
    pub interim_responses: u64,
    /// Requests outstanding right now (a gauge, not a counter).
    pub in_flight: u64,
    /// Kernel log2 latency histogram: bucket b = [2^b, 2^(b+1)) ns.
    pub histogram_log2: [u64; LOG2_BUCKETS],
    /// BPF run-time statistics of the socket filter (0 when unavailable).
    pub filter_run_ns: u64,
    pub filter_run_cnt: u64,
}

// Written out because `Default` for arrays stops at 32 elements.
impl Default for KernelTotals {
    fn default() -> Self {
        KernelTotals {
            requests: 0,
            responses: 0,
            exchanges: 0,
            unmatched_responses: 0,
            expired_requests: 0,
            events_lost: 0,
            duplicate_segments: 0,
            conn_table_full: 0,
            pipeline_overflow: 0,
            scan_incomplete: 0,
            interim_responses: 0,
            in_flight: 0,
            histogram_log2: [0; LOG2_BUCKETS],
            filter_run_ns: 0,
            filter_run_cnt: 0,
        }
    }
}

impl KernelTotals {
    /// `self - baseline` for every counter; `in_flight` is a gauge and stays as it is.
    /// Saturating, in case the kernel's counters restarted (probe reloaded).
    pub fn since(&self, baseline: &KernelTotals) -> KernelTotals {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        let mut histogram_log2 = [0; LOG2_BUCKETS];
        for (b, out) in histogram_log2.iter_mut().enumerate() {
            *out = d(self.histogram_log2[b], baseline.histogram_log2[b]);
        }
        KernelTotals {
            requests: d(self.requests, baseline.requests),
            responses: d(self.responses, baseline.responses),
            exchanges: d(self.exchanges, baseline.exchanges),
            unmatched_responses: d(self.unmatched_responses, baseline.unmatched_responses),
            expired_requests: d(self.expired_requests, baseline.expired_requests),
            events_lost: d(self.events_lost, baseline.events_lost),
            duplicate_segments: d(self.duplicate_segments, baseline.duplicate_segments),
            conn_table_full: d(self.conn_table_full, baseline.conn_table_full),
            pipeline_overflow: d(self.pipeline_overflow, baseline.pipeline_overflow),
            scan_incomplete: d(self.scan_incomplete, baseline.scan_incomplete),
            interim_responses: d(self.interim_responses, baseline.interim_responses),
            in_flight: self.in_flight,
            histogram_log2,
            filter_run_ns: d(self.filter_run_ns, baseline.filter_run_ns),
            filter_run_cnt: d(self.filter_run_cnt, baseline.filter_run_cnt),
        }
    }

    /// Mean ns per socket-filter run between `earlier` and `self`; `None` when the filter did
    /// not run or the kernel's run-time statistics are off.
    pub fn filter_ns_per_run_since(&self, earlier: &KernelTotals) -> Option<f64> {
        let runs = self.filter_run_cnt.checked_sub(earlier.filter_run_cnt)?;
        let ns = self.filter_run_ns.checked_sub(earlier.filter_run_ns)?;
        (runs > 0).then(|| ns as f64 / runs as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_subtracts_counters_but_not_the_in_flight_gauge() {
        let mut baseline = KernelTotals {
            exchanges: 10,
            in_flight: 3,
            ..Default::default()
        };
        baseline.histogram_log2[5] = 4;
        let mut now = KernelTotals {
            exchanges: 15,
            in_flight: 2,
            events_lost: 1,
            ..Default::default()
        };
        now.histogram_log2[5] = 6;
        let d = now.since(&baseline);
        assert_eq!(d.exchanges, 5);
        assert_eq!(d.in_flight, 2);
        assert_eq!(d.events_lost, 1);
        assert_eq!(d.histogram_log2[5], 2);
        // A restarted kernel counter does not wrap around.
        assert_eq!(baseline.since(&now).exchanges, 0);
    }

    #[test]
    fn filter_cost_is_the_mean_over_the_interval() {
        let a = KernelTotals {
            filter_run_ns: 1_000,
            filter_run_cnt: 10,
            ..Default::default()
        };
        let b = KernelTotals {
            filter_run_ns: 5_000,
            filter_run_cnt: 30,
            ..Default::default()
        };
        assert_eq!(b.filter_ns_per_run_since(&a), Some(200.0));
        assert_eq!(b.filter_ns_per_run_since(&b), None);
        assert_eq!(a.filter_ns_per_run_since(&b), None);
    }
}
