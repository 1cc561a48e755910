//! The event consumer falling behind: a burst of exchanges larger than the ring buffer (8 MiB,
//! each event its own size plus an 8-byte header) run through the loaded kernel programs
//! (BPF_PROG_TEST_RUN) before anything is drained. The events that did not fit are counted as lost, the kernel's counters
//! and histogram stay exact, received + lost = exchanges, and the summary says the per-row
//! figures are partial.
//!
//! Root only: run through `cargo xtask test`.

use httptop::{
    Counter,
    kernel::{Kernel, KernelConfig},
    model::{Group, Model, ModelOptions, Source},
};
use httptop_tests::{
    frames::{ACK, ETH_P_IP, End, ethernet, ipv4_tcp},
    test_run::test_run,
};
use probe_common::{names::EVENTS_BYTES, wire::ExchangeEvent};

const SERVER: End = End {
    addr: [10, 9, 0, 1],
    port: 80,
};
const GET: &[u8] = b"GET /burst HTTP/1.1\r\n\r\n";
const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";

#[test]
#[ignore = "needs root"]
fn a_burst_past_the_ring_buffer_counts_lost_events_and_stays_exact() {
    // A ring-buffer record is the event behind an 8-byte header, 8-aligned.
    let record = (size_of::<ExchangeEvent>() + 8).next_multiple_of(8) as u64;
    let capacity = u64::from(EVENTS_BYTES) / record;
    let burst = capacity + 5_000;
    let mut kernel = Kernel::load(&KernelConfig::default()).expect("load (root needed)");
    let run = |frame: &[u8]| test_run(&kernel, frame);
    // One keep-alive connection, one exchange after the other.
    let client = End {
        addr: [10, 9, 0, 2],
        port: 40000,
    };
    for i in 0..burst as u32 {
        let seq = 1 + i * GET.len() as u32;
        run(&ethernet(
            ETH_P_IP,
            &ipv4_tcp(client, SERVER, seq, ACK, GET),
        ));
        let seq = 1 + i * OK.len() as u32;
        run(&ethernet(ETH_P_IP, &ipv4_tcp(SERVER, client, seq, ACK, OK)));
    }
    let mut model = Model::new(ModelOptions::default());
    let received = kernel.drain_events(|e| model.apply(e)) as u64;
    let totals = kernel.totals().expect("totals");
    assert_eq!(totals[Counter::Exchanges], burst);
    assert_eq!(
        totals.histogram_log2.iter().sum::<u64>(),
        burst,
        "the histogram is exact"
    );
    assert_eq!(received, capacity, "the ring buffer held {capacity} events");
    assert_eq!(totals[Counter::EventsLost], burst - capacity);
    model.set_kernel_totals(totals);
    let summary = model.summary(Group::Connection, 10, Source::Kernel);
    let text = summary.to_text();
    assert!(
        text.contains(&format!("{} events lost", burst - capacity)) && text.contains("partial"),
        "the summary says the figures are partial:\n{text}"
    );
    let json = serde_json::to_value(&summary).expect("JSON");
    assert_eq!(json["events_received"].as_u64(), Some(capacity));
    assert_eq!(json["top_talkers"][0]["exchanges"].as_u64(), Some(capacity));
}
