//! The bottom line: the filter bar while it is open (with its error), else the hints of the
//! keys that matter in what is in front (from the key table).

use ratatui::{
    Frame,
    layout::{Position, Rect},
    style::Style,
    text::{Line, Span},
    widgets::Paragraph,
};

use super::{
    app::App,
    keys::{Mode, hints},
    theme::Theme,
};

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let mode = app.mode();
    let mut spans = Vec::new();
    match &app.filter_bar {
        Some(editor) => {
            spans.push(Span::styled("filter: ", theme.title()));
            // The text it opened with is selected: typing replaces it.
            let text_style = if editor.is_selected() {
                theme.selected()
            } else {
                Style::new()
            };
            spans.push(Span::styled(editor.text().to_string(), text_style));
            let cursor_x = area.x.saturating_add((8 + editor.cursor()) as u16);
            frame.set_cursor_position(Position::new(
                cursor_x.min(area.right().saturating_sub(1)),
                area.y,
            ));
            if let Some(e) = &app.filter_error {
                spans.push(Span::styled(format!("   ✗ {e}"), theme.alarm()));
            }
            // The bar's own keys are hinted on the line above it (see `hints_above`).
        }
        None => {
            if mode == Mode::Frozen {
                spans.push(Span::styled(" FROZEN ", theme.frozen()));
                spans.push(Span::raw("  "));
            }
            spans.push(Span::styled(hint_text(mode), theme.label()));
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `q quit  / filter  …`: the hints of `mode`.
fn hint_text(mode: Mode) -> String {
    let hints: Vec<String> = hints(mode)
        .map(|(key, hint)| format!("{} {hint}", key.to_lowercase()))
        .collect();
    hints.join("  ")
}

/// While the filter bar is open its line holds the text being edited, so its keys are hinted
/// on the line above (the body's bottom border).
pub fn hints_above(frame: &mut Frame, footer: Rect, app: &App, theme: &Theme) {
    if app.mode() != Mode::Filter || footer.y == 0 {
        return;
    }
    let line = Rect::new(
        footer.x + 1,
        footer.y - 1,
        footer.width.saturating_sub(2),
        1,
    );
    let text = format!(" {} ", hint_text(Mode::Filter));
    frame.render_widget(Paragraph::new(Span::styled(text, theme.label())), line);
}
