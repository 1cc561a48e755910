//! Traffic that bends the rules, live against real servers in a namespace: each case counted
//! exactly as docs/terms.md says, and httptop still exits cleanly with its summary.
//!
//! Root only: run through `cargo xtask test`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use httptop::Counter;
use httptop_tests::{Httptop, NetNs, Nginx, pipelining_client};

const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Every kernel counter of a summary that a test does not name is 0, except duplicate segments
/// (which depend on the network).
#[track_caller]
fn assert_counters(summary: &httptop_tests::Summary, expected: &[(Counter, u64)], in_flight: u64) {
    for (counter, value) in summary.counters() {
        if counter == Counter::DuplicateSegments {
            continue;
        }
        let want = expected
            .iter()
            .find(|(c, _)| *c == counter)
            .map_or(0, |(_, v)| *v);
        assert_eq!(value, want, "{}; summary:\n{summary}", counter.key());
    }
    assert_eq!(
        summary.count("in_flight"),
        in_flight,
        "in_flight; summary:\n{summary}"
    );
}

/// 24 requests in one write to nginx, which answers all 24: the 16 the connection can hold pair,
/// the 8 past them are requests that overflowed (also expired), and their 8 answers find no
/// request waiting.
#[test]
#[ignore = "needs root"]
fn more_than_16_pipelined_in_one_write_count_as_overflow() {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[NGINX]);
    let httptop = Httptop::attach(&ns, &[]);
    pipelining_client(&ns, NGINX, 24, 1);
    let summary = httptop.stop();
    assert_counters(
        &summary,
        &[
            (Counter::Requests, 24),
            (Counter::Responses, 24),
            (Counter::Exchanges, 16),
            (Counter::ExpiredRequests, 8),
            (Counter::PipelineOverflow, 8),
            (Counter::UnmatchedResponses, 8),
        ],
        0,
    );
}
