//! The two clocks httptop reads: CLOCK_MONOTONIC, the clock of the kernel's `bpf_ktime_get_ns()`
//! that every exchange is timed with, and the process's own CPU time for its cost figure.

/// CLOCK_MONOTONIC now, in ns: the clock of `bpf_ktime_get_ns()`.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// The process's CPU time in ns (all threads): nanosecond resolution, where /proc's utime and
/// stime count 10 ms ticks and read 0% or 5% at a 200 ms refresh.
pub fn process_cpu_ns() -> u64 {
    clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer; both clocks exist on every kernel httptop runs on.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
