//! `wsbeat connect`: the scripted and the interactive client's config.

use super::{connect_options, output, use_color};
use crate::cli::ConnectArgs;
use crate::cli::connect::{BinaryFormat as BinaryFormatArg, BufferOverflow};
use crate::cli::parse::Wait;
use crate::client::heartbeat::{HeartbeatConfig, HeartbeatMode};
use crate::client::reconnect::Overflow;
use crate::client::session::SessionConfig;
use crate::client::steps::{Script, StepArg};
use crate::error::Error;
use crate::render::{BinaryFormat, OutputConfig};
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::CloseSpec;
use regex::Regex;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

pub struct ConnectConfig {
    pub conn: ConnectOptions,
    pub insecure: bool,
    /// `--send`, `--expect`, `--expect-json` in command-line order, then `--send-file`: run
    /// on every connection before stdin.
    pub script: Script,
    /// `--send-file`: streamed from disk when it is sent, never read whole (the script's last
    /// step; interactive mode sends it after the `--send` messages).
    pub send_file: Option<PathBuf>,
    pub line_kind: DataKind,
    pub fragment_size: Option<usize>,
    pub echo: bool,
    pub binary_format: BinaryFormat,
    pub ping_interval: Option<Duration>,
    pub show_control: bool,
    pub close: CloseSpec,
    /// `None`: wait until the peer closes.
    pub wait: Option<Duration>,
    pub expect_close: Option<u16>,
    pub timeout: Option<Duration>,
    pub output: OutputConfig,
    pub heartbeat: Option<HeartbeatConfig>,
    /// `None` without `--reconnect`: a lost connection ends the session.
    pub reconnect: Option<ReconnectConfig>,
    /// `--buffer`: messages kept while the connection is down.
    pub buffer: usize,
    pub overflow: Overflow,
    /// `--resend-unconfirmed`.
    pub resend_unconfirmed: bool,
    pub interactive: Option<InteractiveConfig>,
    /// Scripted with stdin on a terminal (`| jq`): nobody pipes lines, so a script that ends
    /// with an expect is done when it matches, without waiting for Ctrl-D.
    pub stdin_tty: bool,
    /// `--socketio` (or a `/socket.io/` URL): the session speaks socket.io.
    pub socketio: Option<SocketIoConfig>,
}

/// `connect --socketio`.
#[derive(Debug, Clone)]
pub struct SocketIoConfig {
    pub namespace: String,
    pub auth: Option<serde_json::Value>,
}

pub use crate::client::session::ReconnectPolicy as ReconnectConfig;

impl ConnectConfig {
    /// What the client session needs of it.
    pub fn session(&self) -> SessionConfig {
        SessionConfig {
            conn: self.conn.clone(),
            // Interactive sessions send the --send messages and the file on each connection
            // and wait for nothing; scripted ones run the steps themselves (`cmd::connect`).
            preamble: if self.interactive.is_some() {
                self.script.sends_only()
            } else {
                Vec::new()
            },
            send_file: if self.interactive.is_some() {
                self.send_file.clone()
            } else {
                None
            },
            uncompressed_preamble: if self.interactive.is_some() {
                self.script.uncompressed_only()
            } else {
                Vec::new()
            },
            fragment_size: self.fragment_size,
            heartbeat: self.heartbeat.clone(),
            reconnect: self.reconnect,
            buffer: self.buffer,
            overflow: self.overflow,
            hold_replay: self.interactive.is_none() && !self.script.is_empty(),
            resend_unconfirmed: self.resend_unconfirmed,
            expect_drop: self.expect_close == Some(crate::ws::proto::close::ABNORMAL),
        }
    }
}

/// Set when the session is interactive (a terminal on both ends, or `--interactive`).
#[derive(Debug, Clone)]
pub struct InteractiveConfig {
    pub history: Option<PathBuf>,
    pub timestamps: bool,
}

pub fn lower(args: &ConnectArgs) -> Result<ConnectConfig, Error> {
    let mut conn = connect_options(&args.url, &args.handshake, &args.tls)?;
    let socketio = socketio(args, &mut conn)?;
    let line_kind = if args.binary {
        DataKind::Binary
    } else {
        DataKind::Text
    };
    let script = Script::build(
        &step_args(args),
        line_kind,
        match args.step_timeout {
            Wait::For(d) => Some(d),
            Wait::Forever => None,
        },
    )?;
    if args.step_timeout == Wait::For(Duration::ZERO) {
        return Err(Error::usage("--step-timeout must be longer than 0"));
    }
    if let Some(path) = &args.send_file {
        // Checked now so that a missing file is a usage error before any connection; read
        // only while it is sent. A pipe is not opened twice (its writer would see EPIPE).
        let cannot = |e: std::io::Error| {
            Error::usage(format!("cannot read --send-file {}: {e}", path.display()))
        };
        if std::fs::metadata(path).map_err(cannot)?.is_file() {
            std::fs::File::open(path).map_err(cannot)?;
        }
    }
    if let Some(code) = args.expect_close
        && !(1000..=4999).contains(&code)
    {
        return Err(Error::usage(format!(
            "--expect-close {code} is not a close code; use 1000-4999"
        )));
    }
    if args.ping_interval.is_some_and(|d| d.is_zero()) {
        return Err(Error::usage("--ping-interval must be longer than 0"));
    }
    let heartbeat = heartbeat(args)?;
    // A dumb terminal (emacs shell-mode, some CI consoles) cannot move the cursor: the line
    // editor would print garbage there, so it takes --interactive to ask for it.
    let interactive = if args.interactive
        || (!args.no_interactive
            && !args.output.json
            && std::io::stdin().is_terminal()
            && std::io::stdout().is_terminal()
            && std::env::var("TERM").map_or(true, |t| t != "dumb"))
    {
        Some(InteractiveConfig {
            history: args.history.clone(),
            timestamps: args.timestamps,
        })
    } else {
        None
    };
    let mut output = output(&args.output);
    if interactive.is_some() {
        // The interactive session writes everything to stdout, so that is the tty that counts.
        output.color = use_color(args.output.color, std::io::stdout().is_terminal());
    }
    Ok(ConnectConfig {
        conn,
        insecure: args.tls.insecure,
        script,
        send_file: args.send_file.clone(),
        line_kind,
        fragment_size: args.fragment_size,
        echo: args.echo,
        binary_format: match args.binary_format {
            BinaryFormatArg::Hex => BinaryFormat::Hex,
            BinaryFormatArg::Base64 => BinaryFormat::Base64,
            BinaryFormatArg::Raw => BinaryFormat::Raw,
        },
        ping_interval: args.ping_interval,
        show_control: args.show_control,
        close: args.close.clone(),
        wait: match args.wait {
            Wait::For(d) => Some(d),
            Wait::Forever => None,
        },
        expect_close: args.expect_close,
        timeout: args.timeout,
        output,
        heartbeat,
        reconnect: args.reconnect.then_some(ReconnectConfig {
            backoff: args.backoff,
            max_attempts: args.max_reconnects,
        }),
        buffer: args.buffer,
        overflow: match args.buffer_overflow {
            BufferOverflow::DropOldest => Overflow::DropOldest,
            BufferOverflow::DropNewest => Overflow::DropNewest,
        },
        resend_unconfirmed: args.resend_unconfirmed,
        interactive,
        stdin_tty: std::io::stdin().is_terminal(),
        socketio,
    })
}

/// `--socketio`, or a URL that implies it: the Engine.IO resource, the namespace, the auth.
fn socketio(
    args: &ConnectArgs,
    conn: &mut ConnectOptions,
) -> Result<Option<SocketIoConfig>, Error> {
    use crate::sio::url;
    let emits = !args.emit.is_empty() || !args.emit_ack.is_empty();
    if !args.socketio && !url::implies_socketio(&conn.target.resource) {
        if emits || args.sio_auth.is_some() || args.namespace != "/" {
            return Err(Error::usage(
                "--emit, --emit-ack, --namespace and --sio-auth need --socketio (or a URL ending in /socket.io/)",
            ));
        }
        return Ok(None);
    }
    conn.target.resource = url::websocket_resource(&conn.target.resource);
    let auth = match &args.sio_auth {
        None => None,
        Some(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(v @ serde_json::Value::Object(_)) => Some(v),
            Ok(_) => return Err(Error::usage("--sio-auth must be a JSON object")),
            Err(e) => return Err(Error::usage(format!("--sio-auth is not JSON: {e}"))),
        },
    };
    if args.send_file.is_some() || !args.send_uncompressed.is_empty() {
        return Err(Error::usage(
            "--send-file and --send-uncompressed are plain WebSocket steps; with --socketio use --emit or --send",
        ));
    }
    if args.echo {
        return Err(Error::usage(
            "--echo sends messages back as they came; with --socketio there are events instead, so it does not apply",
        ));
    }
    Ok(Some(SocketIoConfig {
        namespace: args.namespace.clone(),
        auth,
    }))
}

fn step_args(args: &ConnectArgs) -> Vec<StepArg> {
    let mut steps = step_args_plain(args);
    if args.steps.is_empty() {
        // Without the command-line order: the emits after the other steps.
        for (pairs, ack) in [(&args.emit, false), (&args.emit_ack, true)] {
            for pair in pairs.chunks(2) {
                if let [event, json] = pair {
                    steps.push(StepArg::Emit {
                        event: event.clone(),
                        json: json.clone(),
                        ack,
                    });
                }
            }
        }
    }
    steps
}

fn step_args_plain(args: &ConnectArgs) -> Vec<StepArg> {
    super::step_args(
        &args.steps,
        &args.send,
        &args.send_uncompressed,
        args.send_file.as_ref(),
        &args.expect,
        &args.expect_json,
    )
}

fn heartbeat(args: &ConnectArgs) -> Result<Option<HeartbeatConfig>, Error> {
    let Some(interval) = args.heartbeat else {
        return Ok(None);
    };
    let timeout = args.heartbeat_timeout.unwrap_or(interval);
    if interval.is_zero() || timeout.is_zero() {
        return Err(Error::usage(
            "--heartbeat and --heartbeat-timeout must be longer than 0",
        ));
    }
    let mode = match (&args.heartbeat_text, &args.heartbeat_expect) {
        (Some(payload), Some(expect)) => HeartbeatMode::Text {
            payload: payload.clone(),
            expect: Regex::new(expect).map_err(|e| {
                Error::usage(format!(
                    "--heartbeat-expect '{expect}' is not a valid regular expression: {}",
                    e.to_string().lines().last().unwrap_or("")
                ))
            })?,
        },
        (None, None) => HeartbeatMode::Ping,
        _ => {
            return Err(Error::usage(
                "--heartbeat-text and --heartbeat-expect go together",
            ));
        }
    };
    Ok(Some(HeartbeatConfig {
        interval,
        timeout,
        mode,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};

    fn connect(args: &[&str]) -> Result<ConnectConfig, Error> {
        let cli = Cli::try_parse_ordered_from(
            ["wsbeat", "connect", "--no-interactive"].iter().chain(args),
        )
        .map_err(|e| Error::usage(e.to_string()))?;
        let Command::Connect(a) = cli.command else {
            unreachable!("parsed a connect command")
        };
        lower(&a)
    }

    #[test]
    fn socketio_builds_the_engine_io_url_and_orders_emits_with_the_steps() {
        let c = connect(&[
            "ws://h/app?token=1",
            "--socketio",
            "--send",
            "raw",
            "--emit",
            "join",
            r#"["room"]"#,
            "--expect",
            "joined",
            "--emit-ack",
            "ping",
            "1",
            "--namespace",
            "/chat",
            "--sio-auth",
            r#"{"t":"x"}"#,
        ])
        .unwrap();
        assert_eq!(
            c.conn.target.resource,
            "/socket.io/?token=1&EIO=4&transport=websocket"
        );
        let sio = c.socketio.unwrap();
        assert_eq!(sio.namespace, "/chat");
        assert_eq!(sio.auth, Some(serde_json::json!({"t": "x"})));
        let labels: Vec<&str> = c.script.steps.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                r#"--send "raw""#,
                r#"--emit "join" "[\"room\"]""#,
                r#"--expect "joined""#,
                r#"--emit-ack "ping" "1""#
            ]
        );
        // The Engine.IO path implies --socketio.
        let c = connect(&["ws://h/socket.io/"]).unwrap();
        assert!(c.socketio.is_some());
        assert!(connect(&["ws://h/"]).unwrap().socketio.is_none());
    }

    #[test]
    fn socketio_mistakes_are_usage_errors() {
        for args in [
            &["ws://h/", "--emit", "a", "1"][..],
            &["ws://h/", "--namespace", "/x"],
            &["ws://h/", "--socketio", "--sio-auth", "[1]"],
            &["ws://h/", "--socketio", "--sio-auth", "{"],
            &["ws://h/", "--socketio", "--emit", "", "1"],
            &["ws://h/", "--socketio", "--emit", "a", "{oops"],
            &["ws://h/", "--socketio", "--echo"],
        ] {
            let e = connect(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} lowered"));
            assert_eq!(e.kind(), crate::error::ErrorKind::Usage, "{args:?}: {e}");
        }
    }

    #[test]
    fn lowers_the_script() {
        let c = connect(&["--send", "a", "--binary", "--wait", "forever", "ws://h/"]).unwrap();
        assert_eq!(c.script.steps.len(), 1);
        assert_eq!(c.line_kind, DataKind::Binary);
        assert_eq!(c.wait, None);
        assert!(c.interactive.is_none());
        let c = connect(&["--binary-format", "base64", "ws://h/"]).unwrap();
        assert_eq!(c.binary_format, BinaryFormat::Base64);
        let c = connect(&["--heartbeat", "2s", "ws://h/"]).unwrap();
        let hb = c.heartbeat.unwrap();
        assert_eq!(
            hb.timeout, hb.interval,
            "the timeout defaults to the interval"
        );
    }

    #[test]
    fn steps_keep_command_line_order() {
        let c = connect(&[
            "--send",
            "a",
            "--expect",
            "x",
            "--send",
            "b",
            "--expect-json",
            "/t",
            "ws://h/",
        ])
        .unwrap();
        let labels: Vec<&str> = c.script.steps.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                r#"--send "a""#,
                r#"--expect "x""#,
                r#"--send "b""#,
                r#"--expect-json "/t""#
            ]
        );
    }

    #[test]
    fn rejects_what_cannot_work() {
        assert!(connect(&["--expect", "(", "ws://h/"]).is_err());
        assert!(connect(&["--expect-json", ".type", "ws://h/"]).is_err());
        assert!(connect(&["--step-timeout", "0s", "ws://h/"]).is_err());
        assert!(connect(&["--expect-close", "999", "ws://h/"]).is_err());
        assert!(connect(&["--ping-interval", "0s", "ws://h/"]).is_err());
        assert!(connect(&["--send-file", "/nonexistent/wsbeat", "ws://h/"]).is_err());
        assert!(connect(&["--cacert", "ca.pem", "ws://h/"]).is_err());
    }
}
