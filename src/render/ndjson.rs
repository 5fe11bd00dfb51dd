//! One JSON object per line on stdout: `{"type": ..., "ts": seconds, ...}`. The schema is in the
//! README and checked by tests/ndjson.rs; durations are float seconds, text payloads are
//! `"text"`, binary ones `"base64"`.

use super::Render;
use crate::event::Event;
use crate::ws::proto::DataKind;
use base64::Engine;
use serde_json::{Value, json};
use std::io::{self, Write};
use std::time::Duration;

pub struct Ndjson;

impl Ndjson {
    pub fn new() -> Self {
        Ndjson
    }
}

impl Default for Ndjson {
    fn default() -> Self {
        Self::new()
    }
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn payload_fields(obj: &mut serde_json::Map<String, Value>, kind: DataKind, payload: &[u8]) {
    obj.insert("kind".into(), json!(kind.as_str()));
    obj.insert("len".into(), json!(payload.len()));
    match kind {
        DataKind::Text => obj.insert("text".into(), json!(String::from_utf8_lossy(payload))),
        DataKind::Binary => obj.insert(
            "base64".into(),
            json!(base64::engine::general_purpose::STANDARD.encode(payload)),
        ),
    };
}

pub fn to_json(ts: Duration, event: &Event) -> Value {
    let (ty, mut fields) = match event {
        Event::Opened(h) => (
            "opened",
            json!({
                "url": h.url,
                "peer": h.peer.to_string(),
                "status": h.status,
                "headers": h.headers.iter().map(|(k, v)| {
                    (k.clone(), json!(crate::render::human::redact_header(k, v)))
                }).collect::<serde_json::Map<_, _>>(),
                "subprotocol": h.subprotocol,
                "extensions": h.extensions,
                "timings": {
                    "dns": secs(h.timings.dns),
                    "tcp": secs(h.timings.tcp),
                    "tls": h.timings.tls.map(secs),
                    "upgrade": secs(h.timings.upgrade),
                    "total": secs(h.timings.total),
                },
            }),
        ),
        Event::Sent {
            kind,
            payload,
            fragments,
        } => {
            let mut m = serde_json::Map::new();
            payload_fields(&mut m, *kind, payload);
            m.insert("fragments".into(), json!(fragments));
            ("sent", Value::Object(m))
        }
        Event::Received { kind, payload } => {
            let mut m = serde_json::Map::new();
            payload_fields(&mut m, *kind, payload);
            ("received", Value::Object(m))
        }
        Event::Ping { outbound, len, seq } => (
            "ping",
            json!({"direction": if *outbound { "out" } else { "in" }, "len": len, "seq": seq}),
        ),
        Event::Pong {
            outbound,
            len,
            seq,
            rtt,
        } => (
            "pong",
            json!({
                "direction": if *outbound { "out" } else { "in" },
                "len": len, "seq": seq, "rtt": rtt.map(secs),
            }),
        ),
        Event::ExpectMet {
            index,
            pattern,
            matched,
        } => (
            "expect",
            json!({"index": index, "pattern": pattern, "matched": matched}),
        ),
        Event::Closed(c) => (
            "closed",
            json!({
                "code": c.code, "name": c.name(), "reason": c.reason,
                "wasClean": c.was_clean, "initiator": c.initiator.as_str(),
                "code_valid": c.code_valid,
            }),
        ),
        Event::Error(e) => {
            let mut v = json!({"kind": e.kind().as_str(), "message": e.message()});
            if let Some(status) = e.status {
                v["status"] = json!(status);
            }
            if let Some(body) = &e.body {
                v["body"] = json!(body);
            }
            ("error", v)
        }
        Event::Warning(w) => ("warning", json!({"message": w})),
        Event::Reconnecting {
            attempt,
            max,
            delay,
        } => (
            "reconnecting",
            json!({"attempt": attempt, "max": max, "delay": secs(*delay)}),
        ),
        Event::ReconnectFailed { attempt, error } => (
            "reconnect_failed",
            json!({"attempt": attempt, "kind": error.kind().as_str(), "message": error.message()}),
        ),
        Event::Reconnected { attempt, buffered } => (
            "reconnected",
            json!({"attempt": attempt, "buffered": buffered}),
        ),
        Event::HeartbeatTimeout { waited } => {
            ("heartbeat_timeout", json!({"waited": secs(*waited)}))
        }
        Event::Heartbeat { seq, rtt } => ("heartbeat", json!({"seq": seq, "rtt": rtt.map(secs)})),
        Event::Buffered { kind, len, queued } => (
            "buffered",
            json!({"kind": kind.as_str(), "len": len, "queued": queued}),
        ),
        Event::BufferDrop { kind, payload, why } => {
            let mut m = serde_json::Map::new();
            payload_fields(&mut m, *kind, payload);
            m.insert("why".into(), json!(why));
            ("buffer_drop", Value::Object(m))
        }
    };
    let obj = fields.as_object_mut().expect("event fields are an object");
    let mut out = serde_json::Map::with_capacity(obj.len() + 2);
    out.insert("type".into(), json!(ty));
    out.insert("ts".into(), json!(secs(ts)));
    out.append(obj);
    Value::Object(out)
}

/// Write one NDJSON line to stdout, flushed so that a reader sees it at once.
pub fn write_line(value: &Value) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut out = io::stdout().lock();
    out.write_all(&line)?;
    out.flush()
}

/// Status and errors also go to stderr, so a person watching a JSON run sees them.
pub fn mirror_to_stderr(event: &Event) {
    match event {
        Event::Error(e) => eprintln!("wsbeat: error: {}", e.message()),
        Event::Warning(w) => eprintln!("wsbeat: warning: {w}"),
        Event::HeartbeatTimeout { waited } => eprintln!(
            "wsbeat: error: heartbeat timeout after {}: no answer from the peer",
            crate::render::units::duration(*waited)
        ),
        _ => {}
    }
}

impl Render for Ndjson {
    fn event(&mut self, ts: Duration, event: &Event) -> io::Result<()> {
        write_line(&to_json(ts, event))?;
        mirror_to_stderr(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::proto::close::{CloseEvent, Initiator};
    use bytes::Bytes;

    #[test]
    fn every_event_has_type_and_ts_first() {
        let v = to_json(
            Duration::from_millis(1500),
            &Event::Received {
                kind: DataKind::Binary,
                payload: Bytes::from_static(&[0xff, 0]),
            },
        );
        assert_eq!(v["type"], "received");
        assert_eq!(v["ts"], 1.5);
        assert_eq!(v["base64"], "/wA=");
        assert!(v.get("text").is_none());
        let s = serde_json::to_string(&v).unwrap();
        assert!(s.starts_with(r#"{"type":"received","ts":1.5"#), "{s}");
    }

    #[test]
    fn closed_uses_browser_field_names() {
        let c = CloseEvent {
            code: 4001,
            reason: "bye".into(),
            was_clean: true,
            initiator: Initiator::Server,
            code_valid: true,
        };
        let v = to_json(Duration::ZERO, &Event::Closed(c));
        assert_eq!(v["wasClean"], true);
        assert_eq!(v["initiator"], "server");
        assert_eq!(v["name"], "application");
    }
}
