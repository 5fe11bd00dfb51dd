//! Soak's CI thresholds: each one checked against the (possibly merged) report and named in the
//! verdict, so a failed build says which limit broke and by how much.

use super::soak_report::Report;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    pub max_loss: u64,
    pub max_p99: Option<Duration>,
    pub max_errors: Option<u64>,
    pub min_connections: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// The flag's name, e.g. `max-loss`.
    pub name: String,
    pub limit: f64,
    /// `null` when there was nothing to measure (e.g. no echo for `max-p99`).
    pub value: Option<f64>,
    pub ok: bool,
}

impl Thresholds {
    pub fn check(&self, r: &Report) -> Vec<Verdict> {
        let mut out = Vec::new();
        let lost = r.messages.lost();
        out.push(Verdict {
            name: "max-loss".into(),
            limit: self.max_loss as f64,
            value: Some(lost as f64),
            ok: lost <= self.max_loss,
        });
        if let Some(limit) = self.max_p99 {
            let p99 = r.latency.echo.p99;
            out.push(Verdict {
                name: "max-p99".into(),
                limit: limit.as_secs_f64(),
                value: p99,
                // No echo measured cannot prove the latency was fine.
                ok: p99.is_some_and(|v| v <= limit.as_secs_f64()),
            });
        }
        if let Some(limit) = self.max_errors {
            let n = r.errors.total();
            out.push(Verdict {
                name: "max-errors".into(),
                limit: limit as f64,
                value: Some(n as f64),
                ok: n <= limit,
            });
        }
        if let Some(limit) = self.min_connections {
            let n = r.connections.peak_open;
            out.push(Verdict {
                name: "min-connections".into(),
                limit: limit as f64,
                value: Some(n as f64),
                ok: n >= limit,
            });
        }
        out
    }
}

pub fn broken(verdicts: &[Verdict]) -> impl Iterator<Item = &Verdict> {
    verdicts.iter().filter(|v| !v.ok)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::soak_collector::Stats;

    #[test]
    fn each_threshold_breaks_on_its_own() {
        let mut stats = Stats::new(10, std::time::Instant::now());
        stats.messages.missing = 2;
        stats.errors.add("refused", 3);
        stats.peak_open = 7;
        let r = stats.report(vec![], false, None);
        let t = Thresholds {
            max_loss: 1,
            max_p99: Some(Duration::from_millis(5)),
            max_errors: Some(3),
            min_connections: Some(8),
        };
        let v = t.check(&r);
        let names: Vec<&str> = broken(&v).map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["max-loss", "max-p99", "min-connections"]);
        let ok = Thresholds {
            max_loss: 2,
            ..Default::default()
        };
        assert_eq!(broken(&ok.check(&r)).count(), 0);
    }
}
