//! The soak report as a page: configuration and verdict on top, the terminal report's figures,
//! then the run over time on one shared time axis, and the latency spectrum.

use super::chart::{self, Axis, Line, Marks, Scale};
use super::{escape, pairs};
use crate::render::soak::verdict_line;
use crate::render::units;
use crate::stats::soak_report::{Latency, Report};
use crate::stats::timeline::{TimePoint, Timeline};
use std::fmt::Write;
use std::time::Duration;

/// Points drawn per chart at most: more than the pixels would show only grows the file (an
/// hour at one a second is coarsened to 8 s a point for drawing; the JSON keeps them all).
const DRAWN_POINTS: usize = 720;

fn secs(v: Option<f64>) -> String {
    v.map_or_else(
        || "-".into(),
        |s| units::duration(Duration::from_secs_f64(s.max(0.0))),
    )
}

pub fn render(r: &Report) -> String {
    let mut b = String::new();
    let target = r
        .config
        .first()
        .and_then(|c| c.get("url"))
        .and_then(|u| u.as_str())
        .map(crate::net::target::redact)
        .unwrap_or_else(|| "?".into());
    let what = if r.runs > 1 {
        format!("{} runs merged", r.runs)
    } else {
        target
    };
    let _ = write!(
        b,
        "<h1>wsbeat soak: {}</h1><p class=\"note\">{}{:.1} s{}, wsbeat {}</p>",
        escape(&what),
        r.timeline
            .as_ref()
            .map(|t| format!("started {}, ", started(t.started_at)))
            .unwrap_or_default(),
        r.elapsed,
        if r.stopped_early {
            " (stopped early)"
        } else {
            ""
        },
        escape(&r.wsbeat)
    );
    for c in &r.config {
        let _ = write!(b, "<p class=\"run\">{}</p>", escape(&shape(c)));
    }
    b.push_str(&super::verdict_banner(&r.thresholds, verdict_line));
    b.push_str("<h2>Summary</h2>");
    b.push_str(&summary(r));
    b.push_str("<h2>Over time</h2>");
    match &r.timeline {
        Some(t) if !t.points.is_empty() => {
            // A merge lines runs up by their start: its `elapsed` says nothing of the last point.
            b.push_str(&over_time(t, (r.runs == 1).then_some(r.elapsed)))
        }
        _ => b.push_str("<p class=\"note\">This report has no timeline (written by an older wsbeat, or merged with such a report).</p>"),
    }
    b.push_str("<h2>Latency distribution</h2>");
    b.push_str(&distribution(&r.latency.echo));
    b.push_str("<h2>Configuration</h2>");
    b.push_str(&configuration(r));
    super::page(&format!("wsbeat soak: {what}"), &b)
}

/// One line of a run's configuration for the header (all of it is at the end of the page):
/// `100 connections to ws://…, echo, 1 message/s each of 64 B, heartbeat 2 s, reconnect`.
fn shape(c: &serde_json::Value) -> String {
    let num = |k: &str| c.get(k).and_then(|v| v.as_f64());
    let mut parts = vec![format!(
        "{} connections to {}",
        num("connections").map_or("?".into(), |n| format!("{n:.0}")),
        c.get("url")
            .and_then(|u| u.as_str())
            .map_or("?".into(), crate::net::target::redact)
    )];
    if let Some(mode) = c.get("mode").and_then(|m| m.as_str()) {
        parts.push(mode.to_string());
    }
    if let (Some(rate), Some(size)) = (num("message_rate"), num("size"))
        && rate > 0.0
    {
        parts.push(format!("{rate} message/s each of {size:.0} B"));
    }
    if let Some(i) = c
        .get("heartbeat")
        .and_then(|h| h.get("interval"))
        .and_then(|v| v.as_f64())
    {
        parts.push(format!("heartbeat {i} s"));
    }
    if c.get("reconnect").is_some_and(|r| !r.is_null()) {
        parts.push("reconnect".into());
    }
    if let Some(d) = num("duration") {
        parts.push(format!("{d} s"));
    }
    parts.join(", ")
}

fn started(unix: f64) -> String {
    let t = std::time::UNIX_EPOCH + Duration::from_secs_f64(unix.max(0.0));
    humantime::format_rfc3339_seconds(t).to_string()
}

fn summary(r: &Report) -> String {
    let c = &r.connections;
    let m = &r.messages;
    let h = &r.heartbeats;
    let lost = m.lost();
    let mark = |ok: bool, t: String| {
        format!(
            "<span class=\"{}\">{t}</span>",
            if ok { "ok" } else { "broken" }
        )
    };
    let mut rows = vec![
        (
            "connections",
            format!(
                "{} / {} peak open, {} open at the end; {} opened, {} failed, {} reconnects, {} gave up",
                mark(c.peak_open >= c.target, c.peak_open.to_string()),
                c.target,
                c.open_at_end,
                c.opened,
                c.failed,
                c.reconnects,
                c.gave_up
            ),
        ),
        (
            "messages",
            if m.server_replayed + m.unstored + m.others + m.server_cut > 0 {
                format!(
                    "{} sent ({} replayed), {} received, {} echoed; from the server's replay {}, unstored {}, cut by it {}, of other connections {}",
                    m.sent,
                    m.replayed,
                    m.received,
                    m.echoed,
                    m.server_replayed,
                    m.unstored,
                    m.server_cut,
                    m.others
                )
            } else {
                format!(
                    "{} sent ({} replayed), {} received, {} echoed",
                    m.sent, m.replayed, m.received, m.echoed
                )
            },
        ),
        (
            "loss",
            format!(
                "{} (missing {}, dropped {}, unsent {}, corrupted {}); duplicated {}, reordered {}",
                mark(lost == 0, lost.to_string()),
                m.missing,
                m.dropped,
                m.unsent,
                m.corrupted,
                m.duplicated,
                m.reordered
            ),
        ),
        (
            "heartbeats",
            format!(
                "{} sent, {} answered, {} timed out",
                h.sent,
                h.answered,
                mark(h.timeouts == 0, h.timeouts.to_string())
            ),
        ),
    ];
    let errors = if r.errors.is_empty() {
        mark(true, "none".into())
    } else {
        let list: Vec<String> = r
            .errors
            .iter()
            .map(|(k, v)| format!("{} {v}", escape(k)))
            .collect();
        mark(false, list.join(", "))
    };
    rows.push(("errors", errors));
    if !r.close_codes.is_empty() {
        let list: Vec<String> = r
            .close_codes
            .iter()
            .map(|(k, v)| format!("{} ×{v}", escape(k)))
            .collect();
        rows.push(("close codes", list.join(", ")));
    }
    for s in &r.rss {
        if let (Some(first), Some(last)) = (s.samples.first(), s.samples.last()) {
            rows.push((
                "memory",
                format!(
                    "{} (pid {}): {} at start, {} at end, peak {}",
                    escape(&s.label),
                    s.pid,
                    units::bytes(first.value),
                    units::bytes(last.value),
                    units::bytes(s.peak_bytes.unwrap_or(last.value))
                ),
            ));
        }
    }
    let mut o = pairs(&rows);
    o.push_str("<table id=\"latency\"><tr><th>latency</th>");
    for h in ["count", "p50", "p90", "p99", "p99.9", "max"] {
        let _ = write!(o, "<th class=\"n\">{h}</th>");
    }
    o.push_str("</tr>");
    let l = &r.latency;
    for (name, x) in [
        ("echo", &l.echo),
        ("heartbeat", &l.heartbeat),
        ("connect", &l.connect),
        ("reconnect", &l.reconnect),
    ] {
        let _ = write!(o, "<tr><td>{name}</td><td class=\"n\">{}</td>", x.count);
        for v in [x.p50, x.p90, x.p99, x.p999, x.max] {
            let _ = write!(o, "<td class=\"n\">{}</td>", secs(v));
        }
        o.push_str("</tr>");
    }
    o.push_str("</table>");
    o
}

/// (x, y) for each point; `x` says where in its time a point's value belongs.
fn series(
    t: &Timeline,
    x: impl Fn(&TimePoint) -> f64,
    f: impl Fn(&TimePoint) -> Option<f64>,
) -> Vec<(f64, Option<f64>)> {
    t.points.iter().map(|p| (x(p), f(p))).collect()
}

fn over_time(full: &Timeline, elapsed: Option<f64>) -> String {
    let t = full.coarsened_to_fit(DRAWN_POINTS);
    let res = t.resolution as f64;
    let span = elapsed.unwrap_or(full.span() as f64);
    // The last point ends with the run, part way through its time: a rate over its whole
    // length would draw a drop that never happened, and one of a few milliseconds says
    // nothing at all.
    let last_t = t.points.last().map_or(0, |p| p.t);
    let length = |p: &TimePoint| match elapsed.map(|e| e - p.t as f64) {
        Some(part) if p.t == last_t && part <= 0.05 => None,
        Some(part) if p.t == last_t => Some(part.min(res)),
        _ => Some(res),
    };
    // Counts and rates belong to the middle of their time; open connections to its end.
    let mid = |p: &TimePoint| p.t as f64 + length(p).unwrap_or(0.0) / 2.0;
    let end = |p: &TimePoint| p.t as f64 + length(p).unwrap_or(0.0);
    let mut o = String::new();
    let mut note = format!("One point per {} s", full.resolution);
    if full.resolution > 1 {
        note.push_str(
            " (the run outgrew 24 hours at one point a second, so its timeline was coarsened)",
        );
    }
    if t.resolution != full.resolution {
        let _ = write!(
            note,
            "; drawn at {} s a point (counts summed, latencies the worst)",
            t.resolution
        );
    }
    let _ = write!(o, "<p class=\"note\" id=\"resolution\">{note}.</p>");

    let count = |v: f64| format!("{v:.0}");
    let rate = |v: f64| {
        if v < 10.0 {
            format!("{v:.1}")
        } else {
            format!("{v:.0}")
        }
    };
    let latency = |v: f64| units::duration(Duration::from_secs_f64(v.max(0.0)));
    let mib = |v: f64| format!("{v:.1}");

    let reconnects = Marks {
        label: "reconnect".into(),
        color: chart::VERMILLION,
        at: t
            .points
            .iter()
            .filter(|p| p.reconnects > 0)
            .map(mid)
            .collect(),
    };
    o.push_str(&chart::time_lines(
        "Connections open",
        span,
        &Axis {
            desc: "connections",
            scale: Scale::Linear,
            format: &count,
        },
        &[Line {
            label: "open".into(),
            color: chart::BLUE,
            width: 2,
            // Nothing is open before the run starts.
            points: std::iter::once((0.0, Some(0.0)))
                .chain(series(&t, end, |p| Some(p.open as f64)))
                .collect(),
        }],
        Some(&reconnects),
    ));
    o.push_str(&chart::time_lines(
        "Messages per second",
        span,
        &Axis {
            desc: "messages/s",
            scale: Scale::Linear,
            format: &rate,
        },
        &[
            Line {
                label: "sent".into(),
                color: chart::BLUE,
                width: 2,
                points: series(&t, mid, |p| length(p).map(|l| p.sent as f64 / l)),
            },
            Line {
                label: "received".into(),
                color: chart::ORANGE,
                width: 2,
                points: series(&t, mid, |p| length(p).map(|l| p.received as f64 / l)),
            },
        ],
        None,
    ));
    o.push_str(&chart::time_lines(
        "Latency (log scale)",
        span,
        &Axis {
            desc: "round trip",
            scale: Scale::Log,
            format: &latency,
        },
        &[
            Line {
                label: "echo max".into(),
                color: chart::VERMILLION,
                width: 1,
                points: series(&t, mid, |p| p.max),
            },
            Line {
                label: "echo p99".into(),
                color: chart::BLUE,
                width: 2,
                points: series(&t, mid, |p| p.p99),
            },
            Line {
                label: "echo p50".into(),
                color: chart::GREEN,
                width: 2,
                points: series(&t, mid, |p| p.p50),
            },
            Line {
                label: "heartbeat p99".into(),
                color: chart::PURPLE,
                width: 1,
                points: series(&t, mid, |p| p.heartbeat_p99),
            },
        ],
        None,
    ));
    let mut kinds: Vec<String> = t
        .points
        .iter()
        .flat_map(|p| p.errors.iter().map(|(k, _)| k.to_string()))
        .collect();
    kinds.sort();
    kinds.dedup();
    let by_kind: Vec<(String, Vec<(f64, u64)>)> = kinds
        .into_iter()
        .map(|k| {
            let pts = t
                .points
                .iter()
                .map(|p| (p.t as f64, p.errors.get(&k)))
                .collect();
            // A merged report's kinds come from files: shown, never obeyed.
            (crate::error::escape_controls(&k, false).into_owned(), pts)
        })
        .collect();
    let title = if by_kind.is_empty() {
        "Errors by kind (none)"
    } else {
        "Errors by kind"
    };
    o.push_str(&chart::stacked(
        title,
        span,
        res,
        &format!("errors per {} s", t.resolution),
        &by_kind,
    ));
    let rss: Vec<Line> = t
        .processes
        .iter()
        .enumerate()
        .map(|(i, who)| Line {
            label: format!(
                "{} (pid {})",
                crate::error::escape_controls(&who.label, false),
                who.pid
            ),
            color: chart::PALETTE[i % chart::PALETTE.len()],
            width: 2,
            points: series(&t, mid, |p| {
                p.rss
                    .get(i)
                    .copied()
                    .flatten()
                    .map(|b| b as f64 / 1048576.0)
            }),
        })
        .collect();
    o.push_str(&chart::time_lines(
        "Resident memory",
        span,
        &Axis {
            desc: "RSS (MiB)",
            scale: Scale::Linear,
            format: &mib,
        },
        &rss,
        None,
    ));
    o
}

fn distribution(echo: &Latency) -> String {
    let h = match echo.histogram() {
        Ok(h) if h.count() > 0 => h,
        Ok(_) => return "<p class=\"note\">No echo was measured.</p>".into(),
        Err(e) => {
            return format!(
                "<p class=\"note\">The echo histogram cannot be read: {}</p>",
                escape(&e)
            );
        }
    };
    let spectrum: Vec<(f64, f64)> = h
        .spectrum()
        .into_iter()
        .map(|(q, d)| (q, d.as_secs_f64()))
        .collect();
    chart::spectrum(
        &format!("Echo latency by percentile ({} round trips)", h.count()),
        "echo round trip",
        &spectrum,
        h.count(),
    )
}

fn configuration(r: &Report) -> String {
    let mut o = String::new();
    for (i, c) in r.config.iter().enumerate() {
        if r.config.len() > 1 {
            let _ = write!(o, "<p class=\"note\">Run {}</p>", i + 1);
        }
        let Some(obj) = c.as_object() else { continue };
        let rows: Vec<(&str, String)> = obj
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    serde_json::Value::String(s) if k == "url" => crate::net::target::redact(s),
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => "-".into(),
                    v => v.to_string(),
                };
                (k.as_str(), format!("<code>{}</code>", escape(&text)))
            })
            .collect();
        o.push_str(&pairs(&rows));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::stats::soak_collector::{Ev, Stats};
    use crate::stats::soak_tracker::Echo;
    use std::time::Instant;

    #[test]
    fn a_page_with_every_chart_and_the_runs_numbers() {
        let mut s = Stats::new(3, Instant::now() - Duration::from_secs(2));
        for i in 0..30u64 {
            s.apply(Ev::Opened {
                took: Duration::from_millis(1),
                reconnect: (i == 5).then_some(Duration::from_millis(3)),
            });
            s.apply(Ev::Sent {
                replay: false,
                len: 16,
                wire: 22,
            });
            s.apply(Ev::Echo {
                rtt: Duration::from_micros(200 + i * 10),
                order: Echo::InOrder,
                len: 16,
                wire: 22,
            });
        }
        s.apply(Ev::OpenFailed(ErrorKind::Refused));
        s.sample_rss(Some(20 << 20), None);
        let mut r = s.report(
            vec![serde_json::json!({"url": "ws://u:secret@h:1/", "connections": 3})],
            false,
            None,
        );
        r.thresholds = crate::stats::verdict::Thresholds::default().check(&r);
        let html = render(&r);
        for want in [
            "Connections open",
            "Messages per second",
            "Latency (log scale)",
            "Errors by kind",
            "Resident memory",
            "Echo latency by percentile (30 round trips)",
            "PASSED",
            "max-loss: 0 &lt;= 0",
            "time since start",
            "refused",
            "99%",
        ] {
            assert!(html.contains(want), "no {want:?} in the page");
        }
        assert!(
            html.contains("3 connections to ws://***@h:1/"),
            "the run in one line"
        );
        assert!(!html.contains("secret"), "the URL's credentials leaked");
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn an_hours_report_stays_small() {
        // An hour of busy seconds: every one with echoes, errors of three kinds and memory.
        let mut rec = crate::stats::timeline::Recorder::new(0.0);
        let me = crate::stats::timeline::Process {
            label: "wsbeat soak".into(),
            pid: 1,
        };
        let them = crate::stats::timeline::Process {
            label: "watched process".into(),
            pid: 2,
        };
        for sec in 0..3600u64 {
            let p = rec.at(sec, 1000);
            p.sent += 2000;
            p.received += 2000;
            p.reconnects += sec % 7;
            for kind in ["abnormal_close", "refused", "heartbeat_timeout"] {
                p.errors.add(kind, sec % 5);
            }
            rec.rss(sec, 1000, &me, 0, (20 << 20) + sec * 4096);
            rec.rss(sec, 1000, &them, 1, (90 << 20) + sec * 1024);
            for i in 0..20 {
                rec.echo(
                    sec,
                    1000,
                    Duration::from_micros(100 + (sec * 37 + i * 101) % 5000),
                );
            }
        }
        let mut s = Stats::new(1000, Instant::now());
        for i in 0..100_000u64 {
            s.apply(Ev::Echo {
                rtt: Duration::from_micros(50 + i % 20_000),
                order: Echo::InOrder,
                len: 16,
                wire: 22,
            });
        }
        let mut r = s.report(vec![serde_json::json!({"url": "ws://h/"})], false, None);
        r.timeline = Some(rec.timeline(1000));
        let html = render(&r);
        let json = crate::render::json_layout::to_string(&r).unwrap();
        eprintln!(
            "an hour: HTML {} KiB, JSON {} KiB",
            html.len() / 1024,
            json.len() / 1024
        );
        assert!(html.len() < 2 << 20, "HTML {} bytes", html.len());
        assert!(json.len() < 2 << 20, "JSON {} bytes", json.len());
        assert!(
            html.contains("drawn at 8 s a point"),
            "downsampled for drawing"
        );
    }
}
