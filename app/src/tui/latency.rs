//! The latency panel: percentiles, then the log2 histogram as horizontal bars.

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::{Block, Paragraph},
};

use super::theme::Theme;
use crate::model::{LOG2_BUCKETS, Percentiles, format_count, format_ns, log2_bucket_floor};

/// The buckets worth drawing in `lines` lines: from the first to the last non-empty one,
/// trimmed from whichever end holds less while there are too many.
fn visible_buckets(log2: &[u64; LOG2_BUCKETS], lines: usize) -> std::ops::Range<usize> {
    let (Some(mut first), Some(last)) = (
        log2.iter().position(|n| *n > 0),
        log2.iter().rposition(|n| *n > 0),
    ) else {
        return 0..0;
    };
    let mut end = last + 1;
    while end - first > lines {
        if log2[first] <= log2[end - 1] {
            first += 1;
        } else {
            end -= 1;
        }
    }
    first..end
}

pub fn percentile_spans<'a>(p: &Percentiles, theme: &Theme) -> Vec<Span<'a>> {
    let mut spans = Vec::new();
    for (label, ns) in [
        ("p50 ", p.p50),
        ("p90 ", p.p90),
        ("p99 ", p.p99),
        ("p99.9 ", p.p999),
        ("max ", p.max),
    ] {
        spans.push(Span::styled(label, theme.label()));
        spans.push(Span::styled(format_ns(ns), theme.value()));
        spans.push(Span::raw(" "));
    }
    spans
}

/// Histogram lines `≥512µs ████ 990`, bars scaled to the largest row shown. When not every
/// bucket fits, the edge rows hold everything beyond them (`<8.19µs`, `≥1.05ms`): the rows
/// always add up to the whole histogram.
pub fn histogram_lines<'a>(
    log2: &[u64; LOG2_BUCKETS],
    lines: usize,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let range = visible_buckets(log2, lines);
    let (first, last) = (range.start, range.end.saturating_sub(1));
    let rows: Vec<(String, u64)> = range
        .map(|b| {
            if b == first && log2[..b].iter().any(|n| *n > 0) {
                let below = log2[..=b].iter().sum();
                (
                    format!("<{:>7}", format_ns(log2_bucket_floor(b + 1))),
                    below,
                )
            } else if b == last {
                let above = log2[b..].iter().sum();
                (format!("≥{:>7}", format_ns(log2_bucket_floor(b))), above)
            } else {
                (format!("≥{:>7}", format_ns(log2_bucket_floor(b))), log2[b])
            }
        })
        .collect();
    let peak = rows.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let bar_width = width.saturating_sub(8 + 1 + 1 + 7) as u64;
    rows.into_iter()
        .map(|(label, n)| {
            let bar = "█".repeat((n * bar_width).div_ceil(peak) as usize);
            Line::from(vec![
                Span::styled(label, theme.label()),
                Span::raw(" "),
                Span::styled(bar, theme.latency()),
                Span::raw(format!(" {}", format_count(n))),
            ])
        })
        .collect()
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    p: &Percentiles,
    log2: &[u64; LOG2_BUCKETS],
    theme: &Theme,
) {
    let block = Block::bordered().title(Span::styled(" latency ", theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let mut lines = vec![Line::from(percentile_spans(p, theme))];
    if log2.iter().all(|n| *n == 0) {
        lines.push(Line::styled("no exchanges yet", theme.label()));
    } else {
        let rows = usize::from(inner.height).saturating_sub(1);
        lines.extend(histogram_lines(log2, rows, usize::from(inner.width), theme));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_the_lighter_end_until_the_buckets_fit() {
        let mut log2 = [0; LOG2_BUCKETS];
        assert_eq!(visible_buckets(&log2, 5), 0..0);
        log2[10] = 1;
        log2[11] = 50;
        log2[12] = 40;
        log2[13] = 2;
        assert_eq!(visible_buckets(&log2, 5), 10..14);
        assert_eq!(visible_buckets(&log2, 3), 11..14);
        assert_eq!(visible_buckets(&log2, 2), 11..13);
    }

    #[test]
    fn edge_rows_hold_the_buckets_that_do_not_fit() {
        let mut log2 = [0; LOG2_BUCKETS];
        log2[10] = 1;
        log2[11] = 50;
        log2[12] = 40;
        log2[13] = 2;
        log2[27] = 7; // a slow tail far away
        let theme = Theme::new(false);
        let text: Vec<String> = histogram_lines(&log2, 3, 60, &theme)
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(text.len(), 3);
        let count = |line: &str| -> u64 { line.rsplit(' ').next().unwrap().parse().unwrap() };
        // Rows add up to the whole histogram: nothing hidden.
        assert_eq!(text.iter().map(|l| count(l)).sum::<u64>(), 100);
        assert!(text[0].starts_with('<'), "{text:?}");
        assert_eq!(count(&text[0]), 51);
        assert_eq!(count(&text[2]), 9);
    }
}
