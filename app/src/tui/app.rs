//! The dashboard's state and what each action does to it. No terminal here: tests drive it.
//! Every change of state happens here, on a key or a refresh; drawing only reads the result.

use std::{cmp::Ordering, time::SystemTime};

use crossterm::event::{KeyCode, KeyEvent};

use super::keys::{Action, Context, action_for};
use crate::model::{Filter, Row, RowDetail, RowKey, SharedModel, View};

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
            Column::P50 => a
                .percentiles
                .map(|p| p.p50)
                .cmp(&b.percentiles.map(|p| p.p50)),
            Column::P99 => a
                .percentiles
                .map(|p| p.p99)
                .cmp(&b.percentiles.map(|p| p.p99)),
            Column::Max => a
                .percentiles
                .map(|p| p.max)
                .cmp(&b.percentiles.map(|p| p.max)),
            Column::Status => a.last.status.cmp(&b.last.status),
            Column::Tuple => a.key.cmp(&b.key),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

pub struct App {
    model: SharedModel,
    pub show_query: bool,
    pub interfaces: Vec<String>,
    /// What the screen shows, its rows sorted by `sort`.
    pub view: View,
    /// Wall-clock time of the freeze, when frozen.
    pub frozen_at: Option<SystemTime>,
    pub sort: Sort,
    /// Index of the selected row in `view.rows` (sorted).
    pub selected: usize,
    /// First row drawn; kept so the selection moves inside a steady page.
    pub offset: usize,
    /// Rows that fit in the table, as the latest layout measured them.
    pub page_rows: usize,
    pub inspect: Option<RowDetail>,
    pub help: bool,
    /// The filter bar's text while it is open.
    pub filter_input: Option<String>,
    pub filter_error: Option<String>,
    pub cpu_percent: Option<f64>,
    pub quit: bool,
    /// Clear the terminal before the next draw (Ctrl-L).
    pub clear: bool,
}

impl App {
    pub fn new(model: SharedModel, show_query: bool, interfaces: Vec<String>) -> Self {
        let mut app = App {
            show_query,
            interfaces,
            view: model.view(),
            model,
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

    /// Puts `filter` in force (`--filter`, or the filter bar's text once parsed); when frozen,
    /// the frozen screen is re-filtered.
    pub fn set_filter(&mut self, filter: Option<Filter>) {
        let keep = self.selected_tuple();
        self.model.set_filter(filter.clone());
        self.view = if self.frozen_at.is_some() {
            self.model.refilter(&self.view, filter)
        } else {
            self.model.view()
        };
        self.inspect = None;
        self.sort_rows(keep);
    }

    /// Takes a fresh view unless frozen (called once per refresh interval).
    pub fn refresh(&mut self) {
        if self.frozen_at.is_some() {
            return;
        }
        let selected = self.selected_tuple();
        self.view = self.model.view();
        if let Some(d) = &self.inspect {
            self.inspect = self
                .model
                .detail(&d.key, &self.view, false)
                .or(self.inspect.take());
        }
        self.sort_rows(selected);
    }

    pub fn selected_tuple(&self) -> Option<RowKey> {
        self.view.rows.get(self.selected).map(|r| r.key)
    }

    /// Records how many rows the table has room for (from the layout of the next frame) and
    /// keeps the selection inside that page.
    pub fn set_page_rows(&mut self, rows: usize) {
        self.page_rows = rows;
        self.scroll_to_selection();
    }

    /// Sorts the rows and keeps `keep` selected if it is still there.
    fn sort_rows(&mut self, keep: Option<RowKey>) {
        let Sort { column, descending } = self.sort;
        self.view.rows.sort_unstable_by(|a, b| {
            let by_column = column.compare(a, b);
            let by_column = if descending {
                by_column.reverse()
            } else {
                by_column
            };
            by_column.then_with(|| a.key.cmp(&b.key))
        });
        self.selected = keep
            .and_then(|t| self.view.rows.iter().position(|r| r.key == t))
            .unwrap_or(self.selected)
            .min(self.view.rows.len().saturating_sub(1));
        self.scroll_to_selection();
    }

    pub fn handle_key(&mut self, key: &KeyEvent, now: SystemTime) {
        if let Some(text) = &mut self.filter_input {
            match action_for(Context::FilterBar, key) {
                Some(action) => self.act(action, now),
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
            self.act(action, now);
        }
    }

    pub fn act(&mut self, action: Action, now: SystemTime) {
        self.apply(action, now);
        // Whatever moved the selection or changed the rows, the page follows it.
        self.scroll_to_selection();
    }

    fn apply(&mut self, action: Action, now: SystemTime) {
        let last = self.view.rows.len().saturating_sub(1);
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
                    self.view
                        .figures
                        .filter
                        .as_ref()
                        .map(|f| f.text().to_string())
                        .unwrap_or_default(),
                );
            }
            Action::ApplyFilter => self.apply_filter(),
            Action::CancelFilter => self.filter_input = None,
            Action::ToggleFreeze => {
                if self.frozen_at.take().is_none() {
                    self.frozen_at = Some(now);
                } else {
                    self.refresh();
                }
            }
            Action::Inspect => {
                if let Some(tuple) = self.selected_tuple() {
                    let frozen = self.frozen_at.is_some();
                    self.inspect = self.model.detail(&tuple, &self.view, frozen);
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
                self.model.reset();
                // A reset clears what a frozen screen could be re-filtered from, so it thaws.
                self.frozen_at = None;
                self.inspect = None;
                self.refresh();
            }
            Action::Redraw => self.clear = true,
            Action::ToggleHelp => self.help = !self.help,
        }
    }

    /// Parses the filter bar; a valid filter goes to the model (and, when frozen, re-filters the
    /// frozen screen); an invalid one leaves an inline error and keeps the previous filter.
    fn apply_filter(&mut self) {
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
                self.set_filter(filter);
            }
        }
    }

    /// Keeps the selection inside the page of `page_rows` rows.
    fn scroll_to_selection(&mut self) {
        let rows = self.page_rows;
        if rows == 0 {
            return;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + rows {
            self.offset = self.selected + 1 - rows;
        }
        self.offset = self.offset.min(self.view.rows.len().saturating_sub(rows));
    }
}
