//! `wsbeat echo-server`: the server's config, with the TLS certificate read (or made and
//! written) before anything listens.

use super::output;
use crate::cli::echo_server::EchoServerArgs;
use crate::cli::echo_server::Listen;
use crate::error::Error;
use crate::render::OutputConfig;
use crate::server::{Faults, MessageFaults, ServerConfig, tls};
use std::path::PathBuf;

pub struct EchoServerConfig {
    pub server: ServerConfig,
    pub output: OutputConfig,
    /// `--tls-self-signed`: where the PEM went and its SHA-256 fingerprint.
    pub self_signed: Option<(PathBuf, String)>,
}

pub fn lower(args: &EchoServerArgs) -> Result<EchoServerConfig, Error> {
    let (tls, self_signed) = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => (Some(tls::from_pem_files(cert, key)?), None),
        _ if args.tls_self_signed => {
            let path =
                std::env::temp_dir().join(format!("wsbeat-echo-server-{}.pem", std::process::id()));
            let made = tls::self_signed(path)?;
            (Some(made.config), Some((made.pem_path, made.sha256)))
        }
        _ => (None, None),
    };
    let output = output(&args.output);
    let server = ServerConfig {
        listen: match &args.listen {
            Listen::Tcp(a) => *a,
            Listen::Unix(_) => ServerConfig::default().listen,
        },
        unix: match &args.listen {
            Listen::Unix(p) => Some(p.clone()),
            Listen::Tcp(_) => None,
        },
        tls,
        subprotocols: args.subprotocols.clone(),
        deflate: args
            .compress
            .then(|| args.compress_params.clone().unwrap_or_default()),
        max_connections: args.max_connections,
        max_message_size: args.max_message_size,
        handshake_timeout: args.handshake_timeout,
        idle_timeout: args.idle_timeout,
        ping_interval: args.ping_interval,
        ping_timeout: args.ping_timeout,
        app_pong: args.app_pong,
        broadcast: args.broadcast,
        broadcast_queue: args.broadcast_queue,
        broadcast_queue_bytes: args.broadcast_queue_bytes,
        max_buffered: args.max_buffered,
        faults: Faults {
            close_after: args.close_after.map(|n| n as u64),
            close_with: args.close_code.clone(),
            drop_after: args.drop_after.map(|n| n as u64),
            delay: args.delay,
            no_pong: args.no_pong,
            reject: args.reject,
            fragment: args.fragment,
            messages: MessageFaults {
                drop_every: args.drop_every.map(|n| n as u64),
                duplicate_every: args.duplicate_every.map(|n| n as u64),
                reorder_every: args.reorder_every.map(|n| n as u64),
                corrupt_every: args.corrupt_every.map(|n| n as u64),
                seed: args.fault_seed,
            },
        },
        log_messages: output.verbose,
        socketio: args
            .socketio
            .then(|| crate::server::socketio::SocketIoConfig {
                auth: args.sio_auth.clone(),
            }),
        scale: crate::server::scaleout::ScaleConfig {
            redis: args.redis.clone(),
            room: args.room.clone(),
            replay: args
                .replay
                .map(|keep| crate::server::scaleout::ReplayConfig {
                    keep,
                    ttl: args.replay_ttl,
                    client_id: args.client_id.clone(),
                    memory_bytes: args.replay_memory,
                }),
        },
        ..ServerConfig::default()
    };
    Ok(EchoServerConfig {
        server,
        output,
        self_signed,
    })
}
