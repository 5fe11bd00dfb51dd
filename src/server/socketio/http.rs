//! The HTTP side of a socket.io server: requests on one TCP connection (keep-alive), the
//! polling transport (GET waits for output, POST delivers packets), CORS for pages served
//! from elsewhere, and the hand-over of `transport=websocket` upgrades.

use super::session::{Out, Session, Transport, open_packet};
use super::{Hub, MAX_PAYLOAD, transport_ws};
use crate::server::accept::Io;
use crate::server::{ServerEvent, Shared};
use crate::sio::engineio::{self, SEPARATOR};
use crate::ws::handshake::server as ws_http;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one request needs from its head.
struct Request {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    origin: Option<String>,
    content_length: usize,
    upgrade: bool,
    close: bool,
}

impl Request {
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    body: Vec<u8>,
    content_type: &'static str,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            body: body.into().into_bytes(),
            content_type: "text/plain; charset=UTF-8",
        }
    }

    /// Engine.IO's own error bodies: `{"code":N,"message":"…"}`.
    fn error(status: u16, code: u8, message: &str) -> Response {
        Response {
            status,
            body: serde_json::json!({"code": code, "message": message})
                .to_string()
                .into_bytes(),
            content_type: "application/json",
        }
    }
}

pub(super) async fn serve(mut io: Io, peer: SocketAddr, shared: Arc<Shared>) {
    let Some(hub) = shared.sio.clone() else {
        return;
    };
    // A keep-alive connection may sit idle between polls for up to a ping period.
    let idle = hub.ping_interval + hub.ping_timeout + shared.cfg.handshake_timeout;
    let mut buf: Vec<u8> = Vec::with_capacity(1024);
    loop {
        let stop = shared.shutdown.notified();
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let head = tokio::select! {
            () = stop => return,
            r = tokio::time::timeout(idle, read_head(&mut io, &mut buf)) => match r {
                Ok(Some(head)) => head,
                _ => return,
            },
        };
        let req = match parse_head(&buf[..head]) {
            Ok(req) => req,
            Err(resp) => {
                let _ = write(&mut io, &resp, None, true).await;
                return;
            }
        };
        if !req.path.starts_with("/socket.io/") && req.path != "/socket.io" {
            let resp = Response::text(
                404,
                "not a socket.io path: this server serves /socket.io/\n",
            );
            shared.reject(
                peer,
                Some(req.path.clone()),
                Some(404),
                "not a socket.io path".into(),
            );
            let _ = write(&mut io, &resp, req.origin.as_deref(), true).await;
            return;
        }
        if req.upgrade {
            return upgrade(io, buf, head, &req, peer, shared, hub).await;
        }
        // The body, within the payload bound.
        if req.content_length > MAX_PAYLOAD {
            let resp = Response::error(413, 1, "Payload too large (maxPayload)");
            let _ = write(&mut io, &resp, req.origin.as_deref(), true).await;
            return;
        }
        while buf.len() < head + req.content_length {
            match tokio::time::timeout(shared.cfg.handshake_timeout, io.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
        }
        let body = buf[head..head + req.content_length].to_vec();
        buf.drain(..head + req.content_length);
        let resp = polling(&req, &body, peer, &shared, &hub).await;
        if write(&mut io, &resp, req.origin.as_deref(), req.close)
            .await
            .is_err()
            || req.close
        {
            return;
        }
    }
}

/// Read until `buf` holds a whole request head; its length.
async fn read_head(io: &mut Io, buf: &mut Vec<u8>) -> Option<usize> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Some(end + 4);
        }
        if buf.len() > ws_http::MAX_REQUEST {
            return None;
        }
        if buf.len() == buf.capacity() {
            buf.reserve(buf.len().max(1024));
        }
        match io.read_buf(buf).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

fn parse_head(head: &[u8]) -> Result<Request, Response> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        _ => return Err(Response::text(400, "malformed HTTP request\n")),
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| std::str::from_utf8(h.value).ok())
    };
    let target = req.path.unwrap_or("/");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let content_length = match header("content-length") {
        None => 0,
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| Response::text(400, "bad Content-Length\n"))?,
    };
    Ok(Request {
        method: req.method.unwrap_or("GET").to_string(),
        path: path.to_string(),
        query,
        origin: header("origin").map(str::to_string),
        content_length,
        upgrade: header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")),
        close: header("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
            || req.version == Some(0),
    })
}

async fn write(
    io: &mut Io,
    resp: &Response,
    origin: Option<&str>,
    close: bool,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nServer: wsbeat\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n",
        resp.status,
        ws_http::reason_phrase(resp.status),
        resp.content_type,
        resp.body.len()
    );
    // A test page served from another origin may poll: allow it, cookies included.
    if let Some(origin) = origin {
        head.push_str(&format!(
            "Access-Control-Allow-Origin: {origin}\r\nAccess-Control-Allow-Credentials: true\r\nVary: Origin\r\n"
        ));
    } else {
        head.push_str("Access-Control-Allow-Origin: *\r\n");
    }
    if resp.status == 204 {
        head.push_str("Access-Control-Allow-Methods: GET, POST, OPTIONS\r\nAccess-Control-Allow-Headers: content-type\r\n");
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    io.write_all(head.as_bytes()).await?;
    io.write_all(&resp.body).await?;
    io.flush().await
}

/// One polling request: open a session, wait for output, or take packets.
async fn polling(
    req: &Request,
    body: &[u8],
    peer: SocketAddr,
    shared: &Arc<Shared>,
    hub: &Arc<Hub>,
) -> Response {
    if req.method == "OPTIONS" {
        return Response::text(204, "");
    }
    if req.param("EIO") != Some("4") {
        return Response::error(400, 5, "Unsupported protocol version");
    }
    if req.param("transport") != Some("polling") {
        return Response::error(400, 0, "Transport unknown");
    }
    let Some(sid) = req.param("sid") else {
        if req.method != "GET" {
            return Response::error(400, 3, "Bad request");
        }
        return match open(peer, shared, hub, Transport::Polling) {
            Ok(session) => Response::text(200, open_packet(&session.sid, hub, true)),
            Err(resp) => resp,
        };
    };
    let Some(session) = hub.get(sid) else {
        return Response::error(400, 1, "Session ID unknown");
    };
    session.touch();
    match req.method.as_str() {
        "GET" => poll(&session, shared, hub).await,
        "POST" => {
            let Ok(text) = std::str::from_utf8(body) else {
                session.end(hub, shared, "a polling payload that is not UTF-8", true);
                return Response::error(400, 3, "Bad request");
            };
            shared
                .bytes_in
                .fetch_add(body.len() as u64, Ordering::Relaxed);
            for packet in text.split(SEPARATOR) {
                session.on_text(hub, shared, packet);
            }
            Response::text(200, "ok")
        }
        _ => Response::error(400, 2, "Bad handshake method"),
    }
}

/// A held GET: answered as soon as output waits, with all of it.
async fn poll(session: &Arc<Session>, shared: &Arc<Shared>, hub: &Arc<Hub>) -> Response {
    {
        let mut st = session.lock();
        if st.poll_held || st.transport == Transport::WebSocket {
            // Two GETs at once break the protocol: Engine.IO ends the session.
            drop(st);
            session.end(hub, shared, "overlapping polling requests", true);
            return Response::error(400, 3, "Bad request");
        }
        st.poll_held = true;
    }
    let deadline = tokio::time::Instant::now() + hub.ping_interval + hub.ping_timeout;
    let packets = loop {
        let woken = session.woken();
        {
            let mut st = session.lock();
            if st.ended.is_some() {
                // With the goodbye when the session ended with one; an empty answer would
                // be a malformed payload, so a cut session still says Close.
                st.poll_held = false;
                let out = session.take(&mut st);
                break match out.is_empty() {
                    true => vec![Out::Text(engineio::Packet::Close.encode())],
                    false => out,
                };
            }
            if Session::has_output(&st) {
                st.poll_held = false;
                break session.take(&mut st);
            }
            if st.transport == Transport::Upgrading {
                // Let the client pause polling and finish the upgrade.
                st.poll_held = false;
                break vec![Out::Text(engineio::Packet::Noop.encode())];
            }
        }
        if tokio::time::timeout_at(deadline, woken).await.is_err() {
            session.lock().poll_held = false;
            break vec![Out::Text(engineio::Packet::Noop.encode())];
        }
    };
    let texts: Vec<String> = packets
        .into_iter()
        .map(|p| match p {
            Out::Text(t) => t,
            Out::Binary(b) => format!("b{}", B64.encode(&b)),
        })
        .collect();
    let payload = engineio::encode_payload(&texts);
    // In the response now: one payload, written by this request's task.
    session.sent();
    shared
        .bytes_out
        .fetch_add(payload.len() as u64, Ordering::Relaxed);
    Response::text(200, payload)
}

/// A new session, within `--max-connections`, with its heartbeat started.
fn open(
    peer: SocketAddr,
    shared: &Arc<Shared>,
    hub: &Arc<Hub>,
    transport: Transport,
) -> Result<Arc<Session>, Response> {
    if hub.len() >= shared.cfg.max_connections {
        shared.reject(
            peer,
            Some("/socket.io/".into()),
            Some(503),
            format!(
                "server full: {} socket.io sessions (--max-connections)",
                shared.cfg.max_connections
            ),
        );
        return Err(Response::error(503, 3, "server full (--max-connections)"));
    }
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let session = Arc::new(Session::new(id, peer, transport, shared));
    hub.insert(session.clone());
    shared.connections.fetch_add(1, Ordering::Relaxed);
    let open = hub.len();
    shared.peak.fetch_max(open, Ordering::AcqRel);
    shared.emit(|| ServerEvent::Opened {
        id,
        peer,
        compression: None,
        path: format!(
            "/socket.io/ ({})",
            match transport {
                Transport::WebSocket => "websocket",
                _ => "polling",
            }
        ),
        subprotocol: None,
    });
    tokio::spawn(session.clone().heartbeat(hub.clone(), shared.clone()));
    Ok(session)
}

async fn refuse(mut io: Io, resp: Response) {
    let _ = write(&mut io, &resp, None, true).await;
}

/// `transport=websocket`: the WebSocket handshake, then the WebSocket transport.
async fn upgrade(
    mut io: Io,
    buf: Vec<u8>,
    head: usize,
    req: &Request,
    peer: SocketAddr,
    shared: Arc<Shared>,
    hub: Arc<Hub>,
) {
    if req.param("EIO") != Some("4") {
        return refuse(io, Response::error(400, 5, "Unsupported protocol version")).await;
    }
    if req.param("transport") != Some("websocket") {
        return refuse(io, Response::error(400, 0, "Transport unknown")).await;
    }
    let session = match req.param("sid") {
        Some(sid) => match hub.get(sid) {
            Some(s) if s.lock().transport == Transport::Polling => Some(s),
            _ => return refuse(io, Response::error(400, 1, "Session ID unknown")).await,
        },
        None => None,
    };
    let policy = ws_http::Policy {
        subprotocols: &[],
        reject: None,
        // socket.io's WebSocket transport is served uncompressed: offers are declined.
        deflate: None,
    };
    let up = match ws_http::parse(&buf[..head], policy) {
        ws_http::Parsed::Done {
            outcome: Ok(up), ..
        } => up,
        ws_http::Parsed::Done {
            outcome: Err(refusal),
            ..
        } => {
            let _ = io.write_all(&refusal.to_bytes()).await;
            return;
        }
        ws_http::Parsed::Partial => return,
    };
    if io
        .write_all(&ws_http::switching_protocols(&up))
        .await
        .is_err()
        || io.flush().await.is_err()
    {
        return;
    }
    let leftover = buf[head..].to_vec();
    let session = match session {
        Some(s) => s,
        None => match open(peer, &shared, &hub, Transport::WebSocket) {
            Ok(s) => {
                let mut st = s.lock();
                s.push(&mut st, Out::Text(open_packet(&s.sid, &hub, false)));
                drop(st);
                s
            }
            Err(_) => return,
        },
    };
    transport_ws::run(io, leftover, session, shared, hub).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_polling_request_head() {
        let head = b"POST /socket.io/?EIO=4&transport=polling&t=Pq1&sid=abc HTTP/1.1\r\nHost: x\r\nOrigin: http://a.test\r\nContent-Length: 12\r\nConnection: close\r\n\r\n";
        let req = parse_head(head).ok().expect("parsed");
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("POST", "/socket.io/")
        );
        assert_eq!(req.param("EIO"), Some("4"));
        assert_eq!(req.param("sid"), Some("abc"));
        assert_eq!(req.param("missing"), None);
        assert_eq!(req.origin.as_deref(), Some("http://a.test"));
        assert_eq!(req.content_length, 12);
        assert!(req.close && !req.upgrade);
    }

    #[test]
    fn an_upgrade_head_and_bad_heads() {
        let head =
            b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nUpgrade: websocket\r\n\r\n";
        let req = parse_head(head).ok().expect("parsed");
        assert!(req.upgrade && !req.close);
        let bad = parse_head(b"GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n");
        assert_eq!(bad.err().map(|r| r.status), Some(400));
        assert_eq!(
            parse_head(b"\x01\x02\r\n\r\n").err().map(|r| r.status),
            Some(400)
        );
    }
}
