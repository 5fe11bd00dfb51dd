//! `decode_server`, `decode_client`: the frame decoder and the endpoint on arbitrary bytes.
//!
//! The decoder is fed the same bytes three ways: in one piece, in pieces the input chooses and
//! one byte at a time. A socket may split a stream anywhere, so the items, their positions in
//! the stream and the violation must not depend on the split. The endpoint is then fed in the
//! chosen pieces and checked against a model built from the one-piece decoding: the events it
//! hands out, the state it ends in, the close it reports, and what it writes back (pongs,
//! Close), which a decoder of the other role must read without complaint.

use crate::{Input, cuts};
use wsbeat::ws::proto::DataKind;
use wsbeat::ws::proto::close;
use wsbeat::ws::proto::endpoint::{Endpoint, Event, PingPolicy, State};
use wsbeat::ws::proto::frame::{
    self, CloseCheck, Decoder, Item, OP_PING, OP_PONG, Payload, Role, TOO_BIG, Violation,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Vec<u8>),
    Violation(Violation),
}

fn got(item: Item<'_>) -> Got {
    match item {
        Item::Message {
            kind: DataKind::Text,
            payload,
            ..
        } => Got::Text(payload.to_vec()),
        Item::Message {
            kind: DataKind::Binary,
            payload,
            ..
        } => Got::Binary(payload.to_vec()),
        Item::Ping(p) => Got::Ping(p.to_vec()),
        Item::Pong(p) => Got::Pong(p.to_vec()),
        Item::Close(p) => Got::Close(p.to_vec()),
    }
}

fn event(e: Event<'_>) -> Got {
    let bytes = |p: Payload<'_>| p.to_vec();
    match e {
        Event::Message {
            kind: DataKind::Text,
            payload,
            ..
        } => Got::Text(bytes(payload)),
        Event::Message {
            kind: DataKind::Binary,
            payload,
            ..
        } => Got::Binary(bytes(payload)),
        Event::Ping(p) => Got::Ping(bytes(p)),
        Event::Pong(p) => Got::Pong(bytes(p)),
    }
}

fn peer(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

/// What a decoder found, each item with the stream offset it was complete at.
#[derive(Debug, PartialEq, Eq)]
struct Decoded {
    items: Vec<(Got, usize)>,
    /// Whether a frame was still half received at the end (`None` after a fatal violation,
    /// when the decoder is abandoned).
    mid_frame: Option<bool>,
}

/// Decode `stream` in the pieces that end at `ends`, each in a buffer of its own as a read
/// leaves it. Like the endpoint, carries on after `TOO_BIG` (the peer's Close must still be
/// found) and stops at any other violation. From `discard_at` on, data is dropped, as once we
/// have sent Close; it must be a piece boundary.
fn decode(
    role: Role,
    max: usize,
    stream: &[u8],
    ends: &[usize],
    discard_at: Option<usize>,
) -> Decoded {
    let mut dec = Decoder::with_role(role, max);
    let mut items = Vec::new();
    let mut start = 0;
    for &end in ends {
        if discard_at == Some(start) {
            dec.discard_data();
        }
        let mut buf = stream[start..end].to_vec();
        let mut pos = 0;
        let mut rounds = 0;
        loop {
            // Each round consumes input or ends the piece: more rounds than bytes is a hang.
            rounds += 1;
            assert!(rounds <= buf.len() + 1, "the decoder makes no progress");
            let before = pos;
            match dec.next(&mut buf, &mut pos) {
                Ok(None) => {
                    assert_eq!(pos, end - start, "Ok(None) left input unread");
                    break;
                }
                Ok(Some(item)) => {
                    let g = got(item);
                    assert!(pos > before, "{g:?} handed out without consuming input");
                    check_item(&g, max);
                    items.push((g, start + pos));
                }
                Err(v) => {
                    assert!(pos <= end - start);
                    assert!(
                        v != TOO_BIG || pos > before,
                        "TOO_BIG without consuming input"
                    );
                    if v != TOO_BIG {
                        // Where a fatal violation leaves `pos` is unspecified: say which read
                        // found it, which is what decides whether it came before our Close.
                        items.push((Got::Violation(v), end));
                        return Decoded {
                            items,
                            mid_frame: None,
                        };
                    }
                    items.push((Got::Violation(v), start + pos));
                }
            }
        }
        start = end;
    }
    Decoded {
        items,
        mid_frame: Some(dec.is_mid_frame()),
    }
}

fn check_item(g: &Got, max: usize) {
    match g {
        Got::Text(p) => {
            assert!(std::str::from_utf8(p).is_ok(), "text message not UTF-8");
            assert!(p.len() <= max, "message over the limit");
        }
        Got::Binary(p) => assert!(p.len() <= max, "message over the limit"),
        Got::Ping(p) | Got::Pong(p) | Got::Close(p) => {
            assert!(
                p.len() <= frame::MAX_CONTROL_PAYLOAD,
                "control payload over 125"
            );
        }
        Got::Violation(_) => {}
    }
}

/// Where an item ends in the stream must not depend on the split. A fatal violation is known
/// only by the read that found it (invalid UTF-8, for one, is found as soon as the bad byte
/// arrives), which does depend on it. `TOO_BIG` is not fatal: reading goes on from it.
fn positions_that_matter(d: &Decoded) -> Vec<(Got, Option<usize>)> {
    d.items
        .iter()
        .map(|(g, at)| {
            let at = match g {
                Got::Violation(v) if *v != TOO_BIG => None,
                _ => Some(*at),
            };
            (g.clone(), at)
        })
        .collect()
}

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// What the endpoint must do with a stream.
#[derive(Debug)]
struct Expected {
    events: Vec<Got>,
    /// The frames it writes back.
    replies: Vec<Got>,
    state: State,
    /// The close code it reports and whether the close was clean, once known.
    ending: Option<(u16, bool)>,
}

/// What the endpoint must do with the items of `reference` (decoded with data dropped from
/// `close_at`, where the endpoint is told to close).
fn model(reference: &Decoded, close_at: Option<usize>, policy: PingPolicy) -> Expected {
    let our_close = Got::Close(close_payload(1000, "bye"));
    let mut x = Expected {
        events: Vec::new(),
        replies: Vec::new(),
        state: State::Open,
        ending: None,
    };
    for (g, at) in &reference.items {
        if x.state == State::Open && close_at.is_some_and(|c| *at > c) {
            x.replies.push(our_close.clone());
            x.state = State::CloseSent;
        }
        match (x.state, g) {
            (State::Open, Got::Violation(v)) => {
                x.replies.push(Got::Close(close_payload(v.code, v.reason)));
                x.ending = Some((v.code, false));
                // Too big is no broken protocol: an ordinary closing handshake follows.
                x.state = if *v == TOO_BIG {
                    State::CloseSent
                } else {
                    State::Closing
                };
            }
            (_, Got::Close(p)) => {
                let check = frame::check_close(p);
                let valid = !matches!(check, CloseCheck::Invalid(_));
                if x.state == State::Open {
                    x.replies.push(match check {
                        CloseCheck::Invalid(v) => Got::Close(close_payload(v.code, v.reason)),
                        _ => Got::Close(p.clone()),
                    });
                }
                x.ending = match x.ending {
                    // Our 1009 stays the story of a valid handshake.
                    Some((ours, _)) if valid => Some((ours, true)),
                    _ => Some((close::parse_close_payload(p).0, valid)),
                };
                x.state = State::Closing;
            }
            (State::Open, Got::Ping(p)) => {
                if policy == PingPolicy::Reply {
                    x.replies.push(Got::Pong(p.clone()));
                }
                x.events.push(g.clone());
            }
            (State::Open, _) => x.events.push(g.clone()),
            (_, Got::Violation(_)) => {
                x.ending = x.ending.or(Some((close::ABNORMAL, false)));
                x.state = State::Closing;
            }
            (_, Got::Pong(_)) => x.events.push(g.clone()),
            _ => {}
        }
        if x.state == State::Closing {
            break;
        }
    }
    if x.state == State::Open && close_at.is_some() {
        x.replies.push(our_close);
        x.state = State::CloseSent;
    }
    x
}

/// Feed `stream` to an endpoint in the pieces that end at `ends`, telling it to close at the
/// start of the piece at `close_at`. Checks what must hold after every call.
fn drive(
    ep: &mut Endpoint,
    stream: &[u8],
    ends: &[usize],
    close_at: Option<usize>,
) -> (Vec<Got>, Vec<u8>) {
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &end in ends {
        if close_at == Some(start) {
            ep.close(&mut out, 1000, "bye");
        }
        let mut buf = stream[start..end].to_vec();
        let mut pos = 0;
        let mut rounds = 0;
        loop {
            rounds += 1;
            assert!(rounds <= buf.len() + 1, "the endpoint makes no progress");
            let (state, written) = (ep.state(), out.len());
            let ev = ep.feed(&mut buf, &mut pos, &mut out).map(event);
            assert!(
                ep.state() >= state,
                "state went from {state:?} to {:?}",
                ep.state()
            );
            assert!(pos <= end - start);
            if state >= State::Closing {
                assert_eq!(ev, None, "an event after the connection was closing");
                assert_eq!(out.len(), written, "frames written after closing");
            }
            let Some(ev) = ev else {
                // The caller's loop (`feed_all`) stops here: unread bytes would be lost.
                assert!(
                    pos == end - start || ep.is_finishing(),
                    "feed stopped at {pos} of {} while {:?}",
                    end - start,
                    ep.state()
                );
                break;
            };
            assert!(
                ep.state() < State::Closing,
                "{ev:?} handed out while closing"
            );
            if ep.state() == State::CloseSent {
                assert!(matches!(ev, Got::Pong(_)), "{ev:?} after our Close");
            }
            events.push(ev);
        }
        start = end;
    }
    (events, out)
}

/// Read what the endpoint wrote, as its peer would.
fn replies_as_read_by_peer(role: Role, out: &[u8]) -> Vec<Got> {
    let mut dec = Decoder::with_role(peer(role), usize::MAX);
    let mut buf = out.to_vec();
    let mut pos = 0;
    let mut frames = Vec::new();
    loop {
        match dec.next(&mut buf, &mut pos) {
            Ok(Some(item)) => frames.push(got(item)),
            Ok(None) => break,
            Err(v) => panic!("the peer cannot read our replies: {v:?} in {out:?}"),
        }
    }
    assert!(!dec.is_mid_frame(), "a reply frame was cut short");
    frames
}

/// Write the items the peer sent (up to a violation) with the peer's writers, in fragments of
/// `fragment` bytes, and read them back: the writers and the decoder must agree.
fn round_trip(role: Role, max: usize, items: &[(Got, usize)], fragment: Option<usize>) {
    let sent: Vec<Got> = items
        .iter()
        .map(|(g, _)| g.clone())
        .take_while(|g| !matches!(g, Got::Violation(_)))
        .collect();
    let mut wire = Vec::new();
    for g in &sent {
        let them = peer(role);
        match g {
            Got::Text(p) => frame::write_message_as(them, &mut wire, DataKind::Text, p, fragment),
            Got::Binary(p) => {
                frame::write_message_as(them, &mut wire, DataKind::Binary, p, fragment)
            }
            Got::Ping(p) => frame::write_control_as(them, &mut wire, OP_PING, p),
            Got::Pong(p) => frame::write_control_as(them, &mut wire, OP_PONG, p),
            Got::Close(p) => frame::write_control_as(them, &mut wire, frame::OP_CLOSE, p),
            Got::Violation(_) => unreachable!(),
        }
    }
    let again = decode(role, max, &wire, &[wire.len()], None);
    let again: Vec<Got> = again.items.into_iter().map(|(g, _)| g).collect();
    assert_eq!(again, sent, "written and read back differently");
}

/// Input: a flags byte (bits 0-1 the message limit, 2 ignore pings, 3 close), with bit 3 a
/// byte choosing the piece where we close, a fragment size for the round trip (0: none), a
/// count of piece sizes (mod 16), the sizes, then the stream.
pub fn check(role: Role, data: &[u8]) {
    let mut input = Input(data);
    let flags = input.byte();
    let max = [16, 125, 1000, 1 << 20][(flags & 3) as usize];
    let policy = if flags & 4 != 0 {
        PingPolicy::Ignore
    } else {
        PingPolicy::Reply
    };
    let close_piece = (flags & 8 != 0).then(|| input.byte() as usize);
    let fragment = match input.byte() {
        0 => None,
        n => Some(n as usize),
    };
    let count = (input.byte() % 16) as usize;
    let sizes = input.take(count);
    let stream = input.rest();
    let len = stream.len();

    let whole = decode(role, max, stream, &[len], None);
    let ends = cuts(len, sizes);
    let split = decode(role, max, stream, &ends, None);
    assert_eq!(
        positions_that_matter(&split),
        positions_that_matter(&whole),
        "split at {ends:?}"
    );
    assert_eq!(split.mid_frame, whole.mid_frame);
    let bytewise: Vec<usize> = (1..=len).collect();
    let bytewise = decode(role, max, stream, &bytewise, None);
    assert_eq!(
        positions_that_matter(&bytewise),
        positions_that_matter(&whole),
        "byte by byte"
    );
    assert_eq!(bytewise.mid_frame, whole.mid_frame);
    round_trip(role, max, &whole.items, fragment);

    // Close only where a piece starts (`close` is called between reads), never past the end.
    let close_at = close_piece.and_then(|i| {
        let starts: Vec<usize> = std::iter::once(0).chain(ends.iter().copied()).collect();
        starts.get(i % starts.len()).copied().filter(|&s| s < len)
    });
    let reference = match close_at {
        Some(c) => decode(role, max, stream, &[c, len], close_at),
        None => whole,
    };
    let want = model(&reference, close_at, policy);

    let mut ep = Endpoint::new(role, max);
    ep.set_ping_policy(policy);
    let (events, mut out) = drive(&mut ep, stream, &ends, close_at);
    assert_eq!(events, want.events, "events");
    assert_eq!(ep.state(), want.state, "state at the end");
    assert_eq!(replies_as_read_by_peer(role, &out), want.replies, "replies");
    let ending = ep.ending().map(|e| (e.close.code, e.close.was_clean));
    assert_eq!(ending, want.ending, "how the connection ended");

    ep.on_eof();
    assert_eq!(ep.state(), State::Closed);
    let ending = ep.ending().expect("an ending after EOF");
    if !ending.close.code_valid || !ending.close.was_clean {
        assert!(
            ending.error.is_some(),
            "an unclean or forbidden close without an error"
        );
    }
    // Bytes that arrive with the EOF are not read.
    let (mut late, mut pos, written) = (stream.to_vec(), 0, out.len());
    assert!(ep.feed(&mut late, &mut pos, &mut out).is_none());
    assert_eq!(out.len(), written, "frames written after EOF");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_inputs() {
        crate::replay("decode_server", |d| check(Role::Server, d));
        crate::replay("decode_client", |d| check(Role::Client, d));
    }

    #[test]
    fn a_masked_message_ping_and_close_in_pieces() {
        let mut stream = Vec::new();
        frame::write_message_as(Role::Client, &mut stream, DataKind::Text, b"hello", Some(2));
        frame::write_control_as(Role::Client, &mut stream, OP_PING, b"p");
        frame::write_close_as(Role::Client, &mut stream, 1000, "done");
        for flags in [0u8, 4, 8] {
            let mut data = vec![flags];
            if flags & 8 != 0 {
                data.push(1);
            }
            data.extend_from_slice(&[3, 2, 0, 4]);
            data.extend_from_slice(&stream);
            check(Role::Server, &data);
        }
    }
}
