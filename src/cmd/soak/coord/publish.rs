//! A worker's side of the stream: every second its cumulative totals (the report without the
//! parts that grow with the run) plus open connections, CPU and RSS, and the points of its
//! timeline the lead does not have yet (so a worker lost mid-run keeps its timeline up to its
//! last second); at the end its whole report, the same that `--json` writes. Losing Redis mid-run costs the live view, never the
//! run: one warning, a retry every second, and the local report as always.

use super::{Keys, STREAM_MAXLEN, cmd, touch};
use crate::config::coordinator::Coordinator;
use crate::stats::soak_collector::Stats;
use crate::stats::soak_report::Report;
use crate::stats::timeline::TimelinePart;
use redis::aio::MultiplexedConnection;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One stream entry, as JSON in the field `d`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Tick {
        slot: usize,
        name: String,
        /// Seconds since the agreed start.
        t: f64,
        open: u64,
        /// Percent of one core over the last second.
        cpu: Option<f64>,
        rss: Option<u64>,
        totals: Box<Report>,
        /// The timeline from the first point not yet published (see `TimelinePart`); absent
        /// from entries of versions before it.
        #[serde(default)]
        timeline: Option<Box<TimelinePart>>,
    },
    Final {
        slot: usize,
        name: String,
        report: Box<Report>,
    },
}

impl Entry {
    pub fn slot(&self) -> usize {
        match self {
            Entry::Tick { slot, .. } | Entry::Final { slot, .. } => *slot,
        }
    }
}

pub struct Publisher {
    final_tx: oneshot::Sender<Report>,
    task: JoinHandle<()>,
}

/// How long the final report may take to reach Redis before the worker ends anyway.
const FINAL_TIMEOUT: Duration = Duration::from_secs(5);
/// Timeline points in one entry at most: after a Redis outage the missed points catch up a
/// few minutes a second, and no entry grows with the length of the outage.
const PART_POINTS: usize = 300;

impl Publisher {
    /// Starts publishing every second from now.
    pub fn spawn(
        c: Coordinator,
        con: MultiplexedConnection,
        slot: usize,
        name: String,
        stats: Arc<Mutex<Stats>>,
        config: serde_json::Value,
        start: Instant,
    ) -> Publisher {
        let (final_tx, final_rx) = oneshot::channel();
        let mut w = Writer {
            keys: Keys::new(&c.run_id),
            c,
            con: Some(con),
            warned: false,
        };
        let task = tokio::spawn(async move {
            let mut final_rx = final_rx;
            let mut cpu = CpuClock::new();
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            // (timeline points the stream has, at which resolution)
            let mut sent = (0usize, 1u64);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    report = &mut final_rx => {
                        if let Ok(report) = report {
                            let e = Entry::Final { slot, name: name.clone(), report: Box::new(report) };
                            let _ = w.add(&e).await;
                        }
                        return;
                    }
                    _ = tick.tick() => {
                        let (totals, open, part) = {
                            let mut s = stats.lock().unwrap_or_else(|p| p.into_inner());
                            let part = s.timeline_part(sent.0, sent.1, PART_POINTS);
                            (s.totals(vec![config.clone()], false), s.open, part)
                        };
                        // Sent only when Redis took it: the next entry starts where this one
                        // ended, or again from the same point.
                        let next = (part.finished, part.resolution);
                        let e = Entry::Tick {
                            slot,
                            name: name.clone(),
                            t: start.elapsed().as_secs_f64(),
                            open,
                            cpu: cpu.percent(),
                            rss: super::super::rss::rss_bytes(None),
                            totals: Box::new(totals),
                            timeline: Some(Box::new(part)),
                        };
                        if w.add(&e).await {
                            sent = next;
                        }
                    }
                }
            }
        });
        Publisher { final_tx, task }
    }

    /// Publishes the final report (bounded) and stops.
    pub async fn finish(self, report: &Report) {
        let _ = self.final_tx.send(report.clone());
        let _ = tokio::time::timeout(FINAL_TIMEOUT, self.task).await;
    }
}

struct Writer {
    c: Coordinator,
    keys: Keys,
    con: Option<MultiplexedConnection>,
    warned: bool,
}

impl Writer {
    /// Whether the entry is in the stream.
    async fn add(&mut self, e: &Entry) -> bool {
        let Ok(json) = serde_json::to_string(e) else {
            return false;
        };
        if self.con.is_none() {
            self.con = super::connect(&self.c).await.ok();
        }
        let Some(con) = &mut self.con else {
            self.warn("cannot reach it");
            return false;
        };
        let added: Result<String, String> = cmd(
            con,
            redis::cmd("XADD")
                .arg(&self.keys.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(STREAM_MAXLEN)
                .arg("*")
                .arg("d")
                .arg(json)
                .clone(),
        )
        .await;
        match added {
            Ok(_) => {
                touch(con, &self.keys.stream).await;
                if self.warned {
                    eprintln!("wsbeat: coordinator {} reachable again", self.c.shown);
                    self.warned = false;
                }
                true
            }
            Err(why) => {
                self.con = None;
                self.warn(&why);
                false
            }
        }
    }

    fn warn(&mut self, why: &str) {
        if !self.warned {
            eprintln!(
                "wsbeat: warning: lost the coordinator {}: {}; the run goes on and this worker's own report is complete",
                self.c.shown,
                crate::error::escape_controls(why, false)
            );
            self.warned = true;
        }
    }
}

/// This process's CPU time between two calls, as percent of one core (Linux `/proc`).
struct CpuClock {
    last: Option<(Instant, f64)>,
}

impl CpuClock {
    fn new() -> Self {
        CpuClock {
            last: cpu_seconds().map(|s| (Instant::now(), s)),
        }
    }

    fn percent(&mut self) -> Option<f64> {
        let now = (Instant::now(), cpu_seconds()?);
        let out = self.last.map(|(t, s)| {
            let wall = now.0.duration_since(t).as_secs_f64();
            if wall > 0.0 {
                100.0 * (now.1 - s) / wall
            } else {
                0.0
            }
        });
        self.last = Some(now);
        out
    }
}

/// utime + stime of this process, in seconds.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces and parentheses: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (hz > 0).then(|| ticks / hz as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_and_grows() {
        let a = cpu_seconds().expect("/proc/self/stat");
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        assert!(x > 0);
        assert!(cpu_seconds().unwrap() >= a);
    }
}
