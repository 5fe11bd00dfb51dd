//! Opening a connection: DNS, TCP, TLS and the HTTP upgrade, each phase timed, over a stream we
//! own so that tokio-tungstenite only ever sees an already-connected socket.

use crate::core::wire::Tap;
use crate::error::{Error, ErrorKind};
use crate::net::dial::{Dialed, dial};
use crate::net::stream::MaybeTls;
use crate::ws::handshake::client::{self, ConnectOptions};
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

pub type WsStream = WebSocketStream<Tap<MaybeTls>>;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub dns: Duration,
    pub tcp: Duration,
    /// `None` for ws://.
    pub tls: Option<Duration>,
    pub upgrade: Duration,
    pub total: Duration,
}

/// What the server said when it accepted the upgrade.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub url: String,
    pub peer: SocketAddr,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub subprotocol: Option<String>,
    pub extensions: Vec<String>,
    pub timings: Timings,
}

/// Open a WebSocket. The connect timeout covers every phase up to the 101.
pub async fn open(opts: &ConnectOptions) -> Result<(WsStream, Handshake), Error> {
    let phase = std::sync::Mutex::new("DNS/TCP");
    let attempt = async {
        let (io, leftover, handshake) =
            open_phases(opts, &phase, |stream| Tap::new(stream, true)).await?;
        let mut config = WebSocketConfig::default();
        config.max_message_size = Some(opts.max_message_size);
        config.max_frame_size = Some(opts.max_message_size);
        config.read_buffer_size = opts.read_buffer_size;
        // Every send is flushed at once: a buffered ping would measure our buffer, not the peer.
        config.write_buffer_size = 0;
        let ws =
            WebSocketStream::from_partially_read(io, leftover, Role::Client, Some(config)).await;
        Ok((ws, handshake))
    };
    match tokio::time::timeout(opts.connect_timeout, attempt).await {
        Ok(res) => res,
        Err(_) => Err(timed_out(opts, &phase)),
    }
}

/// Open a WebSocket and hand over the bare stream, for a caller that speaks RFC 6455 itself
/// (`core::lean`, soak's connections). Returns the stream, the bytes that came after the 101's
/// head (the first frames, when the server was quick) and the handshake. No `Tap`: such a
/// caller sees every frame, Close payloads included, and would pay for the scan for nothing.
pub async fn open_raw(opts: &ConnectOptions) -> Result<(MaybeTls, Vec<u8>, Handshake), Error> {
    let phase = std::sync::Mutex::new("DNS/TCP");
    match tokio::time::timeout(opts.connect_timeout, open_phases(opts, &phase, |s| s)).await {
        Ok(res) => res,
        Err(_) => Err(timed_out(opts, &phase)),
    }
}

fn timed_out(opts: &ConnectOptions, phase: &std::sync::Mutex<&'static str>) -> Error {
    Error::new(
        ErrorKind::ConnectTimeout,
        format!(
            "connect timeout: no WebSocket to {} after {} (during {}); raise --connect-timeout",
            opts.target.url(),
            humantime::format_duration(opts.connect_timeout),
            phase.lock().map(|p| *p).unwrap_or("connect")
        ),
    )
}

/// DNS, TCP, TLS and the upgrade, over the stream `wrap` makes of the connected socket.
async fn open_phases<S: AsyncRead + AsyncWrite + Unpin>(
    opts: &ConnectOptions,
    phase: &std::sync::Mutex<&'static str>,
    wrap: impl FnOnce(MaybeTls) -> S,
) -> Result<(S, Vec<u8>, Handshake), Error> {
    let start = Instant::now();
    let set_phase = |p| {
        if let Ok(mut g) = phase.lock() {
            *g = p;
        }
    };
    let Dialed {
        stream,
        peer,
        dns,
        tcp,
    } = dial(&opts.target.host, opts.target.port, opts.source).await?;

    let (stream, tls) = match &opts.tls {
        Some(config) if opts.target.secure => {
            set_phase("TLS");
            let tls_start = Instant::now();
            let name = ServerName::try_from(opts.target.host.clone()).map_err(|e| {
                Error::usage(format!(
                    "'{}' is not a valid TLS server name: {e}",
                    opts.target.host
                ))
            })?;
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            let tls = connector
                .connect(name, stream)
                .await
                .map_err(|e| crate::net::tls::describe_handshake_error(&opts.target.host, &e))?;
            (MaybeTls::Tls(Box::new(tls)), Some(tls_start.elapsed()))
        }
        _ => (MaybeTls::Plain(stream), None),
    };

    set_phase("the HTTP upgrade");
    let upgrade_start = Instant::now();
    let mut io = wrap(stream);
    let (accepted, leftover) = client::upgrade(&mut io, opts).await?;
    let upgrade = upgrade_start.elapsed();
    let handshake = Handshake {
        url: opts.target.url(),
        peer,
        status: accepted.status,
        reason: accepted.reason,
        headers: accepted.headers,
        subprotocol: accepted.subprotocol,
        extensions: accepted.extensions,
        timings: Timings {
            dns,
            tcp,
            tls,
            upgrade,
            total: start.elapsed(),
        },
    };
    Ok((io, leftover, handshake))
}
