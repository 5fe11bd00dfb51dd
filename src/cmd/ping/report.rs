//! `ping --report FILE`: the run's probes second by second (soak's timeline, in the same
//! bounded memory) and every round trip in one histogram, drawn into a page at the end.

use crate::config::ping::{PingConfig, Thresholds};
use crate::render::html;
use crate::render::ping::{PingEvent, Summary};
use crate::stats::serial::SerialHistogram;
use crate::stats::timeline::Recorder;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(crate) struct Record {
    timeline: Recorder,
    rtt: SerialHistogram,
}

impl Record {
    pub fn new() -> Self {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        Record {
            timeline: Recorder::new(now.as_secs_f64()),
            rtt: SerialHistogram::new(),
        }
    }

    /// `ts`: since the start of the run. The timeline's `open` stays 0: ping draws no
    /// connection count.
    pub fn event(&mut self, ts: Duration, event: &PingEvent) {
        let second = ts.as_secs();
        let t = &mut self.timeline;
        match event {
            PingEvent::Reply { rtt, .. } => {
                t.at(second, 0).received += 1;
                t.echo(second, 0, *rtt);
                self.rtt.record(*rtt);
            }
            PingEvent::Handshake { handshake, .. } => {
                let rtt = handshake.timings.total;
                t.at(second, 0).connects += 1;
                t.echo(second, 0, rtt);
                self.rtt.record(rtt);
            }
            PingEvent::Timeout { .. } => {
                let p = t.at(second, 0);
                p.lost += 1;
                p.errors.add("timeout", 1);
            }
            PingEvent::Failed { error, .. } => {
                let p = t.at(second, 0);
                p.failures += 1;
                p.errors.add(error.kind().as_str(), 1);
            }
            _ => {}
        }
    }

    /// The page; `broken` are the thresholds that broke, `code` the run's exit code.
    pub fn render(
        &self,
        cfg: &PingConfig,
        summary: &Summary,
        broken: &[String],
        code: u8,
    ) -> String {
        let mut checks = configured(&cfg.thresholds)
            .into_iter()
            .map(|flag| {
                let hit = broken.iter().find(|b| b.starts_with(&format!("{flag} ")));
                match hit {
                    Some(b) => (false, b.clone()),
                    None => (true, format!("{flag} held")),
                }
            })
            .collect::<Vec<_>>();
        let pass = code == 0;
        let headline = if pass {
            if checks.is_empty() {
                "PASSED: no threshold was set".to_string()
            } else {
                "PASSED: every threshold held".to_string()
            }
        } else if broken.is_empty() {
            checks.push((
                false,
                format!("the run ended early ({})", summary.ended.as_str()),
            ));
            format!("FAILED: exit code {code}")
        } else {
            "FAILED: a threshold broke".to_string()
        };
        let t = self.timeline.timeline(0);
        let fmt = crate::render::units::duration;
        let config = vec![
            ("url", summary.url.clone()),
            ("probe", summary.mode.as_str().to_string()),
            ("interval", fmt(cfg.interval)),
            ("timeout", fmt(cfg.timeout)),
            ("count", cfg.count.map_or("-".into(), |c| c.to_string())),
            ("deadline", cfg.deadline.map_or("-".into(), fmt)),
        ];
        html::ping::render(&html::ping::Page {
            summary,
            timeline: &t,
            rtt: &self.rtt,
            pass,
            headline,
            checks,
            config,
        })
    }
}

/// The page of a run that could not open its connection: the error, nothing else to show.
pub fn unreachable(cfg: &PingConfig, e: &crate::error::Error) -> String {
    let url = crate::net::target::redact(&cfg.conn.target.url());
    let body = format!(
        "<h1>wsbeat ping: {}</h1>{}",
        html::escape(&url),
        html::banner(
            false,
            "FAILED: the connection could not be opened",
            &[(false, e.to_string())]
        )
    );
    html::page(&format!("wsbeat ping: {url}"), &body)
}

/// The flags of the thresholds this run checks, as `broken_thresholds` names them.
fn configured(t: &Thresholds) -> Vec<&'static str> {
    let mut v = Vec::new();
    if t.max_loss.is_some() {
        v.push("--max-loss");
    }
    if t.min_replies.is_some() {
        v.push("--min-replies");
    }
    if t.max_rtt.is_some() {
        v.push("--max-rtt");
    }
    if t.max_rtt_each.is_some() {
        v.push("--max-rtt-each");
    }
    v
}
