//! `soak --socketio` against the real socket.io v4 server (`tests/peers/socketio/echo_server.js`,
//! which echoes every event to its sender) and against our own `echo-server --socketio`.
//! The heartbeat runs last several pingInterval + pingTimeout periods on purpose: that the
//! connections outlive them is what they test.

use super::{n, read_report, soak};
use crate::common::*;
use serde_json::Value;
use std::process::Output;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// The real socket.io server, pinging every second and waiting a second for the pong.
fn sio_peer(args: &[&str]) -> Peer {
    let mut cmd = std::process::Command::new("node");
    cmd.arg(peers_dir().join("socketio/echo_server.js"))
        .args(["--ping-interval", "1000", "--ping-timeout", "1000"])
        .args(args);
    Peer::spawn("socket.io", cmd)
}

#[track_caller]
fn assert_exact(r: &Value, out: &Output) {
    let ctx = || format!("{r:#}\n{}", describe(out));
    assert!(n(r, "messages.sent") > 0, "{}", ctx());
    assert_eq!(
        n(r, "messages.echoed"),
        n(r, "messages.sent"),
        "every event came back once: {}",
        ctx()
    );
    // Engine.IO pings and other control packets are no data, in the run or in its drain.
    assert_eq!(
        n(r, "messages.received"),
        n(r, "messages.echoed"),
        "only echoes counted as received: {}",
        ctx()
    );
    for what in [
        "missing",
        "duplicated",
        "reordered",
        "corrupted",
        "dropped",
        "unsent",
        "lost_in_flight",
    ] {
        assert_eq!(n(r, &format!("messages.{what}")), 0, "{what}: {}", ctx());
    }
}

/// 200 connections for 5 s, each joining, emitting numbered `message` events and answering the
/// server's pings (1 s + 1 s: a client that did not answer would be dropped after 2 s): nothing
/// lost, no error, no reconnect.
#[test]
fn two_hundred_connections_to_the_socket_io_server_lose_nothing_and_stay_up() {
    if !require_peer("node") {
        return;
    }
    let p = sio_peer(&[]);
    let (out, r) = soak(&[
        p.url(),
        "--socketio",
        "-c",
        "200",
        "-d",
        "5s",
        "--message-rate",
        "5",
        "--no-live",
    ]);
    assert_exit(&out, 0);
    assert_exact(&r, &out);
    assert_eq!(n(&r, "connections.peak_open"), 200, "{r:#}");
    assert_eq!(n(&r, "connections.open_at_end"), 200, "{r:#}");
    assert_eq!(n(&r, "connections.reconnects"), 0, "{r:#}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r:#}");
    assert_eq!(r["config"][0]["socketio"]["namespace"], "/", "{r:#}");
    assert_contains(
        &stdout_of(&out),
        "/socket.io/?EIO=4&transport=websocket",
        &out,
    );
}

/// A namespace with an auth payload; the wrong auth is CONNECT_ERROR, its own error kind, and
/// the refused connections back off instead of retrying every 100 ms.
#[test]
fn namespace_and_auth_are_joined_and_a_refusal_is_counted_and_backs_off() {
    if !require_peer("node") {
        return;
    }
    let p = sio_peer(&["--auth", "s3cret"]);
    let url = p.url_with("socket.io/");
    let (out, r) = soak(&[
        &url,
        "--namespace",
        "/chat",
        "--sio-auth",
        r#"{"token":"s3cret"}"#,
        "-c",
        "20",
        "-d",
        "2s",
        "--message-rate",
        "10",
        "--no-live",
    ]);
    assert_exit(&out, 0);
    assert_exact(&r, &out);
    assert_eq!(r["config"][0]["socketio"]["namespace"], "/chat", "{r:#}");

    let (out, r) = soak(&[
        &url,
        "--sio-auth",
        r#"{"token":"wrong"}"#,
        "-c",
        "10",
        "-d",
        "3s",
        "--no-live",
        "--max-loss",
        "1000000",
    ]);
    let refused = n(&r, "errors.sio_connect_error");
    assert!(refused >= 10, "{r:#}\n{}", describe(&out));
    // Backoff 100ms..10s from a connection refused at once: ~0.1, 0.3, 0.7, 1.5, 3.1 s, so at
    // most 6 tries each in 3 s (a reconnect every 100 ms would be 30).
    assert!(refused <= 10 * 6, "a reconnect storm: {r:#}");
    assert_eq!(n(&r, "messages.echoed"), 0, "{r:#}");
}

/// The server is killed mid-soak and restarted on the same port a second later: every
/// connection comes back, what was in flight is sent again, nothing is lost, and the attempts
/// while it was away follow the backoff (no reconnect storm).
#[test]
fn socket_io_server_restart_recovers_without_a_reconnect_storm() {
    if !require_peer("node") {
        return;
    }
    let mut server = sio_peer(&["--announce-after", "1000"]);
    let port = server.port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    let mut cmd = wsbeat();
    cmd.arg("soak")
        .arg(server.url())
        .args([
            "--socketio",
            "-c",
            "200",
            "-d",
            "7s",
            "--message-rate",
            "5",
            "--no-live",
            "--json",
        ])
        .arg(&file);
    let soak = std::thread::spawn(move || run(&mut cmd));
    server.wait_event("echoed", WAIT);
    drop(server); // kill -9 and wait: the listening socket and every connection are gone
    // The outage itself is the fault under test: a second with nothing listening.
    std::thread::sleep(Duration::from_secs(1));
    let _again = sio_peer(&["--port", &port]);
    let out = soak.join().unwrap();
    let r = read_report(&file, &describe(&out));
    let ctx = || format!("{r:#}\n{}", describe(&out));
    assert_exit(&out, 0);
    // Sent counts a message again when it is replayed; each came back at least once.
    for what in [
        "missing",
        "duplicated",
        "corrupted",
        "dropped",
        "unsent",
        "lost_in_flight",
    ] {
        assert_eq!(n(&r, &format!("messages.{what}")), 0, "{what}: {}", ctx());
    }
    assert!(
        n(&r, "messages.echoed") >= n(&r, "messages.sent") - n(&r, "messages.replayed"),
        "{}",
        ctx()
    );
    let reconnects = n(&r, "connections.reconnects");
    assert!(
        (200..=400).contains(&reconnects),
        "each connection reconnects about once: {}",
        ctx()
    );
    // A second away with backoff 100ms..10s: ~4 failed attempts each (0.1, 0.3, 0.7, 1.5 s).
    assert!(
        n(&r, "connections.failed") <= 200 * 6,
        "a reconnect storm: {}",
        ctx()
    );
    assert_eq!(n(&r, "connections.open_at_end"), 200, "{}", ctx());
    assert!(n(&r, "messages.replayed") > 0, "{}", ctx());
}

/// `wsbeat echo-server --socketio`.
fn our_server(args: &[&str]) -> (Proc, String) {
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--socketio", "--listen", "127.0.0.1:0"])
        .args(args);
    let proc = Proc::spawn("echo-server --socketio", &mut cmd);
    let first = proc
        .out
        .wait(WAIT, |_| true)
        .unwrap_or_else(|| panic!("no listening line\n{}", proc.dump()));
    let url = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("expected `listening on http://…/`, got {first:?}"));
    let url = format!("ws://{url}");
    (proc, url)
}

/// Our own socket.io server, pinging every 500 ms: lossless over many ping periods.
#[test]
fn soak_of_our_own_socket_io_echo_server_is_lossless() {
    let (_server, url) = our_server(&["--ping-interval", "500ms", "--ping-timeout", "500ms"]);
    let (out, r) = soak(&[
        &url,
        "--socketio",
        "-c",
        "50",
        "-d",
        "4s",
        "--message-rate",
        "10",
        "--no-live",
    ]);
    assert_exit(&out, 0);
    assert_exact(&r, &out);
    assert_eq!(n(&r, "connections.reconnects"), 0, "{r:#}");
    assert_eq!(r["errors"], serde_json::json!({}), "{r:#}");
}

/// A server that stops pinging (`--no-pong`) is dead after pingInterval + pingTimeout:
/// counted as `ping_timeout`, once per connection when it may not reconnect.
#[test]
fn a_server_that_stops_pinging_is_a_ping_timeout() {
    let (_server, url) = our_server(&[
        "--ping-interval",
        "300ms",
        "--ping-timeout",
        "300ms",
        "--no-pong",
    ]);
    let (out, r) = soak(&[
        &url,
        "--socketio",
        "-c",
        "5",
        "-d",
        "3s",
        "--message-rate",
        "10",
        "--no-reconnect",
        "--no-live",
        "--max-loss",
        "1000000",
    ]);
    assert_eq!(n(&r, "errors.ping_timeout"), 5, "{r:#}\n{}", describe(&out));
    assert_eq!(n(&r, "connections.open_at_end"), 0, "{r:#}");
}
