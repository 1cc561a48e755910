//! One connection in detail: its percentiles, histogram and recent exchanges.

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, Cell, Paragraph, Row, Table},
};

use super::{latency, theme::Theme};
use crate::model::{RowDetail, format_count, format_ns};

/// `3.20s ago` from two CLOCK_MONOTONIC times.
fn ago(now_ns: u64, then_ns: u64) -> String {
    format!("{} ago", format_ns(now_ns.saturating_sub(then_ns)))
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    d: &RowDetail,
    now_ns: u64,
    show_query: bool,
    theme: &Theme,
) {
    let block = Block::bordered().title(Span::styled(
        format!(" {} (Esc: back) ", d.key),
        theme.title(),
    ));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [facts, histogram, recent] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Length(8),
        Constraint::Min(3),
    ])
    .areas(inner);

    let label = |s: &'static str| Span::styled(s, theme.label());
    let value = |s: String| Span::styled(s, theme.value());
    frame.render_widget(
        Paragraph::new(vec![
            Line::from(vec![
                label("exchanges "),
                value(format_count(d.exchanges)),
                label("  first seen "),
                value(ago(now_ns, d.first_seen_ns)),
                label("  last seen "),
                value(ago(now_ns, d.last_seen_ns)),
            ]),
            Line::from(latency::percentile_spans(
                &d.percentiles.unwrap_or_default(),
                theme,
            )),
        ]),
        facts,
    );
    frame.render_widget(
        Paragraph::new(latency::histogram_lines(
            &d.log2,
            usize::from(histogram.height),
            usize::from(histogram.width),
            theme,
        )),
        histogram,
    );

    let header = Row::new(["when", "method", "path", "status", "latency"]).style(theme.title());
    let rows = d
        .recent
        .iter()
        .take(usize::from(recent.height).saturating_sub(1))
        .map(|e| {
            Row::new([
                Cell::from(ago(now_ns, e.request_ns)),
                Cell::from(e.method.map_or("?", |m| m.as_str())),
                Cell::from(e.path.display(show_query).into_owned()),
                Cell::from(Span::styled(e.status.to_string(), theme.status(e.status))),
                Cell::from(Line::from(format_ns(e.latency_ns)).right_aligned()),
            ])
        });
    let widths = [
        Constraint::Length(14),
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(8),
    ];
    frame.render_widget(Table::new(rows, widths).header(header), recent);
}
