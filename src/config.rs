//! Lower parsed arguments into validated configs before any I/O: files are read, URLs parsed,
//! colour decided and bad combinations rejected here, so commands only run.

use crate::cli::connect::{BinaryFormat, BufferOverflow};
use crate::cli::parse::Wait;
use crate::cli::{ColorChoice, ConnectArgs, HandshakeArgs, OutputArgs, TlsArgs};
use crate::client::heartbeat::{HeartbeatConfig, HeartbeatMode};
use crate::client::reconnect::{Backoff, Overflow};
use crate::error::Error;
use crate::net::target::Target;
use crate::net::tls::{self, TlsOptions};
use crate::ws::handshake::client::ConnectOptions;
use crate::ws::proto::DataKind;
use crate::ws::proto::close::CloseSpec;
use bytes::Bytes;
use regex::Regex;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub json: bool,
    pub color: bool,
    pub verbose: bool,
}

pub struct ConnectConfig {
    pub conn: ConnectOptions,
    pub insecure: bool,
    /// `--send` messages and `--send-file`, in order, sent before stdin.
    pub preamble: Vec<(DataKind, Bytes)>,
    pub line_kind: DataKind,
    pub fragment_size: Option<usize>,
    pub echo: bool,
    pub binary_format: BinaryFormat,
    pub ping_interval: Option<Duration>,
    pub show_control: bool,
    pub close: CloseSpec,
    /// `None`: wait until the peer closes.
    pub wait: Option<Duration>,
    pub expect: Vec<Regex>,
    pub expect_close: Option<u16>,
    pub timeout: Option<Duration>,
    pub output: OutputConfig,
    pub heartbeat: Option<HeartbeatConfig>,
    /// `None` without `--reconnect`: a lost connection ends the session.
    pub reconnect: Option<ReconnectConfig>,
    /// `--buffer`: messages kept while the connection is down.
    pub buffer: usize,
    pub overflow: Overflow,
    pub interactive: Option<InteractiveConfig>,
}

#[derive(Debug, Clone, Copy)]
pub struct ReconnectConfig {
    pub backoff: Backoff,
    pub max_attempts: u32,
}

/// Set when the session is interactive (a terminal on both ends, or `--interactive`).
#[derive(Debug, Clone)]
pub struct InteractiveConfig {
    pub history: Option<PathBuf>,
    pub timestamps: bool,
}

pub fn output(args: &OutputArgs) -> OutputConfig {
    OutputConfig {
        json: args.json,
        color: use_color(args.color, std::io::stderr().is_terminal()),
        verbose: args.verbose,
    }
}

/// One place decides colour: the flag, then NO_COLOR, then TERM=dumb, then whether it is a tty.
pub fn use_color(choice: ColorChoice, is_tty: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            is_tty
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::env::var("TERM").map_or(true, |t| t != "dumb")
        }
    }
}

pub fn connect_options(
    url: &str,
    handshake: &HandshakeArgs,
    tls_args: &TlsArgs,
) -> Result<ConnectOptions, Error> {
    let target: Target = url.parse()?;
    if !target.secure && (tls_args.cacert.is_some() || tls_args.cert.is_some()) {
        return Err(Error::usage(format!(
            "--cacert/--cert apply to wss:// only; {} is plain ws://",
            target.url()
        )));
    }
    let tls = if target.secure {
        Some(tls::client_config(&TlsOptions {
            cacert: tls_args.cacert.clone(),
            cert: tls_args.cert.clone(),
            key: tls_args.key.clone(),
            insecure: tls_args.insecure,
        })?)
    } else {
        None
    };
    let auth = handshake.auth.clone().or_else(|| target.userinfo.clone());
    Ok(ConnectOptions {
        target,
        headers: handshake.headers.clone(),
        origin: handshake.origin.clone(),
        subprotocols: handshake.subprotocols.clone(),
        auth,
        connect_timeout: handshake.connect_timeout,
        tls,
        max_message_size: handshake.max_message_size,
        source: None,
    })
}

pub fn connect(args: &ConnectArgs) -> Result<ConnectConfig, Error> {
    let conn = connect_options(&args.url, &args.handshake, &args.tls)?;
    let line_kind = if args.binary {
        DataKind::Binary
    } else {
        DataKind::Text
    };
    let mut preamble: Vec<(DataKind, Bytes)> = args
        .send
        .iter()
        .map(|m| (line_kind, Bytes::from(m.clone())))
        .collect();
    if let Some(path) = &args.send_file {
        let data = std::fs::read(path).map_err(|e| {
            Error::usage(format!("cannot read --send-file {}: {e}", path.display()))
        })?;
        preamble.push((DataKind::Binary, Bytes::from(data)));
    }
    let expect = args
        .expect
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|e| {
                Error::usage(format!(
                    "--expect '{p}' is not a valid regular expression: {}",
                    e.to_string().lines().last().unwrap_or("")
                ))
            })
        })
        .collect::<Result<_, _>>()?;
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
        preamble,
        line_kind,
        fragment_size: args.fragment_size,
        echo: args.echo,
        binary_format: args.binary_format,
        ping_interval: args.ping_interval,
        show_control: args.show_control,
        close: args.close.clone(),
        wait: match args.wait {
            Wait::For(d) => Some(d),
            Wait::Forever => None,
        },
        expect,
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
        interactive,
    })
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
