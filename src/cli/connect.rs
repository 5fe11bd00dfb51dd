use super::{HandshakeArgs, OutputArgs, TlsArgs, parse};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BinaryFormat {
    /// Offset, hex bytes and printable characters, like `xxd`
    Hex,
    /// One base64 line per message
    Base64,
    /// The bytes as they are
    Raw,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// ws:// or wss:// URL, e.g. ws://127.0.0.1:9001/ or wss://[::1]/chat
    pub url: String,

    #[command(flatten)]
    pub handshake: HandshakeArgs,
    #[command(flatten)]
    pub tls: TlsArgs,

    /// A step: send this message ({seq} and {NAME} captured earlier are substituted); steps run
    /// in command-line order with --expect/--expect-json, before stdin (repeatable)
    #[arg(long = "send", value_name = "MSG", help_heading = "Sending")]
    pub send: Vec<String>,
    /// Send this message uncompressed (RSV1 clear) on a compressed connection, after --send and
    /// --send-file (repeatable): servers must accept it (RFC 7692 6)
    #[arg(
        long = "send-uncompressed",
        value_name = "MSG",
        help_heading = "Sending"
    )]
    pub send_uncompressed: Vec<String>,
    /// Send --send messages and stdin lines as binary messages instead of text
    #[arg(long, help_heading = "Sending")]
    pub binary: bool,
    /// Send this file as one binary message (after --send, before stdin)
    #[arg(long, value_name = "PATH", help_heading = "Sending")]
    pub send_file: Option<PathBuf>,
    /// Split every outgoing message into frames of N payload bytes (continuation frames)
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Sending")]
    pub fragment_size: Option<usize>,
    /// Send every received data message back with its type kept
    #[arg(long, help_heading = "Sending")]
    pub echo: bool,

    /// How to show received binary messages
    #[arg(
        long,
        value_name = "FORMAT",
        default_value = "hex",
        help_heading = "Receiving"
    )]
    pub binary_format: BinaryFormat,
    /// Send a numbered Ping frame this often and print each pong's round trip
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Receiving")]
    pub ping_interval: Option<Duration>,
    /// Show received pings and pongs
    #[arg(short = 'P', long, help_heading = "Receiving")]
    pub show_control: bool,

    /// Close frame to send at the end: CODE[:REASON]
    #[arg(long, value_name = "CODE[:REASON]", default_value = "1000", value_parser = parse::close_spec, help_heading = "Scripting")]
    pub close: crate::ws::proto::close::CloseSpec,
    /// After the last input, wait this long for replies before closing ('forever': until the peer closes)
    #[arg(long, value_name = "DUR|forever", default_value = "1s", value_parser = parse::wait, help_heading = "Scripting")]
    pub wait: parse::Wait,
    /// A step: wait for a message matching this regular expression ((?P<NAME>...) captures
    /// {NAME}); other messages are shown and skipped (repeatable)
    #[arg(long, value_name = "REGEX", help_heading = "Scripting")]
    pub expect: Vec<String>,
    /// A step: wait for a JSON message where POINTER (RFC 6901) exists, =TEXT, ==JSON or
    /// =>NAME (captures {NAME}), e.g. '/type=welcome' (repeatable)
    #[arg(long, value_name = "POINTER[OP]", help_heading = "Scripting")]
    pub expect_json: Vec<String>,
    /// How long each expect step may wait before the run fails (exit 1) ('forever': bounded
    /// only by --timeout)
    #[arg(long, value_name = "DUR|forever", default_value = "10s", value_parser = parse::wait, help_heading = "Scripting")]
    pub step_timeout: parse::Wait,
    /// --send, --expect and --expect-json in command-line order (filled from the argument
    /// indices by `Cli::parse_ordered`; without it, sends come before expects)
    #[arg(skip)]
    pub steps: Vec<(super::StepOpt, String)>,
    /// Speak socket.io (Engine.IO v4 over WebSocket, socket.io v5): answer pings, join
    /// --namespace; implied by a URL path ending in /socket.io/
    #[arg(long, help_heading = "socket.io")]
    pub socketio: bool,
    /// The socket.io namespace to join
    #[arg(
        long,
        value_name = "NS",
        default_value = "/",
        help_heading = "socket.io"
    )]
    pub namespace: String,
    /// The auth payload sent with the namespace CONNECT (a JSON object)
    #[arg(long, value_name = "JSON", help_heading = "socket.io")]
    pub sio_auth: Option<String>,
    /// A step: emit EVENT with JSON (an array is the argument list, anything else one
    /// argument; {NAME} captures substituted) (repeatable)
    #[arg(long, num_args = 2, value_names = ["EVENT", "JSON"], help_heading = "socket.io")]
    pub emit: Vec<String>,
    /// A step: emit EVENT with JSON and wait for its ack (--step-timeout), showing its round trip
    #[arg(long, num_args = 2, value_names = ["EVENT", "JSON"], help_heading = "socket.io")]
    pub emit_ack: Vec<String>,
    /// The peer must close with this code
    #[arg(long, value_name = "CODE", value_parser = parse::close_code, help_heading = "Scripting")]
    pub expect_close: Option<u16>,
    /// Overall limit for the whole session
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Scripting")]
    pub timeout: Option<Duration>,

    /// Send a Ping frame when nothing was received for DUR; no answer in time ends the connection
    /// (exit 6), or reconnects with --reconnect
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Staying connected")]
    pub heartbeat: Option<Duration>,
    /// How long a heartbeat may go unanswered before the peer is declared dead [default: the interval]
    #[arg(long, value_name = "DUR", value_parser = parse::duration, requires = "heartbeat", help_heading = "Staying connected")]
    pub heartbeat_timeout: Option<Duration>,
    /// Heartbeat with this text message instead of Ping frames ({seq} is replaced by a number)
    #[arg(long, value_name = "TEXT", requires_all = ["heartbeat", "heartbeat_expect"], help_heading = "Staying connected")]
    pub heartbeat_text: Option<String>,
    /// Regular expression a text reply to --heartbeat-text must match
    #[arg(
        long,
        value_name = "REGEX",
        requires = "heartbeat_text",
        help_heading = "Staying connected"
    )]
    pub heartbeat_expect: Option<String>,
    /// Reconnect when the connection is lost (backoff with jitter); the steps run again
    #[arg(long, help_heading = "Staying connected")]
    pub reconnect: bool,
    /// Wait between reconnect attempts: MIN..MAX, doubling from MIN
    #[arg(
        long,
        value_name = "MIN..MAX",
        default_value = "1s..30s",
        help_heading = "Staying connected"
    )]
    pub backoff: crate::client::reconnect::Backoff,
    /// Attempts after one loss before giving up (exit 6)
    #[arg(
        long,
        value_name = "N",
        default_value_t = 3,
        help_heading = "Staying connected"
    )]
    pub max_reconnects: u32,
    /// Messages kept while the connection is down, sent in order after reconnecting
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100,
        help_heading = "Staying connected"
    )]
    pub buffer: usize,
    /// Which message to drop when the buffer is full (every drop is reported)
    #[arg(
        long,
        value_name = "WHICH",
        default_value = "drop-oldest",
        help_heading = "Staying connected"
    )]
    pub buffer_overflow: BufferOverflow,
    /// After a reconnect, send again the messages the lost connection may not have
    /// delivered (its TCP never acknowledged them), in order, before the buffered ones;
    /// the peer may see them twice
    #[arg(long, requires = "reconnect", help_heading = "Staying connected")]
    pub resend_unconfirmed: bool,

    /// Interactive session with a line editor (default when stdin and stdout are terminals)
    #[arg(long, overrides_with = "no_interactive", help_heading = "Interactive")]
    pub interactive: bool,
    /// Scripted session even on a terminal
    #[arg(long, overrides_with = "interactive", help_heading = "Interactive")]
    pub no_interactive: bool,
    /// Keep the interactive history in this file (read at start, appended as you go)
    #[arg(long, value_name = "FILE", help_heading = "Interactive")]
    pub history: Option<PathBuf>,
    /// Prefix every interactive line with the seconds since the session started
    #[arg(long, help_heading = "Interactive")]
    pub timestamps: bool,

    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BufferOverflow {
    /// Drop the oldest buffered message to make room
    DropOldest,
    /// Drop the message that does not fit
    DropNewest,
}
