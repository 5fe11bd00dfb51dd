//! Ping payloads that carry a sequence number, and the bookkeeping that matches pongs to them:
//! replies, late replies, duplicates and unsolicited pongs are told apart, in bounded memory.

use bytes::{BufMut, Bytes, BytesMut};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Smallest payload that holds the sequence number.
pub const MIN_SIZE: usize = 8;
/// Control frames carry at most 125 payload bytes (RFC 6455 5.5).
pub const MAX_SIZE: usize = 125;

/// `seq` (8 bytes, big endian), then a filler that depends on `seq` so that a pong whose payload
/// merely starts like ours is not mistaken for a reply.
pub fn payload(seq: u64, size: usize) -> Bytes {
    let size = size.clamp(MIN_SIZE, MAX_SIZE);
    let mut buf = BytesMut::with_capacity(size);
    buf.put_u64(seq);
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    while buf.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf.put_u8(b'a' + (x % 26) as u8);
    }
    buf.freeze()
}

fn seq_of(payload: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(payload.get(..8)?.try_into().ok()?))
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PongMatch {
    /// A reply in time.
    Reply { seq: u64, rtt: Duration },
    /// A reply to a probe already declared lost.
    Late { seq: u64, rtt: Duration },
    /// A second reply to a probe that was already answered.
    Duplicate { seq: u64 },
    /// Not a reply to any probe of ours (RFC 6455 allows unsolicited pongs).
    Unsolicited,
}

/// How many answered or expired probes we remember to recognise duplicates and late replies.
const MEMORY: usize = 4096;

pub struct PingTracker {
    size: usize,
    next_seq: u64,
    outstanding: BTreeMap<u64, Instant>,
    expired: BTreeMap<u64, Instant>,
    answered: VecDeque<u64>,
}

impl PingTracker {
    pub fn new(size: usize) -> Self {
        PingTracker {
            size,
            next_seq: 1,
            outstanding: BTreeMap::new(),
            expired: BTreeMap::new(),
            answered: VecDeque::new(),
        }
    }

    /// Register a probe sent now; returns its sequence number and payload.
    pub fn start(&mut self, now: Instant) -> (u64, Bytes) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.outstanding.insert(seq, now);
        (seq, payload(seq, self.size))
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// Sent time of the oldest probe still waiting.
    pub fn oldest_outstanding(&self) -> Option<(u64, Instant)> {
        self.outstanding.iter().next().map(|(s, t)| (*s, *t))
    }

    /// Declare every probe sent before `deadline` lost; returns their sequence numbers.
    pub fn expire(&mut self, deadline: Instant) -> Vec<u64> {
        let lost: Vec<u64> = self
            .outstanding
            .iter()
            .take_while(|(_, sent)| **sent <= deadline)
            .map(|(s, _)| *s)
            .collect();
        for seq in &lost {
            if let Some(sent) = self.outstanding.remove(seq) {
                self.expired.insert(*seq, sent);
            }
        }
        while self.expired.len() > MEMORY {
            self.expired.pop_first();
        }
        lost
    }

    pub fn on_pong(&mut self, payload: &[u8], now: Instant) -> PongMatch {
        let Some(seq) = seq_of(payload) else {
            return PongMatch::Unsolicited;
        };
        if payload != &self::payload(seq, self.size)[..] {
            return PongMatch::Unsolicited;
        }
        self.on_seq(seq, now)
    }

    /// True when `seq` is one of our probes still remembered (waiting, expired or answered).
    pub fn knows(&self, seq: u64) -> bool {
        self.outstanding.contains_key(&seq)
            || self.expired.contains_key(&seq)
            || self.answered.contains(&seq)
    }

    /// A reply that names its probe by sequence number (application-level heartbeats whose
    /// reply echoes `{seq}`).
    pub fn on_seq(&mut self, seq: u64, now: Instant) -> PongMatch {
        if let Some(sent) = self.outstanding.remove(&seq) {
            self.remember(seq);
            return PongMatch::Reply {
                seq,
                rtt: now - sent,
            };
        }
        if let Some(sent) = self.expired.remove(&seq) {
            self.remember(seq);
            return PongMatch::Late {
                seq,
                rtt: now - sent,
            };
        }
        if self.answered.contains(&seq) {
            return PongMatch::Duplicate { seq };
        }
        PongMatch::Unsolicited
    }

    /// A reply that does not say which probe it answers: it goes to the oldest waiting probe,
    /// else to the oldest expired one (late), else it is unsolicited.
    pub fn on_next(&mut self, now: Instant) -> PongMatch {
        if let Some((seq, _)) = self.oldest_outstanding() {
            return self.on_seq(seq, now);
        }
        if let Some((&seq, _)) = self.expired.iter().next() {
            return self.on_seq(seq, now);
        }
        PongMatch::Unsolicited
    }

    fn remember(&mut self, seq: u64) {
        self.answered.push_back(seq);
        if self.answered.len() > MEMORY {
            self.answered.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_sizes_are_clamped_to_control_frame_limits() {
        assert_eq!(payload(1, 0).len(), 8);
        assert_eq!(payload(1, 16).len(), 16);
        assert_eq!(payload(1, 500).len(), 125);
        assert_ne!(payload(1, 32), payload(2, 32));
    }

    #[test]
    fn tells_replies_late_duplicates_and_unsolicited_apart() {
        let t0 = Instant::now();
        let mut tr = PingTracker::new(16);
        let (s1, p1) = tr.start(t0);
        let (s2, p2) = tr.start(t0 + Duration::from_millis(10));
        let m = tr.on_pong(&p1, t0 + Duration::from_millis(5));
        assert_eq!(
            m,
            PongMatch::Reply {
                seq: s1,
                rtt: Duration::from_millis(5)
            }
        );
        assert_eq!(
            tr.on_pong(&p1, t0 + Duration::from_millis(6)),
            PongMatch::Duplicate { seq: s1 }
        );
        assert_eq!(tr.expire(t0 + Duration::from_millis(10)), vec![s2]);
        assert_eq!(
            tr.on_pong(&p2, t0 + Duration::from_millis(50)),
            PongMatch::Late {
                seq: s2,
                rtt: Duration::from_millis(40)
            }
        );
        assert_eq!(tr.on_pong(b"hello", t0), PongMatch::Unsolicited);
        let mut forged = p2.to_vec();
        forged[10] ^= 1;
        assert_eq!(tr.on_pong(&forged, t0), PongMatch::Unsolicited);
        assert_eq!(tr.outstanding(), 0);
    }

    #[test]
    fn replies_by_seq_and_in_order() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut tr = PingTracker::new(8);
        let (s1, _) = tr.start(t0);
        let (s2, _) = tr.start(t0 + ms(1));
        let (s3, _) = tr.start(t0 + ms(2));
        assert!(tr.knows(s3) && !tr.knows(99));
        // Out of order by seq, then FIFO takes the oldest still waiting.
        assert_eq!(
            tr.on_seq(s2, t0 + ms(5)),
            PongMatch::Reply {
                seq: s2,
                rtt: ms(4)
            }
        );
        assert_eq!(
            tr.on_next(t0 + ms(6)),
            PongMatch::Reply {
                seq: s1,
                rtt: ms(6)
            }
        );
        assert_eq!(tr.expire(t0 + ms(2)), vec![s3]);
        assert_eq!(
            tr.on_next(t0 + ms(9)),
            PongMatch::Late {
                seq: s3,
                rtt: ms(7)
            }
        );
        assert_eq!(tr.on_next(t0 + ms(9)), PongMatch::Unsolicited);
        assert_eq!(tr.on_seq(s1, t0 + ms(9)), PongMatch::Duplicate { seq: s1 });
    }
}
