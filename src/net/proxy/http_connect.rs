//! HTTP CONNECT (RFC 9110 9.3.6), ours: it is one request and one response head, and a
//! crate would hide what users need to see when a proxy says no (the status, the realm of a
//! 407). The response head is read to its end and no further: after a 2xx the bytes belong to
//! the tunnel.

use super::Proxy;
use crate::error::{Error, ErrorKind, escape_controls};
use base64::Engine;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A proxy's response head larger than this is not a proxy talking.
const MAX_HEAD: usize = 16 * 1024;

/// Ask `proxy` (already connected over `io`) for a tunnel to `host:port`.
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<(), Error> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: wsbeat/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some((user, pass)) = &proxy.credentials {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    let lost = |e: std::io::Error| {
        Error::new(
            ErrorKind::Connect,
            format!("proxy {}: connection lost during CONNECT: {e}", proxy.url()),
        )
    };
    io.write_all(request.as_bytes()).await.map_err(lost)?;
    io.flush().await.map_err(lost)?;
    let head = read_head(io, proxy).await?;
    check(&head, proxy, &authority)
}

/// Byte by byte up to the blank line: a CONNECT answer is short, and reading past it would
/// take bytes that belong to the tunnel.
async fn read_head<S: AsyncRead + Unpin>(io: &mut S, proxy: &Proxy) -> Result<Vec<u8>, Error> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && !head.ends_with(b"\n\n") {
        if head.len() >= MAX_HEAD {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "proxy {}: the CONNECT response has no end within {MAX_HEAD} bytes",
                    proxy.url()
                ),
            ));
        }
        let n = io.read(&mut byte).await.map_err(|e| {
            Error::new(
                ErrorKind::Connect,
                format!("proxy {}: connection lost during CONNECT: {e}", proxy.url()),
            )
        })?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Connect,
                format!(
                    "proxy {} closed the connection without answering CONNECT",
                    proxy.url()
                ),
            ));
        }
        head.push(byte[0]);
    }
    Ok(head)
}

/// A 2xx opens the tunnel; anything else is the proxy refusing it (exit 5), with what the
/// user needs to act: the realm of a 407, what a 403 usually means.
fn check(head: &[u8], proxy: &Proxy, authority: &str) -> Result<(), Error> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut resp = httparse::Response::new(&mut headers);
    if !matches!(resp.parse(head), Ok(httparse::Status::Complete(_))) {
        let start = String::from_utf8_lossy(&head[..head.len().min(80)]);
        return Err(Error::new(
            ErrorKind::Connect,
            format!(
                "proxy {}: the answer to CONNECT is not HTTP: {}",
                proxy.url(),
                escape_controls(&start, false)
            ),
        ));
    }
    let status = resp.code.unwrap_or(0);
    if (200..300).contains(&status) {
        return Ok(());
    }
    let reason = escape_controls(resp.reason.unwrap_or(""), false);
    let header = |name: &str| {
        resp.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_string())
    };
    let hint = match status {
        // tinyproxy answers wrong credentials with 401, not 407.
        401 | 407 => {
            let realm = header("proxy-authenticate")
                .or_else(|| header("www-authenticate"))
                .and_then(|v| realm(&v))
                .map(|r| format!(" (realm \"{}\")", escape_controls(&r, false)))
                .unwrap_or_default();
            let what = if proxy.credentials.is_some() {
                "the proxy did not accept the credentials given"
            } else {
                "give them with --proxy-user USER:PASS or in the proxy URL"
            };
            format!("{realm}; {what}")
        }
        403 => "; the proxy does not allow a tunnel to this host or port".to_string(),
        _ => String::new(),
    };
    let mut err = Error::new(
        ErrorKind::Upgrade,
        format!(
            "proxy refused CONNECT to {authority}: HTTP {status} {reason}{hint} (proxy {})",
            proxy.url()
        ),
    );
    err.status = Some(status);
    Err(err)
}

/// `Basic realm="x"` → `x`.
fn realm(challenge: &str) -> Option<String> {
    let at = challenge.to_ascii_lowercase().find("realm=")?;
    let value = &challenge[at + 6..];
    Some(match value.strip_prefix('"') {
        Some(q) => q.split('"').next().unwrap_or("").to_string(),
        None => value.split([',', ' ']).next().unwrap_or("").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxy(creds: bool) -> Proxy {
        let mut p: Proxy = "http://127.0.0.1:3128".parse().unwrap();
        if creds {
            p.credentials = Some(("u".into(), "s3cret".into()));
        }
        p
    }

    async fn answer(reply: &str, creds: bool) -> (Result<(), Error>, String) {
        let (mut ours, mut theirs) = tokio::io::duplex(4096);
        let reply = reply.to_string();
        let server = tokio::spawn(async move {
            let mut got = vec![0u8; 1024];
            let n = theirs.read(&mut got).await.unwrap();
            theirs.write_all(reply.as_bytes()).await.unwrap();
            theirs.write_all(b"tunnel bytes").await.unwrap();
            String::from_utf8_lossy(&got[..n]).into_owned()
        });
        let res = connect(&mut ours, &proxy(creds), "::1", 9001).await;
        let request = server.await.unwrap();
        if res.is_ok() {
            let mut rest = [0u8; 12];
            ours.read_exact(&mut rest).await.unwrap();
            assert_eq!(&rest, b"tunnel bytes");
        }
        (res, request)
    }

    #[tokio::test]
    async fn a_2xx_opens_the_tunnel_and_leaves_its_bytes() {
        let (res, request) = answer("HTTP/1.1 200 Connection established\r\n\r\n", true).await;
        res.unwrap();
        assert!(request.starts_with("CONNECT [::1]:9001 HTTP/1.1\r\nHost: [::1]:9001\r\n"));
        assert!(
            request.contains("Proxy-Authorization: Basic dTpzM2NyZXQ=\r\n"),
            "{request}"
        );
    }

    #[tokio::test]
    async fn refusals_name_the_proxy_the_realm_and_what_to_do() {
        let (res, request) = answer(
            "HTTP/1.0 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"Corp\"\r\n\r\n",
            false,
        )
        .await;
        assert!(!request.contains("Proxy-Authorization"));
        let e = res.unwrap_err();
        assert_eq!((e.kind(), e.status), (ErrorKind::Upgrade, Some(407)));
        assert_eq!(
            e.to_string(),
            "proxy refused CONNECT to [::1]:9001: HTTP 407 Proxy Authentication Required \
             (realm \"Corp\"); give them with --proxy-user USER:PASS or in the proxy URL \
             (proxy http://127.0.0.1:3128)"
        );
        let (res, _) = answer("HTTP/1.1 403 Forbidden\r\n\r\n", true).await;
        let e = res.unwrap_err().to_string();
        assert!(
            e.contains("HTTP 403 Forbidden; the proxy does not allow"),
            "{e}"
        );
        assert!(!e.contains("s3cret"));
        let (res, _) = answer("SSH-2.0-OpenSSH\r\n\r\n", false).await;
        assert_eq!(res.unwrap_err().kind(), ErrorKind::Connect);
    }
}
