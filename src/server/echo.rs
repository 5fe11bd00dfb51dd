//! What the echo server does with a connection's messages, above the engine: echo (or
//! broadcast, or answer an application ping), the faults it injects on purpose (`--delay`,
//! `--close-after`, `--drop-after`, `--fragment`, and the message faults of
//! `message_faults`), its heartbeat and idle timeout, shutdown,
//! and the report when the connection ends. RFC 6455 itself (ping replies, the closing
//! handshake, violations) is the engine's (`ws::proto::endpoint`).

use super::accept::Io;
use super::broadcast::{self, Member, Next};
use super::scaleout::Seat;
use super::{ConnGuard, ServerEvent, app_pong, budget, message_faults};
use crate::client::pings;
use crate::timer::stamp::Stamp;
use crate::timer::wakers::Key;
use crate::timer::wheel::{Tick, Wheel};
use crate::ws::connection::Connection;
use crate::ws::connection::replies::Replies;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{self, CloseEvent, CloseSpec};
use crate::ws::proto::endpoint::{Endpoint, Event, State};
use crate::ws::proto::frame::{self, Payload};
use bytes::Bytes;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// "Try Again Later": the server is short of room for this client's output.
const TRY_AGAIN_LATER: u16 = 1013;

/// Stop reading while this many delayed replies wait (`--delay`).
const MAX_DEFERRED: usize = 4096;

/// A reply held back by `--delay`, or a fault that must come after the replies before it.
enum Deferred {
    Frame {
        wire: Vec<u8>,
        payload_len: usize,
    },
    Broadcast(broadcast::Frame),
    /// A message to the room with `--redis`/`--replay`: stored and fanned out when due.
    Relay {
        kind: DataKind,
        payload: Bytes,
    },
    Close(CloseSpec),
    Drop,
}

impl Deferred {
    fn wire_len(&self) -> usize {
        match self {
            Deferred::Frame { wire, .. } => wire.len(),
            Deferred::Broadcast(f) => f.wire.len(),
            Deferred::Relay { payload, .. } => payload.len(),
            Deferred::Close(_) | Deferred::Drop => 0,
        }
    }
}

#[derive(Default)]
struct Counts {
    messages_in: u64,
    messages_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

/// Replies held back by `--delay`: boxed, since only that fault needs them.
#[derive(Default)]
struct Deferrals {
    queue: VecDeque<(Instant, Deferred)>,
    /// Wire bytes held in `queue`: output too, counted in `--max-buffered`.
    bytes: usize,
}

/// Every idle connection holds one of these: times are `Stamp`s (8 bytes, not 16), what only
/// a feature needs is boxed, the heartbeat is inline (a stamp, a round trip, a sequence
/// number and a flag: 14 bytes and a bit, where the client's `Heartbeat` was 152, boxed, and
/// a tokio `Sleep` of 112 more; its timer is an entry in the server's `wheel`), and the
/// small fields of the loop live here too, where they fill the padding (see the size test in
/// `conn_loop`).
pub(super) struct Echo {
    pub(super) id: u64,
    peer: SocketAddr,
    /// The server, and this connection's count in it.
    pub(super) shared: ConnGuard,
    opened: Stamp,
    last_data: Stamp,
    /// The time of the read being processed, when something needs a clock.
    now: Stamp,
    /// The heartbeat: the last traffic from the client, or, while a Ping is out
    /// (`Flags::PING_OUT`), when it was sent (until it is answered, nothing else counts).
    beat_at: Stamp,
    deferred: Option<Box<Deferrals>>,
    counts: Counts,
    /// Message faults and the seat: only some servers have them.
    rare: Option<Box<Rare>>,
    /// The loop's: its slot in the server's wakers table.
    pub(super) waker_key: Key,
    /// The loop's: the tick of its entry in the server's timer wheel (`Flags::WHEEL_ARMED`).
    pub(super) wheel_tick: Tick,
    /// The last heartbeat round trip in µs, saturating (`u32::MAX`: none yet).
    rtt_us: u32,
    /// The last Ping's sequence number, wrapping: only one is ever out, so 16 bits tell it
    /// from the one before.
    seq: u16,
    pub(super) flags: Flags,
}

/// The connection's yes/no state in one byte (an idle connection's task has no byte to spare).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Flags(u8);

impl Flags {
    /// `now` is from an earlier read; refreshed on first use.
    pub(super) const CLOCK_STALE: u8 = 1;
    pub(super) const RESUME_ON_DRAIN: u8 = 1 << 1;
    /// Shutdown began: nothing may last past `Shared::stop_deadline`.
    pub(super) const SHUTDOWN_SEEN: u8 = 1 << 2;
    /// The loop's: registered with the budget as a candidate to make room.
    pub(super) const HEAVY: u8 = 1 << 3;
    /// The loop's: its `Sleep` is set (to its deadline).
    pub(super) const TIMER_ARMED: u8 = 1 << 4;
    /// The loop's: it has an entry in the timer wheel, at `Echo::wheel_tick`.
    pub(super) const WHEEL_ARMED: u8 = 1 << 5;
    /// A heartbeat Ping is out, unanswered.
    const PING_OUT: u8 = 1 << 6;

    pub(super) fn has(self, f: u8) -> bool {
        self.0 & f != 0
    }

    pub(super) fn set(&mut self, f: u8, on: bool) {
        if on {
            self.0 |= f;
        } else {
            self.0 &= !f;
        }
    }
}

/// What only some servers need, boxed together: one pointer in every connection, not two
/// (an idle connection's task has no byte to spare; see the size test in `conn_loop`).
struct Rare {
    /// Only with message faults configured.
    faults: Option<message_faults::State>,
    /// With `--redis`, `--room` or `--replay`: the room and who the client is.
    seat: Option<Seat>,
}

impl Echo {
    pub(super) fn new(
        id: u64,
        peer: SocketAddr,
        shared: ConnGuard,
        seat: Option<Box<Seat>>,
    ) -> Self {
        let now = Instant::now();
        let stamp = Stamp::of(shared.epoch, now);
        let m = shared.cfg.faults.messages;
        let faults = m.any().then(|| message_faults::State::new(m, id));
        let rare = (faults.is_some() || seat.is_some()).then(|| {
            Box::new(Rare {
                faults,
                seat: seat.map(|s| *s),
            })
        });
        Echo {
            id,
            peer,
            shared,
            opened: stamp,
            last_data: stamp,
            now: stamp,
            beat_at: stamp,
            deferred: None,
            counts: Counts::default(),
            rare,
            waker_key: Key::NONE,
            wheel_tick: Wheel::short(0),
            rtt_us: u32::MAX,
            seq: 0,
            flags: Flags::default(),
        }
    }

    fn seat(&self) -> Option<&Seat> {
        self.rare.as_ref().and_then(|r| r.seat.as_ref())
    }

    pub(super) fn room(&self) -> &str {
        self.seat().map_or(&self.shared.lobby, |s| &s.room)
    }

    /// `--client-id first-message`: the first text message names the client (and is not
    /// broadcast); its replay starts then.
    fn take_first_message_id(&mut self, kind: DataKind, payload: &[u8]) -> bool {
        let (Some(relay), Some(seat)) = (
            &self.shared.scale,
            self.rare.as_mut().and_then(|r| r.seat.as_mut()),
        ) else {
            return false;
        };
        let Some(client) = &mut seat.client else {
            return false;
        };
        if client.id.is_some() || !relay.first_message_ids() {
            return false;
        }
        let id = match kind {
            DataKind::Text => String::from_utf8_lossy(payload).trim().to_string(),
            DataKind::Binary => String::new(),
        };
        // An unusable id still ends the wait: the client is simply not replayed to.
        client.id = Some(id).filter(|i| !i.is_empty() && i.len() <= 256);
        if let Some(m) = &seat.member {
            relay.start_replay(&self.shared, m, &seat.room, client);
        }
        true
    }

    pub(super) fn can_read(&self) -> bool {
        self.deferred
            .as_ref()
            .is_none_or(|d| d.queue.len() < MAX_DEFERRED)
    }

    /// Output held back by `--delay`, in wire bytes.
    pub(super) fn deferred_bytes(&self) -> usize {
        self.deferred.as_ref().map_or(0, |d| d.bytes)
    }

    fn stamp(&self, t: Instant) -> Stamp {
        Stamp::of(self.shared.epoch, t)
    }

    fn at(&self, s: Stamp) -> Instant {
        s.instant(self.shared.epoch)
    }

    /// Only features that need a clock pay for reading it, once per read.
    fn tick(&mut self) {
        if self.flags.has(Flags::CLOCK_STALE) {
            self.flags.set(Flags::CLOCK_STALE, false);
            let cfg = &self.shared.cfg;
            if self.shared.heartbeat.is_some()
                || cfg.idle_timeout.is_some()
                || cfg.faults.delay.is_some()
            {
                self.now = self.stamp(Instant::now());
            }
        }
    }

    pub(super) fn on_event(&mut self, ep: &mut Endpoint, ev: Event<'_>, out: &mut Replies) {
        self.tick();
        match ev {
            Event::Message { kind, payload, .. } => self.on_message(ep, kind, payload, out),
            // The engine answered it, or not (`--no-pong`).
            Event::Ping(_) => {}
            Event::Pong(p) => self.on_pong(&p),
        }
    }

    /// `message` is handed on to the plain echo, which sends it from where it lies.
    fn on_message(
        &mut self,
        ep: &mut Endpoint,
        kind: DataKind,
        message: Payload<'_>,
        out: &mut Replies,
    ) {
        let payload: &[u8] = &message;
        self.counts.messages_in += 1;
        self.counts.bytes_in += payload.len() as u64;
        self.last_data = self.now;
        // Any message proves the client alive, and answers a Ping that is out.
        self.beat_at = self.now;
        self.flags.set(Flags::PING_OUT, false);
        // Plain reads of the shared config; no reference counting on this path.
        let cfg = &self.shared.cfg;
        let (app_pong, delay, fragment) = (cfg.app_pong, cfg.faults.delay, cfg.faults.fragment);
        let (close_after, drop_after) = (cfg.faults.close_after, cfg.faults.drop_after);
        if cfg.log_messages {
            let (id, len) = (self.id, payload.len());
            self.shared.emit(|| ServerEvent::Message { id, kind, len });
        }
        let pong = if app_pong && kind == DataKind::Text {
            app_pong::pong_for(payload)
        } else {
            None
        };
        if let Some(reply) = pong {
            self.reply(ep, DataKind::Text, Payload::Borrowed(&reply), out);
        } else if self.take_first_message_id(kind, payload) {
        } else if let (Some(relay), Some(hub), Some(seat)) =
            (&self.shared.scale, &self.shared.hub, self.seat())
        {
            // After our Close (a message read during a shutdown's closing handshake) nothing
            // would run a deferral: it goes to the room now.
            if delay.is_some() && ep.is_open() {
                self.defer(Deferred::Relay {
                    kind,
                    payload: Bytes::copy_from_slice(payload),
                });
            } else {
                relay.broadcast(hub, &seat.room, kind, payload, fragment);
            }
        } else if let Some(hub) = &self.shared.hub {
            // Framed once for every member: the server's frames are the same for all.
            let mut wire = Vec::new();
            frame::write_message(&mut wire, kind, payload, fragment);
            let frame = broadcast::Frame {
                wire: Bytes::from(wire),
                payload_len: payload.len(),
                seq: 0,
            };
            if delay.is_some() {
                self.defer(Deferred::Broadcast(frame));
            } else {
                hub.broadcast(&self.shared.lobby, &frame);
            }
        } else if let Some(faults) = self.rare.as_mut().and_then(|r| r.faults.as_mut()) {
            for echo in faults.on_message(kind, payload) {
                for _ in 0..echo.copies {
                    self.reply(ep, echo.kind, Payload::Borrowed(&echo.payload), out);
                }
            }
        } else {
            self.reply(ep, kind, message, out);
        }
        let n = self.counts.messages_in;
        if close_after == Some(n) {
            let spec = self.shared.cfg.faults.close_with.clone();
            self.act(ep, Deferred::Close(spec), out);
        }
        if drop_after == Some(n) {
            self.act(ep, Deferred::Drop, out);
        }
    }

    /// A data message to this client: now, or after `--delay`; or, when it would take the
    /// server's output over `--max-buffered` and this client holds the most, a 1013.
    fn reply(
        &mut self,
        ep: &mut Endpoint,
        kind: DataKind,
        payload: Payload<'_>,
        out: &mut Replies,
    ) {
        if !ep.is_open() {
            return;
        }
        // A frame header is at most 14 bytes.
        let wire_len = payload.len() + 14;
        let own = out.len() + self.deferred_bytes();
        if self.shared.budget.admit(self.id, own, wire_len) == budget::Verdict::CloseSelf {
            self.over_budget(ep, out);
            return;
        }
        let fragment = self.shared.cfg.faults.fragment;
        if self.shared.cfg.faults.delay.is_some() {
            let mut wire = Vec::new();
            frame::write_message(&mut wire, kind, &payload, fragment);
            self.defer(Deferred::Frame {
                wire,
                payload_len: payload.len(),
            });
        } else {
            let len = payload.len() as u64;
            if out.send_payload(ep, kind, payload, fragment).is_ok() {
                self.counts.messages_out += 1;
                self.counts.bytes_out += len;
            }
        }
    }

    /// Faults keep their place behind delayed replies.
    fn act(&mut self, ep: &mut Endpoint, action: Deferred, out: &mut Vec<u8>) {
        if self.shared.cfg.faults.delay.is_some() {
            self.defer(action);
        } else {
            self.execute(ep, action, out);
        }
    }

    fn defer(&mut self, action: Deferred) {
        let delay = self.shared.cfg.faults.delay.unwrap_or_default();
        let at = self.at(self.now) + delay;
        let d = self.deferred.get_or_insert_default();
        d.bytes += action.wire_len();
        d.queue.push_back((at, action));
    }

    fn execute(&mut self, ep: &mut Endpoint, action: Deferred, out: &mut Vec<u8>) {
        if !ep.is_open() {
            return;
        }
        match action {
            Deferred::Frame { wire, payload_len } => {
                out.extend_from_slice(&wire);
                self.counts.messages_out += 1;
                self.counts.bytes_out += payload_len as u64;
            }
            Deferred::Broadcast(_) | Deferred::Relay { .. } => self.to_room(action),
            Deferred::Close(spec) => self.start_close(ep, spec.code, &spec.reason, out),
            Deferred::Drop => ep.abort_after_flush(
                "dropped the TCP connection without a Close frame (--drop-after)",
            ),
        }
    }

    /// This client's output would take the server over `--max-buffered`: 1013 instead.
    pub(super) fn over_budget(&mut self, ep: &mut Endpoint, out: &mut Vec<u8>) {
        self.start_close(ep, TRY_AGAIN_LATER, "over --max-buffered", out);
    }

    /// A delayed broadcast reaches the room (and, with `--replay`, the store).
    fn to_room(&self, action: Deferred) {
        let Some(hub) = &self.shared.hub else {
            return;
        };
        match action {
            Deferred::Broadcast(frame) => hub.broadcast(&self.shared.lobby, &frame),
            Deferred::Relay { kind, payload } => {
                if let (Some(relay), Some(seat)) = (&self.shared.scale, self.seat()) {
                    let fragment = self.shared.cfg.faults.fragment;
                    relay.broadcast(hub, &seat.room, kind, &payload, fragment);
                }
            }
            _ => {}
        }
    }

    /// Send Close and wait for the client's (a server-initiated closing handshake). Replies
    /// still held by `--delay` go, but the broadcasts among them still reach the room and the
    /// replay store: the server read those messages, so a shutdown must not lose them.
    fn start_close(&mut self, ep: &mut Endpoint, code: u16, reason: &str, out: &mut Vec<u8>) {
        ep.close(out, code, reason);
        if let Some(d) = self.deferred.take() {
            for (_, action) in d.queue {
                if matches!(action, Deferred::Broadcast(_) | Deferred::Relay { .. }) {
                    self.to_room(action);
                }
            }
        }
    }

    /// The next thing due that needs the connection's own timer (a delayed reply, the end of
    /// a shutdown's grace period). While closing, the engine keeps its own `CLOSE_TIMEOUT`;
    /// only a shutdown's grace period can end it sooner.
    pub(super) fn precise_deadline(&self, state: State) -> Option<Instant> {
        let hard = self.hard_deadline();
        if state != State::Open {
            return hard;
        }
        let delayed = self
            .deferred
            .as_ref()
            .and_then(|d| d.queue.front())
            .map(|(at, _)| *at);
        match (delayed, hard) {
            (Some(d), Some(h)) => Some(d.min(h)),
            (d, h) => d.or(h),
        }
    }

    /// The next thing due that the server's timer wheel keeps, within one tick: the
    /// heartbeat's Ping or its timeout, and `--idle-timeout`. Only while open.
    pub(super) fn coarse_deadline(&self, state: State) -> Option<Stamp> {
        if state != State::Open {
            return None;
        }
        let idle = self
            .shared
            .cfg
            .idle_timeout
            .map(|t| self.last_data.after(t));
        let beat = self.shared.heartbeat.as_ref().map(|hb| {
            let wait = match self.flags.has(Flags::PING_OUT) {
                true => hb.timeout,
                false => hb.interval,
            };
            self.beat_at.after(wait)
        });
        match (idle, beat) {
            (Some(i), Some(b)) => Some(i.min(b)),
            (i, b) => i.or(b),
        }
    }

    /// A Pong: when it answers the Ping that is out, the round trip. Any other pong is
    /// traffic from a live client too, but while a Ping is out only its answer counts.
    fn on_pong(&mut self, payload: &[u8]) {
        if self.shared.heartbeat.is_none() {
            return;
        }
        if !self.flags.has(Flags::PING_OUT) {
            self.beat_at = self.now;
            return;
        }
        if payload.len() >= pings::MIN_SIZE && payload[..8] == u64::from(self.seq).to_be_bytes() {
            let rtt = self.now.nanos().saturating_sub(self.beat_at.nanos()) / 1000;
            self.rtt_us = u32::try_from(rtt).unwrap_or(u32::MAX - 1).min(u32::MAX - 1);
            self.beat_at = self.now;
            self.flags.set(Flags::PING_OUT, false);
        }
    }

    fn last_rtt(&self) -> Option<Duration> {
        (self.rtt_us != u32::MAX).then(|| Duration::from_micros(u64::from(self.rtt_us)))
    }

    /// Set on shutdown (the same for every connection): nothing may last past it.
    fn hard_deadline(&self) -> Option<Instant> {
        if !self.flags.has(Flags::SHUTDOWN_SEEN) {
            return None;
        }
        self.shared.stop_deadline.get().copied()
    }

    pub(super) fn on_timer(&mut self, ws: &mut Connection<Io>, now: Instant) {
        self.now = self.stamp(now);
        if self.hard_deadline().is_some_and(|h| now >= h) && ws.endpoint().state() != State::Open {
            ws.endpoint_mut().on_timeout();
            return;
        }
        if ws.endpoint().is_open() {
            ws.queue(|ep, out| self.on_timer_open(ep, now, out));
        }
    }

    fn on_timer_open(&mut self, ep: &mut Endpoint, now: Instant, out: &mut Vec<u8>) {
        while ep.is_open()
            && let Some(d) = &mut self.deferred
            && let Some((at, _)) = d.queue.front()
            && *at <= now
        {
            let (_, action) = d.queue.pop_front().expect("front exists");
            d.bytes -= action.wire_len();
            self.execute(ep, action, out);
        }
        if self.deferred.as_ref().is_some_and(|d| d.queue.is_empty()) {
            self.deferred = None;
        }
        if let Some(idle) = self.shared.cfg.idle_timeout
            && now >= self.at(self.last_data) + idle
        {
            self.start_close(ep, close::GOING_AWAY, "idle timeout", out);
        }
        if !ep.is_open() {
            return;
        }
        let Some(hb) = &self.shared.heartbeat else {
            return;
        };
        let (interval, timeout) = (hb.interval, hb.timeout);
        let now = self.stamp(now);
        if self.flags.has(Flags::PING_OUT) {
            if now >= self.beat_at.after(timeout) {
                let (id, peer) = (self.id, self.peer);
                self.shared
                    .emit(|| ServerEvent::HeartbeatTimeout { id, peer, timeout });
                ep.abort(format!(
                    "heartbeat timeout: no pong within {}",
                    humantime::format_duration(timeout)
                ));
            }
        } else if now >= self.beat_at.after(interval) {
            self.seq = self.seq.wrapping_add(1);
            self.beat_at = now;
            self.flags.set(Flags::PING_OUT, true);
            let _ = ep.send_ping(out, &pings::payload(u64::from(self.seq), 16));
        }
    }

    pub(super) fn on_shutdown(&mut self, ws: &mut Connection<Io>) {
        self.flags.set(Flags::SHUTDOWN_SEEN, true);
        if ws.endpoint().is_open() {
            ws.queue(|ep, out| self.start_close(ep, close::GOING_AWAY, "going away", out));
        }
    }

    pub(super) fn drain_broadcast(&mut self, ws: &mut Connection<Io>, member: &Member) {
        let high_water = super::conn_loop::HIGH_WATER;
        let queued = ws.queued();
        ws.queue(|ep, out| {
            let start = out.len();
            loop {
                // Over the high-water mark the frames stay queued (where the queue limit
                // catches a client that does not read), but a slow mark must still be seen.
                let next = if queued + (out.len() - start) >= high_water {
                    member.peek_slow()
                } else {
                    member.pop()
                };
                match next {
                    Next::Frame(f) => {
                        if ep.is_open() {
                            if f.seq > 0
                                && let Some(c) = self
                                    .rare
                                    .as_mut()
                                    .and_then(|r| r.seat.as_mut())
                                    .and_then(|s| s.client.as_mut())
                            {
                                c.last_seq = c.last_seq.max(f.seq);
                            }
                            out.extend_from_slice(&f.wire);
                            self.counts.messages_out += 1;
                            self.counts.bytes_out += f.payload_len as u64;
                        }
                    }
                    Next::Empty => return,
                    Next::Slow => {
                        if let Some(hub) = &self.shared.hub {
                            hub.leave(self.id, self.room());
                        }
                        self.start_close(ep, 1008, "slow consumer", out);
                        return;
                    }
                }
            }
        });
    }

    /// The connection is over: add to the totals and report.
    pub(super) fn finish(&mut self, close: CloseEvent) {
        let s = &self.shared;
        if let (Some(relay), Some(seat)) = (&s.scale, self.seat())
            && let Some(client) = &seat.client
        {
            relay.leave(&seat.room, client);
        }
        if let Some(f) = self.rare.as_mut().and_then(|r| r.faults.as_mut()) {
            f.finish();
            s.injected
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .add(&f.injected);
        }
        s.messages_in
            .fetch_add(self.counts.messages_in, Ordering::AcqRel);
        s.messages_out
            .fetch_add(self.counts.messages_out, Ordering::AcqRel);
        s.bytes_in.fetch_add(self.counts.bytes_in, Ordering::AcqRel);
        s.bytes_out
            .fetch_add(self.counts.bytes_out, Ordering::AcqRel);
        let rtt = self.last_rtt();
        s.emit(|| ServerEvent::Closed {
            id: self.id,
            peer: self.peer,
            close,
            duration: self.at(self.opened).elapsed(),
            messages_in: self.counts.messages_in,
            messages_out: self.counts.messages_out,
            rtt,
        });
    }
}
