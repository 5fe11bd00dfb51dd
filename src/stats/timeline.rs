//! Soak's timeline: one point per second for the whole run, so a report can show *when*
//! latency crept up, memory grew or errors came, not only how much in all.
//!
//! Bounded memory: at most `MAX_POINTS` points (24 hours at one a second). A longer run
//! coarsens: neighbouring points merge in pairs and the resolution doubles, as many times as
//! needed; the report says the resolution. Counts add up exactly however coarse. Latency
//! percentiles of a point come from an interval histogram over exactly that point's time
//! while it is recorded; a coarsened or merged point keeps the *worst* p50/p99/max of its
//! parts (percentiles do not add, and a spike must never be averaged away).

use super::counters::Counts;
use super::serial::SerialHistogram;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// 24 hours at one point a second: about 21 MiB when full (a point is 192 bytes, and its
/// memory samples and error counts are on the heap), whatever the number of connections.
pub const MAX_POINTS: usize = 86_400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TimePoint {
    /// Seconds from the start of the run (the earliest run's, when merged) to this point's.
    pub t: u64,
    /// Connections open at the end of this point's time.
    pub open: u64,
    /// Successful opens, first connects and reconnects.
    pub connects: u64,
    pub reconnects: u64,
    /// Attempts to open that failed.
    pub failures: u64,
    /// Open connections that were lost.
    pub lost: u64,
    pub sent: u64,
    pub received: u64,
    /// Bytes on the wire each way (frame headers included; after compression, with
    /// permessage-deflate). Absent in reports older than compression.
    #[serde(default)]
    pub sent_wire: u64,
    #[serde(default)]
    pub received_wire: u64,
    /// Echo latency in seconds; `null` when no echo came back in this time.
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub heartbeat_p99: Option<f64>,
    /// Errors by kind, as in the report's `errors`; absent when none.
    #[serde(default, skip_serializing_if = "Counts::is_empty")]
    pub errors: Counts,
    /// Resident memory in bytes per process, in the order of `Timeline::processes`; `null`
    /// where no sample fell in this time.
    #[serde(default)]
    pub rss: Vec<Option<u64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Process {
    pub label: String,
    pub pid: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Wall-clock start in Unix seconds: merged runs are lined up by it.
    pub started_at: f64,
    /// Seconds per point: 1, doubled each time a run outgrew `MAX_POINTS`.
    pub resolution: u64,
    /// Whose memory `TimePoint::rss` holds.
    pub processes: Vec<Process>,
    /// One per `resolution` seconds, contiguous: `points[i].t == i * resolution`.
    pub points: Vec<TimePoint>,
}

fn worst(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

impl TimePoint {
    /// Add `o`'s counts into `self`; latencies keep the worst of the two.
    fn add_counts(&mut self, o: &TimePoint) {
        // Saturating: merged points come from files, which may hold anything.
        self.connects = self.connects.saturating_add(o.connects);
        self.reconnects = self.reconnects.saturating_add(o.reconnects);
        self.failures = self.failures.saturating_add(o.failures);
        self.lost = self.lost.saturating_add(o.lost);
        self.sent = self.sent.saturating_add(o.sent);
        self.received = self.received.saturating_add(o.received);
        self.sent_wire = self.sent_wire.saturating_add(o.sent_wire);
        self.received_wire = self.received_wire.saturating_add(o.received_wire);
        self.p50 = worst(self.p50, o.p50);
        self.p99 = worst(self.p99, o.p99);
        self.max = worst(self.max, o.max);
        self.heartbeat_p99 = worst(self.heartbeat_p99, o.heartbeat_p99);
        self.errors.merge(&o.errors);
    }

    /// `self` followed in time by `later`, as one point: open at the end is `later`'s, memory
    /// the higher sample.
    fn absorb_later(&mut self, later: &TimePoint) {
        self.add_counts(later);
        self.open = later.open;
        if self.rss.len() < later.rss.len() {
            self.rss.resize(later.rss.len(), None);
        }
        for (mine, theirs) in self.rss.iter_mut().zip(&later.rss) {
            *mine = worst_u64(*mine, *theirs);
        }
    }

    pub fn error_total(&self) -> u64 {
        self.errors.total()
    }
}

fn worst_u64(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

impl Timeline {
    pub fn new(started_at: f64) -> Self {
        Timeline {
            started_at,
            resolution: 1,
            processes: Vec::new(),
            points: Vec::new(),
        }
    }

    /// Merge neighbours in pairs: half the points, twice the seconds each.
    fn coarsen(&mut self) {
        let res = self.resolution * 2;
        let mut out: Vec<TimePoint> = Vec::with_capacity(self.points.len().div_ceil(2));
        for pair in self.points.chunks(2) {
            let mut p = pair[0].clone();
            if let Some(later) = pair.get(1) {
                p.absorb_later(later);
            }
            p.t = out.len() as u64 * res;
            out.push(p);
        }
        self.points = out;
        self.resolution = res;
    }

    fn coarsen_to(&mut self, resolution: u64) {
        while self.resolution < resolution {
            self.coarsen();
        }
    }

    /// What a timeline read from a file must hold before anything is drawn or merged from
    /// it: one line saying what is wrong otherwise.
    pub fn check(&self) -> Result<(), String> {
        // 2^32 s a point is far beyond any run; it keeps every product below in range.
        if !self.resolution.is_power_of_two() || self.resolution > 1 << 32 {
            return Err(format!(
                "its timeline's resolution {} is not a power of two up to 2^32",
                self.resolution
            ));
        }
        if !(self.started_at.is_finite() && self.started_at >= 0.0) {
            return Err("its timeline has no valid started_at".into());
        }
        if self.points.len() > MAX_POINTS {
            return Err(format!(
                "its timeline has {} points, more than {MAX_POINTS}",
                self.points.len()
            ));
        }
        for (i, p) in self.points.iter().enumerate() {
            if p.t != i as u64 * self.resolution {
                return Err(format!(
                    "its timeline's point {i} is at {} s, not {} s",
                    p.t,
                    i as u64 * self.resolution
                ));
            }
            if p.rss.len() > self.processes.len() {
                return Err(format!(
                    "its timeline's point {i} has memory for more processes than it names"
                ));
            }
        }
        Ok(())
    }

    /// Line `o` up with `self` by wall-clock start and add it in: counts and open connections
    /// add up, memory series sit side by side. Runs that started far apart coarsen both, so
    /// that the whole still fits in `MAX_POINTS`.
    pub fn merge(&mut self, o: &Timeline) {
        let mut other = o.clone();
        let base = self.started_at.min(other.started_at);
        // Whole seconds from the earlier start; a year apart is as far as anyone merges.
        let offset =
            |t: &Timeline| (t.started_at - base).clamp(0.0, 366.0 * 86400.0).round() as u64;
        let (mine_s, theirs_s) = (offset(self), offset(&other));
        let mut res = self.resolution.max(other.resolution);
        let fits = |res: u64| {
            let end = |at: u64, t: &Timeline| at / res + t.span().div_ceil(res);
            end(mine_s, self).max(end(theirs_s, &other)) <= MAX_POINTS as u64
        };
        while !fits(res) {
            res *= 2;
        }
        self.coarsen_to(res);
        other.coarsen_to(res);
        let (mine_at, theirs_at) = (mine_s / res, theirs_s / res);
        let slots = self.processes.len();
        let len =
            (mine_at as usize + self.points.len()).max(theirs_at as usize + other.points.len());
        let mut points: Vec<TimePoint> = (0..len)
            .map(|i| TimePoint {
                t: i as u64 * res,
                ..TimePoint::default()
            })
            .collect();
        for (i, p) in self.points.iter().enumerate() {
            let q = &mut points[mine_at as usize + i];
            q.add_counts(p);
            q.open = q.open.saturating_add(p.open);
            q.rss = p.rss.clone();
        }
        for (i, p) in other.points.iter().enumerate() {
            let q = &mut points[theirs_at as usize + i];
            q.add_counts(p);
            q.open = q.open.saturating_add(p.open);
            q.rss.resize(slots, None);
            q.rss.extend(p.rss.iter().copied());
        }
        self.points = points;
        self.started_at = base;
        self.processes.extend(other.processes);
        while self.points.len() > MAX_POINTS {
            self.coarsen();
        }
    }

    /// A copy with at most `max_points` points (coarsened as a long run would be): what a
    /// chart draws, one point per a few pixels.
    pub fn coarsened_to_fit(&self, max_points: usize) -> Timeline {
        let mut t = self.clone();
        while t.points.len() > max_points.max(1) {
            t.coarsen();
        }
        t
    }

    /// A copy of the last `n` points only, its start moved to the first of them.
    pub fn tail(&self, n: usize) -> Timeline {
        let skip = self.points.len().saturating_sub(n);
        let points = self.points[skip..]
            .iter()
            .enumerate()
            .map(|(i, p)| TimePoint {
                t: i as u64 * self.resolution,
                ..p.clone()
            })
            .collect();
        Timeline {
            started_at: self.started_at + (skip as u64 * self.resolution) as f64,
            resolution: self.resolution,
            processes: self.processes.clone(),
            points,
        }
    }

    /// Seconds the timeline covers.
    pub fn span(&self) -> u64 {
        self.points.len() as u64 * self.resolution
    }
}

/// A slice of a running timeline, as a coordinated worker publishes it every second: the
/// points from index `from` on, the last of them the one still being recorded (sealed as it
/// stands). The lead puts the slices together (`Timeline::apply_part`), so that a worker lost
/// mid-run still has its timeline up to its last second in the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelinePart {
    pub started_at: f64,
    pub resolution: u64,
    pub processes: Vec<Process>,
    pub from: usize,
    pub points: Vec<TimePoint>,
    /// Finished points in the recorder when the part was cut (its next `from`, once sent).
    pub finished: usize,
}

impl Timeline {
    /// Puts `part` in place: the points from `part.from` on are replaced (the previous part's
    /// last point was still being recorded). `false` when it does not follow on (a part was
    /// never read, or the resolution changed without a resend): the timeline is then unknown.
    pub fn apply_part(slot: &mut Option<Timeline>, part: TimelinePart) -> bool {
        // What a worker sends is checked like a file: the points must sit where they say.
        let sane = part.resolution.is_power_of_two()
            && part.from.saturating_add(part.points.len()) <= MAX_POINTS
            && part.points.iter().enumerate().all(|(i, p)| {
                p.t == (part.from + i) as u64 * part.resolution
                    && p.rss.len() <= part.processes.len()
            });
        let follows = |t: &Timeline| {
            t.resolution == part.resolution
                && part.from <= t.points.len()
                && t.started_at == part.started_at
        };
        match slot {
            _ if !sane => *slot = None,
            Some(t) if part.from > 0 && follows(t) => {
                t.points.truncate(part.from);
                t.points.extend(part.points);
                t.processes = part.processes;
            }
            _ if part.from == 0 => {
                *slot = Some(Timeline {
                    started_at: part.started_at,
                    resolution: part.resolution,
                    processes: part.processes,
                    points: part.points,
                });
            }
            _ => *slot = None,
        }
        slot.is_some()
    }
}

/// Fills the timeline while a run goes: the point being recorded, with its interval
/// histograms, is finished when the clock moves past its time.
#[derive(Debug, Clone)]
pub struct Recorder {
    timeline: Timeline,
    capacity: usize,
    current: TimePoint,
    echo: SerialHistogram,
    heartbeat: SerialHistogram,
}

impl Recorder {
    pub fn new(started_at: f64) -> Self {
        Self::with_capacity(started_at, MAX_POINTS)
    }

    /// `capacity` must be even, so that a coarsened timeline's next point starts on a
    /// boundary of the new resolution.
    pub fn with_capacity(started_at: f64, capacity: usize) -> Self {
        Recorder {
            timeline: Timeline::new(started_at),
            capacity: capacity.max(2) & !1,
            current: TimePoint::default(),
            echo: SerialHistogram::new(),
            heartbeat: SerialHistogram::new(),
        }
    }

    /// Move the clock to `second` (since the start): every point whose time is over is
    /// finished with `open` connections open at its end.
    pub fn at(&mut self, second: u64, open: u64) -> &mut TimePoint {
        while second >= self.current.t + self.timeline.resolution {
            self.finish(open);
        }
        &mut self.current
    }

    fn finish(&mut self, open: u64) {
        let mut p = std::mem::take(&mut self.current);
        self.seal(&mut p, open);
        self.echo.reset();
        self.heartbeat.reset();
        self.timeline.points.push(p);
        if self.timeline.points.len() >= self.capacity {
            self.timeline.coarsen();
        }
        self.current.t = self.timeline.span();
    }

    fn seal(&self, p: &mut TimePoint, open: u64) {
        let s = |d: Option<Duration>| d.map(|d| d.as_secs_f64());
        p.open = open;
        p.p50 = s(self.echo.percentile(0.5));
        p.p99 = s(self.echo.percentile(0.99));
        p.max = s(self.echo.max());
        p.heartbeat_p99 = s(self.heartbeat.percentile(0.99));
    }

    pub fn echo(&mut self, second: u64, open: u64, rtt: Duration) {
        self.at(second, open);
        self.echo.record(rtt);
    }

    pub fn heartbeat(&mut self, second: u64, open: u64, rtt: Duration) {
        self.at(second, open);
        self.heartbeat.record(rtt);
    }

    /// Memory of process `slot` (0 is soak itself), registered on first sight.
    pub fn rss(&mut self, second: u64, open: u64, who: &Process, slot: usize, bytes: u64) {
        let ps = &mut self.timeline.processes;
        if ps.len() <= slot {
            ps.resize(
                slot + 1,
                Process {
                    label: String::new(),
                    pid: 0,
                },
            );
            ps[slot] = who.clone();
        }
        let p = self.at(second, open);
        if p.rss.len() <= slot {
            p.rss.resize(slot + 1, None);
        }
        p.rss[slot] = worst_u64(p.rss[slot], Some(bytes));
    }

    /// The timeline so far, the point being recorded included.
    pub fn timeline(&self, open: u64) -> Timeline {
        let mut t = self.timeline.clone();
        let mut p = self.current.clone();
        self.seal(&mut p, open);
        t.points.push(p);
        t
    }

    /// The timeline up to `second` (the end of the run), quiet seconds at the end included.
    pub fn timeline_until(&self, second: u64, open: u64) -> Timeline {
        let mut r = self.clone();
        r.at(second, open);
        r.timeline(open)
    }

    /// At most `max` points from index `from` (0 when the resolution is no longer
    /// `resolution`: every point changed), the one being recorded last when they reach it.
    /// Moves the clock to `second` first, so that quiet seconds are points too.
    pub fn part(
        &mut self,
        from: usize,
        resolution: u64,
        max: usize,
        second: u64,
        open: u64,
    ) -> TimelinePart {
        self.at(second, open);
        let t = &self.timeline;
        let from = if resolution == t.resolution {
            from.min(t.points.len())
        } else {
            0
        };
        let end = t.points.len().min(from.saturating_add(max.max(1)));
        let mut points = t.points[from..end].to_vec();
        if end == t.points.len() {
            let mut p = self.current.clone();
            self.seal(&mut p, open);
            points.push(p);
        }
        TimelinePart {
            started_at: t.started_at,
            resolution: t.resolution,
            processes: t.processes.clone(),
            from,
            points,
            finished: end,
        }
    }

    /// The last `n` finished points, oldest first (for the live view's history).
    pub fn recent(&self, n: usize) -> &[TimePoint] {
        let ps = &self.timeline.points;
        &ps[ps.len().saturating_sub(n)..]
    }

    pub fn resolution(&self) -> u64 {
        self.timeline.resolution
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_point_a_second_with_that_seconds_percentiles() {
        let mut r = Recorder::new(0.0);
        r.at(0, 1).connects += 1;
        r.echo(0, 1, ms(1));
        r.echo(0, 1, ms(3));
        // Nothing in second 1: it is still a point, with the connection still open.
        r.echo(2, 1, ms(100));
        let t = r.timeline(1);
        assert_eq!(t.points.len(), 3);
        assert_eq!(t.points.iter().map(|p| p.t).collect::<Vec<_>>(), [0, 1, 2]);
        let max0 = t.points[0].max.unwrap();
        assert!((max0 - 0.003).abs() < 1e-5, "{max0}");
        assert_eq!((t.points[1].p99, t.points[1].open), (None, 1));
        assert!(
            t.points[2].p50.unwrap() > 0.09,
            "the second's own histogram"
        );
    }

    #[test]
    fn long_runs_coarsen_and_keep_their_counts() {
        let mut r = Recorder::with_capacity(0.0, 8);
        for s in 0..100u64 {
            r.at(s, s).sent += 1;
            r.echo(s, s, ms(s + 1));
        }
        let t = r.timeline(99);
        assert!(t.points.len() <= 8, "{}", t.points.len());
        assert_eq!(t.resolution, 16);
        assert_eq!(t.points.iter().map(|p| p.sent).sum::<u64>(), 100);
        assert!(
            t.points
                .iter()
                .enumerate()
                .all(|(i, p)| p.t == i as u64 * 16)
        );
        let last_max = t.points.iter().filter_map(|p| p.max).fold(0.0, f64::max);
        assert!(
            (last_max - 0.1).abs() < 1e-4,
            "the worst echo survives: {last_max}"
        );
        assert_eq!(t.points.last().unwrap().open, 99);
    }

    fn run(started_at: f64, sent: &[u64], proc_pid: u32) -> Timeline {
        let mut r = Recorder::new(started_at);
        let who = Process {
            label: "wsbeat soak".into(),
            pid: proc_pid,
        };
        for (s, &n) in sent.iter().enumerate() {
            let p = r.at(s as u64, 2);
            p.sent += n;
            p.errors.add("refused", 1);
            r.rss(s as u64, 2, &who, 0, 1000 + n);
        }
        r.at(sent.len() as u64, 2);
        let mut t = r.timeline(2);
        t.points.pop(); // the empty point being recorded
        t
    }

    #[test]
    fn a_merged_timeline_is_the_sum_of_its_parts_by_wall_clock() {
        let a = run(1000.0, &[1, 2, 3], 1);
        let b = run(1001.0, &[10, 20, 30], 2);
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.started_at, 1000.0);
        let sent: Vec<u64> = m.points.iter().map(|p| p.sent).collect();
        assert_eq!(sent, [1, 12, 23, 30], "b started a second later");
        let open: Vec<u64> = m.points.iter().map(|p| p.open).collect();
        assert_eq!(open, [2, 4, 4, 2]);
        assert_eq!(
            m.points.iter().map(|p| p.error_total()).sum::<u64>(),
            a.points.len() as u64 + b.points.len() as u64
        );
        assert_eq!(m.processes.len(), 2);
        assert_eq!(m.points[1].rss, [Some(1002), Some(1010)]);
        assert_eq!(m.points[3].rss, [None, Some(1030)]);
    }

    #[test]
    fn runs_far_apart_merge_coarser_and_bad_files_are_refused() {
        let a = run(0.0, &[1; 4], 1);
        let b = run(200_000.0, &[1; 4], 2);
        let mut m = a.clone();
        m.merge(&b);
        assert!(m.points.len() <= MAX_POINTS, "{}", m.points.len());
        assert_eq!(m.resolution, 4);
        assert_eq!(m.points.iter().map(|p| p.sent).sum::<u64>(), 8);
        assert!(m.check().is_ok(), "{:?}", m.check());
        let mut far = b.clone();
        far.started_at = 1e300;
        let mut m = a.clone();
        m.merge(&far);
        assert!(m.points.len() <= MAX_POINTS);

        let mut bad = a.clone();
        bad.resolution = 0;
        assert!(bad.check().unwrap_err().contains("power of two"));
        bad.resolution = 1 << 63;
        assert!(bad.check().is_err(), "no overflow later");
        let mut bad = a.clone();
        bad.points[1].t = 7;
        assert!(bad.check().unwrap_err().contains("point 1"));
        let mut bad = a.clone();
        bad.started_at = f64::NAN;
        assert!(bad.check().is_err());
        let mut bad = a;
        bad.processes.clear();
        assert!(bad.check().is_err());
    }

    #[test]
    fn merging_a_coarse_and_a_fine_timeline_coarsens_the_fine_one() {
        let a = run(0.0, &[1; 8], 1);
        let mut b = run(0.0, &[1; 8], 2);
        b.coarsen();
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.resolution, 2);
        assert_eq!(m.points.len(), 4);
        assert!(m.points.iter().all(|p| p.sent == 4));
    }
}
