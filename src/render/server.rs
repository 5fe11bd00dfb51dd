//! `wsbeat echo-server`'s log: per-connection lines for people on stderr, or NDJSON events on
//! stdout (`listening`, `opened`, `message`, `heartbeat_timeout`, `closed`, `rejected`,
//! `shutdown`, `warning`, `summary`), in the shapes the README documents.

use super::human::palette;
use super::ndjson::{self, secs};
use super::{OutputConfig, units};
use crate::server::{Injected, ServerEvent, ServerSummary, tls};
use crate::ws::proto::close::CloseEvent;
use serde_json::{Map, Value, json};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio::sync::mpsc;

/// The log of a running server. Human lines go to stderr, one write each; NDJSON goes to
/// stdout through the one writer, and when stdout goes away the server keeps serving.
pub struct ServerLog {
    output: OutputConfig,
    start: Instant,
    /// stdout went away (closed pipe): keep serving, stop writing there.
    stdout_gone: bool,
}

impl ServerLog {
    pub fn new(output: OutputConfig, start: Instant) -> Self {
        colored::control::set_override(output.color);
        ServerLog {
            output,
            start,
            stdout_gone: false,
        }
    }

    /// Render events until the summary, the server's last.
    pub fn consume(mut self, mut rx: mpsc::Receiver<ServerEvent>) {
        while let Some(event) = rx.blocking_recv() {
            let last = matches!(event, ServerEvent::Summary(_));
            self.event(&event);
            if last {
                break;
            }
        }
    }

    pub fn listening(&mut self, url: &str, self_signed: Option<&(PathBuf, String)>) {
        if self.output.json {
            self.json("listening", listening_fields(url, self_signed));
        } else {
            self.stdout(format!("listening on {url}\n").as_bytes());
        }
    }

    fn event(&mut self, event: &ServerEvent) {
        if self.output.json {
            let (ty, fields) = to_json(event);
            self.json(ty, fields);
            if let ServerEvent::Warning(w) = event {
                eprintln!("wsbeat: warning: {w}");
            }
        } else {
            self.human(&human_line(event));
        }
    }

    fn json(&mut self, ty: &str, fields: Value) {
        if self.stdout_gone {
            return;
        }
        let line = ndjson::object(ty, self.start.elapsed(), fields);
        if let Err(e) = ndjson::write_line(&line) {
            super::stdout_failed(&e);
            self.stdout_gone = true;
        }
    }

    fn stdout(&mut self, bytes: &[u8]) {
        if self.stdout_gone {
            return;
        }
        if let Err(e) = super::write_stdout(bytes) {
            super::stdout_failed(&e);
            self.stdout_gone = true;
        }
    }

    /// Where the `--tls-self-signed` certificate is, and its fingerprint.
    pub fn self_signed(&mut self, pem: &Path, sha256: &str, port: u16) {
        self.human(&format!(
            "{} self-signed certificate for {}: SHA-256 {sha256}",
            palette::info("tls:"),
            tls::SELF_SIGNED_NAMES.join(", ")
        ));
        self.human(&format!(
            "{} PEM written to {} (trust it with: wsbeat connect --cacert {} wss://localhost:{port}/)",
            palette::info("tls:"),
            pem.display(),
            pem.display(),
        ));
    }

    /// One write per line, so lines never interleave.
    fn human(&mut self, line: &str) {
        let _ = io::stderr()
            .lock()
            .write_all(format!("{line}\n").as_bytes());
    }

    /// `--listen unix:PATH`: who may connect (the file's mode) and that it goes away.
    pub fn unix_socket(&mut self, path: &Path, mode: u32) {
        self.human(&format!(
            "{} socket {} has mode {mode:03o} (from the umask): connecting needs write permission; removed on exit",
            palette::info("unix:"),
            path.display()
        ));
    }

    pub fn warning(&mut self, message: &str) {
        if self.output.json {
            self.json("warning", ndjson::warning(message));
        }
        self.human(&format!("{} {message}", palette::warn("wsbeat: warning:")));
    }
}

fn listening_fields(url: &str, self_signed: Option<&(PathBuf, String)>) -> Value {
    let mut v = json!({ "url": url });
    if let Some((path, sha256)) = self_signed {
        v["tls_cert"] = json!(path.display().to_string());
        v["sha256"] = json!(sha256);
    }
    v
}

fn close_label(close: &CloseEvent) -> colored::ColoredString {
    if close.is_normal() {
        palette::good("closed")
    } else if close.was_clean {
        palette::warn("closed")
    } else {
        palette::bad("closed")
    }
}

fn human_line(event: &ServerEvent) -> String {
    use crate::error::escape_controls;
    match event {
        ServerEvent::Opened {
            id,
            peer,
            path,
            subprotocol,
            compression,
        } => {
            // The path is the client's bytes; it may carry what would drive our terminal.
            let mut line = format!(
                "{} #{id} {peer} path={}",
                palette::info("opened"),
                escape_controls(path, false)
            );
            if let Some(p) = subprotocol {
                line.push_str(&format!(" subprotocol={}", escape_controls(p, false)));
            }
            if let Some(c) = compression {
                line.push_str(&format!(" compression=\"{c}\""));
            }
            line
        }
        ServerEvent::Message { id, kind, len } => {
            palette::dim(&format!("message #{id} {} {len} bytes", kind.as_str())).to_string()
        }
        ServerEvent::HeartbeatTimeout { id, peer, timeout } => format!(
            "{} #{id} {peer}: no pong within {}, terminating",
            palette::bad("heartbeat timeout"),
            humantime::format_duration(*timeout)
        ),
        ServerEvent::Closed {
            id,
            close,
            duration,
            messages_in,
            messages_out,
            rtt,
            ..
        } => {
            let mut line = format!(
                "{} #{id} code={} ({}) reason={:?} wasClean={} initiator={} duration={} messages={messages_in}/{messages_out}",
                close_label(close),
                close.code,
                close.name(),
                close.reason,
                close.was_clean,
                close.initiator.as_str(),
                units::duration(*duration),
            );
            if let Some(rtt) = rtt {
                line.push_str(&format!(" rtt={}", units::duration(*rtt)));
            }
            if let Some(why) = &close.diagnostic {
                line.push_str(&format!(" error={why:?}"));
            }
            if !close.code_valid {
                line.push_str(&format!(
                    " {}",
                    palette::bad("(the client's Close frame broke RFC 6455)")
                ));
            }
            line
        }
        ServerEvent::Rejected {
            peer,
            path,
            status,
            reason,
        } => {
            let mut line = match status {
                Some(s) => format!("{} {peer}", palette::warn(&format!("rejected {s}"))),
                None => format!("{} {peer}", palette::warn("dropped")),
            };
            // Both may quote the client's request.
            if let Some(p) = path {
                line.push_str(&format!(" path={}", escape_controls(p, false)));
            }
            line.push_str(&format!(": {}", escape_controls(reason, false)));
            line
        }
        ServerEvent::ShuttingDown { connections } => format!(
            "{} sending 1001 (Going Away) to {connections} client{}",
            palette::info("shutting down:"),
            if *connections == 1 { "" } else { "s" }
        ),
        ServerEvent::Warning(w) => format!("{} {w}", palette::warn("wsbeat: warning:")),
        ServerEvent::Redis {
            up: false,
            target,
            detail,
        } => format!(
            "{} Redis at {target} is unreachable ({}): broadcast to other instances and \
             replay are degraded, local echo goes on",
            palette::warn("wsbeat: warning:"),
            crate::error::escape_controls(detail, false)
        ),
        ServerEvent::Redis {
            up: true, target, ..
        } => format!(
            "{} Redis at {target} is back: broadcast and replay resume",
            palette::info("redis:")
        ),
        ServerEvent::Summary(s) => summary_line(s),
    }
}

fn summary_line(s: &ServerSummary) -> String {
    let mut line = format!(
        "{} {} connection{} (peak {}), messages in/out {}/{}, bytes in/out {}/{}",
        palette::info("summary:"),
        s.connections,
        if s.connections == 1 { "" } else { "s" },
        s.peak_connections,
        s.messages_in,
        s.messages_out,
        units::bytes(s.bytes_in),
        units::bytes(s.bytes_out),
    );
    if s.rejected > 0 {
        line.push_str(&format!(", {} rejected", s.rejected));
    }
    if s.events_dropped > 0 {
        line.push_str(&format!(
            ", {} log events dropped (output too slow)",
            s.events_dropped
        ));
    }
    let i = &s.injected;
    if *i != Injected::default() {
        line.push_str(&format!(
            "; injected: dropped {}, duplicated {}, reordered {}, corrupted {}",
            i.dropped, i.duplicated, i.reordered, i.corrupted
        ));
    }
    if let Some(r) = &s.scale {
        if r.redis {
            line.push_str(&format!(
                "; redis: rtt avg {:.2} ms max {:.2} ms, {} outage{}, published {}, publish \
                 failures {}, received {}",
                r.rtt_avg_us as f64 / 1000.0,
                r.rtt_max_us as f64 / 1000.0,
                r.outages,
                if r.outages == 1 { "" } else { "s" },
                r.published,
                r.publish_failures,
                r.received
            ));
        }
        line.push_str(&format!(
            "; replay: stored {}, store failures {}, {} reconnects replayed {} messages ({} \
             failed), {} missed messages cut",
            r.stored, r.store_failures, r.replays, r.replayed, r.replay_failures, r.replay_cut
        ));
    }
    line
}

fn to_json(event: &ServerEvent) -> (&'static str, Value) {
    match event {
        ServerEvent::Opened {
            id,
            peer,
            path,
            subprotocol,
            compression,
        } => (
            "opened",
            json!({"id": id, "peer": peer.to_string(), "path": path, "subprotocol": subprotocol, "compression": compression}),
        ),
        ServerEvent::Message { id, kind, len } => (
            "message",
            json!({"id": id, "kind": kind.as_str(), "len": len}),
        ),
        ServerEvent::HeartbeatTimeout { id, peer, timeout } => (
            "heartbeat_timeout",
            json!({"id": id, "peer": peer.to_string(), "timeout": secs(*timeout)}),
        ),
        ServerEvent::Closed {
            id,
            peer,
            close,
            duration,
            messages_in,
            messages_out,
            rtt,
        } => {
            let mut m = Map::new();
            m.insert("id".into(), json!(id));
            m.insert("peer".into(), json!(peer.to_string()));
            m.append(&mut ndjson::close_fields(close));
            m.insert("duration".into(), json!(secs(*duration)));
            m.insert("messages_in".into(), json!(messages_in));
            m.insert("messages_out".into(), json!(messages_out));
            m.insert("rtt".into(), ndjson::opt_secs(*rtt));
            ("closed", Value::Object(m))
        }
        ServerEvent::Rejected {
            peer,
            path,
            status,
            reason,
        } => (
            "rejected",
            json!({"peer": peer.to_string(), "path": path, "status": status, "reason": reason}),
        ),
        ServerEvent::ShuttingDown { connections } => {
            ("shutdown", json!({"connections": connections}))
        }
        ServerEvent::Warning(w) => ("warning", ndjson::warning(w)),
        ServerEvent::Redis { up, target, detail } => (
            "redis",
            json!({"state": if *up { "up" } else { "down" }, "target": target, "detail": detail}),
        ),
        ServerEvent::Summary(s) => ("summary", summary_json(s)),
    }
}

fn summary_json(s: &ServerSummary) -> Value {
    let mut v = json!({
        "connections": s.connections,
        "peak_connections": s.peak_connections,
        "messages_in": s.messages_in,
        "messages_out": s.messages_out,
        "bytes_in": s.bytes_in,
        "bytes_out": s.bytes_out,
        "rejected": s.rejected,
        "events_dropped": s.events_dropped,
        "injected": {
            "dropped": s.injected.dropped,
            "duplicated": s.injected.duplicated,
            "reordered": s.injected.reordered,
            "corrupted": s.injected.corrupted,
        },
    });
    if let Some(r) = &s.scale {
        v["scale"] = json!({
            "redis": r.redis,
            "rtt_samples": r.rtt_samples,
            "rtt_avg": r.rtt_avg_us as f64 / 1e6,
            "rtt_max": r.rtt_max_us as f64 / 1e6,
            "outages": r.outages,
            "published": r.published,
            "publish_failures": r.publish_failures,
            "received": r.received,
            "stored": r.stored,
            "store_failures": r.store_failures,
            "replays": r.replays,
            "replayed": r.replayed,
            "replay_failures": r.replay_failures,
            "replay_cut": r.replay_cut,
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::proto::DataKind;
    use crate::ws::proto::close::Initiator;
    use std::time::Duration;

    fn peer() -> std::net::SocketAddr {
        "127.0.0.1:5555".parse().unwrap()
    }

    #[test]
    fn human_lines_follow_the_documented_shapes() {
        colored::control::set_override(false);
        assert_eq!(
            human_line(&ServerEvent::Opened {
                id: 3,
                peer: peer(),
                path: "/x".into(),
                subprotocol: Some("chat".into()),
                compression: None,
            }),
            "opened #3 127.0.0.1:5555 path=/x subprotocol=chat"
        );
        assert_eq!(
            human_line(&ServerEvent::HeartbeatTimeout {
                id: 3,
                peer: peer(),
                timeout: Duration::from_secs(1)
            }),
            "heartbeat timeout #3 127.0.0.1:5555: no pong within 1s, terminating"
        );
        let closed = human_line(&ServerEvent::Closed {
            id: 3,
            peer: peer(),
            close: CloseEvent {
                code: 1000,
                reason: String::new(),
                was_clean: true,
                initiator: Initiator::Client,
                code_valid: true,
                diagnostic: None,
            },
            duration: Duration::from_millis(1200),
            messages_in: 4,
            messages_out: 4,
            rtt: None,
        });
        assert_eq!(
            closed,
            "closed #3 code=1000 (Normal Closure) reason=\"\" wasClean=true initiator=client duration=1.20 s messages=4/4"
        );
    }

    #[test]
    fn client_bytes_in_human_lines_are_escaped() {
        let line = human_line(&ServerEvent::Rejected {
            peer: peer(),
            path: Some("/\u{9b}2J".into()),
            status: Some(400),
            reason: "bad header '\x1b]0;x\x07'".into(),
        });
        assert!(!line.contains(['\x1b', '\x07', '\u{9b}']), "{line:?}");
        assert!(
            line.ends_with(r"path=/\x9b2J: bad header '\x1b]0;x\x07'"),
            "{line:?}"
        );
    }

    #[test]
    fn json_events_carry_the_contract_fields() {
        let (ty, v) = to_json(&ServerEvent::Closed {
            id: 1,
            peer: peer(),
            close: CloseEvent::abnormal("gone"),
            duration: Duration::from_millis(1500),
            messages_in: 2,
            messages_out: 1,
            rtt: Some(Duration::from_millis(3)),
        });
        assert_eq!(ty, "closed");
        for key in [
            "id",
            "peer",
            "code",
            "name",
            "reason",
            "wasClean",
            "initiator",
            "duration",
            "messages_in",
            "messages_out",
            "rtt",
        ] {
            assert!(v.get(key).is_some(), "closed lacks {key}");
        }
        assert_eq!(v["code"], 1006);
        assert_eq!(v["duration"], 1.5);
        assert_eq!(v["rtt"], 0.003);
        let (ty, v) = to_json(&ServerEvent::Message {
            id: 1,
            kind: DataKind::Binary,
            len: 64,
        });
        assert_eq!((ty, v["kind"].as_str()), ("message", Some("binary")));
        let (ty, v) = to_json(&ServerEvent::Summary(ServerSummary::default()));
        assert_eq!(ty, "summary");
        for key in [
            "connections",
            "peak_connections",
            "messages_in",
            "messages_out",
            "bytes_in",
            "bytes_out",
        ] {
            assert_eq!(v[key], 0, "{key}");
        }
    }

    /// The README's echo-server NDJSON, byte for byte (`ts` aside, which `ndjson::object` adds).
    #[test]
    fn every_server_line_is_as_documented() {
        let events = vec![
            ServerEvent::Opened {
                id: 1,
                peer: peer(),
                path: "/".into(),
                subprotocol: None,
                compression: None,
            },
            ServerEvent::Message {
                id: 1,
                kind: DataKind::Text,
                len: 5,
            },
            ServerEvent::HeartbeatTimeout {
                id: 1,
                peer: peer(),
                timeout: Duration::from_millis(1500),
            },
            ServerEvent::Closed {
                id: 1,
                peer: peer(),
                close: CloseEvent {
                    code: 4001,
                    reason: "bye".into(),
                    was_clean: true,
                    initiator: Initiator::Server,
                    code_valid: true,
                    diagnostic: None,
                },
                duration: Duration::from_secs(2),
                messages_in: 3,
                messages_out: 2,
                rtt: None,
            },
            ServerEvent::Rejected {
                peer: peer(),
                path: Some("/x".into()),
                status: Some(503),
                reason: "too many".into(),
            },
            ServerEvent::Rejected {
                peer: peer(),
                path: None,
                status: None,
                reason: "handshake timeout".into(),
            },
            ServerEvent::ShuttingDown { connections: 2 },
            ServerEvent::Warning("careful".into()),
            ServerEvent::Summary(ServerSummary {
                connections: 1,
                peak_connections: 1,
                messages_in: 3,
                messages_out: 2,
                bytes_in: 30,
                bytes_out: 20,
                rejected: 1,
                events_dropped: 0,
                injected: Injected {
                    dropped: 4,
                    duplicated: 3,
                    reordered: 2,
                    corrupted: 1,
                },
                scale: None,
            }),
            ServerEvent::Redis {
                up: false,
                target: "redis://***@127.0.0.1:6379".into(),
                detail: "broken pipe".into(),
            },
            ServerEvent::Summary(ServerSummary {
                scale: Some(crate::server::scaleout::ScaleSummary {
                    redis: true,
                    rtt_samples: 4,
                    rtt_avg_us: 250,
                    rtt_max_us: 500,
                    outages: 1,
                    published: 9,
                    publish_failures: 2,
                    received: 7,
                    stored: 9,
                    store_failures: 2,
                    replays: 1,
                    replayed: 5,
                    replay_failures: 0,
                    replay_cut: 3,
                }),
                ..Default::default()
            }),
        ];
        let mut lines: Vec<String> = events
            .iter()
            .map(|e| {
                let (ty, v) = to_json(e);
                format!("{ty} {}", serde_json::to_string(&v).unwrap())
            })
            .collect();
        let pem = (PathBuf::from("/tmp/c.pem"), "ab:cd".to_string());
        for tls in [None, Some(&pem)] {
            let v = listening_fields("wss://127.0.0.1:9001/", tls);
            lines.push(format!("listening {}", serde_json::to_string(&v).unwrap()));
        }
        let want = [
            r#"opened {"id":1,"peer":"127.0.0.1:5555","path":"/","subprotocol":null,"compression":null}"#,
            r#"message {"id":1,"kind":"text","len":5}"#,
            r#"heartbeat_timeout {"id":1,"peer":"127.0.0.1:5555","timeout":1.5}"#,
            r#"closed {"id":1,"peer":"127.0.0.1:5555","code":4001,"name":"application","reason":"bye","wasClean":true,"initiator":"server","code_valid":true,"error":null,"duration":2.0,"messages_in":3,"messages_out":2,"rtt":null}"#,
            r#"rejected {"peer":"127.0.0.1:5555","path":"/x","status":503,"reason":"too many"}"#,
            r#"rejected {"peer":"127.0.0.1:5555","path":null,"status":null,"reason":"handshake timeout"}"#,
            r#"shutdown {"connections":2}"#,
            r#"warning {"message":"careful"}"#,
            r#"summary {"connections":1,"peak_connections":1,"messages_in":3,"messages_out":2,"bytes_in":30,"bytes_out":20,"rejected":1,"events_dropped":0,"injected":{"dropped":4,"duplicated":3,"reordered":2,"corrupted":1}}"#,
            r#"redis {"state":"down","target":"redis://***@127.0.0.1:6379","detail":"broken pipe"}"#,
            r#"summary {"connections":0,"peak_connections":0,"messages_in":0,"messages_out":0,"bytes_in":0,"bytes_out":0,"rejected":0,"events_dropped":0,"injected":{"dropped":0,"duplicated":0,"reordered":0,"corrupted":0},"scale":{"redis":true,"rtt_samples":4,"rtt_avg":0.00025,"rtt_max":0.0005,"outages":1,"published":9,"publish_failures":2,"received":7,"stored":9,"store_failures":2,"replays":1,"replayed":5,"replay_failures":0,"replay_cut":3}}"#,
            r#"listening {"url":"wss://127.0.0.1:9001/"}"#,
            r#"listening {"url":"wss://127.0.0.1:9001/","tls_cert":"/tmp/c.pem","sha256":"ab:cd"}"#,
        ];
        assert_eq!(lines, want);
    }
}
