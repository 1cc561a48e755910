//! The two header lines: traffic figures, then httptop's own cost, the filter and FROZEN.

use std::time::SystemTime;

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::Paragraph,
};

use super::{app::App, theme::Theme};
use crate::model::{format_count, format_ns, format_percent, format_rate};

fn field<'a>(theme: &Theme, label: &'a str, value: String) -> [Span<'a>; 3] {
    [
        Span::styled(label, theme.label()),
        Span::styled(value, theme.value()),
        Span::raw("  "),
    ]
}

/// `1h02m03s`-style uptime, seconds resolution.
fn uptime(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, sec) => format!("{h}h{min:02}m{sec:02}s"),
    }
}

/// `12:34:56 UTC`: the time of day of a freeze.
fn time_of_day(t: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(t).to_string();
    // "2024-05-01T12:34:56Z": the clock part.
    stamp
        .get(11..19)
        .map_or(stamp.clone(), |hms| format!("{hms} UTC"))
}

pub fn render(frame: &mut Frame, area: Rect, app: &App, theme: &Theme) {
    let s = &app.view.figures;
    let interfaces = if app.interfaces.is_empty() {
        "all".to_string()
    } else {
        app.interfaces.join(",")
    };

    let mut first = vec![Span::styled("httptop ", theme.title())];
    first.extend(field(theme, "if ", interfaces));
    first.extend(field(theme, "up ", uptime(s.uptime_ns)));
    first.extend(field(theme, "exchanges ", format_count(s.exchanges)));
    first.extend(field(theme, "req/s ", format_rate(app.view.req_per_s())));
    first.extend(field(theme, "err ", format_percent(s.error_share())));
    first.extend(field(theme, "in-flight ", format_count(s.kernel.in_flight)));
    let lost = s.kernel[probe_common::wire::Counter::EventsLost];
    first.push(Span::styled("lost ", theme.label()));
    first.push(Span::styled(
        format_count(lost),
        if lost > 0 {
            theme.alarm()
        } else {
            theme.value()
        },
    ));
    if lost > 0 {
        first.push(Span::styled(
            " (per-connection figures partial)",
            theme.alarm(),
        ));
    }

    let mut second = Vec::new();
    let filter_cost = s
        .filter_ns_per_run
        .map_or("–".to_string(), |ns| format_ns(ns.round() as u64));
    second.extend(field(theme, "cost: filter ", format!("{filter_cost}/pkt")));
    let cpu = app
        .cpu_percent
        .map_or("–".to_string(), |p| format!("{p:.1}%"));
    second.extend(field(theme, "cpu ", cpu));
    let filter = s
        .filter
        .as_ref()
        .map_or("none".to_string(), |f| f.text().to_string());
    second.extend(field(theme, "filter ", filter));
    if let Some(at) = app.frozen_at {
        second.push(Span::styled(
            format!(" FROZEN at {} ", time_of_day(at)),
            theme.frozen(),
        ));
    }

    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_and_time_of_day_read_like_clocks() {
        assert_eq!(uptime(59_999_999_999), "59s");
        assert_eq!(uptime(62_000_000_000), "1m02s");
        assert_eq!(uptime(3_723_000_000_000), "1h02m03s");
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(45_296);
        assert_eq!(time_of_day(t), "12:34:56 UTC");
    }
}
