//! Where soak's workers put their events: a few small, bounded batches (shards) in front of the
//! one `Stats`.
//!
//! Why not a channel to a collector task, as before: every message made two events, and each
//! one went through tokio's unbounded mpsc (an atomic slot claim, a block allocated every 32)
//! and often woke the collector task, which then had to be scheduled, polled and parked again:
//! ~13% of soak's instructions at 100 × 1000 msg/s went there, and the queue had no bound when
//! the collector fell behind. Here a worker appends its event to its shard's batch under that
//! shard's own lock (uncontended: connections are spread over more shards than there are
//! runtime threads), and the worker that fills a batch applies it to `Stats` itself, one stats
//! lock per batch. Nothing is woken per message.
//!
//! Why shards and not one batch per runtime thread (tried before, and backed out): a thread's
//! batch can only be handed over by that thread, so events sat in a parked thread's batch, and
//! the hand-off had to allocate. A shard is reachable from anywhere, so `flush` (on a short
//! interval, before every snapshot, and at the end) empties all of them, and the memory is
//! fixed: `SHARDS × BATCH` events, allocated once.
//!
//! Order: one connection's events always go to the same shard and are applied in the order it
//! made them (the shard's lock is held until its batch is applied). Events of different
//! connections in different shards may be applied out of their real order, by at most one
//! batch or one flush interval; only the peak of open connections could read high from that
//! under heavy churn, never above the target. Events are counted in the timeline's second in
//! which they are applied (as they were when the collector took them off the channel), so a
//! point can be late by at most `FLUSH_EVERY` when the load is too light to fill batches.

use super::soak_collector::{Ev, Stats};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Shards: enough that the runtime threads rarely meet on one, few enough that `flush` stays
/// cheap and the fixed memory small (`SHARDS × BATCH × size_of::<Ev>()`, 80 KiB).
const SHARDS: usize = 16;
/// Events per batch: the stats lock is taken once for this many. At 100 × 1000 msg/s (200,000
/// events a second) a shard fills one every ~10 ms.
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
            shards: (0..SHARDS)
                .map(|_| Shard(Mutex::new(Vec::with_capacity(BATCH))))
                .collect(),
        }
    }

    /// Counts `e` for connection `id`: into its shard's batch, and the batch into `Stats` when
    /// it is full.
    pub fn push(&self, id: u32, e: Ev) {
        let mut batch = lock(&self.shards[id as usize % SHARDS].0);
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

    /// Called with the shard's lock held, so that a shard's batches are applied in order; the
    /// lock order is always shard, then stats.
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

    #[test]
    fn a_full_batch_is_applied_by_the_pusher_and_the_rest_by_flush() {
        let stats = Arc::new(Mutex::new(Stats::new(1, Instant::now())));
        let sink = Sink::new(stats.clone());
        for _ in 0..BATCH + 3 {
            sink.push(7, sent());
        }
        assert_eq!(
            lock(&stats).messages.sent,
            BATCH as u64,
            "the full batch, not the 3 after it"
        );
        assert_eq!(sink.stats().messages.sent, BATCH as u64 + 3);
        assert_eq!(lock(&stats).bytes.sent_wire, 16 * (BATCH as u64 + 3));
    }

    #[test]
    fn one_connections_events_keep_their_order_across_batches() {
        let stats = Arc::new(Mutex::new(Stats::new(2, Instant::now())));
        let sink = Arc::new(Sink::new(stats));
        // Two connections in one shard, each opened and lost over and over from its own
        // thread. Were a batch applied out of turn, some Lost would be applied before its
        // Opened (`open` saturates at 0) and `open` would not end at 0.
        let threads: Vec<_> = [1, 1 + SHARDS as u32]
            .into_iter()
            .map(|id| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 * BATCH {
                        sink.push(
                            id,
                            Ev::Opened {
                                took: Duration::from_millis(1),
                                reconnect: None,
                            },
                        );
                        sink.push(
                            id,
                            Ev::Lost {
                                kind: crate::error::ErrorKind::Abnormal,
                                close_code: None,
                            },
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let s = sink.stats();
        assert_eq!(s.conns.opened, 40 * BATCH as u64);
        assert_eq!(s.open, 0);
        assert!(s.peak_open <= 2, "{}", s.peak_open);
    }

    #[test]
    fn pushes_from_many_threads_are_all_counted() {
        let stats = Arc::new(Mutex::new(Stats::new(8, Instant::now())));
        let sink = Arc::new(Sink::new(stats));
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let sink = sink.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        sink.push(t * 7 + i % 3, sent());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(sink.stats().messages.sent, 40_000);
    }
}
