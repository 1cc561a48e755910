//! `httptop --read` on a capture cut short: a warning, and the summary of what was read.

use std::{path::PathBuf, process::Command};

fn capture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/captures")
        .join(name)
}

#[test]
fn a_truncated_capture_gives_a_warning_and_the_counts_before_the_cut() {
    let full = std::fs::read(capture("zeek_http_1000-requests-one-dropped-response.pcap"))
        .expect("the test captures in tests/captures");
    let dir = std::env::temp_dir().join(format!("httptop-read-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("cut.pcap");
    // 30,000 bytes: the file's header and its first packets, the last one cut in half.
    std::fs::write(&cut, &full[..30_000]).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_httptop"))
        .arg("--read")
        .arg(&cut)
        .arg("--json")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("httptop: warning: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["requests"], 21);
    assert_eq!(summary["responses"], 19);
    assert_eq!(summary["exchanges"], 19);
    assert_eq!(summary["in_flight"], 2);
}

#[test]
fn a_file_that_is_no_capture_is_one_line_of_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_httptop"))
        .args(["--read", "Cargo.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with("httptop: error: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(out.stdout.is_empty());
}

/// `httptop --read FILE ARGS`: its stdout, after checking it exited 0.
fn read(name: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_httptop"))
        .arg("--read")
        .arg(capture(name))
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_filter_applies_to_a_capture_and_the_summary_says_so() {
    const FILE: &str = "zeek_http_1000-requests-one-dropped-response.pcap";
    let json = |args: &[&str]| -> serde_json::Value {
        serde_json::from_str(&read(FILE, &[&["--json"], args].concat())).unwrap()
    };
    let all = json(&["--filter", "dport 80 and status 200", "--group", "endpoint"]);
    assert_eq!(all["filter"], "dport 80 and status 200");
    assert_eq!(all["matched"], 999);
    assert_eq!(all["source"], "capture");
    assert_eq!(all["top_rows"][0]["key"], "[::1]:80 GET /");
    assert_eq!(all["top_rows"][0]["exchanges"], 999);
    assert_eq!(
        all["top_rows"][0]["status_codes"],
        serde_json::json!([{"status": 200, "count": 999}])
    );
    let none = json(&["--filter", "status 5xx or path /nothing"]);
    // The counters stay the capture's; nothing passed the filter.
    assert_eq!(none["exchanges"], 999);
    assert_eq!(none["matched"], 0);
    assert_eq!(none["latency_ns"], serde_json::Value::Null);
    assert_eq!(none["top_rows"], serde_json::json!([]));
    let text = read(FILE, &["--filter", "status 200"]);
    assert!(
        text.contains("filter \"status 200\": the figures below cover the 999 exchanges"),
        "{text}"
    );
    assert!(
        text.contains("source                     capture"),
        "{text}"
    );
    assert!(!text.contains("kernel"), "{text}");
}
