//! What the lead of `soak --coordinator` shows: a row per worker, the lost named above them,
//! as soak's live view `Panel` on a terminal, and as a plain block of lines every second
//! without one. The figures of the whole run are soak's own screen (`render::live`).

use crate::error::escape_controls;
use crate::render::live::Panel;
use crate::render::units;
use crate::stats::run_view::{Interval, RunView, Worker};
use crate::stats::soak_report::Report;
use colored::Colorize;
use std::fmt::Write;
use std::time::{Duration, Instant};

/// Columns of a worker row (78 wide with the header's, for an 80-column terminal).
const NAME: usize = 21;

fn state(w: &Worker) -> &'static str {
    if w.finished {
        "finished"
    } else if w.lost {
        "LOST"
    } else if w.figures.is_some() {
        "live"
    } else {
        "waiting"
    }
}

/// A name from the stream, made safe for a terminal and cut to its column, keeping the end
/// (the pid tells apart workers of one host).
fn name_cell(name: &str) -> String {
    let clean = escape_controls(name, false).into_owned();
    let n = clean.chars().count();
    if n <= NAME {
        clean
    } else {
        let tail: String = clean.chars().skip(n - (NAME - 1)).collect();
        format!("…{tail}")
    }
}

fn ago(d: Option<Duration>) -> String {
    match d {
        None => "-".into(),
        Some(d) if d < Duration::from_secs(10) => format!("{:.1}s ago", d.as_secs_f64()),
        Some(d) => format!("{}s ago", d.as_secs()),
    }
}

fn header() -> String {
    format!(
        "{:<7}{:<NAME$} {:<9}{:>7}{:>6}{:>10}{:>8} {:>9}",
        "worker", "name", "state", "open", "cpu", "rss", "errors", "last seen"
    )
}

/// One worker: state, open connections, CPU, RSS, errors, how long since it was heard from.
fn row(view: &RunView, w: &Worker, now: Instant) -> String {
    let errors = w.figures.as_ref().map_or(0, |f| f.errors.total());
    let seen = if w.figures.is_some() && !w.finished {
        view.silent_for(w.slot, now)
    } else {
        None
    };
    format!(
        "w{:<6}{:<NAME$} {:<9}{:>7}{:>6}{:>10}{:>8} {:>9}",
        w.slot,
        name_cell(&w.name),
        state(w),
        w.open,
        w.cpu.map_or("-".into(), |c| format!("{c:.0}%")),
        w.rss.map_or("-".into(), units::bytes),
        errors,
        ago(seen),
    )
}

/// The line that names a lost worker, in the view, on stderr and at the end.
pub fn lost_line(slot: usize, name: &str, last: Option<f64>) -> String {
    let who = if name.is_empty() {
        "(never reported)".to_string()
    } else {
        escape_controls(name, false).into_owned()
    };
    match last {
        Some(t) => format!(
            "worker w{slot} {who} lost: no figures since {t:.1} s into the run (it died or lost Redis); its last figures are kept"
        ),
        None => format!("worker w{slot} {who} lost: it never reported any figures"),
    }
}

/// The live view's panel in at most `max_rows` lines: the lost first (each named, whatever
/// the room), then the header and a row per worker; the rows that do not fit are counted.
/// `notes` are the latest warnings, shown last when there is room.
pub fn panel(
    view: &RunView,
    now: Instant,
    max_rows: usize,
    color: bool,
    notes: &[String],
) -> Panel {
    let red = |t: String| {
        if color { t.red().bold().to_string() } else { t }
    };
    let dim = |t: String| {
        if color { t.dimmed().to_string() } else { t }
    };
    let mut rows = Vec::new();
    for w in view.workers.iter().filter(|w| w.lost) {
        let since = w.t.map_or("never reported".into(), |t| {
            format!("silent since {t:.1} s")
        });
        rows.push(red(format!(
            "lost        w{} {}: {since}, last figures kept",
            w.slot,
            name_cell(&w.name)
        )));
    }
    let live = view
        .workers
        .iter()
        .filter(|w| !w.lost && !w.finished)
        .count();
    let finished = view.workers.iter().filter(|w| w.finished).count();
    rows.push(String::new());
    rows.push(format!(
        "workers     {live} live, {finished} finished, {} lost of {}",
        view.workers.len() - live - finished,
        view.workers.len()
    ));
    rows.push(dim(header()));
    // Room for the rows below what is already there, one line kept to say what was left out.
    let room = max_rows.saturating_sub(rows.len());
    let all = view.workers.len();
    let shown = if all <= room {
        all
    } else {
        room.saturating_sub(1)
    };
    for w in view.workers.iter().take(shown) {
        let r = row(view, w, now);
        rows.push(if w.lost { red(r) } else { r });
    }
    if shown < all && room > 0 {
        rows.push(dim(format!("… {} more worker(s)", all - shown)));
    }
    let left = max_rows.saturating_sub(rows.len());
    let from = notes.len().saturating_sub(left.min(2));
    if left > 2 {
        rows.extend(
            notes[from..]
                .iter()
                .map(|n| dim(format!("note        {n}"))),
        );
    }
    rows.truncate(max_rows);
    Panel {
        hint: "q or Ctrl-C: stop watching; the report holds what came so far".into(),
        rows,
    }
}

/// Without a terminal: the whole run in a line, then a row per worker, every second.
pub fn plain_block(
    view: &RunView,
    m: &Report,
    i: &Interval,
    now: Instant,
    start: Instant,
    run: &str,
) -> String {
    let ms = |d: Option<Duration>| d.map_or("-".into(), units::duration);
    let up = view
        .workers
        .iter()
        .filter(|w| !w.lost && !w.finished)
        .count();
    let open: u64 = view.workers.iter().map(|w| w.open).sum();
    let mut s = format!(
        "[{:>4}s] run {run}: {up}/{} workers live, open {open}/{} (peak {}), {:.0} sent/s, {:.0} received/s, echo p50 {} p99 {} (last second), lost {}, errors {}\n",
        now.saturating_duration_since(start).as_secs(),
        view.workers.len(),
        m.connections.target,
        m.connections.peak_open,
        i.sent_per_sec,
        i.received_per_sec,
        ms(i.p50),
        ms(i.p99),
        m.messages.lost(),
        m.errors.total(),
    );
    let _ = writeln!(s, "  {}", header());
    for w in &view.workers {
        let _ = writeln!(s, "  {}", row(view, w, now));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::live::screen_text;
    use crate::stats::soak_collector::{Ev, Stats};
    use crate::stats::soak_tracker::Echo;

    fn figures(conns: u64, echoes: u64) -> Report {
        let mut s = Stats::new(conns, Instant::now());
        for _ in 0..conns {
            s.apply(Ev::Opened {
                took: Duration::from_millis(1),
                reconnect: None,
            });
        }
        for i in 0..echoes {
            s.apply(Ev::Sent {
                replay: false,
                len: 10,
                wire: 16,
            });
            s.apply(Ev::Echo {
                rtt: Duration::from_micros(300 + i),
                order: Echo::InOrder,
                len: 10,
                wire: 12,
            });
        }
        let mut r = s.totals(vec![serde_json::json!({"duration": 20.0})], false);
        r.errors.add("refused", 1);
        r
    }

    /// Three workers: one live, one finished, one silent past the limit.
    fn run(t0: Instant) -> RunView {
        let mut v = RunView::new(3, t0);
        v.tick(
            0,
            "alpha:101",
            4.0,
            10,
            Some(12.0),
            Some(8 << 20),
            figures(10, 40),
            None,
            t0,
        );
        v.tick(
            1,
            "beta-with-a-very-long-host-name:4242",
            1.0,
            10,
            Some(30.0),
            Some(9 << 20),
            figures(10, 5),
            None,
            t0 - Duration::from_secs(4),
        );
        v.finished(2, "gamma:\x1b[31m303", figures(10, 50), t0);
        v.mark_lost(t0, Duration::from_secs(3));
        v
    }

    #[test]
    fn the_panel_names_the_lost_worker_and_has_a_row_per_worker() {
        let t0 = Instant::now();
        let v = run(t0);
        let p = panel(&v, t0 + Duration::from_millis(400), 20, false, &[]);
        let text = p.rows.join("\n");
        assert!(
            p.rows[0].starts_with("lost        w1 …-long-host-name:4242: silent since 1.0 s"),
            "{text}"
        );
        assert!(text.contains("1 live, 1 finished, 1 lost of 3"), "{text}");
        let row = |slot: &str| {
            p.rows
                .iter()
                .find(|r| r.starts_with(slot))
                .unwrap_or_else(|| panic!("no row {slot}: {text}"))
                .clone()
        };
        let w0 = row("w0 ");
        for cell in ["alpha:101", "live", "10", "12%", "8.0 MiB", "0.4s ago"] {
            assert!(w0.contains(cell), "{cell} in {w0}");
        }
        let w1 = row("w1 ");
        assert!(w1.contains("LOST") && w1.contains("4.4s ago"), "{w1}");
        assert!(w1.contains("…-long-host-name:4242 "), "the pid stays: {w1}");
        let w2 = row("w2 ");
        assert!(w2.contains("finished") && !w2.contains("ago"), "{w2}");
        // A name from the stream cannot drive the terminal.
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(p.rows.iter().all(|r| r.chars().count() <= 80), "{text}");
    }

    #[test]
    fn a_small_panel_keeps_the_lost_and_counts_the_rows_left_out() {
        let t0 = Instant::now();
        let v = run(t0);
        let notes = vec!["lost the coordinator".to_string()];
        let p = panel(&v, t0, 5, false, &notes);
        assert_eq!(p.rows.len(), 5, "{:#?}", p.rows);
        assert!(p.rows[0].contains("lost        w1 "), "{:#?}", p.rows);
        assert!(p.rows[4].contains("… 3 more worker(s)"), "{:#?}", p.rows);
        let roomy = panel(&v, t0, 40, false, &notes);
        assert!(
            roomy
                .rows
                .last()
                .unwrap()
                .contains("note        lost the coordinator")
        );
    }

    /// The lead's screen is soak's: the whole run's figures from the merge, then the panel.
    #[test]
    fn the_lead_screen_is_soaks_with_the_workers_in_place_of_memory() {
        let t0 = Instant::now();
        let mut v = run(t0);
        let m = v.merged().unwrap().unwrap();
        let i = v.interval(&m, t0);
        let snap = v.snapshot(&m, &i, Duration::from_secs(5));
        let p = panel(&v, t0, 14, false, &[]);
        let lines = screen_text(
            &snap,
            "lead of run r1",
            Duration::from_secs(20),
            (80, 24),
            &p,
        );
        let all = lines.join("\n");
        assert!(all.starts_with("wsbeat soak  lead of run r1"), "{all}");
        assert!(all.contains("stop watching"), "{all}");
        // Open: the live worker's (a finished one closed its connections, a lost one is gone).
        assert!(all.contains("10 / 30 open"), "{all}");
        assert!(all.contains(" 25%"), "{all}");
        assert!(all.contains("refused 3"), "{all}");
        assert!(!all.contains("memory"), "{all}");
        assert!(all.contains("lost        w1 "), "{all}");
        assert!(all.contains("w2 "), "{all}");
        assert!(lines.len() <= 24 && lines.iter().all(|l| l.chars().count() <= 80));
    }
}
