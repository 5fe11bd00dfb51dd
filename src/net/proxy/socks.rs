//! SOCKS5 (RFC 1928, with RFC 1929 user/password) through `tokio-socks`; here only the
//! choice of what the proxy is told (an address for socks5://, the name for socks5h://) and
//! replies turned into sentences that say it was the proxy.

use super::{Proxy, ProxyKind};
use crate::error::{Error, ErrorKind};
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_socks::tcp::Socks5Stream;

/// Where the proxy is asked to connect.
pub enum Destination<'a> {
    /// socks5://: resolved here.
    Addr(SocketAddr),
    /// socks5h://: the proxy resolves the name.
    Name(&'a str, u16),
}

pub async fn connect(
    tcp: TcpStream,
    proxy: &Proxy,
    dest: Destination<'_>,
) -> Result<TcpStream, Error> {
    debug_assert!(matches!(proxy.kind, ProxyKind::Socks5 | ProxyKind::Socks5h));
    let shown = match &dest {
        Destination::Addr(a) => a.to_string(),
        Destination::Name(h, p) => format!("{h}:{p}"),
    };
    let res = match (&dest, &proxy.credentials) {
        (Destination::Addr(a), None) => Socks5Stream::connect_with_socket(tcp, *a).await,
        (Destination::Name(h, p), None) => Socks5Stream::connect_with_socket(tcp, (*h, *p)).await,
        (Destination::Addr(a), Some((u, pw))) => {
            Socks5Stream::connect_with_password_and_socket(tcp, *a, u, pw).await
        }
        (Destination::Name(h, p), Some((u, pw))) => {
            Socks5Stream::connect_with_password_and_socket(tcp, (*h, *p), u, pw).await
        }
    };
    res.map(Socks5Stream::into_inner)
        .map_err(|e| describe(&e, proxy, &shown))
}

/// The reply codes by their RFC 1928 names; refusals of the target exit 3 like a direct
/// refusal would, refusals of us (authentication) exit 5 like a refused CONNECT.
fn describe(e: &tokio_socks::Error, proxy: &Proxy, dest: &str) -> Error {
    use tokio_socks::Error as S;
    let (kind, what) = match e {
        S::GeneralSocksServerFailure => (
            ErrorKind::Connect,
            "general SOCKS server failure (reply 1)".to_string(),
        ),
        S::ConnectionNotAllowedByRuleset => (
            ErrorKind::Upgrade,
            "connection not allowed by ruleset (reply 2)".to_string(),
        ),
        S::NetworkUnreachable => (
            ErrorKind::Connect,
            "network unreachable (reply 3)".to_string(),
        ),
        S::HostUnreachable => (ErrorKind::Connect, "host unreachable (reply 4)".to_string()),
        S::ConnectionRefused => (
            ErrorKind::Refused,
            "connection refused (reply 5)".to_string(),
        ),
        S::TtlExpired => (ErrorKind::Connect, "TTL expired (reply 6)".to_string()),
        S::CommandNotSupported => (
            ErrorKind::Connect,
            "command not supported (reply 7)".to_string(),
        ),
        S::AddressTypeNotSupported => (
            ErrorKind::Connect,
            "address type not supported (reply 8)".to_string(),
        ),
        S::NoAcceptableAuthMethods => (
            ErrorKind::Upgrade,
            if proxy.credentials.is_some() {
                "no acceptable authentication method (it does not take user/password)".to_string()
            } else {
                "no acceptable authentication method; give --proxy-user USER:PASS or put them in the proxy URL".to_string()
            },
        ),
        S::PasswordAuthFailure(code) => (
            ErrorKind::Upgrade,
            format!("user/password authentication failed (status {code})"),
        ),
        S::Io(io) => (ErrorKind::Connect, format!("connection lost: {io}")),
        other => (ErrorKind::Connect, format!("not a SOCKS5 answer ({other})")),
    };
    Error::new(
        kind,
        format!("proxy {} could not open {dest}: {what}", proxy.url()),
    )
}
