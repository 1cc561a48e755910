//! The real captures in `tests/captures`: tshark's figures, computed here the way its README
//! says, must reproduce the README's table; and httptop's offline mode (`--read`) must agree
//! with tshark on every capture there, including ones added later, or give the counts of the
//! README's reviewed table where tshark is wrong or counts by another rule.
//!
//! Needs tshark, which `cargo xtask test` installs as root: ignored in a plain `cargo test`, run
//! by `cargo xtask test` as root.

use std::{collections::HashMap, fs, path::PathBuf, time::Duration};

use httptop_tests::{
    Summary, Truth, captures_dir, httptop_binary, run_to_exit, tshark_truth, tshark_ttlb,
};

/// The rows of the README table under `heading`, each its file and the `counts` numbers in
/// the columns after `first_count` (cells counted from the file's, 1).
fn readme_rows(heading: &str, first_count: usize, counts: usize) -> Vec<(String, Vec<u64>)> {
    let readme = fs::read_to_string(captures_dir().join("README.md")).expect("captures README");
    let section = readme
        .split("\n## ")
        .find(|section| section.starts_with(heading))
        .unwrap_or_else(|| panic!("no section {heading:?} in the captures README"));
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let file = *cells.get(1)?;
            if !(file.ends_with(".pcap") || file.ends_with(".pcapng")) {
                return None;
            }
            let numbers = (first_count..first_count + counts)
                .map(|i| {
                    cells[i]
                        .parse()
                        .unwrap_or_else(|_| panic!("bad count in README row: {line}"))
                })
                .collect();
            Some((file.to_owned(), numbers))
        })
        .collect()
}

/// The rows of the README table under `heading`: (file, requests, responses, exchanges).
fn readme_table(heading: &str, first_count: usize) -> Vec<(String, Truth)> {
    readme_rows(heading, first_count, 3)
        .into_iter()
        .map(|(file, n)| {
            let truth = Truth {
                requests: n[0],
                responses: n[1],
                exchanges: n[2],
            };
            (file, truth)
        })
        .collect()
}

/// tshark's counts: | file | source | requests | responses | exchanges | what |
fn tshark_table() -> Vec<(String, Truth)> {
    readme_table("Counts", 3)
}

/// httptop's counts where they differ from tshark's, reviewed:
/// | file | requests | responses | exchanges | why |
fn reviewed_table() -> HashMap<String, Truth> {
    readme_table("Where httptop and tshark differ", 2)
        .into_iter()
        .collect()
}

#[test]
#[ignore = "needs tshark"]
fn tshark_truth_reproduces_the_captures_readme_table() {
    let table = tshark_table();
    assert!(table.len() >= 20, "README table rows: {table:?}");
    let computed: Vec<(String, Truth)> = table
        .iter()
        .map(|(file, _)| (file.clone(), tshark_truth(&captures_dir().join(file))))
        .collect();
    assert_eq!(computed, table);
}

/// Every `.pcap` and `.pcapng` file in `tests/captures`, sorted.
fn every_capture() -> Vec<PathBuf> {
    let mut captures: Vec<PathBuf> = fs::read_dir(captures_dir())
        .expect("listing tests/captures")
        .map(|entry| entry.expect("reading tests/captures").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "pcap" || extension == "pcapng")
        })
        .collect();
    captures.sort();
    captures
}

#[test]
#[ignore = "needs tshark"]
fn read_mode_agrees_with_tshark_on_every_capture() {
    let captures = every_capture();
    assert!(captures.len() >= 20, "captures: {captures:?}");
    let reviewed = reviewed_table();
    assert_eq!(reviewed.len(), 7, "reviewed rows: {reviewed:?}");
    let tshark_files: Vec<String> = tshark_table().into_iter().map(|(file, _)| file).collect();
    for file in reviewed.keys() {
        assert!(
            tshark_files.contains(file),
            "{file}: reviewed but not in tshark's table"
        );
    }
    let mut httptop_figures = Vec::new();
    let mut tshark_figures = Vec::new();
    for capture in &captures {
        let mut httptop = std::process::Command::new(httptop_binary());
        httptop.arg("--read").arg(capture).arg("--json");
        let output = run_to_exit(httptop, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "httptop --read {} failed ({}): {}",
            capture.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
        let summary = Summary::parse(&stdout).unwrap_or_else(|e| {
            panic!(
                "httptop --read {}: not JSON ({e}): {stdout}",
                capture.display()
            )
        });
        let name = capture
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        httptop_figures.push((
            name.clone(),
            Truth {
                requests: summary.count("requests"),
                responses: summary.count("responses"),
                exchanges: summary.count("exchanges"),
            },
        ));
        // Reviewed files are in tshark's table too: the test above holds tshark to the counts
        // the review was made on.
        let truth = reviewed
            .get(&name)
            .copied()
            .unwrap_or_else(|| tshark_truth(capture));
        tshark_figures.push((name, truth));
    }
    assert_eq!(
        httptop_figures, tshark_figures,
        "left: httptop --read, right: tshark (or the reviewed counts)"
    );
}

/// How httptop's time to last byte compares with tshark's on one capture: the final responses
/// tshark times, the exchanges httptop times, those whose response's end httptop did not see,
/// and the (client port, TTLB) pairs both give, to the nanosecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TtlbFigures {
    tshark: u64,
    httptop: u64,
    unknown: u64,
    agreeing: u64,
}

/// httptop's TTLB of each exchange of `--read capture --json-lines` as (client port, ns), and
/// how many had none.
fn httptop_ttlb(capture: &std::path::Path) -> (Vec<(u16, u64)>, u64) {
    let mut httptop = std::process::Command::new(httptop_binary());
    httptop.arg("--read").arg(capture).arg("--json-lines");
    let output = run_to_exit(httptop, Duration::from_secs(60));
    assert!(
        output.status.success(),
        "httptop --read {} --json-lines failed ({}): {}",
        capture.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let (mut times, mut unknown) = (Vec::new(), 0);
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let line: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        let client = line["client"].as_str().expect("a client");
        let port: u16 = client
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port");
        match line["ttlb_ns"].as_u64() {
            Some(ns) => times.push((port, ns)),
            None => unknown += 1,
        }
    }
    times.sort_unstable();
    (times, unknown)
}

/// Pairs in both sorted lists, each counted as often as both have it.
fn common(a: &[(u16, u64)], b: &[(u16, u64)]) -> u64 {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// tshark's `http.time`, reassembling (its default), ends at the frame that completes the
/// response: httptop's time to last byte, for requests sent in one segment. Every capture
/// must agree to the nanosecond, exchange by exchange, or give the README's reviewed figures.
#[test]
#[ignore = "needs tshark"]
fn read_mode_times_the_last_byte_as_tshark_does() {
    let reviewed: HashMap<String, TtlbFigures> = readme_rows("Time to last byte", 2, 4)
        .into_iter()
        .map(|(file, n)| {
            let figures = TtlbFigures {
                tshark: n[0],
                httptop: n[1],
                unknown: n[2],
                agreeing: n[3],
            };
            (file, figures)
        })
        .collect();
    assert_eq!(reviewed.len(), 8, "reviewed rows: {reviewed:?}");
    let mut measured = Vec::new();
    let mut expected = Vec::new();
    for capture in every_capture() {
        let name = capture
            .file_name()
            .expect("a file")
            .to_string_lossy()
            .into_owned();
        let tshark = tshark_ttlb(&capture);
        let (httptop, unknown) = httptop_ttlb(&capture);
        let figures = TtlbFigures {
            tshark: tshark.len() as u64,
            httptop: httptop.len() as u64,
            unknown,
            agreeing: common(&tshark, &httptop),
        };
        let n = figures.tshark;
        let agreed = TtlbFigures {
            tshark: n,
            httptop: n,
            unknown: 0,
            agreeing: n,
        };
        expected.push((name.clone(), reviewed.get(&name).copied().unwrap_or(agreed)));
        measured.push((name, figures));
    }
    assert_eq!(
        measured, expected,
        "left: measured, right: full agreement (or the reviewed figures)"
    );
}
