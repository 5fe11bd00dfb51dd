//! How the session reacts to what `wait` saw: data and control frames, heartbeat deadlines,
//! the end of a connection (reconnect or give up), and the outcome of an attempt (replay).

use super::*;

impl<S: AsyncRead + AsyncWrite + SendQueue + Unpin + Send + 'static> Session<S> {
    pub(super) async fn on_inbound(&mut self, out: &mut dyn EventSink, inbound: Incoming) -> Step {
        let now = now();
        match inbound {
            Incoming::Message {
                kind,
                payload,
                wire,
            } => {
                if let Some(hb) = &mut self.heartbeat {
                    let text = (kind == DataKind::Text).then(|| String::from_utf8_lossy(&payload));
                    let answered = match text {
                        Some(t) => hb.on_text(&t, now),
                        None => {
                            hb.on_traffic(now);
                            None
                        }
                    };
                    if let Some(rtt) = answered {
                        // The answer to our text heartbeat is not data for the user.
                        self.stats.last_rtt = Some(rtt);
                        out.emit(Event::Heartbeat {
                            seq: self.heartbeat_seq.take(),
                            rtt: Some(rtt),
                        });
                        return Step::Nothing;
                    }
                }
                self.stats.recv_messages += 1;
                self.stats.recv_bytes += payload.len() as u64;
                self.stats.recv_wire += wire.len;
                out.emit(Event::Received {
                    kind,
                    payload: payload.clone(),
                    wire,
                });
                Step::Data { kind, payload }
            }
            Incoming::Ping(p) => {
                if let Some(hb) = &mut self.heartbeat {
                    hb.on_traffic(now);
                }
                out.emit(Event::Ping {
                    outbound: false,
                    len: p.len(),
                    seq: None,
                });
                // The connection has answered it already.
                out.emit(Event::Pong {
                    outbound: true,
                    len: p.len(),
                    seq: None,
                    rtt: None,
                });
                Step::Nothing
            }
            Incoming::Pong(p) => {
                self.on_pong(out, p, now);
                Step::Nothing
            }
            Incoming::Closed { close, error } => {
                if let State::Up(conn) = &mut self.state {
                    conn.finish().await;
                }
                self.on_closed(out, close, error, true)
            }
        }
    }

    fn on_pong(&mut self, out: &mut dyn EventSink, p: Bytes, now: Instant) {
        let len = p.len();
        // Our own probes first (/ping, --ping-interval), then the heartbeat's.
        let (seq, rtt) = match self.tracker.on_pong(&p, now) {
            PongMatch::Reply { seq, rtt } | PongMatch::Late { seq, rtt } => (Some(seq), Some(rtt)),
            PongMatch::Duplicate { seq } => (Some(seq), None),
            PongMatch::Unsolicited => {
                if let Some(i) = self.custom_pings.iter().position(|(c, _)| *c == p) {
                    let (_, sent) = self.custom_pings.remove(i).unwrap_or((p.clone(), now));
                    (None, Some(now - sent))
                } else if let Some(rtt) = self.heartbeat.as_mut().and_then(|h| h.on_pong(&p, now)) {
                    self.stats.last_rtt = Some(rtt);
                    out.emit(Event::Heartbeat {
                        seq: self.heartbeat_seq.take(),
                        rtt: Some(rtt),
                    });
                    return;
                } else {
                    (None, None)
                }
            }
        };
        if let Some(rtt) = rtt {
            self.stats.last_rtt = Some(rtt);
            // An answered ping proves the peer alive as well as a heartbeat would.
            if let Some(hb) = &mut self.heartbeat {
                hb.on_traffic(now);
            }
        }
        out.emit(Event::Pong {
            outbound: false,
            len,
            seq,
            rtt,
        });
    }

    pub(super) async fn on_heartbeat_due(&mut self, out: &mut dyn EventSink) -> Step {
        let Some(hb) = &mut self.heartbeat else {
            return Step::Nothing;
        };
        let action = hb.poll(now());
        let State::Up(conn) = &mut self.state else {
            return Step::Nothing;
        };
        let sent = match action {
            Action::Wait => return Step::Nothing,
            Action::Send(Probe::Ping { seq, payload }) => {
                self.heartbeat_seq = Some(seq);
                conn.ping(&payload).await
            }
            Action::Send(Probe::Text(text)) => {
                self.heartbeat_seq = None;
                conn.send(DataKind::Text, text.as_bytes(), None)
                    .await
                    .map(|_| ())
            }
            Action::Dead { waited } => {
                out.emit(Event::HeartbeatTimeout { waited });
                // The peer is gone: no closing handshake to wait for, drop the socket.
                let mut close = CloseEvent::abnormal(format!(
                    "heartbeat timeout after {}",
                    humantime::format_duration(round_ms(waited))
                ));
                close.initiator = Initiator::Client;
                let error = Error::new(
                    ErrorKind::HeartbeatTimeout,
                    format!(
                        "heartbeat timeout after {}: the peer did not answer",
                        humantime::format_duration(round_ms(waited))
                    ),
                );
                // The HeartbeatTimeout event already said it: the error only sets the exit code.
                return self.on_closed(out, close, Some(error), false);
            }
        };
        match sent {
            Ok(()) => {
                out.emit(Event::Heartbeat {
                    seq: self.heartbeat_seq,
                    rtt: None,
                });
                Step::Nothing
            }
            // A failed write means the connection is gone; the next recv reports how.
            Err(_) => Step::Nothing,
        }
    }

    /// The connection ended. Exactly one transition out of `Up` happens here, so a Close frame
    /// and a TCP error arriving together (or a heartbeat death racing a close) start at most
    /// one reconnect; the `Reconnector` gate enforces the same again.
    pub(super) fn on_closed(
        &mut self,
        out: &mut dyn EventSink,
        close: CloseEvent,
        error: Option<Error>,
        report_error: bool,
    ) -> Step {
        let expected = self.cfg.expect_drop
            && close.code == crate::ws::proto::close::ABNORMAL
            && close.initiator == Initiator::None
            && error
                .as_ref()
                .is_none_or(|e| e.kind() == ErrorKind::Abnormal);
        if let Some(e) = error.as_ref().filter(|_| report_error && !expected) {
            out.emit(Event::Error(e.clone()));
        }
        out.emit(Event::Closed(close.clone()));
        self.unconfirmed_at_loss(out);
        self.last_close = close.clone();
        self.stats.connected_at = None;
        self.state = State::Ended;
        if self.user_closing {
            self.end(out, close, error);
        } else if self.manual_reconnect {
            self.manual_reconnect = false;
            self.start_attempt(1);
        } else if let Some(r) = &mut self.reconnector {
            match r.lost() {
                Some((attempt, delay)) => self.wait_for(out, attempt, delay),
                None => self.end(out, close, error),
            }
        } else {
            self.end(out, close, error);
        }
        match self.ending.take() {
            Some((close, error)) => Step::Ended { close, error },
            None => Step::Nothing,
        }
    }

    /// Ask the kernel, while the lost connection's socket still exists, what it never got
    /// acknowledged; report those messages, and keep them to send again when asked to.
    fn unconfirmed_at_loss(&mut self, out: &mut dyn EventSink) {
        let State::Up(conn) = &self.state else {
            return;
        };
        let Some(lost) = self.sent_log.take_unconfirmed(conn.unacked()) else {
            return;
        };
        // Resent only if there will be another connection to send them on.
        let resend = self.cfg.resend_unconfirmed
            && !self.user_closing
            && (self.manual_reconnect || self.reconnector.is_some());
        out.emit(Event::Unconfirmed {
            count: lost.items.len(),
            bytes: lost.bytes,
            first: lost.items.first().map(|(seq, _)| *seq),
            last: lost.items.last().map(|(seq, _)| *seq),
            more: lost.more,
            resend,
        });
        if resend {
            // The preamble goes out again anyway; what is still waiting from an earlier loss
            // was sent after these, so it follows them.
            let mut again: VecDeque<Outgoing> = lost
                .items
                .into_iter()
                .filter(|(_, s)| s.origin != Origin::Preamble)
                .map(|(_, s)| s.msg)
                .collect();
            again.append(&mut self.resend);
            self.resend = again;
        }
    }

    fn wait_for(&mut self, out: &mut dyn EventSink, attempt: u32, delay: Duration) {
        let max = self.reconnector.as_ref().map_or(1, |r| r.max_attempts);
        out.emit(Event::Reconnecting {
            attempt,
            max,
            delay,
        });
        self.state = State::Waiting {
            attempt,
            at: now() + delay,
        };
    }

    pub(super) fn start_attempt(&mut self, attempt: u32) {
        self.state = State::Opening {
            attempt,
            fut: self.opener.open(),
        };
    }

    pub(super) async fn on_attempt(
        &mut self,
        out: &mut dyn EventSink,
        attempt: u32,
        result: Result<(Connection<S>, Handshake), Error>,
    ) -> Step {
        let (ws, hs) = match result {
            Ok(pair) => pair,
            Err(error) => {
                out.emit(Event::ReconnectFailed {
                    attempt,
                    error: error.clone(),
                });
                self.state = State::Ended;
                let next = self.reconnector.as_mut().and_then(|r| {
                    // A manual attempt outside a reconnect series starts one.
                    if r.link() == crate::client::reconnect::Link::Up {
                        r.lost()
                    } else {
                        r.failed()
                    }
                });
                match next {
                    Some((attempt, delay)) => self.wait_for(out, attempt, delay),
                    None => {
                        let tried = self.reconnector.as_ref().map_or(1, |r| r.max_attempts);
                        let e = Error::new(
                            ErrorKind::Abnormal,
                            format!(
                                "gave up reconnecting to {} after {tried} failed attempt(s); last: {}",
                                self.cfg.conn.target.url(),
                                error.message()
                            ),
                        );
                        out.emit(Event::Error(e.clone()));
                        let close = self.last_close.clone();
                        self.end(out, close, Some(e));
                    }
                }
                return match self.ending.take() {
                    Some((close, error)) => Step::Ended { close, error },
                    None => Step::Nothing,
                };
            }
        };
        self.stats.subprotocol = hs.subprotocol.clone();
        self.stats.connected_at = Some(now());
        self.stats.reconnects += 1;
        for r in &hs.redirects {
            out.emit(Event::Redirected(r.clone()));
        }
        out.emit(Event::Opened(Box::new(hs)));
        self.state = State::Up(Box::new(ws));
        if let Some(r) = &mut self.reconnector {
            r.succeeded();
        }
        if let Some(cfg) = &self.cfg.heartbeat {
            self.heartbeat = Some(Heartbeat::new(cfg.clone(), now()));
            self.heartbeat_seq = None;
        }
        out.emit(Event::Reconnected {
            attempt,
            buffered: self.buffer.len(),
        });
        self.sent_log.clear();
        // Authentication and subscriptions first, then what the lost connection may not have
        // delivered, then what was typed while we were away.
        if self.send_preamble(out).await.is_err() {
            return Step::Nothing; // recv reports the loss
        }
        if !self.cfg.hold_replay {
            self.replay(out).await;
        }
        Step::Reconnected
    }

    /// The session is over: report what will never be sent, then remember the ending.
    pub(super) fn end(&mut self, out: &mut dyn EventSink, close: CloseEvent, error: Option<Error>) {
        // Announced as to be sent again: say that they were not.
        while let Some(msg) = self.resend.pop_front() {
            out.emit(Event::BufferDrop {
                kind: msg.kind,
                payload: msg.payload,
                why: "possibly lost, and the session ended before it could be sent again".into(),
            });
        }
        while let Some(msg) = self.buffer.pop_front() {
            out.emit(Event::BufferDrop {
                kind: msg.kind,
                payload: msg.payload,
                why: "the session ended before the connection came back".into(),
            });
        }
        self.state = State::Ended;
        self.ending = Some((close, error));
    }
}
