//! `wsbeat ping`: what a probe is, when the run ends, and the thresholds that decide its exit.

use super::{connect_options, output};
use crate::cli::ping::PingArgs;
use crate::error::Error;
use crate::render::OutputConfig;
use crate::render::ping::ProbeMode;
use crate::ws::handshake::client::ConnectOptions;
use regex::Regex;
use std::time::Duration;

pub struct PingConfig {
    pub conn: ConnectOptions,
    pub insecure: bool,
    pub probe: Probe,
    pub count: Option<u64>,
    pub interval: Duration,
    pub timeout: Duration,
    pub deadline: Option<Duration>,
    pub thresholds: Thresholds,
    pub quiet: bool,
    pub output: OutputConfig,
    /// `--report FILE`: the HTML page, checked writable before the run.
    pub report: Option<std::path::PathBuf>,
}

pub enum Probe {
    Frame {
        size: usize,
    },
    Text {
        template: String,
        /// The template carries `{seq}`: replies that echo it are matched by number.
        has_seq: bool,
        /// `None`: every data message is a reply.
        expect: Option<Regex>,
    },
    Connect,
    /// socket.io: emit `event` with the sequence number, the ack is the reply.
    SocketIo {
        event: String,
        namespace: String,
        auth: Option<serde_json::Value>,
    },
    /// Engine.IO: the interval between the server's pings, nothing sent but pongs.
    EngineIo {
        namespace: String,
        auth: Option<serde_json::Value>,
    },
}

impl Probe {
    pub fn mode(&self) -> ProbeMode {
        match self {
            Probe::Frame { .. } => ProbeMode::Frame,
            Probe::Text { .. } => ProbeMode::Text,
            Probe::Connect => ProbeMode::Connect,
            Probe::SocketIo { .. } => ProbeMode::SocketIo,
            Probe::EngineIo { .. } => ProbeMode::EngineIo,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Thresholds {
    pub max_loss: Option<f64>,
    /// Checked against p99.
    pub max_rtt: Option<Duration>,
    /// Checked against every probe (the maximum).
    pub max_rtt_each: Option<Duration>,
    pub min_replies: Option<u64>,
}

/// Lower the arguments into a config; nothing touches the network yet.
pub fn lower(args: &PingArgs) -> Result<PingConfig, Error> {
    let mut conn = connect_options(&args.url, &args.handshake, &args.tls)?;
    if args.expect.is_some() && args.text.is_none() {
        return Err(Error::usage(
            "--expect matches replies to --text probes; add --text PAYLOAD",
        ));
    }
    if args.timeout.is_zero() {
        return Err(Error::usage("-W/--timeout must be longer than 0"));
    }
    let sio = args.socketio
        || args.engineio
        || crate::sio::url::implies_socketio(&conn.target.resource) && !args.connect_only;
    let probe = if sio {
        conn.target.resource = crate::sio::url::websocket_resource(&conn.target.resource);
        let auth = match &args.sio_auth {
            None => None,
            Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
                Ok(v @ serde_json::Value::Object(_)) => Some(v),
                Ok(_) => return Err(Error::usage("--sio-auth must be a JSON object")),
                Err(e) => return Err(Error::usage(format!("--sio-auth is not JSON: {e}"))),
            },
        };
        if args.event.is_empty() {
            return Err(Error::usage("--event must not be empty"));
        }
        let namespace = args.namespace.clone();
        if args.engineio {
            Probe::EngineIo { namespace, auth }
        } else {
            Probe::SocketIo {
                event: args.event.clone(),
                namespace,
                auth,
            }
        }
    } else if args.sio_auth.is_some() || args.namespace != "/" || args.event != "ping" {
        return Err(Error::usage(
            "--event, --namespace and --sio-auth need --socketio (or a URL ending in /socket.io/)",
        ));
    } else if args.connect_only {
        // A probe that takes longer than -W is lost, whatever --connect-timeout says.
        conn.connect_timeout = conn.connect_timeout.min(args.timeout);
        Probe::Connect
    } else if let Some(template) = &args.text {
        let expect = args
            .expect
            .as_deref()
            .map(|p| {
                Regex::new(p).map_err(|e| {
                    Error::usage(format!(
                        "--expect '{p}' is not a valid regular expression: {}",
                        e.to_string().lines().last().unwrap_or("")
                    ))
                })
            })
            .transpose()?;
        Probe::Text {
            template: template.clone(),
            has_seq: template.contains("{seq}"),
            expect,
        }
    } else {
        Probe::Frame { size: args.size }
    };
    let count = args.count.map(|c| c as u64);
    let report = args
        .report
        .as_deref()
        .map(|path| super::soak::writable("--report", path))
        .transpose()?;
    Ok(PingConfig {
        report,
        conn,
        insecure: args.tls.insecure,
        probe,
        count,
        interval: args.interval,
        timeout: args.timeout,
        deadline: args.deadline,
        thresholds: Thresholds {
            // With -c the run has an end, so any loss is a failure unless allowed.
            max_loss: args.max_loss.or(count.map(|_| 0.0)),
            max_rtt: args.max_rtt,
            max_rtt_each: args.max_rtt_each,
            min_replies: args.min_replies,
        },
        quiet: args.quiet,
        output: output(&args.output),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn ping(args: &[&str]) -> Result<PingConfig, Error> {
        let cli = Cli::try_parse_from(["wsbeat", "ping"].iter().chain(args))
            .map_err(|e| Error::usage(e.to_string()))?;
        let Command::Ping(a) = cli.command else {
            unreachable!("parsed a ping command")
        };
        lower(&a)
    }

    #[test]
    fn socketio_probes() {
        let c = ping(&["--socketio", "--event", "echo", "ws://h/?k=v"]).unwrap();
        assert_eq!(
            c.conn.target.resource,
            "/socket.io/?k=v&EIO=4&transport=websocket"
        );
        assert!(matches!(&c.probe, Probe::SocketIo { event, .. } if event == "echo"));
        let c = ping(&["ws://h/socket.io/"]).unwrap();
        assert!(matches!(&c.probe, Probe::SocketIo { event, .. } if event == "ping"));
        let c = ping(&["--engineio", "--namespace", "/x", "ws://h/"]).unwrap();
        assert!(matches!(&c.probe, Probe::EngineIo { namespace, .. } if namespace == "/x"));
        for args in [
            &["--event", "x", "ws://h/"][..],
            &["--socketio", "--sio-auth", "1", "ws://h/"],
            &["--socketio", "--text", "x", "ws://h/"],
        ] {
            assert!(ping(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn a_count_makes_any_loss_a_failure() {
        let c = ping(&["-c", "3", "ws://h/"]).unwrap();
        assert_eq!(c.thresholds.max_loss, Some(0.0));
        let c = ping(&["ws://h/"]).unwrap();
        assert_eq!(c.thresholds.max_loss, None);
        let c = ping(&["-c", "3", "--max-loss", "50", "ws://h/"]).unwrap();
        assert_eq!(c.thresholds.max_loss, Some(50.0));
    }

    #[test]
    fn connect_only_probes_time_out_with_w() {
        let c = ping(&["--connect-only", "-W", "300ms", "ws://h/"]).unwrap();
        assert!(matches!(c.probe, Probe::Connect));
        assert_eq!(c.conn.connect_timeout, Duration::from_millis(300));
    }

    #[test]
    fn rejects_what_cannot_work() {
        assert!(ping(&["--expect", "x", "ws://h/"]).is_err());
        assert!(ping(&["--text", "p", "--expect", "(", "ws://h/"]).is_err());
        assert!(ping(&["-W", "0s", "ws://h/"]).is_err());
        assert!(ping(&["http://h/"]).is_err());
    }
}
