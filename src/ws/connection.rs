//! `Connection<S>`: the one async WebSocket connection type, over the protocol endpoint
//! (`proto::endpoint`), for both roles, TLS or not. `connect` (scripted and interactive),
//! `ping` and soak's workers drive it with `recv`/`send`; the echo server drives the same
//! type through `poll_process`, which decodes a whole read at once and writes the replies
//! straight from a scratch buffer (and reads the rest of a big frame straight into its
//! message).
//!
//! Written for many mostly idle connections: at 10,000 connections, what each one holds is the
//! budget. A connection keeps the socket, the endpoint (its decoder holds no buffer while
//! idle) and two empty `Vec`s; reads go into a per-thread scratch buffer, and only the bytes
//! of a second item that came in the same read are kept. Output is kept only while the socket
//! does not take it.
//!
//! `recv` is cancel-safe: callers race it against timers and input in `select!`. All state
//! lives in the connection, never in the future, and an item is handed out in the same poll
//! that decoded it, so dropping the future loses nothing. Pings are answered from inside
//! `recv`, which reports the end (`Incoming::Closed`) as soon as it is known; `finish` then
//! closes the TCP connection, the whole closing phase bounded by one `CLOSE_TIMEOUT`.

use crate::error::{Error, ErrorKind};
use crate::net::stream::SendQueue;
use crate::ws::proto::close::CloseEvent;
use crate::ws::proto::endpoint::{CLOSE_TIMEOUT, Endpoint, Event, Sent, State};
use crate::ws::proto::frame::{Payload, Role};
use crate::ws::proto::{DataKind, Wire};
use bytes::Bytes;
use std::cell::RefCell;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// Bytes read from a socket at a time, into the per-thread scratch buffer. Big enough that
/// pipelined big messages mostly lie whole in one read and are echoed from it without a copy
/// (only the one cut by the read's end is assembled); a read returns only what the socket had.
const READ_CHUNK: usize = 256 * 1024;
/// A frame with at least this much payload still to come is read straight into its message
/// (`poll_read_direct`); below it, one read through the scratch buffer costs less than an extra
/// read at the frame's end.
const DIRECT_MIN: usize = 16 * 1024;
/// Bytes read straight into a message at a time: the most a read returns is what the
/// socket holds, and a stream that initializes the room before it reads (none of ours
/// does) does so for no more than this.
const DIRECT_MAX: usize = 256 * 1024;
/// A scratch output buffer that grew past this (a huge echo) is given back afterwards.
const SCRATCH_KEEP: usize = 256 * 1024;
/// Reads (or items answered internally) in one poll before giving other tasks a turn: a peer
/// that floods pings must not starve the runtime.
const IO_BUDGET: usize = 16;
/// Output the socket has not taken beyond which `recv` stops reading: a peer that sends pings
/// and never reads our pongs would otherwise grow the queue without limit (RFC 6455 5.5.3
/// lets us answer only some pings; not reading pushes the flood back into its own socket).
/// One read's pongs can still be added past it, so the queue stays under this plus a few
/// times `READ_CHUNK`.
pub const MAX_QUEUED: usize = 256 * 1024;

struct Scratch {
    input: Vec<u8>,
    output: Vec<u8>,
    /// Payloads `poll_process` echoes from `input` (their capacity is reused).
    spans: Vec<Span>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        input: vec![0; READ_CHUNK],
        output: Vec::new(),
        spans: Vec::new(),
    });
}

/// What `recv` hands out.
#[derive(Debug)]
pub enum Incoming {
    Message {
        kind: DataKind,
        payload: Bytes,
        /// Compressed or not, and its size on the wire.
        wire: Wire,
    },
    /// Already answered (unless the ping policy says otherwise).
    Ping(Bytes),
    Pong(Bytes),
    /// The connection is over: the close as a browser reports it, and what went wrong when it
    /// did not end with a clean closing handshake. Every later `recv` says the same.
    Closed {
        close: CloseEvent,
        error: Option<Error>,
    },
}

pub struct Connection<S> {
    io: S,
    ep: Endpoint,
    /// Bytes of a read that held more than one item, from `pending_pos` on; empty
    /// (unallocated) otherwise.
    pending: Vec<u8>,
    /// Within one read (`READ_CHUNK`) or the upgrade's leftover: u32 keeps the connection
    /// within soak's budget.
    pending_pos: u32,
    /// Output the socket has not taken yet; empty (unallocated) most of the time.
    out: Vec<u8>,
    out_pos: usize,
    /// `out` begins inside a frame whose start the socket took already.
    out_mid_frame: bool,
    /// Bytes handed to the stream so far: the offset at which what is queued starts. With the
    /// kernel's unacknowledged count it tells which messages may not have arrived.
    written: u64,
    /// Written but not flushed (TLS holds records until flushed).
    need_flush: bool,
    /// A server has shut its side down (it closes the TCP connection first).
    shut: bool,
    /// Bounds the closing phase; allocated only once it begins.
    deadline: Option<Pin<Box<Sleep>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// `leftover`: bytes that came after the upgrade's head (the first frames).
    pub fn new(io: S, role: Role, leftover: Vec<u8>, max_message_size: usize) -> Self {
        Connection {
            io,
            ep: Endpoint::new(role, max_message_size),
            pending: leftover,
            pending_pos: 0,
            out: Vec::new(),
            out_pos: 0,
            out_mid_frame: false,
            written: 0,
            need_flush: false,
            shut: false,
            deadline: None,
        }
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    /// True once either side has started the closing handshake: no more data may be sent.
    pub fn is_closing(&self) -> bool {
        !self.ep.is_open()
    }

    /// Bytes queued for the socket that it has not taken yet.
    pub fn queued(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Give up on what is queued (a client that reads nothing holds too much of the server's
    /// memory). True when no frame was cut: the stream is whole and a Close may follow;
    /// false when the socket took part of a frame, so that only dropping the connection is
    /// left.
    pub fn drop_unsent(&mut self) -> bool {
        let whole = self.out_pos == 0 && !self.out_mid_frame;
        self.out = Vec::new();
        self.out_pos = 0;
        self.out_mid_frame = false;
        whole
    }

    /// Write frames into the output queue (sent by the next poll).
    pub fn queue<R>(&mut self, f: impl FnOnce(&mut Endpoint, &mut Vec<u8>) -> R) -> R {
        f(&mut self.ep, &mut self.out)
    }

    /// The next message, ping, pong or the end, reported as soon as it is known; `finish`
    /// then closes the TCP connection. Cancel-safe (see the module comment).
    pub async fn recv(&mut self) -> Incoming {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Read until the end, dropping whatever still comes, finish, and report it.
    pub async fn closed(&mut self) -> (CloseEvent, Option<Error>) {
        loop {
            if let Incoming::Closed { close, error } = self.recv().await {
                self.finish().await;
                return (close, error);
            }
        }
    }

    /// After `recv` reported the end: send what is still queued and close the TCP connection
    /// (see `poll_finish`), within `CLOSE_TIMEOUT`. Call it outside any `select!` that could
    /// cancel it, or again after a cancellation: it resumes.
    pub async fn finish(&mut self) {
        poll_fn(|cx| self.poll_finish(cx)).await
    }

    /// One message, in frames of `fragment_size` payload bytes when given, written and
    /// flushed before this returns. Returns the number of frames.
    pub async fn send(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        fragment_size: Option<usize>,
    ) -> Result<usize, Error> {
        let frames = self
            .ep
            .send_message(&mut self.out, kind, payload, fragment_size)?;
        self.write_all().await?;
        Ok(frames)
    }

    /// `send`, compressed when permessage-deflate was negotiated and `compress`; says how it
    /// went out.
    pub async fn send_as(
        &mut self,
        kind: DataKind,
        payload: &[u8],
        fragment_size: Option<usize>,
        compress: bool,
    ) -> Result<Sent, Error> {
        let sent =
            self.ep
                .send_message_as(&mut self.out, kind, payload, fragment_size, compress)?;
        self.write_all().await?;
        Ok(sent)
    }

    /// `send` of one uncompressed, unfragmented message of `len` bytes that `build` writes
    /// straight into the output buffer (no payload buffer of the caller's, no copy).
    pub async fn send_built(
        &mut self,
        kind: DataKind,
        len: usize,
        build: impl FnOnce(&mut [u8]),
    ) -> Result<Sent, Error> {
        let sent = self
            .ep
            .send_message_built(&mut self.out, kind, len, build)?;
        self.write_all().await?;
        Ok(sent)
    }

    /// A Ping; `payload` must be at most 125 bytes.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.ep.send_ping(&mut self.out, payload)?;
        self.write_all().await
    }

    /// Start the closing handshake. `recv` goes on until it reports `Closed`.
    pub async fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        self.ep.close(&mut self.out, code, reason);
        self.write_all().await
    }

    /// Our closing handshake from start to end, within `CLOSE_TIMEOUT`.
    pub async fn close_and_wait(&mut self, code: u16, reason: &str) -> (CloseEvent, Option<Error>) {
        let _ = self.close(code, reason).await;
        self.closed().await
    }

    /// Write and flush everything queued (by `queue`); a failure ends the connection.
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.write_all().await
    }

    /// Write and flush everything queued; a failure ends the connection.
    async fn write_all(&mut self) -> Result<(), Error> {
        match poll_fn(|cx| self.poll_write_out(cx)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.ep.on_io_error(&e);
                Err(Error::new(
                    ErrorKind::Abnormal,
                    format!("connection lost while sending: {e}"),
                ))
            }
        }
    }

    /// Write the queue and flush. Ready once everything is out; the buffer is given back
    /// then, so that an idle connection holds none.
    pub fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.out[self.out_pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.out_pos += n;
                    self.written += n as u64;
                    self.need_flush = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if !self.out.is_empty() {
            self.out = Vec::new();
            self.out_pos = 0;
            self.out_mid_frame = false;
        }
        if self.need_flush {
            ready!(Pin::new(&mut self.io).poll_flush(cx))?;
            self.need_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    /// Read once into the thread's scratch buffer and hand the bytes and the scratch output
    /// buffer to `f`; `Ok(false)` at the end of the stream.
    fn poll_read_scratch(
        &mut self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Self, &mut Context<'_>, &mut [u8], &mut Vec<u8>, &mut Vec<Span>),
    ) -> Poll<io::Result<bool>> {
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Scratch {
                input,
                output,
                spans,
            } = &mut *scratch;
            let mut rb = ReadBuf::new(&mut input[..]);
            ready!(Pin::new(&mut self.io).poll_read(cx, &mut rb))?;
            let n = rb.filled().len();
            if n == 0 {
                return Poll::Ready(Ok(false));
            }
            f(self, cx, &mut input[..n], output, spans);
            Poll::Ready(Ok(true))
        })
    }

    /// The closing phase, once the endpoint has left `Open`: bounded by `CLOSE_TIMEOUT`.
    /// Ready when the time is up (the endpoint has been told).
    pub fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let timer = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(CLOSE_TIMEOUT)));
        ready!(timer.as_mut().poll(cx));
        self.ep.on_timeout();
        Poll::Ready(())
    }

    /// After the last frame: send what is queued, then close the TCP connection. The server
    /// closes first (RFC 6455 7.1.1) and waits for the client's FIN, so that nothing the
    /// client still sends turns the close into a reset; a client waits for the server's.
    /// Ready once the endpoint is `Closed`.
    pub fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        for _ in 0..IO_BUDGET {
            if self.ep.state() == State::Closed {
                return Poll::Ready(());
            }
            if self.ep.state() != State::Open && self.poll_deadline(cx).is_ready() {
                continue;
            }
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => {
                    self.ep.reply_not_sent();
                    self.ep.on_io_error(&e);
                    continue;
                }
                Poll::Pending => return Poll::Pending,
            }
            if !self.ep.lingers() {
                self.ep.on_eof();
                continue;
            }
            if self.ep.role() == Role::Server && !self.shut {
                let _ = ready!(Pin::new(&mut self.io).poll_shutdown(cx));
                self.shut = true;
            }
            self.pending = Vec::new();
            self.pending_pos = 0;
            match ready!(self.poll_read_scratch(cx, |_, _, _, _, _| {})) {
                Ok(true) => {}
                Ok(false) => self.ep.on_eof(),
                Err(e) => self.ep.on_io_error(&e),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Incoming> {
        for _ in 0..IO_BUDGET {
            if self.ep.is_finishing() {
                // The reply to the peer's Close (or ours after a violation) leaves now if the
                // socket has room; `finish` sends the rest and closes the TCP connection.
                if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                    self.ep.reply_not_sent();
                    self.ep.on_io_error(&e);
                }
                let ending = self.ep.ending_or_dropped();
                return Poll::Ready(Incoming::Closed {
                    close: ending.close,
                    error: ending.error,
                });
            }
            if self.ep.state() == State::CloseSent && self.poll_deadline(cx).is_ready() {
                continue;
            }
            // Output first: a pong or a Close that the socket had no room for. When it still
            // has none, the waker is registered for writing and reading goes on, up to a point.
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                self.ep.on_io_error(&e);
                continue;
            }
            if self.queued() >= MAX_QUEUED {
                // The peer does not read what we owe it: stop reading until it does (the
                // write above registered the waker).
                return Poll::Pending;
            }
            // Bytes left over from an earlier read (or the upgrade) come before new ones.
            if (self.pending_pos as usize) < self.pending.len() {
                let mut input = std::mem::take(&mut self.pending);
                let mut pos = self.pending_pos as usize;
                let got = self.decode_one(&mut input, &mut pos);
                if pos < input.len() {
                    self.pending = input;
                    self.pending_pos = u32::try_from(pos).expect("pending bytes fit in u32");
                } else {
                    self.pending_pos = 0;
                }
                match got {
                    Some(item) => return Poll::Ready(self.hand_out(cx, item)),
                    None => continue,
                }
            }
            let mut got = None;
            match self.poll_read_scratch(cx, |this, _, input, _, _| {
                let mut pos = 0;
                got = this.decode_one(input, &mut pos);
                if pos < input.len() && !this.ep.is_finishing() {
                    this.pending = input[pos..].to_vec();
                    this.pending_pos = 0;
                }
            }) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) => self.ep.on_eof(),
                Poll::Ready(Err(e)) => self.ep.on_io_error(&e),
            }
            if let Some(item) = got {
                return Poll::Ready(self.hand_out(cx, item));
            }
        }
        // Plenty to do: let other connections have a turn, and come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Before an item leaves: send what decoding it queued (a pong to a ping that came in the
    /// same read), so that a reply never waits for the caller's next `recv`. A failure is
    /// recorded and reported by that next `recv`.
    fn hand_out(&mut self, cx: &mut Context<'_>, item: Incoming) -> Incoming {
        if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
            self.ep.on_io_error(&e);
        }
        item
    }

    /// Decode `input[*pos..]` until there is one item to hand out.
    fn decode_one(&mut self, input: &mut [u8], pos: &mut usize) -> Option<Incoming> {
        let event = self.ep.feed(input, pos, &mut self.out)?;
        Some(match event {
            Event::Message {
                kind,
                payload,
                wire,
            } => Incoming::Message {
                kind,
                payload: owned(payload),
                wire,
            },
            Event::Ping(p) => Incoming::Ping(owned(p)),
            Event::Pong(p) => Incoming::Pong(owned(p)),
        })
    }

    /// One read, every item in it handed to `f` with the replies it makes: into the scratch
    /// output when nothing is queued, big payloads echoed from the read buffer itself where
    /// the stream writes vectors (`replies`), written to the socket before this returns; only
    /// what the socket did not take is kept. `Ok(false)` at the end of the stream. The
    /// server's path: no per-item copy, no per-connection buffer.
    pub fn poll_process(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&mut Endpoint, Event<'_>, &mut Replies),
    ) -> Poll<io::Result<bool>> {
        if (self.pending_pos as usize) < self.pending.len() {
            let mut input = std::mem::take(&mut self.pending);
            let mut out = Replies::copied(std::mem::take(&mut self.out));
            let from = self.pending_pos as usize;
            feed_all(&mut self.ep, &mut input[from..], &mut out, &mut f);
            self.out = out.into_parts().buf;
            self.pending_pos = 0;
            return Poll::Ready(Ok(true));
        }
        if let Some(done) = self.poll_read_direct(cx, &mut f) {
            return done;
        }
        self.poll_read_scratch(cx, |this, cx, input, output, spans| {
            this.reply(cx, input, output, spans, |ep, input, out| {
                feed_all(ep, input, out, &mut f)
            });
        })
    }

    /// `poll_process` while a big frame is arriving: its rest is read straight into the
    /// message at its place (`Endpoint::direct_room`), never more than the frame holds, and
    /// unmasked there: no read buffer, no assembling copy. `None` when no such frame is in
    /// progress.
    fn poll_read_direct(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut impl FnMut(&mut Endpoint, Event<'_>, &mut Replies),
    ) -> Option<Poll<io::Result<bool>>> {
        let (msg, room) = self.ep.direct_room(DIRECT_MIN)?;
        let from = msg.len();
        let spare = &mut msg.spare_capacity_mut()[..room.min(DIRECT_MAX)];
        let start = spare.as_ptr();
        let mut rb = ReadBuf::uninit(spare);
        match Pin::new(&mut self.io).poll_read(cx, &mut rb) {
            Poll::Pending => return Some(Poll::Pending),
            Poll::Ready(Err(e)) => return Some(Poll::Ready(Err(e))),
            Poll::Ready(Ok(())) => {}
        }
        let n = rb.filled().len();
        // A stream may not swap in a buffer of its own (tokio's `read_buf` checks the same).
        assert!(
            std::ptr::eq(rb.filled().as_ptr(), start.cast()),
            "the stream replaced the read buffer"
        );
        if n == 0 {
            return Some(Poll::Ready(Ok(false)));
        }
        // SAFETY: `ReadBuf` guarantees that its filled part is initialized; it is the first
        // `n` bytes of `msg`'s spare capacity (the same address, checked just above, and at
        // most `room` bytes long), so `msg`'s first `from + n` bytes are initialized.
        unsafe { msg.set_len(from + n) };
        SCRATCH.with(|cell| {
            let mut scratch = cell.borrow_mut();
            let Scratch { output, spans, .. } = &mut *scratch;
            self.reply(cx, &mut [], output, spans, |ep, _, out| {
                if let Some(event) = ep.direct_filled(from, out) {
                    f(ep, event, out);
                }
            });
        });
        Some(Poll::Ready(Ok(true)))
    }

    /// What one read makes the endpoint say (`feed`), written to the socket: into the scratch
    /// output when nothing is queued, big payloads named where they lie; only what the
    /// socket does not take is kept.
    fn reply(
        &mut self,
        cx: &mut Context<'_>,
        input: &mut [u8],
        output: &mut Vec<u8>,
        spans: &mut Vec<Span>,
        feed: impl FnOnce(&mut Endpoint, &mut [u8], &mut Replies),
    ) {
        if !self.out.is_empty() {
            // Earlier output is still queued: new output goes behind it.
            let mut out = Replies::copied(std::mem::take(&mut self.out));
            feed(&mut self.ep, input, &mut out);
            self.out = out.into_parts().buf;
            return;
        }
        output.clear();
        let buf = std::mem::take(output);
        let mut out = if self.io.is_write_vectored() {
            Replies::over(buf, std::mem::take(spans), input)
        } else {
            Replies::copied(buf)
        };
        feed(&mut self.ep, input, &mut out);
        let mut parts = out.into_parts();
        if parts.spans.is_empty() {
            self.write_scratch(cx, &mut parts.buf);
        } else {
            self.write_replies(cx, &parts, input);
            parts.buf.clear();
            parts.spans.clear();
        }
        *output = parts.buf;
        *spans = parts.spans;
        if output.capacity() > SCRATCH_KEEP {
            *output = Vec::new();
        }
    }

    /// Write one read's replies, payloads named where they lie. What the socket did not
    /// take is copied into the queue (a failure is reported by the next write).
    fn write_replies(&mut self, cx: &mut Context<'_>, parts: &Parts, input: &[u8]) {
        let total = parts.total(input);
        let mut iov = replies::empty_iov();
        let mut at = 0;
        while at < total {
            let n = parts.gather(input, at, &mut iov);
            match Pin::new(&mut self.io).poll_write_vectored(cx, &iov[..n]) {
                Poll::Ready(Ok(k)) if k > 0 => {
                    at += k;
                    self.written += k as u64;
                    self.need_flush = true;
                }
                _ => break,
            }
        }
        if at < total {
            self.out.reserve(total - at);
            parts.copy_rest(input, at, &mut self.out);
            self.out_mid_frame = at > 0;
        }
    }

    /// Write the scratch output, keeping what the socket did not take.
    fn write_scratch(&mut self, cx: &mut Context<'_>, output: &mut Vec<u8>) {
        let mut at = 0;
        while at < output.len() {
            match Pin::new(&mut self.io).poll_write(cx, &output[at..]) {
                Poll::Ready(Ok(k)) if k > 0 => {
                    at += k;
                    self.written += k as u64;
                    self.need_flush = true;
                }
                // A failure or no room: the queue keeps the rest and the next write
                // reports the error.
                _ => break,
            }
        }
        if at < output.len() {
            if output.len() - at > SCRATCH_KEEP {
                // A big echo the socket did not take: the scratch buffer becomes the
                // queue rather than being copied into it (one copy of it, not two).
                self.out = std::mem::take(output);
                self.out_pos = at;
            } else {
                self.out.extend_from_slice(&output[at..]);
                self.out_mid_frame = at > 0;
            }
        }
    }
}

/// Where the peer's TCP has acknowledged our stream up to, and how much beyond is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unacked {
    /// Stream offset (see `Connection::stream_end`) up to which everything was acknowledged.
    pub from: u64,
    /// Bytes after `from`: still in the kernel (over TLS, as wire bytes) or still queued here.
    pub bytes: u64,
}

impl<S: SendQueue> Connection<S> {
    /// The offset in our outgoing stream where the next queued byte will end up: right after a
    /// `send` returns, the end of that message.
    pub fn stream_end(&self) -> u64 {
        self.written + (self.out.len() - self.out_pos) as u64
    }

    /// What the peer's TCP has not acknowledged, asked of the kernel now: call it at a loss,
    /// before the socket is dropped. `None` when the stream cannot tell.
    pub fn unacked(&self) -> Option<Unacked> {
        let kernel = self.io.unacked()?.min(self.written);
        Some(Unacked {
            from: self.written - kernel,
            bytes: kernel + (self.out.len() - self.out_pos) as u64,
        })
    }
}

fn feed_all(
    ep: &mut Endpoint,
    input: &mut [u8],
    out: &mut Replies,
    f: &mut impl FnMut(&mut Endpoint, Event<'_>, &mut Replies),
) {
    let mut pos = 0;
    while let Some(event) = ep.feed(input, &mut pos, out) {
        f(ep, event, out);
    }
}

fn owned(p: Payload<'_>) -> Bytes {
    match p {
        Payload::Borrowed(b) => Bytes::copy_from_slice(b),
        Payload::Owned(v) => Bytes::from(v),
    }
}

pub mod replies;
mod send_stream;
use replies::{Parts, Replies, Span};
pub use send_stream::{STREAM_CHUNK, Source, Streamed};

#[cfg(test)]
mod tests;
