//! `--broadcast`: every message goes to every connected client. Each client has its own
//! queue of encoded frames (shared, not copied, between clients), bounded in frames and in
//! bytes; a client whose queue is full is marked slow and closed with 1008 by its own task, so
//! memory never grows with a client that does not read. A count alone did not bound it: 256
//! frames of 8 MiB are 2 GiB.
//!
//! Clients are grouped in rooms (`--room`, or the request path): a message goes to its room.
//! With `--replay`, a member that reconnects is held (`hold`) until what it missed arrives
//! (`deliver_replay`): the live frames that came meanwhile wait behind it, and those already
//! in the replay are skipped by their sequence number, so the seam has no gap and no duplicate.

use bytes::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};

/// A data message already framed for the wire, and its payload size for the counters.
#[derive(Debug, Clone)]
pub struct Frame {
    pub wire: Bytes,
    pub payload_len: usize,
    /// The room's sequence number with `--replay` (0: not stored).
    pub seq: u64,
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
    /// Room → its members by connection id.
    rooms: Mutex<HashMap<Arc<str>, Room>>,
}

type Room = HashMap<u64, Arc<Member>>;

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
    /// Waiting for its replay: live frames queue, nothing is handed out.
    held: bool,
    /// Sequence numbers the replay delivered (sorted); the same frames arriving live are
    /// skipped. At most `--replay N` of them.
    skip: Vec<u64>,
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
            rooms: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn join(&self, id: u64, room: &Arc<str>) -> Arc<Member> {
        let member = Arc::new(Member::default());
        lock(&self.rooms)
            .entry(room.clone())
            .or_default()
            .insert(id, member.clone());
        member
    }

    pub fn leave(&self, id: u64, room: &str) {
        let mut rooms = lock(&self.rooms);
        if let Some(members) = rooms.get_mut(room) {
            members.remove(&id);
            if members.is_empty() {
                rooms.remove(room);
            }
        }
    }

    /// How many members the room has here.
    pub fn members(&self, room: &str) -> usize {
        lock(&self.rooms).get(room).map_or(0, HashMap::len)
    }

    pub fn broadcast(&self, room: &str, frame: &Frame) {
        if let Some(members) = lock(&self.rooms).get(room) {
            for member in members.values() {
                member.push(frame.clone(), self.limits);
            }
        }
    }
}

impl Member {
    /// Hand out nothing until `deliver_replay`.
    pub fn hold(&self) {
        lock(&self.queue).held = true;
    }

    /// What the member missed, oldest first, goes before the live frames that waited; those
    /// of them the replay already holds are dropped.
    pub fn deliver_replay(&self, replay: Vec<Frame>) {
        let waker = {
            let mut q = lock(&self.queue);
            q.held = false;
            let mut skip: Vec<u64> = replay.iter().map(|f| f.seq).filter(|s| *s > 0).collect();
            skip.sort_unstable();
            let live = std::mem::take(&mut q.frames);
            let mut frames: VecDeque<Frame> = replay.into();
            frames.extend(
                live.into_iter()
                    .filter(|f| f.seq == 0 || skip.binary_search(&f.seq).is_err()),
            );
            q.bytes = frames.iter().map(|f| f.wire.len()).sum();
            q.frames = frames;
            q.skip = skip;
            q.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    fn push(&self, frame: Frame, limits: Limits) {
        let waker = {
            let mut q = lock(&self.queue);
            if q.slow || (frame.seq > 0 && q.skip.binary_search(&frame.seq).is_ok()) {
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
        q.slow || (want_frames && !q.held && !q.frames.is_empty())
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
        if q.held {
            return Next::Empty;
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

    fn room() -> Arc<str> {
        Arc::from("/")
    }

    fn frame(n: u8) -> Frame {
        Frame {
            wire: Bytes::from(vec![0x82, 1, n]),
            payload_len: 1,
            seq: 0,
        }
    }

    #[test]
    fn everyone_gets_every_frame_in_order() {
        let hub = hub(8);
        let a = hub.join(1, &room());
        let b = hub.join(2, &room());
        hub.broadcast("/", &frame(1));
        hub.broadcast("/", &frame(2));
        for m in [&a, &b] {
            assert!(matches!(m.pop(), Next::Frame(f) if f.wire[2] == 1));
            assert!(matches!(m.pop(), Next::Frame(f) if f.wire[2] == 2));
            assert!(matches!(m.pop(), Next::Empty));
        }
        hub.leave(2, "/");
        hub.broadcast("/", &frame(3));
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
        let m = hub.join(1, &room());
        assert!(!m.poll_ready(&mut cx, true));
        hub.broadcast("/", &frame(1));
        assert_eq!(count.0.load(Ordering::SeqCst), 1);
        assert!(m.poll_ready(&mut cx, true));
        assert!(matches!(m.pop(), Next::Frame(_)));
        hub.broadcast("/", &frame(2));
        assert_eq!(count.0.load(Ordering::SeqCst), 2);
        // Over the high-water mark only the slow mark counts.
        assert!(!m.poll_ready(&mut cx, false));
    }

    #[test]
    fn a_client_that_falls_behind_is_marked_slow_and_its_queue_freed() {
        let hub = hub(2);
        let slow = hub.join(1, &room());
        let fast = hub.join(2, &room());
        for i in 0..5 {
            hub.broadcast("/", &frame(i));
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
            seq: 0,
        };
        let hub = Hub::new(Limits {
            frames: 100,
            bytes: 2500,
        });
        let slow = hub.join(1, &room());
        let fast = hub.join(2, &room());
        // One frame over the whole bound still goes to an empty queue.
        let huge = Frame {
            wire: Bytes::from(vec![0; 10_000]),
            payload_len: 9_990,
            seq: 0,
        };
        hub.broadcast("/", &huge);
        assert!(matches!(fast.pop(), Next::Frame(f) if f.wire.len() == 10_000));
        assert!(matches!(slow.pop(), Next::Frame(_)));
        for i in 0..2 {
            hub.broadcast("/", &big(i));
        }
        assert!(matches!(fast.pop(), Next::Frame(_)));
        assert!(matches!(fast.pop(), Next::Frame(_)));
        // 2000 bytes wait for `slow`; a third 1000 would make 3000 > 2500.
        hub.broadcast("/", &big(2));
        assert!(matches!(fast.pop(), Next::Frame(_)));
        assert!(matches!(slow.pop(), Next::Slow));
        assert_eq!(lock(&slow.queue).bytes, 0);
        assert_eq!(lock(&fast.queue).bytes, 0);
    }

    fn numbered(seq: u64) -> Frame {
        Frame {
            wire: Bytes::from(vec![0x82, 1, seq as u8]),
            payload_len: 1,
            seq,
        }
    }

    #[test]
    fn rooms_keep_their_messages_to_themselves() {
        let hub = hub(8);
        let a = hub.join(1, &Arc::from("/a"));
        let b = hub.join(2, &Arc::from("/b"));
        hub.broadcast("/a", &frame(1));
        assert!(matches!(a.pop(), Next::Frame(_)));
        assert!(matches!(b.pop(), Next::Empty));
        hub.leave(1, "/a");
        assert!(lock(&hub.rooms).get("/a").is_none());
    }

    #[test]
    fn a_held_member_gets_its_replay_first_and_no_live_duplicate() {
        let hub = hub(16);
        let m = hub.join(1, &room());
        m.hold();
        // Live while the replay is read: 5 and 6 are also in the replay, 7 is not.
        for s in [5, 6, 7] {
            hub.broadcast("/", &numbered(s));
        }
        assert!(matches!(m.pop(), Next::Empty), "held");
        m.deliver_replay(vec![numbered(4), numbered(5), numbered(6)]);
        hub.broadcast("/", &numbered(6));
        hub.broadcast("/", &numbered(8));
        let mut got = Vec::new();
        while let Next::Frame(f) = m.pop() {
            got.push(f.seq);
        }
        assert_eq!(got, [4, 5, 6, 7, 8]);
        assert_eq!(lock(&m.queue).bytes, 0);
    }
}
