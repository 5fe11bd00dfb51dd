//! At most `OPEN_CONCURRENCY` handshakes in flight, the rest waiting in line. A tokio
//! `Semaphore` would do it, but each waiting task holds its `Acquire` (a waiter node with a
//! waker, ~60 bytes) in its future, or in a box: at the start of a big run every connection
//! waits at once, and 10,000 boxed waits freed one by one as the handshakes finish left ~200
//! bytes of RSS per connection in dirty pages. Here a waiter is its key in the shared wakers
//! table (`crate::timer::wakers`), 4 bytes in one queue, woken in order.

use crate::timer::wakers::{Key, Wakers};
use std::collections::VecDeque;
use std::sync::Mutex;

#[derive(Debug)]
pub struct OpenGate {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    free: usize,
    /// Oldest first; only the first may take a free permit, so nobody waits forever.
    waiting: VecDeque<Key>,
}

impl OpenGate {
    pub fn new(permits: usize) -> Self {
        OpenGate {
            inner: Mutex::new(Inner {
                free: permits,
                waiting: VecDeque::new(),
            }),
        }
    }

    /// Take a permit if one is free and nobody is ahead in line; else stand in line once
    /// (`queued`), to be woken through `wakers` when it is this key's turn.
    pub fn try_acquire(&self, key: Key, queued: &mut bool, wakers: &Wakers) -> bool {
        let next = {
            let mut g = lock(&self.inner);
            let first = g.waiting.front() == Some(&key);
            if g.free == 0 || !(g.waiting.is_empty() || (*queued && first)) {
                if !*queued {
                    g.waiting.push_back(key);
                    *queued = true;
                }
                return false;
            }
            g.free -= 1;
            if *queued {
                g.waiting.pop_front();
                *queued = false;
            }
            // Two permits freed before the first in line ran: the next may go too.
            if g.free > 0 {
                g.waiting.front().copied()
            } else {
                None
            }
        };
        if let Some(k) = next {
            wakers.wake(&[k]);
        }
        true
    }

    /// A handshake ended: its permit goes to the first in line.
    pub fn release(&self, wakers: &Wakers) {
        let first = {
            let mut g = lock(&self.inner);
            g.free += 1;
            g.waiting.front().copied()
        };
        if let Some(k) = first {
            wakers.wake(&[k]);
        }
    }

    /// Leave the line without a permit (the run ended while waiting).
    pub fn leave(&self, key: Key, wakers: &Wakers) {
        let next = {
            let mut g = lock(&self.inner);
            let Some(i) = g.waiting.iter().position(|k| *k == key) else {
                return;
            };
            g.waiting.remove(i);
            if i == 0 && g.free > 0 {
                g.waiting.front().copied()
            } else {
                None
            }
        };
        if let Some(k) = next {
            wakers.wake(&[k]);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Wake, Waker};

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn permits_go_in_line_order_and_a_leaver_passes_its_turn_on() {
        let wakers = Wakers::default();
        let counts: Vec<Arc<Count>> = (0..4)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let keys: Vec<Key> = counts
            .iter()
            .map(|c| wakers.register(&Waker::from(c.clone())))
            .collect();
        let woken = |i: usize| counts[i].0.load(Ordering::SeqCst);
        let gate = OpenGate::new(1);
        let mut q = [false; 4];
        assert!(gate.try_acquire(keys[0], &mut q[0], &wakers));
        // Full: 1, 2 and 3 stand in line, once each.
        for i in 1..4 {
            assert!(!gate.try_acquire(keys[i], &mut q[i], &wakers));
            assert!(!gate.try_acquire(keys[i], &mut q[i], &wakers));
            assert!(q[i]);
        }
        assert_eq!(lock(&gate.inner).waiting.len(), 3);
        gate.release(&wakers);
        assert_eq!((woken(1), woken(2)), (1, 0), "the first in line is woken");
        // A later one cannot jump the line while a permit is free.
        assert!(!gate.try_acquire(keys[2], &mut q[2], &wakers));
        assert!(gate.try_acquire(keys[1], &mut q[1], &wakers));
        assert!(!q[1]);
        // 2 leaves while first in line with a permit free: 3 is woken and may take it.
        gate.release(&wakers);
        assert_eq!(woken(2), 1);
        gate.leave(keys[2], &wakers);
        assert_eq!(woken(3), 1);
        assert!(gate.try_acquire(keys[3], &mut q[3], &wakers));
        assert!(lock(&gate.inner).waiting.is_empty());
        // Two permits freed at once: both go.
        let gate = OpenGate::new(0);
        let mut q = [false; 4];
        assert!(!gate.try_acquire(keys[0], &mut q[0], &wakers));
        assert!(!gate.try_acquire(keys[1], &mut q[1], &wakers));
        gate.release(&wakers);
        gate.release(&wakers);
        let before = woken(1);
        assert!(gate.try_acquire(keys[0], &mut q[0], &wakers));
        assert_eq!(
            woken(1),
            before + 1,
            "the next in line is told a permit is left"
        );
        assert!(gate.try_acquire(keys[1], &mut q[1], &wakers));
    }
}
