//! A connection's life after the upgrade, as a future written by hand so that it holds exactly
//! this: the engine's `Connection` and the echo state, no space for branches that are not in
//! use, no timer unless something is due, and no shared lock taken per message. It waits on
//! four things at once: the socket, the connection's one timer, shutdown (a slot in the
//! server's `wakers` table), and the broadcast queue.

use super::accept::{Io, Upgraded};
use super::broadcast::Member;
use super::budget::Verdict;
use super::echo::Echo;
use super::wakers::Key;
use super::{ServerEvent, TaskGuard};
use crate::ws::connection::Connection;
use crate::ws::proto::endpoint::{PingPolicy, State};
use crate::ws::proto::frame::Role;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Instant;

/// Stop reading from a client while this much output waits for it (backpressure).
pub(super) const HIGH_WATER: usize = 256 * 1024;
/// Rounds of read/write in one poll before giving other tasks a turn.
const IO_BUDGET: usize = 16;

enum IoStep {
    /// The loop has work: output drained below the high-water mark (broadcast frames may
    /// flow again), or the timer must be set earlier.
    Resume,
    Finished,
}

pub(super) struct ConnLoop {
    ws: Connection<Io>,
    echo: Echo,
    member: Option<Arc<Member>>,
    /// What this connection has added to the server's `--max-buffered` total.
    held: usize,
    /// The connection's one timer, allocated only while a deadline exists. It is moved
    /// earlier when needed, never later: when it fires early, `on_timer` finds nothing due
    /// and it is set again, which keeps timer work off the per-message path.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    // In `echo`, where they fill its padding: `heavy` (registered with the budget as a
    // candidate to make room: it waits for its client), `waker_key` (the slot of this task's
    // waker in the server's table, taken on the first poll, since a task's waker does not
    // change, for shutdown to wake it; whether shutdown began is read from
    // `Shared::stopping`) and `shutdown_seen`.
}

impl ConnLoop {
    pub(super) fn new(up: Upgraded, peer: SocketAddr, guard: TaskGuard) -> Self {
        let shared = guard.hold_open(up.slot);
        let (id, seat, member) = (up.id, up.seat, up.member);
        shared.connections.fetch_add(1, Ordering::Relaxed);
        shared.emit(|| ServerEvent::Opened {
            id,
            peer,
            path: up.path,
            subprotocol: up.subprotocol,
            compression: up.deflate.map(|d| d.to_string()),
        });
        let mut ws = Connection::new(
            up.io,
            Role::Server,
            up.leftover,
            shared.cfg.max_message_size,
        );
        if let Some(agreed) = up.deflate {
            ws.endpoint_mut().enable_deflate(agreed);
        }
        // With --replay a message the server read is kept, even one read during the closing
        // handshake of a shutdown (sent before the client saw our 1001).
        if shared.scale.as_ref().is_some_and(|r| r.replaying()) {
            ws.endpoint_mut().set_read_after_close(true);
        }
        if shared.cfg.faults.no_pong {
            ws.endpoint_mut().set_ping_policy(PingPolicy::Ignore);
        }
        ConnLoop {
            ws,
            echo: Echo::new(id, peer, shared, seat),
            member,
            held: 0,
            timer: None,
        }
    }

    /// The connection is over: leave the hub, report, add to the totals.
    fn end(&mut self) {
        self.echo.shared.wakers.unregister(self.echo.waker_key);
        self.echo.waker_key = Key::NONE;
        if let (Some(hub), Some(_)) = (&self.echo.shared.hub, &self.member) {
            hub.leave(self.echo.id, self.echo.room());
        }
        self.timer = None;
        let budget = &self.echo.shared.budget;
        if self.echo.heavy {
            budget.unregister(self.echo.id);
        }
        budget.update(&mut self.held, 0);
        let ending = self.ws.endpoint().ending_or_dropped();
        self.echo.finish(ending.close);
    }

    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..IO_BUDGET {
            if self.ws.endpoint().state() == State::Closed {
                return Poll::Ready(());
            }
            if self.echo.heavy && self.echo.shared.budget.take_evicted(self.echo.id) {
                self.echo.heavy = false;
                self.make_room();
                continue;
            }
            if !self.echo.shutdown_seen {
                let shared = &self.echo.shared;
                if self.echo.waker_key == Key::NONE {
                    self.echo.waker_key = shared.wakers.register(cx.waker());
                }
                // Read after registering: a shutdown that began before is seen here, one
                // that begins after wakes us.
                if shared.stopping.load(Ordering::SeqCst) {
                    self.echo.on_shutdown(&mut self.ws);
                }
            }
            let echo = &mut self.echo;
            match echo.next_deadline(self.ws.endpoint().state()) {
                Some(d) if echo.timer_at().is_none_or(|at| d < at) => {
                    match &mut self.timer {
                        Some(t) => t.as_mut().reset(d.into()),
                        None => self.timer = Some(Box::pin(tokio::time::sleep_until(d.into()))),
                    }
                    echo.set_timer_at(Some(d));
                }
                Some(_) => {}
                None => {
                    echo.set_timer_at(None);
                    self.timer = None;
                }
            }
            if echo.timer_at().is_some()
                && let Some(t) = &mut self.timer
                && t.as_mut().poll(cx).is_ready()
            {
                echo.set_timer_at(None);
                echo.on_timer(&mut self.ws, Instant::now());
                continue;
            }
            if let Some(m) = &self.member {
                let over = self.ws.queued() >= HIGH_WATER;
                // Over the high-water mark only a slow mark matters; frames wait in the queue.
                if m.poll_ready(cx, !over) {
                    echo.drain_broadcast(&mut self.ws, m);
                }
                echo.resume_on_drain = self.ws.queued() >= HIGH_WATER;
            }
            match self.poll_io(cx) {
                Poll::Ready(IoStep::Resume) => continue,
                Poll::Ready(IoStep::Finished) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Chosen to make room under `--max-buffered`: drop what waits for the client, then send
    /// 1013 if no frame was cut, else drop the connection (a Close could not follow a cut
    /// frame, and the client reads nothing anyway).
    fn make_room(&mut self) {
        let queued = self.ws.queued();
        let whole = self.ws.drop_unsent();
        self.echo.shared.budget.update(&mut self.held, 0);
        if !self.ws.endpoint().is_open() {
            self.ws
                .endpoint_mut()
                .abort("over --max-buffered while closing");
        } else if whole {
            let echo = &mut self.echo;
            self.ws.queue(|ep, out| echo.over_budget(ep, out));
        } else {
            let limit = self.echo.shared.budget.limit();
            self.ws.endpoint_mut().abort(format!(
                "dropped with {queued} bytes the client did not read: the server's output \
                 was over --max-buffered {limit}"
            ));
        }
    }

    fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<IoStep> {
        let (ws, echo) = (&mut self.ws, &mut self.echo);
        let held = &mut self.held;
        for _ in 0..IO_BUDGET {
            let now = holding(ws, echo);
            if *held != now {
                echo.shared.budget.update(held, now);
            }
            match ws.endpoint().state() {
                State::Closed => return Poll::Ready(IoStep::Finished),
                // The engine sends what is queued, closes the TCP connection and bounds it.
                State::Closing => {
                    ready!(ws.poll_finish(cx));
                    return Poll::Ready(IoStep::Finished);
                }
                State::CloseSent => {
                    if ws.poll_deadline(cx).is_ready() {
                        continue;
                    }
                }
                State::Open => {}
            }
            if echo.timer_stale(ws.endpoint().state()) {
                return Poll::Ready(IoStep::Resume);
            }
            if let Poll::Ready(Err(e)) = ws.poll_write_out(cx) {
                ws.endpoint_mut().on_io_error(&e);
                continue;
            }
            let now = holding(ws, echo);
            if *held != now {
                echo.shared.budget.update(held, now);
            }
            if echo.resume_on_drain && ws.queued() < HIGH_WATER {
                echo.resume_on_drain = false;
                return Poll::Ready(IoStep::Resume);
            }
            if ws.queued() >= HIGH_WATER {
                // Waiting for the client: a candidate to make room under --max-buffered.
                echo.shared.budget.register(echo.id, *held, cx.waker());
                echo.heavy = true;
                return Poll::Pending;
            }
            if echo.heavy {
                echo.heavy = false;
                echo.shared.budget.unregister(echo.id);
            }
            if !echo.can_read() {
                return Poll::Pending;
            }
            // More of a message still arriving while the server is over --max-buffered: the
            // biggest holder makes room, and when that is this client, it gets 1013 and what
            // it sent of the message is dropped.
            let budget = &echo.shared.budget;
            if ws.endpoint().is_open()
                && ws.endpoint().held_input() > 0
                && budget.total() > budget.limit()
                && budget.admit(echo.id, *held, 0) == Verdict::CloseSelf
            {
                ws.queue(|ep, out| echo.over_budget(ep, out));
                continue;
            }
            echo.clock_stale = true;
            match ready!(ws.poll_process(cx, |ep, ev, out| echo.on_event(ep, ev, out))) {
                Ok(true) => {}
                Ok(false) => ws.endpoint_mut().on_eof(),
                Err(e) => ws.endpoint_mut().on_io_error(&e),
            }
        }
        // Plenty to do: let other connections have a turn, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// What a connection holds for the `--max-buffered` budget: output waiting for the client
/// (queued or held back by `--delay`) and the part of a message still arriving.
fn holding(ws: &Connection<Io>, echo: &Echo) -> usize {
    ws.queued() + echo.deferred_bytes() + ws.endpoint().held_input()
}

impl Future for ConnLoop {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        ready!(this.poll_step(cx));
        this.end();
        Poll::Ready(())
    }
}

/// A task dropped before its end (the runtime shutting down) must not leave its waker in the
/// table: the waker would keep the task's memory alive.
impl Drop for ConnLoop {
    fn drop(&mut self) {
        self.echo.shared.wakers.unregister(self.echo.waker_key);
    }
}

#[cfg(test)]
mod tests {
    use super::super::accept::ConnTask;
    use super::*;

    /// An idle connection is its task (tokio's header and trailer, about 100 bytes, around
    /// `ConnTask`, the whole rounded up to 128: tokio aligns a task to a cache line), the
    /// socket's registration with tokio's reactor, and nothing else (see bench/README.md,
    /// "Where an idle connection's bytes go"). A field or a branch that grows the task shows up
    /// here before it shows in RSS.
    #[test]
    fn an_idle_connection_task_fits_its_budget() {
        let task = std::mem::size_of::<ConnTask>();
        // Tokio adds 96 bytes: 416 fills a 512-byte task exactly, and 8 more would take 640.
        // (The async fn it replaced was 920 bytes: a 1152-byte task.)
        assert!(task <= 416, "ConnTask is {task} B");
        let conn = std::mem::size_of::<ConnLoop>();
        assert!(conn <= 416, "ConnLoop is {conn} B");
        let echo = std::mem::size_of::<Echo>();
        assert!(echo <= 144, "Echo is {echo} B");
    }
}
