//! The envelope around soak messages for servers that speak their own protocol
//! (`soak --scenario`): the message template puts our message (`soak_message`: ASCII, so it
//! fits in a JSON string unescaped) where `{payload}` stands, and the echo rule finds it again
//! in the reply, by JSON Pointer or by regex. The header inside still carries connection,
//! sequence and checksum, so loss, duplicate and reorder accounting stays exact whatever the
//! envelope.

use regex::Regex;
use serde_json::Value;
use std::borrow::Cow;

#[derive(Debug, Clone)]
pub struct Envelope {
    before: String,
    after: String,
    echo: Echo,
}

/// Where the payload is in a reply.
#[derive(Debug, Clone)]
pub enum Echo {
    /// An RFC 6901 pointer to a JSON string.
    Pointer(String),
    /// The group named `payload`, else group 1, else the whole match.
    Regex(Regex),
    /// `soak --socketio`: the first argument of a socket.io EVENT (`42[...]`, in an Engine.IO
    /// message) named `event`, in `namespace`.
    SocketIo { namespace: String, event: String },
}

impl Envelope {
    /// `template` must hold `{payload}` exactly once; the error is the tail of a usage line.
    pub fn new(template: &str, echo: Echo) -> Result<Envelope, String> {
        let mut parts = template.split("{payload}");
        let (Some(before), Some(after), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "the message template must contain {{payload}} exactly once: {template:?}"
            ));
        };
        Ok(Envelope {
            before: before.to_string(),
            after: after.to_string(),
            echo,
        })
    }

    /// socket.io's: our message is the one argument of `event`, emitted in `namespace`
    /// (`42["message","<msg>"]`, `42/chat,["message","<msg>"]`).
    pub fn socketio(namespace: &str, event: &str) -> Envelope {
        let ns = if namespace == "/" {
            String::new()
        } else {
            format!("{namespace},")
        };
        // The name as a JSON string (escaped); the message needs no escaping (ASCII, no quote).
        let name = serde_json::Value::from(event).to_string();
        Envelope {
            before: format!("42{ns}[{name},\""),
            after: "\"]".into(),
            echo: Echo::SocketIo {
                namespace: namespace.to_string(),
                event: event.to_string(),
            },
        }
    }

    /// The template with `msg` in it, into `out` (cleared first).
    pub fn wrap(&self, msg: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(self.before.as_bytes());
        out.extend_from_slice(msg);
        out.extend_from_slice(self.after.as_bytes());
    }

    /// Our message inside a reply; `None`: the reply carries none (it counts as other traffic).
    pub fn unwrap<'a>(&self, reply: &'a [u8]) -> Option<Cow<'a, [u8]>> {
        match &self.echo {
            Echo::Pointer(p) => {
                let v: Value = serde_json::from_slice(reply).ok()?;
                match v.pointer(p)? {
                    Value::String(s) => Some(Cow::Owned(s.clone().into_bytes())),
                    _ => None,
                }
            }
            Echo::Regex(re) => {
                let text = std::str::from_utf8(reply).ok()?;
                let caps = re.captures(text)?;
                let m = caps
                    .name("payload")
                    .or_else(|| caps.get(1))
                    .or_else(|| caps.get(0))?;
                Some(Cow::Borrowed(&reply[m.start()..m.end()]))
            }
            Echo::SocketIo { namespace, event } => {
                let text = std::str::from_utf8(reply).ok()?.strip_prefix('4')?;
                let p = crate::sio::packet::Packet::decode(text).ok()?;
                if p.kind != crate::sio::packet::Kind::Event
                    || p.namespace != *namespace
                    || p.event_name() != Some(event)
                {
                    return None;
                }
                match p.data?.as_array()?.get(1)? {
                    Value::String(s) => Some(Cow::Owned(s.clone().into_bytes())),
                    _ => None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::soak_message::{self, Decoded};

    #[test]
    fn a_wrapped_message_is_found_again_by_pointer_and_by_regex() {
        let env = Envelope::new(
            r#"{"op":"echo","data":"{payload}"}"#,
            Echo::Pointer("/data".into()),
        )
        .unwrap();
        let mut msg = Vec::new();
        soak_message::encode(7, 42, 1000, 64, &mut msg);
        let mut wire = Vec::new();
        env.wrap(&msg, &mut wire);
        let reply = String::from_utf8(wire)
            .unwrap()
            .replace(r#""op":"echo""#, r#""type":"echo""#);
        let inner = env.unwrap(reply.as_bytes()).unwrap();
        assert!(
            matches!(soak_message::decode(&inner), Decoded::Ok(h) if h.conn == 7 && h.seq == 42)
        );
        let re = Echo::Regex(Regex::new(r#""data":"(?P<payload>[^"]+)""#).unwrap());
        let env = Envelope::new(r#"{"data":"{payload}"}"#, re).unwrap();
        assert_eq!(env.unwrap(reply.as_bytes()).unwrap().as_ref(), &msg[..]);
        assert!(env.unwrap(b"{\"other\":1}").is_none());
    }

    #[test]
    fn socketio_events_carry_the_message_as_their_argument() {
        let mut msg = Vec::new();
        soak_message::encode(3, 9, 1000, 48, &mut msg);
        let env = Envelope::socketio("/", "message");
        let mut wire = Vec::new();
        env.wrap(&msg, &mut wire);
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.starts_with(r#"42["message",""#), "{text}");
        assert_eq!(env.unwrap(&wire).unwrap().as_ref(), &msg[..]);
        // Another event, another namespace, an ack, a ping: not an echo.
        let other = text.replacen("message", "news", 1);
        assert!(env.unwrap(other.as_bytes()).is_none());
        assert!(env.unwrap(b"2").is_none());
        assert!(env.unwrap(br#"431["x"]"#).is_none());
        let chat = Envelope::socketio("/chat", "echo \"it\"");
        chat.wrap(&msg, &mut wire);
        let text = String::from_utf8(wire.clone()).unwrap();
        assert!(text.starts_with(r#"42/chat,["echo \"it\"",""#), "{text}");
        assert_eq!(chat.unwrap(&wire).unwrap().as_ref(), &msg[..]);
        assert!(env.unwrap(&wire).is_none(), "the root namespace's envelope");
    }

    #[test]
    fn the_template_needs_one_payload() {
        assert!(Envelope::new("no payload", Echo::Pointer("/d".into())).is_err());
        assert!(Envelope::new("{payload}{payload}", Echo::Pointer("/d".into())).is_err());
    }
}
