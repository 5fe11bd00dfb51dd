use super::*;
use crate::net::stream::MaybeTls;
use crate::ws::proto::close::Initiator;
use crate::ws::proto::frame::{self, Decoder, Item, OP_CLOSE, OP_PING, OP_PONG};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A connected client and the raw server socket under it.
async fn pair(leftover: Vec<u8>) -> (Connection<MaybeTls>, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let conn = Connection::new(
        MaybeTls::Plain(client.unwrap().into()),
        Role::Client,
        leftover,
        1 << 20,
    );
    (conn, server.unwrap().0)
}

fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_header(&mut out, fin, opcode, payload.len());
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, PartialEq)]
enum Seen {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Vec<u8>),
}

/// Read what the client sent, decoded as a server (which insists on masks), until `n`
/// items have come or the client's side ends.
async fn server_reads(s: &mut TcpStream, n: usize) -> Vec<Seen> {
    let mut dec = Decoder::new(1 << 20);
    let mut seen = Vec::new();
    let mut buf = vec![0; 4096];
    while seen.len() < n {
        let got = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await;
        let k = got.expect("client wrote in time").unwrap();
        if k == 0 {
            break;
        }
        let mut pos = 0;
        while let Some(item) = dec.next(&mut buf[..k], &mut pos).expect("valid frames") {
            seen.push(match item {
                Item::Message {
                    kind: DataKind::Text,
                    payload,
                    ..
                } => Seen::Text(String::from_utf8(payload.to_vec()).unwrap()),
                Item::Message { payload, .. } => Seen::Binary(payload.to_vec()),
                Item::Ping(p) => Seen::Ping(p.to_vec()),
                Item::Pong(p) => Seen::Pong(p.to_vec()),
                Item::Close(p) => Seen::Close(p.to_vec()),
            });
        }
    }
    seen
}

fn data(r: Incoming) -> (DataKind, Vec<u8>) {
    match r {
        Incoming::Message { kind, payload, .. } => (kind, payload.to_vec()),
        other => panic!("expected data, got {other:?}"),
    }
}

#[tokio::test]
async fn pings_are_answered_and_data_flows_both_ways() {
    let (mut conn, mut s) = pair(Vec::new()).await;
    let mut wire = server_frame(true, OP_PING, b"p1");
    wire.extend(server_frame(true, frame::OP_TEXT, b"hi"));
    wire.extend(server_frame(true, OP_PONG, b"hb"));
    s.write_all(&wire).await.unwrap();
    assert!(matches!(conn.recv().await, Incoming::Ping(p) if &p[..] == b"p1"));
    assert_eq!(data(conn.recv().await), (DataKind::Text, b"hi".to_vec()));
    assert!(matches!(conn.recv().await, Incoming::Pong(p) if &p[..] == b"hb"));
    conn.send(DataKind::Binary, &[1, 2, 3, 4, 5], Some(2))
        .await
        .unwrap();
    conn.ping(b"hb-2").await.unwrap();
    assert_eq!(
        server_reads(&mut s, 3).await,
        vec![
            Seen::Pong(b"p1".to_vec()),
            Seen::Binary(vec![1, 2, 3, 4, 5]),
            Seen::Ping(b"hb-2".to_vec()),
        ]
    );
    assert!(conn.out.capacity() == 0 && conn.pending.capacity() == 0);
}

#[tokio::test]
async fn recv_loses_nothing_when_a_timer_keeps_winning() {
    let (mut conn, mut s) = pair(Vec::new()).await;
    let mut wire = Vec::new();
    for i in 0..40 {
        wire.extend(server_frame(
            false,
            frame::OP_TEXT,
            format!("m{i}-").as_bytes(),
        ));
        wire.extend(server_frame(true, OP_PING, b"x"));
        wire.extend(server_frame(true, frame::OP_CONTINUATION, b"end"));
    }
    let writer = tokio::spawn(async move {
        // Odd-sized writes with pauses: frames split at every possible place.
        for piece in wire.chunks(7) {
            s.write_all(piece).await.unwrap();
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        s
    });
    let mut got = Vec::new();
    let mut cancelled = 0;
    while got.len() < 40 {
        tokio::select! {
            r = conn.recv() => match r {
                Incoming::Ping(p) => assert_eq!(&p[..], b"x"),
                r => got.push(String::from_utf8(data(r).1).unwrap()),
            },
            _ = tokio::time::sleep(Duration::from_micros(100)) => cancelled += 1,
        }
    }
    let expected: Vec<String> = (0..40).map(|i| format!("m{i}-end")).collect();
    assert_eq!(got, expected);
    assert!(
        cancelled > 0,
        "the timer never won; the test proves nothing"
    );
    let mut s = writer.await.unwrap();
    let pongs = server_reads(&mut s, 40).await;
    assert_eq!(
        pongs,
        (0..40)
            .map(|_| Seen::Pong(b"x".to_vec()))
            .collect::<Vec<_>>()
    );
}

fn closed(r: Incoming) -> (CloseEvent, Option<ErrorKind>) {
    match r {
        Incoming::Closed { close, error } => (close, error.map(|e| e.kind())),
        other => panic!("expected the end, got {other:?}"),
    }
}

#[tokio::test]
async fn a_server_close_is_answered_and_reported_as_it_was_sent() {
    let (mut conn, mut s) = pair(Vec::new()).await;
    s.write_all(&server_frame(
        true,
        OP_CLOSE,
        &[0x0F, 0xA1, b'b', b'y', b'e'],
    ))
    .await
    .unwrap();
    let server = tokio::spawn(async move {
        let seen = server_reads(&mut s, 1).await;
        drop(s); // The server ends the TCP connection first.
        seen
    });
    let (close, error) = closed(conn.recv().await);
    assert_eq!(
        server.await.unwrap(),
        vec![Seen::Close(vec![0x0F, 0xA1, b'b', b'y', b'e'])]
    );
    assert_eq!(
        close,
        CloseEvent {
            code: 4001,
            reason: "bye".into(),
            was_clean: true,
            initiator: Initiator::Server,
            code_valid: true,
            diagnostic: None,
        }
    );
    assert_eq!(error, None);
    // Cancel-safe at the end as well: asking again gives the same answer.
    assert_eq!(closed(conn.recv().await).0, close);
}

#[tokio::test]
async fn our_close_completes_when_the_server_answers() {
    let (mut conn, mut s) = pair(Vec::new()).await;
    let server = tokio::spawn(async move {
        // Data still on its way when we close is dropped unread.
        s.write_all(&server_frame(true, frame::OP_TEXT, b"late"))
            .await
            .unwrap();
        let seen = server_reads(&mut s, 1).await;
        s.write_all(&server_frame(true, OP_CLOSE, &[0x03, 0xE8]))
            .await
            .unwrap();
        s.shutdown().await.unwrap();
        seen
    });
    let (close, error) = conn.close_and_wait(1000, "done").await;
    assert_eq!(
        server.await.unwrap(),
        vec![Seen::Close(vec![0x03, 0xE8, b'd', b'o', b'n', b'e'])]
    );
    assert_eq!(
        (close.code, close.was_clean, error.is_none()),
        (1000, true, true)
    );
    assert_eq!(close.initiator, Initiator::Client);
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_close_ends_after_the_close_timeout() {
    let (mut conn, s) = pair(Vec::new()).await;
    let started = tokio::time::Instant::now();
    let (close, error) = conn.close_and_wait(4000, "bye").await;
    assert_eq!(started.elapsed(), CLOSE_TIMEOUT);
    assert_eq!((close.code, close.was_clean), (1006, false));
    assert_eq!(close.initiator, Initiator::Client);
    assert_eq!(close.reason, "", "a 1006 has no reason, as in the browser");
    assert!(
        close
            .diagnostic
            .as_deref()
            .is_some_and(|d| d.contains("no Close frame came back")),
        "{close:?}"
    );
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Abnormal));
    drop(s);
}

#[tokio::test]
async fn a_message_over_the_limit_is_closed_with_1009_and_reported_as_1009() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let mut conn: Connection<MaybeTls> = Connection::new(
        MaybeTls::Plain(client.unwrap().into()),
        Role::Client,
        Vec::new(),
        10,
    );
    let mut s = server.unwrap().0;
    s.write_all(&server_frame(true, frame::OP_BINARY, &[0; 11]))
        .await
        .unwrap();
    let server = tokio::spawn(async move {
        let seen = server_reads(&mut s, 1).await;
        // The server answers the Close (with its own code) and ends the connection.
        s.write_all(&server_frame(true, OP_CLOSE, &[0x03, 0xE8]))
            .await
            .unwrap();
        drop(s);
        seen
    });
    let (close, error) = closed(conn.recv().await);
    let seen = server.await.unwrap();
    assert!(
        matches!(&seen[..], [Seen::Close(p)] if p[..2] == [0x03, 0xF1]),
        "{seen:?}"
    );
    assert_eq!((close.code, close.was_clean), (1009, true));
    assert_eq!(close.initiator, Initiator::Client);
    assert_eq!(error, Some(ErrorKind::MessageTooLarge));
}

#[tokio::test]
async fn a_server_breaking_the_protocol_gets_the_close_rfc_6455_asks_for() {
    // A masked frame from a server: 1002, no close code of the peer's.
    let (mut conn, mut s) = pair(Vec::new()).await;
    s.write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
        .await
        .unwrap();
    let server = tokio::spawn(async move { server_reads(&mut s, 1).await });
    let (close, error) = closed(conn.recv().await);
    let seen = server.await.unwrap();
    assert!(
        matches!(&seen[..], [Seen::Close(p)] if p[..2] == [0x03, 0xEA]),
        "{seen:?}"
    );
    assert_eq!((close.code, close.was_clean), (1002, false));
    assert_eq!(close.initiator, Initiator::Client);
    assert_eq!(error, Some(ErrorKind::Protocol));
    assert!(conn.send(DataKind::Text, b"x", None).await.is_err());

    // A code that may not appear on the wire: reported as sent, answered with 1002.
    let (mut conn, mut s) = pair(Vec::new()).await;
    s.write_all(&server_frame(true, OP_CLOSE, &[0x03, 0xED]))
        .await
        .unwrap();
    let server = tokio::spawn(async move { server_reads(&mut s, 1).await });
    let (close, error) = closed(conn.recv().await);
    let seen = server.await.unwrap();
    assert!(
        matches!(&seen[..], [Seen::Close(p)] if p[..2] == [0x03, 0xEA]),
        "{seen:?}"
    );
    assert_eq!(
        (close.code, close.code_valid, close.was_clean),
        (1005, false, false)
    );
    assert_eq!(close.initiator, Initiator::Server);
    assert_eq!(error, Some(ErrorKind::Protocol));
}

#[tokio::test]
async fn leftover_bytes_come_first_and_a_dropped_socket_is_1006() {
    let mut leftover = server_frame(true, frame::OP_BINARY, &[9, 9]);
    let second = server_frame(true, frame::OP_TEXT, b"rest");
    leftover.extend_from_slice(&second[..3]);
    let (mut conn, mut s) = pair(leftover).await;
    assert_eq!(data(conn.recv().await), (DataKind::Binary, vec![9, 9]));
    s.write_all(&second[3..]).await.unwrap();
    assert_eq!(data(conn.recv().await), (DataKind::Text, b"rest".to_vec()));
    drop(s);
    let (close, error) = closed(conn.recv().await);
    assert_eq!((close.code, close.was_clean), (1006, false));
    assert_eq!(error, Some(ErrorKind::Abnormal));
}

#[test]
fn an_idle_connection_stays_small() {
    // soak holds thousands of these; see the memory figures in bench/README.md.
    // 248 B: with glibc's 8-byte header, a boxed connection fills a 256-byte chunk exactly
    // (8 B more than before it counted what it wrote, which the chunk had room for).
    let size = std::mem::size_of::<Connection<MaybeTls>>();
    assert!(size <= 248, "Connection is {size} B");
}

/// A peer that floods pings and never reads our pongs: the client stops reading once
/// `MAX_QUEUED` bytes of pongs wait, so its memory stays bounded and the flood backs up into
/// the peer's own socket. The paused clock turns "no more progress" into a timeout that fires
/// only when every task is blocked.
#[tokio::test(start_paused = true)]
async fn a_ping_flood_from_a_peer_that_never_reads_is_bounded() {
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let mut conn = Connection::new(ours, Role::Client, Vec::new(), 1 << 20);
    const PINGS: usize = 200_000;
    let flood = tokio::spawn(async move {
        let ping = server_frame(true, OP_PING, b"0123456789");
        for _ in 0..PINGS {
            if theirs.write_all(&ping).await.is_err() {
                return false;
            }
        }
        // Every ping written: the client kept reading to the end.
        true
    });
    let mut pings = 0;
    while let Ok(item) = tokio::time::timeout(Duration::from_secs(5), conn.recv()).await {
        match item {
            Incoming::Ping(_) => pings += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(pings > 0 && pings < PINGS, "{pings} pings read");
    assert!(
        conn.queued() < MAX_QUEUED + 4 * READ_CHUNK,
        "{} bytes queued",
        conn.queued()
    );
    assert!(
        !flood.is_finished(),
        "the flood should be stuck in its own socket"
    );
    flood.abort();
}

/// A streamed message arrives byte for byte, masked right across chunks and frames, whether
/// its size is known (frames of announced length) or not (a frame per chunk, FIN on an empty
/// last one when the source ends on a frame boundary).
#[tokio::test]
async fn a_streamed_message_arrives_whole_in_any_framing() {
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    for (size, fragment, frames) in [
        (Some(200_000), None, 1),
        (Some(200_000), Some(70_000), 3),
        (None, None, 4),
        (None, Some(1000), 201),
    ] {
        let (mut conn, mut s) = pair(Vec::new()).await;
        let mut reader = &payload[..];
        let src = Source {
            reader: &mut reader,
            size,
            name: "test",
        };
        let (sent, seen) = tokio::join!(
            conn.send_stream(DataKind::Binary, src, fragment, 1 << 20),
            server_reads(&mut s, 1)
        );
        let what = format!("size {size:?}, fragments {fragment:?}");
        assert_eq!(
            sent.unwrap(),
            Streamed {
                len: 200_000,
                frames
            },
            "{what}"
        );
        assert!(seen == [Seen::Binary(payload.clone())], "{what}");
    }
}

/// A source that cannot be sized stops at the limit: the message is abandoned with Close 1009
/// between its fragments, and the error is the user's (exit 2).
#[tokio::test]
async fn an_unsized_source_over_the_limit_is_abandoned_with_1009() {
    let (mut conn, mut s) = pair(Vec::new()).await;
    let mut zeros = tokio::io::repeat(0);
    let src = Source {
        reader: &mut zeros,
        size: None,
        name: "--send-file /dev/zero",
    };
    let (sent, seen) = tokio::join!(
        conn.send_stream(DataKind::Binary, src, None, 300_000),
        server_reads(&mut s, 1)
    );
    let e = sent.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Usage);
    assert!(e.message().contains("more than 300000 bytes"), "{e}");
    let Seen::Close(p) = &seen[0] else {
        panic!("{seen:?}")
    };
    assert_eq!(p[..2], 1009u16.to_be_bytes());
}

/// A server echoing through `poll_process`, as the echo server does, until the client is gone.
/// Returns the most output it ever had to queue.
async fn echo_server(mut conn: Connection<MaybeTls>) -> usize {
    use crate::ws::proto::endpoint::Event;
    let mut most = 0;
    poll_fn(|cx| {
        loop {
            most = most.max(conn.queued());
            if let Poll::Ready(Err(_)) = conn.poll_write_out(cx) {
                return Poll::Ready(most);
            }
            let got = ready!(conn.poll_process(cx, |ep, ev, out| {
                if let Event::Message { kind, payload, .. } = ev {
                    out.send_message(ep, kind, &payload, None).unwrap();
                }
            }));
            if !matches!(got, Ok(true)) || !conn.endpoint().is_open() {
                return Poll::Ready(most);
            }
        }
    })
    .await
}

/// Sizes around every threshold: copied, named in the read buffer, split across reads.
const ECHO_SIZES: [usize; 8] = [0, 64, 1023, 1024, 16 * 1024, 64 * 1024, 70_000, 1 << 20];

fn echo_payload(i: usize, size: usize) -> Vec<u8> {
    (0..size).map(|j| (i * 7 + j * 13) as u8).collect()
}

/// Enough that, unread, they overflow the kernel's socket buffers (~14 MiB).
const COUNT: usize = 96;

/// Send every message masked; with `read_after`, read the echoes only once all were sent, so
/// that the server's socket fills and its replies are partly queued.
async fn echo_round_trip(read_after: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let server = Connection::new(
        MaybeTls::Plain(server.unwrap().0.into()),
        Role::Server,
        Vec::new(),
        4 << 20,
    );
    let task = tokio::spawn(echo_server(server));
    let (mut rd, mut wr) = client.unwrap().into_split();
    let messages: Vec<(DataKind, Vec<u8>)> = (0..COUNT)
        .map(|i| {
            let kind = if i % 3 == 0 {
                DataKind::Text
            } else {
                DataKind::Binary
            };
            let size = ECHO_SIZES[i % ECHO_SIZES.len()];
            let mut p = echo_payload(i, size);
            if kind == DataKind::Text {
                p.iter_mut().for_each(|b| *b = b'a' + *b % 26);
            }
            (kind, p)
        })
        .collect();
    let sent = messages.clone();
    let writer = async move {
        for (kind, p) in &sent {
            let mut wire = Vec::new();
            frame::write_message_as(Role::Client, &mut wire, *kind, p, None);
            wr.write_all(&wire).await.unwrap();
        }
        wr
    };
    let reader = async move {
        let mut dec = Decoder::client(4 << 20);
        let mut got = Vec::new();
        let mut buf = vec![0; 64 * 1024];
        while got.len() < COUNT {
            let k = tokio::time::timeout(Duration::from_secs(20), rd.read(&mut buf))
                .await
                .expect("echoes in time")
                .unwrap();
            assert!(k > 0, "server closed after {} echoes", got.len());
            let mut pos = 0;
            while let Some(item) = dec.next(&mut buf[..k], &mut pos).expect("valid frames") {
                match item {
                    Item::Message { kind, payload, .. } => got.push((kind, payload.to_vec())),
                    other => panic!("unexpected {other:?}"),
                }
            }
        }
        got
    };
    let (got, wr) = if read_after {
        let wr = writer.await;
        (reader.await, wr)
    } else {
        let (wr, got) = tokio::join!(writer, reader);
        (got, wr)
    };
    assert_eq!(got.len(), messages.len());
    for (i, (g, m)) in got.iter().zip(&messages).enumerate() {
        assert!(g == m, "echo {i} ({} bytes) differs", m.1.len());
    }
    drop(wr);
    let queued = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("server ends")
        .unwrap();
    if read_after {
        assert!(queued > 0, "the socket took everything: nothing was queued");
    }
}

#[tokio::test]
async fn poll_process_echoes_every_size_byte_for_byte() {
    echo_round_trip(false).await;
}

#[tokio::test]
async fn poll_process_queues_what_a_full_socket_does_not_take_in_order() {
    echo_round_trip(true).await;
}
