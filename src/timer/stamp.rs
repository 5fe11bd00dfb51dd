//! Instants in 8 bytes: nanoseconds since the server started (`Shared::epoch`), for the times
//! every connection keeps. A `std::time::Instant` is 16 bytes, and the four an idle
//! connection held were an eighth of its state; 2^64 ns is 584 years of uptime.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp(u64);

impl Stamp {
    /// No time: "not set" for optional times, later than any real one.
    pub const NEVER: Stamp = Stamp(u64::MAX);

    /// `t`, counted from `epoch`; a time before the epoch is the epoch.
    pub fn of(epoch: Instant, t: Instant) -> Stamp {
        let ns = t.saturating_duration_since(epoch).as_nanos();
        Stamp(u64::try_from(ns).unwrap_or(u64::MAX - 1).min(u64::MAX - 1))
    }

    /// `d` after `self`; `NEVER` stays `NEVER`.
    pub fn after(self, d: Duration) -> Stamp {
        if self == Stamp::NEVER {
            return self;
        }
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        Stamp(self.0.saturating_add(ns).min(u64::MAX - 1))
    }

    /// Nanoseconds since the epoch.
    pub fn nanos(self) -> u64 {
        self.0
    }

    #[cfg(test)]
    pub fn from_nanos(ns: u64) -> Stamp {
        Stamp(ns)
    }

    pub fn instant(self, epoch: Instant) -> Instant {
        epoch + Duration::from_nanos(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_gives_back_the_instant_it_was_made_from() {
        let epoch = Instant::now();
        let later = epoch + Duration::from_nanos(1_234_567_891);
        assert_eq!(Stamp::of(epoch, later).instant(epoch), later);
        assert!(Stamp::of(epoch, later) < Stamp::NEVER);
        let s = Stamp::of(epoch, later);
        assert_eq!(
            s.after(Duration::from_millis(5)).instant(epoch),
            later + Duration::from_millis(5)
        );
        assert_eq!(Stamp::NEVER.after(Duration::from_secs(1)), Stamp::NEVER);
        assert!(s.after(Duration::MAX) < Stamp::NEVER);
        // Before the epoch: clamped to it, never a panic.
        let earlier = epoch.checked_sub(Duration::from_secs(1));
        if let Some(t) = earlier {
            assert_eq!(Stamp::of(epoch, t).instant(epoch), epoch);
        }
    }
}
