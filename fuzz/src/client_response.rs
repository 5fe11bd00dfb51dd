//! `client_response`: the client's check of the server's answer to the upgrade.
//!
//! Half the inputs are raw bytes; the other half start with a 101 that carries the right
//! `Sec-WebSocket-Accept` (which random bytes never find), so that the checks past it are
//! reached. Asserted: no panic; what is accepted is a 101 with the right key, `Upgrade:
//! websocket`, no extension and a subprotocol we offered; the head's length is within the
//! buffer; and the verdict does not depend on how the response arrived (`upgrade` checks the
//! growing buffer after every read).

use crate::{Input, cuts};
use std::time::Duration;
use wsbeat::error::Error;
use wsbeat::ws::handshake::client::{Accepted, ConnectOptions, check_response};
use wsbeat::ws::handshake::server::accept_key;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

type Verdict = Result<Option<(Accepted, usize)>, Error>;

/// What of a verdict must not depend on the split. An error's message may quote the start of
/// what arrived, so only its kind and status count.
fn essence(v: &Verdict) -> String {
    match v {
        Ok(None) => "partial".to_string(),
        Ok(Some((a, len))) => format!(
            "{len} {} {:?} {:?} {:?} {:?}",
            a.status, a.reason, a.headers, a.subprotocol, a.extensions
        ),
        Err(e) => format!("{:?} {:?}", e.kind(), e.status),
    }
}

/// Input: a flags byte (mod 3 the subprotocols offered, bit 7 a valid status line and accept
/// key first, bit 6 `Upgrade` and `Connection` too), a count of piece sizes (mod 16), the
/// sizes, then the response (or the rest of it).
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let offers = [
        vec![],
        vec!["chat".to_string()],
        vec!["chat".to_string(), "superchat".to_string()],
    ];
    let subprotocols = offers[(flags % 3) as usize].clone();
    let count = (input.byte() % 16) as usize;
    let sizes = input.take(count);
    let mut buf = Vec::new();
    if flags & 0x80 != 0 {
        buf.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        buf.extend_from_slice(format!("Sec-WebSocket-Accept: {}\r\n", accept_key(KEY)).as_bytes());
        if flags & 0x40 != 0 {
            buf.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        }
    }
    buf.extend_from_slice(input.rest());

    let opts = ConnectOptions {
        target: "ws://127.0.0.1:9/".parse().expect("a valid target"),
        headers: Vec::new(),
        origin: None,
        subprotocols,
        auth: None,
        connect_timeout: Duration::from_secs(1),
        tls: None,
        max_message_size: 1 << 20,
        source: None,
        reach: Default::default(),
        follow: None,
        // So that an answer's permessage-deflate parameters are checked, not refused whole.
        compress: vec![
            wsbeat::ws::ext::Offer::parse("client_max_window_bits").expect("a valid offer"),
        ],
    };
    let whole = check_response(&buf, KEY, &opts);
    match &whole {
        Ok(None) => {}
        Ok(Some((acc, len))) => {
            assert!(*len <= buf.len());
            assert_eq!(acc.status, 101);
            let header = |name: &str| {
                acc.headers
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            };
            assert_eq!(
                header("sec-websocket-accept"),
                Some(accept_key(KEY).as_str())
            );
            assert!(header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")));
            assert!(acc.extensions.is_empty());
            match &acc.subprotocol {
                Some(p) => assert!(opts.subprotocols.contains(p), "{p:?} was not offered"),
                None => assert!(opts.subprotocols.is_empty()),
            }
            let again = check_response(&buf[..*len], KEY, &opts);
            assert_eq!(essence(&again), essence(&whole), "the head alone");
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            if let Some(status) = e.status {
                assert_ne!(status, 101);
            }
        }
    }

    for end in cuts(buf.len(), sizes) {
        let v = check_response(&buf[..end], KEY, &opts);
        if matches!(v, Ok(None)) {
            continue;
        }
        assert_eq!(
            essence(&v),
            essence(&whole),
            "decided differently after {end} bytes"
        );
        break;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_inputs() {
        crate::replay("client_response", check);
    }

    #[test]
    fn a_valid_answer_in_pieces() {
        for flags in [0xC0u8, 0xC1, 0x80, 0] {
            let mut data = vec![flags, 2, 5, 40];
            data.extend_from_slice(b"Sec-WebSocket-Protocol: chat\r\n\r\n\x81\x00");
            check(&data);
        }
    }
}
