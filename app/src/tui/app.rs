//! The dashboard's state and what each action does to it. No terminal here: tests drive it.
//! Every change of state happens here, on a key or a refresh; drawing only reads the result.

use std::{cmp::Ordering, time::SystemTime};

use crossterm::event::{KeyCode, KeyEvent};

use super::{
    editor::LineEditor,
    keys::{Action, Context, Mode, action_for},
    table::{DEFAULT_SORT, columns},
};
use crate::model::{
    Clock, Filter, Group, NumberedExchange, Row, RowDetail, RowKey, SharedModel, View,
};

/// What httptop watches, as the header names it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Watched {
    /// Interface names; empty: every interface of the network namespace.
    pub interfaces: Vec<String>,
    /// Server ports; empty: every port.
    pub ports: Vec<u16>,
}

/// What the table shows: the rows of a grouping, the slowest exchanges or the newest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Showing {
    Rows(Group),
    Slowest,
    Tail,
}

impl Showing {
    /// The order the view key goes through them.
    const CYCLE: [Showing; 7] = [
        Showing::Rows(Group::Connection),
        Showing::Rows(Group::Server),
        Showing::Rows(Group::Endpoint),
        Showing::Rows(Group::Client),
        Showing::Rows(Group::Process),
        Showing::Slowest,
        Showing::Tail,
    ];

    fn step(self, forward: bool) -> Showing {
        let n = Self::CYCLE.len();
        let i = Self::CYCLE.iter().position(|s| *s == self).unwrap_or(0);
        Self::CYCLE[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

/// Now on both clocks: ages on screen count from `mono_ns`, clock times convert with it.
pub fn now() -> Clock {
    Clock {
        mono_ns: crate::kernel::monotonic_ns(),
        wall: SystemTime::now(),
    }
}

pub struct App {
    model: SharedModel,
    pub show_query: bool,
    pub watched: Watched,
    /// What the screen shows, its rows sorted by `sort_column` (closed connections taken
    /// out when hidden).
    pub view: View,
    pub showing: Showing,
    /// Hide the rows of closed connections.
    pub hide_closed: bool,
    /// How many rows of closed connections are hidden now.
    pub closed_hidden: usize,
    /// The hidden rows, put back when shown again.
    hidden_rows: Vec<Row>,
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
    pub inspect: Option<RowDetail>,
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
    /// Now, as of the latest refresh (the freeze's moment while frozen).
    pub clock: Clock,
    pub quit: bool,
    /// Clear the terminal before the next draw (Ctrl-L).
    pub clear: bool,
}

impl App {
    pub fn new(model: SharedModel, show_query: bool, watched: Watched, clock: Clock) -> Self {
        let view = model.view();
        let mut app = App {
            show_query,
            watched,
            showing: Showing::Rows(view.figures.group),
            view,
            hide_closed: false,
            closed_hidden: 0,
            hidden_rows: Vec::new(),
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
        let keep = self.selected_key();
        self.model.set_filter(filter.clone());
        let view = if self.frozen_at.is_some() {
            self.model.refilter(&self.view, filter)
        } else {
            self.model.view()
        };
        self.take_view(view);
        self.inspect = None;
        self.sort_rows(keep);
    }

    /// Takes a fresh view unless frozen (called once per refresh interval).
    pub fn refresh(&mut self) {
        if self.frozen_at.is_some() {
            return;
        }
        let selected = self.selected_key();
        let view = self.model.view();
        self.measure_filter_cpu(&view);
        self.take_view(view);
        if let Some(d) = &self.inspect {
            self.inspect = self
                .model
                .detail(&d.key, &self.view, false)
                .or(self.inspect.take());
        }
        self.sort_rows(selected);
    }

    /// A new view: every row is in it, none hidden yet (`sort_rows` hides them).
    fn take_view(&mut self, view: View) {
        self.view = view;
        self.hidden_rows.clear();
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

    /// The selected row's key (of a grouping's rows).
    pub fn selected_key(&self) -> Option<RowKey> {
        match self.showing {
            Showing::Rows(_) => self.view.rows.get(self.selected).map(|r| r.key),
            Showing::Slowest | Showing::Tail => None,
        }
    }

    /// The exchanges the slowest or the live-tail view lists.
    pub fn exchanges(&self) -> &[NumberedExchange] {
        match self.showing {
            Showing::Slowest => &self.view.slowest,
            Showing::Tail => &self.view.tail,
            Showing::Rows(_) => &[],
        }
    }

    /// Rows in the table as it shows now.
    pub fn len(&self) -> usize {
        match self.showing {
            Showing::Rows(_) => self.view.rows.len(),
            Showing::Slowest | Showing::Tail => self.exchanges().len(),
        }
    }

    /// What Enter inspects: the selected row, or the connection of the selected exchange.
    fn inspected_key(&self) -> Option<RowKey> {
        match self.showing {
            Showing::Rows(_) => self.selected_key(),
            Showing::Slowest | Showing::Tail => self
                .exchanges()
                .get(self.selected)
                .map(|e| Group::Connection.key(e)),
        }
    }

    /// Records how many rows the table has room for (from the layout of the next frame) and
    /// keeps the selection inside that page.
    pub fn set_page_rows(&mut self, rows: usize) {
        self.page_rows = rows;
        self.scroll_to_selection();
    }

    fn compare(&self, a: &Row, b: &Row) -> Ordering {
        let Showing::Rows(group) = self.showing else {
            return Ordering::Equal;
        };
        let column = columns(group)
            .into_iter()
            .find(|c| c.header == self.sort_column)
            .and_then(|c| c.compare);
        let by_column = column.map_or(Ordering::Equal, |compare| compare(a, b));
        let by_column = if self.sort_descending {
            by_column.reverse()
        } else {
            by_column
        };
        by_column.then_with(|| a.key.cmp(&b.key))
    }

    /// Takes the closed connections out when hidden, sorts the rows and keeps `keep`
    /// selected if it is still there.
    fn sort_rows(&mut self, keep: Option<RowKey>) {
        let mut rows = std::mem::take(&mut self.view.rows);
        rows.append(&mut self.hidden_rows);
        if self.hide_closed {
            let (closed, open) = rows.into_iter().partition(|r| r.closed);
            self.hidden_rows = closed;
            rows = open;
        }
        self.closed_hidden = self.hidden_rows.len();
        rows.sort_unstable_by(|a, b| self.compare(a, b));
        self.view.rows = rows;
        self.selected = keep
            .and_then(|k| self.view.rows.iter().position(|r| r.key == k))
            .unwrap_or(self.selected)
            .min(self.len().saturating_sub(1));
        self.scroll_to_selection();
    }

    /// Shows `showing` next: a grouping's rows come from the model, grouped anew.
    fn show(&mut self, showing: Showing) {
        self.showing = showing;
        self.inspect = None;
        self.selected = 0;
        self.offset = 0;
        if let Showing::Rows(group) = showing {
            self.model.set_group(group);
            if !columns(group).iter().any(|c| c.header == self.sort_column) {
                self.sort_column = DEFAULT_SORT;
                self.sort_descending = true;
            }
            let view = if self.frozen_at.is_some() {
                let filter = self.view.figures.filter.clone();
                self.model.refilter(&self.view, filter)
            } else {
                self.model.view()
            };
            self.take_view(view);
        }
        self.sort_rows(None);
    }

    /// A new order: the page goes back to the top as far as the selection allows.
    fn resort(&mut self) {
        let keep = self.selected_key();
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
        let last = self.len().saturating_sub(1);
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
                // The slowest and the tail views have an order of their own.
                let Showing::Rows(group) = self.showing else {
                    return;
                };
                let sortable: Vec<_> = columns(group)
                    .into_iter()
                    .filter(|c| c.compare.is_some())
                    .collect();
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
                if let Some(key) = self.inspected_key() {
                    let frozen = self.frozen_at.is_some();
                    self.inspect = self.model.detail(&key, &self.view, frozen);
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
            Action::NextView => self.show(self.showing.step(true)),
            Action::PreviousView => self.show(self.showing.step(false)),
            Action::ToggleClosed => {
                self.hide_closed = !self.hide_closed;
                let keep = self.selected_key();
                self.sort_rows(keep);
            }
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
        self.offset = self.offset.min(self.len().saturating_sub(rows));
    }
}
