//! The wakers of open connections, so that shutdown can wake every one of them. A tokio
//! `Notified` per connection would do it too, but it lives in the connection's task for the
//! whole connection (64 bytes, plus a copy of the waker to tell when to poll it again, plus a
//! pointer to it): a slot in one shared table is 16 bytes, and a connection registers once,
//! on its first poll (a tokio task's waker is the same for the task's whole life).
//!
//! Connections that register after shutdown began must see it: `Shared::stopping` is set
//! before `wake_all`, and a connection reads it after registering.

use std::sync::Mutex;
use std::task::Waker;

#[derive(Debug, Default)]
pub struct Wakers {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    slots: Vec<Option<Waker>>,
    /// Slots given back, reused first: the table stays as big as the most connections that
    /// were open at once.
    free: Vec<u32>,
}

/// A connection's slot: `NONE` until it registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(u32);

impl Key {
    pub const NONE: Key = Key(u32::MAX);

    #[cfg(test)]
    pub fn test(i: u32) -> Key {
        Key(i)
    }
}

impl Wakers {
    /// A table for `n` connections, allocated once: grown by doubling instead, it would hold
    /// up to twice what it needs (16 bytes a slot).
    pub fn with_capacity(n: usize) -> Wakers {
        Wakers {
            table: Mutex::new(Table {
                slots: Vec::with_capacity(n),
                free: Vec::new(),
            }),
        }
    }

    pub fn register(&self, waker: &Waker) -> Key {
        let mut t = lock(&self.table);
        let waker = Some(waker.clone());
        if let Some(i) = t.free.pop() {
            t.slots[i as usize] = waker;
            return Key(i);
        }
        // u32::MAX is NONE; a server has far fewer sockets than that.
        let i = u32::try_from(t.slots.len()).expect("fewer than 2^32 connections");
        assert!(i < u32::MAX, "fewer than 2^32 - 1 connections");
        t.slots.push(waker);
        Key(i)
    }

    pub fn unregister(&self, key: Key) {
        if key == Key::NONE {
            return;
        }
        let mut t = lock(&self.table);
        if let Some(slot) = t.slots.get_mut(key.0 as usize)
            && slot.take().is_some()
        {
            t.free.push(key.0);
        }
    }

    pub fn wake_all(&self) {
        // Woken outside the lock: a connection woken here may unregister at once.
        let wakers: Vec<Waker> = lock(&self.table).slots.iter().flatten().cloned().collect();
        for w in wakers {
            w.wake();
        }
    }

    /// Wake these connections (the timer wheel's due ones). Under the lock: no copy of the
    /// wakers, and waking a tokio task only schedules it. A slot given back since, or taken by
    /// another connection, gets a spurious wake, which is harmless.
    pub fn wake(&self, keys: &[Key]) {
        if keys.is_empty() {
            return;
        }
        let t = lock(&self.table);
        for k in keys {
            if let Some(Some(w)) = t.slots.get(k.0 as usize) {
                w.wake_by_ref();
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        lock(&self.table).slots.iter().flatten().count()
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

    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn every_registered_waker_is_woken_once_and_slots_are_reused() {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let w = Wakers::default();
        let keys: Vec<Key> = (0..3).map(|_| w.register(&waker)).collect();
        w.unregister(keys[1]);
        w.unregister(keys[1]);
        w.unregister(Key::NONE);
        assert_eq!(w.len(), 2);
        w.wake_all();
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        // By key: a given-back slot and one out of range are skipped.
        w.wake(&[keys[0], keys[1], Key(99), keys[0]]);
        assert_eq!(count.0.load(Ordering::SeqCst), 4);
        // The freed slot is taken again before the table grows.
        assert_eq!(w.register(&waker), keys[1]);
        assert_eq!(lock(&w.table).slots.len(), 3);
    }
}
