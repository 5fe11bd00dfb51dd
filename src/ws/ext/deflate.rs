//! The permessage-deflate codec of one connection (RFC 7692 7.2), over flate2's zlib-rs
//! backend (raw deflate with window bits; we never write deflate ourselves).
//!
//! Memory is the design problem: a 15-bit compressor costs a few hundred KiB and an inflater
//! tens, and a server holds thousands of connections. So both contexts are made at first use,
//! and a side with no context takeover drops its context after every message: an idle
//! connection that negotiated no context takeover holds only this struct. With context
//! takeover the contexts live as long as the connection, as the RFC requires.
//!
//! Inflating is bounded while it runs: output grows in steps up to the size limit plus one
//! byte, and one byte past the limit stops the message there (`Inflated::TooBig`), so a small
//! frame that would inflate to gigabytes never allocates more than the limit.

use crate::ws::ext::negotiation::Agreed;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// What every sender strips from the end of a message and every receiver appends back
/// (RFC 7692 7.2.1, 7.2.2): the tail of an empty stored block from a sync flush.
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];
/// First step of an inflated message's buffer.
const FIRST_STEP: usize = 4096;

/// zlib refuses a raw deflate window of 8 bits (since 1.2.9 its deflate.c turns 8 into 9 for
/// zlib streams and rejects it for raw ones; zlib-rs follows it and flate2 asserts 9..=15).
/// As Node's zlib, Python's (websockets, autobahn-python) and others do, we run a 9-bit
/// window when 8 was agreed. For inflating this is always safe (a larger window reads
/// anything a smaller one wrote); for compressing it may refer up to 512 bytes back, which
/// every zlib-based peer reads, since its inflater made the same change.
fn zlib_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inflated {
    /// Not valid deflate data.
    Corrupt,
    /// The inflated message passed the limit: `input` compressed bytes of the message had been
    /// read when `output` bytes were out.
    TooBig { input: u64, output: u64 },
}

pub struct Deflate {
    agreed: Agreed,
    server: bool,
    compressor: Option<Compress>,
    decompressor: Option<Decompress>,
    /// Compressed bytes of the message being inflated (for the report at the limit).
    msg_in: u64,
    /// The peer ended its deflate stream (BFINAL) inside this message: the rest is ignored.
    stream_ended: bool,
    /// Where a message over the limit was stopped: (compressed bytes read, bytes inflated).
    stopped: Option<(u64, u64)>,
}

impl std::fmt::Debug for Deflate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflate")
            .field("agreed", &self.agreed)
            .field("compressor", &self.compressor.is_some())
            .field("decompressor", &self.decompressor.is_some())
            .finish()
    }
}

impl Deflate {
    /// `server`: our role. Nothing is allocated until the first message either way.
    pub fn new(agreed: Agreed, server: bool) -> Self {
        Deflate {
            agreed,
            server,
            compressor: None,
            decompressor: None,
            msg_in: 0,
            stream_ended: false,
            stopped: None,
        }
    }

    pub fn agreed(&self) -> &Agreed {
        &self.agreed
    }

    /// Where a message over the size limit was stopped: (compressed bytes read, bytes
    /// inflated, the limit plus one).
    pub fn stopped_at(&self) -> Option<(u64, u64)> {
        self.stopped
    }

    /// Whether a context is held now (tests: idle with no context takeover holds none).
    pub fn holds_contexts(&self) -> (bool, bool) {
        (self.compressor.is_some(), self.decompressor.is_some())
    }

    /// Compress one whole message, appending it to `out` without the trailing 4 bytes.
    pub fn compress(&mut self, payload: &[u8], out: &mut Vec<u8>) {
        let bits = zlib_bits(self.agreed.compress_bits(self.server));
        let c = self.compressor.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::default(), false, bits)
        });
        let start = out.len();
        out.reserve(payload.len() / 2 + 64);
        let mut used = 0;
        loop {
            let before = c.total_in();
            // Only a full output buffer returns an error-free partial result; anything else
            // is a bug in the backend, and the data would be lost: fail loudly.
            c.compress_vec(&payload[used..], out, FlushCompress::Sync)
                .expect("deflate never fails on memory it owns");
            used += (c.total_in() - before) as usize;
            // A sync flush is complete once the backend stopped with room to spare.
            if used == payload.len() && out.len() < out.capacity() {
                break;
            }
            out.reserve((out.len() - start).max(1024));
        }
        if out[start..].ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        if self.agreed.compress_resets(self.server) {
            self.compressor = None;
        }
    }

    /// Inflate the next compressed bytes of a message into `out`, which may hold at most
    /// `limit` bytes; `last` for the message's final frame. With no context takeover the
    /// inflater is released after the message.
    pub fn inflate(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
        last: bool,
    ) -> Result<(), Inflated> {
        let res = self.inflate_chunk(chunk, out, limit).and_then(|()| {
            if last {
                self.inflate_chunk(&TAIL, out, limit)
            } else {
                Ok(())
            }
        });
        if let Err(Inflated::TooBig { input, output }) = res {
            self.stopped = Some((input, output));
        }
        if last || res.is_err() {
            self.end_message(res.is_err());
        }
        res
    }

    fn end_message(&mut self, failed: bool) {
        self.msg_in = 0;
        if failed || self.stream_ended || self.agreed.inflate_resets(self.server) {
            self.decompressor = None;
        }
        self.stream_ended = false;
    }

    fn inflate_chunk(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<u8>,
        limit: u64,
    ) -> Result<(), Inflated> {
        if self.stream_ended {
            return Ok(());
        }
        let bits = zlib_bits(self.agreed.inflate_bits(self.server));
        let d = self
            .decompressor
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        // At most one byte past the limit is ever allocated: it tells "more" from "exactly".
        let cap = usize::try_from(limit.saturating_add(1)).unwrap_or(usize::MAX);
        let mut used = 0;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= cap {
                    return Err(Inflated::TooBig {
                        input: self.msg_in + used as u64,
                        output: out.len() as u64,
                    });
                }
                let step = out.len().max(FIRST_STEP).min(cap - out.len());
                out.reserve_exact(step);
            }
            let (in_before, out_before) = (d.total_in(), out.len());
            let status = d
                .decompress_vec(&chunk[used..], out, FlushDecompress::Sync)
                .map_err(|_| Inflated::Corrupt)?;
            used += (d.total_in() - in_before) as usize;
            if out.len() as u64 > limit {
                return Err(Inflated::TooBig {
                    input: self.msg_in + used as u64,
                    output: out.len() as u64,
                });
            }
            if status == Status::StreamEnd {
                // A final block (BFINAL): nothing after it belongs to this stream.
                self.stream_ended = true;
                break;
            }
            let room = out.len() < out.capacity();
            if used == chunk.len() && room {
                break;
            }
            if room && d.total_in() == in_before && out.len() == out_before {
                // No progress with input and room left: the backend wants more input.
                break;
            }
        }
        self.msg_in += chunk.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::ext::negotiation::{Offer, ServerPolicy, check_answer};

    fn agreed(policy: &str, offer: &str) -> Agreed {
        let p = ServerPolicy::parse(policy).unwrap();
        let a = p
            .accept(&[Offer::parse(offer).unwrap().to_string().as_str()])
            .0
            .unwrap();
        // And the client reads the same answer.
        let c = check_answer(&[Offer::parse(offer).unwrap()], &[a.to_string().as_str()]);
        assert_eq!(
            c.unwrap().unwrap().server_max_window_bits,
            a.server_max_window_bits
        );
        a
    }

    fn roundtrip(a: Agreed, msgs: &[&[u8]]) {
        let mut server = Deflate::new(a, true);
        let mut client = Deflate::new(a, false);
        for m in msgs {
            let mut wire = Vec::new();
            server.compress(m, &mut wire);
            let mut back = Vec::new();
            client.inflate(&wire, &mut back, 1 << 30, true).unwrap();
            assert_eq!(&back, m);
            let mut wire = Vec::new();
            client.compress(m, &mut wire);
            // Fed in pieces, as frames arrive.
            let mut back = Vec::new();
            let (a, b) = wire.split_at(wire.len() / 2);
            server.inflate(a, &mut back, 1 << 30, false).unwrap();
            server.inflate(b, &mut back, 1 << 30, true).unwrap();
            assert_eq!(&back, m);
        }
    }

    #[test]
    fn roundtrips_with_every_window_and_takeover() {
        let text = b"{\"id\": 1, \"name\": \"wsbeat\", \"tags\": [\"a\", \"b\", \"c\"]}".repeat(40);
        let msgs: [&[u8]; 4] = [b"", b"hello", &text, &text];
        for bits in 8..=15 {
            let offer = format!("server_max_window_bits={bits}; client_max_window_bits={bits}");
            roundtrip(agreed("", &offer), &msgs);
        }
        roundtrip(
            agreed("server_no_context_takeover; client_no_context_takeover", ""),
            &msgs,
        );
    }

    #[test]
    fn empty_message_is_one_zero_byte() {
        let mut d = Deflate::new(agreed("", ""), true);
        let mut wire = Vec::new();
        d.compress(b"", &mut wire);
        assert_eq!(wire, [0x00]);
    }

    #[test]
    fn context_takeover_shrinks_a_repeat_and_no_takeover_releases() {
        let msg = b"the same sentence, over and over again, compresses to almost nothing".to_vec();
        let mut keep = Deflate::new(agreed("", ""), true);
        let (mut first, mut second) = (Vec::new(), Vec::new());
        keep.compress(&msg, &mut first);
        keep.compress(&msg, &mut second);
        assert!(
            second.len() < first.len() / 2,
            "{} vs {}",
            second.len(),
            first.len()
        );
        assert_eq!(keep.holds_contexts(), (true, false));

        let mut fresh = Deflate::new(
            agreed("server_no_context_takeover; client_no_context_takeover", ""),
            true,
        );
        let (mut a, mut b) = (Vec::new(), Vec::new());
        fresh.compress(&msg, &mut a);
        fresh.compress(&msg, &mut b);
        assert_eq!(a, b, "every message starts afresh");
        let mut out = Vec::new();
        fresh.inflate(&a, &mut out, 1 << 20, true).unwrap();
        assert_eq!(fresh.holds_contexts(), (false, false), "idle holds nothing");
    }

    #[test]
    fn a_bomb_stops_at_the_limit_without_allocating_past_it() {
        let zeros = vec![0u8; 10 << 20];
        let mut sender = Deflate::new(agreed("", ""), false);
        let mut wire = Vec::new();
        sender.compress(&zeros, &mut wire);
        // Deflate inflates at most about 1032 to 1: 10 MiB of zeros is a ~10 KiB frame.
        assert!(wire.len() < 12 * 1024, "{}", wire.len());
        let mut receiver = Deflate::new(agreed("", ""), true);
        let mut out = Vec::new();
        let limit = 1 << 20;
        let e = receiver.inflate(&wire, &mut out, limit, true).unwrap_err();
        match e {
            Inflated::TooBig { input, output } => {
                assert_eq!(output, limit + 1);
                assert!(input < wire.len() as u64, "{input}");
            }
            other => panic!("{other:?}"),
        }
        assert!(out.capacity() as u64 <= limit + 1, "{}", out.capacity());
        // Exactly the limit is fine.
        let mut exact = Deflate::new(agreed("", ""), false);
        let mut w = Vec::new();
        exact.compress(&zeros[..limit as usize], &mut w);
        let mut out = Vec::new();
        Deflate::new(agreed("", ""), true)
            .inflate(&w, &mut out, limit, true)
            .unwrap();
        assert_eq!(out.len() as u64, limit);
    }

    #[test]
    fn garbage_is_corrupt() {
        let mut d = Deflate::new(agreed("", ""), true);
        let mut out = Vec::new();
        assert_eq!(
            d.inflate(&[0xFF, 0xFF, 0xFF, 0xFF, 0x00], &mut out, 1 << 20, true),
            Err(Inflated::Corrupt)
        );
    }
}
