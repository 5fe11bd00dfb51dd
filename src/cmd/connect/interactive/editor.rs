//! The line being typed: a buffer of chars with a cursor, emacs-style keys and a history.
//! No I/O here (the history file is read and written by the caller), so every key is testable.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key did, for the session loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// The line changed or the cursor moved: redraw the prompt.
    Redraw,
    /// Nothing changed (e.g. Left at the start of the line).
    Nothing,
    /// Enter: this line is done (already in the history).
    Submit(String),
    /// Ctrl-D on an empty line.
    Eof,
    /// Ctrl-C.
    Interrupt,
    /// Tab: the caller completes.
    Complete,
}

/// Session history with a browsing position. Consecutive duplicates are kept once.
#[derive(Debug, Default)]
pub struct History {
    entries: Vec<String>,
    /// `Some(i)` while browsing with Up/Down.
    pos: Option<usize>,
    /// What was typed before browsing started, restored by Down past the newest entry.
    draft: Vec<char>,
    limit: usize,
}

impl History {
    pub fn new(entries: Vec<String>, limit: usize) -> Self {
        let mut h = History {
            entries: Vec::new(),
            pos: None,
            draft: Vec::new(),
            limit: limit.max(1),
        };
        for e in entries {
            h.add(e);
        }
        h
    }

    /// Returns true when the entry was added (not a repeat of the last one, not empty).
    pub fn add(&mut self, line: String) -> bool {
        self.pos = None;
        if line.trim().is_empty() || self.entries.last() == Some(&line) {
            return false;
        }
        self.entries.push(line);
        if self.entries.len() > self.limit {
            let excess = self.entries.len() - self.limit;
            self.entries.drain(..excess);
        }
        true
    }

    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

#[derive(Debug, Default)]
pub struct Editor {
    buf: Vec<char>,
    cursor: usize,
    pub history: History,
}

impl Editor {
    pub fn new(history: History) -> Self {
        Editor {
            buf: Vec::new(),
            cursor: 0,
            history,
        }
    }

    pub fn line(&self) -> String {
        self.buf.iter().collect()
    }

    /// Cursor position in chars.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    pub fn chars(&self) -> &[char] {
        &self.buf
    }

    /// Replace the whole line (completion); the cursor goes to the end.
    pub fn set_line(&mut self, line: &str) {
        self.buf = line.chars().collect();
        self.cursor = self.buf.len();
    }

    /// Bracketed paste: inserted as it is, newlines included, so that Enter sends it as one
    /// message. `\r\n` and lone `\r` (what terminals paste) become `\n`.
    pub fn paste(&mut self, text: &str) -> Edit {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        for c in text.chars() {
            self.insert(c);
        }
        Edit::Redraw
    }

    fn insert(&mut self, c: char) {
        self.buf.insert(self.cursor, c);
        self.cursor += 1;
    }

    pub fn key(&mut self, key: KeyEvent) -> Edit {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Char('c') if ctrl => Edit::Interrupt,
            KeyCode::Char('d') if ctrl => {
                if self.buf.is_empty() {
                    Edit::Eof
                } else {
                    self.delete()
                }
            }
            KeyCode::Char('a') if ctrl => self.move_to(0),
            KeyCode::Char('e') if ctrl => self.move_to(self.buf.len()),
            KeyCode::Char('b') if ctrl => self.move_to(self.cursor.saturating_sub(1)),
            KeyCode::Char('f') if ctrl => self.move_to((self.cursor + 1).min(self.buf.len())),
            KeyCode::Char('u') if ctrl => {
                self.buf.drain(..self.cursor);
                self.move_to(0);
                Edit::Redraw
            }
            KeyCode::Char('k') if ctrl => {
                self.buf.truncate(self.cursor);
                Edit::Redraw
            }
            KeyCode::Char('w') if ctrl => self.delete_word_back(),
            KeyCode::Backspace if alt => self.delete_word_back(),
            KeyCode::Char('p') if ctrl => self.history_prev(),
            KeyCode::Char('n') if ctrl => self.history_next(),
            KeyCode::Char('j') | KeyCode::Char('m') if ctrl => self.submit(),
            KeyCode::Char(_) if ctrl || alt => Edit::Nothing,
            KeyCode::Char(c) => {
                self.insert(c);
                Edit::Redraw
            }
            KeyCode::Enter => self.submit(),
            KeyCode::Tab => Edit::Complete,
            KeyCode::Backspace => {
                if self.cursor == 0 {
                    return Edit::Nothing;
                }
                self.cursor -= 1;
                self.buf.remove(self.cursor);
                Edit::Redraw
            }
            KeyCode::Delete => self.delete(),
            KeyCode::Left => self.move_to(self.cursor.saturating_sub(1)),
            KeyCode::Right => self.move_to((self.cursor + 1).min(self.buf.len())),
            KeyCode::Home => self.move_to(0),
            KeyCode::End => self.move_to(self.buf.len()),
            KeyCode::Up => self.history_prev(),
            KeyCode::Down => self.history_next(),
            _ => Edit::Nothing,
        }
    }

    fn move_to(&mut self, pos: usize) -> Edit {
        if pos == self.cursor {
            return Edit::Nothing;
        }
        self.cursor = pos;
        Edit::Redraw
    }

    fn delete(&mut self) -> Edit {
        if self.cursor >= self.buf.len() {
            return Edit::Nothing;
        }
        self.buf.remove(self.cursor);
        Edit::Redraw
    }

    /// Ctrl-W: the word before the cursor and the spaces after it, as readline does.
    fn delete_word_back(&mut self) -> Edit {
        let mut start = self.cursor;
        while start > 0 && self.buf[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.buf[start - 1].is_whitespace() {
            start -= 1;
        }
        if start == self.cursor {
            return Edit::Nothing;
        }
        self.buf.drain(start..self.cursor);
        self.cursor = start;
        Edit::Redraw
    }

    fn submit(&mut self) -> Edit {
        let line = self.line();
        self.buf.clear();
        self.cursor = 0;
        self.history.add(line.clone());
        Edit::Submit(line)
    }

    fn history_prev(&mut self) -> Edit {
        let h = &mut self.history;
        let pos = match h.pos {
            None if h.entries.is_empty() => return Edit::Nothing,
            None => {
                h.draft = std::mem::take(&mut self.buf);
                h.entries.len() - 1
            }
            Some(0) => return Edit::Nothing,
            Some(p) => p - 1,
        };
        h.pos = Some(pos);
        let entry = h.entries[pos].clone();
        self.set_line(&entry);
        Edit::Redraw
    }

    fn history_next(&mut self) -> Edit {
        let h = &mut self.history;
        let Some(pos) = h.pos else {
            return Edit::Nothing;
        };
        if pos + 1 < h.entries.len() {
            h.pos = Some(pos + 1);
            let entry = h.entries[pos + 1].clone();
            self.set_line(&entry);
        } else {
            h.pos = None;
            self.buf = std::mem::take(&mut h.draft);
            self.cursor = self.buf.len();
        }
        Edit::Redraw
    }
}

/// History file lines: one entry a line, with `\` and newlines escaped so that a pasted
/// multi-line message stays one entry.
pub fn escape_history(line: &str) -> String {
    line.replace('\\', "\\\\").replace('\n', "\\n")
}

pub fn unescape_history(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }
    fn ctrl(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
    }
    fn typed(e: &mut Editor, s: &str) {
        for c in s.chars() {
            e.key(k(KeyCode::Char(c)));
        }
    }

    #[test]
    fn cursor_movement_and_deletion() {
        let mut e = Editor::default();
        typed(&mut e, "helo world");
        e.key(k(KeyCode::Home));
        for _ in 0..3 {
            e.key(k(KeyCode::Right));
        }
        typed(&mut e, "l");
        assert_eq!(e.line(), "hello world");
        assert_eq!(e.cursor(), 4);
        e.key(k(KeyCode::End));
        e.key(k(KeyCode::Backspace));
        assert_eq!(e.line(), "hello worl");
        e.key(ctrl('a'));
        e.key(k(KeyCode::Delete));
        assert_eq!(e.line(), "ello worl");
        e.key(ctrl('e'));
        assert_eq!(e.cursor(), 9);
        assert_eq!(e.key(k(KeyCode::Right)), Edit::Nothing);
    }

    #[test]
    fn kill_keys() {
        let mut e = Editor::default();
        typed(&mut e, "one two  three");
        e.key(ctrl('w'));
        assert_eq!(e.line(), "one two  ");
        e.key(ctrl('w'));
        assert_eq!(e.line(), "one ");
        e.key(ctrl('a'));
        e.key(k(KeyCode::Right));
        e.key(ctrl('k'));
        assert_eq!(e.line(), "o");
        typed(&mut e, "xy");
        e.key(k(KeyCode::Left));
        e.key(ctrl('u'));
        assert_eq!((e.line().as_str(), e.cursor()), ("y", 0));
    }

    #[test]
    fn history_browses_and_restores_the_draft() {
        let mut e = Editor::new(History::new(vec!["first".into()], 100));
        typed(&mut e, "second");
        assert_eq!(e.key(k(KeyCode::Enter)), Edit::Submit("second".into()));
        typed(&mut e, "dra");
        e.key(k(KeyCode::Up));
        assert_eq!(e.line(), "second");
        e.key(k(KeyCode::Up));
        assert_eq!(e.line(), "first");
        assert_eq!(e.key(k(KeyCode::Up)), Edit::Nothing);
        e.key(k(KeyCode::Down));
        e.key(k(KeyCode::Down));
        assert_eq!(e.line(), "dra");
        assert_eq!(e.history.entries(), ["first", "second"]);
    }

    #[test]
    fn ctrl_d_quits_only_on_an_empty_line() {
        let mut e = Editor::default();
        assert_eq!(e.key(ctrl('d')), Edit::Eof);
        typed(&mut e, "ab");
        e.key(k(KeyCode::Home));
        assert_eq!(e.key(ctrl('d')), Edit::Redraw);
        assert_eq!(e.line(), "b");
        assert_eq!(e.key(ctrl('c')), Edit::Interrupt);
    }

    #[test]
    fn paste_keeps_newlines_in_one_message() {
        let mut e = Editor::default();
        e.paste("line one\r\nline two");
        assert_eq!(
            e.key(k(KeyCode::Enter)),
            Edit::Submit("line one\nline two".into())
        );
    }

    #[test]
    fn history_file_escaping_round_trips() {
        for s in ["plain", "two\nlines", r"back\slash", "trailing\\"] {
            assert_eq!(unescape_history(&escape_history(s)), s);
        }
        assert!(!escape_history("a\nb").contains('\n'));
    }
}
