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

/// Histogram lines `≥512µs ████ 990`, bars scaled to the largest bucket shown.
pub fn histogram_lines<'a>(
    log2: &[u64; LOG2_BUCKETS],
    lines: usize,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let range = visible_buckets(log2, lines);
    let peak = log2[range.clone()]
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_width = width.saturating_sub(8 + 1 + 1 + 7) as u64;
    range
        .map(|b| {
            let n = log2[b];
            let bar = "█".repeat((n * bar_width).div_ceil(peak) as usize);
            Line::from(vec![
                Span::styled(
                    format!("≥{:>7}", format_ns(log2_bucket_floor(b))),
                    theme.label(),
                ),
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
}
