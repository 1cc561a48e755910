//! req/s, p99 TTFB and error-rate sparklines, one point per refresh interval, newest on the
//! right. Each title says the latest point's value (`now`: the last interval) and the largest
//! over the points shown, with how long they span: the window the header's rate and shares
//! cover.

use std::time::Duration;

use ratatui::{
    Frame,
    layout::{Constraint, Layout, Rect},
    style::Style,
    text::{Line, Span},
    widgets::{Paragraph, Sparkline},
};

use super::theme::Theme;
use crate::model::{HistoryPoint, Window, format_ns, format_percent, format_rate};

struct Series<'a> {
    title: &'a str,
    value: fn(&HistoryPoint) -> u64,
    label: fn(&HistoryPoint) -> String,
    style: Style,
}

/// The points a chart `width` columns wide shows: the newest, one per column.
pub fn shown(history: &[HistoryPoint], width: u16) -> &[HistoryPoint] {
    &history[history.len().saturating_sub(usize::from(width))..]
}

/// `1m10s`: a window's length to the second (to the millisecond below a second), as the
/// header and the sparklines both write it.
pub fn span(w: &Window) -> String {
    let ns = w.duration_ns();
    let rounded = if ns >= 1_000_000_000 {
        Duration::from_secs((ns + 500_000_000) / 1_000_000_000)
    } else {
        Duration::from_millis(ns / 1_000_000)
    };
    humantime::format_duration(rounded).to_string()
}

pub fn render(frame: &mut Frame, area: Rect, history: &[HistoryPoint], theme: &Theme) {
    let series = [
        Series {
            title: "req/s",
            // Tenths, so low rates still show as bars.
            value: |p| (p.req_per_s * 10.0).round() as u64,
            label: |p| format_rate(p.req_per_s),
            style: theme.rate(),
        },
        Series {
            title: "p99 TTFB",
            value: |p| p.p99_ns,
            // An interval without exchanges has no p99.
            label: |p| {
                if p.exchanges == 0 {
                    "–".to_owned()
                } else {
                    format_ns(p.p99_ns)
                }
            },
            style: theme.latency(),
        },
        Series {
            title: "4xx / 5xx",
            value: |p| (p.error_share() * 1000.0).round() as u64,
            label: |p| {
                format!(
                    "{} / {}",
                    format_percent(p.share_4xx()),
                    format_percent(p.share_5xx())
                )
            },
            style: theme.alarm(),
        },
    ];
    let rows = Layout::vertical([Constraint::Ratio(1, 3); 3]).split(area);
    for (s, row) in series.iter().zip(rows.iter()) {
        let [title, chart] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(*row);
        // Only as many points as fit, newest last.
        let points = shown(history, chart.width);
        let now = points.last().map_or("–".to_string(), s.label);
        let peak = points
            .iter()
            .max_by_key(|p| (s.value)(p))
            .map_or("–".to_string(), s.label);
        let over = Window::of(points).map_or(String::new(), |w| format!(" over {}", span(&w)));
        // Whole parts only: the span, then the peak, go when the line is too narrow.
        let head = format!("{} now {now}", s.title);
        let tail = [
            format!("  max {peak}{over}"),
            format!("  max {peak}"),
            String::new(),
        ]
        .into_iter()
        .find(|tail| head.chars().count() + tail.chars().count() <= usize::from(title.width))
        .unwrap_or_default();
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::styled(s.title, theme.title()),
                Span::raw(format!(" now {now}")),
                Span::styled(tail, theme.label()),
            ])),
            title,
        );
        let data: Vec<u64> = points.iter().map(s.value).collect();
        frame.render_widget(Sparkline::default().data(&data).style(s.style), chart);
    }
}
