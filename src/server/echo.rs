//! What the echo server does with a connection's messages, above the engine: echo (or
//! broadcast, or answer an application ping), the faults it injects on purpose (`--delay`,
//! `--close-after`, `--drop-after`, `--fragment`, and the message faults of
//! `message_faults`), its heartbeat and idle timeout, shutdown,
//! and the report when the connection ends. RFC 6455 itself (ping replies, the closing
//! handshake, violations) is the engine's (`ws::proto::endpoint`).

use super::accept::{Io, OpenSlot};
use super::broadcast::{self, Member, Next};
use super::{ServerEvent, Shared, app_pong, budget, message_faults};
use crate::client::heartbeat::{Action, Heartbeat, Probe};
use crate::ws::connection::Connection;
use crate::ws::connection::replies::Replies;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{self, CloseEvent, CloseSpec};
use crate::ws::proto::endpoint::{Endpoint, Event, State};
use crate::ws::proto::frame::{self, Payload};
use bytes::Bytes;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// "Try Again Later": the server is short of room for this client's output.
const TRY_AGAIN_LATER: u16 = 1013;

/// Stop reading while this many delayed replies wait (`--delay`).
const MAX_DEFERRED: usize = 4096;

/// A reply held back by `--delay`, or a fault that must come after the replies before it.
enum Deferred {
    Frame { wire: Vec<u8>, payload_len: usize },
    Broadcast(broadcast::Frame),
    Close(CloseSpec),
    Drop,
}

impl Deferred {
    fn wire_len(&self) -> usize {
        match self {
            Deferred::Frame { wire, .. } => wire.len(),
            Deferred::Broadcast(f) => f.wire.len(),
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

pub(super) struct Echo {
    pub(super) id: u64,
    peer: SocketAddr,
    pub(super) shared: Arc<Shared>,
    heartbeat: Option<Box<Heartbeat>>,
    opened: Instant,
    last_data: Instant,
    /// The time of the read being processed, when something needs a clock.
    now: Instant,
    /// `now` is from an earlier read; refreshed on first use.
    pub(super) clock_stale: bool,
    deferred: VecDeque<(Instant, Deferred)>,
    /// Wire bytes held in `deferred`: output too, counted in `--max-buffered`.
    pub(super) deferred_bytes: usize,
    /// Set on shutdown: nothing may last past it.
    hard_deadline: Option<Instant>,
    /// When the connection's one timer is set to fire.
    pub(super) timer_at: Option<Instant>,
    pub(super) resume_on_drain: bool,
    counts: Counts,
    /// Only with message faults configured.
    faults: Option<Box<message_faults::State>>,
    _slot: OpenSlot,
}

impl Echo {
    pub(super) fn new(id: u64, peer: SocketAddr, shared: Arc<Shared>, slot: OpenSlot) -> Self {
        let now = Instant::now();
        let m = shared.cfg.faults.messages;
        let faults = m.any().then(|| Box::new(message_faults::State::new(m, id)));
        Echo {
            id,
            peer,
            heartbeat: shared
                .heartbeat
                .clone()
                .map(|cfg| Box::new(Heartbeat::new(cfg, now))),
            shared,
            opened: now,
            last_data: now,
            now,
            clock_stale: false,
            deferred: VecDeque::new(),
            deferred_bytes: 0,
            hard_deadline: None,
            timer_at: None,
            resume_on_drain: false,
            counts: Counts::default(),
            faults,
            _slot: slot,
        }
    }

    pub(super) fn can_read(&self) -> bool {
        self.deferred.len() < MAX_DEFERRED
    }

    /// Only features that need a clock pay for reading it, once per read.
    fn tick(&mut self) {
        if self.clock_stale {
            self.clock_stale = false;
            let cfg = &self.shared.cfg;
            if self.heartbeat.is_some() || cfg.idle_timeout.is_some() || cfg.faults.delay.is_some()
            {
                self.now = Instant::now();
            }
        }
    }

    pub(super) fn on_event(&mut self, ep: &mut Endpoint, ev: Event<'_>, out: &mut Replies) {
        self.tick();
        match ev {
            Event::Message { kind, payload, .. } => self.on_message(ep, kind, payload, out),
            // The engine answered it, or not (`--no-pong`).
            Event::Ping(_) => {}
            Event::Pong(p) => {
                if let Some(hb) = &mut self.heartbeat {
                    hb.on_pong(&p, self.now);
                }
            }
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
        if let Some(hb) = &mut self.heartbeat {
            hb.on_traffic(self.now);
        }
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
        } else if let Some(hub) = &self.shared.hub {
            // Framed once for every member: the server's frames are the same for all.
            let mut wire = Vec::new();
            frame::write_message(&mut wire, kind, payload, fragment);
            let frame = broadcast::Frame {
                wire: Bytes::from(wire),
                payload_len: payload.len(),
            };
            if delay.is_some() {
                self.defer(Deferred::Broadcast(frame));
            } else {
                hub.broadcast(&frame);
            }
        } else if let Some(faults) = &mut self.faults {
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
        let own = out.len() + self.deferred_bytes;
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
        self.deferred_bytes += action.wire_len();
        self.deferred.push_back((self.now + delay, action));
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
            Deferred::Broadcast(frame) => {
                if let Some(hub) = &self.shared.hub {
                    hub.broadcast(&frame);
                }
            }
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

    /// Send Close and wait for the client's (a server-initiated closing handshake).
    fn start_close(&mut self, ep: &mut Endpoint, code: u16, reason: &str, out: &mut Vec<u8>) {
        ep.close(out, code, reason);
        self.deferred = VecDeque::new();
        self.deferred_bytes = 0;
    }

    /// The next thing due. While closing, the engine keeps its own `CLOSE_TIMEOUT`; only a
    /// shutdown's grace period can end it sooner.
    pub(super) fn next_deadline(&self, state: State) -> Option<Instant> {
        if state != State::Open {
            return self.hard_deadline;
        }
        let cfg = &self.shared.cfg;
        [
            self.deferred.front().map(|(at, _)| *at),
            cfg.idle_timeout.map(|t| self.last_data + t),
            self.heartbeat.as_ref().map(|hb| hb.next_deadline()),
            self.hard_deadline,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Something due sooner than the timer is set for (a delayed reply, a close deadline):
    /// the loop must set it again.
    pub(super) fn timer_stale(&self, state: State) -> bool {
        self.next_deadline(state)
            .is_some_and(|d| self.timer_at.is_none_or(|at| d < at))
    }

    pub(super) fn on_timer(&mut self, ws: &mut Connection<Io>, now: Instant) {
        self.now = now;
        if self.hard_deadline.is_some_and(|h| now >= h) && ws.endpoint().state() != State::Open {
            ws.endpoint_mut().on_timeout();
            return;
        }
        if ws.endpoint().is_open() {
            ws.queue(|ep, out| self.on_timer_open(ep, now, out));
        }
    }

    fn on_timer_open(&mut self, ep: &mut Endpoint, now: Instant, out: &mut Vec<u8>) {
        while ep.is_open()
            && let Some((at, _)) = self.deferred.front()
            && *at <= now
        {
            let (_, action) = self.deferred.pop_front().expect("front exists");
            self.deferred_bytes -= action.wire_len();
            self.execute(ep, action, out);
        }
        if self.deferred.is_empty() && self.deferred.capacity() > 0 {
            self.deferred = VecDeque::new();
        }
        if let Some(idle) = self.shared.cfg.idle_timeout
            && now >= self.last_data + idle
        {
            self.start_close(ep, close::GOING_AWAY, "idle timeout", out);
        }
        if !ep.is_open() {
            return;
        }
        let Some(hb) = &mut self.heartbeat else {
            return;
        };
        match hb.poll(now) {
            Action::Send(Probe::Ping { payload, .. }) => {
                let _ = ep.send_ping(out, &payload);
            }
            Action::Dead { .. } => {
                let timeout = hb.config().timeout;
                let (id, peer) = (self.id, self.peer);
                self.shared
                    .emit(|| ServerEvent::HeartbeatTimeout { id, peer, timeout });
                ep.abort(format!(
                    "heartbeat timeout: no pong within {}",
                    humantime::format_duration(timeout)
                ));
            }
            Action::Send(Probe::Text(_)) | Action::Wait => {}
        }
    }

    pub(super) fn on_shutdown(&mut self, ws: &mut Connection<Io>) {
        self.hard_deadline = Some(Instant::now() + self.shared.cfg.shutdown_grace);
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
                            out.extend_from_slice(&f.wire);
                            self.counts.messages_out += 1;
                            self.counts.bytes_out += f.payload_len as u64;
                        }
                    }
                    Next::Empty => return,
                    Next::Slow => {
                        if let Some(hub) = &self.shared.hub {
                            hub.leave(self.id);
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
        if let Some(f) = &mut self.faults {
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
        let rtt = self.heartbeat.as_ref().and_then(|hb| hb.last_rtt());
        s.emit(|| ServerEvent::Closed {
            id: self.id,
            peer: self.peer,
            close,
            duration: self.opened.elapsed(),
            messages_in: self.counts.messages_in,
            messages_out: self.counts.messages_out,
            rtt,
        });
    }
}
