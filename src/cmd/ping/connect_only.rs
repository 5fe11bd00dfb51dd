//! `--connect-only`: each probe is a whole connection (DNS, TCP, TLS, upgrade, then a clean
//! close with 1000). The "RTT" is the time to an open WebSocket; a failed attempt is a loss.

use super::schedule::Schedule;
use super::{Out, Outcome, PingConfig};
use crate::error::{Error, ErrorKind};
use crate::render::ping::{Ended, PingEvent};
use crate::signals::Shutdown;
use crate::stats::probes::ProbeStats;
use crate::ws::open;
use crate::ws::proto::close::CloseSpec;
use std::time::Instant;

pub(super) async fn run(cfg: &PingConfig, out: &mut Out, sigint: &mut Shutdown) -> Outcome {
    let mut stats = ProbeStats::default();
    let mut schedule = Schedule::new(cfg.interval, cfg.count, Instant::now());
    let deadline = cfg.deadline.map(|d| out.start + d);
    let mut first_probe = None;
    let mut last_error: Option<Error> = None;
    let mut deadline_timer = std::pin::pin!(sleep_until(deadline));
    let ended = loop {
        if out.gone {
            break Ended::OutputGone;
        }
        // One attempt at a time, so `outstanding` is always 0 here.
        let Some(at) = schedule.next(0) else {
            break Ended::Count;
        };
        tokio::select! {
            biased;
            _ = sigint.recv() => break Ended::Interrupted,
            _ = &mut deadline_timer => break Ended::Deadline,
            _ = tokio::time::sleep_until(at.into()) => {}
        }
        let now = Instant::now();
        first_probe.get_or_insert(now);
        schedule.on_sent(now);
        stats.sent += 1;
        let seq = stats.sent;
        let attempt = tokio::select! {
            biased;
            _ = sigint.recv() => break Ended::Interrupted,
            _ = &mut deadline_timer => break Ended::Deadline,
            r = open::open(&cfg.conn) => r,
        };
        match attempt {
            Ok((mut conn, hs)) => {
                stats.received += 1;
                stats.rtt.record(hs.timings.total);
                out.emit(PingEvent::Handshake { seq, handshake: hs });
                // The close is part of being a good client, not of the measurement.
                let spec = CloseSpec::default();
                if conn.close(spec.code, &spec.reason).await.is_ok() {
                    tokio::select! {
                        _ = conn.closed() => {}
                        _ = sigint.recv() => break Ended::Interrupted,
                    }
                }
            }
            Err(e) => {
                out.emit(PingEvent::Failed {
                    seq,
                    error: e.clone(),
                });
                // A usage error (bad TLS name, bad header) will fail every time: stop now.
                if e.kind() == ErrorKind::Usage {
                    last_error = Some(e);
                    break Ended::Closed;
                }
                last_error = Some(e);
            }
        }
    };
    Outcome {
        stats,
        ended,
        close: None,
        error: last_error,
        first_probe,
        stopped: Instant::now(),
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
