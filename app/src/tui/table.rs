//! The connections table. Only the visible rows are built, so 10,000 tuples cost what 50 do.

use ratatui::{
    Frame,
    layout::{Constraint, Rect},
    text::{Line, Span},
    widgets::{Block, Cell, Row as TableRow, Table},
};

use super::{
    app::{App, Column},
    theme::Theme,
};
use crate::model::{Row, format_count, format_ns, format_rate};

const HEADERS: [(&str, Option<Column>); 8] = [
    ("client → server", Some(Column::Tuple)),
    ("exch", Some(Column::Exchanges)),
    ("req/s", Some(Column::ReqPerS)),
    ("p50", Some(Column::P50)),
    ("p99", Some(Column::P99)),
    ("max", Some(Column::Max)),
    ("status", Some(Column::Status)),
    ("last request", None),
];

const WIDTHS: [Constraint; 8] = [
    Constraint::Min(30),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(7),
    Constraint::Length(6),
    Constraint::Fill(1),
];

/// A latency, or `-` for none.
fn ns(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), format_ns)
}

fn cells<'a>(r: &Row, show_query: bool, theme: &Theme) -> TableRow<'a> {
    let method = r.last.method.map_or("?", |m| m.as_str());
    TableRow::new([
        Cell::from(r.key.to_string()),
        Cell::from(Line::from(format_count(r.exchanges)).right_aligned()),
        Cell::from(Line::from(format_rate(r.req_per_s)).right_aligned()),
        Cell::from(Line::from(ns(r.percentiles.map(|p| p.p50))).right_aligned()),
        Cell::from(Line::from(ns(r.percentiles.map(|p| p.p99))).right_aligned()),
        Cell::from(Line::from(ns(r.percentiles.map(|p| p.max))).right_aligned()),
        Cell::from(
            Line::styled(r.last.status.to_string(), theme.status(r.last.status)).right_aligned(),
        ),
        Cell::from(format!("{method} {}", r.last.path.display(show_query))),
    ])
}

/// Rows of connections the table shows in `area`.
pub fn rows_in(area: Rect) -> usize {
    // Two lines: borders; one: the column header.
    usize::from(area.height).saturating_sub(3)
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let rows_total = app.view.rows.len();
    let partial = if app.view.figures.partial() {
        ", partial: events lost"
    } else {
        ""
    };
    let block = Block::bordered().title(Span::styled(
        format!(" connections ({rows_total}{partial}) "),
        theme.title(),
    ));
    let visible = rows_in(area);

    let sort = app.sort;
    let header = TableRow::new(HEADERS.iter().map(|(name, column)| {
        let marker = match column {
            Some(c) if *c == sort.column => {
                if sort.descending {
                    "▼"
                } else {
                    "▲"
                }
            }
            _ => "",
        };
        Cell::from(format!("{name}{marker}"))
    }))
    .style(theme.title());

    let start = app.offset.min(rows_total);
    let end = (start + visible).min(rows_total);
    let rows = app.view.rows[start..end].iter().enumerate().map(|(i, r)| {
        let row = cells(r, app.show_query, theme);
        if start + i == app.selected {
            row.style(theme.selected())
        } else {
            row
        }
    });
    frame.render_widget(
        Table::new(rows, WIDTHS)
            .header(header)
            .block(block)
            .column_spacing(1),
        area,
    );
}
