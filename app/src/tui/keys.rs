//! Every key binding, in one table: dispatch and the help overlay both read it.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    OpenFilter,
    ToggleFreeze,
    Inspect,
    Back,
    Reset,
    Redraw,
    ToggleHelp,
    SortNext,
    SortReverse,
    ApplyFilter,
    CancelFilter,
}

/// Where a binding applies: the filter bar takes typed text, so it has its own few keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Main,
    FilterBar,
}

#[derive(Clone, Copy, Debug)]
pub struct Key {
    pub code: KeyCode,
    pub modifiers: KeyModifiers,
}

const fn key(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::NONE,
    }
}

const fn ctrl(c: char) -> Key {
    Key {
        code: KeyCode::Char(c),
        modifiers: KeyModifiers::CONTROL,
    }
}

const fn code(code: KeyCode) -> Key {
    Key {
        code,
        modifiers: KeyModifiers::NONE,
    }
}

pub struct Binding {
    pub context: Context,
    pub keys: &'static [Key],
    /// How the help overlay names the keys.
    pub label: &'static str,
    pub action: Action,
    pub help: &'static str,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        context: Context::Main,
        keys: &[key('q'), ctrl('c')],
        label: "q  Ctrl-C",
        action: Action::Quit,
        help: "quit",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::Up), key('k')],
        label: "↑  k",
        action: Action::Up,
        help: "select previous row",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::Down), key('j')],
        label: "↓  j",
        action: Action::Down,
        help: "select next row",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::PageUp)],
        label: "PgUp",
        action: Action::PageUp,
        help: "page up",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::PageDown)],
        label: "PgDn",
        action: Action::PageDown,
        help: "page down",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::Home), key('g')],
        label: "Home  g",
        action: Action::Home,
        help: "first row",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::End), key('G')],
        label: "End  G",
        action: Action::End,
        help: "last row",
    },
    Binding {
        context: Context::Main,
        keys: &[key('s')],
        label: "s",
        action: Action::SortNext,
        help: "sort by the next column",
    },
    Binding {
        context: Context::Main,
        keys: &[key('S')],
        label: "S",
        action: Action::SortReverse,
        help: "reverse the sort order",
    },
    Binding {
        context: Context::Main,
        keys: &[key('/')],
        label: "/",
        action: Action::OpenFilter,
        help: "edit the filter",
    },
    Binding {
        context: Context::Main,
        keys: &[key(' ')],
        label: "Space",
        action: Action::ToggleFreeze,
        help: "freeze / unfreeze the screen (collection goes on)",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        action: Action::Inspect,
        help: "inspect the selected connection",
    },
    Binding {
        context: Context::Main,
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        action: Action::Back,
        help: "back (close inspect / help)",
    },
    Binding {
        context: Context::Main,
        keys: &[key('r')],
        label: "r",
        action: Action::Reset,
        help: "reset statistics to zero",
    },
    Binding {
        context: Context::Main,
        keys: &[ctrl('l')],
        label: "Ctrl-L",
        action: Action::Redraw,
        help: "redraw the screen",
    },
    Binding {
        context: Context::Main,
        keys: &[key('?'), code(KeyCode::F(1))],
        label: "?  F1",
        action: Action::ToggleHelp,
        help: "this help",
    },
    Binding {
        context: Context::FilterBar,
        keys: &[code(KeyCode::Enter)],
        label: "Enter",
        action: Action::ApplyFilter,
        help: "apply the filter (empty: no filter)",
    },
    Binding {
        context: Context::FilterBar,
        keys: &[code(KeyCode::Esc)],
        label: "Esc",
        action: Action::CancelFilter,
        help: "cancel, keep the previous filter",
    },
    Binding {
        context: Context::FilterBar,
        keys: &[ctrl('c')],
        label: "Ctrl-C",
        action: Action::Quit,
        help: "quit",
    },
];

/// The action bound to `event` in `context`, if any.
pub fn action_for(context: Context, event: &KeyEvent) -> Option<Action> {
    // Terminals report `G` and `?` with SHIFT; the character already says it.
    let modifiers = event.modifiers - KeyModifiers::SHIFT;
    BINDINGS
        .iter()
        .filter(|b| b.context == context)
        .find(|b| {
            b.keys
                .iter()
                .any(|k| k.code == event.code && k.modifiers == modifiers)
        })
        .map(|b| b.action)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode, modifiers: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, modifiers)
    }

    #[test]
    fn dispatch_reads_the_table() {
        assert_eq!(
            action_for(
                Context::Main,
                &press(KeyCode::Char('q'), KeyModifiers::NONE)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(
                Context::Main,
                &press(KeyCode::Char('c'), KeyModifiers::CONTROL)
            ),
            Some(Action::Quit)
        );
        assert_eq!(
            action_for(
                Context::Main,
                &press(KeyCode::Char('c'), KeyModifiers::NONE)
            ),
            None
        );
        assert_eq!(
            action_for(
                Context::Main,
                &press(KeyCode::Char('G'), KeyModifiers::SHIFT)
            ),
            Some(Action::End)
        );
        assert_eq!(
            action_for(
                Context::Main,
                &press(KeyCode::Char('?'), KeyModifiers::SHIFT)
            ),
            Some(Action::ToggleHelp)
        );
        assert_eq!(
            action_for(
                Context::FilterBar,
                &press(KeyCode::Char('q'), KeyModifiers::NONE)
            ),
            None
        );
        assert_eq!(
            action_for(Context::FilterBar, &press(KeyCode::Esc, KeyModifiers::NONE)),
            Some(Action::CancelFilter)
        );
    }

    #[test]
    fn no_key_is_bound_twice_in_a_context() {
        for (i, a) in BINDINGS.iter().enumerate() {
            for b in &BINDINGS[i + 1..] {
                for ka in a.keys {
                    let clash = b.context == a.context
                        && b.keys
                            .iter()
                            .any(|kb| kb.code == ka.code && kb.modifiers == ka.modifiers);
                    assert!(!clash, "{} and {} share a key", a.label, b.label);
                }
            }
        }
    }
}
