//! The one NDJSON writer. Every subcommand's events are lines of
//! `{"type": ..., "ts": <seconds since start>, ...}`, built by [`object`] and written by
//! [`write_line`]; the shapes several subcommands share (a close, an error, handshake timings, a
//! warning) are built here once, so a `closed` reads the same whoever emits it. The schema is in
//! the README; durations are float seconds, text payloads `"text"`, binary ones `"base64"`.

use super::Render;
use crate::error::Error;
use crate::event::Event;
use crate::ws::open::Timings;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::CloseEvent;
use base64::Engine;
use serde_json::{Map, Value, json};
use std::io;
use std::time::Duration;

/// `connect`'s events as NDJSON.
#[derive(Default)]
pub struct Ndjson;

impl Ndjson {
    pub fn new() -> Self {
        Ndjson
    }
}

impl Render for Ndjson {
    fn event(&mut self, ts: Duration, event: &Event) -> io::Result<()> {
        write_line(&to_json(ts, event))?;
        mirror_to_stderr(event);
        Ok(())
    }
}

/// One event: `type` and `ts` first, then `fields` (an object) in their order.
pub fn object(ty: &str, ts: Duration, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), json!(ty));
    out.insert("ts".into(), json!(secs(ts)));
    if let Value::Object(mut f) = fields {
        out.append(&mut f);
    }
    Value::Object(out)
}

/// Write one NDJSON line to stdout: whole, in one write, flushed so a reader sees it at once.
/// An `Err` means stdout is gone; see [`super::stdout_failed`].
pub fn write_line(value: &Value) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    super::write_stdout(&line)
}

pub fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

pub fn opt_secs(d: Option<Duration>) -> Value {
    d.map_or(Value::Null, |d| json!(secs(d)))
}

/// `code`, `name`, `reason`, `wasClean`, `initiator`, `code_valid`: the browser's CloseEvent;
/// `error`: our diagnostic.
pub fn close_fields(c: &CloseEvent) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("code".into(), json!(c.code));
    m.insert("name".into(), json!(c.name()));
    m.insert("reason".into(), json!(c.reason));
    m.insert("wasClean".into(), json!(c.was_clean));
    m.insert("initiator".into(), json!(c.initiator.as_str()));
    m.insert("code_valid".into(), json!(c.code_valid));
    // Not the browser's: why the connection died, when no Close frame said it (1006).
    m.insert("error".into(), json!(c.diagnostic));
    m
}

/// Each phase of opening a connection; `tls` is null for ws://.
pub fn timings(t: &Timings) -> Value {
    json!({
        "dns": secs(t.dns),
        "tcp": secs(t.tcp),
        "proxy": t.proxy.map(secs),
        "tls": t.tls.map(secs),
        "upgrade": secs(t.upgrade),
        "total": secs(t.total),
    })
}

/// `kind` (the stable key) and `message`.
pub fn error_fields(e: &Error) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("kind".into(), json!(e.kind().as_str()));
    m.insert("message".into(), json!(e.message()));
    m
}

pub fn warning(message: &str) -> Value {
    json!({ "message": message })
}

/// permessage-deflate's view of a message: compressed or not, and bytes on the wire (frame
/// headers included).
fn wire_fields(m: &mut Map<String, Value>, wire: &crate::ws::proto::Wire) {
    m.insert("compressed".into(), json!(wire.compressed));
    m.insert("wire_len".into(), json!(wire.len));
}

fn payload_fields(obj: &mut Map<String, Value>, kind: DataKind, payload: &[u8]) {
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
    let (ty, fields) = match event {
        Event::Redirected(r) => (
            "redirect",
            json!({
                "status": r.status,
                "from": r.from,
                "to": r.to,
                "credentials_dropped": r.credentials_dropped,
            }),
        ),
        Event::Opened(h) => (
            "opened",
            json!({
                "url": h.url,
                "peer": h.peer.to_string(),
                "proxy": h.proxy,
                "status": h.status,
                "headers": h.headers.iter().map(|(k, v)| {
                    (k.clone(), json!(super::human::redact_header(k, v)))
                }).collect::<Map<_, _>>(),
                "subprotocol": h.subprotocol,
                "extensions": h.extensions,
                "compression": h.deflate.map(|d| json!({
                    "server_no_context_takeover": d.server_no_context_takeover,
                    "client_no_context_takeover": d.client_no_context_takeover,
                    "server_max_window_bits": d.server_max_window_bits,
                    "client_max_window_bits": d.client_max_window_bits,
                })),
                "timings": timings(&h.timings),
            }),
        ),
        Event::Sent {
            kind,
            payload,
            fragments,
            resent,
            wire,
        } => {
            let mut m = Map::new();
            payload_fields(&mut m, *kind, payload);
            m.insert("fragments".into(), json!(fragments));
            wire_fields(&mut m, wire);
            if *resent {
                m.insert("resent".into(), json!(true));
            }
            ("sent", Value::Object(m))
        }
        Event::SentFile {
            path,
            len,
            fragments,
            wire,
        } => {
            let mut m = json!({"kind": "binary", "len": len, "file": path, "fragments": fragments});
            if let Value::Object(m) = &mut m {
                wire_fields(m, wire);
            }
            ("sent", m)
        }
        Event::Received {
            kind,
            payload,
            wire,
        } => {
            let mut m = Map::new();
            payload_fields(&mut m, *kind, payload);
            wire_fields(&mut m, wire);
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
        Event::Step(r) => (
            "step",
            json!({
                "index": r.index,
                "kind": r.kind,
                "source": r.source,
                "outcome": r.outcome,
                "start": r.start.as_secs_f64(),
                "elapsed": r.elapsed.as_secs_f64(),
                "matched": r.matched,
                "captures": r.captures.iter().map(|(k, v)| (k.clone(), Value::from(v.as_str()))).collect::<serde_json::Map<String, Value>>(),
            }),
        ),
        Event::Closed(c) => ("closed", Value::Object(close_fields(c))),
        Event::Error(e) => {
            let mut m = error_fields(e);
            if let Some(status) = e.status {
                m.insert("status".into(), json!(status));
            }
            if let Some(body) = &e.body {
                m.insert("body".into(), json!(body));
            }
            ("error", Value::Object(m))
        }
        Event::Warning(w) => ("warning", warning(w)),
        Event::Reconnecting {
            attempt,
            max,
            delay,
        } => (
            "reconnecting",
            json!({"attempt": attempt, "max": max, "delay": secs(*delay)}),
        ),
        Event::ReconnectFailed { attempt, error } => {
            let mut m = Map::new();
            m.insert("attempt".into(), json!(attempt));
            m.append(&mut error_fields(error));
            ("reconnect_failed", Value::Object(m))
        }
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
        Event::Unconfirmed {
            count,
            bytes,
            first,
            last,
            more,
            resend,
        } => (
            "unconfirmed",
            json!({"count": count, "bytes": bytes, "first": first, "last": last,
                   "more": more, "resend": resend}),
        ),
        Event::BufferDrop { kind, payload, why } => {
            let mut m = Map::new();
            payload_fields(&mut m, *kind, payload);
            m.insert("why".into(), json!(why));
            ("buffer_drop", Value::Object(m))
        }
        Event::SioOpen {
            sid,
            ping_interval,
            ping_timeout,
            max_payload,
        } => (
            "sio_open",
            json!({"sid": sid, "ping_interval": *ping_interval as f64 / 1000.0,
                   "ping_timeout": *ping_timeout as f64 / 1000.0, "max_payload": max_payload}),
        ),
        Event::SioPing { count, since_last } => (
            "sio_ping",
            json!({"count": count, "since_last": secs(*since_last)}),
        ),
        Event::SioConnected { namespace, sid } => {
            ("sio_connected", json!({"namespace": namespace, "sid": sid}))
        }
        Event::SioEvent {
            namespace,
            event,
            args,
            ack_id,
        } => (
            "sio_event",
            json!({"namespace": namespace, "event": event, "args": args, "ack_id": ack_id}),
        ),
        Event::SioEmit {
            namespace,
            event,
            args,
            ack_id,
        } => (
            "sio_emit",
            json!({"namespace": namespace, "event": event, "args": args, "ack_id": ack_id}),
        ),
        Event::SioAck {
            namespace,
            id,
            args,
            rtt,
        } => (
            "sio_ack",
            json!({"namespace": namespace, "id": id, "args": args, "rtt": rtt.map(secs)}),
        ),
        Event::SioDisconnect { namespace, reason } => (
            "sio_disconnect",
            json!({"namespace": namespace, "reason": reason}),
        ),
    };
    object(ty, ts, fields)
}

/// Status and errors also go to stderr, so a person watching a JSON run sees them.
pub fn mirror_to_stderr(event: &Event) {
    match event {
        Event::Error(e) => eprintln!(
            "wsbeat: error: {}",
            crate::error::escape_controls(e.message(), false)
        ),
        Event::Warning(w) => eprintln!("wsbeat: warning: {w}"),
        // Leaving on our own at the end is not news.
        Event::SioDisconnect { namespace, reason } if reason != "io client disconnect" => {
            eprintln!(
                "wsbeat: socket.io: left namespace {}: {reason}",
                crate::error::escape_controls(namespace, false)
            )
        }
        Event::HeartbeatTimeout { waited } => eprintln!(
            "wsbeat: error: heartbeat timeout after {}: no answer from the peer",
            super::units::duration(*waited)
        ),
        Event::Unconfirmed {
            count,
            bytes,
            first,
            last,
            more,
            resend,
        } => eprintln!(
            "wsbeat: {}",
            super::human::unconfirmed_line(*count, *bytes, *first, *last, *more, *resend)
        ),
        _ => {}
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
                wire: Default::default(),
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
            diagnostic: None,
        };
        let v = to_json(Duration::ZERO, &Event::Closed(c));
        assert_eq!(v["wasClean"], true);
        assert_eq!(v["initiator"], "server");
        assert_eq!(v["name"], "application");
    }

    pub(crate) fn sample_handshake(tls: bool) -> crate::ws::open::Handshake {
        crate::ws::open::Handshake {
            url: "ws://127.0.0.1:9001/".into(),
            peer: "127.0.0.1:9001".parse().unwrap(),
            proxy: None,
            redirects: Vec::new(),
            status: 101,
            reason: "Switching Protocols".into(),
            headers: vec![
                ("upgrade".into(), "websocket".into()),
                ("set-cookie".into(), "secret".into()),
            ],
            subprotocol: Some("chat".into()),
            extensions: vec![],
            deflate: None,
            offered_extensions: None,
            timings: crate::ws::open::Timings {
                dns: Duration::from_millis(1),
                tcp: Duration::from_millis(2),
                proxy: None,
                tls: tls.then(|| Duration::from_millis(3)),
                upgrade: Duration::from_millis(4),
                total: Duration::from_millis(10),
            },
        }
    }

    /// The README's NDJSON contract, byte for byte: a change here changes what scripts parse.
    #[test]
    fn every_event_line_is_as_documented() {
        use crate::error::{Error, ErrorKind};
        let mut refused = Error::new(ErrorKind::Upgrade, "the server answered 403");
        refused.status = Some(403);
        refused.body = Some("go away".into());
        let events = vec![
            Event::Redirected(crate::ws::redirect::Redirect {
                status: 301,
                from: "ws://127.0.0.1:9000/".into(),
                to: "ws://127.0.0.1:9001/".into(),
                credentials_dropped: true,
            }),
            Event::Opened(Box::new(sample_handshake(false))),
            Event::Sent {
                kind: DataKind::Text,
                payload: Bytes::from_static(b"hi"),
                fragments: 2,
                resent: false,
                wire: crate::ws::proto::Wire {
                    compressed: false,
                    len: 12,
                },
            },
            Event::Sent {
                kind: DataKind::Text,
                payload: Bytes::from_static(b"again"),
                fragments: 1,
                resent: true,
                wire: crate::ws::proto::Wire {
                    compressed: false,
                    len: 11,
                },
            },
            Event::Received {
                kind: DataKind::Binary,
                payload: Bytes::from_static(&[1, 2]),
                wire: crate::ws::proto::Wire {
                    compressed: true,
                    len: 5,
                },
            },
            Event::Ping {
                outbound: true,
                len: 16,
                seq: Some(1),
            },
            Event::Pong {
                outbound: false,
                len: 16,
                seq: Some(1),
                rtt: Some(Duration::from_micros(250)),
            },
            Event::Pong {
                outbound: true,
                len: 0,
                seq: None,
                rtt: None,
            },
            Event::ExpectMet {
                index: 0,
                pattern: "^p".into(),
                matched: "pong".into(),
            },
            Event::Step(Box::new(crate::event::StepRecord {
                index: 1,
                kind: "expect",
                source: "(?P<t>o+)".into(),
                outcome: "matched",
                start: Duration::from_millis(10),
                elapsed: Duration::from_millis(5),
                matched: Some("pong".into()),
                captures: vec![("t".into(), "o".into())],
            })),
            Event::Closed(CloseEvent::abnormal("gone")),
            Event::Error(refused),
            Event::Error(Error::usage("bad")),
            Event::Warning("careful".into()),
            Event::Reconnecting {
                attempt: 1,
                max: 3,
                delay: Duration::from_millis(500),
            },
            Event::ReconnectFailed {
                attempt: 1,
                error: Error::new(ErrorKind::Refused, "refused"),
            },
            Event::Reconnected {
                attempt: 2,
                buffered: 4,
            },
            Event::HeartbeatTimeout {
                waited: Duration::from_secs(2),
            },
            Event::Heartbeat {
                seq: Some(3),
                rtt: None,
            },
            Event::Buffered {
                kind: DataKind::Text,
                len: 5,
                queued: 1,
            },
            Event::BufferDrop {
                kind: DataKind::Text,
                payload: Bytes::from_static(b"lost"),
                why: "buffer full".into(),
            },
            Event::Unconfirmed {
                count: 5,
                bytes: 640,
                first: Some(26),
                last: Some(30),
                more: false,
                resend: true,
            },
        ];
        let lines: Vec<String> = events
            .iter()
            .map(|e| serde_json::to_string(&to_json(Duration::from_millis(1250), e)).unwrap())
            .collect();
        let want = [
            r#"{"type":"redirect","ts":1.25,"status":301,"from":"ws://127.0.0.1:9000/","to":"ws://127.0.0.1:9001/","credentials_dropped":true}"#,
            r#"{"type":"opened","ts":1.25,"url":"ws://127.0.0.1:9001/","peer":"127.0.0.1:9001","proxy":null,"status":101,"headers":{"upgrade":"websocket","set-cookie":"[redacted]"},"subprotocol":"chat","extensions":[],"compression":null,"timings":{"dns":0.001,"tcp":0.002,"proxy":null,"tls":null,"upgrade":0.004,"total":0.01}}"#,
            r#"{"type":"sent","ts":1.25,"kind":"text","len":2,"text":"hi","fragments":2,"compressed":false,"wire_len":12}"#,
            r#"{"type":"sent","ts":1.25,"kind":"text","len":5,"text":"again","fragments":1,"compressed":false,"wire_len":11,"resent":true}"#,
            r#"{"type":"received","ts":1.25,"kind":"binary","len":2,"base64":"AQI=","compressed":true,"wire_len":5}"#,
            r#"{"type":"ping","ts":1.25,"direction":"out","len":16,"seq":1}"#,
            r#"{"type":"pong","ts":1.25,"direction":"in","len":16,"seq":1,"rtt":0.00025}"#,
            r#"{"type":"pong","ts":1.25,"direction":"out","len":0,"seq":null,"rtt":null}"#,
            r#"{"type":"expect","ts":1.25,"index":0,"pattern":"^p","matched":"pong"}"#,
            r#"{"type":"step","ts":1.25,"index":1,"kind":"expect","source":"(?P<t>o+)","outcome":"matched","start":0.01,"elapsed":0.005,"matched":"pong","captures":{"t":"o"}}"#,
            r#"{"type":"closed","ts":1.25,"code":1006,"name":"Abnormal Closure","reason":"","wasClean":false,"initiator":"none","code_valid":true,"error":"gone"}"#,
            r#"{"type":"error","ts":1.25,"kind":"http_status","message":"the server answered 403","status":403,"body":"go away"}"#,
            r#"{"type":"error","ts":1.25,"kind":"usage","message":"bad"}"#,
            r#"{"type":"warning","ts":1.25,"message":"careful"}"#,
            r#"{"type":"reconnecting","ts":1.25,"attempt":1,"max":3,"delay":0.5}"#,
            r#"{"type":"reconnect_failed","ts":1.25,"attempt":1,"kind":"refused","message":"refused"}"#,
            r#"{"type":"reconnected","ts":1.25,"attempt":2,"buffered":4}"#,
            r#"{"type":"heartbeat_timeout","ts":1.25,"waited":2.0}"#,
            r#"{"type":"heartbeat","ts":1.25,"seq":3,"rtt":null}"#,
            r#"{"type":"buffered","ts":1.25,"kind":"text","len":5,"queued":1}"#,
            r#"{"type":"buffer_drop","ts":1.25,"kind":"text","len":4,"text":"lost","why":"buffer full"}"#,
            r#"{"type":"unconfirmed","ts":1.25,"count":5,"bytes":640,"first":26,"last":30,"more":false,"resend":true}"#,
        ];
        assert_eq!(lines, want);
    }
}
