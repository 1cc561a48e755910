//! Styles. Only the terminal's own default colours for text, plus a few ANSI colours for
//! meaning (the terminal theme picks their shade, so they suit dark and light backgrounds);
//! emphasis by bold and reverse video. `NO_COLOR` drops the colours, keeps the emphasis.

use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug)]
pub struct Theme {
    color: bool,
}

impl Theme {
    /// Colours unless `NO_COLOR` is set to something non-empty (no-color.org).
    pub fn from_env() -> Self {
        Theme::new(std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
    }

    pub fn new(color: bool) -> Self {
        Theme { color }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }

    pub fn label(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }

    pub fn value(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Errors, lost events, 5xx: something is wrong.
    pub fn alarm(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// 4xx and the like: worth a look.
    pub fn warn(&self) -> Style {
        self.fg(Color::Magenta)
    }

    pub fn rate(&self) -> Style {
        self.fg(Color::Cyan)
    }

    pub fn latency(&self) -> Style {
        self.fg(Color::Blue)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn frozen(&self) -> Style {
        self.fg(Color::Red)
            .add_modifier(Modifier::REVERSED | Modifier::BOLD)
    }

    pub fn status(&self, status: u16) -> Style {
        match status {
            500.. => self.alarm(),
            400..500 => self.warn(),
            _ => Style::new(),
        }
    }
}
