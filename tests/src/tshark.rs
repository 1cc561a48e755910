//! tshark's figures for a capture, computed the way `tests/captures/README.md` says: every
//! request method and response code tshark dissects (per message, not per frame), final
//! responses (status ≥ 200, or 101) paired first-in-first-out with requests per TCP stream.

use std::{collections::HashMap, path::Path, process::Command};

/// Requests, responses and exchanges in a capture, as tshark sees them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Truth {
    pub requests: u64,
    pub responses: u64,
    pub exchanges: u64,
}

/// Runs tshark on `capture` with the README's exact command and pairs its messages.
pub fn tshark_truth(capture: &Path) -> Truth {
    pair_fields(&tshark_fields(
        capture,
        "http",
        &["tcp.stream", "http.request.method", "http.response.code"],
    ))
}

/// tshark's `fields` of every frame of `capture` that `filter` lets through, one line per
/// frame, tab-separated, every occurrence of a field comma-separated.
fn tshark_fields(capture: &Path, filter: &str, fields: &[&str]) -> String {
    let mut tshark = Command::new("tshark");
    tshark
        .args(["-n", "--enable-heuristic", "http_tcp", "-r"])
        .arg(capture)
        .args(["-Y", filter, "-T", "fields", "-E", "occurrence=a"])
        .args(["-E", "aggregator=,"]);
    for field in fields {
        tshark.args(["-e", field]);
    }
    let output = tshark
        .output()
        .unwrap_or_else(|e| panic!("running tshark: {e}"));
    assert!(
        output.status.success(),
        "tshark on {} failed: {}",
        capture.display(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Pairs tshark's `tcp.stream <TAB> methods <TAB> codes` lines, one per frame in capture order,
/// where several messages in one frame are comma-separated.
fn pair_fields(fields: &str) -> Truth {
    let mut truth = Truth::default();
    // Requests waiting for their final response, per TCP stream.
    let mut waiting: HashMap<&str, u64> = HashMap::new();
    for line in fields.lines() {
        let mut columns = line.split('\t');
        let stream = columns.next().unwrap_or("");
        let methods = columns.next().unwrap_or("");
        let codes = columns.next().unwrap_or("");
        let waiting = waiting.entry(stream).or_default();
        for _method in methods.split(',').filter(|m| !m.is_empty()) {
            truth.requests += 1;
            *waiting += 1;
        }
        for code in codes.split(',').filter(|c| !c.is_empty()) {
            truth.responses += 1;
            let code: u16 = code
                .parse()
                .unwrap_or_else(|_| panic!("tshark gave a non-numeric status code in {line:?}"));
            // 101 Switching Protocols is final too (RFC 9110 §15.2.2).
            if (code >= 200 || code == 101) && *waiting > 0 {
                *waiting -= 1;
                truth.exchanges += 1;
            }
        }
    }
    truth
}

/// tshark's time to last byte of each final response it pairs with a request: `http.time`
/// as tshark gives it when it reassembles TCP streams (its default), from the request's frame
/// to the frame that completed the response, as (client port, ns), sorted.
pub fn tshark_ttlb(capture: &Path) -> Vec<(u16, u64)> {
    ttlb_fields(&tshark_fields(
        capture,
        "http.time",
        &["tcp.dstport", "http.response.code", "http.time"],
    ))
}

/// tshark's `client port <TAB> codes <TAB> times` lines: the final responses' times as
/// (client port, ns), sorted. A tunnelled frame lists its ports outer first.
fn ttlb_fields(fields: &str) -> Vec<(u16, u64)> {
    let mut times = Vec::new();
    for line in fields.lines() {
        let mut columns = line.split('\t');
        let port = columns.next().and_then(|ports| ports.rsplit(',').next());
        let port: u16 = port
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("tshark gave no client port in {line:?}"));
        let codes = columns.next().unwrap_or("").split(',');
        let seconds = columns.next().unwrap_or("").split(',');
        for (code, seconds) in codes.zip(seconds) {
            let code: u16 = code.parse().unwrap_or(0);
            if code >= 200 || code == 101 {
                times.push((port, seconds_to_ns(seconds)));
            }
        }
    }
    times.sort_unstable();
    times
}

/// `0.000094000` → 94,000: tshark prints seconds with nine decimals; parsed as text, so no
/// nanosecond is lost to floating point.
fn seconds_to_ns(seconds: &str) -> u64 {
    let (whole, fraction) = seconds.split_once('.').unwrap_or((seconds, ""));
    let digits = format!("{fraction:0<9}");
    let whole: u64 = whole
        .parse()
        .unwrap_or_else(|_| panic!("bad time {seconds:?}"));
    let fraction: u64 = digits[..9]
        .parse()
        .unwrap_or_else(|_| panic!("bad time {seconds:?}"));
    whole * 1_000_000_000 + fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttlb_keeps_final_responses_in_nanoseconds() {
        let fields = "40000\t100,200\t0.000012000,1.250000001\n\
                      4789,40001\t404\t0.5\n";
        assert_eq!(
            ttlb_fields(fields),
            [(40000, 1_250_000_001), (40001, 500_000_000)]
        );
    }

    #[test]
    fn pairs_final_responses_in_order_and_leaves_interim_and_orphan_responses_unpaired() {
        let fields = "0\tGET,GET,GET\t\n\
                      0\t\t200,200\n\
                      1\tPOST\t\n\
                      1\t\t100\n\
                      0\t\t404\n\
                      1\t\t200\n\
                      2\t\t200\n\
                      3\tGET\t\n\
                      3\t\t101\n";
        assert_eq!(
            pair_fields(fields),
            Truth {
                requests: 5,
                responses: 7,
                exchanges: 5,
            }
        );
    }
}
