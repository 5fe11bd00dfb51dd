//! A latency summary in fixed memory: exact count, min, max, mean and mdev from running sums,
//! percentiles from an HDR histogram (3 significant digits, 1 ns to 1 h).

use hdrhistogram::Histogram;
use std::time::Duration;

/// Longest latency the histogram tells apart; longer ones are recorded as this (min, max and
/// mean stay exact). An hour is far beyond any timeout a ping or soak would use.
const HIGHEST: Duration = Duration::from_secs(3600);
/// 3 digits: a percentile is within 0.1% of the true value.
const SIGFIG: u8 = 3;

#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
    count: u64,
    min: Duration,
    max: Duration,
    /// Running mean and sum of squared deviations in seconds (Welford): no overflow and no
    /// catastrophic cancellation however many samples.
    mean: f64,
    m2: f64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

/// The numbers a report shows; `None` fields when nothing was recorded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySummary {
    pub min: Duration,
    pub avg: Duration,
    pub max: Duration,
    /// Standard deviation, ping(8)'s "mdev".
    pub mdev: Duration,
    pub p50: Duration,
    pub p90: Duration,
    pub p99: Duration,
}

impl LatencyHistogram {
    /// The counts start small and grow with the longest latency recorded, up to `HIGHEST`
    /// (256 KiB of counts): hdrhistogram fills its counts with zeros when it sizes them, so
    /// sizing them for an hour up front cost a one-shot `ping -c 1` 67 page faults.
    pub fn new() -> Self {
        LatencyHistogram {
            // A constant precision that hdrhistogram accepts; failure would be a bug here.
            hist: Histogram::new(SIGFIG).expect("constant histogram precision is valid"),
            count: 0,
            min: Duration::MAX,
            max: Duration::ZERO,
            mean: 0.0,
            m2: 0.0,
        }
    }

    pub fn record(&mut self, d: Duration) {
        let nanos = u64::try_from(d.min(HIGHEST).as_nanos())
            .unwrap_or(u64::MAX)
            .max(1);
        // `record` grows the counts (`saturating_record` would clamp to their current size).
        // It can only fail if they could not grow, and then the longest tracked value it is.
        if self.hist.record(nanos).is_err() {
            self.hist.saturating_record(nanos);
        }
        self.count += 1;
        self.min = self.min.min(d);
        self.max = self.max.max(d);
        let x = d.as_secs_f64();
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn min(&self) -> Option<Duration> {
        (self.count > 0).then_some(self.min)
    }

    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then_some(self.max)
    }

    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_secs_f64(self.mean))
    }

    /// Population standard deviation, as ping(8) prints it as "mdev".
    pub fn stdev(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_secs_f64((self.m2 / self.count as f64).sqrt()))
    }

    /// `q` in 0..=1 (0.99 for p99); within 0.1% of the true value, never outside min..=max.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let v = Duration::from_nanos(self.hist.value_at_quantile(q.clamp(0.0, 1.0)));
        // The histogram reports a bucket's upper edge; the exact extremes bound it.
        Some(v.clamp(self.min, self.max))
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        let (min, max) = (self.min()?, self.max()?);
        // One pass over the counts for the three (`percentile` makes one each).
        let mut p = self
            .hist
            .value_at_quantiles([0.50, 0.90, 0.99])
            .map(|v| Duration::from_nanos(v).clamp(min, max));
        Some(LatencySummary {
            min,
            avg: self.mean()?,
            max,
            mdev: self.stdev()?,
            p50: p.next()?,
            p90: p.next()?,
            p99: p.next()?,
        })
    }

    /// Add another collector's samples (e.g. one per soak worker) into this one.
    pub fn merge(&mut self, other: &LatencyHistogram) {
        if other.count == 0 {
            return;
        }
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.hist.add(&other.hist);
        let n = self.count + other.count;
        let delta = other.mean - self.mean;
        self.mean += delta * other.count as f64 / n as f64;
        self.m2 += other.m2 + delta * delta * self.count as f64 * other.count as f64 / n as f64;
        self.count = n;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(n: u64) -> Duration {
        Duration::from_micros(n)
    }

    #[test]
    fn empty_has_no_numbers() {
        let h = LatencyHistogram::new();
        assert_eq!(h.count(), 0);
        assert!(h.summary().is_none());
        assert!(h.percentile(0.5).is_none());
    }

    #[test]
    fn exact_extremes_mean_and_mdev() {
        let mut h = LatencyHistogram::new();
        for v in [100, 200, 300, 400] {
            h.record(us(v));
        }
        let s = h.summary().unwrap();
        assert_eq!(s.min, us(100));
        assert_eq!(s.max, us(400));
        assert!((s.avg.as_secs_f64() - 250e-6).abs() < 1e-12);
        // Population stdev of 100..400 step 100 is sqrt(12500) µs.
        assert!((s.mdev.as_secs_f64() - 12500f64.sqrt() * 1e-6).abs() < 1e-9);
    }

    #[test]
    fn percentiles_are_within_a_tenth_of_a_percent() {
        let mut h = LatencyHistogram::new();
        for v in 1..=10_000u64 {
            h.record(us(v));
        }
        for (q, want) in [(0.5, 5_000.0), (0.9, 9_000.0), (0.99, 9_900.0)] {
            let got = h.percentile(q).unwrap().as_secs_f64() * 1e6;
            assert!((got - want).abs() / want < 0.001, "p{q}: {got} vs {want}");
        }
        assert_eq!(h.percentile(1.0).unwrap(), us(10_000));
    }

    #[test]
    fn the_summary_has_the_percentiles_one_at_a_time_would_give() {
        let mut h = LatencyHistogram::new();
        for v in [3, 70, 71, 900, 5_000, 5_001, 80_000] {
            h.record(us(v));
        }
        let s = h.summary().unwrap();
        assert_eq!(
            (s.p50, s.p90, s.p99),
            (
                h.percentile(0.50).unwrap(),
                h.percentile(0.90).unwrap(),
                h.percentile(0.99).unwrap()
            )
        );
    }

    #[test]
    fn huge_values_saturate_but_extremes_stay_exact() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_secs(7200));
        h.record(Duration::ZERO);
        assert_eq!(h.max().unwrap(), Duration::from_secs(7200));
        assert_eq!(h.min().unwrap(), Duration::ZERO);
        assert_eq!(h.count(), 2);
    }

    #[test]
    fn counts_grow_with_the_longest_latency_and_stop_at_an_hour() {
        let full = Histogram::<u64>::new_with_bounds(1, HIGHEST.as_nanos() as u64, SIGFIG)
            .unwrap()
            .distinct_values();
        let mut h = LatencyHistogram::new();
        h.record(us(60));
        let small = h.hist.distinct_values();
        assert!(
            small * 4 < full,
            "{small} counts for 60 us, {full} for an hour"
        );
        h.record(Duration::from_secs(7200));
        assert_eq!(h.hist.distinct_values(), full, "bounded by HIGHEST");
        let p0 = h.percentile(0.0).unwrap();
        assert!(
            p0 >= us(60) && p0 < us(61),
            "{p0:?}: the 60 us sample, to 0.1%"
        );
    }

    #[test]
    fn merge_equals_recording_everything_in_one() {
        let (mut a, mut b, mut all) = (
            LatencyHistogram::new(),
            LatencyHistogram::new(),
            LatencyHistogram::new(),
        );
        for v in 1..=100u64 {
            let d = us(v * 7);
            if v % 3 == 0 {
                a.record(d)
            } else {
                b.record(d)
            }
            all.record(d);
        }
        a.merge(&b);
        let (m, w) = (a.summary().unwrap(), all.summary().unwrap());
        assert_eq!((m.min, m.max, m.p50, m.p99), (w.min, w.max, w.p50, w.p99));
        assert!((m.avg.as_secs_f64() - w.avg.as_secs_f64()).abs() < 1e-12);
        assert!((m.mdev.as_secs_f64() - w.mdev.as_secs_f64()).abs() < 1e-12);
        assert_eq!(a.count(), 100);
    }
}
