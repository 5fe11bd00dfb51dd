//! `--max-buffered`: one budget for the output that waits for clients, over all connections.
//! Each connection stops reading from its client once `HIGH_WATER` bytes wait for it, but
//! one read can bring a whole message, and its echo is queued whole: 20 clients that each
//! sent 60 MiB and read nothing pinned 1.1 GB. So every connection adds what it holds to one
//! total, and a reply that would take the total over the budget makes room first: the
//! connection holding the most is closed. When that is the one asking, it is closed with 1013
//! "try again later" instead of echoing (its Close frame is small and goes behind what it
//! holds); when it is another one, that one is woken and drops what it holds (`Verdict`).
//!
//! A message still arriving counts too (what was received of it): while the total is over,
//! a connection about to read more of one compares itself with the holders the same way, so
//! that many half-sent big messages cannot add up either.
//!
//! Only connections over `HIGH_WATER` (they have stopped reading and wait for their client)
//! are candidates; they register here with their waker, so the registry is small and the
//! per-message path touches one atomic only when what a connection holds changed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Waker;

#[derive(Debug)]
pub struct Budget {
    limit: usize,
    total: AtomicUsize,
    heavy: Mutex<Registry>,
}

#[derive(Debug, Default)]
struct Registry {
    candidates: HashMap<u64, Heavy>,
    /// What the connections told to make room still hold: about to be freed, so not counted
    /// again (a burst of small replies must not close every candidate in turn).
    releasing: usize,
}

#[derive(Debug)]
struct Heavy {
    held: usize,
    waker: Waker,
    evicted: bool,
}

/// What a connection may do with a reply of some size.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Queue it (another connection may have been told to make room).
    Queue,
    /// This connection holds the most: close it with 1013 instead.
    CloseSelf,
}

impl Budget {
    pub fn new(limit: usize) -> Self {
        Budget {
            limit,
            total: AtomicUsize::new(0),
            heavy: Mutex::new(Registry::default()),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Bytes held over all connections now.
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Acquire)
    }

    /// A connection now holds `now`; it had told us `*held`.
    pub fn update(&self, held: &mut usize, now: usize) {
        if now > *held {
            self.total.fetch_add(now - *held, Ordering::AcqRel);
        } else if now < *held {
            self.total.fetch_sub(*held - now, Ordering::AcqRel);
        }
        *held = now;
    }

    /// Connection `id`, holding `own`, wants to queue `len` more bytes.
    pub fn admit(&self, id: u64, own: usize, len: usize) -> Verdict {
        if self.total().saturating_add(len) <= self.limit {
            return Verdict::Queue;
        }
        let mut heavy = lock(&self.heavy);
        let Registry {
            candidates,
            releasing,
        } = &mut *heavy;
        if self.total().saturating_sub(*releasing).saturating_add(len) <= self.limit {
            return Verdict::Queue;
        }
        let victim = candidates
            .iter_mut()
            .filter(|(other, h)| **other != id && !h.evicted)
            .max_by_key(|(_, h)| h.held);
        match victim {
            Some((_, h)) if h.held > own.saturating_add(len) => {
                h.evicted = true;
                *releasing += h.held;
                h.waker.wake_by_ref();
                Verdict::Queue
            }
            _ => Verdict::CloseSelf,
        }
    }

    /// Connection `id` waits for its client with `held` bytes queued: a candidate.
    pub fn register(&self, id: u64, held: usize, waker: &Waker) {
        let mut heavy = lock(&self.heavy);
        let h = heavy.candidates.entry(id).or_insert_with(|| Heavy {
            held,
            waker: waker.clone(),
            evicted: false,
        });
        if !h.evicted {
            h.held = held;
        }
        if !h.waker.will_wake(waker) {
            h.waker = waker.clone();
        }
    }

    /// No longer a candidate. True when it was chosen to make room meanwhile.
    pub fn unregister(&self, id: u64) -> bool {
        let mut heavy = lock(&self.heavy);
        match heavy.candidates.remove(&id) {
            Some(h) if h.evicted => {
                heavy.releasing -= h.held;
                true
            }
            _ => false,
        }
    }

    /// True (once) when connection `id` was chosen to make room.
    pub fn take_evicted(&self, id: u64) -> bool {
        let evicted = lock(&self.heavy)
            .candidates
            .get(&id)
            .is_some_and(|h| h.evicted);
        evicted && self.unregister(id)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;

    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn within_the_budget_everything_is_queued_and_counted() {
        let b = Budget::new(1000);
        let (mut a, mut c) = (0, 0);
        b.update(&mut a, 600);
        b.update(&mut c, 300);
        assert_eq!(b.total(), 900);
        assert_eq!(b.admit(1, 600, 100), Verdict::Queue);
        b.update(&mut a, 100);
        assert_eq!(b.total(), 400);
        b.update(&mut a, 0);
        b.update(&mut c, 0);
        assert_eq!(b.total(), 0);
    }

    #[test]
    fn over_the_budget_the_largest_holder_makes_room() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let b = Budget::new(1000);
        let (mut big, mut small) = (0, 0);
        b.update(&mut big, 800);
        b.update(&mut small, 150);
        b.register(1, 800, &waker);
        b.register(2, 150, &waker);
        // A small reply from a third connection: the biggest holder is told to go.
        assert_eq!(b.admit(3, 0, 100), Verdict::Queue);
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(b.take_evicted(1));
        assert!(!b.take_evicted(1), "told once");
        assert!(!b.take_evicted(2));
        // The asker holds the most: it is the one to close.
        assert_eq!(b.admit(3, 0, 900), Verdict::CloseSelf);
        assert!(!b.unregister(2));
    }

    #[test]
    fn a_burst_of_small_replies_closes_one_candidate_not_all() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let b = Budget::new(1000);
        let mut held = [0usize; 3];
        for (i, h) in held.iter_mut().enumerate() {
            b.update(h, 330);
            b.register(i as u64, 330, &waker);
        }
        // 990 held: every 20-byte reply is over, but the first one's room is enough for all.
        for _ in 0..10 {
            assert_eq!(b.admit(9, 0, 20), Verdict::Queue);
        }
        assert_eq!(count.0.load(Ordering::SeqCst), 1, "one candidate told");
        let told = (0..3).filter(|&i| b.take_evicted(i)).count();
        assert_eq!(told, 1);
    }

    #[test]
    fn with_no_candidate_the_asker_is_closed() {
        let b = Budget::new(100);
        let mut held = 0;
        b.update(&mut held, 90);
        assert_eq!(b.admit(1, 90, 50), Verdict::CloseSelf);
    }
}
