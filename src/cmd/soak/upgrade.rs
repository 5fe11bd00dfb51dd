//! Opening a soak connection: `core::dial` and the run's shared TLS config, then an HTTP
//! upgrade that keeps per-connection memory small.
//!
//! Why not `core::handshake::open`: tokio-tungstenite's client handshake reads the response
//! into a 4 KiB buffer and hands that same allocation on as the connection's read buffer
//! (`Vec` → `BytesMut` reuses it), whatever `read_buffer_size` says. For one connection that
//! is nothing; for 19,000 it is 76 MiB, twice everything else a connection costs. Here the
//! response is read into a short-lived buffer and the stream starts with a `read_buffer_size`
//! buffer of its own. The request is still built and serialised by tungstenite, with the same
//! headers `connect` sends (`-H`, `--origin`, `-s`, `--auth`).

use crate::core::dial::dial;
use crate::core::error::{Error, ErrorKind};
use crate::core::handshake::{ConnectOptions, REFUSAL_BODY_LIMIT, WsStream};
use crate::core::stream::MaybeTls;
use crate::core::wire::Tap;
use base64::Engine;
use rustls::pki_types::ServerName;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::{Request, generate_request};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

/// A response head larger than this is not a WebSocket server talking.
const MAX_RESPONSE_HEAD: usize = 16 * 1024;

/// Open one connection; returns the stream and how long it took (DNS to 101).
pub async fn open(opts: &ConnectOptions) -> Result<(WsStream, Duration), Error> {
    let start = Instant::now();
    match tokio::time::timeout(opts.connect_timeout, open_inner(opts)).await {
        Ok(r) => r.map(|ws| (ws, start.elapsed())),
        Err(_) => Err(Error::new(
            ErrorKind::ConnectTimeout,
            format!(
                "connect timeout: no WebSocket to {} after {}",
                opts.target.url(),
                humantime::format_duration(opts.connect_timeout)
            ),
        )),
    }
}

async fn open_inner(opts: &ConnectOptions) -> Result<WsStream, Error> {
    let dialed = dial(&opts.target.host, opts.target.port, opts.source).await?;
    let stream = match &opts.tls {
        Some(config) if opts.target.secure => {
            let name = ServerName::try_from(opts.target.host.clone()).map_err(|e| {
                Error::usage(format!(
                    "'{}' is not a valid TLS server name: {e}",
                    opts.target.host
                ))
            })?;
            let tls = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name, dialed.stream)
                .await
                .map_err(|e| crate::core::tls::describe_handshake_error(&opts.target.host, &e))?;
            MaybeTls::Tls(Box::new(tls))
        }
        _ => MaybeTls::Plain(dialed.stream),
    };
    let mut io = Tap::new(stream, true);
    let (request, key) = generate_request(build_request(opts)?)
        .map_err(|e| Error::usage(format!("cannot build the upgrade request: {e}")))?;
    io.write_all(&request).await.map_err(|e| lost(opts, &e))?;
    io.flush().await.map_err(|e| lost(opts, &e))?;

    let mut buf = Vec::with_capacity(1024);
    let (head_len, leftover) = loop {
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
        if let Some(len) = check_response(&buf, &key, opts)? {
            break (len, buf[len..].to_vec());
        }
    };
    debug_assert!(head_len <= buf.len());
    drop(buf);
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(opts.max_message_size);
    config.max_frame_size = Some(opts.max_message_size);
    config.read_buffer_size = opts.read_buffer_size;
    // Every send is flushed at once: a buffered ping would measure our buffer, not the peer.
    config.write_buffer_size = 0;
    Ok(WebSocketStream::from_partially_read(io, leftover, Role::Client, Some(config)).await)
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

/// `Ok(Some(head length))` once the response head is complete and says 101 correctly.
fn check_response(buf: &[u8], key: &str, opts: &ConnectOptions) -> Result<Option<usize>, Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    let len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => {
            return Err(Error::new(
                ErrorKind::Upgrade,
                format!(
                    "the server's upgrade response is not HTTP ({e}): {}",
                    String::from_utf8_lossy(&buf[..buf.len().min(80)])
                ),
            ));
        }
    };
    let status = resp.code.unwrap_or(0);
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    if status != 101 {
        let body = &buf[len..buf.len().min(len + REFUSAL_BODY_LIMIT)];
        let mut err = Error::new(
            ErrorKind::Upgrade,
            format!(
                "upgrade refused: HTTP/1.1 {status} {}",
                resp.reason.unwrap_or("")
            ),
        );
        err.status = Some(status);
        err.body = Some(String::from_utf8_lossy(body).into_owned());
        return Err(err);
    }
    let expect = derive_accept_key(key.as_bytes());
    if header("sec-websocket-accept").as_deref() != Some(expect.as_str()) {
        return Err(Error::new(
            ErrorKind::Upgrade,
            "the server's Sec-WebSocket-Accept does not match our key (not a WebSocket server, or a proxy in between)",
        ));
    }
    if !header("upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket")) {
        return Err(Error::new(
            ErrorKind::Upgrade,
            "the server's 101 response lacks 'Upgrade: websocket'",
        ));
    }
    match header("sec-websocket-protocol") {
        Some(p) if !opts.subprotocols.contains(&p) => Err(Error::new(
            ErrorKind::Subprotocol,
            format!("the server chose subprotocol '{p}', which we did not offer"),
        )),
        None if !opts.subprotocols.is_empty() => Err(Error::new(
            ErrorKind::Subprotocol,
            format!(
                "the server accepted none of the offered subprotocols ({}); check -s/--subprotocol",
                opts.subprotocols.join(", ")
            ),
        )),
        _ => Ok(Some(len)),
    }
}

/// The same request `core::handshake` sends: tungstenite's, plus our headers.
fn build_request(opts: &ConnectOptions) -> Result<Request, Error> {
    let mut request = opts.target.url().into_client_request().map_err(|e| {
        Error::usage(format!(
            "cannot build an upgrade request for {}: {e}",
            opts.target.url()
        ))
    })?;
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
            read_buffer_size: 512,
            source: None,
        }
    }

    fn response(key: &str, extra: &str) -> Vec<u8> {
        let mut r = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
            derive_accept_key(key.as_bytes())
        )
        .into_bytes();
        r.extend_from_slice(b"\x81\x02hi");
        r
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
    }

    #[test]
    fn response_checks() {
        let key = "dGhlIHNhbXBsZSBub25jZQ==";
        let ok = response(key, "");
        let len = check_response(&ok, key, &opts(&[])).unwrap().unwrap();
        assert_eq!(&ok[len..], b"\x81\x02hi", "bytes after the head are kept");
        assert_eq!(check_response(&ok[..20], key, &opts(&[])).unwrap(), None);
        let bad_key = check_response(&ok, "b3RoZXIga2V5IDEyMzQ1Ng==", &opts(&[]));
        assert_eq!(bad_key.unwrap_err().kind(), ErrorKind::Upgrade);
        let e = check_response(b"HTTP/1.1 403 Forbidden\r\n\r\nno", key, &opts(&[])).unwrap_err();
        assert_eq!(
            (e.kind(), e.status, e.body.as_deref()),
            (ErrorKind::Upgrade, Some(403), Some("no"))
        );
        let e = check_response(&ok, key, &opts(&["chat"])).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Subprotocol);
        let chosen = response(key, "Sec-WebSocket-Protocol: chat\r\n");
        assert!(
            check_response(&chosen, key, &opts(&["chat"]))
                .unwrap()
                .is_some()
        );
    }
}
