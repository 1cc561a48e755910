//! The TTFB panel: percentiles, then the log2 histogram as horizontal bars, one range per row.

use ratatui::{
    Frame,
    layout::Rect,
    text::{Line, Span},
    widgets::{Block, Paragraph},
};

use super::{table::count, theme::Theme};
use crate::model::{LOG2_BUCKETS, Percentiles, format_ns, log2_bucket_floor};

/// The panel's title: latency here is always the time to first byte.
pub const TITLE: &str = " TTFB (time to first byte) ";

/// `p50 1.18ms  p90 …  max 24.6ms`, as many as fit in `width`: p50, p99 and max first, then
/// p99.9 and p90; `–` for each when there is nothing to measure.
pub fn percentile_spans<'a>(p: Option<&Percentiles>, width: u16, theme: &Theme) -> Vec<Span<'a>> {
    // (label, value, priority: higher stays longer)
    type Pick = fn(&Percentiles) -> u64;
    let all: [(&str, Pick, u8); 5] = [
        ("p50 ", |p| p.p50, 9),
        ("p90 ", |p| p.p90, 5),
        ("p99 ", |p| p.p99, 8),
        ("p99.9 ", |p| p.p999, 6),
        ("max ", |p| p.max, 10),
    ];
    let text = |pick: fn(&Percentiles) -> u64| p.map_or("–".to_string(), |p| format_ns(pick(p)));
    let mut shown: Vec<(&str, String, u8)> = all
        .iter()
        .map(|(label, pick, priority)| (*label, text(*pick), *priority))
        .collect();
    let len = |shown: &[(&str, String, u8)]| -> usize {
        shown
            .iter()
            .map(|(l, v, _)| l.len() + v.chars().count() + 1)
            .sum()
    };
    while len(&shown) > usize::from(width) + 1 && shown.len() > 1 {
        let lowest = shown
            .iter()
            .enumerate()
            .min_by_key(|(_, (_, _, priority))| *priority)
            .map_or(0, |(i, _)| i);
        shown.remove(lowest);
    }
    let mut spans = Vec::new();
    for (i, (label, value, _)) in shown.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        spans.push(Span::styled(label, theme.label()));
        spans.push(Span::styled(value, theme.value()));
    }
    spans
}

/// The histogram's rows in at most `lines` lines: `(first bucket, last bucket, count)`, from
/// the first non-empty bucket to the last. When there are more buckets than lines, neighbours
/// share a row (each row the same number of buckets, counted back from the slowest), so the
/// rows still cover everything and the slowest exchanges always have a row of their own range.
pub fn histogram_rows(log2: &[u64; LOG2_BUCKETS], lines: usize) -> Vec<(usize, usize, u64)> {
    let (Some(first), Some(last)) = (
        log2.iter().position(|n| *n > 0),
        log2.iter().rposition(|n| *n > 0),
    ) else {
        return Vec::new();
    };
    if lines == 0 {
        return Vec::new();
    }
    let span = (last + 1 - first).div_ceil(lines);
    let mut rows = Vec::new();
    let mut end = last + 1;
    while end > first {
        let start = end.saturating_sub(span).max(first);
        rows.push((start, end - 1, log2[start..end].iter().sum()));
        end = start;
    }
    rows.reverse();
    rows
}

/// `131µs–262µs`: the latencies a row of buckets `first..=last` holds.
fn range_label(first: usize, last: usize) -> String {
    format!(
        "{}–{}",
        format_ns(log2_bucket_floor(first)),
        format_ns(log2_bucket_floor(last + 1))
    )
}

/// Histogram lines `524µs–1.05ms ████ 990`, bars scaled to the largest row.
pub fn histogram_lines<'a>(
    log2: &[u64; LOG2_BUCKETS],
    lines: usize,
    width: usize,
    exact: bool,
    theme: &Theme,
) -> Vec<Line<'a>> {
    let rows: Vec<(String, String, u64)> = histogram_rows(log2, lines)
        .into_iter()
        .map(|(first, last, n)| (range_label(first, last), count(n, exact), n))
        .collect();
    let label_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let count_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    let peak = rows.iter().map(|r| r.2).max().unwrap_or(0).max(1);
    let bar_width = width.saturating_sub(label_width + count_width + 2) as u64;
    rows.into_iter()
        .map(|(label, n_text, n)| {
            let bar = "█".repeat((n * bar_width).div_ceil(peak) as usize);
            Line::from(vec![
                Span::styled(format!("{label:>label_width$}"), theme.label()),
                Span::raw(" "),
                Span::raw(format!("{n_text:>count_width$}")),
                Span::raw(" "),
                Span::styled(bar, theme.latency()),
            ])
        })
        .collect()
}

pub fn render(
    frame: &mut Frame,
    area: Rect,
    p: Option<&Percentiles>,
    log2: &[u64; LOG2_BUCKETS],
    exact: bool,
    theme: &Theme,
) {
    let block = Block::bordered().title(Span::styled(TITLE, theme.title()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let empty = log2.iter().all(|n| *n == 0);
    let mut lines = vec![Line::from(percentile_spans(
        p.filter(|_| !empty),
        inner.width,
        theme,
    ))];
    if empty {
        lines.push(Line::styled("no exchanges yet", theme.label()));
    } else {
        let rows = usize::from(inner.height).saturating_sub(1);
        lines.extend(histogram_lines(
            log2,
            rows,
            usize::from(inner.width),
            exact,
            theme,
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn the_slow_tail_keeps_a_row_of_its_own_range() {
        // 9201 exchanges near 150µs and five at 218ms, as a 200ms endpoint under load gives.
        let mut log2 = [0; LOG2_BUCKETS];
        log2[17] = 9_000; // [131µs, 262µs)
        log2[18] = 201;
        log2[27] = 5; // [134ms, 268ms)
        let theme = Theme::new(false);
        for lines in [3, 6, 11] {
            let rows = histogram_rows(&log2, lines);
            assert!(rows.len() <= lines, "{rows:?}");
            // Nothing hidden, and the last row ends where the slowest bucket does.
            assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), 9_206);
            assert_eq!(rows.last().map(|r| r.1), Some(27));
        }
        let drawn = text(&histogram_lines(&log2, 6, 60, false, &theme));
        assert_eq!(drawn.len(), 6, "{drawn:?}");
        assert!(
            drawn[0].trim_start().starts_with("131µs–262µs 9000 "),
            "{drawn:?}"
        );
        assert!(
            drawn[1].trim_start().starts_with("262µs–1.05ms  201 "),
            "{drawn:?}"
        );
        assert!(
            drawn[5].trim_start().starts_with("67.1ms–268ms    5 █"),
            "{drawn:?}"
        );
        // Every bucket its own row when they fit: 11 buckets, 11 lines.
        let drawn = text(&histogram_lines(&log2, 11, 60, false, &theme));
        assert_eq!(drawn.len(), 11);
        assert!(
            drawn[1].trim_start().starts_with("262µs–524µs  201 "),
            "{drawn:?}"
        );
        assert!(
            drawn[10].trim_start().starts_with("134ms–268ms    5 █"),
            "{drawn:?}"
        );
    }

    #[test]
    fn percentiles_fit_the_width_whole_or_not_at_all() {
        let theme = Theme::new(false);
        let p = Percentiles {
            p50: 1_180_000,
            p90: 22_200_000,
            p99: 24_000_000,
            p999: 3_300_000,
            max: 24_600_000,
        };
        let line = |p: Option<&Percentiles>, width| {
            let spans = percentile_spans(p, width, &theme);
            spans.iter().map(|s| s.content.as_ref()).collect::<String>()
        };
        assert_eq!(
            line(Some(&p), 80),
            "p50 1.18ms p90 22.2ms p99 24.0ms p99.9 3.30ms max 24.6ms"
        );
        assert_eq!(
            line(Some(&p), 45),
            "p50 1.18ms p99 24.0ms p99.9 3.30ms max 24.6ms"
        );
        assert_eq!(line(Some(&p), 32), "p50 1.18ms p99 24.0ms max 24.6ms");
        assert_eq!(line(None, 80), "p50 – p90 – p99 – p99.9 – max –");
    }
}
