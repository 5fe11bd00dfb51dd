//! The terminal: raw mode behind a guard that always restores it, and a one-line prompt that
//! output is printed above without tearing what is being typed.

use crossterm::cursor::{MoveToColumn, Show};
use crossterm::event::{DisableBracketedPaste, EnableBracketedPaste};
use crossterm::terminal::{self, Clear, ClearType};
use crossterm::{execute, queue};
use std::io::{self, Write};
use std::sync::Once;

/// Raw mode and bracketed paste for as long as it lives. Dropping it restores the terminal,
/// and a panic hook installed first does the same before the panic message prints, so the
/// shell is usable after every exit path.
pub struct TerminalGuard(());

impl TerminalGuard {
    pub fn enter() -> io::Result<Self> {
        install_panic_hook();
        terminal::enable_raw_mode()?;
        let guard = TerminalGuard(());
        execute!(io::stdout(), EnableBracketedPaste)?;
        Ok(guard)
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore();
    }
}

/// Undo everything `enter` did; safe to call more than once.
pub fn restore() {
    let _ = execute!(io::stdout(), DisableBracketedPaste, Show);
    let _ = terminal::disable_raw_mode();
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            // Raw mode is off now, but the cursor may sit mid-line after the prompt.
            let _ = io::stderr().write_all(b"\r\n");
            previous(info);
        }));
    });
}

/// The prompt and the line being typed, as last drawn; output goes above them.
pub struct Screen {
    prompt: String,
    /// Prompt width in columns (it may carry colour codes).
    prompt_width: usize,
    input: Vec<char>,
    cursor: usize,
    /// First char shown when the line is wider than the terminal.
    scroll: usize,
    width: usize,
    /// The prompt is on screen (raw mode); before and after, output is plain lines.
    active: bool,
}

impl Screen {
    pub fn new(width: u16) -> Self {
        Screen {
            prompt: String::new(),
            prompt_width: 0,
            input: Vec::new(),
            cursor: 0,
            scroll: 0,
            width: usize::from(width).max(20),
            active: false,
        }
    }

    pub fn set_width(&mut self, width: u16) {
        self.width = usize::from(width).max(20);
    }

    /// `styled` may hold colour codes; `width` is what it takes on screen.
    pub fn set_prompt(&mut self, styled: String, width: usize) {
        self.prompt = styled;
        self.prompt_width = width;
    }

    pub fn set_input(&mut self, input: &[char], cursor: usize) {
        self.input = input.to_vec();
        self.cursor = cursor.min(self.input.len());
    }

    pub fn activate(&mut self) -> io::Result<()> {
        self.active = true;
        self.redraw()
    }

    /// Take the prompt off the screen for good (the session is over).
    pub fn deactivate(&mut self) -> io::Result<()> {
        if !self.active {
            return Ok(());
        }
        self.active = false;
        let mut buf = Vec::new();
        queue!(buf, MoveToColumn(0), Clear(ClearType::CurrentLine))?;
        write_all(&buf)
    }

    /// Print `text` (one or more lines) above the prompt: clear the prompt line, print, draw
    /// the prompt and the half-typed line again with the cursor where it was. One write, so
    /// nothing else lands between the pieces.
    pub fn print_above(&mut self, text: &str) -> io::Result<()> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        let mut buf = Vec::new();
        if self.active {
            queue!(buf, MoveToColumn(0), Clear(ClearType::CurrentLine))?;
            for line in text.split('\n') {
                // Raw mode: a line feed does not return the carriage.
                buf.extend_from_slice(line.trim_end_matches('\r').as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            self.queue_prompt(&mut buf)?;
        } else {
            buf.extend_from_slice(text.as_bytes());
            buf.push(b'\n');
        }
        write_all(&buf)
    }

    pub fn redraw(&mut self) -> io::Result<()> {
        if !self.active {
            return Ok(());
        }
        let mut buf = Vec::new();
        queue!(buf, MoveToColumn(0), Clear(ClearType::CurrentLine))?;
        self.queue_prompt(&mut buf)?;
        write_all(&buf)
    }

    fn queue_prompt(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        // One row only: a line wider than the terminal scrolls sideways to keep the cursor in
        // view, so redrawing never has to know how many rows the line took.
        let avail = self.width.saturating_sub(self.prompt_width + 1).max(8);
        if self.cursor < self.scroll {
            self.scroll = self.cursor;
        } else if self.cursor >= self.scroll + avail {
            self.scroll = self.cursor + 1 - avail;
        }
        self.scroll = self.scroll.min(self.input.len());
        let end = (self.scroll + avail).min(self.input.len());
        let shown: String = self.input[self.scroll..end]
            .iter()
            .map(|&c| visible(c))
            .collect();
        buf.extend_from_slice(self.prompt.as_bytes());
        buf.extend_from_slice(shown.as_bytes());
        let col = self.prompt_width + self.cursor - self.scroll;
        queue!(buf, MoveToColumn(u16::try_from(col).unwrap_or(u16::MAX)))?;
        Ok(())
    }
}

/// How a char of the typed line is shown: a pasted newline as `↵`, other control characters
/// as `?`, so that the prompt stays one row and the cursor column stays right.
fn visible(c: char) -> char {
    match c {
        '\n' => '↵',
        '\t' => ' ',
        c if c.is_control() => '?',
        c => c,
    }
}

fn write_all(buf: &[u8]) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(buf)?;
    out.flush()
}
