//! `connect --send-file` streams from disk: a 512 MiB file goes out with wsbeat's peak memory
//! far below its size, and a source that cannot be sized (`/dev/zero`, a pipe) is a fragmented
//! message that stops at `--max-message-size` with one line and exit 2.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;

use super::*;

/// What the counting peer saw of one message: its payload bytes, its frames, and wsbeat's peak
/// memory (`VmHWM`) read the moment the last byte arrived.
struct Counted {
    bytes: u64,
    frames: u64,
    peak: u64,
}

/// A server that counts the payload of the first data message without keeping it, reads the
/// client's peak memory as soon as the message is complete, answers `got N` and closes.
fn counting_peer(pid: mpsc::Receiver<u32>) -> (String, thread::JoinHandle<Counted>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let handle = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8_lossy(&head).to_string();
        let key = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("sec-websocket-key")
                    .then(|| v.trim().to_string())
            })
            .expect("a key");
        let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
        write!(
            s,
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .unwrap();
        let pid = pid.recv().unwrap();
        let (mut bytes, mut frames) = (0u64, 0u64);
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let mut h = [0u8; 2];
            s.read_exact(&mut h).unwrap();
            let len = match h[1] & 0x7F {
                126 => {
                    let mut l = [0u8; 2];
                    s.read_exact(&mut l).unwrap();
                    u16::from_be_bytes(l) as u64
                }
                127 => {
                    let mut l = [0u8; 8];
                    s.read_exact(&mut l).unwrap();
                    u64::from_be_bytes(l)
                }
                n => n as u64,
            };
            let mut mask = [0u8; 4];
            s.read_exact(&mut mask).unwrap();
            let mut left = len;
            while left > 0 {
                let n = left.min(buf.len() as u64) as usize;
                s.read_exact(&mut buf[..n]).unwrap();
                left -= n as u64;
            }
            let opcode = h[0] & 0x0F;
            if opcode >= 0x8 {
                continue;
            }
            bytes += len;
            frames += 1;
            if h[0] & 0x80 != 0 {
                break;
            }
        }
        let peak = vm_hwm(pid);
        let reply = format!("got {bytes}");
        let mut frame = vec![0x81, reply.len() as u8];
        frame.extend_from_slice(reply.as_bytes());
        frame.extend_from_slice(&[0x88, 2, 0x03, 0xE8]);
        s.write_all(&frame).unwrap();
        // The client answers the Close and closes; then so do we.
        let _ = s.read(&mut buf);
        Counted {
            bytes,
            frames,
            peak,
        }
    });
    (url, handle)
}

#[test]
fn a_512_mib_file_is_streamed_with_a_small_peak() {
    const SIZE: u64 = 512 * MIB;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.bin");
    std::fs::File::create(&path).unwrap().set_len(SIZE).unwrap();
    let (tx, rx) = mpsc::channel();
    let (url, peer) = counting_peer(rx);
    let mut cmd = wsbeat();
    cmd.args(["connect", &url, "--send-file"]).arg(&path).args([
        "--expect",
        &format!("^got {SIZE}$"),
        "--no-interactive",
    ]);
    let mut client = Proc::spawn("connect --send-file", &mut cmd);
    tx.send(client.pid()).unwrap();
    let status = client.finish(Duration::from_secs(120));
    let counted = peer.join().unwrap();
    assert_eq!(status.code(), Some(0), "{}", client.dump());
    assert_eq!(counted.bytes, SIZE);
    assert_eq!(
        counted.frames, 1,
        "a regular file is one frame of known length"
    );
    assert!(
        counted.peak < 48 * MIB,
        "wsbeat connect peaked at {} MiB sending a {} MiB file",
        counted.peak / MIB,
        SIZE / MIB
    );
}

#[test]
fn a_file_in_fragments_is_streamed_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.bin");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &bytes).unwrap();
    let (tx, rx) = mpsc::channel();
    let (url, peer) = counting_peer(rx);
    let mut cmd = wsbeat();
    cmd.args([
        "connect",
        &url,
        "--json",
        "--fragment-size",
        "100000",
        "--send-file",
    ])
    .arg(&path)
    .args(["--expect", "^got 300000$"]);
    let mut client = Proc::spawn("connect --send-file --fragment-size", &mut cmd);
    tx.send(client.pid()).unwrap();
    let status = client.finish(WAIT);
    let counted = peer.join().unwrap();
    assert_eq!(status.code(), Some(0), "{}", client.dump());
    assert_eq!((counted.bytes, counted.frames), (300_000, 3));
    let sent = client
        .events()
        .into_iter()
        .find(|e| e["type"] == "sent")
        .expect("a sent event");
    assert_eq!(sent["len"], 300_000, "{sent}");
    assert_eq!(sent["fragments"], 3, "{sent}");
    assert_eq!(sent["file"], path.display().to_string(), "{sent}");
    assert!(
        sent.get("base64").is_none(),
        "no payload in the event: {sent}"
    );
}

/// `/dev/zero` cannot be sized and never ends: it is sent in fragments up to
/// `--max-message-size`, then abandoned with Close 1009, one line and exit 2. (Read whole, it
/// grew until the process was killed.)
#[test]
fn dev_zero_stops_at_the_documented_limit() {
    let (server, addr) = echo_server(&[]);
    let o = run(wsbeat().args([
        "connect",
        &format!("ws://{addr}/"),
        "--send-file",
        "/dev/zero",
        "--max-message-size",
        "1MiB",
    ]));
    assert_exit(&o, 2);
    let err = stderr_of(&o);
    let lines: Vec<_> = err.lines().filter(|l| l.contains("/dev/zero")).collect();
    assert_eq!(lines.len(), 1, "one line about /dev/zero\n{}", describe(&o));
    assert!(
        lines[0].contains("gave more than 1048576 bytes")
            && lines[0].contains("--max-message-size"),
        "{}",
        describe(&o)
    );
    let closed = server.wait_event("closed", WAIT);
    assert_eq!(closed["code"], 1009, "{closed}");
}

/// A pipe (a FIFO here) is one fragmented message, whole, when it ends within the limit.
#[test]
fn a_pipe_is_sent_as_one_fragmented_message() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) with a NUL-terminated path that lives across the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let writer = {
        let fifo = fifo.clone();
        thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
            f.write_all(&vec![b'x'; 200_000]).unwrap();
        })
    };
    let (tx, rx) = mpsc::channel();
    let (url, peer) = counting_peer(rx);
    let mut cmd = wsbeat();
    cmd.args(["connect", &url, "--send-file"]).arg(&fifo).args([
        "--expect",
        "^got 200000$",
        "--no-interactive",
    ]);
    let mut client = Proc::spawn("connect --send-file FIFO", &mut cmd);
    tx.send(client.pid()).unwrap();
    let status = client.finish(WAIT);
    writer.join().unwrap();
    let counted = peer.join().unwrap();
    assert_eq!(status.code(), Some(0), "{}", client.dump());
    assert_eq!(counted.bytes, 200_000);
    assert!(
        counted.frames >= 4,
        "frames of at most 64 KiB: {}",
        counted.frames
    );
}
