//! One data message whose payload is read while it is sent (`connect --send-file`), so that
//! one chunk of it is in memory at a time, however big the file: reading it whole took 2.1 GB
//! for a 1 GiB file, and `/dev/zero` until the process was killed. A source of known size goes
//! out as frames whose lengths are known up front (one frame, or `--fragment-size` frames),
//! its payload streamed into them; a source that cannot be sized (a pipe) goes out as a
//! fragmented message, a frame per chunk, and may not exceed a limit.

use super::Connection;
use crate::error::{Error, ErrorKind};
use crate::ws::proto::DataKind;
use crate::ws::proto::frame::{self, OP_BINARY, OP_CONTINUATION, OP_TEXT};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// Payload bytes read and sent at a time; also the largest frame of an unsized source.
pub const STREAM_CHUNK: usize = 64 * 1024;

/// Close codes when a message is abandoned between fragments: an unsized source outgrew its
/// limit, or it could not be read. A problem with the source is the user's (exit 2, like an
/// unreadable file).
const MESSAGE_TOO_BIG: u16 = 1009;
const INTERNAL_ERROR: u16 = 1011;

/// Where the payload comes from and what is known about it.
pub struct Source<'a, R> {
    pub reader: &'a mut R,
    /// `Some` for a regular file: its length when it was opened.
    pub size: Option<u64>,
    /// For messages: what to call the source (`--send-file PATH`).
    pub name: &'a str,
}

/// What went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    pub len: u64,
    pub frames: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    /// Send one message read from `src`: a sized source in frames of `fragment_size` (one
    /// frame without it); an unsized one in frames of at most `fragment_size` (and of at most
    /// `STREAM_CHUNK`), at most `limit` bytes in all. Over the limit the message is abandoned
    /// with Close 1009 (a control frame may come between fragments) and a usage error is
    /// returned. A source that fails or ends early in a frame of announced length leaves the
    /// frame unfinished: the connection is dropped.
    pub async fn send_stream<R: AsyncRead + Unpin>(
        &mut self,
        kind: DataKind,
        src: Source<'_, R>,
        fragment_size: Option<usize>,
        limit: u64,
    ) -> Result<Streamed, Error> {
        if !self.ep.is_open() {
            return Err(Error::new(
                ErrorKind::Abnormal,
                "cannot send a message: the connection is closing",
            ));
        }
        let opcode = match kind {
            DataKind::Text => OP_TEXT,
            DataKind::Binary => OP_BINARY,
        };
        match src.size {
            Some(size) => self.send_sized(opcode, src, size, fragment_size).await,
            None => self.send_unsized(opcode, src, fragment_size, limit).await,
        }
    }

    async fn send_sized<R: AsyncRead + Unpin>(
        &mut self,
        opcode: u8,
        src: Source<'_, R>,
        size: u64,
        fragment_size: Option<usize>,
    ) -> Result<Streamed, Error> {
        let per_frame = match fragment_size {
            Some(f) if f > 0 && (f as u64) < size => f as u64,
            _ => size.max(1),
        };
        let frames = size.div_ceil(per_frame).max(1);
        let mut sent = 0u64;
        for i in 0..frames {
            let len = per_frame.min(size - sent);
            let op = if i == 0 { opcode } else { OP_CONTINUATION };
            let mask = frame::write_streamed_header(
                self.ep.role(),
                &mut self.out,
                i + 1 == frames,
                op,
                len as usize,
            );
            let mut at = 0u64;
            while at < len {
                let want = (len - at).min(STREAM_CHUNK as u64) as usize;
                let start = self.out.len();
                self.out.resize(start + want, 0);
                let got = match src.reader.read(&mut self.out[start..]).await {
                    Ok(0) => Err(format!(
                        "{} ended after {} of its {size} bytes (it shrank while being sent)",
                        src.name,
                        sent + at
                    )),
                    Ok(n) => Ok(n),
                    Err(e) => Err(format!("cannot read {}: {e}", src.name)),
                };
                let n = match got {
                    Ok(n) => n,
                    Err(why) => return Err(self.cut_mid_frame(why)),
                };
                self.out.truncate(start + n);
                if let Some(key) = mask {
                    frame::unmask(&mut self.out[start..], key, at as usize);
                }
                at += n as u64;
                self.write_all().await?;
            }
            self.write_all().await?;
            sent += len;
        }
        Ok(Streamed {
            len: size,
            frames: frames as usize,
        })
    }

    async fn send_unsized<R: AsyncRead + Unpin>(
        &mut self,
        opcode: u8,
        src: Source<'_, R>,
        fragment_size: Option<usize>,
        limit: u64,
    ) -> Result<Streamed, Error> {
        let per_frame = fragment_size
            .filter(|&f| f > 0)
            .unwrap_or(STREAM_CHUNK)
            .min(STREAM_CHUNK);
        let mut buf = vec![0u8; per_frame];
        let mut total = 0u64;
        let mut frames = 0usize;
        loop {
            // A frame's length is in its header: fill it before sending it.
            let mut filled = 0;
            let mut ended = false;
            while filled < per_frame {
                match src.reader.read(&mut buf[filled..]).await {
                    Ok(0) => {
                        ended = true;
                        break;
                    }
                    Ok(n) => filled += n,
                    Err(e) => {
                        let why = format!("cannot read {}: {e}", src.name);
                        return Err(self.abandon(why, INTERNAL_ERROR).await);
                    }
                }
            }
            total += filled as u64;
            if total > limit {
                let why = format!(
                    "{} gave more than {limit} bytes; a source that cannot be sized (a pipe, \
                     a device) is sent up to --max-message-size: raise it, or send a regular file",
                    src.name
                );
                return Err(self.abandon(why, MESSAGE_TOO_BIG).await);
            }
            let op = if frames == 0 { opcode } else { OP_CONTINUATION };
            let mask =
                frame::write_streamed_header(self.ep.role(), &mut self.out, ended, op, filled);
            let start = self.out.len();
            self.out.extend_from_slice(&buf[..filled]);
            if let Some(key) = mask {
                frame::unmask(&mut self.out[start..], key, 0);
            }
            frames += 1;
            self.write_all().await?;
            if ended {
                return Ok(Streamed { len: total, frames });
            }
        }
    }

    /// The source failed between frames: end the unfinished message with a Close, then say why.
    async fn abandon(&mut self, why: String, code: u16) -> Error {
        self.ep.close(&mut self.out, code, "message abandoned");
        let _ = self.write_all().await;
        Error::usage(why)
    }

    /// The source failed inside a frame whose length was announced: nothing valid can follow,
    /// so the connection is dropped.
    fn cut_mid_frame(&mut self, why: String) -> Error {
        self.ep.abort(why.clone());
        Error::usage(why)
    }
}
