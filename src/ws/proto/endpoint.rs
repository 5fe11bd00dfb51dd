//! One end of a WebSocket connection, in either role, without I/O: bytes in (`feed`), frames
//! out (into the caller's buffer), and what the application must see as `Event`s. Every rule
//! of RFC 6455 that is not framing lives here, once, for every subcommand and both roles:
//! automatic ping replies (with a policy hook for a server's `--no-pong`), the closing
//! handshake's state machine (open → close sent → closing → closed), failing the connection
//! with the close code a violation calls for, and how the end is reported, as a browser's
//! `CloseEvent`, with the peer's code exactly as it was sent.
//!
//! Why our own and not tungstenite's `WebSocketContext`: tungstenite rewrites forbidden close
//! codes to 1002 before the caller sees them, reports a 1009 it sent as 1006, keeps a read
//! buffer per connection, and has no permessage-deflate. A testing tool must report what was on
//! the wire, and soak's memory budget is a few hundred bytes per idle connection.
//!
//! Time is the caller's: the endpoint says when the closing phase starts (`state` leaves
//! `Open`), the caller gives it `CLOSE_TIMEOUT` and calls `on_timeout` when that runs out.

use crate::error::{Error, ErrorKind};
use crate::ws::ext::{Agreed, Deflate};
use crate::ws::proto::close::{self, CloseEvent, Initiator};
use crate::ws::proto::frame::{
    self, CloseCheck, Decoder, Item, OP_CLOSE, OP_PING, OP_PONG, Payload, Role, Violation,
};
use crate::ws::proto::{DataKind, Wire};
use std::time::Duration;

/// How long the whole closing phase may take, whoever started it: from the first Close frame
/// (sent or received) or a failure until the TCP connection is closed. One figure for every
/// role and subcommand.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// What to do with a peer's Ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingPolicy {
    /// Answer with a Pong carrying the same payload (RFC 6455 5.5.2).
    Reply,
    /// Hand it to the application and send nothing: a server testing its clients' heartbeat
    /// (`echo-server --no-pong`).
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    Open,
    /// We sent Close: the peer's data is dropped unread until its Close arrives.
    CloseSent,
    /// No more frames either way: what is queued goes out, then the TCP connection closes (the
    /// server closes it first, RFC 6455 7.1.1).
    Closing,
    /// Over. `ending` says how.
    Closed,
}

/// What the application sees of the peer's frames.
#[derive(Debug)]
pub enum Event<'a> {
    Message {
        kind: DataKind,
        payload: Payload<'a>,
        /// Compressed or not, and its size on the wire.
        wire: Wire,
    },
    /// Already answered, as the `PingPolicy` says.
    Ping(Payload<'a>),
    Pong(Payload<'a>),
}

/// What `send_message_as` wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub frames: usize,
    pub compressed: bool,
    /// Bytes on the wire, headers included.
    pub wire_len: usize,
}

/// How the connection ended: the close as a browser reports it, and what went wrong when it
/// was not a clean closing handshake.
#[derive(Debug, Clone)]
pub struct Ending {
    pub close: CloseEvent,
    pub error: Option<Error>,
}

#[derive(Debug)]
pub struct Endpoint {
    role: Role,
    dec: Decoder,
    state: State,
    ping: PingPolicy,
    /// After our Close, data messages are still handed to the application (they are
    /// dropped unread otherwise; see `set_read_after_close`).
    read_after_close: bool,
    /// Everything about the end, boxed because it is rare and holds strings: one pointer per
    /// idle connection.
    closing: Option<Box<Closing>>,
    /// After the last frame, wait for the peer to close the TCP connection (false: a fault
    /// that drops it at once).
    linger: bool,
}

#[derive(Debug, Default)]
struct Closing {
    /// The Close we sent first, for the report when no answer comes.
    sent: Option<(u16, String)>,
    /// Set once the end is known.
    ending: Option<Ending>,
}

impl Endpoint {
    pub fn new(role: Role, max_message_size: usize) -> Self {
        Endpoint {
            role,
            dec: Decoder::with_role(role, max_message_size),
            state: State::Open,
            ping: PingPolicy::Reply,
            read_after_close: false,
            closing: None,
            linger: true,
        }
    }

    /// permessage-deflate was negotiated: compress what we send, inflate what RSV1 marks.
    pub fn enable_deflate(&mut self, agreed: Agreed) {
        self.dec
            .set_deflate(Deflate::new(agreed, self.role == Role::Server));
    }

    /// The negotiated permessage-deflate parameters, if any.
    pub fn deflate(&self) -> Option<&Agreed> {
        self.dec.deflate().map(Deflate::agreed)
    }

    pub fn set_ping_policy(&mut self, policy: PingPolicy) {
        self.ping = policy;
    }

    /// Hand on the data messages the peer sent before it saw our Close. RFC 6455 lets an
    /// endpoint keep reading until the peer's Close; by default they are dropped unread, but
    /// a server that keeps messages for replay (`echo-server --replay`) must not lose one it
    /// read, even during a shutdown.
    pub fn set_read_after_close(&mut self, on: bool) {
        self.read_after_close = on;
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn state(&self) -> State {
        self.state
    }

    /// Bytes held for a message still arriving (see `Decoder::held`).
    pub fn held_input(&self) -> usize {
        self.dec.held()
    }

    pub fn is_open(&self) -> bool {
        self.state == State::Open
    }

    /// True once frames are no longer read (the handshake is over or the connection failed).
    pub fn is_finishing(&self) -> bool {
        self.state >= State::Closing
    }

    pub fn ending(&self) -> Option<&Ending> {
        self.closing.as_ref()?.ending.as_ref()
    }

    fn ending_mut(&mut self) -> Option<&mut Ending> {
        self.closing.as_mut()?.ending.as_mut()
    }

    /// The ending, or one that says the connection was dropped when none was recorded.
    pub fn ending_or_dropped(&self) -> Ending {
        self.ending().cloned().unwrap_or_else(|| Ending {
            close: CloseEvent::abnormal("connection dropped"),
            error: None,
        })
    }

    fn us(&self) -> Initiator {
        match self.role {
            Role::Client => Initiator::Client,
            Role::Server => Initiator::Server,
        }
    }

    fn them(&self) -> Initiator {
        match self.role {
            Role::Client => Initiator::Server,
            Role::Server => Initiator::Client,
        }
    }

    /// Decode `input[*pos..]` until there is something for the application, writing what the
    /// protocol answers by itself (pongs, the reply to a Close, the Close a violation calls
    /// for) into `out`. `None` once the input is used up or frames are no longer read.
    pub fn feed<'a>(
        &mut self,
        input: &'a mut [u8],
        pos: &mut usize,
        out: &mut Vec<u8>,
    ) -> Option<Event<'a>> {
        while *pos < input.len() {
            if self.state >= State::Closing {
                *pos = input.len();
                return None;
            }
            let ready = match self.dec.next_ready(input, pos) {
                Ok(Some(ready)) => ready,
                Ok(None) => return None,
                Err(v) => {
                    self.fail(out, v);
                    continue;
                }
            };
            if self.state != State::Open {
                // After our Close only the peer's Close and pongs (late replies to our pings,
                // still worth counting) matter, and data only when asked for: the rest is
                // dropped unread (a ping is never answered after our Close).
                match ready.opcode() {
                    OP_CLOSE => {
                        if let Item::Close(p) = ready.item(input) {
                            self.on_close_frame(out, &p);
                        }
                        continue;
                    }
                    OP_PONG => {}
                    OP_PING => continue,
                    _ if self.read_after_close => {}
                    _ => continue,
                }
            }
            let input: &'a [u8] = input;
            match ready.item(input) {
                Item::Message {
                    kind,
                    payload,
                    wire,
                } => {
                    return Some(Event::Message {
                        kind,
                        payload,
                        wire,
                    });
                }
                Item::Ping(p) => {
                    if self.ping == PingPolicy::Reply {
                        frame::write_control_as(self.role, out, OP_PONG, &p);
                    }
                    return Some(Event::Ping(p));
                }
                Item::Pong(p) => return Some(Event::Pong(p)),
                Item::Close(p) => {
                    self.on_close_frame(out, &p);
                    return None;
                }
            }
        }
        None
    }

    /// Room to read the rest of a big data frame into, at its place in the message
    /// (`Decoder::direct_room`); only while the connection is open (after our Close, data is
    /// dropped unread).
    pub fn direct_room(&mut self, min: usize) -> Option<(&mut Vec<u8>, usize)> {
        if self.state != State::Open {
            return None;
        }
        self.dec.direct_room(min)
    }

    /// `feed` for the bytes appended at `from` through `direct_room`: the message when they
    /// finished it; a violation (invalid UTF-8) fails the connection as in `feed`.
    pub fn direct_filled(&mut self, from: usize, out: &mut Vec<u8>) -> Option<Event<'static>> {
        match self.dec.direct_filled(from) {
            Ok(Some(m)) => Some(Event::Message {
                kind: m.kind,
                payload: Payload::Owned(m.payload),
                wire: m.wire,
            }),
            Ok(None) => None,
            Err(v) => {
                self.fail(out, v);
                None
            }
        }
    }

    fn check_open(&self, what: &str) -> Result<(), Error> {
        match self.state {
            State::Open => Ok(()),
            State::CloseSent => Err(Error::new(
                ErrorKind::Abnormal,
                format!("cannot send {what}: the closing handshake has begun"),
            )),
            State::Closing | State::Closed => Err(Error::new(
                self.ending()
                    .and_then(|e| e.error.as_ref().map(Error::kind))
                    .unwrap_or(ErrorKind::Abnormal),
                format!("cannot send {what}: the connection is closed"),
            )),
        }
    }

    /// One data message, in frames of at most `fragment` payload bytes when given. Returns
    /// the number of frames.
    pub fn send_message(
        &mut self,
        out: &mut Vec<u8>,
        kind: DataKind,
        payload: &[u8],
        fragment: Option<usize>,
    ) -> Result<usize, Error> {
        Ok(self
            .send_message_as(out, kind, payload, fragment, true)?
            .frames)
    }

    /// `send_message`, compressed when permessage-deflate was negotiated and `compress` (a
    /// message may go uncompressed, RSV1 clear, on a compressed connection: RFC 7692 6).
    /// Compressed first, then fragmented, as 6.1 says.
    pub fn send_message_as(
        &mut self,
        out: &mut Vec<u8>,
        kind: DataKind,
        payload: &[u8],
        fragment: Option<usize>,
        compress: bool,
    ) -> Result<Sent, Error> {
        self.check_open("a message")?;
        let start = out.len();
        let mut deflated = Vec::new();
        let compressed = match self.dec.deflate_mut() {
            Some(d) if compress => {
                d.compress(payload, &mut deflated);
                true
            }
            _ => false,
        };
        let body = if compressed { &deflated[..] } else { payload };
        frame::write_message_flagged(self.role, out, kind, body, fragment, compressed);
        Ok(Sent {
            frames: match fragment {
                Some(size) if size > 0 && body.len() > size => body.len().div_ceil(size),
                _ => 1,
            },
            compressed,
            wire_len: out.len() - start,
        })
    }

    /// The header of a whole, uncompressed data message whose payload the caller sends right
    /// after it, unchanged: the server's echo without a copy (`connection::replies`). False,
    /// with nothing written, when the payload cannot go out as it is: a client masks it, and
    /// with permessage-deflate it is compressed.
    pub fn send_header_only(
        &mut self,
        out: &mut Vec<u8>,
        kind: DataKind,
        len: usize,
    ) -> Result<bool, Error> {
        self.check_open("a message")?;
        if self.role != Role::Server || self.dec.deflate().is_some() {
            return Ok(false);
        }
        let opcode = match kind {
            DataKind::Text => frame::OP_TEXT,
            DataKind::Binary => frame::OP_BINARY,
        };
        frame::write_header(out, true, opcode, len);
        Ok(true)
    }

    /// One uncompressed, unfragmented message of `len` bytes that `build` writes straight
    /// into `out` (see `frame::write_message_built`).
    pub fn send_message_built(
        &mut self,
        out: &mut Vec<u8>,
        kind: DataKind,
        len: usize,
        build: impl FnOnce(&mut [u8]),
    ) -> Result<Sent, Error> {
        self.check_open("a message")?;
        let start = out.len();
        frame::write_message_built(self.role, out, kind, len, build);
        Ok(Sent {
            frames: 1,
            compressed: false,
            wire_len: out.len() - start,
        })
    }

    pub fn send_ping(&mut self, out: &mut Vec<u8>, payload: &[u8]) -> Result<(), Error> {
        self.send_control(out, OP_PING, payload, "a ping")
    }

    fn send_control(
        &mut self,
        out: &mut Vec<u8>,
        opcode: u8,
        payload: &[u8],
        what: &str,
    ) -> Result<(), Error> {
        self.check_open(what)?;
        if payload.len() > frame::MAX_CONTROL_PAYLOAD {
            return Err(Error::usage(format!(
                "{what} payload holds at most {} bytes",
                frame::MAX_CONTROL_PAYLOAD
            )));
        }
        frame::write_control_as(self.role, out, opcode, payload);
        Ok(())
    }

    /// Start the closing handshake: send Close, then drop the peer's data until its Close.
    /// Does nothing once a Close was sent or the connection is ending.
    pub fn close(&mut self, out: &mut Vec<u8>, code: u16, reason: &str) {
        if self.state != State::Open {
            return;
        }
        frame::write_close_as(self.role, out, code, reason);
        self.closing.get_or_insert_with(Box::default).sent = Some((code, reason.to_string()));
        self.state = State::CloseSent;
        if !self.read_after_close {
            self.dec.discard_data();
        }
    }

    /// The peer broke RFC 6455: send the Close the violation calls for and stop reading
    /// (7.1.7). A message over the size limit is not a broken protocol, so it starts an
    /// ordinary closing handshake with 1009 and is reported as 1009 however it ends.
    pub fn fail(&mut self, out: &mut Vec<u8>, v: Violation) {
        let error = if v == frame::TOO_BIG {
            let what = match self.dec.deflate().and_then(Deflate::stopped_at) {
                Some((read, inflated)) => format!(
                    "the peer sent a compressed message that inflates past the size limit (stopped after {read} compressed bytes had inflated to {inflated})"
                ),
                None => "the peer sent a message over the size limit".to_string(),
            };
            Error::new(
                ErrorKind::MessageTooLarge,
                format!("{what}; raise --max-message-size"),
            )
        } else {
            Error::new(
                ErrorKind::Protocol,
                format!("the peer broke RFC 6455: {}", v.reason),
            )
        };
        self.fail_with(out, v, error);
    }

    fn fail_with(&mut self, out: &mut Vec<u8>, v: Violation, error: Error) {
        match self.state {
            State::Open => {}
            // Our Close is out already: the violation only ends the wait for the answer.
            State::CloseSent => {
                if self.ending().is_none() {
                    let mut close = CloseEvent::abnormal(v.reason);
                    close.initiator = self.us();
                    self.set_ending(close, Some(error));
                }
                self.state = State::Closing;
                return;
            }
            State::Closing | State::Closed => return,
        }
        let close = CloseEvent {
            code: v.code,
            reason: v.reason.to_string(),
            was_clean: false,
            initiator: self.us(),
            code_valid: true,
            diagnostic: None,
        };
        self.set_ending(close, Some(error));
        if v == frame::TOO_BIG {
            self.close(out, v.code, v.reason);
        } else {
            frame::write_close_as(self.role, out, v.code, v.reason);
            self.state = State::Closing;
        }
    }

    fn set_ending(&mut self, close: CloseEvent, error: Option<Error>) {
        self.closing.get_or_insert_with(Box::default).ending = Some(Ending { close, error });
    }

    /// The peer's Close: answer it when the peer started the handshake, and end.
    fn on_close_frame(&mut self, out: &mut Vec<u8>, payload: &[u8]) {
        let (code, reason, code_valid) = close::parse_close_payload(payload);
        let initiator = if self.state == State::CloseSent {
            self.us()
        } else {
            self.them()
        };
        if let CloseCheck::Invalid(v) = frame::check_close(payload) {
            // Report what the peer sent, honestly, and fail with the code RFC 6455 asks for.
            let why = if payload.len() == 1 {
                "the peer sent a Close frame with a 1-byte payload".to_string()
            } else if !close::is_sendable(code) {
                format!(
                    "the peer sent close code {code}, which RFC 6455 forbids on the wire{}",
                    match code {
                        1005 | 1006 | 1015 => " (it is reserved for reporting, never for sending)",
                        _ => "",
                    }
                )
            } else {
                "the peer sent a Close reason that is not valid UTF-8".to_string()
            };
            if self.state == State::Open {
                frame::write_close_as(self.role, out, v.code, v.reason);
            }
            self.set_ending(
                CloseEvent {
                    code,
                    reason,
                    was_clean: false,
                    initiator,
                    code_valid,
                    diagnostic: None,
                },
                Some(Error::new(ErrorKind::Protocol, why)),
            );
            self.state = State::Closing;
            return;
        }
        match self.state {
            State::Open => {
                // The closing handshake: echo the peer's code and reason.
                frame::write_control_as(self.role, out, OP_CLOSE, payload);
                self.set_ending(
                    CloseEvent {
                        code,
                        reason,
                        was_clean: true,
                        initiator,
                        code_valid,
                        diagnostic: None,
                    },
                    None,
                );
            }
            State::CloseSent => match self.ending_mut() {
                // We closed because of a failure (1009): that code is the story; the answer
                // makes it clean.
                Some(e) => e.close.was_clean = true,
                None => self.set_ending(
                    CloseEvent {
                        code,
                        reason,
                        was_clean: true,
                        initiator,
                        code_valid,
                        diagnostic: None,
                    },
                    None,
                ),
            },
            State::Closing | State::Closed => return,
        }
        self.state = State::Closing;
    }

    /// The peer ended the TCP connection. After a complete handshake this is the normal end.
    pub fn on_eof(&mut self) {
        if self.state == State::CloseSent {
            let why = "the peer dropped the connection instead of answering our Close frame";
            self.end_abnormal(why.to_string(), why.to_string());
        } else {
            self.end_abnormal(
                "connection closed without a Close frame".to_string(),
                "the connection was closed without a closing handshake".to_string(),
            );
        }
    }

    pub fn on_io_error(&mut self, e: &std::io::Error) {
        let why = format!("connection error: {e}");
        self.end_abnormal(why.clone(), why);
    }

    /// `CLOSE_TIMEOUT` ran out: whatever was still awaited will not come.
    pub fn on_timeout(&mut self) {
        if self.state == State::CloseSent {
            let (code, reason) = self
                .closing
                .as_ref()
                .and_then(|c| c.sent.clone())
                .unwrap_or_default();
            let why = format!("sent Close {code} {reason:?}; no Close frame came back in time");
            self.end_abnormal(why.clone(), why);
        }
        self.state = State::Closed;
    }

    /// Drop the connection without a Close frame (a fault a server injects, or a heartbeat
    /// that found the peer dead). `why` is reported as a 1006.
    pub fn abort(&mut self, why: impl Into<String>) {
        if self.state >= State::Closing {
            self.state = State::Closed;
            return;
        }
        let why = why.into();
        let error = Error::new(ErrorKind::Abnormal, why.clone());
        let mut close = CloseEvent::abnormal(why);
        close.initiator = self.us();
        self.set_ending(close, Some(error));
        self.state = State::Closed;
    }

    /// Like `abort`, but what is already queued goes out first (`echo-server --drop-after`:
    /// the echoes before the drop arrive).
    pub fn abort_after_flush(&mut self, why: impl Into<String>) {
        if self.state >= State::Closing {
            return;
        }
        self.abort(why);
        self.state = State::Closing;
        self.linger = false;
    }

    /// After the last frame: wait for the peer to close the TCP connection.
    pub fn lingers(&self) -> bool {
        self.linger
    }

    /// The connection is gone: a clean end when the handshake was complete, else a 1006 (or
    /// the failure already recorded, no longer clean). `why` is the close's reason, `error`
    /// the message of the error that goes with it.
    fn end_abnormal(&mut self, why: String, error: String) {
        match self.state {
            State::Closed => return,
            State::Closing => {}
            State::Open | State::CloseSent => match self.ending_mut() {
                Some(e) => {
                    e.close.was_clean = false;
                    e.error
                        .get_or_insert_with(|| Error::new(ErrorKind::Abnormal, error));
                }
                None => {
                    let mut close = CloseEvent::abnormal(why);
                    if self.state == State::CloseSent {
                        close.initiator = self.us();
                    }
                    let error = Error::new(ErrorKind::Abnormal, error);
                    self.set_ending(close, Some(error));
                }
            },
        }
        self.state = State::Closed;
    }

    /// Our half of the closing handshake never left (the socket failed while writing it).
    pub fn reply_not_sent(&mut self) {
        if let Some(e) = self.ending_mut() {
            e.close.was_clean = false;
        }
    }
}

#[cfg(test)]
mod tests;
