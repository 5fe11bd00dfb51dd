//! RFC 6455 framing for the server side, written for many mostly idle connections.
//!
//! The decoder owns no read buffer: it is fed whatever bytes the socket had (read into a
//! per-worker scratch buffer) and keeps only what a frame split across reads needs: up to 14
//! header bytes inline, the unfinished message (only while one is in flight) and an unfinished
//! control frame (at most 125 bytes, rare). A complete single-frame message is unmasked in
//! place and handed out as a borrowed slice, so the small-message echo path allocates nothing.
//!
//! Everything a client may get wrong is checked here, with the close code RFC 6455 asks for:
//! unmasked frames, RSV bits without an extension, reserved opcodes, fragmented or oversized
//! control frames, continuation out of sequence, lengths with the top bit set (1002); invalid
//! UTF-8 in a text message, found as early as the bytes arrive, even across frames (1007);
//! messages over the size limit (1009).

use crate::core::conn::DataKind;
use std::ops::Deref;

pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Largest control-frame payload (RFC 6455 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// Longest frame header: 2 bytes, 8 of extended length, 4 of mask.
const MAX_HEADER: usize = 14;

/// A reason to fail the connection: the close code to send and a short explanation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: &'static str,
}

const fn protocol(reason: &'static str) -> Violation {
    Violation { code: 1002, reason }
}

pub const INVALID_UTF8: Violation = Violation {
    code: 1007,
    reason: "invalid UTF-8 in a text message",
};
pub const TOO_BIG: Violation = Violation {
    code: 1009,
    reason: "message larger than --max-message-size",
};

/// A payload either still in the caller's input buffer or moved out of the decoder.
#[derive(Debug)]
pub enum Payload<'a> {
    Borrowed(&'a [u8]),
    Owned(Vec<u8>),
}

impl Deref for Payload<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(v) => v,
        }
    }
}

/// One complete thing from the client. Data frames are reassembled into messages; text
/// messages are valid UTF-8.
#[derive(Debug)]
pub enum Item<'a> {
    Message {
        kind: DataKind,
        payload: Payload<'a>,
    },
    Ping(Payload<'a>),
    Pong(Payload<'a>),
    Close(Payload<'a>),
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    fin: bool,
    opcode: u8,
    mask: [u8; 4],
    /// Bytes of payload already consumed, for the mask phase.
    done: u64,
    remaining: u64,
}

/// A complete item found by `step`: its payload is `input[range]` unless `owned`.
struct Ready {
    opcode: u8,
    kind: DataKind,
    range: std::ops::Range<usize>,
    owned: Option<Vec<u8>>,
}

#[derive(Debug)]
pub struct Decoder {
    max_message: u64,
    /// After we sent Close: data payloads are skipped, not kept, checked or counted.
    discard: bool,
    hdr: [u8; MAX_HEADER],
    hdr_len: u8,
    frame: Option<Frame>,
    /// The kind of the message in flight, from its first frame until its FIN frame.
    msg_kind: Option<DataKind>,
    msg_len: u64,
    /// Payload of an unfinished message; empty (unallocated) between messages.
    msg: Vec<u8>,
    /// How much of `msg` is known to be valid UTF-8 (text messages only).
    utf8_ok: usize,
    /// Payload of a control frame split across reads.
    ctrl: Vec<u8>,
}

impl Decoder {
    pub fn new(max_message: usize) -> Self {
        Decoder {
            max_message: max_message as u64,
            discard: false,
            hdr: [0; MAX_HEADER],
            hdr_len: 0,
            frame: None,
            msg_kind: None,
            msg_len: 0,
            msg: Vec::new(),
            utf8_ok: 0,
            ctrl: Vec::new(),
        }
    }

    /// From now on, data frames are parsed only to find the next frame; their payloads are
    /// dropped. Used once we have sent Close and only wait for the client's.
    pub fn discard_data(&mut self) {
        self.discard = true;
        self.msg = Vec::new();
        self.utf8_ok = 0;
    }

    /// True while a message or a frame is half received (the connection is not idle).
    pub fn is_mid_frame(&self) -> bool {
        self.frame.is_some() || self.hdr_len > 0 || self.msg_kind.is_some()
    }

    /// Decode the next complete item from `input[*pos..]`, advancing `*pos`. `Ok(None)` means
    /// every byte was consumed and more are needed. Payload bytes are unmasked in place.
    pub fn next<'a>(
        &mut self,
        input: &'a mut [u8],
        pos: &mut usize,
    ) -> Result<Option<Item<'a>>, Violation> {
        let Some(ready) = self.step(input, pos)? else {
            return Ok(None);
        };
        let input: &'a [u8] = input;
        let payload = match ready.owned {
            Some(v) => Payload::Owned(v),
            None => Payload::Borrowed(&input[ready.range]),
        };
        Ok(Some(match ready.opcode {
            OP_PING => Item::Ping(payload),
            OP_PONG => Item::Pong(payload),
            OP_CLOSE => Item::Close(payload),
            _ => Item::Message {
                kind: ready.kind,
                payload,
            },
        }))
    }

    /// The work of `next`, naming the payload by its place in `input` (or handing it over when
    /// it was assembled from several reads).
    fn step(&mut self, input: &mut [u8], pos: &mut usize) -> Result<Option<Ready>, Violation> {
        loop {
            let frame = match self.frame {
                Some(f) => f,
                None => {
                    let Some((frame, used)) = self.read_header(&input[*pos..])? else {
                        *pos = input.len();
                        return Ok(None);
                    };
                    *pos += used;
                    self.start_frame(frame)?;
                    frame
                }
            };
            let avail = (input.len() - *pos) as u64;
            if frame.remaining > 0 && avail == 0 {
                return Ok(None);
            }
            let take = frame.remaining.min(avail) as usize;
            let range = *pos..*pos + take;
            *pos += take;
            let complete = take as u64 == frame.remaining;
            if complete {
                self.frame = None;
            } else {
                let f = self.frame.as_mut().expect("frame in progress");
                f.remaining -= take as u64;
                f.done += take as u64;
            }

            if frame.opcode >= OP_CLOSE {
                let chunk = &mut input[range.clone()];
                unmask(chunk, frame.mask, frame.done as usize);
                if !complete {
                    self.ctrl.extend_from_slice(chunk);
                    return Ok(None);
                }
                let owned = (!self.ctrl.is_empty()).then(|| {
                    self.ctrl.extend_from_slice(chunk);
                    std::mem::take(&mut self.ctrl)
                });
                return Ok(Some(Ready {
                    opcode: frame.opcode,
                    kind: DataKind::Binary,
                    range,
                    owned,
                }));
            }

            let kind = self.msg_kind.expect("data frame belongs to a message");
            let finished = complete && frame.fin;
            if finished {
                self.msg_kind = None;
                self.msg_len = 0;
            }
            if self.discard {
                if !complete {
                    return Ok(None);
                }
                continue;
            }
            let chunk = &mut input[range.clone()];
            unmask(chunk, frame.mask, frame.done as usize);
            if finished && self.msg.is_empty() {
                // The whole message is in this one read: hand it out where it lies.
                if kind == DataKind::Text && std::str::from_utf8(chunk).is_err() {
                    return Err(INVALID_UTF8);
                }
                return Ok(Some(Ready {
                    opcode: frame.opcode,
                    kind,
                    range,
                    owned: None,
                }));
            }
            self.msg.extend_from_slice(chunk);
            if kind == DataKind::Text {
                self.check_utf8(finished)?;
            }
            if finished {
                self.utf8_ok = 0;
                return Ok(Some(Ready {
                    opcode: OP_TEXT,
                    kind,
                    range,
                    owned: Some(std::mem::take(&mut self.msg)),
                }));
            }
            if !complete {
                return Ok(None);
            }
        }
    }

    /// Collect a frame header from `input` (plus bytes kept from earlier reads). Returns the
    /// frame and how many bytes of `input` it used, or `None` when `input` ran out first.
    fn read_header(&mut self, input: &[u8]) -> Result<Option<(Frame, usize)>, Violation> {
        if self.hdr_len == 0
            && let Some(need) = header_size(input)
            && input.len() >= need
        {
            return Ok(Some((parse_header(&input[..need])?, need)));
        }
        let mut used = 0;
        loop {
            let have = self.hdr_len as usize;
            let need = header_size(&self.hdr[..have]).unwrap_or(2);
            if have == need {
                self.hdr_len = 0;
                return Ok(Some((parse_header(&self.hdr[..need])?, used)));
            }
            if used == input.len() {
                return Ok(None);
            }
            let take = (need - have).min(input.len() - used);
            self.hdr[have..have + take].copy_from_slice(&input[used..used + take]);
            self.hdr_len += take as u8;
            used += take;
        }
    }

    fn start_frame(&mut self, frame: Frame) -> Result<(), Violation> {
        match frame.opcode {
            OP_CONTINUATION => {
                if self.msg_kind.is_none() {
                    return Err(protocol("continuation frame with no message to continue"));
                }
            }
            OP_TEXT | OP_BINARY => {
                if self.msg_kind.is_some() {
                    return Err(protocol(
                        "new data frame while a fragmented message is unfinished",
                    ));
                }
                self.msg_kind = Some(if frame.opcode == OP_TEXT {
                    DataKind::Text
                } else {
                    DataKind::Binary
                });
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !frame.fin {
                    return Err(protocol("fragmented control frame"));
                }
                if frame.remaining > MAX_CONTROL_PAYLOAD as u64 {
                    return Err(protocol("control frame payload over 125 bytes"));
                }
            }
            _ => return Err(protocol("reserved opcode")),
        }
        if frame.opcode < OP_CLOSE && !self.discard {
            self.msg_len = self.msg_len.saturating_add(frame.remaining);
            if self.msg_len > self.max_message {
                // Skip this frame's payload from now on, so that the closing handshake that
                // follows can still find the client's Close frame.
                self.frame = Some(frame);
                self.discard_data();
                return Err(TOO_BIG);
            }
        }
        self.frame = Some(frame);
        Ok(())
    }

    /// Validate what arrived of a text message; incomplete code points at the end are fine
    /// until the message is finished. Rust's validator rejects a prefix as soon as it cannot
    /// start a valid sequence, so bad bytes fail the connection as soon as they arrive.
    fn check_utf8(&mut self, finished: bool) -> Result<(), Violation> {
        match std::str::from_utf8(&self.msg[self.utf8_ok..]) {
            Ok(_) => self.utf8_ok = self.msg.len(),
            Err(e) if e.error_len().is_some() => return Err(INVALID_UTF8),
            Err(e) => self.utf8_ok += e.valid_up_to(),
        }
        if finished && self.utf8_ok != self.msg.len() {
            return Err(INVALID_UTF8);
        }
        Ok(())
    }
}

/// The size of the header that starts `b`, once its first two bytes are there.
fn header_size(b: &[u8]) -> Option<usize> {
    let b1 = *b.get(1)?;
    let ext = match b1 & 0x7F {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    Some(2 + ext + mask)
}

fn parse_header(h: &[u8]) -> Result<Frame, Violation> {
    let (b0, b1) = (h[0], h[1]);
    if b0 & 0x70 != 0 {
        return Err(protocol("RSV bits set but no extension was negotiated"));
    }
    if b1 & 0x80 == 0 {
        return Err(protocol("client frame is not masked"));
    }
    let (len, at) = match b1 & 0x7F {
        126 => (u16::from_be_bytes([h[2], h[3]]) as u64, 4),
        127 => (
            u64::from_be_bytes(h[2..10].try_into().expect("8 bytes")),
            10,
        ),
        n => (n as u64, 2),
    };
    if len >> 63 != 0 {
        return Err(protocol("frame length has its most significant bit set"));
    }
    Ok(Frame {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0F,
        mask: h[at..at + 4].try_into().expect("4 bytes"),
        done: 0,
        remaining: len,
    })
}

/// XOR `buf` with the masking key, `offset` bytes into the payload.
pub fn unmask(buf: &mut [u8], mask: [u8; 4], offset: usize) {
    let mut m = mask;
    m.rotate_left(offset % 4);
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for c in &mut chunks {
        let v = u64::from_ne_bytes((&*c).try_into().expect("8 bytes")) ^ word;
        c.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i % 4];
    }
}

/// A server frame header (never masked).
pub fn write_header(out: &mut Vec<u8>, fin: bool, opcode: u8, len: usize) {
    let b0 = if fin { 0x80 } else { 0 } | opcode;
    if len < 126 {
        out.extend_from_slice(&[b0, len as u8]);
    } else if len <= u16::MAX as usize {
        out.extend_from_slice(&[b0, 126]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[b0, 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// One data message, in frames of at most `fragment` payload bytes when given.
pub fn write_message(out: &mut Vec<u8>, kind: DataKind, payload: &[u8], fragment: Option<usize>) {
    let opcode = match kind {
        DataKind::Text => OP_TEXT,
        DataKind::Binary => OP_BINARY,
    };
    match fragment {
        Some(size) if size > 0 && payload.len() > size => {
            out.reserve(payload.len() + payload.len().div_ceil(size) * 4);
            let count = payload.len().div_ceil(size);
            for (i, chunk) in payload.chunks(size).enumerate() {
                let op = if i == 0 { opcode } else { OP_CONTINUATION };
                write_header(out, i + 1 == count, op, chunk.len());
                out.extend_from_slice(chunk);
            }
        }
        _ => {
            out.reserve(payload.len() + 10);
            write_header(out, true, opcode, payload.len());
            out.extend_from_slice(payload);
        }
    }
}

/// A control frame; `payload` must be at most 125 bytes.
pub fn write_control(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    debug_assert!(payload.len() <= MAX_CONTROL_PAYLOAD);
    write_header(out, true, opcode, payload.len());
    out.extend_from_slice(payload);
}

/// A Close frame with a code and a reason cut to fit (at a character boundary).
pub fn write_close(out: &mut Vec<u8>, code: u16, reason: &str) {
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    write_header(out, true, OP_CLOSE, 2 + end);
    out.extend_from_slice(&code.to_be_bytes());
    out.extend_from_slice(&reason.as_bytes()[..end]);
}

/// What a client's Close payload means for the closing handshake.
#[derive(Debug, PartialEq, Eq)]
pub enum CloseCheck {
    /// No status code (empty payload): reply with an empty Close.
    NoStatus,
    Valid {
        code: u16,
    },
    Invalid(Violation),
}

pub fn check_close(payload: &[u8]) -> CloseCheck {
    match payload {
        [] => CloseCheck::NoStatus,
        [_] => CloseCheck::Invalid(protocol("Close frame with a 1-byte payload")),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !crate::core::close::is_sendable(code) {
                CloseCheck::Invalid(protocol("Close frame with a code not allowed on the wire"))
            } else if std::str::from_utf8(reason).is_err() {
                CloseCheck::Invalid(Violation {
                    code: 1007,
                    reason: "Close reason is not valid UTF-8",
                })
            } else {
                CloseCheck::Valid { code }
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(dec.msg.capacity(), 0);
        assert_eq!(dec.ctrl.capacity(), 0);
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
}
