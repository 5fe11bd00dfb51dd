//! Echo bookkeeping for one logical connection (it keeps its id and sequence numbers across
//! reconnects). Only the sequence numbers sent and not yet echoed are remembered, in send
//! order: a healthy connection holds zero or one of them, so memory stays a few words.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// The oldest message we were waiting for.
    InOrder,
    /// A message sent after one that is still awaited.
    Reordered,
    /// A message already echoed (or already given up as missing).
    Duplicate,
    /// A sequence number this connection never sent: the echo was altered on the way.
    Unknown,
}

#[derive(Debug)]
pub struct Tracker {
    next_seq: u64,
    inflight: VecDeque<u64>,
    /// Beyond this many unanswered messages the oldest is declared missing, so a server that
    /// never echoes cannot grow our memory.
    cap: usize,
}

impl Tracker {
    pub fn new(cap: usize) -> Self {
        Tracker {
            next_seq: 0,
            inflight: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// The next message's sequence number.
    pub fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// `seq` went out on the wire. Returns how many older messages were given up as missing.
    pub fn sent(&mut self, seq: u64) -> u64 {
        self.inflight.push_back(seq);
        let mut missing = 0;
        while self.inflight.len() > self.cap {
            self.inflight.pop_front();
            missing += 1;
        }
        missing
    }

    pub fn echoed(&mut self, seq: u64) -> Echo {
        match self.inflight.iter().position(|&s| s == seq) {
            Some(0) => {
                self.inflight.pop_front();
                Echo::InOrder
            }
            Some(i) => {
                self.inflight.remove(i);
                Echo::Reordered
            }
            None if seq < self.next_seq => Echo::Duplicate,
            None => Echo::Unknown,
        }
    }

    pub fn awaiting(&self) -> usize {
        self.inflight.len()
    }

    /// The connection was lost: the unanswered messages, oldest first, to send again.
    pub fn take_unanswered(&mut self) -> VecDeque<u64> {
        std::mem::take(&mut self.inflight)
    }

    /// The run is over: whatever is still unanswered is missing.
    pub fn finish(&mut self) -> u64 {
        let n = self.inflight.len() as u64;
        self.inflight.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_reordered_duplicate_unknown() {
        let mut t = Tracker::new(10);
        let (a, b, c) = (t.next_seq(), t.next_seq(), t.next_seq());
        for s in [a, b, c] {
            assert_eq!(t.sent(s), 0);
        }
        assert_eq!(t.echoed(a), Echo::InOrder);
        assert_eq!(t.echoed(c), Echo::Reordered);
        assert_eq!(t.echoed(b), Echo::InOrder);
        assert_eq!(t.echoed(b), Echo::Duplicate);
        assert_eq!(t.echoed(99), Echo::Unknown);
        assert_eq!(t.finish(), 0);
    }

    #[test]
    fn bounded_and_unanswered_are_handed_back_in_order() {
        let mut t = Tracker::new(2);
        let seqs: Vec<u64> = (0..3).map(|_| t.next_seq()).collect();
        assert_eq!(t.sent(seqs[0]) + t.sent(seqs[1]), 0);
        assert_eq!(t.sent(seqs[2]), 1, "the oldest is given up past the cap");
        assert_eq!(t.take_unanswered(), VecDeque::from(vec![1, 2]));
        assert_eq!(t.awaiting(), 0);
        let s = t.next_seq();
        assert_eq!(s, 3, "numbers keep growing across reconnects");
        t.sent(s);
        assert_eq!(t.finish(), 1);
    }
}
