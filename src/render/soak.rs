//! The human soak summary: a few aligned tables, colour only when allowed, the same for one
//! run and for a merge of many.

use crate::render::units;
use crate::stats::soak_report::{Latency, PEAK_FROM_HWM, Report};
use crate::stats::verdict::Verdict;
use colored::Colorize;
use std::fmt::Write;
use std::time::Duration;

fn secs(v: Option<f64>) -> String {
    v.map_or_else(
        || "-".into(),
        |s| units::duration(Duration::from_secs_f64(s.max(0.0))),
    )
}

/// `max-p99: 12.3 ms > 10.0 ms`: the value against the limit, in the limit's unit.
pub fn verdict_line(v: &Verdict) -> String {
    let is_time = v.name == "max-p99";
    let fmt = |x: f64| {
        if is_time {
            secs(Some(x))
        } else {
            format!("{x:.0}")
        }
    };
    let op = match (v.ok, v.name.starts_with("min-")) {
        (true, false) => "<=",
        (true, true) => ">=",
        (false, false) => ">",
        (false, true) => "<",
    };
    match v.value {
        Some(x) => format!("{}: {} {op} {}", v.name, fmt(x), fmt(v.limit)),
        None => format!("{}: nothing measured (limit {})", v.name, fmt(v.limit)),
    }
}

pub fn render(r: &Report, color: bool) -> String {
    let head = |t: &str| {
        if color {
            t.bold().to_string()
        } else {
            t.to_string()
        }
    };
    let good = |t: String, ok: bool| -> String {
        match (color, ok) {
            (false, _) => t,
            (true, true) => t.green().to_string(),
            (true, false) => t.red().bold().to_string(),
        }
    };
    let mut o = String::new();
    let target = r
        .config
        .first()
        .and_then(|c| c.get("url"))
        .and_then(|u| u.as_str())
        .unwrap_or("?");
    let runs = if r.runs > 1 {
        format!("{} runs merged", r.runs)
    } else {
        target.to_string()
    };
    let _ = writeln!(
        o,
        "{} {runs}, {:.1} s{}",
        head("wsbeat soak:"),
        r.elapsed,
        if r.stopped_early {
            " (stopped early)"
        } else {
            ""
        }
    );
    let c = &r.connections;
    let _ = writeln!(
        o,
        "{}  {} / {} peak open, {} open at the end; {} opened, {} failed, {} reconnects, {} gave up",
        head("connections"),
        good(c.peak_open.to_string(), c.peak_open >= c.target),
        c.target,
        c.open_at_end,
        c.opened,
        c.failed,
        c.reconnects,
        c.gave_up
    );
    let failed_preambles = r.errors.get("preamble");
    if c.preambles > 0 || failed_preambles > 0 {
        let _ = writeln!(
            o,
            "{}     {} completed, {} failed (errors: preamble)",
            head("preamble"),
            c.preambles,
            failed_preambles
        );
    }
    let m = &r.messages;
    let _ = writeln!(
        o,
        "{}     {} sent ({} replayed), {} received, {} echoed",
        head("messages"),
        m.sent,
        m.replayed,
        m.received,
        m.echoed
    );
    let b = &r.bytes;
    let (out_ratio, in_ratio) = b.ratios();
    let ratio = |r: Option<f64>| r.map_or("-".to_string(), |r| format!("{r:.2}"));
    let _ = writeln!(
        o,
        "{}        sent {} payload, {} on the wire (ratio {}); received {} payload, {} on the wire (ratio {})",
        head("bytes"),
        units::bytes(b.sent_payload),
        units::bytes(b.sent_wire),
        ratio(out_ratio),
        units::bytes(b.received_payload),
        units::bytes(b.received_wire),
        ratio(in_ratio)
    );
    let lost = m.lost();
    let _ = writeln!(
        o,
        "{}         {} (missing {}, dropped {}, unsent {}, lost in flight {}, corrupted {}); duplicated {}, reordered {}",
        head("loss"),
        good(lost.to_string(), lost == 0),
        m.missing,
        m.dropped,
        m.unsent,
        m.lost_in_flight,
        m.corrupted,
        m.duplicated,
        m.reordered
    );
    if m.server_replayed + m.unstored + m.others + m.server_cut > 0 {
        let _ = writeln!(
            o,
            "{}       {} replayed by the server, {} it could not store, {} it no longer had, {} of other connections in the room",
            head("server"),
            m.server_replayed,
            m.unstored,
            m.server_cut,
            m.others
        );
    }
    if m.unconfirmed > 0 {
        let _ = writeln!(
            o,
            "{}  {} message(s), {} bytes the server's TCP never acknowledged at connection losses",
            head("unconfirmed"),
            m.unconfirmed,
            m.unconfirmed_bytes
        );
    }
    let h = &r.heartbeats;
    let _ = writeln!(
        o,
        "{}   {} sent, {} answered, {} timed out",
        head("heartbeats"),
        h.sent,
        h.answered,
        good(h.timeouts.to_string(), h.timeouts == 0)
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "{}",
        head(&format!(
            "{:<12} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            "latency", "count", "p50", "p90", "p99", "p99.9", "max"
        ))
    );
    let row = |o: &mut String, name: &str, l: &Latency| {
        let _ = writeln!(
            o,
            "{:<12} {:>9} {:>10} {:>10} {:>10} {:>10} {:>10}",
            name,
            l.count,
            secs(l.p50),
            secs(l.p90),
            secs(l.p99),
            secs(l.p999),
            secs(l.max)
        );
    };
    row(&mut o, "echo", &r.latency.echo);
    row(&mut o, "heartbeat", &r.latency.heartbeat);
    row(&mut o, "connect", &r.latency.connect);
    row(&mut o, "reconnect", &r.latency.reconnect);
    let _ = writeln!(o);
    if r.errors.is_empty() {
        let _ = writeln!(o, "{}       {}", head("errors"), good("none".into(), true));
    } else {
        let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(
            o,
            "{}       {}",
            head("errors"),
            good(list.join(", "), false)
        );
    }
    if !r.close_codes.is_empty() {
        let list: Vec<String> = r
            .close_codes
            .iter()
            .map(|(k, v)| format!("{k} ×{v}"))
            .collect();
        let _ = writeln!(o, "{}  {}", head("close codes"), list.join(", "));
    }
    for s in &r.rss {
        let (Some(first), Some(last)) = (s.samples.first(), s.samples.last()) else {
            continue;
        };
        let _ = writeln!(
            o,
            "{}       {} (pid {}): {} at start, {} at end, peak {}{}",
            head("memory"),
            s.label,
            s.pid,
            units::bytes(first.value),
            units::bytes(last.value),
            units::bytes(s.peak_bytes.unwrap_or(last.value)),
            // Only a high-water mark is exact; a sampled peak can miss a spike between samples.
            if s.peak_from == PEAK_FROM_HWM {
                ""
            } else {
                " (sampled once a second)"
            }
        );
    }
    if !r.thresholds.is_empty() {
        let list: Vec<String> = r
            .thresholds
            .iter()
            .map(|v| {
                let mark = if v.ok { "ok" } else { "BROKEN" };
                good(format!("{mark} {}", verdict_line(v)), v.ok)
            })
            .collect();
        let _ = writeln!(o, "{}   {}", head("thresholds"), list.join("; "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_read_naturally() {
        let v = Verdict {
            name: "max-p99".into(),
            limit: 0.01,
            value: Some(0.0123),
            ok: false,
        };
        assert_eq!(verdict_line(&v), "max-p99: 12.30 ms > 10.00 ms");
        let v = Verdict {
            name: "min-connections".into(),
            limit: 100.0,
            value: Some(90.0),
            ok: false,
        };
        assert_eq!(verdict_line(&v), "min-connections: 90 < 100");
    }
}
