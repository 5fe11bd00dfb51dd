//! The socket.io client without I/O: fed each WebSocket message the server sent, it says what
//! to send back and what happened. It answers Engine.IO pings with pongs, joins the namespace
//! after the open packet, reassembles binary attachments, matches acks to the emits that asked
//! for them, and keeps the heartbeat deadline the socket.io client keeps (pingInterval +
//! pingTimeout after the open packet and after every ping).
//!
//! Hand-written rather than taken from `rust_socketio`: that crate owns its transport, its
//! timers and its reconnects, while wsbeat drives socket.io over its own WebSocket engine,
//! reports every heartbeat with its timing, and must bound what a hostile server can make it
//! hold. Time comes in as an argument, so the tests need no clock.

use crate::sio::engineio::{self, Open};
use crate::sio::packet::{self, Kind};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// What a hostile or broken server can make the client hold.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Binary attachments one packet may announce.
    pub max_attachments: usize,
    /// Bytes of attachments held while a packet is being reassembled.
    pub max_attachment_bytes: usize,
    /// Emits waiting for their ack.
    pub max_pending_acks: usize,
    /// Bytes of emits queued before the namespace is joined.
    pub max_queued_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attachments: 64,
            max_attachment_bytes: 16 << 20,
            max_pending_acks: 10_000,
            max_queued_bytes: 1 << 20,
        }
    }
}

/// A WebSocket message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    Text(String),
    Binary(Vec<u8>),
}

/// What the server did, in the order it did it.
#[derive(Debug, Clone, PartialEq)]
pub enum SioEvent {
    /// The Engine.IO open packet.
    Opened(Open),
    /// The server pinged and the client answered. `since_last` is the time since the previous
    /// ping (or the open packet, for the first).
    Ping { count: u64, since_last: Duration },
    /// The namespace accepted the client.
    Connected {
        namespace: String,
        sid: Option<String>,
    },
    /// The namespace refused the client (CONNECT_ERROR).
    ConnectError { namespace: String, message: String },
    /// An event; binary attachments are in `args` as `{"_binary": "<base64>"}`.
    Event {
        namespace: String,
        name: String,
        args: Vec<Value>,
        ack_id: Option<u64>,
    },
    /// The answer to an emit; `rtt` when that emit asked for it through this client.
    Ack {
        namespace: String,
        id: u64,
        args: Vec<Value>,
        rtt: Option<Duration>,
    },
    /// The server left the namespace (`41`).
    Disconnected { namespace: String },
    /// The server closed the Engine.IO session (`1`).
    Closed,
}

/// What feeding a message produced.
#[derive(Debug, Default, PartialEq)]
pub struct Output {
    pub send: Vec<Outbound>,
    pub events: Vec<SioEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    EngineIo(#[from] engineio::DecodeError),
    #[error(transparent)]
    SocketIo(#[from] packet::DecodeError),
    #[error("socket.io: a packet before the Engine.IO open packet")]
    NotOpen,
    #[error("socket.io: a binary message nobody announced ({0} bytes)")]
    UnexpectedBinary(usize),
    #[error("socket.io: a packet announces {0} attachments, more than the {1} allowed")]
    TooManyAttachments(usize, usize),
    #[error("socket.io: binary attachments over {0} bytes")]
    AttachmentsTooLarge(usize),
    #[error("socket.io: a placeholder names attachment {0}, which never came")]
    BadPlaceholder(u64),
    #[error("socket.io: {0} emits already wait for their ack")]
    TooManyPendingAcks(usize),
    #[error("socket.io: over {0} bytes of emits wait for the namespace")]
    QueueFull(usize),
    #[error("socket.io: an event name must not be empty")]
    EmptyEventName,
}

/// A BINARY_EVENT or BINARY_ACK waiting for its attachments.
struct Partial {
    packet: packet::Packet,
    parts: Vec<Vec<u8>>,
    bytes: usize,
}

pub struct Client {
    namespace: String,
    auth: Option<Value>,
    limits: Limits,
    open: Option<Open>,
    joined: bool,
    last_ping: Option<Instant>,
    deadline: Option<Instant>,
    pings: u64,
    partial: Option<Partial>,
    next_ack_id: u64,
    pending: HashMap<u64, Instant>,
    queued: VecDeque<String>,
    queued_bytes: usize,
}

impl Client {
    pub fn new(namespace: &str, auth: Option<Value>, limits: Limits) -> Client {
        Client {
            namespace: normalize_namespace(namespace),
            auth,
            limits,
            open: None,
            joined: false,
            last_ping: None,
            deadline: None,
            pings: 0,
            partial: None,
            next_ack_id: 0,
            pending: HashMap::new(),
            queued: VecDeque::new(),
            queued_bytes: 0,
        }
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn open_packet(&self) -> Option<&Open> {
        self.open.as_ref()
    }

    /// The namespace accepted us and emits go straight out.
    pub fn joined(&self) -> bool {
        self.joined
    }

    /// Pings answered so far.
    pub fn pings(&self) -> u64 {
        self.pings
    }

    /// Emits still waiting for their ack.
    pub fn pending_acks(&self) -> usize {
        self.pending.len()
    }

    /// When the server is dead unless it pings first: pingInterval + pingTimeout after the
    /// open packet or the last ping, as engine.io-client's `resetPingTimeout`.
    pub fn ping_deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// True once `now` is past the deadline: the session ends with `ping timeout`.
    pub fn ping_timed_out(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }

    /// A new connection (a reconnect): everything about the old one is forgotten but the
    /// namespace, the auth and the ack ids, which keep counting.
    pub fn reset(&mut self) {
        self.open = None;
        self.joined = false;
        self.last_ping = None;
        self.deadline = None;
        self.partial = None;
        self.pending.clear();
    }

    /// A text WebSocket message from the server.
    pub fn on_text(&mut self, text: &str, now: Instant) -> Result<Output, ClientError> {
        let mut out = Output::default();
        match engineio::Packet::decode(text)? {
            engineio::Packet::Open(open) => {
                self.arm(&open, now);
                out.events.push(SioEvent::Opened(open.clone()));
                self.open = Some(open);
                out.send.push(Outbound::Text(self.connect_packet()));
            }
            _ if self.open.is_none() => return Err(ClientError::NotOpen),
            engineio::Packet::Ping(data) => {
                let since_last = now.saturating_duration_since(self.last_ping.unwrap_or(now));
                self.pings += 1;
                if let Some(open) = self.open.clone() {
                    self.arm(&open, now);
                }
                out.send
                    .push(Outbound::Text(engineio::Packet::Pong(data).encode()));
                out.events.push(SioEvent::Ping {
                    count: self.pings,
                    since_last,
                });
            }
            engineio::Packet::Close => out.events.push(SioEvent::Closed),
            engineio::Packet::Message(data) => {
                if let Some(partial) = self.partial.take() {
                    // A new packet while attachments were due: the old one never completes.
                    return Err(ClientError::BadPlaceholder(partial.parts.len() as u64));
                }
                let p = packet::Packet::decode(data)?;
                if p.kind.is_binary() && p.attachments > 0 {
                    if p.attachments > self.limits.max_attachments {
                        return Err(ClientError::TooManyAttachments(
                            p.attachments,
                            self.limits.max_attachments,
                        ));
                    }
                    self.partial = Some(Partial {
                        packet: p,
                        parts: Vec::new(),
                        bytes: 0,
                    });
                } else {
                    self.on_packet(p, Vec::new(), now, &mut out)?;
                }
            }
            engineio::Packet::Binary(bytes) => return self.on_binary(&bytes, now),
            engineio::Packet::Pong(_) | engineio::Packet::Upgrade | engineio::Packet::Noop => {}
        }
        Ok(out)
    }

    /// A binary WebSocket message: the next attachment of the packet being reassembled.
    pub fn on_binary(&mut self, bytes: &[u8], now: Instant) -> Result<Output, ClientError> {
        let mut out = Output::default();
        let Some(partial) = self.partial.as_mut() else {
            return Err(ClientError::UnexpectedBinary(bytes.len()));
        };
        partial.bytes += bytes.len();
        if partial.bytes > self.limits.max_attachment_bytes {
            self.partial = None;
            return Err(ClientError::AttachmentsTooLarge(
                self.limits.max_attachment_bytes,
            ));
        }
        partial.parts.push(bytes.to_vec());
        if partial.parts.len() == partial.packet.attachments {
            let Partial { packet, parts, .. } = self.partial.take().expect("checked above");
            self.on_packet(packet, parts, now, &mut out)?;
        }
        Ok(out)
    }

    /// Emit `name` with `args`; with `ack`, the id the ack will carry. Before the namespace
    /// is joined the emit waits in a bounded queue, sent once it is.
    pub fn emit(
        &mut self,
        name: &str,
        args: Vec<Value>,
        ack: bool,
        now: Instant,
    ) -> Result<(Vec<Outbound>, Option<u64>), ClientError> {
        if name.is_empty() {
            return Err(ClientError::EmptyEventName);
        }
        let mut data = vec![Value::String(name.to_string())];
        data.extend(args);
        let mut p = packet::Packet::new(Kind::Event, &self.namespace, Some(Value::Array(data)));
        let id = if ack {
            if self.pending.len() >= self.limits.max_pending_acks {
                return Err(ClientError::TooManyPendingAcks(
                    self.limits.max_pending_acks,
                ));
            }
            let id = self.next_ack_id;
            self.next_ack_id += 1;
            self.pending.insert(id, now);
            p.id = Some(id);
            Some(id)
        } else {
            None
        };
        let text = engineio::Packet::Message(&p.encode()).encode();
        if self.joined {
            return Ok((vec![Outbound::Text(text)], id));
        }
        if self.queued_bytes + text.len() > self.limits.max_queued_bytes {
            if let Some(id) = id {
                self.pending.remove(&id);
            }
            return Err(ClientError::QueueFull(self.limits.max_queued_bytes));
        }
        self.queued_bytes += text.len();
        self.queued.push_back(text);
        Ok((Vec::new(), id))
    }

    /// The answer to an event that asked for an ack.
    pub fn ack(&self, namespace: &str, id: u64, args: Vec<Value>) -> Outbound {
        let mut p = packet::Packet::new(Kind::Ack, namespace, Some(Value::Array(args)));
        p.id = Some(id);
        Outbound::Text(engineio::Packet::Message(&p.encode()).encode())
    }

    /// Leave the namespace before closing: the `41` to send when it was joined.
    pub fn leave(&mut self) -> Option<Outbound> {
        self.joined.then(|| {
            self.joined = false;
            self.disconnect_packet()
        })
    }

    /// Leave the namespace (`41`), as `socket.disconnect()` does.
    pub fn disconnect_packet(&self) -> Outbound {
        let p = packet::Packet::new(Kind::Disconnect, &self.namespace, None);
        Outbound::Text(engineio::Packet::Message(&p.encode()).encode())
    }

    /// Join another namespace on the same Engine.IO session (interactive `/namespace`).
    pub fn switch_namespace(&mut self, namespace: &str) -> Vec<Outbound> {
        let mut send = Vec::new();
        if self.joined {
            send.push(self.disconnect_packet());
        }
        self.namespace = normalize_namespace(namespace);
        self.joined = false;
        if self.open.is_some() {
            send.push(Outbound::Text(self.connect_packet()));
        }
        send
    }

    fn connect_packet(&self) -> String {
        let p = packet::Packet::new(Kind::Connect, &self.namespace, self.auth.clone());
        engineio::Packet::Message(&p.encode()).encode()
    }

    fn arm(&mut self, open: &Open, now: Instant) {
        self.last_ping = Some(now);
        self.deadline =
            Some(now + Duration::from_millis(open.ping_interval.saturating_add(open.ping_timeout)));
    }

    fn on_packet(
        &mut self,
        p: packet::Packet,
        parts: Vec<Vec<u8>>,
        now: Instant,
        out: &mut Output,
    ) -> Result<(), ClientError> {
        let data = match p.data {
            Some(d) if !parts.is_empty() => Some(fill_placeholders(d, &parts)?),
            d => d,
        };
        let namespace = p.namespace;
        match p.kind {
            Kind::Connect => {
                if namespace == self.namespace {
                    self.joined = true;
                    out.send.extend(self.queued.drain(..).map(Outbound::Text));
                    self.queued_bytes = 0;
                }
                let sid = data
                    .as_ref()
                    .and_then(|d| d.get("sid"))
                    .and_then(Value::as_str)
                    .map(str::to_string);
                out.events.push(SioEvent::Connected { namespace, sid });
            }
            Kind::ConnectError => {
                let message = match &data {
                    Some(Value::Object(o)) => match o.get("message") {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => Value::Object(o.clone()).to_string(),
                    },
                    Some(Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                out.events
                    .push(SioEvent::ConnectError { namespace, message });
            }
            Kind::Disconnect => {
                if namespace == self.namespace {
                    self.joined = false;
                }
                out.events.push(SioEvent::Disconnected { namespace });
            }
            Kind::Event | Kind::BinaryEvent => {
                let Some(Value::Array(mut items)) = data else {
                    return Err(packet::DecodeError::BadEvent.into());
                };
                let name = match items.remove(0) {
                    Value::String(s) => s,
                    _ => return Err(packet::DecodeError::BadEvent.into()),
                };
                out.events.push(SioEvent::Event {
                    namespace,
                    name,
                    args: items,
                    ack_id: p.id,
                });
            }
            Kind::Ack | Kind::BinaryAck => {
                let id = p.id.ok_or(packet::DecodeError::BadId)?;
                let rtt = self
                    .pending
                    .remove(&id)
                    .map(|sent| now.saturating_duration_since(sent));
                let args = match data {
                    Some(Value::Array(items)) => items,
                    Some(other) => vec![other],
                    None => Vec::new(),
                };
                out.events.push(SioEvent::Ack {
                    namespace,
                    id,
                    args,
                    rtt,
                });
            }
        }
        Ok(())
    }
}

/// `chat` and `/chat` are the same namespace; empty is the main one.
fn normalize_namespace(ns: &str) -> String {
    if ns.is_empty() {
        "/".into()
    } else if ns.starts_with('/') {
        ns.into()
    } else {
        format!("/{ns}")
    }
}

/// Put each attachment where its placeholder is, as `{"_binary": "<base64>"}`.
fn fill_placeholders(value: Value, parts: &[Vec<u8>]) -> Result<Value, ClientError> {
    use base64::Engine;
    Ok(match value {
        Value::Object(o) if o.get("_placeholder") == Some(&Value::Bool(true)) => {
            let num = o.get("num").and_then(Value::as_u64).unwrap_or(u64::MAX);
            let part = usize::try_from(num)
                .ok()
                .and_then(|n| parts.get(n))
                .ok_or(ClientError::BadPlaceholder(num))?;
            json!({ "_binary": base64::engine::general_purpose::STANDARD.encode(part) })
        }
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| Ok((k, fill_placeholders(v, parts)?)))
                .collect::<Result<_, ClientError>>()?,
        ),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| fill_placeholders(v, parts))
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The open packet of the Engine.IO protocol document.
    const OPEN: &str = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#;

    fn text(s: &str) -> Outbound {
        Outbound::Text(s.into())
    }

    fn opened(ns: &str, auth: Option<Value>) -> (Client, Instant, Output) {
        let mut c = Client::new(ns, auth, Limits::default());
        let t0 = Instant::now();
        let out = c.on_text(OPEN, t0).unwrap();
        (c, t0, out)
    }

    #[test]
    fn the_open_packet_is_answered_with_a_namespace_connect() {
        let (c, t0, out) = opened("/", None);
        assert_eq!(out.send, [text("40")]);
        let SioEvent::Opened(open) = &out.events[0] else {
            panic!("{out:?}")
        };
        assert_eq!(open.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(c.ping_deadline(), Some(t0 + Duration::from_secs(30)));
        let (_, _, out) = opened("admin", Some(json!({"token": "123"})));
        assert_eq!(out.send, [text(r#"40/admin,{"token":"123"}"#)]);
    }

    #[test]
    fn pings_are_answered_counted_timed_and_move_the_deadline() {
        let (mut c, t0, _) = opened("/", None);
        let t1 = t0 + Duration::from_secs(25);
        let out = c.on_text("2", t1).unwrap();
        assert_eq!(out.send, [text("3")]);
        assert_eq!(
            out.events,
            [SioEvent::Ping {
                count: 1,
                since_last: Duration::from_secs(25)
            }]
        );
        assert_eq!(c.ping_deadline(), Some(t1 + Duration::from_secs(30)));
        assert!(!c.ping_timed_out(t1 + Duration::from_secs(29)));
        assert!(c.ping_timed_out(t1 + Duration::from_secs(30)));
        let out = c.on_text("2", t1 + Duration::from_secs(26)).unwrap();
        assert_eq!(c.pings(), 2);
        assert_eq!(
            out.events,
            [SioEvent::Ping {
                count: 2,
                since_last: Duration::from_secs(26)
            }]
        );
    }

    #[test]
    fn connect_and_connect_error() {
        let (mut c, t0, _) = opened("/", None);
        let out = c
            .on_text(r#"40{"sid":"oSO0OpakMV_3jnilAAAA"}"#, t0)
            .unwrap();
        assert!(c.joined());
        assert_eq!(
            out.events,
            [SioEvent::Connected {
                namespace: "/".into(),
                sid: Some("oSO0OpakMV_3jnilAAAA".into())
            }]
        );
        let (mut c, t0, _) = opened("/admin", None);
        let out = c
            .on_text(r#"44/admin,{"message":"Not authorized"}"#, t0)
            .unwrap();
        assert!(!c.joined());
        assert_eq!(
            out.events,
            [SioEvent::ConnectError {
                namespace: "/admin".into(),
                message: "Not authorized".into()
            }]
        );
    }

    #[test]
    fn emits_wait_for_the_namespace_then_go_in_order() {
        let (mut c, t0, _) = opened("/admin", None);
        let (send, id) = c.emit("foo", vec![json!("bar")], false, t0).unwrap();
        assert!(send.is_empty() && id.is_none());
        let (_, id) = c.emit("bar", vec![], true, t0).unwrap();
        assert_eq!(id, Some(0));
        let out = c.on_text("40/admin,", t0).unwrap();
        assert_eq!(
            out.send,
            [
                text(r#"42/admin,["foo","bar"]"#),
                text(r#"42/admin,0["bar"]"#)
            ]
        );
        let (send, id) = c.emit("baz", vec![json!(1)], true, t0).unwrap();
        assert_eq!((send, id), (vec![text(r#"42/admin,1["baz",1]"#)], Some(1)));
    }

    #[test]
    fn events_and_acks_with_round_trips() {
        let (mut c, t0, _) = opened("/", None);
        c.on_text("40", t0).unwrap();
        let out = c.on_text(r#"42/admin,12["bar"]"#, t0).unwrap();
        assert_eq!(
            out.events,
            [SioEvent::Event {
                namespace: "/admin".into(),
                name: "bar".into(),
                args: vec![],
                ack_id: Some(12)
            }]
        );
        assert_eq!(
            c.ack("/admin", 12, vec![json!("ok")]),
            text(r#"43/admin,12["ok"]"#)
        );
        c.emit("ping", vec![], true, t0).unwrap();
        assert_eq!(c.pending_acks(), 1);
        let out = c
            .on_text(r#"430["pong"]"#, t0 + Duration::from_millis(7))
            .unwrap();
        assert_eq!(
            out.events,
            [SioEvent::Ack {
                namespace: "/".into(),
                id: 0,
                args: vec![json!("pong")],
                rtt: Some(Duration::from_millis(7))
            }]
        );
        assert_eq!(c.pending_acks(), 0);
    }

    #[test]
    fn binary_attachments_are_reassembled() {
        let (mut c, t0, _) = opened("/", None);
        let out = c
            .on_text(r#"451-["baz",{"_placeholder":true,"num":0}]"#, t0)
            .unwrap();
        assert_eq!(out, Output::default());
        let out = c.on_binary(&[1, 2, 3, 4], t0).unwrap();
        assert_eq!(
            out.events,
            [SioEvent::Event {
                namespace: "/".into(),
                name: "baz".into(),
                args: vec![json!({"_binary": "AQIDBA=="})],
                ack_id: None
            }]
        );
        let out = c
            .on_text(r#"462-/admin,15[{"_placeholder":true,"num":1},{"a":{"_placeholder":true,"num":0}}]"#, t0)
            .unwrap();
        assert!(out.events.is_empty());
        c.on_binary(&[9], t0).unwrap();
        let out = c.on_binary(&[8], t0).unwrap();
        assert_eq!(
            out.events,
            [SioEvent::Ack {
                namespace: "/admin".into(),
                id: 15,
                args: vec![
                    json!({"_binary": "CA=="}),
                    json!({"a": {"_binary": "CQ=="}})
                ],
                rtt: None
            }]
        );
    }

    #[test]
    fn bounds_are_clear_errors() {
        let limits = Limits {
            max_attachments: 2,
            max_attachment_bytes: 4,
            max_pending_acks: 1,
            max_queued_bytes: 20,
        };
        let mut c = Client::new("/", None, limits);
        let t0 = Instant::now();
        assert_eq!(c.on_text("2", t0), Err(ClientError::NotOpen));
        c.on_text(OPEN, t0).unwrap();
        assert_eq!(
            c.on_text(r#"453-["x"]"#, t0),
            Err(ClientError::TooManyAttachments(3, 2))
        );
        c.on_text(r#"451-["x",{"_placeholder":true,"num":0}]"#, t0)
            .unwrap();
        assert_eq!(
            c.on_binary(&[0; 5], t0),
            Err(ClientError::AttachmentsTooLarge(4))
        );
        assert_eq!(c.on_binary(&[0], t0), Err(ClientError::UnexpectedBinary(1)));
        c.emit("a", vec![], true, t0).unwrap();
        assert_eq!(
            c.emit("b", vec![], true, t0),
            Err(ClientError::TooManyPendingAcks(1))
        );
        assert_eq!(
            c.emit("long-event-name", vec![], false, t0),
            Err(ClientError::QueueFull(20))
        );
        assert_eq!(
            c.emit("", vec![], false, t0),
            Err(ClientError::EmptyEventName)
        );
        c.on_text(r#"451-["x",{"_placeholder":true,"num":7}]"#, t0)
            .unwrap();
        assert_eq!(c.on_binary(&[0], t0), Err(ClientError::BadPlaceholder(7)));
    }

    #[test]
    fn server_disconnect_and_close() {
        let (mut c, t0, _) = opened("/", None);
        c.on_text("40", t0).unwrap();
        let out = c.on_text("41", t0).unwrap();
        assert!(!c.joined());
        assert_eq!(
            out.events,
            [SioEvent::Disconnected {
                namespace: "/".into()
            }]
        );
        assert_eq!(c.on_text("1", t0).unwrap().events, [SioEvent::Closed]);
    }

    #[test]
    fn switching_namespace_leaves_the_old_one() {
        let (mut c, t0, _) = opened("/", None);
        c.on_text("40", t0).unwrap();
        assert_eq!(c.switch_namespace("chat"), [text("41"), text("40/chat,")]);
        assert_eq!(c.namespace(), "/chat");
        assert!(!c.joined());
    }
}
