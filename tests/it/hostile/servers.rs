//! A misbehaving server against `connect`, `ping` and `soak`: each run ends with its exit code
//! and its one line, within its documented time, and memory stays bounded where a peer could
//! grow it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use super::*;

#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// After the upgrade: Ping frames of 125 bytes as fast as they go, never reading. When a
    /// write has been stuck for a second (the client stopped reading), the client's peak
    /// memory is read and the connection dropped.
    PingFlood,
    /// After the upgrade: read nothing, ever, and hold the connection.
    NeverRead,
    /// Answer the upgrade with `101` and then header lines without end.
    EndlessHeaders,
    /// After the upgrade: a binary frame header announcing 2 GiB, and nothing after it.
    HugeFrameHeader,
    /// After the upgrade: Close 1000, then a text frame that must be dropped unread.
    DataAfterClose,
    /// After the upgrade: read and discard everything, never answering a Close.
    NeverAnswerClose,
}

/// Starts the server for `accepts` connections. With `PingFlood`, the pid sent on the channel
/// is the process whose peak is reported on the handle's channel.
fn misbehaving(
    how: Misbehaviour,
    accepts: usize,
) -> (String, mpsc::Sender<u32>, mpsc::Receiver<u64>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let (pid_tx, pid_rx) = mpsc::channel::<u32>();
    let (peak_tx, peak_rx) = mpsc::channel::<u64>();
    thread::spawn(move || {
        let mut pid = None;
        for _ in 0..accepts {
            let Ok((s, _)) = listener.accept() else {
                return;
            };
            if pid.is_none()
                && matches!(how, Misbehaviour::PingFlood | Misbehaviour::HugeFrameHeader)
            {
                pid = pid_rx.recv_timeout(WAIT).ok();
            }
            let peak_tx = peak_tx.clone();
            thread::spawn(move || serve(s, how, pid, peak_tx));
        }
    });
    (url, pid_tx, peak_rx)
}

fn serve(mut s: TcpStream, how: Misbehaviour, pid: Option<u32>, peak: mpsc::Sender<u64>) {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap_or(0) == 0 {
            return;
        }
        head.push(b[0]);
    }
    if let Misbehaviour::EndlessHeaders = how {
        // One header line that never ends: only a byte bound stops it.
        let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nX-Padding: ");
        let padding = [b'a'; 4096];
        while s.write_all(&padding).is_ok() {}
        return;
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let key = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let ok = write!(
        s,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    if ok.is_err() {
        return;
    }
    match how {
        Misbehaviour::PingFlood => {
            let mut ping = vec![0x89, 125];
            ping.extend_from_slice(&[b'p'; 125]);
            let pings = ping.repeat(512);
            s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
            let mut written = 0u64;
            // 400 MB is far past any bound; without one the client would hold its pongs.
            while written < 400 * MIB {
                match s.write(&pings) {
                    Ok(n) => written += n as u64,
                    Err(_) => break,
                }
            }
            if let Some(pid) = pid {
                let _ = peak.send(vm_hwm(pid));
            }
        }
        Misbehaviour::NeverRead => thread::sleep(Duration::from_secs(60)),
        Misbehaviour::HugeFrameHeader => {
            let mut frame = vec![0x82, 127];
            frame.extend_from_slice(&(2u64 << 30).to_be_bytes());
            let _ = s.write_all(&frame);
            let mut buf = [0u8; 1024];
            // The client's Close: it is still running, its peak is final.
            if s.read(&mut buf).unwrap_or(0) > 0
                && let Some(pid) = pid
            {
                let _ = peak.send(vm_hwm(pid));
            }
            while s.read(&mut buf).unwrap_or(0) > 0 {}
        }
        Misbehaviour::DataAfterClose => {
            let _ = s.write_all(&[0x88, 2, 0x03, 0xE8, 0x81, 4, b'l', b'a', b't', b'e']);
            let mut buf = [0u8; 1024];
            while s.read(&mut buf).unwrap_or(0) > 0 {}
        }
        Misbehaviour::NeverAnswerClose => {
            let mut buf = [0u8; 1024];
            while s.read(&mut buf).unwrap_or(0) > 0 {}
        }
        Misbehaviour::EndlessHeaders => unreachable!(),
    }
}

/// The lines of stderr that say what went wrong (the close line may repeat the cause).
fn error_lines(o: &std::process::Output) -> Vec<String> {
    stderr_of(o)
        .lines()
        .filter(|l| l.starts_with("wsbeat: error:"))
        .map(str::to_string)
        .collect()
}

#[track_caller]
fn one_error_line(o: &std::process::Output, want: &str) {
    let lines = error_lines(o);
    assert!(
        lines.len() == 1 && lines[0].contains(want),
        "expected one error line with {want:?}\n{}",
        describe(o)
    );
}

/// Runs `cmd` against a ping flood: its peak memory, read when the flood backed up, and how
/// the run ended.
fn under_ping_flood(name: &str, args: &[&str]) -> (u64, std::process::Output) {
    let (url, pid, peak) = misbehaving(Misbehaviour::PingFlood, 1);
    let mut cmd = wsbeat();
    cmd.args(args.iter().map(|a| if *a == "URL" { &url } else { *a }));
    let mut p = Proc::spawn(name, &mut cmd);
    pid.send(p.pid()).unwrap();
    let peak = peak
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("the flood did not back up\n{}", p.dump()));
    let status = p.finish(WAIT);
    let o = std::process::Output {
        status,
        stdout: p.out.bytes(),
        stderr: p.err.bytes(),
    };
    (peak, o)
}

#[test]
fn connect_under_a_ping_flood_stays_small() {
    let (peak, o) = under_ping_flood("connect", &["connect", "URL", "--wait", "forever"]);
    assert!(
        peak < 40 * MIB,
        "connect peaked at {} MiB\n{}",
        peak / MIB,
        describe(&o)
    );
    // The flood server dropped the connection with our pongs unread: a reset.
    assert_exit(&o, 6);
    one_error_line(&o, "connection");
}

#[test]
fn ping_under_a_ping_flood_stays_small() {
    let (peak, o) = under_ping_flood("ping", &["ping", "URL", "-i", "100ms", "-c", "600"]);
    assert!(
        peak < 40 * MIB,
        "ping peaked at {} MiB\n{}",
        peak / MIB,
        describe(&o)
    );
    assert_exit(&o, 6);
    one_error_line(&o, "connection");
}

#[test]
fn soak_under_a_ping_flood_stays_small() {
    let (peak, o) = under_ping_flood(
        "soak",
        &[
            "soak",
            "URL",
            "-c",
            "1",
            "-d",
            "5s",
            "--no-reconnect",
            "--no-live",
        ],
    );
    assert!(
        peak < 48 * MIB,
        "soak peaked at {} MiB\n{}",
        peak / MIB,
        describe(&o)
    );
    // The dropped connection is an error counted by kind, and its messages are lost.
    assert_exit(&o, 1);
    assert_contains(&stdout_of(&o), "abnormal_close 1", &o);
}

/// A server that reads nothing: a file bigger than every socket buffer cannot be sent, and
/// `--timeout` still ends the run (a send that never finishes is cut, and so is the
/// connection, since half a frame cannot be followed by a Close).
#[test]
fn connect_to_a_server_that_never_reads_ends_at_its_timeout() {
    let (url, _pid, _peak) = misbehaving(Misbehaviour::NeverRead, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    std::fs::File::create(&path)
        .unwrap()
        .set_len(256 * MIB)
        .unwrap();
    let started = Instant::now();
    let o = run(wsbeat()
        .args(["connect", &url, "--timeout", "2s", "--send-file"])
        .arg(&path));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        describe(&o)
    );
    assert_exit(&o, 6);
    one_error_line(&o, "--timeout");
}

#[test]
fn endless_headers_are_cut_at_16_kib_with_exit_5() {
    for sub in ["connect", "ping"] {
        let (url, _pid, _peak) = misbehaving(Misbehaviour::EndlessHeaders, 1);
        let o = run(wsbeat().args([sub, &url]));
        assert_exit(&o, 5);
        one_error_line(&o, "has no end within 16384 bytes");
    }
}

/// soak counts the failed upgrade as an error by kind; with no connection opened at all the
/// run exits 3.
#[test]
fn soak_against_endless_headers_counts_the_error_and_exits_3() {
    let (url, _pid, _peak) = misbehaving(Misbehaviour::EndlessHeaders, 1);
    let o = run(wsbeat().args([
        "soak",
        &url,
        "-c",
        "1",
        "-d",
        "1s",
        "--no-reconnect",
        "--no-live",
    ]));
    assert_exit(&o, 3);
    one_error_line(&o, "could be opened (1× http_status)");
    assert_contains(&stdout_of(&o), "errors       http_status 1", &o);
}

#[test]
fn a_2_gib_frame_header_is_1009_without_allocating() {
    // soak counts the lost connection as an error and the message it could not send as lost.
    for (args, code) in [
        (vec!["connect", "URL", "--wait", "forever"], 6),
        (vec!["ping", "URL", "-c", "3"], 6),
        (
            vec![
                "soak",
                "URL",
                "-c",
                "1",
                "-d",
                "2s",
                "--no-reconnect",
                "--no-live",
            ],
            1,
        ),
    ] {
        let (url, pid, peak) = misbehaving(Misbehaviour::HugeFrameHeader, 1);
        let mut cmd = wsbeat();
        cmd.args(args.iter().map(|a| if *a == "URL" { &url } else { *a }));
        let mut p = Proc::spawn(args[0], &mut cmd);
        pid.send(p.pid()).unwrap();
        let peak = peak.recv_timeout(WAIT).expect("the client's Close");
        let status = p.finish(WAIT);
        let all = p.dump();
        assert_eq!(status.code(), Some(code), "{all}");
        if args[0] == "soak" {
            assert!(!all.contains("errors       none"), "{all}");
        } else {
            assert!(all.contains("code=1009"), "{all}");
            assert!(all.contains("over the size limit"), "{all}");
        }
        assert!(
            peak < 40 * MIB,
            "{} under a 2 GiB frame header peaked at {} MiB: nothing of it may be allocated\n{all}",
            args[0],
            peak / MIB
        );
    }
}

#[test]
fn data_after_close_is_dropped() {
    let (url, _pid, _peak) = misbehaving(Misbehaviour::DataAfterClose, 1);
    let o = run(wsbeat().args(["connect", &url, "--wait", "forever"]));
    assert_exit(&o, 0);
    assert!(!stdout_of(&o).contains("late"), "{}", describe(&o));
    assert!(error_lines(&o).is_empty(), "{}", describe(&o));
}

/// Our Close is never answered: the run ends within the close timeout (3 s), and says so.
#[test]
fn an_unanswered_close_ends_within_the_close_timeout() {
    // connect: the unanswered Close is the failure (6); ping: the lost probe is (1), the
    // unanswered Close a warning.
    for (args, code) in [
        (vec!["connect", "URL", "--wait", "0s"], 6),
        (vec!["ping", "URL", "-c", "1", "-W", "100ms"], 1),
    ] {
        let (url, _pid, _peak) = misbehaving(Misbehaviour::NeverAnswerClose, 1);
        let started = Instant::now();
        let o = run(wsbeat().args(args.iter().map(|a| if *a == "URL" { &url } else { *a })));
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(6),
            "{args:?} took {took:?}\n{}",
            describe(&o)
        );
        assert!(
            stderr_of(&o).contains("no Close frame came back in time"),
            "{args:?}\n{}",
            describe(&o)
        );
        assert_exit(&o, code);
        assert_eq!(error_lines(&o).len(), 1, "{args:?}\n{}", describe(&o));
    }
}

/// A server that reads nothing while soak sends 64 MB/s at it: the socket fills, and the run
/// still ends on time (duration, 2 s drain, 3 s close timeout) in bounded memory (soak's own
/// report gives its `VmHWM`). How the unanswered messages are counted is soak's accounting,
/// checked in `soak`.
#[test]
fn soak_against_a_server_that_never_reads_ends_on_time() {
    let (url, _pid, _peak) = misbehaving(Misbehaviour::NeverRead, 1);
    let started = Instant::now();
    let o = run(wsbeat().args([
        "soak",
        &url,
        "-c",
        "1",
        "-d",
        "3s",
        "--size",
        "65536",
        "--message-rate",
        "1000",
        "--no-reconnect",
        "--no-live",
        "--json",
        "-",
    ]));
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(12),
        "took {took:?}\n{}",
        describe(&o)
    );
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("the JSON report");
    assert!(
        report["messages"]["sent"].as_u64().unwrap() > 0,
        "{}",
        describe(&o)
    );
    assert_eq!(report["messages"]["received"], 0, "{}", describe(&o));
    let peak = report["rss"][0]["peak_bytes"].as_u64().unwrap();
    assert_eq!(report["rss"][0]["peak_from"], "VmHWM");
    assert!(
        peak < 48 * MIB,
        "soak peaked at {} MiB\n{}",
        peak / MIB,
        describe(&o)
    );
}
