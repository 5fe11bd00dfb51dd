//! A client WebSocket for many mostly idle connections (soak), on the codec the echo server
//! uses (`core::frame`, client role) instead of tokio-tungstenite.
//!
//! Why: at 10,000 connections, what each one holds is the budget. tungstenite's stream keeps a
//! read buffer, its own frame state and two waker allocations per connection; this keeps the
//! socket, the decoder (120 bytes, no buffer while idle) and two empty `Vec`s. Reads go
//! into a per-thread scratch buffer; only bytes of a second item that came in the same read
//! are kept, and output is kept only while the socket does not take it.
//!
//! `recv` is cancel-safe: a worker races it against its timers in `select!`. All state lives in
//! the connection, never in the future, and an item is handed out in the same poll that
//! decoded it, so dropping the future loses nothing. Pings are answered from inside `recv`
//! (written before it returns when the socket has room, else by the next poll or `send`); the
//! reply to a peer's Close is queued there and written by `finish_close`.

use crate::error::{Error, ErrorKind};
use crate::net::stream::MaybeTls;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::{self, CloseEvent, Initiator};
use crate::ws::proto::frame::{
    self, CloseCheck, Decoder, Item, OP_CLOSE, OP_PING, OP_PONG, Payload, Role, Violation,
};
use bytes::Bytes;
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How long we give a closing handshake (ours or the peer's) before dropping the socket.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);
/// Bytes read from a socket at a time, into the per-thread scratch buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Reads (or decoded items that are answered internally) in one poll before giving other
/// tasks a turn: a peer that floods pings must not starve the runtime.
const IO_BUDGET: usize = 16;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; READ_CHUNK]);
}

/// What `recv` hands out.
#[derive(Debug)]
pub enum Recv {
    Data {
        kind: DataKind,
        payload: Bytes,
    },
    Pong(Bytes),
    /// The connection is over: the peer's close code when it sent a Close frame, else the
    /// kind of failure. `close_event` has the whole story.
    Closed {
        kind: ErrorKind,
        close_code: Option<u16>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// We sent Close; the peer's Close completes the handshake.
    CloseSent,
    /// No more frames either way. Reported by every later `recv`.
    Ended {
        kind: ErrorKind,
        close_code: Option<u16>,
    },
}

pub struct LeanConn {
    io: MaybeTls,
    dec: Decoder,
    state: State,
    /// Bytes of a read that held more than one item, from `pending_pos` on; empty
    /// (unallocated) otherwise.
    pending: Vec<u8>,
    pending_pos: usize,
    /// Output the socket has not taken yet; empty (unallocated) most of the time.
    out: Vec<u8>,
    out_pos: usize,
    /// Written but not flushed (TLS holds records until flushed).
    need_flush: bool,
    /// How the connection ended, once it has; boxed because it is rare and has a `String`.
    close: Option<Box<CloseEvent>>,
}

impl LeanConn {
    /// `leftover`: bytes that came after the 101's head (`handshake::open_raw`).
    pub fn new(io: MaybeTls, leftover: Vec<u8>, max_message_size: usize) -> Self {
        LeanConn {
            io,
            dec: Decoder::client(max_message_size),
            state: State::Open,
            pending_pos: 0,
            pending: leftover,
            out: Vec::new(),
            out_pos: 0,
            need_flush: false,
            close: None,
        }
    }

    /// How the connection ended, once it has.
    pub fn close_event(&self) -> Option<&CloseEvent> {
        self.close.as_deref()
    }

    /// The next data message, pong or end. Cancel-safe (see the module comment).
    pub async fn recv(&mut self) -> Recv {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// One message, in frames of `fragment_size` payload bytes when given, written and
    /// flushed before this returns.
    pub async fn send(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        fragment_size: Option<usize>,
    ) -> Result<(), Error> {
        self.check_open()?;
        frame::write_message_as(Role::Client, &mut self.out, kind, payload, fragment_size);
        self.write_all().await
    }

    /// A Ping; `payload` must be at most 125 bytes.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.check_open()?;
        if payload.len() > frame::MAX_CONTROL_PAYLOAD {
            return Err(Error::usage("a ping payload holds at most 125 bytes"));
        }
        frame::write_control_as(Role::Client, &mut self.out, OP_PING, payload);
        self.write_all().await
    }

    /// After `recv` reported the end: send what is queued (the reply to the peer's Close, or
    /// ours after a protocol error) and let the server close the TCP connection first
    /// (RFC 6455 7.1.1), for at most `CLOSE_WAIT`.
    pub async fn finish_close(mut self) -> CloseEvent {
        let mut replied = false;
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            if poll_fn(|cx| self.poll_write_out(cx)).await.is_ok() {
                replied = true;
                poll_fn(|cx| self.poll_until_eof(cx)).await;
            }
        })
        .await;
        if !replied && let Some(c) = &mut self.close {
            // Our half of the handshake never left: it did not complete.
            c.was_clean = false;
        }
        self.take_close()
    }

    /// True once `recv` has reported the end (or would): `finish_close` is then worth calling.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended { .. })
    }

    /// Our closing handshake: send Close, read until the peer's Close (data is dropped
    /// unread), wait for the server to end the TCP connection; all within `CLOSE_WAIT`.
    pub async fn close(mut self, code: u16, reason: &str) -> CloseEvent {
        if self.state == State::Open {
            frame::write_close_as(Role::Client, &mut self.out, code, reason);
            self.state = State::CloseSent;
            self.dec.discard_data();
        }
        let res = tokio::time::timeout(CLOSE_WAIT, async {
            // In `CloseSent` `poll_recv` hands out nothing but the end.
            poll_fn(|cx| self.poll_recv(cx)).await;
            if poll_fn(|cx| self.poll_write_out(cx)).await.is_ok() {
                poll_fn(|cx| self.poll_until_eof(cx)).await;
            }
        })
        .await;
        if res.is_err() && self.state == State::CloseSent {
            self.end_abnormal(format!(
                "sent Close {code} {reason:?}; no Close frame came back within {}",
                humantime::format_duration(CLOSE_WAIT)
            ));
        }
        self.take_close()
    }

    fn take_close(&mut self) -> CloseEvent {
        self.close
            .take()
            .map(|c| *c)
            .unwrap_or_else(|| CloseEvent::abnormal("connection dropped"))
    }

    fn check_open(&self) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            State::CloseSent => Err(Error::new(
                ErrorKind::Abnormal,
                "cannot send: the closing handshake has begun",
            )),
            State::Ended { kind, .. } => Err(Error::new(
                kind,
                format!(
                    "cannot send: the connection is over ({})",
                    self.close_event().map_or("closed", |c| c.reason.as_str())
                ),
            )),
        }
    }

    /// Write and flush everything queued; a failure ends the connection.
    async fn write_all(&mut self) -> Result<(), Error> {
        match poll_fn(|cx| self.poll_write_out(cx)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let msg = format!("cannot send: {e}");
                self.end_abnormal(format!("connection error: {e}"));
                Err(Error::new(ErrorKind::Abnormal, msg))
            }
        }
    }

    /// Write `out` and flush. Ready once everything is out; the buffer is given back then, so
    /// that an idle connection holds none.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out[self.out_pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out_pos += n;
                    self.need_flush = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if !self.out.is_empty() {
            self.out = Vec::new();
            self.out_pos = 0;
        }
        if self.need_flush {
            std::task::ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.need_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Read and drop until the peer ends the stream (or it fails).
    fn poll_until_eof(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        self.pending = Vec::new();
        for _ in 0..IO_BUDGET {
            match std::task::ready!(self.poll_read_scratch(cx, |_, _| {})) {
                Ok(true) => {}
                Ok(false) | Err(_) => return Poll::Ready(()),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Read once into the thread's scratch buffer and hand the bytes to `f`; `Ok(false)` at
    /// the end of the stream.
    fn poll_read_scratch(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Self, &mut [u8]),
    ) -> Poll<io::Result<bool>> {
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let mut rb = ReadBuf::new(&mut scratch[..]);
            std::task::ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(false));
            }
            f(self, &mut scratch[..n]);
            Poll::Ready(Ok(true))
        })
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Recv> {
        for _ in 0..IO_BUDGET {
            if let State::Ended { kind, close_code } = self.state {
                return Poll::Ready(Recv::Closed { kind, close_code });
            }
            // Output first: a pong or a Close reply that the socket had no room for. When it
            // still has none, the waker is registered for writing and reading goes on.
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                self.end_abnormal(format!("connection error: {e}"));
                continue;
            }
            // Bytes left over from an earlier read (or the upgrade) come before new ones.
            if self.pending_pos < self.pending.len() {
                let mut input = std::mem::take(&mut self.pending);
                let mut pos = self.pending_pos;
                let got = self.decode(&mut input, &mut pos);
                if pos < input.len() {
                    self.pending = input;
                    self.pending_pos = pos;
                } else {
                    self.pending_pos = 0;
                }
                match got {
                    Some(r) => return Poll::Ready(self.hand_out(cx, r)),
                    None => continue,
                }
            }
            let mut got = None;
            match self.poll_read_scratch(cx, |this, input| {
                let mut pos = 0;
                got = this.decode(input, &mut pos);
                if pos < input.len() {
                    this.pending = input[pos..].to_vec();
                    this.pending_pos = 0;
                }
            }) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => {
                    let why = match self.state {
                        State::CloseSent => {
                            "the server dropped the connection instead of \
                                             answering our Close frame"
                        }
                        _ => "connection closed without a Close frame",
                    };
                    self.end_abnormal(why.to_string());
                }
                Poll::Ready(Err(e)) => self.end_abnormal(format!("connection error: {e}")),
            }
            if let Some(r) = got {
                return Poll::Ready(self.hand_out(cx, r));
            }
        }
        // Plenty to do: let other connections have a turn, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Before an item leaves: send what decoding it queued (a pong to a ping that came in the
    /// same read), so that a reply never waits for the caller's next `recv`. A failure is
    /// recorded and reported by that next `recv`.
    fn hand_out(&mut self, cx: &mut Context<'_>, r: Recv) -> Recv {
        if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
            self.end_abnormal(format!("connection error: {e}"));
        }
        r
    }

    /// Decode `input[*pos..]` until something is to be handed out; answers pings on the way.
    /// Each step consumes at least one frame header, so the loop ends with the input.
    fn decode(&mut self, input: &mut [u8], pos: &mut usize) -> Option<Recv> {
        while *pos < input.len() {
            if matches!(self.state, State::Ended { .. }) {
                // Nothing after the end counts; the caller reports it.
                *pos = input.len();
                return None;
            }
            let item = match self.dec.next(input, pos) {
                Ok(Some(item)) => item,
                Ok(None) => return None,
                Err(v) => {
                    self.fail(v);
                    return None;
                }
            };
            let open = self.state == State::Open;
            match item {
                Item::Message { kind, payload } if open => {
                    return Some(Recv::Data {
                        kind,
                        payload: owned(payload),
                    });
                }
                Item::Message { .. } => {}
                Item::Ping(p) if open => {
                    frame::write_control_as(Role::Client, &mut self.out, OP_PONG, &p);
                }
                Item::Ping(_) => {}
                Item::Pong(p) if open => return Some(Recv::Pong(owned(p))),
                Item::Pong(_) => {}
                Item::Close(p) => self.on_close_frame(&p),
            }
        }
        None
    }

    /// The peer's Close: answer it (when it started the handshake) and end.
    fn on_close_frame(&mut self, payload: &[u8]) {
        let (code, reason, code_valid) = close::parse_close_payload(payload);
        let ours_first = self.state == State::CloseSent;
        let initiator = if ours_first {
            Initiator::Client
        } else {
            Initiator::Server
        };
        if let CloseCheck::Invalid(v) = frame::check_close(payload) {
            // Report what the peer sent, honestly, and fail with the code RFC 6455 asks for.
            self.fail(v);
            self.state = State::Ended {
                kind: ErrorKind::Protocol,
                close_code: Some(code),
            };
            self.close = Some(Box::new(CloseEvent {
                code,
                reason,
                was_clean: false,
                initiator,
                code_valid,
            }));
            return;
        }
        if !ours_first {
            // The closing handshake: echo the peer's code and reason (they passed the checks).
            frame::write_control_as(Role::Client, &mut self.out, OP_CLOSE, payload);
        }
        self.state = State::Ended {
            kind: ErrorKind::CloseCode,
            close_code: Some(code),
        };
        // Clean as far as we know: `finish_close` takes it back if our reply cannot be sent.
        self.close = Some(Box::new(CloseEvent {
            code,
            reason,
            was_clean: true,
            initiator,
            code_valid,
        }));
    }

    /// The peer broke RFC 6455: send the Close the violation calls for (unless ours is already
    /// out) and end without waiting for an answer (7.1.7).
    fn fail(&mut self, v: Violation) {
        let initiator = match self.state {
            State::Open => {
                frame::write_close_as(Role::Client, &mut self.out, v.code, v.reason);
                Initiator::Client
            }
            State::CloseSent => Initiator::Client,
            State::Ended { .. } => return,
        };
        self.state = State::Ended {
            kind: if v == frame::TOO_BIG {
                ErrorKind::MessageTooLarge
            } else {
                ErrorKind::Protocol
            },
            close_code: None,
        };
        self.close = Some(Box::new(CloseEvent {
            code: v.code,
            reason: v.reason.to_string(),
            was_clean: false,
            initiator,
            code_valid: true,
        }));
    }

    /// The connection is gone without a (complete) closing handshake.
    fn end_abnormal(&mut self, why: String) {
        if matches!(self.state, State::Ended { .. }) {
            return;
        }
        let mut close = CloseEvent::abnormal(why);
        if self.state == State::CloseSent {
            close.initiator = Initiator::Client;
        }
        self.state = State::Ended {
            kind: ErrorKind::Abnormal,
            close_code: None,
        };
        self.close = Some(Box::new(close));
    }
}

fn owned(p: Payload<'_>) -> Bytes {
    match p {
        Payload::Borrowed(b) => Bytes::copy_from_slice(b),
        Payload::Owned(v) => Bytes::from(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// A connected client and the raw server socket under it.
    async fn pair(leftover: Vec<u8>) -> (LeanConn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let conn = LeanConn::new(MaybeTls::Plain(client.unwrap()), leftover, 1 << 20);
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

    fn data(r: Recv) -> (DataKind, Vec<u8>) {
        match r {
            Recv::Data { kind, payload } => (kind, payload.to_vec()),
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
        assert_eq!(data(conn.recv().await), (DataKind::Text, b"hi".to_vec()));
        assert!(matches!(conn.recv().await, Recv::Pong(p) if &p[..] == b"hb"));
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
                r = conn.recv() => got.push(String::from_utf8(data(r).1).unwrap()),
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
        match conn.recv().await {
            Recv::Closed { kind, close_code } => {
                assert_eq!((kind, close_code), (ErrorKind::CloseCode, Some(4001)))
            }
            other => panic!("{other:?}"),
        }
        // Cancel-safe at the end as well: asking again gives the same answer.
        assert!(matches!(conn.recv().await, Recv::Closed { .. }));
        let server = tokio::spawn(async move {
            let seen = server_reads(&mut s, 1).await;
            drop(s); // The server ends the TCP connection first.
            seen
        });
        let close = conn.finish_close().await;
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
            }
        );
    }

    #[tokio::test]
    async fn our_close_completes_when_the_server_answers() {
        let (conn, mut s) = pair(Vec::new()).await;
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
        let close = conn.close(1000, "done").await;
        assert_eq!(
            server.await.unwrap(),
            vec![Seen::Close(vec![0x03, 0xE8, b'd', b'o', b'n', b'e'])]
        );
        assert_eq!((close.code, close.was_clean), (1000, true));
        assert_eq!(close.initiator, Initiator::Client);
    }

    #[tokio::test]
    async fn a_server_breaking_the_protocol_gets_the_close_rfc_6455_asks_for() {
        // A masked frame from a server: 1002, no close code of the peer's.
        let (mut conn, mut s) = pair(Vec::new()).await;
        s.write_all(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
            .await
            .unwrap();
        match conn.recv().await {
            Recv::Closed { kind, close_code } => {
                assert_eq!((kind, close_code), (ErrorKind::Protocol, None))
            }
            other => panic!("{other:?}"),
        }
        assert!(conn.send(DataKind::Text, b"x", None).await.is_err());
        let server = tokio::spawn(async move { server_reads(&mut s, 1).await });
        let close = conn.finish_close().await;
        let seen = server.await.unwrap();
        assert!(
            matches!(&seen[..], [Seen::Close(p)] if p[..2] == [0x03, 0xEA]),
            "{seen:?}"
        );
        assert_eq!((close.code, close.was_clean), (1002, false));
        assert_eq!(close.initiator, Initiator::Client);

        // A code that may not appear on the wire: reported as sent, answered with 1002.
        let (mut conn, mut s) = pair(Vec::new()).await;
        s.write_all(&server_frame(true, OP_CLOSE, &[0x03, 0xED]))
            .await
            .unwrap();
        match conn.recv().await {
            Recv::Closed { kind, close_code } => {
                assert_eq!((kind, close_code), (ErrorKind::Protocol, Some(1005)))
            }
            other => panic!("{other:?}"),
        }
        let server = tokio::spawn(async move { server_reads(&mut s, 1).await });
        let close = conn.finish_close().await;
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
        match conn.recv().await {
            Recv::Closed { kind, close_code } => {
                assert_eq!((kind, close_code), (ErrorKind::Abnormal, None))
            }
            other => panic!("{other:?}"),
        }
        let close = conn.finish_close().await;
        assert_eq!((close.code, close.was_clean), (1006, false));
    }
}
