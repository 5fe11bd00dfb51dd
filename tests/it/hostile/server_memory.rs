//! Clients that never read, against `echo-server`: what waits for them is bounded in bytes,
//! per client in broadcast mode and over all clients (`--max-buffered`), and the clients that
//! read are served throughout.

use std::io::Write;
use std::thread;

use super::*;
use crate::common::frames;

/// One client that never reads and 200 broadcasts of 512 KiB (100 MiB to each client): the
/// deaf client's queue is cut at `--broadcast-queue-bytes` (4 MiB by default) and it is closed
/// with 1008 "slow consumer", while the sender and another reader get every message. Counted
/// in frames alone (256 of them), the deaf queue held all 100 MiB.
#[test]
fn a_deaf_broadcast_client_is_cut_in_bytes_and_the_others_get_everything() {
    const COUNT: usize = 200;
    const SIZE: usize = 512 * 1024;
    let (server, addr) = echo_server(&["--broadcast"]);
    let deaf = raw_client(&addr);
    small_receive_buffer(&deaf);
    let mut reader = raw_client(&addr);
    let (got, read_one) = std::sync::mpsc::channel();
    let reading = thread::spawn(move || {
        (0..COUNT)
            .map(|_| {
                let n = read_server_frame(&mut reader).2.len();
                let _ = got.send(());
                n
            })
            .filter(|&n| n == SIZE)
            .count()
    });
    let mut sender = raw_client(&addr);
    let message = frames::frame(true, 0x2, &vec![7u8; SIZE]);
    // At most 4 in flight, to the sender and to the other reader (however slowly a busy
    // machine runs it): only the deaf client falls behind.
    let mut back = 0;
    for i in 0..COUNT {
        if i >= 4 {
            assert_eq!(read_server_frame(&mut sender).2.len(), SIZE);
            back += 1;
            read_one
                .recv_timeout(WAIT)
                .expect("the other reader keeps up");
        }
        sender.write_all(&message).unwrap();
    }
    while back < COUNT {
        assert_eq!(read_server_frame(&mut sender).2.len(), SIZE);
        back += 1;
    }
    assert_eq!(
        reading.join().unwrap(),
        COUNT,
        "the other reader got every message"
    );
    let deaf_peer = deaf.local_addr().unwrap().to_string();
    let line = server.wait_out("`closed` for the deaf client", WAIT, |l| {
        l.contains("\"closed\"") && l.contains(&format!("\"{deaf_peer}\""))
    });
    let closed: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(
        closed["code"] == 1008 || why(&closed).contains("Close 1008 \"slow consumer\""),
        "the deaf client should be closed with 1008 \"slow consumer\": {closed}"
    );
    let peak = vm_hwm(server.pid());
    assert!(
        peak < 48 * MIB,
        "echo-server peaked at {} MiB while a deaf client was sent 100 MiB",
        peak / MIB
    );
    drop(deaf);
}

/// 20 clients that each send 8 MiB and never read the echo (160 MiB of output, over a
/// `--max-buffered` of 16 MiB): those that would take the server over the budget are closed
/// with 1013 "over --max-buffered" instead of being echoed, and a client that reads still gets
/// its echo. The server's peak was 145 MiB without the budget and is about 65 MiB with it: the
/// budget itself, plus each 8 MiB message reassembled before it is refused (bounded by
/// `--max-message-size` per connection) and what the allocator keeps of those.
#[test]
fn greedy_clients_over_max_buffered_are_closed_and_a_polite_one_is_served() {
    const GREEDY: usize = 20;
    const SIZE: usize = 8 << 20;
    let (server, addr) = echo_server(&["--max-buffered", "16MiB"]);
    let message = frames::frame(true, 0x2, &vec![0u8; SIZE]);
    let greedy: Vec<_> = (0..GREEDY)
        .map(|_| {
            let mut s = raw_client(&addr);
            small_receive_buffer(&s);
            s.write_all(&message).unwrap();
            s
        })
        .collect();
    let mut polite = raw_client(&addr);
    polite
        .write_all(&frames::frame(true, 0x1, b"hello"))
        .unwrap();
    assert_eq!(
        read_server_frame(&mut polite),
        (true, 0x1, b"hello".to_vec()),
        "the polite client's echo"
    );
    let refused = closed_over_budget(&server, GREEDY - 4);
    assert!(
        refused.is_some(),
        "at least {} greedy clients should be closed over --max-buffered\n{}",
        GREEDY - 4,
        server.dump()
    );
    let peak = vm_hwm(server.pid());
    assert!(
        peak < 96 * MIB,
        "echo-server peaked at {} MiB with --max-buffered 16MiB",
        peak / MIB
    );
    drop(greedy);
}

/// The other way to make room: a client holding more than the one asking is the one closed.
/// A 20 MiB echo waits for a client that reads nothing (at least 14 MiB of it in the server,
/// whatever the kernel takes); a 12 MiB echo for a second one would go over 24 MiB, so the
/// first is dropped (a frame of it was half sent, so no Close can follow) and the second is
/// queued.
#[test]
fn the_client_holding_the_most_makes_room_for_a_smaller_one() {
    let (server, addr) = echo_server(&["--max-buffered", "24MiB", "-v"]);
    let mut first = raw_client(&addr);
    small_receive_buffer(&first);
    first
        .write_all(&frames::frame(true, 0x2, &vec![0u8; 20 << 20]))
        .unwrap();
    let first_peer = first.local_addr().unwrap().to_string();
    // The echo is queued in the same step that logs the message.
    server.wait_event("message", WAIT);
    let mut second = raw_client(&addr);
    small_receive_buffer(&second);
    second
        .write_all(&frames::frame(true, 0x2, &vec![0u8; 12 << 20]))
        .unwrap();
    let line = server.wait_out("`closed` for the first client", WAIT, |l| {
        l.contains("\"closed\"") && l.contains(&format!("\"{first_peer}\""))
    });
    assert!(
        line.contains("over --max-buffered"),
        "{line}\n{}",
        server.dump()
    );
    let mut polite = raw_client(&addr);
    polite.write_all(&frames::frame(true, 0x1, b"hi")).unwrap();
    assert_eq!(read_server_frame(&mut polite), (true, 0x1, b"hi".to_vec()));
    let second_closed = server
        .events()
        .into_iter()
        .any(|e| e["type"] == "closed" && e["peer"] == second.local_addr().unwrap().to_string());
    assert!(
        !second_closed,
        "the second client was served\n{}",
        server.dump()
    );
}

/// Messages still arriving count too: 20 clients each send 4 MiB of a 32 MiB message and stop
/// (80 MiB held for them, over a 16 MiB budget). Once the total is over, a client whose message
/// is still arriving and that holds more than any client waiting for output gets 1013 and what
/// it sent is dropped.
#[test]
fn half_sent_messages_count_against_max_buffered() {
    const CLIENTS: usize = 20;
    let (server, addr) = echo_server(&["--max-buffered", "16MiB"]);
    let whole = frames::frame(true, 0x2, &vec![0u8; 32 << 20]);
    // The header (14 bytes with its mask) and the first 4 MiB of the payload.
    let part = &whole[..14 + (4 << 20)];
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut s = raw_client(&addr);
            s.write_all(part).unwrap();
            s
        })
        .collect();
    let refused = closed_over_budget(&server, CLIENTS - 5);
    assert!(
        refused.is_some(),
        "clients holding half-sent messages over --max-buffered should be closed\n{}",
        server.dump()
    );
    let peak = vm_hwm(server.pid());
    assert!(
        peak < 64 * MIB,
        "echo-server peaked at {} MiB holding half-sent messages",
        peak / MIB
    );
    drop(clients);
}

/// Waits until at least `n` clients were closed over `--max-buffered`; their count, or `None`.
fn closed_over_budget(server: &Proc, n: usize) -> Option<usize> {
    poll_until(WAIT, || {
        let closed = server
            .events()
            .iter()
            .filter(|e| e["type"] == "closed" && why(e).contains("--max-buffered"))
            .count();
        (closed >= n).then_some(closed)
    })
}

/// A close's reason and, for a 1006 (whose reason is empty, as in the browser), our diagnostic.
fn why(closed: &serde_json::Value) -> String {
    let text = |k: &str| closed[k].as_str().unwrap_or_default().to_string();
    format!("{} {}", text("reason"), text("error"))
}
