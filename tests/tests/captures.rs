//! The real captures in `tests/captures`: tshark's figures, computed here the way its README
//! says, must reproduce the README's table; and httptop's offline mode (`--read`) must agree
//! with tshark on every capture there, including ones added later.
//!
//! Needs tshark, which `cargo xtask test` installs as root: ignored in a plain `cargo test`, run
//! by `cargo xtask test` as root.

use std::{fs, path::PathBuf, time::Duration};

use httptop_tests::{Summary, Truth, captures_dir, httptop_binary, run_to_exit, tshark_truth};

/// The README's table rows: (file, requests, responses, exchanges).
fn readme_table() -> Vec<(String, Truth)> {
    let readme = fs::read_to_string(captures_dir().join("README.md")).expect("captures README");
    readme
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // | file | source | requests | responses | exchanges | what |
            let file = *cells.get(1)?;
            if !(file.ends_with(".pcap") || file.ends_with(".pcapng")) {
                return None;
            }
            let number = |i: usize| -> u64 {
                cells[i]
                    .parse()
                    .unwrap_or_else(|_| panic!("bad count in README row: {line}"))
            };
            Some((
                file.to_owned(),
                Truth {
                    requests: number(3),
                    responses: number(4),
                    exchanges: number(5),
                },
            ))
        })
        .collect()
}

#[test]
#[ignore = "needs tshark"]
fn tshark_truth_reproduces_the_captures_readme_table() {
    let table = readme_table();
    assert!(table.len() >= 9, "README table rows: {table:?}");
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
    assert!(captures.len() >= 9, "captures: {captures:?}");
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
        tshark_figures.push((name, tshark_truth(capture)));
    }
    assert_eq!(
        httptop_figures, tshark_figures,
        "left: httptop --read, right: tshark"
    );
}
