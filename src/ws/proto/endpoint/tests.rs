//! The endpoint without a network: bytes in, bytes and events out.

use super::*;
use crate::ws::proto::frame::{OP_TEXT, write_header};

/// A frame as `from` would send it (masked when a client sends it).
fn frame_from(from: Role, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match from {
        Role::Client => frame::write_control_as(Role::Client, &mut out, opcode, payload),
        Role::Server => {
            write_header(&mut out, true, opcode, payload.len());
            out.extend_from_slice(payload);
        }
    }
    out
}

fn data_from(from: Role, kind: DataKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    frame::write_message_as(from, &mut out, kind, payload, None);
    out
}

fn peer_of(role: Role) -> Role {
    match role {
        Role::Client => Role::Server,
        Role::Server => Role::Client,
    }
}

#[derive(Debug, PartialEq)]
enum Seen {
    Message(DataKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

/// Feed `wire` in one go; returns the events and what the endpoint wrote, decoded as the peer
/// reads it.
fn feed(ep: &mut Endpoint, wire: &[u8]) -> (Vec<Seen>, Vec<Item<'static>>) {
    let mut input = wire.to_vec();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut seen = Vec::new();
    while let Some(ev) = ep.feed(&mut input, &mut pos, &mut out) {
        seen.push(match ev {
            Event::Message { kind, payload, .. } => Seen::Message(kind, payload.to_vec()),
            Event::Ping(p) => Seen::Ping(p.to_vec()),
            Event::Pong(p) => Seen::Pong(p.to_vec()),
        });
    }
    (seen, written(ep.role(), out))
}

/// What an endpoint of `role` wrote, read back by its peer.
fn written(role: Role, mut out: Vec<u8>) -> Vec<Item<'static>> {
    let mut dec = Decoder::with_role(peer_of(role), 1 << 20);
    let mut pos = 0;
    let mut items = Vec::new();
    while let Some(item) = dec.next(&mut out, &mut pos).expect("we write valid frames") {
        items.push(match item {
            Item::Message {
                kind,
                payload,
                wire,
            } => Item::Message {
                kind,
                payload: Payload::Owned(payload.to_vec()),
                wire,
            },
            Item::Ping(p) => Item::Ping(Payload::Owned(p.to_vec())),
            Item::Pong(p) => Item::Pong(Payload::Owned(p.to_vec())),
            Item::Close(p) => Item::Close(Payload::Owned(p.to_vec())),
        });
    }
    items
}

fn close_payload(item: &Item<'_>) -> Vec<u8> {
    match item {
        Item::Close(p) => p.to_vec(),
        other => panic!("expected a Close frame, got {other:?}"),
    }
}

#[test]
fn pings_are_answered_in_both_roles_unless_the_policy_says_not_to() {
    for role in [Role::Client, Role::Server] {
        let mut ep = Endpoint::new(role, 1 << 20);
        let (seen, out) = feed(&mut ep, &frame_from(peer_of(role), OP_PING, b"hb"));
        assert_eq!(seen, vec![Seen::Ping(b"hb".to_vec())], "{role:?}");
        assert!(
            matches!(&out[..], [Item::Pong(p)] if &p[..] == b"hb"),
            "{out:?}"
        );

        let mut ep = Endpoint::new(role, 1 << 20);
        ep.set_ping_policy(PingPolicy::Ignore);
        let (seen, out) = feed(&mut ep, &frame_from(peer_of(role), OP_PING, b"hb"));
        assert_eq!(seen, vec![Seen::Ping(b"hb".to_vec())]);
        assert!(out.is_empty(), "{out:?}");
    }
}

#[test]
fn a_peer_close_is_echoed_and_reported_exactly() {
    for role in [Role::Client, Role::Server] {
        let mut ep = Endpoint::new(role, 1 << 20);
        let mut wire = data_from(peer_of(role), DataKind::Text, b"last");
        wire.extend(frame_from(peer_of(role), OP_CLOSE, b"\x0f\xa0bye"));
        // Nothing after the Close counts.
        wire.extend(data_from(peer_of(role), DataKind::Text, b"ignored"));
        let (seen, out) = feed(&mut ep, &wire);
        assert_eq!(seen, vec![Seen::Message(DataKind::Text, b"last".to_vec())]);
        assert_eq!(close_payload(&out[0]), b"\x0f\xa0bye");
        assert_eq!(ep.state(), State::Closing);
        let ending = ep.ending().expect("ended").clone();
        assert_eq!(
            (ending.close.code, ending.close.reason.as_str()),
            (4000, "bye")
        );
        assert!(ending.close.was_clean && ending.error.is_none());
        assert_eq!(ending.close.initiator, ep.them());
        ep.on_eof();
        assert_eq!(ep.state(), State::Closed);
        assert!(
            ep.ending().unwrap().close.was_clean,
            "the TCP close after it is normal"
        );
    }
}

#[test]
fn our_close_drops_data_until_the_answer_and_keeps_pongs() {
    let mut ep = Endpoint::new(Role::Client, 1 << 20);
    let mut out = Vec::new();
    ep.close(&mut out, 4001, "done");
    assert_eq!(
        close_payload(&written(Role::Client, out)[0]),
        b"\x0f\xa1done"
    );
    assert_eq!(ep.state(), State::CloseSent);
    assert!(
        ep.send_message(&mut Vec::new(), DataKind::Text, b"x", None)
            .is_err()
    );
    let mut wire = data_from(Role::Server, DataKind::Binary, &[1; 300]);
    wire.extend(frame_from(Role::Server, OP_PING, b"p"));
    wire.extend(frame_from(Role::Server, OP_PONG, b"late"));
    wire.extend(frame_from(Role::Server, OP_CLOSE, b"\x03\xe8"));
    let (seen, out) = feed(&mut ep, &wire);
    assert_eq!(seen, vec![Seen::Pong(b"late".to_vec())]);
    assert!(out.is_empty(), "no pong and no second Close: {out:?}");
    let ending = ep.ending().unwrap();
    assert_eq!((ending.close.code, ending.close.was_clean), (1000, true));
    assert_eq!(ending.close.initiator, Initiator::Client);
}

/// `echo-server --replay` at shutdown: a message the client sent before it saw our Close is
/// read, not dropped; a ping still gets no answer after our Close.
#[test]
fn read_after_close_hands_on_data_until_the_answer() {
    let mut ep = Endpoint::new(Role::Server, 1 << 20);
    ep.set_read_after_close(true);
    let mut out = Vec::new();
    ep.close(&mut out, 1001, "going away");
    let mut wire = data_from(Role::Client, DataKind::Text, b"in flight");
    wire.extend(frame_from(Role::Client, OP_PING, b"p"));
    wire.extend(frame_from(Role::Client, OP_CLOSE, b"\x03\xe9"));
    wire.extend(data_from(Role::Client, DataKind::Text, b"after its Close"));
    let (seen, out) = feed(&mut ep, &wire);
    assert_eq!(
        seen,
        vec![Seen::Message(DataKind::Text, b"in flight".to_vec())]
    );
    assert!(out.is_empty(), "no pong and no second Close: {out:?}");
    assert!(ep.ending().unwrap().close.was_clean);
}

#[test]
fn an_unanswered_close_times_out_as_1006() {
    let mut ep = Endpoint::new(Role::Server, 1 << 20);
    ep.close(&mut Vec::new(), 1001, "going away");
    ep.on_timeout();
    let ending = ep.ending().unwrap();
    assert_eq!(ep.state(), State::Closed);
    assert_eq!((ending.close.code, ending.close.was_clean), (1006, false));
    assert_eq!(ending.close.initiator, Initiator::Server);
    // As in the browser, a 1006 has no reason; why it ended is the diagnostic.
    assert_eq!(ending.close.reason, "");
    assert!(
        ending
            .close
            .diagnostic
            .as_deref()
            .is_some_and(|d| d.contains("sent Close 1001")),
        "{ending:?}"
    );
}

#[test]
fn a_message_over_the_limit_closes_with_1009_in_both_roles() {
    for role in [Role::Client, Role::Server] {
        let mut ep = Endpoint::new(role, 10);
        let mut wire = data_from(peer_of(role), DataKind::Binary, &[0; 11]);
        // The peer answers our 1009 with its own Close: the handshake completes cleanly.
        wire.extend(frame_from(peer_of(role), OP_CLOSE, b"\x03\xe8"));
        let (seen, out) = feed(&mut ep, &wire);
        assert!(seen.is_empty());
        assert_eq!(&close_payload(&out[0])[..2], b"\x03\xf1");
        let ending = ep.ending().unwrap();
        assert_eq!(
            (ending.close.code, ending.close.was_clean),
            (1009, true),
            "{role:?}"
        );
        assert_eq!(ending.close.initiator, ep.us());
        assert_eq!(
            ending.error.as_ref().map(Error::kind),
            Some(ErrorKind::MessageTooLarge)
        );
    }
}

#[test]
fn violations_fail_with_the_code_rfc_6455_asks_for_and_stop_reading() {
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "bad UTF-8",
            data_from(Role::Client, DataKind::Text, &[0xFF]),
            1007,
        ),
        ("reserved opcode", frame_from(Role::Client, 0x3, b""), 1002),
        (
            "unmasked client frame",
            {
                let mut f = Vec::new();
                write_header(&mut f, true, OP_TEXT, 1);
                f.push(b'x');
                f
            },
            1002,
        ),
    ];
    for (name, mut wire, code) in cases {
        let mut ep = Endpoint::new(Role::Server, 1 << 20);
        wire.extend(data_from(Role::Client, DataKind::Binary, b"after"));
        let (seen, out) = feed(&mut ep, &wire);
        assert!(seen.is_empty(), "{name}: {seen:?}");
        assert_eq!(out.len(), 1, "{name}: one Close and nothing else");
        assert_eq!(
            u16::from_be_bytes(close_payload(&out[0])[..2].try_into().unwrap()),
            code,
            "{name}"
        );
        assert_eq!(ep.state(), State::Closing, "{name}");
        let ending = ep.ending().unwrap();
        assert_eq!(
            (ending.close.code, ending.close.was_clean),
            (code, false),
            "{name}"
        );
        assert_eq!(
            ending.error.as_ref().map(Error::kind),
            Some(ErrorKind::Protocol)
        );
    }
}

#[test]
fn forbidden_close_codes_are_reported_as_sent_and_answered_with_1002() {
    for code in [1005u16, 1006, 1015, 999, 2000] {
        let mut ep = Endpoint::new(Role::Client, 1 << 20);
        let (_, out) = feed(
            &mut ep,
            &frame_from(Role::Server, OP_CLOSE, &code.to_be_bytes()),
        );
        assert_eq!(&close_payload(&out[0])[..2], b"\x03\xea", "{code}");
        let ending = ep.ending().unwrap();
        assert_eq!(
            (
                ending.close.code,
                ending.close.code_valid,
                ending.close.was_clean
            ),
            (code, false, false)
        );
        assert_eq!(ending.close.initiator, Initiator::Server);
    }
}

#[test]
fn an_abort_is_a_1006_that_we_started() {
    let mut ep = Endpoint::new(Role::Server, 1 << 20);
    ep.abort("heartbeat timeout");
    let ending = ep.ending().unwrap();
    assert_eq!(ep.state(), State::Closed);
    assert_eq!(
        (ending.close.code, ending.close.initiator),
        (1006, Initiator::Server)
    );
}
