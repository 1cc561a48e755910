//! Frame render benchmark (not a timed test): `cargo xtask bench` calls it through the hidden
//! `--bench-render` flag of a build with the `bench-controls` feature.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use ratatui::{Terminal, backend::TestBackend};

use super::{app::App, theme::Theme, ui};
use crate::model::{Bodies, Exchange, Method, Model, ModelOptions, PathPrefix, SharedModel, Tuple};

/// A model with `tuples` connections, a few exchanges each, and a minute of sparkline points.
pub(crate) fn busy_model(tuples: u32) -> Model {
    let mut model = Model::new(ModelOptions::default());
    let mut now_ns = 1_000_000_000_u64;
    model.tick(now_ns);
    for i in 0..tuples {
        let client = SocketAddr::from((
            [10, 1, (i >> 8) as u8, i as u8],
            30_000 + (i % 30_000) as u16,
        ));
        let server = SocketAddr::from((
            [10, 0, 0, 1 + (i % 4) as u8],
            [80, 443, 8080, 9000][(i % 4) as usize],
        ));
        for k in 0..(1 + i % 5) {
            now_ns += 1_000;
            model.record(Exchange {
                tuple: Tuple { client, server },
                conn_start_ns: 0,
                request_ns: now_ns,
                latency_ns: 50_000 + u64::from(i % 97) * 10_000 + u64::from(k) * 1_000,
                ttlb_ns: Some(90_000 + u64::from(i % 97) * 10_000),
                bodies: Bodies {
                    request: Some(0),
                    response: Some(u64::from(i % 7) * 1_000),
                },
                method: Some(if k % 3 == 0 {
                    Method::POST
                } else {
                    Method::GET
                }),
                status: [200, 200, 200, 404, 503][((i + k) % 5) as usize],
                path: PathPrefix::new(&format!("/api/items/{i}?token=abc{k}")),
                processes: Default::default(),
                netns: Default::default(),
            });
        }
        if i % (tuples / 60).max(1) == 0 {
            now_ns += 1_000_000_000;
            model.tick(now_ns);
        }
    }
    model.tick(now_ns + 1_000_000_000);
    model
}

/// Mean time to draw one 200x60 frame with 10,000 rows in the table (a new selection each
/// frame, so nothing is cached by the terminal diff).
pub fn bench_render_10k(frames: usize) -> Duration {
    let clock = crate::model::Clock::default();
    let mut app = App::new(
        SharedModel::new(busy_model(10_000)),
        false,
        super::app::Watched::default(),
        clock,
    );
    let theme = Theme::new(true);
    let mut terminal = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(never) => match never {},
    };
    let frames = frames.max(1);
    let start = Instant::now();
    for _ in 0..frames {
        app.act(super::keys::Action::Down, std::time::SystemTime::UNIX_EPOCH);
        if let Err(e) = ui::draw_frame(&mut terminal, &mut app, &theme) {
            log::warn!("bench draw: {e}");
        }
    }
    start.elapsed() / frames as u32
}
