//! One row in detail: its count, percentiles, histogram and recent exchanges (scrollable),
//! with clock times and ages measured from now.

use std::time::SystemTime;

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    text::{Line, Span},
    widgets::{Block, Cell, Paragraph, Row, Table},
};

use super::{latency, table::count, theme::Theme};
use crate::model::{Clock, Method, Percentiles, RowDetail, format_ns};

/// `12:34:56.789`: the UTC time of day, to the millisecond.
pub fn clock_time(t: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_millis(t).to_string();
    // "2024-05-01T12:34:56.789Z": the clock part.
    stamp.get(11..23).map_or(stamp.clone(), str::to_string)
}

/// `12:34:56.789 UTC (3.20s ago)` for a CLOCK_MONOTONIC time.
fn seen(clock: &Clock, ns: u64) -> String {
    format!(
        "{} UTC ({} ago)",
        clock_time(clock.wall_time(ns)),
        format_ns(ago_ns(clock, ns))
    )
}

/// How long before `clock`'s now a CLOCK_MONOTONIC time was.
pub fn ago_ns(clock: &Clock, ns: u64) -> u64 {
    clock.mono_ns.saturating_sub(ns)
}

/// What the figures of `d` are not: complete, or of an open connection.
fn notes(d: &RowDetail, clock: &Clock) -> String {
    let mut notes = String::new();
    if d.closed {
        notes.push_str("  closed");
    }
    if let Some(since) = d.partial_since_ns {
        notes.push_str(&format!(
            "  partial since {}",
            clock_time(clock.wall_time(since))
        ));
    } else if d.restarted {
        notes.push_str("  counts again since evicted");
    }
    notes
}

pub struct Inspect<'a> {
    pub detail: &'a RowDetail,
    pub clock: &'a Clock,
    /// First recent exchange drawn.
    pub scroll: usize,
    pub show_query: bool,
    pub exact: bool,
}

pub fn render(frame: &mut Frame, area: Rect, i: &Inspect, theme: &Theme) {
    let d = i.detail;
    // A row of another namespace than httptop's says which.
    let netns = match d.key.netns() {
        Some(n) if n != crate::model::NetnsId::OWN => format!(" (netns {n})"),
        _ => String::new(),
    };
    let block = Block::bordered().title(Span::styled(
        format!(" {}{netns} (Esc: back) ", d.key),
        theme.title(),
    ));
    // The processes of the newest exchange's two sides, when they were looked up.
    let processes = d
        .recent
        .first()
        .map(|e| e.processes)
        .filter(|p| *p != crate::model::Processes::default())
        .map(|p| {
            Line::from(vec![
                Span::styled("processes ", theme.label()),
                Span::styled(format!("{} → {}", p.client, p.server), theme.value()),
            ])
        });
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // The histogram takes the rows it has (up to two fifths); the recent list the rest.
    let buckets = latency::histogram_rows(&d.log2, usize::MAX).len() as u16;
    let histogram_height = buckets.min(inner.height.saturating_sub(3) * 2 / 5).max(1);
    let [facts, histogram, recent] = Layout::vertical([
        Constraint::Length(4 + u16::from(processes.is_some())),
        Constraint::Length(histogram_height),
        Constraint::Min(3),
    ])
    .areas(inner);

    let label = |s: &'static str| Span::styled(s, theme.label());
    let value = |s: String| Span::styled(s, theme.value());
    // `TTFB p50 …`: a name, then as many of the percentiles as fit.
    let percentiles_line = |name: &'static str, p: Option<&Percentiles>| {
        Line::from(
            [Span::styled(name, theme.title())]
                .into_iter()
                .chain(latency::percentile_spans(
                    p,
                    facts.width.saturating_sub(5),
                    theme,
                ))
                .collect::<Vec<_>>(),
        )
    };
    frame.render_widget(
        Paragraph::new(
            [
                Line::from(vec![
                    label("exchanges "),
                    value(count(d.exchanges, i.exact)),
                    label("  first seen "),
                    value(seen(i.clock, d.first_seen_ns)),
                    Span::styled(notes(d, i.clock), theme.warn()),
                ]),
                Line::from(
                    [
                        label("last seen "),
                        value(seen(i.clock, d.last_seen_ns)),
                        label("  status"),
                    ]
                    .into_iter()
                    .chain(d.statuses.iter().flat_map(|(code, n)| {
                        [
                            Span::styled(format!(" {code}"), theme.status(*code)),
                            Span::styled(format!(" ×{}", count(*n, i.exact)), theme.value()),
                        ]
                    }))
                    .collect::<Vec<_>>(),
                ),
                percentiles_line("TTFB ", d.percentiles.as_ref()),
                percentiles_line("TTLB ", d.ttlb.as_ref()),
            ]
            .into_iter()
            .chain(processes)
            .collect::<Vec<_>>(),
        ),
        facts,
    );
    frame.render_widget(
        Paragraph::new(latency::histogram_lines(
            &d.log2,
            usize::from(histogram.height),
            usize::from(histogram.width),
            i.exact,
            theme,
        )),
        histogram,
    );

    let total = d.recent.len();
    let room = usize::from(recent.height).saturating_sub(1);
    let first = i.scroll.min(total.saturating_sub(1));
    let shown = d.recent.iter().skip(first).take(room);
    let position = if total == 0 {
        "recent 0".to_string()
    } else {
        format!(
            "recent {}–{} of {total}",
            first + 1,
            (first + room).min(total)
        )
    };
    let header = Row::new([
        Cell::from("time UTC"),
        Cell::from("ago"),
        Cell::from("method"),
        Cell::from("path"),
        Cell::from("status"),
        Cell::from(Line::from("TTFB").right_aligned()),
        Cell::from(Line::from(position).right_aligned()),
    ])
    .style(theme.title());
    let rows = shown.map(|e| {
        Row::new([
            Cell::from(clock_time(i.clock.wall_time(e.request_ns))),
            Cell::from(format_ns(ago_ns(i.clock, e.request_ns))),
            Cell::from(e.method.as_ref().map_or("?", Method::as_str)),
            Cell::from(e.path.display(i.show_query).into_owned()),
            Cell::from(Span::styled(e.status.to_string(), theme.status(e.status))),
            Cell::from(Line::from(format_ns(e.latency_ns)).right_aligned()),
            Cell::from(""),
        ])
    });
    let widths = [
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(18),
    ];
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        recent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_times_and_ages_count_from_now() {
        let clock = Clock {
            mono_ns: 100_000_000_000,
            wall: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(45_296),
        };
        assert_eq!(seen(&clock, 96_800_000_000), "12:34:52.800 UTC (3.20s ago)");
        assert_eq!(clock_time(clock.wall_time(100_000_000_000)), "12:34:56.000");
    }
}
