//! Lays the widgets out on one frame. Drawing reads the app and never changes it: what the
//! layout means for the app's state (how many rows the table shows) is measured first, with
//! [`draw_frame`], and handed to the app before the frame is drawn.

use ratatui::{
    Frame, Terminal,
    backend::Backend,
    layout::{Constraint, Layout, Position, Rect},
    text::Line,
    widgets::Paragraph,
};

use super::{
    app::App,
    footer, header, help,
    inspect::{self, Inspect},
    latency, sparklines, table,
    theme::Theme,
};
use crate::model::Window;

/// Below this the layout cannot show its panels without garbling them.
pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 20;

/// Where each part of the screen goes.
struct Areas {
    header: Rect,
    sparklines: Rect,
    latency: Rect,
    /// The connections table, or one connection in detail.
    body: Rect,
    footer: Rect,
}

/// The layout of a screen of `area`, or `None` when it is too small to lay out.
fn areas(area: Rect) -> Option<Areas> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    // The charts grow with the window (the histogram's rows with them), the table keeps most.
    let charts = (area.height.saturating_sub(3) / 3).clamp(9, 18);
    let [header, charts, body, footer] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(charts),
        Constraint::Min(5),
        Constraint::Length(1),
    ])
    .areas(area);
    let [sparklines, latency] =
        Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)])
            .spacing(1)
            .areas(charts);
    Some(Areas {
        header,
        sparklines,
        latency,
        body,
        footer,
    })
}

/// Rows the connections table shows on a screen of `area`, when it shows the table at all.
fn table_rows(area: Rect, app: &App) -> Option<usize> {
    let areas = areas(area)?;
    app.inspect.is_none().then(|| table::rows_in(areas.body))
}

/// One frame on `terminal`: the app learns the table's page size for the terminal's size,
/// then the frame is drawn from the app as it is.
pub fn draw_frame<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    theme: &Theme,
) -> Result<(), B::Error> {
    let size = terminal.size()?;
    if let Some(rows) = table_rows(Rect::from((Position::ORIGIN, size)), app) {
        app.set_page_rows(rows);
    }
    terminal.draw(|frame| draw(frame, app, theme))?;
    Ok(())
}

pub fn draw(frame: &mut Frame, app: &App, theme: &Theme) {
    let area = frame.area();
    let Some(areas) = areas(area) else {
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
    };

    let figures = &app.view.figures;
    // The header's rate and shares cover what the sparklines show.
    let window = Window::of(sparklines::shown(&app.view.history, areas.sparklines.width));
    header::render(frame, areas.header, app, window.as_ref(), theme);
    sparklines::render(frame, areas.sparklines, &app.view.history, theme);
    latency::render(
        frame,
        areas.latency,
        figures.latency.as_ref(),
        &figures.log2,
        app.exact,
        theme,
    );
    match &app.inspect {
        Some(detail) => inspect::render(
            frame,
            areas.body,
            &Inspect {
                detail,
                clock: &app.clock,
                scroll: app.inspect_scroll,
                show_query: app.show_query,
                exact: app.exact,
            },
            theme,
        ),
        None => table::render(frame, areas.body, app, theme),
    }
    footer::render(frame, areas.footer, app, theme);
    footer::hints_above(frame, areas.footer, app, theme);
    if app.help {
        help::render(frame, area, app.help_scroll, theme);
    }
}
