//! `httptop --read FILE` on arbitrary bytes: an error or totals, never a panic or a hang; and
//! when there are totals, the identities of a finished run hold in them.
//!
//! The summary is not rendered here: its percentiles cost several times the read itself under
//! coverage instrumentation, and they come from the model, not from the file.
#![no_main]

use httptop::Counter;
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: httptop_fuzz::init(), |data: &[u8]| {
    let Some((totals, events)) =
        httptop_fuzz::read_capture(data, |model, events| (model.kernel_totals(), events))
    else {
        return;
    };
    let c = |counter: Counter| totals[counter];
    assert_eq!(
        c(Counter::Requests),
        c(Counter::Exchanges) + c(Counter::ExpiredRequests) + totals.in_flight,
        "requests"
    );
    assert_eq!(
        c(Counter::Responses),
        c(Counter::Exchanges) + c(Counter::UnmatchedResponses) + c(Counter::InterimResponses),
        "responses"
    );
    // Offline, no event can be lost.
    assert_eq!(c(Counter::EventsLost), 0);
    assert_eq!(events, c(Counter::Exchanges), "an exchange event per exchange");
});
