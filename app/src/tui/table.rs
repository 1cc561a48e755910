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
    app::{App, Showing},
    columns::{self, CellContext, Column, Fit, plain},
    inspect::clock_time,
    theme::Theme,
};
use crate::model::{
    Group, Method, NumberedExchange, Percentiles, Row, RowKey, format_bytes, format_count,
    format_ns, format_percent, format_rate,
};

/// A latency figure, `–` while there is none.
fn latency(p: Option<Percentiles>, pick: fn(&Percentiles) -> u64) -> String {
    p.map_or("–".to_string(), |p| format_ns(pick(&p)))
}

fn compare_latency(pick: fn(&Percentiles) -> u64) -> impl Fn(&Row, &Row) -> std::cmp::Ordering {
    move |a, b| {
        a.percentiles
            .map(|p| pick(&p))
            .cmp(&b.percentiles.map(|p| pick(&p)))
    }
}

pub fn count(n: u64, exact: bool) -> String {
    if exact {
        n.to_string()
    } else {
        format_count(n)
    }
}

/// `GET /index.html`: a request as the table shows it (query string redacted unless asked).
pub fn request(e: &NumberedExchange, show_query: bool) -> String {
    format!(
        "{} {}",
        e.method.as_ref().map_or("?", Method::as_str),
        e.path.display(show_query)
    )
}

/// A share as a percentage without the `%` (the header says it): `12.5`, `100.0`.
fn percent(share: f64) -> String {
    format_percent(share).trim_end_matches('%').to_string()
}

const fn key_column(
    header: &'static str,
    fit: Fit,
    priority: u8,
    text: fn(&Row, &CellContext) -> String,
    compare: fn(&Row, &Row) -> std::cmp::Ordering,
) -> Column<Row> {
    Column {
        header,
        align: Alignment::Left,
        fit,
        priority,
        text,
        style: plain,
        compare: Some(compare),
        descending_first: false,
    }
}

/// The server side of a row (connection, server and endpoint rows have one).
fn server(r: &Row) -> String {
    r.key.server().map_or_else(String::new, |s| s.to_string())
}

/// Priorities: the row's key and its count stay longest; the processes go first, then the
/// client side of a connection.
const CLIENT_SIDE: Column<Row> = key_column(
    "client →",
    Fit::Exact,
    2,
    |r, _| {
        r.key
            .client()
            .map_or_else(String::new, |c| format!("{c} →"))
    },
    |a, b| a.key.cmp(&b.key),
);
const SERVER: Column<Row> = key_column(
    "server",
    Fit::Exact,
    12,
    |r, _| server(r),
    |a, b| a.key.server().cmp(&b.key.server()),
);
const METHOD: Column<Row> = key_column(
    "method",
    Fit::Exact,
    11,
    |r, _| match r.key {
        RowKey::Endpoint { method, .. } => method.as_ref().map_or("?", Method::as_str).to_string(),
        _ => String::new(),
    },
    |a, b| a.key.cmp(&b.key),
);
const ENDPOINT: Column<Row> = key_column(
    "endpoint",
    Fit::Fill(12),
    11,
    |r, _| match r.key {
        RowKey::Endpoint { template, .. } => template.to_string(),
        _ => String::new(),
    },
    |a, b| a.key.cmp(&b.key),
);
const CLIENT: Column<Row> = key_column(
    "client",
    Fit::Exact,
    12,
    |r, _| {
        r.key.client_ip().map_or_else(String::new, |ip| match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        })
    },
    |a, b| a.key.client_ip().cmp(&b.key.client_ip()),
);

/// The network namespace of a row of addresses: shown when more than one is watched.
const NETNS: Column<Row> = key_column(
    "netns",
    Fit::Exact,
    9,
    |r, _| r.key.netns().map_or_else(String::new, |n| n.to_string()),
    |a, b| a.key.cmp(&b.key),
);

/// The process of a process row, and its side.
const PROCESS: Column<Row> = key_column(
    "process",
    Fit::Exact,
    12,
    |r, _| match r.key {
        RowKey::Process { process, .. } => process.to_string(),
        _ => String::new(),
    },
    |a, b| a.key.cmp(&b.key),
);
const SIDE: Column<Row> = key_column(
    "side",
    Fit::Exact,
    11,
    |r, _| match r.key {
        RowKey::Process { side, .. } => side.name().to_owned(),
        _ => String::new(),
    },
    |a, b| a.key.cmp(&b.key),
);
/// A process's systemd unit or container.
const UNIT: Column<Row> = key_column(
    "unit",
    Fit::Exact,
    3,
    |r, _| match r.key {
        RowKey::Process { process, .. } => process
            .info()
            .and_then(|info| info.unit)
            .unwrap_or_default(),
        _ => String::new(),
    },
    |a, b| a.key.cmp(&b.key),
);
/// The processes of a connection's two sides, and an endpoint's server process (of the row's
/// latest exchange): shown when there is room.
const CLIENT_PROCESS: Column<Row> = key_column(
    "client proc",
    Fit::Exact,
    0,
    |r, _| r.last.processes.client.to_string(),
    |a, b| {
        let name = |r: &Row| r.last.processes.client.to_string();
        name(a).cmp(&name(b))
    },
);
const SERVER_PROCESS: Column<Row> = key_column(
    "server proc",
    Fit::Exact,
    1,
    |r, _| r.last.processes.server.to_string(),
    |a, b| {
        let name = |r: &Row| r.last.processes.server.to_string();
        name(a).cmp(&name(b))
    },
);

/// A figure column: right-aligned, as wide as its widest figure, biggest first when sorted.
const fn figure(
    header: &'static str,
    priority: u8,
    text: fn(&Row, &CellContext) -> String,
    style: fn(&Row, &Theme) -> Style,
    compare: fn(&Row, &Row) -> std::cmp::Ordering,
) -> Column<Row> {
    Column {
        header,
        align: Alignment::Right,
        fit: Fit::Exact,
        priority,
        text,
        style,
        compare: Some(compare),
        descending_first: true,
    }
}

/// A TTFB figure column: one field of the row's percentiles.
macro_rules! latency_figure {
    ($header:literal, $priority:literal, $field:ident, $style:expr) => {
        figure(
            $header,
            $priority,
            |r, _| latency(r.percentiles, |p| p.$field),
            $style,
            |a, b| compare_latency(|p| p.$field)(a, b),
        )
    };
}

/// `style` when `count` is not zero.
fn if_any(count: u64, style: Style) -> Style {
    if count > 0 { style } else { Style::new() }
}

/// The columns every grouping has, after its key.
const FIGURES: [Column<Row>; 12] = [
    figure(
        "exch",
        10,
        |r, cx| count(r.exchanges, cx.exact),
        plain,
        |a, b| a.exchanges.cmp(&b.exchanges),
    ),
    figure(
        "req/s",
        6,
        |r, _| format_rate(r.req_per_s),
        |_, t| t.rate(),
        |a, b| a.req_per_s.total_cmp(&b.req_per_s),
    ),
    figure(
        "4xx%",
        4,
        |r, _| percent(r.share_4xx()),
        |r, t| if_any(r.status_4xx, t.warn()),
        |a, b| a.share_4xx().total_cmp(&b.share_4xx()),
    ),
    figure(
        "5xx%",
        7,
        |r, _| percent(r.share_5xx()),
        |r, t| if_any(r.status_5xx, t.alarm()),
        |a, b| a.share_5xx().total_cmp(&b.share_5xx()),
    ),
    latency_figure!("p50", 3, p50, plain),
    latency_figure!("p99", 8, p99, |_, t| t.latency()),
    latency_figure!("max", 5, max, plain),
    // The time to the response's last byte, beside the first byte's: where bodies are big or
    // slow, the two part.
    figure(
        "TTLB p99",
        1,
        |r, _| latency(r.ttlb, |p| p.p99),
        |_, t| t.latency(),
        |a, b| a.ttlb.map(|p| p.p99).cmp(&b.ttlb.map(|p| p.p99)),
    ),
    figure(
        "bytes",
        0,
        |r, cx| {
            if cx.exact {
                r.response_bytes.to_string()
            } else {
                format_bytes(r.response_bytes)
            }
        },
        plain,
        |a, b| a.response_bytes.cmp(&b.response_bytes),
    ),
    figure(
        "last",
        4,
        |r, _| r.last.status.to_string(),
        |r, t| t.status(r.last.status),
        |a, b| a.last.status.cmp(&b.last.status),
    ),
    Column {
        header: "request",
        align: Alignment::Left,
        fit: Fit::Fill(12),
        priority: 7,
        text: |r, cx| request(&r.last, cx.show_query),
        style: plain,
        compare: None,
        descending_first: false,
    },
    // Marks: ✕ a closed connection, * figures partial (see the title).
    Column {
        header: "",
        align: Alignment::Left,
        fit: Fit::Exact,
        priority: 9,
        text: |r, _| {
            let closed = if r.closed { "✕" } else { "" };
            let partial = if r.partial() { "*" } else { "" };
            format!("{closed}{partial}")
        },
        style: |r, t| if r.closed { t.label() } else { Style::new() },
        compare: None,
        descending_first: false,
    },
];

/// The columns drawn for rows of `group`: without the process columns of other groupings when
/// no exchange's processes were looked up (`looked_up`: the view's figures say), without the
/// namespace when one is watched.
fn shown_columns(group: Group, looked_up: bool, namespaces: bool) -> Vec<&'static Column<Row>> {
    columns(group)
        .into_iter()
        .filter(|c| {
            looked_up || ![CLIENT_PROCESS.header, SERVER_PROCESS.header].contains(&c.header)
        })
        .filter(|c| namespaces || c.header != NETNS.header)
        .collect()
}

/// The table's columns for rows of `group`: its key, then the figures every grouping has.
pub fn columns(group: Group) -> Vec<&'static Column<Row>> {
    let key: &[&'static Column<Row>] = match group {
        Group::Connection => &[
            &NETNS,
            &CLIENT_PROCESS,
            &CLIENT_SIDE,
            &SERVER,
            &SERVER_PROCESS,
        ],
        Group::Server => &[&NETNS, &SERVER, &SERVER_PROCESS],
        Group::Endpoint => &[&NETNS, &SERVER, &METHOD, &ENDPOINT, &SERVER_PROCESS],
        Group::Client => &[&NETNS, &CLIENT],
        Group::Process => &[&PROCESS, &SIDE, &UNIT],
    };
    key.iter().copied().chain(FIGURES.iter()).collect()
}

/// The column sorted on at start: the exchange count.
pub const DEFAULT_SORT: &str = "exch";

/// Rows the table shows in `area`.
pub fn rows_in(area: Rect) -> usize {
    // Two lines: borders; one: the column header.
    usize::from(area.height).saturating_sub(3)
}

/// The columns of the slowest and live-tail views: one exchange per row.
const EXCHANGE_COLUMNS: [Column<NumberedExchange>; 9] = [
    Column {
        header: "time UTC",
        align: Alignment::Left,
        fit: Fit::Exact,
        priority: 6,
        text: |e, cx| clock_time(cx.clock.wall_time(e.request_ns)),
        style: plain,
        compare: None,
        descending_first: false,
    },
    Column {
        header: "client →",
        align: Alignment::Left,
        fit: Fit::Exact,
        priority: 0,
        text: |e, _| format!("{} →", e.tuple.client),
        style: plain,
        compare: None,
        descending_first: false,
    },
    Column {
        header: "server",
        align: Alignment::Left,
        fit: Fit::Exact,
        priority: 9,
        text: |e, _| e.tuple.server.to_string(),
        style: plain,
        compare: None,
        descending_first: false,
    },
    Column {
        header: "request",
        align: Alignment::Left,
        fit: Fit::Fill(12),
        priority: 8,
        text: |e, cx| request(e, cx.show_query),
        style: plain,
        compare: None,
        descending_first: false,
    },
    Column {
        header: "status",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 7,
        text: |e, _| e.status.to_string(),
        style: |e, t| t.status(e.status),
        compare: None,
        descending_first: false,
    },
    Column {
        header: "TTFB",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 10,
        text: |e, _| format_ns(e.latency_ns),
        style: |_, t| t.latency(),
        compare: None,
        descending_first: false,
    },
    Column {
        header: "TTLB",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 5,
        // `?`: the response's end was not seen.
        text: |e, _| e.ttlb_ns.map_or("?".to_string(), format_ns),
        style: plain,
        compare: None,
        descending_first: false,
    },
    Column {
        header: "size",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 4,
        text: |e, _| e.bodies.response.map_or("?".to_string(), format_bytes),
        style: plain,
        compare: None,
        descending_first: false,
    },
    Column {
        header: "ago",
        align: Alignment::Right,
        fit: Fit::Exact,
        priority: 1,
        text: |e, cx| format_ns(cx.clock.mono_ns.saturating_sub(e.request_ns)),
        style: plain,
        compare: None,
        descending_first: false,
    },
];

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let total = app.len();
    let position = if total == 0 {
        " row 0/0 ".to_string()
    } else {
        format!(" row {}/{total} ", app.selected + 1)
    };
    let lost = if app.view.figures.partial() {
        ", partial: events lost"
    } else {
        ""
    };
    let title = match app.showing {
        Showing::Rows(group) => {
            let hidden = if app.closed_hidden > 0 {
                format!(", {} closed hidden", app.closed_hidden)
            } else {
                String::new()
            };
            format!(" {} ({total}{hidden}{lost}) ", group.plural())
        }
        Showing::Slowest => {
            format!(" slowest ({total}, slowest first, since start or reset{lost}) ")
        }
        Showing::Tail => format!(" live tail ({total}, newest first{lost}) "),
    };
    let mut block = Block::bordered()
        .title(Span::styled(title, theme.title()))
        .title_top(Line::styled(position, theme.label()).right_aligned());
    if let Showing::Rows(_) = app.showing {
        block = block.title(Span::styled(" p50 p99 max: TTFB ", theme.label()));
        if let Some(since) = app
            .view
            .rows
            .iter()
            .filter_map(|r| r.partial_since_ns)
            .min()
        {
            let at = clock_time(app.clock.wall_time(since));
            block = block.title(Span::styled(
                format!(" * partial since {at} "),
                theme.warn(),
            ));
        } else if app.view.rows.iter().any(|r| r.restarted) {
            block = block.title(Span::styled(" * counts again since evicted ", theme.warn()));
        }
    }
    let inner = block.inner(area);
    let visible = rows_in(area);
    let start = app.offset.min(total);
    let end = (start + visible).min(total);
    let cx = CellContext {
        clock: &app.clock,
        show_query: app.show_query,
        exact: app.exact,
        theme,
    };
    let place = (start, app.selected, app.sort_column, app.sort_descending);
    match app.showing {
        Showing::Rows(group) => draw_rows(
            frame,
            (area, inner),
            block,
            (
                &shown_columns(
                    group,
                    app.view.figures.process_sides.any(),
                    app.view.figures.other_namespaces,
                ),
                &app.view.rows[start..end],
            ),
            place,
            &cx,
        ),
        Showing::Slowest | Showing::Tail => {
            let exchange_columns: Vec<&Column<NumberedExchange>> =
                EXCHANGE_COLUMNS.iter().collect();
            draw_rows(
                frame,
                (area, inner),
                block,
                (&exchange_columns, &app.exchanges()[start..end]),
                (start, app.selected, "", false),
                &cx,
            )
        }
    }
}

/// Draws `rows` (the visible slice, the first being row `start`) under `columns`' headers
/// in `block`, fitted to the block's inner width.
fn draw_rows<R>(
    frame: &mut Frame,
    (area, inner): (Rect, Rect),
    block: Block,
    (columns, rows): (&[&Column<R>], &[R]),
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
                .map(|&(i, w)| columns::cell(columns[i], r, w, cx)),
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
