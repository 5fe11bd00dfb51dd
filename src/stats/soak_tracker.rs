//! Echo bookkeeping for one logical connection (it keeps its id and sequence numbers across
//! reconnects). Only the sequence numbers sent and not yet echoed are remembered, in send
//! order: a healthy connection holds zero or one of them, so memory stays a few words.
//!
//! Every message sent is accounted for exactly once: answered (intact or corrupted), or
//! missing. Further copies are duplicates, so loss can never exceed what was sent.
//!
//! An answer is *reordered* when an answer to a later-sent message arrived before it. That
//! counts one swap of neighbours as exactly 1, and a lost message as 0: the messages after a
//! gap arrive in the order they were sent, they merely overtake one that never comes.

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// An intact answer to an awaited message, nothing later answered before it.
    InOrder,
    /// An intact answer to an awaited message, after an answer to a later one.
    Reordered,
    /// The answer to an awaited message, but altered on the way (`reordered` as above).
    Corrupted { reordered: bool },
    /// A message already answered (or already given up as missing), or an altered echo when
    /// nothing was awaited that it could stand for.
    Duplicate,
}

#[derive(Debug)]
pub struct Tracker {
    next_seq: u64,
    /// One past the highest sequence number answered: what tells a late answer.
    answered_above: u64,
    inflight: VecDeque<u64>,
    /// Beyond this many unanswered messages the oldest is declared missing, so a server that
    /// never echoes cannot grow our memory.
    cap: usize,
}

impl Tracker {
    pub fn new(cap: usize) -> Self {
        Tracker {
            next_seq: 0,
            answered_above: 0,
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

    /// An echo carrying `seq` arrived; `intact` when its checksum matched. A corrupted echo
    /// whose sequence number can still be read answers that message, so the message is
    /// corrupted and not also missing (a flipped bit in the number itself lands in
    /// `garbled`'s case or on a message already answered, which only blurs which one).
    pub fn echoed(&mut self, seq: u64, intact: bool) -> Echo {
        let Some(i) = self.inflight.iter().position(|&s| s == seq) else {
            return if seq < self.next_seq {
                Echo::Duplicate
            } else {
                // A number never sent: the echo was altered on the way.
                self.garbled()
            };
        };
        self.inflight.remove(i);
        let reordered = seq < self.answered_above;
        self.answered_above = self.answered_above.max(seq + 1);
        match (intact, reordered) {
            (true, false) => Echo::InOrder,
            (true, true) => Echo::Reordered,
            (false, reordered) => Echo::Corrupted { reordered },
        }
    }

    /// An echo of ours too damaged to say which message it was. It stands for the oldest
    /// awaited message, which would otherwise be counted missing as well; with none awaited
    /// it can only be an extra copy.
    pub fn garbled(&mut self) -> Echo {
        match self.inflight.pop_front() {
            Some(_) => Echo::Corrupted { reordered: false },
            None => Echo::Duplicate,
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

    fn sent(t: &mut Tracker, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let s = t.next_seq();
                assert_eq!(t.sent(s), 0);
                s
            })
            .collect()
    }

    #[test]
    fn in_order_reordered_duplicate() {
        let mut t = Tracker::new(10);
        let s = sent(&mut t, 3);
        assert_eq!(t.echoed(s[0], true), Echo::InOrder);
        assert_eq!(t.echoed(s[2], true), Echo::InOrder);
        assert_eq!(t.echoed(s[1], true), Echo::Reordered);
        assert_eq!(t.echoed(s[1], true), Echo::Duplicate);
        assert_eq!(t.finish(), 0);
    }

    #[test]
    fn a_lost_message_is_missing_and_reorders_nothing() {
        let mut t = Tracker::new(1000);
        let s = sent(&mut t, 100);
        for &seq in s.iter().filter(|&&q| q != 3) {
            assert_eq!(t.echoed(seq, true), Echo::InOrder, "seq {seq}");
        }
        assert_eq!(t.finish(), 1);
    }

    #[test]
    fn a_corrupted_echo_answers_its_message_and_copies_are_duplicates() {
        let mut t = Tracker::new(10);
        let s = sent(&mut t, 2);
        assert_eq!(t.echoed(s[1], false), Echo::Corrupted { reordered: false });
        assert_eq!(t.echoed(s[1], false), Echo::Duplicate);
        assert_eq!(t.echoed(s[0], false), Echo::Corrupted { reordered: true });
        assert_eq!(t.finish(), 0, "corrupted is not also missing");
    }

    #[test]
    fn every_echo_corrupted_and_sent_three_times_is_never_loss_twice() {
        let mut t = Tracker::new(100);
        let (mut corrupted, mut duplicated) = (0, 0);
        for seq in sent(&mut t, 60) {
            for _ in 0..3 {
                match t.echoed(seq, false) {
                    Echo::Corrupted { reordered: false } => corrupted += 1,
                    Echo::Duplicate => duplicated += 1,
                    other => panic!("seq {seq}: {other:?}"),
                }
            }
        }
        assert_eq!((corrupted, duplicated, t.finish()), (60, 120, 0));
    }

    #[test]
    fn a_garbled_echo_stands_for_the_oldest_awaited_and_never_adds_loss() {
        let mut t = Tracker::new(10);
        let s = sent(&mut t, 2);
        assert_eq!(t.garbled(), Echo::Corrupted { reordered: false });
        assert_eq!(t.echoed(99, false), Echo::Corrupted { reordered: false });
        assert_eq!(
            t.garbled(),
            Echo::Duplicate,
            "nothing left it could stand for"
        );
        assert_eq!(t.echoed(s[1], true), Echo::Duplicate);
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

    #[derive(Debug, Default, PartialEq, Eq)]
    struct Counts {
        missing: u64,
        duplicated: u64,
        reordered: u64,
        corrupted: u64,
    }

    /// A faulty echo server over a whole schedule: each message may be dropped, sent twice,
    /// corrupted (every copy), or held back and sent after the next message that is echoed.
    /// Returns what went on the wire and what was injected, counted only when it happened
    /// (a hold released without anything overtaking it is no swap; one still held at the end
    /// was never echoed).
    fn faulty_server(rng: &mut fastrand::Rng, n: u64) -> (Vec<(u64, bool)>, Counts) {
        let mut wire = Vec::new();
        let mut injected = Counts::default();
        let mut held: Option<(u64, usize, bool)> = None;
        let rate = rng.u32(2..8);
        for seq in 0..n {
            let hit = |rng: &mut fastrand::Rng| rng.u32(0..rate) == 0;
            let (drop, dup, corrupt, hold) = (hit(rng), hit(rng), hit(rng), hit(rng));
            let mut emit = |wire: &mut Vec<(u64, bool)>, seq: u64, copies: usize, corrupt: bool| {
                injected.duplicated += copies as u64 - 1;
                injected.corrupted += u64::from(corrupt);
                wire.extend(std::iter::repeat_n((seq, !corrupt), copies));
            };
            let copies = if dup { 2 } else { 1 };
            if drop {
                injected.missing += 1;
                if let Some((h, c, k)) = held.take() {
                    emit(&mut wire, h, c, k);
                }
            } else if hold && held.is_none() {
                held = Some((seq, copies, corrupt));
            } else {
                emit(&mut wire, seq, copies, corrupt);
                if let Some((h, c, k)) = held.take() {
                    emit(&mut wire, h, c, k);
                    injected.reordered += 1;
                }
            }
        }
        injected.missing += u64::from(held.is_some());
        (wire, injected)
    }

    #[test]
    fn counts_equal_the_injected_faults_exactly() {
        for case in 0..2000u64 {
            let mut rng = fastrand::Rng::with_seed(case);
            let n = rng.u64(0..300);
            let (wire, injected) = faulty_server(&mut rng, n);
            let mut t = Tracker::new(n as usize + 1);
            let mut got = Counts::default();
            sent(&mut t, n as usize);
            for (seq, intact) in wire {
                match t.echoed(seq, intact) {
                    Echo::InOrder => {}
                    Echo::Reordered => got.reordered += 1,
                    Echo::Corrupted { reordered } => {
                        got.corrupted += 1;
                        got.reordered += u64::from(reordered);
                    }
                    Echo::Duplicate => got.duplicated += 1,
                }
            }
            got.missing = t.finish();
            assert_eq!(got, injected, "case {case}, {n} messages");
            assert!(
                got.missing + got.corrupted <= n,
                "loss never exceeds what was sent"
            );
        }
    }
}
