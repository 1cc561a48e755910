//! The kernel's exact counters, and the baseline that `reset` subtracts from them.

use std::ops::{Index, IndexMut};

use probe_common::wire::Counter;
use serde::ser::{Serialize, SerializeMap as _, Serializer};

use super::latency::LOG2_BUCKETS;

/// One value per kernel counter, indexed by [`Counter`]. Serialised as a map from each
/// counter's JSON key to its value, in [`Counter::ALL`]'s order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters([u64; Counter::COUNT]);

impl Index<Counter> for Counters {
    type Output = u64;

    fn index(&self, counter: Counter) -> &u64 {
        &self.0[counter as usize]
    }
}

impl IndexMut<Counter> for Counters {
    fn index_mut(&mut self, counter: Counter) -> &mut u64 {
        &mut self.0[counter as usize]
    }
}

/// The counters given, the others 0.
impl<const N: usize> From<[(Counter, u64); N]> for Counters {
    fn from(values: [(Counter, u64); N]) -> Self {
        let mut counters = Counters::default();
        for (counter, value) in values {
            counters[counter] = value;
        }
        counters
    }
}

impl Counters {
    /// `self - baseline` for every counter, saturating (the kernel's counters restart when
    /// the programs are reloaded).
    pub fn since(&self, baseline: &Counters) -> Counters {
        let mut d = Counters::default();
        for counter in Counter::ALL {
            d[counter] = self[counter].saturating_sub(baseline[counter]);
        }
        d
    }
}

impl Serialize for Counters {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(Counter::COUNT))?;
        for counter in Counter::ALL {
            map.serialize_entry(counter.key(), &self[counter])?;
        }
        map.end()
    }
}

/// Sums of the kernel's per-CPU counters plus user-space additions; monotonically increasing
/// (except `in_flight`, a gauge) until the model is reset. Index it by [`Counter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelTotals {
    /// The kernel's counters; `ExpiredRequests` includes the requests user space's sweeper
    /// expired.
    pub counters: Counters,
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
            counters: Counters::default(),
            in_flight: 0,
            histogram_log2: [0; LOG2_BUCKETS],
            filter_run_ns: 0,
            filter_run_cnt: 0,
        }
    }
}

impl Index<Counter> for KernelTotals {
    type Output = u64;

    fn index(&self, counter: Counter) -> &u64 {
        &self.counters[counter]
    }
}

impl IndexMut<Counter> for KernelTotals {
    fn index_mut(&mut self, counter: Counter) -> &mut u64 {
        &mut self.counters[counter]
    }
}

impl KernelTotals {
    /// Adds `other`'s counts to these: the totals of several namespaces' programs (each has
    /// its own maps) are their sums.
    pub fn add(&mut self, other: &KernelTotals) {
        for counter in Counter::ALL {
            self[counter] += other[counter];
        }
        self.in_flight += other.in_flight;
        for (sum, n) in self.histogram_log2.iter_mut().zip(other.histogram_log2) {
            *sum += n;
        }
        self.filter_run_ns += other.filter_run_ns;
        self.filter_run_cnt += other.filter_run_cnt;
    }

    /// The value of one kernel counter.
    pub fn get(&self, counter: Counter) -> u64 {
        self[counter]
    }

    /// `self - baseline` for every counter; `in_flight` is a gauge and stays as it is.
    /// Saturating, in case the kernel's counters restarted (programs reloaded).
    pub fn since(&self, baseline: &KernelTotals) -> KernelTotals {
        let d = |now: u64, then: u64| now.saturating_sub(then);
        let mut histogram_log2 = [0; LOG2_BUCKETS];
        for (b, out) in histogram_log2.iter_mut().enumerate() {
            *out = d(self.histogram_log2[b], baseline.histogram_log2[b]);
        }
        KernelTotals {
            counters: self.counters.since(&baseline.counters),
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
            counters: [(Counter::Exchanges, 10)].into(),
            in_flight: 3,
            ..Default::default()
        };
        baseline.histogram_log2[5] = 4;
        let mut now = KernelTotals {
            counters: [(Counter::Exchanges, 15), (Counter::EventsLost, 1)].into(),
            in_flight: 2,
            ..Default::default()
        };
        now.histogram_log2[5] = 6;
        let d = now.since(&baseline);
        assert_eq!(d[Counter::Exchanges], 5);
        assert_eq!(d.in_flight, 2);
        assert_eq!(d[Counter::EventsLost], 1);
        assert_eq!(d.histogram_log2[5], 2);
        // A restarted kernel counter does not wrap around.
        assert_eq!(baseline.since(&now)[Counter::Exchanges], 0);
    }

    #[test]
    fn since_covers_every_counter() {
        let mut now = KernelTotals::default();
        for (n, counter) in Counter::ALL.into_iter().enumerate() {
            now[counter] = 10 + n as u64;
        }
        let baseline = KernelTotals {
            counters: Counter::ALL.map(|counter| (counter, 10)).into(),
            ..Default::default()
        };
        let d = now.since(&baseline);
        for (n, counter) in Counter::ALL.into_iter().enumerate() {
            assert_eq!(d.get(counter), n as u64, "{counter:?}");
        }
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
