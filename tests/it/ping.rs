//! Contract tests for `wsbeat ping URL`, against real peers (Python `websockets`, Node `ws`)
//! and the purpose-built misbehaving servers in `tests/peers/misbehaving.py`.

use std::process::{Command, Output};
use std::time::Duration;

use crate::common::*;
use serde_json::Value;

const T: Duration = OBS_TIMEOUT;

fn ping(url: &str, args: &[&str]) -> Command {
    let mut c = wsbeat();
    c.arg("ping").arg(url).args(args);
    c
}

/// The one `summary` event of a `--json` run (always the last line).
#[track_caller]
fn summary(events: &[Value]) -> Value {
    let s = of_type(events, "summary");
    assert_eq!(s.len(), 1, "want exactly one summary, got {events:#?}");
    assert_eq!(events.last(), Some(s[0]), "the summary should come last");
    s[0].clone()
}

/// Parse `--json` output and check every event against ping's schema.
#[track_caller]
fn events_of(o: &Output) -> Vec<Value> {
    parse_ndjson(Schema::Ping, o)
}

fn seqs(events: &[Value], ty: &str) -> Vec<u64> {
    of_type(events, ty)
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

// ------------------------------------------------------------------ real peers

fn pings_a_real_peer(peer: Peer) {
    let o = run(&mut ping(peer.url(), &["-c", "3", "-i", "20ms"]));
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    let lines: Vec<&str> = out.lines().collect();
    let port = peer.port();
    assert!(
        lines[0].starts_with(&format!(
            "connected to {} (127.0.0.1:{port}, HTTP 101): dns ",
            peer.url()
        )) && lines[0].contains(" tls - upgrade "),
        "handshake line with phase timings\n{}",
        describe(&o)
    );
    for seq in 1..=3 {
        let want = format!("pong from 127.0.0.1:{port}: seq={seq} size=16 time=");
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&want) && l.ends_with(" ms")),
            "missing {want:?}\n{}",
            describe(&o)
        );
    }
    assert!(
        out.contains(&format!("--- {} ping statistics ---", peer.url())),
        "{out}"
    );
    assert_contains(
        &out,
        "3 probes sent, 3 received, 0% loss, 0 late, 0 duplicate, 0 unsolicited, time ",
        &o,
    );
    assert!(out.contains("rtt min/avg/max/mdev = "), "{out}");
    assert!(out.contains("rtt p50/p90/p99 = "), "{out}");
    assert!(stderr_of(&o).is_empty(), "{}", describe(&o));
}

#[test]
fn pings_python_websockets() {
    if !require_peer("python") {
        return;
    }
    pings_a_real_peer(Peer::python(&[]));
}

#[test]
fn pings_node_ws() {
    if !require_peer("node") {
        return;
    }
    pings_a_real_peer(Peer::node(&[]));
}

#[test]
fn json_events_match_the_schema() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let o = run(&mut ping(peer.url(), &["-c", "3", "-i", "10ms", "--json"]));
    assert_exit(&o, 0);
    let events = events_of(&o);
    assert_eq!(events[0]["type"], "opened", "{events:#?}");
    assert_eq!(seqs(&events, "pong"), [1, 2, 3]);
    for p in of_type(&events, "pong") {
        assert_eq!(p["len"], 16);
        assert!(p["rtt"].as_f64().unwrap() > 0.0);
    }
    let closed = of_type(&events, "closed");
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["code"], 1000);
    assert_eq!(closed[0]["initiator"], "client");
    let s = summary(&events);
    assert_eq!(
        (s["sent"].as_u64(), s["received"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(s["loss_percent"], 0.0);
    assert_eq!(s["mode"], "ping");
    assert_eq!(s["ended"], "count");
    let closed = peer.wait_event("closed", T);
    assert_eq!(closed["code"], 1000, "{}", peer.diagnostics());
}

#[test]
fn handshake_options_apply() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--subprotocols", "chat"]);
    let o = run(&mut ping(
        peer.url(),
        &[
            "-c",
            "1",
            "--subprotocol",
            "chat",
            "-H",
            "X-Probe: yes",
            "-s",
            "125",
        ],
    ));
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    assert_contains(&out, ", subprotocol chat", &o);
    assert_contains(&out, "seq=1 size=125 time=", &o);
    let connect = peer.wait_event("connect", T);
    assert_eq!(
        connect["headers"]["x-probe"],
        "yes",
        "{}",
        peer.diagnostics()
    );
    assert_eq!(connect["subprotocol"], "chat");
}

#[test]
fn tls_options_apply() {
    if !require_peer("python") {
        return;
    }
    let pki = test_pki();
    let peer = Peer::python(&[
        "--certfile",
        path_str(&pki.cert),
        "--keyfile",
        path_str(&pki.key),
    ]);
    assert!(peer.url().starts_with("wss://"), "{}", peer.url());
    let o = run(&mut ping(
        peer.url(),
        &["-c", "1", "--cacert", path_str(&pki.ca)],
    ));
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    let first = out.lines().next().unwrap_or("");
    assert!(
        first.contains(" tls ") && !first.contains(" tls - "),
        "the TLS phase is timed\n{}",
        describe(&o)
    );
    // Unknown CA: a TLS failure, exit 4, before any probe.
    let o = run(&mut ping(peer.url(), &["-c", "1"]));
    assert_exit(&o, 4);
    assert!(!stdout_of(&o).contains("statistics"), "{}", describe(&o));
    // -k: the probes go through, and --json says it was insecure.
    let o = run(&mut ping(peer.url(), &["-c", "1", "-k", "--json"]));
    assert_exit(&o, 0);
    let events = events_of(&o);
    let warnings = of_type(&events, "warning");
    assert_eq!(warnings.len(), 1, "{events:#?}");
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("--insecure")),
        "{}",
        warnings[0]
    );
    assert_eq!(seqs(&events, "pong"), [1]);
}

// ------------------------------------------------------------------ misbehaving peers

#[test]
fn a_server_that_never_answers_is_total_loss() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::misbehaving(&["silent"]);
    let o = run(&mut ping(
        peer.url(),
        &["-c", "3", "-i", "100ms", "-W", "300ms", "--json"],
    ));
    assert_exit(&o, 1);
    let events = events_of(&o);
    assert_eq!(seqs(&events, "timeout"), [1, 2, 3]);
    assert!(of_type(&events, "pong").is_empty());
    let s = summary(&events);
    assert_eq!(
        (s["sent"].as_u64(), s["received"].as_u64()),
        (Some(3), Some(0))
    );
    assert_eq!(s["loss_percent"], 100.0);
    // The last probe goes out at 200 ms and times out at 500 ms: the run ends then, not later.
    let elapsed = s["elapsed"].as_f64().unwrap();
    assert!(
        (0.5..2.0).contains(&elapsed),
        "elapsed {elapsed}\n{}",
        describe(&o)
    );
    let err = stderr_of(&o);
    assert_contains(&err, "wsbeat: error: --max-loss 0%: 3 of 3 probes", &o);
    // The server did receive our pings: the loss is theirs.
    let pings = peer.observations_until(|v| v["event"] == "closed", T);
    assert_eq!(pings.iter().filter(|v| v["event"] == "ping").count(), 3);
}

#[test]
fn total_loss_in_human_output() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::misbehaving(&["silent"]);
    let o = run(&mut ping(
        peer.url(),
        &["-c", "2", "-i", "50ms", "-W", "100ms"],
    ));
    assert_exit(&o, 1);
    let out = stdout_of(&o);
    assert_contains(&out, "no pong for seq=1 within 100ms", &o);
    assert_contains(&out, "no pong for seq=2 within 100ms", &o);
    assert_contains(&out, "2 probes sent, 0 received, 100% loss", &o);
    assert!(
        !out.contains("rtt min/avg/max"),
        "no rtt line without replies\n{out}"
    );
}

#[test]
fn late_pongs_are_late_not_replies_to_the_next_probe() {
    if !require_peer("python") {
        return;
    }
    // seq 1 is sent at 0 and expires at 300 ms; its pong arrives at 400 ms, while seq 2
    // (sent at 200 ms) is still waiting: it must be reported late for seq 1, not as seq 2's.
    let peer = Peer::misbehaving(&["late", "--delay", "0.4"]);
    let o = run(&mut ping(
        peer.url(),
        &["-c", "3", "-i", "200ms", "-W", "300ms", "--json"],
    ));
    assert_exit(&o, 1);
    let events = events_of(&o);
    assert!(of_type(&events, "pong").is_empty(), "{events:#?}");
    let late = seqs(&events, "late");
    assert!(
        late.len() >= 2 && late[..2] == [1, 2],
        "late {late:?}\n{events:#?}"
    );
    for l in of_type(&events, "late") {
        assert!(l["rtt"].as_f64().unwrap() >= 0.3, "{l}");
    }
    let s = summary(&events);
    assert_eq!(s["received"], 0);
    assert_eq!(s["late"].as_u64(), Some(late.len() as u64));
    assert_eq!(s["loss_percent"], 100.0);
}

#[test]
fn unsolicited_and_duplicate_pongs_are_counted_not_matched() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::misbehaving(&["unsolicited"]);
    let o = run(&mut ping(peer.url(), &["-c", "3", "-i", "300ms", "--json"]));
    assert_exit(&o, 0);
    let events = events_of(&o);
    assert_eq!(seqs(&events, "pong"), [1, 2, 3]);
    let s = summary(&events);
    assert_eq!(
        (s["received"].as_u64(), s["unsolicited"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(of_type(&events, "unsolicited").len(), 3);

    let peer = Peer::misbehaving(&["duplicate"]);
    let o = run(&mut ping(peer.url(), &["-c", "3", "-i", "20ms"]));
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    assert_contains(
        &out,
        "3 probes sent, 3 received, 0% loss, 0 late, 3 duplicate, 0 unsolicited",
        &o,
    );
    assert!(
        out.contains(&format!(
            "duplicate pong from 127.0.0.1:{}: seq=2 size=16",
            peer.port()
        )),
        "{out}"
    );
    let o = run(&mut ping(peer.url(), &["-c", "3", "-i", "300ms", "--json"]));
    assert_exit(&o, 0);
    let events = events_of(&o);
    assert_eq!(seqs(&events, "pong"), [1, 2, 3]);
    assert_eq!(seqs(&events, "duplicate"), [1, 2, 3], "{events:#?}");
    assert_eq!(summary(&events)["duplicate"], 3);
}

#[test]
fn a_peer_closing_with_1011_mid_run_ends_it_with_exit_7() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::misbehaving(&[
        "close", "--after", "2", "--code", "1011", "--reason", "boom",
    ]);
    // The interval outlasts the close's way back even on a busy machine: the probe after the
    // one that met the close is never sent.
    let o = run(&mut ping(peer.url(), &["-c", "5", "-i", "300ms"]));
    assert_exit(&o, 7);
    let out = stdout_of(&o);
    assert_contains(
        &out,
        r#"closed: code=1011 (Internal Error) reason="boom" wasClean=true initiator=server"#,
        &o,
    );
    // The summary so far: two answered, the third met the close.
    assert_contains(&out, "3 probes sent, 2 received, 33.3% loss", &o);
    let close_at = out.find("closed: code=1011").unwrap();
    assert!(
        out.find("ping statistics").unwrap() > close_at,
        "close line, then summary\n{out}"
    );
    assert_contains(
        &stderr_of(&o),
        "the peer closed the connection with 1011 (Internal Error) after 3 of 5 probes",
        &o,
    );
    assert!(
        !stderr_of(&o).contains("--max-loss"),
        "no thresholds over a cut-short run\n{}",
        describe(&o)
    );

    // Even a clean 1000 from the peer ends the run before -c was reached: exit 6.
    let peer = Peer::misbehaving(&["close", "--after", "1", "--code", "1000"]);
    let o = run(&mut ping(peer.url(), &["-c", "3", "-i", "300ms", "--json"]));
    assert_exit(&o, 6);
    let events = events_of(&o);
    let errors = of_type(&events, "error");
    assert_eq!(errors.len(), 1, "{events:#?}");
    assert_eq!(errors[0]["kind"], "abnormal_close");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("with 1000 (Normal Closure) after 2 of 3 probes"),
        "{events:#?}"
    );
    assert_eq!(summary(&events)["ended"], "closed");
}

#[test]
fn a_close_mid_flood_keeps_its_code_at_any_interval() {
    if !require_peer("python") {
        return;
    }
    // Probes racing the peer's Close must not turn a 1011 into a lost connection.
    let peer = Peer::misbehaving(&["close", "--after", "20", "--code", "1011"]);
    for interval in ["0", "200us", "1ms"] {
        let o = run(&mut ping(
            peer.url(),
            &["-c", "100", "-i", interval, "--json", "-q"],
        ));
        assert_exit(&o, 7);
        let events = events_of(&o);
        let closed = of_type(&events, "closed");
        assert_eq!(closed.len(), 1, "-i {interval}: {events:#?}");
        assert_eq!(closed[0]["code"], 1011, "-i {interval}");
        assert_eq!(summary(&events)["received"], 20, "-i {interval}");
    }
}

#[test]
fn a_dropped_connection_is_an_abnormal_end_exit_6() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::misbehaving(&["drop", "--after", "1"]);
    let o = run(&mut ping(peer.url(), &["-c", "5", "-i", "50ms", "--json"]));
    assert_exit(&o, 6);
    let events = events_of(&o);
    let closed = of_type(&events, "closed");
    assert_eq!(closed.len(), 1, "{events:#?}");
    assert_eq!(closed[0]["code"], 1006);
    assert_eq!(closed[0]["wasClean"], false);
    // As in the browser: no reason; our diagnostic in its own field.
    assert_eq!(closed[0]["reason"], "", "{events:#?}");
    assert!(closed[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(of_type(&events, "error")[0]["kind"], "abnormal_close");
    let s = summary(&events);
    assert_eq!(
        (s["sent"].as_u64(), s["received"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(s["ended"], "closed");
}

/// A text reply over `--max-message-size` ends the run with 1009, reported as 1009.
#[test]
fn a_reply_over_max_message_size_is_closed_and_reported_as_1009() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let big = "x".repeat(100);
    let o = run(&mut ping(
        peer.url(),
        &[
            "--text",
            &big,
            "--max-message-size",
            "50",
            "-c",
            "3",
            "--json",
        ],
    ));
    assert_exit(&o, 6);
    let events = events_of(&o);
    let closed = of_type(&events, "closed");
    assert_eq!(closed.len(), 1, "{events:#?}");
    assert_eq!(closed[0]["code"], 1009);
    assert_eq!(closed[0]["initiator"], "client");
    assert_eq!(of_type(&events, "error")[0]["kind"], "message_too_large");
    assert_eq!(summary(&events)["ended"], "closed");
    assert_eq!(peer.wait_event("closed", T)["code"], 1009);
}

// ------------------------------------------------------------------ application-level mode

#[test]
fn text_mode_against_a_ping_pong_server() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::misbehaving(&["text-pong"]);
    let o = run(&mut ping(
        peer.url(),
        &[
            "-c", "3", "-i", "20ms", "--text", "ping", "--expect", "^pong$",
        ],
    ));
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    for seq in 1..=3 {
        let want = format!(
            "reply from 127.0.0.1:{}: seq={seq} size=4 time=",
            peer.port()
        );
        assert!(out.contains(&want), "missing {want:?}\n{}", describe(&o));
    }
    assert_contains(&out, "3 probes sent, 3 replies, 0% loss", &o);
    let seen = peer.observations_until(|v| v["event"] == "closed", T);
    let texts: Vec<&Value> = seen.iter().filter(|v| v["event"] == "text").collect();
    assert_eq!(texts.len(), 3);
    assert!(texts.iter().all(|t| t["data"] == "ping"));
    assert!(
        !seen.iter().any(|v| v["event"] == "ping"),
        "no Ping frames in text mode"
    );
}

#[test]
fn text_mode_replies_that_do_not_match_are_other_traffic() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::misbehaving(&["text-pong"]);
    let o = run(&mut ping(
        peer.url(),
        &[
            "-c", "2", "-i", "20ms", "-W", "200ms", "--text", "hello", "--expect", "^pong$",
            "--json",
        ],
    ));
    assert_exit(&o, 1);
    let events = events_of(&o);
    let s = summary(&events);
    assert_eq!(
        (s["received"].as_u64(), s["other"].as_u64()),
        (Some(0), Some(2))
    );
    assert_eq!(s["mode"], "text");
    assert_eq!(seqs(&events, "timeout"), [1, 2]);
}

#[test]
fn text_mode_with_a_json_template_matches_replies_by_seq() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::misbehaving(&["text-json"]);
    let o = run(&mut ping(
        peer.url(),
        &[
            "-c",
            "3",
            "-i",
            "20ms",
            "--json",
            "--text",
            r#"{"type":"ping","seq":{seq}}"#,
            "--expect",
            r#""status": *"pong""#,
        ],
    ));
    assert_exit(&o, 0);
    let events = events_of(&o);
    assert_eq!(seqs(&events, "pong"), [1, 2, 3]);
    let s = summary(&events);
    assert_eq!(
        (s["received"].as_u64(), s["other"].as_u64()),
        (Some(3), Some(3))
    );
    let seen = peer.observations_until(|v| v["event"] == "closed", T);
    let texts: Vec<&str> = seen
        .iter()
        .filter(|v| v["event"] == "text")
        .map(|v| v["data"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            r#"{"type":"ping","seq":1}"#,
            r#"{"type":"ping","seq":2}"#,
            r#"{"type":"ping","seq":3}"#
        ]
    );
}

#[test]
fn text_mode_late_json_replies_go_to_their_own_probe() {
    if !require_peer("python") {
        return;
    }
    // Replies come 300 ms late, each naming its seq: with probes every 200 ms, a FIFO match
    // would pin seq 1's reply on seq 2; by seq it is seq 1's, late.
    let peer = Peer::misbehaving(&["text-json", "--delay", "0.3"]);
    let o = run(&mut ping(
        peer.url(),
        &[
            "-c",
            "3",
            "-i",
            "200ms",
            "-W",
            "250ms",
            "--json",
            "--text",
            r#"{"type":"ping","seq":{seq}}"#,
            "--expect",
            "pong",
        ],
    ));
    assert_exit(&o, 1);
    let events = events_of(&o);
    assert!(of_type(&events, "pong").is_empty(), "{events:#?}");
    let late = seqs(&events, "late");
    assert!(
        late.len() >= 2 && late[..2] == [1, 2],
        "late {late:?}\n{events:#?}"
    );
}

// ------------------------------------------------------------------ connection mode

#[test]
fn connect_only_reports_phase_timings_and_closes_cleanly() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let o = run(&mut ping(
        peer.url(),
        &["--connect-only", "-c", "3", "-i", "10ms", "--json"],
    ));
    assert_exit(&o, 0);
    let events = events_of(&o);
    let hs = of_type(&events, "handshake");
    assert_eq!(seqs(&events, "handshake"), [1, 2, 3]);
    for h in hs {
        assert_eq!(h["status"], 101);
        assert!(h["timings"]["tls"].is_null(), "ws:// has no TLS phase: {h}");
        assert_eq!(h["rtt"], h["timings"]["total"]);
    }
    let s = summary(&events);
    assert_eq!(s["mode"], "connect");
    assert_eq!(
        (s["sent"].as_u64(), s["received"].as_u64()),
        (Some(3), Some(3))
    );
    let mut closes = 0;
    peer.observations_until(
        |v| {
            closes += (v["event"] == "closed") as usize;
            closes == 3
        },
        T,
    );
    assert!(
        peer.events("closed").iter().all(|v| v["code"] == 1000),
        "{}",
        peer.diagnostics()
    );
    assert_eq!(peer.events("connect").len(), 3);

    let o = run(&mut ping(peer.url(), &["--connect-only", "-c", "1"]));
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    assert!(
        out.contains(&format!(
            "handshake with 127.0.0.1:{}: seq=1 status=101 time=",
            peer.port()
        )) && out.contains("(dns ")
            && out.contains(" tls - upgrade "),
        "{}",
        describe(&o)
    );
    assert!(
        out.contains("1 connections tried, 1 opened, 0% loss"),
        "{out}"
    );
    assert!(out.contains("handshake min/avg/max/mdev = "), "{out}");
}

#[test]
fn connect_only_counts_failed_connections_as_loss() {
    let port = free_port();
    let o = run(&mut ping(
        &format!("ws://127.0.0.1:{port}/"),
        &["--connect-only", "-c", "2", "-i", "10ms", "--json"],
    ));
    // Nothing ever connected: a connection failure, exit 3.
    assert_exit(&o, 3);
    let events = events_of(&o);
    let failed = of_type(&events, "failed");
    assert_eq!(failed.len(), 2, "{events:#?}");
    assert_eq!(failed[0]["kind"], "refused");
    assert_eq!(summary(&events)["loss_percent"], 100.0);
}

// ------------------------------------------------------------------ thresholds and exit codes

#[test]
fn thresholds_exit_1_and_name_what_broke() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let cases: [(&[&str], i32, &str); 5] = [
        (
            &["--max-rtt", "1ns"],
            1,
            "--max-rtt 0.000 ms: the p99 round trip was",
        ),
        (
            &["--max-rtt-each", "1ns"],
            1,
            "--max-rtt-each 0.000 ms: the slowest round trip was",
        ),
        (
            &["--min-replies", "3"],
            1,
            "--min-replies 3: only 2 replies came back in time",
        ),
        (
            &[
                "--max-rtt",
                "10s",
                "--max-rtt-each",
                "10s",
                "--min-replies",
                "2",
            ],
            0,
            "",
        ),
        (&["--max-loss", "0"], 0, ""),
    ];
    for (args, code, msg) in cases {
        let mut cmd = ping(peer.url(), &["-c", "2", "-i", "10ms", "-q"]);
        cmd.args(args);
        let o = run(&mut cmd);
        assert_exit(&o, code);
        let err = stderr_of(&o);
        if msg.is_empty() {
            assert!(err.is_empty(), "{args:?}\n{}", describe(&o));
        } else {
            assert!(
                err.contains(&format!("wsbeat: error: {msg}")),
                "{args:?}\n{}",
                describe(&o)
            );
        }
        // -q: the summary only.
        assert!(stdout_of(&o).starts_with("--- ws://"), "{}", describe(&o));
    }
}

#[test]
fn max_loss_allows_the_loss_it_names() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::misbehaving(&["silent"]);
    let o = run(&mut ping(
        peer.url(),
        &["-c", "1", "-W", "50ms", "--max-loss", "100"],
    ));
    assert_exit(&o, 0);
    assert_contains(&stdout_of(&o), "1 probes sent, 0 received, 100% loss", &o);
    // Without -c there is no default loss limit; --min-replies still catches a dead peer.
    let o = run(&mut ping(
        peer.url(),
        &[
            "-w",
            "300ms",
            "-i",
            "50ms",
            "-W",
            "50ms",
            "--min-replies",
            "1",
            "-q",
        ],
    ));
    assert_exit(&o, 1);
    assert_contains(&stderr_of(&o), "--min-replies 1: only 0 replies", &o);
}

#[test]
fn size_over_125_is_a_usage_error() {
    let o = run(&mut ping("ws://127.0.0.1:9/", &["-s", "126"]));
    assert_exit(&o, 2);
    let err = stderr_of(&o);
    assert!(err.starts_with("wsbeat: error: "), "{err}");
    assert!(err.contains("126") && err.contains("125"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = run(&mut ping("ws://127.0.0.1:9/", &["-s", "7"]));
    assert_exit(&o, 2);
    let o = run(&mut ping("ws://127.0.0.1:9/", &["--expect", "pong"]));
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "add --text", &o);
    let o = run(&mut ping(
        "ws://127.0.0.1:9/",
        &["--connect-only", "--text", "x"],
    ));
    assert_exit(&o, 2);
}

#[test]
fn connection_failures_keep_their_exit_codes() {
    let o = run(&mut ping(
        &format!("ws://127.0.0.1:{}/", free_port()),
        &["-c", "1"],
    ));
    assert_exit(&o, 3);
    assert!(
        stderr_of(&o).starts_with("wsbeat: error: "),
        "{}",
        describe(&o)
    );
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--reject", "503", "--body", "maintenance"]);
    let o = run(&mut ping(peer.url(), &["-c", "1"]));
    assert_exit(&o, 5);
    assert_contains(&stderr_of(&o), "503", &o);
}

// ------------------------------------------------------------------ schedule

#[test]
fn deadline_stops_an_endless_run() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let o = run(&mut ping(
        peer.url(),
        &["-w", "300ms", "-i", "50ms", "--json"],
    ));
    assert_exit(&o, 0);
    let events = events_of(&o);
    let s = summary(&events);
    assert_eq!(s["ended"], "deadline");
    let sent = s["sent"].as_u64().unwrap();
    assert!((1..=7).contains(&sent), "{s}");
}

#[test]
fn flood_and_sub_millisecond_intervals_lose_nothing() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    for interval in ["0", "200us"] {
        let o = run(&mut ping(
            peer.url(),
            &["-c", "300", "-i", interval, "-q", "--json"],
        ));
        assert_exit(&o, 0);
        let events = events_of(&o);
        let s = summary(&events);
        assert_eq!(
            (s["sent"].as_u64(), s["received"].as_u64()),
            (Some(300), Some(300)),
            "-i {interval}"
        );
        assert_eq!(
            of_type(&events, "pong").len(),
            0,
            "-q keeps only the summary"
        );
    }
}

/// Run ping with `args`, send SIGINT after its second pong, and return how it ended with every
/// stdout line.
fn interrupt_after_second_pong(
    url: &str,
    args: &[&str],
) -> (std::process::ExitStatus, Vec<String>) {
    let mut p = Proc::spawn("wsbeat ping", &mut ping(url, args));
    p.wait_out("with the second pong", T, |l| l.contains("seq=2 "));
    p.signal(libc::SIGINT);
    let status = p.finish(T);
    (status, p.out.snapshot())
}

#[test]
fn ctrl_c_prints_the_summary() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let (status, lines) = interrupt_after_second_pong(peer.url(), &["-i", "20ms"]);
    // Without -c or -w, Ctrl-C is the ordinary way to stop, as with ping(8).
    assert_eq!(status.code(), Some(0), "{lines:?}");
    let text = lines.join("\n");
    assert!(text.contains("ping statistics ---"), "{text}");
    assert!(text.contains(" probes sent, "), "{text}");
    assert!(text.contains("rtt min/avg/max/mdev"), "{text}");
}

/// Ctrl-C during `-c`: the run is cut short, so the summary so far is printed and the exit is
/// 130 without thresholds being judged.
#[test]
fn ctrl_c_with_a_count_prints_the_summary_so_far_and_exits_130() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let (status, lines) = interrupt_after_second_pong(peer.url(), &["-c", "1000", "-i", "50ms"]);
    let out = lines.join("\n");
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(
        out.contains(&format!("--- {} ping statistics ---", peer.url())),
        "{out}"
    );
    let stats = out
        .lines()
        .find(|l| l.contains(" probes sent, "))
        .unwrap_or_else(|| panic!("no summary line in {out}"));
    let sent: u64 = stats.split(' ').next().unwrap().parse().unwrap();
    assert!(
        (2..1000).contains(&sent),
        "the summary is of the run so far: {stats}"
    );
}

/// A malformed -H or --auth is refused without echoing its value: clap quotes bad values
/// (issue 11, section 4).
#[test]
fn malformed_credential_flags_are_refused_without_their_values() {
    for args in [
        ["-H", "Authorization Bearer SECRETtok"],
        ["-H", "SECRETtok"],
        ["--header", "Cookie SECRETtok: x"],
        ["--auth", "SECRETtok"],
    ] {
        let o = run(&mut ping("ws://127.0.0.1:9/", &args));
        assert_exit(&o, 2);
        let err = stderr_of(&o);
        assert!(
            err.starts_with("wsbeat: error: "),
            "{args:?}\n{}",
            describe(&o)
        );
        assert!(!err.contains("SECRETtok"), "{args:?}\n{}", describe(&o));
    }
}

/// The `n`th (from 1) `connect` event the peer logged.
fn nth_connect(peer: &mut Peer, n: usize) -> Value {
    let mut k = 0;
    let seen = peer.observations_until(
        |v| {
            k += usize::from(v["event"] == "connect");
            k == n
        },
        T,
    );
    seen.into_iter()
        .filter(|v| v["event"] == "connect")
        .nth(n - 1)
        .unwrap()
}

/// Percent-encoded credentials in the URL are decoded before Basic auth (RFC 3986 2.1, as
/// Python `websockets` does), and neither they nor -H Authorization/Cookie values are printed,
/// verbose or JSON (issue 11, section 4).
#[test]
fn credentials_are_decoded_for_basic_auth_and_never_printed() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let url = format!("ws://us%65r:p%40SECRETpw@127.0.0.1:{}/", peer.port());
    for json in [false, true] {
        let mut cmd = ping(&url, &["-c", "1", "-v", "-H", "Cookie: c=SECRETck"]);
        if json {
            cmd.arg("--json");
        }
        let o = run(&mut cmd);
        assert_exit(&o, 0);
        let c = nth_connect(&mut peer, if json { 2 } else { 1 });
        // base64("user:p@SECRETpw")
        let basic = "dXNlcjpwQFNFQ1JFVHB3";
        assert_eq!(
            c["headers"]["authorization"],
            format!("Basic {basic}"),
            "{c}"
        );
        assert_eq!(c["headers"]["cookie"], "c=SECRETck", "{c}");
        for needle in ["SECRET", basic, "p%40"] {
            for (stream, text) in [("stdout", stdout_of(&o)), ("stderr", stderr_of(&o))] {
                assert!(
                    !text.contains(needle),
                    "{needle:?} on {stream} (json={json})\n{}",
                    describe(&o)
                );
            }
        }
    }

    // A bearer token given with -H, through the JSON events of a verbose run.
    let o = run(&mut ping(
        peer.url(),
        &[
            "-c",
            "1",
            "-v",
            "--json",
            "-H",
            "Authorization: Bearer SECRETtok",
        ],
    ));
    assert_exit(&o, 0);
    let c = nth_connect(&mut peer, 3);
    assert_eq!(c["headers"]["authorization"], "Bearer SECRETtok", "{c}");
    assert!(!stdout_of(&o).contains("SECRETtok") && !stderr_of(&o).contains("SECRETtok"));
}
