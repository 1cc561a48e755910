//! Runs `cargo test` with its output passed through, and adds up libtest's `test result:` lines,
//! so that `cargo xtask test` can close on one line with the totals of all its runs.

use std::{
    io::{BufRead as _, BufReader},
    process::{Command, Stdio},
};

use anyhow::{Context as _, Result, anyhow};

use crate::project::describe;

/// Tests counted from libtest's `test result:` lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: u64,
    pub failed: u64,
    pub ignored: u64,
}

impl Tally {
    /// Adds the counts of one `test result: ok. 3 passed; 0 failed; 1 ignored; ...` line; other
    /// lines add nothing.
    fn add_line(&mut self, line: &str) {
        let Some(result) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in result.split([';', '.']) {
            let mut words = part.split_whitespace();
            let (Some(number), Some(what), None) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}

/// Runs `command` (a `cargo test`), echoing its stdout line by line and counting its results;
/// an error, with the counts so far, unless it exits 0.
pub fn run_counting(command: &mut Command) -> (Tally, Result<()>) {
    let shown = describe(command);
    eprintln!("$ {shown}");
    let mut tally = Tally::default();
    let mut child = match command.stdout(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(error) => {
            return (
                tally,
                Err(error).context(format!("could not start `{shown}`")),
            );
        }
    };
    let stdout = child.stdout.take().expect("stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        println!("{line}");
        tally.add_line(&line);
    }
    let result = match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(anyhow!("`{shown}` failed ({status})")),
        Err(error) => Err(error).context(format!("waiting for `{shown}`")),
    };
    (tally, result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_up_result_lines_and_ignores_the_rest() {
        let mut tally = Tally::default();
        for line in [
            "running 3 tests",
            "test a ... ok",
            "test result: ok. 28 passed; 0 failed; 2 ignored; 0 measured; 0 filtered out; finished in 0.01s",
            "test result: FAILED. 10 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 9.04s",
            "test result: ok. 0 passed; 0 failed; 0 ignored; 0 measured; 28 filtered out; finished in 0.00s",
        ] {
            tally.add_line(line);
        }
        assert_eq!(
            tally,
            Tally {
                passed: 38,
                failed: 1,
                ignored: 2,
            }
        );
    }
}
