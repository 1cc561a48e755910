//! Child processes that cannot outlive the test that started them: the lab's tools.

use std::{
    process::{Command, Output},
    time::Duration,
};

use crate::expect_lab;

/// Runs `command` to its end with stdin closed and its output collected, like
/// [`Command::output`] but bounded: panics (after killing it) if it still runs after `timeout`.
#[track_caller]
pub fn run_to_exit(command: Command, timeout: Duration) -> Output {
    expect_lab(
        httptop_lab::run_to_exit(command, timeout),
        "running a command",
    )
}
