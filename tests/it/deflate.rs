//! permessage-deflate (RFC 7692) against peers nobody here wrote, in both roles: Node `ws`
//! with each of its perMessageDeflate options, Python `websockets` with compression="deflate"
//! (the browser is in `echo_server`); and the limits: a small compressed frame that inflates
//! past --max-message-size is stopped there with 1009 by the server and by every client
//! subcommand; RSV1 where it has no meaning is 1002. The peers are `tests/peers/deflate/`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use flate2::{Compress, Compression, FlushCompress};
use serde_json::Value;

use crate::common::frames::{frame, parse_server_frame, upgrade_request};
use crate::common::*;

const T: Duration = Duration::from_secs(20);

fn peer_script(name: &str) -> std::path::PathBuf {
    peers_dir().join("deflate").join(name)
}

fn node_server(options: &str) -> Peer {
    let mut cmd = Command::new("node");
    cmd.arg(peer_script("node_deflate.js"))
        .args(["server", options]);
    Peer::spawn("node ws deflate", cmd)
}

/// A message deflate squeezes well, the size of a chatty JSON payload.
fn compressible() -> String {
    "{\"op\":\"tick\",\"symbol\":\"WSBT\",\"price\":101.25}".repeat(200)
}

/// `wsbeat connect URL --json ARGS`, its events, after checking it ended cleanly.
#[track_caller]
fn connect_events(url: &str, args: &[&str]) -> Vec<Value> {
    let o = run_timeout(
        wsbeat().args(["connect", url, "--json"]).args(args),
        None,
        T,
    );
    assert_exit(&o, 0);
    parse_ndjson(Schema::Connect, &o)
}

#[test]
fn our_client_against_node_ws_with_each_option() {
    if !require_peer("node") {
        return;
    }
    let big = compressible();
    for options in [
        "{}",
        r#"{"serverNoContextTakeover":true}"#,
        r#"{"clientNoContextTakeover":true}"#,
        r#"{"serverMaxWindowBits":10}"#,
        r#"{"clientMaxWindowBits":10}"#,
    ] {
        let mut node = node_server(options);
        let events = connect_events(
            node.url(),
            &[
                "--compress",
                "client_max_window_bits",
                "--send",
                "héllo",
                "--send",
                &big,
            ],
        );
        let opened = &of_type(&events, "opened")[0];
        let c = &opened["compression"];
        assert!(c.is_object(), "{options}: no compression agreed: {opened}");
        match options {
            r#"{"serverNoContextTakeover":true}"# => {
                assert_eq!(c["server_no_context_takeover"], true)
            }
            r#"{"clientNoContextTakeover":true}"# => {
                assert_eq!(c["client_no_context_takeover"], true)
            }
            r#"{"serverMaxWindowBits":10}"# => assert_eq!(c["server_max_window_bits"], 10),
            r#"{"clientMaxWindowBits":10}"# => assert_eq!(c["client_max_window_bits"], 10),
            _ => {}
        }
        let got: Vec<&str> = of_type(&events, "received")
            .iter()
            .map(|r| r["text"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(got, ["héllo", big.as_str()], "{options}");
        let seen = node.wait_event("connect", T);
        assert!(
            seen["extensions"]
                .as_str()
                .unwrap_or("")
                .contains("permessage-deflate"),
            "{options}: node saw {seen}"
        );
        let lens: Vec<u64> = node
            .observations_until(|v| v["event"] == "message" && v["len"] == big.len(), T)
            .iter()
            .filter(|v| v["event"] == "message")
            .map(|v| v["len"].as_u64().unwrap())
            .collect();
        assert_eq!(lens, [6, big.len() as u64], "{options}: what node inflated");
    }
}

fn echo_server(args: &[&str]) -> (Proc, String) {
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", "127.0.0.1:0", "--color", "never"])
        .args(args);
    let proc = Proc::spawn("echo-server --compress", &mut cmd);
    let first = proc
        .out
        .wait(T, |_| true)
        .unwrap_or_else(|| panic!("no listening line\n{}", proc.dump()));
    let url = first
        .strip_prefix("listening on ")
        .expect("listening line")
        .to_string();
    (proc, url)
}

#[track_caller]
fn peer_client(cmd: &mut Command) -> Value {
    let o = run_timeout(cmd, None, T);
    let line = stdout_of(&o).lines().last().unwrap_or("").to_string();
    let v: Value = serde_json::from_str(&line).unwrap_or_else(|_| panic!("{}", describe(&o)));
    assert_eq!(v["ok"], true, "{v}\n{}", describe(&o));
    v
}

#[test]
fn node_ws_clients_with_each_option_against_echo_server() {
    if !require_peer("node") {
        return;
    }
    for (server_args, options, want) in [
        (vec![], "{}", "permessage-deflate"),
        (
            vec![],
            r#"{"serverNoContextTakeover":true}"#,
            "server_no_context_takeover",
        ),
        (
            vec![],
            r#"{"clientNoContextTakeover":true}"#,
            "client_no_context_takeover",
        ),
        (
            vec![],
            r#"{"serverMaxWindowBits":10}"#,
            "server_max_window_bits=10",
        ),
        (vec![], r#"{"clientMaxWindowBits":9}"#, "permessage-deflate"),
        (
            vec![
                "--compress-params",
                "server_max_window_bits=9; client_max_window_bits=9",
            ],
            r#"{"clientMaxWindowBits":true}"#,
            "client_max_window_bits=9",
        ),
        (
            vec![
                "--compress-params",
                "server_no_context_takeover; client_no_context_takeover",
            ],
            "{}",
            "client_no_context_takeover",
        ),
    ] {
        let mut args = vec!["--compress"];
        args.extend(server_args.iter().copied());
        let (server, url) = echo_server(&args);
        let v = peer_client(
            Command::new("node")
                .arg(peer_script("node_deflate.js"))
                .args(["client", &url, options]),
        );
        let ext = v["extensions"].as_str().unwrap_or("");
        assert!(ext.contains(want), "{options} {server_args:?}: {ext}");
        let line = server
            .err
            .wait(T, |l| l.contains("opened #1"))
            .or_else(|| server.out.wait(T, |l| l.contains("opened #1")))
            .unwrap_or_else(|| panic!("no opened line\n{}", server.dump()));
        assert!(line.contains("compression=\"permessage-deflate"), "{line}");
    }
}

#[test]
fn python_websockets_both_ways() {
    if !require_peer("python") {
        return;
    }
    let (_server, url) = echo_server(&["--compress"]);
    let v = peer_client(
        Command::new("python3")
            .arg(peer_script("py_deflate.py"))
            .args(["client", &url]),
    );
    assert!(
        v["extensions"]
            .as_str()
            .unwrap()
            .starts_with("permessage-deflate"),
        "{v}"
    );

    let mut py = Peer::python_script("py deflate", "deflate/py_deflate.py", &["server"]);
    let big = compressible();
    let events = connect_events(py.url(), &["--compress", "--send", "one", "--send", &big]);
    // websockets answers with its defaults (12-bit windows both ways, since we offered
    // client_max_window_bits only when asked: here we did not, so only the server's).
    let c = &of_type(&events, "opened")[0]["compression"];
    assert!(c.is_object(), "{events:?}");
    let got: Vec<&str> = of_type(&events, "received")
        .iter()
        .map(|r| r["text"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(got, ["one", big.as_str()]);
    let seen = py.wait_event("connect", T);
    assert!(
        seen["extensions"]
            .as_str()
            .unwrap_or("")
            .contains("permessage-deflate"),
        "{seen}"
    );
}

// ------------------------------------------------------------------ limits

/// A deflate stream of `inflated` zero bytes, as one message's payload (tail stripped).
fn bomb(inflated: usize) -> Vec<u8> {
    let mut c = Compress::new(Compression::best(), false);
    let zeros = vec![0u8; 1 << 20];
    let mut out = Vec::with_capacity(inflated / 900 + 1024);
    let mut left = inflated;
    while left > 0 {
        let n = left.min(zeros.len());
        let before = c.total_in();
        while c.total_in() - before < n as u64 {
            let at = (c.total_in() - before) as usize;
            out.reserve(64 * 1024);
            c.compress_vec(&zeros[at..n], &mut out, FlushCompress::None)
                .unwrap();
        }
        left -= n;
    }
    loop {
        out.reserve(64 * 1024);
        c.compress_vec(&[], &mut out, FlushCompress::Sync).unwrap();
        if out.len() < out.capacity() {
            break;
        }
    }
    assert!(out.ends_with(&[0, 0, 0xFF, 0xFF]));
    out.truncate(out.len() - 4);
    out
}

/// Deflate inflates at most about 1032:1, so a 10 KiB frame holds ~10 MiB: with a 1 MiB limit
/// it is ten times over. (A 1 GiB bomb needs a ~1 MiB frame; the limit applies the same way.)
const BOMB_LIMIT: &str = "1MiB";

fn ten_kib_bomb() -> Vec<u8> {
    let b = bomb(10 << 20);
    assert!(b.len() <= 11 * 1024, "{} bytes", b.len());
    b
}

#[test]
fn echo_server_stops_a_bomb_at_the_limit_with_1009() {
    let (server, url) = echo_server(&["--compress", "--max-message-size", BOMB_LIMIT, "-v"]);
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(T)).unwrap();
    let mut req = upgrade_request("/");
    let at = req.len() - 2;
    req.splice(
        at..at,
        b"Sec-WebSocket-Extensions: permessage-deflate\r\n"
            .iter()
            .copied(),
    );
    tcp.write_all(&req).unwrap();
    // RSV1 | binary, one frame.
    tcp.write_all(&frame(true, 0x40 | 0x2, &ten_kib_bomb()))
        .unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let close = loop {
        let n = tcp.read(&mut chunk).expect("server answers");
        assert!(n > 0, "closed without a Close frame: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&buf[..end]).to_string();
        assert!(
            head.contains("Sec-WebSocket-Extensions: permessage-deflate"),
            "{head}"
        );
        if let Some(((_, 0x8, payload), _)) = parse_server_frame(&buf[end + 4..]) {
            break payload;
        }
    };
    assert_eq!(u16::from_be_bytes([close[0], close[1]]), 1009);
    let line = server
        .err
        .wait(T, |l| l.contains("closed #1"))
        .or_else(|| server.out.wait(T, |l| l.contains("closed #1")))
        .unwrap_or_else(|| panic!("{}", server.dump()));
    assert!(line.contains("1009"), "{line}");
}

/// A server that accepts permessage-deflate and sends one 10 KiB frame that inflates to 10
/// MiB, then answers the client's Close. Returns its URL.
fn bomb_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let payload = ten_kib_bomb();
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut tcp) = conn else { return };
            let payload = payload.clone();
            thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(T));
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                let end = loop {
                    let Ok(n) = tcp.read(&mut chunk) else { return };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    if let Some(e) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break e;
                    }
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let key = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("Sec-WebSocket-Key: ")
                            .or_else(|| l.strip_prefix("sec-websocket-key: "))
                    })
                    .unwrap_or("")
                    .trim()
                    .to_string();
                let accept = wsbeat::ws::handshake::server::accept_key(&key);
                let mut out = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
                )
                .into_bytes();
                // Unmasked, RSV1 | binary.
                out.push(0x80 | 0x40 | 0x2);
                out.push(126);
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
                out.extend_from_slice(&payload);
                let _ = tcp.write_all(&out);
                // Answer the client's Close (1009), then close.
                let mut rest = [0u8; 256];
                if let Ok(n) = tcp.read(&mut rest)
                    && n >= 2
                    && rest[0] & 0x0F == 0x8
                {
                    let _ = tcp.write_all(&[0x88, 0x02, 0x03, 0xF1]);
                }
            });
        }
    });
    format!("ws://{addr}/")
}

#[test]
fn connect_stops_a_bomb_at_the_limit_with_1009() {
    let url = bomb_server();
    let start = Instant::now();
    let o = run_timeout(
        wsbeat().args([
            "connect",
            &url,
            "--compress",
            "--json",
            "--max-message-size",
            BOMB_LIMIT,
            "--wait",
            "5s",
        ]),
        None,
        T,
    );
    let events = parse_ndjson(Schema::Connect, &o);
    let closed = &of_type(&events, "closed")[0];
    assert_eq!(closed["code"], 1009, "{}", describe(&o));
    let text = stdout_of(&o) + &stderr_of(&o);
    assert!(text.contains("stopped after"), "{}", describe(&o));
    assert!(start.elapsed() < T);
}

#[test]
fn ping_and_soak_stop_a_bomb_at_the_limit() {
    let url = bomb_server();
    let o = run_timeout(
        wsbeat().args([
            "ping",
            &url,
            "--compress",
            "--max-message-size",
            BOMB_LIMIT,
            "-c",
            "3",
            "-i",
            "200ms",
        ]),
        None,
        T,
    );
    let text = stdout_of(&o) + &stderr_of(&o);
    assert!(text.contains("1009"), "{}", describe(&o));
    let o = run_timeout(
        wsbeat().args([
            "soak",
            &url,
            "--compress",
            "--max-message-size",
            BOMB_LIMIT,
            "-c",
            "1",
            "--duration",
            "2s",
            "--no-reconnect",
        ]),
        None,
        T,
    );
    let text = stdout_of(&o) + &stderr_of(&o);
    assert!(text.contains("1009"), "{}", describe(&o));
}

#[test]
fn rsv1_without_the_extension_is_1002() {
    let (_server, url) = echo_server(&[]);
    let addr = url.trim_start_matches("ws://").trim_end_matches('/');
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(T)).unwrap();
    tcp.write_all(&upgrade_request("/")).unwrap();
    tcp.write_all(&frame(true, 0x40 | 0x1, b"hi")).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = tcp.read(&mut chunk).unwrap();
        assert!(n > 0, "no Close: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n")
            && let Some(((_, 0x8, p), _)) = parse_server_frame(&buf[end + 4..])
        {
            assert_eq!(u16::from_be_bytes([p[0], p[1]]), 1002);
            return;
        }
    }
}

#[test]
fn a_bad_answer_fails_the_upgrade_with_exit_5() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut tcp) = conn else { return };
            let mut buf = [0u8; 4096];
            let Ok(n) = tcp.read(&mut buf) else { return };
            let head = String::from_utf8_lossy(&buf[..n]).to_string();
            let key = head
                .lines()
                .find_map(|l| {
                    l.strip_prefix("sec-websocket-key: ")
                        .or_else(|| l.strip_prefix("Sec-WebSocket-Key: "))
                })
                .unwrap_or("")
                .trim()
                .to_string();
            let accept = wsbeat::ws::handshake::server::accept_key(&key);
            let _ = tcp.write_all(
                format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                     Sec-WebSocket-Accept: {accept}\r\n\
                     Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12\r\n\r\n"
                )
                .as_bytes(),
            );
        }
    });
    let o = run_timeout(
        wsbeat().args([
            "connect",
            &url,
            "--compress",
            "server_max_window_bits=10",
            "--send",
            "x",
        ]),
        None,
        T,
    );
    assert_exit(&o, 5);
    assert_contains(
        &stderr_of(&o),
        "server_max_window_bits=12 is larger than the 10 we allowed",
        &o,
    );
    let o = run_timeout(wsbeat().args(["connect", &url, "--send", "x"]), None, T);
    assert_exit(&o, 5);
    assert_contains(
        &stderr_of(&o),
        "which we did not offer (add --compress)",
        &o,
    );
}

// ------------------------------------------------------------------ what went over the wire

#[test]
fn ndjson_says_what_was_compressed_and_one_message_can_go_uncompressed() {
    let (server, url) = echo_server(&["--compress", "-v"]);
    let big = compressible();
    let events = connect_events(
        &url,
        &["--compress", "--send", &big, "--send-uncompressed", &big],
    );
    let sent = of_type(&events, "sent");
    assert_eq!(sent.len(), 2, "{events:?}");
    let (len, wire) = (
        sent[0]["len"].as_u64().unwrap(),
        sent[0]["wire_len"].as_u64().unwrap(),
    );
    assert_eq!(sent[0]["compressed"], true);
    assert!(wire * 10 < len, "{len} bytes went out as {wire}");
    assert_eq!(sent[1]["compressed"], false);
    // Header (4) and mask (4) on top of the payload.
    assert_eq!(sent[1]["wire_len"].as_u64().unwrap(), len + 8);
    // The server took the uncompressed one as it was and echoed both, compressed.
    let received = of_type(&events, "received");
    assert_eq!(received.len(), 2, "{events:?}");
    for r in &received {
        assert_eq!(r["text"], big.as_str());
        assert_eq!(r["compressed"], true, "{r}");
        assert!(r["wire_len"].as_u64().unwrap() * 10 < len, "{r}");
    }
    drop(server);
}

#[test]
fn soak_reports_payload_and_wire_bytes_with_the_embedded_server_compressing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.json");
    let o = run_timeout(
        wsbeat()
            .args([
                "soak",
                "--compress",
                "-c",
                "2",
                "-d",
                "2s",
                "--message-rate",
                "20",
                "--size",
                "2048",
            ])
            .arg("--json")
            .arg(&file),
        None,
        T,
    );
    assert_exit(&o, 0);
    let report: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let b = &report["bytes"];
    let (sp, sw) = (
        b["sent_payload"].as_u64().unwrap(),
        b["sent_wire"].as_u64().unwrap(),
    );
    let (rp, rw) = (
        b["received_payload"].as_u64().unwrap(),
        b["received_wire"].as_u64().unwrap(),
    );
    assert!(sp > 0 && rp > 0, "{b}");
    // soak's messages carry a header and filler: deflate takes them to about 0.6.
    assert!(sw < sp && rw < rp, "{b}");
    assert_contains(&stdout_of(&o), "on the wire (ratio 0.", &o);
}
