//! One Engine.IO session and the socket.io sockets in it (one per namespace joined): what
//! the server does with each packet, its output queue (bounded in bytes), and its heartbeat.
//! The transports only move packets in and out.
//!
//! What waits for a client counts toward the server's `--max-buffered` (`server::budget`), as
//! a WebSocket connection's output does: the queue, and the batch a transport has taken and is
//! still writing (`in_flight`, until `sent`). A packet that would take the total over the
//! budget ends the session as a slow consumer (or makes a bigger WebSocket holder make room),
//! so sessions whose clients stop reading cannot add up past the budget.

use super::{Hub, SESSION_BUFFER};
use crate::server::budget::Verdict;
use crate::server::{ServerEvent, Shared};
use crate::sio::engineio::{self, Packet as Eio};
use crate::sio::packet::{Kind, Packet};
use crate::ws::proto::close::{CloseEvent, Initiator};
use bytes::Bytes;
use serde_json::{Value, json};
use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Instant;
use tokio::sync::Notify;

/// An Engine.IO packet on its way out: text (type digit included) or a binary attachment.
#[derive(Debug, Clone)]
pub(super) enum Out {
    Text(String),
    Binary(Bytes),
}

impl Out {
    fn len(&self) -> usize {
        match self {
            Out::Text(t) => t.len(),
            Out::Binary(b) => b.len(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transport {
    Polling,
    /// A WebSocket has answered the probe; polling still carries output until `5`.
    Upgrading,
    WebSocket,
}

/// How a session ended: with goodbyes (a Close packet, a WebSocket Close) or cut.
#[derive(Debug, Clone)]
pub(super) struct Ending {
    pub reason: String,
    pub abrupt: bool,
}

pub(super) struct State {
    out: VecDeque<Out>,
    out_bytes: usize,
    /// Taken by a transport and not yet written (`take` .. `sent`).
    in_flight: usize,
    /// What this session has added to the `--max-buffered` total.
    held: usize,
    /// It has left the hub (ended and reported): it holds nothing for the budget any more.
    left: bool,
    pub transport: Transport,
    /// A polling GET is waiting for output.
    pub poll_held: bool,
    pong_due: bool,
    last_seen: Instant,
    pub ended: Option<Ending>,
    namespaces: HashSet<String>,
    /// A binary packet waiting for its attachments.
    partial: Option<(Packet, Vec<Bytes>)>,
    events: u64,
    messages_in: u64,
    messages_out: u64,
}

pub(super) struct Session {
    pub sid: String,
    pub id: u64,
    pub peer: SocketAddr,
    started: Instant,
    state: Mutex<State>,
    /// Output, a transport change or the end: wakes whichever transport waits.
    wake: Notify,
    /// For the `--max-buffered` budget; weak, as the server's state holds the sessions.
    shared: Weak<Shared>,
}

/// What a packet asks of others, done once the session's own lock is released.
enum After {
    Nothing,
    Broadcast(String, Vec<Out>),
}

impl Session {
    pub(super) fn new(
        id: u64,
        peer: SocketAddr,
        transport: Transport,
        shared: &Arc<Shared>,
    ) -> Session {
        Session {
            sid: new_sid(),
            id,
            peer,
            started: Instant::now(),
            state: Mutex::new(State {
                out: VecDeque::new(),
                out_bytes: 0,
                in_flight: 0,
                held: 0,
                left: false,
                transport,
                poll_held: false,
                pong_due: false,
                last_seen: Instant::now(),
                ended: None,
                namespaces: HashSet::new(),
                partial: None,
                events: 0,
                messages_in: 0,
                messages_out: 0,
            }),
            wake: Notify::new(),
            shared: Arc::downgrade(shared),
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn wake(&self) {
        self.wake.notify_waiters();
    }

    /// Take this before looking at the state: it sees every `wake` from then on, even
    /// before it is awaited.
    pub(super) fn woken(&self) -> tokio::sync::futures::Notified<'_> {
        self.wake.notified()
    }

    pub(super) fn touch(&self) {
        self.lock().last_seen = Instant::now();
    }

    /// Queue a packet for the client; a client that lets too much wait is ended.
    pub(super) fn push(&self, st: &mut State, out: Out) {
        if st.ended.is_some() {
            return;
        }
        let shared = self.shared.upgrade();
        let budget = shared.as_ref().map(|s| &s.budget);
        if st.out_bytes + out.len() > SESSION_BUFFER {
            st.ended = Some(Ending {
                reason: format!("slow consumer: over {SESSION_BUFFER} bytes waiting"),
                abrupt: true,
            });
        } else if let Some(b) = budget
            && b.admit(self.id, st.held, out.len()) == Verdict::CloseSelf
        {
            st.ended = Some(Ending {
                reason: format!(
                    "slow consumer: the server's output is over --max-buffered {}",
                    b.limit()
                ),
                abrupt: true,
            });
        } else {
            st.out_bytes += out.len();
            st.out.push_back(out);
            self.account(st);
        }
        self.wake();
    }

    /// Tell the budget what this session holds now.
    fn account(&self, st: &mut State) {
        if let Some(shared) = self.shared.upgrade() {
            // Once it has left the hub its output is dropped with it.
            let now = if st.left {
                0
            } else {
                st.out_bytes + st.in_flight
            };
            shared.budget.update(&mut st.held, now);
        }
    }

    /// Everything queued, for the transport to send; it calls `sent` once it is written.
    pub(super) fn take(&self, st: &mut State) -> Vec<Out> {
        st.in_flight += st.out_bytes;
        st.out_bytes = 0;
        st.messages_out += st.out.len() as u64;
        st.out.drain(..).collect()
    }

    /// What `take` gave the transport is written (or dropped).
    pub(super) fn sent(&self) {
        let mut st = self.lock();
        st.in_flight = 0;
        self.account(&mut st);
    }

    pub(super) fn has_output(st: &State) -> bool {
        !st.out.is_empty()
    }

    /// End the session (idempotent): it leaves the hub, and its transport says goodbye.
    pub(super) fn end(&self, hub: &Hub, shared: &Shared, reason: &str, abrupt: bool) {
        let mut st = self.lock();
        if st.ended.is_none() {
            st.ended = Some(Ending {
                reason: reason.to_string(),
                abrupt,
            });
        }
        drop(st);
        self.finish(hub, shared);
    }

    /// End the session as a socket.io server leaves: DISCONNECT for every namespace joined,
    /// then an Engine.IO Close, sent before the transport closes.
    pub(super) fn end_with_goodbye(&self, hub: &Hub, shared: &Shared, reason: &str) {
        let mut st = self.lock();
        self.goodbye(&mut st, reason);
        drop(st);
        self.finish(hub, shared);
    }

    fn goodbye(&self, st: &mut State, reason: &str) {
        if st.ended.is_some() {
            return;
        }
        let mut namespaces: Vec<String> = st.namespaces.drain().collect();
        namespaces.sort();
        for ns in namespaces {
            self.push(st, message(&Packet::new(Kind::Disconnect, &ns, None)));
        }
        self.push(st, Out::Text(Eio::Close.encode()));
        st.ended = Some(Ending {
            reason: reason.to_string(),
            abrupt: false,
        });
    }

    /// Once ended: report it and leave the hub (once).
    fn finish(&self, hub: &Hub, shared: &Shared) {
        let st = self.lock();
        let Some(ending) = st.ended.clone() else {
            return;
        };
        if hub.get(&self.sid).is_none() {
            return;
        }
        hub.remove(&self.sid);
        let (messages_in, messages_out) = (st.messages_in, st.messages_out);
        drop(st);
        // Gone from the hub: whatever it still holds is dropped with it.
        if let Some(shared) = self.shared.upgrade() {
            let mut st = self.lock();
            st.left = true;
            shared.budget.update(&mut st.held, 0);
        }
        self.wake();
        shared.emit(|| ServerEvent::Closed {
            id: self.id,
            peer: self.peer,
            // A 1006 has no reason, as in the browser: why goes in the diagnostic.
            close: if ending.abrupt {
                CloseEvent::abnormal(format!("socket.io: {}", ending.reason))
            } else {
                CloseEvent {
                    code: 1000,
                    reason: format!("socket.io: {}", ending.reason),
                    was_clean: true,
                    initiator: Initiator::None,
                    code_valid: true,
                    diagnostic: None,
                }
            },
            duration: self.started.elapsed(),
            messages_in,
            messages_out,
            rtt: None,
        });
    }

    /// One text Engine.IO packet from the client (polling or WebSocket). Probes and the
    /// upgrade are the WebSocket transport's business and never come here.
    pub(super) fn on_text(&self, hub: &Hub, shared: &Shared, text: &str) {
        let after = {
            let mut st = self.lock();
            st.last_seen = Instant::now();
            match Eio::decode(text) {
                Ok(Eio::Pong(_)) => {
                    st.pong_due = false;
                    self.wake();
                    After::Nothing
                }
                Ok(Eio::Message(m)) => self.on_socketio(&mut st, shared, m),
                Ok(Eio::Binary(b)) => self.on_attachment(&mut st, shared, Bytes::from(b)),
                Ok(Eio::Close) => {
                    drop(st);
                    self.end(hub, shared, "the client closed the session", false);
                    return;
                }
                Ok(Eio::Ping(_) | Eio::Noop | Eio::Upgrade | Eio::Open(_)) => After::Nothing,
                Err(e) => {
                    drop(st);
                    self.end(hub, shared, &format!("protocol error: {e}"), true);
                    return;
                }
            }
        };
        self.after(hub, shared, after);
    }

    /// A binary WebSocket message: an attachment of the packet before it.
    pub(super) fn on_binary(&self, hub: &Hub, shared: &Shared, data: Bytes) {
        let after = {
            let mut st = self.lock();
            st.last_seen = Instant::now();
            self.on_attachment(&mut st, shared, data)
        };
        self.after(hub, shared, after);
    }

    fn on_attachment(&self, st: &mut State, shared: &Shared, data: Bytes) -> After {
        let Some((packet, mut parts)) = st.partial.take() else {
            // Not announced by a binary packet: ignored, as socket.io servers do.
            return After::Nothing;
        };
        parts.push(data);
        if parts.len() < packet.attachments {
            st.partial = Some((packet, parts));
            return After::Nothing;
        }
        self.on_complete(st, shared, packet, parts)
    }

    fn on_socketio(&self, st: &mut State, shared: &Shared, text: &str) -> After {
        let packet = match Packet::decode(text) {
            Ok(p) => p,
            Err(e) => {
                shared.emit(|| {
                    ServerEvent::Warning(format!(
                        "socket.io client {}: {e}; packet ignored",
                        self.peer
                    ))
                });
                return After::Nothing;
            }
        };
        match packet.kind {
            Kind::Connect => {
                let reply = match (&shared.cfg.socketio, &packet.data) {
                    (Some(cfg), data)
                        if cfg.auth.is_some() && cfg.auth.as_ref() != data.as_ref() =>
                    {
                        Packet::new(
                            Kind::ConnectError,
                            &packet.namespace,
                            Some(json!({"message": "auth mismatch (--sio-auth)"})),
                        )
                    }
                    _ => {
                        st.namespaces.insert(packet.namespace.clone());
                        let sid = format!("{}{}", self.sid, st.namespaces.len());
                        Packet::new(Kind::Connect, &packet.namespace, Some(json!({"sid": sid})))
                    }
                };
                self.push(st, message(&reply));
                After::Nothing
            }
            Kind::Disconnect => {
                st.namespaces.remove(&packet.namespace);
                After::Nothing
            }
            Kind::Event | Kind::BinaryEvent if st.namespaces.contains(&packet.namespace) => {
                if packet.attachments > 0 {
                    st.partial = Some((packet, Vec::new()));
                    return After::Nothing;
                }
                self.on_complete(st, shared, packet, Vec::new())
            }
            // Acks from the client (the server asks none) and events outside a joined
            // namespace are ignored, as socket.io servers do.
            _ => After::Nothing,
        }
    }

    /// An event with its attachments: ack it, echo it (or broadcast it), apply the faults.
    fn on_complete(
        &self,
        st: &mut State,
        shared: &Shared,
        packet: Packet,
        parts: Vec<Bytes>,
    ) -> After {
        st.messages_in += 1;
        st.events += 1;
        shared.messages_in.fetch_add(1, Ordering::Relaxed);
        let with_parts = |p: &Packet| {
            let mut out = vec![message(p)];
            out.extend(parts.iter().cloned().map(Out::Binary));
            out
        };
        if let Some(id) = packet.id {
            let args = match &packet.data {
                Some(Value::Array(a)) => a.iter().skip(1).cloned().collect(),
                _ => Vec::new(),
            };
            let ack = Packet {
                kind: if packet.kind == Kind::BinaryEvent {
                    Kind::BinaryAck
                } else {
                    Kind::Ack
                },
                id: Some(id),
                data: Some(Value::Array(args)),
                ..packet.clone()
            };
            for out in with_parts(&ack) {
                self.push(st, out);
            }
        }
        let echo = Packet {
            id: None,
            ..packet.clone()
        };
        let after = if shared.cfg.broadcast {
            After::Broadcast(packet.namespace.clone(), with_parts(&echo))
        } else {
            for out in with_parts(&echo) {
                self.push(st, out);
            }
            After::Nothing
        };
        shared.messages_out.fetch_add(1, Ordering::Relaxed);
        let faults = &shared.cfg.faults;
        if faults.close_after == Some(st.events) {
            let reason = format!("closed after {} events (--close-after)", st.events);
            self.goodbye(st, &reason);
        } else if faults.drop_after == Some(st.events) {
            st.ended = Some(Ending {
                reason: format!("dropped after {} events (--drop-after)", st.events),
                abrupt: true,
            });
        }
        after
    }

    fn after(&self, hub: &Hub, shared: &Shared, after: After) {
        if let After::Broadcast(namespace, outs) = after {
            for s in hub.all() {
                let mut st = s.lock();
                if st.namespaces.contains(&namespace) {
                    for out in &outs {
                        s.push(&mut st, out.clone());
                    }
                }
            }
        }
        if self.lock().ended.is_some() {
            self.finish(hub, shared);
        }
    }

    /// Ping every interval and end the session when the pong is late; with `--no-pong` no
    /// pings are sent (the client's own timer must notice), and a session whose polling
    /// stopped ends after the same time.
    pub(super) async fn heartbeat(self: Arc<Self>, hub: Arc<Hub>, shared: Arc<Shared>) {
        let (interval, timeout) = (hub.ping_interval, hub.ping_timeout);
        let pings = !shared.cfg.faults.no_pong;
        loop {
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = self.ended_signal() => break,
            }
            if pings {
                let mut st = self.lock();
                st.pong_due = true;
                self.push(&mut st, Out::Text(Eio::Ping("").encode()));
            }
            // The next ping goes an interval after the pong, as Engine.IO servers do.
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                let woken = self.woken();
                {
                    let st = self.lock();
                    if st.ended.is_some() || (pings && !st.pong_due) {
                        break;
                    }
                }
                if tokio::time::timeout_at(deadline, woken).await.is_err() {
                    break;
                }
            }
            if self.lock().ended.is_some() {
                break;
            }
            let st = self.lock();
            let lost = if pings {
                st.pong_due
            } else {
                st.transport == Transport::Polling
                    && !st.poll_held
                    && st.last_seen.elapsed() >= interval + timeout
            };
            drop(st);
            if lost {
                shared.emit(|| ServerEvent::HeartbeatTimeout {
                    id: self.id,
                    peer: self.peer,
                    timeout,
                });
                self.end(&hub, &shared, "ping timeout", true);
            }
        }
        self.finish(&hub, &shared);
    }

    async fn ended_signal(&self) {
        loop {
            let woken = self.woken();
            if self.lock().ended.is_some() {
                return;
            }
            woken.await;
        }
    }
}

/// An Engine.IO message carrying a socket.io packet.
pub(super) fn message(p: &Packet) -> Out {
    Out::Text(format!("4{}", p.encode()))
}

/// The open packet for a new session.
pub(super) fn open_packet(sid: &str, hub: &Hub, upgrades: bool) -> String {
    Eio::Open(engineio::Open {
        sid: sid.to_string(),
        upgrades: if upgrades {
            vec!["websocket".into()]
        } else {
            Vec::new()
        },
        ping_interval: hub.ping_interval.as_millis() as u64,
        ping_timeout: hub.ping_timeout.as_millis() as u64,
        max_payload: super::MAX_PAYLOAD as u64,
    })
    .encode()
}

/// 20 URL-safe random characters, like Engine.IO's.
fn new_sid() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    (0..20)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::socketio::SocketIoConfig;
    use crate::server::{Server, ServerConfig};

    async fn setup(cfg: ServerConfig) -> (Arc<Shared>, Arc<Hub>, Arc<Session>) {
        let server = Server::bind(ServerConfig {
            socketio: Some(cfg.socketio.clone().unwrap_or_default()),
            ..cfg
        })
        .await
        .unwrap();
        let shared = server.shared.clone();
        let hub = shared.sio.clone().unwrap();
        let session = Arc::new(Session::new(
            1,
            "127.0.0.1:1".parse().unwrap(),
            Transport::Polling,
            &shared,
        ));
        hub.insert(session.clone());
        (shared, hub, session)
    }

    fn texts(session: &Session) -> Vec<String> {
        let mut st = session.lock();
        session
            .take(&mut st)
            .into_iter()
            .map(|o| match o {
                Out::Text(t) => t,
                Out::Binary(b) => format!("<{} bytes>", b.len()),
            })
            .collect()
    }

    #[tokio::test]
    async fn events_outside_a_joined_namespace_are_ignored_and_acks_carry_the_arguments() {
        let (shared, hub, s) = setup(ServerConfig::default()).await;
        s.on_text(&hub, &shared, r#"42["early"]"#);
        assert!(texts(&s).is_empty());
        s.on_text(&hub, &shared, "40/chat,");
        let connect = texts(&s);
        assert!(connect[0].starts_with(r#"40/chat,{"sid":""#), "{connect:?}");
        s.on_text(&hub, &shared, r#"42/chat,7["hi",1,{"a":true}]"#);
        assert_eq!(
            texts(&s),
            [
                r#"43/chat,7[1,{"a":true}]"#,
                r#"42/chat,["hi",1,{"a":true}]"#
            ]
        );
    }

    #[tokio::test]
    async fn a_wrong_auth_gets_connect_error() {
        let cfg = ServerConfig {
            socketio: Some(SocketIoConfig {
                auth: Some(serde_json::json!({"token": "t"})),
            }),
            ..Default::default()
        };
        let (shared, hub, s) = setup(cfg).await;
        s.on_text(&hub, &shared, r#"40{"token":"nope"}"#);
        assert_eq!(texts(&s), [r#"44{"message":"auth mismatch (--sio-auth)"}"#]);
        s.on_text(&hub, &shared, r#"40{"token":"t"}"#);
        assert!(texts(&s)[0].starts_with(r#"40{"sid":"#));
    }

    /// Sessions whose clients read nothing add up under `--max-buffered`, as WebSocket
    /// connections do: well below each session's own bound, the server's total stops them.
    #[tokio::test]
    async fn sessions_count_toward_max_buffered() {
        let limit = 1_000_000;
        let (shared, hub, a) = setup(ServerConfig {
            max_buffered: limit,
            ..Default::default()
        })
        .await;
        let b = Arc::new(Session::new(
            2,
            "127.0.0.1:2".parse().unwrap(),
            Transport::Polling,
            &shared,
        ));
        hub.insert(b.clone());
        let big = format!(r#"42["x","{}"]"#, "y".repeat(100_000));
        for s in [&a, &b] {
            s.on_text(&hub, &shared, "40");
        }
        for _ in 0..10 {
            for s in [&a, &b] {
                s.on_text(&hub, &shared, &big);
            }
            assert!(shared.budget.total() <= limit, "{}", shared.budget.total());
        }
        let ended: Vec<_> = [&a, &b]
            .iter()
            .filter_map(|s| s.lock().ended.clone())
            .collect();
        assert!(!ended.is_empty(), "2 MB waited under a 1 MB budget");
        assert!(
            ended
                .iter()
                .all(|e| e.abrupt && e.reason.contains("--max-buffered")),
            "{:?}",
            ended.iter().map(|e| &e.reason).collect::<Vec<_>>()
        );
        // Taken and written: nothing held; ended sessions hold nothing either.
        for s in [&a, &b] {
            s.end(&hub, &shared, "test over", true);
        }
        assert_eq!(shared.budget.total(), 0);
        let c = Arc::new(Session::new(
            3,
            "127.0.0.1:3".parse().unwrap(),
            Transport::Polling,
            &shared,
        ));
        hub.insert(c.clone());
        c.on_text(&hub, &shared, "40");
        c.on_text(&hub, &shared, &big);
        assert!(shared.budget.total() > 100_000);
        let mut st = c.lock();
        let taken = c.take(&mut st);
        drop(st);
        assert!(!taken.is_empty());
        assert!(shared.budget.total() > 100_000, "in flight still counts");
        c.sent();
        assert_eq!(shared.budget.total(), 0);
    }

    #[tokio::test]
    async fn a_client_that_lets_output_pile_up_is_ended() {
        let (shared, hub, s) = setup(ServerConfig::default()).await;
        s.on_text(&hub, &shared, "40");
        let big = format!(r#"42["x","{}"]"#, "y".repeat(100_000));
        for _ in 0..(SESSION_BUFFER / 100_000 + 1) {
            s.on_text(&hub, &shared, &big);
        }
        let ending = s.lock().ended.clone().expect("ended");
        assert!(ending.abrupt && ending.reason.starts_with("slow consumer"));
        assert!(hub.get(&s.sid).is_none(), "left the hub");
    }
}
