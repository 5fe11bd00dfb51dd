//! One connection, many probes (Ping frames or application text messages). A single loop
//! selects over the socket, the send schedule, the reply timeout, the deadline and Ctrl-C, so
//! neither a read nor a wait ever holds up a probe.

use super::schedule::Schedule;
use super::{Out, Outcome, PingConfig, Probe};
use crate::client::pings::{MIN_SIZE, PingTracker, PongMatch};
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::render::ping::{Ended, PingEvent};
use crate::signals::Shutdown;
use crate::stats::probes::ProbeStats;
use crate::ws::connection::Incoming;
use crate::ws::open;
use crate::ws::open::ClientConnection as Conn;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{CloseEvent, CloseSpec, Initiator};
use crate::ws::proto::endpoint::CLOSE_TIMEOUT;
use std::time::{Duration, Instant};

/// Below this the tokio timer (1 ms ticks) is too coarse: we yield instead of sleeping.
const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

/// `Err` only when the connection could not be opened.
pub(super) async fn run(
    cfg: &PingConfig,
    out: &mut Out,
    sigint: &mut Shutdown,
) -> Result<Outcome, Error> {
    let deadline = cfg.deadline.map(|d| out.start + d);
    let opened = tokio::select! {
        r = open::open(&cfg.conn) => r,
        _ = sigint.recv() => Err(Error::new(ErrorKind::Interrupted, "interrupted while connecting")),
        _ = sleep_until(deadline) => Err(Error::new(ErrorKind::ConnectTimeout, "-w/--deadline ran out while connecting")),
    };
    let (mut conn, hs) = opened?;
    for r in &hs.redirects {
        out.emit(PingEvent::Core(Event::Redirected(r.clone())));
    }
    out.emit(PingEvent::Core(Event::Opened(Box::new(hs))));
    let mut run = Run {
        cfg,
        tracker: PingTracker::new(match cfg.probe {
            Probe::Frame { size } => size,
            _ => MIN_SIZE,
        }),
        stats: ProbeStats::default(),
        first_probe: None,
    };
    let (ended, closed) = run.probe(&mut conn, out, sigint, deadline).await;
    let stopped = Instant::now();
    let (close, error) = match closed {
        Some((close, error)) => {
            conn.finish().await;
            if let Some(e) = &error {
                out.error(e.clone());
            }
            (close, error)
        }
        None => {
            let (close, error) = run.close(&mut conn, out, sigint).await;
            // Trouble in our own closing handshake does not undo the probes' results.
            if let Some(e) = error {
                out.emit(PingEvent::Core(Event::Warning(format!(
                    "while closing: {}",
                    e.message()
                ))));
            }
            (close, None)
        }
    };
    out.emit(PingEvent::Core(Event::Closed(close.clone())));
    Ok(Outcome {
        stats: run.stats,
        ended,
        close: Some(close),
        error,
        first_probe: run.first_probe,
        stopped,
    })
}

struct Run<'a> {
    cfg: &'a PingConfig,
    tracker: PingTracker,
    stats: ProbeStats,
    first_probe: Option<Instant>,
}

impl Run<'_> {
    /// Probe until the schedule, the deadline, Ctrl-C or the peer ends it. Returns the
    /// CloseEvent (and what broke) when the connection ended on its own.
    async fn probe(
        &mut self,
        conn: &mut Conn,
        out: &mut Out,
        sigint: &mut Shutdown,
        deadline: Option<Instant>,
    ) -> (Ended, Option<(CloseEvent, Option<Error>)>) {
        let timeout = self.cfg.timeout;
        let mut schedule = Schedule::new(self.cfg.interval, self.cfg.count, Instant::now());
        let mut deadline_timer = std::pin::pin!(sleep_until(deadline));
        loop {
            if out.gone {
                return (Ended::OutputGone, None);
            }
            if let Some(cutoff) = Instant::now().checked_sub(timeout) {
                for seq in self.tracker.expire(cutoff) {
                    out.emit(PingEvent::Timeout { seq });
                }
            }
            if schedule.exhausted() && self.tracker.outstanding() == 0 {
                return (Ended::Count, None);
            }
            let send_at = schedule.next(self.tracker.outstanding());
            let expire_at = self.tracker.oldest_outstanding().map(|(_, t)| t + timeout);
            tokio::select! {
                // Replies first: when a pong and a timer are both ready, the pong was earlier.
                biased;
                inbound = conn.recv() => {
                    if let Some(end) = self.on_inbound(inbound, out) {
                        return (Ended::Closed, Some(end));
                    }
                }
                due = wait_until(send_at, self.cfg.interval) => {
                    if !due {
                        continue;
                    }
                    if let Err(e) = self.send(conn, &mut schedule).await {
                        // The probe never left.
                        self.stats.sent -= 1;
                        return (Ended::Closed, Some(broken_while_sending(conn, e).await));
                    }
                }
                _ = sleep_until(expire_at) => {}
                _ = &mut deadline_timer => return (Ended::Deadline, None),
                _ = sigint.recv() => return (Ended::Interrupted, None),
            }
        }
    }

    async fn send(&mut self, conn: &mut Conn, schedule: &mut Schedule) -> Result<(), Error> {
        let now = Instant::now();
        self.first_probe.get_or_insert(now);
        let (seq, payload) = self.tracker.start(now);
        schedule.on_sent(now);
        self.stats.sent += 1;
        let sending = async {
            match &self.cfg.probe {
                Probe::Text { template, .. } => {
                    let text = template.replace("{seq}", &seq.to_string());
                    conn.send(DataKind::Text, text.as_bytes(), None)
                        .await
                        .map(|_| ())
                }
                _ => conn.ping(&payload).await,
            }
        };
        // A peer that stops reading fills the socket buffers; do not wait on it forever.
        match tokio::time::timeout(self.cfg.timeout.max(CLOSE_TIMEOUT), sending).await {
            Ok(r) => r,
            Err(_) => Err(Error::new(
                ErrorKind::Abnormal,
                format!("could not send probe seq={seq}: the peer is not reading"),
            )),
        }
    }

    /// Count a reply or other traffic; `Some` when the connection has ended.
    fn on_inbound(
        &mut self,
        inbound: Incoming,
        out: &mut Out,
    ) -> Option<(CloseEvent, Option<Error>)> {
        let now = Instant::now();
        match inbound {
            Incoming::Pong(p) => self.on_pong(&p, now, out),
            Incoming::Message { kind, payload, .. } => self.on_data(kind, &payload, now, out),
            // The connection has already answered it.
            Incoming::Ping(_) => {}
            Incoming::Closed { close, error } => return Some((close, error)),
        }
        None
    }

    fn on_pong(&mut self, payload: &[u8], now: Instant, out: &mut Out) {
        // In text mode we send no Ping frames, so a Pong is keep-alive noise, not a reply.
        if matches!(self.cfg.probe, Probe::Frame { .. }) {
            let m = self.tracker.on_pong(payload, now);
            self.count(m, payload.len(), out);
        }
    }

    fn on_data(&mut self, kind: DataKind, payload: &[u8], now: Instant, out: &mut Out) {
        let Probe::Text {
            has_seq, expect, ..
        } = &self.cfg.probe
        else {
            self.stats.other += 1;
            out.emit(PingEvent::Other {
                kind,
                len: payload.len(),
            });
            return;
        };
        let text = String::from_utf8_lossy(payload);
        if expect.as_ref().is_some_and(|re| !re.is_match(&text)) {
            self.stats.other += 1;
            out.emit(PingEvent::Other {
                kind,
                len: payload.len(),
            });
            return;
        }
        let named = has_seq
            .then(|| numbers(&text).find(|n| self.tracker.knows(*n)))
            .flatten();
        let m = match named {
            Some(seq) => self.tracker.on_seq(seq, now),
            None => self.tracker.on_next(now),
        };
        self.count(m, payload.len(), out);
    }

    fn count(&mut self, m: PongMatch, size: usize, out: &mut Out) {
        out.emit(super::count_match(&mut self.stats, m, size));
    }

    /// Close with 1000 and wait for the peer's answer, still counting replies that arrive
    /// meanwhile. A second Ctrl-C stops waiting.
    async fn close(
        &mut self,
        conn: &mut Conn,
        out: &mut Out,
        sigint: &mut Shutdown,
    ) -> (CloseEvent, Option<Error>) {
        let spec = CloseSpec::default();
        if let Err(e) = conn.close(spec.code, &spec.reason).await {
            return (
                CloseEvent::abnormal("could not send a Close frame"),
                Some(e),
            );
        }
        // The connection bounds its closing phase; this bounds a peer that keeps talking.
        let limit = sleep_until(Some(
            Instant::now() + CLOSE_TIMEOUT + Duration::from_secs(1),
        ));
        let mut limit = std::pin::pin!(limit);
        loop {
            tokio::select! {
                biased;
                inbound = conn.recv() => {
                    if let Some(end) = self.on_inbound(inbound, out) {
                        conn.finish().await;
                        return end;
                    }
                }
                _ = &mut limit => break,
                _ = sigint.recv() => break,
            }
        }
        let mut close = CloseEvent::abnormal("the closing handshake did not finish");
        close.initiator = Initiator::Client;
        (close, None)
    }
}

/// A send failed: the connection is over. When the peer's Close (already read, its reply
/// pending) explains the failure, report that Close alone; otherwise the send error.
async fn broken_while_sending(conn: &mut Conn, send_error: Error) -> (CloseEvent, Option<Error>) {
    let ending = tokio::time::timeout(CLOSE_TIMEOUT, conn.closed()).await;
    match ending {
        Ok((close, error)) if error.is_some() || close.initiator == Initiator::Server => {
            (close, error)
        }
        Ok((close, _)) => (close, Some(send_error)),
        Err(_) => (
            CloseEvent::abnormal("the connection broke while sending"),
            Some(send_error),
        ),
    }
}

/// Runs of ASCII digits in a reply, as numbers: where an echoed `{seq}` would be.
fn numbers(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .filter_map(|s| s.parse().ok())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Wait for the next send time; true when it has come. With sub-millisecond intervals the
/// last stretch is spent yielding to the runtime (the socket is still served in between)
/// because a timer would round up to the next millisecond; then it returns false early.
async fn wait_until(at: Option<Instant>, interval: Duration) -> bool {
    let Some(at) = at else {
        return std::future::pending().await;
    };
    let now = Instant::now();
    if at <= now {
        return true;
    }
    if interval < 2 * TIMER_RESOLUTION && at - now < TIMER_RESOLUTION {
        tokio::task::yield_now().await;
        false
    } else {
        tokio::time::sleep_until(at.into()).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_replies() {
        let v: Vec<u64> = numbers(r#"{"ts":1700000000,"seq":42}"#).collect();
        assert_eq!(v, vec![1_700_000_000, 42]);
        assert_eq!(numbers("pong").count(), 0);
    }
}
