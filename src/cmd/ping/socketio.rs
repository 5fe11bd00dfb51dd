//! `ping --socketio`: one socket.io connection, many emits, each timed to its ack; and
//! `ping --engineio`: the same connection sending nothing but pongs, timing the gaps between
//! the server's Engine.IO pings. A client cannot see when the server meant to ping, so that
//! mode measures the interval between pings as they arrive here (the server's timer plus the
//! network's variation), and its mdev is their jitter.
//!
//! Both speak through `sio::client` (pongs, namespace join, ack ids, the ping deadline) and
//! report in ping's own terms: an ack is a reply, a server ping in `--engineio` a reply whose
//! time is the interval since the previous one.

use super::schedule::Schedule;
use super::{Out, Outcome, PingConfig, Probe};
use crate::client::pings::{MIN_SIZE, PingTracker, PongMatch};
use crate::error::{Error, ErrorKind, escape_controls};
use crate::event::Event;
use crate::render::ping::{Ended, PingEvent};
use crate::signals::Shutdown;
use crate::sio::client::{Client, Limits, Outbound, SioEvent};
use crate::stats::probes::ProbeStats;
use crate::ws::connection::Incoming;
use crate::ws::open;
use crate::ws::open::ClientConnection as Conn;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{CloseEvent, Initiator};
use crate::ws::proto::endpoint::CLOSE_TIMEOUT;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `Err` only when the connection could not be opened or the namespace refused us.
pub(super) async fn run(
    cfg: &PingConfig,
    out: &mut Out,
    sigint: &mut Shutdown,
) -> Result<Outcome, Error> {
    let (namespace, auth, event) = match &cfg.probe {
        Probe::SocketIo {
            event,
            namespace,
            auth,
        } => (namespace, auth, Some(event.as_str())),
        Probe::EngineIo { namespace, auth } => (namespace, auth, None),
        _ => unreachable!("socketio::run runs the socket.io probes"),
    };
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
        client: Client::new(namespace, auth.clone(), Limits::default()),
        event,
        tracker: PingTracker::new(MIN_SIZE),
        acks: HashMap::new(),
        stats: ProbeStats::default(),
        first_probe: None,
    };
    let (ended, closed) = run.probe(&mut conn, out, sigint, deadline).await;
    let stopped = Instant::now();
    let (close, error) = match closed {
        Some((close, error)) => {
            conn.finish().await;
            (close, error)
        }
        None => (run.close(&mut conn).await, None),
    };
    if let Some(e) = &error
        && e.kind() == ErrorKind::SioConnectError
    {
        return Err(e.clone());
    }
    if let Some(e) = &error {
        out.error(e.clone());
    }
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
    client: Client,
    /// `None`: `--engineio`, nothing is emitted.
    event: Option<&'a str>,
    tracker: PingTracker,
    /// Ack id → probe seq, for the emits still waiting.
    acks: HashMap<u64, u64>,
    stats: ProbeStats,
    first_probe: Option<Instant>,
}

type Ending = (CloseEvent, Option<Error>);

impl Run<'_> {
    async fn probe(
        &mut self,
        conn: &mut Conn,
        out: &mut Out,
        sigint: &mut Shutdown,
        deadline: Option<Instant>,
    ) -> (Ended, Option<Ending>) {
        let timeout = self.cfg.timeout;
        let mut schedule = Schedule::new(self.cfg.interval, self.cfg.count, Instant::now());
        let mut deadline_timer = std::pin::pin!(sleep_until(deadline));
        loop {
            if out.gone {
                return (Ended::OutputGone, None);
            }
            if let Some(cutoff) = Instant::now().checked_sub(timeout) {
                let expired = self.tracker.expire(cutoff);
                if !expired.is_empty() {
                    self.acks.retain(|_, seq| !expired.contains(seq));
                }
                for seq in expired {
                    out.emit(PingEvent::Timeout { seq });
                }
            }
            let done = match self.event {
                Some(_) => schedule.exhausted() && self.tracker.outstanding() == 0,
                None => self.cfg.count.is_some_and(|c| self.stats.received >= c),
            };
            if done {
                return (Ended::Count, None);
            }
            // Emits start once the namespace is joined; --engineio sends nothing.
            let send_at = match self.event {
                Some(_) if self.client.joined() => schedule.next(self.tracker.outstanding()),
                _ => None,
            };
            let expire_at = self.tracker.oldest_outstanding().map(|(_, t)| t + timeout);
            let dead_at = self.client.ping_deadline();
            tokio::select! {
                biased;
                inbound = conn.recv() => {
                    if let Some(end) = self.on_inbound(conn, inbound, out).await {
                        return (Ended::Closed, Some(end));
                    }
                }
                _ = sleep_until(send_at) => {
                    if let Err(e) = self.send(conn, &mut schedule).await {
                        return (Ended::Closed, Some(abort(conn, e)));
                    }
                }
                _ = sleep_until(expire_at) => {}
                _ = sleep_until(dead_at) => {
                    let waited = self.client.open_packet().map_or(0, |o| o.ping_interval + o.ping_timeout);
                    let e = Error::new(
                        ErrorKind::PingTimeout,
                        format!(
                            "ping timeout: no Engine.IO ping within pingInterval + pingTimeout ({})",
                            humantime::format_duration(Duration::from_millis(waited))
                        ),
                    );
                    return (Ended::Closed, Some(abort(conn, e)));
                }
                _ = &mut deadline_timer => return (Ended::Deadline, None),
                _ = sigint.recv() => return (Ended::Interrupted, None),
            }
        }
    }

    async fn send(&mut self, conn: &mut Conn, schedule: &mut Schedule) -> Result<(), Error> {
        let now = Instant::now();
        self.first_probe.get_or_insert(now);
        let (seq, _) = self.tracker.start(now);
        schedule.on_sent(now);
        self.stats.sent += 1;
        let event = self.event.unwrap_or("ping");
        let (sends, id) = self
            .client
            .emit(event, vec![serde_json::json!(seq)], true, now)
            .map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))?;
        if let Some(id) = id {
            self.acks.insert(id, seq);
        }
        self.write(conn, sends).await
    }

    async fn write(&mut self, conn: &mut Conn, sends: Vec<Outbound>) -> Result<(), Error> {
        for send in sends {
            let sending = async {
                match &send {
                    Outbound::Text(t) => conn.send(DataKind::Text, t.as_bytes(), None).await,
                    Outbound::Binary(b) => conn.send(DataKind::Binary, b, None).await,
                }
            };
            // A peer that stops reading fills the socket buffers; do not wait on it forever.
            match tokio::time::timeout(self.cfg.timeout.max(CLOSE_TIMEOUT), sending).await {
                Ok(r) => r.map(|_| ())?,
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Abnormal,
                        "could not send: the peer is not reading",
                    ));
                }
            }
        }
        Ok(())
    }

    async fn on_inbound(
        &mut self,
        conn: &mut Conn,
        inbound: Incoming,
        out: &mut Out,
    ) -> Option<Ending> {
        let now = Instant::now();
        let fed = match inbound {
            Incoming::Message { kind, payload, .. } => match kind {
                DataKind::Text => self.client.on_text(&String::from_utf8_lossy(&payload), now),
                DataKind::Binary => self.client.on_binary(&payload, now),
            },
            Incoming::Pong(_) | Incoming::Ping(_) => return None,
            Incoming::Closed { close, error } => return Some((close, error)),
        };
        let output = match fed {
            Ok(o) => o,
            Err(e) => return Some(abort(conn, Error::new(ErrorKind::Protocol, e.to_string()))),
        };
        if let Err(e) = self.write(conn, output.send).await {
            return Some(abort(conn, e));
        }
        for ev in output.events {
            match ev {
                SioEvent::Ping { count, since_last } if self.event.is_none() => {
                    self.first_probe.get_or_insert(now);
                    self.stats.sent += 1;
                    self.stats.received += 1;
                    self.stats.rtt.record(since_last);
                    out.emit(PingEvent::Reply {
                        seq: count,
                        size: 1,
                        rtt: since_last,
                    });
                }
                SioEvent::Ack { id, .. } => {
                    let m = match self.acks.remove(&id) {
                        Some(seq) => self.tracker.on_seq(seq, now),
                        None => PongMatch::Unsolicited,
                    };
                    self.count(m, out);
                }
                SioEvent::ConnectError { namespace, message } => {
                    let e = Error::new(
                        ErrorKind::SioConnectError,
                        format!(
                            "socket.io: namespace {} refused the connection: {}",
                            escape_controls(&namespace, false),
                            escape_controls(&message, false)
                        ),
                    );
                    let _ = conn.close(1000, "").await;
                    let close = tokio::time::timeout(CLOSE_TIMEOUT, conn.closed())
                        .await
                        .map(|(c, _)| c)
                        .unwrap_or_else(|_| CloseEvent::abnormal("closing timed out"));
                    return Some((close, Some(e)));
                }
                SioEvent::Disconnected { namespace } if namespace == self.client.namespace() => {
                    let e = Error::new(
                        ErrorKind::Abnormal,
                        "socket.io: the server left the namespace (io server disconnect)",
                    );
                    let _ = conn.close(1000, "").await;
                    let close = tokio::time::timeout(CLOSE_TIMEOUT, conn.closed())
                        .await
                        .map(|(c, _)| c)
                        .unwrap_or_else(|_| CloseEvent::abnormal("closing timed out"));
                    return Some((close, Some(e)));
                }
                SioEvent::Event { .. } => {
                    self.stats.other += 1;
                    out.emit(PingEvent::Other {
                        kind: DataKind::Text,
                        len: 0,
                    });
                }
                _ => {}
            }
        }
        None
    }

    fn count(&mut self, m: PongMatch, out: &mut Out) {
        // An emit is no sized payload of ours: its size is not reported.
        out.emit(super::count_match(&mut self.stats, m, 0));
    }

    /// Leave the namespace, close with 1000, wait (bounded) for the server's Close.
    async fn close(&mut self, conn: &mut Conn) -> CloseEvent {
        if let Some(bye) = self.client.leave() {
            let _ = self.write(conn, vec![bye]).await;
        }
        if conn.close(1000, "").await.is_err() {
            return CloseEvent::abnormal("could not send a Close frame");
        }
        match tokio::time::timeout(CLOSE_TIMEOUT + Duration::from_secs(1), conn.closed()).await {
            Ok((close, _)) => close,
            Err(_) => {
                let mut close = CloseEvent::abnormal("the closing handshake did not finish");
                close.initiator = Initiator::Client;
                close
            }
        }
    }
}

/// Drop the connection for `e` (a dead server, a broken packet): no Close to wait for.
fn abort(conn: &mut Conn, e: Error) -> Ending {
    conn.endpoint_mut().abort(e.message());
    let mut close = CloseEvent::abnormal(e.message().to_string());
    close.initiator = Initiator::Client;
    (close, Some(e))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
