//! The dashboard end to end in a real terminal: `httptop` (no `--headless`) in a tmux pane,
//! watching nginx in a network namespace of its own, driven with keys and read with
//! `capture-pane`. Exact counts: every request the clients send is on screen, no more.
//!
//! Root only: run through `cargo xtask test` (or `cargo test -p httptop-tests -- --ignored
//! --test-threads=1` as root, with `HTTPTOP_BIN` pointing at a release build).

use std::{
    ffi::OsStr,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use httptop_lab::{Location, NginxConfig};
use httptop_tests::{
    NetNs, Nginx, PythonServer, TempDir, keep_alive_client,
    tmux::{self, Tmux},
};

const SERVER_A: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const SERVER_B: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);
const REQUESTS_A: u64 = 200;
const REQUESTS_B: u64 = 50;
/// Sent while the screen is frozen, to `SERVER_A` on a connection of their own.
const REQUESTS_A_WHILE_FROZEN: u64 = 100;

const WIDTH: u16 = 160;
const HEIGHT: u16 = 48;
/// How long a frozen screen is watched for movement: five refresh periods
/// (`tmux::DASHBOARD_REFRESH`).
const FROZEN_WATCH: Duration = Duration::from_secs(1);
/// Every wait for the screen is bounded by this, and the whole test by `TEST_BUDGET`.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
const TEST_BUDGET: Duration = Duration::from_secs(60);

/// Bounds each wait by [`STEP_TIMEOUT`] and all of them together by [`TEST_BUDGET`].
struct Budget {
    started: Instant,
}

impl Budget {
    fn start() -> Self {
        Self {
            started: Instant::now(),
        }
    }

    #[track_caller]
    fn step(&self) -> Duration {
        let left = TEST_BUDGET.saturating_sub(self.started.elapsed());
        assert!(!left.is_zero(), "the test ran over its {TEST_BUDGET:?}");
        left.min(STEP_TIMEOUT)
    }
}

/// `ip netns exec NS httptop --interval 200ms` in a `width`x`height` tmux pane.
fn start_dashboard(ns: &NetNs, width: u16, height: u16) -> Tmux {
    start_dashboard_with(ns, width, height, &[])
}

/// [`start_dashboard`] with more arguments for httptop.
fn start_dashboard_with(ns: &NetNs, width: u16, height: u16, more: &[&str]) -> Tmux {
    let more: Vec<&OsStr> = more.iter().map(OsStr::new).collect();
    tmux::dashboard(ns, width, height, &more)
}

/// What the screen says, read from its text.
struct Screen<'a> {
    text: &'a str,
}

/// One row of the connections table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct ConnectionRow {
    server: String,
    exchanges: u64,
    client: String,
}

impl<'a> Screen<'a> {
    fn new(text: &'a str) -> Self {
        Self { text }
    }

    fn line(&self, index: usize) -> &'a str {
        self.text.lines().nth(index).unwrap_or("")
    }

    /// The header's `exchanges N` (first line).
    fn exchanges(&self) -> Option<u64> {
        let mut words = self.line(0).split_whitespace();
        words.find(|w| *w == "exchanges")?;
        words.next()?.parse().ok()
    }

    /// The header's `filter TEXT` (second line), up to a FROZEN mark.
    fn filter(&self) -> Option<&'a str> {
        let (_, rest) = self.line(1).split_once("  filter ")?;
        Some(rest.split(" FROZEN").next().unwrap_or(rest).trim())
    }

    fn frozen(&self) -> bool {
        self.line(1).contains(" FROZEN at ")
    }

    /// The bottom line: the filter bar (`filter: TEXT`) or the key hints.
    fn footer(&self) -> &'a str {
        self.text.lines().last().unwrap_or("").trim_end()
    }

    /// `N` of the table's title ` connections (N) `.
    fn connections_title(&self) -> Option<u64> {
        let (_, rest) = self.text.split_once(" connections (")?;
        rest.split(')').next()?.parse().ok()
    }

    /// The table's rows (`│[client proc] client → server [server proc] exch …│`), sorted by
    /// server, exchanges, client.
    fn rows(&self) -> Vec<ConnectionRow> {
        let mut rows: Vec<_> = self
            .text
            .lines()
            .filter_map(|line| {
                let cells = line.strip_prefix('│')?;
                let words: Vec<&str> = cells.split_whitespace().collect();
                let arrow = words.iter().position(|w| *w == "→")?;
                let client = words.get(arrow.checked_sub(1)?)?.to_string();
                let server = words.get(arrow + 1)?.to_string();
                // The server's process (when shown) comes before the count.
                let exchanges = words[arrow + 2..].iter().find_map(|w| w.parse().ok())?;
                Some(ConnectionRow {
                    server,
                    exchanges,
                    client,
                })
            })
            .collect();
        rows.sort();
        rows
    }

    /// (server, exchanges) of every row, sorted.
    fn servers_and_counts(&self) -> Vec<(String, u64)> {
        self.rows()
            .into_iter()
            .map(|row| (row.server, row.exchanges))
            .collect()
    }
}

/// `row N: before` / `row N: after` for every line that differs.
fn changed_lines(before: &str, after: &str) -> Vec<String> {
    let rows = before.lines().count().max(after.lines().count());
    (0..rows)
        .filter_map(|row| {
            let old = before.lines().nth(row).unwrap_or("");
            let new = after.lines().nth(row).unwrap_or("");
            (old != new).then(|| format!("row {row}: {old}\nrow {row}: {new}"))
        })
        .collect()
}

/// (server, exchanges) rows as [`Screen::servers_and_counts`] gives them.
fn expected_rows(rows: &[(SocketAddr, u64)]) -> Vec<(String, u64)> {
    let mut rows: Vec<_> = rows
        .iter()
        .map(|(server, exchanges)| (server.to_string(), *exchanges))
        .collect();
    rows.sort();
    rows
}

#[test]
#[ignore = "needs root"]
fn dashboard_counts_filters_freezes_and_quits_cleanly() {
    let budget = Budget::start();
    // Declared first, dropped last: after the processes inside it.
    let ns = NetNs::new();
    let _nginx_a = Nginx::start(&ns, &[SERVER_A]);
    let _nginx_b = Nginx::start(&ns, &[SERVER_B]);
    let tmux = start_dashboard(&ns, WIDTH, HEIGHT);

    // httptop attaches before it draws: a dashboard on screen is watching.
    tmux.wait_for("the dashboard with 0 exchanges", budget.step(), |s| {
        Screen::new(s).exchanges() == Some(0)
    });
    assert!(
        tmux.alternate_screen_on(),
        "the dashboard draws on the alternate screen"
    );

    // 1. Known traffic, exact total and rows.
    keep_alive_client(&ns, SERVER_A, REQUESTS_A as usize);
    keep_alive_client(&ns, SERVER_B, REQUESTS_B as usize);
    let both = expected_rows(&[(SERVER_A, REQUESTS_A), (SERVER_B, REQUESTS_B)]);
    let screen = tmux.wait_for(
        "exchanges 250, one row of 200 to :8080 and one of 50 to :9090",
        budget.step(),
        |s| {
            let s = Screen::new(s);
            s.exchanges() == Some(REQUESTS_A + REQUESTS_B) && s.servers_and_counts() == both
        },
    );
    let screen = Screen::new(&screen);
    assert_eq!(screen.connections_title(), Some(2), "{}", screen.text);
    assert_eq!(screen.filter(), Some("none"), "{}", screen.text);

    // 2. A port filter: only that server, and the counts of its exchanges alone.
    let filter_a = format!("port {}", SERVER_A.port());
    tmux.send_keys(&["/"]);
    tmux.type_text(&filter_a);
    tmux.send_keys(&["Enter"]);
    let only_a = expected_rows(&[(SERVER_A, REQUESTS_A)]);
    let screen = tmux.wait_for(
        "filter port 8080: exchanges 200, only the row to :8080",
        budget.step(),
        |s| {
            let s = Screen::new(s);
            s.filter() == Some(filter_a.as_str())
                && s.exchanges() == Some(REQUESTS_A)
                && s.servers_and_counts() == only_a
        },
    );
    let screen = Screen::new(&screen);
    assert_eq!(screen.connections_title(), Some(1), "{}", screen.text);
    assert!(
        !screen.text.contains(&format!(":{}", SERVER_B.port())),
        "port {} still on screen with the filter `{filter_a}`:\n{}",
        SERVER_B.port(),
        screen.text
    );

    // 3. Clear the filter: the bar opens with the current text; erase it and apply nothing.
    tmux.send_keys(&["/"]);
    let open_bar = format!("filter: {filter_a}");
    tmux.wait_for(
        "the filter bar with the current filter",
        budget.step(),
        |s| Screen::new(s).footer() == open_bar,
    );
    let erase = vec!["BSpace"; filter_a.chars().count()];
    tmux.send_keys(&erase);
    tmux.send_keys(&["Enter"]);
    tmux.wait_for(
        "no filter: exchanges 250 on both servers again",
        budget.step(),
        |s| {
            let s = Screen::new(s);
            s.filter() == Some("none")
                && s.exchanges() == Some(REQUESTS_A + REQUESTS_B)
                && s.servers_and_counts() == both
        },
    );

    // 4. Freeze: traffic goes on underneath, the screen does not move.
    tmux.send_keys(&["Space"]);
    let frozen = tmux.wait_for("FROZEN in the header", budget.step(), |s| {
        Screen::new(s).frozen()
    });
    keep_alive_client(&ns, SERVER_A, REQUESTS_A_WHILE_FROZEN as usize);
    // Nothing to wait for: the point is that nothing happens over several refresh periods.
    std::thread::sleep(FROZEN_WATCH);
    let frozen_later = tmux.capture();
    let changes = changed_lines(&frozen, &frozen_later);
    assert!(
        changes.is_empty(),
        "the frozen screen changed within {FROZEN_WATCH:?}:\n{}\nthe screen at the freeze:\n{frozen}",
        changes.join("\n")
    );
    let screen = Screen::new(&frozen);
    assert_eq!(
        screen.exchanges(),
        Some(REQUESTS_A + REQUESTS_B),
        "{frozen}"
    );
    assert_eq!(screen.servers_and_counts(), both, "{frozen}");

    // 5. Unfreeze: it catches up with everything sent meanwhile.
    tmux.send_keys(&["Space"]);
    let all_three = expected_rows(&[
        (SERVER_A, REQUESTS_A),
        (SERVER_A, REQUESTS_A_WHILE_FROZEN),
        (SERVER_B, REQUESTS_B),
    ]);
    let screen = tmux.wait_for(
        "unfrozen: exchanges 350, rows of 200 and 100 to :8080 and 50 to :9090",
        budget.step(),
        |s| {
            let s = Screen::new(s);
            !s.frozen()
                && s.exchanges() == Some(REQUESTS_A + REQUESTS_B + REQUESTS_A_WHILE_FROZEN)
                && s.servers_and_counts() == all_three
        },
    );
    let rows = Screen::new(&screen).rows();
    assert_ne!(
        rows[0].client, rows[1].client,
        "the two keep-alive connections to :8080 come from two client ports:\n{screen}"
    );

    // 6. q: exit status 0, and the terminal is back from the alternate screen, cursor shown.
    assert!(tmux.alternate_screen_on());
    tmux.send_keys(&["q"]);
    let status = tmux.wait_for_exit(budget.step());
    assert_eq!(status, 0, "exit status; the screen:\n{}", tmux.capture());
    assert!(
        !tmux.alternate_screen_on(),
        "still on the alternate screen after quitting:\n{}",
        tmux.capture()
    );
    assert_eq!(
        tmux.display("#{cursor_flag}"),
        "1",
        "the cursor stays hidden after quitting"
    );
}

/// The non-blank lines of a screen, trimmed.
fn text_lines(screen: &str) -> Vec<&str> {
    screen
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
#[ignore = "needs root"]
fn dashboard_too_small_says_so_and_relays_out_on_resize() {
    let budget = Budget::start();
    let ns = NetNs::new();
    let tmux = start_dashboard(&ns, 40, 10);

    // Narrower than the one-line message: it wraps onto two lines, sizes uncut, no panels.
    let screen = tmux.wait_for("the too-small message at 40x10", budget.step(), |s| {
        text_lines(s)
            .first()
            .is_some_and(|line| line.starts_with("terminal too small"))
    });
    assert_eq!(
        text_lines(&screen),
        ["terminal too small", "need 80x20, have 40x10"],
        "two lines, no panels:\n{screen}"
    );

    tmux.resize(70, 12);
    let screen = tmux.wait_for("the too-small message at 70x12", budget.step(), |s| {
        text_lines(s) == ["terminal too small (need 80x20, have 70x12)"]
    });
    assert_eq!(text_lines(&screen).len(), 1, "{screen}");

    tmux.resize(WIDTH, HEIGHT);
    tmux.wait_for("the dashboard after growing", budget.step(), |s| {
        Screen::new(s).exchanges() == Some(0)
    });

    tmux.send_keys(&["q"]);
    assert_eq!(tmux.wait_for_exit(budget.step()), 0);
    assert!(!tmux.alternate_screen_on());
}

/// nginx closing every connection after one request, with a path per status, and the delay
/// server answering after [`DELAY`].
const VIEWS_NGINX: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
const VIEWS_DELAY: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 9090);
const DELAY: Duration = Duration::from_millis(100);
/// (server, path, status, requests): each request on a connection of its own (curl, and nginx
/// with `keepalive_requests 1`); `/users/N` are one endpoint, `/users/{id}`.
const VIEWS_TRAFFIC: [(SocketAddr, &str, u16, u64); 7] = [
    (VIEWS_NGINX, "/ok", 200, 7),
    (VIEWS_NGINX, "/missing", 404, 3),
    (VIEWS_NGINX, "/broken", 500, 2),
    (VIEWS_NGINX, "/users/1", 200, 1),
    (VIEWS_NGINX, "/users/22", 200, 2),
    (VIEWS_NGINX, "/users/333", 200, 1),
    (VIEWS_DELAY, "/slow", 200, 3),
];

/// `curl URL` inside `ns` (a connection of its own); panics unless it answers `status`.
fn curl_expecting(ns: &NetNs, url: &str, status: u16) {
    let output = ns
        .command("curl")
        .args(["-sS", "--http1.1", "--max-time", "5", "-o", "/dev/null"])
        .args(["-w", "%{http_code}", url])
        .output()
        .unwrap_or_else(|e| panic!("running curl: {e}"));
    let code = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        code,
        status.to_string(),
        "curl {url}: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// One row of the endpoint view: `│server method endpoint exch …`.
fn endpoint_rows(screen: &str) -> Vec<(String, String, String, u64)> {
    let mut rows: Vec<_> = screen
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix('│')?.split_whitespace();
            let server = words.next()?.to_owned();
            server.parse::<SocketAddr>().ok()?;
            let method = words.next()?.to_owned();
            let endpoint = words.next()?.to_owned();
            // The server's process (when shown) comes before the count.
            let exchanges = words.find_map(|w| w.parse().ok())?;
            Some((server, method, endpoint, exchanges))
        })
        .collect();
    rows.sort();
    rows
}

#[test]
#[ignore = "needs root"]
fn dashboard_views_group_endpoints_exactly_and_list_the_slowest_first() {
    let budget = Budget::start();
    let ns = NetNs::new();
    let dir = TempDir::new();
    let mut config = NginxConfig::new(&[VIEWS_NGINX]);
    config.keepalive_requests = 1;
    config.locations = vec![
        Location {
            path: "/ok",
            status: 200,
            body: "ok\n",
        },
        Location {
            path: "/missing",
            status: 404,
            body: "missing\n",
        },
        Location {
            path: "/broken",
            status: 500,
            body: "broken\n",
        },
        Location {
            path: "/users/",
            status: 200,
            body: "user\n",
        },
    ];
    let _nginx = httptop_lab::Nginx::start(&ns, dir.path(), &config)
        .unwrap_or_else(|e| panic!("starting nginx: {e}"));
    let _delay = PythonServer::delay(&ns, VIEWS_DELAY, DELAY);
    let tmux = start_dashboard(&ns, 200, 50);
    tmux.wait_for("the dashboard with 0 exchanges", budget.step(), |s| {
        Screen::new(s).exchanges() == Some(0)
    });

    for (server, path, status, requests) in VIEWS_TRAFFIC {
        for _ in 0..requests {
            curl_expecting(&ns, &format!("http://{server}{path}"), status);
        }
    }
    let total: u64 = VIEWS_TRAFFIC.iter().map(|t| t.3).sum();
    tmux.wait_for("every exchange counted", budget.step(), |s| {
        Screen::new(s).exchanges() == Some(total)
    });
    // Every request had a connection of its own, and every one of them has ended.
    let closed = tmux.wait_for(
        "a row per connection, each marked closed",
        budget.step(),
        |s| {
            Screen::new(s).connections_title() == Some(total)
                && s.lines()
                    .filter(|l| l.starts_with('│') && l.contains('✕'))
                    .count()
                    == total as usize
        },
    );
    assert_eq!(
        Screen::new(&closed).rows().len(),
        total as usize,
        "{closed}"
    );

    // The view key twice: servers, then endpoints.
    tmux.send_keys(&["v"]);
    tmux.wait_for("the server view", budget.step(), |s| {
        s.contains(" servers (2) ")
    });
    tmux.send_keys(&["v"]);
    let mut expected: Vec<(String, String, String, u64)> = vec![
        (VIEWS_NGINX.to_string(), "GET".into(), "/broken".into(), 2),
        (VIEWS_NGINX.to_string(), "GET".into(), "/missing".into(), 3),
        (VIEWS_NGINX.to_string(), "GET".into(), "/ok".into(), 7),
        (
            VIEWS_NGINX.to_string(),
            "GET".into(),
            "/users/{id}".into(),
            4,
        ),
        (VIEWS_DELAY.to_string(), "GET".into(), "/slow".into(), 3),
    ];
    expected.sort();
    let screen = tmux.wait_for(
        "the endpoint view with every endpoint",
        budget.step(),
        |s| s.contains(" endpoints (5) ") && endpoint_rows(s) == expected,
    );
    assert_eq!(endpoint_rows(&screen), expected, "{screen}");

    // Client, process, then the slowest exchanges: the delayed endpoint's first.
    tmux.send_keys(&["v", "v", "v"]);
    let screen = tmux.wait_for("the slowest view", budget.step(), |s| {
        s.contains(" slowest (")
    });
    let first = screen
        .lines()
        .skip_while(|l| !l.contains("time UTC"))
        .nth(1)
        .unwrap_or("");
    assert!(
        first.contains(&VIEWS_DELAY.to_string()) && first.contains("GET /slow"),
        "the slowest row is not the delayed endpoint's:\n{screen}"
    );

    tmux.send_keys(&["q"]);
    assert_eq!(tmux.wait_for_exit(budget.step()), 0);
}

#[test]
#[ignore = "needs root"]
fn dashboard_ends_when_its_duration_elapses() {
    let budget = Budget::start();
    let ns = NetNs::new();
    let tmux = start_dashboard_with(&ns, WIDTH, HEIGHT, &["--duration", "2s", "-p", "8080"]);
    let screen = tmux.wait_for("the dashboard", budget.step(), |s| {
        Screen::new(s).exchanges() == Some(0)
    });
    // What is watched, named plainly.
    assert!(
        screen.contains("watching all interfaces, port 8080"),
        "{screen}"
    );
    // No key is sent: only the duration can end it.
    let status = tmux.wait_for_exit(budget.step());
    assert_eq!(status, 0, "exit status; the screen:\n{}", tmux.capture());
    assert!(!tmux.alternate_screen_on(), "{}", tmux.capture());
}
