//! One task per logical connection: ramp-up slot, open, send on schedule, match echoes,
//! heartbeat, and after a loss reconnect with backoff while new messages wait in a bounded
//! buffer. Everything it learns goes to the stats as `Ev`s (through `fn ev`); it never prints.
//!
//! Memory is what limits a soak (19,000 of these in one process, 1 KiB each at most: issue
//! 17), so a worker keeps numbers, not messages: a buffered or unanswered message is its
//! sequence number (the bytes are regenerated from it). The futures that run briefly (opening,
//! the preamble, replaying, closing, the waits between attempts) are boxed, so they take memory
//! only while they run. What stays for the connection's life is this task's future with the
//! connection inline in it (one slot: `main` owns it and lends it out), the socket's
//! registration with tokio, a slot in the shared wakers table and an entry in the shared timer
//! wheel (`crate::timer`). The connected loop is `Connected`, a future written by hand: a
//! `select!` over `recv`, a `Sleep` and the stop signal's `changed()` held ~300 bytes for the
//! whole connection, and sending awaited a write in the middle of it; here sends are queued in
//! the connection's output (bounded by the engine's `MAX_QUEUED`) and written by the same poll that
//! reads. The connection is the engine's `Connection`, as everywhere: no read buffer while idle.
//!
//! Why not `client::session::Session`, which `connect` drives: it holds 1,280 bytes inline
//! (its config with the connection options, a boxed opener, the ping tracker, `/status`
//! counters) before any heap, more than this whole task's budget (544 bytes, its connection
//! included), and soak's target is 1 KiB of RSS per connection in all (~1.0 KiB measured, see
//! bench/README.md "Where a soak connection's bytes go"). So a worker drives the same state
//! machines (`HeartbeatState`, `Backoff`) from a leaner loop that shares the run's
//! configuration between all its connections.

use crate::client::heartbeat::{Action, HeartbeatConfig, HeartbeatState, Probe};
use crate::client::steps::{Next, Runner, Script};
use crate::config::soak::{ReconnectPolicy, RunShape, SocketIo};
use crate::error::{Error, ErrorKind};
use crate::net::stream::MaybeTls;
use crate::stats::server_mark;
use crate::stats::soak_collector::Ev;
use crate::stats::soak_message::{self as message, Decoded};
use crate::stats::soak_sink::Sink;
use crate::stats::soak_tracker::Tracker;
use crate::timer::stamp::Stamp;
use crate::timer::wakers::{Key, Wakers};
use crate::timer::wheel::{Tick, Wheel};
use crate::ws::connection::{Connection, Incoming, MAX_QUEUED};
use crate::ws::proto::frame::Role;
use std::collections::VecDeque;

mod socketio;

use super::conn_url;
use super::gate::OpenGate;
use super::tasks::Census;

type Conn = Connection<MaybeTls>;
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::proto::DataKind;
use crate::ws::proto::close;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio::time::sleep_until;

/// After the run ends, how long a connection waits for the echoes still on their way before it
/// closes; what has not come back by then is missing.
pub const DRAIN: Duration = Duration::from_secs(2);
/// Messages already arrived that the drain still counts once no echo is awaited.
const FINISH_EXTRA: u16 = 256;
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

/// Rounds of reading and timer work in one poll of `Connected` before other tasks get a turn.
const IO_BUDGET: usize = 16;

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
    /// Becomes true when the run ends (time, or the user): for the waits that are boxed.
    pub stop: watch::Receiver<bool>,
    /// The same for connected loops, set by `stop` before it wakes them all: a flag and a
    /// slot in `wakers`, not a `Notified` in every connection.
    pub stopping: AtomicBool,
    /// The wakers of connected loops (each registers once), for `stop` and for `wheel`.
    pub wakers: Wakers,
    /// The deadlines of connected loops: the next message, the heartbeat. Counts from `start`.
    pub wheel: Wheel,
    /// The shortest of `wheel_spans` in the wheel's ticks: how far ahead a connection arms
    /// the wheel at most.
    pub wheel_reach_ticks: u64,
    /// How the workers ended (see `tasks`).
    pub census: Arc<Census>,
    /// Dropped with the last reference to this: every worker has ended (see `tasks`).
    pub gone: oneshot::Sender<()>,
    /// Handshakes in flight at once (`OPEN_CONCURRENCY`).
    pub open_gate: OpenGate,
    /// The first connection id of this process: 0, or this worker's slice of a coordinated
    /// run (ids are unique across the run; the ramp and the source addresses count from here).
    pub first_id: u32,
}

impl Shared {
    /// End the connected loops: each closes its connection after draining (`finish`).
    pub fn stop_connected(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wakers.wake_all();
    }

    /// The spans the timer wheel must cover: its tick is an eighth of the shortest (1 ms at
    /// the finest, the resolution of tokio's own timer).
    pub fn wheel_spans(run: &RunShape, heartbeat: Option<&HeartbeatConfig>) -> Vec<Duration> {
        let mut spans: Vec<Duration> = run.message_period.into_iter().collect();
        if let Some(h) = heartbeat {
            spans.extend([h.interval, h.timeout]);
        }
        spans
    }

    /// `wheel_reach_ticks` for these spans: the shortest (a second when there is none).
    pub fn wheel_reach_ticks(wheel: &Wheel, spans: &[Duration]) -> u64 {
        let reach = spans
            .iter()
            .copied()
            .min()
            .unwrap_or(Duration::from_secs(1));
        wheel.ticks_in(reach)
    }
}

/// What ended a wait in the socket.io loop.
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
    /// This task's slot in `Shared::wakers`, taken on the first poll of a connected loop (a
    /// tokio task's waker is the same for its whole life) and given back on drop.
    key: Key,
    /// The earliest tick this task has an entry in the wheel for, while `is_armed` (until it
    /// fires).
    armed: Tick,
    is_armed: bool,
    /// `main` ran to its end (see `Census`).
    finished: bool,
    sh: Arc<Shared>,
    tracker: Tracker,
    /// Sequence numbers due while the connection was down, oldest first (`SENT_BEFORE` marks
    /// those in flight at a loss), at most `--buffer` of them (`buffer_push`). A bare
    /// `VecDeque`: `OutboundBuffer` would keep its capacity, policy and count in every
    /// connection (24 bytes), and soak's are all the same.
    buffer: VecDeque<u64>,
    /// When the next message is due (`next_send()`); 8-byte stamps from `Shared::start`, not
    /// 16-byte `Option<Instant>`s, in this state that every connection holds.
    next_send: Stamp,
    /// When the connection was lost (a reconnect's time counts from it); while connected,
    /// when it opened (the backoff resets only after `STABLE`). `NEVER` before the first.
    lost_at: Stamp,
    /// The reconnect attempt under way (0: none), for the backoff's step. The policy itself
    /// is shared (`Shared::reconnect`); a `Reconnector` per connection would copy it.
    attempt: u32,
    /// Reconnects of this connection, for `--max-reconnects` (four billion is beyond any run).
    reconnects: u32,
    /// Messages sent on the current connection: what a loss can have left unacknowledged.
    sent_on_conn: u32,
    /// Where the last of them ended in the connection's outgoing stream.
    last_end: u64,
    /// `--server-replay`: the highest sequence number the server marked a message with, where
    /// the next connection resumes (`?since=`).
    server_seq: u64,
}

/// A connection's task. Not an `async fn`: that would keep its arguments beside the `Worker`
/// made from them for the task's whole life.
pub fn run(id: u32, sh: Arc<Shared>) -> impl Future<Output = ()> + Send {
    let cap = sh.run.buffer;
    let mut w = Worker {
        id,
        key: Key::NONE,
        armed: Wheel::short(0),
        is_armed: false,
        finished: false,
        lost_at: Stamp::NEVER,
        attempt: 0,
        reconnects: 0,
        // Unanswered messages are bounded like the buffer: they are what a reconnect replays.
        // With the server's replay they are awaited across the reconnect instead.
        tracker: Tracker::new(cap.max(if sh.run.server_replay {
            SERVER_REPLAY_AWAIT
        } else {
            16
        })),
        buffer: VecDeque::new(),
        next_send: Stamp::NEVER,
        sent_on_conn: 0,
        last_end: 0,
        server_seq: 0,
        sh,
    };
    async move {
        w.main().await;
        w.mark_finished();
    }
}

impl Worker {
    fn mark_finished(&mut self) {
        self.finished = true;
    }

    /// Take this task's slot in the wakers table, once (a tokio task's waker never changes).
    fn register(&mut self, cx: &Context<'_>) {
        if self.key == Key::NONE {
            self.key = self.sh.wakers.register(cx.waker());
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.sh.wakers.unregister(self.key);
        self.sh.census.dropped(self.finished);
    }
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

    fn next_send(&self) -> Option<Instant> {
        (self.next_send != Stamp::NEVER).then(|| self.next_send.instant(self.sh.start))
    }

    fn set_next_send(&mut self, t: Option<Instant>) {
        self.next_send = t.map_or(Stamp::NEVER, |t| Stamp::of(self.sh.start, t));
    }

    /// When the connection was lost (or, while connected, opened).
    fn lost_at(&self) -> Option<Instant> {
        (self.lost_at != Stamp::NEVER).then(|| self.lost_at.instant(self.sh.start))
    }

    /// The schedule starts (with a random phase, which spreads the sends of many connections
    /// over the period) if it has not yet.
    fn start_schedule(&mut self) {
        if self.next_send == Stamp::NEVER {
            let first = self
                .sh
                .run
                .message_period
                .map(|p| Instant::now() + p.mul_f64(fastrand::f64()));
            self.set_next_send(first);
        }
    }

    /// Keep `seq` for the next connection, within `--buffer`; false when the oldest (or `seq`
    /// itself, with no buffer) had to go.
    fn buffer_push(&mut self, seq: u64) -> bool {
        if self.sh.run.buffer == 0 {
            return false;
        }
        let kept = self.buffer.len() < self.sh.run.buffer;
        if !kept {
            self.buffer.pop_front();
        }
        self.buffer.push_back(seq);
        kept
    }

    /// Messages that fell due while the connection was down go into the buffer.
    fn queue_due(&mut self, now: Instant) {
        let (Some(period), Some(mut next)) = (self.sh.run.message_period, self.next_send()) else {
            return;
        };
        let mut dropped = 0;
        while next <= now && next < self.sh.end {
            let seq = self.tracker.next_seq();
            if !self.buffer_push(seq) {
                dropped += 1;
            }
            next += self.gap(period);
        }
        self.set_next_send(Some(next));
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
        // Boxed only when there is a wait: at the start of a run without `--connect-rate`
        // every connection would box one at once, and their freed memory would stay in RSS.
        if slot > Instant::now() && !Box::pin(self.wait_until(slot)).await {
            return;
        }
        // The connection's one slot in this future: `open` fills it, the session borrows it.
        let mut conn: Option<Conn> = None;
        loop {
            // A reconnect (a connection was open before) resumes after what the server marked.
            let reconnect = self.lost_at != Stamp::NEVER;
            // In line for a handshake before anything is allocated for it.
            if !(GateWait {
                w: self,
                queued: false,
            })
            .await
            {
                self.queue_due(Instant::now());
                break;
            }
            let opened = match Box::pin(self.open(reconnect)).await {
                None => break,
                Some(Ok((c, took))) => {
                    self.opened(took);
                    Some(conn.insert(c))
                }
                Some(Err(e)) => {
                    self.ev(Ev::OpenFailed(e.kind()));
                    None
                }
            };
            if let Some(c) = opened {
                let end = match Box::pin(self.session_start(c)).await {
                    Some(end) => end,
                    None => {
                        let hb = self
                            .sh
                            .heartbeat
                            .as_ref()
                            .map(|_| HeartbeatState::new(Instant::now()));
                        match (Connected {
                            w: self,
                            conn: c,
                            hb,
                        })
                        .await
                        {
                            None => Box::pin(self.finish(c)).await,
                            Some(end) => Box::pin(self.closed(c, end)).await,
                        }
                    }
                };
                conn = None;
                if self.lost_at().is_some_and(|up| up.elapsed() >= STABLE) {
                    self.attempt = 0;
                }
                match end {
                    SessionEnd::Finished => break,
                    SessionEnd::PreambleFailed => {
                        self.lost_at = Stamp::of(self.sh.start, Instant::now());
                        self.requeue_unanswered();
                    }
                    SessionEnd::Lost { kind, close_code } => {
                        self.ev(Ev::Lost { kind, close_code });
                        self.lost_at = Stamp::of(self.sh.start, Instant::now());
                        // Sent again if there is a reconnect; else counted at the end.
                        self.requeue_unanswered();
                    }
                }
            }
            if self.stopped() {
                break;
            }
            let Some(delay) = self.reconnect_delay() else {
                self.ev(Ev::GaveUp);
                // Keep counting what falls due, so the report shows what was never sent.
                Box::pin(self.wait_until(self.sh.end)).await;
                break;
            };
            // `lost_at` stays as set by the loss: a first connection that needed several
            // attempts is not a reconnect, and a reconnect's time counts all its attempts.
            if !Box::pin(self.wait_until(Instant::now() + delay)).await {
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

    /// A connection opened after `took`.
    fn opened(&mut self, took: Duration) {
        if self.sh.preamble.is_none() && self.sh.socketio.is_none() {
            self.start_schedule();
        }
        let reconnect = self.lost_at().map(|t| t.elapsed());
        if reconnect.is_some() {
            self.reconnects = self.reconnects.saturating_add(1);
        }
        // While connected, `lost_at` holds when the connection opened.
        self.lost_at = Stamp::of(self.sh.start, Instant::now());
        self.ev(Ev::Opened { took, reconnect });
    }

    /// The wait before the next attempt, or `None` when there is none (no `--reconnect`, or
    /// `--max-reconnects` used up). Every attempt after a loss, or after a failed first open,
    /// waits one step longer, up to the backoff's maximum.
    fn reconnect_delay(&mut self) -> Option<Duration> {
        let p = self.sh.reconnect?;
        if p.max_reconnects
            .is_some_and(|m| u64::from(self.reconnects) >= m)
        {
            return None;
        }
        self.attempt = self.attempt.saturating_add(1);
        Some(p.backoff.delay(self.attempt, &mut fastrand::Rng::new()))
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

    /// Open a connection, holding a permit of `Shared::open_gate`; `None` when the run ended
    /// first. On a `reconnect` with
    /// `--server-replay`, the request asks the server to resume after `server_seq`.
    async fn open(&mut self, reconnect: bool) -> Option<Result<(Conn, Duration), Error>> {
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
        let mut stop = self.sh.stop.clone();
        // The caller took a permit (`GateWait`); it goes back when this attempt ends, however.
        let _permit = Permit(self.sh.clone());
        let attempt = async move {
            Box::pin(crate::ws::open::open_raw(&opts))
                .await
                .map(|(io, leftover, hs)| {
                    let mut conn =
                        Connection::new(io, Role::Client, leftover, opts.max_message_size);
                    if let Some(agreed) = hs.deflate {
                        conn.endpoint_mut().enable_deflate(agreed);
                    }
                    (conn, hs.timings.total)
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

    /// Queue message `seq` in the connection's output (the caller writes it).
    fn queue_seq(&mut self, conn: &mut Conn, seq: u64, replay: bool) -> Result<(), Error> {
        let seq = seq & !SENT_BEFORE;
        let (id, now_us, run) = (self.id, self.now_us(), &self.sh.run);
        let plain = run.envelope.is_none()
            && run.fragment_size.is_none()
            && conn.endpoint().deflate().is_none();
        let (len, sent) = if plain {
            // The common case, built straight into the frame in the output buffer: no message
            // buffer, no copy (issue 17).
            let len = message::encoded_len(run.size);
            let sent = conn.queue(|ep, out| {
                ep.send_message_built(out, run.kind, len, |frame| {
                    message::encode_into(id, seq, now_us, frame);
                })
            })?;
            (len, sent)
        } else {
            let mut buf = Vec::with_capacity(run.size);
            message::encode(id, seq, now_us, run.size, &mut buf);
            if let Some(env) = &run.envelope {
                let mut wrapped = Vec::with_capacity(buf.len() + 64);
                env.wrap(&buf, &mut wrapped);
                buf = wrapped;
            }
            let sent = conn.queue(|ep, out| {
                ep.send_message_as(out, run.kind, &buf, run.fragment_size, true)
            })?;
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

    /// Send message `seq` and wait until the socket took it.
    async fn send_seq(&mut self, conn: &mut Conn, seq: u64, replay: bool) -> Result<(), Error> {
        self.queue_seq(conn, seq, replay)?;
        conn.flush().await
    }

    /// A connection's start, boxed by the caller (it awaits more than the connected loop):
    /// socket.io (its whole session), the preamble, the replay. `Some` when the connection
    /// ended here, `None` when the connected loop comes next.
    async fn session_start(&mut self, conn: &mut Conn) -> Option<SessionEnd> {
        self.sent_on_conn = 0;
        self.last_end = 0;
        if self.sh.socketio.is_some() {
            return Some(self.sio_session(conn).await);
        }
        if self.sh.preamble.is_some() {
            match self.preamble(conn).await {
                Ok(()) => self.ev(Ev::PreambleDone),
                Err(PreambleEnd::Stopped) => return Some(self.finish(conn).await),
                Err(PreambleEnd::Failed) => {
                    return Some(self.closed(conn, SessionEnd::PreambleFailed).await);
                }
            }
            // The schedule starts after the first preamble, so a slow login is not a loss.
            self.start_schedule();
        }
        // Replay first, in order: the loss count stays zero when the buffer sufficed.
        if let Err(e) = self.replay(conn).await {
            self.at_loss(conn);
            return Some(lost_by(&e));
        }
        None
    }

    /// When the connected loop must wake with nothing received: the next scheduled message
    /// (unless the socket is behind: then its draining wakes us), the heartbeat's next step,
    /// whichever is first. The run's end comes as `Shared::stopping`.
    fn wake_at(&self, conn: &Conn, hb: Option<&HeartbeatState>) -> Option<Instant> {
        let mut at = self
            .next_send()
            .filter(|&t| t < self.sh.end && conn.queued() < MAX_QUEUED);
        if let (Some(h), Some(cfg)) = (hb, &self.sh.heartbeat) {
            let d = h.next_deadline(cfg);
            at = Some(at.map_or(d, |a| a.min(d)));
        }
        at
    }

    /// Whether `deadline` has come, by the shared wheel: its tick has fired. If not, make sure
    /// the wheel wakes this task by then: an entry at or before that tick, armed once (a
    /// deadline that moved later leaves its earlier entry, which wakes us early, once). Never
    /// armed further ahead than `Shared::wheel_reach_ticks`: a heartbeat's timeout, armed when the
    /// Ping goes, is replaced by an earlier deadline as soon as the Pong comes, and a second
    /// entry for it would double what the wheel holds; this way it costs one early wake.
    fn timer_due(&mut self, deadline: Instant) -> bool {
        let wheel = &self.sh.wheel;
        let tick = wheel.tick_of(Stamp::of(self.sh.start, deadline));
        if wheel.reached(Wheel::short(tick)) {
            return true;
        }
        // From the wheel's last tick, not the clock (a clock read per message is ~1% of
        // soak's CPU): a wheel behind the clock only makes the entry earlier.
        let reach = wheel.current() + self.sh.wheel_reach_ticks;
        let tick = tick.min(reach);
        let short = Wheel::short(tick);
        if self.is_armed && !wheel.reached(self.armed) && !short.before(self.armed) {
            return false;
        }
        if !wheel.arm(self.key, tick) {
            // Fired since the check above.
            self.is_armed = false;
            return true;
        }
        self.armed = short;
        self.is_armed = true;
        false
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

    /// Heartbeat and message schedule, queued in the connection's output (the connected loop
    /// writes it); `Some` when the connection is over.
    fn on_timer(&mut self, conn: &mut Conn, hb: Option<&mut HeartbeatState>) -> Option<SessionEnd> {
        let now = Instant::now();
        if let (Some(h), Some(cfg)) = (hb, &self.sh.heartbeat) {
            match h.poll(cfg, now) {
                Action::Send(probe) => {
                    let queued = match probe {
                        Probe::Ping { payload, .. } => {
                            conn.queue(|ep, out| ep.send_ping(out, &payload))
                        }
                        Probe::Text(t) => conn.queue(|ep, out| {
                            ep.send_message(out, DataKind::Text, t.as_bytes(), None)
                                .map(drop)
                        }),
                    };
                    if let Err(e) = queued {
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
        self.send_due(conn, now).err().map(|e| lost_by(&e))
    }

    /// Queue the messages that are due while the socket keeps up: past the engine's
    /// `MAX_QUEUED` bytes waiting for it, the rest stay due and go out as it drains, so a
    /// server that stops reading costs a bounded buffer, not one that grows with the rate.
    fn send_due(&mut self, conn: &mut Conn, now: Instant) -> Result<(), Error> {
        let Some(period) = self.sh.run.message_period else {
            return Ok(());
        };
        while let Some(t) = self.next_send().filter(|&t| t <= now && t < self.sh.end) {
            if conn.queued() >= MAX_QUEUED {
                break;
            }
            let next = t + self.gap(period);
            self.set_next_send(Some(next));
            let seq = self.tracker.next_seq();
            if let Err(e) = self.queue_seq(conn, seq, false) {
                // Not sent: kept for a reconnect, or counted unsent; never just gone.
                self.buffer.push_front(seq);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Handle one inbound item; `Some` when the connection is over.
    fn inbound(
        &mut self,
        inbound: Incoming,
        hb: Option<&mut HeartbeatState>,
    ) -> Option<SessionEnd> {
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
                            && let Some(cfg) = &self.sh.heartbeat
                            && let Some(rtt) = h.on_text(cfg, text, Instant::now())
                        {
                            self.ev(Ev::HeartbeatAnswered(rtt));
                        }
                    }
                }
                None
            }
            Incoming::Pong(p) => {
                if let Some(rtt) = hb.and_then(|h| h.on_pong(&p, Instant::now())) {
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
    async fn finish(&mut self, conn: &mut Conn) -> SessionEnd {
        self.ev(Ev::HeldToEnd);
        let drain_end = Instant::now() + DRAIN;
        // Bounds what is taken once nothing is awaited: a peer that never stops sending
        // (a busy broadcast room) must not hold the close.
        let mut extra = 0u16;
        loop {
            let inbound = if self.tracker.awaiting() > 0 {
                tokio::select! {
                    inbound = conn.recv() => inbound,
                    _ = sleep_until(drain_end.into()) => break,
                }
            } else if extra < FINISH_EXTRA && Instant::now() < drain_end {
                extra += 1;
                // Nothing awaited, but what has already arrived still counts (a server's
                // duplicate of the last echo, read with it), without waiting for more.
                match std::future::poll_fn(|cx| Poll::Ready(conn.poll_recv(cx))).await {
                    Poll::Ready(inbound) => inbound,
                    Poll::Pending => break,
                }
            } else {
                break;
            };
            if self.sio_control(conn, &inbound).await {
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
        let (close, _) = conn.close_and_wait(close::NORMAL, "soak finished").await;
        if !close.was_clean {
            // The server never answered our Close: what it had not acknowledged is lost.
            self.at_loss(conn);
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
    async fn closed(&mut self, conn: &mut Conn, end: SessionEnd) -> SessionEnd {
        if conn.endpoint().is_finishing() {
            conn.finish().await;
        }
        if matches!(end, SessionEnd::Lost { .. }) {
            self.at_loss(conn);
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

/// The connected loop, by hand so that it holds three references and nothing else (see the
/// module comment). Each poll: the stop flag, then the socket (`poll_recv` also writes what is
/// queued, and stops reading while the peer does not take it), then the timer. `None` when
/// the run is over (the caller drains and closes), `Some` when the connection ended.
struct Connected<'a> {
    w: &'a mut Worker,
    conn: &'a mut Conn,
    hb: Option<HeartbeatState>,
}

impl Future for Connected<'_> {
    type Output = Option<SessionEnd>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionEnd>> {
        let Connected { w, conn, hb } = self.get_mut();
        w.register(cx);
        for _ in 0..IO_BUDGET {
            // Read after registering: a stop that came before is seen here, one after wakes us.
            if w.sh.stopping.load(Ordering::Acquire) {
                return Poll::Ready(None);
            }
            if let Poll::Ready(inbound) = conn.poll_recv(cx) {
                if let Some(end) = w.inbound(inbound, hb.as_mut()) {
                    return Poll::Ready(Some(end));
                }
                continue;
            }
            let Some(deadline) = w.wake_at(conn, hb.as_ref()) else {
                return Poll::Pending;
            };
            if !w.timer_due(deadline) {
                return Poll::Pending;
            }
            if let Some(end) = w.on_timer(conn, hb.as_mut()) {
                return Poll::Ready(Some(end));
            }
            // What the timer queued is written by the next `poll_recv`.
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Waiting for a permit of `Shared::open_gate`, in this task's future (two words) rather than
/// in a box (see `gate`). `true` with a permit, `false` when the run ended first.
struct GateWait<'a> {
    w: &'a mut Worker,
    queued: bool,
}

impl Future for GateWait<'_> {
    type Output = bool;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<bool> {
        let this = self.get_mut();
        this.w.register(cx);
        let sh = &this.w.sh;
        // After registering: a stop before is seen here, one after wakes us.
        if sh.stopping.load(Ordering::Acquire) || *sh.stop.borrow() {
            return Poll::Ready(false);
        }
        if sh
            .open_gate
            .try_acquire(this.w.key, &mut this.queued, &sh.wakers)
        {
            return Poll::Ready(true);
        }
        Poll::Pending
    }
}

impl Drop for GateWait<'_> {
    fn drop(&mut self) {
        if self.queued {
            self.w.sh.open_gate.leave(self.w.key, &self.w.sh.wakers);
        }
    }
}

/// A permit of `Shared::open_gate`, given back on drop.
struct Permit(Arc<Shared>);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.open_gate.release(&self.0.wakers);
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

    /// The task and its connection are most of what a soak connection costs (the 1 KiB
    /// budget); a field or a `select!` that grows them shows up here before it shows in RSS.
    #[test]
    fn a_connection_fits_the_memory_budget() {
        let task = future_size(run);
        // The task is this future, the connection inline in it, plus tokio's 96 bytes of
        // header and trailer, rounded up to 128 (tokio aligns a task to a cache line): 544
        // fills a 640-byte task exactly, which with the socket's 256-byte registration, the
        // wakers slot and the wheel entry is the 1 KiB a soak connection may cost (issue 17).
        // History: 1,016 B plus a boxed 240-byte connection and a `JoinSet` entry until the
        // connected loop became `Connected` on the shared timer wheel; 528 B after.
        assert!(task <= 544, "worker future is {task} B");
        let conn = std::mem::size_of::<Conn>();
        // 240 until the connection counted the bytes it wrote (8 B, which says at a loss which
        // messages the peer's TCP never acknowledged).
        assert!(conn <= 248, "Conn is {conn} B");
        let state = std::mem::size_of::<Worker>();
        assert!(state <= 160, "Worker is {state} B");
    }
}
