//! A stop request is honoured even when nobody reads the server's output: the
//! `subprocess.Popen(stdout=PIPE)` pattern, where the log pipe fills and the log thread blocks
//! in `write`. Lines it could not write are lost; the exit is not.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{self, frames};

/// The server's default grace for clients' Close frames (README, echo-server).
const GRACE: Duration = Duration::from_secs(2);
/// Far more log lines than a 64 KiB pipe holds, and more than the event queue (16 Ki).
const MESSAGES: usize = 20_000;

#[test]
fn sigterm_exits_within_grace_while_nobody_reads_the_log() {
    // NDJSON: the per-message events fill stdout.
    stop_with_full_pipe(&["--json", "-v"], libc::SIGTERM);
}

#[test]
fn ctrl_c_exits_within_grace_while_nobody_reads_the_log() {
    // Human: the per-message lines fill stderr.
    stop_with_full_pipe(&["-v"], libc::SIGINT);
}

fn stop_with_full_pipe(args: &[&str], sig: libc::c_int) {
    let mut child = common::wsbeat()
        .args(["echo-server", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn wsbeat echo-server");
    // Read the URL, then never read either pipe again (but keep them open).
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let _stderr = child.stderr.take().expect("stderr");
    let mut first = String::new();
    stdout
        .read_line(&mut first)
        .expect("read the listening line");
    let url = match first.strip_prefix("listening on ") {
        Some(url) => url.trim_end().to_string(),
        None => {
            let v: serde_json::Value =
                serde_json::from_str(&first).expect("listening line is JSON");
            v["url"].as_str().unwrap_or_default().to_string()
        }
    };
    let addr = Some(url.as_str())
        .and_then(|u| u.strip_prefix("ws://"))
        .and_then(|u| u.strip_suffix('/'))
        .unwrap_or_else(|| panic!("listening line without ws url: {first}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    flood(&addr);

    let asked = Instant::now();
    common::signal(child.id(), sig);
    // The server's own bounds: the grace, its 0.5 s margin for last writes, 0.5 s for the
    // summary and 0.5 s for the log; one second more for a loaded machine.
    let bound = GRACE + Duration::from_millis(2_500);
    let Some(status) = common::wait_with_deadline(&mut child, bound + Duration::from_secs(5))
    else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("echo-server {args:?} ignored signal {sig} with its log pipe full (killed it)");
    };
    let took = asked.elapsed();
    assert!(took <= bound, "exit took {took:?}, over {bound:?}");
    assert_eq!(status.code(), Some(0), "graceful stop exits 0: {status:?}");
}

/// Sends [`MESSAGES`] text messages on one connection and waits for every echo, so the server
/// has logged (or counted as dropped) each of them before the signal.
fn flood(addr: &str) {
    let mut tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("read timeout");
    tcp.write_all(&frames::upgrade_request("/"))
        .expect("upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).expect("read the 101");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&head)
    );

    let payload = b"a message long enough to make its log line count";
    let mut reader = tcp.try_clone().expect("clone");
    let drain = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 64 * 1024];
        let mut echoes = 0;
        while echoes < MESSAGES {
            let n = reader.read(&mut chunk).expect("read echoes");
            assert!(n > 0, "server closed after {echoes} echoes");
            buf.extend_from_slice(&chunk[..n]);
            while let Some(((_, opcode, _), used)) = frames::parse_server_frame(&buf) {
                assert_eq!(opcode, 1, "expected text echoes");
                buf.drain(..used);
                echoes += 1;
            }
        }
        echoes
    });
    let one = frames::frame(true, 1, payload);
    let mut batch = Vec::with_capacity(one.len() * 1000);
    for _ in 0..MESSAGES / 1000 {
        batch.clear();
        for _ in 0..1000 {
            batch.extend_from_slice(&one);
        }
        tcp.write_all(&batch).expect("send messages");
    }
    assert_eq!(drain.join().expect("drain thread"), MESSAGES);
    let _ = tcp.shutdown(std::net::Shutdown::Both);
}
