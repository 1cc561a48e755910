//! The dashboard's state and what each action does to it. No terminal here: tests drive it.
//! Every change of state happens here, on a key or a refresh; drawing only reads the result.

use std::{
    cmp::Ordering,
    time::{Duration, SystemTime},
};

use crossterm::event::{KeyCode, KeyEvent};

use super::{
    editor::LineEditor,
    keys::{Action, Context, Mode, action_for},
    table::{COLUMNS, DEFAULT_SORT},
};
use crate::model::{ConnectionDetail, ConnectionRow, Filter, SharedModel, Tuple, View};

/// What httptop watches, as the header names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watched {
    /// Interface names; empty: every interface of the network namespace.
    pub interfaces: Vec<String>,
    /// Server ports; empty: every port.
    pub ports: Vec<u16>,
}

/// "Now" for ages and clock times on screen: the monotonic clock the kernel stamps exchanges
/// with, and the wall clock at the same moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub monotonic_ns: u64,
    pub wall: SystemTime,
}

impl Clock {
    /// Both clocks read now.
    pub fn now() -> Self {
        Clock {
            monotonic_ns: crate::kernel::monotonic_ns(),
            wall: SystemTime::now(),
        }
    }

    /// The wall-clock time of a CLOCK_MONOTONIC stamp.
    pub fn wall_of(&self, monotonic_ns: u64) -> SystemTime {
        let ago = Duration::from_nanos(self.monotonic_ns.saturating_sub(monotonic_ns));
        self.wall.checked_sub(ago).unwrap_or(self.wall)
    }

    pub fn ago_ns(&self, monotonic_ns: u64) -> u64 {
        self.monotonic_ns.saturating_sub(monotonic_ns)
    }
}

pub struct App {
    model: SharedModel,
    pub show_query: bool,
    pub watched: Watched,
    /// What the screen shows, its rows sorted by `sort_column`.
    pub view: View,
    /// Wall-clock time of the freeze, when frozen.
    pub frozen_at: Option<SystemTime>,
    /// The header of the column sorted on.
    pub sort_column: &'static str,
    pub sort_descending: bool,
    /// Index of the selected row in `view.rows` (sorted).
    pub selected: usize,
    /// First row drawn; kept so the selection moves inside a steady page.
    pub offset: usize,
    /// Rows that fit in the table, as the latest layout measured them.
    pub page_rows: usize,
    pub inspect: Option<ConnectionDetail>,
    /// First recent exchange drawn in inspect.
    pub inspect_scroll: usize,
    pub help: bool,
    /// First help line drawn.
    pub help_scroll: usize,
    /// The filter bar while it is open.
    pub filter_bar: Option<LineEditor>,
    pub filter_error: Option<String>,
    /// Exact numbers instead of `12.3k` (a key toggles it).
    pub exact: bool,
    pub cpu_percent: Option<f64>,
    /// The socket filter's CPU use over the latest interval: its run time over the interval's
    /// length (1.0 = one core).
    pub filter_cpu_share: Option<f64>,
    /// The refresh interval: what req/s and the sparklines' points are measured over.
    pub interval: Duration,
    /// Now, as of the latest refresh (the freeze's moment while frozen).
    pub clock: Clock,
    pub quit: bool,
    /// Clear the terminal before the next draw (Ctrl-L).
    pub clear: bool,
}

impl App {
    pub fn new(model: SharedModel, show_query: bool, watched: Watched, clock: Clock) -> Self {
        let mut app = App {
            show_query,
            watched,
            view: model.view(),
            model,
            frozen_at: None,
            sort_column: DEFAULT_SORT,
            sort_descending: true,
            selected: 0,
            offset: 0,
            page_rows: 10,
            inspect: None,
            inspect_scroll: 0,
            help: false,
            help_scroll: 0,
            filter_bar: None,
            filter_error: None,
            exact: false,
            cpu_percent: None,
            filter_cpu_share: None,
            interval: Duration::from_secs(1),
            clock,
            quit: false,
            clear: false,
        };
        app.sort_rows(None);
        app
    }

    /// What is in front, for the footer.
    pub fn mode(&self) -> Mode {
        if self.filter_bar.is_some() {
            Mode::Filter
        } else if self.help {
            Mode::Help
        } else if self.inspect.is_some() {
            Mode::Inspect
        } else if self.frozen_at.is_some() {
            Mode::Frozen
        } else {
            Mode::Table
        }
    }

    /// Moves "now" on, unless frozen (a frozen screen's ages do not move).
    pub fn set_clock(&mut self, clock: Clock) {
        if self.frozen_at.is_none() {
            self.clock = clock;
        }
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
        let view = self.model.view();
        self.measure_filter_cpu(&view);
        self.view = view;
        if let Some(d) = &self.inspect {
            self.inspect = self
                .model
                .detail(&d.tuple, &self.view, false)
                .or(self.inspect.take());
        }
        self.sort_rows(selected);
    }

    /// The filter's run time between the previous view's tick and `next`'s, over that time.
    fn measure_filter_cpu(&mut self, next: &View) {
        let (before, after) = (&self.view.figures, &next.figures);
        let elapsed = after.now_ns.saturating_sub(before.now_ns);
        if elapsed == 0 || after.kernel.filter_run_ns < before.kernel.filter_run_ns {
            // The same interval, or a reset in between: keep the last figure.
            return;
        }
        let ran = after.kernel.filter_run_ns - before.kernel.filter_run_ns;
        self.filter_cpu_share = Some(ran as f64 / elapsed as f64);
    }

    pub fn selected_tuple(&self) -> Option<Tuple> {
        self.view.rows.get(self.selected).map(|r| r.tuple)
    }

    /// Records how many rows the table has room for (from the layout of the next frame) and
    /// keeps the selection inside that page.
    pub fn set_page_rows(&mut self, rows: usize) {
        self.page_rows = rows;
        self.scroll_to_selection();
    }

    fn compare(&self, a: &ConnectionRow, b: &ConnectionRow) -> Ordering {
        let column = COLUMNS
            .iter()
            .find(|c| c.header == self.sort_column)
            .and_then(|c| c.compare);
        let by_column = column.map_or(Ordering::Equal, |compare| compare(a, b));
        let by_column = if self.sort_descending {
            by_column.reverse()
        } else {
            by_column
        };
        by_column.then_with(|| a.tuple.cmp(&b.tuple))
    }

    /// Sorts the rows and keeps `keep` selected if it is still there.
    fn sort_rows(&mut self, keep: Option<Tuple>) {
        let mut rows = std::mem::take(&mut self.view.rows);
        rows.sort_unstable_by(|a, b| self.compare(a, b));
        self.view.rows = rows;
        self.selected = keep
            .and_then(|t| self.view.rows.iter().position(|r| r.tuple == t))
            .unwrap_or(self.selected)
            .min(self.view.rows.len().saturating_sub(1));
        self.scroll_to_selection();
    }

    /// A new order: the page goes back to the top as far as the selection allows.
    fn resort(&mut self) {
        let keep = self.selected_tuple();
        self.sort_rows(keep);
        self.offset = 0;
        self.scroll_to_selection();
    }

    pub fn handle_key(&mut self, key: &KeyEvent, now: SystemTime) {
        if let Some(editor) = &mut self.filter_bar {
            match action_for(Context::FilterBar, key) {
                Some(action) => {
                    if !editor.edit(action) {
                        self.act(action, now);
                    }
                }
                None => {
                    if let KeyCode::Char(c) = key.code {
                        editor.insert(c);
                    }
                }
            }
            return;
        }
        if let Some(action) = action_for(Context::Main, key) {
            self.act(action, now);
        }
    }

    pub fn act(&mut self, action: Action, now: SystemTime) {
        if self.help {
            self.act_in_help(action);
            return;
        }
        if self.inspect.is_some() && self.scroll_inspect(action) {
            return;
        }
        self.apply(action, now);
        // Whatever moved the selection or changed the rows, the page follows it.
        self.scroll_to_selection();
    }

    /// Help is in front: keys scroll it or close it; the rest wait until it is closed.
    fn act_in_help(&mut self, action: Action) {
        let page = self.page_rows.max(1);
        match action {
            Action::Up => self.help_scroll = self.help_scroll.saturating_sub(1),
            Action::Down => self.help_scroll += 1,
            Action::PageUp => self.help_scroll = self.help_scroll.saturating_sub(page),
            Action::PageDown => self.help_scroll += page,
            Action::Home => self.help_scroll = 0,
            Action::End => self.help_scroll = usize::MAX,
            Action::Back | Action::ToggleHelp => self.help = false,
            Action::Quit => self.quit = true,
            Action::Redraw => self.clear = true,
            _ => {}
        }
    }

    /// Inspect is in front: the arrows scroll its recent exchanges.
    fn scroll_inspect(&mut self, action: Action) -> bool {
        let page = self.page_rows.max(1);
        let last = self
            .inspect
            .as_ref()
            .map_or(0, |d| d.recent.len().saturating_sub(1));
        let scroll = &mut self.inspect_scroll;
        match action {
            Action::Up => *scroll = scroll.saturating_sub(1),
            Action::Down => *scroll = (*scroll + 1).min(last),
            Action::PageUp => *scroll = scroll.saturating_sub(page),
            Action::PageDown => *scroll = (*scroll + page).min(last),
            Action::Home => *scroll = 0,
            Action::End => *scroll = last,
            _ => return false,
        }
        true
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
                let sortable: Vec<&Column> =
                    COLUMNS.iter().filter(|c| c.compare.is_some()).collect();
                let at = sortable
                    .iter()
                    .position(|c| c.header == self.sort_column)
                    .unwrap_or(0);
                let next = sortable[(at + 1) % sortable.len()];
                self.sort_column = next.header;
                self.sort_descending = next.descending_first;
                self.resort();
            }
            Action::SortReverse => {
                self.sort_descending = !self.sort_descending;
                self.resort();
            }
            Action::OpenFilter => {
                let current = self.view.figures.filter.as_ref().map_or("", |f| f.text());
                self.filter_bar = Some(LineEditor::selected(current));
                self.filter_error = None;
            }
            Action::ApplyFilter => self.apply_filter(),
            Action::CancelFilter => {
                self.filter_bar = None;
                self.filter_error = None;
            }
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
                    self.inspect_scroll = 0;
                }
            }
            Action::Back => self.inspect = None,
            Action::Reset => {
                self.model.reset();
                // A reset clears what a frozen screen could be re-filtered from, so it thaws.
                self.frozen_at = None;
                self.inspect = None;
                self.refresh();
            }
            Action::ToggleExact => self.exact = !self.exact,
            // Wired with the grouped views.
            Action::NextView | Action::PreviousView | Action::ToggleClosed => {}
            Action::Redraw => self.clear = true,
            Action::ToggleHelp => {
                self.help = true;
                self.help_scroll = 0;
            }
            // Filter-bar editing reaches the editor before it gets here.
            Action::ClearFilterText
            | Action::DeleteWord
            | Action::CursorStart
            | Action::CursorEnd
            | Action::CursorLeft
            | Action::CursorRight
            | Action::DeleteBack
            | Action::DeleteForward => {}
        }
    }

    /// Parses the filter bar; a valid filter goes to the model (and, when frozen, re-filters the
    /// frozen screen); an invalid one leaves an inline error and keeps the previous filter.
    fn apply_filter(&mut self) {
        let Some(editor) = self.filter_bar.take() else {
            return;
        };
        match Filter::parse(editor.text()) {
            Err(e) => {
                self.filter_error = Some(e.to_string());
                self.filter_bar = Some(editor);
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

type Column = super::columns::Column<ConnectionRow>;
