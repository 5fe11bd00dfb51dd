//! `wsbeat echo-server` against real third-party clients: Python `websocket-client` and
//! `websockets`, Node `ws`, headless Chromium, nginx as a reverse proxy, and misbehaving
//! raw-socket clients. The client programs live in `tests/peers/clients/` and print JSON
//! lines; the browser page in `tests/browser/`, the nginx config in `tests/nginx/`.
//!
//! Every server listens on 127.0.0.1:0; synchronisation is by awaiting lines (the server's
//! `listening` line, its log lines, the clients' JSON events), each wait bounded.
//! A missing peer fails the test under `CI=true` and is a visible skip otherwise. The peers:
//! `python3` with `websockets` and `websocket-client` (pip), `node` with
//! `npm ci --prefix tests/peers`, `/usr/sbin/nginx` and `/usr/bin/chromium` (apt).

mod server_api;
mod shutdown;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{self, Proc, Schema, of_type};

/// How long the server may take to print its `listening` line.
const START: Duration = Duration::from_secs(15);
/// Default bound for one awaited line.
const WAIT: Duration = Duration::from_secs(10);

// ------------------------------------------------------------------ peers

fn clients_dir() -> PathBuf {
    common::peers_dir().join("clients")
}

/// `wsbeat echo-server --listen 127.0.0.1:0 ARGS...`, started and listening.
struct EchoServer {
    proc: Proc,
    url: String,
    /// `127.0.0.1:PORT`
    addr: String,
}

impl EchoServer {
    #[track_caller]
    fn start(args: &[&str]) -> EchoServer {
        let mut cmd = common::wsbeat();
        cmd.args(["echo-server", "--listen", "127.0.0.1:0"])
            .args(args);
        let proc = Proc::spawn(&format!("echo-server {}", args.join(" ")), &mut cmd);
        let first = proc.out.wait(START, |_| true).unwrap_or_else(|| {
            panic!(
                "echo-server printed no first stdout line within {START:?}\n{}",
                proc.dump()
            )
        });
        let url = if first.starts_with('{') {
            let v: Value = serde_json::from_str(&first)
                .unwrap_or_else(|e| panic!("first --json line is not JSON ({e}): {first:?}"));
            assert_eq!(v["type"], "listening", "first --json line: {first}");
            assert!(v["ts"].is_number(), "listening event without ts: {first}");
            v["url"].as_str().expect("listening.url").to_string()
        } else {
            first
                .strip_prefix("listening on ")
                .unwrap_or_else(|| {
                    panic!("first stdout line: expected `listening on URL`, got {first:?}")
                })
                .to_string()
        };
        let addr = url
            .strip_prefix("ws://")
            .or_else(|| url.strip_prefix("wss://"))
            .and_then(|r| r.strip_suffix('/'))
            .unwrap_or_else(|| {
                panic!("listening url: expected ws[s]://127.0.0.1:PORT/, got {url:?}")
            })
            .to_string();
        assert!(
            addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
            "listening url should name the bound port on 127.0.0.1, got {url:?}"
        );
        EchoServer { proc, url, addr }
    }

    fn url_with(&self, path: &str) -> String {
        format!("{}{}", self.url, path.trim_start_matches('/'))
    }

    #[track_caller]
    fn log(&self, what: &str, timeout: Duration, pred: impl FnMut(&str) -> bool) -> String {
        self.proc.wait_err(what, timeout, pred)
    }

    /// With `--json`: every stdout line so far, each checked against echo-server's schema.
    #[track_caller]
    fn json_events(&self) -> Vec<Value> {
        self.proc
            .out
            .snapshot()
            .iter()
            .map(|l| {
                Schema::EchoServer.parse_line(l).unwrap_or_else(|why| {
                    panic!(
                        "echo-server --json line breaks the schema: {why}\n{l}\n{}",
                        self.proc.dump()
                    )
                })
            })
            .collect()
    }
}

// ------------------------------------------------------------------ clients

fn client_env(cmd: &mut Command) {
    cmd.env_clear();
    for key in ["PATH", "HOME", "PYENV_ROOT", "PYENV_VERSION", "TMPDIR"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.env("PYTHONUNBUFFERED", "1")
        .env("PYTHONIOENCODING", "utf-8")
        .env("NO_COLOR", "1")
        .env("NODE_PATH", common::peers_dir().join("node_modules"))
        .current_dir(common::manifest_dir());
}

/// `python3 tests/peers/clients/SCRIPT ARGS...`
fn py(script: &str, args: &[&str]) -> Proc {
    let mut cmd = Command::new("python3");
    cmd.arg(clients_dir().join(script)).args(args);
    client_env(&mut cmd);
    Proc::spawn(&format!("{script} {}", args.join(" ")), &mut cmd)
}

/// `node tests/peers/clients/node_client.js URL`
fn node_client(url: &str) -> Proc {
    let mut cmd = Command::new("node");
    cmd.arg(clients_dir().join("node_client.js")).arg(url);
    client_env(&mut cmd);
    Proc::spawn("node_client.js", &mut cmd)
}

/// Runs a checking client to its end and asserts its `{"ok": true}` verdict.
#[track_caller]
fn expect_ok(mut client: Proc, server: &EchoServer, timeout: Duration) -> Value {
    let status = client.finish(timeout);
    let last = client
        .events()
        .into_iter()
        .rev()
        .find(|v| v.get("ok").is_some());
    match last {
        Some(v) if v["ok"] == true && status.success() => v,
        _ => panic!(
            "{} failed ({status}): {}\n{}\n{}",
            client.name,
            last.map_or("no verdict".into(), |v| v["error"].to_string()),
            client.dump(),
            server.proc.dump()
        ),
    }
}

/// One `py_client.py session` run to its end; its events.
#[track_caller]
fn session(server: &EchoServer, args: &[&str]) -> Vec<Value> {
    let mut full = vec!["session", server.url.as_str()];
    full.extend_from_slice(args);
    let mut c = py("py_client.py", &full);
    c.finish(Duration::from_secs(15));
    c.events()
}

/// `n` `raw_silent.py tcp` sockets that never send a byte (held `hold` seconds), each
/// connected.
fn silent_sockets(server: &EchoServer, n: usize, hold: &str) -> Vec<Proc> {
    let silent: Vec<Proc> = (0..n)
        .map(|_| py("raw_silent.py", &["tcp", &server.addr, "--hold", hold]))
        .collect();
    for s in &silent {
        s.wait_event("connected", WAIT);
    }
    silent
}

/// Waits for `raw_silent.py tcp` (`c`) to see its socket end; asserts that the server
/// dropped it `timeout` seconds after it connected (0.1 s early to 2 s late). `what` names
/// the case in the messages.
#[track_caller]
fn assert_dropped_after(c: &Proc, server: &EchoServer, timeout: u64, what: &str) {
    let end = c.wait_out("eof or still_open", Duration::from_secs(timeout + 9), |l| {
        l.contains("\"eof\"") || l.contains("still_open")
    });
    let v: Value = serde_json::from_str(&end).unwrap();
    assert_eq!(
        v["event"],
        "eof",
        "{what} should be dropped, got {v}\n{}",
        server.proc.dump()
    );
    let after = secs(&v["after"]);
    let t = timeout as f64;
    assert!(
        (t - 0.1..=t + 2.0).contains(&after),
        "{what}: dropped after {after} s, expected about {timeout} s"
    );
}

/// After `signal` (named in the messages): every client gets Close 1001 "going away", then
/// the server exits 0.
#[track_caller]
fn assert_going_away_then_exit_0(server: &mut EchoServer, clients: &[&Proc], signal: &str) {
    for c in clients {
        let closed = c.wait_event("closed", Duration::from_secs(5));
        assert_eq!(
            (closed["code"].as_u64(), closed["reason"].as_str()),
            (Some(1001), Some("going away")),
            "{signal}: expected close 1001 \"going away\", got {closed}\n{}",
            server.proc.dump()
        );
    }
    let status = server.proc.finish(Duration::from_secs(5));
    assert!(
        status.success(),
        "{signal}: expected exit 0, got {status}\n{}",
        server.proc.dump()
    );
}

/// A session that sends `a`, then `b` once `a` came back (`extra` options first), then
/// waits 5 s; its events.
fn lockstep_session(server: &EchoServer, extra: &[&str], a: &str, b: &str) -> Vec<Value> {
    let mut args = extra.to_vec();
    args.extend(["--lockstep", "--send", a, "--send", b, "--wait", "5"]);
    session(server, &args)
}

fn first<'a>(events: &'a [Value], event: &str) -> Option<&'a Value> {
    events.iter().find(|e| e["event"] == event)
}

fn texts(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "message")
        .map(|e| {
            e["text"]
                .as_str()
                .map_or_else(|| format!("<binary {}>", e["hex"]), str::to_string)
        })
        .collect()
}

fn secs(v: &Value) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("expected seconds, got {v}"))
}

/// `wsbeat connect` run to its end; its `--json` events.
#[track_caller]
fn wsbeat_connect(args: &[&str]) -> (std::process::Output, Vec<Value>) {
    let mut cmd = common::wsbeat();
    cmd.arg("connect").args(args).arg("--json");
    let out = common::run_timeout(&mut cmd, None, Duration::from_secs(15));
    let events = common::parse_ndjson(Schema::Connect, &out);
    (out, events)
}

/// Sends raw HTTP to `addr` and returns (status, whole response).
fn raw_http(addr: &str, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            // Head complete; a short body may still follow, take what is there.
            s.set_read_timeout(Some(Duration::from_millis(300)))
                .unwrap();
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:?}"));
    (status, text)
}

/// `raw_ws.py CASE` against a plain echo-server; asserts its verdict.
fn raw_ws_case(case: &str) -> Value {
    let server = EchoServer::start(&[]);
    expect_ok(py("raw_ws.py", &[case, &server.addr]), &server, WAIT)
}

/// Runs `raw_ws.py` for each case against one server; fails listing every case that failed.
fn raw_ws_cases(cases: &[&str]) {
    let server = EchoServer::start(&[]);
    let mut failed = Vec::new();
    for case in cases {
        let mut c = py("raw_ws.py", &[case, &server.addr]);
        let status = c.finish(WAIT);
        let verdict = c.events().into_iter().rev().find(|v| v.get("ok").is_some());
        match verdict {
            Some(v) if v["ok"] == true && status.success() => {}
            v => failed.push(format!(
                "{case}: {}",
                v.map_or_else(|| c.dump(), |v| v["error"].to_string())
            )),
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} cases failed:\n{}\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n"),
        server.proc.dump()
    );
}

/// nginx proxying 127.0.0.1:PORT to `upstream`, with `proxy_read_timeout`.
fn start_nginx(upstream: &str, read_timeout: &str) -> (Proc, String, tempfile::TempDir) {
    let (nginx, url, dir) = common::start_nginx_from(
        "ws_proxy.conf.template",
        &[("@UPSTREAM@", upstream), ("@READ_TIMEOUT@", read_timeout)],
    );
    (nginx, format!("{url}/"), dir)
}

// ------------------------------------------------------------------ echo with real clients

#[test]
fn python_websocket_client_echo_keeps_type_and_bytes() {
    if !common::require_peer("python") || !common::require_peer("websocket-client") {
        return;
    }
    let server = EchoServer::start(&[]);
    let client = py(
        "py_client.py",
        &["echo", &server.url, "--lib", "websocket-client"],
    );
    expect_ok(client, &server, WAIT);
}

#[test]
fn python_websockets_echo_keeps_type_and_bytes_and_close_code() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&[]);
    // Also closes with 4000 and checks the server's close frame echoes that code.
    let client = py(
        "py_client.py",
        &["echo", &server.url, "--lib", "websockets"],
    );
    expect_ok(client, &server, WAIT);
}

#[test]
fn node_ws_echo_keeps_type_and_bytes_and_reassembles_fragments() {
    if !common::require_peer("node") {
        return;
    }
    let server = EchoServer::start(&[]);
    expect_ok(node_client(&server.url), &server, WAIT);
}

/// Loads `tests/browser/echo.html` in headless Chromium against `server` and asserts the
/// page's verdict (text and binary echoes with their types and bytes, a clean close); `query`
/// is added to the page's URL. Returns the verdict.
fn chromium_echo(server: &EchoServer, extra_flags: &[&str], query: &str) -> Value {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let page = std::fs::read(common::manifest_dir().join("tests/browser/echo.html"))
        .expect("tests/browser/echo.html");
    let pages = vec![common::Page {
        path: "/echo.html",
        content_type: "text/html; charset=utf-8",
        body: page,
    }];
    common::serve_pages(listener, pages, tx);
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
    ])
    .args(extra_flags)
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("http://{http}/echo.html?url={}{query}", server.url));
    client_env(&mut cmd);
    let browser = Proc::spawn_tree("chromium", &mut cmd);
    let result = rx
        .recv_timeout(Duration::from_secs(15))
        .unwrap_or_else(|_| {
            panic!(
                "the page reported no result within 15 s\n{}\n{}",
                browser.dump(),
                server.proc.dump()
            )
        });
    let v: Value = serde_json::from_str(&result).expect("page result is JSON");
    assert_eq!(
        v["ok"],
        true,
        "chromium: {}\nresult: {v}\n{}",
        v["error"],
        server.proc.dump()
    );
    assert_eq!(
        v["checks"][0],
        json!({"what": "text", "type": "text", "same": true})
    );
    assert_eq!(
        v["checks"][1],
        json!({"what": "binary", "type": "binary", "same": true})
    );
    v
}

#[test]
fn chromium_page_echo_keeps_type_and_bytes() {
    if !common::require_peer("chromium") {
        return;
    }
    let server = EchoServer::start(&[]);
    chromium_echo(&server, &[], "");
}

#[test]
fn chromium_over_wss_reassembles_fragmented_echoes() {
    if !common::require_peer("chromium") {
        return;
    }
    // The made-up certificate is not in Chromium's store; TLS itself (BoringSSL against
    // rustls) is what is under test here.
    let server = EchoServer::start(&["--tls-self-signed", "--fragment", "7"]);
    chromium_echo(&server, &["--ignore-certificate-errors"], "");
}

/// Chromium always offers permessage-deflate (with client_max_window_bits); against
/// `--compress` the page sees the extension, and every echo, 1 MiB included, comes back intact.
#[test]
fn chromium_compressed_echo_of_text_binary_and_1_mib() {
    if !common::require_peer("chromium") {
        return;
    }
    let server = EchoServer::start(&["--compress"]);
    let v = chromium_echo(&server, &[], "&big=1");
    assert_eq!(
        v["checks"][2],
        json!({"what": "1 MiB text", "type": "text", "same": true})
    );
    let ext = v["extensions"].as_str().unwrap_or("");
    assert!(
        ext.starts_with("permessage-deflate"),
        "page saw extensions {ext:?}"
    );
}

#[test]
fn every_client_reassembles_the_servers_fragmented_echoes() {
    if !common::require_peer("python")
        || !common::require_peer("websocket-client")
        || !common::require_peer("node")
    {
        return;
    }
    let server = EchoServer::start(&["--fragment", "7"]);
    for lib in ["websocket-client", "websockets"] {
        expect_ok(
            py("py_client.py", &["echo", &server.url, "--lib", lib]),
            &server,
            WAIT,
        );
    }
    expect_ok(node_client(&server.url), &server, WAIT);
}

#[test]
fn fragmented_message_from_python_is_echoed_whole() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&[]);
    // websockets sends each message as 4 data frames (+ an empty final one); the echo must be
    // the reassembled message in one frame.
    let client = py(
        "py_client.py",
        &["fragmented", &server.url, "--expect-frames", "1", "1"],
    );
    expect_ok(client, &server, WAIT);
}

#[test]
fn big_messages_are_echoed_intact() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&[]);
    let v = expect_ok(
        py("py_client.py", &["big", &server.url, "--mib", "4"]),
        &server,
        Duration::from_secs(20),
    );
    assert_eq!(v["binary_len"], 4 << 20);
}

#[test]
fn five_hundred_concurrent_clients_each_get_their_own_echoes() {
    if !common::require_peer("python") {
        return;
    }
    let mut server = EchoServer::start(&["--json"]);
    let client = py(
        "py_client.py",
        &["many", &server.url, "-n", "500", "--deadline", "15"],
    );
    let v = expect_ok(client, &server, Duration::from_secs(20));
    assert_eq!(v["clients"], 500);
    // The summary counts what happened: 500 connections, one text + one binary each way.
    let mut closed = 0;
    server.proc.wait_out("500 `closed` events", WAIT, |l| {
        closed += usize::from(l.contains("\"type\":\"closed\""));
        closed >= 500
    });
    server.proc.signal(libc::SIGTERM);
    server.proc.finish(Duration::from_secs(5));
    let summary = server.proc.wait_event("summary", WAIT);
    let torn: Vec<String> = server
        .proc
        .out
        .snapshot()
        .into_iter()
        .filter(|l| !serde_json::from_str::<Value>(l).is_ok_and(|v| v.is_object()))
        .take(3)
        .collect();
    assert!(
        torn.is_empty(),
        "--json stdout lines that are not JSON objects: {torn:?}"
    );
    let events = server.json_events();
    assert_eq!(
        of_type(&events, "closed").len(),
        500,
        "one closed event per client"
    );
    assert_eq!(summary["connections"], 500, "summary: {summary}");
    assert_eq!(summary["messages_in"], 1000, "summary: {summary}");
    assert_eq!(summary["messages_out"], 1000, "summary: {summary}");
    assert_eq!(
        summary["bytes_in"], summary["bytes_out"],
        "summary: {summary}"
    );
    let peak = summary["peak_connections"].as_u64().unwrap_or(0);
    assert!(
        (1..=500).contains(&peak),
        "summary.peak_connections: {summary}"
    );
}

// ------------------------------------------------------------------ RFC 6455 corners (raw)

#[test]
fn rfc_ping_between_fragments_is_answered_and_the_message_echoed_whole() {
    if !common::require_peer("python") {
        return;
    }
    let v = raw_ws_case("interleaved-ping");
    assert_eq!(v["echo"], "interleaved ☃");
}

#[test]
fn rfc_unmasked_client_frame_closes_1002() {
    if common::require_peer("python") {
        raw_ws_case("unmasked");
    }
}

#[test]
fn rfc_invalid_utf8_text_closes_1007() {
    if common::require_peer("python") {
        raw_ws_case("bad-utf8");
    }
}

#[test]
fn rfc_reserved_opcode_closes_1002() {
    if common::require_peer("python") {
        raw_ws_case("bad-opcode");
    }
}

#[test]
fn rfc_close_code_is_echoed_then_tcp_ends() {
    if common::require_peer("python") {
        raw_ws_case("close-echo");
    }
}

#[test]
fn rfc_protocol_violations_close_1002() {
    if common::require_peer("python") {
        raw_ws_cases(&[
            "control-too-long",
            "fragmented-control",
            "continuation-without-start",
            "new-message-inside-fragmented",
            "rsv-bits-without-extension",
            "close-one-byte-payload",
            "close-reserved-code-1005",
            "close-code-999",
        ]);
    }
}

#[test]
fn upgrade_requests_as_real_clients_send_them() {
    // One byte at a time; the first frame in the same write; Firefox's header spelling;
    // a 6 KB cookie; a 125-byte ping; a text message split inside a UTF-8 character.
    if common::require_peer("python") {
        raw_ws_cases(&[
            "split-request",
            "frame-with-request",
            "firefox-headers",
            "big-cookie",
            "ping-125",
            "utf8-split",
        ]);
    }
}

#[test]
fn upgrade_with_unsupported_version_or_no_key_is_refused() {
    let server = EchoServer::start(&[]);
    let req = |extra: &str| {
        format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n{extra}\r\n",
            server.addr
        )
    };
    let (status, resp) = raw_http(
        &server.addr,
        &req("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n"),
    );
    assert!(
        (400..500).contains(&status)
            && resp
                .to_ascii_lowercase()
                .contains("sec-websocket-version: 13"),
        "version 8: RFC 6455 4.2.2 wants a 4xx (426) naming `Sec-WebSocket-Version: 13`, got {resp:?}"
    );
    let (status, resp) = raw_http(&server.addr, &req("Sec-WebSocket-Version: 13\r\n"));
    assert_eq!(
        status, 400,
        "upgrade without Sec-WebSocket-Key: expected 400, got {resp:?}"
    );
}

#[test]
fn plain_http_get_gets_426() {
    let server = EchoServer::start(&[]);
    let (status, resp) = raw_http(
        &server.addr,
        &format!(
            "GET / HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(
        status, 426,
        "plain GET without upgrade: expected 426, got {resp:?}"
    );
    // The server keeps serving after that.
    let (out, _) = wsbeat_connect(&[
        &server.url,
        "--send",
        "after",
        "--expect",
        "after",
        "--wait",
        "2s",
    ]);
    common::assert_exit(&out, 0);
}

// ------------------------------------------------------------------ heartbeat

#[test]
fn heartbeat_terminates_a_client_that_never_answers_pings() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--ping-interval", "1s", "--ping-timeout", "1s"]);
    // A well-behaved client (websockets answers pings by itself) must outlive the deaf one.
    let good = py("py_client.py", &["session", &server.url, "--wait", "4.5"]);
    good.wait_event("open", WAIT);
    let deaf = py("raw_silent.py", &["upgrade", &server.addr, "--hold", "15"]);
    let up = deaf.wait_event("upgraded", WAIT);
    let t0 = Instant::now();
    let local = up["local"].as_str().unwrap().to_string();
    let line = server.log(
        &format!("`heartbeat timeout #ID {local}: …`"),
        Duration::from_secs(6),
        |l| l.contains("heartbeat timeout") && l.contains(&local),
    );
    let took = t0.elapsed();
    assert!(
        took <= Duration::from_millis(3500),
        "heartbeat timeout logged after {took:?}; expected within interval 1s + timeout 1s (+1.5 s slack)"
    );
    assert!(
        took >= Duration::from_millis(900),
        "heartbeat timeout logged after only {took:?}, before a 1 s ping timeout could pass"
    );
    assert!(
        line.contains("no pong"),
        "log line should say why: {line:?}"
    );
    let closed = good.wait_event("closed", Duration::from_secs(8));
    let alive = good.events().iter().any(|e| e["event"] == "alive");
    assert!(
        alive,
        "a client answering pings was cut ({closed}) by --ping-interval 1s --ping-timeout 1s\n{}",
        server.proc.dump()
    );
    let bad = server
        .proc
        .err
        .snapshot()
        .into_iter()
        .filter(|l| l.contains("heartbeat timeout #"))
        .count();
    assert_eq!(
        bad,
        1,
        "only the deaf client should time out\n{}",
        server.proc.dump()
    );
}

#[test]
fn heartbeat_timeout_is_a_json_event_naming_the_client() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--json", "--ping-interval", "1s", "--ping-timeout", "1s"]);
    let deaf = py("raw_silent.py", &["upgrade", &server.addr, "--hold", "15"]);
    let local = deaf.wait_event("upgraded", WAIT)["local"]
        .as_str()
        .unwrap()
        .to_string();
    let hb = server
        .proc
        .wait_event("heartbeat_timeout", Duration::from_secs(6));
    assert_eq!(hb["peer"], local.as_str(), "heartbeat_timeout.peer: {hb}");
    assert!(hb["ts"].is_number(), "heartbeat_timeout.ts: {hb}");
    let opened = server.proc.wait_event("opened", WAIT);
    assert_eq!(
        hb["id"], opened["id"],
        "heartbeat_timeout.id should be the opened id"
    );
    let closed = server.proc.wait_event("closed", WAIT);
    assert_eq!(closed["id"], opened["id"], "closed: {closed}");
    assert_eq!(
        closed["initiator"], "server",
        "closed after heartbeat timeout: {closed}"
    );
    assert_eq!(
        closed["wasClean"], false,
        "closed after heartbeat timeout: {closed}"
    );
    // A client that answers: its closed event carries the measured ping round trip.
    let ev = session(&server, &["--wait", "2.5"]);
    assert!(
        first(&ev, "alive").is_some(),
        "the answering client was cut: {ev:?}"
    );
    let mut n = 0;
    let line = server.proc.wait_out("a second `closed` event", WAIT, |l| {
        n += usize::from(l.contains("\"type\":\"closed\""));
        n >= 2
    });
    let closed: Value = serde_json::from_str(&line).unwrap();
    assert!(
        closed["rtt"].as_f64().is_some_and(|r| r >= 0.0),
        "with --ping-interval and a client that answers, closed.rtt should be seconds: {closed}"
    );
    let events = server.json_events();
    assert_eq!(
        of_type(&events, "heartbeat_timeout").len(),
        1,
        "only the deaf client times out\n{}",
        server.proc.dump()
    );
}

#[test]
fn nginx_read_timeout_cuts_an_idle_client_unless_the_server_pings() {
    if !common::require_peer("python") || !common::require_peer("nginx") {
        return;
    }
    let quiet = EchoServer::start(&[]);
    let pinging = EchoServer::start(&["--ping-interval", "1s"]);
    let (_n1, via_quiet, _d1) = start_nginx(&quiet.addr, "2s");
    let (_n2, via_pinging, _d2) = start_nginx(&pinging.addr, "2s");
    // The Python client's own keepalive pings are off (ping_interval=None); it only answers.
    let c1 = py(
        "py_client.py",
        &["session", &via_quiet, "--send", "hello", "--wait", "4"],
    );
    let c2 = py(
        "py_client.py",
        &["session", &via_pinging, "--send", "hello", "--wait", "4"],
    );
    let m1 = c1.wait_event("message", WAIT);
    c2.wait_event("message", WAIT);
    let closed = c1.wait_event("closed", Duration::from_secs(8));
    let idle = secs(&closed["t"]) - secs(&m1["t"]);
    assert!(
        first(&c1.events(), "alive").is_none() && (1.5..=3.5).contains(&idle),
        "through nginx (proxy_read_timeout 2s) an idle client should be cut after ~2 s, \
         got {closed} after {idle:.2} s idle: {:?}",
        c1.events()
    );
    let end = c2.wait_event("closed", Duration::from_secs(8));
    assert!(
        first(&c2.events(), "alive").is_some(),
        "with --ping-interval 1s the client should stay connected through nginx for 4 s, got {end}\n{:?}\n{}",
        c2.events(),
        pinging.proc.dump()
    );
}

// ------------------------------------------------------------------ app pong, broadcast

#[test]
fn app_pong_answers_text_and_json_pings() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--app-pong"]);
    let v = expect_ok(py("py_client.py", &["apppong", &server.url]), &server, WAIT);
    assert_eq!(v["json_reply"]["status"], "pong");
}

#[test]
fn broadcast_reaches_all_three_clients() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--broadcast"]);
    expect_ok(
        py("py_client.py", &["broadcast", &server.url, "-n", "3"]),
        &server,
        Duration::from_secs(15),
    );
}

#[test]
fn broadcast_cuts_a_client_that_never_reads_without_holding_up_the_others() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--broadcast", "--broadcast-queue", "32"]);
    let deaf = py("raw_silent.py", &["upgrade", &server.addr, "--hold", "30"]);
    let local = deaf.wait_event("upgraded", WAIT)["local"]
        .as_str()
        .unwrap()
        .to_string();
    server.log("`opened #…` for the deaf client", WAIT, |l| {
        l.contains("opened #") && l.contains(&local)
    });
    // 600 × 64 KiB: far more than the deaf client's socket buffers and queue hold. The
    // sender (at most 4 in flight) must get all its own copies back, in order.
    let v = expect_ok(
        py(
            "py_client.py",
            &[
                "flood",
                &server.url,
                "--count",
                "600",
                "--size",
                "65536",
                "--window",
                "4",
            ],
        ),
        &server,
        Duration::from_secs(20),
    );
    assert_eq!(v["count"], 600);
    let closed = server.log(
        &format!("`closed #… ` for the deaf client {local} with 1008 \"slow consumer\""),
        Duration::from_secs(10),
        |l| l.contains("closed #") && l.contains("slow consumer"),
    );
    assert!(
        closed.contains("1008"),
        "a client over --broadcast-queue should be closed with 1008 \"slow consumer\": {closed:?}"
    );
}

// ------------------------------------------------------------------ subprotocols

#[test]
fn subprotocol_first_offered_that_we_accept_is_selected() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--subprotocol", "chat.v2", "--subprotocol", "chat.v1"]);
    let mut c = py(
        "py_client.py",
        &[
            "session",
            &server.url_with("room"),
            "--subprotocol",
            "x-unknown",
            "--subprotocol",
            "chat.v1",
            "--subprotocol",
            "chat.v2",
            "--send",
            "hi",
            "--wait",
            "0.5",
        ],
    );
    c.finish(WAIT);
    let open = c.wait_event("open", WAIT);
    assert_eq!(
        open["subprotocol"],
        "chat.v1",
        "client offered [x-unknown, chat.v1, chat.v2], server accepts [chat.v2, chat.v1]: \
         the first offered that the server accepts is chat.v1\n{}",
        server.proc.dump()
    );
    let msg = c.wait_event("message", WAIT);
    assert_eq!(msg["text"], "hi");
    let line = server.log("`opened … subprotocol=chat.v1`", WAIT, |l| {
        l.contains("opened #")
    });
    assert!(
        line.contains("path=/room") && line.contains("subprotocol=chat.v1"),
        "opened log line: expected path=/room subprotocol=chat.v1, got {line:?}"
    );
}

#[test]
fn subprotocol_none_matching_is_rejected_with_400() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--subprotocol", "chat.v1"]);
    let mut c = py(
        "py_client.py",
        &[
            "session",
            &server.url,
            "--subprotocol",
            "nope",
            "--wait",
            "0.5",
        ],
    );
    c.finish(WAIT);
    let ev = c.events().pop().unwrap_or_default();
    assert_eq!(
        (ev["event"].as_str(), ev["status"].as_u64()),
        (Some("rejected"), Some(400)),
        "offering only an unknown subprotocol: expected HTTP 400, got {ev}\n{}",
        server.proc.dump()
    );
    // Offering none at all is "none of them" too (as --help says).
    let ev = session(&server, &["--wait", "0.5"]);
    let rej = first(&ev, "rejected").cloned().unwrap_or_default();
    assert_eq!(
        rej["status"], 400,
        "offering no subprotocol to a server with --subprotocol: expected HTTP 400, got {ev:?}"
    );
}

// ------------------------------------------------------------------ TLS

#[test]
fn tls_self_signed_pem_is_trusted_by_python_and_wsbeat_connect() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--tls-self-signed"]);
    assert!(
        server.url.starts_with("wss://127.0.0.1:"),
        "with TLS the listening url should be wss://, got {}",
        server.url
    );
    let line = server.log("naming the written cert `….pem`", WAIT, |l| {
        l.contains(".pem")
    });
    let pem = line
        .split(|c: char| c.is_whitespace() || "\"'`".contains(c))
        .map(|w| w.trim_matches(|c: char| "()[]{}<>,;:".contains(c)))
        .find(|w| w.ends_with(".pem"))
        .unwrap_or_else(|| panic!("no path ending in .pem in {line:?}"))
        .to_string();
    assert!(
        Path::new(&pem).is_file(),
        "cert path {pem:?} from {line:?} is not a file"
    );
    let fp = server.proc.err.snapshot().join("\n");
    assert!(
        fp.to_lowercase().contains("sha-256") || fp.to_lowercase().contains("sha256"),
        "stderr should print the SHA-256 fingerprint\n{fp}"
    );

    let v = expect_ok(
        py("py_client.py", &["tls", &server.url, "--cafile", &pem]),
        &server,
        WAIT,
    );
    assert!(v["tls_version"].as_str().unwrap_or("").starts_with("TLS"));

    let (out, events) = wsbeat_connect(&[
        &server.url,
        "--cacert",
        &pem,
        "--send",
        "over tls",
        "--wait",
        "2s",
        "--expect",
        "over tls",
    ]);
    common::assert_exit(&out, 0);
    let got: Vec<&Value> = events.iter().filter(|e| e["type"] == "received").collect();
    assert!(
        got.iter().any(|e| e["text"] == "over tls"),
        "wsbeat connect --cacert: expected the echo \"over tls\"\n{}",
        common::describe(&out)
    );
}

#[test]
fn tls_cert_and_key_files_serve_wss() {
    if !common::require_peer("python") {
        return;
    }
    let pki = common::test_pki();
    let server = EchoServer::start(&[
        "--tls-cert",
        common::path_str(&pki.cert),
        "--tls-key",
        common::path_str(&pki.key),
    ]);
    assert!(server.url.starts_with("wss://"), "url: {}", server.url);
    expect_ok(
        py(
            "py_client.py",
            &["tls", &server.url, "--cafile", common::path_str(&pki.ca)],
        ),
        &server,
        WAIT,
    );
    let (out, events) = wsbeat_connect(&[
        &server.url,
        "--cacert",
        common::path_str(&pki.ca),
        "--send",
        "tls files",
        "--expect",
        "tls files",
        "--wait",
        "2s",
    ]);
    common::assert_exit(&out, 0);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "received" && e["text"] == "tls files")
    );
    // A plain ws:// client on the TLS port gets no upgrade.
    let plain = server.url.replacen("wss://", "ws://", 1);
    let mut c = py("py_client.py", &["session", &plain, "--wait", "0.5"]);
    c.finish(WAIT);
    assert!(
        first(&c.events(), "open").is_none(),
        "plain ws:// to the TLS port should not open: {:?}",
        c.events()
    );
}

#[test]
fn tls_handshake_timeout_drops_a_silent_socket() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--tls-self-signed", "--handshake-timeout", "1s"]);
    let c = py("raw_silent.py", &["tcp", &server.addr, "--hold", "8"]);
    assert_dropped_after(
        &c,
        &server,
        1,
        "TLS, --handshake-timeout 1s: a socket that never starts TLS",
    );
}

// ------------------------------------------------------------------ faults

#[test]
fn close_after_n_closes_with_the_configured_code_and_reason() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--close-after", "2", "--close-code", "4001:bye now"]);
    let ev = session(
        &server,
        &["--send", "a", "--send", "b", "--send", "c", "--wait", "5"],
    );
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert_eq!(
        (closed["code"].as_u64(), closed["reason"].as_str()),
        (Some(4001), Some("bye now")),
        "--close-after 2 --close-code '4001:bye now': expected close 4001 \"bye now\", got {closed}\n{ev:?}\n{}",
        server.proc.dump()
    );
    assert!(
        first(&ev, "alive").is_none(),
        "the server should have closed, not the client's --wait"
    );
    let got = texts(&ev);
    assert!(
        got.first().map(String::as_str) == Some("a") && !got.contains(&"c".to_string()),
        "expected the first message echoed and none after the 2nd, got {got:?}"
    );
}

#[test]
fn close_after_defaults_to_1000() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--close-after", "1"]);
    let ev = session(&server, &["--send", "only", "--wait", "5"]);
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert_eq!(
        closed["code"], 1000,
        "--close-after 1 without --close-code: expected close 1000, got {closed}\n{ev:?}"
    );
    assert!(
        first(&ev, "alive").is_none(),
        "the server should have closed: {ev:?}"
    );
}

#[test]
fn drop_after_n_client_sees_1006() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--drop-after", "1"]);
    let ev = session(&server, &["--send", "x", "--send", "y", "--wait", "5"]);
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert_eq!(
        closed["code"],
        1006,
        "--drop-after 1: expected an abnormal closure (1006, no close frame), got {closed}\n{ev:?}\n{}",
        server.proc.dump()
    );
    assert!(
        first(&ev, "alive").is_none(),
        "the server should have dropped us: {ev:?}"
    );
}

#[test]
fn close_after_and_drop_after_send_the_delayed_echo_first() {
    if !common::require_peer("python") {
        return;
    }
    let close = EchoServer::start(&["--close-after", "1", "--delay", "300ms"]);
    let dropping = EchoServer::start(&["--drop-after", "1", "--delay", "300ms"]);
    let ev_close = session(&close, &["--send", "last words", "--wait", "5"]);
    let ev_drop = session(&dropping, &["--send", "last words", "--wait", "5"]);
    for (what, ev, code) in [
        ("--close-after 1", &ev_close, 1000),
        ("--drop-after 1", &ev_drop, 1006),
    ] {
        assert_eq!(
            texts(ev),
            vec!["last words"],
            "{what} --delay 300ms: the echo comes first (\"echoed first\"), got {ev:?}"
        );
        let closed = first(ev, "closed").cloned().unwrap_or_default();
        assert_eq!(closed["code"], code, "{what} --delay 300ms: {ev:?}");
    }
}

#[test]
fn delay_holds_each_echo_at_least_the_delay() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--delay", "700ms"]);
    let ev = session(&server, &["--send", "slow", "--wait", "5"]);
    let sent = first(&ev, "sent").map(|e| secs(&e["t"]));
    let got = first(&ev, "message").map(|e| secs(&e["t"]));
    let (Some(sent), Some(got)) = (sent, got) else {
        panic!(
            "--delay 700ms: no echo within 5 s: {ev:?}\n{}",
            server.proc.dump()
        );
    };
    let delay = got - sent;
    assert!(
        delay >= 0.69,
        "--delay 700ms: echo came after {delay:.3} s, expected at least 0.7 s"
    );
    assert!(delay < 3.0, "--delay 700ms: echo came after {delay:.3} s");
    assert_eq!(texts(&ev), vec!["slow"]);
}

#[test]
fn delay_keeps_the_order_of_echoes() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--delay", "300ms"]);
    let sends: Vec<String> = (1..=5).map(|i| format!("m{i}")).collect();
    let mut args: Vec<&str> = Vec::new();
    for m in &sends {
        args.extend(["--send", m]);
    }
    args.extend(["--wait", "6"]);
    let mut full = vec!["session", server.url.as_str()];
    full.extend(args);
    let c = py("py_client.py", &full);
    // Await the 5th echo rather than the client's --wait.
    c.wait_out("with the 5th echo", Duration::from_secs(10), |l| {
        l.contains("\"m5\"")
    });
    let ev = c.events();
    assert_eq!(
        texts(&ev),
        sends,
        "--delay 300ms: echoes out of order or missing"
    );
    let sent: Vec<f64> = ev
        .iter()
        .filter(|e| e["event"] == "sent")
        .map(|e| secs(&e["t"]))
        .collect();
    let got: Vec<f64> = ev
        .iter()
        .filter(|e| e["event"] == "message")
        .map(|e| secs(&e["t"]))
        .collect();
    for (i, (s, g)) in sent.iter().zip(&got).enumerate() {
        assert!(
            g - s >= 0.29,
            "--delay 300ms: echo {} came {:.3} s after its send",
            i + 1,
            g - s
        );
    }
}

#[test]
fn no_pong_ignores_pings_but_still_echoes() {
    if !common::require_peer("python") {
        return;
    }
    // Control: without the fault the same client gets its pong.
    let normal = EchoServer::start(&[]);
    let ev = session(&normal, &["--ping", "--ping-timeout", "2", "--wait", "0.3"]);
    assert!(
        first(&ev, "pong").is_some(),
        "control: the plain echo-server should answer a ping: {ev:?}"
    );

    let server = EchoServer::start(&["--no-pong"]);
    let ev = session(
        &server,
        &[
            "--send",
            "still here",
            "--ping",
            "--ping-timeout",
            "1.5",
            "--wait",
            "1",
        ],
    );
    assert!(
        first(&ev, "pong_timeout").is_some(),
        "--no-pong: expected no pong within 1.5 s, got {ev:?}"
    );
    assert_eq!(
        texts(&ev),
        vec!["still here"],
        "--no-pong should still echo"
    );
}

#[test]
fn reject_503_refuses_every_upgrade_with_status_and_body() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--reject", "503"]);
    for _ in 0..2 {
        let ev = session(&server, &["--wait", "0.5"]);
        let rej = first(&ev, "rejected").cloned().unwrap_or_default();
        assert_eq!(
            rej["status"],
            503,
            "--reject 503: expected HTTP 503, got {ev:?}\n{}",
            server.proc.dump()
        );
        assert!(
            !rej["body"].as_str().unwrap_or("").is_empty(),
            "--reject 503: expected a short body, got {rej}"
        );
    }
}

#[test]
fn fragment_n_echoes_in_frames_of_n_bytes() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--fragment", "4"]);
    // 10 bytes each: frames of 4 + 4 + 2.
    let ev = session(
        &server,
        &[
            "--send",
            "abcdefghij",
            "--send-hex",
            "ff00ff00ff00ff00ff00",
            "--wait",
            "1",
        ],
    );
    let msgs: Vec<(String, u64, String)> = ev
        .iter()
        .filter(|e| e["event"] == "message")
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("").to_string(),
                e["frames"].as_u64().unwrap_or(0),
                e["text"]
                    .as_str()
                    .or(e["hex"].as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(
        msgs,
        vec![
            ("text".to_string(), 3, "abcdefghij".to_string()),
            ("binary".to_string(), 3, "ff00ff00ff00ff00ff00".to_string())
        ],
        "--fragment 4: expected each 10-byte echo in 3 frames, type and bytes kept\n{}",
        server.proc.dump()
    );
}

#[test]
fn fragment_n_may_split_multibyte_text_and_it_arrives_whole() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--fragment", "4"]);
    let snowmen = "☃☃☃☃"; // 12 bytes: 3 frames of 4 split every character
    let ev = session(&server, &["--send", snowmen, "--wait", "1"]);
    let msg = first(&ev, "message").cloned().unwrap_or_default();
    assert_eq!(
        (msg["kind"].as_str(), msg["text"].as_str()),
        (Some("text"), Some(snowmen)),
        "--fragment 4 with multi-byte text: expected the text back whole, got {ev:?}\n{}",
        server.proc.dump()
    );
    assert!(
        msg["frames"].as_u64().unwrap_or(0) >= 3,
        "--fragment 4, 12 bytes: {msg}"
    );
}

// ------------------------------------------------------------------ limits

#[test]
fn max_message_size_over_the_limit_closes_1009() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--max-message-size", "1KiB"]);
    let small = "s".repeat(1000);
    let big = "b".repeat(2000);
    let ev = lockstep_session(&server, &[], &small, &big);
    assert_eq!(
        texts(&ev).first(),
        Some(&small),
        "a 1000-byte message is under 1KiB and should be echoed: {ev:?}"
    );
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert_eq!(
        closed["code"],
        1009,
        "--max-message-size 1KiB, 2000-byte message: expected close 1009, got {closed}\n{}",
        server.proc.dump()
    );
}

#[test]
fn max_message_size_close_handshake_completes_and_is_logged_as_1009() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--max-message-size", "1KiB"]);
    let exact = "e".repeat(1024);
    let over = "o".repeat(1025);
    let ev = lockstep_session(&server, &[], &exact, &over);
    assert_eq!(
        texts(&ev).first(),
        Some(&exact),
        "--max-message-size 1KiB: a message of exactly 1024 bytes is not over the limit: {ev:?}"
    );
    let sent_over = ev
        .iter()
        .filter(|e| e["event"] == "sent")
        .nth(1)
        .map(|e| secs(&e["t"]))
        .unwrap_or(0.0);
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert_eq!(closed["code"], 1009, "1025 bytes: {ev:?}");
    // The client answers the Close at once (websockets does); the server should see that
    // answer, end TCP and log a clean 1009, as it does for its other closes (--close-after,
    // --idle-timeout).
    let line = server.log("`closed #…`", WAIT, |l| l.contains("closed #"));
    let took = secs(&closed["t"]) - sent_over;
    assert!(
        took < 1.5 && line.contains("code=1009") && line.contains("wasClean=true"),
        "--max-message-size: expected the close handshake to complete at once and the log to say \
         `code=1009 … wasClean=true`; got TCP closed {took:.2} s after the message and {line:?}"
    );
}

#[test]
fn max_message_size_counts_the_reassembled_message() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--max-message-size", "1KiB"]);
    let small = "s".repeat(1000);
    let big = "b".repeat(1500);
    // Both sent in frames of 400: every frame is under the limit, the second message is not.
    let ev = lockstep_session(&server, &["--frag", "400"], &small, &big);
    assert_eq!(
        texts(&ev).first(),
        Some(&small),
        "a fragmented 1000-byte message is under 1KiB and should be echoed: {ev:?}"
    );
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert_eq!(
        closed["code"],
        1009,
        "--max-message-size 1KiB, 1500 bytes in frames of 400: expected close 1009, got {closed}\n{}",
        server.proc.dump()
    );
}

#[test]
fn max_connections_2_third_gets_503_until_a_slot_frees() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--max-connections", "2"]);
    let a = py("py_client.py", &["session", &server.url, "--wait", "12"]);
    let b = py("py_client.py", &["session", &server.url, "--wait", "12"]);
    a.wait_event("open", WAIT);
    b.wait_event("open", WAIT);
    let ev = session(&server, &["--wait", "0.5"]);
    let rej = first(&ev, "rejected").cloned().unwrap_or_default();
    assert_eq!(
        rej["status"],
        503,
        "--max-connections 2, third client: expected HTTP 503, got {ev:?}\n{}",
        server.proc.dump()
    );
    // Free a slot: kill one client; once the server logs the close a new client gets in.
    let n_closed = |s: &EchoServer| {
        s.proc
            .err
            .snapshot()
            .iter()
            .filter(|l| l.contains("closed #"))
            .count()
    };
    let before = n_closed(&server);
    drop(a);
    let mut seen = 0;
    server.log("`closed #…` for the killed client", WAIT, |l| {
        seen += usize::from(l.contains("closed #"));
        seen > before
    });
    let ev = session(&server, &["--send", "in", "--wait", "0.5"]);
    assert_eq!(
        texts(&ev),
        vec!["in"],
        "after one of 2 clients left, a new one should be served: {ev:?}\n{}",
        server.proc.dump()
    );
    drop(b);
}

#[test]
fn pending_handshakes_do_not_use_up_max_connections() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--max-connections", "2"]);
    let _silent = silent_sockets(&server, 2, "6");
    // Two sockets that never sent a request are not open WebSocket connections.
    let ev = session(&server, &["--send", "x", "--wait", "0.3"]);
    assert_eq!(
        texts(&ev),
        vec!["x"],
        "--max-connections 2 with 2 silent TCP sockets: a real client should be served: {ev:?}\n{}",
        server.proc.dump()
    );
}

#[test]
fn silent_tcp_client_is_dropped_after_handshake_timeout_while_others_are_served() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--handshake-timeout", "3s"]);
    let silent = silent_sockets(&server, 3, "10");
    // While three connections sit silent, a real client is served.
    expect_ok(
        py(
            "py_client.py",
            &["echo", &server.url, "--lib", "websockets"],
        ),
        &server,
        WAIT,
    );
    let still_pending: Vec<bool> = silent
        .iter()
        .map(|s| !s.out.snapshot().iter().any(|l| l.contains("\"eof\"")))
        .collect();
    for s in &silent {
        assert_dropped_after(
            s,
            &server,
            3,
            "--handshake-timeout 3s: a client that never sends a request",
        );
    }
    assert!(
        still_pending.iter().all(|&p| p),
        "the real client was only served after the silent ones were dropped \
         (pending when it finished: {still_pending:?})"
    );
}

#[test]
fn slowloris_partial_request_is_dropped_after_handshake_timeout() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--handshake-timeout", "1s"]);
    let c = py(
        "raw_silent.py",
        &["tcp", &server.addr, "--partial", "--hold", "8"],
    );
    assert_dropped_after(
        &c,
        &server,
        1,
        "--handshake-timeout 1s: a request that never ends",
    );
}

#[test]
fn idle_timeout_closes_a_quiet_client() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--idle-timeout", "1s"]);
    let ev = session(&server, &["--send", "then quiet", "--wait", "6"]);
    let sent = first(&ev, "sent").map(|e| secs(&e["t"])).unwrap_or(0.0);
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert!(
        first(&ev, "alive").is_none(),
        "--idle-timeout 1s: a client quiet for 6 s should have been closed by the server: {ev:?}\n{}",
        server.proc.dump()
    );
    assert_eq!(
        (closed["code"].as_u64(), closed["reason"].as_str()),
        (Some(1001), Some("idle timeout")),
        "--idle-timeout (as its --help documents): expected Close 1001 \"idle timeout\", got {closed}"
    );
    let idle = secs(&closed["t"]) - sent;
    assert!(
        (0.9..=3.0).contains(&idle),
        "--idle-timeout 1s: closed after {idle:.2} s of quiet, expected about 1 s: {closed}"
    );
}

#[test]
fn idle_timeout_is_not_reset_by_client_pings() {
    if !common::require_peer("python") {
        return;
    }
    let server = EchoServer::start(&["--idle-timeout", "1s"]);
    // websockets' own keepalive: a Ping every 0.3 s, never a message.
    let ev = session(&server, &["--keepalive", "0.3", "--wait", "5"]);
    let closed = first(&ev, "closed").cloned().unwrap_or_default();
    assert!(
        first(&ev, "alive").is_none() && closed["code"] == 1001,
        "--idle-timeout 1s (\"pings and pongs do not count\"): a client that only pings should be \
         closed with 1001 after ~1 s: {ev:?}\n{}",
        server.proc.dump()
    );
    let t = secs(&closed["t"]);
    assert!(t <= 3.0, "--idle-timeout 1s: closed after {t} s");
}

// ------------------------------------------------------------------ shutdown, logs, events, listening

#[test]
fn sigterm_closes_clients_with_1001_then_summary_and_exit_0() {
    if !common::require_peer("python") {
        return;
    }
    let mut server = EchoServer::start(&["--json"]);
    let a = py(
        "py_client.py",
        &["session", &server.url, "--send", "one", "--wait", "12"],
    );
    let b = py("py_client.py", &["session", &server.url, "--wait", "12"]);
    a.wait_event("message", WAIT);
    b.wait_event("open", WAIT);
    // Both are registered once the server reported them.
    let mut opened = 0;
    server.proc.wait_out("two `opened` events", WAIT, |l| {
        opened +=
            usize::from(serde_json::from_str::<Value>(l).is_ok_and(|v| v["type"] == "opened"));
        opened >= 2
    });
    server.proc.signal(libc::SIGTERM);
    assert_going_away_then_exit_0(&mut server, &[&a, &b], "SIGTERM");
    let events = server.json_events();
    let shutdown = of_type(&events, "shutdown");
    assert_eq!(
        shutdown.len(),
        1,
        "one shutdown event\n{}",
        server.proc.dump()
    );
    assert_eq!(
        shutdown[0]["connections"], 2,
        "shutdown with both clients open: {}",
        shutdown[0]
    );
    let summary = events
        .iter()
        .find(|e| e["type"] == "summary")
        .unwrap_or_else(|| panic!("no summary event after SIGTERM\n{}", server.proc.dump()));
    for key in [
        "connections",
        "peak_connections",
        "messages_in",
        "messages_out",
        "bytes_in",
        "bytes_out",
    ] {
        assert!(
            summary[key].is_u64(),
            "summary.{key} should be an integer: {summary}"
        );
    }
    assert_eq!(summary["connections"], 2, "summary: {summary}");
    assert_eq!(summary["peak_connections"], 2, "summary: {summary}");
    assert_eq!(summary["messages_in"], 1, "summary: {summary}");
    assert_eq!(summary["messages_out"], 1, "summary: {summary}");
    assert_eq!(summary["bytes_in"], 3, "summary: {summary}");
    let opened: Vec<&Value> = events.iter().filter(|e| e["type"] == "opened").collect();
    for o in &opened {
        for key in ["id", "peer", "path", "ts"] {
            assert!(o.get(key).is_some(), "opened event without {key}: {o}");
        }
        assert_eq!(o["path"], "/", "opened: {o}");
    }
    let closed: Vec<&Value> = events.iter().filter(|e| e["type"] == "closed").collect();
    assert_eq!(
        closed.len(),
        2,
        "one closed event per client\n{}",
        server.proc.dump()
    );
    for c in closed {
        assert_eq!(c["code"], 1001, "closed event: {c}");
        assert_eq!(c["initiator"], "server", "closed event: {c}");
        for key in [
            "id",
            "peer",
            "name",
            "reason",
            "wasClean",
            "duration",
            "messages_in",
            "messages_out",
            "rtt",
        ] {
            assert!(c.get(key).is_some(), "closed event without {key}: {c}");
        }
    }
}

#[test]
fn sigint_also_closes_clients_with_1001_and_exits_0() {
    if !common::require_peer("python") {
        return;
    }
    let mut server = EchoServer::start(&[]);
    let c = py("py_client.py", &["session", &server.url, "--wait", "12"]);
    c.wait_event("open", WAIT);
    server.log("`opened #…`", WAIT, |l| l.contains("opened #"));
    server.proc.signal(libc::SIGINT);
    assert_going_away_then_exit_0(&mut server, &[&c], "SIGINT");
    assert!(
        server
            .proc
            .err
            .snapshot()
            .iter()
            .any(|l| l.starts_with("summary")),
        "SIGINT: expected a summary line on stderr\n{}",
        server.proc.dump()
    );
}

#[test]
fn sigterm_with_a_deaf_client_still_exits_promptly() {
    if !common::require_peer("python") {
        return;
    }
    let mut server = EchoServer::start(&[]);
    let deaf = py("raw_silent.py", &["upgrade", &server.addr, "--hold", "30"]);
    deaf.wait_event("upgraded", WAIT);
    let silent = py("raw_silent.py", &["tcp", &server.addr, "--hold", "30"]);
    silent.wait_event("connected", WAIT);
    server.log("`opened #…`", WAIT, |l| l.contains("opened #"));
    let t0 = Instant::now();
    server.proc.signal(libc::SIGTERM);
    let status = server.proc.finish(Duration::from_secs(8));
    let took = t0.elapsed();
    assert!(
        status.success(),
        "SIGTERM with a client that never answers the Close: expected exit 0, got {status}\n{}",
        server.proc.dump()
    );
    assert!(
        took < Duration::from_secs(6),
        "SIGTERM with a deaf client: exit took {took:?}"
    );
    let closed = server.log("`closed #…`", WAIT, |l| l.contains("closed #"));
    assert!(
        closed.contains("wasClean=false") && closed.contains("initiator=server"),
        "the deaf client's close: {closed:?}"
    );
    silent.wait_event("eof", WAIT);
}

#[test]
fn sigterm_closes_two_hundred_clients_with_1001() {
    if !common::require_peer("python") {
        return;
    }
    let mut server = EchoServer::start(&[]);
    let c = py(
        "py_client.py",
        &["hold", &server.url, "-n", "200", "--wait", "10"],
    );
    c.wait_event("all_open", Duration::from_secs(15));
    let mut opened = 0;
    server.log("200 `opened #…` lines", WAIT, |l| {
        opened += usize::from(l.contains("opened #"));
        opened >= 200
    });
    let t0 = Instant::now();
    server.proc.signal(libc::SIGTERM);
    let v = expect_ok(c, &server, Duration::from_secs(12));
    assert_eq!(v["closes"], json!({"1001 going away": 200}));
    let status = server.proc.finish(Duration::from_secs(5));
    assert!(status.success(), "SIGTERM: expected exit 0, got {status}");
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "SIGTERM with 200 polite clients took {:?} to exit",
        t0.elapsed()
    );
}

#[test]
fn human_log_lines_name_peer_path_code_and_initiator() {
    let server = EchoServer::start(&[]);
    let (out, _) = wsbeat_connect(&[
        &server.url_with("chat/room?x=1"),
        "--send",
        "hi",
        "--close",
        "4000:done",
        "--wait",
        "2s",
        "--expect",
        "hi",
    ]);
    common::assert_exit(&out, 0);
    let opened = server.log("`opened #ID PEER path=…`", WAIT, |l| {
        l.contains("opened #")
    });
    assert!(
        regex::Regex::new(r"opened #\d+ 127\.0\.0\.1:\d+ path=/chat/room")
            .unwrap()
            .is_match(&opened),
        "opened line: expected `opened #ID 127.0.0.1:PORT path=/chat/room…`, got {opened:?}"
    );
    let closed = server.log("`closed #ID …`", WAIT, |l| l.contains("closed #"));
    for part in [
        "code=4000",
        "reason=\"done\"",
        "wasClean=true",
        "initiator=client",
        "messages=1/1",
        "duration=",
    ] {
        assert!(
            closed.contains(part),
            "closed line: expected {part}, got {closed:?}"
        );
    }
}

#[test]
fn json_verbose_events_for_open_messages_and_close() {
    if !common::require_peer("python") {
        return;
    }
    let mut server = EchoServer::start(&["--json", "-v"]);
    let ev = session(
        &server,
        &[
            "--lockstep",
            "--send",
            "abc",
            "--send-hex",
            "ff00",
            "--wait",
            "0.3",
        ],
    );
    assert_eq!(
        texts(&ev),
        vec!["abc".to_string(), "<binary \"ff00\">".to_string()]
    );
    let closed = server.proc.wait_event("closed", WAIT);
    server.proc.signal(libc::SIGTERM);
    server.proc.finish(Duration::from_secs(5));
    let events = server.json_events();
    for e in &events {
        assert!(
            e["type"].is_string() && e["ts"].is_number(),
            "every --json event has type and ts: {e}"
        );
    }
    let opened = events
        .iter()
        .find(|e| e["type"] == "opened")
        .unwrap_or_else(|| panic!("no opened event\n{}", server.proc.dump()));
    let id = &opened["id"];
    assert_eq!(opened["path"], "/", "opened: {opened}");
    assert!(opened["subprotocol"].is_null(), "opened: {opened}");
    assert!(
        opened["peer"]
            .as_str()
            .is_some_and(|p| p.starts_with("127.0.0.1:")),
        "opened.peer: {opened}"
    );
    let msgs: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e["type"] == "message" && &e["id"] == id)
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or("?").to_string(),
                e["len"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert!(
        msgs.contains(&("text".into(), 3)) && msgs.contains(&("binary".into(), 2)),
        "-v --json: expected message events {{kind: text, len: 3}} and {{kind: binary, len: 2}} for id {id}, got {msgs:?}\n{}",
        server.proc.dump()
    );
    assert_eq!(&closed["id"], id, "closed: {closed}");
    assert_eq!(closed["code"], 1000, "closed: {closed}");
    assert_eq!(closed["initiator"], "client", "closed: {closed}");
    assert_eq!(closed["wasClean"], true, "closed: {closed}");
    assert_eq!(closed["messages_in"], 2, "closed: {closed}");
    assert_eq!(closed["messages_out"], 2, "closed: {closed}");
    assert!(
        closed["duration"].is_number(),
        "closed.duration in seconds: {closed}"
    );
}

#[test]
fn json_rejected_events_for_a_refused_request_and_a_dropped_socket_then_shutdown() {
    let mut server = EchoServer::start(&["--json", "--handshake-timeout", "1s"]);
    let (status, resp) = raw_http(
        &server.addr,
        &format!(
            "GET /page HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        ),
    );
    assert_eq!(status, 426, "plain GET: {resp:?}");
    let refused = server.proc.wait_event("rejected", WAIT);
    assert_eq!(
        (refused["status"].as_u64(), refused["path"].as_str()),
        (Some(426), Some("/page")),
        "rejected event for a plain GET: {refused}"
    );
    // A socket that never sends a byte is dropped at the handshake timeout: there was no
    // request, so no path and no status.
    let silent = TcpStream::connect(&server.addr).expect("connect");
    let mut seen = 0;
    let line = server
        .proc
        .wait_out("a second `rejected` event", WAIT, |l| {
            seen += usize::from(l.contains("\"type\":\"rejected\""));
            seen >= 2
        });
    let dropped: Value = serde_json::from_str(&line).unwrap();
    assert!(
        dropped["status"].is_null() && dropped["path"].is_null(),
        "rejected event for a silent socket: {dropped}"
    );
    assert!(
        dropped["reason"]
            .as_str()
            .is_some_and(|r| r.contains("--handshake-timeout")),
        "the reason names the option: {dropped}"
    );
    drop(silent);
    server.proc.signal(libc::SIGTERM);
    let status = server.proc.finish(Duration::from_secs(5));
    assert!(status.success(), "SIGTERM: expected exit 0, got {status}");
    let events = server.json_events();
    let shutdown = of_type(&events, "shutdown");
    assert_eq!(shutdown.len(), 1, "{events:#?}");
    assert_eq!(shutdown[0]["connections"], 0, "{events:#?}");
    let summary = events.last().cloned().unwrap_or_default();
    assert_eq!(summary["type"], "summary", "summary last: {events:#?}");
    assert_eq!(
        (
            summary["rejected"].as_u64(),
            summary["connections"].as_u64()
        ),
        (Some(2), Some(0)),
        "summary: {summary}"
    );
}

#[test]
fn address_in_use_fails_without_a_listening_line() {
    let server = EchoServer::start(&[]);
    let mut cmd = common::wsbeat();
    cmd.args(["echo-server", "--listen", &server.addr]);
    let out = common::run_timeout(&mut cmd, None, Duration::from_secs(10));
    // Another --listen fixes it, as for a bad flag value: exit 2, not 6 (a connection that
    // ended abnormally), in one line.
    common::assert_exit(&out, 2);
    assert_eq!(
        common::stderr_of(&out).lines().count(),
        1,
        "{}",
        common::describe(&out)
    );
    assert!(
        !common::stdout_of(&out).contains("listening"),
        "no `listening` line when the bind failed\n{}",
        common::describe(&out)
    );
    assert!(
        common::stderr_of(&out).contains(&server.addr),
        "the error should name the address\n{}",
        common::describe(&out)
    );
}

#[test]
fn ipv6_loopback_listen_and_echo() {
    if !common::require_peer("python") {
        return;
    }
    if let Err(e) = TcpListener::bind("[::1]:0") {
        common::skip_without("IPv6 loopback", &format!("cannot bind [::1]:0: {e}"));
        return;
    }
    let mut cmd = common::wsbeat();
    cmd.args(["echo-server", "--listen", "[::1]:0"]);
    let server = Proc::spawn("echo-server --listen [::1]:0", &mut cmd);
    let first_line = server.wait_out("`listening on ws://[::1]:PORT/`", START, |_| true);
    let url = first_line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first_line:?}"))
        .to_string();
    assert!(
        url.starts_with("ws://[::1]:") && url.ends_with('/') && !url.ends_with(":0/"),
        "IPv6 listening url: expected ws://[::1]:PORT/, got {url:?}"
    );
    let mut c = py(
        "py_client.py",
        &["session", &url, "--send", "v6", "--wait", "0.5"],
    );
    c.finish(WAIT);
    let ev = c.events();
    assert_eq!(
        texts(&ev),
        vec!["v6"],
        "echo over IPv6: {ev:?}\n{}",
        server.dump()
    );
}
