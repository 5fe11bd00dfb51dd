//! Opening a connection: DNS, TCP, TLS and the HTTP upgrade, each phase timed, over a stream we
//! own so that tokio-tungstenite only ever sees an already-connected socket.

use crate::core::dial::{Dialed, dial};
use crate::core::error::{Error, ErrorKind};
use crate::core::stream::MaybeTls;
use crate::core::target::Target;
use crate::core::wire::Tap;
use base64::Engine;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, error::ProtocolError, error::SubProtocolError};

pub type WsStream = WebSocketStream<Tap<MaybeTls>>;

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
    /// Bytes tungstenite keeps allocated per connection for reading; small for soak.
    pub read_buffer_size: usize,
    pub source: Option<IpAddr>,
}

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
    pub timings: Timings,
}

/// How much of a refused upgrade's body we show: enough to read an error page's message.
pub const REFUSAL_BODY_LIMIT: usize = 1024;

/// Open a WebSocket. The connect timeout covers every phase up to the 101.
pub async fn open(opts: &ConnectOptions) -> Result<(WsStream, Handshake), Error> {
    let phase = std::sync::Mutex::new("DNS/TCP");
    match tokio::time::timeout(opts.connect_timeout, open_phases(opts, &phase)).await {
        Ok(res) => res,
        Err(_) => Err(Error::new(
            ErrorKind::ConnectTimeout,
            format!(
                "connect timeout: no WebSocket to {} after {} (during {}); raise --connect-timeout",
                opts.target.url(),
                humantime::format_duration(opts.connect_timeout),
                phase.lock().map(|p| *p).unwrap_or("connect")
            ),
        )),
    }
}

async fn open_phases(
    opts: &ConnectOptions,
    phase: &std::sync::Mutex<&'static str>,
) -> Result<(WsStream, Handshake), Error> {
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
                .map_err(|e| crate::core::tls::describe_handshake_error(&opts.target.host, &e))?;
            (MaybeTls::Tls(Box::new(tls)), Some(tls_start.elapsed()))
        }
        _ => (MaybeTls::Plain(stream), None),
    };

    set_phase("the HTTP upgrade");
    let upgrade_start = Instant::now();
    let request = build_request(opts)?;
    let mut config = WebSocketConfig::default();
    config.max_message_size = Some(opts.max_message_size);
    config.max_frame_size = Some(opts.max_message_size);
    config.read_buffer_size = opts.read_buffer_size;
    // Every send is flushed at once: a buffered ping would measure our buffer, not the peer.
    config.write_buffer_size = 0;
    let (ws, response) =
        tokio_tungstenite::client_async_with_config(request, Tap::new(stream, true), Some(config))
            .await
            .map_err(|e| upgrade_error(opts, e))?;
    let upgrade = upgrade_start.elapsed();

    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let subprotocol = response
        .headers()
        .get("sec-websocket-protocol")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let extensions = response
        .headers()
        .get_all("sec-websocket-extensions")
        .iter()
        .flat_map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        })
        .collect();
    let handshake = Handshake {
        url: opts.target.url(),
        peer,
        status: response.status().as_u16(),
        reason: response
            .status()
            .canonical_reason()
            .unwrap_or("")
            .to_string(),
        headers,
        subprotocol,
        extensions,
        timings: Timings {
            dns,
            tcp,
            tls,
            upgrade,
            total: start.elapsed(),
        },
    };
    Ok((ws, handshake))
}

fn build_request(
    opts: &ConnectOptions,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request, Error> {
    let mut request = opts.target.url().into_client_request().map_err(|e| {
        Error::usage(format!(
            "cannot build an upgrade request for {}: {e}",
            opts.target.url()
        ))
    })?;
    let headers = request.headers_mut();
    let mut put = |name: &str, value: &str| -> Result<(), Error> {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::usage(format!("'{name}' is not a valid HTTP header name")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            Error::usage(format!(
                "the value of header '{name}' has characters HTTP does not allow"
            ))
        })?;
        headers.append(name, value);
        Ok(())
    };
    if let Some(origin) = &opts.origin {
        put("origin", origin)?;
    }
    if !opts.subprotocols.is_empty() {
        put("sec-websocket-protocol", &opts.subprotocols.join(", "))?;
    }
    if let Some((user, pass)) = &opts.auth {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        let mut value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| Error::usage("--auth has characters HTTP does not allow"))?;
        value.set_sensitive(true);
        headers.insert("authorization", value);
    }
    for (name, value) in &opts.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Error::usage(format!("'{name}' is not a valid HTTP header name")))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            Error::usage(format!(
                "the value of header '{name}' has characters HTTP does not allow"
            ))
        })?;
        // A user's -H replaces what we generated (e.g. Host), as curl does.
        headers.insert(name, value);
    }
    Ok(request)
}

fn upgrade_error(opts: &ConnectOptions, e: tungstenite::Error) -> Error {
    use tungstenite::Error as E;
    match e {
        E::Http(response) => {
            let status = response.status();
            let body = response
                .body()
                .as_deref()
                .map(|b| {
                    let cut = &b[..b.len().min(REFUSAL_BODY_LIMIT)];
                    let mut s = String::from_utf8_lossy(cut).into_owned();
                    if b.len() > REFUSAL_BODY_LIMIT {
                        s.push_str(&format!(
                            "\n[… {} more bytes]",
                            b.len() - REFUSAL_BODY_LIMIT
                        ));
                    }
                    s
                })
                .unwrap_or_default();
            let mut err = Error::new(
                ErrorKind::Upgrade,
                format!(
                    "upgrade refused: HTTP/1.1 {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                ),
            );
            err.status = Some(status.as_u16());
            err.body = Some(body);
            err
        }
        E::Protocol(ProtocolError::SecWebSocketSubProtocolError(sub)) => {
            let offered = opts.subprotocols.join(", ");
            let msg = match sub {
                SubProtocolError::NoSubProtocol => format!(
                    "the server accepted none of the offered subprotocols ({offered}); check -s/--subprotocol"
                ),
                SubProtocolError::InvalidSubProtocol => format!(
                    "the server chose a subprotocol we did not offer ({offered})"
                ),
                SubProtocolError::ServerSentSubProtocolNoneRequested => {
                    "the server chose a subprotocol although none was offered; offer it with -s NAME".to_string()
                }
            };
            Error::new(ErrorKind::Subprotocol, msg)
        }
        E::Protocol(p) => Error::new(
            ErrorKind::Upgrade,
            format!("the server's upgrade response broke RFC 6455: {p}"),
        ),
        E::Io(io) => Error::new(
            ErrorKind::Connect,
            format!(
                "connection lost during the upgrade to {}: {io}",
                opts.target.url()
            ),
        ),
        other => Error::new(
            ErrorKind::Upgrade,
            format!("upgrade to {} failed: {other}", opts.target.url()),
        ),
    }
}
