//! `wsbeat ping`: ping(8) for WebSockets. Probes are Ping frames, application text messages
//! (`--text`/`--expect`) or whole connections (`--connect-only`); each outcome is an event, the
//! counts and RTTs go to a fixed-memory collector, and the summary and thresholds decide the
//! exit code.

mod connect_only;
mod report;
mod schedule;
mod session;
mod socketio;

use crate::client::pings::PongMatch;
use crate::config::ping::{PingConfig, Probe, Thresholds};
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::render::ping::{self as view, Ended, PingEvent, PingRender, ProbeMode, Summary, View};
use crate::signals;
use crate::stats::probes::ProbeStats;
use crate::ws::proto::close::{CloseEvent, Initiator};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Where events go, stamped with the time since the run started.
pub(crate) struct Out {
    start: Instant,
    render: Box<dyn PingRender + Send>,
    /// stdout went away (closed pipe): stop quietly, which is not an error.
    pub gone: bool,
    /// `--report`: what the page will show.
    record: Option<report::Record>,
}

impl Out {
    pub fn emit(&mut self, event: PingEvent) {
        if let Some(r) = &mut self.record {
            r.event(self.start.elapsed(), &event);
        }
        if self.gone {
            return;
        }
        if let Err(e) = self.render.event(self.start.elapsed(), &event) {
            crate::render::stdout_failed(&e);
            self.gone = true;
        }
    }

    pub fn error(&mut self, e: Error) {
        self.emit(PingEvent::Core(Event::Error(e)));
    }
}

/// What a run came to, whichever the mode.
pub(crate) struct Outcome {
    pub stats: ProbeStats,
    pub ended: Ended,
    /// The close of the (last) connection, if one was open.
    pub close: Option<CloseEvent>,
    /// What broke the run, when something did (connection lost, refused, protocol error).
    pub error: Option<Error>,
    pub first_probe: Option<Instant>,
    pub stopped: Instant,
}

pub async fn run(cfg: PingConfig) -> ExitCode {
    let start = Instant::now();
    let mode = cfg.probe.mode();
    let mut out = Out {
        start,
        render: view::renderer(
            &cfg.output,
            View {
                mode,
                timeout: cfg.timeout,
                quiet: cfg.quiet,
                verbose: cfg.output.verbose,
            },
        ),
        gone: false,
        record: cfg.report.as_ref().map(|_| report::Record::new()),
    };
    if cfg.insecure {
        out.emit(PingEvent::Core(Event::Warning(
            "--insecure: the server's certificate is NOT verified".into(),
        )));
    }
    if let Some(w) = crate::cmd::connect::key_log_warning(&cfg.conn) {
        out.emit(PingEvent::Core(Event::Warning(w)));
    }
    let mut sigint = signals::subscribe();
    let outcome = match &cfg.probe {
        Probe::Connect => connect_only::run(&cfg, &mut out, &mut sigint).await,
        _ => match if matches!(cfg.probe, Probe::SocketIo { .. } | Probe::EngineIo { .. }) {
            socketio::run(&cfg, &mut out, &mut sigint).await
        } else {
            session::run(&cfg, &mut out, &mut sigint).await
        } {
            Ok(outcome) => outcome,
            // Could not open the connection: nothing was probed, so there is no summary.
            Err(e) => {
                let code = e.kind().exit_code();
                // The page the --report file promised says why there is nothing to show.
                if let Some(path) = &cfg.report {
                    let page = report::unreachable(&cfg, &e);
                    let _ = crate::render::html::write(path, &page);
                }
                out.error(e);
                return ExitCode::from(code);
            }
        },
    };
    // Errors (what ended the run, broken thresholds) first: the summary is always last.
    let code = verdict(&cfg, &outcome, &mut out);
    let summary = summary(&cfg, mode, &outcome);
    out.emit(PingEvent::Summary(summary.clone()));
    if out.gone {
        return ExitCode::SUCCESS;
    }
    if let (Some(path), Some(record)) = (&cfg.report, &out.record) {
        let broken = broken_thresholds(&cfg.thresholds, &outcome.stats);
        let page = record.render(&cfg, &summary, &broken, code.0);
        if let Err(e) = crate::render::html::write(path, &page) {
            eprintln!("wsbeat: error: {e}");
            return ExitCode::from(ErrorKind::Io.exit_code());
        }
    }
    code.1
}

fn summary(cfg: &PingConfig, mode: ProbeMode, o: &Outcome) -> Summary {
    let s = &o.stats;
    Summary {
        url: cfg.conn.target.url(),
        mode,
        sent: s.sent,
        received: s.received,
        loss_percent: s.loss_percent(),
        late: s.late,
        duplicate: s.duplicate,
        unsolicited: s.unsolicited,
        other: s.other,
        rtt: s.rtt.summary(),
        elapsed: o
            .first_probe
            .map_or(Duration::ZERO, |t| o.stopped.saturating_duration_since(t)),
        ended: o.ended,
    }
}

/// The exit code: how the run ended first (lost connection 6, peer's close code 7,
/// interrupted 130, refused 3/4/5), then the thresholds (1). Every broken threshold is named.
fn verdict(cfg: &PingConfig, o: &Outcome, out: &mut Out) -> (u8, ExitCode) {
    let code = verdict_code(cfg, o, out);
    (code, ExitCode::from(code))
}

fn verdict_code(cfg: &PingConfig, o: &Outcome, out: &mut Out) -> u8 {
    if out.gone {
        return 0;
    }
    let mut code: Option<u8> = match o.ended {
        Ended::Closed => {
            let kind = closed_kind(o);
            if o.error.is_none()
                && let Some(c) = &o.close
            {
                let of = cfg.count.map(|n| format!(" of {n}")).unwrap_or_default();
                out.error(Error::new(
                    kind,
                    format!(
                        "the peer closed the connection with {} ({}) after {}{of} probes",
                        c.code,
                        c.name(),
                        o.stats.sent
                    ),
                ));
            }
            Some(kind.exit_code())
        }
        // With -c or -w the run had an end that Ctrl-C cut short; without them Ctrl-C is the
        // ordinary way to stop, as with ping(8).
        Ended::Interrupted if cfg.count.is_some() || cfg.deadline.is_some() => {
            Some(ErrorKind::Interrupted.exit_code())
        }
        _ => None,
    };
    // --connect-only: no connection at all is a connection failure, with its own code.
    if let Some(e) = &o.error
        && o.stats.received == 0
        && code.is_none()
    {
        code = Some(e.kind().exit_code());
    }
    if let Some(code) = code {
        // A run cut short says so above; thresholds over part of a run would only add noise.
        return code;
    }
    let broken = broken_thresholds(&cfg.thresholds, &o.stats);
    for msg in &broken {
        out.error(Error::new(ErrorKind::Check, msg.clone()));
    }
    if broken.is_empty() {
        0
    } else {
        ErrorKind::Check.exit_code()
    }
}

/// Why a run that the connection's end cut short failed: what broke it, else the peer's code.
fn closed_kind(o: &Outcome) -> ErrorKind {
    if let Some(e) = &o.error {
        return e.kind();
    }
    match &o.close {
        Some(c) if c.initiator == Initiator::Server && !c.is_normal() => ErrorKind::CloseCode,
        // A clean 1000/1001 from the peer still ended the run before it was done.
        _ => ErrorKind::Abnormal,
    }
}

pub(crate) fn broken_thresholds(t: &Thresholds, s: &ProbeStats) -> Vec<String> {
    let mut broken = Vec::new();
    let fmt = |d: Duration| crate::render::units::duration(d);
    if let Some(max) = t.max_loss
        && s.loss_percent() > max
    {
        broken.push(format!(
            "--max-loss {}: {} of {} probes got no reply in time ({} loss)",
            view::percent(max),
            s.lost(),
            s.sent,
            view::percent(s.loss_percent())
        ));
    }
    if let Some(min) = t.min_replies
        && s.received < min
    {
        broken.push(format!(
            "--min-replies {min}: only {} replies came back in time",
            s.received
        ));
    }
    // The percentiles walk the histogram: only when a threshold needs them.
    let rtt = if t.max_rtt.is_some() || t.max_rtt_each.is_some() {
        s.rtt.summary()
    } else {
        None
    };
    if let Some(max) = t.max_rtt {
        match rtt {
            Some(r) if r.p99 <= max => {}
            Some(r) => broken.push(format!(
                "--max-rtt {}: the p99 round trip was {}",
                fmt(max),
                fmt(r.p99)
            )),
            None => broken.push(format!(
                "--max-rtt {}: no reply came back to measure",
                fmt(max)
            )),
        }
    }
    if let Some(max) = t.max_rtt_each {
        match rtt {
            Some(r) if r.max <= max => {}
            Some(r) => broken.push(format!(
                "--max-rtt-each {}: the slowest round trip was {}",
                fmt(max),
                fmt(r.max)
            )),
            None => broken.push(format!(
                "--max-rtt-each {}: no reply came back to measure",
                fmt(max)
            )),
        }
    }
    broken
}

/// One answer matched to its probe, counted in `stats`: the event that reports it. Shared by
/// the WebSocket pings and the socket.io emits.
fn count_match(stats: &mut ProbeStats, m: PongMatch, size: usize) -> PingEvent {
    match m {
        PongMatch::Reply { seq, rtt } => {
            stats.received += 1;
            stats.rtt.record(rtt);
            PingEvent::Reply { seq, size, rtt }
        }
        PongMatch::Late { seq, rtt } => {
            stats.late += 1;
            PingEvent::Late { seq, size, rtt }
        }
        PongMatch::Duplicate { seq } => {
            stats.duplicate += 1;
            PingEvent::Duplicate { seq, size }
        }
        PongMatch::Unsolicited => {
            stats.unsolicited += 1;
            PingEvent::Unsolicited { size }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(sent: u64, rtts_us: &[u64]) -> ProbeStats {
        let mut s = ProbeStats {
            sent,
            received: rtts_us.len() as u64,
            ..Default::default()
        };
        for us in rtts_us {
            s.rtt.record(Duration::from_micros(*us));
        }
        s
    }

    #[test]
    fn thresholds_name_what_broke() {
        let t = Thresholds {
            max_loss: Some(0.0),
            max_rtt: Some(Duration::from_millis(1)),
            max_rtt_each: Some(Duration::from_millis(1)),
            min_replies: Some(3),
        };
        assert!(broken_thresholds(&t, &stats(2, &[100, 200])).len() == 1);
        let b = broken_thresholds(&t, &stats(3, &[100, 5000]));
        assert!(b[0].starts_with("--max-loss 0%"), "{b:?}");
        assert!(b.iter().any(|m| m.starts_with("--min-replies 3")));
        assert!(b.iter().any(|m| m.starts_with("--max-rtt 1.00 ms")));
        assert!(b.iter().any(|m| m.starts_with("--max-rtt-each")));
        assert!(broken_thresholds(&Thresholds::default(), &stats(5, &[])).is_empty());
    }

    #[test]
    fn rtt_thresholds_fail_without_replies() {
        let t = Thresholds {
            max_rtt: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        assert_eq!(broken_thresholds(&t, &stats(4, &[])).len(), 1);
    }
}
