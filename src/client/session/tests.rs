//! The session without a network: connections are in-memory streams handed out by a fake
//! opener, the peer is a task that reads our frames, and time is tokio's paused clock, so
//! backoffs and heartbeat timeouts take no real time and their lengths can be asserted.

use super::*;
use crate::client::heartbeat::HeartbeatMode;
use crate::net::target::Target;
use crate::ws::open::Timings;
use crate::ws::proto::frame::{Decoder, Item, Role};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, DuplexStream};
use tokio::sync::mpsc;

/// What the fake peer read from us, per connection: data messages as text.
type Seen = mpsc::UnboundedReceiver<String>;

/// A connected pair: our side as a `Connection`, the peer side as a task that reports every
/// data message it reads, until it is told to hang up (dropping `hang_up`) or we close.
fn pair() -> (
    Connection<DuplexStream>,
    Seen,
    tokio::sync::oneshot::Sender<()>,
) {
    let (ours, mut theirs) = tokio::io::duplex(64 * 1024);
    let (tx, rx) = mpsc::unbounded_channel();
    let (hang_up, mut told) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut dec = Decoder::with_role(Role::Server, 1 << 20);
        let mut buf = vec![0; 4096];
        loop {
            let n = tokio::select! {
                r = theirs.read(&mut buf) => match r { Ok(n) if n > 0 => n, _ => return },
                _ = &mut told => return, // dropping `theirs` is the lost connection
            };
            let mut pos = 0;
            while let Ok(Some(item)) = dec.next(&mut buf[..n], &mut pos) {
                if let Item::Message { payload, .. } = item {
                    let _ = tx.send(String::from_utf8_lossy(&payload).into_owned());
                }
            }
        }
    });
    (
        Connection::new(ours, Role::Client, Vec::new(), 1 << 20),
        rx,
        hang_up,
    )
}

fn handshake() -> Handshake {
    Handshake {
        url: "ws://fake.test/".into(),
        peer: "127.0.0.1:9".parse().unwrap(),
        proxy: None,
        redirects: Vec::new(),
        status: 101,
        reason: "Switching Protocols".into(),
        headers: Vec::new(),
        subprotocol: None,
        extensions: Vec::new(),
        deflate: None,
        offered_extensions: None,
        timings: Timings::default(),
    }
}

/// Hands out the connections it is given, in order; fails once they are used up. Keeps the
/// peers' ends so that a test can read what each connection carried.
#[derive(Default, Clone)]
struct FakeOpener {
    queue: Arc<Mutex<Vec<Connection<DuplexStream>>>>,
    opened: Arc<Mutex<u32>>,
}

impl Opener<DuplexStream> for FakeOpener {
    fn open(&self) -> Opening<DuplexStream> {
        *self.opened.lock().unwrap() += 1;
        let next = self.queue.lock().unwrap().pop();
        Box::pin(async move {
            next.map(|c| (c, handshake()))
                .ok_or_else(|| Error::new(ErrorKind::Refused, "connection refused (fake)"))
        })
    }
}

#[derive(Default)]
struct Events(Vec<Event>);

impl EventSink for Events {
    fn emit(&mut self, event: Event) {
        self.0.push(event);
    }
}

impl Events {
    fn names(&self) -> Vec<&'static str> {
        self.0
            .iter()
            .filter_map(|e| match e {
                Event::Opened(_) => Some("opened"),
                Event::Closed(_) => Some("closed"),
                Event::Reconnecting { .. } => Some("reconnecting"),
                Event::ReconnectFailed { .. } => Some("reconnect_failed"),
                Event::Reconnected { .. } => Some("reconnected"),
                Event::Buffered { .. } => Some("buffered"),
                Event::BufferDrop { .. } => Some("buffer_drop"),
                Event::HeartbeatTimeout { .. } => Some("heartbeat_timeout"),
                _ => None,
            })
            .collect()
    }
}

fn config(reconnect: Option<ReconnectPolicy>) -> SessionConfig {
    SessionConfig {
        conn: ConnectOptions {
            target: "ws://fake.test/".parse::<Target>().unwrap(),
            headers: Vec::new(),
            origin: None,
            subprotocols: Vec::new(),
            auth: None,
            connect_timeout: Duration::from_secs(5),
            tls: None,
            max_message_size: 1 << 20,
            source: None,
            reach: Default::default(),
            follow: None,
            compress: Vec::new(),
        },
        preamble: vec![(DataKind::Text, Bytes::from_static(b"auth"))],
        send_file: None,
        uncompressed_preamble: Vec::new(),
        fragment_size: None,
        heartbeat: None,
        reconnect,
        buffer: 8,
        overflow: Overflow::DropOldest,
        hold_replay: false,
        resend_unconfirmed: false,
        expect_drop: false,
    }
}

fn text(s: &'static str) -> Outgoing {
    Outgoing {
        kind: DataKind::Text,
        payload: Bytes::from_static(s.as_bytes()),
        fragment_size: None,
        uncompressed: false,
    }
}

/// Drive the session until it reports something other than `Nothing`.
async fn step(s: &mut Session<DuplexStream>, out: &mut Events) -> Step {
    loop {
        let wake = s.wait().await;
        match s.handle(out, wake).await {
            Step::Nothing => continue,
            other => return other,
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_is_reopened_after_the_backoff_and_the_buffer_replayed_in_order() {
    let backoff = Backoff {
        min: Duration::from_secs(2),
        max: Duration::from_secs(2),
    };
    let policy = ReconnectPolicy {
        backoff,
        max_attempts: 3,
    };
    let opener = FakeOpener::default();
    let (second, mut seen2, _keep2) = pair();
    opener.queue.lock().unwrap().push(second);
    let (first, mut seen1, hang_up) = pair();
    let mut out = Events::default();
    let mut s = Session::new(
        config(Some(policy)),
        Box::new(opener.clone()),
        first,
        &handshake(),
    );
    s.send_preamble(&mut out).await.unwrap();
    s.send(&mut out, text("one")).await.unwrap();
    assert_eq!(seen1.recv().await.as_deref(), Some("auth"));
    assert_eq!(seen1.recv().await.as_deref(), Some("one"));

    drop(hang_up);
    // The loss is seen; while the backoff runs, what is sent is buffered.
    while s.is_up() {
        let wake = s.wait().await;
        s.handle(&mut out, wake).await;
    }
    let lost_at = tokio::time::Instant::now();
    s.send(&mut out, text("two")).await.unwrap();
    s.send(&mut out, text("three")).await.unwrap();
    assert_eq!(s.buffered(), 2);

    assert!(matches!(step(&mut s, &mut out).await, Step::Reconnected));
    // Full jitter: between half and all of the 2 s step, and no real time passed.
    let waited = lost_at.elapsed();
    assert!(
        waited >= Duration::from_secs(1) && waited <= Duration::from_secs(2),
        "{waited:?}"
    );
    assert_eq!(*opener.opened.lock().unwrap(), 1, "exactly one reconnect");
    // The preamble first, then what was typed while down, in order.
    for want in ["auth", "two", "three"] {
        assert_eq!(seen2.recv().await.as_deref(), Some(want));
    }
    assert_eq!(s.buffered(), 0);
    assert_eq!(
        out.names(),
        vec![
            "closed",
            "reconnecting",
            "buffered",
            "buffered",
            "opened",
            "reconnected"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_session_gives_up_after_the_last_attempt_and_reports_what_it_never_sent() {
    let policy = ReconnectPolicy {
        backoff: Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_millis(100),
        },
        max_attempts: 2,
    };
    let opener = FakeOpener::default(); // every attempt fails
    let (first, _seen, hang_up) = pair();
    let mut out = Events::default();
    let mut s = Session::new(
        config(Some(policy)),
        Box::new(opener.clone()),
        first,
        &handshake(),
    );
    drop(hang_up);
    while s.is_up() {
        let wake = s.wait().await;
        s.handle(&mut out, wake).await;
    }
    s.send(&mut out, text("never")).await.unwrap();
    match step(&mut s, &mut out).await {
        Step::Ended { close, error } => {
            assert_eq!(close.code, 1006);
            let e = error.expect("giving up is an error");
            assert!(e.message().contains("after 2 failed attempt(s)"), "{e}");
        }
        _ => panic!("expected the end"),
    }
    assert_eq!(*opener.opened.lock().unwrap(), 2);
    let names = out.names();
    assert_eq!(
        names.iter().filter(|n| **n == "reconnect_failed").count(),
        2,
        "{names:?}"
    );
    assert_eq!(names.last(), Some(&"buffer_drop"), "{names:?}");
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_declared_dead_after_interval_plus_timeout() {
    let mut cfg = config(None);
    cfg.heartbeat = Some(HeartbeatConfig {
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(3),
        mode: HeartbeatMode::Ping,
    });
    let (first, _seen, _keep) = pair(); // the peer reads, but never answers a ping
    let mut out = Events::default();
    let started = tokio::time::Instant::now();
    let mut s = Session::new(cfg, Box::new(FakeOpener::default()), first, &handshake());
    match step(&mut s, &mut out).await {
        Step::Ended { close, error } => {
            assert_eq!((close.code, close.was_clean), (1006, false));
            assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::HeartbeatTimeout));
        }
        _ => panic!("expected the end"),
    }
    // The timer wheel rounds up to its 1 ms tick.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(13) && took <= Duration::from_millis(13_005),
        "{took:?}"
    );
    assert!(out.names().contains(&"heartbeat_timeout"));
}
