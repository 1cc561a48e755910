//! The live dashboard (issue 4). The collector owns the model and updates it; this module
//! copies a [`snapshot::Snapshot`] out of it once per refresh interval (or on a key that needs
//! one) and draws from that copy, so drawing never holds the model's lock.
//!
//! One widget per file: `header`, `sparklines`, `latency`, `table`, `inspect`, `help`,
//! `footer`; `ui` lays them out; `keys` is the single table of key bindings; `app` holds the
//! state and what each action does.

mod app;
pub mod bench;
mod cpu;
mod footer;
mod header;
mod help;
mod inspect;
mod keys;
mod latency;
mod snapshot;
mod sparklines;
mod table;
mod theme;
mod ui;

#[cfg(test)]
mod tests;

use std::{
    sync::{Arc, Mutex},
    thread,
    time::{Duration, SystemTime},
};

use anyhow::Context as _;
use crossterm::event::{self, Event, KeyEventKind};
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::{mpsc, watch},
    time::MissedTickBehavior,
};

use crate::model::Model;
use app::App;
use cpu::CpuMeter;
use theme::Theme;

#[derive(Clone, Debug)]
pub struct TuiOptions {
    /// Refresh period: a new snapshot and a redraw.
    pub interval: Duration,
    /// Filter text to start with (`--filter`).
    pub initial_filter: Option<String>,
    /// Show query strings instead of `?…`.
    pub show_query: bool,
    /// Interface names for the header; empty means all.
    pub interfaces: Vec<String>,
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

/// Runs the dashboard until `q`/Ctrl-C, SIGTERM, SIGHUP, or `shutdown` turning true.
pub async fn run(
    model: Arc<Mutex<Model>>,
    opts: TuiOptions,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let theme = Theme::from_env();
    let mut app = App::new(&model, opts.show_query, opts.interfaces.clone());
    if let Some(text) = &opts.initial_filter {
        app.set_filter_text(&model, text);
        if let Some(e) = &app.filter_error {
            anyhow::bail!("--filter {text:?}: {e}");
        }
    }
    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;

    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let _guard = TerminalGuard;
    let mut input = spawn_input_reader();
    let mut refresh = tokio::time::interval(opts.interval);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut cpu = CpuMeter::new();

    while !app.quit && !*shutdown.borrow() {
        if std::mem::take(&mut app.clear) {
            terminal.clear()?;
        }
        terminal.draw(|frame| ui::draw(frame, &mut app, &theme))?;
        tokio::select! {
            _ = refresh.tick() => {
                // A frozen screen does not move, CPU figure included.
                if app.frozen_at.is_none() {
                    app.cpu_percent = cpu.sample();
                }
                app.refresh(&model);
            }
            ev = input.recv() => match ev {
                Some(Event::Key(key)) if key.kind != KeyEventKind::Release => {
                    app.handle_key(&model, &key, SystemTime::now());
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
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
        }
    }
    Ok(())
}
