//! The live dashboard. The collector records into the shared model; the dashboard takes a
//! [`View`](crate::model::View) of it once per refresh interval (or on a key that needs one)
//! and draws from that copy, and it asks the model, through the same handle, to reset or to
//! change its filter.
//!
//! One widget per file: `header`, `sparklines`, `latency`, `table`, `inspect`, `help`,
//! `footer`; `ui` lays them out; `keys` is the single table of key bindings; `app` holds the
//! state and what each action does.

mod app;
mod columns;
// The frame-render benchmark ships only in benchmark builds; its test runs everywhere.
#[cfg(any(test, feature = "bench-controls"))]
pub mod bench;
mod cpu;
mod editor;
mod footer;
mod header;
mod help;
mod inspect;
mod keys;
mod latency;
mod sparklines;
mod table;
mod theme;
mod ui;

#[cfg(test)]
mod tests;

use std::{
    thread,
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use crossterm::event::{self, Event, KeyEventKind};
use tokio::{
    sync::{mpsc, watch},
    time::MissedTickBehavior,
};

use crate::{
    model::{Filter, SharedModel},
    signals::StopSignals,
};
pub use app::Watched;
use app::{App, now};
use cpu::CpuMeter;
use theme::Theme;

/// What only the dashboard needs to know of a run.
#[derive(Clone, Debug, Default)]
pub struct DashboardOptions {
    /// The filter to start with (`--filter`).
    pub initial_filter: Option<Filter>,
    /// Show query strings instead of `?…`.
    pub show_query: bool,
    /// `--duration`: the run ends this long after the start (`run` then turns `shutdown` true).
    pub duration: Option<Duration>,
}

/// Leaves raw mode and the alternate screen however `run` ends (error, early return).
/// Panics are covered by the hook `ratatui::try_init` installs.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        ratatui::restore();
    }
}

/// Reads terminal events on a thread of its own (crossterm's reads block) and forwards them;
/// it ends when the receiver is gone.
fn spawn_input_reader() -> mpsc::UnboundedReceiver<Event> {
    let (tx, rx) = mpsc::unbounded_channel();
    thread::Builder::new()
        .name("httptop-input".into())
        .spawn(move || {
            while !tx.is_closed() {
                match event::poll(Duration::from_millis(100)) {
                    Ok(true) => match event::read() {
                        Ok(ev) => {
                            if tx.send(ev).is_err() {
                                break;
                            }
                        }
                        Err(e) => {
                            log::warn!("reading terminal input: {e}");
                            break;
                        }
                    },
                    Ok(false) => {}
                    Err(e) => {
                        log::warn!("polling terminal input: {e}");
                        break;
                    }
                }
            }
        })
        .map(|_| ())
        .unwrap_or_else(|e| log::error!("cannot start the input thread: {e}"));
    rx
}

/// Runs the dashboard until `q`/Ctrl-C, a stopping signal ([`StopSignals`]), or `shutdown`
/// turning true (the collector ended, or `--duration` elapsed).
/// `interval` is the refresh period (a new view and a redraw); `watched` names the interfaces
/// and ports watched, for the header.
pub async fn run(
    model: SharedModel,
    opts: DashboardOptions,
    interval: Duration,
    watched: Watched,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let theme = Theme::from_env();
    let mut app = App::new(model, opts.show_query, watched, now());
    if opts.initial_filter.is_some() {
        app.set_filter(opts.initial_filter);
    }
    let mut stop_signals = StopSignals::install()?;

    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let _guard = TerminalGuard;
    let mut input = spawn_input_reader();
    let mut refresh = tokio::time::interval(interval);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut cpu = CpuMeter::new();

    while !app.quit && !*shutdown.borrow() {
        if std::mem::take(&mut app.clear) {
            terminal.clear()?;
        }
        app.set_clock(now());
        ui::draw_frame(&mut terminal, &mut app, &theme)?;
        tokio::select! {
            _ = refresh.tick() => {
                // A frozen screen does not move, CPU figure included.
                if app.frozen_at.is_none() {
                    app.cpu_percent = cpu.sample();
                }
                app.refresh();
            }
            ev = input.recv() => match ev {
                Some(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    app.handle_key(&key, SystemTime::now());
                }
                // Resize and the rest: the loop redraws, which re-lays out.
                Some(_) => {}
                None => break,
            },
            changed = shutdown.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = stop_signals.recv() => break,
        }
    }
    Ok(())
}
