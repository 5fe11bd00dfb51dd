//! RFC 6455 framing for both ends of a connection, written for many mostly idle connections:
//! every subcommand's `ws::connection`, the echo server's and soak's thousands included. The
//! `Role` decides the masking rule: a server reads masked frames and writes unmasked ones, a
//! client the reverse (RFC 6455 5.1, 5.3); everything else is the same code.
//!
//! The decoder owns no read buffer: it is fed whatever bytes the socket had (read into a
//! per-worker scratch buffer) and keeps only what a frame split across reads needs: up to 14
//! header bytes inline, the unfinished message (only while one is in flight) and an unfinished
//! control frame (at most 125 bytes, rare). A complete single-frame message is unmasked in
//! place and handed out as a borrowed slice, so the small-message echo path allocates nothing.
//! A message split across reads is unmasked as it is copied into its buffer, and the rest of
//! a big frame can be read straight into that buffer (`direct_room`, `direct_filled`), so that
//! its bytes are neither read into a scratch buffer nor copied.
//!
//! Everything a peer may get wrong is checked here, with the close code RFC 6455 asks for:
//! frames masked the wrong way for the role, RSV bits without an extension, reserved opcodes, fragmented or oversized
//! control frames, continuation out of sequence, lengths with the top bit set (1002); invalid
//! UTF-8 in a text message, found as early as the bytes arrive, even across frames (1007);
//! messages over the size limit (1009).

use crate::ws::ext::Deflate;
use crate::ws::ext::deflate::Inflated;
use crate::ws::proto::{DataKind, Wire};
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
/// A message split across reads gets room for its announced length at once (no regrowth
/// copies), up to this much; beyond it, the buffer grows as the bytes come (a peer that
/// announces a big frame and sends little holds no more than it sent, doubled).
const RESERVE_MAX: u64 = 16 << 20;

/// Which end of the connection we are: it decides which frames must be masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads masked frames, writes unmasked ones.
    Server,
    /// Reads unmasked frames, writes masked ones with a fresh key per frame.
    Client,
}

impl Role {
    /// The masking key for a frame we are about to write. RFC 6455 5.3 asks a client for a
    /// new, unpredictable key per frame so that a script cannot choose the bytes a proxy
    /// sees; fastrand (seeded per thread from the OS) is enough for that purpose.
    fn next_mask(self) -> Option<[u8; 4]> {
        match self {
            Role::Server => None,
            Role::Client => Some(fastrand::u32(..).to_ne_bytes()),
        }
    }
}

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
/// RFC 7692 leaves the code open; the data is inconsistent with the message's type, as 1007
/// says, and Autobahn expects it.
pub const BAD_DEFLATE: Violation = Violation {
    code: 1007,
    reason: "invalid permessage-deflate data",
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

/// One complete thing from the peer. Data frames are reassembled into messages; text
/// messages are valid UTF-8.
#[derive(Debug)]
pub enum Item<'a> {
    Message {
        kind: DataKind,
        payload: Payload<'a>,
        wire: Wire,
    },
    Ping(Payload<'a>),
    Pong(Payload<'a>),
    Close(Payload<'a>),
}

#[derive(Debug, Clone, Copy)]
struct Frame {
    /// FIN (0x80) and RSV1 (0x40) as in the header's first byte; RSV1 only with
    /// permessage-deflate, only on a message's first frame: it is compressed. (One byte, not
    /// two bools: the frame, and so every idle connection, stays 16 bytes.)
    flags: u8,
    opcode: u8,
    /// `None` for a server's frame (read by a client).
    mask: Option<[u8; 4]>,
    /// Bytes of payload already consumed, for the mask phase.
    /// Payload bytes already consumed, modulo 4: where the mask continues. (Only the phase
    /// matters, and a byte keeps the decoder, so every idle connection, smaller.)
    phase: u8,
    remaining: u64,
}

impl Frame {
    fn fin(&self) -> bool {
        self.flags & 0x80 != 0
    }

    fn rsv1(&self) -> bool {
        self.flags & 0x40 != 0
    }
}

/// A complete item found by the decoder: its payload is `input[range]` unless it was
/// assembled from several reads (`owned`).
#[derive(Debug)]
pub struct Ready {
    opcode: u8,
    kind: DataKind,
    range: std::ops::Range<usize>,
    owned: Option<Vec<u8>>,
    wire: Wire,
}

impl Ready {
    pub fn opcode(&self) -> u8 {
        self.opcode
    }

    /// The item, its payload borrowed from the `input` it was decoded from.
    pub fn item(self, input: &[u8]) -> Item<'_> {
        let payload = match self.owned {
            Some(v) => Payload::Owned(v),
            None => Payload::Borrowed(&input[self.range]),
        };
        match self.opcode {
            OP_PING => Item::Ping(payload),
            OP_PONG => Item::Pong(payload),
            OP_CLOSE => Item::Close(payload),
            _ => Item::Message {
                kind: self.kind,
                payload,
                wire: self.wire,
            },
        }
    }
}

/// A message finished by bytes read straight into the decoder's buffer (`direct_filled`).
#[derive(Debug)]
pub struct Assembled {
    pub kind: DataKind,
    pub payload: Vec<u8>,
    pub wire: Wire,
}

#[derive(Debug)]
pub struct Decoder {
    role: Role,
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
    /// How many bytes at the end of `msg` are the start of a code point not yet complete (at
    /// most 3; text messages only). All before them is valid UTF-8. (A byte, not an index:
    /// every idle connection is smaller.)
    utf8_tail: u8,
    /// Payload of a control frame split across reads.
    ctrl: Vec<u8>,
    /// The message in flight is compressed (its first frame had RSV1).
    msg_compressed: bool,
    /// Frame-header bytes of the message in flight, for its size on the wire.
    msg_hdr: u32,
    /// permessage-deflate, when negotiated: one pointer otherwise.
    deflate: Option<Box<Deflate>>,
}

impl Decoder {
    /// A server's decoder: it reads a client's (masked) frames.
    pub fn new(max_message: usize) -> Self {
        Self::with_role(Role::Server, max_message)
    }

    /// A client's decoder: it reads a server's (unmasked) frames.
    pub fn client(max_message: usize) -> Self {
        Self::with_role(Role::Client, max_message)
    }

    pub fn with_role(role: Role, max_message: usize) -> Self {
        Decoder {
            role,
            max_message: max_message as u64,
            discard: false,
            hdr: [0; MAX_HEADER],
            hdr_len: 0,
            frame: None,
            msg_kind: None,
            msg_len: 0,
            msg: Vec::new(),
            utf8_tail: 0,
            ctrl: Vec::new(),
            msg_compressed: false,
            msg_hdr: 0,
            deflate: None,
        }
    }

    /// permessage-deflate was negotiated: RSV1 marks compressed messages from now on.
    pub fn set_deflate(&mut self, deflate: Deflate) {
        self.deflate = Some(Box::new(deflate));
    }

    pub fn deflate(&self) -> Option<&Deflate> {
        self.deflate.as_deref()
    }

    pub fn deflate_mut(&mut self) -> Option<&mut Deflate> {
        self.deflate.as_deref_mut()
    }

    /// From now on, data frames are parsed only to find the next frame; their payloads are
    /// dropped. Used once we have sent Close and only wait for the peer's.
    pub fn discard_data(&mut self) {
        self.discard = true;
        self.msg = Vec::new();
        self.utf8_tail = 0;
        self.msg_compressed = false;
        self.msg_hdr = 0;
    }

    /// Capacity of the unfinished-message and control-frame buffers (tests: idle is free).
    #[cfg(test)]
    pub(crate) fn buffer_capacity(&self) -> (usize, usize) {
        (self.msg.capacity(), self.ctrl.capacity())
    }

    /// Bytes received of what is still arriving: a message's payload so far, a control frame
    /// split across reads (a server's `--max-buffered` counts them).
    pub fn held(&self) -> usize {
        self.msg.len() + self.ctrl.len()
    }

    /// True while a message or a frame is half received (the connection is not idle).
    pub fn is_mid_frame(&self) -> bool {
        self.frame.is_some() || self.hdr_len > 0 || self.msg_kind.is_some()
    }

    /// Decode the next complete item from `input[*pos..]`, advancing `*pos`. `Ok(None)` means
    /// every byte was consumed and more are needed. Payload bytes are unmasked in place (a
    /// client's decoder has nothing to unmask).
    pub fn next<'a>(
        &mut self,
        input: &'a mut [u8],
        pos: &mut usize,
    ) -> Result<Option<Item<'a>>, Violation> {
        Ok(self.step(input, pos)?.map(|ready| ready.item(input)))
    }

    /// `next`, with the item named by its place in `input` rather than borrowing it, so that a
    /// caller can decode several items from one buffer and keep only the one it hands out.
    pub fn next_ready(
        &mut self,
        input: &mut [u8],
        pos: &mut usize,
    ) -> Result<Option<Ready>, Violation> {
        self.step(input, pos)
    }

    /// The work of `next`, naming the payload by its place in `input` (or handing it over when
    /// it was assembled from several reads).
    fn step(&mut self, input: &mut [u8], pos: &mut usize) -> Result<Option<Ready>, Violation> {
        loop {
            let frame = match self.frame {
                Some(f) => f,
                None => {
                    let Some((frame, used, size)) = self.read_header(&input[*pos..])? else {
                        *pos = input.len();
                        return Ok(None);
                    };
                    *pos += used;
                    self.start_frame(frame)?;
                    if frame.opcode < OP_CLOSE {
                        self.msg_hdr = self.msg_hdr.saturating_add(size as u32);
                    }
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
            let complete = self.consume(take);

            if frame.opcode >= OP_CLOSE {
                let chunk = &mut input[range.clone()];
                unmask_opt(chunk, frame.mask, frame.phase as usize);
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
                    wire: Wire::default(),
                }));
            }

            let kind = self.msg_kind.expect("data frame belongs to a message");
            let finished = complete && frame.fin();
            let mut wire = Wire::default();
            if finished {
                wire = Wire {
                    compressed: self.msg_compressed,
                    len: self.msg_len + self.msg_hdr as u64,
                };
                self.msg_kind = None;
                self.msg_len = 0;
                self.msg_hdr = 0;
            }
            if self.discard {
                if !complete {
                    return Ok(None);
                }
                continue;
            }
            let chunk = &mut input[range.clone()];
            if self.msg_compressed {
                unmask_opt(chunk, frame.mask, frame.phase as usize);
                // Inflated as it arrives, so that the limit and UTF-8 apply to what the
                // message really holds, as early as it is known.
                let d = self
                    .deflate
                    .as_mut()
                    .expect("RSV1 is read only with the extension");
                let before = self.msg.len();
                if let Err(e) = d.inflate(chunk, &mut self.msg, self.max_message, finished) {
                    return Err(match e {
                        Inflated::Corrupt => BAD_DEFLATE,
                        Inflated::TooBig { .. } => {
                            self.discard_data();
                            TOO_BIG
                        }
                    });
                }
                if kind == DataKind::Text {
                    self.check_utf8(before, finished)?;
                }
                if finished {
                    self.msg_compressed = false;
                    self.utf8_tail = 0;
                    return Ok(Some(Ready {
                        opcode: OP_TEXT,
                        kind,
                        range,
                        owned: Some(std::mem::take(&mut self.msg)),
                        wire,
                    }));
                }
                if !complete {
                    return Ok(None);
                }
                continue;
            }
            if finished && self.msg.is_empty() {
                // The whole message is in this one read: hand it out where it lies.
                unmask_opt(chunk, frame.mask, frame.phase as usize);
                if kind == DataKind::Text && std::str::from_utf8(chunk).is_err() {
                    return Err(INVALID_UTF8);
                }
                return Ok(Some(Ready {
                    opcode: frame.opcode,
                    kind,
                    range,
                    owned: None,
                    wire,
                }));
            }
            let before = self.msg.len();
            self.reserve_message();
            // Unmasked as it is copied: one pass over the bytes (the read buffer keeps the
            // masked ones; nothing reads them again).
            match frame.mask {
                Some(mask) => unmask_extend(&mut self.msg, chunk, mask, frame.phase as usize),
                None => self.msg.extend_from_slice(chunk),
            }
            if let Some(owned) = self.assembled(kind, before, finished)? {
                return Ok(Some(Ready {
                    opcode: OP_TEXT,
                    kind,
                    range,
                    owned: Some(owned),
                    wire,
                }));
            }
            if !complete {
                return Ok(None);
            }
        }
    }

    /// After bytes of an uncompressed message were added to `msg` (from `before` on): check
    /// them, and hand the message's payload over when `finished`.
    fn assembled(
        &mut self,
        kind: DataKind,
        before: usize,
        finished: bool,
    ) -> Result<Option<Vec<u8>>, Violation> {
        if kind == DataKind::Text {
            self.check_utf8(before, finished)?;
        }
        if !finished {
            return Ok(None);
        }
        self.utf8_tail = 0;
        Ok(Some(std::mem::take(&mut self.msg)))
    }

    /// Room to read the rest of a big data frame straight into, at its place in the message
    /// (no read buffer, no copy): `msg` and how many bytes may be appended to it, which are
    /// this frame's payload and nothing after it. `None` unless an uncompressed data frame
    /// is in progress with at least `min` bytes to come (smaller ones are read as usual).
    /// The caller appends raw (masked) bytes and then calls `direct_filled`.
    pub fn direct_room(&mut self, min: usize) -> Option<(&mut Vec<u8>, usize)> {
        let frame = self.frame?;
        if frame.opcode >= OP_CLOSE
            || self.discard
            || self.msg_compressed
            || frame.remaining < min as u64
        {
            return None;
        }
        self.reserve_message();
        if self.msg.capacity() - self.msg.len() < min {
            // A fragmented message past what its first frames announced, or past
            // RESERVE_MAX: grow as the bytes come (doubling), as the copying path does.
            self.msg.reserve(min);
        }
        let room = (self.msg.capacity() - self.msg.len()).min(frame.remaining as usize);
        Some((&mut self.msg, room))
    }

    /// `take` bytes of the frame in progress are in: it ends (true) or goes on from there
    /// (its remaining length and its mask's phase move on).
    fn consume(&mut self, take: usize) -> bool {
        let f = self.frame.as_mut().expect("frame in progress");
        if take as u64 == f.remaining {
            self.frame = None;
            return true;
        }
        f.remaining -= take as u64;
        f.phase = ((f.phase as usize + take) % 4) as u8;
        false
    }

    /// The bytes from `msg[from..]` on were read in through `direct_room`: unmask and check
    /// them as `next` does, and hand the message over when they finish it.
    pub fn direct_filled(&mut self, from: usize) -> Result<Option<Assembled>, Violation> {
        let Some(frame) = self.frame else {
            return Ok(None);
        };
        let take = self.msg.len() - from;
        if take == 0 {
            return Ok(None);
        }
        assert!(take as u64 <= frame.remaining, "read past the frame");
        unmask_opt(&mut self.msg[from..], frame.mask, frame.phase as usize);
        let complete = self.consume(take);
        let kind = self.msg_kind.expect("data frame belongs to a message");
        let finished = complete && frame.fin();
        let mut wire = Wire::default();
        if finished {
            wire = Wire {
                compressed: false,
                len: self.msg_len + self.msg_hdr as u64,
            };
            self.msg_kind = None;
            self.msg_len = 0;
            self.msg_hdr = 0;
        }
        Ok(self
            .assembled(kind, from, finished)?
            .map(|payload| Assembled {
                kind,
                payload,
                wire,
            }))
    }

    /// Collect a frame header from `input` (plus bytes kept from earlier reads). Returns the
    /// frame, how many bytes of `input` it used and the header's whole size, or `None` when
    /// `input` ran out first.
    fn read_header(&mut self, input: &[u8]) -> Result<Option<(Frame, usize, usize)>, Violation> {
        if self.hdr_len == 0
            && let Some(need) = header_size(input)
            && input.len() >= need
        {
            let ext = self.deflate.is_some();
            return Ok(Some((
                parse_header(&input[..need], self.role, ext)?,
                need,
                need,
            )));
        }
        let mut used = 0;
        loop {
            let have = self.hdr_len as usize;
            let need = header_size(&self.hdr[..have]).unwrap_or(2);
            if have == need {
                self.hdr_len = 0;
                let ext = self.deflate.is_some();
                return Ok(Some((
                    parse_header(&self.hdr[..need], self.role, ext)?,
                    used,
                    need,
                )));
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
        if frame.rsv1() && frame.opcode != OP_TEXT && frame.opcode != OP_BINARY {
            // RFC 7692 6: only a message's first frame says it is compressed.
            return Err(protocol(if frame.opcode == OP_CONTINUATION {
                "RSV1 set on a continuation frame"
            } else {
                "RSV1 set on a control frame"
            }));
        }
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
                self.msg_compressed = frame.rsv1();
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !frame.fin() {
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
            // A compressed message's limit applies to what it inflates to, while it inflates.
            if !self.msg_compressed && self.msg_len > self.max_message {
                // Skip this frame's payload from now on, so that the closing handshake that
                // follows can still find the peer's Close frame.
                self.frame = Some(frame);
                self.discard_data();
                return Err(TOO_BIG);
            }
        }
        self.frame = Some(frame);
        Ok(())
    }

    /// Before a message's first bytes are kept: room for what its frames announced so far
    /// (the size limit has been checked), so that a big message is copied in once.
    fn reserve_message(&mut self) {
        if self.msg.capacity() == 0 {
            self.msg
                .reserve_exact(self.msg_len.min(self.max_message).min(RESERVE_MAX) as usize);
        }
    }

    /// Validate what arrived of a text message; incomplete code points at the end are fine
    /// until the message is finished. Rust's validator rejects a prefix as soon as it cannot
    /// start a valid sequence, so bad bytes fail the connection as soon as they arrive.
    /// `before`: the length of `msg` before the bytes just added.
    fn check_utf8(&mut self, before: usize, finished: bool) -> Result<(), Violation> {
        let from = before - self.utf8_tail as usize;
        let valid_to = match std::str::from_utf8(&self.msg[from..]) {
            Ok(_) => self.msg.len(),
            Err(e) if e.error_len().is_some() => return Err(INVALID_UTF8),
            Err(e) => from + e.valid_up_to(),
        };
        // An unfinished code point is at most 3 bytes: anything longer was an error above.
        self.utf8_tail = (self.msg.len() - valid_to) as u8;
        if finished && self.utf8_tail != 0 {
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

/// `deflate`: permessage-deflate was negotiated, so RSV1 has a meaning.
fn parse_header(h: &[u8], role: Role, deflate: bool) -> Result<Frame, Violation> {
    let (b0, b1) = (h[0], h[1]);
    if b0 & 0x30 != 0 {
        return Err(protocol("RSV2 or RSV3 set but no extension defines them"));
    }
    if b0 & 0x40 != 0 && !deflate {
        return Err(protocol(
            "RSV1 set but permessage-deflate was not negotiated",
        ));
    }
    let masked = b1 & 0x80 != 0;
    match role {
        Role::Server if !masked => return Err(protocol("client frame is not masked")),
        Role::Client if masked => return Err(protocol("server frame is masked")),
        _ => {}
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
        flags: b0 & 0xC0,
        opcode: b0 & 0x0F,
        // `header_size` counted 4 mask bytes exactly when the mask bit is set.
        mask: masked.then(|| [h[at], h[at + 1], h[at + 2], h[at + 3]]),
        phase: 0,
        remaining: len,
    })
}

fn unmask_opt(buf: &mut [u8], mask: Option<[u8; 4]>, offset: usize) {
    if let Some(mask) = mask {
        unmask(buf, mask, offset);
    }
}

/// What a peer's Close payload means for the closing handshake.
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
            if !crate::ws::proto::close::is_sendable(code) {
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

mod unmask;
mod write;
pub use unmask::{unmask, unmask_extend};
pub use write::*;

#[cfg(test)]
mod client_tests;
#[cfg(test)]
mod deflate_tests;
#[cfg(test)]
mod differential_tests;
#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod server_tests;
