//! The summary's rows per endpoint and per connection, exact, against nginx closing every
//! connection after one request (`keepalive_requests 1`) on paths answering 200, 404 and 500,
//! and a keep-alive client on a second server.
//!
//! Root only: run through `cargo xtask test`.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
};

use httptop_tests::{
    Counts, Httptop, Location, NetNs, Nginx, NginxConfig, Summary, curl_status, keep_alive_client,
};

const CLOSING: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const KEEP_ALIVE: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 8081);

/// `top_rows` as key → (exchanges, [(status, count)]).
fn rows(summary: &Summary) -> BTreeMap<String, (u64, Vec<(u64, u64)>)> {
    let rows = summary.0["top_rows"]
        .as_array()
        .unwrap_or_else(|| panic!("no top_rows; summary:\n{summary}"));
    rows.iter()
        .map(|r| {
            let codes = r["status_codes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (c["status"].as_u64().unwrap(), c["count"].as_u64().unwrap()))
                .collect();
            (
                r["key"].as_str().unwrap().to_owned(),
                (r["exchanges"].as_u64().unwrap(), codes),
            )
        })
        .collect()
}

#[test]
#[ignore = "needs root"]
fn endpoint_rows_count_each_path_template_and_status_exactly() {
    let ns = NetNs::new();
    let mut closing = NginxConfig::new(&[CLOSING]);
    closing.keepalive_requests = 1;
    closing.locations = vec![
        Location {
            path: "/users/",
            status: 200,
            body: "user\n",
        },
        Location {
            path: "/fail",
            status: 500,
            body: "failed\n",
        },
        Location {
            path: "/missing",
            status: 404,
            body: "missing\n",
        },
    ];
    let _closing = Nginx::start_config(&ns, &closing);
    let _keep_alive = Nginx::start(&ns, &[KEEP_ALIVE]);

    let by_endpoint = Httptop::attach(&ns, &["--group", "endpoint", "--top", "50"]);
    let failing = Httptop::attach(
        &ns,
        &[
            "--group",
            "endpoint",
            "--filter",
            "status 5xx",
            "--top",
            "50",
        ],
    );
    let by_connection = Httptop::attach(&ns, &["--group", "connection", "--top", "50"]);

    for id in [1, 22, 333, 4444, 55555] {
        curl_status(&ns, &format!("http://{CLOSING}/users/{id}?page=2"), 1, 200);
    }
    curl_status(&ns, &format!("http://{CLOSING}/fail"), 3, 500);
    curl_status(&ns, &format!("http://{CLOSING}/missing"), 2, 404);
    keep_alive_client(&ns, KEEP_ALIVE, 20);

    let summary = by_endpoint.stop();
    summary.assert_all_answered(30);
    let expected: BTreeMap<String, (u64, Vec<(u64, u64)>)> = [
        ("127.0.0.1:8080 GET /users/{id}", (5, vec![(200, 5)])),
        ("127.0.0.1:8080 GET /fail", (3, vec![(500, 3)])),
        ("127.0.0.1:8080 GET /missing", (2, vec![(404, 2)])),
        ("127.0.0.1:8081 GET /", (20, vec![(200, 20)])),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    assert_eq!(rows(&summary), expected, "summary:\n{summary}");
    assert_eq!(summary.0["group"], "endpoint");
    assert_eq!(summary.0["status_4xx"], 2, "summary:\n{summary}");
    assert_eq!(summary.0["status_5xx"], 3, "summary:\n{summary}");
    assert_eq!(summary.0["matched"], 30, "summary:\n{summary}");
    assert_eq!(summary.0["source"], "kernel");

    let summary = failing.stop();
    // The counters stay the kernel's; the rest (histogram included) covers what the filter let
    // through.
    assert_eq!(
        summary.counts(),
        Counts::answered(30),
        "summary:\n{summary}"
    );
    assert_eq!(summary.histogram_total(), 3, "summary:\n{summary}");
    assert_eq!(summary.0["filter"], "status 5xx");
    assert_eq!(summary.0["matched"], 3, "summary:\n{summary}");
    assert_eq!(summary.0["status_5xx"], 3, "summary:\n{summary}");
    let expected: BTreeMap<String, (u64, Vec<(u64, u64)>)> =
        [("127.0.0.1:8080 GET /fail".to_owned(), (3, vec![(500, 3)]))].into();
    assert_eq!(rows(&summary), expected, "summary:\n{summary}");

    let summary = by_connection.stop();
    summary.assert_all_answered(30);
    let connections = summary.0["top_rows"].as_array().expect("top_rows");
    // Ten curl connections of one exchange each, the keep-alive one with 20: every one closed
    // (nginx after each answer; the keep-alive client when done).
    let mut exchanges: Vec<u64> = connections
        .iter()
        .map(|r| r["exchanges"].as_u64().unwrap())
        .collect();
    exchanges.sort_unstable();
    assert_eq!(
        exchanges,
        [[1; 10].as_slice(), &[20]].concat(),
        "summary:\n{summary}"
    );
    let closed = connections.iter().filter(|r| r["closed"] == true).count();
    assert_eq!(closed, 11, "summary:\n{summary}");
    assert_eq!(summary.top_talkers().len(), 11);
}
