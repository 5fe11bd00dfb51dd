//! `wsbeat connect --socketio` against the real socket.io v4 server (npm `socket.io`,
//! `tests/peers/socketio/server.js`, heartbeat 1 s + 1 s) and against our own
//! `echo-server --socketio`. The heartbeat tests last several heartbeat periods on purpose:
//! the duration is what they test.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::tmux::Tmux;
use crate::common::{self, Peer, Proc, Schema, of_type, parse_ndjson, require_peer};

/// The socket.io server with pingInterval 1 s and pingTimeout 1 s.
fn sio_peer() -> Peer {
    let mut cmd = Command::new("node");
    cmd.arg(common::peers_dir().join("socketio/server.js"))
        .args(["1000", "1000"]);
    Peer::spawn("socket.io server", cmd)
}

fn connect(url: &str, args: &[&str], stdin: Option<&[u8]>) -> std::process::Output {
    let mut cmd = common::wsbeat();
    cmd.args(["connect", url, "--json"]).args(args);
    common::run_timeout(&mut cmd, stdin, Duration::from_secs(30))
}

fn events_named<'a>(events: &'a [Value], name: &str) -> Vec<&'a Value> {
    of_type(events, "sio_event")
        .into_iter()
        .filter(|e| e["event"] == name)
        .collect()
}

#[test]
fn events_acks_and_binary_attachments_both_ways() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    let o = connect(
        peer.url(),
        &[
            "--socketio",
            "--emit",
            "greet",
            r#"["hi",{"n":1}]"#,
            "--emit-ack",
            "ping",
            "[1]",
            "--emit",
            "bin",
            r#""x""#,
            "--expect",
            r#"^\["bin""#,
        ],
        None,
    );
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    let opened = &of_type(&ev, "opened")[0];
    assert!(
        opened["url"]
            .as_str()
            .unwrap()
            .ends_with("/socket.io/?EIO=4&transport=websocket"),
        "{opened}"
    );
    let open = &of_type(&ev, "sio_open")[0];
    assert_eq!(
        (&open["ping_interval"], &open["ping_timeout"]),
        (&json!(1.0), &json!(1.0))
    );
    assert_eq!(open["max_payload"], 1_000_000);
    assert!(!open["sid"].as_str().unwrap().is_empty());
    assert_eq!(of_type(&ev, "sio_connected")[0]["namespace"], "/");
    assert_eq!(
        events_named(&ev, "welcome")[0]["args"],
        json!([{"hello": "world"}])
    );
    assert_eq!(
        events_named(&ev, "greet")[0]["args"],
        json!(["hi", {"n": 1}])
    );
    let ack = &of_type(&ev, "sio_ack")[0];
    assert_eq!((&ack["id"], &ack["args"]), (&json!(0), &json!(["ack", 1])));
    assert!(ack["rtt"].as_f64().unwrap() >= 0.0, "{ack}");
    // The server's Buffer came as a BINARY_EVENT attachment and is back in its place.
    assert_eq!(
        events_named(&ev, "bin")[0]["args"],
        json!([{"_binary": "AQID"}, "x"])
    );
    assert_eq!(of_type(&ev, "expect").len(), 1);
    // We left the namespace before closing, as socket.disconnect() does.
    let bye = of_type(&ev, "sio_disconnect");
    assert_eq!(bye[0]["reason"], "io client disconnect");
}

#[test]
fn human_output_shows_events_and_the_open_packet() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    let url = peer.url_with("socket.io/");
    let mut cmd = common::wsbeat();
    // The /socket.io/ path implies --socketio.
    cmd.args(["connect", &url, "--emit", "say", "\"a\\u001b[2Jb\""]);
    cmd.args(["--expect", "say"]);
    let o = common::run(&mut cmd);
    common::assert_exit(&o, 0);
    let out = common::stdout_of(&o);
    assert!(out.contains(r#"event welcome {"hello":"world"}"#), "{out}");
    // The escape character reaches stdout escaped, never raw.
    assert!(out.contains(r#"event say "a\u001b[2Jb""#), "{out}");
    assert!(!out.contains('\x1b'));
    let err = common::stderr_of(&o);
    assert!(
        err.contains("pingInterval=1.00 s pingTimeout=1.00 s maxPayload=1000000"),
        "{err}"
    );
    assert!(err.contains("socket.io: joined namespace /"), "{err}");
}

#[test]
fn namespace_with_auth_accepted_and_refused() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    let o = connect(
        peer.url(),
        &[
            "--socketio",
            "--namespace",
            "/chat",
            "--sio-auth",
            r#"{"token":"secret"}"#,
            "--expect",
            "joined",
        ],
        None,
    );
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    assert_eq!(of_type(&ev, "sio_connected")[0]["namespace"], "/chat");
    let joined = &events_named(&ev, "joined")[0];
    assert_eq!(
        (&joined["namespace"], &joined["args"]),
        (&json!("/chat"), &json!(["/chat"]))
    );

    let o = connect(
        peer.url(),
        &[
            "--socketio",
            "--namespace",
            "chat",
            "--sio-auth",
            r#"{"token":"wrong"}"#,
        ],
        None,
    );
    common::assert_exit(&o, 5);
    let ev = parse_ndjson(Schema::Connect, &o);
    assert!(of_type(&ev, "sio_connected").is_empty());
    let err = &of_type(&ev, "error")[0];
    assert_eq!(err["kind"], "sio_connect_error");
    assert!(
        err["message"].as_str().unwrap().contains("not authorized"),
        "{err}"
    );
}

#[test]
fn stdin_lines_are_message_events() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    let o = connect(
        peer.url(),
        &["--socketio", "--wait", "2s"],
        Some(b"hello\nworld\n"),
    );
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    let emitted: Vec<&Value> = of_type(&ev, "sio_emit")
        .into_iter()
        .map(|e| &e["args"])
        .collect();
    assert_eq!(emitted, [&json!(["hello"]), &json!(["world"])]);
    let echoed: Vec<&Value> = events_named(&ev, "message")
        .into_iter()
        .map(|e| &e["args"])
        .collect();
    assert_eq!(echoed, [&json!(["hello"]), &json!(["world"])]);
}

#[test]
fn stays_up_for_many_heartbeats_answering_every_ping() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    // 3 × (pingInterval + pingTimeout) = 6 s; a client that never answered would be dropped
    // after 2 s.
    let o = connect(peer.url(), &["--socketio", "--wait", "7s"], None);
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    let pings = of_type(&ev, "sio_ping");
    assert!(
        pings.len() >= 3,
        "{} pings\n{}",
        pings.len(),
        common::describe(&o)
    );
    let pongs = of_type(&ev, "sent")
        .into_iter()
        .filter(|s| s["text"] == "3")
        .count();
    assert_eq!(pongs, pings.len());
    assert_eq!(pings.last().unwrap()["count"], json!(pings.len()));
    assert!(of_type(&ev, "error").is_empty(), "{}", common::describe(&o));
    assert_eq!(
        of_type(&ev, "sio_disconnect")[0]["reason"],
        "io client disconnect"
    );
}

#[test]
fn a_server_that_stops_pinging_is_a_ping_timeout() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    // `mute` stops the server's pings on this connection; the TCP connection stays up.
    let o = connect(
        peer.url(),
        &[
            "--socketio",
            "--emit-ack",
            "mute",
            "[]",
            "--expect",
            "never sent",
            "--step-timeout",
            "forever",
        ],
        None,
    );
    common::assert_exit(&o, 6);
    let ev = parse_ndjson(Schema::Connect, &o);
    let err = &of_type(&ev, "error")[0];
    assert_eq!(err["kind"], "ping_timeout");
    assert!(
        err["message"].as_str().unwrap().contains("ping timeout"),
        "{err}"
    );
    let gone = &of_type(&ev, "sio_disconnect")[0];
    assert_eq!(gone["reason"], "ping timeout");
    // Detected at pingInterval + pingTimeout (2 s) after the last ping or the open packet,
    // not before (less 10 ms: an event's time is stamped when it is written, just after the
    // deadline was set); the upper bound is a margin against a hang, not a speed target.
    let last_ping = of_type(&ev, "sio_ping")
        .last()
        .map(|p| p["ts"].as_f64().unwrap())
        .unwrap_or_else(|| of_type(&ev, "sio_open")[0]["ts"].as_f64().unwrap());
    let waited = gone["ts"].as_f64().unwrap() - last_ping;
    assert!((1.99..10.0).contains(&waited), "waited {waited} s");
    let closed = &of_type(&ev, "closed")[0];
    assert_eq!(closed["code"], 1006);
}

#[test]
fn a_server_disconnect_is_reported() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    let o = connect(
        peer.url(),
        &["--socketio", "--emit", "bye", "[]", "--wait", "forever"],
        None,
    );
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    assert_eq!(
        of_type(&ev, "sio_disconnect")[0]["reason"],
        "io server disconnect"
    );
}

#[test]
fn socketio_options_need_socketio() {
    let mut cmd = common::wsbeat();
    cmd.args(["connect", "ws://127.0.0.1:9/", "--emit", "a", "1"]);
    let o = common::run(&mut cmd);
    common::assert_exit(&o, 2);
    let mut cmd = common::wsbeat();
    cmd.args([
        "connect",
        "ws://127.0.0.1:9/",
        "--socketio",
        "--emit",
        "a",
        "{oops",
    ]);
    let o = common::run(&mut cmd);
    common::assert_exit(&o, 2);
    assert!(common::stderr_of(&o).contains("not JSON"));
}

#[test]
fn against_our_own_echo_server() {
    let mut cmd = common::wsbeat();
    cmd.args(["echo-server", "--socketio", "--listen", "127.0.0.1:0"]);
    let server = Proc::spawn("echo-server --socketio", &mut cmd);
    let first = server
        .out
        .wait(Duration::from_secs(15), |_| true)
        .unwrap_or_else(|| panic!("no listening line\n{}", server.dump()));
    let url = first
        .strip_prefix("listening on http://")
        .map(|rest| format!("ws://{rest}"))
        .unwrap_or_else(|| panic!("odd first line {first:?}"));
    let o = connect(
        &url,
        &["--socketio", "--emit-ack", "greet", r#"["hello",{"n":1}]"#],
        None,
    );
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    assert_eq!(of_type(&ev, "sio_connected").len(), 1);
    let ack = &of_type(&ev, "sio_ack")[0];
    assert_eq!(ack["id"], 0);
    assert!(ack["rtt"].is_number());
}

#[test]
fn ping_times_emits_to_their_acks_and_the_servers_heartbeat() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    let mut cmd = common::wsbeat();
    cmd.args([
        "ping",
        peer.url(),
        "--socketio",
        "-c",
        "3",
        "-i",
        "0.1s",
        "--json",
    ]);
    let o = common::run(&mut cmd);
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Ping, &o);
    let seqs: Vec<&Value> = of_type(&ev, "pong").iter().map(|p| &p["seq"]).collect();
    assert_eq!(seqs, [&json!(1), &json!(2), &json!(3)]);
    let summary = &of_type(&ev, "summary")[0];
    assert_eq!(
        (&summary["sent"], &summary["received"]),
        (&json!(3), &json!(3))
    );

    // --engineio: the gaps between the server's pings (1 s configured), nothing emitted.
    let mut cmd = common::wsbeat();
    cmd.args([
        "ping",
        &peer.url_with("socket.io/"),
        "--engineio",
        "-c",
        "2",
    ]);
    let o = common::run(&mut cmd);
    common::assert_exit(&o, 0);
    let out = common::stdout_of(&o);
    assert!(out.contains("engine.io ping from"), "{out}");
    assert!(out.contains("2 server pings, 2 answered"), "{out}");
    assert!(
        out.contains("interval between server pings (as seen here) min/avg/max/mdev"),
        "{out}"
    );

    // A refused namespace is exit 5, as in connect.
    let mut cmd = common::wsbeat();
    cmd.args([
        "ping",
        peer.url(),
        "--socketio",
        "--namespace",
        "/chat",
        "-c",
        "1",
    ]);
    let o = common::run(&mut cmd);
    common::assert_exit(&o, 5);
    assert!(common::stderr_of(&o).contains("not authorized"));
}

#[test]
fn interactive_emit_ack_and_namespace() {
    if !require_peer("node") || !require_peer("tmux") {
        return;
    }
    let peer = sio_peer();
    let script = format!(
        "env -i PATH=\"$PATH\" HOME=\"$HOME\" TERM=screen NO_COLOR=1 '{bin}' connect '{url}' --socketio; \
         echo EXIT=$?; echo END-OF-RUN; exec sleep 120",
        bin = env!("CARGO_BIN_EXE_wsbeat"),
        url = peer.url()
    );
    let t = Tmux::start(120, 40, common::OBS_TIMEOUT, &script);
    t.wait_text("socket.io: joined namespace /");
    // A typed line is a `message` event, which the server echoes.
    t.line("hello there");
    t.wait_text(r#"< event message "hello there""#);
    t.line(r#"/emit greet {"a":1}"#);
    t.wait_text(r#"< event greet {"a":1}"#);
    t.line("/ack");
    t.wait_text("no event is waiting for an ack");
    t.line("/emit ask");
    t.wait_text(r#"< event question "why?" (asks for an ack"#);
    t.line(r#"/ack ["because",42]"#);
    t.wait_text(r#"< event answered "because" 42"#);
    // /chat wants auth: the switch is refused, which ends the session with exit 5.
    t.line("/namespace /chat");
    t.wait_text("refused the connection: not authorized");
    let screen = t.wait_text("END-OF-RUN");
    assert!(screen.contains("EXIT=5\n"), "{screen}");
}

#[test]
fn a_ping_timeout_reconnects_with_reconnect() {
    if !require_peer("node") {
        return;
    }
    let peer = sio_peer();
    // Every connection mutes the server again, so each one times out after 2 s and the
    // session reconnects (with the backoff) until --timeout ends it.
    let o = connect(
        peer.url(),
        &[
            "--socketio",
            "--emit",
            "mute",
            "[]",
            "--wait",
            "forever",
            "--reconnect",
            "--timeout",
            "6s",
        ],
        None,
    );
    common::assert_exit(&o, 0);
    let ev = parse_ndjson(Schema::Connect, &o);
    let reasons: Vec<&Value> = of_type(&ev, "sio_disconnect")
        .iter()
        .map(|d| &d["reason"])
        .collect();
    assert!(reasons.len() >= 2, "{reasons:?}");
    assert_eq!(reasons[0], "ping timeout");
    assert_eq!(
        reasons.last().unwrap().as_str(),
        Some("io client disconnect")
    );
    let reconnected = of_type(&ev, "reconnected").len();
    assert!(reconnected >= 1);
    // Each new connection joined the namespace again.
    assert_eq!(of_type(&ev, "sio_connected").len(), reconnected + 1);
    // Not a storm: each reconnect waited out a backoff.
    assert!(
        of_type(&ev, "reconnecting")
            .iter()
            .all(|r| r["delay"].as_f64().unwrap() > 0.0)
    );
}
