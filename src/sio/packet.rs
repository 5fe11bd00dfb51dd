//! socket.io v5 packets (<https://github.com/socketio/socket.io-protocol>, v5), carried in
//! Engine.IO messages: `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`. Binary
//! attachments follow a BINARY_EVENT or BINARY_ACK as separate Engine.IO binary messages; the
//! JSON holds `{"_placeholder":true,"num":N}` where each goes.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

impl Kind {
    fn from_digit(c: char) -> Option<Kind> {
        Some(match c {
            '0' => Kind::Connect,
            '1' => Kind::Disconnect,
            '2' => Kind::Event,
            '3' => Kind::Ack,
            '4' => Kind::ConnectError,
            '5' => Kind::BinaryEvent,
            '6' => Kind::BinaryAck,
            _ => return None,
        })
    }

    pub fn is_binary(self) -> bool {
        matches!(self, Kind::BinaryEvent | Kind::BinaryAck)
    }
}

/// One socket.io packet, without its binary attachments.
#[derive(Debug, Clone, PartialEq)]
pub struct Packet {
    pub kind: Kind,
    /// `/` unless the packet names another.
    pub namespace: String,
    pub id: Option<u64>,
    /// How many binary attachments follow (binary kinds only).
    pub attachments: usize,
    pub data: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown socket.io packet type in {0:?}")]
    UnknownType(String),
    #[error("bad attachment count in a binary socket.io packet")]
    BadAttachments,
    #[error("bad ack id in a socket.io packet")]
    BadId,
    #[error("bad JSON in a socket.io packet: {0}")]
    BadJson(String),
    #[error("a socket.io event needs a non-empty array whose first item is the event name")]
    BadEvent,
}

impl Packet {
    pub fn new(kind: Kind, namespace: &str, data: Option<Value>) -> Packet {
        Packet {
            kind,
            namespace: namespace.to_string(),
            id: None,
            attachments: 0,
            data,
        }
    }

    pub fn decode(text: &str) -> Result<Packet, DecodeError> {
        let mut chars = text.chars();
        let kind = chars
            .next()
            .and_then(Kind::from_digit)
            .ok_or_else(|| DecodeError::UnknownType(text.chars().take(16).collect()))?;
        let mut rest = chars.as_str();
        let mut attachments = 0;
        if kind.is_binary() {
            let (n, after) = rest.split_once('-').ok_or(DecodeError::BadAttachments)?;
            attachments = n.parse().map_err(|_| DecodeError::BadAttachments)?;
            rest = after;
        }
        let mut namespace = "/".to_string();
        if rest.starts_with('/') {
            let end = rest.find(',').unwrap_or(rest.len());
            namespace = rest[..end].to_string();
            rest = rest.get(end + 1..).unwrap_or("");
        }
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let id = match digits {
            0 => None,
            _ => Some(rest[..digits].parse().map_err(|_| DecodeError::BadId)?),
        };
        rest = &rest[digits..];
        let data = match rest {
            "" => None,
            json => {
                Some(serde_json::from_str(json).map_err(|e| DecodeError::BadJson(e.to_string()))?)
            }
        };
        let packet = Packet {
            kind,
            namespace,
            id,
            attachments,
            data,
        };
        if matches!(kind, Kind::Event | Kind::BinaryEvent) && packet.event_name().is_none() {
            return Err(DecodeError::BadEvent);
        }
        Ok(packet)
    }

    pub fn encode(&self) -> String {
        let mut out = (self.kind as u8).to_string();
        if self.kind.is_binary() {
            out.push_str(&format!("{}-", self.attachments));
        }
        if self.namespace != "/" {
            out.push_str(&self.namespace);
            out.push(',');
        }
        if let Some(id) = self.id {
            out.push_str(&id.to_string());
        }
        if let Some(data) = &self.data {
            out.push_str(&data.to_string());
        }
        out
    }

    /// An event's name: the first item of its array.
    pub fn event_name(&self) -> Option<&str> {
        self.data.as_ref()?.as_array()?.first()?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // The examples are the protocol document's.
    #[test]
    fn connect_and_connect_error() {
        let p = Packet::decode("0").unwrap();
        assert_eq!(
            (p.kind, p.namespace.as_str(), &p.data),
            (Kind::Connect, "/", &None)
        );
        let p = Packet::decode(r#"0/admin,{"token":"123"}"#).unwrap();
        assert_eq!(p.namespace, "/admin");
        assert_eq!(p.data, Some(json!({"token": "123"})));
        let ok = Packet::new(
            Kind::Connect,
            "/",
            Some(json!({"sid": "oSO0OpakMV_3jnilAAAA"})),
        );
        assert_eq!(ok.encode(), r#"0{"sid":"oSO0OpakMV_3jnilAAAA"}"#);
        let err = Packet::new(
            Kind::ConnectError,
            "/admin",
            Some(json!({"message": "Not authorized"})),
        );
        assert_eq!(err.encode(), r#"4/admin,{"message":"Not authorized"}"#);
        assert_eq!(Packet::decode("1/admin,").unwrap().kind, Kind::Disconnect);
    }

    #[test]
    fn events_and_acks() {
        let p = Packet::decode(r#"2["foo","bar"]"#).unwrap();
        assert_eq!(p.event_name(), Some("foo"));
        assert_eq!(p.id, None);
        let p = Packet::decode(r#"2/admin,12["bar"]"#).unwrap();
        assert_eq!((p.namespace.as_str(), p.id), ("/admin", Some(12)));
        let p = Packet::decode(r#"3/admin,13["bar"]"#).unwrap();
        assert_eq!(
            (p.kind, p.id, p.data),
            (Kind::Ack, Some(13), Some(json!(["bar"])))
        );
        for text in [
            r#"2["foo","bar"]"#,
            r#"2/admin,12["bar"]"#,
            r#"3/admin,13["bar"]"#,
        ] {
            assert_eq!(Packet::decode(text).unwrap().encode(), text);
        }
    }

    #[test]
    fn binary_packets_keep_their_placeholders() {
        let text = r#"51-["baz",{"_placeholder":true,"num":0}]"#;
        let p = Packet::decode(text).unwrap();
        assert_eq!((p.kind, p.attachments), (Kind::BinaryEvent, 1));
        assert_eq!(p.event_name(), Some("baz"));
        assert_eq!(p.encode(), text);
        let text = r#"61-/admin,15[{"_placeholder":true,"num":0}]"#;
        let p = Packet::decode(text).unwrap();
        assert_eq!(
            (p.kind, p.attachments, p.id),
            (Kind::BinaryAck, 1, Some(15))
        );
        assert_eq!(p.encode(), text);
    }

    #[test]
    fn bad_packets_are_errors() {
        assert!(matches!(
            Packet::decode(""),
            Err(DecodeError::UnknownType(_))
        ));
        assert!(matches!(
            Packet::decode("9"),
            Err(DecodeError::UnknownType(_))
        ));
        assert_eq!(Packet::decode("5[\"x\"]"), Err(DecodeError::BadAttachments));
        assert!(matches!(
            Packet::decode("2[oops"),
            Err(DecodeError::BadJson(_))
        ));
        assert_eq!(Packet::decode("2{}"), Err(DecodeError::BadEvent));
        assert_eq!(Packet::decode("2[]"), Err(DecodeError::BadEvent));
        assert_eq!(
            Packet::decode("299999999999999999999999[\"a\"]"),
            Err(DecodeError::BadId)
        );
    }
}
