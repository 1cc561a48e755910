//! httptop needs root only for its capabilities: a copy of the binary granted `CAP_BPF`,
//! `CAP_NET_RAW` and `CAP_PERFMON` with setcap (the command the missing-capability error
//! prints), run as an unprivileged user (nobody, uid 65534) in a network namespace, attaches and
//! counts exactly.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    fs,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::{Command, Stdio},
    time::Duration,
};

use httptop::kernel::AttachMode;
use httptop_lab::ChildGuard;
use httptop_tests::{
    KeepAlive, NetNs, Nginx, Summary, curl_get, run_to_exit,
    unprivileged::{NOBODY, UnprivilegedCopy},
};

const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
#[ignore = "needs root"]
fn three_capabilities_on_the_binary_suffice_for_an_unprivileged_user() {
    let ns = NetNs::new();
    let nginx = Nginx::start(&ns, &[NGINX]);
    let workers = nginx.worker_pids();
    assert_eq!(workers.len(), 1, "the lab's nginx has one worker");
    // A connection nginx accepted before httptop started: the owners probe never saw it made,
    // so its ends are searched for, and root's descriptors cannot be read.
    let mut older = KeepAlive::open(&ns, NGINX);
    older.get(1);
    let copy = UnprivilegedCopy::new();
    let mut setcap = Command::new("setcap");
    setcap
        .arg(AttachMode::Socket.setcap_capabilities())
        .arg(&copy.binary);
    let output = run_to_exit(setcap, TIMEOUT);
    assert!(
        output.status.success(),
        "setcap: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut httptop = copy.command(&ns);
    httptop
        .args(["--headless", "--json", "--top", "50"])
        .stdout(Stdio::piped());
    let mut httptop =
        ChildGuard::spawn_ready(httptop, "httptop as nobody", "httptop: attached", TIMEOUT)
            .expect("httptop attaches as nobody with three capabilities");
    let status = fs::read_to_string(format!("/proc/{}/status", httptop.pid())).expect("status");
    let n = NOBODY.to_string();
    assert!(
        status
            .lines()
            .any(|l| l.split_whitespace().eq(["Uid:", &n, &n, &n, &n])),
        "runs as nobody:\n{status}"
    );
    curl_get(&ns, &format!("http://{NGINX}/"), 20);
    older.get(2);
    std::thread::sleep(Duration::from_millis(300));
    let stdout = httptop
        .stop_and_read_stdout(libc::SIGINT, TIMEOUT)
        .expect("the summary");
    let summary = Summary::parse(&stdout).expect("one JSON object");
    summary.assert_all_answered(22);
    // Without CAP_SYS_PTRACE it cannot read root's descriptors, and needs to only for the
    // older connection: the owners probe (raw tracepoints: CAP_BPF and CAP_PERFMON) names every
    // curl (run as root) that connected and the nginx worker that read each of their requests.
    // The older connection's client (this test, root) is `?`, its server found all the same
    // (nginx's worker runs as nobody, as httptop does), and the run says, once, what reading
    // descriptors needs.
    let rows = summary.0["top_rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 21, "{summary}");
    let unknown = serde_json::json!({"state": "unknown", "pid": null, "comm": null, "unit": null});
    let mut older_rows = 0;
    for row in rows {
        if row["exchanges"] == 2 {
            older_rows += 1;
            assert_eq!(row["client_process"], unknown, "{summary}");
        } else {
            assert_eq!(row["exchanges"], 1, "{summary}");
            assert_eq!(row["client_process"]["state"], "found", "{summary}");
            assert_eq!(row["client_process"]["comm"], "curl", "{summary}");
        }
        let server = &row["server_process"];
        assert_eq!(server["state"], "found", "{summary}");
        assert_eq!(
            (&server["pid"], &server["comm"]),
            (&workers[0].into(), &"nginx".into()),
            "{summary}"
        );
    }
    assert_eq!(older_rows, 1, "{summary}");
    assert_eq!(
        summary.0["process_sides"],
        serde_json::json!({"found": 42, "unknown": 2, "remote": 0}),
        "{summary}"
    );
    let notice = summary.0["process_notice"].as_str().unwrap_or_default();
    assert!(notice.contains("CAP_SYS_PTRACE"), "{summary}");

    // Entering another network namespace takes CAP_SYS_ADMIN: one line says so, and nothing is
    // attached.
    let mut entering = copy.command(&ns);
    entering.args(["--headless", "--netns", ns.name()]);
    let output = run_to_exit(entering, TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with(
            "httptop: error: --netns needs CAP_SYS_ADMIN (entering a namespace), which this \
             process lacks"
        ),
        "{stderr}"
    );
}
