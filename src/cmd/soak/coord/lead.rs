//! `soak --coordinator … --lead`: opens no connection. It waits for the run's start, reads the
//! stream, keeps each worker's latest figures (`stats::run_view`), shows the whole run and a row
//! per worker every second, names a worker that goes silent, and at the end merges the workers'
//! final reports (or the last figures of those that were lost) into one report, checked against
//! the thresholds like any soak.
//!
//! Exit codes: those of soak (0, 1 threshold broken, 130 interrupted); 1 also when a worker
//! was lost (the report holds its last figures, but the run is not whole); 3 Redis unreachable
//! at the start or no worker ever reported; 6 barrier timeout (the missing slots named).

use super::publish::Entry;
use super::{Keys, barrier, cmd, connect, unix_ms};
use crate::config::soak::SoakConfig;
use crate::error::{Error, ErrorKind};
use crate::render::units;
use crate::signals;
use crate::stats::run_view::{Interval, RunView};
use crate::stats::soak_report::Report;
use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;
use std::fmt::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// A worker silent this long is lost: three missed seconds.
pub const LOST_AFTER: Duration = Duration::from_secs(3);
/// How long one XREAD waits for entries.
const BLOCK_MS: u64 = 500;
/// Entries per read: a few seconds of a large run.
const READ_COUNT: u64 = 256;

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
    let mut next_draw = Instant::now() + Duration::from_secs(1);
    let mut lost_named = Vec::new();
    while !view.done() {
        let read = tokio::select! {
            r = read(&mut con, &c, &keys, &last_id) => r,
            _ = shutdown.recv() => { interrupted = true; break; }
        };
        let now = Instant::now();
        // Silence means something only once the stream is read up to now (a lead started late
        // reads a backlog first).
        let mut caught_up = false;
        match read {
            Ok(entries) => {
                caught_up = entries.len() < READ_COUNT as usize;
                if warned {
                    eprintln!("wsbeat: coordinator {} reachable again", c.shown);
                    warned = false;
                }
                for (id, e) in entries {
                    last_id = id;
                    apply(&mut view, e, now);
                }
            }
            Err(why) => {
                if !warned {
                    eprintln!(
                        "wsbeat: warning: lost the coordinator {}: {}; retrying",
                        c.shown,
                        crate::error::escape_controls(&why, false)
                    );
                    warned = true;
                }
                tokio::time::sleep(Duration::from_millis(BLOCK_MS)).await;
            }
        }
        let silent = if caught_up || warned {
            view.mark_lost(Instant::now(), LOST_AFTER)
        } else {
            Vec::new()
        };
        for slot in silent {
            let w = &view.workers[slot];
            eprintln!("wsbeat: {}", lost_line(w.slot, &w.name, w.t));
            lost_named.push(slot);
        }
        if Instant::now() >= next_draw {
            next_draw += Duration::from_secs(1);
            if let Ok(Some(m)) = view.merged() {
                let i = view.interval(&m, Instant::now());
                eprint!("{}", live_block(&view, &m, &i, start, &c.run_id));
            }
        }
    }
    let merged = view.merged().map_err(|e| Error::new(ErrorKind::Io, e))?;
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

fn lost_line(slot: usize, name: &str, last: Option<f64>) -> String {
    let who = if name.is_empty() {
        "(never reported)"
    } else {
        name
    };
    match last {
        Some(t) => format!(
            "worker w{slot} {who} lost: no figures since {t:.1} s into the run (it died or lost Redis); its last figures are kept"
        ),
        None => format!("worker w{slot} {who} lost: it never reported any figures"),
    }
}

fn apply(view: &mut RunView, e: Entry, now: Instant) {
    match e {
        Entry::Tick {
            slot,
            name,
            t,
            open,
            cpu,
            rss,
            totals,
        } => view.tick(slot, &name, t, open, cpu, rss, *totals, now),
        Entry::Final { slot, name, report } => view.finished(slot, &name, *report, now),
    }
}

/// The next entries after `last_id`, waiting up to `BLOCK_MS`; reconnects when it has to.
async fn read(
    con: &mut Option<MultiplexedConnection>,
    c: &crate::config::coordinator::Coordinator,
    keys: &Keys,
    last_id: &str,
) -> Result<Vec<(String, Entry)>, String> {
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
            match entry {
                Some(e) => out.push((sid.id, e)),
                None => eprintln!("wsbeat: warning: skipped an unreadable entry {}", sid.id),
            }
        }
    }
    Ok(out)
}

fn live_block(view: &RunView, m: &Report, i: &Interval, start: Instant, run: &str) -> String {
    let ms = |d: Option<Duration>| d.map_or("-".into(), units::duration);
    let up = view
        .workers
        .iter()
        .filter(|w| !w.lost && !w.finished)
        .count();
    let open: u64 = view.workers.iter().map(|w| w.open).sum();
    let mut s = format!(
        "[{:>4}s] run {run}: {up}/{} workers live, open {open}/{} (peak {}), {:.0} sent/s, {:.0} received/s, echo p50 {} p99 {} (last second), lost {}, errors {}\n",
        Instant::now().saturating_duration_since(start).as_secs(),
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
    for w in &view.workers {
        let state = if w.finished {
            "finished"
        } else if w.lost {
            "LOST"
        } else if w.figures.is_some() {
            "live"
        } else {
            "waiting"
        };
        let errors = w.figures.as_ref().map_or(0, |f| f.errors.total());
        let _ = writeln!(
            s,
            "  w{:<3} {:<24} {state:<8} open {:>7}  cpu {:>5}  rss {:>9}  errors {errors}",
            w.slot,
            w.name,
            w.open,
            w.cpu.map_or("-".into(), |c| format!("{c:.0}%")),
            w.rss.map_or("-".into(), units::bytes),
        );
    }
    s
}
