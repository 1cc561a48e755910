//! The bottom line: the filter bar while it is open (with its error), else key hints.

use ratatui::{
    Frame,
    layout::{Position, Rect},
    text::{Line, Span},
    widgets::Paragraph,
};

use super::{app::App, theme::Theme};

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let line = match &app.filter_input {
        Some(text) => {
            let mut spans = vec![
                Span::styled("filter: ", theme.title()),
                Span::raw(text.clone()),
            ];
            let cursor_x = area.x.saturating_add((8 + text.chars().count()) as u16);
            frame.set_cursor_position(Position::new(
                cursor_x.min(area.right().saturating_sub(1)),
                area.y,
            ));
            if let Some(e) = &app.filter_error {
                spans.push(Span::styled(format!("   ✗ {e}"), theme.alarm()));
            }
            Line::from(spans)
        }
        None => Line::from(vec![Span::styled(
            "q quit  / filter  space freeze  enter inspect  s sort  r reset  ? help",
            theme.label(),
        )]),
    };
    frame.render_widget(Paragraph::new(line), area);
}
