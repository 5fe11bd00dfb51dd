//! The soak live view: a disposable full-screen status on a terminal (crossterm), or one plain
//! status line every few seconds without one. The view owns the terminal only while it
//! exists: dropping it (on every exit path, unwinding included) leaves the alternate screen,
//! shows the cursor and turns raw mode off again.

use crate::render::sparkline::{fit, sparkline};
use crate::render::units;
use crate::stats::soak_collector::{HISTORY_POINTS, Snapshot};
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

/// What a view of several processes (the lead of `soak --coordinator`) shows besides one run's
/// figures: its own key hint, and rows (a row per worker) in place of the one memory line.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    pub hint: String,
    pub rows: Vec<String>,
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
        self.draw_with(s, stopping, None)
    }

    /// The run's length, once known (the lead learns it from the workers' configurations).
    pub fn set_duration(&mut self, d: Duration) {
        self.duration = d;
    }

    /// `draw` with a `Panel` in place of the memory line.
    pub fn draw_with(
        &mut self,
        s: &Snapshot,
        stopping: bool,
        panel: Option<&Panel>,
    ) -> io::Result<()> {
        self.rates.update(s);
        let (width, height) = terminal_size();
        let lines = screen(
            s,
            &self.rates,
            &self.title,
            self.duration,
            stopping,
            (width, height),
            self.color,
            panel,
        );
        queue!(
            self.out,
            cursor::MoveTo(0, 0),
            terminal::Clear(terminal::ClearType::All)
        )?;
        // Raw mode: a newline does not return the carriage. None after the last line, which
        // would scroll a full screen by one.
        write!(self.out, "{}", lines.join("\r\n"))?;
        self.out.flush()
    }
}

impl Drop for LiveView {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// Columns and rows of the terminal (80×24 when it cannot say).
pub fn terminal_size() -> (usize, usize) {
    terminal::size()
        .map(|(w, h)| (w as usize, h as usize))
        .unwrap_or((80, 24))
}

/// The screen as `draw_with` would put it, without colour, rates or a terminal: what tests of
/// a view built on this one read.
pub fn screen_text(
    s: &Snapshot,
    title: &str,
    duration: Duration,
    size: (usize, usize),
    panel: &Panel,
) -> Vec<String> {
    screen(
        s,
        &Rates::default(),
        title,
        duration,
        false,
        size,
        false,
        Some(panel),
    )
}

/// Lines of `screen` above a panel's rows, and below them the history's room: what a panel
/// may take and still leave the last minute on screen when the terminal is tall enough.
pub const FIGURE_LINES: usize = 9;
pub const HISTORY_LINES: usize = 6;

/// Put the terminal back as we found it; safe to call more than once.
pub fn restore_terminal() {
    let mut err = io::stderr();
    let _ = execute!(err, terminal::LeaveAlternateScreen, cursor::Show);
    let _ = terminal::disable_raw_mode();
}

// One call, one screen: every argument is a part of what is drawn.
#[allow(clippy::too_many_arguments)]
fn screen(
    s: &Snapshot,
    r: &Rates,
    title: &str,
    duration: Duration,
    stopping: bool,
    (width, height): (usize, usize),
    color: bool,
    panel: Option<&Panel>,
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
    // The rest of the line takes 51 columns: the bar gets what is left of the width.
    let bar_w = width.saturating_sub(52).clamp(10, 50);
    let filled = ((frac * bar_w as f64).round() as usize).min(bar_w);
    let state = match panel {
        _ if stopping => "draining and closing…".to_string(),
        Some(p) => p.hint.clone(),
        None => "q or Ctrl-C: stop early and report".to_string(),
    };
    let dim = |t: &str| {
        if color {
            t.dimmed().to_string()
        } else {
            t.to_string()
        }
    };
    let mut lines = vec![
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
            "latency     last 5 s  p50 {}  p99 {}   heartbeat p99 {}",
            opt_ms(s.recent_p50),
            opt_ms(s.recent_p99),
            opt_ms(s.heartbeat_p99),
        ),
        format!(
            "            whole run p50 {}  p99 {}",
            opt_ms(s.p50),
            opt_ms(s.p99)
        ),
        format!("errors      {}", paint(errors_text(s), s.errors.is_empty())),
    ];
    match panel {
        Some(p) => lines.extend(p.rows.iter().cloned()),
        None => lines.push(format!(
            "memory      rss {}{}",
            s.rss.map_or_else(|| "-".into(), units::bytes),
            s.watched_rss
                .map(|b| format!("   watched process {}", units::bytes(b)))
                .unwrap_or_default()
        )),
    }
    // The last minute, when the terminal has room for it; a small one keeps the figures.
    let spark_w = width.saturating_sub(LABEL + 1 + NOW).min(HISTORY_POINTS);
    if spark_w >= 10 && height >= lines.len() + HISTORY_LINES {
        lines.push(String::new());
        lines.extend(history(s, spark_w, &dim));
    }
    lines.truncate(height);
    lines.iter().map(|l| fit(l, width)).collect()
}

/// Width of the row names, and room kept for the newest value after a sparkline.
const LABEL: usize = 11;
const NOW: usize = 8;

/// One sparkline a row: messages received per second, echo p99, open connections, errors.
fn history(s: &Snapshot, w: usize, dim: &dyn Fn(&str) -> String) -> Vec<String> {
    let res = s.history_resolution.max(1) as f64;
    let points = &s.history;
    let row = |name: &str, values: Vec<Option<f64>>, now: String| {
        format!("{name:<LABEL$}{} {now}", sparkline(&values, w))
    };
    let last = points.last();
    let received: Vec<Option<f64>> = points
        .iter()
        .map(|p| Some(p.received as f64 / res))
        .collect();
    let p99: Vec<Option<f64>> = points.iter().map(|p| p.p99).collect();
    let open: Vec<Option<f64>> = points.iter().map(|p| Some(p.open as f64)).collect();
    let errors: Vec<Option<f64>> = points
        .iter()
        .map(|p| Some(p.error_total() as f64))
        .collect();
    let span = points.len().min(w) as u64 * s.history_resolution.max(1);
    vec![
        dim(&format!(
            "last {span} s, one column per {} s",
            s.history_resolution.max(1)
        )),
        row(
            "received/s",
            received,
            last.map_or("-".into(), |p| format!("{:.0}", p.received as f64 / res)),
        ),
        row(
            "p99",
            p99,
            opt_ms(last.and_then(|p| p.p99).map(Duration::from_secs_f64)),
        ),
        row(
            "open",
            open,
            last.map_or("-".into(), |p| p.open.to_string()),
        ),
        row(
            "errors",
            errors,
            last.map_or("-".into(), |p| p.error_total().to_string()),
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
                // A read that fails after a poll said ready is a terminal that is gone (its
                // pty closed without a SIGHUP): no key will come, and polling again would
                // spin a core.
                let Ok(ev) = event::read() else {
                    break;
                };
                let Event::Key(k) = ev else {
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
            history: (0..90u64)
                .map(|i| crate::stats::timeline::TimePoint {
                    t: i,
                    open: 10,
                    received: i,
                    p99: Some(0.001),
                    ..Default::default()
                })
                .collect(),
            history_resolution: 1,
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
            (80, 24),
            false,
            None,
        );
        let all = lines.join("\n");
        assert!(all.contains(" 50%"), "{all}");
        assert!(all.contains("refused 2"), "{all}");
        assert!(all.contains("10 / 10 open"), "{all}");
    }

    #[test]
    fn the_last_minute_fits_80_by_24_and_goes_first_when_smaller() {
        let draw = |w, h| {
            screen(
                &snap(5, 10),
                &Rates::default(),
                "ws://x/",
                Duration::from_secs(10),
                false,
                (w, h),
                true,
                None,
            )
        };
        let full = draw(80, 24);
        assert!(full.len() <= 24);
        let visible = |l: &String| {
            let mut n = 0;
            let mut esc = false;
            for c in l.chars() {
                match (esc, c) {
                    (false, '\x1b') => esc = true,
                    (true, c) if c.is_ascii_alphabetic() => esc = false,
                    (false, _) => n += 1,
                    _ => {}
                }
            }
            n
        };
        assert!(full.iter().all(|l| visible(l) <= 80), "{full:#?}");
        let spark = full.iter().find(|l| l.starts_with("received/s")).unwrap();
        assert!(spark.contains('█') && spark.ends_with(" 89"), "{spark}");
        assert!(full.iter().any(|l| l.contains("last 60 s")), "{full:#?}");
        assert!(
            full.iter()
                .any(|l| l.starts_with("p99") && l.contains("1.00 ms"))
        );
        let small = draw(60, 12);
        assert!(
            small.len() <= 12 && !small.iter().any(|l| l.contains('█')),
            "{small:#?}"
        );
        assert!(small.iter().any(|l| l.contains("10 / 10 open")));
        // What a panel's room is counted from: the memory line comes after these.
        assert!(full[FIGURE_LINES].starts_with("memory"), "{full:#?}");
        let tiny = draw(20, 4);
        assert_eq!(tiny.len(), 4);
        assert!(tiny.iter().all(|l| visible(l) <= 20), "{tiny:#?}");
    }
}
