//! The command line, as clap definitions only. Flags shared by several subcommands live in
//! `HandshakeArgs`, `TlsArgs` and `OutputArgs` and are flattened in, so they read the same
//! everywhere. Values are checked here; combinations are checked in `config`.

pub mod connect;
pub mod echo_server;
pub mod parse;
pub mod ping;
pub mod soak;

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::time::Duration;

pub use connect::ConnectArgs;

#[derive(Debug, Parser)]
#[command(
    name = "wsbeat",
    version,
    about = "WebSocket testing for the terminal and CI: connect, echo-server, ping, soak",
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a WebSocket and talk to it: stdin lines out, messages to stdout
    Connect(ConnectArgs),
    /// A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults
    EchoServer(echo_server::EchoServerArgs),
    /// ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds
    // `-s` is ping's --size here, so --subprotocol keeps only its long form.
    #[command(mut_arg("subprotocols", |a| a.short(None)))]
    Ping(ping::PingArgs),
    /// Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view
    Soak(soak::SoakArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
}

/// The HTTP upgrade: what we ask the server for.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Handshake")]
pub struct HandshakeArgs {
    /// Extra request header, curl style (repeatable)
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE", value_parser = parse::header)]
    pub headers: Vec<(String, String)>,
    /// Origin header to send
    #[arg(long, value_name = "ORIGIN")]
    pub origin: Option<String>,
    /// Offer this subprotocol (repeatable, in order of preference); the chosen one is reported
    #[arg(short = 's', long = "subprotocol", value_name = "NAME", value_parser = parse::subprotocol)]
    pub subprotocols: Vec<String>,
    /// HTTP Basic credentials; never printed
    #[arg(long, value_name = "USER:PASS", value_parser = parse::credentials, hide_env_values = true)]
    pub auth: Option<(String, String)>,
    /// Give up opening the connection (DNS, TCP, TLS, upgrade) after this long
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse::duration)]
    pub connect_timeout: Duration,
    /// Largest message accepted from the peer (e.g. 64MiB); a larger one closes with 1009
    /// (a compressed one as soon as it inflates past it)
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse::size)]
    pub max_message_size: usize,
    /// Offer permessage-deflate (RFC 7692), optionally with parameters, e.g.
    /// 'client_max_window_bits=10; server_no_context_takeover'; repeat to offer alternatives
    /// in order of preference
    #[arg(long = "compress", value_name = "PARAMS", num_args = 0..=1, default_missing_value = "", value_parser = parse::deflate_offer)]
    pub compress: Vec<crate::ws::ext::Offer>,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "TLS")]
pub struct TlsArgs {
    /// Trust the CA certificate(s) in this PEM file instead of the bundled roots
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate (PEM), with --key
    #[arg(long, value_name = "FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// Private key for --cert (PEM)
    #[arg(long, value_name = "FILE", requires = "cert")]
    pub key: Option<PathBuf>,
    /// Do not verify the server's certificate (prints a warning)
    #[arg(short = 'k', long)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Print one JSON event per line on stdout (NDJSON; schema in the README)
    #[arg(long)]
    pub json: bool,
    /// When to use colour (NO_COLOR and TERM=dumb also turn it off)
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    pub color: ColorChoice,
    /// Say more: sent messages, response headers
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to generate for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
