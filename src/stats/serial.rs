//! A latency histogram that travels: microsecond HDR buckets, serialised with HdrHistogram's V2
//! format (compressed) and base64, so that reports written on several machines merge into one
//! with exact bucket counts. `LatencyHistogram` keeps exact mean/stdev for ping; a soak report
//! only needs what survives a merge: buckets, count, min and max.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use std::time::Duration;

/// 1 µs .. 1 h at 3 significant digits: ~190 KiB per histogram, whatever the run's length.
const HIGHEST_US: u64 = 3_600_000_000;
const SIGFIG: u8 = 3;

#[derive(Debug, Clone)]
pub struct SerialHistogram {
    hist: Histogram<u64>,
}

impl Default for SerialHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl SerialHistogram {
    pub fn new() -> Self {
        SerialHistogram {
            // Constant bounds that hdrhistogram accepts; failure would be a bug here.
            hist: Histogram::new_with_bounds(1, HIGHEST_US, SIGFIG)
                .expect("constant histogram bounds are valid"),
        }
    }

    /// Longer than an hour is recorded as an hour; shorter than 1 µs as 1 µs.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        self.hist.saturating_record(us);
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn reset(&mut self) {
        self.hist.reset();
    }

    pub fn merge(&mut self, other: &SerialHistogram) {
        // Same bounds on both sides (ours, or checked in `from_base64`), so adding cannot fail.
        let _ = self.hist.add(&other.hist);
    }

    /// Takes away what an earlier copy of this histogram held: the interval between two
    /// cumulative figures. Anything `earlier` has that `self` lacks is ignored.
    pub fn subtract(&mut self, earlier: &SerialHistogram) {
        let _ = self.hist.subtract(&earlier.hist);
    }

    /// `q` in 0..=1; `None` when empty.
    pub fn percentile(&self, q: f64) -> Option<Duration> {
        (self.count() > 0)
            .then(|| Duration::from_micros(self.hist.value_at_quantile(q.clamp(0.0, 1.0))))
    }

    pub fn min(&self) -> Option<Duration> {
        (self.count() > 0).then(|| Duration::from_micros(self.hist.min()))
    }

    pub fn max(&self) -> Option<Duration> {
        (self.count() > 0).then(|| Duration::from_micros(self.hist.max()))
    }

    pub fn mean(&self) -> Option<Duration> {
        (self.count() > 0).then(|| Duration::from_secs_f64(self.hist.mean() / 1e6))
    }

    /// The percentile spectrum, as HdrHistogram plots it: (quantile, value) at ever finer
    /// steps towards 100%, ending at the maximum (quantile 1).
    pub fn spectrum(&self) -> Vec<(f64, Duration)> {
        if self.count() == 0 {
            return Vec::new();
        }
        self.hist
            .iter_quantiles(5)
            .map(|v| {
                (
                    v.quantile_iterated_to(),
                    Duration::from_micros(v.value_iterated_to()),
                )
            })
            .collect()
    }

    /// V2 + DEFLATE, base64 (standard alphabet, padded): what Java's and Go's HdrHistogram read.
    pub fn to_base64(&self) -> String {
        let mut buf = Vec::new();
        // Serialising into a Vec cannot fail for a histogram we built.
        let _ = V2DeflateSerializer::new().serialize(&self.hist, &mut buf);
        STANDARD.encode(buf)
    }

    pub fn from_base64(s: &str) -> Result<Self, String> {
        let bytes = STANDARD
            .decode(s.trim())
            .map_err(|e| format!("histogram is not base64: {e}"))?;
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| format!("histogram cannot be read: {e:?}"))?;
        let mut out = SerialHistogram::new();
        // A histogram from another tool may have other bounds: re-record its values into ours,
        // which saturates instead of failing.
        for v in h.iter_recorded() {
            out.hist.saturating_record_n(
                v.value_iterated_to().clamp(1, HIGHEST_US),
                v.count_at_value(),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_base64_and_merges_exactly() {
        let (mut a, mut b) = (SerialHistogram::new(), SerialHistogram::new());
        for us in 1..=1000u64 {
            a.record(Duration::from_micros(us));
            b.record(Duration::from_micros(us * 10));
        }
        let a2 = SerialHistogram::from_base64(&a.to_base64()).unwrap();
        assert_eq!(a2.count(), 1000);
        assert_eq!(a2.percentile(0.5), a.percentile(0.5));
        let mut m = a2;
        m.merge(&SerialHistogram::from_base64(&b.to_base64()).unwrap());
        assert_eq!(m.count(), 2000);
        assert_eq!(m.max(), b.max());
        assert_eq!(m.min(), Some(Duration::from_micros(1)));
        assert!(SerialHistogram::from_base64("not base64!").is_err());
        assert!(SerialHistogram::from_base64("aGVsbG8=").is_err());
    }

    #[test]
    fn the_spectrum_climbs_to_the_maximum() {
        let mut h = SerialHistogram::new();
        for us in 1..=10_000u64 {
            h.record(Duration::from_micros(us));
        }
        let s = h.spectrum();
        assert!(s.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        assert!(s.iter().any(|(q, _)| *q > 0.999));
        assert_eq!(s.last().map(|p| p.1), h.max());
        assert!(SerialHistogram::new().spectrum().is_empty());
    }

    #[test]
    fn empty_has_no_numbers() {
        let h = SerialHistogram::new();
        assert_eq!(h.percentile(0.99), None);
        assert_eq!(
            SerialHistogram::from_base64(&h.to_base64())
                .unwrap()
                .count(),
            0
        );
    }
}
