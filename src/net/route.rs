//! The first hop of a connection: a Unix socket, a proxy's tunnel, or TCP straight to the
//! server (after `--connect-to` and `--resolve`), each phase timed. What comes over it (the
//! target's TLS, the upgrade) is the caller's.

use super::dial::{Dialed, dial, resolve};
use super::proxy::socks::{self, Destination};
use super::proxy::{Proxy, ProxyChoice, ProxyKind, http_connect};
use super::resolve::Overrides;
use super::stream::Socket;
use super::target::Target;
use crate::error::{Error, ErrorKind};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to reach servers: set once per run from the command line and the environment.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    pub proxy: ProxyChoice,
    /// `--unix-socket` or a `ws+unix://` URL: every connection goes there, no proxy.
    pub unix_socket: Option<PathBuf>,
    pub overrides: Overrides,
    /// `--tls-server-name`: the name sent in SNI and verified, instead of the URL's host.
    pub tls_server_name: Option<String>,
}

/// Who we are connected to: the server, or the proxy in between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Peer::Tcp(a) => write!(f, "{a}"),
            Peer::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl std::str::FromStr for Peer {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Peer::Tcp)
    }
}

pub struct Reached {
    pub socket: Socket,
    pub peer: Peer,
    pub dns: Duration,
    pub tcp: Duration,
    /// The proxy used (no credentials) and how long its handshake took (TLS to an https://
    /// proxy included).
    pub proxy: Option<(String, Duration)>,
}

/// Open the first hop towards `target`. `phase` names what is under way, for the timeout.
pub async fn reach(
    how: &Reach,
    target: &Target,
    source: Option<IpAddr>,
    tls: Option<&Arc<ClientConfig>>,
    phase: &(dyn Fn(&'static str) + Sync),
) -> Result<Reached, Error> {
    if let Some(path) = &how.unix_socket {
        let start = Instant::now();
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| unix_error(path, &e))?;
        return Ok(Reached {
            socket: Socket::Unix(Box::new(stream)),
            peer: Peer::Unix(path.clone()),
            dns: Duration::ZERO,
            tcp: start.elapsed(),
            proxy: None,
        });
    }
    let (host, port) = how.overrides.connect_to(&target.host, target.port);
    let Some(proxy) = how.proxy.for_target(target) else {
        let Dialed {
            stream,
            peer,
            dns,
            tcp,
        } = dial(&host, port, source, how.overrides.resolve(&host, port)).await?;
        return Ok(Reached {
            socket: Socket::Tcp(stream),
            peer: Peer::Tcp(peer),
            dns,
            tcp,
            proxy: None,
        });
    };
    let pinned = how.overrides.resolve(&proxy.host, proxy.port);
    let Dialed {
        stream,
        peer,
        mut dns,
        tcp,
    } = dial(&proxy.host, proxy.port, source, pinned)
        .await
        .map_err(|e| about_proxy(proxy, e))?;
    phase("the proxy handshake");
    let start = Instant::now();
    let socket = match proxy.kind {
        ProxyKind::Http => {
            let mut stream = stream;
            http_connect::connect(&mut stream, proxy, &host, port).await?;
            Socket::Tcp(stream)
        }
        ProxyKind::Https => {
            let config = tls.ok_or_else(|| Error::usage("an https:// proxy needs TLS set up"))?;
            let name = ServerName::try_from(proxy.host.clone()).map_err(|e| {
                Error::usage(format!(
                    "proxy '{}' is not a valid TLS name: {e}",
                    proxy.host
                ))
            })?;
            let mut tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, stream)
                .await
                .map_err(|e| {
                    about_proxy(proxy, super::tls::describe_handshake_error(&proxy.host, &e))
                })?;
            http_connect::connect(&mut tls, proxy, &host, port).await?;
            Socket::ProxyTls(Box::new(tls))
        }
        ProxyKind::Socks5 => {
            // Resolved here: its time counts as DNS, not as the proxy's.
            let dns_start = Instant::now();
            let addrs = resolve(&host, port, how.overrides.resolve(&host, port)).await?;
            dns += dns_start.elapsed();
            let stream = socks::connect(stream, proxy, Destination::Addr(addrs[0])).await?;
            Socket::Tcp(stream)
        }
        ProxyKind::Socks5h => {
            Socket::Tcp(socks::connect(stream, proxy, Destination::Name(&host, port)).await?)
        }
    };
    Ok(Reached {
        socket,
        peer: Peer::Tcp(peer),
        dns,
        tcp,
        proxy: Some((proxy.url(), start.elapsed())),
    })
}

/// A failure to reach the proxy itself says so: same kind (exit 3), the proxy named first.
fn about_proxy(proxy: &Proxy, e: Error) -> Error {
    Error::new(e.kind(), format!("proxy {}: {}", proxy.url(), e.message()))
}

fn unix_error(path: &std::path::Path, e: &std::io::Error) -> Error {
    let (kind, what) = match e.kind() {
        std::io::ErrorKind::NotFound => (ErrorKind::Connect, "no such socket file".to_string()),
        std::io::ErrorKind::ConnectionRefused => (
            ErrorKind::Refused,
            "connection refused; is a server listening there?".to_string(),
        ),
        std::io::ErrorKind::PermissionDenied => {
            (ErrorKind::Connect, "permission denied".to_string())
        }
        _ => (ErrorKind::Connect, e.to_string()),
    };
    Error::new(
        kind,
        format!("cannot connect to Unix socket {}: {what}", path.display()),
    )
}
