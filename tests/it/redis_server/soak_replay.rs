//! `soak --buffer 0 --server-replay` across a graceful restart of `echo-server --replay`:
//! soak keeps no copy of its own, so every message in flight at the restart comes back only
//! through the server's replay (`?since=`). With Redis nothing is missing; with the replay in
//! the old process's memory (the control) what it held is gone with it.
//!
//! Deterministic, not lucky: the server delays every broadcast by `--delay 1s`, and soak sends
//! every 50 ms, so at the SIGTERM each connection has about 20 messages read by the server and
//! not yet echoed. The server stores them as it closes (they are never delivered live), so the
//! replay after the reconnect must bring them: `server_replayed` > 0 on every run.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::common::{self, Proc, RedisServer};
use crate::soak::n;

const START: Duration = Duration::from_secs(15);
const WAIT: Duration = Duration::from_secs(10);
/// Soak connections, each in a room of its own with a client id of its own.
const CONNS: u64 = 4;

fn server(port: u16, keep: &str, replay: &[&str]) -> Proc {
    let mut cmd = common::wsbeat();
    cmd.args(["echo-server", "--json", "-v", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--broadcast", "--replay", keep, "--delay", "1s"])
        .args(replay);
    let proc = Proc::spawn("echo-server", &mut cmd);
    proc.wait_event("listening", START);
    proc
}

/// Soak (4 connections, 6 s, 20 messages/s each, no buffer of its own) against the server
/// started with `replay`; once every connection has had messages read by the server, the
/// server is stopped with SIGTERM and started again on the same port. Soak's report and the
/// first server's summary.
fn soak_across_a_graceful_restart(
    keep: &str,
    replay: &[&str],
    dir: &Path,
) -> (Value, Value, String) {
    let port = common::free_port();
    let mut first = server(port, keep, replay);
    let file = dir.join("soak.json");
    let mut cmd = common::wsbeat();
    cmd.arg("soak")
        .arg(format!(
            "ws://127.0.0.1:{port}/room-{{conn}}?user=u{{conn}}"
        ))
        .args(["-c", &CONNS.to_string(), "-d", "6s", "--message-rate", "20"])
        .args([
            "--buffer",
            "0",
            "--server-replay",
            "--backoff",
            "100ms..200ms",
        ])
        // What fell due while down is dropped (no buffer); that is not what this measures.
        .args(["--max-loss", "1000000", "--no-live", "--json"])
        .arg(&file);
    let mut soak = Proc::spawn("soak", &mut cmd);
    // Every connection has had 30 messages read (1.5 s at 20/s): the first echoes came back
    // (the reconnect resumes after them, `since` > 0) and a second's worth waits out its delay.
    let mut seen = std::collections::BTreeMap::<u64, u64>::new();
    first.wait_out("with 30 messages from each soak connection", WAIT, |l| {
        if let Ok(v) = serde_json::from_str::<Value>(l)
            && v["type"] == "message"
        {
            *seen.entry(v["id"].as_u64().unwrap_or(0)).or_default() += 1;
        }
        seen.len() as u64 == CONNS && seen.values().all(|&c| c >= 30)
    });
    first.signal(libc::SIGTERM);
    assert!(first.finish(WAIT).success(), "{}", first.dump());
    let summary = first
        .events()
        .into_iter()
        .find(|v| v["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary\n{}", first.dump()));
    let _again = server(port, keep, replay);
    let status = soak.finish(Duration::from_secs(30));
    let dump = soak.dump();
    assert!(status.success(), "{dump}");
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{e}\n{dump}"));
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{dump}"));
    (report, summary, dump)
}

#[test]
fn soak_without_a_buffer_misses_nothing_across_a_restart_through_the_servers_replay() {
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (r, first, dump) =
        soak_across_a_graceful_restart("100", &["--redis", &redis.url()], dir.path());
    let ctx = || format!("{r:#}\nfirst server: {first:#}\n{dump}");
    let m = &r["messages"];
    for zero in [
        "missing",
        "lost_in_flight",
        "unsent",
        "corrupted",
        "duplicated",
        "others",
    ] {
        assert_eq!(n(m, zero), 0, "{zero}: {}", ctx());
    }
    assert!(n(&r, "connections.reconnects") >= CONNS, "{}", ctx());
    assert_eq!(n(m, "replayed"), 0, "soak sent nothing again: {}", ctx());
    // Every message sent came back exactly once, and nothing else came.
    assert!(n(m, "sent") > 0, "{}", ctx());
    assert_eq!(n(m, "echoed"), n(m, "sent"), "{}", ctx());
    assert_eq!(n(m, "received"), n(m, "sent"), "{}", ctx());
    // About 20 per connection were delayed at the SIGTERM: stored as the server closed,
    // delivered by the second server's replay.
    assert!(n(m, "server_replayed") >= CONNS, "{}", ctx());
    assert!(
        n(&first["scale"], "stored") >= n(m, "server_replayed"),
        "{}",
        ctx()
    );
    assert_eq!(n(m, "unstored"), 0, "{}", ctx());
}

/// The same with a log of 5 per room: about 20 per connection were in flight at the
/// restart, so the replay starts with `[replay cut=K …]` and gives the last 5. What soak
/// misses is exactly what the server said it cut.
#[test]
fn what_the_servers_replay_cuts_is_what_soak_misses() {
    if !common::require_peer("redis") {
        return;
    }
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (r, first, dump) =
        soak_across_a_graceful_restart("5", &["--redis", &redis.url()], dir.path());
    let ctx = || format!("{r:#}\nfirst server: {first:#}\n{dump}");
    let m = &r["messages"];
    assert!(n(m, "server_cut") >= CONNS, "{}", ctx());
    assert_eq!(n(m, "missing"), n(m, "server_cut"), "{}", ctx());
    assert_eq!(n(m, "echoed") + n(m, "missing"), n(m, "sent"), "{}", ctx());
    assert!(n(m, "server_replayed") >= CONNS, "{}", ctx());
    for zero in ["corrupted", "duplicated", "others", "lost_in_flight"] {
        assert_eq!(n(m, zero), 0, "{zero}: {}", ctx());
    }
}

/// The control: the same with the replay kept in the first server's memory. What it held at
/// the SIGTERM is gone with it, and soak, with no buffer of its own, says so: missing.
#[test]
fn without_redis_the_messages_in_flight_at_a_restart_are_missing() {
    let dir = tempfile::tempdir().unwrap();
    let (r, first, dump) = soak_across_a_graceful_restart("100", &[], dir.path());
    let ctx = || format!("{r:#}\nfirst server: {first:#}\n{dump}");
    let m = &r["messages"];
    assert!(n(&r, "connections.reconnects") >= CONNS, "{}", ctx());
    assert!(n(m, "missing") >= CONNS, "{}", ctx());
    assert_eq!(n(m, "server_replayed"), 0, "{}", ctx());
    assert_eq!(
        n(m, "echoed") + n(m, "missing"),
        n(m, "sent"),
        "each message sent is echoed or missing, once: {}",
        ctx()
    );
}

/// Several soak connections in one room (one client id each): every connection also gets the
/// others' messages. They are counted as `others`, never as corrupted or as echoes.
#[test]
fn connections_sharing_a_room_count_each_others_messages_as_others() {
    let port = common::free_port();
    let mut server = server(port, "100", &[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("soak.json");
    let mut cmd = common::wsbeat();
    cmd.arg("soak")
        .arg(format!("ws://127.0.0.1:{port}/shared?user=u{{conn}}"))
        .args([
            "-c",
            "3",
            "-d",
            "2s",
            "--message-rate",
            "10",
            "--server-replay",
        ])
        .args(["--no-live", "--json"])
        .arg(&file);
    let mut soak = Proc::spawn("soak", &mut cmd);
    let status = soak.finish(Duration::from_secs(20));
    server.signal(libc::SIGTERM);
    assert!(server.finish(WAIT).success(), "{}", server.dump());
    assert!(status.success(), "{}", soak.dump());
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let m = &r["messages"];
    let ctx = || format!("{r:#}\n{}", soak.dump());
    assert!(n(m, "sent") > 0, "{}", ctx());
    for zero in ["missing", "corrupted", "duplicated", "server_replayed"] {
        assert_eq!(n(m, zero), 0, "{zero}: {}", ctx());
    }
    assert_eq!(n(m, "echoed"), n(m, "sent"), "{}", ctx());
    // Each message reaches the two others, unless one had closed at the end of the run
    // (a connection closes once its own echoes are in).
    let others = n(m, "others");
    assert!(others > 0 && others <= 2 * n(m, "sent"), "{}", ctx());
    assert_eq!(
        n(m, "received"),
        n(m, "echoed") + n(m, "others"),
        "{}",
        ctx()
    );
}
