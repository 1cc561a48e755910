//! httptop's error paths: a clear one-line message on stderr and a non-zero exit.
//!
//! Root only (the unprivileged case drops root through setpriv): run through `cargo xtask test`.

use std::{process::Output, time::Duration};

use httptop_tests::{NetNs, httptop_binary, run_to_exit, unprivileged::UnprivilegedCopy};

/// `--duration` bounds a run that wrongly succeeds; the timeout bounds one that hangs.
const ARGS: [&str; 3] = ["--headless", "--duration", "3s"];
const TIMEOUT: Duration = Duration::from_secs(30);

/// stderr as text, after checking the run failed with exactly one line on it.
fn one_line_failure(output: &Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert!(
        !output.status.success(),
        "httptop succeeded; stderr:\n{stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "not one line on stderr:\n{stderr}"
    );
    stderr
}

#[test]
#[ignore = "needs root"]
fn unknown_interface_is_named_in_a_one_line_error() {
    let ns = NetNs::new();
    let mut httptop = ns.command(httptop_binary());
    httptop.args(ARGS).args(["-i", "does-not-exist0"]);
    let stderr = one_line_failure(&run_to_exit(httptop, TIMEOUT));
    assert!(stderr.contains("does-not-exist0"), "stderr: {stderr}");
}

#[test]
#[ignore = "needs root"]
fn unprivileged_user_is_told_which_capability_is_missing() {
    let ns = NetNs::new();
    let copy = UnprivilegedCopy::new();
    let binary = &copy.binary;
    let mut httptop = copy.command(&ns);
    httptop.args(ARGS);
    let stderr = one_line_failure(&run_to_exit(httptop, TIMEOUT));
    assert!(
        stderr.contains("CAP_BPF"),
        "stderr does not name the missing capability: {stderr}"
    );
    // And the command that grants them to this very binary.
    let command = format!(
        "sudo setcap {} {}",
        httptop::kernel::AttachMode::default().setcap_capabilities(),
        binary.display()
    );
    assert!(
        stderr.contains(&command),
        "stderr does not say `{command}`: {stderr}"
    );
}
