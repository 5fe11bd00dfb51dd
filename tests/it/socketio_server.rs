//! `wsbeat echo-server --socketio` against the real `socket.io-client` (v4, default
//! transports: HTTP long-polling first, then the upgrade to WebSocket), from Node
//! (`tests/peers/socketio/client.js`, one scenario a run, one JSON line of results) and from a
//! headless Chromium page that loads the package's browser bundle. The heartbeat tests last
//! several heartbeat periods on purpose: the duration is what they test.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{self, Proc};

const START: Duration = Duration::from_secs(15);

/// `wsbeat echo-server --socketio --listen 127.0.0.1:0 ARGS...`, listening.
struct SioServer {
    proc: Proc,
    url: String,
}

impl SioServer {
    #[track_caller]
    fn start(args: &[&str]) -> SioServer {
        let mut cmd = common::wsbeat();
        cmd.args(["echo-server", "--socketio", "--listen", "127.0.0.1:0"])
            .args(args);
        let proc = Proc::spawn("echo-server --socketio", &mut cmd);
        let first = proc
            .out
            .wait(START, |_| true)
            .unwrap_or_else(|| panic!("no listening line\n{}", proc.dump()));
        let url = first
            .strip_prefix("listening on ")
            .filter(|u| u.starts_with("http://127.0.0.1:") || u.starts_with("https://127.0.0.1:"))
            .unwrap_or_else(|| panic!("expected `listening on http[s]://…/`, got {first:?}"))
            .to_string();
        SioServer { proc, url }
    }
}

/// Runs one scenario of `client.js` and returns its JSON result.
#[track_caller]
fn scenario(server: &SioServer, name: &str, args: &[&str], timeout: Duration) -> Value {
    let mut cmd = Command::new("node");
    cmd.arg(common::peers_dir().join("socketio/client.js"))
        .arg(&server.url)
        .arg(name)
        .args(args)
        .env("NODE_PATH", common::peers_dir().join("node_modules"));
    let out = common::run_timeout(&mut cmd, None, timeout);
    assert!(
        out.status.success(),
        "scenario {name}: {}\n{}",
        common::describe(&out),
        server.proc.dump()
    );
    let line = common::stdout_of(&out);
    serde_json::from_str(line.trim())
        .unwrap_or_else(|e| panic!("scenario {name} printed no JSON ({e}): {line:?}"))
}

#[test]
fn polling_client_upgrades_and_gets_echoes_and_acks() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&[]);
    let v = scenario(&server, "echo", &[], Duration::from_secs(20));
    assert_eq!(v["first"], "polling", "{v}");
    assert_eq!(v["now"], "websocket", "{v}");
    assert_eq!(v["ack"], "hello");
    assert_eq!(v["args"], json!(["hello", {"n": 1}]));
    assert_eq!(v["ack2"], json!([1, 2]));
    // A binary attachment went out and came back in the ack, byte for byte.
    assert_eq!(v["bin"], json!([1, 2, 3]));
    server
        .proc
        .wait_err("the session opened with polling", START, |l| {
            l.contains("opened") && l.contains("(polling)")
        });
}

#[test]
fn namespaces_and_auth_accepted_or_refused_with_connect_error() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&[]);
    let v = scenario(&server, "namespace", &[], Duration::from_secs(20));
    assert_eq!(v, json!({"nsp": "/chat", "ack": "hi"}));
    let server = SioServer::start(&["--sio-auth", r#"{"token":"s3cret"}"#]);
    let v = scenario(&server, "auth", &[], Duration::from_secs(20));
    assert_eq!(
        v,
        json!({"accepted": true, "rejected": "auth mismatch (--sio-auth)"})
    );
}

#[test]
fn broadcast_reaches_every_client() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&["--broadcast"]);
    let v = scenario(&server, "broadcast", &[], Duration::from_secs(20));
    assert_eq!(v, json!({"a": "to all", "b": "to all"}));
}

#[test]
fn heartbeat_keeps_a_client_up_over_three_periods() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&["--ping-interval", "1s", "--ping-timeout", "1s"]);
    // 7 s > 3 × (1 s + 1 s).
    let v = scenario(&server, "heartbeat", &["7000"], Duration::from_secs(30));
    assert_eq!(v["dropped"], Value::Null, "{v}");
    assert_eq!(v["ack"], "here");
    assert_eq!(v["transport"], "websocket");
    let pings = v["pings"].as_u64().unwrap();
    assert!((5..=8).contains(&pings), "pings in 7 s at 1 s: {pings}");
}

#[test]
fn a_client_that_never_pongs_is_dropped_after_interval_plus_timeout() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&["--ping-interval", "1s", "--ping-timeout", "1s"]);
    let v = scenario(&server, "mute", &[], Duration::from_secs(20));
    assert_eq!(v["pings"], 1, "{v}");
    let after = v["after_ms"].as_u64().unwrap();
    assert!((1900..4000).contains(&after), "dropped after {after} ms");
    server
        .proc
        .wait_err("the timeout logged", START, |l| l.contains("ping timeout"));
}

#[test]
fn no_pong_stops_the_pings_and_the_client_gives_up() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&["--ping-interval", "1s", "--ping-timeout", "1s", "--no-pong"]);
    let v = scenario(&server, "silent", &[], Duration::from_secs(20));
    assert_eq!(v["why"], "ping timeout", "{v}");
    let after = v["after_ms"].as_u64().unwrap();
    assert!((1900..5000).contains(&after), "gave up after {after} ms");
}

/// A page from another origin (a little server here) that loads socket.io-client's browser
/// bundle, connects without options, emits with an ack and reports to `/result`.
const PAGE: &str = r#"<!doctype html><html><body><script src="/socket.io.min.js"></script>
<script>
const report = (r) => fetch("/result", { method: "POST", body: JSON.stringify(r) });
const url = new URLSearchParams(location.search).get("url");
const socket = io(url);
let first = null;
socket.io.on("open", () => { first = socket.io.engine.transport.name; });
socket.on("connect_error", (e) => report({ ok: false, error: e.message }));
socket.on("connect", async () => {
  try {
    const echoed = new Promise((r) => socket.once("hello", (...a) => r(a)));
    const ack = await socket.timeout(5000).emitWithAck("hello", "browser", 42);
    const args = await echoed;
    report({ ok: true, first, ack, args });
  } catch (e) {
    report({ ok: false, error: String(e) });
  }
});
</script></body></html>"#;

#[test]
fn chromium_page_with_the_browser_bundle_connects_and_echoes() {
    if !common::require_peer("socket.io-client") || !common::require_peer("chromium") {
        return;
    }
    let bundle = std::fs::read(
        common::peers_dir().join("node_modules/socket.io-client/dist/socket.io.min.js"),
    )
    .expect("socket.io.min.js");
    let server = SioServer::start(&[]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let http = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let pages = vec![
        common::Page {
            path: "/page.html",
            content_type: "text/html; charset=utf-8",
            body: PAGE.as_bytes().to_vec(),
        },
        common::Page {
            path: "/socket.io.min.js",
            content_type: "text/javascript",
            body: bundle,
        },
    ];
    common::serve_pages(listener, pages, tx);
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(common::CHROMIUM);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("http://{http}/page.html?url={}", server.url));
    let browser = Proc::spawn_tree("chromium", &mut cmd);
    let result = rx
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "the page reported nothing within 20 s\n{}\n{}",
                browser.dump(),
                server.proc.dump()
            )
        });
    let v: Value = serde_json::from_str(&result).expect("page result is JSON");
    assert_eq!(v["ok"], true, "{v}\n{}", server.proc.dump());
    assert_eq!(v["first"], "polling", "{v}");
    assert_eq!(v["ack"], "browser");
    assert_eq!(v["args"], json!(["browser", 42]));
}

/// One HTTP/1.1 request with `Connection: close`; the whole response.
fn http(server: &SioServer, request: &str) -> String {
    let addr = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}

fn get(path: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: http://page.test\r\nConnection: close\r\n\r\n"
    )
}

#[test]
fn polling_handshake_errors_and_bounds_over_plain_http() {
    let server = SioServer::start(&["--max-connections", "1"]);
    let open = http(&server, &get("/socket.io/?EIO=4&transport=polling"));
    assert!(open.starts_with("HTTP/1.1 200"), "{open}");
    assert!(
        open.contains("Content-Type: text/plain; charset=UTF-8"),
        "{open}"
    );
    // A page from another origin may read it.
    assert!(
        open.contains("Access-Control-Allow-Origin: http://page.test"),
        "{open}"
    );
    let body = open.split_once("\r\n\r\n").unwrap().1;
    assert!(body.starts_with(r#"0{"sid":""#), "{body}");
    assert!(body.contains(r#""upgrades":["websocket"]"#), "{body}");

    // The one session allowed is taken.
    let full = http(&server, &get("/socket.io/?EIO=4&transport=polling"));
    assert!(full.starts_with("HTTP/1.1 503"), "{full}");
    let old = http(&server, &get("/socket.io/?EIO=3&transport=polling"));
    assert!(
        old.starts_with("HTTP/1.1 400") && old.contains(r#""code":5"#),
        "{old}"
    );
    let unknown = http(
        &server,
        &get("/socket.io/?EIO=4&transport=polling&sid=nope"),
    );
    assert!(
        unknown.starts_with("HTTP/1.1 400") && unknown.contains(r#""code":1"#),
        "{unknown}"
    );
    let elsewhere = http(&server, &get("/chat"));
    assert!(elsewhere.starts_with("HTTP/1.1 404"), "{elsewhere}");
    let big = http(
        &server,
        "POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n",
    );
    assert!(big.starts_with("HTTP/1.1 413"), "{big}");
}

#[test]
fn binary_attachments_over_polling_only() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&[]);
    let v = scenario(&server, "binpoll", &[], Duration::from_secs(20));
    assert_eq!(
        v,
        json!({"transport": "polling", "ack": [0, 255, 7], "echo": [[0, 255, 7], "x"]})
    );
}

#[test]
fn close_after_and_drop_after_count_events() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&["--close-after", "3"]);
    let v = scenario(&server, "ending", &["5"], Duration::from_secs(20));
    assert_eq!(v["why"], "io server disconnect", "{v}");
    let server = SioServer::start(&["--drop-after", "3"]);
    let v = scenario(&server, "ending", &["5"], Duration::from_secs(20));
    let why = v["why"].as_str().unwrap_or_default();
    assert!(
        why == "transport close" || why == "transport error",
        "a cut session: {v}"
    );
    server.proc.wait_err("the drop logged", START, |l| {
        l.contains("dropped after 3 events (--drop-after)")
    });
}

#[test]
fn shutdown_says_goodbye_to_socketio_clients_and_exits() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let mut server = SioServer::start(&[]);
    let mut cmd = Command::new("node");
    cmd.arg(common::peers_dir().join("socketio/client.js"))
        .arg(&server.url)
        .arg("hold")
        .env("NODE_PATH", common::peers_dir().join("node_modules"));
    let mut client = Proc::spawn("client.js hold", &mut cmd);
    client.wait_out("connected", START, |l| l == "connected");
    server.proc.signal(libc::SIGTERM);
    let status = server.proc.finish(Duration::from_secs(5));
    assert!(status.success(), "{}", server.proc.dump());
    assert!(
        client.finish(Duration::from_secs(10)).success(),
        "{}",
        client.dump()
    );
    let last = client.out.snapshot().last().cloned().unwrap_or_default();
    assert_eq!(
        last,
        r#"{"why":"io server disconnect"}"#,
        "{}",
        client.dump()
    );
    server
        .proc
        .wait_err("the goodbye", START, |l| l.contains("server shutting down"));
}

#[test]
fn over_tls_polling_and_the_upgrade_work_too() {
    if !common::require_peer("socket.io-client") {
        return;
    }
    let server = SioServer::start(&["--tls-self-signed"]);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let v = scenario(&server, "echo", &[], Duration::from_secs(20));
    assert_eq!(
        (&v["first"], &v["now"]),
        (&json!("polling"), &json!("websocket")),
        "{v}"
    );
    assert_eq!(v["ack"], "hello");
}
