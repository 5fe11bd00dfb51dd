//! Counters for request/reply probes (ping frames, application heartbeats, connection
//! attempts): what was sent, what came back in time, late, twice or unasked, and the RTTs.

use super::latency::LatencyHistogram;

#[derive(Debug, Clone, Default)]
pub struct ProbeStats {
    pub sent: u64,
    /// Replies that came back within the timeout; only these have their RTT recorded.
    pub received: u64,
    /// Replies to probes already declared lost (they stay counted as lost).
    pub late: u64,
    pub duplicate: u64,
    /// Replies that answer no probe of ours.
    pub unsolicited: u64,
    /// Traffic that is not a reply at all (data messages that do not match `--expect`).
    pub other: u64,
    pub rtt: LatencyHistogram,
}

impl ProbeStats {
    pub fn lost(&self) -> u64 {
        self.sent.saturating_sub(self.received)
    }

    /// Share of sent probes without a timely reply, 0..=100; 0 when nothing was sent.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.lost() as f64 * 100.0 / self.sent as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loss_counts_late_replies_as_lost() {
        let s = ProbeStats {
            sent: 4,
            received: 3,
            late: 1,
            ..Default::default()
        };
        assert_eq!(s.lost(), 1);
        assert_eq!(s.loss_percent(), 25.0);
        assert_eq!(ProbeStats::default().loss_percent(), 0.0);
    }
}
