//! Client-side heartbeat as a state machine without I/O: the caller asks when to wake up,
//! reports traffic and pongs, and is told to send a probe or that the peer is dead. TCP
//! keepalive takes minutes and the application never hears of it; this takes one interval.

use crate::client::pings;
use bytes::Bytes;
use regex::Regex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum HeartbeatMode {
    /// RFC 6455 Ping frames with a numbered payload.
    Ping,
    /// An application-level text message, for servers (and browsers) that cannot use Ping
    /// frames; a received text matching `expect` is the answer.
    Text { payload: String, expect: Regex },
}

#[derive(Debug, Clone)]
pub struct HeartbeatConfig {
    /// Quiet time after the last received traffic before we probe.
    pub interval: Duration,
    /// How long a probe may go unanswered before the peer is declared dead.
    pub timeout: Duration,
    pub mode: HeartbeatMode,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    Ping { seq: u64, payload: Bytes },
    Text(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Send(Probe),
    /// No answer within the timeout: the connection must be ended (or replaced).
    Dead {
        waited: Duration,
    },
    Wait,
}

/// A heartbeat that owns its configuration: what `connect` keeps.
#[derive(Debug)]
pub struct Heartbeat {
    cfg: HeartbeatConfig,
    st: HeartbeatState,
}

impl Heartbeat {
    pub fn new(cfg: HeartbeatConfig, now: Instant) -> Self {
        Heartbeat {
            cfg,
            st: HeartbeatState::new(now),
        }
    }

    pub fn config(&self) -> &HeartbeatConfig {
        &self.cfg
    }

    pub fn last_rtt(&self) -> Option<Duration> {
        self.st.last_rtt
    }

    pub fn on_traffic(&mut self, now: Instant) {
        self.st.on_traffic(now);
    }

    pub fn on_pong(&mut self, payload: &[u8], now: Instant) -> Option<Duration> {
        self.st.on_pong(payload, now)
    }

    pub fn on_text(&mut self, text: &str, now: Instant) -> Option<Duration> {
        self.st.on_text(&self.cfg, text, now)
    }

    pub fn next_deadline(&self) -> Instant {
        self.st.next_deadline(&self.cfg)
    }

    pub fn poll(&mut self, now: Instant) -> Action {
        self.st.poll(&self.cfg, now)
    }
}

/// A heartbeat's state without its configuration, for callers that keep one configuration
/// for many connections (soak: 64 bytes a connection instead of 64 plus a copy of the
/// configuration, whose text mode holds a `String` and a `Regex`).
#[derive(Debug)]
pub struct HeartbeatState {
    last_rx: Instant,
    /// The one probe in flight: never two, so a slow peer is not flooded.
    outstanding: Option<(u64, Instant)>,
    next_seq: u64,
    last_rtt: Option<Duration>,
}

impl HeartbeatState {
    pub fn new(now: Instant) -> Self {
        HeartbeatState {
            last_rx: now,
            outstanding: None,
            next_seq: 1,
            last_rtt: None,
        }
    }

    /// Any message from the peer proves it is alive; an open probe counts as answered.
    pub fn on_traffic(&mut self, now: Instant) {
        self.last_rx = now;
        self.outstanding = None;
    }

    /// A Pong frame. Returns the round trip when it answers our probe.
    pub fn on_pong(&mut self, payload: &[u8], now: Instant) -> Option<Duration> {
        let (seq, sent) = self.outstanding?;
        if payload.len() >= pings::MIN_SIZE && payload[..8] == seq.to_be_bytes() {
            let rtt = now - sent;
            self.last_rtt = Some(rtt);
            self.on_traffic(now);
            return Some(rtt);
        }
        // An unsolicited pong is still traffic from a live peer.
        self.last_rx = now;
        None
    }

    /// A text message. Returns the round trip when it is the answer to our text probe; the
    /// caller decides whether such answers are shown as data.
    pub fn on_text(&mut self, cfg: &HeartbeatConfig, text: &str, now: Instant) -> Option<Duration> {
        let answered = match (&cfg.mode, self.outstanding) {
            (HeartbeatMode::Text { expect, .. }, Some((_, sent))) if expect.is_match(text) => {
                Some(now - sent)
            }
            _ => None,
        };
        if let Some(rtt) = answered {
            self.last_rtt = Some(rtt);
        }
        self.on_traffic(now);
        answered
    }

    /// When `poll` has something to do next.
    pub fn next_deadline(&self, cfg: &HeartbeatConfig) -> Instant {
        match self.outstanding {
            Some((_, sent)) => sent + cfg.timeout,
            None => self.last_rx + cfg.interval,
        }
    }

    pub fn poll(&mut self, cfg: &HeartbeatConfig, now: Instant) -> Action {
        if let Some((_, sent)) = self.outstanding {
            let waited = now.saturating_duration_since(sent);
            return if waited >= cfg.timeout {
                Action::Dead { waited }
            } else {
                Action::Wait
            };
        }
        if now < self.last_rx + cfg.interval {
            return Action::Wait;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.outstanding = Some((seq, now));
        Action::Send(match &cfg.mode {
            HeartbeatMode::Ping => Probe::Ping {
                seq,
                payload: pings::payload(seq, 16),
            },
            HeartbeatMode::Text { payload, .. } => {
                Probe::Text(payload.replace("{seq}", &seq.to_string()))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn ping_cfg() -> HeartbeatConfig {
        HeartbeatConfig {
            interval: ms(100),
            timeout: ms(50),
            mode: HeartbeatMode::Ping,
        }
    }

    #[test]
    fn probes_after_quiet_interval_and_declares_death_after_timeout() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ping_cfg(), t0);
        assert_eq!(hb.poll(t0 + ms(99)), Action::Wait);
        assert_eq!(hb.next_deadline(), t0 + ms(100));
        let Action::Send(Probe::Ping { seq, .. }) = hb.poll(t0 + ms(100)) else {
            panic!("expected a ping");
        };
        assert_eq!(seq, 1);
        // Never a second probe while one is open.
        assert_eq!(hb.poll(t0 + ms(120)), Action::Wait);
        assert_eq!(hb.next_deadline(), t0 + ms(150));
        assert_eq!(hb.poll(t0 + ms(150)), Action::Dead { waited: ms(50) });
    }

    #[test]
    fn matching_pong_or_any_traffic_keeps_it_alive() {
        let t0 = Instant::now();
        let mut hb = Heartbeat::new(ping_cfg(), t0);
        let Action::Send(Probe::Ping { payload, .. }) = hb.poll(t0 + ms(100)) else {
            panic!("expected a ping");
        };
        assert_eq!(hb.on_pong(b"unrelated payload", t0 + ms(110)), None);
        assert_eq!(hb.on_pong(&payload, t0 + ms(120)), Some(ms(20)));
        assert_eq!(hb.last_rtt(), Some(ms(20)));
        assert_eq!(hb.next_deadline(), t0 + ms(220));
        assert!(matches!(hb.poll(t0 + ms(220)), Action::Send(_)));
        hb.on_traffic(t0 + ms(230));
        assert_eq!(
            hb.poll(t0 + ms(300)),
            Action::Wait,
            "traffic answered the probe"
        );
    }

    #[test]
    fn text_mode_substitutes_seq_and_matches_the_reply() {
        let t0 = Instant::now();
        let cfg = HeartbeatConfig {
            mode: HeartbeatMode::Text {
                payload: r#"{"type":"ping","seq":{seq}}"#.into(),
                expect: Regex::new("pong").unwrap(),
            },
            ..ping_cfg()
        };
        let mut hb = Heartbeat::new(cfg, t0);
        assert_eq!(
            hb.poll(t0 + ms(100)),
            Action::Send(Probe::Text(r#"{"type":"ping","seq":1}"#.into()))
        );
        assert_eq!(hb.on_text("something else", t0 + ms(105)), None);
        assert!(matches!(hb.poll(t0 + ms(205)), Action::Send(_)));
        assert_eq!(hb.on_text("pong", t0 + ms(215)), Some(ms(10)));
    }
}
