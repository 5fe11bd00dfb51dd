//! Servers that answer the upgrade with bytes meant for the terminal, not for wsbeat: none of
//! them may reach stderr raw (ESC]0;…BEL retitles a terminal, ESC[2J clears it). Each peer is a
//! raw TCP listener on 127.0.0.1 that reads the request and writes one canned answer.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;

use super::connect;
use crate::common::tmux::Tmux;
use crate::common::*;

/// Answers one connection with `reply` after the request head, then closes.
fn raw_server(reply: &'static [u8]) -> (String, thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        let _ = s.write_all(reply);
    });
    (url, handle)
}

#[track_caller]
fn assert_no_raw_controls(o: &std::process::Output) {
    for (name, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        assert!(
            !bytes.iter().any(|&b| b == 0x1b || b == 0x07),
            "raw ESC or BEL on {name}\n{}",
            describe(o)
        );
    }
}

const HOSTILE_BODY: &[u8] =
    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 27\r\n\r\n\x1b]0;pwned\x07\x1b[2Jgo away\r\n";

#[test]
fn refused_upgrade_body_is_escaped() {
    let (url, server) = raw_server(HOSTILE_BODY);
    let o = run(connect(&url).arg("--color=never"));
    server.join().unwrap();
    assert_exit(&o, 5);
    assert_no_raw_controls(&o);
    let err = stderr_of(&o);
    assert_contains(&err, "upgrade refused: HTTP/1.1 403 Forbidden", &o);
    assert_contains(&err, r"\x1b]0;pwned\x07\x1b[2Jgo away", &o);
}

#[test]
fn refused_upgrade_body_in_json_is_json_escaped() {
    let (url, server) = raw_server(HOSTILE_BODY);
    let o = run(connect(&url).arg("--json"));
    server.join().unwrap();
    assert_exit(&o, 5);
    assert_no_raw_controls(&o);
    let events = parse_ndjson(Schema::Connect, &o);
    let error = &of_type(&events, "error")[0];
    assert_eq!(
        error["body"], "\x1b]0;pwned\x07\x1b[2Jgo away\r\n",
        "{error}"
    );
}

#[test]
fn non_http_reply_is_escaped() {
    let (url, server) = raw_server(b"\x1b]0;pwned\x07\x1b[2J not http\r\n\r\n");
    let o = run(&mut connect(&url));
    server.join().unwrap();
    assert_exit(&o, 5);
    assert_no_raw_controls(&o);
    assert_contains(&stderr_of(&o), r"is not HTTP", &o);
    assert_contains(&stderr_of(&o), r"\x1b]0;pwned\x07\x1b[2J not http", &o);
}

#[test]
fn redirect_shows_its_location() {
    let (url, server) = raw_server(
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: ws://127.0.0.1:1/moved\r\nContent-Length: 0\r\n\r\n",
    );
    let o = run(&mut connect(&url));
    server.join().unwrap();
    assert_exit(&o, 5);
    assert_contains(&stderr_of(&o), "301 Moved Permanently", &o);
    assert_contains(&stderr_of(&o), "Location: ws://127.0.0.1:1/moved", &o);
}

/// What a TLS server sends to a plain HTTP request: an alert record (0x15, version 3.x).
#[test]
fn tls_answer_to_ws_suggests_wss() {
    let (url, server) = raw_server(b"\x15\x03\x01\x00\x02\x02\x46");
    let o = run(&mut connect(&url));
    server.join().unwrap();
    assert_exit(&o, 5);
    assert_no_raw_controls(&o);
    let wss = url.replacen("ws://", "wss://", 1);
    assert_contains(&stderr_of(&o), &format!("Try {wss}"), &o);
}

/// Received text on a terminal: the echo of a retitling sequence shows as escapes, and the
/// pane keeps its title. (In a pipe the bytes stay exact; `--json` carries them escaped.)
#[test]
fn received_text_on_a_terminal_is_escaped() {
    if !require_peer("tmux") {
        return;
    }
    let mut cmd = wsbeat();
    cmd.args(["echo-server", "--listen", "127.0.0.1:0"]);
    let server = Proc::spawn("echo-server", &mut cmd);
    let first = server.wait_out("`listening on URL`", OBS_TIMEOUT, |_| true);
    let url = first
        .strip_prefix("listening on ")
        .unwrap_or(&first)
        .to_string();
    let script = format!(
        "env -i PATH=\"$PATH\" HOME=\"$HOME\" TERM=screen NO_COLOR=1 '{bin}' connect '{url}' \
         --send \"$(printf 'A\\033]0;pwned\\007B\\033[2JC')\" --wait 1s </dev/null; \
         echo EXIT=$?; echo END-OF-RUN; exec sleep 120",
        bin = env!("CARGO_BIN_EXE_wsbeat"),
    );
    let t = Tmux::start(120, 20, OBS_TIMEOUT, &script);
    let screen = t.wait_text("END-OF-RUN");
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains(r"A\x1b]0;pwned\x07B\x1b[2JC"),
        "the echo should show escaped:\n{screen}"
    );
    assert_ne!(t.display("#{pane_title}"), "pwned", "{screen}");
}

/// RFC 6455 4.1: a 101 with the right Accept key but no `Connection: Upgrade` is not an
/// upgrade the client may accept.
#[test]
fn a_101_without_connection_upgrade_exits_5() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut req = Vec::new();
        let mut buf = [0u8; 1024];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => req.extend_from_slice(&buf[..n]),
            }
        }
        let head = String::from_utf8_lossy(&req).to_string();
        let key = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| v.trim().to_string())
            })
            .expect("the request carries a key");
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        let reply = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let _ = s.write_all(reply.as_bytes());
        // Hold the connection so the client's verdict comes from the head, not a reset.
        let _ = s.read(&mut buf);
    });
    let o = run(&mut connect(&url));
    server.join().unwrap();
    assert_exit(&o, 5);
    assert_contains(&stderr_of(&o), "lacks 'Connection: Upgrade'", &o);
}
