//! The soak message: a compact header (connection id, sequence number, send time, checksum),
//! then filler up to `--size`. The header is base64url, so a text message is plain ASCII and
//! always valid UTF-8; binary messages carry the same bytes. The filler is derived from the
//! sequence number, so a buffered message is only its number until it is sent again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `#` + base64url of 24 bytes (4 conn + 8 seq + 8 micros + 4 checksum).
pub const HEADER_LEN: usize = 1 + 32;
const MAGIC: u8 = b'#';
const RAW_LEN: usize = 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub conn: u32,
    pub seq: u64,
    /// Microseconds since the run started, when this copy was sent.
    pub sent_us: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    Ok(Header),
    /// Not one of ours at all (e.g. a heartbeat text, or a server's own message).
    Foreign,
    /// Looks like ours but the checksum does not match: header or filler changed on the way.
    /// The connection id and sequence number as read, when the header still decodes (they
    /// may be the altered part).
    Corrupted(Option<(u32, u64)>),
}

/// FNV-1a: a few instructions a byte and enough to notice a flipped bit; not a MAC.
fn fnv1a(seed: u32, data: &[u8]) -> u32 {
    let mut h = 0x811c_9dc5 ^ seed;
    for &b in data {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn checksum(conn: u32, seq: u64, sent_us: u64, filler: &[u8]) -> u32 {
    let mut fields = [0u8; 20];
    fields[..4].copy_from_slice(&conn.to_be_bytes());
    fields[4..12].copy_from_slice(&seq.to_be_bytes());
    fields[12..].copy_from_slice(&sent_us.to_be_bytes());
    fnv1a(fnv1a(0, &fields), filler)
}

/// Write the message for (`conn`, `seq`) into `out` (cleared first), `size` bytes long (never
/// shorter than the header).
pub fn encode(conn: u32, seq: u64, sent_us: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.resize(encoded_len(size), 0);
    encode_into(conn, seq, sent_us, out);
}

/// The length of a message of `size` bytes: never shorter than the header.
pub fn encoded_len(size: usize) -> usize {
    size.max(HEADER_LEN)
}

/// Write the message for (`conn`, `seq`) over the whole of `out`, which is `encoded_len` long:
/// in place, straight into a frame in the connection's output buffer.
pub fn encode_into(conn: u32, seq: u64, sent_us: u64, out: &mut [u8]) {
    debug_assert!(out.len() >= HEADER_LEN);
    fill(seq, &mut out[HEADER_LEN..]);
    let sum = checksum(conn, seq, sent_us, &out[HEADER_LEN..]);
    let mut raw = [0u8; RAW_LEN];
    raw[..4].copy_from_slice(&conn.to_be_bytes());
    raw[4..12].copy_from_slice(&seq.to_be_bytes());
    raw[12..20].copy_from_slice(&sent_us.to_be_bytes());
    raw[20..].copy_from_slice(&sum.to_be_bytes());
    out[0] = MAGIC;
    // 24 bytes always encode to exactly 32 characters.
    let _ = URL_SAFE_NO_PAD.encode_slice(raw, &mut out[1..HEADER_LEN]);
}

/// Lower-case letters from a xorshift seeded by `seq`: ASCII, so text stays valid UTF-8.
fn fill(seq: u64, out: &mut [u8]) {
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    for b in out {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = b'a' + (x % 26) as u8;
    }
}

pub fn decode(msg: &[u8]) -> Decoded {
    if msg.len() < HEADER_LEN || msg[0] != MAGIC {
        return Decoded::Foreign;
    }
    let mut raw = [0u8; RAW_LEN];
    match URL_SAFE_NO_PAD.decode_slice(&msg[1..HEADER_LEN], &mut raw) {
        Ok(RAW_LEN) => {}
        _ => return Decoded::Corrupted(None),
    }
    let conn = u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let seq = u64::from_be_bytes(raw[4..12].try_into().unwrap_or_default());
    let sent_us = u64::from_be_bytes(raw[12..20].try_into().unwrap_or_default());
    let sum = u32::from_be_bytes([raw[20], raw[21], raw[22], raw[23]]);
    if checksum(conn, seq, sent_us, &msg[HEADER_LEN..]) != sum {
        return Decoded::Corrupted(Some((conn, seq)));
    }
    Decoded::Ok(Header { conn, seq, sent_us })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_is_ascii_and_exactly_sized() {
        let mut buf = Vec::new();
        encode(7, 123_456, 99, 64, &mut buf);
        assert_eq!(buf.len(), 64);
        assert!(buf.is_ascii());
        assert_eq!(
            decode(&buf),
            Decoded::Ok(Header {
                conn: 7,
                seq: 123_456,
                sent_us: 99
            })
        );
        encode(1, 2, 3, 0, &mut buf);
        assert_eq!(buf.len(), HEADER_LEN, "never shorter than the header");
        assert!(matches!(decode(&buf), Decoded::Ok(_)));
    }

    #[test]
    fn any_changed_byte_is_corruption_and_strangers_are_foreign() {
        let mut buf = Vec::new();
        encode(3, 9, 1000, 80, &mut buf);
        for i in 1..buf.len() {
            let mut bad = buf.clone();
            bad[i] = if bad[i] == b'a' { b'b' } else { b'a' };
            assert!(matches!(decode(&bad), Decoded::Corrupted(_)), "byte {i}");
        }
        let mut tail = buf.clone();
        *tail.last_mut().unwrap() ^= 0x01;
        assert_eq!(
            decode(&tail),
            Decoded::Corrupted(Some((3, 9))),
            "a changed filler byte leaves the header readable"
        );
        assert_eq!(decode(b"hello"), Decoded::Foreign);
        assert_eq!(decode(&[b'x'; 64]), Decoded::Foreign);
        assert_eq!(decode(&buf[..HEADER_LEN - 1]), Decoded::Foreign);
    }
}
