//! One timer wheel for the coarse deadlines of every connection: the next heartbeat Ping, a
//! Pong that did not come back, `--idle-timeout`. A tokio `Sleep` per connection was 112 bytes
//! allocated per connection and an entry in tokio's timer; here a connection is one 8-byte
//! entry (its slot in the wakers table and the tick it is due at), and one task ticks for all
//! of them, waking only the connections in the bucket that is due. The price is precision: a
//! deadline is met within one tick after it (1/8 of the shortest of `--ping-interval`,
//! `--ping-timeout` and `--idle-timeout`, from 1 ms to 1 s), never before it.
//!
//! Hand-written because tokio-util's `DelayQueue` (a wheel too) has one owner that inserts and
//! polls, and keeps a slab entry and a key per item; here every connection arms its own entry
//! from its own task, and one task fires them.
//!
//! Deadlines move later with every message, and the wheel is not told: a connection woken
//! before its new deadline finds nothing due and arms again, once. So the per-message path
//! never takes this lock, and an entry is never removed early (a connection that ends leaves
//! its entry to fire into an empty or reused waker slot: a spurious wake, which is harmless).

use super::stamp::Stamp;
use super::wakers::{Key, Wakers};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The finest tick: tokio's timer resolution.
const MIN_TICK: Duration = Duration::from_millis(1);
/// The coarsest: a 60 s `--idle-timeout` alone closes within a second, not 7.5 (a tick a
/// second costs nothing).
const MAX_TICK: Duration = Duration::from_secs(1);
/// Ticks per shortest interval.
const TICKS_PER_INTERVAL: u32 = 8;
/// Buckets: enough for the longest interval in one turn, within these bounds. An entry due
/// more than one turn ahead waits in its bucket for later turns (a hashed wheel).
const MIN_BUCKETS: usize = 16;
const MAX_BUCKETS: usize = 4096;

/// A connection's tick, as it keeps it: the low 32 bits, compared with wrapping arithmetic (a
/// deadline is never 2^31 ticks ahead: `Wheel::new` keeps the longest span under 2^28 ticks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick(u32);

impl Tick {
    /// `self` comes before `other`.
    pub fn before(self, other: Tick) -> bool {
        (self.0.wrapping_sub(other.0) as i32) < 0
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    key: Key,
    due: Tick,
}

#[derive(Debug)]
pub struct Wheel {
    /// Nanoseconds per tick; tick `n` is at `epoch + n * tick_ns`.
    tick_ns: u64,
    epoch: Instant,
    /// The last tick whose bucket was fired: connections read it without the lock to tell
    /// whether their tick has come. Written under the lock, so that an entry is never put in
    /// a bucket that was already passed.
    now: AtomicU64,
    inner: Mutex<Inner>,
    /// Wakes the ticking task when the wheel stops being empty.
    work: Notify,
}

#[derive(Debug)]
struct Inner {
    /// `len` a power of two; tick `n` is in bucket `n & (len - 1)`.
    buckets: Vec<Vec<Entry>>,
    entries: usize,
}

impl Wheel {
    /// A wheel for deadlines `spans` ahead (the configured intervals and timeouts).
    pub fn new(epoch: Instant, spans: &[Duration]) -> Wheel {
        let shortest = spans
            .iter()
            .copied()
            .min()
            .unwrap_or(Duration::from_secs(1));
        let longest = spans.iter().copied().max().unwrap_or(shortest);
        let tick = (shortest / TICKS_PER_INTERVAL)
            .clamp(MIN_TICK, MAX_TICK)
            .max(longest / (1 << 28));
        let tick_ns = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX);
        let turn = longest.as_nanos() / u128::from(tick_ns) + 2;
        let buckets = usize::try_from(turn)
            .unwrap_or(MAX_BUCKETS)
            .clamp(MIN_BUCKETS, MAX_BUCKETS)
            .next_power_of_two();
        Wheel {
            tick_ns,
            epoch,
            now: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                buckets: vec![Vec::new(); buckets],
                entries: 0,
            }),
            work: Notify::new(),
        }
    }

    #[cfg(test)]
    pub fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick_ns)
    }

    /// The first tick at or after `at`: a deadline fires there, never before it.
    pub fn tick_of(&self, at: Stamp) -> u64 {
        at.nanos().div_ceil(self.tick_ns)
    }

    /// The last tick fired (behind the clock while the wheel is empty).
    pub fn current(&self) -> u64 {
        self.now.load(Ordering::Acquire)
    }

    /// Whole ticks in `d`, at least one.
    pub fn ticks_in(&self, d: Duration) -> u64 {
        (u64::try_from(d.as_nanos()).unwrap_or(u64::MAX) / self.tick_ns).max(1)
    }

    /// The tick's low bits, as a connection keeps them.
    pub fn short(tick: u64) -> Tick {
        Tick(tick as u32)
    }

    /// `tick` has been fired (or passed).
    pub fn reached(&self, tick: Tick) -> bool {
        let now = Wheel::short(self.now.load(Ordering::Acquire));
        !now.before(tick)
    }

    /// Wake `key` at `tick`. `false` when that tick has already come: the caller is due now.
    pub fn arm(&self, key: Key, tick: u64) -> bool {
        let mut inner = lock(&self.inner);
        if tick <= self.now.load(Ordering::Acquire) {
            return false;
        }
        let mask = inner.buckets.len() - 1;
        inner.buckets[(tick as usize) & mask].push(Entry {
            key,
            due: Wheel::short(tick),
        });
        inner.entries += 1;
        if inner.entries == 1 {
            self.work.notify_one();
        }
        true
    }

    /// Fire the buckets from the last fired tick up to `upto`, putting the keys due in `keys`.
    fn advance(&self, upto: u64, keys: &mut Vec<Key>) {
        let mut inner = lock(&self.inner);
        let from = self.now.load(Ordering::Acquire);
        if upto <= from {
            return;
        }
        let len = inner.buckets.len() as u64;
        let now = Wheel::short(upto);
        let before = keys.len();
        // Behind by a whole turn or more: every bucket once.
        let (first, last) = if upto - from >= len {
            (0, len - 1)
        } else {
            (from + 1, upto)
        };
        for t in first..=last {
            let b = &mut inner.buckets[(t & (len - 1)) as usize];
            b.retain(|e| {
                let due = !now.before(e.due);
                if due {
                    keys.push(e.key);
                }
                !due
            });
            // A burst of connections leaves a big bucket behind: give the memory back once
            // it is mostly empty.
            if b.capacity() > 64 && b.len() < b.capacity() / 4 {
                b.shrink_to(b.len() * 2);
            }
        }
        inner.entries -= keys.len() - before;
        self.now.store(upto, Ordering::Release);
    }

    fn is_empty(&self) -> bool {
        lock(&self.inner).entries == 0
    }

    /// The ticking task: sleeps while the wheel is empty, else wakes once a tick and wakes the
    /// connections that are due. Runs until aborted.
    pub async fn run(&self, wakers: &Wakers) {
        let mut keys = Vec::new();
        loop {
            if self.is_empty() {
                // `notify_one` keeps a permit: an entry armed since the check is not missed.
                self.work.notified().await;
            }
            let next = self.now.load(Ordering::Acquire) + 1;
            let at = self.epoch + Duration::from_nanos(next.saturating_mul(self.tick_ns));
            tokio::time::sleep_until(at.into()).await;
            let elapsed = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
            // tokio never wakes early, but the clock read here is not the timer's.
            let upto = (elapsed / self.tick_ns).max(next);
            self.advance(upto, &mut keys);
            wakers.wake(&keys);
            keys.clear();
            if keys.capacity() > 4096 {
                keys.shrink_to(4096);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_tick_is_an_eighth_of_the_shortest_span_from_a_millisecond_to_a_second() {
        let epoch = Instant::now();
        assert_eq!(Wheel::new(epoch, &[ms(1000), ms(2000)]).tick(), ms(125));
        assert_eq!(Wheel::new(epoch, &[ms(4)]).tick(), ms(1));
        assert_eq!(Wheel::new(epoch, &[ms(60_000)]).tick(), ms(1000));
        // A day of idle timeout next to a 1 s heartbeat: still 125 ms, buckets capped.
        let w = Wheel::new(epoch, &[ms(1000), ms(86_400_000)]);
        assert_eq!(w.tick(), ms(125));
        assert_eq!(lock(&w.inner).buckets.len(), MAX_BUCKETS);
    }

    #[test]
    fn a_deadline_fires_at_the_first_tick_at_or_after_it() {
        let w = Wheel::new(Instant::now(), &[ms(80)]);
        assert_eq!(w.tick(), ms(10));
        assert_eq!(w.tick_of(Stamp::from_nanos(20_000_000)), 2);
        assert_eq!(w.tick_of(Stamp::from_nanos(20_000_001)), 3);
    }

    #[test]
    fn only_due_entries_fire_and_each_once() {
        let w = Wheel::new(Instant::now(), &[ms(80)]);
        let buckets = lock(&w.inner).buckets.len() as u64;
        let (a, b, c) = (Key::test(1), Key::test(2), Key::test(3));
        assert!(w.arm(a, 3));
        assert!(w.arm(b, 5));
        // In a's bucket, one turn later.
        assert!(w.arm(c, 3 + buckets));
        let mut keys = Vec::new();
        w.advance(2, &mut keys);
        assert!(keys.is_empty() && !w.reached(Wheel::short(3)));
        w.advance(4, &mut keys);
        assert_eq!(keys, vec![a]);
        assert!(w.reached(Wheel::short(3)) && !w.reached(Wheel::short(5)));
        // A tick already passed is refused: the caller is due now.
        assert!(!w.arm(a, 4));
        keys.clear();
        w.advance(3 + buckets, &mut keys);
        assert_eq!(keys, vec![b, c]);
        assert!(w.is_empty());
        keys.clear();
        w.advance(10 * buckets, &mut keys);
        assert!(keys.is_empty());
    }

    #[test]
    fn far_behind_every_bucket_is_fired_once() {
        let w = Wheel::new(Instant::now(), &[ms(80)]);
        let buckets = lock(&w.inner).buckets.len() as u64;
        for t in 1..=buckets {
            assert!(w.arm(Key::test(t as u32), t));
        }
        let mut keys = Vec::new();
        w.advance(5 * buckets, &mut keys);
        assert_eq!(keys.len() as u64, buckets);
        assert!(w.is_empty());
    }

    #[test]
    fn ticks_compare_across_the_wrap() {
        let (late, early) = (Tick(3), Tick(u32::MAX - 2));
        assert!(early.before(late));
        assert!(!late.before(early));
        assert!(!late.before(late));
    }
}
