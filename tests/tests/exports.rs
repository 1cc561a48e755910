//! `--json-lines` and `--prometheus` against real programs: nginx serving known paths, curl and a
//! keep-alive client sending a known number of requests, `jq` reading the lines back, `promtool`
//! checking the exposition and a real Prometheus server scraping httptop, its HTTP API queried
//! for the counts, `increase()`, `histogram_quantile()` and every query of the Grafana dashboard.
//! Every count is exact.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    collections::BTreeMap,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::{Ipv4Addr, SocketAddr},
    process::{Command, Stdio},
    time::Duration,
};

use httptop_lab::{ChildGuard, Prometheus};
use httptop_tests::{
    AttachMode, Location, NetNs, Nginx, NginxConfig, Summary, captures_dir, expect_lab, grafana,
    httptop_binary, keep_alive_client,
};
use serde_json::Value;

const NGINX: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const METRICS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9464);
const PROMETHEUS: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);
const ATTACH_TIMEOUT: Duration = Duration::from_secs(30);
const EXIT_TIMEOUT: Duration = Duration::from_secs(20);
/// Events are polled on a timer: let the last ones arrive before stopping.
const EVENT_SETTLE: Duration = Duration::from_millis(300);
/// The JSON lines' queue (app/src/export/json_lines.rs).
const QUEUE_LEN: u64 = httptop::export::json_lines::QUEUE_LEN as u64;

/// nginx on [`NGINX`]: `/users/…` 200, `/missing` 404, `/fail` 500, anything else 200.
fn nginx(ns: &NetNs) -> Nginx {
    let mut config = NginxConfig::new(&[NGINX]);
    config.locations = vec![
        Location {
            path: "/",
            status: 200,
            body: "hello\n",
        },
        Location {
            path: "/users/",
            status: 200,
            body: "user\n",
        },
        Location {
            path: "/missing",
            status: 404,
            body: "missing\n",
        },
        Location {
            path: "/fail",
            status: 500,
            body: "failed\n",
        },
    ];
    Nginx::start_config(ns, &config)
}

/// `httptop --headless --json --attach MODE ARGS` in `ns`, stdout piped, once attached.
fn httptop(ns: &NetNs, mode: AttachMode, args: &[&str]) -> ChildGuard {
    let mut command = ns.command(httptop_binary());
    command
        .args(["--headless", "--json", "--attach", &mode.name()])
        .args(args)
        .stdout(Stdio::piped());
    expect_lab(
        ChildGuard::spawn_ready(
            command,
            &format!("httptop {args:?}"),
            "attached",
            ATTACH_TIMEOUT,
        ),
        "starting httptop",
    )
}

/// The summary httptop printed on stderr (stdout carried the lines): its one JSON line.
fn summary_on_stderr(process: &mut ChildGuard) -> Summary {
    let lines = process.stderr_to_end(EXIT_TIMEOUT);
    let json = lines
        .iter()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON summary on stderr:\n{}", lines.join("\n")));
    Summary::parse(json).unwrap_or_else(|e| panic!("summary ({e}): {json}"))
}

/// Stops httptop with SIGINT: (its stdout, its summary: from stderr after JSON lines, else
/// stdout).
fn stop(mut process: ChildGuard) -> (String, Summary) {
    std::thread::sleep(EVENT_SETTLE);
    let stdout = expect_lab(
        process.stop_and_read_stdout(libc::SIGINT, EXIT_TIMEOUT),
        "stopping httptop",
    );
    let summary = match Summary::parse(&stdout) {
        Ok(summary) => summary,
        Err(_) => summary_on_stderr(&mut process),
    };
    eprintln!("httptop summary: {summary}");
    (stdout, summary)
}

/// `jq -c FILTER` over `input`: one output line per input line.
fn jq(filter: &str, input: &str) -> Vec<String> {
    let mut child = Command::new("jq")
        .args(["-c", filter])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running jq");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("jq's output");
    writer.join().unwrap().expect("writing to jq");
    assert!(output.status.success(), "jq {filter} failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// curl inside `ns` from client port `port`, `extra` arguments, expecting `status`; returns
/// the body bytes curl sent and received.
fn curl_from(ns: &NetNs, port: u16, extra: &[&str], url: &str, status: u16) -> (u64, u64) {
    let output = ns
        .command("curl")
        .args(["-sS", "--http1.1", "--max-time", "5", "-o", "/dev/null"])
        .args(["--local-port", &port.to_string()])
        .args(extra)
        .args(["-w", "%{http_code} %{size_upload} %{size_download}", url])
        .output()
        .expect("running curl");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let fields: Vec<&str> = stdout.split(' ').collect();
    assert_eq!(
        fields[0],
        status.to_string(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let size = |i: usize| -> u64 {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .unwrap_or_else(|| panic!("curl's sizes: {stdout}"))
    };
    (size(1), size(2))
}

/// The request curl makes in [`json_lines_hold_what_curl_sent`]: client port, curl's extra
/// arguments, target, and what httptop must write: method, path shown, path template, status.
struct Sent {
    port: u16,
    extra: &'static [&'static str],
    target: &'static str,
    method: &'static str,
    path: &'static str,
    template: &'static str,
    status: u16,
}

const SENT: [Sent; 7] = [
    Sent {
        port: 41001,
        extra: &[],
        target: "/users/1?token=s3cret",
        method: "GET",
        path: "/users/1?…",
        template: "/users/{id}",
        status: 200,
    },
    Sent {
        port: 41002,
        extra: &[],
        target: "/users/22/profile",
        method: "GET",
        path: "/users/22/profile",
        template: "/users/{id}/profile",
        status: 200,
    },
    Sent {
        port: 41003,
        extra: &[],
        target: "/missing",
        method: "GET",
        path: "/missing",
        template: "/missing",
        status: 404,
    },
    Sent {
        port: 41004,
        extra: &["-X", "POST", "-d", "x=1"],
        target: "/fail",
        method: "POST",
        path: "/fail",
        template: "/fail",
        status: 500,
    },
    Sent {
        port: 41005,
        extra: &["-I"],
        target: "/users/5",
        method: "HEAD",
        path: "/users/5",
        template: "/users/{id}",
        status: 200,
    },
    // Methods beyond RFC 9110's nine are requests too: WebDAV's, and any other token.
    Sent {
        port: 41007,
        extra: &["-X", "PROPFIND", "-H", "Depth: 1"],
        target: "/users/7",
        method: "PROPFIND",
        path: "/users/7",
        template: "/users/{id}",
        status: 200,
    },
    Sent {
        port: 41008,
        extra: &["-X", "M-SEARCH"],
        target: "/missing",
        method: "M-SEARCH",
        path: "/missing",
        template: "/missing",
        status: 404,
    },
];

fn json_lines_hold_what_curl_sent(mode: AttachMode) {
    let ns = NetNs::new();
    let nginx = nginx(&ns);
    let nginx_worker = nginx.worker_pids()[0];
    let all = httptop(&ns, mode, &["-p", "8080", "--json-lines"]);
    let errors = httptop(
        &ns,
        mode,
        &[
            "-p",
            "8080",
            "--json-lines",
            "--show-query",
            "--filter",
            "status 4xx or status 5xx",
        ],
    );
    let started = std::time::SystemTime::now();
    let mut sizes = Vec::new();
    for s in &SENT {
        sizes.push(curl_from(
            &ns,
            s.port,
            s.extra,
            &format!("http://{NGINX}{}", s.target),
            s.status,
        ));
    }
    let ended = std::time::SystemTime::now();
    let (lines, summary) = stop(all);
    let (error_lines, error_summary) = stop(errors);

    // Every field, read back by jq, in the order the requests were sent.
    let fields = jq(
        r#"[.v, .client, .server, .netns, .method, .path, .path_template, .status]"#,
        &lines,
    );
    let expected: Vec<String> = SENT
        .iter()
        .map(|s| {
            serde_json::json!([
                1,
                format!("127.0.0.1:{}", s.port),
                NGINX.to_string(),
                // The namespace httptop runs in, by its `ip netns` name.
                ns.name(),
                s.method,
                s.path,
                s.template,
                s.status
            ])
            .to_string()
        })
        .collect();
    assert_eq!(fields, expected, "lines:\n{lines}");
    // Body sizes as curl counted them, and the last byte never before the first.
    let bodies = jq(
        r#"[.request_body_bytes, .response_body_bytes, (.ttlb_ns >= .latency_ns)]"#,
        &lines,
    );
    let expected: Vec<String> = sizes
        .iter()
        .map(|(sent, received)| serde_json::json!([sent, received, true]).to_string())
        .collect();
    assert_eq!(bodies, expected, "lines:\n{lines}");

    // Times: RFC 3339 with nanoseconds, within the run, each connection started at its request
    // (curl: one request per connection), latency a whole number of ns.
    let secs =
        |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for line in jq(
        r#"[(.time | sub("\\.[0-9]{9}Z$"; "Z") | fromdateiso8601), (.time == .connection_start), (.time | test("\\.[0-9]{9}Z$")), (.latency_ns | floor == .)]"#,
        &lines,
    ) {
        let v: Value = serde_json::from_str(&line).unwrap();
        let t = v[0].as_u64().unwrap();
        assert!(secs(started) <= t && t <= secs(ended), "{line}");
        assert_eq!(&v.as_array().unwrap()[1..], [true, true, true], "{line}");
    }
    // The latencies are the kernel's: their log2 buckets are the kernel's histogram, exactly.
    let mut buckets = vec![0u64; 64];
    for latency in jq(".latency_ns", &lines) {
        let ns: u64 = latency.parse().unwrap();
        buckets[(63 - ns.leading_zeros()) as usize] += 1;
    }
    let kernel: Vec<u64> = summary.0["histogram_log2"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    assert_eq!(buckets, kernel);
    summary.assert_all_answered(SENT.len() as u64);
    assert_eq!(
        summary.0["json_lines"],
        serde_json::json!({"written": SENT.len(), "dropped": 0})
    );
    // Each line names the server's process: nginx's worker, or (the connection gone before
    // httptop looked) nginx by its listening socket, which its master shares: no pid then; or
    // `unknown` when it was not found in time -- never another process.
    let worker = nginx_worker.to_string();
    for process in jq(
        r#"[.server_process.state, .server_process.comm, .server_process.pid]"#,
        &lines,
    ) {
        assert!(
            process == format!(r#"["found","nginx",{worker}]"#)
                || process == r#"["found","nginx",null]"#
                || process == r#"["unknown",null,null]"#,
            "{process}"
        );
    }

    // The filter and --show-query apply to the lines.
    assert_eq!(
        jq(r#"[.path, .status]"#, &error_lines),
        [
            r#"["/missing",404]"#,
            r#"["/fail",500]"#,
            r#"["/missing",404]"#
        ]
    );
    assert_eq!(
        error_summary.0["json_lines"],
        serde_json::json!({"written": 3, "dropped": 0})
    );
    let shown = httptop(&ns, mode, &["-p", "8080", "--json-lines", "--show-query"]);
    curl_from(
        &ns,
        41006,
        &[],
        &format!("http://{NGINX}/users/1?token=s3cret"),
        200,
    );
    let (shown_lines, _) = stop(shown);
    assert_eq!(jq(".path", &shown_lines), [r#""/users/1?token=s3cret""#]);
}

fn json_lines_are_dropped_and_counted_when_the_reader_stalls(mode: AttachMode) {
    const SENT: u64 = 40_000;
    let ns = NetNs::new();
    let _nginx = nginx(&ns);
    // Nobody reads its stdout until the traffic is over.
    let stalled = httptop(&ns, mode, &["-p", "8080", "--json-lines"]);
    keep_alive_client(&ns, NGINX, SENT as usize);
    let (lines, summary) = stop(stalled);
    summary.assert_all_answered(SENT);
    let written = summary.0["json_lines"]["written"].as_u64().unwrap();
    let dropped = summary.0["json_lines"]["dropped"].as_u64().unwrap();
    assert_eq!(
        lines.lines().count() as u64,
        written,
        "every line counted is there"
    );
    assert_eq!(written + dropped, SENT, "every exchange written or dropped");
    // The queue, the writer's 64 KiB buffer and the pipe's 64 KiB held what was written; lines
    // are over 200 bytes.
    let held = QUEUE_LEN + 2 * 64 * 1024 / 200 + 1;
    assert!(written <= held, "written {written}, room for {held}");
    assert_eq!(
        jq(".status", &lines).iter().filter(|s| *s == "200").count() as u64,
        written
    );
}

fn json_lines_end_the_run_when_the_reader_goes_away(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = nginx(&ns);
    let mut process = httptop(&ns, mode, &["-p", "8080", "--json-lines"]);
    let stdout = process.take_stdout().expect("stdout is piped");
    let mut reader = BufReader::new(stdout);
    keep_alive_client(&ns, NGINX, 3);
    let mut line = String::new();
    for _ in 0..3 {
        line.clear();
        reader.read_line(&mut line).expect("a line");
        assert!(line.starts_with(r#"{"v":1,"#), "{line}");
    }
    // Like `| head -n 3`: the reader goes away, and httptop ends by itself at its next line.
    drop(reader);
    keep_alive_client(&ns, NGINX, 100);
    let status = expect_lab(process.wait(EXIT_TIMEOUT), "httptop ending by itself");
    assert!(status.success(), "{status}");
    let summary = summary_on_stderr(&mut process);
    eprintln!("httptop summary: {summary}");
    let exchanges = summary.count("exchanges");
    assert!((4..=103).contains(&exchanges), "{summary}");
    assert_eq!(
        summary.0["json_lines"],
        serde_json::json!({"written": 3, "dropped": exchanges - 3})
    );
}

/// `--read` writes a line per exchange of a real capture, waiting for its reader: none lost.
#[test]
#[ignore = "needs root"]
fn json_lines_of_a_capture_are_its_exchanges() {
    let capture = captures_dir().join("zeek_http_pipelined-requests.pcap");
    let output = Command::new(httptop_binary())
        .args(["--read"])
        .arg(&capture)
        .args(["--json", "--json-lines"])
        .output()
        .expect("running httptop --read");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let summary = Summary::parse(stderr.lines().find(|l| l.starts_with('{')).unwrap()).unwrap();
    let exchanges = summary.count("exchanges");
    assert_eq!(stdout.lines().count() as u64, exchanges);
    assert_eq!(
        summary.0["json_lines"],
        serde_json::json!({"written": exchanges, "dropped": 0})
    );
    // Their statuses are the summary's status mix.
    let mut statuses: BTreeMap<u64, u64> = BTreeMap::new();
    for status in jq(".status", &stdout) {
        *statuses.entry(status.parse().unwrap()).or_default() += 1;
    }
    let mix: BTreeMap<u64, u64> = summary.0["status_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["status"].as_u64().unwrap(), c["count"].as_u64().unwrap()))
        .collect();
    assert_eq!(statuses, mix);
}

/// An HTTP GET from inside `ns`: (status line and headers, body).
fn http_get(ns: &NetNs, addr: SocketAddr, path: &str, accept: Option<&str>) -> (String, String) {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{}\r\n",
        accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"))
    );
    let response = ns.run(move || {
        let mut stream = std::net::TcpStream::connect(addr).expect("connecting to /metrics");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        response
    });
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {response}"));
    (head.to_owned(), body.to_owned())
}

/// The value of the one sample line `name{labels}` or `name` in an exposition.
fn sample(text: &str, series: &str) -> f64 {
    let values: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .collect();
    assert_eq!(values.len(), 1, "{series} in:\n{text}");
    values[0]
}

/// The labels of nginx's series of `template` and `status_class`, up to the server process.
fn histogram_series(template: &str, status_class: &str) -> String {
    format!(
        r#"{{server="{NGINX}",method="GET",status_class="{status_class}",path_template="{template}","#
    )
}

/// The sum of the samples of `metric` whose labels start with `labels`, over the server
/// processes they name: nginx (its worker, or its listening socket when the connection was
/// gone) or `?` (neither found in time), never another's; each in the namespace `netns`.
fn over_server_processes(text: &str, metric: &str, labels: &str, netns: &str, rest: &str) -> f64 {
    let prefix = format!("{metric}{labels}");
    let netns = format!(",netns=\"{netns}\"");
    text.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|l| {
            let (process, after) = l.strip_prefix("server_process=\"")?.split_once('"')?;
            assert!(["nginx", "?"].contains(&process), "{l}");
            let after = after.strip_prefix(&netns);
            assert!(after.is_some(), "{l}: not in {netns}");
            after?
                .strip_prefix(rest)?
                .strip_prefix(' ')?
                .parse::<f64>()
                .ok()
        })
        .sum()
}

const DURATION: &str = "httptop_http_server_request_duration_seconds";

/// The traffic the metrics tests send: 50 GET / on one keep-alive connection (200), 7 GET
/// /missing (404) and 3 GET /fail (500), each on a connection of its own.
fn send_known_traffic(ns: &NetNs) -> u64 {
    keep_alive_client(ns, NGINX, 50);
    let mut port = 42000;
    for (path, status, times) in [("/missing", 404, 7), ("/fail", 500, 3)] {
        for _ in 0..times {
            port += 1;
            curl_from(ns, port, &[], &format!("http://{NGINX}{path}"), status);
        }
    }
    60
}

fn metrics_pass_promtool_and_count_exactly(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = nginx(&ns);
    let process = httptop(
        &ns,
        mode,
        &["-p", "8080", "--prometheus", &METRICS.to_string()],
    );
    let capped_addr = SocketAddr::new(METRICS.ip(), METRICS.port() + 1);
    let capped = httptop(
        &ns,
        mode,
        &[
            "-p",
            "8080",
            "--prometheus",
            &capped_addr.to_string(),
            "--prometheus-series",
            "1",
        ],
    );
    let sent = send_known_traffic(&ns);
    // No settling: a scrape takes in everything the kernel sent up to it.
    let (head, text) = http_get(&ns, METRICS, "/metrics", None);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");

    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .output_after_writing(text.as_bytes());
    assert!(
        promtool.status.success(),
        "promtool: {}",
        promtool.stderr_text()
    );

    assert_eq!(sample(&text, "httptop_exchanges_total"), sent as f64);
    assert_eq!(sample(&text, "httptop_requests_total"), sent as f64);
    assert_eq!(sample(&text, "httptop_unmatched_responses_total"), 0.0);
    assert_eq!(sample(&text, "httptop_expired_requests_total"), 0.0);
    assert_eq!(sample(&text, "httptop_events_received_total"), sent as f64);
    for (template, class, count) in [
        ("/", "2xx", 50.0),
        ("/missing", "4xx", 7.0),
        ("/fail", "5xx", 3.0),
    ] {
        let series = histogram_series(template, class);
        let count_of = |metric: &str, rest: &str| {
            over_server_processes(
                &text,
                &format!("{DURATION}{metric}"),
                &series,
                ns.name(),
                rest,
            )
        };
        assert_eq!(count_of("_count", "}"), count, "{template}");
        assert_eq!(count_of("_bucket", ",le=\"+Inf\"}"), count, "{template}");
    }
    // Three endpoints, each under nginx or `?`: as many series as `_count` lines.
    let series = text
        .lines()
        .filter(|l| l.starts_with(&format!("{DURATION}_count{{")))
        .count();
    assert!((3..=6).contains(&series), "{text}");
    assert_eq!(sample(&text, "httptop_series"), series as f64);
    assert_eq!(sample(&text, "httptop_series_overflow_total"), 0.0);
    // The kernel ran once per packet, and measured it.
    assert!(sample(&text, "httptop_filter_runs_total") >= sent as f64 * 2.0);

    // The histogram's buckets are the kernel's: summed over the series, each cumulative bucket
    // `le = 2^k ns` equals the kernel's buckets below k, exactly.
    let (_, summary) = stop(process);
    let kernel: Vec<u64> = summary.0["histogram_log2"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    let mut by_bound: BTreeMap<u64, f64> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with(&format!("{DURATION}_bucket{{")))
    {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let le = series
            .rsplit_once("le=\"")
            .unwrap()
            .1
            .trim_end_matches("\"}");
        let bound_ns = match le {
            "+Inf" => u64::MAX,
            le => (le.parse::<f64>().unwrap() * 1e9).round() as u64,
        };
        *by_bound.entry(bound_ns).or_default() += value.parse::<f64>().unwrap();
    }
    let bounds: Vec<u64> = by_bound.keys().copied().collect();
    let expected: Vec<u64> = (10..=36).map(|k| 1u64 << k).chain([u64::MAX]).collect();
    assert_eq!(bounds, expected, "the bounds are 2^10 … 2^36 ns and +Inf");
    for k in 10..=36u32 {
        let below: u64 = kernel[..k as usize].iter().sum();
        assert_eq!(by_bound[&(1u64 << k)], below as f64, "le 2^{k} ns");
    }
    assert_eq!(by_bound[&u64::MAX], sent as f64);

    // One series kept apart; the other exchanges counted in `other`, and the cap's hits.
    let (_, capped_text) = http_get(&ns, capped_addr, "/metrics", None);
    assert_eq!(sample(&capped_text, "httptop_series"), 1.0);
    let kept = over_server_processes(
        &capped_text,
        &format!("{DURATION}_count"),
        &histogram_series("/", "2xx"),
        ns.name(),
        "}",
    );
    let other = sample(
        &capped_text,
        &format!(
            "{DURATION}_count{{server=\"other\",method=\"other\",status_class=\"other\",path_template=\"other\",server_process=\"other\",netns=\"other\"}}"
        ),
    );
    assert_eq!((kept, other), (50.0, 10.0));
    assert_eq!(sample(&capped_text, "httptop_series_overflow_total"), 10.0);

    // OpenMetrics when asked for, from the same crate; anything else is not found.
    let (head, open) = http_get(
        &ns,
        capped_addr,
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    );
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        http_get(&ns, capped_addr, "/nothing", None)
            .0
            .starts_with("HTTP/1.1 404")
    );
    drop(capped);
}

/// Prometheus' HTTP API result of `expr` at `time` (or now): the vector's samples as
/// (labels, value).
fn vector(prometheus: &Prometheus, ns: &NetNs, expr: &str, time: Option<f64>) -> Vec<(Value, f64)> {
    let data = expect_lab(
        match time {
            Some(t) => prometheus.query_at(ns, expr, t),
            None => prometheus.query(ns, expr),
        },
        format_args!("querying {expr}"),
    );
    data["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{expr}: {data}"))
        .iter()
        .map(|r| {
            let value = r["value"][1].as_str().unwrap().parse::<f64>().unwrap();
            (r["metric"].clone(), value)
        })
        .collect()
}

fn one_value(prometheus: &Prometheus, ns: &NetNs, expr: &str, time: Option<f64>) -> f64 {
    let v = vector(prometheus, ns, expr, time);
    assert_eq!(v.len(), 1, "{expr}: {v:?}");
    v[0].1
}

fn a_real_prometheus_scrapes_what_nginx_served(mode: AttachMode) {
    let ns = NetNs::new();
    let _nginx = nginx(&ns);
    let process = httptop(
        &ns,
        mode,
        &["-p", "8080", "--prometheus", &METRICS.to_string()],
    );
    let prometheus = expect_lab(
        Prometheus::start(&ns, PROMETHEUS, &[METRICS], Duration::from_secs(1)),
        "starting prometheus",
    );
    let scrapes = Duration::from_secs(30);
    expect_lab(
        prometheus.wait_for_scrapes(&ns, 2, scrapes),
        "first scrapes",
    );
    let sent = send_known_traffic(&ns);
    expect_lab(
        prometheus.wait_for_scrapes(&ns, 2, scrapes),
        "scrapes after the traffic",
    );

    // The counters, exactly what was sent.
    assert_eq!(
        one_value(&prometheus, &ns, "httptop_exchanges_total", None),
        sent as f64
    );
    assert_eq!(
        one_value(&prometheus, &ns, "httptop_requests_total", None),
        sent as f64
    );
    assert_eq!(
        one_value(&prometheus, &ns, "httptop_unmatched_responses_total", None),
        0.0
    );
    // increase() over the whole series, evaluated at its last sample (so nothing is
    // extrapolated past it, and a counter that starts at 0 is not extrapolated before it).
    let samples = expect_lab(
        prometheus.query(&ns, "httptop_exchanges_total[1h]"),
        "the series' samples",
    );
    let values = samples["result"][0]["values"].as_array().unwrap().clone();
    assert_eq!(
        values[0][1], "0",
        "the series starts before the traffic: {values:?}"
    );
    let last = values.last().unwrap()[0].as_f64().unwrap();
    assert_eq!(
        one_value(
            &prometheus,
            &ns,
            "increase(httptop_exchanges_total[1h])",
            Some(last)
        ),
        sent as f64
    );
    let by_endpoint = vector(
        &prometheus,
        &ns,
        &format!("sum by (path_template, status_class) ({DURATION}_count)"),
        None,
    );
    let mut counts: Vec<(String, String, f64)> = by_endpoint
        .iter()
        .map(|(labels, v)| {
            (
                labels["path_template"].as_str().unwrap().to_owned(),
                labels["status_class"].as_str().unwrap().to_owned(),
                *v,
            )
        })
        .collect();
    counts.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        counts,
        [
            ("/".to_owned(), "2xx".to_owned(), 50.0),
            ("/fail".to_owned(), "5xx".to_owned(), 3.0),
            ("/missing".to_owned(), "4xx".to_owned(), 7.0),
        ]
    );

    // The Grafana dashboard: every metric it reads is served, and every query evaluates to at
    // least one series on this Prometheus.
    let (_, text) = http_get(&ns, METRICS, "/metrics", None);
    let served = grafana::exposed_names(&text);
    for expr in grafana::dashboard_queries() {
        for name in grafana::metric_names(&expr) {
            assert!(
                served.contains(&name),
                "the dashboard reads {name}, not served: {expr}"
            );
        }
        if expr.starts_with("label_values(") {
            continue;
        }
        let query = grafana::for_prometheus(&expr);
        let result = vector(&prometheus, &ns, &query, None);
        assert!(!result.is_empty(), "no series for the dashboard's {query}");
    }

    // Quantiles: Prometheus interpolates inside the kernel's bucket that holds the rank, where
    // httptop's own percentile lies too.
    let (_, summary) = stop(process);
    let kernel: Vec<u64> = summary.0["histogram_log2"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap())
        .collect();
    for (q, key) in [(0.5, "p50"), (0.99, "p99")] {
        let rank = q * sent as f64;
        let mut below = 0;
        let bucket = kernel
            .iter()
            .position(|&n| {
                below += n;
                below as f64 >= rank
            })
            .unwrap();
        let (lo, hi) = ((1u64 << bucket) as f64, (1u64 << (bucket + 1)) as f64);
        let quantile = one_value(
            &prometheus,
            &ns,
            &format!("histogram_quantile({q}, sum by (le) ({DURATION}_bucket))"),
            None,
        ) * 1e9;
        assert!(
            lo <= quantile.round() && quantile.round() <= hi,
            "{key}: {quantile} ns not in [{lo}, {hi}]"
        );
        let own = summary.latency_ns(key) as f64;
        assert!(
            lo <= own && own < hi,
            "httptop's {key} {own} ns not in [{lo}, {hi})"
        );
    }
}

/// `Command::output` with `input` written to its stdin.
trait OutputAfterWriting {
    fn output_after_writing(&mut self, input: &[u8]) -> std::process::Output;
}

impl OutputAfterWriting for Command {
    fn output_after_writing(&mut self, input: &[u8]) -> std::process::Output {
        let mut child = self
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().expect("its output")
    }
}

trait StderrText {
    fn stderr_text(&self) -> String;
}

impl StderrText for std::process::Output {
    fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

httptop_tests::in_each_attach_mode!(
    json_lines_hold_what_curl_sent,
    json_lines_are_dropped_and_counted_when_the_reader_stalls,
    json_lines_end_the_run_when_the_reader_goes_away,
    metrics_pass_promtool_and_count_exactly,
    a_real_prometheus_scrapes_what_nginx_served,
);
