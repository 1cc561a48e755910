//! Human units shared by the text summary and the dashboard, so both read the same.

/// Formats a duration in nanoseconds with three significant digits in the largest unit that
/// keeps the number at or above 1: `812ns`, `812µs`, `21.3ms`, `1.20s`.
pub fn format_ns(ns: u64) -> String {
    scaled(
        ns,
        [(1_000_000_000, "s"), (1_000_000, "ms"), (1_000, "µs")],
        "ns",
    )
}

/// `n` in the largest of `units` (scale, suffix; largest first) it reaches, with three
/// significant digits, else whole with the `smallest` suffix.
fn scaled(n: u64, units: [(u64, &str); 3], smallest: &str) -> String {
    for (scale, unit) in units {
        if n >= scale {
            return format!("{}{unit}", three_digits(n as f64 / scale as f64));
        }
    }
    format!("{n}{smallest}")
}

/// Three significant digits for a value in [1, 1000); values that round up to 1000 stay
/// `1000` rather than switching unit, which reads fine and keeps the function simple.
fn three_digits(v: f64) -> String {
    if v >= 99.95 {
        format!("{v:.0}")
    } else if v >= 9.995 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// A count with a k/M/G suffix beyond four digits: `999`, `9999`, `12.3k`, `4.56M`.
pub fn format_count(n: u64) -> String {
    if n < 10_000 {
        return n.to_string();
    }
    scaled(
        n,
        [(1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")],
        "",
    )
}

/// A size in bytes with the same three digits and SI prefixes: `812B`, `12.3kB`, `4.56MB`.
pub fn format_bytes(n: u64) -> String {
    scaled(
        n,
        [(1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB")],
        "B",
    )
}

/// A rate per second: one decimal below 100, then like [`format_count`].
pub fn format_rate(per_s: f64) -> String {
    if per_s < 100.0 {
        format!("{per_s:.1}")
    } else {
        format_count(per_s.round() as u64)
    }
}

/// A share in [0, 1] as a percentage with one decimal.
pub fn format_percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_the_largest_unit_with_three_digits() {
        assert_eq!(format_ns(0), "0ns");
        assert_eq!(format_ns(999), "999ns");
        assert_eq!(format_ns(1_000), "1.00µs");
        assert_eq!(format_ns(812_000), "812µs");
        assert_eq!(format_ns(21_340_000), "21.3ms");
        assert_eq!(format_ns(1_204_000_000), "1.20s");
        assert_eq!(format_ns(125_000_000_000), "125s");
    }

    #[test]
    fn counts_and_rates_abbreviate_large_numbers() {
        assert_eq!(format_count(9_999), "9999");
        assert_eq!(format_count(12_345), "12.3k");
        assert_eq!(format_count(4_560_000), "4.56M");
        assert_eq!(format_rate(0.0), "0.0");
        assert_eq!(format_rate(42.26), "42.3");
        assert_eq!(format_rate(78_912.4), "78.9k");
        assert_eq!(format_percent(0.0234), "2.3%");
    }
}
