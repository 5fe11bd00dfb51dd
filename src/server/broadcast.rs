//! `--broadcast`: every message goes to every connected client. Each client has its own
//! bounded queue of encoded frames (shared, not copied, between clients); a client whose queue
//! is full is marked slow and closed with 1008 by its own task, so memory never grows with a
//! client that does not read.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

/// A data message already framed for the wire, and its payload size for the counters.
#[derive(Debug, Clone)]
pub struct Frame {
    pub wire: Bytes,
    pub payload_len: usize,
}

#[derive(Debug)]
pub struct Hub {
    queue_limit: usize,
    members: Mutex<HashMap<u64, Arc<Member>>>,
}

#[derive(Debug, Default)]
pub struct Member {
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Frame>,
    slow: bool,
    /// The member's task, woken on a new frame and when the member is found slow.
    waker: Option<Waker>,
}

#[derive(Debug)]
pub enum Next {
    Frame(Frame),
    Empty,
    /// The queue overflowed: close this client.
    Slow,
}

impl Hub {
    pub fn new(queue_limit: usize) -> Self {
        Hub {
            queue_limit: queue_limit.max(1),
            members: Mutex::new(HashMap::new()),
        }
    }

    pub fn join(&self, id: u64) -> Arc<Member> {
        let member = Arc::new(Member::default());
        lock(&self.members).insert(id, member.clone());
        member
    }

    pub fn leave(&self, id: u64) {
        lock(&self.members).remove(&id);
    }

    pub fn broadcast(&self, frame: &Frame) {
        for member in lock(&self.members).values() {
            member.push(frame.clone(), self.queue_limit);
        }
    }
}

impl Member {
    fn push(&self, frame: Frame, limit: usize) {
        let waker = {
            let mut q = lock(&self.queue);
            if q.slow {
                return;
            }
            if q.frames.len() >= limit {
                q.slow = true;
                q.frames = VecDeque::new();
            } else {
                q.frames.push_back(frame);
            }
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// True when there is something to act on: the member was found slow, or (with
    /// `want_frames`) frames are waiting. Otherwise the task is woken when that changes.
    pub fn poll_ready(&self, cx: &mut Context<'_>, want_frames: bool) -> bool {
        let mut q = lock(&self.queue);
        // Registered even when reporting work: the frames are taken after this returns,
        // and the next push must still find someone to wake.
        if !q.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            q.waker = Some(cx.waker().clone());
        }
        q.slow || (want_frames && !q.frames.is_empty())
    }

    /// `Slow` if the member was found slow, else `Empty` (nothing is taken).
    pub fn peek_slow(&self) -> Next {
        if lock(&self.queue).slow {
            Next::Slow
        } else {
            Next::Empty
        }
    }

    pub fn pop(&self) -> Next {
        let mut q = lock(&self.queue);
        if q.slow {
            return Next::Slow;
        }
        match q.frames.pop_front() {
            Some(f) => Next::Frame(f),
            None => {
                if q.frames.capacity() > 0 {
                    q.frames = VecDeque::new();
                }
                Next::Empty
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

    fn frame(n: u8) -> Frame {
        Frame {
            wire: Bytes::from(vec![0x82, 1, n]),
            payload_len: 1,
        }
    }

    #[test]
    fn everyone_gets_every_frame_in_order() {
        let hub = Hub::new(8);
        let a = hub.join(1);
        let b = hub.join(2);
        hub.broadcast(&frame(1));
        hub.broadcast(&frame(2));
        for m in [&a, &b] {
            assert!(matches!(m.pop(), Next::Frame(f) if f.wire[2] == 1));
            assert!(matches!(m.pop(), Next::Frame(f) if f.wire[2] == 2));
            assert!(matches!(m.pop(), Next::Empty));
        }
        hub.leave(2);
        hub.broadcast(&frame(3));
        assert!(matches!(b.pop(), Next::Empty));
        assert!(matches!(a.pop(), Next::Frame(_)));
    }

    #[test]
    fn the_task_is_woken_by_every_push_even_after_it_took_frames() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        struct Count(AtomicUsize);
        impl std::task::Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        let hub = Hub::new(8);
        let m = hub.join(1);
        assert!(!m.poll_ready(&mut cx, true));
        hub.broadcast(&frame(1));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(m.poll_ready(&mut cx, true));
        assert!(matches!(m.pop(), Next::Frame(_)));
        hub.broadcast(&frame(2));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        // Over the high-water mark only the slow mark counts.
        assert!(!m.poll_ready(&mut cx, false));
    }

    #[test]
    fn a_client_that_falls_behind_is_marked_slow_and_its_queue_freed() {
        let hub = Hub::new(2);
        let slow = hub.join(1);
        let fast = hub.join(2);
        for i in 0..5 {
            hub.broadcast(&frame(i));
            let _ = fast.pop();
        }
        assert!(matches!(slow.pop(), Next::Slow));
        assert_eq!(lock(&slow.queue).frames.capacity(), 0);
        assert!(matches!(fast.pop(), Next::Empty));
    }
}
