//! One task per accepted socket: TLS and the upgrade under the handshake timeout, then the
//! connection loop. The loop waits on four things at once (socket, the connection's one
//! timer, shutdown, broadcast queue); all socket work happens in `poll_io`, which reads into a
//! per-thread scratch buffer, decodes, and writes replies straight from a second scratch
//! buffer. Only what the socket did not take is copied into the connection's own `out`.

use super::hub::{self, Member, Next};
use super::{ServerEvent, Shared, app};
use crate::client::heartbeat::{Action, Heartbeat, Probe};
use crate::ws::handshake::server as http;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{self, CloseEvent, CloseSpec, Initiator};
use crate::ws::proto::endpoint::CLOSE_TIMEOUT;
use crate::ws::proto::frame::{
    self as codec, CloseCheck, Decoder, Item, OP_CLOSE, OP_PING, OP_PONG, Violation,
};
use bytes::Bytes;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::futures::Notified;

/// Bytes read from a socket at a time, into the per-thread scratch buffer.
const READ_CHUNK: usize = 64 * 1024;
/// A scratch output buffer that grew past this (a huge echo) is given back afterwards.
const SCRATCH_KEEP: usize = 256 * 1024;
/// Stop reading from a client while this much output waits for it (backpressure).
const HIGH_WATER: usize = 256 * 1024;
/// Stop reading while this many delayed replies wait (`--delay`).
const MAX_DEFERRED: usize = 4096;
/// After our last frame: how long we wait for the client to close its side.
const LINGER: Duration = Duration::from_secs(1);
/// Rounds of read/write in one poll before giving other tasks a turn.
const IO_BUDGET: usize = 16;

struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: vec![0; READ_CHUNK],
        output: Vec::new(),
    });
}

/// The byte stream: plain TCP or TLS.
pub(super) type Io = crate::net::stream::MaybeTls<tokio_rustls::server::TlsStream<TcpStream>>;

/// Holds one of the `max_connections` places while a WebSocket is open.
struct OpenSlot(Arc<Shared>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Upgraded {
    io: Io,
    path: String,
    subprotocol: Option<String>,
    /// Bytes that came after the request head: the first frames.
    leftover: Vec<u8>,
    slot: OpenSlot,
}

pub(super) async fn serve(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    // Created before the check, so a shutdown that starts in between is still seen.
    let shutdown = shared.shutdown.notified();
    tokio::pin!(shutdown);
    if shared.stopping.load(Ordering::SeqCst) {
        return;
    }
    let _ = tcp.set_nodelay(true);
    let limit = shared.cfg.handshake_timeout;
    let upgraded = tokio::select! {
        biased;
        _ = &mut shutdown => return,
        // Boxed: the TLS and HTTP state is large, and is only needed until the upgrade;
        // inline, it would stay part of every connection's task for its whole life.
        r = tokio::time::timeout(limit, Box::pin(handshake(tcp, peer, &shared))) => r,
    };
    match upgraded {
        Err(_) => shared.reject(
            peer,
            None,
            None,
            format!(
                "no complete handshake within {} (--handshake-timeout); dropped",
                humantime::format_duration(limit)
            ),
        ),
        Ok(None) => {}
        Ok(Some(up)) => ConnLoop::new(up, peer, shared.clone(), shutdown).await,
    }
}

async fn handshake(tcp: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) -> Option<Upgraded> {
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
    let policy = http::Policy {
        subprotocols: &shared.cfg.subprotocols,
        reject: shared.cfg.faults.reject,
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
    let slot = OpenSlot(shared.clone());
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
    shared.peak.fetch_max(open, Ordering::AcqRel);
    let response = http::switching_protocols(&up);
    if io.write_all(&response).await.is_err() || io.flush().await.is_err() {
        return None;
    }
    Some(Upgraded {
        io,
        path: up.path,
        subprotocol: up.subprotocol,
        leftover: buf.get(consumed..).unwrap_or_default().to_vec(),
        slot,
    })
}

async fn refuse(io: &mut Io, refusal: &http::Refusal) {
    let _ = io.write_all(&refusal.to_bytes()).await;
    let _ = io.shutdown().await;
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Open,
    /// We sent Close first; waiting for the client's.
    CloseSent {
        deadline: Instant,
    },
    /// No more frames: send what is queued, then end (after the client's FIN when `linger`).
    Finishing {
        deadline: Instant,
        linger: bool,
        shut: bool,
    },
    Done,
}

/// A reply held back by `--delay`, or a fault that must come after the replies before it.
enum Deferred {
    Frame { wire: Vec<u8>, payload_len: usize },
    Broadcast(hub::Frame),
    Close(CloseSpec),
    Drop,
}

enum IoStep {
    /// The loop has work: output drained below the high-water mark (broadcast frames may
    /// flow again), or the timer must be set earlier.
    Resume,
    Finished,
    Eof,
    Error(io::Error),
}

#[derive(Default)]
struct Counts {
    messages_in: u64,
    messages_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

struct Conn {
    id: u64,
    peer: SocketAddr,
    io: Io,
    shared: Arc<Shared>,
    dec: Decoder,
    /// Output the socket has not taken yet; empty (unallocated) most of the time.
    out: Vec<u8>,
    out_pos: usize,
    need_flush: bool,
    phase: Phase,
    close: Option<CloseEvent>,
    /// The Close frame we started a closing handshake with, for the log if no answer comes.
    sent_close: Option<(u16, String)>,
    heartbeat: Option<Box<Heartbeat>>,
    opened: Instant,
    last_data: Instant,
    /// The time of the batch being processed, when something needs a clock.
    now: Instant,
    deferred: VecDeque<(Instant, Deferred)>,
    /// Set on shutdown: nothing may last past it.
    hard_deadline: Option<Instant>,
    /// When the connection's one timer is set to fire.
    timer_at: Option<Instant>,
    resume_on_drain: bool,
    counts: Counts,
    _slot: OpenSlot,
}

impl<'a, 'n> ConnLoop<'a, 'n> {
    fn new(
        up: Upgraded,
        peer: SocketAddr,
        shared: Arc<Shared>,
        shutdown: Pin<&'a mut Notified<'n>>,
    ) -> Self {
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        shared.connections.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        shared.emit(|| ServerEvent::Opened {
            id,
            peer,
            path: up.path,
            subprotocol: up.subprotocol,
        });
        let member = shared.hub.as_ref().map(|h| h.join(id));
        let mut c = Conn {
            id,
            peer,
            io: up.io,
            dec: Decoder::new(shared.cfg.max_message_size),
            heartbeat: shared
                .heartbeat
                .clone()
                .map(|cfg| Box::new(Heartbeat::new(cfg, now))),
            shared,
            out: Vec::new(),
            out_pos: 0,
            need_flush: false,
            phase: Phase::Open,
            close: None,
            sent_close: None,
            opened: now,
            last_data: now,
            now,
            deferred: VecDeque::new(),
            hard_deadline: None,
            timer_at: None,
            resume_on_drain: false,
            counts: Counts::default(),
            _slot: up.slot,
        };
        if !up.leftover.is_empty() {
            let mut input = up.leftover;
            c.with_out(|c, out| c.process(&mut input, out));
        }
        ConnLoop {
            c,
            member,
            timer: None,
            shutdown,
            shutdown_waker: None,
            shutdown_seen: false,
        }
    }

    /// The connection is over: leave the hub, report, add to the totals.
    fn end(&mut self, ending: IoStep) {
        if let (Some(hub), Some(_)) = (&self.c.shared.hub, &self.member) {
            hub.leave(self.c.id);
        }
        self.timer = None;
        self.c.finish(ending);
    }
}

/// The connection's life after the upgrade, as a future written by hand so that it holds
/// exactly this: no space for branches that are not in use, no timer unless something is
/// due, and no shared lock taken per message.
struct ConnLoop<'a, 'n> {
    c: Conn,
    member: Option<Arc<Member>>,
    /// The connection's one timer, allocated only while a deadline exists. It is moved
    /// earlier when needed, never later: when it fires early, `on_timer` finds nothing due
    /// and it is set again, which keeps timer work off the per-message path.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    shutdown: Pin<&'a mut Notified<'n>>,
    /// The waker the shutdown notification holds; the notification is polled only to give
    /// it a new one (polling takes a lock shared by every connection). Whether shutdown began
    /// is read from `Shared::stopping`.
    shutdown_waker: Option<std::task::Waker>,
    shutdown_seen: bool,
}

impl Future for ConnLoop<'_, '_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let step = ready!(this.poll_step(cx));
        this.end(step);
        Poll::Ready(())
    }
}

impl ConnLoop<'_, '_> {
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<IoStep> {
        let this = self;
        let c = &mut this.c;
        for _ in 0..IO_BUDGET {
            if c.phase == Phase::Done {
                return Poll::Ready(IoStep::Finished);
            }
            if !this.shutdown_seen {
                let mut begun = c.shared.stopping.load(Ordering::Acquire);
                if !begun
                    && this
                        .shutdown_waker
                        .as_ref()
                        .is_none_or(|w| !w.will_wake(cx.waker()))
                {
                    begun = this.shutdown.as_mut().poll(cx).is_ready();
                    this.shutdown_waker = Some(cx.waker().clone());
                }
                if begun {
                    this.shutdown_seen = true;
                    c.on_shutdown();
                }
            }
            match c.next_deadline() {
                Some(d) if c.timer_at.is_none_or(|at| d < at) => {
                    match &mut this.timer {
                        Some(t) => t.as_mut().reset(d.into()),
                        None => this.timer = Some(Box::pin(tokio::time::sleep_until(d.into()))),
                    }
                    c.timer_at = Some(d);
                }
                Some(_) => {}
                None => {
                    c.timer_at = None;
                    this.timer = None;
                }
            }
            if c.timer_at.is_some()
                && let Some(t) = &mut this.timer
                && t.as_mut().poll(cx).is_ready()
            {
                c.timer_at = None;
                c.on_timer(Instant::now());
                continue;
            }
            if let Some(m) = &this.member {
                // Over the high-water mark only a slow mark matters; frames wait in the queue.
                if m.poll_ready(cx, !c.out_over_water()) {
                    c.drain_broadcast(m);
                }
                c.resume_on_drain = c.out_over_water();
            }
            match c.poll_io(cx) {
                Poll::Ready(IoStep::Resume) => continue,
                Poll::Ready(step) => return Poll::Ready(step),
                Poll::Pending => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Conn {
    fn out_over_water(&self) -> bool {
        self.out.len() - self.out_pos >= HIGH_WATER
    }

    fn can_read(&self) -> bool {
        matches!(self.phase, Phase::Open | Phase::CloseSent { .. })
            && !self.out_over_water()
            && self.deferred.len() < MAX_DEFERRED
    }

    /// Run `f` with the connection's own output buffer (for work outside `poll_io`).
    fn with_out<R>(&mut self, f: impl FnOnce(&mut Self, &mut Vec<u8>) -> R) -> R {
        let mut out = std::mem::take(&mut self.out);
        let r = f(self, &mut out);
        self.out = out;
        r
    }

    /// Something due sooner than the timer is set for (a delayed reply, a close deadline):
    /// the loop must set it again.
    fn timer_stale(&self) -> bool {
        self.next_deadline()
            .is_some_and(|d| self.timer_at.is_none_or(|at| d < at))
    }

    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<IoStep> {
        for _ in 0..IO_BUDGET {
            if self.phase == Phase::Done {
                return Poll::Ready(IoStep::Finished);
            }
            if self.timer_stale() {
                return Poll::Ready(IoStep::Resume);
            }
            while self.out_pos < self.out.len() {
                match Pin::new(&mut self.io).poll_write(cx, &self.out[self.out_pos..]) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(IoStep::Error(io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.out_pos += n;
                        self.need_flush = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(IoStep::Error(e)),
                    Poll::Pending => break,
                }
            }
            if !self.out.is_empty() && self.out_pos == self.out.len() {
                self.out = Vec::new();
                self.out_pos = 0;
            }
            if self.resume_on_drain && !self.out_over_water() {
                self.resume_on_drain = false;
                return Poll::Ready(IoStep::Resume);
            }
            if self.out.is_empty() && self.need_flush {
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.need_flush = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(IoStep::Error(e)),
                    Poll::Pending => {}
                }
            }
            let drained = self.out.is_empty() && !self.need_flush;
            if let Phase::Finishing { linger, shut, .. } = &mut self.phase {
                if !drained {
                    return Poll::Pending;
                }
                if !*linger {
                    return Poll::Ready(IoStep::Finished);
                }
                if !*shut {
                    ready!(Pin::new(&mut self.io).poll_shutdown(cx)).ok();
                    *shut = true;
                }
                // The server closes first (RFC 6455 7.1.1); wait for the client's FIN so that
                // nothing it still sends turns our close into a reset.
                match ready!(self.poll_read_scratch(cx, false)) {
                    Ok(true) => continue,
                    Ok(false) | Err(_) => return Poll::Ready(IoStep::Finished),
                }
            }
            if !self.can_read() {
                return Poll::Pending;
            }
            match ready!(self.poll_read_scratch(cx, true)) {
                Ok(true) => {}
                Ok(false) => return Poll::Ready(IoStep::Eof),
                Err(e) => return Poll::Ready(IoStep::Error(e)),
            }
        }
        // Plenty to do: let other connections have a turn, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Read once into the thread's scratch buffer; `Ok(false)` at end of stream. With
    /// `process`, decode and act on what came, writing replies straight from scratch.
    fn poll_read_scratch(&mut self, cx: &mut Context<'_>, process: bool) -> Poll<io::Result<bool>> {
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Scratch { input, output } = &mut *scratch;
            let mut rb = ReadBuf::new(input);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(false));
            }
            if !process {
                return Poll::Ready(Ok(true));
            }
            if self.shared.heartbeat.is_some()
                || self.shared.cfg.idle_timeout.is_some()
                || self.shared.cfg.faults.delay.is_some()
            {
                self.now = Instant::now();
            }
            if !self.out.is_empty() {
                // Earlier output is still queued: new output goes behind it.
                self.with_out(|c, out| c.process(&mut input[..n], out));
                return Poll::Ready(Ok(true));
            }
            output.clear();
            self.process(&mut input[..n], output);
            let mut at = 0;
            while at < output.len() {
                match Pin::new(&mut self.io).poll_write(cx, &output[at..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(k)) => {
                        at += k;
                        self.need_flush = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => break,
                }
            }
            if at < output.len() {
                self.out.extend_from_slice(&output[at..]);
            }
            if output.capacity() > SCRATCH_KEEP {
                *output = Vec::new();
            }
            Poll::Ready(Ok(true))
        })
    }

    /// Decode `input` and act on every complete item.
    fn process(&mut self, input: &mut [u8], out: &mut Vec<u8>) {
        let mut pos = 0;
        while pos < input.len() && matches!(self.phase, Phase::Open | Phase::CloseSent { .. }) {
            match self.dec.next(input, &mut pos) {
                Ok(Some(item)) => self.on_item(item, out),
                Ok(None) => break,
                Err(v) => {
                    // After 1009 the decoder skips the oversized payload; keep decoding so the
                    // client's Close frame behind it completes a clean closing handshake.
                    let keep_reading = v == codec::TOO_BIG;
                    self.fail(v, out);
                    if !keep_reading {
                        break;
                    }
                }
            }
        }
    }

    fn on_item(&mut self, item: Item<'_>, out: &mut Vec<u8>) {
        let open = self.phase == Phase::Open;
        match item {
            Item::Message { kind, payload } => {
                if open {
                    self.on_message(kind, &payload, out);
                }
            }
            Item::Ping(p) => {
                if open && !self.shared.cfg.faults.no_pong {
                    codec::write_control(out, OP_PONG, &p);
                }
            }
            Item::Pong(p) => {
                if let Some(hb) = &mut self.heartbeat {
                    hb.on_pong(&p, self.now);
                }
            }
            Item::Close(p) => self.on_close_frame(&p, out),
        }
    }

    fn on_message(&mut self, kind: DataKind, payload: &[u8], out: &mut Vec<u8>) {
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
            app::pong_for(payload)
        } else {
            None
        };
        if let Some(reply) = pong {
            self.reply(DataKind::Text, &reply, out);
        } else if let Some(hub) = &self.shared.hub {
            let mut wire = Vec::new();
            codec::write_message(&mut wire, kind, payload, fragment);
            let frame = hub::Frame {
                wire: Bytes::from(wire),
                payload_len: payload.len(),
            };
            if delay.is_some() {
                self.defer(Deferred::Broadcast(frame));
            } else {
                hub.broadcast(&frame);
            }
        } else {
            self.reply(kind, payload, out);
        }
        let n = self.counts.messages_in;
        if close_after == Some(n) {
            let spec = self.shared.cfg.faults.close_with.clone();
            self.act(Deferred::Close(spec), out);
        }
        if drop_after == Some(n) {
            self.act(Deferred::Drop, out);
        }
    }

    /// A data message to this client: now, or after `--delay`.
    fn reply(&mut self, kind: DataKind, payload: &[u8], out: &mut Vec<u8>) {
        let fragment = self.shared.cfg.faults.fragment;
        if self.shared.cfg.faults.delay.is_some() {
            let mut wire = Vec::new();
            codec::write_message(&mut wire, kind, payload, fragment);
            self.defer(Deferred::Frame {
                wire,
                payload_len: payload.len(),
            });
        } else {
            codec::write_message(out, kind, payload, fragment);
            self.counts.messages_out += 1;
            self.counts.bytes_out += payload.len() as u64;
        }
    }

    /// Faults keep their place behind delayed replies.
    fn act(&mut self, action: Deferred, out: &mut Vec<u8>) {
        if self.shared.cfg.faults.delay.is_some() {
            self.defer(action);
        } else {
            self.execute(action, out);
        }
    }

    fn defer(&mut self, action: Deferred) {
        let delay = self.shared.cfg.faults.delay.unwrap_or_default();
        self.deferred.push_back((self.now + delay, action));
    }

    fn execute(&mut self, action: Deferred, out: &mut Vec<u8>) {
        if self.phase != Phase::Open {
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
            Deferred::Close(spec) => self.start_close(spec.code, &spec.reason, out),
            Deferred::Drop => {
                let mut close = CloseEvent::abnormal(
                    "dropped the TCP connection without a Close frame (--drop-after)",
                );
                close.initiator = Initiator::Server;
                self.close = Some(close);
                self.phase = Phase::Finishing {
                    deadline: self.cap(Instant::now() + LINGER),
                    linger: false,
                    shut: false,
                };
            }
        }
    }

    fn cap(&self, deadline: Instant) -> Instant {
        self.hard_deadline.map_or(deadline, |h| h.min(deadline))
    }

    /// Send Close and wait for the client's (server-initiated closing handshake).
    fn start_close(&mut self, code: u16, reason: &str, out: &mut Vec<u8>) {
        if self.phase != Phase::Open {
            return;
        }
        codec::write_close(out, code, reason);
        self.sent_close = Some((code, reason.to_string()));
        self.dec.discard_data();
        self.deferred = VecDeque::new();
        self.phase = Phase::CloseSent {
            deadline: self.cap(Instant::now() + CLOSE_TIMEOUT),
        };
    }

    /// The client broke the protocol: send the matching Close and end without waiting for
    /// its answer (RFC 6455 7.1.7), except for 1009, where it may still close cleanly.
    fn fail(&mut self, v: Violation, out: &mut Vec<u8>) {
        if v == codec::TOO_BIG && self.phase == Phase::Open {
            self.start_close(v.code, v.reason, out);
            return;
        }
        if self.phase == Phase::Open {
            codec::write_close(out, v.code, v.reason);
        }
        self.close.get_or_insert(CloseEvent {
            code: v.code,
            reason: v.reason.to_string(),
            was_clean: false,
            initiator: Initiator::Server,
            code_valid: true,
        });
        self.finishing();
    }

    fn finishing(&mut self) {
        self.phase = Phase::Finishing {
            deadline: self.cap(Instant::now() + LINGER),
            linger: true,
            shut: false,
        };
    }

    fn on_close_frame(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let (code, reason, code_valid) = close::parse_close_payload(payload);
        if let CloseCheck::Invalid(v) = codec::check_close(payload) {
            self.close = Some(CloseEvent {
                code,
                reason,
                was_clean: false,
                initiator: Initiator::Client,
                code_valid,
            });
            return self.fail(v, out);
        }
        let initiator = match self.phase {
            Phase::Open => {
                // Echo the client's code (and reason) back: the closing handshake.
                codec::write_control(out, OP_CLOSE, payload);
                Initiator::Client
            }
            Phase::CloseSent { .. } => Initiator::Server,
            _ => return,
        };
        self.close = Some(CloseEvent {
            code,
            reason,
            was_clean: true,
            initiator,
            code_valid,
        });
        self.finishing();
    }

    fn next_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::CloseSent { deadline } | Phase::Finishing { deadline, .. } => Some(deadline),
            Phase::Done => None,
            Phase::Open => {
                let cfg = &self.shared.cfg;
                [
                    self.deferred.front().map(|(at, _)| *at),
                    cfg.idle_timeout.map(|t| self.last_data + t),
                    self.heartbeat.as_ref().map(|hb| hb.next_deadline()),
                ]
                .into_iter()
                .flatten()
                .min()
            }
        }
    }

    fn on_timer(&mut self, now: Instant) {
        self.now = now;
        match self.phase {
            Phase::CloseSent { deadline } if now >= deadline => {
                let (code, reason) = self.sent_close.take().unwrap_or_default();
                let mut close = CloseEvent::abnormal(format!(
                    "sent Close {code} {reason:?}; no Close frame came back in time"
                ));
                close.initiator = Initiator::Server;
                self.close.get_or_insert(close);
                self.phase = Phase::Done;
            }
            Phase::Finishing { deadline, .. } if now >= deadline => self.phase = Phase::Done,
            Phase::Open => self.with_out(|c, out| c.on_timer_open(now, out)),
            _ => {}
        }
    }

    fn on_timer_open(&mut self, now: Instant, out: &mut Vec<u8>) {
        while self.phase == Phase::Open
            && let Some((at, _)) = self.deferred.front()
            && *at <= now
        {
            let (_, action) = self.deferred.pop_front().expect("front exists");
            self.execute(action, out);
        }
        if self.deferred.is_empty() && self.deferred.capacity() > 0 {
            self.deferred = VecDeque::new();
        }
        if let Some(idle) = self.shared.cfg.idle_timeout
            && now >= self.last_data + idle
        {
            self.start_close(close::GOING_AWAY, "idle timeout", out);
        }
        if self.phase != Phase::Open {
            return;
        }
        let Some(hb) = &mut self.heartbeat else {
            return;
        };
        match hb.poll(now) {
            Action::Send(Probe::Ping { payload, .. }) => {
                codec::write_control(out, OP_PING, &payload);
            }
            Action::Dead { .. } => {
                let timeout = hb.config().timeout;
                let (id, peer) = (self.id, self.peer);
                self.shared
                    .emit(|| ServerEvent::HeartbeatTimeout { id, peer, timeout });
                let mut close = CloseEvent::abnormal(format!(
                    "heartbeat timeout: no pong within {}",
                    humantime::format_duration(timeout)
                ));
                close.initiator = Initiator::Server;
                self.close = Some(close);
                self.phase = Phase::Done;
            }
            Action::Send(Probe::Text(_)) | Action::Wait => {}
        }
    }

    fn on_shutdown(&mut self) {
        let hard = Instant::now() + self.shared.cfg.shutdown_grace;
        self.hard_deadline = Some(hard);
        match &mut self.phase {
            Phase::Open => {
                self.with_out(|c, out| c.start_close(close::GOING_AWAY, "going away", out))
            }
            Phase::CloseSent { deadline } | Phase::Finishing { deadline, .. } => {
                *deadline = (*deadline).min(hard)
            }
            Phase::Done => {}
        }
    }

    fn drain_broadcast(&mut self, member: &Member) {
        self.with_out(|c, out| {
            loop {
                // Over the high-water mark the frames stay queued (where the queue limit
                // catches a client that does not read), but a slow mark must still be seen.
                let next = if out.len() - c.out_pos >= HIGH_WATER {
                    member.peek_slow()
                } else {
                    member.pop()
                };
                match next {
                    Next::Frame(f) => {
                        if c.phase == Phase::Open {
                            out.extend_from_slice(&f.wire);
                            c.counts.messages_out += 1;
                            c.counts.bytes_out += f.payload_len as u64;
                        }
                    }
                    Next::Empty => return,
                    Next::Slow => {
                        if let Some(hub) = &c.shared.hub {
                            hub.leave(c.id);
                        }
                        c.start_close(1008, "slow consumer", out);
                        return;
                    }
                }
            }
        });
    }

    fn finish(&mut self, ending: IoStep) {
        let close = self.close.take().unwrap_or_else(|| {
            let why = match &ending {
                IoStep::Error(e) => format!("connection error: {e}"),
                _ => "connection closed without a Close frame".to_string(),
            };
            let mut close = CloseEvent::abnormal(why);
            if matches!(self.phase, Phase::CloseSent { .. }) {
                close.initiator = Initiator::Server;
            }
            close
        });
        let s = &self.shared;
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
