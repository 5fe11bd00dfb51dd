//! The opening handshake, server side (RFC 6455 4.2): read one HTTP request, decide between
//! 101 and a refusal with a status that says why, and write the response.

use crate::ws::ext::negotiation::{self, Agreed, ServerPolicy};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// A request head larger than this is refused with 431.
pub const MAX_REQUEST: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

pub use super::accept_key;

/// What the server is willing to accept, as far as the request alone decides it.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'a> {
    pub subprotocols: &'a [String],
    /// `--reject STATUS`: refuse every upgrade with it.
    pub reject: Option<u16>,
    /// `--compress`: accept permessage-deflate offers under this policy.
    pub deflate: Option<&'a ServerPolicy>,
}

/// A request that may become a WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    pub path: String,
    pub accept: String,
    pub subprotocol: Option<String>,
    /// permessage-deflate as we accepted it.
    pub deflate: Option<Agreed>,
    /// The offers, as the client sent them (for `-v`).
    pub offered_extensions: Option<String>,
}

/// An HTTP answer other than 101, and why (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub why: String,
    pub path: Option<String>,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Refusal {
    pub fn new(status: u16, why: impl Into<String>) -> Self {
        let why = why.into();
        Refusal {
            status,
            body: format!("{why}\n"),
            why,
            path: None,
            headers: Vec::new(),
        }
    }

    fn at(mut self, path: &str) -> Self {
        self.path = Some(path.to_string());
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nServer: wsbeat\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason_phrase(self.status),
            self.body.len()
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    /// The head is not complete yet: read more.
    Partial,
    /// `consumed` bytes were the request head; anything after them is WebSocket frames.
    Done {
        consumed: usize,
        outcome: Result<Upgrade, Refusal>,
    },
}

/// Look at what has arrived so far of the request.
pub fn parse(buf: &[u8], policy: Policy<'_>) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let consumed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() < MAX_REQUEST => return Parsed::Partial,
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Parsed::Done {
                consumed: buf.len(),
                outcome: Err(Refusal::new(431, "request head too large")),
            };
        }
        Err(e) => {
            return Parsed::Done {
                consumed: buf.len(),
                outcome: Err(Refusal::new(400, format!("malformed HTTP request ({e})"))),
            };
        }
    };
    Parsed::Done {
        consumed,
        outcome: decide(&req, policy),
    }
}

fn decide(req: &httparse::Request<'_, '_>, policy: Policy<'_>) -> Result<Upgrade, Refusal> {
    let path = req.path.unwrap_or("/");
    let all = |name: &'static str| values(req.headers, name);
    let has_token = |name: &'static str, token: &str| {
        all(name).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };

    if !has_token("upgrade", "websocket") {
        return Err(Refusal {
            body: "This is a WebSocket endpoint (wsbeat echo-server): connect with a WebSocket client, e.g. `wsbeat connect ws://HOST:PORT/`.\n".into(),
            ..Refusal::new(426, "not a WebSocket upgrade request")
        }
        .at(path)
        .header("Upgrade", "websocket"));
    }
    if let Some(status) = policy.reject {
        return Err(Refusal {
            body: format!("wsbeat echo-server refuses every upgrade with {status} (--reject)\n"),
            ..Refusal::new(status, "--reject")
        }
        .at(path));
    }
    if req.method != Some("GET") {
        return Err(Refusal::new(
            405,
            format!(
                "a WebSocket upgrade must use GET, not {}",
                req.method.unwrap_or("?")
            ),
        )
        .at(path)
        .header("Allow", "GET"));
    }
    if req.version != Some(1) {
        return Err(Refusal::new(400, "a WebSocket upgrade needs HTTP/1.1").at(path));
    }
    if all("host").next().is_none() {
        return Err(Refusal::new(400, "the upgrade request has no Host header").at(path));
    }
    if !has_token("connection", "upgrade") {
        return Err(Refusal::new(400, "the Connection header does not contain 'Upgrade'").at(path));
    }
    let versions: Vec<_> = all("sec-websocket-version").collect();
    if versions.len() != 1 || versions[0].trim() != "13" {
        return Err(Refusal::new(
            426,
            "unsupported Sec-WebSocket-Version; this server speaks version 13",
        )
        .at(path)
        .header("Sec-WebSocket-Version", "13"));
    }
    let keys: Vec<_> = all("sec-websocket-key").collect();
    let key = match keys.as_slice() {
        [k] if B64.decode(k.trim()).is_ok_and(|raw| raw.len() == 16) => k.trim().to_string(),
        _ => {
            return Err(Refusal::new(
                400,
                "Sec-WebSocket-Key must be one base64-encoded 16-byte value",
            )
            .at(path));
        }
    };
    let offered: Vec<String> = all("sec-websocket-protocol")
        .flat_map(|v| {
            v.split(',')
                .map(|t| t.trim().to_string())
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    let subprotocol = if policy.subprotocols.is_empty() {
        None
    } else {
        // The first one the client offers that we accept: the client's order of preference.
        match offered.iter().find(|o| policy.subprotocols.contains(o)) {
            Some(p) => Some(p.clone()),
            None => {
                let offered = if offered.is_empty() {
                    "none".to_string()
                } else {
                    offered.join(", ")
                };
                return Err(Refusal::new(
                    400,
                    format!(
                        "no acceptable subprotocol: the client offered {offered}; this server accepts {}",
                        policy.subprotocols.join(", ")
                    ),
                )
                .at(path));
            }
        }
    };
    let ext_values: Vec<_> = all("sec-websocket-extensions").collect();
    let elements = negotiation::elements(ext_values.iter().map(|v| v.as_ref()));
    // Offers we cannot honour are declined (RFC 7692 5), never refused: the connection goes
    // on without compression.
    let deflate = policy.deflate.and_then(|p| p.accept(&elements).0);
    Ok(Upgrade {
        path: path.to_string(),
        accept: accept_key(&key),
        subprotocol,
        deflate,
        offered_extensions: (!elements.is_empty()).then(|| elements.join(", ")),
    })
}

/// Every value of the header `name`, as text.
fn values<'h, 'b: 'h>(
    headers: &'h [httparse::Header<'b>],
    name: &'static str,
) -> impl Iterator<Item = std::borrow::Cow<'h, str>> + 'h {
    headers
        .iter()
        .filter(move |h| h.name.eq_ignore_ascii_case(name))
        .map(|h| String::from_utf8_lossy(h.value))
}

pub fn switching_protocols(up: &Upgrade) -> Vec<u8> {
    let mut s = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
        up.accept
    );
    if let Some(p) = &up.subprotocol {
        s.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    if let Some(d) = &up.deflate {
        s.push_str(&format!("Sec-WebSocket-Extensions: {d}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => match status / 100 {
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            _ => "Server Error",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Policy<'static> = Policy {
        subprotocols: &[],
        reject: None,
        deflate: None,
    };

    fn upgrade_request(extra: &str) -> String {
        format!(
            "GET /chat?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    }

    fn outcome(req: &str, policy: Policy<'_>) -> Result<Upgrade, Refusal> {
        match parse(req.as_bytes(), policy) {
            Parsed::Done { outcome, .. } => outcome,
            Parsed::Partial => panic!("partial"),
        }
    }

    #[test]
    fn accept_key_matches_rfc_6455_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn a_valid_upgrade_is_accepted_and_frames_after_it_are_left_alone() {
        let mut wire = upgrade_request("").into_bytes();
        let head = wire.len();
        wire.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]);
        let Parsed::Done { consumed, outcome } = parse(&wire, NONE) else {
            panic!("partial");
        };
        assert_eq!(consumed, head);
        let up = outcome.unwrap();
        assert_eq!(up.path, "/chat?x=1");
        assert_eq!(up.subprotocol, None);
        let resp = String::from_utf8(switching_protocols(&up)).unwrap();
        assert!(resp.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
        assert!(resp.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    }

    #[test]
    fn partial_heads_wait_and_huge_ones_are_refused() {
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\n", NONE),
            Parsed::Partial
        );
        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        while big.len() < MAX_REQUEST {
            big.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        let Parsed::Done { outcome, .. } = parse(&big, NONE) else {
            panic!("partial");
        };
        assert_eq!(outcome.unwrap_err().status, 431);
    }

    #[test]
    fn plain_http_gets_426_with_a_body_that_says_what_this_is() {
        let r = outcome("GET / HTTP/1.1\r\nHost: x\r\n\r\n", NONE).unwrap_err();
        assert_eq!(r.status, 426);
        let text = String::from_utf8(r.to_bytes()).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{text}"
        );
        assert!(text.contains("Upgrade: websocket\r\n"));
        assert!(text.contains("WebSocket endpoint"));
        let len: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, r.body.len());
    }

    #[test]
    fn bad_upgrades_are_refused_with_the_right_status() {
        let bad_version = upgrade_request("").replace("Version: 13", "Version: 8");
        let r = outcome(&bad_version, NONE).unwrap_err();
        assert_eq!(r.status, 426);
        assert!(r.headers.contains(&("Sec-WebSocket-Version", "13".into())));

        let bad_key = upgrade_request("").replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=");
        assert_eq!(outcome(&bad_key, NONE).unwrap_err().status, 400);

        let no_conn = upgrade_request("").replace("keep-alive, Upgrade", "keep-alive");
        assert_eq!(outcome(&no_conn, NONE).unwrap_err().status, 400);

        let post = upgrade_request("").replace("GET ", "POST ");
        assert_eq!(outcome(&post, NONE).unwrap_err().status, 405);

        let old = upgrade_request("").replace("HTTP/1.1", "HTTP/1.0");
        assert_eq!(outcome(&old, NONE).unwrap_err().status, 400);

        let no_host = upgrade_request("").replace("Host: 127.0.0.1:9001\r\n", "");
        assert_eq!(outcome(&no_host, NONE).unwrap_err().status, 400);

        // A TLS ClientHello sent to a plain ws:// port.
        let Parsed::Done { outcome, .. } = parse(b"\x16\x03\x01garbage\r\n\r\n", NONE) else {
            panic!("partial");
        };
        assert_eq!(outcome.unwrap_err().status, 400);
    }

    #[test]
    fn header_tokens_are_case_insensitive() {
        let req = upgrade_request("")
            .replace("Upgrade: websocket", "upgrade: WebSocket")
            .replace("keep-alive, Upgrade", "UPGRADE");
        assert!(outcome(&req, NONE).is_ok());
    }

    #[test]
    fn subprotocols_follow_the_clients_preference_and_mismatch_is_400() {
        let ours = vec!["chat".to_string(), "superchat".to_string()];
        let policy = Policy {
            subprotocols: &ours,
            reject: None,
            deflate: None,
        };
        let req = upgrade_request(
            "Sec-WebSocket-Protocol: v2, superchat\r\nSec-WebSocket-Protocol: chat\r\n",
        );
        assert_eq!(
            outcome(&req, policy).unwrap().subprotocol.as_deref(),
            Some("superchat")
        );
        let req = upgrade_request("Sec-WebSocket-Protocol: other\r\n");
        let r = outcome(&req, policy).unwrap_err();
        assert_eq!(r.status, 400);
        assert!(r.why.contains("other"), "{}", r.why);
        assert_eq!(
            outcome(&upgrade_request(""), policy).unwrap_err().status,
            400
        );
        // Without --subprotocol, offers are accepted without choosing one.
        let req = upgrade_request("Sec-WebSocket-Protocol: other\r\n");
        assert_eq!(outcome(&req, NONE).unwrap().subprotocol, None);
    }

    #[test]
    fn reject_refuses_upgrades_but_plain_http_still_gets_426() {
        let policy = Policy {
            subprotocols: &[],
            reject: Some(403),
            deflate: None,
        };
        let r = outcome(&upgrade_request(""), policy).unwrap_err();
        assert_eq!(r.status, 403);
        assert!(
            String::from_utf8(r.to_bytes())
                .unwrap()
                .starts_with("HTTP/1.1 403 Forbidden\r\n")
        );
        assert_eq!(
            outcome("GET / HTTP/1.1\r\nHost: x\r\n\r\n", policy)
                .unwrap_err()
                .status,
            426
        );
        assert_eq!(reason_phrase(418), "Client Error");
    }
}
