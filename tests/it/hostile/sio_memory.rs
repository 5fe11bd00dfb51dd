//! socket.io clients that never read, against `echo-server --socketio`: their sessions count
//! toward `--max-buffered` like WebSocket connections, so together they cannot pin more than
//! the budget (each session's own bound alone, 4 MB, would let 16 of them pin 64 MB and more).

use std::io::{Read, Write};
use std::net::TcpStream;

use super::*;

/// One HTTP request on its own connection; the response body.
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(OBS_TIMEOUT)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    s.write_all(&req).unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut b).expect("read the head"), 1, "EOF in the head");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no content-length in {head}"));
    let mut out = vec![0u8; len];
    s.read_exact(&mut out).unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// A polling client joined to `/` that posts events and never polls for their echoes.
fn deaf_polling_client(addr: &str, events: usize) {
    let open = http(addr, "GET", "/socket.io/?EIO=4&transport=polling", b"");
    let open: serde_json::Value =
        serde_json::from_str(open.strip_prefix('0').expect("an open packet")).unwrap();
    let sid = open["sid"].as_str().unwrap();
    let path = format!("/socket.io/?EIO=4&transport=polling&sid={sid}");
    http(addr, "POST", &path, b"40");
    let event = format!(r#"42["x","{}"]"#, "y".repeat(250_000));
    for _ in 0..events {
        // "ok" while the session lives; an error once it was ended.
        if http(addr, "POST", &path, event.as_bytes()) != "ok" {
            break;
        }
    }
}

/// 24 clients each post 8 events of 250 KB and never poll for the echoes: 2 MB waits for each,
/// within a session's own bound (4 MB), 48 MB in all. Under a 4 MiB budget all but the first
/// few sessions are ended over --max-buffered, and the server stays small.
#[test]
fn socketio_sessions_that_never_read_count_toward_max_buffered() {
    const CLIENTS: usize = 24;
    let (server, addr) = echo_server(&["--socketio", "--max-buffered", "4MiB"]);
    let addr = addr.trim_start_matches("http://").to_string();
    for _ in 0..CLIENTS {
        deaf_polling_client(&addr, 8);
    }
    let over = poll_until(WAIT, || {
        let n = server
            .events()
            .iter()
            .filter(|e| {
                e["type"] == "closed"
                    && format!("{} {}", e["reason"], e["error"]).contains("--max-buffered")
            })
            .count();
        (n >= CLIENTS - 4).then_some(n)
    });
    assert!(
        over.is_some(),
        "at least {} sessions should end over --max-buffered\n{}",
        CLIENTS - 4,
        server.dump()
    );
    let peak = vm_hwm(server.pid());
    assert!(
        peak < 32 * MIB,
        "echo-server --socketio peaked at {} MiB with --max-buffered 4MiB",
        peak / MIB
    );
}
