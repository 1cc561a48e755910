//! Sparkline history: one point per refresh interval, a bounded number of them.

use std::collections::VecDeque;

use super::stats::share;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HistoryPoint {
    /// CLOCK_MONOTONIC ns at which the interval opened.
    pub start_ns: u64,
    /// CLOCK_MONOTONIC ns at which the interval closed.
    pub end_ns: u64,
    pub exchanges: u64,
    pub req_per_s: f64,
    /// p99 latency of the exchanges of this interval (0 when none).
    pub p99_ns: u64,
    /// 4xx responses among this interval's exchanges.
    pub status_4xx: u64,
    /// 5xx responses among this interval's exchanges.
    pub status_5xx: u64,
}

impl HistoryPoint {
    /// Share of 4xx among this interval's exchanges (0 when none).
    pub fn share_4xx(&self) -> f64 {
        share(self.status_4xx, self.exchanges)
    }

    /// Share of 4xx and 5xx together among this interval's exchanges (0 when none).
    pub fn error_share(&self) -> f64 {
        share(self.status_4xx + self.status_5xx, self.exchanges)
    }

    /// Share of 5xx among this interval's exchanges (0 when none): the errors SRE dashboards
    /// count.
    pub fn share_5xx(&self) -> f64 {
        share(self.status_5xx, self.exchanges)
    }
}

#[derive(Clone, Debug)]
pub struct History {
    points: VecDeque<HistoryPoint>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        History {
            points: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    pub fn push(&mut self, p: HistoryPoint) {
        if self.capacity == 0 {
            return;
        }
        if self.points.len() == self.capacity {
            self.points.pop_front();
        }
        self.points.push_back(p);
    }

    /// Whether it keeps any point (a run without the dashboard keeps none).
    pub fn keeps_points(&self) -> bool {
        self.capacity > 0
    }

    /// Points, oldest first.
    pub fn points(&self) -> impl DoubleEndedIterator<Item = &HistoryPoint> + ExactSizeIterator {
        self.points.iter()
    }

    pub fn last(&self) -> Option<&HistoryPoint> {
        self.points.back()
    }

    pub fn clear(&mut self) {
        self.points.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_points_up_to_capacity() {
        let mut h = History::new(2);
        for end_ns in 1..=3 {
            h.push(HistoryPoint {
                end_ns,
                ..Default::default()
            });
        }
        assert_eq!(h.points().map(|p| p.end_ns).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(h.last().map(|p| p.end_ns), Some(3));
        h.clear();
        assert_eq!(h.points().len(), 0);
    }
}
