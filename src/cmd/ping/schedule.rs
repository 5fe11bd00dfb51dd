//! When the next probe goes out. One schedule serves every mode: a fixed interval, or
//! "as soon as the previous probe is answered or timed out" (interval 0, like ping -f).

use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Schedule {
    interval: Duration,
    count: Option<u64>,
    sent: u64,
    next_at: Instant,
}

impl Schedule {
    /// The first probe is due at `start`.
    pub fn new(interval: Duration, count: Option<u64>, start: Instant) -> Self {
        Schedule {
            interval,
            count,
            sent: 0,
            next_at: start,
        }
    }

    /// Every probe of `-c` has gone out.
    pub fn exhausted(&self) -> bool {
        self.count.is_some_and(|c| self.sent >= c)
    }

    /// When the next probe is due, given how many are still waiting for a reply;
    /// `None` when no probe is due until something changes.
    pub fn next(&self, outstanding: usize) -> Option<Instant> {
        if self.exhausted() {
            return None;
        }
        if self.interval.is_zero() {
            return (outstanding == 0).then_some(self.next_at);
        }
        Some(self.next_at)
    }

    /// Record a probe sent at `now`. The next one is due an interval after this one was due,
    /// so that the rate holds on average; after a stall longer than an interval we start
    /// afresh from `now` instead of sending a burst to catch up.
    pub fn on_sent(&mut self, now: Instant) {
        self.sent += 1;
        let next = self.next_at + self.interval;
        self.next_at = if next + self.interval < now {
            now
        } else {
            next
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_interval_keeps_its_rate_and_stops_at_count() {
        let t0 = Instant::now();
        let i = Duration::from_millis(100);
        let mut s = Schedule::new(i, Some(3), t0);
        assert_eq!(s.next(0), Some(t0));
        s.on_sent(t0 + Duration::from_millis(1));
        // Due an interval after the previous due time, not after the (late) send.
        assert_eq!(s.next(1), Some(t0 + i));
        s.on_sent(t0 + i);
        s.on_sent(t0 + 2 * i);
        assert!(s.exhausted());
        assert_eq!(s.next(0), None);
    }

    #[test]
    fn a_stall_does_not_cause_a_burst() {
        let t0 = Instant::now();
        let i = Duration::from_millis(10);
        let mut s = Schedule::new(i, None, t0);
        let late = t0 + Duration::from_secs(1);
        s.on_sent(late);
        assert_eq!(s.next(0), Some(late));
    }

    #[test]
    fn interval_zero_waits_for_the_previous_probe() {
        let t0 = Instant::now();
        let mut s = Schedule::new(Duration::ZERO, Some(2), t0);
        assert!(s.next(0).is_some());
        s.on_sent(t0);
        assert_eq!(s.next(1), None);
        assert!(s.next(0).is_some());
    }
}
