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

    /// What the client missed, oldest first, within `limit` bytes (the newest kept); `None`
    /// for a client never seen and with no `since`.
    pub fn missed(
        &self,
        room: &Arc<str>,
        id: &str,
        since: Option<u64>,
        limit: Cap,
    ) -> Option<Vec<Frame>> {
        let g = lock(&self.inner);
        let after = since.or_else(|| {
            g.cursors
                .get(&(room.clone(), id.to_string()))
                .map(|(s, _)| *s)
        })?;
        let entries = g.rooms.get(room).map(|l| &l.entries);
        let mut frames: Vec<Frame> = entries
            .into_iter()
            .flatten()
            .filter(|(seq, _, _)| *seq > after)
            .map(|(seq, kind, p)| frame_for(*kind, p, None, Mark::Replayed(*seq)))
            .collect();
        trim_to(&mut frames, limit);
        Some(frames)
    }
}

/// How much one replay may put in a client's queue.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cap {
    pub frames: usize,
    pub bytes: usize,
}

/// Drops the oldest until the rest fit.
fn trim_to(frames: &mut Vec<Frame>, limit: Cap) {
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
) -> Result<Option<Vec<Frame>>, String> {
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
    let raw: Vec<Vec<u8>> = redis::cmd("LRANGE")
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
    trim_to(&mut frames, limit);
    Ok(Some(frames))
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
            got.iter().map(|f| f.seq).collect()
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
    fn memory_refuses_what_does_not_fit() {
        let m = memory(100, 10);
        let room: Arc<str> = Arc::from("/r");
        assert!(m.push(&room, DataKind::Binary, &[0; 8]).is_some());
        assert!(m.push(&room, DataKind::Binary, &[0; 8]).is_none());
    }
}
