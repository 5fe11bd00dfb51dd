//! The decoder with permessage-deflate: RSV1 where it means something and nowhere else,
//! compressed messages inflated across frames and reads, the limit and UTF-8 applied to the
//! inflated bytes, and the wire size of what came in.

use super::*;
use crate::ws::ext::negotiation::{Offer, check_answer};
use crate::ws::ext::{Agreed, Deflate};

fn agreed() -> Agreed {
    check_answer(&[Offer::default()], &["permessage-deflate"])
        .unwrap()
        .unwrap()
}

/// A client's decoder that negotiated the extension, reading unmasked server frames.
fn decoder(limit: usize) -> Decoder {
    let mut d = Decoder::client(limit);
    d.set_deflate(Deflate::new(agreed(), false));
    d
}

/// One message as the server writes it: compressed, then in frames of `fragment`.
fn compressed(kind: DataKind, payload: &[u8], fragment: Option<usize>) -> Vec<u8> {
    let mut server = Deflate::new(agreed(), true);
    let mut body = Vec::new();
    server.compress(payload, &mut body);
    let mut out = Vec::new();
    write_message_flagged(Role::Server, &mut out, kind, &body, fragment, true);
    out
}

fn decode(dec: &mut Decoder, wire: &[u8], chunk: usize) -> Result<Vec<(Vec<u8>, Wire)>, u16> {
    let mut got = Vec::new();
    for piece in wire.chunks(chunk) {
        let mut buf = piece.to_vec();
        let mut pos = 0;
        loop {
            match dec.next(&mut buf, &mut pos) {
                Ok(Some(Item::Message { payload, wire, .. })) => got.push((payload.to_vec(), wire)),
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(v) => return Err(v.code),
            }
        }
    }
    Ok(got)
}

#[test]
fn compressed_messages_inflate_however_they_are_split() {
    let text = "ünïcode ☃ ".repeat(500);
    for fragment in [None, Some(7), Some(100)] {
        let wire = compressed(DataKind::Text, text.as_bytes(), fragment);
        for chunk in [1, 3, 64, wire.len()] {
            let mut dec = decoder(1 << 20);
            let got = decode(&mut dec, &wire, chunk).unwrap();
            assert_eq!(got.len(), 1, "{fragment:?} {chunk}");
            assert_eq!(got[0].0, text.as_bytes());
            assert_eq!(
                got[0].1,
                Wire {
                    compressed: true,
                    len: wire.len() as u64
                }
            );
        }
    }
}

#[test]
fn an_uncompressed_message_on_a_compressed_connection_is_taken_as_it_is() {
    let mut out = Vec::new();
    write_message(&mut out, DataKind::Text, b"plain", None);
    let got = decode(&mut decoder(1 << 20), &out, out.len()).unwrap();
    assert_eq!(got[0].0, b"plain");
    assert_eq!(
        got[0].1,
        Wire {
            compressed: false,
            len: 7
        }
    );
}

#[test]
fn rsv1_is_1002_without_the_extension_on_continuations_and_on_control_frames() {
    let wire = compressed(DataKind::Text, b"hello", None);
    assert_eq!(decode(&mut Decoder::client(1 << 20), &wire, 64), Err(1002));
    // A second frame with RSV1.
    let mut frag = compressed(DataKind::Binary, b"hello world", Some(2));
    assert!(frag.len() > 8, "at least two frames");
    let second = 2 + 2;
    assert_eq!(frag[second] & 0x0F, OP_CONTINUATION);
    frag[second] |= 0x40;
    assert_eq!(decode(&mut decoder(1 << 20), &frag, 64), Err(1002));
    let mut ping = Vec::new();
    write_control(&mut ping, OP_PING, b"x");
    ping[0] |= 0x40;
    assert_eq!(decode(&mut decoder(1 << 20), &ping, 64), Err(1002));
    // RSV2 and RSV3 mean nothing even with the extension.
    let mut rsv2 = compressed(DataKind::Text, b"hello", None);
    rsv2[0] |= 0x20;
    assert_eq!(decode(&mut decoder(1 << 20), &rsv2, 64), Err(1002));
}

#[test]
fn the_limit_and_utf8_apply_to_the_inflated_bytes() {
    let zeros = vec![0u8; 100_000];
    let wire = compressed(DataKind::Binary, &zeros, None);
    assert!(wire.len() < 1000);
    assert_eq!(decode(&mut decoder(50_000), &wire, 512), Err(1009));
    assert!(decode(&mut decoder(100_000), &wire, 512).is_ok());
    let bad = compressed(DataKind::Text, b"ok \xff not utf-8", None);
    assert_eq!(decode(&mut decoder(1 << 20), &bad, 3), Err(1007));
    // Not deflate at all.
    let mut garbage = Vec::new();
    write_message_flagged(
        Role::Server,
        &mut garbage,
        DataKind::Binary,
        &[0xff; 20],
        None,
        true,
    );
    assert_eq!(decode(&mut decoder(1 << 20), &garbage, 64), Err(1007));
}
