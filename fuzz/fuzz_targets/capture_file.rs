//! `httptop --read FILE` on arbitrary bytes: an error or a summary, never a panic or a hang;
//! and when there is a summary, the identities of a finished run hold in it.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(init: httptop_fuzz::init(), |data: &[u8]| {
    let Some((summary, events)) = httptop_fuzz::read_capture(data, |model, events| {
        // What `--read FILE` prints, as text and as JSON.
        let summary = model.summary(10);
        let _ = summary.to_text();
        (serde_json::to_value(&summary).expect("the summary as JSON"), events)
    }) else {
        return;
    };
    let n = |key: &str| summary[key].as_u64().expect("a counter");
    assert_eq!(
        n("requests"),
        n("exchanges") + n("expired_requests") + n("in_flight"),
        "requests"
    );
    assert_eq!(
        n("responses"),
        n("exchanges") + n("unmatched_responses") + n("interim_responses"),
        "responses"
    );
    // Offline, no event can be lost.
    assert_eq!(n("events_lost"), 0);
    assert_eq!(events, n("exchanges"), "an exchange event per exchange");
});
