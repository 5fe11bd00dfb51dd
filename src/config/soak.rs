//! `wsbeat soak`: the shape of the run, heartbeats, reconnects, reports and thresholds, and the
//! handshake every connection makes, lowered before any connection is opened.

use super::scenario;
use super::{connect_options, connect_options_per_proxy, use_color};
use crate::cli::TlsArgs;
use crate::cli::soak::{SoakArgs, SoakMode};
use crate::client::heartbeat::{HeartbeatConfig, HeartbeatMode};
use crate::client::reconnect::Backoff;
use crate::client::steps::Script;
use crate::error::Error;
use crate::stats::soak_envelope::Envelope;
use crate::stats::soak_message::HEADER_LEN;
use crate::stats::verdict::Thresholds;
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::proto::DataKind;
use regex::Regex;
use serde::Serialize;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Connection ids are u32 on the wire; far beyond what one process can open anyway.
const MAX_CONNECTIONS: usize = 1_000_000;

/// Where the embedded echo server is, until it listens and has a port.
const EMBEDDED_STAND_IN: &str = "ws://127.0.0.1/";

pub struct SoakConfig {
    /// Without its credentials: the header line, errors and the report all show it.
    /// `None`: soak the embedded echo server.
    pub url: Option<String>,
    /// The handshake (and TLS) of every connection. With the embedded server its target is a
    /// stand-in, replaced once the server listens.
    pub conn: ConnectOptions,
    /// `--proxy` repeated: connection N goes through `proxies[N % len]`; empty: as `conn` says.
    pub proxies: Vec<crate::net::proxy::ProxyChoice>,
    /// `--merge`: add up these reports instead of running.
    pub merge: Vec<PathBuf>,
    pub run: RunShape,
    pub heartbeat: Option<HeartbeatConfig>,
    /// The per-connection preamble (`--send`/`--expect`), run after every open.
    pub preamble: Option<Script>,
    pub reconnect: Option<ReconnectPolicy>,
    /// `--socketio` (or a `/socket.io/` URL): the namespace every connection joins.
    pub socketio: Option<SocketIo>,
    pub watch_pid: Option<u32>,
    pub json: Option<JsonOut>,
    /// `--report FILE`: the HTML page.
    pub report: Option<PathBuf>,
    pub live: bool,
    pub color: bool,
    pub thresholds: Thresholds,
    /// `--coordinator`: one worker (or the lead) of a run over several processes.
    pub coordinator: Option<super::coordinator::Coordinator>,
}

/// What every connection does; shared read-only by all workers.
#[derive(Debug, Clone, Serialize)]
pub struct RunShape {
    pub connections: usize,
    pub connect_rate: Option<f64>,
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    pub mode: &'static str,
    #[serde(skip)]
    pub echo: bool,
    pub message_rate: f64,
    /// `None`: no messages (idle mode, or a rate of 0).
    #[serde(skip)]
    pub message_period: Option<Duration>,
    pub size: usize,
    #[serde(serialize_with = "kind_str")]
    pub kind: DataKind,
    pub fragment_size: Option<usize>,
    pub source_addrs: Vec<IpAddr>,
    pub buffer: usize,
    /// `--server-replay`: the server's replay, not ours, brings back what was in flight.
    pub server_replay: bool,
    /// Added at random (0..=this) to `message_period` before each message: a scenario's
    /// think time.
    #[serde(skip)]
    pub think_jitter: Duration,
    /// `--scenario`'s message template and echo rule.
    #[serde(skip)]
    pub envelope: Option<Envelope>,
}

#[derive(Debug, Clone, Copy)]
pub struct ReconnectPolicy {
    pub backoff: Backoff,
    /// Per connection over the whole run.
    pub max_reconnects: Option<u64>,
}

/// `soak --socketio`: what a connection needs to join before it is measured.
#[derive(Debug, Clone)]
pub struct SocketIo {
    pub namespace: String,
    /// The namespace CONNECT, ready to send (`40`, `40/chat,{"token":"…"}`).
    pub connect: String,
    /// How long the Engine.IO open and the namespace CONNECT may take (`--step-timeout`).
    pub timeout: Duration,
}

impl SocketIo {
    pub fn new(namespace: &str, auth: Option<&serde_json::Value>, timeout: Duration) -> SocketIo {
        let packet = crate::sio::packet::Packet::new(
            crate::sio::packet::Kind::Connect,
            namespace,
            auth.cloned(),
        );
        SocketIo {
            namespace: namespace.to_string(),
            connect: format!("4{}", packet.encode()),
            timeout,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonOut {
    Stdout,
    File(PathBuf),
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn kind_str<S: serde::Serializer>(k: &DataKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.as_str())
}

/// Opens (creating, not truncating) the `--json` or `--report` file now: a run of half an
/// hour that cannot write its report at the end has been wasted.
pub fn writable(flag: &str, path: &str) -> Result<PathBuf, Error> {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| Error::usage(format!("cannot write {flag} {path}: {e}")))?;
    Ok(PathBuf::from(path))
}

pub fn lower(args: &SoakArgs) -> Result<SoakConfig, Error> {
    // Parse the URL and read the TLS files now, so that a typo fails before the run.
    let mut proxies = Vec::new();
    let mut conn = match &args.url {
        Some(url) => {
            let mut each = connect_options_per_proxy(url, &args.handshake, &args.tls)?;
            if each.len() > 1 {
                proxies = each.iter().map(|o| o.reach.proxy.clone()).collect();
            }
            each.swap_remove(0)
        }
        None => {
            // The embedded server is plain ws://, so TLS files would apply to nothing (and
            // --merge opens no connection at all).
            if args.merge.is_empty() && (args.tls.cacert.is_some() || args.tls.cert.is_some()) {
                return Err(Error::usage(
                    "--cacert/--cert apply to wss:// only; the embedded echo server is plain ws://",
                ));
            }
            let plain = TlsArgs {
                cacert: None,
                cert: None,
                key: None,
                insecure: false,
                tls_server_name: None,
            };
            connect_options(EMBEDDED_STAND_IN, &args.handshake, &plain)?
        }
    };
    let echo = args.mode == SoakMode::Echo;
    if args.server_replay && (!echo || args.url.is_none()) {
        return Err(Error::usage(
            "--server-replay needs --mode echo and the URL of a server that replays (echo-server --broadcast --replay N)",
        ));
    }
    let socketio = socketio(args, &mut conn)?;
    if args.server_replay && socketio.is_some() {
        return Err(Error::usage(
            "--server-replay is for plain WebSocket echo servers, not socket.io",
        ));
    }
    let scenario = args.scenario.as_deref().map(scenario::load).transpose()?;
    let think = scenario.as_ref().and_then(|s| s.think_time);
    // A think time replaces --message-rate: MIN, plus up to MAX - MIN at random, per message.
    let (message_rate, think_jitter) = match think {
        Some((lo, hi)) => (2.0 / (lo + hi).as_secs_f64(), hi - lo),
        None => (args.message_rate, Duration::ZERO),
    };
    let message_period = (args.mode != SoakMode::Idle && message_rate > 0.0).then(|| match think {
        Some((lo, _)) => lo,
        None => Duration::from_secs_f64(1.0 / message_rate),
    });
    if message_period.is_some() && args.size < HEADER_LEN {
        return Err(Error::usage(format!(
            "--size {} is too small: every soak message carries a {HEADER_LEN}-byte sequence header",
            args.size
        )));
    }
    if args.connections > MAX_CONNECTIONS {
        return Err(Error::usage(format!(
            "-c {} is more than one process can hold; run several soak processes and --merge their reports",
            args.connections
        )));
    }
    if args.duration.is_zero() {
        return Err(Error::usage("--duration must be longer than 0"));
    }
    let heartbeat = heartbeat(args)?;
    if args.step_timeout.is_zero() {
        return Err(Error::usage("--step-timeout must be longer than 0"));
    }
    let (steps, step_timeout) = match &scenario {
        Some(s) => (
            s.preamble.clone(),
            s.step_timeout.unwrap_or(args.step_timeout),
        ),
        None => (
            super::step_args(
                &args.steps,
                &args.send,
                &[],
                None,
                &args.expect,
                &args.expect_json,
            ),
            args.step_timeout,
        ),
    };
    let preamble = Script::build(&steps, DataKind::Text, Some(step_timeout))?;
    let mut envelope = scenario.and_then(|s| s.envelope);
    if let Some(sio) = &socketio {
        if envelope.is_some() {
            return Err(Error::usage(
                "with --socketio the message is the event's argument; drop the scenario's [message]",
            ));
        }
        envelope = Some(Envelope::socketio(&sio.namespace, &args.event));
    }
    let preamble = (!preamble.is_empty()).then_some(preamble);
    let json = match args.json.as_deref() {
        None => None,
        Some("-") => Some(JsonOut::Stdout),
        Some(path) => Some(JsonOut::File(writable("--json", path)?)),
    };
    let report = match args.report.as_deref() {
        None => None,
        Some(path) => Some(writable("--report", path)?),
    };
    let coordinator = match (&args.coordinator, args.workers) {
        (Some(url), Some(workers)) => {
            if args.url.is_none() && !args.lead {
                return Err(Error::usage(
                    "a --coordinator worker needs the URL to soak (only --lead runs without one)",
                ));
            }
            if args.connections < workers && !args.lead {
                return Err(Error::usage(format!(
                    "-c {} is fewer than --workers {workers}: every worker needs a connection",
                    args.connections
                )));
            }
            let env = std::env::var("JOB_COMPLETION_INDEX").ok();
            Some(super::coordinator::lower(
                url,
                workers,
                args.worker_index,
                env.as_deref(),
                args.lead,
                args.barrier_timeout,
            )?)
        }
        _ => None,
    };
    let stderr_tty = std::io::stderr().is_terminal();
    Ok(SoakConfig {
        // The parsed target's form, not the input: `user:pass@` must reach no output.
        url: args.url.as_ref().map(|_| conn.target.url()),
        conn,
        proxies,
        merge: args.merge.clone(),
        run: RunShape {
            connections: args.connections,
            connect_rate: args.connect_rate,
            duration: args.duration,
            mode: match args.mode {
                SoakMode::Echo => "echo",
                SoakMode::Send => "send",
                SoakMode::Idle => "idle",
            },
            echo,
            message_rate: if message_period.is_some() {
                message_rate
            } else {
                0.0
            },
            message_period,
            size: args.size.max(HEADER_LEN),
            // An envelope is a text protocol (the template is text).
            kind: if args.binary && envelope.is_none() {
                DataKind::Binary
            } else {
                DataKind::Text
            },
            fragment_size: args.fragment_size,
            source_addrs: args
                .source_addrs
                .as_ref()
                .map(|s| s.0.clone())
                .unwrap_or_default(),
            buffer: args.buffer,
            server_replay: args.server_replay,
            think_jitter,
            envelope,
        },
        heartbeat,
        preamble,
        reconnect: (!args.no_reconnect).then_some(ReconnectPolicy {
            backoff: args.backoff,
            max_reconnects: args.max_reconnects,
        }),
        socketio,
        watch_pid: args.watch_pid,
        json,
        report,
        // The live view needs a terminal it can take over and keys to read.
        live: !args.no_live && stderr_tty && std::io::stdin().is_terminal(),
        color: use_color(args.color, std::io::stdout().is_terminal()),
        thresholds: Thresholds {
            max_loss: args.max_loss,
            max_p99: args.max_p99,
            max_errors: args.max_errors,
            min_connections: args.min_connections,
        },
        coordinator,
    })
}

/// `--socketio`, or a URL whose path ends in `/socket.io/`: the handshake goes to the Engine.IO
/// WebSocket resource.
fn socketio(args: &SoakArgs, conn: &mut ConnectOptions) -> Result<Option<SocketIo>, Error> {
    let implied = args.url.is_some() && crate::sio::url::implies_socketio(&conn.target.resource);
    if !(args.socketio || implied) {
        if args.sio_auth.is_some() || &*args.namespace != "/" || &*args.event != "message" {
            return Err(Error::usage(
                "--namespace, --sio-auth and --event need --socketio (or a /socket.io/ URL)",
            ));
        }
        return Ok(None);
    }
    if args.url.is_none() && args.merge.is_empty() {
        return Err(Error::usage(
            "soak --socketio needs a URL (the embedded echo server is plain WebSocket; run `wsbeat echo-server --socketio` and soak it)",
        ));
    }
    if args.binary {
        return Err(Error::usage(
            "--binary does not apply to --socketio (events are text)",
        ));
    }
    conn.target.resource = crate::sio::url::websocket_resource(&conn.target.resource);
    Ok(Some(SocketIo::new(
        &args.namespace,
        args.sio_auth.as_deref(),
        args.step_timeout,
    )))
}

fn heartbeat(args: &SoakArgs) -> Result<Option<HeartbeatConfig>, Error> {
    if args.heartbeat.is_zero() {
        return Ok(None);
    }
    if args.heartbeat_timeout.is_zero() {
        return Err(Error::usage("--heartbeat-timeout must be longer than 0"));
    }
    let mode = match &args.heartbeat_text {
        None => HeartbeatMode::Ping,
        Some(payload) => {
            let pattern = match &args.heartbeat_expect {
                Some(p) => p.clone(),
                // An echo server sends the heartbeat back: match exactly that, any number.
                None => format!("^{}$", regex::escape(payload).replace(r"\{seq\}", r"\d+")),
            };
            let expect = Regex::new(&pattern).map_err(|e| {
                Error::usage(format!(
                    "--heartbeat-expect '{pattern}' is not a valid regular expression: {}",
                    e.to_string().lines().last().unwrap_or("")
                ))
            })?;
            HeartbeatMode::Text {
                payload: payload.clone(),
                expect,
            }
        }
    };
    Ok(Some(HeartbeatConfig {
        interval: args.heartbeat,
        timeout: args.heartbeat_timeout,
        mode,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};

    fn soak(args: &[&str]) -> Result<SoakConfig, Error> {
        let cli = Cli::try_parse_ordered_from(["wsbeat", "soak"].iter().chain(args))
            .map_err(|e| Error::usage(e.to_string()))?;
        let Command::Soak(a) = cli.command else {
            unreachable!("parsed a soak command")
        };
        lower(&a)
    }

    #[test]
    fn an_unwritable_json_file_is_refused_before_the_run() {
        use crate::error::ErrorKind;
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir").join("r.json");
        let Err(e) = soak(&["--json", missing.to_str().unwrap()]) else {
            panic!("a --json path in a missing folder was accepted");
        };
        assert_eq!(e.kind(), ErrorKind::Usage);
        assert!(
            e.message().starts_with("cannot write --json "),
            "{}",
            e.message()
        );
        let fine = dir.path().join("r.json");
        let c = soak(&["--json", fine.to_str().unwrap()]).unwrap();
        assert!(matches!(c.json, Some(JsonOut::File(ref p)) if *p == fine));
        assert!(fine.exists(), "created at config time");
        let html = missing.with_extension("html");
        let Err(e) = soak(&["--report", html.to_str().unwrap()]) else {
            panic!("a --report path in a missing folder was accepted");
        };
        assert!(
            e.message().starts_with("cannot write --report "),
            "{}",
            e.message()
        );
        let fine = dir.path().join("r.html");
        let c = soak(&["--report", fine.to_str().unwrap()]).unwrap();
        assert_eq!(c.report.as_deref(), Some(fine.as_path()));
    }

    #[test]
    fn defaults_and_idle() {
        let c = soak(&[]).unwrap();
        assert_eq!(c.run.connections, 100);
        assert_eq!(c.run.message_period, Some(Duration::from_secs(1)));
        assert!(c.reconnect.is_some());
        assert!(c.url.is_none());
        let c = soak(&["--mode", "idle"]).unwrap();
        assert_eq!(c.run.message_period, None);
        let c = soak(&["--message-rate", "0", "--no-reconnect", "--heartbeat", "0s"]).unwrap();
        assert_eq!(c.run.message_period, None);
        assert!(c.reconnect.is_none() && c.heartbeat.is_none());
    }

    #[test]
    fn the_url_shown_has_no_credentials_but_they_are_kept_for_the_handshake() {
        let c = soak(&["ws://user:s3cret@127.0.0.1:9001/p"]).unwrap();
        assert_eq!(c.url.as_deref(), Some("ws://127.0.0.1:9001/p"));
        assert_eq!(c.conn.auth, Some(("user".into(), "s3cret".into())));
    }

    #[test]
    fn rejects_what_cannot_work() {
        assert!(soak(&["--size", "10"]).is_err());
        assert!(soak(&["--size", "10", "--mode", "idle"]).is_ok());
        assert!(soak(&["--duration", "0s"]).is_err());
        assert!(soak(&["http://x/"]).is_err());
        assert!(
            soak(&["--cacert", "ca.pem"]).is_err(),
            "the embedded server is ws://"
        );
        let merge = soak(&["--merge", "a.json", "--cacert", "ca.pem"]).unwrap();
        assert_eq!(merge.merge.len(), 1, "--merge opens no connection");
        assert!(soak(&["--heartbeat-timeout", "0s"]).is_err());
        assert!(soak(&["--heartbeat-text", "x", "--heartbeat-expect", "("]).is_err());
    }

    #[test]
    fn socketio_joins_the_engine_io_resource_and_wraps_messages_as_events() {
        let c = soak(&["ws://127.0.0.1:3000/?room=1", "--socketio"]).unwrap();
        assert_eq!(
            c.conn.target.resource,
            "/socket.io/?room=1&EIO=4&transport=websocket"
        );
        let sio = c.socketio.unwrap();
        assert_eq!(sio.connect, "40");
        assert!(c.run.envelope.is_some());
        let c = soak(&[
            "ws://127.0.0.1:3000/socket.io/",
            "--namespace",
            "/chat",
            "--sio-auth",
            r#"{"token":"t"}"#,
        ])
        .unwrap();
        assert_eq!(
            c.socketio.unwrap().connect,
            r#"40/chat,{"token":"t"}"#,
            "implied by the path"
        );
        assert!(soak(&["ws://127.0.0.1:3000/", "--namespace", "/chat"]).is_err());
        assert!(
            soak(&["--socketio"]).is_err(),
            "no embedded socket.io server"
        );
        assert!(soak(&["ws://h/", "--socketio", "--namespace", "chat"]).is_err());
        assert!(soak(&["ws://h/", "--socketio", "--sio-auth", "[1]"]).is_err());
        assert!(soak(&["ws://h/", "--socketio", "--binary"]).is_err());
        assert!(soak(&["ws://h/"]).unwrap().socketio.is_none());
    }

    #[test]
    fn heartbeat_text_defaults_to_matching_its_own_echo() {
        let c = soak(&["--heartbeat-text", "hb {seq}?"]).unwrap();
        let Some(HeartbeatConfig {
            mode: HeartbeatMode::Text { expect, .. },
            ..
        }) = c.heartbeat
        else {
            panic!("text heartbeat expected")
        };
        assert!(expect.is_match("hb 12?"));
        assert!(!expect.is_match("hb x?"));
    }
}
