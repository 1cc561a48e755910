//! The shipped build: `cargo build --release -p httptop` embeds httptop's own programs and none
//! of the benchmark's controls (cargo feature `bench-controls`).
//!
//! Needs that release binary (`HTTPTOP_BIN`): `cargo xtask test` builds it, then runs this with
//! the root tests.

use httptop_tests::httptop_binary;
use probe_common::names;

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[test]
#[ignore = "needs the release binary that cargo xtask test builds"]
fn release_binary_carries_no_benchmark_control_program() {
    let binary = httptop_binary();
    let bytes = std::fs::read(&binary).expect("reading the httptop binary");
    // The search finds program names where they are: the embedded object names its programs.
    assert!(
        holds(&bytes, names::MESSAGE_PROGRAM),
        "{} does not embed httptop's programs",
        binary.display()
    );
    for control in names::CONTROL_PROGRAMS {
        assert!(
            !holds(&bytes, control),
            "{} carries the benchmark control {control}",
            binary.display()
        );
    }
}
