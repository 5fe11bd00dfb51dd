//! Reading a big frame's rest straight into the message (`direct_room`, `direct_filled`), as
//! the server's connection does, mixed with ordinary reads: the same messages, the same
//! verdicts as decoding the stream through reads alone.

use super::*;

fn client_frame(fin: bool, opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut out = Vec::new();
    write_header(&mut out, fin, opcode, payload.len());
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

#[derive(PartialEq)]
enum Got {
    Message(DataKind, Vec<u8>, Wire),
    Control(u8, Vec<u8>),
    Fail(u16),
}

/// Lengths, not payloads: a failure stays readable.
impl std::fmt::Debug for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Message(kind, p, wire) => write!(f, "{kind:?}({} bytes, {wire:?})", p.len()),
            Got::Control(op, p) => write!(f, "control {op}({} bytes)", p.len()),
            Got::Fail(code) => write!(f, "fail {code}"),
        }
    }
}

/// Decode `wire` in reads of `read` bytes; with `direct`, whenever the decoder offers room of
/// at least `direct` bytes, the next read (at most `read` bytes, and at most the room) goes
/// there instead.
fn decode(wire: &[u8], read: usize, direct: Option<usize>) -> Vec<Got> {
    let mut dec = Decoder::new(1 << 20);
    let mut got = Vec::new();
    let mut at = 0;
    while at < wire.len() {
        if let Some(min) = direct
            && let Some((msg, room)) = dec.direct_room(min)
        {
            assert!(room >= min && room <= msg.capacity() - msg.len());
            let from = msg.len();
            let n = room.min(read).min(wire.len() - at);
            msg.extend_from_slice(&wire[at..at + n]);
            at += n;
            match dec.direct_filled(from) {
                Ok(Some(m)) => got.push(Got::Message(m.kind, m.payload, m.wire)),
                Ok(None) => {}
                Err(v) => {
                    got.push(Got::Fail(v.code));
                    return got;
                }
            }
            continue;
        }
        let n = read.min(wire.len() - at);
        let mut buf = wire[at..at + n].to_vec();
        at += n;
        let mut pos = 0;
        loop {
            match dec.next(&mut buf, &mut pos) {
                Ok(Some(Item::Message {
                    kind,
                    payload,
                    wire,
                })) => got.push(Got::Message(kind, payload.to_vec(), wire)),
                Ok(Some(Item::Ping(p))) => got.push(Got::Control(OP_PING, p.to_vec())),
                Ok(Some(Item::Pong(p))) => got.push(Got::Control(OP_PONG, p.to_vec())),
                Ok(Some(Item::Close(p))) => got.push(Got::Control(OP_CLOSE, p.to_vec())),
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

/// Two-, three- and four-byte code points, so that reads and frames split them.
fn text(len: usize) -> Vec<u8> {
    let mut t = "aé€😀".repeat(len / 10 + 1).into_bytes();
    t.truncate(len);
    while std::str::from_utf8(&t).is_err() {
        t.pop();
    }
    t
}

fn stream() -> Vec<u8> {
    let binary: Vec<u8> = (0..70_000u32).map(|i| (i * 13 + 5) as u8).collect();
    let big_text = text(50_000);
    let mut wire = Vec::new();
    wire.extend(client_frame(true, OP_BINARY, &binary, [1, 2, 3, 4]));
    wire.extend(client_frame(true, OP_TEXT, b"small", [9, 9, 9, 9]));
    wire.extend(client_frame(
        true,
        OP_TEXT,
        &big_text,
        [0xA1, 0xB2, 0xC3, 0xD4],
    ));
    // A fragmented text message, code points split between its frames, a ping between them.
    wire.extend(client_frame(
        false,
        OP_TEXT,
        &big_text[..20_001],
        [5, 6, 7, 8],
    ));
    wire.extend(client_frame(true, OP_PING, b"ping", [7, 7, 7, 7]));
    wire.extend(client_frame(
        false,
        OP_CONTINUATION,
        &big_text[20_001..45_003],
        [1, 1, 2, 2],
    ));
    wire.extend(client_frame(
        true,
        OP_CONTINUATION,
        &big_text[45_003..],
        [3, 3, 4, 4],
    ));
    wire.extend(client_frame(
        true,
        OP_BINARY,
        &binary[..40_000],
        [0xFF, 0, 0xFF, 0],
    ));
    wire.extend(client_frame(
        true,
        OP_CLOSE,
        &1000u16.to_be_bytes(),
        [2, 4, 6, 8],
    ));
    wire
}

#[test]
fn direct_reads_give_the_same_messages_as_ordinary_ones() {
    let wire = stream();
    let want = decode(&wire, wire.len(), None);
    assert_eq!(want.len(), 7, "{:?}", want.len());
    for read in [1000, 4096, 16 * 1024 + 3, 65_536, 1 << 20] {
        for min in [1, 100, 16 * 1024] {
            let got = decode(&wire, read, Some(min));
            assert_eq!(got, want, "reads of {read}, direct from {min}");
        }
    }
}

#[test]
fn invalid_utf8_read_directly_fails_with_1007() {
    let mut bad = text(40_000);
    bad[30_000] = 0xFF;
    let wire = client_frame(true, OP_TEXT, &bad, [1, 2, 3, 4]);
    for read in [1000, 16 * 1024, 1 << 20] {
        let got = decode(&wire, read, Some(1));
        assert_eq!(got, vec![Got::Fail(1007)], "reads of {read}");
    }
    // A code point cut by the frame's end.
    let mut cut = text(40_000);
    assert!(cut.ends_with("😀".as_bytes()));
    cut.pop();
    let wire = client_frame(true, OP_TEXT, &cut, [1, 2, 3, 4]);
    assert_eq!(decode(&wire, 4096, Some(1)), vec![Got::Fail(1007)]);
}

#[test]
fn no_room_is_offered_for_control_frames_discarded_data_or_small_rests() {
    let mut dec = Decoder::new(1 << 20);
    let mut head = client_frame(true, OP_BINARY, &[0u8; 30_000], [1, 2, 3, 4]);
    head.truncate(100);
    let mut pos = 0;
    assert!(dec.next(&mut head, &mut pos).unwrap().is_none());
    let (_, room) = dec.direct_room(1024).expect("room for the rest");
    assert_eq!(room, 30_000 - (100 - 8), "exactly the frame's rest");
    assert!(
        dec.direct_room(30_000).is_none(),
        "less than asked for is left"
    );
    dec.discard_data();
    assert!(dec.direct_room(1).is_none(), "discarded data");

    let mut dec = Decoder::new(1 << 20);
    let mut ping = client_frame(true, OP_PING, &[1u8; 100], [1, 2, 3, 4]);
    ping.truncate(10);
    let mut pos = 0;
    assert!(dec.next(&mut ping, &mut pos).unwrap().is_none());
    assert!(dec.direct_room(1).is_none(), "a control frame");
}
