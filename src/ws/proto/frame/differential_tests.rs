//! Differential decoding: the same bytes, in both roles, through our endpoint (decoder and
//! closing rules) and through tungstenite's, an implementation written by other people. The
//! inputs are random but mostly near-valid: frames with correct headers for the role, then now
//! and then one thing broken on purpose (a reserved bit or opcode, the wrong masking, a
//! fragmented or oversized control frame, a continuation out of place, bad UTF-8, a bad Close,
//! a length that lies, a flipped byte, a cut). Each side's verdict is the data messages,
//! pings and pongs it delivered, the pongs it wrote back, and how the stream ended: still
//! open, closed by the peer (with the Close payload), or failed with a close code.
//!
//! Where the two differ by design, the difference is normalised below in one place each, with
//! the RFC 6455 section that allows it and a check that it is only that. Each normalisation is
//! counted (printed with `--nocapture`) and pinned by one example in
//! `the_differences_let_through_are_these`. Anything else is a disagreement and fails the test
//! with the input in hex.

use super::*;
use crate::ws::proto::endpoint::{Endpoint, Event};
use std::io::{self, Read, Write};
use tokio_tungstenite::tungstenite;
use tungstenite::error::{Error as TError, ProtocolError};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{Message, Role as TRole, WebSocket, WebSocketConfig};

/// The message size limit of both sides. tungstenite gets it as its frame limit too, so that a
/// length it cannot hold is refused from the header, as ours does, instead of being waited for.
const MAX: usize = 512;
const CASES_PER_ROLE: usize = 5000;
const SEED: u64 = 0x6455_2011;
/// A limit no generated message reaches: only a length field that lies goes past it.
const LIFTED: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Every byte was used without a verdict: the stream could go on.
    More,
    /// The peer's Close, accepted: its payload as it was sent.
    Closed(Vec<u8>),
    /// The stream was failed with this close code.
    Failed(u16),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    seen: Vec<Seen>,
    /// What the decoder answered by itself: one pong per ping, with its payload.
    pongs: Vec<Vec<u8>>,
    end: End,
}

fn opposite(role: Role) -> Role {
    match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    }
}

/// The frames one side wrote back (pongs, Close), read with our decoder in the peer's role.
fn replies(role: Role, out: &[u8]) -> (Vec<Vec<u8>>, Option<Vec<u8>>) {
    let mut dec = Decoder::with_role(opposite(role), usize::MAX);
    let mut buf = out.to_vec();
    let mut pos = 0;
    let (mut pongs, mut close) = (Vec::new(), None);
    while let Some(item) = dec
        .next(&mut buf, &mut pos)
        .expect("replies are valid frames")
    {
        match item {
            Item::Pong(p) => pongs.push(p.to_vec()),
            Item::Close(p) if close.is_none() => close = Some(p.to_vec()),
            other => panic!("unexpected reply {other:?}"),
        }
    }
    (pongs, close)
}

fn close_code(payload: &[u8]) -> u16 {
    u16::from_be_bytes([payload[0], payload[1]])
}

/// Our endpoint, fed `input` in pieces of the given sizes (cycled).
fn ours(role: Role, max: usize, input: &[u8], pieces: &[usize]) -> Verdict {
    let mut ep = Endpoint::new(role, max);
    let mut out = Vec::new();
    let mut seen = Vec::new();
    let mut buf = input.to_vec();
    let mut at = 0;
    let mut sizes = pieces.iter().cycle();
    'feed: while at < buf.len() {
        let end = at
            .saturating_add(*sizes.next().expect("at least one size"))
            .min(buf.len());
        let piece = &mut buf[at..end];
        at = end;
        let mut pos = 0;
        while let Some(event) = ep.feed(piece, &mut pos, &mut out) {
            if ep.ending().is_some() {
                // Decoded after the failure (pongs still count while we wait for the
                // answer to a 1009): not part of the verdict.
                break 'feed;
            }
            seen.push(match event {
                Event::Message {
                    kind: DataKind::Text,
                    payload,
                    ..
                } => Seen::Text(payload.to_vec()),
                Event::Message { payload, .. } => Seen::Binary(payload.to_vec()),
                Event::Ping(p) => Seen::Ping(p.to_vec()),
                Event::Pong(p) => Seen::Pong(p.to_vec()),
            });
        }
        if ep.ending().is_some() {
            break;
        }
    }
    let (pongs, close) = replies(role, &out);
    let end = match ep.ending() {
        None => End::More,
        Some(e) if e.error.is_none() => End::Closed(close.expect("the peer's Close is echoed")),
        Some(_) => End::Failed(close_code(&close.expect("a failure sends a Close"))),
    };
    Verdict { seen, pongs, end }
}

/// A byte stream for tungstenite: reads `input` in pieces of the given sizes, keeps writes.
struct Wire {
    input: Vec<u8>,
    at: usize,
    pieces: Vec<usize>,
    reads: usize,
    out: Vec<u8>,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let piece = self.pieces[self.reads % self.pieces.len()];
        self.reads += 1;
        let n = piece.min(buf.len()).min(self.input.len() - self.at);
        buf[..n].copy_from_slice(&self.input[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// tungstenite's synchronous `WebSocket`, reading until its first verdict.
fn theirs(role: Role, input: &[u8], pieces: &[usize]) -> Verdict {
    theirs_with_limit(role, MAX, input, pieces)
}

/// `theirs` with another size limit. tungstenite reserves a frame's declared length up front,
/// so a limit stays: it is how it refuses a length it cannot hold.
fn theirs_with_limit(role: Role, limit: usize, input: &[u8], pieces: &[usize]) -> Verdict {
    let trole = match role {
        Role::Server => TRole::Server,
        Role::Client => TRole::Client,
    };
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .max_message_size(Some(limit))
        .max_frame_size(Some(limit));
    let wire = Wire {
        input: input.to_vec(),
        at: 0,
        pieces: pieces.to_vec(),
        reads: 0,
        out: Vec::new(),
    };
    let mut ws = WebSocket::from_raw_socket(wire, trole, Some(config));
    let mut seen = Vec::new();
    let end = loop {
        match ws.read() {
            Ok(Message::Text(t)) => seen.push(Seen::Text(t.as_bytes().to_vec())),
            Ok(Message::Binary(b)) => seen.push(Seen::Binary(b.to_vec())),
            Ok(Message::Ping(p)) => seen.push(Seen::Ping(p.to_vec())),
            Ok(Message::Pong(p)) => seen.push(Seen::Pong(p.to_vec())),
            Ok(Message::Close(close)) => {
                // Send the answer it queued, to compare it with ours.
                let _ = ws.flush();
                break match close {
                    None => End::Closed(Vec::new()),
                    // tungstenite does not fail on a code that may not be sent: it answers
                    // with this Close and hands it out as if the peer had sent it (RFC 6455
                    // 7.4.1 forbids the code; what to do about it is the endpoint's choice).
                    // Ours fails with 1002; on the wire the two are the same.
                    Some(cf)
                        if cf.code == CloseCode::Protocol && cf.reason == "Protocol violation" =>
                    {
                        End::Failed(1002)
                    }
                    Some(cf) => {
                        let mut payload = u16::from(cf.code).to_be_bytes().to_vec();
                        payload.extend_from_slice(cf.reason.as_bytes());
                        End::Closed(payload)
                    }
                };
            }
            Ok(Message::Frame(_)) => unreachable!("tungstenite never reads a raw frame"),
            // The input ran out, in the middle of a frame or not.
            Err(TError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => break End::More,
            Err(TError::Protocol(_)) => break End::Failed(1002),
            Err(TError::Utf8(_)) => break End::Failed(1007),
            Err(TError::Capacity(_)) => break End::Failed(1009),
            Err(e) => panic!("tungstenite: unexpected error {e:?}"),
        }
    };
    let (pongs, _) = replies(role, &ws.get_ref().out);
    Verdict { seen, pongs, end }
}

// --- the generator ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum LenForm {
    Minimal,
    /// A longer length field than needed: RFC 6455 5.2 says the minimal form MUST be used, but
    /// neither side checks it, and they must agree on that too.
    Wide16,
    Wide64,
}

#[derive(Debug, Clone)]
struct Spec {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
    /// A length field that is not the payload's length (a lie, or an impossible length).
    declared: Option<u64>,
    form: LenForm,
}

impl Spec {
    fn new(rng: &mut fastrand::Rng, role: Role, fin: bool, opcode: u8, payload: Vec<u8>) -> Self {
        let mask = (role == Role::Server).then(|| match rng.u8(..10) {
            // An all-zero key leaves the payload as it is.
            0 => [0; 4],
            _ => rng.u32(..).to_be_bytes(),
        });
        let form = match rng.u8(..20) {
            0 => LenForm::Wide16,
            1 => LenForm::Wide64,
            _ => LenForm::Minimal,
        };
        Spec {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload,
            declared: None,
            form,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let len = self.declared.unwrap_or(self.payload.len() as u64);
        out.push(if self.fin { 0x80 } else { 0 } | (self.rsv & 7) << 4 | (self.opcode & 0x0F));
        let m = if self.mask.is_some() { 0x80 } else { 0 };
        let form = match self.form {
            LenForm::Minimal if len < 126 => None,
            LenForm::Minimal if len <= 0xFFFF => Some(126),
            LenForm::Minimal => Some(127),
            LenForm::Wide16 if len <= 0xFFFF => Some(126),
            _ => Some(127),
        };
        match form {
            None => out.push(m | len as u8),
            Some(126) => {
                out.push(m | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 127);
                out.extend_from_slice(&len.to_be_bytes());
            }
        }
        let at = out.len();
        if let Some(key) = self.mask {
            out.extend_from_slice(&key);
        }
        out.extend_from_slice(&self.payload);
        if let Some(key) = self.mask {
            unmask(&mut out[at + 4..], key, 0);
        }
    }
}

const CHARS: &[char] = &[
    'a',
    'z',
    ' ',
    '~',
    '\u{7F}',
    'é',
    '\u{7FF}',
    '\u{800}',
    '✓',
    '\u{D7FF}',
    '\u{E000}',
    '\u{FFFF}',
    '😀',
    '\u{10000}',
    '\u{10FFFF}',
];

/// Byte sequences that are not UTF-8: a stray byte, a lone continuation byte, overlong forms,
/// a surrogate, a code point past U+10FFFF, a 5-byte form, and cut-off sequences (invalid when
/// the message ends there or ASCII follows).
const NOT_UTF8: &[&[u8]] = &[
    &[0xFF],
    &[0x80],
    &[0xC0, 0x80],
    &[0xE0, 0x80, 0x80],
    &[0xED, 0xA0, 0x80],
    &[0xF4, 0x90, 0x80, 0x80],
    &[0xF8, 0x88, 0x80, 0x80, 0x80],
    &[0xE2, 0x9C],
    &[0xC3],
];

fn text(rng: &mut fastrand::Rng, chars: usize) -> Vec<u8> {
    let mut s = String::new();
    for _ in 0..chars {
        s.push(CHARS[rng.usize(..CHARS.len())]);
    }
    s.into_bytes()
}

fn bytes(rng: &mut fastrand::Rng, n: usize) -> Vec<u8> {
    (0..n).map(|_| rng.u8(..)).collect()
}

/// Mostly small payloads; sometimes around the limit, so that fragments add up past it.
fn data_len(rng: &mut fastrand::Rng) -> usize {
    match rng.u8(..10) {
        0 => rng.usize(100..700),
        1 => 0,
        _ => rng.usize(1..60),
    }
}

fn control(rng: &mut fastrand::Rng, role: Role, opcode: u8) -> Spec {
    let n = match rng.u8(..12) {
        0 => rng.usize(120..=130),
        _ => rng.usize(..20),
    };
    let payload = bytes(rng, n);
    Spec::new(rng, role, true, opcode, payload)
}

const CLOSE_CODES: &[u16] = &[
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4001,
    4999, 0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535,
];

fn close(rng: &mut fastrand::Rng, role: Role) -> Spec {
    let payload = match rng.u8(..10) {
        0 => Vec::new(),
        1 => vec![rng.u8(..)],
        n => {
            let mut p = CLOSE_CODES[rng.usize(..CLOSE_CODES.len())]
                .to_be_bytes()
                .to_vec();
            let chars = rng.usize(..20);
            p.extend(text(rng, chars));
            if n == 2 {
                p.extend_from_slice(NOT_UTF8[rng.usize(..NOT_UTF8.len())]);
            }
            p.truncate(125);
            p
        }
    };
    Spec::new(rng, role, true, OP_CLOSE, payload)
}

/// A data message, maybe in fragments with control frames between them.
fn message(rng: &mut fastrand::Rng, role: Role, frames: &mut Vec<Spec>) {
    let is_text = rng.bool();
    let payload = if is_text {
        // Characters take one to four bytes: aim at the byte length.
        let chars = data_len(rng).div_ceil(2);
        text(rng, chars)
    } else {
        let n = data_len(rng);
        bytes(rng, n)
    };
    let opcode = if is_text { OP_TEXT } else { OP_BINARY };
    let pieces = if rng.u8(..10) < 4 {
        rng.usize(2..=4)
    } else {
        1
    };
    // Cut anywhere, characters included: only the whole message must be UTF-8.
    let mut cuts: Vec<usize> = (0..pieces - 1)
        .map(|_| rng.usize(..=payload.len()))
        .collect();
    cuts.sort_unstable();
    cuts.push(payload.len());
    let mut from = 0;
    for (i, &to) in cuts.iter().enumerate() {
        let op = if i == 0 { opcode } else { OP_CONTINUATION };
        frames.push(Spec::new(
            rng,
            role,
            i + 1 == cuts.len(),
            op,
            payload[from..to].to_vec(),
        ));
        from = to;
        if i + 1 < cuts.len() && rng.u8(..10) < 3 {
            let op = if rng.bool() { OP_PING } else { OP_PONG };
            frames.push(control(rng, role, op));
        }
    }
}

/// Break one thing in the frames, the way a faulty or hostile peer would.
fn corrupt_frames(rng: &mut fastrand::Rng, frames: &mut [Spec]) {
    let i = rng.usize(..frames.len());
    let f = &mut frames[i];
    match rng.u8(..11) {
        0 => f.rsv = rng.u8(1..8),
        1 => {
            f.mask = match f.mask {
                Some(_) => None,
                None => Some(rng.u32(..).to_be_bytes()),
            }
        }
        2 => {
            f.opcode = match rng.u8(..2) {
                0 => rng.u8(3..=7),
                _ => rng.u8(0xB..=0xF),
            }
        }
        3 => f.fin = !f.fin,
        4 => f.opcode = [OP_CONTINUATION, OP_TEXT, OP_BINARY][rng.usize(..3)],
        5 if f.opcode != OP_BINARY && f.opcode < OP_CLOSE => {
            let at = rng.usize(..=f.payload.len());
            let bad = NOT_UTF8[rng.usize(..NOT_UTF8.len())];
            f.payload.splice(at..at, bad.iter().copied());
        }
        6 => f.declared = Some(1 << 63 | rng.u64(..1 << 20)),
        7 => f.declared = Some(rng.u64(1 << 20..1 << 40)),
        8 => {
            let len = f.payload.len() as u64;
            f.declared = Some((len + rng.u64(..8)).saturating_sub(rng.u64(..8)));
        }
        9 => f.opcode = [OP_CLOSE, OP_PING, OP_PONG][rng.usize(..3)],
        _ => {
            let extra = rng.usize(126..700);
            f.payload.extend(bytes(rng, extra));
        }
    }
}

fn case(rng: &mut fastrand::Rng, role: Role) -> Vec<u8> {
    let mut frames = Vec::new();
    for _ in 0..rng.usize(1..=5) {
        match rng.u8(..100) {
            0..50 => message(rng, role, &mut frames),
            50..70 => frames.push(control(rng, role, OP_PING)),
            70..80 => frames.push(control(rng, role, OP_PONG)),
            _ => frames.push(close(rng, role)),
        }
    }
    for _ in 0..[0, 0, 1, 1, 2][rng.usize(..5)] {
        corrupt_frames(rng, &mut frames);
    }
    let mut wire = Vec::new();
    for f in &frames {
        f.encode(&mut wire);
    }
    match rng.u8(..20) {
        0 if !wire.is_empty() => {
            let at = rng.usize(..wire.len());
            wire[at] ^= 1 << rng.u8(..8);
        }
        1 => wire.truncate(rng.usize(..=wire.len())),
        2 => {
            let n = rng.usize(1..20);
            wire.extend(bytes(rng, n));
        }
        _ => {}
    }
    wire
}

/// The pieces a reader gets: mostly whole, sometimes byte by byte or in odd sizes.
fn pieces(rng: &mut fastrand::Rng) -> Vec<usize> {
    match rng.u8(..4) {
        0 => vec![usize::MAX],
        1 => vec![1],
        _ => (0..rng.usize(1..6)).map(|_| rng.usize(1..40)).collect(),
    }
}

// --- the comparison ---------------------------------------------------------------------------

/// Where a stream that ends inside a frame ends that frame: the offset of the last whole
/// frame's end, and how many payload bytes the last frame lacks (`None` when its header is not
/// complete or the stream ends at a frame boundary).
fn last_frame(input: &[u8]) -> (usize, Option<u64>) {
    let mut at = 0;
    loop {
        let rest = &input[at..];
        let Some(h) = header_size(rest) else {
            return (at, None);
        };
        if rest.len() < h {
            return (at, None);
        }
        let len = match rest[1] & 0x7F {
            126 => u16::from_be_bytes([rest[2], rest[3]]) as u64,
            127 => u64::from_be_bytes(rest[2..10].try_into().expect("8 bytes")),
            n => n as u64,
        };
        let have = (rest.len() - h) as u64;
        if have < len {
            return (at, Some(len - have));
        }
        at += h + len as usize;
    }
}

#[derive(Debug, Default)]
struct Tally {
    cases: usize,
    messages: usize,
    more: usize,
    closed: usize,
    failed: [usize; 3],
    /// Normalisations used, by kind.
    early: usize,
    size_first: usize,
    reason_first: usize,
    registry: usize,
}

/// Compare one input; `Err` describes a disagreement.
fn compare(
    role: Role,
    input: &[u8],
    rng: &mut fastrand::Rng,
    tally: &mut Tally,
) -> Result<(), String> {
    let whole = ours(role, MAX, input, &[usize::MAX]);
    let split = pieces(rng);
    let ours_v = ours(role, MAX, input, &split);
    if ours_v != whole {
        return Err(format!(
            "ours differs with itself when fed in pieces {split:?}: {whole:?} vs {ours_v:?}"
        ));
    }
    let theirs_v = theirs(role, input, &pieces(rng));

    tally.cases += 1;
    tally.messages += ours_v
        .seen
        .iter()
        .filter(|s| matches!(s, Seen::Text(_) | Seen::Binary(_)))
        .count();
    match ours_v.end {
        End::More => tally.more += 1,
        End::Closed(_) => tally.closed += 1,
        End::Failed(1002) => tally.failed[0] += 1,
        End::Failed(1007) => tally.failed[1] += 1,
        End::Failed(1009) => tally.failed[2] += 1,
        End::Failed(c) => return Err(format!("ours failed with close code {c}")),
    }

    if ours_v == theirs_v {
        return Ok(());
    }
    let same_before = ours_v.seen == theirs_v.seen && ours_v.pongs == theirs_v.pongs;
    match (&ours_v.end, &theirs_v.end) {
        // Ours judges a frame from its header, and text as its bytes arrive; tungstenite reads
        // a whole frame first (RFC 6455 leaves when to look to the endpoint: 7.1.7 only says
        // to fail on detection; 8.1 allows failing on bad UTF-8 mid-message). When the input
        // ends inside the frame that ours failed, it is only earlier if (a) ours did not fail
        // on the whole frames before it, and (b) tungstenite fails the same way once the frame
        // is complete (its payload padded with zeros, which are ASCII and keep what was wrong).
        (End::Failed(code), End::More) if same_before => {
            let (boundary, missing) = last_frame(input);
            if missing.is_none() {
                return Err("ours failed where tungstenite waits for more".into());
            }
            let prefix = ours(role, MAX, &input[..boundary], &[usize::MAX]);
            if prefix.end != End::More {
                return Err(format!(
                    "ours failed before the last, unfinished frame: {prefix:?}"
                ));
            }
            match theirs_completed(role, MAX, input).end {
                End::Failed(c) if c == *code => {}
                // Completed, the frame may also be over tungstenite's frame limit: see below.
                End::Failed(1009) if *code == 1002 => size_first(role, input)?,
                other => {
                    return Err(format!(
                        "ours failed early with {code}; tungstenite, with the frame completed, \
                         says {other:?}"
                    ));
                }
            }
            tally.early += 1;
            Ok(())
        }
        // One frame broke a framing rule and the size limit at once: see `size_first`.
        (End::Failed(1002), End::Failed(1009)) if same_before => {
            size_first(role, input)?;
            tally.size_first += 1;
            Ok(())
        }
        // A Close frame with both a code that may not be sent and a reason that is not UTF-8:
        // ours checks the code first (1002), tungstenite the reason (1007). RFC 6455 7.4 and
        // 8.1 each require a failure and do not order them.
        (End::Failed(1002), End::Failed(1007)) if same_before => match first_close(role, input) {
            Some(p)
                if p.len() >= 2
                    && !crate::ws::proto::close::is_sendable(close_code(&p))
                    && std::str::from_utf8(&p[2..]).is_err() =>
            {
                tally.reason_first += 1;
                Ok(())
            }
            _ => Err("ours says 1002 where tungstenite says 1007".into()),
        },
        // 1014 (Bad Gateway) is in IANA's close code registry, which RFC 6455 7.4.2 opens to
        // later specifications; ours accepts it, tungstenite's table stops at 1013 and
        // answers it as a forbidden code.
        (End::Closed(p), End::Failed(1002))
            if same_before && p.len() >= 2 && close_code(p) == 1014 =>
        {
            tally.registry += 1;
            Ok(())
        }
        _ => Err("verdicts differ".into()),
    }
}

/// The payload of the first Close frame in `input`, read with our decoder and no size limit.
fn first_close(role: Role, input: &[u8]) -> Option<Vec<u8>> {
    let mut dec = Decoder::with_role(role, usize::MAX);
    let mut buf = input.to_vec();
    let mut pos = 0;
    while let Ok(Some(item)) = dec.next(&mut buf, &mut pos) {
        if let Item::Close(p) = item {
            return Some(p.to_vec());
        }
    }
    None
}

/// tungstenite's verdict once the last frame is complete: its payload padded with zeros,
/// which are ASCII and keep whatever was wrong before them wrong.
fn theirs_completed(role: Role, limit: usize, input: &[u8]) -> Verdict {
    let mut padded = input.to_vec();
    if let (_, Some(missing)) = last_frame(input)
        && missing <= LIFTED as u64
    {
        padded.resize(input.len() + missing as usize, 0);
    }
    theirs_with_limit(role, limit, &padded, &[usize::MAX])
}

/// Ours says 1002 where tungstenite says 1009: one frame broke a framing rule and the size
/// limit at once. tungstenite checks the declared length first, from the header (its
/// max_frame_size), ours the framing rules first; RFC 6455 does not order the two (5.2 and
/// 10.4 each require the failure). It is only that if, with the size limit lifted, ours still
/// fails there with 1002 and tungstenite does too once the frame is complete. A length beyond
/// even the lifted limit (a 64-bit length with its top bit set, which 5.2 forbids, or one no
/// test could send) tungstenite can only ever refuse by its size.
fn size_first(role: Role, input: &[u8]) -> Result<(), String> {
    let limited = ours(role, MAX, input, &[usize::MAX]);
    let unlimited = ours(role, usize::MAX, input, &[usize::MAX]);
    if unlimited.end != End::Failed(1002) || unlimited.seen != limited.seen {
        return Err(format!(
            "ours says 1002 only with the size limit: without it {unlimited:?}"
        ));
    }
    let lifted = theirs_completed(role, LIFTED, input);
    if lifted.seen != limited.seen {
        return Err(format!(
            "without the size limit tungstenite delivers other things: {lifted:?}"
        ));
    }
    match lifted.end {
        End::Failed(1002) | End::Failed(1009) => Ok(()),
        other => Err(format!(
            "without the size limit tungstenite says {other:?} where ours says 1002"
        )),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn ours_and_tungstenite_reach_the_same_verdict_on_random_near_valid_streams() {
    let mut disagreements = Vec::new();
    for role in [Role::Server, Role::Client] {
        let mut rng = fastrand::Rng::with_seed(SEED);
        let mut tally = Tally::default();
        for n in 0..CASES_PER_ROLE {
            let input = case(&mut rng, role);
            if let Err(why) = compare(role, &input, &mut rng, &mut tally) {
                let (o, t) = (
                    ours(role, MAX, &input, &[usize::MAX]),
                    theirs(role, &input, &[usize::MAX]),
                );
                disagreements.push(format!(
                    "{role:?} case {n}: {why}\n  input {}\n  ours   {:?} after {} items, pongs {:?}\n  theirs {:?} after {} items, pongs {:?}{}",
                    hex(&input),
                    o.end,
                    o.seen.len(),
                    o.pongs,
                    t.end,
                    t.seen.len(),
                    t.pongs,
                    if o.seen == t.seen { "" } else { " (items differ)" },
                ));
            }
        }
        println!("{role:?}: {tally:?}");
        // The generator must reach every kind of verdict, or the comparison proves little.
        assert!(tally.messages > CASES_PER_ROLE / 2, "{tally:?}");
        assert!(tally.more > 100 && tally.closed > 100, "{tally:?}");
        assert!(tally.failed.iter().all(|&n| n > 50), "{tally:?}");
    }
    assert!(
        disagreements.is_empty(),
        "{} disagreements; the first ones:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(8)].join("\n")
    );
}

/// A frame as a client writes it, for the examples below.
fn client_frame(opcode: u8, payload: &[u8], declared: Option<u64>) -> Vec<u8> {
    let spec = Spec {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some([0x0F, 0xF0, 0x5A, 0xA5]),
        payload: payload.to_vec(),
        declared,
        form: LenForm::Minimal,
    };
    let mut out = Vec::new();
    spec.encode(&mut out);
    out
}

fn verdict_ends(input: &[u8]) -> (End, End) {
    let whole = [usize::MAX];
    (
        ours(Role::Server, MAX, input, &whole).end,
        theirs(Role::Server, input, &whole).end,
    )
}

/// One example of each difference the comparison above lets through, so that a new
/// tungstenite that changes its mind shows here, by name, instead of as a shift in the counts.
#[test]
fn the_differences_let_through_are_these() {
    // Forbidden close code: tungstenite answers 1002 without failing; the same on the wire.
    let forbidden = client_frame(OP_CLOSE, &[0x03, 0xED], None);
    assert_eq!(
        verdict_ends(&forbidden),
        (End::Failed(1002), End::Failed(1002))
    );
    // 1014 is registered; tungstenite's table stops at 1013.
    let bad_gateway = client_frame(OP_CLOSE, &[0x03, 0xF6], None);
    assert_eq!(
        verdict_ends(&bad_gateway),
        (End::Closed(vec![0x03, 0xF6]), End::Failed(1002))
    );
    // A 64-bit length with its top bit set: a framing error (5.2) for ours, too big for it.
    let top_bit = client_frame(OP_BINARY, b"x", Some(1 << 63 | 1));
    assert_eq!(
        verdict_ends(&top_bit),
        (End::Failed(1002), End::Failed(1009))
    );
    // A 600-byte ping: too long for a control frame (5.5) and over the size limit.
    let long_ping = client_frame(OP_PING, &[b'p'; 600], None);
    assert_eq!(
        verdict_ends(&long_ping),
        (End::Failed(1002), End::Failed(1009))
    );
    // A code that may not be sent and a reason that is not UTF-8, in one Close.
    let doubly_bad = client_frame(OP_CLOSE, &[0x03, 0xED, 0xFF], None);
    assert_eq!(
        verdict_ends(&doubly_bad),
        (End::Failed(1002), End::Failed(1007))
    );
    // Bad UTF-8 in a frame that has not finished arriving: ours fails at once, tungstenite
    // waits for the rest of the frame.
    let mut unfinished = client_frame(OP_TEXT, b"ok\xFF and more", None);
    unfinished.truncate(unfinished.len() - 5);
    assert_eq!(verdict_ends(&unfinished), (End::Failed(1007), End::More));
}
