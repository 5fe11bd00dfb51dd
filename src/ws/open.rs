//! Opening a client connection: DNS, TCP, TLS and the HTTP upgrade, each phase timed, then the
//! one `Connection` type over the stream.

use crate::error::{Error, ErrorKind};
use crate::net::dial::{Dialed, dial};
use crate::net::stream::MaybeTls;
use crate::ws::connection::Connection;
use crate::ws::handshake::client::{self, ConnectOptions};
use crate::ws::proto::frame::Role;
use rustls::pki_types::ServerName;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// A client's connection: over TCP, or TLS over TCP.
pub type ClientConnection = Connection<MaybeTls>;

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
    /// permessage-deflate as the server agreed to it.
    pub deflate: Option<crate::ws::ext::Agreed>,
    /// The Sec-WebSocket-Extensions we sent, if any (for `-v`).
    pub offered_extensions: Option<Box<str>>,
    pub timings: Timings,
}

/// Open a WebSocket. The connect timeout covers every phase up to the 101.
pub async fn open(opts: &ConnectOptions) -> Result<(ClientConnection, Handshake), Error> {
    let (io, leftover, handshake) = open_raw(opts).await?;
    let mut conn = Connection::new(io, Role::Client, leftover, opts.max_message_size);
    if let Some(agreed) = handshake.deflate {
        conn.endpoint_mut().enable_deflate(agreed);
    }
    Ok((conn, handshake))
}

/// Open a WebSocket and hand over the bare stream: the bytes that came after the 101's head
/// (the first frames, when the server was quick) and the handshake. For a caller that builds
/// the `Connection` itself, where it decides what is boxed (soak's workers).
pub async fn open_raw(opts: &ConnectOptions) -> Result<(MaybeTls, Vec<u8>, Handshake), Error> {
    let phase = std::sync::Mutex::new("DNS/TCP");
    match tokio::time::timeout(opts.connect_timeout, open_phases(opts, &phase)).await {
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

/// DNS, TCP, TLS and the upgrade.
async fn open_phases(
    opts: &ConnectOptions,
    phase: &std::sync::Mutex<&'static str>,
) -> Result<(MaybeTls, Vec<u8>, Handshake), Error> {
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
    let mut io = stream;
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
        deflate: accepted.deflate,
        offered_extensions: client::offered_header(opts).map(String::into_boxed_str),
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
