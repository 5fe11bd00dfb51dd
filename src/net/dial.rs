//! DNS and TCP, each timed on its own, with errors sorted into the kinds users act on.

use crate::error::{Error, ErrorKind};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};

pub struct Dialed {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    pub dns: Duration,
    pub tcp: Duration,
}

/// Resolve `host` (skipped for IP literals and for names `--resolve` answers: `pinned`) and
/// connect to the first address that answers. `source` binds the local side first, so that
/// one machine can open more connections than one source address has ephemeral ports.
pub async fn dial(
    host: &str,
    port: u16,
    source: Option<IpAddr>,
    pinned: Option<&[IpAddr]>,
) -> Result<Dialed, Error> {
    let start = Instant::now();
    let addrs = resolve(host, port, pinned).await?;
    let dns = start.elapsed();
    let tcp_start = Instant::now();
    let mut last_err = None;
    for addr in addrs {
        match connect_one(addr, source).await {
            Ok(stream) => {
                // Nagle would hold a small frame back waiting for an ACK and distort every RTT.
                let _ = stream.set_nodelay(true);
                return Ok(Dialed {
                    stream,
                    peer: addr,
                    dns,
                    tcp: tcp_start.elapsed(),
                });
            }
            Err(e) => last_err = Some((addr, e)),
        }
    }
    let (addr, e) = last_err.expect("at least one address was tried");
    Err(classify(addr, e))
}

/// The addresses of `host`: an IP literal as it is, `pinned` when given, else DNS.
pub async fn resolve(
    host: &str,
    port: u16,
    pinned: Option<&[IpAddr]>,
) -> Result<Vec<SocketAddr>, Error> {
    if let Some(ips) = pinned {
        return Ok(ips.iter().map(|ip| SocketAddr::new(*ip, port)).collect());
    }
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| {
                Error::new(
                    ErrorKind::Dns,
                    format!("could not resolve host '{host}': {e}"),
                )
            })?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Error::new(
            ErrorKind::Dns,
            format!("host '{host}' resolved to no addresses"),
        ));
    }
    Ok(addrs)
}

async fn connect_one(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<TcpStream> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    if let Some(ip) = source {
        socket.bind(SocketAddr::new(ip, 0))?;
    }
    socket.connect(addr).await
}

fn classify(addr: SocketAddr, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => Error::new(
            ErrorKind::Refused,
            format!("connection refused by {addr}; is a server listening there?"),
        ),
        io::ErrorKind::TimedOut => Error::new(
            ErrorKind::ConnectTimeout,
            format!("TCP connect to {addr} timed out"),
        ),
        _ if e.raw_os_error() == Some(24) => Error::new(
            ErrorKind::Connect,
            format!("cannot open a socket to {addr}: too many open files (raise `ulimit -n`)"),
        ),
        _ if e.raw_os_error() == Some(99) => Error::new(
            ErrorKind::Connect,
            format!("cannot connect to {addr}: no free local port (use more source addresses)"),
        ),
        _ => Error::new(ErrorKind::Connect, format!("cannot connect to {addr}: {e}")),
    }
}
