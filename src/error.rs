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
            ErrorKind::Upgrade | ErrorKind::Subprotocol => 5,
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

/// An error that knows its kind. The message is one line and says what to do where we can tell.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// HTTP status of a refused upgrade.
    pub status: Option<u16>,
    /// The start of a refused upgrade's response body: users need it to see why.
    pub body: Option<String>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            status: None,
            body: None,
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
}
