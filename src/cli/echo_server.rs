use super::{OutputArgs, parse};
use clap::Args;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Args)]
// The message faults act on echoes; a broadcast server has none, and a seed alone does nothing.
#[command(group(
    clap::ArgGroup::new("message_faults")
        .multiple(true)
        .args(["drop_every", "duplicate_every", "reorder_every", "corrupt_every"])
        .conflicts_with("broadcast")
))]
pub struct EchoServerArgs {
    /// Address to listen on: IP:PORT, or a port alone for 127.0.0.1 (port 0: any free port), or
    /// unix:PATH for a Unix socket (removed on exit). A non-loopback address is served only when
    /// given here, with a warning
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9001", value_parser = listen)]
    pub listen: Listen,

    /// Ping every client after this long without a message from it; see --ping-timeout
    /// (with --socketio: Engine.IO's pingInterval)
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Heartbeat")]
    pub ping_interval: Option<Duration>,
    /// Terminate a client whose pong has not come back after this long [default: the interval]
    #[arg(long, value_name = "DUR", value_parser = parse::duration, requires = "ping_interval", help_heading = "Heartbeat")]
    pub ping_timeout: Option<Duration>,
    /// Answer the text message `ping` with `pong`, and a JSON `{"type":"ping",...}` with the
    /// same object plus "status":"pong" (application-level heartbeat of browser clients)
    #[arg(long, help_heading = "Heartbeat")]
    pub app_pong: bool,

    /// Send every message to every connected client (a chat room) instead of echoing it
    #[arg(long, help_heading = "Broadcast")]
    pub broadcast: bool,
    /// Messages a client may have waiting in broadcast mode; a client over it is closed with
    /// 1008 "slow consumer"
    #[arg(long, value_name = "N", default_value = "256", value_parser = parse::positive, requires = "broadcast", help_heading = "Broadcast")]
    pub broadcast_queue: usize,
    /// Bytes a client may have waiting in broadcast mode (one message always fits); a client
    /// over it is closed with 1008 "slow consumer"
    #[arg(long, value_name = "SIZE", default_value = "4MiB", value_parser = parse::size, requires = "broadcast", help_heading = "Broadcast")]
    pub broadcast_queue_bytes: usize,

    /// Share broadcast with every echo-server on this Redis (redis://[:PASSWORD@]HOST:PORT[/DB],
    /// rediss:// for TLS) and the same room, over pub/sub; with --replay, keep messages there.
    /// The password is never printed
    #[arg(long, value_name = "URL", value_parser = redis_target, requires = "broadcast", conflicts_with = "socketio", help_heading = "Scaling out")]
    pub redis: Option<crate::server::scaleout::RedisTarget>,
    /// Put every client in this broadcast room [default: the request path, without its query]
    #[arg(
        long,
        value_name = "NAME",
        requires = "broadcast",
        conflicts_with = "socketio",
        help_heading = "Scaling out"
    )]
    pub room: Option<String>,
    /// Keep the last N broadcast messages of each room (in Redis with --redis, else in memory);
    /// a client that comes back (see --client-id) first gets what it missed, marked
    /// '[replay seq=N] ', then live messages marked '[seq=N] '; ?since=SEQ in its URL says
    /// what it already has
    #[arg(long, value_name = "N", value_parser = parse::positive, requires = "broadcast", conflicts_with = "socketio", help_heading = "Scaling out")]
    pub replay: Option<usize>,
    /// How long kept messages and where each client stopped are remembered
    #[arg(long, value_name = "DUR", default_value = "1h", value_parser = parse::duration, requires = "replay", help_heading = "Scaling out")]
    pub replay_ttl: Duration,
    /// How a client is recognized for --replay: query:NAME (the URL's ?NAME=), header:NAME,
    /// or first-message (its first text message, not broadcast)
    #[arg(
        long,
        value_name = "SOURCE",
        default_value = "query:user",
        requires = "replay",
        help_heading = "Scaling out"
    )]
    pub client_id: crate::server::scaleout::ClientIdFrom,
    /// Without --redis: bytes of kept messages over all rooms; a message beyond it is sent
    /// marked '[unstored] ' and counted
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse::size, requires = "replay", help_heading = "Scaling out")]
    pub replay_memory: usize,

    /// Accept this subprotocol (repeatable); the first one the client offers that is accepted
    /// is chosen, and an upgrade that offers none of them gets 400
    #[arg(
        short = 's',
        long = "subprotocol",
        value_name = "NAME",
        help_heading = "Handshake"
    )]
    pub subprotocols: Vec<String>,
    /// Accept permessage-deflate (RFC 7692) offers: the first offer the server can honour is
    /// accepted, invalid ones are declined
    #[arg(long, help_heading = "Handshake")]
    pub compress: bool,
    /// What the server insists on or allows with --compress, e.g.
    /// 'server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10;
    /// client_max_window_bits=10'
    #[arg(long, value_name = "PARAMS", requires = "compress", value_parser = parse::deflate_policy, help_heading = "Handshake")]
    pub compress_params: Option<crate::ws::ext::ServerPolicy>,
    /// Refuse upgrades beyond this many open connections with 503
    #[arg(long, value_name = "N", default_value = "10000", value_parser = parse::positive, help_heading = "Limits")]
    pub max_connections: usize,
    /// Largest message accepted (e.g. 64KiB); a larger one is answered with Close 1009
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse::size, help_heading = "Limits")]
    pub max_message_size: usize,
    /// What the server holds for all clients together (output waiting for clients that do not
    /// read, messages still arriving); beyond it, the client holding the most is closed with
    /// 1013 "try again later"
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse::size, help_heading = "Limits")]
    pub max_buffered: usize,
    /// Drop a socket that has not completed TLS and the upgrade within this long
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse::duration, help_heading = "Limits")]
    pub handshake_timeout: Duration,
    /// Close a client that sent no message for this long with 1001 "idle timeout"
    /// (pings and pongs do not count) [default: off]
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Limits")]
    pub idle_timeout: Option<Duration>,

    /// Serve wss:// with this certificate chain (PEM), with --tls-key
    #[arg(long, value_name = "FILE", requires = "tls_key", help_heading = "TLS")]
    pub tls_cert: Option<PathBuf>,
    /// Private key for --tls-cert (PEM)
    #[arg(long, value_name = "FILE", requires = "tls_cert", help_heading = "TLS")]
    pub tls_key: Option<PathBuf>,
    /// Serve wss:// with a certificate made at start for localhost, 127.0.0.1 and ::1; its
    /// SHA-256 fingerprint and the path of its PEM (for --cacert) are printed
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"], help_heading = "TLS")]
    pub tls_self_signed: bool,

    /// Close each connection after N messages (echoed first), with --close-code
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub close_after: Option<usize>,
    /// Close frame for --close-after: CODE[:REASON]
    #[arg(long, value_name = "CODE[:REASON]", default_value = "1000", value_parser = parse::close_spec, requires = "close_after", help_heading = "Faults")]
    pub close_code: crate::ws::proto::close::CloseSpec,
    /// Drop the TCP connection without a Close frame after N messages (echoed first): the
    /// client sees 1006
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub drop_after: Option<usize>,
    /// Send every reply this much later
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Faults")]
    pub delay: Option<Duration>,
    /// Ignore Ping frames (to trigger clients' heartbeat timeouts); with --socketio, send no
    /// Engine.IO pings
    #[arg(long, help_heading = "Faults")]
    pub no_pong: bool,
    /// Refuse every upgrade with this HTTP status and a short body
    #[arg(long, value_name = "STATUS", value_parser = clap::value_parser!(u16).range(200..=599), help_heading = "Faults")]
    pub reject: Option<u16>,
    /// Send replies in frames of at most N payload bytes (continuation frames)
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub fragment: Option<usize>,
    /// Do not echo every Nth message of a connection (counted in the summary)
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub drop_every: Option<usize>,
    /// Echo every Nth message of a connection twice
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub duplicate_every: Option<usize>,
    /// Hold back every Nth message of a connection and echo it after the next one
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub reorder_every: Option<usize>,
    /// Change a byte of every Nth echo of a connection (its last ASCII byte becomes another
    /// letter, so text stays valid UTF-8)
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Faults")]
    pub corrupt_every: Option<usize>,
    /// With the --*-every faults: hit random messages, each with probability 1/N, from this
    /// seed (mixed with the connection's number) instead of every Nth
    #[arg(
        long,
        value_name = "S",
        requires = "message_faults",
        help_heading = "Faults"
    )]
    pub fault_seed: Option<u64>,

    /// Serve socket.io v4 (Engine.IO v4, polling and WebSocket) on /socket.io/: events are
    /// echoed to their sender (with --broadcast, to every socket in the namespace) and acks
    /// answered with the event's arguments; any namespace is accepted. Pings every
    /// --ping-interval [default: 25s], ends a client after --ping-timeout [default: 20s]
    #[arg(long, conflicts_with_all = ["subprotocols", "app_pong", "idle_timeout", "delay", "reject", "message_faults"], help_heading = "socket.io")]
    pub socketio: bool,
    /// With --socketio: answer a CONNECT whose auth payload is not this JSON with CONNECT_ERROR
    #[arg(long, value_name = "JSON", requires = "socketio", value_parser = json, help_heading = "socket.io")]
    pub sio_auth: Option<serde_json::Value>,

    #[command(flatten)]
    pub output: OutputArgs,
}

fn redis_target(s: &str) -> Result<crate::server::scaleout::RedisTarget, String> {
    crate::server::scaleout::RedisTarget::parse(s)
}

fn json(s: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))
}

/// `--listen`: a TCP address, or `unix:PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(std::path::PathBuf),
}

pub fn listen(s: &str) -> Result<Listen, String> {
    match s.trim().strip_prefix("unix:") {
        Some("") => Err("'unix:' names no socket; write unix:/path/to.sock".into()),
        Some(path) => Ok(Listen::Unix(path.into())),
        None => listen_addr(s).map(Listen::Tcp),
    }
}

/// `127.0.0.1:9001`, `[::1]:0`, `0.0.0.0:80`, `localhost:9001`, or a port alone.
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    if let Ok(port) = t.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Some(port) = t.strip_prefix("localhost:") {
        let port = port
            .parse::<u16>()
            .map_err(|_| format!("'{s}': the port must be a number from 0 to 65535"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    t.parse().map_err(|_| {
        format!("'{s}' is not an address to listen on; write e.g. 127.0.0.1:9001, [::1]:0 or 9001")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            listen_addr("9001").unwrap(),
            "127.0.0.1:9001".parse().unwrap()
        );
        assert_eq!(listen_addr("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert_eq!(
            listen_addr("localhost:80").unwrap(),
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(
            listen_addr("0.0.0.0:9001").unwrap(),
            "0.0.0.0:9001".parse().unwrap()
        );
        assert!(listen_addr("example.com:80").is_err());
        assert_eq!(
            listen("unix:/tmp/s").unwrap(),
            Listen::Unix("/tmp/s".into())
        );
        assert!(listen("unix:").is_err());
        assert!(listen_addr("127.0.0.1:70000").is_err());
    }

    #[test]
    fn socketio_takes_json_auth_and_refuses_options_that_do_not_apply() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(["wsbeat", "echo-server"].iter().chain(args))
        };
        assert!(
            parse(&[
                "--socketio",
                "--sio-auth",
                r#"{"token":"x"}"#,
                "--broadcast"
            ])
            .is_ok()
        );
        assert!(parse(&["--socketio", "--sio-auth", "{not json"]).is_err());
        assert!(
            parse(&["--sio-auth", "{}"]).is_err(),
            "--sio-auth needs --socketio"
        );
        for other in [&["--app-pong"][..], &["--drop-every", "2"], &["-s", "chat"]] {
            let args: Vec<&str> = ["--socketio"].iter().chain(other).copied().collect();
            assert!(parse(&args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn message_faults_combine_but_need_echoes_and_a_seed_needs_a_fault() {
        use clap::Parser;
        let parse = |args: &[&str]| {
            crate::cli::Cli::try_parse_from(["wsbeat", "echo-server"].iter().chain(args))
        };
        assert!(
            parse(&[
                "--drop-every",
                "3",
                "--corrupt-every",
                "2",
                "--fault-seed",
                "7"
            ])
            .is_ok()
        );
        assert!(parse(&["--fault-seed", "7"]).is_err());
        assert!(parse(&["--reorder-every", "2", "--broadcast"]).is_err());
        assert!(parse(&["--duplicate-every", "0"]).is_err());
    }
}
