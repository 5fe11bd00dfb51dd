//! Opening a client connection: the first hop (DNS and TCP, a proxy's tunnel, or a Unix
//! socket: `net::route`), TLS and the HTTP upgrade, each phase timed, redirects followed with
//! `-L`, then the one `Connection` type over the stream.

use crate::error::{Error, ErrorKind};
use crate::net::route::{Peer, Reached, reach};
use crate::net::stream::MaybeTls;
use crate::ws::connection::Connection;
use crate::ws::handshake::client::{self, ConnectOptions};
use crate::ws::proto::frame::Role;
use crate::ws::redirect::{self, Redirect};
use rustls::pki_types::ServerName;
use std::time::{Duration, Instant};

/// A client's connection: over a `Socket` (TCP, a Unix socket, a proxy's tunnel), or TLS over it.
pub type ClientConnection = Connection<MaybeTls>;

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    pub dns: Duration,
    pub tcp: Duration,
    /// The proxy's handshake (CONNECT or SOCKS, TLS to an https:// proxy included); `None`
    /// without a proxy.
    pub proxy: Option<Duration>,
    /// `None` for ws://.
    pub tls: Option<Duration>,
    pub upgrade: Duration,
    /// From the start to the 101, every redirect included.
    pub total: Duration,
}

/// What the server said when it accepted the upgrade.
#[derive(Debug, Clone)]
pub struct Handshake {
    pub url: String,
    /// The server, or the proxy we went through.
    pub peer: Peer,
    /// The proxy's URL, without credentials.
    pub proxy: Option<String>,
    /// The redirects followed before this (`-L`), in order.
    pub redirects: Vec<Redirect>,
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
    match tokio::time::timeout(opts.connect_timeout, follow(opts, &phase)).await {
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

/// Open, and with `-L` open again where each redirect points.
async fn follow(
    opts: &ConnectOptions,
    phase: &std::sync::Mutex<&'static str>,
) -> Result<(MaybeTls, Vec<u8>, Handshake), Error> {
    let start = Instant::now();
    let mut redirects = Vec::new();
    let mut hop: Option<ConnectOptions> = None;
    loop {
        let current = hop.as_ref().unwrap_or(opts);
        let err = match open_phases(current, phase).await {
            Ok((io, leftover, mut handshake)) => {
                handshake.redirects = redirects;
                handshake.timings.total = start.elapsed();
                return Ok((io, leftover, handshake));
            }
            Err(e) => e,
        };
        let (Some(max), Some(status), Some(location)) = (opts.follow, err.status, &err.location)
        else {
            return Err(after(err, &redirects));
        };
        if !redirect::is_followed(status) {
            return Err(after(err, &redirects));
        }
        if redirects.len() as u32 >= max {
            return Err(Error::new(
                ErrorKind::Upgrade,
                format!(
                    "too many redirects: {} followed (--max-redirs {max}); the last pointed to {}",
                    redirects.len(),
                    crate::error::escape_controls(location, false)
                ),
            ));
        }
        let to = redirect::next_target(&current.target, location)?;
        let from = current.target.url();
        let (next, credentials_dropped) = redirect::options_for(opts, to);
        redirects.push(Redirect {
            status,
            from,
            to: next.target.url(),
            credentials_dropped,
        });
        hop = Some(next);
    }
}

/// A failure after redirects says where it was sent from: the URL on the command line is
/// not the one that failed.
fn after(err: Error, redirects: &[Redirect]) -> Error {
    let Some(last) = redirects.last() else {
        return err;
    };
    let mut e = Error::new(
        err.kind(),
        format!(
            "{} (after {} redirect(s), the last from {})",
            err.message(),
            redirects.len(),
            last.from
        ),
    );
    e.status = err.status;
    e.body = err.body;
    e.location = err.location;
    e
}

/// The first hop, TLS and the upgrade, for one URL.
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
    set_phase("DNS/TCP");
    let Reached {
        socket,
        peer,
        dns,
        tcp,
        proxy,
    } = reach(
        &opts.reach,
        &opts.target,
        opts.source,
        opts.tls.as_ref(),
        &set_phase,
    )
    .await?;

    let (stream, tls) = if opts.target.secure {
        let config = opts.tls.as_ref().ok_or_else(|| {
            Error::usage(format!(
                "{} needs TLS, which was not set up",
                opts.target.url()
            ))
        })?;
        set_phase("TLS");
        let tls_start = Instant::now();
        let host = opts
            .reach
            .tls_server_name
            .as_deref()
            .unwrap_or(&opts.target.host);
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| Error::usage(format!("'{host}' is not a valid TLS server name: {e}")))?;
        let connector = tokio_rustls::TlsConnector::from(config.clone());
        let tls = connector
            .connect(name, socket)
            .await
            .map_err(|e| crate::net::tls::describe_handshake_error(host, &e))?;
        (MaybeTls::Tls(Box::new(tls)), Some(tls_start.elapsed()))
    } else {
        (MaybeTls::Plain(socket), None)
    };

    set_phase("the HTTP upgrade");
    let upgrade_start = Instant::now();
    let mut io = stream;
    let (accepted, leftover) = client::upgrade(&mut io, opts).await?;
    let upgrade = upgrade_start.elapsed();
    let (proxy, proxy_time) = match proxy {
        Some((url, took)) => (Some(url), Some(took)),
        None => (None, None),
    };
    let handshake = Handshake {
        url: opts.target.url(),
        peer,
        proxy,
        redirects: Vec::new(),
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
            proxy: proxy_time,
            tls,
            upgrade,
            total: start.elapsed(),
        },
    };
    Ok((io, leftover, handshake))
}
