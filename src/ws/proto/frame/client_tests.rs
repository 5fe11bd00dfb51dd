//! The client's role: unmasked frames in, masked frames out.

use super::write::write_header_masked;
use super::*;

/// A server frame: never masked.
fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, fin, opcode, payload.len());
    out.extend_from_slice(payload);
    out
}

#[derive(Debug, PartialEq)]
enum Got {
    Data(DataKind, Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Vec<u8>),
    Fail(u16),
}

fn decode_with(mut dec: Decoder, wire: &[u8], chunk: usize) -> Vec<Got> {
    let mut got = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        let mut buf = piece.to_vec();
        let mut pos = 0;
        loop {
            match dec.next(&mut buf, &mut pos) {
                Ok(Some(Item::Message { kind, payload, .. })) => {
                    got.push(Got::Data(kind, payload.to_vec()))
                }
                Ok(Some(Item::Ping(p))) => got.push(Got::Ping(p.to_vec())),
                Ok(Some(Item::Pong(p))) => got.push(Got::Pong(p.to_vec())),
                Ok(Some(Item::Close(p))) => got.push(Got::Close(p.to_vec())),
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

/// Decode as `role` under every split of the input into reads; all must agree.
fn every_split(role: Role, wire: &[u8]) -> Vec<Got> {
    let whole = decode_with(Decoder::with_role(role, 1 << 20), wire, wire.len());
    for chunk in 1..wire.len().min(40) {
        let got = decode_with(Decoder::with_role(role, 1 << 20), wire, chunk);
        assert_eq!(got, whole, "split into {chunk}-byte reads");
    }
    whole
}

#[test]
fn a_client_reads_unmasked_server_frames_under_any_split() {
    let mut wire = server_frame(false, OP_TEXT, "hé".as_bytes());
    wire.extend(server_frame(true, OP_PING, b"p"));
    wire.extend(server_frame(true, OP_CONTINUATION, "llo".as_bytes()));
    wire.extend(server_frame(true, OP_BINARY, &[0xFF; 300]));
    wire.extend(server_frame(true, OP_PONG, b"7"));
    wire.extend(server_frame(true, OP_CLOSE, &[0x03, 0xE8]));
    assert_eq!(
        every_split(Role::Client, &wire),
        vec![
            Got::Ping(b"p".to_vec()),
            Got::Data(DataKind::Text, "héllo".as_bytes().to_vec()),
            Got::Data(DataKind::Binary, vec![0xFF; 300]),
            Got::Pong(b"7".to_vec()),
            Got::Close(vec![0x03, 0xE8]),
        ]
    );
}

#[test]
fn a_client_fails_a_masked_or_malformed_server_frame_with_1002() {
    let masked = {
        let mut f = Vec::new();
        write_header_masked(&mut f, true, OP_TEXT, 2, Some([1, 2, 3, 4]));
        f.extend_from_slice(&[b'h' ^ 1, b'i' ^ 2]);
        f
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("masked", masked),
        ("rsv2", {
            let mut f = server_frame(true, OP_TEXT, b"x");
            f[0] |= 0x20;
            f
        }),
        ("reserved opcode", server_frame(true, 0x7, b"")),
        ("fragmented ping", server_frame(false, OP_PING, b"")),
        ("long pong", server_frame(true, OP_PONG, &[0; 126])),
        (
            "continuation first",
            server_frame(true, OP_CONTINUATION, b"x"),
        ),
        ("64-bit length with top bit", {
            let mut w = vec![0x82, 127];
            w.extend_from_slice(&(1u64 << 63).to_be_bytes());
            w
        }),
    ];
    for (name, wire) in cases {
        for chunk in [1, 3, wire.len()] {
            let got = decode_with(Decoder::client(1 << 20), &wire, chunk);
            assert_eq!(got.last(), Some(&Got::Fail(1002)), "{name} in {chunk}s");
        }
    }
    // Invalid UTF-8 and size limits hold for the client as for the server.
    let wire = server_frame(true, OP_TEXT, &[b'a', 0xFF]);
    assert_eq!(every_split(Role::Client, &wire), vec![Got::Fail(1007)]);
    let wire = server_frame(true, OP_BINARY, &[0; 11]);
    assert_eq!(
        decode_with(Decoder::client(10), &wire, 100),
        vec![Got::Fail(1009)]
    );
}

#[test]
fn client_frames_are_masked_with_a_fresh_key_and_read_back_by_a_server() {
    let mut wire = Vec::new();
    let text = "fragmented ✓ text".as_bytes();
    write_message_as(Role::Client, &mut wire, DataKind::Text, text, Some(3));
    write_control_as(Role::Client, &mut wire, OP_PING, b"hb-1");
    write_message_as(
        Role::Client,
        &mut wire,
        DataKind::Binary,
        &[7; 70_000],
        None,
    );
    write_close_as(Role::Client, &mut wire, 4000, "bye");
    let got = decode_with(Decoder::new(1 << 20), &wire, 4096);
    assert_eq!(
        got,
        vec![
            Got::Data(DataKind::Text, text.to_vec()),
            Got::Ping(b"hb-1".to_vec()),
            Got::Data(DataKind::Binary, vec![7; 70_000]),
            Got::Close(vec![0x0F, 0xA0, b'b', b'y', b'e']),
        ]
    );
    // Under every split too (without the large frame, to keep it quick).
    let mut small = Vec::new();
    write_message_as(Role::Client, &mut small, DataKind::Text, text, Some(4));
    write_close_as(Role::Client, &mut small, 1000, "");
    assert_eq!(every_split(Role::Server, &small).len(), 2);

    // Every frame of a fragmented message has the mask bit and its own key.
    let mut frames = Vec::new();
    write_message_as(
        Role::Client,
        &mut frames,
        DataKind::Binary,
        &[0; 16],
        Some(2),
    );
    let keys: Vec<[u8; 4]> = frames
        .chunks(2 + 4 + 2)
        .map(|f| {
            assert_eq!(f[1] & 0x80, 0x80, "mask bit");
            [f[2], f[3], f[4], f[5]]
        })
        .collect();
    assert_eq!(keys.len(), 8);
    assert!(keys.windows(2).any(|w| w[0] != w[1]), "{keys:?}");
}

#[test]
fn a_server_writes_exactly_what_it_wrote_before_roles_existed() {
    let mut out = Vec::new();
    write_message(&mut out, DataKind::Binary, &[1, 2, 3], None);
    write_control(&mut out, OP_PONG, b"x");
    write_close(&mut out, 1001, "bye");
    assert_eq!(
        out,
        [
            0x82, 3, 1, 2, 3, 0x8A, 1, b'x', 0x88, 5, 0x03, 0xE9, b'b', b'y', b'e' //
        ]
    );
}
