//! The connection table under exhaustion, on the loaded kernel programs fed through
//! BPF_PROG_TEST_RUN: 65,536 spoofed requests that are never answered fill it, the overflow is
//! counted exactly, the sweep makes room by dropping the oldest never-answered connections
//! (counted as expired) so real requests are tracked again, and after the request timeout the
//! table drains. A SYN flood leaves no state at all. Prints the sweep's CPU time per call with a
//! full table (a measurement for BENCHMARKS.md, not an assertion).
//!
//! Root only: run through `cargo xtask test`.

use std::time::Duration;

use httptop::{
    Counter,
    kernel::{Kernel, KernelConfig, Swept, monotonic_ns},
};
use httptop_tests::{
    frames::{ACK, ETH_P_IP, End, SYN, ethernet, ipv4_tcp},
    test_run::test_run as run,
};
use probe_common::names::CONNS_ENTRIES;

const SERVER: End = End {
    addr: [10, 200, 0, 1],
    port: 80,
};
const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
const TIMEOUT: Duration = Duration::from_secs(30);

/// Client number `i`: a distinct address per connection (10.x.y.z), one port.
fn client(i: u32) -> End {
    let [_, a, b, c] = (i + 1).to_be_bytes();
    End {
        addr: [10, a, b, c],
        port: 40000,
    }
}

fn from(client: End, to: End, flags: u8, payload: &[u8]) -> Vec<u8> {
    ethernet(ETH_P_IP, &ipv4_tcp(client, to, 1, flags, payload))
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[track_caller]
fn assert_counters(kernel: &Kernel, expected: &[(Counter, u64)]) {
    let t = kernel.totals().expect("totals");
    for (counter, value) in expected {
        assert_eq!(t[*counter], *value, "{}", counter.key());
    }
}

/// The named counters, the in-flight gauge (as of the last sweep) and requests = exchanges +
/// expired + in_flight.
#[track_caller]
fn assert_totals(kernel: &Kernel, expected: &[(Counter, u64)], in_flight: u64) {
    assert_counters(kernel, expected);
    let t = kernel.totals().expect("totals");
    assert_eq!(t.in_flight, in_flight, "in_flight");
    assert_eq!(
        t[Counter::Requests],
        t[Counter::Exchanges] + t[Counter::ExpiredRequests] + t.in_flight,
        "requests = exchanges + expired + in_flight"
    );
}

#[test]
#[ignore = "needs root"]
fn a_syn_flood_leaves_no_connection_state() {
    let mut kernel = Kernel::load(&KernelConfig::default()).expect("load (root needed)");
    for i in 0..10_000 {
        run(&kernel, &from(client(i), SERVER, SYN, b""));
        // The server's SYN-ACK and a bare ACK carry no HTTP byte either.
        run(&kernel, &from(SERVER, client(i), SYN | ACK, b""));
        run(&kernel, &from(client(i), SERVER, ACK, b""));
    }
    let swept = kernel.sweep(monotonic_ns(), TIMEOUT).expect("sweep");
    assert_eq!(swept.connections, 0, "no state before the first HTTP byte");
    assert_totals(&kernel, &[(Counter::Requests, 0)], 0);
}

/// A table full of answered keep-alive connections: nothing to expire or evict, the sweep
/// walks all of it every second. Its CPU time per call is printed.
#[test]
#[ignore = "needs root"]
fn a_full_table_of_live_connections_stays_and_is_swept() {
    let capacity = CONNS_ENTRIES;
    let mut kernel = Kernel::load(&KernelConfig::default()).expect("load (root needed)");
    for i in 0..capacity {
        run(&kernel, &from(client(i), SERVER, ACK, GET));
        run(
            &kernel,
            &ethernet(ETH_P_IP, &ipv4_tcp(SERVER, client(i), 1, ACK, OK)),
        );
    }
    let mut cpu_ns = Vec::new();
    for _ in 0..5 {
        let before = thread_cpu_ns();
        let swept = kernel.sweep(monotonic_ns(), TIMEOUT).expect("sweep");
        cpu_ns.push(thread_cpu_ns() - before);
        assert_eq!(
            swept,
            Swept {
                expired: 0,
                evicted: 0,
                connections: u64::from(capacity)
            }
        );
    }
    eprintln!("sweep CPU per call, full table of answered connections (ns): {cpu_ns:?}");
    assert_totals(
        &kernel,
        &[
            (Counter::Requests, u64::from(capacity)),
            (Counter::Exchanges, u64::from(capacity)),
        ],
        0,
    );
}

#[test]
#[ignore = "needs root"]
fn spoofed_requests_fill_the_table_and_the_sweep_makes_room() {
    let capacity = u64::from(CONNS_ENTRIES);
    const OVERFLOW: u64 = 100;
    let mut kernel = Kernel::load(&KernelConfig::default()).expect("load (root needed)");
    // One real connection answered before the flood: it has seen its server and stays.
    let real = client(capacity as u32 + OVERFLOW as u32 + 1);
    run(&kernel, &from(real, SERVER, ACK, GET));
    run(
        &kernel,
        &ethernet(ETH_P_IP, &ipv4_tcp(SERVER, real, 1, ACK, OK)),
    );
    for i in 0..(capacity - 1 + OVERFLOW) as u32 {
        run(&kernel, &from(client(i), SERVER, ACK, GET));
    }
    assert_counters(
        &kernel,
        &[
            (Counter::Requests, capacity + OVERFLOW),
            (Counter::Exchanges, 1),
            (Counter::ConnTableFull, OVERFLOW),
            (Counter::ExpiredRequests, OVERFLOW),
        ],
    );

    let before = thread_cpu_ns();
    let first = kernel.sweep(monotonic_ns(), TIMEOUT).expect("sweep");
    eprintln!(
        "sweep CPU, full table of never-answered connections, evicting: {} ns",
        thread_cpu_ns() - before
    );
    // Above 7/8 full: the oldest never-answered connections go, down to 3/4, counted as
    // expired; the answered one stays.
    let low_water = capacity / 4 * 3;
    let evicted = capacity - low_water;
    assert_eq!(first.evicted, evicted);
    assert_eq!(first.expired, evicted);
    assert_eq!(first.connections, low_water);
    assert_totals(
        &kernel,
        &[(Counter::ExpiredRequests, OVERFLOW + evicted)],
        low_water - 1,
    );

    // A real request is tracked again and pairs.
    let late = client(capacity as u32 + OVERFLOW as u32 + 2);
    run(&kernel, &from(late, SERVER, ACK, GET));
    run(
        &kernel,
        &ethernet(ETH_P_IP, &ipv4_tcp(SERVER, late, 1, ACK, OK)),
    );
    assert_totals(
        &kernel,
        &[(Counter::Exchanges, 2), (Counter::ConnTableFull, OVERFLOW)],
        low_water - 1,
    );

    // After the request timeout, everything drains.
    let later = monotonic_ns() + TIMEOUT.as_nanos() as u64 + 1;
    let drained = kernel.sweep(later, TIMEOUT).expect("sweep");
    assert_eq!(drained.connections, 0);
    assert_totals(
        &kernel,
        &[
            (Counter::Requests, capacity + OVERFLOW + 1),
            (Counter::Exchanges, 2),
            (Counter::ExpiredRequests, capacity + OVERFLOW - 1),
        ],
        0,
    );
}
