//! The rows table. Only the visible rows are built, so 10,000 rows cost what 50 do; columns
//! are sized from what is on screen and dropped whole when they do not fit (see `columns`).

use ratatui::{
    Frame,
    layout::{Alignment, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Block, Cell, Row as TableRow, Table},
};

use super::{
    app::App,
    columns::{self, CellContext, Column, Fit, plain},
    theme::Theme,
};
use crate::model::{ConnectionRow, Percentiles, format_count, format_ns, format_rate};

/// A latency figure, `–` while there is none (a row whose percentiles are not computed yet).
fn latency(p: &Percentiles, pick: fn(&Percentiles) -> u64) -> String {
    if *p == Percentiles::default() {
        "–".to_string()
    } else {
        format_ns(pick(p))
    }
}

pub fn count(n: u64, exact: bool) -> String {
    if exact {
        n.to_string()
    } else {
        format_count(n)
    }
}

/// The connection view's columns, left to right. Priorities: the server and the count stay
/// longest, the client side goes first.
pub const COLUMNS: [Column<ConnectionRow>; 9] = [
    Column {
        header: "client →",
        align: Alignment::Left,
        fit: Fit::Exact,
        priority: 0,
        text: |r, _| format!("{} →", r.tuple.client),
        style: plain,
        compare: Some(|a, b| a.tuple.cmp(&b.tuple)),
        descending_first: false,
    },
    Column {
        header: "server",
        align: Alignment::Left,
        fit: Fit::Exact,
        priority: 10,
        text: |r, _| r.tuple.server.to_string(),
        style: plain,
        compare: Some(|a, b| a.tuple.server.cmp(&b.tuple.server)),
        descending_first: false,
    },
    Column {
        header: "exch",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 9,
        text: |r, cx| count(r.exchanges, cx.exact),
        style: plain,
        compare: Some(|a, b| a.exchanges.cmp(&b.exchanges)),
        descending_first: true,
    },
    Column {
        header: "req/s",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 6,
        text: |r, _| format_rate(r.req_per_s),
        style: |_, t| t.rate(),
        compare: Some(|a, b| a.req_per_s.total_cmp(&b.req_per_s)),
        descending_first: true,
    },
    Column {
        header: "p50",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 3,
        text: |r, _| latency(&r.percentiles, |p| p.p50),
        style: plain,
        compare: Some(|a, b| a.percentiles.p50.cmp(&b.percentiles.p50)),
        descending_first: true,
    },
    Column {
        header: "p99",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 8,
        text: |r, _| latency(&r.percentiles, |p| p.p99),
        style: |_, t| t.latency(),
        compare: Some(|a, b| a.percentiles.p99.cmp(&b.percentiles.p99)),
        descending_first: true,
    },
    Column {
        header: "max",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 5,
        text: |r, _| latency(&r.percentiles, |p| p.max),
        style: plain,
        compare: Some(|a, b| a.percentiles.max.cmp(&b.percentiles.max)),
        descending_first: true,
    },
    Column {
        header: "last",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 4,
        text: |r, _| r.last.status.to_string(),
        style: |r, t| t.status(r.last.status),
        compare: Some(|a, b| a.last.status.cmp(&b.last.status)),
        descending_first: true,
    },
    Column {
        header: "request",
        align: Alignment::Left,
        fit: Fit::Fill(12),
        priority: 7,
        text: |r, cx| {
            format!(
                "{} {}",
                r.last.method.map_or("?", |m| m.as_str()),
                r.last.path.display(cx.show_query)
            )
        },
        style: plain,
        compare: None,
        descending_first: false,
    },
];

/// The column sorted on at start: the exchange count.
pub const DEFAULT_SORT: &str = "exch";

/// Rows the table shows in `area`.
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
    let position = if rows_total == 0 {
        " row 0/0 ".to_string()
    } else {
        format!(" row {}/{rows_total} ", app.selected + 1)
    };
    let block = Block::bordered()
        .title(Span::styled(
            format!(" connections ({rows_total}{partial}) "),
            theme.title(),
        ))
        .title(Span::styled(" p50 p99 max: TTFB ", theme.label()))
        .title_top(Line::styled(position, theme.label()).right_aligned());
    let inner = block.inner(area);
    let visible = rows_in(area);
    let start = app.offset.min(rows_total);
    let end = (start + visible).min(rows_total);
    let shown = &app.view.rows[start..end];
    let cx = CellContext {
        show_query: app.show_query,
        exact: app.exact,
        theme,
    };
    draw_rows(
        frame,
        (area, inner),
        block,
        (&COLUMNS, shown),
        (start, app.selected, app.sort_column, app.sort_descending),
        &cx,
    );
}

/// Draws `rows` (the visible slice, the first being row `start`) under `columns`' headers
/// in `block`, fitted to the block's inner width.
fn draw_rows<R>(
    frame: &mut Frame,
    (area, inner): (Rect, Rect),
    block: Block,
    (columns, rows): (&[Column<R>], &[R]),
    (start, selected, sort_column, descending): (usize, usize, &str, bool),
    cx: &CellContext,
) {
    let headers: Vec<String> = columns
        .iter()
        .map(|c| columns::header_text(c, (c.header == sort_column).then_some(descending)))
        .collect();
    let needed: Vec<u16> = columns
        .iter()
        .zip(&headers)
        .map(|(c, h)| {
            rows.iter()
                .map(|r| columns::width(&(c.text)(r, cx)))
                .chain([columns::width(h)])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let widths = columns::fit(columns, &needed, inner.width);
    let header = TableRow::new(
        widths
            .iter()
            .map(|&(i, _)| Cell::from(Line::from(headers[i].clone()).alignment(columns[i].align))),
    )
    .style(cx.theme.title());
    let body = rows.iter().enumerate().map(|(n, r)| {
        let row = TableRow::new(
            widths
                .iter()
                .map(|&(i, w)| columns::cell(&columns[i], r, w, cx)),
        );
        if start + n == selected {
            row.style(cx.theme.selected())
        } else {
            row.style(Style::new())
        }
    });
    frame.render_widget(
        Table::new(body, columns::constraints(&widths))
            .header(header)
            .block(block)
            .column_spacing(1),
        area,
    );
}
