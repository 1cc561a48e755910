//! httptop's own CPU use, from the process's CPU-time clock.

use std::time::Instant;

use crate::clock::process_cpu_ns;

/// Differences successive readings of the process's CPU time.
pub struct CpuMeter {
    last: Option<(Instant, u64)>,
}

impl CpuMeter {
    pub fn new() -> Self {
        CpuMeter { last: None }
    }

    /// CPU % (100 = one core) since the previous call; `None` on the first call.
    pub fn sample(&mut self) -> Option<f64> {
        let cpu_ns = process_cpu_ns();
        let now = Instant::now();
        let (then, before) = self.last.replace((now, cpu_ns))?;
        let seconds = now.duration_since(then).as_secs_f64();
        (seconds > 0.0).then(|| cpu_ns.saturating_sub(before) as f64 / 1e9 / seconds * 100.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_cpu_burnt_between_samples() {
        // Bounds read outside the meter's own readings, so the check holds however busy the
        // machine is: the meter saw at least the CPU burnt in between, over at most the time.
        let mut meter = CpuMeter::new();
        let outer = Instant::now();
        assert_eq!(meter.sample(), None);
        let before = process_cpu_ns();
        // Burn 30 ms of CPU (bounded by 5 s of wall time on a starved machine).
        let mut x = 0u64;
        while process_cpu_ns() - before < 30_000_000 && outer.elapsed().as_secs() < 5 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        let burnt = process_cpu_ns() - before;
        let pct = meter.sample().expect("second sample");
        let at_least = burnt as f64 / 1e9 / outer.elapsed().as_secs_f64() * 100.0;
        assert!(burnt > 0);
        assert!(pct >= at_least, "{pct} < {at_least}");
    }
}
