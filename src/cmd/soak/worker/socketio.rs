//! `soak --socketio`: a connection's session when it speaks socket.io (Engine.IO v4 over the
//! WebSocket transport). It joins first (the Engine.IO open packet, then the namespace CONNECT
//! and its `40`), then runs like the plain session: the numbered messages go out as events
//! (`42["message","…"]`, the envelope of `Envelope::socketio`) and the events that come back
//! are matched with the same loss, duplicate and reorder accounting. On top it answers the
//! server's pings (`2` → `3`; not counted as messages) and takes a server that stops pinging for
//! pingInterval + pingTimeout for dead (`ping_timeout`), as socket.io clients do.
//!
//! A separate session rather than branches in the plain one: the plain session's future is in
//! every soak connection's memory (budgeted to the byte in `worker.rs`); this one is boxed and
//! exists only with `--socketio`. The codec is `crate::sio`.

use super::{Conn, PreambleEnd, SessionEnd, Woke, Worker, lost_by};
use crate::client::heartbeat::HeartbeatState;
use crate::error::ErrorKind;
use crate::sio::engineio::Packet as Eio;
use crate::sio::packet::{Kind, Packet};
use crate::stats::soak_collector::Ev;
use crate::ws::connection::Incoming;
use crate::ws::proto::{DataKind, close};
use std::time::{Duration, Instant};
use tokio::time::sleep_until;

/// How joining went, when not to the end.
enum Join {
    /// Joined; the server must ping within this (pingInterval + pingTimeout).
    Ready(Duration),
    /// The run ended (time, or the user) during it.
    Stopped,
    End(SessionEnd),
}

/// What one inbound message is to the socket.io layer.
enum Layer {
    /// An Engine.IO ping: answer it.
    Ping,
    /// Engine.IO's own (pong, noop, upgrade): neither ours nor the application's.
    Skip,
    /// The server ended the session (`41` in our namespace, Engine.IO close `1`).
    Disconnect,
    /// An event or anything else: for the echo matching.
    Data,
}

fn layer(inbound: &Incoming, namespace: &str) -> Layer {
    let Incoming::Message {
        kind: DataKind::Text,
        payload,
        ..
    } = inbound
    else {
        return Layer::Data;
    };
    let Ok(text) = std::str::from_utf8(payload) else {
        return Layer::Data;
    };
    match Eio::decode(text) {
        Ok(Eio::Ping(_)) => Layer::Ping,
        Ok(Eio::Pong(_) | Eio::Noop | Eio::Upgrade | Eio::Open(_)) => Layer::Skip,
        Ok(Eio::Close) => Layer::Disconnect,
        Ok(Eio::Message(m)) if m.starts_with('1') => match Packet::decode(m) {
            Ok(p) if p.kind == Kind::Disconnect && p.namespace == namespace => Layer::Disconnect,
            _ => Layer::Data,
        },
        _ => Layer::Data,
    }
}

/// An Engine.IO pong for a ping with `data` (empty from socket.io servers).
fn pong(inbound: &Incoming) -> Vec<u8> {
    let mut out = b"3".to_vec();
    if let Incoming::Message { payload, .. } = inbound {
        out.extend_from_slice(payload.get(1..).unwrap_or_default());
    }
    out
}

fn lost(kind: ErrorKind) -> SessionEnd {
    SessionEnd::Lost {
        kind,
        close_code: None,
    }
}

impl Worker {
    /// With `--socketio`, what the preamble and the end-of-run drain must not take for data:
    /// an Engine.IO ping is answered (`true`: handled), its other control packets are dropped.
    /// A failed answer is left to the next receive to find.
    pub(super) async fn sio_control(&mut self, conn: &mut Conn, inbound: &Incoming) -> bool {
        let Some(sio) = &self.sh.socketio else {
            return false;
        };
        match layer(inbound, &sio.namespace) {
            Layer::Ping => {
                let _ = conn.send(DataKind::Text, &pong(inbound), None).await;
                true
            }
            Layer::Skip => true,
            Layer::Disconnect | Layer::Data => false,
        }
    }

    pub(super) async fn sio_session(&mut self, conn: &mut Conn) -> SessionEnd {
        let limit = match Box::pin(self.sio_join(conn)).await {
            Join::Ready(limit) => limit,
            Join::Stopped => return Box::pin(self.finish(conn)).await,
            Join::End(end) => return Box::pin(self.closed(conn, end)).await,
        };
        // The preamble's steps are raw Engine.IO text here (`42["auth",…]`).
        if self.sh.preamble.is_some() {
            match Box::pin(self.preamble(conn)).await {
                Ok(()) => self.ev(Ev::PreambleDone),
                Err(PreambleEnd::Stopped) => return Box::pin(self.finish(conn)).await,
                Err(PreambleEnd::Failed) => {
                    return Box::pin(self.closed(conn, SessionEnd::PreambleFailed)).await;
                }
            }
        }
        // The schedule starts after the first join, so a slow join is not a loss.
        self.start_schedule();
        if let Err(e) = Box::pin(self.replay(conn)).await {
            self.at_loss(conn);
            return lost_by(&e);
        }
        let mut hb = self
            .sh
            .heartbeat
            .as_ref()
            .map(|_| HeartbeatState::new(Instant::now()));
        let sh = self.sh.clone();
        let namespace = sh.socketio.as_ref().map_or("/", |s| s.namespace.as_str());
        let mut last_ping = Instant::now();
        let mut stop = self.sh.stop.clone();
        let stopped = stop.changed();
        tokio::pin!(stopped);
        let timer = sleep_until(self.sh.end.into());
        tokio::pin!(timer);
        loop {
            let dead_at = last_ping + limit;
            let deadline = self
                .wake_at(conn, hb.as_ref())
                .map_or(dead_at, |d| d.min(dead_at))
                .min(self.sh.end);
            if *self.sh.stop.borrow() {
                return Box::pin(self.finish(conn)).await;
            }
            if timer.deadline() != deadline.into() {
                timer.as_mut().reset(deadline.into());
            }
            let woke = tokio::select! {
                _ = &mut stopped => Woke::Stop,
                inbound = conn.recv() => Woke::Inbound(inbound),
                _ = &mut timer => Woke::Timer,
            };
            let end = match woke {
                Woke::Stop => return Box::pin(self.finish(conn)).await,
                Woke::Inbound(inbound) => match layer(&inbound, namespace) {
                    Layer::Ping => {
                        last_ping = Instant::now();
                        let answer = pong(&inbound);
                        Box::pin(conn.send(DataKind::Text, &answer, None))
                            .await
                            .err()
                            .map(|e| lost_by(&e))
                    }
                    Layer::Skip => None,
                    Layer::Disconnect => Some(lost(ErrorKind::SioDisconnect)),
                    Layer::Data => self.inbound(inbound, hb.as_mut()),
                },
                Woke::Timer if Instant::now() >= self.sh.end => {
                    return Box::pin(self.finish(conn)).await;
                }
                Woke::Timer if Instant::now() >= dead_at => Some(lost(ErrorKind::PingTimeout)),
                // Queued: the next `recv` writes it.
                Woke::Timer => self.on_timer(conn, hb.as_mut()),
            };
            if let Some(end) = end {
                return Box::pin(self.closed(conn, end)).await;
            }
        }
    }

    /// The Engine.IO open packet, then the namespace CONNECT and the server's answer, within
    /// `--step-timeout`. Pings meanwhile are answered; anything else is not ours yet.
    async fn sio_join(&mut self, conn: &mut Conn) -> Join {
        let sh = self.sh.clone();
        let Some(sio) = &sh.socketio else {
            return Join::Ready(Duration::MAX);
        };
        let deadline = (Instant::now() + sio.timeout).min(sh.end);
        let mut stop = sh.stop.clone();
        let mut limit = None;
        loop {
            let inbound = tokio::select! {
                inbound = conn.recv() => inbound,
                _ = sleep_until(deadline.into()) => {
                    if Instant::now() >= sh.end {
                        return Join::Stopped;
                    }
                    return Join::End(lost(ErrorKind::Timeout));
                }
                _ = stop.changed() => return Join::Stopped,
            };
            let payload = match &inbound {
                Incoming::Message {
                    kind: DataKind::Text,
                    payload,
                    ..
                } => payload,
                Incoming::Closed { close, error } => {
                    return Join::End(SessionEnd::Lost {
                        kind: error.as_ref().map_or(ErrorKind::CloseCode, |e| e.kind()),
                        close_code: (close.code != close::ABNORMAL).then_some(close.code),
                    });
                }
                _ => continue,
            };
            let Ok(text) = std::str::from_utf8(payload) else {
                continue;
            };
            let answer: Option<Vec<u8>> = match Eio::decode(text) {
                Ok(Eio::Open(open)) if limit.is_none() => {
                    limit = Some(Duration::from_millis(
                        open.ping_interval.saturating_add(open.ping_timeout),
                    ));
                    Some(sio.connect.clone().into_bytes())
                }
                Ok(Eio::Ping(_)) => Some(pong(&inbound)),
                Ok(Eio::Close) => return Join::End(lost(ErrorKind::SioDisconnect)),
                Ok(Eio::Message(m)) => match (limit, Packet::decode(m)) {
                    (Some(limit), Ok(p)) if p.namespace == sio.namespace => match p.kind {
                        Kind::Connect => return Join::Ready(limit),
                        Kind::ConnectError => {
                            return Join::End(lost(ErrorKind::SioConnectError));
                        }
                        Kind::Disconnect => return Join::End(lost(ErrorKind::SioDisconnect)),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            };
            if let Some(answer) = answer
                && let Err(e) = conn.send(DataKind::Text, &answer, None).await
            {
                return Join::End(lost_by(&e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::proto::Wire;

    fn text(s: &str) -> Incoming {
        Incoming::Message {
            kind: DataKind::Text,
            payload: bytes::Bytes::copy_from_slice(s.as_bytes()),
            wire: Wire::default(),
        }
    }

    #[test]
    fn engine_io_control_packets_are_the_layers_own() {
        assert!(matches!(layer(&text("2"), "/"), Layer::Ping));
        assert_eq!(pong(&text("2")), b"3");
        assert_eq!(pong(&text("2probe")), b"3probe");
        assert!(matches!(layer(&text("3"), "/"), Layer::Skip));
        assert!(matches!(layer(&text("6"), "/"), Layer::Skip));
        assert!(matches!(layer(&text("1"), "/"), Layer::Disconnect));
        assert!(matches!(layer(&text("41"), "/"), Layer::Disconnect));
        assert!(matches!(
            layer(&text("41/chat,"), "/chat"),
            Layer::Disconnect
        ));
        // Another namespace's disconnect is not ours; events are data.
        assert!(matches!(layer(&text("41/chat,"), "/"), Layer::Data));
        assert!(matches!(
            layer(&text(r#"42["message","x"]"#), "/"),
            Layer::Data
        ));
        assert!(matches!(layer(&text("garbage"), "/"), Layer::Data));
    }
}
