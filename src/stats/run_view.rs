//! The lead's picture of a coordinated run: each worker's latest cumulative totals (or its final
//! report), its timeline as far as published, when it was last heard from, and the whole as one
//! merge of those, with the same `Report::merge` as `soak --merge`, so the live figures and the
//! end report add up the same way.

use super::serial::SerialHistogram;
use super::soak_collector::{HISTORY_POINTS, Snapshot};
use super::soak_report::{Report, WorkerStatus};
use super::timeline::{TimePoint, Timeline, TimelinePart};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The live view's "last 5 s" latency, as soak's own.
const RECENT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct Worker {
    pub slot: usize,
    pub name: String,
    /// Latest totals, or the final report once `finished` (without its timeline, kept below:
    /// the live merge every second does without it).
    pub figures: Option<Report>,
    /// Its timeline as far as published (the whole of it once `finished`); `None` before its
    /// first part, or when a part went missing (then the merged report has none, as a
    /// `--merge` with a report without one).
    pub timeline: Option<Timeline>,
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
    /// The merged echo histogram and counters at the `interval` calls of the last few
    /// seconds, oldest first.
    prev: VecDeque<(Instant, u64, u64, SerialHistogram)>,
}

/// What changed since the previous call, for the live view's rates.
#[derive(Debug, Clone, Default)]
pub struct Interval {
    pub sent_per_sec: f64,
    pub received_per_sec: f64,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    /// Over the last 5 s (the oldest merge kept within them).
    pub recent_p50: Option<Duration>,
    pub recent_p99: Option<Duration>,
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
                    timeline: None,
                    finished: false,
                    lost: false,
                    open: 0,
                    cpu: None,
                    rss: None,
                    t: None,
                    heard: since,
                })
                .collect(),
            prev: VecDeque::new(),
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
        timeline: Option<TimelinePart>,
        now: Instant,
    ) {
        let Some(w) = self.workers.get_mut(slot) else {
            return;
        };
        // A tick read after the final (entries are in order, but be safe) changes nothing.
        if w.finished || w.t.is_some_and(|prev| prev > t) {
            return;
        }
        match timeline {
            Some(part) => {
                Timeline::apply_part(&mut w.timeline, part);
            }
            // A worker of a version that publishes none.
            None => w.timeline = None,
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

    pub fn finished(&mut self, slot: usize, name: &str, mut report: Report, now: Instant) {
        let Some(w) = self.workers.get_mut(slot) else {
            return;
        };
        w.timeline = report.timeline.take();
        w.name = name.to_string();
        w.open = report.connections.open_at_end;
        w.t = Some(report.elapsed);
        w.figures = Some(report);
        w.finished = true;
        w.lost = false;
        w.heard = now;
    }

    /// How long since `slot` was last heard from.
    pub fn silent_for(&self, slot: usize, now: Instant) -> Option<Duration> {
        self.workers
            .get(slot)
            .map(|w| now.saturating_duration_since(w.heard))
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

    /// The merge of every worker's latest figures, without the timeline; `None` before any.
    pub fn merged(&self) -> Result<Option<Report>, String> {
        self.merge(false)
    }

    /// The run's report: `merged` with the timeline, each worker's own, a lost worker's up to
    /// its last published second. Its counts add up to the figures merged (the points and the
    /// totals of a tick are cut under the same lock), unless a worker died while its points
    /// were still catching up after a Redis outage.
    pub fn report(&self) -> Result<Option<Report>, String> {
        self.merge(true)
    }

    fn merge(&self, timelines: bool) -> Result<Option<Report>, String> {
        let mut out: Option<Report> = None;
        for w in &self.workers {
            let Some(r) = &w.figures else {
                continue;
            };
            let with_timeline;
            let r = if timelines {
                with_timeline = Report {
                    timeline: w.timeline.clone(),
                    ..r.clone()
                };
                &with_timeline
            } else {
                r
            };
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

    /// Rates and echo percentiles since the previous call, and percentiles over the last 5 s,
    /// from merges (the echo histograms subtracted bucket by bucket).
    pub fn interval(&mut self, merged: &Report, now: Instant) -> Interval {
        let hist = merged.latency.echo.histogram().unwrap_or_default();
        let (sent, recv) = (merged.messages.sent, merged.messages.received);
        let mut out = Interval::default();
        let since = |h: &SerialHistogram| {
            let mut d = hist.clone();
            d.subtract(h);
            (d.percentile(0.5), d.percentile(0.99))
        };
        if let Some((t, ps, pr, ph)) = self.prev.back() {
            let secs = now.duration_since(*t).as_secs_f64().max(1e-3);
            out.sent_per_sec = sent.saturating_sub(*ps) as f64 / secs;
            out.received_per_sec = recv.saturating_sub(*pr) as f64 / secs;
            (out.p50, out.p99) = since(ph);
        }
        while self.prev.len() > 1 && now.duration_since(self.prev[1].0) >= RECENT {
            self.prev.pop_front();
        }
        if let Some((_, _, _, oldest)) = self.prev.front() {
            (out.recent_p50, out.recent_p99) = since(oldest);
        }
        self.prev.push_back((now, sent, recv, hist));
        out
    }

    /// The live view's figures for the whole run: the merge, the last interval and the last
    /// minute of the merged timelines.
    pub fn snapshot(&self, m: &Report, i: &Interval, elapsed: Duration) -> Snapshot {
        let l = &m.latency;
        let d = |s: Option<f64>| s.map(|s| Duration::from_secs_f64(s.max(0.0)));
        let (history, history_resolution) = self.history();
        Snapshot {
            elapsed,
            target: m.connections.target,
            open: self
                .workers
                .iter()
                .filter(|w| !w.lost)
                .map(|w| w.open)
                .sum(),
            opened: m.connections.opened,
            reconnects: m.connections.reconnects,
            sent: m.messages.sent,
            received: m.messages.received,
            lost: m.messages.lost(),
            recent_p50: i.recent_p50,
            recent_p99: i.recent_p99,
            p50: d(l.echo.p50),
            p99: d(l.echo.p99),
            heartbeat_p99: d(l.heartbeat.p99),
            errors: m.errors.iter().map(|(k, v)| (k.to_string(), v)).collect(),
            rss: None,
            watched_rss: None,
            history,
            history_resolution,
        }
    }

    /// The last `HISTORY_POINTS` seconds every worker still running has finished, merged (a
    /// live worker's last point is still being recorded; a second that some live worker has
    /// not finished yet would show as a dip).
    fn history(&self) -> (Vec<TimePoint>, u64) {
        let keep = HISTORY_POINTS + 2;
        let mut merged: Option<Timeline> = None;
        let mut ends: Vec<(f64, u64)> = Vec::new();
        for w in &self.workers {
            let Some(t) = &w.timeline else {
                continue;
            };
            let mut tail = t.tail(keep);
            if !w.finished && !w.lost {
                tail.points.pop();
                ends.push((tail.started_at, tail.span()));
            }
            match &mut merged {
                None => merged = Some(tail),
                Some(m) => m.merge(&tail),
            }
        }
        let Some(mut m) = merged else {
            return (Vec::new(), 1);
        };
        // Where the first live worker's finished seconds end, in the merge's points.
        let base = m.started_at;
        if let Some(cut) = ends
            .iter()
            .map(|&(at, end)| ((at - base).max(0.0).round() as u64 + end) / m.resolution)
            .min()
        {
            m.points.truncate(cut as usize);
        }
        let from = m.points.len().saturating_sub(HISTORY_POINTS);
        (m.points.split_off(from), m.resolution)
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
            None,
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
            None,
            t0,
        );
        v.tick(
            1,
            "b:2",
            2.0,
            7,
            None,
            None,
            worker_report(7, 30, 1000),
            None,
            t0,
        );
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
        v.tick(
            0,
            "a:1",
            1.0,
            1,
            None,
            None,
            worker_report(1, 10, 100),
            None,
            t0,
        );
        let m = v.merged().unwrap().unwrap();
        let first = v.interval(&m, t0);
        assert_eq!(first.p99, None, "no interval before two figures");
        v.tick(
            0,
            "a:1",
            2.0,
            1,
            None,
            None,
            worker_report(1, 30, 100),
            None,
            t0,
        );
        let m = v.merged().unwrap().unwrap();
        let i = v.interval(&m, t0 + Duration::from_secs(2));
        assert!((i.sent_per_sec - 10.0).abs() < 1e-9, "{}", i.sent_per_sec);
        // The new 20 echoes took 110..=129 µs.
        let p99 = i.p99.unwrap().as_micros();
        assert!((120..=130).contains(&p99), "{p99}");
        let never = RunView::new(2, t0).statuses();
        assert_eq!(never[1].status, "never_reported");
    }

    fn events(s: &mut Stats, n: u64) {
        for i in 0..n {
            s.apply(Ev::Opened {
                took: Duration::from_millis(1),
                reconnect: None,
            });
            s.apply(Ev::Sent {
                replay: false,
                len: 10,
                wire: 16,
            });
            s.apply(Ev::Echo {
                rtt: Duration::from_micros(100 + i),
                order: Echo::InOrder,
                len: 10,
                wire: 12,
            });
        }
    }

    #[test]
    fn a_lost_workers_timeline_is_put_together_from_its_parts_and_adds_up() {
        let t0 = Instant::now();
        let mut v = RunView::new(2, t0);
        // Started 3 s ago: points 0-2 are finished, 3 is being recorded.
        let mut lost = Stats::new(10, t0 - Duration::from_secs(3));
        events(&mut lost, 5);
        let first = lost.timeline_part(0, 1, 300);
        assert_eq!((first.from, first.finished, first.points.len()), (0, 3, 4));
        let next = (first.finished, first.resolution);
        v.tick(
            0,
            "a:1",
            3.0,
            5,
            None,
            None,
            lost.totals(vec![], false),
            Some(first),
            t0,
        );
        // More in the point the first part carried unfinished: the next part replaces it.
        events(&mut lost, 7);
        let second = lost.timeline_part(next.0, next.1, 300);
        assert_eq!(second.from, 3);
        let last = lost.totals(vec![], false);
        v.tick(
            0,
            "a:1",
            3.5,
            12,
            None,
            None,
            last.clone(),
            Some(second),
            t0,
        );
        let mut done = Stats::new(10, t0 - Duration::from_secs(2));
        events(&mut done, 4);
        v.finished(1, "b:2", done.report(vec![], false, None), t0);
        assert_eq!(
            v.mark_lost(t0 + Duration::from_secs(3), Duration::from_secs(3)),
            [0]
        );
        let r = v.report().unwrap().unwrap();
        let t = r
            .timeline
            .as_ref()
            .expect("a timeline, though a worker was lost");
        let sum = |f: fn(&TimePoint) -> u64| -> u64 { t.points.iter().map(f).sum() };
        assert_eq!(sum(|p| p.sent), r.messages.sent);
        assert_eq!(r.messages.sent, last.messages.sent + 4);
        assert_eq!(sum(|p| p.received), r.messages.received);
        assert_eq!(sum(|p| p.connects), r.connections.opened);
        assert_eq!(sum(|p| p.received_wire), r.bytes.received_wire);
        assert_eq!(t.points.len(), 4, "{t:#?}");
        // The live merge carries no timeline; the report's is the only one.
        assert!(v.merged().unwrap().unwrap().timeline.is_none());
    }

    #[test]
    fn a_part_that_does_not_follow_on_leaves_no_timeline_and_big_backlogs_come_in_slices() {
        let t0 = Instant::now();
        let mut s = Stats::new(1, t0 - Duration::from_secs(5));
        events(&mut s, 1);
        let slice = s.timeline_part(0, 1, 2);
        assert_eq!(
            (slice.finished, slice.points.len()),
            (2, 2),
            "no current point"
        );
        let mut tl = None;
        assert!(Timeline::apply_part(&mut tl, slice));
        let rest = s.timeline_part(2, 1, 300);
        assert!(Timeline::apply_part(&mut tl, rest.clone()));
        assert_eq!(tl.as_ref().unwrap().points.len(), 6);
        // A part after a missed one: the timeline is unknown from then on.
        let gap = TimelinePart {
            from: 7,
            ..rest.clone()
        };
        assert!(!Timeline::apply_part(&mut tl, gap));
        assert!(!Timeline::apply_part(&mut tl, rest.clone()));
        // A part whose points are not where they say is refused.
        let mut bad = s.timeline_part(0, 1, 300);
        bad.points[1].t = 9;
        let mut fresh = None;
        assert!(!Timeline::apply_part(&mut fresh, bad));
        let mut v = RunView::new(1, t0);
        v.tick(
            0,
            "a:1",
            5.0,
            1,
            None,
            None,
            s.totals(vec![], false),
            Some(rest),
            t0,
        );
        assert!(v.report().unwrap().unwrap().timeline.is_none());
    }

    #[test]
    fn the_history_is_the_seconds_every_live_worker_has_finished() {
        let t0 = Instant::now();
        let mut v = RunView::new(2, t0);
        for (slot, ago) in [(0, 4), (1, 6)] {
            let mut s = Stats::new(1, t0 - Duration::from_secs(ago));
            events(&mut s, 3);
            let part = s.timeline_part(0, 1, 300);
            v.tick(
                slot,
                "x:1",
                1.0,
                1,
                None,
                None,
                s.totals(vec![], false),
                Some(part),
                t0,
            );
        }
        let m = v.merged().unwrap().unwrap();
        let i = v.interval(&m, t0);
        let snap = v.snapshot(&m, &i, Duration::from_secs(6));
        // Worker 1 started 2 s earlier: 6 finished seconds; worker 0 has 4, from second 2.
        assert_eq!(snap.history.len(), 6, "{:#?}", snap.history);
        assert_eq!(snap.open, 2);
        assert_eq!(snap.sent, 6);
        assert!(
            snap.history.iter().all(|p| p.sent == 0),
            "the events are in the current seconds"
        );
    }
}
