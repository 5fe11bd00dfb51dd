//! Where soak's workers put their events: a few small, bounded batches (shards) in front of the
//! one `Stats`.
//!
//! Why not a channel to a collector task, as before: every message made two events, and each
//! one went through tokio's unbounded mpsc (an atomic slot claim, a block allocated every 32)
//! and often woke the collector task, which then had to be scheduled, polled and parked again:
//! ~13% of soak's instructions went there (callgrind, 20 × 200 msg/s), and the queue had no
//! bound when the collector fell behind. Here a message's events are appended to a batch under
//! that batch's own lock, and the worker that fills a batch applies it to `Stats` itself, one
//! stats lock per batch. Nothing is woken per message.
//!
//! One batch (shard) per runtime thread, chosen by the thread, not by the connection: a
//! connection's task runs on either thread, so shards chosen by connection had every shard's
//! lock written from both cores (`push` was 2.6% of perf's samples at 100 × 1000 msg/s, 1.9%
//! per thread, one run each; its lock and unlock are most of it). A thread's shard stays in its
//! core's cache; another thread touches it only to flush it.
//!
//! Why shards and not batches only the thread itself can hand over (tried before, and backed
//! out): events sat in a parked thread's batch, and the hand-off had to allocate. A shard is
//! reachable from anywhere, so `flush` (on a short interval, before every snapshot, and at the
//! end) empties all of them, and the memory is bounded: `SHARDS × BATCH` events at most.
//!
//! Order: the events that open and close connections (`open` and its peak depend on their
//! order) skip the batches and are applied at once, in the order they happen; they are a few
//! per connection, not per message. Everything batched only adds to counters and histograms,
//! in any order. Events are counted in the timeline's second in which they are applied (as they
//! were when the collector took them off the channel), so a point can be late by at most
//! `FLUSH_EVERY` when the load is too light to fill batches.

use super::soak_collector::{Ev, Stats};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Shards: one per runtime thread on machines of up to 16 cores (more threads share them),
/// few enough that `flush` stays cheap. Memory: at most `SHARDS × BATCH × size_of::<Ev>()`
/// (80 KiB), and only for the shards a thread uses (a batch grows to `BATCH` once and is kept).
const SHARDS: usize = 16;
/// Events per batch: the stats lock is taken once for this many. At 100 × 1000 msg/s (200,000
/// events a second) on two cores a thread's shard fills one about every millisecond.
pub const BATCH: usize = 128;
/// How often the collector empties every shard, so that the live view, the published totals
/// and the timeline stay current when messages are too few to fill batches.
pub const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// One shard, on its own cache lines: the runtime threads write neighbouring shards at once.
#[repr(align(128))]
struct Shard(Mutex<Vec<Ev>>);

pub struct Sink {
    stats: Arc<Mutex<Stats>>,
    shards: Box<[Shard]>,
}

impl Sink {
    pub fn new(stats: Arc<Mutex<Stats>>) -> Self {
        Sink {
            stats,
            shards: (0..SHARDS).map(|_| Shard(Mutex::new(Vec::new()))).collect(),
        }
    }

    /// Counts `e`: into this thread's batch, and the batch into `Stats` when it is full; an
    /// event that opens or closes a connection at once.
    pub fn push(&self, e: Ev) {
        if matches!(
            e,
            Ev::Opened { .. } | Ev::Lost { .. } | Ev::Closed | Ev::PreambleFailed
        ) {
            lock(&self.stats).apply(e);
            return;
        }
        let mut batch = lock(&self.shards[SHARD.with(|s| *s)].0);
        batch.push(e);
        if batch.len() >= BATCH {
            self.apply(&mut batch);
        }
    }

    /// Applies every shard's batch to `Stats`: what was pushed before this call is counted when
    /// it returns.
    pub fn flush(&self) {
        for shard in self.shards.iter() {
            let mut batch = lock(&shard.0);
            if !batch.is_empty() {
                self.apply(&mut batch);
            }
        }
    }

    /// `Stats` with everything pushed so far applied: what a snapshot or the report reads.
    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        self.flush();
        lock(&self.stats)
    }

    /// Called with the shard's lock held (the lock order is always shard, then stats).
    fn apply(&self, batch: &mut Vec<Ev>) {
        lock(&self.stats).apply_all(batch);
        batch.clear();
    }
}

/// Empties every shard every `FLUSH_EVERY`, until aborted (the run's end flushes once more).
pub async fn flush_every(sink: Arc<Sink>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        sink.flush();
    }
}

/// Numbers the threads that push, for their shards.
static THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = THREADS.fetch_add(1, Ordering::Relaxed) % SHARDS;
}

/// A panic while applying leaves `Stats` consistent enough to report: counters only grow.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sent() -> Ev {
        Ev::Sent {
            replay: false,
            len: 10,
            wire: 16,
        }
    }

    /// The memory bound above (80 KiB) assumes this.
    #[test]
    fn an_event_is_at_most_40_bytes() {
        assert!(
            std::mem::size_of::<Ev>() <= 40,
            "{}",
            std::mem::size_of::<Ev>()
        );
    }

    #[test]
    fn a_full_batch_is_applied_by_the_pusher_and_the_rest_by_flush() {
        let stats = Arc::new(Mutex::new(Stats::new(1, Instant::now())));
        let sink = Sink::new(stats.clone());
        for _ in 0..BATCH + 3 {
            sink.push(sent());
        }
        assert_eq!(
            lock(&stats).messages.sent,
            BATCH as u64,
            "the full batch, not the 3 after it"
        );
        assert_eq!(sink.stats().messages.sent, BATCH as u64 + 3);
        assert_eq!(lock(&stats).bytes.sent_wire, 16 * (BATCH as u64 + 3));
    }

    fn opened() -> Ev {
        Ev::Opened {
            took: Duration::from_millis(1),
            reconnect: None,
        }
    }

    fn lost() -> Ev {
        Ev::Lost {
            kind: crate::error::ErrorKind::Abnormal,
            close_code: None,
        }
    }

    /// A connection's task can move between threads, so its Opened and its Lost could sit in
    /// two shards and be applied in the wrong order; they are applied at once instead.
    #[test]
    fn events_that_open_and_close_connections_are_applied_at_once() {
        let stats = Arc::new(Mutex::new(Stats::new(1, Instant::now())));
        let sink = Sink::new(stats.clone());
        sink.push(opened());
        sink.push(sent());
        assert_eq!(lock(&stats).open, 1);
        assert_eq!(
            lock(&stats).messages.sent,
            0,
            "a message waits in its batch"
        );
        std::thread::scope(|t| {
            t.spawn(|| sink.push(lost()));
        });
        assert_eq!(lock(&stats).open, 0);
        assert_eq!(sink.stats().messages.sent, 1);
    }

    #[test]
    fn pushes_from_many_threads_are_all_counted() {
        let stats = Arc::new(Mutex::new(Stats::new(8, Instant::now())));
        let sink = Sink::new(stats);
        std::thread::scope(|t| {
            for _ in 0..4 {
                t.spawn(|| {
                    for _ in 0..10 * BATCH {
                        sink.push(opened());
                        sink.push(sent());
                        sink.push(lost());
                    }
                });
            }
        });
        let s = sink.stats();
        assert_eq!(s.messages.sent, 40 * BATCH as u64);
        assert_eq!((s.conns.opened, s.open), (40 * BATCH as u64, 0));
        assert!(s.peak_open <= 4, "{}", s.peak_open);
    }
}
