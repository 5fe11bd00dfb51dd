//! The client's HTTP upgrade (RFC 6455 4.1). tungstenite's helper writes the request out; its
//! headers, key and accept check are ours, and so is reading the answer: its client handshake reads the
//! response into a 4 KiB buffer that it keeps as the connection's read buffer, which is most of
//! what a soak connection would cost. Here the response head is read into a short-lived buffer,
//! checked to the letter (status, accept key, Upgrade, subprotocol, extensions), and the bytes
//! read past it are handed on to the connection.

use crate::error::{Error, ErrorKind, escape_controls};
use crate::net::target::Target;
use crate::ws::ext::negotiation::{self, Agreed, Offer};
use base64::Engine;
use rustls::ClientConfig;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::tungstenite::handshake::client::{Request, generate_request};
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};

/// Everything needed to open one connection; cheap to clone for many connections.
#[derive(Clone)]
pub struct ConnectOptions {
    pub target: Target,
    /// Extra request headers, validated when the config was built.
    pub headers: Vec<(String, String)>,
    pub origin: Option<String>,
    pub subprotocols: Vec<String>,
    /// HTTP Basic credentials (`--auth` or `user:pass@` in the URL).
    pub auth: Option<(String, String)>,
    pub connect_timeout: Duration,
    /// Built once per run; `None` for ws://.
    pub tls: Option<Arc<ClientConfig>>,
    pub max_message_size: usize,
    pub source: Option<IpAddr>,
    /// Proxies, Unix socket, address overrides, TLS name: how the server is reached.
    pub reach: crate::net::route::Reach,
    /// `-L`: follow this many redirects at most; `None` shows the Location and stops.
    pub follow: Option<u32>,
    /// permessage-deflate offers, in order (`--compress`); empty: none.
    pub compress: Vec<Offer>,
}

/// How much of a refused upgrade's body we show: enough to read an error page's message.
pub const REFUSAL_BODY_LIMIT: usize = 1024;

/// A response head larger than this is not a WebSocket server talking.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;
/// How long a refused upgrade may take to deliver the body we show.
const REFUSAL_BODY_WAIT: Duration = Duration::from_secs(1);

/// What the server said when it accepted the upgrade.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub subprotocol: Option<String>,
    pub extensions: Vec<String>,
    /// permessage-deflate as the server agreed to it.
    pub deflate: Option<Agreed>,
}

/// Send the upgrade request and read the answer. Returns the accepted response and the bytes
/// that arrived after its head (the first frames, when the server was quick).
pub async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    opts: &ConnectOptions,
) -> Result<(Accepted, Vec<u8>), Error> {
    let (request, key) = generate_request(build_request(opts)?)
        .map_err(|e| Error::usage(format!("cannot build the upgrade request: {e}")))?;
    io.write_all(&request).await.map_err(|e| lost(opts, &e))?;
    io.flush().await.map_err(|e| lost(opts, &e))?;

    let mut buf = Vec::with_capacity(1024);
    loop {
        if buf.len() == buf.capacity() {
            if buf.len() >= MAX_RESPONSE_HEAD {
                return Err(Error::new(
                    ErrorKind::Upgrade,
                    format!(
                        "the upgrade response from {} has no end within {MAX_RESPONSE_HEAD} bytes",
                        opts.target.url()
                    ),
                ));
            }
            buf.reserve(buf.len());
        }
        let n = io.read_buf(&mut buf).await.map_err(|e| lost(opts, &e))?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "{} closed the connection during the upgrade",
                    opts.target.url()
                ),
            ));
        }
        match parse_head(&buf, &opts.target)? {
            None => continue,
            Some(head) if head.status != 101 => {
                return Err(refusal(io, head, buf).await);
            }
            Some(head) => {
                let accepted = check_accepted(&head, &key, opts)?;
                return Ok((accepted, buf[head.len..].to_vec()));
            }
        }
    }
}

fn lost(opts: &ConnectOptions, e: &std::io::Error) -> Error {
    Error::new(
        ErrorKind::Connect,
        format!(
            "connection lost during the upgrade to {}: {e}",
            opts.target.url()
        ),
    )
}

struct Head {
    len: usize,
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `Ok(None)` until the head is complete.
fn parse_head(buf: &[u8], target: &Target) -> Result<Option<Head>, Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            let start = String::from_utf8_lossy(&buf[..buf.len().min(80)]);
            // A TLS record (alert 0x15 or handshake 0x16, version 3.x) is a TLS server
            // answering our plain HTTP: the URL wants wss://.
            let hint = if !target.secure && matches!(buf, [0x15 | 0x16, 0x03, ..]) {
                let mut tls = target.clone();
                tls.secure = true;
                format!(
                    "; it looks like TLS: is this a wss:// port? Try {}",
                    tls.url()
                )
            } else {
                String::new()
            };
            return Err(Error::new(
                ErrorKind::Upgrade,
                format!(
                    "the server's upgrade response is not HTTP ({e}): {}{hint}",
                    escape_controls(&start, false)
                ),
            ));
        }
    };
    Ok(Some(Head {
        len,
        status: resp.code.unwrap_or(0),
        reason: resp.reason.unwrap_or("").to_string(),
        headers: resp
            .headers
            .iter()
            .map(|h| {
                (
                    h.name.to_ascii_lowercase(),
                    String::from_utf8_lossy(h.value).trim().to_string(),
                )
            })
            .collect(),
    }))
}

/// A refused upgrade: read what the body says (up to the limit, briefly), since it usually
/// tells why.
async fn refusal<S: AsyncRead + Unpin>(io: &mut S, head: Head, mut buf: Vec<u8>) -> Error {
    let want = head
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(usize::MAX)
        .min(REFUSAL_BODY_LIMIT + 1);
    let _ = tokio::time::timeout(REFUSAL_BODY_WAIT, async {
        while buf.len() - head.len < want {
            buf.reserve(1024);
            match io.read_buf(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    let body = &buf[head.len..];
    let mut text =
        String::from_utf8_lossy(&body[..body.len().min(REFUSAL_BODY_LIMIT)]).into_owned();
    if body.len() > REFUSAL_BODY_LIMIT {
        text.push_str("\n[… cut at 1 KiB]");
    }
    let mut err = refused(&head);
    err.body = Some(text);
    err
}

fn refused(head: &Head) -> Error {
    let mut message = format!(
        "upgrade refused: HTTP/1.1 {} {}",
        head.status,
        escape_controls(&head.reason, false)
    );
    // A redirect says where the endpoint went; `-L` follows it (ws/open.rs).
    let location = head
        .header("location")
        .filter(|_| (300..400).contains(&head.status));
    if let Some(location) = location {
        message.push_str(&format!(
            " (Location: {}; follow it with -L)",
            escape_controls(location, false)
        ));
    }
    let mut err = Error::new(ErrorKind::Upgrade, message);
    err.status = Some(head.status);
    err.location = location.map(Into::into);
    err
}

/// What `upgrade` makes of the bytes read so far, without the I/O: `Ok(None)` until the head
/// is complete, then the accepted 101 and the length of its head, or the error (a refusal
/// without its body, which `upgrade` would go on to read). For the fuzz targets in `fuzz/`.
pub fn check_response(
    buf: &[u8],
    key: &str,
    opts: &ConnectOptions,
) -> Result<Option<(Accepted, usize)>, Error> {
    match parse_head(buf, &opts.target)? {
        None => Ok(None),
        Some(head) if head.status != 101 => Err(refused(&head)),
        Some(head) => Ok(Some((check_accepted(&head, key, opts)?, head.len))),
    }
}

fn check_accepted(head: &Head, key: &str, opts: &ConnectOptions) -> Result<Accepted, Error> {
    let expect = super::accept_key(key);
    if head.header("sec-websocket-accept") != Some(expect.as_str()) {
        return Err(Error::new(
            ErrorKind::Upgrade,
            "the server's Sec-WebSocket-Accept does not match our key (not a WebSocket server, or a proxy in between)",
        ));
    }
    if !head
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"))
    {
        return Err(Error::new(
            ErrorKind::Upgrade,
            "the server's 101 response lacks 'Upgrade: websocket'",
        ));
    }
    // RFC 6455 4.1: the client must fail without it. A token list, since proxies send e.g.
    // "keep-alive, Upgrade"; several Connection lines count together.
    let connection_upgrade = head
        .headers
        .iter()
        .filter(|(k, _)| k == "connection")
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    if !connection_upgrade {
        return Err(Error::new(
            ErrorKind::Upgrade,
            "the server's 101 response lacks 'Connection: Upgrade'",
        ));
    }
    let extensions: Vec<String> = head
        .headers
        .iter()
        .filter(|(k, _)| k == "sec-websocket-extensions")
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
        .filter(|s| !s.is_empty())
        .collect();
    // RFC 6455 4.1 and RFC 7692 7.1: an extension or a parameter we did not offer, or a value
    // out of range, fails the connection.
    let elements: Vec<&str> = extensions.iter().map(String::as_str).collect();
    let deflate = negotiation::check_answer(&offers(opts), &elements).map_err(|why| {
        Error::new(
            ErrorKind::Upgrade,
            escape_controls(&why, false).into_owned(),
        )
    })?;
    let subprotocol = head.header("sec-websocket-protocol").map(str::to_string);
    match &subprotocol {
        Some(p) if !opts.subprotocols.contains(p) => {
            return Err(Error::new(
                ErrorKind::Subprotocol,
                format!(
                    "the server chose subprotocol '{}', which we did not offer",
                    escape_controls(p, false)
                ),
            ));
        }
        None if !opts.subprotocols.is_empty() => {
            return Err(Error::new(
                ErrorKind::Subprotocol,
                format!(
                    "the server accepted none of the offered subprotocols ({}); check -s/--subprotocol",
                    opts.subprotocols.join(", ")
                ),
            ));
        }
        _ => {}
    }
    Ok(Accepted {
        status: head.status,
        reason: head.reason.clone(),
        headers: head.headers.clone(),
        subprotocol,
        extensions,
        deflate,
    })
}

/// The Sec-WebSocket-Extensions value we send: a user's -H, else our `--compress` offers.
pub fn offered_header(opts: &ConnectOptions) -> Option<String> {
    match opts
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-extensions"))
    {
        Some((_, v)) => Some(v.clone()),
        None => (!opts.compress.is_empty()).then(|| negotiation::offer_header(&opts.compress)),
    }
}

/// What we offered: `--compress`, or the permessage-deflate offers of a user's own
/// `-H 'Sec-WebSocket-Extensions: ...'` (which replaces ours).
pub fn offers(opts: &ConnectOptions) -> Vec<Offer> {
    match opts
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-extensions"))
    {
        Some((_, v)) => negotiation::elements([v.as_str()])
            .into_iter()
            .filter_map(|e| Offer::parse(e).ok())
            .collect(),
        None => opts.compress.clone(),
    }
}

/// The upgrade request: the headers RFC 6455 4.1 requires (as tungstenite's
/// `IntoClientRequest` writes them), plus ours.
pub fn build_request(opts: &ConnectOptions) -> Result<Request, Error> {
    let url = opts.target.url();
    let mut request = Request::builder()
        .method("GET")
        .header("Host", opts.target.host_header())
        .header("Connection", "Upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", new_key())
        .uri(&url)
        .body(())
        .map_err(|e| Error::usage(format!("cannot build an upgrade request for {url}: {e}")))?;
    let headers = request.headers_mut();
    let value = |name: &str, v: &str| {
        HeaderValue::from_str(v).map_err(|_| {
            Error::usage(format!(
                "the value of header '{name}' has characters HTTP does not allow"
            ))
        })
    };
    if let Some(origin) = &opts.origin {
        headers.insert("origin", value("origin", origin)?);
    }
    if !opts.subprotocols.is_empty() {
        let offered = opts.subprotocols.join(", ");
        headers.insert(
            "sec-websocket-protocol",
            value("sec-websocket-protocol", &offered)?,
        );
    }
    if !opts.compress.is_empty() {
        let offered = negotiation::offer_header(&opts.compress);
        headers.insert(
            "sec-websocket-extensions",
            value("sec-websocket-extensions", &offered)?,
        );
    }
    if let Some((user, pass)) = &opts.auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let mut v = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| Error::usage("--auth has characters HTTP does not allow"))?;
        v.set_sensitive(true);
        headers.insert("authorization", v);
    }
    for (name, v) in &opts.headers {
        let n = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::usage(format!("'{name}' is not a valid HTTP header name")))?;
        // A user's -H replaces what we generated (e.g. Host), as curl does.
        headers.insert(n, value(name, v)?);
    }
    Ok(request)
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes in base64 (RFC 6455 4.1). The key is a nonce
/// the server proves it read, not a secret, so fastrand (seeded from the OS, as for the
/// masks) will do. tungstenite's `generate_key` draws from `rand`'s thread RNG, whose first use
/// probes the CPU (CPUID, a hypervisor trap on a virtual machine) and reads OS entropy: time a
/// one-shot run pays whole.
fn new_key() -> String {
    base64::engine::general_purpose::STANDARD.encode(fastrand::u128(..).to_ne_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(subprotocols: &[&str]) -> ConnectOptions {
        ConnectOptions {
            target: "ws://127.0.0.1:9/x".parse().unwrap(),
            headers: vec![("X-Test".into(), "1".into())],
            origin: Some("http://o".into()),
            subprotocols: subprotocols.iter().map(|s| s.to_string()).collect(),
            auth: None,
            connect_timeout: Duration::from_secs(1),
            tls: None,
            max_message_size: 1 << 20,
            source: None,
            reach: Default::default(),
            follow: None,
            compress: Vec::new(),
        }
    }

    fn response(key: &str, extra: &str) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
            super::super::accept_key(key)
        )
        .into_bytes();
        r.extend_from_slice(b"\x81\x02hi");
        r
    }

    fn check(buf: &[u8], key: &str, o: &ConnectOptions) -> Result<Option<usize>, Error> {
        check_response(buf, key, o).map(|r| r.map(|(_, len)| len))
    }

    #[test]
    fn request_carries_our_headers() {
        let (bytes, key) = generate_request(build_request(&opts(&["chat"])).unwrap()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with("GET /x HTTP/1.1\r\n"), "{text}");
        for h in [
            "x-test: 1",
            "origin: http://o",
            "sec-websocket-protocol: chat",
        ] {
            assert!(text.to_ascii_lowercase().contains(h), "{h} in {text}");
        }
        assert!(text.contains(&key));
        for h in [
            "Host: 127.0.0.1:9\r\n",
            "Connection: Upgrade\r\n",
            "Upgrade: websocket\r\n",
            "Sec-WebSocket-Version: 13\r\n",
        ] {
            assert!(text.contains(h), "{h:?} in {text}");
        }
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&key)
            .unwrap();
        assert_eq!(raw.len(), 16, "the key is 16 bytes in base64");
        let (_, other) = generate_request(build_request(&opts(&[])).unwrap()).unwrap();
        assert_ne!(key, other, "each request has a fresh key");
    }

    #[test]
    fn response_checks() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = response(key, "");
        let len = check(&ok, key, &opts(&[])).unwrap().unwrap();
        assert_eq!(&ok[len..], b"\x81\x02hi", "bytes after the head are kept");
        assert_eq!(check(&ok[..20], key, &opts(&[])).unwrap(), None);
        let refused = check(b"HTTP/1.1 403 Forbidden\r\n\r\n", key, &opts(&[]));
        assert_eq!(refused.unwrap_err().status, Some(403));
        let bad_key = check(&ok, "b3RoZXIga2V5IDEyMzQ1Ng==", &opts(&[]));
        assert_eq!(bad_key.unwrap_err().kind(), ErrorKind::Upgrade);
        let e = check(&ok, key, &opts(&["chat"])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Subprotocol);
        let chosen = response(key, "Sec-WebSocket-Protocol: chat\r\n");
        assert!(check(&chosen, key, &opts(&["chat"])).unwrap().is_some());
        let other = response(key, "Sec-WebSocket-Protocol: other\r\n");
        assert_eq!(
            check(&other, key, &opts(&["chat"])).unwrap_err().kind(),
            ErrorKind::Subprotocol
        );
        let ext = response(key, "Sec-WebSocket-Extensions: permessage-deflate\r\n");
        assert_eq!(
            check(&ext, key, &opts(&[])).unwrap_err().kind(),
            ErrorKind::Upgrade
        );
    }

    #[test]
    fn a_101_without_connection_upgrade_is_refused() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let accept = super::super::accept_key(key);
        let without = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        let e = check(without.as_bytes(), key, &opts(&[])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Upgrade);
        assert!(e.to_string().contains("'Connection: Upgrade'"), "{e}");
        let other = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: close\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert!(check(other.as_bytes(), key, &opts(&[])).is_err());
        // A token list with other tokens, in any case, is fine.
        let listed = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
             Connection: keep-alive, UPGRADE\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
        );
        assert!(check(listed.as_bytes(), key, &opts(&[])).unwrap().is_some());
    }

    #[tokio::test]
    async fn refusal_waits_for_the_body() {
        let (mut client, mut server) = tokio::io::duplex(4096);
        let task = tokio::spawn(async move {
            let mut req = vec![0u8; 1024];
            let _ = server.read(&mut req).await;
            server
                .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 8\r\n\r\n")
                .await
                .unwrap();
            server.flush().await.unwrap();
            tokio::task::yield_now().await;
            server.write_all(b"no token").await.unwrap();
            server
        });
        let e = upgrade(&mut client, &opts(&[])).await.unwrap_err();
        assert_eq!((e.status, e.body.as_deref()), (Some(403), Some("no token")));
        drop(task.await);
    }
}
