//! An open WebSocket: send text, binary or fragmented messages, receive with the peer's close
//! reported as a `CloseEvent`. Reading keeps tungstenite answering the peer's pings.

use crate::error::{Error, ErrorKind};
use crate::ws::open::WsStream;
use crate::ws::proto::close::{self, CloseEvent, CloseSpec, Initiator};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::{self, Message};

pub use crate::ws::proto::DataKind;

#[derive(Debug)]
pub enum Inbound {
    Data {
        kind: DataKind,
        payload: Bytes,
    },
    Ping(Bytes),
    Pong(Bytes),
    /// The connection is over. `error` says what broke it when it did not end by a handshake.
    Closed {
        close: CloseEvent,
        error: Option<Error>,
    },
}

/// How long we wait for the peer's half of a closing handshake before calling it abnormal.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(3);

/// `recv` must be cancel-safe (callers race it against timers and input in `select!`), so
/// every step of an ending is recorded here before anything is awaited, and a later call
/// resumes where a dropped one stopped.
pub struct Conn {
    ws: WsStream,
    /// Set once we have sent a Close frame: the next Close we read is the peer's reply.
    close_sent: bool,
    /// When our Close frame goes unanswered for too long.
    close_deadline: Option<Instant>,
    /// The ending already decided, waiting for the transport to finish (reply flushed, TCP
    /// closed) before it is reported.
    ending: Option<(CloseEvent, Option<Error>, Instant)>,
    finished: bool,
}

impl Conn {
    pub fn new(ws: WsStream) -> Self {
        Conn {
            ws,
            close_sent: false,
            close_deadline: None,
            ending: None,
            finished: false,
        }
    }

    /// True once either side has started the closing handshake: no more data may be sent.
    pub fn is_closing(&self) -> bool {
        self.close_sent || self.ending.is_some() || self.finished
    }

    /// Bytes on the wire (after TLS decryption) each way: (in, out).
    pub fn wire_bytes(&self) -> (u64, u64) {
        let tap = self.ws.get_ref();
        (tap.bytes_in, tap.bytes_out)
    }

    /// Send one message, split into frames of `fragment_size` payload bytes when given: the first
    /// frame carries the text/binary opcode, the rest are continuations, FIN on the last.
    /// Returns the number of frames sent.
    pub async fn send(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        fragment_size: Option<usize>,
    ) -> Result<usize, Error> {
        let opcode = match kind {
            DataKind::Text => Data::Text,
            DataKind::Binary => Data::Binary,
        };
        let frames = match fragment_size {
            Some(size) if size > 0 && payload.len() > size => {
                let count = payload.len().div_ceil(size);
                for i in 0..count {
                    let chunk = payload.slice(i * size..((i + 1) * size).min(payload.len()));
                    let op = if i == 0 { opcode } else { Data::Continue };
                    self.ws
                        .feed(Message::Frame(Frame::message(
                            chunk,
                            OpCode::Data(op),
                            i + 1 == count,
                        )))
                        .await
                        .map_err(send_error)?;
                }
                count
            }
            _ => {
                self.ws
                    .feed(Message::Frame(Frame::message(
                        payload,
                        OpCode::Data(opcode),
                        true,
                    )))
                    .await
                    .map_err(send_error)?;
                1
            }
        };
        self.ws.flush().await.map_err(send_error)?;
        Ok(frames)
    }

    pub async fn ping(&mut self, payload: Bytes) -> Result<(), Error> {
        self.ws
            .send(Message::Ping(payload))
            .await
            .map_err(send_error)
    }

    pub async fn pong(&mut self, payload: Bytes) -> Result<(), Error> {
        self.ws
            .send(Message::Pong(payload))
            .await
            .map_err(send_error)
    }

    /// Start the closing handshake. Keep calling `recv` until it yields `Closed`.
    pub async fn close(&mut self, spec: &CloseSpec) -> Result<(), Error> {
        if self.close_sent || self.finished {
            return Ok(());
        }
        self.close_sent = true;
        self.close_deadline = Some(Instant::now() + CLOSE_TIMEOUT);
        let frame = CloseFrame {
            code: CloseCode::from(spec.code),
            reason: spec.reason.clone().into(),
        };
        match self.ws.close(Some(frame)).await {
            Ok(()) => Ok(()),
            // The peer's Close crossed ours: recv will report it.
            Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::SendAfterClosing,
            )) => Ok(()),
            Err(e) => Err(send_error(e)),
        }
    }

    /// The next thing the peer sent. After `Closed`, the connection is finished.
    pub async fn recv(&mut self) -> Inbound {
        if self.finished {
            return Inbound::Closed {
                close: CloseEvent::abnormal("connection already finished"),
                error: None,
            };
        }
        if self.ending.is_some() {
            return self.finish().await;
        }
        loop {
            let next = match self.close_deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline.into(), self.ws.next()).await {
                        Ok(next) => next,
                        Err(_) => {
                            self.finished = true;
                            let mut close = CloseEvent::abnormal("no Close frame came back");
                            close.initiator = Initiator::Client;
                            return Inbound::Closed {
                                close,
                                error: Some(Error::new(
                                    ErrorKind::Abnormal,
                                    format!(
                                        "the peer did not answer our Close frame within {}",
                                        humantime::format_duration(CLOSE_TIMEOUT)
                                    ),
                                )),
                            };
                        }
                    }
                }
                None => self.ws.next().await,
            };
            match next {
                Some(Ok(Message::Text(t))) => {
                    return Inbound::Data {
                        kind: DataKind::Text,
                        payload: Bytes::from(t),
                    };
                }
                Some(Ok(Message::Binary(b))) => {
                    return Inbound::Data {
                        kind: DataKind::Binary,
                        payload: b,
                    };
                }
                Some(Ok(Message::Ping(p))) => return Inbound::Ping(p),
                Some(Ok(Message::Pong(p))) => return Inbound::Pong(p),
                Some(Ok(Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    self.peer_closed(frame);
                    return self.finish().await;
                }
                Some(Err(e)) => {
                    self.failed(e);
                    return self.finish().await;
                }
                None => {
                    self.finished = true;
                    return Inbound::Closed {
                        close: CloseEvent::abnormal("connection closed without a Close frame"),
                        error: Some(Error::new(
                            ErrorKind::Abnormal,
                            "the connection was closed without a closing handshake",
                        )),
                    };
                }
            }
        }
    }

    /// Let tungstenite flush its answer (our Close reply or error Close) and wait, until the
    /// recorded deadline, for the peer to close TCP; then report the recorded ending.
    async fn finish(&mut self) -> Inbound {
        if let Some(deadline) = self.ending.as_ref().map(|(_, _, d)| *d) {
            let _ = tokio::time::timeout_at(deadline.into(), async {
                while let Some(Ok(_)) = self.ws.next().await {}
            })
            .await;
        }
        self.finished = true;
        match self.ending.take() {
            Some((close, error, _)) => Inbound::Closed { close, error },
            None => Inbound::Closed {
                close: CloseEvent::abnormal("connection already finished"),
                error: None,
            },
        }
    }

    fn peer_closed(&mut self, frame: Option<CloseFrame>) {
        // What the peer really sent: tungstenite turns a forbidden code into 1002.
        let (code, reason, code_valid) = match self.ws.get_ref().last_close() {
            Some(raw) => close::parse_close_payload(raw),
            None => match frame {
                Some(f) => (u16::from(f.code), f.reason.to_string(), true),
                None => (close::NO_STATUS, String::new(), true),
            },
        };
        let initiator = if self.close_sent {
            Initiator::Client
        } else {
            Initiator::Server
        };
        let error = (!code_valid).then(|| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "the peer sent close code {code}, which RFC 6455 forbids on the wire{}",
                    match code {
                        1005 | 1006 | 1015 => " (it is reserved for reporting, never for sending)",
                        _ => "",
                    }
                ),
            )
        });
        let close = CloseEvent {
            code,
            reason,
            was_clean: code_valid,
            initiator,
            code_valid,
        };
        self.ending = Some((close, error, Instant::now() + CLOSE_TIMEOUT));
    }

    /// The stream failed: tell the peer why when the fault was theirs, then report 1006 or the
    /// code we closed with.
    fn failed(&mut self, e: tungstenite::Error) {
        use tungstenite::Error as E;
        use tungstenite::error::{CapacityError, ProtocolError as P};
        let (kind, message, send_code) = match &e {
            E::Capacity(CapacityError::MessageTooLong { size, max_size }) => (
                ErrorKind::MessageTooLarge,
                format!(
                    "the peer sent a message of {size} bytes, over the limit of {max_size}; raise --max-message-size"
                ),
                Some(1009),
            ),
            E::Utf8(_) => (
                ErrorKind::Protocol,
                "the peer sent a text message that is not valid UTF-8".to_string(),
                Some(1007),
            ),
            E::Protocol(P::ResetWithoutClosingHandshake) => (
                ErrorKind::Abnormal,
                "the connection was reset without a closing handshake".to_string(),
                None,
            ),
            E::Protocol(p) => (
                ErrorKind::Protocol,
                format!("the peer broke RFC 6455: {p}"),
                Some(1002),
            ),
            E::Io(io) => (ErrorKind::Abnormal, format!("connection lost: {io}"), None),
            other => (
                ErrorKind::Abnormal,
                format!("connection failed: {other}"),
                None,
            ),
        };
        let mut close = CloseEvent::abnormal(message.clone());
        let mut deadline = Instant::now();
        if let Some(code) = send_code.filter(|_| !self.close_sent) {
            self.close_sent = true;
            close.initiator = Initiator::Client;
            // Queued without an await, flushed by `finish`'s reads: nothing is lost when the
            // caller's select drops the future.
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: "".into(),
            };
            if self
                .ws
                .start_send_unpin(Message::Close(Some(frame)))
                .is_ok()
            {
                deadline += CLOSE_TIMEOUT;
            }
        }
        self.ending = Some((close, Some(Error::new(kind, message)), deadline));
    }
}

fn send_error(e: tungstenite::Error) -> Error {
    use tungstenite::Error as E;
    match e {
        E::ConnectionClosed | E::AlreadyClosed => {
            Error::new(ErrorKind::Abnormal, "cannot send: the connection is closed")
        }
        E::Io(io) => Error::new(
            ErrorKind::Abnormal,
            format!("connection lost while sending: {io}"),
        ),
        other => Error::new(ErrorKind::Protocol, format!("cannot send: {other}")),
    }
}
