//! The `?` overlay: every binding from the one table, then the filter language, scrollable.

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
use crate::model::{FILTER_GRAMMAR, LOG_CAPACITY};

/// What client and server mean in the filter's terms.
const SIDES: &str = "client = the side that sent the request line; server = the other side";

/// `text`'s words in lines of at most `width` characters (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

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
fn lines(theme: &Theme, width: usize) -> Vec<Line<'static>> {
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
    // The grammar as the command line's help gives it, wrapped to the overlay.
    lines.extend(
        wrap(FILTER_GRAMMAR, width)
            .into_iter()
            .chain(wrap(SIDES, width))
            .map(|s| Line::raw(format!("  {s}"))),
    );
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
    let width = 78.min(area.width);
    // Two columns of border, two of indent.
    let lines = lines(theme, usize::from(width.saturating_sub(4)));
    let height = (lines.len() as u16 + 2).min(area.height);
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
