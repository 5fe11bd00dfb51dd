//! A time series in bounded memory: samples at a fixed period until the buffer is full, then
//! every other sample is dropped and the period doubles. A run of days keeps its whole shape
//! (a leak is a slope, not a point) in at most `capacity` points.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the start of the run.
    pub t: f64,
    pub value: u64,
}

#[derive(Debug, Clone)]
pub struct Series {
    points: Vec<Point>,
    capacity: usize,
    /// Keep one offered sample in `stride`.
    stride: u64,
    offered: u64,
}

impl Series {
    pub fn new(capacity: usize) -> Self {
        Series {
            points: Vec::new(),
            capacity: capacity.max(2),
            stride: 1,
            offered: 0,
        }
    }

    pub fn push(&mut self, t: f64, value: u64) {
        let keep = self.offered % self.stride == 0;
        self.offered += 1;
        if !keep {
            return;
        }
        if self.points.len() == self.capacity {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride *= 2;
            // This sample may fall between the kept ones now; the next on-stride one follows.
            if (self.offered - 1) % self.stride != 0 {
                return;
            }
        }
        self.points.push(Point { t, value });
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    pub fn last(&self) -> Option<Point> {
        self.points.last().copied()
    }

    pub fn max(&self) -> Option<u64> {
        self.points.iter().map(|p| p.value).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_evenly_thinned() {
        let mut s = Series::new(8);
        for i in 0..1000u64 {
            s.push(i as f64, i);
        }
        assert!(s.points().len() <= 8);
        assert_eq!(s.points()[0].value, 0);
        let gaps: Vec<u64> = s
            .points()
            .windows(2)
            .map(|w| w[1].value - w[0].value)
            .collect();
        assert!(gaps.windows(2).all(|g| g[0] == g[1]), "{gaps:?}");
        assert_eq!(s.max(), s.last().map(|p| p.value));
    }
}
