//! Typed errors with a stable `kind` key. The key is what exit codes, soak statistics and
//! NDJSON `error` events are built from, so its spelling is part of the interface.

use std::fmt;

/// Why something failed, at the granularity users act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// Bad command line or bad input file: fix the invocation.
    Usage,
    Dns,
    Refused,
    ConnectTimeout,
    /// Any other failure to open the TCP connection (unreachable, reset during connect).
    Connect,
    Tls,
    /// The server answered the upgrade with something other than 101.
    Upgrade,
    /// The server accepted none of the offered subprotocols (or picked one we did not offer).
    Subprotocol,
    /// The peer broke RFC 6455 (bad frame, bad UTF-8, forbidden close code).
    Protocol,
    /// The connection ended without a closing handshake (1006).
    Abnormal,
    HeartbeatTimeout,
    /// The peer closed with a code the caller did not expect.
    CloseCode,
    /// A check asked for by the user failed (`--expect`, thresholds).
    Check,
    /// The overall `--timeout` ran out.
    Timeout,
    MessageTooLarge,
    Io,
    Interrupted,
    /// A socket.io namespace refused the client (CONNECT_ERROR): like a refused upgrade.
    SioConnectError,
}

impl ErrorKind {
    /// Stable machine-readable key (NDJSON, soak reports).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Usage => "usage",
            ErrorKind::Dns => "dns",
            ErrorKind::Refused => "refused",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::Connect => "connect",
            ErrorKind::Tls => "tls",
            ErrorKind::Upgrade => "http_status",
            ErrorKind::Subprotocol => "subprotocol",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Abnormal => "abnormal_close",
            ErrorKind::HeartbeatTimeout => "heartbeat_timeout",
            ErrorKind::CloseCode => "close_code",
            ErrorKind::Check => "check_failed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::MessageTooLarge => "message_too_large",
            ErrorKind::Io => "io",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::SioConnectError => "sio_connect_error",
        }
    }

    /// The documented exit code (README, "Exit codes"); one table for every subcommand.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::Check => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Dns
            | ErrorKind::Refused
            | ErrorKind::ConnectTimeout
            | ErrorKind::Connect => 3,
            ErrorKind::Tls => 4,
            ErrorKind::Upgrade | ErrorKind::Subprotocol | ErrorKind::SioConnectError => 5,
            ErrorKind::Protocol
            | ErrorKind::Abnormal
            | ErrorKind::HeartbeatTimeout
            | ErrorKind::MessageTooLarge
            | ErrorKind::Io
            | ErrorKind::Timeout => 6,
            ErrorKind::CloseCode => 7,
            ErrorKind::Interrupted => 130,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// wsbeat itself failed: a panic, which is a bug. Rust exits a panicking process with 101, so
/// one code means it whether the panic ended the process or a task that was caught.
pub const EXIT_BUG: u8 = 101;

/// An error that knows its kind. The message is one line and says what to do where we can tell.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    /// Boxed (no capacity word): soak keeps an error in each connection's task, whose size
    /// is budgeted to the byte (`cmd/soak/worker.rs`).
    message: Box<str>,
    /// HTTP status of a refused upgrade.
    pub status: Option<u16>,
    /// The start of a refused upgrade's response body: users need it to see why.
    pub body: Option<String>,
    /// The `Location` of a refused upgrade (a redirect), for `-L` to follow.
    pub location: Option<Box<str>>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into().into_boxed_str(),
            status: None,
            body: None,
            location: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Usage, message)
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Peer text as it may be shown to a person: control characters (C0, DEL, C1) and the bidi
/// overrides become escapes such as `\x1b` and `\u{202e}`, so a server cannot retitle, clear or
/// reorder the terminal (ESC]0;…BEL, ESC[2J) through an error page or a header. It lives here,
/// not in `render`, because error messages that quote peer bytes are built in every layer.
/// `keep_lines` keeps `\n` and `\t`, for multi-line text such as a response body.
pub fn escape_controls(s: &str, keep_lines: bool) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && !(keep_lines && (c == '\n' || c == '\t')))
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            c if !unsafe_char(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_readme_table() {
        assert_eq!(ErrorKind::Check.exit_code(), 1);
        assert_eq!(ErrorKind::Usage.exit_code(), 2);
        assert_eq!(ErrorKind::Refused.exit_code(), 3);
        assert_eq!(ErrorKind::Tls.exit_code(), 4);
        assert_eq!(ErrorKind::Upgrade.exit_code(), 5);
        assert_eq!(ErrorKind::Subprotocol.exit_code(), 5);
        assert_eq!(ErrorKind::Abnormal.exit_code(), 6);
        assert_eq!(ErrorKind::CloseCode.exit_code(), 7);
        assert_eq!(ErrorKind::Interrupted.exit_code(), 130);
    }

    #[test]
    fn escapes_what_would_drive_the_terminal() {
        let hostile = "a\x1b]0;pwned\x07b\x1b[2Jc\u{9b}d\u{202e}e\r\n\tf";
        let line = escape_controls(hostile, false);
        assert_eq!(
            line,
            "a\\x1b]0;pwned\\x07b\\x1b[2Jc\\x9bd\\u{202e}e\\r\\n\\tf"
        );
        let body = escape_controls(hostile, true);
        assert!(body.ends_with("e\\r\n\tf"), "{body}");
        assert!(!body.contains(['\x1b', '\x07', '\u{9b}', '\u{202e}']));
        assert!(matches!(
            escape_controls("plain – text", false),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
