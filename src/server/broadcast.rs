//! `--broadcast`: every message goes to every connected client. Each client has its own
//! queue of encoded frames (shared, not copied, between clients), bounded in frames and in
//! bytes; a client whose queue is full is marked slow and closed with 1008 by its own task, so
//! memory never grows with a client that does not read. A count alone did not bound it: 256
//! frames of 8 MiB are 2 GiB.

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

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub frames: usize,
    /// Wire bytes; an empty queue still takes one frame, however big, so that a message up to
    /// the size limit reaches clients that keep up.
    pub bytes: usize,
}

#[derive(Debug)]
pub struct Hub {
    limits: Limits,
    members: Mutex<HashMap<u64, Arc<Member>>>,
}

#[derive(Debug, Default)]
pub struct Member {
    queue: Mutex<Queue>,
}

#[derive(Debug, Default)]
struct Queue {
    frames: VecDeque<Frame>,
    /// Wire bytes of `frames`.
    bytes: usize,
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
    pub fn new(limits: Limits) -> Self {
        Hub {
            limits: Limits {
                frames: limits.frames.max(1),
                bytes: limits.bytes,
            },
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
            member.push(frame.clone(), self.limits);
        }
    }
}

impl Member {
    fn push(&self, frame: Frame, limits: Limits) {
        let waker = {
            let mut q = lock(&self.queue);
            if q.slow {
                return;
            }
            let len = frame.wire.len();
            if q.frames.len() >= limits.frames
                || (!q.frames.is_empty() && q.bytes + len > limits.bytes)
            {
                q.slow = true;
                q.frames = VecDeque::new();
                q.bytes = 0;
            } else {
                q.bytes += len;
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
            Some(f) => {
                q.bytes -= f.wire.len();
                Next::Frame(f)
            }
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

    fn hub(frames: usize) -> Hub {
        Hub::new(Limits {
            frames,
            bytes: usize::MAX,
        })
    }

    fn frame(n: u8) -> Frame {
        Frame {
            wire: Bytes::from(vec![0x82, 1, n]),
            payload_len: 1,
        }
    }

    #[test]
    fn everyone_gets_every_frame_in_order() {
        let hub = hub(8);
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
        let hub = hub(8);
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
        let hub = hub(2);
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

    #[test]
    fn the_byte_bound_counts_wire_bytes_and_always_lets_one_frame_in() {
        let big = |n: u8| Frame {
            wire: Bytes::from(vec![n; 1000]),
            payload_len: 996,
        };
        let hub = Hub::new(Limits {
            frames: 100,
            bytes: 2500,
        });
        let slow = hub.join(1);
        let fast = hub.join(2);
        // One frame over the whole bound still goes to an empty queue.
        let huge = Frame {
            wire: Bytes::from(vec![0; 10_000]),
            payload_len: 9_990,
        };
        hub.broadcast(&huge);
        assert!(matches!(fast.pop(), Next::Frame(f) if f.wire.len() == 10_000));
        assert!(matches!(slow.pop(), Next::Frame(_)));
        for i in 0..2 {
            hub.broadcast(&big(i));
        }
        assert!(matches!(fast.pop(), Next::Frame(_)));
        assert!(matches!(fast.pop(), Next::Frame(_)));
        // 2000 bytes wait for `slow`; a third 1000 would make 3000 > 2500.
        hub.broadcast(&big(2));
        assert!(matches!(fast.pop(), Next::Frame(_)));
        assert!(matches!(slow.pop(), Next::Slow));
        assert_eq!(lock(&slow.queue).bytes, 0);
        assert_eq!(lock(&fast.queue).bytes, 0);
    }
}
