//! The ping report as a page: the verdict, ping(8)'s summary, the round trip over time with
//! every lost probe marked, and the distribution.

use super::chart::{self, Axis, Line, Marks, Scale};
use super::{escape, pairs};
use crate::render::ping::{Summary, percent};
use crate::render::units;
use crate::stats::serial::SerialHistogram;
use crate::stats::timeline::{TimePoint, Timeline};
use std::fmt::Write;
use std::time::Duration;

const DRAWN_POINTS: usize = 720;

pub struct Page<'a> {
    pub summary: &'a Summary,
    pub timeline: &'a Timeline,
    /// Every timely round trip of the run.
    pub rtt: &'a SerialHistogram,
    pub pass: bool,
    pub headline: String,
    /// Each threshold (or what ended the run): passed or not, in words.
    pub checks: Vec<(bool, String)>,
    /// Name and value of each setting worth showing.
    pub config: Vec<(&'static str, String)>,
}

pub fn render(p: &Page) -> String {
    let s = p.summary;
    let url = crate::net::target::redact(&s.url);
    let mut b = String::new();
    let _ = write!(
        b,
        "<h1>wsbeat ping: {}</h1><p class=\"note\">{} probes, {:.1} s, ended by {}</p>",
        escape(&url),
        s.mode.as_str(),
        s.elapsed.as_secs_f64(),
        s.ended.as_str()
    );
    b.push_str(&super::banner(p.pass, &p.headline, &p.checks));
    b.push_str("<h2>Summary</h2>");
    let d = |d: Duration| units::duration(d);
    let mut rows = vec![
        (
            "probes",
            format!(
                "{} sent, {} received, <span class=\"{}\">{} loss</span>",
                s.sent,
                s.received,
                if s.sent == s.received { "ok" } else { "broken" },
                percent(s.loss_percent)
            ),
        ),
        (
            "also",
            format!(
                "{} late, {} duplicate, {} unsolicited, {} other",
                s.late, s.duplicate, s.unsolicited, s.other
            ),
        ),
    ];
    if let Some(r) = &s.rtt {
        rows.push((
            "round trip",
            format!(
                "min/avg/max/mdev = {}/{}/{}/{}; p50 {}, p90 {}, p99 {}",
                d(r.min),
                d(r.avg),
                d(r.max),
                d(r.mdev),
                d(r.p50),
                d(r.p90),
                d(r.p99)
            ),
        ));
    }
    b.push_str(&pairs(&rows));
    b.push_str("<h2>Over time</h2>");
    b.push_str(&over_time(p.timeline));
    b.push_str("<h2>Round-trip distribution</h2>");
    if p.rtt.count() == 0 {
        b.push_str("<p class=\"note\">No reply came back to measure.</p>");
    } else {
        let spectrum: Vec<(f64, f64)> = p
            .rtt
            .spectrum()
            .into_iter()
            .map(|(q, d)| (q, d.as_secs_f64()))
            .collect();
        b.push_str(&chart::spectrum(
            &format!("Round trip by percentile ({} replies)", p.rtt.count()),
            "round trip",
            &spectrum,
            p.rtt.count(),
        ));
    }
    b.push_str("<h2>Configuration</h2>");
    let config: Vec<(&str, String)> = p
        .config
        .iter()
        .map(|(k, v)| (*k, format!("<code>{}</code>", escape(v))))
        .collect();
    b.push_str(&pairs(&config));
    super::page(&format!("wsbeat ping: {url}"), &b)
}

/// (x, y) for each point, in the middle of its time.
fn series(t: &Timeline, f: impl Fn(&TimePoint) -> Option<f64>) -> Vec<(f64, Option<f64>)> {
    let half = t.resolution as f64 / 2.0;
    t.points.iter().map(|p| (p.t as f64 + half, f(p))).collect()
}

fn over_time(full: &Timeline) -> String {
    let t = full.coarsened_to_fit(DRAWN_POINTS);
    let span = full.span() as f64;
    let latency = |v: f64| units::duration(Duration::from_secs_f64(v.max(0.0)));
    let lost = Marks {
        label: "lost probe".into(),
        color: chart::VERMILLION,
        at: t
            .points
            .iter()
            .filter(|p| p.lost + p.failures > 0)
            .map(|p| p.t as f64 + t.resolution as f64 / 2.0)
            .collect(),
    };
    let mut o = format!(
        "<p class=\"note\" id=\"resolution\">One point per {} s; {} lost probe(s) marked.</p>",
        t.resolution,
        full.points.iter().map(|p| p.lost + p.failures).sum::<u64>()
    );
    let one = t.resolution == 1;
    o.push_str(&chart::time_lines(
        "Round trip (log scale)",
        span,
        &Axis {
            desc: "round trip",
            scale: Scale::Log,
            format: &latency,
        },
        &[
            Line {
                label: if one {
                    "max".into()
                } else {
                    "max per point".into()
                },
                color: chart::ORANGE,
                width: 1,
                points: series(&t, |p| p.max),
            },
            Line {
                label: "p50".into(),
                color: chart::BLUE,
                width: 2,
                points: series(&t, |p| p.p50),
            },
        ],
        Some(&lost),
    ));
    o
}
