//! The soak live view: a disposable full-screen status on a terminal (crossterm), or one plain
//! status line every few seconds without one. The view owns the terminal only while it
//! exists: dropping it (on every exit path, unwinding included) leaves the alternate screen,
//! shows the cursor and turns raw mode off again.

use crate::render::units;
use crate::stats::soak_collector::Snapshot;
use colored::Colorize;
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use crossterm::{cursor, execute, queue, terminal};
use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Per-second rates from two snapshots at least a second apart.
#[derive(Debug, Default)]
struct Rates {
    prev: Option<Snapshot>,
    connects: f64,
    reconnects: f64,
    sent: f64,
    received: f64,
}

impl Rates {
    fn update(&mut self, s: &Snapshot) {
        // The first rates are counted from the start of the run, when everything was zero.
        let p = self.prev.get_or_insert_with(|| Snapshot {
            elapsed: Duration::ZERO,
            opened: 0,
            reconnects: 0,
            sent: 0,
            received: 0,
            ..s.clone()
        });
        let dt = s.elapsed.saturating_sub(p.elapsed).as_secs_f64();
        if dt < 1.0 {
            return;
        }
        let per = |a: u64, b: u64| a.saturating_sub(b) as f64 / dt;
        self.connects = per(s.opened, p.opened);
        self.reconnects = per(s.reconnects, p.reconnects);
        self.sent = per(s.sent, p.sent);
        self.received = per(s.received, p.received);
        self.prev = Some(s.clone());
    }
}

fn opt_ms(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_string(), units::duration)
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

fn errors_text(s: &Snapshot) -> String {
    if s.errors.is_empty() {
        return "none".into();
    }
    s.errors
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join("  ")
}

pub struct LiveView {
    out: io::Stderr,
    title: String,
    duration: Duration,
    color: bool,
    rates: Rates,
}

impl LiveView {
    /// Take over the terminal (stderr): raw mode for single keys, the alternate screen so the
    /// user's scrollback is untouched.
    pub fn start(title: String, duration: Duration, color: bool) -> io::Result<LiveView> {
        terminal::enable_raw_mode()?;
        let mut out = io::stderr();
        if let Err(e) = execute!(out, terminal::EnterAlternateScreen, cursor::Hide) {
            restore_terminal();
            return Err(e);
        }
        Ok(LiveView {
            out,
            title,
            duration,
            color,
            rates: Rates::default(),
        })
    }

    pub fn draw(&mut self, s: &Snapshot, stopping: bool) -> io::Result<()> {
        self.rates.update(s);
        let width = terminal::size().map(|(w, _)| w as usize).unwrap_or(80);
        let lines = screen(
            s,
            &self.rates,
            &self.title,
            self.duration,
            stopping,
            width,
            self.color,
        );
        queue!(
            self.out,
            cursor::MoveTo(0, 0),
            terminal::Clear(terminal::ClearType::All)
        )?;
        for l in lines {
            // Raw mode: a newline does not return the carriage.
            write!(self.out, "{l}\r\n")?;
        }
        self.out.flush()
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Put the terminal back as we found it; safe to call more than once.
pub fn restore_terminal() {
    let mut err = io::stderr();
    let _ = execute!(err, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

fn screen(
    s: &Snapshot,
    r: &Rates,
    title: &str,
    duration: Duration,
    stopping: bool,
    width: usize,
    color: bool,
) -> Vec<String> {
    let paint = |t: String, good: bool| -> String {
        if !color {
            t
        } else if good {
            t.green().to_string()
        } else {
            t.red().bold().to_string()
        }
    };
    let elapsed = s.elapsed.min(duration);
    let frac = if duration.is_zero() {
        1.0
    } else {
        elapsed.as_secs_f64() / duration.as_secs_f64()
    };
    let bar_w = width.saturating_sub(40).clamp(10, 50);
    let filled = ((frac * bar_w as f64).round() as usize).min(bar_w);
    let state = if stopping {
        "draining and closing…".to_string()
    } else {
        "q or Ctrl-C: stop early and report".to_string()
    };
    let dim = |t: &str| {
        if color {
            t.dimmed().to_string()
        } else {
            t.to_string()
        }
    };
    vec![
        format!("wsbeat soak  {title}"),
        dim(&state),
        String::new(),
        format!(
            "elapsed     {} / {}  [{}{}] {:>3.0}%  remaining {}",
            clock(elapsed),
            clock(duration),
            "#".repeat(filled),
            "-".repeat(bar_w - filled),
            frac * 100.0,
            clock(duration.saturating_sub(elapsed)),
        ),
        format!(
            "connections {} / {} open   {:.1} connects/s   {:.1} reconnects/s   {} reconnects",
            paint(s.open.to_string(), s.open >= s.target),
            s.target,
            r.connects,
            r.reconnects,
            s.reconnects,
        ),
        format!(
            "messages    {:.0} sent/s   {:.0} received/s   {} sent   lost {}",
            r.sent,
            r.received,
            s.sent,
            paint(s.lost.to_string(), s.lost == 0),
        ),
        format!(
            "latency     last 5 s p50 {}  p99 {}   overall p50 {}  p99 {}   heartbeat p99 {}",
            opt_ms(s.recent_p50),
            opt_ms(s.recent_p99),
            opt_ms(s.p50),
            opt_ms(s.p99),
            opt_ms(s.heartbeat_p99),
        ),
        format!("errors      {}", paint(errors_text(s), s.errors.is_empty())),
        format!(
            "memory      rss {}{}",
            s.rss.map_or_else(|| "-".into(), units::bytes),
            s.watched_rss
                .map(|b| format!("   watched process {}", units::bytes(b)))
                .unwrap_or_default()
        ),
    ]
}

/// Without a terminal: one line every few seconds on stderr, never torn.
pub struct StatusLine {
    duration: Duration,
    rates: Rates,
}

impl StatusLine {
    pub fn new(duration: Duration) -> Self {
        StatusLine {
            duration,
            rates: Rates::default(),
        }
    }

    pub fn line(&mut self, s: &Snapshot) -> String {
        self.rates.update(s);
        let r = &self.rates;
        format!(
            "wsbeat soak: {}/{} open {}/{} connects/s {:.1} reconnects/s {:.1} sent/s {:.0} received/s {:.0} p50 {} p99 {} lost {} errors {} rss {}",
            clock(s.elapsed.min(self.duration)),
            clock(self.duration),
            s.open,
            s.target,
            r.connects,
            r.reconnects,
            r.sent,
            r.received,
            opt_ms(s.p50),
            opt_ms(s.p99),
            s.lost,
            s.errors.iter().map(|(_, v)| v).sum::<u64>(),
            s.rss.map_or_else(|| "-".into(), units::bytes),
        )
    }

    pub fn print(&mut self, s: &Snapshot) {
        let line = self.line(s) + "\n";
        // One write call per line, so lines from other threads cannot tear it.
        let _ = io::stderr().lock().write_all(line.as_bytes());
    }
}

/// Reads keys on its own thread while the live view is up: `q`/Esc and Ctrl-C (which raw
/// mode delivers as a key, not a signal).
pub struct KeyReader {
    done: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KeyReader {
    pub fn spawn(
        on_quit: impl Fn() + Send + 'static,
        on_interrupt: impl Fn() + Send + 'static,
    ) -> KeyReader {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match event::poll(Duration::from_millis(100)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => break,
                }
                let Ok(Event::Key(k)) = event::read() else {
                    continue;
                };
                if k.kind != KeyEventKind::Press {
                    continue;
                }
                match k.code {
                    KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => {
                        on_interrupt()
                    }
                    KeyCode::Char('q') | KeyCode::Char('Q') | KeyCode::Esc => on_quit(),
                    _ => {}
                }
            }
        });
        KeyReader {
            done,
            thread: Some(thread),
        }
    }
}

impl Drop for KeyReader {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(secs: u64, sent: u64) -> Snapshot {
        Snapshot {
            elapsed: Duration::from_secs(secs),
            target: 10,
            open: 10,
            opened: 10,
            reconnects: 0,
            sent,
            received: sent,
            lost: 0,
            recent_p50: Some(Duration::from_micros(200)),
            recent_p99: None,
            p50: Some(Duration::from_micros(200)),
            p99: Some(Duration::from_micros(900)),
            heartbeat_p99: None,
            errors: vec![("refused".into(), 2)],
            rss: Some(4 << 20),
            watched_rss: None,
        }
    }

    #[test]
    fn status_line_has_rates_and_totals() {
        let mut st = StatusLine::new(Duration::from_secs(10));
        st.line(&snap(2, 0));
        let l = st.line(&snap(4, 200));
        let mut first = StatusLine::new(Duration::from_secs(10));
        assert!(first.line(&snap(2, 100)).contains("sent/s 50"));
        assert!(l.contains("00:04/00:10"), "{l}");
        assert!(l.contains("sent/s 100"), "{l}");
        assert!(l.contains("errors 2"), "{l}");
        assert!(l.contains("4.0 MiB"), "{l}");
    }

    #[test]
    fn screen_shows_progress_and_errors() {
        let lines = screen(
            &snap(5, 10),
            &Rates::default(),
            "ws://x/",
            Duration::from_secs(10),
            false,
            80,
            false,
        );
        let all = lines.join("\n");
        assert!(all.contains(" 50%"), "{all}");
        assert!(all.contains("refused 2"), "{all}");
        assert!(all.contains("10 / 10 open"), "{all}");
    }
}
