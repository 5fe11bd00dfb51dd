//! The WebSocket transport of a session: the upgrade probe (`2probe` → `3probe`, then `5`)
//! when the session began with polling, then packets both ways over the engine's
//! `Connection`, until the session or the socket ends.

use super::Hub;
use super::session::{Out, Session, Transport};
use crate::server::Shared;
use crate::server::accept::Io;
use crate::sio::engineio::Packet as Eio;
use crate::ws::connection::{Connection, Incoming};
use crate::ws::proto::DataKind;
use crate::ws::proto::frame::Role;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub(super) async fn run(
    io: Io,
    leftover: Vec<u8>,
    session: Arc<Session>,
    shared: Arc<Shared>,
    hub: Arc<Hub>,
) {
    let mut ws = Connection::new(io, Role::Server, leftover, super::MAX_PAYLOAD);
    let mut upgraded = session.lock().transport == Transport::WebSocket;
    loop {
        let woken = session.woken();
        let (outs, ending) = {
            let mut st = session.lock();
            let outs = if st.transport == Transport::WebSocket {
                session.take(&mut st)
            } else {
                Vec::new()
            };
            (outs, st.ended.clone())
        };
        for out in outs {
            let (kind, bytes) = match &out {
                Out::Text(t) => (DataKind::Text, t.as_bytes()),
                Out::Binary(b) => (DataKind::Binary, &b[..]),
            };
            shared
                .bytes_out
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if ws
                .send(kind, bytes, shared.cfg.faults.fragment)
                .await
                .is_err()
            {
                session.end(&hub, &shared, "transport error", true);
                return;
            }
        }
        session.sent();
        if let Some(ending) = ending {
            if upgraded && ending.abrupt {
                drop(ws);
            } else {
                // Before the upgrade, polling says the session's goodbye: this socket only ends.
                let code = if shared.stopping.load(Ordering::SeqCst) {
                    1001
                } else {
                    1000
                };
                let _ = ws.close_and_wait(code, "").await;
            }
            return;
        }
        tokio::select! {
            incoming = ws.recv() => match incoming {
                Incoming::Message { kind: DataKind::Text, payload, .. } => {
                    let Ok(text) = std::str::from_utf8(&payload) else { continue };
                    shared.bytes_in.fetch_add(payload.len() as u64, Ordering::Relaxed);
                    session.touch();
                    if upgraded {
                        session.on_text(&hub, &shared, text);
                    } else {
                        match Eio::decode(text) {
                            Ok(Eio::Ping("probe")) => {
                                let pong = Eio::Pong("probe").encode();
                                if ws.send(DataKind::Text, pong.as_bytes(), None).await.is_err() {
                                    return;
                                }
                                session.lock().transport = Transport::Upgrading;
                                session.wake();
                            }
                            Ok(Eio::Upgrade) => {
                                session.lock().transport = Transport::WebSocket;
                                upgraded = true;
                                session.wake();
                            }
                            _ => {}
                        }
                    }
                }
                Incoming::Message { kind: DataKind::Binary, payload, .. } => {
                    shared.bytes_in.fetch_add(payload.len() as u64, Ordering::Relaxed);
                    if upgraded {
                        session.on_binary(&hub, &shared, payload);
                    }
                }
                Incoming::Ping(_) | Incoming::Pong(_) => {}
                Incoming::Closed { close, .. } => {
                    ws.finish().await;
                    if upgraded {
                        // socket.io clients close the WebSocket, with no Close packet, when
                        // they leave.
                        let why = format!("transport close ({} {})", close.code, close.name());
                        session.end(&hub, &shared, &why, !close.was_clean);
                    } else {
                        // A failed probe: polling goes on.
                        let mut st = session.lock();
                        if st.transport == Transport::Upgrading {
                            st.transport = Transport::Polling;
                        }
                    }
                    return;
                }
            },
            () = woken => {}
        }
    }
}
