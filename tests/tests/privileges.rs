//! httptop needs root only for its capabilities: a copy of the binary granted `CAP_BPF`,
//! `CAP_NET_RAW` and `CAP_PERFMON` with setcap (the command the missing-capability error
//! prints), run as an unprivileged user (nobody, uid 65534) in a network namespace, attaches and
//! counts exactly.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    fs,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    os::unix::fs::PermissionsExt as _,
    process::{Command, Stdio},
    time::Duration,
};

use httptop::kernel::SETCAP_CAPABILITIES;
use httptop_lab::ChildGuard;
use httptop_tests::{NetNs, Nginx, Summary, TempDir, curl_get, httptop_binary, run_to_exit};

const NOBODY: u32 = 65534;
const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
#[ignore = "needs root"]
fn three_capabilities_on_the_binary_suffice_for_an_unprivileged_user() {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[NGINX]);
    let dir = TempDir::new();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let binary = dir.path().join("httptop");
    fs::copy(httptop_binary(), &binary).expect("copying httptop");
    let mut setcap = Command::new("setcap");
    setcap.arg(SETCAP_CAPABILITIES).arg(&binary);
    let output = run_to_exit(setcap, TIMEOUT);
    assert!(
        output.status.success(),
        "setcap: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A log directory the user owns, as its own state directory would be.
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).expect("a log dir");
    std::os::unix::fs::chown(&logs, Some(NOBODY), Some(NOBODY)).expect("chown");

    let mut httptop = ns.command("setpriv");
    httptop
        .arg(format!("--reuid={NOBODY}"))
        .arg(format!("--regid={NOBODY}"))
        .arg("--clear-groups")
        .arg(&binary)
        .args(["--headless", "--json", "--top", "50", "--log-file"])
        .arg(logs.join("httptop.log"))
        .stdout(Stdio::piped());
    let mut httptop =
        ChildGuard::spawn_ready(httptop, "httptop as nobody", "httptop: attached", TIMEOUT)
            .expect("httptop attaches as nobody with three capabilities");
    let status = fs::read_to_string(format!("/proc/{}/status", httptop.pid())).expect("status");
    assert!(
        status.lines().any(|l| l
            .split_whitespace()
            .eq(["Uid:", "65534", "65534", "65534", "65534"])),
        "runs as nobody:\n{status}"
    );
    curl_get(&ns, &format!("http://{NGINX}/"), 20);
    std::thread::sleep(Duration::from_millis(300));
    let stdout = httptop
        .stop_and_read_stdout(libc::SIGINT, TIMEOUT)
        .expect("the summary");
    let summary = Summary::parse(&stdout).expect("one JSON object");
    summary.assert_all_answered(20);
}
