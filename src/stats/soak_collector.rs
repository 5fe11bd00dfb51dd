//! The one collector: workers report small events (through `soak_sink`'s bounded batches), the
//! collector adds them up in fixed memory (counters and histograms, never a sample list), the live view reads snapshots,
//! and the end of the run turns it all into a `Report`.

use super::soak_report::{
    ByteCounts, Connections, FORMAT, Heartbeats, Latencies, Latency, Messages, PEAK_FROM_HWM,
    PEAK_FROM_SAMPLES, Report, RssSeries,
};
use super::soak_tracker::Echo;
use super::timeline::{Process, Recorder, TimePoint, TimelinePart};
use crate::error::ErrorKind;
use crate::stats::counters::Counts;
use crate::stats::serial::SerialHistogram;
use crate::stats::series::Series;
use std::time::{Duration, Instant};

/// What a worker reports. Small and `Copy`: a couple are made per message.
#[derive(Debug, Clone, Copy)]
pub enum Ev {
    /// A connection is open; `reconnect` is the time since it was lost, for a reconnect.
    Opened {
        took: Duration,
        reconnect: Option<Duration>,
    },
    OpenFailed(ErrorKind),
    /// An open connection ended without us asking; `close_code` when the server sent one.
    Lost {
        kind: ErrorKind,
        close_code: Option<u16>,
    },
    /// The run ended while this connection was open (it is drained and closed next).
    HeldToEnd,
    /// We closed an open connection at the end of the run.
    Closed,
    GaveUp,
    /// `len` payload bytes, `wire` bytes on the wire (saturated at u32::MAX).
    Sent {
        replay: bool,
        len: u32,
        wire: u32,
    },
    Received {
        len: u32,
        wire: u32,
    },
    /// `--server-replay`: an intact message of another connection in a shared room (received,
    /// not an echo of ours).
    Others {
        len: u32,
        wire: u32,
    },
    /// `--server-replay`: a message the server marked as replayed (also counted as what it is).
    ServerReplayed,
    /// `--server-replay`: a message the server marked as not stored (also counted as what it is).
    Unstored,
    /// `--server-replay`: the server said this many missed messages are gone (`[replay cut=K …]`).
    ServerCut(u64),
    /// An echo of ours; `rtt` is only read for intact ones.
    Echo {
        rtt: Duration,
        order: Echo,
        len: u32,
        wire: u32,
    },
    Missing(u64),
    Dropped(u64),
    Unsent(u64),
    /// Sent messages that a connection loss left without a future: never sent again.
    LostInFlight(u64),
    /// At a loss: messages (estimated, at most) and bytes the server's TCP never acknowledged.
    Unconfirmed {
        messages: u64,
        bytes: u64,
    },
    HeartbeatSent,
    HeartbeatAnswered(Duration),
    /// A connection finished its preamble (`--send`/`--expect`) and starts measuring.
    PreambleDone,
    /// A preamble step failed (timed out, or the connection ended during it); the connection
    /// is closed (counted here, not as `Lost`) and reconnects.
    PreambleFailed,
}

/// Seconds of history in the "recent" latency figures of the live view.
pub const RECENT_SECS: usize = 5;
/// RSS samples kept per series before thinning (one a second: an hour at full resolution).
const RSS_POINTS: usize = 3600;

/// Latencies of the last few seconds: one histogram per second, in a ring.
#[derive(Debug)]
struct Recent {
    slots: Vec<SerialHistogram>,
    /// The whole second (since start) that `slots[second % len]` holds.
    seconds: Vec<u64>,
}

impl Recent {
    fn new() -> Self {
        Recent {
            slots: (0..RECENT_SECS).map(|_| SerialHistogram::new()).collect(),
            seconds: vec![u64::MAX; RECENT_SECS],
        }
    }

    fn record(&mut self, second: u64, d: Duration) {
        let i = (second % RECENT_SECS as u64) as usize;
        if self.seconds[i] != second {
            self.slots[i].reset();
            self.seconds[i] = second;
        }
        self.slots[i].record(d);
    }

    fn window(&self, now_second: u64) -> SerialHistogram {
        let mut h = SerialHistogram::new();
        for (slot, &s) in self.slots.iter().zip(&self.seconds) {
            if s != u64::MAX && s + (RECENT_SECS as u64) > now_second {
                h.merge(slot);
            }
        }
        h
    }
}

#[derive(Debug)]
pub struct Stats {
    start: Instant,
    target: u64,
    pub open: u64,
    pub peak_open: u64,
    pub conns: Connections,
    pub messages: Messages,
    pub bytes: ByteCounts,
    pub heartbeats: Heartbeats,
    echo: SerialHistogram,
    echo_recent: Recent,
    heartbeat: SerialHistogram,
    connect: SerialHistogram,
    reconnect: SerialHistogram,
    pub errors: Counts,
    pub close_codes: Counts,
    rss_self: Series,
    rss_watch: Option<(u32, Series)>,
    timeline: Recorder,
}

/// What the live view and the status line show; rates come from two snapshots.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub elapsed: Duration,
    pub target: u64,
    pub open: u64,
    pub opened: u64,
    pub reconnects: u64,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub recent_p50: Option<Duration>,
    pub recent_p99: Option<Duration>,
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub heartbeat_p99: Option<Duration>,
    pub errors: Vec<(String, u64)>,
    pub rss: Option<u64>,
    pub watched_rss: Option<u64>,
    /// The last `HISTORY_POINTS` finished points of the timeline, oldest first.
    pub history: Vec<TimePoint>,
    /// Seconds per history point (1 unless the run outgrew 24 hours).
    pub history_resolution: u64,
}

/// Points of history the live view draws: a minute at one a second.
pub const HISTORY_POINTS: usize = 60;

impl Stats {
    pub fn new(target: u64, start: Instant) -> Self {
        Stats {
            start,
            target,
            open: 0,
            peak_open: 0,
            conns: Connections {
                target,
                ..Default::default()
            },
            messages: Messages::default(),
            bytes: ByteCounts::default(),
            heartbeats: Heartbeats::default(),
            echo: SerialHistogram::new(),
            echo_recent: Recent::new(),
            heartbeat: SerialHistogram::new(),
            connect: SerialHistogram::new(),
            reconnect: SerialHistogram::new(),
            errors: Counts::default(),
            close_codes: Counts::default(),
            rss_self: Series::new(RSS_POINTS),
            rss_watch: None,
            timeline: Recorder::new(unix_time_of(start)),
        }
    }

    fn second(&self) -> u64 {
        self.start.elapsed().as_secs()
    }

    pub fn apply(&mut self, ev: Ev) {
        let second = self.second();
        self.apply_at(second, ev);
    }

    /// Applies a batch, all in the current second of the timeline: one clock read for the
    /// batch instead of two for every echo.
    pub fn apply_all(&mut self, evs: &[Ev]) {
        let second = self.second();
        for &ev in evs {
            self.apply_at(second, ev);
        }
    }

    fn apply_at(&mut self, second: u64, ev: Ev) {
        self.record_timeline(second, ev);
        match ev {
            Ev::Opened { took, reconnect } => {
                self.open += 1;
                self.peak_open = self.peak_open.max(self.open);
                self.conns.opened += 1;
                self.connect.record(took);
                if let Some(d) = reconnect {
                    self.conns.reconnects += 1;
                    self.reconnect.record(d);
                }
            }
            Ev::OpenFailed(kind) => {
                self.conns.failed += 1;
                self.errors.add(kind.as_str(), 1);
            }
            Ev::Lost { kind, close_code } => {
                self.open = self.open.saturating_sub(1);
                self.errors.add(kind.as_str(), 1);
                if kind == ErrorKind::HeartbeatTimeout {
                    self.heartbeats.timeouts += 1;
                }
                if let Some(code) = close_code {
                    self.close_codes.add(&code.to_string(), 1);
                }
            }
            Ev::HeldToEnd => self.conns.open_at_end += 1,
            Ev::Closed => self.open = self.open.saturating_sub(1),
            Ev::GaveUp => self.conns.gave_up += 1,
            Ev::PreambleDone => self.conns.preambles += 1,
            Ev::PreambleFailed => {
                self.open = self.open.saturating_sub(1);
                self.errors.add("preamble", 1);
            }
            Ev::Sent { replay, len, wire } => {
                self.messages.sent += 1;
                self.bytes.sent_payload += len as u64;
                self.bytes.sent_wire += wire as u64;
                if replay {
                    self.messages.replayed += 1;
                }
            }
            Ev::Received { len, wire } => {
                self.messages.received += 1;
                self.bytes.received_payload += len as u64;
                self.bytes.received_wire += wire as u64;
            }
            Ev::Others { len, wire } => {
                self.messages.received += 1;
                self.messages.others += 1;
                self.bytes.received_payload += len as u64;
                self.bytes.received_wire += wire as u64;
            }
            Ev::ServerReplayed => self.messages.server_replayed += 1,
            Ev::Unstored => self.messages.unstored += 1,
            Ev::ServerCut(k) => self.messages.server_cut += k,
            Ev::Echo {
                rtt,
                order,
                len,
                wire,
            } => {
                self.messages.received += 1;
                self.bytes.received_payload += len as u64;
                self.bytes.received_wire += wire as u64;
                self.echo_order(second, rtt, order);
            }
            Ev::Missing(n) => self.messages.missing += n,
            Ev::Dropped(n) => self.messages.dropped += n,
            Ev::Unsent(n) => self.messages.unsent += n,
            Ev::LostInFlight(n) => self.messages.lost_in_flight += n,
            Ev::Unconfirmed { messages, bytes } => {
                self.messages.unconfirmed += messages;
                self.messages.unconfirmed_bytes += bytes;
            }
            Ev::HeartbeatSent => self.heartbeats.sent += 1,
            Ev::HeartbeatAnswered(rtt) => {
                self.heartbeats.answered += 1;
                self.heartbeat.record(rtt);
            }
        }
    }

    /// The same event, counted in its second of the timeline. `open` is taken before the
    /// event: it is the count at the end of every earlier second this event closes.
    fn record_timeline(&mut self, second: u64, ev: Ev) {
        let open = self.open;
        let r = &mut self.timeline;
        match ev {
            Ev::Opened { reconnect, .. } => {
                let p = r.at(second, open);
                p.connects += 1;
                p.reconnects += u64::from(reconnect.is_some());
            }
            Ev::OpenFailed(kind) => {
                let p = r.at(second, open);
                p.failures += 1;
                p.errors.add(kind.as_str(), 1);
            }
            Ev::Lost { kind, .. } => {
                let p = r.at(second, open);
                p.lost += 1;
                p.errors.add(kind.as_str(), 1);
            }
            Ev::Sent { wire, .. } => {
                let p = r.at(second, open);
                p.sent += 1;
                p.sent_wire += u64::from(wire);
            }
            Ev::Received { wire, .. } | Ev::Others { wire, .. } => {
                let p = r.at(second, open);
                p.received += 1;
                p.received_wire += u64::from(wire);
            }
            Ev::Echo {
                rtt, order, wire, ..
            } => {
                let p = r.at(second, open);
                p.received += 1;
                p.received_wire += u64::from(wire);
                if matches!(order, Echo::InOrder | Echo::Reordered) {
                    r.echo(second, open, rtt);
                }
            }
            Ev::HeartbeatAnswered(rtt) => r.heartbeat(second, open, rtt),
            _ => {}
        }
    }

    fn echo_order(&mut self, second: u64, rtt: Duration, order: Echo) {
        match order {
            Echo::InOrder | Echo::Reordered => {
                self.messages.echoed += 1;
                if order == Echo::Reordered {
                    self.messages.reordered += 1;
                }
                self.echo.record(rtt);
                self.echo_recent.record(second, rtt);
            }
            Echo::Corrupted { reordered } => {
                self.messages.corrupted += 1;
                self.messages.reordered += u64::from(reordered);
            }
            Echo::Duplicate => self.messages.duplicated += 1,
        }
    }

    pub fn sample_rss(&mut self, own: Option<u64>, watched: Option<(u32, Option<u64>)>) {
        let t = self.start.elapsed().as_secs_f64();
        let (second, open) = (self.second(), self.open);
        if let Some(v) = own {
            self.rss_self.push(t, v);
            let me = Process {
                label: "wsbeat soak".into(),
                pid: std::process::id(),
            };
            self.timeline.rss(second, open, &me, 0, v);
        }
        if let Some((pid, Some(v))) = watched {
            let who = Process {
                label: "watched process".into(),
                pid,
            };
            self.timeline.rss(second, open, &who, 1, v);
        }
        if let Some((pid, v)) = watched {
            let series = &mut self
                .rss_watch
                .get_or_insert_with(|| (pid, Series::new(RSS_POINTS)))
                .1;
            if let Some(v) = v {
                series.push(t, v);
            }
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let now = self.second();
        let recent = self.echo_recent.window(now);
        Snapshot {
            elapsed: self.start.elapsed(),
            target: self.target,
            open: self.open,
            opened: self.conns.opened,
            reconnects: self.conns.reconnects,
            sent: self.messages.sent,
            received: self.messages.received,
            lost: self.messages.lost(),
            recent_p50: recent.percentile(0.5),
            recent_p99: recent.percentile(0.99),
            p50: self.echo.percentile(0.5),
            p99: self.echo.percentile(0.99),
            heartbeat_p99: self.heartbeat.percentile(0.99),
            errors: self
                .errors
                .iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            rss: self.rss_self.last().map(|p| p.value),
            watched_rss: self
                .rss_watch
                .as_ref()
                .and_then(|(_, s)| s.last())
                .map(|p| p.value),
            history: self.timeline.recent(HISTORY_POINTS).to_vec(),
            history_resolution: self.timeline.resolution(),
        }
    }

    /// `own_peak` is our RSS high-water mark from the kernel, when it has one; without it
    /// our peak is the highest sample, like the watched process's always is (another
    /// process's high-water mark would count its life before the run).
    pub fn report(
        &self,
        config: Vec<serde_json::Value>,
        stopped_early: bool,
        own_peak: Option<u64>,
    ) -> Report {
        let (peak_bytes, peak_from) = match own_peak {
            Some(p) => (Some(p), PEAK_FROM_HWM),
            None => (self.rss_self.max(), PEAK_FROM_SAMPLES),
        };
        let mut rss = vec![RssSeries {
            label: "wsbeat soak".into(),
            pid: std::process::id(),
            peak_bytes,
            peak_from: peak_from.into(),
            samples: self.rss_self.points().to_vec(),
        }];
        if let Some((pid, s)) = &self.rss_watch {
            rss.push(RssSeries {
                label: "watched process".into(),
                pid: *pid,
                peak_bytes: s.max(),
                peak_from: PEAK_FROM_SAMPLES.into(),
                samples: s.points().to_vec(),
            });
        }
        let mut report = self.totals(config, stopped_early);
        report.rss = rss;
        report.timeline = Some(self.timeline.timeline_until(self.second(), self.open));
        report
    }

    /// The timeline from point `from` on (see `Recorder::part`), cut under the same lock as
    /// `totals`, so that its counts and the totals' agree.
    pub fn timeline_part(&mut self, from: usize, resolution: u64, max: usize) -> TimelinePart {
        let (second, open) = (self.second(), self.open);
        self.timeline.part(from, resolution, max, second, open)
    }

    /// The report without its RSS series and timeline, which grow with the run: what a
    /// coordinated worker publishes every second.
    pub fn totals(&self, config: Vec<serde_json::Value>, stopped_early: bool) -> Report {
        let mut conns = self.conns.clone();
        conns.peak_open = self.peak_open;
        Report {
            format: FORMAT.into(),
            wsbeat: env!("CARGO_PKG_VERSION").into(),
            runs: 1,
            config,
            elapsed: self.start.elapsed().as_secs_f64(),
            stopped_early,
            connections: conns,
            messages: self.messages.clone(),
            bytes: self.bytes.clone(),
            heartbeats: self.heartbeats.clone(),
            latency: Latencies {
                echo: Latency::from_histogram(&self.echo),
                heartbeat: Latency::from_histogram(&self.heartbeat),
                connect: Latency::from_histogram(&self.connect),
                reconnect: Latency::from_histogram(&self.reconnect),
            },
            errors: self.errors.clone(),
            close_codes: self.close_codes.clone(),
            rss: Vec::new(),
            thresholds: Vec::new(),
            timeline: None,
            workers: Vec::new(),
        }
    }
}

/// The wall-clock time `start` was, in Unix seconds.
fn unix_time_of(start: Instant) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    now.saturating_sub(start.elapsed()).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_open_peak_losses_and_latency() {
        let mut s = Stats::new(2, Instant::now());
        let opened = Ev::Opened {
            took: Duration::from_millis(1),
            reconnect: None,
        };
        s.apply(opened);
        s.apply(opened);
        s.apply(Ev::Lost {
            kind: ErrorKind::CloseCode,
            close_code: Some(1011),
        });
        s.apply(Ev::Opened {
            took: Duration::from_millis(1),
            reconnect: Some(Duration::from_millis(200)),
        });
        for _ in 0..3 {
            s.apply(Ev::Sent {
                replay: false,
                len: 100,
                wire: 30,
            });
        }
        s.apply(Ev::Echo {
            rtt: Duration::from_millis(2),
            order: Echo::InOrder,
            len: 100,
            wire: 40,
        });
        s.apply(Ev::Echo {
            rtt: Duration::from_millis(2),
            order: Echo::Duplicate,
            len: 100,
            wire: 40,
        });
        s.apply(Ev::Echo {
            rtt: Duration::ZERO,
            order: Echo::Corrupted { reordered: true },
            len: 100,
            wire: 40,
        });
        s.apply(Ev::Missing(1));
        s.apply(Ev::HeldToEnd);
        s.apply(Ev::HeldToEnd);
        s.sample_rss(Some(1000), Some((7, Some(500))));
        let r = s.report(vec![], false, Some(4096));
        assert_eq!((r.connections.peak_open, r.connections.open_at_end), (2, 2));
        assert_eq!(r.connections.reconnects, 1);
        assert_eq!(r.errors.get("close_code"), 1);
        assert_eq!(r.close_codes.get("1011"), 1);
        assert_eq!((r.messages.echoed, r.messages.duplicated), (1, 1));
        assert_eq!((r.messages.corrupted, r.messages.reordered), (1, 1));
        assert_eq!(r.messages.lost(), 2);
        assert_eq!((r.bytes.sent_payload, r.bytes.sent_wire), (300, 90));
        assert_eq!(r.bytes.ratios(), (Some(0.3), Some(0.4)));
        assert_eq!(
            r.latency.echo.count, 1,
            "a corrupted echo's time is not a latency"
        );
        assert_eq!(r.latency.reconnect.count, 1);
        assert_eq!(
            (r.rss[0].peak_bytes, r.rss[0].peak_from.as_str()),
            (Some(4096), PEAK_FROM_HWM),
            "our own peak is the kernel's high-water mark, not the highest sample"
        );
        assert_eq!(
            (r.rss[1].peak_bytes, r.rss[1].peak_from.as_str()),
            (Some(500), PEAK_FROM_SAMPLES)
        );
        let snap = s.snapshot();
        assert_eq!(snap.recent_p50, snap.p50);
    }

    /// `--server-replay`'s counters: the marks are counted beside what the message was,
    /// another connection's message is received but no echo, and a merge adds them up.
    #[test]
    fn server_marks_and_others_are_counted_once_and_merged() {
        let mut s = Stats::new(1, Instant::now());
        s.apply(Ev::Sent {
            replay: false,
            len: 40,
            wire: 46,
        });
        s.apply(Ev::ServerReplayed);
        s.apply(Ev::Echo {
            rtt: Duration::from_millis(1),
            order: Echo::InOrder,
            len: 52,
            wire: 54,
        });
        s.apply(Ev::Unstored);
        s.apply(Ev::ServerCut(3));
        s.apply(Ev::Others { len: 51, wire: 53 });
        let mut r = s.report(vec![], false, None);
        let m = &r.messages;
        assert_eq!((m.sent, m.received, m.echoed), (1, 2, 1));
        assert_eq!((m.server_replayed, m.unstored, m.others), (1, 1, 1));
        assert_eq!(m.server_cut, 3);
        assert_eq!(m.lost(), 0, "another connection's message is no loss");
        assert_eq!(r.bytes.received_payload, 103);
        let one = r.clone();
        r.merge(&one).unwrap();
        let m = &r.messages;
        assert_eq!((m.server_replayed, m.unstored, m.others), (2, 2, 2));
        assert_eq!(m.server_cut, 6);
        assert_eq!(m.received, 4);
    }

    #[test]
    fn the_timelines_totals_are_the_reports_totals() {
        // Started 3 s ago, so that events spread over several points.
        let mut s = Stats::new(2, Instant::now() - Duration::from_secs(3));
        for i in 0..50u64 {
            s.apply(Ev::Opened {
                took: Duration::from_millis(1),
                reconnect: (i % 5 == 0).then_some(Duration::from_millis(9)),
            });
            s.apply(Ev::Sent {
                replay: false,
                len: 16,
                wire: 22,
            });
            s.apply(Ev::Echo {
                rtt: Duration::from_micros(100 + i),
                order: Echo::InOrder,
                len: 16,
                wire: 22,
            });
            s.apply(Ev::Received { len: 16, wire: 22 });
            s.apply(Ev::OpenFailed(ErrorKind::Refused));
            s.apply(Ev::Lost {
                kind: ErrorKind::Abnormal,
                close_code: None,
            });
        }
        s.sample_rss(Some(1000), Some((7, Some(500))));
        let r = s.report(vec![], false, None);
        let t = r.timeline.as_ref().unwrap();
        let sum = |f: fn(&crate::stats::timeline::TimePoint) -> u64| -> u64 {
            t.points.iter().map(f).sum()
        };
        assert_eq!(sum(|p| p.connects), r.connections.opened);
        assert_eq!(sum(|p| p.reconnects), r.connections.reconnects);
        assert_eq!(sum(|p| p.failures), r.connections.failed);
        assert_eq!(sum(|p| p.sent), r.messages.sent);
        assert_eq!(sum(|p| p.received), r.messages.received);
        assert_eq!(sum(|p| p.sent_wire), r.bytes.sent_wire);
        assert_eq!(sum(|p| p.received_wire), r.bytes.received_wire);
        assert_eq!(sum(|p| p.error_total()), r.errors.total());
        assert_eq!(
            t.points.len(),
            4,
            "seconds 0, 1, 2 (empty) and the current one"
        );
        let last = t.points.last().unwrap();
        assert_eq!(last.open, r.connections.peak_open.min(s.open));
        assert_eq!(last.rss, [Some(1000), Some(500)]);
        assert_eq!(t.processes[1].pid, 7);
        let p99 = last.p99.unwrap();
        assert!((p99 - 149e-6).abs() < 2e-6, "{p99}");
    }
}
