//! One task per logical connection: ramp-up slot, open, send on schedule, match echoes,
//! heartbeat, and after a loss reconnect with backoff while new messages wait in a bounded
//! buffer. Everything it learns goes to the collector as `Ev`s; it never prints.
//!
//! Memory is what limits a soak (19,000 of these in one process), so a worker keeps numbers,
//! not messages: a buffered or unanswered message is its sequence number (the bytes are
//! regenerated from it). The futures that run briefly (opening, sending, closing) are boxed, so
//! they take memory only while they run, and the connection is boxed once, so that moving it
//! from `open` into `session` does not leave a second connection-sized slot in this task's
//! future (that took the task from 6 KiB to under 1 KiB). The connection is the engine's
//! `Connection`, as everywhere: no read buffer while idle.
//!
//! Why not `client::session::Session`, which `connect` drives: it holds 1,280 bytes inline
//! (its config with the connection options, a boxed opener, the ping tracker, `/status`
//! counters) before any heap, more than this whole task's budget of 1 KiB, and soak's target is
//! under 2 KiB of RSS per connection in all (1.83 KiB measured by `bench/run`). So a worker
//! drives the same state machines (`Heartbeat`, `Reconnector`, `OutboundBuffer`) from a leaner
//! loop that shares the run's configuration between all its connections.

use crate::client::heartbeat::{Action, Heartbeat, HeartbeatConfig, Probe};
use crate::client::reconnect::{self, OutboundBuffer, Overflow, Reconnector};
use crate::client::steps::{Next, Runner, Script};
use crate::config::soak::{ReconnectPolicy, RunShape, SocketIo};
use crate::error::{Error, ErrorKind};
use crate::net::stream::MaybeTls;
use crate::stats::server_mark;
use crate::stats::soak_collector::Ev;
use crate::stats::soak_message::{self as message, Decoded};
use crate::stats::soak_sink::Sink;
use crate::stats::soak_tracker::Tracker;
use crate::ws::connection::{Connection, Incoming};
use crate::ws::proto::frame::Role;

mod socketio;

use super::conn_url;

type Conn = Connection<MaybeTls>;
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::proto::DataKind;
use crate::ws::proto::close;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio::time::sleep_until;

/// After the run ends, how long a connection waits for the echoes still on their way before it
/// closes; what has not come back by then is missing.
pub const DRAIN: Duration = Duration::from_secs(2);
/// Handshakes in flight at once: enough to open thousands of connections a second on a LAN
/// (19,000 to 127.0.0.1 in well under a second), few enough that the short-lived buffers of the
/// handshakes in flight stay small next to the connections, and that a server's accept backlog
/// does not overflow (an overflow costs a 1 s SYN retransmit).
pub const OPEN_CONCURRENCY: usize = 32;
/// A connection that stayed up this long was a success: the next loss reconnects after the
/// backoff's first step again. One that was lost sooner (a server that accepts and then closes
/// or refuses the namespace or the preamble) is a failed attempt, so the backoff keeps growing
/// instead of reconnecting every MIN: no reconnect storm against a server that drops everyone.
const STABLE: Duration = Duration::from_secs(1);

/// Marks a sequence number in the replay buffer as sent before (in flight at a loss), so that
/// one never sent again is counted lost in flight, not unsent. Sequence numbers never get
/// near it.
const SENT_BEFORE: u64 = 1 << 63;

/// `--server-replay`: messages awaited at most across a reconnect (the oldest beyond it is
/// missing), whatever `--buffer` is.
const SERVER_REPLAY_AWAIT: usize = 1024;

/// What every worker shares, read-only (plus the channel and the stop signal).
pub struct Shared {
    pub run: RunShape,
    /// One per `--source-addrs` address; connection `i` uses `opts[i % len]`.
    pub opts: Vec<Arc<ConnectOptions>>,
    pub heartbeat: Option<HeartbeatConfig>,
    /// `--send`/`--expect` steps run on every connection before it is measured. One script
    /// for all; a connection's runner and captures exist only while its preamble runs.
    pub preamble: Option<Script>,
    pub reconnect: Option<ReconnectPolicy>,
    /// `--socketio`: each connection joins this namespace first (`socketio.rs`).
    pub socketio: Option<SocketIo>,
    pub sink: Arc<Sink>,
    pub start: Instant,
    pub end: Instant,
    /// Becomes true when the user stops the run early.
    pub stop: watch::Receiver<bool>,
    pub open_gate: Semaphore,
    /// The first connection id of this process: 0, or this worker's slice of a coordinated
    /// run (ids are unique across the run; the ramp and the source addresses count from here).
    pub first_id: u32,
}

/// What ended a wait in the connected loop.
enum Woke {
    Stop,
    Inbound(Incoming),
    Timer,
}

enum SessionEnd {
    /// The run is over (time, or the user); the connection was closed by us.
    Finished,
    Lost {
        kind: ErrorKind,
        close_code: Option<u16>,
    },
    /// The preamble failed (already counted); reconnect like after a loss.
    PreambleFailed,
}

/// How a preamble went, when not to the end.
enum PreambleEnd {
    /// The run ended (time, or the user) during it.
    Stopped,
    Failed,
}

struct Worker {
    id: u32,
    sh: Arc<Shared>,
    tracker: Tracker,
    /// Sequence numbers due while the connection was down, oldest first (`SENT_BEFORE` marks
    /// those in flight at a loss).
    buffer: OutboundBuffer<u64>,
    next_send: Option<Instant>,
    /// Messages sent on the current connection: what a loss can have left unacknowledged.
    sent_on_conn: u32,
    /// Where the last of them ended in the connection's outgoing stream.
    last_end: u64,
    /// `--server-replay`: the highest sequence number the server marked a message with, where
    /// the next connection resumes (`?since=`).
    server_seq: u64,
}

pub async fn run(id: u32, sh: Arc<Shared>) {
    let cap = sh.run.buffer;
    let mut w = Worker {
        id,
        // Unanswered messages are bounded like the buffer: they are what a reconnect replays.
        // With the server's replay they are awaited across the reconnect instead.
        tracker: Tracker::new(cap.max(if sh.run.server_replay {
            SERVER_REPLAY_AWAIT
        } else {
            16
        })),
        buffer: OutboundBuffer::new(cap, Overflow::DropOldest),
        next_send: None,
        sent_on_conn: 0,
        last_end: 0,
        server_seq: 0,
        sh,
    };
    w.main().await;
}

impl Worker {
    /// Not async on purpose: an awaited send would sit in every state of this task's future
    /// (and so in its memory); the sink only appends to a batch, or adds one up when full.
    fn ev(&self, e: Ev) {
        self.sh.sink.push(e);
    }

    fn stopped(&self) -> bool {
        *self.sh.stop.borrow() || Instant::now() >= self.sh.end
    }

    /// Sleep until `t` (or the end, or a stop). False when the run is over.
    async fn wait_until(&mut self, t: Instant) -> bool {
        let t = t.min(self.sh.end);
        if !*self.sh.stop.borrow() {
            // A receiver per wait, not one per worker (16 bytes in every connection's task):
            // cloned from one that never marks a value seen, it wakes at once after a stop.
            let mut stop = self.sh.stop.clone();
            tokio::select! {
                _ = sleep_until(t.into()) => {}
                _ = stop.changed() => {}
            }
        }
        self.queue_due(Instant::now());
        !self.stopped()
    }

    /// The wait before the next message: the period, plus a scenario's random think time.
    fn gap(&self, period: Duration) -> Duration {
        match self.sh.run.think_jitter {
            j if j.is_zero() => period,
            j => period + j.mul_f64(fastrand::f64()),
        }
    }

    /// Messages that fell due while the connection was down go into the buffer.
    fn queue_due(&mut self, now: Instant) {
        let (Some(period), Some(mut next)) = (self.sh.run.message_period, self.next_send) else {
            return;
        };
        let mut dropped = 0;
        while next <= now && next < self.sh.end {
            let seq = self.tracker.next_seq();
            if self.buffer.push(seq).is_some() {
                dropped += 1;
            }
            next += self.gap(period);
        }
        self.next_send = Some(next);
        if dropped > 0 {
            self.ev(Ev::Dropped(dropped));
        }
    }

    async fn main(&mut self) {
        // Ramp-up: connection i opens at i / rate, so the rate holds without a shared limiter.
        let slot = match self.sh.run.connect_rate {
            Some(rate) => {
                self.sh.start
                    + Duration::from_secs_f64(f64::from(self.id - self.sh.first_id) / rate)
            }
            None => self.sh.start,
        };
        if !self.wait_until(slot).await {
            return;
        }
        let mut link = self
            .sh
            .reconnect
            .map(|p| Reconnector::new(p.backoff, u32::MAX));
        // u32 (four billion reconnects of one connection is beyond any run): this future lives
        // as long as the connection.
        let mut reconnects = 0u32;
        let mut lost_at: Option<Instant> = None;
        loop {
            // A reconnect (a connection was open before) resumes after what the server marked.
            let Some(res) = self.open(lost_at.is_some()).await else {
                break;
            };
            match res {
                Ok((conn, took)) => {
                    // The schedule starts with the first connection; a random phase spreads
                    // the sends of many connections over the period.
                    if self.next_send.is_none()
                        && self.sh.preamble.is_none()
                        && self.sh.socketio.is_none()
                    {
                        self.next_send = self
                            .sh
                            .run
                            .message_period
                            .map(|p| Instant::now() + p.mul_f64(fastrand::f64()));
                    }
                    let reconnect = lost_at.take().map(|t| t.elapsed());
                    if reconnect.is_some() {
                        reconnects = reconnects.saturating_add(1);
                    }
                    // While connected, `lost_at` holds when the connection opened (no second
                    // `Instant` in this future): the backoff resets only after `STABLE`.
                    lost_at = Some(Instant::now());
                    self.ev(Ev::Opened { took, reconnect });
                    let end = self.session(conn).await;
                    if let (Some(l), Some(up)) = (&mut link, lost_at)
                        && up.elapsed() >= STABLE
                    {
                        l.succeeded();
                    }
                    match end {
                        SessionEnd::Finished => break,
                        SessionEnd::PreambleFailed => {
                            lost_at = Some(Instant::now());
                            self.requeue_unanswered();
                        }
                        SessionEnd::Lost { kind, close_code } => {
                            self.ev(Ev::Lost { kind, close_code });
                            lost_at = Some(Instant::now());
                            // Sent again if there is a reconnect; else counted at the end.
                            self.requeue_unanswered();
                        }
                    }
                }
                Err(e) => self.ev(Ev::OpenFailed(e.kind())),
            }
            if self.stopped() {
                break;
            }
            let allowed = self
                .sh
                .reconnect
                .is_some_and(|p| p.max_reconnects.is_none_or(|m| u64::from(reconnects) < m));
            let delay = match (&mut link, allowed) {
                (Some(l), true) => match l.link() {
                    reconnect::Link::Up => l.lost(),
                    _ => l.failed(),
                },
                _ => None,
            };
            let Some((_, delay)) = delay else {
                self.ev(Ev::GaveUp);
                // Keep counting what falls due, so the report shows what was never sent.
                self.wait_until(self.sh.end).await;
                break;
            };
            // `lost_at` stays as set by the loss: a first connection that needed several
            // attempts is not a reconnect, and a reconnect's time counts all its attempts.
            if !self.wait_until(Instant::now() + delay).await {
                break;
            }
        }
        let missing = self.tracker.finish();
        if missing > 0 {
            self.ev(Ev::Missing(missing));
        }
        let mut unsent = 0;
        let mut lost_in_flight = 0;
        while let Some(seq) = self.buffer.pop_front() {
            if seq & SENT_BEFORE != 0 {
                lost_in_flight += 1;
            } else {
                unsent += 1;
            }
        }
        if unsent > 0 {
            self.ev(Ev::Unsent(unsent));
        }
        if lost_in_flight > 0 {
            self.ev(Ev::LostInFlight(lost_in_flight));
        }
    }

    /// Unanswered messages go back in front of the buffer, oldest first, to be sent again.
    /// With `--server-replay` they stay awaited: the server has them if it read them, and
    /// replays them after the reconnect; sent again they would come back twice.
    fn requeue_unanswered(&mut self) {
        if self.sh.run.server_replay {
            return;
        }
        let unanswered = self.tracker.take_unanswered();
        for seq in unanswered.into_iter().rev() {
            self.buffer.push_front(seq | SENT_BEFORE);
        }
    }

    /// Open a connection; `None` when the run ended first. On a `reconnect` with
    /// `--server-replay`, the request asks the server to resume after `server_seq`.
    async fn open(&mut self, reconnect: bool) -> Option<Result<(Box<Conn>, Duration), Error>> {
        let since = (self.sh.run.server_replay && reconnect).then_some(self.server_seq);
        let mut opts =
            self.sh.opts[(self.id - self.sh.first_id) as usize % self.sh.opts.len()].clone();
        // A request of its own only when it differs: a copy of the options for this attempt.
        if since.is_some() || opts.target.resource.contains(conn_url::CONN) {
            let mut own = (*opts).clone();
            own.target.resource = conn_url::resource_for(&opts.target.resource, self.id, since);
            opts = Arc::new(own);
        }
        let end = self.sh.end;
        let sh = self.sh.clone();
        let mut stop = self.sh.stop.clone();
        // The permit first, and only then the handshake's state (about 1.5 KiB), boxed. Boxed
        // while waiting for the permit, it existed for every connection at once (10,000 at the
        // start of a big run); freed one by one as the handshakes finished, it left holes
        // that the connections' long-lived allocations then pinned: ~1 KiB of RSS each.
        let attempt = async move {
            let _permit = sh.open_gate.acquire().await;
            Box::pin(crate::ws::open::open_raw(&opts))
                .await
                .map(|(io, leftover, hs)| {
                    let mut conn =
                        Connection::new(io, Role::Client, leftover, opts.max_message_size);
                    if let Some(agreed) = hs.deflate {
                        conn.endpoint_mut().enable_deflate(agreed);
                    }
                    (Box::new(conn), hs.timings.total)
                })
        };
        let res = tokio::select! {
            r = attempt => Some(r),
            _ = sleep_until(end.into()) => None,
            _ = stop.changed() => None,
        };
        self.queue_due(Instant::now());
        res
    }

    fn now_us(&self) -> u64 {
        u64::try_from(self.sh.start.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    async fn send_seq(&mut self, conn: &mut Conn, seq: u64, replay: bool) -> Result<(), Error> {
        let seq = seq & !SENT_BEFORE;
        let (id, now_us, run) = (self.id, self.now_us(), &self.sh.run);
        let plain = run.envelope.is_none()
            && run.fragment_size.is_none()
            && conn.endpoint().deflate().is_none();
        let (len, sent) = if plain {
            // The common case, built straight into the frame in the output buffer: no message
            // buffer, no copy (issue 17).
            let len = message::encoded_len(run.size);
            let sent = conn
                .send_built(run.kind, len, |out| {
                    message::encode_into(id, seq, now_us, out);
                })
                .await?;
            (len, sent)
        } else {
            let mut buf = Vec::with_capacity(run.size);
            message::encode(id, seq, now_us, run.size, &mut buf);
            if let Some(env) = &run.envelope {
                let mut wrapped = Vec::with_capacity(buf.len() + 64);
                env.wrap(&buf, &mut wrapped);
                buf = wrapped;
            }
            let sent = conn
                .send_as(run.kind, &buf, run.fragment_size, true)
                .await?;
            (buf.len(), sent)
        };
        self.sent_on_conn = self.sent_on_conn.saturating_add(1);
        self.last_end = conn.stream_end();
        if self.sh.run.echo {
            let missing = self.tracker.sent(seq);
            if missing > 0 {
                self.ev(Ev::Missing(missing));
            }
        }
        self.ev(Ev::Sent {
            replay,
            len: sat(len as u64),
            wire: sat(sent.wire_len as u64),
        });
        Ok(())
    }

    /// The connected loop. Its future lives as long as the connection, so it holds only the
    /// connection, the heartbeat and one wait; everything that awaits more (sending, closing) is
    /// boxed and exists only while it runs.
    async fn session(&mut self, mut conn: Box<Conn>) -> SessionEnd {
        self.sent_on_conn = 0;
        self.last_end = 0;
        if self.sh.socketio.is_some() {
            return Box::pin(self.sio_session(conn)).await;
        }
        if self.sh.preamble.is_some() {
            match Box::pin(self.preamble(&mut conn)).await {
                Ok(()) => self.ev(Ev::PreambleDone),
                Err(PreambleEnd::Stopped) => return Box::pin(self.finish(conn)).await,
                Err(PreambleEnd::Failed) => {
                    return Box::pin(self.closed(conn, SessionEnd::PreambleFailed)).await;
                }
            }
            // The schedule starts after the first preamble, so a slow login is not a loss.
            if self.next_send.is_none() {
                self.next_send = self
                    .sh
                    .run
                    .message_period
                    .map(|p| Instant::now() + p.mul_f64(fastrand::f64()));
            }
        }
        // Replay first, in order: the loss count stays zero when the buffer sufficed.
        if let Err(e) = Box::pin(self.replay(&mut conn)).await {
            self.at_loss(&conn);
            return lost_by(&e);
        }
        let mut hb = self
            .sh
            .heartbeat
            .clone()
            .map(|c| Heartbeat::new(c, Instant::now()));
        // One timer and one stop waiter for the whole session, not one per wake-up: a fresh
        // `Sleep` and `changed()` per loop took the timer wheel's lock and the stop signal's
        // waiter-list lock (shared by every connection) twice each per message.
        let mut stop = self.sh.stop.clone();
        let stopped = stop.changed();
        tokio::pin!(stopped);
        let timer = sleep_until(self.sh.end.into());
        tokio::pin!(timer);
        loop {
            let deadline = self.wake_at(hb.as_ref());
            if *self.sh.stop.borrow() {
                return Box::pin(self.finish(conn)).await;
            }
            if timer.deadline() != deadline.into() {
                timer.as_mut().reset(deadline.into());
            }
            // `Conn::recv` is cancel-safe, so the timer may win at any moment.
            let woke = tokio::select! {
                _ = &mut stopped => Woke::Stop,
                inbound = conn.recv() => Woke::Inbound(inbound),
                _ = &mut timer => Woke::Timer,
            };
            let end = match woke {
                Woke::Stop => return Box::pin(self.finish(conn)).await,
                Woke::Inbound(inbound) => self.inbound(inbound, hb.as_mut()),
                Woke::Timer if Instant::now() >= self.sh.end => {
                    return Box::pin(self.finish(conn)).await;
                }
                Woke::Timer => Box::pin(self.on_timer(&mut conn, hb.as_mut())).await,
            };
            if let Some(end) = end {
                return Box::pin(self.closed(conn, end)).await;
            }
        }
    }

    /// Run the preamble's steps on a fresh connection. Messages received meanwhile count as
    /// received, not as echoes. A failure is counted here (`PreambleFailed`); a timed-out
    /// connection is closed with 1000 first.
    /// When the connected loop must wake with nothing received: the run's end, the next
    /// scheduled message, the heartbeat's next step, whichever is first.
    fn wake_at(&self, hb: Option<&Heartbeat>) -> Instant {
        let mut at = self.sh.end;
        if let Some(t) = self.next_send {
            at = at.min(t);
        }
        if let Some(h) = hb {
            at = at.min(h.next_deadline());
        }
        at
    }

    async fn preamble(&mut self, conn: &mut Conn) -> Result<(), PreambleEnd> {
        let sh = self.sh.clone();
        let Some(script) = &sh.preamble else {
            return Ok(());
        };
        let mut runner = Runner::new(script);
        let mut stop = sh.stop.clone();
        loop {
            if self.stopped() {
                return Err(PreambleEnd::Stopped);
            }
            let deadline = match runner.next(script, Instant::now()) {
                // soak has no --send-file or --send-uncompressed, so its scripts hold neither.
                Next::Done | Next::SendFile(_) | Next::SendUncompressed(..) => return Ok(()),
                Next::Send(kind, payload) => {
                    if conn
                        .send(kind, &payload, sh.run.fragment_size)
                        .await
                        .is_err()
                    {
                        self.ev(Ev::PreambleFailed);
                        return Err(PreambleEnd::Failed);
                    }
                    continue;
                }
                Next::Expect { deadline } => deadline.unwrap_or(sh.end).min(sh.end),
            };
            let inbound = tokio::select! {
                inbound = conn.recv() => Some(inbound),
                _ = sleep_until(deadline.into()) => None,
                _ = stop.changed() => return Err(PreambleEnd::Stopped),
            };
            if let Some(m) = &inbound
                && self.sio_control(conn, m).await
            {
                continue;
            }
            match inbound {
                Some(Incoming::Message { payload, wire, .. }) => {
                    self.ev(Ev::Received {
                        len: sat(payload.len() as u64),
                        wire: sat(wire.len),
                    });
                    runner.offer(script, &String::from_utf8_lossy(&payload));
                }
                Some(Incoming::Ping(_) | Incoming::Pong(_)) => {}
                Some(Incoming::Closed { .. }) => {
                    self.ev(Ev::PreambleFailed);
                    return Err(PreambleEnd::Failed);
                }
                None if Instant::now() >= sh.end => return Err(PreambleEnd::Stopped),
                None => {
                    self.ev(Ev::PreambleFailed);
                    conn.close_and_wait(close::NORMAL, "preamble step timed out")
                        .await;
                    return Err(PreambleEnd::Failed);
                }
            }
        }
    }

    async fn replay(&mut self, conn: &mut Conn) -> Result<(), Error> {
        while let Some(seq) = self.buffer.pop_front() {
            if let Err(e) = self.send_seq(conn, seq, true).await {
                self.buffer.push_front(seq);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Heartbeat and message schedule; `Some` when the connection is over.
    async fn on_timer(
        &mut self,
        conn: &mut Conn,
        hb: Option<&mut Heartbeat>,
    ) -> Option<SessionEnd> {
        let now = Instant::now();
        if let Some(h) = hb {
            match h.poll(now) {
                Action::Send(probe) => {
                    let sent = match probe {
                        Probe::Ping { payload, .. } => conn.ping(&payload).await,
                        Probe::Text(t) => conn
                            .send(DataKind::Text, t.as_bytes(), None)
                            .await
                            .map(drop),
                    };
                    if let Err(e) = sent {
                        return Some(lost_by(&e));
                    }
                    self.ev(Ev::HeartbeatSent);
                }
                Action::Dead { .. } => {
                    return Some(SessionEnd::Lost {
                        kind: ErrorKind::HeartbeatTimeout,
                        close_code: None,
                    });
                }
                Action::Wait => {}
            }
        }
        self.send_due(conn, now).await.err().map(|e| lost_by(&e))
    }

    async fn send_due(&mut self, conn: &mut Conn, now: Instant) -> Result<(), Error> {
        let Some(period) = self.sh.run.message_period else {
            return Ok(());
        };
        while let Some(t) = self.next_send.filter(|&t| t <= now && t < self.sh.end) {
            self.next_send = Some(t + self.gap(period));
            let seq = self.tracker.next_seq();
            if let Err(e) = self.send_seq(conn, seq, false).await {
                // Not sent whole: kept for a reconnect, or counted unsent; never just gone.
                self.buffer.push_front(seq);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Handle one inbound item; `Some` when the connection is over.
    fn inbound(&mut self, inbound: Incoming, hb: Option<&mut Heartbeat>) -> Option<SessionEnd> {
        let now = Instant::now();
        match inbound {
            // One event per message: `Echo` and `Corrupted` count as received too.
            Incoming::Message {
                kind,
                payload,
                wire,
            } => {
                let (len, wire) = (sat(payload.len() as u64), sat(wire.len));
                let mut body: &[u8] = &payload;
                if self.sh.run.server_replay
                    && let Some((mark, rest)) = server_mark::strip(&payload)
                {
                    body = rest;
                    if let Some(seq) = mark.seq() {
                        self.server_seq = self.server_seq.max(seq);
                    }
                    match mark {
                        server_mark::Mark::Replayed(_) => self.ev(Ev::ServerReplayed),
                        server_mark::Mark::Unstored => self.ev(Ev::Unstored),
                        server_mark::Mark::Cut { cut, .. } => self.ev(Ev::ServerCut(cut)),
                        server_mark::Mark::Live(_) => {}
                    }
                }
                let decoded = if self.sh.run.echo {
                    match &self.sh.run.envelope {
                        Some(env) => env
                            .unwrap(body)
                            .map_or(Decoded::Foreign, |inner| message::decode(&inner)),
                        None => message::decode(body),
                    }
                } else {
                    Decoded::Foreign
                };
                match decoded {
                    Decoded::Ok(h) if h.conn == self.id => {
                        let order = self.tracker.echoed(h.seq, true);
                        let rtt = Duration::from_micros(self.now_us().saturating_sub(h.sent_us));
                        self.ev(Ev::Echo {
                            rtt,
                            order,
                            len,
                            wire,
                        });
                    }
                    Decoded::Corrupted(Some((conn, seq))) if conn == self.id => {
                        let order = self.tracker.echoed(seq, false);
                        self.ev(Ev::Echo {
                            rtt: Duration::ZERO,
                            order,
                            len,
                            wire,
                        });
                    }
                    // In a room shared by several connections (a broadcast server), another's
                    // intact message is theirs to match, not damage to ours.
                    Decoded::Ok(_) if self.sh.run.server_replay => {
                        self.ev(Ev::Others { len, wire });
                    }
                    // Another connection's message on ours is as wrong as a flipped bit.
                    Decoded::Ok(_) | Decoded::Corrupted(_) => {
                        let order = self.tracker.garbled();
                        self.ev(Ev::Echo {
                            rtt: Duration::ZERO,
                            order,
                            len,
                            wire,
                        });
                    }
                    Decoded::Foreign => {
                        self.ev(Ev::Received { len, wire });
                        if let (Some(h), DataKind::Text) = (hb, kind)
                            && let Ok(text) = std::str::from_utf8(&payload)
                            && let Some(rtt) = h.on_text(text, now)
                        {
                            self.ev(Ev::HeartbeatAnswered(rtt));
                        }
                    }
                }
                None
            }
            Incoming::Pong(p) => {
                if let Some(rtt) = hb.and_then(|h| h.on_pong(&p, now)) {
                    self.ev(Ev::HeartbeatAnswered(rtt));
                }
                None
            }
            Incoming::Ping(_) => None,
            Incoming::Closed { close, error } => Some(SessionEnd::Lost {
                kind: error.map_or(ErrorKind::CloseCode, |e| e.kind()),
                // 1006 is no code the peer sent: there was no Close frame.
                close_code: (close.code != close::ABNORMAL).then_some(close.code),
            }),
        }
    }

    /// The run is over: wait briefly for echoes still on their way, then close with 1000.
    async fn finish(&mut self, mut conn: Box<Conn>) -> SessionEnd {
        self.ev(Ev::HeldToEnd);
        let drain_end = Instant::now() + DRAIN;
        while self.tracker.awaiting() > 0 {
            tokio::select! {
                inbound = conn.recv() => {
                    if self.sio_control(&mut conn, &inbound).await {
                        continue;
                    }
                    if let Some(end) = self.inbound(inbound, None) {
                        // Lost while draining: report it like any loss, but do not reconnect.
                        if let SessionEnd::Lost { kind, close_code } = end {
                            self.ev(Ev::Lost { kind, close_code });
                        }
                        self.closed(conn, end).await;
                        // Nothing is sent again: what is unanswered now is lost in flight.
                        let n = self.tracker.take_unanswered().len() as u64;
                        if n > 0 {
                            self.ev(Ev::LostInFlight(n));
                        }
                        return SessionEnd::Finished;
                    }
                }
                _ = sleep_until(drain_end.into()) => break,
            }
        }
        let (close, _) = conn.close_and_wait(close::NORMAL, "soak finished").await;
        if !close.was_clean {
            // The server never answered our Close: what it had not acknowledged is lost.
            self.at_loss(&conn);
        }
        self.ev(Ev::Closed);
        SessionEnd::Finished
    }
}

impl Worker {
    /// The connection ended on its own: send the reply to the peer's Close (or our Close
    /// after a protocol error) and let the server hang up, outside any `select!` so nothing
    /// cancels it. A connection that is still open (a dead heartbeat, a failed send) is just
    /// dropped. A loss is counted first, while the socket still answers.
    async fn closed(&mut self, mut conn: Box<Conn>, end: SessionEnd) -> SessionEnd {
        if conn.endpoint().is_finishing() {
            conn.finish().await;
        }
        if matches!(end, SessionEnd::Lost { .. }) {
            self.at_loss(&conn);
        }
        end
    }

    /// Ask the kernel what the server's TCP never acknowledged and count the messages that
    /// may be in it. A worker keeps no per-message offsets, only where the last message ended
    /// and every message's wire size (all are alike), so the count is of the messages that
    /// touch the unacknowledged stretch up to that end; a heartbeat between them only makes it
    /// higher than the truth. Without echoes this is the only evidence that they were lost;
    /// with echoes they are among the unanswered ones, which are sent again (or counted lost
    /// in flight).
    fn at_loss(&mut self, conn: &Conn) {
        let Some(u) = conn.unacked() else {
            return;
        };
        let run = &self.sh.run;
        let unacked_messages = self.last_end.saturating_sub(u.from);
        let mut messages = unacked_messages
            .div_ceil(wire_len(run.size, run.fragment_size))
            .min(u64::from(self.sent_on_conn));
        if run.echo {
            messages = messages.min(self.tracker.awaiting() as u64);
        }
        if messages > 0 {
            self.ev(Ev::Unconfirmed {
                messages,
                bytes: u.bytes,
            });
            if !run.echo {
                self.ev(Ev::LostInFlight(messages));
            }
        }
        self.sent_on_conn = 0;
    }
}

/// Bytes a client's message of `size` takes on the wire in frames of `fragment` bytes: each
/// frame has a 2-byte head, 0, 2 or 8 bytes of extended length and a 4-byte mask key.
fn wire_len(size: usize, fragment: Option<usize>) -> u64 {
    let frame = |n: usize| {
        let ext = match n {
            0..=125 => 0,
            126..=65535 => 2,
            _ => 8,
        };
        (2 + ext + 4 + n) as u64
    };
    match fragment {
        Some(f) if f > 0 && size > f => {
            let (full, rest) = (size / f, size % f);
            full as u64 * frame(f) + if rest > 0 { frame(rest) } else { 0 }
        }
        _ => frame(size),
    }
}

fn lost_by(e: &Error) -> SessionEnd {
    SessionEnd::Lost {
        kind: e.kind(),
        close_code: None,
    }
}

/// A byte count for an event: soak's messages are far below 4 GiB.
fn sat(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn future_size<A, F: std::future::Future>(_: fn(u32, A) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// The task and its connection are most of what a soak connection costs (the 2 KiB
    /// budget); a field or a `select!` that grows them shows up here before it shows in RSS.
    #[test]
    fn wire_sizes_of_client_frames() {
        assert_eq!(wire_len(0, None), 6);
        assert_eq!(wire_len(125, None), 131);
        assert_eq!(wire_len(126, None), 134);
        assert_eq!(wire_len(65536, None), 65550);
        // 300 in frames of 100: three frames of 106.
        assert_eq!(wire_len(300, Some(100)), 318);
        assert_eq!(wire_len(301, Some(100)), 318 + 7);
        assert_eq!(wire_len(50, Some(100)), 56);
    }

    #[test]
    fn a_connection_fits_the_memory_budget() {
        let task = future_size(run);
        // 1040 once the preamble (`--send`/`--expect` on every connection) and the count of
        // what a loss left unacknowledged met in one task; 1016 since `main` keeps no second
        // `Arc` of the shared state and counts reconnects in a u32 (issue 17); 1008 with
        // `--server-replay`'s resume point (8 B) and no stop receiver of its own (16 B: one is
        // cloned for each wait instead; issue 15).
        assert!(task <= 1008, "worker future is {task} B");
        let conn = std::mem::size_of::<Conn>();
        // 240 until the connection counted the bytes it wrote (8 B, which says at a loss which
        // messages the peer's TCP never acknowledged); 248 still fills one 256-byte chunk.
        assert!(conn <= 248, "Conn is {conn} B");
    }
}
