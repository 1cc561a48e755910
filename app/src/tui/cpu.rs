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
        let mut meter = CpuMeter::new();
        assert_eq!(meter.sample(), None);
        let before = process_cpu_ns();
        let start = Instant::now();
        // Burn about 30 ms of CPU.
        let mut x = 0u64;
        while start.elapsed().as_millis() < 30 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(process_cpu_ns() > before);
        let pct = meter.sample().expect("second sample");
        // The thread was busy the whole time; other test threads may add to it.
        assert!(pct >= 50.0, "{pct}");
    }
}
