//! `echo-server --socketio`: a socket.io v4 server (Engine.IO v4, socket.io protocol v5) for
//! testing socket.io clients, on the packet codec in `crate::sio`.
//!
//! A socket.io client starts with HTTP long-polling and upgrades to a WebSocket, and its
//! requests may come over several TCP connections: so the state lives in sessions found by
//! their sid (`session`), and the transports only carry packets: `http` answers the polling
//! GETs and POSTs and hands upgrade requests to `transport_ws`. Every session is bounded: its
//! output buffer in bytes, the server's session count by `--max-connections`, and a session
//! that stops answering pings (or, when pings are off, stops polling) ends after
//! pingInterval + pingTimeout.

mod http;
mod session;
mod transport_ws;

use super::Shared;
use super::accept::Io;
use serde_json::Value;
use session::Session;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// socket.io's own defaults, used when `--ping-interval`/`--ping-timeout` are not given.
pub const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(25);
pub const DEFAULT_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// The largest polling payload or WebSocket message a client may send (Engine.IO's default).
pub const MAX_PAYLOAD: usize = 1_000_000;
/// Output a session may have waiting for its client; beyond it the session is ended.
pub const SESSION_BUFFER: usize = 4 * MAX_PAYLOAD;

/// What `--socketio` adds to the server's configuration.
#[derive(Debug, Clone, Default)]
pub struct SocketIoConfig {
    /// `--sio-auth JSON`: a CONNECT whose auth payload differs gets CONNECT_ERROR.
    pub auth: Option<Value>,
}

/// The sessions of one server, by sid.
pub(super) struct Hub {
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
}

impl Hub {
    pub(super) fn new(shared_cfg: &super::ServerConfig) -> Hub {
        Hub {
            sessions: Mutex::new(HashMap::new()),
            ping_interval: shared_cfg.ping_interval.unwrap_or(DEFAULT_PING_INTERVAL),
            // As for WebSocket pings: the timeout defaults to a given interval.
            ping_timeout: shared_cfg
                .ping_timeout
                .or(shared_cfg.ping_interval)
                .unwrap_or(DEFAULT_PING_TIMEOUT),
        }
    }

    fn get(&self, sid: &str) -> Option<Arc<Session>> {
        self.sessions.lock().ok()?.get(sid).cloned()
    }

    fn all(&self) -> Vec<Arc<Session>> {
        self.sessions
            .lock()
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default()
    }

    pub(super) fn len(&self) -> usize {
        self.sessions.lock().map(|m| m.len()).unwrap_or(0)
    }

    fn insert(&self, s: Arc<Session>) {
        if let Ok(mut m) = self.sessions.lock() {
            m.insert(s.sid.clone(), s);
        }
    }

    /// Server shutdown: every session ends with its goodbye (DISCONNECT, Engine.IO Close;
    /// on a WebSocket then Close 1001).
    pub(super) fn shut_down(&self, shared: &Shared) {
        for s in self.all() {
            s.end_with_goodbye(self, shared, "server shutting down");
        }
    }

    fn remove(&self, sid: &str) {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(sid);
        }
    }
}

/// Serve one TCP (or TLS) connection of a socket.io server: HTTP requests until it closes or
/// one of them becomes a WebSocket.
pub(super) async fn serve(io: Io, peer: SocketAddr, shared: Arc<Shared>) {
    http::serve(io, peer, shared).await
}
