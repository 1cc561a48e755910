//! httptop's own CPU use, from `/proc/self/stat` (utime + stime).

use std::time::Instant;

/// Differences successive readings of the process's CPU time.
pub struct CpuMeter {
    ticks_per_s: f64,
    last: Option<(Instant, u64)>,
}

impl CpuMeter {
    pub fn new() -> Self {
        // SAFETY: sysconf only reads a configuration value.
        let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        CpuMeter {
            ticks_per_s: if ticks > 0 { ticks as f64 } else { 100.0 },
            last: None,
        }
    }

    /// CPU % (100 = one core) since the previous call; `None` on the first call or when
    /// `/proc` cannot be read.
    pub fn sample(&mut self) -> Option<f64> {
        let ticks = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| cpu_ticks(&s))?;
        let now = Instant::now();
        let (then, before) = self.last.replace((now, ticks))?;
        let seconds = now.duration_since(then).as_secs_f64();
        (seconds > 0.0)
            .then(|| ticks.saturating_sub(before) as f64 / self.ticks_per_s / seconds * 100.0)
    }
}

/// utime + stime (fields 14 and 15). The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from after its closing parenthesis.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first after ')'
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utime_and_stime_past_an_awkward_command_name() {
        let stat =
            "1234 (my (odd) cmd) S 1 1234 1234 0 -1 4194560 100 0 0 0 37 5 0 0 20 0 1 0 100 0 0";
        assert_eq!(cpu_ticks(stat), Some(42));
        assert_eq!(cpu_ticks("garbage"), None);
    }
}
