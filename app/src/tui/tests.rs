//! Screen snapshots (insta) of every state, on a fixed model and clock.

use std::{
    net::SocketAddr,
    time::{Duration, SystemTime},
};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::{Terminal, backend::TestBackend};

use super::{app::App, keys::Action, theme::Theme, ui};
use crate::model::{
    Event, Exchange, KernelTotals, Method, Model, ModelOptions, PathPrefix, SharedModel, Tuple,
    log2_bucket,
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
        method: Some(if status == 201 {
            Method::Post
        } else {
            Method::Get
        }),
        status,
        path: PathPrefix::new(path),
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

struct Screen {
    model: SharedModel,
    app: App,
    terminal: Terminal<TestBackend>,
}

impl Screen {
    fn new(model: Model, width: u16, height: u16) -> Self {
        let model = SharedModel::new(model);
        let app = App::new(model.clone(), false, vec!["lo".into(), "eth0".into()]);
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
}

#[test]
fn empty() {
    insta::assert_snapshot!(Screen::new(Model::new(ModelOptions::default()), 120, 30).render());
}

#[test]
fn busy() {
    let mut s = Screen::new(busy_model(), 120, 30);
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
    let selected = s.app.selected_tuple();
    s.act(Action::SortNext);
    assert!(s.render().contains("req/s▼"));
    assert_eq!(s.app.selected_tuple(), selected);
    s.act(Action::SortReverse);
    assert!(s.render().contains("req/s▲"));
}

#[test]
fn render_of_10k_rows_is_bounded() {
    // Not a timing assertion (CI machines vary): the benchmark runs and the table shows
    // every tuple while drawing only a page of them.
    let model = SharedModel::new(super::bench::busy_model(10_000));
    let app = App::new(model, false, Vec::new());
    assert_eq!(app.view.rows.len(), 10_000);
    assert!(super::bench::bench_render_10k(2) > Duration::ZERO);
}
