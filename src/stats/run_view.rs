//! The lead's picture of a coordinated run: each worker's latest cumulative totals (or its final
//! report), when it was last heard from, and the whole as one merge of those, with the same
//! `Report::merge` as `soak --merge`, so the live figures and the end report add up the same way.

use super::serial::SerialHistogram;
use super::soak_report::{Report, WorkerStatus};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Worker {
    pub slot: usize,
    pub name: String,
    /// Latest totals, or the final report once `finished`.
    pub figures: Option<Report>,
    pub finished: bool,
    /// Set when it stopped publishing: its last figures stay counted.
    pub lost: bool,
    pub open: u64,
    pub cpu: Option<f64>,
    pub rss: Option<u64>,
    /// Seconds into the run of its last figures.
    pub t: Option<f64>,
    heard: Instant,
}

#[derive(Debug)]
pub struct RunView {
    pub workers: Vec<Worker>,
    /// The merged echo histogram and counters at the previous `interval` call.
    prev: Option<(Instant, u64, u64, SerialHistogram)>,
}

/// What changed since the previous call, for the live view's rates.
#[derive(Debug, Clone, Default)]
pub struct Interval {
    pub sent_per_sec: f64,
    pub received_per_sec: f64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
}

impl RunView {
    /// `workers` slots, none heard from yet; silence counts from `since` (the agreed start).
    pub fn new(workers: usize, since: Instant) -> Self {
        RunView {
            workers: (0..workers)
                .map(|slot| Worker {
                    slot,
                    name: String::new(),
                    figures: None,
                    finished: false,
                    lost: false,
                    open: 0,
                    cpu: None,
                    rss: None,
                    t: None,
                    heard: since,
                })
                .collect(),
            prev: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn tick(
        &mut self,
        slot: usize,
        name: &str,
        t: f64,
        open: u64,
        cpu: Option<f64>,
        rss: Option<u64>,
        totals: Report,
        now: Instant,
    ) {
        let Some(w) = self.workers.get_mut(slot) else {
            return;
        };
        // A tick read after the final (entries are in order, but be safe) changes nothing.
        if w.finished || w.t.is_some_and(|prev| prev > t) {
            return;
        }
        w.name = name.to_string();
        w.figures = Some(totals);
        w.open = open;
        w.cpu = cpu;
        w.rss = rss;
        w.t = Some(t);
        w.heard = now;
        w.lost = false;
    }

    pub fn finished(&mut self, slot: usize, name: &str, report: Report, now: Instant) {
        let Some(w) = self.workers.get_mut(slot) else {
            return;
        };
        w.name = name.to_string();
        w.open = report.connections.open_at_end;
        w.t = Some(report.elapsed);
        w.figures = Some(report);
        w.finished = true;
        w.lost = false;
        w.heard = now;
    }

    /// Marks the workers silent for `after` as lost; returns the newly lost.
    pub fn mark_lost(&mut self, now: Instant, after: Duration) -> Vec<usize> {
        let mut out = Vec::new();
        for w in &mut self.workers {
            if !w.finished && !w.lost && now.duration_since(w.heard) >= after {
                w.lost = true;
                out.push(w.slot);
            }
        }
        out
    }

    /// Every worker has its final report in, or was lost.
    pub fn done(&self) -> bool {
        self.workers.iter().all(|w| w.finished || w.lost)
    }

    /// The merge of every worker's latest figures; `None` before any.
    pub fn merged(&self) -> Result<Option<Report>, String> {
        let mut out: Option<Report> = None;
        for r in self.workers.iter().filter_map(|w| w.figures.as_ref()) {
            match &mut out {
                None => out = Some(r.clone()),
                Some(m) => m.merge(r)?,
            }
        }
        if let Some(m) = &mut out {
            m.thresholds.clear();
            m.workers = self.statuses();
        }
        Ok(out)
    }

    pub fn statuses(&self) -> Vec<WorkerStatus> {
        self.workers
            .iter()
            .map(|w| WorkerStatus {
                slot: w.slot,
                name: w.name.clone(),
                status: if w.finished {
                    "finished"
                } else if w.figures.is_none() {
                    "never_reported"
                } else {
                    "lost"
                }
                .into(),
                last_seen: w.t,
            })
            .collect()
    }

    /// Rates and latency percentiles since the previous call, from two merges (the echo
    /// histograms subtracted bucket by bucket).
    pub fn interval(&mut self, merged: &Report, now: Instant) -> Interval {
        let hist = merged.latency.echo.histogram().unwrap_or_default();
        let (sent, recv) = (merged.messages.sent, merged.messages.received);
        let mut out = Interval::default();
        if let Some((t, ps, pr, ph)) = &self.prev {
            let secs = now.duration_since(*t).as_secs_f64().max(1e-3);
            out.sent_per_sec = sent.saturating_sub(*ps) as f64 / secs;
            out.received_per_sec = recv.saturating_sub(*pr) as f64 / secs;
            let mut d = hist.clone();
            d.subtract(ph);
            out.p50 = d.percentile(0.5);
            out.p99 = d.percentile(0.99);
        }
        self.prev = Some((now, sent, recv, hist));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::soak_collector::{Ev, Stats};
    use crate::stats::soak_tracker::Echo;

    fn worker_report(conns: u64, echoes: u64, us: u64) -> Report {
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
                rtt: Duration::from_micros(us + i),
                order: Echo::InOrder,
                len: 10,
                wire: 12,
            });
        }
        s.totals(vec![serde_json::json!({"w": conns})], false)
    }

    #[test]
    fn the_whole_is_the_sum_of_the_latest_figures_and_a_lost_worker_keeps_its_last() {
        let t0 = Instant::now();
        let mut v = RunView::new(3, t0);
        v.tick(
            0,
            "a:1",
            1.0,
            5,
            Some(10.0),
            Some(1),
            worker_report(5, 10, 100),
            t0,
        );
        // A later tick replaces, never adds.
        v.tick(
            0,
            "a:1",
            2.0,
            5,
            Some(10.0),
            Some(1),
            worker_report(5, 20, 100),
            t0,
        );
        v.tick(1, "b:2", 2.0, 7, None, None, worker_report(7, 30, 1000), t0);
        v.finished(2, "c:3", worker_report(9, 40, 5000), t0);
        assert!(
            v.mark_lost(t0 + Duration::from_secs(1), Duration::from_secs(3))
                .is_empty()
        );
        let lost = v.mark_lost(t0 + Duration::from_secs(3), Duration::from_secs(3));
        assert_eq!(lost, vec![0, 1], "the finished worker is never lost");
        assert!(v.done());
        let m = v.merged().unwrap().unwrap();
        assert_eq!(m.connections.peak_open, 21);
        assert_eq!(m.messages.sent, 90);
        assert_eq!(m.latency.echo.count, 90);
        assert_eq!(m.config.len(), 3);
        let st: Vec<&str> = m.workers.iter().map(|w| w.status.as_str()).collect();
        assert_eq!(st, ["lost", "lost", "finished"]);
        assert_eq!(m.workers[1].name, "b:2");
    }

    #[test]
    fn the_interval_subtracts_the_previous_merge() {
        let t0 = Instant::now();
        let mut v = RunView::new(1, t0);
        v.tick(0, "a:1", 1.0, 1, None, None, worker_report(1, 10, 100), t0);
        let m = v.merged().unwrap().unwrap();
        let first = v.interval(&m, t0);
        assert_eq!(first.p99, None, "no interval before two figures");
        v.tick(0, "a:1", 2.0, 1, None, None, worker_report(1, 30, 100), t0);
        let m = v.merged().unwrap().unwrap();
        let i = v.interval(&m, t0 + Duration::from_secs(2));
        assert!((i.sent_per_sec - 10.0).abs() < 1e-9, "{}", i.sent_per_sec);
        // The new 20 echoes took 110..=129 µs.
        let p99 = i.p99.unwrap().as_micros();
        assert!((120..=130).contains(&p99), "{p99}");
        let never = RunView::new(2, t0).statuses();
        assert_eq!(never[1].status, "never_reported");
    }
}
