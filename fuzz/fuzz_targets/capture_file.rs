//! `httptop --read FILE` on arbitrary bytes: an error or totals, never a panic or a hang; and
//! when there are totals, the identities of a finished run hold in them.
//!
//! The summary is not rendered here: its percentiles cost several times the read itself under
//! coverage instrumentation, and they come from the model, not from the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: httptop_fuzz::init(), |data: &[u8]| {
    let Some((totals, events)) =
        httptop_fuzz::read_capture(data, |model, events| (model.kernel_totals(), events))
    else {
        return;
    };
    assert_eq!(
        totals.requests,
        totals.exchanges + totals.expired_requests + totals.in_flight,
        "requests"
    );
    assert_eq!(
        totals.responses,
        totals.exchanges + totals.unmatched_responses + totals.interim_responses,
        "responses"
    );
    // Offline, no event can be lost.
    assert_eq!(totals.events_lost, 0);
    assert_eq!(events, totals.exchanges, "an exchange event per exchange");
});
