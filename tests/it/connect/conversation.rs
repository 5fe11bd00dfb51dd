//! Conversations: `--send`/`--expect`/`--expect-json` run as steps in command-line order,
//! captures, step timeouts, against `tests/peers/conversation.py` (auth, then subscribe, then
//! ticks; a subscribe sent before the auth answer is refused, so all-sends-first fails).

use crate::common::*;
use serde_json::Value;

const T: std::time::Duration = OBS_TIMEOUT;

fn peer(args: &[&str]) -> Peer {
    Peer::python_script("conversation", "conversation.py", args)
}

fn connect_json(url: &str, args: &[&str]) -> std::process::Output {
    run(wsbeat()
        .args(["connect", url, "--json", "--no-interactive"])
        .args(args))
}

#[test]
fn steps_wait_for_each_reply_and_substitute_a_regex_capture() {
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&[]);
    let o = connect_json(
        p.url(),
        &[
            "--send",
            r#"{"op":"auth","user":"ann"}"#,
            "--expect",
            r#""token": ?"(?P<token>[^"]+)""#,
            "--send",
            r#"{"op":"sub","token":"{token}"}"#,
            "--expect",
            r#""type": ?"tick""#,
        ],
    );
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let expects = of_type(&events, "expect");
    assert_eq!(expects.len(), 2, "{}", describe(&o));
    assert_eq!(expects[1]["index"], 1);
    let sent: Vec<&str> = of_type(&events, "sent")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(
        sent,
        [
            r#"{"op":"auth","user":"ann"}"#,
            r#"{"op":"sub","token":"t-1"}"#
        ],
        "{}",
        describe(&o)
    );
    p.wait_event("sub", T);
    assert!(p.events("refused").is_empty(), "{}", p.diagnostics());
}

#[test]
fn json_expects_compare_and_capture_by_pointer() {
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&["--auth-delay", "0.05"]);
    let o = connect_json(
        p.url(),
        &[
            "--send",
            r#"{"op":"auth"}"#,
            "--expect-json",
            "/type=welcome",
            // A match uses its message up: the next expect needs a new one, so ask again.
            "--send",
            r#"{"op":"auth"}"#,
            "--expect-json",
            "/token=>tok",
            "--send",
            r#"{"op":"sub","token":"{tok}","literal":"{{tok}}"}"#,
            "--expect-json",
            "/type=subscribed",
            "--expect-json",
            "/n==2",
        ],
    );
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let sent = of_type(&events, "sent");
    assert_eq!(
        sent[2]["text"],
        r#"{"op":"sub","token":"t-1","literal":"{tok}"}"#,
        "{}",
        describe(&o)
    );
    let last = of_type(&events, "expect").last().cloned().cloned();
    let matched: Value = serde_json::from_str(last.unwrap()["matched"].as_str().unwrap()).unwrap();
    assert_eq!(matched["n"], 2);
    p.wait_event("sub", T);
}

#[test]
fn a_step_that_times_out_is_named_with_what_came_last() {
    if !require_peer("python") {
        return;
    }
    let p = peer(&["--auth-delay", "0"]);
    let o = connect_json(
        p.url(),
        &[
            "--send",
            r#"{"op":"auth"}"#,
            "--expect-json",
            "/type=never",
            "--step-timeout",
            "300ms",
        ],
    );
    assert_exit(&o, 1);
    assert_contains(
        &stderr_of(&o),
        r#"step 2 (--expect-json "/type=never") timed out after 300ms; last received: {"type": "welcome""#,
        &o,
    );
    let events = parse_ndjson(Schema::Connect, &o);
    assert_eq!(
        of_type(&events, "closed")[0]["code"],
        1000,
        "we close normally after a failed step: {}",
        describe(&o)
    );
}

#[test]
fn the_old_all_sends_first_order_is_refused_by_this_server() {
    // The control for the tests above: the server does refuse a subscribe sent too early.
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&[]);
    let o = connect_json(
        p.url(),
        &[
            "--send",
            r#"{"op":"auth"}"#,
            "--send",
            r#"{"op":"sub","token":"t-1"}"#,
            "--expect",
            "tick",
            "--step-timeout",
            "2s",
        ],
    );
    assert_ne!(o.status.code(), Some(0), "{}", describe(&o));
    p.wait_event("refused", T);
    assert_contains(&stderr_of(&o), r#"step 3 (--expect "tick")"#, &o);
}

#[test]
fn bad_expressions_exit_2_with_one_line() {
    for (expr, want) in [
        (".type == \"x\"", "a JSON pointer starts with '/'"),
        ("/a==welcome", "after '==' comes a JSON value"),
        ("/a=>", "'=>' needs a capture name"),
    ] {
        let o = run(wsbeat().args([
            "connect",
            "ws://127.0.0.1:9/",
            "--no-interactive",
            "--expect-json",
            expr,
        ]));
        assert_exit(&o, 2);
        let err = stderr_of(&o);
        assert_eq!(err.lines().count(), 1, "{}", describe(&o));
        assert_contains(&err, &format!("--expect-json '{expr}': {want}"), &o);
    }
}

#[test]
fn steps_run_again_on_every_reconnect() {
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&["--auth-delay", "0.05", "--close-first-after-ticks", "2"]);
    let o = connect_json(
        p.url(),
        &[
            "--reconnect",
            "--backoff",
            "50ms..100ms",
            "--send",
            r#"{"op":"auth"}"#,
            "--expect",
            r#""token": "(?P<t>[^"]+)""#,
            "--send",
            r#"{"op":"sub","token":"{t}"}"#,
            "--expect",
            "tick",
            "--send",
            r#"{"op":"sub","token":"{t}"}"#,
            "--wait",
            "forever",
            "--timeout",
            "3s",
        ],
    );
    // Connection 2 authenticates and subscribes with its own token, captured anew.
    let seen = p.observations_until(|v| v["event"] == "sub" && v["n"] == 2, T);
    let auths = seen.iter().filter(|v| v["event"] == "auth").count();
    assert!(auths >= 2, "{}", p.diagnostics());
    assert!(p.events("refused").is_empty(), "{}", p.diagnostics());
    let events = parse_ndjson(Schema::Connect, &o);
    assert!(
        !of_type(&events, "reconnected").is_empty(),
        "{}",
        describe(&o)
    );
    assert_eq!(of_type(&events, "expect").len(), 4, "{}", describe(&o));
}

#[test]
fn piped_stdin_lines_wait_for_the_steps() {
    if !require_peer("python") {
        return;
    }
    let mut p = peer(&[]);
    let o = run_with_stdin(
        wsbeat().args([
            "connect",
            p.url(),
            "--json",
            "--no-interactive",
            "--send",
            r#"{"op":"auth"}"#,
            "--expect-json",
            "/type=welcome",
            "--wait",
            "300ms",
        ]),
        b"{\"op\":\"sub\",\"token\":\"t-1\"}\n",
    );
    assert_exit(&o, 0);
    let events = parse_ndjson(Schema::Connect, &o);
    let expect_ts = of_type(&events, "expect")[0]["ts"].as_f64().unwrap();
    let sub = of_type(&events, "sent")[1];
    assert_eq!(
        sub["text"],
        r#"{"op":"sub","token":"t-1"}"#,
        "{}",
        describe(&o)
    );
    assert!(sub["ts"].as_f64().unwrap() >= expect_ts, "{}", describe(&o));
    p.wait_event("sub", T);
    assert!(p.events("refused").is_empty(), "{}", p.diagnostics());
}

#[test]
fn a_placeholder_nothing_captures_is_warned_about_and_sent_as_it_is() {
    if !require_peer("python") {
        return;
    }
    let p = peer(&["--auth-delay", "0"]);
    let o = connect_json(
        p.url(),
        &[
            "--send",
            r#"{"op":"auth","user":"{usr}"}"#,
            "--expect-json",
            "/token=>token",
        ],
    );
    assert_exit(&o, 0);
    assert_contains(
        &stderr_of(&o),
        "{usr} is not captured by an earlier expect and goes out as it is",
        &o,
    );
    let events = parse_ndjson(Schema::Connect, &o);
    assert_eq!(
        of_type(&events, "sent")[0]["text"],
        r#"{"op":"auth","user":"{usr}"}"#
    );
}

/// Every step reports how it went as an NDJSON `step` event, in order: sends `sent`, expects
/// `matched` with the message and what they captured, and a step that ran out of time
/// `timed_out`, with the step's timings.
#[test]
fn each_step_reports_its_outcome_captures_and_timing() {
    if !require_peer("python") {
        return;
    }
    let p = peer(&["--auth-delay", "0.05"]);
    let o = connect_json(
        p.url(),
        &[
            "--send",
            r#"{"op":"auth","user":"ann"}"#,
            "--expect",
            r#""token": ?"(?P<token>[^"]+)""#,
            "--send",
            r#"{"op":"sub","token":"{token}"}"#,
            "--expect-json",
            "/type=never",
            "--step-timeout",
            "300ms",
        ],
    );
    assert_exit(&o, 1);
    let events = parse_ndjson(Schema::Connect, &o);
    let steps = of_type(&events, "step");
    let summary: Vec<(u64, &str, &str)> = steps
        .iter()
        .map(|s| {
            (
                s["index"].as_u64().unwrap(),
                s["kind"].as_str().unwrap(),
                s["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, "send", "sent"),
            (1, "expect", "matched"),
            (2, "send", "sent"),
            (3, "expect_json", "timed_out"),
        ],
        "{}",
        describe(&o)
    );
    assert_eq!(steps[1]["captures"], serde_json::json!({"token": "t-1"}));
    assert!(
        steps[1]["matched"].as_str().unwrap().contains("t-1"),
        "{}",
        describe(&o)
    );
    // The server answers the auth after 50 ms; the last expect waited its 300 ms.
    assert!(
        steps[1]["elapsed"].as_f64().unwrap() >= 0.04,
        "{}",
        describe(&o)
    );
    assert!(
        steps[3]["elapsed"].as_f64().unwrap() >= 0.29,
        "{}",
        describe(&o)
    );
    assert!(steps[3]["matched"].is_null());
    assert_eq!(steps[2]["source"], r#"{"op":"sub","token":"{token}"}"#);
}
