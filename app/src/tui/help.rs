//! The `?` overlay: every binding from the one table, then the filter language.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, Clear, Paragraph},
};

use super::{
    keys::{BINDINGS, Context},
    theme::Theme,
};
use crate::model::LOG_CAPACITY;

const FILTER_HELP: [&str; 5] = [
    "port N / sport N / dport N   either side / client port / server port",
    "ip ADDR / src ADDR / dst ADDR   either side / client / server",
    "net CIDR   10.0.0.0/8, fd00::/8       status 5xx | 404     method GET",
    "terms are ANDed; `not` negates the next term: dport 80 not status 2xx",
    "client = the side that sent the request line; server = the other side",
];

/// Whether history before a filter is kept: otherwise a new filter's sudden history, or a
/// frozen screen's missing exchanges, would look like a bug.
fn history_note() -> [String; 3] {
    [
        format!("A new filter starts from the last {LOG_CAPACITY} exchanges kept in memory;"),
        "its sparklines start when it is applied. While frozen, a filter re-reads".to_string(),
        "the kept exchanges up to the freeze: nothing that came later shows.".to_string(),
    ]
}

/// Every line of the help, first to last.
fn lines(theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled("keys", theme.title())];
    for (context, heading) in [
        (Context::Main, None),
        (Context::FilterBar, Some("in the filter bar")),
    ] {
        if let Some(h) = heading {
            lines.push(Line::styled(h, theme.title()));
        }
        for b in BINDINGS
            .iter()
            .filter(|b| b.context == context && !b.help.is_empty())
        {
            lines.push(Line::from(vec![
                Span::styled(format!("  {:<13}", b.label), theme.value()),
                Span::raw(b.help),
            ]));
        }
    }
    lines.push(Line::styled("filter", theme.title()));
    lines.extend(FILTER_HELP.iter().map(|s| Line::raw(format!("  {s}"))));
    lines.extend(
        history_note()
            .into_iter()
            .map(|s| Line::styled(format!("  {s}"), theme.label())),
    );
    lines.push(Line::styled("figures", theme.title()));
    lines.extend(FIGURES_HELP.iter().map(|s| Line::raw(format!("  {s}"))));
    lines
}

const FIGURES_HELP: [&str; 4] = [
    "TTFB: time to first byte, request's first segment to the status line's",
    "req/s and the sparklines' points: per refresh interval (--interval)",
    "counts show 3 significant digits (12.3k); x shows them exact",
    "a row marked ✕ is a closed connection; h hides them",
];

/// The help overlay, scrolled to line `scroll` (clamped so the last page stays full).
pub fn render(frame: &mut Frame, area: Rect, scroll: usize, theme: &Theme) {
    let lines = lines(theme);
    let height = (lines.len() as u16 + 2).min(area.height);
    let width = 78.min(area.width);
    let [_, column, _] = Layout::horizontal([
        Constraint::Fill(1),
        Constraint::Length(width),
        Constraint::Fill(1),
    ])
    .areas(area);
    let [_, popup, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(column);
    let room = usize::from(height.saturating_sub(2));
    let total = lines.len();
    let first = scroll.min(total.saturating_sub(room));
    let position = format!(
        " {}–{} of {total} (↑↓ PgUp PgDn) ",
        first + 1,
        (first + room).min(total)
    );
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines.into_iter().skip(first).take(room).collect::<Vec<_>>()).block(
            Block::bordered()
                .title(Span::styled(" help (Esc or ? to close) ", theme.title()))
                .title_bottom(Line::styled(position, theme.label()).right_aligned()),
        ),
        popup,
    );
}
