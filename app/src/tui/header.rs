//! The two header lines: what is watched and the traffic figures, then httptop's own cost,
//! the filter and FROZEN. Each figure is a field that is drawn whole or not at all: when a
//! line does not fit, the least important fields go first.

use std::time::SystemTime;

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::Paragraph,
};

use super::{
    app::{App, Watched},
    sparklines,
    table::count,
    theme::Theme,
};
use crate::model::{Window, format_ns, format_percent, format_rate};

/// One field of a header line: its spans and how much it matters (higher stays longer).
struct Field<'a> {
    priority: u8,
    spans: Vec<Span<'a>>,
}

fn field<'a>(theme: &Theme, priority: u8, label: &'a str, value: String) -> Field<'a> {
    Field {
        priority,
        spans: vec![
            Span::styled(label, theme.label()),
            Span::styled(value, theme.value()),
        ],
    }
}

/// The fields that fit in `width`, two spaces apart, in their order; the lowest priority go
/// first.
fn fit_line(mut fields: Vec<Field<'_>>, width: u16) -> Line<'_> {
    let len = |fields: &[Field]| -> usize {
        let text: usize = fields
            .iter()
            .flat_map(|f| &f.spans)
            .map(|s| s.content.chars().count())
            .sum();
        text + 2 * fields.len().saturating_sub(1)
    };
    while len(&fields) > usize::from(width) && !fields.is_empty() {
        let lowest = fields
            .iter()
            .enumerate()
            .min_by_key(|(_, f)| f.priority)
            .map_or(0, |(i, _)| i);
        fields.remove(lowest);
    }
    let mut spans = Vec::new();
    for (i, f) in fields.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("  "));
        }
        spans.extend(f.spans);
    }
    Line::from(spans)
}

/// `1h02m03s`-style uptime, seconds resolution.
pub fn uptime(ns: u64) -> String {
    let s = ns / 1_000_000_000;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, sec) => format!("{min}m{sec:02}s"),
        (h, min, sec) => format!("{h}h{min:02}m{sec:02}s"),
    }
}

/// `12:34:56 UTC`: the time of day of a freeze.
pub fn time_of_day(t: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(t).to_string();
    // "2024-05-01T12:34:56Z": the clock part.
    stamp
        .get(11..19)
        .map_or(stamp.clone(), |hms| format!("{hms} UTC"))
}

/// `all interfaces, all ports`, `lo, eth0, port 8080`, `eth0, ports 80, 443`.
pub fn watched(w: &Watched) -> String {
    let interfaces = if w.interfaces.is_empty() {
        "all interfaces".to_string()
    } else {
        w.interfaces.join(", ")
    };
    let ports: Vec<String> = w.ports.iter().map(u16::to_string).collect();
    let ports = match ports.len() {
        0 => "all ports".to_string(),
        1 => format!("port {}", ports[0]),
        _ => format!("ports {}", ports.join(", ")),
    };
    format!("{interfaces}, {ports}")
}

/// The header of `app`; its rate and 4xx / 5xx shares cover `window` (the sparklines').
pub fn render(frame: &mut Frame, area: Rect, app: &App, window: Option<&Window>, theme: &Theme) {
    let s = &app.view.figures;
    let lost = s.kernel[probe_common::wire::Counter::EventsLost];
    // The sparklines' window: the header's rate and shares cover the same span, and say so.
    let (window, req_per_s, share_4xx, share_5xx) = match window {
        Some(w) => (
            format!("last {}:", sparklines::span(w)),
            format_rate(w.req_per_s()),
            format_percent(w.share_4xx()),
            format_percent(w.share_5xx()),
        ),
        None => (
            "no interval yet:".to_string(),
            "–".to_string(),
            "–".to_string(),
            "–".to_string(),
        ),
    };
    let mut first = vec![
        Field {
            priority: 5,
            spans: vec![Span::styled("httptop", theme.title())],
        },
        field(theme, 7, "up ", uptime(s.uptime_ns)),
        field(theme, 10, "exchanges ", count(s.exchanges, app.exact)),
        Field {
            priority: 9,
            spans: vec![
                Span::styled(format!("{window} req/s "), theme.label()),
                Span::styled(req_per_s, theme.value()),
            ],
        },
        field(theme, 8, "4xx ", share_4xx),
        field(theme, 8, "5xx ", share_5xx),
        field(theme, 3, "in-flight ", count(s.kernel.in_flight, app.exact)),
    ];
    first.push(Field {
        priority: 10,
        spans: vec![
            Span::styled("lost ", theme.label()),
            Span::styled(
                count(lost, app.exact),
                if lost > 0 {
                    theme.alarm()
                } else {
                    theme.value()
                },
            ),
        ],
    });
    if lost > 0 {
        first.push(Field {
            priority: 9,
            spans: vec![Span::styled("(per-row figures partial)", theme.alarm())],
        });
    }

    let per_packet = s
        .filter_ns_per_run
        .map_or("–".to_string(), |ns| format_ns(ns.round() as u64));
    let share = app.filter_cpu_share.map_or("–".to_string(), format_percent);
    let cpu = app
        .cpu_percent
        .map_or("–".to_string(), |p| format!("{p:.1}%"));
    let filter = s
        .filter
        .as_ref()
        .map_or("none".to_string(), |f| f.text().to_string());
    let mut second = vec![
        field(theme, 8, "watching ", watched(&app.watched)),
        field(theme, 6, "socket filter ", format!("{share} cpu")),
        field(theme, 4, "", format!("{per_packet}/pkt")),
        field(theme, 7, "httptop ", format!("{cpu} cpu")),
        field(theme, 10, "filter ", filter),
    ];
    if let Some(at) = app.frozen_at {
        second.push(Field {
            priority: 10,
            spans: vec![Span::styled(
                format!(" FROZEN at {} ", time_of_day(at)),
                theme.frozen(),
            )],
        });
    }

    frame.render_widget(
        Paragraph::new(vec![
            fit_line(first, area.width),
            fit_line(second, area.width),
        ]),
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

    #[test]
    fn says_what_is_watched() {
        let w = |interfaces: &[&str], ports: &[u16]| {
            watched(&Watched {
                interfaces: interfaces.iter().map(|s| s.to_string()).collect(),
                ports: ports.to_vec(),
            })
        };
        assert_eq!(w(&[], &[]), "all interfaces, all ports");
        assert_eq!(w(&["lo"], &[8080]), "lo, port 8080");
        assert_eq!(w(&["lo", "eth0"], &[80, 443]), "lo, eth0, ports 80, 443");
    }
}
