//! `wsbeat ping`: options spelled as ping(8) spells them (-c -i -W -s -w -q). The handshake's
//! `-s/--subprotocol` short flag is dropped here (see `PingArgs`), because `-s` is ping's size.

use super::{HandshakeArgs, OutputArgs, TlsArgs, parse};
use crate::client::pings;
use clap::Args;
use std::time::Duration;

#[derive(Debug, Args)]
// `-s` is ping's --size here, so --subprotocol keeps only its long form. (Here, not on
// `Command::Ping`: there the arguments are not defined yet, see `Deferred`.)
#[command(mut_arg("subprotocols", |a| a.short(None)))]
pub struct PingArgs {
    /// ws:// or wss:// URL, e.g. ws://127.0.0.1:9001/
    pub url: String,

    #[command(flatten)]
    pub handshake: HandshakeArgs,
    #[command(flatten)]
    pub tls: TlsArgs,

    /// Stop after N probes (default: until Ctrl-C or --deadline)
    #[arg(short = 'c', long, value_name = "N", value_parser = parse::positive, help_heading = "Probes")]
    pub count: Option<usize>,
    /// Time between probes; sub-millisecond works (250us). 0: the next probe as soon as the last one is answered or timed out
    #[arg(short = 'i', long, value_name = "DUR", default_value = "1s", value_parser = parse::duration, help_heading = "Probes")]
    pub interval: Duration,
    /// How long to wait for each reply; a reply after this is reported as late and counts as lost
    #[arg(short = 'W', long = "timeout", value_name = "DUR", default_value = "2s", value_parser = parse::duration, help_heading = "Probes")]
    pub timeout: Duration,
    /// Ping payload size in bytes (8-125: control frames carry at most 125)
    #[arg(short = 's', long, value_name = "BYTES", default_value = "16", value_parser = ping_size, help_heading = "Probes")]
    pub size: usize,
    /// Stop after this long, however many probes were sent
    #[arg(short = 'w', long, value_name = "DUR", value_parser = parse::duration, help_heading = "Probes")]
    pub deadline: Option<Duration>,

    /// Application-level probes: send this text message instead of a Ping frame ({seq} is replaced by the sequence number)
    #[arg(
        long,
        value_name = "PAYLOAD",
        conflicts_with = "size",
        help_heading = "Application-level mode"
    )]
    pub text: Option<String>,
    /// A reply is a text or binary message matching this regular expression (default: any message); others count as other traffic
    #[arg(long, value_name = "REGEX", help_heading = "Application-level mode")]
    pub expect: Option<String>,
    /// socket.io probes: emit --event with the sequence number and time its ack (implied by a
    /// URL path ending in /socket.io/)
    #[arg(long, conflicts_with_all = ["text", "size", "connect_only"], help_heading = "socket.io mode")]
    pub socketio: bool,
    /// The event to emit; the server must acknowledge it
    #[arg(
        long,
        value_name = "NAME",
        default_value = "ping",
        help_heading = "socket.io mode"
    )]
    pub event: String,
    /// Measure the server's Engine.IO heartbeat instead: the interval between the server's
    /// pings as this client sees them, and its jitter (mdev); nothing is sent but pongs
    #[arg(long, conflicts_with_all = ["text", "size", "connect_only"], help_heading = "socket.io mode")]
    pub engineio: bool,
    /// The socket.io namespace to join
    #[arg(
        long,
        value_name = "NS",
        default_value = "/",
        help_heading = "socket.io mode"
    )]
    pub namespace: String,
    /// The auth payload sent with the namespace CONNECT (a JSON object)
    #[arg(long, value_name = "JSON", help_heading = "socket.io mode")]
    pub sio_auth: Option<String>,
    /// Each probe opens a new connection, completes the handshake and closes with 1000; reports DNS/TCP/TLS/upgrade timings
    #[arg(long, conflicts_with_all = ["text", "size"], help_heading = "Connection mode")]
    pub connect_only: bool,

    /// Exit 1 when more than this percentage of probes got no reply in time (default: 0 with -c, else no limit)
    #[arg(long, value_name = "PERCENT", value_parser = percent, help_heading = "Thresholds (exit 1 when broken)")]
    pub max_loss: Option<f64>,
    /// Exit 1 when the p99 round trip is over this
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Thresholds (exit 1 when broken)")]
    pub max_rtt: Option<Duration>,
    /// Exit 1 when any single round trip is over this
    #[arg(long, value_name = "DUR", value_parser = parse::duration, help_heading = "Thresholds (exit 1 when broken)")]
    pub max_rtt_each: Option<Duration>,
    /// Exit 1 when fewer than N replies came back in time
    #[arg(
        long,
        value_name = "N",
        help_heading = "Thresholds (exit 1 when broken)"
    )]
    pub min_replies: Option<u64>,

    /// Print only the summary (and errors)
    #[arg(short = 'q', long, help_heading = "Output")]
    pub quiet: bool,
    /// Also write the run as one self-contained HTML page (round trip over time, losses, distribution) to FILE
    #[arg(long, value_name = "FILE", help_heading = "Output")]
    pub report: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `-s`: a Ping payload must hold our 8-byte sequence number and fit a control frame.
pub fn ping_size(s: &str) -> Result<usize, String> {
    let n = parse::size(s)?;
    if (pings::MIN_SIZE..=pings::MAX_SIZE).contains(&n) {
        Ok(n)
    } else {
        Err(format!(
            "{n} bytes is out of range: a Ping payload is {}-{} bytes (control frames carry at most 125; 8 hold the sequence number)",
            pings::MIN_SIZE,
            pings::MAX_SIZE
        ))
    }
}

pub fn percent(s: &str) -> Result<f64, String> {
    let t = s.trim().trim_end_matches('%');
    match t.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "'{s}' is not a percentage; write a number from 0 to 100"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_a_control_frame() {
        assert_eq!(ping_size("8").unwrap(), 8);
        assert_eq!(ping_size("125").unwrap(), 125);
        assert!(ping_size("126").unwrap_err().contains("125"));
        assert!(ping_size("7").is_err());
        assert!(ping_size("big").is_err());
    }

    #[test]
    fn percentages() {
        assert_eq!(percent("0").unwrap(), 0.0);
        assert_eq!(percent("2.5%").unwrap(), 2.5);
        assert!(percent("101").is_err());
        assert!(percent("-1").is_err());
        assert!(percent("NaN").is_err());
    }
}
