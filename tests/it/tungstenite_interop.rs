//! Our engine against tungstenite, an implementation written by other people, over real TCP on
//! 127.0.0.1, both ways: tungstenite's client against our echo server (`wsbeat::server`), and our
//! client (`ws::open`) against tungstenite's server. The engine's own tests check it against our
//! reading of RFC 6455; these check that two independent readings meet on the wire, with what
//! each side reports about the close asserted on both sides.

use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use wsbeat::error::ErrorKind;
use wsbeat::server::{Faults, Server, ServerConfig, ServerEvent, ServerSummary};
use wsbeat::ws::connection::Incoming;
use wsbeat::ws::handshake::client::ConnectOptions;
use wsbeat::ws::open::ClientConnection;
use wsbeat::ws::proto::DataKind;
use wsbeat::ws::proto::close::CloseEvent;
use wsbeat::ws::proto::close::{CloseSpec, Initiator};

/// Every wait is bounded: a peer that never answers fails the test instead of hanging it.
const WAIT: Duration = Duration::from_secs(10);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: nothing within {WAIT:?}"))
}

type Tung = WebSocketStream<TcpStream>;

/// A data frame written by hand, so that a message can be sent in fragments (tungstenite's own
/// `send` always writes one frame per message) or with something wrong in it on purpose.
fn tframe(op: Data, payload: &[u8], fin: bool) -> Message {
    Message::Frame(Frame::message(payload.to_vec(), OpCode::Data(op), fin))
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }
}

/// The next message tungstenite reads; an error or the end fails the test.
async fn next(ws: &mut Tung) -> Message {
    within("tungstenite's next message", ws.next())
        .await
        .expect("the stream ended early")
        .expect("tungstenite reported an error")
}

/// Read until the stream ends. tungstenite ends it (`None`) once the closing handshake is over
/// and the TCP connection is closed; anything else it still reads comes back.
async fn drain(ws: &mut Tung) -> Vec<Message> {
    let mut rest = Vec::new();
    while let Some(m) = within("the end of tungstenite's stream", ws.next()).await {
        rest.push(m.expect("tungstenite reported an error"));
    }
    rest
}

fn close_of(m: &Message) -> (u16, String) {
    match m {
        Message::Close(Some(cf)) => (u16::from(cf.code), cf.reason.to_string()),
        other => panic!("expected a Close frame with a code, got {other:?}"),
    }
}

// --- tungstenite's client against our echo server -------------------------------------------

struct OurServer {
    addr: SocketAddr,
    events: mpsc::Receiver<ServerEvent>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<ServerSummary>,
}

async fn our_server(cfg: ServerConfig) -> OurServer {
    let (tx, events) = mpsc::channel(1024);
    let server = Server::bind(ServerConfig {
        events: Some(tx),
        ..cfg
    })
    .await
    .unwrap();
    let addr = server.local_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = stopped.await;
    }));
    OurServer {
        addr,
        events,
        stop,
        task,
    }
}

impl OurServer {
    /// How the server saw its next connection end, as it reports it.
    async fn closed(&mut self) -> CloseEvent {
        loop {
            match within("the server's Closed event", self.events.recv()).await {
                Some(ServerEvent::Closed { close, .. }) => return close,
                Some(_) => {}
                None => panic!("the server stopped without reporting a close"),
            }
        }
    }

    async fn stop(self) -> ServerSummary {
        let _ = self.stop.send(());
        within("the server's shutdown", self.task).await.unwrap()
    }

    async fn tungstenite_client(&self) -> Tung {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        let url = format!("ws://{}/interop", self.addr);
        let (ws, response) = within(
            "tungstenite's handshake",
            tokio_tungstenite::client_async(url, tcp),
        )
        .await
        .expect("tungstenite accepts our 101");
        assert_eq!(response.status(), 101);
        ws
    }
}

#[tokio::test]
async fn tungstenite_client_gets_every_kind_of_message_echoed_by_our_server() {
    let mut server = our_server(ServerConfig::default()).await;
    let mut ws = server.tungstenite_client().await;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();

    ws.send(Message::text("héllo wörld ✓")).await.unwrap();
    ws.send(Message::binary(vec![0u8, 1, 2, 254, 255]))
        .await
        .unwrap();
    ws.send(Message::text("")).await.unwrap();
    // 64-bit length, and more than one read on our side.
    ws.send(Message::binary(big.clone())).await.unwrap();
    // A text message in three fragments, a multi-byte character cut between the last two,
    // and a ping in the middle of it (RFC 6455 5.4: control frames may be interleaved).
    let text = "fragments ✓".as_bytes();
    let cut = text.len() - 1;
    ws.send(tframe(Data::Text, &text[..4], false))
        .await
        .unwrap();
    ws.send(Message::Ping(b"mid-message".to_vec().into()))
        .await
        .unwrap();
    ws.send(tframe(Data::Continue, &text[4..cut], false))
        .await
        .unwrap();
    ws.send(tframe(Data::Continue, &text[cut..], true))
        .await
        .unwrap();
    ws.send(Message::Ping(b"p-2".to_vec().into()))
        .await
        .unwrap();

    assert_eq!(next(&mut ws).await, Message::text("héllo wörld ✓"));
    assert_eq!(
        next(&mut ws).await,
        Message::binary(vec![0u8, 1, 2, 254, 255])
    );
    assert_eq!(next(&mut ws).await, Message::text(""));
    assert_eq!(next(&mut ws).await, Message::binary(big));
    // The pong answers the ping as soon as it arrives, before the message it interrupted.
    assert_eq!(
        next(&mut ws).await,
        Message::Pong(b"mid-message".to_vec().into())
    );
    assert_eq!(next(&mut ws).await, Message::text("fragments ✓"));
    assert_eq!(next(&mut ws).await, Message::Pong(b"p-2".to_vec().into()));

    ws.close(Some(close_frame(1000, ""))).await.unwrap();
    let rest = drain(&mut ws).await;
    assert_eq!(rest.len(), 1, "only the echo of our Close: {rest:?}");
    assert_eq!(close_of(&rest[0]), (1000, String::new()));
    drop(ws);
    let close = server.closed().await;
    assert_eq!((close.code, close.was_clean), (1000, true));
    assert_eq!(close.initiator, Initiator::Client);
    let summary = server.stop().await;
    assert_eq!((summary.messages_in, summary.messages_out), (5, 5));
}

#[tokio::test]
async fn our_servers_fragmented_replies_are_reassembled_by_tungstenite() {
    let mut server = our_server(ServerConfig {
        faults: Faults {
            fragment: Some(5),
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let mut ws = server.tungstenite_client().await;
    // Five-byte fragments cut "✓" and "é" in the middle: tungstenite must not judge UTF-8
    // fragment by fragment.
    let text = "aaaa✓ bé fragmented on the way back".to_string();
    ws.send(Message::text(text.clone())).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text(text));
    let bin: Vec<u8> = (0..=255u8).collect();
    ws.send(Message::binary(bin.clone())).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::binary(bin));
    ws.close(None).await.unwrap();
    let rest = drain(&mut ws).await;
    // No code in our Close: the echo has none either (RFC 6455 5.5.1).
    assert_eq!(rest, vec![Message::Close(None)]);
    drop(ws);
    let close = server.closed().await;
    assert_eq!((close.code, close.was_clean), (1005, true));
    assert_eq!(close.initiator, Initiator::Client);
    server.stop().await;
}

#[tokio::test]
async fn tungstenite_clients_close_code_and_reason_are_echoed_and_reported() {
    let mut server = our_server(ServerConfig::default()).await;
    let mut ws = server.tungstenite_client().await;
    ws.send(Message::text("before close")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("before close"));
    ws.close(Some(close_frame(4001, "client bye ✓")))
        .await
        .unwrap();
    let rest = drain(&mut ws).await;
    assert_eq!(rest.len(), 1, "only the echo of our Close: {rest:?}");
    assert_eq!(close_of(&rest[0]), (4001, "client bye ✓".to_string()));
    drop(ws);
    let close = server.closed().await;
    assert_eq!(close.code, 4001);
    assert_eq!(close.reason, "client bye ✓");
    assert!(close.was_clean && close.code_valid);
    assert_eq!(close.initiator, Initiator::Client);
    server.stop().await;
}

#[tokio::test]
async fn our_servers_close_after_fault_reaches_tungstenite_and_is_answered() {
    let mut server = our_server(ServerConfig {
        faults: Faults {
            close_after: Some(2),
            close_with: CloseSpec::new(4002, "enough for now").unwrap(),
            ..Faults::default()
        },
        ..ServerConfig::default()
    })
    .await;
    let mut ws = server.tungstenite_client().await;
    ws.send(Message::text("one")).await.unwrap();
    ws.send(Message::text("two")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("one"));
    assert_eq!(next(&mut ws).await, Message::text("two"));
    assert_eq!(
        close_of(&next(&mut ws).await),
        (4002, "enough for now".to_string())
    );
    // tungstenite answers the Close by itself while it reads on; then our server ends the TCP
    // connection, which ends the stream.
    assert_eq!(drain(&mut ws).await, Vec::<Message>::new());
    drop(ws);
    let close = server.closed().await;
    assert_eq!(
        (close.code, close.reason.as_str()),
        (4002, "enough for now")
    );
    assert!(
        close.was_clean,
        "tungstenite's answer completes the handshake"
    );
    assert_eq!(close.initiator, Initiator::Server);
    server.stop().await;
}

#[tokio::test]
async fn protocol_violations_by_tungstenite_client_are_failed_with_1002() {
    let rsv1 = {
        let mut f = Frame::message(b"x".to_vec(), OpCode::Data(Data::Text), true);
        f.header_mut().rsv1 = true;
        f
    };
    let fragmented_ping = {
        let mut f = Frame::ping(b"p".to_vec());
        f.header_mut().is_final = false;
        f
    };
    let cases: Vec<(&str, Vec<Message>)> = vec![
        ("RSV1 without an extension", vec![Message::Frame(rsv1)]),
        (
            "reserved opcode 3",
            vec![tframe(Data::Reserved(3), b"?", true)],
        ),
        (
            "continuation with no message",
            vec![tframe(Data::Continue, b"orphan", true)],
        ),
        (
            "new message inside a fragmented one",
            vec![
                tframe(Data::Text, b"first", false),
                tframe(Data::Binary, b"second", true),
            ],
        ),
        ("fragmented ping", vec![Message::Frame(fragmented_ping)]),
        (
            "ping of 126 bytes",
            vec![Message::Frame(Frame::ping(vec![b'p'; 126]))],
        ),
        (
            "Close with a 1-byte payload",
            vec![Message::Frame(Frame::from_payload(
                Frame::close(None).header().clone(),
                vec![0x03].into(),
            ))],
        ),
        (
            "Close with code 1005, reserved for reporting",
            vec![Message::Frame(Frame::close(Some(close_frame(1005, "no"))))],
        ),
    ];
    let mut server = our_server(ServerConfig::default()).await;
    for (what, frames) in cases {
        let mut ws = server.tungstenite_client().await;
        for f in frames {
            ws.send(f).await.unwrap();
        }
        let got = next(&mut ws).await;
        assert_eq!(close_of(&got).0, 1002, "{what}: {got:?}");
        assert_eq!(drain(&mut ws).await, Vec::<Message>::new(), "{what}");
        drop(ws);
        let close = server.closed().await;
        if what.starts_with("Close with") {
            // A bad Close is reported as the peer sent it (a 1-byte payload has no code:
            // 1005), flagged as not allowed, with the peer as the one who began the close.
            assert_eq!((close.code, close.code_valid), (1005, false), "{what}");
            assert_eq!(close.initiator, Initiator::Client, "{what}");
        } else {
            assert_eq!(close.code, 1002, "{what}: {close:?}");
            assert_eq!(close.initiator, Initiator::Server, "{what}");
        }
        assert!(!close.was_clean, "{what}: a failed connection is not clean");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_message_over_our_servers_limit_gets_1009_in_a_clean_handshake() {
    let mut server = our_server(ServerConfig {
        max_message_size: 1024,
        ..ServerConfig::default()
    })
    .await;
    // One frame over the limit, and a fragmented message that passes it in its second frame.
    let cases: Vec<(&str, Vec<Message>)> = vec![
        ("one frame", vec![Message::binary(vec![7u8; 2000])]),
        (
            "fragments",
            vec![
                tframe(Data::Text, &[b'a'; 600], false),
                tframe(Data::Continue, &[b'b'; 600], false),
                tframe(Data::Continue, &[b'c'; 600], true),
            ],
        ),
    ];
    for (what, frames) in cases {
        let mut ws = server.tungstenite_client().await;
        // Exactly at the limit is fine.
        ws.send(Message::binary(vec![1u8; 1024])).await.unwrap();
        assert_eq!(next(&mut ws).await, Message::binary(vec![1u8; 1024]));
        for f in frames {
            ws.send(f).await.unwrap();
        }
        let got = next(&mut ws).await;
        assert_eq!(close_of(&got).0, 1009, "{what}: {got:?}");
        assert_eq!(drain(&mut ws).await, Vec::<Message>::new(), "{what}");
        drop(ws);
        let close = server.closed().await;
        assert_eq!(close.code, 1009, "{what}: {close:?}");
        assert!(
            close.was_clean,
            "{what}: tungstenite answered our Close: {close:?}"
        );
        assert_eq!(close.initiator, Initiator::Server, "{what}");
    }
    server.stop().await;
}

#[tokio::test]
async fn invalid_utf8_from_tungstenite_client_is_failed_with_1007() {
    let cases: Vec<(&str, Vec<Message>)> = vec![
        (
            "one frame",
            vec![tframe(Data::Text, &[b'o', b'k', 0xFF], true)],
        ),
        // "é" is C3 A9; C3 followed by "(" is no character at all, and the bad byte comes in
        // the second fragment.
        (
            "across fragments",
            vec![
                tframe(Data::Text, b"caf\xC3", false),
                tframe(Data::Continue, b"(", true),
            ],
        ),
        (
            "Close reason",
            vec![Message::Frame(Frame::from_payload(
                Frame::close(None).header().clone(),
                vec![0x03, 0xE8, 0xC3, 0x28].into(),
            ))],
        ),
    ];
    let mut server = our_server(ServerConfig::default()).await;
    for (what, frames) in cases {
        let mut ws = server.tungstenite_client().await;
        for f in frames {
            ws.send(f).await.unwrap();
        }
        let got = next(&mut ws).await;
        assert_eq!(close_of(&got).0, 1007, "{what}: {got:?}");
        assert_eq!(drain(&mut ws).await, Vec::<Message>::new(), "{what}");
        drop(ws);
        let close = server.closed().await;
        assert!(!close.was_clean, "{what}: {close:?}");
        if what == "Close reason" {
            // The peer's Close is reported with its code; its reason was not valid UTF-8.
            assert_eq!((close.code, close.code_valid), (1000, false), "{what}");
            assert_eq!(close.initiator, Initiator::Client, "{what}");
        } else {
            assert_eq!(close.code, 1007, "{what}: {close:?}");
            assert_eq!(close.initiator, Initiator::Server, "{what}");
        }
    }
    server.stop().await;
}

// --- our client against tungstenite's server ------------------------------------------------

/// A tungstenite server for one connection, running `script` once the upgrade is done; its
/// result is what the script saw.
async fn tungstenite_server<F, Fut, T>(script: F) -> (SocketAddr, JoinHandle<T>)
where
    F: FnOnce(Tung) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send,
    T: Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = tokio_tungstenite::accept_async(tcp)
            .await
            .expect("tungstenite accepts our upgrade");
        script(ws).await
    });
    (addr, task)
}

/// Like tokio-tungstenite's autobahn-server example: echo data, let tungstenite answer pings
/// and the Close. Returns every message read, the Close included.
async fn echo(mut ws: Tung) -> Vec<Message> {
    let mut seen = Vec::new();
    while let Some(m) = ws.next().await {
        let m = m.expect("tungstenite's server reported an error");
        if m.is_text() || m.is_binary() {
            ws.send(m.clone()).await.unwrap();
        }
        seen.push(m);
    }
    seen
}

async fn our_client(addr: SocketAddr, max_message_size: usize) -> ClientConnection {
    let opts = ConnectOptions {
        reach: Default::default(),
        follow: None,
        target: format!("ws://{addr}/interop").parse().unwrap(),
        headers: Vec::new(),
        origin: None,
        subprotocols: Vec::new(),
        auth: None,
        connect_timeout: WAIT,
        tls: None,
        max_message_size,
        source: None,
        compress: Vec::new(),
    };
    let (conn, handshake) = wsbeat::ws::open::open(&opts).await.unwrap();
    assert_eq!(handshake.status, 101);
    conn
}

async fn recv(conn: &mut ClientConnection) -> Incoming {
    within("our client's recv", conn.recv()).await
}

fn message(r: Incoming) -> (DataKind, Vec<u8>) {
    match r {
        Incoming::Message { kind, payload, .. } => (kind, payload.to_vec()),
        other => panic!("expected a data message, got {other:?}"),
    }
}

#[tokio::test]
async fn our_client_gets_every_kind_of_message_echoed_by_tungstenite() {
    let (addr, server) = tungstenite_server(echo).await;
    let mut conn = our_client(addr, 1 << 20).await;
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 13) as u8).collect();
    let sent: Vec<(DataKind, Vec<u8>, Option<usize>)> = vec![
        (DataKind::Text, "héllo wörld ✓".into(), None),
        (DataKind::Binary, vec![0, 1, 2, 254, 255], None),
        (DataKind::Text, Vec::new(), None),
        // Three-byte fragments cut the multi-byte characters.
        (DataKind::Text, "ünïcödé ✓ fragments".into(), Some(3)),
        (DataKind::Binary, big.clone(), Some(16 * 1024)),
        (DataKind::Binary, big, None),
    ];
    for (kind, payload, fragment) in &sent {
        conn.send(*kind, payload, *fragment).await.unwrap();
        assert_eq!(message(recv(&mut conn).await), (*kind, payload.clone()));
    }
    conn.ping(b"heartbeat").await.unwrap();
    assert!(
        matches!(recv(&mut conn).await, Incoming::Pong(p) if &p[..] == b"heartbeat"),
        "tungstenite answers our ping with its payload"
    );
    let (close, error) = within("our close", conn.close_and_wait(1000, "done")).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!((close.code, close.reason.as_str()), (1000, "done"));
    assert!(close.was_clean);
    assert_eq!(close.initiator, Initiator::Client);

    let seen = within("tungstenite's server", server).await.unwrap();
    assert_eq!(seen.len(), sent.len() + 2, "{seen:?}");
    assert_eq!(
        seen[sent.len()],
        Message::Ping(b"heartbeat".to_vec().into())
    );
    assert_eq!(close_of(&seen[sent.len() + 1]), (1000, "done".to_string()));
}

#[tokio::test]
async fn tungstenite_servers_fragments_and_pings_reach_our_client() {
    let (addr, server) = tungstenite_server(|mut ws: Tung| async move {
        let check = "fragmented ✓".as_bytes();
        let cut = check.len() - 2;
        ws.send(tframe(Data::Text, &check[..4], false))
            .await
            .unwrap();
        ws.send(Message::Ping(b"server ping".to_vec().into()))
            .await
            .unwrap();
        ws.send(tframe(Data::Continue, &check[4..cut], false))
            .await
            .unwrap();
        ws.send(tframe(Data::Continue, &check[cut..], true))
            .await
            .unwrap();
        ws.send(tframe(Data::Binary, &[1, 2], false)).await.unwrap();
        ws.send(tframe(Data::Continue, &[], false)).await.unwrap();
        ws.send(tframe(Data::Continue, &[3], true)).await.unwrap();
        echo(ws).await
    })
    .await;
    let mut conn = our_client(addr, 1 << 20).await;
    assert!(
        matches!(recv(&mut conn).await, Incoming::Ping(p) if &p[..] == b"server ping"),
        "the ping comes out first, in the middle of the message"
    );
    assert_eq!(
        message(recv(&mut conn).await),
        (DataKind::Text, "fragmented ✓".into())
    );
    assert_eq!(
        message(recv(&mut conn).await),
        (DataKind::Binary, vec![1, 2, 3])
    );
    let (close, error) = within("our close", conn.close_and_wait(1000, "")).await;
    assert!(error.is_none() && close.was_clean, "{close:?} {error:?}");
    let seen = within("tungstenite's server", server).await.unwrap();
    // We answered its ping with the same payload, before our Close.
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0], Message::Pong(b"server ping".to_vec().into()));
    assert_eq!(close_of(&seen[1]), (1000, String::new()));
}

#[tokio::test]
async fn tungstenite_servers_close_reaches_our_client_exactly_as_sent() {
    let (addr, server) = tungstenite_server(|mut ws: Tung| async move {
        let first = ws.next().await.unwrap().unwrap();
        ws.send(first).await.unwrap();
        ws.close(Some(close_frame(4001, "tungstenite says bye ✓")))
            .await
            .unwrap();
        // Our answer to the Close, then the end.
        echo(ws).await
    })
    .await;
    let mut conn = our_client(addr, 1 << 20).await;
    conn.send(DataKind::Text, b"hello", None).await.unwrap();
    assert_eq!(
        message(recv(&mut conn).await),
        (DataKind::Text, b"hello".to_vec())
    );
    let (close, error) = within("the server's close", conn.closed()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(close.code, 4001);
    assert_eq!(close.reason, "tungstenite says bye ✓");
    assert!(close.was_clean && close.code_valid);
    assert_eq!(close.initiator, Initiator::Server);
    let seen = within("tungstenite's server", server).await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        close_of(&seen[0]),
        (4001, "tungstenite says bye ✓".to_string()),
        "we echo the code and the reason"
    );
}

#[tokio::test]
async fn an_oversized_message_from_tungstenite_is_refused_with_1009() {
    let cases: [(&str, Vec<Message>); 2] = [
        ("one frame", vec![Message::binary(vec![9u8; 4096])]),
        (
            "fragments",
            vec![
                tframe(Data::Binary, &[1; 600], false),
                tframe(Data::Continue, &[2; 600], true),
            ],
        ),
    ];
    for (what, frames) in cases {
        let (addr, server) = tungstenite_server(|mut ws: Tung| async move {
            ws.send(Message::binary(vec![0u8; 1024])).await.unwrap();
            for f in frames {
                ws.send(f).await.unwrap();
            }
            echo(ws).await
        })
        .await;
        let mut conn = our_client(addr, 1024).await;
        assert_eq!(
            message(recv(&mut conn).await),
            (DataKind::Binary, vec![0u8; 1024]),
            "{what}: exactly at the limit is fine"
        );
        let (close, error) = within("the end", conn.closed()).await;
        assert_eq!(close.code, 1009, "{what}: {close:?}");
        assert!(close.was_clean, "{what}: tungstenite answered: {close:?}");
        assert_eq!(close.initiator, Initiator::Client, "{what}");
        assert_eq!(
            error.map(|e| e.kind()),
            Some(ErrorKind::MessageTooLarge),
            "{what}"
        );
        let seen = within("tungstenite's server", server).await.unwrap();
        assert_eq!(seen.len(), 1, "{what}: {seen:?}");
        assert_eq!(close_of(&seen[0]).0, 1009, "{what}");
    }
}

#[tokio::test]
async fn invalid_utf8_from_tungstenite_server_is_failed_with_1007() {
    let (addr, server) = tungstenite_server(|mut ws: Tung| async move {
        ws.send(tframe(Data::Text, b"caf\xC3", false))
            .await
            .unwrap();
        ws.send(tframe(Data::Continue, b"(", true)).await.unwrap();
        echo(ws).await
    })
    .await;
    let mut conn = our_client(addr, 1 << 20).await;
    let (close, error) = within("the end", conn.closed()).await;
    assert_eq!(close.code, 1007, "{close:?}");
    assert!(!close.was_clean);
    assert_eq!(close.initiator, Initiator::Client);
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Protocol));
    let seen = within("tungstenite's server", server).await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(close_of(&seen[0]).0, 1007);
}
