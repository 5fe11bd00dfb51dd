//! A soak connection: `core::conn::Conn`'s sending, with a receive that is safe to cancel.
//!
//! Why not `Conn` itself: a worker waits for the next frame and for its send timer in one
//! `select!`, so the receive future is dropped whenever the timer wins. `Conn::recv` awaits
//! more than the next frame while it finishes a closing handshake, and cancelled there, the
//! peer's close code is lost and the next send fails as a protocol error. Here a Close frame is
//! reported the moment it is read; the reply (queued by tungstenite) is flushed afterwards,
//! outside any `select!`, by `finish_close`.

use crate::core::close::{self, NO_STATUS};
use crate::core::conn::DataKind;
use crate::core::error::{Error, ErrorKind};
use crate::core::handshake::WsStream;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::{self, Message};

/// How long we give a closing handshake (ours or the peer's) before dropping the socket.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

pub enum Recv {
    Data {
        kind: DataKind,
        payload: Bytes,
    },
    Pong(Bytes),
    /// The connection is over: the peer's close code when it sent a Close frame, else the
    /// kind of failure.
    Closed {
        kind: ErrorKind,
        close_code: Option<u16>,
    },
}

pub struct Link {
    ws: WsStream,
}

impl Link {
    pub fn new(ws: WsStream) -> Self {
        Link { ws }
    }

    /// The next data message, pong or end. Cancel-safe: it only awaits the next frame.
    pub async fn recv(&mut self) -> Recv {
        loop {
            return match self.ws.next().await {
                Some(Ok(Message::Text(t))) => Recv::Data {
                    kind: DataKind::Text,
                    payload: Bytes::from(t),
                },
                Some(Ok(Message::Binary(b))) => Recv::Data {
                    kind: DataKind::Binary,
                    payload: b,
                },
                Some(Ok(Message::Pong(p))) => Recv::Pong(p),
                // tungstenite answers pings itself.
                Some(Ok(Message::Ping(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    // What the peer really sent: tungstenite rewrites forbidden codes to 1002.
                    let (code, valid) = match self.ws.get_ref().last_close() {
                        Some(raw) => {
                            let (code, _, valid) = close::parse_close_payload(raw);
                            (code, valid)
                        }
                        None => (frame.map_or(NO_STATUS, |f| u16::from(f.code)), true),
                    };
                    Recv::Closed {
                        kind: if valid {
                            ErrorKind::CloseCode
                        } else {
                            ErrorKind::Protocol
                        },
                        close_code: Some(code),
                    }
                }
                Some(Err(e)) => Recv::Closed {
                    kind: classify(&e),
                    close_code: None,
                },
                None => Recv::Closed {
                    kind: ErrorKind::Abnormal,
                    close_code: None,
                },
            };
        }
    }

    /// One message, in frames of `fragment_size` payload bytes when given.
    pub async fn send(
        &mut self,
        kind: DataKind,
        payload: Bytes,
        fragment_size: Option<usize>,
    ) -> Result<(), Error> {
        let opcode = match kind {
            DataKind::Text => Data::Text,
            DataKind::Binary => Data::Binary,
        };
        match fragment_size {
            Some(size) if size > 0 && payload.len() > size => {
                let count = payload.len().div_ceil(size);
                for i in 0..count {
                    let chunk = payload.slice(i * size..((i + 1) * size).min(payload.len()));
                    let op = if i == 0 { opcode } else { Data::Continue };
                    let frame = Frame::message(chunk, OpCode::Data(op), i + 1 == count);
                    self.ws
                        .feed(Message::Frame(frame))
                        .await
                        .map_err(send_error)?;
                }
            }
            _ => {
                let frame = Frame::message(payload, OpCode::Data(opcode), true);
                self.ws
                    .feed(Message::Frame(frame))
                    .await
                    .map_err(send_error)?;
            }
        }
        self.ws.flush().await.map_err(send_error)
    }

    pub async fn ping(&mut self, payload: Bytes) -> Result<(), Error> {
        self.ws
            .send(Message::Ping(payload))
            .await
            .map_err(send_error)
    }

    /// After `recv` reported the peer's Close: send tungstenite's queued reply and let the
    /// peer hang up, briefly.
    pub async fn finish_close(mut self) {
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }

    /// Our closing handshake: send Close, read until the peer's Close (or give up), drop.
    pub async fn close(mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.into(),
        };
        let _ = tokio::time::timeout(CLOSE_WAIT, async {
            if self.ws.close(Some(frame)).await.is_ok() {
                while let Some(Ok(_)) = self.ws.next().await {}
            }
        })
        .await;
    }
}

fn classify(e: &tungstenite::Error) -> ErrorKind {
    use tungstenite::Error as E;
    use tungstenite::error::ProtocolError as P;
    match e {
        E::Capacity(_) => ErrorKind::MessageTooLarge,
        E::Protocol(P::ResetWithoutClosingHandshake) => ErrorKind::Abnormal,
        E::Protocol(_) | E::Utf8(_) => ErrorKind::Protocol,
        _ => ErrorKind::Abnormal,
    }
}

fn send_error(e: tungstenite::Error) -> Error {
    Error::new(classify(&e), format!("cannot send: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_sort_into_kinds() {
        use tungstenite::error::ProtocolError as P;
        assert_eq!(
            classify(&tungstenite::Error::Protocol(
                P::ResetWithoutClosingHandshake
            )),
            ErrorKind::Abnormal
        );
        assert_eq!(
            classify(&tungstenite::Error::Protocol(P::NonZeroReservedBits)),
            ErrorKind::Protocol
        );
        assert_eq!(
            classify(&tungstenite::Error::ConnectionClosed),
            ErrorKind::Abnormal
        );
    }
}
