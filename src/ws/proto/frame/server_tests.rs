//! The server's role: proof that the server reads and writes exactly what it did before the
//! codec learned the client's role.

use super::*;

/// A client frame as a browser would send it.
fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, fin, opcode, payload.len());
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    client_frame(true, opcode, payload, [0x12, 0x34, 0x56, 0x78])
}

#[derive(Debug, PartialEq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Vec<u8>),
    Fail(u16),
}

/// Feed `wire` in pieces of `chunk` bytes; collect what comes out.
fn decode(wire: &[u8], chunk: usize, max: usize) -> Vec<Got> {
    let mut dec = Decoder::new(max);
    let mut got = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        let mut buf = piece.to_vec();
        let mut pos = 0;
        loop {
            match dec.next(&mut buf, &mut pos) {
                Ok(Some(item)) => got.push(match item {
                    Item::Message {
                        kind: DataKind::Text,
                        payload,
                        ..
                    } => Got::Text(String::from_utf8(payload.to_vec()).unwrap()),
                    Item::Message { payload, .. } => Got::Binary(payload.to_vec()),
                    Item::Ping(p) => Got::Ping(p.to_vec()),
                    Item::Pong(p) => Got::Pong(p.to_vec()),
                    Item::Close(p) => Got::Close(p.to_vec()),
                }),
                Ok(None) => break,
                Err(v) => {
                    got.push(Got::Fail(v.code));
                    return got;
                }
            }
        }
    }
    got
}

fn every_split(wire: &[u8], max: usize) -> Vec<Got> {
    let whole = decode(wire, wire.len(), max);
    for chunk in 1..wire.len().min(40) {
        assert_eq!(
            decode(wire, chunk, max),
            whole,
            "split into {chunk}-byte reads"
        );
    }
    whole
}

#[test]
fn unmask_matches_the_bytewise_definition_at_every_offset() {
    let mask = [0xA1, 0xB2, 0xC3, 0xD4];
    let data: Vec<u8> = (0..37u8).collect();
    for offset in 0..8 {
        let mut fast = data.clone();
        unmask(&mut fast, mask, offset);
        let slow: Vec<u8> = data
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[(offset + i) % 4])
            .collect();
        assert_eq!(fast, slow, "offset {offset}");
    }
}

#[test]
fn text_and_binary_keep_their_type_and_bytes_under_any_split() {
    let mut wire = frame(OP_TEXT, "héllo ✓".as_bytes());
    wire.extend(frame(OP_BINARY, &[0xFF, 0x00, 0x80, 0xFE]));
    wire.extend(frame(OP_BINARY, &[]));
    wire.extend(frame(OP_TEXT, &[]));
    let got = every_split(&wire, 1 << 20);
    assert_eq!(
        got,
        vec![
            Got::Text("héllo ✓".into()),
            Got::Binary(vec![0xFF, 0x00, 0x80, 0xFE]),
            Got::Binary(vec![]),
            Got::Text(String::new()),
        ]
    );
}

#[test]
fn extended_lengths_16_and_64_bit() {
    let medium = vec![7u8; 300];
    let large = vec![9u8; 70_000];
    let mut wire = frame(OP_BINARY, &medium);
    wire.extend(frame(OP_BINARY, &large));
    let got = decode(&wire, 4096, 1 << 20);
    assert_eq!(got, vec![Got::Binary(medium), Got::Binary(large)]);
}

#[test]
fn fragments_are_reassembled_with_control_frames_between_them() {
    let m = [1, 2, 3, 4];
    let mut wire = client_frame(false, OP_TEXT, "frag".as_bytes(), m);
    wire.extend(client_frame(true, OP_PING, b"p", m));
    wire.extend(client_frame(false, OP_CONTINUATION, "men".as_bytes(), m));
    wire.extend(client_frame(false, OP_CONTINUATION, b"", m));
    wire.extend(client_frame(true, OP_CONTINUATION, "ted".as_bytes(), m));
    let got = every_split(&wire, 1 << 20);
    assert_eq!(
        got,
        vec![Got::Ping(b"p".to_vec()), Got::Text("fragmented".into())]
    );
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    let bytes = "€uro".as_bytes(); // € is E2 82 AC
    let m = [9, 8, 7, 6];
    let mut wire = client_frame(false, OP_TEXT, &bytes[..1], m);
    wire.extend(client_frame(false, OP_CONTINUATION, &bytes[1..2], m));
    wire.extend(client_frame(true, OP_CONTINUATION, &bytes[2..], m));
    assert_eq!(every_split(&wire, 1 << 20), vec![Got::Text("€uro".into())]);
}

#[test]
fn invalid_utf8_fails_with_1007_as_soon_as_it_arrives() {
    // A single frame.
    assert_eq!(
        decode(&frame(OP_TEXT, &[b'a', 0xFF]), 100, 1 << 20),
        vec![Got::Fail(1007)]
    );
    // A truncated sequence at the end of the message.
    assert_eq!(
        decode(&frame(OP_TEXT, &[b'a', 0xE2, 0x82]), 100, 1 << 20),
        vec![Got::Fail(1007)]
    );
    // Surrogates and code points past U+10FFFF.
    assert_eq!(
        decode(&frame(OP_TEXT, &[0xED, 0xA0, 0x80]), 100, 1 << 20),
        vec![Got::Fail(1007)]
    );
    // Fail fast: the first fragment already holds an impossible sequence (F4 90 is
    // above U+10FFFF); the message's last frame never comes.
    let m = [1, 1, 1, 1];
    let wire = client_frame(false, OP_TEXT, &[b'o', b'k', 0xF4, 0x90], m);
    assert_eq!(decode(&wire, wire.len(), 1 << 20), vec![Got::Fail(1007)]);
    // ...and inside one frame that has only partly arrived.
    let wire = frame(OP_TEXT, &[b'a', b'b', 0xC0, 0xAF, b'c', b'd', b'e', b'f']);
    let mut dec = Decoder::new(1 << 20);
    let mut part = wire[..wire.len() - 4].to_vec();
    let mut pos = 0;
    assert_eq!(dec.next(&mut part, &mut pos).unwrap_err().code, 1007);
    // Invalid across the fragment boundary: E2 then 28.
    let mut wire = client_frame(false, OP_TEXT, &[0xE2], m);
    wire.extend(client_frame(true, OP_CONTINUATION, &[0x28], m));
    assert_eq!(every_split(&wire, 1 << 20), vec![Got::Fail(1007)]);
}

#[test]
fn protocol_violations_fail_with_1002() {
    let m = [1, 2, 3, 4];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("unmasked", vec![0x81, 0x02, b'h', b'i']),
        ("rsv1", {
            let mut f = frame(OP_TEXT, b"x");
            f[0] |= 0x40;
            f
        }),
        ("rsv3", {
            let mut f = frame(OP_BINARY, b"x");
            f[0] |= 0x10;
            f
        }),
        ("reserved data opcode", frame(0x3, b"")),
        ("reserved control opcode", frame(0xB, b"")),
        ("fragmented ping", client_frame(false, OP_PING, b"p", m)),
        ("long ping", frame(OP_PING, &[0u8; 126])),
        ("long close", frame(OP_CLOSE, &[0x03, 0xE8].repeat(63))),
        ("continuation first", frame(OP_CONTINUATION, b"x")),
        ("text inside a fragmented message", {
            let mut w = client_frame(false, OP_TEXT, b"a", m);
            w.extend(frame(OP_TEXT, b"b"));
            w
        }),
        ("64-bit length with top bit", {
            let mut w = vec![0x82, 0xFF];
            w.extend_from_slice(&(1u64 << 63).to_be_bytes());
            w.extend_from_slice(&m);
            w
        }),
    ];
    for (name, wire) in cases {
        for chunk in [1, 3, wire.len()] {
            let got = decode(&wire, chunk, 1 << 20);
            assert_eq!(got.last(), Some(&Got::Fail(1002)), "{name} in {chunk}s");
        }
    }
}

#[test]
fn oversize_messages_fail_with_1009_from_the_header_alone() {
    let m = [0, 0, 0, 0];
    assert_eq!(
        decode(&frame(OP_BINARY, &[0; 11])[..6], 6, 10),
        vec![Got::Fail(1009)]
    );
    assert_eq!(decode(&frame(OP_BINARY, &[0; 10]), 100, 10).len(), 1);
    // The limit is per message, across its fragments.
    let mut wire = client_frame(false, OP_BINARY, &[0; 6], m);
    wire.extend(client_frame(true, OP_CONTINUATION, &[0; 6], m));
    assert_eq!(decode(&wire, 100, 10), vec![Got::Fail(1009)]);
    // Control frames do not count.
    let mut wire = client_frame(false, OP_BINARY, &[0; 6], m);
    wire.extend(client_frame(true, OP_PING, &[0; 100], m));
    wire.extend(client_frame(true, OP_CONTINUATION, &[0; 4], m));
    assert_eq!(decode(&wire, 7, 10).len(), 2);
}

#[test]
fn after_1009_the_oversize_payload_is_skipped_and_the_close_still_found() {
    let mut dec = Decoder::new(10);
    let mut wire = frame(OP_BINARY, &[0x88; 50]);
    wire.extend(frame(OP_CLOSE, &[0x03, 0xE8]));
    let mut pos = 0;
    assert_eq!(dec.next(&mut wire, &mut pos).unwrap_err(), TOO_BIG);
    match dec.next(&mut wire, &mut pos) {
        Ok(Some(Item::Close(p))) => assert_eq!(&*p, &[0x03, 0xE8]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn control_frames_split_across_reads_are_kept_whole() {
    let payload: Vec<u8> = (0..125).collect();
    let mut wire = frame(OP_PING, &payload);
    wire.extend(frame(OP_PONG, b""));
    wire.extend(frame(OP_CLOSE, &[0x03, 0xE8, b'o', b'k']));
    assert_eq!(
        every_split(&wire, 1 << 20),
        vec![
            Got::Ping(payload),
            Got::Pong(vec![]),
            Got::Close(vec![0x03, 0xE8, b'o', b'k'])
        ]
    );
}

#[test]
fn discard_mode_skips_data_but_still_finds_the_close() {
    let mut dec = Decoder::new(4);
    dec.discard_data();
    let mut wire = frame(OP_BINARY, &[1; 100]);
    wire.extend(frame(OP_TEXT, &[0xFF]));
    wire.extend(frame(OP_CLOSE, &[0x03, 0xE8]));
    let mut pos = 0;
    match dec.next(&mut wire, &mut pos) {
        Ok(Some(Item::Close(p))) => assert_eq!(&*p, &[0x03, 0xE8]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn idle_decoder_holds_no_buffers() {
    let mut dec = Decoder::new(1 << 20);
    let m = [5, 6, 7, 8];
    let mut wire = client_frame(false, OP_TEXT, b"ab", m);
    wire.extend(client_frame(true, OP_CONTINUATION, b"cd", m));
    let mut pos = 0;
    let got = dec.next(&mut wire, &mut pos).unwrap();
    assert!(matches!(got, Some(Item::Message { .. })));
    assert!(!dec.is_mid_frame());
    assert_eq!(dec.buffer_capacity(), (0, 0));
}

#[test]
fn encoder_writes_minimal_lengths_and_fragments() {
    let mut out = Vec::new();
    write_header(&mut out, true, OP_TEXT, 125);
    assert_eq!(out, [0x81, 125]);
    out.clear();
    write_header(&mut out, true, OP_BINARY, 126);
    assert_eq!(out, [0x82, 126, 0, 126]);
    out.clear();
    write_header(&mut out, false, OP_BINARY, 65536);
    assert_eq!(out, [0x02, 127, 0, 0, 0, 0, 0, 1, 0, 0]);

    out.clear();
    write_message(&mut out, DataKind::Text, b"hello", Some(2));
    assert_eq!(
        out,
        [
            0x01, 2, b'h', b'e', 0x00, 2, b'l', b'l', 0x80, 1, b'o' //
        ]
    );
}

#[test]
fn close_reasons_are_cut_at_a_character_boundary() {
    let mut out = Vec::new();
    write_close(&mut out, 1000, &"é".repeat(100));
    assert_eq!(out[1] as usize, out.len() - 2);
    assert!(out.len() - 2 <= 125);
    assert!(std::str::from_utf8(&out[4..]).is_ok());
}

#[test]
fn close_payloads() {
    assert_eq!(check_close(&[]), CloseCheck::NoStatus);
    assert!(matches!(check_close(&[0x03]), CloseCheck::Invalid(v) if v.code == 1002));
    assert_eq!(
        check_close(&[0x03, 0xE8, b'o', b'k']),
        CloseCheck::Valid { code: 1000 }
    );
    assert_eq!(check_close(&[0x0F, 0xA0]), CloseCheck::Valid { code: 4000 });
    for bad in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000,
    ] {
        assert!(
            matches!(check_close(&bad.to_be_bytes()), CloseCheck::Invalid(v) if v.code == 1002),
            "{bad}"
        );
    }
    assert!(matches!(
        check_close(&[0x03, 0xE8, 0xFF]),
        CloseCheck::Invalid(v) if v.code == 1007
    ));
}
