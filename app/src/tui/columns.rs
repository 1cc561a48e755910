//! Table columns that fit any width without cutting an address or a number: each column is
//! one value holding its header, how its cells are drawn, how it sorts and how much it matters
//! (its priority). A column is as wide as its widest cell on screen; when they do not all fit,
//! whole columns go, lowest priority first. Only text columns (`Fit::Fill`: paths, requests)
//! are shortened, with an ellipsis.

use std::cmp::Ordering;

use ratatui::{
    layout::{Alignment, Constraint},
    style::Style,
    text::Line,
    widgets::Cell,
};

use super::theme::Theme;
use crate::model::Clock;

/// How a column takes its width.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// As wide as its widest cell (and its header); never cut.
    Exact,
    /// What is left, at least this many columns; its text is shortened with `…` to fit.
    Fill(u16),
}

/// What a cell needs to know besides its row.
#[derive(Clone, Copy, Debug)]
pub struct CellContext<'a> {
    /// Now, for clock times.
    pub clock: &'a Clock,
    pub show_query: bool,
    /// Exact numbers instead of `12.3k`.
    pub exact: bool,
    pub theme: &'a Theme,
}

pub struct Column<R> {
    pub header: &'static str,
    pub align: Alignment,
    pub fit: Fit,
    /// Higher stays longer when the columns do not all fit.
    pub priority: u8,
    pub text: fn(&R, &CellContext) -> String,
    pub style: fn(&R, &Theme) -> Style,
    /// How rows compare by this column, ascending; `None`: not sortable.
    pub compare: Option<fn(&R, &R) -> Ordering>,
    /// Whether sorting by it starts descending (figures: biggest first).
    pub descending_first: bool,
}

pub fn plain<R>(_: &R, _: &Theme) -> Style {
    Style::new()
}

/// Display width in terminal columns (every character this table draws is one column wide).
pub fn width(text: &str) -> u16 {
    u16::try_from(text.chars().count()).unwrap_or(u16::MAX)
}

/// The header's text: the sort arrow goes right after the name, inside the column's width.
pub fn header_text<R>(column: &Column<R>, sorted: Option<bool>) -> String {
    match sorted {
        Some(true) => format!("{}▼", column.header),
        Some(false) => format!("{}▲", column.header),
        None => column.header.to_string(),
    }
}

/// The columns to draw in `available` terminal columns (spacing 1), as indexes into
/// `columns` in their order, each with its width. `needed[i]` is column i's widest text
/// (cells and header); a fill column takes what is left.
pub fn fit<R>(columns: &[&Column<R>], needed: &[u16], available: u16) -> Vec<(usize, u16)> {
    let mut shown: Vec<usize> = (0..columns.len()).collect();
    let room = |shown: &[usize]| -> i32 {
        let spacing = shown.len().saturating_sub(1) as i32;
        let used: i32 = shown
            .iter()
            .map(|&i| match columns[i].fit {
                Fit::Exact => i32::from(needed[i]),
                Fit::Fill(min) => i32::from(min),
            })
            .sum();
        i32::from(available) - used - spacing
    };
    while room(&shown) < 0 && !shown.is_empty() {
        // The lowest priority goes; among equals, the leftmost (the client side).
        let drop = shown
            .iter()
            .enumerate()
            .min_by_key(|(_, i)| columns[**i].priority)
            .map(|(at, _)| at)
            .unwrap_or(0);
        shown.remove(drop);
    }
    let spare = room(&shown).max(0) as u16;
    let fills: Vec<usize> = shown
        .iter()
        .copied()
        .filter(|&i| matches!(columns[i].fit, Fit::Fill(_)))
        .collect();
    // Fill columns share what is left in equal parts; a column needing less gives way.
    let share = |i: usize| -> u16 {
        let Fit::Fill(min) = columns[i].fit else {
            return needed[i];
        };
        let mut extra = spare / fills.len().max(1) as u16;
        if fills.first() == Some(&i) {
            extra += spare % fills.len().max(1) as u16;
        }
        min + extra
    };
    shown.into_iter().map(|i| (i, share(i))).collect()
}

/// `text` shortened to `width` columns with a trailing `…` when longer.
pub fn shorten(text: &str, width: u16) -> String {
    let width = usize::from(width);
    if text.chars().count() <= width {
        return text.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

/// One cell of `column` for `row`, in a column `width` wide.
pub fn cell<'a, R>(column: &Column<R>, row: &R, width: u16, cx: &CellContext) -> Cell<'a> {
    let text = (column.text)(row, cx);
    let text = match column.fit {
        Fit::Exact => text,
        Fit::Fill(_) => shorten(&text, width),
    };
    Cell::from(Line::styled(text, (column.style)(row, cx.theme)).alignment(column.align))
}

pub fn constraints(widths: &[(usize, u16)]) -> Vec<Constraint> {
    widths.iter().map(|(_, w)| Constraint::Length(*w)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(header: &'static str, fit: Fit, priority: u8) -> Column<()> {
        Column {
            header,
            align: Alignment::Left,
            fit,
            priority,
            text: |_, _| String::new(),
            style: plain,
            compare: None,
            descending_first: false,
        }
    }

    #[test]
    fn whole_columns_go_lowest_priority_first_and_fills_take_the_rest() {
        let owned = [
            column("client", Fit::Exact, 0),
            column("server", Fit::Exact, 9),
            column("exch", Fit::Exact, 8),
            column("request", Fit::Fill(5), 7),
        ];
        let columns: Vec<&Column<()>> = owned.iter().collect();
        let needed = [21, 21, 5, 7];
        // Everything fits: 21+21+5+5 and 3 spaces = 55.
        assert_eq!(
            fit(&columns, &needed, 60),
            [(0, 21), (1, 21), (2, 5), (3, 10)]
        );
        // One short: the client goes, the request grows into its room.
        assert_eq!(fit(&columns, &needed, 54), [(1, 21), (2, 5), (3, 26)]);
        // Then the request (priority 7), then the count.
        assert_eq!(fit(&columns, &needed, 27), [(1, 21), (2, 5)]);
        assert_eq!(fit(&columns, &needed, 26), [(1, 21)]);
        assert_eq!(shorten("/api/orders", 6), "/api/…");
        assert_eq!(shorten("/api", 6), "/api");
    }
}
