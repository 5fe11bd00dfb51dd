//! `wsbeat soak`: short runs (a few seconds, dozens of connections) against the embedded
//! server, Python `websockets`, Node `ws` and a hand-written fault server
//! (`tests/peers/soak/fault_server.py`) that dies, stops answering pings or closes with 1011.
//! Every run writes its JSON report, and the assertions read it.

use crate::common::api::SerialHistogram;
use crate::common::tmux::Tmux;
use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(15);

/// The JSON report in `file`, checked against the documented schema; `context` (what the run
/// printed) goes into the failure message.
#[track_caller]
fn read_report(file: &Path, context: &str) -> Value {
    let text =
        std::fs::read_to_string(file).unwrap_or_else(|e| panic!("no JSON report ({e})\n{context}"));
    let report: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the report is not JSON ({e})\n{text}\n{context}"));
    if let Err(why) = check_soak_report(&report) {
        panic!("the report breaks the schema: {why}\n{report:#}\n{context}");
    }
    report
}

fn soak_json(dir: &Path, name: &str, args: &[&str]) -> (Output, Value) {
    let file = dir.join(name);
    let mut cmd = wsbeat();
    cmd.arg("soak").args(args).arg("--json").arg(&file);
    let out = run(&mut cmd);
    let report = read_report(&file, &describe(&out));
    (out, report)
}

/// `wsbeat soak ARGS --json r.json` in a fresh temporary folder: output and report.
fn soak(args: &[&str]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    soak_json(dir.path(), "r.json", args)
}

/// Values that once panicked (a tiny rate's period overflowed a Duration, a huge --size
/// aborted on allocation) or were silently accepted are one usage line and exit 2.
#[test]
fn bad_values_are_one_line_and_exit_2() {
    for (args, want) in [
        (&["--message-rate", "1e-20"][..], "smallest rate"),
        (&["--connect-rate", "1e-19"][..], "smallest rate"),
        (&["--size", "99999999999"][..], "64MiB"),
        (&["--watch-pid", "0"][..], "not a process id"),
        (&["--server-replay"][..], "--server-replay needs"),
        (
            &["ws://127.0.0.1:9/", "--server-replay", "--mode", "send"][..],
            "--server-replay needs",
        ),
    ] {
        let o = run(wsbeat()
            .arg("soak")
            .args(args)
            .args(["-c", "1", "-d", "1s", "--no-live"]));
        assert_exit(&o, 2);
        let err = stderr_of(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {}", describe(&o));
        assert_contains(&err, want, &o);
        assert!(!err.contains("panicked"), "{args:?}: {}", describe(&o));
    }
}

/// The number at `path` (dotted) in a report; a missing or non-numeric one fails the test.
pub(crate) fn n(v: &Value, path: &str) -> u64 {
    let mut cur = v;
    for key in path.split('.') {
        cur = &cur[key];
    }
    cur.as_u64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v:#}"))
}

/// Soaks the fault server with `args` (after its URL), kills it once it has echoed 100
/// messages and restarts it on the same port; the run's output and JSON report.
fn soak_across_a_restart(args: &[&str]) -> (Output, Value) {
    let mut server = Peer::fault_server(&["--announce-after", "100"]);
    let port = server.port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    let mut cmd = wsbeat();
    cmd.arg("soak")
        .arg(server.url())
        .args(args)
        .arg("--json")
        .arg(&file);
    let soak = std::thread::spawn(move || run(&mut cmd));
    server.observations_until(
        |v| v.as_str().is_some_and(|s| s.starts_with("echoed")),
        WAIT,
    );
    drop(server); // kill -9 and wait: the listening socket and every connection are gone
    let _again = Peer::fault_server(&["--port", &port]);
    let out = soak.join().unwrap();
    let r = read_report(&file, &describe(&out));
    (out, r)
}

#[track_caller]
fn assert_clean_echo(report: &Value, out: &Output) {
    let ctx = || format!("{report:#}\n{}", describe(out));
    assert_eq!(n(report, "messages.missing"), 0, "{}", ctx());
    assert_eq!(n(report, "messages.corrupted"), 0, "{}", ctx());
    assert_eq!(n(report, "messages.dropped"), 0, "{}", ctx());
    assert!(n(report, "messages.echoed") > 0, "{}", ctx());
    assert_eq!(
        n(report, "messages.echoed"),
        n(report, "messages.sent"),
        "every message came back once: {}",
        ctx()
    );
}

#[test]
fn embedded_server_soak_has_zero_loss_and_a_complete_report() {
    let (out, r) = soak(&[
        "-c",
        "30",
        "-d",
        "2s",
        "--message-rate",
        "5",
        "--heartbeat",
        "300ms",
    ]);
    assert_exit(&out, 0);
    assert_clean_echo(&r, &out);
    assert_eq!(r["format"], "wsbeat-soak-report/1");
    assert_eq!(n(&r, "connections.target"), 30);
    assert_eq!(n(&r, "connections.peak_open"), 30);
    assert_eq!(n(&r, "connections.open_at_end"), 30);
    assert_eq!(r["config"][0]["embedded_server"], true);
    assert!(n(&r, "heartbeats.answered") > 0, "{r:#}");
    for key in ["echo", "heartbeat", "connect"] {
        let l = &r["latency"][key];
        let h = SerialHistogram::from_base64(l["histogram"].as_str().unwrap()).unwrap();
        assert_eq!(h.count(), n(l, "count"), "{key}");
        assert!(l["p99"].as_f64().unwrap() >= l["p50"].as_f64().unwrap());
        assert!(l["p999"].is_f64() && l["max"].is_f64(), "{key}: {l:#}");
    }
    assert!(
        r["rss"][0]["samples"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
    assert!(r["errors"].as_object().unwrap().is_empty(), "{r:#}");
    // The human summary goes to stdout.
    assert_contains(&stdout_of(&out), "loss         0", &out);
}

#[test]
fn python_websockets_echo_soak_is_lossless() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&[]);
    let (out, r) = soak(&[
        peer.url(),
        "-c",
        "20",
        "-d",
        "2s",
        "--message-rate",
        "5",
        "--size",
        "200",
    ]);
    assert_exit(&out, 0);
    assert_clean_echo(&r, &out);
    assert_eq!(n(&r, "connections.peak_open"), 20);
}

#[test]
fn node_ws_echo_soak_is_lossless_with_binary_fragments() {
    if !require_peer("node") {
        return;
    }
    let peer = Peer::node(&[]);
    let (out, r) = soak(&[
        peer.url(),
        "-c",
        "20",
        "-d",
        "2s",
        "--message-rate",
        "5",
        "--binary",
        "--size",
        "300",
        "--fragment-size",
        "64",
    ]);
    assert_exit(&out, 0);
    assert_clean_echo(&r, &out);
    assert_eq!(r["config"][0]["kind"], "binary");
}

/// Kill the server once it has echoed some messages, restart it on the same port: every
/// connection reconnects, what was due meanwhile is replayed, and nothing is lost.
#[test]
fn server_restart_mid_soak_reconnects_and_replays_without_loss() {
    if !require_peer("python") {
        return;
    }
    let (out, r) = soak_across_a_restart(&[
        "-c",
        "10",
        "-d",
        "4s",
        "--message-rate",
        "20",
        "--backoff",
        "100ms..300ms",
    ]);
    assert_exit(&out, 0);
    assert!(n(&r, "connections.reconnects") >= 10, "{r:#}");
    assert!(n(&r, "messages.replayed") > 0, "{r:#}");
    assert_eq!(
        n(&r, "messages.missing") + n(&r, "messages.dropped"),
        0,
        "{r:#}"
    );
    assert!(n(&r, "latency.reconnect.count") >= 10, "{r:#}");
    assert!(n(&r, "errors.abnormal_close") >= 1, "{r:#}");
}

/// The same fault with no room to buffer: what fell due while the server was away is counted
/// as dropped, and the default `--max-loss 0` fails the run, by name.
#[test]
fn server_restart_without_buffer_counts_dropped_messages_and_exits_1() {
    if !require_peer("python") {
        return;
    }
    // Backoff of at least 100 ms (half the minimum, with jitter) and a message every 25 ms:
    // every connection has messages due while it is down, and no buffer to keep them.
    let (out, r) = soak_across_a_restart(&[
        "-c",
        "10",
        "-d",
        "4s",
        "--message-rate",
        "40",
        "--backoff",
        "200ms..400ms",
        "--buffer",
        "0",
    ]);
    assert_exit(&out, 1);
    assert!(n(&r, "messages.dropped") >= 10, "{r:#}");
    assert_contains(&stderr_of(&out), "max-loss", &out);
    assert_eq!(r["thresholds"][0]["name"], "max-loss");
    assert_eq!(r["thresholds"][0]["ok"], false);
}

#[test]
fn server_that_stops_answering_pings_gets_heartbeat_timeouts() {
    if !require_peer("python") {
        return;
    }
    let server = Peer::fault_server(&["--no-pong"]);
    let (out, r) = soak(&[
        server.url(),
        "-c",
        "5",
        "-d",
        "3s",
        "--mode",
        "idle",
        "--heartbeat",
        "200ms",
        "--heartbeat-timeout",
        "300ms",
        "--backoff",
        "50ms..100ms",
    ]);
    assert_exit(&out, 0);
    assert!(n(&r, "heartbeats.timeouts") >= 5, "{r:#}");
    assert_eq!(
        n(&r, "errors.heartbeat_timeout"),
        n(&r, "heartbeats.timeouts")
    );
    assert!(n(&r, "connections.reconnects") >= 5, "{r:#}");
    assert_eq!(n(&r, "heartbeats.answered"), 0, "{r:#}");
}

#[test]
fn server_closing_with_1011_is_counted_by_close_code() {
    if !require_peer("python") {
        return;
    }
    let server = Peer::fault_server(&["--close-after", "3", "--close-code", "1011"]);
    let (out, r) = soak(&[
        server.url(),
        "-c",
        "5",
        "-d",
        "2s",
        "--message-rate",
        "20",
        "--backoff",
        "50ms..100ms",
        "--max-errors",
        "1000",
        // A close that crosses the end of the run strands what was in flight then.
        "--max-loss",
        "10",
    ]);
    assert_exit(&out, 0);
    assert!(n(&r, "close_codes.1011") >= 5, "{r:#}");
    assert_eq!(
        n(&r, "errors.close_code"),
        n(&r, "close_codes.1011"),
        "{r:#}"
    );
    // Messages in flight when the server closed are sent again on the next connection.
    assert!(n(&r, "messages.replayed") > 0, "{r:#}");
    assert!(n(&r, "messages.echoed") >= 5 * 3, "{r:#}");
}

/// Echoes over `--max-message-size` are closed with 1009 and counted as 1009, once per
/// connection that saw one.
#[test]
fn echoes_over_max_message_size_are_counted_as_1009() {
    let (out, r) = soak(&[
        "-c",
        "2",
        "-d",
        "2s",
        "--size",
        "100",
        "--max-message-size",
        "60",
        "--message-rate",
        "5",
        "--backoff",
        "50ms..100ms",
        "--max-errors",
        "100000",
        "--max-loss",
        "100000",
    ]);
    assert_exit(&out, 0);
    let too_large = n(&r, "errors.message_too_large");
    assert!(too_large >= 2, "{r:#}");
    assert_eq!(n(&r, "close_codes.1009"), too_large, "{r:#}");
    assert_eq!(n(&r, "messages.echoed"), 0, "{r:#}");
}

#[test]
fn thresholds_fail_the_run_and_are_named() {
    let (out, r) = soak(&[
        "-c",
        "5",
        "-d",
        "1s",
        "--message-rate",
        "10",
        "--max-p99",
        "1us",
        "--min-connections",
        "6",
        "--max-errors",
        "0",
    ]);
    assert_exit(&out, 1);
    let err = stderr_of(&out);
    assert!(err.contains("max-p99"), "{err}");
    assert!(err.contains("min-connections: 5 < 6"), "{err}");
    assert!(!err.contains("max-errors"), "{err}");
    let broken: Vec<&str> = r["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["ok"] == false)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(broken, ["max-p99", "min-connections"]);
}

#[test]
fn merge_adds_counts_and_merges_histograms() {
    let dir = tempfile::tempdir().unwrap();
    let (a_out, a) = soak_json(
        dir.path(),
        "a.json",
        &["-c", "4", "-d", "1s", "--message-rate", "10"],
    );
    let (b_out, b) = soak_json(
        dir.path(),
        "b.json",
        &["-c", "6", "-d", "1s", "--message-rate", "10"],
    );
    assert_exit(&a_out, 0);
    assert_exit(&b_out, 0);
    let merged_file = dir.path().join("m.json");
    let out = run(wsbeat()
        .args(["soak", "--merge"])
        .arg(dir.path().join("a.json"))
        .arg(dir.path().join("b.json"))
        .arg("--json")
        .arg(&merged_file));
    assert_exit(&out, 0);
    let m = read_report(&merged_file, &describe(&out));
    assert_eq!(n(&m, "runs"), 2);
    assert_eq!(n(&m, "connections.target"), 10);
    for key in [
        "messages.sent",
        "messages.echoed",
        "heartbeats.sent",
        "connections.opened",
    ] {
        assert_eq!(n(&m, key), n(&a, key) + n(&b, key), "{key}");
    }
    let hist = |r: &Value| {
        SerialHistogram::from_base64(r["latency"]["echo"]["histogram"].as_str().unwrap()).unwrap()
    };
    let (ha, hb, hm) = (hist(&a), hist(&b), hist(&m));
    assert_eq!(hm.count(), ha.count() + hb.count());
    assert_eq!(hm.max(), ha.max().max(hb.max()));
    assert_eq!(n(&m, "latency.echo.count"), hm.count());
    assert_eq!(m["config"].as_array().unwrap().len(), 2);
    assert_eq!(m["rss"].as_array().unwrap().len(), 2);
    // Thresholds apply to the merged whole.
    let out = run(wsbeat()
        .args(["soak", "--merge"])
        .arg(dir.path().join("a.json"))
        .arg(dir.path().join("b.json"))
        .args(["--min-connections", "11"]));
    assert_exit(&out, 1);
    assert_contains(&stderr_of(&out), "min-connections: 10 < 11", &out);
    // A file that is not a report is a usage error, named.
    std::fs::write(dir.path().join("bad.json"), "{}").unwrap();
    let out = run(wsbeat()
        .args(["soak", "--merge"])
        .arg(dir.path().join("bad.json")));
    assert_exit(&out, 2);
    assert_contains(&stderr_of(&out), "bad.json", &out);
}

#[test]
fn nothing_listening_exits_3_with_errors_counted() {
    let port = free_port();
    let url = format!("ws://127.0.0.1:{port}/");
    let (out, r) = soak(&[&url, "-c", "3", "-d", "1s"]);
    assert_exit(&out, 3);
    assert!(n(&r, "errors.refused") >= 3, "{r:#}");
    assert_eq!(n(&r, "connections.opened"), 0);
    assert_contains(&stderr_of(&out), "refused", &out);
}

/// The live view in a real pseudo-terminal (tmux): it draws, `q` stops the run early, the
/// report is printed on the normal screen, and the terminal is back in cooked mode with the
/// cursor shown.
#[test]
fn live_view_in_a_terminal_stops_on_q_and_restores_the_terminal() {
    if !require_peer("tmux") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let done = dir.path().join("done");
    let script = format!(
        "NO_COLOR=1 '{}' soak -c 5 -d 15s; echo \"exit=$?\" > '{}.tmp'; \
         stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon >> '{}.tmp'; mv '{}.tmp' '{}'; sleep 30",
        env!("CARGO_BIN_EXE_wsbeat"),
        done.display(),
        done.display(),
        done.display(),
        done.display()
    );
    let deadline = Instant::now() + WAIT;
    let t = Tmux::start(120, 30, WAIT, &script);
    t.wait("the live view", |s| s.contains("connections 5 / 5 open"));
    assert_eq!(
        t.display("#{alternate_on}"),
        "1",
        "the view uses the alternate screen"
    );
    t.keys(&["q"]);
    poll_until(deadline.saturating_duration_since(Instant::now()), || {
        done.exists().then_some(())
    })
    .unwrap_or_else(|| panic!("soak did not stop on q:\n{}", t.screen()));
    let status = std::fs::read_to_string(&done).unwrap();
    assert!(status.contains("exit=0"), "{status}");
    assert!(
        status.lines().any(|l| l == "icanon"),
        "raw mode left on: {status}"
    );
    let screen = t.screen();
    assert!(screen.contains("(stopped early)"), "{screen}");
    assert!(screen.contains("loss         0"), "{screen}");
    assert_eq!(
        t.display("#{alternate_on} #{cursor_flag}"),
        "0 1",
        "alternate screen off, cursor on"
    );
}

/// Ctrl-C (SIGINT, no terminal): the run drains, the report is still written, exit 130.
#[test]
fn ctrl_c_stops_early_prints_the_report_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    let mut p = Proc::spawn(
        "wsbeat soak",
        wsbeat()
            .args(["soak", "-c", "5", "-d", "20s", "--json"])
            .arg(&file),
    );
    // The first status line says the run is under way.
    let line = p.wait_err("(the first status line)", WAIT, |_| true);
    assert!(line.contains("open 5/5"), "{line}");
    p.signal(libc::SIGINT);
    let started = Instant::now();
    let status = p.finish(WAIT);
    let out = p.out.snapshot().join("\n");
    assert!(started.elapsed() < WAIT, "the drain is bounded");
    assert_eq!(status.code(), Some(130), "{out}");
    assert!(out.contains("(stopped early)"), "{out}");
    let r = read_report(&file, &p.dump());
    assert_eq!(r["stopped_early"], true);
    assert_eq!(n(&r, "connections.open_at_end"), 5);
    assert_eq!(n(&r, "messages.missing"), 0);
}

/// wss:// with a private CA, a custom header and a subprotocol: connect's handshake and TLS
/// options reach every soak connection.
#[test]
fn tls_and_handshake_options_apply_to_every_connection() {
    if !require_peer("python") {
        return;
    }
    let pki = test_pki();
    let mut peer = Peer::python(&[
        "--certfile",
        path_str(&pki.cert),
        "--keyfile",
        path_str(&pki.key),
        "--subprotocols",
        "soak.v1",
    ]);
    assert!(peer.url().starts_with("wss://"));
    let url = peer.url().to_string();
    let (out, r) = soak(&[
        &url,
        "-c",
        "4",
        "-d",
        "1s",
        "--message-rate",
        "5",
        "--cacert",
        path_str(&pki.ca),
        "-H",
        "X-Soak: yes",
        "-s",
        "soak.v1",
    ]);
    assert_exit(&out, 0);
    assert_clean_echo(&r, &out);
    assert_eq!(n(&r, "connections.opened"), 4);
    let connect = peer.wait_event("connect", WAIT);
    assert_eq!(connect["headers"]["x-soak"], "yes", "{connect}");
    assert_eq!(connect["subprotocol"], "soak.v1", "{connect}");
    // Without the CA the certificate is refused, counted as a TLS error: exit 3.
    let (out, r) = soak(&[&url, "-c", "2", "-d", "1s"]);
    assert_exit(&out, 3);
    assert!(n(&r, "errors.tls") >= 2, "{r:#}");
}

/// `--source-addrs`: connections are bound to the given local addresses before connecting
/// (an address this host does not have makes every attempt fail, which proves the binding).
#[test]
fn source_addresses_are_bound_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let (out, r) = soak_json(
        dir.path(),
        "ok.json",
        &[
            "-c",
            "6",
            "-d",
            "1s",
            "--source-addrs",
            "127.0.0.2-127.0.0.4",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(n(&r, "connections.peak_open"), 6, "{r:#}");
    assert_eq!(r["config"][0]["source_addrs"].as_array().unwrap().len(), 3);
    let (out, r) = soak_json(
        dir.path(),
        "bad.json",
        &["-c", "2", "-d", "1s", "--source-addrs", "192.0.2.1"],
    );
    assert_exit(&out, 3);
    assert!(n(&r, "errors.connect") >= 2, "{r:#}");
}

/// Servers that do not echo: `--mode send` only sends; a text heartbeat is answered by its
/// own echo on an echo server.
#[test]
fn send_mode_and_text_heartbeats() {
    if !require_peer("python") {
        return;
    }
    let peer = Peer::python(&["--no-echo"]);
    let dir = tempfile::tempdir().unwrap();
    let (out, r) = soak_json(
        dir.path(),
        "send.json",
        &[
            peer.url(),
            "-c",
            "3",
            "-d",
            "1s",
            "--mode",
            "send",
            "--message-rate",
            "10",
        ],
    );
    assert_exit(&out, 0);
    assert!(n(&r, "messages.sent") >= 15, "{r:#}");
    assert_eq!(
        n(&r, "messages.echoed") + n(&r, "messages.missing"),
        0,
        "{r:#}"
    );
    let (out, r) = soak_json(
        dir.path(),
        "text.json",
        &[
            "-c",
            "3",
            "-d",
            "1s",
            "--mode",
            "idle",
            "--heartbeat",
            "200ms",
            "--heartbeat-text",
            "hb {seq}",
        ],
    );
    assert_exit(&out, 0);
    assert!(n(&r, "heartbeats.answered") >= 6, "{r:#}");
    assert_eq!(n(&r, "heartbeats.timeouts"), 0, "{r:#}");
    assert_eq!(r["config"][0]["heartbeat"]["mode"], "text");
}

/// `--max-reconnects 1`: each connection comes back once, then stays down; what falls due
/// afterwards is never sent, which is loss.
#[test]
fn max_reconnects_bounds_each_connection() {
    if !require_peer("python") {
        return;
    }
    let server = Peer::fault_server(&["--close-after", "2", "--close-code", "1011"]);
    let (out, r) = soak(&[
        server.url(),
        "-c",
        "3",
        "-d",
        "2s",
        "--message-rate",
        "20",
        "--backoff",
        "50ms..100ms",
        "--max-reconnects",
        "1",
    ]);
    assert_exit(&out, 1);
    assert_eq!(n(&r, "connections.reconnects"), 3, "{r:#}");
    assert_eq!(n(&r, "connections.gave_up"), 3, "{r:#}");
    assert_eq!(n(&r, "close_codes.1011"), 6, "{r:#}");
    assert!(
        n(&r, "messages.unsent") + n(&r, "messages.dropped") > 0,
        "{r:#}"
    );
    assert_contains(&stderr_of(&out), "max-loss", &out);
}

// ------------------------------------------------------------------ exact accounting

/// Soaks `wsbeat echo-server --json FAULTS` with two connections for 2 s at 50 messages a
/// second each, then stops the server; the soak report and the server's `injected` counts.
/// The soak's drain and close end every connection before the server is stopped, so
/// nothing is in flight when either side counts.
fn soak_a_faulty_echo_server(faults: &[&str]) -> (Value, Value) {
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", "127.0.0.1:0", "--json"])
        .args(faults);
    let mut server = Proc::spawn(&format!("echo-server {}", faults.join(" ")), &mut cmd);
    let url = server.wait_event("listening", WAIT)["url"]
        .as_str()
        .expect("listening.url")
        .to_string();
    // A loss threshold would make the run exit 1; the counts are what is checked here.
    let (out, report) = soak(&[
        &url,
        "-c",
        "2",
        "-d",
        "2s",
        "--message-rate",
        "50",
        "--max-loss",
        "1000000",
    ]);
    assert_exit(&out, 0);
    let mut closed = 0;
    server.wait_out("both soak connections closed", WAIT, |l| {
        closed += usize::from(l.contains("\"type\":\"closed\""));
        closed >= 2
    });
    server.signal(libc::SIGTERM);
    server.finish(WAIT);
    let summary = server.wait_event("summary", WAIT);
    (report, summary["injected"].clone())
}

/// The soak's counts equal what the server injected, and every message sent is accounted
/// for exactly once.
#[track_caller]
fn assert_counts_match(faults: &[&str], report: &Value, injected: &Value) {
    let ctx = || format!("{faults:?}\ninjected {injected}\n{report:#}");
    let m = &report["messages"];
    for (soak, server) in [
        ("missing", "dropped"),
        ("duplicated", "duplicated"),
        ("reordered", "reordered"),
        ("corrupted", "corrupted"),
    ] {
        assert_eq!(n(m, soak), n(injected, server), "{soak}: {}", ctx());
    }
    assert_eq!(
        (n(m, "replayed"), n(m, "dropped"), n(m, "unsent")),
        (0, 0, 0),
        "one connection each, never lost: {}",
        ctx()
    );
    assert_eq!(
        n(m, "echoed") + n(m, "corrupted") + n(m, "missing"),
        n(m, "sent"),
        "each message sent is echoed, corrupted or missing, once: {}",
        ctx()
    );
    assert!(
        n(m, "sent") >= 150,
        "the run sent what it should: {}",
        ctx()
    );
}

/// One fault at a time: each must have hit, and nothing else may show.
#[track_caller]
fn check_one_fault(flag: &str, every: &str, counted_as: &str) {
    let faults = [flag, every];
    let (report, injected) = soak_a_faulty_echo_server(&faults);
    assert_counts_match(&faults, &report, &injected);
    assert!(
        n(&injected, counted_as) > 0,
        "{flag} hit nothing: {injected}"
    );
    for other in ["dropped", "duplicated", "reordered", "corrupted"] {
        // A connection whose last message was held for a swap never gets it echoed: at most
        // one drop per connection (and the soak's `missing` matched it above).
        let allowed = if counted_as == "reordered" && other == "dropped" {
            2
        } else {
            0
        };
        if other != counted_as {
            assert!(n(&injected, other) <= allowed, "{flag}: {injected}");
        }
    }
}

#[test]
fn each_dropped_echo_is_one_missing_and_reorders_nothing() {
    check_one_fault("--drop-every", "7", "dropped");
}

#[test]
fn each_duplicated_echo_is_one_duplicate() {
    check_one_fault("--duplicate-every", "5", "duplicated");
}

#[test]
fn each_swap_of_neighbours_is_one_reordered() {
    check_one_fault("--reorder-every", "6", "reordered");
}

#[test]
fn each_corrupted_echo_is_corrupted_and_not_also_missing() {
    check_one_fault("--corrupt-every", "4", "corrupted");
}

#[test]
fn corrupted_and_duplicated_echoes_never_count_a_loss_twice() {
    let faults = ["--corrupt-every", "1", "--duplicate-every", "1"];
    let (report, injected) = soak_a_faulty_echo_server(&faults);
    assert_counts_match(&faults, &report, &injected);
    let m = &report["messages"];
    assert_eq!(n(m, "corrupted"), n(m, "sent"), "{report:#}");
    assert_eq!(n(m, "duplicated"), n(m, "sent"), "{report:#}");
    assert_eq!(n(m, "missing"), 0, "{report:#}");
}

#[test]
fn random_seeded_faults_are_counted_exactly() {
    let faults = [
        "--drop-every",
        "9",
        "--duplicate-every",
        "8",
        "--reorder-every",
        "7",
        "--corrupt-every",
        "6",
        "--fault-seed",
        "1234",
    ];
    let (report, injected) = soak_a_faulty_echo_server(&faults);
    assert_counts_match(&faults, &report, &injected);
    for kind in ["dropped", "duplicated", "reordered", "corrupted"] {
        assert!(n(&injected, kind) > 0, "{kind}: {injected}");
    }
    let m = &report["messages"];
    assert!(
        n(m, "missing") + n(m, "corrupted") <= n(m, "sent"),
        "{report:#}"
    );
}

/// Fails naming the stream if any of `secrets` is in the run's output or its report.
#[track_caller]
fn assert_nothing_leaks(out: &Output, report_file: &Path, secrets: &[&str]) {
    let report = std::fs::read_to_string(report_file).unwrap();
    for s in secrets {
        for (place, text) in [
            ("stdout", stdout_of(out)),
            ("stderr", stderr_of(out)),
            ("the JSON report", report.clone()),
        ] {
            assert!(
                !text.contains(s),
                "{s:?} leaked in {place}\n{report}\n{}",
                describe(out)
            );
        }
    }
}

/// `user:pass@` in the URL and a Cookie given with -H reach the server, and neither the
/// header line, the errors nor the JSON report show them (issue 11, section 4).
#[test]
fn credentials_reach_the_server_and_no_output() {
    if !require_peer("python") {
        return;
    }
    let mut peer = Peer::python(&[]);
    let url = format!("ws://user:SECRETpw@127.0.0.1:{}/", peer.port());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    let (out, r) = soak_json(
        dir.path(),
        "r.json",
        &[
            &url,
            "-c",
            "2",
            "-d",
            "1s",
            "-H",
            "Cookie: session=SECRETck",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(
        r["config"][0]["url"],
        format!("ws://127.0.0.1:{}/", peer.port())
    );
    let connect = peer.wait_event("connect", WAIT);
    // base64("user:SECRETpw")
    let basic = "dXNlcjpTRUNSRVRwdw==";
    assert_eq!(
        connect["headers"]["authorization"],
        format!("Basic {basic}"),
        "{connect}"
    );
    assert_eq!(
        connect["headers"]["cookie"], "session=SECRETck",
        "{connect}"
    );
    assert_nothing_leaks(&out, &file, &["SECRETpw", "SECRETck", basic]);

    // The error when nothing can be opened names the URL too.
    let url = format!("ws://user:SECRETpw@127.0.0.1:{}/", free_port());
    let (out, _) = soak_json(dir.path(), "r.json", &[&url, "-c", "2", "-d", "1s"]);
    assert_exit(&out, 3);
    assert_contains(&stderr_of(&out), "no connection to ws://127.0.0.1:", &out);
    assert_nothing_leaks(&out, &file, &["SECRETpw", basic]);
}

/// A `--json` path that cannot be written is refused before any connection, not after a run
/// of half an hour.
#[test]
fn unwritable_json_path_exits_2_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    for bad in [
        dir.path().join("missing").join("r.json"),
        file.join("r.json"),
    ] {
        let out = run(wsbeat()
            .args(["soak", &url, "-c", "1", "-d", "1s", "--json"])
            .arg(&bad));
        assert_exit(&out, 2);
        assert_contains(&stderr_of(&out), "cannot write --json", &out);
        assert_eq!(stderr_of(&out).lines().count(), 1, "{}", describe(&out));
    }
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock,
        "soak connected although its report could not be written"
    );
}
mod preamble;
mod socketio;

/// A server that stops reading and then dies (`tests/peers/resilience/stall_server.py`): the
/// messages still in our send queue were sent, but never arrived. The kernel's count is exact
/// here: the server read 3 messages and held less than one more unread, so every message after
/// those 3 was never acknowledged. Runs `--mode MODE`; returns (sent, report, stdout).
fn soak_a_server_that_stalls_and_dies(mode: &str, rate: &str) -> (u64, Value, String) {
    let mut peer = Peer::python_script(
        "stall",
        "resilience/stall_server.py",
        &["--stall-after", "3"],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    let mut p = Proc::spawn(
        "wsbeat soak",
        wsbeat()
            .args([
                "soak",
                peer.url(),
                "-c",
                "1",
                "--mode",
                mode,
                "--size",
                "16384",
            ])
            .args(["--message-rate", rate, "-d", "30s", "--heartbeat", "60s"])
            .args(["--no-reconnect", "--no-live", "--json"])
            .arg(&file),
    );
    peer.wait_event("stalled", WAIT);
    // At the first status line (2 s) dozens of messages were written, most into our own send
    // queue.
    p.wait_err("the first status line", WAIT, |_| true);
    peer.signal(libc::SIGUSR1);
    let killed = peer.wait_event("killed", WAIT);
    // The loss is counted when it is seen; then the run can stop.
    p.wait_err("the lost connection", WAIT, |l| {
        l.contains("open 0/1") && !l.contains("errors none")
    });
    p.signal(libc::SIGINT);
    let status = p.finish(WAIT);
    // The loss breaks --max-loss 0: no silent success.
    assert_eq!(status.code(), Some(1), "{}", p.dump());
    let r = read_report(&file, &p.dump());
    let sent = n(&r, "messages.sent");
    let unread = killed["unread"].as_u64().unwrap();
    assert!(
        sent > 10 && unread < 16384,
        "sent {sent}, unread {unread}\n{r:#}"
    );
    assert_eq!(n(&r, "messages.unconfirmed"), sent - 3, "{r:#}");
    assert!(
        n(&r, "messages.unconfirmed_bytes") > (sent - 4) * 16384,
        "{r:#}"
    );
    // What fell due after the loss was never sent: unsent, a different count.
    assert_eq!(n(&r, "messages.missing"), 0, "{r:#}");
    (sent, r, p.out.snapshot().join("\n"))
}

/// Without echoes the kernel's count is the only evidence: those messages are lost in flight,
/// not delivered.
#[test]
fn messages_a_dying_server_never_acknowledged_are_lost_in_flight_not_delivered() {
    if !require_peer("python") {
        return;
    }
    let (sent, r, out) = soak_a_server_that_stalls_and_dies("send", "50");
    assert_eq!(n(&r, "messages.lost_in_flight"), sent - 3, "{r:#}");
    assert!(
        out.contains(&format!("lost in flight {}", sent - 3)),
        "{out}"
    );
    assert!(
        out.contains(&format!("unconfirmed  {} message(s)", sent - 3)),
        "{out}"
    );
}

/// With echoes every unanswered message was in flight; with no reconnect to send them again
/// they are lost in flight (they used to be counted as never sent).
#[test]
fn unanswered_messages_at_a_loss_without_reconnect_are_lost_in_flight_not_unsent() {
    if !require_peer("python") {
        return;
    }
    let (sent, r, _) = soak_a_server_that_stalls_and_dies("echo", "20");
    assert!(sent < 100, "within the tracker's bound: {sent}");
    assert_eq!(n(&r, "messages.lost_in_flight"), sent, "{r:#}");
    assert_eq!(n(&r, "messages.echoed"), 0, "{r:#}");
}
