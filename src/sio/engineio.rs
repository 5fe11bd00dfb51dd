//! Engine.IO v4 packets (<https://github.com/socketio/engine.io-protocol>, v4): one
//! type digit and data; over HTTP long-polling several packets are joined with the record
//! separator `\x1e`, and binary data travels there as `b` + base64.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

/// Joins packets in a polling payload.
pub const SEPARATOR: char = '\x1e';

/// What the server tells the client first (`0{...}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Open {
    pub sid: String,
    pub upgrades: Vec<String>,
    /// Milliseconds.
    pub ping_interval: u64,
    pub ping_timeout: u64,
    /// Bytes a polling payload may hold.
    pub max_payload: u64,
}

/// One Engine.IO packet. Text data is borrowed from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    Open(Open),
    Close,
    Ping(&'a str),
    Pong(&'a str),
    Message(&'a str),
    /// A binary message: a binary WebSocket frame, or `b<base64>` when polling.
    Binary(Vec<u8>),
    Upgrade,
    Noop,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty Engine.IO packet")]
    Empty,
    #[error("unknown Engine.IO packet type {0:?}")]
    UnknownType(char),
    #[error("bad Engine.IO open packet: {0}")]
    BadOpen(String),
    #[error("bad base64 in a binary Engine.IO packet")]
    BadBase64,
}

impl<'a> Packet<'a> {
    /// One packet from a text WebSocket frame or one record of a polling payload.
    pub fn decode(text: &'a str) -> Result<Packet<'a>, DecodeError> {
        let mut chars = text.chars();
        let kind = chars.next().ok_or(DecodeError::Empty)?;
        let data = chars.as_str();
        Ok(match kind {
            '0' => Packet::Open(
                serde_json::from_str(data).map_err(|e| DecodeError::BadOpen(e.to_string()))?,
            ),
            '1' => Packet::Close,
            '2' => Packet::Ping(data),
            '3' => Packet::Pong(data),
            '4' => Packet::Message(data),
            '5' => Packet::Upgrade,
            '6' => Packet::Noop,
            'b' => Packet::Binary(B64.decode(data).map_err(|_| DecodeError::BadBase64)?),
            other => return Err(DecodeError::UnknownType(other)),
        })
    }

    /// The text form (binary as `b<base64>`, as polling carries it).
    pub fn encode(&self) -> String {
        match self {
            Packet::Open(open) => {
                format!("0{}", serde_json::to_string(open).unwrap_or_default())
            }
            Packet::Close => "1".into(),
            Packet::Ping(d) => format!("2{d}"),
            Packet::Pong(d) => format!("3{d}"),
            Packet::Message(d) => format!("4{d}"),
            Packet::Binary(b) => format!("b{}", B64.encode(b)),
            Packet::Upgrade => "5".into(),
            Packet::Noop => "6".into(),
        }
    }
}

/// The packets of a polling payload, in order.
pub fn decode_payload(payload: &str) -> impl Iterator<Item = Result<Packet<'_>, DecodeError>> {
    payload.split(SEPARATOR).map(Packet::decode)
}

/// Join encoded packets into one polling payload.
pub fn encode_payload<S: AsRef<str>>(packets: &[S]) -> String {
    let mut out = String::new();
    for (i, p) in packets.iter().enumerate() {
        if i > 0 {
            out.push(SEPARATOR);
        }
        out.push_str(p.as_ref());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The examples are the protocol document's.
    #[test]
    fn open_packet_round_trips() {
        let text = r#"0{"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":5000,"maxPayload":1000000}"#;
        let p = Packet::decode(text).unwrap();
        let Packet::Open(open) = &p else {
            panic!("{p:?}")
        };
        assert_eq!(open.sid, "lv_VI97HAXpY6yYWAAAC");
        assert_eq!(open.upgrades, ["websocket"]);
        assert_eq!((open.ping_interval, open.ping_timeout), (25000, 5000));
        assert_eq!(open.max_payload, 1_000_000);
        assert_eq!(p.encode(), text);
    }

    #[test]
    fn heartbeat_probe_and_upgrade_packets() {
        assert_eq!(Packet::decode("2").unwrap(), Packet::Ping(""));
        assert_eq!(Packet::decode("3").unwrap(), Packet::Pong(""));
        assert_eq!(Packet::decode("2probe").unwrap(), Packet::Ping("probe"));
        assert_eq!(Packet::Pong("probe").encode(), "3probe");
        assert_eq!(Packet::decode("5").unwrap(), Packet::Upgrade);
        assert_eq!(Packet::decode("6").unwrap(), Packet::Noop);
        assert_eq!(Packet::decode("1").unwrap(), Packet::Close);
        assert_eq!(Packet::decode("4hello").unwrap(), Packet::Message("hello"));
    }

    #[test]
    fn polling_payload_with_text_and_binary() {
        // "4hello\x1ebAQIDBA==": a text message and the bytes 1, 2, 3, 4.
        let packets: Vec<_> = decode_payload("4hello\x1ebAQIDBA==")
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            packets,
            [Packet::Message("hello"), Packet::Binary(vec![1, 2, 3, 4])]
        );
        let encoded: Vec<String> = packets.iter().map(Packet::encode).collect();
        assert_eq!(encode_payload(&encoded), "4hello\x1ebAQIDBA==");
    }

    #[test]
    fn bad_packets_are_errors() {
        assert_eq!(Packet::decode(""), Err(DecodeError::Empty));
        assert_eq!(Packet::decode("9"), Err(DecodeError::UnknownType('9')));
        assert_eq!(Packet::decode("b!!"), Err(DecodeError::BadBase64));
        assert!(matches!(Packet::decode("0{"), Err(DecodeError::BadOpen(_))));
    }
}
