//! httptop's error paths: a clear one-line message on stderr and a non-zero exit.
//!
//! Root only (the unprivileged case drops root through setpriv): run through `cargo xtask test`.

use std::{fs, os::unix::fs::PermissionsExt as _, process::Output};

use httptop_tests::{NetNs, TempDir, httptop_binary, run_httptop_to_exit};

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
    let output = run_httptop_to_exit(
        &ns,
        &[],
        &["--headless", "--duration", "3s", "-i", "does-not-exist0"],
    );
    let stderr = one_line_failure(&output);
    assert!(stderr.contains("does-not-exist0"), "stderr: {stderr}");
}

#[test]
#[ignore = "needs root"]
fn unprivileged_user_is_told_which_capability_is_missing() {
    let ns = NetNs::new();
    // A copy that user 65534 can surely run, wherever the workspace is.
    let dir = TempDir::new();
    let binary = dir.path().join("httptop");
    fs::copy(httptop_binary(), &binary).expect("copying httptop");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = run_httptop_to_exit(
        &ns,
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            binary.to_str().expect("UTF-8 temp path"),
        ],
        &["--headless", "--duration", "3s"],
    );
    let stderr = one_line_failure(&output);
    assert!(
        stderr.contains("CAP_BPF") || stderr.to_lowercase().contains("capabilit"),
        "stderr does not name the missing capability: {stderr}"
    );
}
