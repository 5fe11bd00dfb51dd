//! RFC 6455 on the wire, by hand, for tests that assert on exact bytes: the upgrade request,
//! client frames (masked) and server frames read back. The Python peers' equivalent is
//! `tests/peers/rawws.py`.

/// The upgrade request of RFC 6455's example (section 1.3), for `path`.
pub fn upgrade_request(path: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The answer to [`upgrade_request`]'s key, from the same example.
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A client frame, masked as RFC 6455 requires.
pub fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xFA, 0x21, 0x3D];
    let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// A server frame as read back: (fin, opcode, payload).
pub type Got = (bool, u8, Vec<u8>);

/// The first whole server frame at the start of `buf` and how many bytes it took; `None` when
/// `buf` holds less than a frame. Panics on a masked frame, which a server must never send.
pub fn parse_server_frame(buf: &[u8]) -> Option<(Got, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[1] & 0x80, 0, "server frames must not be masked");
    let (len, at) = match buf[1] & 0x7F {
        126 if buf.len() >= 4 => (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4),
        127 if buf.len() >= 10 => (
            u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
            10,
        ),
        126 | 127 => return None,
        n => (n as usize, 2),
    };
    if buf.len() < at + len {
        return None;
    }
    let got = (
        buf[0] & 0x80 != 0,
        buf[0] & 0x0F,
        buf[at..at + len].to_vec(),
    );
    Some((got, at + len))
}

#[test]
fn frames_round_trip_at_every_length_encoding() {
    for len in [0, 125, 126, 65535, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let masked = frame(true, 0x2, &payload);
        // What a server would send: the same frame without the mask bit and key.
        let mut unmasked = vec![masked[0], masked[1] & 0x7F];
        let head = match len {
            0..=125 => 2,
            126..=65535 => 4,
            _ => 10,
        };
        unmasked.extend_from_slice(&masked[2..head]);
        unmasked.extend_from_slice(&payload);
        assert_eq!(masked[1] & 0x80, 0x80, "client frames are masked");
        let key = &masked[head..head + 4];
        let sent: Vec<u8> = masked[head + 4..]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ key[i % 4])
            .collect();
        assert_eq!(sent, payload, "{len} bytes, unmasked");
        assert_eq!(
            parse_server_frame(&unmasked),
            Some(((true, 0x2, payload.clone()), unmasked.len())),
            "{len} bytes"
        );
        assert_eq!(parse_server_frame(&unmasked[..unmasked.len() - 1]), None);
    }
}
