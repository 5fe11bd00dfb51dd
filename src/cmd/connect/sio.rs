//! socket.io in `connect`: what a session reports of what `sio::client` saw, and what it means
//! for the session (a refusal, the server leaving, an event for the expects, an ack a step
//! waits for). Shared by the scripted loop and the interactive console, which differ only in
//! how they react.

use super::Output;
use crate::client::session::Outgoing;
use crate::error::{Error, ErrorKind, escape_controls};
use crate::event::Event;
use crate::sio::client::{Client, Outbound, SioEvent};
use crate::ws::proto::DataKind;
use bytes::Bytes;
use std::time::Duration;

/// What the session should do about one thing the client saw.
pub enum Reaction {
    Nothing,
    /// CONNECT_ERROR: exit 5 once closed.
    Refused(Error),
    /// The server left our namespace (`41`) or closed the Engine.IO session (`1`): close too,
    /// without retrying, as socket.io clients do.
    ServerLeft,
    /// An event: `text` is how expects see it (`["name",args…]`); `ack` when it asked for one.
    Event {
        text: String,
        ack: Option<(String, u64)>,
    },
    Ack(u64),
}

/// Emit the event for `ev` and say what it means.
pub fn report(out: &mut Output, client: &Client, ev: SioEvent) -> Reaction {
    match ev {
        SioEvent::Opened(open) => out.emit(Event::SioOpen {
            sid: open.sid,
            ping_interval: open.ping_interval,
            ping_timeout: open.ping_timeout,
            max_payload: open.max_payload,
        }),
        SioEvent::Ping { count, since_last } => out.emit(Event::SioPing { count, since_last }),
        SioEvent::Connected { namespace, sid } => out.emit(Event::SioConnected { namespace, sid }),
        SioEvent::ConnectError { namespace, message } => {
            let e = Error::new(
                ErrorKind::SioConnectError,
                format!(
                    "socket.io: namespace {} refused the connection: {}",
                    escape_controls(&namespace, false),
                    escape_controls(&message, false)
                ),
            );
            out.emit(Event::Error(e.clone()));
            return Reaction::Refused(e);
        }
        SioEvent::Event {
            namespace,
            name,
            args,
            ack_id,
        } => {
            let mut all = vec![serde_json::Value::String(name.clone())];
            all.extend(args.iter().cloned());
            let text = serde_json::Value::Array(all).to_string();
            let ack = ack_id.map(|id| (namespace.clone(), id));
            out.emit(Event::SioEvent {
                namespace,
                event: name,
                args,
                ack_id,
            });
            return Reaction::Event { text, ack };
        }
        SioEvent::Ack {
            namespace,
            id,
            args,
            rtt,
        } => {
            out.emit(Event::SioAck {
                namespace,
                id,
                args,
                rtt,
            });
            return Reaction::Ack(id);
        }
        SioEvent::Disconnected { namespace } => {
            let ours = namespace == client.namespace();
            out.emit(Event::SioDisconnect {
                namespace,
                reason: "io server disconnect".into(),
            });
            if ours {
                return Reaction::ServerLeft;
            }
        }
        SioEvent::Closed => {
            out.emit(Event::SioDisconnect {
                namespace: client.namespace().to_string(),
                reason: "transport close (the server closed the Engine.IO session)".into(),
            });
            return Reaction::ServerLeft;
        }
    }
    Reaction::Nothing
}

/// The client's answer (pongs, the namespace CONNECT, queued emits) as session messages.
pub fn outgoing(send: Outbound, fragment_size: Option<usize>) -> Outgoing {
    let (kind, payload) = match send {
        Outbound::Text(t) => (DataKind::Text, Bytes::from(t)),
        Outbound::Binary(b) => (DataKind::Binary, Bytes::from(b)),
    };
    Outgoing {
        kind,
        payload,
        fragment_size,
        uncompressed: false,
    }
}

/// The session ends (or reconnects) with this when no ping came in time.
pub fn ping_timeout(out: &mut Output, client: &Client) -> (String, Error) {
    let waited = client
        .open_packet()
        .map_or(0, |o| o.ping_interval + o.ping_timeout);
    let why = format!(
        "ping timeout: no Engine.IO ping within pingInterval + pingTimeout ({})",
        humantime::format_duration(Duration::from_millis(waited))
    );
    out.emit(Event::SioDisconnect {
        namespace: client.namespace().to_string(),
        reason: "ping timeout".into(),
    });
    let e = Error::new(ErrorKind::PingTimeout, why.clone());
    (why, e)
}

/// Feed one WebSocket message to the client; a broken packet is a protocol error.
pub fn feed(
    client: &mut Client,
    kind: DataKind,
    payload: &[u8],
) -> Result<crate::sio::client::Output, Error> {
    let now = std::time::Instant::now();
    match kind {
        DataKind::Text => client.on_text(&String::from_utf8_lossy(payload), now),
        DataKind::Binary => client.on_binary(payload, now),
    }
    .map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))
}
