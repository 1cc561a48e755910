//! The dashboard's state and what each action does to it. No terminal here: tests drive it.

use std::{
    cmp::Ordering,
    sync::{Mutex, MutexGuard},
    time::SystemTime,
};

use crossterm::event::{KeyCode, KeyEvent};

use super::{
    keys::{Action, Context, action_for},
    snapshot::{Row, Snapshot},
};
use crate::model::{Filter, LOG2_BUCKETS, Model, NumberedExchange, Percentiles, Tuple};

/// Table columns, in sort-cycle order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Exchanges,
    ReqPerS,
    P50,
    P99,
    Max,
    Status,
    Tuple,
}

impl Column {
    const CYCLE: [Column; 7] = [
        Column::Exchanges,
        Column::ReqPerS,
        Column::P50,
        Column::P99,
        Column::Max,
        Column::Status,
        Column::Tuple,
    ];

    fn next(self) -> Column {
        let i = Self::CYCLE.iter().position(|c| *c == self).unwrap_or(0);
        Self::CYCLE[(i + 1) % Self::CYCLE.len()]
    }

    fn compare(self, a: &Row, b: &Row) -> Ordering {
        match self {
            Column::Exchanges => a.exchanges.cmp(&b.exchanges),
            Column::ReqPerS => a.req_per_s.total_cmp(&b.req_per_s),
            Column::P50 => a.percentiles.p50.cmp(&b.percentiles.p50),
            Column::P99 => a.percentiles.p99.cmp(&b.percentiles.p99),
            Column::Max => a.percentiles.max.cmp(&b.percentiles.max),
            Column::Status => a.last.status.cmp(&b.last.status),
            Column::Tuple => a.tuple.cmp(&b.tuple),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

/// One connection, for the inspect view.
#[derive(Clone, Debug)]
pub struct Detail {
    pub tuple: Tuple,
    pub exchanges: u64,
    pub percentiles: Percentiles,
    pub log2: [u64; LOG2_BUCKETS],
    /// Newest first.
    pub recent: Vec<NumberedExchange>,
    pub first_seen_ns: u64,
    pub last_seen_ns: u64,
}

impl Detail {
    /// The tuple as the model has it now; its recent exchanges limited to those the filter
    /// lets through and that arrived before `before_seq` (the frozen moment).
    fn take(
        model: &Model,
        tuple: &Tuple,
        filter: Option<&Filter>,
        before_seq: u64,
    ) -> Option<Detail> {
        let t = model.stats().connections.get(tuple)?;
        Some(Detail {
            tuple: *tuple,
            exchanges: t.exchanges,
            percentiles: t.current_percentiles(),
            log2: t.log2_histogram(),
            recent: t
                .recent()
                .rev()
                .filter(|e| e.seq < before_seq && filter.is_none_or(|f| f.matches(e)))
                .copied()
                .collect(),
            first_seen_ns: t.first_seen_ns,
            last_seen_ns: t.last_seen_ns,
        })
    }
}

pub struct App {
    pub show_query: bool,
    pub interfaces: Vec<String>,
    pub snapshot: Snapshot,
    /// Wall-clock time of the freeze, when frozen.
    pub frozen_at: Option<SystemTime>,
    pub sort: Sort,
    /// Index of the selected row in `snapshot.rows` (sorted).
    pub selected: usize,
    /// First row drawn; kept so the selection moves inside a steady page.
    pub offset: usize,
    /// Rows that fit in the table, as of the last draw.
    pub page_rows: usize,
    pub inspect: Option<Detail>,
    pub help: bool,
    /// The filter bar's text while it is open.
    pub filter_input: Option<String>,
    pub filter_error: Option<String>,
    pub cpu_percent: Option<f64>,
    pub quit: bool,
    /// Clear the terminal before the next draw (Ctrl-L).
    pub clear: bool,
}

fn lock(model: &Mutex<Model>) -> MutexGuard<'_, Model> {
    // The collector may have panicked mid-update; showing its last state beats dying too.
    model
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl App {
    pub fn new(model: &Mutex<Model>, show_query: bool, interfaces: Vec<String>) -> Self {
        let mut app = App {
            show_query,
            interfaces,
            snapshot: Snapshot::take(&lock(model)),
            frozen_at: None,
            sort: Sort {
                column: Column::Exchanges,
                descending: true,
            },
            selected: 0,
            offset: 0,
            page_rows: 10,
            inspect: None,
            help: false,
            filter_input: None,
            filter_error: None,
            cpu_percent: None,
            quit: false,
            clear: false,
        };
        app.sort_rows(None);
        app
    }

    /// Sets the initial filter (`--filter`), as if typed in the filter bar.
    pub fn set_filter_text(&mut self, model: &Mutex<Model>, text: &str) {
        self.filter_input = Some(text.to_string());
        self.apply_filter(model);
    }

    /// Takes a fresh snapshot unless frozen (called once per refresh interval).
    pub fn refresh(&mut self, model: &Mutex<Model>) {
        if self.frozen_at.is_some() {
            return;
        }
        let selected = self.selected_tuple();
        let m = lock(model);
        self.snapshot = Snapshot::take(&m);
        if let Some(d) = &self.inspect {
            self.inspect = Detail::take(&m, &d.tuple, self.snapshot.filter.as_ref(), u64::MAX)
                .or(self.inspect.take());
        }
        drop(m);
        self.sort_rows(selected);
    }

    pub fn selected_tuple(&self) -> Option<Tuple> {
        self.snapshot.rows.get(self.selected).map(|r| r.tuple)
    }

    /// Sorts the rows and keeps `keep` selected if it is still there.
    fn sort_rows(&mut self, keep: Option<Tuple>) {
        let Sort { column, descending } = self.sort;
        self.snapshot.rows.sort_unstable_by(|a, b| {
            let by_column = column.compare(a, b);
            let by_column = if descending {
                by_column.reverse()
            } else {
                by_column
            };
            by_column.then_with(|| a.tuple.cmp(&b.tuple))
        });
        self.selected = keep
            .and_then(|t| self.snapshot.rows.iter().position(|r| r.tuple == t))
            .unwrap_or(self.selected)
            .min(self.snapshot.rows.len().saturating_sub(1));
    }

    pub fn handle_key(&mut self, model: &Mutex<Model>, key: &KeyEvent, now: SystemTime) {
        if let Some(text) = &mut self.filter_input {
            match action_for(Context::FilterBar, key) {
                Some(action) => self.act(model, action, now),
                None => match key.code {
                    KeyCode::Char(c) => text.push(c),
                    KeyCode::Backspace => {
                        text.pop();
                    }
                    _ => {}
                },
            }
            return;
        }
        if let Some(action) = action_for(Context::Main, key) {
            self.act(model, action, now);
        }
    }

    pub fn act(&mut self, model: &Mutex<Model>, action: Action, now: SystemTime) {
        let last = self.snapshot.rows.len().saturating_sub(1);
        let page = self.page_rows.max(1);
        match action {
            Action::Quit => self.quit = true,
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(last),
            Action::PageUp => self.selected = self.selected.saturating_sub(page),
            Action::PageDown => self.selected = (self.selected + page).min(last),
            Action::Home => self.selected = 0,
            Action::End => self.selected = last,
            Action::SortNext => {
                let keep = self.selected_tuple();
                self.sort.column = self.sort.column.next();
                // Tuples read best ascending, figures descending (biggest first).
                self.sort.descending = self.sort.column != Column::Tuple;
                self.sort_rows(keep);
            }
            Action::SortReverse => {
                let keep = self.selected_tuple();
                self.sort.descending = !self.sort.descending;
                self.sort_rows(keep);
            }
            Action::OpenFilter => {
                self.filter_input = Some(
                    self.snapshot
                        .filter
                        .as_ref()
                        .map(|f| f.text().to_string())
                        .unwrap_or_default(),
                );
            }
            Action::ApplyFilter => self.apply_filter(model),
            Action::CancelFilter => self.filter_input = None,
            Action::ToggleFreeze => {
                if self.frozen_at.take().is_none() {
                    self.frozen_at = Some(now);
                } else {
                    self.refresh(model);
                }
            }
            Action::Inspect => {
                if let Some(tuple) = self.selected_tuple() {
                    let before = self.snapshot.before_seq;
                    let live = self.frozen_at.is_none();
                    let m = lock(model);
                    self.inspect = Detail::take(
                        &m,
                        &tuple,
                        self.snapshot.filter.as_ref(),
                        if live { u64::MAX } else { before },
                    );
                }
            }
            Action::Back => {
                if self.help {
                    self.help = false;
                } else {
                    self.inspect = None;
                }
            }
            Action::Reset => {
                lock(model).reset();
                // A reset clears what a frozen screen could be re-filtered from, so it thaws.
                self.frozen_at = None;
                self.inspect = None;
                self.refresh(model);
            }
            Action::Redraw => self.clear = true,
            Action::ToggleHelp => self.help = !self.help,
        }
    }

    /// Parses the filter bar; a valid filter goes to the model (and, when frozen, re-filters the
    /// frozen screen); an invalid one leaves an inline error and keeps the previous filter.
    fn apply_filter(&mut self, model: &Mutex<Model>) {
        let Some(text) = self.filter_input.take() else {
            return;
        };
        match Filter::parse(&text) {
            Err(e) => {
                self.filter_error = Some(e.to_string());
                self.filter_input = Some(text);
            }
            Ok(filter) => {
                self.filter_error = None;
                let keep = self.selected_tuple();
                let mut m = lock(model);
                m.set_filter(filter.clone());
                if self.frozen_at.is_some() {
                    self.snapshot = Snapshot::refilter(&m, &self.snapshot, filter);
                } else {
                    self.snapshot = Snapshot::take(&m);
                }
                drop(m);
                self.inspect = None;
                self.sort_rows(keep);
            }
        }
    }

    /// Keeps the selection inside the drawn page of `rows` rows.
    pub fn scroll_to_selection(&mut self, rows: usize) {
        self.page_rows = rows;
        if rows == 0 {
            return;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        self.offset = self
            .offset
            .min(self.snapshot.rows.len().saturating_sub(rows));
    }
}
