//! Staying connected: exponential backoff with jitter, a gate that lets exactly one reconnect
//! run at a time, and a bounded buffer for messages due while the connection is down.

use std::collections::VecDeque;
use std::time::Duration;

/// `--backoff MIN..MAX`: the first retry waits about MIN, each later one twice as long, capped
/// at MAX. "Full jitter" (a random delay between half and all of the step) keeps a fleet of
/// clients that lost the same server from reconnecting in lockstep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub min: Duration,
    pub max: Duration,
}

impl Backoff {
    /// Delay before attempt `attempt` (1-based).
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let step = self
            .min
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max)
            .min(self.max);
        let half = step / 2;
        half + step.saturating_sub(half).mul_f64(rng.f64())
    }
}

impl std::str::FromStr for Backoff {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (lo, hi) = s
            .split_once("..")
            .ok_or_else(|| format!("'{s}' is not a backoff range; write MIN..MAX, e.g. 1s..30s"))?;
        let parse = |p: &str| {
            humantime::parse_duration(p.trim())
                .map_err(|e| format!("'{p}' in --backoff is not a duration ({e})"))
        };
        let (min, max) = (parse(lo)?, parse(hi)?);
        if min.is_zero() || min > max {
            return Err(format!("--backoff {s}: need 0 < MIN <= MAX"));
        }
        Ok(Backoff { min, max })
    }
}

/// The link's state. Only a transition out of `Up` starts a reconnect, so a Close frame and a
/// TCP error that arrive together start one reconnect, not two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Up,
    /// Waiting for or running attempt `attempt`.
    Reconnecting {
        attempt: u32,
    },
    GaveUp,
}

#[derive(Debug)]
pub struct Reconnector {
    pub backoff: Backoff,
    /// Attempts allowed after one loss before giving up.
    pub max_attempts: u32,
    link: Link,
    /// Successful reconnects over the whole run.
    pub reconnects: u64,
    rng: fastrand::Rng,
}

impl Reconnector {
    pub fn new(backoff: Backoff, max_attempts: u32) -> Self {
        Reconnector {
            backoff,
            max_attempts,
            link: Link::Up,
            reconnects: 0,
            rng: fastrand::Rng::new(),
        }
    }

    pub fn link(&self) -> Link {
        self.link
    }

    /// The connection was lost. Returns the delay before the first attempt, or `None` when a
    /// reconnect is already under way (or we gave up): the caller must not start another.
    pub fn lost(&mut self) -> Option<(u32, Duration)> {
        match self.link {
            Link::Up => self.schedule(1),
            Link::Reconnecting { .. } | Link::GaveUp => None,
        }
    }

    /// The attempt failed. Returns the next attempt and its delay, or `None` once the attempts
    /// are used up (the link is then `GaveUp`).
    pub fn failed(&mut self) -> Option<(u32, Duration)> {
        match self.link {
            Link::Reconnecting { attempt } => self.schedule(attempt + 1),
            _ => None,
        }
    }

    pub fn succeeded(&mut self) {
        if matches!(self.link, Link::Reconnecting { .. }) {
            self.reconnects += 1;
        }
        self.link = Link::Up;
    }

    fn schedule(&mut self, attempt: u32) -> Option<(u32, Duration)> {
        if attempt > self.max_attempts {
            self.link = Link::GaveUp;
            return None;
        }
        self.link = Link::Reconnecting { attempt };
        Some((attempt, self.backoff.delay(attempt, &mut self.rng)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    DropOldest,
    DropNewest,
}

/// Messages due while disconnected, replayed in order after the reconnect. Bounded: what does
/// not fit is handed back to the caller to report, never silently lost.
#[derive(Debug)]
pub struct OutboundBuffer<T> {
    items: VecDeque<T>,
    capacity: usize,
    overflow: Overflow,
    pub dropped: u64,
}

impl<T> OutboundBuffer<T> {
    pub fn new(capacity: usize, overflow: Overflow) -> Self {
        OutboundBuffer {
            items: VecDeque::new(),
            capacity,
            overflow,
            dropped: 0,
        }
    }

    /// Queue `item`; returns the item dropped to make room (or `item` itself), if any.
    pub fn push(&mut self, item: T) -> Option<T> {
        if self.capacity == 0 {
            self.dropped += 1;
            return Some(item);
        }
        if self.items.len() < self.capacity {
            self.items.push_back(item);
            return None;
        }
        self.dropped += 1;
        match self.overflow {
            Overflow::DropNewest => Some(item),
            Overflow::DropOldest => {
                let oldest = self.items.pop_front();
                self.items.push_back(item);
                oldest
            }
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn pop_front(&mut self) -> Option<T> {
        self.items.pop_front()
    }

    /// Put back an item whose replay failed, so it goes first next time.
    pub fn push_front(&mut self, item: T) {
        self.items.push_front(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let b: Backoff = "100ms..1s".parse().unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..100 {
            let d1 = b.delay(1, &mut rng);
            assert!(d1 >= ms(50) && d1 <= ms(100), "{d1:?}");
            let d3 = b.delay(3, &mut rng);
            assert!(d3 >= ms(200) && d3 <= ms(400), "{d3:?}");
            let d10 = b.delay(10, &mut rng);
            assert!(d10 >= ms(500) && d10 <= ms(1000), "{d10:?}");
        }
        assert!("1s".parse::<Backoff>().is_err());
        assert!("2s..1s".parse::<Backoff>().is_err());
        assert!("0s..1s".parse::<Backoff>().is_err());
    }

    #[test]
    fn one_reconnect_at_a_time_and_bounded_attempts() {
        let mut r = Reconnector::new("10ms..20ms".parse().unwrap(), 2);
        assert_eq!(r.lost().map(|(a, _)| a), Some(1));
        assert_eq!(
            r.lost(),
            None,
            "a second loss report must not start a second reconnect"
        );
        assert_eq!(r.failed().map(|(a, _)| a), Some(2));
        assert_eq!(r.failed(), None);
        assert_eq!(r.link(), Link::GaveUp);
        assert_eq!(r.lost(), None);

        let mut r = Reconnector::new("10ms..20ms".parse().unwrap(), 3);
        r.lost();
        r.succeeded();
        assert_eq!(r.reconnects, 1);
        assert_eq!(r.link(), Link::Up);
        assert_eq!(
            r.lost().map(|(a, _)| a),
            Some(1),
            "attempts restart after success"
        );
    }

    #[test]
    fn buffer_keeps_order_and_reports_every_drop() {
        let mut b = OutboundBuffer::new(2, Overflow::DropOldest);
        assert_eq!(b.push(1), None);
        assert_eq!(b.push(2), None);
        assert_eq!(b.push(3), Some(1));
        assert_eq!(
            (b.pop_front(), b.pop_front(), b.pop_front()),
            (Some(2), Some(3), None)
        );
        let mut b = OutboundBuffer::new(1, Overflow::DropNewest);
        b.push("a");
        assert_eq!(b.push("b"), Some("b"));
        assert_eq!(b.dropped, 1);
        assert_eq!(b.pop_front(), Some("a"));
    }
}
