//! Nothing lost silently: a server stops reading (its receive window closes), the client goes
//! on writing into its own send queue, and the server dies. What its TCP never acknowledged
//! is reported as possibly lost, and `--resend-unconfirmed` sends it again after the
//! reconnect (`tests/peers/resilience/stall_server.py`).
//!
//! Not by luck: the server reads exactly 25 messages, says so, and only then does the test
//! write the rest; a 256 KiB message that cannot fit the server's 4 KiB receive buffer comes
//! first, so every byte after it is still in the client's send queue when the server is
//! reset. The server reports how much it held unread, which the kernel had acknowledged.

use super::resilience::{Client, texts};
use crate::common::*;
use serde_json::Value;

const T: std::time::Duration = OBS_TIMEOUT;
const FILLER: usize = 256 * 1024;

struct Outcome {
    status: Option<i32>,
    events: Vec<Value>,
    stderr: String,
    /// What connection 2 (the reconnect) received.
    second: Vec<String>,
    /// Bytes connection 1 held acknowledged but unread when it was reset.
    unread: u64,
}

/// `preamble`: 1 when `extra` has a `--send` (sent first on every connection).
fn stall_then_die(extra: &[&str], preamble: usize) -> Outcome {
    let stall_after = (25 + preamble).to_string();
    let mut peer = Peer::python_script(
        "stall",
        "resilience/stall_server.py",
        &["--stall-after", &stall_after],
    );
    let mut args = vec![
        "--reconnect",
        "--backoff",
        "50ms..100ms",
        "--max-reconnects",
        "20",
        "--wait",
        "200ms",
    ];
    args.extend_from_slice(extra);
    let mut client = Client::start(peer.url(), &args);
    for i in 1..=25 {
        client.line(&format!("msg-{i}"));
    }
    peer.wait_event("stalled", T);
    client.line(&format!("fill-{}", "x".repeat(FILLER - 5)));
    for i in 26..=30 {
        client.line(&format!("msg-{i}"));
    }
    // Everything is "sent" (in the kernel's hands) before the server dies.
    client.wait_for("sent msg-30", |v| {
        v["type"] == "sent" && v["text"] == "msg-30"
    });
    peer.signal(libc::SIGUSR1);
    let killed = peer.wait_event("killed", T);
    client.wait_type("reconnected");
    if extra.contains(&"--resend-unconfirmed") {
        peer.observations_until(|v| v["n"] == 2 && v["data"] == "msg-30", T);
    }
    client.close_stdin();
    let (status, events, stderr) = client.finish();
    peer.observations_until(|v| v["event"] == "closed" && v["n"] == 2, T);
    let second = peer
        .events("message")
        .into_iter()
        .filter(|v| v["n"] == 2)
        .map(|v| {
            let data = v["data"].as_str().unwrap();
            if data.starts_with("fill-") {
                format!("fill({})", v["len"])
            } else {
                data.to_string()
            }
        })
        .collect();
    let first: Vec<Value> = peer
        .events("message")
        .into_iter()
        .filter(|v| v["n"] == 1)
        .collect();
    assert_eq!(
        first.len(),
        25 + preamble,
        "connection 1 read exactly 25 (and the preamble)\n{}",
        peer.diagnostics()
    );
    Outcome {
        status: status.code(),
        events,
        stderr,
        second,
        unread: killed["unread"].as_u64().unwrap(),
    }
}

/// The filler and msg-26..msg-30 are the 26th to 31st `sent` events (after the preamble's):
/// all six unconfirmed, none of the 25 the server read.
fn assert_reported(o: &Outcome, resend: bool, preamble: u64) {
    let lost = of_type(&o.events, "unconfirmed");
    assert_eq!(lost.len(), 1, "{:#?}\n{}", o.events, o.stderr);
    let u = &lost[0];
    assert_eq!(
        (
            &u["count"],
            &u["first"],
            &u["last"],
            &u["more"],
            &u["resend"]
        ),
        (
            &6.into(),
            &(26 + preamble).into(),
            &(31 + preamble).into(),
            &false.into(),
            &resend.into()
        ),
        "{u}"
    );
    // At least msg-26..30 and the filler's unacknowledged tail, at most all of them.
    let bytes = u["bytes"].as_u64().unwrap();
    let frames = 5 * (6 + 6) as u64;
    assert!(
        bytes > frames && bytes <= (FILLER + 14) as u64 + frames,
        "bytes {bytes}"
    );
    assert!(
        o.unread < FILLER as u64,
        "the server's kernel held {} B of the filler: the rest was unacknowledged",
        o.unread
    );
    assert_contains_text(&o.stderr, "possibly lost: 6 messages");
}

fn assert_contains_text(text: &str, want: &str) {
    assert!(text.contains(want), "want {want:?} in:\n{text}");
}

#[test]
fn messages_a_dying_server_never_acknowledged_are_reported_not_lost_silently() {
    if !require_peer("python") {
        return;
    }
    let o = stall_then_die(&[], 0);
    assert_eq!(o.status, Some(0), "{}\n{:#?}", o.stderr, o.events);
    assert_reported(&o, false, 0);
    assert!(o.second.is_empty(), "nothing resent: {:?}", o.second);
    assert!(
        of_type(&o.events, "sent")
            .iter()
            .all(|v| v.get("resent").is_none()),
        "{:#?}",
        o.events
    );
}

#[test]
fn resend_unconfirmed_delivers_them_to_the_next_server_in_order_marked_as_resent() {
    if !require_peer("python") {
        return;
    }
    let o = stall_then_die(&["--resend-unconfirmed", "--send", "auth"], 1);
    assert_eq!(o.status, Some(0), "{}\n{:#?}", o.stderr, o.events);
    assert_reported(&o, true, 1);
    // The preamble first (it goes out again anyway, never as a resend), then the
    // unconfirmed ones in order.
    let want = [
        "auth".to_string(),
        format!("fill({FILLER})"),
        "msg-26".into(),
        "msg-27".into(),
        "msg-28".into(),
        "msg-29".into(),
        "msg-30".into(),
    ];
    assert_eq!(o.second, want);
    let resent: Vec<&Value> = of_type(&o.events, "sent")
        .into_iter()
        .filter(|v| v["resent"] == true)
        .collect();
    assert_eq!(
        texts(resent.iter().copied())[1..],
        want[2..],
        "{:#?}",
        o.events
    );
    assert_contains_text(&o.stderr, "sending them again after the reconnect");
}

#[test]
fn resend_unconfirmed_needs_reconnect() {
    let url = format!("ws://127.0.0.1:{}/", free_port());
    let o = run(wsbeat().args(["connect", &url, "--resend-unconfirmed"]));
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "--reconnect", &o);
}

/// Announced as to be sent again, but the server never comes back: each one is then reported
/// as not sent, not dropped without a word.
#[test]
fn unconfirmed_messages_that_could_not_be_resent_are_reported_when_the_session_ends() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python_script(
        "stall",
        "resilience/stall_server.py",
        &["--stall-after", "1"],
    );
    let mut client = Client::start(
        peer.url(),
        &[
            "--reconnect",
            "--resend-unconfirmed",
            "--backoff",
            "50ms..100ms",
            "--max-reconnects",
            "1",
            "--wait",
            "forever",
        ],
    );
    client.line("msg-1");
    peer.wait_event("stalled", T);
    client.line(&format!("fill-{}", "x".repeat(FILLER - 5)));
    client.line("msg-2");
    client.wait_for("sent msg-2", |v| {
        v["type"] == "sent" && v["text"] == "msg-2"
    });
    // The whole server goes: its kernel resets the stalled connection, and nobody listens.
    drop(peer);
    let (status, events, stderr) = client.finish();
    assert_eq!(status.code(), Some(6), "{stderr}\n{events:#?}");
    let lost = of_type(&events, "unconfirmed");
    assert_eq!(lost.len(), 1, "{events:#?}");
    assert_eq!(
        (&lost[0]["count"], &lost[0]["resend"]),
        (&2.into(), &true.into())
    );
    let dropped = of_type(&events, "buffer_drop");
    let names: Vec<String> = dropped
        .iter()
        .map(|v| v["text"].as_str().unwrap().chars().take(5).collect())
        .collect();
    assert_eq!(names, ["fill-", "msg-2"], "{events:#?}");
    assert!(
        dropped
            .iter()
            .all(|v| v["why"].as_str().unwrap().contains("possibly lost")),
        "{events:#?}"
    );
}
