//! The byte stream under a WebSocket: plain TCP or TLS over TCP, chosen per connection. The
//! TLS side is a parameter so that clients (`tokio_rustls::client`) and the server
//! (`tokio_rustls::server`) share one type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

pub enum MaybeTls<T = tokio_rustls::client::TlsStream<TcpStream>> {
    Plain(TcpStream),
    Tls(Box<T>),
}

impl<T: AsyncRead + Unpin> AsyncRead for MaybeTls<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for MaybeTls<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            MaybeTls::Plain(s) => s.is_write_vectored(),
            MaybeTls::Tls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTls::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTls::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// What the kernel still holds of what we wrote: bytes handed to the socket that the peer's
/// TCP has not acknowledged. At a connection loss they are what may never have arrived
/// (`client::unconfirmed`). Bytes the peer's TCP acknowledged but its application never read
/// are beyond anyone's knowledge on this side.
pub trait SendQueue {
    /// `None` when this platform or stream cannot tell. `Some(u64::MAX)` when the TLS layer
    /// still holds records it could not write: then nothing written can be called confirmed.
    fn unacked(&self) -> Option<u64> {
        None
    }
}

/// The in-memory streams of the tests have no kernel behind them.
impl SendQueue for tokio::io::DuplexStream {}

/// A TLS stream's TCP socket, and whether rustls still holds output it could not write.
pub trait TlsOverTcp {
    fn tcp(&self) -> &TcpStream;
    fn holds_output(&self) -> bool;
}

impl TlsOverTcp for tokio_rustls::client::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
    fn holds_output(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

impl TlsOverTcp for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
    fn holds_output(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

/// Over TLS the count is of wire bytes (record headers and tags included) while the caller
/// counts plaintext: a wire byte carries at most one plaintext byte, so treating the count as
/// plaintext names every message that may be unacknowledged, and perhaps one or two more.
impl<T: TlsOverTcp> SendQueue for MaybeTls<T> {
    fn unacked(&self) -> Option<u64> {
        match self {
            MaybeTls::Plain(s) => tcp_unacked(s),
            MaybeTls::Tls(s) if s.holds_output() => Some(u64::MAX),
            MaybeTls::Tls(s) => tcp_unacked(s.tcp()),
        }
    }
}

/// `SIOCOUTQ` (the same number as `TIOCOUTQ`): the send queue's bytes not yet acknowledged.
/// It still answers after the peer reset the connection, until the socket is closed.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn tcp_unacked(s: &TcpStream) -> Option<u64> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: a valid socket descriptor and a pointer to an int, as the ioctl expects.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    (rc == 0).then(|| u64::try_from(n).unwrap_or(0))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn tcp_unacked(_: &TcpStream) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// What the peer does not read stays unacknowledged once its receive window is full, and
    /// the count survives the peer's reset.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[tokio::test]
    async fn counts_what_a_peer_that_stopped_reading_never_acknowledged() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        small_rcvbuf(&listener);
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().unwrap();
        let mut s = MaybeTls::<tokio_rustls::client::TlsStream<TcpStream>>::Plain(client);
        assert_eq!(s.unacked(), Some(0));
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..16 {
            s.write_all(&chunk).await.unwrap();
        }
        let held = s.unacked().unwrap();
        assert!(
            held > 512 * 1024,
            "a 1 MiB write into a peer that never reads: {held} B unacknowledged"
        );
        drop(server);
        let after = s.unacked().unwrap();
        assert!(
            after >= held / 2,
            "{after} B after the reset, {held} B before"
        );
    }

    /// A small receive buffer on the listener, inherited by the accepted socket.
    fn small_rcvbuf(l: &std::net::TcpListener) {
        use std::os::fd::AsRawFd;
        let v: libc::c_int = 4096;
        // SAFETY: a valid socket and an int option value.
        let rc = unsafe {
            libc::setsockopt(
                l.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
    }
}
