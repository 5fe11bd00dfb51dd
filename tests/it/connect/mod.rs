//! Contract tests for `wsbeat connect URL`, run against third-party servers
//! (Python `websockets`, Node `ws`) from `tests/peers/`.

mod conversation;
mod hostile;
mod interactive;
mod resilience;
mod unconfirmed;

use std::process::Command;
use std::time::Duration;

use crate::common::*;
use serde_json::{Value, json};

const T: Duration = OBS_TIMEOUT;

fn connect(url: &str) -> Command {
    let mut c = wsbeat();
    c.arg("connect").arg(url);
    c
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The single `closed` event of a `--json` run.
#[track_caller]
fn closed_event(events: &[Value]) -> Value {
    let closed = of_type(events, "closed");
    assert_eq!(
        closed.len(),
        1,
        "want exactly one closed event, got {events:#?}"
    );
    closed[0].clone()
}

#[track_caller]
fn assert_one_error_line(o: &std::process::Output) {
    let err = stderr_of(o);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(
        lines.len(),
        1,
        "stderr should be exactly one line\n{}",
        describe(o)
    );
    assert!(
        lines[0].starts_with("wsbeat: error:"),
        "stderr should start with `wsbeat: error:`\n{}",
        describe(o)
    );
}

// ------------------------------------------------------------------ data round trips

fn stdin_round_trip(mut peer: Peer) {
    let o = run_with_stdin(&mut connect(peer.url()), b"hello from stdin\nsecond line\n");
    assert_exit(&o, 0);
    let out = stdout_of(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["hello from stdin", "second line"],
        "\n{}",
        describe(&o)
    );
    let seen = peer.observations_until(|v| v["event"] == "closed", T);
    let msgs: Vec<&Value> = seen.iter().filter(|v| v["event"] == "message").collect();
    assert_eq!(msgs.len(), 2, "{}", peer.diagnostics());
    assert_eq!(msgs[0]["type"], "text");
    assert_eq!(msgs[0]["data"], "hello from stdin");
    assert_eq!(msgs[0]["len"], 16);
    assert_eq!(msgs[1]["data"], "second line");
    let closed = peer.wait_event("closed", T);
    assert_eq!(closed["code"], 1000, "{}", peer.diagnostics());
    let err = stderr_of(&o);
    assert!(
        err.contains("closed: code=1000") && err.contains("initiator=client"),
        "stderr should carry the close line\n{}",
        describe(&o)
    );
}

#[test]
fn stdin_lines_round_trip_python() {
    if !require_peer("python") {
        return;
    }
    stdin_round_trip(Peer::python(&[]));
}

#[test]
fn stdin_lines_round_trip_node() {
    if !require_peer("node") {
        return;
    }
    stdin_round_trip(Peer::node(&[]));
}

#[test]
fn send_flags_with_stdin_closed() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let o = run(connect(peer.url()).args(["--send", "one", "--send", "two"]));
    assert_exit(&o, 0);
    assert_eq!(
        stdout_of(&o).lines().collect::<Vec<_>>(),
        ["one", "two"],
        "\n{}",
        describe(&o)
    );
    let seen = peer.observations_until(|v| v["event"] == "closed", T);
    let data: Vec<&Value> = seen
        .iter()
        .filter(|v| v["event"] == "message")
        .map(|v| &v["data"])
        .collect();
    assert_eq!(
        data,
        [&json!("one"), &json!("two")],
        "{}",
        peer.diagnostics()
    );
}

#[test]
fn binary_stdin_line_is_a_binary_message() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--no-echo"]);
    let o = run_with_stdin(connect(peer.url()).arg("--binary"), b"abc\n");
    assert_exit(&o, 0);
    let m = peer.wait_event("message", T);
    assert_eq!(m["type"], "binary", "{}", peer.diagnostics());
    assert_eq!(
        m["len"],
        3,
        "the newline is not part of the message; {}",
        peer.diagnostics()
    );
    assert_eq!(m["data"], "616263");
}

#[test]
fn send_file_is_a_binary_message() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--no-echo"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("payload.bin");
    // Not valid UTF-8, so it can only travel as binary.
    let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 256) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    let o = run(connect(peer.url()).arg("--send-file").arg(&path));
    assert_exit(&o, 0);
    let m = peer.wait_event("message", T);
    assert_eq!(m["type"], "binary", "{}", peer.diagnostics());
    assert_eq!(m["len"], 1000, "{}", peer.diagnostics());
    assert_eq!(m["data"], hex(&bytes));
}

#[test]
fn fragment_size_splits_text_into_frames() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let o =
        run(connect(peer.url()).args(["--json", "--send", "0123456789", "--fragment-size", "3"]));
    assert_exit(&o, 0);
    let m = peer.wait_event("message", T);
    assert_eq!(m["data"], "0123456789", "{}", peer.diagnostics());
    assert_eq!(m["fragments"], 4, "3+3+3+1 bytes; {}", peer.diagnostics());
    let events = parse_ndjson(Schema::Connect, &o);
    let sent = of_type(&events, "sent");
    assert_eq!(sent.len(), 1, "{}", describe(&o));
    assert_eq!(sent[0]["fragments"], 4, "{}", describe(&o));
    assert_eq!(sent[0]["len"], 10);
    assert_eq!(sent[0]["text"], "0123456789");
}

// ------------------------------------------------------------------ closing

/// Peer options: echo the first message, then close with 4001 "bye".
const CLOSE_4001_BYE: &[&str] = &[
    "--close-after",
    "1",
    "--close-code",
    "4001",
    "--close-reason",
    "bye",
];

#[test]
fn server_close_4001_is_reported_and_exits_7() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(CLOSE_4001_BYE);
    let o = run(connect(peer.url()).args(["--send", "hi"]));
    assert_exit(&o, 7);
    let err = stderr_of(&o);
    assert!(
        err.lines().any(|l| l.trim()
            == r#"closed: code=4001 (application) reason="bye" wasClean=true initiator=server"#),
        "want the line `closed: code=4001 (application) reason=\"bye\" wasClean=true initiator=server`\n{}",
        describe(&o)
    );
    assert_eq!(
        stdout_of(&o).lines().collect::<Vec<_>>(),
        ["hi"],
        "echo came before the close"
    );
}

#[test]
fn server_close_4001_json() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(CLOSE_4001_BYE);
    let o = run(connect(peer.url()).args(["--json", "--send", "hi"]));
    assert_exit(&o, 7);
    let c = closed_event(&parse_ndjson(Schema::Connect, &o));
    assert_eq!(c["code"], 4001, "{c}");
    assert_eq!(c["reason"], "bye", "{c}");
    assert_eq!(c["wasClean"], true, "{c}");
    assert_eq!(c["initiator"], "server", "{c}");
    assert_eq!(c["code_valid"], true, "{c}");
}

#[test]
fn server_close_4001_node_exits_7() {
    if !require_peer("node") {
        return;
    }
    let peer = Peer::node(CLOSE_4001_BYE);
    let o = run(connect(peer.url()).args(["--send", "hi"]));
    assert_exit(&o, 7);
    assert_contains(&stderr_of(&o), "code=4001", &o);
}

#[test]
fn expect_close_4001_exits_0() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(CLOSE_4001_BYE);
    let o = run(connect(peer.url()).args(["--send", "hi", "--expect-close", "4001"]));
    assert_exit(&o, 0);
}

#[test]
fn client_close_code_and_reason() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let o = run(connect(peer.url()).args(["--send", "x", "--close", "4000:done"]));
    assert_exit(&o, 0);
    let c = peer.wait_event("closed", T);
    assert_eq!(c["code"], 4000, "{}", peer.diagnostics());
    assert_eq!(c["reason"], "done", "{}", peer.diagnostics());
}

#[test]
fn close_reason_of_123_bytes_is_allowed() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let reason = "r".repeat(123);
    let o = run(connect(peer.url())
        .args(["--send", "x", "--close"])
        .arg(format!("1000:{reason}")));
    assert_exit(&o, 0);
    let c = peer.wait_event("closed", T);
    assert_eq!(c["code"], 1000, "{}", peer.diagnostics());
    assert_eq!(c["reason"], reason.as_str(), "{}", peer.diagnostics());
}

#[test]
fn dropped_connection_is_1006_and_exits_6() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--drop-after", "1"]);
    let o = run(connect(peer.url()).args(["--send", "hi", "--wait", "5s"]));
    assert_exit(&o, 6);
    let err = stderr_of(&o);
    assert!(
        err.contains("code=1006 (Abnormal Closure) reason=\"\" wasClean=false"),
        "want code=1006 with an empty reason on stderr\n{}",
        describe(&o)
    );
    assert_contains(&err, "\n  why: ", &o);
    assert_contains(&err, "wsbeat: error: ", &o);

    let peer = Peer::python(&["--drop-after", "1"]);
    let o = run(connect(peer.url()).args(["--send", "hi", "--wait", "5s", "--json"]));
    assert_exit(&o, 6);
    let events = parse_ndjson(Schema::Connect, &o);
    let closed = of_type(&events, "closed");
    assert_eq!(closed.len(), 1, "{events:#?}");
    assert_eq!(closed[0]["reason"], "", "{events:#?}");
    assert!(
        closed[0]["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{events:#?}"
    );
}

/// A browser reports a dropped connection as 1006; `--expect-close 1006` asserts exactly that
/// and passes, while a clean close does not satisfy it.
#[test]
fn expect_close_1006_passes_when_the_server_drops_the_connection() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--drop-after", "1"]);
    let o =
        run(connect(peer.url()).args(["--send", "hi", "--wait", "5s", "--expect-close", "1006"]));
    assert_exit(&o, 0);
    assert_contains(&stderr_of(&o), "code=1006", &o);
    // What was asked for is no error.
    assert!(
        !stderr_of(&o).contains("wsbeat: error"),
        "a passing --expect-close 1006 prints no error\n{}",
        describe(&o)
    );

    let peer = Peer::python(&["--close-after", "1", "--close-code", "1000"]);
    let o =
        run(connect(peer.url()).args(["--send", "hi", "--wait", "5s", "--expect-close", "1006"]));
    assert_exit(&o, 1);
    assert_contains(&stderr_of(&o), "--expect-close 1006", &o);
}

/// The one engine: a message over `--max-message-size` is closed with 1009 and reported as
/// 1009 (the tungstenite data path reported 1006), and the peer sees our 1009.
#[test]
fn an_echo_over_max_message_size_is_closed_and_reported_as_1009() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let big = "x".repeat(100);
    let o = run(connect(peer.url()).args([
        "--send",
        &big,
        "--max-message-size",
        "50",
        "--wait",
        "5s",
        "--json",
    ]));
    assert_exit(&o, 6);
    let events = parse_ndjson(Schema::Connect, &o);
    let closed = closed_event(&events);
    assert_eq!(closed["code"], 1009, "{events:#?}");
    assert_eq!(closed["initiator"], "client");
    assert_eq!(closed["wasClean"], true, "the peer answered our Close");
    assert_eq!(of_type(&events, "error")[0]["kind"], "message_too_large");
    assert_eq!(peer.wait_event("closed", T)["code"], 1009);
}

#[test]
fn empty_close_payload_is_1005() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--close-empty"]);
    let o = run(connect(peer.url()).args(["--send", "hi", "--wait", "5s"]));
    assert_contains(&stderr_of(&o), "code=1005", &o);

    let peer = Peer::python(&["--close-empty"]);
    let o = run(connect(peer.url()).args(["--json", "--send", "hi", "--wait", "5s"]));
    let c = closed_event(&parse_ndjson(Schema::Connect, &o));
    assert_eq!(c["code"], 1005, "{c}");
    assert_eq!(c["initiator"], "server", "{c}");
    assert_eq!(
        c["code_valid"], true,
        "an empty close payload is legal; {c}"
    );
}

#[test]
fn raw_close_with_forbidden_1005_is_flagged() {
    if !require_peer("python") {
        return;
    }
    // 0x03ed = 1005, which must never appear on the wire.
    let peer = Peer::python(&["--close-raw", "03ed"]);
    let o = run(connect(peer.url()).args(["--json", "--send", "hi", "--wait", "5s"]));
    let c = closed_event(&parse_ndjson(Schema::Connect, &o));
    assert_eq!(c["code"], 1005, "{c}\n{}", describe(&o));
    assert_eq!(c["code_valid"], false, "{c}\n{}", describe(&o));
}

/// Code 1000 is fine; only the reason (0xc3 alone) breaks RFC 6455, and every line says so.
#[test]
fn a_close_reason_that_is_not_utf8_is_named_as_the_close_reason() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--close-raw", "03e8c3"]);
    let o = run(connect(peer.url()).args(["--color=never", "--send", "hi", "--wait", "5s"]));
    assert_exit(&o, 6);
    let err = stderr_of(&o);
    assert_contains(&err, "Close reason that is not valid UTF-8", &o);
    assert_contains(&err, "(Close reason not valid UTF-8)", &o);
    assert!(
        !err.contains("code forbidden") && !err.contains("text message"),
        "the code and text messages are not to blame\n{}",
        describe(&o)
    );
}

// ------------------------------------------------------------------ handshake

#[test]
fn upgrade_refused_prints_status_and_body_exits_5() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--reject", "403", "--body", "no token"]);
    let o = run(&mut connect(peer.url()));
    assert_exit(&o, 5);
    let err = stderr_of(&o);
    assert_contains(&err, "HTTP/1.1 403 Forbidden", &o);
    assert!(
        err.contains("no token"),
        "the body should be shown\n{}",
        describe(&o)
    );
}

#[test]
fn upgrade_refused_node_exits_5() {
    if !require_peer("node") {
        return;
    }
    let peer = Peer::node(&["--reject", "401", "--body", "who are you"]);
    let o = run(&mut connect(peer.url()));
    assert_exit(&o, 5);
    let err = stderr_of(&o);
    assert!(
        err.contains("401") && err.contains("who are you"),
        "{}",
        describe(&o)
    );
}

#[test]
fn connection_refused_exits_3() {
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(&mut connect(&url));
    assert_exit(&o, 3);
    assert_contains(&stderr_of(&o), "wsbeat: error:", &o);
}

#[test]
fn connection_refused_json_has_error_event() {
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(connect(&url).arg("--json"));
    assert_exit(&o, 3);
    let events = parse_ndjson(Schema::Connect, &o);
    assert_eq!(of_type(&events, "error").len(), 1, "{}", describe(&o));
    assert!(of_type(&events, "opened").is_empty());
}

#[test]
fn subprotocol_negotiated() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--subprotocols", "chat"]);
    let o = run(connect(peer.url()).args(["--json", "-s", "x", "-s", "chat"]));
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let opened = of_type(&events, "opened");
    assert_eq!(opened.len(), 1, "{}", describe(&o));
    assert_eq!(opened[0]["subprotocol"], "chat", "{}", opened[0]);
    let c = peer.wait_event("connect", T);
    assert_eq!(c["subprotocol"], "chat");
    assert_eq!(
        c["headers"]["sec-websocket-protocol"], "x, chat",
        "offer order kept"
    );
}

#[test]
fn subprotocol_negotiated_node() {
    if !require_peer("node") {
        return;
    }
    let peer = Peer::node(&["--subprotocols", "chat"]);
    let o =
        run(connect(peer.url()).args(["--json", "--subprotocol", "x", "--subprotocol", "chat"]));
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    assert_eq!(
        of_type(&events, "opened")[0]["subprotocol"],
        "chat",
        "{}",
        describe(&o)
    );
}

#[test]
fn subprotocol_not_accepted_exits_5() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--subprotocols", "chat"]);
    let o = run(connect(peer.url()).args(["-s", "x"]));
    assert_exit(&o, 5);
}

#[test]
fn headers_origin_and_auth_reach_server_but_secret_never_printed() {
    if !require_peer("python") {
        return;
    }
    for json_mode in [false, true] {
        let mut peer = Peer::python(&[]);
        let mut cmd = connect(&peer.url_with("x?y=1"));
        cmd.args([
            "-H",
            "X-Test: 42",
            "--origin",
            "http://example.test",
            "--auth",
            "user:secret",
        ]);
        cmd.args(["--send", "hi"]);
        if json_mode {
            cmd.arg("--json");
        }
        let o = run(&mut cmd);
        assert_exit(&o, 0);
        let c = peer.wait_event("connect", T);
        assert_eq!(c["path"], "/x?y=1");
        let h = &c["headers"];
        assert_eq!(h["x-test"], "42", "{c}");
        assert_eq!(h["origin"], "http://example.test", "{c}");
        assert_eq!(h["authorization"], "Basic dXNlcjpzZWNyZXQ=", "{c}");
        for needle in ["secret", "dXNlcjpzZWNyZXQ"] {
            for (stream, text) in [("stdout", stdout_of(&o)), ("stderr", stderr_of(&o))] {
                assert!(
                    !text.contains(needle),
                    "{needle:?} leaked on {stream} (json={json_mode})\n{}",
                    describe(&o)
                );
            }
        }
        if json_mode {
            parse_ndjson(Schema::Connect, &o);
        }
    }
}

// ------------------------------------------------------------------ control frames

#[test]
fn answers_server_ping_with_pong() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--ping-client"]);
    let o = run(connect(peer.url()).args(["--wait", "2s"]));
    assert_exit(&o, 0);
    let pong = peer.wait_event("pong", T);
    assert_eq!(pong["data"], hex(b"hello"), "{}", peer.diagnostics());
    peer.wait_event("closed", T);
    assert!(
        peer.events("message").is_empty(),
        "client sent nothing; {}",
        peer.diagnostics()
    );
}

#[test]
fn show_control_json_reports_ping_in_and_pong_out() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&["--ping-client"]);
    let o = run(connect(peer.url()).args(["--json", "-P", "--wait", "2s"]));
    assert_exit(&o, 0);
    peer.wait_event("pong", T);
    let events = parse_ndjson(Schema::Connect, &o);
    let ping_in: Vec<_> = of_type(&events, "ping")
        .into_iter()
        .filter(|e| e["direction"] == "in")
        .collect();
    let pong_out: Vec<_> = of_type(&events, "pong")
        .into_iter()
        .filter(|e| e["direction"] == "out")
        .collect();
    assert_eq!(ping_in.len(), 1, "{}", describe(&o));
    assert_eq!(ping_in[0]["len"], 5);
    assert_eq!(pong_out.len(), 1, "{}", describe(&o));
    assert_eq!(pong_out[0]["len"], 5);
}

// ------------------------------------------------------------------ TLS

fn tls_peer(pki: &TestPki) -> Peer {
    Peer::python(&[
        "--certfile",
        path_str(&pki.cert),
        "--keyfile",
        path_str(&pki.key),
    ])
}

#[test]
fn wss_unknown_ca_exits_4_and_hints_cacert() {
    if !require_peer("python") {
        return;
    }
    let pki = test_pki();
    let peer = tls_peer(&pki);
    assert!(peer.url().starts_with("wss://"));
    let o = run(connect(peer.url()).args(["--send", "hi"]));
    assert_exit(&o, 4);
    assert!(
        stderr_of(&o).contains("--cacert"),
        "stderr should mention --cacert\n{}",
        describe(&o)
    );
}

#[test]
fn wss_with_cacert_works() {
    if !require_peer("python") {
        return;
    }
    let pki = test_pki();
    let mut peer = tls_peer(&pki);
    let o = run(connect(peer.url())
        .arg("--cacert")
        .arg(&pki.ca)
        .args(["--json", "--send", "secure"]));
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let opened = of_type(&events, "opened");
    assert_eq!(opened.len(), 1, "{}", describe(&o));
    assert!(
        opened[0]["timings"]["tls"].is_number(),
        "timings.tls for wss://: {}",
        opened[0]
    );
    let received = of_type(&events, "received");
    assert_eq!(received.len(), 1, "{}", describe(&o));
    assert_eq!(received[0]["text"], "secure");
    assert_eq!(peer.wait_event("message", T)["data"], "secure");
}

#[test]
fn wss_insecure_works_with_warning() {
    if !require_peer("python") {
        return;
    }
    let pki = test_pki();
    let peer = tls_peer(&pki);
    let o = run(connect(peer.url()).args(["-k", "--send", "secure"]));
    assert_exit(&o, 0);
    assert_eq!(
        stdout_of(&o).lines().collect::<Vec<_>>(),
        ["secure"],
        "{}",
        describe(&o)
    );
    assert!(
        stderr_of(&o).to_lowercase().contains("insecure"),
        "-k should warn about being insecure\n{}",
        describe(&o)
    );
    // With --json the warning is an event too.
    let o = run(connect(peer.url()).args(["-k", "--json", "--send", "secure"]));
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let warnings = of_type(&events, "warning");
    assert_eq!(warnings.len(), 1, "{}", describe(&o));
    assert!(
        warnings[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("insecure")),
        "{}",
        warnings[0]
    );
}

// ------------------------------------------------------------------ --expect

#[test]
fn expect_met_exits_0() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let o = run(connect(peer.url()).args(["--send", "hello world", "--expect", "wor.d"]));
    assert_exit(&o, 0);

    let o = run(connect(peer.url()).args(["--json", "--send", "hello world", "--expect", "wor.d"]));
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let ex = of_type(&events, "expect");
    assert_eq!(ex.len(), 1, "{}", describe(&o));
    assert_eq!(ex[0]["index"], 0);
    assert_eq!(ex[0]["pattern"], "wor.d");
    assert_eq!(ex[0]["matched"], "hello world");
}

#[test]
fn expect_unmet_exits_1() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let o = run(connect(peer.url()).args([
        "--send",
        "hello world",
        "--expect",
        "^nope$",
        "--wait",
        "1s",
    ]));
    assert_exit(&o, 1);
}

// ------------------------------------------------------------------ --json schema

#[test]
fn json_schema_text_and_control() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--ping-client"]);
    let o = run(connect(peer.url()).args([
        "--json",
        "-P",
        "--send",
        "hello",
        "--ping-interval",
        "200ms",
        "--wait",
        "1s",
    ]));
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    assert!(!events.is_empty());
    for ty in ["opened", "sent", "received", "closed"] {
        assert!(
            !of_type(&events, ty).is_empty(),
            "no {ty:?} event\n{}",
            describe(&o)
        );
    }
    assert_eq!(
        events[0]["type"],
        "opened",
        "opened comes first\n{}",
        describe(&o)
    );
    assert_eq!(
        events.last().unwrap()["type"],
        "closed",
        "closed comes last\n{}",
        describe(&o)
    );
    let ts: Vec<f64> = events.iter().map(|e| e["ts"].as_f64().unwrap()).collect();
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "ts should not go backwards: {ts:?}"
    );
    let opened = &of_type(&events, "opened")[0];
    assert!(opened["timings"]["tls"].is_null());
    assert_eq!(opened["url"], peer.url());
    let received = &of_type(&events, "received")[0];
    assert_eq!(received["kind"], "text");
    assert_eq!(received["text"], "hello");
    assert_eq!(received["len"], 5);
    // Our own pings every 200ms within the 1s wait, answered by the server.
    let pong_in: Vec<_> = of_type(&events, "pong")
        .into_iter()
        .filter(|e| e["direction"] == "in")
        .collect();
    assert!(
        !pong_in.is_empty(),
        "no pong from the server\n{}",
        describe(&o)
    );
    assert!(
        pong_in[0]["rtt"].is_number(),
        "rtt of an answered ping: {}",
        pong_in[0]
    );
    let c = closed_event(&events);
    assert_eq!(c["code"], 1000);
    assert_eq!(c["initiator"], "client");
    assert_eq!(c["wasClean"], true);
}

#[test]
fn json_schema_binary() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let o = run_with_stdin(connect(peer.url()).args(["--json", "--binary"]), b"abc\n");
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let sent = of_type(&events, "sent");
    assert_eq!(sent.len(), 1, "{}", describe(&o));
    assert_eq!(sent[0]["kind"], "binary");
    assert_eq!(sent[0]["base64"], "YWJj");
    assert_eq!(sent[0]["len"], 3);
    let received = of_type(&events, "received");
    assert_eq!(received.len(), 1, "{}", describe(&o));
    assert_eq!(received[0]["kind"], "binary");
    assert_eq!(received[0]["base64"], "YWJj");
}

#[test]
fn schema_validator_rejects_bad_events() {
    // Guards the validator itself: it must be able to fail.
    let check = |v: Value| Schema::Connect.check(&v);
    assert!(
        check(
            json!({"type": "sent", "ts": 0.1, "kind": "text", "len": 1, "text": "a", "fragments": 1,
            "compressed": false, "wire_len": 7})
        )
        .is_ok()
    );
    // An uncompressed message cannot be smaller on the wire than its payload and header.
    assert!(
        check(
            json!({"type": "sent", "ts": 0.1, "kind": "text", "len": 1, "text": "a", "fragments": 1,
            "compressed": false, "wire_len": 2})
        )
        .is_err()
    );
    assert!(
        check(json!({"type": "sent", "ts": 0.1, "kind": "text", "len": 1, "text": "a"})).is_err()
    );
    assert!(check(json!({"ts": 0.1})).is_err());
    assert!(check(json!({"type": "closed", "ts": "0", "code": 1000})).is_err());
    let closed = json!({"type": "closed", "ts": 1.0, "code": 1000, "name": "normal",
        "reason": "", "wasClean": true, "initiator": "nobody", "code_valid": true});
    assert!(check(closed).is_err());
}

// ------------------------------------------------------------------ bad input

#[test]
fn http_url_is_usage_error() {
    let o = run(&mut connect("http://x"));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
}

#[test]
fn forbidden_close_code_is_usage_error() {
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(connect(&url).args(["--close", "1005"]));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
}

#[test]
fn close_reason_over_123_bytes_is_usage_error() {
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(connect(&url)
        .arg("--close")
        .arg(format!("1000:{}", "r".repeat(124))));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
}

#[test]
fn missing_arguments_are_named() {
    let o = run(wsbeat().arg("connect"));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
    assert_contains(&stderr_of(&o), "were not provided: <URL>", &o);
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(connect(&url).args(["--cert", "c.pem"]));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
    assert_contains(&stderr_of(&o), "--key <FILE>", &o);
}

#[test]
fn empty_host_is_usage_error() {
    let o = run(&mut connect("ws://:80/"));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
    assert_contains(&stderr_of(&o), "has no host", &o);
}

#[test]
fn subprotocol_must_be_a_token() {
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(connect(&url).args(["-s", "two words"]));
    assert_exit(&o, 2);
    assert_one_error_line(&o);
    assert_contains(&stderr_of(&o), "not a valid subprotocol name", &o);
}

/// SIGTERM stops a scripted connect the way Ctrl-C does: it closes with 1000, the peer sees
/// that close, and the exit is 130 (one signal state machine for every command).
#[test]
fn sigterm_closes_with_1000_and_exits_130() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let mut p = Proc::spawn(
        "wsbeat connect",
        connect(peer.url()).args(["--json", "--send", "hi", "--wait", "30s"]),
    );
    p.wait_event("received", T);
    p.signal(libc::SIGTERM);
    let status = p.finish(T);
    assert_eq!(status.code(), Some(130), "{}", p.dump());
    let closed: Vec<Value> = p
        .events()
        .into_iter()
        .filter(|e| e["type"] == "closed")
        .collect();
    assert_eq!(closed.len(), 1, "{}", p.dump());
    assert_eq!(
        (&closed[0]["code"], &closed[0]["initiator"]),
        (&json!(1000), &json!("client"))
    );
    assert_eq!(peer.wait_event("closed", T)["code"], 1000);
}
