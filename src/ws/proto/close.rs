//! The close of a connection as the browser's `CloseEvent` reports it, plus the RFC 6455 rules
//! for which codes may be sent and which may appear on the wire.

use crate::error::Error;

/// Who started the closing handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// We sent the first Close frame.
    Client,
    /// The peer sent the first Close frame.
    Server,
    /// Nobody: the connection was lost without a closing handshake.
    None,
}

impl Initiator {
    pub fn as_str(self) -> &'static str {
        match self {
            Initiator::Client => "client",
            Initiator::Server => "server",
            Initiator::None => "none",
        }
    }
}

/// `code` follows the browser: 1005 when the Close frame had no code, 1006 when there was no
/// Close frame at all. `code_valid` is false when the peer's Close frame broke RFC 6455: a code
/// forbidden on the wire, a 1-byte payload, or a reason that is not UTF-8; we still report the
/// code it sent. `reason` is only ever what a Close frame said, empty for a 1006 as in the
/// browser; what we know of why the connection died is `diagnostic` (NDJSON `error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseEvent {
    pub code: u16,
    pub reason: String,
    pub was_clean: bool,
    pub initiator: Initiator,
    pub code_valid: bool,
    pub diagnostic: Option<String>,
}

pub const NORMAL: u16 = 1000;
pub const GOING_AWAY: u16 = 1001;
pub const NO_STATUS: u16 = 1005;
pub const ABNORMAL: u16 = 1006;

impl CloseEvent {
    /// The connection died without a Close frame: no reason, and `why` as the diagnostic.
    pub fn abnormal(why: impl Into<String>) -> Self {
        CloseEvent {
            code: ABNORMAL,
            reason: String::new(),
            was_clean: false,
            initiator: Initiator::None,
            code_valid: true,
            diagnostic: Some(why.into()),
        }
    }

    pub fn name(&self) -> &'static str {
        code_name(self.code)
    }

    /// 1000 and 1001 are the two ways a healthy connection ends.
    pub fn is_normal(&self) -> bool {
        self.was_clean && (self.code == NORMAL || self.code == GOING_AWAY)
    }
}

/// RFC 6455 section 7.4.1 and the IANA registry names.
pub fn code_name(code: u16) -> &'static str {
    match code {
        1000 => "Normal Closure",
        1001 => "Going Away",
        1002 => "Protocol Error",
        1003 => "Unsupported Data",
        1004 => "Reserved",
        1005 => "No Status Received",
        1006 => "Abnormal Closure",
        1007 => "Invalid Frame Payload Data",
        1008 => "Policy Violation",
        1009 => "Message Too Big",
        1010 => "Mandatory Extension",
        1011 => "Internal Error",
        1012 => "Service Restart",
        1013 => "Try Again Later",
        1014 => "Bad Gateway",
        1015 => "TLS Handshake",
        3000..=3999 => "registered",
        4000..=4999 => "application",
        _ => "invalid",
    }
}

/// Codes an endpoint may put in a Close frame (RFC 6455 7.4, IANA registry).
pub fn is_sendable(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Close reasons are limited by the 125-byte control-frame payload, minus the 2-byte code.
pub const MAX_REASON_BYTES: usize = 123;

/// The close frame a user asked us to send: `CODE[:REASON]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseSpec {
    pub code: u16,
    pub reason: String,
}

impl Default for CloseSpec {
    fn default() -> Self {
        CloseSpec {
            code: NORMAL,
            reason: String::new(),
        }
    }
}

impl std::str::FromStr for CloseSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (code, reason) = match s.split_once(':') {
            Some((c, r)) => (c, r),
            None => (s, ""),
        };
        let code: u16 = code.trim().parse().map_err(|_| {
            Error::usage(format!(
                "close code '{code}' is not a number; write CODE[:REASON], e.g. 1000 or 4000:bye"
            ))
        })?;
        CloseSpec::new(code, reason)
    }
}

impl CloseSpec {
    pub fn new(code: u16, reason: &str) -> Result<Self, Error> {
        if !is_sendable(code) {
            return Err(Error::usage(format!(
                "close code {code} may not be sent; use 1000-1003, 1007-1014 or 3000-4999"
            )));
        }
        if reason.len() > MAX_REASON_BYTES {
            return Err(Error::usage(format!(
                "close reason is {} bytes; at most {MAX_REASON_BYTES} bytes of UTF-8 fit in a Close frame",
                reason.len()
            )));
        }
        Ok(CloseSpec {
            code,
            reason: reason.to_string(),
        })
    }
}

/// Parse the payload of a Close frame as it arrived, keeping codes tungstenite would rewrite.
/// Returns `(code, reason, code_valid)`.
pub fn parse_close_payload(payload: &[u8]) -> (u16, String, bool) {
    match payload {
        [] => (NO_STATUS, String::new(), true),
        // A one-byte payload cannot hold a code: a protocol violation by the peer.
        [_] => (NO_STATUS, String::new(), false),
        [hi, lo, rest @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            let reason = String::from_utf8_lossy(rest).into_owned();
            let valid = is_sendable(code) && std::str::from_utf8(rest).is_ok();
            (code, reason, valid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_spec_parses_code_and_reason() {
        let spec: CloseSpec = "4000:bye now".parse().unwrap();
        assert_eq!(spec.code, 4000);
        assert_eq!(spec.reason, "bye now");
        let spec: CloseSpec = "1001".parse().unwrap();
        assert_eq!((spec.code, spec.reason.as_str()), (1001, ""));
    }

    #[test]
    fn close_spec_rejects_wire_forbidden_codes_and_long_reasons() {
        for bad in ["1005", "1006", "1004", "1015", "999", "2000", "5000", "abc"] {
            assert!(bad.parse::<CloseSpec>().is_err(), "{bad} accepted");
        }
        let long = format!("1000:{}", "x".repeat(124));
        assert!(long.parse::<CloseSpec>().is_err());
        let ok = format!("1000:{}", "x".repeat(123));
        assert!(ok.parse::<CloseSpec>().is_ok());
    }

    #[test]
    fn raw_close_payloads_keep_forbidden_codes() {
        assert_eq!(parse_close_payload(&[]), (1005, String::new(), true));
        assert_eq!(
            parse_close_payload(&[0x03, 0xED, b'h', b'i']),
            (1005, "hi".into(), false)
        );
        assert_eq!(
            parse_close_payload(&[0x0F, 0xA1, b'b', b'y', b'e']),
            (4001, "bye".into(), true)
        );
        assert!(
            !parse_close_payload(&[0x03, 0xE8, 0xFF]).2,
            "bad UTF-8 reason"
        );
    }

    #[test]
    fn names() {
        assert_eq!(code_name(1000), "Normal Closure");
        assert_eq!(code_name(4001), "application");
        assert_eq!(code_name(1006), "Abnormal Closure");
    }
}
