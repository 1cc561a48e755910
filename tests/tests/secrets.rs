//! Secrets sent to a real server never reach anything httptop writes: not the JSON summary,
//! not the text summary, not the dashboard's screen, not the log file. The requests carry them
//! in the query string, in path parameters, in an absolute-form target's userinfo, and in the
//! Authorization and Cookie headers; one more carries a bidi override and an escape sequence,
//! which must reach the screen escaped, never raw.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    process::Stdio,
    time::Duration,
};

use httptop_lab::ChildGuard;
use httptop_tests::{Httptop, NetNs, Nginx, TempDir, httptop_binary, run_to_exit, tmux};

const NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
/// Every secret below contains this; none of httptop's outputs may.
const SECRET: &str = "SECRET";
const TIMEOUT: Duration = Duration::from_secs(15);

/// (request target, extra headers) of each request, one curl (one connection) each.
fn requests() -> Vec<(String, Vec<&'static str>)> {
    vec![
        (
            "/q?token=SECRETQUERY&x=1".into(),
            vec![
                "Authorization: Bearer SECRETBEARER",
                "Cookie: sid=SECRETCOOKIE",
            ],
        ),
        ("/p;jsessionid=SECRETSESSION/next".into(), vec![]),
        (format!("http://user:SECRETPASS@{NGINX}/u"), vec![]),
        ("/bidi\u{202e}txt.exe\u{1b}[2J".into(), vec![]),
    ]
}

fn send_requests(ns: &NetNs) {
    for (target, headers) in requests() {
        let mut curl = ns.command("curl");
        curl.args(["-sS", "--http1.1", "--max-time", "5", "-o", "/dev/null"])
            .args(["-w", "%{http_code}", "--request-target", &target]);
        for header in headers {
            curl.args(["-H", header]);
        }
        curl.arg(format!("http://{NGINX}/"));
        let output = run_to_exit(curl, TIMEOUT);
        // nginx answers each (some with 400): all that matters is that an answer came.
        let code = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && code.len() == 3 && code != "000",
            "curl {target:?}: {code:?} {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[track_caller]
fn assert_no_secret(what: &str, text: &str) {
    for forbidden in [SECRET, "\u{202e}", "\u{1b}[2J"] {
        assert!(
            !text.contains(forbidden),
            "{what} contains {forbidden:?}:\n{text}"
        );
    }
}

#[test]
#[ignore = "needs root"]
fn secrets_in_targets_and_headers_reach_no_output() {
    let ns = NetNs::new();
    let _nginx = Nginx::start(&ns, &[NGINX]);
    let logs = TempDir::new();
    let log = |name: &str| logs.path().join(name);

    // The dashboard, wide enough for whole paths in the table.
    let dashboard_log = log("dashboard.log");
    let tmux = tmux::dashboard(
        &ns,
        220,
        40,
        &["--log-file".as_ref(), dashboard_log.as_os_str()],
    );
    tmux.wait_for("the dashboard", TIMEOUT, |s| s.contains("exchanges"));
    // The JSON summary and the text summary, from two headless runs watching the same traffic.
    let json_log = log("json.log");
    let json = Httptop::attach(
        &ns,
        &["--log-file", json_log.to_str().expect("a UTF-8 path")],
    );
    let mut text_run = ns.command(httptop_binary());
    text_run
        .args(["--headless", "--log-file"])
        .arg(log("text.log"))
        .stdout(Stdio::piped());
    let mut text =
        ChildGuard::spawn_ready(text_run, "httptop (text)", "httptop: attached", TIMEOUT)
            .expect("starting httptop --headless");

    send_requests(&ns);
    let n = requests().len() as u64;

    let screen = tmux.wait_for("every exchange on the dashboard", TIMEOUT, |s| {
        s.contains(&format!("exchanges {n}"))
    });
    assert_no_secret("the dashboard", &screen);
    // What stands in for each secret is on screen: the check above looked at the right rows.
    for shown in [
        "/q?…",
        "/p;…/next",
        "http://…@127.0.0.1:8080/u",
        "/bidi\\u{202e}txt.exe\\u{1b}[2J",
    ] {
        assert!(
            screen.contains(shown),
            "the dashboard shows {shown:?}:\n{screen}"
        );
    }
    tmux.send_keys(&["q"]);
    assert_eq!(tmux.wait_for_exit(TIMEOUT), 0);

    let summary = json.stop();
    assert_eq!(summary.count("exchanges"), n, "{summary}");
    assert_no_secret("the JSON summary", &summary.to_string());
    let text = text
        .stop_and_read_stdout(libc::SIGINT, TIMEOUT)
        .expect("the text summary");
    assert!(text.contains("exchanges"), "a text summary:\n{text}");
    assert_no_secret("the text summary", &text);
    for name in ["dashboard.log", "json.log", "text.log"] {
        let contents = std::fs::read_to_string(log(name))
            .unwrap_or_else(|e| panic!("httptop wrote no log file {name}: {e}"));
        assert_no_secret(name, &contents);
    }
}
