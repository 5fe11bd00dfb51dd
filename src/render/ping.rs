//! `wsbeat ping` output. Human: ping(8)'s lines on stdout (errors and warnings on stderr).
//! NDJSON: one object per probe outcome plus `opened`, `closed`, `error` (connect's shapes) and
//! a final `summary`; every object starts with "type" and "ts", durations are float seconds.

use super::human::{close_line, palette};
use super::{OutputConfig, ndjson, units};
use crate::error::Error;
use crate::event::Event;
use crate::stats::latency::LatencySummary;
use crate::ws::open::{Handshake, Timings};
use crate::ws::proto::DataKind;
use serde_json::{Value, json};
use std::io::{self, Write};
use std::time::Duration;

/// What a probe is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeMode {
    /// A Ping frame answered by a Pong frame.
    Frame,
    /// An application text message answered by a message matching `--expect`.
    Text,
    /// A whole connection: handshake, then close 1000.
    Connect,
    /// A socket.io emit answered by its ack.
    SocketIo,
    /// The server's Engine.IO pings: the interval between them as the client sees them.
    EngineIo,
}

impl ProbeMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeMode::Frame => "ping",
            ProbeMode::Text => "text",
            ProbeMode::Connect => "connect",
            ProbeMode::SocketIo => "socketio",
            ProbeMode::EngineIo => "engineio",
        }
    }
}

/// Why the run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// `-c` probes were sent and each was answered or timed out.
    Count,
    Deadline,
    Interrupted,
    /// The peer closed, or the connection was lost.
    Closed,
    /// Nobody reads our output any more.
    OutputGone,
}

impl Ended {
    pub fn as_str(self) -> &'static str {
        match self {
            Ended::Count => "count",
            Ended::Deadline => "deadline",
            Ended::Interrupted => "interrupted",
            Ended::Closed => "closed",
            Ended::OutputGone => "output_closed",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Summary {
    pub url: String,
    pub mode: ProbeMode,
    pub sent: u64,
    pub received: u64,
    pub loss_percent: f64,
    pub late: u64,
    pub duplicate: u64,
    pub unsolicited: u64,
    pub other: u64,
    pub rtt: Option<LatencySummary>,
    /// From the first probe to the end of the run.
    pub elapsed: Duration,
    pub ended: Ended,
}

#[derive(Debug, Clone)]
pub enum PingEvent {
    /// Opened, Closed, Error, Warning: shown the way `connect` shows them.
    Core(Event),
    Reply {
        seq: u64,
        size: usize,
        rtt: Duration,
    },
    Late {
        seq: u64,
        size: usize,
        rtt: Duration,
    },
    Duplicate {
        seq: u64,
        size: usize,
    },
    Unsolicited {
        size: usize,
    },
    Timeout {
        seq: u64,
    },
    /// A message that is not a reply (does not match `--expect`, or data in frame mode).
    Other {
        kind: DataKind,
        len: usize,
    },
    /// `--connect-only`: one connection opened (and then closed).
    Handshake {
        seq: u64,
        handshake: Handshake,
    },
    /// `--connect-only`: one connection attempt failed.
    Failed {
        seq: u64,
        error: Error,
    },
    Summary(Summary),
}

/// Fixed for a run: how the renderer words things.
#[derive(Debug, Clone, Copy)]
pub struct View {
    pub mode: ProbeMode,
    pub timeout: Duration,
    pub quiet: bool,
    pub verbose: bool,
}

pub trait PingRender {
    fn event(&mut self, ts: Duration, event: &PingEvent) -> io::Result<()>;
}

pub fn renderer(output: &OutputConfig, view: View) -> Box<dyn PingRender + Send> {
    if output.json {
        Box::new(Json { view })
    } else {
        colored::control::set_override(output.color);
        Box::new(Human { view, peer: None })
    }
}

/// True for events `-q` keeps: the ones that say how the run went, not each probe.
fn shown_when_quiet(event: &PingEvent) -> bool {
    matches!(
        event,
        PingEvent::Summary(_)
            | PingEvent::Core(Event::Closed(_) | Event::Error(_) | Event::Warning(_))
    )
}

// ------------------------------------------------------------------------------------ human

struct Human {
    view: View,
    /// "pong from <peer>": learnt from the `Opened` event.
    peer: Option<String>,
}

fn stdout_line(line: &str) -> io::Result<()> {
    super::write_stdout(format!("{line}\n").as_bytes())
}

fn stderr_line(line: &str) -> io::Result<()> {
    io::stderr()
        .lock()
        .write_all(format!("{line}\n").as_bytes())
}

pub fn timings_line(t: &Timings) -> String {
    format!(
        "dns {} tcp {}{} tls {} upgrade {}",
        units::duration(t.dns),
        units::duration(t.tcp),
        t.proxy
            .map_or(String::new(), |d| format!(" proxy {}", units::duration(d))),
        t.tls.map_or("-".to_string(), units::duration),
        units::duration(t.upgrade)
    )
}

/// `0%`, `33.3%`, `100%`: ping(8)'s spelling, one decimal only when it says something.
pub fn percent(p: f64) -> String {
    let s = format!("{p:.1}");
    format!("{}%", s.strip_suffix(".0").unwrap_or(&s))
}

fn ms3(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

impl Human {
    fn from(&self) -> &str {
        self.peer.as_deref().unwrap_or("peer")
    }

    fn reply_word(&self) -> &'static str {
        match self.view.mode {
            ProbeMode::Text => "reply",
            ProbeMode::SocketIo => "ack",
            ProbeMode::EngineIo => "engine.io ping",
            _ => "pong",
        }
    }

    fn summary(&self, s: &Summary) -> io::Result<()> {
        let (probes, replies, rtt) = match s.mode {
            ProbeMode::Connect => ("connections tried", "opened", "handshake"),
            ProbeMode::Text => ("probes sent", "replies", "rtt"),
            ProbeMode::Frame => ("probes sent", "received", "rtt"),
            ProbeMode::SocketIo => ("emits sent", "acks", "rtt"),
            // Nothing is timed on our side: the gaps between the server's pings, as they
            // arrived here (network delay variations included); mdev is their jitter.
            ProbeMode::EngineIo => (
                "server pings",
                "answered",
                "interval between server pings (as seen here)",
            ),
        };
        stdout_line(&palette::info(&format!("--- {} ping statistics ---", s.url)).to_string())?;
        let loss = percent(s.loss_percent);
        let loss = if s.loss_percent > 0.0 {
            palette::bad(&format!("{loss} loss"))
        } else {
            palette::good(&format!("{loss} loss"))
        };
        let mut line = format!("{} {probes}, {} {replies}, {loss}", s.sent, s.received);
        if s.mode != ProbeMode::Connect {
            line.push_str(&format!(
                ", {} late, {} duplicate, {} unsolicited",
                s.late, s.duplicate, s.unsolicited
            ));
        }
        if s.other > 0 {
            line.push_str(&format!(", {} other", s.other));
        }
        line.push_str(&format!(", time {}", units::duration(s.elapsed)));
        stdout_line(&line)?;
        if let Some(r) = &s.rtt {
            stdout_line(&format!(
                "{rtt} min/avg/max/mdev = {}/{}/{}/{} ms",
                ms3(r.min),
                ms3(r.avg),
                ms3(r.max),
                ms3(r.mdev)
            ))?;
            stdout_line(&format!(
                "{rtt} p50/p90/p99 = {}/{}/{} ms",
                ms3(r.p50),
                ms3(r.p90),
                ms3(r.p99)
            ))?;
        }
        Ok(())
    }
}

impl PingRender for Human {
    fn event(&mut self, _ts: Duration, event: &PingEvent) -> io::Result<()> {
        if let PingEvent::Core(Event::Opened(h)) = event {
            self.peer = Some(h.peer.to_string());
        }
        if self.view.quiet && !shown_when_quiet(event) {
            return Ok(());
        }
        let word = self.reply_word();
        match event {
            PingEvent::Core(Event::Opened(h)) => {
                let mut line = format!(
                    "{} {} ({}, HTTP {}): {}",
                    palette::info("connected to"),
                    h.url,
                    h.peer,
                    h.status,
                    timings_line(&h.timings)
                );
                if let Some(p) = &h.subprotocol {
                    line.push_str(&format!(", subprotocol {p}"));
                }
                line.push_str(&super::human::via(h));
                stdout_line(&line)?;
                if self.view.verbose {
                    for (k, v) in &h.headers {
                        let v = super::human::redact_header(k, v);
                        stdout_line(&palette::dim(&format!("  < {k}: {v}")).to_string())?;
                    }
                }
                Ok(())
            }
            PingEvent::Core(Event::Closed(c)) => {
                // Our own clean close at the end is not news; anything else is.
                let routine = c.is_normal() && c.initiator == crate::ws::proto::close::Initiator::Client;
                if routine && !self.view.verbose {
                    Ok(())
                } else {
                    stdout_line(&close_line(c))
                }
            }
            PingEvent::Core(Event::Error(e)) => {
                stderr_line(&format!("{} {}", palette::bad("wsbeat: error:"), e.message()))?;
                match e.body.as_deref().filter(|b| !b.is_empty()) {
                    Some(body) => stderr_line(&format!(
                        "response body: {}",
                        crate::error::escape_controls(body.trim_end(), true)
                    )),
                    None => Ok(()),
                }
            }
            PingEvent::Core(Event::Warning(w)) => {
                stderr_line(&format!("{} {w}", palette::warn("wsbeat: warning:")))
            }
            PingEvent::Core(e @ Event::Redirected(_)) => match super::human::link_line(e) {
                Some(line) => stdout_line(&line),
                None => Ok(()),
            },
            PingEvent::Core(_) => Ok(()),
            PingEvent::Reply { seq, size, rtt } => stdout_line(&format!(
                "{word} from {}: seq={seq} size={size} {}={}",
                self.from(),
                if self.view.mode == ProbeMode::EngineIo {
                    "interval"
                } else {
                    "time"
                },
                units::duration(*rtt)
            )),
            PingEvent::Late { seq, size, rtt } => stdout_line(
                &palette::warn(&format!(
                    "late {word} from {}: seq={seq} size={size} time={} (after the {} timeout; counted as lost)",
                    self.from(),
                    units::duration(*rtt),
                    humantime::format_duration(self.view.timeout)
                ))
                .to_string(),
            ),
            PingEvent::Duplicate { seq, size } => stdout_line(
                &palette::warn(&format!(
                    "duplicate {word} from {}: seq={seq} size={size}",
                    self.from()
                ))
                .to_string(),
            ),
            PingEvent::Unsolicited { size } => stdout_line(
                &palette::warn(&format!(
                    "unsolicited {word} from {}: size={size} (answers no probe of ours)",
                    self.from()
                ))
                .to_string(),
            ),
            PingEvent::Timeout { seq } => stdout_line(
                &palette::bad(&format!(
                    "no {word} for seq={seq} within {}",
                    humantime::format_duration(self.view.timeout)
                ))
                .to_string(),
            ),
            PingEvent::Other { kind, len } => {
                if self.view.verbose {
                    stdout_line(
                        &palette::dim(&format!(
                            "other message from {}: {} {len} bytes (not a reply)",
                            self.from(),
                            kind.as_str()
                        ))
                        .to_string(),
                    )
                } else {
                    Ok(())
                }
            }
            PingEvent::Handshake { seq, handshake: h } => stdout_line(&format!(
                "handshake with {}: seq={seq} status={} time={} ({})",
                h.peer,
                h.status,
                units::duration(h.timings.total),
                timings_line(&h.timings)
            )),
            PingEvent::Failed { seq, error } => stdout_line(
                &palette::bad(&format!("no connection for seq={seq}: {}", error.message()))
                    .to_string(),
            ),
            PingEvent::Summary(s) => self.summary(s),
        }
    }
}

// ------------------------------------------------------------------------------------- json

struct Json {
    view: View,
}

fn rtt_json(r: &Option<LatencySummary>) -> Value {
    match r {
        None => Value::Null,
        Some(r) => json!({
            "min": ndjson::secs(r.min), "avg": ndjson::secs(r.avg), "max": ndjson::secs(r.max),
            "mdev": ndjson::secs(r.mdev), "p50": ndjson::secs(r.p50), "p90": ndjson::secs(r.p90),
            "p99": ndjson::secs(r.p99),
        }),
    }
}

pub fn to_json(ts: Duration, event: &PingEvent) -> Value {
    let secs = ndjson::secs;
    let (ty, fields) = match event {
        PingEvent::Core(e) => return ndjson::to_json(ts, e),
        // The same shape as `connect`'s pong event: one schema per type across subcommands.
        PingEvent::Reply { seq, size, rtt } => (
            "pong",
            json!({"direction": "in", "len": size, "seq": seq, "rtt": secs(*rtt)}),
        ),
        PingEvent::Late { seq, size, rtt } => {
            ("late", json!({"seq": seq, "len": size, "rtt": secs(*rtt)}))
        }
        PingEvent::Duplicate { seq, size } => ("duplicate", json!({"seq": seq, "len": size})),
        PingEvent::Unsolicited { size } => ("unsolicited", json!({"len": size})),
        PingEvent::Timeout { seq } => ("timeout", json!({"seq": seq})),
        PingEvent::Other { kind, len } => ("other", json!({"kind": kind.as_str(), "len": len})),
        PingEvent::Handshake { seq, handshake: h } => (
            "handshake",
            json!({
                "seq": seq, "peer": h.peer.to_string(), "status": h.status,
                "rtt": secs(h.timings.total),
                "timings": ndjson::timings(&h.timings),
            }),
        ),
        PingEvent::Failed { seq, error } => {
            let mut m = serde_json::Map::new();
            m.insert("seq".into(), json!(seq));
            m.append(&mut ndjson::error_fields(error));
            ("failed", Value::Object(m))
        }
        PingEvent::Summary(s) => (
            "summary",
            json!({
                "url": s.url, "mode": s.mode.as_str(), "sent": s.sent, "received": s.received,
                "loss_percent": s.loss_percent, "late": s.late, "duplicate": s.duplicate,
                "unsolicited": s.unsolicited, "other": s.other, "rtt": rtt_json(&s.rtt),
                "elapsed": secs(s.elapsed), "ended": s.ended.as_str(),
            }),
        ),
    };
    ndjson::object(ty, ts, fields)
}

impl PingRender for Json {
    fn event(&mut self, ts: Duration, event: &PingEvent) -> io::Result<()> {
        if self.view.quiet && !shown_when_quiet(event) {
            return Ok(());
        }
        ndjson::write_line(&to_json(ts, event))?;
        if let PingEvent::Core(core) = event {
            ndjson::mirror_to_stderr(core);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_read_like_ping() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(100.0 / 3.0), "33.3%");
    }

    #[test]
    fn json_events_start_with_type_and_ts() {
        let v = to_json(
            Duration::from_millis(250),
            &PingEvent::Reply {
                seq: 3,
                size: 16,
                rtt: Duration::from_micros(231),
            },
        );
        let s = serde_json::to_string(&v).unwrap();
        assert!(
            s.starts_with(r#"{"type":"pong","ts":0.25,"direction":"in","len":16,"seq":3"#),
            "{s}"
        );
        assert_eq!(v["rtt"], 0.000231);
    }

    #[test]
    fn summary_without_replies_has_null_rtt() {
        let v = to_json(
            Duration::ZERO,
            &PingEvent::Summary(Summary {
                url: "ws://x/".into(),
                mode: ProbeMode::Frame,
                sent: 2,
                received: 0,
                loss_percent: 100.0,
                late: 0,
                duplicate: 0,
                unsolicited: 0,
                other: 0,
                rtt: None,
                elapsed: Duration::from_secs(2),
                ended: Ended::Count,
            }),
        );
        assert_eq!(v["type"], "summary");
        assert_eq!(v["loss_percent"], 100.0);
        assert!(v["rtt"].is_null());
        assert_eq!(v["ended"], "count");
    }

    /// The README's ping NDJSON, byte for byte.
    #[test]
    fn every_ping_line_is_as_documented() {
        use crate::error::ErrorKind;
        use crate::stats::latency::LatencyHistogram;
        use crate::ws::proto::close::CloseEvent;
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_millis(1));
        h.record(Duration::from_millis(3));
        let events = vec![
            PingEvent::Core(Event::Opened(Box::new(
                crate::render::ndjson::tests::sample_handshake(true),
            ))),
            PingEvent::Reply {
                seq: 1,
                size: 16,
                rtt: Duration::from_micros(500),
            },
            PingEvent::Late {
                seq: 2,
                size: 16,
                rtt: Duration::from_secs(3),
            },
            PingEvent::Duplicate { seq: 1, size: 16 },
            PingEvent::Unsolicited { size: 9 },
            PingEvent::Timeout { seq: 4 },
            PingEvent::Other {
                kind: DataKind::Text,
                len: 3,
            },
            PingEvent::Handshake {
                seq: 5,
                handshake: crate::render::ndjson::tests::sample_handshake(false),
            },
            PingEvent::Failed {
                seq: 6,
                error: Error::new(ErrorKind::Refused, "connection refused"),
            },
            PingEvent::Core(Event::Closed(CloseEvent::abnormal("gone"))),
            PingEvent::Summary(Summary {
                url: "ws://x/".into(),
                mode: ProbeMode::Text,
                sent: 4,
                received: 2,
                loss_percent: 50.0,
                late: 1,
                duplicate: 1,
                unsolicited: 1,
                other: 1,
                rtt: h.summary(),
                elapsed: Duration::from_millis(3500),
                ended: Ended::Interrupted,
            }),
        ];
        let lines: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(&to_json(Duration::from_millis(1250), e)).unwrap())
            .collect();
        let want = [
            r#"{"type":"opened","ts":1.25,"url":"ws://127.0.0.1:9001/","peer":"127.0.0.1:9001","proxy":null,"status":101,"headers":{"upgrade":"websocket","set-cookie":"[redacted]"},"subprotocol":"chat","extensions":[],"compression":null,"timings":{"dns":0.001,"tcp":0.002,"proxy":null,"tls":0.003,"upgrade":0.004,"total":0.01}}"#,
            r#"{"type":"pong","ts":1.25,"direction":"in","len":16,"seq":1,"rtt":0.0005}"#,
            r#"{"type":"late","ts":1.25,"seq":2,"len":16,"rtt":3.0}"#,
            r#"{"type":"duplicate","ts":1.25,"seq":1,"len":16}"#,
            r#"{"type":"unsolicited","ts":1.25,"len":9}"#,
            r#"{"type":"timeout","ts":1.25,"seq":4}"#,
            r#"{"type":"other","ts":1.25,"kind":"text","len":3}"#,
            r#"{"type":"handshake","ts":1.25,"seq":5,"peer":"127.0.0.1:9001","status":101,"rtt":0.01,"timings":{"dns":0.001,"tcp":0.002,"proxy":null,"tls":null,"upgrade":0.004,"total":0.01}}"#,
            r#"{"type":"failed","ts":1.25,"seq":6,"kind":"refused","message":"connection refused"}"#,
            r#"{"type":"closed","ts":1.25,"code":1006,"name":"Abnormal Closure","reason":"","wasClean":false,"initiator":"none","code_valid":true,"error":"gone"}"#,
            r#"{"type":"summary","ts":1.25,"url":"ws://x/","mode":"text","sent":4,"received":2,"loss_percent":50.0,"late":1,"duplicate":1,"unsolicited":1,"other":1,"rtt":{"min":0.001,"avg":0.002,"max":0.003,"mdev":0.001,"p50":0.001000447,"p90":0.003,"p99":0.003},"elapsed":3.5,"ended":"interrupted"}"#,
        ];
        assert_eq!(lines, want);
    }
}
