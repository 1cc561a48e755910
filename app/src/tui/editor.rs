//! The filter bar's line of text: a cursor, the usual shell editing keys, and a selection that
//! covers the text it opened with, so typing replaces the current filter instead of appending
//! to it.

use super::keys::Action;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineEditor {
    text: String,
    /// Cursor position in characters, 0..=len.
    cursor: usize,
    /// The whole text is selected: the next character or erase replaces it.
    selected: bool,
}

impl LineEditor {
    /// Opens on `text`, selected, the cursor at its end.
    pub fn selected(text: &str) -> Self {
        LineEditor {
            text: text.to_string(),
            cursor: text.chars().count(),
            selected: !text.is_empty(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn is_selected(&self) -> bool {
        self.selected
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    fn take_selection(&mut self) -> bool {
        if std::mem::take(&mut self.selected) {
            self.text.clear();
            self.cursor = 0;
            return true;
        }
        false
    }

    pub fn insert(&mut self, c: char) {
        self.take_selection();
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Applies an editing action; false for an action that is not about editing.
    pub fn edit(&mut self, action: Action) -> bool {
        let len = self.text.chars().count();
        match action {
            Action::ClearFilterText => {
                self.text.clear();
                self.cursor = 0;
                self.selected = false;
            }
            Action::DeleteBack => {
                if !self.take_selection() && self.cursor > 0 {
                    let at = self.byte_at(self.cursor - 1);
                    self.text.remove(at);
                    self.cursor -= 1;
                }
            }
            Action::DeleteForward => {
                if !self.take_selection() && self.cursor < len {
                    let at = self.byte_at(self.cursor);
                    self.text.remove(at);
                }
            }
            Action::DeleteWord => {
                if !self.take_selection() {
                    let before: Vec<char> = self.text.chars().take(self.cursor).collect();
                    let mut start = before.len();
                    while start > 0 && before[start - 1] == ' ' {
                        start -= 1;
                    }
                    while start > 0 && before[start - 1] != ' ' {
                        start -= 1;
                    }
                    let (from, to) = (self.byte_at(start), self.byte_at(self.cursor));
                    self.text.replace_range(from..to, "");
                    self.cursor = start;
                }
            }
            Action::CursorStart => {
                self.selected = false;
                self.cursor = 0;
            }
            Action::CursorEnd => {
                self.selected = false;
                self.cursor = len;
            }
            Action::CursorLeft => {
                self.selected = false;
                self.cursor = self.cursor.saturating_sub(1);
            }
            Action::CursorRight => {
                self.selected = false;
                self.cursor = (self.cursor + 1).min(len);
            }
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(editor: &mut LineEditor, text: &str) {
        text.chars().for_each(|c| editor.insert(c));
    }

    #[test]
    fn typing_replaces_the_text_it_opened_with() {
        let mut e = LineEditor::selected("port 80");
        typed(&mut e, "dport 9");
        assert_eq!(e.text(), "dport 9");
        // A cursor key keeps the text and edits it from there.
        let mut e = LineEditor::selected("port 80");
        e.edit(Action::CursorEnd);
        typed(&mut e, "80");
        assert_eq!(e.text(), "port 8080");
        // One backspace erases the selection, then one character each.
        let mut e = LineEditor::selected("port 80");
        e.edit(Action::DeleteBack);
        assert_eq!(e.text(), "");
        assert!(!LineEditor::selected("").is_selected());
    }

    #[test]
    fn shell_keys_edit_around_the_cursor() {
        let mut e = LineEditor::default();
        typed(&mut e, "dport 80 not status 5xx");
        e.edit(Action::DeleteWord);
        assert_eq!(e.text(), "dport 80 not status ");
        e.edit(Action::DeleteWord);
        assert_eq!(e.text(), "dport 80 not ");
        e.edit(Action::CursorStart);
        typed(&mut e, "é ");
        assert_eq!(e.text(), "é dport 80 not ");
        assert_eq!(e.cursor(), 2);
        e.edit(Action::DeleteForward);
        assert_eq!(e.text(), "é port 80 not ");
        e.edit(Action::CursorLeft);
        e.edit(Action::DeleteBack);
        assert_eq!(e.text(), " port 80 not ");
        e.edit(Action::CursorRight);
        e.edit(Action::DeleteBack);
        assert_eq!(e.text(), "port 80 not ");
        e.edit(Action::ClearFilterText);
        assert_eq!((e.text(), e.cursor()), ("", 0));
    }
}
