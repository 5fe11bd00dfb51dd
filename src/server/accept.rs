//! One task per accepted socket: TLS and the HTTP upgrade under the handshake timeout, within
//! the connection limit, then the connection loop (`conn_loop`).

use super::conn_loop::ConnLoop;
use super::{Shared, TaskGuard};
use crate::net::stream::Socket;
use crate::ws::handshake::server as http;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The byte stream: plain TCP or TLS.
pub(super) type Io = crate::net::stream::MaybeTls<tokio_rustls::server::TlsStream<Socket>>;

/// Holds one of the `max_connections` places from the upgrade until the connection loop takes
/// it over (`TaskGuard::hold_open`), or gives it back when dropped before that.
pub(super) struct OpenSlot(Option<Arc<Shared>>);

impl OpenSlot {
    /// The place stays taken: the connection's `TaskGuard` gives it back.
    pub(super) fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        if let Some(shared) = &self.0 {
            shared.open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

pub(super) struct Upgraded {
    pub id: u64,
    /// With `--redis`, `--room` or `--replay`.
    pub seat: Option<Box<super::scaleout::Seat>>,
    /// In the broadcast room before the client hears 101: whatever it sends next, or anyone
    /// else sends after its upgrade, reaches it.
    pub member: Option<Arc<super::broadcast::Member>>,
    pub io: Io,
    pub path: String,
    pub subprotocol: Option<String>,
    pub deflate: Option<crate::ws::ext::Agreed>,
    /// Bytes that came after the request head: the first frames.
    pub leftover: Vec<u8>,
    pub slot: OpenSlot,
}

/// A connection's task: the handshake, boxed (the TLS and HTTP state is large, and is only
/// needed until the upgrade), then the connection loop held in the task itself. Written by
/// hand rather than as one async fn: an async fn keeps its arguments, its `Notified` and the
/// locals of every branch in the task for the connection's whole life (920 bytes against the
/// loop's own size; see the size test in `conn_loop`). The size difference between the
/// variants is the point: the big one is the one that lasts.
#[allow(clippy::large_enum_variant)]
pub(super) enum ConnTask {
    Handshake(Pin<Box<dyn Future<Output = Option<ConnLoop>> + Send>>),
    Open(ConnLoop),
    Done,
}

impl ConnTask {
    pub(super) fn new(tcp: Socket, peer: SocketAddr, guard: TaskGuard) -> Self {
        ConnTask::Handshake(Box::pin(upgrade(tcp, peer, guard)))
    }
}

impl Future for ConnTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            match this {
                ConnTask::Handshake(f) => match ready!(f.as_mut().poll(cx)) {
                    // Dropping the handshake's box before the loop's first poll.
                    Some(conn) => *this = ConnTask::Open(conn),
                    None => *this = ConnTask::Done,
                },
                ConnTask::Open(conn) => {
                    ready!(Pin::new(conn).poll(cx));
                    *this = ConnTask::Done;
                }
                ConnTask::Done => return Poll::Ready(()),
            }
        }
    }
}

/// Leaves the room if the upgrade does not complete (a failed write, the handshake timeout
/// dropping the future) — the connection loop leaves it otherwise.
struct Joined<'a> {
    shared: &'a Shared,
    id: u64,
    room: Arc<str>,
    armed: bool,
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Some(hub) = &self.shared.hub
        {
            hub.leave(self.id, &self.room);
        }
    }
}

/// TLS and the HTTP upgrade under the handshake timeout, unless shutdown comes first.
async fn upgrade(tcp: Socket, peer: SocketAddr, guard: TaskGuard) -> Option<ConnLoop> {
    // Created before the check, so a shutdown that starts in between is still seen.
    let shared = Arc::clone(&guard);
    let shutdown = shared.shutdown.notified();
    tokio::pin!(shutdown);
    if guard.stopping.load(Ordering::SeqCst) {
        return None;
    }
    if let Socket::Tcp(s) = &tcp {
        let _ = s.set_nodelay(true);
    }
    let limit = guard.cfg.handshake_timeout;
    let upgraded = tokio::select! {
        biased;
        _ = &mut shutdown => return None,
        r = tokio::time::timeout(limit, handshake(tcp, peer, &shared)) => r,
    };
    match upgraded {
        Err(_) => {
            guard.reject(
                peer,
                None,
                None,
                format!(
                    "no complete handshake within {} (--handshake-timeout); dropped",
                    humantime::format_duration(limit)
                ),
            );
            None
        }
        Ok(None) => None,
        // Open connections learn of shutdown from `Shared::stopping` and its wakers table.
        Ok(Some(up)) => Some(ConnLoop::new(up, peer, guard)),
    }
}

async fn handshake(tcp: Socket, peer: SocketAddr, shared: &Arc<Shared>) -> Option<Upgraded> {
    let mut io = match &shared.cfg.tls {
        Some(tls) => match tokio_rustls::TlsAcceptor::from(tls.clone())
            .accept(tcp)
            .await
        {
            Ok(s) => Io::Tls(Box::new(s)),
            Err(e) => {
                shared.reject(peer, None, None, format!("TLS handshake failed: {e}"));
                return None;
            }
        },
        None => Io::Plain(tcp),
    };
    if shared.sio.is_some() {
        // socket.io sessions outlive the handshake timeout: served by a task of their own,
        // which shutdown waits for like a connection's.
        let guard = TaskGuard::enter(shared.clone());
        tokio::spawn(async move {
            super::socketio::serve(io, peer, Arc::clone(&guard)).await;
            drop(guard);
        });
        return None;
    }
    let policy = http::Policy {
        subprotocols: &shared.cfg.subprotocols,
        reject: shared.cfg.faults.reject,
        deflate: shared.cfg.deflate.as_ref(),
    };
    let mut buf = Vec::with_capacity(1024);
    let (consumed, outcome) = loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len());
        }
        match io.read_buf(&mut buf).await {
            // A port check or a client that changed its mind: nothing to report.
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        match http::parse(&buf, policy) {
            http::Parsed::Partial => continue,
            http::Parsed::Done { consumed, outcome } => break (consumed, outcome),
        }
    };
    let up = match outcome {
        Ok(up) => up,
        Err(refusal) => {
            refuse(&mut io, &refusal).await;
            shared.reject(peer, refusal.path, Some(refusal.status), refusal.why);
            return None;
        }
    };
    let open = shared.open.fetch_add(1, Ordering::AcqRel) + 1;
    let slot = OpenSlot(Some(shared.clone()));
    if open > shared.cfg.max_connections {
        drop(slot);
        let refusal = http::Refusal::new(
            503,
            format!(
                "server full: {} connections open (--max-connections)",
                shared.cfg.max_connections
            ),
        );
        refuse(&mut io, &refusal).await;
        shared.reject(peer, Some(up.path), Some(503), refusal.why);
        return None;
    }
    let client_header = shared
        .cfg
        .scale
        .replay
        .as_ref()
        .and_then(|r| match &r.client_id {
            super::scaleout::ClientIdFrom::Header(name) => header(&buf[..consumed], name),
            _ => None,
        });
    shared.peak.fetch_max(open, Ordering::AcqRel);
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let mut seat = shared
        .scale
        .as_ref()
        .map(|r| Box::new(r.seat(&up.path, client_header.as_deref())));
    let room = seat.as_ref().map_or(&shared.lobby, |s| &s.room).clone();
    let member = shared.hub.as_ref().map(|h| h.join(id, &room));
    let mut joined = Joined {
        shared,
        id,
        room,
        armed: member.is_some(),
    };
    if let (Some(relay), Some(seat), Some(m)) = (&shared.scale, &mut seat, &member) {
        seat.member = Some(m.clone());
        if let Some(client) = &seat.client {
            relay.start_replay(shared, m, &seat.room, client);
        }
    }
    let response = http::switching_protocols(&up);
    if io.write_all(&response).await.is_err() || io.flush().await.is_err() {
        return None;
    }
    joined.armed = false;
    Some(Upgraded {
        id,
        seat,
        member,
        io,
        path: up.path,
        subprotocol: up.subprotocol,
        deflate: up.deflate,
        leftover: buf.get(consumed..).unwrap_or_default().to_vec(),
        slot,
    })
}

/// One header of a request head already parsed once (rare: only for `header:NAME` ids).
fn header(head: &[u8], name: &str) -> Option<String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    req.parse(head).ok()?;
    let h = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))?;
    String::from_utf8(h.value.to_vec())
        .ok()
        .map(|v| v.trim().to_string())
}

async fn refuse(io: &mut Io, refusal: &http::Refusal) {
    let _ = io.write_all(&refusal.to_bytes()).await;
    let _ = io.shutdown().await;
}
