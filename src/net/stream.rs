//! The byte stream under a WebSocket: a plain socket or TLS over it, chosen per connection. The
//! TLS side is a parameter so that clients (`tokio_rustls::client`) and the server
//! (`tokio_rustls::server`) share one type. A `Socket` is the first hop: TCP, a Unix socket,
//! or a TLS session with an https:// proxy that carries our bytes to the target.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

pub enum MaybeTls<T = tokio_rustls::client::TlsStream<Socket>, P = Socket> {
    Plain(P),
    Tls(Box<T>),
}

/// What a connection runs over before any TLS of the target's own.
pub enum Socket {
    Tcp(TcpStream),
    /// Boxed, like the TLS variants, so that a TCP connection (soak's thousands) costs no
    /// more than it did before Unix sockets: the enum then fits in `TcpStream`'s niche.
    Unix(Box<UnixStream>),
    /// A CONNECT tunnel through an https:// proxy: TLS to the proxy, inside which the
    /// target's bytes (and the target's own TLS, for wss://) travel.
    ProxyTls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl From<TcpStream> for Socket {
    fn from(s: TcpStream) -> Self {
        Socket::Tcp(s)
    }
}

/// One match for every method of both traits: `$s` is the pinned inner stream.
macro_rules! each_socket {
    ($self:expr, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Socket::Tcp(s) => {
                let $s = Pin::new(s);
                $e
            }
            Socket::Unix(s) => {
                let $s = Pin::new(s.as_mut());
                $e
            }
            Socket::ProxyTls(s) => {
                let $s = Pin::new(s.as_mut());
                $e
            }
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        each_socket!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        each_socket!(self, s => s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        each_socket!(self, s => s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Socket::Tcp(s) => s.is_write_vectored(),
            Socket::Unix(s) => s.is_write_vectored(),
            Socket::ProxyTls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_socket!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each_socket!(self, s => s.poll_shutdown(cx))
    }
}

impl<T: AsyncRead + Unpin, P: AsyncRead + Unpin> AsyncRead for MaybeTls<T, P> {
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

impl<T: AsyncWrite + Unpin, P: AsyncWrite + Unpin> AsyncWrite for MaybeTls<T, P> {
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

impl SendQueue for Socket {
    fn unacked(&self) -> Option<u64> {
        match self {
            Socket::Tcp(s) => fd_unacked(s),
            // For a Unix stream the same ioctl counts what the peer has not read yet.
            Socket::Unix(s) => fd_unacked(s.as_ref()),
            Socket::ProxyTls(s) if s.get_ref().1.wants_write() => Some(u64::MAX),
            // The proxy's TCP socket: its count includes the proxy TLS's own overhead, so it
            // names every message that may be unacknowledged, perhaps one or two more.
            Socket::ProxyTls(s) => fd_unacked(s.get_ref().0),
        }
    }
}

/// A TLS stream's socket, and whether rustls still holds output it could not write.
pub trait TlsOverSocket {
    fn socket(&self) -> &Socket;
    fn holds_output(&self) -> bool;
}

impl TlsOverSocket for tokio_rustls::client::TlsStream<Socket> {
    fn socket(&self) -> &Socket {
        self.get_ref().0
    }
    fn holds_output(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

impl TlsOverSocket for tokio_rustls::server::TlsStream<Socket> {
    fn socket(&self) -> &Socket {
        self.get_ref().0
    }
    fn holds_output(&self) -> bool {
        self.get_ref().1.wants_write()
    }
}

/// Over TLS the count is of wire bytes (record headers and tags included) while the caller
/// counts plaintext: a wire byte carries at most one plaintext byte, so treating the count as
/// plaintext names every message that may be unacknowledged, and perhaps one or two more.
impl<T: TlsOverSocket> SendQueue for MaybeTls<T, Socket> {
    fn unacked(&self) -> Option<u64> {
        match self {
            MaybeTls::Plain(s) => s.unacked(),
            MaybeTls::Tls(s) if s.holds_output() => Some(u64::MAX),
            MaybeTls::Tls(s) => s.socket().unacked(),
        }
    }
}

/// `SIOCOUTQ` (the same number as `TIOCOUTQ`): the send queue's bytes not yet acknowledged.
/// It still answers after the peer reset the connection, until the socket is closed.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn fd_unacked(s: &impl std::os::fd::AsRawFd) -> Option<u64> {
    let mut n: libc::c_int = 0;
    // SAFETY: a valid socket descriptor and a pointer to an int, as the ioctl expects.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut n) };
    (rc == 0).then(|| u64::try_from(n).unwrap_or(0))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn fd_unacked<S>(_: &S) -> Option<u64> {
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
        let mut s = MaybeTls::<tokio_rustls::client::TlsStream<Socket>>::Plain(Socket::Tcp(client));
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
