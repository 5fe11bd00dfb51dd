//! Where missed messages are kept: per room, the last N (`--replay N`), each with the room's
//! sequence number; per client, the sequence number it got last. In Redis (a list trimmed on
//! every push, a counter, keys with a TTL, so any instance can replay) or, without Redis, in
//! this process's memory, bounded in bytes over all rooms.

use super::{Envelope, Keys, Mark, ReplayConfig, frame_for};
use crate::server::broadcast::Frame;
use crate::ws::proto::DataKind;
use bytes::Bytes;
use redis::aio::ConnectionManager;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Clients remembered in memory at most; a new one beyond it is not (counted by the caller
/// as a replay that could not be given).
const MAX_CURSORS: usize = 100_000;

pub(super) struct Memory {
    keep: usize,
    ttl: Duration,
    max_bytes: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    rooms: HashMap<Arc<str>, RoomLog>,
    cursors: HashMap<(Arc<str>, String), (u64, Instant)>,
    bytes: usize,
    last_sweep: Option<Instant>,
}

#[derive(Default)]
struct RoomLog {
    next: u64,
    entries: VecDeque<(u64, DataKind, Bytes)>,
    touched: Option<Instant>,
}

impl Memory {
    pub fn new(cfg: &ReplayConfig) -> Memory {
        Memory {
            keep: cfg.keep.max(1),
            ttl: cfg.ttl,
            max_bytes: cfg.memory_bytes,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Keeps the message; its sequence number, or `None` when memory is full.
    pub fn push(&self, room: &Arc<str>, kind: DataKind, payload: &[u8]) -> Option<u64> {
        let mut g = lock(&self.inner);
        let now = Instant::now();
        self.sweep(&mut g, now);
        let inner = &mut *g;
        let log = inner.rooms.entry(room.clone()).or_default();
        while log.entries.len() >= self.keep {
            let (_, _, old) = log.entries.pop_front()?;
            inner.bytes -= old.len();
        }
        if inner.bytes + payload.len() > self.max_bytes {
            return None;
        }
        log.next += 1;
        log.touched = Some(now);
        inner.bytes += payload.len();
        log.entries
            .push_back((log.next, kind, Bytes::copy_from_slice(payload)));
        Some(log.next)
    }

    /// Once a second at most: rooms and clients past their TTL go.
    fn sweep(&self, g: &mut Inner, now: Instant) {
        if g.last_sweep
            .is_some_and(|t| now < t + Duration::from_secs(1))
        {
            return;
        }
        g.last_sweep = Some(now);
        let ttl = self.ttl;
        let mut freed = 0;
        g.rooms.retain(|_, log| {
            let keep = log.touched.is_some_and(|t| now < t + ttl);
            if !keep {
                freed += log.entries.iter().map(|e| e.2.len()).sum::<usize>();
            }
            keep
        });
        g.bytes -= freed;
        g.cursors.retain(|_, (_, t)| now < *t + ttl);
    }

    /// After `seq`, or (`None`) after what the room holds now.
    pub fn set_cursor(&self, room: &Arc<str>, id: &str, seq: Option<u64>) {
        let mut g = lock(&self.inner);
        let seq = seq.unwrap_or_else(|| g.rooms.get(room).map_or(0, |l| l.next));
        let key = (room.clone(), id.to_string());
        if g.cursors.len() < MAX_CURSORS || g.cursors.contains_key(&key) {
            g.cursors.insert(key, (seq, Instant::now()));
        }
    }

    /// What the client missed, oldest first, within `limit` (the newest kept), and what of
    /// it is cut; `None` for a client never seen and with no `since`.
    pub fn missed(
        &self,
        room: &Arc<str>,
        id: &str,
        since: Option<u64>,
        limit: Cap,
    ) -> Option<Missed> {
        let g = lock(&self.inner);
        let after = since.or_else(|| {
            g.cursors
                .get(&(room.clone(), id.to_string()))
                .map(|(s, _)| *s)
        })?;
        let log = g.rooms.get(room);
        let frames = log
            .map(|l| &l.entries)
            .into_iter()
            .flatten()
            .filter(|(seq, _, _)| *seq > after)
            .map(|(seq, kind, p)| frame_for(*kind, p, None, Mark::Replayed(*seq)))
            .collect();
        Some(Missed::new(frames, after, log.map_or(0, |l| l.next), limit))
    }
}

/// A replay: the frames to send, oldest first, and the numbers of those the client missed
/// that it will not get (the log kept only N, or the client's queue holds only so many).
#[derive(Debug, Default)]
pub(super) struct Missed {
    pub frames: Vec<Frame>,
    pub cut: Option<Cut>,
}

/// Messages `from..=to` of the room were missed and cannot be replayed: `count` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cut {
    pub from: u64,
    pub to: u64,
    pub count: u64,
}

impl Cut {
    /// The marker message that goes before the replay: `[replay cut=K from=A to=B] `.
    pub fn frame(&self) -> Frame {
        let text = format!(
            "[replay cut={} from={} to={}] ",
            self.count, self.from, self.to
        );
        frame_for(DataKind::Text, text.as_bytes(), None, Mark::None)
    }
}

impl Missed {
    /// `frames`: what the log holds after `after` (consecutive numbers, up to `latest`, the
    /// room's last); what is older than they are was trimmed from the log.
    fn new(mut frames: Vec<Frame>, after: u64, latest: u64, limit: Cap) -> Missed {
        trim_to(&mut frames, limit);
        let first_kept = frames.first().map_or(latest.saturating_add(1), |f| f.seq);
        let cut = (first_kept > after.saturating_add(1)).then(|| Cut {
            from: after + 1,
            to: first_kept - 1,
            count: first_kept - 1 - after,
        });
        Missed { frames, cut }
    }

    /// The frames as they go to the client: the cut's marker first.
    pub fn into_frames(self) -> Vec<Frame> {
        match self.cut {
            Some(c) => std::iter::once(c.frame()).chain(self.frames).collect(),
            None => self.frames,
        }
    }
}

/// How much one replay may put in a client's queue.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    pub frames: usize,
    pub bytes: usize,
}

/// Drops the oldest until the rest fit.
pub(super) fn trim_to(frames: &mut Vec<Frame>, limit: Cap) {
    let mut total: usize = frames.iter().map(|f| f.wire.len()).sum();
    let mut cut = 0;
    while (total > limit.bytes || frames.len() - cut > limit.frames) && cut < frames.len() {
        total -= frames[cut].wire.len();
        cut += 1;
    }
    frames.drain(..cut);
}

/// The same from Redis: the client's cursor (or `since`), then the room's list.
pub(super) async fn from_redis(
    mut conn: ConnectionManager,
    room: &str,
    id: &str,
    since: Option<u64>,
    keep: usize,
    limit: Cap,
) -> Result<Option<Missed>, String> {
    let after = match since {
        Some(s) => s,
        None => {
            let got: Option<u64> = redis::cmd("GET")
                .arg(Keys::cursor(room, id))
                .query_async(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
            match got {
                Some(s) => s,
                None => return Ok(None),
            }
        }
    };
    // The room's number and its log as of one instant (MULTI), so that what the log no
    // longer holds is known exactly.
    let (latest, raw): (Option<u64>, Vec<Vec<u8>>) = redis::pipe()
        .atomic()
        .cmd("GET")
        .arg(Keys::seq(room))
        .cmd("LRANGE")
        .arg(Keys::log(room))
        .arg(-(keep.max(1) as i64))
        .arg(-1)
        .query_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let mut frames: Vec<Frame> = raw
        .iter()
        .filter_map(|b| Envelope::parse(b))
        .filter(|e| e.seq > after)
        .map(|e| frame_for(e.kind, e.payload, None, Mark::Replayed(e.seq)))
        .collect();
    frames.sort_by_key(|f| f.seq);
    Ok(Some(Missed::new(frames, after, latest.unwrap_or(0), limit)))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::scaleout::ClientIdFrom;

    const ALL: Cap = Cap {
        frames: usize::MAX,
        bytes: usize::MAX,
    };

    fn memory(keep: usize, bytes: usize) -> Memory {
        Memory::new(&ReplayConfig {
            keep,
            ttl: Duration::from_secs(60),
            client_id: ClientIdFrom::FirstMessage,
            memory_bytes: bytes,
        })
    }

    #[test]
    fn memory_keeps_the_last_n_and_replays_after_the_cursor() {
        let m = memory(3, 1 << 20);
        let room: Arc<str> = Arc::from("/r");
        assert!(m.missed(&room, "ann", None, ALL).is_none(), "never seen");
        for i in 1..=5u8 {
            assert_eq!(m.push(&room, DataKind::Text, &[b'0' + i]), Some(i as u64));
        }
        m.set_cursor(&room, "ann", Some(3));
        let seqs = |id: &str, since, cap| -> Vec<u64> {
            let got = m.missed(&room, id, since, cap).unwrap();
            got.frames.iter().map(|f| f.seq).collect()
        };
        assert_eq!(seqs("ann", None, ALL), [4, 5]);
        assert_eq!(
            seqs("ann", Some(0), ALL),
            [3, 4, 5],
            "only the last 3 are kept"
        );
        // The limits keep the newest.
        let bytes = Cap {
            frames: 9,
            bytes: 20,
        };
        assert_eq!(seqs("ann", Some(0), bytes), [5]);
        let frames = Cap {
            frames: 2,
            bytes: 1 << 20,
        };
        assert_eq!(seqs("ann", Some(0), frames), [4, 5]);
        // A client that got nothing numbered resumes after what the room held when it left.
        m.set_cursor(&room, "bob", None);
        m.push(&room, DataKind::Text, b"6");
        assert_eq!(seqs("bob", None, ALL), [6]);
    }

    #[test]
    fn what_the_log_or_the_queue_cannot_hold_is_cut_and_said_first() {
        let m = memory(3, 1 << 20);
        let room: Arc<str> = Arc::from("/r");
        for i in 1..=8u8 {
            m.push(&room, DataKind::Text, &[b'0' + i]);
        }
        // After 2: 3, 4 and 5 were trimmed from the log (it keeps 6, 7, 8).
        let got = m.missed(&room, "ann", Some(2), ALL).unwrap();
        let cut = Cut {
            from: 3,
            to: 5,
            count: 3,
        };
        assert_eq!(got.cut, Some(cut));
        let frames = got.into_frames();
        assert_eq!(&frames[0].wire[2..], b"[replay cut=3 from=3 to=5] ");
        assert_eq!(frames[0].seq, 0, "the marker is not a message of the room");
        assert_eq!(
            frames[1..].iter().map(|f| f.seq).collect::<Vec<_>>(),
            [6, 7, 8]
        );
        // The queue takes 2: 6 goes too.
        let two = Cap {
            frames: 2,
            bytes: 1 << 20,
        };
        let got = m.missed(&room, "ann", Some(2), two).unwrap();
        assert_eq!(got.cut.map(|c| (c.from, c.to, c.count)), Some((3, 6, 4)));
        // Nothing missed beyond the log: no cut, no marker.
        let got = m.missed(&room, "ann", Some(5), ALL).unwrap();
        assert_eq!((got.cut, got.frames.len()), (None, 3));
        // Every kept message cut by a byte bound smaller than one: the cut runs to the latest.
        let tiny = Cap {
            frames: 9,
            bytes: 1,
        };
        let got = m.missed(&room, "ann", Some(6), tiny).unwrap();
        assert_eq!(got.cut.map(|c| (c.from, c.to, c.count)), Some((7, 8, 2)));
        assert!(got.frames.is_empty());
        // A cursor beyond the room's numbers (its log expired and started again): no cut.
        assert_eq!(m.missed(&room, "ann", Some(50), ALL).unwrap().cut, None);
    }

    #[test]
    fn memory_refuses_what_does_not_fit() {
        let m = memory(100, 10);
        let room: Arc<str> = Arc::from("/r");
        assert!(m.push(&room, DataKind::Binary, &[0; 8]).is_some());
        assert!(m.push(&room, DataKind::Binary, &[0; 8]).is_none());
    }
}
