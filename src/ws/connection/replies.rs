//! Replies to one read, for the server's `poll_process` path: frames written into a buffer,
//! and payloads echoed from where they already are, named rather than copied: from the read
//! buffer they were decoded (unmasked) in, or, for a message that came in several reads, from
//! the decoder's buffer it was assembled in (handed over). The header goes into the buffer
//! and one vectored write sends header and payload: a payload is copied at most once on its
//! way back (into the decoder's buffer, and only when it spans reads), plus the kernel's
//! copy, as in a raw TCP echo. Used only where the stream writes vectors natively
//! (`is_write_vectored`: TCP, Unix); over TLS every reply is copied into the buffer as
//! before, since rustls copies into its records anyway.

use crate::error::Error;
use crate::ws::proto::DataKind;
use crate::ws::proto::endpoint::Endpoint;
use crate::ws::proto::frame::Payload;
use std::io::IoSlice;
use std::ops::{Deref, DerefMut};

/// Smaller payloads are copied: an extra iovec costs more than copying a kilobyte.
pub const SPAN_MIN: usize = 1024;
/// IoSlices per vectored write (on the stack).
pub const MAX_IOV: usize = 64;

/// A payload sent from where it lies, after the buffer's first `at` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    at: usize,
    src: Src,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Src {
    /// `len` bytes at `from` in the read buffer.
    Input { from: usize, len: usize },
    /// A payload handed over (`Replies::owned[i]`).
    Owned(usize),
}

/// The output of one read. Derefs to its byte buffer, so that everything that writes frames
/// into a `Vec<u8>` writes into it; `len` counts the named payloads too.
pub struct Replies {
    buf: Vec<u8>,
    spans: Vec<Span>,
    owned: Vec<Vec<u8>>,
    /// Payloads may be named (the stream writes vectors).
    named: bool,
    /// Address and length of the read buffer whose bytes may be named; (0, 0) for none.
    input: (usize, usize),
}

/// What `Replies` came to, taken apart for writing.
pub struct Parts {
    pub buf: Vec<u8>,
    /// Empty unless payloads were named; a reused vector (clear it and give it back).
    pub spans: Vec<Span>,
    pub owned: Vec<Vec<u8>>,
}

impl Replies {
    /// Replies that are all copied into `buf`.
    pub fn copied(buf: Vec<u8>) -> Self {
        Replies {
            buf,
            spans: Vec::new(),
            owned: Vec::new(),
            named: false,
            input: (0, 0),
        }
    }

    /// Replies that may name payloads lying in `input` (only its address and length are
    /// kept: the bytes are given again to `pieces`) or handed over. `spans`: an empty vector
    /// whose capacity is reused.
    pub fn over(buf: Vec<u8>, spans: Vec<Span>, input: &[u8]) -> Self {
        debug_assert!(spans.is_empty());
        Replies {
            buf,
            spans,
            owned: Vec::new(),
            named: true,
            input: (input.as_ptr() as usize, input.len()),
        }
    }

    /// Bytes these replies send: the buffer and the named payloads.
    pub fn len(&self) -> usize {
        let cut = self.buf.len();
        let named: usize = self
            .spans
            .iter()
            .take_while(|s| s.at <= cut)
            .map(|s| match s.src {
                Src::Input { len, .. } => len,
                Src::Owned(i) => self.owned[i].len(),
            })
            .sum();
        cut + named
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn has_spans(&self) -> bool {
        !self.spans.is_empty()
    }

    pub fn into_parts(self) -> Parts {
        Parts {
            buf: self.buf,
            spans: self.spans,
            owned: self.owned,
        }
    }

    /// Where `payload` lies in the read buffer, when it lies there whole.
    fn place(&self, payload: &[u8]) -> Option<usize> {
        let (base, len) = self.input;
        let from = (payload.as_ptr() as usize).checked_sub(base)?;
        (len > 0 && from <= len && payload.len() <= len - from).then_some(from)
    }

    /// One data message, as `Endpoint::send_message` sends it; a big payload that lies in the
    /// read buffer and goes out unchanged (one frame, no compression, no mask) is named, not
    /// copied. Returns the number of frames.
    pub fn send_message(
        &mut self,
        ep: &mut Endpoint,
        kind: DataKind,
        payload: &[u8],
        fragment: Option<usize>,
    ) -> Result<usize, Error> {
        if self.named
            && whole(payload.len(), fragment)
            && let Some(from) = self.place(payload)
            && ep.send_header_only(&mut self.buf, kind, payload.len())?
        {
            let len = payload.len();
            self.spans.push(Span {
                at: self.buf.len(),
                src: Src::Input { from, len },
            });
            return Ok(1);
        }
        ep.send_message(&mut self.buf, kind, payload, fragment)
    }

    /// `send_message` for a payload that may be handed over: one assembled from several reads
    /// goes out from the decoder's buffer it was assembled in.
    pub fn send_payload(
        &mut self,
        ep: &mut Endpoint,
        kind: DataKind,
        payload: Payload<'_>,
        fragment: Option<usize>,
    ) -> Result<usize, Error> {
        match payload {
            Payload::Owned(v)
                if self.named
                    && whole(v.len(), fragment)
                    && ep.send_header_only(&mut self.buf, kind, v.len())? =>
            {
                self.spans.push(Span {
                    at: self.buf.len(),
                    src: Src::Owned(self.owned.len()),
                });
                self.owned.push(v);
                Ok(1)
            }
            p => self.send_message(ep, kind, &p, fragment),
        }
    }
}

/// Big enough to name, and sent as one frame.
fn whole(len: usize, fragment: Option<usize>) -> bool {
    len >= SPAN_MIN && fragment.is_none_or(|size| size == 0 || len <= size)
}

impl Deref for Replies {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.buf
    }
}

impl DerefMut for Replies {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }
}

impl Parts {
    /// The pieces these replies send, in order, the named ones from `input` (the read buffer
    /// they were decoded in). Spans past the end of `buf` (cut by a truncation) are not sent.
    fn pieces<'a>(&'a self, input: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        let buf = &self.buf[..];
        let owned = &self.owned;
        let shown = self.spans.iter().take_while(move |s| s.at <= buf.len());
        let last = shown.clone().last().map_or(0, |s| s.at);
        shown
            .scan(0usize, move |prev, s| {
                let head = &buf[*prev..s.at];
                *prev = s.at;
                let body: &'a [u8] = match s.src {
                    Src::Input { from, len } => &input[from..from + len],
                    Src::Owned(i) => &owned[i],
                };
                Some([head, body])
            })
            .flatten()
            .chain(std::iter::once(&buf[last..]))
            .filter(|p| !p.is_empty())
    }

    /// Bytes to send.
    pub fn total(&self, input: &[u8]) -> usize {
        self.pieces(input).map(<[u8]>::len).sum()
    }

    /// The pieces from byte `skip` on, into `iov` (at most `MAX_IOV`); returns how many.
    pub fn gather<'a>(
        &'a self,
        input: &'a [u8],
        mut skip: usize,
        iov: &mut [IoSlice<'a>; MAX_IOV],
    ) -> usize {
        let mut n = 0;
        for piece in self.pieces(input) {
            if skip >= piece.len() {
                skip -= piece.len();
                continue;
            }
            iov[n] = IoSlice::new(&piece[skip..]);
            skip = 0;
            n += 1;
            if n == MAX_IOV {
                break;
            }
        }
        n
    }

    /// The pieces from byte `skip` on, copied into `out` (what the socket did not take).
    pub fn copy_rest(&self, input: &[u8], mut skip: usize, out: &mut Vec<u8>) {
        for piece in self.pieces(input) {
            if skip >= piece.len() {
                skip -= piece.len();
            } else {
                out.extend_from_slice(&piece[skip..]);
                skip = 0;
            }
        }
    }
}

pub fn empty_iov<'a>() -> [IoSlice<'a>; MAX_IOV] {
    [IoSlice::new(&[]); MAX_IOV]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::proto::frame::{self, Role};

    fn sent(parts: &Parts, input: &[u8], skip: usize) -> Vec<u8> {
        let mut iov = empty_iov();
        let n = parts.gather(input, skip, &mut iov);
        iov[..n].iter().flat_map(|s| s.to_vec()).collect()
    }

    #[test]
    fn big_payloads_are_named_and_sent_after_their_headers_in_order() {
        let input: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let mut ep = Endpoint::new(Role::Server, 1 << 20);
        let mut r = Replies::over(Vec::new(), Vec::new(), &input);
        let payload = &input[100..100 + 2000];
        let handed = vec![5u8; 1500];
        let elsewhere = vec![7u8; 3000];
        assert_eq!(
            r.send_message(&mut ep, DataKind::Binary, payload, None)
                .unwrap(),
            1
        );
        // A small one, one from elsewhere: copied; one handed over: named.
        r.send_message(&mut ep, DataKind::Text, b"hi", None)
            .unwrap();
        r.send_message(&mut ep, DataKind::Binary, &elsewhere, None)
            .unwrap();
        r.send_payload(
            &mut ep,
            DataKind::Binary,
            Payload::Owned(handed.clone()),
            None,
        )
        .unwrap();
        r.send_payload(&mut ep, DataKind::Text, Payload::Borrowed(b"yo"), None)
            .unwrap();
        assert_eq!(r.spans.len(), 2);
        let mut want = Vec::new();
        frame::write_message(&mut want, DataKind::Binary, payload, None);
        frame::write_message(&mut want, DataKind::Text, b"hi", None);
        frame::write_message(&mut want, DataKind::Binary, &elsewhere, None);
        frame::write_message(&mut want, DataKind::Binary, &handed, None);
        frame::write_message(&mut want, DataKind::Text, b"yo", None);
        assert_eq!(r.len(), want.len());
        let parts = r.into_parts();
        assert!(parts.buf.len() < want.len() - 3400, "a payload was copied");
        assert_eq!(parts.total(&input), want.len());
        for skip in 0..=want.len() {
            assert_eq!(sent(&parts, &input, skip), want[skip..], "from {skip}");
            let mut rest = Vec::new();
            parts.copy_rest(&input, skip, &mut rest);
            assert_eq!(rest, want[skip..], "copy_rest from {skip}");
        }
    }

    #[test]
    fn copied_replies_fragments_and_a_clients_frames_name_nothing() {
        let input = vec![1u8; 4096];
        let mut ep = Endpoint::new(Role::Server, 1 << 20);
        let mut r = Replies::copied(Vec::new());
        r.send_message(&mut ep, DataKind::Binary, &input, None)
            .unwrap();
        r.send_payload(
            &mut ep,
            DataKind::Binary,
            Payload::Owned(input.clone()),
            None,
        )
        .unwrap();
        assert!(!r.has_spans());
        let mut r = Replies::over(Vec::new(), Vec::new(), &input);
        assert_eq!(
            r.send_message(&mut ep, DataKind::Binary, &input, Some(1000))
                .unwrap(),
            5
        );
        assert!(!r.has_spans());
        // A client masks what it sends: nothing goes out unchanged.
        let mut client = Endpoint::new(Role::Client, 1 << 20);
        r.send_message(&mut client, DataKind::Binary, &input, None)
            .unwrap();
        r.send_payload(
            &mut client,
            DataKind::Binary,
            Payload::Owned(input.clone()),
            None,
        )
        .unwrap();
        assert!(!r.has_spans());
        assert_eq!(r.len(), r.buf.len());
    }

    #[test]
    fn gather_stops_at_the_iovec_limit_and_spans_cut_off_by_a_truncation_are_not_sent() {
        let input = vec![9u8; 10];
        let span = |at| Span {
            at,
            src: Src::Input { from: 0, len: 10 },
        };
        let parts = Parts {
            buf: vec![0u8; 100],
            spans: (0..100).map(span).collect(),
            owned: Vec::new(),
        };
        let mut iov = empty_iov();
        assert_eq!(parts.gather(&input, 0, &mut iov), MAX_IOV);
        let mut r = Replies::copied(vec![0u8; 60]);
        r.spans = vec![span(2), span(50)];
        r.truncate(5);
        assert_eq!(r.len(), 15);
        let parts = r.into_parts();
        assert_eq!(parts.total(&input), 15);
        assert_eq!(sent(&parts, &input, 0).len(), 15);
    }
}
