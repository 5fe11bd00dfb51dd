//! `soak --coordinator … --lead`: opens no connection. It waits for the run's start, reads the
//! stream, keeps each worker's latest figures and timeline (`stats::run_view`), shows the whole
//! run and a row per worker every second (soak's live view on a terminal, `render::lead`'s plain
//! block without one or with `--no-live`), names a worker that goes silent, and at the end
//! merges the workers' final reports (or the last figures and timeline of those that were lost)
//! into one report, checked against the thresholds like any soak.
//!
//! Exit codes: those of soak (0, 1 threshold broken, 130 interrupted); 1 also when a worker
//! was lost (the report holds its last figures, but the run is not whole); 3 Redis unreachable
//! at the start or no worker ever reported; 6 barrier timeout (the missing slots named).

use super::publish::Entry;
use super::{Keys, barrier, cmd, connect, unix_ms};
use crate::cmd::soak::start_view;
use crate::config::soak::SoakConfig;
use crate::error::{Error, ErrorKind};
use crate::render::lead::{lost_line, panel, plain_block};
use crate::render::live::{FIGURE_LINES, terminal_size};
use crate::signals;
use crate::stats::run_view::RunView;
use crate::stats::soak_report::Report;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A worker silent this long is lost: three missed seconds.
pub const LOST_AFTER: Duration = Duration::from_secs(3);
/// How long one XREAD waits for entries: also the live view's slowest redraw.
const BLOCK_MS: u64 = 250;
/// Between attempts to reach a Redis that went away.
const RETRY: Duration = Duration::from_millis(500);
/// The live view's redraw, as soak's.
const LIVE_REFRESH: Duration = Duration::from_millis(250);
/// Entries per read: a few seconds of a large run.
const READ_COUNT: u64 = 256;
/// Warnings held while the live view has the terminal, printed when it is gone.
const NOTES_KEPT: usize = 64;

/// Where the lead's warnings go: stderr, or while the live view owns the terminal, its last
/// lines and stderr once the view is gone (a line printed under a full-screen view is lost).
struct Notes {
    /// Held lines, and whether the view shows them (a lost worker has its own line there).
    held: Vec<(String, bool)>,
    dropped: usize,
    holding: bool,
}

impl Notes {
    fn say(&mut self, line: String) {
        self.add(line, true);
    }

    /// A line the view already says in its own way: held for stderr only.
    fn say_after_view(&mut self, line: String) {
        self.add(line, false);
    }

    fn add(&mut self, line: String, show: bool) {
        if !self.holding {
            eprintln!("wsbeat: {line}");
        } else if self.held.len() < NOTES_KEPT {
            self.held.push((line, show));
        } else {
            self.dropped += 1;
        }
    }

    /// What the view shows, oldest first.
    fn shown(&self) -> Vec<String> {
        self.held
            .iter()
            .filter(|(_, show)| *show)
            .map(|(l, _)| l.clone())
            .collect()
    }

    /// After the view: what it held, on stderr.
    fn release(&mut self) {
        self.holding = false;
        for (l, _) in self.held.drain(..) {
            eprintln!("wsbeat: {l}");
        }
        if self.dropped > 0 {
            eprintln!("wsbeat: ({} more warning(s) not kept)", self.dropped);
        }
    }
}

pub async fn run(cfg: SoakConfig) -> anyhow::Result<ExitCode> {
    let Some(c) = cfg.coordinator.clone() else {
        return Err(Error::usage("--lead needs --coordinator").into());
    };
    let mut shutdown = signals::subscribe();
    let mut con = connect(&c).await?;
    eprintln!(
        "wsbeat: lead of run {} on {}: waiting for {} worker(s)",
        c.run_id, c.shown, c.workers
    );
    // The workers' barrier plus a margin: the last one may join just before its own timeout.
    let deadline = Instant::now() + c.barrier_timeout + Duration::from_secs(1);
    let start_ms = tokio::select! {
        s = barrier::wait_start(&c, &mut con, deadline) => s?,
        _ = shutdown.recv() => {
            eprintln!("wsbeat: interrupted before the run started");
            return Ok(ExitCode::from(ErrorKind::Interrupted.exit_code()));
        }
    };
    let start = Instant::now() + Duration::from_millis(start_ms.saturating_sub(unix_ms()));
    let keys = Keys::new(&c.run_id);
    let mut view = RunView::new(c.workers, start);
    let mut last_id = "0".to_string();
    let mut con = Some(con);
    let mut interrupted = false;
    let mut warned = false;
    let mut next_merge = Instant::now() + Duration::from_secs(1);
    let mut next_draw = next_merge;
    let mut figures = None;
    // The live view owns the terminal until it is dropped, before anything else is printed.
    let (quit_tx, mut quit_rx) = mpsc::unbounded_channel::<()>();
    let mut live = if cfg.live {
        start_view(
            format!("lead of run {} on {}", c.run_id, c.shown),
            &cfg,
            &quit_tx,
        )
    } else {
        None
    };
    let mut notes = Notes {
        held: Vec::new(),
        dropped: 0,
        holding: live.is_some(),
    };
    while !view.done() {
        let read = tokio::select! {
            r = read(&mut con, &c, &keys, &last_id) => r,
            _ = shutdown.recv() => { interrupted = true; break; }
            // `q`: the workers run on; the lead stops watching and reports what came so far.
            _ = quit_rx.recv() => { interrupted = true; break; }
        };
        let now = Instant::now();
        // Silence means something only once the stream is read up to now (a lead started late
        // reads a backlog first).
        let mut caught_up = false;
        match read {
            Ok(entries) => {
                caught_up = entries.len() < READ_COUNT as usize;
                if warned {
                    notes.say(format!("coordinator {} reachable again", c.shown));
                    warned = false;
                }
                for (id, e) in entries {
                    match e {
                        Some(e) => apply(&mut view, e, now, &mut notes),
                        // Another version's entry is skipped, not fatal.
                        None => notes.say(format!("warning: skipped an unreadable entry {id}")),
                    }
                    last_id = id;
                }
            }
            Err(why) => {
                if !warned {
                    notes.say(format!(
                        "warning: lost the coordinator {}: {}; retrying",
                        c.shown,
                        crate::error::escape_controls(&why, false)
                    ));
                    warned = true;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
        let silent = if caught_up || warned {
            view.mark_lost(Instant::now(), LOST_AFTER)
        } else {
            Vec::new()
        };
        for slot in silent {
            let w = &view.workers[slot];
            notes.say_after_view(lost_line(w.slot, &w.name, w.t));
        }
        let now = Instant::now();
        // The merge once a second (it decodes every worker's histograms); the view redrawn
        // more often, so that its clock, "last seen" and rates move smoothly.
        if now >= next_merge {
            next_merge += Duration::from_secs(1);
            if let Ok(Some(m)) = view.merged() {
                let i = view.interval(&m, now);
                if live.is_none() {
                    eprint!("{}", plain_block(&view, &m, &i, now, start, &c.run_id));
                }
                figures = Some((m, i));
            }
        }
        if let (Some((v, _)), Some((m, i))) = (&mut live, &figures)
            && now >= next_draw
        {
            next_draw = now + LIVE_REFRESH;
            if let Some(d) = run_duration(m) {
                v.set_duration(d);
            }
            let snap = view.snapshot(m, i, now.saturating_duration_since(start));
            let (_, height) = terminal_size();
            let rows = height.saturating_sub(FIGURE_LINES);
            let p = panel(&view, now, rows, cfg.color, &notes.shown());
            let _ = v.draw_with(&snap, false, Some(&p));
        }
    }
    drop(live);
    notes.release();
    let merged = view.report().map_err(|e| Error::new(ErrorKind::Io, e))?;
    let Some(mut report) = merged else {
        eprintln!(
            "wsbeat: error: no worker of run {} reported any figures",
            c.run_id
        );
        return Ok(ExitCode::from(ErrorKind::Connect.exit_code()));
    };
    report.stopped_early |= interrupted;
    let code = crate::cmd::soak::finish_report(&cfg, &mut report, interrupted)?;
    let lost: Vec<String> = report
        .workers
        .iter()
        .filter(|w| w.status != "finished")
        .map(|w| lost_line(w.slot, &w.name, w.last_seen))
        .collect();
    if !lost.is_empty() && code == ExitCode::SUCCESS {
        for l in &lost {
            eprintln!("wsbeat: error: the run is incomplete: {l}");
        }
        return Ok(ExitCode::from(ErrorKind::Check.exit_code()));
    }
    Ok(code)
}

/// The longest `-d` of the workers' configurations: the run's length for the progress bar.
fn run_duration(m: &Report) -> Option<Duration> {
    m.config
        .iter()
        .filter_map(|c| c.get("duration")?.as_f64())
        .filter(|d| d.is_finite() && *d >= 0.0)
        .reduce(f64::max)
        .map(Duration::from_secs_f64)
}

fn apply(view: &mut RunView, e: Entry, now: Instant, notes: &mut Notes) {
    match e {
        Entry::Tick {
            slot,
            name,
            t,
            open,
            cpu,
            rss,
            totals,
            timeline,
        } => {
            let had = view.workers.get(slot).is_some_and(|w| w.timeline.is_some());
            view.tick(
                slot,
                &name,
                t,
                open,
                cpu,
                rss,
                *totals,
                timeline.map(|b| *b),
                now,
            );
            if had && view.workers.get(slot).is_some_and(|w| w.timeline.is_none()) {
                notes.say(format!(
                    "warning: worker w{slot}'s timeline has a gap (an entry was trimmed or unreadable); the report will have no timeline unless it finishes"
                ));
            }
        }
        Entry::Final { slot, name, report } => view.finished(slot, &name, *report, now),
    }
}

/// The next entries after `last_id` (`None`: one we cannot read), waiting up to `BLOCK_MS`;
/// reconnects when it has to.
async fn read(
    con: &mut Option<MultiplexedConnection>,
    c: &crate::config::coordinator::Coordinator,
    keys: &Keys,
    last_id: &str,
) -> Result<Vec<(String, Option<Entry>)>, String> {
    if con.is_none() {
        *con = Some(connect(c).await.map_err(|e| e.message().to_string())?);
    }
    let Some(k) = con.as_mut() else {
        return Err("not connected".into());
    };
    let reply: Result<Option<StreamReadReply>, String> = cmd(
        k,
        redis::cmd("XREAD")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(BLOCK_MS)
            .arg("STREAMS")
            .arg(&keys.stream)
            .arg(last_id)
            .clone(),
    )
    .await;
    let reply = reply.inspect_err(|_| *con = None)?;
    let mut out = Vec::new();
    for key in reply.map(|r| r.keys).unwrap_or_default() {
        for sid in key.ids {
            // An entry we cannot read (another version's) is skipped, not fatal.
            let entry = sid
                .get::<String>("d")
                .and_then(|d| serde_json::from_str::<Entry>(&d).ok());
            out.push((sid.id, entry));
        }
    }
    Ok(out)
}
