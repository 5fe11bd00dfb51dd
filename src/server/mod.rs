//! The WebSocket server behind `wsbeat echo-server`, embeddable (`soak` runs it in-process).
//!
//! `ServerConfig` → `Server::bind` → `Server::run(shutdown)` → `ServerSummary`. Each accepted
//! socket gets one task: TLS (optional) and the HTTP upgrade under a handshake timeout, then a
//! connection loop (`conn_loop`) over the engine's `Connection`; `echo` is what the server
//! does with messages. The server never prints:
//! what happens goes as `ServerEvent`s into an optional bounded channel with `try_send`, so a
//! slow reader of the log loses log lines (counted in the summary), never echo throughput.
//!
//! Memory: an idle connection holds no read or write buffer. Reads go into a per-worker-thread
//! scratch buffer; only bytes of a frame split across reads, or output the socket did not take,
//! are kept per connection, and only until they are used. What clients can make the server
//! hold is bounded per client (`conn_loop::HIGH_WATER`, the broadcast queues) and over all of
//! them (`budget`, `--max-buffered`).

mod accept;
mod app_pong;
mod broadcast;
mod budget;
mod conn_loop;
mod echo;
mod message_faults;
pub mod scaleout;
pub mod socketio;
pub mod tls;

pub use message_faults::{Injected, MessageFaults};

use crate::client::heartbeat::{HeartbeatConfig, HeartbeatMode};
use crate::error::{Error, ErrorKind};
use crate::net::stream::Socket;
use crate::timer::{wakers, wheel};
use crate::ws::proto::DataKind;
use crate::ws::proto::close::CloseEvent;
use crate::ws::proto::close::CloseSpec;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpSocket};

mod unix_listener;

/// Where connections come from.
enum Listener {
    Tcp(TcpListener),
    Unix(unix_listener::UnixSocketFile),
}

impl Listener {
    /// A Unix peer has no address: it is reported as `0.0.0.0:0`.
    async fn accept(&self) -> std::io::Result<(Socket, SocketAddr)> {
        match self {
            Listener::Tcp(l) => l.accept().await.map(|(s, a)| (Socket::Tcp(s), a)),
            Listener::Unix(u) => u.accept().await.map(|s| {
                (
                    Socket::Unix(Box::new(s)),
                    SocketAddr::from(([0, 0, 0, 0], 0)),
                )
            }),
        }
    }
}
use tokio::sync::{Notify, mpsc};

/// Everything the server does, with the defaults of a plain echo server on a free port.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Serve on this Unix socket instead of `listen`; the file is removed when the server
    /// ends (however it ends: the listener's drop does it).
    pub unix: Option<std::path::PathBuf>,
    /// Serve wss:// with this configuration (`--tls-cert/--tls-key` or `--tls-self-signed`).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Accepted subprotocols; when not empty, an upgrade that offers none of them gets 400.
    pub subprotocols: Vec<String>,
    /// `--compress`: accept permessage-deflate offers under this policy.
    pub deflate: Option<crate::ws::ext::ServerPolicy>,
    /// Open WebSocket connections beyond this are refused with 503.
    pub max_connections: usize,
    /// A larger message is refused with Close 1009.
    pub max_message_size: usize,
    /// TLS and the HTTP upgrade must be done within this, or the socket is dropped.
    pub handshake_timeout: Duration,
    /// Close with 1001 "idle timeout" a client that sent no data message for this long.
    pub idle_timeout: Option<Duration>,
    /// Ping a client after this long without a data message from it.
    pub ping_interval: Option<Duration>,
    /// Terminate a client whose pong has not come back after this long (default: the interval).
    pub ping_timeout: Option<Duration>,
    /// Answer text `ping` with `pong` and JSON `{"type":"ping",...}` with `"status":"pong"` added.
    pub app_pong: bool,
    /// Send every message to every client instead of echoing it to its sender.
    pub broadcast: bool,
    /// Frames a client may have waiting in broadcast mode; beyond it, it is closed with 1008.
    pub broadcast_queue: usize,
    /// Bytes a client may have waiting in broadcast mode (one frame always fits); beyond it,
    /// it is closed with 1008.
    pub broadcast_queue_bytes: usize,
    /// Output waiting for clients, over all connections; beyond it, the client holding the
    /// most is closed with 1013 (see `budget`).
    pub max_buffered: usize,
    pub faults: Faults,
    /// On shutdown, how long clients get to answer our 1001 before they are cut.
    pub shutdown_grace: Duration,
    /// Where events go; `None` for no log at all.
    pub events: Option<mpsc::Sender<ServerEvent>>,
    /// Also send a `Message` event for each data message (`-v`).
    pub log_messages: bool,
    /// Serve socket.io (`--socketio`) on `/socket.io/` instead of plain WebSocket echo.
    pub socketio: Option<socketio::SocketIoConfig>,
    /// `--redis`, `--room`, `--replay`: broadcast across instances, replay on reconnect.
    pub scale: scaleout::ScaleConfig,
}

/// Misbehaviour on purpose, for testing clients. Faults combine.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Close after this many messages (echoed first) with `close_with`.
    pub close_after: Option<u64>,
    pub close_with: CloseSpec,
    /// Drop TCP without a Close frame after this many messages (echoed first).
    pub drop_after: Option<u64>,
    /// Hold every reply this long.
    pub delay: Option<Duration>,
    /// Never answer pings.
    pub no_pong: bool,
    /// Refuse every upgrade with this HTTP status.
    pub reject: Option<u16>,
    /// Send replies in frames of at most this many payload bytes.
    pub fragment: Option<usize>,
    /// Drop, duplicate, swap or corrupt echoes.
    pub messages: MessageFaults,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            unix: None,
            tls: None,
            subprotocols: Vec::new(),
            deflate: None,
            max_connections: 10_000,
            max_message_size: 64 << 20,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: None,
            ping_interval: None,
            ping_timeout: None,
            app_pong: false,
            broadcast: false,
            broadcast_queue: 256,
            broadcast_queue_bytes: 4 << 20,
            max_buffered: 256 << 20,
            faults: Faults::default(),
            shutdown_grace: Duration::from_secs(2),
            events: None,
            log_messages: false,
            socketio: None,
            scale: scaleout::ScaleConfig::default(),
        }
    }
}

/// What happened, as plain data for a renderer.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    Opened {
        id: u64,
        peer: SocketAddr,
        path: String,
        subprotocol: Option<String>,
        /// permessage-deflate as accepted (the answer's header value).
        compression: Option<String>,
    },
    /// Only with `log_messages`.
    Message {
        id: u64,
        kind: DataKind,
        len: usize,
    },
    /// No pong within `timeout`: the connection is being terminated (a `Closed` follows).
    HeartbeatTimeout {
        id: u64,
        peer: SocketAddr,
        timeout: Duration,
    },
    Closed {
        id: u64,
        peer: SocketAddr,
        /// `initiator` is `Client` when the client sent the first Close frame.
        close: CloseEvent,
        duration: Duration,
        messages_in: u64,
        messages_out: u64,
        /// The last heartbeat round trip.
        rtt: Option<Duration>,
    },
    /// A socket that never became a WebSocket: refused with `status`, or dropped (`None`).
    Rejected {
        peer: SocketAddr,
        path: Option<String>,
        status: Option<u16>,
        reason: String,
    },
    /// Shutdown began: this many clients are being sent 1001.
    ShuttingDown {
        connections: usize,
    },
    Warning(String),
    /// Redis went away (`up: false`) or came back; `target` is shown without its password.
    Redis {
        up: bool,
        target: String,
        detail: String,
    },
    /// The last event of a run.
    Summary(ServerSummary),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSummary {
    /// WebSocket connections opened.
    pub connections: u64,
    pub peak_connections: u64,
    /// Data messages and their payload bytes, from clients and to clients.
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Sockets refused or dropped before the upgrade.
    pub rejected: u64,
    /// Events that did not fit in the channel.
    pub events_dropped: u64,
    /// What the message faults did, over all connections.
    pub injected: Injected,
    /// With `--redis` or `--replay`.
    pub scale: Option<scaleout::ScaleSummary>,
}

/// State shared by the accept loop and every connection task.
struct Shared {
    cfg: ServerConfig,
    heartbeat: Option<HeartbeatConfig>,
    hub: Option<broadcast::Hub>,
    budget: budget::Budget,
    sio: Option<Arc<socketio::Hub>>,
    scale: Option<Arc<scaleout::Relay>>,
    /// The one room of a broadcast server without `--redis`, `--replay` or `--room`.
    lobby: Arc<str>,
    next_id: AtomicU64,
    open: AtomicUsize,
    peak: AtomicUsize,
    connections: AtomicU64,
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    rejected: AtomicU64,
    events_dropped: AtomicU64,
    /// Added to once per connection, at its end.
    injected: std::sync::Mutex<Injected>,
    /// Connection tasks alive, and a wake-up for when the last one ends.
    tasks: AtomicUsize,
    all_done: Notify,
    stopping: AtomicBool,
    /// Wakes the connections still in their handshake at shutdown.
    shutdown: Notify,
    /// Wakes the open connections at shutdown.
    wakers: wakers::Wakers,
    /// Set at shutdown, before `stopping`: no connection lasts past it.
    stop_deadline: std::sync::OnceLock<Instant>,
    /// What connections count their times from (`stamp`).
    epoch: Instant,
    /// With a heartbeat or `--idle-timeout`: their deadlines, for every connection.
    wheel: Option<wheel::Wheel>,
}

impl Shared {
    /// Never blocks: a full channel drops the event and counts it.
    fn emit(&self, make: impl FnOnce() -> ServerEvent) {
        if let Some(tx) = &self.cfg.events
            && tx.try_send(make()).is_err()
        {
            self.events_dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn reject(&self, peer: SocketAddr, path: Option<String>, status: Option<u16>, reason: String) {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        self.emit(|| ServerEvent::Rejected {
            peer,
            path,
            status,
            reason,
        });
    }

    fn task_ended(&self) {
        if self.tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.all_done.notify_waiters();
        }
    }

    fn summary(&self) -> ServerSummary {
        let get = |a: &AtomicU64| a.load(Ordering::Acquire);
        ServerSummary {
            connections: get(&self.connections),
            peak_connections: self.peak.load(Ordering::Acquire) as u64,
            messages_in: get(&self.messages_in),
            messages_out: get(&self.messages_out),
            bytes_in: get(&self.bytes_in),
            bytes_out: get(&self.bytes_out),
            rejected: get(&self.rejected),
            events_dropped: get(&self.events_dropped),
            injected: *self.injected.lock().unwrap_or_else(|p| p.into_inner()),
            scale: self.scale.as_ref().map(|r| r.summary()),
        }
    }
}

/// Counts a connection task alive until it ends, however it ends; `hold_open` turns it into
/// the connection's `ConnGuard` once its WebSocket is open. (`None` only inside `hold_open`.)
struct TaskGuard(Option<Arc<Shared>>);

impl TaskGuard {
    fn enter(shared: Arc<Shared>) -> Self {
        shared.tasks.fetch_add(1, Ordering::AcqRel);
        TaskGuard(Some(shared))
    }

    /// The connection's WebSocket is open: its place is given back when the task ends.
    fn hold_open(mut self, slot: accept::OpenSlot) -> ConnGuard {
        slot.keep();
        ConnGuard(
            self.0
                .take()
                .expect("a task guard holds the server until hold_open"),
        )
    }
}

impl std::ops::Deref for TaskGuard {
    type Target = Arc<Shared>;

    fn deref(&self) -> &Arc<Shared> {
        self.0
            .as_ref()
            .expect("a task guard holds the server until hold_open")
    }
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if let Some(shared) = &self.0 {
            shared.task_ended();
        }
    }
}

/// An open connection's hold on the server: counted in `tasks` and in `open` until it ends.
/// One `Arc` for both, and for everything the connection reads of the server: every idle
/// connection carries it.
struct ConnGuard(Arc<Shared>);

impl std::ops::Deref for ConnGuard {
    type Target = Arc<Shared>;

    fn deref(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.task_ended();
    }
}

pub struct Server {
    listener: Listener,
    local: SocketAddr,
    shared: Arc<Shared>,
}

impl Server {
    /// Check the configuration and bind the listening socket.
    pub async fn bind(cfg: ServerConfig) -> Result<Server, Error> {
        validate(&cfg)?;
        let cannot = |e: std::io::Error| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    " (another server is using it; pick another port, or 0 for any free one)"
                }
                std::io::ErrorKind::AddrNotAvailable => " (no interface has this address)",
                std::io::ErrorKind::PermissionDenied => " (ports below 1024 need privileges)",
                _ => "",
            };
            // These three are fixed by another --listen, like a bad flag value (exit 2); the
            // Io kind said "the connection ended abnormally" (exit 6) about no connection.
            let kind = if hint.is_empty() {
                ErrorKind::Io
            } else {
                ErrorKind::Usage
            };
            Error::new(kind, format!("cannot listen on {}: {e}{hint}", cfg.listen))
        };
        let (listener, local) = match &cfg.unix {
            Some(path) => (
                Listener::Unix(unix_listener::UnixSocketFile::bind(path)?),
                cfg.listen,
            ),
            None => {
                let socket = if cfg.listen.is_ipv4() {
                    TcpSocket::new_v4()
                } else {
                    TcpSocket::new_v6()
                }
                .map_err(cannot)?;
                socket.set_reuseaddr(true).map_err(cannot)?;
                socket.bind(cfg.listen).map_err(cannot)?;
                // A deep backlog: thousands of clients may connect at once.
                let listener = socket.listen(4096).map_err(cannot)?;
                let local = listener.local_addr().map_err(cannot)?;
                (Listener::Tcp(listener), local)
            }
        };
        let heartbeat = cfg.ping_interval.map(|interval| HeartbeatConfig {
            interval,
            timeout: cfg.ping_timeout.unwrap_or(interval),
            mode: HeartbeatMode::Ping,
        });
        let epoch = Instant::now();
        let spans: Vec<Duration> = heartbeat
            .iter()
            .flat_map(|h| [h.interval, h.timeout])
            .chain(cfg.idle_timeout)
            .collect();
        let wheel = (!spans.is_empty()).then(|| wheel::Wheel::new(epoch, &spans));
        let hub = cfg.broadcast.then(|| {
            broadcast::Hub::new(broadcast::Limits {
                frames: cfg.broadcast_queue,
                bytes: cfg.broadcast_queue_bytes,
            })
        });
        let budget = budget::Budget::new(cfg.max_buffered);
        let scale = match cfg.scale.active() {
            true => Some(Arc::new(scaleout::Relay::new(cfg.scale.clone()).await?)),
            false => None,
        };
        let sio = cfg
            .socketio
            .is_some()
            .then(|| Arc::new(socketio::Hub::new(&cfg)));
        Ok(Server {
            listener,
            local,
            shared: Arc::new(Shared {
                cfg,
                heartbeat,
                hub,
                budget,
                sio,
                scale,
                lobby: Arc::from("/"),
                next_id: AtomicU64::new(1),
                open: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                connections: AtomicU64::new(0),
                messages_in: AtomicU64::new(0),
                messages_out: AtomicU64::new(0),
                bytes_in: AtomicU64::new(0),
                bytes_out: AtomicU64::new(0),
                rejected: AtomicU64::new(0),
                events_dropped: AtomicU64::new(0),
                injected: std::sync::Mutex::new(Injected::default()),
                tasks: AtomicUsize::new(0),
                all_done: Notify::new(),
                stopping: AtomicBool::new(false),
                shutdown: Notify::new(),
                wakers: wakers::Wakers::default(),
                stop_deadline: std::sync::OnceLock::new(),
                epoch,
                wheel,
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// `ws://127.0.0.1:PORT/` or `wss://…`; IPv6 addresses in brackets; on a Unix socket
    /// `ws+unix:///path/to.sock:/`, which `wsbeat connect` takes as it is. A socket.io server
    /// says `http://…/` (`https`), the form socket.io clients take.
    pub fn url(&self) -> String {
        let scheme = match (self.shared.cfg.tls.is_some(), self.shared.sio.is_some()) {
            (true, false) => "wss",
            (false, false) => "ws",
            (true, true) => "https",
            (false, true) => "http",
        };
        match &self.listener {
            Listener::Unix(u) => format!("{scheme}+unix://{}:/", u.path().display()),
            Listener::Tcp(_) => format!("{scheme}://{}/", self.local),
        }
    }

    /// The socket file's permission bits, on a Unix socket.
    pub fn unix_mode(&self) -> Option<u32> {
        match &self.listener {
            Listener::Unix(u) => u.mode(),
            Listener::Tcp(_) => None,
        }
    }

    /// Serve until `shutdown` completes; then send every client 1001 "going away", give them
    /// `shutdown_grace` to answer, and return the totals (also sent as the last event).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> ServerSummary {
        let Server {
            listener, shared, ..
        } = self;
        tokio::pin!(shutdown);
        let scale_tasks = shared
            .scale
            .as_ref()
            .map(|r| r.start(&shared))
            .unwrap_or_default();
        // The timer wheel ticks while the server runs, and stops with it (also when `run` is
        // dropped: soak runs the server in-process).
        let _wheel = shared.wheel.as_ref().map(|_| {
            let s = shared.clone();
            AbortOnDrop(tokio::spawn(async move {
                if let Some(w) = &s.wheel {
                    w.run(&s.wakers).await;
                }
            }))
        });
        let mut last_warning: Option<Instant> = None;
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((tcp, peer)) => {
                        let guard = TaskGuard::enter(shared.clone());
                        tokio::spawn(accept::ConnTask::new(tcp, peer, guard));
                    }
                    Err(e) => {
                        // Out of file descriptors, usually: say so once a second and back off
                        // a little instead of spinning.
                        if last_warning.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                            last_warning = Some(Instant::now());
                            shared.emit(|| ServerEvent::Warning(format!(
                                "cannot accept a connection: {e}{}",
                                if e.raw_os_error() == Some(24) { " (raise the limit with ulimit -n)" } else { "" }
                            )));
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
        drop(listener);

        let _ = shared
            .stop_deadline
            .set(Instant::now() + shared.cfg.shutdown_grace);
        shared.stopping.store(true, Ordering::SeqCst);
        let open = shared.open.load(Ordering::Acquire) + shared.sio.as_ref().map_or(0, |h| h.len());
        shared.emit(|| ServerEvent::ShuttingDown { connections: open });
        shared.shutdown.notify_waiters();
        shared.wakers.wake_all();
        if let Some(sio) = &shared.sio {
            sio.shut_down(&shared);
        }
        // Connections end by themselves within the grace period; a little margin for the
        // last writes, then we report whatever is left.
        let deadline =
            tokio::time::Instant::now() + shared.cfg.shutdown_grace + Duration::from_millis(500);
        loop {
            let done = shared.all_done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if shared.tasks.load(Ordering::Acquire) == 0 {
                break;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                break;
            }
        }
        if let Some(relay) = &shared.scale {
            relay.flush().await;
        }
        let summary = shared.summary();
        for task in scale_tasks {
            task.abort();
        }
        if let Some(tx) = &shared.cfg.events {
            // A renderer stuck on a full pipe never makes room; the stop must not wait on it.
            let _ = tokio::time::timeout(
                Duration::from_millis(500),
                tx.send(ServerEvent::Summary(summary.clone())),
            )
            .await;
        }
        summary
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn validate(cfg: &ServerConfig) -> Result<(), Error> {
    if cfg.ping_interval.is_some_and(|d| d.is_zero()) {
        return Err(Error::usage("--ping-interval must be longer than 0"));
    }
    if cfg.ping_timeout.is_some_and(|d| d.is_zero()) {
        return Err(Error::usage("--ping-timeout must be longer than 0"));
    }
    if cfg.idle_timeout.is_some_and(|d| d.is_zero()) {
        return Err(Error::usage("--idle-timeout must be longer than 0"));
    }
    if cfg.handshake_timeout.is_zero() {
        return Err(Error::usage("--handshake-timeout must be longer than 0"));
    }
    if let Some(status) = cfg.faults.reject
        && !(200..=599).contains(&status)
    {
        return Err(Error::usage(format!(
            "--reject {status}: use an HTTP status from 200 to 599"
        )));
    }
    if cfg.max_connections == 0
        || cfg.broadcast_queue == 0
        || cfg.broadcast_queue_bytes == 0
        || cfg.max_buffered == 0
    {
        return Err(Error::usage(
            "--max-connections, --broadcast-queue, --broadcast-queue-bytes and --max-buffered \
             must be at least 1",
        ));
    }
    if cfg.scale.active() && (!cfg.broadcast || cfg.socketio.is_some()) {
        return Err(Error::usage(
            "--redis, --room and --replay act on --broadcast (and not with --socketio)",
        ));
    }
    if let Some(p) = cfg.subprotocols.iter().find(|p| !is_token(p)) {
        return Err(Error::usage(format!(
            "--subprotocol '{p}' is not a valid token (letters, digits and !#$%&'*+-.^_`|~)"
        )));
    }
    Ok(())
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_free_port_and_reports_its_url() {
        let server = Server::bind(ServerConfig::default()).await.unwrap();
        let addr = server.local_addr();
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);
        assert_eq!(server.url(), format!("ws://127.0.0.1:{}/", addr.port()));
        let summary = server.run(async {}).await;
        assert_eq!(summary, ServerSummary::default());
    }

    #[tokio::test]
    async fn bad_settings_are_usage_errors() {
        for cfg in [
            ServerConfig {
                ping_interval: Some(Duration::ZERO),
                ..Default::default()
            },
            ServerConfig {
                faults: Faults {
                    reject: Some(101),
                    ..Default::default()
                },
                ..Default::default()
            },
            ServerConfig {
                subprotocols: vec!["two words".into()],
                ..Default::default()
            },
        ] {
            let e = Server::bind(cfg).await.err().expect("rejected");
            assert_eq!(e.kind(), ErrorKind::Usage);
        }
    }

    #[tokio::test]
    async fn a_taken_port_is_a_usage_error_that_names_the_address() {
        let first = Server::bind(ServerConfig::default()).await.unwrap();
        let e = Server::bind(ServerConfig {
            listen: first.local_addr(),
            ..Default::default()
        })
        .await
        .err()
        .expect("port is taken");
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(e.to_string().contains(&first.local_addr().to_string()));
    }
}
