//! Writing frames: headers, whole messages (fragmented when asked), control frames and Close
//! frames, masked with a fresh key per frame in the client's role.

use super::{
    MAX_CONTROL_PAYLOAD, MAX_HEADER, OP_BINARY, OP_CLOSE, OP_CONTINUATION, OP_TEXT, Role,
    unmask_opt,
};
use crate::ws::proto::DataKind;

/// A server frame header (never masked).
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: usize) {
    write_header_masked(out, fin, opcode, len, None);
}

/// A frame header; with a mask, the mask bit and key follow the length.
pub(super) fn write_header_masked(
    out: &mut Vec<u8>,
    fin: bool,
    opcode: u8,
    len: usize,
    mask: Option<[u8; 4]>,
) {
    let b0 = if fin { 0x80 } else { 0 } | opcode;
    let m = if mask.is_some() { 0x80 } else { 0 };
    if len < 126 {
        out.extend_from_slice(&[b0, m | len as u8]);
    } else if len <= u16::MAX as usize {
        out.extend_from_slice(&[b0, m | 126]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[b0, m | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    if let Some(key) = mask {
        out.extend_from_slice(&key);
    }
}

/// The header of a data frame whose payload the caller writes after it, in pieces (a file
/// streamed from disk); each piece is masked with the returned key at its offset (`unmask`).
pub fn write_streamed_header(
    role: Role,
    out: &mut Vec<u8>,
    fin: bool,
    opcode: u8,
    len: usize,
) -> Option<[u8; 4]> {
    let mask = role.next_mask();
    write_header_masked(out, fin, opcode, len, mask);
    mask
}

/// RSV1: on a message's first frame, "this message is compressed" (RFC 7692 6).
pub const RSV1: u8 = 0x40;

/// One whole frame: header, then the payload (masked in place in `out` for a client).
/// `opcode` may carry `RSV1`.
fn write_frame(out: &mut Vec<u8>, role: Role, fin: bool, opcode: u8, payload: &[u8]) {
    let mask = role.next_mask();
    write_header_masked(out, fin, opcode, payload.len(), mask);
    let at = out.len();
    out.extend_from_slice(payload);
    unmask_opt(&mut out[at..], mask, 0);
}

/// One data message from a server, in frames of at most `fragment` payload bytes when given.
pub fn write_message(out: &mut Vec<u8>, kind: DataKind, payload: &[u8], fragment: Option<usize>) {
    write_message_as(Role::Server, out, kind, payload, fragment);
}

/// One data message, in frames of at most `fragment` payload bytes when given.
pub fn write_message_as(
    role: Role,
    out: &mut Vec<u8>,
    kind: DataKind,
    payload: &[u8],
    fragment: Option<usize>,
) {
    write_message_flagged(role, out, kind, payload, fragment, false);
}

/// `write_message_as` with RSV1 on the first frame when `compressed` (the payload is
/// already deflated: a compressed message is fragmented after compression, RFC 7692 6.1).
pub fn write_message_flagged(
    role: Role,
    out: &mut Vec<u8>,
    kind: DataKind,
    payload: &[u8],
    fragment: Option<usize>,
    compressed: bool,
) {
    let rsv = if compressed { RSV1 } else { 0 };
    let opcode = rsv
        | match kind {
            DataKind::Text => OP_TEXT,
            DataKind::Binary => OP_BINARY,
        };
    match fragment {
        Some(size) if size > 0 && payload.len() > size => {
            out.reserve(payload.len() + payload.len().div_ceil(size) * MAX_HEADER);
            let count = payload.len().div_ceil(size);
            for (i, chunk) in payload.chunks(size).enumerate() {
                let op = if i == 0 { opcode } else { OP_CONTINUATION };
                write_frame(out, role, i + 1 == count, op, chunk);
            }
        }
        _ => {
            out.reserve(payload.len() + MAX_HEADER);
            write_frame(out, role, true, opcode, payload);
        }
    }
}

/// One unfragmented, uncompressed data message of `len` bytes whose payload `build` writes
/// in place, then masked there: a generated message (soak's) is never a separate buffer that
/// would have to be copied in.
pub fn write_message_built(
    role: Role,
    out: &mut Vec<u8>,
    kind: DataKind,
    len: usize,
    build: impl FnOnce(&mut [u8]),
) {
    let opcode = match kind {
        DataKind::Text => OP_TEXT,
        DataKind::Binary => OP_BINARY,
    };
    out.reserve(len + MAX_HEADER);
    let mask = role.next_mask();
    write_header_masked(out, true, opcode, len, mask);
    let at = out.len();
    out.resize(at + len, 0);
    build(&mut out[at..]);
    unmask_opt(&mut out[at..], mask, 0);
}

/// A server's control frame; `payload` must be at most 125 bytes.
pub fn write_control(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    write_control_as(Role::Server, out, opcode, payload);
}

/// A control frame; `payload` must be at most 125 bytes.
pub fn write_control_as(role: Role, out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
    write_frame(out, role, true, opcode, payload);
}

/// A server's Close frame with a code and a reason cut to fit (at a character boundary).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    write_close_as(Role::Server, out, code, reason);
}

/// A Close frame with a code and a reason cut to fit (at a character boundary).
pub fn write_close_as(role: Role, out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
    payload[..2].copy_from_slice(&code.to_be_bytes());
    payload[2..2 + end].copy_from_slice(&reason.as_bytes()[..end]);
    write_frame(out, role, true, OP_CLOSE, &payload[..2 + end]);
}

#[cfg(test)]
mod built_tests {
    use super::*;

    #[test]
    fn a_built_message_is_the_same_frame_as_a_copied_one() {
        let payload: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let (mut copied, mut built) = (Vec::new(), Vec::new());
        write_message_as(Role::Server, &mut copied, DataKind::Binary, &payload, None);
        write_message_built(
            Role::Server,
            &mut built,
            DataKind::Binary,
            payload.len(),
            |b| b.copy_from_slice(&payload),
        );
        assert_eq!(built, copied);

        // A client's is masked in place after it was built: unmasked, the payload is back.
        let mut client = vec![0xAA];
        write_message_built(Role::Client, &mut client, DataKind::Text, 5, |b| {
            b.copy_from_slice(b"hello")
        });
        assert_eq!(
            &client[1..3],
            &[0x81, 0x80 | 5],
            "FIN, text, masked, 5 bytes"
        );
        let key = [client[3], client[4], client[5], client[6]];
        let body: Vec<u8> = client[7..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        assert_eq!(body, b"hello");
    }
}
