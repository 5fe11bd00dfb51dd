//! `server_request`: the echo server's parser of the upgrade request on arbitrary bytes.
//!
//! Beyond not panicking: what it decides must not depend on how the request arrived (the
//! accept loop parses the growing buffer after every read); a head it accepts ends where it
//! says, and the 101 it would send passes the client's own check for the key in the request;
//! a refusal is a well-formed HTTP response whose Content-Length is its body's.

use crate::{Input, cuts};
use std::time::Duration;
use wsbeat::ws::handshake::client::{ConnectOptions, check_response};
use wsbeat::ws::handshake::server::{
    MAX_REQUEST, Parsed, Policy, Refusal, parse, switching_protocols,
};

fn key_of(head: &[u8]) -> String {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    assert!(matches!(req.parse(head), Ok(httparse::Status::Complete(_))));
    let key = req
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("sec-websocket-key"))
        .expect("an accepted request has a key");
    String::from_utf8_lossy(key.value).trim().to_string()
}

fn check_refusal(r: &Refusal) {
    assert!((200..=599).contains(&r.status), "status {}", r.status);
    let bytes = r.to_bytes();
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut resp = httparse::Response::new(&mut headers);
    let head = match resp.parse(&bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        other => panic!(
            "refusal is not HTTP: {other:?}: {:?}",
            String::from_utf8_lossy(&bytes)
        ),
    };
    assert_eq!(resp.code, Some(r.status));
    assert_eq!(
        resp.headers.len(),
        4 + r.headers.len(),
        "headers injected into {:?}",
        String::from_utf8_lossy(&bytes)
    );
    let length = resp
        .headers
        .iter()
        .find(|h| h.name == "Content-Length")
        .map(|h| {
            String::from_utf8_lossy(h.value)
                .parse::<usize>()
                .expect("a number")
        });
    assert_eq!(length, Some(bytes.len() - head));
    assert_eq!(&bytes[head..], r.body.as_bytes());
}

/// Input: a policy byte (mod 3 the subprotocols we accept, bit 7 `--reject`), with bit 7 a
/// byte choosing the status, a count of piece sizes (mod 16), the sizes, then the request.
pub fn check(data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let offers = [
        vec![],
        vec!["chat".to_string()],
        vec!["chat".to_string(), "superchat".to_string()],
    ];
    let subprotocols = &offers[(flags % 3) as usize];
    let reject = (flags & 0x80 != 0).then(|| 200 + (input.byte() as u16 * 3) % 400);
    let deflate = wsbeat::ws::ext::ServerPolicy::default();
    let policy = Policy {
        subprotocols,
        reject,
        deflate: (flags & 0x40 != 0).then_some(&deflate),
    };
    let count = (input.byte() % 16) as usize;
    let sizes = input.take(count);
    let buf = input.rest();

    let whole = parse(buf, policy);
    let (consumed, outcome) = match &whole {
        Parsed::Partial => {
            assert!(buf.len() < MAX_REQUEST, "partial past the limit");
            return;
        }
        Parsed::Done { consumed, outcome } => (*consumed, outcome),
    };
    assert!(
        0 < consumed && consumed <= buf.len(),
        "consumed {consumed} of {}",
        buf.len()
    );
    match outcome {
        Ok(up) => {
            assert!(
                buf[..consumed].ends_with(b"\n"),
                "accepted head does not end a line"
            );
            assert_eq!(parse(&buf[..consumed], policy), whole, "the head alone");
            assert!(reject.is_none());
            match &up.subprotocol {
                Some(p) => assert!(subprotocols.contains(p)),
                None => assert!(subprotocols.is_empty()),
            }
            let response = switching_protocols(up);
            let opts = ConnectOptions {
                target: "ws://127.0.0.1:9/".parse().expect("a valid target"),
                headers: Vec::new(),
                origin: None,
                subprotocols: up.subprotocol.iter().cloned().collect(),
                auth: None,
                connect_timeout: Duration::from_secs(1),
                tls: None,
                max_message_size: 1 << 20,
                source: None,
                reach: Default::default(),
                follow: None,
                // What the request offered: the server's answer must satisfy it.
                compress: up
                    .offered_extensions
                    .iter()
                    .flat_map(|e| e.split(", "))
                    .filter_map(|e| wsbeat::ws::ext::Offer::parse(e).ok())
                    .collect(),
            };
            let key = key_of(&buf[..consumed]);
            match check_response(&response, &key, &opts) {
                Ok(Some((acc, len))) => {
                    assert_eq!(len, response.len());
                    assert_eq!(acc.subprotocol, up.subprotocol);
                }
                other => panic!("our client refuses our 101 for key {key:?}: {other:?}"),
            }
        }
        Err(r) => check_refusal(r),
    }

    // Split invariance, as the accept loop sees it, within the size limit (past it, a head
    // still unfinished is refused, which depends on how much arrived).
    if buf.len() >= MAX_REQUEST {
        return;
    }
    for end in cuts(buf.len(), sizes) {
        let Parsed::Done {
            consumed: c,
            outcome: o,
        } = parse(&buf[..end], policy)
        else {
            continue;
        };
        assert_eq!(&o, outcome, "decided differently after {end} bytes");
        // A head complete at `end` ends where the whole one does; a malformed one consumes
        // whatever arrived.
        assert!(
            c == consumed || (c == end && consumed == buf.len() && o.is_err()),
            "consumed {c} of {end} bytes, {consumed} of the whole {}",
            buf.len()
        );
        break;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_inputs() {
        crate::replay("server_request", check);
    }

    #[test]
    fn a_valid_request_in_pieces() {
        let req = b"GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
            Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
            Sec-WebSocket-Protocol: superchat\r\n\r\n\x81\x80";
        for flags in [0u8, 1, 2, 0x80] {
            let mut data = vec![flags];
            if flags & 0x80 != 0 {
                data.push(1);
            }
            data.extend_from_slice(&[2, 9, 30]);
            data.extend_from_slice(req);
            check(&data);
        }
    }
}
