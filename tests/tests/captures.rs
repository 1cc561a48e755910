//! The real captures in `shared/captures`: tshark's figures, computed here the way its README
//! says, must reproduce the README's table (so that the same computation can judge httptop's
//! offline mode on every capture, including ones added later).
//!
//! Needs tshark, which `.ci/run` installs: ignored in a plain `cargo test`, run by `cargo xtask
//! test` as root.

use std::fs;

use httptop_tests::{Truth, captures_dir, tshark_truth};

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
