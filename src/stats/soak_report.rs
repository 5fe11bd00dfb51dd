//! The soak report: everything a run adds up to, as JSON (`--json`), and the merge of several
//! reports into one (`--merge`). Durations are seconds (floats); each latency carries its HDR
//! histogram (V2, DEFLATE, base64, microseconds) so that merged percentiles are exact merges,
//! not averages of percentiles.

use crate::stats::counters::Counts;
use crate::stats::serial::SerialHistogram;
use crate::stats::series::Point;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const FORMAT: &str = "wsbeat-soak-report/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub wsbeat: String,
    /// How many runs this report adds up (1 unless merged).
    pub runs: u64,
    /// The configuration of each run, in merge order.
    pub config: Vec<serde_json::Value>,
    /// Seconds from start to the end of the drain; the longest run's when merged.
    pub elapsed: f64,
    pub stopped_early: bool,
    pub connections: Connections,
    pub messages: Messages,
    /// Payload and wire bytes each way (absent from reports before compression).
    #[serde(default)]
    pub bytes: ByteCounts,
    pub heartbeats: Heartbeats,
    pub latency: Latencies,
    /// Errors by kind (`dns`, `refused`, `connect_timeout`, `tls`, `http_status`, `protocol`,
    /// `abnormal_close`, `heartbeat_timeout`, `close_code`, ...).
    pub errors: Counts,
    /// Close codes the server closed connections with, by code.
    pub close_codes: Counts,
    pub rss: Vec<RssSeries>,
    /// Filled in when thresholds were checked.
    #[serde(default)]
    pub thresholds: Vec<super::verdict::Verdict>,
    /// The run second by second (`null` in reports written before it existed, and in a
    /// merge with one of those).
    #[serde(default)]
    pub timeline: Option<super::timeline::Timeline>,
    /// A coordinated run (`--coordinator --lead`): each worker, and whether its figures are
    /// its final report or the last it published before it was lost.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub slot: usize,
    /// `host:pid`.
    pub name: String,
    /// `finished`, `lost` (no figures for a while: it died or lost Redis; its last figures are
    /// counted) or `never_reported`.
    pub status: String,
    /// Seconds into the run of its last figures.
    pub last_seen: Option<f64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Connections {
    pub target: u64,
    /// Most connections open at the same moment (merged: the sum of each run's peak).
    pub peak_open: u64,
    pub open_at_end: u64,
    /// Successful opens, first connects and reconnects.
    pub opened: u64,
    /// Attempts that failed (by kind in `errors`).
    pub failed: u64,
    pub reconnects: u64,
    /// Connections that stopped reconnecting (`--max-reconnects`, or `--no-reconnect`).
    pub gave_up: u64,
    /// Preambles completed (once per open connection with `--send`/`--expect`); failures are
    /// `errors.preamble`.
    #[serde(default)]
    pub preambles: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Messages {
    /// Messages written to the wire, replays included.
    pub sent: u64,
    /// Data messages received (echoes and anything else).
    pub received: u64,
    /// Echoes matched to a message we sent.
    pub echoed: u64,
    /// Messages sent again after a reconnect (buffered while down, or unanswered when lost).
    pub replayed: u64,
    /// Sent, never answered (neither intact nor corrupted).
    pub missing: u64,
    /// Copies after a message's first answer (and damaged echoes when nothing was awaited).
    pub duplicated: u64,
    /// Answers that arrived after an answer to a later-sent message.
    pub reordered: u64,
    /// Messages whose answer did not match what was sent (header or body); each counted
    /// once, and never also as missing.
    pub corrupted: u64,
    /// Overflowed the per-connection buffer while the connection was down.
    pub dropped: u64,
    /// Still in the buffer when the run ended (the connection never came back).
    pub unsent: u64,
    /// Sent, in flight when their connection was lost, and never sent again (no reconnect, or
    /// the run ended first): the server may or may not have them. In echo mode, the unanswered
    /// ones; without echoes, those the server's TCP had not acknowledged (`unconfirmed`).
    #[serde(default)]
    pub lost_in_flight: u64,
    /// At connection losses: messages whose bytes the server's TCP had not acknowledged (the
    /// kernel's count mapped onto the last messages sent, erring on the high side), and those
    /// bytes. Replayed after a reconnect in echo mode; `lost_in_flight` otherwise.
    #[serde(default)]
    pub unconfirmed: u64,
    #[serde(default)]
    pub unconfirmed_bytes: u64,
    /// `--server-replay`: messages the server marked `[replay seq=N]` (sent again by it after
    /// a reconnect); each is also counted as what it turned out to be (echoed, duplicated ...).
    #[serde(default)]
    pub server_replayed: u64,
    /// `--server-replay`: messages the server marked `[unstored]` (it could not keep them for
    /// a replay); also counted as what they are.
    #[serde(default)]
    pub unstored: u64,
    /// `--server-replay`: missed messages the server said it no longer had
    /// (`[replay cut=K …]`, the K summed); what was this run's own is also missing.
    #[serde(default)]
    pub server_cut: u64,
    /// `--server-replay`: intact messages of other connections in a shared broadcast room;
    /// part of `received`, not echoes, not loss.
    #[serde(default)]
    pub others: u64,
}

/// Payload bytes and bytes on the wire (frame headers included) each way: what
/// permessage-deflate and framing made of the messages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ByteCounts {
    pub sent_payload: u64,
    pub sent_wire: u64,
    pub received_payload: u64,
    pub received_wire: u64,
}

impl ByteCounts {
    /// Wire bytes per payload byte, each way (`None` before any payload).
    pub fn ratios(&self) -> (Option<f64>, Option<f64>) {
        let r = |w: u64, p: u64| (p > 0).then(|| w as f64 / p as f64);
        (
            r(self.sent_wire, self.sent_payload),
            r(self.received_wire, self.received_payload),
        )
    }

    pub fn merge(&mut self, o: &ByteCounts) {
        self.sent_payload += o.sent_payload;
        self.sent_wire += o.sent_wire;
        self.received_payload += o.received_payload;
        self.received_wire += o.received_wire;
    }
}

impl Messages {
    /// What `--max-loss` bounds: messages that did not come back intact.
    pub fn lost(&self) -> u64 {
        self.missing + self.dropped + self.unsent + self.corrupted + self.lost_in_flight
    }

    fn merge(&mut self, o: &Messages) {
        self.sent += o.sent;
        self.received += o.received;
        self.echoed += o.echoed;
        self.replayed += o.replayed;
        self.missing += o.missing;
        self.duplicated += o.duplicated;
        self.reordered += o.reordered;
        self.corrupted += o.corrupted;
        self.dropped += o.dropped;
        self.unsent += o.unsent;
        self.lost_in_flight += o.lost_in_flight;
        self.unconfirmed += o.unconfirmed;
        self.unconfirmed_bytes += o.unconfirmed_bytes;
        self.server_replayed += o.server_replayed;
        self.unstored += o.unstored;
        self.server_cut += o.server_cut;
        self.others += o.others;
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Heartbeats {
    pub sent: u64,
    pub answered: u64,
    pub timeouts: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latencies {
    /// Message round trips (echo mode).
    pub echo: Latency,
    /// Heartbeat round trips (Pong frames or text answers).
    pub heartbeat: Latency,
    /// Time to open a connection (DNS, TCP, TLS, upgrade).
    pub connect: Latency,
    /// From losing a connection to having it open again.
    pub reconnect: Latency,
}

/// Percentiles in seconds; `null` when nothing was recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub count: u64,
    pub min: Option<f64>,
    pub mean: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
    /// HdrHistogram V2 + DEFLATE, base64; values in microseconds.
    pub histogram: String,
}

impl Latency {
    pub fn from_histogram(h: &SerialHistogram) -> Self {
        let s = |d: Option<std::time::Duration>| d.map(|d| d.as_secs_f64());
        Latency {
            count: h.count(),
            min: s(h.min()),
            mean: s(h.mean()),
            p50: s(h.percentile(0.50)),
            p90: s(h.percentile(0.90)),
            p99: s(h.percentile(0.99)),
            p999: s(h.percentile(0.999)),
            max: s(h.max()),
            histogram: h.to_base64(),
        }
    }

    pub fn histogram(&self) -> Result<SerialHistogram, String> {
        SerialHistogram::from_base64(&self.histogram)
    }

    fn merge(&self, o: &Latency) -> Result<Latency, String> {
        let mut h = self.histogram()?;
        h.merge(&o.histogram()?);
        Ok(Latency::from_histogram(&h))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RssSeries {
    /// `wsbeat soak` itself, or `watched process` for `--watch-pid`.
    pub label: String,
    pub pid: u32,
    pub peak_bytes: Option<u64>,
    /// Where `peak_bytes` comes from: `VmHWM` (the kernel's high-water mark, exact; wsbeat
    /// itself on Linux) or `samples` (the highest sample: a spike between two can be missed).
    #[serde(default = "sampled")]
    pub peak_from: String,
    /// Sampled once a second, thinned evenly on long runs.
    pub samples: Vec<Point>,
}

/// Reports written before `peak_from` existed took the peak from their samples.
fn sampled() -> String {
    PEAK_FROM_SAMPLES.into()
}

pub const PEAK_FROM_HWM: &str = "VmHWM";
pub const PEAK_FROM_SAMPLES: &str = "samples";

impl Report {
    pub fn read(path: &Path) -> Result<Report, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let r: Report = serde_json::from_str(&text)
            .map_err(|e| format!("{} is not a soak report: {e}", path.display()))?;
        if let Some(t) = &r.timeline {
            t.check()
                .map_err(|e| format!("{} is not a valid soak report: {e}", path.display()))?;
        }
        if r.format != FORMAT {
            return Err(format!(
                "{} is a '{}' report; this wsbeat reads '{FORMAT}'",
                path.display(),
                r.format
            ));
        }
        Ok(r)
    }

    /// Add `o` into `self`: counts add up, histograms merge bucket by bucket, RSS series and
    /// configurations are kept side by side.
    pub fn merge(&mut self, o: &Report) -> Result<(), String> {
        self.runs += o.runs;
        self.config.extend(o.config.iter().cloned());
        self.elapsed = self.elapsed.max(o.elapsed);
        self.stopped_early |= o.stopped_early;
        let (c, oc) = (&mut self.connections, &o.connections);
        c.target += oc.target;
        c.peak_open += oc.peak_open;
        c.open_at_end += oc.open_at_end;
        c.opened += oc.opened;
        c.failed += oc.failed;
        c.reconnects += oc.reconnects;
        c.gave_up += oc.gave_up;
        c.preambles += oc.preambles;
        self.messages.merge(&o.messages);
        self.bytes.merge(&o.bytes);
        self.heartbeats.sent += o.heartbeats.sent;
        self.heartbeats.answered += o.heartbeats.answered;
        self.heartbeats.timeouts += o.heartbeats.timeouts;
        let (l, ol) = (&mut self.latency, &o.latency);
        l.echo = l.echo.merge(&ol.echo)?;
        l.heartbeat = l.heartbeat.merge(&ol.heartbeat)?;
        l.connect = l.connect.merge(&ol.connect)?;
        l.reconnect = l.reconnect.merge(&ol.reconnect)?;
        self.errors.merge(&o.errors);
        self.close_codes.merge(&o.close_codes);
        self.rss.extend(o.rss.iter().cloned());
        self.workers.extend(o.workers.iter().cloned());
        self.timeline = match (self.timeline.take(), &o.timeline) {
            (Some(mut mine), Some(theirs)) => {
                mine.merge(theirs);
                Some(mine)
            }
            _ => None,
        };
        // Verdicts of the parts say nothing about the whole: they are checked again.
        self.thresholds.clear();
        Ok(())
    }
}

pub fn merge_files(paths: &[std::path::PathBuf]) -> Result<Report, String> {
    let mut iter = paths.iter();
    let first = iter
        .next()
        .ok_or_else(|| "--merge needs at least one report".to_string())?;
    let mut out = Report::read(first)?;
    for p in iter {
        let r = Report::read(p)?;
        out.merge(&r)
            .map_err(|e| format!("cannot merge {}: {e}", p.display()))?;
    }
    out.thresholds.clear();
    Ok(out)
}
