//! `wsbeat soak`: many connections for a long time. Shape of the run, loss accounting mode,
//! heartbeats, reconnects, output and CI thresholds. Values are checked here; combinations in
//! `config::soak`.

use super::{ColorChoice, HandshakeArgs, TlsArgs, parse};
use crate::client::reconnect::Backoff;
use clap::{Args, ValueEnum};
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SoakMode {
    /// Send numbered messages and match every echo (loss, duplicates, reordering, latency)
    Echo,
    /// Only send (for servers that do not echo); replies are counted, not matched
    Send,
    /// Only hold the connections and heartbeat
    Idle,
}

#[derive(Debug, Args)]
pub struct SoakArgs {
    /// ws:// or wss:// URL to soak; without one, an embedded echo server is started and soaked
    #[arg(conflicts_with = "merge")]
    pub url: Option<String>,

    #[command(flatten)]
    pub handshake: HandshakeArgs,
    #[command(flatten)]
    pub tls: TlsArgs,

    /// Connections to hold open
    #[arg(short = 'c', long, value_name = "N", default_value = "100", value_parser = parse::positive, help_heading = "Shape of the run")]
    pub connections: usize,
    /// Open at most this many new connections per second while ramping up (default: as fast as the server accepts)
    #[arg(long, value_name = "PER_SEC", value_parser = positive_rate, help_heading = "Shape of the run")]
    pub connect_rate: Option<f64>,
    /// How long to run, counted from the start of the ramp-up
    #[arg(short = 'd', long, value_name = "DUR", default_value = "10s", value_parser = parse::duration, help_heading = "Shape of the run")]
    pub duration: Duration,
    /// Messages per second on each connection (0: idle connections that only heartbeat)
    #[arg(long, value_name = "PER_SEC", default_value = "1", value_parser = rate, help_heading = "Shape of the run")]
    pub message_rate: f64,
    /// Message size in bytes, header included (at least 33: the sequence header; at most 64MiB)
    #[arg(long, value_name = "BYTES", default_value = "64", value_parser = message_size, help_heading = "Shape of the run")]
    pub size: usize,
    /// Send binary messages instead of text
    #[arg(long, help_heading = "Shape of the run")]
    pub binary: bool,
    /// Split each message into frames of at most this many payload bytes
    #[arg(long, value_name = "N", value_parser = parse::positive, help_heading = "Shape of the run")]
    pub fragment_size: Option<usize>,
    /// What the connections do: echo (match every echo), send (server does not echo), idle
    #[arg(
        long,
        value_name = "MODE",
        default_value = "echo",
        help_heading = "Shape of the run"
    )]
    pub mode: SoakMode,
    /// Local addresses to connect from, round robin: a range 127.0.0.1-127.0.0.8 or a list
    /// a,b,c (one source address has ~28k ephemeral ports)
    #[arg(long, value_name = "ADDRS", value_parser = source_addrs, help_heading = "Shape of the run")]
    pub source_addrs: Option<SourceAddrs>,

    /// Ping every connection this often (0s: no heartbeat)
    #[arg(long, value_name = "DUR", default_value = "2s", value_parser = parse::duration, help_heading = "Heartbeat")]
    pub heartbeat: Duration,
    /// A heartbeat unanswered this long counts the connection dead (then it reconnects)
    #[arg(long, value_name = "DUR", default_value = "5s", value_parser = parse::duration, help_heading = "Heartbeat")]
    pub heartbeat_timeout: Duration,
    /// Heartbeat with this text message instead of Ping frames ({seq} becomes a number)
    #[arg(long, value_name = "PAYLOAD", help_heading = "Heartbeat")]
    pub heartbeat_text: Option<String>,
    /// The answer to --heartbeat-text: a text message matching this regular expression (default: the echo of the heartbeat)
    #[arg(
        long,
        value_name = "REGEX",
        requires = "heartbeat_text",
        help_heading = "Heartbeat"
    )]
    pub heartbeat_expect: Option<String>,

    /// A preamble step on every connection, after it opens and after every reconnect: send
    /// this message ({seq}, {NAME} captured earlier); in command-line order with --expect
    #[arg(long = "send", value_name = "MSG", help_heading = "Preamble")]
    pub send: Vec<String>,
    /// A preamble step: wait for a message matching this regular expression
    #[arg(long, value_name = "REGEX", help_heading = "Preamble")]
    pub expect: Vec<String>,
    /// A preamble step: wait for a JSON message matching POINTER[=TEXT|==JSON|=>NAME]
    #[arg(long, value_name = "POINTER[OP]", help_heading = "Preamble")]
    pub expect_json: Vec<String>,
    /// How long each preamble expect may wait before the connection counts as a preamble
    /// failure (it is closed and reconnects)
    #[arg(long, value_name = "DUR", default_value = "10s", value_parser = parse::duration, help_heading = "Preamble")]
    pub step_timeout: Duration,
    /// A TOML scenario: preamble steps, the message template and echo rule, think times
    /// (schema in the README; instead of --send/--expect/--expect-json)
    #[arg(long, value_name = "FILE", conflicts_with_all = ["send", "expect", "expect_json"], help_heading = "Preamble")]
    pub scenario: Option<std::path::PathBuf>,
    /// The preamble steps in command-line order (`Cli::try_parse_ordered_from`)
    #[arg(skip)]
    pub steps: Vec<(super::StepOpt, String)>,

    /// Speak socket.io (Engine.IO v4 over WebSocket) on every connection: join the namespace,
    /// answer the server's pings, emit the numbered messages as events and match the events the
    /// server sends back (implied by a URL whose path ends in /socket.io/)
    #[arg(long, help_heading = "socket.io")]
    pub socketio: bool,
    /// The socket.io namespace every connection joins
    #[arg(long, value_name = "NS", default_value = "/", value_parser = namespace, help_heading = "socket.io")]
    pub namespace: Box<str>,
    /// The auth payload of the namespace CONNECT (a JSON object)
    #[arg(long, value_name = "JSON", value_parser = sio_auth, help_heading = "socket.io")]
    pub sio_auth: Option<Box<serde_json::Value>>,
    /// The event the messages are emitted as, and that the server sends back
    #[arg(
        long,
        value_name = "NAME",
        default_value = "message",
        value_parser = event,
        help_heading = "socket.io"
    )]
    pub event: Box<str>,

    /// Reconnect lost connections (the default in soak)
    #[arg(long, overrides_with = "no_reconnect", help_heading = "Reconnect")]
    pub reconnect: bool,
    /// A lost connection stays down
    #[arg(long, help_heading = "Reconnect")]
    pub no_reconnect: bool,
    /// Backoff between attempts: MIN..MAX, doubling, with jitter
    #[arg(
        long,
        value_name = "MIN..MAX",
        default_value = "100ms..10s",
        help_heading = "Reconnect"
    )]
    pub backoff: Backoff,
    /// Reconnects allowed per connection over the whole run (default: unlimited)
    #[arg(long, value_name = "N", help_heading = "Reconnect")]
    pub max_reconnects: Option<u64>,
    /// Messages kept per connection while it is down, replayed in order after the reconnect; overflow is counted as dropped
    #[arg(
        long,
        value_name = "N",
        default_value = "100",
        help_heading = "Reconnect"
    )]
    pub buffer: usize,
    /// The server replays what a connection missed (echo-server --replay, or one that marks
    /// messages alike): strip its '[seq=N] ' marks before matching, reconnect with
    /// ?since=<the highest N received>, and await the messages in flight at a loss on the new
    /// connection instead of sending them again. Use {conn} in the URL for a room and client
    /// id per connection, e.g. ws://HOST/room-{conn}?user=u{conn}
    #[arg(long, conflicts_with = "socketio", help_heading = "Reconnect")]
    pub server_replay: bool,

    /// Merge the JSON reports of several runs (e.g. from several machines) into one and exit
    #[arg(long, value_name = "FILE", num_args = 1.., help_heading = "Reports")]
    pub merge: Vec<PathBuf>,
    /// Also sample this process's RSS (e.g. the server's) once a second
    #[arg(long, value_name = "PID", value_parser = parse::pid, help_heading = "Reports")]
    pub watch_pid: Option<u32>,
    /// Write the whole report as JSON to FILE ('-': stdout; the human summary then goes to stderr)
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub json: Option<String>,
    /// Write the report as one self-contained HTML page with charts of the run over time to FILE
    #[arg(long, value_name = "FILE", help_heading = "Reports")]
    pub report: Option<String>,
    /// No live view: a plain status line every few seconds on stderr even on a terminal
    #[arg(long, help_heading = "Reports")]
    pub no_live: bool,
    /// When to use colour (NO_COLOR and TERM=dumb also turn it off)
    #[arg(
        long,
        value_name = "WHEN",
        default_value = "auto",
        help_heading = "Reports"
    )]
    pub color: ColorChoice,

    /// Exit 1 when more messages than this were lost (missing, dropped, unsent, lost in flight, corrupted)
    #[arg(
        long,
        value_name = "N",
        default_value = "0",
        help_heading = "Thresholds (exit 1 when broken)"
    )]
    pub max_loss: u64,
    /// Exit 1 when the p99 message round trip is over this
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Thresholds (exit 1 when broken)")]
    pub max_p99: Option<Duration>,
    /// Exit 1 when more errors than this were counted (all kinds)
    #[arg(
        long,
        value_name = "N",
        help_heading = "Thresholds (exit 1 when broken)"
    )]
    pub max_errors: Option<u64>,
    /// Exit 1 when fewer than N connections were open at the same time at the peak
    #[arg(
        long,
        value_name = "N",
        help_heading = "Thresholds (exit 1 when broken)"
    )]
    pub min_connections: Option<u64>,

    /// Join a coordinated run: redis://[:PASSWORD@]HOST[:PORT]/RUN_ID (rediss:// for TLS).
    /// Every worker takes its share of -c, waits at a barrier for the others, and publishes
    /// its figures every second; `--lead` shows and reports the whole run
    #[arg(
        long,
        value_name = "REDIS_URL/RUN_ID",
        requires = "workers",
        conflicts_with = "merge",
        help_heading = "Scaling out"
    )]
    pub coordinator: Option<String>,
    /// How many workers make the run (each takes 1/N of -c)
    #[arg(long, value_name = "N", value_parser = parse::positive, requires = "coordinator", help_heading = "Scaling out")]
    pub workers: Option<usize>,
    /// This worker's slot, 0..N-1 (default: $JOB_COMPLETION_INDEX, else the order of joining)
    #[arg(
        long,
        value_name = "I",
        requires = "coordinator",
        help_heading = "Scaling out"
    )]
    pub worker_index: Option<usize>,
    /// Open no connection: show the whole run live, then write the merged report and check
    /// the thresholds on it
    #[arg(long, requires = "coordinator", help_heading = "Scaling out")]
    pub lead: bool,
    /// How long the workers wait for each other before giving up (exit 6, naming the missing
    /// slots)
    #[arg(long, value_name = "DUR", default_value = "30s", value_parser = parse::duration, help_heading = "Scaling out")]
    pub barrier_timeout: Duration,
}

// Boxed strings and JSON: `SoakArgs` is the largest `Command` variant.
fn namespace(s: &str) -> Result<Box<str>, String> {
    if !s.starts_with('/') || s.contains([',', '?', '#']) || s.chars().any(char::is_control) {
        return Err(format!(
            "'{}' is not a socket.io namespace; write /NAME (no ',', '?' or '#')",
            crate::error::escape_controls(s, false)
        ));
    }
    Ok(s.into())
}

fn event(s: &str) -> Result<Box<str>, String> {
    Ok(s.into())
}

fn sio_auth(s: &str) -> Result<Box<serde_json::Value>, String> {
    match serde_json::from_str(s) {
        Ok(v @ serde_json::Value::Object(_)) => Ok(Box::new(v)),
        Ok(_) => Err("--sio-auth must be a JSON object, e.g. '{\"token\":\"abc\"}'".into()),
        Err(e) => Err(format!("--sio-auth is not JSON: {e}")),
    }
}

/// `--source-addrs`: the addresses in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceAddrs(pub Vec<IpAddr>);

/// More than this is surely a typo (and would take memory for nothing).
const MAX_SOURCE_ADDRS: usize = 4096;

pub fn source_addrs(s: &str) -> Result<SourceAddrs, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let a: std::net::Ipv4Addr = a.trim().parse().map_err(|_| {
                    format!("'{a}' in --source-addrs is not an IPv4 address (ranges are IPv4 only)")
                })?;
                let b: std::net::Ipv4Addr = b
                    .trim()
                    .parse()
                    .map_err(|_| format!("'{b}' in --source-addrs is not an IPv4 address"))?;
                let (lo, hi) = (u32::from(a), u32::from(b));
                if lo > hi {
                    return Err(format!("--source-addrs range {part} runs backwards"));
                }
                if (hi - lo) as usize >= MAX_SOURCE_ADDRS {
                    return Err(format!(
                        "--source-addrs range {part} has more than {MAX_SOURCE_ADDRS} addresses"
                    ));
                }
                out.extend((lo..=hi).map(|n| IpAddr::from(std::net::Ipv4Addr::from(n))));
            }
            None => out.push(
                part.parse()
                    .map_err(|_| format!("'{part}' in --source-addrs is not an IP address"))?,
            ),
        }
        if out.len() > MAX_SOURCE_ADDRS {
            return Err(format!(
                "--source-addrs lists more than {MAX_SOURCE_ADDRS} addresses"
            ));
        }
    }
    if out.is_empty() {
        return Err("--source-addrs needs at least one address, e.g. 127.0.0.1-127.0.0.8".into());
    }
    Ok(SourceAddrs(out))
}

/// The smallest non-zero rate: its period (1000 s) is longer than any sensible run, and a
/// much smaller one would overflow the period's `Duration` (1e-20 did, with a panic).
pub const MIN_RATE: f64 = 0.001;
/// Above this the period rounds to nothing useful and the run is surely a typo.
pub const MAX_RATE: f64 = 1e6;

/// A rate per second; 0 allowed (idle), fractions allowed (0.1 = one every 10 s).
pub fn rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r == 0.0 || (MIN_RATE..=MAX_RATE).contains(&r) => Ok(r),
        Ok(r) if r > 0.0 && r < MIN_RATE => Err(format!(
            "'{s}' is below the smallest rate, {MIN_RATE} per second (one every 1000 s); use 0 for none"
        )),
        _ => Err(format!(
            "'{s}' is not a rate; write a number per second from {MIN_RATE} to {MAX_RATE}, such as 1, 0.5 or 0"
        )),
    }
}

pub fn positive_rate(s: &str) -> Result<f64, String> {
    match rate(s) {
        Ok(r) if r > 0.0 => Ok(r),
        Ok(_) => Err(format!("'{s}' is not a positive rate per second")),
        Err(e) => Err(e),
    }
}

/// Every connection builds messages of this size, and an echo larger than the default
/// `--max-message-size` would be refused anyway; 99999999999 used to abort on allocation.
pub const MAX_MESSAGE_SIZE: usize = 64 << 20;

pub fn message_size(s: &str) -> Result<usize, String> {
    match parse::size(s)? {
        n if n > MAX_MESSAGE_SIZE => Err(format!(
            "--size '{s}' is larger than the largest soak message, 64MiB"
        )),
        n => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_address_ranges_and_lists() {
        let r = source_addrs("127.0.0.1-127.0.0.3").unwrap();
        assert_eq!(r.0.len(), 3);
        assert_eq!(r.0[2], "127.0.0.3".parse::<IpAddr>().unwrap());
        let l = source_addrs("127.0.0.1, ::1").unwrap();
        assert_eq!(l.0.len(), 2);
        assert!(source_addrs("127.0.0.3-127.0.0.1").is_err());
        assert!(source_addrs("10.0.0.0-10.1.0.0").is_err());
        assert!(source_addrs("localhost").is_err());
        assert!(source_addrs("").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(rate("0").unwrap(), 0.0);
        assert_eq!(rate("0.5").unwrap(), 0.5);
        assert!(rate("-1").is_err());
        assert!(rate("NaN").is_err());
        assert!(positive_rate("0").is_err());
        assert!(rate("inf").is_err());
        let tiny = rate("1e-20").unwrap_err();
        assert!(tiny.contains("smallest rate"), "{tiny}");
        assert!(positive_rate("1e-19").is_err());
        assert_eq!(rate("0.001").unwrap(), MIN_RATE);
        assert!(rate("1000001").is_err());
    }

    #[test]
    fn message_sizes_are_bounded() {
        assert_eq!(message_size("64MiB").unwrap(), MAX_MESSAGE_SIZE);
        let e = message_size("99999999999").unwrap_err();
        assert!(e.contains("64MiB"), "{e}");
        assert!(message_size("64MiB1").is_err());
    }

    /// Whatever the input, the numeric parsers answer with a value or an error, never a panic,
    /// and what they accept lies within their documented bounds. Seeded, so a failure repeats.
    #[test]
    fn numeric_parsers_never_panic() {
        let mut rng = fastrand::Rng::with_seed(0x5eed_0011);
        let pieces = [
            "0",
            "1",
            "9",
            ".",
            "e",
            "-",
            "+",
            "1e-20",
            "1e308",
            "99999999999",
            "inf",
            "NaN",
            "ms",
            "s",
            "m",
            "h",
            "KiB",
            "MiB",
            "GiB",
            "g",
            " ",
            "..",
            "\u{0}",
            "é",
        ];
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut s = String::new();
            for _ in 0..rng.usize(0..6) {
                if rng.bool() {
                    s.push_str(pieces[rng.usize(..pieces.len())]);
                } else {
                    s.push(rng.char(..));
                }
            }
            if let Ok(r) = rate(&s) {
                assert!(
                    r == 0.0 || (MIN_RATE..=MAX_RATE).contains(&r),
                    "{s:?} -> {r}"
                );
                // What the config does with an accepted rate must not panic either.
                if r > 0.0 {
                    let _ = std::time::Duration::from_secs_f64(1.0 / r);
                }
                accepted += 1;
            }
            if let Ok(r) = positive_rate(&s) {
                assert!(r >= MIN_RATE, "{s:?} -> {r}");
            }
            if let Ok(n) = message_size(&s) {
                assert!(n <= MAX_MESSAGE_SIZE, "{s:?} -> {n}");
                accepted += 1;
            }
            if parse::size(&s).is_ok() {
                accepted += 1;
            }
            if let Ok(d) = parse::duration(&s) {
                // Adding a run's duration to now is what every deadline does.
                let _ = std::time::Instant::now().checked_add(d);
                accepted += 1;
            }
            let _ = parse::wait(&s);
            let _ = parse::positive(&s);
            let _ = parse::pid(&s);
        }
        assert!(
            accepted > 100,
            "the generator must reach the accepting paths too"
        );
    }
}
