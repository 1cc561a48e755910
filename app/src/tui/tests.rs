//! Screen snapshots (insta) of every state, on a fixed model and clock.

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};

use super::{
    app::{App, Watched},
    keys::Action,
    theme::Theme,
    ui,
};
use crate::model::{
    Bodies, Clock, Event, Exchange, KernelTotals, Method, Model, ModelOptions, PathPrefix,
    ProcessId, ProcessInfo, Processes, SharedModel, Tuple, log2_bucket,
};
use probe_common::wire::Counter;

const SECOND: u64 = 1_000_000_000;
/// 12:34:56 UTC on 1970-01-01: the freeze time shown.
const FROZEN_AT: Duration = Duration::from_secs(45_296);

fn exchange(
    client: u16,
    server: (u8, u16),
    request_ns: u64,
    latency_ns: u64,
    status: u16,
    path: &str,
) -> Exchange {
    Exchange {
        tuple: Tuple {
            client: SocketAddr::from(([192, 168, 1, 10], client)),
            server: SocketAddr::from(([10, 0, 0, server.0], server.1)),
        },
        conn_start_ns: 0,
        request_ns,
        latency_ns,
        // The body takes half as long again as the first byte.
        ttlb_ns: Some(latency_ns / 2 * 3),
        bodies: Bodies {
            request: Some(if status == 201 { 512 } else { 0 }),
            response: Some(path.len() as u64 * 100),
        },
        method: Some(if status == 201 {
            Method::POST
        } else {
            Method::GET
        }),
        status,
        path: PathPrefix::new(path),
        // The servers are local (nginx and a python service), the client another host.
        processes: Processes {
            client: ProcessId::REMOTE,
            server: ProcessId::intern(if server.0 == 1 {
                ProcessInfo {
                    pid: Some(812),
                    comm: "nginx".into(),
                    unit: Some("nginx.service".into()),
                }
            } else {
                ProcessInfo {
                    pid: Some(990),
                    comm: "python3".into(),
                    unit: Some("docker:4f2a9c1b7e3d".into()),
                }
            }),
        },
        netns: Default::default(),
    }
}

/// Ten seconds of traffic to two servers, ticked every second, with matching kernel totals.
fn busy_model() -> Model {
    let mut m = Model::new(ModelOptions::default());
    let mut totals = KernelTotals::default();
    m.tick(100 * SECOND);
    for second in 0..10u64 {
        for i in 0..(20 + second * 3) {
            let t = (100 + second) * SECOND + i * 1_000_000;
            let client = 40_000 + (i % 6) as u16;
            let (server, path, latency, status) = match i % 6 {
                0..=2 => ((1, 80), "/index.html", 800_000 + i * 10_000, 200),
                3 | 4 => (
                    (2, 8080),
                    "/api/orders?user=42&token=s3cr3t",
                    20_000_000 + i * 100_000,
                    201,
                ),
                _ => (
                    (2, 8080),
                    "/api/missing",
                    1_500_000,
                    if second % 2 == 0 { 404 } else { 503 },
                ),
            };
            m.record(exchange(client, server, t, latency, status, path));
            totals[Counter::Exchanges] += 1;
            totals[Counter::Requests] += 1;
            totals[Counter::Responses] += 1;
            totals.histogram_log2[log2_bucket(latency)] += 1;
        }
        totals.filter_run_ns += 90_000 * (second + 1);
        totals.filter_run_cnt += 1_000 * (second + 1);
        totals.in_flight = 3;
        m.set_kernel_totals(totals.clone());
        m.tick((101 + second) * SECOND);
    }
    m
}

fn watched(interfaces: &[&str], ports: &[u16]) -> Watched {
    Watched {
        interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
        ports: ports.to_vec(),
    }
}

/// Now on screen: half a second after the busy model's last tick, at [`FROZEN_AT`].
fn clock() -> Clock {
    Clock {
        mono_ns: 110 * SECOND + SECOND / 2,
        wall: SystemTime::UNIX_EPOCH + FROZEN_AT,
    }
}

struct Screen {
    model: SharedModel,
    app: App,
    terminal: Terminal<TestBackend>,
}

impl Screen {
    fn new(model: Model, width: u16, height: u16) -> Self {
        let model = SharedModel::new(model);
        let app = App::new(model.clone(), false, watched(&["lo", "eth0"], &[]), clock());
        let terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
        Screen {
            model,
            app,
            terminal,
        }
    }

    fn act(&mut self, action: Action) -> &mut Self {
        self.app.act(action, SystemTime::UNIX_EPOCH + FROZEN_AT);
        self
    }

    fn type_filter(&mut self, text: &str) -> &mut Self {
        self.act(Action::OpenFilter);
        for _ in 0..64 {
            self.key(KeyCode::Backspace);
        }
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
        self
    }

    fn key(&mut self, code: KeyCode) -> &mut Self {
        self.app.handle_key(
            &KeyEvent::new(code, KeyModifiers::NONE),
            SystemTime::UNIX_EPOCH + FROZEN_AT,
        );
        self
    }

    fn render(&mut self) -> String {
        let theme = Theme::new(false);
        ui::draw_frame(&mut self.terminal, &mut self.app, &theme).unwrap();
        self.terminal.backend().to_string()
    }

    /// The screen's lines as drawn (without the quotes the backend's text puts around them).
    fn lines(&mut self) -> Vec<String> {
        self.render()
            .lines()
            .map(|l| l.trim_matches('"').to_string())
            .collect()
    }
}

#[test]
fn empty() {
    insta::assert_snapshot!(Screen::new(Model::new(ModelOptions::default()), 120, 30).render());
}

#[test]
fn busy() {
    let mut s = Screen::new(busy_model(), 170, 30);
    let screen = s.render();
    // The kernel's exact count, the busiest tuple first, the query string redacted.
    assert!(screen.contains("exchanges 335"), "{screen}");
    assert!(screen.contains("/api/orders?…"), "{screen}");
    assert!(!screen.contains("token"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn filtered() {
    let mut s = Screen::new(busy_model(), 120, 30);
    s.type_filter("dport 8080 not status 5xx")
        .key(KeyCode::Enter);
    let screen = s.render();
    assert!(!screen.contains("10.0.0.1:80"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn filter_error() {
    let mut s = Screen::new(busy_model(), 120, 30);
    s.type_filter("port 80").key(KeyCode::Enter);
    s.type_filter("port eighty").key(KeyCode::Enter);
    let screen = s.render();
    // The previous filter stays in force.
    assert!(screen.contains("filter port 80"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn frozen_screen_does_not_move_and_catches_up_on_unfreeze() {
    let mut s = Screen::new(busy_model(), 120, 30);
    s.act(Action::ToggleFreeze);
    let before = s.render();
    let mut late: Vec<Event> = (0..50)
        .map(|i| {
            Event::Exchange(exchange(
                50_000,
                (3, 9000),
                200 * SECOND + i,
                1_000,
                200,
                "/late",
            ))
        })
        .collect();
    s.model.record_batch(&mut late);
    // No reset happened, so the totals since the last reset are the kernel's latest.
    let mut totals = s.model.view().figures.kernel;
    totals[Counter::Exchanges] += 50;
    s.model.set_kernel_totals(totals);
    s.model.tick(201 * SECOND);
    s.app.refresh();
    let frozen = s.render();
    assert_eq!(before, frozen);
    insta::assert_snapshot!(frozen);

    // Re-filtering while frozen sees nothing that came after the freeze.
    s.type_filter("dport 9000").key(KeyCode::Enter);
    assert!(s.render().contains("connections (0)"));
    s.type_filter("").key(KeyCode::Enter);

    s.act(Action::ToggleFreeze);
    let live = s.render();
    assert!(live.contains("exchanges 385"), "{live}");
    assert!(live.contains("10.0.0.3:9000"), "{live}");
}

#[test]
fn inspect() {
    let mut s = Screen::new(busy_model(), 120, 36);
    s.act(Action::Down).act(Action::Inspect);
    insta::assert_snapshot!(s.render());
    s.act(Action::Back);
    assert!(s.render().contains("connections (6)"));
}

#[test]
fn help() {
    let mut s = Screen::new(busy_model(), 120, 36);
    s.key(KeyCode::Char('?'));
    insta::assert_snapshot!(s.render());
}

#[test]
fn too_small() {
    insta::assert_snapshot!(Screen::new(busy_model(), 60, 15).render());
}

#[test]
fn sorting_marks_the_column_and_keeps_the_selection() {
    let mut s = Screen::new(busy_model(), 120, 30);
    s.act(Action::Down);
    let selected = s.app.selected_key();
    s.act(Action::SortNext);
    assert!(s.render().contains("req/s▼"));
    assert_eq!(s.app.selected_key(), selected);
    s.act(Action::SortReverse);
    assert!(s.render().contains("req/s▲"));
}

#[test]
fn render_of_10k_rows_is_bounded() {
    // Not a timing assertion (CI machines vary): the benchmark runs and the table shows
    // every tuple while drawing only a page of them.
    let model = SharedModel::new(super::bench::busy_model(10_000));
    let app = App::new(model, false, Watched::default(), clock());
    assert_eq!(app.view.rows.len(), 10_000);
    assert!(super::bench::bench_render_10k(2) > Duration::ZERO);
}

/// The sizes every screen is checked at: the smallest laid out, and a large one.
const SIZES: [(u16, u16); 2] = [(80, 24), (200, 50)];

/// A model with long addresses (IPv4 and IPv6, five-digit ports) and counts past 10,000.
fn wide_model() -> Model {
    let mut m = Model::new(ModelOptions::default());
    let mut totals = KernelTotals::default();
    m.tick(100 * SECOND);
    let rows: [(&str, &str, u64, u16); 4] = [
        ("192.168.100.200:54321", "10.200.30.40:8080", 12_345, 200),
        (
            "[fd00:1234:5678::abcd]:40000",
            "[fd00:1234:5678::1]:8080",
            321,
            503,
        ),
        ("10.1.1.1:50000", "127.0.0.1:8080", 77, 404),
        ("10.1.1.2:50001", "127.0.0.1:80", 3, 200),
    ];
    for (client, server, n, status) in rows {
        for i in 0..n {
            let latency = if i % 100 == 99 {
                218_000_000
            } else {
                150_000 + i
            };
            m.record(Exchange {
                tuple: Tuple {
                    client: client.parse().unwrap(),
                    server: server.parse().unwrap(),
                },
                conn_start_ns: 0,
                request_ns: 100 * SECOND + i * 10_000,
                latency_ns: latency,
                ttlb_ns: Some(latency + 40_000),
                bodies: Bodies {
                    request: Some(0),
                    response: Some(2_048),
                },
                method: Some(Method::GET),
                status,
                path: PathPrefix::new("/api/v1/customers/orders/history?page=2"),
                processes: Default::default(),
                netns: Default::default(),
            });
            totals[Counter::Exchanges] += 1;
            totals.histogram_log2[log2_bucket(latency)] += 1;
        }
    }
    m.set_kernel_totals(totals);
    m.tick(101 * SECOND);
    m
}

/// Whether `token` is a whole figure as the dashboard writes them: an address with its port,
/// a duration, a count, a rate, a share, a range of durations, or `–` for none.
fn is_whole_figure(token: &str) -> bool {
    let address = token.parse::<SocketAddr>().is_ok()
        || token
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok();
    // A clock time: 12:34:56.789.
    let time = token.len() == 12
        && token
            .split([':', '.'])
            .all(|part| part.parse::<u16>().is_ok());
    if token == "–" || address || time {
        return true;
    }
    if let Some((low, high)) = token.split_once('–') {
        return is_whole_figure(low) && is_whole_figure(high);
    }
    let number = [
        "kB", "MB", "GB", "B", "ns", "µs", "ms", "s", "%", "k", "M", "G",
    ]
    .iter()
    .find_map(|unit| token.strip_suffix(unit))
    .unwrap_or(token);
    number.parse::<f64>().is_ok()
}

/// What is inside the first box of each line (between its first two `│`).
fn boxed(line: &str) -> Option<&str> {
    let mut parts = line.split('│');
    parts.next()?;
    let inside = parts.next()?;
    parts.next().map(|_| inside)
}

/// Every number and address drawn in the panels and the table is whole, and each visible row
/// shows its server and its count in full.
fn assert_uncut(s: &mut Screen) {
    let screen = s.render();
    let lines = s.lines();
    let labels = ["p50", "p90", "p99", "p99.9", "max", "TTFB", "4xx%", "5xx%"];
    for line in &lines {
        let Some(inside) = boxed(line) else { continue };
        for token in inside.split_whitespace() {
            let figure_like = token
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == '[');
            let label = token.trim_end_matches(['▲', '▼']);
            if figure_like && !labels.contains(&label) {
                assert!(is_whole_figure(token), "`{token}` is cut:\n{screen}");
            }
        }
    }
    // The table: its header row, then one line per visible row.
    let header = lines
        .iter()
        .position(|l| {
            boxed(l).is_some_and(|inside| inside.contains("exch") || inside.contains("TTFB "))
        })
        .unwrap_or_else(|| panic!("no table header:\n{screen}"));
    if !matches!(s.app.showing, super::app::Showing::Rows(_)) {
        return;
    }
    let visible = &s.app.view.rows[s.app.offset..];
    for (row, line) in visible.iter().zip(&lines[header + 1..]) {
        let tokens: Vec<&str> = boxed(line).unwrap_or("").split_whitespace().collect();
        // A row's server, its client for a client row, its process for a process row: whole.
        let server = match row.key {
            crate::model::RowKey::Process { process, .. } => process.to_string(),
            key => match key.server() {
                Some(server) => server.to_string(),
                None => key.to_string(),
            },
        };
        let count = row.exchanges.to_string();
        let count_short = crate::model::format_count(row.exchanges);
        assert!(
            tokens.contains(&server.as_str()),
            "{server} not whole in {line}\n{screen}"
        );
        assert!(
            tokens.contains(&count.as_str()) || tokens.contains(&count_short.as_str()),
            "{count} not in {line}"
        );
    }
}

#[test]
fn every_port_and_number_is_drawn_uncut_at_every_size() {
    for (width, height) in SIZES.into_iter().chain([(100, 30), (120, 30)]) {
        for model in [busy_model(), wide_model()] {
            let mut s = Screen::new(model, width, height);
            assert_uncut(&mut s);
            s.act(Action::SortNext);
            assert_uncut(&mut s);
            s.act(Action::ToggleExact);
            assert_uncut(&mut s);
        }
    }
    // 80 columns: the client side goes first, the server, the count and the request stay.
    let mut s = Screen::new(wide_model(), 80, 24);
    let screen = s.render();
    assert!(screen.contains("[fd00:1234:5678::1]:8080"), "{screen}");
    assert!(!screen.contains("54321"), "{screen}");
    assert!(screen.contains("GET /api/"), "{screen}");
    assert!(screen.contains("12.3k"), "{screen}");
    s.act(Action::ToggleExact);
    assert!(s.render().contains("12345"));
}

#[test]
fn screens_at_80x24_and_200x50() {
    for (width, height) in SIZES {
        let name = |state: &str| format!("{state}_{width}x{height}");
        let mut s = Screen::new(busy_model(), width, height);
        insta::assert_snapshot!(name("connections"), s.render());
        for view in ["server", "endpoint", "client", "process", "slowest", "tail"] {
            s.act(Action::NextView);
            insta::assert_snapshot!(name(view), s.render());
            assert_uncut(&mut s);
        }
        s.act(Action::NextView);
        s.act(Action::Down).act(Action::Inspect);
        insta::assert_snapshot!(name("inspect"), s.render());
        s.act(Action::Back).act(Action::ToggleHelp);
        insta::assert_snapshot!(name("help"), s.render());
        s.act(Action::Back);
        s.type_filter("dport 8080 not status 5xx");
        insta::assert_snapshot!(name("filter_bar"), s.render());
        s.key(KeyCode::Esc);
        let mut s = Screen::new(wide_model(), width, height);
        insta::assert_snapshot!(name("wide"), s.render());
    }
}

#[test]
fn the_histogram_shows_the_slow_tail_and_empty_figures_show_a_dash() {
    let mut s = Screen::new(wide_model(), 80, 24);
    let screen = s.render();
    // 218 ms is in [134ms, 268ms): the last row ends there, whatever it starts at.
    assert!(
        screen.lines().any(|l| l.contains("–268ms")),
        "no row for the slow tail:\n{screen}"
    );
    assert!(screen.contains("max 218ms"), "{screen}");
    let mut empty = Screen::new(Model::new(ModelOptions::default()), 80, 24);
    let screen = empty.render();
    assert!(screen.contains("p50 –"), "{screen}");
    assert!(screen.contains("max –"), "{screen}");
    assert!(!screen.contains("0ns"), "{screen}");
}

#[test]
fn inspect_shows_clock_times_and_ages_from_now() {
    let mut s = Screen::new(busy_model(), 120, 36);
    s.act(Action::Inspect);
    let screen = s.render();
    // The busiest row's last exchange was requested at 109.00s and answered 0.88ms later;
    // now is 110.5s, 12:34:56.000 UTC.
    assert!(screen.contains("last seen 12:34:54."), "{screen}");
    assert!(screen.contains("UTC (1.4"), "{screen}");
    assert!(!screen.contains("0ns ago"), "{screen}");
    // Scrolling shows older exchanges, and says where it is.
    assert!(screen.contains("recent 1–"), "{screen}");
    s.act(Action::Down);
    assert!(s.render().contains("recent 2–"));
}

#[test]
fn the_filter_bar_edits_like_a_shell_and_forgets_a_stale_error() {
    let ctrl = |c| KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL);
    let now = SystemTime::UNIX_EPOCH + FROZEN_AT;
    let mut s = Screen::new(busy_model(), 80, 24);
    s.type_filter("port 80").key(KeyCode::Enter);
    // Reopened: the current filter is there, selected; typing replaces it.
    s.act(Action::OpenFilter);
    assert_eq!(s.lines().last().unwrap().trim_end(), "filter: port 80");
    for c in "dport 8080".chars() {
        s.key(KeyCode::Char(c));
    }
    assert_eq!(s.app.filter_bar.as_ref().unwrap().text(), "dport 8080");
    s.app.handle_key(&ctrl('w'), now);
    assert_eq!(s.app.filter_bar.as_ref().unwrap().text(), "dport ");
    s.app.handle_key(&ctrl('a'), now);
    s.key(KeyCode::Char('x'));
    s.app.handle_key(&ctrl('e'), now);
    s.key(KeyCode::Char('1'));
    assert_eq!(s.app.filter_bar.as_ref().unwrap().text(), "xdport 1");
    s.key(KeyCode::Enter);
    assert!(s.app.filter_error.is_some());
    // Esc: the error goes with the bar, and does not come back with it.
    s.key(KeyCode::Esc);
    assert_eq!(s.app.filter_error, None);
    s.act(Action::OpenFilter);
    let screen = s.render();
    assert!(!screen.contains('✗'), "{screen}");
    s.app.handle_key(&ctrl('u'), now);
    assert_eq!(s.app.filter_bar.as_ref().unwrap().text(), "");
}

#[test]
fn the_footer_follows_what_is_in_front() {
    let mut s = Screen::new(busy_model(), 80, 24);
    let footer = |s: &mut Screen| s.lines().last().unwrap().to_string();
    let table = footer(&mut s);
    assert!(
        table.contains("/ filter") && table.contains("space freeze"),
        "{table}"
    );
    s.act(Action::ToggleFreeze);
    let frozen = footer(&mut s);
    assert!(
        frozen.contains("FROZEN") && frozen.contains("space unfreeze"),
        "{frozen}"
    );
    s.act(Action::ToggleFreeze).act(Action::Inspect);
    let inspect = footer(&mut s);
    assert!(
        inspect.contains("esc back") && inspect.contains("scroll"),
        "{inspect}"
    );
    s.act(Action::Back).act(Action::OpenFilter);
    let screen = s.render();
    assert!(screen.contains("enter apply  esc cancel"), "{screen}");
    assert_ne!(table, frozen);
    assert_ne!(table, inspect);
}

#[test]
fn help_scrolls_to_its_last_line_at_80x24() {
    let mut s = Screen::new(busy_model(), 80, 24);
    s.act(Action::ToggleHelp);
    let top = s.render();
    assert!(top.contains("keys"), "{top}");
    assert!(!top.contains("a row marked ✕"), "{top}");
    s.act(Action::End);
    let bottom = s.render();
    assert!(bottom.contains("a row marked ✕"), "{bottom}");
    assert!(bottom.contains(" of "), "{bottom}");
    // The table behind did not move.
    assert_eq!(s.app.selected, 0);
    s.act(Action::Back);
    assert!(!s.app.help);
}

#[test]
fn a_new_sort_shows_the_top_rows_and_says_where_the_selection_is() {
    let mut s = Screen::new(wide_model(), 80, 24);
    s.app.set_page_rows(2);
    s.act(Action::End);
    assert_eq!((s.app.selected, s.app.offset), (3, 2));
    s.act(Action::SortReverse);
    // The selected row is now first: the page starts at the top again.
    assert_eq!((s.app.selected, s.app.offset), (0, 0));
    assert!(s.render().contains("row 1/4"));
}

#[test]
fn the_header_names_what_is_watched_and_the_filter_cost_as_cpu_share() {
    let model = SharedModel::new(busy_model());
    let mut app = App::new(model.clone(), false, watched(&["lo"], &[8080]), clock());
    // One more second in which the filter ran 9 ms: 0.9% of a core.
    let mut totals = model.view().figures.kernel;
    totals.filter_run_ns += 9_000_000;
    totals.filter_run_cnt += 100_000;
    model.set_kernel_totals(totals);
    model.tick(111 * SECOND);
    app.refresh();
    let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
    ui::draw_frame(&mut terminal, &mut app, &Theme::new(false)).unwrap();
    let screen = terminal.backend().to_string();
    assert!(screen.contains("watching lo, port 8080"), "{screen}");
    assert!(
        screen.contains("socket filter 0.9% cpu  90ns/pkt"),
        "{screen}"
    );
}

#[test]
fn each_view_groups_the_same_exchanges_its_own_way() {
    let mut s = Screen::new(busy_model(), 200, 50);
    let rows = |s: &Screen| -> Vec<(String, u64)> {
        let mut rows: Vec<(String, u64)> = s
            .app
            .view
            .rows
            .iter()
            .map(|r| (r.key.to_string(), r.exchanges))
            .collect();
        rows.sort();
        rows
    };
    s.act(Action::NextView);
    assert_eq!(
        rows(&s),
        [
            ("10.0.0.1:80".to_string(), 175),
            ("10.0.0.2:8080".to_string(), 160)
        ]
    );
    s.act(Action::NextView);
    let screen = s.render();
    assert!(screen.contains(" endpoints (3) "), "{screen}");
    assert_eq!(
        rows(&s),
        [
            ("10.0.0.1:80 GET /index.html".to_string(), 175),
            ("10.0.0.2:8080 GET /api/missing".to_string(), 50),
            ("10.0.0.2:8080 POST /api/orders".to_string(), 110),
        ]
    );
    s.act(Action::NextView);
    assert_eq!(rows(&s), [("192.168.1.10".to_string(), 335)]);
    // Each process on its side: the servers' and the remote clients'.
    s.act(Action::NextView);
    let screen = s.render();
    assert!(screen.contains(" processes (3) "), "{screen}");
    assert!(screen.contains("docker:4f2a9c1b7e3d"), "{screen}");
    assert_eq!(
        rows(&s),
        [
            ("nginx[812] (server)".to_string(), 175),
            ("python3[990] (server)".to_string(), 160),
            ("remote (client)".to_string(), 335),
        ]
    );
    // The slowest first, with its clock time; the tail newest first.
    s.act(Action::NextView);
    let slowest = s.app.exchanges().to_vec();
    assert!(
        slowest
            .windows(2)
            .all(|w| w[0].latency_ns >= w[1].latency_ns)
    );
    let screen = s.render();
    assert!(screen.contains(" slowest ("), "{screen}");
    assert!(screen.contains(&crate::model::format_ns(slowest[0].latency_ns)));
    s.act(Action::Inspect);
    let inspected = s.app.inspect.as_ref().map(|d| d.key.tuple());
    assert_eq!(inspected, Some(Some(slowest[0].tuple)));
    s.act(Action::Back).act(Action::NextView);
    let tail = s.app.exchanges().to_vec();
    assert!(tail.windows(2).all(|w| w[0].seq > w[1].seq));
    // Round the cycle, back to connections.
    s.act(Action::NextView);
    assert!(s.render().contains(" connections (6) "));
}

/// Rows of other namespaces than httptop's say which; the same server address in two
/// namespaces is two rows. With one namespace the column is not drawn.
#[test]
fn rows_of_another_namespace_say_which_and_stay_apart() {
    let mut s = Screen::new(busy_model(), 200, 50);
    s.act(Action::NextView);
    assert!(!s.render().contains("netns"), "one namespace: no column");
    let blue = crate::model::NetnsId::add("tui-test-blue").unwrap();
    let mut model = busy_model();
    let mut e = exchange(40100, (1, 80), 120 * SECOND, 1_000_000, 200, "/index.html");
    e.netns = blue;
    model.record(e);
    let mut s = Screen::new(model, 200, 50);
    s.act(Action::NextView);
    let screen = s.render();
    assert!(screen.contains("netns"), "{screen}");
    let rows: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("10.0.0.1:80 "))
        .collect();
    assert_eq!(rows.len(), 2, "{screen}");
    assert_eq!(
        rows.iter().filter(|l| l.contains("tui-test-blue")).count(),
        1,
        "{screen}"
    );
}

#[test]
fn closed_connections_are_marked_and_can_be_hidden() {
    let mut model = busy_model();
    let first = *model.view().rows.iter().map(|r| &r.key).min().unwrap();
    let tuple = first.tuple().unwrap();
    model.apply(Event::ConnectionEnded(crate::model::ConnectionEnd {
        netns: Default::default(),
        tuple,
        conn_start_ns: 0,
    }));
    let mut s = Screen::new(model, 120, 30);
    let screen = s.render();
    let line = screen
        .lines()
        .find(|l| l.contains(&format!("{} →", tuple.client)))
        .unwrap();
    assert!(line.contains('✕'), "{screen}");
    assert_eq!(screen.matches('✕').count(), 1, "{screen}");
    s.act(Action::ToggleClosed);
    let screen = s.render();
    assert!(
        screen.contains(" connections (5, 1 closed hidden) "),
        "{screen}"
    );
    assert!(!screen.contains(&format!("{} →", tuple.client)), "{screen}");
    s.act(Action::ToggleClosed);
    assert!(s.render().contains(" connections (6) "));
}

#[test]
fn the_header_covers_the_window_the_sparklines_show() {
    // A minute of points, more than an 80-column chart shows.
    let mut m = Model::new(ModelOptions::default());
    m.tick(100 * SECOND);
    for second in 0..60u64 {
        let status = if second % 4 == 0 { 500 } else { 200 };
        let t = (100 + second) * SECOND;
        m.record(exchange(40_000, (1, 80), t, 1_000_000, status, "/"));
        m.tick(t + SECOND);
    }
    let mut s = Screen::new(m, 80, 24);
    let screen = s.render();
    // The chart is narrower than a minute: the header's window is its points, not 60.
    let seconds: usize = screen
        .split_once("last ")
        .and_then(|(_, rest)| rest.split_once("s:"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no window in the header:\n{screen}"));
    assert!(seconds < 60, "{screen}");
    let shown = &s.app.view.history[60 - seconds..];
    let span = format!("{seconds}s");
    assert!(
        screen.contains(&format!("last {span}: req/s 1.0")),
        "{screen}"
    );
    assert!(screen.contains(&format!("over {span}")), "{screen}");
    let errors = shown.iter().filter(|p| p.status_5xx > 0).count();
    let share = crate::model::format_percent(errors as f64 / shown.len() as f64);
    assert!(screen.contains(&format!("5xx {share}")), "{screen}");
}

#[test]
fn rows_counted_since_the_log_began_say_since_when() {
    // More exchanges than the log keeps, then a filter that looks into each one: its rows
    // count from the oldest exchange still kept.
    let mut m = Model::new(ModelOptions::default());
    m.tick(100 * SECOND);
    let n = crate::model::LOG_CAPACITY as u64 + 1_000;
    for i in 0..n {
        let status = if i % 2 == 0 { 500 } else { 200 };
        m.record(exchange(
            40_000,
            (1, 80),
            100 * SECOND + i * 1_000,
            1_000,
            status,
            "/",
        ));
    }
    m.tick(101 * SECOND);
    let mut s = Screen::new(m, 120, 30);
    s.type_filter("status 5xx").key(KeyCode::Enter);
    let row = s.app.view.rows.first().copied().unwrap();
    let since = row.partial_since_ns.expect("a partial row");
    // The oldest kept exchange: number 1000, requested 1 ms after the first.
    assert_eq!(since, 100 * SECOND + 1_000 * 1_000);
    let at = super::inspect::clock_time(s.app.clock.wall_time(since));
    let screen = s.render();
    assert!(
        screen.contains(&format!("* partial since {at}")),
        "{screen}"
    );
    assert!(
        screen.lines().any(|l| l.contains("→") && l.contains('*')),
        "{screen}"
    );
    s.act(Action::Inspect);
    assert!(s.render().contains(&format!("partial since {at}")));
}
