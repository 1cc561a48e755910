//! The binary under test: `httptop --headless --json`, attached in a namespace, stopped with
//! SIGINT, its JSON summary parsed.

use std::{fmt, process::Stdio, time::Duration};

use httptop::Counter;
use httptop_lab::ChildGuard;
use serde_json::Value;

use crate::{AttachMode, NetNs, expect_lab, httptop_binary};

/// What httptop prints on stderr once its filter is attached.
const ATTACHED: &str = "httptop: attached";
/// Loading and attaching the kernel programs; generous for a loaded 2-core CI machine.
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);
/// Per-exchange events reach user space through a channel polled on a timer (the kernel
/// counters need no wait: the filter has run before the client reads the response). Nothing
/// tells when the last event has been read, so leave the poller a few rounds before stopping.
const EVENT_SETTLE: Duration = Duration::from_millis(300);
/// From SIGINT to the summary on stdout and exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// A running `httptop --headless --json`; stopped on drop if the test did not
/// [`stop`](Self::stop) it.
pub struct Httptop {
    process: ChildGuard,
}

impl Httptop {
    /// Starts `httptop --headless --json ARGS` inside `ns` and returns once it says it is
    /// attached (panics with its stderr if it exits or stays silent instead).
    pub fn attach(ns: &NetNs, args: &[&str]) -> Self {
        Self::start(ns, None, args)
    }

    /// [`attach`](Self::attach) with `--attach MODE`.
    pub fn attach_in(mode: AttachMode, ns: &NetNs, args: &[&str]) -> Self {
        Self::start(ns, Some(mode), args)
    }

    fn start(ns: &NetNs, mode: Option<AttachMode>, args: &[&str]) -> Self {
        let mut command = ns.command(httptop_binary());
        command
            .args(["--headless", "--json"])
            .args(
                mode.map(|mode| ["--attach".to_owned(), mode.name()])
                    .into_iter()
                    .flatten(),
            )
            .args(args)
            .stdout(Stdio::piped());
        let what = format!("httptop {args:?}");
        let process = expect_lab(
            ChildGuard::spawn_ready(command, &what, ATTACHED, ATTACH_TIMEOUT),
            format_args!("waiting for `{ATTACHED}`"),
        );
        Self { process }
    }

    /// The process id, to look at what it holds.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// SIGKILL: no chance to clean up; returns once the process is reaped.
    pub fn kill(mut self) {
        expect_lab(
            self.process.stop(libc::SIGKILL, EXIT_TIMEOUT),
            "killing httptop",
        );
    }

    /// Lets pending events arrive, sends SIGINT, and returns the summary; panics unless httptop
    /// exits 0 in time with one JSON object on stdout.
    pub fn stop(mut self) -> Summary {
        std::thread::sleep(EVENT_SETTLE);
        let stdout = expect_lab(
            self.process
                .stop_and_read_stdout(libc::SIGINT, EXIT_TIMEOUT),
            "stopping httptop with SIGINT",
        );
        let summary = Summary::parse(&stdout)
            .unwrap_or_else(|e| panic!("httptop's stdout is not one JSON object ({e}):\n{stdout}"));
        // Captured by the test runner: shown when the test fails, or with --nocapture.
        eprintln!("httptop summary: {summary}");
        summary
    }
}

/// The counters a test pins exactly, of [`Counter::ALL`]: what was sent and what became of it.
/// (Duplicate segments and the like depend on the network, not on the test.)
pub const PINNED: [Counter; 6] = [
    Counter::Requests,
    Counter::Responses,
    Counter::Exchanges,
    Counter::UnmatchedResponses,
    Counter::ExpiredRequests,
    Counter::EventsLost,
];

/// The pinned counters of a summary, by JSON key, and the in-flight gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub counters: [(&'static str, u64); PINNED.len()],
    pub in_flight: u64,
}

impl Counts {
    /// `n` requests, each answered once, all connections done: nothing unmatched, expired, lost
    /// or still in flight.
    pub fn answered(n: u64) -> Self {
        Self {
            counters: PINNED.map(|counter| {
                let value = match counter {
                    Counter::Requests | Counter::Responses | Counter::Exchanges => n,
                    _ => 0,
                };
                (counter.key(), value)
            }),
            in_flight: 0,
        }
    }
}

/// httptop's `--json` summary.
pub struct Summary(pub Value);

impl Summary {
    /// httptop's `--json` stdout, which must be one JSON object.
    pub fn parse(stdout: &str) -> serde_json::Result<Self> {
        serde_json::from_str(stdout.trim()).map(Self)
    }

    /// An unsigned integer field; panics (showing the whole summary) if it is missing.
    pub fn count(&self, key: &str) -> u64 {
        self.0[key]
            .as_u64()
            .unwrap_or_else(|| panic!("summary has no unsigned `{key}`:\n{self}"))
    }

    /// A kernel counter, by its key.
    pub fn counter(&self, counter: Counter) -> u64 {
        self.count(counter.key())
    }

    /// Every kernel counter of [`Counter::ALL`]: each must be there.
    pub fn counters(&self) -> Vec<(Counter, u64)> {
        Counter::ALL
            .into_iter()
            .map(|counter| (counter, self.counter(counter)))
            .collect()
    }

    pub fn counts(&self) -> Counts {
        Counts {
            counters: PINNED.map(|counter| (counter.key(), self.counter(counter))),
            in_flight: self.count("in_flight"),
        }
    }

    /// `latency_ns.<key>`, e.g. `p50`.
    pub fn latency_ns(&self, key: &str) -> u64 {
        self.0["latency_ns"][key]
            .as_u64()
            .unwrap_or_else(|| panic!("summary has no unsigned `latency_ns.{key}`:\n{self}"))
    }

    /// `top_talkers` as (client, server, exchanges).
    pub fn top_talkers(&self) -> Vec<(String, String, u64)> {
        self.0["top_talkers"]
            .as_array()
            .unwrap_or_else(|| panic!("summary has no `top_talkers` array:\n{self}"))
            .iter()
            .map(|talker| {
                let text = |key: &str| {
                    talker[key]
                        .as_str()
                        .unwrap_or_else(|| panic!("talker without `{key}`: {talker}"))
                        .to_owned()
                };
                let exchanges = talker["exchanges"]
                    .as_u64()
                    .unwrap_or_else(|| panic!("talker without `exchanges`: {talker}"));
                (text("client"), text("server"), exchanges)
            })
            .collect()
    }

    /// Sum of `top_talkers[].exchanges`.
    pub fn talker_exchanges(&self) -> u64 {
        self.top_talkers().iter().map(|(_, _, n)| n).sum()
    }

    /// Every one of `n` requests answered, as [`Counts::answered`] says, and every exchange in the
    /// kernel histogram and in the per-tuple figures too.
    #[track_caller]
    pub fn assert_all_answered(&self, n: u64) {
        // Every kernel counter is in the summary (panics naming the one missing).
        self.counters();
        assert_eq!(self.counts(), Counts::answered(n), "summary:\n{self}");
        assert_eq!(
            self.histogram_total(),
            n,
            "histogram_log2 total; summary:\n{self}"
        );
        assert_eq!(
            self.talker_exchanges(),
            n,
            "top_talkers total; summary:\n{self}"
        );
    }

    /// Every exchange timed to its response's last byte, with `request_bytes` and
    /// `response_bytes` of bodies in all; each TTLB percentile at least the TTFB one (each
    /// exchange's last byte comes after its first).
    #[track_caller]
    pub fn assert_timed_to_the_last_byte(&self, request_bytes: u64, response_bytes: u64) {
        assert_eq!(
            self.0["body_bytes"],
            serde_json::json!({
                "request": request_bytes,
                "response": response_bytes,
                "request_unknown": 0,
                "response_unknown": 0,
            }),
            "body_bytes; summary:\n{self}"
        );
        assert_eq!(self.0["ttlb_unknown"], 0, "ttlb_unknown; summary:\n{self}");
        self.assert_last_bytes_after_first_bytes();
    }

    /// Each TTLB percentile at least the TTFB one: every exchange's last byte comes after its
    /// first, so the sorted TTLBs lie above the sorted TTFBs.
    #[track_caller]
    fn assert_last_bytes_after_first_bytes(&self) {
        for p in ["p50", "p90", "p99", "p999", "max"] {
            let ttfb = self.0["latency_ns"][p].as_u64();
            let ttlb = self.0["ttlb_ns"][p].as_u64();
            assert!(
                ttfb.is_some() && ttlb >= ttfb,
                "{p}: TTLB {ttlb:?} before TTFB {ttfb:?}; summary:\n{self}"
            );
        }
    }

    /// Sum of `histogram_log2`, which must have 64 buckets.
    pub fn histogram_total(&self) -> u64 {
        let buckets = self.0["histogram_log2"]
            .as_array()
            .unwrap_or_else(|| panic!("summary has no `histogram_log2` array:\n{self}"));
        assert_eq!(
            buckets.len(),
            64,
            "histogram_log2 must have 64 buckets:\n{self}"
        );
        buckets
            .iter()
            .map(|bucket| bucket.as_u64().expect("bucket counts are unsigned"))
            .sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
