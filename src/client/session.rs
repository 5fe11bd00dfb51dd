//! The client session: a connection that survives. One `Session` owns the current connection
//! and, around it, the heartbeat (Ping frames or application text), the reconnect gate with
//! backoff and a bounded number of attempts, and the bounded buffer of messages due while the
//! connection is down, replayed in order after the `--send` preamble when it comes back.
//! Scripted and interactive `connect` both drive it: `wait()` in their select loop, `handle()`
//! on what it returns, and `send`/`ping`/`close`/`reconnect` on behalf of the user. Every state
//! change is reported as an `Event` through an `EventSink`; the caller only hears about data
//! and the end.
//!
//! Connections come from an `Opener`, so the session runs without a network in its tests (an
//! in-memory stream and tokio's paused clock). soak's workers drive the same state machines
//! (`Heartbeat`, `Reconnector`, `OutboundBuffer`) from a leaner loop of their own: see the
//! budget in `cmd::soak::worker`.

use crate::client::heartbeat::{Action, Heartbeat, HeartbeatConfig, Probe};
use crate::client::pings::{PingTracker, PongMatch};
use crate::client::reconnect::{Backoff, Overflow};
use crate::client::reconnect::{OutboundBuffer, Reconnector};
use crate::client::unconfirmed::SentLog;
use crate::error::{Error, ErrorKind};
use crate::event::{Event, EventSink};
use crate::net::stream::{MaybeTls, SendQueue};
use crate::ws::connection::Connection;
use crate::ws::connection::{Incoming, Source};
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::open::{self, Handshake};
use crate::ws::proto::DataKind;
use crate::ws::proto::Wire;
use crate::ws::proto::close::{CloseEvent, CloseSpec, Initiator};
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::sleep_until;

/// A message the user asked to send; kept whole while the connection is down.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub kind: DataKind,
    pub payload: Bytes,
    pub fragment_size: Option<usize>,
    /// Send it without compression (RSV1 clear) on a compressed connection.
    pub uncompressed: bool,
}

/// What the session needs to know; built once from the command's config.
#[derive(Clone)]
pub struct SessionConfig {
    pub conn: ConnectOptions,
    /// Sent first on every connection, the first and each one after a reconnect.
    pub preamble: Vec<(DataKind, Bytes)>,
    /// Streamed after the preamble, on every connection too (`--send-file`).
    pub send_file: Option<PathBuf>,
    /// Sent after the preamble without compression (`--send-uncompressed`).
    pub uncompressed_preamble: Vec<(DataKind, Bytes)>,
    pub fragment_size: Option<usize>,
    pub heartbeat: Option<HeartbeatConfig>,
    /// `None`: a lost connection ends the session.
    pub reconnect: Option<ReconnectPolicy>,
    /// Messages kept while the connection is down.
    pub buffer: usize,
    pub overflow: Overflow,
    /// The caller replays the buffer itself (`replay`) after a reconnect, once its steps
    /// (`client::steps`) have run on the new connection.
    pub hold_replay: bool,
    /// After a reconnect, send again what the lost connection may not have delivered.
    pub resend_unconfirmed: bool,
    /// `--expect-close 1006`: the peer dropping the connection is the outcome asked for, so
    /// it is not reported as an error (the close event still says why).
    pub expect_drop: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct ReconnectPolicy {
    pub backoff: Backoff,
    pub max_attempts: u32,
}

pub type Opening<S> =
    Pin<Box<dyn Future<Output = Result<(Connection<S>, Handshake), Error>> + Send>>;

/// Where the session's connections come from: the network (`NetOpener`), or a test's fake.
pub trait Opener<S>: Send + Sync {
    fn open(&self) -> Opening<S>;
}

/// Opens real connections: DNS, TCP, TLS and the upgrade (`ws::open`).
pub struct NetOpener(pub ConnectOptions);

impl Opener<MaybeTls> for NetOpener {
    fn open(&self) -> Opening<MaybeTls> {
        let opts = self.0.clone();
        Box::pin(async move { open::open(&opts).await })
    }
}

enum State<S> {
    /// Boxed: a connection is large next to the other states.
    Up(Box<Connection<S>>),
    /// Waiting out the backoff before attempt `attempt`.
    Waiting {
        attempt: u32,
        at: Instant,
    },
    Opening {
        attempt: u32,
        fut: Opening<S>,
    },
    /// Over; `next()` reports the stored ending once.
    Ended,
}

/// What the session loop hears from the session.
pub enum Step {
    /// A data message from the peer (already emitted as `Received`).
    Data { kind: DataKind, payload: Bytes },
    /// A new connection is up and the buffer was replayed.
    Reconnected,
    /// A control frame, a heartbeat, a reconnect step: nothing for the caller to do.
    Nothing,
    /// The session is over: no more connections will be made.
    Ended {
        close: CloseEvent,
        error: Option<Error>,
    },
}

/// What `Session::wait` saw; `Session::handle` acts on it.
pub enum Wake<S> {
    Inbound(Incoming),
    Heartbeat,
    Backoff,
    Attempt(u32, Box<Result<(Connection<S>, Handshake), Error>>),
    Ended(CloseEvent, Option<Error>),
}

/// Counters for `/status`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub sent_messages: u64,
    pub sent_bytes: u64,
    /// Bytes on the wire, frame headers included (compression shows as the ratio to payload).
    pub sent_wire: u64,
    pub recv_messages: u64,
    pub recv_bytes: u64,
    pub recv_wire: u64,
    pub last_rtt: Option<Duration>,
    pub subprotocol: Option<String>,
    pub connected_at: Option<Instant>,
    /// Successful reconnects, automatic or asked for with `/reconnect`.
    pub reconnects: u64,
}

/// Why a message goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// `--send`, again on every connection: never resent on its own.
    Preamble,
    /// Typed, piped, echoed, or replayed from the buffer.
    User,
    /// Unconfirmed at a loss, sent again (`--resend-unconfirmed`).
    Resent,
}

/// A message in the sent log.
#[derive(Debug)]
pub(super) struct Sent {
    msg: Outgoing,
    origin: Origin,
}

/// `/ping PAYLOAD` probes carry the user's bytes, so they are matched by equality; a few are
/// remembered, the oldest forgotten first.
const CUSTOM_PINGS: usize = 16;

pub struct Session<S = MaybeTls> {
    cfg: SessionConfig,
    opener: Box<dyn Opener<S>>,
    state: State<S>,
    heartbeat: Option<Heartbeat>,
    /// Sequence number of the heartbeat probe in flight, to name it when it is answered.
    heartbeat_seq: Option<u64>,
    reconnector: Option<Reconnector>,
    buffer: OutboundBuffer<Outgoing>,
    /// The last messages written on this connection, to name those a loss may have taken.
    sent_log: SentLog<Sent>,
    /// Unconfirmed at the last loss, to be sent again first (`--resend-unconfirmed`).
    resend: VecDeque<Outgoing>,
    pub tracker: PingTracker,
    custom_pings: VecDeque<(Bytes, Instant)>,
    pub stats: Stats,
    /// The user asked to close: the next `Closed` ends the session instead of reconnecting.
    user_closing: bool,
    /// `/reconnect`: once the current connection has closed, open a new one at once.
    manual_reconnect: bool,
    /// How the last connection ended, reported if we give up.
    last_close: CloseEvent,
    ending: Option<(CloseEvent, Option<Error>)>,
}

impl<S: AsyncRead + AsyncWrite + SendQueue + Unpin + Send + 'static> Session<S> {
    /// A session over its first connection, already open: a failure to open the first one is
    /// the caller's to report (its own exit codes), not a reason to reconnect.
    pub fn new(
        cfg: SessionConfig,
        opener: Box<dyn Opener<S>>,
        conn: Connection<S>,
        hs: &Handshake,
    ) -> Self {
        let now = now();
        Session {
            opener,
            state: State::Up(Box::new(conn)),
            heartbeat: cfg.heartbeat.clone().map(|h| Heartbeat::new(h, now)),
            heartbeat_seq: None,
            reconnector: cfg
                .reconnect
                .map(|r| Reconnector::new(r.backoff, r.max_attempts)),
            buffer: OutboundBuffer::new(cfg.buffer, cfg.overflow),
            sent_log: SentLog::default(),
            resend: VecDeque::new(),
            tracker: PingTracker::new(16),
            custom_pings: VecDeque::new(),
            stats: Stats {
                subprotocol: hs.subprotocol.clone(),
                connected_at: Some(now),
                ..Stats::default()
            },
            user_closing: false,
            manual_reconnect: false,
            last_close: CloseEvent::abnormal("never closed"),
            ending: None,
            cfg,
        }
    }

    /// Up and not closing: messages go out now.
    pub fn is_up(&self) -> bool {
        matches!(&self.state, State::Up(c) if !c.is_closing())
    }

    /// The user (or the script) has asked to end, or it has ended.
    pub fn is_closing(&self) -> bool {
        self.user_closing || matches!(self.state, State::Ended)
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// A word for `/status`.
    pub fn state_name(&self) -> String {
        match &self.state {
            State::Up(c) if c.is_closing() => "closing".into(),
            State::Up(_) => "open".into(),
            State::Waiting { attempt, .. } | State::Opening { attempt, .. } => {
                format!("reconnecting (attempt {attempt})")
            }
            State::Ended => "closed".into(),
        }
    }

    /// Send the `--send` preamble; used once at the start and again after each reconnect.
    pub async fn send_preamble(&mut self, out: &mut dyn EventSink) -> Result<(), Error> {
        // Cheap: the payloads are shared `Bytes`.
        let preamble = self.cfg.preamble.clone();
        for (kind, payload) in preamble {
            let msg = Outgoing {
                kind,
                payload,
                fragment_size: self.cfg.fragment_size,
                uncompressed: false,
            };
            self.send_now(out, msg, Origin::Preamble).await?;
        }
        for (kind, payload) in self.cfg.uncompressed_preamble.clone() {
            let msg = Outgoing {
                kind,
                payload,
                fragment_size: self.cfg.fragment_size,
                uncompressed: true,
            };
            self.send_now(out, msg, Origin::Preamble).await?;
        }
        if let Some(path) = self.cfg.send_file.clone() {
            self.send_file(out, &path).await?;
        }
        Ok(())
    }

    /// `--send-file` and `/file`: one binary message streamed from disk
    /// (`Connection::send_stream`); a file that cannot be sized (a pipe) up to
    /// `--max-message-size`. Never buffered whole, so not while reconnecting either.
    pub async fn send_file(&mut self, out: &mut dyn EventSink, path: &Path) -> Result<(), Error> {
        let State::Up(conn) = &mut self.state else {
            return Err(Error::new(
                ErrorKind::Abnormal,
                "cannot send a file while not connected (it is streamed, never buffered)",
            ));
        };
        let name = format!("--send-file {}", path.display());
        let cannot = |e: std::io::Error| Error::usage(format!("cannot read {name}: {e}"));
        let mut file = tokio::fs::File::open(path).await.map_err(cannot)?;
        let meta = file.metadata().await.map_err(cannot)?;
        let src = Source {
            reader: &mut file,
            size: meta.is_file().then_some(meta.len()),
            name: &name,
        };
        let limit = self.cfg.conn.max_message_size as u64;
        // The stream's length before and after: its frames, and any pong sent in between.
        let start = conn.stream_end();
        let sent = conn
            .send_stream(DataKind::Binary, src, self.cfg.fragment_size, limit)
            .await?;
        let wire_len = conn.stream_end() - start;
        self.stats.sent_messages += 1;
        self.stats.sent_bytes += sent.len;
        self.stats.sent_wire += wire_len;
        out.emit(Event::SentFile {
            path: path.display().to_string(),
            len: sent.len,
            fragments: sent.frames,
            wire: Wire {
                compressed: false,
                len: wire_len,
            },
        });
        Ok(())
    }

    /// Send what was buffered while the connection was down, in order; what cannot be sent
    /// stays buffered (the loss is reported by `recv`).
    pub async fn replay(&mut self, out: &mut dyn EventSink) {
        // What the lost connection may not have delivered (`--resend-unconfirmed`) goes first,
        // in its order; then what was typed while the connection was down.
        while let Some(msg) = self.resend.pop_front() {
            if self
                .send_now(out, msg.clone(), Origin::Resent)
                .await
                .is_err()
            {
                self.resend.push_front(msg);
                return;
            }
        }
        while let Some(msg) = self.buffer.pop_front() {
            if self.send_now(out, msg.clone(), Origin::User).await.is_err() {
                self.buffer.push_front(msg);
                break;
            }
        }
    }

    /// Send a message now, or buffer it while the connection is down. An `Err` means it was not
    /// sent and will not be (no reconnect configured, or the session is closing).
    pub async fn send(&mut self, out: &mut dyn EventSink, msg: Outgoing) -> Result<(), Error> {
        match &self.state {
            State::Up(c) if !c.is_closing() => {
                match self.send_now(out, msg.clone(), Origin::User).await {
                    Ok(()) => Ok(()),
                    // The receive side will see the loss and reconnect; keep the message for it.
                    Err(_) if self.reconnector.is_some() && !self.user_closing => {
                        self.buffer_msg(out, msg);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            State::Waiting { .. } | State::Opening { .. } if !self.user_closing => {
                self.buffer_msg(out, msg);
                Ok(())
            }
            // `/reconnect` is closing this connection: the message is for the next one.
            State::Up(_) if self.manual_reconnect && !self.user_closing => {
                self.buffer_msg(out, msg);
                Ok(())
            }
            _ => Err(Error::new(
                ErrorKind::Abnormal,
                "cannot send: the connection is closed",
            )),
        }
    }

    pub(super) async fn send_now(
        &mut self,
        out: &mut dyn EventSink,
        msg: Outgoing,
        origin: Origin,
    ) -> Result<(), Error> {
        let State::Up(conn) = &mut self.state else {
            return Err(Error::new(
                ErrorKind::Abnormal,
                "cannot send: not connected",
            ));
        };
        let sent = conn
            .send_as(msg.kind, &msg.payload, msg.fragment_size, !msg.uncompressed)
            .await?;
        self.stats.sent_messages += 1;
        self.stats.sent_bytes += msg.payload.len() as u64;
        self.stats.sent_wire += sent.wire_len as u64;
        let (kind, payload) = (msg.kind, msg.payload.clone());
        // Right after the send, the stream ends with this message.
        let conn: &Connection<S> = conn;
        self.sent_log.record(
            conn.stream_end(),
            self.stats.sent_messages,
            payload.len(),
            Sent { msg, origin },
            || conn.unacked(),
        );
        out.emit(Event::Sent {
            kind,
            payload,
            fragments: sent.frames,
            resent: origin == Origin::Resent,
            wire: Wire {
                compressed: sent.compressed,
                len: sent.wire_len as u64,
            },
        });
        Ok(())
    }

    fn buffer_msg(&mut self, out: &mut dyn EventSink, msg: Outgoing) {
        let (kind, len) = (msg.kind, msg.payload.len());
        let dropped = self.buffer.push(msg);
        // With drop-newest the dropped item is the one just pushed; with drop-oldest it is not.
        let kept = self.cfg.buffer > 0
            && (dropped.is_none()
                || self.cfg.overflow == crate::client::reconnect::Overflow::DropOldest);
        if let Some(d) = dropped {
            out.emit(Event::BufferDrop {
                kind: d.kind,
                payload: d.payload,
                why: format!(
                    "the buffer of {} message(s) is full (--buffer, --buffer-overflow)",
                    self.cfg.buffer
                ),
            });
        }
        if kept {
            out.emit(Event::Buffered {
                kind,
                len,
                queued: self.buffer.len(),
            });
        }
    }

    /// A numbered Ping (`payload: None`) or one with the user's bytes.
    pub async fn ping(
        &mut self,
        out: &mut dyn EventSink,
        payload: Option<Bytes>,
    ) -> Result<(), Error> {
        let State::Up(conn) = &mut self.state else {
            return Err(Error::new(
                ErrorKind::Abnormal,
                "cannot ping: not connected",
            ));
        };
        let now = now();
        let (seq, payload) = match payload {
            Some(p) => {
                if self.custom_pings.len() == CUSTOM_PINGS {
                    self.custom_pings.pop_front();
                }
                self.custom_pings.push_back((p.clone(), now));
                (None, p)
            }
            None => {
                // Pongs older than a minute will never be matched as replies; forget them.
                self.tracker.expire(now - Duration::from_secs(60));
                let (seq, p) = self.tracker.start(now);
                (Some(seq), p)
            }
        };
        let len = payload.len();
        conn.ping(&payload).await?;
        out.emit(Event::Ping {
            outbound: true,
            len,
            seq,
        });
        Ok(())
    }

    /// Start the closing handshake; the session ends when it completes. While reconnecting,
    /// the session ends at once.
    pub async fn close(&mut self, out: &mut dyn EventSink, spec: &CloseSpec) -> Result<(), Error> {
        self.user_closing = true;
        self.manual_reconnect = false;
        match &mut self.state {
            State::Up(conn) => conn.close(spec.code, &spec.reason).await,
            State::Waiting { .. } | State::Opening { .. } => {
                let mut close = self.last_close.clone();
                let last = close.diagnostic.as_deref().unwrap_or(&close.reason);
                close.diagnostic = Some(format!("closed while reconnecting (last: {last})"));
                self.end(out, close, None);
                Ok(())
            }
            State::Ended => Ok(()),
        }
    }

    /// Drop the connection without a Close and end the session: a send cut short (by
    /// `--timeout` or Ctrl-C, while the peer took nothing) left half a frame on the wire, and
    /// no frame can follow that.
    pub fn abort(&mut self, why: &str) {
        self.user_closing = true;
        self.manual_reconnect = false;
        if let State::Up(conn) = &mut self.state {
            conn.endpoint_mut().abort(why);
        }
    }

    /// An application-level heartbeat (socket.io's ping deadline) says the peer is dead: drop
    /// the connection as a heartbeat death does, reconnecting with the backoff when allowed.
    pub fn peer_dead(&mut self, out: &mut dyn EventSink, why: &str, error: Error) -> Step {
        if !matches!(self.state, State::Up(_)) {
            return Step::Nothing;
        }
        let mut close = CloseEvent::abnormal(why.to_string());
        close.initiator = Initiator::Client;
        self.on_closed(out, close, Some(error), false)
    }

    /// `/reconnect`: close this connection with 1000 and open a new one right away.
    pub async fn reconnect(&mut self) -> Result<(), Error> {
        match &mut self.state {
            State::Up(conn) if !conn.is_closing() => {
                self.manual_reconnect = true;
                conn.close(1000, "reconnecting").await
            }
            State::Waiting { attempt, .. } => {
                // Skip the rest of the backoff.
                let attempt = *attempt;
                self.start_attempt(attempt);
                Ok(())
            }
            _ => Err(Error::new(
                ErrorKind::Usage,
                "a reconnect is already under way, or the session is ending",
            )),
        }
    }

    /// Wait for the next thing that needs handling. Cancel-safe, so it can sit in a select
    /// loop beside stdin or the keyboard: it only waits (an attempt in progress is kept in
    /// `self`, timers are re-derived from stored deadlines) and does nothing that a dropped
    /// future could leave half done. Pass what it returns to `handle`, outside the select.
    pub async fn wait(&mut self) -> Wake<S> {
        if let Some((close, error)) = self.ending.take() {
            return Wake::Ended(close, error);
        }
        let hb_at = self
            .heartbeat
            .as_ref()
            .filter(|_| self.is_up())
            .map(|h| h.next_deadline());
        match &mut self.state {
            State::Up(conn) => tokio::select! {
                inbound = conn.recv() => Wake::Inbound(inbound),
                _ = sleep_opt(hb_at) => Wake::Heartbeat,
            },
            State::Waiting { at, .. } => {
                sleep_until((*at).into()).await;
                Wake::Backoff
            }
            State::Opening { attempt, fut } => {
                let attempt = *attempt;
                let result = fut.as_mut().await;
                // The finished future must never be polled again: replace it right away.
                self.state = State::Ended;
                Wake::Attempt(attempt, Box::new(result))
            }
            State::Ended => std::future::pending().await,
        }
    }

    /// Act on what `wait` returned: render it, answer it, reconnect, replay the buffer. Runs to
    /// completion (callers await it in a select arm's body, where nothing races it), so a
    /// replay is never cut short by a line arriving from stdin.
    pub async fn handle(&mut self, out: &mut dyn EventSink, wake: Wake<S>) -> Step {
        match wake {
            Wake::Inbound(inbound) => self.on_inbound(out, inbound).await,
            Wake::Heartbeat => self.on_heartbeat_due(out).await,
            Wake::Backoff => {
                if let State::Waiting { attempt, .. } = self.state {
                    self.start_attempt(attempt);
                }
                Step::Nothing
            }
            Wake::Attempt(attempt, result) => self.on_attempt(out, attempt, *result).await,
            Wake::Ended(close, error) => Step::Ended { close, error },
        }
    }
}

/// The clock the session's timers run on: tokio's, so that tests can pause it (under a real
/// runtime it is the system's monotonic clock).
pub(super) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

pub(super) fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

mod reaction;
#[cfg(test)]
mod tests;
