//! soak's per-connection preamble (`--send`/`--expect` steps before the measured messages),
//! against `tests/peers/conversation.py`: auth, then subscribe, then ticks.

use super::{n, soak};
use crate::common::*;

fn peer(args: &[&str]) -> Peer {
    Peer::python_script("conversation", "conversation.py", args)
}

/// Every connection authenticates and subscribes with its own token, and again after the
/// server closes it: the preamble is counted once per open connection.
#[test]
fn the_preamble_runs_on_every_connection_and_after_every_reconnect() {
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&["--auth-delay", "0.05", "--close-first-after-ticks", "3"]);
    let (out, r) = soak(&[
        p.url(),
        "-c",
        "4",
        "-d",
        "2s",
        "--mode",
        "idle",
        "--backoff",
        "50ms..100ms",
        "--no-live",
        "--send",
        r#"{"op":"auth"}"#,
        "--expect-json",
        "/token=>token",
        "--send",
        r#"{"op":"sub","token":"{token}"}"#,
        "--expect-json",
        "/type=subscribed",
    ]);
    assert_exit(&out, 0);
    let ctx = || format!("{r:#}\n{}", describe(&out));
    assert!(n(&r, "connections.reconnects") >= 1, "{}", ctx());
    assert_eq!(
        n(&r, "connections.preambles"),
        n(&r, "connections.opened"),
        "{}",
        ctx()
    );
    assert_eq!(n(&r, "connections.preambles"), 5, "{}", ctx());
    assert!(r["errors"].get("preamble").is_none(), "{}", ctx());
    // The server saw five subscribes, each with the token of its own connection.
    let mut subs = 0;
    p.observations_until(
        |v| {
            subs += usize::from(v["event"] == "sub");
            subs == 5
        },
        OBS_TIMEOUT,
    );
    assert_eq!(p.events("sub").len(), 5, "{}", p.diagnostics());
    assert!(p.events("refused").is_empty(), "{}", p.diagnostics());
}

#[test]
fn a_preamble_that_times_out_is_its_own_error_kind() {
    if !require_peer("python") {
        return;
    }
    let p = peer(&["--auth-delay", "0"]);
    let (out, r) = soak(&[
        p.url(),
        "-c",
        "2",
        "-d",
        "1500ms",
        "--mode",
        "idle",
        "--backoff",
        "100ms..200ms",
        "--no-live",
        "--send",
        r#"{"op":"auth"}"#,
        "--expect-json",
        "/type=never",
        "--step-timeout",
        "300ms",
    ]);
    let ctx = || format!("{r:#}\n{}", describe(&out));
    assert!(n(&r, "errors.preamble") >= 2, "{}", ctx());
    assert_eq!(n(&r, "connections.preambles"), 0, "{}", ctx());
    assert!(n(&r, "connections.reconnects") >= 1, "{}", ctx());
    assert!(
        r["errors"].get("close_code").is_none(),
        "a preamble failure is not a loss: {}",
        ctx()
    );
}

/// A server that wraps the echo in its own envelope and drops every 7th: the scenario's
/// template and echo pointer find our messages again, and the accounting is exact.
#[test]
fn a_scenario_soaks_an_envelope_server_with_exact_loss_accounting() {
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&["--auth-delay", "0.02", "--drop-echo-every", "7"]);
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("s.toml");
    let example = std::fs::read_to_string(manifest_dir().join("examples/scenario.toml")).unwrap();
    std::fs::write(
        &scenario,
        example.replace(r#""50ms..150ms""#, r#""20ms..40ms""#),
    )
    .unwrap();
    let (out, r) = soak(&[
        p.url(),
        "-c",
        "3",
        "-d",
        "1500ms",
        "--no-live",
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    let ctx = || format!("{r:#}\n{}", describe(&out));
    let sent = n(&r, "messages.sent");
    assert!(sent >= 60, "{}", ctx());
    assert_eq!(n(&r, "connections.preambles"), 3, "{}", ctx());
    let mut dropped = 0;
    p.observations_until(
        |v| {
            dropped += u64::from(v["event"] == "dropped");
            dropped == sent / 7
        },
        OBS_TIMEOUT,
    );
    assert_eq!(n(&r, "messages.missing"), sent / 7, "{}", ctx());
    assert_eq!(n(&r, "messages.echoed"), sent - sent / 7, "{}", ctx());
    assert_eq!(
        n(&r, "messages.duplicated") + n(&r, "messages.reordered"),
        0,
        "{}",
        ctx()
    );
    assert_exit(&out, 1); // loss fails the run by default
}

#[test]
fn a_bad_scenario_is_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[message]\ntemplate = 'no placeholder'\necho_json = '/data'\n",
    )
    .unwrap();
    let o = run(wsbeat()
        .args(["soak", "-c", "1", "-d", "1s", "--no-live", "--scenario"])
        .arg(&file));
    assert_exit(&o, 2);
    let err = stderr_of(&o);
    assert_eq!(err.lines().count(), 1, "{}", describe(&o));
    assert_contains(&err, "must contain {payload} exactly once", &o);
    let o = run(wsbeat().args([
        "soak",
        "-c",
        "1",
        "-d",
        "1s",
        "--scenario",
        "/nonexistent/s.toml",
    ]));
    assert_exit(&o, 2);
    assert_contains(&stderr_of(&o), "cannot read --scenario", &o);
}

/// The server closes every connection after 15 echoes: each new connection logs in again
/// before its messages, and what was in flight at a close is sent again, not lost.
#[test]
fn a_scenario_survives_reconnects_without_loss() {
    if !require_peer("python") {
        return;
    }
    let p = peer(&["--auth-delay", "0.02", "--close-every-after-echoes", "15"]);
    let (out, r) = soak(&[
        p.url(),
        "-c",
        "2",
        "-d",
        "2s",
        "--no-live",
        "--backoff",
        "50ms..100ms",
        "--scenario",
        manifest_dir()
            .join("examples/scenario.toml")
            .to_str()
            .unwrap(),
    ]);
    let ctx = || format!("{r:#}\n{}", describe(&out));
    assert_exit(&out, 0);
    assert!(n(&r, "connections.reconnects") >= 2, "{}", ctx());
    assert_eq!(
        n(&r, "connections.preambles"),
        n(&r, "connections.opened"),
        "{}",
        ctx()
    );
    assert!(r["errors"].get("preamble").is_none(), "{}", ctx());
    assert!(n(&r, "messages.echoed") >= 30, "{}", ctx());
    for key in ["missing", "duplicated", "corrupted", "dropped"] {
        assert_eq!(n(&r, &format!("messages.{key}")), 0, "{key}: {}", ctx());
    }
}
