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

impl Cli {
    /// Parse, keeping the command-line order of the steps (`--send`, `--expect`,
    /// `--expect-json`), which derive's fields lose.
    pub fn try_parse_ordered_from<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut matches = Cli::command().try_get_matches_from(args)?;
        // Read before `from_arg_matches_mut` takes the values out (taking them spares a copy
        // of every match, which `from_arg_matches` makes).
        let steps = match matches.subcommand() {
            Some(("connect", m)) => steps_in_order(m, true),
            Some(("soak", m)) => steps_in_order(m, false),
            _ => Vec::new(),
        };
        let mut cli = Cli::from_arg_matches_mut(&mut matches)?;
        match &mut cli.command {
            Command::Connect(args) => args.steps = steps,
            Command::Soak(args) => args.steps = steps,
            _ => {}
        }
        Ok(cli)
    }
}

/// Which step option a value came from (`Cli::try_parse_ordered_from`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOpt {
    Send,
    Expect,
    ExpectJson,
    /// `--send-file`, whose place among the steps is all it carries (its value is a path).
    SendFile,
    SendUncompressed,
    /// `--emit EVENT JSON` (socket.io): the value is the JSON array `[EVENT, JSON]`.
    Emit,
    /// `--emit-ack EVENT JSON`: as `Emit`, then wait for the ack.
    EmitAck,
}

/// The step options of one subcommand, sorted by where they stood on the command line.
/// `connect`: also `--send-uncompressed` and `--send-file`, which soak does not have.
fn steps_in_order(m: &clap::ArgMatches, connect: bool) -> Vec<(StepOpt, String)> {
    let mut steps: Vec<(usize, StepOpt, String)> = Vec::new();
    let mut ids = vec![
        ("send", StepOpt::Send),
        ("expect", StepOpt::Expect),
        ("expect_json", StepOpt::ExpectJson),
    ];
    if connect {
        ids.push(("send_uncompressed", StepOpt::SendUncompressed));
    }
    for (id, opt) in ids {
        if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
            steps.extend(idx.zip(vals).map(|(i, v)| (i, opt, v.clone())));
        }
    }
    if connect {
        // Two values per occurrence: the event and its JSON, kept together as one step.
        for (id, opt) in [("emit", StepOpt::Emit), ("emit_ack", StepOpt::EmitAck)] {
            if let (Some(idx), Some(vals)) = (m.indices_of(id), m.get_many::<String>(id)) {
                let idx: Vec<usize> = idx.collect();
                let vals: Vec<&String> = vals.collect();
                for (i, pair) in idx.chunks(2).zip(vals.chunks(2)) {
                    if let [event, json] = pair {
                        let v = serde_json::to_string(&[event, json]).unwrap_or_default();
                        steps.push((i[0], opt, v));
                    }
                }
            }
        }
    }
    if let Some(i) = connect.then(|| m.index_of("send_file")).flatten() {
        steps.push((i, StepOpt::SendFile, String::new()));
    }
    steps.sort_by_key(|(i, ..)| *i);
    steps.into_iter().map(|(_, o, v)| (o, v)).collect()
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open a WebSocket and talk to it: stdin lines out, messages to stdout
    Connect(Deferred<ConnectArgs>),
    /// A local echo server: RFC 6455 to the letter, heartbeat, broadcast, TLS, limits, faults
    EchoServer(Deferred<echo_server::EchoServerArgs>),
    /// ping(8) for WebSockets: numbered Ping frames (or text heartbeats, or whole handshakes), loss, RTT, CI thresholds
    Ping(Deferred<ping::PingArgs>),
    /// Hold many connections for a long time: heartbeats, reconnects, loss accounting, live view
    Soak(Deferred<soak::SoakArgs>),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Write the man pages (wsbeat.1 and one per subcommand) into DIR, e.g. ~/.local/share/man/man1
    Man(ManArgs),
}

/// A subcommand's arguments, defined only when clap needs them: when that subcommand is the one
/// parsed, or for help, completions and man pages, which build the whole tree. Defining every
/// subcommand's few hundred arguments to parse one was a third of a one-shot run's instructions
/// (`bench/README.md`, "Where start-up goes"). clap's `Command::defer` does the delaying; this
/// wrapper is how a derived subcommand asks for it.
#[derive(Debug)]
pub struct Deferred<T>(pub T);

impl<T> std::ops::Deref for Deferred<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for Deferred<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Args> Args for Deferred<T> {
    fn group_id() -> Option<clap::Id> {
        T::group_id()
    }
    fn augment_args(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args))
    }
    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        cmd.defer(|cmd| keeping_about(cmd, T::augment_args_for_update))
    }
}

/// Adds the arguments, keeping the subcommand's own description. A flattened struct's doc
/// comment becomes the command's about (`HandshakeArgs`'s would): built eagerly, the variant's
/// doc comment was applied after it and won; deferred, the arguments come last.
fn keeping_about(cmd: clap::Command, augment: fn(clap::Command) -> clap::Command) -> clap::Command {
    use clap::builder::Resettable;
    let about = cmd.get_about().cloned();
    let long_about = cmd.get_long_about().cloned();
    augment(cmd)
        .about(Resettable::from(about))
        .long_about(Resettable::from(long_about))
}

impl<T: clap::FromArgMatches> clap::FromArgMatches for Deferred<T> {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches(m).map(Deferred)
    }
    fn from_arg_matches_mut(m: &mut clap::ArgMatches) -> Result<Self, clap::Error> {
        T::from_arg_matches_mut(m).map(Deferred)
    }
    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches(m)
    }
    fn update_from_arg_matches_mut(&mut self, m: &mut clap::ArgMatches) -> Result<(), clap::Error> {
        self.0.update_from_arg_matches_mut(m)
    }
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

    /// Go through this proxy: http:// (CONNECT), https://, socks5:// (DNS here) or socks5h://
    /// (DNS at the proxy); '' for none. Overrides http_proxy, https_proxy, all_proxy. soak: repeat
    /// to spread connections over several, round robin
    #[arg(
        short = 'x',
        long,
        value_name = "URL",
        help_heading = "Reaching the server"
    )]
    pub proxy: Vec<String>,
    /// Credentials for the proxy; never printed
    #[arg(long, value_name = "USER:PASS", value_parser = parse::credentials, help_heading = "Reaching the server")]
    pub proxy_user: Option<(String, String)>,
    /// Hosts that go direct, comma-separated: names (and their subdomains), IPs, CIDR ranges, or *;
    /// replaces no_proxy/NO_PROXY
    #[arg(long, value_name = "LIST", help_heading = "Reaching the server")]
    pub noproxy: Option<String>,
    /// Follow redirects (301, 302, 303, 307, 308) of the upgrade; credentials only go to the first host
    #[arg(short = 'L', long, help_heading = "Reaching the server")]
    pub location: bool,
    /// With -L: follow at most this many redirects
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        help_heading = "Reaching the server"
    )]
    pub max_redirs: u32,
    /// Connect to this Unix socket; the URL still gives Host and path (or write ws+unix:///SOCK:/PATH)
    #[arg(long, value_name = "PATH", help_heading = "Reaching the server")]
    pub unix_socket: Option<PathBuf>,
    /// Use ADDR for HOST:PORT instead of DNS, like curl (repeatable; ADDR may be a list: A,B)
    #[arg(long, value_name = "HOST:PORT:ADDR", value_parser = crate::net::resolve::parse_resolve, help_heading = "Reaching the server")]
    pub resolve: Vec<crate::net::resolve::Resolve>,
    /// Connect to HOST2:PORT2 whenever the URL says HOST1:PORT1, like curl (repeatable; parts may be empty)
    #[arg(long, value_name = "HOST1:PORT1:HOST2:PORT2", value_parser = crate::net::resolve::parse_connect_to, help_heading = "Reaching the server")]
    pub connect_to: Vec<crate::net::resolve::ConnectTo>,
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
    /// Send this name in SNI and verify the certificate against it instead of the URL's host
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
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

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Folder to write the pages into (created if missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
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
