//! The embeddable server through its public API, against a raw-socket client that writes
//! frames byte by byte, so every assertion is about what is on the wire. The subcommand and
//! third-party clients are covered by the rest of the `echo_server` module.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use crate::common::api::{Faults, Initiator, Server, ServerConfig, ServerEvent, ServerSummary};
use crate::common::frames::{ACCEPT, Got, frame, parse_server_frame, upgrade_request};

const WAIT: Duration = Duration::from_secs(10);

struct Client {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    async fn open(server: &str) -> Client {
        let mut tcp = TcpStream::connect(server).await.unwrap();
        tcp.write_all(&upgrade_request("/smoke")).await.unwrap();
        let mut c = Client {
            tcp,
            buf: Vec::new(),
        };
        let end = loop {
            if let Some(i) = c.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            assert!(c.fill().await, "closed during the handshake");
        };
        let head = String::from_utf8_lossy(&c.buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        assert!(
            head.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}")),
            "{head}"
        );
        c.buf.drain(..end);
        c
    }

    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 65536];
        let n = tokio::time::timeout(WAIT, self.tcp.read(&mut chunk))
            .await
            .expect("server went quiet")
            .unwrap_or(0);
        self.buf.extend_from_slice(&chunk[..n]);
        n > 0
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }

    /// The next frame, or `None` at end of stream.
    async fn recv(&mut self) -> Option<Got> {
        loop {
            if let Some((got, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(got);
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads until the end of stream; true when it came within `limit`.
    async fn eof_within(&mut self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async { while self.recv().await.is_some() {} })
            .await
            .is_ok()
    }
}

struct Running {
    addr: String,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<ServerSummary>,
    events: mpsc::Receiver<ServerEvent>,
}

async fn start(cfg: ServerConfig) -> Running {
    let (tx, events) = mpsc::channel(1024);
    let server = Server::bind(ServerConfig {
        events: Some(tx),
        ..cfg
    })
    .await
    .unwrap();
    let addr = server.local_addr().to_string();
    assert_eq!(server.url(), format!("ws://{addr}/"));
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        done,
        events,
    }
}

impl Running {
    async fn stop(mut self) -> (ServerSummary, Vec<ServerEvent>) {
        let _ = self.stop.take().unwrap().send(());
        let summary = tokio::time::timeout(WAIT, self.done)
            .await
            .unwrap()
            .unwrap();
        let mut events = Vec::new();
        while let Some(e) = self.events.recv().await {
            let last = matches!(e, ServerEvent::Summary(_));
            events.push(e);
            if last {
                break;
            }
        }
        (summary, events)
    }

    async fn next_closed(&mut self) -> ServerEvent {
        tokio::time::timeout(WAIT, async {
            loop {
                match self.events.recv().await {
                    Some(e @ ServerEvent::Closed { .. }) => return e,
                    Some(_) => {}
                    None => panic!("events ended"),
                }
            }
        })
        .await
        .expect("a closed event")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoes_keep_type_and_bytes_through_fragments_pings_and_the_close_handshake() {
    let server = start(ServerConfig::default()).await;
    let mut c = Client::open(&server.addr).await;

    let mut wire = frame(true, 0x2, &[0xFF, 0x00, 0x80, 0x7F]);
    wire.extend(frame(false, 0x1, "frag".as_bytes()));
    wire.extend(frame(true, 0x9, b"are you there"));
    wire.extend(frame(false, 0x0, &[0xE2, 0x82])); // half of a euro sign...
    wire.extend(frame(true, 0x0, &[0xAC, b'!'])); // ...and the rest
    // Byte by byte: every split point of frames, headers and UTF-8 sequences.
    for b in &wire {
        c.send(std::slice::from_ref(b)).await;
    }
    assert_eq!(
        c.recv().await,
        Some((true, 0x2, vec![0xFF, 0x00, 0x80, 0x7F]))
    );
    assert_eq!(c.recv().await, Some((true, 0xA, b"are you there".to_vec())));
    assert_eq!(
        c.recv().await,
        Some((true, 0x1, "frag€!".as_bytes().to_vec()))
    );
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    c.send(&frame(true, 0x2, &big)).await;
    assert_eq!(c.recv().await, Some((true, 0x2, big)));

    c.send(&frame(true, 0x8, b"\x0f\xa1see you")).await;
    assert_eq!(
        c.recv().await,
        Some((true, 0x8, b"\x0f\xa1see you".to_vec()))
    );
    assert!(
        c.eof_within(Duration::from_secs(3)).await,
        "the server closes TCP after the handshake"
    );

    let (summary, events) = server.stop().await;
    assert_eq!(summary.connections, 1);
    assert_eq!((summary.messages_in, summary.messages_out), (3, 3));
    assert_eq!(summary.bytes_in, summary.bytes_out);
    let closed = events
        .iter()
        .find_map(|e| match e {
            ServerEvent::Closed { close, .. } => Some(close.clone()),
            _ => None,
        })
        .expect("closed event");
    assert_eq!(
        (closed.code, closed.reason.as_str(), closed.was_clean),
        (4001, "see you", true)
    );
    assert_eq!(closed.initiator, Initiator::Client);
    assert!(matches!(
        &events[0],
        ServerEvent::Opened { path, .. } if path == "/smoke"
    ));
    assert!(matches!(events.last(), Some(ServerEvent::Summary(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_protocol_error_gets_1002_and_the_socket_is_closed_even_if_the_client_lingers() {
    let mut server = start(ServerConfig::default()).await;
    let mut c = Client::open(&server.addr).await;
    // Unmasked text frame.
    c.send(&[0x81, 0x02, b'h', b'i']).await;
    let (_, opcode, payload) = c.recv().await.expect("a Close frame");
    assert_eq!(opcode, 0x8);
    assert_eq!(&payload[..2], &1002u16.to_be_bytes());
    // We never close our side; the server must not wait for us forever.
    assert!(c.eof_within(Duration::from_secs(3)).await);
    match server.next_closed().await {
        ServerEvent::Closed { close, .. } => {
            assert_eq!((close.code, close.was_clean), (1002, false));
            assert_eq!(close.initiator, Initiator::Server);
        }
        _ => unreachable!(),
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_sends_1001_and_cuts_clients_that_do_not_answer_within_the_grace() {
    let server = start(ServerConfig {
        shutdown_grace: Duration::from_millis(400),
        ..Default::default()
    })
    .await;
    let mut polite = Client::open(&server.addr).await;
    let mut deaf = Client::open(&server.addr).await;
    let t0 = Instant::now();
    let stopping = tokio::spawn(server.stop());
    for c in [&mut polite, &mut deaf] {
        let (_, opcode, payload) = c.recv().await.expect("a Close frame");
        assert_eq!(opcode, 0x8);
        assert_eq!(payload, b"\x03\xe9going away");
    }
    polite.send(&frame(true, 0x8, b"\x03\xe9")).await;
    assert!(deaf.eof_within(Duration::from_secs(2)).await);
    let (summary, events) = stopping.await.unwrap();
    assert!(
        t0.elapsed() < Duration::from_secs(2),
        "shutdown took {:?}",
        t0.elapsed()
    );
    assert_eq!(summary.peak_connections, 2);
    let mut clean: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::Closed { close, .. } => Some(close.was_clean),
            _ => None,
        })
        .collect();
    clean.sort();
    assert_eq!(clean, [false, true], "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_replies_and_close_after_keep_their_order() {
    let server = start(ServerConfig {
        faults: Faults {
            delay: Some(Duration::from_millis(300)),
            close_after: Some(2),
            close_with: "4002:enough".parse().unwrap(),
            fragment: Some(3),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let mut c = Client::open(&server.addr).await;
    let t0 = Instant::now();
    c.send(&frame(true, 0x1, b"one")).await;
    c.send(&frame(true, 0x1, b"two!")).await;
    c.send(&frame(true, 0x1, b"three")).await;
    assert_eq!(c.recv().await, Some((true, 0x1, b"one".to_vec())));
    assert!(t0.elapsed() >= Duration::from_millis(290));
    assert_eq!(c.recv().await, Some((false, 0x1, b"two".to_vec())));
    assert_eq!(c.recv().await, Some((true, 0x0, b"!".to_vec())));
    assert_eq!(
        c.recv().await,
        Some((true, 0x8, b"\x0f\xa2enough".to_vec()))
    );
    c.send(&frame(true, 0x8, b"\x0f\xa2")).await;
    assert!(c.eof_within(Duration::from_secs(3)).await);
    let (summary, _) = server.stop().await;
    assert_eq!((summary.messages_in, summary.messages_out), (3, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_client_that_never_reads_is_closed_and_the_others_keep_going() {
    let mut server = start(ServerConfig {
        broadcast: true,
        broadcast_queue: 4,
        ..Default::default()
    })
    .await;
    let mut talker = Client::open(&server.addr).await;
    let slow = Client::open(&server.addr).await;
    let chunk = vec![7u8; 60_000];
    let mut echoed = 0;
    // Far more than the slow client's socket buffers, our high-water mark and its queue hold.
    for _ in 0..400 {
        talker.send(&frame(true, 0x2, &chunk)).await;
        assert_eq!(talker.recv().await.map(|g| g.2.len()), Some(chunk.len()));
        echoed += 1;
    }
    assert_eq!(echoed, 400);
    match server.next_closed().await {
        ServerEvent::Closed { close, .. } => {
            // A 1006 (the Close went unanswered) says why in its diagnostic, not its reason.
            let why = close.diagnostic.as_deref().unwrap_or(&close.reason);
            assert!(why.contains("1008"), "{close:?}");
        }
        _ => unreachable!(),
    }
    drop(slow);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_gets_426_and_an_over_limit_upgrade_gets_503() {
    let server = start(ServerConfig {
        max_connections: 1,
        ..Default::default()
    })
    .await;
    let mut tcp = TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("WebSocket endpoint"));

    let _first = Client::open(&server.addr).await;
    let mut tcp = TcpStream::connect(&server.addr).await.unwrap();
    tcp.write_all(&upgrade_request("/")).await.unwrap();
    let mut text = String::new();
    tcp.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 503 "), "{text}");
    let (summary, _) = server.stop().await;
    assert_eq!(summary.rejected, 2);
}

/// One timer wheel serves every connection's heartbeat: each of 200 clients that answer is
/// pinged again and again (its wheel entry re-armed after every Pong) and never cut, and a
/// client that never answers is cut after the interval and the timeout, never before, within a
/// few of the wheel's ticks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_heartbeating_clients_are_all_pinged_and_a_silent_one_is_cut_in_time() {
    const N: usize = 200;
    let (interval, timeout) = (Duration::from_millis(300), Duration::from_millis(300));
    let server = start(ServerConfig {
        ping_interval: Some(interval),
        ping_timeout: Some(timeout),
        ..Default::default()
    })
    .await;
    let (pinged_tx, mut pinged) = mpsc::channel::<()>(N);
    let mut answering = Vec::new();
    for _ in 0..N {
        let mut c = Client::open(&server.addr).await;
        let tx = pinged_tx.clone();
        answering.push(tokio::spawn(async move {
            let mut seen: Vec<Vec<u8>> = Vec::new();
            // Pongs until the server's Close (at shutdown); bounded by the server going quiet.
            while let Some((_, opcode, payload)) = c.recv().await {
                match opcode {
                    0x9 => {
                        c.send(&frame(true, 0xA, &payload)).await;
                        assert!(!seen.contains(&payload), "a Ping payload came twice");
                        seen.push(payload);
                        if seen.len() == 2 {
                            tx.send(()).await.unwrap();
                        }
                    }
                    0x8 => {
                        c.send(&frame(true, 0x8, &payload[..2])).await;
                        return (seen.len(), payload);
                    }
                    other => panic!("an idle client got opcode {other:#x}"),
                }
            }
            panic!(
                "the connection ended without a Close after {} pings",
                seen.len()
            )
        }));
    }
    drop(pinged_tx);
    let t0 = Instant::now();
    let mut silent = Client::open(&server.addr).await;
    let silent_addr = silent.tcp.local_addr().unwrap();
    assert!(
        silent.eof_within(WAIT).await,
        "the silent client was never cut"
    );
    let took = t0.elapsed();
    assert!(
        took >= interval + timeout,
        "the silent client was cut after {took:?}, before interval {interval:?} + timeout {timeout:?}"
    );
    assert!(
        took < interval + timeout + Duration::from_millis(1500),
        "the silent client was cut after {took:?}: interval + timeout is {:?}",
        interval + timeout
    );
    for i in 0..N {
        tokio::time::timeout(WAIT, pinged.recv())
            .await
            .unwrap_or_else(|_| panic!("only {i} of {N} clients got two pings"))
            .expect("a client task ended early");
    }
    let stopping = tokio::spawn(server.stop());
    for task in answering {
        let (pings, close) = task.await.unwrap();
        assert!(pings >= 2, "{pings} pings");
        assert_eq!(close, b"\x03\xe9going away");
    }
    let (summary, events) = stopping.await.unwrap();
    assert_eq!(summary.peak_connections, N as u64 + 1);
    let timeouts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            ServerEvent::HeartbeatTimeout {
                peer, timeout: t, ..
            } => Some((*peer, *t)),
            _ => None,
        })
        .collect();
    assert_eq!(
        timeouts,
        [(silent_addr, timeout)],
        "only the silent client times out"
    );
    let with_rtt = events
        .iter()
        .filter(|e| matches!(e, ServerEvent::Closed { rtt: Some(_), .. }))
        .count();
    assert_eq!(
        with_rtt, N,
        "every answering client's close carries its round trip"
    );
}

/// The heartbeat and `--idle-timeout` share the wheel: a client that answers every Ping but
/// sends no message is pinged until its idle timeout, then closed with 1001 "idle timeout"
/// (Pongs keep the heartbeat content, not the idle timer), never before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_only_answers_pings_is_pinged_until_its_idle_timeout() {
    let (interval, idle) = (Duration::from_millis(150), Duration::from_millis(700));
    let server = start(ServerConfig {
        ping_interval: Some(interval),
        idle_timeout: Some(idle),
        ..Default::default()
    })
    .await;
    let t0 = Instant::now();
    let mut c = Client::open(&server.addr).await;
    let mut pings = 0;
    let close = loop {
        let (_, opcode, payload) = c.recv().await.expect("a Close before the end of stream");
        match opcode {
            0x9 => {
                pings += 1;
                c.send(&frame(true, 0xA, &payload)).await;
            }
            0x8 => break payload,
            other => panic!("an idle client got opcode {other:#x}"),
        }
    };
    let took = t0.elapsed();
    assert_eq!(close, b"\x03\xe9idle timeout");
    assert!(
        took >= idle,
        "closed after {took:?}, before --idle-timeout {idle:?}"
    );
    assert!(
        pings >= 2,
        "only {pings} pings in {took:?} at --ping-interval {interval:?}"
    );
    c.send(&frame(true, 0x8, b"\x03\xe9")).await;
    let (summary, _) = server.stop().await;
    assert_eq!(summary.peak_connections, 1);
}

/// Only the Pong that carries the Ping's payload answers it: a client that answers every Ping
/// with another payload is cut by the heartbeat as if it had not answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pong_with_the_wrong_payload_does_not_answer_the_ping() {
    let (interval, timeout) = (Duration::from_millis(150), Duration::from_millis(300));
    let mut server = start(ServerConfig {
        ping_interval: Some(interval),
        ping_timeout: Some(timeout),
        ..Default::default()
    })
    .await;
    let t0 = Instant::now();
    let mut c = Client::open(&server.addr).await;
    let addr = c.tcp.local_addr().unwrap();
    let (_, opcode, payload) = c.recv().await.expect("a Ping");
    assert_eq!(opcode, 0x9);
    c.send(&frame(true, 0xA, b"not the ping's payload")).await;
    assert!(c.eof_within(WAIT).await, "the client was never cut");
    assert!(
        t0.elapsed() >= interval + timeout,
        "cut after {:?}",
        t0.elapsed()
    );
    let ServerEvent::Closed { rtt, peer, .. } = server.next_closed().await else {
        unreachable!()
    };
    assert_eq!((peer, rtt), (addr, None), "no round trip was measured");
    assert!(payload.len() >= 8);
    let (_, events) = server.stop().await;
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, ServerEvent::Closed { .. })),
        "one connection, closed once"
    );
}
