//! Every key binding, in one table: dispatch, the help overlay and the footer's hints all read
//! it.

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
    NextView,
    PreviousView,
    OpenFilter,
    ToggleFreeze,
    Inspect,
    Back,
    Reset,
    Redraw,
    ToggleHelp,
    SortNext,
    SortReverse,
    ToggleClosed,
    ToggleExact,
    ApplyFilter,
    CancelFilter,
    ClearFilterText,
    DeleteWord,
    CursorStart,
    CursorEnd,
    CursorLeft,
    CursorRight,
    DeleteBack,
    DeleteForward,
}

/// Where a binding applies: the filter bar takes typed text, so it has its own keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Main,
    FilterBar,
}

/// What is in front, for the footer's hints: each mode hints the keys that matter in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Table,
    Frozen,
    Inspect,
    Help,
    Filter,
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
    /// The footer's hints: in each mode listed, the label's first key and this word.
    pub hints: &'static [(Mode, &'static str)],
}

use Mode::{Filter, Frozen, Help, Inspect, Table};

/// A binding the footer does not hint at.
const NO_HINT: &[(Mode, &str)] = &[];

const fn bind(
    context: Context,
    keys: &'static [Key],
    label: &'static str,
    action: Action,
    help: &'static str,
    hints: &'static [(Mode, &'static str)],
) -> Binding {
    Binding {
        context,
        keys,
        label,
        action,
        help,
        hints,
    }
}

use Context::{FilterBar, Main};

pub const BINDINGS: &[Binding] = &[
    bind(
        Main,
        &[key('q'), ctrl('c')],
        "q  Ctrl-C",
        Action::Quit,
        "quit",
        &[
            (Table, "quit"),
            (Frozen, "quit"),
            (Inspect, "quit"),
            (Help, "quit"),
        ],
    ),
    bind(
        Main,
        &[code(KeyCode::Up), key('k')],
        "↑  k",
        Action::Up,
        "previous row (in inspect and help: scroll up)",
        NO_HINT,
    ),
    bind(
        Main,
        &[code(KeyCode::Down), key('j')],
        "↓  j",
        Action::Down,
        "next row (in inspect and help: scroll down)",
        &[(Inspect, "scroll"), (Help, "scroll")],
    ),
    bind(
        Main,
        &[code(KeyCode::PageUp)],
        "PgUp",
        Action::PageUp,
        "page up",
        NO_HINT,
    ),
    bind(
        Main,
        &[code(KeyCode::PageDown)],
        "PgDn",
        Action::PageDown,
        "page down",
        &[(Help, "page")],
    ),
    bind(
        Main,
        &[code(KeyCode::Home), key('g')],
        "Home  g",
        Action::Home,
        "first row",
        NO_HINT,
    ),
    bind(
        Main,
        &[code(KeyCode::End), key('G')],
        "End  G",
        Action::End,
        "last row",
        NO_HINT,
    ),
    bind(
        Main,
        &[key('v')],
        "v",
        Action::NextView,
        "views: connection server endpoint client slowest tail",
        &[(Table, "view"), (Frozen, "view")],
    ),
    bind(
        Main,
        &[key('V')],
        "V",
        Action::PreviousView,
        "previous view",
        NO_HINT,
    ),
    bind(
        Main,
        &[key('s')],
        "s",
        Action::SortNext,
        "sort by the next column",
        &[(Table, "sort")],
    ),
    bind(
        Main,
        &[key('S')],
        "S",
        Action::SortReverse,
        "reverse the sort order",
        NO_HINT,
    ),
    bind(
        Main,
        &[key('/')],
        "/",
        Action::OpenFilter,
        "edit the filter",
        &[(Table, "filter"), (Frozen, "filter")],
    ),
    bind(
        Main,
        &[key(' ')],
        "Space",
        Action::ToggleFreeze,
        "freeze / unfreeze the screen (collection goes on)",
        &[(Table, "freeze"), (Frozen, "unfreeze"), (Inspect, "freeze")],
    ),
    bind(
        Main,
        &[code(KeyCode::Enter)],
        "Enter",
        Action::Inspect,
        "inspect the selected row (slowest, tail: its connection)",
        &[(Table, "inspect"), (Frozen, "inspect")],
    ),
    bind(
        Main,
        &[code(KeyCode::Esc)],
        "Esc",
        Action::Back,
        "back (close inspect / help)",
        &[(Inspect, "back"), (Help, "back")],
    ),
    bind(
        Main,
        &[key('h')],
        "h",
        Action::ToggleClosed,
        "hide / show closed connections",
        &[(Table, "closed")],
    ),
    bind(
        Main,
        &[key('x')],
        "x",
        Action::ToggleExact,
        "exact numbers (no k/M/G abbreviations)",
        &[(Table, "exact"), (Inspect, "exact")],
    ),
    bind(
        Main,
        &[key('r')],
        "r",
        Action::Reset,
        "reset statistics to zero",
        NO_HINT,
    ),
    bind(
        Main,
        &[ctrl('l')],
        "Ctrl-L",
        Action::Redraw,
        "redraw the screen",
        NO_HINT,
    ),
    bind(
        Main,
        &[key('?'), code(KeyCode::F(1))],
        "?  F1",
        Action::ToggleHelp,
        "this help",
        &[(Table, "help"), (Frozen, "help"), (Inspect, "help")],
    ),
    bind(
        FilterBar,
        &[code(KeyCode::Enter)],
        "Enter",
        Action::ApplyFilter,
        "apply the filter (empty: no filter)",
        &[(Filter, "apply")],
    ),
    bind(
        FilterBar,
        &[code(KeyCode::Esc)],
        "Esc",
        Action::CancelFilter,
        "cancel, keep the previous filter",
        &[(Filter, "cancel")],
    ),
    bind(
        FilterBar,
        &[ctrl('u')],
        "Ctrl-U",
        Action::ClearFilterText,
        "erase the whole line",
        &[(Filter, "erase")],
    ),
    bind(
        FilterBar,
        &[ctrl('w')],
        "Ctrl-W",
        Action::DeleteWord,
        "erase the word before the cursor",
        &[(Filter, "word")],
    ),
    bind(
        FilterBar,
        &[ctrl('a'), code(KeyCode::Home)],
        "Ctrl-A  Home",
        Action::CursorStart,
        "cursor to the start",
        NO_HINT,
    ),
    bind(
        FilterBar,
        &[ctrl('e'), code(KeyCode::End)],
        "Ctrl-E  End",
        Action::CursorEnd,
        "cursor to the end",
        NO_HINT,
    ),
    bind(
        FilterBar,
        &[code(KeyCode::Left)],
        "←",
        Action::CursorLeft,
        "cursor left",
        NO_HINT,
    ),
    bind(
        FilterBar,
        &[code(KeyCode::Right)],
        "→",
        Action::CursorRight,
        "cursor right",
        NO_HINT,
    ),
    bind(
        FilterBar,
        &[code(KeyCode::Backspace)],
        "Backspace",
        Action::DeleteBack,
        "erase before the cursor (all of it while selected)",
        NO_HINT,
    ),
    bind(
        FilterBar,
        &[code(KeyCode::Delete)],
        "Delete",
        Action::DeleteForward,
        "erase under the cursor",
        NO_HINT,
    ),
    bind(
        FilterBar,
        &[ctrl('c')],
        "Ctrl-C",
        Action::Quit,
        "quit",
        NO_HINT,
    ),
];
/// The footer's hints in `mode`, in the table's order: the first key of each binding's label
/// and its hint word.
pub fn hints(mode: Mode) -> impl Iterator<Item = (&'static str, &'static str)> {
    BINDINGS.iter().filter_map(move |b| {
        let (_, hint) = b.hints.iter().find(|(m, _)| *m == mode)?;
        let first_key = b.label.split("  ").next().unwrap_or(b.label);
        Some((first_key, *hint))
    })
}

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
