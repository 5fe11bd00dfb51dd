//! A transparent stream wrapper that watches the bytes we read and write. tungstenite rewrites
//! a Close frame whose code RFC 6455 forbids on the wire into 1002 before we see it; being
//! honest about what the peer sent means reading the frame ourselves. The scan only decodes
//! frame headers and skips payloads, so it costs a few instructions per frame.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub struct Tap<S> {
    inner: S,
    scan: FrameScan,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl<S> Tap<S> {
    /// `after_http`: the stream still carries an HTTP upgrade message before the first frame.
    pub fn new(inner: S, after_http: bool) -> Self {
        Tap {
            inner,
            scan: FrameScan::new(after_http),
            bytes_in: 0,
            bytes_out: 0,
        }
    }

    /// The payload of the last Close frame that arrived, exactly as sent.
    pub fn last_close(&self) -> Option<&[u8]> {
        self.scan.last_close.as_deref()
    }

    /// Data frames (text, binary, continuation) read so far.
    pub fn data_frames_in(&self) -> u64 {
        self.scan.data_frames
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let res = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = res {
            let new = &buf.filled()[before..];
            this.bytes_in += new.len() as u64;
            this.scan.feed(new);
        }
        res
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = res {
            this.bytes_out += n as u64;
        }
        res
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let res = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = res {
            this.bytes_out += n as u64;
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

const CLOSE_OPCODE: u8 = 0x8;
/// A legal Close payload is at most 125 bytes; keep a little more to show what an illegal one held.
const CLOSE_CAPTURE_MAX: usize = 256;

#[derive(Debug)]
enum Phase {
    /// Looking for the blank line that ends the HTTP upgrade message; counts matched bytes of
    /// "\r\n\r\n".
    Http(u8),
    Header,
    Payload {
        remaining: u64,
        capture: bool,
    },
}

#[derive(Debug)]
struct FrameScan {
    phase: Phase,
    header: [u8; 14],
    header_len: usize,
    mask: Option<[u8; 4]>,
    capture: Vec<u8>,
    last_close: Option<Vec<u8>>,
    data_frames: u64,
}

impl FrameScan {
    fn new(after_http: bool) -> Self {
        FrameScan {
            phase: if after_http {
                Phase::Http(0)
            } else {
                Phase::Header
            },
            header: [0; 14],
            header_len: 0,
            mask: None,
            capture: Vec::new(),
            last_close: None,
            data_frames: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match &mut self.phase {
                Phase::Http(matched) => {
                    const END: &[u8; 4] = b"\r\n\r\n";
                    let mut consumed = 0;
                    for &b in bytes {
                        consumed += 1;
                        *matched = if b == END[*matched as usize] {
                            *matched + 1
                        } else if b == b'\r' {
                            1
                        } else {
                            0
                        };
                        if *matched == 4 {
                            self.phase = Phase::Header;
                            break;
                        }
                    }
                    bytes = &bytes[consumed..];
                }
                Phase::Header => {
                    let take = (self.header_needed() - self.header_len).min(bytes.len());
                    self.header[self.header_len..self.header_len + take]
                        .copy_from_slice(&bytes[..take]);
                    self.header_len += take;
                    bytes = &bytes[take..];
                    if self.header_len == self.header_needed() {
                        self.start_payload();
                    }
                }
                Phase::Payload { remaining, capture } => {
                    let take = (*remaining).min(bytes.len() as u64) as usize;
                    if *capture && self.capture.len() < CLOSE_CAPTURE_MAX {
                        let room = CLOSE_CAPTURE_MAX - self.capture.len();
                        self.capture.extend_from_slice(&bytes[..take.min(room)]);
                    }
                    *remaining -= take as u64;
                    bytes = &bytes[take..];
                    if *remaining == 0 {
                        self.finish_frame();
                    }
                }
            }
        }
    }

    /// Bytes of header the current frame has: 2, plus the extended length, plus the mask key.
    fn header_needed(&self) -> usize {
        if self.header_len < 2 {
            return 2;
        }
        let ext = match self.header[1] & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let mask = if self.header[1] & 0x80 != 0 { 4 } else { 0 };
        2 + ext + mask
    }

    fn start_payload(&mut self) {
        let opcode = self.header[0] & 0x0F;
        let (len, at) = match self.header[1] & 0x7F {
            126 => (
                u16::from_be_bytes([self.header[2], self.header[3]]) as u64,
                4,
            ),
            127 => (
                u64::from_be_bytes(self.header[2..10].try_into().unwrap()),
                10,
            ),
            n => (n as u64, 2),
        };
        self.mask =
            (self.header[1] & 0x80 != 0).then(|| self.header[at..at + 4].try_into().unwrap());
        if opcode < 0x8 {
            self.data_frames += 1;
        }
        let capture = opcode == CLOSE_OPCODE;
        self.capture.clear();
        self.phase = Phase::Payload {
            remaining: len,
            capture,
        };
        if len == 0 {
            self.finish_frame();
        }
    }

    fn finish_frame(&mut self) {
        if let Phase::Payload { capture: true, .. } = self.phase {
            let mut payload = std::mem::take(&mut self.capture);
            if let Some(mask) = self.mask {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            self.last_close = Some(payload);
        }
        self.header_len = 0;
        self.phase = Phase::Header;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_close_frames_after_the_http_response_even_split_across_reads() {
        let mut wire = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n".to_vec();
        wire.extend_from_slice(&[0x81, 0x02, b'h', b'i']); // text "hi"
        wire.extend_from_slice(&[0x88, 0x04, 0x03, 0xED, b'o', b'k']); // close 1005 "ok"
        for chunk in [1, 2, 3, 7, wire.len()] {
            let mut scan = FrameScan::new(true);
            for part in wire.chunks(chunk) {
                scan.feed(part);
            }
            assert_eq!(
                scan.last_close.as_deref(),
                Some(&[0x03, 0xED, b'o', b'k'][..]),
                "chunk {chunk}"
            );
            assert_eq!(scan.data_frames, 1);
        }
    }

    #[test]
    fn skips_extended_length_payloads_and_unmasks_close() {
        let mut wire = vec![0x82, 126, 0x01, 0x00];
        wire.extend(std::iter::repeat_n(0x88u8, 256)); // bytes that look like close opcodes
        let mask = [1, 2, 3, 4];
        let payload = [0x03u8, 0xE8];
        wire.extend_from_slice(&[0x88, 0x80 | 2]);
        wire.extend_from_slice(&mask);
        wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let mut scan = FrameScan::new(false);
        scan.feed(&wire);
        assert_eq!(scan.last_close.as_deref(), Some(&payload[..]));
    }

    #[test]
    fn empty_close_payload_is_captured() {
        let mut scan = FrameScan::new(false);
        scan.feed(&[0x88, 0x00]);
        assert_eq!(scan.last_close.as_deref(), Some(&[][..]));
    }
}
