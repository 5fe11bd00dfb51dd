//! A connection that survives: heartbeat, reconnect with backoff, buffered replay, against a
//! real server (Python `websockets`) and a hand-written misbehaving one
//! (`tests/peers/resilience/server.py`) that can be killed and restarted on the same port.

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use crate::common::*;
use serde_json::Value;

const T: Duration = OBS_TIMEOUT;

/// `wsbeat connect URL --json ARGS...`, run to its end.
fn connect_json(url: &str, args: &[&str]) -> std::process::Output {
    run(wsbeat().args(["connect", url, "--json"]).args(args))
}

/// How many `heartbeat` events carry an rtt: the heartbeats that were answered.
fn answered_heartbeats(events: &[Value]) -> usize {
    of_type(events, "heartbeat")
        .into_iter()
        .filter(|e| e["rtt"].is_number())
        .count()
}

/// wsbeat running in the background with `--json`: stdin is ours to write and close, stdout
/// events are read as they come so that the test can wait for them instead of sleeping.
pub(super) struct Client {
    proc: Proc,
    events: Vec<Value>,
}

impl Client {
    pub(super) fn start(url: &str, args: &[&str]) -> Client {
        let mut cmd = wsbeat();
        cmd.arg("connect").arg(url).arg("--json").args(args);
        Client {
            proc: Proc::spawn_with_stdin("wsbeat connect", &mut cmd),
            events: Vec::new(),
        }
    }

    pub(super) fn line(&mut self, line: &str) {
        self.proc.write_stdin(format!("{line}\n").as_bytes());
    }

    pub(super) fn close_stdin(&mut self) {
        self.proc.close_stdin();
    }

    /// Reads events until one satisfies `pred`; returns it.
    #[track_caller]
    pub(super) fn wait_for(&mut self, what: &str, mut pred: impl FnMut(&Value) -> bool) -> Value {
        if let Some(v) = self.events.iter().find(|v| pred(v)) {
            return v.clone();
        }
        let deadline = Instant::now() + T;
        loop {
            match self.proc.out.next(self.events.len(), deadline) {
                Ok(line) => {
                    let v = Schema::Connect
                        .parse_line(&line)
                        .unwrap_or_else(|e| panic!("schema: {e}: {line}"));
                    self.events.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Err(NoLine::Timeout) => {
                    panic!("no {what} within {T:?}; events so far: {:#?}", self.events)
                }
                Err(NoLine::Eof) => {
                    panic!("wsbeat ended before {what}; events: {:#?}", self.events)
                }
            }
        }
    }

    pub(super) fn wait_type(&mut self, ty: &str) -> Value {
        self.wait_for(ty, |v| v["type"] == ty)
    }

    /// Waits for exit (bounded) and returns the status, every event (each checked against the
    /// schema) and stderr.
    pub(super) fn finish(mut self) -> (ExitStatus, Vec<Value>, String) {
        let status = self.proc.finish(RUN_TIMEOUT);
        let events = self
            .proc
            .out
            .snapshot()
            .iter()
            .map(|l| {
                Schema::Connect
                    .parse_line(l)
                    .unwrap_or_else(|e| panic!("schema: {e}: {l}"))
            })
            .collect();
        let stderr = String::from_utf8_lossy(&self.proc.err.bytes()).into_owned();
        (status, events, stderr)
    }
}

pub(super) fn texts<'a>(events: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    events
        .into_iter()
        .filter_map(|v| v["data"].as_str().or(v["text"].as_str()))
        .map(str::to_string)
        .collect()
}

// ------------------------------------------------------------------ heartbeat

#[test]
fn heartbeat_detects_a_peer_that_stops_answering_within_interval_plus_timeout() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::resilience(&["--ignore-pings"]);
    let o = connect_json(
        peer.url(),
        &[
            "--heartbeat",
            "300ms",
            "--heartbeat-timeout",
            "300ms",
            "--wait",
            "forever",
        ],
    );
    assert_exit(&o, 6);
    let events = parse_ndjson(Schema::Connect, &o);
    let opened = of_type(&events, "opened")[0]["ts"].as_f64().unwrap();
    let dead = of_type(&events, "heartbeat_timeout");
    assert_eq!(dead.len(), 1, "{}", describe(&o));
    let at = dead[0]["ts"].as_f64().unwrap() - opened;
    // Quiet for the interval, then unanswered for the timeout: 0.6 s, plus scheduling slack.
    assert!(
        (0.55..1.5).contains(&at),
        "declared dead {at:.3}s after connecting\n{}",
        describe(&o)
    );
    assert!(dead[0]["waited"].as_f64().unwrap() >= 0.29);
    assert_contains(&stderr_of(&o), "heartbeat timeout after", &o);
    let closed = of_type(&events, "closed");
    assert_eq!(closed.len(), 1, "{}", describe(&o));
    assert_eq!(closed[0]["code"], 1006);
    // Never two pings outstanding: one probe, no answer, dead.
    peer.wait_event("closed", T);
    assert_eq!(peer.events("ping").len(), 1, "{}", peer.diagnostics());
}

#[test]
fn heartbeat_pings_keep_a_quiet_connection_and_measure_rtt() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let o = connect_json(peer.url(), &["--heartbeat", "150ms", "--wait", "1s"]);
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let answered = answered_heartbeats(&events);
    assert!(answered >= 2, "{}", describe(&o));
    assert!(of_type(&events, "heartbeat_timeout").is_empty());
    assert_eq!(of_type(&events, "closed")[0]["code"], 1000);
}

#[test]
fn text_heartbeat_answers_are_not_shown_as_data() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::resilience(&["--answer", "ping=pong"]);
    let o = connect_json(
        peer.url(),
        &[
            "--heartbeat",
            "150ms",
            "--heartbeat-text",
            "ping",
            "--heartbeat-expect",
            "^pong$",
            "--wait",
            "1s",
        ],
    );
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    assert!(
        of_type(&events, "received").is_empty(),
        "heartbeat answers leaked as data\n{}",
        describe(&o)
    );
    let answered = answered_heartbeats(&events);
    assert!(answered >= 2, "{}", describe(&o));
    peer.wait_event("closed", T);
    assert!(
        texts(&peer.events("message")).iter().all(|t| t == "ping") && answered >= 2,
        "{}",
        peer.diagnostics()
    );
}

// ------------------------------------------------------------------ reconnect

#[test]
fn server_restarted_on_the_same_port_gets_preamble_and_buffered_lines_in_order() {
    if !require_peer("python") {
        return;
    }
    let mut first = Peer::resilience(&[]);
    let port = first.port().to_string();
    let mut client = Client::start(
        first.url(),
        &[
            "--reconnect",
            "--backoff",
            "100ms..300ms",
            "--max-reconnects",
            "30",
            "--send",
            "auth:secret",
            "--wait",
            "300ms",
        ],
    );
    client.line("one");
    first.observations_until(|v| v["data"] == "one", T);
    drop(first); // killed: the client sees the connection end

    client.wait_type("reconnecting");
    // Typed while the connection is down: kept, not written into a dead socket.
    client.line("two");
    client.line("three");
    client.wait_for("two buffered", |v| {
        v["type"] == "buffered" && v["queued"] == 2
    });

    let mut second = Peer::resilience(&["--port", &port]);
    let reconnected = client.wait_type("reconnected");
    assert_eq!(reconnected["buffered"], 2);
    second.observations_until(|v| v["data"] == "three", T);
    client.close_stdin();
    let (status, events, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}\n{events:#?}");

    assert_eq!(
        texts(&second.events("message")),
        ["auth:secret", "two", "three"],
        "preamble first, then the buffer in order\n{}",
        second.diagnostics()
    );
    assert_eq!(second.events("connect").len(), 1);
    let sent = texts(of_type(&events, "sent"));
    assert_eq!(sent, ["auth:secret", "one", "auth:secret", "two", "three"]);
    assert!(of_type(&events, "buffer_drop").is_empty(), "{events:#?}");
    let attempts = of_type(&events, "reconnecting");
    assert!(!attempts.is_empty());
    for (i, a) in attempts.iter().enumerate() {
        assert_eq!(a["attempt"], i as u64 + 1, "attempts count up: {events:#?}");
        assert!(
            a["delay"].as_f64().unwrap() <= 0.3 + 1e-6,
            "backoff capped: {a}"
        );
    }
    // Every failed attempt was reported before the successful one.
    assert_eq!(
        of_type(&events, "reconnect_failed").len(),
        attempts.len() - 1,
        "{events:#?}"
    );
}

#[test]
fn server_that_never_comes_back_gives_up_after_n_attempts_and_reports_unsent_lines() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::resilience(&[]);
    let mut client = Client::start(
        peer.url(),
        &[
            "--reconnect",
            "--backoff",
            "300ms..600ms",
            "--max-reconnects",
            "3",
            "--buffer",
            "1",
            "--buffer-overflow",
            "drop-oldest",
            "--wait",
            "forever",
        ],
    );
    client.line("hello");
    peer.observations_until(|v| v["data"] == "hello", T);
    drop(peer);
    client.wait_type("reconnecting");
    client.line("lost-1");
    client.line("lost-2");
    let (status, events, stderr) = client.finish();
    assert_eq!(status.code(), Some(6), "{stderr}\n{events:#?}");
    assert!(stderr.contains("gave up reconnecting"), "{stderr}");
    assert_eq!(of_type(&events, "reconnect_failed").len(), 3, "{events:#?}");
    assert_eq!(of_type(&events, "reconnecting").len(), 3, "{events:#?}");
    // Nothing typed is silently lost: the one pushed out of the full buffer and the one still
    // in it at the end are both reported.
    let dropped = texts(of_type(&events, "buffer_drop"));
    assert_eq!(dropped, ["lost-1", "lost-2"], "{events:#?}");
}

#[test]
fn close_frame_and_tcp_reset_together_start_one_reconnect() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::resilience(&["--close-and-reset-after", "1"]);
    let mut client = Client::start(
        peer.url(),
        &[
            "--reconnect",
            "--backoff",
            "100ms..200ms",
            "--wait",
            "300ms",
        ],
    );
    client.line("first");
    client.wait_type("reconnected");
    client.line("second");
    peer.observations_until(|v| v["data"] == "second", T);
    client.close_stdin();
    let (status, events, stderr) = client.finish();
    assert_eq!(status.code(), Some(0), "{stderr}\n{events:#?}");
    assert_eq!(of_type(&events, "reconnecting").len(), 1, "{events:#?}");
    assert_eq!(of_type(&events, "reconnected").len(), 1, "{events:#?}");
    assert_eq!(of_type(&events, "opened").len(), 2, "{events:#?}");
    peer.wait_event("closed", T);
    assert_eq!(
        peer.events("connect").len(),
        2,
        "one reconnect, not two\n{}",
        peer.diagnostics()
    );
}

#[test]
fn without_reconnect_a_lost_connection_ends_the_session() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--drop-after", "1"]);
    let o = run_with_stdin(
        wsbeat().args(["connect", peer.url(), "--json", "--wait", "forever"]),
        b"bye\n",
    );
    assert_exit(&o, 6);
    let events = parse_ndjson(Schema::Connect, &o);
    assert!(
        of_type(&events, "reconnecting").is_empty(),
        "{}",
        describe(&o)
    );
}

#[test]
fn bad_backoff_and_heartbeat_flags_are_usage_errors() {
    for args in [
        &["--reconnect", "--backoff", "2s..1s"][..],
        &["--heartbeat-timeout", "1s"],
        &["--heartbeat", "0s"],
        &["--heartbeat", "1s", "--heartbeat-text", "ping"],
        &[
            "--heartbeat",
            "1s",
            "--heartbeat-text",
            "p",
            "--heartbeat-expect",
            "(",
        ],
    ] {
        let o = run(wsbeat().args(["connect", "ws://127.0.0.1:9/"]).args(args));
        assert_exit(&o, 2);
    }
}
