//! A connection's life after the upgrade, as a future written by hand so that it holds exactly
//! this: the engine's `Connection` and the echo state, no space for branches that are not in
//! use, no timer of its own unless a delayed reply or a shutdown is due, and no shared lock
//! taken per message. It waits on five things at once: the socket, its entry in the server's
//! timer wheel (heartbeat and idle timeout), its own timer, shutdown (a slot in the server's
//! `wakers` table, which the wheel wakes too), and the broadcast queue.

use super::accept::{Io, Upgraded};
use super::broadcast::Member;
use super::budget::Verdict;
use super::echo::{Echo, Flags};
use super::{ServerEvent, TaskGuard};
use crate::timer::wakers::Key;
use crate::timer::wheel::Wheel;
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
    /// The connection's own timer, for what must be on time (`--delay`, the end of a
    /// shutdown's grace period), allocated only once such a deadline exists. It is moved
    /// earlier when needed, never later: when it fires early, `on_timer` finds nothing due
    /// and it is set again. The heartbeat and `--idle-timeout` are in the server's timer
    /// wheel instead, moved the same way, which keeps timer work off the per-message path.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    // In `echo`, where they fill its padding: `Flags::HEAVY` (registered with the budget as a
    // candidate to make room: it waits for its client), `waker_key` (the slot of this task's
    // waker in the server's table, taken on the first poll, since a task's waker does not
    // change, for shutdown and the timer wheel to wake it; whether shutdown began is read
    // from `Shared::stopping`), `Flags::SHUTDOWN_SEEN`, `Flags::TIMER_ARMED` and the wheel's
    // `wheel_tick` with `Flags::WHEEL_ARMED`.
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
        if self.echo.flags.has(Flags::HEAVY) {
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
            if self.echo.flags.has(Flags::HEAVY)
                && self.echo.shared.budget.take_evicted(self.echo.id)
            {
                self.echo.flags.set(Flags::HEAVY, false);
                self.make_room();
                continue;
            }
            if !self.echo.flags.has(Flags::SHUTDOWN_SEEN) {
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
            let state = self.ws.endpoint().state();
            let echo = &mut self.echo;
            let armed = echo.flags.has(Flags::TIMER_ARMED);
            match echo.precise_deadline(state) {
                Some(d)
                    if !armed
                        || self
                            .timer
                            .as_ref()
                            .is_none_or(|t| d < t.deadline().into_std()) =>
                {
                    match &mut self.timer {
                        Some(t) => t.as_mut().reset(d.into()),
                        None => self.timer = Some(Box::pin(tokio::time::sleep_until(d.into()))),
                    }
                    echo.flags.set(Flags::TIMER_ARMED, true);
                }
                Some(_) => {}
                None => {
                    echo.flags.set(Flags::TIMER_ARMED, false);
                    self.timer = None;
                }
            }
            let fired = echo.flags.has(Flags::TIMER_ARMED)
                && self
                    .timer
                    .as_mut()
                    .is_some_and(|t| t.as_mut().poll(cx).is_ready());
            if fired {
                echo.flags.set(Flags::TIMER_ARMED, false);
            }
            if fired || wheel_due(echo, state) {
                echo.on_timer(&mut self.ws, Instant::now());
                continue;
            }
            if let Some(m) = &self.member {
                let over = self.ws.queued() >= HIGH_WATER;
                // Over the high-water mark only a slow mark matters; frames wait in the queue.
                if m.poll_ready(cx, !over) {
                    echo.drain_broadcast(&mut self.ws, m);
                }
                let over = self.ws.queued() >= HIGH_WATER;
                echo.flags.set(Flags::RESUME_ON_DRAIN, over);
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
        let (held, timer) = (&mut self.held, &self.timer);
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
            if timers_stale(echo, timer, ws.endpoint().state()) {
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
            if echo.flags.has(Flags::RESUME_ON_DRAIN) && ws.queued() < HIGH_WATER {
                echo.flags.set(Flags::RESUME_ON_DRAIN, false);
                return Poll::Ready(IoStep::Resume);
            }
            if ws.queued() >= HIGH_WATER {
                // Waiting for the client: a candidate to make room under --max-buffered.
                echo.shared.budget.register(echo.id, *held, cx.waker());
                echo.flags.set(Flags::HEAVY, true);
                return Poll::Pending;
            }
            if echo.flags.has(Flags::HEAVY) {
                echo.flags.set(Flags::HEAVY, false);
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
            echo.flags.set(Flags::CLOCK_STALE, true);
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

/// Whether the connection's wheel entry has come, else (re)arms it: for a deadline with no
/// entry yet, or one earlier than its entry (a later one just waits for the entry to fire, and
/// is armed then). `true`: due now.
fn wheel_due(echo: &mut Echo, state: State) -> bool {
    let Some(wheel) = &echo.shared.wheel else {
        return false;
    };
    if echo.flags.has(Flags::WHEEL_ARMED) && wheel.reached(echo.wheel_tick) {
        echo.flags.set(Flags::WHEEL_ARMED, false);
        return true;
    }
    let Some(at) = echo.coarse_deadline(state) else {
        // Its entry, if any, fires into a loop that finds nothing due.
        echo.flags.set(Flags::WHEEL_ARMED, false);
        return false;
    };
    let tick = wheel.tick_of(at);
    let armed = echo.flags.has(Flags::WHEEL_ARMED);
    if (armed && !Wheel::short(tick).before(echo.wheel_tick)) || echo.waker_key == Key::NONE {
        return false;
    }
    if !wheel.arm(echo.waker_key, tick) {
        echo.flags.set(Flags::WHEEL_ARMED, false);
        return true;
    }
    echo.wheel_tick = Wheel::short(tick);
    echo.flags.set(Flags::WHEEL_ARMED, true);
    false
}

/// Something is due sooner than the connection's timer or its wheel entry is set for (a
/// delayed reply, a close deadline, a Pong that moved the next Ping before a long
/// `--ping-timeout`): the loop must set them again.
fn timers_stale(echo: &Echo, timer: &Option<Pin<Box<tokio::time::Sleep>>>, state: State) -> bool {
    let precise = echo.precise_deadline(state).is_some_and(|d| {
        !echo.flags.has(Flags::TIMER_ARMED)
            || timer.as_ref().is_none_or(|t| d < t.deadline().into_std())
    });
    if precise {
        return true;
    }
    let Some(wheel) = &echo.shared.wheel else {
        return false;
    };
    // Without a wakers slot there is nothing to arm (the connection is ending).
    echo.waker_key != Key::NONE
        && echo.coarse_deadline(state).is_some_and(|at| {
            !echo.flags.has(Flags::WHEEL_ARMED)
                || Wheel::short(wheel.tick_of(at)).before(echo.wheel_tick)
        })
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
