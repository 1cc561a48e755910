//! Lays the widgets out on one frame.

use ratatui::{
    Frame,
    layout::{Constraint, Layout},
    text::Line,
    widgets::Paragraph,
};

use super::{app::App, footer, header, help, inspect, latency, sparklines, table, theme::Theme};

/// Below this the layout cannot show its panels without garbling them.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 20;

pub fn draw(frame: &mut Frame, app: &mut App, theme: &Theme) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let need = format!(
            "need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{}",
            area.width, area.height
        );
        let one_line = format!("terminal too small ({need})");
        // On one line when it fits, else on two, so the sizes are never cut off.
        let lines: Vec<Line> = if one_line.len() <= usize::from(area.width) {
            vec![Line::from(one_line).centered()]
        } else {
            vec![
                Line::from("terminal too small").centered(),
                Line::from(need).centered(),
            ]
        };
        let [_, middle, _] = Layout::vertical([
            Constraint::Fill(1),
            Constraint::Length(lines.len() as u16),
            Constraint::Fill(1),
        ])
        .areas(area);
        frame.render_widget(Paragraph::new(lines), middle);
        return;
    }

    let [header_area, charts, body, footer_area] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(9),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    let [sparks, latency_area] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)])
            .spacing(1)
            .areas(charts);

    header::render(frame, header_area, app, theme);
    sparklines::render(frame, sparks, &app.snapshot, theme);
    latency::render(
        frame,
        latency_area,
        &app.snapshot.latency,
        &app.snapshot.log2,
        theme,
    );
    match &app.inspect {
        Some(detail) => inspect::render(
            frame,
            body,
            detail,
            app.snapshot.now_ns,
            app.show_query,
            theme,
        ),
        None => table::render(frame, body, app, theme),
    }
    footer::render(frame, footer_area, app, theme);
    if app.help {
        help::render(frame, area, theme);
    }
}
