//! Slash commands: what a submitted line means, parsed without I/O so that every form and every
//! mistake has a test. A line that does not start with `/` is a text message; `//` escapes one.

use crate::ws::proto::DataKind;
use crate::ws::proto::close::CloseSpec;
use base64::Engine;
use bytes::Bytes;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Send(DataKind, Bytes),
    /// A text message sent uncompressed (RSV1 clear) on a compressed connection.
    Raw(Bytes),
    /// One message split in frames of `size` payload bytes.
    Fragment {
        size: usize,
        payload: Bytes,
    },
    /// Read by the session (I/O), then sent as one binary message.
    File(PathBuf),
    /// `None`: a numbered probe whose pong we can match.
    Ping(Option<Bytes>),
    Close(CloseSpec),
    Reconnect,
    Status,
    Help,
    Quit,
    /// An empty line: nothing to do.
    Nothing,
    /// socket.io: emit EVENT; `json` (checked) is the argument list when an array, else one
    /// argument, empty for none.
    Emit {
        event: String,
        json: String,
    },
    /// socket.io: answer the last event that asked for an ack.
    Ack(String),
    /// socket.io: leave the namespace and join this one.
    Namespace(String),
}

/// Name, arguments, what it does: `/help` prints this, Tab completes from it.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        "/ping",
        "[PAYLOAD]",
        "send a Ping frame; the RTT prints when the pong arrives",
    ),
    (
        "/close",
        "[CODE [REASON]]",
        "close with CODE (default 1000) and end the session",
    ),
    ("/binary", "HEX", "send a binary message, e.g. /binary ff00"),
    (
        "/base64",
        "DATA",
        "send the decoded bytes as a binary message",
    ),
    ("/file", "PATH", "send a file as one binary message"),
    (
        "/raw",
        "TEXT",
        "send TEXT uncompressed (RSV1 clear) on a compressed connection",
    ),
    (
        "/fragment",
        "SIZE TEXT",
        "send TEXT as one message in frames of SIZE bytes",
    ),
    ("/reconnect", "", "close with 1000 and connect again"),
    (
        "/emit",
        "EVENT [JSON]",
        "socket.io: emit EVENT (a JSON array is the argument list)",
    ),
    (
        "/ack",
        "[JSON]",
        "socket.io: answer the last event that asked for an ack",
    ),
    (
        "/namespace",
        "NS",
        "socket.io: leave the namespace and join NS",
    ),
    (
        "/status",
        "",
        "URL, state, subprotocol, uptime, counters, last RTT",
    ),
    ("/help", "", "this list"),
    ("/quit", "", "close with 1000 and exit (also Ctrl-D)"),
];

pub fn parse(line: &str) -> Result<Command, String> {
    if let Some(rest) = line.strip_prefix("//") {
        return Ok(Command::Send(
            DataKind::Text,
            Bytes::from(format!("/{rest}")),
        ));
    }
    if !line.starts_with('/') {
        if line.is_empty() {
            return Ok(Command::Nothing);
        }
        return Ok(Command::Send(DataKind::Text, Bytes::from(line.to_string())));
    }
    let (name, args) = match line.split_once(char::is_whitespace) {
        Some((n, a)) => (n, a.trim_start()),
        None => (line, ""),
    };
    let no_args = |cmd: Command| {
        if args.trim().is_empty() {
            Ok(cmd)
        } else {
            Err(format!("{name} takes no arguments"))
        }
    };
    match name {
        "/ping" => Ok(Command::Ping(
            (!args.is_empty()).then(|| Bytes::from(args.to_string())),
        ))
        .and_then(|c| match &c {
            Command::Ping(Some(p)) if p.len() > 125 => Err(format!(
                "a ping payload is at most 125 bytes; this one is {}",
                p.len()
            )),
            _ => Ok(c),
        }),
        "/close" => close(args),
        "/binary" => hex(args).map(|b| Command::Send(DataKind::Binary, b)),
        "/base64" => base64::engine::general_purpose::STANDARD
            .decode(args.trim())
            .map(|b| Command::Send(DataKind::Binary, Bytes::from(b)))
            .map_err(|e| format!("/base64: not base64 ({e})")),
        "/file" if args.trim().is_empty() => Err("/file needs a PATH".into()),
        "/file" => Ok(Command::File(PathBuf::from(args.trim()))),
        "/fragment" => fragment(args),
        "/raw" => Ok(Command::Raw(Bytes::from(args.to_string()))),
        "/reconnect" => no_args(Command::Reconnect),
        "/emit" => {
            let (event, json) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            if event.is_empty() {
                return Err("/emit needs an EVENT, e.g. /emit chat {\"text\":\"hi\"}".into());
            }
            json_args("/emit", json.trim()).map(|json| Command::Emit {
                event: event.to_string(),
                json,
            })
        }
        "/ack" => json_args("/ack", args.trim()).map(Command::Ack),
        "/namespace" if args.trim().is_empty() => {
            Err("/namespace needs a NS, e.g. /namespace /chat".into())
        }
        "/namespace" => Ok(Command::Namespace(args.trim().to_string())),
        "/status" => no_args(Command::Status),
        "/help" | "/?" => Ok(Command::Help),
        "/quit" | "/exit" => no_args(Command::Quit),
        other => Err(format!(
            "unknown command {other}; /help lists them, //text sends a line starting with /"
        )),
    }
}

/// Arguments as JSON (empty: none), checked here so that a typo is an error line.
fn json_args(name: &str, json: &str) -> Result<String, String> {
    if !json.is_empty()
        && let Err(e) = serde_json::from_str::<serde_json::Value>(json)
    {
        return Err(format!("{name}: the arguments are not JSON ({e})"));
    }
    Ok(json.to_string())
}

/// The argument list of `/emit` or `/ack`: an array is the list, anything else one argument.
pub fn json_list(json: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str(json) {
        Ok(serde_json::Value::Array(items)) => items,
        Ok(one) => vec![one],
        Err(_) => Vec::new(),
    }
}

fn close(args: &str) -> Result<Command, String> {
    let args = args.trim();
    if args.is_empty() {
        return Ok(Command::Close(CloseSpec::default()));
    }
    let (code, reason) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
    let code: u16 = code
        .parse()
        .map_err(|_| format!("/close: '{code}' is not a close code; e.g. /close 4000 bye"))?;
    CloseSpec::new(code, reason.trim())
        .map(Command::Close)
        .map_err(|e| format!("/close: {e}"))
}

fn hex(args: &str) -> Result<Bytes, String> {
    // Spaces and colons between bytes are allowed: `ff 00`, `ff:00`.
    let digits: String = args
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if digits.is_empty() {
        return Err("/binary needs hex bytes, e.g. /binary ff00".into());
    }
    if digits.len() % 2 != 0 {
        return Err(format!(
            "/binary: {} hex digits; two per byte, e.g. /binary 0f00",
            digits.len()
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&digits[i..i + 2], 16)
                .map_err(|_| format!("/binary: '{}' is not a hex byte", &digits[i..i + 2]))
        })
        .collect::<Result<Vec<u8>, _>>()
        .map(Bytes::from)
}

fn fragment(args: &str) -> Result<Command, String> {
    let usage = "/fragment SIZE TEXT, e.g. /fragment 3 abcdefg";
    let (size, text) = args.split_once(' ').ok_or(usage)?;
    let size: usize = size
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("/fragment: '{size}' is not a positive size; {usage}"))?;
    if text.is_empty() {
        return Err(usage.into());
    }
    Ok(Command::Fragment {
        size,
        payload: Bytes::from(text.to_string()),
    })
}

/// Tab on a line that starts a command: the completed line, or the candidates when the prefix
/// is ambiguous and cannot be extended.
#[derive(Debug, PartialEq, Eq)]
pub enum Completion {
    Line(String),
    Candidates(Vec<&'static str>),
    None,
}

pub fn complete(line: &str) -> Completion {
    if !line.starts_with('/') || line.starts_with("//") || line.contains(char::is_whitespace) {
        return Completion::None;
    }
    let matches: Vec<&'static str> = COMMANDS
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| n.starts_with(line))
        .collect();
    match matches.as_slice() {
        [] => Completion::None,
        [one] => Completion::Line(format!("{one} ")),
        many => {
            let common = common_prefix(many);
            if common.len() > line.len() {
                Completion::Line(common.to_string())
            } else {
                Completion::Candidates(many.to_vec())
            }
        }
    }
}

fn common_prefix<'a>(words: &[&'a str]) -> &'a str {
    let first = words[0];
    let mut end = first.len();
    for w in &words[1..] {
        end = end.min(
            first
                .bytes()
                .zip(w.bytes())
                .take_while(|(a, b)| a == b)
                .count(),
        );
    }
    &first[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Command {
        Command::Send(DataKind::Text, Bytes::from(s.to_string()))
    }

    #[test]
    fn plain_lines_and_escaped_slashes_are_text() {
        assert_eq!(parse("hello").unwrap(), text("hello"));
        assert_eq!(parse("//tmp is a path").unwrap(), text("/tmp is a path"));
        assert_eq!(parse("").unwrap(), Command::Nothing);
    }

    #[test]
    fn binary_base64_and_fragment() {
        assert_eq!(
            parse("/binary ff00").unwrap(),
            Command::Send(DataKind::Binary, Bytes::from_static(&[0xff, 0]))
        );
        assert_eq!(
            parse("/binary ff:00 0a").unwrap(),
            Command::Send(DataKind::Binary, Bytes::from_static(&[0xff, 0, 10]))
        );
        assert!(parse("/binary fff").is_err());
        assert!(parse("/binary zz").is_err());
        assert!(parse("/binary").is_err());
        assert_eq!(
            parse("/base64 /wA=").unwrap(),
            Command::Send(DataKind::Binary, Bytes::from_static(&[0xff, 0]))
        );
        assert!(parse("/base64 !!").is_err());
        assert_eq!(
            parse("/fragment 3 abcdefg").unwrap(),
            Command::Fragment {
                size: 3,
                payload: Bytes::from_static(b"abcdefg")
            }
        );
        assert!(parse("/fragment 0 abc").is_err());
        assert!(parse("/fragment x abc").is_err());
        assert!(parse("/fragment 3").is_err());
    }

    #[test]
    fn close_ping_and_the_rest() {
        assert_eq!(
            parse("/close 4000 bye now").unwrap(),
            Command::Close(CloseSpec::new(4000, "bye now").unwrap())
        );
        assert_eq!(
            parse("/close").unwrap(),
            Command::Close(CloseSpec::default())
        );
        assert!(parse("/close 1006").is_err(), "reserved code");
        assert!(parse("/close soon").is_err());
        assert_eq!(parse("/ping").unwrap(), Command::Ping(None));
        assert_eq!(
            parse("/ping hi").unwrap(),
            Command::Ping(Some(Bytes::from_static(b"hi")))
        );
        assert!(parse(&format!("/ping {}", "x".repeat(126))).is_err());
        assert_eq!(parse("/quit").unwrap(), Command::Quit);
        assert!(parse("/quit now").is_err());
        assert_eq!(parse("/status").unwrap(), Command::Status);
        assert_eq!(
            parse("/raw as is").unwrap(),
            Command::Raw(Bytes::from_static(b"as is"))
        );
        assert_eq!(parse("/reconnect").unwrap(), Command::Reconnect);
        assert_eq!(
            parse(r#"/emit chat {"text":"hi"}"#).unwrap(),
            Command::Emit {
                event: "chat".into(),
                json: r#"{"text":"hi"}"#.into()
            }
        );
        assert_eq!(
            parse("/emit ping").unwrap(),
            Command::Emit {
                event: "ping".into(),
                json: String::new()
            }
        );
        assert!(parse("/emit").is_err());
        assert!(parse("/emit chat {oops").unwrap_err().contains("not JSON"));
        assert_eq!(parse("/ack [1,2]").unwrap(), Command::Ack("[1,2]".into()));
        assert_eq!(
            parse("/namespace /chat").unwrap(),
            Command::Namespace("/chat".into())
        );
        assert!(parse("/namespace").is_err());
        assert_eq!(
            json_list("[1,2]"),
            [serde_json::json!(1), serde_json::json!(2)]
        );
        assert_eq!(json_list(r#""a""#), [serde_json::json!("a")]);
        assert!(json_list("").is_empty());
        assert_eq!(
            parse("/file ./x.bin").unwrap(),
            Command::File("./x.bin".into())
        );
        assert!(parse("/file").is_err());
        let e = parse("/frobnicate").unwrap_err();
        assert!(e.contains("/help"), "{e}");
    }

    #[test]
    fn tab_completes_unique_prefixes_and_lists_ambiguous_ones() {
        assert_eq!(complete("/fr"), Completion::Line("/fragment ".into()));
        assert_eq!(complete("/re"), Completion::Line("/reconnect ".into()));
        assert_eq!(
            complete("/b"),
            Completion::Candidates(vec!["/binary", "/base64"])
        );
        assert_eq!(complete("/bi"), Completion::Line("/binary ".into()));
        assert_eq!(complete("hello"), Completion::None);
        assert_eq!(complete("/ping x"), Completion::None);
        assert_eq!(complete("/zz"), Completion::None);
    }
}
