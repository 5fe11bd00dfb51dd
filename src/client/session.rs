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
use crate::error::{Error, ErrorKind};
use crate::event::{Event, EventSink};
use crate::net::stream::MaybeTls;
use crate::ws::connection::Connection;
use crate::ws::connection::Incoming;
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::open::{self, Handshake};
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{CloseEvent, CloseSpec, Initiator};
use bytes::Bytes;
use std::collections::VecDeque;
use std::future::Future;
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
}

/// What the session needs to know; built once from the command's config.
#[derive(Clone)]
pub struct SessionConfig {
    pub conn: ConnectOptions,
    /// Sent first on every connection, the first and each one after a reconnect.
    pub preamble: Vec<(DataKind, Bytes)>,
    pub fragment_size: Option<usize>,
    pub heartbeat: Option<HeartbeatConfig>,
    /// `None`: a lost connection ends the session.
    pub reconnect: Option<ReconnectPolicy>,
    /// Messages kept while the connection is down.
    pub buffer: usize,
    pub overflow: Overflow,
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
    pub recv_messages: u64,
    pub recv_bytes: u64,
    pub last_rtt: Option<Duration>,
    pub subprotocol: Option<String>,
    pub connected_at: Option<Instant>,
    /// Successful reconnects, automatic or asked for with `/reconnect`.
    pub reconnects: u64,
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

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Session<S> {
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
            self.send_now(out, kind, payload, self.cfg.fragment_size)
                .await?;
        }
        Ok(())
    }

    /// Send a message now, or buffer it while the connection is down. An `Err` means it was not
    /// sent and will not be (no reconnect configured, or the session is closing).
    pub async fn send(&mut self, out: &mut dyn EventSink, msg: Outgoing) -> Result<(), Error> {
        match &self.state {
            State::Up(c) if !c.is_closing() => {
                match self
                    .send_now(out, msg.kind, msg.payload.clone(), msg.fragment_size)
                    .await
                {
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

    async fn send_now(
        &mut self,
        out: &mut dyn EventSink,
        kind: DataKind,
        payload: Bytes,
        fragment_size: Option<usize>,
    ) -> Result<(), Error> {
        let State::Up(conn) = &mut self.state else {
            return Err(Error::new(
                ErrorKind::Abnormal,
                "cannot send: not connected",
            ));
        };
        let fragments = conn.send(kind, &payload, fragment_size).await?;
        self.stats.sent_messages += 1;
        self.stats.sent_bytes += payload.len() as u64;
        out.emit(Event::Sent {
            kind,
            payload,
            fragments,
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
                close.reason = format!("closed while reconnecting (last: {})", close.reason);
                self.end(out, close, None);
                Ok(())
            }
            State::Ended => Ok(()),
        }
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

    async fn on_inbound(&mut self, out: &mut dyn EventSink, inbound: Incoming) -> Step {
        let now = now();
        match inbound {
            Incoming::Message { kind, payload } => {
                if let Some(hb) = &mut self.heartbeat {
                    let text = (kind == DataKind::Text).then(|| String::from_utf8_lossy(&payload));
                    let answered = match text {
                        Some(t) => hb.on_text(&t, now),
                        None => {
                            hb.on_traffic(now);
                            None
                        }
                    };
                    if let Some(rtt) = answered {
                        // The answer to our text heartbeat is not data for the user.
                        self.stats.last_rtt = Some(rtt);
                        out.emit(Event::Heartbeat {
                            seq: self.heartbeat_seq.take(),
                            rtt: Some(rtt),
                        });
                        return Step::Nothing;
                    }
                }
                self.stats.recv_messages += 1;
                self.stats.recv_bytes += payload.len() as u64;
                out.emit(Event::Received {
                    kind,
                    payload: payload.clone(),
                });
                Step::Data { kind, payload }
            }
            Incoming::Ping(p) => {
                if let Some(hb) = &mut self.heartbeat {
                    hb.on_traffic(now);
                }
                out.emit(Event::Ping {
                    outbound: false,
                    len: p.len(),
                    seq: None,
                });
                // The connection has answered it already.
                out.emit(Event::Pong {
                    outbound: true,
                    len: p.len(),
                    seq: None,
                    rtt: None,
                });
                Step::Nothing
            }
            Incoming::Pong(p) => {
                self.on_pong(out, p, now);
                Step::Nothing
            }
            Incoming::Closed { close, error } => {
                if let State::Up(conn) = &mut self.state {
                    conn.finish().await;
                }
                self.on_closed(out, close, error, true)
            }
        }
    }

    fn on_pong(&mut self, out: &mut dyn EventSink, p: Bytes, now: Instant) {
        let len = p.len();
        // Our own probes first (/ping, --ping-interval), then the heartbeat's.
        let (seq, rtt) = match self.tracker.on_pong(&p, now) {
            PongMatch::Reply { seq, rtt } | PongMatch::Late { seq, rtt } => (Some(seq), Some(rtt)),
            PongMatch::Duplicate { seq } => (Some(seq), None),
            PongMatch::Unsolicited => {
                if let Some(i) = self.custom_pings.iter().position(|(c, _)| *c == p) {
                    let (_, sent) = self.custom_pings.remove(i).unwrap_or((p.clone(), now));
                    (None, Some(now - sent))
                } else if let Some(rtt) = self.heartbeat.as_mut().and_then(|h| h.on_pong(&p, now)) {
                    self.stats.last_rtt = Some(rtt);
                    out.emit(Event::Heartbeat {
                        seq: self.heartbeat_seq.take(),
                        rtt: Some(rtt),
                    });
                    return;
                } else {
                    (None, None)
                }
            }
        };
        if let Some(rtt) = rtt {
            self.stats.last_rtt = Some(rtt);
            // An answered ping proves the peer alive as well as a heartbeat would.
            if let Some(hb) = &mut self.heartbeat {
                hb.on_traffic(now);
            }
        }
        out.emit(Event::Pong {
            outbound: false,
            len,
            seq,
            rtt,
        });
    }

    async fn on_heartbeat_due(&mut self, out: &mut dyn EventSink) -> Step {
        let Some(hb) = &mut self.heartbeat else {
            return Step::Nothing;
        };
        let action = hb.poll(now());
        let State::Up(conn) = &mut self.state else {
            return Step::Nothing;
        };
        let sent = match action {
            Action::Wait => return Step::Nothing,
            Action::Send(Probe::Ping { seq, payload }) => {
                self.heartbeat_seq = Some(seq);
                conn.ping(&payload).await
            }
            Action::Send(Probe::Text(text)) => {
                self.heartbeat_seq = None;
                conn.send(DataKind::Text, text.as_bytes(), None)
                    .await
                    .map(|_| ())
            }
            Action::Dead { waited } => {
                out.emit(Event::HeartbeatTimeout { waited });
                // The peer is gone: no closing handshake to wait for, drop the socket.
                let mut close = CloseEvent::abnormal(format!(
                    "heartbeat timeout after {}",
                    humantime::format_duration(round_ms(waited))
                ));
                close.initiator = Initiator::Client;
                let error = Error::new(
                    ErrorKind::HeartbeatTimeout,
                    format!(
                        "heartbeat timeout after {}: the peer did not answer",
                        humantime::format_duration(round_ms(waited))
                    ),
                );
                // The HeartbeatTimeout event already said it: the error only sets the exit code.
                return self.on_closed(out, close, Some(error), false);
            }
        };
        match sent {
            Ok(()) => {
                out.emit(Event::Heartbeat {
                    seq: self.heartbeat_seq,
                    rtt: None,
                });
                Step::Nothing
            }
            // A failed write means the connection is gone; the next recv reports how.
            Err(_) => Step::Nothing,
        }
    }

    /// The connection ended. Exactly one transition out of `Up` happens here, so a Close frame
    /// and a TCP error arriving together (or a heartbeat death racing a close) start at most
    /// one reconnect; the `Reconnector` gate enforces the same again.
    fn on_closed(
        &mut self,
        out: &mut dyn EventSink,
        close: CloseEvent,
        error: Option<Error>,
        report_error: bool,
    ) -> Step {
        if let Some(e) = error.as_ref().filter(|_| report_error) {
            out.emit(Event::Error(e.clone()));
        }
        out.emit(Event::Closed(close.clone()));
        self.last_close = close.clone();
        self.stats.connected_at = None;
        self.state = State::Ended;
        if self.user_closing {
            self.end(out, close, error);
        } else if self.manual_reconnect {
            self.manual_reconnect = false;
            self.start_attempt(1);
        } else if let Some(r) = &mut self.reconnector {
            match r.lost() {
                Some((attempt, delay)) => self.wait_for(out, attempt, delay),
                None => self.end(out, close, error),
            }
        } else {
            self.end(out, close, error);
        }
        match self.ending.take() {
            Some((close, error)) => Step::Ended { close, error },
            None => Step::Nothing,
        }
    }

    fn wait_for(&mut self, out: &mut dyn EventSink, attempt: u32, delay: Duration) {
        let max = self.reconnector.as_ref().map_or(1, |r| r.max_attempts);
        out.emit(Event::Reconnecting {
            attempt,
            max,
            delay,
        });
        self.state = State::Waiting {
            attempt,
            at: now() + delay,
        };
    }

    fn start_attempt(&mut self, attempt: u32) {
        self.state = State::Opening {
            attempt,
            fut: self.opener.open(),
        };
    }

    async fn on_attempt(
        &mut self,
        out: &mut dyn EventSink,
        attempt: u32,
        result: Result<(Connection<S>, Handshake), Error>,
    ) -> Step {
        let (ws, hs) = match result {
            Ok(pair) => pair,
            Err(error) => {
                out.emit(Event::ReconnectFailed {
                    attempt,
                    error: error.clone(),
                });
                self.state = State::Ended;
                let next = self.reconnector.as_mut().and_then(|r| {
                    // A manual attempt outside a reconnect series starts one.
                    if r.link() == crate::client::reconnect::Link::Up {
                        r.lost()
                    } else {
                        r.failed()
                    }
                });
                match next {
                    Some((attempt, delay)) => self.wait_for(out, attempt, delay),
                    None => {
                        let tried = self.reconnector.as_ref().map_or(1, |r| r.max_attempts);
                        let e = Error::new(
                            ErrorKind::Abnormal,
                            format!(
                                "gave up reconnecting to {} after {tried} failed attempt(s); last: {}",
                                self.cfg.conn.target.url(),
                                error.message()
                            ),
                        );
                        out.emit(Event::Error(e.clone()));
                        let close = self.last_close.clone();
                        self.end(out, close, Some(e));
                    }
                }
                return match self.ending.take() {
                    Some((close, error)) => Step::Ended { close, error },
                    None => Step::Nothing,
                };
            }
        };
        self.stats.subprotocol = hs.subprotocol.clone();
        self.stats.connected_at = Some(now());
        self.stats.reconnects += 1;
        out.emit(Event::Opened(hs));
        self.state = State::Up(Box::new(ws));
        if let Some(r) = &mut self.reconnector {
            r.succeeded();
        }
        if let Some(cfg) = &self.cfg.heartbeat {
            self.heartbeat = Some(Heartbeat::new(cfg.clone(), now()));
            self.heartbeat_seq = None;
        }
        out.emit(Event::Reconnected {
            attempt,
            buffered: self.buffer.len(),
        });
        // Authentication and subscriptions first, then what was typed while we were away.
        if self.send_preamble(out).await.is_err() {
            return Step::Nothing; // recv reports the loss
        }
        while let Some(msg) = self.buffer.pop_front() {
            let sent = self
                .send_now(out, msg.kind, msg.payload.clone(), msg.fragment_size)
                .await;
            if sent.is_err() {
                self.buffer.push_front(msg);
                break;
            }
        }
        Step::Reconnected
    }

    /// The session is over: report what will never be sent, then remember the ending.
    fn end(&mut self, out: &mut dyn EventSink, close: CloseEvent, error: Option<Error>) {
        while let Some(msg) = self.buffer.pop_front() {
            out.emit(Event::BufferDrop {
                kind: msg.kind,
                payload: msg.payload,
                why: "the session ended before the connection came back".into(),
            });
        }
        self.state = State::Ended;
        self.ending = Some((close, error));
    }
}

/// The clock the session's timers run on: tokio's, so that tests can pause it (under a real
/// runtime it is the system's monotonic clock).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

async fn sleep_opt(at: Option<Instant>) {
    match at {
        Some(at) => sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
